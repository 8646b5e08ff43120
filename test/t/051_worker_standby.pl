# The sealing worker and a hot standby: the primary seals frozen segments
# in the background and the standby replays every seal (checked page by
# page with wal_consistency_checking), ends with the primary's directory
# and a sound index, and never starts a sealer of its own, even while the
# primary is sealing.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use VdbTest;

my $primary = PostgreSQL::Test::Cluster->new('worker_primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', qq(
wal_consistency_checking = 'all'
autovacuum = off
));
$primary->start;
my $standby = VdbTest::start_standby($primary, 'worker_standby');

$primary->safe_psql('postgres', 'CREATE EXTENSION vdb');
VdbTest::create_vec($primary, 8);
$primary->safe_psql('postgres', q{
CREATE TABLE t (id int, v vector(8));
CREATE INDEX t_v ON t USING vdb_ivf (v) WITH (segment_rows = 1000, lists = 8);
});

my $sealers = q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'vdb sealer'};

# Wait for the primary to seal everything, then compare the standby.
sub compare
{
	my ($what) = @_;
	$primary->poll_query_until('postgres',
		q{SELECT count(*) = 0 FROM vdb_segments('t_v') WHERE state IN ('frozen', 'sealing')})
	  or die 'the primary did not seal its frozen segments';
	$primary->wait_for_catchup($standby);
	my $expected = VdbTest::segment_directory($primary, 't_v');
	like($expected, qr/sealed/, "$what: the primary sealed segments");
	is(VdbTest::segment_directory($standby, 't_v'), $expected,
		"$what: standby directory matches the primary");
	is($standby->safe_psql('postgres', q{SELECT count(*) FROM vdb_check('t_v')}), '0',
		"$what: vdb_check is clean on the standby");
	is($standby->safe_psql('postgres', q{SELECT count(*), sum(id) FROM t}),
		$primary->safe_psql('postgres', q{SELECT count(*), sum(id) FROM t}),
		"$what: the standby has the primary's rows");
	is($standby->safe_psql('postgres', $sealers), '0',
		"$what: no sealer runs on the standby");
}

# Fast background seals.
$primary->safe_psql('postgres',
	q{INSERT INTO t SELECT i, vec(i) FROM generate_series(1, 3500) i});
compare('after background seals');

# A slow seal: the standby replays the freeze and never starts a sealer,
# while the primary's sealer is at work.
$primary->append_conf('postgresql.conf', "vdb.seal_delay = '100ms'");
$primary->reload;
$primary->safe_psql('postgres',
	q{INSERT INTO t SELECT i, vec(i) FROM generate_series(3501, 4600) i});
$primary->poll_query_until('postgres', "SELECT ($sealers) > 0")
  or die 'no sealer on the primary';
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres',
		q{SELECT count(*) FROM vdb_segments('t_v') WHERE state = 'frozen'}),
	'1', 'the standby replayed the freeze');
is($standby->safe_psql('postgres', $sealers), '0',
	'no sealer runs on the standby while the primary seals');
is($standby->safe_psql('postgres', q{SELECT count(*) FROM vdb_check('t_v')}), '0',
	'the standby index is sound while the primary seals');
compare('after a slow background seal');

ok(!$standby->log_contains(qr/LOG:  vdb sealer|background worker "vdb sealer"/),
	'the standby log mentions no sealer');
ok($primary->log_contains(qr/vdb sealer sealed segment \d+ of index "t_v"/),
	'the primary log shows its seals');

$standby->stop;
$primary->stop;
done_testing();
