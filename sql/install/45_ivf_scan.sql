-- vdb_ivf: what the last index scan did (PG15's EXPLAIN cannot show an index
-- AM's own counters).  One row for the last vdb_ivf scan that ended in this
-- backend; all columns NULL before the first one.
CREATE FUNCTION vdb_last_scan(
	OUT segments bigint,
	OUT lists_probed bigint,
	OUT entries_scanned bigint,
	OUT entries_total bigint,
	OUT widenings bigint,
	OUT skipped_for_order bigint,
	OUT returned bigint)
	RETURNS record
	AS 'MODULE_PATHNAME', 'vdb_last_scan'
	LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION vdb_last_scan() IS
	'counters of the last vdb_ivf index scan that ended in this backend';
