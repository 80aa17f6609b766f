#!/bin/bash
# t33: STUN cut so that a check of each packet's start would miss it, to the LAN STUN server
# (coturn, UDP and TCP) that the profile's LAN access would otherwise reach: UDP GSO with the
# request in the second segment, raw IPv4 fragments with the request in a later fragment (in
# both orders), the request's header split over two TCP segments. The exempt cgroup sends the
# same and gets its answer (the probes work); prot/apps gets none, the capture holds no frame
# with the STUN cookie and no stray later fragment, events say stun or malformed. Ordinary LAN
# traffic cut the same ways (GSO, a fragmented datagram, a split HTTP request) still works.
. "$(dirname "$0")/lib.sh"
lab_init t33
lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
lab_setup --lan-host || lab_abort "lab setup: $LAB_ERR"
lab_stun_servers || lab_abort "STUN servers: $LAB_ERR"
# the fragments need a raw socket: the profile allows them, the packet layers judge them
lab_write_policy "$LAB_STATE/policy.yaml" --lan allow || lab_abort "cannot write the lab policy"
sed -i 's/^    lan: allow$/&\n    raw_sockets: allow/' "$LAB_STATE/policy.yaml"
grep -q 'raw_sockets: allow' "$LAB_STATE/policy.yaml" || lab_abort "policy: no raw_sockets: allow"
lab_agent_start "$LAB_STATE/policy.yaml" || lab_abort "agent start: $LAB_ERR"
lab_tunnel_up || lab_abort "tunnel up: $LAB_ERR"

evade() { in_client "$1" "$LAB_PY" "$LAB_LIB_DIR/stunevade.py" "${@:2}"; }
mapped() { lab_json_get "$1" mapped; }
no_mapped() { [ -z "$(mapped "$1")" ]; }
json_is() { [ "$(lab_json_get "$1" "$2")" = "$3" ]; }

# The probes work: from the exempt cgroup each cut gets the server's answer.
for how in gso frag "frag --later-first" tcp-split; do
	# shellcheck disable=SC2086 # $how holds an option
	r=$(evade exempt $how "$LAB_LANHOST_IP" "$LAB_STUN_PORT")
	check "t33_probe_works_${how// /}" "exempt: $how: $r (want a mapped address)" [ -n "$(mapped "$r")" ]
done

lab_capture_start || lab_abort "capture: $LAB_ERR"
mark=$(lab_events_mark)
r=$(evade apps gso "$LAB_LANHOST_IP" "$LAB_STUN_PORT")
check t33_gso_blocked "UDP GSO, request in the second segment: $r (want no answer)" no_mapped "$r"
r=$(evade apps frag "$LAB_LANHOST_IP" "$LAB_STUN_PORT")
check t33_fragments_blocked "request in a later IPv4 fragment: $r (want no answer)" no_mapped "$r"
r=$(evade apps frag "$LAB_LANHOST_IP" "$LAB_STUN_PORT" --later-first)
check t33_fragments_reversed_blocked "later fragment sent first: $r (want no answer)" no_mapped "$r"
r=$(evade apps tcp-split "$LAB_LANHOST_IP" "$LAB_STUN_PORT")
check t33_tcp_split_blocked "header split over two TCP segments: $r (want no answer)" no_mapped "$r"
expect_no_leaks t33_no_leaks --allow-lan
s=$("$LAB_PY" "$LAB_LIB_DIR/stunevade.py" scan "${LAB_CAP_FILES[0]}" "$LAB_CLIENT_MAC")
check t33_capture_no_cookie "the capture's client frames with the STUN cookie: $s (want 0)" json_is "$s" cookie 0
check t33_capture_no_later_fragment "later fragments from the client in the capture: $s (want 0)" \
	json_is "$s" later_fragments 0
expect_event t33_event_stun "$mark" reason=stun verdict=blocked "dst=$LAB_LANHOST_IP" "protocol=$LAB_P_UDP"
expect_event t33_event_stun_tcp "$mark" reason=stun verdict=blocked "dst=$LAB_LANHOST_IP" "protocol=$LAB_P_TCP"
expect_event t33_event_fragment "$mark" reason=malformed verdict=blocked "dst=$LAB_LANHOST_IP"

# Ordinary LAN traffic cut the same ways still works.
lab_capture_start || lab_abort "capture: $LAB_ERR"
r=$(evade apps gso-echo "$LAB_LANHOST_IP" "$LAB_ECHO_PORT")
check t33_gso_echo_works "UDP GSO, three ordinary segments to the LAN echo: $r (want 3 replies)" json_is "$r" replies 3
r=$(evade apps big-echo "$LAB_LANHOST_IP" "$LAB_ECHO_PORT")
check t33_fragmented_echo_works "a 3000-byte datagram to the LAN echo: $r (want its echo)" json_is "$r" replies 1
r=$(evade apps http-split "$LAB_LANHOST_IP" "$LAB_HTTP_PORT")
check t33_split_http_works "an HTTP request split after 4 bytes to the LAN host: $r (want 200)" \
	eval '[[ "$(lab_json_get "$r" status)" == *" 200"* ]]'
code=$(lab_curl apps "http://$LAB_LANHOST_IP/")
check t33_http_works "plain HTTP to the LAN host: '$code' (want 200)" [ "$code" = 200 ]
expect_no_leaks t33_ordinary_no_leaks --allow-lan
s=$("$LAB_PY" "$LAB_LIB_DIR/stunevade.py" scan "${LAB_CAP_FILES[0]}" "$LAB_CLIENT_MAC")
check t33_fragments_on_the_wire "later fragments of the 3000-byte datagram in the capture: $s (want 2 or more)" \
	eval '[ "$(lab_json_get "$s" later_fragments)" -ge 2 ]'

# A TCP stream to the LAN host that goes on past 2 GiB: sequence numbers wrap, the STUN check
# of the stream's heads must not take what follows for bytes before its start (every such
# stream stalled at 2^31 bytes). iperf3 sends 3 GiB: all of it sent, and the receiver's count
# (taken as the test ends, a little short of what was sent) well past 2 GiB, with no stun
# event. Without a capture: the check is that the stream goes on.
lab_capture_stop
_lab_spawn lan-iperf3 infra ip netns exec "$NS_LAN" timeout -k 2 300 iperf3 -s -1 \
	-B "$LAB_LANHOST_IP" -p "$LAB_IPERF_PORT" || lab_abort "iperf3 server: $LAB_ERR"
_lab_wait 10 _lab_listening "$NS_LAN" tcp "$LAB_LANHOST_IP" "$LAB_IPERF_PORT" ||
	lab_abort "iperf3 not listening on the LAN host"
mark=$(lab_events_mark)
r=$(in_client apps timeout -k 2 240 iperf3 -c "$LAB_LANHOST_IP" -p "$LAB_IPERF_PORT" -n 3G -J 2>&1)
sent=$(lab_json_get "$r" end.sum_sent.bytes)
got=$(lab_json_get "$r" end.sum_received.bytes)
check t33_long_tcp_stream "a 3 GiB TCP stream to the LAN host: ${sent:-no} bytes sent (want $((3 << 30))), ${got:-no} received (want over $((5 << 29)))$([ -n "$got" ] ||
	echo ": $(tail -c 300 <<<"$r" | tr '\n' ' ')")" \
	eval '[ "${sent:-0}" -ge $((3 << 30)) ] && [ "${got:-0}" -gt $((5 << 29)) ]'
n=$(lab_events --after "$mark" reason=stun "dst=$LAB_LANHOST_IP" "dport=$LAB_IPERF_PORT")
check t33_long_tcp_no_stun "stun events for the long stream: ${n:-0} (want 0)" [ "${n:-0}" -eq 0 ]
lab_done
