-- vdb_ivf: inserts into the growing segment, freezing, and vdb_seal.
SET client_min_messages = warning;
-- Frozen segments stay frozen here: no background sealer (worker.c).
SET vdb.auto_seal = off;

\i sql/include/err.sql

\i sql/include/ivf.sql

CREATE TABLE ii (id int, v vector(8));
CREATE INDEX ii_v ON ii USING vdb_ivf (v) WITH (segment_rows = 1000);

-- Wrong dimensions never reach the index; NULLs are not indexed.
SELECT pg_temp.err('INSERT INTO ii VALUES (1, ''[1,2,3]'')');
INSERT INTO ii VALUES (0, NULL);
SELECT state, rows FROM vdb_segments('ii_v');

-- Sealing an empty growing segment does nothing.
SELECT vdb_seal('ii_v');

-- 2500 rows: the growing segment freezes at exactly segment_rows rows, and
-- a new one opens, so two segments wait frozen and 500 rows are growing.
INSERT INTO ii SELECT i, pg_temp.vec(i) FROM generate_series(1, 2500) i;
SELECT segment_id, state, rows, dead_rows, lists, heap_block_min <= heap_block_max AS heap_range
FROM vdb_segments('ii_v') ORDER BY segment_id;
SELECT * FROM vdb_check('ii_v');

-- A rolled-back insert leaves entries that point at dead tuples: still sound.
BEGIN;
INSERT INTO ii SELECT i, pg_temp.vec(i) FROM generate_series(1, 10) i;
ROLLBACK;
SELECT * FROM vdb_check('ii_v');

-- vdb_seal freezes the growing segment and seals all three; the old chains
-- are dropped, and a new empty growing segment takes later inserts.
SELECT vdb_seal('ii_v');
SELECT segment_id, state, rows, dead_rows, lists, sealed_at IS NOT NULL AS sealed
FROM vdb_segments('ii_v') ORDER BY segment_id;
SELECT pg_temp.live('ii_v') - 10 = (SELECT count(v) FROM ii) AS all_rows_indexed;
SELECT * FROM vdb_check('ii_v');

-- Rows inserted after a seal get an interim assignment (checked by
-- vdb_check against the newest sealed segment's lists).
INSERT INTO ii SELECT i, pg_temp.vec(i) FROM generate_series(2501, 2800) i;
SELECT segment_id, state, rows FROM vdb_segments('ii_v') WHERE state = 'growing';
SELECT * FROM vdb_check('ii_v');

-- UPDATE adds a new entry for the new row version.
UPDATE ii SET v = pg_temp.vec(id + 1) WHERE id <= 5;
SELECT rows FROM vdb_segments('ii_v') WHERE state = 'growing';
SELECT * FROM vdb_check('ii_v');

-- vdb_seal on a table seals each of its vdb_ivf indexes.
CREATE INDEX ii_v2 ON ii USING vdb_ivf (v) WITH (segment_rows = 1000);
CREATE INDEX ii_id ON ii (id);
INSERT INTO ii SELECT i, pg_temp.vec(i) FROM generate_series(2801, 2850) i;
SELECT vdb_seal('ii');
SELECT count(*) FILTER (WHERE state = 'growing' AND rows = 0) AS empty_growing,
	count(*) FILTER (WHERE state = 'frozen') AS frozen
FROM (SELECT * FROM vdb_segments('ii_v') UNION ALL SELECT * FROM vdb_segments('ii_v2')) s;
SELECT * FROM vdb_check('ii_v');
SELECT * FROM vdb_check('ii_v2');

-- Large vectors: 2000 dimensions fit, one entry per page.
CREATE TABLE ii_wide (id int, v vector(2000));
CREATE INDEX ii_wide_v ON ii_wide USING vdb_ivf (v) WITH (segment_rows = 1000);
INSERT INTO ii_wide SELECT i, pg_temp.vec(i, 2000) FROM generate_series(1, 30) i;
SELECT state, rows, pages FROM vdb_segments('ii_wide_v');
SELECT vdb_seal('ii_wide_v');
SELECT state, rows, lists FROM vdb_segments('ii_wide_v') ORDER BY segment_id;
SELECT * FROM vdb_check('ii_wide_v');

DROP TABLE ii, ii_wide;

-- The directory has 126 slots.  When it is full, the oldest dropped
-- segments are forgotten to make room; once only live segments remain, a
-- freeze fails with a hint, and the index is left as it was.
CREATE TABLE ii_many (v vector(2));
CREATE INDEX ii_many_v ON ii_many USING vdb_ivf (v);
DO $$
BEGIN
	FOR i IN 1..100 LOOP
		INSERT INTO ii_many VALUES (('[' || i || ',1]')::vector);
		PERFORM vdb_seal('ii_many_v');
	END LOOP;
END $$;
SELECT state, count(*), min(segment_id), max(segment_id)
FROM vdb_segments('ii_many_v') GROUP BY 1 ORDER BY 1;
DO $$
BEGIN
	FOR i IN 101..125 LOOP
		INSERT INTO ii_many VALUES (('[' || i || ',1]')::vector);
		PERFORM vdb_seal('ii_many_v');
	END LOOP;
END $$;
INSERT INTO ii_many VALUES ('[126,1]');
SELECT pg_temp.err('SELECT vdb_seal(''ii_many_v'')');
SELECT state, count(*), sum(rows) FROM vdb_segments('ii_many_v') GROUP BY 1 ORDER BY 1;
SELECT * FROM vdb_check('ii_many_v');
DROP TABLE ii_many;
