-- Casts between vector and arrays.  pg_temp.err() prints the SQLSTATE and
-- message of a statement's error.
\i sql/include/err.sql

-- the casts and their contexts: arrays -> vector by assignment (as in
-- pgvector), vector -> real[] implicit (as in pgvector), vector -> other
-- arrays explicit only
SELECT castsource::regtype, casttarget::regtype,
	CASE castcontext WHEN 'i' THEN 'implicit' WHEN 'a' THEN 'assignment' ELSE 'explicit' END AS context
FROM pg_cast
WHERE castsource = 'vector'::regtype OR casttarget = 'vector'::regtype
ORDER BY 1::text, 2::text;

-- arrays to vector
SELECT ARRAY[1,2,3]::vector AS int4, ARRAY[1.5,2.5]::real[]::vector AS float4,
	ARRAY[0.1,-2]::float8[]::vector AS float8, ARRAY[0.1,1e-3,-7]::numeric[]::vector AS numeric;
SELECT '{1,2,3}'::int[]::vector(3);
-- large integers round to the nearest float; numeric is rounded once, exactly
SELECT ARRAY[16777217, 2147483647, -2147483648]::vector AS big_ints,
	ARRAY[0.1000000000000000055511151231257827]::numeric[]::vector AS numeric_long,
	float4send((ARRAY[0.30000001]::numeric[]::vector::real[])[1]) = float4send(0.30000001::real) AS numeric_exact;
-- assignment casts: an array goes into a vector column, typmod checked
CREATE TABLE vc (v vector(2));
INSERT INTO vc VALUES (ARRAY[1,2]), (ARRAY[3.5,4]::real[]), (ARRAY[5,6]::float8[]), (ARRAY[7,8]::numeric[]);
SELECT * FROM vc;
DROP TABLE vc;

-- bad arrays: 22000 shape and values, 22004 NULLs, 22003 out of range,
-- 54000 too long; an unsupported element type has no cast at all (42846)
SELECT stmt, pg_temp.err(stmt)
FROM unnest(ARRAY[
	$$SELECT ARRAY[[1,2],[3,4]]::vector$$,
	$$SELECT ARRAY[[[1]]]::real[]::vector$$,
	$$SELECT ARRAY[[1,2,3]]::int[]::vector$$,
	$$SELECT ARRAY[1,NULL,3]::vector$$,
	$$SELECT ARRAY[NULL]::float8[]::vector$$,
	$$SELECT '{}'::int[]::vector$$,
	$$SELECT '{}'::real[]::vector$$,
	$$SELECT ARRAY[1,2]::vector(3)$$,
	$$SELECT ARRAY['NaN']::real[]::vector$$,
	$$SELECT ARRAY['Infinity']::real[]::vector$$,
	$$SELECT ARRAY[1,'-Infinity']::float8[]::vector$$,
	$$SELECT ARRAY['NaN']::float8[]::vector$$,
	$$SELECT ARRAY[1e300]::float8[]::vector$$,
	$$SELECT ARRAY[-3.5e38]::float8[]::vector$$,
	$$SELECT ARRAY[1e39]::numeric[]::vector$$,
	$$SELECT ARRAY['NaN']::numeric[]::vector$$,
	$$SELECT ARRAY['Infinity']::numeric[]::vector$$,
	$$SELECT array_fill(1, ARRAY[16001])::vector$$,
	$$SELECT ARRAY['a']::text[]::vector$$,
	$$SELECT ARRAY[1]::bigint[]::vector$$]) stmt;
-- float8 and numeric values that underflow read as 0, as in text input
SELECT ARRAY[1e-50]::float8[]::vector AS float8_tiny, ARRAY[1e-50]::numeric[]::vector AS numeric_tiny;

-- vector to arrays
SELECT '[1,2.5,-3]'::vector::real[] AS float4, '[0.1,2.5]'::vector::float8[] AS float8,
	'[0.1,2.5,1e-45]'::vector::numeric[] AS numeric;
-- integer[] rounds half to even like real::integer, and refuses what does not fit
SELECT '[1.5,2.5,-1.5,-2.4,0.5]'::vector::int[] AS rounded;
SELECT pg_temp.err($$SELECT '[3e9]'::vector::int[]$$);
-- implicit vector -> real[]: a vector goes into a real[] column, and real[]
-- functions accept it
CREATE TABLE rc (a real[]);
INSERT INTO rc VALUES ('[1,2]'::vector);
SELECT a, array_dims(a) FROM rc;
DROP TABLE rc;
SELECT array_to_string('[1,2,3]'::vector::real[], ';');
-- round trips through each array type keep every bit (numeric: the
-- shortest decimal that reads back the same, not real::numeric's 6 digits)
SELECT setseed(0.5);
SELECT count(*) AS vectors,
	count(*) FILTER (WHERE vector_send(v::real[]::vector) = vector_send(v)) AS via_real,
	count(*) FILTER (WHERE vector_send(v::float8[]::vector) = vector_send(v)) AS via_float8,
	count(*) FILTER (WHERE vector_send(v::numeric[]::vector) = vector_send(v)) AS via_numeric
FROM (SELECT array_agg(((random() * 2 - 1) * 10 ^ (random() * 60 - 30))::real)::vector AS v
	FROM generate_series(1, 100) i, generate_series(1, 20) j GROUP BY i) t;
