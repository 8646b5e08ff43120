#!/usr/bin/env bash
# The long concurrency soak (issue 7): TAP 072's load and checks, for as
# long as asked.
#
#   test/bench/soak.sh [seconds [clients]]     # default 600 s, 5 clients
#
# Runs test/t/072_soak.pl through scripts/test.sh (a private PostgreSQL;
# as root, on a copy of the tree as the user vdbtest) with
# VDB_SOAK_SECONDS and VDB_SOAK_CLIENTS, then writes the figures (rows,
# transactions by kind, serialization failures, seals, merges, rebuilds)
# to test/bench/results/<date>-soak-<seconds>s.md and prints them.  The
# checks are the test's: only serialization failures, no deadlock, the
# table equal to its ledger, searches probing every list exact, vdb_check
# clean, every segment sealed after a final vdb_seal.  Exits with the
# test run's status.
#
# The load inserts about 2,500 rows a second here and deletes as many, so
# until dropped index pages are reused the index files grow by roughly
# 1 GB an hour; keep the run within the disk you have.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:-600}
clients=${2:-5}
case "$seconds$clients" in
	*[!0-9]*)
		echo "usage: $0 [seconds [clients]]" >&2
		exit 2
		;;
esac

# The test runs as another user when started as root: a directory it can
# write its report into.
tmp=$(mktemp -d /tmp/vdb-soak.XXXXXX)
chmod 777 "$tmp"
trap 'rm -rf "$tmp"' EXIT

started=$(date -u '+%Y-%m-%d %H:%M UTC')
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
rc=0
VDB_SOAK_SECONDS=$seconds VDB_SOAK_CLIENTS=$clients VDB_SOAK_REPORT="$tmp/report" \
	VDB_TAP=test/t/072_soak.pl "$top/scripts/test.sh" tap || rc=$?

out="$top/test/bench/results/$(date -u +%Y-%m-%d)-soak-${seconds}s.md"
mkdir -p "$(dirname "$out")"
{
	echo "# Concurrency soak, $seconds s"
	echo
	echo "Started $started on $(nproc) cores, load average $load_before before and" \
		"$(cut -d' ' -f1-3 /proc/loadavg) after; test/t/072_soak.pl exited with $rc" \
		"($([ $rc -eq 0 ] && echo 'every check passed' || echo 'a check FAILED: see its output'))."
	echo
	echo '```'
	if [ -s "$tmp/report" ]; then
		cat "$tmp/report"
	else
		echo "(the test wrote no figures: it stopped before the end of the load)"
	fi
	echo '```'
} >"$out"
cat "$out"
echo "written to $out"
exit $rc
