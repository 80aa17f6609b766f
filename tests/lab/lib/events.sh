# shellcheck shell=bash disable=SC2034
# (SC2034: its variables are read by the tests and the other lab files)
# tests/lab/lib/events.sh: the agent's events: counting, waiting for and expecting them.
# Sourced by tests/lab/lib.sh (a test sources lib.sh, never this file).

# ---------------------------------------------------------------- events
lab_events_mark() { [ -f "$LAB_AGENT_OUT" ] && wc -l <"$LAB_AGENT_OUT" || echo 0; }
# lab_events [--after MARK] [--wait S] [--min K] [--show] KEY=VALUE...: count matching events
lab_events() {
	local after=0 wait=0 min=1 show='' has='' conds=()
	while [ $# -gt 0 ]; do
		case $1 in
		--after) after=$2; shift 2 ;;
		--has) has=$2; shift 2 ;;
		--wait) wait=$2; shift 2 ;;
		--min) min=$2; shift 2 ;;
		--show) show=--show; shift ;;
		*) conds+=("$1"); shift ;;
		esac
	done
	"$LAB_PY" "$LAB_LIB_DIR/events.py" "$LAB_AGENT_OUT" --skip "$after" --wait "$wait" --min "$min" \
		--has "$has" $show -- "${conds[@]}"
}

# the event fields every event must carry (docs/events.md)
LAB_EVENT_KEYS=time,reason,verdict,layer,hook,protocol,family,src,sport,dst,dport,interface,pid,comm,cgroup,profile,tunnel

# lab_agent_reload [lab_write_policy options]: rewrite $LAB_STATE/policy.yaml, SIGHUP the agent
# expect_event NAME MARK KEY=VALUE...: PASS if an event after MARK matches (waits 3 s), else FAIL
# naming what was looked for and what came instead
expect_event() {
	local name=$1 mark=$2 n
	shift 2
	n=$(lab_events --after "$mark" --wait 3 "$@")
	if [ "${n:-0}" -ge 1 ]; then
		pass "$name"
	else
		fail "$name" "no event with $* (events since the attempt: $(tail -n +"$((mark + 1))" "$LAB_AGENT_OUT" 2>/dev/null |
			head -3 | cut -c1-240 | tr '\n' '|'))"
	fi
}
# protocol values an event may use for a protocol name
LAB_P_TCP='tcp|6' LAB_P_UDP='udp|17' LAB_P_ICMP='icmp|1'
