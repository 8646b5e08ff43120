-- The vdb table access method: heap tuples, so every SQL feature below must
-- behave exactly as on heap.  Placement is tested in tableam_placement.
SET client_min_messages = warning;

SELECT amname, amtype, amhandler::text FROM pg_am WHERE amname = 'vdb';

CREATE FUNCTION tam_am(regclass) RETURNS name LANGUAGE sql STABLE AS
$$ SELECT a.amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam WHERE c.oid = $1 $$;

CREATE TABLE tam_items (id int PRIMARY KEY, embedding vector(3), note text)
	USING vdb WITH (autovacuum_enabled = false);
SELECT tam_am('tam_items');
-- the TOAST table is a plain heap table (a vdb one could not build its index)
SELECT tam_am(reltoastrelid) AS toast_am FROM pg_class WHERE oid = 'tam_items'::regclass;

-- INSERT and COPY
INSERT INTO tam_items SELECT g, format('[%s,%s,%s]', g, g * 2, g % 7)::vector, 'row ' || g
	FROM generate_series(1, 500) g;
COPY tam_items (id, embedding, note) FROM stdin;
501	[1,1,1]	copied one
502	[2,2,2]	copied two
503	[3,3,3]	\N
\.
SELECT count(*), sum(id), count(note) FROM tam_items;
SELECT id, embedding, note FROM tam_items WHERE id IN (1, 250, 502) ORDER BY id;
SELECT id, embedding <-> '[0,0,0]' AS dist FROM tam_items ORDER BY dist, id LIMIT 3;

-- INSERT ... ON CONFLICT, both forms, and a unique violation
INSERT INTO tam_items VALUES (1, '[9,9,9]', 'upserted'), (504, '[4,4,4]', 'new')
	ON CONFLICT (id) DO UPDATE SET embedding = excluded.embedding, note = excluded.note;
INSERT INTO tam_items VALUES (2, '[0,0,0]', 'ignored') ON CONFLICT DO NOTHING;
INSERT INTO tam_items VALUES (3, '[0,0,0]', 'duplicate');
SELECT id, embedding, note FROM tam_items WHERE id IN (1, 2, 504) ORDER BY id;

-- UPDATE and DELETE
UPDATE tam_items SET note = 'updated' WHERE id % 100 = 0;
DELETE FROM tam_items WHERE id > 490 AND id <= 500;
SELECT count(*), count(*) FILTER (WHERE note = 'updated') AS updated FROM tam_items;

-- SELECT FOR UPDATE locks the row: its xmax becomes our transaction
BEGIN;
SELECT id, note FROM tam_items WHERE id = 7 FOR UPDATE;
SELECT xmax::text = pg_current_xact_id()::text AS locked_by_us FROM tam_items WHERE id = 7;
SELECT id FROM tam_items WHERE id = 8 FOR SHARE;
COMMIT;

-- TOAST-sized values: a long text and a 1,000-dimension vector
CREATE TABLE tam_toast (id int, embedding vector, note text) USING vdb;
INSERT INTO tam_toast
	SELECT 1, (SELECT '[' || string_agg((k % 13)::text, ',') || ']' FROM generate_series(1, 1000) k)::vector,
		   string_agg(md5(k::text), '') FROM generate_series(1, 3000) k;
SELECT length(note),
	   note = (SELECT string_agg(md5(k::text), '') FROM generate_series(1, 3000) k) AS text_intact,
	   embedding::text = (SELECT '[' || string_agg((k % 13)::text, ',') || ']' FROM generate_series(1, 1000) k) AS vector_intact,
	   embedding <-> embedding AS self_distance
	FROM tam_toast;
SELECT pg_relation_size(reltoastrelid) > 0 AS toast_used FROM pg_class WHERE oid = 'tam_toast'::regclass;
UPDATE tam_toast SET note = note || 'x';
SELECT length(note) FROM tam_toast;
DELETE FROM tam_toast;
VACUUM tam_toast;
SELECT count(*) FROM tam_toast;

-- CREATE INDEX (plain, expression, partial, unique), CONCURRENTLY, REINDEX
CREATE INDEX tam_items_note ON tam_items (note);
CREATE INDEX tam_items_expr ON tam_items ((id % 10));
CREATE INDEX tam_items_part ON tam_items (id) WHERE note = 'updated';
CREATE INDEX CONCURRENTLY tam_items_conc ON tam_items (id, note);
CREATE UNIQUE INDEX CONCURRENTLY tam_items_uniq ON tam_items ((id * 2));
SELECT indexrelid::regclass, indisvalid, indisready FROM pg_index
	WHERE indrelid = 'tam_items'::regclass ORDER BY indexrelid::regclass::text;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM tam_items WHERE note = 'row 42';
SELECT id FROM tam_items WHERE note = 'row 42';
SELECT count(*) FROM tam_items WHERE id % 10 = 3;
SELECT count(*) FROM tam_items WHERE note = 'updated' AND id > 0;
RESET enable_seqscan;
RESET enable_bitmapscan;
REINDEX TABLE tam_items;
REINDEX TABLE CONCURRENTLY tam_items;
SELECT count(*) FROM pg_index WHERE indrelid = 'tam_items'::regclass AND indisvalid;

-- a parallel index build: workers run the build scan too
SET max_parallel_maintenance_workers = 2;
SET min_parallel_table_scan_size = 0;
SET maintenance_work_mem = '64MB';
CREATE INDEX tam_items_par ON tam_items (note, id);
RESET max_parallel_maintenance_workers;
RESET min_parallel_table_scan_size;
RESET maintenance_work_mem;
SET enable_seqscan = off;
SELECT count(*) FROM tam_items WHERE note > 'row 3';
RESET enable_seqscan;
SELECT count(*) FROM tam_items WHERE note > 'row 3';

-- every kind of index builds through the same scan: hash, GiST, SP-GiST,
-- GIN, BRIN (whose summarization scans block ranges) and contrib's bloom
CREATE TABLE tam_kinds (id int, pos point, tags int[], label text) USING vdb;
INSERT INTO tam_kinds SELECT g, point(g % 37, g % 41), ARRAY[g % 5, g % 7], 'label ' || (g % 13)
	FROM generate_series(1, 2000) g;
CREATE INDEX tam_kinds_hash ON tam_kinds USING hash (label);
CREATE INDEX tam_kinds_gist ON tam_kinds USING gist (pos);
CREATE INDEX tam_kinds_spgist ON tam_kinds USING spgist (pos);
CREATE INDEX tam_kinds_gin ON tam_kinds USING gin (tags);
CREATE INDEX tam_kinds_brin ON tam_kinds USING brin (id) WITH (pages_per_range = 1);
CREATE EXTENSION bloom;
CREATE INDEX tam_kinds_bloom ON tam_kinds USING bloom (id, label);
INSERT INTO tam_kinds SELECT g, point(0, 0), ARRAY[99], 'late' FROM generate_series(2001, 2600) g;
SELECT brin_summarize_new_values('tam_kinds_brin') > 0 AS summarized;
SET enable_seqscan = off;
SELECT count(*) FROM tam_kinds WHERE label = 'label 3';
SELECT count(*) FROM tam_kinds WHERE pos <@ box '((0,0),(3,3))';
SELECT count(*) FROM tam_kinds WHERE tags @> ARRAY[4, 6];
SELECT count(*) FROM tam_kinds WHERE id BETWEEN 2400 AND 2499;
SELECT count(*) FROM tam_kinds WHERE id = 77 AND label = 'label 12';
RESET enable_seqscan;
SELECT count(*) FILTER (WHERE label = 'label 3') AS hash,
	   count(*) FILTER (WHERE pos <@ box '((0,0),(3,3))') AS gist,
	   count(*) FILTER (WHERE tags @> ARRAY[4, 6]) AS gin,
	   count(*) FILTER (WHERE id BETWEEN 2400 AND 2499) AS brin,
	   count(*) FILTER (WHERE id = 77 AND label = 'label 12') AS bloom
	FROM tam_kinds;
DROP TABLE tam_kinds;
DROP EXTENSION bloom;

-- parallel sequential scans
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT count(*) FROM tam_items WHERE note LIKE 'row%';
SELECT count(*) FROM tam_items WHERE note LIKE 'row%';
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
SELECT count(*) FROM tam_items WHERE note LIKE 'row%';

-- COPY FREEZE into a table truncated in the same transaction
CREATE TABLE tam_frozen (id int) USING vdb;
BEGIN;
TRUNCATE tam_frozen;
COPY tam_frozen FROM stdin WITH (FREEZE);
1
2
3
\.
COMMIT;
SELECT id FROM tam_frozen ORDER BY id;
CREATE EXTENSION pg_visibility;
SELECT blkno, all_visible, all_frozen FROM pg_visibility_map('tam_frozen');
DROP EXTENSION pg_visibility;
DROP TABLE tam_frozen;

-- VACUUM and ANALYZE
DELETE FROM tam_items WHERE id BETWEEN 100 AND 199;
VACUUM tam_items;
VACUUM (FREEZE, ANALYZE) tam_items;
SELECT reltuples = (SELECT count(*) FROM tam_items) AS reltuples_exact
	FROM pg_class WHERE oid = 'tam_items'::regclass;
SELECT count(*) > 0 AS has_stats FROM pg_stats WHERE tablename = 'tam_items';

-- CLUSTER and VACUUM FULL rewrite the table and keep it vdb
CREATE TEMP TABLE tam_before AS SELECT id, embedding::text AS e, note FROM tam_items;
CLUSTER tam_items USING tam_items_pkey;
SELECT tam_am('tam_items'), count(*) FROM tam_items;
VACUUM FULL tam_items;
SELECT tam_am('tam_items'),
	   (SELECT count(*) FROM (SELECT id, embedding::text, note FROM tam_items
							  EXCEPT SELECT * FROM tam_before) d) AS changed_rows,
	   (SELECT count(*) FROM tam_items) = (SELECT count(*) FROM tam_before) AS same_count;

-- ALTER TABLE ... SET ACCESS METHOD, both directions, rows intact
ALTER TABLE tam_items SET ACCESS METHOD heap;
SELECT tam_am('tam_items'), count(*) FROM tam_items;
ALTER TABLE tam_items SET ACCESS METHOD vdb;
SELECT tam_am('tam_items'),
	   (SELECT count(*) FROM (SELECT id, embedding::text, note FROM tam_items
							  EXCEPT SELECT * FROM tam_before) d) AS changed_rows;
INSERT INTO tam_items VALUES (2000, '[1,2,3]', 'after rewrite');
SELECT id, note FROM tam_items WHERE id = 2000;

-- TRUNCATE empties the table; it stays usable
TRUNCATE tam_items;
SELECT count(*), pg_relation_size('tam_items') AS size FROM tam_items;
INSERT INTO tam_items VALUES (1, '[1,1,1]', 'again');
SELECT id, note FROM tam_items;

-- partitions: leaves may be vdb, a partitioned parent may not have an AM
CREATE TABLE tam_parted (id int, embedding vector(2)) PARTITION BY RANGE (id) USING vdb;
CREATE TABLE tam_parted (id int, embedding vector(2)) PARTITION BY RANGE (id);
CREATE TABLE tam_parted_1 PARTITION OF tam_parted FOR VALUES FROM (0) TO (100) USING vdb;
CREATE TABLE tam_parted_2 PARTITION OF tam_parted FOR VALUES FROM (100) TO (200) USING vdb;
CREATE TABLE tam_parted_3 PARTITION OF tam_parted FOR VALUES FROM (200) TO (300);
INSERT INTO tam_parted SELECT g, format('[%s,1]', g)::vector FROM generate_series(0, 299) g;
COPY tam_parted FROM stdin;
50	[5,5]
150	[15,15]
\.
SELECT tableoid::regclass, tam_am(tableoid), count(*) FROM tam_parted GROUP BY 1 ORDER BY tableoid::regclass::text;
ALTER TABLE tam_parted SET ACCESS METHOD vdb;
ALTER TABLE tam_parted_3 SET ACCESS METHOD vdb;
SELECT tam_am('tam_parted_3');

-- UNLOGGED and TEMP tables
CREATE UNLOGGED TABLE tam_unlogged (id int, embedding vector(2)) USING vdb;
INSERT INTO tam_unlogged SELECT g, '[1,2]' FROM generate_series(1, 100) g;
CREATE INDEX ON tam_unlogged (id);
SELECT relpersistence, tam_am(oid) FROM pg_class WHERE oid = 'tam_unlogged'::regclass;
SELECT count(*) FROM tam_unlogged WHERE id <= 10;
CREATE TEMP TABLE tam_temp (id int) USING vdb;
INSERT INTO tam_temp SELECT generate_series(1, 10);
CREATE INDEX ON tam_temp (id);
SELECT relpersistence, tam_am(oid), (SELECT sum(id) FROM tam_temp) FROM pg_class WHERE oid = 'tam_temp'::regclass;

-- default_table_access_method, CREATE TABLE AS, materialized views
SET default_table_access_method = vdb;
CREATE TABLE tam_default (id int);
CREATE TABLE tam_ctas AS SELECT g AS id FROM generate_series(1, 50) g;
CREATE MATERIALIZED VIEW tam_mv AS SELECT id FROM tam_ctas WHERE id % 2 = 0;
RESET default_table_access_method;
SELECT tam_am('tam_default'), tam_am('tam_ctas'), tam_am('tam_mv');
INSERT INTO tam_ctas SELECT generate_series(51, 60);
REFRESH MATERIALIZED VIEW tam_mv;
SELECT count(*) FROM tam_mv;

DROP TABLE tam_items, tam_toast, tam_parted, tam_unlogged, tam_temp, tam_default, tam_ctas CASCADE;
DROP FUNCTION tam_am(regclass);
