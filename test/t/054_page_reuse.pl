# Pages of dropped segments are reused (src/ivf_space.c):
#
# 1. Under sustained inserts, deletes, VACUUM, seals and merges by the
#    background sealer, the index stops growing: its size after the later
#    cycles stays within the size it reached in the early ones, vdb_check is
#    clean (it also checks that no block is used by two segments), and a
#    streaming standby that replayed it all answers exactly as the primary.
# 2. A standby cursor that holds an old directory copy while the primary
#    merges its segments away and reuses their pages does not return wrong
#    rows: its next read of a reused page fails with a serialization error
#    (SQLSTATE 40001), and new queries on the standby answer correctly.
# 3. With hot_standby_feedback the primary keeps those pages until the
#    standby query is done, and the same cursor reads every row.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use VdbTest;

my $node = PostgreSQL::Test::Cluster->new('reuse');
$node->init(allows_streaming => 1);
$node->append_conf('postgresql.conf', qq(
wal_consistency_checking = 'generic'
autovacuum = off
));
$node->start;
my $standby = VdbTest::start_standby($node, 'reuse_standby');

$node->safe_psql('postgres', 'CREATE EXTENSION vdb');
VdbTest::create_vec($node, 8);

# Wait until the sealer has nothing left to do on an index: no sealer runs,
# nothing is frozen, and no sealed segment is mostly dead (the sealer
# rebuilds those).
sub wait_idle
{
	my ($index) = @_;
	$node->poll_query_until('postgres', qq{
SELECT NOT EXISTS (SELECT FROM vdb_segments('$index')
		WHERE state IN ('frozen', 'sealing', 'merging')
		   OR (state = 'sealed' AND dead_rows * 2 > rows))
	AND (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'vdb sealer') = 0})
	  or die "the sealer did not finish with $index";
}

#
# 1. Bounded growth.
#
$node->safe_psql('postgres', q{
CREATE TABLE g (id int, v vector(8));
CREATE INDEX g_v ON g USING vdb_ivf (v) WITH (segment_rows = 1000, lists = 8);
});
my @sizes;
my $next = 1;
for my $cycle (1 .. 14)
{
	my $last = $next + 1199;
	$node->safe_psql('postgres', qq{
INSERT INTO g SELECT i, vec(i) FROM generate_series($next, $last) i;
DELETE FROM g WHERE id <= $last - 1200;
VACUUM g;
});
	wait_idle('g_v');
	# A transaction id after the drops, so that the next round may reclaim.
	$node->safe_psql('postgres', 'SELECT txid_current()');
	push @sizes, $node->safe_psql('postgres', q{SELECT pg_relation_size('g_v') / 8192});
	$next = $last + 1;
}
note('index pages after each cycle: ' . join(' ', @sizes));
# Each cycle writes about 17 new pages of chains and runs; without reuse
# the index would grow by that much every time.
my ($middle) = sort { $b <=> $a } @sizes[4 .. 8];
my ($late) = sort { $b <=> $a } @sizes[9 .. 13];
cmp_ok($late, '<=', $middle * 1.1,
	'the index stops growing: the last cycles stay within the size of the middle ones');
cmp_ok($sizes[13] - $sizes[4], '<', 9 * 17 / 2,
	'it grew by less than half of what keeping every page would take');
VdbTest::check_index($node, 'g_v', 'g', 'after the cycles');

my $answer = q{
SET enable_seqscan = off;
SET vdb.probes = 3;
SELECT string_agg(id::text, ',') FROM generate_series(5, 9) q,
	LATERAL (SELECT id FROM g ORDER BY v <-> vec(q) LIMIT 10) s};
$node->wait_for_catchup($standby);
is(VdbTest::segment_directory($standby, 'g_v'), VdbTest::segment_directory($node, 'g_v'),
	'the standby has the same directory');
is($standby->safe_psql('postgres', $answer), $node->safe_psql('postgres', $answer),
	'the standby answers exactly as the primary');

# Two small sealed segments in a new table (merging paused so that they
# stay); returns their segment ids, e.g. "3,5".
sub small_segments
{
	my ($t) = @_;
	$node->safe_psql('postgres', qq{
LOAD 'vdb';
ALTER SYSTEM SET vdb.auto_merge = off;
SELECT pg_reload_conf();
CREATE TABLE $t (id int, v vector(8));
CREATE INDEX ${t}_v ON $t USING vdb_ivf (v) WITH (segment_rows = 1000, lists = 8);
INSERT INTO $t SELECT i, vec(i) FROM generate_series(1, 300) i;
SELECT vdb_seal('${t}_v');
INSERT INTO $t SELECT i, vec(i) FROM generate_series(301, 600) i;
SELECT vdb_seal('${t}_v');
VACUUM $t;
});
	my $ids = $node->safe_psql('postgres',
		qq{SELECT string_agg(segment_id::text, ',') FROM vdb_segments('${t}_v') WHERE state = 'sealed'});
	like($ids, qr/^\d+,\d+$/, "$t: two small sealed segments");
	return $ids;
}

# A cursor on the standby, in a repeatable-read transaction, over the
# table by distance to vec(3) with one probe (so that it reads more lists
# as it goes); returns the session and its first five rows.
sub open_cursor
{
	my ($t) = @_;
	my $bg = $standby->background_psql('postgres', on_error_stop => 0);
	$bg->query_safe('\set VERBOSITY verbose');
	$bg->query_safe('SET enable_seqscan = off');
	$bg->query_safe('SET vdb.probes = 1');
	$bg->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
	$bg->query_safe(
		"DECLARE c CURSOR FOR SELECT id, v <-> vec(3) AS d FROM $t ORDER BY v <-> vec(3)");
	my $rows = $bg->query_safe('FETCH 5 FROM c');
	like($rows, qr/^\d+\|/, "$t: the standby cursor returns its first rows");
	return ($bg, $rows);
}

# On the primary: merge the two small segments away, let the drop age past
# the primary's own snapshots, then insert and seal enough rows to take
# every free page.
sub merge_and_refill
{
	my ($t) = @_;
	$node->safe_psql('postgres', q{
LOAD 'vdb';
ALTER SYSTEM SET vdb.auto_merge = on;
SELECT pg_reload_conf();
});
	$node->safe_psql('postgres', "VACUUM $t");
	$node->poll_query_until('postgres', qq{
SELECT (SELECT count(*) FROM vdb_segments('${t}_v') WHERE state = 'sealed') = 1
	AND (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'vdb sealer') = 0})
	  or die "the two small segments of $t were not merged";
	$node->safe_psql('postgres', 'SELECT txid_current()');
	$node->safe_psql('postgres', qq{
INSERT INTO $t SELECT i, vec(i) FROM generate_series(601, 3600) i;
SELECT vdb_seal('${t}_v');
});
	wait_idle("${t}_v");
	return;
}

#
# 2. A standby cursor across page reuse.
#
my $small = small_segments('s');
$node->wait_for_catchup($standby);
my ($cursor, $first) = open_cursor('s');
merge_and_refill('s');
is($node->safe_psql('postgres',
		qq{SELECT count(*) FROM vdb_segments('s_v') WHERE segment_id IN ($small)}),
	'0', 'the merged-away segments were reclaimed');
is($node->safe_psql('postgres', q{SELECT count(*) FROM vdb_check('s_v')}), '0',
	'vdb_check is clean after the reuse');
$node->wait_for_catchup($standby);

my ($rest, $failed) = $cursor->query('FETCH ALL FROM c');
like($cursor->{stderr}, qr/ERROR:  40001: could not serialize access to index "s_v": index segment \d+ was rewritten/,
	'the standby cursor fails with a serialization error when it reads a reused page');
$cursor->query('ROLLBACK');
$cursor->quit;

# The rows it did return were rows of its snapshot, in distance order.
my ($prev, $bad) = (-1, 0);
for my $line (grep { /\|/ } split /\n/, $first)
{
	my ($id, $d) = split /\|/, $line;
	$bad++ if $id > 600 || $d < $prev;
	$prev = $d;
}
is($bad, 0, 'the rows returned before the reuse were the snapshot\'s, in order');

# Distances, not ids: vec() repeats every 1000 ids.
my $s_answer = q{
SET enable_seqscan = off;
SET vdb.probes = 32768;
SELECT string_agg(round(d::numeric, 4)::text, ',') FROM generate_series(5, 9) q,
	LATERAL (SELECT v <-> vec(q) AS d FROM s ORDER BY v <-> vec(q) LIMIT 10) x};
is($standby->safe_psql('postgres', $s_answer), $node->safe_psql('postgres', $s_answer),
	'new queries on the standby answer as on the primary');
my $exact_s = $node->safe_psql('postgres', $s_answer =~ s/SET enable_seqscan = off;/SET enable_indexscan = off;/r);
is($node->safe_psql('postgres', $s_answer), $exact_s,
	'probing every list on the primary equals the exact result');

#
# 3. With hot_standby_feedback, the primary keeps the pages of dropped
#    segments while a standby query may read them: the same cursor reads
#    every row of its snapshot, in order, and the pages are reclaimed once
#    it is gone.
#
$standby->append_conf('postgresql.conf', 'hot_standby_feedback = on');
$standby->reload;
my $fsmall = small_segments('f');
$node->wait_for_catchup($standby);
$node->poll_query_until('postgres', q{SELECT bool_and(backend_xmin IS NOT NULL) FROM pg_stat_replication})
  or die 'the standby sends no feedback';
($cursor, $first) = open_cursor('f');
merge_and_refill('f');
is($node->safe_psql('postgres',
		qq{SELECT count(*) FROM vdb_segments('f_v') WHERE segment_id IN ($fsmall) AND state = 'dropped'}),
	'2', 'with feedback, the merged-away segments wait while the standby cursor may read them');
$node->wait_for_catchup($standby);

$rest = $cursor->query_safe('FETCH ALL FROM c');
$cursor->query_safe('CLOSE c');
my ($returned, $skipped) = split /\|/,
  $cursor->query_safe('SELECT returned, skipped_for_order FROM vdb_last_scan()');
$cursor->query_safe('COMMIT');
$cursor->quit;
my (%seen, $n);
($prev, $bad, $n) = (-1, 0, 0);
for my $line (grep { /\|/ } split /\n/, "$first\n$rest")
{
	my ($id, $d) = split /\|/, $line;
	$bad++ if $id > 600 || $d < $prev || $seen{$id}++;
	$prev = $d;
	$n++;
}
is($bad, 0, 'with feedback, the cursor returns rows of its snapshot, once each, in order');
is($n + $skipped, 600, 'with feedback, every row of the snapshot is returned or counted as skipped for order');

# Once the cursor is gone and the standby says so, the pages are reclaimed.
my $reclaimed = 0;
for (1 .. 60)
{
	$node->safe_psql('postgres', 'SELECT txid_current(); VACUUM f');
	$reclaimed = $node->safe_psql('postgres',
		qq{SELECT count(*) = 0 FROM vdb_segments('f_v') WHERE segment_id IN ($fsmall)}) eq 't';
	last if $reclaimed;
	sleep 1;
}
ok($reclaimed, 'after the cursor, the merged-away segments are reclaimed');
is($node->safe_psql('postgres', q{SELECT count(*) FROM vdb_check('f_v')}), '0',
	'vdb_check is clean');

done_testing();
