# The TAP harness: a cluster of our own with vdb installed answers a query.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('smoke');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION vdb');
is($node->safe_psql('postgres', "SELECT '[3,4]'::vector <-> '[0,0]'::vector"),
	'5', 'L2 distance through a fresh cluster');
$node->stop;
done_testing();
