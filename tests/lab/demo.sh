#!/bin/bash
# make demo: the same leak attempts, first without tunlock, then with it, judged by what a
# capture on the ISP side of the client's uplink saw. Runs in its own lab (network namespaces
# and a child cgroup with unique names), removed on exit, also on failure.
. "$(dirname "$0")/lib.sh"
lab_init demo
[ "$(id -u)" = 0 ] || { echo "make demo needs root (network namespaces, cgroups, BPF)"; exit 1; }
lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK: run make first"

say() { printf '%s\n' "$*"; }
bold() { printf '\n\033[1m%s\033[0m\n' "$*"; }

# attempt LABEL STATE cmd...: one leak attempt with its own capture; prints a report line and
# remembers the leaked packets for the summary. STATE is "up" or "down" (the tunnel).
declare -A LEAKED
attempt() {
	local label=$1 n first
	shift 2
	lab_capture_start || lab_abort "capture: $LAB_ERR"
	"$@" >/dev/null 2>&1
	sleep 0.3
	lab_capture_stop
	n=$(lab_leak_count)
	first=$(lab_leaks | head -1 | sed -E 's/^[^:]*: //; s/ IP6? \([^)]*\)//' | cut -c1-100)
	LEAKED[$label]=$n
	if [ "$n" -gt 0 ]; then
		printf '  %-46s \033[31m%3d packet(s) leaked\033[0m\n' "$label" "$n"
		printf '  %-46s   e.g. %s\n' "" "$first"
	else
		printf '  %-46s \033[32m  0 packets leaked\033[0m\n' "$label"
	fi
}

udp_to_endpoint() { lab_probe apps udp "$LAB_VPN_IP" "$LAB_WG_PORT" --count 3; }
stun_bound() { in_client apps "$LAB_PY" "$LAB_LIB_DIR/stunprobe.py" "$LAB_HOST_IP" "$LAB_STUN_PORT" --bind-dev up0; }
udp_bound() { lab_probe apps udp "$LAB_HOST_IP" "$LAB_ECHO_PORT" --bind-dev up0 --count 3 --reply-timeout 1; }

attempts() {
	lab_tunnel_up || lab_abort "tunnel up: $LAB_ERR"
	say "  tunnel up (wg0 via wireguard-go):"
	attempt "curl through the tunnel (not a leak)" up lab_curl apps "http://$LAB_HOST_IP/"
	attempt "curl --interface up0 (bypass)" up lab_curl apps "http://$LAB_HOST_IP/" --interface up0
	attempt "ping -I up0 (bypass)" up lab_ping apps "$LAB_HOST_IP" -I up0
	attempt "UDP with SO_BINDTODEVICE up0 (bypass)" up udp_bound
	attempt "UDP to the VPN endpoint, not the client" up udp_to_endpoint
	attempt "curl -6 (IPv4-only tunnel, ISP has IPv6)" up lab_curl apps "http://[$LAB_HOST6_IP]/" -6
	attempt "STUN bound to up0 (reveals the ISP address)" up stun_bound
	lab_tunnel_down || lab_abort "tunnel down: $LAB_ERR"
	say "  tunnel deleted (routes fall back to the ISP):"
	attempt "curl (tunnel down)" down lab_curl apps "http://$LAB_HOST_IP/"
	attempt "ping (tunnel down)" down lab_ping apps "$LAB_HOST_IP"
	attempt "dig @203.0.113.53 (tunnel down)" down in_client apps dig +time=2 +tries=1 @"$LAB_PUBDNS_IP" lab.test
}

lab_setup --ipv6 || lab_abort "lab setup: $LAB_ERR"
lab_stun_servers || lab_abort "STUN servers: $LAB_ERR"
bold "tunlock demo: lab $LAB_ID"
say "  client 10.213.0.2, fd13:213::2 --up0--> ISP 10.213.0.1 --> internet host $LAB_HOST_IP, $LAB_HOST6_IP (http, STUN)"
say "  VPN: wireguard-go to $LAB_VPN_IP:$LAB_WG_PORT; capture on the ISP side of up0"

bold "1. Without tunlock"
attempts
declare -A BEFORE
for k in "${!LEAKED[@]}"; do BEFORE[$k]=${LEAKED[$k]}; done

bold "2. With tunlock (tunlock run, policy: $LAB_STATE/policy.yaml)"
lab_agent_up
attempts
sleep 0.5

bold "3. What tunlock reported (first events of its JSON feed)"
grep '^{' "$LAB_AGENT_OUT" | head -6 | cut -c1-220 | sed 's/^/  /'
total=$(grep -c '^{' "$LAB_AGENT_OUT")
say "  ... $total events in all: $(grep -o '"reason":"[a-z_]*"' "$LAB_AGENT_OUT" | sort | uniq -c | tr -s ' ' | tr '\n' ',' | sed 's/,$//')"

bold "4. Summary (packets the ISP saw that were not VPN transport, DHCP, ARP or NDP)"
before=0 after=0
for k in "${!BEFORE[@]}"; do before=$((before + BEFORE[$k])); after=$((after + LEAKED[$k])); done
say "  without tunlock: $before leaked packet(s)"
say "  with tunlock:    $after leaked packet(s)"
[ "$after" -eq 0 ] && say "  tunlock stopped every leak." || say "  LEAKS WITH TUNLOCK: see above"
[ "$after" -eq 0 ]
