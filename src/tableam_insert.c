/*
 * tableam_insert.c
 *	  Where the vdb table access method puts new rows.
 *
 * INSERT, INSERT ... ON CONFLICT and COPY put each new row on the first of
 * these that can take it:
 *   0. the page the current transaction is already filling (either kind
 *	    below), as long as the row fits: finishing a page first changes
 *	    nothing for placement and spares per-row look-ups;
 *   1. the large hole this backend is filling, if it picked one earlier;
 *   2. a page the free space map lists with at least vdb.reuse_free_fraction
 *	    of a page free, after reading the page to confirm it (a stale map
 *	    entry is corrected and the next candidate tried);
 *   3. the tail: the page this backend last appended to, if it is still
 *	    among the last VDB_TAIL_WINDOW_BLOCKS pages, else the last page of
 *	    the table, else a new page.
 * A small hole (less free space than the threshold) in the body of the table
 * is never used by them, whichever backend or session inserts, before or
 * after VACUUM: the rule reads only shared state (the free space map and the
 * pages) plus the backend's memory of the page it is itself filling.  So in
 * insert-mostly and oldest-first-deletion workloads the rows of one era stay
 * in one contiguous block range, while large holes are refilled so that
 * bloat stays bounded (test/t/024_tableam_bloat.pl measures it against heap).
 *
 * heapam is always called with HEAP_INSERT_SKIP_FSM (pitfall P4 in
 * research/pg15-internals.md): it then tries exactly the target block left
 * in the bulk-insert state or the relcache entry, or nblocks - 1 when there
 * is none, and otherwise extends the relation.  Before every call we set
 * that target ourselves, which also discards targets left behind by other
 * code paths (heap_update picks pages through the free space map, P6).
 * SKIP_FSM also reaches the TOAST table (heapam passes the options on), so
 * TOAST chunks get the same treatment without the threshold: any TOAST page
 * with room for a chunk.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/heaptoast.h"
#include "access/hio.h"
#include "access/table.h"
#include "access/tableam.h"
#include "executor/tuptable.h"
#include "storage/bufmgr.h"
#include "storage/freespace.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "utils/rel.h"

#include "tableam.h"

/*
 * A page whose block number is within this many blocks of the end of the
 * relation counts as "the tail".  Concurrent writers each fill their own
 * page, so the page a backend is filling may lie a few blocks before the
 * end; a window lets it finish that page instead of abandoning it half
 * empty.  A cached target further back is stale and is dropped.
 */
#define VDB_TAIL_WINDOW_BLOCKS	16

/*
 * How many free-space-map candidates one insert examines before it gives up
 * on reuse and appends.  Each rejected candidate gets its true free space
 * recorded, so a stale map is corrected as a side effect.
 */
#define VDB_MAX_REUSE_PROBES	32

/*
 * The page this backend is filling, per relation (a few relations, replaced
 * round-robin): a tail page it appended to, or a large hole it picked for
 * reuse.  Only that page may be continued below the reuse threshold: any
 * other cached target (left by UPDATE, or by a backend that has been away
 * while the table grew) is not ours to fill.
 */
#define VDB_OWN_PAGES		8

typedef struct OwnPage
{
	RelFileNode node;
	BlockNumber blkno;
	bool		reused;			/* a hole picked for reuse, not the tail */
	LocalTransactionId lxid;	/* transaction that last placed a row here */
} OwnPage;

static OwnPage own_pages[VDB_OWN_PAGES];
static int	own_pages_next = 0;

/* What PageGetHeapFreeSpace says of an empty page */
#define VDB_EMPTY_PAGE_FREE \
	(BLCKSZ - SizeOfPageHeaderData - sizeof(ItemIdData))

/*
 * At most this many pages are added at once when other backends are waiting
 * to extend the relation too (see ExtendInBulk).
 */
#define VDB_BULK_EXTEND_PAGES	512

/* vdb.reuse_free_fraction: a page is reused only if this much of it is free */
double		vdb_reuse_free_fraction = 0.25;

/*
 * Free space a page must have to be reused for new rows, in bytes.
 */
static Size
ReuseThreshold(void)
{
	return (Size) (vdb_reuse_free_fraction * MaxHeapTupleSize);
}

/*
 * The block the next insert would try first: the page pinned by the
 * bulk-insert state, else the target cached in the relcache entry.
 */
static BlockNumber
CurrentTarget(Relation rel, BulkInsertState bistate)
{
	if (bistate != NULL && BufferIsValid(bistate->current_buf))
		return BufferGetBlockNumber(bistate->current_buf);
	return RelationGetTargetBlock(rel);
}

/*
 * Make heapam try "blkno" first (InvalidBlockNumber: the last page, then a
 * new one).  A bulk-insert pin on another page would take precedence, so it
 * is dropped.
 */
static void
SetInsertTarget(Relation rel, BulkInsertState bistate, BlockNumber blkno)
{
	if (bistate != NULL && BufferIsValid(bistate->current_buf) &&
		BufferGetBlockNumber(bistate->current_buf) != blkno)
		ReleaseBulkInsertStatePin(bistate);
	RelationSetTargetBlock(rel, blkno);
}

/*
 * The entry for "rel" in own_pages, or NULL.
 */
static OwnPage *
LookupOwnPage(Relation rel)
{
	int			i;

	for (i = 0; i < VDB_OWN_PAGES; i++)
	{
		if (RelFileNodeEquals(own_pages[i].node, rel->rd_node))
			return &own_pages[i];
	}
	return NULL;
}

/*
 * Remember that this backend is filling "blkno" of "rel".
 */
static void
RememberOwnPage(Relation rel, BlockNumber blkno, bool reused)
{
	OwnPage    *own = LookupOwnPage(rel);

	if (own == NULL)
	{
		own = &own_pages[own_pages_next];
		own_pages_next = (own_pages_next + 1) % VDB_OWN_PAGES;
		own->node = rel->rd_node;
	}
	own->blkno = blkno;
	own->reused = reused;
	own->lxid = MyProc->lxid;
}

/*
 * Is "blkno" the page this backend is filling in "rel", of the given kind?
 */
static bool
IsOwnPage(Relation rel, BlockNumber blkno, bool reused)
{
	OwnPage    *own = LookupOwnPage(rel);

	return blkno != InvalidBlockNumber && own != NULL &&
		own->blkno == blkno && own->reused == reused;
}

/*
 * Read the true free space of a page, as heapam would judge it.
 */
static Size
PageFreeSpace(Relation rel, BlockNumber blkno)
{
	Buffer		buf;
	Size		freespace;

	buf = ReadBuffer(rel, blkno);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	if (PageIsNew(BufferGetPage(buf)))
		freespace = VDB_EMPTY_PAGE_FREE;	/* heapam initializes it on use */
	else
		freespace = PageGetHeapFreeSpace(BufferGetPage(buf));
	UnlockReleaseBuffer(buf);
	return freespace;
}

/*
 * Find a page to reuse: one the free space map says has at least
 * "threshold" bytes free and that really does.  The hole this backend is
 * filling ("current", if "continuing") may continue below the threshold as
 * long as the row fits: a large hole, once started, is filled completely.
 * Returns InvalidBlockNumber if there is none; otherwise *freespace is the
 * page's free space when looked at.
 */
static BlockNumber
FindReusablePage(Relation rel, BlockNumber nblocks, BlockNumber current,
				 bool continuing, Size threshold, Size need, Size *freespace)
{
	int			probe;

	/* Finish the hole we were filling before starting another one. */
	if (continuing && current != InvalidBlockNumber && current < nblocks)
	{
		Size		avail = PageFreeSpace(rel, current);

		if (avail >= need)
		{
			*freespace = avail;
			return current;
		}
		RecordPageWithFreeSpace(rel, current, avail);
	}

	for (probe = 0; probe < VDB_MAX_REUSE_PROBES; probe++)
	{
		BlockNumber blkno = GetPageWithFreeSpace(rel, threshold);
		Size		avail;

		if (blkno == InvalidBlockNumber || blkno >= nblocks)
			break;
		avail = PageFreeSpace(rel, blkno);
		if (avail >= threshold)
		{
			*freespace = avail;
			return blkno;
		}
		/* The map was stale: correct it so nobody is sent here again. */
		RecordPageWithFreeSpace(rel, blkno, avail);
	}
	return InvalidBlockNumber;
}

/*
 * Add empty pages to a relation in one go if other backends are extending it
 * at the same moment, and list them in its free space map; returns whether
 * it did.
 *
 * With SKIP_FSM heapam extends a relation one page at a time, each time
 * under the relation extension lock (pitfall P8): concurrent COPYs then
 * queue on that lock, above all on the TOAST table of large vectors (a page
 * per four chunks).  heapam's own FSM path avoids this by extending in bulk
 * when the lock is contended; this does the same for the pages we place rows
 * on ourselves, which then find the new pages through the free space map.
 * Without contention nothing changes.  The new pages are left
 * uninitialized, which heapam accepts: it initializes a new page when it
 * first puts a tuple there, and VACUUM does so for one left unused.
 */
static bool
ExtendInBulk(Relation rel)
{
	BlockNumber first = InvalidBlockNumber;
	BlockNumber last = InvalidBlockNumber;
	int			npages;
	int			i;

	if (RELATION_IS_LOCAL(rel))
		return false;
	if (ConditionalLockRelationForExtension(rel, ExclusiveLock))
	{
		UnlockRelationForExtension(rel, ExclusiveLock);
		return false;
	}

	LockRelationForExtension(rel, ExclusiveLock);
	npages = Min(VDB_BULK_EXTEND_PAGES,
				 20 * (RelationExtensionLockWaiterCount(rel) + 1));
	for (i = 0; i < npages; i++)
	{
		Buffer		buf = ReadBufferExtended(rel, MAIN_FORKNUM, P_NEW,
											 RBM_ZERO_AND_LOCK, NULL);

		last = BufferGetBlockNumber(buf);
		if (first == InvalidBlockNumber)
			first = last;
		UnlockReleaseBuffer(buf);
		RecordPageWithFreeSpace(rel, last, VDB_EMPTY_PAGE_FREE);
	}
	UnlockRelationForExtension(rel, ExclusiveLock);

	/* make the new pages findable from the top of the map */
	FreeSpaceMapVacuumRange(rel, first, last + 1);
	return true;
}

/*
 * Choose where heapam puts the next row(s) of at least "need" bytes, and
 * leave that choice as its insert target.  Returns the room the rows will
 * find on that page (for a new page at the tail, an empty page's), and in
 * *to_tail whether they go to the tail rather than into a reused hole.
 */
static Size
PlaceNextInsert(Relation rel, BulkInsertState bistate, Size need,
				bool *to_tail)
{
	BlockNumber nblocks;
	BlockNumber current = CurrentTarget(rel, bistate);
	OwnPage    *own = LookupOwnPage(rel);
	Size		fillfactor_reserve;
	Size		threshold;
	Size		freespace = 0;
	bool		page_full = false;
	BlockNumber blkno;

	fillfactor_reserve = RelationGetTargetPageFreeSpace(rel, HEAP_DEFAULT_FILLFACTOR);
	need = MAXALIGN(need) + fillfactor_reserve;

	/*
	 * Fast path: the row fits on the page this transaction is already
	 * filling.  Finishing a page before looking further changes nothing for
	 * placement and spares the size and free-space-map look-ups (system
	 * calls while the map does not exist yet) on every row.  Within one
	 * transaction that page cannot have become stale, nor been truncated
	 * away: it holds this transaction's rows.
	 */
	if (own != NULL && current != InvalidBlockNumber &&
		own->blkno == current && own->lxid == MyProc->lxid)
	{
		freespace = PageFreeSpace(rel, current);
		if (freespace >= need)
		{
			*to_tail = !own->reused;
			return freespace - fillfactor_reserve;
		}
		page_full = true;
	}

	nblocks = RelationGetNumberOfBlocks(rel);
	if (current != InvalidBlockNumber && current >= nblocks)
		current = InvalidBlockNumber;	/* truncated away */
	threshold = Max(ReuseThreshold(), need);

	if (nblocks > 0 && threshold <= MaxHeapTupleSize)
	{
		blkno = FindReusablePage(rel, nblocks, current,
								 IsOwnPage(rel, current, true),
								 threshold, need, &freespace);

		/* about to extend while others do too: add pages in bulk */
		if (blkno == InvalidBlockNumber && page_full && ExtendInBulk(rel))
			blkno = FindReusablePage(rel, RelationGetNumberOfBlocks(rel),
									 InvalidBlockNumber, false,
									 threshold, need, &freespace);
		if (blkno != InvalidBlockNumber)
		{
			SetInsertTarget(rel, bistate, blkno);
			RememberOwnPage(rel, blkno, true);
			*to_tail = false;
			return freespace - Min(freespace, fillfactor_reserve);
		}
	}

	/*
	 * Append.  Keep filling the page we were appending to if it is still at
	 * the tail; otherwise let heapam try the last page and then extend.
	 */
	*to_tail = true;
	if (current != InvalidBlockNumber &&
		current + VDB_TAIL_WINDOW_BLOCKS >= nblocks &&
		IsOwnPage(rel, current, false))
	{
		SetInsertTarget(rel, bistate, current);
		if (!page_full)
		{
			freespace = PageFreeSpace(rel, current);
			if (freespace >= need)
				return freespace - fillfactor_reserve;
		}
	}
	else
		SetInsertTarget(rel, bistate, InvalidBlockNumber);

	/* heapam will extend (or find a little room on the last page) */
	return VDB_EMPTY_PAGE_FREE - Min(VDB_EMPTY_PAGE_FREE, fillfactor_reserve);
}

/*
 * Point the TOAST table's insert target at a page with room for a chunk.
 *
 * heapam passes the parent's insert options on to the TOAST insert, so our
 * SKIP_FSM reaches the TOAST table too, which would then never reuse the
 * space of deleted values and grow without bound under delete + insert.
 * TOAST chunks need no locality: a page the free space map lists with room
 * for a chunk comes first, as in heap; if there is none, heapam continues
 * its current TOAST page and then extends.  Returns whether a free page was
 * found; when none was, the chunks of many rows may go in one batch.
 */
static bool
PlaceToastChunks(Relation rel)
{
	Oid			toastrelid = rel->rd_rel->reltoastrelid;
	Relation	toastrel;
	BlockNumber nblocks;
	BlockNumber blkno = InvalidBlockNumber;
	Size		freespace;

	if (!OidIsValid(toastrelid))
		return false;
	toastrel = table_open(toastrelid, RowExclusiveLock);
	nblocks = RelationGetNumberOfBlocks(toastrel);
	if (nblocks > 0)
	{
		blkno = FindReusablePage(toastrel, nblocks, InvalidBlockNumber, false,
								 EXTERN_TUPLE_MAX_SIZE, EXTERN_TUPLE_MAX_SIZE,
								 &freespace);
		if (blkno == InvalidBlockNumber && ExtendInBulk(toastrel))
			blkno = FindReusablePage(toastrel,
									 RelationGetNumberOfBlocks(toastrel),
									 InvalidBlockNumber, false,
									 EXTERN_TUPLE_MAX_SIZE,
									 EXTERN_TUPLE_MAX_SIZE, &freespace);
		if (blkno != InvalidBlockNumber)
			RelationSetTargetBlock(toastrel, blkno);
	}
	table_close(toastrel, NoLock);
	return blkno != InvalidBlockNumber;
}

/*
 * Will heapam hand this tuple to the toaster?
 */
static bool
NeedsToast(HeapTuple tuple)
{
	return HeapTupleHasExternal(tuple) || tuple->t_len > TOAST_TUPLE_THRESHOLD;
}

/*
 * Bytes a tuple will take on its page, counting its line pointer.  A tuple
 * that heapam will TOAST shrinks to at most TOAST_TUPLE_TARGET first.
 */
static Size
TupleFootprint(HeapTuple tuple)
{
	Size		len = tuple->t_len;

	if (len > TOAST_TUPLE_THRESHOLD)
		len = TOAST_TUPLE_TARGET;
	return MAXALIGN(len) + sizeof(ItemIdData);
}

/*
 * Place one row: its heap page, and its TOAST chunks if it will have any.
 * Returns whether it goes to the tail.
 */
static bool
PlaceRow(Relation rel, TupleTableSlot *slot, BulkInsertState bistate)
{
	bool		should_free;
	HeapTuple	tuple = ExecFetchSlotHeapTuple(slot, true, &should_free);
	bool		to_tail;

	PlaceNextInsert(rel, bistate, TupleFootprint(tuple) - sizeof(ItemIdData),
					&to_tail);
	if (NeedsToast(tuple))
		PlaceToastChunks(rel);
	if (should_free)
		heap_freetuple(tuple);
	return to_tail;
}

/*
 * INSERT, and every other single-row insert (logical replication apply,
 * CREATE TABLE AS, table rewrites): place, then let heapam insert.
 */
void
vdb_tuple_insert(Relation rel, TupleTableSlot *slot, CommandId cid,
				 int options, BulkInsertState bistate)
{
	bool		to_tail = true;

	if ((options & HEAP_INSERT_SKIP_FSM) == 0)
		to_tail = PlaceRow(rel, slot, bistate);

	/*
	 * A caller that passes SKIP_FSM itself (a rewrite into a new relfilenode,
	 * COPY into a table created in this transaction) wants pure appending,
	 * which is what heapam then does.
	 */
	vdb_heap_routine->tuple_insert(rel, slot, cid,
								   options | HEAP_INSERT_SKIP_FSM, bistate);
	if (to_tail)
		RememberOwnPage(rel, ItemPointerGetBlockNumber(&slot->tts_tid), false);
}

/*
 * INSERT ... ON CONFLICT: same placement as a plain insert.
 */
void
vdb_tuple_insert_speculative(Relation rel, TupleTableSlot *slot,
							 CommandId cid, int options,
							 BulkInsertState bistate, uint32 specToken)
{
	bool		to_tail = true;

	if ((options & HEAP_INSERT_SKIP_FSM) == 0)
		to_tail = PlaceRow(rel, slot, bistate);
	vdb_heap_routine->tuple_insert_speculative(rel, slot, cid,
											   options | HEAP_INSERT_SKIP_FSM,
											   bistate, specToken);
	if (to_tail)
		RememberOwnPage(rel, ItemPointerGetBlockNumber(&slot->tts_tid), false);
}

/*
 * COPY: split the batch into one call per page, each placed by us.  heapam,
 * given SKIP_FSM, fills its target page and then extends page by page under
 * the extension lock, so a whole batch would use at most one large hole, and
 * concurrent COPYs would queue on that lock instead of taking pages added in
 * bulk (ExtendInBulk).
 *
 * Rows that heapam will toast go in runs of their own: heapam toasts a whole
 * batch before placing any of it, so the TOAST chunks of a batch use at most
 * one reused TOAST page and then extend.  While free TOAST pages exist, such
 * rows are therefore inserted one at a time; toasting costs far more than
 * the per-row WAL record this adds.
 */
void
vdb_multi_insert(Relation rel, TupleTableSlot **slots, int ntuples,
				 CommandId cid, int options, BulkInsertState bistate)
{
	int			done = 0;

	if (options & HEAP_INSERT_SKIP_FSM)
	{
		vdb_heap_routine->multi_insert(rel, slots, ntuples, cid, options,
									   bistate);
		return;
	}

	while (done < ntuples)
	{
		HeapTuple	first = ExecFetchSlotHeapTuple(slots[done], true, NULL);
		bool		toasted = NeedsToast(first);
		bool		one_row = toasted && PlaceToastChunks(rel);
		Size		room;
		bool		to_tail;
		int			batch = 0;

		room = PlaceNextInsert(rel, bistate,
							   TupleFootprint(first) - sizeof(ItemIdData),
							   &to_tail);
		room += sizeof(ItemIdData); /* counted once already in room */

		/*
		 * A run of rows alike in toasting that fit on the page they are going
		 * to: one page per call, so that each new page is placed by us (and,
		 * under contention, taken from pages added in bulk).  Rows to be
		 * toasted are not split by page: their size on the page is unknown
		 * until heapam has toasted them (usually far below the bound
		 * TupleFootprint assumes), and a page of them takes many.
		 */
		while (done + batch < ntuples)
		{
			HeapTuple	tuple;
			Size		footprint;

			tuple = ExecFetchSlotHeapTuple(slots[done + batch], true, NULL);
			if (batch > 0 && (one_row || NeedsToast(tuple) != toasted))
				break;
			footprint = TupleFootprint(tuple);
			if (batch > 0 && !toasted && footprint > room)
				break;
			room -= Min(room, footprint);
			batch++;
		}

		vdb_heap_routine->multi_insert(rel, slots + done, batch, cid,
									   options | HEAP_INSERT_SKIP_FSM, bistate);
		if (to_tail)
			RememberOwnPage(rel,
							ItemPointerGetBlockNumber(&slots[done + batch - 1]->tts_tid),
							false);
		done += batch;
	}
}
