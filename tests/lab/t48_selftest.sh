#!/bin/bash
# t48: `tunlock selftest` passes while enforcing (every class it can try passes, nothing leaks on
# the uplink, its transient cgroup is gone after, its gauges and feed line are written), and
# fails naming the classes in audit mode, with the cgroup_skb link removed (no agent to restore
# it) and after `tunlock stop`.
. "$(dirname "$0")/lib.sh"
lab_init t48
lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
lab_setup || lab_abort "lab setup: $LAB_ERR"

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
# class NAME: the result (pass, fail, skip) of class NAME in the last selftest
class() { lab_json_get "$(echo "$ST_OUT" | "$LAB_PY" -c 'import json, sys
print(json.dumps({c["class"]: c["result"] for c in json.load(sys.stdin)["classes"]}))')" "$1"; }
# failed: the classes the last selftest names as failed, space-separated
failed() { echo "$ST_OUT" | "$LAB_PY" -c 'import json, sys; print(" ".join(json.load(sys.stdin)["failed"]))'; }
leftover() { find "$LAB_CG/prot" -maxdepth 1 -name 'tunlock-selftest-*' | tr '\n' ' '; }

lab_agent_up
lab_tunnel_up || lab_abort "tunnel up: $LAB_ERR"
lab_capture_start || lab_abort "capture: $LAB_ERR"
mark=$(lab_events_mark)
selftest --metrics "$LAB_STATE/selftest.prom"
check t48_passes_enforcing "rc $ST_RC, failed: $(failed)" [ "$ST_RC" = 0 ] --and [ -z "$(failed)" ]
for c in enforcement bypass dns ipv6 stun endpoint raw_socket tunnel_down forwarded inbound; do
	check "t48_${c}_passes" "class $c: $(class "$c")" [ "$(class "$c")" = pass ]
done
# this kernel refuses BPF LSM: packet sockets are said to be skipped, with the reason
r=$(class packet_socket)
if lab_raw_covered; then
	check t48_packet_socket_passes "packet_socket: $r" [ "$r" = pass ]
else
	check t48_packet_socket_skipped "packet_socket without BPF LSM: $r" [ "$r" = skip ]
fi
check t48_cgroup_removed "transient cgroups left: $(leftover)" [ -z "$(leftover)" ]
expect_event t48_default_profile_used "$mark" reason=bypass profile=locked interface=up0
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
expect_event t48_profile_used "$mark" reason=bypass profile=lan-ok interface=up0
selftest --profile nosuch
check t48_unknown_profile_fails "--profile nosuch: rc $ST_RC, failed: $(failed)" [ "$ST_RC" = 1 ] --and \
	eval '[[ " $(failed) " == *" enforcement "* ]]'

# dns: redirect: the query to the ISP's resolver leaves, but to the tunnel's resolver
lab_agent_reload --dns redirect || lab_abort "reload: $LAB_ERR"
selftest
check t48_dns_redirected "dns with redirect: $(class dns), rc $ST_RC" [ "$(class dns)" = pass ] --and \
	eval '[[ "$ST_OUT" == *"(redirected to a tunnel resolver)"* ]]' --and [ "$ST_RC" = 0 ]

lab_agent_reload --mode audit || lab_abort "reload: $LAB_ERR"
selftest
f=$(failed)
check t48_audit_fails "audit mode: rc $ST_RC, failed: $f" [ "$ST_RC" = 1 ] --and \
	eval '[[ " $f " == *" enforcement "* ]]' --and eval '[[ " $f " == *" bypass "* ]]' --and \
	eval '[[ " $f " == *" stun "* ]]' --and eval '[[ " $f " == *" forwarded "* ]]'

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
lab_done
