# vdb_ivf survives crashes: after an immediate stop at any of its write
# paths (build, growing inserts, page extension and freezing, seal, vacuum),
# WAL replay gives an index that vdb_check finds sound and that holds every
# row.  wal_consistency_checking makes replay compare every page it
# rebuilds with the page the primary wrote.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use VdbTest;

my $node = PostgreSQL::Test::Cluster->new('ivf_crash');
$node->init;
$node->append_conf('postgresql.conf', qq(
wal_consistency_checking = 'all'
autovacuum = off
vdb.auto_seal = off
));
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION vdb');
VdbTest::create_vec($node, 16);
$node->safe_psql('postgres', q{
CREATE TABLE t (id int, v vector(16));
INSERT INTO t SELECT i, vec(i) FROM generate_series(1, 1500) i;
CREATE INDEX t_v ON t USING vdb_ivf (v) WITH (segment_rows = 1000);
});

# Live entries in the index (non-dropped segments) and rows in the table.
sub counts
{
	return $node->safe_psql('postgres', q{
SELECT (SELECT sum(rows - dead_rows) FROM vdb_segments('t_v') WHERE state <> 'dropped')
	|| '/' || (SELECT count(*) FROM t)});
}

# Crash, restart, and check the index against the table.
sub crash_and_check
{
	my ($what, $expect_rows) = @_;
	$node->stop('immediate');
	$node->start;
	is($node->safe_psql('postgres', q{SELECT count(*) FROM vdb_check('t_v')}),
		'0', "$what: vdb_check finds no problem after crash recovery");
	is(counts(), "$expect_rows/$expect_rows", "$what: every row is indexed once");
}

crash_and_check('after CREATE INDEX', 1500);

# Inserts fill the growing chain, extend it and freeze it at 1000 rows.
$node->safe_psql('postgres',
	q{INSERT INTO t SELECT i, vec(i) FROM generate_series(1501, 3800) i});
is($node->safe_psql('postgres',
		q{SELECT string_agg(state || ':' || rows, ',' ORDER BY segment_id) FROM vdb_segments('t_v')}),
	'sealed:1500,frozen:1000,frozen:1000,growing:300',
	'inserts froze two segments');
crash_and_check('after inserts and freezes', 3800);

# A seal writes new runs and publishes them.
is($node->safe_psql('postgres', q{SELECT vdb_seal('t_v')}), '3', 'vdb_seal sealed three segments');
crash_and_check('after vdb_seal', 3800);

# Inserts after the seal carry interim assignments; VACUUM removes entries
# from sealed runs and from the growing chain.
$node->safe_psql('postgres', q{
INSERT INTO t SELECT i, vec(i) FROM generate_series(3801, 4200) i;
DELETE FROM t WHERE id % 4 = 0;
VACUUM t;
CHECKPOINT;
});
# VACUUM assigns no transaction id, so nothing flushes its WAL when it
# returns: an immediate stop right after it may undo part of it (every
# page's removals together with their count, see TAP 070).  The
# checkpoint makes it durable, so that the rows it removed stay removed.
crash_and_check('after deletes and VACUUM', 3150);

# A transaction in progress at the crash: its rows never appear.
my $session = $node->background_psql('postgres');
$session->query_safe(q{BEGIN});
$session->query_safe(q{INSERT INTO t SELECT i, vec(i) FROM generate_series(5001, 5300) i});
$node->safe_psql('postgres', q{CHECKPOINT});
$node->stop('immediate');
eval { $session->quit };
$node->start;
is($node->safe_psql('postgres', q{SELECT count(*) FROM vdb_check('t_v')}), '0',
	'an interrupted transaction leaves a sound index');
is($node->safe_psql('postgres', q{SELECT count(*) FROM t WHERE id > 5000}), '0',
	'its rows are not visible');

# An unlogged table comes back empty, with a valid empty index from its
# init fork.
$node->safe_psql('postgres', q{
CREATE UNLOGGED TABLE u (id int, v vector(16));
CREATE INDEX u_v ON u USING vdb_ivf (v) WITH (segment_rows = 1000);
INSERT INTO u SELECT i, vec(i) FROM generate_series(1, 1200) i;
SELECT vdb_seal('u_v');
});
$node->stop('immediate');
$node->start;
is($node->safe_psql('postgres',
		q{SELECT string_agg(state || ':' || rows, ',') FROM vdb_segments('u_v')}),
	'growing:0', 'unlogged index is reset to one empty growing segment');
$node->safe_psql('postgres', q{INSERT INTO u SELECT i, vec(i) FROM generate_series(1, 10) i});
is($node->safe_psql('postgres', q{SELECT count(*) FROM vdb_check('u_v')}), '0',
	'the reset unlogged index takes inserts');

# A crash in the middle of a seal (wherever it falls: k-means, writing the
# run, or after the publish) leaves a sound index, and sealing again
# finishes the job.
$node->safe_psql('postgres', q{
CREATE TABLE big (id int, v vector(64));
CREATE INDEX big_v ON big USING vdb_ivf (v) WITH (segment_rows = 100000);
INSERT INTO big SELECT i, ('[' || array_to_string(ARRAY(SELECT ((i * 31 + d * 17) % 101)::real
	FROM generate_series(1, 64) d), ',') || ']')::vector FROM generate_series(1, 20000) i;
CHECKPOINT;
});
my $sealer = $node->background_psql('postgres', on_error_stop => 0);
$sealer->query_until(qr/sealing/, q{\echo sealing
SELECT vdb_seal('big_v');
});
usleep(200_000);
$node->stop('immediate');
eval { $sealer->quit };
$node->start;
is($node->safe_psql('postgres', q{SELECT count(*) FROM vdb_check('big_v')}), '0',
	'a crash during a seal leaves a sound index');
is($node->safe_psql('postgres', q{
SELECT sum(rows - dead_rows) FROM vdb_segments('big_v') WHERE state <> 'dropped'}),
	'20000', 'every row is still indexed once');
$node->safe_psql('postgres', q{SELECT vdb_seal('big_v')});
is($node->safe_psql('postgres', q{
SELECT string_agg(state || ':' || rows, ',' ORDER BY segment_id)
FROM vdb_segments('big_v') WHERE state IN ('sealed', 'growing', 'frozen')}),
	'growing:0,sealed:20000', 'sealing again finishes the job');
is($node->safe_psql('postgres', q{SELECT count(*) FROM vdb_check('big_v')}), '0',
	'the sealed index is sound');

$node->stop;
done_testing();
