#!/bin/bash
# t06: the agent is SIGKILLed in the middle of tunnel flaps: enforcement stays pinned (zero
# leaks while no agent runs); a new `tunlock run` adopts the pins (no second set of programs),
# events flow again from it, and the tunnel works again.
. "$(dirname "$0")/lib.sh"
lab_init t06
lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
lab_setup || lab_abort "lab setup: $LAB_ERR"
lab_agent_up
lab_tunnel_up || lab_abort "tunnel up: $LAB_ERR"
progs_before=$(lab_bpf_cgroup_progs | wc -l)
lab_capture_start || lab_abort "capture: $LAB_ERR"
lab_sender_start steady || lab_abort "sender did not start"
_lab_wait 10 lab_server_more sink vpn 0 || lab_abort "the sender's datagrams did not reach the sink through the tunnel"

why='' dead_ok=0 dead_tries=0
for ((i = 1; i <= 12; i++)); do
	lab_tunnel_down || { why="flap $i: $LAB_ERR"; break; }
	if [ "$i" = 3 ]; then
		lab_agent_kill9
		note "agent SIGKILLed at flap 3 (tunnel down)"
		n=$(find "$LAB_PIN" -mindepth 1 2>/dev/null | wc -l)
		check t06_pins_survive_kill "no pins under $LAB_PIN after the agent's death" [ "$n" -gt 0 ]
		t0=$(_lab_ms); code=$(lab_curl apps "http://$LAB_HOST_IP/"); ms=$(($(_lab_ms) - t0))
		check t06_blocks_without_agent "curl with the tunnel down and no agent: '$code' after $ms ms" \
			eval '[ "$code" != 200 ] && [ "$ms" -le 3000 ]'
	fi
	sleep 0.3
	if [ "$i" -ge 3 ] && [ "$i" -lt 8 ]; then
		# no agent: the tunnel comes back as a new interface no agent has seen
		lab_tunnel_up --no-wait || { why="flap $i: $LAB_ERR"; break; }
		dead_tries=$((dead_tries + 1))
		_lab_wait 3 lab_tunnel_works && dead_ok=$((dead_ok + 1))
	else
		lab_tunnel_up || { why="flap $i: tunnel did not come back: $LAB_ERR"; break; }
	fi
	if [ "$i" = 7 ]; then
		if lab_agent_start "$LAB_STATE/policy.yaml"; then pass t06_restart; else fail t06_restart "$LAB_ERR"; fi
		progs_after=$(lab_bpf_cgroup_progs | wc -l)
		check t06_adopts_no_duplicates "programs at the protected cgroup: $progs_before before the kill, $progs_after after the restart" \
			eval '[ "$progs_before" -gt 0 ] && [ "$progs_after" -eq "$progs_before" ]'
	fi
done
check t06_flaps "$why" [ -z "$why" ]
note "tunnel usable without an agent on $dead_ok of $dead_tries rebuilds (informational)"
check t06_tunnel_after_restart "ping through the tunnel with the new agent failed" _lab_wait 5 lab_tunnel_works

mark=$(lab_events_mark)
lab_tunnel_down
code=$(lab_curl apps "http://$LAB_HOST_IP/")
check t06_blocked_after_restart "curl with the tunnel down after the restart: '$code'" [ "$code" != 200 ]
expect_event t06_events_flow_again "$mark" reason=tunnel_down verdict=blocked
summary=$(lab_sender_stop steady)
note "sender: $summary"
expect_no_leaks t06_no_leaks
lab_server_sync || lab_abort "the internet host's stats did not catch up"
m=$(lab_server_count sink isp); n=$(lab_server_count http isp)
check t06_server_saw_nothing_via_isp "via the ISP the sink got $m datagram(s), http $n request(s)" [ "$m" -eq 0 ] --and [ "$n" -eq 0 ]
lab_done
