#!/bin/bash
# t18: the agent cannot be stalled by events from cgroups it does not know. 5,000 idle cgroups
# sit under the lab cgroup (a large tree), and a flood of short-lived cgroups below prot, made
# and removed by this test, each sends one blocked datagram (tunnel down: an event each, from a
# cgroup id no cache knows). While the flood runs, a second uplink appears: its TC egress filter
# must be attached within a few seconds (status, then the capture on both uplinks: no leaks).
# An agent that walked the cgroup tree for each such event left the new uplink unguarded for
# tens of seconds (over 60 s here, with the bound 15 s generous for a loaded 2-core machine).
. "$(dirname "$0")/lib.sh"
lab_init t18
lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
lab_setup --second-uplink-ready || lab_abort "lab setup: $LAB_ERR"
BULK=${T18_BULK:-5000} FLOOD=${T18_FLOOD:-5000} BOUND=${T18_BOUND:-15}

# the idle tree: not protected (under other/), only large
mkdir "$LAB_CG/other/bulk" || lab_abort "cannot make $LAB_CG/other/bulk"
"$LAB_PY" -c 'import os, sys
for i in range(int(sys.argv[2])):
    os.mkdir("%s/b%d" % (sys.argv[1], i))' "$LAB_CG/other/bulk" "$BULK" || lab_abort "cannot make $BULK cgroups"
note "$(find "$LAB_CG" -type d | wc -l) cgroups under the lab cgroup"

lab_agent_up --events '{rate: 1000, burst: 1000}'
mkdir "$LAB_CG/prot/flood" || lab_abort "cannot make $LAB_CG/prot/flood"

# The flood, inside the client netns (nsenter: /sys stays as it is) and the lab cgroup: cgroup
# prot/flood/fN, one process in it connects a UDP socket to the internet host (refused: the
# tunnel is down), the cgroup goes. Bounded: FLOOD cgroups, 120 s.
FLOOD_SH='cg=$1 n=$2
for ((i = 0; i < n; i++)); do
	d=$cg/f$i
	mkdir "$d" || continue
	( echo $BASHPID >"$d/cgroup.procs" && exec 3<>/dev/udp/203.0.113.10/9 ) 2>/dev/null
	rmdir "$d" 2>/dev/null
done
echo "flood: $n cgroups done"'
_lab_spawn flood infra timeout 120 nsenter --net="/run/netns/$NS_CLIENT" -- bash -c "$FLOOD_SH" flood \
	"$LAB_CG/prot/flood" "$FLOOD"
FLOOD_PID=$LAB_SPAWNED_PID
mark=$(lab_events_mark)
# the flood is under way: events from short-lived cgroups come in
lab_events --after "$mark" --wait 30 --min 20 reason=tunnel_down >/dev/null
n=$(lab_events --after "$mark" reason=tunnel_down --min 0)
note "events of the flood so far: $n"
check t18_flood_running "the flood made too few events (${n:-0})" [ "${n:-0}" -ge 20 ]

lab_capture_start || lab_abort "capture: $LAB_ERR"
t0=$(_lab_ms)
lab_second_uplink || lab_abort "second uplink: $LAB_ERR"
role=
while [ $(( $(_lab_ms) - t0 )) -lt 60000 ]; do
	role=$(lab_iface_role up1)
	[ "$role" = guarded ] && break
	sleep 0.1
done
ms=$(( $(_lab_ms) - t0 ))
note "up1 $role after $ms ms (flood still running: $(_lab_pid_alive "$FLOOD_PID" && echo yes || echo no))"
check t18_new_uplink_guarded "up1 '$role' after $ms ms of the flood (bound ${BOUND}s)" [ "$role" = guarded ]
check t18_guarded_within_bound "up1 guarded only after $ms ms (bound ${BOUND}s)" [ "$ms" -le $((BOUND * 1000)) ]
flood_alive() { _lab_pid_alive "$FLOOD_PID"; }
check t18_flood_was_running "the flood ended before up1 was guarded: the test proved nothing" flood_alive

# traffic on the new uplink from a protected process: blocked, nothing on the wire
lab_ping apps "$LAB_HOST_IP" -I up1
check t18_ping_up1_blocked "ping -I up1 went through" [ $? != 0 ]
_lab_kill "$FLOOD_PID" 5
tail -1 "$LAB_STATE/flood.log" | sed 's/^/# /'
expect_no_leaks t18_no_leaks
# events kept their cgroup (the live ones resolved without a walk)
n=$(tail -n +"$((mark + 1))" "$LAB_AGENT_OUT" | grep -c "\"cgroup\":\"$LAB_CGREL_PROT/flood/f[0-9]*\"")
check t18_events_have_paths "no flood event named its cgroup" [ "${n:-0}" -ge 1 ]
lab_done
