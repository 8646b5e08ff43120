-- pg_temp.vec(i, dim): a deterministic vector for row i, in five clusters
-- by i % 5.  pg_temp.live(idx): the live entries of an index's segments,
-- which must equal its indexable table rows.
CREATE FUNCTION pg_temp.vec(i int, dim int DEFAULT 8) RETURNS vector LANGUAGE sql AS $$
	SELECT ('[' || string_agg(((i * 7919 + d * 104729) % 1000 / 100.0 + (i % 5) * 10)::text, ',') || ']')::vector
	FROM generate_series(1, dim) d
$$;
CREATE FUNCTION pg_temp.live(idx regclass) RETURNS bigint LANGUAGE sql AS $$
	SELECT sum(rows - dead_rows)::bigint FROM vdb_segments(idx) WHERE state <> 'dropped'
$$;
