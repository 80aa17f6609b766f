#!/bin/bash
# t31: STUN. Through the tunnel a STUN client learns the VPN server's address, never the ISP's;
# bound to the uplink it is blocked; to a STUN server on the LAN (which the profile allows) it is
# blocked. The capture sees no STUN at all; events say stun.
. "$(dirname "$0")/lib.sh"
lab_init t31
lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
lab_setup --lan-host || lab_abort "lab setup: $LAB_ERR"
lab_stun_servers || lab_abort "STUN servers: $LAB_ERR"
lab_agent_up --lan allow
lab_tunnel_up || lab_abort "tunnel up: $LAB_ERR"
lab_capture_start || lab_abort "capture: $LAB_ERR"
mark=$(lab_events_mark)

addr=$(lab_stun apps "$LAB_HOST_IP")
check t31_stun_through_tunnel "STUN through the tunnel learnt '$addr' (want $LAB_VPN_IP)" [ "$addr" = "$LAB_VPN_IP" ]

r=$(in_client apps "$LAB_PY" "$LAB_LIB_DIR/stunprobe.py" "$LAB_HOST_IP" "$LAB_STUN_PORT" --bind-dev up0)
check t31_stun_bound_to_uplink "STUN bound to up0: $r (want no mapped address)" \
	eval '[ "$(lab_json_get "$r" mapped)" = None ] || [ -z "$(lab_json_get "$r" mapped)" ]'

addr=$(lab_stun apps "$LAB_LANHOST_IP")
check t31_stun_to_lan_blocked "STUN to the LAN server learnt '$addr' (want nothing)" [ -z "$addr" ]
code=$(lab_curl apps "http://$LAB_LANHOST_IP/")
check t31_lan_still_allowed "plain HTTP to the LAN host: '$code' (want 200: the profile allows the LAN)" [ "$code" = 200 ]

expect_no_leaks t31_no_stun_leaks --allow-lan
n=$(grep -c "" < <(tcpdump -r "${LAB_CAP_FILES[0]}" -nn "udp port $LAB_STUN_PORT and ether src $LAB_CLIENT_MAC" 2>/dev/null))
check t31_capture_no_stun "the capture saw $n STUN packet(s) from the client (want 0)" [ "$n" -eq 0 ]
expect_event t31_event_stun_lan "$mark" reason=stun verdict=blocked "dst=$LAB_LANHOST_IP"
lab_done
