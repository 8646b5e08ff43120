/*
 * test_vector_parse.c
 *	  Unit test of src/vector_parse.c: the fast float parser must equal
 *	  strtof bit for bit, and the literal and binary decoders must accept
 *	  exactly what they should.
 *
 * Runs without a server.  The random cases use a fixed seed (override with
 * VDB_TEST_SEED) so that a failure can be reproduced; every mismatch is
 * printed with its input.
 */
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vector_parse.h"

extern long VectorStrtofFallbacks;

static int	failures = 0;
static long checked = 0;
static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

/* xorshift64*: small, fast and reproducible */
static uint64_t
next_random(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

/* Report a failed expectation, up to a limit. */
static void
fail(const char *fmt, const char *input, const char *detail)
{
	if (failures++ < 50)
	{
		printf("FAIL: ");
		printf(fmt, input, detail);
		printf("\n");
	}
}

/*
 * The core check: VectorStrtof(s) == strtof(s) in value bits, end position
 * and range flag.
 */
static void
check_number(const char *s)
{
	char	   *end_ref;
	char	   *end_fast;
	float		ref;
	float		fast;
	bool		erange_ref;
	bool		erange_fast;
	char		detail[128];

	errno = 0;
	ref = strtof(s, &end_ref);
	erange_ref = (errno == ERANGE);
	fast = VectorStrtof(s, &end_fast, &erange_fast);
	checked++;

	if (memcmp(&ref, &fast, sizeof(float)) != 0 || end_ref != end_fast ||
		erange_ref != erange_fast)
	{
		snprintf(detail, sizeof(detail),
				 "strtof %a end %d erange %d, VectorStrtof %a end %d erange %d",
				 (double) ref, (int) (end_ref - s), erange_ref,
				 (double) fast, (int) (end_fast - s), erange_fast);
		fail("\"%s\": %s", s, detail);
	}
}

/* Check s alone and followed by each possible separator or junk. */
static void
check_number_in_context(const char *s)
{
	static const char *const suffixes[] = {",", "]", " ", "x", "e", "e+", ".5"};
	char		buf[128];

	check_number(s);
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
	{
		snprintf(buf, sizeof(buf), "%s%s", s, suffixes[i]);
		check_number(buf);
	}
}

/* A float from 32 random bits: every class (subnormal, huge, NaN) occurs. */
static float
random_float_bits(void)
{
	uint32_t	bits = (uint32_t) next_random();
	float		f;

	memcpy(&f, &bits, sizeof(f));
	return f;
}

/* Printed forms of random floats, as clients and pgvector write them. */
static void
test_random_floats(int count)
{
	static const char *const formats[] = {"%.9g", "%.8g", "%.6g", "%.3g",
	"%.17g", "%.7e", "%.12f"};
	char		buf[128];

	for (int i = 0; i < count; i++)
	{
		float		f = random_float_bits();

		for (size_t k = 0; k < sizeof(formats) / sizeof(formats[0]); k++)
		{
			snprintf(buf, sizeof(buf), formats[k], (double) f);
			check_number(buf);
		}

		/* the shortest %g form that reads back as f, as vector_out prints */
		for (int precision = 1; precision <= 9 && isfinite(f); precision++)
		{
			snprintf(buf, sizeof(buf), "%.*g", precision, (double) f);
			if (strtof(buf, NULL) == f)
			{
				check_number(buf);
				break;
			}
		}
	}
}

/* Decimals just around the halfway point between two adjacent floats. */
static void
test_halfway_points(int count)
{
	static const char *const formats[] = {"%.19g", "%.18g", "%.17g",
	"%.16g", "%.15g", "%.10g", "%.9g"};
	char		buf[128];

	for (int i = 0; i < count; i++)
	{
		float		f = random_float_bits();
		double		halfway;

		if (!isfinite(f) || f == 0.0f)
			continue;
		/* exact in double: the two floats differ by one unit in the last place */
		halfway = ((double) f + (double) nextafterf(f, INFINITY)) / 2;
		for (size_t k = 0; k < sizeof(formats) / sizeof(formats[0]); k++)
		{
			snprintf(buf, sizeof(buf), formats[k], halfway);
			check_number(buf);
		}
	}
	/* halfway points of moderate magnitude, which reach the double path */
	for (int i = 0; i < count; i++)
	{
		float		f = ldexpf((float) (next_random() % (1u << 24)),
							   (int) (next_random() % 60) - 40);
		double		halfway = ((double) f + (double) nextafterf(f, INFINITY)) / 2;

		for (size_t k = 0; k < sizeof(formats) / sizeof(formats[0]); k++)
		{
			snprintf(buf, sizeof(buf), formats[k], halfway);
			check_number(buf);
		}
	}
}

/* Random digit strings: length, point, leading zeros, exponent all vary. */
static void
test_random_decimals(int count)
{
	char		buf[128];

	for (int i = 0; i < count; i++)
	{
		char	   *p = buf;
		int			ndigits = 1 + (int) (next_random() % 24);
		int			point = (int) (next_random() % (ndigits + 2)) - 1;
		int			zeros = (next_random() % 4 == 0) ? (int) (next_random() % 6) : 0;

		switch (next_random() % 4)
		{
			case 0:
				*p++ = '-';
				break;
			case 1:
				*p++ = '+';
				break;
			default:
				break;
		}
		for (int z = 0; z < zeros; z++)
			*p++ = '0';
		for (int d = 0; d < ndigits; d++)
		{
			if (d == point)
				*p++ = '.';
			*p++ = (char) ('0' + next_random() % 10);
		}
		if (point == ndigits)
			*p++ = '.';
		if (next_random() % 2)
		{
			int			e = (int) (next_random() % 100) - 50;

			p += sprintf(p, "%c%d", (next_random() % 2) ? 'e' : 'E', e);
		}
		*p = '\0';
		check_number(buf);
	}
}

/* Embedding-like values: up to 10 decimals in (-1, 1). */
static void
test_embedding_values(int count)
{
	char		buf[64];

	for (int i = 0; i < count; i++)
	{
		double		v = (double) (next_random() >> 11) / (double) (1ULL << 53);

		snprintf(buf, sizeof(buf), "%.*f", 1 + (int) (next_random() % 10),
				 (next_random() % 2) ? v : -v);
		check_number(buf);
	}
}

/* Hand-picked inputs: syntax corners, limits, and strtof-only forms. */
static void
test_corner_cases(void)
{
	static const char *const inputs[] = {
		"0", "-0", "+0", "0.0", "-0.0", "00000000000000000000000000001",
		"1", "255", "16777216", "16777217", "16777219", "9007199254740993",
		"1.", ".5", "-.5", "+.5", ".", "-", "+", "", " 1", "\t2", "1 ",
		"1e", "1e+", "1e-", "1E5", "1e+5", "1e-5", "1e10", "1e11", "1e22",
		"1e23", "1e-10", "1e-11", "1e-22", "1e-23", "1e38", "3.4028235e38",
		"3.4028236e38", "3.40282357e38", "1e39", "-1e39", "1e-38", "1e-45",
		"1.4e-45", "7e-46", "1e-46", "1e-50", "0e999999999", "1e999999999",
		"1e-999999999", "123456789012345678", "1234567890123456789",
		"12345678901234567890", "0.1", "0.2", "0.3", "3.1415927",
		"0.000000000000000000000000000000000001", "1.00000000000000000000",
		"0x10", "0X1p-3", "-0x1.8p1", "inf", "-inf", "Infinity", "nan",
		"NaN", "-nan", "nanx", "1,2", "1]", "1..2", "1.2.3", "--1", "+-1",
		"1e1e1", "0.5e-0", "33554431", "33554433", "2e-10", "7.038531e-26",
		"1.00000017881393432617187499", "1.000000178813934326171875",
		"1.00000017881393432617187501",
		NULL
	};

	for (int i = 0; inputs[i] != NULL; i++)
		check_number_in_context(inputs[i]);
	/* every integer a Fashion-MNIST pixel can take, and more */
	for (int i = 0; i < 70000; i++)
	{
		char		buf[16];

		snprintf(buf, sizeof(buf), "%d", i);
		check_number(buf);
	}
}

/* Expect one literal to parse to the given status and dimension count. */
static void
expect_literal(const char *lit, int maxdim, VectorParseStatus status,
			   int dim, const char *bad)
{
	float		x[64];
	int			got_dim;
	VectorParseError error;
	VectorParseStatus got;
	char		detail[128];

	got = VectorParseText(lit, x, maxdim, &got_dim, &error);
	checked++;
	if (got != status || (status == VECTOR_PARSE_OK && got_dim != dim))
	{
		snprintf(detail, sizeof(detail), "status %d dim %d, expected %d dim %d",
				 (int) got, got_dim, (int) status, dim);
		fail("literal \"%s\": %s", lit, detail);
		return;
	}
	if (bad != NULL &&
		(error.start == NULL ||
		 strlen(bad) != (size_t) (error.end - error.start) ||
		 strncmp(error.start, bad, strlen(bad)) != 0))
		fail("literal \"%s\": wrong element reported, expected %s", lit, bad);
}

/* Whole literals: accepted forms and each kind of rejection. */
static void
test_literals(void)
{
	float		x[4];
	int			dim;
	VectorParseError error;

	expect_literal("[1,2,3]", 64, VECTOR_PARSE_OK, 3, NULL);
	expect_literal("  [ 1 , 2.5 ,\t-3e-2 ]\n ", 64, VECTOR_PARSE_OK, 3, NULL);
	expect_literal("[\r\n\v\f1]", 64, VECTOR_PARSE_OK, 1, NULL);
	expect_literal("[0x10]", 64, VECTOR_PARSE_OK, 1, NULL);
	expect_literal("[1e-50]", 64, VECTOR_PARSE_OK, 1, NULL);
	expect_literal("", 64, VECTOR_PARSE_NO_BRACKET, 0, NULL);
	expect_literal("1,2", 64, VECTOR_PARSE_NO_BRACKET, 0, NULL);
	expect_literal("{1,2}", 64, VECTOR_PARSE_NO_BRACKET, 0, NULL);
	expect_literal("[]", 64, VECTOR_PARSE_EMPTY, 0, NULL);
	expect_literal("[ \t]", 64, VECTOR_PARSE_EMPTY, 0, NULL);
	expect_literal("[", 64, VECTOR_PARSE_SYNTAX, 0, NULL);
	expect_literal("[1", 64, VECTOR_PARSE_SYNTAX, 0, NULL);
	expect_literal("[1,", 64, VECTOR_PARSE_SYNTAX, 0, NULL);
	expect_literal("[1,]", 64, VECTOR_PARSE_SYNTAX, 0, NULL);
	expect_literal("[,1]", 64, VECTOR_PARSE_SYNTAX, 0, NULL);
	expect_literal("[1 2]", 64, VECTOR_PARSE_SYNTAX, 0, NULL);
	expect_literal("[1;2]", 64, VECTOR_PARSE_SYNTAX, 0, NULL);
	expect_literal("[1x]", 64, VECTOR_PARSE_SYNTAX, 0, NULL);
	expect_literal("[1e]", 64, VECTOR_PARSE_SYNTAX, 0, NULL);
	expect_literal("[a]", 64, VECTOR_PARSE_SYNTAX, 0, NULL);
	expect_literal("[1,,2]", 64, VECTOR_PARSE_SYNTAX, 0, NULL);
	expect_literal("[1]]", 64, VECTOR_PARSE_JUNK, 0, NULL);
	expect_literal("[1] x", 64, VECTOR_PARSE_JUNK, 0, NULL);
	expect_literal("[1][2]", 64, VECTOR_PARSE_JUNK, 0, NULL);
	expect_literal("[1,2,3]", 2, VECTOR_PARSE_TOO_MANY, 0, NULL);
	expect_literal("[1,2]", 2, VECTOR_PARSE_OK, 2, NULL);
	expect_literal("[1,1e39]", 64, VECTOR_PARSE_OUT_OF_RANGE, 0, "1e39");
	expect_literal("[-4e38 ]", 64, VECTOR_PARSE_OUT_OF_RANGE, 0, "-4e38");
	expect_literal("[1, nan]", 64, VECTOR_PARSE_NAN, 0, "nan");
	expect_literal("[NaN,1e39]", 64, VECTOR_PARSE_NAN, 0, "NaN");
	expect_literal("[-Infinity]", 64, VECTOR_PARSE_INFINITE, 0, "-Infinity");
	expect_literal("[inf", 64, VECTOR_PARSE_INFINITE, 0, "inf");

	/* values land where they should */
	if (VectorParseText("[1, -2.5,3e-2 ,0]", x, 4, &dim, &error) != VECTOR_PARSE_OK ||
		dim != 4 || x[0] != 1.0f || x[1] != -2.5f || x[2] != 3e-2f || x[3] != 0.0f)
		fail("literal \"%s\": %s", "[1, -2.5,3e-2 ,0]", "wrong values");
}

/* Binary bodies: round trip, and the first non-finite element is found. */
static void
test_binary(void)
{
	float		in[37];
	float		out[37];
	char		wire[sizeof(in)];
	int			bad = -1;
	static const unsigned char one_two_three[] = {
		0x3f, 0x80, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x40, 0x40, 0x00, 0x00
	};

	/* pgvector's documented bytes for [1,2,3] */
	in[0] = 1;
	in[1] = 2;
	in[2] = 3;
	VectorEncodeBinary(in, 3, wire);
	checked++;
	if (memcmp(wire, one_two_three, sizeof(one_two_three)) != 0)
		fail("binary %s: %s", "[1,2,3]", "wrong network bytes");

	for (int round = 0; round < 1000; round++)
	{
		for (int i = 0; i < 37; i++)
		{
			do
				in[i] = random_float_bits();
			while (!isfinite(in[i]));
		}
		VectorEncodeBinary(in, 37, wire);
		checked++;
		if (VectorDecodeBinary(wire, 37, out, &bad) != VECTOR_BINARY_OK ||
			memcmp(in, out, sizeof(in)) != 0)
			fail("binary %s: %s", "random", "round trip differs");

		in[round % 37] = (round % 2) ? NAN : -INFINITY;
		if (round % 5 == 0 && round % 37 != 36)
			in[36] = NAN;		/* a later bad element must not win */
		VectorEncodeBinary(in, 37, wire);
		checked++;
		if (VectorDecodeBinary(wire, 37, out, &bad) !=
			((round % 2) ? VECTOR_BINARY_NAN : VECTOR_BINARY_INFINITE) ||
			bad != round % 37)
			fail("binary %s: %s", "non-finite", "not reported at its index");
	}
}

/*
 * The fast path must actually be taken for the inputs it was built for;
 * otherwise the equality tests above would pass with a parser that always
 * falls back.
 */
static void
test_fast_path_taken(void)
{
	static const char *const common[] = {
		"0", "255", "-0.0123456789", "0.5", "1e-3", "-12.75", "0.123456789",
		"3.1415927", "1.5e7", "-0.000123456", NULL
	};
	char	   *end;
	bool		erange;

	for (int i = 0; common[i] != NULL; i++)
	{
		long		before = VectorStrtofFallbacks;

		(void) VectorStrtof(common[i], &end, &erange);
		checked++;
		if (VectorStrtofFallbacks != before)
			fail("\"%s\": %s", common[i], "took the strtof fallback");
	}
}

int
main(void)
{
	const char *seed = getenv("VDB_TEST_SEED");
	long		fallbacks_before;
	long		checked_before;

	if (seed != NULL)
		rng_state = strtoull(seed, NULL, 0) | 1;

	test_corner_cases();
	test_literals();
	test_binary();
	test_fast_path_taken();

	fallbacks_before = VectorStrtofFallbacks;
	checked_before = checked;
	test_embedding_values(500000);
	printf("embedding-like values: %ld checked, %ld fell back to strtof\n",
		   checked - checked_before, VectorStrtofFallbacks - fallbacks_before);

	test_random_floats(200000);
	test_halfway_points(100000);
	test_random_decimals(500000);

	printf("%ld checks, %ld strtof fallbacks, %d failures\n",
		   checked, VectorStrtofFallbacks, failures);
	return failures == 0 ? 0 : 1;
}
