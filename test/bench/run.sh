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
results="$top/test/bench/results"
py=/usr/bin/python3

# Dependencies: Debian packages only.
need=()
for p in python3-numpy python3-psycopg2 python3-matplotlib dataset-fashion-mnist; do
	dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
	apt-get install -y --no-install-recommends "${need[@]}" >/dev/null
fi
if ! dpkg -s python3-faiss >/dev/null 2>&1; then
	apt-get install -y --no-install-recommends python3-faiss >/dev/null 2>&1 ||
		echo "python3-faiss not installable: the FAISS baseline is skipped" >&2
fi

. "$top/test/bench/server.sh"
rm -rf "$dir"
bench_server_start
out="$dir/out"
mkdir -p "$out"
[ "$(id -u)" -eq 0 ] && chown "$user" "$out"
cleanup() {
	bench_server_stop || true
	if [ "${BENCH_KEEP:-0}" != 1 ]; then rm -rf "$dir"; fi
}
trap cleanup EXIT

commit=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo "?")
git -C "$top" diff --quiet HEAD 2>/dev/null || commit="$commit+changes"
status=0
as_user env VDB_BENCH_COMMIT="$commit" PGHOST="$dir" PGPORT="$port" PGDATABASE=postgres PYTHONDONTWRITEBYTECODE=1 \
	"$py" "$top/test/bench/suite.py" --out "$out" "$@" || status=$?
mkdir -p "$results"
cp "$out"/* "$results"/ 2>/dev/null || true
exit $status
