# vdb_segments shows what a background sealer (or vdb_seal) is doing: a
# frozen segment it seals is 'sealing' (vdb_stats still counts it as frozen), sealed
# segments it merges are 'merging'; looking takes no lock the sealer could
# wait for.  A frozen segment left behind by a terminated sealer is noticed
# by the next insert into the index, which launches a new sealer.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('states');
$node->init;
$node->append_conf('postgresql.conf', qq(
autovacuum = off
max_worker_processes = 8
vdb.seal_delay = '300ms'
));
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION vdb;
CREATE FUNCTION vec(i int) RETURNS vector LANGUAGE sql IMMUTABLE AS $$
	SELECT ('[' || string_agg(((i * 7919 + d * 104729) % 1000 / 100.0 + (i % 5) * 10)::text, ',') || ']')::vector
	FROM generate_series(1, 8) d
$$;
});

# Live segments of an index in id order, the growing one last, e.g.
# "sealing:2000,growing:100" (a seal or merge gives its segment a new id).
sub segments
{
	my ($index) = @_;
	return $node->safe_psql('postgres', qq{
SELECT string_agg(state || ':' || rows, ',' ORDER BY state = 'growing', segment_id)
FROM vdb_segments('$index') WHERE state <> 'dropped'});
}

# The pid of the sealer whose activity matches a LIKE pattern, once there is one.
sub wait_for_activity
{
	my ($pattern) = @_;
	$node->poll_query_until('postgres', qq{
SELECT count(*) > 0 FROM pg_stat_activity
WHERE backend_type = 'vdb sealer' AND query LIKE '$pattern'})
	  or die "no sealer doing '$pattern'";
	return $node->safe_psql('postgres', qq{
SELECT min(pid) FROM pg_stat_activity
WHERE backend_type = 'vdb sealer' AND query LIKE '$pattern'});
}

# Wait until no sealer runs.
sub wait_for_no_sealer
{
	$node->poll_query_until('postgres',
		q{SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'vdb sealer'})
	  or die 'a sealer did not exit';
}

# The index is sound and holds every row of its table once.
sub check_index
{
	my ($index, $table, $what) = @_;
	is($node->safe_psql('postgres', qq{SELECT count(*) FROM vdb_check('$index')}),
		'0', "$what: vdb_check finds no problem");
	is($node->safe_psql('postgres', qq{
SELECT (SELECT sum(rows - dead_rows) FROM vdb_segments('$index') WHERE state <> 'dropped')
	= (SELECT count(*) FROM $table WHERE v IS NOT NULL)}),
		't', "$what: every row is indexed once");
}

#
# 1. A slow seal: 'sealing' while the sealer works, 'sealed' after.
#
$node->safe_psql('postgres', q{
CREATE TABLE s (id int, v vector(8));
CREATE INDEX s_v ON s USING vdb_ivf (v) WITH (segment_rows = 2000, lists = 16);
INSERT INTO s SELECT i, vec(i) FROM generate_series(1, 2100) i;
});
my $pid = wait_for_activity('sealing segment % of index s_v');
is(segments('s_v'), 'sealing:2000,growing:100',
	'the segment being sealed shows as sealing');
is($node->safe_psql('postgres', q{
SELECT frozen_segments, sealed_segments, rows_to_seal, sealer_running FROM vdb_stats
WHERE index_name = 's_v'::regclass}),
	'1|0|2100|t', 'vdb_stats counts the segment being sealed as frozen');
is($node->safe_psql('postgres', qq{
SELECT count(*) FROM pg_stat_activity WHERE pid = $pid AND wait_event_type = 'Lock'}),
	'0', 'looking at the segments makes the sealer wait for no lock');
is($node->safe_psql('postgres', q{
BEGIN;
SELECT count(*) > 0 FROM vdb_segments('s_v');
SELECT count(*) FROM pg_locks
WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND objsubid = 30308;
COMMIT;}),
	"t\n0", 'vdb_segments holds none of the sealer\'s locks afterwards');
$node->poll_query_until('postgres',
	q{SELECT count(*) = 0 FROM vdb_segments('s_v') WHERE state IN ('frozen', 'sealing')})
  or die 'the segment of s_v was not sealed';
is(segments('s_v'), 'sealed:2000,growing:100', 'the segment shows as sealed after the seal');
wait_for_no_sealer();
check_index('s_v', 's', 'after a watched seal');

#
# 1b. vdb_seal() in a session marks the segment it seals the same way.
#
$node->safe_psql('postgres', q{
CREATE TABLE u (id int, v vector(8));
CREATE INDEX u_v ON u USING vdb_ivf (v) WITH (segment_rows = 100000, lists = 8);
INSERT INTO u SELECT i, vec(i) FROM generate_series(1, 500) i;
});
my $user = $node->background_psql('postgres');
$user->query_until(qr/sealing now/, "\\echo sealing now\nSELECT vdb_seal('u_v');\n");
$node->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM vdb_segments('u_v') WHERE state = 'sealing'})
  or die 'vdb_seal did not show its segment as sealing';
is(segments('u_v'), 'sealing:500,growing:0',
	'the segment vdb_seal() seals shows as sealing');
$user->quit;
is(segments('u_v'), 'sealed:500,growing:0', 'and as sealed afterwards');
check_index('u_v', 'u', 'after a watched vdb_seal');

#
# 2. A slow merge: 'merging' while the sealer merges small sealed segments,
#    one sealed segment after.
#
$node->safe_psql('postgres', q{
CREATE TABLE m (id int, v vector(8));
CREATE INDEX m_v ON m USING vdb_ivf (v) WITH (segment_rows = 1000, lists = 8);
SET vdb.auto_merge = off;
INSERT INTO m SELECT i, vec(i) FROM generate_series(1, 300) i;
SELECT vdb_seal('m_v');
INSERT INTO m SELECT i, vec(i) FROM generate_series(301, 600) i;
SELECT vdb_seal('m_v');
});
is(segments('m_v'), 'sealed:300,sealed:300,growing:0', 'two small sealed segments');
$node->safe_psql('postgres', 'VACUUM m');
wait_for_activity('merging segments % of index m_v');
is(segments('m_v'), 'merging:300,merging:300,growing:0',
	'the segments being merged show as merging');
is($node->safe_psql('postgres', q{
SELECT frozen_segments, sealed_segments, sealed_rows FROM vdb_stats
WHERE index_name = 'm_v'::regclass}),
	'0|2|600', 'vdb_stats counts the segments being merged as sealed');
wait_for_no_sealer();
is(segments('m_v'), 'sealed:600,growing:0', 'one sealed segment after the merge');
check_index('m_v', 'm', 'after a watched merge');

#
# 3. A sealer terminated in the middle of a seal leaves the segment frozen
#    (not sealing); nothing seals it until an insert that freezes nothing
#    notices it and launches a sealer.
#
$node->safe_psql('postgres',
	'INSERT INTO s SELECT i, vec(i) FROM generate_series(2101, 4001) i');
$pid = wait_for_activity('sealing segment % of index s_v');
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
wait_for_no_sealer();
is(segments('s_v'), 'frozen:2000,sealed:2000,growing:1',
	'a terminated sealer leaves its segment frozen, not sealing');
sleep(2);
is(segments('s_v'), 'frozen:2000,sealed:2000,growing:1',
	'with no trigger it stays frozen');
$node->safe_psql('postgres', 'INSERT INTO s VALUES (4002, vec(4002))');
wait_for_activity('sealing segment % of index s_v');
pass('an insert that froze nothing launched a sealer for the frozen segment');
$node->poll_query_until('postgres',
	q{SELECT count(*) = 0 FROM vdb_segments('s_v') WHERE state IN ('frozen', 'sealing')})
  or die 'the frozen segment of s_v was not sealed';
is(segments('s_v'), 'sealed:2000,sealed:2000,growing:2',
	'the leftover frozen segment got sealed');
wait_for_no_sealer();
check_index('s_v', 's', 'after the leftover seal');

#
# 4. With vdb.auto_seal = off an insert launches nothing.
#
$node->safe_psql('postgres',
	'INSERT INTO s SELECT i, vec(i) FROM generate_series(4003, 6001) i');
$pid = wait_for_activity('sealing segment % of index s_v');
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
wait_for_no_sealer();
$node->safe_psql('postgres',
	'SET vdb.auto_seal = off; INSERT INTO s VALUES (6002, vec(6002))');
sleep(2);
is(segments('s_v'), 'sealed:2000,frozen:2000,sealed:2000,growing:2',
	'an insert with vdb.auto_seal = off leaves the frozen segment be');

$node->stop;
done_testing();
