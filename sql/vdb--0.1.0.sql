-- vdb: the vector type, pgvector-compatible (names, formats, operators)
\echo Use "CREATE EXTENSION vdb" to load this file. \quit

-- type

CREATE TYPE vector;

CREATE FUNCTION vector_in(cstring, oid, integer) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_out(vector) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_typmod_in(cstring[]) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_recv(internal, oid, integer) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_send(vector) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- EXTERNAL storage as in pgvector: TOASTed out of line when large, never
-- compressed (float data does not compress, and decompression costs).
CREATE TYPE vector (
	INPUT     = vector_in,
	OUTPUT    = vector_out,
	TYPMOD_IN = vector_typmod_in,
	RECEIVE   = vector_recv,
	SEND      = vector_send,
	STORAGE   = external
);

-- typmod: vector -> vector(n), checked on cast and on assignment

CREATE FUNCTION vector(vector, integer, boolean) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE CAST (vector AS vector)
	WITH FUNCTION vector(vector, integer, boolean) AS IMPLICIT;

-- casts to and from arrays
--   integer[], real[], double precision[], numeric[] -> vector: assignment
--     (as in pgvector: an INSERT of an array into a vector column works);
--   vector -> real[]: implicit (as in pgvector; lossless);
--   vector -> double precision[], integer[], numeric[]: explicit only, so
--     that they never change how an expression resolves.  integer[] rounds
--     each element to the nearest integer, as real::integer does.

CREATE FUNCTION array_to_vector(integer[], integer, boolean) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_to_vector(real[], integer, boolean) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_to_vector(double precision[], integer, boolean) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION array_to_vector(numeric[], integer, boolean) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_to_float4(vector, integer, boolean) RETURNS real[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_to_float8(vector, integer, boolean) RETURNS double precision[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_to_int4(vector, integer, boolean) RETURNS integer[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_to_numeric(vector, integer, boolean) RETURNS numeric[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE CAST (integer[] AS vector)
	WITH FUNCTION array_to_vector(integer[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (real[] AS vector)
	WITH FUNCTION array_to_vector(real[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (double precision[] AS vector)
	WITH FUNCTION array_to_vector(double precision[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (numeric[] AS vector)
	WITH FUNCTION array_to_vector(numeric[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (vector AS real[])
	WITH FUNCTION vector_to_float4(vector, integer, boolean) AS IMPLICIT;
CREATE CAST (vector AS double precision[])
	WITH FUNCTION vector_to_float8(vector, integer, boolean);
CREATE CAST (vector AS integer[])
	WITH FUNCTION vector_to_int4(vector, integer, boolean);
CREATE CAST (vector AS numeric[])
	WITH FUNCTION vector_to_numeric(vector, integer, boolean);

-- distances

CREATE FUNCTION l2_distance(vector, vector) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION inner_product(vector, vector) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
-- NaN when either vector is zero, as in pgvector
CREATE FUNCTION cosine_distance(vector, vector) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION l1_distance(vector, vector) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- for the index: the same orders, cheaper
CREATE FUNCTION vector_l2_squared_distance(vector, vector) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_negative_inner_product(vector, vector) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_spherical_distance(vector, vector) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR <-> (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = l2_distance,
	COMMUTATOR = '<->'
);
CREATE OPERATOR <#> (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_negative_inner_product,
	COMMUTATOR = '<#>'
);
CREATE OPERATOR <=> (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = cosine_distance,
	COMMUTATOR = '<=>'
);
CREATE OPERATOR <+> (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = l1_distance,
	COMMUTATOR = '<+>'
);

-- other functions

CREATE FUNCTION vector_dims(vector) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_norm(vector) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION l2_normalize(vector) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION subvector(vector, integer, integer) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION binary_quantize(vector) RETURNS bit
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- element-wise arithmetic and concatenation

CREATE FUNCTION vector_add(vector, vector) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_sub(vector, vector) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_mul(vector, vector) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_concat(vector, vector) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR + (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_add,
	COMMUTATOR = +
);
CREATE OPERATOR - (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_sub
);
CREATE OPERATOR * (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_mul,
	COMMUTATOR = *
);
CREATE OPERATOR || (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_concat
);

-- comparison and the btree operator class (DISTINCT, GROUP BY, UNIQUE)

CREATE FUNCTION vector_lt(vector, vector) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_le(vector, vector) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_eq(vector, vector) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_ne(vector, vector) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_ge(vector, vector) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_gt(vector, vector) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_cmp(vector, vector) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR < (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_lt,
	COMMUTATOR = >, NEGATOR = >=,
	RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);
CREATE OPERATOR <= (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_le,
	COMMUTATOR = >=, NEGATOR = >,
	RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);
CREATE OPERATOR = (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_eq,
	COMMUTATOR = =, NEGATOR = <>,
	RESTRICT = eqsel, JOIN = eqjoinsel
);
CREATE OPERATOR <> (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_ne,
	COMMUTATOR = <>, NEGATOR = =,
	RESTRICT = neqsel, JOIN = neqjoinsel
);
CREATE OPERATOR >= (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_ge,
	COMMUTATOR = <=, NEGATOR = <,
	RESTRICT = scalargesel, JOIN = scalargejoinsel
);
CREATE OPERATOR > (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_gt,
	COMMUTATOR = <, NEGATOR = <=,
	RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);

CREATE OPERATOR CLASS vector_ops
	DEFAULT FOR TYPE vector USING btree AS
	OPERATOR 1 <,
	OPERATOR 2 <=,
	OPERATOR 3 =,
	OPERATOR 4 >=,
	OPERATOR 5 >,
	FUNCTION 1 vector_cmp(vector, vector);

-- aggregates: parallel safe, with combine functions

CREATE FUNCTION vector_accum(double precision[], vector) RETURNS double precision[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_combine(double precision[], double precision[]) RETURNS double precision[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_avg(double precision[]) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vector_sum_accum(vector, vector) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE AGGREGATE avg(vector) (
	SFUNC = vector_accum,
	STYPE = double precision[],
	FINALFUNC = vector_avg,
	COMBINEFUNC = vector_combine,
	INITCOND = '{0}',
	PARALLEL = SAFE
);

CREATE AGGREGATE sum(vector) (
	SFUNC = vector_sum_accum,
	STYPE = vector,
	COMBINEFUNC = vector_sum_accum,
	PARALLEL = SAFE
);

-- vdb: the table access method (heap tuples, growth-partitioned placement)

CREATE FUNCTION vdb_tableam_handler(internal) RETURNS table_am_handler
	AS 'MODULE_PATHNAME' LANGUAGE C;

CREATE ACCESS METHOD vdb TYPE TABLE HANDLER vdb_tableam_handler;
COMMENT ON ACCESS METHOD vdb IS
	'heap tuples; INSERT and COPY append at the tail or reuse only pages with at least vdb.reuse_free_fraction free';
-- vdb: the vdb_ivf index access method (write side: handler, opclasses, admin)

CREATE FUNCTION vdb_ivf_handler(internal) RETURNS index_am_handler
	AS 'MODULE_PATHNAME' LANGUAGE C;

CREATE ACCESS METHOD vdb_ivf TYPE INDEX HANDLER vdb_ivf_handler;
COMMENT ON ACCESS METHOD vdb_ivf IS 'segmented IVF index for vector nearest-neighbour search';

-- Support function 1 of each operator class names its distance kind.
CREATE FUNCTION vdb_ivf_l2_support(internal) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vdb_ivf_ip_support(internal) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION vdb_ivf_cosine_support(internal) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR CLASS vector_l2_ops
	DEFAULT FOR TYPE vector USING vdb_ivf AS
	OPERATOR 1 <-> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 vdb_ivf_l2_support(internal);

CREATE OPERATOR CLASS vector_ip_ops
	FOR TYPE vector USING vdb_ivf AS
	OPERATOR 1 <#> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 vdb_ivf_ip_support(internal);

CREATE OPERATOR CLASS vector_cosine_ops
	FOR TYPE vector USING vdb_ivf AS
	OPERATOR 1 <=> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 vdb_ivf_cosine_support(internal);

CREATE FUNCTION vdb_seal(regclass) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION vdb_seal(regclass) IS
	'seal the growing segment and every frozen segment of a vdb_ivf index (or of every vdb_ivf index of a table) now';

CREATE FUNCTION vdb_segments(regclass,
	OUT segment_id bigint, OUT state text, OUT rows bigint, OUT dead_rows bigint,
	OUT lists integer, OUT pages bigint, OUT heap_block_min bigint,
	OUT heap_block_max bigint, OUT sealed_at timestamptz)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION vdb_segments(regclass) IS 'the segments of a vdb_ivf index';

CREATE FUNCTION vdb_check(regclass) RETURNS SETOF text
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION vdb_check(regclass) IS
	'verify a vdb_ivf index against its table; one row per problem found';
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
-- vdb: observability (the vdb_stats view)

-- One row per vdb_ivf index on a table the current user may SELECT from:
-- its segments by state, rows waiting to be sealed, sealed and dead rows,
-- its size, and the background sealer working on it now, if any.  A
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
CREATE VIEW vdb_stats AS
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
	w.pid AS sealer_pid
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
WHERE has_table_privilege(t.oid, 'SELECT')
	AND NOT pg_is_other_temp_schema(i.relnamespace)
	AND NOT (i.relpersistence = 'u' AND pg_is_in_recovery());

GRANT SELECT ON vdb_stats TO PUBLIC;

COMMENT ON VIEW vdb_stats IS
	'one row per vdb_ivf index the current user can read: segments by state, rows to seal, sealer activity';
