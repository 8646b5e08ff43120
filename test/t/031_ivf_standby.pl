# A streaming standby replays vdb_ivf exactly: after a build, inserts that
# extend and freeze the growing segment, a seal, and a VACUUM, the
# standby's segment directory matches the primary's and vdb_check finds its
# index sound.  vdb_seal refuses to run on the standby.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use VdbTest;

my $primary = PostgreSQL::Test::Cluster->new('ivf_primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', qq(
wal_consistency_checking = 'all'
autovacuum = off
vdb.auto_seal = off
));
$primary->start;
my $standby = VdbTest::start_standby($primary, 'ivf_standby');

$primary->safe_psql('postgres', 'CREATE EXTENSION vdb');
VdbTest::create_vec($primary, 16);
$primary->safe_psql('postgres', q{
CREATE TABLE t (id int, v vector(16));
INSERT INTO t SELECT i, vec(i) FROM generate_series(1, 1500) i;
CREATE INDEX t_v ON t USING vdb_ivf (v) WITH (segment_rows = 1000);
CREATE INDEX t_cos ON t USING vdb_ivf (v vector_cosine_ops) WITH (segment_rows = 1000);
});

# Compare the standby with the primary once it has replayed everything.
sub compare
{
	my ($what) = @_;
	$primary->wait_for_catchup($standby);
	my $expected = VdbTest::segment_directory($primary, 't_v');
	is(VdbTest::segment_directory($standby, 't_v'), $expected,
		"$what: standby directory matches the primary");
	is($standby->safe_psql('postgres', q{SELECT count(*) FROM vdb_check('t_v')}), '0',
		"$what: vdb_check is clean on the standby");
	is($standby->safe_psql('postgres', q{SELECT count(*) FROM vdb_check('t_cos')}), '0',
		"$what: vdb_check is clean on the standby (cosine)");
	is($primary->safe_psql('postgres', q{SELECT count(*) FROM vdb_check('t_v')}), '0',
		"$what: vdb_check is clean on the primary");
}

compare('after CREATE INDEX');

$primary->safe_psql('postgres',
	q{INSERT INTO t SELECT i, vec(i) FROM generate_series(1501, 3800) i});
compare('after inserts and freezes');

$primary->safe_psql('postgres', q{SELECT vdb_seal('t')});
compare('after vdb_seal');

$primary->safe_psql('postgres', q{
INSERT INTO t SELECT i, vec(i) FROM generate_series(3801, 4200) i;
DELETE FROM t WHERE id % 4 = 0;
VACUUM t;
});
compare('after deletes and VACUUM');
is($standby->safe_psql('postgres',
		q{SELECT sum(rows - dead_rows) FROM vdb_segments('t_v') WHERE state <> 'dropped'}),
	'3150', 'standby index holds the live rows');

my ($ret, $out, $err) = $standby->psql('postgres', q{SELECT vdb_seal('t_v')},
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/25006/, 'vdb_seal on a standby fails with read_only_sql_transaction');

$standby->stop;
$primary->stop;
done_testing();
