#!/usr/bin/env bash
# Start a private PostgreSQL 15 with vdb installed (nothing system-wide), run
# bench.py (or BENCH_SCRIPT, another script of this folder) against it, stop
# it.  Usage: test/bench/search/run.sh [script args]
#
# As root it runs the server as the unprivileged user $VDB_TEST_USER (default
# vdbtest, as scripts/test.sh does).  BENCH_DIR (default /tmp/vdb-bench) holds
# the install and the data directory; remove it when done.
set -euo pipefail

top=$(cd "$(dirname "$0")/../../.." && pwd)
dir=${BENCH_DIR:-/tmp/vdb-bench}
port=${BENCH_PORT:-54329}
. "$top/test/bench/server.sh"

bench_server_start
trap bench_server_stop EXIT

as_user env PGHOST="$dir" PGPORT="$port" PGDATABASE=postgres \
	/usr/bin/python3 "$top/test/bench/search/${BENCH_SCRIPT:-bench.py}" "$@"
