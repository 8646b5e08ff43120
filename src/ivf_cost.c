/*
 * ivf_cost.c
 *	  vdb_ivf cost estimation for the planner.
 *
 * The index only serves ORDER BY <distance> (it has no searchable
 * operators), so a path without an ORDER BY of our operator is made
 * impossible.  Otherwise the estimate follows the scan (ivf_scan.c):
 *
 *	startup		ranking every centroid of every sealed segment, plus the
 *				first batch: vdb.probes lists per sealed segment and the
 *				growing entries (all read, those of the probed lists or
 *				without assignment measured), plus, when the table's own
 *				WHERE clauses are selective, the widening needed before
 *				enough rows pass them: the executor pulls k / selectivity
 *				rows (k = the LIMIT when the planner knows it, else 1), and
 *				past the first VDB_TRUSTED_ROWS the scan's distance rule
 *				probes about sqrt(rows pulled / VDB_TRUSTED_ROWS) times
 *				vdb.probes lists;
 *	total		every list and every growing entry: the stream runs to its
 *				end when the executor keeps asking.
 *
 * A distance costs cpu_operator_cost per 16 dimensions (at least one): the
 * SQL distance function is priced at one cpu_operator_cost whatever the
 * dimensions, which would make the index look free.  The heap fetches are
 * added by the planner (cost_index) from indexSelectivity = 1 and the
 * correlation 0: the stream visits rows in distance order, not heap order.
 * With a LIMIT the planner charges startup + k / rows of the rest, and rows
 * already includes the WHERE selectivity, so a selective filter makes the
 * index scan expensive and a btree + sort plan wins, as it should.
 */
#include "postgres.h"

#include <math.h>

#include "access/genam.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "utils/float.h"
#include "utils/rel.h"
#include "utils/spccache.h"

#include "ivf_scan.h"

/* Dimensions one cpu_operator_cost pays for in a distance computation. */
#define VDB_DIMS_PER_OPERATOR	16.0

/*
 * Estimate the cost of a vdb_ivf index scan.
 */
void
ivfcostestimate(PlannerInfo *root, IndexPath *path, double loop_count,
				Cost *indexStartupCost, Cost *indexTotalCost,
				Selectivity *indexSelectivity, double *indexCorrelation,
				double *indexPages)
{
	IndexOptInfo *indexinfo = path->indexinfo;
	RelOptInfo *baserel = indexinfo->rel;
	Relation	index;
	VdbMetaPage meta;
	double		dist_cost;
	double		sealed_rows = 0;
	double		growing_rows = 0;
	double		sealed_pages = 0;
	double		nlists = 0;
	double		nsealed = 0;
	double		probe_fraction;
	double		first_rows;
	double		first_pages;
	double		needed_rows;
	double		selectivity;
	double		spc_random_page_cost;
	double		spc_seq_page_cost;
	double		ranking_cost;
	Cost		startup;
	Cost		total;

	*indexSelectivity = 1.0;
	*indexCorrelation = 0.0;
	*indexPages = indexinfo->pages;

	/* Without an ORDER BY distance the index can do nothing. */
	if (path->indexorderbys == NIL)
	{
		*indexStartupCost = get_float8_infinity();
		*indexTotalCost = get_float8_infinity();
		return;
	}

	index = index_open(indexinfo->indexoid, NoLock);
	meta = VdbCopyMeta(index);
	for (uint32 i = 0; i < meta->nsegments; i++)
	{
		VdbSegmentData *seg = &meta->segments[i];
		double		live = seg->nrows - Min(seg->ndead, seg->nrows);

		if (seg->state == VDB_SEGMENT_SEALED && seg->nlists > 0)
		{
			nsealed++;
			nlists += seg->nlists;
			sealed_rows += live;
			sealed_pages += seg->npages;
		}
		else if (seg->state == VDB_SEGMENT_GROWING || seg->state == VDB_SEGMENT_FROZEN)
			growing_rows += live;
	}
	/* growing counts in the directory may lag: trust the index's reltuples */
	growing_rows = Max(growing_rows, indexinfo->tuples - sealed_rows);
	dist_cost = cpu_operator_cost * Max(1.0, meta->dimensions / VDB_DIMS_PER_OPERATOR);
	index_close(index, NoLock);

	get_tablespace_page_costs(indexinfo->reltablespace,
							  &spc_random_page_cost, &spc_seq_page_cost);

	/* The first batch: vdb.probes lists per sealed segment. */
	ranking_cost = nlists * dist_cost;
	probe_fraction = nlists > 0 ? (double) Max(vdb_probes, 1) * nsealed / nlists : 1.0;

	/*
	 * Rows the executor pulls before enough pass the table's own WHERE
	 * clauses.  Past the rows the first batch is trusted for, the scan's
	 * distance rule probes about sqrt(depth / VDB_TRUSTED_ROWS) times as many
	 * lists (Fashion-MNIST at probes 8: 25 lists for 105 rows pulled, 95 for
	 * 1,037, 271 for 6,759).
	 */
	selectivity = clauselist_selectivity(root, baserel->baserestrictinfo,
										 baserel->relid, JOIN_INNER, NULL);
	selectivity = Max(selectivity, 1.0 / Max(baserel->tuples, 1.0));
	needed_rows = (root->limit_tuples > 0 ? root->limit_tuples : 1.0) / selectivity;
	if (needed_rows > VDB_TRUSTED_ROWS)
		probe_fraction *= sqrt(needed_rows / VDB_TRUSTED_ROWS);
	probe_fraction = Min(probe_fraction, 1.0);
	if (vdb_max_probes > 0 && nlists > 0)
		probe_fraction = Min(probe_fraction, (double) vdb_max_probes * nsealed / nlists);
	first_rows = probe_fraction * (sealed_rows + growing_rows);
	first_pages = probe_fraction * sealed_pages;

	/* Every growing entry's header is read in the first batch. */
	startup = ranking_cost +
		first_rows * dist_cost +
		growing_rows * cpu_operator_cost +
		first_pages * spc_seq_page_cost +
		(probe_fraction * nlists) * (spc_random_page_cost - spc_seq_page_cost);

	/* The whole stream. */
	total = ranking_cost +
		(sealed_rows + growing_rows) * (dist_cost + cpu_index_tuple_cost) +
		growing_rows * cpu_operator_cost +
		indexinfo->pages * spc_seq_page_cost +
		nlists * (spc_random_page_cost - spc_seq_page_cost);

	*indexStartupCost = startup;
	*indexTotalCost = Max(total, startup);
}
