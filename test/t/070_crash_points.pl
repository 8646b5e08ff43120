# Crash at each named step of the vdb_ivf write side (vdb.debug_crash_at),
# restart, and check that nothing was lost or half done: every committed row
# is present and no uncommitted one, vdb_check is clean, a search probing
# every list returns exactly what a sequential scan returns, and unfinished
# work (a frozen segment, a VACUUM) completes when run again, by vdb_seal
# or by a background sealer.
#
# The crash point flushes WAL before it PANICs, so each crash is the worst
# case for its step: everything logged before it is durable.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('crash_points');
$node->init;
$node->append_conf('postgresql.conf', qq(
restart_after_crash = on
wal_consistency_checking = 'generic'
autovacuum = off
vdb.auto_seal = off
));
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION vdb;
-- 16 pseudo-random coordinates per id: distinct rows, no distance ties.
CREATE FUNCTION vec(i int) RETURNS vector LANGUAGE sql IMMUTABLE AS $$
	SELECT ('[' || string_agg((((i::bigint * 2654435761 + d * 40503) % 100003) / 1000.0)::text, ',')
		|| ']')::vector FROM generate_series(1, 16) d
$$;
});

# A table of n rows with a vdb_ivf index of 1000-row segments.
sub make_table
{
	my ($t, $n) = @_;
	$node->safe_psql('postgres', qq{
CREATE TABLE $t (id int, v vector(16));
INSERT INTO $t SELECT i, vec(i) FROM generate_series(1, $n) i;
CREATE INDEX ${t}_v ON $t USING vdb_ivf (v) WITH (segment_rows = 1000);
});
}

# Wait until the server has come back from a crash that happened after the
# log offset $logstart.  Watch the log rather than poll with psql: while the
# server restarts psql can exit before reading the query on its stdin, and
# IPC::Run then dies of the broken pipe.
sub wait_for_restart
{
	my ($logstart) = @_;
	$node->wait_for_log(qr/database system is ready to accept connections/, $logstart);
	$node->poll_query_until('postgres', 'SELECT 1', '1')
	  or die 'server did not restart after the crash';
}

# Run sql with the crash point set; it must PANIC there, and the server
# must come back.
sub crash_at
{
	my ($step, $sql) = @_;
	my $logstart = -s $node->logfile;
	my ($ret, $out, $err) = $node->psql('postgres',
		"SET vdb.debug_crash_at = '$step'; $sql");
	isnt($ret, 0, "$step: the statement did not complete");
	wait_for_restart($logstart);
	my $log = slurp_file($node->logfile, $logstart);
	like($log, qr/PANIC:  vdb\.debug_crash_at: crashing at step "$step"/,
		"$step: the backend crashed at the step");
	like($log, qr/database system is ready to accept connections/,
		"$step: crash recovery completed");
}

# Make the background sealer crash at a step: set the crash point in the
# configuration, let VACUUM of the table launch a sealer, wait for its
# PANIC and the restart, and clear the setting again.
sub worker_crash_at
{
	my ($step, $t, $what) = @_;
	my $logstart = -s $node->logfile;
	$node->safe_psql('postgres', qq{
LOAD 'vdb';
ALTER SYSTEM SET vdb.auto_seal = on;
ALTER SYSTEM SET vdb.debug_crash_at = '$step';
SELECT pg_reload_conf();
});
	$node->psql('postgres', qq{VACUUM $t});
	ok($node->wait_for_log(qr/PANIC:  vdb\.debug_crash_at: crashing at step "$step"/, $logstart),
		"$what: the background sealer crashed at $step");
	wait_for_restart($logstart);
	$node->safe_psql('postgres', q{
LOAD 'vdb';
ALTER SYSTEM RESET vdb.debug_crash_at;
SELECT pg_reload_conf();
});
	return;
}

# Segment states of an index, e.g. "sealed:1500,growing:0".
sub states
{
	my ($t) = @_;
	return $node->safe_psql('postgres', qq{
SELECT string_agg(state || ':' || (rows - dead_rows), ',' ORDER BY segment_id)
FROM vdb_segments('${t}_v') WHERE state <> 'dropped'});
}

# The checks after a crash.
sub check_table
{
	my ($what, $t, $rows) = @_;
	is($node->safe_psql('postgres', "SELECT count(*) FROM $t"), $rows,
		"$what: every committed row and nothing else");
	is($node->safe_psql('postgres',
			"SELECT coalesce(string_agg(p, '; '), 'clean') FROM vdb_check('${t}_v') p"),
		'clean', "$what: vdb_check is clean");
	like($node->safe_psql('postgres', qq{
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM $t ORDER BY v <-> vec(100001) LIMIT 10}),
		qr/Index Scan using ${t}_v/, "$what: the search uses the index");
	my $q = qq{SELECT string_agg(a::text, ' ' ORDER BY q) FROM generate_series(100001, 100005) q,
	LATERAL (SELECT array_agg(id) a FROM (SELECT id FROM $t ORDER BY v <-> vec(q) LIMIT 10) s) s};
	my $index = $node->safe_psql('postgres', qq{
SET vdb.probes = 32768; SET enable_seqscan = off; $q});
	my $exact = $node->safe_psql('postgres', qq{SET enable_indexscan = off; $q});
	is($index, $exact, "$what: probing every list equals the exact result");
}

# CREATE INDEX: crash after the first segment is published.  The index was
# never committed, so it is gone; building it again works.
$node->safe_psql('postgres', q{
CREATE TABLE tb (id int, v vector(16));
INSERT INTO tb SELECT i, vec(i) FROM generate_series(1, 2500) i;
});
crash_at('build', q{CREATE INDEX tb_v ON tb USING vdb_ivf (v) WITH (segment_rows = 1000)});
is($node->safe_psql('postgres', q{SELECT to_regclass('tb_v') IS NULL}), 't',
	'build: the uncommitted index does not exist');
$node->safe_psql('postgres',
	q{CREATE INDEX tb_v ON tb USING vdb_ivf (v) WITH (segment_rows = 1000)});
check_table('build, built again', 'tb', 2500);

# aminsert moving the growing tail to a new page: the inserting
# transaction's rows vanish, the committed growing rows stay.
make_table('tg', 1500);
$node->safe_psql('postgres', q{INSERT INTO tg SELECT i, vec(i) FROM generate_series(1501, 1650) i});
crash_at('insert_grow', q{INSERT INTO tg SELECT i, vec(i) FROM generate_series(1651, 1950) i});
check_table('insert_grow', 'tg', 1650);
$node->safe_psql('postgres', q{INSERT INTO tg SELECT i, vec(i) FROM generate_series(1651, 1950) i});
check_table('insert_grow, inserted again', 'tg', 1950);

# aminsert freezing the growing segment, before it asks for a seal: the
# frozen segment is left for a later seal.
make_table('tf', 1500);
$node->safe_psql('postgres', q{INSERT INTO tf SELECT i, vec(i) FROM generate_series(1501, 2450) i});
crash_at('insert_freeze', q{INSERT INTO tf SELECT i, vec(i) FROM generate_series(2451, 2550) i});
like(states('tf'), qr/frozen:1000/, 'insert_freeze: the segment is frozen after restart');
check_table('insert_freeze', 'tf', 2450);
# Two: the frozen segment, and the growing one, which holds the entry of
# the interrupted insert (VACUUM has not removed it yet).
is($node->safe_psql('postgres', q{SELECT vdb_seal('tf_v')}), '2',
	'insert_freeze: vdb_seal seals the frozen segment and the growing one');
unlike(states('tf'), qr/frozen/, 'insert_freeze: nothing is left frozen');
check_table('insert_freeze, sealed', 'tf', 2450);

# vdb_seal: crash after the freeze, in the middle of writing a run, just
# before the publish (segment still frozen), and just after it (sealed).
for my $step ('freeze', 'seal_build', 'seal_publish', 'seal_published')
{
	my $t = "ts_$step";
	make_table($t, 1500);
	$node->safe_psql('postgres',
		qq{INSERT INTO $t SELECT i, vec(i) FROM generate_series(1501, 2700) i});
	my $before = states($t);
	crash_at($step, qq{SELECT vdb_seal('${t}_v')});
	if ($step eq 'seal_published')
	{
		is(states($t), 'sealed:1500,frozen:200,growing:0,sealed:1000',
			"$step: the published seal survived, the next segment is still frozen");
	}
	else
	{
		is(states($t), 'sealed:1500,frozen:1000,frozen:200,growing:0',
			"$step: the segments are still frozen");
	}
	check_table($step, $t, 2700);
	$node->safe_psql('postgres', qq{SELECT vdb_seal('${t}_v')});
	is(states($t), 'sealed:1500,growing:0,sealed:1000,sealed:200',
		"$step: vdb_seal completes afterwards");
	check_table("$step, sealed again", $t, 2700);
}

# VACUUM: crash after removing the entries of one page (more to go), and
# after removing every dead entry (before the heap's line pointers are
# freed).  Before the fix, a crash between pages lost the count of the
# pages already cleaned: vdb_check found "1497 entries present, directory
# says 1500 rows and 0 dead" and the segment's row count stayed wrong.
for my $step ('vacuum', 'vacuum_done')
{
	my $t = "tv_$step";
	make_table($t, 1500);
	$node->safe_psql('postgres', qq{
INSERT INTO $t SELECT i, vec(i) FROM generate_series(1501, 1800) i;
DELETE FROM $t WHERE id % 3 = 0;
});
	crash_at($step, qq{VACUUM $t});
	check_table($step, $t, 1200);
	$node->safe_psql('postgres', qq{VACUUM $t});
	check_table("$step, vacuumed again", $t, 1200);
	is($node->safe_psql('postgres', qq{
SELECT sum(rows - dead_rows) FROM vdb_segments('${t}_v') WHERE state <> 'dropped'}),
		'1200', "$step: the index holds exactly the live rows after VACUUM");
}

# A background sealer crashing in the middle of a run (the setting reaches
# it through the configuration file): after restart the segment is still
# frozen, and the sealer that the next VACUUM launches seals it.
make_table('tw', 1500);
$node->safe_psql('postgres',
	q{INSERT INTO tw SELECT i, vec(i) FROM generate_series(1501, 2600) i});
is(states('tw'), 'sealed:1500,frozen:1000,growing:100', 'worker: a frozen segment waits');
my ($ret, $out, $err);
worker_crash_at('seal_build', 'tw', 'worker');
is(states('tw'), 'sealed:1500,frozen:1000,growing:100',
	'worker: the segment is still frozen after restart');
check_table('worker', 'tw', 2600);
$node->safe_psql('postgres', q{VACUUM tw});
$node->poll_query_until('postgres',
	q{SELECT count(*) FROM vdb_segments('tw_v') WHERE state IN ('frozen', 'sealing')}, '0')
  or diag('the frozen segment was not sealed in time');
is(states('tw'), 'sealed:1500,growing:100,sealed:1000',
	'worker: a background sealer seals it afterwards');
check_table('worker, sealed again', 'tw', 2600);

# A background merge crashing in the middle of its new run, and just before
# its publish: after restart the three small segments are as they were,
# and the merge that the next VACUUM launches completes.
for my $step ('merge_build', 'merge_publish')
{
	my $t = "tm_$step";
	$node->safe_psql('postgres', qq{
CREATE TABLE $t (id int, v vector(16));
CREATE INDEX ${t}_v ON $t USING vdb_ivf (v) WITH (segment_rows = 1000);
INSERT INTO $t SELECT i, vec(i) FROM generate_series(1, 300) i;
SELECT vdb_seal('${t}_v');
INSERT INTO $t SELECT i, vec(i) FROM generate_series(301, 600) i;
SELECT vdb_seal('${t}_v');
INSERT INTO $t SELECT i, vec(i) FROM generate_series(601, 900) i;
SELECT vdb_seal('${t}_v');
});
	is(states($t), 'sealed:300,sealed:300,growing:0,sealed:300', "$step: three small segments");
	worker_crash_at($step, $t, $step);
	is(states($t), 'sealed:300,sealed:300,growing:0,sealed:300',
		"$step: the segments are as they were after restart");
	check_table($step, $t, 900);
	$node->safe_psql('postgres', qq{VACUUM $t});
	$node->poll_query_until('postgres', qq{
SELECT count(*) FROM vdb_segments('${t}_v') WHERE state = 'sealed'}, '1')
	  or diag('the segments were not merged in time');
	is(states($t), 'growing:0,sealed:900', "$step: the next merge completes");
	check_table("$step, merged", $t, 900);
}

# Reclaim crashing after the dropped segments left the directory, before
# their pages reached the free space map: the next VACUUM's sweep finds
# them, and the next seal reuses them instead of extending the index.
$node->safe_psql('postgres', q{SELECT txid_current()});
crash_at('reclaim', q{VACUUM tm_merge_build});
check_table('reclaim', 'tm_merge_build', 900);
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM vdb_segments('tm_merge_build_v') WHERE state = 'dropped'}),
	'0', 'reclaim: the dropped segments left the directory');
($ret, $out, $err) = $node->psql('postgres', q{VACUUM (VERBOSE) tm_merge_build});
my ($reusable) = $err =~ /index "tm_merge_build_v": pages: \d+ in total, \d+ newly deleted, \d+ currently deleted, (\d+) reusable/;
cmp_ok($reusable // 0, '>=', 9, 'reclaim: VACUUM finds the pages of the three segments free');
my $pages = $node->safe_psql('postgres', q{SELECT pg_relation_size('tm_merge_build_v')});
$node->safe_psql('postgres', q{
INSERT INTO tm_merge_build SELECT i, vec(i) FROM generate_series(901, 1100) i;
SELECT vdb_seal('tm_merge_build_v');
});
is($node->safe_psql('postgres', q{SELECT pg_relation_size('tm_merge_build_v')}), $pages,
	'reclaim: the next seal reuses them instead of extending the index');
check_table('reclaim, reused', 'tm_merge_build', 1100);

$node->safe_psql('postgres',
	q{LOAD 'vdb'; ALTER SYSTEM RESET vdb.auto_seal; SELECT pg_reload_conf();});

# The setting is superuser-only and rejects unknown steps.
$node->safe_psql('postgres', q{CREATE ROLE plain LOGIN});
($ret, $out, $err) = $node->psql('postgres',
	q{LOAD 'vdb'; SET ROLE plain; SET vdb.debug_crash_at = 'freeze'});
like($err, qr/permission denied to set parameter "vdb.debug_crash_at"/,
	'an ordinary role cannot set the crash point');
($ret, $out, $err) = $node->psql('postgres', q{LOAD 'vdb'; SET vdb.debug_crash_at = 'merge'});
like($err, qr/invalid value for parameter "vdb.debug_crash_at": "merge"/,
	'an unknown step is rejected');

$node->stop;
done_testing();
