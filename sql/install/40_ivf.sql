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
