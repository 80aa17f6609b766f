# shellcheck shell=bash disable=SC2034
# (SC2034: its variables are read by the tests and the other lab files)
# tests/lab/lib/dns.sh: the lab's resolvers (dnsmasq, DNS over TLS, the client's
# stub), its DHCP server, and the DNS queries and checks of the DNS tests.
# Sourced by tests/lab/lib.sh (a test sources lib.sh, never this file).

# _lab_dnsmasq NAME NS MARK MARK6 ADDR...: a resolver on ADDR... (UDP and TCP 53) that logs every
# query to $LAB_STATE/dns-NAME.log. Answers lab.test and *.lab.test with its marker MARK (and
# MARK6), so an answer tells which resolver gave it; refuses the rest.
_lab_dnsmasq() {
	local name=$1 ns=$2 mark=$3 mark6=$4 a listen=()
	shift 4
	for a in "$@"; do listen+=(--listen-address="$a"); done
	: >"$LAB_STATE/dns-$name.log"
	_lab_spawn "dnsmasq-$name" infra ip netns exec "$ns" dnsmasq -k --conf-file=/dev/null \
		--no-resolv --no-hosts --bind-interfaces "${listen[@]}" --port=53 \
		--user=root --group=root --pid-file="$LAB_STATE/dns-$name.pid" \
		--log-queries=extra --log-facility="$LAB_STATE/dns-$name.log" \
		--address=/lab.test/"$mark" --address=/lab.test/"$mark6"
	for a in "$@"; do
		_lab_wait 5 _lab_listening "$ns" udp "$a" 53 ||
			{ LAB_ERR="dnsmasq $name did not start on $a: $(tail -3 "$LAB_STATE/dns-$name.log" "$LAB_STATE/dnsmasq-$name.log" 2>&1 | tr '\n' ' ')"; return 1; }
	done
}

# lab_dhcp_server: the ISP's DHCP server on br0 (dnsmasq, leases 10.213.0.100-150), waits (5 s)
lab_dhcp_server() {
	_lab_spawn dhcpd infra ip netns exec "$NS_ISP" dnsmasq -k --conf-file=/dev/null --port=0 \
		--interface=br0 --dhcp-range=10.213.0.100,10.213.0.150,255.255.255.0,10m \
		--dhcp-leasefile="$LAB_STATE/dhcp.leases" --log-dhcp --log-facility="$LAB_STATE/dhcpd.log" \
		--user=root --group=root --pid-file="$LAB_STATE/dhcpd.pid"
	_lab_wait 5 _lab_listening "$NS_ISP" udp 0.0.0.0 67 || { LAB_ERR="the DHCP server did not start"; return 1; }
}

# _lab_dot_start NAME NS ADDR: DNS over TLS on ADDR:853 in front of the resolver NAME at ADDR:53
# (a self-signed certificate: dig +tls does not authenticate the server unless told to)
_lab_dot_start() {
	local name=$1 ns=$2 addr=$3
	if [ ! -s "$LAB_STATE/dot.crt" ]; then
		_x openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
			-subj /CN=resolver.lab.test -keyout "$LAB_STATE/dot.key" -out "$LAB_STATE/dot.crt" || return 1
	fi
	_lab_spawn "dot-$name" infra ip netns exec "$ns" "$LAB_PY" "$LAB_LIB_DIR/dotproxy.py" \
		--listen "$addr" --upstream "$addr" --cert "$LAB_STATE/dot.crt" --key "$LAB_STATE/dot.key"
	_lab_wait 5 _lab_listening "$ns" tcp "$addr" 853 ||
		{ LAB_ERR="DNS-over-TLS front end $name did not start: $(tail -3 "$LAB_STATE/dot-$name.log" | tr '\n' ' ')"; return 1; }
}


# ---------------------------------------------------------------- DNS queries
# lab_dns_queries NAME: queries logged by the resolver NAME (isp, tundns, pubdns, stub)
lab_dns_queries() { grep -c 'query\[' "$LAB_STATE/dns-$1.log" 2>/dev/null || true; }

# lab_dns CGROUP SERVER [dnsprobe args]: one query for lab.test from the client (dnsprobe.py,
# JSON on stdout: answers, from, peer, error, elapsed)
lab_dns() {
	local cg=$1
	shift
	in_client "$cg" "$LAB_PY" "$LAB_LIB_DIR/dnsprobe.py" "$@"
}

# expect_dns_answer NAME RESULT ANSWER SERVER: PASS if the dnsprobe RESULT got ANSWER and the
# answer's source (and, for connected sockets, the peer) reads as SERVER: the server the
# application asked, whichever resolver really answered
expect_dns_answer() {
	local name=$1 r=$2 want=$3 server=$4 got from peer
	got=$(lab_json_get "$r" answer) from=$(lab_json_get "$r" from) peer=$(lab_json_get "$r" peer)
	if [ "$got" = "$want" ] && [ "$from" = "$server" ] && { [ -z "$peer" ] || [ "$peer" = "$server" ]; }; then
		pass "$name"
	else
		fail "$name" "want answer $want from $server, got: $r"
	fi
}

# expect_dns_eperm NAME RESULT [MAX_MS]: PASS if the dnsprobe RESULT failed with EPERM within
# MAX_MS (default 1000): a fast, explicit error, not a timeout
expect_dns_eperm() {
	local name=$1 r=$2 max=${3:-1000} err ms
	err=$(lab_json_get "$r" error)
	ms=$("$LAB_PY" -c 'import sys; print(int(float(sys.argv[1] or 99) * 1000))' "$(lab_json_get "$r" elapsed)")
	if [ "$err" = EPERM ] && [ "$ms" -le "$max" ]; then
		pass "$name"
	else
		fail "$name" "want EPERM within $max ms, got: $r"
	fi
}

# expect_dns_logged NAME RESOLVER BEFORE OP N: PASS if the queries RESOLVER (isp, tundns, pubdns,
# stub) logged since it had BEFORE compare to N with OP (-eq, -ge, ...)
expect_dns_logged() {
	local name=$1 res=$2 before=$3 op=$4 want=$5 n
	# dnsmasq writes its log after it answers: wait for what a test expects to see; a test that
	# expects nothing gets a grace period (there is no event to wait for)
	case $op in
	-gt | -ge) _lab_wait 3 eval '[ $(( $(lab_dns_queries "$res") - before )) "$op" "$want" ]' ;;
	*) sleep 0.2 ;;
	esac
	n=$(( $(lab_dns_queries "$res") - before ))
	check "$name" "resolver $res logged $n new quer(y/ies), want $op $want: $(tail -n 2 "$LAB_STATE/dns-$res.log" | cut -c1-120 | tr '\n' '|')" \
		[ "$n" "$op" "$want" ]
}

# lab_stub_start [CGROUP]: a local stub resolver in the client, dnsmasq on 127.0.0.53 forwarding
# to the ISP's resolver, in lab cgroup CGROUP (default apps: protected). Logs to dns-stub.log.
lab_stub_start() {
	local cg=${1:-apps}
	: >"$LAB_STATE/dns-stub.log"
	_lab_ns_unsafe "$NS_CLIENT" && { LAB_ERR="refusing: client netns missing or initial"; return 1; }
	_lab_spawn dnsmasq-stub "$cg" ip netns exec "$NS_CLIENT" dnsmasq -k --conf-file=/dev/null \
		--no-resolv --no-hosts --bind-interfaces --listen-address="$LAB_STUB_IP" --port=53 \
		--user=root --group=root --pid-file="$LAB_STATE/dns-stub.pid" --no-negcache --cache-size=0 \
		--log-queries=extra --log-facility="$LAB_STATE/dns-stub.log" --server="$LAB_ROUTER_IP"
	_lab_wait 5 _lab_listening "$NS_CLIENT" udp "$LAB_STUB_IP" 53 ||
		{ LAB_ERR="stub dnsmasq did not start: $(tail -3 "$LAB_STATE/dnsmasq-stub.log" 2>&1 | tr '\n' ' ')"; return 1; }
}
