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
# not count); best of BENCH_TRIALS trials, the three queries taking turns,
# and best of BENCH_ROUNDS such runs, alternating with pgvector's database.  The literals are generated from
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

-- Milliseconds for the fastest of several runs of each query over n copies
-- of its literal.  The queries take turns, so that a change in machine load
-- hits all of them alike.  The CASE keeps the planner from folding the call
-- into one.
CREATE FUNCTION pg_temp.best_ms(exprs text[], lits text[], n int, trials int)
RETURNS float8[] LANGUAGE plpgsql AS $$
DECLARE
	best float8[] := array_fill('Infinity'::float8, ARRAY[cardinality(exprs)]);
	q text;
	t0 timestamptz;
BEGIN
	FOR i IN 0..trials LOOP		-- round 0 warms up
		FOR k IN 1..cardinality(exprs) LOOP
			q := format('SELECT count(%s) FROM (SELECT (CASE WHEN g > 0 THEN $1 END)::cstring AS c '
						'FROM generate_series(1, $2) g) s', exprs[k]);
			t0 := clock_timestamp();
			EXECUTE q USING lits[k], n;
			IF i > 0 THEN
				best[k] := least(best[k], extract(epoch FROM clock_timestamp() - t0) * 1000);
			END IF;
		END LOOP;
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

SELECT kind, length(body) + 2, ms[2] - ms[1], ms[3] - ms[1]
FROM (SELECT kind, body,
		pg_temp.best_ms(ARRAY['c', 'vector_in(c, 0, -1)', 'array_in(c, ''real''::regtype, -1)'],
						ARRAY['[' || body || ']', '[' || body || ']', '{' || body || '}'],
						:literals, :trials) AS ms
	FROM literal) t
ORDER BY kind DESC;
SQL
}

# Alternate between the databases for BENCH_ROUNDS rounds and keep the best
# of each figure, so that load from other processes hits both alike.
rounds=${BENCH_ROUNDS:-3}
all=""
for ((r = 0; r < rounds; r++)); do
	all+=$(measure "${PGDATABASE:-}" vdb | sed 's/^/vdb|/')$'\n'
	if [ -n "$pgvector_db" ]; then
		all+=$(measure "$pgvector_db" vector | sed 's/^/pgvector|/')$'\n'
	fi
done

echo "$dims-d literals, microseconds per literal (best of $rounds x $trials x $literals)"
awk -F'|' -v n="$literals" -v with_pgvector="$pgvector_db" '
function least(a, b) { return (a == "" || b < a) ? b : a }
NF == 5 {
	if (!($2 in chars)) { order[++kinds] = $2; chars[$2] = $3 }
	if ($1 == "vdb") { vdb[$2] = least(vdb[$2], $4); arr[$2] = least(arr[$2], $5) }
	else pgv[$2] = least(pgv[$2], $4)
}
END {
	printf "%-9s %6s %10s %10s %8s", "kind", "chars", "vdb", "real[]", "speedup"
	if (with_pgvector != "") printf " %10s %8s", "pgvector", "speedup"
	printf "\n"
	for (i = 1; i <= kinds; i++) {
		k = order[i]; us = vdb[k] * 1000 / n; a = arr[k] * 1000 / n
		printf "%-9s %6d %10.2f %10.2f %7.1fx", k, chars[k], us, a, a / us
		if (with_pgvector != "") printf " %10.2f %7.1fx", pgv[k] * 1000 / n, pgv[k] * 1000 / n / us
		printf "\n"
	}
}' <<<"$all"
