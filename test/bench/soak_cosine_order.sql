-- Reproduction (found by the concurrency soak, TAP 072): a vdb_ivf cosine
-- index returns neighbours out of <=> order by about 1e-7.  The scan ranks
-- by its own float distance on normalised vectors (1 - x.q), the operator
-- computes ab / sqrt(aa * bb) on the stored row, and the two round
-- differently; the scan sets xs_recheckorderby = false, so the executor
-- does not re-sort.  No concurrency is needed.
--
--   psql -X -f test/bench/soak_cosine_order.sql      (in a scratch database)
--
-- Expected: no row.  Seen: ids 3757 (0.0081992519...) then 8574
-- (0.0081991316...), i.e. a step back of 1.2e-7, among the first 10; and
-- about 27 steps back (largest 1.8e-7) over a scan of all 20,000 rows.
CREATE EXTENSION IF NOT EXISTS vdb;
CREATE TABLE cosine_order (id int, v vector(8));
INSERT INTO cosine_order
SELECT i, array(SELECT (hashint8(i * 8 + d)::float8 / 2147483648.0 * 10 + (i % 5) * 8)::real
	FROM generate_series(0, 7) d)::vector
FROM generate_series(1, 20000) i;
CREATE INDEX cosine_order_v ON cosine_order USING vdb_ivf (v vector_cosine_ops);
SET enable_seqscan = off;

-- The query: 10 nearest by <=> through the index, with each row's <=>.
WITH q AS (
	SELECT array(SELECT (hashint8(100057 * 8 + d)::float8 / 2147483648.0 * 10
		+ (100057 % 5) * 8)::real FROM generate_series(0, 7) d)::vector AS q
), r AS (
	SELECT id, d, row_number() OVER () AS n
	FROM (SELECT id, v <=> (SELECT q FROM q) AS d FROM cosine_order
		ORDER BY v <=> (SELECT q FROM q) LIMIT 10) s
)
SELECT a.n, a.id, a.d, b.id AS next_id, b.d AS next_d, a.d - b.d AS step_back
FROM r a JOIN r b ON b.n = a.n + 1
WHERE b.d < a.d;

DROP TABLE cosine_order;
