/*
 * worker.c
 *	  The sealing background worker.
 *
 * When aminsert freezes a growing segment (or VACUUM finds frozen segments
 * left behind by a crash or an abandoned seal), the backend launches a
 * dynamic background worker that seals the index's frozen segments, one
 * transaction per segment, and exits.  vdb is not preloaded, so there is no
 * shared memory to coordinate through; locks do the job instead:
 *
 *	slot locks		advisory locks (database 0, slot number) taken with a
 *					try-lock: at most vdb.max_sealers sealers in the whole
 *					cluster; a sealer that finds no free slot exits at once
 *	index lock		an advisory lock (database, index OID) taken with a
 *					try-lock: one sealer per index; a second one exits
 *	segment locks	an advisory lock (database, segment id, index OID) per
 *					segment being sealed or merged, held for the
 *					transaction that does it; nobody waits for one:
 *					vdb_segments looks them up to report 'sealing' and
 *					'merging' (VdbSegmentBusy)
 *
 * All are in a vdb-specific key space (locktag_field4 = VDB_LOCK_SPACE;
 * the SQL advisory lock functions use 1 and 2), so they cannot collide
 * with user keys; slot and index locks are session locks, which survive
 * the sealer's transactions.  The launching backend tries both first and
 * launches nothing when a sealer already works on the index or every slot
 * is taken.
 *
 * While sealing, the worker holds ShareUpdateExclusiveLock on the table,
 * taken conditionally: INSERT, UPDATE, DELETE and SELECT go on, VACUUM and
 * other sealers (vdb_seal included) are kept out, which VACUUM must be
 * (P18).  Because a DDL lock request queued behind the sealer would make
 * every later writer queue behind it too, the seal code calls
 * VdbSealYield() between steps, and the worker gives up (the transaction
 * aborts, nothing is published, the segment stays frozen) as soon as
 * anyone waits for a lock that conflicts with its own.  It then sleeps and
 * retries a bounded number of times.  If it gave up for good, the next
 * freeze or VACUUM launches a new sealer, and so does the next insert
 * into the index (VdbNoticeFrozen).
 *
 * A seal or merge that fails with an error is rolled back and logged, and
 * the error is recorded for the index where vdb_stats shows it
 * (worker_error.c); the sealer then leaves the index to the next trigger.
 * Its next successful seal or merge of the index clears the error.
 *
 * Once an index has no frozen segment left, the sealer merges runs of
 * small sealed segments and rebuilds mostly dead ones (worker_merge.c,
 * vdb.auto_merge), one group per transaction, under the same locks.
 *
 * After its last segment the worker releases the index lock and looks for
 * work once more: a backend that froze a segment while the index lock was
 * held launched nothing, and the freeze is visible by then.  Then it goes
 * through the database's other vdb_ivf indexes, whose freezes may have
 * found every slot taken.
 *
 * TEMP indexes live in local buffers that no other process can read: the
 * inserting backend seals them inline.  On a standby nothing is launched
 * (and BgWorkerStart_RecoveryFinished keeps a sealer from starting there).
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/parallel.h"
#include "access/relation.h"
#include "access/tableam.h"
#include "access/table.h"
#include "access/transam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/index.h"
#include "catalog/pg_class.h"
#include "commands/defrem.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "portability/instr_time.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "tcop/tcopprot.h"
#include "lib/stringinfo.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "ivf.h"
#include "ivf_write.h"
#include "worker.h"
#include "worker_error.h"

/* locktag_field4 of vdb's advisory locks (ASCII "vd"). */
#define VDB_LOCK_SPACE			0x7664
/* locktag_field3: which kind of vdb lock. */
#define VDB_LOCK_SLOT			1
#define VDB_LOCK_INDEX			2

/*
 * A segment lock has the index OID in locktag_field3, where the slot and
 * index locks have their kind: index OIDs are at least
 * FirstNormalObjectId, so the two never meet.
 */
StaticAssertDecl(VDB_LOCK_SLOT < FirstNormalObjectId &&
				 VDB_LOCK_INDEX < FirstNormalObjectId,
				 "vdb lock kinds must stay below the OIDs of user relations");

/* How often one backend's inserts may ask for a leftover frozen segment. */
#define VDB_NOTICE_INTERVAL_MS	1000
#define VDB_NOTICE_INDEXES		8

#define VDB_MAX_SEALERS_LIMIT	64

/* How often a sealer retries when the table is busy, and how long it waits. */
#define VDB_SEAL_ATTEMPTS		10
#define VDB_SEAL_BACKOFF_MS		1000
#define VDB_SEAL_MAX_BACKOFF_MS 5000

/* Settings. */
bool		vdb_auto_seal = true;
bool		vdb_auto_merge = true;
int			vdb_max_sealers = 2;
int			vdb_seal_delay = 0;

/* What the seal in progress in this sealer yields to; NULL elsewhere. */
static Relation yield_heap = NULL;
static Relation yield_index = NULL;
static bool seal_abandoned = false;

/* What the sealer is doing, for the message when it gives way. */
static char sealer_activity[NAMEDATALEN + 128];

/* What one attempt at sealing a segment came to. */
typedef enum SealOutcome
{
	SEAL_SEALED,				/* sealed one frozen segment, or merged one
								 * group of sealed segments */
	SEAL_NOTHING,				/* nothing left to seal or merge */
	SEAL_GONE,					/* the index was dropped */
	SEAL_BUSY,					/* table locked by someone, or gave way */
	SEAL_FAILED					/* failed with an error (logged and recorded) */
} SealOutcome;

/*
 * Register the sealer's settings.
 */
void
WorkerInit(void)
{
	DefineCustomBoolVariable("vdb.auto_seal",
							 "Seals frozen vdb_ivf segments in the background",
							 "When off, frozen segments stay searchable as they are "
							 "until vdb_seal() or a later trigger seals them.",
							 &vdb_auto_seal, true,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("vdb.auto_merge",
							 "Merges small sealed vdb_ivf segments in the background",
							 "The sealer merges adjacent sealed segments with fewer live rows "
							 "than half of segment_rows, and rebuilds segments more than half "
							 "dead, once it has no frozen segment left to seal.",
							 &vdb_auto_merge, true,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("vdb.max_sealers",
							"Maximum number of background sealers in the cluster",
							"Each sealer takes one background worker slot "
							"(max_worker_processes) while it runs.",
							&vdb_max_sealers, 2, 0, VDB_MAX_SEALERS_LIMIT,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("vdb.seal_delay",
							"Pause at each step of a seal or merge (for testing).",
							"Makes seals and merges, in a background sealer or in "
							"vdb_seal(), slow enough to test what runs beside them; "
							"CREATE INDEX is not slowed.",
							&vdb_seal_delay, 0, 0, 10000,
							PGC_SUSET, GUC_UNIT_MS | GUC_NOT_IN_SAMPLE,
							NULL, NULL, NULL);
}

/*
 * The advisory lock tag of a sealer slot (cluster-wide: database 0).
 */
static void
SetSlotTag(LOCKTAG *tag, int slot)
{
	SET_LOCKTAG_ADVISORY(*tag, InvalidOid, (uint32) slot, VDB_LOCK_SLOT, VDB_LOCK_SPACE);
}

/*
 * The advisory lock tag that one sealer of an index holds.
 *
 * sql/install/60_stats.sql (the vdb_stats view) finds running sealers by
 * this key in pg_locks: keep the two in step (TAP 063 checks it).
 */
static void
SetIndexTag(LOCKTAG *tag, Oid indexoid)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, indexoid, VDB_LOCK_INDEX, VDB_LOCK_SPACE);
}

/*
 * The advisory lock tag a sealer holds on a segment it seals or merges.
 */
static void
SetSegmentTag(LOCKTAG *tag, Oid indexoid, uint32 segid)
{
	Assert(indexoid >= FirstNormalObjectId);
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, segid, indexoid, VDB_LOCK_SPACE);
}

/*
 * Mark a segment as being sealed or merged for the rest of the sealing
 * transaction (a background sealer's, or vdb_seal's).  Only the backend
 * that seals a segment ever takes its lock (vdb_segments only looks), and
 * sealers of one index exclude each other, so this never waits; were it
 * somehow taken, the segment would merely not show as busy.
 */
void
VdbMarkSegmentBusy(Oid indexoid, uint32 segid)
{
	LOCKTAG		tag;

	SetSegmentTag(&tag, indexoid, segid);
	(void) LockAcquire(&tag, ExclusiveLock, false, true);
}

/*
 * Whether a sealer is sealing or merging a segment of an index of this
 * database now.  Looks the segment lock up in the lock table without
 * taking it, so it neither waits nor can make a sealer wait.  A holder
 * counts only while it is in a transaction, which a sealer is for as
 * long as it holds a segment lock (but for the instant of its commit).
 */
bool
VdbSegmentBusy(Oid indexoid, uint32 segid)
{
	LOCKTAG		tag;
	VirtualTransactionId *holders;
	int			nholders;

	if (indexoid < FirstNormalObjectId || RecoveryInProgress())
		return false;
	SetSegmentTag(&tag, indexoid, segid);
	holders = GetLockConflicts(&tag, ExclusiveLock, &nholders);
	pfree(holders);
	return nholders > 0;
}

/*
 * Whether nobody holds a lock: take it without waiting and let it go.
 */
static bool
LockIsFree(const LOCKTAG *tag)
{
	if (LockAcquire(tag, ExclusiveLock, false, true) == LOCKACQUIRE_NOT_AVAIL)
		return false;
	LockRelease(tag, ExclusiveLock, false);
	return true;
}

/*
 * Take a lock for the rest of the session without queueing for it.  A
 * launching backend may hold it for an instant to see whether it is free
 * (LockIsFree), so try a few times before concluding that a sealer has it.
 */
static bool
TrySessionLock(const LOCKTAG *tag)
{
	for (int attempt = 0; attempt < 3; attempt++)
	{
		if (attempt > 0)
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 20, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		}
		if (LockAcquire(tag, ExclusiveLock, true, true) != LOCKACQUIRE_NOT_AVAIL)
			return true;
	}
	return false;
}

/*
 * Whether an index has frozen segments to seal or, if merges are asked
 * about and vdb.auto_merge is on, sealed segments to merge.
 */
static bool
IndexHasWork(Relation index, bool merges)
{
	VdbMetaPage meta = VdbCopyMeta(index);
	bool		work = false;

	for (uint32 i = 0; i < meta->nsegments && !work; i++)
		work = (meta->segments[i].state == VDB_SEGMENT_FROZEN);
	if (!work && merges && vdb_auto_merge)
	{
		VdbSegmentData *group = palloc(sizeof(VdbSegmentData) * VDB_MAX_SEGMENTS);

		work = VdbFindMergeGroup(meta, group) > 0;
		pfree(group);
	}
	pfree(meta);
	return work;
}

/*
 * Seal the frozen segments of a TEMP index in this backend.
 */
static void
SealInline(Relation heap, Relation index)
{
	Relation	own_heap = NULL;

	if (heap == NULL)
		heap = own_heap = table_open(index->rd_index->indrelid, NoLock);
	(void) VdbSealIndex(heap, index, false);
	if (own_heap != NULL)
		table_close(own_heap, NoLock);
}

/*
 * Start a background sealer for an index.
 */
static void
LaunchSealer(Relation index)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(worker.bgw_library_name, "vdb", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "VdbSealerMain", BGW_MAXLEN);
	snprintf(worker.bgw_name, BGW_MAXLEN, "vdb sealer for index %s",
			 RelationGetRelationName(index));
	strlcpy(worker.bgw_type, "vdb sealer", BGW_MAXLEN);
	worker.bgw_main_arg = ObjectIdGetDatum(RelationGetRelid(index));
	memcpy(worker.bgw_extra, &MyDatabaseId, sizeof(Oid));
	worker.bgw_notify_pid = 0;

	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		ereport(LOG,
				(errmsg("could not start a vdb sealer for index \"%s\"",
						RelationGetRelationName(index)),
				 errdetail("Its frozen segments stay searchable and are sealed at a later trigger."),
				 errhint("Raise max_worker_processes, or call vdb_seal().")));
}

/*
 * When this backend last asked for a sealer, per index (a few indexes,
 * the oldest entry replaced): VdbNoticeFrozen asks again only after
 * VDB_NOTICE_INTERVAL_MS.
 */
static Oid	notice_index[VDB_NOTICE_INDEXES];
static TimestampTz notice_asked_at[VDB_NOTICE_INDEXES];
static int	notice_next = 0;

/*
 * The entry of an index in notice_index, made (never asked) if missing.
 */
static int
NoticeEntry(Oid indexoid)
{
	int			i;

	for (i = 0; i < VDB_NOTICE_INDEXES; i++)
		if (notice_index[i] == indexoid)
			return i;
	i = notice_next;
	notice_next = (notice_next + 1) % VDB_NOTICE_INDEXES;
	notice_index[i] = indexoid;
	notice_asked_at[i] = 0;
	return i;
}

/*
 * Have the frozen segments of an index sealed, if it has any and automatic
 * sealing is on: inline for a TEMP index, else by a background sealer
 * unless one already works on the index or every sealer slot is taken.
 * heap may be NULL.
 */
void
VdbRequestSeal(Relation heap, Relation index)
{
	LOCKTAG		tag;
	bool		slot_free = false;

	if (!vdb_auto_seal || RecoveryInProgress() || IsParallelWorker())
		return;

	/* TEMP indexes: frozen segments only, merges are for the worker. */
	if (index->rd_rel->relpersistence == RELPERSISTENCE_TEMP)
	{
		if (IndexHasWork(index, false))
			SealInline(heap, index);
		return;
	}
	if (!IndexHasWork(index, true))
		return;

	/*
	 * A sealer launched now takes a moment to start: the inserts right
	 * after a freeze should not launch another (VdbNoticeFrozen).
	 */
	notice_asked_at[NoticeEntry(RelationGetRelid(index))] = GetCurrentTimestamp();

	SetIndexTag(&tag, RelationGetRelid(index));
	if (!LockIsFree(&tag))
		return;
	for (int slot = 0; slot < vdb_max_sealers && !slot_free; slot++)
	{
		SetSlotTag(&tag, slot);
		slot_free = LockIsFree(&tag);
	}
	if (slot_free)
		LaunchSealer(index);
}

/*
 * An insert found a frozen segment in the directory.  Normally a sealer is
 * at work on it, but one that gave way for good (after some 35 s of busy
 * table), or was terminated, left it frozen until the next freeze or
 * VACUUM, which may be long in coming.  Inserting backends notice it:
 * they read the directory anyway, so spotting a frozen segment costs
 * nothing, and VdbRequestSeal tests the index lock with one conditional
 * try and launches a sealer only if none holds it.  Reading vdb_segments
 * or vdb_stats would be a worse trigger: monitoring should not change
 * what it watches, and a table nobody reads would never be noticed.  So
 * that every insert beside a working sealer does not probe the lock table,
 * a backend asks at most once per VDB_NOTICE_INTERVAL_MS per index.  TEMP
 * indexes are left to their next freeze, which seals inline.
 */
void
VdbNoticeFrozen(Relation heap, Relation index)
{
	int			i;

	if (!vdb_auto_seal || index->rd_rel->relpersistence == RELPERSISTENCE_TEMP)
		return;
	i = NoticeEntry(RelationGetRelid(index));
	if (!TimestampDifferenceExceeds(notice_asked_at[i], GetCurrentTimestamp(),
									VDB_NOTICE_INTERVAL_MS))
		return;
	VdbRequestSeal(heap, index);
}

/*
 * Between steps of a seal or merge (not of CREATE INDEX): sleep if
 * vdb.seal_delay asks to, and, in a background sealer, give up the seal
 * (raise an error the sealer catches) if a lock request conflicting with
 * the sealer's locks waits.
 */
void
VdbSealYield(void)
{
	CHECK_FOR_INTERRUPTS();
	if (vdb_seal_delay > 0)
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 vdb_seal_delay, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	if (yield_heap == NULL)
		return;
	if (LockHasWaitersRelation(yield_heap, ShareUpdateExclusiveLock) ||
		LockHasWaitersRelation(yield_index, ShareUpdateExclusiveLock))
	{
		seal_abandoned = true;
		ereport(ERROR,
				(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
				 errmsg("vdb sealer gives way to a waiting lock request on table \"%s\"",
						RelationGetRelationName(yield_heap))));
	}
}

/*
 * Seconds elapsed since start.
 */
static double
SecondsSince(instr_time start)
{
	instr_time	now;

	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, start);
	return INSTR_TIME_GET_DOUBLE(now);
}

/*
 * Merge a group of sealed segments (worker_merge.c), with the sealer's
 * activity, log lines and yielding.
 */
static void
MergeGroup(Relation heap, Relation index, const VdbSegmentData *group, int ngroup)
{
	StringInfoData segids;
	uint64		nrows = 0;
	uint64		merged;
	instr_time	start;

	initStringInfo(&segids);
	for (int i = 0; i < ngroup; i++)
	{
		VdbMarkSegmentBusy(RelationGetRelid(index), group[i].segid);
		appendStringInfo(&segids, "%s%u", i > 0 ? ", " : "", group[i].segid);
		nrows += group[i].nrows - group[i].ndead;
	}
	/* One segment: a mostly dead one, rebuilt without its dead entries. */
	snprintf(sealer_activity, sizeof(sealer_activity), "%s %s of index %s",
			 ngroup > 1 ? "merging segments" : "rebuilding segment",
			 segids.data, RelationGetRelationName(index));
	pgstat_report_activity(STATE_RUNNING, sealer_activity);
	ereport(LOG,
			(errmsg("vdb sealer started %s %s of index \"%s\" (" UINT64_FORMAT " rows)",
					ngroup > 1 ? "merging segments" : "rebuilding segment",
					segids.data, RelationGetRelationName(index), nrows)));
	INSTR_TIME_SET_CURRENT(start);
	InvalidateCatalogSnapshot();

	yield_heap = heap;
	yield_index = index;
	merged = VdbMergeSegments(index, group, ngroup);
	yield_heap = NULL;
	yield_index = NULL;

	ereport(LOG,
			(errmsg("vdb sealer %s %s of index \"%s\": " UINT64_FORMAT " rows in %.3f s",
					ngroup > 1 ? "merged segments" : "rebuilt segment",
					segids.data, RelationGetRelationName(index), merged, SecondsSince(start))));
	pfree(segids.data);
}

/*
 * Seal the oldest frozen segment of an index, or if there is none merge
 * one group of its sealed segments, in one transaction, if the table's and
 * the index's ShareUpdateExclusiveLock can be had without waiting.
 */
static SealOutcome
SealOneSegment(Oid indexoid)
{
	Oid			heapoid;
	Relation	heap;
	Relation	index;
	VdbMetaPage meta;
	VdbSegment	frozen = NULL;
	uint32		segid;
	uint32		nrows;
	instr_time	start;

	StartTransactionCommand();
	heapoid = IndexGetRelation(indexoid, true);
	if (!OidIsValid(heapoid))
	{
		CommitTransactionCommand();
		return SEAL_GONE;
	}

	/*
	 * ShareUpdateExclusiveLock on the index too, not the RowExclusiveLock
	 * that would do: weak relation locks take the fast path, and
	 * LockHasWaiters cannot tell waiters of a fast-path lock.  Inserts
	 * (RowExclusiveLock) and scans go on all the same.
	 */
	if (!ConditionalLockRelationOid(heapoid, ShareUpdateExclusiveLock) ||
		!ConditionalLockRelationOid(indexoid, ShareUpdateExclusiveLock))
	{
		CommitTransactionCommand();
		return SEAL_BUSY;
	}
	/* Dropped while we were locking it? */
	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(indexoid)) ||
		IndexGetRelation(indexoid, true) != heapoid)
	{
		CommitTransactionCommand();
		return SEAL_GONE;
	}
	heap = table_open(heapoid, NoLock);
	index = index_open(indexoid, NoLock);
	if (index->rd_indam->aminsert != ivfinsert)
	{
		index_close(index, NoLock);
		table_close(heap, NoLock);
		CommitTransactionCommand();
		return SEAL_GONE;
	}

	/* The oldest frozen segment first. */
	meta = VdbCopyMeta(index);
	for (uint32 i = 0; i < meta->nsegments; i++)
	{
		VdbSegment	seg = &meta->segments[i];

		if (seg->state == VDB_SEGMENT_FROZEN &&
			(frozen == NULL || seg->segid < frozen->segid))
			frozen = seg;
	}
	if (frozen == NULL)
	{
		VdbSegmentData *group = palloc(sizeof(VdbSegmentData) * VDB_MAX_SEGMENTS);
		int			ngroup = vdb_auto_merge ? VdbFindMergeGroup(meta, group) : 0;

		if (ngroup > 0)
		{
			MergeGroup(heap, index, group, ngroup);
			VdbSealerClearError(indexoid);
		}
		pfree(group);
		pfree(meta);
		index_close(index, NoLock);
		table_close(heap, NoLock);
		CommitTransactionCommand();
		pgstat_report_activity(STATE_IDLE, NULL);
		return ngroup > 0 ? SEAL_SEALED : SEAL_NOTHING;
	}
	segid = frozen->segid;
	nrows = frozen->nrows - frozen->ndead;
	pfree(meta);

	snprintf(sealer_activity, sizeof(sealer_activity), "sealing segment %u of index %s",
			 segid, RelationGetRelationName(index));
	pgstat_report_activity(STATE_RUNNING, sealer_activity);
	ereport(LOG,
			(errmsg("vdb sealer started sealing segment %u of index \"%s\" (%u rows)",
					segid, RelationGetRelationName(index), nrows)));
	INSTR_TIME_SET_CURRENT(start);

	/*
	 * The seal needs no snapshot: let the catalog snapshot go so that a
	 * long seal does not hold back the xmin horizon of VACUUM.
	 */
	InvalidateCatalogSnapshot();

	yield_heap = heap;
	yield_index = index;
	(void) VdbSealFrozen(heap, index, segid);
	yield_heap = NULL;
	yield_index = NULL;

	ereport(LOG,
			(errmsg("vdb sealer sealed segment %u of index \"%s\": %u rows in %.3f s",
					segid, RelationGetRelationName(index), nrows, SecondsSince(start))));
	VdbSealerClearError(indexoid);
	index_close(index, NoLock);
	table_close(heap, NoLock);
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	return SEAL_SEALED;
}

/*
 * A seal or merge failed with an error: log it, roll back (nothing was
 * published) and record it for vdb_stats (worker_error.c).  Called in
 * PG_CATCH, in the memory context that was current before the attempt.
 */
static void
SealFailed(Oid indexoid)
{
	ErrorData  *edata;

	EmitErrorReport();
	edata = CopyErrorData();
	FlushErrorState();
	HOLD_INTERRUPTS();
	AbortOutOfAnyTransaction();
	RESUME_INTERRUPTS();
	pgstat_report_activity(STATE_IDLE, NULL);
	ereport(LOG,
			(errmsg("vdb sealer gives up on index %u after an error: %s is left for later",
					indexoid, sealer_activity)));
	VdbSealerRecordError(indexoid, edata, sealer_activity);
	FreeErrorData(edata);
}

/*
 * One attempt at sealing a segment; a seal that gave way to a waiting lock
 * request is rolled back and reported as SEAL_BUSY, one that failed is
 * rolled back, recorded and reported as SEAL_FAILED.
 */
static SealOutcome
TrySealOneSegment(Oid indexoid)
{
	volatile SealOutcome outcome = SEAL_BUSY;
	MemoryContext context = CurrentMemoryContext;

	seal_abandoned = false;
	snprintf(sealer_activity, sizeof(sealer_activity),
			 "looking for segments to seal in index %u", indexoid);
	PG_TRY();
	{
		outcome = SealOneSegment(indexoid);
	}
	PG_CATCH();
	{
		yield_heap = NULL;
		yield_index = NULL;
		MemoryContextSwitchTo(context);
		if (!seal_abandoned)
		{
			SealFailed(indexoid);
			outcome = SEAL_FAILED;
		}
		else
		{
			/* Give way: roll back, nothing was published. */
			HOLD_INTERRUPTS();
			FlushErrorState();
			AbortOutOfAnyTransaction();
			RESUME_INTERRUPTS();
			pgstat_report_activity(STATE_IDLE, NULL);
			ereport(LOG,
					(errmsg("vdb sealer gave way to a waiting lock request: %s is left for later",
							sealer_activity)));
			outcome = SEAL_BUSY;
		}
	}
	PG_END_TRY();
	return outcome;
}

/*
 * Whether an index still has segments to seal or merge (false if it cannot
 * tell now).
 */
static bool
IndexOidHasWork(Oid indexoid)
{
	bool		found = false;

	StartTransactionCommand();
	if (ConditionalLockRelationOid(indexoid, AccessShareLock))
	{
		if (SearchSysCacheExists1(RELOID, ObjectIdGetDatum(indexoid)))
		{
			Relation	index = index_open(indexoid, NoLock);

			if (index->rd_indam->aminsert == ivfinsert)
				found = IndexHasWork(index, true);
			index_close(index, NoLock);
		}
	}
	CommitTransactionCommand();
	return found;
}

/*
 * Seal frozen segments until none is left, retrying while the table is
 * busy.  Returns false if it gave up: after VDB_SEAL_ATTEMPTS busy attempts
 * in a row, after an error, or because automatic sealing is paused.
 */
static bool
SealIndexSegments(Oid indexoid)
{
	int			busy = 0;

	for (;;)
	{
		SealOutcome outcome;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (!vdb_auto_seal)
			return false;

		outcome = TrySealOneSegment(indexoid);
		if (outcome == SEAL_SEALED)
			busy = 0;
		else if (outcome == SEAL_FAILED)
			return false;
		else if (outcome == SEAL_BUSY)
		{
			if (++busy >= VDB_SEAL_ATTEMPTS)
			{
				ereport(LOG,
						(errmsg("vdb sealer gives up on index %u for now: its table stayed busy",
								indexoid)));
				return false;
			}
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 Min(VDB_SEAL_BACKOFF_MS * busy, VDB_SEAL_MAX_BACKOFF_MS),
							 PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
		else
			return true;
	}
}

/*
 * Seal an index's frozen segments for as long as it has some, holding its
 * index lock.  Returns false if another sealer has the index, or if this
 * one gave up (busy table, paused sealing).
 */
static bool
SealIndexWhileFrozen(Oid indexoid)
{
	LOCKTAG		tag;

	SetIndexTag(&tag, indexoid);
	for (;;)
	{
		bool		have_index;
		bool		finished;

		StartTransactionCommand();
		have_index = TrySessionLock(&tag);
		CommitTransactionCommand();
		if (!have_index)
			return false;

		finished = SealIndexSegments(indexoid);

		/* A freeze while we held the index lock launched nobody: look again. */
		LockRelease(&tag, ExclusiveLock, true);
		if (!finished)
			return false;
		if (!IndexOidHasWork(indexoid))
			return true;
	}
}

/*
 * The OIDs of the vdb_ivf indexes of this database but TEMP ones, in
 * the given memory context.
 */
static List *
IvfIndexesOfDatabase(MemoryContext context)
{
	Oid			amoid;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	List	   *result = NIL;

	StartTransactionCommand();
	amoid = get_index_am_oid("vdb_ivf", true);
	if (OidIsValid(amoid))
	{
		rel = table_open(RelationRelationId, AccessShareLock);
		scan = table_beginscan_catalog(rel, 0, NULL);
		while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
		{
			Form_pg_class form = (Form_pg_class) GETSTRUCT(tup);

			if (form->relkind == RELKIND_INDEX && form->relam == amoid &&
				form->relpersistence != RELPERSISTENCE_TEMP)
			{
				MemoryContext old = MemoryContextSwitchTo(context);

				result = lappend_oid(result, form->oid);
				MemoryContextSwitchTo(old);
			}
		}
		table_endscan(scan);
		table_close(rel, AccessShareLock);
	}
	CommitTransactionCommand();
	return result;
}

/*
 * Main function of a sealer process: seal the frozen segments of the index
 * whose OID is the argument, in the database whose OID is in bgw_extra;
 * then those of the database's other vdb_ivf indexes, whose freezes may
 * have found every sealer slot taken and launched nobody.
 */
void
VdbSealerMain(Datum main_arg)
{
	Oid			indexoid = DatumGetObjectId(main_arg);
	Oid			dboid;
	LOCKTAG		tag;
	bool		have_slot = false;
	MemoryContext sweep_context;
	bool		sealed_some;

	memcpy(&dboid, MyBgworkerEntry->bgw_extra, sizeof(Oid));
	pqsignal(SIGTERM, die);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	pgstat_report_appname("vdb sealer");

	/* Without a slot there is nothing to do. */
	StartTransactionCommand();
	for (int slot = 0; slot < vdb_max_sealers && !have_slot; slot++)
	{
		SetSlotTag(&tag, slot);
		have_slot = TrySessionLock(&tag);
	}
	CommitTransactionCommand();
	if (!have_slot)
		proc_exit(0);

	if (!SealIndexWhileFrozen(indexoid))
		proc_exit(0);

	/* Sweep the other indexes until a pass finds nothing to seal. */
	sweep_context = AllocSetContextCreate(TopMemoryContext, "vdb sealer sweep",
										  ALLOCSET_DEFAULT_SIZES);
	do
	{
		List	   *indexes = IvfIndexesOfDatabase(sweep_context);
		ListCell   *lc;

		sealed_some = false;
		foreach(lc, indexes)
		{
			CHECK_FOR_INTERRUPTS();
			if (!vdb_auto_seal)
				proc_exit(0);
			if (IndexOidHasWork(lfirst_oid(lc)) &&
				SealIndexWhileFrozen(lfirst_oid(lc)))
				sealed_some = true;
		}
		MemoryContextReset(sweep_context);
	} while (sealed_some);
	proc_exit(0);
}
