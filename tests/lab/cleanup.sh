#!/bin/bash
# tests/lab/cleanup.sh [--all]: remove what leak labs left behind when their harness died
# without its teardown (SIGKILL, power loss): namespaces, processes, cgroups, pins, state.
# Only labs whose owner process (the pid in the lab id tl<pid>x<hex>) is gone, unless --all
# (every lab: only when no lab runs). Prints one line per thing removed; silent when clean.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
all=0
[ "${1:-}" = --all ] && all=1
[ "$(id -u)" -eq 0 ] || { echo "cleanup.sh: needs root" >&2; exit 1; }
CG2_MNT=$(lab_find_cgroup2)

ids=$(
	{
		ls /run/netns 2>/dev/null
		[ -n "$CG2_MNT" ] && ls "$CG2_MNT" 2>/dev/null
		ls /sys/fs/bpf 2>/dev/null
		ls /etc/netns 2>/dev/null
		ls /tmp 2>/dev/null
	} | grep -o 'tl[0-9]\+x[0-9a-f]\{4\}' | sort -u
)
for id in $ids; do
	owner=${id#tl}
	owner=${owner%%x*}
	if [ "$all" = 0 ] && [ -d "/proc/$owner" ] && [ -f "/tmp/tunlock-lab-$id/owner" ]; then
		continue # its harness still runs
	fi
	# shellcheck disable=SC2034 # for the lib.sh helpers below
	LAB_ID=$id LAB_CG_REL=/tunlock-lab-$id LAB_CG=$CG2_MNT/tunlock-lab-$id NS_CLIENT=$id-client
	LAB_PIN=/sys/fs/bpf/tunlock-lab-$id LAB_STATE=/tmp/tunlock-lab-$id
	# shellcheck disable=SC2034 # for _lab_ns_unsafe
	LAB_FORBIDDEN_NETNS=$(_lab_forbidden_netns)
	# enforcement first, from inside the lab's client netns
	if [ -e "$LAB_PIN" ] && [ -x "$TUNLOCK" ] && ! _lab_ns_unsafe "$NS_CLIENT"; then
		nsenter --net="/run/netns/$NS_CLIENT" -- timeout -k 2 20 "$TUNLOCK" stop --pin-dir "$LAB_PIN" >/dev/null 2>&1 &&
			echo "ran tunlock stop --pin-dir $LAB_PIN"
	fi
	if [ -d "$LAB_CG" ]; then
		_lab_kill_cgroup "$LAB_CG" 2>/dev/null
	fi
	for ns in /run/netns/"$id"-*; do
		[ -e "$ns" ] || continue
		ns=${ns##*/}
		for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
		ip netns del "$ns" && echo "removed netns $ns"
	done
	[ -e "$LAB_PIN" ] && rm -rf "$LAB_PIN" && echo "removed pins $LAB_PIN"
	if [ -d "$LAB_CG" ]; then
		_lab_rm_cgroup "$LAB_CG" 2>/dev/null
		[ -d "$LAB_CG" ] && echo "cannot remove cgroup $LAB_CG" || echo "removed cgroup $LAB_CG"
	fi
	[ -d "/etc/netns/$id-client" ] && rm -rf "/etc/netns/$id-client" && echo "removed /etc/netns/$id-client"
	[ -d "$LAB_STATE" ] && rm -rf "$LAB_STATE" && echo "removed $LAB_STATE"
done
rmdir /etc/netns 2>/dev/null
exit 0
