#!/bin/bash
# t42: raw and packet sockets inside a locked container, with the tunnel down (the host routes
# everything to the ISP): a raw ICMP socket, an AF_PACKET socket with PACKET_QDISC_BYPASS
# sending a UDP frame out of the container's eth0, and one without bypass.
# - Where the kernel lets tunlock attach its BPF LSM layer (status: raw_socket full), creating
#   them in the locked container fails with EPERM and an event (layer lsm, reason raw_socket,
#   pid, comm); elsewhere those checks are skipped, and say so, but the raw ICMP socket is
#   refused all the same by the socket layer (hook sock_create).
# - The packet layers are the second line: in the locked container (AF_PACKET, without the LSM
#   layer) and in one whose profile allows raw sockets (rawok, like a DHCP client's), every such
#   packet is dropped by the host, judged with the container's profile: 0 leak packets.
# - The host's DHCP client (busybox udhcpc, exempt) still gets a lease from the ISP.
. "$(dirname "$0")/lib.sh"
lab_init t42
lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
command -v busybox >/dev/null || lab_abort "busybox (udhcpc) is missing: make deps"
lab_setup || lab_abort "lab setup: $LAB_ERR"
lab_containers_setup || lab_abort "container host: $LAB_ERR"
lab_container lk locked-a 2 || lab_abort "container lk: $LAB_ERR"
lab_container raw rawok-c 6 || lab_abort "container raw: $LAB_ERR"
lab_agent_up_containers
lab_capture_start || lab_abort "capture: $LAB_ERR"
route=$(ip -n "$NS_CLIENT" route get "$LAB_HOST_IP" 2>&1)
[[ "$route" == *"dev up0"* ]] || lab_abort "no tunnel, yet the host does not route to the ISP: $route"
RAW="$LAB_PY $LAB_LIB_DIR/rawprobe.py"

# raw_icmp_refused NAME LAYER HOOK: the locked container's raw ICMP socket fails with EPERM, and
# LAYER's HOOK reports it
raw_icmp_refused() {
	local mark r
	mark=$(lab_events_mark)
	r=$(in_ctr lk $RAW icmp "$LAB_HOST_IP")
	check "$1_raw_icmp_denied" "raw ICMP socket in the locked container: $r (want EPERM)" \
		eval '[ "$(lab_json_get "$r" created)" = False ] && [ "$(lab_json_get "$r" errno)" = 1 ]'
	expect_event "$1_event" "$mark" "layer=$2" "hook=$3" reason=raw_socket verdict=blocked \
		comm=python3 "cgroup=$LAB_CGREL_PROT/ctr/locked-a"
}

# first line: the LSM layer
if lab_raw_covered; then
	raw_icmp_refused t42_lsm lsm socket_create
	r=$(in_ctr lk $RAW packet eth0 "$LAB_CTR_GW_MAC" "$LAB_HOST_IP" "$LAB_SINK_PORT" --bypass)
	check t42_lsm_packet_denied "AF_PACKET socket in the locked container: $r (want EPERM)" \
		eval '[ "$(lab_json_get "$r" created)" = False ]'
	code=$(in_client apps busybox udhcpc -i up0 -n -q -f -t 2 -T 1 -s /bin/true >/dev/null 2>&1; echo $?)
	check t42_lsm_locked_dhcp_denied "a DHCP client in a locked cgroup: exit $code (want failure)" [ "$code" != 0 ]
	ctrs="raw"
else
	skip t42_lsm "this kernel does not let tunlock attach its BPF LSM layer (status: raw_socket partial)"
	# raw IP sockets are refused all the same, by the socket layer's cgroup/sock_create
	raw_icmp_refused t42_sock_create socket sock_create
	ctrs="lk raw"
fi

# second line: the packet layers, for what may create raw sockets
for c in $ctrs; do
	mark=$(lab_events_mark)
	icmp=0
	if [ "$c" = raw ]; then
		icmp=1
		r=$(in_ctr "$c" $RAW icmp "$LAB_HOST_IP" --count 5)
		check "t42_${c}_raw_icmp_sent" "raw ICMP socket in container $c: $r (want created, sent)" \
			eval '[ "$(lab_json_get "$r" sent)" = 5 ]'
	fi
	r=$(in_ctr "$c" $RAW packet eth0 "$LAB_CTR_GW_MAC" "$LAB_HOST_IP" "$LAB_SINK_PORT" --bypass --count 5)
	check "t42_${c}_packet_bypass_sent" "AF_PACKET with PACKET_QDISC_BYPASS in container $c: $r (want sent)" \
		eval '[ "$(lab_json_get "$r" sent)" = 5 ]'
	r=$(in_ctr "$c" $RAW packet eth0 "$LAB_CTR_GW_MAC" "$LAB_HOST_IP" "$LAB_SINK_PORT" --count 5)
	check "t42_${c}_packet_sent" "AF_PACKET without bypass in container $c: $r (want sent)" \
		eval '[ "$(lab_json_get "$r" sent)" = 5 ]'
	[ "$icmp" = 1 ] && expect_event "t42_${c}_host_drops_icmp" "$mark" layer=tc reason=tunnel_down \
		"protocol=$LAB_P_ICMP" "cgroup=$LAB_CGREL_PROT/ctr/${LAB_CTR_CG[$c]#prot/ctr/}"
	expect_event "t42_${c}_host_drops_frames" "$mark" layer=tc reason=tunnel_down "protocol=$LAB_P_UDP" \
		"dport=$LAB_SINK_PORT" "cgroup=$LAB_CGREL_PROT/ctr/${LAB_CTR_CG[$c]#prot/ctr/}"
done

# the host's DHCP client, exempt, needs raw sockets and gets its lease
lab_dhcp_server || lab_abort "$LAB_ERR"
mark=$(lab_events_mark)
out=$(in_client exempt timeout 20 busybox udhcpc -i up0 -n -q -f -t 5 -T 1 -s /bin/true 2>&1)
rc=$?
check t42_exempt_dhcp_lease "the exempt DHCP client: exit $rc: $(echo "$out" | tail -2 | tr '\n' ' ')" \
	eval '[ "$rc" = 0 ] && grep -q "lease of" <<<"$out"'
n=$(lab_events --after "$mark" --min 0 "cgroup=$LAB_CGREL_EXEMPT")
check t42_exempt_dhcp_no_events "$n event(s) name the exempt DHCP client" [ "$n" -eq 0 ]

expect_no_leaks t42_no_leaks
sleep 0.3
n=$(lab_server_count sink isp)
check t42_nothing_via_isp "the sink got $n datagram(s) via the ISP" [ "$n" -eq 0 ]
lab_done
