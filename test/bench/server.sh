# Sourced by the benchmark runners: a private PostgreSQL 15 with vdb
# installed under $dir (a copy of the system's PostgreSQL tree plus "make
# install" into it, so nothing system-wide changes), its own data directory,
# shared_buffers 2GB, a Unix socket in $dir and no TCP.  As root the server
# runs as the unprivileged user $VDB_TEST_USER (default vdbtest), as
# scripts/test.sh does.
#
# Needs: top (the source tree), dir (work directory), port.
# Provides: as_user CMD..., bench_server_start, bench_server_stop, bin, and
# for the suites bench_deps PACKAGE... and bench_suite SCRIPT ARGS...

user=${VDB_TEST_USER:-vdbtest}

# Run a command as the server's user.
as_user() {
	if [ "$(id -u)" -eq 0 ]; then
		id "$user" >/dev/null 2>&1 || useradd --system --create-home --shell /bin/bash "$user"
		runuser -u "$user" -- "$@"
	else
		"$@"
	fi
}

# Build vdb, install it into a private copy of PostgreSQL, initdb once, start.
bench_server_start() {
	local pg_bindir pg_root pg_share inst
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

	if [ "$(id -u)" -eq 0 ]; then
		id "$user" >/dev/null 2>&1 || useradd --system --create-home --shell /bin/bash "$user"
		chown -R "$user" "$dir"
	fi
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
}

# Stop the private server.
bench_server_stop() {
	as_user "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null
}

# Install the Debian packages a suite needs (python3-numpy and
# python3-psycopg2 always), and python3-faiss when the archive has it.
bench_deps() {
	local need=() p
	for p in python3-numpy python3-psycopg2 "$@"; do
		dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
	done
	if [ ${#need[@]} -gt 0 ]; then
		apt-get install -y --no-install-recommends "${need[@]}" >/dev/null
	fi
	if ! dpkg -s python3-faiss >/dev/null 2>&1; then
		apt-get install -y --no-install-recommends python3-faiss >/dev/null 2>&1 ||
			echo "python3-faiss not installable: the FAISS baseline is skipped" >&2
	fi
}

# Run a suite script (test/bench/SCRIPT --out DIR ARGS...) against a fresh
# private server, copy what it wrote to test/bench/results/, and exit with
# its status.  FAISS and numpy get one BLAS thread, like the one backend
# that serves a query.
bench_suite() {
	local script=$1 out commit status=0
	shift
	rm -rf "$dir"
	bench_server_start
	out="$dir/out"
	mkdir -p "$out"
	[ "$(id -u)" -eq 0 ] && chown "$user" "$out"
	trap 'bench_server_stop || true; [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$dir"' EXIT
	commit=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo "?")
	git -C "$top" diff --quiet HEAD 2>/dev/null || commit="$commit+changes"
	as_user env VDB_BENCH_COMMIT="$commit" PGHOST="$dir" PGPORT="$port" PGDATABASE=postgres \
		PYTHONDONTWRITEBYTECODE=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
		/usr/bin/python3 "$top/test/bench/$script" --out "$out" "$@" || status=$?
	mkdir -p "$top/test/bench/results"
	cp "$out"/* "$top/test/bench/results/" 2>/dev/null || true
	exit $status
}
