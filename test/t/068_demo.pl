# The demo that the README's set-up command runs (scripts/demo.py, behind
# scripts/demo.sh) works end to end on a slice of Fashion-MNIST: it loads,
# seals, answers the example queries and reports recall against exact
# search.  scripts/demo.sh itself installs into the system's PostgreSQL, so
# the test runs its Python part against a private node.
use strict;
use warnings;
use Cwd;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('demo');
$node->init;
$node->start;

my ($stdout, $stderr);
{
	local $ENV{PGHOST} = $node->host;
	local $ENV{PGPORT} = $node->port;
	local $ENV{PGDATABASE} = 'postgres';
	IPC::Run::run([ '/usr/bin/python3', getcwd() . '/scripts/demo.py', '--rows', '4000',
			'--queries', '20' ],
		'>', \$stdout, '2>', \$stderr, IPC::Run::timeout(300))
	  or diag("demo.py failed: $stderr");
}
note($stdout);
like($stdout, qr/== loading 4000 Fashion-MNIST images with COPY/, 'the demo loads the rows');
like($stdout, qr/sealed \d+ segment\(s\)/, 'the demo seals the growing segment');
like($stdout, qr/the 5 nearest neighbours of test image 0.*\n(   id .*\n){5}/,
	'the demo shows five nearest neighbours');
like($stdout, qr/only bags.*\n(   id .* Bag .*\n){5}/, 'the filtered query returns five bags');
my ($recall) = $stdout =~ /recall\@10 = ([0-9.]+) at vdb\.probes/;
ok(defined $recall && $recall >= 0.8, 'the demo reports recall@10 against exact search')
  or diag("recall line missing or low: " . ($recall // 'none'));

$node->stop;
done_testing();
