#!/bin/bash
# t10: LAN access per profile, to the LAN host 10.213.0.5 with the tunnel up: prot/apps
# (profile locked, lan: block) is blocked without a packet on the wire; prot/lan (profile
# lan-ok, lan: allow) reaches it, and still cannot reach the internet past the tunnel.
. "$(dirname "$0")/lib.sh"
lab_init t10
lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
lab_setup --lan-host || lab_abort "lab setup: $LAB_ERR"
lab_agent_up
lab_tunnel_up || lab_abort "tunnel up: $LAB_ERR"

lab_capture_start || lab_abort "capture: $LAB_ERR"
mark=$(lab_events_mark)
lab_ping apps "$LAB_LANHOST_IP"
check t10_blocked_ping "ping 10.213.0.5 from a lan: block profile went through" [ $? != 0 ]
code=$(lab_curl apps "http://$LAB_LANHOST_IP/")
check t10_blocked_http "http to 10.213.0.5 from a lan: block profile: '$code'" [ "$code" != 200 ]
r=$(lab_probe apps udp "$LAB_LANHOST_IP" "$LAB_ECHO_PORT" --count 2 --reply-timeout 1)
check t10_blocked_udp "UDP to 10.213.0.5 from a lan: block profile: $r" [ "$(lab_json_get "$r" replies)" = 0 ]
r=$(lab_probe apps udp 10.213.0.255 "$LAB_ECHO_PORT" --count 1 --broadcast)
check t10_blocked_broadcast "UDP to the LAN broadcast from a lan: block profile: $r (want nothing sent)" [ "$(lab_json_get "$r" sent)" = 0 ]
expect_event t10_event_lan_blocked "$mark" verdict=blocked dst="$LAB_LANHOST_IP"
expect_no_leaks t10_blocked_no_leaks
n=$(lab_server_count http "$LAB_CLIENT_IP" lan)
check t10_lan_host_saw_nothing "the LAN host got $n request(s) from the client" [ "$n" -eq 0 ]

lab_capture_start || lab_abort "capture: $LAB_ERR"
check t10_allowed_ping "ping 10.213.0.5 from a lan: allow profile failed" lab_ping lan "$LAB_LANHOST_IP"
code=$(lab_curl lan "http://$LAB_LANHOST_IP/")
check t10_allowed_http "http to 10.213.0.5 from a lan: allow profile: '$code'" [ "$code" = 200 ]
r=$(lab_probe lan udp "$LAB_LANHOST_IP" "$LAB_ECHO_PORT" --count 2 --reply-timeout 2)
check t10_allowed_udp "UDP echo at 10.213.0.5 from a lan: allow profile: $r" [ "$(lab_json_get "$r" replies)" -ge 1 ]
code=$(lab_curl lan "http://$LAB_HOST_IP/")
check t10_allowed_internet_via_tunnel "internet from the lan: allow profile through the tunnel: '$code'" [ "$code" = 200 ]
code=$(lab_curl lan "http://$LAB_HOST_IP/" --interface up0)
check t10_allowed_profile_no_bypass "curl --interface up0 from the lan: allow profile: '$code'" [ "$code" != 200 ]
lab_tunnel_down || lab_abort "tunnel down: $LAB_ERR"
code=$(lab_curl lan "http://$LAB_HOST_IP/")
check t10_allowed_profile_tunnel_down "internet from the lan: allow profile with the tunnel down: '$code'" [ "$code" != 200 ]
check t10_allowed_lan_tunnel_down "LAN from the lan: allow profile with the tunnel down failed" lab_ping lan "$LAB_LANHOST_IP"
expect_no_leaks t10_allowed_no_other_leaks --allow-lan
lab_done
