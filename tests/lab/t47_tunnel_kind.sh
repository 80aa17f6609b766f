#!/bin/bash
# t47: a tunnel is known by its name and its kind. wireguard-go's wg0 (a tun device) is the
# tunnel; with it down, links that anyone with CAP_NET_ADMIN can make under the same name are
# uplinks, guarded and reported, and the tunnel stays down:
# - a macvlan on up0 named wg0, with the routes a VPN sets;
# - a veth named wg0 into the ISP's namespace (a second way out of the client), routes the same.
# The capture on both uplinks (c0, c1) sees nothing but what is allowed.
. "$(dirname "$0")/lib.sh"
lab_init t47
lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
lab_setup --second-uplink-ready || lab_abort "lab setup: $LAB_ERR"
lab_agent_up
lab_tunnel_up || lab_abort "tunnel up: $LAB_ERR"

tunnel_and_role() { echo "tunnel=$(lab_tunnel_state lab) wg0=$(lab_iface_role wg0)"; }
s=$(tunnel_and_role)
check t47_tun_is_the_tunnel "with wireguard-go's wg0 (kind tun): $s" [ "$s" = "tunnel=up wg0=tunnel" ]

lab_tunnel_down || lab_abort "tunnel down: $LAB_ERR"
lab_capture_start || lab_abort "capture: $LAB_ERR"
[[ " ${LAB_CAP_IFACES[*]} " == *" c1 "* ]] || lab_abort "the capture does not cover c1"

err=$LAB_STATE/agent$LAB_AGENT_N.err
# impostor NAME KIND ADDR/LEN GW: wg0, just made (of KIND), gets ADDR and the routes a VPN sets
# (via GW); it must be guarded, reported, and what is routed through it blocked there
impostor() {
	local name=$1 kind=$2 addr=$3 gw=$4 s code mark
	_x ip -n "$NS_CLIENT" addr add "$addr" dev wg0 || lab_abort "$name: address"
	_x ip -n "$NS_CLIENT" link set wg0 up || lab_abort "$name: up"
	_x ip -n "$NS_CLIENT" route add 0.0.0.0/1 via "$gw" dev wg0 || lab_abort "$name: route"
	_x ip -n "$NS_CLIENT" route add 128.0.0.0/1 via "$gw" dev wg0 || lab_abort "$name: route"
	_lab_wait 5 eval '[ "$(tunnel_and_role)" = "tunnel=down wg0=guarded" ]'
	s=$(tunnel_and_role)
	check "t47_${name}_guarded" "with a $kind named wg0: $s (want the tunnel down, wg0 guarded)" \
		[ "$s" = "tunnel=down wg0=guarded" ]
	_lab_wait 3 grep -q "wg0 .* is named like tunnel lab's interface but is of kind $kind" "$err"
	check "t47_${name}_reported" "the agent's log names the $kind" \
		grep -q "wg0 .* is named like tunnel lab's interface but is of kind $kind" "$err"
	mark=$(lab_events_mark)
	code=$(lab_curl apps "http://$LAB_HOST_IP/")
	check "t47_${name}_curl_blocked" "curl routed via the $kind wg0: '$code'" [ "$code" != 200 ]
	in_client apps "$LAB_PY" "$LAB_LIB_DIR/netprobe.py" udp "$LAB_HOST_IP" "$LAB_SINK_PORT" --count 3 >/dev/null
	# (ping from the address: no socket hook stops it first, the packet layers judge it on wg0)
	lab_ping apps "$LAB_HOST_IP" -I "${addr%/*}"
	check "t47_${name}_ping_blocked" "ping routed via the $kind wg0 went through" [ $? != 0 ]
	expect_event "t47_${name}_event" "$mark" reason=tunnel_down verdict=blocked interface=wg0 \
		"protocol=$LAB_P_ICMP"
}

# a macvlan named wg0 on up0
_x ip -n "$NS_CLIENT" link add wg0 link up0 type macvlan mode bridge || lab_abort "macvlan wg0"
impostor macvlan macvlan 10.213.0.66/24 "$LAB_ROUTER_IP"
_x ip -n "$NS_CLIENT" link del wg0 || lab_abort "cannot delete the macvlan"

# a veth named wg0 into the ISP (up1 renamed, with c1 its other end)
_x ip -n "$NS_ISP" link set up1 name wg0 || lab_abort "rename up1"
_x ip -n "$NS_ISP" link set wg0 netns "$NS_CLIENT" || lab_abort "veth wg0 into the client"
_lab_sysctl "$NS_CLIENT" net.ipv6.conf.wg0.disable_ipv6=1
impostor veth veth "$LAB_CLIENT2_IP/25" "$LAB_ROUTER2_IP"
expect_no_leaks t47_no_leaks
m=$(lab_server_count sink isp) n=$(lab_server_count http isp)
check t47_server_saw_nothing "via the ISP the sink got $m datagram(s), http $n request(s)" \
	[ "$m" -eq 0 -a "$n" -eq 0 ]
lab_done
