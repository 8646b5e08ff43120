-- vdb_ivf: privileges and argument checks of vdb_seal, vdb_segments and
-- vdb_check.
SET client_min_messages = warning;

\i sql/include/err.sql

CREATE TABLE ia (id int, v vector(3));
INSERT INTO ia VALUES (1, '[1,2,3]'), (2, '[4,5,6]');
CREATE INDEX ia_v ON ia USING vdb_ivf (v);
CREATE INDEX ia_id ON ia (id);
CREATE VIEW ia_view AS SELECT * FROM ia;

-- Not a vdb_ivf index.
SELECT pg_temp.err('SELECT vdb_seal(''ia_id'')');
SELECT pg_temp.err('SELECT * FROM vdb_segments(''ia_id'')');
SELECT pg_temp.err('SELECT * FROM vdb_check(''ia_id'')');
SELECT pg_temp.err('SELECT * FROM vdb_segments(''ia'')');
SELECT pg_temp.err('SELECT vdb_seal(''ia_view'')');
SELECT pg_temp.err('SELECT vdb_seal(0)');
SELECT vdb_seal(NULL);

-- Other roles: vdb_segments needs SELECT on the table, vdb_seal and
-- vdb_check need ownership.
CREATE ROLE vdb_ivf_reader;
CREATE ROLE vdb_ivf_stranger;
GRANT SELECT ON ia TO vdb_ivf_reader;
SET ROLE vdb_ivf_stranger;
SELECT pg_temp.err('SELECT * FROM vdb_segments(''ia_v'')');
SELECT pg_temp.err('SELECT vdb_seal(''ia_v'')');
SELECT pg_temp.err('SELECT vdb_seal(''ia'')');
SELECT pg_temp.err('SELECT * FROM vdb_check(''ia_v'')');
RESET ROLE;
SET ROLE vdb_ivf_reader;
SELECT state, rows FROM vdb_segments('ia_v');
SELECT pg_temp.err('SELECT vdb_seal(''ia_v'')');
SELECT pg_temp.err('SELECT * FROM vdb_check(''ia_v'')');
RESET ROLE;

-- The owner may do all three.
SELECT vdb_seal('ia_v');
SELECT state, rows, lists FROM vdb_segments('ia_v') ORDER BY segment_id;
SELECT * FROM vdb_check('ia_v');

-- amvalidate rejects an operator class the index could not use: the
-- distance operator under another strategy, a support function of the
-- wrong signature.
CREATE OPERATOR CLASS ia_bad_ops FOR TYPE vector USING vdb_ivf AS
	OPERATOR 2 <-> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 l2_distance(vector, vector);
SELECT amvalidate(oid) FROM pg_opclass WHERE opcname = 'ia_bad_ops';
DROP OPERATOR FAMILY ia_bad_ops USING vdb_ivf;

DROP VIEW ia_view;
DROP TABLE ia;
DROP ROLE vdb_ivf_reader;
DROP ROLE vdb_ivf_stranger;
