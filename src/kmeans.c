/*
 * kmeans.c
 *	  k-means for sealing a segment.
 *
 * Lloyd's algorithm on a training sample that the caller has already put
 * first (the sealer shuffles its rows), initialised with the first k sample
 * rows.  The assignment step is one sgemm per block of rows:
 * |x - c|^2 = |x|^2 - 2 x.c + |c|^2, and |x|^2 does not change the argmin.
 * For inner product and cosine the k-means is spherical: centroids are
 * normalised after each update and rows go to the largest x.c.
 */
#include "postgres.h"

#include <cblas.h>
#include <math.h>

#include "common/pg_prng.h"
#include "miscadmin.h"

#include "kmeans.h"

/* At most this many floats of row-by-centroid products per sgemm block. */
#define ASSIGN_BLOCK_FLOATS		(1 << 20)

/*
 * Assign each of n rows to its nearest centroid, a block of rows at a time.
 */
void
VdbAssignLists(const float *x, int n, int dim, const float *centroids, int k,
			   bool spherical, int *assign)
{
	int			block = Max(1, Min(n, ASSIGN_BLOCK_FLOATS / k));
	float	   *dots = palloc(sizeof(float) * (Size) block * k);
	float	   *cnorms = palloc(sizeof(float) * k);

	for (int j = 0; j < k; j++)
	{
		const float *c = centroids + (Size) j * dim;

		cnorms[j] = spherical ? 0.0f : cblas_sdot(dim, c, 1, c, 1);
	}

	for (int start = 0; start < n; start += block)
	{
		int			nb = Min(block, n - start);

		CHECK_FOR_INTERRUPTS();
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, k, dim,
					1.0f, x + (Size) start * dim, dim, centroids, dim,
					0.0f, dots, k);
		for (int i = 0; i < nb; i++)
		{
			const float *row = dots + (Size) i * k;
			int			best = 0;
			float		bestval = INFINITY;

			for (int j = 0; j < k; j++)
			{
				float		val = cnorms[j] - 2.0f * row[j];

				if (val < bestval)
				{
					bestval = val;
					best = j;
				}
			}
			assign[start + i] = best;
		}
	}
	pfree(dots);
	pfree(cnorms);
}

/*
 * Scale a vector to unit length (left alone if it is zero).
 */
static void
NormalizeCentroid(float *c, int dim)
{
	double		norm = 0.0;

	for (int d = 0; d < dim; d++)
		norm += (double) c[d] * c[d];
	if (norm > 0.0)
	{
		norm = sqrt(norm);
		for (int d = 0; d < dim; d++)
			c[d] = (float) (c[d] / norm);
	}
}

/*
 * Train k centroids on the first ntrain rows of x (ntrain >= k).
 */
void
VdbKmeans(const float *x, int ntrain, int dim, int k, bool spherical, float *centroids)
{
	int		   *assign = palloc(sizeof(int) * ntrain);
	int		   *counts = palloc(sizeof(int) * k);
	double	   *sums = palloc(sizeof(double) * (Size) k * dim);
	pg_prng_state rng;

	Assert(ntrain >= k && k >= 1);
	pg_prng_seed(&rng, 0x7664622d6b6d);	/* deterministic: same data, same lists */

	memcpy(centroids, x, sizeof(float) * (Size) k * dim);
	if (spherical)
		for (int j = 0; j < k; j++)
			NormalizeCentroid(centroids + (Size) j * dim, dim);

	for (int iter = 0; iter < VDB_KMEANS_ITERATIONS; iter++)
	{
		int			largest = 0;

		VdbAssignLists(x, ntrain, dim, centroids, k, spherical, assign);

		memset(counts, 0, sizeof(int) * k);
		memset(sums, 0, sizeof(double) * (Size) k * dim);
		for (int i = 0; i < ntrain; i++)
		{
			const float *row = x + (Size) i * dim;
			double	   *sum = sums + (Size) assign[i] * dim;

			counts[assign[i]]++;
			for (int d = 0; d < dim; d++)
				sum[d] += row[d];
		}
		for (int j = 1; j < k; j++)
			if (counts[j] > counts[largest])
				largest = j;

		for (int j = 0; j < k; j++)
		{
			float	   *c = centroids + (Size) j * dim;

			if (counts[j] == 0)
			{
				/*
				 * Empty list: re-seed it with a random member of the largest
				 * list, which splits that list on the next iteration.
				 */
				int			pick = (int) pg_prng_uint64_range(&rng, 0, counts[largest] - 1);

				for (int i = 0; i < ntrain; i++)
				{
					if (assign[i] == largest && pick-- == 0)
					{
						memcpy(c, x + (Size) i * dim, sizeof(float) * dim);
						break;
					}
				}
			}
			else
			{
				const double *sum = sums + (Size) j * dim;

				for (int d = 0; d < dim; d++)
					c[d] = (float) (sum[d] / counts[j]);
			}
			if (spherical)
				NormalizeCentroid(c, dim);
			for (int d = 0; d < dim; d++)
			{
				if (!isfinite(c[d]))
					ereport(ERROR,
							(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
							 errmsg("k-means produced a non-finite centroid"),
							 errdetail("Vector elements are too large to sum in single precision.")));
			}
		}
	}
	pfree(assign);
	pfree(counts);
	pfree(sums);
}
