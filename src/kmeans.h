/*
 * kmeans.h
 *	  k-means for sealing a segment: Lloyd iterations with the assignment
 *	  step in OpenBLAS sgemm.
 */
#ifndef VDB_KMEANS_H
#define VDB_KMEANS_H

/* Lloyd iterations run on the training sample. */
#define VDB_KMEANS_ITERATIONS	6

/* Rows trained on per list (the sample is at most k times this). */
#define VDB_KMEANS_SAMPLE_PER_LIST	24

extern void VdbKmeans(const float *x, int ntrain, int dim, int k, bool spherical,
					  float *centroids);
extern void VdbAssignLists(const float *x, int n, int dim, const float *centroids,
						   int k, bool spherical, int *assign);

#endif							/* VDB_KMEANS_H */
