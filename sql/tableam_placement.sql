-- Placement in vdb tables: INSERT and COPY go to the tail or to a page with
-- at least vdb.reuse_free_fraction free, never into small holes; UPDATE is
-- heap's.  Each check runs the same statements on a heap table beside it, so
-- the difference the AM makes is visible.
SET client_min_messages = warning;

CREATE FUNCTION tam_blk(tid) RETURNS int LANGUAGE sql IMMUTABLE AS
$$ SELECT ($1::text::point)[0]::int $$;
-- COPY from a server file, so that COPY's multi-insert path is exercised
CREATE PROCEDURE tam_copy(tab regclass, first int, last int) LANGUAGE plpgsql AS $$
DECLARE
	f text := current_setting('data_directory') || '/tam_placement.csv';
BEGIN
	EXECUTE format('COPY (SELECT g, %L FROM generate_series(%s, %s) g) TO %L',
				   '[1,2,3]', first, last, f);
	EXECUTE format('COPY %s FROM %L', tab, f);
END $$;

-- the setting (it exists once the library is loaded, as for any extension)
LOAD 'vdb';
SHOW vdb.reuse_free_fraction;
SET vdb.reuse_free_fraction = 1.5;
SET vdb.reuse_free_fraction = -0.1;
SET vdb.reuse_free_fraction = 'half';
SHOW vdb.reuse_free_fraction;

CREATE TABLE tam_ph (id int, embedding vector(3)) USING heap WITH (autovacuum_enabled = false);
CREATE TABLE tam_pv (id int, embedding vector(3)) USING vdb WITH (autovacuum_enabled = false);
INSERT INTO tam_ph SELECT g, '[1,2,3]' FROM generate_series(1, 6000) g;
INSERT INTO tam_pv SELECT g, '[1,2,3]' FROM generate_series(1, 6000) g;
SELECT pg_relation_size('tam_pv') / 8192 AS era1_blocks \gset
SELECT :era1_blocks > 30 AS big_enough, pg_relation_size('tam_ph') / 8192 = :era1_blocks AS same_as_heap;

-- Small holes: every fifth row deleted leaves each page about 20% free.
DELETE FROM tam_ph WHERE id % 5 = 0;
DELETE FROM tam_pv WHERE id % 5 = 0;
VACUUM tam_ph;
VACUUM tam_pv;

-- Era 2 by INSERT: heap fills the holes, vdb appends after era 1.
INSERT INTO tam_ph SELECT g, '[1,2,3]' FROM generate_series(6001, 6500) g;
INSERT INTO tam_pv SELECT g, '[1,2,3]' FROM generate_series(6001, 6500) g;
SELECT 'heap' AS am, count(*) FILTER (WHERE tam_blk(ctid) < :era1_blocks - 1) AS rows_in_old_pages
	FROM tam_ph WHERE id > 6000
UNION ALL
SELECT 'vdb', count(*) FILTER (WHERE tam_blk(ctid) < :era1_blocks - 1)
	FROM tam_pv WHERE id > 6000;
-- and era 2 is one contiguous block range
SELECT max(tam_blk(ctid)) - min(tam_blk(ctid)) + 1 = count(DISTINCT tam_blk(ctid)) AS contiguous
	FROM tam_pv WHERE id > 6000;

-- Era 3 by COPY, from a new session: the same.
\c
CALL tam_copy('tam_ph', 6501, 7000);
CALL tam_copy('tam_pv', 6501, 7000);
SELECT 'heap' AS am, count(*) FILTER (WHERE tam_blk(ctid) < :era1_blocks - 1) AS rows_in_old_pages
	FROM tam_ph WHERE id > 6500
UNION ALL
SELECT 'vdb', count(*) FILTER (WHERE tam_blk(ctid) < :era1_blocks - 1)
	FROM tam_pv WHERE id > 6500;
SELECT min(tam_blk(ctid)) >= (SELECT max(tam_blk(ctid)) FROM tam_pv WHERE id BETWEEN 6001 AND 6500) AS after_era2,
	   max(tam_blk(ctid)) - min(tam_blk(ctid)) + 1 = count(DISTINCT tam_blk(ctid)) AS contiguous
	FROM tam_pv WHERE id > 6500;

-- The setting decides what a small hole is: with 0 any hole a row fits in
-- is reused, as heap does.
SET vdb.reuse_free_fraction = 0;
INSERT INTO tam_pv SELECT g, '[1,2,3]' FROM generate_series(7001, 7100) g;
SELECT count(*) FILTER (WHERE tam_blk(ctid) < :era1_blocks - 1) > 0 AS holes_reused
	FROM tam_pv WHERE id > 7000;
RESET vdb.reuse_free_fraction;

-- Large holes: the oldest 2000 rows deleted empties the first pages, which
-- new rows then refill in order, by INSERT and by COPY.
DELETE FROM tam_pv WHERE id <= 2000;
VACUUM tam_pv;
SELECT max(tam_blk(ctid)) AS freed_below FROM tam_pv WHERE id <= 2001 \gset
SELECT min(tam_blk(ctid)) AS lowest_live FROM tam_pv \gset
INSERT INTO tam_pv SELECT g, '[1,2,3]' FROM generate_series(8001, 8500) g;
CALL tam_copy('tam_pv', 8501, 9000);
SELECT count(*) AS new_rows,
	   count(*) FILTER (WHERE tam_blk(ctid) <= :freed_below) AS in_freed_pages,
	   max(tam_blk(ctid)) - min(tam_blk(ctid)) + 1 = count(DISTINCT tam_blk(ctid)) AS contiguous
	FROM tam_pv WHERE id > 8000;
SELECT pg_relation_size('tam_pv') / 8192 AS blocks_after_reuse \gset
SELECT :blocks_after_reuse < :era1_blocks + 10 AS table_did_not_grow_much;

-- UPDATE is heap's: the new version stays on its page when it fits (HOT when
-- no indexed column changes); otherwise heap takes any page the free space
-- map offers, small holes included, which INSERT would not.  Rows of 936
-- bytes: eight fill a page, a page with one row gone is 19% free.
CREATE TABLE tam_upd (id int, pad text) USING vdb WITH (autovacuum_enabled = false);
ALTER TABLE tam_upd ALTER COLUMN pad SET STORAGE PLAIN;
CREATE INDEX ON tam_upd (id);
INSERT INTO tam_upd SELECT g, repeat('a', 900) FROM generate_series(1, 240) g;
SELECT pg_relation_size('tam_upd') / 8192 AS blocks, count(*) / count(DISTINCT tam_blk(ctid)) AS rows_per_page
	FROM tam_upd;
DELETE FROM tam_upd WHERE id IN (2, 3);
VACUUM tam_upd;
-- a row on a full page grows out of it: heap moves it into the hole in block 0
SELECT tam_blk(ctid) AS old_block FROM tam_upd WHERE id = 235;
UPDATE tam_upd SET pad = repeat('b', 900) WHERE id = 235;
SELECT tam_blk(ctid) AS new_block FROM tam_upd WHERE id = 235;
-- a same-page update of a non-indexed column is HOT
SELECT tam_blk(ctid) AS block FROM tam_upd WHERE id = 9 \gset
DELETE FROM tam_upd WHERE id = 10;
BEGIN;
UPDATE tam_upd SET pad = repeat('c', 900) WHERE id = 9;
SELECT tam_blk(ctid) = :block AS same_page,
	   pg_stat_get_xact_tuples_hot_updated('tam_upd'::regclass) AS hot_updates
	FROM tam_upd WHERE id = 9;
COMMIT;
-- but an INSERT of the same size does not take block 0's remaining hole
INSERT INTO tam_upd VALUES (241, repeat('d', 900));
SELECT tam_blk(ctid) AS insert_block, tam_blk(ctid) >= 29 AS at_tail FROM tam_upd WHERE id = 241;

DROP TABLE tam_ph, tam_pv, tam_upd;
DROP PROCEDURE tam_copy(regclass, int, int);
DROP FUNCTION tam_blk(tid);
