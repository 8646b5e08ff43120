# vdb_ivf scans on a streaming standby answer exactly as on the primary,
# after the build, after inserts into the growing segment, after a seal and
# after VACUUM (the standby's centroid cache must follow the new segments).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use VdbTest;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->start;
$primary->safe_psql('postgres', 'CREATE EXTENSION vdb');
$primary->safe_psql('postgres', q{
SELECT setseed(0.3);
CREATE TABLE items (id int, embedding vector(16));
INSERT INTO items
	SELECT i, ('[' || array_to_string(array(
		SELECT round((sin((i % 25) * 7 + j) * 2 + random() * 0.5)::numeric, 4)
		FROM generate_series(1, 16) j), ',') || ']')::vector
	FROM generate_series(1, 4000) i;
CREATE INDEX items_ivf ON items USING vdb_ivf (embedding) WITH (segment_rows = 2000);
});

my $standby = VdbTest::start_standby($primary, 'standby');

# The 10 nearest rows of five queries, through the index, with few probes
# (so the answer depends on the index contents, not only on the rows).
my $answers = sub {
	my ($node) = @_;
	my $out = '';
	for my $qid (11, 223, 1333, 2444, 3556)	# none deleted below
	{
		$out .= $node->safe_psql('postgres', qq{
SET enable_seqscan = off;
SET vdb.probes = 2;
SELECT string_agg(id::text, ',') FROM (SELECT id FROM items
	ORDER BY embedding <-> (SELECT embedding FROM items WHERE id = $qid) LIMIT 10) s;
SELECT returned FROM vdb_last_scan();
}) . "\n";
	}
	return $out;
};

my $step = sub {
	my ($name) = @_;
	$primary->wait_for_catchup($standby);
	my $p = $answers->($primary);
	my $s = $answers->($standby);
	like($s, qr/^\d+(,\d+){9}\n10$/m, "standby answers through the index ($name)");
	is($s, $p, "standby answers exactly as the primary ($name)");
};

$step->('after the build');

$primary->safe_psql('postgres', q{
INSERT INTO items
	SELECT i, ('[' || array_to_string(array(
		SELECT round((sin((i % 25) * 7 + j) * 2 + 0.25)::numeric, 4)
		FROM generate_series(1, 16) j), ',') || ']')::vector
	FROM generate_series(4001, 5000) i;
});
$step->('after inserts');

$primary->safe_psql('postgres', "SELECT vdb_seal('items_ivf')");
$step->('after a seal');

$primary->safe_psql('postgres', 'DELETE FROM items WHERE id % 3 = 0; VACUUM items');
$step->('after delete and vacuum');

$standby->stop;
$primary->stop;
done_testing();
