#!/usr/bin/env python3
"""The 1M-row suite of issue 6: a seeded synthetic clustered set, 1M x 128, L2.

Run through run_1m.sh, which starts a private server and passes the PG*
environment.  Measures, in one run: COPY and CREATE INDEX of vdb_ivf (the
default segmented index, and one segment with FAISS's list count), FAISS
IndexIVFFlat train+add (one thread, the same list count), recall@10 vs
queries/s sweeps of vdb.probes, FAISS nprobe and, when pgvector is
installed, pgvector IVFFlat (lists=1000) probes; index bytes read per query
and the memory-bandwidth bound they imply.  Exit status 1 when a target is
missed, 2 when the suite itself failed.
"""
import argparse
import datetime
import io
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from suite import (K, connect, finish_report, loadavg, log, machine,  # noqa: E402
                   mean_recall, read_bandwidth, run_queries, segments, segments_text)

DIM = 128


def make_data(n, nq, clusters, seed):
    """Base and query vectors drawn around `clusters` centres of uneven
    size and spread (float32), seeded: every run sees the same data."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 1.0, (clusters, DIM)).astype(np.float32)
    weights = rng.pareto(1.5, clusters) + 1.0
    weights /= weights.sum()
    spread = rng.uniform(0.15, 0.45, clusters).astype(np.float32)

    def draw(m):
        c = rng.choice(clusters, size=m, p=weights)
        return centres[c] + rng.normal(0.0, 1.0, (m, DIM)).astype(np.float32) * spread[c, None]

    return draw(n).astype(np.float32), draw(nq).astype(np.float32)


def exact_neighbours(base, queries, k, block=65536):
    """Exact k nearest rows by L2 over blocks of the base (float64 sums):
    (ids [nq, k], distances [nq, k])."""
    nq = len(queries)
    best_d = np.full((nq, k), np.inf)
    best_i = np.zeros((nq, k), dtype=np.int64)
    q64 = queries.astype(np.float64)
    qsq = (q64 ** 2).sum(axis=1)[:, None]
    for start in range(0, len(base), block):
        b = base[start:start + block].astype(np.float64)
        d = qsq - 2.0 * q64 @ b.T + (b ** 2).sum(axis=1)[None, :]
        part = np.argpartition(d, k - 1, axis=1)[:, :k]
        cand_d = np.concatenate([best_d, np.take_along_axis(d, part, axis=1)], axis=1)
        cand_i = np.concatenate([best_i, part + start], axis=1)
        order = np.lexsort((cand_i, cand_d), axis=1)[:, :k]
        best_d = np.take_along_axis(cand_d, order, axis=1)
        best_i = np.take_along_axis(cand_i, order, axis=1)
    return best_i, np.sqrt(np.maximum(best_d, 0))


def binary_copy(vectors, first_id=0):
    """COPY BINARY data of (id int4, embedding vector) rows: vector's binary
    form is int16 dim, int16 unused, float4 big-endian (pgvector's and vdb's)."""
    n = len(vectors)
    row = np.dtype([("nfields", ">i2"), ("idlen", ">i4"), ("id", ">i4"),
                    ("veclen", ">i4"), ("dim", ">i2"), ("unused", ">i2"),
                    ("x", ">f4", (DIM,))])
    rows = np.zeros(n, dtype=row)
    rows["nfields"] = 2
    rows["idlen"] = 4
    rows["id"] = np.arange(first_id, first_id + n)
    rows["veclen"] = 4 + 4 * DIM
    rows["dim"] = DIM
    rows["x"] = vectors
    return b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8 + rows.tobytes() + b"\xff\xff"


def load_table(cur, table, data, using=""):
    """A fresh table (id, embedding vector(128)) filled by one binary COPY;
    seconds taken."""
    cur.execute(f"DROP TABLE IF EXISTS {table}")
    cur.execute(f"CREATE TABLE {table} (id int, embedding vector({DIM})) {using}")
    cur.execute(f"ALTER TABLE {table} ALTER COLUMN embedding SET STORAGE PLAIN")
    t = time.perf_counter()
    cur.copy_expert(f"COPY {table} FROM STDIN (FORMAT binary)", io.BytesIO(data))
    s = time.perf_counter() - t
    cur.execute(f"VACUUM ANALYZE {table}")
    cur.execute("CHECKPOINT")
    return s


def timed(cur, sql):
    t = time.perf_counter()
    cur.execute(sql)
    return time.perf_counter() - t


def qps_at(rows, target=0.95):
    """The best queries/s among sweep points with recall >= target, or None."""
    ok = [qps for r, qps in rows if r >= target]
    return max(ok) if ok else None


class Suite1M:
    def __init__(self, args):
        self.args = args
        self.lines = []
        self.checks = []
        self.conn = connect()
        self.cur = self.conn.cursor()

    def out(self, text=""):
        self.lines.append(text)

    def check(self, target, measured, ok):
        self.checks.append((target, measured, ok))

    def sweep(self, cur, label, table, settings, set_sql):
        """recall@10 and queries/s of one client for each setting."""
        sql = f"SELECT id FROM {table} ORDER BY embedding <-> %s::vector LIMIT {K}"
        rows = []
        self.out(f"\n{label}\n")
        self.out("| setting | recall@10 | QPS |")
        self.out("|---|---|---|")
        for v in settings:
            cur.execute(set_sql % v)
            res, qps = run_queries(cur, sql, self.params, 50, self.args.rounds)
            r = mean_recall(res, self.kth, self.base, self.queries)
            rows.append((r, qps))
            self.out(f"| {v} | {r:.3f} | {qps:,.0f} |")
            log(f"{label} {v}: recall {r:.3f}, {qps:.0f} QPS")
        return rows

    def bytes_per_query(self, cur, table, index, nq=100):
        """Index bytes read (shared buffer hits and reads) per query."""
        cur.execute("SELECT pg_stat_force_next_flush()")
        cur.execute("SELECT idx_blks_read + idx_blks_hit FROM pg_statio_user_indexes "
                    "WHERE indexrelname = %s", (index,))
        before = cur.fetchone()[0]
        for p in self.params[:nq]:
            cur.execute(f"SELECT id FROM {table} ORDER BY embedding <-> %s::vector LIMIT {K}", p)
            cur.fetchall()
        cur.execute("SELECT pg_stat_force_next_flush()")
        time.sleep(0.6)
        cur.execute("SELECT idx_blks_read + idx_blks_hit FROM pg_statio_user_indexes "
                    "WHERE indexrelname = %s", (index,))
        return (cur.fetchone()[0] - before) * 8192.0 / nq

    def run(self):
        a = self.args
        cur = self.cur
        t = time.perf_counter()
        self.base, self.queries = make_data(a.rows, a.queries, a.clusters, a.seed)
        self.truth, dists = exact_neighbours(self.base, self.queries, K)
        self.kth = dists[:, K - 1]
        self.params = [("[" + ",".join("%.6g" % x for x in q) + "]",) for q in self.queries]
        data = binary_copy(self.base)
        log(f"data and ground truth {time.perf_counter() - t:.0f} s")
        self.out(f"## Data\n\n{a.rows:,} x {DIM} float32 around {a.clusters} Gaussian centres "
                 f"(Pareto sizes, spreads 0.15-0.45), seed {a.seed}; {a.queries} queries from the "
                 f"same distribution; k={K}, L2, exact ground truth by numpy.")

        # Build
        cur.execute("CREATE EXTENSION IF NOT EXISTS vdb")
        cur.execute(f"SET maintenance_work_mem = '{a.maintenance_work_mem}'")
        copy_s = load_table(cur, "big", data)
        build_s = timed(cur, "CREATE INDEX big_ivf ON big USING vdb_ivf (embedding)")
        segs = segments(cur, "big_ivf")
        cur.execute("SELECT pg_relation_size('big_ivf'), pg_relation_size('big')")
        ibytes, tbytes = cur.fetchone()
        one_s = timed(cur, f"CREATE INDEX big_one ON big USING vdb_ivf (embedding) "
                           f"WITH (segment_rows = {a.rows}, lists = {a.lists})")
        one_segs = segments(cur, "big_one")
        cur.execute("DROP INDEX big_one")
        self.out("\n## 1. Build\n")
        self.out(f"- COPY (binary) of {a.rows:,} rows into a bare table: {copy_s:.1f} s "
                 f"({a.rows / copy_s:,.0f} rows/s)")
        self.out(f"- CREATE INDEX vdb_ivf, defaults: {build_s:.1f} s; {segments_text(segs)}; "
                 f"index {ibytes / 2**20:.0f} MiB, table {tbytes / 2**20:.0f} MiB")
        self.out(f"- CREATE INDEX vdb_ivf, one segment of {a.lists} lists "
                 f"(segment_rows = {a.rows}): {one_s:.1f} s; {segments_text(one_segs)}")
        log(f"vdb build {build_s:.1f} s, one segment {one_s:.1f} s")

        faiss_rows = None
        try:
            import faiss
        except ImportError:
            faiss = None
            self.out("- FAISS: python3-faiss not installed, skipped")
        if faiss is not None:
            faiss.omp_set_num_threads(1)
            t = time.perf_counter()
            index = faiss.IndexIVFFlat(faiss.IndexFlatL2(DIM), DIM, a.lists)
            index.train(self.base)
            index.add(self.base)
            faiss_s = time.perf_counter() - t
            self.out(f"- FAISS IndexIVFFlat nlist={a.lists}, one thread, its default training "
                     f"(25 iterations): train+add {faiss_s:.1f} s")
            self.check(f"CREATE INDEX within 2 x FAISS IVFFlat train+add (nlist={a.lists}, same run)",
                       f"{one_s:.1f} s vs {faiss_s:.1f} s: {one_s / faiss_s:.2f} x",
                       one_s <= 2 * faiss_s)
            log(f"faiss train+add {faiss_s:.1f} s")

        # Search
        self.out("\n## 2. Search: recall@10 vs queries/s, one client through SQL\n")
        cur.execute("SET enable_seqscan = off")
        probes = [int(x) for x in a.probes.split(",")]
        vdb_rows = self.sweep(cur, "vdb_ivf, defaults (vdb.probes per sealed segment on average)",
                              "big", probes, "SET vdb.probes = %d")
        # bytes read at the operating point: the fewest probes reaching 0.95
        op = next((p for p, (r, _) in zip(probes, vdb_rows) if r >= 0.95), probes[-1])
        cur.execute(f"SET vdb.probes = {op}")
        bpq = self.bytes_per_query(cur, "big", "big_ivf")
        op_qps = dict(zip(probes, vdb_rows))[op][1]
        cur.execute("RESET vdb.probes")
        cur.execute("RESET enable_seqscan")
        if faiss is not None:
            faiss_rows = []
            self.out(f"\nFAISS IndexIVFFlat nlist={a.lists}, one thread, one query at a time "
                     "(no SQL; for recall-vs-probes behaviour)\n")
            self.out("| nprobe | recall@10 | QPS |")
            self.out("|---|---|---|")
            for nprobe in [int(x) for x in a.faiss_probes.split(",")]:
                index.nprobe = nprobe
                got = []
                t = time.perf_counter()
                for q in self.queries:
                    got.append([int(i) for i in index.search(q[None, :], K)[1][0] if i >= 0])
                qps = len(self.queries) / (time.perf_counter() - t)
                r = mean_recall(got, self.kth, self.base, self.queries)
                faiss_rows.append((r, qps))
                self.out(f"| {nprobe} | {r:.3f} | {qps:,.0f} |")
            del index

        bw = read_bandwidth()
        self.out(f"\n- index bytes read per query at vdb.probes = {op} (the fewest probes reaching "
                 f"recall 0.95): {bpq / 2**20:.2f} MiB; single-thread read bandwidth measured now "
                 f"{bw / 1e9:.1f} GB/s, so the memory-bandwidth bound there is {bw / bpq:,.0f} "
                 f"queries/s; measured {op_qps:,.0f} ({op_qps / (bw / bpq):.2f} of the bound)")

        # pgvector, when installed
        cur.execute("SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'")
        pgv_rows = None
        if cur.fetchone()[0] > 0:
            cur.execute("DROP DATABASE IF EXISTS pgv")
            cur.execute("CREATE DATABASE pgv")
            pconn = connect("dbname=pgv")
            pcur = pconn.cursor()
            pcur.execute("CREATE EXTENSION vector")
            pcur.execute(f"SET maintenance_work_mem = '{a.maintenance_work_mem}'")
            pcopy = load_table(pcur, "big", data)
            pbuild = timed(pcur, "CREATE INDEX big_ivfflat ON big USING ivfflat "
                                 "(embedding vector_l2_ops) WITH (lists = 1000)")
            self.out("\n## 3. pgvector (installed), same server and data\n")
            self.out(f"- COPY {pcopy:.1f} s; CREATE INDEX ivfflat lists=1000: {pbuild:.1f} s "
                     f"({pbuild / build_s:.2f} x vdb's default build)")
            pcur.execute("SET enable_seqscan = off")
            pgv_rows = self.sweep(pcur, "pgvector IVFFlat lists=1000", "big",
                                  [int(x) for x in a.pgvector_probes.split(",")],
                                  "SET ivfflat.probes = %d")
            pconn.close()
            cur.execute("DROP DATABASE pgv")
        else:
            self.out("\n## 3. pgvector\n\n- not installed: the QPS target cannot be checked "
                     "(baselines.md has no 1M-row figures)")

        v95 = qps_at(vdb_rows)
        if pgv_rows is not None:
            p95 = qps_at(pgv_rows)
            self.check("QPS at recall@10 >= 0.95 >= 2 x pgvector IVFFlat (same run)",
                       f"vdb {v95 or 0:,.0f}, pgvector {p95 or 0:,.0f}"
                       + (f": {v95 / p95:.2f} x" if v95 and p95 else ""),
                       bool(v95 and (not p95 or v95 >= 2 * p95)))
        else:
            self.check("QPS at recall@10 >= 0.95 >= 2 x pgvector IVFFlat",
                       f"vdb {v95 or 0:,.0f}; pgvector not installed", False)
        if faiss_rows:
            f95 = qps_at(faiss_rows)
            self.out(f"- at recall >= 0.95: vdb {v95 or 0:,.0f} QPS through SQL, FAISS {f95 or 0:,.0f} "
                     "QPS in-process")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="directory for the report")
    ap.add_argument("--rows", type=int, default=1000000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--clusters", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=20261128)
    ap.add_argument("--lists", type=int, default=4000, help="FAISS nlist and the one-segment index's lists")
    ap.add_argument("--probes", default="1,2,4,8,16,32,64")
    ap.add_argument("--faiss-probes", default="8,16,32,64,128")
    ap.add_argument("--pgvector-probes", default="1,2,4,8,16,32,64")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--maintenance-work-mem", default="2GB")
    args = ap.parse_args()

    started = time.perf_counter()
    load_start = loadavg()
    s = Suite1M(args)
    s.run()
    elapsed = time.perf_counter() - started
    stamp = datetime.datetime.utcnow().strftime("%Y-%m-%d")
    rev = os.environ.get("VDB_BENCH_COMMIT", "?")
    s.cur.execute("SHOW shared_buffers")
    head = [f"# 1M-row suite, {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC\n",
            f"- machine: {machine()}",
            f"- load average at start {load_start}, at end {loadavg()} (the machine is shared; "
            "compare the same-run ratios)",
            f"- commit {rev}; private PostgreSQL server, shared_buffers {s.cur.fetchone()[0]}, "
            "STORAGE PLAIN, one client through psycopg2 over a Unix socket",
            f"- suite time {elapsed / 60:.1f} min\n"]
    finish_report(os.path.join(args.out, f"{stamp}-1m.md"), "Targets (issue 6, 1M rows)",
                  head + s.lines, s.checks)

if __name__ == "__main__":
    try:
        main()
    except Exception:
        import traceback
        traceback.print_exc()
        sys.exit(2)
