# ALTER EXTENSION vdb UPDATE from the released 0.1.0 to 0.2.0.
#
# A database created with vdb 0.1.0 holds a vdb table and a heap table with
# vdb_ivf indexes (sealed, growing, dead rows; a seal done by a background
# sealer under 0.1.0's SQL and today's library).  After the update:
#   (a) the extension's objects are exactly a fresh 0.2.0 install's: the same
#       member list, and the same definitions in a binary-upgrade schema dump
#       (which, unlike a plain dump, spells out every member) of an updated
#       and a fresh empty database, OIDs aside.  This is also the check that
#       a change to sql/install/ comes with its upgrade script: without one,
#       the two differ and this test fails, naming the difference;
#   (b) the data and the indexes answer as before, exactly as a sequential
#       scan, and keep working (new rows are sealed by a sealer);
#   (c) pg_dump/pg_restore of the updated database restores the rows, the
#       0.2.0 extension and working indexes, and leaves the sealer's error
#       table out.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use VdbTest;

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->append_conf('postgresql.conf', 'autovacuum = off');
$node->start;

my $version = q{SELECT extversion FROM pg_extension WHERE extname = 'vdb'};

$node->safe_psql('postgres', 'CREATE DATABASE up');
$node->safe_psql('up', q{CREATE EXTENSION vdb VERSION '0.1.0';});
VdbTest::create_clustered_vec($node, 'up');
$node->safe_psql(
	'up', q{
CREATE TABLE items (id int PRIMARY KEY, label int, embedding vector(16)) USING vdb;
INSERT INTO items SELECT i, i % 7, clustered_vec(i) FROM generate_series(1, 3000) i;
CREATE INDEX items_l2 ON items USING vdb_ivf (embedding vector_l2_ops)
	WITH (segment_rows = 1000, lists = 8);
CREATE TABLE docs (id int, embedding vector(16));
INSERT INTO docs SELECT i, clustered_vec(i * 3) FROM generate_series(1, 1500) i;
CREATE INDEX docs_cos ON docs USING vdb_ivf (embedding vector_cosine_ops);
-- Past segment_rows: a growing segment freezes and a background sealer
-- seals it, under 0.1.0's SQL (which has no error table).
INSERT INTO items SELECT i, i % 7, clustered_vec(i) FROM generate_series(3001, 4300) i;
DELETE FROM items WHERE id % 11 = 0;
VACUUM items;
});
is($node->safe_psql('up', $version), '0.1.0', 'the database starts at vdb 0.1.0');
is( $node->safe_psql('up', q{SELECT count(*) FROM pg_attribute
	WHERE attrelid = 'vdb_stats'::regclass AND attname LIKE 'last_error%'}),
	'0', '0.1.0 has no last-error columns in vdb_stats');
$node->poll_query_until('up', q{SELECT frozen_segments = 0 AND NOT sealer_running
	FROM vdb_stats WHERE index_name = 'items_l2'::regclass})
  or die 'the sealer did not seal the frozen segment under 0.1.0';

# What the data answers: ten nearest ids of a few queries, by sequential
# scan (exact) and through the index, probing every list so that the index
# answer is exact too; vdb_last_scan() shows the index ran.
my @queries = ([ 'items', 'embedding <->', 17 ], [ 'items', 'embedding <->', 2999 ],
	[ 'items', 'embedding <->', 4111 ], [ 'docs', 'embedding <=>', 100 ]);
my $answers = sub {
	my ($db, $exact) = @_;
	my $plan = $exact
	  ? 'SET enable_indexscan = off; SET enable_bitmapscan = off;'
	  : 'SET enable_seqscan = off; SET vdb.probes = 1000;';
	my $out = '';
	for my $q (@queries)
	{
		my ($table, $op, $qid) = @$q;
		my $filter = $table eq 'items' ? 'WHERE label = 3' : '';
		my $last_scan = $exact ? '' : 'SELECT returned > 0 FROM vdb_last_scan();';
		$out .= $node->safe_psql($db, qq{
$plan
SELECT string_agg(id::text, ',') FROM (SELECT id FROM $table $filter
	ORDER BY $op clustered_vec($qid) LIMIT 10) s;
$last_scan
}) . "\n";
	}
	return $out;
};
my $content = q{SELECT md5(string_agg(id || ':' || label || ':' || embedding::text, ',' ORDER BY id))
	FROM items UNION ALL SELECT md5(string_agg(id || ':' || embedding::text, ',' ORDER BY id)) FROM docs};

my $before_rows = $node->safe_psql('up', $content);
my $exact = $answers->('up', 1);
like($exact, qr/^(\d+(,\d+){9}\n){4}$/, 'exact answers before the update');
my $before = $answers->('up', 0);
(my $expected = $exact) =~ s/\n/\nt\n/g;
is($before, $expected, 'under 0.1.0 the indexes answer as the sequential scan');

$node->safe_psql('up', 'ALTER EXTENSION vdb UPDATE');
is($node->safe_psql('up', $version), '0.2.0', 'ALTER EXTENSION vdb UPDATE goes to 0.2.0');

# (a) Same objects as a fresh install.
$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION vdb');
is($node->safe_psql('fresh', $version), '0.2.0', 'a fresh install is 0.2.0');
$node->safe_psql('postgres', 'CREATE DATABASE empty_up');
$node->safe_psql('empty_up', q{CREATE EXTENSION vdb VERSION '0.1.0'; ALTER EXTENSION vdb UPDATE});

my $members = q{SELECT string_agg(pg_describe_object(classid, objid, objsubid), E'\n'
	ORDER BY pg_describe_object(classid, objid, objsubid))
	FROM pg_depend WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
	AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'vdb')};
my $fresh_members = $node->safe_psql('fresh', $members);
cmp_ok(scalar(split /\n/, $fresh_members), '>', 80, 'a fresh install has its members');
like($fresh_members, qr/^table vdb_sealer_last_error$/m, 'among them the error table');
is($node->safe_psql('up', $members), $fresh_members,
	'the updated database has the members of a fresh install');

# A binary-upgrade dump lists every member with its full definition, ACL
# and comment; leave out what names OIDs, LSNs and xids, and the session
# key of psql's \restrict.
my $schema = sub {
	my ($db) = @_;
	my $file = $node->basedir . "/$db.schema.sql";
	$node->command_ok(
		[ 'pg_dump', '--binary-upgrade', '--schema-only', '-d', $node->connstr($db), '-f', $file ],
		"binary-upgrade schema dump of $db");
	my @lines = grep { !/binary_upgrade_set_next_|^\\(un)?restrict / } split /\n/,
	  slurp_file($file);
	s/relfrozenxid = '\d+'/relfrozenxid = X/, s/^WHERE oid = '\d+';/WHERE oid = N;/ for @lines;
	return join("\n", @lines) . "\n";
};
my $fresh_schema = $schema->('fresh');
like($fresh_schema, qr/CREATE VIEW public\.vdb_stats AS.*last_error_activity/s,
	'the fresh dump spells out the members (vdb_stats with its last-error columns)');
my $updated_schema = $schema->('empty_up');
my @diff;
{
	my @f = split /\n/, $fresh_schema;
	my @u = split /\n/, $updated_schema;
	for my $i (0 .. ($#f > $#u ? $#f : $#u))
	{
		my ($x, $y) = ($f[$i] // '<end>', $u[$i] // '<end>');
		push @diff, "line $i: fresh '$x' updated '$y'" if $x ne $y;
		last if @diff >= 5;
	}
}
ok(!@diff, 'an updated empty database dumps exactly as a fresh install')
  or diag("first differences:\n" . join("\n", @diff)
	  . "\nsql/install/ changed without sql/vdb--*--*.sql doing the same?");

# (b) The data and the indexes answer as before, and keep working.
is($node->safe_psql('up', $content), $before_rows, 'rows unchanged by the update');
is($answers->('up', 0), $expected, 'after the update the indexes answer as the sequential scan');
is($node->safe_psql('up', q{
SELECT count(*) FROM vdb_check('items_l2') UNION ALL SELECT count(*) FROM vdb_check('docs_cos')}),
	"0\n0", 'vdb_check is clean after the update');
is( $node->safe_psql('up', q{
SELECT index_name, last_error_at IS NULL, last_error_sqlstate IS NULL FROM vdb_stats
ORDER BY index_name::text}),
	"docs_cos|t|t\nitems_l2|t|t", 'vdb_stats has the last-error columns, empty');

my $sealed_before = $node->safe_psql('up',
	q{SELECT sealed_segments FROM vdb_stats WHERE index_name = 'items_l2'::regclass});
$node->safe_psql('up',
	q{INSERT INTO items SELECT i, i % 7, clustered_vec(i) FROM generate_series(5001, 6200) i});
$node->poll_query_until('up', qq{SELECT sealed_segments > $sealed_before AND frozen_segments = 0
	AND NOT sealer_running FROM vdb_stats WHERE index_name = 'items_l2'::regclass})
  or die 'no seal after the update';
pass('a background sealer seals under 0.2.0');
my $exact_after = $answers->('up', 1);
(my $expected_after = $exact_after) =~ s/\n/\nt\n/g;
isnt($exact_after, $exact, 'the new rows change the answers');
is($answers->('up', 0), $expected_after, 'new rows are found through the index');
my $after_rows = $node->safe_psql('up', $content);

# (c) Dump and restore the updated database.  A row in the sealer's error
# table (written here by hand) shows in vdb_stats but is not dumped.
$node->safe_psql('up', q{
INSERT INTO vdb_sealer_last_error
SELECT oid, relfilenode, now(), '53200', 'out of memory', NULL, 'sealing segment 9 of index items_l2'
FROM pg_class WHERE relname = 'items_l2'});
is( $node->safe_psql('up', q{SELECT last_error_sqlstate, last_error_activity FROM vdb_stats
	WHERE index_name = 'items_l2'::regclass}),
	'53200|sealing segment 9 of index items_l2', 'vdb_stats shows a recorded error');

my $dumpfile = $node->basedir . '/up.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('up'), '-f', $dumpfile ],
	'pg_dump -Fc of the updated database');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('restored'), $dumpfile ],
	'pg_restore of the updated database');
is($node->safe_psql('restored', $version), '0.2.0', 'the restored extension is 0.2.0');
is($node->safe_psql('restored', $content), $after_rows, 'restored rows are the same');
is($answers->('restored', 0), $expected_after, 'restored indexes answer as the sequential scan');
is($node->safe_psql('restored', q{
SELECT count(*) FROM vdb_check('items_l2') UNION ALL SELECT count(*) FROM vdb_check('docs_cos')
UNION ALL SELECT count(*) FROM vdb_sealer_last_error
UNION ALL SELECT count(*) FROM vdb_stats WHERE last_error_at IS NOT NULL}),
	"0\n0\n0\n0", 'restored: vdb_check clean, no sealer error dumped');

$node->stop;
done_testing();
