/*
 * ivf_cost.c
 *	  vdb_ivf cost estimation for the planner.
 *
 * (Placeholder: the scan work item replaces this file.)
 */
#include "postgres.h"

#include "utils/float.h"

#include "ivf.h"

/*
 * Until scans exist, never let the planner choose the index.
 */
void
ivfcostestimate(PlannerInfo *root, IndexPath *path, double loop_count,
				Cost *indexStartupCost, Cost *indexTotalCost,
				Selectivity *indexSelectivity, double *indexCorrelation,
				double *indexPages)
{
	*indexStartupCost = get_float8_infinity();
	*indexTotalCost = get_float8_infinity();
	*indexSelectivity = 0;
	*indexCorrelation = 0;
	*indexPages = 0;
}
