# Index builds on a vdb table survive relcache rebuilds of the table.
#
# heapam's build scan only runs while the table's rd_tableam points at
# heapam's own routine; vdb switches it for the scan, and a relcache callback
# switches it back if the entry is rebuilt mid-scan (src/tableam.c).  Here
# other sessions change the table's catalog entry (GRANT/REVOKE, COMMENT,
# ANALYZE) in a tight loop while CREATE INDEX, CREATE INDEX CONCURRENTLY and
# REINDEX run.  The index expression opens a relation afresh on every row,
# so the building backend processes the invalidations in the middle of its
# scan; the DEBUG1 line from the callback proves that rebuilds did happen.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('build_inval');
$node->init;
$node->append_conf('postgresql.conf', "autovacuum = off\nmax_parallel_maintenance_workers = 0");
$node->start;

$node->safe_psql(
	'postgres', q{
CREATE EXTENSION vdb;
CREATE ROLE reader;
CREATE TABLE probe (x int);
CREATE TABLE stop_churn (x int);
-- Opens "probe" inside a subtransaction that is rolled back: the lock is
-- taken afresh on every call, and with it pending invalidations are read.
CREATE FUNCTION slow_key(i int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	BEGIN
		PERFORM 1 FROM probe;
		RAISE EXCEPTION 'undo';
	EXCEPTION WHEN raise_exception THEN
		NULL;
	END;
	RETURN i;
END $$;
CREATE TABLE items (id int, embedding vector(3)) USING vdb;
INSERT INTO items SELECT g, format('[%s,1,1]', g)::vector FROM generate_series(1, 20000) g;
CREATE PROCEDURE churn_grants() LANGUAGE plpgsql AS $$
BEGIN
	LOOP
		GRANT SELECT ON items TO reader;
		COMMIT;
		REVOKE SELECT ON items FROM reader;
		COMMIT;
		EXIT WHEN EXISTS (SELECT 1 FROM stop_churn);
	END LOOP;
END $$;
CREATE PROCEDURE churn_comments() LANGUAGE plpgsql AS $$
DECLARE
	n int := 0;
BEGIN
	-- COMMENT and ANALYZE conflict with the index builds' locks: give up
	-- quickly rather than queue (a queued one deadlocks with CONCURRENTLY).
	SET lock_timeout = '10ms';
	LOOP
		n := n + 1;
		BEGIN
			EXECUTE format('COMMENT ON TABLE items IS %L', 'version ' || n);
			ANALYZE items;
		EXCEPTION WHEN lock_not_available THEN
			PERFORM pg_sleep(0.01);
		END;
		COMMIT;
		EXIT WHEN EXISTS (SELECT 1 FROM stop_churn);
	END LOOP;
END $$;
});

my $grants = $node->background_psql('postgres');
$grants->query_until(qr/started/, "\\echo started\nCALL churn_grants();\n");
my $comments = $node->background_psql('postgres');
$comments->query_until(qr/started/, "\\echo started\nCALL churn_comments();\n");

my $log_offset = -s $node->logfile;
my @builds = (
	'CREATE INDEX items_key ON items (slow_key(id))',
	'CREATE INDEX CONCURRENTLY items_key_conc ON items (slow_key(id), id)',
	'REINDEX INDEX items_key',
	'REINDEX INDEX CONCURRENTLY items_key_conc',
	'CREATE UNIQUE INDEX CONCURRENTLY items_id ON items (id)');
for my $build (@builds)
{
	my ($ret, $stdout, $stderr) = $node->psql('postgres',
		"SET client_min_messages = warning; SET log_min_messages = debug1; $build");
	is($ret, 0, "$build under concurrent catalog changes");
	is($stderr, '', "$build reports no error");
}

$node->safe_psql('postgres', 'INSERT INTO stop_churn VALUES (1)');
$grants->quit;
$comments->quit;

ok( $node->log_contains(
		'vdb: heap scan routine of "items" reinstated after a relcache rebuild',
		$log_offset),
	'relcache rebuilds happened during the build scans');

is( $node->safe_psql(
		'postgres',
		"SELECT count(*) FROM pg_index WHERE indrelid = 'items'::regclass AND indisvalid"),
	'3',
	'all indexes valid');

# The indexes hold every row: index-only answers equal the table's.
my $check = q{
SET enable_seqscan = off; SET enable_bitmapscan = off;
SELECT count(*), sum(id) FROM items WHERE slow_key(id) BETWEEN 1000 AND 1999;
SELECT count(*) FROM items WHERE slow_key(id) > 0 AND id > 0;
SELECT count(*) FROM items WHERE id > 0;
};
is($node->safe_psql('postgres', $check),
	"1000|1499500\n20000\n20000", 'indexes return every row');

$node->stop;
done_testing();
