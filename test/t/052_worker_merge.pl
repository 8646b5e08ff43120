# Merge compaction by the sealing worker: adjacent small sealed segments
# are merged into one with retrained centroids, a mostly dead segment is
# rebuilt without its dead entries, vdb.auto_merge = off leaves them be,
# and a crash in the middle of a merge leaves the segments as they were
# and a sound index, the next trigger merging them.  A streaming standby
# replays the merges exactly (wal_consistency_checking on the primary).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use VdbTest;

my $node = PostgreSQL::Test::Cluster->new('merge');
$node->init(allows_streaming => 1);
$node->append_conf('postgresql.conf', qq(
wal_consistency_checking = 'all'
autovacuum = off
));
$node->start;
my $standby = VdbTest::start_standby($node, 'merge_standby');

$node->safe_psql('postgres', 'CREATE EXTENSION vdb');
VdbTest::create_vec($node, 8);

# Live segments of an index in id order, e.g. "sealed:300/0,growing:0/0"
# (state:rows/dead).
sub segments
{
	my ($index) = @_;
	return $node->safe_psql('postgres', qq{
SELECT string_agg(state || ':' || rows || '/' || dead_rows, ',' ORDER BY state = 'growing', segment_id)
FROM vdb_segments('$index') WHERE state <> 'dropped'});
}

# Wait until no sealer runs and the index has this many sealed segments.
sub wait_for_sealed
{
	my ($index, $n) = @_;
	$node->poll_query_until('postgres', qq{
SELECT (SELECT count(*) FROM vdb_segments('$index') WHERE state = 'sealed') = $n
	AND (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'vdb sealer') = 0})
	  or die "$index did not reach $n sealed segments";
}

# Three small sealed segments: vdb_seal of a growing segment of 300 rows,
# three times (vdb_seal itself does not merge).
sub small_segments
{
	my ($table) = @_;
	$node->safe_psql('postgres', qq{
CREATE TABLE $table (id int, v vector(8));
CREATE INDEX ${table}_v ON $table USING vdb_ivf (v) WITH (segment_rows = 1000, lists = 8);
INSERT INTO $table SELECT i, vec(i) FROM generate_series(1, 300) i;
SELECT vdb_seal('${table}_v');
INSERT INTO $table SELECT i, vec(i) FROM generate_series(301, 600) i;
SELECT vdb_seal('${table}_v');
INSERT INTO $table SELECT i, vec(i) FROM generate_series(601, 900) i;
SELECT vdb_seal('${table}_v');
});
}

#
# 1. Small adjacent sealed segments are merged at the next trigger.
#
small_segments('m');
is(segments('m_v'), 'sealed:300/0,sealed:300/0,sealed:300/0,growing:0/0',
	'three small sealed segments');
$node->safe_psql('postgres', 'SET vdb.auto_merge = off; VACUUM m');
sleep(1);
is(segments('m_v'), 'sealed:300/0,sealed:300/0,sealed:300/0,growing:0/0',
	'with vdb.auto_merge = off they stay');
$node->safe_psql('postgres', 'VACUUM m');
wait_for_sealed('m_v', 1);
is(segments('m_v'), 'sealed:900/0,growing:0/0', 'a VACUUM got them merged into one');
is($node->safe_psql('postgres',
		q{SELECT lists FROM vdb_segments('m_v') WHERE state = 'sealed'}),
	'8', 'the merged segment has retrained lists');
ok($node->log_contains(qr/vdb sealer merged segments \d+, \d+, \d+ of index "m_v": 900 rows in [0-9.]+ s/),
	'the sealer logs the merge');
VdbTest::check_index($node, 'm_v', 'm', 'after a merge');

#
# 2. A mostly dead sealed segment is rebuilt without its dead entries.
#
$node->safe_psql('postgres', q{
INSERT INTO m SELECT i, vec(i) FROM generate_series(901, 2400) i;
});
wait_for_sealed('m_v', 2);
is(segments('m_v'), 'sealed:900/0,sealed:1000/0,growing:500/0',
	'the frozen segment of 1000 rows was sealed');
$node->safe_psql('postgres', q{
DELETE FROM m WHERE id BETWEEN 901 AND 1500;
SET vdb.auto_seal = off;
VACUUM m;
});
is(segments('m_v'), 'sealed:900/0,sealed:1000/600,growing:500/0',
	'VACUUM left a mostly dead segment');
$node->safe_psql('postgres', 'VACUUM m');
$node->poll_query_until('postgres',
	q{SELECT count(*) = 0 FROM vdb_segments('m_v') WHERE state = 'sealed' AND dead_rows > 0})
  or die 'the mostly dead segment was not rebuilt';
wait_for_sealed('m_v', 2);
is(segments('m_v'), 'sealed:900/0,sealed:400/0,growing:500/0',
	'it was rebuilt with its live rows only');
ok($node->log_contains(qr/vdb sealer rebuilt segment \d+ of index "m_v": 400 rows in [0-9.]+ s/),
	'the sealer logs the rebuild');
VdbTest::check_index($node, 'm_v', 'm', 'after a rebuild');

$node->wait_for_catchup($standby);
is(VdbTest::segment_directory($standby, 'm_v'), VdbTest::segment_directory($node, 'm_v'),
	'the standby directory matches the primary after merges');
is($standby->safe_psql('postgres', q{SELECT count(*) FROM vdb_check('m_v')}), '0',
	'vdb_check is clean on the standby after merges');

#
# 3. A crash in the middle of a merge.
#
$node->append_conf('postgresql.conf', "vdb.seal_delay = '200ms'");
$node->reload;
small_segments('n');
$node->safe_psql('postgres', 'VACUUM n');
$node->poll_query_until('postgres', q{
SELECT count(*) > 0 FROM pg_stat_activity
WHERE backend_type = 'vdb sealer' AND query LIKE 'merging segments % of index n_v'})
  or die 'no merge started';
sleep(1);
$node->stop('immediate');
$node->start;
is(segments('n_v'), 'sealed:300/0,sealed:300/0,sealed:300/0,growing:0/0',
	'after a crash during a merge the segments are as they were');
VdbTest::check_index($node, 'n_v', 'n', 'after a crash during a merge');
$node->append_conf('postgresql.conf', "vdb.seal_delay = 0");
$node->reload;
$node->safe_psql('postgres', 'VACUUM n');
wait_for_sealed('n_v', 1);
is(segments('n_v'), 'sealed:900/0,growing:0/0', 'the next VACUUM got them merged');
VdbTest::check_index($node, 'n_v', 'n', 'after the merge redone');

$node->wait_for_catchup($standby);
is($standby->safe_psql('postgres', q{SELECT count(*) FROM vdb_check('n_v')}), '0',
	'vdb_check is clean on the standby after the crash and the merge');

$standby->stop;
$node->stop;
done_testing();
