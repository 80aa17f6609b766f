#!/bin/bash
# t01: with the agent enforcing, the tunnel works: the VPN client's handshake and transport
# pass, ping/curl/UDP/DNS through the tunnel succeed, and the uplink carries nothing but
# WireGuard transport. No legitimate packet produces a "blocked" event.
. "$(dirname "$0")/lib.sh"
lab_init t01
lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
lab_setup || lab_abort "lab setup: $LAB_ERR"
lab_capture_start || lab_abort "capture: $LAB_ERR"
lab_agent_up
# the agent was first: the VPN client must be able to bring the tunnel up under enforcement
if lab_tunnel_up; then pass t01_tunnel_up_under_enforcement; else
	fail t01_tunnel_up_under_enforcement "$LAB_ERR (handshake: $(_lab_wg "$NS_CLIENT" show wg0 latest-handshakes 2>&1 | tr '\t\n' ' '))"
	lab_done
fi
code=$(lab_curl apps "http://$LAB_HOST_IP/")
check t01_curl "curl through the tunnel got '$code'" [ "$code" = 200 ]
check t01_ping "ping 203.0.113.10 through the tunnel failed" lab_ping apps "$LAB_HOST_IP"
r=$(lab_probe apps udp "$LAB_HOST_IP" "$LAB_ECHO_PORT" --count 3 --reply-timeout 2)
check t01_udp_echo "UDP echo through the tunnel: $r" [ "$(lab_json_get "$r" replies)" -ge 1 ]
ans=$(in_client apps dig +short +time=2 +tries=1 @"$LAB_TUN_SERVER_IP" lab.test A)
check t01_tunnel_dns "the tunnel's resolver answered '$ans'" [ "$ans" = "$LAB_MARK_TUN" ]
before=$(lab_server_count sink vpn)
r=$(lab_probe apps udp "$LAB_HOST_IP" "$LAB_SINK_PORT" --rate 200 --duration 2)
# every datagram the sender tried went out, none refused, and they reached the internet host
# through the VPN: judged by what tunlock did, not by how fast the machine runs the sender (a
# 6.1 guest under TCG makes about 200 attempts in 2 s)
sent=$(lab_json_get "$r" sent) attempts=$(lab_json_get "$r" attempts)
_lab_wait 10 lab_server_more sink vpn $((before + 19))
got=$(($(lab_server_count sink vpn) - before))
note "the 2 s sender: $r; $got received through the VPN"
check t01_udp_rate "a 2 s sender through the tunnel: $r; $got received through the VPN" \
	[ "${sent:-0}" -ge 20 ] --and [ "${sent:-0}" -eq "${attempts:--1}" ] --and [ "$got" -ge 20 ]
lab_server_sync || lab_abort "the internet host's stats did not catch up"
n=$(lab_server_count http vpn)
m=$(lab_server_count http isp)
check t01_server_view "server: $n http request(s) via the VPN (want >= 1), $m via the ISP (want 0)" [ "$n" -ge 1 ] --and [ "$m" -eq 0 ]
out=$(lab_tunlock status --json --pin-dir "$LAB_PIN" 2>&1)
check t01_status_json "tunlock status --json: not JSON: $(echo "$out" | head -2 | tr '\n' ' ')" \
	"$LAB_PY" -c 'import json,sys; json.loads(sys.argv[1])' "$out"
expect_no_leaks t01_only_wg_transport
wg=$(lab_wg_count)
check t01_wg_transport_seen "no WireGuard transport in the capture" [ "$wg" -gt 0 ]
n=$(lab_events verdict=blocked --min 0)
check t01_no_false_blocks "$n blocked event(s) for legitimate tunnel traffic: $(lab_events --min 0 --show verdict=blocked | sed -n 2,3p | cut -c1-200 | tr '\n' '|')" [ "$n" -eq 0 ]
lab_done
