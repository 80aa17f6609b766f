#!/bin/bash
# t12: the lab's own safety rail, exercised with the real agent: labguard.py, pointed at the lab
# cgroup as if it were the machine's root, sees the agent's attachments as "outside", and its
# rescue detaches them (link detach, or prog detach). Nothing outside the lab is touched.
. "$(dirname "$0")/lib.sh"
lab_init t12
lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
command -v bpftool >/dev/null || { skip t12 "no bpftool"; lab_done; }
lab_setup || lab_abort "lab setup: $LAB_ERR"
"$LAB_PY" "$LAB_LIB_DIR/labguard.py" snapshot "$LAB_CG" "$LAB_STATE/inner.snap" || lab_abort "snapshot failed"
lab_agent_up
n=$(lab_bpf_cgroup_progs | wc -l)
out=$("$LAB_PY" "$LAB_LIB_DIR/labguard.py" check "$LAB_CG" "$LAB_STATE/inner.snap" 2>&1)
rc=$?
check t12_guard_detects "labguard check: rc $rc (want 3), $n program(s) at prot: $(echo "$out" | head -2 | tr '\n' ' ')" \
	eval '[ "$rc" = 3 ] && [ "$n" -gt 0 ] && [ "$(grep -c "NEW ATTACHMENT" <<<"$out")" -eq "$n" ]'
lab_agent_kill9
out=$("$LAB_PY" "$LAB_LIB_DIR/labguard.py" check "$LAB_CG" "$LAB_STATE/inner.snap" --rescue 2>&1)
left=$(lab_bpf_cgroup_progs | tr '\n' ' ')
check t12_guard_rescues "after --rescue, still attached at prot: '$left' ($(echo "$out" | grep -v NEW | head -2 | tr '\n' ' '))" [ -z "$left" ]
out=$("$LAB_PY" "$LAB_LIB_DIR/labguard.py" check "$CG2_MNT" "$LAB_STATE/guard.snap" 2>&1)
check t12_nothing_outside "attachments outside the lab on this machine: $out" [ -z "$out" ]
lab_done
