#!/usr/bin/env bash
# COPY ingest into a heap table and a vdb table, side by side, with one and
# with two concurrent writers.  Prints rows/s per run, the vdb/heap ratio of
# the medians and the median of the per-repetition vdb/heap ratios.
#
#   test/bench/tableam/copy_bench.sh [rows] [dims] [repetitions] [scenario...]
#
# Scenarios: "empty" (COPY into a new empty table) and "refill" (COPY into
# a table from which the oldest third was deleted and vacuumed, so vdb's
# hole reuse is on the path).  Connects with the usual libpq variables
# (PGHOST, PGPORT, PGDATABASE); the database needs CREATE EXTENSION vdb.
# Each writer copies the whole file through psql's \copy (client side), so
# two writers insert twice the rows.
set -euo pipefail

rows=${1:-100000}
dims=${2:-64}
reps=${3:-3}
shift $(( $# < 3 ? $# : 3 ))
scenarios=${*:-empty refill}
# the vector column's storage: external (the type's default: vectors above
# about 2 kB go to the TOAST table) or plain (kept in the row)
storage=${STORAGE:-external}
PSQL=${PSQL:-psql}
psql_q() { "$PSQL" -X -q -v ON_ERROR_STOP=1 "$@"; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
data="$work/rows.csv"

# Deterministic vectors with short decimal components.
awk -v n="$rows" -v d="$dims" 'BEGIN {
	for (i = 1; i <= n; i++) {
		s = "[";
		for (k = 1; k <= d; k++)
			s = s (k > 1 ? "," : "") ((i * 31 + k * 17) % 1000) / 100;
		print i "\t" s "]";
	}
}' > "$data"

now() { date +%s.%N; }

# Set up table "bench_$am" for a scenario.
prepare() {
	local am=$1 scenario=$2
	psql_q -c "DROP TABLE IF EXISTS bench_$am" \
		-c "CREATE TABLE bench_$am (id int, embedding vector($dims)) USING $am WITH (autovacuum_enabled = false)" \
		-c "ALTER TABLE bench_$am ALTER COLUMN embedding SET STORAGE $storage"
	if [ "$scenario" = refill ]; then
		psql_q -c "\\copy bench_$am FROM '$data'" \
			-c "DELETE FROM bench_$am WHERE id <= $rows / 3" \
			-c "VACUUM bench_$am"
	fi
	psql_q -c "CHECKPOINT"
}

# Time "writers" concurrent \copy of the file; print rows/s.
run() {
	local am=$1 writers=$2 start end pids=()
	start=$(now)
	for ((w = 0; w < writers; w++)); do
		psql_q -c "\\copy bench_$am FROM '$data'" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p"; done
	end=$(now)
	echo "$rows $writers $start $end" | awk '{ printf "%.0f\n", $1 * $2 / ($4 - $3) }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "rows=$rows dims=$dims storage=$storage repetitions=$reps file=$(du -h "$data" | cut -f1)"
for scenario in $scenarios; do
	for writers in 1 2; do
		: > "$work/heap" ; : > "$work/vdb"
		for ((r = 1; r <= reps; r++)); do
			# alternate the order so drift on a shared machine hits both
			if (( r % 2 )); then order="heap vdb"; else order="vdb heap"; fi
			for am in $order; do
				prepare "$am" "$scenario"
				run "$am" "$writers" >> "$work/$am"
			done
		done
		h=$(median < "$work/heap"); v=$(median < "$work/vdb")
		# each repetition times heap and vdb back to back, so the ratio within
		# a repetition is the least disturbed by load from other processes
		p=$(paste "$work/vdb" "$work/heap" | awk '{ print $1 / $2 }' | median)
		printf '%-7s writers=%d  heap %s  vdb %s\n        median rows/s: heap %s vdb %s, ratio %.3f; median of per-repetition ratios %.3f\n' \
			"$scenario" "$writers" "$(paste -sd, "$work/heap")" "$(paste -sd, "$work/vdb")" "$h" "$v" \
			"$(echo "$v $h" | awk '{ print $1 / $2 }')" "$p"
	done
done
psql_q -c "DROP TABLE IF EXISTS bench_heap, bench_vdb"
