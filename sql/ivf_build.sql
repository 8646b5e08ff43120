-- vdb_ivf: CREATE INDEX, options and the errors of a build.
SET client_min_messages = warning;

\i sql/include/err.sql

\i sql/include/ivf.sql

CREATE TABLE ib (id int, v vector(8));

-- Options out of range or unknown are rejected (22023), nothing is created.
SELECT pg_temp.err('CREATE INDEX ib_bad ON ib USING vdb_ivf (v) WITH (segment_rows = 999)');
SELECT pg_temp.err('CREATE INDEX ib_bad ON ib USING vdb_ivf (v) WITH (segment_rows = 10000001)');
SELECT pg_temp.err('CREATE INDEX ib_bad ON ib USING vdb_ivf (v) WITH (segment_rows = ''many'')');
SELECT pg_temp.err('CREATE INDEX ib_bad ON ib USING vdb_ivf (v) WITH (lists = -1)');
SELECT pg_temp.err('CREATE INDEX ib_bad ON ib USING vdb_ivf (v) WITH (lists = 32769)');
SELECT pg_temp.err('CREATE INDEX ib_bad ON ib USING vdb_ivf (v) WITH (probes = 3)');
SELECT count(*) FROM pg_class WHERE relname = 'ib_bad';

-- What vdb_ivf cannot index.
SELECT pg_temp.err('CREATE INDEX ON ib USING vdb_ivf (id)');
SELECT pg_temp.err('CREATE INDEX ON ib USING vdb_ivf (v, v)');
SELECT pg_temp.err('CREATE UNIQUE INDEX ON ib USING vdb_ivf (v)');
CREATE TABLE ib_nodim (v vector);
SELECT pg_temp.err('CREATE INDEX ON ib_nodim USING vdb_ivf (v)');
CREATE TABLE ib_wide (v vector(2001));
SELECT pg_temp.err('CREATE INDEX ON ib_wide USING vdb_ivf (v)');
CREATE TABLE ib_2000 (v vector(2000));
INSERT INTO ib_2000
	SELECT ('[' || array_to_string(array_fill(i::real, ARRAY[2000]), ',') || ']')::vector
	FROM generate_series(1, 3) i;
CREATE INDEX ib_2000_v ON ib_2000 USING vdb_ivf (v);
SELECT count(*) FROM pg_class WHERE relname LIKE 'ib_%' AND relkind = 'i';

-- Too few rows to seal stay in the growing segment.
SELECT state, rows FROM vdb_segments('ib_2000_v');
SELECT * FROM vdb_check('ib_2000_v');

-- An empty table gives a valid index with one empty growing segment.
CREATE INDEX ib_v ON ib USING vdb_ivf (v) WITH (segment_rows = 1000);
SELECT segment_id, state, rows, dead_rows, lists, pages, heap_block_min, heap_block_max,
	sealed_at IS NULL AS not_sealed
FROM vdb_segments('ib_v');
SELECT * FROM vdb_check('ib_v');
DROP INDEX ib_v;

-- A table with data: 2500 rows seal as 1000 + 1500 (the 500 left over are
-- too few for lists of their own and join the last segment); NULLs are not
-- indexed.
INSERT INTO ib SELECT i, pg_temp.vec(i) FROM generate_series(1, 2500) i;
INSERT INTO ib VALUES (0, NULL);
CREATE INDEX ib_v ON ib USING vdb_ivf (v) WITH (segment_rows = 1000);
SELECT segment_id, state, rows, dead_rows, lists, pages > lists AS has_posting_pages,
	heap_block_min <= heap_block_max AS heap_range, sealed_at IS NOT NULL AS sealed
FROM vdb_segments('ib_v') ORDER BY segment_id;
SELECT pg_temp.live('ib_v') = (SELECT count(v) FROM ib) AS all_rows_indexed;
SELECT * FROM vdb_check('ib_v');
DROP INDEX ib_v;

-- 3300 rows: 1000, 1000 and 1300 (a rest smaller than the margin of
-- max(1000, segment_rows / 10) rows joins the last segment).
INSERT INTO ib SELECT i, pg_temp.vec(i) FROM generate_series(2501, 3300) i;
CREATE INDEX ib_v ON ib USING vdb_ivf (v) WITH (segment_rows = 1000, lists = 10);
SELECT segment_id, state, rows, lists FROM vdb_segments('ib_v') ORDER BY segment_id;
SELECT * FROM vdb_check('ib_v');

-- Options are visible in the catalog and cannot be set out of range later.
SELECT reloptions FROM pg_class WHERE relname = 'ib_v';
SELECT pg_temp.err('ALTER INDEX ib_v SET (segment_rows = 5)');

-- REINDEX rebuilds the segments from the table.
INSERT INTO ib SELECT i, pg_temp.vec(i) FROM generate_series(3301, 3400) i;
REINDEX INDEX ib_v;
SELECT segment_id, state, rows, lists FROM vdb_segments('ib_v') ORDER BY segment_id;
SELECT * FROM vdb_check('ib_v');

-- CREATE INDEX CONCURRENTLY and REINDEX CONCURRENTLY build the same
-- segments (their validation pass reads every entry through ambulkdelete
-- and must remove none).
CREATE INDEX CONCURRENTLY ib_v_cic ON ib USING vdb_ivf (v) WITH (segment_rows = 1000);
SELECT state, rows FROM vdb_segments('ib_v_cic') ORDER BY segment_id;
SELECT * FROM vdb_check('ib_v_cic');
REINDEX INDEX CONCURRENTLY ib_v_cic;
SELECT state, rows FROM vdb_segments('ib_v_cic') ORDER BY segment_id;
SELECT * FROM vdb_check('ib_v_cic');
DROP INDEX ib_v_cic;

-- TRUNCATE leaves an empty, valid index that takes new rows.
TRUNCATE ib;
SELECT segment_id, state, rows FROM vdb_segments('ib_v');
INSERT INTO ib SELECT i, pg_temp.vec(i) FROM generate_series(1, 10) i;
SELECT state, rows FROM vdb_segments('ib_v');
SELECT * FROM vdb_check('ib_v');

-- UNLOGGED and TEMP tables.
CREATE UNLOGGED TABLE ib_unlogged (id int, v vector(8));
CREATE INDEX ib_unlogged_v ON ib_unlogged USING vdb_ivf (v) WITH (segment_rows = 1000);
INSERT INTO ib_unlogged SELECT i, pg_temp.vec(i) FROM generate_series(1, 1200) i;
SELECT vdb_seal('ib_unlogged_v');
SELECT state, rows, lists FROM vdb_segments('ib_unlogged_v') ORDER BY segment_id;
SELECT * FROM vdb_check('ib_unlogged_v');
SELECT count(*) AS init_fork_pages FROM pg_relation_size('ib_unlogged_v', 'init') s
	WHERE s = 2 * current_setting('block_size')::int;

CREATE TEMP TABLE ib_temp (id int, v vector(8));
INSERT INTO ib_temp SELECT i, pg_temp.vec(i) FROM generate_series(1, 1500) i;
CREATE INDEX ib_temp_v ON ib_temp USING vdb_ivf (v) WITH (segment_rows = 1000);
INSERT INTO ib_temp SELECT i, pg_temp.vec(i) FROM generate_series(1, 20) i;
SELECT vdb_seal('ib_temp');
SELECT state, rows FROM vdb_segments('ib_temp_v') ORDER BY segment_id;
SELECT * FROM vdb_check('ib_temp_v');

-- Inner product and cosine (spherical k-means).  A zero vector has no
-- cosine distance: the cosine index leaves it out, at build and at insert.
CREATE TABLE ib_k (id int, v vector(8));
INSERT INTO ib_k SELECT i, pg_temp.vec(i) FROM generate_series(1, 1200) i;
INSERT INTO ib_k VALUES (0, '[0,0,0,0,0,0,0,0]');
CREATE INDEX ib_k_ip ON ib_k USING vdb_ivf (v vector_ip_ops) WITH (segment_rows = 1000);
CREATE INDEX ib_k_cos ON ib_k USING vdb_ivf (v vector_cosine_ops) WITH (segment_rows = 1000);
INSERT INTO ib_k VALUES (-1, '[0,0,0,0,0,0,0,0]'), (-2, '[1,0,0,0,0,0,0,0]');
SELECT state, rows, lists FROM vdb_segments('ib_k_ip') ORDER BY segment_id;
SELECT state, rows, lists FROM vdb_segments('ib_k_cos') ORDER BY segment_id;
SELECT vdb_seal('ib_k');
SELECT * FROM vdb_check('ib_k_ip');
SELECT * FROM vdb_check('ib_k_cos');

-- The operator classes check out.
SELECT opcname, opcdefault, amvalidate(oid) FROM pg_opclass
WHERE opcmethod = (SELECT oid FROM pg_am WHERE amname = 'vdb_ivf') ORDER BY 1;

DROP TABLE ib, ib_nodim, ib_wide, ib_2000, ib_unlogged, ib_temp, ib_k;

-- A tiny maintenance_work_mem makes segments smaller, never a failure.
CREATE TABLE ib_mem (id int, v vector(2000));
INSERT INTO ib_mem SELECT i, ('[' || array_to_string(array_fill((i % 7)::real, ARRAY[2000]), ',') || ']')::vector
	FROM generate_series(1, 1200) i;
SET maintenance_work_mem = '1MB';
CREATE INDEX ib_mem_v ON ib_mem USING vdb_ivf (v);
SELECT state, rows FROM vdb_segments('ib_mem_v') ORDER BY segment_id;
SELECT * FROM vdb_check('ib_mem_v');
RESET maintenance_work_mem;
DROP TABLE ib_mem;
