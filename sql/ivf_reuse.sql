-- vdb_ivf: the pages of dropped segments are reclaimed and reused
-- (src/ivf_space.c).  TAP 054 and 070 cover concurrency, standbys and
-- crashes; this is the single-session path, also run under valgrind.
SET client_min_messages = warning;
SET vdb.auto_seal = off;

\i sql/include/ivf.sql

CREATE TABLE ir (id int, v vector(8)) WITH (autovacuum_enabled = off);
CREATE INDEX ir_v ON ir USING vdb_ivf (v) WITH (segment_rows = 1000, lists = 4);
INSERT INTO ir SELECT i, pg_temp.vec(i) FROM generate_series(1, 900) i;
-- The growing segment is frozen and sealed; its chain is dropped.
SELECT vdb_seal('ir_v');
SELECT state, count(*) FROM vdb_segments('ir_v') GROUP BY state ORDER BY state;

-- VACUUM after a later transaction id reclaims it once no snapshot can
-- reach it; retried for a second in case a concurrent snapshot (another
-- database's autovacuum) holds the horizon back.
SELECT txid_current() > 0 AS new_xid;
\set ECHO none
SELECT unnest(ARRAY['VACUUM ir', 'DO $d$BEGIN PERFORM pg_sleep(0.05); END$d$'])
FROM generate_series(1, 20) \gexec
\set ECHO all
SELECT count(*) AS dropped_left FROM vdb_segments('ir_v') WHERE state = 'dropped';
SELECT * FROM vdb_check('ir_v');

-- The next seal writes a new chain and a new run; the freed chain's pages
-- take part of it, so the index grows by less than what was written.
CREATE TEMP TABLE before AS SELECT pg_relation_size('ir_v') / 8192 AS pages;
INSERT INTO ir SELECT i, pg_temp.vec(i) FROM generate_series(901, 1800) i;
SELECT vdb_seal('ir_v');
SELECT pg_relation_size('ir_v') / 8192 - (SELECT pages FROM before)
	< (SELECT sum(pages) FROM vdb_segments('ir_v')
	   WHERE state = 'dropped' OR segment_id = (SELECT max(segment_id) FROM vdb_segments('ir_v')))
	AS grew_less_than_written;
SELECT * FROM vdb_check('ir_v');
SELECT pg_temp.live('ir_v') = (SELECT count(*) FROM ir) AS live_entries_match;

-- Searches probing every list equal the exact result.
CREATE TEMP TABLE qs AS SELECT q, pg_temp.vec(q * 7 + 3) AS x FROM generate_series(1, 5) q;
SET enable_seqscan = off;
SET vdb.probes = 100;
CREATE TEMP TABLE via_index AS
	SELECT q, array_agg(id ORDER BY d, id) AS ids FROM qs,
	LATERAL (SELECT id, v <-> qs.x AS d FROM ir ORDER BY v <-> qs.x LIMIT 10) s GROUP BY q;
SELECT returned > 0 AS index_used FROM vdb_last_scan();
RESET enable_seqscan;
SET enable_indexscan = off;
SELECT count(*) AS mismatches FROM via_index i JOIN qs USING (q),
	LATERAL (SELECT array_agg(id ORDER BY d, id) AS ids FROM (SELECT id, v <-> qs.x AS d
	         FROM ir ORDER BY d, id LIMIT 10) s) e
WHERE i.ids <> e.ids;
RESET enable_indexscan;

-- Delete most rows and VACUUM: the dead entries go, the index stays sound.
DELETE FROM ir WHERE id % 10 <> 0;
VACUUM ir;
SELECT * FROM vdb_check('ir_v');
SELECT pg_temp.live('ir_v') = (SELECT count(*) FROM ir) AS live_entries_match;
DROP TABLE ir;
