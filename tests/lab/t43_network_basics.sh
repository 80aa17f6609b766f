#!/bin/bash
# t43: the network-basics exception is no way out. With the tunnel down and IPv6 blocked by
# the profile, a process in a locked cgroup tries what fits through DHCP and NDP:
# - UDP from port 68 to an internet host's port 67 (junk, and a well-formed BOOTREQUEST):
#   refused at the socket (EPERM), nothing on the wire;
# - UDP 68 -> 255.255.255.255:67 bound to the uplink with junk: dropped; a BOOTREQUEST there
#   leaves (the basic itself works);
# - DHCPv6 546 -> 547 to a global address: refused; a Solicit to ff02::1:2 leaves;
# - a raw ICMPv6 neighbour solicitation to a global address (hop limit 64, and 255): dropped;
#   one with hop limit 255 to a solicited-node group leaves;
# - a real DHCP client (busybox udhcpc) in the locked cgroup still gets its lease (where the
#   kernel lets it make a packet socket there).
# The ISP-side capture judges: not one of the refused packets on the uplink.
. "$(dirname "$0")/lib.sh"
lab_init t43
lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
command -v busybox >/dev/null || lab_abort "busybox (udhcpc) is missing: make deps"
lab_setup --ipv6 || lab_abort "lab setup: $LAB_ERR"
lab_agent_up --ipv6 block --raw allow # raw ICMPv6 is made to be judged by the packet layers
route=$(ip -n "$NS_CLIENT" route get "$LAB_HOST_IP" 2>&1)
[[ "$route" == *"dev up0"* ]] || lab_abort "no tunnel, yet the host does not route to the ISP: $route"
PROBE="$LAB_PY $LAB_LIB_DIR/basicsprobe.py"
lab_capture_start || lab_abort "capture: $LAB_ERR"
mark=$(lab_events_mark)

# DHCPv4 client ports to the internet
r=$(in_client apps $PROBE udp 68 "$LAB_HOST_IP" 67 junk)
check t43_dhcp_ports_to_internet_refused "UDP 68 -> $LAB_HOST_IP:67, junk: $r (want EPERM)" \
	eval '[ "$(lab_json_get "$r" error)" = EPERM ]'
r=$(in_client apps $PROBE udp 68 "$LAB_HOST_IP" 67 bootrequest)
check t43_bootrequest_to_internet_refused "UDP 68 -> $LAB_HOST_IP:67, BOOTREQUEST: $r (want EPERM)" \
	eval '[ "$(lab_json_get "$r" error)" = EPERM ]'
expect_event t43_dhcp_to_internet_event "$mark" layer=socket reason=tunnel_down dst="$LAB_HOST_IP" \
	dport=67 verdict=blocked
# to the broadcast, out of the uplink: only a BOOTREQUEST
r=$(in_client apps $PROBE udp 68 255.255.255.255 67 junk --bind-dev up0)
note "UDP 68 -> 255.255.255.255:67 on up0, junk: $r"
r=$(in_client apps $PROBE udp 68 255.255.255.255 67 bootrequest --bind-dev up0)
check t43_bootrequest_broadcast_sent "UDP 68 -> 255.255.255.255:67 on up0, BOOTREQUEST: $r (want sent)" \
	eval '[ "$(lab_json_get "$r" sent)" = True ]'

# DHCPv6 client ports to a global address, in a profile with ipv6: block
r=$(in_client apps $PROBE udp 546 "$LAB_HOST6_IP" 547 solicit)
check t43_dhcpv6_to_global_refused "UDP 546 -> [$LAB_HOST6_IP]:547: $r (want refused)" \
	eval '[ "$(lab_json_get "$r" sent)" = False ]'
r=$(in_client apps $PROBE udp 546 ff02::1:2%up0 547 solicit)
check t43_dhcpv6_solicit_sent "DHCPv6 Solicit to ff02::1:2: $r (want sent)" \
	eval '[ "$(lab_json_get "$r" sent)" = True ]'

# raw neighbour solicitations
r=$(in_client apps $PROBE ns "$LAB_HOST6_IP" 64 up0)
note "NS to $LAB_HOST6_IP, hop limit 64: $r"
r=$(in_client apps $PROBE ns "$LAB_HOST6_IP" 255 up0)
note "NS to $LAB_HOST6_IP, hop limit 255: $r"
r=$(in_client apps $PROBE ns ff02::1:ff00:1 255 up0)
check t43_ns_solicited_node_sent "NS to ff02::1:ff00:1, hop limit 255: $r (want sent)" \
	eval '[ "$(lab_json_get "$r" sent)" = True ]'
expect_event t43_ns_to_global_event "$mark" reason=ipv6 dst="$LAB_HOST6_IP" verdict=blocked

lab_capture_stop
expect_captured t43_wire_no_dhcp_to_internet -eq 0 "udp and dst port 67 and dst host $LAB_HOST_IP" "packet(s) to $LAB_HOST_IP:67"
expect_captured t43_wire_no_dhcp_junk -eq 0 "udp and dst port 67 and udp[8] != 1" "datagram(s) to port 67 that are not a BOOTREQUEST"
expect_captured t43_wire_bootrequest -eq 1 "udp and dst port 67 and dst host 255.255.255.255 and udp[8] = 1" "BOOTREQUEST(s) to the broadcast"
expect_captured t43_wire_nothing_to_global6 -eq 0 "ip6 and dst host $LAB_HOST6_IP" "IPv6 packet(s) to $LAB_HOST6_IP"
expect_captured t43_wire_solicit -ge 1 "ip6 and udp and dst port 547 and dst host ff02::1:2" "DHCPv6 Solicit(s) to ff02::1:2"
expect_captured t43_wire_ns -ge 1 "icmp6 and ip6[40] = 135 and dst host ff02::1:ff00:1" "NS to ff02::1:ff00:1"
expect_no_leaks t43_no_leaks

# a real DHCP client in the locked cgroup still gets its lease
if lab_raw_covered; then
	skip t43_locked_dhcp_client "the LSM layer denies the locked cgroup its packet socket (t42 has the exempt client)"
else
	lab_dhcp_server || lab_abort "$LAB_ERR"
	lab_capture_start || lab_abort "capture: $LAB_ERR"
	out=$(in_client apps timeout 20 busybox udhcpc -i up0 -n -q -f -t 5 -T 1 -s /bin/true 2>&1)
	rc=$?
	check t43_locked_dhcp_client "udhcpc in the locked cgroup: exit $rc: $(echo "$out" | tail -2 | tr '\n' ' ')" \
		eval '[ "$rc" = 0 ] && grep -q "lease of" <<<"$out"'
	expect_no_leaks t43_dhcp_client_no_leaks
fi
lab_done
