#!/bin/bash
# t17: the capabilities the agent needs, and no more: `run`, `status` and `stop` under a bounding
# set of exactly CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON (what deploy/kubernetes/daemonset.yaml
# and the systemd unit grant, less the bpffs mount's CAP_SYS_ADMIN, unneeded where bpffs is
# mounted) load, pin, attach, guard, report and stop.
. "$(dirname "$0")/lib.sh"
lab_init t17
lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
command -v setpriv >/dev/null || { skip t17 "no setpriv"; lab_done; }
REAL=$TUNLOCK CAPS=${LAB_CAPS:--all,+bpf,+net_admin,+perfmon}
lab_setup || lab_abort "lab setup: $LAB_ERR"
TUNLOCK=$LAB_STATE/tunlock-capped
printf '#!/bin/sh\nexec setpriv --bounding-set %s --inh-caps -all -- %s "$@"\n' "$CAPS" "$REAL" >"$TUNLOCK"
chmod +x "$TUNLOCK"
lab_agent_up
caps=$(awk '/^CapEff/ { print $2 }' "/proc/$LAB_AGENT_PID/status")
note "agent CapEff $caps (bounding $CAPS)"
check t17_agent_capped "agent's effective capabilities $caps (want 0x000000c000001000: net_admin, perfmon, bpf)" \
	[ "$caps" = 000000c000001000 ]
lab_tunnel_up || lab_abort "tunnel up: $LAB_ERR"
check t17_tunnel "no ping through the tunnel" lab_ping apps "$LAB_HOST_IP"
mark=$(lab_events_mark)
r=$(lab_probe apps udp "$LAB_HOST_IP" "$LAB_SINK_PORT" --bind-dev up0 --count 1)
check t17_blocks "UDP bound to up0: $r" [ "$(lab_json_get "$r" errors.EPERM)" = 1 ]
expect_event t17_event "$mark" reason=bypass
out=$(lab_tunlock status --pin-dir "$LAB_PIN" 2>&1)
check t17_status "status: $(echo "$out" | head -1)" eval 'echo "$out" | grep -q "^enforcing: enforce"'
_lab_kill "$LAB_AGENT_PID" 5
LAB_AGENT_PID=
out=$(lab_tunlock stop --pin-dir "$LAB_PIN" 2>&1)
check t17_stop "stop: $out" eval '[ ! -e "$LAB_PIN" ] && [ -z "$(lab_bpf_cgroup_progs)" ]'
TUNLOCK=$REAL
lab_done
