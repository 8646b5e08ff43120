/*
 * ivf_cache.c
 *	  Per-backend cache of sealed segments' centroids and list tables.
 *
 * A query ranks the centroids of every sealed segment; reading them from
 * their pages each time would cost hundreds of page reads per query (about
 * 500 pages for 1,000 lists of 784 dims).  Sealed segments never change
 * identity without a new generation, and VACUUM only touches posting pages,
 * so what a segment's header and centroid pages say can be kept in backend
 * memory, keyed by (index relfilenode, segid, generation, head, nlists): a
 * key that no longer matches the directory is simply never looked up again
 * and ages out (least recently used first) once the cache grows past its
 * budget.  Scans keep pointers into entries until they end, so an entry used
 * in the current transaction is never evicted (index scans do not outlive
 * their transaction); the budget may be exceeded until the next one.
 * REINDEX and TRUNCATE give the index a new relfilenode, so they never hit
 * old entries.
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/proc.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "distance.h"
#include "ivf_scan.h"
#include "sq8.h"

/* Keep at most this many bytes of centroids (least recently used go first). */
#define VDB_CACHE_MAX_BYTES		((Size) 256 * 1024 * 1024)

typedef struct VdbCacheEntry
{
	RelFileNode node;			/* index relfilenode */
	MemoryContext cxt;			/* holds the entry and its arrays */
	Size		bytes;			/* memory the arrays take */
	uint64		last_used;
	LocalTransactionId used_in;	/* last transaction that used it */
	VdbCachedSegment seg;
} VdbCacheEntry;

static MemoryContext VdbCacheContext = NULL;
static VdbCacheEntry **cache_entries = NULL;
static int	cache_nentries = 0;
static int	cache_capacity = 0;
static Size cache_bytes = 0;
static uint64 cache_clock = 0;

/*
 * Read a format 2 segment's SQ8 offsets and scales (quantizer pages) into
 * seg, in the current memory context.
 */
static void
LoadQuantizer(Relation index, const VdbSegmentData *dirseg,
			  const VdbSealedHeaderData *header, VdbCachedSegment *seg)
{
	int			dim = seg->dim;
	float	   *quant = palloc(sizeof(float) * 2 * dim);
	int			have = 0;

	if (header->quant_start + header->nquant_pages > dirseg->npages)
		have = -1;				/* reported below */
	for (BlockNumber b = 0; have >= 0 && b < header->nquant_pages; b++)
	{
		BlockNumber blkno = VdbRunBlock(&seg->run, header->quant_start + b);
		Buffer		buf;
		Page		page;
		Size		len;

		buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		VdbCheckSegmentPage(index, page, blkno, dirseg->segid,
							dirseg->generation, VDB_PAGE_QUANTIZER);
		len = PageGetMaxOffsetNumber(page) == FirstOffsetNumber ?
			ItemIdGetLength(PageGetItemId(page, FirstOffsetNumber)) : 0;
		if (len == 0 || len % sizeof(float) != 0 ||
			have + len / sizeof(float) > (Size) 2 * dim)
			have = -1;
		else
		{
			memcpy(quant + have, PageGetItem(page, PageGetItemId(page, FirstOffsetNumber)), len);
			have += len / sizeof(float);
		}
		UnlockReleaseBuffer(buf);
	}
	if (have != 2 * dim)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("quantizer pages of sealed segment %u of index \"%s\" do not match its header",
						dirseg->segid, RelationGetRelationName(index))));
	seg->sq_offset = quant;
	seg->sq_scale = quant + dim;
	for (int i = 0; i < dim; i++)
	{
		if (!(seg->sq_scale[i] >= 0.0f) || isinf(seg->sq_scale[i]) || isnan(seg->sq_offset[i]))
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("quantizer of sealed segment %u of index \"%s\" is invalid",
							dirseg->segid, RelationGetRelationName(index))));
	}
	seg->sq_span = VdbSq8Span(seg->sq_scale, dim);
	seg->max_norm = header->max_norm;
}

/*
 * SQ8 codes of an L2 segment's centroids, so that a scan can rank them
 * with the integer kernel (a quarter of the bytes, and exact arithmetic)
 * and compute only the nearest ones' exact distances.  Only when the
 * quantizer gets one scale for every dimension (sq8.c); otherwise the
 * scan ranks with the float kernel.
 */
static void
EncodeCentroids(VdbCachedSegment *seg)
{
	int			dim = seg->dim;

	seg->cq_offset = palloc(sizeof(float) * dim);
	seg->cq_scale = palloc(sizeof(float) * dim);
	VdbSq8Train(seg->centroids, seg->nlists, dim, seg->cq_offset, seg->cq_scale,
				&seg->cq_max_norm);
	for (int i = 0; i < dim; i++)
		if (seg->cq_scale[i] != seg->cq_scale[0] || !(seg->cq_scale[i] > 0.0f))
			return;
	seg->cq_span = VdbSq8Span(seg->cq_scale, dim);
	seg->ccodes = palloc_extended((Size) seg->nlists * dim, MCXT_ALLOC_HUGE);
	seg->cerrors = palloc(sizeof(float) * seg->nlists);
	for (uint32 l = 0; l < seg->nlists; l++)
		seg->cerrors[l] = VdbSq8Encode(seg->centroids + (Size) l * dim, dim,
									   seg->cq_offset, seg->cq_scale,
									   seg->ccodes + (Size) l * dim);
	seg->rank_codes = true;
}

/*
 * Read a sealed segment's header and centroid pages into a new cache entry.
 */
static VdbCacheEntry *
LoadSegment(Relation index, const VdbSegmentData *dirseg, int dim)
{
	MemoryContext cxt;
	MemoryContext oldcxt;
	VdbCacheEntry *entry;
	VdbCachedSegment *seg;
	VdbSealedHeaderData header;
	Buffer		buf;
	Page		page;
	uint32		nlists = dirseg->nlists;
	uint32		list = 0;

	/*
	 * Built under the caller's context, so that an error frees it; moved
	 * under the cache's context once complete.
	 */
	cxt = AllocSetContextCreate(CurrentMemoryContext, "vdb_ivf cached segment",
								ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(cxt);

	entry = palloc0(sizeof(VdbCacheEntry));
	entry->node = index->rd_node;
	entry->cxt = cxt;
	seg = &entry->seg;

	/* The header page, checked against the directory, and the run's extents. */
	VdbReadRunHeader(index, dirseg, true, &header, &seg->run);
	if (header.dimensions != dim)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("header of sealed segment %u of index \"%s\" does not match the directory",
						dirseg->segid, RelationGetRelationName(index))));
	seg->segid = dirseg->segid;
	seg->generation = dirseg->generation;
	seg->head = dirseg->head;
	seg->npages = dirseg->npages;
	seg->nlists = nlists;
	seg->dim = dim;
	seg->centroids = palloc_extended(sizeof(float) * (Size) nlists * dim,
									 MCXT_ALLOC_HUGE);
	seg->centroid_norms = palloc(sizeof(float) * nlists);
	seg->list_start = palloc(sizeof(BlockNumber) * nlists);
	seg->list_npages = palloc(sizeof(BlockNumber) * nlists);
	seg->list_ncode_pages = palloc(sizeof(BlockNumber) * nlists);
	seg->list_nentries = palloc(sizeof(uint32) * nlists);
	entry->bytes = (sizeof(float) * ((Size) dim + 1) +
					3 * sizeof(BlockNumber) + sizeof(uint32)) * nlists;

	/* Format 2: the SQ8 quantizer (a format 1 header is shorter). */
	seg->has_codes = (header.flags & VDB_SEALED_CODES) != 0;
	if (seg->has_codes)
		LoadQuantizer(index, dirseg, &header, seg);

	/* Centroid pages: one VdbListData per list, lists in order. */
	for (BlockNumber b = 0; b < header.ncentroid_pages; b++)
	{
		BlockNumber blkno = VdbRunBlock(&seg->run, header.centroid_start + b);
		OffsetNumber maxoff;

		CHECK_FOR_INTERRUPTS();
		buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		VdbCheckSegmentPage(index, page, blkno, dirseg->segid,
							dirseg->generation, VDB_PAGE_CENTROID);
		maxoff = PageGetMaxOffsetNumber(page);
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
		{
			ItemId		itemid = PageGetItemId(page, off);
			VdbList		item;
			float	   *c;

			if (!ItemIdIsNormal(itemid))
				continue;
			if (list >= nlists ||
				ItemIdGetLength(itemid) < offsetof(VdbListData, centroid) + sizeof(float) * dim)
				break;		/* reported below */
			item = (VdbList) PageGetItem(page, itemid);
			c = seg->centroids + (Size) list * dim;
			memcpy(c, item->centroid, sizeof(float) * dim);
			seg->centroid_norms[list] = VectorInnerProduct(dim, c, c);
			seg->list_start[list] = item->start;
			seg->list_npages[list] = item->npages;
			seg->list_nentries[list] = item->nentries;
			seg->list_ncode_pages[list] = seg->has_codes ? item->ncode_pages : 0;
			if (item->start + item->npages > dirseg->npages ||
				seg->list_ncode_pages[list] > item->npages)
				list = nlists + 1;	/* reported below */
			else
				list++;
		}
		UnlockReleaseBuffer(buf);
		if (list > nlists)
			break;
	}
	if (list != nlists)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("centroid pages of sealed segment %u of index \"%s\" do not match its header",
						dirseg->segid, RelationGetRelationName(index))));

	if (header.kind == VDB_DISTANCE_L2)
	{
		EncodeCentroids(seg);
		entry->bytes += (Size) nlists * (dim + sizeof(float));
	}

	MemoryContextSwitchTo(oldcxt);
	if (VdbCacheContext == NULL)
		VdbCacheContext = AllocSetContextCreate(CacheMemoryContext,
												"vdb_ivf centroid cache",
												ALLOCSET_DEFAULT_SIZES);
	MemoryContextSetParent(cxt, VdbCacheContext);
	return entry;
}

/*
 * Drop least recently used entries, not used in this transaction, until the
 * cache fits its budget.
 */
static void
EvictEntries(Size incoming)
{
	while (cache_bytes + incoming > VDB_CACHE_MAX_BYTES)
	{
		int			oldest = -1;

		for (int i = 0; i < cache_nentries; i++)
			if (cache_entries[i]->used_in != MyProc->lxid &&
				(oldest < 0 ||
				 cache_entries[i]->last_used < cache_entries[oldest]->last_used))
				oldest = i;
		if (oldest < 0)
			break;
		cache_bytes -= cache_entries[oldest]->bytes;
		MemoryContextDelete(cache_entries[oldest]->cxt);
		cache_entries[oldest] = cache_entries[--cache_nentries];
	}
}

/*
 * The cached centroids and list table of a sealed segment, loading them on
 * first use.  The result lives until a later call evicts it: callers use it
 * within one scan (or one planner call) and look it up again next time.
 */
const VdbCachedSegment *
VdbGetCachedSegment(Relation index, const VdbSegmentData *seg, int dim)
{
	VdbCacheEntry *entry;

	Assert(seg->state == VDB_SEGMENT_SEALED);

	for (int i = 0; i < cache_nentries; i++)
	{
		entry = cache_entries[i];
		if (RelFileNodeEquals(entry->node, index->rd_node) &&
			entry->seg.segid == seg->segid &&
			entry->seg.generation == seg->generation &&
			entry->seg.head == seg->head &&
			entry->seg.npages == seg->npages &&
			entry->seg.nlists == seg->nlists &&
			entry->seg.dim == dim)
		{
			entry->last_used = ++cache_clock;
			entry->used_in = MyProc->lxid;
			return &entry->seg;
		}
	}

	entry = LoadSegment(index, seg, dim);
	EvictEntries(entry->bytes);

	if (cache_nentries == cache_capacity)
	{
		int			newcap = Max(16, cache_capacity * 2);

		if (cache_entries == NULL)
			cache_entries = MemoryContextAlloc(VdbCacheContext,
											   sizeof(VdbCacheEntry *) * newcap);
		else
			cache_entries = repalloc(cache_entries,
									 sizeof(VdbCacheEntry *) * newcap);
		cache_capacity = newcap;
	}
	entry->last_used = ++cache_clock;
	entry->used_in = MyProc->lxid;
	cache_entries[cache_nentries++] = entry;
	cache_bytes += entry->bytes;
	return &entry->seg;
}

/*
 * Growing and frozen chain summaries (see VdbChainSummary), kept like the
 * centroids: per backend, by (relfilenode, segid, generation, head), least
 * recently used dropped first once there are too many.  Segment ids are
 * never reused, and a segment's pages keep their place while it lives, so
 * a summary stays right for its segment even after the pages are reused
 * by others (ivf_space.c): a scan that still follows it (on a standby)
 * reads each page it needs under a stamp check, and skipping a page that
 * was reused returns nothing wrong.
 */
#define VDB_MAX_CHAIN_SUMMARIES	64

typedef struct VdbSummaryEntry
{
	RelFileNode node;
	uint64		last_used;
	LocalTransactionId used_in;
	VdbChainSummary summary;
} VdbSummaryEntry;

static VdbSummaryEntry *summary_entries[VDB_MAX_CHAIN_SUMMARIES];
static int	summary_nentries = 0;

/*
 * The summary of a growing or frozen chain (empty at first: the scan adds
 * pages as it reads them).  Valid until a later call in another transaction
 * evicts it.
 */
VdbChainSummary *
VdbGetChainSummary(Relation index, const VdbSegmentData *seg)
{
	VdbSummaryEntry *entry;
	MemoryContext cxt;
	int			slot;

	for (int i = 0; i < summary_nentries; i++)
	{
		entry = summary_entries[i];
		if (RelFileNodeEquals(entry->node, index->rd_node) &&
			entry->summary.segid == seg->segid &&
			entry->summary.generation == seg->generation &&
			entry->summary.head == seg->head)
		{
			entry->last_used = ++cache_clock;
			entry->used_in = MyProc->lxid;
			return &entry->summary;
		}
	}

	/* A free slot, or the least recently used one not in use now. */
	slot = summary_nentries;
	if (slot == VDB_MAX_CHAIN_SUMMARIES)
	{
		slot = -1;
		for (int i = 0; i < summary_nentries; i++)
			if (summary_entries[i]->used_in != MyProc->lxid &&
				(slot < 0 || summary_entries[i]->last_used < summary_entries[slot]->last_used))
				slot = i;
		if (slot < 0)
			return NULL;		/* all in use by this transaction: no summary */
		MemoryContextDelete(summary_entries[slot]->summary.cxt);
	}

	if (VdbCacheContext == NULL)
		VdbCacheContext = AllocSetContextCreate(CacheMemoryContext,
												"vdb_ivf centroid cache",
												ALLOCSET_DEFAULT_SIZES);
	cxt = AllocSetContextCreate(VdbCacheContext, "vdb_ivf chain summary",
								ALLOCSET_SMALL_SIZES);
	entry = MemoryContextAllocZero(cxt, sizeof(VdbSummaryEntry));
	entry->node = index->rd_node;
	entry->last_used = ++cache_clock;
	entry->used_in = MyProc->lxid;
	entry->summary.segid = seg->segid;
	entry->summary.generation = seg->generation;
	entry->summary.head = seg->head;
	entry->summary.cxt = cxt;
	summary_entries[slot] = entry;
	if (slot == summary_nentries)
		summary_nentries++;
	return &entry->summary;
}

/*
 * Append the next full page of the chain to its summary.
 */
void
VdbChainSummaryAdd(VdbChainSummary *summary, BlockNumber blkno, BlockNumber nextblkno,
				   const VdbAssignment *assignments, int nassignments, int nentries)
{
	VdbChainSummaryPage *page;

	if (summary->npages == summary->pages_capacity)
	{
		summary->pages_capacity = Max(64, summary->pages_capacity * 2);
		if (summary->pages == NULL)
			summary->pages = MemoryContextAllocHuge(summary->cxt,
													sizeof(VdbChainSummaryPage) * summary->pages_capacity);
		else
			summary->pages = repalloc_huge(summary->pages,
										   sizeof(VdbChainSummaryPage) * summary->pages_capacity);
	}
	while (summary->nassignments + nassignments > summary->assignments_capacity)
	{
		summary->assignments_capacity = Max(256, summary->assignments_capacity * 2);
		if (summary->assignments == NULL)
			summary->assignments = MemoryContextAllocHuge(summary->cxt,
														  sizeof(VdbAssignment) * summary->assignments_capacity);
		else
			summary->assignments = repalloc_huge(summary->assignments,
												 sizeof(VdbAssignment) * summary->assignments_capacity);
	}
	page = &summary->pages[summary->npages++];
	page->blkno = blkno;
	page->nextblkno = nextblkno;
	page->first = summary->nassignments;
	page->nassignments = nassignments;
	page->nentries = nentries;
	memcpy(summary->assignments + summary->nassignments, assignments,
		   sizeof(VdbAssignment) * nassignments);
	summary->nassignments += nassignments;
}
