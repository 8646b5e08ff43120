-- Distances, operators and functions on vectors.  pg_temp.err() prints the
-- SQLSTATE and message of a statement's error.
\i sql/include/err.sql

-- distances on small exact cases
SELECT '[3,4]'::vector <-> '[0,0]' AS l2,
	l2_distance('[1,2,3]', '[1,2,3]') AS l2_same,
	vector_l2_squared_distance('[3,4]', '[0,0]') AS l2_squared,
	'[1,2,3]'::vector <#> '[4,5,6]' AS neg_ip,
	inner_product('[1,2,3]', '[4,5,6]') AS ip,
	vector_negative_inner_product('[1,2,3]', '[4,5,6]') AS neg_ip_fn,
	'[1,2]'::vector <+> '[4,-2]' AS l1,
	l1_distance('[1,2]', '[4,-2]') AS l1_fn;
SELECT '[1,0]'::vector <=> '[0,1]' AS orthogonal,
	'[1,1]'::vector <=> '[1,1]' AS same,
	'[1,1]'::vector <=> '[-1,-1]' AS opposite,
	cosine_distance('[1,1]', '[2,2]') AS parallel,
	round(('[1,0]'::vector <=> '[1,1]')::numeric, 6) AS at_45_degrees;
-- a distance too large for float is Infinity, not an error (as in pgvector)
SELECT '[3e38]'::vector <-> '[-3e38]' AS l2, inner_product('[3e38]', '[3e38]') AS ip,
	'[3e38]'::vector <+> '[-3e38]' AS l1;
-- spherical distance: acos(a.b)/pi for unit vectors, clamped into acos's domain
SELECT vector_spherical_distance('[1,0]', '[0,1]') AS quarter,
	vector_spherical_distance('[1,0]', '[-1,0]') AS half,
	vector_spherical_distance('[1,0]', '[1,0]') AS zero,
	vector_spherical_distance('[2,0]', '[3,0]') AS clamped;
-- cosine with a zero vector is NaN, as in pgvector (0/0); NaN sorts last
SELECT '[0,0]'::vector <=> '[1,1]' AS zero_left,
	'[1,1]'::vector <=> '[0,0]' AS zero_right,
	cosine_distance('[0,0]', '[0,0]') AS both_zero;
SELECT v FROM (VALUES ('[0,0]'::vector), ('[1,0]'), ('[0,1]'), ('[1,1]')) t(v)
ORDER BY v <=> '[1,0]', v;
-- rounding cannot push cosine distance below 0 or above 2
SELECT setseed(0.75);
SELECT min(v <=> v) >= 0 AS self_not_negative, max(v <=> n) <= 2 AS opposite_at_most_2
FROM (SELECT v, (SELECT array_agg(-x)::vector FROM unnest(v::real[]) x) AS n
	FROM (SELECT ARRAY[random(), random(), random(), random(), random(), random(), random()]::vector AS v
		FROM generate_series(1, 1000)) s) t;

-- on random vectors every distance agrees with the same sum done in double
-- precision in SQL (the kernels sum in float: relative error well under 1e-5)
SELECT setseed(0.25);
CREATE TABLE pairs AS
SELECT i, array_agg(random() * 2 - 1)::vector AS a, array_agg(random() * 2 - 1)::vector AS b
FROM generate_series(1, 100) i, generate_series(1, 130) j
GROUP BY i;
CREATE TABLE pairs_ref AS
SELECT i,
	sqrt(sum((x - y) ^ 2)) AS l2,
	sum(x * y) AS ip,
	1 - sum(x * y) / sqrt(sum(x * x) * sum(y * y)) AS cosine,
	sum(abs(x - y)) AS l1,
	sqrt(sum(x * x)) AS norm
FROM pairs, unnest(a::float8[], b::float8[]) u(x, y)
GROUP BY i;
SELECT count(*) AS pairs,
	count(*) FILTER (WHERE abs((a <-> b) - l2) <= 1e-5 * l2) AS l2_ok,
	count(*) FILTER (WHERE abs(l2_distance(a, b) ^ 2 - vector_l2_squared_distance(a, b)) <= 1e-5 * l2 ^ 2) AS l2_squared_ok,
	count(*) FILTER (WHERE abs((a <#> b) + ip) <= 1e-5 * sqrt(130.0)) AS neg_ip_ok,
	count(*) FILTER (WHERE inner_product(a, b) = -(a <#> b)) AS ip_ok,
	count(*) FILTER (WHERE abs((a <=> b) - cosine) <= 1e-5) AS cosine_ok,
	count(*) FILTER (WHERE abs((a <+> b) - l1) <= 1e-5 * l1) AS l1_ok,
	count(*) FILTER (WHERE abs(vector_norm(a) - norm) <= 1e-12 * norm) AS norm_ok,
	count(*) FILTER (WHERE (a <-> b) = (b <-> a) AND (a <#> b) = (b <#> a)
		AND (a <=> b) = (b <=> a) AND (a <+> b) = (b <+> a)) AS symmetric
FROM pairs JOIN pairs_ref USING (i);
DROP TABLE pairs, pairs_ref;

-- operators are their own commutators
SELECT oprname, oprcom = oid AS own_commutator, oprresult::regtype
FROM pg_operator
WHERE oprleft = 'vector'::regtype AND oprname IN ('<->', '<#>', '<=>', '<+>')
ORDER BY oprname;

-- different dimensions: 22000 from every two-vector function
SELECT f, pg_temp.err(format('SELECT %s(%L::vector, %L::vector)', f, '[1,2]', '[1,2,3]'))
FROM unnest(ARRAY['l2_distance', 'inner_product', 'cosine_distance', 'l1_distance',
	'vector_l2_squared_distance', 'vector_negative_inner_product',
	'vector_spherical_distance', 'vector_add', 'vector_sub', 'vector_mul',
	'vector_cmp']) f;
SELECT op, pg_temp.err(format('SELECT %L::vector %s %L::vector', '[1,2]', op, '[1]'))
FROM unnest(ARRAY['<->', '<#>', '<=>', '<+>', '+', '-', '*']) op;

-- dims, norm, normalize
SELECT vector_dims('[1,2,3]'), vector_dims('[0]');
SELECT vector_norm('[3,4]') AS five, vector_norm('[0,0]') AS zero,
	vector_norm('[3e38,3e38]') AS no_overflow, vector_norm('[1e-30,1e-30]') AS no_underflow;
SELECT l2_normalize('[3,4]') AS unit, l2_normalize('[0,0,0]') AS zero_stays_zero,
	l2_normalize('[3e38,-3e38]') AS large, l2_normalize('[1e-40,0]') AS subnormal,
	vector_norm(l2_normalize('[1,2,3,4,5]')) AS norm_of_unit;

-- subvector(v, start, count): 1-based, clipped to the vector like substring
SELECT subvector('[1,2,3,4,5]', 1, 3) AS first3, subvector('[1,2,3,4,5]', 2, 2) AS mid,
	subvector('[1,2,3,4,5]', 4, 10) AS clipped_end, subvector('[1,2,3,4,5]', 0, 2) AS clipped_start,
	subvector('[1,2,3,4,5]', -5, 100) AS whole, subvector('[1,2,3,4,5]', 5, 1) AS last;
SELECT args, pg_temp.err(format('SELECT subvector(%L::vector, %s)', '[1,2,3]', args))
FROM unnest(ARRAY['1, 0', '1, -1', '4, 1', '0, 1', '-3, 2', '2147483647, 2147483647',
	'-2147483648, 2147483647', '1, 2147483647']) args;

-- element-wise arithmetic; overflow to infinity is an error (22003)
SELECT '[1,2,3]'::vector + '[4,5,6]' AS add, '[1,2,3]'::vector - '[4,5,6]' AS sub,
	'[1,2,3]'::vector * '[4,5,-6]' AS mul, vector_add('[0.5]', '[0.25]') AS add_fn;
SELECT stmt, pg_temp.err(stmt)
FROM unnest(ARRAY[$$SELECT '[3e38,1]'::vector + '[3e38,1]'$$,
	$$SELECT '[-3e38]'::vector - '[3e38]'$$,
	$$SELECT '[1e30]'::vector * '[1e30]'$$,
	$$SELECT '[1e-30]'::vector * '[1e-30]'$$,
	$$SELECT '[0,1e-30]'::vector * '[1e-30,0]'$$]) stmt;

-- concatenation, up to 16000 dimensions
SELECT '[1,2]'::vector || '[3]' AS concat, vector_concat('[1]', '[2]') AS concat_fn;
SELECT vector_dims(array_fill(1, ARRAY[8000])::vector || array_fill(2, ARRAY[8000])::vector);
SELECT pg_temp.err($$SELECT array_fill(1, ARRAY[8000])::vector || array_fill(2, ARRAY[8001])::vector$$);

-- binary_quantize: one bit per element, set when positive
SELECT binary_quantize('[1,-1,0,2,0.5,-0.5,3,4,5,-6]');

-- NULL in, NULL out
SELECT l2_distance(NULL, '[1]') IS NULL AS l2, ('[1]'::vector <=> NULL) IS NULL AS cosine,
	vector_norm(NULL) IS NULL AS norm, subvector('[1]', NULL, 1) IS NULL AS subvector;

-- every function of the type is IMMUTABLE STRICT PARALLEL SAFE
SELECT p.oid::regprocedure
FROM pg_proc p
WHERE p.proname IN ('vector_in', 'vector_out', 'vector_typmod_in', 'vector_recv',
	'vector_send', 'vector', 'array_to_vector', 'vector_to_float4', 'vector_to_float8',
	'vector_to_int4', 'vector_to_numeric', 'l2_distance', 'inner_product',
	'cosine_distance', 'l1_distance', 'vector_l2_squared_distance',
	'vector_negative_inner_product', 'vector_spherical_distance', 'vector_dims',
	'vector_norm', 'l2_normalize', 'subvector', 'binary_quantize', 'vector_add',
	'vector_sub', 'vector_mul', 'vector_concat', 'vector_lt', 'vector_le', 'vector_eq',
	'vector_ne', 'vector_ge', 'vector_gt', 'vector_cmp', 'vector_accum',
	'vector_combine', 'vector_avg', 'vector_sum_accum')
	AND (p.provolatile <> 'i' OR NOT p.proisstrict OR p.proparallel <> 's');
SELECT count(*) AS functions
FROM pg_proc p
WHERE p.proname IN ('vector_in', 'vector_out', 'vector_typmod_in', 'vector_recv',
	'vector_send', 'vector', 'array_to_vector', 'vector_to_float4', 'vector_to_float8',
	'vector_to_int4', 'vector_to_numeric', 'l2_distance', 'inner_product',
	'cosine_distance', 'l1_distance', 'vector_l2_squared_distance',
	'vector_negative_inner_product', 'vector_spherical_distance', 'vector_dims',
	'vector_norm', 'l2_normalize', 'subvector', 'binary_quantize', 'vector_add',
	'vector_sub', 'vector_mul', 'vector_concat', 'vector_lt', 'vector_le', 'vector_eq',
	'vector_ne', 'vector_ge', 'vector_gt', 'vector_cmp', 'vector_accum',
	'vector_combine', 'vector_avg', 'vector_sum_accum');
