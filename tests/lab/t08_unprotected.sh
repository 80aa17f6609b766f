#!/bin/bash
# t08: processes the policy leaves alone are unaffected: one in $LAB_CG/other (a sibling of the
# attach cgroup, outside the protection) and one in $LAB_CG/prot/exempt (exempt: true) reach
# 203.0.113.10 via the ISP with the tunnel down, bind-to-device included, and produce no event;
# at the same moment a protected process is still blocked without leaking.
. "$(dirname "$0")/lib.sh"
lab_init t08
lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
lab_setup || lab_abort "lab setup: $LAB_ERR"
lab_agent_up
lab_tunnel_up || lab_abort "tunnel up: $LAB_ERR"
lab_tunnel_down || lab_abort "tunnel down: $LAB_ERR"
mark=$(lab_events_mark)

for cg in other exempt; do
	before=$(lab_server_count http isp)
	code=$(lab_curl "$cg" "http://$LAB_HOST_IP/")
	lab_server_sync || lab_abort "the internet host's stats did not catch up"
	after=$(lab_server_count http isp)
	check "t08_${cg}_curl_via_isp" "curl from $cg with the tunnel down: '$code', server via ISP $before -> $after" \
		eval '[ "$code" = 200 ] && [ "$after" -gt "$before" ]'
	check "t08_${cg}_ping" "ping from $cg with the tunnel down failed" lab_ping "$cg" "$LAB_HOST_IP"
	r=$(lab_probe "$cg" udp "$LAB_HOST_IP" "$LAB_ECHO_PORT" --bind-dev up0 --count 3 --reply-timeout 2)
	check "t08_${cg}_udp_bind_dev" "UDP with SO_BINDTODEVICE up0 from $cg: $r" [ "$(lab_json_get "$r" replies)" -ge 1 ]
	r=$(lab_probe "$cg" udp "$LAB_VPN_IP" 53 --count 2)
	check "t08_${cg}_endpoint_host" "UDP to the endpoint's host from $cg: $r (want sent)" [ "$(lab_json_get "$r" sent)" = 2 ]
done
n=$(lab_events --after "$mark" --min 0 "cgroup=$LAB_CGREL_OTHER|$LAB_CGREL_EXEMPT|$LAB_CG/other|$LAB_CG/prot/exempt")
check t08_no_events_for_unprotected "$n event(s) name the unprotected cgroups" [ "$n" -eq 0 ]

lab_capture_start || lab_abort "capture: $LAB_ERR"
code=$(lab_curl apps "http://$LAB_HOST_IP/")
check t08_apps_still_blocked "curl from prot/apps with the tunnel down: '$code'" [ "$code" != 200 ]
expect_no_leaks t08_apps_no_leaks
lab_done
