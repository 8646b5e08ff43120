/*
 * tableam.h
 *	  Shared by the files of the vdb table access method.
 */
#ifndef VDB_TABLEAM_H
#define VDB_TABLEAM_H

#include "access/tableam.h"

/* heapam's routine, which vdb's delegates to (tableam.c) */
extern const TableAmRoutine *vdb_heap_routine;

/* vdb.reuse_free_fraction (tableam_insert.c) */
extern double vdb_reuse_free_fraction;

/* The insert callbacks, which place rows before heapam inserts them */
extern void vdb_tuple_insert(Relation rel, TupleTableSlot *slot,
							 CommandId cid, int options,
							 BulkInsertState bistate);
extern void vdb_tuple_insert_speculative(Relation rel, TupleTableSlot *slot,
										 CommandId cid, int options,
										 BulkInsertState bistate,
										 uint32 specToken);
extern void vdb_multi_insert(Relation rel, TupleTableSlot **slots,
							 int ntuples, CommandId cid, int options,
							 BulkInsertState bistate);

#endif							/* VDB_TABLEAM_H */
