#!/bin/bash
# t24: tunnel down with dns: redirect: no tunnel resolver is reachable, so
# redirect degrades to block, never to the original server: every path fails at once and not one
# packet reaches the ISP. When the tunnel comes back, queries are redirected again without the
# agent doing anything; through 10 flaps under a steady stream of queries, each state met by the
# stream, no answer ever comes from the ISP's resolver and the capture stays clean.
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
out=$(in_client apps dig +short +time=3 +tries=1 @"$LAB_ROUTER_IP" lab.test 2>&1)
rc=$?
# refused at once, not timed out (a time bound would measure the machine's load, not tunlock)
check t24_down_dig "dig with the tunnel down: rc $rc, '$(tr '\n' ' ' <<<"$out")' (want a failure, not a time-out)" \
	[ "$rc" != 0 ] --and eval '! grep -q "timed out" <<<"$out"'
expect_no_leaks t24_down_no_leaks
expect_dns_logged t24_down_isp_logged_nothing isp "$isp0" -eq 0
expect_dns_logged t24_down_tunnel_logged_nothing tundns "$tun0" -eq 0
expect_event t24_event_down "$mark" reason=dns verdict=blocked layer=socket tunnel=down dst="$LAB_ROUTER_IP"

lab_tunnel_up || lab_abort "tunnel up: $LAB_ERR"
r=$(lab_dns apps "$LAB_ROUTER_IP" --mode sendto)
expect_dns_answer t24_up_again_redirected "$r" "$LAB_MARK_TUN" "$LAB_ROUTER_IP"

# flaps under a steady stream of queries (bounded: 3000 queries or 300 s): in every flap the test
# waits until the stream has met the tunnel down (a refusal) and up again (a redirected answer),
# so both states are proven however slow the machine is
lab_capture_start || lab_abort "capture: $LAB_ERR"
isp0=$(lab_dns_queries isp)
_lab_spawn dnsloop apps ip netns exec "$NS_CLIENT" bash -c '
	for ((i = 0; i < 3000 && SECONDS < 300; i++)); do "$0" "$1" --mode sendto --timeout 1; sleep 0.05; done' \
	"$LAB_LIB_DIR/dnsprobe.py" "$LAB_ROUTER_IP"
loop=$LAB_SPAWNED_PID
seen() { grep -c "$1" "$LAB_STATE/dnsloop.log"; }
seen_more() { [ "$(seen "$1")" -gt "$2" ]; }
TUN="\"answer\": \"$LAB_MARK_TUN\"" EPERM='"error": "EPERM"'
flaps() { # N
	local i n
	for ((i = 1; i <= $1; i++)); do
		n=$(seen "$EPERM")
		lab_tunnel_down || { LAB_ERR="flap $i: $LAB_ERR"; return 1; }
		_lab_wait 15 seen_more "$EPERM" "$n" || { LAB_ERR="flap $i: no query refused while down"; return 1; }
		n=$(seen "$TUN")
		lab_tunnel_up || { LAB_ERR="flap $i: $LAB_ERR"; return 1; }
		_lab_wait 15 seen_more "$TUN" "$n" || { LAB_ERR="flap $i: no query redirected while up"; return 1; }
	done
}
why=
flaps 10 || why=$LAB_ERR
check t24_flaps "10 flaps: $why" [ -z "$why" ]
_lab_kill "$loop" 2
n_tun=$(seen "$TUN") n_isp=$(seen "\"answer\": \"$LAB_MARK_ISP\"") n_eperm=$(seen "$EPERM")
note "flaps: $n_tun answers from the tunnel, $n_eperm refused while down, $n_isp from the ISP"
check t24_flaps_never_isp "$n_isp answer(s) came from the ISP's resolver during flaps" [ "$n_isp" -eq 0 ]
check t24_flaps_both_states "during flaps: $n_tun redirected answers and $n_eperm refusals (want 10 of each)" \
	[ "$n_tun" -ge 10 ] --and [ "$n_eperm" -ge 10 ]
expect_no_leaks t24_flaps_no_leaks
expect_dns_logged t24_flaps_isp_logged_nothing isp "$isp0" -eq 0
lab_done
