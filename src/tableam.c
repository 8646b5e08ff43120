/*
 * tableam.c
 *	  The vdb table access method: heap tuples, growth-partitioned placement.
 *
 * A vdb table stores ordinary heap tuples: every callback is heapam's except
 * the few that decide where a new row goes and the few that heapam refuses to
 * run for a routine that is not its own.  MVCC, TOAST, WAL, VACUUM, logical
 * decoding and pg_dump therefore behave exactly as for heap.  Where new rows
 * go (growth partitioning) is tableam_insert.c's business; this file holds
 * the handler and the index build scans.
 *
 * UPDATE is heapam's (P6): the new version stays on the old page when it
 * fits (HOT when no indexed column changed), otherwise heapam takes any page
 * the free space map offers, small holes included.  Segment membership of a
 * row lives in the vdb_ivf index (insertion order), not in the heap block
 * number, so this costs locality only, never correctness.
 *
 * VACUUM is heapam's, truncation included (P7): block numbers carry no
 * meaning for the index, so letting VACUUM give empty tail pages back to the
 * operating system is pure gain.  For the same reason TRUNCATE, CLUSTER and
 * VACUUM FULL need no table-side state reset (P10).
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/tableam.h"
#include "catalog/index.h"
#include "catalog/pg_am_d.h"
#include "fmgr.h"
#include "nodes/execnodes.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/rel.h"

#include "tableam.h"
#include "vdb.h"

PG_FUNCTION_INFO_V1(vdb_tableam_handler);

/* heapam's routine, and ours: a copy of it with the overrides below */
const TableAmRoutine *vdb_heap_routine = NULL;
static TableAmRoutine vdb_routine;

/*
 * The relation whose rd_tableam currently points at heapam's routine because
 * an index build or validation scan is running on it (see
 * vdb_index_build_range_scan).
 */
static Relation heap_scan_rel = NULL;

/*
 * The TOAST table of a vdb table is a plain heap table (pitfall P2):
 * heapam's default would give it our AM, and its index build would fail.
 */
static Oid
vdb_relation_toast_am(Relation rel)
{
	return HEAP_TABLE_AM_OID;
}

/*
 * Keep the heapam routine installed on the relation being scanned by an
 * index build when its relcache entry is rebuilt mid-scan.
 *
 * Runs right after the relcache has processed an invalidation for "relid"
 * (InvalidOid: all relations); a rebuild recomputes rd_tableam from pg_am,
 * which would put our routine back and make heap_getnext fail.
 */
static void
RestoreHeapRoutineCallback(Datum arg, Oid relid)
{
	if (heap_scan_rel != NULL &&
		(relid == InvalidOid || relid == RelationGetRelid(heap_scan_rel)) &&
		heap_scan_rel->rd_tableam != vdb_heap_routine)
	{
		heap_scan_rel->rd_tableam = vdb_heap_routine;
		elog(DEBUG1, "vdb: heap scan routine of \"%s\" reinstated after a relcache rebuild",
			 RelationGetRelationName(heap_scan_rel));
	}
}

/*
 * CREATE INDEX, REINDEX and CLUSTER's index rebuild: heapam's build scan.
 *
 * heapam's scan calls heap_getnext, which refuses any relation whose
 * rd_tableam is not heapam's own routine (pitfall P1).  Our routine is a
 * copy, so for the duration of the scan the relation is switched to heapam's
 * routine: the two are identical for reading, the scan sees the same tuples.
 * The switch is undone on exit, error or not.  A relcache rebuild during the
 * scan would silently undo it: a catalog change to the table committed by
 * another session (GRANT runs concurrently with any build; COMMENT and
 * ANALYZE can slip in between the phases of CONCURRENTLY) is processed at
 * the builder's next lock acquisition, for instance while it evaluates an
 * index expression.  The relcache callback above therefore reinstates the
 * switch; test/t/020_tableam_build_inval.pl checks this under a stream of
 * such changes, and fails without the callback.  Writing our own scan
 * instead would mean maintaining a second copy of heapam's HOT-chain logic.
 */
static double
vdb_index_build_range_scan(Relation table_rel, Relation index_rel,
						   IndexInfo *index_info, bool allow_sync,
						   bool anyvisible, bool progress,
						   BlockNumber start_blockno, BlockNumber numblocks,
						   IndexBuildCallback callback, void *callback_state,
						   TableScanDesc scan)
{
	Relation	outer = heap_scan_rel;
	double		reltuples = 0;

	table_rel->rd_tableam = vdb_heap_routine;
	heap_scan_rel = table_rel;
	PG_TRY();
	{
		reltuples = vdb_heap_routine->index_build_range_scan(table_rel,
															 index_rel,
															 index_info,
															 allow_sync,
															 anyvisible,
															 progress,
															 start_blockno,
															 numblocks,
															 callback,
															 callback_state,
															 scan);
	}
	PG_FINALLY();
	{
		heap_scan_rel = outer;
		table_rel->rd_tableam = &vdb_routine;
	}
	PG_END_TRY();
	return reltuples;
}

/*
 * CREATE INDEX CONCURRENTLY's validation pass: heapam's, with the routine
 * switched as for the build scan.
 */
static void
vdb_index_validate_scan(Relation table_rel, Relation index_rel,
						IndexInfo *index_info, Snapshot snapshot,
						ValidateIndexState *state)
{
	Relation	outer = heap_scan_rel;

	table_rel->rd_tableam = vdb_heap_routine;
	heap_scan_rel = table_rel;
	PG_TRY();
	{
		vdb_heap_routine->index_validate_scan(table_rel, index_rel, index_info,
											  snapshot, state);
	}
	PG_FINALLY();
	{
		heap_scan_rel = outer;
		table_rel->rd_tableam = &vdb_routine;
	}
	PG_END_TRY();
}

/*
 * The table AM handler: heapam's routine with our overrides, built once.
 */
Datum
vdb_tableam_handler(PG_FUNCTION_ARGS)
{
	if (vdb_heap_routine == NULL)
	{
		vdb_heap_routine = GetHeapamTableAmRoutine();
		vdb_routine = *vdb_heap_routine;
		vdb_routine.tuple_insert = vdb_tuple_insert;
		vdb_routine.tuple_insert_speculative = vdb_tuple_insert_speculative;
		vdb_routine.multi_insert = vdb_multi_insert;
		vdb_routine.relation_toast_am = vdb_relation_toast_am;
		vdb_routine.index_build_range_scan = vdb_index_build_range_scan;
		vdb_routine.index_validate_scan = vdb_index_validate_scan;
	}
	PG_RETURN_POINTER(&vdb_routine);
}

/*
 * Register the table AM's settings and its relcache callback.
 */
void
TableamInit(void)
{
	DefineCustomRealVariable("vdb.reuse_free_fraction",
							 "Fraction of a page that must be free for INSERT and COPY to reuse it in a vdb table.",
							 "Pages with less free space are left to UPDATE; new rows go to the tail instead.  "
							 "0 reuses any hole a row fits in, as heap does; 1 reuses only empty pages.",
							 &vdb_reuse_free_fraction,
							 0.25, 0.0, 1.0,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);
	CacheRegisterRelcacheCallback(RestoreHeapRoutineCallback, (Datum) 0);
}
