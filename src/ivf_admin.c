/*
 * ivf_admin.c
 *	  SQL functions to operate vdb_ivf indexes: vdb_seal, vdb_segments,
 *	  vdb_check.
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xlog.h"
#include "catalog/index.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "commands/defrem.h"
#include "executor/executor.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"

#include "ivf.h"
#include "ivf_write.h"
#include "worker.h"

/*
 * The OID of the vdb_ivf access method.
 */
static Oid
IvfAmOid(void)
{
	return get_index_am_oid("vdb_ivf", false);
}

/*
 * The access method of a relation (InvalidOid if it has none).
 */
static Oid
RelationAmOid(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			relam;

	if (!HeapTupleIsValid(tup))
		return InvalidOid;
	relam = ((Form_pg_class) GETSTRUCT(tup))->relam;
	ReleaseSysCache(tup);
	return relam;
}

/*
 * The table of a vdb_ivf index, with an error for anything else.
 */
static Oid
IvfIndexTable(Oid indexoid)
{
	HeapTuple	tup;
	Form_pg_class form;
	Oid			relam;
	char		relkind;

	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(indexoid));
	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", indexoid)));
	form = (Form_pg_class) GETSTRUCT(tup);
	relam = form->relam;
	relkind = form->relkind;
	ReleaseSysCache(tup);

	if (relkind != RELKIND_INDEX || relam != IvfAmOid())
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a vdb_ivf index", get_rel_name(indexoid))));
	return IndexGetRelation(indexoid, false);
}

/*
 * Raise unless the current user owns the table.
 */
static void
CheckTableOwner(Oid heapoid)
{
	if (!pg_class_ownercheck(heapoid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER,
					   get_relkind_objtype(get_rel_relkind(heapoid)),
					   get_rel_name(heapoid));
}

PG_FUNCTION_INFO_V1(vdb_seal);

/*
 * vdb_seal(regclass): seal the growing segment and every frozen segment of
 * an index, or of every vdb_ivf index of a table, now.  Returns the number
 * of segments sealed.
 */
Datum
vdb_seal(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Oid			heapoid;
	List	   *indexes = NIL;
	Relation	heap;
	ListCell   *lc;
	int			nsealed = 0;
	char		relkind = get_rel_relkind(relid);

	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot seal segments during recovery")));
	if (relkind == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));

	if (relkind == RELKIND_INDEX)
		heapoid = IvfIndexTable(relid);
	else if (relkind == RELKIND_RELATION || relkind == RELKIND_MATVIEW)
		heapoid = relid;
	else
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is neither a table nor a vdb_ivf index", get_rel_name(relid))));
	CheckTableOwner(heapoid);

	/* Excludes VACUUM and other sealers, not INSERT or SELECT (P18). */
	heap = table_open(heapoid, ShareUpdateExclusiveLock);
	if (relkind == RELKIND_INDEX)
		indexes = list_make1_oid(relid);
	else
	{
		List	   *all = RelationGetIndexList(heap);
		Oid			amoid = IvfAmOid();

		foreach(lc, all)
		{
			if (RelationAmOid(lfirst_oid(lc)) == amoid)
				indexes = lappend_oid(indexes, lfirst_oid(lc));
		}
	}

	foreach(lc, indexes)
	{
		Relation	index = index_open(lfirst_oid(lc), RowExclusiveLock);

		nsealed += VdbSealIndex(heap, index, true);
		index_close(index, RowExclusiveLock);
	}
	table_close(heap, NoLock);
	PG_RETURN_INT32(nsealed);
}

/*
 * Name of a segment state; busy says a background sealer is sealing
 * (frozen) or merging (sealed) the segment now.
 */
static const char *
SegmentStateName(uint16 state, bool busy)
{
	switch (state)
	{
		case VDB_SEGMENT_GROWING:
			return "growing";
		case VDB_SEGMENT_FROZEN:
			return busy ? "sealing" : "frozen";
		case VDB_SEGMENT_SEALED:
			return busy ? "merging" : "sealed";
		case VDB_SEGMENT_DROPPED:
			return "dropped";
		default:
			return "unused";
	}
}

PG_FUNCTION_INFO_V1(vdb_segments);

/*
 * vdb_segments(regclass): one row per segment of a vdb_ivf index.
 *
 * A frozen segment that a background sealer is sealing shows as 'sealing',
 * sealed segments it is merging (or rebuilding) as 'merging': the sealer
 * holds a lock on each (worker.c), looked up here without being taken.
 *
 * rows counts the entries written to the segment (for the growing segment
 * including its tail page), dead_rows those VACUUM removed since.
 */
Datum
vdb_segments(PG_FUNCTION_ARGS)
{
	Oid			indexoid = PG_GETARG_OID(0);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			heapoid = IvfIndexTable(indexoid);
	Relation	index;
	Buffer		metabuf;
	VdbMetaPage meta;
	AclResult	aclresult;

	aclresult = pg_class_aclcheck(heapoid, GetUserId(), ACL_SELECT);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, get_relkind_objtype(get_rel_relkind(heapoid)),
					   get_rel_name(heapoid));

	InitMaterializedSRF(fcinfo, 0);
	index = index_open(indexoid, AccessShareLock);

	metabuf = ReadBuffer(index, VDB_IVF_METAPAGE_BLKNO);
	LockBuffer(metabuf, BUFFER_LOCK_SHARE);
	meta = VdbPageGetMeta(BufferGetPage(metabuf));
	VdbCheckMeta(index, meta);
	for (uint32 i = 0; i < meta->nsegments; i++)
	{
		VdbSegmentData seg = meta->segments[i];
		Datum		values[9];
		bool		nulls[9];
		bool		busy;

		memset(nulls, 0, sizeof(nulls));
		if (seg.state == VDB_SEGMENT_GROWING)
		{
			Buffer		tailbuf = ReadBuffer(index, seg.tail);
			Page		tailpage;

			LockBuffer(tailbuf, BUFFER_LOCK_SHARE);
			tailpage = BufferGetPage(tailbuf);
			VdbCheckPageStamp(index, tailpage, seg.tail, seg.segid, seg.generation,
							  VDB_PAGE_GROWING);
			VdbCountGrowingPage(tailpage, &seg);
			UnlockReleaseBuffer(tailbuf);
		}
		values[0] = Int64GetDatum(seg.segid);
		busy = (seg.state == VDB_SEGMENT_FROZEN || seg.state == VDB_SEGMENT_SEALED) &&
			VdbSegmentBusy(indexoid, seg.segid);
		values[1] = CStringGetTextDatum(SegmentStateName(seg.state, busy));
		values[2] = Int64GetDatum(seg.nrows);
		values[3] = Int64GetDatum(seg.ndead);
		values[4] = Int32GetDatum(seg.nlists);
		nulls[4] = (seg.state != VDB_SEGMENT_SEALED);
		values[5] = Int64GetDatum(seg.npages);
		values[6] = Int64GetDatum(seg.heap_min);
		nulls[6] = (seg.heap_min == InvalidBlockNumber);
		values[7] = Int64GetDatum(seg.heap_max);
		nulls[7] = (seg.heap_max == InvalidBlockNumber);
		values[8] = TimestampTzGetDatum(seg.sealed_at);
		nulls[8] = (seg.state != VDB_SEGMENT_SEALED);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	UnlockReleaseBuffer(metabuf);
	index_close(index, AccessShareLock);
	return (Datum) 0;
}

/* One index entry seen by vdb_check. */
typedef struct CheckEntry
{
	ItemPointerData tid;
	uint32		segid;
} CheckEntry;

/* What vdb_check has found so far. */
typedef struct CheckState
{
	Relation	index;
	VdbMetaPage meta;
	ReturnSetInfo *rsinfo;
	int64		nproblems;
	CheckEntry *entries;
	int64		nentries;
	int64		maxentries;
	uint32	   *owner;			/* per block: the segment that uses it, 0 */
	BlockNumber nblocks;
} CheckState;

/*
 * Report one problem as a result row.
 */
static void
Problem(CheckState *cs, const char *fmt,...) pg_attribute_printf(2, 3);

static void
Problem(CheckState *cs, const char *fmt,...)
{
	va_list		ap;
	char		buf[1024];
	Datum		value;
	bool		null = false;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	value = CStringGetTextDatum(buf);
	tuplestore_putvalues(cs->rsinfo->setResult, cs->rsinfo->setDesc, &value, &null);
	cs->nproblems++;
}

/*
 * Remember an index entry's heap TID.
 */
static void
RememberEntry(CheckState *cs, ItemPointer tid, uint32 segid)
{
	if (cs->nentries == cs->maxentries)
	{
		cs->maxentries *= 2;
		cs->entries = repalloc_huge(cs->entries, sizeof(CheckEntry) * cs->maxentries);
	}
	cs->entries[cs->nentries].tid = *tid;
	cs->entries[cs->nentries].segid = segid;
	cs->nentries++;
}

/*
 * Note that a segment (live, or dropped but not reclaimed) uses a block;
 * false (and a problem reported) if the block lies beyond the end of the
 * index or another segment uses it too.
 */
static bool
ClaimBlock(CheckState *cs, BlockNumber blkno, const VdbSegmentData *seg)
{
	if (blkno >= cs->nblocks || blkno == VDB_IVF_METAPAGE_BLKNO)
	{
		Problem(cs, "segment %u: block %u is beyond the end of the index", seg->segid, blkno);
		return false;
	}
	if (cs->owner[blkno] != 0 && cs->owner[blkno] != seg->segid)
	{
		Problem(cs, "block %u is used by segments %u and %u",
				blkno, cs->owner[blkno], seg->segid);
		return false;
	}
	cs->owner[blkno] = seg->segid;
	return true;
}

/*
 * Read a block of the index for checking; NULL (and a problem reported) if
 * it lies beyond the end of the index, is used by another segment too, or
 * carries the wrong stamp.
 */
static Buffer
CheckReadPage(CheckState *cs, BlockNumber blkno, VdbSegment seg, uint16 flags)
{
	Buffer		buf;

	if (!ClaimBlock(cs, blkno, seg))
		return InvalidBuffer;
	buf = ReadBuffer(cs->index, blkno);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	if (!VdbPageStampMatches(BufferGetPage(buf), seg->segid, seg->generation, flags))
	{
		Problem(cs, "segment %u: block %u does not carry the segment's stamp (generation %u, page type 0x%x)",
				seg->segid, blkno, seg->generation, flags);
		UnlockReleaseBuffer(buf);
		return InvalidBuffer;
	}
	return buf;
}

/*
 * Check a growing or frozen chain and collect its entries.
 */
static void
CheckChain(CheckState *cs, VdbSegment seg)
{
	BlockNumber blkno = seg->head;
	BlockNumber visited = 0;
	int64		counted = 0;

	for (;;)
	{
		Buffer		buf;
		Page		page;
		OffsetNumber maxoff;
		BlockNumber next;

		CHECK_FOR_INTERRUPTS();
		if (++visited > seg->npages)
		{
			Problem(cs, "segment %u: chain is longer than its %u pages", seg->segid, seg->npages);
			return;
		}
		buf = CheckReadPage(cs, blkno, seg, VDB_PAGE_GROWING);
		if (!BufferIsValid(buf))
			return;
		page = BufferGetPage(buf);
		maxoff = PageGetMaxOffsetNumber(page);
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
		{
			VdbGrowingEntry entry = (VdbGrowingEntry) PageGetItem(page, PageGetItemId(page, off));

			RememberEntry(cs, &entry->tid, seg->segid);
			if (entry->assign_segid != 0)
			{
				VdbSegment	target = VdbFindSegment(cs->meta, entry->assign_segid);

				/*
				 * The segment named at insert time may since have been
				 * merged away and its slot reclaimed (ids are never
				 * reused): the scan searches such entries as unassigned.
				 * Only an id never handed out, or a list the named
				 * segment lacks, is wrong.
				 */
				if (target == NULL ? entry->assign_segid >= cs->meta->next_segid :
					(target->nlists == 0 || entry->assign_list >= target->nlists))
					Problem(cs, "segment %u: block %u item %u is assigned to list %u of segment %u, which does not exist",
							seg->segid, blkno, off, entry->assign_list, entry->assign_segid);
			}
		}
		if (blkno != seg->tail || seg->state == VDB_SEGMENT_FROZEN)
			counted += maxoff;
		next = VdbPageGetOpaque(page)->nextblkno;
		UnlockReleaseBuffer(buf);
		if (blkno == seg->tail)
		{
			if (next != InvalidBlockNumber)
				Problem(cs, "segment %u: tail block %u links to block %u", seg->segid, blkno, next);
			break;
		}
		if (next == InvalidBlockNumber)
		{
			Problem(cs, "segment %u: chain ends at block %u before its tail %u",
					seg->segid, blkno, seg->tail);
			return;
		}
		blkno = next;
	}
	if (visited != seg->npages)
		Problem(cs, "segment %u: chain has %u pages, directory says %u",
				seg->segid, visited, seg->npages);
	if (counted != (int64) seg->nrows - seg->ndead)
		Problem(cs, "segment %u: %lld entries on counted pages, directory says %u rows and %u dead",
				seg->segid, (long long) counted, seg->nrows, seg->ndead);
}

/*
 * Claim the pages of a dropped segment that is not reclaimed yet: nothing
 * else may use them while a snapshot might still read them.
 */
static void
CheckDropped(CheckState *cs, VdbSegment seg)
{
	Buffer		buf;
	BlockNumber blkno = seg->head;

	if (seg->nlists > 0)
	{
		VdbSealedHeaderData h;
		VdbRunMap	map;
		bool		ok;

		buf = CheckReadPage(cs, seg->head, seg, VDB_PAGE_SEALED_HEADER);
		if (!BufferIsValid(buf))
			return;
		ok = VdbParseRunHeader(BufferGetPage(buf), seg, &h, &map);
		UnlockReleaseBuffer(buf);
		if (!ok)
		{
			Problem(cs, "dropped segment %u: run header does not match the directory", seg->segid);
			return;
		}
		for (BlockNumber p = 1; p < map.npages; p++)
			if (!ClaimBlock(cs, VdbRunBlock(&map, p), seg))
				return;
		return;
	}
	for (BlockNumber p = 0; p < seg->npages && blkno != InvalidBlockNumber; p++)
	{
		BlockNumber next;

		CHECK_FOR_INTERRUPTS();
		buf = CheckReadPage(cs, blkno, seg, VDB_PAGE_GROWING);
		if (!BufferIsValid(buf))
			return;
		next = VdbPageGetOpaque(BufferGetPage(buf))->nextblkno;
		UnlockReleaseBuffer(buf);
		blkno = (blkno == seg->tail) ? InvalidBlockNumber : next;
	}
}

/*
 * Check a sealed run (header, lists, posting pages) and collect its entries.
 */
static void
CheckRun(CheckState *cs, VdbSegment seg, int dim, int kind)
{
	Buffer		buf;
	Page		page;
	VdbSealedHeaderData h;
	VdbRunMap	map;
	bool		ok;
	BlockNumber expect_start;
	int64		present = 0;
	uint32		list = 0;

	buf = CheckReadPage(cs, seg->head, seg, VDB_PAGE_SEALED_HEADER);
	if (!BufferIsValid(buf))
		return;
	ok = VdbParseRunHeader(BufferGetPage(buf), seg, &h, &map);
	UnlockReleaseBuffer(buf);

	if (!ok || h.generation != seg->generation ||
		h.nrows != seg->nrows || h.dimensions != dim || h.kind != kind ||
		h.centroid_start != 1 || h.posting_start != 1 + h.ncentroid_pages ||
		h.posting_start + h.nposting_pages != seg->npages)
	{
		Problem(cs, "segment %u: run header does not match the directory", seg->segid);
		return;
	}
	for (uint32 e = 0; e < map.nextents; e++)
	{
		if (map.extents[e].npages == 0 ||
			map.extents[e].start + map.extents[e].npages > cs->nblocks)
		{
			Problem(cs, "segment %u: run extent %u (blocks %u..%u) lies beyond the end of the index",
					seg->segid, e, map.extents[e].start,
					map.extents[e].start + map.extents[e].npages);
			return;
		}
	}

	expect_start = h.posting_start;
	for (BlockNumber p = 0; p < h.ncentroid_pages; p++)
	{
		OffsetNumber maxoff;
		VdbListData *lists;

		/*
		 * Copy the page's list headers and let the page go before reading
		 * their posting pages: a held buffer lock would hold off interrupts
		 * for the whole walk.
		 */
		buf = CheckReadPage(cs, VdbRunBlock(&map, h.centroid_start + p), seg, VDB_PAGE_CENTROID);
		if (!BufferIsValid(buf))
			return;
		page = BufferGetPage(buf);
		maxoff = PageGetMaxOffsetNumber(page);
		lists = palloc(sizeof(VdbListData) * Max(maxoff, 1));
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
			memcpy(&lists[off - 1], PageGetItem(page, PageGetItemId(page, off)),
				   offsetof(VdbListData, centroid));
		UnlockReleaseBuffer(buf);

		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
		{
			VdbListData *l = &lists[off - 1];
			int64		inlist = 0;

			if (l->start != expect_start || l->start + l->npages > seg->npages)
			{
				Problem(cs, "segment %u: list %u covers pages %u..%u, expected to start at %u",
						seg->segid, list, l->start, l->start + l->npages, expect_start);
				pfree(lists);
				return;
			}
			for (BlockNumber q = 0; q < l->npages; q++)
			{
				Buffer		pbuf;
				Page		ppage;
				OffsetNumber pmax;

				CHECK_FOR_INTERRUPTS();
				pbuf = CheckReadPage(cs, VdbRunBlock(&map, l->start + q), seg, VDB_PAGE_POSTING);
				if (!BufferIsValid(pbuf))
					continue;
				ppage = BufferGetPage(pbuf);
				pmax = PageGetMaxOffsetNumber(ppage);
				for (OffsetNumber e = FirstOffsetNumber; e <= pmax; e++)
				{
					VdbPostingEntry entry = (VdbPostingEntry) PageGetItem(ppage, PageGetItemId(ppage, e));

					RememberEntry(cs, &entry->tid, seg->segid);
				}
				inlist += pmax;
				UnlockReleaseBuffer(pbuf);
			}
			if (inlist > l->nentries)
				Problem(cs, "segment %u: list %u holds %lld entries, more than the %u written",
						seg->segid, list, (long long) inlist, l->nentries);
			present += inlist;
			expect_start += l->npages;
			list++;
		}
		pfree(lists);
	}
	if (list != h.nlists)
		Problem(cs, "segment %u: %u lists on centroid pages, header says %u", seg->segid, list, h.nlists);
	if (expect_start != seg->npages)
		Problem(cs, "segment %u: lists cover pages up to %u of a run of %u", seg->segid,
				expect_start, seg->npages);
	if (present != (int64) seg->nrows - seg->ndead)
		Problem(cs, "segment %u: %lld entries present, directory says %u rows and %u dead",
				seg->segid, (long long) present, seg->nrows, seg->ndead);
}

/*
 * Order entries by heap TID.
 */
static int
CompareEntries(const void *a, const void *b)
{
	return ItemPointerCompare(&((CheckEntry *) a)->tid, &((CheckEntry *) b)->tid);
}

/*
 * Order heap TIDs.
 */
static int
CompareTids(const void *a, const void *b)
{
	return ItemPointerCompare((ItemPointer) a, (ItemPointer) b);
}

/*
 * Check every entry against the table: its TID must name a line pointer
 * that is in use (an entry of a dead row may outlive the row until VACUUM,
 * but never its line pointer), and every row visible to a fresh snapshot
 * with an indexable value must be reached from exactly one entry.
 */
static void
CheckAgainstHeap(CheckState *cs, Relation heap, int dim, VdbDistanceKind kind)
{
	IndexInfo  *indexInfo = BuildIndexInfo(cs->index);
	BlockNumber nblocks = RelationGetNumberOfBlocks(heap);
	Snapshot	snapshot = RegisterSnapshot(GetLatestSnapshot());
	IndexFetchTableData *fetch;
	TupleTableSlot *slot = table_slot_create(heap, NULL);
	ItemPointerData *reached = palloc(sizeof(ItemPointerData) * Max(cs->nentries, 1));
	int64		nreached = 0;
	EState	   *estate = CreateExecutorState();
	ExprContext *econtext = GetPerTupleExprContext(estate);
	ExprState  *predicate;
	TableScanDesc scan;
	float	   *x = palloc(sizeof(float) * dim);
	bool		heap_pages = (heap->rd_tableam == GetHeapamTableAmRoutine() ||
							  RelationAmOid(RelationGetRelid(heap)) ==
							  get_table_am_oid("vdb", true));

	qsort(cs->entries, cs->nentries, sizeof(CheckEntry), CompareEntries);

	fetch = table_index_fetch_begin(heap);
	for (int64 i = 0; i < cs->nentries; i++)
	{
		ItemPointerData tid = cs->entries[i].tid;
		BlockNumber blk = ItemPointerGetBlockNumberNoCheck(&tid);
		OffsetNumber off = ItemPointerGetOffsetNumberNoCheck(&tid);
		bool		call_again = false;
		bool		all_dead = false;

		CHECK_FOR_INTERRUPTS();
		if (i > 0 && ItemPointerEquals(&tid, &cs->entries[i - 1].tid))
		{
			Problem(cs, "heap tuple (%u,%u) is indexed more than once (segments %u and %u)",
					blk, off, cs->entries[i - 1].segid, cs->entries[i].segid);
			continue;
		}
		if (blk >= nblocks)
		{
			Problem(cs, "entry in segment %u points to heap block %u beyond the end of the table",
					cs->entries[i].segid, blk);
			continue;
		}
		if (heap_pages)
		{
			Buffer		hbuf = ReadBuffer(heap, blk);
			Page		hpage;
			bool		ok;

			LockBuffer(hbuf, BUFFER_LOCK_SHARE);
			hpage = BufferGetPage(hbuf);
			ok = off >= FirstOffsetNumber && off <= PageGetMaxOffsetNumber(hpage) &&
				ItemIdIsUsed(PageGetItemId(hpage, off));
			UnlockReleaseBuffer(hbuf);
			if (!ok)
			{
				Problem(cs, "entry in segment %u points to heap tuple (%u,%u), which does not exist",
						cs->entries[i].segid, blk, off);
				continue;
			}
		}
		if (table_index_fetch_tuple(fetch, &tid, snapshot, slot, &call_again, &all_dead))
			reached[nreached++] = slot->tts_tid;
	}
	table_index_fetch_end(fetch);

	qsort(reached, nreached, sizeof(ItemPointerData), CompareTids);
	for (int64 i = 1; i < nreached; i++)
	{
		if (ItemPointerEquals(&reached[i], &reached[i - 1]))
			Problem(cs, "heap tuple (%u,%u) is reached from more than one index entry",
					ItemPointerGetBlockNumber(&reached[i]),
					ItemPointerGetOffsetNumber(&reached[i]));
	}

	predicate = ExecPrepareQual(indexInfo->ii_Predicate, estate);
	econtext->ecxt_scantuple = slot;
	scan = table_beginscan_strat(heap, snapshot, 0, NULL, true, false);
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		Datum		values[INDEX_MAX_KEYS];
		bool		isnull[INDEX_MAX_KEYS];
		MemoryContext old;
		bool		indexable;

		CHECK_FOR_INTERRUPTS();
		ResetExprContext(econtext);
		if (predicate != NULL && !ExecQual(predicate, econtext))
			continue;
		FormIndexDatum(indexInfo, slot, estate, values, isnull);
		if (isnull[0])
			continue;
		old = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
		indexable = VdbPrepareDatum(values[0], dim, kind, x);
		MemoryContextSwitchTo(old);
		if (!indexable)
			continue;
		if (bsearch(&slot->tts_tid, reached, nreached, sizeof(ItemPointerData), CompareTids) == NULL)
			Problem(cs, "heap tuple (%u,%u) is not indexed",
					ItemPointerGetBlockNumber(&slot->tts_tid),
					ItemPointerGetOffsetNumber(&slot->tts_tid));
	}
	table_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	FreeExecutorState(estate);
	UnregisterSnapshot(snapshot);
}

PG_FUNCTION_INFO_V1(vdb_check);

/*
 * vdb_check(regclass): verify a vdb_ivf index against its table; returns
 * one row per problem found (none when the index is sound).
 *
 * Holds ShareLock on the table so that the index and the table do not
 * change while they are compared.  A standby allows no lock that strong:
 * there it takes AccessShareLock, and a check that races with replay may
 * report problems that a second run does not.
 */
Datum
vdb_check(PG_FUNCTION_ARGS)
{
	Oid			indexoid = PG_GETARG_OID(0);
	Oid			heapoid = IvfIndexTable(indexoid);
	Relation	heap;
	CheckState	cs;
	VdbMetaPage meta;
	int			dim;
	VdbDistanceKind kind;
	int			ngrowing = 0;
	LOCKMODE	lockmode = RecoveryInProgress() ? AccessShareLock : ShareLock;
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;

	CheckTableOwner(heapoid);
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);

	heap = table_open(heapoid, lockmode);

	/*
	 * The check evaluates the index's expressions and predicate: run them as
	 * the table owner in a security-restricted operation, as CREATE INDEX
	 * and amcheck do, so that a superuser checking someone's index does not
	 * run that someone's functions with superuser rights.
	 */
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(heap->rd_rel->relowner,
						   save_sec_context | SECURITY_RESTRICTED_OPERATION);
	save_nestlevel = NewGUCNestLevel();

	memset(&cs, 0, sizeof(cs));
	cs.rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	cs.index = index_open(indexoid, AccessShareLock);
	cs.maxentries = 1024;
	cs.entries = palloc(sizeof(CheckEntry) * cs.maxentries);

	meta = VdbCopyMeta(cs.index);
	cs.meta = meta;
	cs.nblocks = RelationGetNumberOfBlocks(cs.index);
	cs.owner = palloc_extended(sizeof(uint32) * Max(cs.nblocks, 1),
							   MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	dim = VdbGetIndexDimensions(cs.index);
	kind = VdbGetDistanceKind(cs.index);
	if (meta->dimensions != dim || meta->kind != kind)
		Problem(&cs, "metapage says %u dimensions of kind %u, the index column has %d of kind %d",
				meta->dimensions, meta->kind, dim, (int) kind);

	for (uint32 i = 0; i < meta->nsegments; i++)
	{
		VdbSegment	seg = &meta->segments[i];

		if (seg->segid == 0 || seg->segid >= meta->next_segid)
			Problem(&cs, "directory slot %u has segment id %u, next id is %u",
					i, seg->segid, meta->next_segid);
		switch (seg->state)
		{
			case VDB_SEGMENT_GROWING:
				ngrowing++;
				/* FALLTHROUGH */
			case VDB_SEGMENT_FROZEN:
				CheckChain(&cs, seg);
				break;
			case VDB_SEGMENT_SEALED:
				CheckRun(&cs, seg, dim, kind);
				break;
			case VDB_SEGMENT_DROPPED:
				CheckDropped(&cs, seg);
				break;
			default:
				Problem(&cs, "segment %u has unknown state %u", seg->segid, seg->state);
				break;
		}
	}
	if (ngrowing != 1)
		Problem(&cs, "directory has %d growing segments, expected 1", ngrowing);

	CheckAgainstHeap(&cs, heap, dim, kind);

	AtEOXact_GUC(false, save_nestlevel);
	SetUserIdAndSecContext(save_userid, save_sec_context);

	index_close(cs.index, AccessShareLock);
	table_close(heap, lockmode);
	return (Datum) 0;
}
