/*
 * worker_merge.c
 *	  Merge compaction of sealed segments, done by the sealing worker.
 *
 * Sealed segments that are small (vdb_seal() of a partly filled growing
 * segment, CREATE INDEX of a small table) or mostly dead (VACUUM removed
 * more than half of their entries) make scans probe more centroids for
 * fewer rows.  The sealer merges runs of such segments that are adjacent
 * in segment order into one segment with retrained centroids, and rebuilds
 * a mostly dead segment alone, without its dead entries:
 *
 *	small			live rows (rows - dead) below half of segment_rows
 *	mostly dead		dead rows above half of rows
 *	merge group		adjacent sealed segments, each small or mostly dead,
 *					whose live rows together fit in segment_rows (and in
 *					maintenance_work_mem); at least two of them, or a
 *					single mostly dead one
 *
 * A merge reads the posting pages of the group, seals the rows like a
 * frozen segment (k-means, new page run), and publishes the new segment in
 * the one metapage record that drops the group.  It runs under the same
 * locks as a seal (ShareUpdateExclusiveLock on table and index: VACUUM
 * cannot change the group meanwhile), yields the same way, and a crash or
 * abandon before the publish leaves the group as it was.  Pages of the
 * dropped segments are reclaimed like those of sealed frozen segments.
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "access/transam.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/rel.h"

#include "debug.h"
#include "ivf.h"
#include "ivf_write.h"
#include "worker.h"

/*
 * Rows of a segment that VACUUM has not removed.
 */
static uint32
LiveRows(const VdbSegmentData *seg)
{
	return seg->nrows > seg->ndead ? seg->nrows - seg->ndead : 0;
}

/*
 * Whether VACUUM removed more than half of a segment's entries.
 */
static bool
MostlyDead(const VdbSegmentData *seg)
{
	return seg->nrows > 0 && (uint64) seg->ndead * 2 > seg->nrows;
}

/*
 * Whether a sealed segment may join a merge group.
 */
static bool
MergeCandidate(const VdbMetaPageData *meta, const VdbSegmentData *seg)
{
	return seg->state == VDB_SEGMENT_SEALED &&
		(LiveRows(seg) < meta->segment_rows / 2 || MostlyDead(seg));
}

/*
 * Order directory slots by segment id.
 */
static int
CompareSegid(const void *a, const void *b)
{
	uint32		x = ((const VdbSegmentData *) a)->segid;
	uint32		y = ((const VdbSegmentData *) b)->segid;

	return (x > y) - (x < y);
}

/*
 * Find the first merge group of an index (see the file header), copying
 * its directory slots into group (room for VDB_MAX_SEGMENTS).  Returns how
 * many segments it has, 0 if there is nothing to merge.
 */
int
VdbFindMergeGroup(VdbMetaPage meta, VdbSegmentData *group)
{
	VdbSegmentData *sealed = palloc(sizeof(VdbSegmentData) * Max(meta->nsegments, 1));
	int			nsealed = 0;
	uint64		limit = Min((uint64) meta->segment_rows,
							(uint64) VdbSealerMaxRows(meta->dimensions));
	int			ngroup = 0;

	for (uint32 i = 0; i < meta->nsegments; i++)
	{
		if (meta->segments[i].state == VDB_SEGMENT_SEALED)
			sealed[nsealed++] = meta->segments[i];
	}
	qsort(sealed, nsealed, sizeof(VdbSegmentData), CompareSegid);

	for (int i = 0; i < nsealed && ngroup == 0; i++)
	{
		uint64		total = LiveRows(&sealed[i]);
		int			n = 1;

		if (!MergeCandidate(meta, &sealed[i]) || total > limit)
			continue;
		while (i + n < nsealed && MergeCandidate(meta, &sealed[i + n]) &&
			   total + LiveRows(&sealed[i + n]) <= limit)
			total += LiveRows(&sealed[i + n++]);
		if (n >= 2 || MostlyDead(&sealed[i]))
		{
			memcpy(group, &sealed[i], sizeof(VdbSegmentData) * n);
			ngroup = n;
		}
	}
	pfree(sealed);
	return ngroup;
}

/*
 * Feed the entries of a sealed segment's posting pages to a sealer that
 * holds at most capacity rows.  Returns how many there were.
 */
static uint64
ReadSealedRows(Relation index, const VdbSegmentData *seg, VdbSealer *sealer,
			   int capacity)
{
	uint64		nrows = 0;
	Buffer		buf;
	Page		page;
	VdbSealedHeaderData header;
	VdbRunMap	map;
	PGAlignedBlock copy;

	VdbReadRunHeader(index, seg, false, &header, &map);
	for (BlockNumber p = 0; p < header.nposting_pages; p++)
	{
		BlockNumber blkno = VdbRunBlock(&map, header.posting_start + p);
		OffsetNumber maxoff;

		/* Work on a copy: sealing a piece must not happen under a lock. */
		buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		VdbCheckPageStamp(index, BufferGetPage(buf), blkno, seg->segid,
						  seg->generation, VDB_PAGE_POSTING);
		memcpy(copy.data, BufferGetPage(buf), BLCKSZ);
		UnlockReleaseBuffer(buf);

		page = copy.data;
		maxoff = PageGetMaxOffsetNumber(page);
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
		{
			ItemId		itemid = PageGetItemId(page, off);
			VdbPostingEntry entry;

			if (!ItemIdIsNormal(itemid))
				continue;
			entry = (VdbPostingEntry) PageGetItem(page, itemid);
			if (VdbSealerRows(sealer) >= capacity)
				VdbSealerSealPiece(sealer, VdbSealerRows(sealer));
			VdbSealerAdd(sealer, &entry->tid, entry->x);
			nrows++;
		}
		CHECK_FOR_INTERRUPTS();
		VdbSealYield();
	}
	return nrows;
}

/*
 * Publish the merged segments in one metapage record that drops the group.
 */
static void
PublishMerge(Relation index, const VdbSegmentData *group, int ngroup,
			 const VdbSegmentData *merged, int nmerged)
{
	Buffer		buf;
	GenericXLogState *state;
	VdbMetaPage meta;

	buf = ReadBuffer(index, VDB_IVF_METAPAGE_BLKNO);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	meta = VdbPageGetMeta(BufferGetPage(buf));
	if (VdbDirectoryRoom(meta) + ngroup < nmerged)
		VdbTooManySegments(index);

	state = GenericXLogStart(index);
	meta = VdbPageGetMeta(GenericXLogRegisterBuffer(state, buf, 0));
	for (int i = 0; i < ngroup; i++)
	{
		VdbSegment	seg = VdbFindSegment(meta, group[i].segid);

		if (seg == NULL || seg->state != VDB_SEGMENT_SEALED ||
			seg->generation != group[i].generation || seg->ndead != group[i].ndead)
		{
			GenericXLogAbort(state);
			elog(ERROR, "vdb_ivf segment %u changed while it was being merged",
				 group[i].segid);
		}
		seg->state = VDB_SEGMENT_DROPPED;
		seg->reclaim_after = ReadNextFullTransactionId();
	}
	for (int i = 0; i < nmerged; i++)
		*VdbAddSegment(index, meta) = merged[i];
	meta->seal_version++;
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
}

/*
 * Merge a group found by VdbFindMergeGroup: seal the live rows of its
 * segments into new segments (none if every row is dead) and publish them
 * in place of the group.  The caller holds ShareUpdateExclusiveLock on the
 * table and the index.  Returns the number of rows merged.
 */
uint64
VdbMergeSegments(Relation index, const VdbSegmentData *group, int ngroup)
{
	VdbMetaPage meta = VdbCopyMeta(index);
	int			dim = meta->dimensions;
	uint64		total = 0;
	int			capacity;
	VdbSealer  *sealer;
	VdbSegmentData *merged;
	int			nmerged;

	for (int i = 0; i < ngroup; i++)
		total += LiveRows(&group[i]);
	capacity = (int) Max(1, Min(total, (uint64) VdbSealerMaxRows(dim)));
	sealer = VdbSealerCreate(index, dim, meta->kind, capacity, VdbGetLists(index), false);
	VdbSealerMarkMerge(sealer);
	(void) VdbReclaimSegments(index);
	total = 0;
	for (int i = 0; i < ngroup; i++)
		total += ReadSealedRows(index, &group[i], sealer, capacity);
	if (VdbSealerRows(sealer) > 0)
		VdbSealerSealPiece(sealer, VdbSealerRows(sealer));

	merged = VdbSealerSealed(sealer, &nmerged);
	VdbCrashPoint(VDB_CRASH_MERGE_PUBLISH);
	PublishMerge(index, group, ngroup, merged, nmerged);
	VdbSealerFree(sealer);
	pfree(meta);
	return total;
}
