# A vdb_ivf scan that is part-way through its stream when another session
# seals the growing segment keeps streaming from the directory it started
# with: no error, no row twice, still in distance order; the next scan sees
# the new sealed segment.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('scanseal');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION vdb');

$node->safe_psql('postgres', q{
SELECT setseed(0.5);
CREATE TABLE items (id int, embedding vector(16));
INSERT INTO items
	SELECT i, ('[' || array_to_string(array(
		SELECT round((sin((i % 30) * 11 + j) * 3 + random() * 0.8)::numeric, 4)
		FROM generate_series(1, 16) j), ',') || ']')::vector
	FROM generate_series(1, 5000) i;
CREATE INDEX items_ivf ON items USING vdb_ivf (embedding) WITH (segment_rows = 5000);
INSERT INTO items
	SELECT i, ('[' || array_to_string(array(
		SELECT round((sin((i % 30) * 11 + j) * 3 + random() * 0.8)::numeric, 4)
		FROM generate_series(1, 16) j), ',') || ']')::vector
	FROM generate_series(5001, 8000) i;
});
is( $node->safe_psql('postgres',
		"SELECT string_agg(state, ',' ORDER BY segment_id) FROM vdb_segments('items_ivf')"),
	'sealed,growing',
	'one sealed segment and a growing one before the test');

my $q = '(SELECT embedding FROM items WHERE id = 77)';
my $bg = $node->background_psql('postgres');
$bg->query_safe('SET enable_seqscan = off');
$bg->query_safe('SET enable_sort = off');
$bg->query_safe('SET vdb.probes = 1');
$bg->query_safe('BEGIN');
$bg->query_safe("DECLARE c CURSOR FOR SELECT id, embedding <-> $q AS d FROM items "
	  . "ORDER BY embedding <-> $q");
my $first = $bg->query_safe('FETCH 50 FROM c');

# Seal the growing segment while the cursor is open.
is($node->safe_psql('postgres', "SELECT vdb_seal('items_ivf')"),
	'1', 'the growing segment is sealed under the open scan');

my $rest = $bg->query_safe('FETCH ALL FROM c');
$bg->query_safe('COMMIT');
my $index_returned = $bg->query_safe('SELECT returned FROM vdb_last_scan()');
$bg->quit;

my (%seen, $prev, $bad, $dup, $n);
($bad, $dup, $n) = (0, 0, 0);
for my $line (split /\n/, "$first\n$rest")
{
	next if $line eq '';
	my ($id, $d) = split /\|/, $line;
	$dup++ if $seen{$id}++;
	$bad++ if defined $prev && $d < $prev;
	$prev = $d;
	$n++;
}
cmp_ok($n, '>', 1000, 'the stream went on after the seal');
is($index_returned, $n, 'the cursor\'s rows came from the vdb_ivf scan');
is($bad, 0, 'rows stayed in distance order across the seal');
is($dup, 0, 'no row came back twice');

# The next scan uses the new sealed segment (and its centroids).
my ($segments, $returned, $skipped);
($segments, $returned, $skipped) = (split /\n/, $node->safe_psql('postgres', qq{
SET enable_seqscan = off;
SET vdb.probes = 32768;
SELECT count(*) FROM (SELECT id FROM items ORDER BY embedding <-> $q) s;
SELECT segments || '|' || returned || '|' || skipped_for_order FROM vdb_last_scan();
}))[1] =~ /(\d+)\|(\d+)\|(\d+)/;
is($segments, 3, 'a new scan searches both sealed segments and the new growing one');
is($returned, 8000, 'with every list probed at once every row comes back');
is($skipped, 0, 'and nothing is skipped');

$node->stop;
done_testing();
