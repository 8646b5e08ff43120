/*
 * ivf_scan.c
 *	  vdb_ivf index scans: one exact-order stream over every segment.
 *
 * The executor never tells an index scan its LIMIT (P19), so a scan is a
 * lazy stream.  It works in batches:
 *
 *	- The first batch ranks every list of every sealed segment together by
 *	  the distance from the query to its centroid (centroids come from the
 *	  per-backend cache, ivf_cache.c; for L2 the cache also holds SQ8 codes
 *	  of the centroids: every list gets a lower bound from its code, and
 *	  only the lists a batch may take get their exact distance, see
 *	  RefineRanking, so a batch takes the same lists as an exact ranking
 *	  would, for a quarter of the bytes read) and takes the nearest
 *	  vdb.probes x (number of sealed segments) lists: the probe budget goes
 *	  to whichever segments hold the nearest lists.  It reads those lists'
 *	  entries (codes, re-ranked as described below, or float vectors).
 *	  Growing and frozen segments are
 *	  read once: an entry whose interim assignment is one of the chosen lists
 *	  (or that has no usable assignment) is measured now; the others wait for
 *	  the batch that probes their list.  A per-backend summary of which lists
 *	  each full growing page holds (ivf_cache.c) lets later queries skip the
 *	  pages without entries of their lists: on 30,000 growing rows of 256
 *	  dims this halved the time of a query.
 *	- Candidates of a batch sit in a flat array made into a binary heap
 *	  ordered by (distance, heap TID), so the first k rows cost
 *	  O(n + k log n) and ties come out in TID order.
 *	- The scan widens (probes the next lists by rank, merging their entries
 *	  and the growing entries assigned to them into the remaining
 *	  candidates) before it returns a row when any of three rules asks:
 *	  * Pool: a quarter of the candidates is used up (the next batch
 *		doubles each time).
 *	  * Distance: a probed list's gap is how much nearer the query its
 *		nearest entry lies than its centroid; the largest gap seen stands
 *		for what an unprobed list may hide.  Past the first
 *		VDB_TRUSTED_ROWS rows (the k vdb.probes is tuned for), the next row
 *		must not lie beyond the nearest unprobed centroid distance minus
 *		that gap; if it does, every list whose centroid lies within the
 *		row's distance plus the gap is probed first.  A filter that rejects
 *		the query's natural neighbours makes the executor pull thousands of
 *		rows; the rows it keeps lie in lists ranked far down, and this rule
 *		reaches them before returning rows that sort after theirs.
 *	  * Depth: before returning row r > VDB_TRUSTED_ROWS, at least
 *		first batch x sqrt(r / VDB_TRUSTED_ROWS) lists: the rows deep in the
 *		stream need more lists for the same recall, whatever the gaps say
 *		(their estimate is noisy while few lists are probed).
 *	  On Fashion-MNIST at vdb.probes 8 the rules probe 32 lists for 105 rows
 *	  pulled (a random 10% filter), 103 for 1,041 (random 1%), 275 for 6,764
 *	  (a 10% filter excluding the query's class), with recall@10 0.986-0.997
 *	  under those filters where the pool rule alone gave 0.83-0.88.  The first
 *	  VDB_TRUSTED_ROWS rows need no rule: unfiltered LIMIT 10 queries read
 *	  exactly the first batch.  Widening before the pool runs dry means a
 *	  new row that sorts between the last row returned and the remaining
 *	  ones is still returned in its place; only a new row that sorts before
 *	  the last row returned cannot be returned without breaking the order:
 *	  it is skipped and counted.  The scan ends when every list has been
 *	  read and every candidate returned (or vdb.max_probes says stop).
 *
 * Sealed lists (format 2) hold SQ8 codes with the float entries behind
 * them.  A code gives a lower bound on the row's exact distance (sq8.h:
 * the code's distance minus the entry's quantization error and every
 * rounding the kernels allow), and the candidate enters the heap with
 * that bound.  When a candidate with only a bound comes first, it is
 * re-ranked: its float entry is read, its exact distance replaces the
 * bound and it sinks to its place.  A row is returned only when it comes
 * first with its exact distance, i.e. before every bound still in the
 * heap, so the stream is in exact (distance, TID) order.  Growing entries
 * and format 1 lists hold float vectors and get their exact distance at
 * once.  For L2 and inner product, exact distances are what the SQL
 * operators compute (the same kernels on the same floats), so neither
 * xs_recheck nor xs_recheckorderby is set (P20).
 * When the indexed column is stored PLAIN (HeapRerank), a row found past
 * the first batch leaves with its bound and xs_recheckorderby instead, and
 * the executor computes the operator on the heap row it fetches anyway and
 * reorders (IndexNextWithReorder), which spares a float page per row of a
 * deep (filtered) scan; see ivfgettuple for the rows the scan still
 * re-ranks itself.
 * Cosine is the exception: the index holds normalised vectors, and
 * 1 - (q/|q|).(x/|x|) rounds differently from the operator's
 * 1 - q.x / sqrt(|q|^2 |x|^2) (by about 1e-7: TAP 072's soak found rows
 * out of order).  So a cosine scan sets xs_recheckorderby and hands the
 * executor a lower bound, its distance minus a bound on both roundings;
 * the executor computes <=> for each row and reorders the few that need
 * it, and the order is the operator's exactly.  Pages are share-locked
 * one at a time and nothing stays pinned between calls, which is safe only
 * under an MVCC snapshot (P21).  Every page read is checked against the
 * (segid, generation) the directory copy promised; a page that was rewritten
 * under the scan raises a serialization failure rather than feed it wrong
 * rows.
 *
 * Queries without a direction: a NULL query (the SQL distance is NULL for
 * every row) and a zero query under cosine (NaN for every row) rank nothing;
 * such a scan returns every indexed row once, in heap TID order, as a
 * sequential scan would return them all.  Rows the index never holds (NULL
 * vectors, zero vectors under cosine) are never returned by an index scan.
 *
 * vdb.max_probes (default 0, unlimited) caps the lists one scan may probe,
 * counted like vdb.probes per sealed segment on average, for users who
 * prefer a bounded latency to a complete filtered result.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/htup_details.h"
#include "access/relscan.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "distance.h"
#include "ivf_scan.h"
#include "ivf_write.h"
#include "sq8.h"
#include "vector.h"

VdbScanStats vdb_last_scan_stats;
static bool vdb_last_scan_valid = false;

int			vdb_max_probes = 0;

/* Widenings after which the unprobed lists are kept sorted by rank. */
#define VDB_SORT_AFTER_WIDENINGS	4

/*
 * One candidate row: its heap TID and either its exact internal distance
 * (vector_off = 0) or, for a row found through its SQ8 code, a lower bound
 * on that distance and where its float entry is, to re-rank it from.
 */
typedef struct VdbCandidate
{
	float		distance;		/* exact, or a lower bound if vector_off != 0 */
	ItemPointerData tid;
	OffsetNumber vector_off;	/* float entry's item, 0 when exact */
	BlockNumber vector_blk;		/* float entry's block */
	int16		seg;			/* its sealed segment (index into sealed[]) */
	bool		loose;			/* a bound past the first batch's cut, maybe
								 * from a partial sum (VdbSq8SetBeyond): far
								 * below the distance, perhaps */
} VdbCandidate;

/* One list in the global ranking. */
typedef struct VdbRankedList
{
	float		distance;		/* query to centroid, in ranking units, or a
								 * lower bound from its code (!exact) */
	uint32		list;			/* global list number */
	bool		exact;
} VdbRankedList;

/*
 * The k smallest values a ranking has seen (a max-heap).  The k-th is the
 * distance past which the ranking of entries stops caring how far a code
 * lies (VdbSq8SetBeyond), and the one that finds the lists a batch may take
 * without a selection over all of them (PartitionRanked).
 */
typedef struct VdbKthSmallest
{
	int			k;
	int			n;
	float	   *heap;			/* heap[0] is the largest kept */
} VdbKthSmallest;

/*
 * A sealed segment as this scan sees it, with the query prepared for its
 * SQ8 codes when the scan first reads one of its lists (sq8.h).
 */
typedef struct VdbScanSegment
{
	const VdbCachedSegment *cache;
	uint32		first_list;		/* global number of its list 0 */
	bool		prepared;		/* pq is set */
	VdbSq8Query pq;
} VdbScanSegment;

/* A growing or frozen chain page read by the first batch. */
typedef struct VdbChainPage
{
	BlockNumber blkno;
	uint32		segid;
	uint32		generation;
} VdbChainPage;

/* Growing entries of one page waiting for the batch that probes their list. */
typedef struct VdbDeferred
{
	uint32		list;			/* global list number */
	uint32		page;			/* index into chain_pages */
} VdbDeferred;

typedef struct VdbScanOpaqueData
{
	MemoryContext scan_cxt;		/* everything below; reset on rescan */

	/* the query */
	bool		started;
	bool		no_order;		/* NULL or unrankable query: TID order */
	bool		orderby_null;	/* SQL distance is NULL (NULL query) */
	double		order_slack;	/* cosine: xs_orderbyvals are lower bounds,
								 * the distance minus this */
	bool		heap_rerank;	/* past the first batch, rows may leave with
								 * their code's bound, for the executor to
								 * re-rank from the heap row (HeapRerank) */
	int			dim;
	VdbDistanceKind kind;
	float	   *query;

	/* sealed segments and the global list ranking */
	int			nsealed;
	VdbScanSegment *sealed;
	uint32		nlists;			/* lists of all sealed segments */
	VdbRankedList *ranked;
	uint32		nranked_taken;	/* ranked[0 .. nranked_taken) were probed */
	bool		ranked_bounds;	/* some lists are ranked by bounds (codes) */
	uint32		ranked_near;	/* ranked[0 .. ranked_near) holds the
								 * RefineCount(first batch) lists with the
								 * smallest bounds (0: unknown) */
	double		query_norm2;	/* |q|^2 */
	int32	   *list_round;		/* batch that probed each list, -1 = none */
	uint32		list_limit;		/* vdb.max_probes cap, in lists */
	uint32		next_batch;		/* lists in the next widening */
	int			round;
	uint32		first_batch;	/* lists in the first batch */
	int64		deeper_at;		/* rows returned that call for more lists */
	bool		rest_sorted;	/* ranked[nranked_taken ..) is in rank order */

	/*
	 * The distance rule: a probed list's gap is how much nearer the query
	 * its nearest entry lies than its centroid does (in internal distance
	 * units); an unprobed list is assumed to hide nothing nearer than its
	 * centroid distance minus the largest gap seen.
	 */
	bool		have_gap;
	float		max_gap;
	float		rank_offset;	/* rank + offset = centroid distance (L2:
								 * |q|^2, ranks omit it) */
	float		next_centroid;	/* centroid distance of the nearest
								 * unprobed list, infinity if none */

	/* growing and frozen segments */
	VdbChainPage *chain_pages;
	int			nchain_pages;
	int			chain_capacity;
	VdbDeferred *deferred;
	int			ndeferred;
	int			deferred_capacity;

	/* the VDB_TRUSTED_ROWS smallest bounds of the first batch */
	VdbKthSmallest entry_kth;
	/* one page's codes, for VdbSq8LowerBounds */
	int			batch_capacity;
	const uint8 **batch_codes;
	float	   *batch_errors;
	float	   *batch_bounds;

	/* candidates of the current batch: a binary heap */
	VdbCandidate *cand;
	int			ncand;
	int			cand_capacity;
	int			widen_below;	/* widen when fewer candidates remain */

	/* the last row returned, for the order check after widening */
	bool		have_last;
	VdbCandidate last;

	VdbScanStats stats;
	int64		reranked;		/* candidates re-ranked from float entries */
} VdbScanOpaqueData;

typedef VdbScanOpaqueData *VdbScanOpaque;

/*
 * Register the scan's settings (called once, from IvfInit).
 */
void
IvfScanInit(void)
{
	static bool done = false;

	if (done)
		return;
	done = true;
	DefineCustomIntVariable("vdb.max_probes",
							"Caps the lists an index scan may probe, per sealed segment on average.",
							"0 (the default) lets a scan widen until every list is read, "
							"so filtered queries always find their rows; a positive value "
							"bounds the work of each scan and may return fewer rows.",
							&vdb_max_probes,
							0, 0, INT_MAX,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
	VdbSealInit();				/* the sealing side's test setting */

}

/*
 * Check that a page read by a scan still belongs to the segment the
 * directory copy named; see DESIGN.md "Page reuse".
 */
void
VdbCheckSegmentPage(Relation index, Page page, BlockNumber blkno,
					uint32 segid, uint32 generation, uint16 flags)
{
	VdbPageOpaque opaque;

	if (PageIsNew(page) ||
		PageGetSpecialSize(page) != MAXALIGN(sizeof(VdbPageOpaqueData)))
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("could not serialize access to index \"%s\": index segment %u was rewritten",
						RelationGetRelationName(index), segid),
				 errdetail("Block %u is no longer a page of that segment.", blkno)));

	opaque = VdbPageGetOpaque(page);
	if (opaque->page_id != VDB_IVF_PAGE_ID)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" contains unexpected page at block %u",
						RelationGetRelationName(index), blkno)));
	if (opaque->segid != segid || opaque->generation != generation)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("could not serialize access to index \"%s\": index segment %u was rewritten",
						RelationGetRelationName(index), segid),
				 errdetail("Block %u belongs to segment %u generation %u, expected generation %u.",
						   blkno, opaque->segid, opaque->generation, generation),
				 errhint("Retry the transaction.")));
	if ((opaque->flags & flags) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" has a page of the wrong kind at block %u",
						RelationGetRelationName(index), blkno),
				 errdetail("Page flags are 0x%04x, expected 0x%04x.",
						   opaque->flags, flags)));
}

/*
 * Does candidate a sort before candidate b: by distance, then heap TID.
 * A NaN distance (only from overflowing inner products) sorts after every
 * number, as SQL's float8 ordering puts it.
 */
static inline bool
CandidateBefore(const VdbCandidate *a, const VdbCandidate *b)
{
	if (a->distance < b->distance)
		return true;
	if (a->distance > b->distance)
		return false;
	if (unlikely(isnan(a->distance) != isnan(b->distance)))
		return isnan(b->distance);
	return ItemPointerCompare((ItemPointer) &a->tid, (ItemPointer) &b->tid) < 0;
}

/*
 * Restore the heap property below position i.
 */
static void
SiftDown(VdbCandidate *heap, int n, int i)
{
	VdbCandidate item = heap[i];

	for (;;)
	{
		int			child = 2 * i + 1;

		if (child >= n)
			break;
		if (child + 1 < n && CandidateBefore(&heap[child + 1], &heap[child]))
			child++;
		if (!CandidateBefore(&heap[child], &item))
			break;
		heap[i] = heap[child];
		i = child;
	}
	heap[i] = item;
}

/*
 * Restore the heap property above position i (a candidate added at i).
 */
static void
SiftUp(VdbCandidate *heap, int i)
{
	VdbCandidate item = heap[i];

	while (i > 0)
	{
		int			parent = (i - 1) / 2;

		if (!CandidateBefore(&item, &heap[parent]))
			break;
		heap[i] = heap[parent];
		i = parent;
	}
	heap[i] = item;
}

/*
 * Make the candidate array a heap in O(n).
 */
static void
Heapify(VdbCandidate *heap, int n)
{
	for (int i = n / 2 - 1; i >= 0; i--)
		SiftDown(heap, n, i);
}

/*
 * Remove and return the first candidate of the heap.
 */
static VdbCandidate
HeapPop(VdbCandidate *heap, int *n)
{
	VdbCandidate top = heap[0];

	(*n)--;
	if (*n > 0)
	{
		heap[0] = heap[*n];
		SiftDown(heap, *n, 0);
	}
	return top;
}

/*
 * Does ranked list a come before b: by centroid distance, then list number.
 */
static inline bool
RankedBefore(const VdbRankedList *a, const VdbRankedList *b)
{
	if (a->distance < b->distance)
		return true;
	if (a->distance > b->distance)
		return false;
	if (unlikely(isnan(a->distance) != isnan(b->distance)))
		return isnan(b->distance);	/* NaN ranks last, as for candidates */
	return a->list < b->list;
}

/*
 * qsort order of ranked lists: RankedBefore.
 */
static int
CompareRanked(const void *a, const void *b)
{
	if (RankedBefore(a, b))
		return -1;
	return RankedBefore(b, a) ? 1 : 0;
}

/*
 * Partial selection: move the k first lists of r[0 .. n) (in ranking order)
 * to r[0 .. k), in no particular order.  Expected O(n).
 */
static void
SelectNearestLists(VdbRankedList *r, uint32 n, uint32 k)
{
	uint32		lo = 0;
	uint32		hi = n;			/* working range [lo, hi) */

	if (k == 0 || k >= n)
		return;
	while (hi - lo > 1)
	{
		uint32		mid = lo + (hi - lo) / 2;
		VdbRankedList pivot;
		VdbRankedList tmp;
		uint32		store;

		/* median of three as pivot, moved to the end */
		if (RankedBefore(&r[mid], &r[lo]))
		{
			tmp = r[mid];
			r[mid] = r[lo];
			r[lo] = tmp;
		}
		if (RankedBefore(&r[hi - 1], &r[lo]))
		{
			tmp = r[hi - 1];
			r[hi - 1] = r[lo];
			r[lo] = tmp;
		}
		if (RankedBefore(&r[mid], &r[hi - 1]))
		{
			tmp = r[mid];
			r[mid] = r[hi - 1];
			r[hi - 1] = tmp;
		}
		pivot = r[hi - 1];

		store = lo;
		for (uint32 i = lo; i < hi - 1; i++)
		{
			if (RankedBefore(&r[i], &pivot))
			{
				tmp = r[i];
				r[i] = r[store];
				r[store] = tmp;
				store++;
			}
		}
		r[hi - 1] = r[store];
		r[store] = pivot;

		/* r[lo .. store) before the pivot, r[store + 1 .. hi) after it */
		if (store == k || store + 1 == k)
			return;
		if (k < store)
			hi = store;
		else
			lo = store + 1;
	}
}

/*
 * Exact internal distance from the query to a stored vector.
 */
static inline float
EntryDistance(VdbScanOpaque so, const float *x)
{
	if (so->no_order)
		return 0.0f;
	if (so->kind == VDB_DISTANCE_L2)
		return VectorL2SquaredDistance(so->dim, so->query, x);
	return -VectorInnerProduct(so->dim, so->query, x);
}

/*
 * The SQL operator's value for an internal distance (for xs_orderbyvals).
 */
static double
SqlDistance(VdbScanOpaque so, float distance)
{
	if (so->no_order)
		return get_float8_nan();
	switch (so->kind)
	{
		case VDB_DISTANCE_L2:
			/* bounds may dip below 0 */
			return distance < 0.0f ? 0.0 : sqrt((double) distance);
		case VDB_DISTANCE_COSINE:
			return 1.0 + (double) distance;
		default:
			return (double) distance;
	}
}

/*
 * Start a KthSmallest for k values.
 */
static void
KthInit(VdbKthSmallest *t, int k)
{
	t->k = Max(k, 1);
	t->n = 0;
	t->heap = palloc(sizeof(float) * t->k);
}

/*
 * The k-th smallest value seen, or infinity before k were.
 */
static float
KthValue(const VdbKthSmallest *t)
{
	return t->n < t->k ? get_float4_infinity() : t->heap[0];
}

/*
 * See value v.  Returns whether the k-th smallest changed.
 */
static inline bool
KthAdd(VdbKthSmallest *t, float v)
{
	int			i;

	if (t->n == t->k)
	{
		if (!(v < t->heap[0]))
			return false;
		/* replace the largest, and let v sink to its place */
		i = 0;
		for (;;)
		{
			int			c = 2 * i + 1;

			if (c >= t->n)
				break;
			if (c + 1 < t->n && t->heap[c + 1] > t->heap[c])
				c++;
			if (!(t->heap[c] > v))
				break;
			t->heap[i] = t->heap[c];
			i = c;
		}
		t->heap[i] = v;
		return true;
	}
	/* still filling: v rises to its place */
	i = t->n++;
	while (i > 0 && t->heap[(i - 1) / 2] < v)
	{
		t->heap[i] = t->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	t->heap[i] = v;
	return t->n == t->k;
}

/*
 * Make room for n more candidates, and for a page of n codes.
 */
static void
ReserveCandidates(VdbScanOpaque so, int n)
{
	if (n > so->batch_capacity)
	{
		so->batch_capacity = Max(n, 2 * so->batch_capacity);
		so->batch_codes = MemoryContextAlloc(so->scan_cxt, sizeof(uint8 *) * so->batch_capacity);
		so->batch_errors = MemoryContextAlloc(so->scan_cxt, sizeof(float) * so->batch_capacity);
		so->batch_bounds = MemoryContextAlloc(so->scan_cxt, sizeof(float) * so->batch_capacity);
	}
	if (so->ncand + n <= so->cand_capacity)
		return;
	so->cand_capacity = Max(so->ncand + n, so->cand_capacity * 2);
	if (so->cand == NULL)
		so->cand = MemoryContextAllocHuge(so->scan_cxt,
										  sizeof(VdbCandidate) * so->cand_capacity);
	else
		so->cand = repalloc_huge(so->cand, sizeof(VdbCandidate) * so->cand_capacity);
}

/*
 * Global list number of a growing entry's interim assignment, or -1 when it
 * names no list of a sealed segment this scan knows.
 */
static int64
AssignedList(VdbScanOpaque so, uint32 segid, uint32 list)
{
	int			lo = 0;
	int			hi = so->nsealed - 1;

	if (segid == 0)
		return -1;
	/* sealed[] is in segid order */
	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		const VdbCachedSegment *seg = so->sealed[mid].cache;

		if (seg->segid == segid)
			return list < seg->nlists ? (int64) so->sealed[mid].first_list + list : -1;
		if (seg->segid < segid)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

/*
 * Prepare the query for a segment's SQ8 codes (once per scan and segment).
 */
static void
PrepareCodes(VdbScanOpaque so, VdbScanSegment *sseg)
{
	const VdbCachedSegment *seg = sseg->cache;

	sseg->pq.qs = MemoryContextAlloc(so->scan_cxt, sizeof(float) * so->dim);
	sseg->pq.q16 = MemoryContextAlloc(so->scan_cxt, sizeof(int16) * so->dim);
	VdbSq8Prepare(&sseg->pq, so->query, so->dim, so->kind == VDB_DISTANCE_L2,
				  seg->sq_offset, seg->sq_scale, seg->sq_span, seg->max_norm);
	sseg->prepared = true;
}

/*
 * Replace a candidate's lower bound by its exact distance, computed from
 * its float entry on page (already locked, checked to be the right page).
 */
static void
RerankOnPage(IndexScanDesc scan, VdbCandidate *c, Page page)
{
	VdbScanOpaque so = (VdbScanOpaque) scan->opaque;
	ItemId		itemid;

	if (c->vector_off > PageGetMaxOffsetNumber(page) ||
		!ItemIdIsNormal(itemid = PageGetItemId(page, c->vector_off)) ||
		ItemIdGetLength(itemid) < VDB_POSTING_ENTRY_SIZE(so->dim) ||
		!ItemPointerEquals(&((VdbPostingEntry) PageGetItem(page, itemid))->tid, &c->tid))
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("code entry of index \"%s\" points to a missing float entry",
						RelationGetRelationName(scan->indexRelation)),
				 errdetail("Segment %u, block %u, item %u.",
						   so->sealed[c->seg].cache->segid, c->vector_blk,
						   c->vector_off)));
	c->distance = EntryDistance(so, ((VdbPostingEntry) PageGetItem(page, itemid))->x);
	c->vector_off = InvalidOffsetNumber;
	so->reranked++;
}

/*
 * Read a float page for re-ranking: pinned, share-locked and checked.
 */
static Buffer
ReadVectorPage(IndexScanDesc scan, const VdbCandidate *c)
{
	VdbScanOpaque so = (VdbScanOpaque) scan->opaque;
	const VdbCachedSegment *seg = so->sealed[c->seg].cache;
	Buffer		buf;

	CHECK_FOR_INTERRUPTS();
	buf = ReadBuffer(scan->indexRelation, c->vector_blk);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	VdbCheckSegmentPage(scan->indexRelation, BufferGetPage(buf), c->vector_blk,
						seg->segid, seg->generation, VDB_PAGE_VECTORS);
	return buf;
}

/*
 * Replace a candidate's lower bound by its exact distance, computed from
 * its float entry.
 */
static void
RerankCandidate(IndexScanDesc scan, VdbCandidate *c)
{
	Buffer		buf = ReadVectorPage(scan, c);

	RerankOnPage(scan, c, BufferGetPage(buf));
	UnlockReleaseBuffer(buf);
}

/*
 * Re-rank candidates [from, to) of the array, which point to their float
 * pages in page order (one list's, as written): each page is read once.
 */
static void
RerankRange(IndexScanDesc scan, int from, int to)
{
	VdbScanOpaque so = (VdbScanOpaque) scan->opaque;
	Buffer		buf = InvalidBuffer;
	BlockNumber blkno = InvalidBlockNumber;

	for (int i = from; i < to; i++)
	{
		VdbCandidate *c = &so->cand[i];

		if (c->vector_off == InvalidOffsetNumber)
			continue;
		if (c->vector_blk != blkno)
		{
			if (BufferIsValid(buf))
				UnlockReleaseBuffer(buf);
			buf = ReadVectorPage(scan, c);
			blkno = c->vector_blk;
		}
		RerankOnPage(scan, c, BufferGetPage(buf));
	}
	if (BufferIsValid(buf))
		UnlockReleaseBuffer(buf);
}

/*
 * Pin a posting page and ask for all of it: its entries are read front to
 * back, and the hardware prefetcher alone starts late on each new page (on
 * Fashion-MNIST at probes 8 this gave 6-17% more queries/s, same-run A/B,
 * and halved the time in the SQ8 kernel).
 */
static Buffer
PinAndPrefetch(IndexScanDesc scan, BlockNumber blkno)
{
	Buffer		buf;
	char	   *page;

	CHECK_FOR_INTERRUPTS();
	buf = ReadBuffer(scan->indexRelation, blkno);
	page = (char *) BufferGetPage(buf);
	for (Size off = 0; off < BLCKSZ; off += 64)
		__builtin_prefetch(page + off);
	return buf;
}

/*
 * Read the posting pages of one list and add its entries as candidates:
 * float entries with their exact distance, or (format 2) code entries with
 * a lower bound, to be re-ranked before they are returned.
 */
static void
ReadPostingList(IndexScanDesc scan, int segno, uint32 list)
{
	VdbScanOpaque so = (VdbScanOpaque) scan->opaque;
	VdbScanSegment *sseg = &so->sealed[segno];
	const VdbCachedSegment *seg = sseg->cache;
	BlockNumber ncode = seg->list_ncode_pages[list];
	bool		codes = seg->has_codes && ncode > 0;
	BlockNumber npages = codes ? ncode : seg->list_npages[list];
	int			first_new = so->ncand;

	/*
	 * A widening means the consumer reads deep into the stream (a filter,
	 * invisible rows): most of the candidates will come first in turn and
	 * need their exact distance, one random float page each.  Reading the
	 * list's float pages in order at once costs less then (on Fashion-
	 * MNIST with a 1% filter that excludes the query's neighbours, a query
	 * returns 10,000-20,000 rows).  The first batch, which unfiltered LIMIT
	 * queries never get past, keeps the codes, and so does every batch when
	 * the executor re-ranks from the heap (heap_rerank).
	 */
	bool		exact_now = codes && so->round > 0 && !so->no_order && !so->heap_rerank;
	bool		bounds = codes && !so->no_order && !exact_now;

	if (codes && !so->no_order && !sseg->prepared)
		PrepareCodes(so, sseg);

	/*
	 * Only the nearest VDB_TRUSTED_ROWS bounds of the first batch are sure
	 * to be needed: past the last of them the integer kernel may stop (the
	 * bound is then weaker but still a bound, and the few such rows a deep
	 * scan reaches are re-ranked like any other).  On Fashion-MNIST it
	 * stops after about half the dimensions of most entries.
	 */
	if (bounds)
		VdbSq8SetBeyond(&sseg->pq, so->round == 0 ? KthValue(&so->entry_kth) :
						get_float4_infinity());

	for (BlockNumber p = 0; p < npages; p++)
	{
		BlockNumber blkno = VdbRunBlock(&seg->run, seg->list_start[list] + p);
		Buffer		buf;
		Page		page;
		OffsetNumber maxoff;
		int			page_first;
		int			nbatch;

		buf = PinAndPrefetch(scan, blkno);
		page = BufferGetPage(buf);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		VdbCheckSegmentPage(scan->indexRelation, page, blkno, seg->segid,
							seg->generation, codes ? VDB_PAGE_CODES : VDB_PAGE_POSTING);
		maxoff = PageGetMaxOffsetNumber(page);
		ReserveCandidates(so, maxoff);
		page_first = so->ncand;
		nbatch = 0;
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
		{
			ItemId		itemid = PageGetItemId(page, off);
			VdbCandidate *c;

			if (!ItemIdIsNormal(itemid))
				continue;
			c = &so->cand[so->ncand++];
			c->seg = segno;
			c->loose = false;
			if (codes)
			{
				VdbCodeEntry entry = (VdbCodeEntry) PageGetItem(page, itemid);

				c->tid = entry->tid;
				if (so->no_order)
				{
					c->distance = 0.0f;
					c->vector_off = InvalidOffsetNumber;
				}
				else
				{
					c->distance = 0.0f;
					if (bounds)
					{
						so->batch_codes[nbatch] = entry->code;
						so->batch_errors[nbatch++] = entry->error;
					}
					c->vector_off = entry->vector_off;
					c->vector_blk = VdbRunBlock(&seg->run, entry->vector_page);
				}
			}
			else
			{
				VdbPostingEntry entry = (VdbPostingEntry) PageGetItem(page, itemid);

				c->distance = EntryDistance(so, entry->x);
				c->tid = entry->tid;
				c->vector_off = InvalidOffsetNumber;
			}
			so->stats.entries_scanned++;
		}
		if (nbatch > 0)
		{
			/* the page's bounds at once (the candidates are in item order) */
			bool		nearer = false;

			Assert(nbatch == so->ncand - page_first);
			VdbSq8LowerBounds(&sseg->pq, seg->sq_scale, so->batch_codes,
							  so->batch_errors, nbatch, so->batch_bounds);
			for (int i = 0; i < nbatch; i++)
			{
				VdbCandidate *c = &so->cand[page_first + i];

				c->distance = so->batch_bounds[i];
				c->loose = sseg->pq.cut && c->distance >= sseg->pq.beyond;
				if (so->round == 0)
					nearer |= KthAdd(&so->entry_kth, c->distance);
			}
			if (nearer)
				VdbSq8SetBeyond(&sseg->pq, KthValue(&so->entry_kth));
		}
		UnlockReleaseBuffer(buf);
	}
	if (exact_now)
		RerankRange(scan, first_new, so->ncand);
	so->stats.lists_probed++;
}


/*
 * Remember that a chain page holds entries of a list not probed yet.
 */
static void
DeferEntries(VdbScanOpaque so, uint32 list, int pageno)
{
	if (so->ndeferred > 0 &&
		so->deferred[so->ndeferred - 1].list == list &&
		so->deferred[so->ndeferred - 1].page == (uint32) pageno)
		return;
	if (so->ndeferred == so->deferred_capacity)
	{
		so->deferred_capacity = Max(64, so->deferred_capacity * 2);
		if (so->deferred == NULL)
			so->deferred = MemoryContextAllocHuge(so->scan_cxt,
												  sizeof(VdbDeferred) * so->deferred_capacity);
		else
			so->deferred = repalloc_huge(so->deferred,
										 sizeof(VdbDeferred) * so->deferred_capacity);
	}
	so->deferred[so->ndeferred].list = list;
	so->deferred[so->ndeferred].page = (uint32) pageno;
	so->ndeferred++;
}

/*
 * Read one growing or frozen chain page.  In the first batch (round 0)
 * entries of probed lists, or without a usable assignment, are measured;
 * on a page read for the first time (not known from a summary) the others
 * are counted and deferred to the batch that probes their list.  In later
 * rounds only the entries of that round's lists are measured.
 */
static void
ReadChainPage(IndexScanDesc scan, int pageno, Page page, bool first_read)
{
	VdbScanOpaque so = (VdbScanOpaque) scan->opaque;
	OffsetNumber maxoff = PageGetMaxOffsetNumber(page);

	ReserveCandidates(so, maxoff);
	for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
	{
		ItemId		itemid = PageGetItemId(page, off);
		VdbGrowingEntry entry;
		int64		list;
		int32		round;
		VdbCandidate *c;

		if (!ItemIdIsNormal(itemid))
			continue;
		entry = (VdbGrowingEntry) PageGetItem(page, itemid);
		list = AssignedList(so, entry->assign_segid, entry->assign_list);
		round = list < 0 ? 0 : so->list_round[list];

		if (so->round == 0)
		{
			if (first_read)
				so->stats.entries_total++;
			if (round != 0)
			{
				if (first_read)
					DeferEntries(so, (uint32) list, pageno);
				continue;
			}
		}
		else if (list < 0 || round != so->round)
			continue;

		c = &so->cand[so->ncand++];
		c->distance = EntryDistance(so, entry->x);
		c->tid = entry->tid;
		c->vector_off = InvalidOffsetNumber;
		c->seg = -1;
		c->loose = false;
		so->stats.entries_scanned++;
	}
}

/*
 * The distinct assignments on a chain page, and how many entries it has.
 */
static int
SummarizeChainPage(Page page, VdbAssignment *out, int *nentries)
{
	OffsetNumber maxoff = PageGetMaxOffsetNumber(page);
	int			n = 0;

	*nentries = 0;
	for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
	{
		ItemId		itemid = PageGetItemId(page, off);
		VdbGrowingEntry entry;
		int			i;

		if (!ItemIdIsNormal(itemid))
			continue;
		(*nentries)++;
		entry = (VdbGrowingEntry) PageGetItem(page, itemid);
		for (i = 0; i < n; i++)
			if (out[i].segid == entry->assign_segid && out[i].list == entry->assign_list)
				break;
		if (i == n)
		{
			out[n].segid = entry->assign_segid;
			out[n].list = entry->assign_list;
			n++;
		}
	}
	return n;
}

/*
 * Remember a chain page read by the first batch.
 */
static int
AddChainPage(VdbScanOpaque so, BlockNumber blkno, const VdbSegmentData *seg)
{
	if (so->nchain_pages == so->chain_capacity)
	{
		so->chain_capacity = Max(16, so->chain_capacity * 2);
		if (so->chain_pages == NULL)
			so->chain_pages = MemoryContextAllocHuge(so->scan_cxt,
													 sizeof(VdbChainPage) * so->chain_capacity);
		else
			so->chain_pages = repalloc_huge(so->chain_pages,
											sizeof(VdbChainPage) * so->chain_capacity);
	}
	so->chain_pages[so->nchain_pages].blkno = blkno;
	so->chain_pages[so->nchain_pages].segid = seg->segid;
	so->chain_pages[so->nchain_pages].generation = seg->generation;
	return so->nchain_pages++;
}

/*
 * Read a growing or frozen chain (first batch).  The pages the backend's
 * summary knows are read only if they hold entries the first batch
 * measures; the rest of the chain is read in full, and its full pages are
 * added to the summary.
 */
static void
ReadChain(IndexScanDesc scan, const VdbSegmentData *seg)
{
	VdbScanOpaque so = (VdbScanOpaque) scan->opaque;
	Relation	index = scan->indexRelation;
	VdbChainSummary *summary = VdbGetChainSummary(index, seg);
	BlockNumber blkno = seg->head;
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	BlockNumber followed = 0;
	VdbAssignment *found = NULL;

	/* Pages known from the summary. */
	for (int i = 0; summary != NULL && i < summary->npages; i++)
	{
		const VdbChainSummaryPage *sp = &summary->pages[i];
		const VdbAssignment *a = summary->assignments + sp->first;
		int			pageno = AddChainPage(so, sp->blkno, seg);
		bool		measure = false;

		so->stats.entries_total += sp->nentries;
		for (int j = 0; j < sp->nassignments; j++)
		{
			int64		list = AssignedList(so, a[j].segid, a[j].list);

			if (list < 0 || so->list_round[list] == 0)
				measure = true;
			else
				DeferEntries(so, (uint32) list, pageno);
		}
		if (measure)
		{
			Buffer		buf;
			Page		page;

			CHECK_FOR_INTERRUPTS();
			buf = ReadBuffer(index, sp->blkno);
			LockBuffer(buf, BUFFER_LOCK_SHARE);
			page = BufferGetPage(buf);
			VdbCheckSegmentPage(index, page, sp->blkno, seg->segid, seg->generation,
								VDB_PAGE_GROWING);
			ReadChainPage(scan, pageno, page, false);
			UnlockReleaseBuffer(buf);
		}
		blkno = sp->nextblkno;
		followed++;
	}

	/* The rest of the chain. */
	while (BlockNumberIsValid(blkno))
	{
		Buffer		buf;
		Page		page;
		int			pageno;
		BlockNumber next;

		CHECK_FOR_INTERRUPTS();
		/* the chain may have grown since the relation size was read */
		if (blkno >= nblocks || followed >= nblocks)
			nblocks = RelationGetNumberOfBlocks(index);
		if (blkno >= nblocks || ++followed > nblocks)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("chain of segment %u of index \"%s\" is broken at block %u",
							seg->segid, RelationGetRelationName(index), blkno)));
		buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		VdbCheckSegmentPage(index, page, blkno, seg->segid, seg->generation,
							VDB_PAGE_GROWING);
		pageno = AddChainPage(so, blkno, seg);
		ReadChainPage(scan, pageno, page, true);
		next = VdbPageGetOpaque(page)->nextblkno;

		/* a page that is no longer the tail never gains entries: summarize */
		if (summary != NULL && BlockNumberIsValid(next))
		{
			int			nentries;
			int			n;

			if (found == NULL)
				found = palloc(sizeof(VdbAssignment) * MaxOffsetNumber);
			n = SummarizeChainPage(page, found, &nentries);
			UnlockReleaseBuffer(buf);
			VdbChainSummaryAdd(summary, blkno, next, found, n, nentries);
		}
		else
			UnlockReleaseBuffer(buf);
		blkno = next;
	}
	so->stats.segments++;
}

/*
 * The exact ranking value of list l of a segment: |c|^2 - 2 q.c for L2,
 * -q.c otherwise.
 */
static float
ExactRank(VdbScanOpaque so, const VdbCachedSegment *seg, uint32 l)
{
	float		dot = VectorInnerProduct(so->dim, so->query,
										 seg->centroids + (Size) l * seg->dim);

	if (so->kind == VDB_DISTANCE_L2)
		return seg->centroid_norms[l] - 2.0f * dot;
	return -dot;
}

/*
 * Lists whose exact ranking value RefineRanking computes to pick the n
 * nearest: the first by bound, with room for the bounds' looseness.
 */
static uint32
RefineCount(uint32 n)
{
	return 2 * n + 16;
}

/*
 * Rank an L2 segment's lists by lower bounds from their centroid codes, and
 * see every bound in kth.
 */
static void
RankByCodes(VdbScanOpaque so, int segno, VdbKthSmallest *kth)
{
	const VdbScanSegment *sseg = &so->sealed[segno];
	const VdbCachedSegment *seg = sseg->cache;
	VdbSq8Query pq;
	float	   *bounds = palloc(sizeof(float) * seg->nlists);
	const uint8 **codes = palloc(sizeof(uint8 *) * seg->nlists);

	pq.qs = palloc(sizeof(float) * so->dim);
	pq.q16 = palloc(sizeof(int16) * so->dim);
	VdbSq8Prepare(&pq, so->query, so->dim, true, seg->cq_offset, seg->cq_scale,
				  seg->cq_span, seg->cq_max_norm);
	for (uint32 l = 0; l < seg->nlists; l++)
		codes[l] = seg->ccodes + (Size) l * so->dim;
	VdbSq8LowerBounds(&pq, seg->cq_scale, codes, seg->cerrors, seg->nlists, bounds);
	for (uint32 l = 0; l < seg->nlists; l++)
	{
		uint32		g = sseg->first_list + l;

		/* ranking units: |q - c|^2 - |q|^2 */
		so->ranked[g].distance = (float) ((double) bounds[l] - so->query_norm2);
		so->ranked[g].list = g;
		so->ranked[g].exact = false;
		so->list_round[g] = -1;
		KthAdd(kth, so->ranked[g].distance);
	}
	pfree(bounds);
	pfree(codes);
	pfree(pq.qs);
	pfree(pq.q16);
}

/*
 * Move the lists ranked at or below bound to the front of r[0 .. n), and
 * return how many there are.  One pass: with bound the k-th smallest of the
 * bounds, a selection of the k first then only looks at those (on
 * Fashion-MNIST, 32 of 979 lists; a selection over all of them took 7% of a
 * query's time at vdb.probes 1).
 */
static uint32
PartitionRanked(VdbRankedList *r, uint32 n, float bound)
{
	uint32		store = 0;

	for (uint32 i = 0; i < n; i++)
	{
		if (r[i].distance <= bound)
		{
			VdbRankedList tmp = r[i];

			r[i] = r[store];
			r[store++] = tmp;
		}
	}
	return store;
}

/*
 * The sealed segment (index into sealed[]) holding global list g.
 */
static int
SegmentOfList(VdbScanOpaque so, uint32 g)
{
	int			lo = 0;
	int			hi = so->nsealed - 1;

	while (lo < hi)
	{
		int			mid = (lo + hi + 1) / 2;

		if (so->sealed[mid].first_list <= g)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/*
 * Give a ranked list its exact value, if it has only a bound.  Returns
 * whether its value changed.
 */
static bool
MakeExact(VdbScanOpaque so, VdbRankedList *r)
{
	int			segno;

	if (r->exact)
		return false;
	segno = SegmentOfList(so, r->list);
	r->distance = ExactRank(so, so->sealed[segno].cache,
							r->list - so->sealed[segno].first_list);
	r->exact = true;
	return true;
}

/*
 * Move the n first of the ranked lists r[0 .. m) by exact value to r[0 ..
 * n) (for a sorted rest, see rest_sorted, only compute the values: the
 * caller sorts again when this returns true).  A bound is never above the
 * exact value, so taking the RefineCount(n) first lists by bound in bound
 * order and computing exact values until the next bound is past the n-th
 * smallest exact value found leaves no list outside that could be among the
 * n first; usually few more than n exact values are needed.  Should every
 * one of them be, any list further down still bounded below the n-th exact
 * value gets its exact value too.  Lists not taken keep what they have.
 * Returns whether any value changed.
 */
static bool
RefineRanking(VdbScanOpaque so, VdbRankedList *r, uint32 m, uint32 n)
{
	uint32		first = Min(m, RefineCount(n));
	VdbKthSmallest nth;
	float		nth_value;
	bool		any = false;
	bool		settled = false;
	bool		further = false;

	if (n == 0 || n >= m)
		return false;			/* nothing to choose */
	if (!so->rest_sorted)
	{
		/* the first batch knows where its lists are (see PartitionRanked) */
		if (so->nranked_taken == 0 && so->ranked_near >= first)
			SelectNearestLists(r, so->ranked_near, first);
		else
			SelectNearestLists(r, m, first);
		qsort(r, first, sizeof(VdbRankedList), CompareRanked);
	}
	KthInit(&nth, n);
	for (uint32 i = 0; i < first; i++)
	{
		if (r[i].distance > KthValue(&nth))
		{
			settled = true;		/* bounds only grow from here */
			break;
		}
		any |= MakeExact(so, &r[i]);
		KthAdd(&nth, r[i].distance);
	}
	nth_value = KthValue(&nth);
	pfree(nth.heap);
	for (uint32 i = first; !settled && i < m; i++)
	{
		if (r[i].distance < nth_value)
		{
			/* exact already (refined by an earlier batch), or made so */
			any |= MakeExact(so, &r[i]);
			further = true;
		}
	}
	if (!so->rest_sorted)
		SelectNearestLists(r, further ? m : first, n);
	return any;
}

/*
 * Order for reading the lists of a batch: global list number, which is run
 * order within each segment.
 */
static int
CompareRankedByList(const void *a, const void *b)
{
	uint32		la = ((const VdbRankedList *) a)->list;
	uint32		lb = ((const VdbRankedList *) b)->list;

	return (la > lb) - (la < lb);
}

/*
 * After reading one list's entries (cand[from .. ncand)), widen the largest
 * gap by its own: how much nearer its nearest entry is than its centroid.
 */
static void
NoteListGap(VdbScanOpaque so, float rank, int from)
{
	float		nearest = get_float4_infinity();
	float		gap;

	if (so->no_order || from == so->ncand)
		return;
	for (int i = from; i < so->ncand; i++)
		nearest = Min(nearest, so->cand[i].distance);
	gap = rank + so->rank_offset - nearest;
	if (isnan(gap) || isinf(gap))
		return;					/* overflowing inner products: no estimate */
	if (!so->have_gap || gap > so->max_gap)
		so->max_gap = gap;
	so->have_gap = true;
}

/*
 * Centroid distance of the nearest list not probed yet, or infinity when no
 * list may be probed any more.
 */
static float
NextCentroidDistance(VdbScanOpaque so)
{
	float		best = get_float4_infinity();

	if (so->nranked_taken >= so->list_limit)
		return best;
	if (so->rest_sorted)
		return so->ranked[so->nranked_taken].distance + so->rank_offset;
	for (uint32 i = so->nranked_taken; i < so->nlists; i++)
		best = Min(best, so->ranked[i].distance);
	return best + so->rank_offset;
}

/*
 * How many unprobed lists have a centroid distance below the bound: those
 * that may hide a row nearer than the bound plus the largest gap.
 */
static uint32
UnprobedBelow(VdbScanOpaque so, float centroid_bound)
{
	float		bound = centroid_bound - so->rank_offset;
	uint32		n = 0;

	if (so->rest_sorted)
	{
		while (so->nranked_taken + n < so->nlists &&
			   so->ranked[so->nranked_taken + n].distance < bound)
			n++;
		return n;
	}
	for (uint32 i = so->nranked_taken; i < so->nlists; i++)
		if (so->ranked[i].distance < bound)
			n++;
	return n;
}

/*
 * Lists the depth rule asks for before returning row number rows.
 */
static uint32
DepthLists(VdbScanOpaque so, int64 rows)
{
	double		n = so->first_batch * sqrt((double) Max(rows, 1) / VDB_TRUSTED_ROWS);

	return (uint32) Min(ceil(n), (double) so->nlists);
}

/*
 * Probe the next n lists by rank: read their posting lists and, after the
 * first batch, the growing entries assigned to them.
 */
static void
ProbeLists(IndexScanDesc scan, uint32 n)
{
	VdbScanOpaque so = (VdbScanOpaque) scan->opaque;
	VdbRankedList *batch = so->ranked + so->nranked_taken;
	int			seg = 0;

	n = Min(n, so->nlists - so->nranked_taken);
	if (so->ranked_bounds)
	{
		/* some bounds became exact values: sort the rest again */
		if (RefineRanking(so, batch, so->nlists - so->nranked_taken, n) && so->rest_sorted)
			qsort(batch, so->nlists - so->nranked_taken, sizeof(VdbRankedList), CompareRanked);
	}
	else if (!so->rest_sorted)
		SelectNearestLists(batch, so->nlists - so->nranked_taken, n);
	qsort(batch, n, sizeof(VdbRankedList), CompareRankedByList);
	so->nranked_taken += n;

	for (uint32 i = 0; i < n; i++)
		so->list_round[batch[i].list] = so->round;

	for (uint32 i = 0; i < n; i++)
	{
		uint32		list = batch[i].list;
		int			from = so->ncand;

		while (seg + 1 < so->nsealed && so->sealed[seg + 1].first_list <= list)
			seg++;
		ReadPostingList(scan, seg, list - so->sealed[seg].first_list);
		NoteListGap(so, batch[i].distance, from);
	}
	so->next_centroid = NextCentroidDistance(so);

	/* rows after which the depth rule wants more than the lists taken */
	if (so->no_order || so->first_batch == 0 || so->nranked_taken >= so->list_limit)
		so->deeper_at = PG_INT64_MAX;
	else
	{
		double		r = VDB_TRUSTED_ROWS * pow((double) so->nranked_taken / so->first_batch, 2);

		so->deeper_at = Max((int64) ceil(r), VDB_TRUSTED_ROWS);
		while (DepthLists(so, so->deeper_at + 1) <= so->nranked_taken)
			so->deeper_at++;
	}

	/* Growing entries waiting for these lists (their pages, once each). */
	if (so->round > 0)
	{
		int64		last_page = -1;

		for (int i = 0; i < so->ndeferred; i++)
		{
			const VdbChainPage *cp;
			Buffer		buf;
			Page		page;

			if (so->list_round[so->deferred[i].list] != so->round ||
				(int64) so->deferred[i].page <= last_page)
				continue;
			last_page = so->deferred[i].page;
			cp = &so->chain_pages[last_page];

			CHECK_FOR_INTERRUPTS();
			buf = ReadBuffer(scan->indexRelation, cp->blkno);
			LockBuffer(buf, BUFFER_LOCK_SHARE);
			page = BufferGetPage(buf);
			VdbCheckSegmentPage(scan->indexRelation, page, cp->blkno, cp->segid,
								cp->generation, VDB_PAGE_GROWING);
			ReadChainPage(scan, (int) last_page, page, false);
			UnlockReleaseBuffer(buf);
		}
	}
}

/*
 * Can rows leave the scan with only their code's lower bound, for the
 * executor to re-rank from the heap row (xs_recheckorderby, P20)?  The
 * executor fetches that row anyway; re-ranking from it spares the scan a
 * float page per row returned (on Fashion-MNIST at vdb.probes 8, ten of the
 * sixty pages a query reads), and a deep scan (a filter) every float page.
 * Only when the indexed column is stored PLAIN: then the heap row holds the
 * vector inline and uncompressed, while a TOASTed one would cost the
 * executor a TOAST fetch per row, more than the float page it spares.
 */
static bool
HeapRerank(IndexScanDesc scan)
{
	AttrNumber	attno = scan->indexRelation->rd_index->indkey.values[0];
	Relation	heap = scan->heapRelation;

	if (heap == NULL || attno <= 0 || attno > RelationGetDescr(heap)->natts)
		return false;			/* an expression, or no heap to ask */
	return TupleDescAttr(RelationGetDescr(heap), attno - 1)->attstorage == TYPSTORAGE_PLAIN;
}

/*
 * Start the scan: read the directory, rank the lists, run the first batch.
 */
static void
StartScan(IndexScanDesc scan)
{
	VdbScanOpaque so = (VdbScanOpaque) scan->opaque;
	Relation	index = scan->indexRelation;
	MemoryContext oldcxt = MemoryContextSwitchTo(so->scan_cxt);
	VdbMetaPage meta;
	Datum		value = scan->orderByData[0].sk_argument;
	bool		isnull = (scan->orderByData[0].sk_flags & SK_ISNULL) != 0;
	uint32		first_batch;
	VdbKthSmallest kth;

	so->started = true;
	so->round = 0;

	meta = VdbCopyMeta(index);
	so->kind = (VdbDistanceKind) meta->kind;
	so->dim = meta->dimensions;

	/* The query: NULL, or one that cannot be ranked, streams in TID order. */
	if (isnull)
	{
		so->no_order = true;
		so->orderby_null = true;
	}
	else
	{
		Vector	   *q = DatumGetVector(value);

		if (so->dim != 0 && q->dim != so->dim)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("different vector dimensions %d and %d", so->dim, q->dim)));
		so->dim = q->dim;
		so->query = palloc(sizeof(float) * q->dim);
		memcpy(so->query, q->x, sizeof(float) * q->dim);
		/* a zero query under cosine has no direction: every distance is NaN */
		if (!VdbPrepareVector(so->kind, so->query, so->dim))
			so->no_order = true;
		/* L2 ranks are |c|^2 - 2 q.c: add |q|^2 for the distance */
		if (so->kind == VDB_DISTANCE_L2)
			so->rank_offset = VectorInnerProduct(so->dim, so->query, so->query);
		so->query_norm2 = 0.0;
		for (int i = 0; i < so->dim; i++)
			so->query_norm2 += (double) so->query[i] * so->query[i];

		/*
		 * Cosine: the scan's dot product of normalised float vectors and the
		 * operator's float sums each err by at most about dim roundings of
		 * unit size (the terms sum to at most 1 in magnitude), plus a few
		 * for the normalisation and the division; twice that, to spare.
		 */
		if (so->kind == VDB_DISTANCE_COSINE && !so->no_order)
			so->order_slack = (4.0 * so->dim + 32.0) * FLT_EPSILON;
		so->heap_rerank = !so->no_order && HeapRerank(scan);
	}

	/* Sealed segments, in segid order, with their cached centroids. */
	so->sealed = palloc0(sizeof(VdbScanSegment) * Max(meta->nsegments, 1));
	so->nsealed = 0;
	so->nlists = 0;
	for (uint32 i = 0; i < meta->nsegments; i++)
	{
		VdbSegmentData *seg = &meta->segments[i];
		const VdbCachedSegment *cached;
		int			j;

		if (seg->state != VDB_SEGMENT_SEALED || seg->nlists == 0)
			continue;
		cached = VdbGetCachedSegment(index, seg, so->dim);
		/* keep sealed[] sorted by segid (the directory usually is) */
		for (j = so->nsealed; j > 0 && so->sealed[j - 1].cache->segid > seg->segid; j--)
			so->sealed[j] = so->sealed[j - 1];
		memset(&so->sealed[j], 0, sizeof(VdbScanSegment));
		so->sealed[j].cache = cached;
		so->nsealed++;
		so->stats.segments++;
		so->stats.entries_total += seg->nrows - Min(seg->ndead, seg->nrows);
	}
	for (int i = 0; i < so->nsealed; i++)
	{
		so->sealed[i].first_list = so->nlists;
		so->nlists += so->sealed[i].cache->nlists;
	}

	/*
	 * The probe budget: vdb.probes lists per sealed segment on average,
	 * spent by global rank.  An unranked stream reads everything at once.
	 */
	so->list_limit = so->nlists;
	if (vdb_max_probes > 0 && !so->no_order)
		so->list_limit = Min(so->nlists, (uint64) vdb_max_probes * so->nsealed);
	if (so->no_order)
		first_batch = so->nlists;
	else
		first_batch = Min(so->list_limit, (uint64) Max(vdb_probes, 1) * so->nsealed);
	so->next_batch = Max(first_batch, 1);
	so->first_batch = first_batch;

	/* Rank every list of every sealed segment by centroid distance. */
	so->ranked = palloc(sizeof(VdbRankedList) * Max(so->nlists, 1));
	so->list_round = palloc(sizeof(int32) * Max(so->nlists, 1));
	KthInit(&kth, RefineCount(first_batch));
	KthInit(&so->entry_kth, VDB_TRUSTED_ROWS);
	for (int i = 0; i < so->nsealed; i++)
	{
		const VdbCachedSegment *seg = so->sealed[i].cache;

		CHECK_FOR_INTERRUPTS();

		/*
		 * One kernel call per centroid rather than BLAS: a query must never
		 * start (or spin on) BLAS threads, and the ranking is memory-bound.
		 * L2 ranks by |c|^2 - 2 q.c, which orders like |q - c|^2.  With
		 * centroid codes, every list first gets a lower bound (integer
		 * kernel over a quarter of the bytes), and RefineRanking computes
		 * the exact value only where a batch needs it.
		 */
		if (seg->rank_codes && !so->no_order && so->kind == VDB_DISTANCE_L2)
		{
			RankByCodes(so, i, &kth);
			so->ranked_bounds = true;
			continue;
		}
		for (uint32 l = 0; l < seg->nlists; l++)
		{
			uint32		g = so->sealed[i].first_list + l;
			float		d = 0.0f;

			if (!so->no_order)
				d = ExactRank(so, seg, l);
			so->ranked[g].distance = d;
			so->ranked[g].list = g;
			so->ranked[g].exact = true;
			so->list_round[g] = -1;
		}
	}

	if (so->ranked_bounds)
		so->ranked_near = PartitionRanked(so->ranked, so->nlists, KthValue(&kth));
	pfree(kth.heap);
	ProbeLists(scan, first_batch);

	/* Growing and frozen segments: read once, measured now or deferred. */
	for (uint32 i = 0; i < meta->nsegments; i++)
	{
		VdbSegmentData *seg = &meta->segments[i];

		if (seg->state == VDB_SEGMENT_GROWING || seg->state == VDB_SEGMENT_FROZEN)
			ReadChain(scan, seg);
	}

	Heapify(so->cand, so->ncand);
	so->widen_below = so->ncand - so->ncand / 4;
	MemoryContextSwitchTo(oldcxt);
}

/*
 * Widen: probe n more lists by rank (0: the next doubling batch) and merge
 * their candidates into the heap.  Returns false when nothing is left to
 * probe.
 */
static bool
WidenScan(IndexScanDesc scan, uint32 n)
{
	VdbScanOpaque so = (VdbScanOpaque) scan->opaque;
	MemoryContext oldcxt;
	int			old_ncand = so->ncand;

	if (so->nranked_taken >= so->list_limit)
		return false;

	oldcxt = MemoryContextSwitchTo(so->scan_cxt);
	so->round++;
	so->stats.widenings++;
	if (n == 0)
	{
		n = so->next_batch;
		so->next_batch = (uint32) Min((uint64) so->next_batch * 2, PG_UINT32_MAX);
	}
	n = Max(1, Min(n, so->list_limit - so->nranked_taken));

	/*
	 * A scan that keeps widening (a filter deep into the stream) takes lists
	 * in rank order from here on: sort the rest once rather than select from
	 * it each time.
	 */
	if (!so->rest_sorted && so->stats.widenings >= VDB_SORT_AFTER_WIDENINGS)
	{
		qsort(so->ranked + so->nranked_taken, so->nlists - so->nranked_taken,
			  sizeof(VdbRankedList), CompareRanked);
		so->rest_sorted = true;
	}

	/* new candidates are appended to the remaining ones, then merged */
	ProbeLists(scan, n);
	if ((so->ncand - old_ncand) * 8 < old_ncand)
	{
		/* a few lists into a large pool: insert them one by one */
		for (int i = old_ncand; i < so->ncand; i++)
			SiftUp(so->cand, i);
	}
	else
		Heapify(so->cand, so->ncand);
	so->widen_below = so->ncand - so->ncand / 4;
	MemoryContextSwitchTo(oldcxt);
	return true;
}

/*
 * Publish this scan's counters as the backend's last scan.
 */
static void
PublishStats(VdbScanOpaque so)
{
	if (!so->started)
		return;
	vdb_last_scan_stats = so->stats;
	vdb_last_scan_valid = true;
	elog(DEBUG1, "vdb_ivf scan: %lld entries scanned, %lld re-ranked, %lld returned",
		 (long long) so->stats.entries_scanned, (long long) so->reranked,
		 (long long) so->stats.returned);
}

/*
 * Prepare an index scan.
 */
IndexScanDesc
ivfbeginscan(Relation index, int nkeys, int norderbys)
{
	IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
	VdbScanOpaque so = palloc0(sizeof(VdbScanOpaqueData));

	so->scan_cxt = AllocSetContextCreate(CurrentMemoryContext,
										 "vdb_ivf scan",
										 ALLOCSET_DEFAULT_SIZES);
	scan->opaque = so;
	if (norderbys > 0)
	{
		scan->xs_orderbyvals = palloc0(sizeof(Datum) * norderbys);
		scan->xs_orderbynulls = palloc(sizeof(bool) * norderbys);
		memset(scan->xs_orderbynulls, true, sizeof(bool) * norderbys);
	}
	return scan;
}

/*
 * Start (or restart) a scan with new keys; the work waits for gettuple.
 */
void
ivfrescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys)
{
	VdbScanOpaque so = (VdbScanOpaque) scan->opaque;
	MemoryContext scan_cxt = so->scan_cxt;

	PublishStats(so);
	MemoryContextReset(scan_cxt);
	memset(so, 0, sizeof(VdbScanOpaqueData));
	so->scan_cxt = scan_cxt;

	if (keys && scan->numberOfKeys > 0)
		memmove(scan->keyData, keys, scan->numberOfKeys * sizeof(ScanKeyData));
	if (orderbys && scan->numberOfOrderBys > 0)
		memmove(scan->orderByData, orderbys, scan->numberOfOrderBys * sizeof(ScanKeyData));
}

/*
 * Return the next row of the stream, in (distance, TID) order.
 */
bool
ivfgettuple(IndexScanDesc scan, ScanDirection dir)
{
	VdbScanOpaque so = (VdbScanOpaque) scan->opaque;

	if (!so->started)
	{
		if (scan->numberOfOrderBys != 1 || scan->numberOfKeys != 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("vdb_ivf index scans need exactly one ORDER BY distance and no conditions")));
		if (!ScanDirectionIsForward(dir))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("vdb_ivf index scans go forward only")));
		/* buffered rows hold no pins: only MVCC keeps their TIDs valid (P21) */
		if (!IsMVCCSnapshot(scan->xs_snapshot))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("vdb_ivf index scans require an MVCC snapshot")));
		StartScan(scan);
	}

	for (;;)
	{
		VdbCandidate c;

		/*
		 * A quarter of the pool used up: widen now, while new rows can still
		 * merge in ahead of the rest (on Fashion-MNIST with a filter that
		 * excludes the query's neighbours, widening at a quarter instead of
		 * a half cut the rows skipped for order fivefold; unfiltered LIMIT
		 * queries stop long before it).
		 */
		if (so->ncand <= so->widen_below && WidenScan(scan, 0))
			continue;
		if (so->ncand == 0)
			return false;

		/*
		 * The distance rule, past the rows the first batch is trusted for:
		 * the next row must not lie beyond what the nearest unprobed list
		 * may hide (its centroid distance minus the largest gap seen);
		 * otherwise probe every list that may hide a nearer row first.
		 */
		if (so->have_gap && so->stats.returned >= VDB_TRUSTED_ROWS &&
			so->cand[0].distance > so->next_centroid - so->max_gap &&
			WidenScan(scan, UnprobedBelow(so, so->cand[0].distance + so->max_gap)))
			continue;

		/*
		 * The depth rule: at least first_batch * sqrt(rows / trusted rows)
		 * lists before returning more rows, whatever the gaps say.
		 */
		if (so->stats.returned >= so->deeper_at &&
			WidenScan(scan, DepthLists(so, so->stats.returned + 1) - so->nranked_taken))
			continue;

		/*
		 * The first candidate only has a lower bound: every other one is at
		 * or after that bound, so compute its exact distance and let it sink
		 * to its place.  A row is returned only once it is first with its
		 * exact distance, i.e. before every bound left: exact order.
		 *
		 * Past the first batch (a consumer deep in the stream: a filter),
		 * with heap_rerank the row leaves with its bound instead and the
		 * executor re-ranks it from the heap row.  Not in the first batch:
		 * the executor pulls every row bounded below the k-th distance
		 * before it returns k rows, and those pulls would count as rows
		 * taken for the widening rules, which would then widen a plain
		 * LIMIT k query.  Nor a loose bound, which may lie far below the
		 * distance: the executor would pull every row up to the distance
		 * before it could return this one, and the rules would count
		 * those pulls as rows taken (on Fashion-MNIST with a random 10%
		 * filter that tripled the rows pulled).  Nor below the last row
		 * returned: that row's bound may lie below its distance, and the
		 * executor must never be handed a bound below one it has seen.
		 */
		if (so->cand[0].vector_off != InvalidOffsetNumber &&
			!(so->heap_rerank && so->round > 0 && !so->cand[0].loose &&
			  !(so->have_last && CandidateBefore(&so->cand[0], &so->last))))
		{
			RerankCandidate(scan, &so->cand[0]);
			SiftDown(so->cand, so->ncand, 0);
			continue;
		}

		c = HeapPop(so->cand, &so->ncand);

		/* found by a widening but sorts before a row already returned */
		if (so->have_last && CandidateBefore(&c, &so->last))
		{
			so->stats.skipped_for_order++;
			continue;
		}
		so->last = c;
		so->have_last = true;
		so->stats.returned++;

		scan->xs_heaptid = c.tid;
		scan->xs_recheck = false;
		scan->xs_recheckorderby = (so->order_slack > 0) ||
			c.vector_off != InvalidOffsetNumber;
		if (so->orderby_null)
		{
			scan->xs_orderbyvals[0] = (Datum) 0;
			scan->xs_orderbynulls[0] = true;
		}
		else
		{
			scan->xs_orderbyvals[0] = Float8GetDatum(SqlDistance(so, c.distance) - so->order_slack);
			scan->xs_orderbynulls[0] = false;
		}
		return true;
	}
}

/*
 * End a scan: publish its counters and free its memory.
 */
void
ivfendscan(IndexScanDesc scan)
{
	VdbScanOpaque so = (VdbScanOpaque) scan->opaque;

	PublishStats(so);
	MemoryContextDelete(so->scan_cxt);
	pfree(so);
	scan->opaque = NULL;
}

PG_FUNCTION_INFO_V1(vdb_last_scan);
/*
 * What the last vdb_ivf index scan that ended in this backend did.
 */
Datum
vdb_last_scan(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[7];
	bool		nulls[7];

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	values[0] = Int64GetDatum(vdb_last_scan_stats.segments);
	values[1] = Int64GetDatum(vdb_last_scan_stats.lists_probed);
	values[2] = Int64GetDatum(vdb_last_scan_stats.entries_scanned);
	values[3] = Int64GetDatum(vdb_last_scan_stats.entries_total);
	values[4] = Int64GetDatum(vdb_last_scan_stats.widenings);
	values[5] = Int64GetDatum(vdb_last_scan_stats.skipped_for_order);
	values[6] = Int64GetDatum(vdb_last_scan_stats.returned);
	memset(nulls, !vdb_last_scan_valid, sizeof(nulls));

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc),
													  values, nulls)));
}
