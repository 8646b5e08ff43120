/*
 * distance_avx2.c
 *	  Distance kernels for x86-64 CPUs with AVX2 and FMA.
 *
 * Each function is compiled for AVX2+FMA by its own target attribute, not by
 * a global -m flag, so the rest of the library stays baseline x86-64 and
 * DistanceInit() calls into this file only after checking the CPU.
 *
 * The main loops keep four 8-float accumulators: an FMA has a latency of
 * about four cycles, so a single accumulator would leave the FMA units idle
 * three cycles out of four.  The last dim % 8 elements go through masked
 * loads (VMASKMOVPS does not touch memory under a zero mask bit), or for
 * SQ8 codes an overlapping in-bounds load (see LoadSq8Tail), so no kernel
 * reads past the end of its arrays.
 */
#include "c.h"

#include "distance_impl.h"

#ifdef VDB_HAVE_X86_KERNELS

#include <immintrin.h>

#define VDB_TARGET_AVX2 __attribute__((target("avx2,fma")))

/*
 * tail_mask + 8 - n, loaded as 8 ints, is a mask of the first n lanes;
 * end_mask + n one of the last n lanes.
 */
static const int32 tail_mask[16] = {
	-1, -1, -1, -1, -1, -1, -1, -1,
	0, 0, 0, 0, 0, 0, 0, 0
};
static const int32 end_mask[16] = {
	0, 0, 0, 0, 0, 0, 0, 0,
	-1, -1, -1, -1, -1, -1, -1, -1
};

/*
 * Mask selecting the first n (0..7) float lanes.
 */
VDB_TARGET_AVX2 static inline __m256i
TailMask(int n)
{
	return _mm256_loadu_si256((const __m256i *) (tail_mask + 8 - n));
}

/*
 * Sum of the 8 lanes.
 */
VDB_TARGET_AVX2 static inline float
HorizontalSum(__m256 v)
{
	__m128		lo = _mm256_castps256_ps128(v);
	__m128		hi = _mm256_extractf128_ps(v, 1);

	lo = _mm_add_ps(lo, hi);
	lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
	lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
	return _mm_cvtss_f32(lo);
}

/*
 * 8 SQ8 codes widened to floats.
 */
VDB_TARGET_AVX2 static inline __m256
LoadCodes(const uint8 *code)
{
	__m128i		bytes = _mm_loadl_epi64((const __m128i *) code);

	return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes));
}

/*
 * The last n (1..7) SQ8 codes widened to floats, zero beyond them.  They are
 * gathered byte by byte: an 8-byte load could cross into an unmapped page,
 * and a memcpy to a buffer would be a library call, around which the
 * compiler keeps the caller's accumulators in memory for the whole loop.
 */
VDB_TARGET_AVX2 static inline __m256
LoadCodesTail(const uint8 *code, int n)
{
	uint64		bytes = 0;

	for (int k = n - 1; k >= 0; k--)
		bytes = bytes << 8 | code[k];
	return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128((int64) bytes)));
}

/*
 * The SQ8 tail, elements i..dim-1 (fewer than 8), as codes in a register
 * whose lanes start at element *start; *m selects the tail's lanes, for the
 * caller's masked loads of the matching floats (zero elsewhere, so the other
 * lanes add nothing).  With dim >= 8 the 8 codes ending at dim are loaded in
 * place, all in bounds, and the tail takes the top lanes; only shorter
 * vectors gather their codes byte by byte.
 */
VDB_TARGET_AVX2 static inline __m256
LoadSq8Tail(int dim, int i, const uint8 *code, int *start, __m256i *m)
{
	int			n = dim - i;

	if (dim >= 8)
	{
		*start = dim - 8;
		*m = _mm256_loadu_si256((const __m256i *) (end_mask + n));
		return LoadCodes(code + *start);
	}
	*start = i;
	*m = TailMask(n);
	return LoadCodesTail(code + i, n);
}

/*
 * Sum of squared differences.
 */
VDB_TARGET_AVX2 static float
L2SquaredAvx2(int dim, const float *a, const float *b)
{
	__m256		s0 = _mm256_setzero_ps();
	__m256		s1 = _mm256_setzero_ps();
	__m256		s2 = _mm256_setzero_ps();
	__m256		s3 = _mm256_setzero_ps();
	__m256		d;
	int			i = 0;

	for (; i + 32 <= dim; i += 32)
	{
		__m256		d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
		__m256		d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
		__m256		d2 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16));
		__m256		d3 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24));

		s0 = _mm256_fmadd_ps(d0, d0, s0);
		s1 = _mm256_fmadd_ps(d1, d1, s1);
		s2 = _mm256_fmadd_ps(d2, d2, s2);
		s3 = _mm256_fmadd_ps(d3, d3, s3);
	}
	for (; i + 8 <= dim; i += 8)
	{
		d = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
		s0 = _mm256_fmadd_ps(d, d, s0);
	}
	if (i < dim)
	{
		__m256i		m = TailMask(dim - i);

		d = _mm256_sub_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m));
		s1 = _mm256_fmadd_ps(d, d, s1);
	}
	return HorizontalSum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

/*
 * Dot product.
 */
VDB_TARGET_AVX2 static float
InnerProductAvx2(int dim, const float *a, const float *b)
{
	__m256		s0 = _mm256_setzero_ps();
	__m256		s1 = _mm256_setzero_ps();
	__m256		s2 = _mm256_setzero_ps();
	__m256		s3 = _mm256_setzero_ps();
	int			i = 0;

	for (; i + 32 <= dim; i += 32)
	{
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
		s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
		s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
		s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
	}
	for (; i + 8 <= dim; i += 8)
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
	if (i < dim)
	{
		__m256i		m = TailMask(dim - i);

		s1 = _mm256_fmadd_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m), s1);
	}
	return HorizontalSum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

/*
 * Sum of absolute differences.  |x| clears the sign bit.
 */
VDB_TARGET_AVX2 static float
L1Avx2(int dim, const float *a, const float *b)
{
	const __m256 sign = _mm256_set1_ps(-0.0f);
	__m256		s0 = _mm256_setzero_ps();
	__m256		s1 = _mm256_setzero_ps();
	__m256		s2 = _mm256_setzero_ps();
	__m256		s3 = _mm256_setzero_ps();
	__m256		d;
	int			i = 0;

	for (; i + 32 <= dim; i += 32)
	{
		__m256		d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
		__m256		d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
		__m256		d2 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16));
		__m256		d3 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24));

		s0 = _mm256_add_ps(s0, _mm256_andnot_ps(sign, d0));
		s1 = _mm256_add_ps(s1, _mm256_andnot_ps(sign, d1));
		s2 = _mm256_add_ps(s2, _mm256_andnot_ps(sign, d2));
		s3 = _mm256_add_ps(s3, _mm256_andnot_ps(sign, d3));
	}
	for (; i + 8 <= dim; i += 8)
	{
		d = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
		s0 = _mm256_add_ps(s0, _mm256_andnot_ps(sign, d));
	}
	if (i < dim)
	{
		__m256i		m = TailMask(dim - i);

		d = _mm256_sub_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m));
		s1 = _mm256_add_ps(s1, _mm256_andnot_ps(sign, d));
	}
	return HorizontalSum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

/*
 * a.b, a.a and b.b in one pass: two sets of three accumulators.
 */
VDB_TARGET_AVX2 static void
CosinePartsAvx2(int dim, const float *a, const float *b,
				float *ab, float *aa, float *bb)
{
	__m256		ab0 = _mm256_setzero_ps(),
				ab1 = _mm256_setzero_ps();
	__m256		aa0 = _mm256_setzero_ps(),
				aa1 = _mm256_setzero_ps();
	__m256		bb0 = _mm256_setzero_ps(),
				bb1 = _mm256_setzero_ps();
	__m256		x,
				y;
	int			i = 0;

	for (; i + 16 <= dim; i += 16)
	{
		__m256		x0 = _mm256_loadu_ps(a + i);
		__m256		y0 = _mm256_loadu_ps(b + i);
		__m256		x1 = _mm256_loadu_ps(a + i + 8);
		__m256		y1 = _mm256_loadu_ps(b + i + 8);

		ab0 = _mm256_fmadd_ps(x0, y0, ab0);
		aa0 = _mm256_fmadd_ps(x0, x0, aa0);
		bb0 = _mm256_fmadd_ps(y0, y0, bb0);
		ab1 = _mm256_fmadd_ps(x1, y1, ab1);
		aa1 = _mm256_fmadd_ps(x1, x1, aa1);
		bb1 = _mm256_fmadd_ps(y1, y1, bb1);
	}
	if (i + 8 <= dim)
	{
		x = _mm256_loadu_ps(a + i);
		y = _mm256_loadu_ps(b + i);
		ab0 = _mm256_fmadd_ps(x, y, ab0);
		aa0 = _mm256_fmadd_ps(x, x, aa0);
		bb0 = _mm256_fmadd_ps(y, y, bb0);
		i += 8;
	}
	if (i < dim)
	{
		__m256i		m = TailMask(dim - i);

		x = _mm256_maskload_ps(a + i, m);
		y = _mm256_maskload_ps(b + i, m);
		ab1 = _mm256_fmadd_ps(x, y, ab1);
		aa1 = _mm256_fmadd_ps(x, x, aa1);
		bb1 = _mm256_fmadd_ps(y, y, bb1);
	}
	*ab = HorizontalSum(_mm256_add_ps(ab0, ab1));
	*aa = HorizontalSum(_mm256_add_ps(aa0, aa1));
	*bb = HorizontalSum(_mm256_add_ps(bb0, bb1));
}

/*
 * sum (qs[i] - scale[i] * code[i])^2 over SQ8 codes.
 */
VDB_TARGET_AVX2 static float
Sq8L2SquaredAvx2(int dim, const float *qs, const float *scale,
				 const uint8 *code)
{
	__m256		s0 = _mm256_setzero_ps();
	__m256		s1 = _mm256_setzero_ps();
	__m256		s2 = _mm256_setzero_ps();
	__m256		s3 = _mm256_setzero_ps();
	__m256		d;
	int			i = 0;

	for (; i + 32 <= dim; i += 32)
	{
		__m256		d0 = _mm256_fnmadd_ps(_mm256_loadu_ps(scale + i), LoadCodes(code + i), _mm256_loadu_ps(qs + i));
		__m256		d1 = _mm256_fnmadd_ps(_mm256_loadu_ps(scale + i + 8), LoadCodes(code + i + 8), _mm256_loadu_ps(qs + i + 8));
		__m256		d2 = _mm256_fnmadd_ps(_mm256_loadu_ps(scale + i + 16), LoadCodes(code + i + 16), _mm256_loadu_ps(qs + i + 16));
		__m256		d3 = _mm256_fnmadd_ps(_mm256_loadu_ps(scale + i + 24), LoadCodes(code + i + 24), _mm256_loadu_ps(qs + i + 24));

		s0 = _mm256_fmadd_ps(d0, d0, s0);
		s1 = _mm256_fmadd_ps(d1, d1, s1);
		s2 = _mm256_fmadd_ps(d2, d2, s2);
		s3 = _mm256_fmadd_ps(d3, d3, s3);
	}
	for (; i + 8 <= dim; i += 8)
	{
		d = _mm256_fnmadd_ps(_mm256_loadu_ps(scale + i), LoadCodes(code + i), _mm256_loadu_ps(qs + i));
		s0 = _mm256_fmadd_ps(d, d, s0);
	}
	if (i < dim)
	{
		int			start;
		__m256i		m;
		__m256		codes = LoadSq8Tail(dim, i, code, &start, &m);

		d = _mm256_fnmadd_ps(_mm256_maskload_ps(scale + start, m), codes,
							 _mm256_maskload_ps(qs + start, m));
		s1 = _mm256_fmadd_ps(d, d, s1);
	}
	return HorizontalSum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

/*
 * sum w[i] * code[i] over SQ8 codes.
 */
VDB_TARGET_AVX2 static float
Sq8DotAvx2(int dim, const float *w, const uint8 *code)
{
	__m256		s0 = _mm256_setzero_ps();
	__m256		s1 = _mm256_setzero_ps();
	__m256		s2 = _mm256_setzero_ps();
	__m256		s3 = _mm256_setzero_ps();
	int			i = 0;

	for (; i + 32 <= dim; i += 32)
	{
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), LoadCodes(code + i), s0);
		s1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8), LoadCodes(code + i + 8), s1);
		s2 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 16), LoadCodes(code + i + 16), s2);
		s3 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 24), LoadCodes(code + i + 24), s3);
	}
	for (; i + 8 <= dim; i += 8)
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), LoadCodes(code + i), s0);
	if (i < dim)
	{
		int			start;
		__m256i		m;
		__m256		codes = LoadSq8Tail(dim, i, code, &start, &m);

		s1 = _mm256_fmadd_ps(_mm256_maskload_ps(w + start, m), codes, s1);
	}
	return HorizontalSum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

/*
 * sum (q[i] - code[i])^2 over [from, to) in 32-bit integers, exact (see
 * distance.h for the ranges that keep it from overflowing).  16 dimensions a
 * step: codes widened to 16 bits, subtracted, and VPMADDWD squares and adds
 * pairs into 32-bit lanes; two accumulators, as a step is short.
 */
VDB_TARGET_AVX2 static inline uint32
Sq8L2IntSpan(const int16 *q, const uint8 *code, int from, int to)
{
	__m256i		s0 = _mm256_setzero_si256();
	__m256i		s1 = _mm256_setzero_si256();
	__m128i		lo;
	uint32		sum = 0;
	int			i = from;

	for (; i + 32 <= to; i += 32)
	{
		__m256i		d0 = _mm256_sub_epi16(_mm256_loadu_si256((const __m256i *) (q + i)),
										  _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *) (code + i))));
		__m256i		d1 = _mm256_sub_epi16(_mm256_loadu_si256((const __m256i *) (q + i + 16)),
										  _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *) (code + i + 16))));

		s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(d0, d0));
		s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(d1, d1));
	}
	for (; i + 16 <= to; i += 16)
	{
		__m256i		d = _mm256_sub_epi16(_mm256_loadu_si256((const __m256i *) (q + i)),
										 _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *) (code + i))));

		s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(d, d));
	}
	for (; i < to; i++)
	{
		int32		d = (int32) q[i] - (int32) code[i];

		sum += (uint32) (d * d);
	}
	s0 = _mm256_add_epi32(s0, s1);
	lo = _mm_add_epi32(_mm256_castsi256_si128(s0), _mm256_extracti128_si256(s0, 1));
	lo = _mm_add_epi32(lo, _mm_shuffle_epi32(lo, _MM_SHUFFLE(1, 0, 3, 2)));
	lo = _mm_add_epi32(lo, _mm_shuffle_epi32(lo, _MM_SHUFFLE(2, 3, 0, 1)));
	return sum + (uint32) _mm_cvtsi128_si32(lo);
}

/*
 * The integer SQ8 kernel (distance.h): in one pass without a limit (the
 * checks cost a third of the time of a full pass), else SQ8_INT_STEP
 * dimensions at a time.
 */
VDB_TARGET_AVX2 static uint32
Sq8L2IntAvx2(int dim, const int16 *q, const uint8 *code, uint32 limit)
{
	uint32		sum = 0;

	if (limit == PG_UINT32_MAX)
		return Sq8L2IntSpan(q, code, 0, dim);
	for (int step = 0; step < dim; step += SQ8_INT_STEP)
	{
		sum += Sq8L2IntSpan(q, code, step, Min(dim, step + SQ8_INT_STEP));
		if (sum > limit)
			break;
	}
	return sum;
}

/*
 * Does this CPU (and OS, which must save the YMM state) run AVX2 and FMA?
 * libgcc's CPU model checks both.
 */
static bool
Avx2Supported(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

const DistanceVariant DistanceVariantAvx2 = {
	.name = "avx2",
	.supported = Avx2Supported,
	.l2_squared = L2SquaredAvx2,
	.inner_product = InnerProductAvx2,
	.l1 = L1Avx2,
	.cosine_parts = CosinePartsAvx2,
	.sq8_l2_squared = Sq8L2SquaredAvx2,
	.sq8_dot = Sq8DotAvx2,
	.sq8_int_l2 = Sq8L2IntAvx2,
};

#endif							/* VDB_HAVE_X86_KERNELS */
