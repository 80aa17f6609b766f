#!/bin/bash
# PID 1 of the VM tier's guest, after tests/vm/init: runs the chosen tiers of tests/run.sh on
# the guest kernel, its output on the second serial port (the host streams and counts it), and
# powers the VM off. The lab makes its own namespaces and child cgroups here as on the host.
exec >/dev/ttyS1 2>&1
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
# shellcheck disable=SC1091
. /run/tunlock-vm/env
cd "$TUNLOCK_DIR" || { echo "FAIL: vm_boot: no $TUNLOCK_DIR in the guest"; echo o >/proc/sysrq-trigger; }
stty -onlcr 2>/dev/null
ip link set lo up
# /dev/net/tun appears only once tun is loaded; the lab looks for it first
/run/tunlock-vm/modprobe tun || echo "# tunlock-vm: no tun module"

lsm=$(cat /sys/kernel/security/lsm 2>/dev/null)
echo "# tunlock-vm: kernel $(uname -r), LSMs: ${lsm:-none}, $(nproc) CPU(s), up $(cut -d' ' -f1 /proc/uptime) s"
# the LSM tests must run, not skip, on a kernel that has BPF LSM (tests/lab/t50_lsm_sockets.sh)
# CPU limits of the hostile-input unit tests are for real CPUs, not an emulated one
export TL_TEST_SLOW=1
# and a lab test's time limit (run.sh's TUNLOCK_VM_LAB_TIMEOUT): under TCG, t40 on 6.1 passed
# every check and was still killed at tests/lab/run.sh's 600 s, in its event schema check
export LAB_TEST_TIMEOUT
# tests/unit/test_deb.sh skips: nothing in the package depends on the kernel
TUNLOCK_VM_GUEST=$(uname -r)
export TUNLOCK_VM_GUEST
case ",$lsm," in *,bpf,*) export LAB_EXPECT_BPF_LSM=1 ;; esac
echo "tunlock-vm: tests start at $(cut -d' ' -f1 /proc/uptime)"
if [ -n "${TUNLOCK_VM_CMD:-}" ]; then
	bash -c "$TUNLOCK_VM_CMD"
else
	TUNLOCK_TIERS=$TUNLOCK_VM_TIERS TUNLOCK_LAB_TESTS=$TUNLOCK_VM_LAB sh tests/run.sh
fi
echo "tunlock-vm: tests done at $(cut -d' ' -f1 /proc/uptime)"
sync
echo o >/proc/sysrq-trigger
sleep 60
