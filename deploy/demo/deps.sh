#!/bin/sh
# deps.sh - installs the Debian packages `make demo` needs, only those
# missing: the build (compiler, the libraries' -dev packages), the demo's
# servers (PostgreSQL, nginx, openssl) and its small tools (python3 for the
# webhook receiver, curl for the API lines it prints). Everything the tests
# and benchmarks need on top is scripts/deps.sh's job (`make deps`).
set -eu

PKGS="build-essential pkg-config libssl-dev openssl libevent-dev libpq-dev
libprotobuf-c-dev protobuf-c-compiler libjansson-dev libyaml-dev
libcurl4-openssl-dev libcairo2-dev postgresql nginx python3 curl procps util-linux iproute2"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "demo: installing:$missing"
SUDO=""
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
		echo "demo: not root and no sudo; install as root:$missing" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null
# the nginx package starts a system nginx on port 80; the demo runs its own
if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now nginx >/dev/null 2>&1 || true; fi
