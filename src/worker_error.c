/*
 * worker_error.c
 *	  The background sealer's last error per index (read through vdb_stats).
 *
 * A sealer runs in no session anyone watches: when a seal or merge fails,
 * the error goes to the server log and the sealer gives up the index.  So
 * that an operator can see it with SQL, the sealer also writes the error
 * into the extension's table vdb_sealer_last_error (one row per index),
 * in a transaction of its own after the failed one has been rolled back;
 * its next successful seal or merge of the index deletes the row, in the
 * same transaction that publishes the segment.  A row therefore means
 * "sealing this index is failing now", and vdb_stats shows it to whoever
 * may read the table.  The table is WAL-logged, so standbys show it too.
 *
 * A row names its index by OID and relfilenode: after the index is dropped
 * or rebuilt (REINDEX, TRUNCATE, VACUUM FULL) the row no longer applies;
 * vdb_stats hides it and the next error recorded in the database deletes
 * it.
 *
 * The table exists from extension version 0.2.0 on; under 0.1.0's SQL
 * (before ALTER EXTENSION vdb UPDATE) errors only go to the log.
 *
 * This is the only place where vdb runs SQL.  It runs as the sealer's
 * bootstrap superuser, so it pins search_path to pg_catalog for the
 * duration: a database-level search_path cannot substitute operators or
 * functions, and the table is found through pg_extension, never by
 * search_path.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "worker_error.h"

/* Find the error table: a member of extension vdb in the extension's schema. */
#define ERROR_TABLE_QUERY \
	"SELECT format('%I.%I', n.nspname, c.relname) " \
	"FROM pg_extension e " \
	"JOIN pg_namespace n ON n.oid = e.extnamespace " \
	"JOIN pg_class c ON c.relnamespace = e.extnamespace " \
	"JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid " \
	"	AND d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid " \
	"	AND d.deptype = 'e' " \
	"WHERE e.extname = 'vdb' AND c.relname = 'vdb_sealer_last_error' AND c.relkind = 'r'"

/*
 * Connect to SPI with search_path pinned to pg_catalog; returns the GUC
 * nest level to hand to FinishErrorTableSql.  Needs a transaction.
 */
static int
StartErrorTableSql(void)
{
	int			nestlevel;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return nestlevel;
}

/*
 * Undo StartErrorTableSql.
 */
static void
FinishErrorTableSql(int nestlevel)
{
	AtEOXact_GUC(true, nestlevel);
	PopActiveSnapshot();
	SPI_finish();
}

/*
 * The schema-qualified, quoted name of the error table, or NULL if this
 * database's vdb has none (SQL version 0.1.0).  Needs SPI.
 */
static char *
ErrorTableName(void)
{
	bool		isnull;
	Datum		name;

	if (SPI_execute(ERROR_TABLE_QUERY, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look up vdb_sealer_last_error");
	if (SPI_processed == 0)
		return NULL;
	name = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? NULL : TextDatumGetCString(name);
}

/*
 * Run one statement with parameters on the error table, whose name is
 * substituted for the %s in sql.
 */
static void
ExecuteOnErrorTable(const char *sql, const char *table, int nargs,
					Oid *argtypes, Datum *values, const char *nulls)
{
	char	   *query = psprintf(sql, table);
	int			rc;

	rc = SPI_execute_with_args(query, nargs, argtypes, values, nulls, false, 0);
	if (rc != SPI_OK_INSERT && rc != SPI_OK_DELETE)
		elog(ERROR, "SPI_execute_with_args failed on %s: %d", table, rc);
	pfree(query);
}

/*
 * Record the error a sealer met while working on an index (activity says
 * what it was doing), replacing the index's previous one, and forget the
 * errors of indexes dropped or rebuilt since.  Call with no transaction
 * open, after the failed one was rolled back; commits its own.  A failure
 * to record is logged and otherwise ignored: the error itself is in the
 * log already.
 */
void
VdbSealerRecordError(Oid indexoid, const ErrorData *edata, const char *activity)
{
	MemoryContext context = CurrentMemoryContext;
	TimestampTz failed_at = GetCurrentTimestamp();

	PG_TRY();
	{
		int			nestlevel;
		char	   *table;

		StartTransactionCommand();
		nestlevel = StartErrorTableSql();
		table = ErrorTableName();
		if (table != NULL)
		{
			Oid			argtypes[6] = {OIDOID, TIMESTAMPTZOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
			Datum		values[6];
			char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};

			ExecuteOnErrorTable("DELETE FROM %s e WHERE NOT EXISTS ("
								"SELECT FROM pg_class c WHERE c.oid = e.indexrelid "
								"AND c.relfilenode = e.relfilenode)",
								table, 0, NULL, NULL, NULL);

			values[0] = ObjectIdGetDatum(indexoid);
			values[1] = TimestampTzGetDatum(failed_at);
			values[2] = CStringGetTextDatum(unpack_sql_state(edata->sqlerrcode));
			values[3] = CStringGetTextDatum(edata->message ? edata->message : "");
			if (edata->detail)
				values[4] = CStringGetTextDatum(edata->detail);
			else
				nulls[4] = 'n';
			values[5] = CStringGetTextDatum(activity);
			ExecuteOnErrorTable("INSERT INTO %s AS e "
								"(indexrelid, relfilenode, failed_at, sqlstate, message, detail, activity) "
								"SELECT c.oid, c.relfilenode, $2, $3, $4, $5, $6 "
								"FROM pg_class c WHERE c.oid = $1 "
								"ON CONFLICT (indexrelid) DO UPDATE SET "
								"relfilenode = excluded.relfilenode, failed_at = excluded.failed_at, "
								"sqlstate = excluded.sqlstate, message = excluded.message, "
								"detail = excluded.detail, activity = excluded.activity",
								table, 6, argtypes, values, nulls);
		}
		FinishErrorTableSql(nestlevel);
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(context);
		EmitErrorReport();
		FlushErrorState();
		HOLD_INTERRUPTS();
		AbortOutOfAnyTransaction();
		RESUME_INTERRUPTS();
		ereport(LOG,
				(errmsg("vdb sealer could not record its error for index %u in vdb_sealer_last_error",
						indexoid)));
	}
	PG_END_TRY();
}

/*
 * Forget an index's recorded error: its seal or merge in the current
 * transaction succeeded.  The deletion commits with the segment's publish.
 * It runs in a subtransaction: should it fail, the error is logged and the
 * seal still commits, as the bookkeeping must never stop sealing.
 */
void
VdbSealerClearError(Oid indexoid)
{
	MemoryContext context = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;

	BeginInternalSubTransaction(NULL);
	PG_TRY();
	{
		int			nestlevel = StartErrorTableSql();
		char	   *table = ErrorTableName();

		if (table != NULL)
		{
			Oid			argtypes[1] = {OIDOID};
			Datum		values[1] = {ObjectIdGetDatum(indexoid)};

			ExecuteOnErrorTable("DELETE FROM %s WHERE indexrelid = $1",
								table, 1, argtypes, values, NULL);
		}
		FinishErrorTableSql(nestlevel);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(context);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		ereport(LOG,
				(errmsg("vdb sealer could not clear the recorded error of index %u: %s",
						indexoid, edata->message)));
		FreeErrorData(edata);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(context);
	CurrentResourceOwner = owner;
}
