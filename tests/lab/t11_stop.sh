#!/bin/bash
# t11: the way back. SIGTERM leaves enforcement pinned; `tunlock stop --pin-dir` then detaches
# and unpins everything: normal traffic (via the ISP, and through the tunnel) works again, no
# pin, no program at the protected cgroup, none of the agent's programs left in the kernel. Then,
# with nothing pinned, `run` with a bad policy is refused and leaves nothing behind.
. "$(dirname "$0")/lib.sh"
lab_init t11
lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
lab_setup || lab_abort "lab setup: $LAB_ERR"
lab_agent_up
lab_tunnel_up || lab_abort "tunnel up: $LAB_ERR"
lab_tunnel_down || lab_abort "tunnel down: $LAB_ERR"
code=$(lab_curl apps "http://$LAB_HOST_IP/")
check t11_blocked_before "curl with the tunnel down under the agent: '$code'" [ "$code" != 200 ]
progs="$(lab_bpf_cgroup_progs) $(lab_bpf_pinned_progs)"
note "agent programs: $(echo $progs)"
n=$(find "$LAB_PIN" -mindepth 1 2>/dev/null | wc -l)
check t11_enforcement_was_pinned "before stop: $n pin(s), programs at the protected cgroup: '$(lab_bpf_cgroup_progs | tr '\n' ' ')'" \
	eval '[ "$n" -gt 0 ] && [ -n "$(lab_bpf_cgroup_progs)" ]'

_lab_kill "$LAB_AGENT_PID" 5
LAB_AGENT_PID=
code=$(lab_curl apps "http://$LAB_HOST_IP/")
check t11_sigterm_keeps_enforcement "curl after SIGTERM (before stop): '$code'" [ "$code" != 200 ]

out=$(lab_tunlock stop --pin-dir "$LAB_PIN" 2>&1)
rc=$?
check t11_stop_rc "tunlock stop exited $rc: $(echo "$out" | head -2 | tr '\n' ' ')" [ "$rc" = 0 ]
code=$(lab_curl apps "http://$LAB_HOST_IP/")
check t11_traffic_restored "curl with the tunnel down after stop: '$code' (want 200 via the ISP)" [ "$code" = 200 ]
check t11_ping_restored "ping after stop failed" lab_ping apps "$LAB_HOST_IP"
r=$(lab_probe apps udp "$LAB_HOST_IP" "$LAB_ECHO_PORT" --bind-dev up0 --count 1 --reply-timeout 2)
check t11_bind_dev_restored "UDP with SO_BINDTODEVICE up0 after stop: $r" [ "$(lab_json_get "$r" replies)" -ge 1 ]
n=$(find "$LAB_PIN" -mindepth 1 2>/dev/null | wc -l)
check t11_pins_removed "$n pin(s) left under $LAB_PIN" [ "$n" -eq 0 ]
left=$(lab_bpf_cgroup_progs | tr '\n' ' ')
check t11_cgroup_detached "programs still attached at the protected cgroup: $left" [ -z "$left" ]
alive=$(lab_bpf_alive $progs | tr '\n' ' ')
check t11_programs_gone "agent programs still in the kernel: $alive" [ -z "$alive" ]
tcout=$(ip netns exec "$NS_CLIENT" tc filter show dev up0 egress 2>/dev/null)
check t11_tc_detached "TC filters left on up0: $tcout" [ -z "$tcout" ]
check t11_tunnel_after_stop "tunnel up after stop: $LAB_ERR" lab_tunnel_up

# Nothing pinned now: a fresh start reads its policy while the programs load. A bad policy must
# still be refused with where it is, and leave nothing behind (the load's pins taken back).
bad=$LAB_STATE/bad-policy.yaml
{ cat "$LAB_STATE/policy.yaml"; echo "bogus_key: 1"; } >"$bad"
line=$(wc -l <"$bad")
out=$(lab_tunlock run -c "$bad" --pin-dir "$LAB_PIN" 2>&1)
rc=$?
said=$(echo "$out" | grep -c "^$bad:$line:1: unknown key 'bogus_key'")
check t11_fresh_bad_policy_refused "run with a bad policy on a fresh start exited $rc: $(echo "$out" | grep -m1 bogus_key)" \
	[ "$rc" = 1 ] --and [ "$said" = 1 ]
check t11_fresh_bad_policy_leaves_nothing "after it: pin directory $(ls -d "$LAB_PIN" 2>/dev/null || echo absent), programs at the protected cgroup: '$(lab_bpf_cgroup_progs | tr '\n' ' ')'" \
	eval '[ ! -e "$LAB_PIN" ] && [ -z "$(lab_bpf_cgroup_progs)" ]'
tcout=$(ip netns exec "$NS_CLIENT" tc filter show dev up0 egress 2>/dev/null)
check t11_fresh_bad_policy_no_tc "TC filters on up0 after it: $tcout" [ -z "$tcout" ]
check t11_fresh_bad_policy_traffic "tunnel after it: $LAB_ERR" lab_tunnel_works
lab_done
