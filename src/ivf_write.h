/*
 * ivf_write.h
 *	  Declarations private to the write side of vdb_ivf: directory changes,
 *	  page runs, sealing.  The on-disk format itself is in ivf.h.
 */
#ifndef VDB_IVF_WRITE_H
#define VDB_IVF_WRITE_H

#include "storage/block.h"
#include "storage/buf.h"
#include "storage/itemptr.h"
#include "utils/rel.h"

#include "ivf.h"

/* Defaults and limits of the index options. */
#define VDB_DEFAULT_SEGMENT_ROWS	100000
#define VDB_MIN_SEGMENT_ROWS		1000
#define VDB_MAX_SEGMENT_ROWS		10000000
#define VDB_MAX_LISTS				32768

/* Build sub-phases reported in pg_stat_progress_create_index. */
#define VDB_PHASE_LOAD			2
#define VDB_PHASE_KMEANS		3
#define VDB_PHASE_WRITE			4

/* src/ivf.c */
extern int	VdbGetSegmentRows(Relation index);
extern int	VdbGetLists(Relation index);
extern int	VdbGetIndexDimensions(Relation index);

/* src/segment.c */
extern void VdbCheckMeta(Relation index, VdbMetaPage meta);
extern VdbSegment VdbFindGrowing(VdbMetaPage meta);
extern VdbSegment VdbFindSegment(VdbMetaPage meta, uint32 segid);
extern void VdbTooManySegments(Relation index) pg_attribute_noreturn();
extern int	VdbDirectoryRoom(VdbMetaPage meta);
extern VdbSegment VdbAddSegment(Relation index, VdbMetaPage meta);
extern void VdbMetaSetLower(Page page);
extern void VdbInitMetaPage(Page page, int dim, VdbDistanceKind kind,
							int segment_rows, int lists);
extern void VdbWriteNewPage(Relation index, ForkNumber forknum,
							BlockNumber blkno, Page src, bool force_wal);
extern uint32 VdbReserveSegid(Relation index);
extern void VdbCountGrowingPage(Page page, VdbSegment seg);
extern void VdbGrowNewPage(Relation index, Buffer metabuf, Buffer tailbuf,
						   bool freeze, Item entry, Size entry_size);
extern bool VdbFreezeGrowing(Relation index);
extern void VdbCheckPageStamp(Relation index, Page page, BlockNumber blkno,
							  uint32 segid, uint32 generation, uint16 flags);
extern bool VdbPageStampMatches(Page page, uint32 segid, uint32 generation,
								uint16 flags);
extern bool VdbPrepareDatum(Datum value, int dim, VdbDistanceKind kind, float *x);
extern float *VdbNormsOf(const float *x, int n, int dim);
extern int	VdbNearestCentroid(VdbDistanceKind kind, const float *x, int dim,
							   const float *centroids, const float *norms, int k,
							   float *dots);

/* src/ivf_seal.c */
typedef struct VdbSealer VdbSealer;

extern VdbSealer *VdbSealerCreate(Relation index, int dim, VdbDistanceKind kind,
								  int capacity, int lists, bool publish_each);
extern void VdbSealerMarkMerge(VdbSealer *sealer);
extern void VdbSealerAdd(VdbSealer *sealer, ItemPointer tid, const float *x);
extern int	VdbSealerRows(VdbSealer *sealer);
extern void VdbSealerSealPiece(VdbSealer *sealer, int nrows);
extern void VdbSealerFree(VdbSealer *sealer);
extern VdbSegmentData *VdbSealerSealed(VdbSealer *sealer, int *nsealed);
extern int	VdbSealerMaxRows(int dim);
extern void VdbWriteGrowingChain(Relation index, VdbSealer *sealer);
extern int	VdbSealFrozen(Relation heap, Relation index, uint32 segid);
extern int	VdbSealIndex(Relation heap, Relation index, bool freeze_growing);


#endif							/* VDB_IVF_WRITE_H */
