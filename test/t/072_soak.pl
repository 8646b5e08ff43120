# Concurrency soak: several clients at once insert (single rows and
# batches), delete, update (HOT and not, some in REPEATABLE READ), search
# with and without a filter, VACUUM, seal, check and REINDEX CONCURRENTLY,
# while background sealers seal and merge the segments of two vdb_ivf
# indexes on a vdb table and autovacuum runs.
#
# Every write also writes a ledger table (plain heap) in the same
# statement, so at the end the vdb table must equal the ledger: no lost,
# duplicated or resurrected row, no stale version.  During the load, every
# search probing every list must equal the exact result in the same
# snapshot, and a default search must come back in distance order and never
# short; vdb_check runs now and then.  The only errors allowed are
# serialization failures (counted); no deadlock.  At the end every segment
# is sealed after a final vdb_seal, vdb_check is clean, every row is
# indexed once and an index scan probing every list finds every row.
#
# VDB_SOAK_SECONDS (default 40) sets the length of the load and
# VDB_SOAK_CLIENTS (default 5) the number of DML and search clients;
# VDB_SOAK_REPORT names a file to write the figures to.
# test/bench/soak.sh runs this file for longer.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time);
use VdbTest;

my $seconds = $ENV{VDB_SOAK_SECONDS} || 40;
my $clients = $ENV{VDB_SOAK_CLIENTS} || 5;
my @report;

# A figure of the run: in the test log, and in the report file if asked.
sub figure
{
	my ($text) = @_;
	note($text);
	push @report, $text;
	return;
}

my $node = PostgreSQL::Test::Cluster->new('soak');
$node->init;
# %e: the SQLSTATE of every logged error, so that the log check below can
# tell expected serialization failures from anything else.
$node->append_conf('postgresql.conf', qq(
log_line_prefix = '%m [%p] %e %q%a '
log_lock_waits = on
max_connections = 40
max_worker_processes = 8
autovacuum = on
jit = off
autovacuum_naptime = 1s
log_autovacuum_min_duration = 0
vdb.max_sealers = 2
));
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION vdb;

-- A pseudo-random 8-dimensional vector for every seed, in five clusters;
-- full float precision, so distance ties are practically impossible.
CREATE FUNCTION soak_vec(seed bigint) RETURNS vector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT array_agg((hashint8(seed * 8 + d)::float8 / 2147483648.0 * 10 + (seed % 5) * 8)::real
		ORDER BY d)::vector
	FROM generate_series(0, 7) d
$$;

CREATE SEQUENCE soak_ids;
CREATE TABLE items (id bigint NOT NULL, v vector(8), label int NOT NULL, ver int NOT NULL)
	USING vdb;
-- What every committed write says the table holds (heap, same statement).
CREATE TABLE ledger (id bigint PRIMARY KEY, v vector(8), label int NOT NULL, ver int NOT NULL);

INSERT INTO items SELECT nextval('soak_ids'), soak_vec(i), i % 10, 1
	FROM generate_series(1, 5000) i;
INSERT INTO ledger SELECT * FROM items;
CREATE INDEX items_id ON items (id);
CREATE INDEX items_v ON items USING vdb_ivf (v) WITH (segment_rows = 1000);
CREATE INDEX items_vc ON items USING vdb_ivf (v vector_cosine_ops) WITH (segment_rows = 2000);
ALTER TABLE items SET (autovacuum_vacuum_scale_factor = 0.05,
	autovacuum_vacuum_insert_scale_factor = 0.05);

-- A live row to update or delete: the first id at or after a point in the
-- newest 20,000 ids, never one of the hot rows 1 to 20.
CREATE FUNCTION soak_pick(r bigint) RETURNS bigint LANGUAGE sql STABLE AS $$
	SELECT id FROM items
	WHERE id >= greatest(21, (SELECT last_value FROM soak_ids) - r % 20000)
	ORDER BY id LIMIT 1
$$;

-- The nearest rows by op ('<->' through items_v, '<=>' through
-- items_vc), among those with label lbl if lbl >= 0: the query through
-- the index, and the exact answer by the operator's function, which no
-- index can serve.
CREATE FUNCTION soak_query(op text, lbl int, exact bool) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN exact
		THEN format('SELECT ARRAY(SELECT %s(v, $1) FROM items WHERE v IS NOT NULL%s ORDER BY 1 LIMIT 10)',
			CASE op WHEN '<->' THEN 'l2_distance' ELSE 'cosine_distance' END,
			CASE WHEN lbl >= 0 THEN ' AND label = ' || lbl ELSE '' END)
		ELSE format('SELECT ARRAY(SELECT v %s $1 FROM items%s ORDER BY v %s $1 LIMIT 10)',
			op, CASE WHEN lbl >= 0 THEN ' WHERE label = ' || lbl ELSE '' END, op)
	END
$$;

-- A search probing every list must return exactly what a sequential scan
-- returns, in the same snapshot (a STABLE function runs all its queries
-- with the snapshot of the statement calling it).  Compared by distance:
-- two rows at the same distance may come in either order.
CREATE FUNCTION soak_search_exact(q vector, lbl int, op text) RETURNS int
LANGUAGE plpgsql STABLE SET enable_seqscan = off SET vdb.probes = 32768 AS $$
DECLARE
	got float8[];
	want float8[];
BEGIN
	EXECUTE soak_query(op, lbl, false) INTO got USING q;
	EXECUTE soak_query(op, lbl, true) INTO want USING q;
	IF got IS DISTINCT FROM want THEN
		RAISE EXCEPTION 'soak: a search probing every list differs from the exact result'
			USING DETAIL = format('%s, label %s, query %s: index %s, exact %s', op, lbl, q, got, want);
	END IF;
	RETURN cardinality(got);
END
$$;

-- A search at the default probes is approximate, but must come back in
-- non-decreasing distance and never short: LIMIT 10 gives 10 rows when
-- 10 matching rows are visible.
CREATE FUNCTION soak_search(q vector, lbl int, op text) RETURNS int
LANGUAGE plpgsql STABLE SET enable_seqscan = off AS $$
DECLARE
	got float8[];
	n bigint;
BEGIN
	EXECUTE soak_query(op, lbl, false) INTO got USING q;
	n := (SELECT count(*) FROM items WHERE v IS NOT NULL AND (lbl < 0 OR label = lbl));
	IF cardinality(got) <> least(n, 10) THEN
		RAISE EXCEPTION 'soak: a search returned % rows, % match', cardinality(got), n
			USING DETAIL = format('%s, label %s, query %s: %s', op, lbl, q, got);
	END IF;
	IF got <> ARRAY(SELECT unnest(got) ORDER BY 1) THEN
		RAISE EXCEPTION 'soak: a search returned rows out of distance order'
			USING DETAIL = format('%s, label %s, query %s: %s', op, lbl, q, got);
	END IF;
	RETURN cardinality(got);
END
$$;

-- vdb_check of both indexes, in the middle of the load.
CREATE FUNCTION soak_check() RETURNS int LANGUAGE plpgsql AS $$
DECLARE
	problems text;
BEGIN
	SELECT string_agg(p, '; ') INTO problems
	FROM (SELECT vdb_check('items_v') p UNION ALL SELECT vdb_check('items_vc')) s;
	IF problems IS NOT NULL THEN
		RAISE EXCEPTION 'soak: vdb_check found problems: %', problems;
	END IF;
	RETURN 0;
END
$$;
});

# The searches must go through the indexes (the functions set the same
# settings as here).
for my $case (['<->', 'items_v'], ['<=>', 'items_vc'])
{
	my ($op, $index) = @$case;
	for my $lbl (-1, 3)
	{
		my $query = $node->safe_psql('postgres', "SELECT soak_query('$op', $lbl, false)");
		$query =~ s/\$1/soak_vec(7)/g;
		like($node->safe_psql('postgres', "SET enable_seqscan = off; EXPLAIN (COSTS OFF) $query"),
			qr/Index Scan using $index on items/,
			"a search by $op " . ($lbl < 0 ? 'without' : 'with') . " a filter uses $index");
	}
}

# The scripts.  Every write changes the ledger in the same statement; an
# update or delete locks the items row before the ledger row, so writers
# never wait for each other in opposite orders.  Rows 1 to 20 are hot
# rows, only updated, in REPEATABLE READ, so that updates of the same row
# fail with serialization failures, which are counted.
my $ins = q{WITH i AS (INSERT INTO items (id, v, label, ver) %s RETURNING *)
INSERT INTO ledger SELECT id, v, label, ver FROM i;
};
my $upd = q{WITH u AS (UPDATE items SET %s, ver = ver + 1 WHERE id = %s RETURNING *)
UPDATE ledger l SET v = u.v, label = u.label, ver = u.ver FROM u WHERE l.id = u.id;
};
my $pick = "\\set r random(0, 1000000)\n\\set seed random(1, 1000000000)\n\\set lbl random(0, 9)\n";
my %dml = (
	# One row in 40 without a vector (never indexed).
	insert => $pick . sprintf($ins,
		q{VALUES (nextval('soak_ids'), CASE WHEN :seed % 40 <> 0 THEN soak_vec(:seed) END, :lbl, 1)}),
	insert_batch => $pick . sprintf($ins,
		q{SELECT nextval('soak_ids'), soak_vec(:seed + g), (:lbl + g) % 10, 1 FROM generate_series(1, 25) g}),
	update_vector => $pick . sprintf($upd, 'v = soak_vec(:seed)', 'soak_pick(:r)'),
	update_label => $pick . sprintf($upd, 'label = :lbl', 'soak_pick(:r)'),
	update_hot_row => "\\set r random(1, 20)\n\\set seed random(1, 1000000000)\n"
	  . "BEGIN ISOLATION LEVEL REPEATABLE READ;\n"
	  . "SELECT count(*) FROM items WHERE id <= 20;\n\\sleep 5 ms\n"
	  . sprintf($upd, 'v = soak_vec(:seed)', ':r') . "COMMIT;\n",
	delete => $pick . q{WITH d AS (DELETE FROM items WHERE id = soak_pick(:r) RETURNING id)
DELETE FROM ledger l USING d WHERE l.id = d.id;
},
	# The oldest rows beyond the newest 15,000 ids: keeps the table at
	# about 15,000 rows and leaves whole sealed segments dead, for the
	# sealers to rebuild or merge.
	trim => q{WITH d AS (DELETE FROM items WHERE id IN (SELECT id FROM items
	WHERE id > 20 AND id < (SELECT last_value FROM soak_ids) - 15000 ORDER BY id LIMIT 200) RETURNING id)
DELETE FROM ledger l USING d WHERE l.id = d.id;
},
	# Both indexes, with a filter on one label or none (lbl < 0).
	search_exact => "\\set seed random(1, 1000000000)\n\\set lbl random(-3, 9)\n\\set cos random(0, 1)\n"
	  . "SELECT soak_search_exact(soak_vec(:seed), :lbl, CASE :cos WHEN 0 THEN '<->' ELSE '<=>' END);\n",
	search => "\\set seed random(1, 1000000000)\n\\set lbl random(-3, 9)\n\\set cos random(0, 1)\n"
	  . "SELECT soak_search(soak_vec(:seed), :lbl, CASE :cos WHEN 0 THEN '<->' ELSE '<=>' END);\n",);
my %dml_weight = (
	insert => 20,
	insert_batch => 4,
	update_vector => 8,
	update_label => 6,
	update_hot_row => 4,
	delete => 6,
	trim => 2,
	search_exact => 6,
	search => 8);
# Maintenance, at a slower pace, by two more clients: one runs VACUUM,
# the other vdb_seal of one index (the other one is sealed only by
# background sealers), vdb_check and a rebuild, one at a time.  Not two
# of the latter at once: vdb_check and vdb_seal lock the table in the
# middle of their statement, so while REINDEX CONCURRENTLY waits for
# their snapshot they would wait for it, a deadlock PostgreSQL detects
# (as with any function that locks a table while CREATE INDEX
# CONCURRENTLY waits for old snapshots).
my @maint = (
	{ vacuum => "VACUUM items;\n\\sleep 500 ms\n" },
	{
		seal => "SELECT vdb_seal('items_v');\n\\sleep 1000 ms\n",
		check => "SELECT soak_check();\n\\sleep 1000 ms\n",
		# A rebuild beside the writers: the new index misses what is
		# inserted during its build until the table AM's validation scan
		# adds it.
		reindex => "REINDEX INDEX CONCURRENTLY items_v;\n\\sleep 1000 ms\n",
	});
my @maint_weight = ({ vacuum => 1 }, { seal => 2, check => 2, reindex => 1 });

# Write the scripts; returns pgbench's -f arguments.
sub script_args
{
	my ($scripts, $weights) = @_;
	my @args;
	for my $name (sort keys %$scripts)
	{
		my $file = $node->basedir . "/soak_$name.sql";
		open(my $fh, '>', $file) or die "could not write $file: $!";
		print $fh $scripts->{$name};
		close($fh);
		push @args, '-f', "$file\@$weights->{$name}";
	}
	return @args;
}

# One pgbench run in the background.
sub start_pgbench
{
	my ($nclients, $out, $err, @args) = @_;
	my @cmd = ('pgbench', '--no-vacuum', '--failures-detailed', '--max-tries=1',
		'-h', $node->host, '-p', $node->port, "--client=$nclients", '--jobs=1',
		"--time=$seconds", @args, 'postgres');
	return IPC::Run::start(\@cmd, '>', $out, '2>', $err,
		IPC::Run::timeout($seconds + 180));
}

# A counter from a pgbench report ("number of serialization failures: 3
# (0.1%)"), 0 if absent.
sub counter
{
	my ($text, $what) = @_;
	return $text =~ /^\Q$what\E: (\d+)/m ? $1 : 0;
}

my $logstart = -s $node->logfile;
my $t0 = time;
my ($dml_out, $dml_err) = ('', '');
my @maint_out = ('', '');
my @maint_err = ('', '');
my $dml = start_pgbench($clients, \$dml_out, \$dml_err, script_args(\%dml, \%dml_weight));
my @mnt = map {
	start_pgbench(1, \$maint_out[$_], \$maint_err[$_], script_args($maint[$_], $maint_weight[$_]))
} 0 .. 1;
# While the load runs: the size of the indexes at every tenth of it (a
# figure: it levels off once the table does, thanks to page reuse).
my @sizes;
my $finished = eval {
	my $next = $t0 + $seconds / 10;
	while (grep { $_->pumpable } ($dml, @mnt))
	{
		$_->pump_nb for grep { $_->pumpable } ($dml, @mnt);
		if (time >= $next && time < $t0 + $seconds)
		{
			push @sizes, $node->safe_psql('postgres',
				q{SELECT pg_relation_size('items_v') / 8192 || '+' || pg_relation_size('items_vc') / 8192});
			$next += $seconds / 10;
		}
		select(undef, undef, undef, 0.1);
	}
	$_->finish for ($dml, @mnt);
	1;
};
my $took = time - $t0;
if (!$finished)
{
	diag("pgbench did not finish in time: $@");
	diag($node->safe_psql('postgres', q{
SELECT string_agg(pid || ' ' || coalesce(backend_type, '') || ' ' || coalesce(wait_event_type, '')
	|| ':' || coalesce(wait_event, '') || ' ' || left(query, 60), E'\n')
FROM pg_stat_activity WHERE pid <> pg_backend_pid()}));
	$_->kill_kill for ($dml, @mnt);
}
ok($finished, sprintf('the load ran to its end (%.0f s for %d s of load)', $took, $seconds));
is(($dml->results)[0], 0, 'no DML or search client was aborted by an error')
  or diag($dml_err);
for my $i (0 .. 1)
{
	is(($mnt[$i]->results)[0], 0, 'the ' . join(', ', sort keys %{ $maint[$i] })
		  . ' client was not aborted by an error')
	  or diag($maint_err[$i]);
}
my $maint_out = join('', @maint_out);

# What ran.
note("DML and search clients:\n$dml_out");
note("maintenance clients:\n$maint_out");
figure("load: $seconds s, $clients DML and search clients, 2 maintenance clients");
# A counter summed over the maintenance clients' reports.
sub maint_counter
{
	my ($what) = @_;
	my $sum = 0;
	$sum += counter($_, $what) for @maint_out;
	return $sum;
}
my $txns = counter($dml_out, 'number of transactions actually processed');
my $serialization = counter($dml_out, 'number of serialization failures')
  + maint_counter('number of serialization failures');
my $deadlocks = counter($dml_out, 'number of deadlock failures')
  + maint_counter('number of deadlock failures');
my $failed = counter($dml_out, 'number of failed transactions')
  + maint_counter('number of failed transactions');
figure("transactions: $txns DML and search (serialization failures: $serialization, "
	  . "deadlocks: $deadlocks), "
	  . maint_counter('number of transactions actually processed') . ' maintenance');
# Transactions and serialization failures of each script (pgbench
# reports one script in its summary, several each on its own).
for my $block (map { /^SQL script/m ? split(/^SQL script \d+: /m) : $_ } $dml_out, @maint_out)
{
	next unless $block =~ /soak_(\w+)\.sql\n/;
	my $name = $1;
	my $n = $block =~ /- (\d+) transactions/ ? $1
	  : counter($block, 'number of transactions actually processed');
	my $failures = counter($block =~ s/^ - //mgr, 'number of serialization failures');
	figure("  $name: $n transactions, $failures serialization failures");
}
cmp_ok($txns, '>', 0, "the clients committed transactions ($txns)");
is($deadlocks, 0, 'no deadlock');
is($failed, $serialization,
	"every failed transaction was a serialization failure ($serialization)");

# The server log: no error but serialization failures (SQLSTATE 40001)
# and autovacuum giving way to a lock request (57014 "canceling autovacuum
# task"), no crash.
my $log = slurp_file($node->logfile, $logstart);
my @unexpected = grep {
	/\b(ERROR|FATAL|PANIC|WARNING):/
	  && !/ 40001 .*ERROR:  could not serialize access/
	  && !/ 57014 .*ERROR:  canceling autovacuum task/
} split /\n/, $log;
is(scalar(@unexpected), 0, 'no unexpected error, warning or crash in the server log')
  or diag(join("\n", @unexpected[0 .. ($#unexpected < 20 ? $#unexpected : 19)]));
unlike($log, qr/deadlock detected/, 'no deadlock in the server log');
my %events = (
	'segments sealed by background sealers' => qr/vdb sealer sealed segment/,
	'merges' => qr/vdb sealer merged segments/,
	'rebuilds of mostly dead segments' => qr/vdb sealer rebuilt segment/,
	'times a sealer gave way' => qr/vdb sealer gave way/,
	'times a sealer gave up' => qr/vdb sealer gives up/,
	'automatic vacuums' => qr/automatic vacuum of table "postgres\.public\.items"/,
	'automatic vacuums cancelled' => qr/canceling autovacuum task/,
	'lock waits longer than deadlock_timeout' => qr/still waiting for/,);
for my $what (sort keys %events)
{
	my $n = () = $log =~ /$events{$what}/g;
	figure("$what: $n");
}
my $sealed = () = $log =~ /vdb sealer sealed segment \d+ of index "items_vc?"/g;
cmp_ok($sealed, '>', 0, "background sealers sealed segments during the load ($sealed)");

# The table equals the ledger: every committed insert, update and delete
# and nothing else, each row once.
my $figures = $node->safe_psql('postgres', q{
SELECT (SELECT last_value FROM soak_ids) || ' ids issued, '
	|| (SELECT count(*) FROM ledger) || ' rows left'});
figure("table: $figures");
figure('pages of items_v+items_vc at each tenth of the load: ' . join(', ', @sizes));
is($node->safe_psql('postgres', q{
SELECT (SELECT count(*) FROM (SELECT id, v::text, label, ver FROM items
		EXCEPT ALL SELECT id, v::text, label, ver FROM ledger) s)
	|| ' rows not in the ledger, '
	|| (SELECT count(*) FROM (SELECT id, v::text, label, ver FROM ledger
		EXCEPT ALL SELECT id, v::text, label, ver FROM items) s)
	|| ' ledger rows missing'}),
	'0 rows not in the ledger, 0 ledger rows missing',
	'the table holds exactly the committed rows, each once');

# Stop the background sealers, then seal everything.
$node->safe_psql('postgres',
	q{LOAD 'vdb'; ALTER SYSTEM SET vdb.auto_seal = off; SELECT pg_reload_conf()});
$node->poll_query_until('postgres',
	q{SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'vdb sealer'})
  or die 'the background sealers did not stop';
$node->safe_psql('postgres', q{SELECT vdb_seal('items')});
for my $index ('items_v', 'items_vc')
{
	is($node->safe_psql('postgres', qq{
SELECT string_agg(DISTINCT state || CASE WHEN state = 'growing' THEN ':' || rows ELSE '' END, ',')
FROM vdb_segments('$index') WHERE state <> 'dropped'}),
		'growing:0,sealed', "$index: after a final vdb_seal every segment is sealed");
}

# INDEX_CLEANUP ON: with few dead rows left, VACUUM may skip the indexes
# (index scan bypassed) and leave their entries counted as live.
$node->safe_psql('postgres', 'VACUUM (INDEX_CLEANUP ON) items');
for my $index ('items_v', 'items_vc')
{
	VdbTest::check_index($node, $index, 'items', "$index after the soak");
}

# An index scan probing every list finds every row with a vector, in
# distance order.  (The soak found the cosine index a few 1e-7 out of
# <=> order: its own rounding on normalised vectors; fixed on main by the
# executor's recheck, da0ac3f.)
for my $case (['items_v', '<->'], ['items_vc', '<=>'])
{
	my ($index, $op) = @$case;
	my $scan = qq{SELECT id, v $op soak_vec(42) d FROM items ORDER BY v $op soak_vec(42)};
	my $settings = 'SET enable_seqscan = off; SET enable_sort = off; SET vdb.probes = 32768;';
	like($node->safe_psql('postgres', "$settings EXPLAIN (COSTS OFF) $scan"),
		qr/Index Scan using $index/, "$index: a scan of every row uses the index");
	is($node->safe_psql('postgres', qq{$settings
WITH s AS MATERIALIZED ($scan)
SELECT (SELECT count(*) FROM (SELECT id FROM s EXCEPT ALL
		SELECT id FROM ledger WHERE v IS NOT NULL) x)
	+ (SELECT count(*) FROM (SELECT id FROM ledger WHERE v IS NOT NULL EXCEPT ALL
		SELECT id FROM s) x)}),
		'0', "$index: probing every list finds every row once");
	# Neighbours in the index's order whose distances (the operator's,
	# computed on the table's rows) decrease.
	is($node->safe_psql('postgres', qq{$settings
SELECT count(*) FILTER (WHERE d < prev)
FROM (SELECT d, lag(d) OVER (ORDER BY n) prev
	FROM (SELECT d, row_number() OVER () n FROM ($scan) s) s) s}),
		'0', "$index: rows come back in distance order");
}

if ($ENV{VDB_SOAK_REPORT})
{
	open(my $fh, '>', $ENV{VDB_SOAK_REPORT})
	  or die "could not write $ENV{VDB_SOAK_REPORT}: $!";
	print $fh join("\n", @report),
	  "\n\nDML and search clients (pgbench):\n$dml_out",
	  "\nmaintenance clients (pgbench):\n$maint_out";
	close($fh);
}

$node->stop;
done_testing();
