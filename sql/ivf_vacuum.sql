-- vdb_ivf: VACUUM removes dead entries from growing, frozen and sealed
-- segments.
SET client_min_messages = warning;
-- Frozen segments stay frozen here: no background sealer (worker.c).
SET vdb.auto_seal = off;

\i sql/include/ivf.sql

CREATE TABLE iv (id int, v vector(8)) WITH (autovacuum_enabled = off);
INSERT INTO iv SELECT i, pg_temp.vec(i) FROM generate_series(1, 1500) i;
CREATE INDEX iv_v ON iv USING vdb_ivf (v) WITH (segment_rows = 1000);
-- 1500 sealed at build; 1200 more: one frozen segment of 1000, 200 growing.
INSERT INTO iv SELECT i, pg_temp.vec(i) FROM generate_series(1501, 2700) i;
SELECT segment_id, state, rows, dead_rows FROM vdb_segments('iv_v') ORDER BY segment_id;

-- Delete a third of the rows, everywhere.
DELETE FROM iv WHERE id % 3 = 0;
SELECT * FROM vdb_check('iv_v');
VACUUM iv;
SELECT segment_id, state, rows, dead_rows FROM vdb_segments('iv_v') ORDER BY segment_id;
SELECT pg_temp.live('iv_v') = (SELECT count(*) FROM iv) AS live_entries_match;
SELECT * FROM vdb_check('iv_v');

-- Sealing after VACUUM seals only the live entries.
SELECT vdb_seal('iv_v');
SELECT segment_id, state, rows, dead_rows FROM vdb_segments('iv_v') ORDER BY segment_id;
SELECT * FROM vdb_check('iv_v');

-- VACUUM that skips index cleanup leaves entries of pruned rows: sound
-- until the next VACUUM removes them.
DELETE FROM iv WHERE id % 3 = 1;
VACUUM (INDEX_CLEANUP off) iv;
SELECT * FROM vdb_check('iv_v');
VACUUM iv;
SELECT pg_temp.live('iv_v') = (SELECT count(*) FROM iv) AS live_entries_match;
SELECT * FROM vdb_check('iv_v');

-- The index's size reaches pg_class.
SELECT reltuples = (SELECT count(*) FROM iv) AS reltuples_exact FROM pg_class WHERE relname = 'iv_v';

-- Deleting everything empties every segment.
DELETE FROM iv;
VACUUM iv;
SELECT state, rows - dead_rows AS live FROM vdb_segments('iv_v') WHERE state <> 'dropped' ORDER BY segment_id;
SELECT * FROM vdb_check('iv_v');

-- VACUUM FULL rebuilds the index.
INSERT INTO iv SELECT i, pg_temp.vec(i) FROM generate_series(1, 1200) i;
VACUUM FULL iv;
SELECT state, rows, dead_rows FROM vdb_segments('iv_v') ORDER BY segment_id;
SELECT * FROM vdb_check('iv_v');

DROP TABLE iv;
