/*
 * vector.c
 *	  The vector type: I/O, typmod and the SQL-callable functions.
 *
 * (Foundation skeleton: text and binary I/O, typmod and L2 distance.  The
 * vector work item replaces this with the full type.)
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "common/shortest_dec.h"
#include "utils/float.h"

#include "distance.h"
#include "vector.h"

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

PG_FUNCTION_INFO_V1(vector_in);
/*
 * Parse "[1,2,3]".
 */
Datum
vector_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	int32		typmod = PG_GETARG_INT32(2);
	float	   *x = palloc(sizeof(float) * VECTOR_MAX_DIM);
	int			dim = 0;
	char	   *p = str;
	Vector	   *result;

	while (isspace((unsigned char) *p))
		p++;
	if (*p != '[')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type vector: \"%s\"", str),
				 errdetail("Vector contents must start with \"[\".")));
	p++;
	while (isspace((unsigned char) *p))
		p++;
	if (*p == ']')
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("vector must have at least 1 dimension")));
	for (;;)
	{
		char	   *end;

		if (dim == VECTOR_MAX_DIM)
			CheckVectorDim(dim + 1);
		errno = 0;
		x[dim] = strtof(p, &end);
		if (end == p)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type vector: \"%s\"", str)));
		if (errno == ERANGE && isinf(x[dim]))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("\"%s\" is out of range for type vector", pnstrdup(p, end - p))));
		CheckVectorElement(x[dim]);
		dim++;
		p = end;
		while (isspace((unsigned char) *p))
			p++;
		if (*p == ',')
			p++;
		else if (*p == ']')
			break;
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type vector: \"%s\"", str)));
	}
	p++;
	while (isspace((unsigned char) *p))
		p++;
	if (*p != '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type vector: \"%s\"", str),
				 errdetail("Junk after closing right brace.")));

	CheckExpectedDim(typmod, dim);
	result = InitVector(dim);
	memcpy(result->x, x, sizeof(float) * dim);
	pfree(x);
	PG_RETURN_VECTOR_P(result);
}

PG_FUNCTION_INFO_V1(vector_out);
/*
 * Print "[1,2,3]" with shortest round-trip floats.
 */
Datum
vector_out(PG_FUNCTION_ARGS)
{
	Vector	   *v = PG_GETARG_VECTOR_P(0);
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	for (int i = 0; i < v->dim; i++)
	{
		char		num[32];

		if (i > 0)
			appendStringInfoChar(&buf, ',');
		float_to_shortest_decimal_buf(v->x[i], num);
		appendStringInfoString(&buf, num);
	}
	appendStringInfoChar(&buf, ']');
	PG_RETURN_CSTRING(buf.data);
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
 * Binary input: int16 dim, int16 unused, float4 x[dim].
 */
Datum
vector_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int32		typmod = PG_GETARG_INT32(2);
	int16		dim = pq_getmsgint(buf, sizeof(int16));
	int16		unused = pq_getmsgint(buf, sizeof(int16));
	Vector	   *result;

	CheckVectorDim(dim);
	CheckExpectedDim(typmod, dim);
	if (unused != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("expected unused to be 0, not %d", unused)));
	result = InitVector(dim);
	for (int i = 0; i < dim; i++)
	{
		result->x[i] = pq_getmsgfloat4(buf);
		CheckVectorElement(result->x[i]);
	}
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
	pq_sendint(&buf, v->dim, sizeof(int16));
	pq_sendint(&buf, v->unused, sizeof(int16));
	for (int i = 0; i < v->dim; i++)
		pq_sendfloat4(&buf, v->x[i]);
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

PG_FUNCTION_INFO_V1(l2_distance);
/*
 * Euclidean distance.
 */
Datum
l2_distance(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);

	CheckVectorDims(a, b);
	PG_RETURN_FLOAT8(sqrt((double) VectorL2SquaredDistance(a->dim, a->x, b->x)));
}
