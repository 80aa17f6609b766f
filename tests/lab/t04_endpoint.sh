#!/bin/bash
# t04: endpoint abuse (Cure53 MUL-02-002): an ordinary process sends to the VPN server's
# address 198.51.100.2:51820 outside the tunnel. Blocked (EPERM), no non-WireGuard packet on
# the uplink, and the VPN client's own transport keeps flowing.
. "$(dirname "$0")/lib.sh"
lab_init t04
lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
lab_setup || lab_abort "lab setup: $LAB_ERR"
lab_agent_up
lab_tunnel_up || lab_abort "tunnel up: $LAB_ERR"
lab_capture_start || lab_abort "capture: $LAB_ERR"
route=$(ip -n "$NS_CLIENT" route get "$LAB_VPN_IP" 2>&1)
[[ "$route" == *"dev up0"* ]] || lab_abort "the endpoint is not routed via up0: $route"

mark=$(lab_events_mark)
r=$(lab_probe apps udp "$LAB_VPN_IP" "$LAB_WG_PORT" --count 5 --payload abuse)
check t04_udp_sendto_eperm "sendto 198.51.100.2:51820 from prot/apps: $r (want 0 sent, 5 EPERM)" \
	eval '[ "$(lab_json_get "$r" sent)" = 0 ] && [ "$(lab_json_get "$r" errors.EPERM)" = 5 ]'
expect_event t04_event_endpoint "$mark" reason=endpoint verdict=blocked dst="$LAB_VPN_IP" dport="$LAB_WG_PORT"
r=$(lab_probe apps udp "$LAB_VPN_IP" "$LAB_WG_PORT" --count 5 --connect --payload abuse)
check t04_udp_connect_eperm "connect 198.51.100.2:51820 (UDP): $r (want EPERM)" \
	eval '[ "$(lab_json_get "$r" connect_error)" = EPERM ]'
r=$(lab_probe apps udp "$LAB_VPN_IP" "$LAB_WG_PORT" --count 3 --bind-dev up0 --payload abuse)
check t04_udp_bind_dev "sendto the endpoint with SO_BINDTODEVICE up0: $r (want nothing sent)" \
	eval '[ "$(lab_json_get "$r" sent)" = 0 ]'
r=$(lab_probe apps tcp "$LAB_VPN_IP" "$LAB_WG_PORT" --timeout 3)
check t04_tcp_blocked "TCP connect to the endpoint: $r (want EPERM)" \
	eval '[ "$(lab_json_get "$r" error)" = EPERM ]'
r=$(lab_probe apps udp "$LAB_VPN_IP" 53 --count 3 --payload abuse)
check t04_other_port_blocked "sendto 198.51.100.2:53 (the endpoint's host, another port): $r (want nothing sent)" \
	eval '[ "$(lab_json_get "$r" sent)" = 0 ]'
lab_ping apps "$LAB_VPN_IP"
check t04_ping_endpoint_blocked "ping 198.51.100.2 outside the tunnel went through" [ $? != 0 ]

code=$(lab_curl apps "http://$LAB_HOST_IP/")
check t04_tunnel_still_works "curl through the tunnel after the abuse: '$code'" [ "$code" = 200 ]
check t04_tunnel_ping "ping through the tunnel after the abuse failed" lab_ping apps "$LAB_HOST_IP"
expect_no_leaks t04_no_non_wg_packets
wg=$(lab_wg_count)
check t04_wg_transport_flows "no WireGuard transport during the test" [ "$wg" -gt 0 ]
lab_done
