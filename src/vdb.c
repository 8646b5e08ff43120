/*
 * vdb.c
 *	  Extension entry point.
 *
 * vdb is loaded on demand by the backends that use it; it needs no
 * shared_preload_libraries.  _PG_init therefore only chooses the distance
 * kernels for this CPU and registers each part's settings.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "vdb.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/*
 * Called once when the library is loaded into a backend.
 */
void
_PG_init(void)
{
	DistanceInit();
	TableamInit();
	IvfInit();
	WorkerInit();
	DebugInit();

	/* Reject misspelt vdb.* settings instead of keeping them as placeholders. */
	MarkGUCPrefixReserved("vdb");
}
