#!/usr/bin/env bash
# Start a private PostgreSQL 15 with vdb installed (nothing system-wide), run
# bench.py against it, stop it.  Usage: test/bench/search/run.sh [bench.py args]
#
# As root it runs the server as the unprivileged user $VDB_TEST_USER (default
# vdbtest, as scripts/test.sh does).  BENCH_DIR (default /tmp/vdb-bench) holds
# the install and the data directory; remove it when done.
set -euo pipefail

top=$(cd "$(dirname "$0")/../../.." && pwd)
dir=${BENCH_DIR:-/tmp/vdb-bench}
port=${BENCH_PORT:-54329}
user=${VDB_TEST_USER:-vdbtest}

pg_bindir=$(pg_config --bindir)
pg_root=$(dirname "$pg_bindir")
pg_share=$(pg_config --sharedir)
inst="$dir/install"

mkdir -p "$dir"
make -s -C "$top" -j2 >/dev/null
rm -rf "$inst"
mkdir -p "$inst$(dirname "$pg_root")" "$inst$(dirname "$pg_share")"
cp -a "$pg_root" "$inst$(dirname "$pg_root")/"
cp -a "$pg_share" "$inst$(dirname "$pg_share")/"
make -s -C "$top" install DESTDIR="$inst" >/dev/null
bin="$inst$pg_bindir"

as_user() {
	if [ "$(id -u)" -eq 0 ]; then
		id "$user" >/dev/null 2>&1 || useradd --system --create-home --shell /bin/bash "$user"
		runuser -u "$user" -- "$@"
	else
		"$@"
	fi
}

if [ "$(id -u)" -eq 0 ]; then chown -R "$user" "$dir"; fi
if [ ! -d "$dir/data" ]; then
	as_user "$bin/initdb" -D "$dir/data" -A trust >/dev/null
	cat >>"$dir/data/postgresql.conf" <<CONF
shared_buffers = 2GB
maintenance_work_mem = 1GB
max_parallel_workers_per_gather = 0
jit = off
listen_addresses = ''
unix_socket_directories = '$dir'
port = $port
CONF
fi
as_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
trap 'as_user "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null' EXIT

as_user env PGHOST="$dir" PGPORT="$port" PGDATABASE=postgres \
	/usr/bin/python3 "$top/test/bench/search/bench.py" "$@"
