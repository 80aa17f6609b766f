#!/bin/bash
# t00: the lab itself, no agent. Proves that traffic flows the way the tests assume and that the
# leak detector sees leaks: through the tunnel only WireGuard transport leaves the uplink; with
# the tunnel deleted, traffic falls back to the ISP and shows up as leaks; bind-to-device leaks;
# the LAN host, the resolvers, the second uplink and IPv6 work; the agent guard refuses the
# initial network namespace.
. "$(dirname "$0")/lib.sh"
lab_init t00
lab_setup --lan-host --second-uplink-ready --ipv6 || lab_abort "lab setup: $LAB_ERR"

# --- tunnel up: traffic goes through the VPN, only WireGuard transport on the uplink
lab_capture_start || lab_abort "capture: $LAB_ERR"
if lab_tunnel_up; then pass t00_tunnel_up; else lab_abort "tunnel up: $LAB_ERR"; fi
code=$(lab_curl apps "http://$LAB_HOST_IP/")
check t00_tunnel_curl "curl through the tunnel got '$code'" [ "$code" = 200 ]
check t00_tunnel_ping "ping 203.0.113.10 through the tunnel failed" lab_ping apps "$LAB_HOST_IP"
r=$(lab_probe apps udp "$LAB_HOST_IP" "$LAB_ECHO_PORT" --count 3 --reply-timeout 2)
check t00_tunnel_udp "no UDP echo through the tunnel: $r" [ "$(lab_json_get "$r" replies)" -ge 1 ]
lab_server_sync || lab_abort "the internet host's stats did not catch up"
n=$(lab_server_count http vpn)
check t00_tunnel_server_view "server saw $n http request(s) from the VPN's address, expected >= 1" [ "$n" -ge 1 ]
ans=$(in_client apps dig +short +time=2 +tries=1 @"$LAB_TUN_SERVER_IP" lab.test A)
check t00_tunnel_dns "tunnel resolver answered '$ans'" [ "$ans" = "$LAB_MARK_TUN" ]
lab_capture_stop
wg=$(lab_wg_count)
check t00_only_wg_transport "$(lab_leak_count) non-WireGuard packet(s) with the tunnel up: $(lab_leaks | head -2 | tr '\n' '|')" \
	[ "$(lab_leak_count)" -eq 0 ]
check t00_wg_transport_seen "no WireGuard transport in the capture (wg=$wg)" [ "$wg" -gt 0 ]

# --- endpoint abuse is visible: an ordinary datagram to 198.51.100.2:51820 is not "transport"
lab_capture_start || lab_abort "capture: $LAB_ERR"
lab_probe apps udp "$LAB_VPN_IP" "$LAB_WG_PORT" --count 2 --payload not-wireguard >/dev/null
lab_capture_stop
n=$(lab_leak_count)
check t00_endpoint_abuse_visible "expected 2 leaks for 2 non-WireGuard datagrams to the endpoint, saw $n" [ "$n" -eq 2 ]

# --- bypass with the tunnel up: ping -I up0, curl --interface up0 leak (visible)
lab_capture_start || lab_abort "capture: $LAB_ERR"
lab_ping apps "$LAB_HOST_IP" -I up0
rp=$?
code=$(lab_curl apps "http://$LAB_HOST_IP/" --interface up0)
lab_capture_stop
check t00_bypass_works_without_agent "ping -I up0 rc=$rp, curl --interface up0 code=$code" [ "$rp" = 0 ] --and [ "$code" = 200 ]
leaks=$(lab_leaks)
check t00_bypass_visible "ping -I up0 / curl --interface up0 not seen as leaks: $leaks" \
	eval 'grep -q ICMP <<<"$leaks" && grep -q "\.80: Flags \[S\]" <<<"$leaks"'

# --- tunnel deleted: traffic falls back to the ISP, and the detector sees it
lab_capture_start || lab_abort "capture: $LAB_ERR"
lab_tunnel_down || lab_abort "tunnel down: $LAB_ERR"
before=$(lab_server_count http isp)
code=$(lab_curl apps "http://$LAB_HOST_IP/")
check t00_down_curl_via_isp "curl with the tunnel deleted got '$code' (expected 200 via the ISP)" [ "$code" = 200 ]
lab_ping apps "$LAB_HOST_IP"
check t00_down_ping_via_isp "ping with the tunnel deleted failed" [ $? = 0 ]
lab_server_sync || lab_abort "the internet host's stats did not catch up"
after=$(lab_server_count http isp)
check t00_down_server_view "server saw no request from the ISP's address ($before -> $after)" [ "$after" -gt "$before" ]
ans=$(in_client apps dig +short +time=2 +tries=1 lab.test A)
check t00_isp_dns "ISP resolver (from resolv.conf) answered '$ans'" [ "$ans" = "$LAB_MARK_ISP" ]
check t00_isp_dns_logged "ISP resolver logged no query" [ "$(lab_dns_queries isp)" -ge 1 ]
lab_capture_stop
n=$(lab_leak_count)
leaks=$(lab_leaks)
check t00_down_leak_visible "tunnel-down traffic not seen as leaks (n=$n)" \
	eval '[ "$n" -ge 3 ] && grep -q "> 203.0.113.10.80: Flags \[S\]" <<<"$leaks" && grep -q "10.213.0.1.53:" <<<"$leaks"'
note "tunnel-down leak sample: $(head -1 <<<"$leaks" | cut -c1-160)"

# --- LAN host, with --allow-lan the detector lets LAN traffic pass
lab_capture_start || lab_abort "capture: $LAB_ERR"
check t00_lan_ping "LAN host 10.213.0.5 does not answer ping" lab_ping apps "$LAB_LANHOST_IP"
code=$(lab_curl apps "http://$LAB_LANHOST_IP/")
check t00_lan_http "LAN host http got '$code'" [ "$code" = 200 ]
lab_capture_stop
n=$(lab_leak_count)
m=$(lab_leak_count --allow-lan)
check t00_lan_allow_filter "LAN traffic: strict leaks=$n (expect >0), --allow-lan leaks=$m (expect 0)" [ "$n" -gt 0 ] --and [ "$m" -eq 0 ]

# --- IPv6 via the ISP (the tunnel carries IPv4 only): visible
lab_capture_start || lab_abort "capture: $LAB_ERR"
code=$(lab_curl apps "http://[$LAB_HOST6_IP]/")
lab_capture_stop
check t00_ipv6_via_isp "curl to [2001:db8:203::10] got '$code'" [ "$code" = 200 ]
check t00_ipv6_visible "IPv6 leak not seen" eval 'lab_leaks | grep -q "2001:db8:203::10.80"'

# --- second uplink appears: captured too
lab_capture_start || lab_abort "capture: $LAB_ERR"
lab_second_uplink --no-ipv6 || lab_abort "second uplink: $LAB_ERR"
route=$(ip -n "$NS_CLIENT" route get "$LAB_HOST_IP")
check t00_uplink2_route "default route not via up1: $route" eval '[[ "$route" == *"dev up1"* ]]'
code=$(lab_curl apps "http://$LAB_HOST_IP/")
check t00_uplink2_curl "curl via the second uplink got '$code'" [ "$code" = 200 ]
lab_capture_stop
check t00_uplink2_visible "traffic on up1 not seen as leak on c1" eval 'lab_leaks | grep -q "^c1: .*203.0.113.10.80"'

# --- the tunnel comes back after all that; flap helper works
lab_capture_start || lab_abort "capture: $LAB_ERR"
check t00_flap "3 flaps: $LAB_ERR" lab_tunnel_flap 3 0.2
code=$(lab_curl apps "http://$LAB_HOST_IP/")
check t00_tunnel_again "curl after flaps got '$code'" [ "$code" = 200 ]
lab_capture_stop
check t00_flap_only_wg "leaks with the tunnel up after flaps: $(lab_leaks | head -2 | tr '\n' '|')" [ "$(lab_leak_count)" -eq 0 ]

# --- cgroup placement: in_client really puts the process in the named cgroup
cg=$(in_client apps cat /proc/self/cgroup | sed -n 's/^0:://p')
check t00_in_client_cgroup "in_client apps ran in '$cg'" [ "$cg" = "$LAB_CGREL_APPS" ]
cg=$(sed -n 's/^0:://p' "/proc/$LAB_WG_PID/cgroup")
check t00_vpn_client_cgroup "client wireguard-go runs in '$cg'" [ "$cg" = "$LAB_CGREL_VPN" ]

# --- the agent guard refuses the initial network namespace (with a stand-in binary)
fake=$LAB_STATE/fake-tunlock
printf '#!/bin/sh\ntouch %s/fake-ran\n' "$LAB_STATE" >"$fake"
chmod +x "$fake"
lab_write_policy "$LAB_STATE/policy.yaml"
out=$(sh -c "$LAB_GUARD_SH" lab-guard "$LAB_FORBIDDEN_NETNS" "$fake" 2>&1)
rc=$?
check t00_guard_refuses_here "guard in the harness netns: rc=$rc out=$out" eval '[ "$rc" = 99 ] && [ ! -e "$LAB_STATE/fake-ran" ]'
# shellcheck disable=SC2034 # TUNLOCK is lab_agent_start's
rc=$(TUNLOCK=$fake NS_CLIENT=does-not-exist-$LAB_ID; lab_agent_start "$LAB_STATE/policy.yaml" >/dev/null 2>&1; echo $?)
check t00_agent_start_refuses "lab_agent_start with no client netns: rc=$rc" eval '[ "$rc" != 0 ] && [ ! -e "$LAB_STATE/fake-ran" ]'
out=$(in_client agent sh -c "$LAB_GUARD_SH" lab-guard "$LAB_FORBIDDEN_NETNS" "$fake" 2>&1)
rc=$?
check t00_guard_allows_client "guard in the client netns: rc=$rc out=$out" eval '[ "$rc" = 0 ] && [ -e "$LAB_STATE/fake-ran" ]'

lab_done
