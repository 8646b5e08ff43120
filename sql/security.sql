-- Privileges and search_path safety of the vdb functions (issue 7).
-- ivf_admin.sql checks the basic owner/reader/stranger matrix against a
-- superuser-owned table; here the table belongs to an ordinary role, its
-- index has expressions that check who runs them, and a hostile schema
-- first in search_path shadows vdb's functions and operators.
SET client_min_messages = warning;

\i sql/include/err.sql

CREATE ROLE regress_vdb_owner;
CREATE ROLE regress_vdb_reader;
CREATE ROLE regress_vdb_stranger;
GRANT CREATE ON SCHEMA public TO regress_vdb_owner;

-- The owner's functions for an index expression and predicate: they fail
-- unless they run as the owner, as CREATE INDEX and REINDEX run them.
CREATE FUNCTION sec_as_owner(v vector) RETURNS vector
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	IF current_user <> 'regress_vdb_owner' THEN
		RAISE EXCEPTION 'index expression ran as another role';
	END IF;
	RETURN v;
END $$;
CREATE FUNCTION sec_owner_pred(id int) RETURNS bool
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	IF current_user <> 'regress_vdb_owner' THEN
		RAISE EXCEPTION 'index predicate ran as another role';
	END IF;
	RETURN id % 10 <> 0;
END $$;

SET ROLE regress_vdb_owner;
CREATE TABLE sec_t (id int, v vector(3));
INSERT INTO sec_t
	SELECT i, ('[' || (i % 17) || ',' || (i % 23) || ',' || (i % 31) || ']')::vector
	FROM generate_series(1, 1200) i;
CREATE INDEX sec_t_v ON sec_t USING vdb_ivf (v) WITH (segment_rows = 1000);
CREATE INDEX sec_t_e ON sec_t USING vdb_ivf ((sec_as_owner(v)::vector(3)))
	WHERE sec_owner_pred(id);
INSERT INTO sec_t VALUES (1201, '[1,2,3]');
GRANT SELECT ON sec_t TO regress_vdb_reader;
RESET ROLE;

-- A stranger may not seal, check or list the segments (42501).
SET ROLE regress_vdb_stranger;
SELECT pg_temp.err('SELECT vdb_seal(''sec_t_v'')');
SELECT pg_temp.err('SELECT vdb_seal(''sec_t'')');
SELECT pg_temp.err('SELECT * FROM vdb_check(''sec_t_e'')');
SELECT pg_temp.err('SELECT * FROM vdb_segments(''sec_t_v'')');
RESET ROLE;

-- SELECT on the table allows vdb_segments, not sealing or checking.
SET ROLE regress_vdb_reader;
SELECT state, rows FROM vdb_segments('sec_t_v') ORDER BY segment_id;
SELECT pg_temp.err('SELECT vdb_seal(''sec_t'')');
SELECT pg_temp.err('SELECT * FROM vdb_check(''sec_t_v'')');
RESET ROLE;

-- The owner may do all three; the expression and predicate run as the
-- owner.
SET ROLE regress_vdb_owner;
SELECT vdb_seal('sec_t');
SELECT count(*) AS problems FROM vdb_check('sec_t_e');
SELECT count(*) AS problems FROM vdb_check('sec_t_v');
RESET ROLE;

-- A superuser checking the owner's index runs the owner's expression and
-- predicate as the owner, in a security-restricted operation, not with
-- superuser rights.
SELECT count(*) AS problems FROM vdb_check('sec_t_e');
SELECT current_user = session_user AS back_to_the_caller;
DROP INDEX sec_t_e;

-- vdb_last_scan shows this backend's last scan and nobody else's: a new
-- backend has none.
SET enable_seqscan = off;
SELECT count(*) FROM (SELECT id FROM sec_t ORDER BY v <-> '[1,2,3]' LIMIT 3) s;
SELECT returned > 0 AS saw_own_scan FROM vdb_last_scan();
\c -
SET client_min_messages = warning;
SELECT returned IS NULL AS nothing_from_other_backends FROM vdb_last_scan();

-- A hostile schema first in search_path, shadowing vdb's functions and
-- operators with ones that would give other answers.
CREATE SCHEMA regress_evil;
CREATE FUNCTION regress_evil.l2_distance(vector, vector) RETURNS float8
	LANGUAGE sql IMMUTABLE AS 'SELECT -public.l2_distance($1, $2)';
CREATE FUNCTION regress_evil.vector_l2_squared_distance(vector, vector) RETURNS float8
	LANGUAGE sql IMMUTABLE AS 'SELECT 0::float8';
CREATE FUNCTION regress_evil.vector_negative_inner_product(vector, vector) RETURNS float8
	LANGUAGE sql IMMUTABLE AS 'SELECT 0::float8';
CREATE FUNCTION regress_evil.vector_dims(vector) RETURNS int
	LANGUAGE sql IMMUTABLE AS 'SELECT 1';
CREATE FUNCTION regress_evil.l2_normalize(vector) RETURNS vector
	LANGUAGE sql IMMUTABLE AS 'SELECT ''[1,0,0]''::public.vector';
CREATE FUNCTION regress_evil.vector_eq(vector, vector) RETURNS bool
	LANGUAGE sql IMMUTABLE AS 'SELECT true';
CREATE FUNCTION regress_evil.vector_cmp(vector, vector) RETURNS int
	LANGUAGE sql IMMUTABLE AS 'SELECT 0';
CREATE OPERATOR regress_evil.<-> (LEFTARG = vector, RIGHTARG = vector,
	FUNCTION = regress_evil.l2_distance);
CREATE OPERATOR regress_evil.= (LEFTARG = vector, RIGHTARG = vector,
	FUNCTION = regress_evil.vector_eq);

-- The exact answers, computed with a clean search_path.
CREATE TABLE sec_q (q int, v vector(3));
INSERT INTO sec_q VALUES (1, '[3.31,5.13,7.77]'), (2, '[16.2,0.41,29.9]'), (3, '[8.53,11.07,15.3]');
CREATE TABLE sec_exact AS
	SELECT q, (SELECT array_agg(id) FROM (SELECT id FROM sec_t
		ORDER BY sec_t.v <-> sec_q.v, id LIMIT 5) s) AS ids
	FROM sec_q;

SET search_path = regress_evil, public;

-- The unqualified operator now means the hostile one (farthest first),
-- which no vdb_ivf operator class contains: the planner does not use the
-- index for it.
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM sec_t ORDER BY v <-> '[1,2,3]' LIMIT 3;
SELECT id FROM sec_t ORDER BY v <-> '[1,2,3]', id LIMIT 1;

-- Spelled OPERATOR(public.<->), as Citus pushes queries down, the index is
-- used and gives the exact answer (which breaks ties by id; the index
-- breaks them by heap TID, in id order here).
EXPLAIN (COSTS OFF)
SELECT id FROM sec_t ORDER BY v OPERATOR(public.<->) '[1,2,3]' LIMIT 3;
SET vdb.probes = 1000;
SELECT q, (SELECT array_agg(id) FROM (SELECT id FROM sec_t
		ORDER BY sec_t.v OPERATOR(public.<->) sec_q.v LIMIT 5) s) = ids AS exact
	FROM sec_q JOIN sec_exact USING (q) ORDER BY q;

-- Building, inserting into, sealing and checking the index under the
-- hostile search_path compute the same index: vdb's C code looks nothing
-- up by name.
DROP INDEX sec_t_v;
CREATE INDEX sec_t_v ON sec_t USING vdb_ivf (v) WITH (segment_rows = 1000);
INSERT INTO sec_t VALUES (1202, '[16,0,30]');
SELECT vdb_seal('sec_t_v');
SELECT count(*) AS problems FROM vdb_check('sec_t_v');
SELECT state, rows FROM vdb_segments('sec_t_v') WHERE state <> 'dropped' ORDER BY segment_id;
SET enable_seqscan = on;
SET enable_indexscan = off;
CREATE TABLE sec_exact2 AS
	SELECT q, (SELECT array_agg(id) FROM (SELECT id FROM sec_t
		ORDER BY sec_t.v OPERATOR(public.<->) sec_q.v, id LIMIT 5) s) AS ids
	FROM sec_q;
SET enable_seqscan = off;
SET enable_indexscan = on;
SELECT q, (SELECT array_agg(id) FROM (SELECT id FROM sec_t
		ORDER BY sec_t.v OPERATOR(public.<->) sec_q.v LIMIT 5) s) AS ids,
	ids = (SELECT array_agg(id) FROM (SELECT id FROM sec_t
		ORDER BY sec_t.v OPERATOR(public.<->) sec_q.v LIMIT 5) s) AS exact
	FROM sec_q JOIN sec_exact2 USING (q) ORDER BY q;

-- Text input, typmod coercion and the vector functions still mean vdb's.
SELECT '[1.5,2,3]'::public.vector(3) AS v,
	public.vector_dims('[1,2,3]'), public.l2_distance('[0,0,0]', '[3,4,0]');

RESET search_path;
RESET vdb.probes;
RESET enable_seqscan;
DROP SCHEMA regress_evil CASCADE;
DROP TABLE sec_t, sec_q, sec_exact, sec_exact2;
DROP FUNCTION sec_as_owner(vector), sec_owner_pred(int);
REVOKE CREATE ON SCHEMA public FROM regress_vdb_owner;
DROP ROLE regress_vdb_owner;
DROP ROLE regress_vdb_reader;
DROP ROLE regress_vdb_stranger;
