# Setup and checks shared by vdb's TAP tests (test/t/*.pl); scripts/test.sh
# puts this directory on prove's include path.

=pod

=head1 NAME

VdbTest - setup steps and checks that several vdb TAP tests repeat

=head1 SYNOPSIS

  use VdbTest;

  my $primary = PostgreSQL::Test::Cluster->new('primary');
  $primary->init(allows_streaming => 1);
  $primary->start;
  my $standby = VdbTest::start_standby($primary, 'standby');

  $primary->safe_psql('postgres', 'CREATE EXTENSION vdb');
  VdbTest::create_vec($primary, 16);
  ...
  VdbTest::check_index($primary, 't_v', 't', 'after the seal');

=head1 FUNCTIONS

=over

=cut

package VdbTest;

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use Test::More;

=item VdbTest::start_standby($primary, $name)

Takes a base backup of the running $primary (which must have been
initialised with C<allows_streaming>), makes a hot standby called $name
that streams from it, starts the standby and returns it.  Catching up is
left to the caller (C<< $primary->wait_for_catchup($standby) >>).

=cut

sub start_standby
{
	my ($primary, $name) = @_;
	my $backup = "backup_for_$name";

	$primary->backup($backup);
	my $standby = PostgreSQL::Test::Cluster->new($name);
	$standby->init_from_backup($primary, $backup, has_streaming => 1);
	$standby->start;
	return $standby;
}

=item VdbTest::create_vec($node, $dim)

Creates the SQL function C<vec(i int)> in database C<postgres> of $node,
which must already have the vdb extension: a deterministic vector of $dim
dimensions for every i, the rows falling into five clusters by C<i % 5>,
so that k-means has something to find and every run sees the same data.

=cut

sub create_vec
{
	my ($node, $dim) = @_;

	$node->safe_psql('postgres', qq{
CREATE FUNCTION vec(i int) RETURNS vector LANGUAGE sql IMMUTABLE AS \$\$
	SELECT ('[' || string_agg(((i * 7919 + d * 104729) % 1000 / 100.0 + (i % 5) * 10)::text, ',') || ']')::vector
	FROM generate_series(1, $dim) d
\$\$;
});
	return;
}

=item VdbTest::create_clustered_vec($node, $dbname)

Creates the SQL function C<clustered_vec(i int)> in database $dbname of
$node, which must already have the vdb extension: a deterministic
16-dimensional vector for every i, in 30 clusters by C<i % 30> with a
little noise, rounded to 4 decimals (so dumps restore it exactly).

=cut

sub create_clustered_vec
{
	my ($node, $dbname) = @_;

	$node->safe_psql($dbname, q{
CREATE FUNCTION clustered_vec(i int) RETURNS vector LANGUAGE sql IMMUTABLE AS $$
	SELECT ('[' || string_agg(round((sin((i % 30) * 7 + j) * 3
		+ sin(i * 12.9898 + j * 78.233) * 0.4)::numeric, 4)::text, ',' ORDER BY j) || ']')::vector
	FROM generate_series(1, 16) j $$;
});
	return;
}

=item VdbTest::check_index($node, $index, $table, $what)

Two tests, named after $what: vdb_check finds nothing wrong with the
vdb_ivf index $index, and its live segment entries are exactly the rows of
$table with a non-NULL C<v> (every row is indexed once).  The entries of
deleted rows count as live until VACUUM marks them dead, so callers that
delete rows VACUUM first.

=cut

sub check_index
{
	my ($node, $index, $table, $what) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;

	is($node->safe_psql('postgres', qq{SELECT count(*) FROM vdb_check('$index')}),
		'0', "$what: vdb_check finds no problem");
	is($node->safe_psql('postgres', qq{
SELECT (SELECT sum(rows - dead_rows) FROM vdb_segments('$index') WHERE state <> 'dropped')
	= (SELECT count(*) FROM $table WHERE v IS NOT NULL)}),
		't', "$what: every row is indexed once");
	return;
}

=item VdbTest::segment_directory($node, $index)

Returns every field of every segment of the vdb_ivf index $index on $node
(including dropped segments), one segment after the other in id order:
what a standby that replayed the primary's WAL must reproduce exactly.

=cut

sub segment_directory
{
	my ($node, $index) = @_;

	return $node->safe_psql('postgres', qq{
SELECT string_agg(concat_ws(':', segment_id, state, rows, dead_rows, lists, pages,
	heap_block_min, heap_block_max, sealed_at), ',' ORDER BY segment_id)
FROM vdb_segments('$index')});
}

=item VdbTest::kill9_all($node)

Kills the postmaster of $node and every server process at once with
SIGKILL, as a power loss would: nobody gets to write, flush or clean up
anything more.  The postmaster is stopped first so that it forks nothing
while its children are listed.  Returns once they are all gone; start the
node again with C<< $node->start >>.

=cut

sub kill9_all
{
	my ($node) = @_;
	my $pidfile = $node->data_dir . '/postmaster.pid';
	open(my $fh, '<', $pidfile) or die "could not read $pidfile: $!";
	my $postmaster = <$fh>;
	close($fh);
	chomp $postmaster;

	kill 'STOP', $postmaster;
	my @children = grep { /^\d+$/ } map { s/\s//gr } split /\n/,
	  `ps -o pid= --ppid $postmaster`;
	$node->kill9;
	kill 'KILL', @children;
	# Until each is reaped: a new postmaster refuses to start while the
	# PID in postmaster.pid exists, even as a zombie.
	for my $pid ($postmaster, @children)
	{
		for (my $waited = 0; kill(0, $pid) && $waited < 600; $waited++)
		{
			select(undef, undef, undef, 0.05);
		}
	}
	return;
}

=item VdbTest::check_exact_search($node, $table, $index, $what)

Two tests, named after $what: a nearest-neighbour search on column C<v>
of $table uses the vdb_ivf (L2) index $index, and with every list probed
it returns exactly the distances a sequential scan returns, for five
queries (the vectors of the five lowest C<id>s).

=cut

sub check_exact_search
{
	my ($node, $table, $index, $what) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;

	like($node->safe_psql('postgres', qq{
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM $table ORDER BY v <-> (SELECT v FROM $table LIMIT 1) LIMIT 10}),
		qr/Index Scan using $index/, "$what: the search uses the index");
	my $q = qq{
SELECT string_agg(a::text, ' ' ORDER BY q.id)
FROM (SELECT id, v FROM $table WHERE v IS NOT NULL ORDER BY id LIMIT 5) q,
LATERAL (SELECT array_agg(d ORDER BY n) a FROM (SELECT d, row_number() OVER () n
	FROM (SELECT t.v <-> q.v d FROM $table t ORDER BY t.v <-> q.v LIMIT 10) s) s) s};
	is($node->safe_psql('postgres', "SET enable_seqscan = off; SET vdb.probes = 32768; $q"),
		$node->safe_psql('postgres', "SET enable_indexscan = off; $q"),
		"$what: probing every list equals the exact result");
	return;
}

=pod

=back

=cut

1;
