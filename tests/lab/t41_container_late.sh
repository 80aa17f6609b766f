#!/bin/bash
# t41: containers that appear after the agent started. The agent follows the cgroup tree and
# the namespaces behind new veths without a restart:
# - a locked container (prot/ctr/locked-late) whose first process is a sender that runs before
#   the container has its veth, routed past the tunnel from its first packet: nothing leaks, first under its ancestor's profile, then under
#   the glob's (ctr-locked) as the host judges its forwarded packets; once the route goes, its
#   traffic reaches the internet through the tunnel. A process of the host sits in its
#   namespace while its veth is made (as `ip -n` and CNI plugins do): it is outside the attach
#   cgroup, so it does not count for the namespace's cgroup, which stays the container's;
# - an exempt container (prot/ctr/exempt-late), split-tunnelled: it reaches the internet via
#   the ISP within seconds, without a reload.
. "$(dirname "$0")/lib.sh"
lab_init t41
lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
lab_setup || lab_abort "lab setup: $LAB_ERR"
lab_containers_setup || lab_abort "container host: $LAB_ERR"
# shellcheck disable=SC2034 # lab_leaks reads it
LAB_LEAK_EXCLUDE="src host $LAB_EXEMPT_SNAT"
lab_agent_up_containers
lab_tunnel_up || lab_abort "tunnel up: $LAB_ERR"
lab_capture_start || lab_abort "capture: $LAB_ERR"
CG_LATE=$LAB_CGREL_PROT/ctr/locked-late
mark=$(lab_events_mark)

# the locked container: its route leads past the tunnel before it exists
# shellcheck disable=SC2154 # LAB_CTR_IP: lib.sh's associative array
LAB_CTR_IP[late]=100.80.0.4
lab_ctr_split late on
# its first process is the sender, running before the container has a network at all
lab_container_ns late locked-late 4 || lab_abort "container late: $LAB_ERR"
lab_spawn_flows late-sender "prot/ctr/locked-late" "${LAB_CTR_NS[late]}" "$LAB_HOST_IP" "$LAB_SINK_PORT" tunlock-late 0.01
sender=$LAB_SPAWNED_PID
sleep 0.2
_lab_spawn late-visitor infra ip netns exec "${LAB_CTR_NS[late]}" sleep 1.5
lab_container_link late || lab_abort "container late: $LAB_ERR"
n=$(lab_events --after "$mark" --wait 30 "cgroup=$CG_LATE" profile=ctr-locked layer=tc reason=bypass)
check t41_late_judged_by_host "events of the late container judged by the host's TC as ctr-locked: ${n:-0}" \
	[ "${n:-0}" -ge 1 ]
first=$("$LAB_PY" - "$LAB_AGENT_OUT" "$mark" "$CG_LATE" <<'EOF'
import json, sys
for i, line in enumerate(open(sys.argv[1])):
    if i < int(sys.argv[2]):
        continue
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if e.get("cgroup") == sys.argv[3]:
        print(e.get("profile"), e.get("layer"))
        break
EOF
)
note "the late container's first event: profile and layer '$first'"
check t41_late_never_unprotected "the late container's first event has profile '$first' (want its ancestor's or its own)" \
	eval '[[ "$first" == "locked "* || "$first" == "ctr-locked "* ]]'
before=$(lab_server_count sink vpn)
lab_ctr_split late off
_lab_wait 30 eval '[ "$(lab_server_count sink vpn)" -gt "'"$before"'" ]'
after=$(lab_server_count sink vpn)
check t41_late_through_tunnel "the late container's datagrams via the VPN once its route went: $before -> $after" \
	[ "$after" -gt "$before" ]
_lab_kill "$sender" 3

# the exempt container
# shellcheck disable=SC2034,SC2154 # LAB_CTR_IP: lib.sh's associative array
LAB_CTR_IP[lex]=100.80.0.5
lab_ctr_split lex on --snat
lab_container lex exempt-late 5 || lab_abort "container lex: $LAB_ERR"
ok=0
for i in $(seq 20); do
	code=$(lab_ctr_curl lex "http://$LAB_HOST_IP/" -m 2 2>/dev/null)
	[ "$code" = 200 ] && { ok=1; break; }
	sleep 0.5
done
note "exempt container reached the host after $i attempt(s)"
check t41_late_exempt_direct "the late exempt container's curl via the ISP: '$code'" [ "$ok" = 1 ]

expect_no_leaks t41_no_leaks
sleep 0.3
n=$(lab_server_count sink isp)
check t41_late_nothing_via_isp "the sink got $n datagram(s) via the ISP" [ "$n" -eq 0 ]
lab_done
