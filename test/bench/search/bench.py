#!/usr/bin/env python3
"""Fashion-MNIST search benchmark for vdb_ivf: recall@10 against QPS.

Loads the 60,000 training images (784 dims) as the base, takes the first
1,000 test images as queries, computes the exact ground truth with numpy,
loads the table with COPY, builds the vdb_ivf index, then runs every query
one statement at a time (autocommit, one client) for each vdb.probes in the
sweep, after 50 warm-up queries.  A sequential scan of the same queries
gives the yardstick measured in the same run.

Connects with the usual PG* environment variables (see README.md, or use
run.sh which starts a private server).  Prints a Markdown report.
"""
import argparse
import os
import sys
import time

import numpy as np
import psycopg2

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import fmnist  # noqa: E402
from suite import run_queries  # noqa: E402


def recall(got, truth_dists, base, query, k):
    """Share of the k returned rows within the true k-th distance (ties count)."""
    if not got:
        return 0.0
    limit = truth_dists[k - 1] * (1 + 1e-6) + 1e-6
    d = np.sqrt(((base[got] - query) ** 2).sum(axis=1))
    return float((d <= limit).sum()) / k


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--probes", default="1,2,4,6,8,12,16,32")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--seq-queries", type=int, default=50)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3,
                    help="timed passes over the queries per setting; the best counts "
                    "(the machine is shared: the best pass is the least disturbed)")
    ap.add_argument("--filtered-probes", type=int, default=10,
                    help="vdb.probes for the filtered runs (0: skip them)")
    ap.add_argument("--skip-load", action="store_true", help="reuse the loaded table and index")
    args = ap.parse_args()
    k = args.k

    base, base_labels = fmnist.load("train")
    queries, query_labels = fmnist.load("t10k", args.queries)
    t = time.perf_counter()
    _, truth_dists = fmnist.exact_neighbours(base, queries, k)
    print(f"ground truth: {time.perf_counter() - t:.1f} s (numpy brute force)", file=sys.stderr)
    lits = [fmnist.vector_literal(q) for q in queries]

    conn = psycopg2.connect("")
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("SHOW shared_buffers")
    shared_buffers = cur.fetchone()[0]

    report = []
    if not args.skip_load:
        cur.execute("CREATE EXTENSION IF NOT EXISTS vdb")
        load = fmnist.load_table(cur, base, base_labels)
        t = time.perf_counter()
        cur.execute("CREATE INDEX fmnist_ivf ON fmnist USING vdb_ivf (embedding vector_l2_ops)")
        build = time.perf_counter() - t
        t = time.perf_counter()
        cur.execute("CREATE INDEX fmnist_id ON fmnist (id)")
        btree = time.perf_counter() - t
        cur.execute("ANALYZE fmnist")
        report.append(f"- COPY of {len(base)} rows: {load:.1f} s ({len(base) / load:.0f} rows/s)")
        report.append(f"- CREATE INDEX vdb_ivf: {build:.2f} s (btree on id, same run: {btree:.2f} s)")
    cur.execute("SELECT pg_size_pretty(pg_relation_size('fmnist_ivf')), "
                "pg_size_pretty(pg_relation_size('fmnist'))")
    isize, tsize = cur.fetchone()
    try:
        cur.execute("SELECT string_agg(state || ' ' || rows || ' rows ' || lists || ' lists', ', ') "
                    "FROM vdb_segments('fmnist_ivf')")
        segments = cur.fetchone()[0]
    except psycopg2.Error:
        segments = "(vdb_segments unavailable)"
    report.append(f"- index size {isize} (table {tsize}); segments: {segments}")
    report.append(f"- shared_buffers {shared_buffers}, {len(queries)} queries, k={k}, "
                  "one client, autocommit, 50 warm-up queries")

    sql = "SELECT id FROM fmnist ORDER BY embedding <-> %s::vector LIMIT " + str(k)

    # The yardstick: a sequential scan (exact) of the first queries.
    cur.execute("SET enable_indexscan = off")
    res, seq_qps = run_queries(cur, sql, [(lit,) for lit in lits[:args.seq_queries]],
                               min(5, args.seq_queries))
    seq_recall = np.mean([recall(r, truth_dists[i], base, queries[i], k) for i, r in enumerate(res)])
    cur.execute("RESET enable_indexscan")

    cur.execute("EXPLAIN (COSTS OFF) " + sql, (lits[0],))
    plan = " / ".join(r[0].strip() for r in cur.fetchall())

    rows = []
    for p in [int(x) for x in args.probes.split(",")]:
        cur.execute(f"SET vdb.probes = {p}")
        res, qps = run_queries(cur, sql, [(lit,) for lit in lits], 50, args.rounds)
        rec = np.mean([recall(r, truth_dists[i], base, queries[i], k) for i, r in enumerate(res)])
        fractions = []
        exec_ms = []
        for lit in lits[:100]:
            cur.execute("EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) " + sql, (lit,))
            exec_ms.append(cur.fetchone()[0][0]["Execution Time"])
            cur.execute("SELECT entries_scanned::float8 / entries_total, lists_probed FROM vdb_last_scan()")
            fractions.append(cur.fetchone())
        frac = np.mean([f[0] for f in fractions])
        lists = np.mean([f[1] for f in fractions])
        rows.append((p, rec, qps, frac, lists, np.median(exec_ms)))
        print(f"probes={p}: recall {rec:.3f} QPS {qps:.0f}", file=sys.stderr)

    print("## vdb_ivf on Fashion-MNIST (60k x 784, L2)\n")
    print("\n".join(report))
    print(f"- plan: {plan}\n")
    print("| vdb.probes | lists probed | entries scanned | recall@10 | QPS | QPS / seq scan "
          "| executor ms (median) |")
    print("|---|---|---|---|---|---|---|")
    for p, rec, qps, frac, lists, ms in rows:
        print(f"| {p} | {lists:.0f} | {100 * frac:.1f}% | {rec:.3f} | {qps:.0f} "
              f"| {qps / seq_qps:.1f}x | {ms:.3f} |")
    print(f"| seq scan | | 100% | {seq_recall:.3f} | {seq_qps:.1f} | 1x | |")

    if args.filtered_probes > 0:
        filtered(cur, args, base, base_labels, queries, query_labels, lits, k)


def filtered(cur, args, base, base_labels, queries, query_labels, lits, k):
    """Filtered queries as in baselines.md: WHERE label = the query's class
    ("same") or the next class ("shift", whose rows are far away)."""
    sql = ("SELECT id FROM fmnist WHERE label = %s ORDER BY embedding <-> %s::vector LIMIT "
           + str(k))
    cur.execute(f"SET vdb.probes = {args.filtered_probes}")
    cur.execute("EXPLAIN (COSTS OFF) " + sql, (0, lits[0]))
    plan = " / ".join(r[0].strip() for r in cur.fetchall() if "Order By" not in r[0])
    print(f"\n## Filtered (about 10% of rows match), vdb.probes = {args.filtered_probes}\n")
    print(f"plan: {plan}\n")
    print("| filter | recall@10 | queries with < 10 rows | QPS | mean skipped for order |")
    print("|---|---|---|---|---|")
    for name, shift in (("same", 0), ("shift", 1)):
        labels = (query_labels + shift) % 10
        params = [(int(labels[i]), lits[i]) for i in range(len(lits))]
        res, qps = run_queries(cur, sql, params, 50, args.rounds)
        recalls = []
        for i, r in enumerate(res):
            subset = np.nonzero(base_labels == labels[i])[0]
            _, d = fmnist.exact_neighbours(base[subset], queries[i:i + 1], k)
            got = [g for g in r]
            recalls.append(recall(got, d[0], base, queries[i], k))
        short = sum(1 for r in res if len(r) < k)
        skipped = []
        for p in params[:100]:
            cur.execute(sql, p)
            cur.fetchall()
            cur.execute("SELECT skipped_for_order FROM vdb_last_scan()")
            skipped.append(cur.fetchone()[0] or 0)
        print(f"| {name} | {np.mean(recalls):.3f} | {short} | {qps:.0f} | {np.mean(skipped):.1f} |")
    cur.execute("RESET vdb.probes")


if __name__ == "__main__":
    main()
