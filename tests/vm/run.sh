#!/bin/bash
# tests/vm/run.sh [PACKAGE...]: the VM tier. Boots Debian's stock kernels (default: the newest
# linux-image-6.1.0-N-amd64 and linux-image-6.12.N+deb12-amd64 this machine's archive has) in
# qemu, with the host's root read-only over 9p under a tmpfs overlay, no network (-nic none), and
# runs there the unit, packet and socket tiers and a subset of the leak lab that covers every
# layer, the BPF LSM layer included (tests/vm/README.md). Each result line comes back over a
# serial port named with the guest's kernel release: "PASS: [6.1.0-57-amd64] t01_...".
# Packages are fetched with apt-get download and cached under build/vm/; nothing is installed.
# Environment: TUNLOCK_VM_KERNELS (packages), TUNLOCK_VM_LAB (lab tests, by name prefix),
# TUNLOCK_VM_TIERS (tiers of tests/run.sh), TUNLOCK_VM_CMD (a command to run instead, to debug),
# TUNLOCK_VM_LAB_TIMEOUT (s per lab test in the guest, default 1200: tests/lab/run.sh's 600 s
# is for a real CPU; t40 needs more under TCG on 6.1), TUNLOCK_VM_TIMEOUT (s per VM, default
# 3600), TUNLOCK_VM_CONCURRENT (1: the kernels' VMs at
# once, one vCPU each; 0: one after another, two vCPUs each),
# TUNLOCK_VM_ACCEL (auto: KVM when /dev/kvm is usable and the guest's init runs within
# TUNLOCK_VM_KVM_WAIT s, else TCG; kvm; tcg), TUNLOCK_VM_CPUS (vCPUs per VM),
# TUNLOCK_VM_MEM (MiB per VM, 3072).
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
vm=$top/build/vm
tiers=${TUNLOCK_VM_TIERS:-unit packet socket lab}
# one lab test per layer and leak class (README.md says which covers what)
lab=${TUNLOCK_VM_LAB:-t01 t02 t03 t04 t20 t30 t31 t40 t42 t50}
vm_timeout=${TUNLOCK_VM_TIMEOUT:-3600}
concurrent=${TUNLOCK_VM_CONCURRENT:-1}
if [ "$concurrent" = 1 ]; then cpus=${TUNLOCK_VM_CPUS:-1}; else cpus=${TUNLOCK_VM_CPUS:-2}; fi
# the modules the initramfs loads to reach the host's root (those built in are skipped)
boot_modules="virtio_pci 9pnet_virtio 9p overlay"

fail() { echo "FAIL: ${tag:-vm}: $*"; }

# default_kernels: the newest stock 6.1 and 6.12 kernel packages the archive knows
default_kernels() {
	local pat
	for pat in '^linux-image-6\.1\.0-[0-9]+-amd64$' '^linux-image-6\.12\.[0-9]+\+deb12-amd64$'; do
		apt-cache pkgnames linux-image-6.1 | grep -E "$pat" | sort -V | tail -1
	done
}

# fetch PACKAGE: the .deb under build/vm/debs (cached), its path on stdout
fetch() {
	local deb
	deb=$(ls "$vm/debs/$1"_*.deb 2>/dev/null | tail -1)
	if [ -z "$deb" ]; then
		(cd "$vm/debs" && apt-get download -qq "$1" 2>&1 | grep -v '^W: Download is performed unsandboxed') >&2
		deb=$(ls "$vm/debs/$1"_*.deb 2>/dev/null | tail -1)
	fi
	[ -n "$deb" ] && echo "$deb"
}

# decompress_modules DIR: .ko.xz to .ko (6.12's are compressed; busybox modprobe hands the
# kernel what it reads, and the kernel takes ELF)
decompress_modules() {
	find "$1" -name '*.ko.xz' -exec "$busybox" unxz {} + || return 1
	! find "$1" -name '*.ko.xz' | grep -q .
}

# unpack PACKAGE: the kernel's release on stdout; its files under build/vm/k/RELEASE (cached),
# modules.dep made by busybox depmod (the host may have no kmod)
unpack() {
	local deb rel
	deb=$(fetch "$1") || { echo "cannot fetch $1 (apt-get update?)" >&2; return 1; }
	rel=${1#linux-image-}
	if [ ! -e "$vm/k/$rel/.unpacked" ]; then
		rm -rf "$vm/k/$rel" && mkdir -p "$vm/k/$rel" &&
			dpkg-deb -x "$deb" "$vm/k/$rel" &&
			decompress_modules "$vm/k/$rel/lib/modules/$rel" &&
			"$busybox" depmod -b "$vm/k/$rel" "$rel" &&
			touch "$vm/k/$rel/.unpacked" || { echo "cannot unpack $deb" >&2; return 1; }
	fi
	echo "$rel"
}

# mod_closure DEPFILE NAME...: NAME's module files and their dependencies, from modules.dep
mod_closure() {
	local dep=$1 m
	shift
	for m in "$@"; do
		awk -v m="$m" '{ f = $1; sub(":$", "", f); n = f; sub(".*/", "", n); sub("\\.ko(\\.xz|\\.zst|\\.gz)?$", "", n)
			gsub("-", "_", n) } n == m { print f; for (i = 2; i <= NF; i++) print $i }' "$dep"
	done | sort -u
}

# initramfs REL OUT: busybox, tests/vm/init, the boot modules of REL and the env of this run
initramfs() {
	local rel=$1 out=$2 k=$vm/k/$1 d f mods="" m
	d=$(mktemp -d "$vm/initramfs.XXXXXX")
	mkdir -p "$d/bin" "$d/lib/modules/$rel"
	cp "$busybox" "$d/bin/busybox" && cp "$here/init" "$d/init" && chmod 755 "$d/init" || return 1
	cp "$k/lib/modules/$rel/modules.dep" "$d/lib/modules/$rel/"
	for f in $(mod_closure "$k/lib/modules/$rel/modules.dep" $boot_modules); do
		mkdir -p "$d/lib/modules/$rel/$(dirname "$f")" && cp "$k/lib/modules/$rel/$f" "$d/lib/modules/$rel/$f"
	done
	for m in $boot_modules; do
		[ -n "$(mod_closure "$k/lib/modules/$rel/modules.dep" "$m")" ] && mods="$mods $m"
	done
	{
		printf 'TUNLOCK_DIR=%q\n' "$top"
		printf 'TUNLOCK_VM_MODULES=%q\n' "$k/lib/modules"
		printf 'TUNLOCK_VM_BOOT_MODULES=%q\n' "$mods"
		printf 'TUNLOCK_VM_TIERS=%q\n' "$tiers"
		printf 'TUNLOCK_VM_LAB=%q\n' "$lab"
		printf 'TUNLOCK_VM_CMD=%q\n' "${TUNLOCK_VM_CMD:-}"
		printf 'LAB_TEST_TIMEOUT=%q\n' "${TUNLOCK_VM_LAB_TIMEOUT:-1200}"
	} >"$d/env"
	(cd "$d" && find . | "$busybox" cpio -o -H newc 2>/dev/null | gzip -1) >"$out"
	local rc=$?
	rm -rf "$d"
	return $rc
}

# qemu_start ACCEL REL RESULTS KLOG: a VM in the background, its pid in qpid
qemu_start() {
	local accel=$1 rel=$2
	qemu-system-x86_64 -accel "$accel" -cpu max -smp "$cpus" \
		-m "${TUNLOCK_VM_MEM:-3072}" -nic none -no-reboot -display none -monitor none \
		-kernel "$vm/k/$rel/boot/vmlinuz-$rel" -initrd "$vm/k/$rel/initramfs.gz" \
		-append "console=ttyS0 panic=-1 quiet loglevel=4" \
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
		-virtfs "local,path=$top,mount_tag=tunlock,security_model=none,readonly=on,multidevs=remap" \
		-serial "file:$4" -serial "file:$3" </dev/null >"$4.qemu" 2>&1 &
	qpid=$!
}

# wait_for FILE PATTERN SECONDS: until FILE has a line matching PATTERN or qemu ends
wait_for() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		kill -0 "$qpid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# boot REL RESULTS KLOG: KVM if it reaches the guest's init in time, else TCG; accel in accel
boot() {
	local mode=${TUNLOCK_VM_ACCEL:-auto}
	: >"$2"
	if [ "$mode" != tcg ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
		qemu_start kvm "$1" "$2" "$3"
		accel=kvm
		[ "$mode" = kvm ] && return 0
		wait_for "$2" '^tunlock-vm: init' "${TUNLOCK_VM_KVM_WAIT:-15}" && return 0
		echo "# [$1] KVM did not reach the guest's init in ${TUNLOCK_VM_KVM_WAIT:-15} s: TCG"
		kill "$qpid" 2>/dev/null
		wait "$qpid" 2>/dev/null
		: >"$2"
	fi
	qemu_start tcg "$1" "$2" "$3"
	accel=tcg
}

# stream RESULTS REL: the guest's lines as they come, results named with the release, the
# others too (the kernels' VMs may run at once)
stream() {
	# (sed -u: line by line; tr would hold them in its pipe buffer)
	tail -n +1 -f --pid="$qpid" "$1" |
		sed -u -e 's/\r$//' -e "s/^\(PASS\|FAIL\|SKIP\): /\1: [$2] /" \
			-e "/^\(PASS\|FAIL\|SKIP\): \[/!s/^/[$2] /"
}

# run_vm REL RESULTS KLOG: one boot, streamed, bounded by vm_timeout
run_vm() {
	boot "$1" "$2" "$3"
	echo "# [$1] qemu ($accel, $cpus vCPU), timeout $vm_timeout s, kernel log in $3"
	# off the tier's output: a sleep left holding it would keep the suite waiting
	( exec >/dev/null 2>&1; sleep "$vm_timeout" && kill "$qpid" ) &
	watchdog=$!
	local streamer
	# in the background, so that a signal's trap runs at once (it stops qemu, the stream ends)
	stream "$2" "$1" &
	streamer=$!
	wait "$streamer"
	wait "$qpid"
	stop_watchdog
	wait "$watchdog" 2>/dev/null
}

stop_watchdog() {
	[ -n "${watchdog:-}" ] || return 0
	pkill -P "$watchdog" sleep 2>/dev/null
	kill "$watchdog" 2>/dev/null
}

run_kernel() {
	local pkg=$1 rel res klog t0 t_init t_start t_done
	tag="vm_$pkg"
	rel=$(unpack "$pkg") || { fail "cannot fetch or unpack $pkg"; return 1; }
	tag="[$rel] vm"
	initramfs "$rel" "$vm/k/$rel/initramfs.gz" || { fail "cannot build the initramfs"; return 1; }
	res=$vm/k/$rel/results.log klog=$vm/k/$rel/console.log
	t0=$(date +%s)
	run_vm "$rel" "$res" "$klog"
	t_init=$(sed -n 's/^tunlock-vm: init .*/x/p' "$res" | head -1)
	if [ -z "$t_init" ]; then
		# the emulated machine died before the guest's first line (seen once: a 6.12 panic
		# in an interrupt at 1.4 s under TCG, fine on every other boot): said, and once more
		echo "# [$rel] the guest's init never ran: $(tail -3 "$klog" | tr -d '\r' | tr '\n' ' '); booting once more"
		run_vm "$rel" "$res" "$klog"
		t_init=$(sed -n 's/^tunlock-vm: init .*/x/p' "$res" | head -1)
	fi
	t_start=$(sed -n 's/^tunlock-vm: tests start at \([0-9.]*\).*/\1/p' "$res" | head -1)
	t_done=$(sed -n 's/^tunlock-vm: tests done at \([0-9.]*\).*/\1/p' "$res" | head -1)
	echo "# [$rel] $accel: guest up ${t_start:-?} s at the tests' start, ${t_done:-?} s at their end;" \
		"$(($(date +%s) - t0)) s wall"
	if [ -z "$t_init" ]; then
		fail "the guest's init never ran; kernel log: $(tail -5 "$klog" | tr -d '\r' | tr '\n' ' ')"
	elif [ -z "$t_done" ]; then
		fail "the guest did not finish in $vm_timeout s (or died): last lines: $(tail -3 "$res" | tr -d '\r' | tr '\n' ' ')"
	fi
}

command -v qemu-system-x86_64 >/dev/null || { fail "qemu-system-x86_64 missing (make deps)"; exit 1; }
mkdir -p "$vm/debs"
busybox=$vm/busybox/bin/busybox
if [ ! -x "$busybox" ]; then
	deb=$(fetch busybox-static) && mkdir -p "$vm/busybox" && dpkg-deb -x "$deb" "$vm/busybox" ||
		{ fail "cannot fetch busybox-static"; exit 1; }
fi
kernels=${TUNLOCK_VM_KERNELS:-$(default_kernels)}
[ -n "$kernels" ] || { fail "no stock 6.1 or 6.12 kernel package in this machine's archive"; exit 1; }
stop_qemu() {
	[ -n "${qpid:-}" ] && kill "$qpid" 2>/dev/null
	stop_watchdog
}
if [ "$concurrent" != 1 ]; then
	trap stop_qemu EXIT INT TERM
	for k in $kernels; do
		run_kernel "$k"
	done
	exit 0
fi
# at once: each kernel in a subshell of its own that stops its own qemu; lines stay whole (each
# is one write to the pipe) and each names its kernel
jobs_pids=""
trap 'trap - TERM; [ -n "$jobs_pids" ] && kill $jobs_pids 2>/dev/null; wait' EXIT INT TERM
t0=$(date +%s)
for k in $kernels; do
	( trap 'stop_qemu; exit 1' INT TERM; trap stop_qemu EXIT; run_kernel "$k" ) &
	jobs_pids="$jobs_pids $!"
done
wait
jobs_pids=""
echo "# kernels at once: $(($(date +%s) - t0)) s wall for $(echo $kernels)"
