#!/bin/sh
# install.sh - puts the built tlswatch binaries, systemd units, sysusers.d and
# tmpfiles.d files and example configurations where the units expect them.
# `make install` runs it; see `scripts/install.sh --help`.
set -eu

PROG=install.sh

usage() {
	cat <<'EOF'
usage: scripts/install.sh [VAR=VALUE ...]

Installs what `make` built. Each VAR may also come from the environment
(an argument wins):

  PREFIX       /usr/local                   binaries in PREFIX/bin
  DESTDIR      (empty)                      staging root prepended to every path
  BUILD        $TW_BUILD or build           where the binaries were built
  SYSCONFDIR   /etc                         configs in SYSCONFDIR/tlswatch
  UNITDIR      /lib/systemd/system when PREFIX is /usr, else /etc/systemd/system
  SYSUSERSDIR  /usr/lib/sysusers.d
  TMPFILESDIR  /usr/lib/tmpfiles.d
  DATADIR      PREFIX/share                 pki.sh in DATADIR/tlswatch, docs in
                                            DATADIR/doc/tlswatch

Installed:
  PREFIX/bin/tlswatch-probe, tlswatch-collector               0755
  UNITDIR/tlswatch-probe.service, tlswatch-collector.service  0644, with their
      paths rewritten to BINDIR and SYSCONFDIR
  SYSUSERSDIR/tlswatch.conf, TMPFILESDIR/tlswatch.conf       0644
  SYSCONFDIR/tlswatch/{probe,collector,slos,notify}.example.yaml  0644
  DATADIR/tlswatch/pki.sh, DATADIR/doc/tlswatch/production.md

Real configurations (probe.yaml, collector.yaml, ...) and keys are never
written: the examples are refreshed next to them. Nothing is started; the
last lines printed say what to run next.

Exit status: 0 installed, 1 a file could not be installed, 2 usage error or
nothing built.
EOF
}

die() { echo "$PROG: $*" >&2; exit 2; }

for a in "$@"; do
	case $a in
	-h | --help) usage; exit 0 ;;
	PREFIX=* | DESTDIR=* | BUILD=* | SYSCONFDIR=* | UNITDIR=* | SYSUSERSDIR=* | TMPFILESDIR=* | DATADIR=*)
		eval "${a%%=*}=\${a#*=}" ;;
	*) die "unknown argument \"$a\" (see --help)" ;;
	esac
done

PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
BUILD=${BUILD:-${TW_BUILD:-build}}
SYSCONFDIR=${SYSCONFDIR:-/etc}
if [ -z "${UNITDIR:-}" ]; then
	# units of a distribution-style install go with the package; a local
	# install (PREFIX=/usr/local, /opt/...) is the administrator's, in /etc
	case $PREFIX in
	/usr) UNITDIR=/lib/systemd/system ;;
	*) UNITDIR=/etc/systemd/system ;;
	esac
fi
SYSUSERSDIR=${SYSUSERSDIR:-/usr/lib/sysusers.d}
TMPFILESDIR=${TMPFILESDIR:-/usr/lib/tmpfiles.d}
DATADIR=${DATADIR:-$PREFIX/share}
BINDIR=$PREFIX/bin
CONFDIR=$SYSCONFDIR/tlswatch

for v in PREFIX SYSCONFDIR UNITDIR SYSUSERSDIR TMPFILESDIR DATADIR; do
	val=""
	eval "val=\$$v"
	case $val in
	/*) ;;
	*) die "$v must be an absolute path, not \"$val\"" ;;
	esac
	# the value goes into sed replacements and unit files
	case $val in
	*[!A-Za-z0-9/._+-]*) die "$v \"$val\": only [A-Za-z0-9/._+-] please" ;;
	esac
done

src=$(cd "$(dirname "$0")/.." && pwd)
for b in tlswatch-probe tlswatch-collector; do
	[ -x "$BUILD/$b" ] || die "$BUILD/$b is not built: run make first"
done

put() { # MODE SRC DEST
	install -D -m "$1" "$2" "$DESTDIR$3" || { echo "$PROG: could not install $3" >&2; exit 1; }
	echo "  $3"
}

echo "$PROG: installing into ${DESTDIR:-/} (PREFIX=$PREFIX)"
put 0755 "$BUILD/tlswatch-probe" "$BINDIR/tlswatch-probe"
put 0755 "$BUILD/tlswatch-collector" "$BINDIR/tlswatch-collector"

# The units in deploy/systemd name /usr/local/bin and /etc/tlswatch; point
# them at where this install puts things.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for u in tlswatch-probe.service tlswatch-collector.service; do
	sed -e "s|/usr/local/bin/|$BINDIR/|g" \
	    -e "s|/etc/tlswatch|$CONFDIR|g" \
	    -e "s|/usr/local/share/doc/tlswatch|$DATADIR/doc/tlswatch|g" \
	    "$src/deploy/systemd/$u" >"$tmp/$u" || exit 1
	put 0644 "$tmp/$u" "$UNITDIR/$u"
done
put 0644 "$src/deploy/systemd/tlswatch.sysusers.conf" "$SYSUSERSDIR/tlswatch.conf"
sed -e "s|/etc/tlswatch|$CONFDIR|g" "$src/deploy/systemd/tlswatch.tmpfiles.conf" >"$tmp/tmpfiles" || exit 1
put 0644 "$tmp/tmpfiles" "$TMPFILESDIR/tlswatch.conf"

# Examples only: a real config is the administrator's and is never touched.
for c in probe collector slos notify; do
	put 0644 "$src/deploy/$c.example.yaml" "$CONFDIR/$c.example.yaml"
done
# keys will live here: the daemons' group may read, others may not (the
# tmpfiles.d line sets the same once the tlswatch group exists)
chmod 0750 "$DESTDIR$CONFDIR" || exit 1
if [ -z "$DESTDIR" ] && [ "$(id -u)" = 0 ] && getent group tlswatch >/dev/null 2>&1; then
	chgrp tlswatch "$CONFDIR" || exit 1
fi
put 0755 "$src/deploy/pki.sh" "$DATADIR/tlswatch/pki.sh"
put 0644 "$src/docs/production.md" "$DATADIR/doc/tlswatch/production.md"

missing=""
for c in probe collector; do
	[ -e "$DESTDIR$CONFDIR/$c.yaml" ] || missing="$missing $c"
done
echo "$PROG: done."
if [ -z "$DESTDIR" ]; then
	echo "next: systemd-sysusers && systemd-tmpfiles --create tlswatch.conf && systemctl daemon-reload"
	for c in $missing; do
		echo "      cp $CONFDIR/$c.example.yaml $CONFDIR/$c.yaml (then edit) to run tlswatch-$c"
	done
	echo "      certificates: $DATADIR/tlswatch/pki.sh --help"
fi
