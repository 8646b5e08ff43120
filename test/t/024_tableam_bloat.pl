# Bounded bloat: repeated cycles of "delete a third, VACUUM, insert as many"
# on a vdb table and a heap table side by side, deleting once the oldest
# rows and once a random third, inserting by INSERT and by COPY, with narrow
# rows and with TOASTed vectors.  The vdb table (TOAST included) must stay
# within 1.5 times the size of the heap table holding the same rows.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $max_ratio = 1.5;
my $cycles = 10;

my $node = PostgreSQL::Test::Cluster->new('bloat');
$node->init;
$node->append_conf('postgresql.conf', "autovacuum = off\nshared_buffers = 64MB");
$node->start;
$node->safe_psql(
	'postgres', q{
CREATE EXTENSION vdb;
-- rows first..last of a table, deterministic vectors of the given dimension
CREATE FUNCTION gen_rows(first bigint, last bigint, dim int)
RETURNS TABLE (id bigint, embedding vector) LANGUAGE sql AS $$
	SELECT g, ('[' || string_agg(((g * 7 + k) % 97)::text, ',') || ']')::vector
	FROM generate_series(first, last) g, generate_series(1, dim) k GROUP BY g
$$;
});
my $csv = $node->basedir . '/rows.csv';

# Add rows to bring "tab" back to "n" rows, by INSERT or by COPY.
sub refill
{
	my ($tab, $n, $dim, $method) = @_;
	my $range = "(SELECT max(id) + 1 FROM $tab), (SELECT max(id) FROM $tab) + $n - (SELECT count(*) FROM $tab)";
	if ($method eq 'insert')
	{
		$node->safe_psql('postgres', "INSERT INTO $tab SELECT * FROM gen_rows($range, $dim)");
	}
	else
	{
		$node->safe_psql('postgres',
			"COPY (SELECT * FROM gen_rows($range, $dim)) TO '$csv'; COPY $tab FROM '$csv'");
	}
}

for my $case (
	[ 'oldest', 'copy',   16,  6000 ],
	[ 'random', 'insert', 16,  6000 ],
	[ 'oldest', 'insert', 16,  6000 ],
	[ 'random', 'copy',   16,  6000 ],
	[ 'oldest', 'copy',   600, 600 ],
	[ 'random', 'insert', 600, 600 ])
{
	my ($pattern, $method, $dim, $n) = @$case;
	my $label = "$pattern third by \U$method\E, $dim dimensions";
	for my $am ('heap', 'vdb')
	{
		$node->safe_psql('postgres',
			"DROP TABLE IF EXISTS t_$am; CREATE TABLE t_$am (id bigint, embedding vector($dim)) USING $am;"
			  . "INSERT INTO t_$am SELECT * FROM gen_rows(1, $n, $dim)");
	}
	for my $cycle (1 .. $cycles)
	{
		for my $am ('heap', 'vdb')
		{
			my $delete =
			  $pattern eq 'oldest'
			  ? "DELETE FROM t_$am WHERE id < (SELECT min(id) + $n / 3 FROM t_$am)"
			  : "DELETE FROM t_$am WHERE hashint8(id * 31 + $cycle) % 3 = 0";
			$node->safe_psql('postgres', "$delete; VACUUM t_$am");
			refill("t_$am", $n, $dim, $method);
		}
	}
	my ($heap_size, $vdb_size, $same) = split /\|/, $node->safe_psql(
		'postgres', q{
SELECT pg_table_size('t_heap'), pg_table_size('t_vdb'),
	(SELECT count(*) FROM (SELECT id, embedding::text FROM t_heap EXCEPT SELECT id, embedding::text FROM t_vdb) d) = 0
	AND (SELECT count(*) FROM t_heap) = (SELECT count(*) FROM t_vdb)});
	is($same, 't', "$label: both tables hold the same rows");
	my $ratio = $vdb_size / $heap_size;
	diag(sprintf("%s: heap %d kB, vdb %d kB, ratio %.3f after %d cycles",
		$label, $heap_size / 1024, $vdb_size / 1024, $ratio, $cycles));
	cmp_ok($ratio, '<=', $max_ratio, "$label: vdb within $max_ratio x heap");
}

$node->stop;
done_testing();
