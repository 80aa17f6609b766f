#!/bin/bash
# t25: DNS redirect across the agent's life: a SIGKILLed agent leaves redirect and its undoing
# pinned (answers still read as from the server asked), a new agent adopts the recvmsg and
# getpeername links without a second set, and `tunlock stop` removes them all. Audit mode reports
# where a query would have gone (verdict audit, the redirect target) and changes nothing.
. "$(dirname "$0")/lib.sh"
lab_init t25
lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
lab_setup || lab_abort "lab setup: $LAB_ERR"
lab_agent_up --dns redirect
lab_tunnel_up || lab_abort "tunnel up: $LAB_ERR"
progs=$(lab_bpf_cgroup_progs | wc -l)
check t25_ten_cgroup_programs "$progs programs at the protected cgroup (want 10: connect, sendmsg, recvmsg, getpeername x2, sock_create, cgroup_skb)" [ "$progs" -eq 10 ]

lab_capture_start || lab_abort "capture: $LAB_ERR"
lab_agent_kill9
r=$(lab_dns apps "$LAB_ROUTER_IP" --mode sendto)
expect_dns_answer t25_no_agent_redirected "$r" "$LAB_MARK_TUN" "$LAB_ROUTER_IP"
r=$(lab_dns apps "$LAB_ROUTER_IP" --mode tcp)
expect_dns_answer t25_no_agent_tcp_peer "$r" "$LAB_MARK_TUN" "$LAB_ROUTER_IP"
if lab_agent_start "$LAB_STATE/policy.yaml"; then pass t25_restart; else fail t25_restart "$LAB_ERR"; fi
n=$(lab_bpf_cgroup_progs | wc -l)
check t25_adopted_no_duplicates "programs at the protected cgroup: $progs before, $n after the restart" [ "$n" -eq "$progs" ]
r=$(lab_dns apps "$LAB_ROUTER_IP" --mode connect)
expect_dns_answer t25_restarted_redirected "$r" "$LAB_MARK_TUN" "$LAB_ROUTER_IP"
expect_no_leaks t25_no_leaks

# audit: reported with the target it would have had, and sent where the application asked
lab_agent_reload --mode audit --dns redirect || lab_abort "reload: $LAB_ERR"
mark=$(lab_events_mark)
isp0=$(lab_dns_queries isp)
r=$(lab_dns apps "$LAB_ROUTER_IP" --mode sendto)
expect_dns_answer t25_audit_unchanged "$r" "$LAB_MARK_ISP" "$LAB_ROUTER_IP"
expect_dns_logged t25_audit_isp_answered isp "$isp0" -eq 1
expect_event t25_event_audit "$mark" reason=dns verdict=audit layer=socket dst="$LAB_ROUTER_IP" redirect_dst="$LAB_TUN_SERVER_IP"

lab_agent_stop >/dev/null 2>&1
n=$(lab_bpf_cgroup_progs | wc -l)
check t25_stop_detaches_all "$n program(s) left at the protected cgroup after tunlock stop" [ "$n" -eq 0 ]
r=$(lab_dns apps "$LAB_ROUTER_IP" --mode sendto)
check t25_stopped_plain_dns "after stop a query reaches the resolver asked: $r" [ "$(lab_json_get "$r" answer)" = "$LAB_MARK_ISP" ]
lab_done
