#!/bin/bash
# t24: tunnel down with dns: redirect (issue #3, path 7): no tunnel resolver is reachable, so
# redirect degrades to block, never to the original server: every path fails at once and not one
# packet reaches the ISP. When the tunnel comes back, queries are redirected again without the
# agent doing anything; through 10 flaps with a query every 50 ms, no answer ever comes from the
# ISP's resolver and the capture stays clean.
. "$(dirname "$0")/lib.sh"
lab_init t24
lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
lab_setup --dns-tls || lab_abort "lab setup: $LAB_ERR"
lab_agent_up --dns redirect
lab_tunnel_up || lab_abort "tunnel up: $LAB_ERR"
lab_capture_start || lab_abort "capture: $LAB_ERR"
lab_tunnel_down || lab_abort "tunnel down: $LAB_ERR"
mark=$(lab_events_mark)
isp0=$(lab_dns_queries isp) tun0=$(lab_dns_queries tundns)
expect_dns_eperm t24_down_unconnected "$(lab_dns apps "$LAB_ROUTER_IP" --mode sendto)"
expect_dns_eperm t24_down_connected "$(lab_dns apps "$LAB_ROUTER_IP" --mode connect)"
expect_dns_eperm t24_down_mapped "$(lab_dns apps "$LAB_ROUTER_IP" --mode sendto --family mapped)"
expect_dns_eperm t24_down_tcp "$(lab_dns apps "$LAB_ROUTER_IP" --mode tcp)"
expect_dns_eperm t24_down_tls "$(lab_dns apps "$LAB_ROUTER_IP" --mode tcp --port 853)"
expect_dns_eperm t24_down_public "$(lab_dns lan "$LAB_PUBDNS_IP" --mode sendto)"
lab_timed ms in_client apps dig +short +time=3 +tries=1 @"$LAB_ROUTER_IP" lab.test >/dev/null 2>&1
rc=$?
check t24_down_dig "dig with the tunnel down: rc $rc after $ms ms (want a failure within 1500 ms)" eval '[ "$rc" != 0 ] && [ "$ms" -le 1500 ]'
expect_no_leaks t24_down_no_leaks
expect_dns_logged t24_down_isp_logged_nothing isp "$isp0" -eq 0
expect_dns_logged t24_down_tunnel_logged_nothing tundns "$tun0" -eq 0
expect_event t24_event_down "$mark" reason=dns verdict=blocked layer=socket tunnel=down dst="$LAB_ROUTER_IP"

lab_tunnel_up || lab_abort "tunnel up: $LAB_ERR"
r=$(lab_dns apps "$LAB_ROUTER_IP" --mode sendto)
expect_dns_answer t24_up_again_redirected "$r" "$LAB_MARK_TUN" "$LAB_ROUTER_IP"

# flaps under a steady stream of queries (bounded: 20 s at most)
lab_capture_start || lab_abort "capture: $LAB_ERR"
isp0=$(lab_dns_queries isp)
_lab_spawn dnsloop apps ip netns exec "$NS_CLIENT" bash -c '
	for ((i = 0; i < 400; i++)); do "$0" "$1" --mode sendto --timeout 0.3; sleep 0.05; done' \
	"$LAB_LIB_DIR/dnsprobe.py" "$LAB_ROUTER_IP"
loop=$LAB_SPAWNED_PID
check t24_flaps "10 flaps: $LAB_ERR" lab_tunnel_flap 10 0.3
_lab_kill "$loop" 2
n_tun=$(grep -c "\"answer\": \"$LAB_MARK_TUN\"" "$LAB_STATE/dnsloop.log")
n_isp=$(grep -c "\"answer\": \"$LAB_MARK_ISP\"" "$LAB_STATE/dnsloop.log")
n_eperm=$(grep -c '"error": "EPERM"' "$LAB_STATE/dnsloop.log")
note "flaps: $n_tun answers from the tunnel, $n_eperm refused while down, $n_isp from the ISP"
check t24_flaps_never_isp "$n_isp answer(s) came from the ISP's resolver during flaps" [ "$n_isp" -eq 0 ]
check t24_flaps_both_states "during flaps: $n_tun redirected answers and $n_eperm refusals (want both)" \
	[ "$n_tun" -gt 0 ] --and [ "$n_eperm" -gt 0 ]
expect_no_leaks t24_flaps_no_leaks
expect_dns_logged t24_flaps_isp_logged_nothing isp "$isp0" -eq 0
lab_done
