#!/bin/bash
# t51: a restart of the same build reuses the pinned programs (agent/kernel/reuse.h), never
# loading or verifying them again: the cgroup links and the TC filter on up0 hold the same
# programs before and after, the agent says it reused them, and while it was away the tunnel
# was re-created (a new interface no agent had seen), which the new agent recognises. Across
# the restart a bypass sender is refused throughout and the capture on the uplink shows
# nothing. Pins that are not what the record says are not adopted: a program pin replaced by
# another of tunlock's programs (a rename in bpffs, which takes no capability) and a record of
# another build each make the next agent load afresh, with new programs and no leak.
. "$(dirname "$0")/lib.sh"
lab_init t51
lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
command -v bpftool >/dev/null || { skip t51 "no bpftool"; lab_done; }
lab_setup || lab_abort "lab setup: $LAB_ERR"
lab_agent_up
lab_tunnel_up || lab_abort "tunnel up: $LAB_ERR"
links() { "$LAB_PY" "$LAB_LIB_DIR/labbpf.py" links "$LAB_PIN"; }
tcprog() { "$LAB_PY" "$LAB_LIB_DIR/labbpf.py" tc "$NS_CLIENT" up0; }
agent_log() { cat "$LAB_STATE/agent$LAB_AGENT_N.err"; }
# restart: SIGTERM (enforcement stays pinned), then a new agent over the same pins
restart() {
	_lab_kill "$LAB_AGENT_PID" 5
	LAB_AGENT_PID=
	[ -z "${1:-}" ] || "$@" || return 1
	lab_agent_start "$LAB_STATE/policy.yaml"
}
# recreate_tunnel: wg0 goes and comes back as a new interface while no agent runs
recreate_tunnel() { lab_tunnel_down && lab_tunnel_up --no-wait; }
# expect_fresh NAME WHY LINKS_BEFORE LINKS_AFTER: the agent said WHY and loaded afresh: every
# link holds a new program (NAME_refused, NAME_fresh_programs)
expect_fresh() {
	local _why=$2 _old _new
	check "$1_refused" "not refused for '$_why': $(agent_log | grep -m1 "$_why\|BPF programs")" \
		eval 'agent_log | grep -q "$_why" && agent_log | grep -q "BPF programs loaded and verified"'
	_old=$(echo "$3" | cut -d' ' -f2) _new=$(echo "$4" | cut -d' ' -f2)
	check "$1_fresh_programs" "programs: $(echo $_old) -> $(echo $_new)" \
		eval '[ -n "$_new" ] && [ -z "$(comm -12 <(echo "$_old" | sort) <(echo "$_new" | sort))" ]'
}

check t51_first_start_loads "the first agent did not say it loaded the programs: $(agent_log | grep -m1 'BPF programs')" \
	eval 'agent_log | grep -q "BPF programs loaded and verified"'
check t51_build_recorded "no build record or program pins in $LAB_PIN: $(ls "$LAB_PIN" | tr '\n' ' ')" \
	eval '[ -e "$LAB_PIN/tl_build" ] && [ "$(ls "$LAB_PIN" | grep -c "^prog_")" -ge 10 ]'
links1=$(links) tc1=$(tcprog)
lab_swap_watch_start 120 || lab_abort "watching the swap: $LAB_ERR"

# ---- the same build: reused
restart recreate_tunnel || lab_abort "restart: $LAB_ERR"
links2=$(links) tc2=$(tcprog)
note "links (link prog) before: $(echo $links1); after: $(echo $links2); tc up0 prog $tc1 -> $tc2"
note "$(agent_log | grep -m1 'BPF programs' | sed 's/.*\] //')"
check t51_reused_said "the restarted agent did not say it reused the programs: $(agent_log | grep -m1 'BPF programs\|loading the programs')" \
	eval 'agent_log | grep -q "BPF programs reused from the pins"'
check t51_same_programs "links and their programs changed across a restart of the same build: '$(echo $links1)' -> '$(echo $links2)'" \
	eval '[ "$(echo "$links1" | wc -l)" -ge 6 ] && [ "$links1" = "$links2" ]'
check t51_same_tc_program "TC egress program on up0: '$tc1' -> '$tc2'" \
	eval '[ -n "$tc1" ] && [ "$tc1" = "$tc2" ]'
check t51_recreated_tunnel_known "tunnel state after the restart: $(lab_tunnel_state lab)" \
	_lab_wait 5 eval '[ "$(lab_tunnel_state lab)" = up ]'
check t51_tunnel_works "no ping through the re-created tunnel with the new agent" _lab_wait 5 lab_tunnel_works
before=$(lab_server_count sink vpn)
check t51_traffic_goes_on "the steady sender's traffic stopped reaching the server through the VPN" \
	_lab_wait 5 eval '[ "$(lab_server_count sink vpn)" -gt "'"$before"'" ]'

# ---- a program pin replaced by another of tunlock's programs: not adopted
restart mv "$LAB_PIN/prog_tl_tc_egress_port" "$LAB_PIN/prog_tl_connect4" || lab_abort "restart over a swapped pin: $LAB_ERR"
links3=$(links)
expect_fresh t51_swapped_pin "prog_tl_connect4 is not the program recorded" "$links2" "$links3"
check t51_swapped_links_kept "link ids changed: '$(echo $links2)' -> '$(echo $links3)'" \
	eval '[ "$(echo "$links2" | cut -d" " -f1)" = "$(echo "$links3" | cut -d" " -f1)" ]'

# ---- a record of another build: loaded afresh
restart "$LAB_PY" "$LAB_LIB_DIR/setbuild.py" "$LAB_PIN" || lab_abort "restart over another build's record: $LAB_ERR"
links4=$(links)
expect_fresh t51_other_build "are another build" "$links3" "$links4"
old=$(echo "$links3" | cut -d' ' -f2)
# the kernel frees a detached program after an RCU grace period: wait for it, bounded
old_gone() { [ -z "$(lab_bpf_alive $old)" ]; }
_lab_wait 10 old_gone
alive=$(lab_bpf_alive $old | tr '\n' ' ')
check t51_old_programs_gone "the other build's programs are still loaded: $alive" [ -z "$alive" ]

# ---- and the next restart reuses what that fresh load recorded
restart || lab_abort "last restart: $LAB_ERR"
check t51_reused_again "links changed over a restart after a fresh load: '$(echo $links4)' -> '$(echo "$(links)")'" \
	eval 'agent_log | grep -q "BPF programs reused from the pins" && [ "$(links)" = "$links4" ]'

check t51_tunnel_at_end "no ping through the tunnel at the end" _lab_wait 5 lab_tunnel_works
deny=$(_lab_kill "${LAB_PID[deny]}" 5; tail -n 1 "$LAB_STATE/deny.log")
check t51_refused_throughout "the bypass sender across the restarts: $deny" \
	eval '[ "$(lab_json_get "$deny" sent)" = 0 ] && [ "$(lab_json_get "$deny" errors.EPERM)" -gt 100 ]'
lab_sender_stop steady >/dev/null
expect_no_leaks t51_no_leaks
lab_done
