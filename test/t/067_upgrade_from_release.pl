# Upgrade from the released vdb 0.1.0, library and SQL: what a user does.
#
# Builds 0.1.0 (the commit sql/vdb--0.1.0.sql was frozen from) from the
# repository's history, installs it alone in a private copy of the test's
# PostgreSQL installation, and fills a database with it: vdb tables,
# vdb_ivf indexes whose sealed segments are in 0.1.0's on-disk format, a
# frozen segment, growing and dead rows.  Then it installs this build over
# it (library, control file, scripts) and restarts: the 0.1.0 database
# answers as before with the new library, ALTER EXTENSION vdb UPDATE goes to
# 0.2.0, and new seals and VACUUM work in the index that then mixes both
# formats, which answers exactly as a sequential scan throughout.
#
# Skipped when the history or a pg_config with server headers is not there
# (e.g. a shallow clone or an export without .git).
use strict;
use warnings;
use File::Copy qw(copy);
use File::Path qw(make_path);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use VdbTest;

# The commit of main that vdb 0.1.0 (sql/vdb--0.1.0.sql) was taken from.
my $release = '33dedaaecfb6dfbe8131f4d8383d44e29f287489';
my $top = $ENV{TESTDIR} // '.';

# The test installation is a relocated copy of the system's PostgreSQL in
# tmp_install (scripts/test.sh); its pg_config reports relocated header
# directories that were not copied, so build with the original one.
my $bindir = `pg_config --bindir`;
chomp $bindir;
(my $system_bindir = $bindir) =~ s{^\Q$top\E/tmp_install}{};
my $system_pg_config = "$system_bindir/pg_config";
# The test runs as another user than the checkout's owner (scripts/test.sh
# as root): git would refuse the repository as of dubious ownership.  It is
# only read here.
my @git = ('git', '-c', 'safe.directory=*', '-C', $top);
my $have_history = system(@git, 'cat-file', '-e', "$release^{commit}") == 0;
plan skip_all => "the 0.1.0 commit $release is not in this checkout's history"
  unless $have_history;
plan skip_all => "no pg_config with server headers at $system_pg_config"
  unless -x $system_pg_config && $bindir =~ m{^\Q$top\E/tmp_install/};

# Build 0.1.0.
my $old_src = PostgreSQL::Test::Utils::tempdir('vdb_0_1_0');
system_or_bail("git -c safe.directory='*' -C '$top' archive $release Makefile src sql vdb.control"
	  . " | tar -x -C '$old_src'");
system_or_bail('make', '-s', '-C', $old_src, '-j2', "PG_CONFIG=$system_pg_config");
ok(-f "$old_src/vdb.so" && -f "$old_src/sql/vdb--0.1.0.sql", 'vdb 0.1.0 built from history');
is(slurp_file("$old_src/sql/vdb--0.1.0.sql"), slurp_file("$top/sql/vdb--0.1.0.sql"),
	'its install script is the frozen sql/vdb--0.1.0.sql');

# A private installation with 0.1.0 only.
my $inst_root = PostgreSQL::Test::Utils::tempdir('pg_inst');
system_or_bail('cp', '-a', "$top/tmp_install/.", $inst_root);
(my $install_path = "$inst_root" . substr($bindir, length("$top/tmp_install"))) =~ s{/bin$}{};
my $node = PostgreSQL::Test::Cluster->new('release', install_path => $install_path);
my $pkglibdir = $node->config_data('--pkglibdir');
my $extdir = $node->config_data('--sharedir') . '/extension';
die "unexpected installation layout: $pkglibdir" unless $pkglibdir =~ /^\Q$inst_root\E/;
unlink glob("$extdir/vdb*");
copy("$old_src/vdb.so", "$pkglibdir/vdb.so") or die $!;
copy("$old_src/vdb.control", "$extdir/vdb.control") or die $!;
copy("$old_src/sql/vdb--0.1.0.sql", "$extdir/vdb--0.1.0.sql") or die $!;

$node->init;
$node->append_conf('postgresql.conf', 'autovacuum = off');
$node->start;
$node->safe_psql('postgres', q{CREATE EXTENSION vdb;});
VdbTest::create_clustered_vec($node, 'postgres');
$node->safe_psql(
	'postgres', q{
CREATE TABLE items (id int PRIMARY KEY, label int, embedding vector(16)) USING vdb;
INSERT INTO items SELECT i, i % 7, clustered_vec(i) FROM generate_series(1, 3000) i;
CREATE INDEX items_l2 ON items USING vdb_ivf (embedding) WITH (segment_rows = 1000, lists = 8);
CREATE TABLE docs (id int, embedding vector(16));
INSERT INTO docs SELECT i, clustered_vec(i * 3) FROM generate_series(1, 1500) i;
CREATE INDEX docs_cos ON docs USING vdb_ivf (embedding vector_cosine_ops)
	WITH (segment_rows = 1000);
-- A frozen segment left for the new library to seal, growing and dead rows.
SET vdb.auto_seal = off;
INSERT INTO items SELECT i, i % 7, clustered_vec(i) FROM generate_series(3001, 4300) i;
DELETE FROM items WHERE id % 11 = 0;
VACUUM items;
});
is($node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'vdb'}),
	'0.1.0', 'the database runs vdb 0.1.0');
my $states = q{SELECT string_agg(state || ':' || n, ',' ORDER BY state) FROM (
	SELECT state, count(*) n FROM vdb_segments('items_l2') GROUP BY state) s};
like($node->safe_psql('postgres', $states), qr/^frozen:1,growing:1,sealed:[1-9]\d*$/,
	'its index has sealed segments in the 0.1.0 format, a frozen and a growing one');

# Nearest ids of a few queries: exact (sequential scan), and through the
# index probing every list (exact too), with vdb_last_scan() showing the
# index ran.
my @queries = ([ 'items', 'embedding <->', 17 ], [ 'items', 'embedding <->', 2999 ],
	[ 'items', 'embedding <->', 4111 ], [ 'docs', 'embedding <=>', 100 ]);
my $answers = sub {
	my ($exact) = @_;
	my $out = '';
	for my $q (@queries)
	{
		my ($table, $op, $qid) = @$q;
		my $filter = $table eq 'items' ? 'WHERE label = 3' : '';
		$out .= $node->safe_psql(
			'postgres',
			($exact
				? 'SET enable_indexscan = off; SET enable_bitmapscan = off;'
				: 'SET enable_seqscan = off; SET enable_sort = off; SET vdb.probes = 1000;')
			  . qq{
SELECT string_agg(id::text, ',') FROM (SELECT id FROM $table $filter
	ORDER BY $op clustered_vec($qid) LIMIT 10) s;
} . ($exact ? '' : 'SELECT returned > 0 FROM vdb_last_scan();')) . "\n";
	}
	return $out;
};
my $expected = sub { (my $e = $answers->(1)) =~ s/\n/\nt\n/g; return $e; };
my $clean = q{SELECT count(*) FROM vdb_check('items_l2') UNION ALL SELECT count(*) FROM vdb_check('docs_cos')};

my $exact_before = $answers->(1);
like($exact_before, qr/^(\d+(,\d+){9}\n){4}$/, 'exact answers');
is($answers->(0), $expected->(), 'vdb 0.1.0 answers through its indexes');

# Install this build over 0.1.0 and restart.
$node->stop;
copy("$top/vdb.so", "$pkglibdir/vdb.so") or die $!;
copy("$top/vdb.control", "$extdir/vdb.control") or die $!;
for my $script (glob("$top/sql/vdb--*.sql"))
{
	copy($script, $extdir) or die $!;
}
$node->start;

is($answers->(0), $expected->(), 'the new library reads the 0.1.0 indexes under 0.1.0 SQL');
is($node->safe_psql('postgres', $clean), "0\n0", 'vdb_check is clean');

$node->safe_psql('postgres', 'ALTER EXTENSION vdb UPDATE');
is($node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'vdb'}),
	'0.2.0', 'ALTER EXTENSION vdb UPDATE goes to 0.2.0');
is($answers->(0), $expected->(), 'after the update the indexes answer as before');
is($node->safe_psql('postgres', q{SELECT count(*) FROM vdb_stats WHERE last_error_at IS NULL}),
	'2', 'vdb_stats has its last-error columns');

# The new library seals the frozen segment and more into the old index, and
# VACUUM marks dead rows in segments of both formats.
$node->safe_psql('postgres', q{
SELECT vdb_seal('items_l2');
INSERT INTO items SELECT i, i % 7, clustered_vec(i) FROM generate_series(5001, 6500) i;
DELETE FROM items WHERE id % 5 = 0;
VACUUM items;
});
$node->poll_query_until('postgres', q{SELECT frozen_segments = 0 AND NOT sealer_running
	FROM vdb_stats WHERE index_name = 'items_l2'::regclass})
  or die 'the sealer did not finish';
isnt($answers->(1), $exact_before, 'the changes change the answers');
is($answers->(0), $expected->(), 'the index mixing both formats answers as the sequential scan');
is($node->safe_psql('postgres', $clean), "0\n0", 'vdb_check is clean after seals and VACUUM');
is( $node->safe_psql('postgres', q{
SELECT (SELECT sum(rows - dead_rows) FROM vdb_segments('items_l2') WHERE state <> 'dropped')
	= (SELECT count(*) FROM items)}),
	't', 'every row is indexed once');

# REINDEX rewrites everything in the new format.
$node->safe_psql('postgres', 'REINDEX INDEX items_l2');
is($answers->(0), $expected->(), 'after REINDEX too');

$node->stop;
done_testing();
