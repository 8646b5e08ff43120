# The sealing background worker: frozen segments are sealed without any
# manual call; a slow seal lets INSERT, UPDATE, DELETE and SELECT go on
# under lock_timeout = 1s and gives way to ALTER TABLE, CREATE INDEX and
# vdb_seal; a sealer terminated, or the server crashing, in the middle of a
# seal leaves the segment frozen and a sound index, and the next trigger
# (VACUUM) seals it; the sealer holds back no xmin; vdb.auto_seal = off
# pauses sealing; TEMP indexes are sealed inline; vdb.max_sealers bounds
# the number of sealers.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use VdbTest;

my $node = PostgreSQL::Test::Cluster->new('worker');
$node->init;
$node->append_conf('postgresql.conf', qq(
autovacuum = off
max_worker_processes = 8
));
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION vdb');
VdbTest::create_vec($node, 8);

# Segment states of an index, the growing one last, e.g.
# "sealed:2000,growing:500" (a seal gives its segment a new id).
sub segments
{
	my ($index) = @_;
	return $node->safe_psql('postgres', qq{
SELECT string_agg(state || ':' || rows, ',' ORDER BY state = 'growing', segment_id)
FROM vdb_segments('$index') WHERE state <> 'dropped'});
}

# Number of segments of an index in a state.
sub nstate
{
	my ($index, $state) = @_;
	return $node->safe_psql('postgres',
		qq{SELECT count(*) FROM vdb_segments('$index') WHERE state = '$state'});
}

# After a VACUUM of its table, the index is sound and holds every row once.
sub check_index
{
	my ($index, $table, $what) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	$node->safe_psql('postgres', "VACUUM $table");
	VdbTest::check_index($node, $index, $table, $what);
}

# Wait until a sealer works on an index; returns its pid.
sub wait_for_sealer
{
	my ($index) = @_;
	$node->poll_query_until('postgres', qq{
SELECT count(*) > 0 FROM pg_stat_activity
WHERE backend_type = 'vdb sealer' AND query LIKE 'sealing segment % of index $index'})
	  or die "no sealer started on $index";
	return $node->safe_psql('postgres', qq{
SELECT pid FROM pg_stat_activity
WHERE backend_type = 'vdb sealer' AND query LIKE 'sealing segment % of index $index'});
}

# Set a server-wide setting and make the postmaster's children see it.
sub set_conf
{
	my ($setting) = @_;
	$node->append_conf('postgresql.conf', $setting);
	$node->reload;
}

#
# 1. Continuous inserts past several seal thresholds, no manual call.
#
$node->safe_psql('postgres', q{
CREATE TABLE a (id int, v vector(8));
CREATE INDEX a_v ON a USING vdb_ivf (v) WITH (segment_rows = 2000);
});
my $start = time;
for my $batch (0 .. 18)
{
	my $lo = $batch * 500 + 1;
	my $hi = $lo + 499;
	$node->safe_psql('postgres',
		"INSERT INTO a SELECT i, vec(i) FROM generate_series($lo, $hi) i");
}
# 9500 rows: four segments froze at 2000 rows each, 1500 rows are growing.
$node->poll_query_until('postgres',
	q{SELECT count(*) = 0 FROM vdb_segments('a_v') WHERE state IN ('frozen', 'sealing')})
  or die 'frozen segments of a_v were not sealed';
my $elapsed = time - $start;
is(segments('a_v'), 'sealed:2000,sealed:2000,sealed:2000,sealed:2000,growing:1500',
	'every frozen segment was sealed in the background');
cmp_ok($elapsed, '<', 60, "inserts and background seals took $elapsed s");
check_index('a_v', 'a', 'after background seals');
ok($node->log_contains(qr/vdb sealer started sealing segment \d+ of index "a_v" \(2000 rows\)/),
	'the sealer logs the start of a seal');
ok($node->log_contains(qr/vdb sealer sealed segment \d+ of index "a_v": 2000 rows in [0-9.]+ s/),
	'the sealer logs the end of a seal with rows and seconds');
$node->poll_query_until('postgres',
	q{SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'vdb sealer'})
  or die 'sealers did not exit';
pass('sealers exit when no frozen segment is left');

#
# 2. A slow seal: writers and readers go on under lock_timeout = 1s.
#
set_conf("vdb.seal_delay = '200ms'");
$node->safe_psql('postgres', q{
CREATE TABLE b (id int, v vector(8));
CREATE INDEX b_v ON b USING vdb_ivf (v) WITH (segment_rows = 2000, lists = 16);
INSERT INTO b SELECT i, vec(i) FROM generate_series(1, 2100) i;
});
my $pid = wait_for_sealer('b_v');
$start = time;
my ($ret, $out, $err) = $node->psql('postgres', q{
SET lock_timeout = '1s';
INSERT INTO b SELECT i, vec(i) FROM generate_series(2101, 2200) i;
UPDATE b SET v = vec(id + 1) WHERE id <= 10;
DELETE FROM b WHERE id BETWEEN 11 AND 20;
COPY (SELECT id FROM b WHERE id <= 3) TO STDOUT;
SELECT count(*) FROM b;
});
$elapsed = time - $start;
is($ret, 0, 'INSERT, UPDATE, DELETE and SELECT succeed during a seal') or diag($err);
is($out, "1\n2\n3\n2190", 'they see the right rows');
cmp_ok($elapsed, '<', 2, "and finish at once ($elapsed s)");
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_stat_activity WHERE pid = $pid"),
	'1', 'the seal was still running meanwhile');
is($node->safe_psql('postgres', q{
SET lock_timeout = '500ms';
SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
WHERE a.backend_type = 'vdb sealer' AND l.locktype = 'relation'
	AND l.relation = 'b'::regclass AND l.mode = 'ShareUpdateExclusiveLock' AND l.granted}),
	'1', 'the sealer holds ShareUpdateExclusiveLock on the table');
is($node->safe_psql('postgres',
		"SELECT backend_xid IS NULL AND backend_xmin IS NULL FROM pg_stat_activity WHERE pid = $pid"),
	't', 'the sealer holds back no xmin horizon');

# Another freeze while the seal runs starts no second sealer for the index:
# the one at work seals both segments.
$node->safe_psql('postgres',
	q{INSERT INTO b SELECT i, vec(i) FROM generate_series(2201, 4200) i});
is(nstate('b_v', 'frozen') + nstate('b_v', 'sealing'), 2,
	'a second segment froze during the seal');
my $most = 0;
for (1 .. 10)
{
	my $n = $node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'vdb sealer'});
	$most = $n if $n > $most;
	usleep(100_000);
}
is($most, 1, 'one sealer per index');
$node->poll_query_until('postgres',
	q{SELECT count(*) = 0 FROM vdb_segments('b_v') WHERE state IN ('frozen', 'sealing')})
  or die 'frozen segments of b_v were not sealed';
is(segments('b_v'), 'sealed:2000,sealed:2000,growing:210', 'the slow seals completed');
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $pid"),
	'the sealer exits when done');
ok($node->log_contains(qr/\[$pid\] LOG:  vdb sealer sealed segment 1 of index "b_v"/)
	  && $node->log_contains(qr/\[$pid\] LOG:  vdb sealer sealed segment 2 of index "b_v"/),
	'the sealer at work sealed the second segment too');
check_index('b_v', 'b', 'after a slow seal beside writers');

#
# 3. DDL (or VACUUM) queued behind a seal makes the sealer give way: an INSERT issued
#    after the DDL is queued does not wait for the seal.
#
foreach my $ddl ('ALTER TABLE b ADD COLUMN note text',
	'CREATE INDEX b_id ON b (id)', 'VACUUM b')
{
	my $offset = -s $node->logfile;
	my $next = $node->safe_psql('postgres', 'SELECT max(id) + 1 FROM b');
	$node->safe_psql('postgres',
		"INSERT INTO b SELECT i, vec(i) FROM generate_series($next, $next + 1999) i");
	wait_for_sealer('b_v');
	my $bg = $node->background_psql('postgres');
	$start = time;
	$bg->query_until(qr/queued/, "\\echo queued\n$ddl;\n");
	usleep(100_000);
	($ret, $out, $err) = $node->psql('postgres', qq{
SET lock_timeout = '1s';
INSERT INTO b (id, v) VALUES (-1, vec(1));
DELETE FROM b WHERE id = -1;
});
	is($ret, 0, "an INSERT behind a queued '$ddl' does not wait for the seal")
	  or diag($err);
	$bg->query_safe('SELECT 1');
	$elapsed = time - $start;
	$bg->quit;
	cmp_ok($elapsed, '<', 3, "'$ddl' is not stalled by the seal ($elapsed s)");
	ok($node->wait_for_log(qr/vdb sealer gave way to a waiting lock request/, $offset),
		"the sealer gave way to '$ddl'");
	$node->poll_query_until('postgres',
		q{SELECT count(*) = 0 FROM vdb_segments('b_v') WHERE state IN ('frozen', 'sealing')})
	  or die 'abandoned seal of b_v was not redone';
	pass("the seal abandoned for '$ddl' is redone");
	check_index('b_v', 'b', "after giving way to '$ddl'");
}

#
# 4. vdb_seal() while a sealer works: it makes the sealer give way and
#    seals synchronously.
#
my $next = $node->safe_psql('postgres', 'SELECT max(id) + 1 FROM b');
$node->safe_psql('postgres',
	"INSERT INTO b SELECT i, vec(i) FROM generate_series($next, $next + 1999) i");
wait_for_sealer('b_v');
$start = time;
($ret, $out, $err) = $node->psql('postgres', q{SELECT vdb_seal('b_v')});
$elapsed = time - $start;
is($ret, 0, 'vdb_seal succeeds beside a background sealer') or diag($err);
cmp_ok($out, '>=', 1, 'vdb_seal sealed the frozen segment itself');
is(nstate('b_v', 'frozen') . '/' . nstate('b_v', 'growing'), '0/1',
	'after vdb_seal nothing is frozen');
check_index('b_v', 'b', 'after vdb_seal beside a sealer');

#
# 5. A sealer terminated or the server crashing in the middle of a seal:
#    the segment stays frozen, the index is sound, and the next trigger
#    (VACUUM) seals it.
#
$next = $node->safe_psql('postgres', 'SELECT max(id) + 1 FROM b');
$node->safe_psql('postgres',
	"INSERT INTO b SELECT i, vec(i) FROM generate_series($next, $next + 2099) i");
$pid = wait_for_sealer('b_v');

# A sealer terminated in the middle of a seal publishes nothing.
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
$node->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $pid")
  or die 'the sealer did not exit';
is(nstate('b_v', 'frozen'), '1', 'a terminated sealer leaves the segment frozen');
is($node->safe_psql('postgres', q{SELECT count(*) FROM vdb_check('b_v')}),
	'0', 'a terminated sealer leaves a sound index');

# VACUUM launches a new sealer; crash the server in the middle of its seal.
$node->safe_psql('postgres', 'VACUUM b');
wait_for_sealer('b_v');
sleep(1);
$node->stop('immediate');
$node->start;
is(nstate('b_v', 'frozen'), '1', 'after a crash during a seal the segment is frozen');
is($node->safe_psql('postgres', q{SELECT count(*) FROM vdb_check('b_v')}),
	'0', 'after a crash during a seal vdb_check finds no problem');
sleep(1);
is(nstate('b_v', 'frozen'), '1', 'nothing seals it before a trigger');
set_conf("vdb.seal_delay = 0");
$node->safe_psql('postgres', 'VACUUM b');
$node->poll_query_until('postgres',
	q{SELECT count(*) = 0 FROM vdb_segments('b_v') WHERE state IN ('frozen', 'sealing')})
  or die 'VACUUM did not get the frozen segment sealed';
pass('VACUUM after the crash got the frozen segment sealed');
check_index('b_v', 'b', 'after the seal redone');

#
# 6. vdb.auto_seal = off pauses sealing.
#
$node->safe_psql('postgres', q{
CREATE TABLE c (id int, v vector(8));
CREATE INDEX c_v ON c USING vdb_ivf (v) WITH (segment_rows = 1000);
SET vdb.auto_seal = off;
INSERT INTO c SELECT i, vec(i) FROM generate_series(1, 2500) i;
VACUUM c;
});
sleep(2);
is(segments('c_v'), 'frozen:1000,frozen:1000,growing:500',
	'with vdb.auto_seal = off frozen segments stay frozen');
$node->safe_psql('postgres', 'VACUUM c');
$node->poll_query_until('postgres',
	q{SELECT count(*) = 0 FROM vdb_segments('c_v') WHERE state IN ('frozen', 'sealing')})
  or die 'VACUUM with auto_seal on did not seal c_v';
is(segments('c_v'), 'sealed:1000,sealed:1000,growing:500',
	'a VACUUM with vdb.auto_seal = on gets them sealed');
check_index('c_v', 'c', 'after a paused and resumed seal');

#
# 7. TEMP indexes are sealed inline by the inserting backend.
#
is($node->safe_psql('postgres', q{
CREATE TEMP TABLE tmp (id int, v vector(8));
CREATE INDEX tmp_v ON tmp USING vdb_ivf (v) WITH (segment_rows = 1000);
INSERT INTO tmp SELECT i, vec(i) FROM generate_series(1, 2500) i;
SELECT string_agg(state || ':' || rows, ',' ORDER BY state = 'growing', segment_id)
FROM vdb_segments('tmp_v') WHERE state <> 'dropped';
}), 'sealed:1000,sealed:1000,growing:500', 'a TEMP index is sealed inline at freeze time');

#
# 8. vdb.max_sealers bounds the sealers in the cluster; the one that runs
#    goes on to the other indexes' frozen segments.
#
set_conf("vdb.max_sealers = 1");
set_conf("vdb.seal_delay = '50ms'");
$node->safe_psql('postgres', q{
CREATE TABLE d1 (id int, v vector(8));
CREATE TABLE d2 (id int, v vector(8));
CREATE TABLE d3 (id int, v vector(8));
CREATE INDEX d1_v ON d1 USING vdb_ivf (v) WITH (segment_rows = 1000, lists = 8);
CREATE INDEX d2_v ON d2 USING vdb_ivf (v) WITH (segment_rows = 1000, lists = 8);
CREATE INDEX d3_v ON d3 USING vdb_ivf (v) WITH (segment_rows = 1000, lists = 8);
INSERT INTO d1 SELECT i, vec(i) FROM generate_series(1, 1100) i;
INSERT INTO d2 SELECT i, vec(i) FROM generate_series(1, 1100) i;
INSERT INTO d3 SELECT i, vec(i) FROM generate_series(1, 1100) i;
});
# (A sealer launched while the slot's holder was still starting finds no
# slot and exits without sealing: count the sealers at work.)
$most = 0;
for (1 .. 100)
{
	my $n = $node->safe_psql('postgres', q{
SELECT count(*) FROM pg_stat_activity
WHERE backend_type = 'vdb sealer' AND state = 'active' AND query LIKE 'sealing segment %'});
	$most = $n if $n > $most;
	last if $node->safe_psql('postgres', q{
SELECT count(*) FROM (SELECT * FROM vdb_segments('d1_v') UNION ALL
	SELECT * FROM vdb_segments('d2_v') UNION ALL SELECT * FROM vdb_segments('d3_v')) s
WHERE state IN ('frozen', 'sealing')}) eq '0';
	usleep(100_000);
}
is($most, 1, "vdb.max_sealers = 1 sealer sealed at a time (saw $most)");
is(nstate('d1_v', 'frozen') + nstate('d2_v', 'frozen') + nstate('d3_v', 'frozen') +
	  nstate('d1_v', 'sealing') + nstate('d2_v', 'sealing') + nstate('d3_v', 'sealing'),
	0, 'one sealer sealed the frozen segments of all three indexes');

$node->stop;
done_testing();
