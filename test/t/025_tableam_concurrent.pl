# Placement across concurrent backends: two sessions COPY and two INSERT into
# a vdb table at the same time, after DELETE + VACUUM left small holes in
# every old page.  No new row may land in the old pages, and every row must
# arrive exactly once.  Then, after the oldest rows are deleted, concurrent
# writers refill the freed pages before growing the table.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('concurrent');
$node->init;
$node->append_conf('postgresql.conf', 'autovacuum = off');
$node->start;
$node->safe_psql(
	'postgres', q{
CREATE EXTENSION vdb;
CREATE TABLE items (id int, writer int, embedding vector(4)) USING vdb;
CREATE UNIQUE INDEX items_id ON items (id);
INSERT INTO items SELECT g, 0, '[1,2,3,4]' FROM generate_series(1, 20000) g;
DELETE FROM items WHERE id % 6 = 0;
VACUUM items;
CREATE FUNCTION blk(tid) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT ($1::text::point)[0]::int $$;
});
my $old_blocks = $node->safe_psql('postgres', "SELECT pg_relation_size('items') / 8192");

# Each writer adds 5,000 rows with ids of its own, in several statements.
sub start_writer
{
	my ($writer, $method, $round) = @_;
	my $session = $node->background_psql('postgres');
	my $sql = '';
	for my $chunk (0 .. 9)
	{
		my $first = 1000000 * $round + 100000 * $writer + 500 * $chunk + 1;
		my $last = $first + 499;
		my $rows = "SELECT g, $writer, '[4,3,2,1]' FROM generate_series($first, $last) g";
		$sql .=
		  $method eq 'copy'
		  ? "COPY items FROM PROGRAM 'seq $first $last | sed \"s/.*/&\t$writer\t[4,3,2,1]/\"';\n"
		  : "INSERT INTO items $rows;\n";
	}
	$session->query_until(qr/started/, "\\echo started\n$sql\\echo done\n");
	return $session;
}

sub run_writers
{
	my ($round) = @_;
	my @sessions = (
		start_writer(1, 'copy',   $round),
		start_writer(2, 'copy',   $round),
		start_writer(3, 'insert', $round),
		start_writer(4, 'insert', $round));
	$_->quit for @sessions;
}

run_writers(1);
is( $node->safe_psql(
		'postgres',
		'SELECT writer, count(*), count(DISTINCT id) FROM items WHERE writer > 0 AND id < 2000000 GROUP BY writer ORDER BY writer'),
	"1|5000|5000\n2|5000|5000\n3|5000|5000\n4|5000|5000",
	'every row of every writer arrived once');
is( $node->safe_psql(
		'postgres',
		"SELECT count(*) FROM items WHERE writer > 0 AND blk(ctid) < $old_blocks - 1"),
	'0',
	'no concurrent writer put a row into a small hole');

# Oldest-first deletion frees whole pages: concurrent writers fill them.
$node->safe_psql('postgres',
	'DELETE FROM items WHERE writer = 0 AND id <= 18000; VACUUM items');
my $size_before = $node->safe_psql('postgres', "SELECT pg_relation_size('items') / 8192");
my $freed_below = $node->safe_psql('postgres', 'SELECT min(blk(ctid)) FROM items WHERE writer = 0');
run_writers(2);
my ($in_freed, $total) = split /\|/, $node->safe_psql('postgres',
	"SELECT count(*) FILTER (WHERE blk(ctid) < $freed_below), count(*) FROM items WHERE id >= 2000000");
is($total, '20000', 'second round: every row arrived');
diag("second round: $in_freed of $total new rows in the freed pages");
cmp_ok($in_freed, '>=', 14000, 'concurrent writers refill the freed pages');
# The rows that did not fit into the freed pages spill onto few pages past
# the old end.  (The file itself may grow more: writers that contend for
# the extension lock add empty pages in bulk, listed in the free space map
# for later rows, so its size depends on timing.)
my $spill_pages = $node->safe_psql('postgres',
	"SELECT count(DISTINCT blk(ctid)) FROM items WHERE blk(ctid) >= $size_before");
diag("second round: rows on $spill_pages pages past the old end; table grew by "
	  . ($node->safe_psql('postgres', "SELECT pg_relation_size('items') / 8192") - $size_before)
	  . ' pages');
cmp_ok($spill_pages, '<=', 40, 'so few rows go past the old end of the table');

$node->stop;
done_testing();
