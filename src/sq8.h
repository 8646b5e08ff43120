/*
 * sq8.h
 *	  SQ8 scalar quantization of posting lists: training, encoding, and the
 *	  lower bound a scan puts on a row's exact distance from its code.
 *
 * A segment quantizes dimension i with an offset o[i] and a scale s[i]:
 * code c[i] in 0..255 stands for o[i] + s[i] * c[i].  Every code entry
 * stores an upper bound on |x - decoded| (its error), so that the exact
 * distance can be bounded from below without reading the float vector; a
 * scan re-ranks a row from its float entry before returning it.
 *
 * No server dependencies beyond c.h and the kernels (distance.h), so that
 * the unit tests can check the bounds directly (test/unit/test_sq8.c).
 */
#ifndef VDB_SQ8_H
#define VDB_SQ8_H

#include "distance.h"

/* A query prepared for the codes of one segment (see VdbSq8Prepare). */
typedef struct VdbSq8Query
{
	int			dim;
	bool		l2;				/* L2, else negative inner product */
	float	   *qs;				/* dim floats, the caller's: q - o, or q * s */
	int16	   *q16;			/* dim int16, the caller's, or NULL: the query
								 * on the codes' grid (L2, one scale) */
	bool		use_int;		/* q16 is set: use VectorSq8L2Int */
	double		scale;			/* the one scale, if use_int */
	double		moved;			/* |q - (o + scale * q16)|, if use_int */
	double		qo;				/* inner product: q . o */
	double		qnorm;			/* |q| */
	double		slack_code;		/* error of the SQ8 kernel and of qs, qo */
	double		slack_query;	/* L2: |q - (o + qs)| */
	double		exact_scale;	/* L2: the exact float kernel gives at least
								 * this times the squared distance ... */
	double		slack_exact;	/* ... minus this (inner product: minus
								 * this alone) */
	/* VdbSq8SetBeyond: bounds past beyond may come from a partial sum */
	bool		cut;
	float		beyond;
	double		cut_root;		/* limit of an entry without error, as a
								 * root on the grid */
	double		cut_inv_scale;	/* 1 / scale, rounded up */
} VdbSq8Query;

extern float VdbRoundUpFloat(double v);
extern void VdbSq8Train(const float *vectors, int n, int dim, float *offset,
						float *scale, float *max_norm);
extern float VdbSq8Encode(const float *x, int dim, const float *offset,
						  const float *scale, uint8 *code);
extern float VdbSq8Span(const float *scale, int dim);
extern void VdbSq8Prepare(VdbSq8Query *pq, const float *q, int dim, bool l2,
						  const float *offset, const float *scale,
						  float span, float max_norm);
extern void VdbSq8SetBeyond(VdbSq8Query *pq, float beyond);
extern float VdbSq8LowerBound(const VdbSq8Query *pq, const float *scale,
							  const uint8 *code, float error);
extern void VdbSq8LowerBounds(const VdbSq8Query *pq, const float *scale,
							  const uint8 *const *codes, const float *errors,
							  int n, float *out);

#endif							/* VDB_SQ8_H */
