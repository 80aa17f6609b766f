#!/bin/bash
# t18 (cgroup table): a cgroup that a rule names must get its own profile even when the agent
# missed its creation or has no room for its entry. The lab policy gives prot/lan "lan-ok" (LAN
# allowed) and, with one more rule, prot/lan/box-* "locked" (LAN blocked): were a box judged by
# its parent's entry, it would reach the LAN host.
#  - inotify overflow: with the agent stopped, 8,300 cgroups made and removed under prot overflow
#    its queue, and box-1 appears then; once the agent runs again it rescans: box-1 is locked;
#  - a full table: the live cgroup table filled (bpftool) with entries of no cgroup; box-2 appears,
#    its entry cannot be written: it is frozen (fail closed), status says degraded, a metric
#    counts it; once room is made the agent writes the entry and thaws it: box-2 is locked.
# The verdict is the capture on the ISP side: nothing to the LAN host.
. "$(dirname "$0")/lib.sh"
lab_init t18
lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
command -v bpftool >/dev/null || { skip t18_cgroup_table "no bpftool"; lab_done; }
lab_setup --lan-host || lab_abort "lab setup: $LAB_ERR"
POLICY=$LAB_STATE/policy.yaml PROM=$LAB_STATE/tunlock.prom
lab_write_policy "$POLICY" || lab_abort "cannot write the lab policy"
printf '  - path: %s/box-*\n    profile: locked\n' "$LAB_CGREL_LAN" >>"$POLICY"
lab_tunlock check -c "$POLICY" >/dev/null || lab_abort "the policy does not check"
lab_agent_start "$POLICY" --interval 1 --metrics "$PROM" || lab_abort "agent start: $LAB_ERR"
metric() { grep "^$1 " "$PROM" 2>/dev/null | awk '{ print $2 }'; }
lan_code() { lab_curl "$1" "http://$LAB_LANHOST_IP/"; }
not_200() { [ "$1" != 200 ]; }

# ---- inotify overflow
kill -STOP "$LAB_AGENT_PID"
"$LAB_PY" -c 'import os, sys
d = sys.argv[1] + "/churn"
for i in range(8300):
    os.mkdir(d)
    os.rmdir(d)' "$LAB_CG/prot" || lab_abort "cannot churn cgroups"
mkdir "$LAB_CG/prot/lan/box-1" || lab_abort "cannot make box-1"
kill -CONT "$LAB_AGENT_PID"
rescanned() { grep -q "rescanning" "$LAB_STATE/agent$LAB_AGENT_N.err"; }
_lab_wait 20 rescanned
check t18c_overflow_rescanned "the agent did not say it rescanned: $(grep -m1 -i 'lost' "$LAB_STATE/agent$LAB_AGENT_N.err")" rescanned
lab_capture_start || lab_abort "capture: $LAB_ERR"
code=$(lan_code prot/lan/box-1)
check t18c_overflow_box_locked "box-1 (created while events were lost) reached the LAN host: $code" not_200 "$code"
expect_no_leaks t18c_overflow_no_leak
code=$(lan_code lan)
check t18c_lan_still_allowed "prot/lan itself could not reach the LAN host: '$code' (the test proves nothing)" [ "$code" = 200 ]
_lab_wait 5 eval '[ "$(metric tunlock_cgroup_rescans_total)" -ge 1 ] 2>/dev/null'
check t18c_rescan_metric "tunlock_cgroup_rescans_total is '$(metric tunlock_cgroup_rescans_total)'" \
	[ "$(metric tunlock_cgroup_rescans_total)" -ge 1 ]

# ---- a full table
# table ARG: the live cgroup table (bpftool id), its size and use
table_id() {
	local slot
	slot=$(bpftool -j map lookup pinned "$LAB_PIN/tl_state" key 0 0 0 0 |
		"$LAB_PY" -c 'import json, sys; print(int(json.load(sys.stdin)["value"][0], 16))')
	bpftool -j map lookup pinned "$LAB_PIN/tl_cgroups" key "$slot" 0 0 0 |
		"$LAB_PY" -c 'import json, sys
v = json.load(sys.stdin)["value"]
print(v if isinstance(v, int) else int.from_bytes(bytes(int(b, 16) for b in v[:4]), "little"))'
}
# fill ID update|delete: bpftool batch of entries for ids 0xfeed0000_00000000 + i (no cgroup)
fill() {
	local id=$1 op=$2 used max
	used=$(bpftool -j map dump id "$id" | "$LAB_PY" -c 'import json, sys; print(len(json.load(sys.stdin)))')
	max=$(bpftool -j map show id "$id" | "$LAB_PY" -c 'import json, sys; print(json.load(sys.stdin)["max_entries"])')
	[ "$op" = update ] && note "live cgroup table $id: $used of $max entries"
	"$LAB_PY" -c 'import sys
tid, op, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(n):
    key = " ".join("0x%02x" % b for b in (0xfeed000000000000 + i).to_bytes(8, "little"))
    if op == "update":
        print("map update id %s key %s value 0 0 0 0 0 0 0 0" % (tid, key))
    else:
        print("map delete id %s key %s" % (tid, key))' "$id" "$op" "$([ "$op" = update ] && echo $((max - used)) || echo 64)" \
		>"$LAB_STATE/fill.batch"
	bpftool batch file "$LAB_STATE/fill.batch" >/dev/null
}
TID=$(table_id)
[ -n "$TID" ] || lab_abort "cannot find the live cgroup table"
fill "$TID" update || lab_abort "cannot fill the cgroup table"
rc=0; lab_tunlock status --pin-dir "$LAB_PIN" >"$LAB_STATE/status.txt" 2>&1 || rc=$?
check t18c_full_degraded "status with a full table: exit $rc: $(head -1 "$LAB_STATE/status.txt")" [ "$rc" = 3 ]
mkdir "$LAB_CG/prot/lan/box-2" || lab_abort "cannot make box-2"
frozen() { grep -q "^frozen $1" "$LAB_CG/prot/lan/box-2/cgroup.events"; }
_lab_wait 10 frozen 1
check t18c_full_frozen "box-2 (no room for its entry) is not frozen: $(tr '\n' ' ' <"$LAB_CG/prot/lan/box-2/cgroup.events")" frozen 1
lab_capture_start || lab_abort "capture: $LAB_ERR"
# a process in the frozen cgroup: it does not run, so it sends nothing; killed after 3 s
( in_client prot/lan/box-2 curl -s -m 3 -o /dev/null "http://$LAB_LANHOST_IP/" ) &
cpid=$!
sleep 3
echo 1 >"$LAB_CG/prot/lan/box-2/cgroup.kill"
wait "$cpid" 2>/dev/null
expect_no_leaks t18c_full_no_leak
_lab_wait 5 eval '[ "$(metric tunlock_cgroup_table_full_total)" -ge 1 ] 2>/dev/null'
check t18c_full_metric "tunlock_cgroup_table_full_total is '$(metric tunlock_cgroup_table_full_total)'" \
	[ "$(metric tunlock_cgroup_table_full_total)" -ge 1 ]
check t18c_full_logged "no log line about the full table" grep -q "cgroup table is full" "$LAB_STATE/agent$LAB_AGENT_N.err"

# room: the agent writes box-2's entry at its next interval and thaws it
fill "$TID" delete || lab_abort "cannot empty the cgroup table"
_lab_wait 10 frozen 0
check t18c_room_thawed "box-2 still frozen after room was made" frozen 0
lab_capture_start || lab_abort "capture: $LAB_ERR"
code=$(lan_code prot/lan/box-2)
check t18c_room_box_locked "box-2 reached the LAN host once thawed: $code" not_200 "$code"
expect_no_leaks t18c_room_no_leak
lab_done
