#!/bin/bash
# t32: a real browser. Headless Chromium in the client, in a protected cgroup, opens a lab page
# that gathers ICE candidates against the internet STUN server. Without tunlock and with policy
# routing that sends STUN past the tunnel, a candidate carries the ISP's address (the test can
# see the leak). With tunlock, no candidate carries it, on the leaking routing or not; through
# the tunnel the server-reflexive candidate carries the VPN server's address.
. "$(dirname "$0")/lib.sh"
lab_init t32
lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
command -v chromium >/dev/null || { skip t32_webrtc "no chromium (make deps installs it)"; lab_done; }
lab_setup || lab_abort "lab setup: $LAB_ERR"
lab_stun_servers || lab_abort "STUN servers: $LAB_ERR"
lab_tunnel_up || lab_abort "tunnel up: $LAB_ERR"

leaky_routing() { # STUN to the internet host past the tunnel, as a misconfigured client would
	ip -n "$NS_CLIENT" route "$1" "$LAB_HOST_IP/32" via "$LAB_ROUTER_IP" dev up0 table 100 &&
		ip -n "$NS_CLIENT" rule "$1" ipproto udp dport "$LAB_STUN_PORT" lookup 100
}
has() { [[ "$1" == *" $2 "* ]]; }
srflx_of() { echo "$1" | tr ',' '\n' | grep 'typ srflx' | awk '{print $5}' | sort -u | tr '\n' ' '; }

leaky_routing add || lab_abort "policy routing"
: >"$LAB_STATE/inet-requests.log"
c=$(lab_webrtc apps)
check t32_leak_visible_without_tunlock "without tunlock the page saw srflx '$(srflx_of "$c")' (want $LAB_ISP_PUBLIC_IP: the test must see the leak)" \
	has " $(srflx_of "$c") " "$LAB_ISP_PUBLIC_IP"

lab_agent_up
lab_capture_start || lab_abort "capture: $LAB_ERR"
: >"$LAB_STATE/inet-requests.log"
c=$(lab_webrtc apps)
check t32_reported "the page reported its candidates with tunlock: '$(echo "$c" | cut -c1-200)'" [ -n "$c" ]
check t32_no_isp_address_leaky_routing "with tunlock on the leaking routing: srflx '$(srflx_of "$c")' (want no $LAB_ISP_PUBLIC_IP)" \
	eval '! [[ "$c" == *"$LAB_ISP_PUBLIC_IP"* ]]'
expect_no_leaks t32_no_leaks_leaky_routing

leaky_routing del || lab_abort "policy routing"
lab_capture_start || lab_abort "capture: $LAB_ERR"
: >"$LAB_STATE/inet-requests.log"
c=$(lab_webrtc apps)
check t32_srflx_is_vpn "through the tunnel: srflx '$(srflx_of "$c")' (want $LAB_VPN_IP)" \
	has " $(srflx_of "$c") " "$LAB_VPN_IP"
check t32_no_isp_address "through the tunnel, no candidate carries $LAB_ISP_PUBLIC_IP" \
	eval '! [[ "$c" == *"$LAB_ISP_PUBLIC_IP"* ]]'
expect_no_leaks t32_no_leaks
lab_done
