#!/bin/bash
# t13: the feed and metrics an operator runs with. A flood of bypass attempts (UDP bound to up0)
# under `events: {rate: 5, burst: 10}`: the kernel's counter equals the attempts the sender saw
# fail, the ECS feed holds no more events than the limit allows, a summary says how many were
# suppressed, and emitted + suppressed + lost == blocked in the Prometheus metrics, which
# promtool accepts. SIGUSR1 reopens the events file after a logrotate-style move; readiness
# (READY=1, RELOADING=1, STOPPING=1) reaches $NOTIFY_SOCKET. At rest the agent stays under
# 10 MB and wakes only for its interval. A consumer that never reads does not stop the agent
# from guarding a new uplink or reloading.
. "$(dirname "$0")/lib.sh"
lab_init t13
lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
lab_setup --second-uplink-ready || lab_abort "lab setup: $LAB_ERR"
lab_write_policy "$LAB_STATE/policy.yaml" --events '{rate: 5, burst: 10}'
out=$(lab_tunlock check -c "$LAB_STATE/policy.yaml" 2>&1) || lab_abort "policy: $out"
mkdir -p "$LAB_STATE/metrics"
FEED=$LAB_STATE/feed.events PROM=$LAB_STATE/metrics/tunlock.prom INTERVAL=2
PROMTOOL=${PROMTOOL:-$(command -v promtool || echo "$LAB_REPO/build/tools/promtool")}
_lab_spawn notify infra "$LAB_PY" "$LAB_LIB_DIR/notifysock.py" "$LAB_STATE/notify.sock" "$LAB_STATE/notify.log" 280
_lab_wait 5 test -S "$LAB_STATE/notify.sock" || lab_abort "notify socket did not appear"
export NOTIFY_SOCKET=$LAB_STATE/notify.sock
lab_agent_start "$LAB_STATE/policy.yaml" --events "$FEED" --events-format ecs --metrics "$PROM" \
	--interval "$INTERVAL" || lab_abort "agent start: $LAB_ERR"
unset NOTIFY_SOCKET
check t13_ready "no READY=1 on the notify socket: $(tr '\n' '|' <"$LAB_STATE/notify.log")" \
	_lab_wait 3 grep -q '^READY=1' "$LAB_STATE/notify.log"
lab_tunnel_up || lab_abort "tunnel up: $LAB_ERR"

# --- at rest: memory and wake-ups (the interval is the only timer)
sleep 1
rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$LAB_AGENT_PID/status")
sw0=$(awk '/^voluntary_ctxt_switches/ { print $2 }' "/proc/$LAB_AGENT_PID/status")
sleep 10
sw1=$(awk '/^voluntary_ctxt_switches/ { print $2 }' "/proc/$LAB_AGENT_PID/status")
note "agent at rest: VmRSS ${rss} kB, $((sw1 - sw0)) voluntary context switches in 10 s with --interval $INTERVAL"
check t13_rss_at_rest "VmRSS ${rss} kB (want < 10240)" [ "${rss:-99999}" -lt 10240 ]
# 5 ticks in 10 s; a tick (summaries, metrics file) may block once more than its wake-up
check t13_wakeups_at_rest "$((sw1 - sw0)) voluntary context switches in 10 s (interval $INTERVAL s: want <= 12)" \
	[ $((sw1 - sw0)) -le 12 ]

# --- a flood of bypass attempts: 1500 sends bound to up0, each refused by the socket layer
r=$(lab_probe apps udp "$LAB_HOST_IP" "$LAB_SINK_PORT" --bind-dev up0 --rate 500 --duration 3)
eperm=$(lab_json_get "$r" errors.EPERM)
note "flood: $r"
check t13_flood_refused "the sender: $r" eval '[ "${eperm:-0}" -ge 1000 ] && [ "$(lab_json_get "$r" sent)" = 0 ]'
sleep $((INTERVAL * 2 + 1))
st=$(lab_tunlock status --json --pin-dir "$LAB_PIN")
blocked=$("$LAB_PY" -c 'import json,sys
print(sum(c["count"] for c in json.loads(sys.argv[1])["counters"] if c["reason"] == "bypass" and c["verdict"] == "blocked"))' "$st")
check t13_counter_exact "bypass/blocked counted $blocked, the sender saw $eperm EPERM" [ "$blocked" = "$eperm" ]
ev=$(lab_events event.kind=event event.reason=bypass --min 0)
check t13_events_within_limit "$ev bypass events in the feed for $eperm attempts in 3 s (limit 10 + 5/s)" \
	eval '[ "$ev" -ge 10 ] && [ "$ev" -le 30 ]'
sup=$("$LAB_PY" -c 'import json,sys
print(sum(json.loads(l)["tunlock"]["suppressed"] for l in open(sys.argv[1]) if "tunlock.summary" in l and "\"bypass\"" in l))' "$FEED")
check t13_summary_suppressed "summaries say $sup suppressed; $ev emitted of $blocked" \
	eval '[ "$sup" -gt 0 ] && [ $((sup + ev)) -eq "$blocked" ]'

# --- metrics: promtool, exact sums
if [ -x "$PROMTOOL" ]; then
	out=$("$PROMTOOL" check metrics <"$PROM" 2>&1)
	check t13_promtool "promtool check metrics: $(echo "$out" | head -3 | tr '\n' '|')" [ -z "$out" ]
else
	fail t13_promtool "no promtool (make deps)"
fi
m() { awk -v k="$1" '$1 == k { print $2 }' "$PROM"; }
mb=$(m 'tunlock_leaks_total{layer="socket",reason="bypass",verdict="blocked"}')
me=$(m 'tunlock_events_total{reason="bypass",outcome="emitted"}')
ms=$(m 'tunlock_events_total{reason="bypass",outcome="suppressed"}')
ml=$(m 'tunlock_events_total{reason="bypass",outcome="lost"}')
check t13_metrics_add_up "metrics: blocked $mb, emitted $me + suppressed $ms + lost $ml" \
	eval '[ "$mb" = "$blocked" ] && [ $((me + ms + ml)) -eq "$mb" ] && [ "$me" -eq "$ev" ]'
check t13_metrics_state "metrics: $(grep -E '^tunlock_(tunnel_up|interfaces|policy_generation)' "$PROM" | tr '\n' ' ')" \
	eval 'grep -q "^tunlock_tunnel_up{tunnel=\"lab\",interface=\"wg0\"} 1" "$PROM" &&
		grep -q "^tunlock_interfaces{role=\"guarded\"} 1" "$PROM" && grep -q "^tunlock_policy_generation 1" "$PROM"'

# --- reload (readiness protocol), rotation
kill -HUP "$LAB_AGENT_PID"
check t13_reloading_notified "notify log: $(tail -3 "$LAB_STATE/notify.log" | tr '\n' '|')" \
	_lab_wait 3 eval 'grep -A1 "^RELOADING=1 | MONOTONIC_USEC=[0-9]" "$LAB_STATE/notify.log" | grep -q "^READY=1"'
check t13_reload_metric "no successful reload in the metrics" \
	_lab_wait 5 grep -q '^tunlock_reloads_total{result="success"} 1$' "$PROM"
mv "$FEED" "$FEED.1"
kill -USR1 "$LAB_AGENT_PID"
sleep 0.5
mark=$(lab_events_mark)
r=$(lab_probe apps udp "$LAB_HOST_IP" "$LAB_ECHO_PORT" --bind-dev up0 --count 1)
expect_event t13_rotated_feed_gets_events "$mark" event.kind=event event.reason=bypass destination.port="$LAB_ECHO_PORT"
n=$(grep -c "\"port\":$LAB_ECHO_PORT}" "$FEED.1")
check t13_rotated_away_file_left_alone "$n event(s) went to the moved file" [ "$n" -eq 0 ]
_lab_kill "$LAB_AGENT_PID" 5
LAB_AGENT_PID=
check t13_stopping_notified "no STOPPING=1" grep -q '^STOPPING=1' "$LAB_STATE/notify.log"

# --- a consumer that never reads: the agent still follows interfaces and reloads
mkfifo "$LAB_STATE/stuck.fifo"
_lab_spawn stuck infra sh -c 'exec 3<>"$0"; exec sleep 240' "$LAB_STATE/stuck.fifo"
sleep 0.3
lab_write_policy "$LAB_STATE/policy.yaml" --events '{rate: 1000000, burst: 1000000}'
lab_agent_start "$LAB_STATE/policy.yaml" --events "$LAB_STATE/stuck.fifo" --metrics "$PROM" \
	--interval "$INTERVAL" || lab_abort "agent start (stuck consumer): $LAB_ERR"
r=$(lab_probe apps udp "$LAB_HOST_IP" "$LAB_SINK_PORT" --bind-dev up0 --rate 2000 --duration 4)
note "flood into a stuck consumer: $r"
check t13_stuck_agent_alive "the agent died" _lab_pid_alive "$LAB_AGENT_PID"
lab_second_uplink || lab_abort "second uplink: $LAB_ERR"
check t13_stuck_new_uplink_guarded "no TC filter on up1 within 3 s" \
	_lab_wait 3 eval 'ip netns exec "$NS_CLIENT" tc filter show dev up1 egress | grep -q bpf'
gen0=$(lab_json_get "$(lab_tunlock status --json --pin-dir "$LAB_PIN")" generation)
kill -HUP "$LAB_AGENT_PID"
check t13_stuck_reload "generation $gen0 did not move on SIGHUP" \
	_lab_wait 3 eval '[ "$(lab_json_get "$(lab_tunlock status --json --pin-dir "$LAB_PIN")" generation)" -gt "$gen0" ]'
check t13_stuck_drops_counted "metrics: $(grep '^tunlock_feed_lines_total' "$PROM" | tr '\n' ' ')" \
	_lab_wait 5 eval '[ "$(awk '\''$1 == "tunlock_feed_lines_total{result=\"dropped\"}" { print $2 }'\'' "$PROM")" -gt 0 ]'
lab_done
