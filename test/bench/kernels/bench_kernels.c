/*
 * bench_kernels.c
 *	  Throughput of the distance kernels, per ISA variant, against the
 *	  machine's single-thread read bandwidth measured in the same run.
 *
 * One query vector is compared with n stored vectors laid out contiguously,
 * as a scan of a posting list does.  Throughput is the bytes of stored
 * vectors read per second (the query stays in L1 and is not counted).  Two
 * working sets:
 *
 *	cache	1,000 vectors, scanned over and over (in L2 or L3);
 *	stream	a buffer of STREAM_MIB (default 1 GiB) scanned once per pass,
 *			so the data comes from memory.
 *
 * The reference bandwidth is a vectorised sum over the same 1 GiB buffer
 * with the widest SIMD this CPU has.  Times are the thread's CPU time, so
 * that being descheduled does not count.  The machine is shared, so the whole
 * table is measured ROUNDS times, the bandwidth once per round, and every
 * figure is its best round: spreading the trials of one figure over the
 * whole run keeps a busy spell from spoiling it.  The ratios use the best
 * bandwidth; the worst is printed as a gauge of the noise.
 *
 * Usage: bench_kernels [stream MiB [kernel name prefix]]
 * Prints a Markdown table.
 */
#include "c.h"

#include <math.h>
#include <sys/mman.h>
#include <time.h>

#include "distance_impl.h"

#ifdef VDB_HAVE_X86_KERNELS
#include <immintrin.h>
#endif

#define CACHE_VECTORS 1000
/* Rounds over the whole table; each figure is its best round. */
#define ROUNDS 5
#define DIMS 3
/* Each cache trial repeats its scan for at least this long. */
#define CACHE_TRIAL_SECONDS 0.1

typedef enum BenchKernel
{
	B_L2,
	B_IP,
	B_COSINE,
	B_SQ8_L2,
	B_SQ8_DOT,
	B_COUNT
} BenchKernel;

static const char *const bench_kernel_names[B_COUNT] = {
	"l2", "ip", "cosine", "sq8_l2", "sq8_dot"
};

static volatile float sink;

/*
 * Seconds of this thread's CPU time: on a shared machine, time spent
 * descheduled says nothing about the kernels.
 */
static double
Now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/*
 * Bytes one stored vector takes for this kernel.
 */
static size_t
VectorBytes(BenchKernel k, int dim)
{
	if (k == B_SQ8_L2 || k == B_SQ8_DOT)
		return (size_t) dim;
	return (size_t) dim * sizeof(float);
}

/*
 * One scan: the query against n stored vectors starting at base.
 */
static float
Scan(const DistanceVariant *v, BenchKernel k, int dim, const float *query,
	 const float *scale, const char *base, size_t n)
{
	size_t		stride = VectorBytes(k, dim);
	float		acc = 0;

	for (size_t i = 0; i < n; i++)
	{
		const char *p = base + i * stride;
		float		ab,
					aa,
					bb;

		switch (k)
		{
			case B_L2:
				acc += v->l2_squared(dim, query, (const float *) p);
				break;
			case B_IP:
				acc += v->inner_product(dim, query, (const float *) p);
				break;
			case B_COSINE:
				v->cosine_parts(dim, query, (const float *) p, &ab, &aa, &bb);
				acc += ab / sqrtf(aa * bb);
				break;
			case B_SQ8_L2:
				acc += v->sq8_l2_squared(dim, query, scale, (const uint8 *) p);
				break;
			case B_SQ8_DOT:
				acc += v->sq8_dot(dim, query, (const uint8 *) p);
				break;
			default:
				break;
		}
	}
	return acc;
}

/*
 * GB/s of one trial of scanning n vectors at base; a cache-resident trial
 * (repeat) rescans them until it has run CACHE_TRIAL_SECONDS.
 */
static double
MeasureScan(const DistanceVariant *v, BenchKernel k, int dim,
			const float *query, const float *scale, const char *base,
			size_t n, bool repeat)
{
	double		start;
	double		elapsed;
	long		passes = 0;

	/* warm up the caches (a streaming pass would only evict them again) */
	if (repeat)
		sink = Scan(v, k, dim, query, scale, base, n);

	start = Now();
	do
	{
		sink = Scan(v, k, dim, query, scale, base, n);
		passes++;
		elapsed = Now() - start;
	} while (repeat && elapsed < CACHE_TRIAL_SECONDS);

	return passes * n * VectorBytes(k, dim) / elapsed / 1e9;
}

#ifdef VDB_HAVE_X86_KERNELS
/*
 * Sum of n floats with AVX-512, eight accumulators: a read-bandwidth probe.
 */
__attribute__((target("avx512f")))
static float
SumAvx512(const float *x, size_t n)
{
	__m512		s[8];
	size_t		i = 0;

	for (int j = 0; j < 8; j++)
		s[j] = _mm512_setzero_ps();
	for (; i + 128 <= n; i += 128)
		for (int j = 0; j < 8; j++)
			s[j] = _mm512_add_ps(s[j], _mm512_loadu_ps(x + i + 16 * j));
	for (int j = 1; j < 8; j++)
		s[0] = _mm512_add_ps(s[0], s[j]);
	return _mm512_reduce_add_ps(s[0]);
}

/*
 * Sum of n floats with AVX2, eight accumulators.
 */
__attribute__((target("avx2")))
static float
SumAvx2(const float *x, size_t n)
{
	__m256		s[8];
	__m128		r;
	size_t		i = 0;

	for (int j = 0; j < 8; j++)
		s[j] = _mm256_setzero_ps();
	for (; i + 64 <= n; i += 64)
		for (int j = 0; j < 8; j++)
			s[j] = _mm256_add_ps(s[j], _mm256_loadu_ps(x + i + 8 * j));
	for (int j = 1; j < 8; j++)
		s[0] = _mm256_add_ps(s[0], s[j]);
	r = _mm_add_ps(_mm256_castps256_ps128(s[0]), _mm256_extractf128_ps(s[0], 1));
	r = _mm_hadd_ps(r, r);
	r = _mm_hadd_ps(r, r);
	return _mm_cvtss_f32(r);
}
#endif

/*
 * Sum of n floats, portable, eight accumulators (SSE2 on x86-64).
 */
static float
SumPortable(const float *x, size_t n)
{
	float		s[8] = {0};
	size_t		i = 0;

	for (; i + 8 <= n; i += 8)
		for (int j = 0; j < 8; j++)
			s[j] += x[i + j];
	for (int j = 1; j < 8; j++)
		s[0] += s[j];
	return s[0];
}

/*
 * Single-thread read bandwidth in GB/s over the buffer: the best of two
 * passes after a warm-up pass.
 */
static double
MeasureBandwidth(const float *x, size_t n, const char **how)
{
	float		(*sum) (const float *, size_t) = SumPortable;
	double		best = 0;

	*how = "portable";
#ifdef VDB_HAVE_X86_KERNELS
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f"))
	{
		sum = SumAvx512;
		*how = "avx512";
	}
	else if (__builtin_cpu_supports("avx2"))
	{
		sum = SumAvx2;
		*how = "avx2";
	}
#endif
	sink = sum(x, n);
	for (int t = 0; t < 2; t++)
	{
		double		start = Now();

		sink = sum(x, n);
		best = Max(best, n * sizeof(float) / (Now() - start) / 1e9);
	}
	return best;
}

/*
 * Fill the buffer, measure every (kernel, dim, variant) ROUNDS times, print
 * the best of each.
 */
int
main(int argc, char **argv)
{
	static const int dims[DIMS] = {128, 784, 1536};
	static double cache[B_COUNT][DIMS][8];
	static double stream[B_COUNT][DIMS][8];
	double		bw_max = 0,
				bw_min = INFINITY;
	size_t		stream_bytes = (size_t) (argc > 1 ? atol(argv[1]) : 1024) << 20;
	float	   *buf;
	float	   *query;
	float	   *scale;
	uint64		rng = 42;
	const char *bw_how = "";

	buf = mmap(NULL, stream_bytes, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
	{
		perror("mmap");
		return 2;
	}
	/* the same pages for the bandwidth probe and the scans */
	(void) madvise(buf, stream_bytes, MADV_HUGEPAGE);
	for (size_t i = 0; i < stream_bytes / sizeof(float); i++)
	{
		rng = rng * UINT64CONST(6364136223846793005) + 1442695040888963407;
		buf[i] = (float) ((int32) (rng >> 32)) / 2147483648.0f;
	}
	query = malloc(2000 * sizeof(float));
	scale = malloc(2000 * sizeof(float));
	for (int i = 0; i < 2000; i++)
	{
		query[i] = buf[i] * 0.5f + 0.25f;
		scale[i] = 1.0f / 256;
	}

	for (int round = 0; round < ROUNDS; round++)
	{
		double		b = MeasureBandwidth(buf, stream_bytes / sizeof(float), &bw_how);

		bw_max = Max(bw_max, b);
		bw_min = Min(bw_min, b);

		for (int k = 0; k < B_COUNT; k++)
		{
			if (argc > 2 && strncmp(bench_kernel_names[k], argv[2], strlen(argv[2])) != 0)
				continue;
			for (int di = 0; di < DIMS; di++)
			{
				int			dim = dims[di];
				size_t		n_stream = stream_bytes / VectorBytes(k, dim);

				for (int vi = 0; vi < DistanceVariantCount; vi++)
				{
					const DistanceVariant *v = DistanceVariants[vi];
					double		c,
								st;

					if (!v->supported())
						continue;
					c = MeasureScan(v, k, dim, query, scale, (const char *) buf,
									CACHE_VECTORS, true);
					st = MeasureScan(v, k, dim, query, scale, (const char *) buf,
									 n_stream, false);
					cache[k][di][vi] = Max(cache[k][di][vi], c);
					stream[k][di][vi] = Max(stream[k][di][vi], st);
				}
			}
		}
	}

	printf("Single-thread read bandwidth (%s sum over %zu MiB): best %.1f GB/s (worst round %.1f)\n\n",
		   bw_how, stream_bytes >> 20, bw_max, bw_min);
	printf("GB/s of stored vector data (float4, or 1 byte/dim for sq8), best of %d rounds; ratio = / best read bandwidth\n\n",
		   ROUNDS);
	printf("| kernel | dim | variant | cache GB/s | cache ratio | stream GB/s | stream ratio |\n");
	printf("|---|---:|---|---:|---:|---:|---:|\n");
	for (int k = 0; k < B_COUNT; k++)
		for (int di = 0; di < DIMS; di++)
			for (int vi = 0; vi < DistanceVariantCount; vi++)
			{
				if (stream[k][di][vi] == 0)
					continue;
				printf("| %s | %d | %s | %.1f | %.2f | %.1f | %.2f |\n",
					   bench_kernel_names[k], dims[di], DistanceVariants[vi]->name,
					   cache[k][di][vi], cache[k][di][vi] / bw_max,
					   stream[k][di][vi], stream[k][di][vi] / bw_max);
			}
	return 0;
}
