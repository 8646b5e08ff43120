#!/usr/bin/env bash
# Run the whole vdb test suite: a warning-free build, a private install of
# PostgreSQL 15 plus vdb (nothing system-wide is touched), the C unit tests,
# the pg_regress suite on a temporary instance and the TAP tests.
#
#   scripts/test.sh            everything
#   scripts/test.sh regress    only pg_regress (also: unit, fuzz, tap)
#   VDB_TAP="test/t/010_x.pl"  limits the TAP run to those files
#
# As root (as in CI) it installs the build dependencies, then runs the suite
# as an unprivileged user on a private copy of the tree, because initdb
# refuses to run as root.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
what=${1:-all}

if [ -z "${VDB_SKIP_DEPS:-}" ]; then
	"$top/scripts/deps.sh"
fi

if [ "$(id -u)" -eq 0 ]; then
	user=${VDB_TEST_USER:-vdbtest}
	id "$user" >/dev/null 2>&1 || useradd --system --create-home --shell /bin/bash "$user"
	work=$(mktemp -d /tmp/vdb-test.XXXXXX)
	tar -C "$top" --exclude=./tmp_install --exclude=./tmp_check --exclude=./results \
		--exclude='*.o' --exclude='*.so' --exclude='*.bc' -cf - . | tar -C "$work" -xf -
	chown -R "$user" "$work"
	chmod 755 "$work"
	rc=0
	runuser -u "$user" -- env PATH="$PATH" VDB_SKIP_DEPS=1 ${VDB_TAP:+VDB_TAP="$VDB_TAP"} \
		"$work/scripts/test.sh" "$what" || rc=$?
	if [ $rc -ne 0 ]; then
		echo "test output kept in $work"
	else
		rm -rf "$work"
	fi
	exit $rc
fi

cd "$top"
passed=0
failed=0
failures=()

# Record one step's outcome and keep going, so one report shows everything.
step() {
	local name=$1
	shift
	echo "== $name"
	if "$@"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		failures+=("$name")
	fi
}

# 1. Build, treating any compiler warning as an error.
echo "== build"
make -s -j2 COPT=-Werror

# 2. A private PostgreSQL tree (PostgreSQL is relocatable) with vdb in it.
pg_bindir=$(pg_config --bindir)
pg_root=$(dirname "$pg_bindir")            # e.g. /usr/lib/postgresql/15
pg_share=$(pg_config --sharedir)           # e.g. /usr/share/postgresql/15
inst="$top/tmp_install"
if [ ! -x "$inst$pg_bindir/postgres" ]; then
	rm -rf "$inst"
	mkdir -p "$inst$(dirname "$pg_root")" "$inst$(dirname "$pg_share")"
	cp -a "$pg_root" "$inst$(dirname "$pg_root")/"
	cp -a "$pg_share" "$inst$(dirname "$pg_share")/"
fi
make -s install DESTDIR="$inst" >/dev/null
export PATH="$inst$pg_bindir:$PATH"
pgxs_dir=$(dirname "$(dirname "$(pg_config --pgxs)")")   # .../lib/pgxs/src
export PG_REGRESS="$pgxs_dir/test/regress/pg_regress"

# 3. C unit tests (no server needed).
if [ "$what" = all ] || [ "$what" = unit ]; then
	if [ -f test/unit/Makefile ]; then
		step "unit tests" make -s -C test/unit check
	fi
fi

# 3b. Fuzz the vector text parser and binary decoder for a bounded time.
if [ "$what" = all ] || [ "$what" = fuzz ]; then
	step "fuzz (vector parser)" make -s -C test/fuzz run FUZZ_SECONDS="${VDB_FUZZ_SECONDS:-20}"
fi

# 4. pg_regress on a temporary instance.
if [ "$what" = all ] || [ "$what" = regress ]; then
	tests=$(make -s print-regress)
	if [ -n "$tests" ]; then
		step "pg_regress" "$PG_REGRESS" --temp-instance=tmp_check --bindir="$inst$pg_bindir" \
			--inputdir=. --load-extension=vdb --temp-config=test/regress.conf $tests
	fi
fi

# 5. TAP tests; each starts its own clusters.
if [ "$what" = all ] || [ "$what" = tap ]; then
	tap=${VDB_TAP:-$(ls test/t/*.pl 2>/dev/null || true)}
	if [ -n "$tap" ]; then
		step "TAP" env TESTDIR="$top" PG_TEST_TIMEOUT_DEFAULT=300 \
			prove -I "$pgxs_dir/test/perl" -I test/perl $tap
	fi
fi

echo
[ ${#failures[@]} -gt 0 ] && echo "failed steps: ${failures[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
