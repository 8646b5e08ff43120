/*
 * worker.h
 *	  The sealing background worker: launching sealers at freeze time and
 *	  yielding to waiting lock requests while sealing.
 */
#ifndef VDB_WORKER_H
#define VDB_WORKER_H

#include "fmgr.h"
#include "utils/relcache.h"

/* Settings (src/worker.c). */
extern bool vdb_auto_seal;
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
 * A point in the seal code where a background sealer may sleep (test
 * setting) or give up its work to a waiting lock request (it raises an
 * error then).  Does nothing outside a background sealer.
 */
extern void VdbSealYield(void);

/* Entry point of a sealer process (bgw_function_name). */
extern PGDLLEXPORT void VdbSealerMain(Datum main_arg);

#endif							/* VDB_WORKER_H */
