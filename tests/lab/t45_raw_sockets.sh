#!/bin/bash
# t45: raw IP sockets at the socket layer (cgroup/sock_create), which needs no BPF LSM: with
# raw_sockets: deny, a protected process cannot create a raw ICMP, ICMPv6 or UDP socket (EPERM,
# an event: layer socket, hook sock_create, reason raw_socket, with the process); an exempt
# process and, after a reload with raw_sockets: allow, the same process can. ping keeps working
# through the tunnel: it takes an ICMP datagram socket ("ping socket"), which is not raw, and
# with the tunnel down it fails as before. Tunnel down during the
# denials (the host routes to the ISP): the capture on the uplink sees nothing.
. "$(dirname "$0")/lib.sh"
lab_init t45
lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
lab_setup --ipv6 || lab_abort "lab setup: $LAB_ERR"
lab_agent_up --raw deny
lab_capture_start || lab_abort "capture: $LAB_ERR"
route=$(ip -n "$NS_CLIENT" route get "$LAB_HOST_IP" 2>&1)
[[ "$route" == *"dev up0"* ]] || lab_abort "no tunnel, yet the host does not route to the ISP: $route"
RAW="$LAB_PY $LAB_LIB_DIR/rawprobe.py"

# refused(RESULT): the socket was not created, with EPERM
refused() { [ "$(lab_json_get "$1" created)" = False ] && [ "$(lab_json_get "$1" errno)" = 1 ]; }
# made(RESULT N): the socket was created and sent N packets
made() { [ "$(lab_json_get "$1" created)" = True ] && [ "$(lab_json_get "$1" sent)" = "$2" ]; }

# --- raw_sockets: deny, tunnel down
mark=$(lab_events_mark)
r=$(in_client apps $RAW icmp "$LAB_HOST_IP")
check t45_deny_icmp "raw ICMP socket (AF_INET) in prot/apps: $r (want EPERM)" refused "$r"
r=$(in_client apps $RAW icmp "$LAB_HOST6_IP")
check t45_deny_icmp6 "raw ICMPv6 socket (AF_INET6) in prot/apps: $r (want EPERM)" refused "$r"
r=$(in_client apps $RAW udp "$LAB_HOST_IP" "$LAB_SINK_PORT")
check t45_deny_udp "raw UDP socket (AF_INET) in prot/apps: $r (want EPERM)" refused "$r"
r=$(in_client lan $RAW icmp "$LAB_LANHOST_IP")
check t45_deny_lan_profile "raw ICMP socket in prot/lan (lan: allow, raw_sockets: deny): $r (want EPERM)" refused "$r"
expect_event t45_event_v4 "$mark" layer=socket hook=sock_create reason=raw_socket verdict=blocked \
	family=ipv4 "protocol=$LAB_P_ICMP" comm=python3 "cgroup=$LAB_CGREL_APPS"
expect_event t45_event_v6 "$mark" layer=socket hook=sock_create reason=raw_socket verdict=blocked \
	family=ipv6 "protocol=ipv6-icmp|icmpv6|58" comm=python3
n=$(lab_events --after "$mark" --min 1 --has "$LAB_EVENT_KEYS,pid" layer=socket hook=sock_create reason=raw_socket)
check t45_event_fields "no sock_create event with every contract field and the pid" [ "${n:-0}" -ge 1 ]

# ping: an ICMP datagram socket, not refused; with the tunnel down it fails as before (its UDP
# connect to learn the source address is refused; the packet layers drop what it sends)
mark=$(lab_events_mark)
lab_ping apps "$LAB_HOST_IP"
check t45_ping_down_fails "ping with the tunnel down went through" [ $? != 0 ]
expect_event t45_ping_blocked_tunnel_down "$mark" reason=tunnel_down verdict=blocked comm=ping
n=$(lab_events --after "$mark" --min 0 reason=raw_socket comm=ping)
check t45_ping_not_raw "$n raw_socket event(s) name ping (want 0: ping sockets are not raw)" [ "$n" -eq 0 ]
expect_no_leaks t45_deny_no_leaks

# --- with the tunnel up: ping works; exempt processes create raw sockets; apps still cannot
lab_tunnel_up || lab_abort "tunnel up: $LAB_ERR"
check t45_ping_tunnel "ping through the tunnel with raw_sockets: deny failed" lab_ping apps "$LAB_HOST_IP"
r=$(in_client exempt $RAW icmp "$LAB_HOST_IP" --count 2)
check t45_exempt_icmp "raw ICMP socket in prot/exempt: $r (want created, 2 sent)" made "$r" 2
r=$(in_client other $RAW icmp "$LAB_HOST_IP" --count 2)
check t45_unprotected_icmp "raw ICMP socket outside the attach cgroup: $r (want created, 2 sent)" made "$r" 2
r=$(in_client apps $RAW icmp "$LAB_HOST_IP")
check t45_deny_icmp_tunnel_up "raw ICMP socket in prot/apps with the tunnel up: $r (want EPERM)" refused "$r"

# --- raw_sockets: allow
lab_agent_reload --raw allow || lab_abort "reload: $LAB_ERR"
lab_capture_start || lab_abort "capture: $LAB_ERR"
mark=$(lab_events_mark)
r=$(in_client apps $RAW icmp "$LAB_HOST_IP" --count 2)
check t45_allow_icmp "raw ICMP socket in prot/apps with raw_sockets: allow: $r (want created, 2 sent)" made "$r" 2
r=$(in_client apps $RAW udp "$LAB_HOST_IP" "$LAB_SINK_PORT" --count 2)
check t45_allow_udp "raw UDP socket with raw_sockets: allow: $r (want created, 2 sent)" made "$r" 2
n=$(lab_events --after "$mark" --min 0 reason=raw_socket)
check t45_allow_no_events "$n raw_socket event(s) with raw_sockets: allow" [ "$n" -eq 0 ]
check t45_ping_tunnel_allow "ping through the tunnel with raw_sockets: allow failed" lab_ping apps "$LAB_HOST_IP"
expect_no_leaks t45_allow_no_leaks
lab_done
