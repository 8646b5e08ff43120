/*
 * segment.c
 *	  vdb_ivf pages and the segment directory: page initialisation and
 *	  stamps, the metapage, page runs, and the directory changes shared by
 *	  build, insert and seal (see src/README for the protocol).
 */
#include "postgres.h"

#include <cblas.h>
#include <math.h>

#include "access/xloginsert.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "debug.h"
#include "distance.h"
#include "ivf.h"
#include "ivf_write.h"
#include "vector.h"

/*
 * Extend the index by one page; returns it pinned and exclusively locked.
 */
Buffer
VdbNewBuffer(Relation index, ForkNumber forknum)
{
	Buffer		buf;
	bool		local = RELATION_IS_LOCAL(index);

	if (!local)
		LockRelationForExtension(index, ExclusiveLock);
	buf = ReadBufferExtended(index, forknum, P_NEW, RBM_NORMAL, NULL);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	if (!local)
		UnlockRelationForExtension(index, ExclusiveLock);
	return buf;
}

/*
 * Initialise a vdb_ivf page and stamp it with its segment and generation.
 */
void
VdbInitPage(Page page, uint16 flags, uint32 segid, uint32 generation)
{
	VdbPageOpaque opaque;

	PageInit(page, BLCKSZ, sizeof(VdbPageOpaqueData));
	opaque = VdbPageGetOpaque(page);
	opaque->nextblkno = InvalidBlockNumber;
	opaque->segid = segid;
	opaque->generation = generation;
	opaque->flags = flags;
	opaque->page_id = VDB_IVF_PAGE_ID;
}

/*
 * Does the page carry the expected stamp?
 */
bool
VdbPageStampMatches(Page page, uint32 segid, uint32 generation, uint16 flags)
{
	VdbPageOpaque opaque;

	if (PageIsNew(page) ||
		PageGetSpecialSize(page) != MAXALIGN(sizeof(VdbPageOpaqueData)))
		return false;
	opaque = VdbPageGetOpaque(page);
	return opaque->page_id == VDB_IVF_PAGE_ID &&
		opaque->segid == segid &&
		opaque->generation == generation &&
		(opaque->flags & flags) != 0;
}

/*
 * Raise an error unless the page carries the expected stamp: a page that
 * does not belong to the segment the directory names must never be read as
 * if it did.
 */
void
VdbCheckPageStamp(Relation index, Page page, BlockNumber blkno,
				  uint32 segid, uint32 generation, uint16 flags)
{
	if (!VdbPageStampMatches(page, segid, generation, flags))
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("block %u of index \"%s\" does not belong to segment %u generation %u",
						blkno, RelationGetRelationName(index), segid, generation)));
}

/*
 * Check the metapage's magic number and format version.
 */
void
VdbCheckMeta(Relation index, VdbMetaPage meta)
{
	if (meta->magic != VDB_IVF_MAGIC)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" is not a vdb_ivf index",
						RelationGetRelationName(index))));
	/* Format 1 (vdb 0.1.0) differs only in run headers, which say which. */
	if (meta->version < 1 || meta->version > VDB_IVF_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("index \"%s\" has on-disk format version %u, this build reads versions 1 to %d",
						RelationGetRelationName(index), meta->version, VDB_IVF_VERSION),
				 errhint("REINDEX the index.")));
	if (meta->nsegments > VDB_MAX_SEGMENTS)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" has a corrupted segment directory",
						RelationGetRelationName(index))));
}

/*
 * A palloc'd copy of the metapage contents (directory included), read under
 * a share lock so that it is one consistent state.
 */
VdbMetaPage
VdbCopyMeta(Relation index)
{
	Buffer		buf;
	VdbMetaPage meta;
	VdbMetaPage copy;
	Size		size;

	buf = ReadBuffer(index, VDB_IVF_METAPAGE_BLKNO);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	meta = VdbPageGetMeta(BufferGetPage(buf));
	VdbCheckMeta(index, meta);
	size = offsetof(VdbMetaPageData, segments) + sizeof(VdbSegmentData) * meta->nsegments;
	copy = palloc(size);
	memcpy(copy, meta, size);
	UnlockReleaseBuffer(buf);
	return copy;
}

/*
 * The growing segment of a directory (there is always exactly one).
 */
VdbSegment
VdbFindGrowing(VdbMetaPage meta)
{
	for (uint32 i = 0; i < meta->nsegments; i++)
	{
		if (meta->segments[i].state == VDB_SEGMENT_GROWING)
			return &meta->segments[i];
	}
	elog(ERROR, "vdb_ivf directory has no growing segment");
	return NULL;				/* keep compiler quiet */
}

/*
 * The directory slot of a segment, or NULL.
 */
VdbSegment
VdbFindSegment(VdbMetaPage meta, uint32 segid)
{
	for (uint32 i = 0; i < meta->nsegments; i++)
	{
		if (meta->segments[i].segid == segid)
			return &meta->segments[i];
	}
	return NULL;
}

/*
 * Keep the metapage's pd_lower past the whole directory, so that WAL never
 * treats directory bytes as the page's hole.
 */
void
VdbMetaSetLower(Page page)
{
	((PageHeader) page)->pd_lower =
		MAXALIGN(SizeOfPageHeaderData) + offsetof(VdbMetaPageData, segments) +
		sizeof(VdbSegmentData) * VDB_MAX_SEGMENTS;
}

/*
 * Raise the error for a full segment directory.
 */
void
VdbTooManySegments(Relation index)
{
	ereport(ERROR,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 errmsg("index \"%s\" has too many segments (at most %d)",
					RelationGetRelationName(index), (int) VDB_MAX_SEGMENTS),
			 errdetail("The sealer merges only sealed segments smaller than half of segment_rows."),
			 errhint("REINDEX the index, or rebuild it with a larger segment_rows.")));
}

/*
 * How many more segments the directory can take: free slots, plus slots of
 * dropped segments, which VdbAddSegment forgets when it needs the room.
 */
int
VdbDirectoryRoom(VdbMetaPage meta)
{
	int			room = (int) VDB_MAX_SEGMENTS - (int) meta->nsegments;

	for (uint32 i = 0; i < meta->nsegments; i++)
	{
		if (meta->segments[i].state == VDB_SEGMENT_DROPPED)
			room++;
	}
	return room;
}

/*
 * Append a zeroed directory slot (on a page being changed under generic WAL).
 *
 * When the directory is full, the slot of a dropped segment is removed to
 * make room: the oldest one that no snapshot can reach any more, else the
 * oldest.  Its pages are left to VACUUM's sweep (ivf_space.c); should one
 * be reused while a scan that began before the drop still reads it, that
 * scan fails with a serialization error, never wrong rows.  Removing a slot
 * moves later slots: pointers into the directory taken before the call are
 * invalid after it.
 */
VdbSegment
VdbAddSegment(Relation index, VdbMetaPage meta)
{
	VdbSegment	seg;

	if (meta->nsegments >= VDB_MAX_SEGMENTS)
	{
		int			victim = -1;
		bool		victim_free = false;

		for (uint32 i = 0; i < meta->nsegments; i++)
		{
			VdbSegment	seg = &meta->segments[i];
			bool		free;

			if (seg->state != VDB_SEGMENT_DROPPED)
				continue;
			free = GlobalVisCheckRemovableFullXid(NULL, seg->reclaim_after);
			if (victim < 0 || (free && !victim_free) ||
				(free == victim_free && seg->segid < meta->segments[victim].segid))
			{
				victim = i;
				victim_free = free;
			}
		}
		if (victim < 0)
			VdbTooManySegments(index);
		memmove(&meta->segments[victim], &meta->segments[victim + 1],
				sizeof(VdbSegmentData) * (meta->nsegments - victim - 1));
		meta->nsegments--;
	}
	seg = &meta->segments[meta->nsegments++];
	memset(seg, 0, sizeof(VdbSegmentData));
	seg->head = InvalidBlockNumber;
	seg->tail = InvalidBlockNumber;
	seg->heap_min = InvalidBlockNumber;
	seg->heap_max = InvalidBlockNumber;
	return seg;
}

/*
 * Fill in a fresh metapage with an empty directory.
 */
void
VdbInitMetaPage(Page page, int dim, VdbDistanceKind kind, int segment_rows, int lists)
{
	VdbMetaPage meta;

	VdbInitPage(page, VDB_PAGE_META, 0, 0);
	meta = VdbPageGetMeta(page);
	memset(meta, 0, offsetof(VdbMetaPageData, segments));
	meta->magic = VDB_IVF_MAGIC;
	meta->version = VDB_IVF_VERSION;
	meta->dimensions = dim;
	meta->kind = kind;
	meta->segment_rows = segment_rows;
	meta->lists = lists;
	meta->next_segid = 1;
	meta->seal_version = 0;
	meta->nsegments = 0;
	VdbMetaSetLower(page);
}

/*
 * Write a page built in local memory to a block that no directory entry
 * names yet, logging it as a full page image.  A block just past the end
 * extends the relation (CREATE INDEX writes its runs that way: nobody else
 * can extend the index meanwhile).
 */
void
VdbWriteNewPage(Relation index, ForkNumber forknum, BlockNumber blkno, Page src,
				bool force_wal)
{
	Buffer		buf;

	if (blkno == RelationGetNumberOfBlocksInFork(index, forknum))
	{
		buf = ReadBufferExtended(index, forknum, P_NEW, RBM_NORMAL, NULL);
		if (BufferGetBlockNumber(buf) != blkno)
			elog(ERROR, "vdb_ivf page run is not contiguous");
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	}
	else
		buf = ReadBufferExtended(index, forknum, blkno, RBM_ZERO_AND_LOCK, NULL);
	START_CRIT_SECTION();
	memcpy(BufferGetPage(buf), src, BLCKSZ);
	MarkBufferDirty(buf);
	if (force_wal || RelationNeedsWAL(index))
		log_newpage_buffer(buf, true);
	END_CRIT_SECTION();
	UnlockReleaseBuffer(buf);
}

/*
 * Take the next segment id from the metapage (one generic WAL record).
 */
uint32
VdbReserveSegid(Relation index)
{
	Buffer		buf;
	GenericXLogState *state;
	VdbMetaPage meta;
	uint32		segid;

	buf = ReadBuffer(index, VDB_IVF_METAPAGE_BLKNO);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	state = GenericXLogStart(index);
	meta = VdbPageGetMeta(GenericXLogRegisterBuffer(state, buf, 0));
	segid = meta->next_segid++;
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
	return segid;
}

/*
 * Add a full growing page's entries to its segment's row count and heap
 * block range.  Called once per page, when it stops being the tail.
 */
void
VdbCountGrowingPage(Page page, VdbSegment seg)
{
	OffsetNumber maxoff = PageGetMaxOffsetNumber(page);

	for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
	{
		VdbGrowingEntry entry = (VdbGrowingEntry) PageGetItem(page, PageGetItemId(page, off));
		BlockNumber blk = ItemPointerGetBlockNumberNoCheck(&entry->tid);

		if (seg->heap_min == InvalidBlockNumber || blk < seg->heap_min)
			seg->heap_min = blk;
		if (seg->heap_max == InvalidBlockNumber || blk > seg->heap_max)
			seg->heap_max = blk;
	}
	seg->nrows += maxoff;
}

/*
 * Give the growing segment a new tail page, with the entry (if any) already
 * on it, in one generic WAL record.  Either the page is linked after the
 * old tail (3 pages: metapage, old tail, new page), or, to freeze, it
 * becomes the first page of a new growing segment and the old segment turns
 * FROZEN (2 pages: metapage, new page).  Either way the old tail stops being
 * the tail, so its entries are counted into the directory now.
 *
 * The caller holds the metapage and the tail page exclusively locked (lock
 * order: metapage, tail page, then the extension lock for the new page) and
 * releases them afterwards.
 */
void
VdbGrowNewPage(Relation index, Buffer metabuf, Buffer tailbuf, bool freeze,
			   Item entry, Size entry_size)
{
	VdbMetaPage meta = VdbPageGetMeta(BufferGetPage(metabuf));
	Buffer		newbuf;
	GenericXLogState *state;
	Page		tailpage = NULL;
	Page		newpage;
	VdbSegment	growing;
	BlockNumber newblk;

	if (freeze && VdbDirectoryRoom(meta) < 1)
		VdbTooManySegments(index);

	newbuf = VdbAllocPage(index, meta);
	newblk = BufferGetBlockNumber(newbuf);
	state = GenericXLogStart(index);
	meta = VdbPageGetMeta(GenericXLogRegisterBuffer(state, metabuf, 0));
	if (!freeze)
		tailpage = GenericXLogRegisterBuffer(state, tailbuf, 0);
	newpage = GenericXLogRegisterBuffer(state, newbuf, GENERIC_XLOG_FULL_IMAGE);

	growing = VdbFindGrowing(meta);
	VdbCountGrowingPage(BufferGetPage(tailbuf), growing);
	if (freeze)
	{
		VdbSegment	fresh;
		uint32		segid = meta->next_segid++;

		growing->state = VDB_SEGMENT_FROZEN;
		fresh = VdbAddSegment(index, meta);
		fresh->segid = segid;
		fresh->state = VDB_SEGMENT_GROWING;
		fresh->generation = 1;
		fresh->head = fresh->tail = newblk;
		fresh->npages = 1;
		VdbInitPage(newpage, VDB_PAGE_GROWING, segid, 1);
	}
	else
	{
		VdbPageGetOpaque(tailpage)->nextblkno = newblk;
		growing->tail = newblk;
		growing->npages++;
		VdbInitPage(newpage, VDB_PAGE_GROWING, growing->segid, growing->generation);
	}
	if (entry != NULL &&
		PageAddItem(newpage, entry, entry_size, InvalidOffsetNumber,
					false, false) == InvalidOffsetNumber)
		elog(ERROR, "could not add vdb_ivf growing entry");

	GenericXLogFinish(state);
	UnlockReleaseBuffer(newbuf);
}

/*
 * Freeze the growing segment if it has rows, opening a new empty growing
 * segment in the same WAL record.  Returns whether it froze.
 */
bool
VdbFreezeGrowing(Relation index)
{
	Buffer		metabuf;
	Buffer		tailbuf;
	VdbMetaPage meta;
	VdbSegment	growing;
	Page		tailpage;
	bool		froze = false;

	metabuf = ReadBuffer(index, VDB_IVF_METAPAGE_BLKNO);
	LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
	meta = VdbPageGetMeta(BufferGetPage(metabuf));
	VdbCheckMeta(index, meta);
	growing = VdbFindGrowing(meta);

	tailbuf = ReadBuffer(index, growing->tail);
	LockBuffer(tailbuf, BUFFER_LOCK_EXCLUSIVE);
	tailpage = BufferGetPage(tailbuf);
	VdbCheckPageStamp(index, tailpage, growing->tail, growing->segid,
					  growing->generation, VDB_PAGE_GROWING);
	if (growing->nrows > 0 || PageGetMaxOffsetNumber(tailpage) > 0)
	{
		VdbGrowNewPage(index, metabuf, tailbuf, true, NULL, 0);
		froze = true;
	}
	UnlockReleaseBuffer(tailbuf);
	UnlockReleaseBuffer(metabuf);
	if (froze)
		VdbCrashPoint(VDB_CRASH_FREEZE);
	return froze;
}

/*
 * Prepare a vector for the index: normalise it for cosine.  Returns false if
 * the vector cannot be indexed (a zero vector has no cosine distance).
 */
bool
VdbPrepareVector(VdbDistanceKind kind, float *x, int dim)
{
	if (kind == VDB_DISTANCE_COSINE)
	{
		double		norm = 0.0;

		for (int i = 0; i < dim; i++)
			norm += (double) x[i] * x[i];
		if (norm == 0.0 || !isfinite(norm))
			return false;
		norm = sqrt(norm);
		for (int i = 0; i < dim; i++)
			x[i] = (float) (x[i] / norm);
	}
	return true;
}

/*
 * Turn an indexed value into a prepared vector of the index's dimensions.
 * Returns false if it cannot be indexed (a zero vector under cosine).
 */
bool
VdbPrepareDatum(Datum value, int dim, VdbDistanceKind kind, float *x)
{
	Vector	   *v = DatumGetVector(value);

	if (v->dim > VDB_IVF_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("vector cannot have more than %d dimensions for vdb_ivf index",
						VDB_IVF_MAX_DIM)));
	if (v->dim != dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", dim, v->dim)));
	memcpy(x, v->x, sizeof(float) * dim);
	return VdbPrepareVector(kind, x, dim);
}

/*
 * Squared norms of n vectors (palloc'd).
 */
float *
VdbNormsOf(const float *x, int n, int dim)
{
	float	   *norms = palloc(sizeof(float) * Max(n, 1));

	for (int i = 0; i < n; i++)
		norms[i] = VectorInnerProduct(dim, x + (Size) i * dim, x + (Size) i * dim);
	return norms;
}

/*
 * The list whose centroid is nearest to x, by the same rule as the k-means
 * assignment step: for L2 the smallest |c|^2 - 2 x.c, otherwise the largest
 * x.c (centroids are normalised).  One sgemv computes every x.c; dots is
 * scratch space for k floats.
 */
int
VdbNearestCentroid(VdbDistanceKind kind, const float *x, int dim,
				   const float *centroids, const float *norms, int k, float *dots)
{
	int			best = 0;
	float		bestval = INFINITY;

	cblas_sgemv(CblasRowMajor, CblasNoTrans, k, dim, 1.0f, centroids, dim,
				x, 1, 0.0f, dots, 1);
	for (int j = 0; j < k; j++)
	{
		float		val = (kind == VDB_DISTANCE_L2) ? norms[j] - 2.0f * dots[j] : -dots[j];

		if (val < bestval)
		{
			bestval = val;
			best = j;
		}
	}
	return best;
}
