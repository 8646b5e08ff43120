/*
 * ivf_scan.h
 *	  vdb_ivf scan side: the per-backend centroid cache and scan settings.
 *
 * The on-disk format and the entry points shared with the write side are in
 * ivf.h; this header holds what only the scan and cost code use.
 */
#ifndef VDB_IVF_SCAN_H
#define VDB_IVF_SCAN_H

#include "ivf.h"

/*
 * What the scan needs of one sealed segment besides its posting pages: the
 * centroids (contiguous, nlists x dim) and the list table.  Built from the
 * segment's header and centroid pages once per backend and kept until the
 * directory no longer names the same (segid, generation, head, nlists).
 */
typedef struct VdbCachedSegment
{
	uint32		segid;
	uint32		generation;
	BlockNumber head;			/* first block of the run */
	BlockNumber npages;			/* run length */
	VdbRunMap	run;			/* run offsets to blocks */
	uint32		nlists;
	int			dim;
	float	   *centroids;		/* nlists x dim */
	float	   *centroid_norms; /* squared L2 norm of each centroid */
	BlockNumber *list_start;	/* offset of each list's pages in the run */
	BlockNumber *list_npages;
	BlockNumber *list_ncode_pages;	/* of those, code pages (0: no codes) */
	uint32	   *list_nentries;	/* as written at seal time */
	/* SQ8 codes (format 2); has_codes false for a format 1 segment */
	bool		has_codes;
	float	   *sq_offset;		/* dim offsets */
	float	   *sq_scale;		/* dim scales */
	float		sq_span;		/* |255 * scale|: largest |scale * code| */
	float		max_norm;		/* largest |x| of an entry */
	/* L2 with one scale: SQ8 codes of the centroids, for ranking (sq8.h) */
	bool		rank_codes;
	float	   *cq_offset;		/* dim offsets */
	float	   *cq_scale;		/* dim scales, all equal */
	float		cq_span;
	float		cq_max_norm;
	uint8	   *ccodes;			/* nlists x dim */
	float	   *cerrors;		/* nlists */
} VdbCachedSegment;

/* An interim assignment of growing entries: (sealed segment, list). */
typedef struct VdbAssignment
{
	uint32		segid;
	uint32		list;
} VdbAssignment;

/* What one full page of a growing or frozen chain holds. */
typedef struct VdbChainSummaryPage
{
	BlockNumber blkno;
	BlockNumber nextblkno;
	uint32		first;			/* its assignments: assignments[first ..] */
	uint16		nassignments;	/* distinct ones on the page */
	uint16		nentries;		/* entries when summarized */
} VdbChainSummaryPage;

/*
 * The assignments found on each full page of a growing or frozen chain, in
 * chain order, so that a scan reads only the pages holding entries of the
 * lists it probes.  Only pages that are no longer the tail are summarized:
 * aminsert appends to the tail alone, so a full page can only lose entries
 * (VACUUM), and its summary stays a superset of what it holds.
 */
typedef struct VdbChainSummary
{
	uint32		segid;
	uint32		generation;
	BlockNumber head;
	int			npages;
	int			pages_capacity;
	VdbChainSummaryPage *pages;
	uint32		nassignments;
	uint32		assignments_capacity;
	VdbAssignment *assignments;
	MemoryContext cxt;			/* where the arrays grow */
} VdbChainSummary;

/*
 * Rows a scan's first batch (vdb.probes lists) is trusted for: the k that
 * vdb.probes is tuned for.  Deeper rows (a filter, a larger LIMIT) are
 * guarded by the scan's distance rule; the cost model follows it.
 */
#define VDB_TRUSTED_ROWS	10

/* Settings registered by IvfScanInit(). */
extern int	vdb_max_probes;

/* src/ivf_scan.c */
extern void IvfScanInit(void);
extern void VdbCheckSegmentPage(Relation index, Page page, BlockNumber blkno,
								uint32 segid, uint32 generation, uint16 flags);

/* src/ivf_cache.c */
extern const VdbCachedSegment *VdbGetCachedSegment(Relation index,
												   const VdbSegmentData *seg,
												   int dim);

extern VdbChainSummary *VdbGetChainSummary(Relation index,
											const VdbSegmentData *seg);
extern void VdbChainSummaryAdd(VdbChainSummary *summary, BlockNumber blkno,
							   BlockNumber nextblkno,
							   const VdbAssignment *assignments,
							   int nassignments, int nentries);

#endif							/* VDB_IVF_SCAN_H */
