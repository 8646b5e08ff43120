/*
 * parse_bench.c
 *	  The text parser alone, without a server: VectorParseText against a
 *	  loop of strtof over the same literal (what pgvector's vector_in does
 *	  per element), for integer-valued and 9-digit literals.
 *
 *	  cc -O2 -Isrc test/bench/parse_bench.c src/vector_parse.c -lm && ./a.out
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vector_parse.h"

#define DIMS		784
#define MAX_DIMS	16000

/* Seconds on a monotonic clock. */
static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* A literal of DIMS values: pixels 0..255, or reals in (-1, 1) with 9 digits. */
static void
make_literal(char *buf, bool nine_digits)
{
	char	   *p = buf;

	*p++ = '[';
	for (int i = 0; i < DIMS; i++)
	{
		if (i > 0)
			*p++ = ',';
		if (nine_digits)
			p += sprintf(p, "%.9g", (float) (rand() / (double) RAND_MAX * 2 - 1));
		else
			p += sprintf(p, "%d", rand() % 256);
	}
	*p++ = ']';
	*p = '\0';
}

/* Microseconds per literal for both parsers; best of five rounds. */
static void
bench(const char *name, const char *literal, int reps)
{
	static float x[MAX_DIMS];
	double		best_fast = 1e9;
	double		best_strtof = 1e9;
	int			dim = 0;
	VectorParseError error;

	for (int round = 0; round < 5; round++)
	{
		double		t0 = now();
		double		t1;
		double		t2;

		for (int r = 0; r < reps; r++)
			VectorParseText(literal, x, MAX_DIMS, &dim, &error);
		t1 = now();
		for (int r = 0; r < reps; r++)
		{
			const char *p = literal + 1;

			for (int i = 0; i < DIMS; i++)
			{
				char	   *end;

				x[i] = strtof(p, &end);
				p = end + 1;
			}
		}
		t2 = now();
		if (t1 - t0 < best_fast)
			best_fast = t1 - t0;
		if (t2 - t1 < best_strtof)
			best_strtof = t2 - t1;
	}
	printf("%-9s %5zu chars  VectorParseText %6.2f us  strtof loop %6.2f us  speedup %.1f\n",
		   name, strlen(literal), best_fast / reps * 1e6, best_strtof / reps * 1e6,
		   best_strtof / best_fast);
}

int
main(void)
{
	static char literal[DIMS * 24 + 3];

	srand(42);
	make_literal(literal, false);
	bench("integers", literal, 2000);
	make_literal(literal, true);
	bench("9-digit", literal, 2000);
	return 0;
}
