# shellcheck shell=bash disable=SC2034
# (SC2034: its variables are read by the tests and the other lab files)
# tests/lab/lib/traffic.sh: what the client's applications do (curl, ping, netprobe,
# a steady sender, STUN, WebRTC) and what the servers say they received.
# Sourced by tests/lab/lib.sh (a test sources lib.sh, never this file).

# ---------------------------------------------------------------- client traffic helpers
# lab_curl CGROUP URL [curl args]: prints the http code (000 on failure), exit status of curl
lab_curl() {
	local cg=$1 url=$2
	shift 2
	in_client "$cg" curl -sS -o /dev/null -w '%{http_code}' --noproxy '*' -m 5 --connect-timeout 4 "$@" "$url"
}
# lab_curl_ms CGROUP URL [curl args]: "CODE MS", the http code and curl's own time in ms
# (time_total: the connection's, without starting curl, which takes seconds in an emulated VM);
# nothing when curl printed no such line
lab_curl_ms() {
	_lab_curl_ms "$(lab_curl "$@" -w '%{http_code} %{time_total}')"
}
# _lab_curl_ms "CODE SECONDS": "CODE MS"
_lab_curl_ms() {
	[[ "$1" =~ ^([0-9]{3})\ ([0-9]+\.?[0-9]*)$ ]] || return 1
	awk -v c="${BASH_REMATCH[1]}" -v s="${BASH_REMATCH[2]}" 'BEGIN { printf "%s %d\n", c, s * 1000 }'
}
# lab_spawn_flows NAME CGROUP NETNS DST PORT PAYLOAD INTERVAL: a sender in CGROUP and NETNS
# that sends PAYLOAD to DST:PORT every INTERVAL s, each time from a new socket (a new flow:
# a flow that the host NATed to the uplink while the tunnel was down keeps that mapping in
# conntrack after it comes back). It runs until killed, at most the test's own time limit
# (LAB_TEST_TIMEOUT): an emulated VM takes minutes for what the host does in seconds, and a
# sender that stopped first looked like traffic that no longer went through. Pid in
# LAB_SPAWNED_PID.
lab_spawn_flows() {
	local name=$1 cg=$2 ns=$3
	shift 3
	_lab_spawn "$name" "$cg" ip netns exec "$ns" "$LAB_PY" -c 'import socket, sys, time
dst, port, payload, interval = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode(), float(sys.argv[4])
end = time.time() + float(sys.argv[5])
while time.time() < end:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.sendto(payload, (dst, port))
    except OSError:
        pass
    s.close()
    time.sleep(interval)' "$@" "${LAB_TEST_TIMEOUT:-600}"
}
# lab_ping CGROUP DST [ping args]: one ping, 2 s, silent; exit status of ping
lab_ping() {
	local cg=$1 dst=$2
	shift 2
	in_client "$cg" ping -n -q -c 1 -W 2 "$@" "$dst" >/dev/null 2>&1
}
# lab_probe CGROUP udp|tcp DST PORT [args]: netprobe.py (JSON result on stdout)
lab_probe() {
	local cg=$1
	shift
	in_client "$cg" "$LAB_PY" "$LAB_LIB_DIR/netprobe.py" "$@"
}

# lab_sender_start NAME [netprobe udp args...]: a steady UDP sender from prot/apps, default
# 250 pkt/s to 203.0.113.10:9 (the sink) for at most the test's time limit (LAB_TEST_TIMEOUT);
# lab_sender_stop NAME prints its JSON summary
lab_sender_start() {
	local name=$1
	shift
	[ $# -gt 0 ] || set -- "$LAB_HOST_IP" "$LAB_SINK_PORT" --rate 250 --duration "${LAB_TEST_TIMEOUT:-600}"
	_lab_ns_unsafe "$NS_CLIENT" && return 2
	_lab_spawn "$name" apps ip netns exec "$NS_CLIENT" "$LAB_PY" "$LAB_LIB_DIR/netprobe.py" udp "$@" \
		--progress "$LAB_STATE/$name.progress"
}
# lab_swap_watch_start SECONDS: what watches an agent swap (restart, upgrade): the capture on
# the uplink, the steady sender through the tunnel and a sender named deny bound to up0 (250
# pkt/s for at most SECONDS), which must be refused throughout
lab_swap_watch_start() {
	lab_capture_start || return 1
	lab_sender_start steady || { LAB_ERR="sender did not start"; return 1; }
	_lab_spawn deny apps ip netns exec "$NS_CLIENT" "$LAB_PY" "$LAB_LIB_DIR/netprobe.py" udp \
		"$LAB_HOST_IP" "$LAB_SINK_PORT" --bind-dev up0 --rate 250 --duration "$1" \
		--progress "$LAB_STATE/deny.progress"
	# both senders under way (each has written its first progress) before the swap
	_lab_wait 10 test -s "$LAB_STATE/steady.progress" &&
		_lab_wait 10 test -s "$LAB_STATE/deny.progress" ||
		{ LAB_ERR="the senders wrote no progress within 10 s"; return 1; }
}
lab_sender_stop() {
	local pid=${LAB_PID[$1]:-}
	[ -n "$pid" ] && _lab_kill "$pid" 5
	tail -n 1 "$LAB_STATE/$1.log"
}

# ---------------------------------------------------------------- servers' view
# lab_server_count KIND [SRC] [HOST]: requests/datagrams the internet host (or the LAN host,
# HOST=lan) got: KIND http|echo|sink; SRC an address, or vpn (198.51.100.2) or isp (100.64.0.2)
lab_server_count() {
	local kind=$1 src=${2:-} f=$LAB_STATE/inet-stats.json
	[ "${3:-}" = lan ] && f=$LAB_STATE/lan-stats.json
	case $src in vpn) src=$LAB_VPN_IP ;; isp) src=$LAB_ISP_PUBLIC_IP ;; esac
	"$LAB_PY" - "$f" "$kind" "$src" <<'EOF'
import json, sys
try:
    d = json.load(open(sys.argv[1])).get(sys.argv[2], {})
except Exception:
    d = {}
src = sys.argv[3]
print(sum(d.values()) if not src else d.get(src, 0))
EOF
}
# lab_server_more KIND SRC N [HOST]: true when the server counts more than N (for _lab_wait)
lab_server_more() { [ "$(lab_server_count "$1" "$2" "${4:-}")" -gt "$3" ]; }
# lab_server_sync [lan]: wait until the internet (or LAN) host's stats hold all it received so
# far: a datagram from the host to its own sink (LAN: echo) is counted after what came before it
lab_server_sync() {
	local ns=inet ip=$LAB_HOST_IP port=$LAB_SINK_PORT kind=sink n
	[ "${1:-}" = lan ] && ns=lan ip=$LAB_LANHOST_IP port=$LAB_ECHO_PORT kind=echo
	n=$(lab_server_count "$kind" "$ip" "${1:-}")
	in_ns "$ns" bash -c 'echo sync >"/dev/udp/$0/$1"' "$ip" "$port" &&
		_lab_wait 5 lab_server_more "$kind" "$ip" "$n" "${1:-}"
}

# ---------------------------------------------------------------- STUN and WebRTC
LAB_STUN_PORT=3478
# lab_stun_servers: coturn STUN servers on the internet host (203.0.113.10:3478) and, in a
# --lan-host lab, on the LAN host (10.213.0.5:3478); logs to $LAB_STATE/turn-NAME.log
lab_stun_servers() {
	local name ns ip
	for name in inet lan; do
		case $name in
		inet) ns=$NS_INET ip=$LAB_HOST_IP ;;
		lan) [ -e "/run/netns/$NS_LAN" ] || continue; ns=$NS_LAN ip=$LAB_LANHOST_IP ;;
		esac
		_lab_spawn "turn-$name" infra ip netns exec "$ns" turnserver -n --stun-only --no-cli \
			--no-tls --no-dtls --listening-ip "$ip" --listening-port "$LAB_STUN_PORT" \
			--pidfile "$LAB_STATE/turn-$name.pid" --log-file stdout --simple-log
		_lab_wait 5 _lab_listening "$ns" udp "$ip" "$LAB_STUN_PORT" ||
			{ LAB_ERR="STUN server on $ip did not start: $(tail -3 "$LAB_STATE/turn-$name.log")"; return 1; }
	done
}

# lab_stun CGROUP HOST: coturn's STUN client; prints the reflexive address it learnt (empty
# when it got none), bounded to 10 s
lab_stun() {
	in_client "$1" timeout 10 turnutils_stunclient -p "$LAB_STUN_PORT" "$2" 2>&1 |
		sed -n 's/.*UDP reflexive addr: \([0-9.]*\):.*/\1/p' | head -1
}

# lab_webrtc CGROUP: headless Chromium (fresh profile, no background networking) opens the
# lab page that gathers ICE candidates against the internet STUN server; prints the candidate
# list the page reported to the server (a JSON array), or nothing. Bounded to 40 s.
lab_webrtc() {
	local cg=$1 prof url i
	prof=$(mktemp -d "$LAB_STATE/chromium.XXXXXX")
	url="http://$LAB_HOST_IP/www/webrtc.html?stun=$LAB_HOST_IP:$LAB_STUN_PORT"
	_lab_spawn "chromium-$(basename "$prof")" "prot/${cg#prot/}" nsenter --net="/run/netns/$NS_CLIENT" -- \
		timeout 40 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--disable-dev-shm-usage --user-data-dir="$prof" "$url"
	for i in $(seq 200); do
		grep -q '/report?' "$LAB_STATE/inet-requests.log" 2>/dev/null && break
		sleep 0.2
	done
	_lab_kill "$LAB_SPAWNED_PID" 2
	grep '/report?' "$LAB_STATE/inet-requests.log" 2>/dev/null | tail -1 |
		sed 's/.*&c=//' | "$LAB_PY" -c 'import sys, urllib.parse; print(urllib.parse.unquote(sys.stdin.read().strip()))'
}
