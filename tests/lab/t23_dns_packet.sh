#!/bin/bash
# t23: DNS that gets past the socket layer: a query written on a raw IP socket
# (no socket-level hook sees it), and a UDP socket connected to the tunnel's own resolver (which
# the socket layer lets through) and only then bound to the uplink. The packet layers drop both on
# the uplink with reason dns, and so for a profile that allows the LAN: the ISP's resolver is on
# the LAN, and a LAN resolver forwards to the ISP. (Bound before it sends, the socket layer
# refuses it at once; and with an IPv4-only tunnel an IPv6 query is refused too.) The profiles
# allow raw sockets (as a DHCP client's would): with raw_sockets: deny the socket layer refuses
# the raw socket itself (t45).
. "$(dirname "$0")/lib.sh"
lab_init t23
lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
lab_setup --ipv6 || lab_abort "lab setup: $LAB_ERR"
lab_agent_up --dns redirect --raw allow
lab_tunnel_up || lab_abort "tunnel up: $LAB_ERR"

lab_capture_start || lab_abort "capture: $LAB_ERR"
mark=$(lab_events_mark)
isp0=$(lab_dns_queries isp) tun0=$(lab_dns_queries tundns)
# raw sockets: no socket-level hook; the packet layer's drop reaches the sender as EPERM
for cg in apps lan; do
	r=$(lab_dns "$cg" "$LAB_ROUTER_IP" --mode raw)
	check "t23_raw_${cg}_dropped" "raw UDP query from $cg: $r (want dropped: EPERM from the packet layer)" \
		[ "$(lab_json_get "$r" error)" = EPERM ]
	r=$(lab_dns "$cg" "$LAB_ROUTER6_IP" --mode raw --type AAAA)
	check "t23_raw6_${cg}_dropped" "raw UDP query over IPv6 from $cg: $r (want EPERM)" [ "$(lab_json_get "$r" error)" = EPERM ]
done
# connected to the tunnel's resolver (the socket layer lets that pass), then bound to the uplink
r=$(lab_dns apps "$LAB_TUN_SERVER_IP" --mode connect --bind-dev up0 --bind-late --timeout 1)
check t23_bound_late_no_answer "connected to the tunnel's resolver, then bound to up0: $r (want no answer)" \
	[ -z "$(lab_json_get "$r" answer)" ]
# bound first: the socket layer already knows the query cannot go through the tunnel
r=$(lab_dns apps "$LAB_TUN_SERVER_IP" --mode sendto --bind-dev up0 --timeout 1)
expect_dns_eperm t23_bound_first_eperm "$r"
# the tunnel carries IPv4 only: an IPv6 query has no resolver to go to and is refused, never sent
expect_dns_eperm t23_ipv6_query_ipv4_only_tunnel "$(lab_dns apps "$LAB_ROUTER6_IP" --mode sendto --type AAAA)"
expect_no_leaks t23_no_leaks
expect_dns_logged t23_isp_logged_nothing isp "$isp0" -eq 0
expect_dns_logged t23_tunnel_logged_nothing tundns "$tun0" -eq 0
expect_event t23_event_raw "$mark" reason=dns verdict=blocked layer=cgroup_skb interface=up0 dst="$LAB_ROUTER_IP" dport=53 comm=python3
expect_event t23_event_raw6 "$mark" reason=dns verdict=blocked layer=cgroup_skb interface=up0 dst="$LAB_ROUTER6_IP" dport=53
expect_event t23_event_raw_lan_profile "$mark" reason=dns verdict=blocked layer=cgroup_skb profile=lan-ok dst="$LAB_ROUTER_IP"
expect_event t23_event_bound_late "$mark" reason=dns verdict=blocked layer=cgroup_skb interface=up0 dst="$LAB_TUN_SERVER_IP" dport=53
expect_event t23_event_bound_first "$mark" reason=dns verdict=blocked layer=socket interface=up0 dst="$LAB_TUN_SERVER_IP" dport=53
lab_done
