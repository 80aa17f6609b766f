# shellcheck shell=bash disable=SC2034
# (SC2034: its variables are read by the tests and the other lab files)
# tests/lab/lib/agent.sh: the agent under test: the lab policy, tunlock commands in
# the client netns, start/stop/kill/reload, what status and the kernel say it attached.
# Sourced by tests/lab/lib.sh (a test sources lib.sh, never this file).

# ---------------------------------------------------------------- agent
# lab_write_policy FILE [--mode enforce|audit] [--lan allow|block] [--client cgroup|fwmark|both]
#                  [--no-socket enforce|allow] [--ipv6 tunnel|block] [--dns block|redirect|ordinary]
#                  [--events '{rate: N, burst: M}'] [--allow RULE] [--raw deny|allow]
#                  [--resolvers 'A, B']
# (--allow: one allow rule, e.g. '{cidr: 203.0.113.10/32}', for both profiles)
# A policy (docs/policy.md) for this lab's actual cgroups: attach at $LAB_CG/prot; prot/apps
# gets "locked" (or "lan-ok" with --lan allow), prot/lan "lan-ok", prot/exempt is exempt.
# --dns sets the DNS action of both profiles (default: the policy's default, block); the
# tunnel's resolvers are 100.100.0.1 (and 2001:db8:101::1 in an --ipv6 lab; --resolvers replaces
# the list); --raw sets raw_sockets of both profiles (default: the policy's default, deny).
lab_write_policy() {
	local f=$1 mode=enforce lan=block client=both nosock=enforce appsprof=locked ipv6=tunnel dns=
	local events='' allow='' raw='' resolvers=$LAB_TUN_SERVER_IP
	[ "$LAB_IPV6" = 1 ] && resolvers="$LAB_TUN_SERVER_IP, \"$LAB_TUN6_SERVER_IP\""
	shift
	while [ $# -gt 0 ]; do
		case $1 in
		--events) events=$2; shift ;;
		--allow) allow=$2; shift ;;
		--raw) raw=$2; shift ;;
		--resolvers) resolvers=$2; shift ;;
		--mode) mode=$2; shift ;;
		--lan) lan=$2; shift ;;
		--client) client=$2; shift ;;
		--no-socket) nosock=$2; shift ;;
		--ipv6) ipv6=$2; shift ;;
		--dns) dns=$2; shift ;;
		*) echo "lab_write_policy: unknown option $1" >&2; return 2 ;;
		esac
		shift
	done
	[ "$lan" = allow ] && appsprof='lan-ok'
	{
		echo "# tunlock leak lab policy, lab $LAB_ID"
		echo "mode: $mode"
		echo "attach_cgroup: $LAB_CGREL_PROT"
		echo "no_socket: $nosock"
		echo "tunnels:"
		echo "  - name: lab"
		echo "    interface: wg0"
		echo "    endpoints:"
		echo "      - address: $LAB_VPN_IP"
		echo "        port: $LAB_WG_PORT"
		echo "        protocol: udp"
		echo "    client:"
		[ "$client" != fwmark ] && echo "      cgroup: $LAB_CGREL_VPN"
		[ "$client" != cgroup ] && echo "      fwmark: $LAB_WG_FWMARK"
		echo "    resolvers: [$resolvers]"
		echo "profiles:"
		echo "  - name: locked"
		echo "    lan: block"
		echo "    ipv6: $ipv6"
		[ -n "$allow" ] && echo "    allow: [$allow]"
		[ -n "$dns" ] && echo "    dns: $dns"
		[ -n "$raw" ] && echo "    raw_sockets: $raw"
		echo "  - name: lan-ok"
		echo "    lan: allow"
		[ -n "$allow" ] && echo "    allow: [$allow]"
		[ -n "$dns" ] && echo "    dns: $dns"
		[ -n "$raw" ] && echo "    raw_sockets: $raw"
		echo "cgroups:"
		echo "  - path: $LAB_CGREL_PROT"
		echo "    profile: locked"
		echo "  - path: $LAB_CGREL_APPS"
		echo "    profile: $appsprof"
		echo "  - path: $LAB_CGREL_LAN"
		echo "    profile: lan-ok"
		echo "  - path: $LAB_CGREL_EXEMPT"
		echo "    exempt: true"
		[ -z "$events" ] || echo "events: $events"
	} >"$f"
}

# The agent enters the client netns with nsenter, not `ip netns exec`: that one remounts /sys
# for the netns, which hides the cgroup2 mount and bpffs under /sys/fs.
_lab_agent_exec() {
	exec nsenter --net="/run/netns/$NS_CLIENT" -- sh -c "$LAB_GUARD_SH" lab-guard "$LAB_FORBIDDEN_NETNS" "$@"
}

# lab_tunlock ARGS...: run the tunlock CLI inside the client netns, cgroup agent (bounded 20 s)
lab_tunlock() {
	_lab_ns_unsafe "$NS_CLIENT" && { echo "lab: refusing tunlock outside the client netns" >&2; return 2; }
	(
		echo "$BASHPID" >"$LAB_CG/agent/cgroup.procs" || exit 126
		_lab_agent_exec timeout -k 2 20 "$TUNLOCK" "$@"
	)
}

lab_have_agent() { [ -x "$TUNLOCK" ]; }

# lab_agent_start POLICY_FILE [RUN_ARGS...]: tunlock run -c FILE --pin-dir $LAB_PIN RUN_ARGS in
# the client netns, process in $LAB_CG/agent, events (stdout, or the file of --events) in
# $LAB_AGENT_OUT; waits (15 s) until `tunlock status --pin-dir` exits 0. Refuses to run in the
# initial network namespace.
lab_agent_start() {
	local policy=$1 a prev=
	shift
	lab_have_agent || { LAB_ERR="no tunlock binary at $TUNLOCK"; return 1; }
	[ -r "$policy" ] || { LAB_ERR="no policy file $policy"; return 1; }
	if _lab_ns_unsafe "$NS_CLIENT"; then
		LAB_ERR="REFUSED: client netns '${NS_CLIENT}' missing or the initial network namespace"
		_lab_log "$LAB_ERR"
		return 1
	fi
	if [ -n "$LAB_AGENT_PID" ] && _lab_pid_alive "$LAB_AGENT_PID"; then
		LAB_ERR="an agent is already running (pid $LAB_AGENT_PID)"
		return 1
	fi
	"$LAB_PY" "$LAB_LIB_DIR/labguard.py" snapshot "$CG2_MNT" "$LAB_STATE/guard.snap" ||
		{ LAB_ERR="labguard snapshot failed"; return 1; }
	LAB_AGENT_N=$((LAB_AGENT_N + 1))
	LAB_AGENT_OUT=$LAB_STATE/agent$LAB_AGENT_N.out
	for a in "$@"; do
		[ "$prev" = --events ] && LAB_AGENT_OUT=$a
		prev=$a
	done
	(
		echo "$BASHPID" >"$LAB_CG/agent/cgroup.procs" || exit 126
		_lab_agent_exec "$TUNLOCK" run -c "$policy" --pin-dir "$LAB_PIN" "$@"
	) </dev/null >"$LAB_STATE/agent$LAB_AGENT_N.out" 2>"$LAB_STATE/agent$LAB_AGENT_N.err" &
	LAB_AGENT_PID=$!
	LAB_PID["agent$LAB_AGENT_N"]=$LAB_AGENT_PID # quoted: an associative array (lab_init)
	echo "$LAB_AGENT_PID agent$LAB_AGENT_N" >>"$LAB_STATE/pids"
	local i
	for ((i = 0; i < 150; i++)); do
		if ! _lab_pid_alive "$LAB_AGENT_PID"; then
			wait "$LAB_AGENT_PID" 2>/dev/null
			LAB_ERR="agent exited during start: $(tail -3 "$LAB_STATE/agent$LAB_AGENT_N.err" | tr '\n' ' ')"
			LAB_AGENT_PID=
			_lab_guard_check
			return 1
		fi
		# enforcing, and by this agent (not only pins an earlier one left)
		grep -q 'enforcing; events follow' "$LAB_STATE/agent$LAB_AGENT_N.err" &&
			lab_tunlock status --pin-dir "$LAB_PIN" >/dev/null 2>&1 && break
		sleep 0.1
	done
	if ! _lab_guard_check; then
		LAB_ERR="SAFETY: the agent attached BPF programs outside the lab cgroup (rescued)"
		return 1
	fi
	((i < 150)) || { LAB_ERR="tunlock status not ready within 15 s: $(tail -3 "$LAB_STATE/agent$LAB_AGENT_N.err" | tr '\n' ' ')"; return 1; }
	_lab_log "agent $LAB_AGENT_N up, pid $LAB_AGENT_PID"
}

# any BPF program attached outside the lab cgroups since the snapshot: stop the agent, detach
# them, say so loudly. Returns 1 if there was one.
_lab_guard_check() {
	[ -f "$LAB_STATE/guard.snap" ] || return 0
	local out rc
	out=$("$LAB_PY" "$LAB_LIB_DIR/labguard.py" check "$CG2_MNT" "$LAB_STATE/guard.snap" 2>&1)
	rc=$?
	[ "$rc" -eq 3 ] || return 0
	echo "FAIL: lab_safety: BPF attached outside the lab cgroup: $(echo "$out" | head -3 | tr '\n' ' ')"
	LAB_NFAIL=$((LAB_NFAIL + 1))
	[ -n "$LAB_AGENT_PID" ] && kill -KILL "$LAB_AGENT_PID" 2>/dev/null
	lab_have_agent && lab_tunlock stop --pin-dir "$LAB_PIN" >/dev/null 2>&1
	"$LAB_PY" "$LAB_LIB_DIR/labguard.py" check "$CG2_MNT" "$LAB_STATE/guard.snap" --rescue >&2
	return 1
}

# lab_agent_kill9: SIGKILL the agent (enforcement stays pinned)
lab_agent_kill9() {
	[ -n "$LAB_AGENT_PID" ] || return 0
	kill -KILL "$LAB_AGENT_PID" 2>/dev/null
	_lab_wait 3 eval '! _lab_pid_alive '"$LAB_AGENT_PID"
	wait "$LAB_AGENT_PID" 2>/dev/null
	LAB_AGENT_PID=
}

# lab_agent_stop: SIGTERM the agent (5 s, then SIGKILL), then `tunlock stop --pin-dir`
lab_agent_stop() {
	[ -n "$LAB_AGENT_PID" ] && _lab_kill "$LAB_AGENT_PID" 5
	LAB_AGENT_PID=
	lab_have_agent || return 0
	lab_tunlock stop --pin-dir "$LAB_PIN"
}

# lab_events_mark: the current length of the agent's event output (for lab_events --after)
# and wait (10 s) until the policy generation has moved on
lab_agent_reload() {
	local gen0 gen i
	gen0=$(lab_json_get "$(lab_tunlock status --json --pin-dir "$LAB_PIN" 2>/dev/null)" generation)
	lab_write_policy "$LAB_STATE/policy.yaml" "$@" || { LAB_ERR="cannot write the lab policy"; return 1; }
	# status answers from the pins at once after a restart: SIGHUP kills an agent that has not
	# taken over its signals yet, so wait for it to say it is enforcing
	_lab_wait 10 grep -q 'enforcing;' "$LAB_STATE/agent$LAB_AGENT_N.err" ||
		{ LAB_ERR="agent $LAB_AGENT_N never said it was enforcing"; return 1; }
	[ -n "$LAB_AGENT_PID" ] && kill -HUP "$LAB_AGENT_PID" 2>/dev/null || { LAB_ERR="no agent to reload"; return 1; }
	for ((i = 0; i < 100; i++)); do
		gen=$(lab_json_get "$(lab_tunlock status --json --pin-dir "$LAB_PIN" 2>/dev/null)" generation)
		[ -n "$gen" ] && [ "$gen" != "$gen0" ] && return 0
		sleep 0.1
	done
	LAB_ERR="policy generation still ${gen:-?} 10 s after SIGHUP: $(tail -3 "$LAB_STATE/agent$LAB_AGENT_N.err" | tr '\n' ' ')"
	return 1
}

# lab_agent_up [lab_write_policy options]: write $LAB_STATE/policy.yaml, `tunlock check` it, start
# the agent; on any failure a FAIL line and exit (lab_abort)
lab_agent_up() {
	local out
	lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
	lab_write_policy "$LAB_STATE/policy.yaml" "$@" || lab_abort "cannot write the lab policy"
	out=$(lab_tunlock check -c "$LAB_STATE/policy.yaml" 2>&1) ||
		lab_abort "tunlock check rejects the lab policy: $(echo "$out" | head -3 | tr '\n' ' ')"
	lab_agent_start "$LAB_STATE/policy.yaml" || lab_abort "agent start: $LAB_ERR"
}

# lab_bpf_cgroup_progs: ids of the programs attached at $LAB_CG/prot
lab_bpf_cgroup_progs() { "$LAB_PY" "$LAB_LIB_DIR/labbpf.py" cgroup "$LAB_CG/prot"; }
# lab_bpf_pinned_progs: ids of the programs the pins under $LAB_PIN hold
lab_bpf_pinned_progs() { "$LAB_PY" "$LAB_LIB_DIR/labbpf.py" pinned "$LAB_PIN"; }
# lab_bpf_alive ID...: the ids that still exist
lab_bpf_alive() { [ $# -eq 0 ] || "$LAB_PY" "$LAB_LIB_DIR/labbpf.py" alive "$@"; }

# _lab_status_item LIST NAME FIELD: FIELD of the entry of `tunlock status --json`'s LIST whose
# name is NAME ("" when there is none)
_lab_status_item() {
	lab_tunlock status --json --pin-dir "$LAB_PIN" 2>/dev/null | "$LAB_PY" -c 'import json, sys
try:
    d = json.load(sys.stdin)
except Exception:
    d = {}
print(next((i.get(sys.argv[3], "") for i in d.get(sys.argv[1], []) if i.get("name") == sys.argv[2]), ""))' "$@"
}
# lab_iface_role IFACE: the role `tunlock status --json` gives IFACE (guarded, port, container, ...)
lab_iface_role() { _lab_status_item interfaces "$1" role; }
# lab_tunnel_state NAME: the state (up, down) `tunlock status --json` gives tunnel NAME
lab_tunnel_state() { _lab_status_item tunnels "$1" state; }

# lab_raw_covered: true when status says the LSM layer denies raw sockets here
lab_raw_covered() {
	[ "$(lab_json_get "$(lab_tunlock status --json --pin-dir "$LAB_PIN" 2>/dev/null)" coverage.raw_socket.level)" = full ]
}
