#!/usr/bin/env python3
"""vdb through psycopg2 (Debian's python3-psycopg2): text parameters, binary
COPY in and out in pgvector's wire format, and an index-ordered query.
Connection from PG* environment variables; exits non-zero on failure."""
import io
import struct
import sys

import psycopg2

failures = 0
passes = 0


def check(ok, what):
    global failures, passes
    print(("ok" if ok else "not ok") + " - " + what)
    if ok:
        passes += 1
    else:
        failures += 1


def literal(v):
    return "[" + ",".join(repr(float(x)) for x in v) + "]"


def parse(text):
    return [float(x) for x in text.strip("[]").split(",")]


conn = psycopg2.connect("")
conn.autocommit = True
cur = conn.cursor()
cur.execute("CREATE TABLE py_items (id int PRIMARY KEY, embedding vector(3)) USING vdb")
cur.execute("CREATE INDEX ON py_items USING vdb_ivf (embedding vector_l2_ops)")
rows = [(1, [1.0, 1.0, 1.0]), (2, [2.0, 2.0, 2.0]), (3, [1.0, 1.0, 2.0]), (4, [-1.5, 0.25, 0.125])]
for rid, v in rows:
    cur.execute("INSERT INTO py_items VALUES (%s, %s)", (rid, literal(v)))

cur.execute("SELECT id, embedding::text FROM py_items ORDER BY id")
back = cur.fetchall()
check([(r, parse(t)) for r, t in back] == rows, "text parameters round-trip")

# Binary COPY out: PGCOPY header, then per row: int16 nfields, int32 len, bytes.
out = io.BytesIO()
cur.copy_expert("COPY (SELECT embedding FROM py_items ORDER BY id) TO STDOUT (FORMAT binary)", out)
data = out.getvalue()
pos = 11 + 4 + 4 + struct.unpack(">I", data[15:19])[0]
decoded = []
while True:
    (nfields,) = struct.unpack(">h", data[pos:pos + 2])
    pos += 2
    if nfields == -1:
        break
    (length,) = struct.unpack(">i", data[pos:pos + 4])
    dim, unused = struct.unpack(">hh", data[pos + 4:pos + 8])
    decoded.append(list(struct.unpack(">%df" % dim, data[pos + 8:pos + 4 + length])))
    check(unused == 0 and length == 4 + 4 * dim, "binary vector header is pgvector's")
    pos += 4 + length
check(decoded == [v for _, v in rows], "binary COPY out gives the float4s")

# Binary COPY in of vectors built by hand in the same format.
buf = io.BytesIO()
buf.write(b"PGCOPY\n\xff\r\n\0" + struct.pack(">ii", 0, 0))
for rid, v in [(10, [0.5, 0.5, 0.5]), (11, [9.0, 9.0, 9.0])]:
    vec = struct.pack(">hh3f", 3, 0, *v)
    buf.write(struct.pack(">hi", 2, 4) + struct.pack(">i", rid) + struct.pack(">i", len(vec)) + vec)
buf.write(struct.pack(">h", -1))
buf.seek(0)
cur.copy_expert("COPY py_items (id, embedding) FROM STDIN (FORMAT binary)", buf)
cur.execute("SELECT embedding::text FROM py_items WHERE id = 10")
check(parse(cur.fetchone()[0]) == [0.5, 0.5, 0.5], "binary COPY in")

cur.execute("SET enable_seqscan = off")
q = literal([1.0, 1.0, 1.2])
cur.execute("EXPLAIN (COSTS OFF) SELECT id FROM py_items ORDER BY embedding <-> %s LIMIT 3", (q,))
check(any("py_items_embedding_idx" in r[0] for r in cur.fetchall()), "the query uses the vdb_ivf index")
cur.execute("SELECT id FROM py_items ORDER BY embedding <-> %s LIMIT 3", (q,))
check([r[0] for r in cur.fetchall()] == [1, 3, 10], "nearest neighbours in order")

print("%d passed, %d failed" % (passes, failures))
sys.exit(1 if failures else 0)
