/*
 * ivf_space.c
 *	  vdb_ivf page space: reusing the pages of dropped segments.
 *
 * Sealing and merging replace segments; the replaced ones become DROPPED
 * with reclaim_after, the next full transaction id at the time of the drop.
 * A scan works from a copy of the directory taken under its snapshot, so a
 * scan that may still read a dropped segment's pages has an xmin no later
 * than reclaim_after.  Once GlobalVisCheckRemovableFullXid says
 * reclaim_after is older than every snapshot of the cluster, no scan on
 * this server can reach the pages any more: VdbReclaimSegments removes such
 * slots from the directory (one WAL record) and records their pages in the
 * free space map.  A hot standby's snapshots are not known to the primary
 * (without hot_standby_feedback); a standby scan that follows a page reused
 * under it finds another segment's stamp and fails with a serialization
 * error (VdbCheckSegmentPage) rather than return wrong rows.
 *
 * The free space map is only a hint: it is not WAL-logged, so after a crash
 * it may name a page that is in use again, or forget free ones.  The truth
 * is each page's (segid, generation) stamp read against the directory: a
 * page is free when it is new (all zeroes) or stamped with a segment id the
 * metapage has handed out (below next_segid) that no directory slot holds
 * any more.  Every allocation checks that before it takes a page, and
 * VACUUM's sweep (VdbSweepFreePages) finds free pages the map forgot:
 * those of a reclaim cut short by a crash, and the runs of seals that
 * crashed before they published.  Pages of a seal in progress are free by
 * that rule too, so the sweep only runs where no seal can (VACUUM holds
 * ShareUpdateExclusiveLock on the table, as every sealer does), and
 * allocations take pages from the map under the relation extension lock, so
 * that two of them never take the same page.
 *
 * A sealed run needs npages pages but no longer one contiguous range: it is
 * made of extents, the free pages the map gives sorted and coalesced, plus
 * one extension of the relation for the rest; its header lists them.
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "access/transam.h"
#include "access/xlog.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/indexfsm.h"
#include "storage/lmgr.h"
#include "utils/rel.h"

#include "debug.h"
#include "ivf.h"
#include "ivf_scan.h"
#include "ivf_write.h"

/*
 * Whether a page may be given to a new owner, judged by the directory (see
 * the file header).
 */
static bool
PageReusable(Page page, const VdbMetaPageData *meta)
{
	VdbPageOpaque opaque;

	if (PageIsNew(page))
		return true;
	if (PageGetSpecialSize(page) != MAXALIGN(sizeof(VdbPageOpaqueData)))
		return false;
	opaque = VdbPageGetOpaque(page);
	if (opaque->page_id != VDB_IVF_PAGE_ID || (opaque->flags & VDB_PAGE_META) ||
		opaque->segid == 0 || opaque->segid >= meta->next_segid)
		return false;
	return VdbFindSegment((VdbMetaPage) meta, opaque->segid) == NULL;
}

/*
 * Take one page from the free space map that the directory agrees is free,
 * pinned and exclusively locked; InvalidBuffer if the map has none.  The
 * caller holds the relation extension lock (or the index is local).
 */
static Buffer
TakeFreePage(Relation index, const VdbMetaPageData *meta)
{
	for (;;)
	{
		BlockNumber blkno = GetFreeIndexPage(index);
		Buffer		buf;

		if (blkno == InvalidBlockNumber)
			return InvalidBuffer;
		if (blkno == VDB_IVF_METAPAGE_BLKNO ||
			blkno >= RelationGetNumberOfBlocks(index))
			continue;
		buf = ReadBuffer(index, blkno);

		/*
		 * Nobody should hold a lock on a free page; if someone does, the map
		 * is stale and the page is in use.
		 */
		if (ConditionalLockBuffer(buf))
		{
			if (PageReusable(BufferGetPage(buf), meta))
				return buf;
			UnlockReleaseBuffer(buf);
		}
		else
			ReleaseBuffer(buf);
	}
}

/*
 * A page for a growing chain, pinned and exclusively locked: a free page if
 * the free space map has one, else a new one at the end of the relation.
 * The caller holds the metapage (whose directory is meta) exclusively, and
 * initialises the page with a full-page image.
 */
Buffer
VdbAllocPage(Relation index, VdbMetaPage meta)
{
	Buffer		buf;
	bool		local = RELATION_IS_LOCAL(index);

	if (!local)
		LockRelationForExtension(index, ExclusiveLock);
	buf = TakeFreePage(index, meta);
	if (!local)
		UnlockRelationForExtension(index, ExclusiveLock);
	if (!BufferIsValid(buf))
		buf = VdbNewBuffer(index, MAIN_FORKNUM);
	return buf;
}

/*
 * Order block numbers.
 */
static int
CompareBlocks(const void *a, const void *b)
{
	BlockNumber x = *(const BlockNumber *) a;
	BlockNumber y = *(const BlockNumber *) b;

	return (x > y) - (x < y);
}

/*
 * Fill in a run map's offsets and page count from its extents.
 */
static void
FinishRunMap(VdbRunMap *map)
{
	BlockNumber offset = 0;

	map->offsets = palloc(sizeof(BlockNumber) * Max(map->nextents, 1));
	for (uint32 i = 0; i < map->nextents; i++)
	{
		map->offsets[i] = offset;
		offset += map->extents[i].npages;
	}
	map->npages = offset;
}

/*
 * Reserve the pages of a new sealed run: free pages first, sorted and
 * coalesced into extents, then one extension of the relation for the rest.
 * (CREATE INDEX does not come here: its relation is new, and it writes its
 * runs by extending page by page.)
 *
 * The pages are not written here: they are filled later by VdbWriteNewPage
 * without any lock, and no directory slot names them until the run is
 * published.  Until then they are free by the directory's rule, which is
 * safe because the free space map no longer lists them and the sweep does
 * not run while a seal can (see the file header).  A crash leaves them to
 * the sweep.
 */
void
VdbAllocateRun(Relation index, BlockNumber npages, VdbRunMap *map)
{
	bool		local = RELATION_IS_LOCAL(index);
	VdbMetaPage meta;
	BlockNumber *blocks = palloc(sizeof(BlockNumber) * Max(npages, 1));
	BlockNumber nfree = 0;
	uint32		maxext = VDB_MAX_RUN_EXTENTS;

	Assert(npages > 0);

	/* Copy the directory first: the metapage comes before the extension lock. */
	meta = VdbCopyMeta(index);
	if (!local)
		LockRelationForExtension(index, ExclusiveLock);

	while (nfree < npages)
	{
		Buffer		buf = TakeFreePage(index, meta);

		if (!BufferIsValid(buf))
			break;
		blocks[nfree++] = BufferGetBlockNumber(buf);
		UnlockReleaseBuffer(buf);
	}

	map->extents = palloc(sizeof(VdbRunExtentData) * maxext);
	map->nextents = 0;
	if (nfree > 0)
	{
		BlockNumber kept = 0;

		qsort(blocks, nfree, sizeof(BlockNumber), CompareBlocks);
		for (BlockNumber i = 0; i < nfree; i++)
		{
			VdbRunExtentData *last = &map->extents[map->nextents - 1];

			if (map->nextents > 0 && last->start + last->npages == blocks[i])
				last->npages++;
			else if (map->nextents < maxext - 1)	/* keep one for the tail */
			{
				map->extents[map->nextents].start = blocks[i];
				map->extents[map->nextents].npages = 1;
				map->nextents++;
			}
			else
			{
				/* too scattered for one header: give the page back */
				RecordFreeIndexPage(index, blocks[i]);
				continue;
			}
			kept++;
		}
		nfree = kept;
	}

	if (nfree < npages)
	{
		BlockNumber first = InvalidBlockNumber;

		for (BlockNumber i = 0; i < npages - nfree; i++)
		{
			Buffer		buf = ReadBufferExtended(index, MAIN_FORKNUM, P_NEW,
												 RBM_NORMAL, NULL);

			if (i == 0)
				first = BufferGetBlockNumber(buf);
			else if (BufferGetBlockNumber(buf) != first + i)
				elog(ERROR, "vdb_ivf page run is not contiguous");
			ReleaseBuffer(buf);
		}
		map->extents[map->nextents].start = first;
		map->extents[map->nextents].npages = npages - nfree;
		map->nextents++;
	}
	if (!local)
		UnlockRelationForExtension(index, ExclusiveLock);

	FinishRunMap(map);
	pfree(blocks);
	pfree(meta);
}

/*
 * The block at a run offset, for runs of several extents (VdbRunBlock does
 * the common single-extent case inline).
 */
BlockNumber
VdbRunBlockSlow(const VdbRunMap *map, BlockNumber offset)
{
	uint32		lo = 0;
	uint32		hi = map->nextents;

	if (offset >= map->npages || map->nextents == 0)
		elog(ERROR, "vdb_ivf run offset %u is outside its run of %u pages",
			 offset, map->npages);
	/* the last extent whose first offset is <= offset */
	while (hi - lo > 1)
	{
		uint32		mid = lo + (hi - lo) / 2;

		if (map->offsets[mid] <= offset)
			lo = mid;
		else
			hi = mid;
	}
	return map->extents[lo].start + (offset - map->offsets[lo]);
}

/*
 * Parse the header page of a sealed run into header and map (palloc'd in
 * the current memory context).  Returns false if the page does not hold a
 * header that agrees with the directory slot seg.
 */
bool
VdbParseRunHeader(Page page, const VdbSegmentData *seg,
				  VdbSealedHeaderData *header, VdbRunMap *map)
{
	ItemId		itemid;
	Size		len;
	const VdbSealedHeaderData *h;

	if (PageGetMaxOffsetNumber(page) != FirstOffsetNumber)
		return false;
	itemid = PageGetItemId(page, FirstOffsetNumber);
	len = ItemIdGetLength(itemid);
	h = (const VdbSealedHeaderData *) PageGetItem(page, itemid);
	memset(header, 0, sizeof(VdbSealedHeaderData));
	if (len < offsetof(VdbSealedHeaderData, nextents))
		return false;
	if (len < offsetof(VdbSealedHeaderData, extents))
	{
		/* format 1: one contiguous run */
		memcpy(header, h, offsetof(VdbSealedHeaderData, nextents));
		map->nextents = 1;
		map->extents = palloc(sizeof(VdbRunExtentData));
		map->extents[0].start = seg->head;
		map->extents[0].npages = seg->npages;
	}
	else
	{
		memcpy(header, h, offsetof(VdbSealedHeaderData, extents));
		if (h->nextents == 0 || h->nextents > VDB_MAX_RUN_EXTENTS ||
			len < offsetof(VdbSealedHeaderData, extents) +
			sizeof(VdbRunExtentData) * h->nextents ||
			h->extents[0].start != seg->head)
			return false;
		map->nextents = h->nextents;
		map->extents = palloc(sizeof(VdbRunExtentData) * h->nextents);
		memcpy(map->extents, h->extents, sizeof(VdbRunExtentData) * h->nextents);
	}
	FinishRunMap(map);
	return map->npages == seg->npages &&
		header->segid == seg->segid && header->nlists == seg->nlists &&
		header->nlists > 0 &&
		header->centroid_start + header->ncentroid_pages <= seg->npages &&
		header->posting_start + header->nposting_pages <= seg->npages;
}

/*
 * Read a sealed segment's header and its run map (palloc'd in the current
 * memory context).  scan: the caller reads under an MVCC snapshot and may be
 * on a standby, so a page that is no longer the segment's is a serialization
 * failure (VdbCheckSegmentPage), not corruption.
 */
void
VdbReadRunHeader(Relation index, const VdbSegmentData *seg, bool scan,
				 VdbSealedHeaderData *header, VdbRunMap *map)
{
	Buffer		buf;
	Page		page;
	bool		ok;

	buf = ReadBuffer(index, seg->head);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	if (scan)
		VdbCheckSegmentPage(index, page, seg->head, seg->segid, seg->generation,
							VDB_PAGE_SEALED_HEADER);
	else
		VdbCheckPageStamp(index, page, seg->head, seg->segid, seg->generation,
						  VDB_PAGE_SEALED_HEADER);
	ok = VdbParseRunHeader(page, seg, header, map);
	UnlockReleaseBuffer(buf);
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("header of sealed segment %u of index \"%s\" does not match the directory",
						seg->segid, RelationGetRelationName(index))));
}

/*
 * Append the pages of a dropped segment to blocks (room grown as needed):
 * a sealed run's extents, or a frozen chain followed from head to tail.
 * The pages are intact: nothing reuses them while the slot exists.
 */
static void
CollectSegmentPages(Relation index, const VdbSegmentData *seg,
					BlockNumber **blocks, int64 *n, int64 *room)
{
	VdbSealedHeaderData header;
	VdbRunMap	map;

	if (*n + seg->npages > *room)
	{
		*room = Max(*room * 2, *n + seg->npages);
		*blocks = repalloc_huge(*blocks, sizeof(BlockNumber) * *room);
	}
	if (seg->nlists > 0)
	{
		VdbReadRunHeader(index, seg, false, &header, &map);
		for (BlockNumber p = 0; p < map.npages; p++)
			(*blocks)[(*n)++] = VdbRunBlock(&map, p);
		pfree(map.extents);
		pfree(map.offsets);
		return;
	}
	for (BlockNumber blkno = seg->head, p = 0;
		 blkno != InvalidBlockNumber && p < seg->npages; p++)
	{
		Buffer		buf;
		Page		page;

		CHECK_FOR_INTERRUPTS();
		buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		VdbCheckPageStamp(index, page, blkno, seg->segid, seg->generation,
						  VDB_PAGE_GROWING);
		(*blocks)[(*n)++] = blkno;
		blkno = (blkno == seg->tail) ? InvalidBlockNumber :
			VdbPageGetOpaque(page)->nextblkno;
		UnlockReleaseBuffer(buf);
	}
}

/*
 * Whether a dropped segment's pages can no longer be reached by any
 * snapshot on this server.
 */
static bool
Reclaimable(const VdbSegmentData *seg)
{
	return seg->state == VDB_SEGMENT_DROPPED &&
		(!FullTransactionIdIsValid(seg->reclaim_after) ||
		 GlobalVisCheckRemovableFullXid(NULL, seg->reclaim_after));
}

/*
 * Reclaim every dropped segment that no snapshot can reach any more: remove
 * their slots from the directory in one WAL record, then record their pages
 * in the free space map.  A crash in between leaves the pages to VACUUM's
 * sweep.  Returns the number of segments reclaimed.  Does nothing during
 * recovery (the primary reclaims; its WAL carries the result).
 *
 * The caller holds ShareUpdateExclusiveLock on the table (a sealer, a
 * merge, VACUUM), so only one reclaim runs at a time per index.
 */
int
VdbReclaimSegments(Relation index)
{
	VdbMetaPage meta;
	VdbSegmentData *victims;
	int			nvictims = 0;
	int			nreclaimed = 0;
	BlockNumber *blocks;
	int64		nblocks = 0;
	int64		room = 64;
	Buffer		buf;
	GenericXLogState *state;

	if (RecoveryInProgress())
		return 0;

	meta = VdbCopyMeta(index);
	victims = palloc(sizeof(VdbSegmentData) * Max(meta->nsegments, 1));
	for (uint32 i = 0; i < meta->nsegments; i++)
	{
		if (Reclaimable(&meta->segments[i]))
			victims[nvictims++] = meta->segments[i];
	}
	pfree(meta);
	if (nvictims == 0)
	{
		pfree(victims);
		return 0;
	}

	blocks = palloc(sizeof(BlockNumber) * room);
	for (int i = 0; i < nvictims; i++)
		CollectSegmentPages(index, &victims[i], &blocks, &nblocks, &room);

	/* Remove the slots: whoever gets here first does, once. */
	buf = ReadBuffer(index, VDB_IVF_METAPAGE_BLKNO);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	state = GenericXLogStart(index);
	meta = VdbPageGetMeta(GenericXLogRegisterBuffer(state, buf, 0));
	for (int i = 0; i < nvictims; i++)
	{
		VdbSegment	seg = VdbFindSegment(meta, victims[i].segid);

		if (seg == NULL || seg->state != VDB_SEGMENT_DROPPED)
			continue;
		memmove(seg, seg + 1,
				sizeof(VdbSegmentData) * (meta->nsegments - (seg - meta->segments) - 1));
		meta->nsegments--;
		nreclaimed++;
	}
	if (nreclaimed == nvictims)
		GenericXLogFinish(state);
	else
	{
		/* somebody else reclaimed them meanwhile, and their pages too */
		GenericXLogAbort(state);
		nblocks = 0;
		nreclaimed = 0;
	}
	UnlockReleaseBuffer(buf);
	VdbCrashPoint(VDB_CRASH_RECLAIM);

	for (int64 i = 0; i < nblocks; i++)
		RecordFreeIndexPage(index, blocks[i]);
	if (nblocks > 0)
		IndexFreeSpaceMapVacuum(index);
	pfree(blocks);
	pfree(victims);
	return nreclaimed;
}

/*
 * Record in the free space map every page that the directory says is free
 * (see the file header): pages of reclaims and seals cut short by a crash.
 * The caller holds ShareUpdateExclusiveLock on the table, so that no seal
 * is writing pages that no slot names yet.  Returns the free pages found.
 */
BlockNumber
VdbSweepFreePages(Relation index, BufferAccessStrategy strategy)
{
	VdbMetaPage meta;
	BlockNumber nblocks;
	BlockNumber nfree = 0;

	if (RecoveryInProgress())
		return 0;
	meta = VdbCopyMeta(index);
	nblocks = RelationGetNumberOfBlocks(index);
	for (BlockNumber blkno = VDB_IVF_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
	{
		Buffer		buf;
		bool		reusable;

		CHECK_FOR_INTERRUPTS();
		buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, strategy);
		LockBuffer(buf, BUFFER_LOCK_SHARE);

		/*
		 * A page stamped after the copy was taken has a segid at or past its
		 * next_segid, so it never looks free here.
		 */
		reusable = PageReusable(BufferGetPage(buf), meta);
		UnlockReleaseBuffer(buf);
		if (reusable)
		{
			RecordFreeIndexPage(index, blkno);
			nfree++;
		}
	}
	IndexFreeSpaceMapVacuum(index);
	pfree(meta);
	return nfree;
}
