
-- vdb: the table access method (heap tuples, growth-partitioned placement)

CREATE FUNCTION vdb_tableam_handler(internal) RETURNS table_am_handler
	AS 'MODULE_PATHNAME' LANGUAGE C;

CREATE ACCESS METHOD vdb TYPE TABLE HANDLER vdb_tableam_handler;
COMMENT ON ACCESS METHOD vdb IS
	'heap tuples; INSERT and COPY append at the tail or reuse only pages with at least vdb.reuse_free_fraction free';
