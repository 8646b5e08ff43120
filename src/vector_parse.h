/*
 * vector_parse.h
 *	  Text and binary decoding of vectors, without a backend.
 *
 * These functions use only the C library, so the server (src/vector.c), the
 * unit test (test/unit/test_vector_parse.c) and the fuzzer (test/fuzz/) all
 * run the same code.  They never raise errors: they report what is wrong and
 * where, and the caller turns that into an ereport.
 */
#ifndef VDB_VECTOR_PARSE_H
#define VDB_VECTOR_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What VectorParseText found. */
typedef enum VectorParseStatus
{
	VECTOR_PARSE_OK = 0,
	VECTOR_PARSE_NO_BRACKET,	/* does not start with "[" */
	VECTOR_PARSE_EMPTY,			/* "[]": no element at all */
	VECTOR_PARSE_SYNTAX,		/* malformed element, separator or end */
	VECTOR_PARSE_JUNK,			/* something other than space after "]" */
	VECTOR_PARSE_TOO_MANY,		/* more than maxdim elements */
	VECTOR_PARSE_OUT_OF_RANGE,	/* an element overflows float */
	VECTOR_PARSE_NAN,			/* an element is NaN */
	VECTOR_PARSE_INFINITE		/* an element is written as infinity */
} VectorParseStatus;

/*
 * Where the trouble is: for OUT_OF_RANGE, NAN and INFINITE the element's text
 * is [start, end).
 */
typedef struct VectorParseError
{
	const char *start;
	const char *end;
} VectorParseError;

/*
 * Parse the NUL-terminated literal "[1,2.5,-3e-2]" into x, which has room for
 * maxdim floats.  On success *dim is the number of elements.  Whitespace is
 * allowed around brackets and elements, as in pgvector.
 */
extern VectorParseStatus VectorParseText(const char *str, float *x, int maxdim,
										 int *dim, VectorParseError *error);

/*
 * strtof's contract, bit for bit: the float nearest to the decimal at p,
 * *end just past it (p itself when there is no number), and *erange set
 * when strtof would set errno to ERANGE.  Plain decimals take a fast exact
 * path; everything else goes to strtof.  Leading whitespace is not skipped.
 */
extern float VectorStrtof(const char *p, char **end, bool *erange);

/* Why a binary vector body was refused by VectorDecodeBinary. */
typedef enum VectorBinaryStatus
{
	VECTOR_BINARY_OK = 0,
	VECTOR_BINARY_NAN,
	VECTOR_BINARY_INFINITE
} VectorBinaryStatus;

/*
 * Copy dim network-order float4 values from src to x (native order) and
 * check that they are finite.  On failure *bad is the index of the first
 * offending element.
 */
extern VectorBinaryStatus VectorDecodeBinary(const char *src, int dim,
											 float *x, int *bad);

/* Write dim floats to dst in network order (4 * dim bytes). */
extern void VectorEncodeBinary(const float *x, int dim, char *dst);

#endif							/* VDB_VECTOR_PARSE_H */
