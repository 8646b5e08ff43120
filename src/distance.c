/*
 * distance.c
 *	  Portable distance kernels and the run-time choice of kernel family.
 *
 * The portable kernels keep DISTANCE_LANES independent partial sums.  That
 * breaks the chain of dependent additions (each one waits for the previous
 * one otherwise), and it is a shape the compiler can map onto whatever
 * vector registers the baseline ISA has (SSE2 on x86-64, NEON on arm64)
 * without -ffast-math, since the order of the additions is the one written.
 *
 * The AVX2+FMA and AVX-512F families live in distance_avx2.c and
 * distance_avx512.c.  DistanceInit() picks the best one this CPU runs, once
 * per backend, and points the public kernel pointers at it.
 *
 * This file and its siblings use nothing from the backend, so that the unit
 * tests and the benchmark link them without a server: they include c.h (for
 * the basic types) rather than postgres.h.
 */
#include "c.h"

#include <math.h>

#include "distance_impl.h"

#define DISTANCE_LANES 8

/*
 * Portable sum of squared differences.
 */
static float
L2SquaredScalar(int dim, const float *a, const float *b)
{
	float		acc[DISTANCE_LANES] = {0};
	float		sum = 0.0f;
	int			i = 0;

	for (; i + DISTANCE_LANES <= dim; i += DISTANCE_LANES)
	{
		for (int j = 0; j < DISTANCE_LANES; j++)
		{
			float		d = a[i + j] - b[i + j];

			acc[j] += d * d;
		}
	}
	for (; i < dim; i++)
	{
		float		d = a[i] - b[i];

		sum += d * d;
	}
	for (int j = 0; j < DISTANCE_LANES; j++)
		sum += acc[j];
	return sum;
}

/*
 * Portable dot product.
 */
static float
InnerProductScalar(int dim, const float *a, const float *b)
{
	float		acc[DISTANCE_LANES] = {0};
	float		sum = 0.0f;
	int			i = 0;

	for (; i + DISTANCE_LANES <= dim; i += DISTANCE_LANES)
	{
		for (int j = 0; j < DISTANCE_LANES; j++)
			acc[j] += a[i + j] * b[i + j];
	}
	for (; i < dim; i++)
		sum += a[i] * b[i];
	for (int j = 0; j < DISTANCE_LANES; j++)
		sum += acc[j];
	return sum;
}

/*
 * Portable sum of absolute differences.
 */
static float
L1Scalar(int dim, const float *a, const float *b)
{
	float		acc[DISTANCE_LANES] = {0};
	float		sum = 0.0f;
	int			i = 0;

	for (; i + DISTANCE_LANES <= dim; i += DISTANCE_LANES)
	{
		for (int j = 0; j < DISTANCE_LANES; j++)
			acc[j] += fabsf(a[i + j] - b[i + j]);
	}
	for (; i < dim; i++)
		sum += fabsf(a[i] - b[i]);
	for (int j = 0; j < DISTANCE_LANES; j++)
		sum += acc[j];
	return sum;
}

/*
 * Portable a.b, a.a and b.b in one pass.
 */
static void
CosinePartsScalar(int dim, const float *a, const float *b,
				  float *ab, float *aa, float *bb)
{
	float		acc_ab[DISTANCE_LANES] = {0};
	float		acc_aa[DISTANCE_LANES] = {0};
	float		acc_bb[DISTANCE_LANES] = {0};
	float		sab = 0.0f,
				saa = 0.0f,
				sbb = 0.0f;
	int			i = 0;

	for (; i + DISTANCE_LANES <= dim; i += DISTANCE_LANES)
	{
		for (int j = 0; j < DISTANCE_LANES; j++)
		{
			float		x = a[i + j];
			float		y = b[i + j];

			acc_ab[j] += x * y;
			acc_aa[j] += x * x;
			acc_bb[j] += y * y;
		}
	}
	for (; i < dim; i++)
	{
		sab += a[i] * b[i];
		saa += a[i] * a[i];
		sbb += b[i] * b[i];
	}
	for (int j = 0; j < DISTANCE_LANES; j++)
	{
		sab += acc_ab[j];
		saa += acc_aa[j];
		sbb += acc_bb[j];
	}
	*ab = sab;
	*aa = saa;
	*bb = sbb;
}

/*
 * Portable squared L2 distance from a query to an SQ8-coded vector.
 */
static float
Sq8L2SquaredScalar(int dim, const float *qs, const float *scale,
				   const uint8 *code)
{
	float		acc[DISTANCE_LANES] = {0};
	float		sum = 0.0f;
	int			i = 0;

	for (; i + DISTANCE_LANES <= dim; i += DISTANCE_LANES)
	{
		for (int j = 0; j < DISTANCE_LANES; j++)
		{
			float		d = qs[i + j] - scale[i + j] * (float) code[i + j];

			acc[j] += d * d;
		}
	}
	for (; i < dim; i++)
	{
		float		d = qs[i] - scale[i] * (float) code[i];

		sum += d * d;
	}
	for (int j = 0; j < DISTANCE_LANES; j++)
		sum += acc[j];
	return sum;
}

/*
 * Portable weighted sum of SQ8 codes.
 */
static float
Sq8DotScalar(int dim, const float *w, const uint8 *code)
{
	float		acc[DISTANCE_LANES] = {0};
	float		sum = 0.0f;
	int			i = 0;

	for (; i + DISTANCE_LANES <= dim; i += DISTANCE_LANES)
	{
		for (int j = 0; j < DISTANCE_LANES; j++)
			acc[j] += w[i + j] * (float) code[i + j];
	}
	for (; i < dim; i++)
		sum += w[i] * (float) code[i];
	for (int j = 0; j < DISTANCE_LANES; j++)
		sum += acc[j];
	return sum;
}

/*
 * Portable exact integer squared L2 distance from a quantized query to SQ8
 * codes, a step of SQ8_INT_STEP dimensions at a time (see distance.h for
 * limit).
 */
static uint32
Sq8L2IntScalar(int dim, const int16 *q, const uint8 *code, uint32 limit)
{
	uint32		sum = 0;

	for (int step = 0; step < dim; step += SQ8_INT_STEP)
	{
		int			end = Min(dim, step + SQ8_INT_STEP);
		uint32		acc[DISTANCE_LANES] = {0};
		int			i = step;

		for (; i + DISTANCE_LANES <= end; i += DISTANCE_LANES)
		{
			for (int j = 0; j < DISTANCE_LANES; j++)
			{
				int32		d = (int32) q[i + j] - (int32) code[i + j];

				acc[j] += (uint32) (d * d);
			}
		}
		for (; i < end; i++)
		{
			int32		d = (int32) q[i] - (int32) code[i];

			sum += (uint32) (d * d);
		}
		for (int j = 0; j < DISTANCE_LANES; j++)
			sum += acc[j];
		if (sum > limit)
			break;
	}
	return sum;
}

/*
 * Every CPU runs the portable family.
 */
static bool
ScalarSupported(void)
{
	return true;
}

const DistanceVariant DistanceVariantScalar = {
	.name = "scalar",
	.supported = ScalarSupported,
	.l2_squared = L2SquaredScalar,
	.inner_product = InnerProductScalar,
	.l1 = L1Scalar,
	.cosine_parts = CosinePartsScalar,
	.sq8_l2_squared = Sq8L2SquaredScalar,
	.sq8_dot = Sq8DotScalar,
	.sq8_int_l2 = Sq8L2IntScalar,
};

const DistanceVariant *const DistanceVariants[] = {
#ifdef VDB_HAVE_X86_KERNELS
	&DistanceVariantAvx512,
	&DistanceVariantAvx2,
#endif
	&DistanceVariantScalar,
};

const int	DistanceVariantCount = lengthof(DistanceVariants);

/*
 * The public pointers start on the portable family, so that they are usable
 * even before DistanceInit() runs.
 */
DistanceKernel VectorL2SquaredDistance = L2SquaredScalar;
DistanceKernel VectorInnerProduct = InnerProductScalar;
DistanceKernel VectorL1Distance = L1Scalar;
CosinePartsKernel VectorCosineParts = CosinePartsScalar;
Sq8L2Kernel VectorSq8L2Squared = Sq8L2SquaredScalar;
Sq8DotKernel VectorSq8Dot = Sq8DotScalar;
Sq8IntL2Kernel VectorSq8L2Int = Sq8L2IntScalar;

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
 * Route the kernel pointers to family v (the unit tests go through every
 * family the CPU runs this way).
 */
void
DistanceUse(const DistanceVariant *v)
{
	VectorL2SquaredDistance = v->l2_squared;
	VectorInnerProduct = v->inner_product;
	VectorL1Distance = v->l1;
	VectorCosineParts = v->cosine_parts;
	VectorSq8L2Squared = v->sq8_l2_squared;
	VectorSq8Dot = v->sq8_dot;
	VectorSq8L2Int = v->sq8_int_l2;
	kernel_name = v->name;
}

/*
 * Choose the kernels for this CPU: the first family in DistanceVariants
 * that the CPU supports.  A few CPUID reads, so cheap enough for every
 * backend start.
 */
void
DistanceInit(void)
{
	const DistanceVariant *v = &DistanceVariantScalar;

	for (int i = 0; i < DistanceVariantCount; i++)
	{
		if (DistanceVariants[i]->supported())
		{
			v = DistanceVariants[i];
			break;
		}
	}
	DistanceUse(v);
}
