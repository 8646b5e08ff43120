# Cancellation and limits: statement_timeout and pg_cancel_backend stop a
# CREATE INDEX, a vdb_seal and a long scan promptly (within a second of the
# request), and leave everything valid: no half-built index, the frozen
# segment still frozen after a cancelled seal, vdb_check clean, the index
# usable and exact when it probes every list.  A maintenance_work_mem far
# too small for a segment seals in smaller segments instead of failing.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

# How long a cancelled statement may take to stop after the request.
my $max_stop = 1.0;

my $node = PostgreSQL::Test::Cluster->new('cancel');
$node->init;
$node->append_conf('postgresql.conf', qq(
autovacuum = off
jit = off
vdb.auto_seal = off
shared_buffers = 128MB
maintenance_work_mem = 64MB
));
$node->start;

# 250,000 rows of 64 dimensions in 50 clusters: building an index on them
# or sealing them takes a few seconds here.
my $t0 = time;
$node->safe_psql('postgres', q{
CREATE EXTENSION vdb;
SELECT setseed(0.7);
CREATE TABLE centres AS SELECT c, array(SELECT (random() * 2 - 1)::real
	FROM generate_series(1, 64) WHERE c >= 0) AS x FROM generate_series(0, 49) c;
CREATE TABLE big (id int, v vector(64));
INSERT INTO big SELECT i, array(SELECT x[d] + (random() * 0.6 - 0.3)::real
	FROM generate_series(1, 64) d WHERE i > 0)::vector
	FROM generate_series(1, 250000) i JOIN centres ON c = i % 50;
CREATE TABLE queries AS SELECT id AS q, v FROM big WHERE id % 62500 = 1;
UPDATE queries SET v = v + array_fill(0.01::real, ARRAY[64])::vector;
ANALYZE big;
});
note(sprintf('generated 250000 rows in %.1f s', time - $t0));

# Start sql in a background session; returns the session and its pid.
sub start_bg
{
	my ($sql) = @_;
	my $bg = $node->background_psql('postgres', on_error_stop => 0);
	my $pid = $bg->query_safe('SELECT pg_backend_pid()');
	chomp $pid;
	$bg->query_until(qr/started/, "\\echo started\n$sql;\n\\echo finished\n");
	return ($bg, $pid);
}

# Cancel the statement running in a background session once it has run
# for half a second; returns the seconds it took to stop.
sub cancel_after_half_a_second
{
	my ($what, $bg, $pid) = @_;
	usleep(500_000);
	is($node->safe_psql('postgres', "SELECT state FROM pg_stat_activity WHERE pid = $pid"),
		'active', "$what: still running after half a second");
	my $start = time;
	$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
	$bg->query_until(qr/finished/, '');
	my $took = time - $start;
	like($bg->{stderr}, qr/canceling statement due to user request/,
		"$what: cancelled by the request");
	$bg->quit;
	cmp_ok($took, '<', $max_stop, "$what: stopped within $max_stop s of pg_cancel_backend");
	note(sprintf('%s: stopped %.3f s after pg_cancel_backend', $what, $took));
	return $took;
}

# Run sql under a statement_timeout of half a second; returns the seconds
# it ran in all.
sub run_with_timeout
{
	my ($what, $sql) = @_;
	my $start = time;
	my ($ret, $out, $err) = $node->psql('postgres',
		"SET statement_timeout = '500ms'; $sql");
	my $took = time - $start;
	like($err, qr/canceling statement due to statement timeout/,
		"$what: stopped by statement_timeout");
	cmp_ok($took, '<', 0.5 + $max_stop, "$what: stopped within $max_stop s of the timeout");
	note(sprintf('%s: returned %.3f s after it started (timeout 0.5 s)', $what, $took));
	return $took;
}

# The checks after an interruption: a sound index that answers exactly
# when it probes every list.
sub check_index
{
	my ($what, $table, $index) = @_;
	is($node->safe_psql('postgres',
			"SELECT coalesce(string_agg(p, '; '), 'clean') FROM vdb_check('$index') p"),
		'clean', "$what: vdb_check is clean");
	my $q = qq{SELECT string_agg(a::text, ' ' ORDER BY q) FROM queries,
	LATERAL (SELECT array_agg(id) a FROM (SELECT id FROM $table b
		ORDER BY b.v <-> queries.v LIMIT 10) s) s};
	my $index_answer = $node->safe_psql('postgres',
		"SET vdb.probes = 32768; SET enable_seqscan = off; $q");
	my $exact = $node->safe_psql('postgres', "SET enable_indexscan = off; $q");
	is($index_answer, $exact, "$what: probing every list equals the exact result");
}

# CREATE INDEX, interrupted both ways: no index is left behind.
run_with_timeout('CREATE INDEX',
	q{CREATE INDEX big_v ON big USING vdb_ivf (v) WITH (segment_rows = 250000)});
my ($bg, $pid) = start_bg(
	q{CREATE INDEX big_v ON big USING vdb_ivf (v) WITH (segment_rows = 250000)});
cancel_after_half_a_second('CREATE INDEX', $bg, $pid);
is($node->safe_psql('postgres', q{SELECT to_regclass('big_v') IS NULL}), 't',
	'the interrupted builds left no index');

$t0 = time;
$node->safe_psql('postgres',
	q{CREATE INDEX big_v ON big USING vdb_ivf (v) WITH (segment_rows = 250000)});
my $build = time - $t0;
note(sprintf('uninterrupted CREATE INDEX: %.1f s', $build));
cmp_ok($build, '>', 0.75, 'an uninterrupted build runs long enough to be interrupted');
check_index('after the interrupted builds', 'big', 'big_v');

# A long scan: a filter no row passes makes each scan widen through every
# list (about 0.1 s here), and there are 500 of them.
my $scan = q{SELECT count(*) FROM generate_series(1, 500) g CROSS JOIN LATERAL
	(SELECT id FROM big b WHERE b.id < -g
	 ORDER BY b.v <-> (SELECT v FROM queries ORDER BY q LIMIT 1) LIMIT 10) s};
like($node->safe_psql('postgres', "SET enable_seqscan = off; EXPLAIN (COSTS OFF) $scan"),
	qr/Index Scan using big_v/, 'the long scan uses the index');
run_with_timeout('long scan', "SET enable_seqscan = off; $scan");
($bg, $pid) = start_bg("SET enable_seqscan = off; $scan");
cancel_after_half_a_second('long scan', $bg, $pid);
check_index('after the interrupted scans', 'big', 'big_v');

# vdb_seal of one growing segment of 250,000 rows (inserted into an empty
# index whose segments never fill).  The freeze is done before the seal is
# interrupted; the frozen segment must stay frozen and searchable, and a
# later vdb_seal seals it.
$node->safe_psql('postgres', q{
CREATE TABLE big2 (LIKE big);
CREATE INDEX big2_v ON big2 USING vdb_ivf (v) WITH (segment_rows = 1000000);
INSERT INTO big2 SELECT * FROM big;
});
is($node->safe_psql('postgres', q{
SELECT string_agg(state || ':' || rows, ',' ORDER BY segment_id) FROM vdb_segments('big2_v')}),
	'growing:250000', 'every row is in the growing segment');
run_with_timeout('vdb_seal', q{SELECT vdb_seal('big2_v')});
is($node->safe_psql('postgres', q{
SELECT string_agg(state || ':' || rows, ',' ORDER BY segment_id) FROM vdb_segments('big2_v')}),
	'frozen:250000,growing:0', 'the timed-out seal left the segment frozen');
($bg, $pid) = start_bg(q{SELECT vdb_seal('big2_v')});
cancel_after_half_a_second('vdb_seal', $bg, $pid);
is($node->safe_psql('postgres', q{
SELECT string_agg(state || ':' || rows, ',' ORDER BY segment_id) FROM vdb_segments('big2_v')}),
	'frozen:250000,growing:0', 'the cancelled seal left the segment frozen');
check_index('after the interrupted seals', 'big2', 'big2_v');

# A background sealer cancelled in the middle of the same seal: it stops,
# and the segment stays frozen.
$node->safe_psql('postgres',
	q{LOAD 'vdb'; ALTER SYSTEM SET vdb.auto_seal = on; SELECT pg_reload_conf();});
$node->psql('postgres', q{VACUUM big2});
my $sealer = q{SELECT pid FROM pg_stat_activity
	WHERE backend_type = 'vdb sealer' AND query LIKE 'sealing segment%'};
$node->poll_query_until('postgres', "SELECT count(*) > 0 FROM ($sealer) s")
  or die 'no background sealer started';
usleep(500_000);
$pid = $node->safe_psql('postgres', $sealer);
isnt($pid, '', 'background sealer: still sealing after half a second');
$node->safe_psql('postgres',
	q{LOAD 'vdb'; ALTER SYSTEM RESET vdb.auto_seal; SELECT pg_reload_conf();});
$t0 = time;
$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
$node->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $pid", 't')
  or die 'the background sealer did not stop';
my $took = time - $t0;
cmp_ok($took, '<', $max_stop, "background sealer: stopped within $max_stop s of pg_cancel_backend");
note(sprintf('background sealer: stopped %.3f s after pg_cancel_backend', $took));
is($node->safe_psql('postgres', q{
SELECT string_agg(state || ':' || rows, ',' ORDER BY segment_id) FROM vdb_segments('big2_v')}),
	'frozen:250000,growing:0', 'the cancelled background seal left the segment frozen');
is($node->safe_psql('postgres', q{SELECT vdb_seal('big2_v')}), '1',
	'a later vdb_seal seals the frozen segment');
is($node->safe_psql('postgres', q{
SELECT string_agg(state || ':' || rows, ',' ORDER BY segment_id)
FROM vdb_segments('big2_v') WHERE state = 'frozen'}),
	'', 'nothing is left frozen');
is($node->safe_psql('postgres', q{
SELECT sum(rows) FROM vdb_segments('big2_v') WHERE state = 'sealed'}),
	'250000', 'every row is in a sealed segment');
check_index('after the seal', 'big2', 'big2_v');

# maintenance_work_mem at its minimum (1 MB) holds about 2,900 rows of 64
# dimensions: CREATE INDEX and vdb_seal seal smaller segments, each within
# the budget, and the index stays exact.
$node->safe_psql('postgres', q{
DROP TABLE big2;
CREATE TABLE small AS SELECT * FROM big WHERE id <= 20000;
});
my ($ret, $out, $err) = $node->psql('postgres', q{
SET maintenance_work_mem = '1MB';
CREATE INDEX small_v ON small USING vdb_ivf (v) WITH (segment_rows = 100000);
INSERT INTO small SELECT * FROM big WHERE id > 20000 AND id <= 30000;
SELECT vdb_seal('small_v');
});
is($ret, 0, 'CREATE INDEX and vdb_seal with maintenance_work_mem = 1MB succeed')
  or diag($err);
my $segs = $node->safe_psql('postgres', q{
SELECT count(*) || ':' || sum(rows) || ':' || max(rows)
FROM vdb_segments('small_v') WHERE state = 'sealed'});
my ($nseg, $rows, $largest) = split /:/, $segs;
note("maintenance_work_mem = 1MB: $nseg sealed segments, $rows rows, largest $largest");
is($rows, 30000, 'every row is in a sealed segment');
cmp_ok($nseg, '>=', 10, 'the rows were sealed in small segments');
cmp_ok($largest, '<=', 3000, 'no segment holds more rows than 1MB allows');
is($node->safe_psql('postgres',
		"SELECT coalesce(string_agg(p, '; '), 'clean') FROM vdb_check('small_v') p"),
	'clean', 'the small-memory index is sound');
my $q = q{SELECT string_agg(a::text, ' ' ORDER BY q) FROM queries,
	LATERAL (SELECT array_agg(id) a FROM (SELECT id FROM small b
		ORDER BY b.v <-> queries.v LIMIT 10) s) s};
is($node->safe_psql('postgres', "SET vdb.probes = 32768; SET enable_seqscan = off; $q"),
	$node->safe_psql('postgres', "SET enable_indexscan = off; $q"),
	'the small-memory index is exact when it probes every list');

# The widest vectors (2,000 dimensions) at maintenance_work_mem = 1MB: a
# sealer always may hold 1,000 rows (8 MB), so the build degrades to small
# segments instead of failing.
($ret, $out, $err) = $node->psql('postgres', q{
CREATE TABLE wide (id int, v vector(2000));
INSERT INTO wide SELECT i, array(SELECT random()::real FROM generate_series(1, 2000)
	WHERE i > 0)::vector FROM generate_series(1, 1500) i;
SET maintenance_work_mem = '1MB';
CREATE INDEX wide_v ON wide USING vdb_ivf (v);
});
is($ret, 0, 'CREATE INDEX on 2000-dimensional rows with maintenance_work_mem = 1MB succeeds')
  or diag($err);
is($node->safe_psql('postgres', q{
SELECT count(*) >= 2 AND max(rows) <= 1000 AND sum(rows) = 1500
FROM vdb_segments('wide_v') WHERE state = 'sealed'}),
	't', 'the wide rows were sealed in segments of at most 1,000 rows');
is($node->safe_psql('postgres',
		"SELECT coalesce(string_agg(p, '; '), 'clean') FROM vdb_check('wide_v') p"),
	'clean', 'the wide index is sound');

$node->stop;
done_testing();
