#!/bin/bash
# t16: boot. `tunlock apply` runs before anything is up (no tunnel, no agent) and exits: the same
# pins a `run` leaves (policy, cgroup links, TC on the existing uplink). With no agent, leaks
# are refused, also on an uplink that appears after apply (cgroup_skb takes an unknown interface
# for a non-tunnel one). `run` then adopts the pins without a gap (same links, new programs),
# guards the new uplink with TC and makes the tunnel usable. apply refuses while an agent runs.
. "$(dirname "$0")/lib.sh"
lab_init t16
lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
lab_setup --second-uplink-ready || lab_abort "lab setup: $LAB_ERR"
lab_write_policy "$LAB_STATE/policy.yaml"
lab_capture_start || lab_abort "capture: $LAB_ERR"
"$LAB_PY" "$LAB_LIB_DIR/labguard.py" snapshot "$CG2_MNT" "$LAB_STATE/guard.snap" || lab_abort "labguard snapshot"
out=$(lab_tunlock apply -c "$LAB_STATE/policy.yaml" --pin-dir "$LAB_PIN" 2>&1)
rc=$?
_lab_guard_check || lab_abort "SAFETY: apply attached outside the lab cgroup"
check t16_apply "apply exited $rc: $(echo "$out" | tail -2 | tr '\n' '|')" \
	eval '[ "$rc" = 0 ] && echo "$out" | grep -q "^applied .*policy generation 1"'
st=$(lab_tunlock status --json --pin-dir "$LAB_PIN")
check t16_pinned_state "status after apply: $(echo "$st" | cut -c1-300)" \
	eval '[ "$(lab_json_get "$st" enforcing)" = True ] && [ "$(lab_json_get "$st" agent.running)" = False ] &&
		echo "$st" | grep -q "\"name\":\"up0\",\"ifindex\":[0-9]*,\"role\":\"guarded\""'
links() { "$LAB_PY" "$LAB_LIB_DIR/labbpf.py" links "$LAB_PIN"; }
links1=$(links) tc1=$("$LAB_PY" "$LAB_LIB_DIR/labbpf.py" tc "$NS_CLIENT" up0)
check t16_apply_links_and_tc "links: $(echo $links1); tc on up0: $tc1" \
	eval '[ "$(echo "$links1" | wc -l)" -ge 6 ] && [ "$(echo "$links1" | wc -l)" -eq "$(ls "$LAB_PIN" | grep -c "^link_")" ] && [ -n "$tc1" ]'

code=$(lab_curl apps "http://$LAB_HOST_IP/")
check t16_no_agent_blocks "curl with no tunnel and no agent: '$code'" [ "$code" != 200 ]
lab_second_uplink || lab_abort "second uplink: $LAB_ERR"
r=$(lab_probe apps udp "$LAB_HOST_IP" "$LAB_SINK_PORT" --bind-dev up1 --count 3)
check t16_new_uplink_blocked_without_agent "UDP bound to up1 (appeared after apply): $r" \
	[ "$(lab_json_get "$r" sent)" = 0 ]
r=$(lab_probe apps udp "$LAB_HOST_IP" "$LAB_SINK_PORT" --count 3)
check t16_new_uplink_default_route_blocked "UDP over the new default route: $r" [ "$(lab_json_get "$r" sent)" = 0 ]
lab_tunnel_up --no-wait || lab_abort "tunnel up: $LAB_ERR"
if _lab_wait 2 lab_tunnel_works; then note "tunnel usable before run (unexpected but not a leak)"; else
	note "tunnel not usable until run knows wg0 (fail closed)"; fi

lab_agent_start "$LAB_STATE/policy.yaml" || lab_abort "agent start: $LAB_ERR"
links2=$(links)
check t16_run_adopts_links "links after run: $(echo $links2)" \
	eval '[ "$(echo "$links1" | cut -d" " -f1)" = "$(echo "$links2" | cut -d" " -f1)" ] &&
		[ "$(echo "$links1" | cut -d" " -f2)" != "$(echo "$links2" | cut -d" " -f2)" ]'
check t16_run_guards_new_uplink "no TC filter on up1" \
	_lab_wait 3 eval 'ip netns exec "$NS_CLIENT" tc filter show dev up1 egress | grep -q bpf'
check t16_tunnel_after_run "no ping through the tunnel under run" _lab_wait 5 lab_tunnel_works
st=$(lab_tunlock status --json --pin-dir "$LAB_PIN")
check t16_generation_after_run "generation $(lab_json_get "$st" generation) (apply 1, run 2)" \
	[ "$(lab_json_get "$st" generation)" = 2 ]
out=$(lab_tunlock apply -c "$LAB_STATE/policy.yaml" --pin-dir "$LAB_PIN" 2>&1)
rc=$?
check t16_apply_refuses_live_agent "apply with an agent running exited $rc: $(echo "$out" | tail -1)" \
	eval '[ "$rc" = 1 ] && echo "$out" | grep -q "an agent (pid $LAB_AGENT_PID) keeps"'
# coverage: every leak class of docs/design.md, with a level and a reason, from the pins alone
lsm=0; grep -q bpf /sys/kernel/security/lsm 2>/dev/null && lsm=1
cov=$("$LAB_PY" - "$st" "$lsm" <<'PY'
import json, sys
st, lsm = json.loads(sys.argv[1]), sys.argv[2] == "1"
cov = st.get("coverage", {})
want = ["tunnel_down", "bypass", "dns", "ipv6", "stun", "raw_socket", "endpoint"]
bad = [k for k in want if k not in cov or cov[k].get("level") not in ("full", "partial", "none") or not cov[k].get("why")]
if st.get("features", {}).get("bpf_lsm") != lsm:
    bad.append("features.bpf_lsm %s, kernel %s" % (st.get("features", {}).get("bpf_lsm"), lsm))
if not lsm and "LSM" not in cov.get("raw_socket", {}).get("why", ""):
    bad.append("raw_socket does not say BPF LSM is missing")
print(" ".join(bad))
PY
)
check t16_coverage "status coverage: ${cov}" [ -z "$cov" ]
txt=$(lab_tunlock status --pin-dir "$LAB_PIN")
covered() {
	local c
	for c in tunnel_down bypass dns ipv6 stun raw_socket endpoint; do
		echo "$txt" | grep -Eq "^  $c +(full|partial|none) +[^ ]" || return 1
	done
}
check t16_coverage_text "status text lacks the coverage of each class" covered
expect_no_leaks t16_no_leaks
lab_done
