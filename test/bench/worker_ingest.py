#!/usr/bin/env python3
"""Ingest into an indexed table with background sealing, against loading
first and building the index after, in the same run (Fashion-MNIST).

Usage: worker_ingest.py [segment_rows] [nqueries]

Uses the server psql reaches by default (PGHOST, PGPORT, PGDATABASE); the
database needs "CREATE EXTENSION vdb" and the vdb_ivf scan.  Standard
library only: every SQL statement goes through one psql process per step.

  A  COPY 60,000 rows into a bare table, then CREATE INDEX.
  B  CREATE INDEX on the empty table, then COPY the same rows in chunks
     of 5,000 (one transaction each, so that queries see the data grow):
     growing segments freeze every segment_rows rows and background
     sealers seal them.  Reports when the last COPY returned and when the
     last frozen segment was sealed, and the latency of queries run
     meanwhile (from the first chunk's commit on).
  Then recall@10 (exact ground truth by sequential scan) and queries/s of
  both indexes at several vdb.probes values.
"""
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SEGMENT_ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
NQUERIES = int(sys.argv[2]) if len(sys.argv) > 2 else 100
PROBES = (4, 10, 20)
CHUNK = 5000
# fashion_to_copy.py reads through fmnist.py, which needs numpy: Debian's python3 has it
DATA_PYTHON = "/usr/bin/python3"


def psql(sql, check=True):
    """Run SQL in one psql session; return its unaligned tuples-only output."""
    r = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"],
                       input=sql, capture_output=True, text=True)
    if check and r.returncode != 0:
        sys.exit("psql failed: " + r.stderr)
    return r.stdout


def timed(sql):
    t0 = time.time()
    psql(sql)
    return time.time() - t0


def query_script(queries, setup=""):
    """A psql script running each query with \\timing, marked by \\echo."""
    out = [setup, "\\timing on"]
    for i, q in enumerate(queries):
        out.append(f"\\echo Q {i}")
        out.append(f"SELECT id FROM {{table}} ORDER BY v <-> '{q}' LIMIT 10;")
    return "\n".join(out) + "\n"


def parse_results(text):
    """Query number -> (ids, ms) from a query_script run."""
    res = {}
    cur = None
    for line in text.splitlines():
        if line.startswith("Q "):
            cur = int(line[2:])
            res[cur] = ([], None)
        elif line.startswith("Time: ") and cur is not None:
            ms = float(re.match(r"Time: ([0-9.]+) ms", line).group(1))
            res[cur] = (res[cur][0], ms)
        elif cur is not None and line.strip().lstrip("-").isdigit():
            res[cur][0].append(int(line))
    return res


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(p * len(v)))]


def main():
    with tempfile.TemporaryDirectory() as tmp:
        train = os.path.join(tmp, "train.copy")
        with open(train, "w") as f:
            subprocess.run([DATA_PYTHON, os.path.join(HERE, "fashion_to_copy.py"), "train"],
                           stdout=f, check=True)
        test = subprocess.run([DATA_PYTHON, os.path.join(HERE, "fashion_to_copy.py"), "test"],
                              capture_output=True, text=True, check=True).stdout
        queries = [line.split("\t")[2] for line in test.splitlines()[:NQUERIES]]
        lines = open(train).read().splitlines(keepends=True)
        chunks = []
        for c in range(0, len(lines), CHUNK):
            path = os.path.join(tmp, f"chunk{c // CHUNK}.copy")
            with open(path, "w") as f:
                f.writelines(lines[c:c + CHUNK])
            os.chmod(path, 0o644)
            chunks.append(path)
        os.chmod(tmp, 0o755)
        os.chmod(train, 0o644)

        table_ddl = """DROP TABLE IF EXISTS {t};
CREATE TABLE {t} (id int, label int, v vector(784));
ALTER TABLE {t} ALTER COLUMN v SET STORAGE PLAIN;
"""
        index_ddl = f"CREATE INDEX {{t}}_v ON {{t}} USING vdb_ivf (v) WITH (segment_rows = {SEGMENT_ROWS});"
        copy = f"\\copy {{t}} FROM '{train}'"

        # A: load, then build.
        psql(table_ddl.format(t="fm_a") + "CHECKPOINT;")
        copy_a = timed(copy.format(t="fm_a"))
        build_a = timed(index_ddl.format(t="fm_a"))
        psql("VACUUM ANALYZE fm_a; CHECKPOINT;")

        # B: build on the empty table, then load; queries run meanwhile.
        psql(table_ddl.format(t="fm_b") + index_ddl.format(t="fm_b") + "CHECKPOINT;")
        script = query_script(queries * 50).replace("{table}", "fm_b")
        load_q = subprocess.Popen(["psql", "-X", "-q", "-At"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        captured = []
        reader = threading.Thread(target=lambda: captured.append(load_q.communicate(script)[0]))
        t0 = time.time()
        psql(f"\\copy fm_b FROM '{chunks[0]}'")
        reader.start()
        for path in chunks[1:]:
            psql(f"\\copy fm_b FROM '{path}'")
        copy_b = time.time() - t0
        while psql("SELECT count(*) FROM vdb_segments('fm_b_v') WHERE state IN ('frozen', 'sealing')").strip() != "0":
            time.sleep(0.2)
        sealed_b = time.time() - t0
        load_q.terminate()
        reader.join()
        during = [ms for _, ms in parse_results(captured[0]).values() if ms is not None]
        psql("VACUUM ANALYZE fm_b; CHECKPOINT;")
        segs_b = psql("SELECT string_agg(state || ':' || rows, ',' ORDER BY segment_id) "
                      "FROM vdb_segments('fm_b_v') WHERE state <> 'dropped'").strip()

        print(f"segment_rows {SEGMENT_ROWS}, {NQUERIES} queries")
        print(f"A: COPY into bare table {copy_a:.1f} s + CREATE INDEX {build_a:.1f} s"
              f" = {copy_a + build_a:.1f} s")
        print(f"B: COPY into indexed table in {len(chunks)} chunks {copy_b:.1f} s, all frozen segments sealed at"
              f" {sealed_b:.1f} s ({sealed_b / (copy_a + build_a):.2f} x A)")
        print(f"B segments after: {segs_b}")
        if during:
            print(f"query latency during B ingest: {len(during)} queries, median"
                  f" {pct(during, 0.5):.1f} ms, p95 {pct(during, 0.95):.1f} ms")

        # Exact ground truth, then recall and queries/s.
        exact = parse_results(psql(query_script(
            queries, "SET enable_indexscan = off; SET enable_bitmapscan = off;")
            .replace("{table}", "fm_a")))
        for table in ("fm_a", "fm_b"):
            for probes in PROBES:
                setup = f"SET vdb.probes = {probes};"
                script = query_script(queries, setup).replace("{table}", table)
                psql(script)    # warm-up
                t1 = time.time()
                got = parse_results(psql(script))
                elapsed = time.time() - t1
                hits = sum(len(set(got[i][0]) & set(exact[i][0])) for i in range(len(queries)))
                lat = [ms for _, ms in got.values()]
                print(f"{table} probes {probes:2d}: recall@10 {hits / (10 * len(queries)):.3f}"
                      f"  {len(queries) / elapsed:.0f} q/s (one psql session)"
                      f"  median {pct(lat, 0.5):.1f} ms")
        if during:
            quiet = parse_results(psql(query_script(queries, "SET vdb.probes = 10;")
                                       .replace("{table}", "fm_b")))
            q = [ms for _, ms in quiet.values()]
            print(f"latency during ingest / after (fm_b, probes 10): median"
                  f" {pct(during, 0.5) / pct(q, 0.5):.2f} x, p95 {pct(during, 0.95) / pct(q, 0.95):.2f} x")


if __name__ == "__main__":
    main()
