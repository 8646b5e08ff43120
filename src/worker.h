/*
 * worker.h
 *	  The sealing background worker: launching sealers at freeze time and
 *	  yielding to waiting lock requests while sealing.
 */
#ifndef VDB_WORKER_H
#define VDB_WORKER_H

#include "fmgr.h"
#include "utils/relcache.h"

#include "ivf.h"

/* Settings (src/worker.c). */
extern bool vdb_auto_seal;
extern bool vdb_auto_merge;
extern int	vdb_max_sealers;
extern int	vdb_seal_delay;

extern void WorkerInit(void);

/*
 * Ask for the frozen segments of an index to be sealed: by a background
 * sealer, or inline for a TEMP index.  Called by aminsert when it froze a
 * segment and by amvacuumcleanup when frozen segments are left over.
 */
extern void VdbRequestSeal(Relation heap, Relation index);

/*
 * aminsert found a frozen segment in the directory: have it sealed if no
 * sealer works on the index (one left behind by a sealer that gave up).
 * Asks at most once a second per index and backend.
 */
extern void VdbNoticeFrozen(Relation heap, Relation index);

/*
 * Whether a background sealer is sealing or merging a segment now (for
 * vdb_segments); never waits, never takes a lock.
 */
extern bool VdbSegmentBusy(Oid indexoid, uint32 segid);
extern void VdbMarkSegmentBusy(Oid indexoid, uint32 segid);

/*
 * A point in the seal code where a background sealer may sleep (test
 * setting) or give up its work to a waiting lock request (it raises an
 * error then).  Does nothing outside a background sealer.
 */
extern void VdbSealYield(void);

/* src/worker_merge.c: merge compaction of sealed segments. */
extern int	VdbFindMergeGroup(VdbMetaPage meta, VdbSegmentData *group);
extern uint64 VdbMergeSegments(Relation index, const VdbSegmentData *group, int ngroup);

/* Entry point of a sealer process (bgw_function_name). */
extern PGDLLEXPORT void VdbSealerMain(Datum main_arg);

#endif							/* VDB_WORKER_H */
