#!/bin/bash
# t44: frames that are not IP, made by processes with a packet socket on the uplink (this
# kernel has no BPF LSM to deny them, so TC on the uplink is what judges), tunnel down:
# - from a locked cgroup: a VLAN-tagged "ARP" carrying data, an ARP with data in its padding,
#   a PPPoE session frame carrying IPv4 to an internet host, the same to the VPN endpoint, LLDP,
#   an experimental ethertype: none of them on the wire; a plain ARP, a PPPoE PADI and a PPP
#   LCP frame (network basics) leave;
# - the VPN client's cgroup sends its transport inside a PPPoE session frame: it leaves (a
#   tunnel over a DSL uplink); LLDP from a profile with lan: allow leaves; an exempt cgroup's
#   experimental ethertype leaves.
# This kernel has no PPP (CONFIG_PPP), so no pppd/pppoe-server session can be made here: the
# PPPoE frames are crafted, as a PPPoE client's kernel would send them under ppp0.
. "$(dirname "$0")/lib.sh"
lab_init t44
lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
lab_setup || lab_abort "lab setup: $LAB_ERR"
lab_agent_up
lab_raw_covered && lab_abort "the LSM layer denies packet sockets here: t42 covers that; this test needs them"
PROBE="$LAB_PY $LAB_LIB_DIR/basicsprobe.py"
GW=$LAB_ROUTER_MAC
WG_HELLO=01000000 # a WireGuard handshake initiation's first bytes
frame() { local cg=$1 r; shift; r=$(in_client "$cg" $PROBE frame up0 "$@"); note "$cg: $* -> $r"; }

# from a locked cgroup
lab_capture_start || lab_abort "capture: $LAB_ERR"
mark=$(lab_events_mark)
frame apps "$GW" vlan-arp
frame apps "$GW" arp-junk 10.213.0.77
frame apps "$GW" pppoe-udp "$LAB_HOST_IP" "$LAB_SINK_PORT" 40000 00
frame apps "$GW" pppoe-udp "$LAB_VPN_IP" "$LAB_WG_PORT" "$LAB_WG_CLIENT_PORT" "$WG_HELLO"
frame apps "$GW" lldp
frame apps "$GW" other
frame apps "$GW" arp 10.213.0.78
frame apps "$GW" padi
frame apps "$GW" lcp
expect_event t44_pppoe_leak_event "$mark" layer=tc reason=tunnel_down dst="$LAB_HOST_IP" \
	dport="$LAB_SINK_PORT" verdict=blocked
expect_event t44_pppoe_endpoint_event "$mark" layer=tc reason=endpoint dst="$LAB_VPN_IP" \
	dport="$LAB_WG_PORT" verdict=blocked
lab_capture_stop
expect_captured t44_wire_no_vlan_arp -eq 0 "vlan" "VLAN-tagged frame(s)"
expect_captured t44_wire_no_arp_with_data -eq 0 "arp and arp[24:4] = 0x0ad5004d" "ARP frame(s) with data in the padding"
expect_captured t44_wire_no_pppoe_ip -eq 0 "ether proto 0x8864 and ether[20:2] = 0x0021" "PPPoE frame(s) carrying IPv4 from the locked cgroup"
expect_captured t44_wire_no_lldp_locked -eq 0 "ether proto 0x88cc" "LLDP frame(s) from a lan: block profile"
expect_captured t44_wire_no_other -eq 0 "ether proto 0x88b5" "experimental-ethertype frame(s) from the locked cgroup"
expect_captured t44_wire_arp -eq 1 "arp and arp[24:4] = 0x0ad5004e" "plain ARP request(s) for 10.213.0.78"
expect_captured t44_wire_padi -eq 1 "ether proto 0x8863" "PPPoE PADI"
expect_captured t44_wire_lcp -eq 1 "ether proto 0x8864 and ether[20:2] = 0xc021" "PPP LCP frame(s)"
LAB_LEAK_EXCLUDE="ether proto 0x8864 and ether[20:2] = 0xc021" expect_no_leaks t44_locked_no_leaks

# what the policy lets other cgroups send
lab_capture_start || lab_abort "capture: $LAB_ERR"
mark=$(lab_events_mark)
frame vpn "$GW" pppoe-udp "$LAB_VPN_IP" "$LAB_WG_PORT" "$LAB_WG_CLIENT_PORT" "$WG_HELLO"
frame lan "$GW" lldp
frame exempt "$GW" other
lab_capture_stop
expect_captured t44_wire_pppoe_transport -eq 1 "ether proto 0x8864 and ether[20:2] = 0x0021 and ether[38:4] = 0xc6336402" "PPPoE frame(s) with the VPN client's transport"
expect_captured t44_wire_lldp_lan -eq 1 "ether proto 0x88cc" "LLDP frame(s) from a lan: allow profile"
expect_captured t44_wire_exempt_other -eq 1 "ether proto 0x88b5" "experimental-ethertype frame(s) from the exempt cgroup"
n=$(lab_events --after "$mark" --min 0 verdict=blocked)
check t44_allowed_no_events "$n blocked event(s) for what the policy allows" [ "$n" -eq 0 ]
lab_done
