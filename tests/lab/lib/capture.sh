# shellcheck shell=bash disable=SC2034
# (SC2034: its variables are read by the tests and the other lab files)
# tests/lab/lib/capture.sh: the capture on the ISP side of the client's uplinks
# (tcpdump start, sync, stop), the leak filters, and the checks that read the capture.
# Sourced by tests/lab/lib.sh (a test sources lib.sh, never this file).

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
	LAB_CAP_RX+=("$(_lab_rx_packets "$ifc")")
	if ! _lab_wait 5 grep -qs "listening on $ifc" "$LAB_STATE/$name.log"; then
		LAB_ERR="tcpdump on $ifc did not start: $(tail -2 "$LAB_STATE/$name.log")"
		return 1
	fi
}

# lab_capture_start: tcpdump on the isp-side end of every client uplink (c0, and c1 if it exists)
lab_capture_start() {
	local ifc
	[ "${#LAB_CAP_PIDS[@]}" -gt 0 ] && lab_capture_stop
	LAB_CAP_N=$((LAB_CAP_N + 1)) LAB_CAP_FILES=() LAB_CAP_PIDS=() LAB_CAP_IFACES=() LAB_CAP_RX=() LAB_CAP_DROPS=0
	for ifc in c0 c1; do
		ip -n "$NS_ISP" link show "$ifc" >/dev/null 2>&1 || continue
		_lab_capture_iface "$ifc" || return 1
	done
}

# _lab_rx_packets IFACE: frames the isp-side IFACE has received (from the client's side)
_lab_rx_packets() { ip netns exec "$NS_ISP" cat "/sys/class/net/$1/statistics/rx_packets" 2>/dev/null; }

# _lab_capture_quiet IFACE RX: IFACE has no carrier (its client end is down or parked in the
# ISP's namespace) and has received nothing since the capture began (RX): no client frame can
# be missing from the capture, and a marker sent there would never reach it
_lab_capture_quiet() {
	[ "$(ip netns exec "$NS_ISP" cat "/sys/class/net/$1/carrier" 2>/dev/null)" = 0 ] &&
		[ -n "$2" ] && [ "$(_lab_rx_packets "$1")" = "$2" ]
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
		synced[i]=0
		_lab_capture_quiet "${LAB_CAP_IFACES[$i]}" "${LAB_CAP_RX[$i]:-}" && continue
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
# IPv6 with a routing header (first, as a socket's IPV6_RTHDR puts it) that has segments
# left: its destination is only the first hop
_lab_f_routed="(ip6 and ip6[6] = 43 and ip6[43] != 0)"
# the policy's fixed LAN ranges (docs/policy.md, profiles[].lan); a routed packet is no LAN
# packet, whatever its first hop
_lab_f_lan="((not $_lab_f_routed) and (dst net 10.0.0.0/8 or dst net 172.16.0.0/12 or dst net 192.168.0.0/16 or dst net 169.254.0.0/16 or dst net 224.0.0.0/4 or dst host 255.255.255.255 or dst net fc00::/7 or dst net fe80::/10 or dst net ff00::/8))"

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
