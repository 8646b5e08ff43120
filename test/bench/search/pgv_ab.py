#!/usr/bin/env python3
"""vdb_ivf against pgvector (when installed) with interleaved query blocks.

On a shared, noisy machine, figures measured minutes apart are not
comparable.  This runs the same 1,000 Fashion-MNIST queries (k=10, L2, one
statement each, autocommit, one client) against vdb_ivf and pgvector's
HNSW (m=16, ef_construction=64) and IVFFlat (lists=1000), in blocks of 50
queries that rotate through the arms, so every arm sees the same load;
repeated --reps times.  pgvector lives in a database of its own (both
extensions define `vector`).  Reports recall@10 against exact ground truth
and QPS per arm, and each repetition's ratio of vdb to the others.

Uses the table fmnist (loaded by sq8_ab.py or bench.py) in the current
database; run through sq8_ab.sh's server:  BENCH_SCRIPT=pgv_ab.py.
"""
import argparse
import io
import os
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
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--vdb-probes", default="6,8")
    ap.add_argument("--hnsw-ef", default="10,20")
    ap.add_argument("--ivfflat-probes", default="8")
    args = ap.parse_args()
    k = 10

    base, labels = fmnist.load("train")
    queries, _ = fmnist.load("t10k", args.queries)
    _, truth = fmnist.exact_neighbours(base, queries, k)
    lits = [(fmnist.vector_literal(q),) for q in queries]

    vconn = psycopg2.connect("")
    vconn.autocommit = True
    vcur = vconn.cursor()
    vcur.execute("DROP INDEX IF EXISTS fmnist_ivf")
    t = time.perf_counter()
    vcur.execute("CREATE INDEX fmnist_ivf ON fmnist USING vdb_ivf (embedding vector_l2_ops)")
    vdb_build = time.perf_counter() - t

    vcur.execute("SELECT count(*) FROM pg_database WHERE datname = 'pgv'")
    if vcur.fetchone()[0] == 0:
        vcur.execute("CREATE DATABASE pgv")
    pconn = psycopg2.connect(dbname="pgv")
    pconn.autocommit = True
    pcur = pconn.cursor()
    pcur.execute("CREATE EXTENSION IF NOT EXISTS vector")
    pcur.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
    pgv_version = pcur.fetchone()[0]
    builds = {}
    for table, ddl in (("pgv_hnsw", "USING hnsw (embedding vector_l2_ops) WITH (m = 16, ef_construction = 64)"),
                       ("pgv_ivf", "USING ivfflat (embedding vector_l2_ops) WITH (lists = 1000)")):
        pcur.execute(f"SELECT to_regclass('{table}_idx') IS NOT NULL")
        if pcur.fetchone()[0]:
            continue
        pcur.execute(f"DROP TABLE IF EXISTS {table}")
        pcur.execute(f"CREATE TABLE {table} (id int, embedding vector(784))")
        pcur.execute(f"ALTER TABLE {table} ALTER COLUMN embedding SET STORAGE PLAIN")
        text = io.StringIO("".join(f"{i}\t{fmnist.vector_literal(v)}\n" for i, v in enumerate(base)))
        pcur.copy_expert(f"COPY {table} (id, embedding) FROM STDIN", text)
        pcur.execute(f"VACUUM ANALYZE {table}")
        t = time.perf_counter()
        pcur.execute(f"CREATE INDEX {table}_idx ON {table} {ddl}")
        builds[table] = time.perf_counter() - t
        print(f"built {table} in {builds[table]:.1f} s", file=sys.stderr)

    arms = []
    for p in args.vdb_probes.split(","):
        arms.append((f"vdb_ivf probes={p}", vcur, f"SET vdb.probes = {p}",
                     f"SELECT id FROM fmnist ORDER BY embedding <-> %s::vector LIMIT {k}"))
    for e in args.hnsw_ef.split(","):
        arms.append((f"pgvector HNSW ef_search={e}", pcur, f"SET hnsw.ef_search = {e}",
                     f"SELECT id FROM pgv_hnsw ORDER BY embedding <-> %s::vector LIMIT {k}"))
    for p in args.ivfflat_probes.split(","):
        arms.append((f"pgvector IVFFlat probes={p}", pcur, f"SET ivfflat.probes = {p}",
                     f"SELECT id FROM pgv_ivf ORDER BY embedding <-> %s::vector LIMIT {k}"))

    for name, cur, setting, sql in arms:    # warm-up
        cur.execute(setting)
        for lit in lits[:50]:
            cur.execute(sql, lit)
            cur.fetchall()
    qps = {a[0]: [] for a in arms}
    rec = {}
    block = 50
    for rep in range(args.reps):
        spent = {a[0]: 0.0 for a in arms}
        res = {a[0]: [] for a in arms}
        for start in range(0, len(lits), block):
            rot = (start // block + rep) % len(arms)
            for name, cur, setting, sql in arms[rot:] + arms[:rot]:
                cur.execute(setting)
                t = time.perf_counter()
                for lit in lits[start:start + block]:
                    cur.execute(sql, lit)
                    res[name].append([r[0] for r in cur.fetchall()])
                spent[name] += time.perf_counter() - t
        for name in spent:
            qps[name].append(len(lits) / spent[name])
            rec[name] = np.mean([recall(r, truth[i], base, queries[i], k) for i, r in enumerate(res[name])])
        print(f"rep {rep}: " + ", ".join(f"{n} {qps[n][-1]:.0f}" for n in qps), file=sys.stderr)

    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    print(f"## vdb_ivf against pgvector {pgv_version}, interleaved blocks of {block} queries, "
          f"{args.reps} repetitions\n")
    print(f"- Fashion-MNIST 60k x 784, {len(lits)} queries, k={k}, L2, one client, autocommit; "
          f"load average at the end {' '.join(load)}")
    print(f"- builds: vdb_ivf {vdb_build:.1f} s" +
          "".join(f", {t} {b:.1f} s" for t, b in builds.items()) + "\n")
    first = arms[0][0]
    print("| arm | recall@10 | QPS median (min-max) | " +
          " | ".join(f"{a[0]} / this, per rep" for a in arms[:len(args.vdb_probes.split(','))]) + " |")
    print("|---|---|---|" + "---|" * len(args.vdb_probes.split(",")))
    for name, *_ in arms:
        q = qps[name]
        ratios = []
        for v, *_ in arms[:len(args.vdb_probes.split(","))]:
            ratios.append(", ".join(f"{a / b:.2f}" for a, b in zip(qps[v], q)))
        print(f"| {name} | {rec[name]:.3f} | {statistics.median(q):.0f} ({min(q):.0f}-{max(q):.0f}) | "
              + " | ".join(ratios) + " |")
    _ = first


if __name__ == "__main__":
    main()
