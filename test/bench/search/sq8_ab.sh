#!/usr/bin/env bash
# Run sq8_ab.py (sealed format A/B), or BENCH_SCRIPT (e.g. pgv_ab.py), against
# a private server, as run.sh does.
set -euo pipefail

top=$(cd "$(dirname "$0")/../../.." && pwd)
dir=${BENCH_DIR:-/tmp/vdb-bench-sq8}
port=${BENCH_PORT:-54339}
. "$top/test/bench/server.sh"

bench_server_start
trap bench_server_stop EXIT

as_user env PGHOST="$dir" PGPORT="$port" PGDATABASE=postgres \
	/usr/bin/python3 "$top/test/bench/search/${BENCH_SCRIPT:-sq8_ab.py}" "$@"
