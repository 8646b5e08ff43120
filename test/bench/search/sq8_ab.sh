#!/usr/bin/env bash
# run.sh with sq8_ab.py (sealed format A/B) by default, or BENCH_SCRIPT (e.g.
# pgv_ab.py), on a server of its own.
top=$(cd "$(dirname "$0")/../../.." && pwd)
BENCH_SCRIPT=${BENCH_SCRIPT:-sq8_ab.py} BENCH_DIR=${BENCH_DIR:-/tmp/vdb-bench-sq8} \
	BENCH_PORT=${BENCH_PORT:-54339} exec "$top/test/bench/search/run.sh" "$@"
