/*
 * vector.c
 *	  The vector type: I/O, typmod, casts and the SQL-callable functions.
 *
 * What a user sees is pgvector's (0.8.6): the type name, the text and binary
 * formats, the operator and function names, their results and errors, so
 * that clients and dumps move between the two unchanged.  The deliberate
 * differences: an array element outside float range is 22003 "out of range"
 * (pgvector: 22000 "infinite value", or numeric's own error), as in text
 * input; tiny numeric elements read as 0 as they do in text; vector casts
 * also to double precision[], integer[] and numeric[] (explicit).  Faster:
 * the text parser (vector_parse.c) and the aggregates, which update their
 * state in place.
 *
 * Distances go through the kernels of distance.h, which pick SIMD code for
 * the CPU at run time.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/numeric.h"
#include "utils/varbit.h"

#include "distance.h"
#include "vector.h"
#include "vector_parse.h"

/*
 * Allocate a zeroed vector of the given dimension.
 */
Vector *
InitVector(int dim)
{
	int			size = VECTOR_SIZE(dim);
	Vector	   *result = (Vector *) palloc0(size);

	SET_VARSIZE(result, size);
	result->dim = dim;
	return result;
}

/*
 * Raise an error unless dim is a valid vector dimension.
 */
void
CheckVectorDim(int dim)
{
	if (dim < 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("vector must have at least 1 dimension")));
	/* 54000 as in pgvector: a limit of the implementation, not of the data */
	if (dim > VECTOR_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("vector cannot have more than %d dimensions",
						VECTOR_MAX_DIM)));
}

/*
 * Raise an error for NaN or infinite elements.
 */
void
CheckVectorElement(float value)
{
	if (isnan(value))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("NaN not allowed in vector")));
	if (isinf(value))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("infinite value not allowed in vector")));
}

/*
 * Raise an error unless both vectors have the same dimension.
 */
void
CheckVectorDims(const Vector *a, const Vector *b)
{
	if (a->dim != b->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different vector dimensions %d and %d",
						a->dim, b->dim)));
}

/*
 * Raise an error unless the vector matches the column's typmod.
 */
static void
CheckExpectedDim(int32 typmod, int dim)
{
	if (typmod != -1 && typmod != dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", typmod, dim)));
}

/*
 * Raise the error for a result element that overflowed to infinity.
 */
static inline void
CheckOverflow(const float *x, int dim)
{
	for (int i = 0; i < dim; i++)
	{
		if (unlikely(isinf(x[i])))
			float_overflow_error();
	}
}

/*
 * dst[i] = a[i] + b[i] (dst may be a); false when a sum overflowed.  The
 * overflow test is folded into the loop as a bit test, not a second pass.
 */
static inline bool
AddFloats(float *dst, const float *a, const float *b, int dim)
{
	uint32		nonfinite = 0;

	for (int i = 0; i < dim; i++)
	{
		float		sum = a[i] + b[i];
		uint32		bits;

		dst[i] = sum;
		memcpy(&bits, &sum, sizeof(bits));
		nonfinite |= (~bits & 0x7F800000) == 0;
	}
	return nonfinite == 0;
}

/* ---------------------------------------------------------------------
 * Text and binary I/O
 * ---------------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(vector_in);
/*
 * Parse "[1,2.5,-3e-2]".  The parse happens into a buffer of the largest
 * possible size on the stack, so the string is read only once; the copy
 * into the result is a memcpy.
 */
Datum
vector_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	int32		typmod = PG_GETARG_INT32(2);
	float		x[VECTOR_MAX_DIM];
	int			dim;
	VectorParseError error;
	Vector	   *result;

	switch (VectorParseText(str, x, VECTOR_MAX_DIM, &dim, &error))
	{
		case VECTOR_PARSE_OK:
			break;
		case VECTOR_PARSE_NO_BRACKET:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type vector: \"%s\"", str),
					 errdetail("Vector contents must start with \"[\".")));
			break;
		case VECTOR_PARSE_EMPTY:
			CheckVectorDim(0);
			break;
		case VECTOR_PARSE_SYNTAX:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type vector: \"%s\"", str)));
			break;
		case VECTOR_PARSE_JUNK:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type vector: \"%s\"", str),
					 errdetail("Junk after closing right brace.")));
			break;
		case VECTOR_PARSE_TOO_MANY:
			CheckVectorDim(VECTOR_MAX_DIM + 1);
			break;
		case VECTOR_PARSE_OUT_OF_RANGE:
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("\"%s\" is out of range for type vector",
							pnstrdup(error.start, error.end - error.start))));
			break;
		case VECTOR_PARSE_NAN:
			CheckVectorElement(NAN);
			break;
		case VECTOR_PARSE_INFINITE:
			CheckVectorElement(INFINITY);
			break;
	}

	CheckExpectedDim(typmod, dim);
	result = (Vector *) palloc(VECTOR_SIZE(dim));
	SET_VARSIZE(result, VECTOR_SIZE(dim));
	result->dim = dim;
	result->unused = 0;
	memcpy(result->x, x, sizeof(float) * dim);
	PG_RETURN_VECTOR_P(result);
}

PG_FUNCTION_INFO_V1(vector_out);
/*
 * Print "[1,2,3]" with the shortest decimal that reads back as the same
 * float, written straight into a buffer sized for the worst case.
 */
Datum
vector_out(PG_FUNCTION_ARGS)
{
	Vector	   *v = PG_GETARG_VECTOR_P(0);
	char	   *buf;
	char	   *p;

	/* each element needs at most FLOAT_SHORTEST_DECIMAL_LEN - 1 chars + ',' */
	buf = palloc((Size) v->dim * FLOAT_SHORTEST_DECIMAL_LEN + 3);
	p = buf;
	*p++ = '[';
	for (int i = 0; i < v->dim; i++)
	{
		if (i > 0)
			*p++ = ',';
		p += float_to_shortest_decimal_bufn(v->x[i], p);
	}
	*p++ = ']';
	*p = '\0';
	PG_FREE_IF_COPY(v, 0);
	PG_RETURN_CSTRING(buf);
}

PG_FUNCTION_INFO_V1(vector_typmod_in);
/*
 * Parse the n of vector(n).
 */
Datum
vector_typmod_in(PG_FUNCTION_ARGS)
{
	ArrayType  *ta = PG_GETARG_ARRAYTYPE_P(0);
	int32	   *tl;
	int			n;

	tl = ArrayGetIntegerTypmods(ta, &n);
	if (n != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid type modifier")));
	if (*tl < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type vector must be at least 1")));
	if (*tl > VECTOR_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type vector cannot exceed %d",
						VECTOR_MAX_DIM)));
	PG_RETURN_INT32(*tl);
}

PG_FUNCTION_INFO_V1(vector_recv);
/*
 * Binary input: int16 dim, int16 unused (0), float4 x[dim], network order.
 * The elements are one bounds check, then a copy with byte swap.
 */
Datum
vector_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int32		typmod = PG_GETARG_INT32(2);
	int			dim;
	int			unused;
	int			bad = 0;
	Vector	   *result;

	/* core would say "insufficient data left in message", a protocol error */
	if (buf->len - buf->cursor < 2 * (int) sizeof(int16))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("insufficient data for a vector header"),
				 errdetail("4 bytes expected, %d present.", buf->len - buf->cursor)));
	dim = (int16) pq_getmsgint(buf, sizeof(int16));
	unused = (int16) pq_getmsgint(buf, sizeof(int16));
	CheckVectorDim(dim);
	CheckExpectedDim(typmod, dim);
	if (unused != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected unused to be 0, not %d", unused)));
	if ((Size) (buf->len - buf->cursor) < sizeof(float) * (Size) dim)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("insufficient data for a vector of %d dimensions", dim),
				 errdetail("%d bytes of elements expected, %d present.",
						   (int) sizeof(float) * dim, buf->len - buf->cursor)));

	result = (Vector *) palloc(VECTOR_SIZE(dim));
	SET_VARSIZE(result, VECTOR_SIZE(dim));
	result->dim = dim;
	result->unused = 0;
	switch (VectorDecodeBinary(buf->data + buf->cursor, dim, result->x, &bad))
	{
		case VECTOR_BINARY_OK:
			break;
		case VECTOR_BINARY_NAN:
		case VECTOR_BINARY_INFINITE:
			CheckVectorElement(result->x[bad]);
			break;
	}
	buf->cursor += sizeof(float) * dim;
	PG_RETURN_VECTOR_P(result);
}

PG_FUNCTION_INFO_V1(vector_send);
/*
 * Binary output, the inverse of vector_recv.
 */
Datum
vector_send(PG_FUNCTION_ARGS)
{
	Vector	   *v = PG_GETARG_VECTOR_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint16(&buf, (uint16) v->dim);
	pq_sendint16(&buf, (uint16) v->unused);
	enlargeStringInfo(&buf, sizeof(float) * v->dim);
	VectorEncodeBinary(v->x, v->dim, buf.data + buf.len);
	buf.len += sizeof(float) * v->dim;
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

PG_FUNCTION_INFO_V1(vector);
/*
 * Cast vector to vector(n): enforce the typmod.
 */
Datum
vector(PG_FUNCTION_ARGS)
{
	Vector	   *v = PG_GETARG_VECTOR_P(0);

	CheckExpectedDim(PG_GETARG_INT32(1), v->dim);
	PG_RETURN_VECTOR_P(v);
}

/* ---------------------------------------------------------------------
 * Casts to and from arrays
 * ---------------------------------------------------------------------
 */

/*
 * ARR_DATA_PTR without its signed/unsigned mix, which -Wextra reports in
 * every caller.
 */
static inline void *
ArrayData(ArrayType *array)
{
	Size		offset = ARR_HASNULL(array) ? (Size) array->dataoffset :
		ARR_OVERHEAD_NONULLS(ARR_NDIM(array));

	return (char *) array + offset;
}

/*
 * Narrow a double to a vector element: out of float range is 22003, like
 * text input; NaN and infinity are refused as everywhere else.
 */
static inline float
DoubleToElement(double value)
{
	float		result = (float) value;

	if (unlikely(isinf(result)) && !isinf(value))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("\"%g\" is out of range for type vector", value)));
	CheckVectorElement(result);
	return result;
}

PG_FUNCTION_INFO_V1(array_to_vector);
/*
 * Cast integer[], real[], double precision[] or numeric[] to vector.  The
 * array must be one-dimensional and without NULLs; its elements must be
 * finite and within float range.
 */
Datum
array_to_vector(PG_FUNCTION_ARGS)
{
	ArrayType  *array = PG_GETARG_ARRAYTYPE_P(0);
	int32		typmod = PG_GETARG_INT32(1);
	Oid			elemtype = ARR_ELEMTYPE(array);
	int			dim;
	Vector	   *result;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("array must be 1-D")));
	if (array_contains_nulls(array))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("array must not contain nulls")));
	dim = ArrayGetNItems(ARR_NDIM(array), ARR_DIMS(array));
	CheckVectorDim(dim);
	CheckExpectedDim(typmod, dim);

	result = InitVector(dim);
	switch (elemtype)
	{
		case FLOAT4OID:
			{
				const float4 *src = (const float4 *) ArrayData(array);

				memcpy(result->x, src, sizeof(float) * dim);
				for (int i = 0; i < dim; i++)
					CheckVectorElement(result->x[i]);
				break;
			}
		case FLOAT8OID:
			{
				const float8 *src = (const float8 *) ArrayData(array);

				for (int i = 0; i < dim; i++)
					result->x[i] = DoubleToElement(src[i]);
				break;
			}
		case INT4OID:
			{
				const int32 *src = (const int32 *) ArrayData(array);

				/* every int32 is within float range; large ones round */
				for (int i = 0; i < dim; i++)
					result->x[i] = (float) src[i];
				break;
			}
		case NUMERICOID:
			{
				Datum	   *elems;
				int			nelems;

				/*
				 * Through the decimal text, so the float is the correctly
				 * rounded one (as for text input), not a double rounded twice.
				 */
				deconstruct_array(array, NUMERICOID, -1, false, TYPALIGN_INT,
								  &elems, NULL, &nelems);
				for (int i = 0; i < nelems; i++)
				{
					char	   *digits = DatumGetCString(DirectFunctionCall1(numeric_out, elems[i]));
					char	   *end;
					bool		erange;
					float		value = VectorStrtof(digits, &end, &erange);

					if (erange && isinf(value))
						ereport(ERROR,
								(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
								 errmsg("\"%s\" is out of range for type vector",
										digits)));
					CheckVectorElement(value);
					result->x[i] = value;
					pfree(digits);
				}
				pfree(elems);
				break;
			}
		default:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("unsupported array type")));
	}
	PG_RETURN_VECTOR_P(result);
}

/*
 * A one-dimensional array without NULLs of n fixed-size elements, to be
 * filled in by the caller.
 */
static ArrayType *
NewArray(int n, Oid elemtype, int elemsize)
{
	Size		size = ARR_OVERHEAD_NONULLS(1) + (Size) elemsize * n;
	ArrayType  *result = (ArrayType *) palloc0(size);

	SET_VARSIZE(result, size);
	result->ndim = 1;
	result->dataoffset = 0;
	result->elemtype = elemtype;
	ARR_DIMS(result)[0] = n;
	ARR_LBOUND(result)[0] = 1;
	return result;
}

PG_FUNCTION_INFO_V1(vector_to_float4);
/*
 * Cast vector to real[] (implicit, as in pgvector): a copy of the elements.
 */
Datum
vector_to_float4(PG_FUNCTION_ARGS)
{
	Vector	   *v = PG_GETARG_VECTOR_P(0);
	ArrayType  *result = NewArray(v->dim, FLOAT4OID, sizeof(float4));

	memcpy(ArrayData(result), v->x, sizeof(float4) * v->dim);
	PG_RETURN_ARRAYTYPE_P(result);
}

PG_FUNCTION_INFO_V1(vector_to_float8);
/*
 * Cast vector to double precision[] (explicit; exact).
 */
Datum
vector_to_float8(PG_FUNCTION_ARGS)
{
	Vector	   *v = PG_GETARG_VECTOR_P(0);
	ArrayType  *result = NewArray(v->dim, FLOAT8OID, sizeof(float8));
	float8	   *dst = (float8 *) ArrayData(result);

	for (int i = 0; i < v->dim; i++)
		dst[i] = (float8) v->x[i];
	PG_RETURN_ARRAYTYPE_P(result);
}

PG_FUNCTION_INFO_V1(vector_to_int4);
/*
 * Cast vector to integer[] (explicit): each element rounded to the nearest
 * integer as real::integer does, and an error when it does not fit.
 */
Datum
vector_to_int4(PG_FUNCTION_ARGS)
{
	Vector	   *v = PG_GETARG_VECTOR_P(0);
	ArrayType  *result = NewArray(v->dim, INT4OID, sizeof(int32));
	int32	   *dst = (int32 *) ArrayData(result);

	for (int i = 0; i < v->dim; i++)
	{
		float		rounded = rintf(v->x[i]);

		if (unlikely(!FLOAT4_FITS_IN_INT32(rounded)))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("integer out of range")));
		dst[i] = (int32) rounded;
	}
	PG_RETURN_ARRAYTYPE_P(result);
}

PG_FUNCTION_INFO_V1(vector_to_numeric);
/*
 * Cast vector to numeric[] (explicit): each element as its shortest decimal
 * that reads back as the same float, so that numeric[]::vector gives the
 * vector back (-0 becomes 0: numeric has no negative zero).  real::numeric
 * is not used: in PostgreSQL 15 it keeps only 6 significant digits.
 */
Datum
vector_to_numeric(PG_FUNCTION_ARGS)
{
	Vector	   *v = PG_GETARG_VECTOR_P(0);
	Datum	   *elems = palloc(sizeof(Datum) * v->dim);
	ArrayType  *result;

	for (int i = 0; i < v->dim; i++)
	{
		char		digits[FLOAT_SHORTEST_DECIMAL_LEN];

		float_to_shortest_decimal_buf(v->x[i], digits);
		elems[i] = DirectFunctionCall3(numeric_in, CStringGetDatum(digits),
									   ObjectIdGetDatum(InvalidOid),
									   Int32GetDatum(-1));
	}
	result = construct_array(elems, v->dim, NUMERICOID, -1, false, TYPALIGN_INT);
	PG_RETURN_ARRAYTYPE_P(result);
}

/* ---------------------------------------------------------------------
 * Distances
 * ---------------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(l2_distance);
/*
 * Euclidean distance, the <-> operator.
 */
Datum
l2_distance(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);

	CheckVectorDims(a, b);
	PG_RETURN_FLOAT8(sqrt((double) VectorL2SquaredDistance(a->dim, a->x, b->x)));
}

PG_FUNCTION_INFO_V1(vector_l2_squared_distance);
/*
 * Squared Euclidean distance: the same order as l2_distance without the
 * square root, for the index.
 */
Datum
vector_l2_squared_distance(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);

	CheckVectorDims(a, b);
	PG_RETURN_FLOAT8((double) VectorL2SquaredDistance(a->dim, a->x, b->x));
}

PG_FUNCTION_INFO_V1(inner_product);
/*
 * Inner product.
 */
Datum
inner_product(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);

	CheckVectorDims(a, b);
	PG_RETURN_FLOAT8((double) VectorInnerProduct(a->dim, a->x, b->x));
}

PG_FUNCTION_INFO_V1(vector_negative_inner_product);
/*
 * Negative inner product, the <#> operator: negated so that smaller means
 * nearer, as ORDER BY ... LIMIT and the index need.
 */
Datum
vector_negative_inner_product(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);

	CheckVectorDims(a, b);
	PG_RETURN_FLOAT8(-(double) VectorInnerProduct(a->dim, a->x, b->x));
}

PG_FUNCTION_INFO_V1(cosine_distance);
/*
 * Cosine distance, 1 - cos(a, b), the <=> operator, clamped to [0, 2]
 * against rounding.  With a zero vector the cosine is 0/0: the result is
 * NaN, as in pgvector (NaN sorts after every number, so such rows come last
 * in ORDER BY ... <=>).
 */
Datum
cosine_distance(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);
	float		ab;
	float		aa;
	float		bb;
	double		similarity;

	CheckVectorDims(a, b);
	VectorCosineParts(a->dim, a->x, b->x, &ab, &aa, &bb);
	/* one square root of the product: fewer roundings than two roots */
	similarity = (double) ab / sqrt((double) aa * (double) bb);
	if (isnan(similarity))
		PG_RETURN_FLOAT8(get_float8_nan());
	if (similarity > 1.0)
		similarity = 1.0;
	else if (similarity < -1.0)
		similarity = -1.0;
	PG_RETURN_FLOAT8(1.0 - similarity);
}

PG_FUNCTION_INFO_V1(vector_spherical_distance);
/*
 * Angular distance acos(a . b) / pi for unit vectors: unlike cosine
 * distance it obeys the triangle inequality, which spherical k-means needs.
 * The inputs are assumed normalised; the product is clamped so that
 * rounding cannot take acos out of its domain.
 */
Datum
vector_spherical_distance(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);
	double		product;

	CheckVectorDims(a, b);
	product = (double) VectorInnerProduct(a->dim, a->x, b->x);
	if (product > 1.0)
		product = 1.0;
	else if (product < -1.0)
		product = -1.0;
	PG_RETURN_FLOAT8(acos(product) / M_PI);
}

PG_FUNCTION_INFO_V1(l1_distance);
/*
 * Manhattan distance, the <+> operator.
 */
Datum
l1_distance(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);

	CheckVectorDims(a, b);
	PG_RETURN_FLOAT8((double) VectorL1Distance(a->dim, a->x, b->x));
}

/* ---------------------------------------------------------------------
 * Other functions
 * ---------------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(vector_dims);
/*
 * Number of dimensions.
 */
Datum
vector_dims(PG_FUNCTION_ARGS)
{
	Vector	   *v = PG_GETARG_VECTOR_P(0);

	PG_RETURN_INT32(v->dim);
}

/*
 * Euclidean norm, summed in double so that it neither overflows nor loses
 * the small elements.
 */
static double
VectorNorm(const Vector *v)
{
	double		sum = 0.0;

	for (int i = 0; i < v->dim; i++)
		sum += (double) v->x[i] * (double) v->x[i];
	return sqrt(sum);
}

PG_FUNCTION_INFO_V1(vector_norm);
/*
 * Euclidean norm.
 */
Datum
vector_norm(PG_FUNCTION_ARGS)
{
	Vector	   *v = PG_GETARG_VECTOR_P(0);

	PG_RETURN_FLOAT8(VectorNorm(v));
}

PG_FUNCTION_INFO_V1(l2_normalize);
/*
 * The vector scaled to unit norm; the zero vector stays zero.
 */
Datum
l2_normalize(PG_FUNCTION_ARGS)
{
	Vector	   *v = PG_GETARG_VECTOR_P(0);
	Vector	   *result = InitVector(v->dim);
	double		norm = VectorNorm(v);

	/* |x[i]| <= norm, so no quotient can overflow */
	if (norm > 0.0)
	{
		for (int i = 0; i < v->dim; i++)
			result->x[i] = (float) ((double) v->x[i] / norm);
	}
	PG_RETURN_VECTOR_P(result);
}

PG_FUNCTION_INFO_V1(subvector);
/*
 * The count elements from position start (1-based), like substring: the
 * part of [start, start + count) that lies inside the vector, which must
 * not be empty.
 */
Datum
subvector(PG_FUNCTION_ARGS)
{
	Vector	   *v = PG_GETARG_VECTOR_P(0);
	int32		start = PG_GETARG_INT32(1);
	int32		count = PG_GETARG_INT32(2);
	int64		first;
	int64		last;
	Vector	   *result;

	/* in int64, so that start + count cannot overflow */
	first = Max((int64) start, 1);
	last = Min((int64) start + (int64) count - 1, (int64) v->dim);
	if (count < 1 || last < first)
		CheckVectorDim(0);

	result = InitVector((int) (last - first + 1));
	memcpy(result->x, v->x + (first - 1), sizeof(float) * result->dim);
	PG_RETURN_VECTOR_P(result);
}

PG_FUNCTION_INFO_V1(vector_add);
/*
 * Element-wise sum, the + operator.
 */
Datum
vector_add(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);
	Vector	   *result;

	CheckVectorDims(a, b);
	result = InitVector(a->dim);
	if (!AddFloats(result->x, a->x, b->x, a->dim))
		float_overflow_error();
	PG_RETURN_VECTOR_P(result);
}

PG_FUNCTION_INFO_V1(vector_sub);
/*
 * Element-wise difference, the - operator.
 */
Datum
vector_sub(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);
	Vector	   *result;

	CheckVectorDims(a, b);
	result = InitVector(a->dim);
	for (int i = 0; i < a->dim; i++)
		result->x[i] = a->x[i] - b->x[i];
	CheckOverflow(result->x, result->dim);
	PG_RETURN_VECTOR_P(result);
}

PG_FUNCTION_INFO_V1(vector_mul);
/*
 * Element-wise product, the * operator.  Like real * real, a product that
 * overflows or underflows to zero from non-zero factors is an error.
 */
Datum
vector_mul(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);
	Vector	   *result;

	CheckVectorDims(a, b);
	result = InitVector(a->dim);
	for (int i = 0; i < a->dim; i++)
		result->x[i] = a->x[i] * b->x[i];
	CheckOverflow(result->x, result->dim);
	for (int i = 0; i < a->dim; i++)
	{
		if (unlikely(result->x[i] == 0.0f && a->x[i] != 0.0f && b->x[i] != 0.0f))
			float_underflow_error();
	}
	PG_RETURN_VECTOR_P(result);
}

PG_FUNCTION_INFO_V1(vector_concat);
/*
 * Concatenation, the || operator.
 */
Datum
vector_concat(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);
	Vector	   *result;

	CheckVectorDim(a->dim + b->dim);
	result = InitVector(a->dim + b->dim);
	memcpy(result->x, a->x, sizeof(float) * a->dim);
	memcpy(result->x + a->dim, b->x, sizeof(float) * b->dim);
	PG_RETURN_VECTOR_P(result);
}

PG_FUNCTION_INFO_V1(binary_quantize);
/*
 * One bit per element, set when the element is positive.
 */
Datum
binary_quantize(PG_FUNCTION_ARGS)
{
	Vector	   *v = PG_GETARG_VECTOR_P(0);
	int			size = VARBITTOTALLEN(v->dim);
	VarBit	   *result = (VarBit *) palloc0(size);
	bits8	   *bits = VARBITS(result);

	SET_VARSIZE(result, size);
	VARBITLEN(result) = v->dim;
	/* most significant bit first, as bit strings are stored */
	for (int i = 0; i < v->dim; i++)
	{
		if (v->x[i] > 0.0f)
			bits[i / BITS_PER_BYTE] |= (bits8) (0x80 >> (i % BITS_PER_BYTE));
	}
	PG_RETURN_VARBIT_P(result);
}

/* ---------------------------------------------------------------------
 * Comparison (the btree operator class vector_ops)
 * ---------------------------------------------------------------------
 */

/*
 * Lexicographic order on the elements, then shorter first, as arrays
 * compare.  -0 equals 0 (float comparison); there is no NaN to order.
 */
static int
VectorCompare(const Vector *a, const Vector *b)
{
	int			dim = Min(a->dim, b->dim);

	for (int i = 0; i < dim; i++)
	{
		if (a->x[i] < b->x[i])
			return -1;
		if (a->x[i] > b->x[i])
			return 1;
	}
	if (a->dim != b->dim)
		return a->dim < b->dim ? -1 : 1;
	return 0;
}

/*
 * Compare the two arguments; btree calls this many times per sort without
 * resetting memory, so detoasted copies are freed.
 */
static int
CompareArgs(FunctionCallInfo fcinfo)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);
	int			result = VectorCompare(a, b);

	PG_FREE_IF_COPY(a, 0);
	PG_FREE_IF_COPY(b, 1);
	return result;
}

PG_FUNCTION_INFO_V1(vector_cmp);
/*
 * btree support function: -1, 0 or 1.
 */
Datum
vector_cmp(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(CompareArgs(fcinfo));
}

PG_FUNCTION_INFO_V1(vector_lt);
/* a < b */
Datum
vector_lt(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(CompareArgs(fcinfo) < 0);
}

PG_FUNCTION_INFO_V1(vector_le);
/* a <= b */
Datum
vector_le(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(CompareArgs(fcinfo) <= 0);
}

PG_FUNCTION_INFO_V1(vector_eq);
/* a = b */
Datum
vector_eq(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(CompareArgs(fcinfo) == 0);
}

PG_FUNCTION_INFO_V1(vector_ne);
/* a <> b */
Datum
vector_ne(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(CompareArgs(fcinfo) != 0);
}

PG_FUNCTION_INFO_V1(vector_ge);
/* a >= b */
Datum
vector_ge(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(CompareArgs(fcinfo) >= 0);
}

PG_FUNCTION_INFO_V1(vector_gt);
/* a > b */
Datum
vector_gt(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(CompareArgs(fcinfo) > 0);
}

/* ---------------------------------------------------------------------
 * Aggregates
 *
 * avg keeps a double precision[] state {n, sum_1, ..., sum_dim}, so that
 * it is parallel safe without serialization functions and the sums keep
 * double precision.  sum keeps a vector.  Inside an aggregate both update
 * their state in place instead of building a new one per row: the state
 * belongs to the aggregate (nodeAgg copies it into its own context), and
 * PostgreSQL's own float8_accum does the same.
 * ---------------------------------------------------------------------
 */

/*
 * The sums of an avg state, after checking that it is one: dimension 0 is
 * the initial state '{0}'.
 */
static float8 *
CheckAvgState(ArrayType *state, int *dim)
{
	if (ARR_NDIM(state) != 1 || ARR_DIMS(state)[0] < 1 ||
		ARR_HASNULL(state) || ARR_ELEMTYPE(state) != FLOAT8OID)
		elog(ERROR, "vector aggregate state is not a one-dimensional double precision array");
	*dim = ARR_DIMS(state)[0] - 1;
	return (float8 *) ArrayData(state);
}

/*
 * A new avg state for dim dimensions with count n and the given sums.
 */
static ArrayType *
NewAvgState(int dim, float8 n, const float8 *sums)
{
	ArrayType  *result = NewArray(dim + 1, FLOAT8OID, sizeof(float8));
	float8	   *values = (float8 *) ArrayData(result);

	values[0] = n;
	memcpy(values + 1, sums, sizeof(float8) * dim);
	return result;
}

/*
 * Add src to the sums dst, refusing an overflow to infinity.
 */
static inline void
AddSums(float8 *dst, const float8 *src, int dim)
{
	for (int i = 0; i < dim; i++)
		dst[i] += src[i];
	for (int i = 0; i < dim; i++)
	{
		if (unlikely(isinf(dst[i])))
			float_overflow_error();
	}
}

PG_FUNCTION_INFO_V1(vector_accum);
/*
 * avg transition: count the row and add it to the sums.
 */
Datum
vector_accum(PG_FUNCTION_ARGS)
{
	ArrayType  *state = PG_GETARG_ARRAYTYPE_P(0);
	Vector	   *v = PG_GETARG_VECTOR_P(1);
	int			dim;
	float8	   *values = CheckAvgState(state, &dim);

	if (dim == 0)
	{
		ArrayType  *result = NewArray(v->dim + 1, FLOAT8OID, sizeof(float8));
		float8	   *sums = (float8 *) ArrayData(result);

		sums[0] = values[0] + 1.0;
		for (int i = 0; i < v->dim; i++)
			sums[i + 1] = (float8) v->x[i];
		PG_RETURN_ARRAYTYPE_P(result);
	}

	CheckExpectedDim(dim, v->dim);
	if (!AggCheckCallContext(fcinfo, NULL))
		state = NewAvgState(dim, values[0], values + 1);
	values = (float8 *) ArrayData(state);
	values[0] += 1.0;
	for (int i = 0; i < dim; i++)
		values[i + 1] += (float8) v->x[i];
	for (int i = 0; i < dim; i++)
	{
		if (unlikely(isinf(values[i + 1])))
			float_overflow_error();
	}
	PG_RETURN_ARRAYTYPE_P(state);
}

PG_FUNCTION_INFO_V1(vector_combine);
/*
 * avg combine: merge two partial states (parallel aggregation).
 */
Datum
vector_combine(PG_FUNCTION_ARGS)
{
	ArrayType  *state1 = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *state2 = PG_GETARG_ARRAYTYPE_P(1);
	int			dim1;
	int			dim2;
	float8	   *values1 = CheckAvgState(state1, &dim1);
	float8	   *values2 = CheckAvgState(state2, &dim2);

	if (dim2 == 0)
		PG_RETURN_ARRAYTYPE_P(state1);
	if (dim1 == 0)
		PG_RETURN_ARRAYTYPE_P(NewAvgState(dim2, values2[0], values2 + 1));

	CheckExpectedDim(dim1, dim2);
	if (!AggCheckCallContext(fcinfo, NULL))
	{
		state1 = NewAvgState(dim1, values1[0], values1 + 1);
		values1 = (float8 *) ArrayData(state1);
	}
	values1[0] += values2[0];
	AddSums(values1 + 1, values2 + 1, dim1);
	PG_RETURN_ARRAYTYPE_P(state1);
}

PG_FUNCTION_INFO_V1(vector_avg);
/*
 * avg final: the sums divided by the count; NULL when there were no rows.
 */
Datum
vector_avg(PG_FUNCTION_ARGS)
{
	ArrayType  *state = PG_GETARG_ARRAYTYPE_P(0);
	int			dim;
	float8	   *values = CheckAvgState(state, &dim);
	Vector	   *result;

	if (values[0] == 0.0)
		PG_RETURN_NULL();
	CheckVectorDim(dim);
	result = InitVector(dim);
	for (int i = 0; i < dim; i++)
		result->x[i] = (float) (values[i + 1] / values[0]);
	/* the mean of finite floats is a finite float; keep the check anyway */
	CheckOverflow(result->x, dim);
	PG_RETURN_VECTOR_P(result);
}

PG_FUNCTION_INFO_V1(vector_sum_accum);
/*
 * sum transition and combine: add the second vector to the first, in
 * place when the first is the aggregate's state.
 */
Datum
vector_sum_accum(PG_FUNCTION_ARGS)
{
	Vector	   *state;
	Vector	   *v = PG_GETARG_VECTOR_P(1);

	if (AggCheckCallContext(fcinfo, NULL))
		state = PG_GETARG_VECTOR_P(0);	/* detoasting makes a private copy */
	else
		state = (Vector *) PG_DETOAST_DATUM_COPY(PG_GETARG_DATUM(0));
	CheckVectorDims(state, v);
	if (!AddFloats(state->x, state->x, v->x, state->dim))
		float_overflow_error();
	PG_RETURN_VECTOR_P(state);
}
