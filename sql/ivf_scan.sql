-- vdb_ivf scans: exact-order streaming through the index plan, widening,
-- NULL and malformed queries, rescans, and the vdb_last_scan() counters.

-- Nothing scanned yet in this session: one row of NULLs.
SELECT * FROM vdb_last_scan();

-- A deterministic clustered data set: 20 clusters in 8 dimensions.
CREATE FUNCTION scan_vec(i int, dim int) RETURNS vector
LANGUAGE sql IMMUTABLE AS $$
	SELECT ('[' || string_agg(round((sin((i % 20) * 17 + j * 3) * 5
			+ sin(i * 31.7 + j * 7.1) * 0.5)::numeric, 4)::text, ',' ORDER BY j)
			|| ']')::vector
	FROM generate_series(1, dim) j
$$;

-- Walks a query's rows in the order returned and counts order violations.
-- (How many rows come back depends on how many a widening skipped: the
-- counters below account for every entry.)
-- The index computes cosine distances from normalized vectors and the SQL
-- operator from raw ones, so they may differ in the last bits: tolerance.
CREATE FUNCTION check_stream(query text, tolerance float8 DEFAULT 0) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	r record;
	prev float8;
	n int := 0;
	bad int := 0;
BEGIN
	FOR r IN EXECUTE query LOOP
		IF prev IS NOT NULL AND r.d < prev - tolerance THEN
			bad := bad + 1;
		END IF;
		prev := r.d;
		n := n + 1;
	END LOOP;
	RETURN CASE WHEN n = 0 THEN 'no rows' ELSE format('%s out of order', bad) END;
END $$;

CREATE TABLE scan_items (id int, label int, embedding vector(8));
INSERT INTO scan_items SELECT i, i % 100, scan_vec(i, 8) FROM generate_series(1, 3000) i;
CREATE INDEX scan_items_l2 ON scan_items USING vdb_ivf (embedding vector_l2_ops)
	WITH (segment_rows = 1000, lists = 16);
-- Growing rows after the build get an interim assignment.
INSERT INTO scan_items SELECT i, i % 100, scan_vec(i, 8) FROM generate_series(3001, 3400) i;
SELECT state, count(*) FROM vdb_segments('scan_items_l2') GROUP BY state ORDER BY state;

SET enable_seqscan = off;
SET vdb.probes = 1;

EXPLAIN (COSTS OFF)
SELECT id FROM scan_items ORDER BY embedding <-> scan_vec(7, 8) LIMIT 10;

-- The whole stream comes back in non-decreasing distance at the lowest
-- probes (so it widens many times) and holds every row at most once.
SELECT check_stream($$SELECT embedding <-> scan_vec(7, 8) AS d FROM scan_items
	ORDER BY embedding <-> scan_vec(7, 8)$$);
SELECT widenings > 0 AS widened,
	returned + skipped_for_order = 3400 AS all_accounted,
	entries_scanned = entries_total AS read_everything, segments
FROM vdb_last_scan();
-- From a point between two clusters the first list's rows come back first
-- (the first batch is trusted for 10 rows); widenings then find nearer rows
-- of the other cluster's lists: those are skipped and counted, never
-- returned out of order.
SELECT check_stream($$SELECT embedding <-> ((scan_vec(0, 8) + scan_vec(2, 8))
	* '[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]') AS d FROM scan_items
	ORDER BY embedding <-> ((scan_vec(0, 8) + scan_vec(2, 8)) * '[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]')$$);
SELECT skipped_for_order > 0 AS skipped, returned + skipped_for_order = 3400 AS all_accounted
FROM vdb_last_scan();
SELECT count(*) = count(DISTINCT id) AS no_duplicates FROM
	(SELECT id FROM scan_items ORDER BY embedding <-> scan_vec(7, 8)) s;

-- A LIMIT query reads only its first batch.
SELECT count(*) FROM (SELECT id FROM scan_items ORDER BY embedding <-> scan_vec(7, 8) LIMIT 10) s;
SELECT widenings, returned, entries_scanned < entries_total AS partial FROM vdb_last_scan();

-- With every list probed the index returns exactly the sequential scan's
-- answer (ties broken by TID in both).
SET vdb.probes = 32768;
CREATE TEMP TABLE scan_got AS
	SELECT array_agg(id) AS ids FROM
	(SELECT id FROM scan_items ORDER BY embedding <-> scan_vec(11, 8) LIMIT 50) s;
SELECT widenings, skipped_for_order FROM vdb_last_scan();
SET enable_seqscan = on;
SET enable_indexscan = off;
SELECT (SELECT ids FROM scan_got) = array_agg(id) AS same_as_seqscan FROM
	(SELECT id FROM scan_items ORDER BY embedding <-> scan_vec(11, 8), ctid LIMIT 50) s;
RESET enable_indexscan;
SET enable_seqscan = off;

-- Filtered: 1% of rows match; the scan widens until LIMIT rows are found.
SET vdb.probes = 1;
EXPLAIN (COSTS OFF)
SELECT id FROM scan_items WHERE label = 42 ORDER BY embedding <-> scan_vec(7, 8) LIMIT 10;
SELECT count(*), bool_and(label = 42) FROM
	(SELECT id, label FROM scan_items WHERE label = 42
	 ORDER BY embedding <-> scan_vec(7, 8) LIMIT 10) s;
SELECT widenings > 0 AS widened, returned >= 10 AS enough FROM vdb_last_scan();
-- A filter that matches 4 rows: with every list probed at once all 4 come
-- back; with one probe, rows found by a widening that sort before a row
-- already returned are skipped (and counted), never returned out of order.
SET vdb.probes = 32768;
SELECT count(*) FROM (SELECT id FROM scan_items WHERE id IN (5, 500, 1500, 3333)
	ORDER BY embedding <-> scan_vec(7, 8) LIMIT 10) s;
SET vdb.probes = 1;
SELECT check_stream($$SELECT embedding <-> scan_vec(7, 8) AS d FROM scan_items
	WHERE id IN (5, 500, 1500, 3333) ORDER BY embedding <-> scan_vec(7, 8)$$);
SELECT returned + skipped_for_order = entries_total AS all_accounted FROM vdb_last_scan();

-- Deleted rows are never returned, and do not shrink the result.
CREATE TEMP TABLE scan_nearest AS
	SELECT id FROM scan_items ORDER BY embedding <-> scan_vec(7, 8) LIMIT 5;
DELETE FROM scan_items WHERE id IN (SELECT id FROM scan_nearest);
SELECT count(*) AS rows, count(*) FILTER (WHERE id IN (SELECT id FROM scan_nearest)) AS deleted_seen
FROM (SELECT id FROM scan_items ORDER BY embedding <-> scan_vec(7, 8) LIMIT 10) s;

-- Rescans (nested loop with a LATERAL index scan) give the same rows as
-- separate queries, and the last rescan's counters are published.
SET vdb.probes = 32768;
SET enable_hashjoin = off;
SET enable_mergejoin = off;
EXPLAIN (COSTS OFF)
SELECT q.i, s.id FROM generate_series(1, 3) q(i),
	LATERAL (SELECT id FROM scan_items ORDER BY embedding <-> scan_vec(q.i, 8) LIMIT 3) s;
SELECT q.i, array_agg(s.id ORDER BY s.ord) = (SELECT array_agg(id) FROM
	(SELECT id FROM scan_items ORDER BY embedding <-> scan_vec(q.i, 8) LIMIT 3) t) AS same
FROM generate_series(1, 3) q(i),
	LATERAL (SELECT id, row_number() OVER () AS ord FROM
		(SELECT id FROM scan_items ORDER BY embedding <-> scan_vec(q.i, 8) LIMIT 3) u) s
GROUP BY q.i ORDER BY q.i;
RESET enable_hashjoin;
RESET enable_mergejoin;

-- A NULL query has no distance to anything: every row, in no useful order,
-- with a NULL distance (as a sequential scan would give).
-- (A subquery keeps the planner from folding the NULL away.)
EXPLAIN (COSTS OFF)
SELECT id FROM scan_items ORDER BY embedding <-> (SELECT NULL::vector) LIMIT 5;
SELECT count(*), count(d) FROM
	(SELECT embedding <-> (SELECT NULL::vector) AS d FROM scan_items
	 ORDER BY embedding <-> (SELECT NULL::vector)) s;
SELECT count(*) FROM scan_items;

-- A query of the wrong dimensions is an error.
SELECT id FROM scan_items ORDER BY embedding <-> '[1,2,3]' LIMIT 1;

-- After VACUUM and sealing the growing rows every row is still findable.
VACUUM scan_items;
-- (VACUUM removed entries from growing pages this session already knows:
-- with every list probed the answer is still exactly the sequential scan's.)
SET vdb.probes = 32768;
CREATE TEMP TABLE scan_got2 AS
	SELECT array_agg(id) AS ids FROM
	(SELECT id FROM scan_items ORDER BY embedding <-> scan_vec(13, 8) LIMIT 50) s;
SET enable_seqscan = on;
SET enable_indexscan = off;
SELECT (SELECT ids FROM scan_got2) = array_agg(id) AS same_as_seqscan FROM
	(SELECT id FROM scan_items ORDER BY embedding <-> scan_vec(13, 8), ctid LIMIT 50) s;
RESET enable_indexscan;
SET enable_seqscan = off;
SET vdb.probes = 1;
SELECT check_stream($$SELECT embedding <-> scan_vec(13, 8) AS d FROM scan_items
	ORDER BY embedding <-> scan_vec(13, 8)$$);
SELECT vdb_seal('scan_items_l2') >= 1 AS sealed;
SELECT state, count(*) FROM vdb_segments('scan_items_l2') GROUP BY state ORDER BY state;
SELECT check_stream($$SELECT embedding <-> scan_vec(3, 8) AS d FROM scan_items
	ORDER BY embedding <-> scan_vec(3, 8)$$);
SELECT returned + skipped_for_order = (SELECT count(*) FROM scan_items) AS all_accounted FROM vdb_last_scan();

-- vdb.max_probes caps the lists a scan may probe (per sealed segment on
-- average): the stream then ends early.
SET vdb.probes = 1;
SET vdb.max_probes = 2;
SELECT count(*) < (SELECT count(*) FROM scan_items) AS ended_early FROM
	(SELECT id FROM scan_items ORDER BY embedding <-> scan_vec(3, 8)) s;
SELECT lists_probed, widenings FROM vdb_last_scan();
RESET vdb.max_probes;

-- REINDEX gives the index a new relfilenode: nothing stale is used.
REINDEX INDEX scan_items_l2;
SELECT check_stream($$SELECT embedding <-> scan_vec(3, 8) AS d FROM scan_items
	ORDER BY embedding <-> scan_vec(3, 8)$$);
SELECT returned + skipped_for_order = (SELECT count(*) FROM scan_items) AS all_accounted FROM vdb_last_scan();

-- The inner product and cosine opclasses stream in order too.
CREATE TABLE scan_ops (id int, embedding vector(8));
INSERT INTO scan_ops SELECT i, scan_vec(i, 8) FROM generate_series(1, 2000) i;
CREATE INDEX scan_ops_ip ON scan_ops USING vdb_ivf (embedding vector_ip_ops)
	WITH (segment_rows = 1000, lists = 8);
CREATE INDEX scan_ops_cos ON scan_ops USING vdb_ivf (embedding vector_cosine_ops)
	WITH (segment_rows = 1000, lists = 8);
INSERT INTO scan_ops SELECT i, scan_vec(i, 8) FROM generate_series(2001, 2200) i;
SET vdb.probes = 1;
EXPLAIN (COSTS OFF)
SELECT id FROM scan_ops ORDER BY embedding <#> scan_vec(5, 8) LIMIT 5;
SELECT check_stream($$SELECT embedding <#> scan_vec(5, 8) AS d FROM scan_ops
	ORDER BY embedding <#> scan_vec(5, 8)$$);
SELECT widenings > 0 AS widened, returned + skipped_for_order = 2200 AS all_accounted
FROM vdb_last_scan();
EXPLAIN (COSTS OFF)
SELECT id FROM scan_ops ORDER BY embedding <=> scan_vec(5, 8) LIMIT 5;
SELECT check_stream($$SELECT embedding <=> scan_vec(5, 8) AS d FROM scan_ops
	ORDER BY embedding <=> scan_vec(5, 8)$$, 1e-6);
SELECT widenings > 0 AS widened, returned + skipped_for_order = 2200 AS all_accounted
FROM vdb_last_scan();
-- every list probed: the sequential scan's answer
SET vdb.probes = 32768;
CREATE TEMP TABLE scan_ops_got AS SELECT
	(SELECT array_agg(id) FROM (SELECT id FROM scan_ops
		ORDER BY embedding <#> scan_vec(9, 8) LIMIT 20) s) AS ip,
	(SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM scan_ops
		ORDER BY embedding <=> scan_vec(9, 8) LIMIT 20) s) AS cos;
SET enable_seqscan = on;
SET enable_indexscan = off;
SELECT ip = (SELECT array_agg(id) FROM (SELECT id FROM scan_ops
		ORDER BY embedding <#> scan_vec(9, 8), ctid LIMIT 20) s) AS ip_same,
	cos = (SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM scan_ops
		ORDER BY embedding <=> scan_vec(9, 8), ctid LIMIT 20) s) AS cos_same
FROM scan_ops_got;
RESET enable_indexscan;
SET enable_seqscan = off;
-- A zero query under cosine has no direction: every distance is NaN (as
-- the operator says), and the index returns every row, like a seq scan.
SELECT count(*), count(*) FILTER (WHERE d = 'NaN') AS nan FROM
	(SELECT embedding <=> '[0,0,0,0,0,0,0,0]' AS d FROM scan_ops
	 ORDER BY embedding <=> '[0,0,0,0,0,0,0,0]') s;
SELECT returned FROM vdb_last_scan();
DROP TABLE scan_ops;

-- An index built on an empty table: growing rows only, brute-forced.
CREATE TABLE scan_empty (id int, embedding vector(3));
CREATE INDEX ON scan_empty USING vdb_ivf (embedding);
SELECT id FROM scan_empty ORDER BY embedding <-> '[1,1,1]' LIMIT 3;
INSERT INTO scan_empty VALUES (1, '[1,1,1]'), (2, '[0,0,0]'), (3, '[1,1,2]'), (4, NULL), (5, '[5,5,5]');
SELECT id, embedding <-> '[1,1,1]' AS d FROM scan_empty ORDER BY embedding <-> '[1,1,1]' LIMIT 3;
SELECT segments, lists_probed, entries_scanned, widenings FROM vdb_last_scan();

-- Growing segments that filled up are frozen and searched like growing
-- ones until they are sealed (by vdb_seal or the sealing worker, whichever
-- comes first: the checks below hold either way).
CREATE TABLE scan_frozen (id int, embedding vector(8));
CREATE INDEX scan_frozen_l2 ON scan_frozen USING vdb_ivf (embedding)
	WITH (segment_rows = 1000);
INSERT INTO scan_frozen SELECT i, scan_vec(i, 8) FROM generate_series(1, 2500) i;
SET vdb.probes = 32768;
CREATE TEMP TABLE scan_got3 AS
	SELECT array_agg(id) AS ids FROM
	(SELECT id FROM scan_frozen ORDER BY embedding <-> scan_vec(4, 8) LIMIT 30) s;
SELECT segments >= 3 AS several_segments, returned FROM vdb_last_scan();
SET enable_seqscan = on;
SET enable_indexscan = off;
SELECT (SELECT ids FROM scan_got3) = array_agg(id) AS same_as_seqscan FROM
	(SELECT id FROM scan_frozen ORDER BY embedding <-> scan_vec(4, 8), ctid LIMIT 30) s;
RESET enable_indexscan;
SET enable_seqscan = off;
SELECT check_stream($$SELECT embedding <-> scan_vec(4, 8) AS d FROM scan_frozen
	ORDER BY embedding <-> scan_vec(4, 8)$$);
SELECT returned + skipped_for_order = 2500 AS all_accounted FROM vdb_last_scan();
DROP TABLE scan_frozen;

-- An inner product that overflows to NaN sorts last, as in SQL.
CREATE TABLE scan_nan (id int, embedding vector(2));
CREATE INDEX ON scan_nan USING vdb_ivf (embedding vector_ip_ops);
INSERT INTO scan_nan VALUES (1, '[1e20,1e20]'), (2, '[1,2]'), (3, '[2,1]');
EXPLAIN (COSTS OFF) SELECT id FROM scan_nan ORDER BY embedding <#> '[1e20,-1e20]';
SELECT id, embedding <#> '[1e20,-1e20]' AS d FROM scan_nan ORDER BY embedding <#> '[1e20,-1e20]';

RESET enable_seqscan;
RESET vdb.probes;
DROP TABLE scan_items, scan_empty, scan_nan;
