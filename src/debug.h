/*
 * debug.h
 *	  Test-only crash points: vdb.debug_crash_at makes the backend PANIC at a
 *	  named step of the write side, so crash tests hit windows that random
 *	  timing rarely does (PostgreSQL 15 has no injection points).
 */
#ifndef VDB_DEBUG_H
#define VDB_DEBUG_H

/* The steps vdb.debug_crash_at can name. */
typedef enum VdbCrashStep
{
	VDB_CRASH_NONE = 0,
	VDB_CRASH_BUILD,			/* CREATE INDEX: a segment published, more
								 * rows to come */
	VDB_CRASH_INSERT_GROW,		/* aminsert moved the tail to a new page */
	VDB_CRASH_INSERT_FREEZE,	/* aminsert froze the growing segment, before
								 * asking for a seal */
	VDB_CRASH_FREEZE,			/* vdb_seal froze the growing segment */
	VDB_CRASH_SEAL_BUILD,		/* a seal wrote part of a run */
	VDB_CRASH_SEAL_PUBLISH,		/* a seal wrote its runs, before publishing */
	VDB_CRASH_SEAL_PUBLISHED,	/* a seal published, before its transaction
								 * ends */
	VDB_CRASH_VACUUM,			/* VACUUM removed entries from one page, more
								 * pages to go */
	VDB_CRASH_VACUUM_DONE,		/* VACUUM removed every dead entry, before
								 * the heap's line pointers are freed */
	VDB_CRASH_MERGE_BUILD,		/* a merge wrote part of its new run */
	VDB_CRASH_MERGE_PUBLISH,	/* a merge wrote its runs, before publishing */
	VDB_CRASH_RECLAIM			/* dropped segments left the directory, before
								 * their pages reach the free space map */
} VdbCrashStep;

/* Setting (src/debug.c). */
extern int	vdb_debug_crash_at;

extern void DebugInit(void);
extern void VdbCrashPointReached(VdbCrashStep step);

/*
 * A crash point: PANIC here if vdb.debug_crash_at names this step.  Costs
 * one comparison when the setting is off.
 */
#define VdbCrashPoint(step) \
	do { \
		if (unlikely(vdb_debug_crash_at == (step))) \
			VdbCrashPointReached(step); \
	} while (0)

#endif							/* VDB_DEBUG_H */
