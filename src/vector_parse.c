/*
 * vector_parse.c
 *	  Text and binary decoding of vectors, without a backend.
 *
 * The text parser is the hot path of every query that sends a vector as a
 * literal: a 784-dimension literal is ~800 numbers.  Calling strtof per
 * element (as pgvector and float4in do) costs 20-50 ns a number; most of
 * that is generality (locale, hex, arbitrary length).  Here a plain decimal
 * with at most 19 digits and a small exponent is converted exactly
 * with one or two correctly rounded floating-point operations, and anything
 * else is handed to strtof, so the result is strtof's to the bit.
 *
 * This file includes no PostgreSQL header so that the unit test and the
 * fuzzer link it on its own.  Floating-point arithmetic here must be done in
 * the declared type (FLT_EVAL_METHOD 0, no -ffast-math): that holds for
 * x86-64 (SSE) and arm64, the platforms we build for.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vector_parse.h"

#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#error "the exact fast path of VectorStrtof needs FLT_EVAL_METHOD == 0"
#endif

/* Powers of ten that are exact in float (5^10 < 2^24). */
static const float exact_float_pow10[] = {
	1e0f, 1e1f, 1e2f, 1e3f, 1e4f, 1e5f, 1e6f, 1e7f, 1e8f, 1e9f, 1e10f
};

/* Powers of ten that are exact in double (5^22 < 2^53). */
static const double exact_double_pow10[] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

#define FLOAT_FAST_MAX_EXP10	10
#define DOUBLE_FAST_MAX_EXP10	22
#define MAX_FAST_DIGITS			19	/* 10^19 - 1 < 2^64 */

/*
 * A double whose 29 low mantissa bits are 1 followed by 28 zeros lies
 * exactly halfway between two floats: rounding it to float could round the
 * wrong way for the decimal it came from (double rounding).
 */
#define DOUBLE_TO_FLOAT_DROPPED_BITS	UINT64_C(0x1FFFFFFF)
#define DOUBLE_TO_FLOAT_HALFWAY			UINT64_C(0x10000000)

/* Character classes, looked up once per character instead of compared. */
#define CHAR_SPACE		0x01		/* the whitespace pgvector skips */
#define CHAR_END		0x02		/* no number continues past it */

static const unsigned char char_class[256] = {
	['\0'] = CHAR_END,
	[' '] = CHAR_SPACE | CHAR_END,
	['\t'] = CHAR_SPACE | CHAR_END,
	['\n'] = CHAR_SPACE | CHAR_END,
	['\r'] = CHAR_SPACE | CHAR_END,
	['\v'] = CHAR_SPACE | CHAR_END,
	['\f'] = CHAR_SPACE | CHAR_END,
	[','] = CHAR_END,
	[']'] = CHAR_END,
};

/* Is c whitespace as pgvector skips it? */
static inline bool
vector_isspace(char c)
{
	return (char_class[(unsigned char) c] & CHAR_SPACE) != 0;
}

/* Is c a decimal digit? */
static inline bool
is_digit(char c)
{
	return (unsigned char) (c - '0') < 10;
}

#ifdef VECTOR_PARSE_COUNT_FALLBACKS
/* Test builds count how often the fast path gives up. */
long		VectorStrtofFallbacks = 0;
#endif

/* The general case: libc, with errno translated. */
static float
strtof_fallback(const char *p, char **end, bool *erange)
{
	float		result;

#ifdef VECTOR_PARSE_COUNT_FALLBACKS
	VectorStrtofFallbacks++;
#endif
	errno = 0;
	result = strtof(p, end);
	*erange = (errno == ERANGE);
	return result;
}

/*
 * The exact fast path of VectorStrtof: true with *result and *end set, or
 * false when strtof must decide.
 *
 * It accepts [+-]digits[.digits][(e|E)[+-]digits] with at least one digit
 * and at most 19 digits in all (leading zeros included, so that the
 * integer cannot overflow), and only when the next character is one strtof
 * would stop at too.  The number is then exactly m * 10^e.  If m < 2^24 and
 * |e| <= 10, float(m) and 10^|e| are exact floats and one float multiply or
 * divide is correctly rounded.  Otherwise, if m < 2^53 and |e| <= 22, one
 * double operation gives the correctly rounded double (Clinger's fast
 * path), and narrowing that to float is correct unless the double sits
 * exactly halfway between two floats (a decimal near that point could
 * belong on either side).  Neither range can overflow or reach a subnormal
 * (1e-22 > FLT_MIN, 2^53 * 1e22 < FLT_MAX), so strtof would not report
 * ERANGE either.
 */
static inline bool
parse_float_fast(const char *p, const char **end, float *result)
{
	const char *s = p;
	const char *digits;
	bool		negative = false;
	uint64_t	mantissa = 0;
	int			ndigits;
	int			exp10 = 0;
	float		value;

	if (*s == '-')
	{
		negative = true;
		s++;
	}
	else if (*s == '+')
		s++;

	/* integer part; more than 19 digits wrap, but are then refused */
	digits = s;
	for (; is_digit(*s); s++)
		mantissa = mantissa * 10 + (uint64_t) (*s - '0');
	ndigits = (int) (s - digits);

	/* fraction: each digit scales the value down by ten */
	if (*s == '.')
	{
		digits = ++s;
		for (; is_digit(*s); s++)
			mantissa = mantissa * 10 + (uint64_t) (*s - '0');
		exp10 = -(int) (s - digits);
		ndigits += (int) (s - digits);
	}
	if (ndigits == 0 || ndigits > MAX_FAST_DIGITS)
		return false;			/* inf, nan, garbage, long numbers */

	/* exponent; a large one only needs to stay large */
	if (*s == 'e' || *s == 'E')
	{
		bool		exp_negative = false;
		int			exp_value = 0;

		s++;
		if (*s == '-')
		{
			exp_negative = true;
			s++;
		}
		else if (*s == '+')
			s++;
		if (!is_digit(*s))
			return false;		/* "1e": strtof stops before the e */
		for (; is_digit(*s); s++)
		{
			if (exp_value < 100000)
				exp_value = exp_value * 10 + (*s - '0');
		}
		exp10 += exp_negative ? -exp_value : exp_value;
	}

	/* hex ("0x1p3") and the like */
	if (!(char_class[(unsigned char) *s] & CHAR_END))
		return false;

	if (mantissa == 0)
		value = 0.0f;
	else if (mantissa < (UINT64_C(1) << FLT_MANT_DIG) &&
			 exp10 >= -FLOAT_FAST_MAX_EXP10 && exp10 <= FLOAT_FAST_MAX_EXP10)
	{
		/* int32 conversion: one instruction, unlike uint64 */
		value = (float) (int32_t) mantissa;
		if (exp10 < 0)
			value /= exact_float_pow10[-exp10];
		else if (exp10 > 0)
			value *= exact_float_pow10[exp10];
	}
	else if (mantissa < (UINT64_C(1) << DBL_MANT_DIG) &&
			 exp10 >= -DOUBLE_FAST_MAX_EXP10 && exp10 <= DOUBLE_FAST_MAX_EXP10)
	{
		double		wide = (double) (int64_t) mantissa;
		uint64_t	bits;

		if (exp10 < 0)
			wide /= exact_double_pow10[-exp10];
		else
			wide *= exact_double_pow10[exp10];
		memcpy(&bits, &wide, sizeof(bits));
		if ((bits & DOUBLE_TO_FLOAT_DROPPED_BITS) == DOUBLE_TO_FLOAT_HALFWAY)
			return false;
		value = (float) wide;
	}
	else
		return false;

	*end = s;
	*result = negative ? -value : value;
	return true;
}

/*
 * Parse one number exactly; see vector_parse.h.
 */
float
VectorStrtof(const char *p, char **end, bool *erange)
{
	float		result;
	const char *fast_end;

	if (parse_float_fast(p, &fast_end, &result))
	{
		*end = (char *) fast_end;
		*erange = false;
		return result;
	}
	return strtof_fallback(p, end, erange);
}

/*
 * Parse a whole literal; see vector_parse.h.  Problems are reported in the
 * order a left-to-right reading meets them, as pgvector does.
 */
VectorParseStatus
VectorParseText(const char *str, float *x, int maxdim, int *dim,
				VectorParseError *error)
{
	const char *p = str;
	int			n = 0;

	*dim = 0;
	error->start = error->end = NULL;

	while (vector_isspace(*p))
		p++;
	if (*p != '[')
		return VECTOR_PARSE_NO_BRACKET;
	p++;
	while (vector_isspace(*p))
		p++;
	if (*p == ']')
		return VECTOR_PARSE_EMPTY;

	for (;;)
	{
		const char *fast_end;
		char	   *end;
		bool		erange;
		float		value;

		if (n == maxdim)
			return VECTOR_PARSE_TOO_MANY;
		while (vector_isspace(*p))
			p++;
		if (parse_float_fast(p, &fast_end, &value))
		{
			end = (char *) fast_end;
			erange = false;
		}
		else
			value = strtof_fallback(p, &end, &erange);
		if (end == p)
			return VECTOR_PARSE_SYNTAX;

		error->start = p;
		error->end = end;
		/* underflow (a tiny value read as 0) is accepted, as in pgvector */
		if (erange && isinf(value))
			return VECTOR_PARSE_OUT_OF_RANGE;
		if (isnan(value))
			return VECTOR_PARSE_NAN;
		if (isinf(value))
			return VECTOR_PARSE_INFINITE;
		error->start = error->end = NULL;

		x[n++] = value;
		p = end;
		while (vector_isspace(*p))
			p++;
		if (*p == ',')
			p++;
		else if (*p == ']')
		{
			p++;
			break;
		}
		else
			return VECTOR_PARSE_SYNTAX;
	}

	while (vector_isspace(*p))
		p++;
	if (*p != '\0')
		return VECTOR_PARSE_JUNK;

	*dim = n;
	return VECTOR_PARSE_OK;
}

/* Swap a 32-bit word between network and host order. */
static inline uint32_t
network_to_host32(uint32_t word)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	return word;
#else
	return __builtin_bswap32(word);
#endif
}

#define FLOAT_EXPONENT_MASK UINT32_C(0x7F800000)

/*
 * Decode and check a binary body; see vector_parse.h.  The copy loop only
 * ORs a flag per element, so it stays a straight copy-and-swap that the
 * compiler can vectorise; the offending element is looked for only when
 * there is one.
 */
VectorBinaryStatus
VectorDecodeBinary(const char *src, int dim, float *x, int *bad)
{
	uint32_t	nonfinite = 0;

	for (int i = 0; i < dim; i++)
	{
		uint32_t	word;

		memcpy(&word, src + sizeof(uint32_t) * i, sizeof(word));
		word = network_to_host32(word);
		memcpy(&x[i], &word, sizeof(word));
		nonfinite |= (uint32_t) ((word & FLOAT_EXPONENT_MASK) == FLOAT_EXPONENT_MASK);
	}
	if (!nonfinite)
		return VECTOR_BINARY_OK;

	for (int i = 0; i < dim; i++)
	{
		if (!isfinite(x[i]))
		{
			*bad = i;
			return isnan(x[i]) ? VECTOR_BINARY_NAN : VECTOR_BINARY_INFINITE;
		}
	}
	return VECTOR_BINARY_OK;	/* not reached */
}

/* Encode floats in network order; see vector_parse.h. */
void
VectorEncodeBinary(const float *x, int dim, char *dst)
{
	for (int i = 0; i < dim; i++)
	{
		uint32_t	word;

		memcpy(&word, &x[i], sizeof(word));
		word = network_to_host32(word);
		memcpy(dst + sizeof(uint32_t) * i, &word, sizeof(word));
	}
}
