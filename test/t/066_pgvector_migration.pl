# Migrating from pgvector (README.md, "Migrating from pgvector";
# scripts/pgvector-schema.pl and scripts/pgvector-migrate.sh).
#
# pgvector is not installed where this normally runs (and the project never
# fetches or builds it), so the path is tested in parts:
#   1. the schema rewrite, on a pg_dump fixture holding pgvector's documented
#      DDL (test/pgvector/schema.sql): the result loads into a vdb database
#      with vector columns kept, ivfflat/hnsw indexes as vdb_ivf with their
#      operator classes and WHERE clauses, vector tables USING vdb, and the
#      indexes vdb_ivf cannot serve left out and reported;
#   2. binary COPY of rows whose bytes are pgvector's documented binary
#      format (int16 dim, int16 unused = 0, float4 big-endian values),
#      written here byte by byte: COPY FROM loads the right values, the
#      indexes find them, and COPY TO writes the same bytes back;
#   3. the migration script end to end, from a source database with vdb
#      (same type, binary format and names as pgvector): schema, rows of
#      every table, sequences, indexes and constraints;
#   4. only if pgvector is installed: the whole path from a pgvector
#      database, with exact nearest neighbours compared.
use strict;
use warnings;
use File::Temp qw(tempfile);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $top = $ENV{TESTDIR} // '.';
my $rewrite = "$top/scripts/pgvector-schema.pl";
my $migrate = "$top/scripts/pgvector-migrate.sh";
my $fixture = "$top/test/pgvector/schema.sql";

my $node = PostgreSQL::Test::Cluster->new('pgvector');
$node->init;
$node->append_conf('postgresql.conf', 'autovacuum = off');
$node->start;

# Run the schema rewrite on some text; returns (exit status, stdout, stderr).
sub run_rewrite
{
	my ($input, @options) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ $rewrite, @options ], '<', \$input, '>', \$out, '2>', \$err);
	return ($? >> 8, $out, $err);
}

# Run a psql script on a database of $node, stopping at the first error.
sub psql_file
{
	my ($db, $file, $name) = @_;
	$node->command_ok(
		[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr($db), '-f', $file ],
		$name);
	return;
}

# ---- 1. The schema rewrite.
my ($rc, $out, $err) = run_rewrite(slurp_file($fixture));
is($rc, 0, 'the rewrite accepts the pgvector dump');
like($out, qr/^CREATE EXTENSION IF NOT EXISTS vdb WITH SCHEMA public;$/m,
	'CREATE EXTENSION vector becomes vdb, same schema');
unlike($out, qr/^(?!--).*(?:EXTENSION vector|USING (?:ivfflat|hnsw))/m,
	'no pgvector extension or index access method is left outside comments');
is( join("\n", grep { /^CREATE INDEX/ } split /\n/, $out),
	join("\n",
		'CREATE INDEX docs_embedding_idx ON public.docs USING vdb_ivf (embedding public.vector_cosine_ops);',
		'CREATE INDEX items_category_id_idx ON public.items USING btree (category_id);',
		'CREATE INDEX items_embedding_idx ON public.items USING vdb_ivf (embedding public.vector_l2_ops);',
		'CREATE INDEX items_embedding_idx1 ON public.items USING vdb_ivf (embedding public.vector_ip_ops);',
		'CREATE INDEX items_embedding_idx2 ON public.items USING vdb_ivf (embedding) WHERE (category_id = 123);',
		'CREATE INDEX events_embedding_idx ON ONLY public.events USING vdb_ivf (embedding public.vector_l2_ops);',
		'CREATE INDEX events_low_embedding_idx ON public.events_low USING vdb_ivf (embedding public.vector_l2_ops);'),
	'ivfflat/hnsw indexes become vdb_ivf: same columns, operator classes and WHERE, no options');
my @skipped = $err =~ /index not migrated \(vdb_ivf has no (\w+)\)/g;
is("@skipped", 'bit_hamming_ops halfvec_l2_ops vector_l1_ops',
	'the bit, halfvec and L1 indexes are reported');
is(scalar(() = $out =~ /^-- vdb: not migrated/mg), 3, 'and kept as comments');

my $rewritten = $node->basedir . '/schema-vdb.sql';
PostgreSQL::Test::Utils::append_to_file($rewritten, $out);
$node->safe_psql('postgres', 'CREATE DATABASE migrated');
psql_file('migrated', $rewritten, 'the rewritten schema loads into a database with vdb');
is( $node->safe_psql('migrated', q{
SELECT string_agg(c.relname || ':' || coalesce(am.amname, '-'), ',' ORDER BY c.relname)
FROM pg_class c LEFT JOIN pg_am am ON am.oid = c.relam
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
	AND c.relname NOT LIKE 'vdb%'}),
	'categories:heap,docs:vdb,events:-,events_low:vdb,items:vdb',
	'vector tables are USING vdb, others and the partitioned parent are not');
is( $node->safe_psql('migrated', q{
SELECT string_agg(DISTINCT format_type(atttypid, atttypmod), ',') FROM pg_attribute
WHERE attname = 'embedding' AND attrelid IN (SELECT oid FROM pg_class
	WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p'))}),
	'vector(3)', 'vector columns keep their dimensions');
is( $node->safe_psql('migrated', q{
SELECT string_agg(c.relname || ':' || o.opcname || coalesce(':' || pg_get_expr(i.indpred, i.indrelid), ''),
	',' ORDER BY c.relname)
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_am am ON am.oid = c.relam AND am.amname = 'vdb_ivf'
JOIN pg_opclass o ON o.oid = i.indclass[0]}),
	'docs_embedding_idx:vector_cosine_ops,events_embedding_idx:vector_l2_ops,'
	  . 'events_low_embedding_idx:vector_l2_ops,items_embedding_idx:vector_l2_ops,'
	  . 'items_embedding_idx1:vector_ip_ops,items_embedding_idx2:vector_l2_ops:(category_id = 123)',
	'the vdb_ivf indexes and their operator classes');
is($node->safe_psql('migrated', q{SELECT reloptions FROM pg_class WHERE relname = 'docs'}),
	'{fillfactor=90}', 'table storage options are kept');

($rc, $out, $err) = run_rewrite(slurp_file($fixture), '--keep-heap');
is($rc, 0, '--keep-heap');
unlike($out, qr/USING vdb\b/, '--keep-heap leaves the tables heap');

($rc, $out, $err) = run_rewrite(qq{CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public;
CREATE TABLE public.h (
    id integer,
    embedding public.halfvec(4)
);
});
is($rc, 1, 'a halfvec column stops the rewrite');
is($out, '', 'and nothing is written');
like($err, qr/vdb has no type halfvec/, 'naming the type');

# ---- 2. Binary COPY in pgvector's format.
# One binary COPY file: header, rows of (bigint id, integer category,
# vector) where a vector is int16 dim, int16 unused, float4 values, all in
# network byte order, and the trailer.
my @rows = (
	[ 1, 1, [ 1, 2, 3 ] ],
	[ 2, 123, [ -0.5, 0.25, 1e10 ] ],
	[ 3, 123, [ 1.5, -2, 0 ] ],
	[ 4, 2, [ 3.4028234663852886e38, -1.1754943508222875e-38, 0.1 ] ],
	[ 5, 123, [ 1.25, -1.75, 0.5 ] ]);
sub copy_file
{
	my ($unused) = @_;
	my $bytes = "PGCOPY\n\377\r\n\0" . pack('NN', 0, 0);
	for my $row (@rows)
	{
		my ($id, $category, $v) = @$row;
		my $vector = pack('nn', scalar(@$v), $unused) . join('', map { pack('f>', $_) } @$v);
		$bytes .= pack('n', 3) . pack('N', 8) . pack('q>', $id) . pack('N', 4) . pack('N', $category)
		  . pack('N', length($vector)) . $vector;
	}
	return $bytes . pack('n', 0xffff);
}
my $copy_in = $node->basedir . '/items.bin';
open(my $fh, '>:raw', $copy_in) or die $!;
print $fh copy_file(0);
close($fh);

$node->safe_psql('migrated', qq{
INSERT INTO categories VALUES (1, 'a'), (2, 'b'), (123, 'c');
COPY items (id, category_id, embedding) FROM '$copy_in' (FORMAT binary)});
is( $node->safe_psql('migrated', q{SELECT string_agg(id || ':' || category_id || ':' || embedding::text, ' '
	ORDER BY id) FROM items}),
	'1:1:[1,2,3] 2:123:[-0.5,0.25,1e+10] 3:123:[1.5,-2,0] 4:2:[3.4028235e+38,-1.1754944e-38,0.1] 5:123:[1.25,-1.75,0.5]',
	'binary COPY in pgvector\'s format loads the right values');
is( $node->safe_psql('migrated', q{SELECT bool_and(embedding = v::vector) FROM items JOIN (VALUES
	(1, '{1,2,3}'::real[]), (2, '{-0.5,0.25,1e10}'), (3, '{1.5,-2,0}'),
	(4, '{3.4028234663852886e38,-1.1754943508222875e-38,0.1}'), (5, '{1.25,-1.75,0.5}')) x(i, v)
	ON id = i}),
	't', 'every value is the float4 that was written');

# The migrated indexes find the rows: ids in exact order through the index.
is( $node->safe_psql('migrated', q{
SET enable_seqscan = off; SET enable_sort = off;
SELECT string_agg(id::text, ',') FROM (SELECT id FROM items WHERE category_id = 123
	ORDER BY embedding <-> '[1,-2,0]' LIMIT 3) s;
SELECT returned > 0 FROM vdb_last_scan();
}),
	"3,5,2\nt", 'the partial vdb_ivf index finds them');

my $copy_out = $node->basedir . '/items-out.bin';
$node->safe_psql('migrated', qq{COPY (SELECT id, category_id, embedding FROM items ORDER BY id)
	TO '$copy_out' (FORMAT binary)});
ok(slurp_file($copy_out) eq copy_file(0), 'COPY TO writes pgvector\'s bytes back, byte for byte');

my $bad = $node->basedir . '/bad.bin';
open($fh, '>:raw', $bad) or die $!;
print $fh copy_file(1);
close($fh);
my ($bad_rc, $bad_out, $bad_err) = $node->psql('migrated',
	qq{COPY items (id, category_id, embedding) FROM '$bad' (FORMAT binary)});
like($bad_err, qr/expected unused to be 0, not 1/, 'a nonzero unused field is rejected');

# ---- 3. The migration script, from a database with the same formats.
$node->safe_psql('postgres', 'CREATE DATABASE source');
$node->safe_psql(
	'source', q{
CREATE EXTENSION vdb;
CREATE TABLE labels (id int PRIMARY KEY, name text);
INSERT INTO labels SELECT i, 'label ' || i FROM generate_series(0, 6) i;
CREATE TABLE "Odd Items" (id serial PRIMARY KEY, label int REFERENCES labels,
	embedding vector(8), doubled int GENERATED ALWAYS AS (label * 2) STORED);
INSERT INTO "Odd Items" (label, embedding)
	SELECT i % 7, ('[' || array_to_string(array(SELECT round((sin(i * 0.7 + d) * 5)::numeric, 3)
		FROM generate_series(1, 8) d), ',') || ']')::vector
	FROM generate_series(1, 2000) i;
CREATE INDEX odd_embedding ON "Odd Items" USING vdb_ivf (embedding) WITH (lists = 8);
});
my $source_content = q{SELECT md5(string_agg(concat_ws(':', id, label, embedding, doubled), ',' ORDER BY id))
	FROM "Odd Items" UNION ALL SELECT md5(string_agg(id || name, ',' ORDER BY id)) FROM labels};
my $nearest = q{SET enable_seqscan = off; SET enable_sort = off; SET vdb.probes = 1000;
SELECT string_agg(id::text, ',') FROM (SELECT id FROM "Odd Items" WHERE label = 3
	ORDER BY embedding <-> '[1,2,3,4,5,4,3,2]' LIMIT 10) s;
SELECT returned > 0 FROM vdb_last_scan()};
my $exact = q{SET enable_indexscan = off; SET enable_bitmapscan = off;
SELECT string_agg(id::text, ',') FROM (SELECT id FROM "Odd Items" WHERE label = 3
	ORDER BY embedding <-> '[1,2,3,4,5,4,3,2]' LIMIT 10) s};

$node->safe_psql('postgres', 'CREATE DATABASE target');
$node->command_ok([ $migrate, $node->connstr('source'), $node->connstr('target') ],
	'pgvector-migrate.sh runs end to end');
is($node->safe_psql('target', $source_content), $node->safe_psql('source', $source_content),
	'every row of every table is copied');
is( $node->safe_psql('target', q{SELECT nextval('"Odd Items_id_seq"')}),
	$node->safe_psql('source', q{SELECT nextval('"Odd Items_id_seq"')}),
	'sequences continue where the source stopped');
is( $node->safe_psql('target', q{SELECT string_agg(c.relname || ':' || am.amname, ',' ORDER BY c.relname)
	FROM pg_class c JOIN pg_am am ON am.oid = c.relam
	WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'i')
	AND c.relname NOT LIKE 'vdb%'}),
	'Odd Items:vdb,Odd Items_pkey:btree,labels:heap,labels_pkey:btree,odd_embedding:vdb_ivf',
	'the vector table is USING vdb, its index and constraints are back');
my $source_exact = $node->safe_psql('source', $exact);
like($source_exact, qr/^\d+(,\d+){9}$/, 'the source answers');
is($node->safe_psql('target', $nearest), "$source_exact\nt",
	'the migrated index returns the source\'s exact nearest neighbours');
my ($fk_rc, $fk_out, $fk_err) = $node->psql('target',
	q{INSERT INTO "Odd Items" (label, embedding) VALUES (99, '[1,1,1,1,1,1,1,1]')});
like($fk_err, qr/violates foreign key constraint/, 'the foreign key is back');
$node->command_fails([ $migrate, $node->connstr('source'), $node->connstr('target') ],
	'the script refuses a target that is not empty');

# ---- 4. From pgvector itself, when it is installed.
my $sharedir = $node->config_data('--sharedir');
SKIP:
{
	skip "pgvector is not installed ($sharedir/extension/vector.control): "
	  . 'the full path from pgvector did not run', 4
	  unless -e "$sharedir/extension/vector.control";

	$node->safe_psql('postgres', 'CREATE DATABASE pgv');
	$node->safe_psql(
		'pgv', q{
CREATE EXTENSION vector;
CREATE TABLE items (id bigserial PRIMARY KEY, category_id int, embedding vector(16));
INSERT INTO items (category_id, embedding)
	SELECT i % 5, ('[' || array_to_string(array(SELECT round((sin(i * 0.37 + d) * 4)::numeric, 4)
		FROM generate_series(1, 16) d), ',') || ']')::vector
	FROM generate_series(1, 3000) i;
CREATE INDEX ON items USING ivfflat (embedding vector_l2_ops) WITH (lists = 20);
CREATE INDEX ON items USING hnsw (embedding vector_cosine_ops) WITH (m = 8, ef_construction = 32);
});
	$node->safe_psql('postgres', 'CREATE DATABASE from_pgv');
	$node->command_ok([ $migrate, $node->connstr('pgv'), $node->connstr('from_pgv') ],
		'pgvector-migrate.sh from a pgvector database');
	my $rows = q{SELECT md5(string_agg(id || ':' || category_id || ':' || embedding::text, ',' ORDER BY id))
		FROM items};
	is($node->safe_psql('from_pgv', $rows), $node->safe_psql('pgv', $rows), 'same rows as in pgvector');
	my $query = q{SELECT string_agg(id::text, ',') FROM (SELECT id FROM items WHERE category_id = 2
		ORDER BY embedding <-> (SELECT embedding FROM items WHERE id = 77) LIMIT 10) s};
	is( $node->safe_psql('from_pgv', "SET enable_seqscan = off; SET enable_sort = off; SET vdb.probes = 1000; $query"),
		$node->safe_psql('pgv', "SET enable_indexscan = off; SET enable_bitmapscan = off; $query"),
		'vdb_ivf returns pgvector\'s exact nearest neighbours');
	is( $node->safe_psql('from_pgv', q{SELECT string_agg(am.amname, ',' ORDER BY am.amname)
		FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
		WHERE i.indrelid = 'items'::regclass}),
		'btree,vdb_ivf,vdb_ivf', 'both pgvector indexes became vdb_ivf');
}

$node->stop;
done_testing();
