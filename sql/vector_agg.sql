-- Aggregates (avg, sum) and the btree operator class (ordering, DISTINCT,
-- GROUP BY, UNIQUE).  pg_temp.err() prints the SQLSTATE and message of a
-- statement's error.
\i sql/include/err.sql

-- avg and sum; NULL rows are skipped, no rows give NULL
SELECT avg(v), sum(v) FROM (VALUES ('[1,2,3]'::vector), ('[3,4,5]'), (NULL), ('[5,0,-2]')) t(v);
SELECT avg(v) IS NULL AS avg_null, sum(v) IS NULL AS sum_null
FROM (VALUES ('[1]'::vector)) t(v) WHERE false;
SELECT avg(v) IS NULL AS avg_null, sum(v) IS NULL AS sum_null
FROM (VALUES (NULL::vector)) t(v);
-- avg sums in double precision: no overflow where the mean is a float
SELECT avg(v) FROM (VALUES ('[3e38,-3e38]'::vector), ('[3e38,-3e38]')) t(v);
-- per group, and as a window
SELECT g, avg(v), sum(v)
FROM (VALUES (1, '[1,1]'::vector), (1, '[3,5]'), (2, '[10,20]')) t(g, v)
GROUP BY g ORDER BY g;
SELECT i, sum(v) OVER (ORDER BY i) AS running_sum, avg(v) OVER (ORDER BY i) AS running_avg
FROM (VALUES (1, '[1,2]'::vector), (2, '[3,4]'), (3, '[5,6]')) t(i, v);
-- a moving frame restarts the aggregate per row: each restart must begin
-- from a fresh copy, not from a state updated in place before
SELECT i, sum(v) OVER w AS pair_sum, avg(v) OVER w AS pair_avg
FROM (VALUES (1, '[1,2]'::vector), (2, '[3,4]'), (3, '[5,6]'), (4, '[7,8]')) t(i, v)
WINDOW w AS (ORDER BY i ROWS BETWEEN 1 PRECEDING AND CURRENT ROW);
SELECT sum(v), sum(DISTINCT v) AS sum_distinct, sum(v) FILTER (WHERE v > '[2]') AS sum_filtered
FROM (VALUES ('[1,2]'::vector), ('[1,2]'), ('[3,4]')) t(v);
-- the aggregates do not change their input rows (they update only their own state)
CREATE TABLE va (v vector);
INSERT INTO va VALUES ('[1,2]'), ('[3,4]');
SELECT sum(v), avg(v) FROM va;
SELECT v FROM va;
DROP TABLE va;

-- errors: mixed dimensions 22000, sum overflow 22003
SELECT stmt, pg_temp.err(stmt)
FROM unnest(ARRAY[
	$$SELECT avg(v) FROM (VALUES ('[1,2]'::vector), ('[1,2,3]')) t(v)$$,
	$$SELECT sum(v) FROM (VALUES ('[1,2]'::vector), ('[1,2,3]')) t(v)$$,
	$$SELECT sum(v) FROM (VALUES ('[3e38]'::vector), ('[3e38]')) t(v)$$]) stmt;

-- parallel aggregation: partial states combined give the serial answer
-- (integer-valued rows, so every order of summation is exact)
CREATE TABLE vp (g int, v vector(4));
INSERT INTO vp SELECT i % 3, ARRAY[i % 7, i % 11, -(i % 13), 1]
FROM generate_series(1, 30000) i;
ANALYZE vp;
SELECT g, avg(v), sum(v) FROM vp GROUP BY g ORDER BY g;
CREATE TABLE vp_serial AS SELECT g, avg(v), sum(v) FROM vp GROUP BY g;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF) SELECT g, avg(v), sum(v) FROM vp GROUP BY g;
SELECT count(*) AS groups_equal
FROM (SELECT g, avg(v), sum(v) FROM vp GROUP BY g) p
JOIN vp_serial s USING (g)
WHERE p.avg = s.avg AND p.sum = s.sum;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
RESET parallel_leader_participation;
DROP TABLE vp, vp_serial;

-- ordering: element by element, then the shorter vector first; -0 = 0
SELECT v FROM (VALUES ('[1,2,3]'::vector), ('[1,2]'), ('[1,3]'), ('[0,9,9]'), ('[-1]'),
	('[1,2,3,0]'), ('[1,-2]')) t(v)
ORDER BY v;
SELECT vector_cmp('[1,2]', '[1,2]') AS eq, vector_cmp('[1,2]', '[1,3]') AS lt,
	vector_cmp('[2]', '[1,3]') AS gt, vector_cmp('[1]', '[1,0]') AS shorter,
	vector_cmp('[-0]', '[0]') AS negative_zero;
SELECT '[1,2]'::vector = '[1,2]' AS eq, '[1,2]'::vector <> '[1,2]' AS ne,
	'[1,2]'::vector < '[1,3]' AS lt, '[1,2]'::vector <= '[1,2]' AS le,
	'[1,3]'::vector > '[1,2,9]' AS gt, '[1,2]'::vector >= '[1,3]' AS ge,
	'[1,2]'::vector = '[1,2,0]' AS different_dims;

-- DISTINCT, GROUP BY, UNIQUE through the btree operator class
CREATE TABLE vb (id serial, v vector);
INSERT INTO vb (v) VALUES ('[1,2]'), ('[1,2]'), ('[3]'), ('[1,2,0]'), ('[0,1]'), ('[1,2]');
SELECT DISTINCT v FROM vb ORDER BY v;
SELECT min(id), v, count(*) FROM vb GROUP BY v ORDER BY min(id);
CREATE UNIQUE INDEX vb_v ON vb (v) WHERE id > 2;
SELECT v, pg_temp.err(format('INSERT INTO vb (v) VALUES (%L)', v))
FROM unnest(ARRAY['[3]', '[-0,1]', '[1,2]', '[3,0]']) v;
-- the index answers equality and range lookups
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM vb WHERE v = '[1,2,0]' AND id > 2;
SELECT id FROM vb WHERE v = '[1,2,0]' AND id > 2;
SELECT v FROM vb WHERE v > '[1]' AND id > 2 ORDER BY v;
RESET enable_seqscan;
DROP TABLE vb;
