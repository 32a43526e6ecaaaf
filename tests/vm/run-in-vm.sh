#!/bin/sh
# run-in-vm.sh - runs one command as root in a small KVM guest whose kernel
# has what this machine's kernel lacks (the netem qdisc), on this machine's
# own files: the guest's / is the host's /, shared read-only over 9p, under
# a tmpfs overlay (writes stay in the guest and vanish with it).
#
#   tests/vm/run-in-vm.sh [--timeout SECS] [--mem SIZE] [--smp N] COMMAND [ARG...]
#
# The command runs in the current directory (same path in the guest) with a
# fresh /run, /tmp and /dev/shm, loopback up and no other network, and
# TW_IN_VM (the guest kernel) and TW_VM_ACCEL (kvm or tcg) in its environment. What it
# prints comes back on our stdout; its exit status is ours. 124: the guest
# did not finish within --timeout (default 600 s); 125: the guest failed
# before the command ran (its console is printed).
#
# The guest kernel is Debian's linux-image-amd64 package (apt-get download,
# dpkg-deb -x: nothing is installed on the host), the initramfs busybox
# (busybox-static) plus the modules the guest needs, loaded in this order:
# virtio PCI, 9p over virtio, overlay, veth, sch_netem. Both are kept under
# $TW_VM_CACHE (default build/vm/) and rebuilt when this script changes.
# Needs qemu-system-x86 (scripts/deps.sh installs the packages); uses KVM
# where /dev/kvm boots a guest, else emulation (TW_VM_ACCEL=kvm|tcg|auto).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
self=$root/tests/vm/run-in-vm.sh
CACHE=${TW_VM_CACHE:-$root/build/vm}
TIMEOUT=600
MEM=2G
SMP=2
MODULES="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
9pnet 9pnet_virtio netfs fscache 9p overlay veth sch_netem"

die() {
	echo "run-in-vm: $*" >&2
	exit 125
}
while [ $# -gt 0 ]; do
	case $1 in
	--timeout) TIMEOUT=${2:?}; shift 2 ;;
	--mem) MEM=${2:?}; shift 2 ;;
	--smp) SMP=${2:?}; shift 2 ;;
	--) shift; break ;;
	-*) die "unknown option $1 (see the head of $self)" ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] || die "usage: run-in-vm.sh [--timeout SECS] [--mem SIZE] [--smp N] COMMAND [ARG...]"
case $TIMEOUT in '' | *[!0-9]*) die "--timeout wants seconds, not \"$TIMEOUT\"" ;; esac
command -v qemu-system-x86_64 >/dev/null 2>&1 || die "qemu-system-x86_64 not found (package qemu-system-x86)"
[ -x /bin/busybox ] && /bin/busybox --list | grep -qx insmod ||
	die "/bin/busybox with insmod not found (package busybox-static)"
mkdir -p "$CACHE" || die "cannot create $CACHE"

# ---- the kernel: the package linux-image-amd64 points at, unpacked
if [ ! -f "$CACHE/vmlinuz" ] || [ ! -f "$CACHE/kversion" ]; then
	kpkg() { apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -1; }
	pkg=$(kpkg)
	[ -n "$pkg" ] || { apt-get update -q >/dev/null 2>&1; pkg=$(kpkg); }
	[ -n "$pkg" ] || die "apt-cache knows no linux-image-amd64 (is a Debian archive configured?)"
	rm -rf "$CACHE/deb" "$CACHE/kroot"
	mkdir -p "$CACHE/deb"
	(cd "$CACHE/deb" && apt-get download -q "$pkg" >/dev/null 2>"$CACHE/apt.log") ||
		die "apt-get download $pkg failed (see $CACHE/apt.log)"
	dpkg-deb -x "$CACHE"/deb/"$pkg"_*.deb "$CACHE/kroot" || die "dpkg-deb -x failed"
	kv=$(ls "$CACHE/kroot/lib/modules" | head -1)
	[ -f "$CACHE/kroot/boot/vmlinuz-$kv" ] || die "$pkg has no /boot/vmlinuz-$kv"
	cp "$CACHE/kroot/boot/vmlinuz-$kv" "$CACHE/vmlinuz" && echo "$kv" >"$CACHE/kversion" ||
		die "cannot copy the kernel"
	rm -f "$CACHE/initrd.img"
fi
kv=$(cat "$CACHE/kversion")

# ---- the initramfs: busybox, the modules, /init
if [ ! -f "$CACHE/initrd.img" ] || [ "$self" -nt "$CACHE/initrd.img" ]; then
	ir=$CACHE/initrd
	rm -rf "$ir"
	mkdir -p "$ir/bin" "$ir/lib" "$ir/proc" "$ir/sys" "$ir/dev" "$ir/lower" "$ir/rw" "$ir/newroot"
	cp /bin/busybox "$ir/bin/busybox"
	for m in $MODULES; do
		f=$(find "$CACHE/kroot/lib/modules/$kv/kernel" -name "$m.ko" | head -1)
		[ -n "$f" ] || die "module $m.ko not in the $kv package"
		cp "$f" "$ir/lib/$m.ko"
	done
	cat >"$ir/init" <<EOF
#!/bin/busybox sh
# PID 1 of the initramfs: modules, the host's / over 9p under a tmpfs
# overlay, then the command's script (tw-run.sh, in the shared out dir).
B=/bin/busybox
fail() { \$B echo "run-in-vm guest: \$*"; \$B sync; \$B poweroff -f; }
\$B mount -t proc proc /proc
\$B mount -t sysfs sys /sys
\$B mount -t devtmpfs dev /dev
for m in $(echo $MODULES); do \$B insmod /lib/\$m.ko || fail "insmod \$m failed"; done
\$B mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose hostroot /lower ||
	fail "cannot mount the host's / (9p)"
\$B mount -t tmpfs -o size=75% rw /rw && \$B mkdir /rw/upper /rw/work || fail "tmpfs"
\$B mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot ||
	fail "cannot mount the overlay"
\$B mkdir -p /newroot/tw-out
\$B mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 twout /newroot/tw-out ||
	fail "cannot mount the out dir"
\$B touch /newroot/tw-out/booted
for d in proc sys dev; do \$B mount --move /\$d /newroot/\$d; done
exec \$B switch_root /newroot /bin/sh /tw-out/tw-run.sh
EOF
	chmod 0755 "$ir/init"
	(cd "$ir" && find . | /bin/busybox cpio -o -H newc 2>/dev/null | gzip -1 >"$CACHE/initrd.img.new") &&
		mv "$CACHE/initrd.img.new" "$CACHE/initrd.img" || die "cannot build the initramfs"
fi

# ---- one run: its out dir holds the script the guest runs, the output and
# the exit status
out=$CACHE/run.$$
rm -rf "$out"
mkdir "$out" || die "cannot create $out"
trap 'exit 130' INT
trap 'exit 143' TERM
q() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
cmd=""
for a in "$@"; do cmd="$cmd $(q "$a")"; done
cat >"$out/tw-run.sh" <<EOF
# the guest's second stage, as PID 1 on the overlay
# The fresh /run, /tmp and /dev/shm would hide a checkout that lives under
# one of them (a CI clone in /tmp): it is bind-mounted aside first and put
# back at its path on the new tmpfs.
wd=$(q "$(pwd)")
case "\$wd" in
/run/*|/tmp/*|/dev/shm/*) mkdir -p /tw-wd && mount --bind "\$wd" /tw-wd || exit 1 ;;
esac
mount -t tmpfs -o mode=0755 run /run
mount -t tmpfs -o mode=1777 tmp /tmp
mkdir -p /dev/shm /dev/pts && mount -t tmpfs -o mode=1777 shm /dev/shm && mount -t devpts pts /dev/pts
if [ -d /tw-wd ]; then
	mkdir -p "\$wd" && mount --move /tw-wd "\$wd" || { echo "run-in-vm: cannot keep \$wd visible"; exit 1; }
fi
ip link set lo up
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb
export TW_IN_VM=$(q "$kv") TW_VM_ACCEL=\$(cat /tw-out/accel)
echo "run-in-vm: guest kernel \$(uname -r), $(q "$SMP") vCPUs, \$(awk '/MemTotal/ {print \$2 / 1024 " MiB"}' /proc/meminfo)"
cd "\$wd" && { $cmd; echo \$? >/tw-out/rc.tmp; } </dev/null 2>&1 | tee /tw-out/output
mv /tw-out/rc.tmp /tw-out/rc
sync
/bin/busybox poweroff -f
EOF
# boot ACCEL...: qemu in the background ($QPID), console in $out/console
boot() {
	rm -f "$out/booted"
	echo "$accel" >"$out/accel"
	qemu-system-x86_64 "$@" -m "$MEM" -smp "$SMP" -nographic -no-reboot -nic none \
		-kernel "$CACHE/vmlinuz" -initrd "$CACHE/initrd.img" \
		-append "console=ttyS0 panic=-1 ${TW_VM_APPEND:-quiet loglevel=3}" \
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
		-virtfs "local,path=$out,mount_tag=twout,security_model=none" \
		</dev/null >"$out/console" 2>&1 &
	QPID=$!
}
# waits up to $1 s for qemu to end (0) or for the file $2 to appear (0);
# 1 when neither happened
wait_for() {
	_n=0
	while [ $_n -lt $(($1 * 10)) ]; do
		kill -0 "$QPID" 2>/dev/null || return 0
		[ -n "${2:-}" ] && [ -e "$2" ] && return 0
		sleep 0.1
		_n=$((_n + 1))
	done
	return 1
}
stop_qemu() { # (set -e: every step may find it gone already)
	[ -n "$QPID" ] || return 0
	kill -TERM "$QPID" 2>/dev/null || true
	wait_for 5 || kill -KILL "$QPID" 2>/dev/null || true
	wait "$QPID" 2>/dev/null || true
	QPID=""
}
trap '_st=$?; stop_qemu; rm -rf "$out"; exit $_st' EXIT
QPID=""

# KVM, where it works: some hosts have a /dev/kvm whose guests hang as soon
# as they leave real mode (nested virtualisation without nested paging).
# "auto" boots with KVM and falls back to emulation (TCG, several times
# slower) when the guest has not reached its init within 30 s; the verdict
# is kept per host kernel and qemu version.
KVM="-enable-kvm -cpu host,-arch-capabilities"
TCG="-accel tcg,thread=multi -cpu max"
key="$(uname -r) $(qemu-system-x86_64 --version | head -1)"
accel=${TW_VM_ACCEL:-auto}
if [ "$accel" = auto ] && [ -f "$CACHE/accel" ] && [ "$(sed 1d "$CACHE/accel")" = "$key" ]; then
	accel=$(head -1 "$CACHE/accel")
fi
case $accel in
kvm) boot $KVM ;;
tcg) boot $TCG ;;
auto)
	accel=tcg
	if [ -w /dev/kvm ]; then
		accel=kvm
		boot $KVM
		if ! wait_for 30 "$out/booted" || [ ! -e "$out/booted" ]; then
			stop_qemu
			accel=tcg
		fi
	fi
	printf '%s\n%s\n' "$accel" "$key" >"$CACHE/accel"
	if [ "$accel" = tcg ]; then
		echo "run-in-vm: KVM does not boot a guest here; emulating (TCG)" >&2
		boot $TCG
	fi
	;;
*) die "TW_VM_ACCEL wants kvm, tcg or auto, not \"$accel\"" ;;
esac
rc=0
wait_for "$TIMEOUT" || rc=124
if [ -f "$out/rc" ]; then
	wait "$QPID" 2>/dev/null || true
	cat "$out/output" 2>/dev/null
	exit "$(cat "$out/rc")"
fi
stop_qemu
cat "$out/console"
[ "$rc" = 124 ] && { echo "run-in-vm: the guest did not finish within ${TIMEOUT}s" >&2; exit 124; }
die "the guest ended before the command finished"
