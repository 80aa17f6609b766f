#!/bin/bash
# t05: tunnel flaps under load: a steady UDP sender (250 pkt/s) to 203.0.113.10 while the tunnel
# is torn down and rebuilt 20 times (odd flaps: wg0 deleted; even flaps: the VPN client is
# SIGKILLed and wg0 vanishes with it). Zero leaks, and each time traffic resumes through the
# tunnel (seen at the server as datagrams from the VPN's address).
. "$(dirname "$0")/lib.sh"
lab_init t05
FLAPS=${LAB_FLAPS:-20}
lab_have_agent || lab_abort "no tunlock binary at $TUNLOCK (build the agent first, or set TUNLOCK)"
lab_setup || lab_abort "lab setup: $LAB_ERR"
lab_agent_up
lab_tunnel_up || lab_abort "tunnel up: $LAB_ERR"
lab_capture_start || lab_abort "capture: $LAB_ERR"
lab_sender_start steady || lab_abort "sender did not start"
_lab_wait 10 lab_server_more sink vpn 0 || lab_abort "the sender's datagrams did not reach the sink through the tunnel"

resumed=0 why=
for ((i = 1; i <= FLAPS; i++)); do
	if ((i % 2)); then lab_tunnel_down; else lab_tunnel_down --crash; fi || { why="flap $i: tunnel down: $LAB_ERR"; break; }
	sleep 0.3
	before=$(lab_server_count sink vpn)
	lab_tunnel_up || { why="flap $i: tunnel did not come back: $LAB_ERR"; break; }
	if _lab_wait 3 eval '[ "$(lab_server_count sink vpn)" -gt "'"$before"'" ]'; then
		resumed=$((resumed + 1))
	else
		why="flap $i: the sender's traffic did not resume through the tunnel within 3 s"
		break
	fi
done
summary=$(lab_sender_stop steady)
check t05_traffic_resumes "$resumed/$FLAPS rebuilds carried the sender's traffic again; $why" [ "$resumed" -eq "$FLAPS" ]
att=$(lab_json_get "$summary" attempts); el=$(lab_json_get "$summary" elapsed)
rate=$("$LAB_PY" -c 'import sys; print(int(float(sys.argv[1]) / max(float(sys.argv[2]), 0.001)))' "${att:-0}" "${el:-0}")
check t05_sender_rate "the sender managed $rate pkt/s (want >= 200): $summary" [ "$rate" -ge 200 ]
note "sender: $summary"
expect_no_leaks t05_no_leaks
lab_server_sync || lab_abort "the internet host's stats did not catch up"
m=$(lab_server_count sink isp)
check t05_server_saw_nothing_via_isp "the sink got $m datagram(s) via the ISP" [ "$m" -eq 0 ]
lab_done
