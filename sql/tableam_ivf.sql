-- vdb_ivf on a vdb table: build, CONCURRENTLY, REINDEX, queries through the
-- index and vdb_check, and the heap block range vdb_segments reports.
SET vdb.auto_seal = off;
CREATE TABLE tv (id int PRIMARY KEY, v vector(4)) USING vdb WITH (autovacuum_enabled = off);
INSERT INTO tv SELECT i, ARRAY[i % 17, i % 13, i % 7, i % 5]::real[]::vector
  FROM generate_series(1, 3000) i;
CREATE INDEX tv_v ON tv USING vdb_ivf (v) WITH (segment_rows = 1000);
CREATE INDEX CONCURRENTLY tv_v2 ON tv USING vdb_ivf (v vector_cosine_ops) WITH (segment_rows = 1000);
SELECT count(*) AS problems FROM vdb_check('tv_v');
SELECT count(*) AS problems FROM vdb_check('tv_v2');
SELECT state, sum(rows) AS rows FROM vdb_segments('tv_v') GROUP BY state ORDER BY state;
-- Segments follow insertion order, and in a vdb table so does the heap.
SELECT bool_and(heap_block_min <= heap_block_max) AS ranges_ok,
       max(heap_block_max) < pg_relation_size('tv') / 8192 AS within_table
  FROM vdb_segments('tv_v') WHERE state = 'sealed';

-- More rows, an update and a delete, then the index answers like a seq scan
-- when every list is probed.
INSERT INTO tv SELECT i, ARRAY[i % 11, i % 3, i % 19, 1]::real[]::vector
  FROM generate_series(3001, 3500) i;
UPDATE tv SET v = '[100,100,100,100]' WHERE id = 42;
DELETE FROM tv WHERE id % 10 = 0;
SET vdb.probes = 32768;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM tv ORDER BY v <-> '[3,4,5,1]' LIMIT 50;
CREATE TEMP TABLE by_index AS
  SELECT row_number() OVER () AS n, d FROM (
    SELECT v <-> '[3,4,5,1]' AS d FROM tv ORDER BY v <-> '[3,4,5,1]' LIMIT 50) s;
SELECT returned >= 50 AS streamed FROM vdb_last_scan();
-- The updated row is found through the index at its new place.
SELECT id FROM tv ORDER BY v <-> '[100,100,100,100]' LIMIT 1;
RESET enable_seqscan;
SET enable_indexscan = off;
-- Same distances, in the same order, as the exact answer (ties may pick
-- different rows, so compare distances).
SELECT count(*) AS differences FROM (
  SELECT row_number() OVER () AS n, d FROM (
    SELECT v <-> '[3,4,5,1]' AS d FROM tv ORDER BY v <-> '[3,4,5,1]' LIMIT 50) s
  EXCEPT SELECT n, d FROM by_index) x;
RESET enable_indexscan;

REINDEX INDEX CONCURRENTLY tv_v;
VACUUM tv;
SELECT count(*) AS problems FROM vdb_check('tv_v');
SELECT count(*) AS problems FROM vdb_check('tv_v2');
DROP TABLE tv;
