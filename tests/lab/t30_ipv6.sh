#!/bin/bash
# t30: the ISP gives IPv6, the tunnel carries only IPv4. IPv6 from a protected process fails at
# once with ENETUNREACH (so Happy Eyeballs moves on), a dual-stack fetch succeeds over IPv4
# through the tunnel without waiting, and not one IPv6 packet leaves the uplink. Then, with
# IPv6 inside the tunnel, IPv6 works through it, but a datagram with a routing header whose
# first hop is the LAN router does not leave.
. "$(dirname "$0")/lib.sh"
lab_init t30
lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
lab_setup --ipv6 || lab_abort "lab setup: $LAB_ERR"
lab_agent_up
lab_tunnel_up || lab_abort "tunnel up: $LAB_ERR"
route=$(ip -n "$NS_CLIENT" -6 route get "$LAB_HOST6_IP" 2>&1)
[[ "$route" == *"dev up0"* ]] || lab_abort "IPv6 does not route via the ISP: $route"
lab_capture_start || lab_abort "capture: $LAB_ERR"
mark=$(lab_events_mark)

r=$(lab_probe apps tcp "$LAB_HOST6_IP" "$LAB_HTTP_PORT" --timeout 5)
check t30_tcp6_enetunreach "TCP connect to $LAB_HOST6_IP: $r (want ENETUNREACH at once)" \
	eval '[ "$(lab_json_get "$r" error)" = ENETUNREACH ]'
r=$(lab_probe apps udp "$LAB_HOST6_IP" "$LAB_SINK_PORT" --count 3)
check t30_udp6_enetunreach "UDP sendto $LAB_HOST6_IP: $r (want 3 ENETUNREACH)" \
	eval '[ "$(lab_json_get "$r" errors.ENETUNREACH)" = 3 ]'
r=$(lab_curl_ms apps "http://[$LAB_HOST6_IP]/" -6); code=${r% *} ms=${r#* }
check t30_curl6_fails_fast "curl -6: code '$code' after ${ms} ms (want failure within 1000 ms)" \
	eval '[ "$code" != 200 ] && [ "$ms" -le 1000 ]'
t0=$(_lab_ms); lab_ping apps "$LAB_HOST6_IP" -6; rc=$?; ms=$(($(_lab_ms) - t0))
check t30_ping6_fails "ping -6: rc $rc after ${ms} ms (want failure)" [ "$rc" != 0 ]

# a name with both families, IPv6 first: the IPv6 attempt fails at once, IPv4 goes through
before=$(lab_server_count http vpn)
r=$(lab_curl_ms apps "http://dual.lab.test/" --resolve "dual.lab.test:80:[$LAB_HOST6_IP],$LAB_HOST_IP")
code=${r% *} ms=${r#* }
check t30_dual_stack_over_ipv4 "dual-stack curl: code '$code' after ${ms} ms (want 200 within 1000 ms)" \
	eval '[ "$code" = 200 ] && [ "$ms" -le 1000 ]'
sleep 0.3
after=$(lab_server_count http vpn)
check t30_dual_stack_through_tunnel "the host saw $((after - before)) request(s) from the VPN server (want 1)" \
	[ $((after - before)) -eq 1 ]

expect_no_leaks t30_no_ipv6_leaks
expect_event t30_event_ipv6 "$mark" reason=ipv6 verdict=blocked "dst=$LAB_HOST6_IP"
n=$(lab_server_count http "$LAB_ISP6_WAN")
check t30_host_saw_no_ipv6 "the host got $n request(s) over the ISP's IPv6" [ "$n" -eq 0 ]

# IPv6 inside the tunnel: now it may go, through the tunnel only, and not by a route of its own
lab_tunnel_down || lab_abort "tunnel down: $LAB_ERR"
lab_tunnel_up --ipv6 || lab_abort "tunnel up with IPv6: $LAB_ERR"
_lab_wait 5 eval '[ "$(lab_tunlock status --json --pin-dir "$LAB_PIN" | grep -o "\"ipv6\":true" | head -1)" ]' ||
	note "status does not show an IPv6 tunnel yet"
lab_capture_start || lab_abort "capture: $LAB_ERR"
code=""
for _ in 1 2 3 4 5; do
	code=$(lab_curl apps "http://[$LAB_HOST6_IP]/" -6)
	[ "$code" = 200 ] && break
	sleep 0.5
done
check t30_ipv6_through_tunnel "curl -6 with IPv6 in the tunnel: '$code' (want 200)" [ "$code" = 200 ]
n=$(lab_server_count http "$LAB_VPN6_IP")
check t30_ipv6_via_vpn "the host saw $n IPv6 request(s) from the VPN server (want >= 1)" [ "$n" -ge 1 ]
lab_ping apps "$LAB_HOST6_IP" -6
check t30_ping6_through_tunnel "ping -6 with IPv6 in the tunnel" [ $? = 0 ]
expect_no_leaks t30_ipv6_tunnel_no_leaks

# A routing header names the hops itself (IPV6_RTHDR needs no privilege): from a profile that
# allows the LAN, a datagram for the internet host whose header goes to the LAN router, with
# the host as the segment left, is refused; the router could carry it on outside the tunnel
lab_capture_start || lab_abort "capture: $LAB_ERR"
mark=$(lab_events_mark)
r=$(lab_probe lan udp "$LAB_HOST6_IP" "$LAB_SINK_PORT" --count 1 --rthdr "$LAB_ROUTER6_IP")
check t30_routed_refused "UDP to $LAB_HOST6_IP by way of $LAB_ROUTER6_IP (a routing header): $r (want EPERM)" \
	eval '[ "$(lab_json_get "$r" errors.EPERM)" = 1 ]'
r=$(lab_probe lan udp "$LAB_HOST6_IP" "$LAB_SINK_PORT" --count 1)
check t30_unrouted_sent "the same without the routing header (through the tunnel): $r (want sent)" \
	eval '[ "$(lab_json_get "$r" sent)" = 1 ]'
expect_no_leaks t30_routed_no_leaks --allow-lan
expect_event t30_event_routed "$mark" reason=bypass verdict=blocked layer=cgroup_skb "dst=$LAB_ROUTER6_IP"
lab_done
