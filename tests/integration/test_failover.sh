#!/bin/sh
# Fixture for build/tests/test_failover: a PostgreSQL primary with a
# streaming standby (pg_basebackup -R), synchronous (synchronous_standby_names
# = standby1, synchronous_commit = on: a commit returns once the standby has
# the WAL), four loopback TLS targets and the probe -> collector mTLS
# material. The C test kills the primary and promotes the standby itself.
#
# Exports: what test_soak.sh exports (TW_PG_CONNINFO names the primary),
# TW_PG_PORT (primary), TW_PG2_PORT (standby), TW_PG_KILL (primary: stop -m
# immediate) and TW_PG2_PROMOTE (pg_ctl promote of the standby).
set -u
bin=${1:?usage: test_failover.sh TEST_BINARY [ARGS...]}
shift
here=$(cd "$(dirname "$0")/../harness" && pwd)
. "$here/fixtures.sh"
. "$here/pg.sh"

tw_init
PKI=$TW_WORK/pki
tw_alloc_ports GOOD EXPIRED INCOMPLETE OTHER COLL HTTP PG PG2 OCSP DEAD
sh "$here/mkpki.sh" "$PKI" "$OCSP" "$DEAD" >/dev/null || tw_die "mkpki.sh failed"
sh "$here/mkpki-pipeline.sh" "$TW_WORK/pipe" || tw_die "mkpki-pipeline.sh failed"

srv() {  # NAME PORT LEAF [CHAIN|-]
	if [ "$4" = - ]; then
		tw_start "$1" "$2" openssl s_server -accept "127.0.0.1:$2" -www -quiet \
			-no-CAfile -no-CApath -no-CAstore -cert "$PKI/$3.pem" -key "$PKI/$3.key"
	else
		tw_start "$1" "$2" openssl s_server -accept "127.0.0.1:$2" -www -quiet \
			-no-CAfile -no-CApath -no-CAstore -cert "$PKI/$3.pem" -key "$PKI/$3.key" \
			-cert_chain "$PKI/$4.pem"
	fi
}
srv good       "$GOOD"       good    int
srv expired    "$EXPIRED"    expired int
srv incomplete "$INCOMPLETE" good    -
srv other      "$OTHER"      other   int

# the primary (pg.sh), then the standby from a base backup of it
tw_pg_start "$PG"
sd=$TW_WORK/pg/standby
$TW_PG_AS "$TW_PGBIN/pg_basebackup" -h 127.0.0.1 -p "$PG" -U postgres -D "$sd" -R -X stream \
	>"$TW_WORK/logs/basebackup.log" 2>&1 || { cat "$TW_WORK/logs/basebackup.log" >&2; tw_die "pg_basebackup failed"; }
cat >>"$sd/postgresql.conf" <<EOF2
port = $PG2
cluster_name = 'standby1'
EOF2
: >"$TW_WORK/logs/standby.log"
[ -n "$TW_PG_AS" ] && chown postgres "$TW_WORK/logs/standby.log"
tw_on_exit "$TW_PG_AS $TW_PGBIN/pg_ctl -D $sd -m immediate stop >/dev/null 2>&1"
$TW_PG_AS "$TW_PGBIN/pg_ctl" -D "$sd" -l "$TW_WORK/logs/standby.log" -w -t 60 start \
	>/dev/null 2>&1 || { cat "$TW_WORK/logs/standby.log" >&2; tw_die "standby did not start"; }
# synchronous replication to it, once it streams
$TW_PG_PSQL -d postgres -c "ALTER SYSTEM SET synchronous_standby_names = 'standby1'" \
	-c "ALTER SYSTEM SET synchronous_commit = 'on'" -c "SELECT pg_reload_conf()" >/dev/null \
	|| tw_die "cannot configure synchronous replication"
i=0
until [ "$($TW_PG_PSQL -d postgres -Atc "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'")" = 1 ]; do
	i=$((i + 1))
	[ $i -lt 100 ] || { cat "$TW_WORK/logs/standby.log" >&2; tw_die "standby never became synchronous"; }
	sleep 0.2
done
tw_wait_ports 20

TW_PG_KILL="$TW_PG_AS $TW_PGBIN/pg_ctl -D $TW_WORK/pg/data -m immediate -w stop"
TW_PG2_PROMOTE="$TW_PG_AS $TW_PGBIN/pg_ctl -D $sd -w -t 60 promote"
export TW_PKI="$PKI" TW_PIPE="$TW_WORK/pipe" TW_BUILD="${TW_BUILD:-build}" TW_PG_KILL TW_PG2_PROMOTE
export TW_PG_PORT="$PG" TW_PG2_PORT="$PG2"
export TW_PORT_GOOD="$GOOD" TW_PORT_EXPIRED="$EXPIRED" TW_PORT_INCOMPLETE="$INCOMPLETE"
export TW_PORT_OTHER="$OTHER" TW_PORT_COLLECTOR="$COLL" TW_PORT_HTTP="$HTTP"

tw_run_watched 600 "$bin" --jobs 1 "$@"
