#!/bin/sh
# Fixture for build/tests/test_probe_daemon: two loopback TLS targets
# (openssl s_server) and the stream PKI (mkpki-pipeline.sh). The C test runs
# its own collector stand-in (tests/harness/standin.c), compiles the
# slow-fsync shim (tests/harness/preload/slow_fsync.c) and starts the probe.
#
# Exports: TW_PIPE (stream PKI; the targets serve collector.pem too),
# TW_PORT_T1, TW_PORT_T2.
set -u
bin=${1:?usage: test_probe_daemon.sh TEST_BINARY [ARGS...]}
shift
here=$(cd "$(dirname "$0")/../harness" && pwd)
. "$here/fixtures.sh"

tw_init
tw_alloc_ports T1 T2
sh "$here/mkpki-pipeline.sh" "$TW_WORK/pipe" >/dev/null || tw_die "mkpki-pipeline.sh failed"
for p in "$T1" "$T2"; do
	tw_start "target-$p" "$p" openssl s_server -accept "127.0.0.1:$p" -www -quiet \
		-no-CAfile -no-CApath -no-CAstore \
		-cert "$TW_WORK/pipe/collector.pem" -key "$TW_WORK/pipe/collector.key"
done
tw_wait_ports 20

export TW_PIPE="$TW_WORK/pipe" TW_BUILD="${TW_BUILD:-build}"
export TW_PORT_T1="$T1" TW_PORT_T2="$T2"
# one at a time: the timing test wants the machine to itself
tw_run_watched 300 "$bin" --jobs 1 "$@"
