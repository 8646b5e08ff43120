#!/usr/bin/env python3
"""Merge compaction on Fashion-MNIST: many small sealed segments against
the same rows after the sealer merged them, in the same run.

Usage: worker_merge.py [segment_rows] [chunk] [nqueries]

Uses the server psql reaches by default; the database needs "CREATE
EXTENSION vdb" and the vdb_ivf scan.  Loads the 60,000 training rows in
chunks, calling vdb_seal() after each, so that every chunk becomes one
small sealed segment; measures recall@10 and queries/s; then VACUUM
triggers the sealer, which merges runs of small segments; measures again.
"""
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from worker_ingest import psql, query_script, parse_results, pct, HERE, DATA_PYTHON  # noqa: E402

SEGMENT_ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
CHUNK = int(sys.argv[2]) if len(sys.argv) > 2 else 2500
NQUERIES = int(sys.argv[3]) if len(sys.argv) > 3 else 100


def measure(queries, exact, label):
    for probes in (4, 10, 20):
        script = query_script(queries, f"SET vdb.probes = {probes};").replace("{table}", "fm_m")
        psql(script)
        t0 = time.time()
        got = parse_results(psql(script))
        elapsed = time.time() - t0
        hits = sum(len(set(got[i][0]) & set(exact[i][0])) for i in range(len(queries)))
        print(f"{label} probes {probes:2d}: recall@10 {hits / (10 * len(queries)):.3f}"
              f"  {len(queries) / elapsed:.0f} q/s"
              f"  median {pct([ms for _, ms in got.values()], 0.5):.1f} ms")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        train = subprocess.run([DATA_PYTHON, os.path.join(HERE, "fashion_to_copy.py"), "train"],
                               capture_output=True, text=True, check=True).stdout.splitlines(keepends=True)
        test = subprocess.run([DATA_PYTHON, os.path.join(HERE, "fashion_to_copy.py"), "test"],
                              capture_output=True, text=True, check=True).stdout
        queries = [line.split("\t")[2] for line in test.splitlines()[:NQUERIES]]
        psql(f"""DROP TABLE IF EXISTS fm_m;
CREATE TABLE fm_m (id int, label int, v vector(784));
ALTER TABLE fm_m ALTER COLUMN v SET STORAGE PLAIN;
CREATE INDEX fm_m_v ON fm_m USING vdb_ivf (v) WITH (segment_rows = {SEGMENT_ROWS});""")
        for c in range(0, len(train), CHUNK):
            path = os.path.join(tmp, "chunk.copy")
            with open(path, "w") as f:
                f.writelines(train[c:c + CHUNK])
            os.chmod(path, 0o644)
            psql(f"SET vdb.auto_seal = off;\n\\copy fm_m FROM '{path}'\nSELECT vdb_seal('fm_m_v');")
        psql("SET vdb.auto_seal = off; VACUUM ANALYZE fm_m;")
        count = "SELECT count(*) FROM vdb_segments('fm_m_v') WHERE state = 'sealed'"
        print(f"segment_rows {SEGMENT_ROWS}, chunks of {CHUNK}: {psql(count).strip()} sealed segments")
        exact = parse_results(psql(query_script(
            queries, "SET enable_indexscan = off; SET enable_bitmapscan = off;")
            .replace("{table}", "fm_m")))
        measure(queries, exact, "small segments")

        t0 = time.time()
        psql("VACUUM fm_m;")
        while psql("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'vdb sealer'").strip() != "0" \
                or time.time() - t0 < 1:
            time.sleep(0.2)
        print(f"merged into {psql(count).strip()} sealed segments in {time.time() - t0:.1f} s")
        measure(queries, exact, "after merge   ")


if __name__ == "__main__":
    main()
