#!/bin/bash
# t20: DNS over UDP: connected and unconnected sockets, IPv4, IPv6,
# and IPv6 sockets talking to an IPv4-mapped address (::ffff:10.213.0.1; unconnected, the kernel
# runs sendmsg4 and brings the answer back through recvmsg6). The ISP's resolver is on the LAN.
# With dns: redirect every query reaches the tunnel's resolver and the application takes the
# answer as coming from the server it asked (the probe checks the source, as dnsmasq does); with
# dns: block every query fails at once with EPERM. Each case asserts what the application got,
# that the ISP-side capture saw no packet, and what each resolver logged.
. "$(dirname "$0")/lib.sh"
lab_init t20
lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
lab_setup --ipv6 || lab_abort "lab setup: $LAB_ERR"
lab_agent_up --dns redirect
lab_tunnel_up --ipv6 || lab_abort "tunnel up: $LAB_ERR"

# label cgroup server dnsprobe-args answer
cases=(
	"v4_unconnected apps $LAB_ROUTER_IP --mode=sendto $LAB_MARK_TUN"
	"v4_connected apps $LAB_ROUTER_IP --mode=connect $LAB_MARK_TUN"
	"v6_unconnected apps $LAB_ROUTER6_IP --mode=sendto,--type=AAAA $LAB_MARK6_TUN"
	"v6_connected apps $LAB_ROUTER6_IP --mode=connect,--type=AAAA $LAB_MARK6_TUN"
	"mapped_unconnected apps $LAB_ROUTER_IP --mode=sendto,--family=mapped $LAB_MARK_TUN"
	"mapped_connected apps $LAB_ROUTER_IP --mode=connect,--family=mapped $LAB_MARK_TUN"
	"lan_profile lan $LAB_ROUTER_IP --mode=sendto $LAB_MARK_TUN"
)
# (cgroup lan has the LAN-allowed profile: its LAN resolver is redirected all the same)
probe_case() { # LABEL CGROUP SERVER ARGS: the dnsprobe result
	local args
	IFS=, read -ra args <<<"$4"
	lab_dns "$2" "$3" "${args[@]}" --timeout 3
}

# --- redirect
lab_capture_start || lab_abort "capture: $LAB_ERR"
mark=$(lab_events_mark)
isp0=$(lab_dns_queries isp) tun0=$(lab_dns_queries tundns)
for c in "${cases[@]}"; do
	read -r label cg server args want <<<"$c"
	r=$(probe_case "$label" "$cg" "$server" "$args")
	expect_dns_answer "t20_redirect_$label" "$r" "$want" "$server"
done
ans=$(in_client apps dig +short +time=3 +tries=1 @"$LAB_ROUTER_IP" lab.test A)
check t20_redirect_dig "dig @$LAB_ROUTER_IP answered '$ans' (want the tunnel's $LAB_MARK_TUN)" [ "$ans" = "$LAB_MARK_TUN" ]
ans=$(in_client apps dig +short +time=3 +tries=1 -6 @"$LAB_ROUTER6_IP" lab.test AAAA)
check t20_redirect_dig6 "dig -6 @$LAB_ROUTER6_IP answered '$ans' (want $LAB_MARK6_TUN)" [ "$ans" = "$LAB_MARK6_TUN" ]
ans=$(in_client apps getent ahostsv4 lab.test | awk 'NR == 1 { print $1 }')
check t20_redirect_glibc "glibc (resolv.conf: nameserver $LAB_ROUTER_IP) resolved lab.test to '$ans' (want $LAB_MARK_TUN)" [ "$ans" = "$LAB_MARK_TUN" ]
expect_no_leaks t20_redirect_no_leaks
expect_dns_logged t20_redirect_isp_logged_nothing isp "$isp0" -eq 0
expect_dns_logged t20_redirect_tunnel_logged_all tundns "$tun0" -ge 10
expect_event t20_event_redirect_v4 "$mark" reason=dns verdict=redirected layer=socket hook=sendmsg4 \
	family=ipv4 dst="$LAB_ROUTER_IP" dport=53 redirect_dst="$LAB_TUN_SERVER_IP" redirect_dport=53 comm=python3
expect_event t20_event_redirect_v6 "$mark" reason=dns verdict=redirected hook=sendmsg6 family=ipv6 \
	dst="$LAB_ROUTER6_IP" redirect_dst="$LAB_TUN6_SERVER_IP" redirect_dport=53
expect_event t20_event_redirect_mapped_connect "$mark" reason=dns verdict=redirected hook=connect6 \
	family=ipv4 dst="$LAB_ROUTER_IP" redirect_dst="$LAB_TUN_SERVER_IP"
n=$(lab_events --after "$mark" --min 1 --has "$LAB_EVENT_KEYS,redirect_dst,redirect_dport,pid" reason=dns verdict=redirected \
	"cgroup=$LAB_CGREL_APPS" comm=python3)
check t20_event_fields "no redirect event with every contract field, the redirect target and the process" [ "${n:-0}" -ge 1 ]
st=$(lab_tunlock status --json --pin-dir "$LAB_PIN")
check t20_status_redirect "status --json: dns $(lab_json_get "$st" dns) (want redirect profiles, >= 10 redirected)" \
	"$LAB_PY" -c 'import json, sys
d = json.loads(sys.argv[1])["dns"]
sys.exit(not (d["redirected"] >= 10 and any(p["action"] == "redirect" for p in d["profiles"])))' "$st"

# --- block: the same paths fail at once, nothing reaches any resolver
lab_agent_reload --dns block || lab_abort "reload: $LAB_ERR"
lab_capture_start || lab_abort "capture: $LAB_ERR"
mark=$(lab_events_mark)
isp0=$(lab_dns_queries isp) tun0=$(lab_dns_queries tundns)
for c in "${cases[@]}"; do
	read -r label cg server args want <<<"$c"
	r=$(probe_case "$label" "$cg" "$server" "$args")
	expect_dns_eperm "t20_block_$label" "$r"
done
# refused at once, not timed out: dig says which; a time bound would measure the machine's load
out=$(in_client apps dig +short +time=3 +tries=1 @"$LAB_ROUTER_IP" lab.test A 2>&1)
rc=$?
check t20_block_dig "dig @$LAB_ROUTER_IP with dns: block: rc $rc, '$(tr '\n' ' ' <<<"$out")' (want a failure, not a time-out)" \
	[ "$rc" != 0 ] --and eval '! grep -q "timed out" <<<"$out"'
# glibc with a 30 s time-out: failing within 10 s can only be the refusal
lab_timed ms in_client apps env RES_OPTIONS="timeout:30 attempts:1" getent ahostsv4 lab.test >/dev/null 2>&1
rc=$?
# shellcheck disable=SC2154 # lab_timed sets ms
check t20_block_glibc "glibc with dns: block: rc $rc after $ms ms (want a failure, not its 30 s time-out)" \
	[ "$rc" != 0 ] --and [ "$ms" -le 10000 ]
# a query to the tunnel's resolver itself is not touched
r=$(lab_dns apps "$LAB_TUN_SERVER_IP" --mode sendto)
expect_dns_answer t20_block_tunnel_resolver_passes "$r" "$LAB_MARK_TUN" "$LAB_TUN_SERVER_IP"
expect_no_leaks t20_block_no_leaks
expect_dns_logged t20_block_isp_logged_nothing isp "$isp0" -eq 0
expect_dns_logged t20_block_tunnel_logged_one tundns "$tun0" -eq 1
expect_event t20_event_block "$mark" reason=dns verdict=blocked layer=socket dst="$LAB_ROUTER_IP" dport=53 \
	"redirect_dst!=$LAB_TUN_SERVER_IP" comm=python3
expect_event t20_event_block_v6 "$mark" reason=dns verdict=blocked hook=sendmsg6 dst="$LAB_ROUTER6_IP"

# --- left alone: the VPN client is never redirected (its profile blocks the LAN: dropped on the
# uplink), exempt and unprotected processes reach the ISP's resolver (visible: capture stopped)
lab_agent_reload --dns redirect || lab_abort "reload: $LAB_ERR"
mark=$(lab_events_mark)
r=$(lab_dns vpn "$LAB_ROUTER_IP" --mode sendto --timeout 1)
check t20_vpn_client_not_redirected "VPN client's query to $LAB_ROUTER_IP: $r (want no answer: not redirected, and dropped on the uplink)" \
	[ -z "$(lab_json_get "$r" answer)" ]
expect_event t20_event_vpn_client_dropped "$mark" reason=dns verdict=blocked layer=cgroup_skb dst="$LAB_ROUTER_IP"
r=$(lab_dns exempt "$LAB_ROUTER_IP" --mode sendto)
expect_dns_answer t20_exempt_untouched "$r" "$LAB_MARK_ISP" "$LAB_ROUTER_IP"
r=$(lab_dns other "$LAB_ROUTER_IP" --mode connect)
expect_dns_answer t20_unprotected_untouched "$r" "$LAB_MARK_ISP" "$LAB_ROUTER_IP"
lab_done
