#!/usr/bin/env bash
# Install what vdb needs to build and test, from Debian 12's packages.
# Runs apt-get only when something is missing; uses sudo when not root.
set -euo pipefail

packages=(
	build-essential
	postgresql-15
	postgresql-server-dev-15
	postgresql-contrib
	libopenblas-serial-dev
	libipc-run-perl
	python3
	python3-numpy
	python3-psycopg2
	dataset-fashion-mnist
	valgrind
	clang
	libclang-rt-14-dev
	nodejs
	npm
)

missing=()
for p in "${packages[@]}"; do
	# node and npm may come from elsewhere (e.g. NodeSource): accept those.
	case "$p" in nodejs|npm) command -v "${p/nodejs/node}" >/dev/null && continue ;; esac
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# Debian's postgresql-common creates a "main" cluster on install; vdb never
# uses it (tests and the demo start their own), so don't create one.
if [ ! -e /etc/postgresql-common/createcluster.conf ] || ! grep -q '^create_main_cluster *= *false' /etc/postgresql-common/createcluster.conf; then
	$sudo mkdir -p /etc/postgresql-common/createcluster.d
	echo 'create_main_cluster = false' | $sudo tee /etc/postgresql-common/createcluster.d/vdb.conf >/dev/null
fi
$sudo apt-get install -y -qq "${missing[@]}" >/dev/null
