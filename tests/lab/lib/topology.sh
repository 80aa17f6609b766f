# shellcheck shell=bash disable=SC2034,SC2120
# (SC2034, SC2120: its variables and helper arguments are used by the tests)
# tests/lab/lib/topology.sh: the namespaces, veths, bridges, routes, NAT and servers of
# the lab (lab_setup), the VPN (lab_tunnel_*), the second uplink.
# Sourced by tests/lab/lib.sh (a test sources lib.sh, never this file).

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
# _lab_wg_start NAME NS CGROUP [IFACE]: wireguard-go -f IFACE (wg0) in NS, in the lab cgroup
# CGROUP
_lab_wg_start() {
	local name=$1 ns=$2 cg=$3 dev=${4:-wg0} dir
	_lab_ns_unsafe "$ns" && { LAB_ERR="refusing wireguard-go: netns $ns missing or initial"; return 1; }
	dir=$(_lab_wg_rundir "$ns")
	mkdir -p "$dir"
	rm -f "$dir/wireguard/$dev.sock"
	_lab_spawn "$name" "$cg" env WG_PROCESS_FOREGROUND=1 nsenter --net="/run/netns/$ns" -- \
		unshare -m --propagation private -- \
		sh -c 'mount --bind "$0" /run && exec wireguard-go -f "$1"' "$dir" "$dev"
	_lab_wait 5 test -S "$dir/wireguard/$dev.sock" ||
		{ LAB_ERR="wireguard-go in $ns did not start: $(tail -3 "$LAB_STATE/$name.log")"; return 1; }
	_lab_wait 3 ip -n "$ns" link show "$dev" >/dev/null 2>&1 ||
		{ LAB_ERR="wireguard-go in $ns made no $dev"; return 1; }
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
