#!/usr/bin/env python3
"""The vdb demo: Fashion-MNIST into a vdb table, sealed segments, queries, recall.

Connection from the usual PG* environment variables.  Run by scripts/demo.sh.
"""
import argparse
import io
import os
import sys
import time

import psycopg2

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "bench"))
import fmnist  # noqa: E402

LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
          "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def show_segments(cur, title):
    cur.execute("SELECT segment_id, state, rows, lists FROM vdb_segments('items_embedding_idx') ORDER BY segment_id")
    rows = cur.fetchall()
    print(f"   {title}: " + ", ".join(f"#{s} {st} {r} rows" + (f"/{l} lists" if l else "") for s, st, r, l in rows))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=60000)
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args()

    base, labels = fmnist.load("train")
    base, labels = base[:args.rows], labels[:args.rows]
    queries, qlabels = fmnist.load("t10k")
    queries, qlabels = queries[:args.queries], qlabels[:args.queries]

    conn = psycopg2.connect("")
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("CREATE EXTENSION vdb")
    cur.execute("""CREATE TABLE items (id int PRIMARY KEY, label int, embedding vector(784))
                   USING vdb""")
    cur.execute("ALTER TABLE items ALTER COLUMN embedding SET STORAGE PLAIN")
    # The index exists before the data arrives: rows land in a growing
    # segment and are sealed into IVF segments as they accumulate.
    cur.execute("CREATE INDEX items_embedding_idx ON items USING vdb_ivf (embedding vector_l2_ops) "
                "WITH (segment_rows = 20000)")

    print(f"== loading {len(base)} Fashion-MNIST images with COPY")
    start = time.time()
    chunk = 5000
    for lo in range(0, len(base), chunk):
        buf = io.StringIO()
        for i in range(lo, min(lo + chunk, len(base))):
            buf.write(f"{i}\t{labels[i]}\t{fmnist.vector_literal(base[i])}\n")
        buf.seek(0)
        cur.copy_expert("COPY items (id, label, embedding) FROM STDIN", buf)
        done = min(lo + chunk, len(base))
        rate = done / (time.time() - start)
        print(f"\r   {done}/{len(base)} rows ({rate:,.0f} rows/s)", end="", flush=True)
    print()
    show_segments(cur, "segments after loading")

    # Full segments froze during the load and the background sealer has been
    # sealing them meanwhile; wait for it to finish.
    print("== waiting for the background sealer")
    start = time.time()
    while time.time() - start < 300:
        cur.execute("SELECT count(*) FROM vdb_segments('items_embedding_idx') WHERE state IN ('frozen', 'sealing')")
        if cur.fetchone()[0] == 0:
            break
        show_segments(cur, f"after {time.time() - start:4.0f} s")
        time.sleep(2)
    show_segments(cur, "segments now")

    # The rows of the growing segment are searchable as they are; sealing
    # them too (what Milvus calls a flush) is one call.
    print("== sealing the growing segment with vdb_seal()")
    start = time.time()
    cur.execute("SELECT vdb_seal('items_embedding_idx')")
    print(f"   sealed {cur.fetchone()[0]} segment(s) in {time.time() - start:.1f} s")
    show_segments(cur, "segments now")

    q = fmnist.vector_literal(queries[0])
    print(f"== the 5 nearest neighbours of test image 0 (label: {LABELS[qlabels[0]]})")
    cur.execute("SELECT id, label, embedding <-> %s AS distance FROM items "
                "ORDER BY embedding <-> %s LIMIT 5", (q, q))
    for rid, lab, dist in cur.fetchall():
        print(f"   id {rid:6d}  {LABELS[lab]:12s} distance {dist:8.1f}")

    print("== the same, only bags (a filtered query)")
    cur.execute("SELECT id, label, embedding <-> %s AS distance FROM items WHERE label = 8 "
                "ORDER BY embedding <-> %s LIMIT 5", (q, q))
    for rid, lab, dist in cur.fetchall():
        print(f"   id {rid:6d}  {LABELS[lab]:12s} distance {dist:8.1f}")

    print(f"== recall@10 over {len(queries)} queries against exact search")
    truth, _ = fmnist.exact_neighbours(base, queries, 10)
    hits = 0
    elapsed = 0.0
    for i, v in enumerate(queries):
        lit = fmnist.vector_literal(v)
        start = time.time()
        cur.execute("SELECT id FROM items ORDER BY embedding <-> %s LIMIT 10", (lit,))
        got = [r[0] for r in cur.fetchall()]
        elapsed += time.time() - start
        # A result counts when it is as near as the true 10th neighbour
        # (pixel distances tie often).
        kth = ((base[truth[i][-1]] - v).astype(float) ** 2).sum()
        hits += sum(1 for g in got if ((base[g] - v).astype(float) ** 2).sum() <= kth)
    cur.execute("SHOW vdb.probes")
    probes = cur.fetchone()[0]
    print(f"   recall@10 = {hits / (10 * len(queries)):.3f} at vdb.probes = {probes}, "
          f"{len(queries) / elapsed:,.0f} queries/s (one client, text literals)")


if __name__ == "__main__":
    main()
