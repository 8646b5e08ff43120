/*
 * ivf_build.c
 *	  CREATE INDEX for vdb_ivf: seal the table's rows into segments directly.
 *
 * The heap scan feeds a VdbSealer.  Whenever it holds segment_rows rows plus
 * a margin, the first segment_rows of them become a sealed segment; at the
 * end the rest is sealed too if there are enough of them to be worth lists
 * of their own (at least VDB_MIN_SEGMENT_ROWS and a tenth of a segment),
 * and otherwise becomes the growing segment, where later inserts join them.
 * An empty table gives a metapage and one empty growing page.
 *
 * Segment size is also bounded by maintenance_work_mem: when a segment's
 * rows do not fit, the table is sealed in smaller segments.
 */
#include "postgres.h"

#include "access/tableam.h"
#include "access/xloginsert.h"
#include "catalog/index.h"
#include "commands/progress.h"
#include "miscadmin.h"
#include "optimizer/plancat.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "ivf.h"
#include "ivf_write.h"

typedef struct VdbBuildState
{
	Relation	index;
	int			dim;
	VdbDistanceKind kind;
	VdbSealer  *sealer;
	int			segment_rows;	/* rows per sealed segment */
	int			margin;			/* rows held back so a small rest can be folded */
	double		indtuples;
	float	   *x;				/* scratch for one prepared vector */
	MemoryContext tmpctx;
} VdbBuildState;

/*
 * Called for every heap tuple the build scan finds.
 */
static void
BuildCallback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
			  bool tupleIsAlive, void *state)
{
	VdbBuildState *bs = (VdbBuildState *) state;
	MemoryContext old;
	bool		indexable;

	if (isnull[0])
		return;

	old = MemoryContextSwitchTo(bs->tmpctx);
	indexable = VdbPrepareDatum(values[0], bs->dim, bs->kind, bs->x);
	MemoryContextSwitchTo(old);
	MemoryContextReset(bs->tmpctx);
	if (!indexable)
		return;

	if (VdbSealerRows(bs->sealer) == bs->segment_rows + bs->margin)
	{
		VdbSealerSealPiece(bs->sealer, bs->segment_rows);
		pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, VDB_PHASE_LOAD);
	}
	VdbSealerAdd(bs->sealer, tid, bs->x);
	bs->indtuples++;
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64) bs->indtuples);
}

/*
 * The rows a build will read, for tuples_total in the progress report: the
 * planner's estimate, which also covers a table never vacuumed or analyzed
 * (reltuples -1) by extrapolating from its size.
 */
static int64
EstimateTableRows(Relation heap)
{
	BlockNumber pages;
	double		tuples;
	double		allvisfrac;

	estimate_rel_size(heap, NULL, &pages, &tuples, &allvisfrac);
	return (int64) Max(tuples, 0);
}

/*
 * Write a page built in local memory as the next block of a fork.
 */
static void
AppendPage(Relation index, ForkNumber forknum, Page src, bool force_wal)
{
	Buffer		buf = VdbNewBuffer(index, forknum);

	START_CRIT_SECTION();
	memcpy(BufferGetPage(buf), src, BLCKSZ);
	MarkBufferDirty(buf);
	if (force_wal || RelationNeedsWAL(index))
		log_newpage_buffer(buf, true);
	END_CRIT_SECTION();
	UnlockReleaseBuffer(buf);
}

/*
 * Build a vdb_ivf index on a table's rows.
 */
IndexBuildResult *
ivfbuild(Relation heap, Relation index, IndexInfo *indexInfo)
{
	IndexBuildResult *result;
	VdbBuildState bs;
	PGAlignedBlock block;
	double		reltuples;
	int			fit;

	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));

	memset(&bs, 0, sizeof(bs));
	bs.index = index;
	bs.dim = VdbGetIndexDimensions(index);
	bs.kind = VdbGetDistanceKind(index);

	/* A margin of rows is held back so the last segment can absorb a small rest. */
	fit = VdbSealerMaxRows(bs.dim);
	bs.segment_rows = VdbGetSegmentRows(index);
	bs.margin = Max(VDB_MIN_SEGMENT_ROWS, bs.segment_rows / 10);
	if (bs.segment_rows + bs.margin > fit)
	{
		bs.segment_rows = fit / 11 * 10;
		bs.margin = fit - bs.segment_rows;
		ereport(DEBUG1,
				(errmsg("vdb_ivf sealing segments of %d rows to stay within maintenance_work_mem",
						bs.segment_rows)));
	}

	VdbInitMetaPage(block.data, bs.dim, bs.kind, VdbGetSegmentRows(index),
					VdbGetLists(index));
	AppendPage(index, MAIN_FORKNUM, block.data, false);

	bs.tmpctx = AllocSetContextCreate(CurrentMemoryContext, "vdb_ivf build tuple",
									  ALLOCSET_DEFAULT_SIZES);
	bs.x = palloc(sizeof(float) * bs.dim);
	bs.sealer = VdbSealerCreate(index, bs.dim, bs.kind, bs.segment_rows + bs.margin,
								VdbGetLists(index), true);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, VDB_PHASE_LOAD);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL,
								 EstimateTableRows(heap));
	reltuples = table_index_build_scan(heap, index, indexInfo, true, true,
									   BuildCallback, &bs, NULL);

	if (VdbSealerRows(bs.sealer) >= bs.margin)
		VdbSealerSealPiece(bs.sealer, VdbSealerRows(bs.sealer));
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, VDB_PHASE_WRITE);
	VdbWriteGrowingChain(index, bs.sealer);

	VdbSealerFree(bs.sealer);
	MemoryContextDelete(bs.tmpctx);

	result = palloc(sizeof(IndexBuildResult));
	result->heap_tuples = reltuples;
	result->index_tuples = bs.indtuples;
	return result;
}

/*
 * Build the init fork of an unlogged index: a metapage and an empty growing
 * page, WAL-logged so that the index is valid after a crash reset.
 */
void
ivfbuildempty(Relation index)
{
	PGAlignedBlock block;
	VdbMetaPage meta;
	VdbSegment	growing;
	uint32		segid;
	int			dim = VdbGetIndexDimensions(index);

	VdbInitMetaPage(block.data, dim, VdbGetDistanceKind(index),
					VdbGetSegmentRows(index), VdbGetLists(index));
	meta = VdbPageGetMeta(block.data);
	growing = VdbAddSegment(index, meta);
	segid = meta->next_segid++;
	growing->segid = segid;
	growing->state = VDB_SEGMENT_GROWING;
	growing->generation = 1;
	growing->head = growing->tail = VDB_IVF_METAPAGE_BLKNO + 1;
	growing->npages = 1;
	AppendPage(index, INIT_FORKNUM, block.data, true);

	VdbInitPage(block.data, VDB_PAGE_GROWING, segid, 1);
	AppendPage(index, INIT_FORKNUM, block.data, true);
}
