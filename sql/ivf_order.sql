-- vdb_ivf returns rows in the exact order of the SQL operator, for every
-- opclass.  Cosine needs the executor's recheck (ivf_scan.c): the index
-- ranks normalised vectors, which rounds differently from <=> (a soak
-- found rows about 1e-7 out of order before the recheck).
SET client_min_messages = warning;
SET vdb.auto_seal = off;

CREATE TABLE io (id int, v vector(8)) WITH (autovacuum_enabled = off);
INSERT INTO io
SELECT i, array(SELECT (hashint8(i * 8 + d)::float8 / 2147483648.0 * 10 + (i % 5) * 8)::real
	FROM generate_series(0, 7) d)::vector
FROM generate_series(1, 20000) i;
CREATE INDEX io_cos ON io USING vdb_ivf (v vector_cosine_ops) WITH (segment_rows = 10000);
CREATE INDEX io_l2 ON io USING vdb_ivf (v vector_l2_ops) WITH (segment_rows = 10000);
CREATE INDEX io_ip ON io USING vdb_ivf (v vector_ip_ops) WITH (segment_rows = 10000);
CREATE TEMP TABLE q AS
SELECT n, array(SELECT (hashint8(100000 + n * 8 + d)::float8 / 2147483648.0 * 10 + (n % 5) * 8)::real
	FROM generate_series(0, 7) d)::vector AS x
FROM generate_series(1, 5) n;

SET enable_seqscan = off;
SET vdb.probes = 1000;

-- The whole table through each index: the operator's values never step
-- back, and every row comes once.
EXPLAIN (COSTS OFF) SELECT id FROM io ORDER BY v <=> (SELECT x FROM q WHERE n = 1);
SELECT count(*) AS rows, count(*) FILTER (WHERE d < prev) AS steps_back
FROM (SELECT d, lag(d) OVER (ORDER BY ord) AS prev
      FROM (SELECT v <=> (SELECT x FROM q WHERE n = 1) AS d, row_number() OVER () AS ord
            FROM (SELECT v FROM io ORDER BY v <=> (SELECT x FROM q WHERE n = 1)) s) s) s;
SELECT count(*) AS rows, count(*) FILTER (WHERE d < prev) AS steps_back
FROM (SELECT d, lag(d) OVER (ORDER BY ord) AS prev
      FROM (SELECT v <-> (SELECT x FROM q WHERE n = 1) AS d, row_number() OVER () AS ord
            FROM (SELECT v FROM io ORDER BY v <-> (SELECT x FROM q WHERE n = 1)) s) s) s;
SELECT count(*) AS rows, count(*) FILTER (WHERE d < prev) AS steps_back
FROM (SELECT d, lag(d) OVER (ORDER BY ord) AS prev
      FROM (SELECT v <#> (SELECT x FROM q WHERE n = 1) AS d, row_number() OVER () AS ord
            FROM (SELECT v FROM io ORDER BY v <#> (SELECT x FROM q WHERE n = 1)) s) s) s;

-- The ten nearest by <=> equal the exact answer, for five queries.
CREATE TEMP TABLE via_index AS
SELECT n, array_agg(id ORDER BY d, id) AS ids FROM q,
	LATERAL (SELECT id, v <=> q.x AS d FROM io ORDER BY v <=> q.x LIMIT 10) s GROUP BY n;
RESET enable_seqscan;
SET enable_indexscan = off;
SELECT count(*) AS mismatches FROM via_index i JOIN q USING (n),
	LATERAL (SELECT array_agg(id ORDER BY d, id) AS ids
	         FROM (SELECT id, v <=> q.x AS d FROM io ORDER BY d, id LIMIT 10) s) e
WHERE i.ids <> e.ids;
RESET enable_indexscan;

-- With the column stored PLAIN, rows past the first batch leave the index
-- with their code's lower bound and the executor re-ranks them from the heap
-- row.  One list first, so that nearly every row comes from a widening: the
-- operator's values never step back, no row comes twice, and every row is
-- either returned or counted as skipped for order (found by a widening
-- after a farther row had been returned).
ALTER TABLE io ALTER COLUMN v SET STORAGE PLAIN;
SET enable_seqscan = off;
SET vdb.probes = 1;
CREATE FUNCTION order_check(op text, OUT accounted bigint, OUT once bool,
							OUT steps_back bigint)
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('CREATE TEMP TABLE s AS
		SELECT row_number() OVER () AS ord, id, v %1$s (SELECT x FROM q WHERE n = 2) AS d
		FROM (SELECT id, v FROM io ORDER BY v %1$s (SELECT x FROM q WHERE n = 2)) s', op);
	SELECT count(*) + (SELECT skipped_for_order FROM vdb_last_scan()),
		count(DISTINCT id) = count(*), count(*) FILTER (WHERE d < prev)
	INTO accounted, once, steps_back
	FROM (SELECT id, d, lag(d) OVER (ORDER BY ord) AS prev FROM s) t;
	DROP TABLE s;
END $$;
SELECT op, c.* FROM unnest(ARRAY['<=>', '<->', '<#>']) op, LATERAL order_check(op) c;
DROP FUNCTION order_check(text);
RESET vdb.probes;
RESET enable_seqscan;
DROP TABLE io;
