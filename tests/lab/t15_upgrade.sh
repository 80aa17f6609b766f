#!/bin/bash
# t15: upgrade. A second agent of another build started over the first one's pins (as a new
# binary would be, after `systemctl restart`; the pinned build record is made another build's,
# since an agent of the same build reuses the pinned programs: t51) replaces every program
# without a gap: the pinned cgroup links
# stay (same link ids) and get new programs (bpf_link_update), the TC filter is replaced in
# place, the old programs are gone, traffic through the tunnel goes on and a bypass attempt
# is refused throughout: zero leaks. Pins it does not know are refused before anything
# changes: a tl_state of another layout version, and a map whose definition differs.
. "$(dirname "$0")/lib.sh"
lab_init t15
lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
lab_setup || lab_abort "lab setup: $LAB_ERR"
lab_agent_up
lab_tunnel_up || lab_abort "tunnel up: $LAB_ERR"
links() { "$LAB_PY" "$LAB_LIB_DIR/labbpf.py" links "$LAB_PIN"; }
tcprog() { "$LAB_PY" "$LAB_LIB_DIR/labbpf.py" tc "$NS_CLIENT" up0; }
links1=$(links) tc1=$(tcprog)
lab_swap_watch_start 60 || lab_abort "watching the swap: $LAB_ERR"

# the upgrade: SIGTERM (enforcement stays pinned), a new agent of another build adopts
_lab_kill "$LAB_AGENT_PID" 5
LAB_AGENT_PID=
"$LAB_PY" "$LAB_LIB_DIR/setbuild.py" "$LAB_PIN" || lab_abort "cannot make the build record another build's"
lab_agent_start "$LAB_STATE/policy.yaml" || lab_abort "second agent: $LAB_ERR"
links2=$(links) tc2=$(tcprog)
note "links (link prog) before: $(echo $links1); after: $(echo $links2); tc up0 prog $tc1 -> $tc2"
check t15_links_kept "link ids changed: '$(echo $links1)' -> '$(echo $links2)'" \
	eval '[ "$(echo "$links1" | wc -l)" -ge 6 ] && [ "$(echo "$links1" | wc -l)" -eq "$(ls "$LAB_PIN" | grep -c "^link_")" ] && [ "$(echo "$links1" | cut -d" " -f1)" = "$(echo "$links2" | cut -d" " -f1)" ]'
old=$(echo "$links1" | cut -d' ' -f2) new=$(echo "$links2" | cut -d' ' -f2)
check t15_programs_replaced "programs: $(echo $old) -> $(echo $new)" \
	eval '[ -z "$(comm -12 <(echo "$old" | sort) <(echo "$new" | sort))" ]'
check t15_tc_replaced "TC egress program on up0: '$tc1' -> '$tc2'" \
	eval '[ -n "$tc1" ] && [ -n "$tc2" ] && [ "$tc1" != "$tc2" ] && [ "$(echo "$tc2" | wc -l)" -eq 1 ]'
sleep 1
alive=$(lab_bpf_alive $old $tc1 | tr '\n' ' ')
check t15_old_programs_gone "old programs still loaded: $alive" [ -z "$alive" ]
check t15_tunnel_after_upgrade "no ping through the tunnel" lab_tunnel_works
before=$(lab_server_count sink vpn)
check t15_traffic_goes_on "the steady sender's traffic stopped reaching the server through the VPN" \
	_lab_wait 3 eval '[ "$(lab_server_count sink vpn)" -gt "'"$before"'" ]'
deny=$(_lab_kill "${LAB_PID[deny]}" 5; tail -n 1 "$LAB_STATE/deny.log")
check t15_refused_throughout "the bypass sender during the upgrade: $deny" \
	eval '[ "$(lab_json_get "$deny" sent)" = 0 ] && [ "$(lab_json_get "$deny" errors.EPERM)" -gt 100 ]'
lab_sender_stop steady >/dev/null
expect_no_leaks t15_no_leaks

# pins of another layout version: refused, nothing changed
_lab_kill "$LAB_AGENT_PID" 5
LAB_AGENT_PID=
"$LAB_PY" "$LAB_LIB_DIR/setlayout.py" "$LAB_PIN" 99 || lab_abort "cannot rewrite tl_state"
out=$(lab_tunlock run -c "$LAB_STATE/policy.yaml" --pin-dir "$LAB_PIN" 2>&1)
rc=$?
check t15_layout_refused "run over layout 99 exited $rc: $(echo "$out" | grep -m1 error | cut -c1-240)" \
	eval '[ "$rc" = 1 ] && echo "$out" | grep -q "has layout 99; this tunlock knows layout [0-9]*. Nothing was changed"'
out=$(lab_tunlock apply -c "$LAB_STATE/policy.yaml" --pin-dir "$LAB_PIN" 2>&1)
check t15_layout_refused_by_apply "apply over layout 99: $(echo "$out" | grep -m1 error | cut -c1-200)" \
	eval 'echo "$out" | grep -q "has layout 99"'
check t15_layout_refusal_changed_nothing "links now: $(links | tr '\n' ' ')" [ "$(links)" = "$links2" ]
r=$(lab_probe apps udp "$LAB_HOST_IP" "$LAB_SINK_PORT" --bind-dev up0 --count 1)
check t15_still_enforcing "bypass after the refusal: $r" [ "$(lab_json_get "$r" errors.EPERM)" = 1 ]
st=$(lab_tunlock status --pin-dir "$LAB_PIN" 2>&1)
check t15_status_names_layout "status: $(echo "$st" | head -2 | tr '\n' '|')" eval 'echo "$st" | grep -q "layout 99"'

# a map whose definition differs (another version's tl_settings)
PIN2=$LAB_PIN-old
mkdir -m 700 "$PIN2" && bpftool map create "$PIN2/tl_settings" type array key 4 value 8 entries 2 name tl_settings ||
	lab_abort "cannot make $PIN2"
out=$(lab_tunlock run -c "$LAB_STATE/policy.yaml" --pin-dir "$PIN2" 2>&1)
rc=$?
check t15_map_definition_refused "run over a foreign tl_settings exited $rc: $(echo "$out" | grep -m1 error | cut -c1-240)" \
	eval '[ "$rc" = 1 ] && echo "$out" | grep -q "pinned map tl_settings is not what this tunlock (layout [0-9]*) knows: type 2, key 4, value 8 bytes"'
check t15_map_refusal_left_it "files in $PIN2: $(ls "$PIN2" | tr '\n' ' ')" [ "$(ls "$PIN2")" = tl_settings ]
out=$(lab_tunlock stop --pin-dir "$PIN2" 2>&1)
check t15_stop_removes_foreign_pins "stop: $out" eval '[ ! -e "$PIN2" ]'
rm -rf "$PIN2"
out=$(lab_tunlock stop --pin-dir "$LAB_PIN" 2>&1)
check t15_stop_removes_other_layout "stop over layout 99: $out" eval '[ ! -e "$LAB_PIN" ] && [ -z "$(lab_bpf_cgroup_progs)" ]'
lab_done
