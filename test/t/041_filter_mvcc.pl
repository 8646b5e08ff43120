# Filtered vdb_ivf scans and visibility: a 1%-selective filter still gets
# LIMIT rows (the scan widens), with recall against the exact answer both
# for a filter that keeps the query's cluster and for one that excludes it,
# in exact distance order; deleted rows are never returned, rows of an open
# transaction are invisible to another session, and a rolled-back insert
# never appears, before or after its entries are sealed.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('filter');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION vdb');

$node->safe_psql('postgres', q{
SELECT setseed(0.17);
CREATE TABLE items (id int, label int, embedding vector(16));
INSERT INTO items
	SELECT i, i % 100, ('[' || array_to_string(array(
		SELECT round((sin((i % 40) * 13 + j) * 3 + random() * 0.6)::numeric, 4)
		FROM generate_series(1, 16) j), ',') || ']')::vector
	FROM generate_series(1, 20000) i;
CREATE INDEX items_ivf ON items USING vdb_ivf (embedding) WITH (segment_rows = 5000);
CREATE INDEX items_label ON items (label);
ANALYZE items;
});

# Force the vdb_ivf plan: the cost model rightly prefers the btree here.
my $force = 'SET enable_seqscan = off; SET enable_sort = off; SET enable_bitmapscan = off; '
  . 'SET vdb.probes = 6; ';
my $query = sub {
	my ($label, $qid) = @_;
	return "SELECT id FROM items WHERE label = $label "
	  . "ORDER BY embedding <-> (SELECT embedding FROM items WHERE id = $qid) LIMIT 10";
};

like($node->safe_psql('postgres', $force . 'EXPLAIN (COSTS OFF) ' . $query->(7, 123)),
	qr/Index Scan using items_ivf/, 'the filtered query runs on the vdb_ivf index');

my $short = 0;
my $unwidened = 0;
for my $i (1 .. 10)
{
	my $label = ($i * 13) % 100;
	my $qid = $i * 1777;
	# two result lines: "count|labels_ok" and "widenings"
	my ($n, $labels_ok, $widenings) = split /[|\n]/, $node->safe_psql('postgres',
		$force . "CREATE TEMP TABLE r AS " . $query->($label, $qid) . ";"
		  . "SELECT count(*), bool_and(label = $label) FROM items JOIN r USING (id);"
		  . "SELECT widenings FROM vdb_last_scan();");
	$short++ if $n != 10 || $labels_ok ne 't';
	$unwidened++ if $widenings == 0;
}
is($short, 0, 'every 1%-filtered query returned exactly 10 matching rows');
is($unwidened, 0, 'every 1%-filtered query widened');

# Recall under a filter.  Row i lies in cluster i % 40 and has label
# i % 100, so a label holds two clusters (label % 20 and label % 20 + 20):
# "same" (the query row's own label) keeps the query's cluster, "shift"
# (the next label) excludes it, so its rows lie far down the stream, behind
# thousands of rows of other clusters.  The index answer (forced) is
# compared with the exact one (index scans off): a returned row counts when
# it lies within the exact 10th distance.  vdb.probes 6 is the smallest
# setting with unfiltered recall@10 >= 0.95 on these queries (0.985; 4 gives
# 0.935); widening by the pool alone gave the "same" filter 0.925 there.
my $force_ivf = 'SET enable_seqscan = off; SET enable_sort = off; SET enable_bitmapscan = off; SET vdb.probes = 6; ';
for my $filter ('same', 'shift')
{
	my ($found, $short, $disorder, $nq) = (0, 0, 0, 20);
	for my $i (1 .. $nq)
	{
		my $qid = ($i * 1777) % 20000 + 1;
		my $label = ($qid + ($filter eq 'shift' ? 1 : 0)) % 100;
		my $q = "(SELECT embedding FROM items WHERE id = $qid)";
		my ($n, $within, $bad) = split /\|/, $node->safe_psql('postgres',
			$force_ivf
			  . "CREATE TEMP TABLE got AS SELECT row_number() OVER () AS rn, id, label, d FROM "
			  . "(SELECT id, label, embedding <-> $q AS d FROM items WHERE label = $label "
			  . "ORDER BY embedding <-> $q LIMIT 10) s;"
			  . 'RESET enable_seqscan; RESET enable_sort; RESET enable_bitmapscan; '
			  . 'SET enable_indexscan = off; '
			  . "WITH exact AS (SELECT max(d) AS kth FROM (SELECT embedding <-> $q AS d FROM items "
			  . "WHERE label = $label ORDER BY 1 LIMIT 10) e) "
			  . "SELECT count(*) FILTER (WHERE label = $label), "
			  . 'count(*) FILTER (WHERE d <= kth * (1 + 1e-6)), '
			  . '(SELECT count(*) FROM got a JOIN got b ON b.rn = a.rn + 1 WHERE b.d < a.d) '
			  . 'FROM got, exact');
		$short++ if $n != 10;
		$found += $within;
		$disorder += $bad;
	}
	my $recall = $found / (10 * $nq);
	note("filter $filter: recall\@10 $recall");
	is($short, 0, "$filter filter: every query returned 10 matching rows");
	is($disorder, 0, "$filter filter: rows come back in distance order");
	cmp_ok($recall, '>=', 0.95, "$filter filter: recall\@10 >= 0.95 against the exact answer");
}

# Deleted rows are never returned and do not shrink the result.
my $nearest = $node->safe_psql('postgres', $force . 'SELECT string_agg(id::text, \',\') FROM ('
	  . $query->(7, 123) . ') s');
$node->safe_psql('postgres', "DELETE FROM items WHERE id IN ($nearest)");
is( $node->safe_psql('postgres',
		$force . "SELECT count(*), count(*) FILTER (WHERE id IN ($nearest)) FROM ("
		  . $query->(7, 123) . ') s'),
	'10|0',
	'deleted rows are not returned and the result keeps its LIMIT');

# Rows of an open transaction are invisible to another session.
# The new rows are copies of row 500's vector: the 10 nearest other rows.
my $probe = q{SELECT count(*) FROM (SELECT id FROM items WHERE id <> 500
	ORDER BY embedding <-> (SELECT embedding FROM items WHERE id = 500) LIMIT 10) s
	WHERE id > 1000000};
my $bg = $node->background_psql('postgres');
$bg->query_safe('BEGIN');
$bg->query_safe(q{INSERT INTO items
	SELECT 1000000 + g, 0, (SELECT embedding FROM items WHERE id = 500)
	FROM generate_series(1, 20) g});
is($bg->query_safe($probe), '10', 'the inserting session sees its own rows first');
is($node->safe_psql('postgres', $probe), '0',
	'another session does not see rows of an open transaction');
$bg->query_safe('ROLLBACK');
is($node->safe_psql('postgres', $probe), '0', 'a rolled-back insert never appears');

# Its dead entries sealed into a segment still never appear.
$node->safe_psql('postgres', "SELECT vdb_seal('items_ivf')");
is($node->safe_psql('postgres', $probe), '0',
	'a rolled-back insert never appears after its entries are sealed');

# A committed insert does appear (the probe above can see new rows).
$bg->query_safe(q{INSERT INTO items
	SELECT 2000000 + g, 0, (SELECT embedding FROM items WHERE id = 500)
	FROM generate_series(1, 20) g});
is($node->safe_psql('postgres', $probe), '10', 'committed rows are found');
$bg->quit;

$node->stop;
done_testing();
