# shellcheck shell=bash disable=SC2034,SC2120
# (SC2034, SC2120: the constants and helper arguments are used by the tests that source this)
# tunlock leak lab: network namespaces, a real WireGuard VPN (wireguard-go), an ISP with a
# resolver, an "internet" with hosts, a capture on the ISP side of the client's uplink(s),
# and helpers to run the agent and judge leaks. Sourced by tests/lab/t*.sh, cleanup.sh and
# demo.sh. This file holds the constants, lab_init, the safety guards and lab_teardown; the
# helpers live in tests/lab/lib/, one file per concern (tests/lab/README.md has the map).

# ---------------------------------------------------------------- constants
LAB_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_REPO=$(cd "$LAB_LIB_DIR/../.." && pwd)
TUNLOCK=${TUNLOCK:-$LAB_REPO/build/tunlock}
LAB_PY=${LAB_PY:-/usr/bin/python3}
[ -x "$LAB_PY" ] || LAB_PY=$(command -v python3)

LAB_CLIENT_IP=10.213.0.2
LAB_CLIENT_MAC=02:13:00:00:00:02
LAB_ROUTER_IP=10.213.0.1
LAB_ROUTER_MAC=02:13:00:00:00:01
LAB_LANHOST_IP=10.213.0.5
LAB_CLIENT2_IP=10.213.0.130
LAB_CLIENT2_MAC=02:13:00:00:01:02
LAB_ROUTER2_IP=10.213.0.129
LAB_ISP_PUBLIC_IP=100.64.0.2      # the ISP's NAT address: seen by servers for traffic past the VPN
LAB_INET_ISP_IP=100.64.0.1
LAB_INET_VPN_IP=198.51.100.1
LAB_VPN_IP=198.51.100.2           # VPN server endpoint, and its NAT address for tunnel traffic
LAB_WG_PORT=51820
LAB_WG_CLIENT_PORT=51821
LAB_WG_FWMARK=0xca6c
LAB_TUN_SERVER_IP=100.100.0.1     # also the tunnel's resolver
LAB_TUN_CLIENT_IP=100.100.0.2
LAB_HOST_IP=203.0.113.10          # "internet" host: http 80, udp echo 7, udp sink 9
LAB_PUBDNS_IP=203.0.113.53        # public resolver
LAB_HTTP_PORT=80
LAB_ECHO_PORT=7
LAB_IPERF_PORT=5201
LAB_SINK_PORT=9
LAB_CLIENT6_IP=fd13:213::2
LAB_ROUTER6_IP=fd13:213::1
LAB_LANHOST6_IP=fd13:213::5
LAB_ISP6_WAN=2001:db8:64::2
LAB_INET6_ISP=2001:db8:64::1
LAB_HOST6_IP=2001:db8:203::10
LAB_VPN6_IP=2001:db8:100::2       # the VPN server's IPv6 (NAT66 address for tunnel traffic)
LAB_INET6_VPN=2001:db8:100::1
LAB_TUN6_SERVER_IP=2001:db8:101::1 # IPv6 inside the tunnel (lab_tunnel_up --ipv6)
LAB_TUN6_CLIENT_IP=2001:db8:101::2
# What each resolver answers for lab.test: the answer says which resolver it came from.
LAB_MARK_ISP=203.0.113.101 LAB_MARK6_ISP=2001:db8:53::101
LAB_MARK_TUN=203.0.113.102 LAB_MARK6_TUN=2001:db8:53::102
LAB_MARK_PUB=203.0.113.103 LAB_MARK6_PUB=2001:db8:53::103
LAB_STUB_IP=127.0.0.53 # the client's local stub resolver (lab_stub_start)

# ---------------------------------------------------------------- helpers, by concern
# (tests/lab/lib/*.sh only define functions and variables; tests/lab/README.md has the map)
. "$LAB_LIB_DIR/lib/process.sh"    # in_client, in_ns, lab_cg_dir, _lab_spawn, _lab_kill
. "$LAB_LIB_DIR/lib/topology.sh"   # lab_setup, lab_tunnel_*, lab_second_uplink
. "$LAB_LIB_DIR/lib/dns.sh"        # resolvers, lab_dns, expect_dns_*, lab_stub_start
. "$LAB_LIB_DIR/lib/capture.sh"    # lab_capture_*, lab_leaks, lab_cap_count, expect_captured
. "$LAB_LIB_DIR/lib/traffic.sh"    # lab_curl, lab_ping, lab_probe, lab_server_*, lab_stun
. "$LAB_LIB_DIR/lib/agent.sh"      # lab_write_policy, lab_tunlock, lab_agent_*, lab_bpf_*
. "$LAB_LIB_DIR/lib/events.sh"     # lab_events, expect_event
. "$LAB_LIB_DIR/lib/containers.sh" # lab_containers_setup, lab_container, in_ctr

# ---------------------------------------------------------------- results, waits, small helpers
. "$LAB_LIB_DIR/assert.sh" # pass, fail, skip, note, check
# lab_abort WHY: a FAIL line for the test as a whole, then exit (the trap tears down)
lab_abort() { fail "${LAB_TEST:-lab}" "$*"; exit 1; }
# lab_done: exit status of a test file
lab_done() { [ "$LAB_NFAIL" -eq 0 ]; exit $?; }

_lab_log() { echo "# lab[$LAB_ID]: $*" >&2; }
_lab_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# _lab_wait SECONDS cmd...: poll cmd every 0.1 s until it succeeds; bounded
_lab_wait() {
	local n=$(( $1 * 10 )) i; shift
	for ((i = 0; i < n; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	"$@"
}

# _x cmd...: run a setup command; on failure remember why in LAB_ERR and return 1
_x() {
	local out
	if ! out=$("$@" 2>&1); then
		LAB_ERR="$* -> ${out:-failed}"
		_lab_log "$LAB_ERR"
		return 1
	fi
	return 0
}

# lab_json_get JSON KEY: a field of a JSON object (dotted keys), printed as text
lab_json_get() {
	"$LAB_PY" -c 'import json,sys
try:
    v = json.loads(sys.argv[1])
    for k in sys.argv[2].split("."): v = v[k]
except Exception:
    v = ""
print(json.dumps(v) if isinstance(v, (dict, list)) else ("" if v is None else v))' "$1" "$2"
}
# lab_timed VAR cmd...: run cmd, elapsed milliseconds into VAR, return cmd's status
lab_timed() {
	local __v=$1 __t0 __rc
	shift
	__t0=$(_lab_ms)
	"$@"
	__rc=$?
	printf -v "$__v" '%s' $(($(_lab_ms) - __t0))
	return $__rc
}

# ---------------------------------------------------------------- init, safety
lab_find_cgroup2() {
	local m
	m=$(awk '$3 == "cgroup2" && $2 == "/sys/fs/cgroup/unified" { print $2; exit }' /proc/mounts)
	[ -n "$m" ] || m=$(awk '$3 == "cgroup2" && $2 == "/sys/fs/cgroup" { print $2; exit }' /proc/mounts)
	[ -n "$m" ] || m=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
	[ -n "$m" ] && echo "$m"
}

LAB_TOOLS="ip tc nft tcpdump wireguard-go wg dnsmasq curl ping dig nsenter unshare timeout od"

# lab_init [TEST_NAME]: unique names for this lab and the teardown trap. Idempotent.
lab_init() {
	[ -n "${LAB_ID:-}" ] && return 0
	LAB_TEST=${1:-$(basename "$0" .sh)}
	if [ "$(id -u)" -ne 0 ]; then
		skip "$LAB_TEST" "the leak lab needs root (network namespaces, cgroups, bpffs)"
		exit 0
	fi
	LAB_ID=tl$$x$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')
	NS_CLIENT=$LAB_ID-client NS_ISP=$LAB_ID-isp NS_VPN=$LAB_ID-vpn NS_INET=$LAB_ID-inet NS_LAN=$LAB_ID-lan
	LAB_STATE=${LAB_STATE_ROOT:-/tmp}/tunlock-lab-$LAB_ID
	CG2_MNT=$(lab_find_cgroup2)
	LAB_CG_REL=/tunlock-lab-$LAB_ID
	LAB_CG=$CG2_MNT$LAB_CG_REL
	LAB_CGREL_PROT=$LAB_CG_REL/prot
	LAB_CGREL_VPN=$LAB_CG_REL/prot/vpn
	LAB_CGREL_APPS=$LAB_CG_REL/prot/apps
	LAB_CGREL_LAN=$LAB_CG_REL/prot/lan
	LAB_CGREL_EXEMPT=$LAB_CG_REL/prot/exempt
	LAB_CGREL_OTHER=$LAB_CG_REL/other
	LAB_CGREL_AGENT=$LAB_CG_REL/agent
	LAB_CGREL_INFRA=$LAB_CG_REL/infra
	LAB_PIN=/sys/fs/bpf/tunlock-lab-$LAB_ID
	LAB_FORBIDDEN_NETNS=$(_lab_forbidden_netns)
	LAB_IPV6=0 LAB_DOT=0 LAB_CAP_N=0 LAB_CAP_FILES=() LAB_CAP_PIDS=() LAB_CAP_RX=() LAB_CAP_DROPS=0
	LAB_AGENT_PID='' LAB_AGENT_N=0 LAB_AGENT_OUT='' LAB_WG_PID='' LAB_TORN=0
	declare -gA LAB_PID=()
	mkdir -m 700 "$LAB_STATE" || { echo "cannot create $LAB_STATE" >&2; exit 1; }
	echo "$$" >"$LAB_STATE/owner"
	trap lab_teardown EXIT
	trap '_lab_signal INT 130' INT
	trap '_lab_signal TERM 143' TERM
	trap '_lab_signal HUP 129' HUP
}

_lab_signal() {
	echo "# $LAB_TEST: caught SIG$1, tearing the lab down" >&2
	exit "$2"
}

# The network namespaces the lab must never use: the harness's own (the lab always runs from
# outside its namespaces), pid 1's when this machine lets us read it, and init_net's fixed inode
# (0xEFFFFFF9 on kernels that have PROC_NET_INIT_INO). Computed in lab_init, as inode numbers.
_lab_forbidden_netns() {
	local ino l=
	ino=$(stat -L -c %i /proc/$$/ns/net 2>/dev/null) && l+=" $ino"
	ino=$(stat -L -c %i /proc/1/ns/net 2>/dev/null) && l+=" $ino"
	echo "$l 4026531833"
}

# true if network namespace NAME is missing or is one of the forbidden ones: never use it then
_lab_ns_unsafe() {
	local a x
	[ -n "$1" ] && [ -n "${LAB_FORBIDDEN_NETNS:-}" ] || return 0
	a=$(stat -L -c %i "/run/netns/$1" 2>/dev/null) || return 0
	[ -n "$a" ] || return 0
	for x in $LAB_FORBIDDEN_NETNS; do [ "$a" = "$x" ] && return 0; done
	return 1
}

# Guard run (through `sh -c "$LAB_GUARD_SH" lab-guard "$LAB_FORBIDDEN_NETNS" cmd...`) in the very
# process that becomes the agent, after it entered the netns: compares readlink /proc/self/ns/net
# with pid 1's (when readable) and with the forbidden list, and execs cmd only if it differs.
LAB_GUARD_SH='f=$1; shift
s=$(readlink /proc/self/ns/net); i=$(readlink /proc/1/ns/net 2>/dev/null)
bad=; [ -n "$s" ] || bad=unreadable; [ -n "$i" ] && [ "$s" = "$i" ] && bad="pid 1 netns"
for x in $f; do [ "$s" = "net:[$x]" ] && bad="initial/harness netns"; done
if [ -n "$bad" ]; then echo "lab: REFUSING to run $1 in $s ($bad)" >&2; exit 99; fi
exec "$@"'

_lab_preflight() {
	local t missing=
	for t in $LAB_TOOLS; do command -v "$t" >/dev/null || missing+=" $t"; done
	[ -x "$LAB_PY" ] || missing+=" python3"
	if [ -n "$missing" ]; then
		LAB_ERR="missing tools:$missing (install tests/lab/packages.txt: make deps)"
		return 1
	fi
	[ -n "$CG2_MNT" ] || { LAB_ERR="no cgroup2 mount in /proc/mounts"; return 1; }
	[ -c /dev/net/tun ] || { LAB_ERR="no /dev/net/tun (wireguard-go needs it)"; return 1; }
	return 0
}

_lab_bpffs() {
	if ! awk '$2 == "/sys/fs/bpf" && $3 == "bpf" { f = 1 } END { exit !f }' /proc/mounts; then
		mkdir -p /sys/fs/bpf 2>/dev/null
		_x mount -t bpf bpf /sys/fs/bpf || return 1
	fi
}

# ---------------------------------------------------------------- teardown
# lab_teardown: idempotent; leaves no namespace, process, cgroup, pin or file behind
lab_teardown() {
	local rc=$? pid name ns d i
	trap '' INT TERM HUP
	[ "${LAB_TORN:-1}" = 0 ] || return "$rc"
	LAB_TORN=1
	[ -n "${LAB_ID:-}" ] && [ -d "${LAB_STATE:-/nonexistent}" ] || return "$rc"
	_lab_log "teardown"
	# 1. the agent and its enforcement (from inside the client netns only)
	[ -n "$LAB_AGENT_PID" ] && _lab_kill "$LAB_AGENT_PID" 3
	_lab_guard_check
	if [ -e "$LAB_PIN" ] && lab_have_agent && ! _lab_ns_unsafe "$NS_CLIENT"; then
		lab_tunlock stop --pin-dir "$LAB_PIN" >>"$LAB_STATE/teardown.log" 2>&1 ||
			_lab_log "tunlock stop failed (see teardown.log); removing pins by hand"
	fi
	_lab_check_feed_schema
	# 2. processes: by pid (only ours), then whatever is left in the lab cgroup or namespaces
	if [ -f "$LAB_STATE/pids" ]; then
		while read -r pid name; do
			_lab_pid_alive "$pid" && _lab_kill "$pid" 2
		done < <(tac "$LAB_STATE/pids")
	fi
	_lab_kill_cgroup "$LAB_CG"
	if [ -f "$LAB_STATE/netns" ]; then
		while read -r ns; do
			for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
		done <"$LAB_STATE/netns"
	fi
	# 3. namespaces (and their interfaces, TC programs, nft tables)
	if [ -f "$LAB_STATE/netns" ]; then
		while read -r ns; do
			[ -e "/run/netns/$ns" ] && { ip netns del "$ns" 2>/dev/null || _lab_log "cannot delete netns $ns"; }
		done <"$LAB_STATE/netns"
	fi
	[ -n "${NS_CLIENT:-}" ] && rm -rf "/etc/netns/$NS_CLIENT"
	rmdir /etc/netns 2>/dev/null
	# 4. pins
	[ -n "${LAB_PIN:-}" ] && [ -e "$LAB_PIN" ] && rm -rf "$LAB_PIN"
	# the agent's selftest socket, should the agent have been killed before removing it
	[ -n "${LAB_PIN:-}" ] && rm -f "/run/tunlock/${LAB_PIN##*/}.selftest.sock"
	rmdir /run/tunlock 2>/dev/null
	# 5. cgroups, leaves first
	_lab_rm_cgroup "$LAB_CG"
	# 6. state: kept (renamed) when something failed or LAB_KEEP=1, else removed
	if [ "$LAB_NFAIL" -gt 0 ] || [ "$rc" -ne 0 ] || [ "${LAB_KEEP:-0}" = 1 ]; then
		d=${LAB_STATE%/*}/tunlock-lab-logs-$LAB_ID
		mv "$LAB_STATE" "$d" 2>/dev/null && echo "# $LAB_TEST: lab logs kept in $d" >&2
	else
		rm -rf "$LAB_STATE"
	fi
	return "$rc"
}

# Every event the lab's agents wrote (stdout, --events files and their rotated copies) must
# match the documented schema (docs/events.schema.json, docs/events-ecs.schema.json).
_lab_check_feed_schema() {
	local files=() f out
	for f in "$LAB_STATE"/agent*.out "$LAB_STATE"/*.events*; do
		[ -f "$f" ] && [ ! -p "$f" ] && [ -s "$f" ] && files+=("$f")
	done
	[ "${#files[@]}" -gt 0 ] || return 0
	if out=$("$LAB_PY" "$LAB_LIB_DIR/schema.py" "${files[@]}" 2>&1); then
		pass "${LAB_TEST}_event_schema"
		note "schema: $(echo "$out" | tail -1)"
	else
		fail "${LAB_TEST}_event_schema" "$(echo "$out" | head -3 | cut -c1-300 | tr '\n' '|')"
	fi
}

# _lab_kill_cgroup DIR: kill every process in the cgroup subtree DIR, wait (5 s) until empty
_lab_kill_cgroup() {
	local cg=$1 p
	[ -d "$cg" ] || return 0
	case $cg in */tunlock-lab-*) ;; *) _lab_log "refusing to kill cgroup $cg"; return 1 ;; esac
	if [ -e "$cg/cgroup.kill" ]; then
		echo 1 >"$cg/cgroup.kill" 2>/dev/null
	else
		find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null |
			while read -r p; do kill -KILL "$p" 2>/dev/null; done
	fi
	_lab_wait 5 grep -q '^populated 0' "$cg/cgroup.events" || _lab_log "cgroup $cg still populated"
}

_lab_rm_cgroup() {
	local cg=$1
	[ -d "$cg" ] || return 0
	case $cg in */tunlock-lab-*) ;; *) return 1 ;; esac
	find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
	[ -d "$cg" ] && _lab_log "cannot remove cgroup $cg"
}
