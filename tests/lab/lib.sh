# shellcheck shell=bash disable=SC2034,SC2120
# (SC2034, SC2120: the constants and helper arguments are used by the tests that source this)
# tunlock leak lab: network namespaces, a real WireGuard VPN (wireguard-go), an ISP with a
# resolver, an "internet" with hosts, a capture on the ISP side of the client's uplink(s),
# and helpers to run the agent and judge leaks. Sourced by tests/lab/t*.sh and the demo.
#
# Topology (every name carries the lab id, so two labs can run at once):
#
#   client ns                      isp ns (home router + ISP)               inet ns (core)
#   up0 10.213.0.2/24 ---veth--- c0 [br0 10.213.0.1/24] wan0 100.64.0.2/30 --- i0 100.64.0.1/30
#   up1 10.213.0.130/25 -veth--- c1 10.213.0.129/25     |   dnsmasq .0.1:53     lo 203.0.113.10 (http:80,
#   wg0 100.100.0.2/24 (wireguard-go)                  h0 (bridge port)           udp echo:7, sink:9)
#                                                       |                        lo 203.0.113.53 (dnsmasq)
#                                      lan ns: eth0 10.213.0.5/24 (http:80,     v0 198.51.100.1/24
#                                              udp echo:7)                        |
#                                                                  vpn ns: pub0 198.51.100.2/24
#                                                                  wg0 100.100.0.1/24, wireguard-go :51820,
#                                                                  dnsmasq 100.100.0.1:53, nft masquerade
#   with --ipv6: client fd13:213::2/64 via fd13:213::1 (ISP NAT66 to 2001:db8:64::2),
#   internet host 2001:db8:203::10; the tunnel stays IPv4-only (the "ipv6" leak class) unless
#   lab_tunnel_up --ipv6 gives it 2001:db8:101::2/64 (VPN server NAT66 to 2001:db8:100::2).
#
# Client routes: default via 10.213.0.1 metric 100; 198.51.100.2/32 via 10.213.0.1 dev up0
# (kept when the tunnel goes); with the tunnel up, 0.0.0.0/1 and 128.0.0.0/1 dev wg0. So
# deleting wg0 makes traffic fall back to the ISP: the classic tunnel-down leak.
# NAT tells the servers which way a packet came: source 198.51.100.2 = through the VPN,
# source 100.64.0.2 = past it, through the ISP.
#
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

# ---------------------------------------------------------------- results
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
	LAB_IPV6=0 LAB_DOT=0 LAB_CAP_N=0 LAB_CAP_FILES=() LAB_CAP_PIDS=() LAB_CAP_DROPS=0
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
	_lab_ns_unsafe "$NS_CLIENT" && { echo "lab: refusing: client netns missing or initial" >&2; return 2; }
	(
		echo "$BASHPID" >"$cg/cgroup.procs" || exit 126
		exec ip netns exec "$NS_CLIENT" "$@"
	)
}

# in_ns NS cmd...: run cmd in lab namespace NS (a name, or client|isp|vpn|inet|lan), cgroup infra
in_ns() {
	local ns
	ns=$(_lab_ns "$1") || return 2
	shift
	_lab_ns_unsafe "$ns" && { echo "lab: refusing: netns '$ns' missing or initial" >&2; return 2; }
	(
		echo "$BASHPID" >"$LAB_CG/infra/cgroup.procs" || exit 126
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

# ---------------------------------------------------------------- setup
# lab_setup [--lan-host] [--second-uplink-ready] [--ipv6] [--dns-tls]
#   --ipv6:       also the resolvers answer on IPv6: the ISP's on fd13:213::1, the tunnel's on
#                 2001:db8:101::1 (reached once lab_tunnel_up --ipv6 gives the tunnel IPv6)
#   --dns-tls:    DNS over TLS (port 853) in front of the ISP's and the tunnel's resolver
lab_setup() {
	local lanhost=0 up2=0 a
	for a in "$@"; do
		case $a in
		--lan-host) lanhost=1 ;;
		--second-uplink-ready) up2=1 ;;
		--ipv6) LAB_IPV6=1 ;;
		--dns-tls) LAB_DOT=1 ;;
		*) LAB_ERR="lab_setup: unknown option $a"; return 1 ;;
		esac
	done
	lab_init
	_lab_preflight || return 1
	_lab_bpffs || return 1
	_lab_log "setup: state $LAB_STATE, cgroup $LAB_CG, pins $LAB_PIN"

	# cgroups
	_x mkdir "$LAB_CG" || return 1
	echo "$LAB_CG" >"$LAB_STATE/cgroup"
	for a in infra agent other prot prot/vpn prot/apps prot/lan prot/exempt; do
		_x mkdir "$LAB_CG/$a" || return 1
	done

	# namespaces
	local ns nss=("$NS_CLIENT" "$NS_ISP" "$NS_VPN" "$NS_INET")
	[ "$lanhost" = 1 ] && nss+=("$NS_LAN")
	for ns in "${nss[@]}"; do
		_x ip netns add "$ns" || return 1
		echo "$ns" >>"$LAB_STATE/netns"
		_lab_ns_unsafe "$ns" && { LAB_ERR="netns $ns is not a new namespace"; return 1; }
		_x ip -n "$ns" link set lo up || return 1
		_lab_sysctl "$ns" net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 || return 1
		if [ "$LAB_IPV6" = 1 ]; then
			# no DAD, and the kernel's unsolicited MLD reports (a leak by the lab's definition)
			# over within milliseconds of an address appearing, so they end before any capture
			_lab_sysctl "$ns" net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
				net.ipv6.conf.default.mldv2_unsolicited_report_interval=10 \
				net.ipv6.conf.default.mldv1_unsolicited_report_interval=10 || return 1
		else
			_lab_sysctl "$ns" net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 || return 1
		fi
	done
	# ping takes an ICMP datagram socket (every group may, as systemd's sysctl defaults say),
	# not a raw socket, which a profile's raw_sockets: deny refuses
	_lab_sysctl "$NS_CLIENT" "net.ipv4.ping_group_range=0 2147483647" || return 1
	_lab_sysctl "$NS_ISP" net.ipv4.ip_forward=1 || return 1
	_lab_sysctl "$NS_INET" net.ipv4.ip_forward=1 || return 1
	_lab_sysctl "$NS_VPN" net.ipv4.ip_forward=1 || return 1
	if [ "$LAB_IPV6" = 1 ]; then
		_lab_sysctl "$NS_ISP" net.ipv6.conf.all.forwarding=1 || return 1
		_lab_sysctl "$NS_INET" net.ipv6.conf.all.forwarding=1 || return 1
		_lab_sysctl "$NS_VPN" net.ipv6.conf.all.forwarding=1 || return 1
	fi

	# links: created inside the lab namespaces, never in the initial one
	_x ip -n "$NS_ISP" link add c0 type veth peer name up0 netns "$NS_CLIENT" || return 1
	_x ip -n "$NS_ISP" link add wan0 type veth peer name i0 netns "$NS_INET" || return 1
	_x ip -n "$NS_VPN" link add pub0 type veth peer name v0 netns "$NS_INET" || return 1
	_x ip -n "$NS_ISP" link add br0 address "$LAB_ROUTER_MAC" type bridge || return 1
	_x ip -n "$NS_ISP" link set c0 master br0 || return 1
	_x ip -n "$NS_CLIENT" link set up0 address "$LAB_CLIENT_MAC" || return 1

	# isp: home router + ISP (NAT to 100.64.0.2), resolver at 10.213.0.1
	_x ip -n "$NS_ISP" addr add "$LAB_ROUTER_IP/24" dev br0 || return 1
	_x ip -n "$NS_ISP" addr add "$LAB_ISP_PUBLIC_IP/30" dev wan0 || return 1
	for a in br0 c0 wan0; do _x ip -n "$NS_ISP" link set "$a" up || return 1; done
	_x ip -n "$NS_ISP" route add default via "$LAB_INET_ISP_IP" || return 1

	# inet: core router and hosts
	_x ip -n "$NS_INET" addr add "$LAB_INET_ISP_IP/30" dev i0 || return 1
	_x ip -n "$NS_INET" addr add "$LAB_INET_VPN_IP/24" dev v0 || return 1
	_x ip -n "$NS_INET" addr add "$LAB_HOST_IP/32" dev lo || return 1
	_x ip -n "$NS_INET" addr add "$LAB_PUBDNS_IP/32" dev lo || return 1
	for a in i0 v0; do _x ip -n "$NS_INET" link set "$a" up || return 1; done

	# vpn server
	_x ip -n "$NS_VPN" addr add "$LAB_VPN_IP/24" dev pub0 || return 1
	_x ip -n "$NS_VPN" link set pub0 up || return 1
	_x ip -n "$NS_VPN" route add default via "$LAB_INET_VPN_IP" || return 1

	# client
	_x ip -n "$NS_CLIENT" addr add "$LAB_CLIENT_IP/24" dev up0 || return 1
	_x ip -n "$NS_CLIENT" link set up0 up || return 1
	_x ip -n "$NS_CLIENT" route add default via "$LAB_ROUTER_IP" dev up0 metric 100 || return 1
	_x ip -n "$NS_CLIENT" route add "$LAB_VPN_IP/32" via "$LAB_ROUTER_IP" dev up0 || return 1

	if [ "$LAB_IPV6" = 1 ]; then
		_x ip -n "$NS_ISP" addr add "$LAB_ROUTER6_IP/64" dev br0 nodad || return 1
		_x ip -n "$NS_ISP" addr add "$LAB_ISP6_WAN/64" dev wan0 nodad || return 1
		_x ip -n "$NS_ISP" -6 route add default via "$LAB_INET6_ISP" || return 1
		_x ip -n "$NS_INET" addr add "$LAB_INET6_ISP/64" dev i0 nodad || return 1
		_x ip -n "$NS_INET" addr add "$LAB_HOST6_IP/128" dev lo || return 1
		_x ip -n "$NS_CLIENT" addr add "$LAB_CLIENT6_IP/64" dev up0 nodad || return 1
		_x ip -n "$NS_CLIENT" -6 route add default via "$LAB_ROUTER6_IP" dev up0 metric 100 || return 1
		_x ip -n "$NS_INET" addr add "$LAB_INET6_VPN/64" dev v0 nodad || return 1
		_x ip -n "$NS_VPN" addr add "$LAB_VPN6_IP/64" dev pub0 nodad || return 1
		_x ip -n "$NS_VPN" -6 route add default via "$LAB_INET6_VPN" || return 1
	fi

	if [ "$lanhost" = 1 ]; then
		_x ip -n "$NS_ISP" link add h0 type veth peer name eth0 netns "$NS_LAN" || return 1
		_x ip -n "$NS_ISP" link set h0 master br0 || return 1
		_x ip -n "$NS_ISP" link set h0 up || return 1
		_x ip -n "$NS_LAN" addr add "$LAB_LANHOST_IP/24" dev eth0 || return 1
		_x ip -n "$NS_LAN" link set eth0 up || return 1
		_x ip -n "$NS_LAN" route add default via "$LAB_ROUTER_IP" || return 1
		if [ "$LAB_IPV6" = 1 ]; then
			_x ip -n "$NS_LAN" addr add "$LAB_LANHOST6_IP/64" dev eth0 nodad || return 1
		fi
	fi

	# NAT: ISP masquerades its customers, the VPN server masquerades the tunnel
	_lab_nat_rules wan0 ip 10.213.0.0/24 >"$LAB_STATE/isp.nft"
	[ "$LAB_IPV6" = 1 ] && _lab_nat_rules wan0 ip6 fd13:213::/64 >>"$LAB_STATE/isp.nft"
	_lab_nat_rules pub0 ip 100.100.0.0/24 >"$LAB_STATE/vpn.nft"
	[ "$LAB_IPV6" = 1 ] && _lab_nat_rules pub0 ip6 2001:db8:101::/64 >>"$LAB_STATE/vpn.nft"
	_x ip netns exec "$NS_ISP" nft -f "$LAB_STATE/isp.nft" || return 1
	_x ip netns exec "$NS_VPN" nft -f "$LAB_STATE/vpn.nft" || return 1

	# client's resolver: the ISP's, as DHCP would give it
	mkdir -p "/etc/netns/$NS_CLIENT" && echo "nameserver $LAB_ROUTER_IP" >"/etc/netns/$NS_CLIENT/resolv.conf" ||
		{ LAB_ERR="cannot write /etc/netns/$NS_CLIENT/resolv.conf"; return 1; }

	# servers
	local srv=(--stats "$LAB_STATE/inet-stats.json" --log "$LAB_STATE/inet-requests.log" --www "$LAB_LIB_DIR/www"
		--http "$LAB_HOST_IP:$LAB_HTTP_PORT" --udp-echo "$LAB_HOST_IP:$LAB_ECHO_PORT"
		--udp-sink "$LAB_HOST_IP:$LAB_SINK_PORT")
	[ "$LAB_IPV6" = 1 ] && srv+=(--http "[$LAB_HOST6_IP]:$LAB_HTTP_PORT"
		--udp-echo "[$LAB_HOST6_IP]:$LAB_ECHO_PORT" --udp-sink "[$LAB_HOST6_IP]:$LAB_SINK_PORT")
	_lab_spawn inet-srv infra ip netns exec "$NS_INET" "$LAB_PY" "$LAB_LIB_DIR/labsrv.py" "${srv[@]}"
	if [ "$lanhost" = 1 ]; then
		srv=(--stats "$LAB_STATE/lan-stats.json" --log "$LAB_STATE/lan-requests.log"
			--http "$LAB_LANHOST_IP:$LAB_HTTP_PORT" --udp-echo "$LAB_LANHOST_IP:$LAB_ECHO_PORT")
		_lab_spawn lan-srv infra ip netns exec "$NS_LAN" "$LAB_PY" "$LAB_LIB_DIR/labsrv.py" "${srv[@]}"
	fi
	local isp6=
	[ "$LAB_IPV6" = 1 ] && isp6=$LAB_ROUTER6_IP
	_lab_dnsmasq isp "$NS_ISP" "$LAB_MARK_ISP" "$LAB_MARK6_ISP" "$LAB_ROUTER_IP" $isp6 || return 1
	_lab_dnsmasq pubdns "$NS_INET" "$LAB_MARK_PUB" "$LAB_MARK6_PUB" "$LAB_PUBDNS_IP" || return 1

	# VPN server: wireguard-go on 198.51.100.2:51820, tunnel 100.100.0.1/24
	(umask 077 && for k in server client; do
		wg genkey >"$LAB_STATE/$k.key" && wg pubkey <"$LAB_STATE/$k.key" >"$LAB_STATE/$k.pub" || exit 1
	done) || { LAB_ERR="wg genkey failed"; return 1; }
	_lab_wg_start vpn-wg "$NS_VPN" infra || return 1
	local tun6=
	[ "$LAB_IPV6" = 1 ] && tun6=$LAB_TUN6_SERVER_IP
	_x _lab_wg "$NS_VPN" set wg0 private-key "$LAB_STATE/server.key" listen-port "$LAB_WG_PORT" \
		peer "$(cat "$LAB_STATE/client.pub")" allowed-ips "$LAB_TUN_CLIENT_IP/32,$LAB_TUN6_CLIENT_IP/128" || return 1
	_x ip -n "$NS_VPN" addr add "$LAB_TUN_SERVER_IP/24" dev wg0 || return 1
	if [ "$LAB_IPV6" = 1 ]; then
		_x ip -n "$NS_VPN" addr add "$LAB_TUN6_SERVER_IP/64" dev wg0 nodad || return 1
	fi
	_x ip -n "$NS_VPN" link set wg0 up || return 1
	_lab_dnsmasq tundns "$NS_VPN" "$LAB_MARK_TUN" "$LAB_MARK6_TUN" "$LAB_TUN_SERVER_IP" $tun6 || return 1
	if [ "$LAB_DOT" = 1 ]; then
		_lab_dot_start isp "$NS_ISP" "$LAB_ROUTER_IP" || return 1
		_lab_dot_start tundns "$NS_VPN" "$LAB_TUN_SERVER_IP" || return 1
	fi

	[ "$up2" = 1 ] && { _lab_uplink2_prepare || return 1; }

	_lab_wait 5 test -s "$LAB_STATE/inet-stats.json" || { LAB_ERR="internet servers did not start: $(tail -3 "$LAB_STATE/inet-srv.log")"; return 1; }
	if [ "$lanhost" = 1 ]; then
		_lab_wait 5 test -s "$LAB_STATE/lan-stats.json" || { LAB_ERR="LAN host server did not start: $(tail -3 "$LAB_STATE/lan-srv.log")"; return 1; }
	fi
	[ "$LAB_IPV6" = 1 ] && sleep 0.5 # let IPv6 router solicitations and MLD settle
	LAB_SETUP_DONE=1
	_lab_log "setup done"
}

# _lab_nat_rules OIF FAMILY SRC: nftables masquerade of SRC out of OIF
_lab_nat_rules() {
	cat <<EOF
table $2 labnat {
	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "$1" $2 saddr $3 masquerade
	}
}
EOF
}

_lab_sysctl() {
	local ns=$1 kv
	shift
	for kv in "$@"; do
		_x ip netns exec "$ns" sh -c "echo '${kv#*=}' > /proc/sys/$(echo "${kv%%=*}" | tr . /)" || return 1
	done
}

# _lab_listening NS udp|tcp ADDR PORT
_lab_listening() {
	local a=$3
	[[ $a == *:* ]] && a="[$a]"
	ip netns exec "$1" ss -Hln --"$2" "src $a and sport = :$4" 2>/dev/null | grep -q .
}

# _lab_dnsmasq NAME NS MARK MARK6 ADDR...: a resolver on ADDR... (UDP and TCP 53) that logs every
# query to $LAB_STATE/dns-NAME.log. Answers lab.test and *.lab.test with its marker MARK (and
# MARK6), so an answer tells which resolver gave it; refuses the rest.
_lab_dnsmasq() {
	local name=$1 ns=$2 mark=$3 mark6=$4 a listen=()
	shift 4
	for a in "$@"; do listen+=(--listen-address="$a"); done
	: >"$LAB_STATE/dns-$name.log"
	_lab_spawn "dnsmasq-$name" infra ip netns exec "$ns" dnsmasq -k --conf-file=/dev/null \
		--no-resolv --no-hosts --bind-interfaces "${listen[@]}" --port=53 \
		--user=root --group=root --pid-file="$LAB_STATE/dns-$name.pid" \
		--log-queries=extra --log-facility="$LAB_STATE/dns-$name.log" \
		--address=/lab.test/"$mark" --address=/lab.test/"$mark6"
	for a in "$@"; do
		_lab_wait 5 _lab_listening "$ns" udp "$a" 53 ||
			{ LAB_ERR="dnsmasq $name did not start on $a: $(tail -3 "$LAB_STATE/dns-$name.log" "$LAB_STATE/dnsmasq-$name.log" 2>&1 | tr '\n' ' ')"; return 1; }
	done
}

# lab_dhcp_server: the ISP's DHCP server on br0 (dnsmasq, leases 10.213.0.100-150), waits (5 s)
lab_dhcp_server() {
	_lab_spawn dhcpd infra ip netns exec "$NS_ISP" dnsmasq -k --conf-file=/dev/null --port=0 \
		--interface=br0 --dhcp-range=10.213.0.100,10.213.0.150,255.255.255.0,10m \
		--dhcp-leasefile="$LAB_STATE/dhcp.leases" --log-dhcp --log-facility="$LAB_STATE/dhcpd.log" \
		--user=root --group=root --pid-file="$LAB_STATE/dhcpd.pid"
	_lab_wait 5 _lab_listening "$NS_ISP" udp 0.0.0.0 67 || { LAB_ERR="the DHCP server did not start"; return 1; }
}

# _lab_dot_start NAME NS ADDR: DNS over TLS on ADDR:853 in front of the resolver NAME at ADDR:53
# (a self-signed certificate: dig +tls does not authenticate the server unless told to)
_lab_dot_start() {
	local name=$1 ns=$2 addr=$3
	if [ ! -s "$LAB_STATE/dot.crt" ]; then
		_x openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
			-subj /CN=resolver.lab.test -keyout "$LAB_STATE/dot.key" -out "$LAB_STATE/dot.crt" || return 1
	fi
	_lab_spawn "dot-$name" infra ip netns exec "$ns" "$LAB_PY" "$LAB_LIB_DIR/dotproxy.py" \
		--listen "$addr" --upstream "$addr" --cert "$LAB_STATE/dot.crt" --key "$LAB_STATE/dot.key"
	_lab_wait 5 _lab_listening "$ns" tcp "$addr" 853 ||
		{ LAB_ERR="DNS-over-TLS front end $name did not start: $(tail -3 "$LAB_STATE/dot-$name.log" | tr '\n' ' ')"; return 1; }
}

# wireguard-go and wg talk over /run/wireguard/IFACE.sock, which every network namespace
# shares: give each instance a private /run (a lab directory) in a private mount namespace,
# so that labs (and the client and server, both "wg0") never collide.
_lab_wg_rundir() { echo "$LAB_STATE/run-$1"; }
_lab_wg() {
	local ns=$1 dir
	shift
	dir=$(_lab_wg_rundir "$ns")
	mkdir -p "$dir"
	nsenter --net="/run/netns/$ns" -- unshare -m --propagation private -- \
		sh -c 'mount --bind "$0" /run && exec wg "$@"' "$dir" "$@"
}
# _lab_wg_start NAME NS CGROUP: wireguard-go -f wg0 in NS, in the lab cgroup CGROUP
_lab_wg_start() {
	local name=$1 ns=$2 cg=$3 dir
	_lab_ns_unsafe "$ns" && { LAB_ERR="refusing wireguard-go: netns $ns missing or initial"; return 1; }
	dir=$(_lab_wg_rundir "$ns")
	mkdir -p "$dir"
	rm -f "$dir/wireguard/wg0.sock"
	_lab_spawn "$name" "$cg" env WG_PROCESS_FOREGROUND=1 nsenter --net="/run/netns/$ns" -- \
		unshare -m --propagation private -- \
		sh -c 'mount --bind "$0" /run && exec wireguard-go -f wg0' "$dir"
	_lab_wait 5 test -S "$dir/wireguard/wg0.sock" ||
		{ LAB_ERR="wireguard-go in $ns did not start: $(tail -3 "$LAB_STATE/$name.log")"; return 1; }
	_lab_wait 3 ip -n "$ns" link show wg0 >/dev/null 2>&1 ||
		{ LAB_ERR="wireguard-go in $ns made no wg0"; return 1; }
}

# ---------------------------------------------------------------- tunnel
# lab_tunnel_up [--no-wait]: client wireguard-go (cgroup prot/vpn, fwmark 0xca6c, port 51821),
# wg0 100.100.0.2/24, routes 0.0.0.0/1 and 128.0.0.0/1 dev wg0. Unless --no-wait, waits (10 s)
# until a ping from prot/apps to 203.0.113.10 goes through.
lab_tunnel_up() {
	local wait=1 v6=0 allowed=0.0.0.0/0
	while [ $# -gt 0 ]; do
		case $1 in
		--no-wait) wait=0 ;;
		--ipv6) v6=1 allowed=0.0.0.0/0,::/0 ;;
		esac
		shift
	done
	ip -n "$NS_CLIENT" link show wg0 >/dev/null 2>&1 && lab_tunnel_down
	_lab_wg_start client-wg "$NS_CLIENT" vpn || return 1
	LAB_WG_PID=$LAB_SPAWNED_PID
	_x _lab_wg "$NS_CLIENT" set wg0 private-key "$LAB_STATE/client.key" listen-port "$LAB_WG_CLIENT_PORT" \
		fwmark "$LAB_WG_FWMARK" peer "$(cat "$LAB_STATE/server.pub")" \
		endpoint "$LAB_VPN_IP:$LAB_WG_PORT" allowed-ips "$allowed" || return 1
	_x ip -n "$NS_CLIENT" addr add "$LAB_TUN_CLIENT_IP/24" dev wg0 || return 1
	if [ "$v6" = 1 ]; then
		_x ip -n "$NS_CLIENT" addr add "$LAB_TUN6_CLIENT_IP/64" dev wg0 nodad || return 1
	fi
	_x ip -n "$NS_CLIENT" link set wg0 up || return 1
	_x ip -n "$NS_CLIENT" route add 0.0.0.0/1 dev wg0 || return 1
	_x ip -n "$NS_CLIENT" route add 128.0.0.0/1 dev wg0 || return 1
	if [ "$v6" = 1 ]; then
		_x ip -n "$NS_CLIENT" -6 route add ::/1 dev wg0 || return 1
		_x ip -n "$NS_CLIENT" -6 route add 8000::/1 dev wg0 || return 1
	fi
	[ "$wait" = 1 ] || return 0
	if ! _lab_wait 10 lab_tunnel_works; then
		LAB_ERR="tunnel did not carry traffic within 10 s"
		return 1
	fi
}

# one ping through the tunnel, from prot/apps
lab_tunnel_works() {
	in_client apps ping -n -q -c 1 -W 1 "$LAB_HOST_IP" >/dev/null 2>&1
}

# lab_tunnel_down [--crash]: delete wg0 and stop its wireguard-go (--crash: SIGKILL the
# VPN client only, and let wg0 vanish with it)
lab_tunnel_down() {
	if [ "${1:-}" = --crash ]; then
		[ -n "$LAB_WG_PID" ] && _lab_pid_alive "$LAB_WG_PID" && kill -KILL "$LAB_WG_PID"
	else
		ip -n "$NS_CLIENT" link del wg0 2>/dev/null
	fi
	if [ -n "$LAB_WG_PID" ]; then
		_lab_kill "$LAB_WG_PID" 3
		LAB_WG_PID=
	fi
	_lab_wait 3 eval '! ip -n "$NS_CLIENT" link show wg0 >/dev/null 2>&1' ||
		{ LAB_ERR="wg0 still there"; return 1; }
}

# lab_tunnel_flap [N] [DOWN_SECONDS]: N times tunnel down, wait, up (and wait for traffic)
lab_tunnel_flap() {
	local n=${1:-1} d=${2:-0.3} i
	for ((i = 1; i <= n; i++)); do
		lab_tunnel_down || return 1
		sleep "$d"
		lab_tunnel_up || { LAB_ERR="flap $i: $LAB_ERR"; return 1; }
	done
}

# ---------------------------------------------------------------- second uplink
# up1 is made in the isp ns (peer c1 10.213.0.129/25), parked there down, so that the capture
# can cover c1 before up1 appears in the client.
_lab_uplink2_prepare() {
	ip -n "$NS_ISP" link show c1 >/dev/null 2>&1 && return 0
	_x ip -n "$NS_ISP" link add c1 type veth peer name up1 || return 1
	_x ip -n "$NS_ISP" link set up1 address "$LAB_CLIENT2_MAC" || return 1
	_x ip -n "$NS_ISP" addr add "$LAB_ROUTER2_IP/25" dev c1 || return 1
	_x ip -n "$NS_ISP" link set c1 up || return 1
}

# lab_second_uplink [--no-ipv6]: up1 10.213.0.130/25 appears in the client, default via
# 10.213.0.129 metric 50 (better than up0's 100). The running capture (if any) covers it first.
# In an --ipv6 lab up1 gets IPv6 too (link-local: the kernel sends MLD reports, which count as
# leaks), unless --no-ipv6.
lab_second_uplink() {
	local v6=$LAB_IPV6
	[ "${1:-}" = --no-ipv6 ] && v6=0
	_lab_uplink2_prepare || return 1
	if [ "${#LAB_CAP_PIDS[@]}" -gt 0 ] && [[ " ${LAB_CAP_IFACES[*]} " != *" c1 "* ]]; then
		_lab_capture_iface c1 || return 1
	fi
	_x ip -n "$NS_ISP" link set up1 netns "$NS_CLIENT" || return 1
	[ "$v6" = 1 ] || _lab_sysctl "$NS_CLIENT" net.ipv6.conf.up1.disable_ipv6=1 || return 1
	_x ip -n "$NS_CLIENT" addr add "$LAB_CLIENT2_IP/25" dev up1 || return 1
	_x ip -n "$NS_CLIENT" link set up1 up || return 1
	_x ip -n "$NS_CLIENT" route add default via "$LAB_ROUTER2_IP" dev up1 metric 50 || return 1
}

# ---------------------------------------------------------------- STUN and WebRTC
LAB_STUN_PORT=3478
# lab_stun_servers: coturn STUN servers on the internet host (203.0.113.10:3478) and, in a
# --lan-host lab, on the LAN host (10.213.0.5:3478); logs to $LAB_STATE/turn-NAME.log
lab_stun_servers() {
	local name ns ip
	for name in inet lan; do
		case $name in
		inet) ns=$NS_INET ip=$LAB_HOST_IP ;;
		lan) [ -e "/run/netns/$NS_LAN" ] || continue; ns=$NS_LAN ip=$LAB_LANHOST_IP ;;
		esac
		_lab_spawn "turn-$name" infra ip netns exec "$ns" turnserver -n --stun-only --no-cli \
			--no-tls --no-dtls --listening-ip "$ip" --listening-port "$LAB_STUN_PORT" \
			--pidfile "$LAB_STATE/turn-$name.pid" --log-file stdout --simple-log
		_lab_wait 5 _lab_listening "$ns" udp "$ip" "$LAB_STUN_PORT" ||
			{ LAB_ERR="STUN server on $ip did not start: $(tail -3 "$LAB_STATE/turn-$name.log")"; return 1; }
	done
}

# lab_stun CGROUP HOST: coturn's STUN client; prints the reflexive address it learnt (empty
# when it got none), bounded to 10 s
lab_stun() {
	in_client "$1" timeout 10 turnutils_stunclient -p "$LAB_STUN_PORT" "$2" 2>&1 |
		sed -n 's/.*UDP reflexive addr: \([0-9.]*\):.*/\1/p' | head -1
}

# lab_webrtc CGROUP: headless Chromium (fresh profile, no background networking) opens the
# lab page that gathers ICE candidates against the internet STUN server; prints the candidate
# list the page reported to the server (a JSON array), or nothing. Bounded to 40 s.
lab_webrtc() {
	local cg=$1 prof url i
	prof=$(mktemp -d "$LAB_STATE/chromium.XXXXXX")
	url="http://$LAB_HOST_IP/www/webrtc.html?stun=$LAB_HOST_IP:$LAB_STUN_PORT"
	_lab_spawn "chromium-$(basename "$prof")" "prot/${cg#prot/}" nsenter --net="/run/netns/$NS_CLIENT" -- \
		timeout 40 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--disable-dev-shm-usage --user-data-dir="$prof" "$url"
	for i in $(seq 200); do
		grep -q '/report?' "$LAB_STATE/inet-requests.log" 2>/dev/null && break
		sleep 0.2
	done
	_lab_kill "$LAB_SPAWNED_PID" 2
	grep '/report?' "$LAB_STATE/inet-requests.log" 2>/dev/null | tail -1 |
		sed 's/.*&c=//' | "$LAB_PY" -c 'import sys, urllib.parse; print(urllib.parse.unquote(sys.stdin.read().strip()))'
}

# ---------------------------------------------------------------- capture and leaks
LAB_CAP_IFACES=()
_lab_capture_iface() {
	local ifc=$1 f name
	name=cap$LAB_CAP_N-$ifc
	f=$LAB_STATE/$name.pcap
	_lab_spawn "$name" infra ip netns exec "$NS_ISP" tcpdump -i "$ifc" --immediate-mode -U -n -s 512 -B 8192 -Z root -w "$f"
	LAB_CAP_PIDS+=("$LAB_SPAWNED_PID")
	LAB_CAP_FILES+=("$f")
	LAB_CAP_IFACES+=("$ifc")
	if ! _lab_wait 5 grep -qs "listening on $ifc" "$LAB_STATE/$name.log"; then
		LAB_ERR="tcpdump on $ifc did not start: $(tail -2 "$LAB_STATE/$name.log")"
		return 1
	fi
}

# lab_capture_start: tcpdump on the isp-side end of every client uplink (c0, and c1 if it exists)
lab_capture_start() {
	local ifc
	[ "${#LAB_CAP_PIDS[@]}" -gt 0 ] && lab_capture_stop
	LAB_CAP_N=$((LAB_CAP_N + 1)) LAB_CAP_FILES=() LAB_CAP_PIDS=() LAB_CAP_IFACES=() LAB_CAP_DROPS=0
	for ifc in c0 c1; do
		ip -n "$NS_ISP" link show "$ifc" >/dev/null 2>&1 || continue
		_lab_capture_iface "$ifc" || return 1
	done
}

# _lab_capture_sync IFACE PCAP: send an end marker out of IFACE (isp ns) and wait until the
# capture has written it: then it holds every packet that crossed IFACE before. The marker is an
# experimental-ethertype frame to a MAC nobody has, from a MAC that is not the client's: no leak.
_lab_capture_sync() {
	local tok
	tok=lab-capture-end-$LAB_ID-$RANDOM$RANDOM
	in_ns isp "$LAB_PY" -c 'import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
s.send(bytes.fromhex("02dead0000ee02dead0000ef88b5") + sys.argv[2].encode().ljust(46, b"\0"))' "$1" "$tok" ||
		{ _lab_log "capture marker on $1 not sent"; return 1; }
	_lab_wait 10 grep -qaF "$tok" "$2" || { _lab_log "capture on $1 did not write its end marker"; return 1; }
}

# lab_capture_stop: stop the capture (flushes), LAB_CAP_DROPS = packets the kernel dropped
# (a capture that never wrote its end marker counts as one that dropped a packet)
lab_capture_stop() {
	local pid i d synced=()
	for i in "${!LAB_CAP_IFACES[@]}"; do
		_lab_capture_sync "${LAB_CAP_IFACES[$i]}" "${LAB_CAP_FILES[$i]}"
		synced[i]=$?
	done
	for pid in "${LAB_CAP_PIDS[@]}"; do _lab_kill "$pid" 5; done
	LAB_CAP_DROPS=0
	for i in "${!LAB_CAP_IFACES[@]}"; do
		d=$(sed -n 's/^\([0-9]*\) packets\{0,1\} dropped by kernel.*/\1/p' "$LAB_STATE/cap$LAB_CAP_N-${LAB_CAP_IFACES[$i]}.log")
		LAB_CAP_DROPS=$((LAB_CAP_DROPS + ${d:-0} + synced[i]))
	done
	LAB_CAP_PIDS=()
}

_lab_f_client="(ether src $LAB_CLIENT_MAC or ether src $LAB_CLIENT2_MAC)"
# WireGuard transport: udp from the client's wireguard-go port to the endpoint, WireGuard
# message type 1-4 followed by three zero bytes (so an ordinary process's datagram to
# 198.51.100.2:51820 is a leak, not "transport")
_lab_f_wg="(udp and dst host $LAB_VPN_IP and dst port $LAB_WG_PORT and src port $LAB_WG_CLIENT_PORT and udp[8] >= 1 and udp[8] <= 4 and udp[9:2] = 0 and udp[11] = 0)"
# network basics, each only in its own shape (docs/policy.md, "Network basics"): DHCP to the
# broadcast or a LAN server, DHCPv6 to ff02::1:2 or link-local, NDP with hop limit 255 to
# link-local, ff02::/16 or (the kernel's NS/NA) a neighbour on the client's LAN, ARP no longer
# than the minimum frame, EAPOL, PPPoE discovery
_lab_f_always="((arp and len <= 60) or ether proto 0x888e or ether proto 0x8863 or (udp and src port 68 and dst port 67 and (dst host 255.255.255.255 or dst net 10.0.0.0/8 or dst net 172.16.0.0/12 or dst net 192.168.0.0/16 or dst net 169.254.0.0/16)) or (ip6 and udp and src port 546 and dst port 547 and (dst host ff02::1:2 or dst net fe80::/10)) or (ip6 and ip6[6] = 58 and ip6[7] = 255 and ip6[40] >= 133 and ip6[40] <= 136 and (dst net fe80::/10 or dst net ff02::/16 or dst net fd13:213::/64)))"
# the policy's fixed LAN ranges (docs/policy.md, profiles[].lan)
_lab_f_lan="(dst net 10.0.0.0/8 or dst net 172.16.0.0/12 or dst net 192.168.0.0/16 or dst net 169.254.0.0/16 or dst net 224.0.0.0/4 or dst host 255.255.255.255 or dst net fc00::/7 or dst net fe80::/10 or dst net ff00::/8)"

# lab_leaks [--allow-lan]: print the leak packets of the current (or last) capture, one per
# line, prefixed with the isp-side interface. A leak: a packet the client sent on an uplink
# that is not WireGuard transport to 198.51.100.2:51820 or a network basic (DHCP, ARP, EAPOL,
# NDP, PPPoE discovery, as _lab_f_always shapes them); with --allow-lan, packets to the LAN
# ranges don't count either.
lab_leaks() {
	local flt="$_lab_f_client and not $_lab_f_wg and not $_lab_f_always" i
	[ "${1:-}" = --allow-lan ] && flt+=" and not $_lab_f_lan"
	# traffic the test allows on purpose (e.g. an exempt container's own SNAT address)
	[ -n "${LAB_LEAK_EXCLUDE:-}" ] && flt+=" and not ($LAB_LEAK_EXCLUDE)"
	for i in "${!LAB_CAP_FILES[@]}"; do
		[ -s "${LAB_CAP_FILES[$i]}" ] || continue
		tcpdump -r "${LAB_CAP_FILES[$i]}" -nn -tt -v "$flt" 2>/dev/null |
			awk -v p="${LAB_CAP_IFACES[$i]}" '/^[0-9]/ { if (l != "") print l; l = p ": " $0; next }
				{ sub(/^ +/, " "); l = l $0 } END { if (l != "") print l }'
	done
}
lab_leak_count() { lab_leaks "$@" | wc -l; }

# lab_cap_count FILTER: packets of the current (or last) capture that match the tcpdump FILTER
lab_cap_count() {
	local f n=0 c
	for f in "${LAB_CAP_FILES[@]}"; do
		[ -s "$f" ] || continue
		c=$(tcpdump -r "$f" -nn "$1" 2>/dev/null | grep -c '^[0-9]')
		n=$((n + c))
	done
	echo "$n"
}

# lab_wg_count: WireGuard transport packets the client sent in the current capture
lab_wg_count() { lab_cap_count "$_lab_f_client and $_lab_f_wg"; }

# expect_captured NAME OP N FILTER WHAT: after lab_capture_stop, PASS NAME if the number of the
# client's packets that match FILTER is OP (-eq, -ge) N; WHAT names them in the message
expect_captured() {
	local n
	n=$(lab_cap_count "$_lab_f_client and ($4)")
	check "$1" "$n $5 on the uplink (want $2 $3)" [ "$n" "$2" "$3" ]
}

# expect_no_leaks NAME [--allow-lan]: stop the capture, then PASS NAME if it saw no leak and
# dropped nothing, else FAIL with the first leaks
expect_no_leaks() {
	local name=$1 n leaks
	shift
	[ "${#LAB_CAP_PIDS[@]}" -gt 0 ] && lab_capture_stop
	leaks=$(lab_leaks "$@")
	n=$(printf '%s' "$leaks" | grep -c .)
	if [ "$LAB_CAP_DROPS" -gt 0 ]; then
		fail "$name" "capture dropped $LAB_CAP_DROPS packets: verdict unknown"
	elif [ "$n" -eq 0 ]; then
		pass "$name"
	else
		fail "$name" "$n leak packet(s) on the uplink, first: $(printf '%s\n' "$leaks" | head -3 | cut -c1-220 | tr '\n' '|')"
	fi
}

# ---------------------------------------------------------------- servers' view
# lab_server_count KIND [SRC] [HOST]: requests/datagrams the internet host (or the LAN host,
# HOST=lan) got: KIND http|echo|sink; SRC an address, or vpn (198.51.100.2) or isp (100.64.0.2)
lab_server_count() {
	local kind=$1 src=${2:-} f=$LAB_STATE/inet-stats.json
	[ "${3:-}" = lan ] && f=$LAB_STATE/lan-stats.json
	case $src in vpn) src=$LAB_VPN_IP ;; isp) src=$LAB_ISP_PUBLIC_IP ;; esac
	"$LAB_PY" - "$f" "$kind" "$src" <<'EOF'
import json, sys
try:
    d = json.load(open(sys.argv[1])).get(sys.argv[2], {})
except Exception:
    d = {}
src = sys.argv[3]
print(sum(d.values()) if not src else d.get(src, 0))
EOF
}
# lab_server_more KIND SRC N [HOST]: true when the server counts more than N (for _lab_wait)
lab_server_more() { [ "$(lab_server_count "$1" "$2" "${4:-}")" -gt "$3" ]; }
# lab_server_sync [lan]: wait until the internet (or LAN) host's stats hold all it received so
# far: a datagram from the host to its own sink (LAN: echo) is counted after what came before it
lab_server_sync() {
	local ns=inet ip=$LAB_HOST_IP port=$LAB_SINK_PORT kind=sink n
	[ "${1:-}" = lan ] && ns=lan ip=$LAB_LANHOST_IP port=$LAB_ECHO_PORT kind=echo
	n=$(lab_server_count "$kind" "$ip" "${1:-}")
	in_ns "$ns" bash -c 'echo sync >"/dev/udp/$0/$1"' "$ip" "$port" &&
		_lab_wait 5 lab_server_more "$kind" "$ip" "$n" "${1:-}"
}

# lab_dns_queries NAME: queries logged by the resolver NAME (isp, tundns, pubdns, stub)
lab_dns_queries() { grep -c 'query\[' "$LAB_STATE/dns-$1.log" 2>/dev/null || true; }

# lab_dns CGROUP SERVER [dnsprobe args]: one query for lab.test from the client (dnsprobe.py,
# JSON on stdout: answers, from, peer, error, elapsed)
lab_dns() {
	local cg=$1
	shift
	in_client "$cg" "$LAB_PY" "$LAB_LIB_DIR/dnsprobe.py" "$@"
}

# expect_dns_answer NAME RESULT ANSWER SERVER: PASS if the dnsprobe RESULT got ANSWER and the
# answer's source (and, for connected sockets, the peer) reads as SERVER: the server the
# application asked, whichever resolver really answered
expect_dns_answer() {
	local name=$1 r=$2 want=$3 server=$4 got from peer
	got=$(lab_json_get "$r" answer) from=$(lab_json_get "$r" from) peer=$(lab_json_get "$r" peer)
	if [ "$got" = "$want" ] && [ "$from" = "$server" ] && { [ -z "$peer" ] || [ "$peer" = "$server" ]; }; then
		pass "$name"
	else
		fail "$name" "want answer $want from $server, got: $r"
	fi
}

# expect_dns_eperm NAME RESULT [MAX_MS]: PASS if the dnsprobe RESULT failed with EPERM within
# MAX_MS (default 1000): a fast, explicit error, not a timeout
expect_dns_eperm() {
	local name=$1 r=$2 max=${3:-1000} err ms
	err=$(lab_json_get "$r" error)
	ms=$("$LAB_PY" -c 'import sys; print(int(float(sys.argv[1] or 99) * 1000))' "$(lab_json_get "$r" elapsed)")
	if [ "$err" = EPERM ] && [ "$ms" -le "$max" ]; then
		pass "$name"
	else
		fail "$name" "want EPERM within $max ms, got: $r"
	fi
}

# expect_dns_logged NAME RESOLVER BEFORE OP N: PASS if the queries RESOLVER (isp, tundns, pubdns,
# stub) logged since it had BEFORE compare to N with OP (-eq, -ge, ...)
expect_dns_logged() {
	local name=$1 res=$2 before=$3 op=$4 want=$5 n
	# dnsmasq writes its log after it answers: wait for what a test expects to see; a test that
	# expects nothing gets a grace period (there is no event to wait for)
	case $op in
	-gt | -ge) _lab_wait 3 eval '[ $(( $(lab_dns_queries "$res") - before )) "$op" "$want" ]' ;;
	*) sleep 0.2 ;;
	esac
	n=$(( $(lab_dns_queries "$res") - before ))
	check "$name" "resolver $res logged $n new quer(y/ies), want $op $want: $(tail -n 2 "$LAB_STATE/dns-$res.log" | cut -c1-120 | tr '\n' '|')" \
		[ "$n" "$op" "$want" ]
}

# lab_stub_start [CGROUP]: a local stub resolver in the client, dnsmasq on 127.0.0.53 forwarding
# to the ISP's resolver, in lab cgroup CGROUP (default apps: protected). Logs to dns-stub.log.
lab_stub_start() {
	local cg=${1:-apps}
	: >"$LAB_STATE/dns-stub.log"
	_lab_ns_unsafe "$NS_CLIENT" && { LAB_ERR="refusing: client netns missing or initial"; return 1; }
	_lab_spawn dnsmasq-stub "$cg" ip netns exec "$NS_CLIENT" dnsmasq -k --conf-file=/dev/null \
		--no-resolv --no-hosts --bind-interfaces --listen-address="$LAB_STUB_IP" --port=53 \
		--user=root --group=root --pid-file="$LAB_STATE/dns-stub.pid" --no-negcache --cache-size=0 \
		--log-queries=extra --log-facility="$LAB_STATE/dns-stub.log" --server="$LAB_ROUTER_IP"
	_lab_wait 5 _lab_listening "$NS_CLIENT" udp "$LAB_STUB_IP" 53 ||
		{ LAB_ERR="stub dnsmasq did not start: $(tail -3 "$LAB_STATE/dnsmasq-stub.log" 2>&1 | tr '\n' ' ')"; return 1; }
}

# ---------------------------------------------------------------- client traffic helpers
# lab_curl CGROUP URL [curl args]: prints the http code (000 on failure), exit status of curl
lab_curl() {
	local cg=$1 url=$2
	shift 2
	in_client "$cg" curl -sS -o /dev/null -w '%{http_code}' --noproxy '*' -m 5 --connect-timeout 4 "$@" "$url"
}
# lab_ping CGROUP DST [ping args]: one ping, 2 s, silent; exit status of ping
lab_ping() {
	local cg=$1 dst=$2
	shift 2
	in_client "$cg" ping -n -q -c 1 -W 2 "$@" "$dst" >/dev/null 2>&1
}
# lab_probe CGROUP udp|tcp DST PORT [args]: netprobe.py (JSON result on stdout)
lab_probe() {
	local cg=$1
	shift
	in_client "$cg" "$LAB_PY" "$LAB_LIB_DIR/netprobe.py" "$@"
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

# lab_sender_start NAME [netprobe udp args...]: a steady UDP sender from prot/apps, default
# 250 pkt/s to 203.0.113.10:9 (the sink) for at most 300 s; lab_sender_stop NAME prints its
# JSON summary
lab_sender_start() {
	local name=$1
	shift
	[ $# -gt 0 ] || set -- "$LAB_HOST_IP" "$LAB_SINK_PORT" --rate 250 --duration 300
	_lab_ns_unsafe "$NS_CLIENT" && return 2
	_lab_spawn "$name" apps ip netns exec "$NS_CLIENT" "$LAB_PY" "$LAB_LIB_DIR/netprobe.py" udp "$@" \
		--progress "$LAB_STATE/$name.progress"
}
lab_sender_stop() {
	local pid=${LAB_PID[$1]:-}
	[ -n "$pid" ] && _lab_kill "$pid" 5
	tail -n 1 "$LAB_STATE/$1.log"
}

# ---------------------------------------------------------------- agent
# lab_write_policy FILE [--mode enforce|audit] [--lan allow|block] [--client cgroup|fwmark|both]
#                  [--no-socket enforce|allow] [--ipv6 tunnel|block] [--dns block|redirect|ordinary]
#                  [--events '{rate: N, burst: M}'] [--allow RULE] [--raw deny|allow]
#                  [--resolvers 'A, B']
# (--allow: one allow rule, e.g. '{cidr: 203.0.113.10/32}', for both profiles)
# A policy (docs/policy.md) for this lab's actual cgroups: attach at $LAB_CG/prot; prot/apps
# gets "locked" (or "lan-ok" with --lan allow), prot/lan "lan-ok", prot/exempt is exempt.
# --dns sets the DNS action of both profiles (default: the policy's default, block); the
# tunnel's resolvers are 100.100.0.1 (and 2001:db8:101::1 in an --ipv6 lab; --resolvers replaces
# the list); --raw sets raw_sockets of both profiles (default: the policy's default, deny).
lab_write_policy() {
	local f=$1 mode=enforce lan=block client=both nosock=enforce appsprof=locked ipv6=tunnel dns=
	local events='' allow='' raw='' resolvers=$LAB_TUN_SERVER_IP
	[ "$LAB_IPV6" = 1 ] && resolvers="$LAB_TUN_SERVER_IP, \"$LAB_TUN6_SERVER_IP\""
	shift
	while [ $# -gt 0 ]; do
		case $1 in
		--events) events=$2; shift ;;
		--allow) allow=$2; shift ;;
		--raw) raw=$2; shift ;;
		--resolvers) resolvers=$2; shift ;;
		--mode) mode=$2; shift ;;
		--lan) lan=$2; shift ;;
		--client) client=$2; shift ;;
		--no-socket) nosock=$2; shift ;;
		--ipv6) ipv6=$2; shift ;;
		--dns) dns=$2; shift ;;
		*) echo "lab_write_policy: unknown option $1" >&2; return 2 ;;
		esac
		shift
	done
	[ "$lan" = allow ] && appsprof='lan-ok'
	{
		echo "# tunlock leak lab policy, lab $LAB_ID"
		echo "mode: $mode"
		echo "attach_cgroup: $LAB_CGREL_PROT"
		echo "no_socket: $nosock"
		echo "tunnels:"
		echo "  - name: lab"
		echo "    interface: wg0"
		echo "    endpoints:"
		echo "      - address: $LAB_VPN_IP"
		echo "        port: $LAB_WG_PORT"
		echo "        protocol: udp"
		echo "    client:"
		[ "$client" != fwmark ] && echo "      cgroup: $LAB_CGREL_VPN"
		[ "$client" != cgroup ] && echo "      fwmark: $LAB_WG_FWMARK"
		echo "    resolvers: [$resolvers]"
		echo "profiles:"
		echo "  - name: locked"
		echo "    lan: block"
		echo "    ipv6: $ipv6"
		[ -n "$allow" ] && echo "    allow: [$allow]"
		[ -n "$dns" ] && echo "    dns: $dns"
		[ -n "$raw" ] && echo "    raw_sockets: $raw"
		echo "  - name: lan-ok"
		echo "    lan: allow"
		[ -n "$allow" ] && echo "    allow: [$allow]"
		[ -n "$dns" ] && echo "    dns: $dns"
		[ -n "$raw" ] && echo "    raw_sockets: $raw"
		echo "cgroups:"
		echo "  - path: $LAB_CGREL_PROT"
		echo "    profile: locked"
		echo "  - path: $LAB_CGREL_APPS"
		echo "    profile: $appsprof"
		echo "  - path: $LAB_CGREL_LAN"
		echo "    profile: lan-ok"
		echo "  - path: $LAB_CGREL_EXEMPT"
		echo "    exempt: true"
		[ -z "$events" ] || echo "events: $events"
	} >"$f"
}

# The agent enters the client netns with nsenter, not `ip netns exec`: that one remounts /sys
# for the netns, which hides the cgroup2 mount and bpffs under /sys/fs.
_lab_agent_exec() {
	exec nsenter --net="/run/netns/$NS_CLIENT" -- sh -c "$LAB_GUARD_SH" lab-guard "$LAB_FORBIDDEN_NETNS" "$@"
}

# lab_tunlock ARGS...: run the tunlock CLI inside the client netns, cgroup agent (bounded 20 s)
lab_tunlock() {
	_lab_ns_unsafe "$NS_CLIENT" && { echo "lab: refusing tunlock outside the client netns" >&2; return 2; }
	(
		echo "$BASHPID" >"$LAB_CG/agent/cgroup.procs" || exit 126
		_lab_agent_exec timeout -k 2 20 "$TUNLOCK" "$@"
	)
}

lab_have_agent() { [ -x "$TUNLOCK" ]; }

# lab_agent_start POLICY_FILE [RUN_ARGS...]: tunlock run -c FILE --pin-dir $LAB_PIN RUN_ARGS in
# the client netns, process in $LAB_CG/agent, events (stdout, or the file of --events) in
# $LAB_AGENT_OUT; waits (15 s) until `tunlock status --pin-dir` exits 0. Refuses to run in the
# initial network namespace.
lab_agent_start() {
	local policy=$1 a prev=
	shift
	lab_have_agent || { LAB_ERR="no tunlock binary at $TUNLOCK"; return 1; }
	[ -r "$policy" ] || { LAB_ERR="no policy file $policy"; return 1; }
	if _lab_ns_unsafe "$NS_CLIENT"; then
		LAB_ERR="REFUSED: client netns '${NS_CLIENT}' missing or the initial network namespace"
		_lab_log "$LAB_ERR"
		return 1
	fi
	if [ -n "$LAB_AGENT_PID" ] && _lab_pid_alive "$LAB_AGENT_PID"; then
		LAB_ERR="an agent is already running (pid $LAB_AGENT_PID)"
		return 1
	fi
	"$LAB_PY" "$LAB_LIB_DIR/labguard.py" snapshot "$CG2_MNT" "$LAB_STATE/guard.snap" ||
		{ LAB_ERR="labguard snapshot failed"; return 1; }
	LAB_AGENT_N=$((LAB_AGENT_N + 1))
	LAB_AGENT_OUT=$LAB_STATE/agent$LAB_AGENT_N.out
	for a in "$@"; do
		[ "$prev" = --events ] && LAB_AGENT_OUT=$a
		prev=$a
	done
	(
		echo "$BASHPID" >"$LAB_CG/agent/cgroup.procs" || exit 126
		_lab_agent_exec "$TUNLOCK" run -c "$policy" --pin-dir "$LAB_PIN" "$@"
	) </dev/null >"$LAB_STATE/agent$LAB_AGENT_N.out" 2>"$LAB_STATE/agent$LAB_AGENT_N.err" &
	LAB_AGENT_PID=$!
	LAB_PID[agent$LAB_AGENT_N]=$LAB_AGENT_PID
	echo "$LAB_AGENT_PID agent$LAB_AGENT_N" >>"$LAB_STATE/pids"
	local i
	for ((i = 0; i < 150; i++)); do
		if ! _lab_pid_alive "$LAB_AGENT_PID"; then
			wait "$LAB_AGENT_PID" 2>/dev/null
			LAB_ERR="agent exited during start: $(tail -3 "$LAB_STATE/agent$LAB_AGENT_N.err" | tr '\n' ' ')"
			LAB_AGENT_PID=
			_lab_guard_check
			return 1
		fi
		# enforcing, and by this agent (not only pins an earlier one left)
		grep -q 'enforcing; events follow' "$LAB_STATE/agent$LAB_AGENT_N.err" &&
			lab_tunlock status --pin-dir "$LAB_PIN" >/dev/null 2>&1 && break
		sleep 0.1
	done
	if ! _lab_guard_check; then
		LAB_ERR="SAFETY: the agent attached BPF programs outside the lab cgroup (rescued)"
		return 1
	fi
	((i < 150)) || { LAB_ERR="tunlock status not ready within 15 s: $(tail -3 "$LAB_STATE/agent$LAB_AGENT_N.err" | tr '\n' ' ')"; return 1; }
	_lab_log "agent $LAB_AGENT_N up, pid $LAB_AGENT_PID"
}

# any BPF program attached outside the lab cgroups since the snapshot: stop the agent, detach
# them, say so loudly. Returns 1 if there was one.
_lab_guard_check() {
	[ -f "$LAB_STATE/guard.snap" ] || return 0
	local out rc
	out=$("$LAB_PY" "$LAB_LIB_DIR/labguard.py" check "$CG2_MNT" "$LAB_STATE/guard.snap" 2>&1)
	rc=$?
	[ "$rc" -eq 3 ] || return 0
	echo "FAIL: lab_safety: BPF attached outside the lab cgroup: $(echo "$out" | head -3 | tr '\n' ' ')"
	LAB_NFAIL=$((LAB_NFAIL + 1))
	[ -n "$LAB_AGENT_PID" ] && kill -KILL "$LAB_AGENT_PID" 2>/dev/null
	lab_have_agent && lab_tunlock stop --pin-dir "$LAB_PIN" >/dev/null 2>&1
	"$LAB_PY" "$LAB_LIB_DIR/labguard.py" check "$CG2_MNT" "$LAB_STATE/guard.snap" --rescue >&2
	return 1
}

# lab_agent_kill9: SIGKILL the agent (enforcement stays pinned)
lab_agent_kill9() {
	[ -n "$LAB_AGENT_PID" ] || return 0
	kill -KILL "$LAB_AGENT_PID" 2>/dev/null
	_lab_wait 3 eval '! _lab_pid_alive '"$LAB_AGENT_PID"
	wait "$LAB_AGENT_PID" 2>/dev/null
	LAB_AGENT_PID=
}

# lab_agent_stop: SIGTERM the agent (5 s, then SIGKILL), then `tunlock stop --pin-dir`
lab_agent_stop() {
	[ -n "$LAB_AGENT_PID" ] && _lab_kill "$LAB_AGENT_PID" 5
	LAB_AGENT_PID=
	lab_have_agent || return 0
	lab_tunlock stop --pin-dir "$LAB_PIN"
}

# lab_events_mark: the current length of the agent's event output (for lab_events --after)
lab_events_mark() { [ -f "$LAB_AGENT_OUT" ] && wc -l <"$LAB_AGENT_OUT" || echo 0; }
# lab_events [--after MARK] [--wait S] [--min K] [--show] KEY=VALUE...: count matching events
lab_events() {
	local after=0 wait=0 min=1 show='' has='' conds=()
	while [ $# -gt 0 ]; do
		case $1 in
		--after) after=$2; shift 2 ;;
		--has) has=$2; shift 2 ;;
		--wait) wait=$2; shift 2 ;;
		--min) min=$2; shift 2 ;;
		--show) show=--show; shift ;;
		*) conds+=("$1"); shift ;;
		esac
	done
	"$LAB_PY" "$LAB_LIB_DIR/events.py" "$LAB_AGENT_OUT" --skip "$after" --wait "$wait" --min "$min" \
		--has "$has" $show -- "${conds[@]}"
}

# the event fields every event must carry (docs/events.md)
LAB_EVENT_KEYS=time,reason,verdict,layer,hook,protocol,family,src,sport,dst,dport,interface,pid,comm,cgroup,profile,tunnel

# lab_agent_reload [lab_write_policy options]: rewrite $LAB_STATE/policy.yaml, SIGHUP the agent
# and wait (10 s) until the policy generation has moved on
lab_agent_reload() {
	local gen0 gen i
	gen0=$(lab_json_get "$(lab_tunlock status --json --pin-dir "$LAB_PIN" 2>/dev/null)" generation)
	lab_write_policy "$LAB_STATE/policy.yaml" "$@" || { LAB_ERR="cannot write the lab policy"; return 1; }
	# status answers from the pins at once after a restart: SIGHUP kills an agent that has not
	# taken over its signals yet, so wait for it to say it is enforcing
	_lab_wait 10 grep -q 'enforcing;' "$LAB_STATE/agent$LAB_AGENT_N.err" ||
		{ LAB_ERR="agent $LAB_AGENT_N never said it was enforcing"; return 1; }
	[ -n "$LAB_AGENT_PID" ] && kill -HUP "$LAB_AGENT_PID" 2>/dev/null || { LAB_ERR="no agent to reload"; return 1; }
	for ((i = 0; i < 100; i++)); do
		gen=$(lab_json_get "$(lab_tunlock status --json --pin-dir "$LAB_PIN" 2>/dev/null)" generation)
		[ -n "$gen" ] && [ "$gen" != "$gen0" ] && return 0
		sleep 0.1
	done
	LAB_ERR="policy generation still ${gen:-?} 10 s after SIGHUP: $(tail -3 "$LAB_STATE/agent$LAB_AGENT_N.err" | tr '\n' ' ')"
	return 1
}

# lab_agent_up [lab_write_policy options]: write $LAB_STATE/policy.yaml, `tunlock check` it, start
# the agent; on any failure a FAIL line and exit (lab_abort)
lab_agent_up() {
	local out
	lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
	lab_write_policy "$LAB_STATE/policy.yaml" "$@" || lab_abort "cannot write the lab policy"
	out=$(lab_tunlock check -c "$LAB_STATE/policy.yaml" 2>&1) ||
		lab_abort "tunlock check rejects the lab policy: $(echo "$out" | head -3 | tr '\n' ' ')"
	lab_agent_start "$LAB_STATE/policy.yaml" || lab_abort "agent start: $LAB_ERR"
}

# expect_event NAME MARK KEY=VALUE...: PASS if an event after MARK matches (waits 3 s), else FAIL
# naming what was looked for and what came instead
expect_event() {
	local name=$1 mark=$2 n
	shift 2
	n=$(lab_events --after "$mark" --wait 3 "$@")
	if [ "${n:-0}" -ge 1 ]; then
		pass "$name"
	else
		fail "$name" "no event with $* (events since the attempt: $(tail -n +"$((mark + 1))" "$LAB_AGENT_OUT" 2>/dev/null |
			head -3 | cut -c1-240 | tr '\n' '|'))"
	fi
}
# protocol values an event may use for a protocol name
LAB_P_TCP='tcp|6' LAB_P_UDP='udp|17' LAB_P_ICMP='icmp|1'

# lab_bpf_cgroup_progs: ids of the programs attached at $LAB_CG/prot
lab_bpf_cgroup_progs() { "$LAB_PY" "$LAB_LIB_DIR/labbpf.py" cgroup "$LAB_CG/prot"; }
# lab_bpf_pinned_progs: ids of the programs the pins under $LAB_PIN hold
lab_bpf_pinned_progs() { "$LAB_PY" "$LAB_LIB_DIR/labbpf.py" pinned "$LAB_PIN"; }
# lab_bpf_alive ID...: the ids that still exist
lab_bpf_alive() { [ $# -eq 0 ] || "$LAB_PY" "$LAB_LIB_DIR/labbpf.py" alive "$@"; }

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

# ---------------------------------------------------------------- containers
# A container host in the client namespace: bridge ctr0 100.80.0.1/24 (MAC 02:13:00:00:80:01),
# NAT out of the client (masquerade; an exempt container can get its own SNAT address on up0),
# and containers: each its own namespace <id>-c-NAME (eth0 100.80.0.N/24, default via
# 100.80.0.1, veth v-NAME on ctr0) and its own cgroup $LAB_CG/prot/ctr/CGNAME, like a runtime's
# scope. The container policy (lab_write_container_policy) gives prot/ctr/locked-* the profile
# ctr-locked, prot/ctr/rawok-* rawok (raw_sockets: allow, LAN blocked), prot/ctr/exempt-* exempt.
LAB_CTR_NET=100.80.0.0/24
LAB_CTR_GW=100.80.0.1
LAB_CTR_GW_MAC=02:13:00:00:80:01
LAB_EXEMPT_SNAT=10.213.0.3 # an exempt container's traffic leaves up0 from this address
declare -gA LAB_CTR_NS=() LAB_CTR_CG=() LAB_CTR_IP=()

lab_containers_setup() {
	[ -n "${NS_CLIENT:-}" ] || { LAB_ERR="lab_containers_setup: no lab"; return 1; }
	_lab_ns_unsafe "$NS_CLIENT" && { LAB_ERR="client netns missing or initial"; return 1; }
	_x mkdir -p "$LAB_CG/prot/ctr" || return 1
	_x ip -n "$NS_CLIENT" link add ctr0 address "$LAB_CTR_GW_MAC" type bridge || return 1
	_x ip -n "$NS_CLIENT" addr add "$LAB_CTR_GW/24" dev ctr0 || return 1
	_x ip -n "$NS_CLIENT" link set ctr0 up || return 1
	_lab_sysctl "$NS_CLIENT" net.ipv4.ip_forward=1 || return 1
	_x ip -n "$NS_CLIENT" addr add "$LAB_EXEMPT_SNAT/24" dev up0 || return 1
	cat >"$LAB_STATE/client.nft" <<NFT
table ip labctr {
	set exempt { type ipv4_addr; }
	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "up0" ip saddr @exempt snat to $LAB_EXEMPT_SNAT
		oifname != "ctr0" ip saddr $LAB_CTR_NET masquerade
	}
}
NFT
	_x ip netns exec "$NS_CLIENT" nft -f "$LAB_STATE/client.nft" || return 1
	# split tunnelling for chosen containers: their source routed past the tunnel (table 213)
	_x ip -n "$NS_CLIENT" route add default via "$LAB_ROUTER_IP" dev up0 table 213 || return 1
}

# lab_container NAME CGNAME N [--no-init]: container NAME (its namespace, veth v-NAME, address
# 100.80.0.N) whose processes live in $LAB_CG/prot/ctr/CGNAME; an init process (sleep) holds it
# unless --no-init. NAME at most 8 characters.
lab_container() {
	lab_container_ns "$1" "$2" "$3" || return 1
	lab_container_link "$1" || return 1
	[ "${4:-}" = --no-init ] && return 0
	_lab_spawn "init-$1" "prot/ctr/$2" ip netns exec "${LAB_CTR_NS[$1]}" sleep 900
}

# lab_container_ns NAME CGNAME N: the container's namespace and cgroup, no network yet
lab_container_ns() {
	local name=$1 cg=$2 n=$3 ns=$LAB_ID-c-$1
	_x ip netns add "$ns" || return 1
	echo "$ns" >>"$LAB_STATE/netns"
	_lab_ns_unsafe "$ns" && { LAB_ERR="netns $ns is not a new namespace"; return 1; }
	LAB_CTR_NS[$name]=$ns LAB_CTR_CG[$name]=prot/ctr/$cg LAB_CTR_IP[$name]=100.80.0.$n
	_x ip -n "$ns" link set lo up || return 1
	_lab_sysctl "$ns" net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 || return 1
	# ping sockets for every group, as container runtimes (Docker) set it: ping needs no raw socket
	_lab_sysctl "$ns" "net.ipv4.ping_group_range=0 2147483647" || return 1
	_x mkdir -p "$LAB_CG/prot/ctr/$cg" || return 1
}

# lab_container_link NAME: its veth to ctr0, address and default route
lab_container_link() {
	local name=$1 ns=${LAB_CTR_NS[$1]}
	_x ip -n "$NS_CLIENT" link add "v-$name" type veth peer name eth0 netns "$ns" || return 1
	_x ip -n "$ns" addr add "${LAB_CTR_IP[$name]}/24" dev eth0 || return 1
	_x ip -n "$ns" link set eth0 up || return 1
	_x ip -n "$ns" route add default via "$LAB_CTR_GW" || return 1
	_x ip -n "$NS_CLIENT" link set "v-$name" master ctr0 up || return 1
}

# in_ctr NAME cmd...: run cmd in container NAME (its namespace and cgroup)
in_ctr() {
	local name=$1 cg
	shift
	[ -n "${LAB_CTR_NS[$name]:-}" ] || { echo "lab: no container $name" >&2; return 2; }
	_lab_ns_unsafe "${LAB_CTR_NS[$name]}" && { echo "lab: refusing: container netns missing" >&2; return 2; }
	cg=$(lab_cg_dir "${LAB_CTR_CG[$name]}") || return 2
	(
		echo "$BASHPID" >"$cg/cgroup.procs" || exit 126
		exec ip netns exec "${LAB_CTR_NS[$name]}" "$@"
	)
}

# lab_ctr_split NAME on|off: route container NAME's traffic past the tunnel (source rule to
# table 213, default via the ISP), as split tunnelling does; on with --snat also gives it the
# exempt SNAT address
lab_ctr_split() {
	local ip=${LAB_CTR_IP[$1]}
	if [ "$2" = on ]; then
		ip -n "$NS_CLIENT" rule add from "$ip" lookup 213 pref 100
		[ "${3:-}" = --snat ] && ip netns exec "$NS_CLIENT" nft add element ip labctr exempt "{ $ip }"
	else
		ip -n "$NS_CLIENT" rule del from "$ip" lookup 213 pref 100 2>/dev/null
		ip netns exec "$NS_CLIENT" nft delete element ip labctr exempt "{ $ip }" 2>/dev/null
	fi
	return 0
}

lab_ctr_curl() {
	local name=$1 url=$2
	shift 2
	in_ctr "$name" curl -sS -o /dev/null -w '%{http_code}' --noproxy '*' -m 5 --connect-timeout 4 "$@" "$url"
}

# lab_write_container_policy FILE [lab_write_policy options]: the lab policy and the container
# profiles and cgroup globs
lab_write_container_policy() {
	local f=$1 tmp
	shift
	lab_write_policy "$f" "$@" || return 1
	tmp=$LAB_STATE/ctr-profiles.yaml
	{
		echo "  - name: ctr-locked"
		echo "    lan: block"
		echo "  - name: rawok"
		echo "    lan: block"
		echo "    raw_sockets: allow"
	} >"$tmp"
	sed -i "/^profiles:/r $tmp" "$f" || return 1
	{
		echo "  - path: $LAB_CGREL_PROT/ctr/locked-*"
		echo "    profile: ctr-locked"
		echo "  - path: $LAB_CGREL_PROT/ctr/rawok-*"
		echo "    profile: rawok"
		echo "  - path: $LAB_CGREL_PROT/ctr/exempt-*"
		echo "    exempt: true"
	} >>"$f"
}

# lab_agent_up_containers [lab_write_policy options]: like lab_agent_up, with the container policy
lab_agent_up_containers() {
	local out
	lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
	lab_write_container_policy "$LAB_STATE/policy.yaml" "$@" || lab_abort "cannot write the container policy"
	out=$(lab_tunlock check -c "$LAB_STATE/policy.yaml" 2>&1) ||
		lab_abort "tunlock check rejects the container policy: $(echo "$out" | head -3 | tr '\n' ' ')"
	lab_agent_start "$LAB_STATE/policy.yaml" || lab_abort "agent start: $LAB_ERR"
}

# _lab_status_item LIST NAME FIELD: FIELD of the entry of `tunlock status --json`'s LIST whose
# name is NAME ("" when there is none)
_lab_status_item() {
	lab_tunlock status --json --pin-dir "$LAB_PIN" 2>/dev/null | "$LAB_PY" -c 'import json, sys
try:
    d = json.load(sys.stdin)
except Exception:
    d = {}
print(next((i.get(sys.argv[3], "") for i in d.get(sys.argv[1], []) if i.get("name") == sys.argv[2]), ""))' "$@"
}
# lab_iface_role IFACE: the role `tunlock status --json` gives IFACE (guarded, port, container, ...)
lab_iface_role() { _lab_status_item interfaces "$1" role; }
# lab_tunnel_state NAME: the state (up, down) `tunlock status --json` gives tunnel NAME
lab_tunnel_state() { _lab_status_item tunnels "$1" state; }

# lab_raw_covered: true when status says the LSM layer denies raw sockets here
lab_raw_covered() {
	[ "$(lab_json_get "$(lab_tunlock status --json --pin-dir "$LAB_PIN" 2>/dev/null)" coverage.raw_socket.level)" = full ]
}
