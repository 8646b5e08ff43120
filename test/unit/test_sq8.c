/*
 * test_sq8.c
 *	  The SQ8 quantizer of posting lists (src/sq8.c): round trip and bounds.
 *
 * For several dimensions and kinds of data (mixed scales and signs, integer
 * pixels, a constant dimension, large magnitudes, near-duplicates), trains a
 * quantizer on random rows, encodes every row and checks:
 *	- each code is the nearest one: |x[i] - decoded[i]| <= scale[i] / 2
 *	  (up to double rounding), and the stored error bounds |x - decoded|
 *	  from above without being loose (within 1e-6 relative);
 *	- with every kernel variant this CPU runs, for queries near and far, the
 *	  lower bound a scan derives from a code never exceeds the distance the
 *	  exact float kernel computes for the row: squared L2 (through the
 *	  integer kernel, and through the float one) and negative inner
 *	  product.  A bound above it could return rows out of order;
 *	- the integer kernel is exact for every dim up to 2000, at the ends of
 *	  its input ranges too.
 * It also reports how tight the L2 bound is (mean bound / exact), so a
 * change that makes bounds useless shows up.
 */
#include "c.h"

#include <float.h>
#include <math.h>

#include "distance_impl.h"
#include "sq8.h"

#define NROWS 150
#define NQUERIES 12

static uint64 rng_state = UINT64CONST(0x243f6a8885a308d3);
static long checks;
static long failures;
static long cuts;				/* bounds that VdbSq8SetBeyond cut */

/*
 * xorshift64*: a fixed sequence, so failures reproduce.
 */
static uint64
NextRandom(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64CONST(2685821657736338717);
}

/*
 * Uniform double in [0, 1).
 */
static double
Uniform(void)
{
	return (NextRandom() >> 11) * (1.0 / 9007199254740992.0);
}

/*
 * Report a failed check (the first few in detail).
 */
static void
Fail(const char *what, int dim, int kind, double got, double limit)
{
	if (failures < 20)
		printf("FAIL %s: dim %d data %d: %.9g > %.9g\n", what, dim, kind, got, limit);
	failures++;
}

/*
 * One random row of data kind `kind`.
 */
static void
MakeRow(float *x, int dim, int kind, const float *center)
{
	for (int i = 0; i < dim; i++)
	{
		switch (kind)
		{
			case 0:				/* mixed scales and signs */
				x[i] = (float) ((Uniform() * 2.0 - 1.0) * pow(10.0, (i % 7) - 3));
				break;
			case 1:				/* integer pixels, border dimensions 0 */
				x[i] = (i % 28 < 3) ? 0.0f : (float) floor(Uniform() * 256.0);
				break;
			case 2:				/* a constant dimension, large values */
				x[i] = (i % 5 == 0) ? 1234.5f : (float) (Uniform() * 1e4 - 5e3);
				break;
			default:			/* near-duplicates of one center */
				x[i] = center[i] + (float) ((Uniform() - 0.5) * 1e-3);
				break;
		}
	}
}

/*
 * Train, encode and check every bound for one dimension and data kind,
 * with the kernels currently installed.
 */
static void
CheckOne(int dim, int kind, double *tight_sum, long *tight_n)
{
	float	   *rows = malloc(sizeof(float) * NROWS * dim);
	uint8	   *codes = malloc((Size) NROWS * dim);
	float	   *errors = malloc(sizeof(float) * NROWS);
	float	   *offset = malloc(sizeof(float) * dim);
	float	   *scale = malloc(sizeof(float) * dim);
	float	   *center = malloc(sizeof(float) * dim);
	float	   *q = malloc(sizeof(float) * dim);
	float	   *qs = malloc(sizeof(float) * dim);
	float		max_norm;
	float		span;
	bool		one_scale = true;

	MakeRow(center, dim, 0, NULL);
	for (int r = 0; r < NROWS; r++)
		MakeRow(rows + (Size) r * dim, dim, kind, center);
	VdbSq8Train(rows, NROWS, dim, offset, scale, &max_norm);
	span = VdbSq8Span(scale, dim);
	for (int i = 1; i < dim; i++)
		one_scale = one_scale && scale[i] == scale[0];
	/* mixed scales (kind 0) get a scale per dimension, the others one */
	checks++;
	if (dim > 7 && one_scale != (kind != 0))
		Fail("one scale chosen for the wrong data", dim, kind, one_scale, kind != 0);

	/* Round trip. */
	for (int r = 0; r < NROWS; r++)
	{
		const float *x = rows + (Size) r * dim;
		uint8	   *c = codes + (Size) r * dim;
		double		err = 0.0;
		double		norm = 0.0;

		errors[r] = VdbSq8Encode(x, dim, offset, scale, c);
		for (int i = 0; i < dim; i++)
		{
			double		decoded = (double) offset[i] + (double) scale[i] * c[i];
			double		diff = fabs((double) x[i] - decoded);

			checks++;
			if (diff > scale[i] * 0.5 * (1.0 + 1e-12) + fabs(x[i]) * 1e-15)
				Fail("code is not the nearest", dim, kind, diff, scale[i] * 0.5);
			err += diff * diff;
			norm += (double) x[i] * x[i];
		}
		err = sqrt(err);
		checks += 3;
		if (errors[r] < err)
			Fail("stored error below the real one", dim, kind, err, errors[r]);
		if (errors[r] > err * (1.0 + 1e-6) + 1e-30)
			Fail("stored error loose", dim, kind, errors[r], err);
		if (max_norm < sqrt(norm))
			Fail("max_norm below a row's norm", dim, kind, sqrt(norm), max_norm);
	}

	/* Lower bounds, for queries near rows and anywhere. */
	for (int n = 0; n < NQUERIES; n++)
	{
		VdbSq8Query l2 = {.qs = qs, .q16 = malloc(sizeof(int16) * dim)};
		VdbSq8Query l2f = {.qs = malloc(sizeof(float) * dim)};
		VdbSq8Query ip = {.qs = malloc(sizeof(float) * dim)};
		const float *near = rows + (Size) (n % NROWS) * dim;

		/*
		 * Queries near a row, anywhere, and exactly a row: with integer
		 * pixels (kind 1) the last are on the codes' grid and every bound
		 * is tight but for the exact kernel's rounding, which they check.
		 */
		for (int i = 0; i < dim; i++)
			q[i] = (n % 3 == 0) ? near[i] * (float) (1.0 + (Uniform() - 0.5) * 1e-4)
				: (n % 3 == 1) ? (float) ((Uniform() * 2.0 - 1.0) * (1.0 + fabs(near[i])))
				: near[i];
		VdbSq8Prepare(&l2, q, dim, true, offset, scale, span, max_norm);
		VdbSq8Prepare(&l2f, q, dim, true, offset, scale, span, max_norm);
		checks++;
		if (!l2.use_int && scale[0] > 0.0f && one_scale)
			Fail("integer kernel not used for one scale", dim, kind, 0, 1);
		VdbSq8Prepare(&ip, q, dim, false, offset, scale, span, max_norm);
		for (int r = 0; r < NROWS; r++)
		{
			const float *x = rows + (Size) r * dim;
			const uint8 *c = codes + (Size) r * dim;
			float		exact_l2 = VectorL2SquaredDistance(dim, q, x);
			float		exact_ip = -VectorInnerProduct(dim, q, x);
			float		lb_l2 = VdbSq8LowerBound(&l2, scale, c, errors[r]);
			float		lb_ip = VdbSq8LowerBound(&ip, scale, c, errors[r]);
			float		lb_l2f = VdbSq8LowerBound(&l2f, scale, c, errors[r]);
			VdbSq8Query l2cut = l2;
			float		lb_cut;

			/*
			 * Cut at a distance around the row's own (half the time past
			 * it): the bound must be the full one or one between beyond and
			 * the full one, and below the exact distance either way.
			 */
			VdbSq8SetBeyond(&l2cut, Max(lb_l2, 0.0f) * (float) (0.9 + 0.2 * Uniform()));
			lb_cut = VdbSq8LowerBound(&l2cut, scale, c, errors[r]);
			checks += 4;
			if (!(lb_cut <= exact_l2))
				Fail("L2 lower bound with a cut above the exact distance", dim, kind,
					 lb_cut, exact_l2);
			if (lb_cut != lb_l2 &&
				!(l2cut.cut && lb_cut >= l2cut.beyond && lb_cut <= lb_l2))
				Fail("L2 lower bound with a cut neither full nor past the cut", dim, kind,
					 lb_cut, lb_l2);
			if (lb_cut != lb_l2)
				cuts++;
			if (!(lb_l2f <= exact_l2))
				Fail("L2 (float kernel) lower bound above the exact distance", dim, kind,
					 lb_l2f, exact_l2);
			if (!(lb_l2 <= exact_l2))
				Fail("L2 lower bound above the exact distance", dim, kind, lb_l2, exact_l2);
			if (!(lb_ip <= exact_ip))
				Fail("inner product lower bound above the exact distance", dim, kind,
					 lb_ip, exact_ip);
			if (exact_l2 > 0.0f)
			{
				*tight_sum += Max(lb_l2, 0.0f) / exact_l2;
				(*tight_n)++;
			}
		}
		free(ip.qs);
		free(l2.q16);
		free(l2f.qs);
	}
	free(rows);
	free(codes);
	free(errors);
	free(offset);
	free(scale);
	free(center);
	free(q);
	free(qs);
}

/*
 * The integer kernel against a 64-bit reference, for every dim up to 2000,
 * without a limit and with one (a result at or below the limit must be the
 * sum; above it, a partial sum: above the limit and at most the sum).
 */
static void
CheckIntKernel(const char *variant)
{
	int16	   *q = malloc(sizeof(int16) * 2000);
	uint8	   *c = malloc(2000);

	for (int dim = 0; dim <= 2000; dim += (dim < 80 ? 1 : 37))
	{
		for (int round = 0; round < 4; round++)
		{
			uint64		want = 0;
			uint32		got;

			for (int i = 0; i < dim; i++)
			{
				/* round 0: the largest differences both ways */
				q[i] = round == 0 ? (i % 2 ? SQ8_INT_QUERY_MIN : SQ8_INT_QUERY_MAX)
					: (int16) (SQ8_INT_QUERY_MIN +
							   NextRandom() % (SQ8_INT_QUERY_MAX - SQ8_INT_QUERY_MIN + 1));
				c[i] = round == 0 ? (i % 2 ? 255 : 0) : (uint8) NextRandom();
				want += (uint64) ((int64) (q[i] - c[i]) * (q[i] - c[i]));
			}
			got = VectorSq8L2Int(dim, q, c, PG_UINT32_MAX);
			checks++;
			if (got != want)
			{
				printf("FAIL integer kernel %s: dim %d: %u, expected %llu\n", variant, dim,
					   got, (unsigned long long) want);
				failures++;
			}
			for (int cut = 0; cut < 4; cut++)
			{
				uint32		limit = cut == 0 ? 0 : (uint32) (want * cut / 4);

				got = VectorSq8L2Int(dim, q, c, limit);
				checks++;
				if (got > want || (want <= limit ? got != want : got <= limit))
				{
					printf("FAIL integer kernel %s: dim %d, limit %u: %u, sum %llu\n",
						   variant, dim, limit, got, (unsigned long long) want);
					failures++;
				}
			}
		}
	}
	free(q);
	free(c);
}

int
main(void)
{
	static const int dims[] = {1, 2, 7, 16, 17, 64, 100, 784, 2000};

	DistanceInit();
	for (int v = 0; v < DistanceVariantCount; v++)
	{
		const DistanceVariant *var = DistanceVariants[v];
		double		tight_sum = 0.0;
		long		tight_n = 0;

		if (!var->supported())
			continue;
		DistanceUse(var);
		CheckIntKernel(var->name);
		for (size_t d = 0; d < lengthof(dims); d++)
			for (int kind = 0; kind < 4; kind++)
				CheckOne(dims[d], kind, &tight_sum, &tight_n);
		printf("sq8 %s: mean L2 lower bound / exact distance %.4f\n", var->name,
			   tight_sum / Max(tight_n, 1));
		/* bounds that say nothing would pass the checks above: catch that */
		checks++;
		if (tight_sum / Max(tight_n, 1) < 0.5)
			Fail("L2 lower bounds are useless", 0, -1, tight_sum / Max(tight_n, 1), 0.5);
		/* and cuts that never happen would too */
		checks++;
		printf("sq8 %s: %ld bounds cut\n", var->name, cuts);
		if (cuts == 0)
			Fail("no bound was ever cut", 0, -1, 0, 1);
		cuts = 0;
	}
	printf("sq8: %ld checks, %ld failures\n", checks, failures);
	return failures == 0 ? 0 : 1;
}
