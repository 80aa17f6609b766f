#!/bin/bash
# t48: `tunlock selftest` passes while enforcing (every class it can try passes, nothing leaks on
# the uplink, its transient cgroup is gone after, its gauges and feed line are written, the
# agent's feed has the run with the same per-class results, also as an ECS document, its probes'
# events say selftest and move no leak counter), and fails naming the classes in audit mode (in the feed too), with the
# cgroup_skb link removed (no agent to restore it) and after `tunlock stop`. The inbound class
# forges IPv4 and IPv6; the ipv6 class passes only on tunlock's own verdict, in a lab whose
# uplink has an IPv6 default route: without enforcement the same probe leaves (negative
# control). A look-alike cgroup named tunlock-selftest-evil still leaks as a real leak.
. "$(dirname "$0")/lib.sh"
lab_init t48
lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
lab_setup --ipv6 || lab_abort "lab setup: $LAB_ERR"

# selftest ARGS...: `tunlock selftest --pin-dir $LAB_PIN --json ARGS` in the client netns, with
# the client's resolv.conf (what `ip netns exec` would show; nsenter keeps /sys, which the
# transient cgroup needs), the feed line appended to $LAB_STATE/selftest.events; sets ST_RC
selftest() {
	_lab_ns_unsafe "$NS_CLIENT" && { echo "lab: refusing selftest outside the client netns" >&2; return 2; }
	ST_OUT=$(
		echo "$BASHPID" >"$LAB_CG/agent/cgroup.procs" || exit 126
		exec nsenter --net="/run/netns/$NS_CLIENT" -- unshare -m --propagation private -- \
			sh -c 'mount --bind "$1" /etc/resolv.conf && shift && exec timeout -k 2 30 "$@"' sh \
			"/etc/netns/$NS_CLIENT/resolv.conf" "$TUNLOCK" selftest --pin-dir "$LAB_PIN" --json "$@" \
			2>>"$LAB_STATE/selftest.err"
	)
	ST_RC=$?
	echo "$ST_OUT" >>"$LAB_STATE/selftest.events"
	note "selftest rc $ST_RC: $(echo "$ST_OUT" | cut -c1-600)"
}
# why NAME: the reason given for class NAME in the last selftest
why() { echo "$ST_OUT" | "$LAB_PY" -c 'import json, sys
print([c["reason"] for c in json.load(sys.stdin)["classes"] if c["class"] == sys.argv[1]][0])' "$1"; }
# class NAME: the result (pass, fail, skip) of class NAME in the last selftest
class() { lab_json_get "$(echo "$ST_OUT" | "$LAB_PY" -c 'import json, sys
print(json.dumps({c["class"]: c["result"] for c in json.load(sys.stdin)["classes"]}))')" "$1"; }
# failed: the classes the last selftest names as failed, space-separated
failed() { echo "$ST_OUT" | "$LAB_PY" -c 'import json, sys; print(" ".join(json.load(sys.stdin)["failed"]))'; }
leftover() { find "$LAB_CG/prot" -maxdepth 1 -name 'tunlock-selftest-[0-9]*' | tr '\n' ' '; }
# feed_run MARK: the class:result pairs of the first selftest line in the agent's feed after
# MARK (waits up to 10 s for it), as "class=result ..." in the report's order; empty if none
feed_run() {
	local i
	for ((i = 0; i < 100; i++)); do
		"$LAB_PY" - "$LAB_AGENT_OUT" "$1" <<'EOF2' && return 0
import json, sys
for n, line in enumerate(open(sys.argv[1], errors="replace")):
    if n < int(sys.argv[2]) or not line.startswith("{"):
        continue
    d = json.loads(line)
    if d.get("kind") == "selftest":
        print(d["result"], " ".join("%s=%s" % (c["class"], c["result"]) for c in d["classes"]))
        sys.exit(0)
sys.exit(1)
EOF2
		sleep 0.1
	done
}
# st_run: the same from the last selftest's own --json output
st_run() { echo "$ST_OUT" | "$LAB_PY" -c 'import json, sys
d = json.load(sys.stdin)
print(d["result"], " ".join("%s=%s" % (c["class"], c["result"]) for c in d["classes"]))'; }
# socket_leaks: leak verdicts the socket layer counted so far (tunlock status --json); only
# processes make them, so nothing but the test's own tries moves it
socket_leaks() { lab_tunlock status --pin-dir "$LAB_PIN" --json 2>/dev/null | "$LAB_PY" -c 'import json, sys
print(sum(c["count"] for c in json.load(sys.stdin)["counters"]
          if c["layer"] == "socket" and c["verdict"] != "pass"))'; }

lab_agent_up
lab_tunnel_up --ipv6 || lab_abort "tunnel up: $LAB_ERR"
lab_capture_start || lab_abort "capture: $LAB_ERR"
mark=$(lab_events_mark)
leaks_before=$(socket_leaks)
selftest --metrics "$LAB_STATE/selftest.prom"
check t48_passes_enforcing "rc $ST_RC, failed: $(failed)" [ "$ST_RC" = 0 ] --and [ -z "$(failed)" ]
for c in enforcement bypass dns ipv6 stun endpoint raw_socket tunnel_down forwarded inbound; do
	check "t48_${c}_passes" "class $c: $(class "$c")" [ "$(class "$c")" = pass ]
done
# the agent's feed has the run, with the same result per class
run=$(feed_run "$mark")
check t48_feed_has_run "feed: '$run', selftest said: '$(st_run)'" [ -n "$run" ] --and [ "$run" = "$(st_run)" ]
check t48_feed_run_passes "feed: $run" eval '[[ "$run" == "pass "*" ipv6=pass "*" inbound=pass"* ]]'
# ipv6: passed on tunlock's verdict; inbound: IPv6 forged too
r=$(why ipv6)
check t48_ipv6_by_tunlock "ipv6: $r" eval '[[ "$r" == "stopped: up0 (E"* && "$r" != *"not by tunlock"* ]]'
r=$(why inbound)
check t48_inbound_ipv6 "inbound: $r" eval '[[ "$r" == *"IPv4 and IPv6 tried"* ]]'
# its probes are not leaks: counted for the run (probe_verdicts), their events say selftest, no
# leak counter moved
pv=$(echo "$ST_OUT" | "$LAB_PY" -c 'import json, sys; print(json.load(sys.stdin)["probe_verdicts"])')
check t48_probe_verdicts_counted "probe_verdicts: $pv" [ "${pv:-0}" -ge 5 ]
check t48_probes_not_counted "socket layer leak verdicts before $leaks_before, after $(socket_leaks)" \
	[ -n "$leaks_before" ] --and [ "$(socket_leaks)" = "$leaks_before" ]
probe_events=$(lab_events --after "$mark" --wait 3 selftest=true)
check t48_probe_events_marked "events of the probes marked selftest: $probe_events" [ "${probe_events:-0}" -ge 3 ]
unmarked=$(tail -n +"$((mark + 1))" "$LAB_AGENT_OUT" | grep '"kind":"leak"' | grep -c '"selftest":false')
check t48_no_probe_unmarked "leak events not marked since the run: $unmarked ($(tail -n +"$((mark + 1))" "$LAB_AGENT_OUT" |
	grep '"selftest":false' | head -2 | cut -c1-300 | tr '\n' '|'))" [ "$unmarked" = 0 ]
# this kernel refuses BPF LSM: packet sockets are said to be skipped, with the reason
r=$(class packet_socket)
if lab_raw_covered; then
	check t48_packet_socket_passes "packet_socket: $r" [ "$r" = pass ]
else
	check t48_packet_socket_skipped "packet_socket without BPF LSM: $r" [ "$r" = skip ]
fi
check t48_cgroup_removed "transient cgroups left: $(leftover)" [ -z "$(leftover)" ]
# and its registration with them: nothing is marked once it ended
marks=$(bpftool -j map dump pinned "$LAB_PIN/tl_selftest" 2>&1)
check t48_marks_removed "tl_selftest after the run: $marks" [ "$marks" = "[]" ]
expect_event t48_default_profile_used "$mark" reason=bypass profile=locked interface=up0 selftest=true
expect_no_leaks t48_no_leak_while_enforcing
m=$(cat "$LAB_STATE/selftest.prom" 2>/dev/null)
check t48_metrics "gauges: $(echo "$m" | grep -v '^#' | tr '\n' ' ')" \
	eval 'echo "$m" | grep -qx "tunlock_selftest_ok 1"' --and \
	eval 'echo "$m" | grep -qx "tunlock_selftest_class_result{class=\"bypass\"} 1"' --and \
	eval 'echo "$m" | grep -qx "tunlock_selftest_failed_classes 0"'
promtool=$(command -v promtool || echo "$LAB_LIB_DIR/../../build/tools/promtool")
if [ -x "$promtool" ]; then
	out=$("$promtool" check metrics <"$LAB_STATE/selftest.prom" 2>&1)
	check t48_metrics_promtool "promtool: $out" [ -z "$out" ]
fi
mark=$(lab_events_mark)
selftest --profile lan-ok
check t48_profile_passes "--profile lan-ok: rc $ST_RC, failed: $(failed)" [ "$ST_RC" = 0 ]
# the kernel judged the probes with the profile named (the transient cgroup's entry)
expect_event t48_profile_used "$mark" reason=bypass profile=lan-ok interface=up0 selftest=true

# a look-alike: a cgroup of the protected tree named like the self-test's is no self-test; its
# leak is a leak (event not marked, counted)
mkdir "$LAB_CG/prot/tunlock-selftest-evil" || lab_abort "cannot make the look-alike cgroup"
mark=$(lab_events_mark)
leaks_before=$(socket_leaks)
lab_probe prot/tunlock-selftest-evil udp "$LAB_HOST_IP" 9 --count 1 --bind-dev up0 >/dev/null
expect_event t48_lookalike_is_a_leak "$mark" reason=bypass interface=up0 selftest=false \
	cgroup="$LAB_CG_REL/prot/tunlock-selftest-evil"
check t48_lookalike_counted "socket layer leak verdicts before $leaks_before, after $(socket_leaks)" \
	[ "$(socket_leaks)" -gt "$leaks_before" ]
rmdir "$LAB_CG/prot/tunlock-selftest-evil"
selftest --profile nosuch
check t48_unknown_profile_fails "--profile nosuch: rc $ST_RC, failed: $(failed)" [ "$ST_RC" = 1 ] --and \
	eval '[[ " $(failed) " == *" enforcement "* ]]'

# dns: redirect: the query to the ISP's resolver leaves, but to the tunnel's resolver
lab_agent_reload --dns redirect || lab_abort "reload: $LAB_ERR"
selftest
check t48_dns_redirected "dns with redirect: $(class dns), rc $ST_RC" [ "$(class dns)" = pass ] --and \
	eval '[[ "$ST_OUT" == *"(redirected to a tunnel resolver)"* ]]' --and [ "$ST_RC" = 0 ]

lab_agent_reload --mode audit || lab_abort "reload: $LAB_ERR"
mark=$(lab_events_mark)
selftest
f=$(failed)
check t48_audit_fails "audit mode: rc $ST_RC, failed: $f" [ "$ST_RC" = 1 ] --and \
	eval '[[ " $f " == *" enforcement "* ]]' --and eval '[[ " $f " == *" bypass "* ]]' --and \
	eval '[[ " $f " == *" stun "* ]]' --and eval '[[ " $f " == *" forwarded "* ]]'
run=$(feed_run "$mark")
check t48_feed_has_failed_run "feed: '$run', selftest said: '$(st_run)'" [ -n "$run" ] --and \
	[ "$run" = "$(st_run)" ] --and eval '[[ "$run" == "fail enforcement=fail bypass=fail "* ]]'

# an agent whose feed is ECS: the run is an ECS document there
lab_agent_reload || lab_abort "reload: $LAB_ERR"
_lab_kill "$LAB_AGENT_PID" 5
LAB_AGENT_PID=
lab_agent_start "$LAB_STATE/policy.yaml" --events-format ecs || lab_abort "agent start: $LAB_ERR"
mark=$(lab_events_mark)
selftest
n=$(lab_events --after "$mark" --wait 10 event.dataset=tunlock.selftest tunlock.kind=selftest \
	tunlock.result=pass event.outcome=success)
check t48_ecs_feed_has_run "ECS documents of the run: ${n:-0} (rc $ST_RC)" [ "${n:-0}" = 1 ]

# one layer's link removed: no agent holds the links, so unpinning detaches cgroup_skb
lab_agent_reload || lab_abort "reload: $LAB_ERR"
_lab_kill "$LAB_AGENT_PID" 5
LAB_AGENT_PID=
selftest
check t48_passes_without_agent "pinned, no agent: rc $ST_RC, failed: $(failed)" [ "$ST_RC" = 0 ]
rm -f "$LAB_PIN/link_tl_cgroup_skb_egress"
selftest
f=$(failed)
check t48_link_removed_fails "cgroup_skb link removed: rc $ST_RC, failed: $f" [ "$ST_RC" = 1 ] --and \
	eval '[[ " $f " == *" stun "* ]]' --and eval '[[ " $f " == *" bypass "* ]]' --and \
	eval '[[ "$ST_OUT" == *"cgroup_skb link not attached"* ]]'
check t48_enforcement_still_said "the enforcement class itself: $(class enforcement)" [ "$(class enforcement)" = pass ]

out=$(lab_tunlock stop --pin-dir "$LAB_PIN" 2>&1) || lab_abort "stop: $out"
selftest
f=$(failed)
check t48_stopped_fails "after stop: rc $ST_RC, failed: $f" [ "$ST_RC" = 1 ] --and \
	eval '[[ " $f " == *" bypass "* ]]' --and eval '[[ "$ST_OUT" == *"nothing pinned"* ]]'
check t48_cgroup_removed_at_end "transient cgroups left: $(leftover)" [ -z "$(leftover)" ]
# negative control: without enforcement the ipv6 class's probe leaves by the uplink's default
# route, so its pass above was tunlock's refusal, not the routes'
lab_capture_start || lab_abort "capture: $LAB_ERR"
lab_probe apps udp 2001:db8:5e1f::1 9 --count 1 --bind-dev up0 >/dev/null
lab_capture_stop
expect_captured t48_ipv6_control_leaves -ge 1 "ip6 and udp and dst host 2001:db8:5e1f::1" \
	"IPv6 probes without enforcement"
lab_done
