-- vdb_ivf posting lists with SQ8 codes (format 2): the scan bounds each
-- row's distance from its code and re-ranks it from its float entry before
-- returning it, so the stream must still be in exact (distance, TID)
-- order, also through near-ties and exact ties that the 8-bit codes cannot
-- tell apart.  Format 1 segments (float lists, as 0.1.0 wrote them) are
-- still read, vacuumed and checked, in the same index.

-- Rows in 4 tight clusters: within a cluster they differ by 2e-4 or less
-- per dimension (a code step is about 0.016 here, so rows of a cluster
-- share codes), and every vector appears about 4 times (exact ties, broken
-- by heap TID).
CREATE FUNCTION sq8_vec(i int, dim int) RETURNS vector
LANGUAGE sql IMMUTABLE AS $$
	SELECT ('[' || string_agg(((i % 4) * 3 + sin(j * 1.3 + (i % 4)) * 2
			+ ((i / 2) % 97) * 1e-6 * (j % 3))::float4::text, ',' ORDER BY j)
			|| ']')::vector
	FROM generate_series(1, dim) j
$$;

CREATE TABLE sq8_items (id int, embedding vector(24));
INSERT INTO sq8_items SELECT i, sq8_vec(i, 24) FROM generate_series(1, 1600) i;
CREATE INDEX sq8_l2 ON sq8_items USING vdb_ivf (embedding vector_l2_ops)
	WITH (lists = 8, segment_rows = 1000);
CREATE INDEX sq8_ip ON sq8_items USING vdb_ivf (embedding vector_ip_ops)
	WITH (lists = 8, segment_rows = 1000);
CREATE INDEX sq8_cos ON sq8_items USING vdb_ivf (embedding vector_cosine_ops)
	WITH (lists = 8, segment_rows = 1000);
SELECT state, rows, lists FROM vdb_segments('sq8_l2') ORDER BY segment_id;
SELECT count(*) AS distinct_vectors FROM (SELECT DISTINCT embedding::text FROM sq8_items) d;

-- The index stream, with every list probed, against an exact sort by
-- (distance, ctid): same rows in the same order.  Queries: a row itself, a
-- point between clusters, and a cluster center offset by less than a code
-- step.
CREATE FUNCTION sq8_same_order(idx text, op text, q vector) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	by_index int[];
	exact int[];
BEGIN
	SET LOCAL enable_seqscan = off;
	SET LOCAL enable_bitmapscan = off;
	SET LOCAL vdb.probes = 8;
	EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM sq8_items ORDER BY embedding %s $1) s', op)
		INTO by_index USING q;
	SET LOCAL enable_indexscan = off;
	SET LOCAL enable_seqscan = on;
	EXECUTE format('SELECT array_agg(id ORDER BY embedding %s $1, ctid) FROM sq8_items', op)
		INTO exact USING q;
	RETURN CASE WHEN by_index IS NULL THEN 'no rows'
		WHEN by_index = exact THEN format('%s rows in exact order', cardinality(by_index))
		ELSE format('%s of %s rows differ from the exact order',
					(SELECT count(*) FROM generate_subscripts(exact, 1) i
					 WHERE by_index[i] IS DISTINCT FROM exact[i]), cardinality(exact))
	END;
END $$;

-- The scan uses the index (checked once per opclass).
SET enable_seqscan = off;
SET plan_cache_mode = force_generic_plan;
PREPARE sq8_plan(vector) AS SELECT id FROM sq8_items ORDER BY embedding <-> $1 LIMIT 3;
EXPLAIN (COSTS OFF) EXECUTE sq8_plan(sq8_vec(5, 24));
DEALLOCATE sq8_plan;
PREPARE sq8_plan(vector) AS SELECT id FROM sq8_items ORDER BY embedding <#> $1 LIMIT 3;
EXPLAIN (COSTS OFF) EXECUTE sq8_plan(sq8_vec(5, 24));
DEALLOCATE sq8_plan;
PREPARE sq8_plan(vector) AS SELECT id FROM sq8_items ORDER BY embedding <=> $1 LIMIT 3;
EXPLAIN (COSTS OFF) EXECUTE sq8_plan(sq8_vec(5, 24));
DEALLOCATE sq8_plan;
RESET plan_cache_mode;
RESET enable_seqscan;

SELECT op, q, sq8_same_order(idx, op, v) FROM
	(VALUES ('sq8_l2', '<->'), ('sq8_ip', '<#>')) o(idx, op),
	(VALUES ('row 5', sq8_vec(5, 24)),
			('between clusters', (SELECT avg(embedding) FROM sq8_items)),
			('offset center', sq8_vec(6, 24) + array_fill(0.00001, ARRAY[24])::vector)) q(q, v)
ORDER BY 1, 2;

-- One probe: the stream widens, and lists probed by a widening are read
-- with their float entries at once (the consumer is reading deep).  Rows a
-- widening finds nearer than one already returned are skipped (counted),
-- so check that the stream is in strict (distance, ctid) order and that
-- returned + skipped covers every row.
CREATE FUNCTION sq8_widened(op text, q vector) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	r record;
	prev_d float8;
	prev_t tid;
	n int := 0;
	bad int := 0;
	s record;
BEGIN
	SET LOCAL enable_seqscan = off;
	SET LOCAL enable_bitmapscan = off;
	SET LOCAL vdb.probes = 1;
	FOR r IN EXECUTE format('SELECT ctid AS t, embedding %s $1 AS d FROM sq8_items ORDER BY embedding %s $1', op, op)
		USING q LOOP
		IF prev_d IS NOT NULL AND (r.d < prev_d OR (r.d = prev_d AND r.t <= prev_t)) THEN
			bad := bad + 1;
		END IF;
		prev_d := r.d;
		prev_t := r.t;
		n := n + 1;
	END LOOP;
	SELECT * INTO s FROM vdb_last_scan();
	RETURN format('%s out of order, widened %s, all rows accounted for %s', bad,
				  s.widenings > 0, s.returned = n AND
				  s.returned + s.skipped_for_order = (SELECT count(*) FROM sq8_items));
END $$;
SELECT op, sq8_widened(op, v) FROM
	(VALUES ('<->'), ('<#>')) o(op),
	(VALUES (sq8_vec(5, 24)), (sq8_vec(6, 24) + array_fill(0.00001, ARRAY[24])::vector)) q(v)
ORDER BY 1, 2;

-- Cosine: the index measures normalized vectors, the SQL operator raw ones,
-- so their last bits may differ and exact ties may sort either way: check
-- the order of the distances instead of the ids.
SET enable_seqscan = off;
SET vdb.probes = 8;
SELECT count(*) AS rows,
	count(*) FILTER (WHERE d < prev - 1e-6) AS out_of_order
FROM (SELECT d, lag(d) OVER (ORDER BY n) AS prev
	  FROM (SELECT embedding <=> sq8_vec(5, 24) AS d, row_number() OVER () AS n
			FROM (SELECT embedding FROM sq8_items ORDER BY embedding <=> sq8_vec(5, 24)) s) t) u;
RESET vdb.probes;
RESET enable_seqscan;

-- A LIMIT query returns the exact nearest rows, ties by TID.
SET enable_seqscan = off;
SELECT array_agg(id) = (SELECT array_agg(id) FROM (SELECT id FROM sq8_items
		ORDER BY embedding <-> sq8_vec(9, 24), ctid LIMIT 6) e) AS exact_top6
FROM (SELECT id FROM sq8_items ORDER BY embedding <-> sq8_vec(9, 24) LIMIT 6) s;
RESET enable_seqscan;

-- A format 1 segment next to the format 2 one: rows sealed with
-- vdb.debug_sealed_format = 1 get float posting lists, as 0.1.0 wrote them.
SET vdb.auto_seal = off;
SET vdb.debug_sealed_format = 1;
INSERT INTO sq8_items SELECT i, sq8_vec(i, 24) FROM generate_series(1601, 2400) i;
SELECT vdb_seal('sq8_l2');
RESET vdb.debug_sealed_format;
SELECT state, rows, lists FROM vdb_segments('sq8_l2') ORDER BY segment_id;
SELECT * FROM vdb_check('sq8_l2');
SELECT q, sq8_same_order('sq8_l2', '<->', v) FROM
	(VALUES ('row 5', sq8_vec(5, 24)), ('row 1700', sq8_vec(1700, 24))) q(q, v)
ORDER BY 1;

-- VACUUM removes code entries (format 2) and float entries (format 1);
-- deleted rows never come back, and the checks still hold.
DELETE FROM sq8_items WHERE id % 3 = 0;
VACUUM sq8_items;
SELECT state, rows, dead_rows FROM vdb_segments('sq8_l2') ORDER BY segment_id;
SELECT * FROM vdb_check('sq8_l2');
SELECT * FROM vdb_check('sq8_ip');
SELECT q, sq8_same_order('sq8_l2', '<->', v) FROM
	(VALUES ('row 5', sq8_vec(5, 24)), ('row 1700', sq8_vec(1700, 24))) q(q, v)
ORDER BY 1;
SELECT sq8_same_order('sq8_ip', '<#>', sq8_vec(5, 24));

-- The setting is for superusers (tests) only, and takes formats 1 and 2.
SET vdb.debug_sealed_format = 3;
CREATE ROLE sq8_user;
SET ROLE sq8_user;
SET vdb.debug_sealed_format = 1;
RESET ROLE;
DROP ROLE sq8_user;
RESET vdb.auto_seal;
DROP TABLE sq8_items;
DROP FUNCTION sq8_vec(int, int);
DROP FUNCTION sq8_same_order(text, text, vector);
DROP FUNCTION sq8_widened(text, vector);
