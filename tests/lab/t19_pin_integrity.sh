#!/bin/bash
# t19: the pinned enforcement cannot be taken away behind the agent's back.
#  - a pin directory that is a symbolic link, owned by another user, or not mode 0700 is refused
#    (bpffs here is mode 1777: anyone could have made it first);
#  - the link pins of a restarted agent (it adopted them) removed while it is stopped, so the gap
#    is seen: status says degraded and exits non-zero, nothing leaks (the agent holds its links),
#    and the agent pins them again on its timer, with an event and a metric;
#  - a link detached: the agent attaches it again;
#  - the live settings rewritten to audit mode by a uid-0 process without capabilities (bpftool):
#    the agent restores them within its interval, with an event and a metric, and the attempt
#    that audit mode would have let through is blocked again.
. "$(dirname "$0")/lib.sh"
lab_init t19
lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
command -v bpftool >/dev/null || { skip t19 "no bpftool"; lab_done; }
lab_setup || lab_abort "lab setup: $LAB_ERR"
lab_write_policy "$LAB_STATE/policy.yaml" || lab_abort "cannot write the lab policy"
INTERVAL=2 PROM=$LAB_STATE/tunlock.prom

# ---- the pin directory
# refused DIR WHAT: `tunlock apply --pin-dir DIR` fails and says WHAT; whatever it did is undone
refused() {
	local dir=$1 what=$2 out rc
	out=$(lab_tunlock apply -c "$LAB_STATE/policy.yaml" --pin-dir "$dir" 2>&1)
	rc=$?
	note "apply --pin-dir $dir: exit $rc: $(echo "$out" | grep -m1 -i "refused\|applied" | cut -c1-200)"
	[ "$rc" = 0 ] && lab_tunlock stop --pin-dir "$dir" >/dev/null 2>&1
	[ "$rc" != 0 ] && echo "$out" | grep -q "$what"
}
mkdir -m 700 "$LAB_PIN-real" || lab_abort "cannot make $LAB_PIN-real"
ln -s "$LAB_PIN-real" "$LAB_PIN-sym" || lab_abort "cannot make a symlink in bpffs"
check t19_symlink_refused "a symlinked pin directory was used" refused "$LAB_PIN-sym" "symbolic link"
rm -f "$LAB_PIN-sym"
rmdir "$LAB_PIN-real" 2>/dev/null || { lab_tunlock stop --pin-dir "$LAB_PIN-real" >/dev/null 2>&1; rm -rf "$LAB_PIN-real"; }
mkdir -m 700 "$LAB_PIN-foreign" && chown 65534:65534 "$LAB_PIN-foreign" || lab_abort "cannot make $LAB_PIN-foreign"
check t19_foreign_owner_refused "a pin directory owned by uid 65534 was used" refused "$LAB_PIN-foreign" "owned by uid 65534"
rm -rf "$LAB_PIN-foreign"
mkdir -m 755 "$LAB_PIN-open" || lab_abort "cannot make $LAB_PIN-open"
check t19_mode_refused "a pin directory of mode 0755 was used" refused "$LAB_PIN-open" "mode 0755"
rm -rf "$LAB_PIN-open"

# ---- links: unpinned, then detached
# an agent that adopted the pins (a restart, an upgrade, `apply` at boot): it opened the links
# from their pins, which an agent that does not hold them leaves as their only holders
lab_agent_start "$LAB_STATE/policy.yaml" --interval "$INTERVAL" --metrics "$PROM" || lab_abort "agent start: $LAB_ERR"
_lab_kill "$LAB_AGENT_PID" 5
LAB_AGENT_PID=
lab_agent_start "$LAB_STATE/policy.yaml" --interval "$INTERVAL" --metrics "$PROM" || lab_abort "agent restart: $LAB_ERR"
status_rc() { lab_tunlock status --pin-dir "$LAB_PIN" >"$LAB_STATE/status.txt" 2>&1; echo $?; }
# blocked: a UDP datagram bound to up0 from a protected process fails with EPERM (tunnel down)
blocked() {
	local r
	r=$(lab_probe apps udp "$LAB_HOST_IP" "$LAB_SINK_PORT" --bind-dev up0 --count 1)
	[ "$(lab_json_get "$r" errors.EPERM)" = 1 ]
}
restored() { _lab_wait $((INTERVAL * 5)) eval '[ "$(status_rc)" = 0 ]'; }
metric() { grep "^$1 " "$PROM" 2>/dev/null | awk '{ print $2 }'; }
link_pins() { find "$LAB_PIN" -maxdepth 1 -name 'link_*' | wc -l; }

lab_capture_start || lab_abort "capture: $LAB_ERR"
kill -STOP "$LAB_AGENT_PID"
n=$(link_pins)
rm -f "$LAB_PIN"/link_*
rc=$(status_rc)
note "with $n link pins removed: status exit $rc: $(head -1 "$LAB_STATE/status.txt")"
check t19_unpinned_degraded "status exit $rc after the link pins went: $(head -1 "$LAB_STATE/status.txt")" \
	[ "$rc" = 3 ]
check t19_unpinned_still_blocks "a send bound to up0 went through while the link pins were gone" blocked
mark=$(lab_events_mark)
kill -CONT "$LAB_AGENT_PID"
check t19_unpinned_restored "status not enforcing again within $((INTERVAL * 5)) s: $(head -1 "$LAB_STATE/status.txt")" restored
n2=$(link_pins)
check t19_pins_back "$n2 link pins after the restore, $n before" [ "$n2" -eq "$n" ]
expect_event t19_unpinned_event "$mark" kind=integrity object=link found=unpinned action=repinned
check t19_still_blocks "a send bound to up0 went through after the restore" blocked

kill -STOP "$LAB_AGENT_PID"
bpftool link detach pinned "$LAB_PIN/link_tl_connect4" || note "bpftool link detach failed"
rc=$(status_rc)
check t19_detached_degraded "status exit $rc with connect4 detached: $(head -1 "$LAB_STATE/status.txt")" [ "$rc" = 3 ]
mark=$(lab_events_mark)
kill -CONT "$LAB_AGENT_PID"
check t19_detached_restored "status not enforcing again: $(head -1 "$LAB_STATE/status.txt")" restored
expect_event t19_detached_event "$mark" kind=integrity object=link name=tl_connect4 found=detached action=reattached
check t19_connect_blocks_again "a send bound to up0 went through after the re-attach" blocked
_lab_wait $((INTERVAL * 3)) eval '[ "$(metric "tunlock_restored_total{object=\"link\"}")" -ge 2 ] 2>/dev/null'
m=$(metric 'tunlock_restored_total{object="link"}')
check t19_link_metric "tunlock_restored_total{object=\"link\"} is '${m:-}'" [ "${m:-0}" -ge 2 ]
expect_no_leaks t19_no_leaks_links

# ---- settings: audit mode written by uid 0 without capabilities
# set_mode MODE: bpftool rewrites the live slot's mode (the second u32 of tl_settings)
set_mode() {
	local slot val
	slot=$(bpftool -j map lookup pinned "$LAB_PIN/tl_state" key 0 0 0 0 |
		"$LAB_PY" -c 'import json, sys; print(int(json.load(sys.stdin)["value"][0], 16))')
	val=$(bpftool -j map lookup pinned "$LAB_PIN/tl_settings" key "$slot" 0 0 0 |
		"$LAB_PY" -c 'import json, sys
v = [int(b, 16) for b in json.load(sys.stdin)["value"]]
v[4:8] = int(sys.argv[1]).to_bytes(4, "little")
print(" ".join(str(b) for b in v))' "$1")
	$NOCAPS bpftool map update pinned "$LAB_PIN/tl_settings" key "$slot" 0 0 0 value $val
}
NOCAPS=
command -v setpriv >/dev/null && NOCAPS="setpriv --bounding-set -all --inh-caps -all --"
kill -STOP "$LAB_AGENT_PID"
set_mode 1 || lab_abort "bpftool could not rewrite tl_settings${NOCAPS:+ (without capabilities)}"
note "tl_settings rewritten to audit mode${NOCAPS:+ by uid 0 without capabilities}"
audit_works() { ! blocked; }
check t19_tamper_took "audit mode written but the send was still blocked: the test proves nothing" audit_works
mark=$(lab_events_mark)
lab_capture_start || lab_abort "capture: $LAB_ERR"
kill -CONT "$LAB_AGENT_PID"
expect_settings() { lab_events --after "$mark" --wait $((INTERVAL * 5)) kind=integrity object=settings \
	name=tl_settings found=rewritten action=restored >/dev/null; }
check t19_settings_restored_event "no integrity event for tl_settings within $((INTERVAL * 5)) s" expect_settings
check t19_settings_blocks_again "a send bound to up0 went through after the restore" blocked
expect_no_leaks t19_no_leaks_after_restore
_lab_wait $((INTERVAL * 3)) eval '[ "$(metric "tunlock_restored_total{object=\"settings\"}")" -ge 1 ] 2>/dev/null'
m=$(metric 'tunlock_restored_total{object="settings"}')
check t19_settings_metric "tunlock_restored_total{object=\"settings\"} is '${m:-}'" [ "${m:-0}" -ge 1 ]
lab_done
