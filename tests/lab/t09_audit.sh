#!/bin/bash
# t09: audit mode decides and reports but drops nothing: the traffic of t02 (tunnel down) and
# t03 (bypass) passes, and each attempt yields an event with verdict audit and the right reason.
. "$(dirname "$0")/lib.sh"
lab_init t09
lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
lab_setup || lab_abort "lab setup: $LAB_ERR"
lab_agent_up --mode audit
lab_tunnel_up || lab_abort "tunnel up: $LAB_ERR"

# t03's bypasses, tunnel up
mark=$(lab_events_mark)
check t09_ping_bind_dev_passes "ping -I up0 failed in audit mode" lab_ping apps "$LAB_HOST_IP" -I up0
expect_event t09_event_ping_bypass "$mark" verdict=audit reason=bypass "protocol=$LAB_P_ICMP" dst="$LAB_HOST_IP"
mark=$(lab_events_mark)
code=$(lab_curl apps "http://$LAB_HOST_IP/" --interface up0)
check t09_curl_interface_passes "curl --interface up0 in audit mode: '$code'" [ "$code" = 200 ]
expect_event t09_event_curl_bypass "$mark" verdict=audit reason=bypass "protocol=$LAB_P_TCP" dport=80
mark=$(lab_events_mark)
r=$(lab_probe apps udp "$LAB_HOST_IP" "$LAB_ECHO_PORT" --bind-dev up0 --count 1 --reply-timeout 2)
check t09_udp_bind_dev_passes "UDP with SO_BINDTODEVICE up0 in audit mode: $r" [ "$(lab_json_get "$r" replies)" -ge 1 ]
expect_event t09_event_udp_bypass "$mark" verdict=audit reason=bypass "protocol=$LAB_P_UDP" dport="$LAB_ECHO_PORT"
mark=$(lab_events_mark)
r=$(lab_probe apps udp "$LAB_VPN_IP" "$LAB_WG_PORT" --count 1 --payload abuse)
check t09_endpoint_passes "UDP to the endpoint in audit mode: $r" [ "$(lab_json_get "$r" sent)" = 1 ]
expect_event t09_event_endpoint "$mark" verdict=audit reason=endpoint

# t02's traffic, tunnel down
lab_tunnel_down || lab_abort "tunnel down: $LAB_ERR"
mark=$(lab_events_mark)
code=$(lab_curl apps "http://$LAB_HOST_IP/")
check t09_curl_passes "curl with the tunnel down in audit mode: '$code'" [ "$code" = 200 ]
expect_event t09_event_curl_tunnel_down "$mark" verdict=audit reason=tunnel_down "protocol=$LAB_P_TCP" dport=80
mark=$(lab_events_mark)
check t09_ping_passes "ping with the tunnel down failed in audit mode" lab_ping apps "$LAB_HOST_IP"
expect_event t09_event_ping_tunnel_down "$mark" verdict=audit reason=tunnel_down "protocol=$LAB_P_ICMP"
mark=$(lab_events_mark)
r=$(lab_probe apps udp "$LAB_HOST_IP" "$LAB_ECHO_PORT" --count 1 --reply-timeout 2)
check t09_udp_passes "UDP with the tunnel down in audit mode: $r" [ "$(lab_json_get "$r" replies)" -ge 1 ]
expect_event t09_event_udp_tunnel_down "$mark" verdict=audit reason=tunnel_down "protocol=$LAB_P_UDP" dport="$LAB_ECHO_PORT"

n=$(lab_events --min 0 verdict=blocked)
check t09_nothing_blocked "$n event(s) with verdict blocked in audit mode" [ "$n" -eq 0 ]
n=$(lab_events --min 1 --has "$LAB_EVENT_KEYS" verdict=audit)
check t09_event_fields "no audit event has every contract field ($LAB_EVENT_KEYS)" [ "${n:-0}" -ge 1 ]
lab_done
