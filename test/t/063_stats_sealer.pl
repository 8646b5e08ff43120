# vdb_stats while a background sealer works: the index's row says a sealer
# runs (with the pid pg_stat_activity shows for it) and how many rows wait,
# also to a user without any privilege but SELECT on the table; once the
# seal is published the row says nothing waits and no sealer runs.  The
# view skips what it cannot read: another session's TEMP index, and an
# UNLOGGED index on a standby.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use VdbTest;

my $node = PostgreSQL::Test::Cluster->new('stats');
$node->init(allows_streaming => 1);
$node->append_conf('postgresql.conf', qq(
autovacuum = off
vdb.seal_delay = '300ms'
));
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION vdb;
CREATE ROLE watcher LOGIN;
CREATE TABLE items (id int, v vector(8)) USING vdb;
GRANT SELECT ON items TO watcher;
CREATE TABLE other (id int, v vector(8));
CREATE INDEX other_v ON other USING vdb_ivf (v) WITH (segment_rows = 1000);
CREATE INDEX items_v ON items USING vdb_ivf (v) WITH (segment_rows = 1000, lists = 8);
});

my $row = q{SELECT frozen_segments, rows_to_seal, sealer_running FROM vdb_stats
	WHERE index_name = 'items_v'::regclass};
is($node->safe_psql('postgres', $row), '0|0|f', 'an empty index: nothing waits, no sealer');

# 1200 rows: the growing segment freezes at 1000 and a sealer starts; each
# step of its seal pauses 300 ms.
$node->safe_psql('postgres', q{
INSERT INTO items SELECT i, ('[' || array_to_string(array(
	SELECT (i * 7919 + d * 104729) % 1000 / 100.0 FROM generate_series(1, 8) d), ',') || ']')::vector
	FROM generate_series(1, 1200) i});
$node->poll_query_until('postgres',
	q{SELECT sealer_running FROM vdb_stats WHERE index_name = 'items_v'::regclass})
  or die 'vdb_stats never showed the sealer';

my ($frozen, $waiting, $running, $pid_matches) = split /\|/, $node->safe_psql(
	'postgres', q{
SELECT frozen_segments, rows_to_seal, sealer_running,
	sealer_pid IN (SELECT pid FROM pg_stat_activity WHERE backend_type = 'vdb sealer'
		AND query LIKE '% of index items_v')
FROM vdb_stats WHERE index_name = 'items_v'::regclass});
is($running, 't', 'vdb_stats shows the sealer of the index');
is($pid_matches, 't', 'sealer_pid is the sealer working on this index');
cmp_ok($frozen, '<=', 1, 'at most the one frozen segment');
# The frozen segment's 1000 rows wait unless the seal was just published.
like($waiting, qr/^(1200|200)$/, 'rows_to_seal counts the frozen and growing rows');

is( $node->safe_psql(
		'postgres', q{
SET ROLE watcher;
SELECT string_agg(index_name::text || ':' || sealer_running || ':' || (sealer_pid IS NOT NULL),
	',') FROM vdb_stats},
	),
	'items_v:true:true',
	'a user with SELECT on the table sees the sealer, and only its indexes');
is($node->safe_psql('postgres',
		q{SELECT sealer_running FROM vdb_stats WHERE index_name = 'other_v'::regclass}),
	'f', 'no sealer for an index without frozen segments');

$node->poll_query_until('postgres',
	q{SELECT NOT sealer_running AND frozen_segments = 0 FROM vdb_stats
		WHERE index_name = 'items_v'::regclass})
  or die 'the seal did not finish';
is( $node->safe_psql('postgres', q{
SELECT frozen_segments, sealed_segments, rows_to_seal, sealed_rows, sealer_pid IS NULL
FROM vdb_stats WHERE index_name = 'items_v'::regclass}),
	'0|1|200|1000|t', 'after the seal: 1000 rows sealed, 200 growing, no sealer');

# Another session's TEMP index lives in that session's local buffers.
my $temp = $node->background_psql('postgres');
$temp->query_safe(q{CREATE TEMP TABLE scratch (v vector(8));
CREATE INDEX scratch_v ON scratch USING vdb_ivf (v);
INSERT INTO scratch VALUES ('[1,2,3,4,5,6,7,8]')});
is($temp->query_safe(q{SELECT rows_to_seal FROM vdb_stats WHERE index_name::text LIKE '%scratch_v'}),
	'1', 'a session sees its own TEMP index');
is($node->safe_psql('postgres',
		q{SELECT string_agg(index_name::text, ',' ORDER BY index_name::text) FROM vdb_stats}),
	'items_v,other_v', 'other sessions skip it');
$temp->quit;

# On a standby: no sealer, and an unlogged index (no data there) is skipped.
$node->safe_psql('postgres', q{
CREATE UNLOGGED TABLE cache (v vector(8));
CREATE INDEX cache_v ON cache USING vdb_ivf (v);
INSERT INTO cache VALUES ('[1,2,3,4,5,6,7,8]');
});
is($node->safe_psql('postgres', q{SELECT rows_to_seal FROM vdb_stats
	WHERE index_name = 'cache_v'::regclass}), '1', 'the primary shows the unlogged index');
my $standby = VdbTest::start_standby($node, 'standby');
$node->wait_for_catchup($standby);
is( $standby->safe_psql('postgres', q{
SELECT string_agg(index_name || ':' || sealed_rows || ':' || rows_to_seal || ':' || sealer_running,
	',' ORDER BY index_name::text) FROM vdb_stats}),
	'items_v:1000:200:false,other_v:0:0:false',
	'the standby shows the replicated indexes, no sealer, no unlogged index');
$standby->stop;

$node->stop;
done_testing();
