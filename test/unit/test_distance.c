/*
 * test_distance.c
 *	  Accuracy of every distance kernel variant this CPU runs.
 *
 * For every dim from 0 to MAX_DIM, random vectors with mixed signs and
 * magnitudes spread over several orders go through each kernel of each
 * variant (called directly, whatever DistanceInit() would choose) and are
 * compared with a double-precision evaluation of the same definition.  The
 * error must stay within a float rounding-error bound of the form
 * C * dim * FLT_EPSILON * (a norm product that bounds the sum of the
 * absolute terms).
 *
 * Every array ends right before a PROT_NONE page, so a kernel that reads
 * past the end of its input (a tail handled by a full-width load) crashes
 * the test instead of passing by luck.  Array starts are therefore at every
 * 4-byte (1-byte for codes) offset modulo the vector width, which exercises
 * the unaligned paths too.
 *
 * It also checks that identical vectors give exactly 0 in L2 and L1, and that
 * DistanceInit() installs the best variant this CPU supports.
 */
#include "c.h"

#include <float.h>
#include <math.h>
#include <sys/mman.h>
#include <unistd.h>

#include "distance_impl.h"

#define MAX_DIM 2000
#define PAIRS_PER_DIM 3

/*
 * The constant c in each bound (see distance.h): a sum of d terms rounds at
 * most d times, and each term carries one or two roundings of its own.  SQ8
 * L2 gets 3 because without FMA qs - scale * code rounds twice before it is
 * squared, which for d = 1 can reach 2.5 d eps.
 */
#define BOUND_C 2.0
#define BOUND_C_SQ8_L2 3.0

/* Failures reported in detail before the rest are only counted. */
#define MAX_REPORTED 20

typedef enum KernelId
{
	K_L2,
	K_IP,
	K_L1,
	K_COS_AB,
	K_COS_AA,
	K_COS_BB,
	K_SQ8_L2,
	K_SQ8_DOT,
	K_L2_REL,
	K_L2_NEAR,
	K_COUNT
} KernelId;

static const char *const kernel_names[K_COUNT] = {
	"l2_squared", "inner_product", "l1", "cosine a.b", "cosine a.a",
	"cosine b.b", "sq8_l2_squared", "sq8_dot", "l2 relative", "l2 near"
};

/* Worst error / bound seen, per variant and kernel. */
static double worst_ratio[8][K_COUNT];
static long checks;
static long failures;

static uint64 rng_state = UINT64CONST(0x9e3779b97f4a7c15);

/*
 * splitmix64: small, fast and good enough for test data.
 */
static uint64
NextRandom(void)
{
	uint64		z = (rng_state += UINT64CONST(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64CONST(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64CONST(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/*
 * Uniform in [0, 1).
 */
static double
RandomUnit(void)
{
	return (NextRandom() >> 11) * (1.0 / 9007199254740992.0);
}

/*
 * A float of random sign whose magnitude spans 2^-6 .. 2^6, so that terms
 * of very different sizes meet in one sum.
 */
static float
RandomMixed(void)
{
	double		m = 0.5 + 0.5 * RandomUnit();
	int			e = (int) (NextRandom() % 13) - 6;
	double		v = ldexp(m, e);

	return (float) ((NextRandom() & 1) ? -v : v);
}

/*
 * A region of n bytes that ends right before an inaccessible page.  Returns
 * the end of the usable bytes; callers take pointers just below it.
 */
static char *
GuardedEnd(size_t n)
{
	size_t		page = (size_t) sysconf(_SC_PAGESIZE);
	size_t		usable = (n + page - 1) / page * page;
	char	   *base;

	base = mmap(NULL, usable + page, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
	{
		perror("mmap");
		exit(2);
	}
	if (mprotect(base + usable, page, PROT_NONE) != 0)
	{
		perror("mprotect");
		exit(2);
	}
	return base + usable;
}

/*
 * Compare one result with its reference and bound; count and report.
 */
static void
Check(int variant, const char *vname, KernelId k, int dim,
	  double got, double want, double bound)
{
	double		err = fabs(got - want);
	double		ratio = bound > 0 ? err / bound : (err > 0 ? INFINITY : 0);

	checks++;
	if (ratio > worst_ratio[variant][k])
		worst_ratio[variant][k] = ratio;
	if (!(err <= bound))		/* also catches NaN */
	{
		if (failures < MAX_REPORTED)
			printf("FAIL %s %s dim=%d: got %.9g, want %.9g, error %.3g > bound %.3g\n",
				   vname, kernel_names[k], dim, got, want, err, bound);
		failures++;
	}
}

/*
 * Exact-zero check for a distance of a vector to itself.
 */
static void
CheckZero(const char *vname, const char *kname, int dim, float got)
{
	checks++;
	if (got != 0.0f)
	{
		if (failures < MAX_REPORTED)
			printf("FAIL %s %s of identical vectors, dim=%d: got %.9g, want 0\n",
				   vname, kname, dim, got);
		failures++;
	}
}

/*
 * Run every kernel of one variant over every dim.
 */
static void
TestVariant(int vi, const DistanceVariant *v,
			char *a_end, char *b_end, char *c_end, char *s_end)
{
	const double eps = FLT_EPSILON;

	for (int dim = 0; dim <= MAX_DIM; dim++)
	{
		float	   *a = (float *) a_end - dim;
		float	   *b = (float *) b_end - dim;
		float	   *scale = (float *) s_end - dim;
		uint8	   *code = (uint8 *) c_end - dim;

		for (int pair = 0; pair < PAIRS_PER_DIM; pair++)
		{
			double		l2 = 0,
						ip = 0,
						l1 = 0,
						aa = 0,
						bb = 0,
						na1 = 0,
						nb1 = 0,
						sq8l2 = 0,
						sq8dot = 0,
						nsc2 = 0,
						nc2 = 0;
			double		na,
						nb,
						nsc;
			float		fab,
						faa,
						fbb;

			for (int i = 0; i < dim; i++)
			{
				a[i] = RandomMixed();
				b[i] = RandomMixed();
				/* scales are positive; a code is any byte */
				scale[i] = fabsf(RandomMixed()) / 64.0f;
				code[i] = (uint8) (NextRandom() & 0xff);
			}

			for (int i = 0; i < dim; i++)
			{
				double		x = a[i],
							y = b[i],
							s = scale[i],
							c = code[i];

				l2 += (x - y) * (x - y);
				ip += x * y;
				l1 += fabs(x - y);
				aa += x * x;
				bb += y * y;
				na1 += fabs(x);
				nb1 += fabs(y);
				/* a plays qs and w for the SQ8 kernels */
				sq8l2 += (x - s * c) * (x - s * c);
				sq8dot += x * c;
				nsc2 += (s * c) * (s * c);
				nc2 += c * c;
			}
			na = sqrt(aa);
			nb = sqrt(bb);
			nsc = sqrt(nsc2);

			Check(vi, v->name, K_L2, dim, v->l2_squared(dim, a, b), l2,
				  BOUND_C * dim * eps * (na + nb) * (na + nb));
			Check(vi, v->name, K_IP, dim, v->inner_product(dim, a, b), ip,
				  BOUND_C * dim * eps * na * nb);
			Check(vi, v->name, K_L1, dim, v->l1(dim, a, b), l1,
				  BOUND_C * dim * eps * (na1 + nb1));
			v->cosine_parts(dim, a, b, &fab, &faa, &fbb);
			Check(vi, v->name, K_COS_AB, dim, fab, ip,
				  BOUND_C * dim * eps * na * nb);
			Check(vi, v->name, K_COS_AA, dim, faa, aa,
				  BOUND_C * dim * eps * na * na);
			Check(vi, v->name, K_COS_BB, dim, fbb, bb,
				  BOUND_C * dim * eps * nb * nb);
			Check(vi, v->name, K_SQ8_L2, dim,
				  v->sq8_l2_squared(dim, a, scale, code), sq8l2,
				  BOUND_C_SQ8_L2 * dim * eps * (na + nsc) * (na + nsc));
			Check(vi, v->name, K_SQ8_DOT, dim, v->sq8_dot(dim, a, code), sq8dot,
				  BOUND_C * dim * eps * na * sqrt(nc2));
			/* the relative bound that scans' lower bounds rely on (sq8.c) */
			Check(vi, v->name, K_L2_REL, dim, v->l2_squared(dim, a, b), l2,
				  (dim + 8) * eps * l2 + (dim + 8) * FLT_MIN);

			/* and for neighbours: b within 0.1% of a */
			l2 = 0;
			for (int i = 0; i < dim; i++)
			{
				b[i] = a[i] * (1.0f + 1e-3f * (float) (2.0 * RandomUnit() - 1.0));
				l2 += ((double) a[i] - b[i]) * ((double) a[i] - b[i]);
			}
			Check(vi, v->name, K_L2_NEAR, dim, v->l2_squared(dim, a, b), l2,
				  (dim + 8) * eps * l2 + (dim + 8) * FLT_MIN);
		}

		/* a vector against itself: every difference is exactly zero */
		memcpy(b, a, dim * sizeof(float));
		CheckZero(v->name, "l2_squared", dim, v->l2_squared(dim, a, b));
		CheckZero(v->name, "l1", dim, v->l1(dim, a, b));
	}
}

/*
 * Before DistanceInit() the pointers must be usable: the portable family.
 */
static void
TestDefaults(void)
{
	const DistanceVariant *s = &DistanceVariantScalar;

	checks++;
	if (strcmp(DistanceKernelName(), "scalar") != 0 ||
		VectorL2SquaredDistance != s->l2_squared ||
		VectorInnerProduct != s->inner_product ||
		VectorL1Distance != s->l1 ||
		VectorCosineParts != s->cosine_parts ||
		VectorSq8L2Squared != s->sq8_l2_squared ||
		VectorSq8Dot != s->sq8_dot)
	{
		printf("FAIL before DistanceInit() the kernels are not the portable ones\n");
		failures++;
	}
}

/*
 * DistanceInit() must install the first supported variant, all of it.
 */
static void
TestDispatch(void)
{
	const DistanceVariant *best = NULL;

	for (int i = 0; i < DistanceVariantCount && best == NULL; i++)
		if (DistanceVariants[i]->supported())
			best = DistanceVariants[i];

	DistanceInit();
	checks++;
	if (best == NULL ||
		strcmp(DistanceKernelName(), best->name) != 0 ||
		VectorL2SquaredDistance != best->l2_squared ||
		VectorInnerProduct != best->inner_product ||
		VectorL1Distance != best->l1 ||
		VectorCosineParts != best->cosine_parts ||
		VectorSq8L2Squared != best->sq8_l2_squared ||
		VectorSq8Dot != best->sq8_dot)
	{
		printf("FAIL DistanceInit() chose \"%s\", expected \"%s\" with all its kernels\n",
			   DistanceKernelName(), best ? best->name : "(none)");
		failures++;
	}
	else
		printf("DistanceInit() chose \"%s\"\n", DistanceKernelName());
}

/*
 * Check every supported variant, then the dispatch; exit 1 on any failure.
 */
int
main(void)
{
	char	   *a_end = GuardedEnd(MAX_DIM * sizeof(float));
	char	   *b_end = GuardedEnd(MAX_DIM * sizeof(float));
	char	   *s_end = GuardedEnd(MAX_DIM * sizeof(float));
	char	   *c_end = GuardedEnd(MAX_DIM);
	int			tested = 0;

	if (DistanceVariantCount > (int) lengthof(worst_ratio))
	{
		printf("too many variants for this test\n");
		return 2;
	}

	printf("distance kernels: dims 0..%d, %d random pairs per dim, error bound %.0f*d*FLT_EPSILON*norms (%.0f for sq8_l2)\n",
		   MAX_DIM, PAIRS_PER_DIM, BOUND_C, BOUND_C_SQ8_L2);

	TestDefaults();

	for (int vi = 0; vi < DistanceVariantCount; vi++)
	{
		const DistanceVariant *v = DistanceVariants[vi];

		if (!v->supported())
		{
			printf("variant %-6s: not supported by this CPU, skipped\n", v->name);
			continue;
		}
		TestVariant(vi, v, a_end, b_end, c_end, s_end);
		tested++;
		printf("variant %-6s: worst error/bound", v->name);
		for (int k = 0; k < K_COUNT; k++)
			printf(" %s %.3f%s", kernel_names[k], worst_ratio[vi][k],
				   k + 1 < K_COUNT ? "," : "\n");
	}

	TestDispatch();

	printf("%d variants, %ld checks, %ld failures\n", tested, checks, failures);
	return failures == 0 && tested > 0 ? 0 : 1;
}
