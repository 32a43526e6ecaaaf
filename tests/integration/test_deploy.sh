#!/bin/sh
# Fixture for build/tests/test_deploy: deploy/ as an operator uses it.
# No server runs; the test drives deploy/pki.sh, scripts/install.sh,
# systemd-analyze, systemd-sysusers/-tmpfiles, the Containerfile and
# manifest checkers (tests/integration/deploy/) and the daemons'
# --check-config, each in a temp dir under TW_WORK.
#
#   sh tests/integration/test_deploy.sh build/tests/test_deploy [CRITERION ARGS...]
#
# Exports TW_SRC (the repository), TW_BUILD (the binaries), TW_NODE_PREFIX
# (where the npm packages kubernetes-models and yaml are: the Kubernetes
# OpenAPI schemas as compiled validators, nothing fetched at run time).
# They are installed into $TW_BUILD/npm once, at pinned versions, when
# missing; TW_NODE_PREFIX may point at another install.
set -u
bin=${1:?usage: test_deploy.sh TEST_BINARY [ARGS...]}
shift
here=$(cd "$(dirname "$0")/../harness" && pwd)
. "$here/fixtures.sh"

tw_init
TW_SRC=$(cd "$here/../.." && pwd)
TW_BUILD=$(cd "${TW_BUILD:-build}" && pwd)
export TW_SRC TW_BUILD

K8S_MODELS=kubernetes-models@4.4.2
YAML_JS=yaml@2.9.1
if [ -z "${TW_NODE_PREFIX:-}" ]; then
	TW_NODE_PREFIX=$TW_BUILD/npm
	if [ ! -f "$TW_NODE_PREFIX/node_modules/kubernetes-models/package.json" ] ||
	   [ ! -f "$TW_NODE_PREFIX/node_modules/yaml/package.json" ]; then
		if command -v npm >/dev/null 2>&1; then
			mkdir -p "$TW_NODE_PREFIX"
			npm install --prefix "$TW_NODE_PREFIX" --no-audit --no-fund --no-save \
				--loglevel=error "$K8S_MODELS" "$YAML_JS" >"$TW_WORK/logs/npm.log" 2>&1 ||
				tw_log "npm install $K8S_MODELS $YAML_JS failed (the schema test will say so)"
		else
			tw_log "npm not found (the schema test will say so)"
		fi
	fi
fi
export TW_NODE_PREFIX

tw_run_watched 600 "$bin" "$@"
