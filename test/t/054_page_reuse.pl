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

#
# 2. A standby cursor across page reuse.
#
$node->safe_psql('postgres', q{
LOAD 'vdb';
ALTER SYSTEM SET vdb.auto_merge = off;
SELECT pg_reload_conf();
CREATE TABLE s (id int, v vector(8));
CREATE INDEX s_v ON s USING vdb_ivf (v) WITH (segment_rows = 1000, lists = 8);
INSERT INTO s SELECT i, vec(i) FROM generate_series(1, 300) i;
SELECT vdb_seal('s_v');
INSERT INTO s SELECT i, vec(i) FROM generate_series(301, 600) i;
SELECT vdb_seal('s_v');
VACUUM s;
});
$node->wait_for_catchup($standby);

my $cursor = $standby->background_psql('postgres', on_error_stop => 0);
$cursor->query_safe('\set VERBOSITY verbose');
$cursor->query_safe('SET enable_seqscan = off');
$cursor->query_safe('SET vdb.probes = 1');
$cursor->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
$cursor->query_safe(
	'DECLARE c CURSOR FOR SELECT id, v <-> vec(3) AS d FROM s ORDER BY v <-> vec(3)');
my $first = $cursor->query_safe('FETCH 5 FROM c');
like($first, qr/^\d+\|/, 'the standby cursor returns its first rows');

# On the primary: merge the two small segments away, let the drop age past
# every snapshot of the primary, then insert and seal enough rows to take
# every free page.
my $small = $node->safe_psql('postgres',
	q{SELECT string_agg(segment_id::text, ',') FROM vdb_segments('s_v') WHERE state = 'sealed'});
like($small, qr/^\d+,\d+$/, 'two small sealed segments');
$node->safe_psql('postgres', q{
LOAD 'vdb';
ALTER SYSTEM SET vdb.auto_merge = on;
SELECT pg_reload_conf();
});
$node->safe_psql('postgres', 'VACUUM s');
$node->poll_query_until('postgres', q{
SELECT (SELECT count(*) FROM vdb_segments('s_v') WHERE state = 'sealed') = 1
	AND (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'vdb sealer') = 0})
  or die 'the two small segments were not merged';
$node->safe_psql('postgres', 'SELECT txid_current()');
my $size = $node->safe_psql('postgres', q{SELECT pg_relation_size('s_v') / 8192});
$node->safe_psql('postgres', q{
INSERT INTO s SELECT i, vec(i) FROM generate_series(601, 3600) i;
SELECT vdb_seal('s_v');
});
wait_idle('s_v');
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

done_testing();
