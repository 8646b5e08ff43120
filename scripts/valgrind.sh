#!/usr/bin/env bash
# Run the pg_regress suite against a server running under valgrind memcheck.
# Meant for a PostgreSQL built with -DUSE_VALGRIND (and --enable-cassert),
# whose pg_config is first on PATH, e.g.:
#   PATH=/opt/pg15-cassert/bin:$PATH scripts/valgrind.sh [path/to/valgrind.supp]
# (src/tools/valgrind.supp of the PostgreSQL source tree).  Run it as a
# non-root user after `scripts/test.sh regress` has built tmp_install.
# Prints the memcheck errors found and exits non-zero if there are any.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
supp=${1:-}
pg_bindir=$(pg_config --bindir)
inst="$top/tmp_install"
bindir="$inst$pg_bindir"
[ -x "$bindir/postgres" ] || { echo "run scripts/test.sh regress first" >&2; exit 2; }
pgxs_dir=$(dirname "$(dirname "$(PATH=$bindir:$PATH pg_config --pgxs)")")

dir=$(mktemp -d /tmp/vdb-valgrind.XXXXXX)
port=$(( 30000 + RANDOM % 20000 ))
"$bindir/initdb" -D "$dir/data" --auth=trust >/dev/null
cat test/regress.conf >> "$dir/data/postgresql.conf"

valgrind --quiet --trace-children=yes --track-origins=yes --read-var-info=yes \
	--num-callers=30 --error-markers=VALGRINDERROR-BEGIN,VALGRINDERROR-END \
	${supp:+--suppressions="$supp"} --log-file="$dir/valgrind.%p.log" \
	"$bindir/postgres" -D "$dir/data" -p "$port" -k "$dir" -c listen_addresses='' \
	>"$dir/server.log" 2>&1 &
for _ in $(seq 120); do
	"$bindir/pg_isready" -h "$dir" -p "$port" -q && break
	sleep 1
done

rc=0
"$pgxs_dir/test/regress/pg_regress" --host="$dir" --port="$port" \
	--bindir="$bindir" --inputdir=. --dbname=vdb_valgrind \
	--load-extension=vdb $(make -s print-regress) || rc=$?
"$bindir/pg_ctl" -D "$dir/data" -m fast stop >/dev/null || true
sleep 2

errors=$(cat "$dir"/valgrind.*.log | grep -c VALGRINDERROR-BEGIN || true)
if [ "$errors" -gt 0 ]; then
	cat "$dir"/valgrind.*.log
	echo "valgrind: $errors error(s); logs in $dir"
	exit 1
fi
echo "valgrind: no errors (pg_regress exit $rc); logs in $dir"
exit $rc
