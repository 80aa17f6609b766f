#!/bin/bash
# t07: a second uplink (up1, 10.213.0.130/25) appears mid-test with a better default route,
# then a route pushes the internet host past the tunnel onto it (TunnelVision-like), then the
# tunnel goes down so the default route via up1 is all there is. Zero leaks on either uplink.
. "$(dirname "$0")/lib.sh"
lab_init t07
lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
lab_setup --second-uplink-ready || lab_abort "lab setup: $LAB_ERR"
lab_agent_up
lab_tunnel_up || lab_abort "tunnel up: $LAB_ERR"
lab_capture_start || lab_abort "capture: $LAB_ERR"
[[ " ${LAB_CAP_IFACES[*]} " == *" c1 "* ]] || lab_abort "the capture does not cover c1"
lab_sender_start steady || lab_abort "sender did not start"
_lab_wait 10 lab_server_more sink vpn 0 || lab_abort "the sender's datagrams did not reach the sink through the tunnel"

lab_second_uplink || lab_abort "second uplink: $LAB_ERR"
note "up1 is up: $(ip -n "$NS_CLIENT" -br addr show up1)"
lab_server_sync || lab_abort "the internet host's stats did not catch up"
before=$(lab_server_count sink vpn)
check t07_tunnel_still_carries "the sink got no datagram via the VPN within 5 s after up1 appeared (still $before)" \
	_lab_wait 5 lab_server_more sink vpn "$before"

routed_via_up1() { [[ "$(ip -n "$NS_CLIENT" route get "$LAB_HOST_IP")" == *"dev up1"* ]]; }
# a more specific route via up1 pushes the internet host past the tunnel
mark=$(lab_events_mark)
ip -n "$NS_CLIENT" route add 203.0.113.0/24 via "$LAB_ROUTER2_IP" dev up1 || lab_abort "cannot add the push route"
_lab_wait 5 routed_via_up1 || lab_abort "the push route is not in effect"
code=$(lab_curl apps "http://$LAB_HOST_IP/")
check t07_pushed_route_blocked "curl with 203.0.113.0/24 routed via up1: '$code'" [ "$code" != 200 ]
expect_event t07_event_names_up1 "$mark" verdict=blocked interface=up1
ip -n "$NS_CLIENT" route del 203.0.113.0/24 via "$LAB_ROUTER2_IP" dev up1

# bind to the new interface
lab_ping apps "$LAB_HOST_IP" -I up1
check t07_ping_up1_blocked "ping -I up1 went through" [ $? != 0 ]
code=$(lab_curl apps "http://$LAB_HOST_IP/" --interface up1)
check t07_curl_up1_blocked "curl --interface up1: '$code'" [ "$code" != 200 ]

# tunnel down: the better default route is up1's
lab_tunnel_down || lab_abort "tunnel down: $LAB_ERR"
_lab_wait 5 routed_via_up1 || note "unexpected: $(ip -n "$NS_CLIENT" route get "$LAB_HOST_IP")"
code=$(lab_curl apps "http://$LAB_HOST_IP/")
check t07_tunnel_down_via_up1_blocked "curl with the tunnel down (default via up1): '$code'" [ "$code" != 200 ]
summary=$(lab_sender_stop steady)
note "sender: $summary"
expect_no_leaks t07_no_leaks
lab_server_sync || lab_abort "the internet host's stats did not catch up"
m=$(lab_server_count sink isp); n=$(lab_server_count http isp)
check t07_server_saw_nothing_via_isp "via the ISP the sink got $m datagram(s), http $n request(s)" [ "$m" -eq 0 ] --and [ "$n" -eq 0 ]
lab_done
