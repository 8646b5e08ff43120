# kill -9 of the whole server (postmaster and every server process at
# once, as a power loss) at the moments TAP 030 and 070 do not reach with
# their immediate stops and PANIC points:
#
# - in the middle of CREATE INDEX on a vdb table: after restart the table
#   is intact, the index does not exist, and building it again gives exact
#   answers;
# - in the middle of CREATE INDEX CONCURRENTLY, while it builds, while it
#   waits for writers before validating, and while it waits for old
#   snapshots after validating: the index is left invalid (and ready or
#   not, according to the phase), the planner ignores it, and REINDEX
#   (plain or CONCURRENTLY) makes it valid and exact;
# - while clients insert and delete single rows in autocommit, background
#   sealers seal and a VACUUM is cleaning the index: every acknowledged
#   insert and delete survives, nothing else but the one statement each
#   client had in flight, and the index is sound, complete and exact.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time);
use VdbTest;

my $node = PostgreSQL::Test::Cluster->new('kill9');
$node->init;
$node->append_conf('postgresql.conf', qq(
autovacuum = off
jit = off
max_connections = 20
));
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION vdb;
-- 32 pseudo-random coordinates per id in five clusters; no distance ties.
CREATE FUNCTION vec32(i bigint) RETURNS vector LANGUAGE sql IMMUTABLE AS $$
	SELECT array_agg((hashint8(i * 32 + d)::float8 / 2147483648.0 * 10 + (i % 5) * 8)::real
		ORDER BY d)::vector FROM generate_series(0, 31) d
$$;
CREATE TABLE b (id int, v vector(32)) USING vdb;
INSERT INTO b SELECT i, vec32(i) FROM generate_series(1, 100000) i;
CHECKPOINT;
});

# Count, id sum and a checksum of every vector: what "intact" means.
my $fingerprint = q{SELECT count(*) || ':' || sum(id) || ':' || sum(hashtext(v::text)::bigint) FROM b};
my $b_rows = $node->safe_psql('postgres', $fingerprint);

# Poll a condition a few milliseconds apart (one session, one short
# transaction per poll, so that the polling holds back neither VACUUM nor
# CREATE INDEX CONCURRENTLY) until it holds; returns whether it did in
# time.
sub wait_for
{
	my ($condition, $seconds) = @_;
	my $poller = $node->background_psql('postgres');
	my $deadline = time + $seconds;
	my $held = 'f';
	while (time < $deadline)
	{
		$held = $poller->query_safe("SELECT $condition");
		last if $held eq 't';
		select(undef, undef, undef, 0.005);
	}
	$poller->quit;
	return $held;
}

# Start sql in a background psql session.
sub start_session
{
	my ($sql) = @_;
	my $session = $node->background_psql('postgres', on_error_stop => 0);
	$session->query_until(qr/started/, "\\echo started\n$sql\n");
	return $session;
}

# Kill everything (the caller made sure the statement of interest was
# running), and start again.
sub kill_and_restart
{
	my ($what, @sessions) = @_;
	VdbTest::kill9_all($node);
	$_->{run}->kill_kill for @sessions;
	$node->start;
	is($node->safe_psql('postgres', $fingerprint), $b_rows, "$what: the table is intact");
}

# The state of index b_v: "absent", or its pg_index flags.
sub index_state
{
	return $node->safe_psql('postgres', q{
SELECT coalesce((SELECT CASE WHEN indisvalid THEN 'valid' ELSE 'invalid' END || ','
	|| CASE WHEN indisready THEN 'ready' ELSE 'not ready' END
	FROM pg_index WHERE indexrelid = to_regclass('b_v')), 'absent')});
}

#
# 1. CREATE INDEX, killed while it writes segments.
#
my $build = start_session(
	q{CREATE INDEX b_v ON b USING vdb_ivf (v) WITH (segment_rows = 10000);});
is(wait_for(q{EXISTS (SELECT FROM pg_stat_progress_create_index
	WHERE phase IN ('building index: performing k-means', 'building index: writing segments')
	AND tuples_done >= 30000)}, 60),
	't', 'CREATE INDEX: some segments are written');
kill_and_restart('CREATE INDEX', $build);
is(index_state(), 'absent', 'CREATE INDEX: the index does not exist after restart');
$node->safe_psql('postgres',
	q{CREATE INDEX b_v ON b USING vdb_ivf (v) WITH (segment_rows = 10000)});
is($node->safe_psql('postgres', q{SELECT count(*) FROM vdb_check('b_v')}), '0',
	'CREATE INDEX again: vdb_check is clean');
VdbTest::check_exact_search($node, 'b', 'b_v', 'CREATE INDEX again');
$node->safe_psql('postgres', q{DROP INDEX b_v; CHECKPOINT});

#
# 2. CREATE INDEX CONCURRENTLY, killed while it builds: the index exists,
# neither valid nor ready; plain REINDEX rebuilds it.
#
$build = start_session(
	q{CREATE INDEX CONCURRENTLY b_v ON b USING vdb_ivf (v) WITH (segment_rows = 10000);});
is(wait_for(q{EXISTS (SELECT FROM pg_stat_progress_create_index
	WHERE phase IN ('building index: performing k-means', 'building index: writing segments')
	AND tuples_done >= 30000)}, 60),
	't', 'CONCURRENTLY, building: some segments are written');
kill_and_restart('CONCURRENTLY, building', $build);
is(index_state(), 'invalid,not ready', 'CONCURRENTLY, building: the index is left invalid');
unlike($node->safe_psql('postgres', q{
SET enable_seqscan = off; EXPLAIN (COSTS OFF) SELECT id FROM b ORDER BY v <-> vec32(7) LIMIT 10}),
	qr/b_v/, 'CONCURRENTLY, building: the planner ignores the invalid index');
$node->safe_psql('postgres', q{INSERT INTO b SELECT i, vec32(i) FROM generate_series(100001, 100100) i});
$node->safe_psql('postgres', q{REINDEX INDEX b_v});
is(index_state(), 'valid,ready', 'CONCURRENTLY, building: REINDEX makes it valid');
VdbTest::check_index($node, 'b_v', 'b', 'CONCURRENTLY, building, reindexed');
VdbTest::check_exact_search($node, 'b', 'b_v', 'CONCURRENTLY, building, reindexed');
$node->safe_psql('postgres', q{DELETE FROM b WHERE id > 100000; VACUUM b; DROP INDEX b_v; CHECKPOINT});

#
# 3. CREATE INDEX CONCURRENTLY, killed while it waits for a writer before
# validating (a transaction that inserted a row during the build): the
# built index is ready (inserts maintain it) but not valid; REINDEX
# CONCURRENTLY rebuilds it.
#
my $writer = $node->background_psql('postgres', on_error_stop => 0);
$build = start_session(
	q{CREATE INDEX CONCURRENTLY b_v ON b USING vdb_ivf (v) WITH (segment_rows = 10000);});
is(wait_for(q{EXISTS (SELECT FROM pg_stat_progress_create_index
	WHERE phase LIKE 'building index: %' AND tuples_done > 0)}, 60),
	't', 'CONCURRENTLY, validation: the build has started');
$writer->query_safe(q{BEGIN; INSERT INTO b VALUES (200001, vec32(200001))});
is(wait_for(q{EXISTS (SELECT FROM pg_stat_progress_create_index
	WHERE phase = 'waiting for writers before validation')}, 60),
	't', 'CONCURRENTLY, validation: the build waits for the writer');
kill_and_restart('CONCURRENTLY, validation', $build, $writer);
is(index_state(), 'invalid,ready', 'CONCURRENTLY, validation: the index is left invalid but ready');
is($node->safe_psql('postgres', q{SELECT count(*) FROM b WHERE id = 200001}), '0',
	'CONCURRENTLY, validation: the uncommitted row is not visible');
$node->safe_psql('postgres', q{INSERT INTO b SELECT i, vec32(i) FROM generate_series(100001, 100100) i});
is($node->safe_psql('postgres', q{SELECT count(*) FROM vdb_check('b_v')}), '0',
	'CONCURRENTLY, validation: vdb_check of the invalid index is clean');
$node->safe_psql('postgres', q{REINDEX INDEX CONCURRENTLY b_v});
is(index_state(), 'valid,ready', 'CONCURRENTLY, validation: REINDEX CONCURRENTLY makes it valid');
VdbTest::check_index($node, 'b_v', 'b', 'CONCURRENTLY, validation, reindexed');
VdbTest::check_exact_search($node, 'b', 'b_v', 'CONCURRENTLY, validation, reindexed');
$node->safe_psql('postgres', q{DELETE FROM b WHERE id > 100000; VACUUM b; DROP INDEX b_v; CHECKPOINT});

#
# 4. CREATE INDEX CONCURRENTLY, killed while it waits for a snapshot older
# than its validation (a REPEATABLE READ transaction that never touches
# the table): validated, yet still invalid after restart.
#
my $reader = $node->background_psql('postgres', on_error_stop => 0);
$build = start_session(
	q{CREATE INDEX CONCURRENTLY b_v ON b USING vdb_ivf (v) WITH (segment_rows = 10000);});
is(wait_for(q{EXISTS (SELECT FROM pg_stat_progress_create_index
	WHERE phase LIKE 'building index: %' AND tuples_done > 0)}, 60),
	't', 'CONCURRENTLY, old snapshots: the build has started');
$reader->query_safe(q{BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM pg_class});
is(wait_for(q{EXISTS (SELECT FROM pg_stat_progress_create_index
	WHERE phase = 'waiting for old snapshots')}, 60),
	't', 'CONCURRENTLY, old snapshots: the validated build waits for the old snapshot');
kill_and_restart('CONCURRENTLY, old snapshots', $build, $reader);
is(index_state(), 'invalid,ready', 'CONCURRENTLY, old snapshots: the index is left invalid but ready');
$node->safe_psql('postgres', q{REINDEX INDEX CONCURRENTLY b_v});
is(index_state(), 'valid,ready', 'CONCURRENTLY, old snapshots: REINDEX CONCURRENTLY makes it valid');
VdbTest::check_index($node, 'b_v', 'b', 'CONCURRENTLY, old snapshots, reindexed');
VdbTest::check_exact_search($node, 'b', 'b_v', 'CONCURRENTLY, old snapshots, reindexed');

#
# 5. Single-row inserts and deletes in autocommit from several clients,
# background sealers at work, and VACUUM cleaning the index at the kill.
# Each client runs a script of statements through psql, which prints a
# command tag for every acknowledged commit: those must all be there
# after restart, and nothing after the one statement in flight.
#
my $ninserts = 20000;
my @inserters = (1, 2, 3);	# client c inserts ids c * 1,000,000 + 1 ...
$node->safe_psql('postgres', q{
CREATE TABLE w (id bigint, v vector(32)) USING vdb;
INSERT INTO w SELECT i, vec32(i) FROM generate_series(1, 60000) i;
CREATE INDEX w_id ON w (id);
CREATE INDEX w_v ON w USING vdb_ivf (v) WITH (segment_rows = 5000);
CHECKPOINT;
});

# A psql process running a script, its output going to a file (a pipe
# would fill up and stall it).
sub start_script
{
	my ($name, $script) = @_;
	my $file = $node->basedir . "/$name";
	open(my $fh, '>', "$file.sql") or die "could not write $file.sql: $!";
	print $fh $script;
	close($fh);
	return IPC::Run::start(
		[ 'psql', '-X', '-h', $node->host, '-p', $node->port, '-d', 'postgres', '-f', "$file.sql" ],
		'>', "$file.out", '2>', "$file.err", IPC::Run::timeout(120));
}

my %client;
for my $c (@inserters)
{
	my $base = $c * 1_000_000;
	$client{"insert$c"} = start_script("insert$c",
		join('', map { "INSERT INTO w VALUES ($_, vec32($_));\n" } $base + 1 .. $base + $ninserts));
}
# The deleter deletes ids 3, 6, 9, ... of the first 60,000.
$client{delete} = start_script('delete',
	join('', map { 'DELETE FROM w WHERE id = ' . 3 * $_ . ";\n" } 1 .. 20000));
# VACUUM in a loop, slowed down by cost-based delay so that its index
# phase lasts long enough to kill it there.
$client{vacuum} = start_script('vacuum',
	"SET vacuum_cost_delay = '1ms';\nSET vacuum_cost_limit = 10;\n"
	  . "VACUUM (INDEX_CLEANUP ON) w;\nSELECT pg_sleep(0.05);\n" x 1000);

# Let them run, then kill while VACUUM is in its index phase.
sleep(3);
my $in_vacuum = wait_for(q{EXISTS (SELECT FROM pg_stat_progress_vacuum
	WHERE relid = 'w'::regclass AND phase = 'vacuuming indexes')}, 20);
my $sealing = $node->safe_psql('postgres',
	q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'vdb sealer'});
VdbTest::kill9_all($node);
is($in_vacuum, 't', 'writes: VACUUM was cleaning the index just before the kill');
note("writes: $sealing background sealers were running at the kill");
for my $name (sort keys %client)
{
	eval { $client{$name}->finish };
	$client{$name}->kill_kill if $@;
}
$node->start;

# Acknowledged statements of each client.
my %acked = map { $_ => scalar(() = slurp_file($node->basedir . "/$_.out") =~ /^(?:INSERT 0 1|DELETE 1)$/mg) }
  grep { $_ ne 'vacuum' } keys %client;
note(join(', ', map { "$_: $acked{$_} acknowledged" } sort keys %acked));
for my $c (@inserters)
{
	my ($base, $k) = ($c * 1_000_000, $acked{"insert$c"});
	cmp_ok($k, '>', 0, "writes: client $c had inserts acknowledged");
	is($node->safe_psql('postgres', qq{
SELECT count(*) FILTER (WHERE id <= $base + $k) || '|' || count(*) FILTER (WHERE id > $base + $k + 1)
FROM w WHERE id > $base AND id <= $base + $ninserts}),
		"$k|0", "writes: client $c: every acknowledged insert is there, no later one");
}
my $k = $acked{delete};
cmp_ok($k, '>', 0, 'writes: deletes were acknowledged');
is($node->safe_psql('postgres', qq{
SELECT count(*) FILTER (WHERE id <= 3 * $k) || '|' || count(*) FILTER (WHERE id > 3 * ($k + 1))
	|| '|' || (SELECT count(*) FROM w WHERE id <= 60000 AND id % 3 <> 0)
FROM w WHERE id <= 60000 AND id % 3 = 0}),
	# the statement after the last acknowledged one may or may not have
	# committed; a deleter that finished all 20,000 left none in flight
	'0|' . ($k < 20000 ? 20000 - $k - 1 : 0) . '|40000',
	'writes: every acknowledged delete is done, no later one, other rows untouched');
is($node->safe_psql('postgres', q{SELECT count(*) - count(DISTINCT id) FROM w}), '0',
	'writes: no row is duplicated');

is($node->safe_psql('postgres', q{SELECT count(*) FROM vdb_check('w_v')}), '0',
	'writes: vdb_check is clean after restart');
# INDEX_CLEANUP ON: with few dead rows VACUUM may leave them and their
# index entries for later (index scan bypassed), and count them live.
$node->safe_psql('postgres', q{VACUUM (INDEX_CLEANUP ON) w});
VdbTest::check_index($node, 'w_v', 'w', 'writes, vacuumed');
$node->safe_psql('postgres', q{SET vdb.auto_seal = off; SELECT vdb_seal('w_v')});
is($node->safe_psql('postgres', q{
SELECT string_agg(DISTINCT state || CASE WHEN state = 'growing' THEN ':' || rows ELSE '' END, ',')
FROM vdb_segments('w_v') WHERE state <> 'dropped'}),
	'growing:0,sealed', 'writes: vdb_seal seals every segment afterwards');
VdbTest::check_index($node, 'w_v', 'w', 'writes, sealed');
VdbTest::check_exact_search($node, 'w', 'w_v', 'writes, sealed');

$node->stop;
done_testing();
