# Streaming replication of a vdb table: a hot standby replays the heap WAL
# of INSERT, COPY, UPDATE, DELETE, VACUUM and an index build, and answers
# exactly as the primary, by sequential and by index scan.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use VdbTest;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->start;
$primary->safe_psql(
	'postgres', q{
CREATE EXTENSION vdb;
CREATE TABLE items (id int, embedding vector(3), note text) USING vdb;
INSERT INTO items SELECT g, format('[%s,0,1]', g)::vector, 'first' FROM generate_series(1, 3000) g;
});
my $standby = VdbTest::start_standby($primary, 'standby');

$primary->safe_psql(
	'postgres', q{
COPY items FROM PROGRAM 'seq 3001 4000 | sed "s/.*/&\t[&,1,1]\tcopied/"';
UPDATE items SET note = 'updated' WHERE id % 10 = 0;
DELETE FROM items WHERE id % 7 = 0;
VACUUM items;
INSERT INTO items SELECT g, '[9,9,9]', 'refill' FROM generate_series(4001, 4500) g;
CREATE INDEX items_id ON items (id);
});
$primary->wait_for_catchup($standby);

my $content = q{SELECT count(*), md5(string_agg(id || embedding::text || note || ctid::text, ',' ORDER BY id)) FROM items};
is($standby->safe_psql('postgres', $content),
	$primary->safe_psql('postgres', $content),
	'standby rows and their places equal the primary');
my $by_index = q{SET enable_seqscan = off; SET enable_bitmapscan = off;
	SELECT count(*), sum(id) FROM items WHERE id BETWEEN 2000 AND 4200};
is($standby->safe_psql('postgres', $by_index),
	$primary->safe_psql('postgres', $by_index),
	'index scans on the standby agree');

$standby->stop;
$primary->stop;
done_testing();
