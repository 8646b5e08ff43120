/*
 * ivf_insert.c
 *	  aminsert for vdb_ivf: append to the growing segment.
 *
 * Each new row gets an interim assignment to the nearest list of the newest
 * sealed segment, so that scans can probe growing rows by list instead of
 * brute-forcing them.  That segment's centroids come from the scans'
 * per-backend cache (ivf_cache.c); one sgemv over them finds the nearest
 * (ranking by the centroids' SQ8 codes, as scans do, made COPY 5% slower).
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
#include "ivf_scan.h"
#include "ivf_write.h"
#include "worker.h"

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
		const VdbCachedSegment *cached = VdbGetCachedSegment(index, newest, dim);

		entry->assign_segid = newest->segid;
		entry->assign_list = VdbNearestCentroid(kind, entry->x, dim, cached->centroids,
												cached->centroid_norms, cached->nlists,
												palloc(sizeof(float) * cached->nlists));
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
