/*
 * distance_avx512.c
 *	  Distance kernels for x86-64 CPUs with AVX-512F.
 *
 * Each function is compiled for AVX-512F by its own target attribute, not
 * by a global -m flag, so the rest of the library stays baseline x86-64 and
 * DistanceInit() calls into this file only after checking the CPU.  The
 * float kernels use AVX-512F only; the integer SQ8 kernel needs 16-bit lanes
 * and masked byte loads (AVX-512BW and VL), which every AVX-512 CPU but the
 * Xeon Phi has: those run the AVX2 family.
 *
 * The main loops keep four 16-float accumulators to cover the FMA latency.
 * The last dim % 16 floats go through masked loads, which do not touch the
 * memory under a zero mask bit, so no kernel reads past its arrays.  Byte
 * masked loads need AVX-512BW, so the last SQ8 codes come from an
 * overlapping in-bounds load instead (see LoadSq8Tail).
 */
#include "c.h"

#include "distance_impl.h"

#ifdef VDB_HAVE_X86_KERNELS

#include <immintrin.h>

#define VDB_TARGET_AVX512 __attribute__((target("avx512f")))
#define VDB_TARGET_AVX512BW __attribute__((target("avx512f,avx512bw,avx512vl")))

/*
 * Mask selecting the first n (0..15) lanes.
 */
static inline __mmask16
TailMask(int n)
{
	return (__mmask16) ((1U << n) - 1);
}

/*
 * 16 SQ8 codes widened to floats.
 */
VDB_TARGET_AVX512 static inline __m512
LoadCodes(const uint8 *code)
{
	__m128i		bytes = _mm_loadu_si128((const __m128i *) code);

	return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(bytes));
}

/*
 * The last n (1..15) SQ8 codes widened to floats, zero beyond them.  They
 * are gathered byte by byte: a 16-byte load could cross into an unmapped
 * page, and a memcpy to a buffer would be a library call, around which the
 * compiler keeps the caller's accumulators in memory for the whole loop.
 */
VDB_TARGET_AVX512 static inline __m512
LoadCodesTail(const uint8 *code, int n)
{
	uint64		lo = 0,
				hi = 0;

	for (int k = n - 1; k >= 8; k--)
		hi = hi << 8 | code[k];
	for (int k = Min(n, 8) - 1; k >= 0; k--)
		lo = lo << 8 | code[k];
	return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_set_epi64x((int64) hi, (int64) lo)));
}

/*
 * The SQ8 tail, elements i..dim-1 (fewer than 16), as codes in a register
 * whose lanes start at element *start; *m selects the tail's lanes, for the
 * caller's masked loads of the matching floats (zero elsewhere, so the other
 * lanes add nothing).  With dim >= 16 the 16 codes ending at dim are loaded
 * in place, all in bounds, and the tail takes the top lanes; only shorter
 * vectors gather their codes byte by byte.
 */
VDB_TARGET_AVX512 static inline __m512
LoadSq8Tail(int dim, int i, const uint8 *code, int *start, __mmask16 *m)
{
	int			n = dim - i;

	if (dim >= 16)
	{
		*start = dim - 16;
		*m = (__mmask16) (0xFFFF0000U >> n);	/* the top n lanes */
		return LoadCodes(code + *start);
	}
	*start = i;
	*m = TailMask(n);
	return LoadCodesTail(code + i, n);
}

/*
 * Sum of squared differences.
 */
VDB_TARGET_AVX512 static float
L2SquaredAvx512(int dim, const float *a, const float *b)
{
	__m512		s0 = _mm512_setzero_ps();
	__m512		s1 = _mm512_setzero_ps();
	__m512		s2 = _mm512_setzero_ps();
	__m512		s3 = _mm512_setzero_ps();
	__m512		d;
	int			i = 0;

	for (; i + 64 <= dim; i += 64)
	{
		__m512		d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
		__m512		d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
		__m512		d2 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32));
		__m512		d3 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48));

		s0 = _mm512_fmadd_ps(d0, d0, s0);
		s1 = _mm512_fmadd_ps(d1, d1, s1);
		s2 = _mm512_fmadd_ps(d2, d2, s2);
		s3 = _mm512_fmadd_ps(d3, d3, s3);
	}
	for (; i + 16 <= dim; i += 16)
	{
		d = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
		s0 = _mm512_fmadd_ps(d, d, s0);
	}
	if (i < dim)
	{
		__mmask16	m = TailMask(dim - i);

		d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
		s1 = _mm512_fmadd_ps(d, d, s1);
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

/*
 * Dot product.
 */
VDB_TARGET_AVX512 static float
InnerProductAvx512(int dim, const float *a, const float *b)
{
	__m512		s0 = _mm512_setzero_ps();
	__m512		s1 = _mm512_setzero_ps();
	__m512		s2 = _mm512_setzero_ps();
	__m512		s3 = _mm512_setzero_ps();
	int			i = 0;

	for (; i + 64 <= dim; i += 64)
	{
		s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
		s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
		s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
		s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
	}
	for (; i + 16 <= dim; i += 16)
		s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
	if (i < dim)
	{
		__mmask16	m = TailMask(dim - i);

		s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

/*
 * Sum of absolute differences.
 */
VDB_TARGET_AVX512 static float
L1Avx512(int dim, const float *a, const float *b)
{
	__m512		s0 = _mm512_setzero_ps();
	__m512		s1 = _mm512_setzero_ps();
	__m512		s2 = _mm512_setzero_ps();
	__m512		s3 = _mm512_setzero_ps();
	__m512		d;
	int			i = 0;

	for (; i + 64 <= dim; i += 64)
	{
		__m512		d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
		__m512		d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
		__m512		d2 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32));
		__m512		d3 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48));

		s0 = _mm512_add_ps(s0, _mm512_abs_ps(d0));
		s1 = _mm512_add_ps(s1, _mm512_abs_ps(d1));
		s2 = _mm512_add_ps(s2, _mm512_abs_ps(d2));
		s3 = _mm512_add_ps(s3, _mm512_abs_ps(d3));
	}
	for (; i + 16 <= dim; i += 16)
	{
		d = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
		s0 = _mm512_add_ps(s0, _mm512_abs_ps(d));
	}
	if (i < dim)
	{
		__mmask16	m = TailMask(dim - i);

		d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
		s1 = _mm512_add_ps(s1, _mm512_abs_ps(d));
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

/*
 * a.b, a.a and b.b in one pass: two sets of three accumulators.
 */
VDB_TARGET_AVX512 static void
CosinePartsAvx512(int dim, const float *a, const float *b,
				  float *ab, float *aa, float *bb)
{
	__m512		ab0 = _mm512_setzero_ps(),
				ab1 = _mm512_setzero_ps();
	__m512		aa0 = _mm512_setzero_ps(),
				aa1 = _mm512_setzero_ps();
	__m512		bb0 = _mm512_setzero_ps(),
				bb1 = _mm512_setzero_ps();
	__m512		x,
				y;
	int			i = 0;

	for (; i + 32 <= dim; i += 32)
	{
		__m512		x0 = _mm512_loadu_ps(a + i);
		__m512		y0 = _mm512_loadu_ps(b + i);
		__m512		x1 = _mm512_loadu_ps(a + i + 16);
		__m512		y1 = _mm512_loadu_ps(b + i + 16);

		ab0 = _mm512_fmadd_ps(x0, y0, ab0);
		aa0 = _mm512_fmadd_ps(x0, x0, aa0);
		bb0 = _mm512_fmadd_ps(y0, y0, bb0);
		ab1 = _mm512_fmadd_ps(x1, y1, ab1);
		aa1 = _mm512_fmadd_ps(x1, x1, aa1);
		bb1 = _mm512_fmadd_ps(y1, y1, bb1);
	}
	if (i + 16 <= dim)
	{
		x = _mm512_loadu_ps(a + i);
		y = _mm512_loadu_ps(b + i);
		ab0 = _mm512_fmadd_ps(x, y, ab0);
		aa0 = _mm512_fmadd_ps(x, x, aa0);
		bb0 = _mm512_fmadd_ps(y, y, bb0);
		i += 16;
	}
	if (i < dim)
	{
		__mmask16	m = TailMask(dim - i);

		x = _mm512_maskz_loadu_ps(m, a + i);
		y = _mm512_maskz_loadu_ps(m, b + i);
		ab1 = _mm512_fmadd_ps(x, y, ab1);
		aa1 = _mm512_fmadd_ps(x, x, aa1);
		bb1 = _mm512_fmadd_ps(y, y, bb1);
	}
	*ab = _mm512_reduce_add_ps(_mm512_add_ps(ab0, ab1));
	*aa = _mm512_reduce_add_ps(_mm512_add_ps(aa0, aa1));
	*bb = _mm512_reduce_add_ps(_mm512_add_ps(bb0, bb1));
}

/*
 * sum (qs[i] - scale[i] * code[i])^2 over SQ8 codes.
 */
VDB_TARGET_AVX512 static float
Sq8L2SquaredAvx512(int dim, const float *qs, const float *scale,
				   const uint8 *code)
{
	__m512		s0 = _mm512_setzero_ps();
	__m512		s1 = _mm512_setzero_ps();
	__m512		s2 = _mm512_setzero_ps();
	__m512		s3 = _mm512_setzero_ps();
	__m512		d;
	int			i = 0;

	for (; i + 64 <= dim; i += 64)
	{
		__m512		d0 = _mm512_fnmadd_ps(_mm512_loadu_ps(scale + i), LoadCodes(code + i), _mm512_loadu_ps(qs + i));
		__m512		d1 = _mm512_fnmadd_ps(_mm512_loadu_ps(scale + i + 16), LoadCodes(code + i + 16), _mm512_loadu_ps(qs + i + 16));
		__m512		d2 = _mm512_fnmadd_ps(_mm512_loadu_ps(scale + i + 32), LoadCodes(code + i + 32), _mm512_loadu_ps(qs + i + 32));
		__m512		d3 = _mm512_fnmadd_ps(_mm512_loadu_ps(scale + i + 48), LoadCodes(code + i + 48), _mm512_loadu_ps(qs + i + 48));

		s0 = _mm512_fmadd_ps(d0, d0, s0);
		s1 = _mm512_fmadd_ps(d1, d1, s1);
		s2 = _mm512_fmadd_ps(d2, d2, s2);
		s3 = _mm512_fmadd_ps(d3, d3, s3);
	}
	for (; i + 16 <= dim; i += 16)
	{
		d = _mm512_fnmadd_ps(_mm512_loadu_ps(scale + i), LoadCodes(code + i), _mm512_loadu_ps(qs + i));
		s0 = _mm512_fmadd_ps(d, d, s0);
	}
	if (i < dim)
	{
		int			start;
		__mmask16	m;
		__m512		codes = LoadSq8Tail(dim, i, code, &start, &m);

		d = _mm512_fnmadd_ps(_mm512_maskz_loadu_ps(m, scale + start), codes,
							 _mm512_maskz_loadu_ps(m, qs + start));
		s1 = _mm512_fmadd_ps(d, d, s1);
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

/*
 * sum w[i] * code[i] over SQ8 codes.
 */
VDB_TARGET_AVX512 static float
Sq8DotAvx512(int dim, const float *w, const uint8 *code)
{
	__m512		s0 = _mm512_setzero_ps();
	__m512		s1 = _mm512_setzero_ps();
	__m512		s2 = _mm512_setzero_ps();
	__m512		s3 = _mm512_setzero_ps();
	int			i = 0;

	for (; i + 64 <= dim; i += 64)
	{
		s0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i), LoadCodes(code + i), s0);
		s1 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 16), LoadCodes(code + i + 16), s1);
		s2 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 32), LoadCodes(code + i + 32), s2);
		s3 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 48), LoadCodes(code + i + 48), s3);
	}
	for (; i + 16 <= dim; i += 16)
		s0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i), LoadCodes(code + i), s0);
	if (i < dim)
	{
		int			start;
		__mmask16	m;
		__m512		codes = LoadSq8Tail(dim, i, code, &start, &m);

		s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w + start), codes, s1);
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

/*
 * sum (q[i] - code[i])^2 over [from, to) in 32-bit integers, exact (see
 * distance.h): as Sq8L2IntAvx2, 32 dimensions a step; the last 1..31 go
 * through masked loads, which read nothing past the arrays.
 */
VDB_TARGET_AVX512BW static inline uint32
Sq8L2IntSpan(const int16 *q, const uint8 *code, int from, int to)
{
	__m512i		s0 = _mm512_setzero_si512();
	__m512i		s1 = _mm512_setzero_si512();
	int			i = from;

	for (; i + 64 <= to; i += 64)
	{
		__m512i		d0 = _mm512_sub_epi16(_mm512_loadu_si512(q + i),
										  _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *) (code + i))));
		__m512i		d1 = _mm512_sub_epi16(_mm512_loadu_si512(q + i + 32),
										  _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *) (code + i + 32))));

		s0 = _mm512_add_epi32(s0, _mm512_madd_epi16(d0, d0));
		s1 = _mm512_add_epi32(s1, _mm512_madd_epi16(d1, d1));
	}
	if (i + 32 <= to)
	{
		__m512i		d = _mm512_sub_epi16(_mm512_loadu_si512(q + i),
										 _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *) (code + i))));

		s0 = _mm512_add_epi32(s0, _mm512_madd_epi16(d, d));
		i += 32;
	}
	if (i < to)
	{
		__mmask32	m = (__mmask32) ((1U << (to - i)) - 1);
		__m512i		d = _mm512_sub_epi16(_mm512_maskz_loadu_epi16(m, q + i),
										 _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8(m, code + i)));

		s1 = _mm512_add_epi32(s1, _mm512_madd_epi16(d, d));
	}
	return (uint32) _mm512_reduce_add_epi32(_mm512_add_epi32(s0, s1));
}

/*
 * The integer SQ8 kernel (distance.h): one pass without a limit, else
 * SQ8_INT_STEP dimensions at a time (as Sq8L2IntAvx2).
 */
VDB_TARGET_AVX512BW static uint32
Sq8L2IntAvx512(int dim, const int16 *q, const uint8 *code, uint32 limit)
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
 * Does this CPU (and OS, which must save the ZMM and mask state) run
 * AVX-512F, BW and VL?  libgcc's CPU model checks both.
 */
static bool
Avx512Supported(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
		__builtin_cpu_supports("avx512vl");
}

const DistanceVariant DistanceVariantAvx512 = {
	.name = "avx512",
	.supported = Avx512Supported,
	.l2_squared = L2SquaredAvx512,
	.inner_product = InnerProductAvx512,
	.l1 = L1Avx512,
	.cosine_parts = CosinePartsAvx512,
	.sq8_l2_squared = Sq8L2SquaredAvx512,
	.sq8_dot = Sq8DotAvx512,
	.sq8_int_l2 = Sq8L2IntAvx512,
};

#endif							/* VDB_HAVE_X86_KERNELS */
