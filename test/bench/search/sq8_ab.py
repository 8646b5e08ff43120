#!/usr/bin/env python3
"""Same-run A/B of sealed segment formats: float posting lists (format 1)
against SQ8 codes with exact re-rank (format 2), on Fashion-MNIST.

Two copies of the table, each with a vdb_ivf index built in one format
(vdb.debug_sealed_format).  For each vdb.probes of the sweep, the 1,000
queries run one statement at a time (autocommit, one client) in blocks of
50 that alternate between the two tables, so both formats see the same
machine load (the machine is shared); repeated --reps times.  Reports
recall@10 against exact ground truth, QPS per format (median and range
over repetitions), the per-repetition ratio, and for format 2 how many
candidates a query re-ranked from their float entries.

Connects with the usual PG* environment variables; run through sq8_ab.sh
for a private server.
"""
import argparse
import os
import re
import statistics
import sys
import time

import numpy as np
import psycopg2

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import fmnist  # noqa: E402
from bench import recall  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--probes", default="4,6,8,10")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--skip-load", action="store_true")
    ap.add_argument("--index-options", default="", help="WITH (...) for CREATE INDEX")
    ap.add_argument("--compare", default="",
                    help="NAME=A,B: compare two values of a setting on the format 2 "
                    "table (arm 1 = A, arm 2 = B) instead of the two formats")
    ap.add_argument("--arms", default="1:,2:",
                    help="FORMAT:INDEX_OPTIONS of the two tables' indexes, e.g. "
                    "'2:lists=490,2:' (options of --index-options apply to both)")
    ap.add_argument("--skip-index", action="store_true",
                    help="reuse the two tables and their indexes")
    args = ap.parse_args()
    cname, _, cv = args.compare.partition("=")
    cvalues = cv.split(",")
    arms = args.arms.split(",")
    k = args.k
    probes = [int(x) for x in args.probes.split(",")]

    base, base_labels = fmnist.load("train")
    queries, _ = fmnist.load("t10k", args.queries)
    _, truth_dists = fmnist.exact_neighbours(base, queries, k)
    lits = [(fmnist.vector_literal(q),) for q in queries]

    conn = psycopg2.connect("")
    conn.autocommit = True
    cur = conn.cursor()
    if not args.skip_load:
        cur.execute("CREATE EXTENSION IF NOT EXISTS vdb")
        fmnist.load_table(cur, base, base_labels)

    sizes = {}
    for fmt in (1, 2):
        table = f"fmnist_f{fmt}"
        if args.skip_index:
            cur.execute(f"SELECT coalesce(pg_relation_size(to_regclass('{table}_ivf')), 0)")
            sizes[fmt] = (cur.fetchone()[0] / 2**20, 0.0)
            continue
        cur.execute(f"DROP TABLE IF EXISTS {table}")
        cur.execute(f"CREATE TABLE {table} (id int, label int, embedding vector(784))")
        cur.execute(f"ALTER TABLE {table} ALTER COLUMN embedding SET STORAGE PLAIN")
        cur.execute(f"INSERT INTO {table} SELECT * FROM fmnist ORDER BY id")
        cur.execute(f"VACUUM ANALYZE {table}")
        arm_format, _, arm_options = arms[fmt - 1].partition(":")
        options = ", ".join(o for o in (args.index_options, arm_options) if o)
        cur.execute(f"SET vdb.debug_sealed_format = {arm_format}")
        t = time.perf_counter()
        cur.execute(f"CREATE INDEX {table}_ivf ON {table} USING vdb_ivf "
                    f"(embedding vector_l2_ops)" + (f" WITH ({options})" if options else ""))
        build = time.perf_counter() - t
        cur.execute("RESET vdb.debug_sealed_format")
        cur.execute(f"SELECT pg_relation_size('{table}_ivf')")
        sizes[fmt] = (cur.fetchone()[0] / 2**20, build)
    sqls = {fmt: f"SELECT id FROM fmnist_f{fmt} ORDER BY embedding <-> %s::vector LIMIT {k}"
            for fmt in (1, 2)}
    if args.compare:
        sqls[1] = sqls[2]

    qps = {}          # (fmt, probes) -> [qps per rep]
    rec = {}          # (fmt, probes) -> recall
    reranked = {}     # (fmt, probes) -> mean re-ranked per query
    scanned = {}      # (fmt, probes) -> mean entries scanned
    block = 50
    for p in probes:
        cur.execute(f"SET vdb.probes = {p}")
        for fmt in (1, 2):
            for lit in lits[:50]:
                cur.execute(sqls[fmt], lit)
                cur.fetchall()
        for rep in range(args.reps):
            spent = {1: 0.0, 2: 0.0}
            res = {1: [], 2: []}
            for start in range(0, len(lits), block):
                order = (1, 2) if (start // block + rep) % 2 == 0 else (2, 1)
                for fmt in order:
                    if args.compare:
                        cur.execute(f"SET {cname} = {cvalues[fmt - 1]}")
                    t = time.perf_counter()
                    for lit in lits[start:start + block]:
                        cur.execute(sqls[fmt], lit)
                        res[fmt].append([r[0] for r in cur.fetchall()])
                    spent[fmt] += time.perf_counter() - t
            for fmt in (1, 2):
                qps.setdefault((fmt, p), []).append(len(lits) / spent[fmt])
                rec[(fmt, p)] = np.mean([recall(r, truth_dists[i], base, queries[i], k)
                                         for i, r in enumerate(res[fmt])])
            print(f"probes {p} rep {rep}: QPS f1 {qps[(1, p)][-1]:.0f} f2 {qps[(2, p)][-1]:.0f} "
                  f"recall {rec[(1, p)]:.3f} {rec[(2, p)]:.3f}", file=sys.stderr)
        cur.execute("SET client_min_messages = debug1")
        for fmt in (1, 2):
            counts = []
            ents = []
            for lit in lits[:100]:
                del conn.notices[:]
                cur.execute(sqls[fmt], lit)
                cur.fetchall()
                cur.execute("SELECT 1")  # the scan ends with the statement
                for n in conn.notices:
                    m = re.search(r"(\d+) entries scanned, (\d+) re-ranked", n)
                    if m:
                        ents.append(int(m.group(1)))
                        counts.append(int(m.group(2)))
            if counts:
                reranked[(fmt, p)] = np.mean(counts)
                scanned[(fmt, p)] = np.mean(ents)
        cur.execute("RESET client_min_messages")

    print(f"## Sealed format A/B, Fashion-MNIST 60k x 784, L2, k={k}, "
          f"{len(lits)} queries in blocks of {block} alternating between the formats, "
          f"{args.reps} repetitions\n")
    for fmt in (1, 2):
        print(f"- arm {fmt}: format:options {arms[fmt - 1]}, index {sizes[fmt][0]:.0f} MiB, "
              f"build {sizes[fmt][1]:.2f} s")
    if args.compare:
        print(f"- both arms on table 2, comparing {args.compare}")
    print("\n| probes | recall f1 | recall f2 | QPS f1 median (min-max) | QPS f2 median (min-max) "
          "| f2/f1 per rep | entries scanned | re-ranked per query (f2) |")
    print("|---|---|---|---|---|---|---|---|")
    for p in probes:
        a, b = qps[(1, p)], qps[(2, p)]
        ratios = ", ".join(f"{y / x:.2f}" for x, y in zip(a, b))
        print(f"| {p} | {rec[(1, p)]:.3f} | {rec[(2, p)]:.3f} "
              f"| {statistics.median(a):.0f} ({min(a):.0f}-{max(a):.0f}) "
              f"| {statistics.median(b):.0f} ({min(b):.0f}-{max(b):.0f}) | {ratios} "
              f"| {scanned.get((2, p), 0):.0f} | {reranked.get((2, p), 0):.1f} |")


if __name__ == "__main__":
    main()
