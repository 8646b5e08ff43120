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

// Binary result format: int16 dim, int16 0, float4 x dim, network order.
const bin = await client.query({ text: 'SELECT embedding FROM node_items WHERE id = 4', binary: true });
const buf = bin.rows[0].embedding;
const dim = buf.readInt16BE(0);
const decoded = [];
for (let i = 0; i < dim; i++) decoded.push(buf.readFloatBE(4 + 4 * i));
check(dim === 3 && buf.readInt16BE(2) === 0 && buf.length === 16, 'binary header is pgvector\'s');
check(decoded.every((x, i) => x === Math.fround(rows[3][1][i])), 'binary values are the float4s');

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
