# netns.sh - sourced by demo.sh (and by the VM topology test,
# tests/vm/netns_topology.sh): the demo's regions as real network distance,
# where the kernel has the netem qdisc.
#
#   one network namespace per region, tw-demo-<ID>-<region>, joined to the
#   host by a veth pair: host side twd<ID>h<N> 10.<B>.<N>.1/24, namespace
#   side twd<ID>n<N> 10.<B>.<N>.2/24, default route via the host side
#   (N = 1, 2, 3... in region order; B = 64..127 from ID, or $DEMO_NET_BASE)
#
#   one service address 10.<B>.0.1/32 on the host's lo: the endpoints and
#   the collector's ingest listen there; every namespace reaches it through
#   its own veth (the host owns the address, so no forwarding is needed)
#
#   netem on BOTH ends of each veth: `delay D` on each, so a round trip
#   costs 2 x D (the same one-way meaning the relay mode gives D); the
#   region's loss L% only on the namespace end, i.e. on the packets the
#   region sends (SYNs, ClientHellos, requests). A lost packet is
#   retransmitted by TCP: on this path loss shows as a slow connection
#   (1 s SYN retransmission), rarely as a failure.
#
# ID names one demo's network: demo.sh derives it from its var/ directory,
# so a second run of the same demo removes what a killed first run left
# (netns_down), and two demos with their own var/ never touch each other.
# Needs root, ip and tc (iproute2).
#
# Functions (each sets NETNS_ERR to what went wrong when it returns 1):
#   netns_id DIR                 prints the 6-hex-digit ID for DIR
#   netns_check                  0 when namespaces, veth and netem work here
#   netns_base ID                prints "10.B" for ID
#   netns_name ID REGION         prints the namespace's name
#   netns_service_addr ID        prints 10.B.0.1
#   netns_up ID "NAME:DELAY_MS:LOSS_PCT ..."
#   netns_down ID                removes every namespace, veth and address of
#                                ID; prints what it removed, one per line

NETNS_ERR=""

netns_id() {
	_c=$(printf '%s' "$1" | cksum | cut -d' ' -f1)
	printf '%06x\n' $((_c % 16777216))
}

netns_base() {
	if [ -n "${DEMO_NET_BASE:-}" ]; then
		echo "$DEMO_NET_BASE"
	else
		echo "10.$((64 + 0x$1 % 64))"
	fi
}

netns_name() { echo "tw-demo-$1-$2"; }
netns_service_addr() { echo "$(netns_base "$1").0.1"; }

# A throwaway namespace (unshare -n) with a veth pair and netem on one end:
# everything netns_up needs, nothing left behind.
netns_check() {
	NETNS_ERR=""
	if [ "$(id -u)" != 0 ]; then NETNS_ERR="needs root"; return 1; fi
	for _t in ip tc unshare; do
		command -v $_t >/dev/null 2>&1 || { NETNS_ERR="$_t not found (iproute2, util-linux)"; return 1; }
	done
	_out=$(unshare -n sh -c 'ip link set lo up &&
		ip link add twchk0 type veth peer name twchk1 &&
		tc qdisc add dev twchk0 root netem delay 1ms' 2>&1) && return 0
	case $_out in
	*"qdisc kind is unknown"*) NETNS_ERR="this kernel has no netem qdisc (tc: $_out)" ;;
	*) NETNS_ERR="no network namespace with veth and netem here: $_out" ;;
	esac
	return 1
}

# netns_run CMD...: runs one setup command; on failure remembers it.
netns_run() {
	_o=$("$@" 2>&1) && return 0
	NETNS_ERR="'$*' failed: $_o"
	return 1
}

netns_up() { # ID REGIONS
	_id=$1
	_b=$(netns_base "$_id")
	_sa=$(netns_service_addr "$_id")
	NETNS_ERR=""
	case $_b in
	10.[0-9]*) ;;
	*) NETNS_ERR="DEMO_NET_BASE wants the first two octets of a 10.x network (like 10.99), not \"$_b\""; return 1 ;;
	esac
	netns_run ip link set lo up || return 1
	if ! ip -4 addr show dev lo | grep -q "inet $_sa/32"; then
		netns_run ip addr add "$_sa/32" dev lo || return 1
	fi
	_i=0
	for _r in $2; do
		_i=$((_i + 1))
		IFS=: read -r _rn _rd _rl <<EOF
$_r
EOF
		_ns=$(netns_name "$_id" "$_rn")
		_h=twd${_id}h$_i
		_n=twd${_id}n$_i
		netns_run ip netns add "$_ns" &&
			netns_run ip link add "$_h" type veth peer name "$_n" &&
			netns_run ip link set "$_n" netns "$_ns" &&
			netns_run ip addr add "$_b.$_i.1/24" dev "$_h" &&
			netns_run ip link set "$_h" up &&
			netns_run ip -n "$_ns" link set lo up &&
			netns_run ip -n "$_ns" addr add "$_b.$_i.2/24" dev "$_n" &&
			netns_run ip -n "$_ns" link set "$_n" up &&
			netns_run ip -n "$_ns" route add default via "$_b.$_i.1" &&
			netns_run tc qdisc add dev "$_h" root netem delay "${_rd}ms" limit 10000 || return 1
		if [ "${_rl:-0}" = 0 ]; then
			netns_run ip netns exec "$_ns" tc qdisc add dev "$_n" root netem delay "${_rd}ms" limit 10000 || return 1
		else
			netns_run ip netns exec "$_ns" tc qdisc add dev "$_n" root netem delay "${_rd}ms" \
				loss "${_rl}%" limit 10000 || return 1
		fi
	done
	return 0
}

netns_down() { # ID
	_id=$1
	_sa=$(netns_service_addr "$_id")
	for _ns in $(ip netns list 2>/dev/null | sed -n "s/^\(tw-demo-$_id-[A-Za-z0-9_.-]*\).*/\1/p"); do
		# a process still inside keeps the namespace alive: the caller
		# stops its processes first, by PID
		ip netns delete "$_ns" 2>/dev/null && echo "namespace $_ns"
	done
	for _l in $(ip -o link show 2>/dev/null | sed -n "s/^[0-9]*: \(twd${_id}[hn][0-9]*\)[@:].*/\1/p"); do
		ip link delete "$_l" 2>/dev/null && echo "veth $_l"
	done
	if ip -4 addr show dev lo 2>/dev/null | grep -q "inet $_sa/32"; then
		ip addr del "$_sa/32" dev lo 2>/dev/null && echo "address $_sa on lo"
	fi
	return 0
}
