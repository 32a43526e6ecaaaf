#!/bin/sh
# netns_topology.sh - the demo's namespace network alone (deploy/demo/
# netns.sh, with the demo's own regions from deploy/demo/configs.sh), on a
# kernel with netem: run as root, inside the VM (tests/vm/test-netns.sh).
#
#   1. netns_check says this kernel can; netns_up makes one namespace per
#      region, a veth pair each, netem on both ends
#   2. from inside each namespace, TCP connect round trips follow the
#      configured one-way delays (2 x D), datagrams are lost only where
#      loss is configured, at about its rate (tests/vm/netns_measure.py)
#   3. netns_up again over a live network fails clearly; netns_down removes
#      every namespace, veth and address of the ID, and nothing of another
#      ID's network
# Prints one line per check and "netns topology: N passed, M failed".
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/deploy/demo/netns.sh"
. "$root/deploy/demo/configs.sh"
pass=0
fail=0
check() { # DESCRIPTION COMMAND...
	_d=$1
	shift
	if "$@"; then
		echo "ok   $_d"
		pass=$((pass + 1))
	else
		echo "FAIL $_d"
		fail=$((fail + 1))
	fi
}
finish() {
	echo "netns topology: $pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit $?
}
count_ours() { # ID: namespaces + veths + lo addresses of that ID
	_n=$(ip netns list | grep -c "^tw-demo-$1-")
	_l=$(ip -o link show | grep -c ": twd$1[hn]")
	_a=$(ip -4 addr show dev lo | grep -c "inet $(netns_service_addr "$1")/32")
	echo $((_n + _l + _a))
}

ID=$(netns_id "/tw-topology/$$")
OTHER=$(netns_id "/tw-topology-other/$$")
_i=0
while [ "$(netns_base "$OTHER")" = "$(netns_base "$ID")" ]; do
	_i=$((_i + 1))
	OTHER=$(netns_id "/tw-topology-other/$$/$_i")
done
check "netns_check: namespaces, veth and netem work here" netns_check
[ "$fail" = 0 ] || { echo "  $NETNS_ERR"; finish; }

check "netns_up $ID with the demo's regions ($DEMO_REGIONS)" netns_up "$ID" "$DEMO_REGIONS"
[ -n "$NETNS_ERR" ] && echo "  $NETNS_ERR"
n=$(echo $DEMO_REGIONS | wc -w)
# (the namespace end of each veth is inside its namespace)
check "a namespace and a veth per region + the service address: $((2 * n + 1)), found $(count_ours "$ID")" \
	[ "$(count_ours "$ID")" -eq $((2 * n + 1)) ]
# a second demo's network beside it (another ID, another subnet)
check "another demo's network (ID $OTHER) comes up beside it" netns_up "$OTHER" "solo:1:0"

SA=$(netns_service_addr "$ID")
specs=""
for r in $DEMO_REGIONS; do
	IFS=: read -r name delay loss <<EOF
$r
EOF
	specs="$specs $(netns_name "$ID" "$name"):$delay:$loss"
done
# shellcheck disable=SC2086
/usr/bin/python3 "$root/tests/vm/netns_measure.py" "$SA" $specs >"/tmp/netns-measure.$$" 2>&1
mrc=$?
cat "/tmp/netns-measure.$$"
pass=$((pass + $(grep -c '^ok ' "/tmp/netns-measure.$$")))
fail=$((fail + $(grep -c '^FAIL ' "/tmp/netns-measure.$$")))
[ "$mrc" -eq 0 ] || grep -q '^FAIL ' "/tmp/netns-measure.$$" || { echo "FAIL netns_measure.py exit $mrc"; fail=$((fail + 1)); }
rm -f "/tmp/netns-measure.$$"
echo "  (netem on the host end of $(netns_name "$ID" ap-south)'s veth:" \
	"$(tc qdisc show dev "twd${ID}h3" | head -1))"

check "netns_up over a live network fails and says why" sh -c ". '$root/deploy/demo/netns.sh'
	! netns_up '$ID' '$DEMO_REGIONS' && echo \"  \$NETNS_ERR\" && [ -n \"\$NETNS_ERR\" ]"
gone=$(netns_down "$ID")
echo "$gone" | sed 's/^/  removed: /'
check "netns_down $ID: nothing of it left (found $(count_ours "$ID"))" [ "$(count_ours "$ID")" -eq 0 ]
check "netns_down $ID left $OTHER's network alone" [ "$(count_ours "$OTHER")" -eq 3 ]
check "netns_down twice is harmless (prints nothing)" [ -z "$(netns_down "$ID")" ]
netns_down "$OTHER" >/dev/null
check "netns_down $OTHER: nothing of it left" [ "$(count_ours "$OTHER")" -eq 0 ]
finish
