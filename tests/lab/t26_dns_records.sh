#!/bin/bash
# t26: the records that undo a DNS redirect (what recvmsg shows as an answer's source) are each
# socket's own. The tunnel has two resolvers (100.100.0.1 and 100.100.0.3), dns: redirect.
# - flood: a socket sends a query to the ISP's resolver; then an unprivileged process sends
#   20,000 redirected queries, each from a new socket; only then does the first socket read its
#   answer: it still reads as coming from the ISP's resolver (the server it asked).
# - pair: one socket asks the ISP's resolver and the public resolver before it reads anything:
#   the two queries go to different tunnel resolvers, and each answer reads as its own server's.
# - then-direct: a socket whose query was redirected to 100.100.0.1 then asks 100.100.0.1
#   itself: that answer reads as 100.100.0.1's, not as the earlier server's.
# Every query reaches a tunnel resolver (the ISP's and the public resolver log nothing) and the
# capture on the uplink sees nothing.
. "$(dirname "$0")/lib.sh"
lab_init t26
lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
command -v setpriv >/dev/null || lab_abort "setpriv (util-linux) is missing"
lab_setup || lab_abort "lab setup: $LAB_ERR"
TUN2=100.100.0.3
_x ip -n "$NS_VPN" addr add "$TUN2/32" dev lo || lab_abort "second resolver address: $LAB_ERR"
_lab_dnsmasq tundns2 "$NS_VPN" "$LAB_MARK_TUN" "$LAB_MARK6_TUN" "$TUN2" || lab_abort "second tunnel resolver: $LAB_ERR"
lab_agent_up --dns redirect --resolvers "$LAB_TUN_SERVER_IP, $TUN2"
lab_tunnel_up || lab_abort "tunnel up: $LAB_ERR"
lab_capture_start || lab_abort "capture: $LAB_ERR"
REC=$LAB_LIB_DIR/dnsrecords.py
# got RESULT SERVER: the answer RESULT took as SERVER's (server addresses hold dots: no lab_json_get)
got() { "$LAB_PY" -c 'import json, sys; print(json.loads(sys.argv[1]).get("got", {}).get(sys.argv[2], ""))' "$1" "$2"; }
FLOOD=${LAB_DNS_FLOOD:-20000}
isp0=$(lab_dns_queries isp) pub0=$(lab_dns_queries pubdns) tun0=$(lab_dns_queries tundns) tun20=$(lab_dns_queries tundns2)

# --- flood: 20,000 other sockets' redirects do not touch a waiting socket's record
go=$LAB_STATE/t26-go
in_client apps taskset -c 0 "$LAB_PY" "$REC" hold "$LAB_ROUTER_IP" --until "$go" --timeout 60 >"$LAB_STATE/t26-hold.out" 2>&1 &
holder=$!
_lab_wait 10 grep -q '"stage": "sent"' "$LAB_STATE/t26-hold.out" || lab_abort "the waiting socket never sent its query: $(cat "$LAB_STATE/t26-hold.out")"
# both on one CPU: a shared LRU keeps what a CPU inserted on that CPU's list for a while
r=$(in_client apps taskset -c 0 setpriv --reuid=65534 --regid=65534 --clear-groups "$LAB_PY" "$REC" flood "$LAB_PUBDNS_IP" "$FLOOD")
check t26_flood_sent "unprivileged flood of $FLOOD redirected queries: $r" [ "$(lab_json_get "$r" ok)" = True ]
touch "$go"
wait "$holder"
r=$(tail -1 "$LAB_STATE/t26-hold.out")
check t26_flood_record_kept "the waiting socket's answer after the flood: $r (want it from $LAB_ROUTER_IP)" \
	[ "$(got "$r" "$LAB_ROUTER_IP")" = "$LAB_MARK_TUN" ]
check t26_flood_nothing_foreign "the waiting socket's answer read as another server's: $r" [ "$(lab_json_get "$r" ok)" = True ]

# --- pair: two servers at once from one socket
mark=$(lab_events_mark)
r=$(in_client apps "$LAB_PY" "$REC" pair "$LAB_ROUTER_IP" "$LAB_PUBDNS_IP")
check t26_pair_first "answer of $LAB_ROUTER_IP: $r" [ "$(got "$r" "$LAB_ROUTER_IP")" = "$LAB_MARK_TUN" ]
check t26_pair_second "answer of $LAB_PUBDNS_IP: $r" [ "$(got "$r" "$LAB_PUBDNS_IP")" = "$LAB_MARK_TUN" ]
check t26_pair_nothing_foreign "an answer read as the other server's: $r" [ "$(lab_json_get "$r" ok)" = True ]
expect_event t26_pair_event_second_resolver "$mark" reason=dns verdict=redirected hook=sendmsg4 \
	dst="$LAB_PUBDNS_IP" redirect_dst="$TUN2" comm=python3

# --- then-direct: a query to the tunnel resolver itself is that resolver's
r=$(in_client apps "$LAB_PY" "$REC" then-direct "$LAB_ROUTER_IP" "$LAB_TUN_SERVER_IP")
check t26_direct_after_redirect "asking $LAB_ROUTER_IP, then $LAB_TUN_SERVER_IP itself: $r" [ "$(lab_json_get "$r" ok)" = True ]

expect_dns_logged t26_isp_logged_nothing isp "$isp0" -eq 0
expect_dns_logged t26_public_logged_nothing pubdns "$pub0" -eq 0
expect_dns_logged t26_first_resolver_used tundns "$tun0" -ge 3
expect_dns_logged t26_second_resolver_used tundns2 "$tun20" -ge 1
expect_no_leaks t26_no_leaks
lab_done
