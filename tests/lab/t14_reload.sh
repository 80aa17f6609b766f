#!/bin/bash
# t14: atomic hot reload under traffic. Two policies differ in one allow rule: A lets
# processes reach 203.0.113.10 udp/7 outside the tunnel, B does not. Three steady senders, each
# bound to up0 (outside the tunnel), run while the policy file is replaced 100 times, A and B in
# turn (inotify), then reloaded 10 times by SIGHUP:
#   lan   -> 10.213.0.5:7    allowed by both (LAN)     : no send may fail, every one arrives
#   deny  -> 203.0.113.10:9  blocked by both           : no send may succeed, none arrives
#   flip  -> 203.0.113.10:7  allowed by A only         : sends succeed under A and fail under B,
#            and every one that succeeded is the one the capture and the server saw, except
#            one the socket layer allowed just before a switch to B and TC refused just after
#            it (its sender is told a UDP send succeeded): TC counts each such refusal, and
#            there is at most one per switch to B
# A packet judged by half a policy, or by none, would break one of these. The capture must see
# no leak (the flip packets A allowed are not leaks). Then a policy that does not check leaves
# the last one in force, is logged as FILE:LINE:COL, and counts as a failed reload.
. "$(dirname "$0")/lib.sh"
lab_init t14
RELOADS=${LAB_RELOADS:-100}
lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
lab_setup --lan-host || lab_abort "lab setup: $LAB_ERR"
FLIP="{cidr: $LAB_HOST_IP/32, protocol: udp, ports: [$LAB_ECHO_PORT]}"
lab_write_policy "$LAB_STATE/A.yaml" --allow "$FLIP"
lab_write_policy "$LAB_STATE/B.yaml"
cp "$LAB_STATE/A.yaml" "$LAB_STATE/policy.yaml"
PROM=$LAB_STATE/tunlock.prom
lab_agent_start "$LAB_STATE/policy.yaml" --metrics "$PROM" --interval 1 || lab_abort "agent start: $LAB_ERR"
lab_tunnel_up || lab_abort "tunnel up: $LAB_ERR"
gen() { lab_json_get "$(lab_tunlock status --json --pin-dir "$LAB_PIN")" generation; }

sender() { # NAME CGROUP DST PORT
	_lab_spawn "$1" "$2" ip netns exec "$NS_CLIENT" "$LAB_PY" "$LAB_LIB_DIR/netprobe.py" udp "$3" "$4" \
		--bind-dev up0 --rate 100 --duration 120
}
lab_capture_start || lab_abort "capture: $LAB_ERR"
sender lan lan "$LAB_LANHOST_IP" "$LAB_ECHO_PORT"
sender deny apps "$LAB_HOST_IP" "$LAB_SINK_PORT"
sender flip apps "$LAB_HOST_IP" "$LAB_ECHO_PORT"
# the senders run (deny is refused, so it cannot be seen: it starts with the others)
_lab_wait 10 lab_server_more echo "$LAB_CLIENT_IP" 0 lan || lab_abort "the lan sender did not reach the LAN host"
_lab_wait 10 lab_server_more echo isp 0 || lab_abort "the flip sender did not reach the internet host under A"

g0=$(gen) why='' t0=$(_lab_ms)
for ((i = 1; i <= RELOADS; i++)); do
	if ((i % 2)); then f=B; else f=A; fi
	cp "$LAB_STATE/$f.yaml" "$LAB_STATE/next.yaml" && mv "$LAB_STATE/next.yaml" "$LAB_STATE/policy.yaml"
	_lab_wait 5 eval '[ "$(gen)" -ge $((g0 + i)) ]' || { why="reload $i: generation $(gen), want $((g0 + i))"; break; }
	sleep 0.05
done
for ((j = 1; j <= 10; j++)); do
	[ -z "$why" ] || break
	kill -HUP "$LAB_AGENT_PID"
	_lab_wait 5 eval '[ "$(gen)" -ge $((g0 + RELOADS + j)) ]' || why="SIGHUP $j: generation $(gen)"
done
note "$RELOADS file reloads and 10 SIGHUPs in $(($(_lab_ms) - t0)) ms"
check t14_reloads "$why" [ -z "$why" ]
sleep 0.5
res() { _lab_kill "${LAB_PID[$1]}" 5; tail -n 1 "$LAB_STATE/$1.log"; }
lan=$(res lan) deny=$(res deny) flip=$(res flip)
note "lan: $lan"; note "deny: $deny"; note "flip: $flip"
lab_server_sync lan || lab_abort "the LAN host's stats did not catch up"
lab_server_sync || lab_abort "the internet host's stats did not catch up"
lan_sent=$(lab_json_get "$lan" sent) lan_err=$(lab_json_get "$lan" errors)
lan_srv=$(lab_server_count echo "$LAB_CLIENT_IP" lan)
check t14_allowed_by_both_always_passes "lan sender: $lan_sent sent, errors $lan_err; the LAN host got $lan_srv" \
	eval '[ "$lan_sent" -gt 500 ] && [ "$lan_err" = "{}" ] && [ "$lan_srv" -eq "$lan_sent" ]'
deny_sent=$(lab_json_get "$deny" sent) deny_perm=$(lab_json_get "$deny" errors.EPERM)
deny_srv=$(lab_server_count sink isp)
check t14_blocked_by_both_never_passes "deny sender: $deny_sent sent, $deny_perm EPERM; the sink got $deny_srv via the ISP" \
	eval '[ "$deny_sent" = 0 ] && [ "$deny_perm" -gt 500 ] && [ "$deny_srv" = 0 ]'
flip_sent=$(lab_json_get "$flip" sent) flip_perm=$(lab_json_get "$flip" errors.EPERM)
flip_srv=$(lab_server_count echo isp)
lab_capture_stop
flip_cap=$(lab_leaks --allow-lan | grep -c "> $LAB_HOST_IP.$LAB_ECHO_PORT: ")
# the deny sender is refused at the socket layer: TC's bypass refusals are the flip sender's
tc_refused() { awk '$1 == "tunlock_leaks_total{layer=\"tc\",reason=\"bypass\",verdict=\"blocked\"}" { print $2 }' "$PROM"; }
flip_lost=$((flip_sent - flip_srv))
_lab_wait 3 eval '[ "$(tc_refused)" = "$flip_lost" ]' || true # the metrics file catches up
flip_tc=$(tc_refused)
check t14_flip_follows_the_policy "flip sender: $flip_sent sent under A, $flip_perm EPERM under B; server got $flip_srv, capture saw $flip_cap; $flip_lost sent and not received, TC refused $flip_tc at a switch to B" \
	eval '[ "$flip_sent" -gt 0 ] && [ "$flip_perm" -gt 0 ] && [ "$flip_cap" -eq "$flip_srv" ] &&
		[ "$flip_lost" -ge 0 ] && [ "$flip_lost" -le $((RELOADS / 2)) ] && [ "$flip_tc" = "$flip_lost" ]'
leaks=$(lab_leaks --allow-lan | grep -v "> $LAB_HOST_IP.$LAB_ECHO_PORT: ")
n=$(printf '%s' "$leaks" | grep -c .)
check t14_no_leaks "$n leak packet(s), first: $(printf '%s\n' "$leaks" | head -2 | cut -c1-200 | tr '\n' '|')" \
	eval '[ "$n" -eq 0 ] && [ "$LAB_CAP_DROPS" -eq 0 ]'

# a policy that does not check
g1=$(gen)
sed 's/^mode: enforce$/mode: strict/' "$LAB_STATE/B.yaml" >"$LAB_STATE/next.yaml"
line=$(grep -n '^mode: strict$' "$LAB_STATE/next.yaml" | cut -d: -f1)
mv "$LAB_STATE/next.yaml" "$LAB_STATE/policy.yaml"
check t14_bad_policy_logged "agent log: $(grep -i policy.yaml "$LAB_STATE/agent1.err" | tail -2 | tr '\n' '|')" \
	_lab_wait 5 grep -q "$LAB_STATE/policy.yaml:$line:7: mode must be enforce or audit" "$LAB_STATE/agent1.err"
check t14_bad_policy_not_applied "generation moved from $g1 to $(gen)" [ "$(gen)" = "$g1" ]
r=$(lab_probe apps udp "$LAB_HOST_IP" "$LAB_ECHO_PORT" --bind-dev up0 --count 1)
check t14_bad_policy_old_one_in_force "the last good policy (A: the flip destination allowed) no longer decides: $r" \
	[ "$(lab_json_get "$r" sent)" = 1 ]
check t14_failed_reload_counted "metrics: $(grep '^tunlock_reloads_total' "$PROM" | tr '\n' ' ')" \
	_lab_wait 3 eval 'grep -q "^tunlock_reloads_total{result=\"failure\"} 1$" "$PROM" &&
		grep -q "^tunlock_reloads_total{result=\"success\"} $((RELOADS + 10))$" "$PROM" &&
		grep -q "^tunlock_last_reload_success 0$" "$PROM"'
lab_done
