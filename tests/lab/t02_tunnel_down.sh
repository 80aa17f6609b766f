#!/bin/bash
# t02: the tunnel is deleted (routes fall back to the ISP): ping, curl, TCP and UDP from a
# protected process fail fast (within 3 s, explicitly where the socket hooks can say so) and
# not one packet leaves the uplink. Events say tunnel_down, blocked, with the contract's fields.
. "$(dirname "$0")/lib.sh"
lab_init t02
lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
lab_setup || lab_abort "lab setup: $LAB_ERR"
lab_agent_up
lab_tunnel_up || lab_abort "tunnel up: $LAB_ERR"
lab_capture_start || lab_abort "capture: $LAB_ERR"
lab_tunnel_down || lab_abort "tunnel down: $LAB_ERR"
route=$(ip -n "$NS_CLIENT" route get "$LAB_HOST_IP" 2>&1)
[[ "$route" == *"dev up0"* ]] || lab_abort "the lab did not fall back to the ISP route: $route"
mark=$(lab_events_mark)

r=$(lab_curl_ms apps "http://$LAB_HOST_IP/"); code=${r% *} ms=${r#* }
check t02_curl_fails_fast "curl with the tunnel down: code '$code' after ${ms} ms (want failure within 3000 ms)" \
	eval '[ "$code" != 200 ] && [ "$ms" -le 3000 ]'
t0=$(_lab_ms); lab_ping apps "$LAB_HOST_IP"; rc=$?; ms=$(($(_lab_ms) - t0))
check t02_ping_fails_fast "ping with the tunnel down: rc $rc after ${ms} ms (want failure within 3000 ms)" \
	eval '[ "$rc" != 0 ] && [ "$ms" -le 3000 ]'
r=$(lab_probe apps tcp "$LAB_HOST_IP" "$LAB_HTTP_PORT" --timeout 5)
check t02_tcp_eperm "TCP connect with the tunnel down: $r (want EPERM, at once)" \
	eval '[ "$(lab_json_get "$r" error)" = EPERM ]'
r=$(lab_probe apps udp "$LAB_HOST_IP" "$LAB_SINK_PORT" --count 5)
check t02_udp_eperm "unconnected UDP sendto with the tunnel down: $r (want 0 sent, EPERM)" \
	eval '[ "$(lab_json_get "$r" sent)" = 0 ] && [ "$(lab_json_get "$r" errors.EPERM)" = 5 ]'
r=$(lab_probe apps udp "$LAB_HOST_IP" "$LAB_SINK_PORT" --count 5 --connect)
check t02_udp_connect_eperm "connected UDP with the tunnel down: $r (want connect EPERM)" \
	eval '[ "$(lab_json_get "$r" connect_error)" = EPERM ]'
t0=$(_lab_ms); in_client apps dig +time=2 +tries=1 @"$LAB_PUBDNS_IP" lab.test >/dev/null 2>&1; rc=$?; ms=$(($(_lab_ms) - t0))
check t02_dns_fails "dig @203.0.113.53 with the tunnel down: rc $rc after ${ms} ms" [ "$rc" != 0 ]

expect_no_leaks t02_no_leaks
lab_server_sync || lab_abort "the internet host's stats did not catch up"
n=$(lab_server_count http isp)
m=$(lab_server_count sink isp)
check t02_server_saw_nothing "the internet host got $n http request(s), $m datagram(s) via the ISP" [ "$n" -eq 0 ] --and [ "$m" -eq 0 ]
expect_event t02_event_tunnel_down "$mark" reason=tunnel_down verdict=blocked dst="$LAB_HOST_IP"
n=$(lab_events --after "$mark" --min 1 --has "$LAB_EVENT_KEYS" reason=tunnel_down)
check t02_event_fields "no tunnel_down event has every contract field ($LAB_EVENT_KEYS): $(lab_events --after "$mark" --min 0 --show reason=tunnel_down | sed -n 2p | cut -c1-300)" [ "${n:-0}" -ge 1 ]
n=$(lab_events --after "$mark" --min 1 reason=tunnel_down "cgroup=$LAB_CGREL_APPS|$LAB_CG" comm=curl)
check t02_event_attribution "no tunnel_down event names comm=curl and the cgroup $LAB_CGREL_APPS" [ "${n:-0}" -ge 1 ]
lab_done
