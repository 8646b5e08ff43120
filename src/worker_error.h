/*
 * worker_error.h
 *	  The background sealer's last error per index, kept in the extension's
 *	  table vdb_sealer_last_error and shown by vdb_stats.
 */
#ifndef VDB_WORKER_ERROR_H
#define VDB_WORKER_ERROR_H

#include "utils/elog.h"

/*
 * Record a sealer's error for an index in a transaction of its own (call
 * with none open).
 */
extern void VdbSealerRecordError(Oid indexoid, const ErrorData *edata,
								 const char *activity);

/* Forget an index's error, in the transaction that sealed or merged. */
extern void VdbSealerClearError(Oid indexoid);

#endif							/* VDB_WORKER_ERROR_H */
