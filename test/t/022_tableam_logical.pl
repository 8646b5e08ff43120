# Logical replication from a vdb table: the publisher's table is vdb, the
# subscriber's too (so the apply worker inserts through the vdb AM); initial
# sync, INSERT, COPY, UPDATE (TOASTed values included), DELETE and TRUNCATE
# arrive intact.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $pub = PostgreSQL::Test::Cluster->new('publisher');
$pub->init(allows_streaming => 'logical');
$pub->start;
my $sub = PostgreSQL::Test::Cluster->new('subscriber');
$sub->init;
$sub->start;

my $schema = q{
CREATE EXTENSION vdb;
CREATE TABLE items (id int PRIMARY KEY, embedding vector, note text) USING vdb;
};
$pub->safe_psql('postgres', $schema);
$sub->safe_psql('postgres', $schema);

$pub->safe_psql(
	'postgres', q{
INSERT INTO items SELECT g, format('[%s,%s,%s]', g, -g, g % 5)::vector, 'initial ' || g
	FROM generate_series(1, 1000) g;
CREATE PUBLICATION items_pub FOR TABLE items;
});
my $connstr = $pub->connstr . ' dbname=postgres';
$sub->safe_psql('postgres',
	"CREATE SUBSCRIPTION items_sub CONNECTION '$connstr' PUBLICATION items_pub");
$sub->wait_for_subscription_sync($pub, 'items_sub');

my $content = q{SELECT count(*), md5(string_agg(id || ':' || embedding::text || ':' || coalesce(md5(note), '-'), ',' ORDER BY id)) FROM items};
is($sub->safe_psql('postgres', $content),
	$pub->safe_psql('postgres', $content), 'initial sync copies every row');

$pub->safe_psql(
	'postgres', q{
INSERT INTO items SELECT g, format('[%s,1,1]', g)::vector, 'inserted' FROM generate_series(1001, 1500) g;
COPY items FROM PROGRAM 'seq 1501 2000 | sed "s/.*/&\t[&,2,2]\tcopied/"';
-- TOAST-sized: a 1,000-dimension vector and a long text
INSERT INTO items SELECT 3000, (SELECT '[' || string_agg(k::text, ',') || ']' FROM generate_series(1, 1000) k)::vector,
	(SELECT string_agg(md5(k::text), '') FROM generate_series(1, 2000) k);
UPDATE items SET note = note || ' updated' WHERE id % 7 = 0;
UPDATE items SET embedding = '[0,0,0]' WHERE id BETWEEN 100 AND 150;
UPDATE items SET note = note || 'tail' WHERE id = 3000;
DELETE FROM items WHERE id % 11 = 0;
});
$pub->wait_for_catchup('items_sub');
my $expected = $pub->safe_psql('postgres', $content);
is($sub->safe_psql('postgres', $content), $expected,
	'INSERT, COPY, UPDATE, DELETE and TOASTed values replicate');
like($expected, qr/^1820\|/, 'the publisher has the expected row count');

is( $sub->safe_psql(
		'postgres',
		q{SELECT a.amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam WHERE c.relname = 'items'}),
	'vdb',
	'the subscriber table is still vdb');

$pub->safe_psql('postgres', 'TRUNCATE items; INSERT INTO items VALUES (1, \'[1]\', \'after truncate\')');
$pub->wait_for_catchup('items_sub');
is($sub->safe_psql('postgres', 'SELECT id, note FROM items'),
	'1|after truncate', 'TRUNCATE replicates');

$sub->stop;
$pub->stop;
done_testing();
