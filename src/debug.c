/*
 * debug.c
 *	  Test-only crash points (vdb.debug_crash_at).
 *
 * The write side calls VdbCrashPoint(step) at the steps between which a
 * crash must leave a valid index: between the records of a multi-record
 * change, and just after each directory change.  When the setting names
 * the step, the backend flushes the WAL written so far and PANICs, which
 * makes the postmaster restart every backend and run crash recovery.  The
 * flush makes the crash the worst case for that step: everything before it
 * is durable, nothing after it happened.
 *
 * Superuser only, and meant for tests: a PANIC takes the whole server down.
 */
#include "postgres.h"

#include "access/xlog.h"
#include "utils/guc.h"

#include "debug.h"

int			vdb_debug_crash_at = VDB_CRASH_NONE;

static const struct config_enum_entry crash_step_options[] = {
	{"none", VDB_CRASH_NONE, false},
	{"build", VDB_CRASH_BUILD, false},
	{"insert_grow", VDB_CRASH_INSERT_GROW, false},
	{"insert_freeze", VDB_CRASH_INSERT_FREEZE, false},
	{"freeze", VDB_CRASH_FREEZE, false},
	{"seal_build", VDB_CRASH_SEAL_BUILD, false},
	{"seal_publish", VDB_CRASH_SEAL_PUBLISH, false},
	{"seal_published", VDB_CRASH_SEAL_PUBLISHED, false},
	{"vacuum", VDB_CRASH_VACUUM, false},
	{"vacuum_done", VDB_CRASH_VACUUM_DONE, false},
	{"merge_build", VDB_CRASH_MERGE_BUILD, false},
	{"merge_publish", VDB_CRASH_MERGE_PUBLISH, false},
	{"reclaim", VDB_CRASH_RECLAIM, false},
	{NULL, 0, false}
};

/*
 * Register vdb.debug_crash_at.
 */
void
DebugInit(void)
{
	DefineCustomEnumVariable("vdb.debug_crash_at",
							 "Crashes the server at a named step of a vdb_ivf write (for testing only)",
							 "The backend that reaches the step flushes WAL and raises PANIC, "
							 "which restarts the whole server.  Never set this outside tests.",
							 &vdb_debug_crash_at, VDB_CRASH_NONE, crash_step_options,
							 PGC_SUSET, GUC_NOT_IN_SAMPLE,
							 NULL, NULL, NULL);
}

/*
 * The named step was reached with vdb.debug_crash_at set to it: make what
 * was logged so far durable, then crash.
 */
void
VdbCrashPointReached(VdbCrashStep step)
{
	const char *name = "?";

	for (const struct config_enum_entry *e = crash_step_options; e->name; e++)
	{
		if (e->val == (int) step)
			name = e->name;
	}
	if (!RecoveryInProgress() && XactLastRecEnd != InvalidXLogRecPtr)
		XLogFlush(XactLastRecEnd);
	ereport(PANIC,
			(errmsg_internal("vdb.debug_crash_at: crashing at step \"%s\"", name)));
}
