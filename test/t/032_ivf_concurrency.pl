# vdb_ivf under concurrent writers: several clients insert and delete rows
# while others seal and vacuum, so appends race with page extension,
# freezing, sealing and in-place removal.  Afterwards vdb_check finds the
# index sound and it holds exactly the table's rows.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('ivf_concurrency');
$node->init;
$node->append_conf('postgresql.conf', qq(
autovacuum = off
vdb.auto_seal = off
max_connections = 20
));
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION vdb;
CREATE TABLE t (id bigserial, v vector(16));
CREATE INDEX t_v ON t USING vdb_ivf (v) WITH (segment_rows = 1000);
CREATE INDEX t_ip ON t USING vdb_ivf (v vector_ip_ops) WITH (segment_rows = 2000);
});

my $vec = q{('[' || array_to_string(ARRAY(SELECT round((random() * 100)::numeric, 2)
	FROM generate_series(1, 16)), ',') || ']')::vector};

$node->pgbench(
	'--no-vacuum --client=5 --transactions=150',
	0,
	[qr{processed: 750/750}],
	[qr{^$}],
	'concurrent inserts, deletes, seals and vacuums',
	{
		'032_insert@16' => "INSERT INTO t (v) SELECT $vec FROM generate_series(1, 10);\n",
		'032_delete@2' => "DELETE FROM t WHERE id % 7 = (random() * 6)::int AND id > (SELECT max(id) - 200 FROM t);\n",
		'032_seal@1' => "SELECT vdb_seal('t');\n",
		'032_vacuum@1' => "VACUUM t;\n",
	});

is($node->safe_psql('postgres', q{SELECT count(*) FROM vdb_check('t_v')}), '0',
	'vdb_check finds no problem in the L2 index');
is($node->safe_psql('postgres', q{SELECT count(*) FROM vdb_check('t_ip')}), '0',
	'vdb_check finds no problem in the inner product index');

$node->safe_psql('postgres', q{VACUUM t});
my $live = q{SELECT sum(rows - dead_rows) FROM vdb_segments('%s') WHERE state <> 'dropped'};
my $rows = $node->safe_psql('postgres', q{SELECT count(*) FROM t});
ok($rows > 2000, "the clients inserted rows ($rows left)");
is($node->safe_psql('postgres', sprintf($live, 't_v')), $rows,
	'after VACUUM the L2 index holds exactly the live rows');
is($node->safe_psql('postgres', sprintf($live, 't_ip')), $rows,
	'after VACUUM the inner product index holds exactly the live rows');
ok($node->safe_psql('postgres',
		q{SELECT count(*) FROM vdb_segments('t_v') WHERE state = 'sealed'}) >= 2,
	'segments were sealed while clients wrote');

$node->stop;
done_testing();
