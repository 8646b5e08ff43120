/*
 * ivf.c
 *	  The vdb_ivf index access method: handler, options, settings and
 *	  operator class validation.
 */
#include "postgres.h"

#include "access/amvalidate.h"
#include "access/htup_details.h"
#include "access/reloptions.h"
#include "catalog/pg_amop.h"
#include "catalog/pg_amproc.h"
#include "catalog/pg_opclass.h"
#include "catalog/pg_opfamily.h"
#include "catalog/pg_type.h"
#include "commands/progress.h"
#include "commands/vacuum.h"
#include "fmgr.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "ivf.h"
#include "ivf_write.h"
#include "vdb.h"

/* Lists probed per query before widening (the scan side tunes the default). */
#define VDB_DEFAULT_PROBES		10

int			vdb_probes = VDB_DEFAULT_PROBES;

static relopt_kind ivf_relopt_kind;

/*
 * The scan side registers its own settings (src/ivf_scan.c).  Declared weak
 * so that this file links in a tree whose scan does not define it yet.
 */
extern void IvfScanInit(void) __attribute__((weak));

/*
 * Register the index AM's options and settings.
 */
void
IvfInit(void)
{
	ivf_relopt_kind = add_reloption_kind();
	add_int_reloption(ivf_relopt_kind, "segment_rows",
					  "Rows a growing segment takes before it is frozen for sealing",
					  VDB_DEFAULT_SEGMENT_ROWS, VDB_MIN_SEGMENT_ROWS, VDB_MAX_SEGMENT_ROWS,
					  AccessExclusiveLock);
	add_int_reloption(ivf_relopt_kind, "lists",
					  "Lists per sealed segment (0: 4 * sqrt(rows of the segment))",
					  0, 0, VDB_MAX_LISTS, AccessExclusiveLock);

	DefineCustomIntVariable("vdb.probes",
							"Lists an index scan probes before it widens",
							"Probes are spent across all segments by centroid distance; "
							"more probes give better recall and slower queries.",
							&vdb_probes, VDB_DEFAULT_PROBES, 1, VDB_MAX_LISTS,
							PGC_USERSET, 0, NULL, NULL, NULL);

	if (IvfScanInit != NULL)
		IvfScanInit();
}

/*
 * Parse and validate the index options.
 */
bytea *
ivfoptions(Datum reloptions, bool validate)
{
	static const relopt_parse_elt tab[] = {
		{"segment_rows", RELOPT_TYPE_INT, offsetof(VdbIvfOptions, segment_rows)},
		{"lists", RELOPT_TYPE_INT, offsetof(VdbIvfOptions, lists)},
	};

	return (bytea *) build_reloptions(reloptions, validate, ivf_relopt_kind,
									  sizeof(VdbIvfOptions), tab, lengthof(tab));
}

/*
 * The segment_rows option in effect.
 */
int
VdbGetSegmentRows(Relation index)
{
	VdbIvfOptions *opts = (VdbIvfOptions *) index->rd_options;

	return opts ? opts->segment_rows : VDB_DEFAULT_SEGMENT_ROWS;
}

/*
 * The lists option in effect (0: automatic).
 */
int
VdbGetLists(Relation index)
{
	VdbIvfOptions *opts = (VdbIvfOptions *) index->rd_options;

	return opts ? opts->lists : 0;
}

/*
 * The dimensions of the indexed column, from its type modifier.
 */
int
VdbGetIndexDimensions(Relation index)
{
	int			dim = TupleDescAttr(RelationGetDescr(index), 0)->atttypmod;

	if (dim < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("column does not have dimensions"),
				 errhint("Declare the column as vector(n) to index it with vdb_ivf.")));
	if (dim > VDB_IVF_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("column cannot have more than %d dimensions for vdb_ivf index",
						VDB_IVF_MAX_DIM)));
	return dim;
}

/*
 * The distance kind of the index's operator class.
 *
 * Support function 1 of each opclass is a tiny function that returns its
 * kind; it is called once per index operation (insert, scan, build), never
 * per distance.
 */
VdbDistanceKind
VdbGetDistanceKind(Relation index)
{
	FmgrInfo   *proc = index_getprocinfo(index, 1, 1);
	int32		kind = DatumGetInt32(FunctionCall1(proc, PointerGetDatum(NULL)));

	if (kind != VDB_DISTANCE_L2 && kind != VDB_DISTANCE_IP && kind != VDB_DISTANCE_COSINE)
		elog(ERROR, "vdb_ivf support function returned unknown distance kind %d", kind);
	return (VdbDistanceKind) kind;
}

PG_FUNCTION_INFO_V1(vdb_ivf_l2_support);
PG_FUNCTION_INFO_V1(vdb_ivf_ip_support);
PG_FUNCTION_INFO_V1(vdb_ivf_cosine_support);

/*
 * Support function 1 of vector_l2_ops.
 */
Datum
vdb_ivf_l2_support(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(VDB_DISTANCE_L2);
}

/*
 * Support function 1 of vector_ip_ops.
 */
Datum
vdb_ivf_ip_support(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(VDB_DISTANCE_IP);
}

/*
 * Support function 1 of vector_cosine_ops.
 */
Datum
vdb_ivf_cosine_support(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(VDB_DISTANCE_COSINE);
}

/*
 * The name of an operator family, for messages.
 */
static char *
OpfamilyName(Oid opfamilyoid)
{
	HeapTuple	tup = SearchSysCache1(OPFAMILYOID, ObjectIdGetDatum(opfamilyoid));
	char	   *name;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for operator family %u", opfamilyoid);
	name = pstrdup(NameStr(((Form_pg_opfamily) GETSTRUCT(tup))->opfname));
	ReleaseSysCache(tup);
	return name;
}

/*
 * Check an operator class: one ORDER BY operator (strategy 1) returning
 * float8, and support function 1 returning the distance kind.
 */
bool
ivfvalidate(Oid opclassoid)
{
	bool		result = true;
	HeapTuple	classtup;
	Form_pg_opclass classform;
	Oid			opfamilyoid;
	Oid			opcintype;
	char	   *opclassname;
	char	   *opfamilyname;
	CatCList   *proclist;
	CatCList   *oprlist;
	bool		have_proc = false;
	bool		have_op = false;

	classtup = SearchSysCache1(CLAOID, ObjectIdGetDatum(opclassoid));
	if (!HeapTupleIsValid(classtup))
		elog(ERROR, "cache lookup failed for operator class %u", opclassoid);
	classform = (Form_pg_opclass) GETSTRUCT(classtup);
	opfamilyoid = classform->opcfamily;
	opcintype = classform->opcintype;
	opclassname = NameStr(classform->opcname);
	opfamilyname = OpfamilyName(opfamilyoid);

	proclist = SearchSysCacheList1(AMPROCNUM, ObjectIdGetDatum(opfamilyoid));
	for (int i = 0; i < proclist->n_members; i++)
	{
		Form_pg_amproc procform = (Form_pg_amproc) GETSTRUCT(&proclist->members[i]->tuple);

		if (procform->amprocnum != 1)
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("operator family \"%s\" of access method %s contains function %s with invalid support number %d",
							opfamilyname, "vdb_ivf",
							format_procedure(procform->amproc), procform->amprocnum)));
			result = false;
			continue;
		}
		if (!check_amproc_signature(procform->amproc, INT4OID, false, 1, 1, INTERNALOID))
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("operator family \"%s\" of access method %s contains function %s with wrong signature for support number %d",
							opfamilyname, "vdb_ivf",
							format_procedure(procform->amproc), procform->amprocnum)));
			result = false;
		}
		if (procform->amproclefttype == opcintype && procform->amprocrighttype == opcintype)
			have_proc = true;
	}

	oprlist = SearchSysCacheList1(AMOPSTRATEGY, ObjectIdGetDatum(opfamilyoid));
	for (int i = 0; i < oprlist->n_members; i++)
	{
		Form_pg_amop oprform = (Form_pg_amop) GETSTRUCT(&oprlist->members[i]->tuple);

		if (oprform->amopstrategy != 1 || oprform->amoppurpose != AMOP_ORDER)
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("operator family \"%s\" of access method %s contains operator %s that is not ORDER BY strategy 1",
							opfamilyname, "vdb_ivf",
							format_operator(oprform->amopopr))));
			result = false;
			continue;
		}
		if (!check_amop_signature(oprform->amopopr, FLOAT8OID,
								  oprform->amoplefttype, oprform->amoprighttype))
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("operator family \"%s\" of access method %s contains operator %s with wrong signature",
							opfamilyname, "vdb_ivf",
							format_operator(oprform->amopopr))));
			result = false;
		}
		if (oprform->amoplefttype == opcintype && oprform->amoprighttype == opcintype)
			have_op = true;
	}

	if (!have_proc || !have_op)
	{
		ereport(INFO,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("operator class \"%s\" of access method %s is missing its distance operator or support function 1",
						opclassname, "vdb_ivf")));
		result = false;
	}

	ReleaseCatCacheList(oprlist);
	ReleaseCatCacheList(proclist);
	ReleaseSysCache(classtup);
	return result;
}

/*
 * Name of a build sub-phase, for pg_stat_progress_create_index.
 */
static char *
ivfbuildphasename(int64 phasenum)
{
	switch (phasenum)
	{
		case PROGRESS_CREATEIDX_SUBPHASE_INITIALIZE:
			return "initializing";
		case VDB_PHASE_LOAD:
			return "loading tuples";
		case VDB_PHASE_KMEANS:
			return "performing k-means";
		case VDB_PHASE_WRITE:
			return "writing segments";
		default:
			return NULL;
	}
}

PG_FUNCTION_INFO_V1(vdb_ivf_handler);

/*
 * The index access method handler.
 */
Datum
vdb_ivf_handler(PG_FUNCTION_ARGS)
{
	IndexAmRoutine *amroutine = makeNode(IndexAmRoutine);

	amroutine->amstrategies = 0;
	amroutine->amsupport = 1;
	amroutine->amoptsprocnum = 0;
	amroutine->amcanorder = false;
	amroutine->amcanorderbyop = true;
	amroutine->amcanbackward = false;
	amroutine->amcanunique = false;
	amroutine->amcanmulticol = false;
	amroutine->amoptionalkey = true;
	amroutine->amsearcharray = false;
	amroutine->amsearchnulls = false;
	amroutine->amstorage = false;
	amroutine->amclusterable = false;
	amroutine->ampredlocks = false;
	amroutine->amcanparallel = false;
	amroutine->amcaninclude = false;
	amroutine->amusemaintenanceworkmem = false;
	amroutine->amparallelvacuumoptions = VACUUM_OPTION_PARALLEL_BULKDEL;
	amroutine->amkeytype = InvalidOid;

	amroutine->ambuild = ivfbuild;
	amroutine->ambuildempty = ivfbuildempty;
	amroutine->aminsert = ivfinsert;
	amroutine->ambulkdelete = ivfbulkdelete;
	amroutine->amvacuumcleanup = ivfvacuumcleanup;
	amroutine->amcanreturn = NULL;
	amroutine->amcostestimate = ivfcostestimate;
	amroutine->amoptions = ivfoptions;
	amroutine->amproperty = NULL;
	amroutine->ambuildphasename = ivfbuildphasename;
	amroutine->amvalidate = ivfvalidate;
	amroutine->amadjustmembers = NULL;
	amroutine->ambeginscan = ivfbeginscan;
	amroutine->amrescan = ivfrescan;
	amroutine->amgettuple = ivfgettuple;
	amroutine->amgetbitmap = NULL;
	amroutine->amendscan = ivfendscan;
	amroutine->ammarkpos = NULL;
	amroutine->amrestrpos = NULL;
	amroutine->amestimateparallelscan = NULL;
	amroutine->aminitparallelscan = NULL;
	amroutine->amparallelrescan = NULL;

	PG_RETURN_POINTER(amroutine);
}
