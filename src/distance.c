/*
 * distance.c
 *	  Distance kernels and their run-time dispatch.
 *
 * (Foundation skeleton: portable C only.  The kernels work item adds the
 * AVX2/FMA and AVX-512 variants.)
 */
#include "postgres.h"

#include <math.h>

#include "distance.h"

/*
 * Portable sum of squared differences.
 */
static float
L2SquaredScalar(int dim, const float *a, const float *b)
{
	float		sum = 0.0f;

	for (int i = 0; i < dim; i++)
	{
		float		d = a[i] - b[i];

		sum += d * d;
	}
	return sum;
}

/*
 * Portable dot product.
 */
static float
InnerProductScalar(int dim, const float *a, const float *b)
{
	float		sum = 0.0f;

	for (int i = 0; i < dim; i++)
		sum += a[i] * b[i];
	return sum;
}

/*
 * Portable sum of absolute differences.
 */
static float
L1Scalar(int dim, const float *a, const float *b)
{
	float		sum = 0.0f;

	for (int i = 0; i < dim; i++)
		sum += fabsf(a[i] - b[i]);
	return sum;
}

/*
 * Portable a.b, a.a and b.b in one pass.
 */
static void
CosinePartsScalar(int dim, const float *a, const float *b,
				  float *ab, float *aa, float *bb)
{
	float		sab = 0.0f,
				saa = 0.0f,
				sbb = 0.0f;

	for (int i = 0; i < dim; i++)
	{
		sab += a[i] * b[i];
		saa += a[i] * a[i];
		sbb += b[i] * b[i];
	}
	*ab = sab;
	*aa = saa;
	*bb = sbb;
}

DistanceKernel VectorL2SquaredDistance = L2SquaredScalar;
DistanceKernel VectorInnerProduct = InnerProductScalar;
DistanceKernel VectorL1Distance = L1Scalar;
void		(*VectorCosineParts) (int dim, const float *a, const float *b,
								  float *ab, float *aa, float *bb) = CosinePartsScalar;

static const char *kernel_name = "scalar";

/*
 * The kernel family in use.
 */
const char *
DistanceKernelName(void)
{
	return kernel_name;
}

/*
 * Choose the kernels for this CPU.
 */
void
DistanceInit(void)
{
}
