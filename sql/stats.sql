-- Observability: the vdb_stats view (segments by state, rows to seal,
-- privileges), EXPLAIN of a filtered nearest-neighbour query through the
-- vdb_ivf index with vdb_last_scan() after it, and schema-qualified
-- operators (the form Citus sends to its shards).

-- Frozen segments must stay frozen until this test seals them itself.
SET vdb.auto_seal = off;

CREATE FUNCTION stats_vec(i int) RETURNS vector
LANGUAGE sql IMMUTABLE AS $$
	SELECT format('[%s,%s,%s,%s]', round((sin(i * 0.37) * 10)::numeric, 3),
		round((cos(i * 0.11) * 10)::numeric, 3), (i % 17) - 8, (i % 5) * 0.5)::vector
$$;

-- No autovacuum on it: an autoanalyze's snapshot could keep the VACUUM
-- below from removing the deleted rows (seen under valgrind).
CREATE TABLE stats_items (id int PRIMARY KEY, label int, embedding vector(4)) USING vdb
	WITH (autovacuum_enabled = off);
INSERT INTO stats_items SELECT i, i % 50, stats_vec(i) FROM generate_series(1, 3000) i;
CREATE INDEX stats_items_idx ON stats_items USING vdb_ivf (embedding)
	WITH (segment_rows = 1000, lists = 8);
-- 1500 more rows: the growing segment fills (and freezes) once.
INSERT INTO stats_items SELECT i, i % 50, stats_vec(i) FROM generate_series(3001, 4500) i;

-- Every row is either sealed or waiting to be sealed, nothing is dead yet.
SELECT index_name, table_name, growing_segments, frozen_segments, sealed_segments,
	dropped_segments, rows_to_seal, sealed_rows, dead_rows,
	sealed_rows + rows_to_seal = (SELECT count(*) FROM stats_items) AS all_rows_counted,
	index_size = pg_relation_size('stats_items_idx') AS size_matches,
	sealer_running, sealer_pid
FROM vdb_stats WHERE table_name = 'stats_items'::regclass;

-- Deleted rows become dead rows once VACUUM removes their entries; the
-- live counts still add up to the table's rows.
DELETE FROM stats_items WHERE id % 10 = 0;
VACUUM stats_items;
SELECT frozen_segments, dead_rows, rows_to_seal, sealed_rows,
	sealed_rows + rows_to_seal = (SELECT count(*) FROM stats_items) AS all_rows_counted
FROM vdb_stats WHERE table_name = 'stats_items'::regclass;

-- After vdb_seal nothing waits: the frozen and growing segments were
-- sealed (and dropped), a new empty growing segment takes inserts.
SELECT vdb_seal('stats_items_idx') > 0 AS sealed_some;
SELECT growing_segments, frozen_segments, dropped_segments >= 2 AS old_dropped,
	rows_to_seal, sealed_rows = (SELECT count(*) FROM stats_items) AS all_sealed
FROM vdb_stats WHERE table_name = 'stats_items'::regclass;

-- One row per vdb_ivf index, none for other index kinds.
CREATE TABLE stats_other (id int, embedding vector(4));
CREATE INDEX stats_other_ip ON stats_other USING vdb_ivf (embedding vector_ip_ops);
CREATE INDEX stats_other_l2 ON stats_other USING vdb_ivf (embedding vector_l2_ops);
CREATE INDEX stats_other_btree ON stats_other (id);
SELECT index_name, growing_segments, sealed_segments, rows_to_seal
FROM vdb_stats WHERE table_name = 'stats_other'::regclass ORDER BY index_name::text;

-- A user sees only the indexes of tables it may SELECT from, and needs no
-- other privilege.
CREATE ROLE regress_vdb_stats_reader;
GRANT SELECT ON stats_other TO regress_vdb_stats_reader;
SET ROLE regress_vdb_stats_reader;
SELECT index_name FROM vdb_stats
WHERE table_name::text IN ('stats_items', 'stats_other') ORDER BY index_name::text;
SELECT count(*) FROM vdb_segments('stats_items_idx');
RESET ROLE;
DROP TABLE stats_other;
DROP ROLE regress_vdb_stats_reader;

-- EXPLAIN shows the index serving a filtered ORDER BY ... LIMIT.  (On
-- 4,500 rows of 4 dimensions the planner rightly prefers a sequential scan
-- and a sort for a 2% filter: ask for the index.)
ANALYZE stats_items;
SET vdb.probes = 1;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF)
SELECT id FROM stats_items WHERE label = 7 ORDER BY embedding <-> '[3,1,-2,1]' LIMIT 5;

-- One list per segment holds too few label = 7 rows: the scan widens and
-- still returns the LIMIT, in order.  vdb_last_scan() counts the rows the
-- index handed to the executor (returned), before the filter.
SELECT count(*) AS n, bool_and(label = 7) AS all_label_7,
	array_agg(d) = array_agg(d ORDER BY d) AS in_order FROM (
	SELECT label, embedding <-> '[3,1,-2,1]' AS d FROM stats_items WHERE label = 7
	ORDER BY embedding <-> '[3,1,-2,1]' LIMIT 5) q;
SELECT segments, returned >= 5 AS returned_enough, widenings > 0 AS widened,
	lists_probed > 0 AS probed,
	entries_scanned > 0 AND entries_scanned < entries_total AS scanned_part,
	entries_total = (SELECT count(*) FROM stats_items) AS total_is_live_entries
FROM vdb_last_scan();

-- Probing every list before the first row finds what an exact search finds.
-- (The lists_probed check shows that the index ran.)
SET vdb.probes = 100;
SELECT array_agg(id) AS ids FROM (
	SELECT id FROM stats_items WHERE label = 7 ORDER BY embedding <-> '[3,1,-2,1]' LIMIT 5) q
\gset index_
SELECT lists_probed = (SELECT sum(lists) FROM vdb_segments('stats_items_idx')
	WHERE state = 'sealed') AS probed_every_list FROM vdb_last_scan();
RESET enable_seqscan;
SET enable_indexscan = off;
SELECT :'index_ids' = array_agg(id)::text AS same_as_exact FROM (
	SELECT id FROM stats_items WHERE label = 7 ORDER BY embedding <-> '[3,1,-2,1]' LIMIT 5) q;
RESET enable_indexscan;
SET vdb.probes = 1;

-- The operator spelled with its schema, as Citus deparses shard queries,
-- uses the index and returns the same rows.
EXPLAIN (COSTS OFF)
SELECT id FROM stats_items ORDER BY embedding OPERATOR(public.<->) '[3,1,-2,1]' LIMIT 5;
SELECT array_agg(id) AS ids FROM (
	SELECT id FROM stats_items ORDER BY embedding OPERATOR(public.<->) '[3,1,-2,1]' LIMIT 5) q
\gset qualified_
SELECT returned FROM vdb_last_scan();
SELECT :'qualified_ids' = array_agg(id)::text AS same_as_unqualified FROM (
	SELECT id FROM stats_items ORDER BY embedding <-> '[3,1,-2,1]' LIMIT 5) q;
RESET vdb.probes;

DROP TABLE stats_items;
DROP FUNCTION stats_vec(int);
RESET vdb.auto_seal;
