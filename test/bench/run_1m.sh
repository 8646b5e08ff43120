#!/usr/bin/env bash
# The 1M-row benchmark suite (issue 6): a seeded synthetic clustered set of
# 1M x 128 on a private PostgreSQL 15 with vdb (see server.sh); under an
# hour on 2 cores, most of it FAISS's training.
#
#   test/bench/run_1m.sh         # writes test/bench/results/<date>-1m.md
#
# Installs its Debian dependencies first (python3-numpy, python3-psycopg2;
# python3-faiss if available).  pgvector's IVFFlat runs in the same server
# when pgvector is installed (never fetched or built here).  Exits 1 when an
# issue-6 target is missed, 2 when the suite itself failed.  BENCH_DIR
# (default /tmp/vdb-bench-1m) is removed at the end unless BENCH_KEEP=1.
# Extra arguments go to suite_1m.py (see suite_1m.py --help).
set -Eeuo pipefail
trap 'exit 2' ERR

top=$(cd "$(dirname "$0")/../.." && pwd)
dir=${BENCH_DIR:-/tmp/vdb-bench-1m}
port=${BENCH_PORT:-54332}
results="$top/test/bench/results"
py=/usr/bin/python3

need=()
for p in python3-numpy python3-psycopg2; do
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
# One thread for FAISS and its BLAS, like the server's one backend.
as_user env VDB_BENCH_COMMIT="$commit" PGHOST="$dir" PGPORT="$port" PGDATABASE=postgres \
	PYTHONDONTWRITEBYTECODE=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
	"$py" "$top/test/bench/suite_1m.py" --out "$out" "$@" || status=$?
mkdir -p "$results"
cp "$out"/* "$results"/ 2>/dev/null || true
exit $status
