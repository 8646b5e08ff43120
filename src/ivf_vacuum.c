/*
 * ivf_vacuum.c
 *	  VACUUM for vdb_ivf: remove dead entries from every segment.
 *
 * Entries are removed in place (PageIndexMultiDelete) from growing and
 * frozen chains and from sealed posting pages.  Each page's removals and
 * the matching addition to its segment's ndead counter are one generic WAL
 * record (the page and the metapage), so a crash between two pages leaves
 * every counter exact.  (Counting at the end, in a record of its own, lost
 * the count of every page already cleaned when VACUUM crashed in between:
 * nrows - ndead then stayed wrong for good.)
 *
 * Row accounting: a growing segment's nrows counts the entries of its pages
 * but the tail, counted when a page stops being the tail.  Entries removed
 * from the current tail page are therefore not added to ndead (they will
 * never be counted).  Whether a page is the tail is decided under the
 * exclusive metapage lock, which keeps it from stopping being the tail
 * meanwhile.  With that, nrows - ndead is always the number of entries
 * present on the counted pages.
 *
 * Lock order is the metapage before a segment page, so a page found to
 * have dead entries is unlocked, and locked again after the metapage; if
 * inserts added entries to it meanwhile (the growing tail), its dead
 * entries are looked up again.
 */
#include "postgres.h"

#include "commands/vacuum.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/indexfsm.h"
#include "utils/rel.h"

#include "debug.h"
#include "ivf.h"
#include "ivf_write.h"
#include "worker.h"

/*
 * Collect the offsets of a page's entries whose heap tuples are dead.
 */
static int
FindDeadEntries(Page page, bool growing, IndexBulkDeleteCallback callback,
				void *callback_state, OffsetNumber *deletable)
{
	OffsetNumber maxoff = PageGetMaxOffsetNumber(page);
	int			ndeletable = 0;

	for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
	{
		Item		item = PageGetItem(page, PageGetItemId(page, off));
		ItemPointer tid = growing ? &((VdbGrowingEntry) item)->tid
			: &((VdbPostingEntry) item)->tid;

		if (callback(tid, callback_state))
			deletable[ndeletable++] = off;
	}
	return ndeletable;
}

/*
 * Remove the dead entries of one page of a segment, counting them into the
 * segment's ndead in the same WAL record unless the page is the growing
 * segment's tail.  Adds the entries kept to stats->num_index_tuples.
 */
static void
VacuumPage(Relation index, VdbSegment seg, BlockNumber blkno, uint16 flags,
		   IndexVacuumInfo *info, IndexBulkDeleteCallback callback,
		   void *callback_state, IndexBulkDeleteResult *stats)
{
	bool		growing = (flags == VDB_PAGE_GROWING);
	OffsetNumber deletable[MaxOffsetNumber];
	int			ndeletable;
	OffsetNumber maxoff;
	Buffer		buf;
	Buffer		metabuf;
	Page		page;

	buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, info->strategy);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	VdbCheckPageStamp(index, page, blkno, seg->segid, seg->generation, flags);
	if (!(VdbPageGetOpaque(page)->flags & (VDB_PAGE_GROWING | VDB_PAGE_POSTING)))
	{
		/* A sealed run's header or centroid page: no entries. */
		UnlockReleaseBuffer(buf);
		return;
	}
	maxoff = PageGetMaxOffsetNumber(page);
	ndeletable = FindDeadEntries(page, growing, callback, callback_state, deletable);
	if (ndeletable == 0)
	{
		stats->num_index_tuples += maxoff;
		UnlockReleaseBuffer(buf);
		return;
	}
	LockBuffer(buf, BUFFER_LOCK_UNLOCK);

	/*
	 * Metapage first, then the page again.  Entries are only ever appended
	 * (to the growing tail) and only VACUUM removes any, so the dead entries
	 * found are still where they were unless the page has grown.
	 */
	metabuf = ReadBuffer(index, VDB_IVF_METAPAGE_BLKNO);
	LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	page = BufferGetPage(buf);
	VdbCheckPageStamp(index, page, blkno, seg->segid, seg->generation, flags);
	if (PageGetMaxOffsetNumber(page) != maxoff)
		ndeletable = FindDeadEntries(page, growing, callback, callback_state, deletable);
	stats->num_index_tuples += PageGetMaxOffsetNumber(page) - ndeletable;
	if (ndeletable > 0)
	{
		GenericXLogState *state = GenericXLogStart(index);
		VdbMetaPage meta = VdbPageGetMeta(GenericXLogRegisterBuffer(state, metabuf, 0));
		VdbSegment	now = VdbFindSegment(meta, seg->segid);

		page = GenericXLogRegisterBuffer(state, buf, 0);
		PageIndexMultiDelete(page, deletable, ndeletable);

		/*
		 * The growing tail's entries are not counted yet (see above).  A
		 * dropped segment's counters no longer matter (VACUUM excludes
		 * sealers, P18, so it cannot happen meanwhile anyway).
		 */
		if (now != NULL && now->generation == seg->generation &&
			now->state != VDB_SEGMENT_DROPPED &&
			!(now->state == VDB_SEGMENT_GROWING && now->tail == blkno))
			now->ndead += ndeletable;
		GenericXLogFinish(state);
		stats->tuples_removed += ndeletable;
	}
	UnlockReleaseBuffer(buf);
	UnlockReleaseBuffer(metabuf);
	if (ndeletable > 0)
		VdbCrashPoint(VDB_CRASH_VACUUM);
}

/*
 * Vacuum a growing or frozen chain, up to the tail it had when VACUUM
 * started: later entries belong to rows inserted after the heap was
 * scanned, which cannot be dead.
 */
static void
VacuumChain(Relation index, VdbSegment seg, IndexVacuumInfo *info,
			IndexBulkDeleteCallback callback, void *callback_state,
			IndexBulkDeleteResult *stats)
{
	BlockNumber blkno = seg->head;
	BlockNumber visited = 0;

	for (;;)
	{
		Buffer		buf;
		BlockNumber next;

		if (++visited > seg->npages)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("chain of segment %u of index \"%s\" is longer than its directory entry says",
							seg->segid, RelationGetRelationName(index))));
		vacuum_delay_point();

		VacuumPage(index, seg, blkno, VDB_PAGE_GROWING, info, callback,
				   callback_state, stats);

		/* The link of a page before the tail is written once, never changed. */
		if (blkno == seg->tail)
			break;
		buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, info->strategy);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		next = VdbPageGetOpaque(BufferGetPage(buf))->nextblkno;
		UnlockReleaseBuffer(buf);
		if (next == InvalidBlockNumber)
			break;
		blkno = next;
	}
}

/*
 * Vacuum the posting pages of a sealed run.
 */
static void
VacuumRun(Relation index, VdbSegment seg, IndexVacuumInfo *info,
		  IndexBulkDeleteCallback callback, void *callback_state,
		  IndexBulkDeleteResult *stats)
{
	VdbSealedHeaderData header;
	VdbRunMap	map;

	VdbReadRunHeader(index, seg, false, &header, &map);
	for (BlockNumber p = 0; p < header.nposting_pages; p++)
	{
		vacuum_delay_point();
		VacuumPage(index, seg, VdbRunBlock(&map, header.posting_start + p),
				   VDB_PAGE_POSTING, info, callback, callback_state, stats);
	}
	pfree(map.extents);
	pfree(map.offsets);
}

/*
 * Remove the entries of dead heap tuples from every segment.
 */
IndexBulkDeleteResult *
ivfbulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
			  IndexBulkDeleteCallback callback, void *callback_state)
{
	Relation	index = info->index;
	VdbMetaPage meta = VdbCopyMeta(index);

	if (stats == NULL)
		stats = palloc0(sizeof(IndexBulkDeleteResult));
	stats->num_index_tuples = 0;

	for (uint32 i = 0; i < meta->nsegments; i++)
	{
		VdbSegment	seg = &meta->segments[i];

		switch (seg->state)
		{
			case VDB_SEGMENT_GROWING:
			case VDB_SEGMENT_FROZEN:
				VacuumChain(index, seg, info, callback, callback_state, stats);
				break;
			case VDB_SEGMENT_SEALED:
				VacuumRun(index, seg, info, callback, callback_state, stats);
				break;
			default:
				break;
		}
	}
	VdbCrashPoint(VDB_CRASH_VACUUM_DONE);

	stats->num_pages = RelationGetNumberOfBlocks(index);
	stats->estimated_count = false;
	pfree(meta);
	return stats;
}

/*
 * Report the index's size after VACUUM.  When no bulk delete ran, count
 * the entries from the directory (plus the growing tail page).
 */
IndexBulkDeleteResult *
ivfvacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	Relation	index = info->index;

	if (info->analyze_only)
		return stats;

	if (stats == NULL)
	{
		Buffer		metabuf;
		VdbMetaPage meta;
		double		entries = 0;

		stats = palloc0(sizeof(IndexBulkDeleteResult));
		metabuf = ReadBuffer(index, VDB_IVF_METAPAGE_BLKNO);
		LockBuffer(metabuf, BUFFER_LOCK_SHARE);
		meta = VdbPageGetMeta(BufferGetPage(metabuf));
		VdbCheckMeta(index, meta);
		for (uint32 i = 0; i < meta->nsegments; i++)
		{
			VdbSegment	seg = &meta->segments[i];

			if (seg->state == VDB_SEGMENT_DROPPED || seg->state == VDB_SEGMENT_UNUSED)
				continue;
			entries += (double) seg->nrows - seg->ndead;
			if (seg->state == VDB_SEGMENT_GROWING)
			{
				Buffer		buf = ReadBuffer(index, seg->tail);

				LockBuffer(buf, BUFFER_LOCK_SHARE);
				entries += PageGetMaxOffsetNumber(BufferGetPage(buf));
				UnlockReleaseBuffer(buf);
			}
		}
		UnlockReleaseBuffer(metabuf);
		stats->num_index_tuples = entries;
		stats->estimated_count = false;
	}

	/*
	 * Give the pages of dropped segments back, and find free pages a crash
	 * kept from the free space map (ivf_space.c: VACUUM's lock keeps seals
	 * out meanwhile).
	 */
	(void) VdbReclaimSegments(index);
	stats->pages_free = VdbSweepFreePages(index, info->strategy);
	stats->num_pages = RelationGetNumberOfBlocks(index);
	/* Frozen segments left by a crash or an abandoned seal (worker.c). */
	VdbRequestSeal(NULL, index);
	return stats;
}
