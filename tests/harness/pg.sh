# pg.sh - sourced after fixtures.sh: a private PostgreSQL for a test, in
# $TW_WORK/pg, on 127.0.0.1:PORT, run as the postgres user when we are root
# (PostgreSQL refuses to run as root). Stopped by the teardown trap.
#
#   tw_pg_start PORT     initdb (trust auth, fsync off) + start; exports
#                        TW_PG_CONNINFO  libpq string for database "postgres"
#                        TW_PG_START     shell command: start it again
#                        TW_PG_STOP      shell command: stop it (fast)
#                        TW_PG_PSQL      psql command line (append -c ... )
#   tw_pg_createdb NAME  a fresh database
#
# C tests run $TW_PG_STOP / $TW_PG_START with system() for fault tests.

tw_pg_bin() {
	_b=$(pg_config --bindir 2>/dev/null)
	[ -x "$_b/initdb" ] || _b=/usr/lib/postgresql/15/bin
	[ -x "$_b/initdb" ] || tw_die "no PostgreSQL server (initdb) found; make deps installs it"
	echo "$_b"
}

tw_pg_start() {
	_port=$1
	TW_PGBIN=$(tw_pg_bin)
	_pgd=$TW_WORK/pg
	mkdir -p "$_pgd" || tw_die "mkdir $_pgd failed"
	chmod 0711 "$TW_WORK"
	TW_PG_AS=""
	if [ "$(id -u)" = 0 ]; then
		chown postgres "$_pgd" || tw_die "chown postgres failed"
		TW_PG_AS="runuser -u postgres --"
	fi
	$TW_PG_AS "$TW_PGBIN/initdb" -D "$_pgd/data" -A trust -U postgres --no-sync \
		>"$TW_WORK/logs/initdb.log" 2>&1 || { cat "$TW_WORK/logs/initdb.log" >&2; tw_die "initdb failed"; }
	cat >>"$_pgd/data/postgresql.conf" <<EOF2
listen_addresses = '127.0.0.1'
port = $_port
unix_socket_directories = '$_pgd'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 100
EOF2
	: >"$TW_WORK/logs/postgres.log"
	[ -n "$TW_PG_AS" ] && chown postgres "$TW_WORK/logs/postgres.log"
	TW_PG_START="$TW_PG_AS $TW_PGBIN/pg_ctl -D $_pgd/data -l $TW_WORK/logs/postgres.log -w -t 60 start"
	TW_PG_STOP="$TW_PG_AS $TW_PGBIN/pg_ctl -D $_pgd/data -m fast -w stop"
	TW_PG_CONNINFO="host=127.0.0.1 port=$_port user=postgres dbname=postgres connect_timeout=5"
	TW_PG_PSQL="psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p $_port -U postgres"
	export TW_PG_START TW_PG_STOP TW_PG_CONNINFO TW_PG_PSQL
	tw_on_exit "$TW_PG_AS $TW_PGBIN/pg_ctl -D $_pgd/data -m immediate stop >/dev/null 2>&1"
	$TW_PG_START >"$TW_WORK/logs/pg_ctl.log" 2>&1 || { cat "$TW_WORK/logs/postgres.log" >&2; tw_die "postgres did not start"; }
	rm -f "$TW_WORK/logs/initdb.log" "$TW_WORK/logs/pg_ctl.log"
}

tw_pg_createdb() {
	$TW_PG_PSQL -d postgres -c "CREATE DATABASE \"$1\"" >/dev/null || tw_die "createdb $1 failed"
}
