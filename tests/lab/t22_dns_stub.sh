#!/bin/bash
# t22: a local stub resolver in the client: dnsmasq on 127.0.0.53, in a
# protected cgroup, forwarding to the ISP's resolver. The application's query to the stub passes
# (loopback); the stub's upstream query is redirected to the tunnel's resolver (dnsmasq takes the
# answer only from the server it asked: the restored source) or, with dns: block, fails at once.
. "$(dirname "$0")/lib.sh"
lab_init t22
lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
lab_setup || lab_abort "lab setup: $LAB_ERR"
lab_agent_up --dns redirect
lab_tunnel_up || lab_abort "tunnel up: $LAB_ERR"
lab_stub_start apps || lab_abort "stub: $LAB_ERR"

lab_capture_start || lab_abort "capture: $LAB_ERR"
mark=$(lab_events_mark)
isp0=$(lab_dns_queries isp) tun0=$(lab_dns_queries tundns) stub0=$(lab_dns_queries stub)
ans=$(in_client apps dig +short +time=3 +tries=1 @"$LAB_STUB_IP" lab.test A)
check t22_redirect_stub_answer "dig @$LAB_STUB_IP answered '$ans' (want the tunnel's $LAB_MARK_TUN)" [ "$ans" = "$LAB_MARK_TUN" ]
r=$(lab_dns apps "$LAB_STUB_IP" --mode sendto --name www.lab.test)
expect_dns_answer t22_redirect_stub_probe "$r" "$LAB_MARK_TUN" "$LAB_STUB_IP"
expect_no_leaks t22_redirect_no_leaks
expect_dns_logged t22_redirect_stub_logged stub "$stub0" -ge 2
expect_dns_logged t22_redirect_isp_logged_nothing isp "$isp0" -eq 0
expect_dns_logged t22_redirect_tunnel_logged tundns "$tun0" -ge 2
expect_event t22_event_stub_upstream "$mark" reason=dns verdict=redirected comm=dnsmasq dst="$LAB_ROUTER_IP" \
	redirect_dst="$LAB_TUN_SERVER_IP" "cgroup=$LAB_CGREL_APPS"
n=$(lab_events --after "$mark" --min 0 reason=dns "dst=$LAB_STUB_IP")
check t22_app_to_stub_untouched "$n DNS event(s) for the application's query to the stub (want 0: loopback)" [ "$n" -eq 0 ]

lab_agent_reload --dns block || lab_abort "reload: $LAB_ERR"
lab_capture_start || lab_abort "capture: $LAB_ERR"
mark=$(lab_events_mark)
isp0=$(lab_dns_queries isp) tun0=$(lab_dns_queries tundns) stub0=$(lab_dns_queries stub)
r=$(lab_dns apps "$LAB_STUB_IP" --mode sendto --name block.lab.test --timeout 3)
check t22_block_stub_no_answer "the stub answered with dns: block: $r (want no address)" [ -z "$(lab_json_get "$r" answer)" ]
expect_no_leaks t22_block_no_leaks
expect_dns_logged t22_block_stub_logged stub "$stub0" -ge 1
expect_dns_logged t22_block_isp_logged_nothing isp "$isp0" -eq 0
expect_dns_logged t22_block_tunnel_logged_nothing tundns "$tun0" -eq 0
expect_event t22_event_stub_blocked "$mark" reason=dns verdict=blocked layer=socket comm=dnsmasq dst="$LAB_ROUTER_IP"
lab_done
