/*
 * fuzz_vector_parse.c
 *	  libFuzzer harness for src/vector_parse.c.
 *
 * Differential: every input is parsed by the fast parser and by a plain
 * reference that calls strtof per element (the behaviour pgvector has and
 * vdb promises), and the two must agree on the status, the dimension and
 * every float bit.  The same bytes are also decoded as a binary vector body
 * and re-encoded.  AddressSanitizer catches any read past the input, which
 * is copied into a buffer of exactly its length plus the terminating NUL.
 *
 *	  make -C test/fuzz run          (bounded run, fails on any finding)
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vector_parse.h"

#define FUZZ_MAX_DIM 64			/* small, so that the limit is reached too */

/* The whitespace the literal grammar allows. */
static bool
ref_isspace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
		c == '\f';
}

/*
 * The reference: the literal grammar written the simple way, strtof per
 * element.
 */
static VectorParseStatus
ref_parse(const char *s, float *x, int maxdim, int *dim)
{
	int			n = 0;

	*dim = 0;
	while (ref_isspace(*s))
		s++;
	if (*s++ != '[')
		return VECTOR_PARSE_NO_BRACKET;
	while (ref_isspace(*s))
		s++;
	if (*s == ']')
		return VECTOR_PARSE_EMPTY;
	for (;;)
	{
		char	   *end;
		float		value;

		if (n == maxdim)
			return VECTOR_PARSE_TOO_MANY;
		while (ref_isspace(*s))
			s++;
		errno = 0;
		value = strtof(s, &end);
		if (end == s)
			return VECTOR_PARSE_SYNTAX;
		if (errno == ERANGE && isinf(value))
			return VECTOR_PARSE_OUT_OF_RANGE;
		if (isnan(value))
			return VECTOR_PARSE_NAN;
		if (isinf(value))
			return VECTOR_PARSE_INFINITE;
		x[n++] = value;
		s = end;
		while (ref_isspace(*s))
			s++;
		if (*s == ']')
		{
			s++;
			break;
		}
		if (*s++ != ',')
			return VECTOR_PARSE_SYNTAX;
	}
	while (ref_isspace(*s))
		s++;
	if (*s != '\0')
		return VECTOR_PARSE_JUNK;
	*dim = n;
	return VECTOR_PARSE_OK;
}

/* Stop the run with a message: libFuzzer saves the input as a crash. */
static void
mismatch(const char *what)
{
	fprintf(stderr, "fuzz_vector_parse: %s\n", what);
	abort();
}

/* Text: fast parser against the reference, and VectorStrtof against strtof. */
static void
fuzz_text(const char *text)
{
	float		fast[FUZZ_MAX_DIM];
	float		ref[FUZZ_MAX_DIM];
	int			fast_dim;
	int			ref_dim;
	VectorParseError error;
	VectorParseStatus fast_status;
	VectorParseStatus ref_status;
	char	   *fast_end;
	char	   *ref_end;
	bool		erange;
	float		a;
	float		b;

	fast_status = VectorParseText(text, fast, FUZZ_MAX_DIM, &fast_dim, &error);
	ref_status = ref_parse(text, ref, FUZZ_MAX_DIM, &ref_dim);
	if (fast_status != ref_status)
		mismatch("literal status differs from the strtof reference");
	if (fast_status == VECTOR_PARSE_OK &&
		(fast_dim != ref_dim ||
		 memcmp(fast, ref, sizeof(float) * (size_t) fast_dim) != 0))
		mismatch("literal values differ from the strtof reference");
	if ((fast_status == VECTOR_PARSE_OUT_OF_RANGE || fast_status == VECTOR_PARSE_NAN ||
		 fast_status == VECTOR_PARSE_INFINITE) &&
		(error.start == NULL || error.end <= error.start))
		mismatch("no element reported for a bad value");

	a = VectorStrtof(text, &fast_end, &erange);
	errno = 0;
	b = strtof(text, &ref_end);
	if (memcmp(&a, &b, sizeof(float)) != 0 || fast_end != ref_end ||
		erange != (errno == ERANGE))
		mismatch("VectorStrtof differs from strtof");
}

/* Binary: decode whole floats, check the verdict, and re-encode. */
static void
fuzz_binary(const uint8_t *data, size_t size)
{
	int			dim = (int) (size / sizeof(float));
	float	   *x;
	char	   *wire;
	int			bad = -1;
	VectorBinaryStatus status;

	if (dim == 0)
		return;
	x = malloc(sizeof(float) * (size_t) dim);
	wire = malloc(sizeof(float) * (size_t) dim);
	status = VectorDecodeBinary((const char *) data, dim, x, &bad);
	if (status == VECTOR_BINARY_OK)
	{
		for (int i = 0; i < dim; i++)
		{
			if (!isfinite(x[i]))
				mismatch("binary accepted a non-finite element");
		}
		VectorEncodeBinary(x, dim, wire);
		if (memcmp(wire, data, sizeof(float) * (size_t) dim) != 0)
			mismatch("binary round trip differs");
	}
	else
	{
		if (bad < 0 || bad >= dim || isfinite(x[bad]) ||
			(status == VECTOR_BINARY_NAN) != (isnan(x[bad]) != 0))
			mismatch("binary reported the wrong element");
		for (int i = 0; i < bad; i++)
		{
			if (!isfinite(x[i]))
				mismatch("binary missed an earlier non-finite element");
		}
	}
	free(x);
	free(wire);
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* libFuzzer entry point. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *text = malloc(size + 1);

	memcpy(text, data, size);
	text[size] = '\0';
	fuzz_text(text);
	free(text);
	fuzz_binary(data, size);
	return 0;
}
