#!/usr/bin/env bash
# The standard benchmark suite (issue 6): Fashion-MNIST, 60k x 784, on a
# private PostgreSQL 15 with vdb (see server.sh), under 15 minutes on 2 cores.
#
#   test/bench/run.sh            # writes test/bench/results/<date>-standard.md + PNGs
#
# Installs its Debian dependencies first (python3-numpy, python3-psycopg2,
# python3-matplotlib, dataset-fashion-mnist; python3-faiss if available).
# Exits 1 when an issue-6 target is missed (the report and stdout list which),
# 2 when the suite itself failed.  BENCH_DIR (default /tmp/vdb-bench-suite)
# holds the install and data directory and is removed at the end unless
# BENCH_KEEP=1.  Extra arguments go to suite.py (see suite.py --help).
set -Eeuo pipefail
trap 'exit 2' ERR	# a failed step is a failed suite, not a missed target

top=$(cd "$(dirname "$0")/../.." && pwd)
dir=${BENCH_DIR:-/tmp/vdb-bench-suite}
port=${BENCH_PORT:-54331}

. "$top/test/bench/server.sh"
bench_deps python3-matplotlib dataset-fashion-mnist
bench_suite suite.py "$@"
