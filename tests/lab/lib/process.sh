# shellcheck shell=bash disable=SC2034
# (SC2034: its variables are read by the tests and the other lab files)
# tests/lab/lib/process.sh: where lab commands run: the lab cgroups, the lab namespaces,
# background processes (spawned, watched and killed by pid, only the lab's own).
# Sourced by tests/lab/lib.sh (a test sources lib.sh, never this file).

# Cgroup layout (cgroup2, under the mount found in /proc/mounts), $LAB_CG = /tunlock-lab-<id>:
#   $LAB_CG/infra        lab daemons of every namespace, tcpdump        (not protected)
#   $LAB_CG/agent        tunlock run / status / stop                    (not protected)
#   $LAB_CG/other        a sibling of prot: outside attach_cgroup       (not protected)
#   $LAB_CG/prot         attach_cgroup of the lab policy: everything below is protected
#   $LAB_CG/prot/vpn     the client's wireguard-go: tunnels[].client.cgroup (and fwmark 0xca6c)
#   $LAB_CG/prot/apps    ordinary client processes: profile "locked" (LAN blocked; --lan allow
#                        in lab_write_policy gives them "lan-ok")
#   $LAB_CG/prot/lan     profile "lan-ok" (lan: allow)
#   $LAB_CG/prot/exempt  exempt: true, the policy leaves it alone
# in_client takes the short names: apps, vpn, lan, exempt, other, agent, infra (or prot/...).
#
# Namespaces are entered with `ip netns exec` (which also gives the client the ISP's resolver
# through /etc/netns/<client>/resolv.conf), except for the agent and the tunlock CLI, which use
# `nsenter --net` because `ip netns exec` remounts /sys and so hides the cgroup2 mount and bpffs,
# and wireguard-go/wg, which get a private /run (see _lab_wg).

lab_cg_dir() {
	local d
	case $1 in
	apps | vpn | lan | exempt) d=$LAB_CG/prot/$1 ;;
	prot | other | agent | infra) d=$LAB_CG/$1 ;;
	prot/* | other/* | infra/* | agent/*) d=$LAB_CG/$1 ;;
	*) echo "lab: unknown cgroup name '$1'" >&2; return 2 ;;
	esac
	[ -d "$d" ] || { echo "lab: no cgroup $d" >&2; return 2; }
	echo "$d"
}

# in_client CGROUP cmd...: run cmd in the client netns, with its pid in the lab cgroup CGROUP
in_client() {
	local cg
	cg=$(lab_cg_dir "$1") || return 2
	shift
	_lab_netns_exec "$NS_CLIENT" "$cg" "$@"
}

# in_ns NS cmd...: run cmd in lab namespace NS (a name, or client|isp|vpn|inet|lan), cgroup infra
in_ns() {
	local ns
	ns=$(_lab_ns "$1") || return 2
	shift
	_lab_netns_exec "$ns" "$LAB_CG/infra" "$@"
}

# _lab_netns_exec NS CGDIR cmd...: run cmd in network namespace NS (never a forbidden one) with
# its pid in the cgroup directory CGDIR; in_client, in_ns and in_ctr go through here
_lab_netns_exec() {
	local ns=$1 cg=$2
	shift 2
	_lab_ns_unsafe "$ns" && { echo "lab: refusing: netns '$ns' missing or initial" >&2; return 2; }
	(
		echo "$BASHPID" >"$cg/cgroup.procs" || exit 126
		exec ip netns exec "$ns" "$@"
	)
}

_lab_ns() {
	case $1 in
	client) echo "$NS_CLIENT" ;; isp) echo "$NS_ISP" ;; vpn) echo "$NS_VPN" ;;
	inet) echo "$NS_INET" ;; lan) echo "$NS_LAN" ;;
	"$LAB_ID"-*) echo "$1" ;;
	*) echo "lab: unknown namespace '$1'" >&2; return 2 ;;
	esac
}

# _lab_spawn NAME CGROUP cmd...: start cmd in the background in lab cgroup CGROUP, output to
# $LAB_STATE/NAME.log; the pid goes to LAB_PID[NAME], LAB_SPAWNED_PID and $LAB_STATE/pids
_lab_spawn() {
	local name=$1 cg
	cg=$(lab_cg_dir "$2") || return 2
	shift 2
	(
		echo "$BASHPID" >"$cg/cgroup.procs" || exit 126
		exec "$@"
	) </dev/null >"$LAB_STATE/$name.log" 2>&1 &
	LAB_SPAWNED_PID=$!
	LAB_PID[$name]=$LAB_SPAWNED_PID
	echo "$LAB_SPAWNED_PID $name" >>"$LAB_STATE/pids"
}

_lab_pid_alive() {
	local st
	[ -n "$1" ] || return 1
	st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# true if pid belongs to this lab (its cgroup2 path is below $LAB_CG_REL)
_lab_pid_ours() {
	grep -q "^0::$LAB_CG_REL\(/\|$\)" "/proc/$1/cgroup" 2>/dev/null
}

# _lab_kill PID [SECONDS]: TERM, then KILL after SECONDS (default 3); only lab processes
_lab_kill() {
	local pid=$1 t=${2:-3}
	_lab_pid_alive "$pid" || { wait "$pid" 2>/dev/null; return 0; }
	_lab_pid_ours "$pid" || { _lab_log "not killing $pid: not in $LAB_CG_REL"; return 1; }
	kill -TERM "$pid" 2>/dev/null
	_lab_wait "$t" eval '! _lab_pid_alive '"$pid" || kill -KILL "$pid" 2>/dev/null
	_lab_wait 3 eval '! _lab_pid_alive '"$pid"
	wait "$pid" 2>/dev/null
	return 0
}
