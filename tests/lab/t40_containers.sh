#!/bin/bash
# t40: a container host. The client is the host: bridge ctr0, NAT out of the client, and two
# containers in namespaces and cgroups of their own, started before the agent: "lk" in
# prot/ctr/locked-a (profile ctr-locked) and "ex" in prot/ctr/exempt-b (exempt, split-tunnelled
# past the tunnel with its own SNAT address 10.213.0.3). Side by side: the locked container
# reaches the internet only through the host's tunnel (tunnel up, down, flapping, and a route
# that pushes it past the tunnel), the exempt one directly via the ISP. The host judges what
# the locked container forwards with the container's profile: events name its cgroup.
. "$(dirname "$0")/lib.sh"
lab_init t40
FLAPS=${LAB_FLAPS:-10}
lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
lab_setup || lab_abort "lab setup: $LAB_ERR"
lab_containers_setup || lab_abort "container host: $LAB_ERR"
lab_container lk locked-a 2 || lab_abort "container lk: $LAB_ERR"
lab_container ex exempt-b 3 || lab_abort "container ex: $LAB_ERR"
# shellcheck disable=SC2034 # lab_leaks reads it
LAB_LEAK_EXCLUDE="src host $LAB_EXEMPT_SNAT" # the exempt container's own traffic
lab_agent_up_containers
lab_tunnel_up || lab_abort "tunnel up: $LAB_ERR"
lab_ctr_split ex on --snat
lab_capture_start || lab_abort "capture: $LAB_ERR"
CG_LK=$LAB_CGREL_PROT/ctr/locked-a

roles="v-lk=$(lab_iface_role v-lk) v-ex=$(lab_iface_role v-ex) ctr0=$(lab_iface_role ctr0) up0=$(lab_iface_role up0)"
check t40_roles "interface roles: $roles (want the veths container, ctr0 port, up0 guarded)" \
	[ "$roles" = "v-lk=container v-ex=container ctr0=port up0=guarded" ]

# tunnel up: locked through the VPN, exempt past it
v0=$(lab_server_count http vpn) i0=$(lab_server_count http isp)
code=$(lab_ctr_curl lk "http://$LAB_HOST_IP/")
sleep 0.3
v1=$(lab_server_count http vpn) i1=$(lab_server_count http isp)
check t40_locked_via_tunnel "locked container curl: '$code', server via VPN $v0 -> $v1, via ISP $i0 -> $i1" \
	eval '[ "$code" = 200 ] && [ "$v1" -gt "$v0" ] && [ "$i1" = "$i0" ]'
code=$(lab_ctr_curl ex "http://$LAB_HOST_IP/")
sleep 0.3
i2=$(lab_server_count http isp)
check t40_exempt_direct "exempt container curl: '$code', server via ISP $i1 -> $i2" \
	eval '[ "$code" = 200 ] && [ "$i2" -gt "$i1" ]'

# a route pushes the locked container past the tunnel: the host's TC judges it as the container's
mark=$(lab_events_mark)
lab_ctr_split lk on
code=$(lab_ctr_curl lk "http://$LAB_HOST_IP/")
check t40_locked_pushed_route_blocked "locked container curl routed past the tunnel: '$code'" [ "$code" != 200 ]
expect_event t40_event_names_container "$mark" reason=bypass verdict=blocked layer=tc "cgroup=$CG_LK" \
	profile=ctr-locked interface=up0
lab_ctr_split lk off
code=$(lab_ctr_curl lk "http://$LAB_HOST_IP/")
check t40_locked_back_through_tunnel "locked container curl after the route went: '$code'" [ "$code" = 200 ]

# bound to its veth to the host, a container socket is routed by the host like any other
r=$(in_ctr lk "$LAB_PY" "$LAB_LIB_DIR/netprobe.py" udp "$LAB_HOST_IP" "$LAB_ECHO_PORT" --bind-dev eth0 \
	--count 3 --reply-timeout 2)
check t40_locked_bind_dev_eth0 "UDP with SO_BINDTODEVICE eth0 in the locked container: $r (want replies)" \
	[ "$(lab_json_get "$r" replies)" -ge 1 ]

# the agent is killed: the kernel goes on judging; a new agent adopts the ports
lab_agent_kill9
lab_ctr_split lk on
code=$(lab_ctr_curl lk "http://$LAB_HOST_IP/")
check t40_agent_dead_still_blocked "locked container past the tunnel with no agent: '$code'" [ "$code" != 200 ]
lab_ctr_split lk off
lab_agent_start "$LAB_STATE/policy.yaml" || lab_abort "agent restart: $LAB_ERR"
# (status answers from the pins at once: wait for the new agent itself)
_lab_wait 15 grep -q "enforcing; events follow" "$LAB_STATE/agent$LAB_AGENT_N.err" ||
	lab_abort "the restarted agent did not come up"
code=$(lab_ctr_curl lk "http://$LAB_HOST_IP/")
c2=$(lab_ctr_curl ex "http://$LAB_HOST_IP/")
roles="v-lk=$(lab_iface_role v-lk) v-ex=$(lab_iface_role v-ex) ctr0=$(lab_iface_role ctr0)"
check t40_agent_restart_adopts "after a restart: locked '$code', exempt '$c2', $roles" \
	[ "$code/$c2/$roles" = "200/200/v-lk=container v-ex=container ctr0=port" ]

# tunnel down: the host falls back to the ISP; the locked container is cut off, fast where its
# socket hooks can say so, and its pings (no socket hook) are dropped by the host's TC
lab_tunnel_down || lab_abort "tunnel down: $LAB_ERR"
mark=$(lab_events_mark)
r=$(lab_ctr_curl_ms lk "http://$LAB_HOST_IP/"); code=${r% *} ms=${r#* }
check t40_locked_tunnel_down "locked container curl with the tunnel down: '$code' after $ms ms (want failure within 3000 ms)" \
	eval '[ "$code" != 200 ] && [ "$ms" -le 3000 ]'
# (-I with the address: no UDP socket connected first to learn it, which the socket hook fails)
in_ctr lk ping -n -q -c 2 -W 1 -I "${LAB_CTR_IP[lk]}" "$LAB_HOST_IP" >/dev/null 2>&1
check t40_locked_ping_tunnel_down "locked container ping with the tunnel down went through" [ $? != 0 ]
expect_event t40_event_tunnel_down "$mark" reason=tunnel_down verdict=blocked layer=tc "cgroup=$CG_LK" \
	"protocol=$LAB_P_ICMP"
code=$(lab_ctr_curl ex "http://$LAB_HOST_IP/")
check t40_exempt_tunnel_down "exempt container curl with the tunnel down: '$code'" [ "$code" = 200 ]
lab_tunnel_up || lab_abort "tunnel up: $LAB_ERR"

# flapping, with a UDP sender (a new flow for each datagram) and pings from the locked container
lab_spawn_flows ctr-sender "prot/ctr/locked-a" "${LAB_CTR_NS[lk]}" "$LAB_HOST_IP" "$LAB_SINK_PORT" tunlock-flap 0.005
sender=$LAB_SPAWNED_PID
_lab_spawn ctr-ping "prot/ctr/locked-a" ip netns exec "${LAB_CTR_NS[lk]}" ping -n -q -i 0.05 -w "${LAB_TEST_TIMEOUT:-600}" \
	-I "${LAB_CTR_IP[lk]}" "$LAB_HOST_IP"
pinger=$LAB_SPAWNED_PID
sleep 1
resumed=0 why='' took='' flaps_t0=$SECONDS
for ((i = 1; i <= FLAPS; i++)); do
	if ((i % 2)); then lab_tunnel_down; else lab_tunnel_down --crash; fi || { why="flap $i: $LAB_ERR"; break; }
	sleep 0.3
	before=$(lab_server_count sink vpn)
	lab_tunnel_up || { why="flap $i: tunnel did not come back: $LAB_ERR"; break; }
	t0=$(date +%s%N)
	if _lab_wait 3 eval '[ "$(lab_server_count sink vpn)" -gt "'"$before"'" ]'; then
		resumed=$((resumed + 1))
		took="$took $((($(date +%s%N) - t0) / 1000000))"
	else
		why="flap $i: the container's traffic did not resume through the tunnel within 3 s"
		_lab_pid_alive "$sender" || why="$why (its sender had ended)"
		break
	fi
done
_lab_kill "$sender" 3
_lab_kill "$pinger" 3
note "$((SECONDS - flaps_t0)) s of flaps; ms from the tunnel carrying the host's ping to the container's first datagram through it, per flap:$took"
check t40_flap_resumes "$resumed/$FLAPS rebuilds carried the locked container's traffic again; $why" [ "$resumed" -eq "$FLAPS" ]

expect_no_leaks t40_no_leaks
sleep 0.3
n=$(lab_server_count sink isp)
check t40_locked_nothing_via_isp "the sink got $n datagram(s) via the ISP" [ "$n" -eq 0 ]
lab_done
