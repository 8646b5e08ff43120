#!/usr/bin/env bash
# CREATE INDEX time and size of vdb_ivf on Fashion-MNIST (60,000 x 784, L2),
# next to a btree on the same table as a same-run yardstick.
#
#   test/bench/ivf_build.sh [runs]
#
# Uses the server that psql reaches by default (PGHOST, PGPORT, PGDATABASE,
# PGUSER); the database needs "CREATE EXTENSION vdb".  Loads the Debian
# package dataset-fashion-mnist into table fmnist (once), then builds each
# index `runs` times (default 3) and prints every time and the median.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
runs=${1:-3}
mwm=${VDB_BENCH_MWM:-1GB}
psql=(psql -X -q -v ON_ERROR_STOP=1)

if [ "$("${psql[@]}" -Atc "SELECT to_regclass('fmnist') IS NULL")" = t ]; then
	echo "loading Fashion-MNIST train set"
	"${psql[@]}" -c "CREATE TABLE fmnist (id int, label int, v vector(784))" \
		-c "ALTER TABLE fmnist ALTER COLUMN v SET STORAGE PLAIN"
	/usr/bin/python3 "$here/fashion_to_copy.py" train | "${psql[@]}" -c "COPY fmnist FROM STDIN"
	"${psql[@]}" -c "VACUUM ANALYZE fmnist"
fi

# Time one CREATE INDEX in milliseconds (server-side clock), drop it after
# recording its size.
build() {
	local name=$1 def=$2
	"${psql[@]}" -At <<SQL
SET maintenance_work_mem = '$mwm';
SET client_min_messages = warning;
DROP INDEX IF EXISTS $name;
CHECKPOINT;
SELECT clock_timestamp() AS t0 \gset
$def;
SELECT round(extract(epoch FROM clock_timestamp() - :'t0') * 1000) || ' ' || pg_relation_size('$name');
DROP INDEX $name;
SQL
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

for kind in btree vdb_ivf; do
	times=()
	for ((i = 0; i < runs; i++)); do
		if [ $kind = btree ]; then
			out=$(build fmnist_btree "CREATE INDEX fmnist_btree ON fmnist (id)")
		else
			out=$(build fmnist_ivf "CREATE INDEX fmnist_ivf ON fmnist USING vdb_ivf (v)")
		fi
		times+=("${out% *}")
		size=${out#* }
	done
	med=$(printf '%s\n' "${times[@]}" | median)
	printf '%-8s build ms: %s  median %s  size %s bytes (%s MB)\n' $kind "${times[*]}" "$med" \
		"$size" $((size / 1048576))
	eval "med_$kind=$med"
done
awk -v a="$med_vdb_ivf" -v b="$med_btree" 'BEGIN {printf "vdb_ivf / btree build time: %.1f x\n", a / b}'
