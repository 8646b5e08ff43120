# CREATE INDEX ... USING vdb_ivf reports its phases and progress in
# pg_stat_progress_create_index: a second session samples the view while a
# build of a few seconds runs and must see the vdb_ivf phases (loading
# tuples, k-means, writing segments) and tuple counters that move.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('progress');
$node->init;
$node->append_conf('postgresql.conf', 'vdb.auto_seal = off');
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION vdb');

# 60000 rows of 128 dimensions: 1000 random base vectors, each row shifted
# a little (cheap to generate, still 60000 distinct rows to cluster).  Three
# segments of 1000 lists take a few seconds of k-means.
# Never analyzed, so reltuples is unknown (-1) when the build starts.
$node->safe_psql(
	'postgres', q{
SELECT setseed(0.42);
CREATE TABLE base AS SELECT b, array(SELECT random()::real FROM generate_series(1, 128))::vector AS v
	FROM generate_series(0, 999) b;
CREATE TABLE items (id int, embedding vector(128)) USING vdb WITH (autovacuum_enabled = off);
INSERT INTO items SELECT i, v + array_fill((i / 1000) * 0.001::real, ARRAY[128])::vector
	FROM generate_series(1, 60000) i JOIN base ON b = i % 1000;
});

# Record every distinct state of the build's progress row, sampled every
# 2 ms, until the row has been seen and has gone again (or 120 s pass).
# pg_stat_clear_snapshot() makes each sample read the shared state anew.
$node->safe_psql(
	'postgres', q{
CREATE TABLE samples (n serial, phase text, tuples_total bigint, tuples_done bigint,
	blocks_total bigint, blocks_done bigint, command text, relid oid);
CREATE PROCEDURE sample_progress() LANGUAGE plpgsql AS $$
DECLARE
	seen boolean := false;
	found_row boolean;
	deadline timestamptz := clock_timestamp() + interval '120 s';
BEGIN
	WHILE clock_timestamp() < deadline LOOP
		PERFORM pg_stat_clear_snapshot();
		INSERT INTO samples (phase, tuples_total, tuples_done, blocks_total, blocks_done, command, relid)
			SELECT p.phase, p.tuples_total, p.tuples_done, p.blocks_total, p.blocks_done,
				p.command, p.relid
			FROM pg_stat_progress_create_index p
			WHERE p.datname = current_database()
			EXCEPT SELECT phase, tuples_total, tuples_done, blocks_total, blocks_done, command, relid
			FROM samples WHERE n = (SELECT max(n) FROM samples);
		found_row := EXISTS (SELECT FROM pg_stat_progress_create_index
			WHERE datname = current_database());
		EXIT WHEN seen AND NOT found_row;
		seen := seen OR found_row;
		PERFORM pg_sleep(0.002);
	END LOOP;
END $$;
});

my $build = $node->background_psql('postgres');
$build->query_safe("SET maintenance_work_mem = '256MB'");
$build->query_until(qr/starting/, q{\echo starting
CREATE INDEX items_ivf ON items USING vdb_ivf (embedding) WITH (segment_rows = 20000, lists = 1000);
});
$node->safe_psql('postgres', 'CALL sample_progress()');
$build->query_safe('SELECT 1');
$build->quit;

is($node->safe_psql('postgres', q{SELECT count(*) FROM vdb_check('items_ivf')}),
	'0', 'the index built while sampled is clean');
is( $node->safe_psql('postgres',
		q{SELECT string_agg(state || ':' || rows, ',' ORDER BY segment_id) FROM vdb_segments('items_ivf')}),
	'sealed:20000,sealed:20000,sealed:20000,growing:0',
	'three sealed segments were built');

my $phases = $node->safe_psql('postgres',
	q{SELECT string_agg(phase, ',' ORDER BY first) FROM (
		SELECT phase, min(n) AS first FROM samples GROUP BY phase) s});
note "phases seen: $phases";
note $node->safe_psql('postgres',
	q{SELECT phase, min(tuples_total), max(tuples_total), max(tuples_done), count(*)
		FROM samples GROUP BY phase ORDER BY min(n)});
for my $phase ('building index: loading tuples', 'building index: performing k-means',
	'building index: writing segments')
{
	like($phases, qr/\Q$phase\E/, "the view showed \"$phase\"");
}
# The sampler may start after the first segment loaded: look for a load
# followed by k-means followed by writing anywhere in the samples.
is( $node->safe_psql('postgres', q{
SELECT EXISTS (SELECT FROM samples l JOIN samples k ON k.n > l.n JOIN samples w ON w.n > k.n
	WHERE l.phase = 'building index: loading tuples'
	AND k.phase = 'building index: performing k-means'
	AND w.phase = 'building index: writing segments')}),
	't', 'loading, k-means and writing come in that order');
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM samples WHERE phase LIKE 'building index: %'
			AND phase NOT IN ('building index: initializing', 'building index: loading tuples',
			'building index: performing k-means', 'building index: writing segments')}),
	'0', 'no unnamed sub-phase');

is( $node->safe_psql('postgres',
		q{SELECT bool_and(command = 'CREATE INDEX'), bool_and(relid = 'items'::regclass) FROM samples}),
	't|t', 'the rows are for CREATE INDEX on the table');

# Tuple counters: done grows while loading and ends at the rows indexed;
# the total is set although the table was never analyzed (the planner's
# estimate from the table's size, which for a never-analyzed table can be
# far off: PostgreSQL guesses the width of a vector column).
my ($distinct_done, $max_done, $total_set) = split /\|/, $node->safe_psql('postgres', q{
SELECT count(DISTINCT tuples_done) FILTER (WHERE phase = 'building index: loading tuples'),
	max(tuples_done),
	bool_and(tuples_total > 0) FILTER (WHERE phase <> 'building index: initializing')
FROM samples});
cmp_ok($distinct_done, '>=', 3, 'tuples_done moved while loading');
is($max_done, 60000, 'tuples_done ends at the rows indexed');
is($total_set, 't', 'tuples_total is set for a table never analyzed');
is( $node->safe_psql('postgres', q{
SELECT max(blocks_done) > 0 AND bool_and(blocks_done <= blocks_total)
FROM samples WHERE phase = 'building index: loading tuples'}),
	't', 'the table scan reports blocks');

$node->stop;
done_testing();
