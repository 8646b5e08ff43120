/*
 * ivf_insert.c
 *	  aminsert for vdb_ivf: append to the growing segment.
 *
 * Each new row gets an interim assignment to the nearest list of the newest
 * sealed segment, so that scans can probe growing rows by list instead of
 * brute-forcing them.  That segment's centroids are cached per backend,
 * keyed by (relfilenode, segment, generation, seal time, lists).
 *
 * Appending holds the metapage share-locked (so the tail cannot move) and
 * the tail page exclusively.  When the tail is full, or the segment holds
 * segment_rows rows, the inserter retakes the metapage exclusively and
 * moves the tail to a new page: linked into the chain, or, once the
 * segment is full, as the first page of a new growing segment, freezing
 * the old one (VdbGrowNewPage).
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "debug.h"
#include "ivf.h"
#include "ivf_write.h"
#include "worker.h"

/* The centroids of the newest sealed segment of one index. */
typedef struct InterimLists
{
	RelFileNode node;
	uint32		segid;			/* 0: nothing cached */
	uint32		generation;
	TimestampTz sealed_at;		/* tells apart a new index that reuses the
								 * relfilenode */
	int			dim;
	int			nlists;
	float	   *centroids;
	float	   *norms;
} InterimLists;

static InterimLists interim;
static MemoryContext interim_context = NULL;

/*
 * Read a sealed segment's centroids into the backend cache.
 */
static void
LoadInterimLists(Relation index, VdbSegment seg, int dim)
{
	Buffer		buf;
	Page		page;
	VdbSealedHeaderData header;
	VdbRunMap	map;
	MemoryContext old;
	int			list = 0;

	if (interim_context == NULL)
		interim_context = AllocSetContextCreate(TopMemoryContext, "vdb_ivf interim lists",
												ALLOCSET_DEFAULT_SIZES);
	MemoryContextReset(interim_context);
	interim.segid = 0;

	VdbReadRunHeader(index, seg, false, &header, &map);
	if (header.dimensions != dim)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("header of segment %u of index \"%s\" does not match the directory",
						seg->segid, RelationGetRelationName(index))));

	interim.centroids = MemoryContextAllocHuge(interim_context,
											   sizeof(float) * (Size) header.nlists * dim);
	for (BlockNumber p = 0; p < header.ncentroid_pages; p++)
	{
		BlockNumber blkno = VdbRunBlock(&map, header.centroid_start + p);
		OffsetNumber maxoff;

		buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		VdbCheckPageStamp(index, page, blkno, seg->segid, seg->generation, VDB_PAGE_CENTROID);
		maxoff = PageGetMaxOffsetNumber(page);
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff && list < (int) header.nlists; off++)
		{
			VdbList		l = (VdbList) PageGetItem(page, PageGetItemId(page, off));

			memcpy(interim.centroids + (Size) list * dim, l->centroid, sizeof(float) * dim);
			list++;
		}
		UnlockReleaseBuffer(buf);
	}
	if (list != (int) header.nlists)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("segment %u of index \"%s\" has %d lists on its centroid pages, expected %u",
						seg->segid, RelationGetRelationName(index), list, header.nlists)));

	old = MemoryContextSwitchTo(interim_context);
	interim.norms = VdbNormsOf(interim.centroids, header.nlists, dim);
	MemoryContextSwitchTo(old);
	interim.node = index->rd_node;
	interim.generation = seg->generation;
	interim.sealed_at = seg->sealed_at;
	interim.dim = dim;
	interim.nlists = header.nlists;
	interim.segid = seg->segid;
}

/*
 * Give an entry its interim assignment: the nearest list of the newest
 * sealed segment, or 0/0 while the index has no sealed segment.
 */
static void
AssignInterim(Relation index, VdbDistanceKind kind, int dim, VdbGrowingEntry entry)
{
	VdbMetaPage meta = VdbCopyMeta(index);
	VdbSegment	newest = NULL;

	for (uint32 i = 0; i < meta->nsegments; i++)
	{
		VdbSegment	seg = &meta->segments[i];

		if (seg->state == VDB_SEGMENT_SEALED && (newest == NULL || seg->segid > newest->segid))
			newest = seg;
	}
	entry->assign_segid = 0;
	entry->assign_list = 0;
	if (newest != NULL && newest->nlists > 0)
	{
		if (interim.segid != newest->segid || interim.generation != newest->generation ||
			interim.sealed_at != newest->sealed_at || interim.nlists != (int) newest->nlists ||
			interim.dim != dim || !RelFileNodeEquals(interim.node, index->rd_node))
			LoadInterimLists(index, newest, dim);
		entry->assign_segid = newest->segid;
		entry->assign_list = VdbNearestCentroid(kind, entry->x, dim, interim.centroids,
												interim.norms, interim.nlists,
												palloc(sizeof(float) * interim.nlists));
	}
	pfree(meta);
}

/*
 * Add an entry to a page under generic WAL.
 */
static void
AddEntry(Relation index, Buffer buf, VdbGrowingEntry entry, Size entry_size)
{
	GenericXLogState *state = GenericXLogStart(index);
	Page		page = GenericXLogRegisterBuffer(state, buf, 0);

	if (PageAddItem(page, (Item) entry, entry_size, InvalidOffsetNumber,
					false, false) == InvalidOffsetNumber)
		elog(ERROR, "could not add vdb_ivf growing entry");
	GenericXLogFinish(state);
}

/*
 * Append an entry to the growing segment's tail, moving the tail to a new
 * page (and freezing the segment when it is full) if needed.  Returns
 * whether it froze the segment; *frozen_seen tells whether the directory
 * had a frozen segment when the entry went onto a tail page with room.
 */
static bool
AppendEntry(Relation index, VdbGrowingEntry entry, Size entry_size, bool *frozen_seen)
{
	int			segment_rows = VdbGetSegmentRows(index);

	for (;;)
	{
		Buffer		metabuf = ReadBuffer(index, VDB_IVF_METAPAGE_BLKNO);
		Buffer		tailbuf;
		VdbMetaPage meta;
		VdbSegment	growing;
		BlockNumber tail;
		Page		page;
		bool		freeze;

		/* The usual case: room on the tail page. */
		LockBuffer(metabuf, BUFFER_LOCK_SHARE);
		meta = VdbPageGetMeta(BufferGetPage(metabuf));
		VdbCheckMeta(index, meta);
		growing = VdbFindGrowing(meta);
		tail = growing->tail;
		tailbuf = ReadBuffer(index, tail);
		LockBuffer(tailbuf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(tailbuf);
		VdbCheckPageStamp(index, page, tail, growing->segid, growing->generation,
						  VDB_PAGE_GROWING);
		if (PageGetFreeSpace(page) >= entry_size &&
			growing->nrows + PageGetMaxOffsetNumber(page) < (uint32) segment_rows)
		{
			AddEntry(index, tailbuf, entry, entry_size);
			for (uint32 i = 0; i < meta->nsegments && !*frozen_seen; i++)
				*frozen_seen = (meta->segments[i].state == VDB_SEGMENT_FROZEN);
			UnlockReleaseBuffer(tailbuf);
			UnlockReleaseBuffer(metabuf);
			return false;
		}
		UnlockReleaseBuffer(tailbuf);
		LockBuffer(metabuf, BUFFER_LOCK_UNLOCK);

		/* The tail is full: move it, unless someone else just did. */
		LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
		meta = VdbPageGetMeta(BufferGetPage(metabuf));
		growing = VdbFindGrowing(meta);
		if (growing->tail != tail)
		{
			UnlockReleaseBuffer(metabuf);
			continue;
		}
		tailbuf = ReadBuffer(index, tail);
		LockBuffer(tailbuf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(tailbuf);
		freeze = growing->nrows + PageGetMaxOffsetNumber(page) >= (uint32) segment_rows;
		if (!freeze && PageGetFreeSpace(page) >= entry_size)
			AddEntry(index, tailbuf, entry, entry_size);	/* VACUUM made room */
		else
		{
			VdbGrowNewPage(index, metabuf, tailbuf, freeze, (Item) entry, entry_size);
			if (!freeze)
				VdbCrashPoint(VDB_CRASH_INSERT_GROW);
		}
		UnlockReleaseBuffer(tailbuf);
		UnlockReleaseBuffer(metabuf);
		return freeze;
	}
}

/*
 * Insert one row into the growing segment.
 */
bool
ivfinsert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid,
		  Relation heap, IndexUniqueCheck checkUnique, bool indexUnchanged,
		  IndexInfo *indexInfo)
{
	MemoryContext tmpctx;
	MemoryContext old;
	int			dim;
	VdbDistanceKind kind;
	Size		entry_size;
	VdbGrowingEntry entry;
	bool		frozen_seen = false;

	if (isnull[0])
		return false;

	tmpctx = AllocSetContextCreate(CurrentMemoryContext, "vdb_ivf insert",
								   ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(tmpctx);

	dim = VdbGetIndexDimensions(index);
	kind = VdbGetDistanceKind(index);
	entry_size = VDB_GROWING_ENTRY_SIZE(dim);
	entry = palloc0(entry_size);
	if (VdbPrepareDatum(values[0], dim, kind, entry->x))
	{
		entry->tid = *heap_tid;
		AssignInterim(index, kind, dim, entry);
		if (AppendEntry(index, entry, entry_size, &frozen_seen))
		{
			VdbCrashPoint(VDB_CRASH_INSERT_FREEZE);
			VdbRequestSeal(heap, index);	/* worker.c */
		}
		else if (frozen_seen)
			VdbNoticeFrozen(heap, index);	/* worker.c */
	}

	MemoryContextSwitchTo(old);
	MemoryContextDelete(tmpctx);
	return false;
}
