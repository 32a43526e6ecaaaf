#!/bin/sh
# test-netns.sh - `make test-netns`, run inside the VM (tests/vm/run-in-vm.sh)
# because this machine's kernel has no netem qdisc:
#   1. the demo's namespace network alone (tests/vm/netns_topology.sh)
#   2. the demo itself, bounded, in namespace mode: tests/integration/
#      test_demo.sh with DEMO_NET=netns, the tests that hold on a slow CPU:
#      latency per region from the API above each region's round trip (and,
#      on KVM, ordered us-east < eu-west < ap-south by the configured
#      distances; an emulated CPU's own tail hides that order, test_demo.c
#      says why), the api outage as connect_refused from
#      every region, the stop (mode line, report, namespaces removed).
#      Where the guest is emulated (TCG: no working KVM) it watches www and
#      api only (DEMO_ENDPOINTS): the full set times out its handshakes on
#      an emulated CPU. TW_NETNS_DEMO=0 skips it.
# Closing line: "test-netns: N passed, M failed".
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
B=${TW_BUILD:-build}
passed=0
failed=0

echo "=== netns topology (guest kernel $(uname -r))"
sh tests/vm/netns_topology.sh >/tmp/netns-topology.out 2>&1
cat /tmp/netns-topology.out
line=$(grep '^netns topology: ' /tmp/netns-topology.out | tail -1)
p=$(echo "$line" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed/\1/p')
f=$(echo "$line" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed/\2/p')
passed=$((passed + ${p:-0}))
failed=$((failed + ${f:-1}))

if [ "${TW_NETNS_DEMO:-1}" != 0 ]; then
	echo "=== the demo with DEMO_NET=netns (test_demo)"
	if [ "${TW_VM_ACCEL:-}" = kvm ]; then
		echo "(KVM: every endpoint, every test_demo test)"
		DEMO_NET=netns TW_BUILD=$B sh tests/integration/test_demo.sh "$B/tests/test_demo" \
			>/tmp/netns-demo.out 2>&1
	else
		echo "(emulated CPU (${TW_VM_ACCEL:-?}): endpoints www and api, the tests that hold on it)"
		DEMO_NET=netns DEMO_ENDPOINTS="www:none api:outage" TW_BUILD=$B \
			sh tests/integration/test_demo.sh "$B/tests/test_demo" \
			--verbose --filter 'demo/@(latency_p95_per_region_from_the_api|outage_is_connect_refused_from_every_region|stops_with_a_summary_and_a_report)' \
			>/tmp/netns-demo.out 2>&1
	fi
	rc=$?
	cat /tmp/netns-demo.out
	syn=$(grep 'Synthesis:' /tmp/netns-demo.out | tail -1)
	p=$(echo "$syn" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p')
	t=$(echo "$syn" | sed -n 's/.*Tested: \([0-9]*\).*/\1/p')
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${t:-1} - ${p:-0}))
	# the fixture's own checks (the demo's exit status) count once more
	[ "$rc" -eq 0 ] || [ "${t:-1}" -ne "${p:-0}" ] || failed=$((failed + 1))
	left=$(ip netns list | grep -c '^tw-demo-')
	if [ "$left" -eq 0 ]; then
		echo "ok   no tw-demo-* namespace left after the demo"
		passed=$((passed + 1))
	else
		echo "FAIL $left tw-demo-* namespaces left after the demo: $(ip netns list | tr '\n' ' ')"
		failed=$((failed + 1))
	fi
fi
echo "test-netns: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
