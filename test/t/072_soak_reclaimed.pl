# Found by the concurrency soak (TAP 072), reduced: growing entries keep
# the interim assignment they got at insert time, naming a list of the
# newest sealed segment.  When that segment is merged away and its slot is
# reclaimed (page reuse), the assignment names a segment the directory no
# longer has.  That is a valid state (the scan searches such entries as
# unassigned) and vdb_check must not report it; before the fix it did:
# "segment 4: block 15 item 1 is assigned to list 2 of segment 5, which
# does not exist", once for each of the 50 rows.  The entries stay
# searchable throughout.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use VdbTest;

my $node = PostgreSQL::Test::Cluster->new('reclaimed');
$node->init;
$node->append_conf('postgresql.conf', 'autovacuum = off');
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION vdb');
VdbTest::create_vec($node, 8);

# Two small sealed segments (vdb_seal does not merge), then rows whose
# interim assignment names the second one.
$node->safe_psql('postgres', q{
CREATE TABLE r (id int, v vector(8));
CREATE INDEX r_v ON r USING vdb_ivf (v) WITH (segment_rows = 1000, lists = 8);
SET vdb.auto_seal = off;
INSERT INTO r SELECT i, vec(i) FROM generate_series(1, 300) i;
SELECT vdb_seal('r_v');
INSERT INTO r SELECT i, vec(i) FROM generate_series(301, 600) i;
SELECT vdb_seal('r_v');
INSERT INTO r SELECT i, vec(i) FROM generate_series(601, 650) i;
});
my $assigned = $node->safe_psql('postgres',
	q{SELECT max(segment_id) FROM vdb_segments('r_v') WHERE state = 'sealed'});

# A VACUUM gets the two merged by a background sealer; a later one
# reclaims the dropped segments once no snapshot can see them.
$node->safe_psql('postgres', 'VACUUM r');
$node->poll_query_until('postgres', q{
SELECT (SELECT count(*) FROM vdb_segments('r_v') WHERE state = 'sealed') = 1
	AND (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'vdb sealer') = 0})
  or die 'the two small segments were not merged';
my $reclaimed = 0;
for (my $try = 0; $try < 30 && !$reclaimed; $try++)
{
	# A transaction with an xid moves the horizon past reclaim_after.
	$node->safe_psql('postgres', 'SELECT txid_current()');
	$node->safe_psql('postgres', 'VACUUM r');
	$reclaimed = $node->safe_psql('postgres',
		qq{SELECT count(*) = 0 FROM vdb_segments('r_v') WHERE segment_id = $assigned}) eq 't';
	sleep(1) unless $reclaimed;
}
ok($reclaimed, "segment $assigned, named by the growing rows, was reclaimed");
is($node->safe_psql('postgres',
		q{SELECT string_agg(state || ':' || rows, ',' ORDER BY segment_id) FROM vdb_segments('r_v')}),
	'growing:50,sealed:600', 'merged, and the merged segments reclaimed');

is($node->safe_psql('postgres',
		q{SELECT count(*) || ' problems' || coalesce(', first: ' || min(p), '') FROM vdb_check('r_v') p}),
	'0 problems', 'vdb_check accepts assignments to a reclaimed segment');
VdbTest::check_index($node, 'r_v', 'r', 'after the reclaim');
is($node->safe_psql('postgres', q{
SET enable_seqscan = off;
SELECT id FROM r ORDER BY v <-> vec(625) LIMIT 1}),
	'625', 'a search finds a growing row by its own vector');

$node->stop;
done_testing();
