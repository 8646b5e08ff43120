# Setup shared by vdb's TAP tests (test/t/*.pl); scripts/test.sh puts this
# directory on prove's include path.

=pod

=head1 NAME

VdbTest - setup steps that several vdb TAP tests repeat

=head1 SYNOPSIS

  use VdbTest;

  my $primary = PostgreSQL::Test::Cluster->new('primary');
  $primary->init(allows_streaming => 1);
  $primary->start;
  my $standby = VdbTest::start_standby($primary, 'standby');

  $primary->safe_psql('postgres', 'CREATE EXTENSION vdb');
  VdbTest::create_vec($primary, 16);

=head1 FUNCTIONS

=over

=cut

package VdbTest;

use strict;
use warnings;

use PostgreSQL::Test::Cluster;

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

=pod

=back

=cut

1;
