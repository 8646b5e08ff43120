# The background sealer's last error in vdb_stats.  A seal that fails (here:
# pg_cancel_backend on the sealer in the middle of a slowed-down seal, which
# raises 57014 inside the seal) is rolled back, logged, and recorded for
# the index: vdb_stats shows when, the SQLSTATE, the message and what the
# sealer was doing, to a user with SELECT on the table (and on a standby),
# not to one without; the error table itself is closed to that user.  The
# next successful seal of the index clears the error, on the standby too.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use VdbTest;

my $node = PostgreSQL::Test::Cluster->new('sealer_error');
$node->init(allows_streaming => 1);
$node->append_conf('postgresql.conf', qq(
autovacuum = off
vdb.seal_delay = '1s'
));
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION vdb;
CREATE ROLE watcher LOGIN;
CREATE ROLE stranger LOGIN;
CREATE TABLE items (id int, v vector(8)) USING vdb;
GRANT SELECT ON items TO watcher;
CREATE INDEX items_v ON items USING vdb_ivf (v) WITH (segment_rows = 1000, lists = 8);
});
my $standby = VdbTest::start_standby($node, 'standby');

my $error = q{SELECT last_error_at IS NOT NULL, last_error_sqlstate, last_error_message,
	last_error_activity, frozen_segments, sealer_running
	FROM vdb_stats WHERE index_name = 'items_v'::regclass};
is($node->safe_psql('postgres', $error), 'f||||0|f', 'no error before any seal');

# 1200 rows: the growing segment freezes at 1000 and a sealer starts sealing
# it, pausing a second at each step.  Cancel it once it is inside the seal.
$node->safe_psql('postgres', q{
INSERT INTO items SELECT i, ('[' || array_to_string(array(
	SELECT (i * 7919 + d * 104729) % 1000 / 100.0 FROM generate_series(1, 8) d), ',') || ']')::vector
	FROM generate_series(1, 1200) i});
$node->poll_query_until('postgres', q{SELECT count(*) = 1 FROM pg_stat_activity
	WHERE backend_type = 'vdb sealer' AND query LIKE 'sealing segment % of index items_v'})
  or die 'the sealer never started sealing';
my $log_offset = -s $node->logfile;
is( $node->safe_psql('postgres', q{SELECT pg_cancel_backend(pid) FROM pg_stat_activity
	WHERE backend_type = 'vdb sealer'}),
	't', 'cancel the sealer mid-seal');
$node->poll_query_until('postgres', q{SELECT last_error_at IS NOT NULL AND NOT sealer_running
	FROM vdb_stats WHERE index_name = 'items_v'::regclass})
  or die 'the error was never recorded';

my $expected = qr/^t\|57014\|canceling statement due to user request\|sealing segment \d+ of index items_v\|1\|f$/;
like($node->safe_psql('postgres', $error), $expected,
	'vdb_stats shows the error, what the sealer was doing, and the segment still frozen');
cmp_ok(
	$node->safe_psql('postgres', q{SELECT extract(epoch FROM now() - last_error_at)
		FROM vdb_stats WHERE index_name = 'items_v'::regclass}),
	'<', 60, 'the error time is the recent failure');
my $log = slurp_file($node->logfile, $log_offset);
like($log, qr/ERROR:  canceling statement due to user request/, 'the error is in the server log');
like($log, qr/vdb sealer gives up on index \d+ after an error: sealing segment/,
	'and so is what the sealer left');
is( $node->safe_psql('postgres',
		q{SELECT state, count(*) FROM vdb_segments('items_v') GROUP BY state ORDER BY state}),
	"frozen|1\ngrowing|1", 'nothing was published');

like($node->safe_psql('postgres', "SET ROLE watcher; $error"), $expected,
	'a user with SELECT on the table sees the error');
is($node->safe_psql('postgres', q{SET ROLE stranger; SELECT count(*) FROM vdb_stats}),
	'0', 'a user without SELECT on the table sees no row');
my ($rc, $stdout, $stderr) = $node->psql('postgres',
	q{SET ROLE stranger; SELECT * FROM vdb_sealer_last_error});
like($stderr, qr/permission denied for table vdb_sealer_last_error/,
	'the error table itself is not readable by users');

$node->wait_for_catchup($standby);
like($standby->safe_psql('postgres', $error), $expected, 'the standby shows the error');

# A successful seal clears it: a VACUUM asks for a sealer, undelayed now.
$node->safe_psql('postgres', q{ALTER SYSTEM SET vdb.seal_delay = 0; SELECT pg_reload_conf()});
$node->safe_psql('postgres', 'VACUUM items');
$node->poll_query_until('postgres', q{SELECT frozen_segments = 0 AND NOT sealer_running
	FROM vdb_stats WHERE index_name = 'items_v'::regclass})
  or die 'the frozen segment was never sealed';
is($node->safe_psql('postgres', $error), 'f||||0|f', 'the successful seal cleared the error');
is($node->safe_psql('postgres', 'SELECT count(*) FROM vdb_sealer_last_error'), '0',
	'the error row is gone');
$node->wait_for_catchup($standby);
is($standby->safe_psql('postgres', $error), 'f||||0|f', 'on the standby too');


# Insert 1200 rows and cancel the sealer they start, in the middle of its
# seal (vdb.seal_delay is a second again by then); returns once it is gone.
my $vec = q{('[' || array_to_string(array(SELECT (i * 7919 + d * 104729) % 1000 / 100.0
	FROM generate_series(1, 8) d), ',') || ']')::vector};
sub cancel_a_seal
{
	my ($db, $index) = @_;
	$node->safe_psql($db, "INSERT INTO items SELECT i, $vec FROM generate_series(1, 1200) i");
	$node->poll_query_until($db, qq{SELECT count(*) = 1 FROM pg_stat_activity
		WHERE backend_type = 'vdb sealer' AND query LIKE 'sealing segment % of index $index'})
	  or die "no sealer started sealing $index";
	$node->safe_psql($db, q{SELECT pg_cancel_backend(pid) FROM pg_stat_activity
		WHERE backend_type = 'vdb sealer'});
	$node->poll_query_until($db, q{SELECT count(*) = 0 FROM pg_stat_activity
		WHERE backend_type = 'vdb sealer'})
	  or die 'the sealer did not exit';
	return;
}
$node->safe_psql('postgres', q{ALTER SYSTEM SET vdb.seal_delay = '1s'; SELECT pg_reload_conf()});

# An error recorded before the index was rebuilt no longer shows, and the
# next error recorded deletes it and those of indexes that are gone.
$node->safe_psql('postgres', q{
INSERT INTO vdb_sealer_last_error
SELECT oid, relfilenode, now(), 'XX001', 'written by the test', NULL, 'testing' FROM pg_class
WHERE relname = 'items_v'
UNION ALL SELECT 4000000000, 4000000000, now(), 'XX001', 'an index that is gone', NULL, 'testing'});
is($node->safe_psql('postgres', q{SELECT last_error_message FROM vdb_stats
	WHERE index_name = 'items_v'::regclass}), 'written by the test', 'a recorded error shows');
$node->safe_psql('postgres', 'REINDEX INDEX items_v');
is($node->safe_psql('postgres', q{SELECT last_error_message IS NULL FROM vdb_stats
	WHERE index_name = 'items_v'::regclass}), 't', 'after REINDEX it does not');
cancel_a_seal('postgres', 'items_v');
is( $node->safe_psql('postgres', q{SELECT string_agg(sqlstate || ':' || message, ',')
	FROM vdb_sealer_last_error}),
	'57014:canceling statement due to user request',
	'the next error replaced the stale rows');

# Clearing the error is bookkeeping: if it fails (here a trigger makes any
# DELETE on the error table fail), the seal still commits and the failure
# is logged; the error stays.
$node->safe_psql('postgres', q{
CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'no deletes today'; END $$;
CREATE TRIGGER refuse BEFORE DELETE ON vdb_sealer_last_error
	FOR EACH STATEMENT EXECUTE FUNCTION refuse();
ALTER SYSTEM SET vdb.seal_delay = 0; SELECT pg_reload_conf();
});
$log_offset = -s $node->logfile;
$node->safe_psql('postgres', 'VACUUM items');
$node->poll_query_until('postgres', q{SELECT frozen_segments = 0 AND NOT sealer_running
	FROM vdb_stats WHERE index_name = 'items_v'::regclass})
  or die 'the frozen segment was never sealed';
pass('a seal whose error cannot be cleared still commits');
like(slurp_file($node->logfile, $log_offset),
	qr/vdb sealer could not clear the recorded error of index \d+: no deletes today/,
	'the failure to clear is logged');
is($node->safe_psql('postgres', q{SELECT last_error_sqlstate FROM vdb_stats
	WHERE index_name = 'items_v'::regclass}), '57014', 'and the error stays');
$node->safe_psql('postgres', q{
DROP TRIGGER refuse ON vdb_sealer_last_error;
ALTER SYSTEM SET vdb.seal_delay = '1s'; SELECT pg_reload_conf();
});

# Under vdb 0.1.0's SQL (no error table) the same library logs the error
# and records nothing.
$node->safe_psql('postgres', 'CREATE DATABASE old');
$node->safe_psql('old', q{
CREATE EXTENSION vdb VERSION '0.1.0';
CREATE TABLE items (id int, v vector(8)) USING vdb;
CREATE INDEX old_v ON items USING vdb_ivf (v) WITH (segment_rows = 1000, lists = 8);
});
$log_offset = -s $node->logfile;
cancel_a_seal('old', 'old_v');
$log = slurp_file($node->logfile, $log_offset);
like($log, qr/vdb sealer gives up on index \d+ after an error: sealing segment \d+ of index old_v/,
	'under 0.1.0 the sealer logs the error');
unlike($log, qr/could not record|vdb_sealer_last_error/, 'and records nothing, without complaint');
is($node->safe_psql('old', q{SELECT frozen_segments FROM vdb_stats}), '1',
	'its segment stays frozen');

$standby->stop;
$node->stop;
done_testing();
