#!/usr/bin/env bash
# Server-side cost of parsing a 784-dimension vector literal: vdb's
# vector_in against core's real[] input (array_in calling float4in, which is
# strtof per element, as pgvector's vector_in does) on the same numbers, in
# one run, so the ratio is what to compare across machines.
#
#   test/bench/parse_bench.sh                  # vdb in $PGDATABASE
#   BENCH_PGVECTOR_DB=pgv test/bench/parse_bench.sh
#                                              # also pgvector's vector_in, in
#                                              # a database where CREATE
#                                              # EXTENSION vector was run
#
# Connection through the usual PG* variables.  Two kinds of literal:
#   integers    Fashion-MNIST pixels, 0..255
#   9-digit     random reals in (-1, 1) as PostgreSQL prints them, up to 9
#               significant digits (-0.123456789, 0.0012345678), like
#               embeddings a client sends back
# For each, the time of N calls of the input function, minus the time of the
# same query without the call (so the loop and the text-to-cstring copy do
# not count); best of BENCH_TRIALS trials.  The literals are generated from
# a fixed seed, so every database parses the same text.
set -euo pipefail

dims=${BENCH_DIMS:-784}
literals=${BENCH_LITERALS:-2000}
trials=${BENCH_TRIALS:-5}
pgvector_db=${BENCH_PGVECTOR_DB:-}

# Print "kind|chars|vector_in ms|real[] input ms" per kind of literal, for
# the database $1 where extension $2 provides vector_in.
measure() {
	psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" -v ext="$2" -v dims="$dims" \
		-v literals="$literals" -v trials="$trials" <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS :"ext";

-- Milliseconds for the fastest of several runs of a query over n copies of
-- a literal.  The CASE keeps the planner from folding the call into one.
CREATE FUNCTION pg_temp.best_ms(expr text, lit text, n int, trials int)
RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
	q text := format('SELECT count(%s) FROM (SELECT (CASE WHEN g > 0 THEN $1 END)::cstring AS c '
					 'FROM generate_series(1, $2) g) s', expr);
	best float8 := 'Infinity';
	t0 timestamptz;
	ms float8;
BEGIN
	EXECUTE q USING lit, n;		-- warm up
	FOR i IN 1..trials LOOP
		t0 := clock_timestamp();
		EXECUTE q USING lit, n;
		ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
		best := least(best, ms);
	END LOOP;
	RETURN best;
END
$$;

SELECT setseed(0.42) \g /dev/null
CREATE TEMP TABLE literal AS
SELECT 'integers' AS kind,
	(SELECT string_agg(floor(random() * 256)::int::text, ',') FROM generate_series(1, :dims)) AS body
UNION ALL
SELECT '9-digit',
	(SELECT string_agg((random() * 2 - 1)::real::text, ',') FROM generate_series(1, :dims));

-- both parsers must read the same numbers
DO $$
BEGIN
	IF NOT (SELECT bool_and(('[' || body || ']')::vector::real[] = ('{' || body || '}')::real[])
			FROM literal) THEN
		RAISE EXCEPTION 'vector_in and float4in read different values';
	END IF;
END
$$;

SELECT kind, length(body) + 2,
	pg_temp.best_ms('vector_in(c, 0, -1)', '[' || body || ']', :literals, :trials) - base,
	pg_temp.best_ms('array_in(c, ''real''::regtype, -1)', '{' || body || '}', :literals, :trials) - base
FROM (SELECT kind, body, pg_temp.best_ms('c', '[' || body || ']', :literals, :trials) AS base
	FROM literal) t
ORDER BY kind DESC;
SQL
}

vdb=$(measure "${PGDATABASE:-}" vdb)
pgvector=""
if [ -n "$pgvector_db" ]; then
	pgvector=$(measure "$pgvector_db" vector)
fi

echo "$dims-d literals, microseconds per literal (best of $trials x $literals)"
awk -F'|' -v n="$literals" -v pgv="$pgvector" '
BEGIN {
	split(pgv, rows, "\n")
	for (r in rows) { split(rows[r], f, "|"); pg[f[1]] = f[3] }
	printf "%-9s %6s %10s %10s %8s", "kind", "chars", "vdb", "real[]", "speedup"
	if (pgv != "") printf " %10s %8s", "pgvector", "speedup"
	printf "\n"
}
{
	us = $3 * 1000 / n; arr = $4 * 1000 / n
	printf "%-9s %6d %10.2f %10.2f %7.1fx", $1, $2, us, arr, arr / us
	if (pgv != "") printf " %10.2f %7.1fx", pg[$1] * 1000 / n, pg[$1] * 1000 / n / us
	printf "\n"
}' <<<"$vdb"
