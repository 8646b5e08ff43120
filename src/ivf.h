/*
 * ivf.h
 *	  The vdb_ivf index access method: on-disk format, shared declarations.
 *
 * One index relation holds every segment of one indexed column:
 *
 *	block 0				metapage: format version, options in effect, and the
 *						segment directory (one VdbSegmentData per segment)
 *	growing segment		a chain of pages (linked by nextblkno) that aminsert
 *						appends (heap TID, vector) entries to, in insertion order
 *	frozen segment		a former growing segment waiting to be sealed; its chain
 *						is read-only
 *	sealed segment		a run of npages pages, made of one or more extents of
 *						contiguous blocks (pages freed by dropped segments
 *						are reused, see ivf_space.c); run offsets map to
 *						blocks through VdbRunBlock:
 *						  run block 0	VdbSealedHeaderData (one item, with
 *										the extents; block head)
 *						  centroid pages: one VdbListData item per list, in
 *										list order, each with its centroid
 *						  posting pages: each list's entries on a contiguous
 *										sub-run of pages, lists in list order
 *
 * Every page but the metapage carries (segid, generation) in its special
 * space, so a scan that follows a page can tell whether it still belongs to
 * the segment the scan read from the directory (pages of a dropped segment
 * may be reused later, see DESIGN.md "Page reuse").
 *
 * Lock order: the metapage before any segment page; within a growing chain,
 * pages in chain order.  aminsert takes the metapage share-locked only to
 * read the tail, and exclusively only to move the tail to a new page.
 * Directory changes (freeze, publish, drop) hold the metapage exclusively
 * for one WAL record.
 *
 * All writes are WAL-logged: generic WAL for changes to existing pages (at
 * most 4 pages per record: MAX_GENERIC_XLOG_PAGES), log_newpage for page runs
 * built in local memory by a seal.
 */
#ifndef VDB_IVF_H
#define VDB_IVF_H

#include "access/amapi.h"
#include "access/generic_xlog.h"
#include "access/itup.h"
#include "nodes/execnodes.h"
#include "nodes/pathnodes.h"
#include "storage/bufpage.h"
#include "utils/relcache.h"
#include "utils/timestamp.h"

#define VDB_IVF_MAGIC			0x76646269	/* "vdbi" */
#define VDB_IVF_VERSION			2	/* 2: sealed runs made of extents */
#define VDB_IVF_METAPAGE_BLKNO	0
#define VDB_IVF_PAGE_ID			0xFF8D

/* Full-precision vectors must fit, several to a page (DESIGN.md). */
#define VDB_IVF_MAX_DIM			2000

/* Distance kinds: which kernel and which k-means the opclass means. */
typedef enum VdbDistanceKind
{
	VDB_DISTANCE_L2 = 1,		/* vector_l2_ops: squared L2 */
	VDB_DISTANCE_IP = 2,		/* vector_ip_ops: negative inner product */
	VDB_DISTANCE_COSINE = 3		/* vector_cosine_ops: vectors stored normalized,
								 * negative inner product */
} VdbDistanceKind;

/* Segment states (DESIGN.md "Segment lifecycle"). */
typedef enum VdbSegmentState
{
	VDB_SEGMENT_UNUSED = 0,		/* free directory slot */
	VDB_SEGMENT_GROWING = 1,	/* appended to by aminsert */
	VDB_SEGMENT_FROZEN = 2,		/* full, read-only, waiting to be sealed */
	VDB_SEGMENT_SEALED = 3,		/* IVF page run, read-only but for VACUUM */
	VDB_SEGMENT_DROPPED = 4		/* replaced (sealed or merged away); pages
								 * reclaimable once reclaim_after is older
								 * than every snapshot */
} VdbSegmentState;

/* Page types, in VdbPageOpaqueData.flags. */
#define VDB_PAGE_META			0x0001
#define VDB_PAGE_GROWING		0x0002	/* growing or frozen chain page */
#define VDB_PAGE_SEALED_HEADER	0x0004
#define VDB_PAGE_CENTROID		0x0008
#define VDB_PAGE_POSTING		0x0010

/* Special space of every page. */
typedef struct VdbPageOpaqueData
{
	BlockNumber nextblkno;		/* growing chain link, else InvalidBlockNumber */
	uint32		segid;			/* owning segment, 0 on the metapage */
	uint32		generation;		/* segment generation the page was written for */
	uint16		flags;			/* VDB_PAGE_* */
	uint16		page_id;		/* VDB_IVF_PAGE_ID, identifies vdb_ivf pages */
} VdbPageOpaqueData;

typedef VdbPageOpaqueData *VdbPageOpaque;

#define VdbPageGetOpaque(page) ((VdbPageOpaque) PageGetSpecialPointer(page))

/*
 * One segment in the directory.
 *
 * For a growing or frozen segment, head/tail are the first and last page of
 * its chain.  For a sealed segment, head is the first block of its run and
 * npages the run length.
 */
typedef struct VdbSegmentData
{
	uint32		segid;			/* unique within the index, never reused */
	uint16		state;			/* VdbSegmentState */
	uint16		flags;			/* reserved, 0 */
	uint32		generation;		/* bumped each time the segment's pages change
								 * identity (seal, rebuild) */
	uint32		nlists;			/* sealed: number of lists */
	BlockNumber head;
	BlockNumber tail;
	BlockNumber npages;
	uint32		nrows;			/* entries written (live + dead) */
	uint32		ndead;			/* entries removed by VACUUM */
	BlockNumber heap_min;		/* lowest heap block of an entry (information) */
	BlockNumber heap_max;		/* highest heap block of an entry */
	TimestampTz sealed_at;		/* 0 unless sealed */
	FullTransactionId reclaim_after;	/* dropped: reuse pages once older than
										 * every snapshot */
} VdbSegmentData;

typedef VdbSegmentData *VdbSegment;

/* The metapage (block 0). */
typedef struct VdbMetaPageData
{
	uint32		magic;			/* VDB_IVF_MAGIC */
	uint32		version;		/* VDB_IVF_VERSION: on-disk format */
	uint16		dimensions;
	uint16		kind;			/* VdbDistanceKind */
	uint32		segment_rows;	/* a growing segment freezes at this many rows */
	uint32		lists;			/* lists per sealed segment, 0 = automatic */
	uint32		next_segid;
	uint32		seal_version;	/* bumped whenever the set of sealed segments
								 * changes: key for per-backend caches */
	uint32		nsegments;		/* directory slots in use (any state) */
	VdbSegmentData segments[FLEXIBLE_ARRAY_MEMBER];
} VdbMetaPageData;

typedef VdbMetaPageData *VdbMetaPage;

#define VdbPageGetMeta(page)	((VdbMetaPage) PageGetContents(page))

/* How many segments the metapage directory holds. */
#define VDB_MAX_SEGMENTS \
	((BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - MAXALIGN(sizeof(VdbPageOpaqueData)) \
	  - MAXALIGN(offsetof(VdbMetaPageData, segments))) / sizeof(VdbSegmentData))

/*
 * An entry on a growing or frozen segment page (one line pointer each).
 *
 * assign_segid/assign_list: the interim assignment of the row to the
 * nearest centroid of the newest sealed segment at insert time (0/0 when no
 * sealed segment existed), so scans need not brute-force growing rows.
 */
typedef struct VdbGrowingEntryData
{
	ItemPointerData tid;		/* heap TID */
	uint16		unused;
	uint32		assign_segid;
	uint32		assign_list;
	float		x[FLEXIBLE_ARRAY_MEMBER];	/* normalized for cosine */
} VdbGrowingEntryData;

typedef VdbGrowingEntryData *VdbGrowingEntry;

#define VDB_GROWING_ENTRY_SIZE(dim) \
	MAXALIGN(offsetof(VdbGrowingEntryData, x) + sizeof(float) * (dim))

/* A range of contiguous blocks holding part of a sealed run. */
typedef struct VdbRunExtentData
{
	BlockNumber start;			/* first block */
	BlockNumber npages;
} VdbRunExtentData;

/*
 * The single item on block 0 of a sealed segment's run.
 *
 * Format 2 lists the run's extents in run order: run offset 0 is the first
 * block of extents[0] (the directory's head), and offsets continue through
 * each extent in turn.  A format 1 header ends before nextents; its run is
 * the single extent [head, head + npages).
 */
typedef struct VdbSealedHeaderData
{
	uint32		segid;
	uint32		generation;
	uint32		nlists;
	uint32		nrows;
	uint16		dimensions;
	uint16		kind;
	BlockNumber centroid_start; /* offset in the run of the first centroid page */
	BlockNumber ncentroid_pages;
	BlockNumber posting_start;	/* offset in the run of the first posting page */
	BlockNumber nposting_pages;
	uint32		nextents;		/* format 2 */
	VdbRunExtentData extents[FLEXIBLE_ARRAY_MEMBER];
} VdbSealedHeaderData;

/* How many extents a header item can list (it must fit on its page). */
#define VDB_MAX_RUN_EXTENTS \
	((BLCKSZ - MAXALIGN(SizeOfPageHeaderData + sizeof(ItemIdData)) \
	  - MAXALIGN(sizeof(VdbPageOpaqueData)) \
	  - MAXALIGN(offsetof(VdbSealedHeaderData, extents))) / sizeof(VdbRunExtentData))

/*
 * A sealed run's extents in memory, with the run offset at which each
 * begins, for VdbRunBlock.
 */
typedef struct VdbRunMap
{
	uint32		nextents;
	VdbRunExtentData *extents;
	BlockNumber *offsets;		/* run offset of each extent's first block */
	BlockNumber npages;			/* pages in the run */
} VdbRunMap;

/*
 * One list of a sealed segment (one item per list on centroid pages, lists
 * in order).  Its entries are on run offsets [start, start + npages), in no
 * particular order.
 */
typedef struct VdbListData
{
	BlockNumber start;
	BlockNumber npages;
	uint32		nentries;		/* written at seal time (VACUUM may remove some) */
	uint32		unused;
	float		centroid[FLEXIBLE_ARRAY_MEMBER];
} VdbListData;

typedef VdbListData *VdbList;

#define VDB_LIST_SIZE(dim) \
	MAXALIGN(offsetof(VdbListData, centroid) + sizeof(float) * (dim))

/* An entry on a posting page (one line pointer each): full precision. */
typedef struct VdbPostingEntryData
{
	ItemPointerData tid;
	uint16		unused;
	float		x[FLEXIBLE_ARRAY_MEMBER];	/* normalized for cosine */
} VdbPostingEntryData;

typedef VdbPostingEntryData *VdbPostingEntry;

#define VDB_POSTING_ENTRY_SIZE(dim) \
	MAXALIGN(offsetof(VdbPostingEntryData, x) + sizeof(float) * (dim))

/* Index options (reloptions). */
typedef struct VdbIvfOptions
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	int			segment_rows;	/* rows per growing segment before it freezes */
	int			lists;			/* lists per sealed segment, 0 = automatic */
} VdbIvfOptions;

/* Settings (src/ivf.c). */
extern int	vdb_probes;

/*
 * What the last index scan in this backend did (vdb_last_scan()).
 */
typedef struct VdbScanStats
{
	int64		segments;		/* segments searched */
	int64		lists_probed;	/* lists whose entries were read */
	int64		entries_scanned;	/* entries whose distance was computed */
	int64		entries_total;	/* entries in the index when the scan began */
	int64		widenings;		/* times the scan probed more lists */
	int64		skipped_for_order;	/* found after widening but nearer than a
									 * row already returned */
	int64		returned;		/* rows handed to the executor */
} VdbScanStats;

extern VdbScanStats vdb_last_scan_stats;

/* src/ivf.c: handler, options, settings */
extern void IvfInit(void);
extern bytea *ivfoptions(Datum reloptions, bool validate);
extern bool ivfvalidate(Oid opclassoid);
extern VdbDistanceKind VdbGetDistanceKind(Relation index);

/* src/segment.c: the directory and page helpers */
extern Buffer VdbNewBuffer(Relation index, ForkNumber forknum);
extern void VdbInitPage(Page page, uint16 flags, uint32 segid, uint32 generation);
extern VdbMetaPage VdbCopyMeta(Relation index);
extern bool VdbPrepareVector(VdbDistanceKind kind, float *x, int dim);

/* src/ivf_space.c: free pages, sealed runs, reclaiming dropped segments */
extern Buffer VdbAllocPage(Relation index, VdbMetaPage meta);
extern void VdbAllocateRun(Relation index, BlockNumber npages, VdbRunMap *map);
extern bool VdbParseRunHeader(Page page, const VdbSegmentData *seg,
							  VdbSealedHeaderData *header, VdbRunMap *map);
extern void VdbReadRunHeader(Relation index, const VdbSegmentData *seg,
							 bool scan, VdbSealedHeaderData *header,
							 VdbRunMap *map);
extern BlockNumber VdbRunBlockSlow(const VdbRunMap *map, BlockNumber offset);
extern int	VdbReclaimSegments(Relation index);
extern BlockNumber VdbSweepFreePages(Relation index, BufferAccessStrategy strategy);

/*
 * The block at a run offset.
 */
static inline BlockNumber
VdbRunBlock(const VdbRunMap *map, BlockNumber offset)
{
	if (likely(map->nextents == 1 && offset < map->npages))
		return map->extents[0].start + offset;
	return VdbRunBlockSlow(map, offset);
}

/* src/ivf_build.c */
extern IndexBuildResult *ivfbuild(Relation heap, Relation index, IndexInfo *indexInfo);
extern void ivfbuildempty(Relation index);

/* src/ivf_insert.c */
extern bool ivfinsert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid,
					  Relation heap, IndexUniqueCheck checkUnique,
					  bool indexUnchanged, IndexInfo *indexInfo);

/* src/ivf_scan.c */
extern IndexScanDesc ivfbeginscan(Relation index, int nkeys, int norderbys);
extern void ivfrescan(IndexScanDesc scan, ScanKey keys, int nkeys,
					  ScanKey orderbys, int norderbys);
extern bool ivfgettuple(IndexScanDesc scan, ScanDirection dir);
extern void ivfendscan(IndexScanDesc scan);

/* src/ivf_cost.c */
extern void ivfcostestimate(PlannerInfo *root, IndexPath *path, double loop_count,
							Cost *indexStartupCost, Cost *indexTotalCost,
							Selectivity *indexSelectivity, double *indexCorrelation,
							double *indexPages);

/* src/ivf_vacuum.c */
extern IndexBulkDeleteResult *ivfbulkdelete(IndexVacuumInfo *info,
											IndexBulkDeleteResult *stats,
											IndexBulkDeleteCallback callback,
											void *callback_state);
extern IndexBulkDeleteResult *ivfvacuumcleanup(IndexVacuumInfo *info,
											   IndexBulkDeleteResult *stats);

#endif							/* VDB_IVF_H */
