#!/bin/sh
# deps.sh - install the Debian packages qun needs to build and test, or say how.
#
# Usage: scripts/deps.sh [build|check]
#   build: what `make` and `make run` need; check: also what `make check` needs.
# As root, missing packages are installed with apt-get (after apt-get update);
# otherwise the exact apt-get line is printed and the script fails.
set -eu

build_pkgs="make gcc pkg-config libsodium-dev libedit-dev libicu-dev libsqlite3-dev"
# clang + libclang-rt-14-dev: libFuzzer and the sanitizer runtimes for clang (only a
# Recommends of clang on bookworm, so named here); cppcheck and clang-tidy: `make lint`;
# valgrind: `make valgrind-check`; python3-pytest-timeout: the deadline of every black-box
# test (pytest.ini).
check_pkgs="$build_pkgs clang-format libcmocka-dev python3 python3-pytest python3-pytest-timeout \
python3-pexpect procps iproute2 nftables clang libclang-rt-14-dev cppcheck clang-tidy valgrind tmux"

case "${1:-build}" in
build) want=$build_pkgs ;;
check) want=$check_pkgs ;;
*) echo "usage: $0 [build|check]" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "qun needs these Debian packages:$missing" >&2
	echo "install them with:  sudo apt-get update && sudo apt-get install -y$missing" >&2
	exit 1
fi
echo "installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q </dev/null
apt-get install -y -q --no-install-recommends $missing </dev/null
