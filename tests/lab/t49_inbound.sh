#!/bin/bash
# t49: the tunnel address from the LAN (CVE-2019-14899). From the ISP namespace, forged TCP SYNs
# to the client's tunnel addresses (IPv4 and IPv6) through its uplink, from an internet host's
# address, to a listening and to a closed port; a capture at the VPN server's tunnel interface sees whether the
# client answers through the tunnel. In audit mode it does (the attack works in this lab, and is
# reported); enforcing, it does not, and each forged SYN is an inbound event; the same connection
# made through the tunnel works.
. "$(dirname "$0")/lib.sh"
lab_init t49
lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
lab_setup --ipv6 || lab_abort "lab setup: $LAB_ERR"
PORT=8049 CLOSED=8050 N=0

# a listener on the tunnel address in the client, answering "ok"; bounded by the test's own
# timeout (600 s), not less: on a loaded machine the phases before the connection take minutes
_lab_spawn listener apps ip netns exec "$NS_CLIENT" timeout 600 "$LAB_PY" -c 'import socket, sys
s = socket.socket(socket.AF_INET6)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", int(sys.argv[1])))
s.listen(16)
print("listening", flush=True)
while True:
    c, _ = s.accept()
    c.sendall(b"ok")
    c.close()' "$PORT"
_lab_wait 5 grep -q listening "$LAB_STATE/listener.log" || lab_abort "listener: $(cat "$LAB_STATE/listener.log")"

# capture_start: tcpdump at the VPN server's wg0: what the client sends through the tunnel
capture_start() {
	N=$((N + 1))
	_lab_spawn "vpncap$N" infra ip netns exec "$NS_VPN" tcpdump -i wg0 --immediate-mode -U -n -s 256 -w "$LAB_STATE/vpn$N.pcap" tcp
	CAP_PID=$LAB_SPAWNED_PID
	_lab_wait 5 grep -qs "listening on wg0" "$LAB_STATE/vpncap$N.log" || lab_abort "tcpdump at the VPN server did not start"
}
# answers SPORT [6]: the client's packets to the forged source and port SPORT in the capture so
# far, IPv4 (or IPv6). Each phase forges from a port of its own: a half-open connection of an
# earlier phase keeps retransmitting its SYN-ACK.
answers() {
	local from=$LAB_TUN_CLIENT_IP to=$LAB_HOST_IP
	[ "${2:-}" = 6 ] && from=$LAB_TUN6_CLIENT_IP to=$LAB_HOST6_IP
	tcpdump -r "$LAB_STATE/vpn$N.pcap" -nn "src host $from and dst host $to and dst port $1" 2>/dev/null | grep -c '^[0-9]'
}
# tunnel_conn ADDR: the connection to ADDR through the tunnel from the VPN server: prints what
# it read
tunnel_conn() {
	in_ns vpn timeout 10 "$LAB_PY" -c 'import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
print(s.recv(16).decode())' "$1" "$PORT" 2>&1
}
# seen_conn: the capture holds the client's SYN-ACK of tunnel_conn (everything sent before it too)
seen_conn() { [ "$(tcpdump -r "$LAB_STATE/vpn$N.pcap" -nn "src host $LAB_TUN_CLIENT_IP and src port $PORT and dst host $LAB_TUN_SERVER_IP" 2>/dev/null | grep -c '^[0-9]')" -ge 1 ]; }
# forge SPORT: a SYN to the listening and one to the closed port, from the internet host's SPORT,
# into the client's uplink from the home router's MAC, to each tunnel address
forge() {
	local to mac gw
	mac=$(ip -n "$NS_CLIENT" -br link show up0 | awk '{ print $3 }')
	gw=$(ip -n "$NS_ISP" -br link show br0 | awk '{ print $3 }')
	in_ns isp "$LAB_PY" "$LAB_LIB_DIR/forgesyn.py" c0 "$mac" "$gw" "$LAB_HOST_IP" "$1" "$LAB_TUN_CLIENT_IP" "$PORT" "$CLOSED"
	in_ns isp "$LAB_PY" "$LAB_LIB_DIR/forgesyn.py" c0 "$mac" "$gw" "$LAB_HOST6_IP" "$1" "$LAB_TUN6_CLIENT_IP" "$PORT" "$CLOSED"
}
# tunnel_addrs_known: the agent has put both tunnel addresses in tl_inbound
tunnel_addrs_known() {
	[ "$(bpftool -j map dump pinned "$LAB_PIN/tl_inbound" 2>/dev/null |
		"$LAB_PY" -c 'import json, sys; print(len(json.load(sys.stdin)))' 2>/dev/null)" = 2 ]
}

lab_agent_up --mode audit
lab_tunnel_up --ipv6 || lab_abort "tunnel up: $LAB_ERR"
_lab_wait 10 tunnel_addrs_known || lab_abort "the agent never published the tunnel addresses"
capture_start
mark=$(lab_events_mark)
note "forge: $(forge 443 | tr '\n' ' ')"
check t49_audit_answered "audit mode: the client answers the forged SYNs through the tunnel (the attack works here)" \
	_lab_wait 10 eval '[ "$(answers 443)" -ge 2 ]'
check t49_audit_answered6 "audit mode: the client answers the forged IPv6 SYNs through the tunnel" \
	_lab_wait 10 eval '[ "$(answers 443 6)" -ge 2 ]'
expect_event t49_audit_event "$mark" verdict=audit reason=inbound hook=tc_ingress dst="$LAB_TUN_CLIENT_IP" dport="$PORT"
expect_event t49_audit_event6 "$mark" verdict=audit reason=inbound dst="$LAB_TUN6_CLIENT_IP" dport="$PORT"
_lab_kill "$CAP_PID" 5

lab_agent_reload --mode enforce || lab_abort "reload: $LAB_ERR"
capture_start
mark=$(lab_events_mark)
note "forge: $(forge 444 | tr '\n' ' ')"
expect_event t49_blocked_event "$mark" verdict=blocked reason=inbound hook=tc_ingress dst="$LAB_TUN_CLIENT_IP" dport="$PORT"
expect_event t49_blocked_event_closed_port "$mark" verdict=blocked reason=inbound dst="$LAB_TUN_CLIENT_IP" dport="$CLOSED"
expect_event t49_blocked_event6 "$mark" verdict=blocked reason=inbound dst="$LAB_TUN6_CLIENT_IP" dport="$PORT"
got=$(tunnel_conn "$LAB_TUN6_CLIENT_IP")
check t49_tunnel_connection_works6 "the same connection through the tunnel over IPv6 read '$got'" [ "$got" = ok ]
got=$(tunnel_conn "$LAB_TUN_CLIENT_IP")
check t49_tunnel_connection_works "the same connection through the tunnel read '$got'" [ "$got" = ok ]
check t49_capture_synced "the capture saw the tunnel connection's SYN-ACK" _lab_wait 10 seen_conn
n=$(answers 444) n6=$(answers 444 6)
check t49_no_answer_through_tunnel "enforcing: $n answer(s) to the forged SYNs through the tunnel" [ "$n" -eq 0 ]
check t49_no_answer_through_tunnel6 "enforcing: $n6 answer(s) to the forged IPv6 SYNs through the tunnel" [ "$n6" -eq 0 ]
_lab_kill "$CAP_PID" 5
lab_done
