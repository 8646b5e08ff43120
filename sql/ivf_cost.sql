-- vdb_ivf cost estimation: the planner uses the index for ORDER BY distance
-- LIMIT k without a filter or with a mild one, prefers a btree and a sort
-- when a selective filter would make the index scan widen a lot, and never
-- uses the index without an ORDER BY distance.

CREATE FUNCTION cost_vec(i int, dim int) RETURNS vector
LANGUAGE sql IMMUTABLE AS $$
	SELECT ('[' || string_agg(round((sin((i % 50) * 17 + j * 3) * 5
			+ sin(i * 31.7 + j * 7.1) * 0.5)::numeric, 4)::text, ',' ORDER BY j)
			|| ']')::vector
	FROM generate_series(1, dim) j
$$;

CREATE TABLE cost_items (id int, label100 int, label10 int, embedding vector(16));
INSERT INTO cost_items
	SELECT i, i % 100, i % 10, cost_vec(i, 16) FROM generate_series(1, 10000) i;
CREATE INDEX cost_items_ivf ON cost_items USING vdb_ivf (embedding vector_l2_ops)
	WITH (segment_rows = 5000);
CREATE INDEX cost_items_label100 ON cost_items (label100);
CREATE INDEX cost_items_label10 ON cost_items (label10);
ANALYZE cost_items;

-- No filter: the index scan.
EXPLAIN (COSTS OFF)
SELECT id FROM cost_items ORDER BY embedding <-> cost_vec(1, 16) LIMIT 10;

-- A 10% filter with a btree on it, on 10,000 rows of 16 dimensions: the
-- index scan would probe about sqrt(10) times vdb.probes lists for the 100
-- rows it must pull, while the btree finds the 1,000 rows cheaply; bitmap
-- scan and sort.  (Measured here: 0.3-0.5 ms against 2.7 ms for the index
-- scan, whose rows of another cluster's label lie deep in the stream.)
EXPLAIN (COSTS OFF)
SELECT id FROM cost_items WHERE label10 = 3 ORDER BY embedding <-> cost_vec(1, 16) LIMIT 10;

-- A 1% filter with a btree on it: fetch the 100 rows and sort them.
EXPLAIN (COSTS OFF)
SELECT id FROM cost_items WHERE label100 = 3 ORDER BY embedding <-> cost_vec(1, 16) LIMIT 10;

-- Forced onto the index, the same query widens until it has its 10 rows.
SET enable_sort = off;
SET enable_bitmapscan = off;
SET vdb.probes = 1;
EXPLAIN (COSTS OFF)
SELECT id FROM cost_items WHERE label100 = 3 ORDER BY embedding <-> cost_vec(1, 16) LIMIT 10;
SELECT count(*), bool_and(label100 = 3) FROM
	(SELECT id, label100 FROM cost_items WHERE label100 = 3
	 ORDER BY embedding <-> cost_vec(1, 16) LIMIT 10) s;
SELECT widenings > 0 AS widened FROM vdb_last_scan();
RESET enable_sort;
RESET enable_bitmapscan;
RESET vdb.probes;

-- No ORDER BY distance: never the vdb_ivf index, even with nothing else.
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM cost_items;
EXPLAIN (COSTS OFF) SELECT id FROM cost_items ORDER BY id LIMIT 10;
EXPLAIN (COSTS OFF) SELECT id FROM cost_items WHERE embedding <-> cost_vec(1, 16) < 1;
RESET enable_seqscan;

-- A descending distance order cannot use the index.
EXPLAIN (COSTS OFF)
SELECT id FROM cost_items ORDER BY embedding <-> cost_vec(1, 16) DESC LIMIT 10;

DROP TABLE cost_items;
