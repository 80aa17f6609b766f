#!/bin/bash
# t50: the LSM layer (BPF LSM socket_create, attached per cgroup at the attach cgroup), where the
# kernel lets tunlock attach it. With raw_sockets: deny a protected process cannot create a raw
# IP socket, an AF_PACKET socket with or without PACKET_QDISC_BYPASS, or an AF_XDP socket: EPERM
# and an event (layer lsm, hook socket_create, reason raw_socket) for each; status says
# raw_socket coverage full. After a reload with raw_sockets: allow it creates all four (and tries
# to send raw ICMP and frames without bypass, which the packet layers drop: the tunnel is down,
# so the sends fail). The capture on the uplink sees nothing leave in either phase.
# This machine's kernel (lockdown) refuses BPF LSM: there the test skips and says so. The VM tier
# (tests/vm) runs it on Debian's stock kernels, which have it: there (LAB_EXPECT_BPF_LSM=1) a
# kernel without the layer is a failure, not a skip.
. "$(dirname "$0")/lib.sh"
lab_init t50
lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
lab_setup || lab_abort "lab setup: $LAB_ERR"
lab_agent_up --raw deny
if ! lab_raw_covered; then
	st=$(lab_tunlock status --pin-dir "$LAB_PIN" 2>&1 | grep raw_socket)
	if [ "${LAB_EXPECT_BPF_LSM:-0}" = 1 ]; then
		fail t50_lsm_coverage "the kernel lists bpf among its LSMs, yet status says: $st"
	else
		skip t50_lsm "this kernel does not let tunlock attach its BPF LSM layer (status: $st)"
	fi
	lab_done
fi
pass t50_lsm_coverage
lab_capture_start || lab_abort "capture: $LAB_ERR"
route=$(ip -n "$NS_CLIENT" route get "$LAB_HOST_IP" 2>&1)
[[ "$route" == *"dev up0"* ]] || lab_abort "no tunnel, yet the client does not route to the ISP: $route"
RAW="$LAB_PY $LAB_LIB_DIR/rawprobe.py"
FRAME=(up0 "$LAB_ROUTER_MAC" "$LAB_HOST_IP" "$LAB_SINK_PORT")

# refused NAME WHAT ARGS...: rawprobe ARGS in prot/apps fails with EPERM, and the LSM layer says so
refused() {
	local name=$1 what=$2 mark r
	shift 2
	mark=$(lab_events_mark)
	r=$(in_client apps $RAW "$@")
	check "$name" "$what in prot/apps with raw_sockets: deny: $r (want EPERM)" \
		eval '[ "$(lab_json_get "$r" created)" = False ] && [ "$(lab_json_get "$r" errno)" = 1 ]'
	expect_event "${name}_event" "$mark" layer=lsm hook=socket_create reason=raw_socket \
		verdict=blocked comm=python3 "cgroup=$LAB_CGREL_APPS"
}
# made NAME WHAT ARGS...: rawprobe ARGS in prot/apps creates the socket (what it sends, the packet
# layers drop: expect_no_leaks says so)
made() {
	local name=$1 what=$2 r
	shift 2
	r=$(in_client apps $RAW "$@")
	check "$name" "$what in prot/apps with raw_sockets: allow: $r (want created)" \
		eval '[ "$(lab_json_get "$r" created)" = True ]'
}

# --- raw_sockets: deny
refused t50_lsm_raw_icmp "raw ICMP socket" icmp "$LAB_HOST_IP"
refused t50_lsm_packet_bypass "AF_PACKET socket with PACKET_QDISC_BYPASS" packet "${FRAME[@]}" --bypass
refused t50_lsm_packet "AF_PACKET socket without bypass" packet "${FRAME[@]}"
refused t50_lsm_xdp "AF_XDP socket" xdp
r=$(in_client exempt $RAW xdp)
check t50_lsm_exempt_xdp "AF_XDP socket in prot/exempt: $r (want created)" \
	eval '[ "$(lab_json_get "$r" created)" = True ]'
expect_no_leaks t50_lsm_deny_no_leaks

# --- raw_sockets: allow
lab_agent_reload --raw allow || lab_abort "reload: $LAB_ERR"
lab_capture_start || lab_abort "capture: $LAB_ERR"
mark=$(lab_events_mark)
made t50_lsm_allow_raw_icmp "raw ICMP socket" icmp "$LAB_HOST_IP" --count 3
# created only: a frame that skips the qdisc skips TC, which is why deny refuses the socket
made t50_lsm_allow_packet_bypass "AF_PACKET socket with PACKET_QDISC_BYPASS" packet "${FRAME[@]}" --bypass --count 0
made t50_lsm_allow_packet "AF_PACKET socket without bypass" packet "${FRAME[@]}" --count 3
made t50_lsm_allow_xdp "AF_XDP socket" xdp
n=$(lab_events --after "$mark" --min 0 reason=raw_socket)
check t50_lsm_allow_no_events "$n raw_socket event(s) with raw_sockets: allow" [ "$n" -eq 0 ]
expect_no_leaks t50_lsm_allow_no_leaks
lab_done
