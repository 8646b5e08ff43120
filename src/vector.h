/*
 * vector.h
 *	  The vector type: a float4 array with a pgvector-compatible layout.
 *
 * On disk (and in memory) a vector is a varlena of 8 + 4 * dim bytes:
 * int32 vl_len_, int16 dim, int16 unused (always 0), float4 x[dim].  This is
 * byte-identical to pgvector, so binary COPY and binary client protocols
 * interoperate unchanged.
 */
#ifndef VDB_VECTOR_H
#define VDB_VECTOR_H

#include "fmgr.h"

#define VECTOR_MAX_DIM 16000

typedef struct Vector
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	int16		dim;			/* number of dimensions */
	int16		unused;			/* reserved for future use, always zero */
	float		x[FLEXIBLE_ARRAY_MEMBER];
} Vector;

#define VECTOR_SIZE(_dim)		(offsetof(Vector, x) + sizeof(float) * (_dim))
#define DatumGetVector(x)		((Vector *) PG_DETOAST_DATUM(x))
#define PG_GETARG_VECTOR_P(x)	DatumGetVector(PG_GETARG_DATUM(x))
#define PG_RETURN_VECTOR_P(x)	PG_RETURN_POINTER(x)

extern Vector *InitVector(int dim);
extern void CheckVectorDims(const Vector *a, const Vector *b);
extern void CheckVectorDim(int dim);
extern void CheckVectorElement(float value);

#endif							/* VDB_VECTOR_H */
