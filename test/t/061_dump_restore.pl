# pg_dump and restore (custom format through pg_restore, plain SQL through
# psql) of a database with vdb tables and vdb_ivf indexes holding sealed
# segments, a frozen segment, growing rows and dead rows: the restored
# database has the same rows, its indexes are rebuilt with the same
# options, vdb_check finds nothing, the segments account for every row, and
# index-plan ORDER BY ... LIMIT queries return the same ids as the source.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use VdbTest;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
# The source keeps its frozen segment (no background sealer).
$node->append_conf('postgresql.conf', 'vdb.auto_seal = off');
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('src', q{CREATE EXTENSION vdb;});
VdbTest::create_clustered_vec($node, 'src');
$node->safe_psql(
	'src', q{
CREATE TABLE items (id int PRIMARY KEY, label int, embedding vector(16)) USING vdb;
INSERT INTO items SELECT i, i % 7, clustered_vec(i) FROM generate_series(1, 4000) i;
CREATE INDEX items_l2 ON items USING vdb_ivf (embedding vector_l2_ops)
	WITH (segment_rows = 1000, lists = 12);
-- Growing rows after the build: one full growing segment is frozen.
INSERT INTO items SELECT i, i % 7, clustered_vec(i) FROM generate_series(4001, 5300) i;
DELETE FROM items WHERE id % 11 = 0;
VACUUM items;
INSERT INTO items VALUES (6000, 1, NULL);
-- A heap table with a cosine index: vdb_ivf works on both.
CREATE TABLE docs (id int, embedding vector(16));
INSERT INTO docs SELECT i, clustered_vec(i * 3) FROM generate_series(1, 1500) i;
CREATE INDEX docs_cos ON docs USING vdb_ivf (embedding vector_cosine_ops);
});

my $states = q{SELECT string_agg(state || ':' || n, ',' ORDER BY state) FROM (
	SELECT state, count(*) n FROM vdb_segments('items_l2') GROUP BY state) s};
like($node->safe_psql('src', $states), qr/frozen:1,growing:1,sealed:\d+/,
	'source index has sealed, frozen and growing segments');

my $content = q{SELECT md5(string_agg(id || ':' || label || ':' || coalesce(embedding::text, 'null'), ','
	ORDER BY id)) FROM items
	UNION ALL SELECT md5(string_agg(id || ':' || embedding::text, ',' ORDER BY id)) FROM docs};
my $indexdefs = q{SELECT string_agg(indexdef, E'\n' ORDER BY indexname) FROM pg_indexes
	WHERE schemaname = 'public'};

# Ten nearest ids of a few queries, through the index, probing every list
# before the first row so that the answer is exact and comparable between
# differently segmented indexes; vdb_last_scan() shows the index ran.
my $answers = sub {
	my ($db) = @_;
	my $out = '';
	for my $q ([ 'items', 'embedding <->', 17 ], [ 'items', 'embedding <->', 2999 ],
		[ 'items', 'embedding <->', 5111 ], [ 'docs', 'embedding <=>', 100 ])
	{
		my ($table, $op, $qid) = @$q;
		my $filter = $table eq 'items' ? 'WHERE label = 3' : '';
		$out .= $node->safe_psql($db, qq{
SET enable_seqscan = off;
SET vdb.probes = 1000;
SELECT string_agg(id::text, ',') FROM (SELECT id FROM $table $filter
	ORDER BY $op clustered_vec($qid) LIMIT 10) s;
SELECT returned > 0 FROM vdb_last_scan();
}) . "\n";
	}
	return $out;
};

my $src_rows = $node->safe_psql('src', $content);
my $src_indexdefs = $node->safe_psql('src', $indexdefs);
my $src_answers = $answers->('src');
like($src_answers, qr/^(\d+(,\d+){9}\nt\n){4}$/, 'source answers through its indexes');

# The restored database: same rows, same index definitions, same answers,
# a clean vdb_check, and segments that account for every indexed row.
my $check_restored = sub {
	my ($db, $how) = @_;
	is($node->safe_psql($db, $content), $src_rows, "$how: same rows");
	is($node->safe_psql($db, $indexdefs), $src_indexdefs, "$how: same index definitions");
	is($node->safe_psql($db, q{
SELECT count(*) FROM vdb_check('items_l2')
	UNION ALL SELECT count(*) FROM vdb_check('docs_cos')}), "0\n0", "$how: vdb_check is clean");
	is( $node->safe_psql($db, q{
SELECT (SELECT sum(rows - dead_rows) FROM vdb_segments('items_l2') WHERE state <> 'dropped')
	= (SELECT count(embedding) FROM items),
	(SELECT count(*) FROM vdb_segments('items_l2') WHERE state IN ('frozen', 'dropped')),
	(SELECT count(*) FROM vdb_segments('items_l2') WHERE state = 'sealed') >= 4,
	(SELECT count(*) FROM vdb_segments('items_l2') WHERE state = 'growing')}),
		"t|0|t|1",
		"$how: the rebuilt index sealed every row, one growing segment");
	is($node->safe_psql($db, q{SELECT frozen_segments, dead_rows, sealer_running FROM vdb_stats
		WHERE index_name = 'items_l2'::regclass}), '0|0|f', "$how: vdb_stats");
	is($answers->($db), $src_answers, "$how: index queries return the source's ids");

	# The restored index keeps working: new rows are found through it.
	$node->safe_psql($db, q{INSERT INTO items VALUES (7000, 3, clustered_vec(17))});
	is( $node->safe_psql($db, q{
SET enable_seqscan = off;
SELECT string_agg(id::text, ',' ORDER BY id) FROM (SELECT id FROM items WHERE label = 3
	ORDER BY embedding <-> clustered_vec(17) LIMIT 2) s;
SELECT returned > 0 FROM vdb_last_scan();
}), "17,7000\nt", "$how: rows inserted after the restore are found");
};

my $dumpfile = $node->basedir . '/src.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('src'), '-f', $dumpfile ],
	'pg_dump -Fc');
$node->safe_psql('postgres', 'CREATE DATABASE restored_custom');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('restored_custom'), $dumpfile ],
	'pg_restore');
$check_restored->('restored_custom', 'custom format');

my $sqlfile = $node->basedir . '/src.sql';
$node->command_ok([ 'pg_dump', '-d', $node->connstr('src'), '-f', $sqlfile ], 'pg_dump plain');
$node->safe_psql('postgres', 'CREATE DATABASE restored_plain');
$node->command_ok(
	[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('restored_plain'),
		'-f', $sqlfile ],
	'plain restore through psql');
$check_restored->('restored_plain', 'plain format');

# A parallel restore (-j 2) builds the indexes in separate sessions.
$node->safe_psql('postgres', 'CREATE DATABASE restored_parallel');
$node->command_ok(
	[ 'pg_restore', '-j', '2', '-d', $node->connstr('restored_parallel'), $dumpfile ],
	'pg_restore -j 2');
$check_restored->('restored_parallel', 'parallel restore');

$node->stop;
done_testing();
