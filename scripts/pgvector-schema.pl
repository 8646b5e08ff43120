#!/usr/bin/env perl
# Rewrite a plain-format pg_dump of a pgvector database (a schema dump, or
# its pre-data/post-data sections) into one for vdb:
#
#   scripts/pgvector-schema.pl [--keep-heap] < pgvector-dump.sql > vdb-dump.sql
#
#   - CREATE EXTENSION vector -> CREATE EXTENSION vdb, in the same schema
#     (the type, operator, function and operator class names are the same,
#     so every other statement stays as it is); the extension's COMMENT goes;
#   - ivfflat and hnsw indexes -> vdb_ivf with the same columns, operator
#     classes (vector_l2_ops, vector_ip_ops, vector_cosine_ops), INCLUDE
#     and WHERE clauses; their options (lists, m, ef_construction) are
#     dropped, as vdb_ivf sizes its lists per segment;
#   - tables with a vector column get USING vdb (not partitioned parents,
#     which have no storage), unless --keep-heap.
#
# An index vdb_ivf cannot serve (halfvec, sparsevec, bit or L1 operator
# classes) is kept as a comment and reported on stderr; a halfvec or
# sparsevec column, which vdb has no type for, is an error (exit 1) before
# anything is written.  The exit status is 0 otherwise.
#
# Reads pg_dump's own layout: index definitions on one line, CREATE TABLE
# with one column per line and the closing parenthesis at the start of a
# line.  test/t/066_pgvector_migration.pl runs it on a fixture in that
# layout (test/pgvector/).
use strict;
use warnings;

my $keep_heap = 0;
for my $arg (@ARGV)
{
	if ($arg eq '--keep-heap') { $keep_heap = 1; }
	else { die "usage: $0 [--keep-heap] < pgvector-dump.sql > vdb-dump.sql\n"; }
}

my %supported_opclass = map { $_ => 1 } qw(vector_l2_ops vector_ip_ops vector_cosine_ops);
my $column_name = qr/(?:"(?:[^"]|"")+"|[^\s"]+)/;
my (@out, @errors, $skipped);

# The text from an opening parenthesis to its match (quotes respected), and
# what follows it.
sub split_parenthesized
{
	my ($text) = @_;
	my ($depth, $quote) = (0, '');
	for my $i (0 .. length($text) - 1)
	{
		my $c = substr($text, $i, 1);
		if ($quote) { $quote = '' if $c eq $quote; next; }
		if ($c eq "'" || $c eq '"') { $quote = $c; next; }
		$depth++ if $c eq '(';
		$depth-- if $c eq ')';
		return (substr($text, 0, $i + 1), substr($text, $i + 1)) if $depth == 0;
	}
	return;
}

# One index definition: rewritten, or commented out with a warning.
sub rewrite_index
{
	my ($line, $lineno) = @_;
	my ($head, $am, $tail) = $line =~ /^(CREATE (?:UNIQUE )?INDEX .*? USING )(ivfflat|hnsw) (\(.*)$/
	  or return $line;
	my ($columns, $rest) = split_parenthesized($tail)
	  or die "line $lineno: cannot parse index definition: $line\n";
	my @opclasses = $columns =~ /(\w+_ops)\b/g;
	my @unsupported = grep { !$supported_opclass{$_} } @opclasses;
	push @unsupported, $1 if $columns =~ /\b(halfvec|sparsevec|bit)\b/;
	if (@unsupported)
	{
		print STDERR "pgvector-schema: line $lineno: $am index not migrated "
		  . "(vdb_ivf has no $unsupported[0]): $line\n";
		$skipped++;
		return "-- vdb: not migrated (vdb_ivf has no $unsupported[0]): $line";
	}
	$rest =~ s/^ WITH \((?:[^()']|'[^']*')*\)//;
	return $head . 'vdb_ivf ' . $columns . $rest;
}

# One CREATE TABLE statement (its lines): USING vdb if it has a vector
# column and storage of its own.
sub rewrite_table
{
	my (@lines) = @_;
	my ($close) = grep { $lines[$_] =~ /^\)/ } 0 .. $#lines;
	return @lines unless defined $close;
	my @columns = @lines[ 1 .. $close - 1 ];
	my $has_vector = grep { /^\s+$column_name\s+(?:\S+\.)?vector\b/ } @columns;
	my $statement = join("\n", @lines[ $close .. $#lines ]);
	return @lines
	  if $keep_heap || !$has_vector || $statement =~ /\n(?:PARTITION BY|USING) /;
	# USING comes after INHERITS and before WITH, TABLESPACE and the end.
	$statement =~ s/^\)((?:\nINHERITS \((?:[^()]|\([^()]*\))*\))?)/)$1\nUSING vdb/
	  or return @lines;
	return (@lines[ 0 .. $close - 1 ], split(/\n/, $statement, -1));
}

my @table;
my $lineno = 0;
while (my $line = <STDIN>)
{
	chomp $line;
	$lineno++;
	if (@table)
	{
		push @table, $line;
		if ($line =~ /;$/ && $line !~ /^\s/)
		{
			push @out, rewrite_table(@table);
			@table = ();
		}
		next;
	}
	if ($line =~ /^CREATE (?:UNLOGGED )?TABLE .*\($/)
	{
		@table = ($line);
		next;
	}
	if ($line =~ /^CREATE EXTENSION IF NOT EXISTS vector( WITH SCHEMA \S+)?;$/)
	{
		push @out, "CREATE EXTENSION IF NOT EXISTS vdb" . ($1 // '') . ';';
		next;
	}
	next if $line =~ /^COMMENT ON EXTENSION vector IS /;
	push @out, rewrite_index($line, $lineno);
}
push @out, @table;
# Columns vdb has no type for.
for my $l (@out)
{
	push @errors, "vdb has no type $1: $l" if $l =~ /^\s+$column_name\s+(?:\S+\.)?(halfvec|sparsevec)\b/;
}
if (@errors)
{
	print STDERR "pgvector-schema: $_\n" for @errors;
	exit 1;
}
print "$_\n" for @out;
print STDERR "pgvector-schema: $skipped index(es) left as comments\n" if $skipped;
exit 0;
