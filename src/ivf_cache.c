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
 * their transaction); the budget may be exceeded until the next one.  REINDEX and TRUNCATE give the index a new relfilenode, so they
 * never hit old entries.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/proc.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "distance.h"
#include "ivf_scan.h"

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

	/* The header page: one item, checked against the directory. */
	buf = ReadBuffer(index, dirseg->head);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	VdbCheckSegmentPage(index, page, dirseg->head, dirseg->segid,
						dirseg->generation, VDB_PAGE_SEALED_HEADER);
	if (PageGetMaxOffsetNumber(page) < FirstOffsetNumber ||
		ItemIdGetLength(PageGetItemId(page, FirstOffsetNumber)) < sizeof(VdbSealedHeaderData))
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("sealed segment %u of index \"%s\" has no header",
						dirseg->segid, RelationGetRelationName(index))));
	memcpy(&header, PageGetItem(page, PageGetItemId(page, FirstOffsetNumber)),
		   sizeof(VdbSealedHeaderData));
	UnlockReleaseBuffer(buf);

	if (header.segid != dirseg->segid || header.nlists != nlists ||
		header.dimensions != dim || nlists == 0 ||
		header.centroid_start + header.ncentroid_pages > dirseg->npages ||
		header.posting_start + header.nposting_pages > dirseg->npages)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("header of sealed segment %u of index \"%s\" does not match the directory",
						dirseg->segid, RelationGetRelationName(index))));

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
	seg->list_nentries = palloc(sizeof(uint32) * nlists);
	entry->bytes = (sizeof(float) * ((Size) dim + 1) +
					2 * sizeof(BlockNumber) + sizeof(uint32)) * nlists;

	/* Centroid pages: one VdbListData per list, lists in order. */
	for (BlockNumber b = 0; b < header.ncentroid_pages; b++)
	{
		BlockNumber blkno = dirseg->head + header.centroid_start + b;
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
			if (item->start + item->npages > dirseg->npages)
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
