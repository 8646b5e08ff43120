// vdb through node-postgres and the pgvector package, unchanged.
// Connection from PG* environment variables.  Prints one line per check and
// exits non-zero if any check fails.
import pg from 'pg';
import pgvector from 'pgvector/pg';

let failures = 0;
let passes = 0;
function check(ok, what) {
  console.log(`${ok ? 'ok' : 'not ok'} - ${what}`);
  if (ok) passes++; else failures++;
}

const client = new pg.Client();
await client.connect();
await pgvector.registerTypes(client);

await client.query('CREATE TABLE node_items (id int PRIMARY KEY, embedding vector(3)) USING vdb');
await client.query('CREATE INDEX ON node_items USING vdb_ivf (embedding vector_l2_ops)');
const rows = [[1, [1, 1, 1]], [2, [2, 2, 2]], [3, [1, 1, 2]], [4, [-1.5, 0.25, 3e-5]]];
for (const [id, v] of rows) {
  await client.query('INSERT INTO node_items VALUES ($1, $2)', [id, pgvector.toSql(v)]);
}

// Text round trip through pgvector's serialisation.
const back = await client.query('SELECT id, embedding FROM node_items ORDER BY id');
check(back.rows.length === rows.length, 'all rows read back');
check(back.rows.every((r, i) => JSON.stringify(r.embedding) === JSON.stringify(rows[i][1])),
  'vectors round-trip exactly through toSql/registerTypes');

// Binary parameter format (node-postgres sends a Buffer parameter as binary,
// so vector_recv reads it): int16 dim, int16 0, float4 x dim, network order.
// (node-postgres cannot return raw binary results: it decodes them as text.)
const raw = Buffer.alloc(4 + 4 * 3);
raw.writeInt16BE(3, 0);
raw.writeInt16BE(0, 2);
[0.5, -2, 1e-3].forEach((x, i) => raw.writeFloatBE(x, 4 + 4 * i));
await client.query('INSERT INTO node_items VALUES (5, $1)', [raw]);
const fromBinary = await client.query('SELECT embedding FROM node_items WHERE id = 5');
check(JSON.stringify(fromBinary.rows[0].embedding) === JSON.stringify([0.5, -2, 0.001]),
  'a binary vector parameter is read as pgvector\'s wire format');
raw.writeInt16BE(7, 2);
let refused = null;
try {
  await client.query('INSERT INTO node_items VALUES (6, $1)', [raw]);
} catch (e) {
  refused = e.code;
}
check(refused === '22000', 'a binary vector with a non-zero unused field is refused (22000, as pgvector)');

// Nearest neighbours through the index.
await client.query('SET enable_seqscan = off');
const q = pgvector.toSql([1, 1, 1.2]);
const plan = await client.query('EXPLAIN (COSTS OFF) SELECT id FROM node_items ORDER BY embedding <-> $1 LIMIT 3', [q]);
check(plan.rows.some((r) => /node_items_embedding_idx/.test(r['QUERY PLAN'])), 'the query uses the vdb_ivf index');
const nn = await client.query('SELECT id FROM node_items ORDER BY embedding <-> $1 LIMIT 3', [q]);
check(JSON.stringify(nn.rows.map((r) => r.id)) === JSON.stringify([1, 3, 2]), 'nearest neighbours in order');

await client.end();
console.log(`${passes} passed, ${failures} failed`);
process.exit(failures === 0 ? 0 : 1);
