/*
 * ivf_seal.c
 *	  Sealing: k-means on a segment's rows and writing its page run.
 *
 * A VdbSealer collects (heap TID, prepared vector) rows in memory bounded by
 * maintenance_work_mem and turns a batch of them into one sealed segment:
 * train the lists, assign every row, then write the run (header page,
 * centroid pages, posting pages with each list's entries contiguous) page by
 * page from local memory with full-page WAL.  CREATE INDEX feeds it from
 * the heap and publishes each segment as it is written; sealing a frozen
 * segment feeds it from the frozen chain and publishes all the pieces at
 * once, in the same metapage record that drops the frozen segment.
 */
#include "postgres.h"

#include <math.h>

#include "access/transam.h"
#include "commands/progress.h"
#include "common/pg_prng.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "debug.h"
#include "ivf.h"
#include "ivf_write.h"
#include "kmeans.h"
#include "worker.h"

struct VdbSealer
{
	Relation	index;
	int			dim;
	VdbDistanceKind kind;
	int			lists;			/* index option: 0 = automatic */
	int			capacity;		/* rows the buffers may hold */
	int			allocated;		/* rows the buffers hold now */
	int			nrows;			/* rows collected */
	ItemPointerData *tids;
	float	   *vectors;
	bool		publish_each;	/* CREATE INDEX: publish every segment as soon
								 * as written, and extend the index page by
								 * page (nobody else extends it) */
	bool		merging;		/* a merge: crash points say so */
	int			nsealed;		/* segments written but not yet published */
	VdbSegmentData *sealed;
	/* the lists of the last segment written, for interim assignments */
	uint32		last_segid;
	int			last_nlists;
	float	   *last_centroids;
	float	   *last_norms;
	pg_prng_state rng;
	MemoryContext scratch;		/* reset after each segment */
};

/*
 * How many items of a given size fit on one vdb_ivf page.
 */
static int
ItemsPerPage(Size itemsz)
{
	Size		usable = BLCKSZ - MAXALIGN(SizeOfPageHeaderData) -
		MAXALIGN(sizeof(VdbPageOpaqueData));

	return (int) (usable / (MAXALIGN(itemsz) + sizeof(ItemIdData)));
}

/*
 * How many rows of this many dimensions a sealer may hold within
 * maintenance_work_mem (a quarter of which is left for k-means), but never
 * fewer than VDB_MIN_SEGMENT_ROWS: sealing must not fail for want of memory,
 * and 1000 rows of the widest vectors take 8 MB.
 */
int
VdbSealerMaxRows(int dim)
{
	Size		budget = (Size) maintenance_work_mem * 1024 / 4 * 3;
	Size		per_row = sizeof(float) * dim + sizeof(ItemPointerData) + 2 * sizeof(int);
	Size		rows = budget / per_row;

	return (int) Max(Min(rows, (Size) VDB_MAX_SEGMENT_ROWS), (Size) VDB_MIN_SEGMENT_ROWS);
}

/*
 * Start collecting rows for sealing, holding at most capacity of them.
 */
VdbSealer *
VdbSealerCreate(Relation index, int dim, VdbDistanceKind kind, int capacity,
				int lists, bool publish_each)
{
	VdbSealer  *s = palloc0(sizeof(VdbSealer));

	s->index = index;
	s->dim = dim;
	s->kind = kind;
	s->lists = lists;
	s->capacity = Max(capacity, 1);
	s->allocated = Min(s->capacity, 1024);
	s->tids = palloc(sizeof(ItemPointerData) * s->allocated);
	s->vectors = palloc_extended(sizeof(float) * (Size) s->allocated * dim, MCXT_ALLOC_HUGE);
	s->publish_each = publish_each;
	pg_prng_seed(&s->rng, 0x7664622d7365616cULL);
	s->scratch = AllocSetContextCreate(CurrentMemoryContext, "vdb_ivf seal",
									   ALLOCSET_DEFAULT_SIZES);
	return s;
}

/*
 * Mark a sealer as working for a merge (its crash points say so).
 */
void
VdbSealerMarkMerge(VdbSealer *s)
{
	s->merging = true;
}

/*
 * Rows collected and not yet sealed.
 */
int
VdbSealerRows(VdbSealer *s)
{
	return s->nrows;
}

/*
 * Add one prepared row; the caller seals a piece before the buffers fill.
 */
void
VdbSealerAdd(VdbSealer *s, ItemPointer tid, const float *x)
{
	if (s->nrows >= s->capacity)
		elog(ERROR, "vdb_ivf sealer is full");
	if (s->nrows == s->allocated)
	{
		/* Grow by doubling, so an empty or small table costs little memory. */
		s->allocated = (int) Min((int64) s->capacity, (int64) s->allocated * 2);
		s->tids = repalloc(s->tids, sizeof(ItemPointerData) * s->allocated);
		s->vectors = repalloc_huge(s->vectors, sizeof(float) * (Size) s->allocated * s->dim);
	}
	s->tids[s->nrows] = *tid;
	memcpy(s->vectors + (Size) s->nrows * s->dim, x, sizeof(float) * s->dim);
	s->nrows++;
}

/*
 * Swap rows i and j of the sealer's buffers.
 */
static void
SwapRows(VdbSealer *s, int i, int j, float *tmp)
{
	ItemPointerData t = s->tids[i];
	float	   *a = s->vectors + (Size) i * s->dim;
	float	   *b = s->vectors + (Size) j * s->dim;
	Size		len = sizeof(float) * s->dim;

	s->tids[i] = s->tids[j];
	s->tids[j] = t;
	memcpy(tmp, a, len);
	memcpy(a, b, len);
	memcpy(b, tmp, len);
}

/*
 * Publish segments in the directory in one WAL record: dropping the frozen
 * segment they replace (0: none) and adding the given slots.
 */
static void
PublishSegments(Relation index, uint32 frozen_segid, uint32 frozen_generation,
				VdbSegmentData *segs, int nsegs)
{
	Buffer		buf;
	GenericXLogState *state;
	VdbMetaPage meta;

	buf = ReadBuffer(index, VDB_IVF_METAPAGE_BLKNO);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	meta = VdbPageGetMeta(BufferGetPage(buf));
	if (VdbDirectoryRoom(meta) + (frozen_segid != 0 ? 1 : 0) < nsegs)
		VdbTooManySegments(index);

	state = GenericXLogStart(index);
	meta = VdbPageGetMeta(GenericXLogRegisterBuffer(state, buf, 0));
	if (frozen_segid != 0)
	{
		VdbSegment	frozen = VdbFindSegment(meta, frozen_segid);

		if (frozen == NULL || frozen->state != VDB_SEGMENT_FROZEN ||
			frozen->generation != frozen_generation)
			elog(ERROR, "vdb_ivf segment %u changed while it was being sealed",
				 frozen_segid);
		frozen->state = VDB_SEGMENT_DROPPED;
		frozen->reclaim_after = ReadNextFullTransactionId();
	}
	for (int i = 0; i < nsegs; i++)
		*VdbAddSegment(index, meta) = segs[i];
	meta->seal_version++;
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
}

/*
 * Write the run of a sealed segment: header, centroid pages, then each
 * list's posting pages, in list order.  Fills in the directory slot.
 */
static void
WriteRun(VdbSealer *s, int n, const int *assign, const float *centroids, int k,
		 VdbSegment out)
{
	int			dim = s->dim;
	Size		list_size = VDB_LIST_SIZE(dim);
	Size		entry_size = VDB_POSTING_ENTRY_SIZE(dim);
	int			lists_per_page = ItemsPerPage(list_size);
	int			entries_per_page = ItemsPerPage(entry_size);
	int		   *counts = palloc0(sizeof(int) * k);
	int		   *first = palloc(sizeof(int) * (k + 1));
	int		   *order = palloc(sizeof(int) * Max(n, 1));
	BlockNumber *list_start = palloc(sizeof(BlockNumber) * k);
	BlockNumber *list_pages = palloc(sizeof(BlockNumber) * k);
	BlockNumber ncentroid_pages = (k + lists_per_page - 1) / lists_per_page;
	BlockNumber npages;
	VdbRunMap	map;
	uint32		segid;
	PGAlignedBlock block;
	Page		page = block.data;
	VdbListData *list = palloc0(list_size);
	VdbPostingEntry entry = palloc0(entry_size);
	VdbSealedHeaderData *header;
	Size		header_size;
	BlockNumber blk;

	/* Order the rows by list (a counting sort, stable in row order). */
	for (int i = 0; i < n; i++)
		counts[assign[i]]++;
	first[0] = 0;
	for (int j = 0; j < k; j++)
		first[j + 1] = first[j] + counts[j];
	for (int i = 0; i < n; i++)
		order[first[assign[i]]++] = i;
	for (int j = k; j > 0; j--)
		first[j] = first[j - 1];
	first[0] = 0;

	npages = 1 + ncentroid_pages;
	for (int j = 0; j < k; j++)
	{
		list_start[j] = npages;
		list_pages[j] = (counts[j] + entries_per_page - 1) / entries_per_page;
		npages += list_pages[j];
	}

	segid = VdbReserveSegid(s->index);
	if (s->publish_each)
	{
		/* CREATE INDEX: a new relation, extended page by page as written */
		map.nextents = 1;
		map.extents = palloc(sizeof(VdbRunExtentData));
		map.extents[0].start = RelationGetNumberOfBlocks(s->index);
		map.extents[0].npages = npages;
		map.offsets = palloc0(sizeof(BlockNumber));
		map.npages = npages;
	}
	else
		VdbAllocateRun(s->index, npages, &map);

	/* Header, with the run's extents. */
	header_size = offsetof(VdbSealedHeaderData, extents) +
		sizeof(VdbRunExtentData) * map.nextents;
	header = palloc0(header_size);
	header->segid = segid;
	header->generation = 1;
	header->nlists = k;
	header->nrows = n;
	header->dimensions = dim;
	header->kind = s->kind;
	header->centroid_start = 1;
	header->ncentroid_pages = ncentroid_pages;
	header->posting_start = 1 + ncentroid_pages;
	header->nposting_pages = npages - 1 - ncentroid_pages;
	header->nextents = map.nextents;
	memcpy(header->extents, map.extents, sizeof(VdbRunExtentData) * map.nextents);
	VdbInitPage(page, VDB_PAGE_SEALED_HEADER, segid, 1);
	if (PageAddItem(page, (Item) header, header_size, InvalidOffsetNumber,
					false, false) == InvalidOffsetNumber)
		elog(ERROR, "could not add vdb_ivf sealed header");
	VdbWriteNewPage(s->index, MAIN_FORKNUM, VdbRunBlock(&map, 0), page, false);
	blk = 1;

	/* Centroid pages: one item per list, in list order. */
	for (int j = 0; j < k; j++)
	{
		if (j % lists_per_page == 0)
			VdbInitPage(page, VDB_PAGE_CENTROID, segid, 1);
		list->start = list_start[j];
		list->npages = list_pages[j];
		list->nentries = counts[j];
		memcpy(list->centroid, centroids + (Size) j * dim, sizeof(float) * dim);
		if (PageAddItem(page, (Item) list, list_size, InvalidOffsetNumber,
						false, false) == InvalidOffsetNumber)
			elog(ERROR, "could not add vdb_ivf list to centroid page");
		if ((j + 1) % lists_per_page == 0 || j == k - 1)
			VdbWriteNewPage(s->index, MAIN_FORKNUM, VdbRunBlock(&map, blk++), page, false);
	}

	/* Posting pages: each list's entries on its own contiguous pages. */
	for (int j = 0; j < k; j++)
	{
		for (int e = 0; e < counts[j]; e++)
		{
			int			row = order[first[j] + e];

			if (e % entries_per_page == 0)
			{
				CHECK_FOR_INTERRUPTS();
				if (!s->publish_each)
					VdbSealYield(); /* a background sealer may give way */
				VdbInitPage(page, VDB_PAGE_POSTING, segid, 1);
			}
			entry->tid = s->tids[row];
			memcpy(entry->x, s->vectors + (Size) row * dim, sizeof(float) * dim);
			if (PageAddItem(page, (Item) entry, entry_size, InvalidOffsetNumber,
							false, false) == InvalidOffsetNumber)
				elog(ERROR, "could not add vdb_ivf posting entry");
			if ((e + 1) % entries_per_page == 0 || e == counts[j] - 1)
			{
				VdbWriteNewPage(s->index, MAIN_FORKNUM, VdbRunBlock(&map, blk++), page, false);
				if (!s->publish_each)
					VdbCrashPoint(s->merging ? VDB_CRASH_MERGE_BUILD : VDB_CRASH_SEAL_BUILD);
			}
		}
	}
	Assert(blk == npages);

	memset(out, 0, sizeof(VdbSegmentData));
	out->segid = segid;
	out->state = VDB_SEGMENT_SEALED;
	out->generation = 1;
	out->nlists = k;
	out->head = map.extents[0].start;
	out->tail = InvalidBlockNumber;
	out->npages = npages;
	out->nrows = n;
	out->ndead = 0;
	out->heap_min = InvalidBlockNumber;
	out->heap_max = InvalidBlockNumber;
	for (int i = 0; i < n; i++)
	{
		BlockNumber hb = ItemPointerGetBlockNumberNoCheck(&s->tids[i]);

		if (out->heap_min == InvalidBlockNumber || hb < out->heap_min)
			out->heap_min = hb;
		if (out->heap_max == InvalidBlockNumber || hb > out->heap_max)
			out->heap_max = hb;
	}
	out->sealed_at = GetCurrentTimestamp();
	out->reclaim_after = InvalidFullTransactionId;
}

/*
 * Seal the first nrows collected rows into one segment (k-means, then the
 * page run); rows after them move to the front of the buffers.
 */
void
VdbSealerSealPiece(VdbSealer *s, int nrows)
{
	MemoryContext old;
	int			dim = s->dim;
	bool		spherical = (s->kind != VDB_DISTANCE_L2);
	int			k;
	int			ntrain;
	float	   *centroids;
	int		   *assign;
	float	   *tmp;
	VdbSegmentData seg;
	instr_time	start,
				trained,
				assigned,
				written;

	Assert(nrows > 0 && nrows <= s->nrows);
	INSTR_TIME_SET_CURRENT(start);
	old = MemoryContextSwitchTo(s->scratch);

	k = s->lists > 0 ? s->lists : (int) (4.0 * sqrt((double) nrows));
	k = Max(1, Min(k, Min(nrows, VDB_MAX_LISTS)));

	/* Put a random training sample first (a partial Fisher-Yates shuffle). */
	ntrain = (int) Min((int64) nrows, (int64) k * VDB_KMEANS_SAMPLE_PER_LIST);
	tmp = palloc(sizeof(float) * dim);
	if (ntrain < nrows)
	{
		for (int i = 0; i < ntrain; i++)
			SwapRows(s, i, (int) pg_prng_uint64_range(&s->rng, i, nrows - 1), tmp);
	}
	else
	{
		/* Training on every row: still start from k random rows. */
		for (int i = 0; i < k; i++)
			SwapRows(s, i, (int) pg_prng_uint64_range(&s->rng, i, nrows - 1), tmp);
	}

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, VDB_PHASE_KMEANS);
	centroids = palloc_extended(sizeof(float) * (Size) k * dim, MCXT_ALLOC_HUGE);
	VdbKmeans(s->vectors, ntrain, dim, k, spherical, centroids);
	if (!s->publish_each)
		VdbSealYield();
	INSTR_TIME_SET_CURRENT(trained);
	assign = palloc_extended(sizeof(int) * (Size) nrows, MCXT_ALLOC_HUGE);
	VdbAssignLists(s->vectors, nrows, dim, centroids, k, spherical, assign);
	INSTR_TIME_SET_CURRENT(assigned);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, VDB_PHASE_WRITE);
	WriteRun(s, nrows, assign, centroids, k, &seg);
	INSTR_TIME_SET_CURRENT(written);
	INSTR_TIME_SUBTRACT(written, assigned);
	INSTR_TIME_SUBTRACT(assigned, trained);
	INSTR_TIME_SUBTRACT(trained, start);
	ereport(DEBUG1,
			(errmsg("vdb_ivf sealed segment %u of index \"%s\": %d rows, %d lists",
					seg.segid, RelationGetRelationName(s->index), nrows, k),
			 errdetail("k-means on %d rows %.0f ms, assigning %.0f ms, writing %u pages %.0f ms.",
					   ntrain, INSTR_TIME_GET_MILLISEC(trained),
					   INSTR_TIME_GET_MILLISEC(assigned), seg.npages,
					   INSTR_TIME_GET_MILLISEC(written))));

	MemoryContextSwitchTo(old);

	/* Keep this segment's lists for interim assignments of later rows. */
	if (s->last_centroids)
	{
		pfree(s->last_centroids);
		pfree(s->last_norms);
	}
	s->last_segid = seg.segid;
	s->last_nlists = k;
	s->last_centroids = palloc_extended(sizeof(float) * (Size) k * dim, MCXT_ALLOC_HUGE);
	memcpy(s->last_centroids, centroids, sizeof(float) * (Size) k * dim);
	s->last_norms = VdbNormsOf(s->last_centroids, k, dim);
	MemoryContextReset(s->scratch);

	if (s->publish_each)
	{
		PublishSegments(s->index, 0, 0, &seg, 1);
		VdbCrashPoint(VDB_CRASH_BUILD);
	}
	else
	{
		if (s->sealed == NULL)
			s->sealed = palloc(sizeof(VdbSegmentData) * VDB_MAX_SEGMENTS);
		if (s->nsealed >= (int) VDB_MAX_SEGMENTS)
			VdbTooManySegments(s->index);
		s->sealed[s->nsealed++] = seg;
	}

	/* Move the rows not sealed to the front. */
	memmove(s->tids, s->tids + nrows, sizeof(ItemPointerData) * (s->nrows - nrows));
	memmove(s->vectors, s->vectors + (Size) nrows * dim,
			sizeof(float) * (Size) (s->nrows - nrows) * dim);
	s->nrows -= nrows;
}

/*
 * Write the collected rows as the index's growing segment (a chain of
 * contiguous pages, every row with its interim assignment to the lists of
 * the last segment sealed) and publish it.  Used by CREATE INDEX for the
 * rows too few to seal, so it extends the index page by page.
 */
void
VdbWriteGrowingChain(Relation index, VdbSealer *s)
{
	int			dim = s->dim;
	Size		entry_size = VDB_GROWING_ENTRY_SIZE(dim);
	int			per_page = ItemsPerPage(entry_size);
	BlockNumber npages = Max(1, (s->nrows + per_page - 1) / per_page);
	uint32		segid = VdbReserveSegid(index);
	BlockNumber head = RelationGetNumberOfBlocks(index);
	PGAlignedBlock block;
	Page		page = block.data;
	VdbGrowingEntry entry = palloc0(entry_size);
	VdbSegmentData seg;
	int			row = 0;
	float	   *dots = palloc(sizeof(float) * Max(s->last_nlists, 1));

	memset(&seg, 0, sizeof(seg));
	seg.segid = segid;
	seg.state = VDB_SEGMENT_GROWING;
	seg.generation = 1;
	seg.head = head;
	seg.tail = head + npages - 1;
	seg.npages = npages;
	seg.heap_min = InvalidBlockNumber;
	seg.heap_max = InvalidBlockNumber;

	for (BlockNumber p = 0; p < npages; p++)
	{
		CHECK_FOR_INTERRUPTS();
		VdbInitPage(page, VDB_PAGE_GROWING, segid, 1);
		if (p + 1 < npages)
			VdbPageGetOpaque(page)->nextblkno = head + p + 1;
		for (int e = 0; e < per_page && row < s->nrows; e++, row++)
		{
			const float *x = s->vectors + (Size) row * dim;

			entry->tid = s->tids[row];
			if (s->last_centroids)
			{
				entry->assign_segid = s->last_segid;
				entry->assign_list = VdbNearestCentroid(s->kind, x, dim, s->last_centroids,
														s->last_norms, s->last_nlists, dots);
			}
			memcpy(entry->x, x, sizeof(float) * dim);
			if (PageAddItem(page, (Item) entry, entry_size, InvalidOffsetNumber,
							false, false) == InvalidOffsetNumber)
				elog(ERROR, "could not add vdb_ivf growing entry");
		}
		/* The directory counts rows of every page but the tail. */
		if (p + 1 < npages)
			VdbCountGrowingPage(page, &seg);
		VdbWriteNewPage(index, MAIN_FORKNUM, head + p, page, false);
	}
	s->nrows = 0;
	PublishSegments(index, 0, 0, &seg, 1);
}

/*
 * The segments a sealer created with publish_each = false and has not
 * published: for a caller that publishes them itself (worker_merge.c).
 */
VdbSegmentData *
VdbSealerSealed(VdbSealer *s, int *nsealed)
{
	*nsealed = s->nsealed;
	return s->sealed;
}

/*
 * Release a sealer's memory.
 */
void
VdbSealerFree(VdbSealer *s)
{
	MemoryContextDelete(s->scratch);
	pfree(s->tids);
	pfree(s->vectors);
	if (s->last_centroids)
	{
		pfree(s->last_centroids);
		pfree(s->last_norms);
	}
	if (s->sealed)
		pfree(s->sealed);
	pfree(s);
}

/*
 * Seal one frozen segment: read its chain, seal its rows (in several
 * segments if they do not fit in maintenance_work_mem together), and
 * publish them in the record that drops the frozen segment.
 *
 * The caller holds ShareUpdateExclusiveLock on the table, which keeps
 * VACUUM out (P18): VACUUM must not free a heap TID that is being copied
 * into a sealed run.  Inserts and scans go on; a crash before the publish
 * leaves the segment frozen, and pages written so far unreferenced.
 */
int
VdbSealFrozen(Relation heap, Relation index, uint32 segid)
{
	VdbMetaPage meta;
	VdbSegment	frozen;
	int			dim;
	VdbSealer  *s;
	BlockNumber blkno;
	BlockNumber visited = 0;
	int			present;

	/* Make the pages of segments dropped earlier available to this run. */
	(void) VdbReclaimSegments(index);
	VdbMarkSegmentBusy(RelationGetRelid(index), segid);	/* 'sealing' */

	meta = VdbCopyMeta(index);
	frozen = VdbFindSegment(meta, segid);
	dim = meta->dimensions;

	if (frozen == NULL || frozen->state != VDB_SEGMENT_FROZEN)
		elog(ERROR, "vdb_ivf segment %u is not frozen", segid);

	present = (int) (frozen->nrows - frozen->ndead);
	s = VdbSealerCreate(index, dim, meta->kind,
						Max(1, Min(present, VdbSealerMaxRows(dim))),
						VdbGetLists(index), false);

	for (blkno = frozen->head;;)
	{
		OffsetNumber off = FirstOffsetNumber;
		BlockNumber next;

		if (++visited > frozen->npages)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("chain of segment %u of index \"%s\" is longer than its directory entry says",
							segid, RelationGetRelationName(index))));

		/*
		 * Copy the page's entries into the sealer.  When it fills up, seal a
		 * piece with no buffer lock held (a piece takes seconds: a held lock
		 * would keep interrupts off, and the seal takes the metapage, which
		 * comes first in the lock order), then read on from the same entry.
		 * The page cannot change meanwhile: it is frozen, and the caller's
		 * lock keeps VACUUM out.
		 */
		for (;;)
		{
			Buffer		buf = ReadBuffer(index, blkno);
			Page		page;
			OffsetNumber maxoff;

			LockBuffer(buf, BUFFER_LOCK_SHARE);
			page = BufferGetPage(buf);
			VdbCheckPageStamp(index, page, blkno, segid, frozen->generation, VDB_PAGE_GROWING);
			maxoff = PageGetMaxOffsetNumber(page);
			for (; off <= maxoff && VdbSealerRows(s) < s->capacity; off++)
			{
				VdbGrowingEntry entry = (VdbGrowingEntry) PageGetItem(page, PageGetItemId(page, off));

				VdbSealerAdd(s, &entry->tid, entry->x);
			}
			next = VdbPageGetOpaque(page)->nextblkno;
			UnlockReleaseBuffer(buf);
			if (off > maxoff)
				break;
			VdbSealerSealPiece(s, s->capacity);
		}
		if (blkno == frozen->tail)
			break;
		if (next == InvalidBlockNumber)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("chain of segment %u of index \"%s\" ends before its tail",
							segid, RelationGetRelationName(index))));
		blkno = next;
		CHECK_FOR_INTERRUPTS();
		VdbSealYield();
	}
	if (VdbSealerRows(s) > 0)
		VdbSealerSealPiece(s, VdbSealerRows(s));

	VdbCrashPoint(VDB_CRASH_SEAL_PUBLISH);
	PublishSegments(index, segid, frozen->generation, s->sealed, s->nsealed);
	VdbCrashPoint(VDB_CRASH_SEAL_PUBLISHED);
	VdbSealerFree(s);
	pfree(meta);
	return 1;
}

/*
 * Seal an index: freeze its growing segment first if asked (and it has
 * rows), then seal every frozen segment, oldest first.  Returns how many
 * frozen segments were sealed.  The caller holds ShareUpdateExclusiveLock
 * on the table; usable from a background worker.
 */
int
VdbSealIndex(Relation heap, Relation index, bool freeze_growing)
{
	VdbMetaPage meta;
	int			nsealed = 0;

	if (freeze_growing)
		(void) VdbFreezeGrowing(index);

	meta = VdbCopyMeta(index);
	for (uint32 i = 0; i < meta->nsegments; i++)
	{
		if (meta->segments[i].state == VDB_SEGMENT_FROZEN)
			nsealed += VdbSealFrozen(heap, index, meta->segments[i].segid);
	}
	pfree(meta);
	return nsealed;
}
