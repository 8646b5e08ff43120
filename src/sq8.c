/*
 * sq8.c
 *	  SQ8 scalar quantization of posting lists (see sq8.h).
 *
 * The lower bound.  A code's distance is computed from the decoded vector
 * o + s * code, so the row's true distance differs from it by at most
 * |x - decoded| (the entry's error) for L2, or |q| times that for inner
 * products.  On top of that every float computation is bounded as
 * distance.h states for its kernel over d terms (3 d eps (|qs| + |s code|)^2
 * for SQ8 L2, 2 d eps |w| |code| for SQ8 dot; for the exact L2 the scan
 * compares with, (d + 8) eps times the distance itself, as its terms are
 * non-negative, and 2 d eps |a| |b| for the exact inner product), plus one
 * rounding per element in preparing qs.  The norms involved
 * are bounded per segment: |s * code| <= span = |255 s|, |x| <= max_norm.
 * All of it is evaluated in double with generous margins, and the result is
 * rounded down to a float, so the bound never exceeds the float distance
 * the scan computes for the row from its float entry.
 */
#include "c.h"

#include <float.h>
#include <math.h>

#include "distance.h"
#include "sq8.h"

/*
 * The float nearest to v that is not below it (+inf past FLT_MAX).
 */
float
VdbRoundUpFloat(double v)
{
	float		f = (float) v;

	if ((double) f < v)
		f = nextafterf(f, INFINITY);
	return f;
}

/*
 * The float nearest to v that is not above it.
 */
static float
RoundDownFloat(double v)
{
	float		f = (float) v;

	if ((double) f > v)
		f = nextafterf(f, -INFINITY);
	return f;
}

/*
 * Train a segment's quantizer on its n rows: per dimension, offset = the
 * smallest value, and a scale such that the codes 0..255 cover every row.
 * Usually one scale for every dimension (the widest range / 255): a query
 * quantized to the same grid then needs only integer arithmetic per code
 * (VectorSq8L2Int: exact, and several times the speed of the float
 * kernel), at the price of coarser codes in dimensions of narrow spread.
 * When that price is high, i.e. one scale would more than double the
 * expected quantization error (d W^2 > 4 sum R_i^2 for ranges R_i, widest
 * W), each dimension gets its own scale (R_i / 255) and scans use the
 * float kernels.  Also gives the largest |x| of a row, rounded up.
 */
void
VdbSq8Train(const float *vectors, int n, int dim, float *offset, float *scale,
			float *max_norm)
{
	double		norm_max = 0.0;
	double		widest = 0.0;
	double		spread = 0.0;

	/* scale[] holds the largest value of each dimension until the end */
	for (int i = 0; i < dim; i++)
	{
		offset[i] = n > 0 ? vectors[i] : 0.0f;
		scale[i] = offset[i];
	}
	for (int r = 0; r < n; r++)
	{
		const float *x = vectors + (Size) r * dim;
		double		norm = 0.0;

		for (int i = 0; i < dim; i++)
		{
			offset[i] = Min(offset[i], x[i]);
			scale[i] = Max(scale[i], x[i]);
			norm += (double) x[i] * x[i];
		}
		norm_max = Max(norm_max, norm);
	}
	for (int i = 0; i < dim; i++)
	{
		double		range = (double) scale[i] - offset[i];

		widest = Max(widest, range);
		spread += range * range;
	}
	for (int i = 0; i < dim; i++)
		scale[i] = (float) ((dim * widest * widest <= 4.0 * spread ?
							 widest : (double) scale[i] - offset[i]) / 255.0);
	*max_norm = VdbRoundUpFloat(sqrt(norm_max) * (1.0 + 1e-9));
}

/*
 * Encode one vector: the nearest code per dimension.  Returns an upper
 * bound on the Euclidean distance from x to what the code stands for,
 * computed in double and rounded up, so that a scan may trust it as is.
 */
float
VdbSq8Encode(const float *x, int dim, const float *offset, const float *scale,
			 uint8 *code)
{
	double		err = 0.0;

	for (int i = 0; i < dim; i++)
	{
		double		c = 0.0;
		double		diff;

		if (scale[i] > 0.0f)
		{
			c = rint(((double) x[i] - offset[i]) / scale[i]);
			c = Max(0.0, Min(255.0, c));
		}
		code[i] = (uint8) c;
		diff = (double) x[i] - ((double) offset[i] + (double) scale[i] * c);
		err += diff * diff;
	}
	/* a relative margin far above double rounding of the sum and the root */
	return VdbRoundUpFloat(sqrt(err) * (1.0 + 1e-9));
}

/*
 * The largest |s * code| a code can stand for: |255 s|, rounded up.
 */
float
VdbSq8Span(const float *scale, int dim)
{
	double		span = 0.0;

	for (int i = 0; i < dim; i++)
		span += (255.0 * scale[i]) * (255.0 * scale[i]);
	return VdbRoundUpFloat(sqrt(span) * (1.0 + 1e-9));
}

/*
 * L2 with one scale s for every dimension: quantize the query to the codes'
 * grid, q16[i] = round((q[i] - o[i]) / s) within the range the integer
 * kernel allows, and remember how far that moved it (in double, rounded
 * up): the decoded query o + s * q16 and a decoded row are then exactly
 * s * sqrt(VectorSq8L2Int(...)) apart.
 */
static bool
PrepareInt(VdbSq8Query *pq, const float *q, const float *offset, const float *scale)
{
	double		s = scale[0];
	double		inv;
	double		moved = 0.0;
	double		qnorm = 0.0;

	if (!(s > 0.0) || pq->dim > SQ8_INT_MAX_DIM)
		return false;
	for (int i = 1; i < pq->dim; i++)
		if (scale[i] != scale[0])
			return false;
	inv = 1.0 / s;
	for (int i = 0; i < pq->dim; i++)
	{
		/*
		 * Any grid point will do (what it moves the query is measured
		 * below), so round cheaply: clamp, then truncate x + 0.5.
		 */
		double		x = ((double) q[i] - offset[i]) * inv;
		int			v;
		double		diff;

		x = Max((double) SQ8_INT_QUERY_MIN, Min((double) SQ8_INT_QUERY_MAX, x));
		v = (int) (x - SQ8_INT_QUERY_MIN + 0.5) + SQ8_INT_QUERY_MIN;
		pq->q16[i] = (int16) v;
		diff = (double) q[i] - ((double) offset[i] + s * v);
		moved += diff * diff;
		qnorm += (double) q[i] * q[i];
	}
	pq->scale = s;
	pq->moved = sqrt(moved) * (1.0 + 1e-9);
	pq->qnorm = sqrt(qnorm) * (1.0 + 1e-9);
	pq->use_int = true;
	return true;
}

/*
 * Prepare query q for the codes of one segment and bound the errors (see
 * the file comment).  pq->qs must point to dim floats, and pq->q16 to dim
 * int16 (or be NULL: no integer kernel).  With the integer kernel, qs is
 * not filled in.
 */
void
VdbSq8Prepare(VdbSq8Query *pq, const float *q, int dim, bool l2,
			  const float *offset, const float *scale, float span,
			  float max_norm)
{
	double		eps = FLT_EPSILON;
	double		qnorm = 0.0;
	double		qsnorm = 0.0;
	double		onorm = 0.0;

	pq->dim = dim;
	pq->l2 = l2;
	pq->use_int = false;
	pq->cut = false;
	pq->qo = 0.0;
	pq->slack_code = 0.0;
	pq->slack_query = 0.0;
	/*
	 * The exact float kernel's rounding.  For L2 every term is non-negative,
	 * so the error is relative to the distance itself (distance.h): a bound
	 * on the true squared distance times exact_scale, minus the underflow
	 * term, is a bound on what the kernel (and the SQL operator) gives.
	 * That is much tighter than a bound from the norms, which on
	 * Fashion-MNIST left three times as many rows to re-rank as a LIMIT 10
	 * returns.
	 */
	pq->exact_scale = 1.0;
	if (l2)
	{
		pq->exact_scale = 1.0 - (dim + 8) * eps * (1.0 + 1e-6);
		pq->slack_exact = 2.0 * (dim + 8) * (double) FLT_MIN;
	}
	if (l2 && pq->q16 != NULL && PrepareInt(pq, q, offset, scale))
		return;					/* the integer kernel itself is exact */
	for (int i = 0; i < dim; i++)
	{
		pq->qs[i] = l2 ? q[i] - offset[i] : q[i] * scale[i];
		qnorm += (double) q[i] * q[i];
		qsnorm += (double) pq->qs[i] * pq->qs[i];
		onorm += (double) offset[i] * offset[i];
	}
	/* the roots, with room for their rounding */
	qnorm = sqrt(qnorm) * (1.0 + 1e-9);
	qsnorm = sqrt(qsnorm) * (1.0 + 1e-9);
	onorm = sqrt(onorm) * (1.0 + 1e-9);
	pq->qnorm = qnorm;

	if (l2)
	{
		double		reach = qsnorm + span;

		pq->qo = 0.0;
		pq->slack_code = 3.0 * dim * eps * reach * reach;
		/* qs[i] = fl(q[i] - o[i]): codes are measured from a moved query */
		pq->slack_query = eps * qsnorm * (1.0 + eps);
	}
	else
	{
		pq->qo = VectorInnerProduct(dim, q, offset);
		pq->slack_code =
			2.0 * dim * eps * qsnorm * 255.0 * sqrt((double) dim) +	/* SQ8 dot */
			eps * qnorm * span +	/* qs[i] = fl(q[i] * s[i]) */
			2.0 * dim * eps * qnorm * onorm +	/* q . o */
			2.0 * eps * qnorm * (onorm + span); /* adding the two */
		pq->slack_query = 0.0;
		pq->slack_exact = 2.0 * dim * eps * qnorm * max_norm;
	}
}

/*
 * Tell pq that bounds above beyond (an internal distance) need not be
 * precise: from now on, the integer kernel stops as soon as its partial sum
 * shows that a code lies beyond it, and the code's bound comes from that
 * partial sum: weaker than the full one, but still a bound, and still at
 * least beyond (callers ranking many codes for the nearest few pass the
 * distance of the last one they keep).  Infinity or NaN: every bound precise
 * again.  Only the integer kernel can stop early; other queries ignore
 * beyond.
 *
 * The kernel's limit for an entry with error e inverts the bound of
 * VdbSq8LowerBound: a sum of squares S on the grid puts the decoded vectors
 * s * sqrt(S) apart, so the row lies at least s * sqrt(S) - e - moved from
 * the query, and its float distance is at least the square of that times
 * exact_scale, minus slack_exact.  Above cut_root + e / s (in grid units, with the same 1e-12
 * margins as the bound, which dwarf the rounding of these few operations)
 * that is at least beyond.
 */
void
VdbSq8SetBeyond(VdbSq8Query *pq, float beyond)
{
	pq->cut = pq->use_int && !isnan(beyond) && !isinf(beyond);
	if (!pq->cut)
		return;
	pq->beyond = beyond;
	pq->cut_inv_scale = 1.0 / (pq->scale * (1.0 - 1e-12));
	pq->cut_root = (sqrt(Max(0.0, (double) beyond + pq->slack_exact) /
						 ((1.0 - 1e-12) * pq->exact_scale)) +
					pq->moved) * pq->cut_inv_scale;
}

/*
 * The integer kernel's limit for an entry with this error (see
 * VdbSq8SetBeyond).
 */
static inline uint32
IntLimit(const VdbSq8Query *pq, float error)
{
	double		root;

	if (!pq->cut)
		return PG_UINT32_MAX;
	root = pq->cut_root + (double) error * pq->cut_inv_scale;
	if (root * root < (double) (PG_UINT32_MAX - 1))
		return (uint32) (root * root) + 1;
	return PG_UINT32_MAX;
}

/*
 * The lower bound for a sum of squares from the integer kernel (a partial
 * sum past the limit still makes a bound, past beyond).
 */
static inline float
IntBound(const VdbSq8Query *pq, uint32 sum, float error)
{
	double		t = pq->scale * sqrt((double) sum) * (1.0 - 1e-12) - (double) error - pq->moved;
	double		bound = (t > 0.0 ? t * t * (1.0 - 1e-12) * pq->exact_scale : 0.0) -
		pq->slack_exact;

	if (isnan(bound))
		return -INFINITY;
	return RoundDownFloat(bound);
}

/*
 * Lower bounds for n codes with their errors, into out[]: the same as n
 * calls of VdbSq8LowerBound, but the kernel runs over every code first, and
 * the bounds then come from independent arithmetic the CPU overlaps
 * (ranking 979 centroid codes of Fashion-MNIST, a third less time than one
 * call per code).
 */
void
VdbSq8LowerBounds(const VdbSq8Query *pq, const float *scale, const uint8 *const *codes,
				  const float *errors, int n, float *out)
{
	if (!pq->use_int)
	{
		for (int i = 0; i < n; i++)
			out[i] = VdbSq8LowerBound(pq, scale, codes[i], errors[i]);
		return;
	}
	/* the sums first, parked in out[]'s bytes (both are 32 bits wide) */
	for (int i = 0; i < n; i++)
	{
		uint32		sum = VectorSq8L2Int(pq->dim, pq->q16, codes[i], IntLimit(pq, errors[i]));

		memcpy(&out[i], &sum, sizeof(uint32));
	}
	for (int i = 0; i < n; i++)
	{
		uint32		sum;

		memcpy(&sum, &out[i], sizeof(uint32));
		out[i] = IntBound(pq, sum, errors[i]);
	}
}

/*
 * A lower bound on the internal distance (squared L2, or negative inner
 * product) the float kernel gives a row, from its code and error (see also
 * VdbSq8SetBeyond).
 */
float
VdbSq8LowerBound(const VdbSq8Query *pq, const float *scale, const uint8 *code,
				 float error)
{
	double		bound;

	if (pq->use_int)
		return IntBound(pq, VectorSq8L2Int(pq->dim, pq->q16, code, IntLimit(pq, error)),
						error);
	else if (pq->l2)
	{
		double		a = VectorSq8L2Squared(pq->dim, pq->qs, scale, code);
		double		t = sqrt(Max(0.0, a - pq->slack_code)) * (1.0 - 1e-12) -
			(double) error - pq->slack_query;

		bound = (t > 0.0 ? t * t * (1.0 - 1e-12) * pq->exact_scale : 0.0) -
			pq->slack_exact;
	}
	else
	{
		double		a = (double) VectorSq8Dot(pq->dim, pq->qs, code) + pq->qo;

		bound = -a - pq->slack_code - pq->qnorm * (double) error - pq->slack_exact;
		bound -= fabs(bound) * 1e-12;
	}
	if (isnan(bound))
		return -INFINITY;
	return RoundDownFloat(bound);
}
