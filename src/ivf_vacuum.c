/*
 * ivf_vacuum.c
 *	  VACUUM for vdb_ivf: remove dead entries from every segment.
 *
 * Entries are removed in place (PageIndexMultiDelete under generic WAL) from
 * growing and frozen chains and from sealed posting pages; the directory's
 * ndead counters are updated at the end, in one metapage record.
 *
 * Row accounting: a growing segment's nrows counts the entries of its pages
 * but the tail, counted when a page stops being the tail.  Entries removed
 * from the current tail page are therefore not added to ndead (they will
 * never be counted); to tell, the tail page is visited with the metapage
 * share-locked, which keeps it from stopping being the tail meanwhile.
 * With that, nrows - ndead is always the number of entries present on the
 * counted pages.
 */
#include "postgres.h"

#include "commands/vacuum.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/indexfsm.h"
#include "utils/rel.h"

#include "ivf.h"
#include "ivf_write.h"
#include "worker.h"

/*
 * Remove the dead entries of one page.  Returns how many were removed and
 * adds the entries kept to *kept.
 */
static int
VacuumPage(Relation index, Buffer buf, bool growing,
		   IndexBulkDeleteCallback callback, void *callback_state, double *kept)
{
	Page		page = BufferGetPage(buf);
	OffsetNumber maxoff = PageGetMaxOffsetNumber(page);
	OffsetNumber deletable[MaxOffsetNumber];
	int			ndeletable = 0;

	for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
	{
		Item		item = PageGetItem(page, PageGetItemId(page, off));
		ItemPointer tid = growing ? &((VdbGrowingEntry) item)->tid
			: &((VdbPostingEntry) item)->tid;

		if (callback(tid, callback_state))
			deletable[ndeletable++] = off;
	}
	if (ndeletable > 0)
	{
		GenericXLogState *state = GenericXLogStart(index);

		page = GenericXLogRegisterBuffer(state, buf, 0);
		PageIndexMultiDelete(page, deletable, ndeletable);
		GenericXLogFinish(state);
	}
	*kept += maxoff - ndeletable;
	return ndeletable;
}

/*
 * Vacuum a growing or frozen chain, up to the tail it had when VACUUM
 * started: later entries belong to rows inserted after the heap was
 * scanned, which cannot be dead.  Returns the removals to add to ndead.
 */
static uint32
VacuumChain(Relation index, VdbSegment seg, IndexVacuumInfo *info,
			IndexBulkDeleteCallback callback, void *callback_state,
			IndexBulkDeleteResult *stats)
{
	BlockNumber blkno = seg->head;
	BlockNumber visited = 0;
	uint32		counted = 0;

	for (;;)
	{
		Buffer		metabuf = InvalidBuffer;
		Buffer		buf;
		bool		is_tail = false;
		BlockNumber next;
		int			removed;

		if (++visited > seg->npages)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("chain of segment %u of index \"%s\" is longer than its directory entry says",
							seg->segid, RelationGetRelationName(index))));
		vacuum_delay_point();

		if (blkno == seg->tail && seg->state == VDB_SEGMENT_GROWING)
		{
			VdbSegment	now;

			metabuf = ReadBuffer(index, VDB_IVF_METAPAGE_BLKNO);
			LockBuffer(metabuf, BUFFER_LOCK_SHARE);
			now = VdbFindSegment(VdbPageGetMeta(BufferGetPage(metabuf)), seg->segid);
			is_tail = (now != NULL && now->state == VDB_SEGMENT_GROWING && now->tail == blkno);
		}
		buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, info->strategy);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		VdbCheckPageStamp(index, BufferGetPage(buf), blkno, seg->segid, seg->generation,
						  VDB_PAGE_GROWING);
		removed = VacuumPage(index, buf, true, callback, callback_state,
							 &stats->num_index_tuples);
		stats->tuples_removed += removed;
		if (!is_tail)
			counted += removed;
		next = VdbPageGetOpaque(BufferGetPage(buf))->nextblkno;
		UnlockReleaseBuffer(buf);
		if (BufferIsValid(metabuf))
			UnlockReleaseBuffer(metabuf);
		if (blkno == seg->tail || next == InvalidBlockNumber)
			break;
		blkno = next;
	}
	return counted;
}

/*
 * Vacuum the posting pages of a sealed run.
 */
static uint32
VacuumRun(Relation index, VdbSegment seg, IndexVacuumInfo *info,
		  IndexBulkDeleteCallback callback, void *callback_state,
		  IndexBulkDeleteResult *stats)
{
	uint32		removed = 0;

	for (BlockNumber blkno = seg->head; blkno < seg->head + seg->npages; blkno++)
	{
		Buffer		buf;
		Page		page;

		vacuum_delay_point();
		buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, info->strategy);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		VdbCheckPageStamp(index, page, blkno, seg->segid, seg->generation,
						  VDB_PAGE_SEALED_HEADER | VDB_PAGE_CENTROID | VDB_PAGE_POSTING);
		if (VdbPageGetOpaque(page)->flags & VDB_PAGE_POSTING)
		{
			int			n = VacuumPage(index, buf, false, callback, callback_state,
									   &stats->num_index_tuples);

			removed += n;
			stats->tuples_removed += n;
		}
		UnlockReleaseBuffer(buf);
	}
	return removed;
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
	uint32	   *removed = palloc0(sizeof(uint32) * Max(meta->nsegments, 1));
	bool		any = false;

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
				removed[i] = VacuumChain(index, seg, info, callback, callback_state, stats);
				break;
			case VDB_SEGMENT_SEALED:
				removed[i] = VacuumRun(index, seg, info, callback, callback_state, stats);
				break;
			default:
				break;
		}
		if (removed[i] > 0)
			any = true;
	}

	if (any)
	{
		Buffer		metabuf = ReadBuffer(index, VDB_IVF_METAPAGE_BLKNO);
		GenericXLogState *state;
		VdbMetaPage wmeta;

		LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
		state = GenericXLogStart(index);
		wmeta = VdbPageGetMeta(GenericXLogRegisterBuffer(state, metabuf, 0));
		for (uint32 i = 0; i < meta->nsegments; i++)
		{
			VdbSegment	seg;

			if (removed[i] == 0)
				continue;
			seg = VdbFindSegment(wmeta, meta->segments[i].segid);
			if (seg != NULL && seg->generation == meta->segments[i].generation &&
				seg->state != VDB_SEGMENT_DROPPED)
				seg->ndead += removed[i];
		}
		GenericXLogFinish(state);
		UnlockReleaseBuffer(metabuf);
	}

	stats->num_pages = RelationGetNumberOfBlocks(index);
	stats->estimated_count = false;
	pfree(removed);
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
	stats->num_pages = RelationGetNumberOfBlocks(index);
	/* Frozen segments left by a crash or an abandoned seal (worker.c). */
	VdbRequestSeal(NULL, index);
	return stats;
}
