# pg_dump and restore of vdb tables, in custom and plain formats: the tables
# come back USING vdb (including vdb leaf partitions), with the same rows.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql(
	'src', q{
CREATE EXTENSION vdb;
CREATE TABLE items (id int PRIMARY KEY, embedding vector(3), note text) USING vdb;
INSERT INTO items SELECT g, format('[%s,%s,1]', g, g * 0.5)::vector, repeat(md5(g::text), g % 50)
	FROM generate_series(1, 2000) g;
DELETE FROM items WHERE id % 9 = 0;
CREATE INDEX items_note ON items (note);
CREATE TABLE plain_heap (id int) USING heap;
INSERT INTO plain_heap VALUES (1);
CREATE TABLE parted (id int, embedding vector(2)) PARTITION BY RANGE (id);
CREATE TABLE parted_low PARTITION OF parted FOR VALUES FROM (0) TO (100) USING vdb;
CREATE TABLE parted_high PARTITION OF parted FOR VALUES FROM (100) TO (200) USING vdb;
INSERT INTO parted SELECT g, format('[%s,0]', g)::vector FROM generate_series(0, 199) g;
});

my $am_query = q{SELECT c.relname || ':' || a.amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam
	WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace
	AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
		AND d.objid = c.oid AND d.deptype = 'e') ORDER BY 1};
my $content = q{SELECT md5(string_agg(id || embedding::text || note, ',' ORDER BY id)) FROM items
	UNION ALL SELECT md5(string_agg(id || embedding::text, ',' ORDER BY id)) FROM parted};
my $ams = $node->safe_psql('src', $am_query);
my $rows = $node->safe_psql('src', $content);
is($ams, "items:vdb\nparted_high:vdb\nparted_low:vdb\nplain_heap:heap", 'source access methods');

my $dumpfile = $node->basedir . '/src.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('src'), '-f', $dumpfile ],
	'pg_dump -Fc');
$node->safe_psql('postgres', 'CREATE DATABASE restored_custom');
$node->command_ok(
	[ 'pg_restore', '-d', $node->connstr('restored_custom'), $dumpfile ],
	'pg_restore');
is($node->safe_psql('restored_custom', $am_query), $ams, 'custom-format restore keeps the access methods');
is($node->safe_psql('restored_custom', $content), $rows, 'custom-format restore keeps the rows');

my $sqlfile = $node->basedir . '/src.sql';
$node->command_ok([ 'pg_dump', '-d', $node->connstr('src'), '-f', $sqlfile ], 'pg_dump plain');
my $sql = slurp_file($sqlfile);
like($sql, qr/SET default_table_access_method = vdb;/, 'the plain dump selects the vdb access method');
$node->safe_psql('postgres', 'CREATE DATABASE restored_plain');
$node->command_ok(
	[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('restored_plain'), '-f', $sqlfile ],
	'plain restore through psql');
is($node->safe_psql('restored_plain', $am_query), $ams, 'plain restore keeps the access methods');
is($node->safe_psql('restored_plain', $content), $rows, 'plain restore keeps the rows');
is( $node->safe_psql(
		'restored_plain',
		'SET enable_seqscan = off; SELECT count(*) FROM items WHERE note > \'\''),
	$node->safe_psql('src', 'SELECT count(*) FROM items WHERE note > \'\''),
	'restored index answers like the source');

$node->stop;
done_testing();
