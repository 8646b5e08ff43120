#!/usr/bin/env bash
# Set vdb up and show it working, from nothing:
#   installs the build dependencies (Debian 12 packages), builds and installs
#   vdb into the system's PostgreSQL 15, starts a throwaway cluster in a
#   temporary directory (as an unprivileged user when run as root), loads
#   Fashion-MNIST (60,000 x 784) into a vdb table with a vdb_ivf index, waits
#   for sealing while showing segment states, runs example queries and prints
#   recall@10 against exact search.  The cluster is removed at the end.
#
#   scripts/demo.sh [--rows N] [--keep]
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
rows=60000
keep=""
while [ $# -gt 0 ]; do
	case "$1" in
		--rows) rows=$2; shift 2 ;;
		--keep) keep=1; shift ;;
		*) echo "usage: $0 [--rows N] [--keep]" >&2; exit 2 ;;
	esac
done

"$top/scripts/deps.sh"

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "== building and installing vdb"
make -s -C "$top" -j2
$sudo make -s -C "$top" install >/dev/null

# The server must not run as root: use an unprivileged user for the cluster.
run_as=()
if [ "$(id -u)" -eq 0 ]; then
	user=${VDB_TEST_USER:-vdbtest}
	id "$user" >/dev/null 2>&1 || useradd --system --create-home --shell /bin/bash "$user"
	run_as=(runuser -u "$user" --)
fi

bindir=$(pg_config --bindir)
dir=$(mktemp -d /tmp/vdb-demo.XXXXXX)
[ ${#run_as[@]} -gt 0 ] && chown "$user" "$dir"
port=$(( 20000 + RANDOM % 20000 ))
cleanup() {
	"${run_as[@]}" "$bindir/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
	if [ -z "$keep" ]; then rm -rf "$dir"; else echo "cluster kept in $dir (port $port)"; fi
}
trap cleanup EXIT

echo "== starting a throwaway cluster in $dir (port $port)"
"${run_as[@]}" "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust >/dev/null
"${run_as[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
	-o "-p $port -k $dir -c listen_addresses='' -c shared_buffers=1GB -c maintenance_work_mem=1GB" \
	start >/dev/null

# Debian's python3 (python3-numpy, python3-psycopg2), whatever else is on PATH.
PGHOST=$dir PGPORT=$port PGUSER=postgres PGDATABASE=postgres \
	/usr/bin/python3 "$top/scripts/demo.py" --rows "$rows"
