#!/bin/bash
# t03: bypass with the tunnel up: ping -I up0, curl --interface up0, and a UDP socket with
# SO_BINDTODEVICE up0 are blocked; nothing leaves the uplink but WireGuard transport; the
# tunnel keeps working. Events say bypass.
. "$(dirname "$0")/lib.sh"
lab_init t03
lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
lab_setup || lab_abort "lab setup: $LAB_ERR"
lab_agent_up
lab_tunnel_up || lab_abort "tunnel up: $LAB_ERR"
lab_capture_start || lab_abort "capture: $LAB_ERR"

mark=$(lab_events_mark)
t0=$(_lab_ms); lab_ping apps "$LAB_HOST_IP" -I up0; rc=$?; ms=$(($(_lab_ms) - t0))
check t03_ping_bind_dev_blocked "ping -I up0: rc $rc after ${ms} ms (want failure)" [ "$rc" != 0 ]
# (ping -I first connects a UDP socket to learn its source address: that may be what is blocked)
expect_event t03_event_ping "$mark" reason=bypass verdict=blocked dst="$LAB_HOST_IP"

mark=$(lab_events_mark)
r=$(lab_curl_ms apps "http://$LAB_HOST_IP/" --interface up0); code=${r% *} ms=${r#* }
check t03_curl_interface_blocked "curl --interface up0: code '$code' after ${ms} ms (want failure within 3000 ms)" \
	eval '[ "$code" != 200 ] && [ "$ms" -le 3000 ]'
expect_event t03_event_curl "$mark" reason=bypass verdict=blocked "protocol=$LAB_P_TCP" dport=80

mark=$(lab_events_mark)
r=$(lab_probe apps udp "$LAB_HOST_IP" "$LAB_ECHO_PORT" --bind-dev up0 --count 5 --reply-timeout 1)
check t03_udp_bindtodevice_blocked "UDP with SO_BINDTODEVICE up0: $r (want no reply, nothing sent)" \
	eval '[ "$(lab_json_get "$r" replies)" = 0 ] && [ "$(lab_json_get "$r" sent)" = 0 ]'
expect_event t03_event_udp "$mark" reason=bypass verdict=blocked "protocol=$LAB_P_UDP" dport="$LAB_ECHO_PORT"

r=$(lab_probe apps udp "$LAB_HOST_IP" "$LAB_ECHO_PORT" --bind-dev up0 --count 3 --connect)
check t03_udp_bindtodevice_connected "connected UDP with SO_BINDTODEVICE up0: $r (want nothing sent)" \
	eval '[ "$(lab_json_get "$r" sent)" = 0 ]'
r=$(lab_probe apps tcp "$LAB_HOST_IP" "$LAB_HTTP_PORT" --bind-dev up0 --timeout 3)
check t03_tcp_bindtodevice "TCP with SO_BINDTODEVICE up0: $r (want not connected)" \
	eval '[ "$(lab_json_get "$r" connected)" = False ]'

code=$(lab_curl apps "http://$LAB_HOST_IP/")
check t03_tunnel_still_works "curl through the tunnel after the attempts: '$code'" [ "$code" = 200 ]
expect_no_leaks t03_no_leaks
lab_server_sync || lab_abort "the internet host's stats did not catch up"
n=$(lab_server_count http isp); m=$(lab_server_count echo isp)
check t03_server_saw_nothing "the internet host got $n http, $m echo via the ISP" [ "$n" -eq 0 ] --and [ "$m" -eq 0 ]
lab_done
