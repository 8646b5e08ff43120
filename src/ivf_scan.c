/*
 * ivf_scan.c
 *	  vdb_ivf index scans: streamed, merged nearest-neighbour search.
 *
 * (Placeholder so the tree links while the scan is written: the scan work
 * item replaces this file.)
 */
#include "postgres.h"

#include "access/relscan.h"

#include "ivf.h"

VdbScanStats vdb_last_scan_stats;

/*
 * Not written yet.
 */
static void
ScanNotWritten(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("vdb_ivf index scans are not available in this build")));
}

IndexScanDesc
ivfbeginscan(Relation index, int nkeys, int norderbys)
{
	ScanNotWritten();
	return NULL;
}

void
ivfrescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys)
{
	ScanNotWritten();
}

bool
ivfgettuple(IndexScanDesc scan, ScanDirection dir)
{
	ScanNotWritten();
	return false;
}

void
ivfendscan(IndexScanDesc scan)
{
}
