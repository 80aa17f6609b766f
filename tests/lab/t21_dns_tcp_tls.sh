#!/bin/bash
# t21: DNS over TCP and DNS over TLS: dig +tcp and dig +tls to the ISP's
# resolver (IPv4 and IPv6), and a TCP probe that checks getpeername. With dns: redirect they reach
# the tunnel's resolver (DNS over TLS keeps port 853: the tunnel's TLS front end answers) and the
# socket's peer reads as the server asked; with dns: block the connect fails at once.
. "$(dirname "$0")/lib.sh"
lab_init t21
lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
lab_setup --ipv6 --dns-tls || lab_abort "lab setup: $LAB_ERR"
lab_agent_up --dns redirect
lab_tunnel_up --ipv6 || lab_abort "tunnel up: $LAB_ERR"

# --- redirect
lab_capture_start || lab_abort "capture: $LAB_ERR"
mark=$(lab_events_mark)
isp0=$(lab_dns_queries isp) tun0=$(lab_dns_queries tundns)
ans=$(in_client apps dig +short +tcp +time=3 +tries=1 @"$LAB_ROUTER_IP" lab.test A)
check t21_redirect_dig_tcp "dig +tcp @$LAB_ROUTER_IP answered '$ans' (want the tunnel's $LAB_MARK_TUN)" [ "$ans" = "$LAB_MARK_TUN" ]
ans=$(in_client apps dig +short +tcp +time=3 +tries=1 -6 @"$LAB_ROUTER6_IP" lab.test AAAA)
check t21_redirect_dig_tcp6 "dig +tcp -6 @$LAB_ROUTER6_IP answered '$ans' (want $LAB_MARK6_TUN)" [ "$ans" = "$LAB_MARK6_TUN" ]
ans=$(in_client apps dig +short +tls +time=3 +tries=1 @"$LAB_ROUTER_IP" lab.test A)
check t21_redirect_dig_tls "dig +tls @$LAB_ROUTER_IP answered '$ans' (want $LAB_MARK_TUN)" [ "$ans" = "$LAB_MARK_TUN" ]
r=$(lab_dns apps "$LAB_ROUTER_IP" --mode tcp)
expect_dns_answer t21_redirect_tcp_peer "$r" "$LAB_MARK_TUN" "$LAB_ROUTER_IP"
r=$(lab_dns apps "$LAB_ROUTER6_IP" --mode tcp --type AAAA)
expect_dns_answer t21_redirect_tcp6_peer "$r" "$LAB_MARK6_TUN" "$LAB_ROUTER6_IP"
r=$(lab_dns apps "$LAB_ROUTER_IP" --mode tcp --family mapped)
expect_dns_answer t21_redirect_tcp_mapped_peer "$r" "$LAB_MARK_TUN" "$LAB_ROUTER_IP"
expect_no_leaks t21_redirect_no_leaks
expect_dns_logged t21_redirect_isp_logged_nothing isp "$isp0" -eq 0
expect_dns_logged t21_redirect_tunnel_logged_all tundns "$tun0" -ge 6
expect_event t21_event_redirect_tcp "$mark" reason=dns verdict=redirected hook=connect4 "protocol=$LAB_P_TCP" \
	dst="$LAB_ROUTER_IP" dport=53 redirect_dst="$LAB_TUN_SERVER_IP" redirect_dport=53
expect_event t21_event_redirect_tls "$mark" reason=dns verdict=redirected hook=connect4 "protocol=$LAB_P_TCP" \
	dst="$LAB_ROUTER_IP" dport=853 redirect_dst="$LAB_TUN_SERVER_IP" redirect_dport=853
grep -q "from $LAB_ROUTER_IP" "$LAB_STATE/dns-isp.log"
check t21_tls_front_end_isp_unused "the ISP's TLS front end forwarded a query" [ $? != 0 ]

# --- block
lab_agent_reload --dns block || lab_abort "reload: $LAB_ERR"
lab_capture_start || lab_abort "capture: $LAB_ERR"
mark=$(lab_events_mark)
isp0=$(lab_dns_queries isp) tun0=$(lab_dns_queries tundns)
for a in "+tcp @$LAB_ROUTER_IP" "+tcp -6 @$LAB_ROUTER6_IP" "+tls @$LAB_ROUTER_IP"; do
	label=$(echo "$a" | tr -d '+@' | tr ' .:' '___')
	# refused at once, not timed out: dig says which (a time bound would measure the load)
	# shellcheck disable=SC2086
	out=$(in_client apps dig +short +time=3 +tries=1 $a lab.test 2>&1)
	rc=$?
	check "t21_block_dig_$label" "dig $a with dns: block: rc $rc, '$(tr '\n' ' ' <<<"$out")' (want a failure, not a time-out)" \
		[ "$rc" != 0 ] --and eval '! grep -q "timed out" <<<"$out"'
done
expect_dns_eperm t21_block_tcp "$(lab_dns apps "$LAB_ROUTER_IP" --mode tcp)"
expect_dns_eperm t21_block_tcp6 "$(lab_dns apps "$LAB_ROUTER6_IP" --mode tcp --type AAAA)"
expect_dns_eperm t21_block_tls "$(lab_dns apps "$LAB_ROUTER_IP" --mode tcp --port 853)"
expect_no_leaks t21_block_no_leaks
expect_dns_logged t21_block_isp_logged_nothing isp "$isp0" -eq 0
expect_dns_logged t21_block_tunnel_logged_nothing tundns "$tun0" -eq 0
expect_event t21_event_block_tls "$mark" reason=dns verdict=blocked hook=connect4 dst="$LAB_ROUTER_IP" dport=853
lab_done
