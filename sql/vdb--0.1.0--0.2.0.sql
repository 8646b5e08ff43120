-- vdb 0.1.0 -> 0.2.0 (ALTER EXTENSION vdb UPDATE TO '0.2.0')
--
-- Written by hand: the result must equal a fresh install of 0.2.0
-- (sql/install/*.sql), which test/t/064_upgrade.pl checks object by object.
-- The C library is the same for both versions.
\echo Use "ALTER EXTENSION vdb UPDATE TO '0.2.0'" to load this file. \quit

-- 60_stats.sql: the sealer's last error, and vdb_stats columns showing it
-- (added at the end, as CREATE OR REPLACE VIEW requires; the grant to
-- PUBLIC is kept).

-- The background sealer's last error per index (src/worker_error.c): when a
-- seal or merge fails, the sealer writes the error here in a transaction of
-- its own; its next successful seal or merge of the index deletes the row.
-- A row names its index by OID and relfilenode, so one left from before the
-- index was dropped or rebuilt (REINDEX, TRUNCATE, VACUUM FULL) no longer
-- matches: vdb_stats ignores it and the next error recorded deletes it.
-- Only the extension's owner can read the table; everyone else reads it
-- through vdb_stats, for the tables they may SELECT from.  pg_dump leaves
-- its rows out (an extension's tables are dumped only when marked with
-- pg_extension_config_dump): they name OIDs a restore would not keep.
CREATE TABLE vdb_sealer_last_error (
	indexrelid oid PRIMARY KEY,
	relfilenode oid NOT NULL,
	failed_at timestamptz NOT NULL,
	sqlstate text NOT NULL,
	message text NOT NULL,
	detail text,
	activity text NOT NULL
);
COMMENT ON TABLE vdb_sealer_last_error IS
	'the background sealer''s last error per vdb_ivf index, until its next successful seal or merge (read it through vdb_stats)';

-- One row per vdb_ivf index on a table the current user may SELECT from:
-- its segments by state, rows waiting to be sealed, sealed and dead rows,
-- its size, the background sealer working on it now, if any, and the
-- sealer's last error if its last seal or merge of the index failed.  A
-- segment being sealed ('sealing' in vdb_segments) counts as frozen, and
-- one being merged ('merging') as sealed.
--
-- vdb_segments() is STRICT and is handed NULL for anything but a vdb_ivf
-- index on a table the user can read, so it is never called (and never
-- raises) for one, whatever order the planner evaluates joins and filters
-- in.  Other sessions' temporary indexes are skipped (their pages live in
-- local buffers nobody else can read), and so are unlogged indexes on a
-- standby (they have no main fork there).
--
-- A sealer holds, for as long as it works on an index, a session advisory
-- lock with the key (database, index OID, 2, 0x7664) (src/worker.c,
-- SetIndexTag); pg_locks shows those fields as database, classid, objid
-- and objsubid.  A backend launching a sealer holds the same lock for an
-- instant to test it, so only a holder that is a sealer counts.  pg_locks
-- needs no privilege; pg_stat_activity hides backend_type from users
-- without pg_read_all_stats but shows everyone application_name, which a
-- sealer sets to 'vdb sealer' too.
CREATE OR REPLACE VIEW vdb_stats AS
SELECT
	i.oid::regclass AS index_name,
	t.oid::regclass AS table_name,
	s.growing_segments,
	s.frozen_segments,
	s.sealed_segments,
	s.dropped_segments,
	s.rows_to_seal,
	s.sealed_rows,
	s.dead_rows,
	pg_relation_size(i.oid) AS index_size,
	w.pid IS NOT NULL AS sealer_running,
	w.pid AS sealer_pid,
	e.failed_at AS last_error_at,
	e.sqlstate AS last_error_sqlstate,
	e.message AS last_error_message,
	e.detail AS last_error_detail,
	e.activity AS last_error_activity
FROM pg_class i
JOIN pg_am am ON am.oid = i.relam AND am.amname = 'vdb_ivf' AND i.relkind = 'i'
JOIN pg_index x ON x.indexrelid = i.oid
JOIN pg_class t ON t.oid = x.indrelid
CROSS JOIN LATERAL (
	SELECT
		count(*) FILTER (WHERE g.state = 'growing') AS growing_segments,
		count(*) FILTER (WHERE g.state IN ('frozen', 'sealing')) AS frozen_segments,
		count(*) FILTER (WHERE g.state IN ('sealed', 'merging')) AS sealed_segments,
		count(*) FILTER (WHERE g.state = 'dropped') AS dropped_segments,
		coalesce(sum(g.rows - g.dead_rows)
				 FILTER (WHERE g.state IN ('growing', 'frozen', 'sealing')), 0)::bigint AS rows_to_seal,
		coalesce(sum(g.rows - g.dead_rows)
				 FILTER (WHERE g.state IN ('sealed', 'merging')), 0)::bigint AS sealed_rows,
		coalesce(sum(g.dead_rows)
				 FILTER (WHERE g.state <> 'dropped'), 0)::bigint AS dead_rows
	FROM vdb_segments(CASE WHEN i.relam = am.oid AND i.relkind = 'i'
						   AND has_table_privilege(t.oid, 'SELECT')
						   AND NOT pg_is_other_temp_schema(i.relnamespace)
						   AND NOT (i.relpersistence = 'u' AND pg_is_in_recovery())
						   THEN i.oid::regclass END) g
) s
LEFT JOIN (
	SELECT l.classid AS indexoid, min(l.pid) AS pid
	FROM pg_locks l
	JOIN pg_stat_activity a ON a.pid = l.pid
		AND (a.backend_type = 'vdb sealer' OR a.application_name = 'vdb sealer')
	WHERE l.locktype = 'advisory' AND l.granted
		AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND l.objid = 2 AND l.objsubid = 30308
	GROUP BY l.classid
) w ON w.indexoid = i.oid
LEFT JOIN vdb_sealer_last_error e ON e.indexrelid = i.oid AND e.relfilenode = i.relfilenode
WHERE has_table_privilege(t.oid, 'SELECT')
	AND NOT pg_is_other_temp_schema(i.relnamespace)
	AND NOT (i.relpersistence = 'u' AND pg_is_in_recovery());

COMMENT ON VIEW vdb_stats IS
	'one row per vdb_ivf index the current user can read: segments by state, rows to seal, sealer activity, last sealer error';
