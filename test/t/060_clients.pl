# Real clients against vdb: psycopg2, node-postgres with the pgvector npm
# package (its serialisation unchanged), and psql's \copy.
use strict;
use warnings;
use File::Basename qw(dirname);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $top = dirname(dirname(dirname(__FILE__)));
$top = '.' if $top eq '';

my $node = PostgreSQL::Test::Cluster->new('clients');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION vdb');

local $ENV{PGHOST} = $node->host;
local $ENV{PGPORT} = $node->port;
local $ENV{PGDATABASE} = 'postgres';

# psycopg2: text parameters, binary COPY both ways, an index-ordered query.
my ($out, $err) = run_client('/usr/bin/python3', "$top/test/clients/test_psycopg2.py");
like($out, qr/^\d+ passed, 0 failed$/m, 'psycopg2 client checks pass')
  or diag($out . $err);

# node-postgres + pgvector: install the pinned packages, then run.
SKIP:
{
	skip 'node or npm is not installed', 1
	  unless system('node --version >/dev/null 2>&1') == 0
	  && system('npm --version >/dev/null 2>&1') == 0;
	my $dir = "$top/test/clients/node";
	system("cd '$dir' && npm ci --no-audit --no-fund --silent >/dev/null 2>&1") == 0
	  or BAIL_OUT('npm ci failed in test/clients/node');
	($out, $err) = run_client('node', "$dir/test.mjs");
	like($out, qr/^\d+ passed, 0 failed$/m, 'node-postgres + pgvector client checks pass')
	  or diag($out . $err);
}

# psql \copy: text and binary round trips through files.
my $dir = PostgreSQL::Test::Utils::tempdir;
$node->safe_psql('postgres', q{
	CREATE TABLE copy_src (id int, embedding vector(4)) USING vdb;
	INSERT INTO copy_src
	  SELECT i, ARRAY[i, -i, i / 7.0, 1e-3 * i]::real[]::vector FROM generate_series(1, 500) i;
	CREATE TABLE copy_text (LIKE copy_src) USING vdb;
	CREATE TABLE copy_bin (LIKE copy_src) USING vdb;
});
$node->safe_psql('postgres', "\\copy copy_src TO '$dir/v.txt'");
$node->safe_psql('postgres', "\\copy copy_text FROM '$dir/v.txt'");
$node->safe_psql('postgres', "\\copy copy_src TO '$dir/v.bin' (FORMAT binary)");
$node->safe_psql('postgres', "\\copy copy_bin FROM '$dir/v.bin' (FORMAT binary)");
is( $node->safe_psql('postgres', q{
		SELECT count(*) FROM copy_src s
		  JOIN copy_text t USING (id) JOIN copy_bin b USING (id)
		 WHERE s.embedding = t.embedding AND s.embedding = b.embedding
		   AND s.embedding::text = t.embedding::text}),
	'500', '\copy text and binary round-trip every vector exactly');

$node->stop;
done_testing();

# Run a client program, returning (stdout, stderr).
sub run_client
{
	my @cmd = @_;
	my ($stdout, $stderr);
	IPC::Run::run(\@cmd, '>', \$stdout, '2>', \$stderr);
	return ($stdout, $stderr);
}
