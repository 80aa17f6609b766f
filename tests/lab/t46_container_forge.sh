#!/bin/bash
# t46: a container with a macvlan on the host's uplink (as a runtime's macvlan network gives it)
# besides its veth: the host end of its veth is no port (guarded as an uplink), and what it
# hands to the uplink through the macvlan carries no identity the host's marks could give:
# - its own socket sets the VPN client's fwmark (SO_MARK) and sends to the VPN endpoint, and it
#   sets that fwmark on what it forwards there;
# - it forwards, for a namespace behind it, through a veth whose ifindex it chose equal to
#   the exempt container's port, stamping skb->mark with every port index (container_mark).
# On the capture of the uplink none of that may appear; the exempt container still gets out.
# The same for a namespace with a macvtap on the uplink: its veth is no port either (mv's veth
# is no port on main already, for mv's veth to the namespace behind it). This kernel has no VLAN
# or ipvlan devices; the agent tells them alike, by their link into ours.
. "$(dirname "$0")/lib.sh"
lab_init t46
lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
lab_setup || lab_abort "lab setup: $LAB_ERR"
lab_containers_setup || lab_abort "container host: $LAB_ERR"
lab_container ex exempt-b 3 || lab_abort "container ex: $LAB_ERR"
# mv and tp: containers with a veth to the host that is on no bridge (a bridge with a member
# that is no port is an uplink, and would take ex's port with it)
ctr_unbridged() { # NAME CGNAME N
	lab_container_ns "$1" "$2" "$3" || return 1
	_x ip -n "$NS_CLIENT" link add "v-$1" type veth peer name eth0 netns "${LAB_CTR_NS[$1]}" || return 1
	_x ip -n "$NS_CLIENT" link set "v-$1" up || return 1
	_x ip -n "${LAB_CTR_NS[$1]}" link set eth0 up || return 1
	_lab_spawn "init-$1" "prot/ctr/$2" ip netns exec "${LAB_CTR_NS[$1]}" sleep "${LAB_TEST_TIMEOUT:-600}"
}
ctr_unbridged mv locked-m 4 || lab_abort "container mv: $LAB_ERR"
ctr_unbridged tp locked-t 6 || lab_abort "container tp: $LAB_ERR"
lab_container_ns in locked-i 5 || lab_abort "namespace behind mv: $LAB_ERR"
NS_MV=${LAB_CTR_NS[mv]} NS_IN=${LAB_CTR_NS[in]}
MV_MAC=02:13:00:00:00:77 MV_IP=10.213.0.77

# mv: a macvlan on up0, made on the host and moved in, with the internet host and the VPN
# endpoint routed through it; tp: a macvtap on up0, moved in
_x ip -n "$NS_CLIENT" link add mvx link up0 address "$MV_MAC" type macvlan mode bridge || lab_abort "macvlan"
_x ip -n "$NS_CLIENT" link set mvx netns "$NS_MV" || lab_abort "macvlan into mv"
_x ip -n "$NS_MV" addr add "$MV_IP/24" dev mvx || lab_abort "macvlan address"
_x ip -n "$NS_MV" link set mvx up || lab_abort "macvlan up"
_x ip -n "$NS_MV" route add "$LAB_HOST_IP/32" via "$LAB_ROUTER_IP" dev mvx || lab_abort "route via mvx"
_x ip -n "$NS_MV" route add "$LAB_VPN_IP/32" via "$LAB_ROUTER_IP" dev mvx || lab_abort "route via mvx"
_x ip -n "$NS_CLIENT" link add link up0 name tap9 type macvtap mode bridge || lab_abort "macvtap"
_x ip -n "$NS_CLIENT" link set tap9 netns "${LAB_CTR_NS[tp]}" || lab_abort "macvtap into tp"

# behind mv: a namespace on a veth whose end in mv has the exempt port's ifindex; mv forwards
# it out of the macvlan, masqueraded, with the mark that the chain "stamp" sets
port_ifindex=$(ip netns exec "$NS_CLIENT" cat /sys/class/net/v-ex/ifindex) || lab_abort "ifindex of v-ex"
ip -n "$NS_MV" -o link show | grep -q "^$port_ifindex:" && lab_abort "ifindex $port_ifindex is taken in mv"
_x ip -n "$NS_MV" link add fwd0 index "$port_ifindex" type veth peer name eth0 netns "$NS_IN" ||
	lab_abort "veth with the port's ifindex"
_x ip -n "$NS_MV" addr add 100.81.0.1/24 dev fwd0 || lab_abort "fwd0 address"
_x ip -n "$NS_MV" link set fwd0 up || lab_abort "fwd0 up"
_x ip -n "$NS_IN" addr add 100.81.0.2/24 dev eth0 || lab_abort "inner address"
_x ip -n "$NS_IN" link set eth0 up || lab_abort "inner up"
_x ip -n "$NS_IN" route add default via 100.81.0.1 || lab_abort "inner route"
_lab_sysctl "$NS_MV" net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 ||
	lab_abort "forwarding in mv"
cat >"$LAB_STATE/mv.nft" <<NFT
table ip forge {
	chain stamp { type filter hook forward priority 0; policy accept; }
	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "mvx" masquerade
	}
}
NFT
_x ip netns exec "$NS_MV" nft -f "$LAB_STATE/mv.nft" || lab_abort "nftables in mv"

# shellcheck disable=SC2034 # read by lab_leaks in lib.sh
LAB_LEAK_EXCLUDE="src host $LAB_EXEMPT_SNAT" # the exempt container's own traffic
lab_agent_up_containers
lab_tunnel_up || lab_abort "tunnel up: $LAB_ERR"
lab_ctr_split ex on --snat
lab_capture_start || lab_abort "capture: $LAB_ERR"

f=$(lab_json_get "$(lab_tunlock status --json --pin-dir "$LAB_PIN" 2>/dev/null)" features.route_proof)
check t46_status_route_proof "status features.route_proof: '$f' (this kernel has the kfuncs)" [ "$f" = True ]

roles() { echo "v-ex=$(lab_iface_role v-ex) v-mv=$(lab_iface_role v-mv) v-tp=$(lab_iface_role v-tp)"; }
_lab_wait 5 eval '[ "$(roles)" = "v-ex=container v-mv=guarded v-tp=guarded" ]'
r=$(roles)
check t46_macvlan_vlan_no_port "interface roles: $r (want v-ex container, v-mv and v-tp guarded)" \
	[ "$r" = "v-ex=container v-mv=guarded v-tp=guarded" ]

# the exempt container still gets out directly
i0=$(lab_server_count http isp)
code=$(lab_ctr_curl ex "http://$LAB_HOST_IP/")
_lab_wait 2 eval '[ "$(lab_server_count http isp)" -gt "'"$i0"'" ]'
i1=$(lab_server_count http isp)
check t46_exempt_direct "exempt container curl: '$code', server via ISP $i0 -> $i1" \
	eval '[ "$code" = 200 ] && [ "$i1" -gt "$i0" ]'

# the client's fwmark on a socket of mv, through the macvlan to the VPN endpoint: no identity
# outside the agent's namespace, so mv's own cgroup_skb stops it already
mark=$(lab_events_mark)
r=$(in_ctr mv "$LAB_PY" "$LAB_LIB_DIR/netprobe.py" udp "$LAB_VPN_IP" "$LAB_WG_PORT" --mark "$LAB_WG_FWMARK" \
	--count 5 --payload tunlock-forged-fwmark)
note "marked sender in mv: $r"
tried_mark=$(lab_json_get "$r" attempts)
expect_event t46_fwmark_event_in_mv "$mark" reason=endpoint verdict=blocked layer=cgroup_skb \
	"cgroup=$LAB_CGREL_PROT/ctr/locked-m"

# every port index as a stamp, on what mv forwards for the namespace behind it
shift_bits=24 sent_stamp=0
for idx in 1 2 3 4 5 6; do
	ip netns exec "$NS_MV" nft flush chain ip forge stamp &&
		ip netns exec "$NS_MV" nft add rule ip forge stamp iifname fwd0 meta mark set $((idx << shift_bits)) ||
		lab_abort "cannot set the stamp in mv"
	r=$(in_ns "$NS_IN" "$LAB_PY" "$LAB_LIB_DIR/netprobe.py" udp "$LAB_HOST_IP" "$LAB_SINK_PORT" --count 3 \
		--payload "tunlock-forged-stamp-$idx")
	sent_stamp=$((sent_stamp + $(lab_json_get "$r" sent)))
done
note "forwarded by mv with stamps 1-6: $sent_stamp datagram(s) sent"
# and the client's fwmark on what mv forwards to the VPN endpoint (no socket: TC alone judges)
ip netns exec "$NS_MV" nft flush chain ip forge stamp &&
	ip netns exec "$NS_MV" nft add rule ip forge stamp iifname fwd0 meta mark set "$LAB_WG_FWMARK" ||
	lab_abort "cannot set the fwmark in mv"
r=$(in_ns "$NS_IN" "$LAB_PY" "$LAB_LIB_DIR/netprobe.py" udp "$LAB_VPN_IP" "$LAB_WG_PORT" --count 3 \
	--payload tunlock-forwarded-fwmark)
tried_mark=$((tried_mark + $(lab_json_get "$r" sent)))

lab_capture_stop
mv_ip() { lab_cap_count "ether src $MV_MAC and ($1)"; } # what the macvlan sent
n=$(mv_ip "udp and dst host $LAB_VPN_IP and dst port $LAB_WG_PORT")
check t46_fwmark_via_macvlan_blocked "the capture saw $n of mv's $tried_mark fwmarked datagram(s) to the VPN endpoint" \
	[ "$n" -eq 0 -a "${tried_mark:-0}" -gt 0 ]
n=$(mv_ip "udp and dst host $LAB_HOST_IP and dst port $LAB_SINK_PORT")
check t46_stamp_via_macvlan_blocked "the capture saw $n of the $sent_stamp stamped datagram(s) forwarded by mv" \
	[ "$n" -eq 0 -a "$sent_stamp" -gt 0 ]
n=$(mv_ip "ip and not (udp and src port 68 and dst port 67)")
check t46_macvlan_nothing "the capture saw $n IP packet(s) from mv's macvlan" [ "$n" -eq 0 ]
m=$(lab_server_count sink isp)
check t46_sink_saw_nothing "the sink got $m datagram(s) via the ISP" [ "$m" -eq 0 ]
expect_no_leaks t46_no_leaks
lab_done
