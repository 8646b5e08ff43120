# Recall of the vdb_ivf scan at the default vdb.probes: 53,000 clustered rows
# (64 dims) in three sealed segments, a leftover and growing rows inserted after
# the build; 50 queries; recall@10 against the exact answer of the same queries
# with index scans disabled, while reading at most 10% of the entries.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('recall');
$node->init;
$node->append_conf('postgresql.conf', "shared_buffers = 256MB\nmaintenance_work_mem = 256MB");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION vdb');

# A seeded generator: 100 cluster centres in [-1, 1]^64, rows are a centre
# plus uniform noise.  setseed makes every run see the same data.
$node->safe_psql('postgres', q{
SELECT setseed(0.42);
CREATE TABLE centres AS
	SELECT c, array(SELECT (random() * 2 - 1)::real FROM generate_series(1, 64) j
					WHERE c > 0) AS x
	FROM generate_series(1, 100) c;
CREATE FUNCTION noisy(centre real[], noise real) RETURNS vector
LANGUAGE sql VOLATILE AS $$
	SELECT ('[' || array_to_string(array(
		SELECT centre[j] + (random() * 2 - 1) * noise
		FROM generate_series(1, 64) j), ',') || ']')::vector
$$;
CREATE TABLE items (id int, embedding vector(64));
INSERT INTO items
	SELECT i, noisy(x, 0.35) FROM generate_series(1, 50000) i
	JOIN centres ON c = 1 + (i * 7919) % 100;
CREATE INDEX items_ivf ON items USING vdb_ivf (embedding vector_l2_ops)
	WITH (segment_rows = 15000);
INSERT INTO items
	SELECT i, noisy(x, 0.35) FROM generate_series(50001, 53000) i
	JOIN centres ON c = 1 + (i * 7919) % 100;
CREATE TABLE queries AS
	SELECT q, noisy(x, 0.35) AS v FROM generate_series(1, 50) q
	JOIN centres ON c = 1 + (q * 37) % 100;
ANALYZE items;
});

my $states = $node->safe_psql('postgres',
	"SELECT string_agg(state || ':' || n, ',' ORDER BY state) FROM
	 (SELECT state, count(*) AS n FROM vdb_segments('items_ivf') GROUP BY state) s");
note("segments: $states");
my ($nsealed) = $states =~ /sealed:(\d+)/;
ok(defined $nsealed && $nsealed >= 3, 'the build made at least three sealed segments');
like($states, qr/growing:1/, 'rows inserted after the build are in a growing segment');

my $plan = $node->safe_psql('postgres', q{
EXPLAIN (COSTS OFF) SELECT id FROM items
	ORDER BY embedding <-> (SELECT v FROM queries WHERE q = 1) LIMIT 10});
like($plan, qr/Index Scan using items_ivf/, 'the planner chooses the vdb_ivf index');

# For each query: the index answer and its counters, then the exact answer.
$node->safe_psql('postgres', q{
CREATE FUNCTION measure(OUT recall float8, OUT max_fraction float8,
						OUT mean_fraction float8, OUT min_segments bigint)
LANGUAGE plpgsql AS $$
DECLARE
	r record;
	got int[];
	exact int[];
	hits int := 0;
	total int := 0;
	frac float8;
	stats record;
BEGIN
	max_fraction := 0;
	mean_fraction := 0;
	min_segments := NULL;
	FOR r IN SELECT q, v FROM queries ORDER BY q LOOP
		PERFORM set_config('enable_indexscan', 'on', true);
		EXECUTE 'SELECT array_agg(id) FROM (SELECT id FROM items
				 ORDER BY embedding <-> $1 LIMIT 10) s' INTO got USING r.v;
		SELECT * INTO stats FROM vdb_last_scan();
		frac := stats.entries_scanned::float8 / stats.entries_total;
		max_fraction := greatest(max_fraction, frac);
		mean_fraction := mean_fraction + frac / 50;
		min_segments := least(coalesce(min_segments, stats.segments), stats.segments);
		PERFORM set_config('enable_indexscan', 'off', true);
		EXECUTE 'SELECT array_agg(id) FROM (SELECT id FROM items
				 ORDER BY embedding <-> $1 LIMIT 10) s' INTO exact USING r.v;
		hits := hits + (SELECT count(*) FROM unnest(got) g WHERE g = ANY (exact));
		total := total + 10;
	END LOOP;
	recall := hits::float8 / total;
END $$;
});

my $probes = $node->safe_psql('postgres', "LOAD 'vdb'; SHOW vdb.probes");
my ($recall, $max_fraction, $mean_fraction, $min_segments) = split /\|/,
  $node->safe_psql('postgres', 'SELECT * FROM measure()');
note(sprintf("vdb.probes = %s: recall@10 %.4f, entries scanned max %.4f mean %.4f",
	$probes, $recall, $max_fraction, $mean_fraction));
cmp_ok($recall, '>=', 0.95, 'recall@10 at the default vdb.probes is at least 0.95');
cmp_ok($max_fraction, '<=', 0.10, 'no query scanned more than 10% of the entries');
cmp_ok($min_segments, '>=', 4, 'every query searched the sealed and growing segments');

# The same rows in a table whose vector column is STORAGE PLAIN: the scan
# hands rows out with their SQ8 bound and the executor re-ranks them from the
# heap row it fetches anyway (ivf_scan.c, HeapRerank).  Built the same way
# (same rows in the same order, then the same late inserts), its index has the
# same lists: the answers must be the same, in the operator's order, deep
# filtered scans included, without reading a float entry.
$node->safe_psql('postgres', q{
CREATE TABLE items_plain (LIKE items);
ALTER TABLE items_plain ALTER COLUMN embedding SET STORAGE PLAIN;
INSERT INTO items_plain SELECT * FROM items WHERE id <= 50000;
CREATE INDEX items_plain_ivf ON items_plain USING vdb_ivf (embedding vector_l2_ops)
	WITH (segment_rows = 15000);
INSERT INTO items_plain SELECT * FROM items WHERE id > 50000;
ANALYZE items_plain;
CREATE FUNCTION compare_plain(OUT same int, OUT steps_back int,
							  OUT filtered_recall float8, OUT short int)
LANGUAGE plpgsql AS $$
DECLARE
	r record;
	a int[];
	b int[];
	d float8[];
	hits int := 0;
BEGIN
	same := 0;
	steps_back := 0;
	short := 0;
	FOR r IN SELECT q, v FROM queries ORDER BY q LOOP
		PERFORM set_config('enable_indexscan', 'on', true);
		PERFORM set_config('enable_seqscan', 'off', true);
		EXECUTE 'SELECT array_agg(id) FROM (SELECT id FROM items
				 ORDER BY embedding <-> $1 LIMIT 10) s' INTO a USING r.v;
		EXECUTE 'SELECT array_agg(id) FROM (SELECT id FROM items_plain
				 ORDER BY embedding <-> $1 LIMIT 10) s' INTO b USING r.v;
		IF a = b THEN
			same := same + 1;
		END IF;
		-- a deep filtered scan: 10% of the rows pass
		EXECUTE 'SELECT array_agg(id), array_agg(embedding <-> $1) FROM
				 (SELECT id, embedding FROM items_plain WHERE id % 10 = 3
				  ORDER BY embedding <-> $1 LIMIT 10) s' INTO b, d USING r.v;
		IF coalesce(array_length(b, 1), 0) < 10 THEN
			short := short + 1;
		END IF;
		steps_back := steps_back + (SELECT count(*) FROM generate_subscripts(d, 1) i
									WHERE i > 1 AND d[i] < d[i - 1]);
		PERFORM set_config('enable_indexscan', 'off', true);
		PERFORM set_config('enable_seqscan', 'on', true);
		EXECUTE 'SELECT array_agg(id) FROM (SELECT id FROM items_plain WHERE id % 10 = 3
				 ORDER BY embedding <-> $1 LIMIT 10) s' INTO a USING r.v;
		hits := hits + (SELECT count(*) FROM unnest(b) g WHERE g = ANY (a));
	END LOOP;
	filtered_recall := hits::float8 / 500;
END $$;
});
my ($same, $steps_back, $filtered_recall, $short) = split /\|/,
  $node->safe_psql('postgres', 'SELECT * FROM compare_plain()');
note("STORAGE PLAIN: $same of 50 answers as with EXTERNAL, filtered recall $filtered_recall");
is($same, 50, 'STORAGE PLAIN: the same ten rows as the same index re-ranking itself');
is($steps_back, 0, 'STORAGE PLAIN, filtered: rows come in the order of <->');
is($short, 0, 'STORAGE PLAIN, filtered: no query returned fewer than ten rows');
cmp_ok($filtered_recall, '>=', 0.95, 'STORAGE PLAIN, filtered: recall@10 at least 0.95');

# Who re-ranked: the scan's DEBUG1 line, for a filtered query deep into the
# stream (query 2 lies in a cluster whose rows all have id % 10 = 6).
# EXTERNAL: the scan reads the float entry of every row it hands out past
# the first batch.  PLAIN: the executor re-ranks those from the heap row.
sub scan_line
{
	my ($table) = @_;
	my $offset = -s $node->logfile;
	$node->safe_psql('postgres', qq{SET log_min_messages = debug1; SET enable_seqscan = off;
		SELECT id FROM $table WHERE id % 10 = 3
		ORDER BY embedding <-> (SELECT v FROM queries WHERE q = 2) LIMIT 10});
	my $log = slurp_file($node->logfile, $offset);
	my ($reranked, $returned) = $log =~ /vdb_ivf scan: \d+ entries scanned, (\d+) re-ranked, (\d+) returned/;
	return ($reranked // -1, $returned // -1);
}
my ($ext_reranked, $ext_returned) = scan_line('items');
my ($plain_reranked, $plain_returned) = scan_line('items_plain');
note("filtered: EXTERNAL re-ranked $ext_reranked of $ext_returned rows, PLAIN $plain_reranked of $plain_returned");
cmp_ok($ext_returned, '>', 50, 'the filtered query reads deep into the stream');
cmp_ok($ext_reranked, '>=', $ext_returned / 2, 'EXTERNAL: the scan re-ranks what it hands out');
# (the scan still re-ranks rows of its first batch whose bounds were cut)
cmp_ok($plain_reranked, '<', $ext_reranked / 4, 'STORAGE PLAIN: the executor re-ranks from the heap row');

$node->stop;
done_testing();
