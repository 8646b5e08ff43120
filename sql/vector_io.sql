-- The vector type: text and binary I/O, typmod, and every way input can be
-- wrong.  pg_temp.err() runs a statement and prints the SQLSTATE and message
-- of its error (no LOCATION lines: they move with every edit).
\i sql/include/err.sql

-- accepted text: whitespace anywhere around brackets and elements
SELECT '[1,2,3]'::vector;
SELECT E' [ 1 , 2.5 ,\t-3e-2 ] \n'::vector;
SELECT ('[' || chr(10) || '1,' || chr(13) || '2' || chr(11) || ',' || chr(12) || '3]')::vector;
SELECT '[+1,-0,0.5,.5,5.,1E2,1e+2,1e-2,007]'::vector;
-- what strtof reads, pgvector reads: hex, and underflow to 0 or subnormal
SELECT '[0x10,-0x1p-2]'::vector;
SELECT '[1e-50,1e-45,-1e-46]'::vector;

-- output is the shortest decimal that reads back as the same float
SELECT '[0.1,0.2,0.3,3.14159265358979,1e-45,3.4028235e38,-3.4028235e38]'::vector;
SELECT '[1.17549435e-38,16777217,0.30000001192092896,100,1e7,1e-7,123456789]'::vector;

-- bad text: 22P02 for malformed, 22000 for empty/NaN/infinite, 22003 for
-- out of range, 54000 past 16000 dimensions (pgvector's codes)
SELECT lit, pg_temp.err(format('SELECT %L::vector', lit))
FROM (VALUES (''), ('   '), ('1,2'), ('{1,2}'), ('('), ('['), ('[1'), ('[1,'),
	('[1,]'), ('[,1]'), ('[1 2]'), ('[1;2]'), ('[1x]'), ('[1e]'), ('[1e+]'),
	('[a]'), ('[-]'), ('[.]'), ('[1,,2]'), ('[1]]'), ('[1] x'), ('[1][2]'),
	('[1,2,3]4'), ('[]'), ('[ ]'), ('[nan]'), ('[1,NaN]'), ('[inf]'),
	('[-Infinity]'), ('[1e39]'), ('[-1e39]'), ('[1,3.5e38]'), ('[1e400,nan]'),
	('[nan,1e400]')) AS t(lit);

-- 16000 dimensions is the limit, in text and from arrays
SELECT vector_dims(('[' || repeat('1,', 15999) || '1]')::vector);
SELECT pg_temp.err($$SELECT ('[' || repeat('1,', 16000) || '1]')::vector$$);
SELECT vector_dims(array_fill(1.5, ARRAY[16000])::vector);
SELECT pg_temp.err($$SELECT array_fill(1.5, ARRAY[16001])::vector$$);

-- typmod: declared, enforced on input, on cast and on assignment
CREATE TABLE vt (id int, v vector(3));
SELECT format_type(atttypid, atttypmod) FROM pg_attribute
WHERE attrelid = 'vt'::regclass AND attname = 'v';
INSERT INTO vt VALUES (1, '[1,2,3]');
INSERT INTO vt VALUES (2, '[4,5,6]'::vector);
INSERT INTO vt VALUES (3, ARRAY[7,8,9]);
SELECT * FROM vt ORDER BY id;
SELECT stmt, pg_temp.err(stmt)
FROM (VALUES ($$INSERT INTO vt VALUES (9, '[1,2]')$$),
	($$INSERT INTO vt VALUES (9, '[1,2,3,4]'::vector)$$),
	($$INSERT INTO vt VALUES (9, ARRAY[1,2])$$),
	($$UPDATE vt SET v = '[1,2]'::vector WHERE id = 1$$),
	($$INSERT INTO vt VALUES (9, '[1,2,3]'), (10, '[1,nan,3]')$$),
	($$SELECT '[1,2]'::vector(3)$$),
	($$SELECT '[1,2]'::vector::vector(3)$$),
	($$SELECT '[1,2,3]'::vector(3)::vector(2)$$),
	($$CREATE TABLE bad (v vector(0))$$),
	($$CREATE TABLE bad (v vector(-1))$$),
	($$CREATE TABLE bad (v vector(16001))$$),
	($$CREATE TABLE bad (v vector(3, 4))$$),
	($$CREATE TABLE bad (v vector('a'))$$)) AS t(stmt);
-- the failed statements changed nothing
SELECT * FROM vt ORDER BY id;
SELECT '[1,2,3]'::vector(3), '[1]'::vector(1);

-- binary: int16 dim, int16 0, float4 x dim, network order (pgvector's bytes)
SELECT vector_send('[1,2,3]');
SELECT vector_send('[-0,1e-45,-3.4028235e38,0.1]');

-- text and binary round trips, bit for bit, over values of every magnitude
SELECT setseed(0.5);
CREATE TABLE vrand AS
SELECT i, array_agg(((random() * 2 - 1) * 10 ^ (random() * 74 - 37))::real)::vector AS v
FROM generate_series(1, 200) i, generate_series(1, 50) j
GROUP BY i;
SELECT count(*) AS rows,
	count(*) FILTER (WHERE vector_send(v::text::vector) = vector_send(v)) AS text_exact
FROM vrand;

\getenv abs_builddir PG_ABS_BUILDDIR
\set copyfile :abs_builddir '/results/vector_io.bin'
COPY vrand TO :'copyfile' (FORMAT binary);
CREATE TABLE vrand2 (LIKE vrand);
COPY vrand2 FROM :'copyfile' (FORMAT binary);
SELECT count(*) AS rows,
	count(*) FILTER (WHERE vector_send(a.v) = vector_send(b.v)) AS binary_exact
FROM vrand a JOIN vrand2 b USING (i);

-- the text parser equals float4in (strtof) bit for bit on decimals of every
-- shape: integers, short and long fractions, exponents, near-halfway values
CREATE TABLE decimals AS
SELECT CASE i % 6
	WHEN 0 THEN (floor(random() * 256))::int::text
	WHEN 1 THEN round((random() * 2 - 1)::numeric, 9)::text
	WHEN 2 THEN round((random() * 2 - 1)::numeric, (i % 19))::text
	WHEN 3 THEN trim(to_char(random() * 2 - 1, '9.999999999999999EEEE'))
	WHEN 4 THEN ((random() * 2 - 1) * 10 ^ (random() * 60 - 30))::float8::text
	ELSE trunc((random() * 2 ^ 30))::text || 'e' || (i % 41 - 20)::text
	END AS s
FROM generate_series(1, 6000) i;
SELECT count(*) AS numbers,
	count(*) FILTER (WHERE float4send((('[' || s || ']')::vector::real[])[1]) = float4send(s::real)) AS equal_to_float4in
FROM decimals;

-- binary input: each payload is written as one bytea field of a binary COPY
-- file, which is byte for byte what a vector field would be, then read into
-- a vector column (of the given typmod)
SET vdb_test.copyfile = :'copyfile';
CREATE FUNCTION pg_temp.recv(payload bytea, typmod int DEFAULT -1) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	f text := current_setting('vdb_test.copyfile');
	result text;
BEGIN
	EXECUTE format('COPY (SELECT %L::bytea) TO %L (FORMAT binary)', payload, f);
	IF typmod = -1 THEN
		CREATE TEMP TABLE recv_target (v vector);
	ELSE
		EXECUTE format('CREATE TEMP TABLE recv_target (v vector(%s))', typmod);
	END IF;
	EXECUTE format('COPY recv_target FROM %L (FORMAT binary)', f);
	SELECT v::text INTO result FROM recv_target;
	DROP TABLE recv_target;
	RETURN result;
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
SELECT what, pg_temp.recv(payload::bytea, typmod)
FROM (VALUES ('[1,2,3]', '\x000300003f8000004000000040400000', -1),
	('[1,2,3] into vector(3)', '\x000300003f8000004000000040400000', 3),
	('[1,2,3] into vector(2)', '\x000300003f8000004000000040400000', 2),
	('-0 and the smallest subnormal', '\x000200008000000000000001', -1),
	('0 dimensions', '\x00000000', -1),
	('-1 dimensions', '\xffff0000', -1),
	('16001 dimensions', '\x3e810000', -1),
	('unused is not 0', '\x000100013f800000', -1),
	('truncated header', '\x0001', -1),
	('truncated elements', '\x000300003f80000040000000', -1),
	('trailing bytes', '\x000100003f80000000', -1),
	('NaN', '\x000200003f8000007fc00000', -1),
	('signalling NaN', '\x000100007f800001', -1),
	('+Infinity', '\x000200007f8000003f800000', -1),
	('-Infinity', '\x00010000ff800000', -1)) AS t(what, payload, typmod);

DROP TABLE vt, vrand, vrand2, decimals;
