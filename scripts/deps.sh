#!/bin/sh
# Installs the Debian packages tlswatch needs, only those that are missing.
# Used by `make deps`, which `make test` and `make demo` run first.
set -eu

PKGS="build-essential pkg-config libssl-dev openssl libevent-dev libpq-dev
libprotobuf-c-dev protobuf-c-compiler libcriterion-dev libjansson-dev
libyaml-dev libcurl4-openssl-dev postgresql nginx testssl.sh
prometheus-blackbox-exporter prometheus-alertmanager prometheus python3 python3-yaml procps iproute2 util-linux
systemd binutils libcairo2-dev poppler-utils chromium fonts-dejavu-core python3-aiosmtpd"
# npm (the Kubernetes manifest schema check): where Node.js came with its own
# npm, use that one; only where there is none, take Debian's.
command -v npm >/dev/null 2>&1 || PKGS="$PKGS npm"
PKGS="$PKGS python3-jsonschema"  # the API test validates live responses against collector/openapi.json
PKGS="$PKGS qemu-system-x86 busybox-static"  # make test-netns: a VM with a netem kernel (tests/vm/)

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	echo "deps: all packages present"
	exit 0
fi

echo "deps: installing:$missing"
SUDO=""
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
		echo "deps: not root and no sudo; install as root:$missing" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
# The nginx package starts a system nginx on port 80; tests run their own
# on loopback ports, so leave the system one stopped if it started.
if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now nginx >/dev/null 2>&1 || true; fi
