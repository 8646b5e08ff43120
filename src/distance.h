/*
 * distance.h
 *	  Distance kernels over float4 arrays, with run-time CPU dispatch.
 *
 * Every kernel takes (dim, a, b) and accumulates in float; the SIMD variants
 * are chosen once per backend by DistanceInit() from what the CPU supports
 * (AVX-512F, AVX2+FMA, or portable C).  Callers go through these pointers so
 * that one shipped .so runs on any x86-64 (and builds on arm64).
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
extern void (*VectorCosineParts) (int dim, const float *a, const float *b,
								  float *ab, float *aa, float *bb);

/* Name of the kernel family in use ("avx512", "avx2", "scalar"), for tests. */
extern const char *DistanceKernelName(void);

extern void DistanceInit(void);

#endif							/* VDB_DISTANCE_H */
