# A crash in the middle of COPY into a vdb table: after recovery the table
# holds exactly the committed rows, its index agrees with it, and inserts go
# on.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->append_conf('postgresql.conf', 'autovacuum = off');
$node->start;

my $dir = $node->basedir;

# Row generator for COPY: ids first..last, flushed as written, pausing every
# 1,000 rows so that the COPY is still running when the server is killed.
my $gen = "$dir/gen_rows.pl";
open(my $fh, '>', $gen) or die "could not write $gen: $!";
print $fh <<'EOF';
$| = 1;
my ($first, $last, $pause) = @ARGV;
for my $i ($first .. $last)
{
	print "$i,\"[$i,1,2,3,4,5,6,7]\"\n";
	select(undef, undef, undef, $pause) if $pause > 0 && $i % 1000 == 0;
}
EOF
close($fh);

$node->safe_psql(
	'postgres', qq{
CREATE EXTENSION vdb;
CREATE TABLE items (id int, embedding vector(8)) USING vdb;
CREATE INDEX items_id ON items (id);
COPY items FROM PROGRAM 'perl $gen 1 5000 0' WITH (FORMAT csv);
CREATE UNLOGGED TABLE scratch (id int, embedding vector(8)) USING vdb;
CREATE INDEX scratch_id ON scratch (id);
COPY scratch FROM PROGRAM 'perl $gen 1 1000 0' WITH (FORMAT csv);
});

# A second COPY finishes but never commits.
my $open_xact = $node->background_psql('postgres');
$open_xact->query_safe(
	"BEGIN; COPY items FROM PROGRAM 'perl $gen 5001 10000 0' WITH (FORMAT csv);");

# A third is still reading rows when the server dies.
my $running = $node->background_psql('postgres');
$running->query_until(qr/started/,
	"\\echo started\nCOPY items FROM PROGRAM 'perl $gen 10001 60000 0.2' WITH (FORMAT csv);\n");
$node->poll_query_until('postgres',
	"SELECT coalesce(max(tuples_processed), 0) >= 2000 FROM pg_stat_progress_copy")
  or die "COPY did not start";

# Kill the postmaster and every server process at once, as a power loss
# would: nothing gets to write or flush anything more.
my @server_pids = split /\n/,
  $node->safe_psql('postgres', 'SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid()');
my $postmaster_pid = $node->{_pid};
$node->kill9;
kill 'KILL', @server_pids;
$running->{run}->kill_kill;
$open_xact->{run}->kill_kill;
for my $pid ($postmaster_pid, @server_pids)
{
	my $waited = 0;
	while (kill(0, $pid) && $waited++ < 300)
	{
		usleep(100_000);
	}
}
$node->start;

is( $node->safe_psql('postgres', 'SELECT count(*), min(id), max(id), sum(id) FROM items'),
	'5000|1|5000|12502500',
	'exactly the committed COPY survives the crash');
is( $node->safe_psql(
		'postgres',
		'SET enable_seqscan = off; SET enable_bitmapscan = off; SELECT count(*) FROM items WHERE id > 0'),
	'5000',
	'the index agrees after recovery');
is($node->safe_psql('postgres', q{SELECT embedding::text FROM items WHERE id = 4321}),
	'[4321,1,2,3,4,5,6,7]', 'row contents intact');

# An UNLOGGED vdb table comes back empty, as an unlogged heap table does,
# and usable.
is( $node->safe_psql(
		'postgres',
		"SELECT count(*) FROM scratch; COPY scratch FROM PROGRAM 'perl $gen 1 10 0' WITH (FORMAT csv); "
		  . 'SET enable_seqscan = off; SELECT count(*) FROM scratch WHERE id > 0'),
	"0\n10",
	'unlogged vdb table is reset by crash recovery and works');

# amcheck verifies that the index holds every table row (its check runs the
# table AM's index build scan).
$node->safe_psql('postgres', 'CREATE EXTENSION amcheck');
my ($ret, $out, $err) =
  $node->psql('postgres', q{SELECT bt_index_check('items_id', true)});
is($ret, 0, 'bt_index_check with heapallindexed passes') or diag($err);

# The table keeps working: new rows, then VACUUM reclaims the dead ones.
$node->safe_psql('postgres',
	"COPY items FROM PROGRAM 'perl $gen 70001 71000 0' WITH (FORMAT csv); VACUUM items;");
is($node->safe_psql('postgres', 'SELECT count(*) FROM items'),
	'6000', 'COPY and VACUUM work after recovery');

$node->stop;
done_testing();
