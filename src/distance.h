/*
 * distance.h
 *	  Distance kernels over float4 arrays, with run-time CPU dispatch.
 *
 * Every kernel takes (dim, a, b) and accumulates in float; the SIMD variants
 * are chosen once per backend by DistanceInit() from what the CPU supports
 * (AVX-512F, AVX2+FMA, or portable C).  Callers go through these pointers so
 * that one shipped .so runs on any x86-64 (and builds on arm64).
 *
 * No kernel reads past the end of its arrays, whatever dim is, and none
 * needs any alignment beyond that of float (and of uint8 for codes).
 *
 * Accuracy, for every variant (test/unit/test_distance.c checks these for
 * every dim up to 2000), with eps = FLT_EPSILON, d = dim, exact real
 * arithmetic on the float inputs as the reference:
 *	L2 squared	  |error| <= 2 d eps (|a| + |b|)^2, and also
 *				  |error| <= (d + 8) eps D + (d + 8) FLT_MIN for the exact
 *				  result D (every term is non-negative, so the rounding of
 *				  the sum is relative to the sum itself; FLT_MIN covers
 *				  squares that underflow)
 *	inner product |error| <= 2 d eps |a| |b|	 (also each cosine part)
 *	L1			  |error| <= 2 d eps (|a|_1 + |b|_1)
 *	SQ8 L2		  |error| <= 3 d eps (|qs| + |scale * code|)^2
 *	SQ8 dot		  |error| <= 2 d eps |w| |code|
 *	SQ8 integer L2 exact
 * (|x| the Euclidean norm, scale * code elementwise), barring overflow and
 * underflow.  They follow from the usual rounding-error analysis of a sum
 * of d terms in any order (each term rounds once in a - b and at most once
 * when squared), with room to spare (the portable SQ8 L2 rounds
 * twice in qs - scale * code, hence its 3).  A caller that needs a
 * guaranteed bound on a distance, e.g. a lower bound for re-ranking, can
 * widen the computed value by that much.  L2 and L1 of a vector with itself
 * are exactly 0.
 */
#ifndef VDB_DISTANCE_H
#define VDB_DISTANCE_H

typedef float (*DistanceKernel) (int dim, const float *a, const float *b);

/* sum (a[i] - b[i])^2 */
extern DistanceKernel VectorL2SquaredDistance;
/* sum a[i] * b[i] */
extern DistanceKernel VectorInnerProduct;
/* sum |a[i] - b[i]| */
extern DistanceKernel VectorL1Distance;

/*
 * Cosine needs three sums in one pass: a.b, a.a and b.b.
 */
typedef void (*CosinePartsKernel) (int dim, const float *a, const float *b,
								   float *ab, float *aa, float *bb);

extern CosinePartsKernel VectorCosineParts;

/*
 * Kernels over SQ8 codes, for the index's quantized posting lists.
 *
 * A segment quantizes dimension i with an offset o[i] and a scale s[i]; the
 * code c[i] in 0..255 stands for o[i] + s[i] * c[i].  The caller folds the
 * offsets into the query once per (query, segment) so that the per-code work
 * is one multiply-add per dimension:
 *
 * VectorSq8L2Squared(dim, qs, scale, code) = sum (qs[i] - scale[i] * code[i])^2
 *		with qs[i] = q[i] - o[i]: the squared L2 distance from q to the
 *		decoded vector.
 *
 * VectorSq8Dot(dim, w, code) = sum w[i] * code[i]
 *		with w[i] = q[i] * s[i]: adding sum q[i] * o[i] gives the inner
 *		product of q with the decoded vector.
 */
typedef float (*Sq8L2Kernel) (int dim, const float *qs, const float *scale,
							  const uint8 *code);
typedef float (*Sq8DotKernel) (int dim, const float *w, const uint8 *code);

extern Sq8L2Kernel VectorSq8L2Squared;
extern Sq8DotKernel VectorSq8Dot;

/*
 * VectorSq8L2Int(dim, q, code, limit) = sum (q[i] - code[i])^2, exact:
 * integer arithmetic throughout.  For codes sharing one scale s across
 * dimensions, with q[i] the query quantized to the same grid, s *
 * sqrt(result) is the exact distance between the two decoded vectors, so a
 * caller's bounds need no rounding term for it.  Requires -255 <= q[i] <=
 * 510 (so that every square fits 18 bits) and dim <= 8000 (so that the sum
 * fits 31 bits).
 *
 * The kernel may stop early once a partial sum exceeds limit (checked every
 * SQ8_INT_STEP dimensions) and return that partial sum: every term is
 * non-negative, so the result is then still at most the full sum, and above
 * limit.  A result at or below limit is always the full sum.  Callers that
 * rank many codes but only care about the nearest pass the distance past
 * which they stop caring; PG_UINT32_MAX asks for the full sum.
 */
typedef uint32 (*Sq8IntL2Kernel) (int dim, const int16 *q, const uint8 *code,
								  uint32 limit);

extern Sq8IntL2Kernel VectorSq8L2Int;

#define SQ8_INT_QUERY_MIN	(-255)
#define SQ8_INT_QUERY_MAX	510
#define SQ8_INT_MAX_DIM		8000
#define SQ8_INT_STEP		128

/* Name of the kernel family in use ("avx512", "avx2", "scalar"), for tests. */
extern const char *DistanceKernelName(void);

extern void DistanceInit(void);

#endif							/* VDB_DISTANCE_H */
