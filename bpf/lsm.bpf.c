// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Process layer: BPF LSM socket_create, attached per cgroup (lsm_cgroup) at
 * the policy's attach_cgroup, so that it runs for protected processes only
 * and never for the rest of the machine. Raw IP, packet (AF_PACKET, and the
 * old SOCK_PACKET) and XDP sockets skip the socket hooks, and AF_PACKET
 * with PACKET_QDISC_BYPASS or AF_XDP skips TC too: their creation is denied
 * to protected cgroups whose profile does not allow them (a DHCP client
 * needs them: exempt it or give it `raw_sockets: allow`). Ping sockets
 * (SOCK_DGRAM, IPPROTO_ICMP) are not raw. Without this layer, the socket
 * layer's cgroup/sock_create still refuses raw IP sockets (not AF_PACKET or
 * AF_XDP, for which that hook does not run).
 */
/* no program of the tracing family may call bpf_ktime_get_coarse_ns */
#define TL_RATE_CLOCK bpf_ktime_get_ns
/* socket_create runs in the task that makes the socket */
#define TL_REPORT_TASK 1
#include "raw.h"
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define AF_PACKET   17
#define AF_XDP	    44
#define SOCK_PACKET 10

static __always_inline bool raw_family(int family, int type)
{
	if (family == AF_PACKET || family == AF_XDP)
		return true;
	return (family == AF_INET || family == AF_INET6) &&
	       (type == SOCK_RAW || type == SOCK_PACKET);
}

/* lsm_cgroup: 1 lets the call go on, 0 fails it with EPERM. */
SEC("lsm_cgroup/socket_create")
int BPF_PROG(tl_socket_create, int family, int type, int protocol, int kern)
{
	struct tl_report r = {
	    .layer = TL_LAYER_LSM,
	    .hook = TL_HOOK_SOCKET_CREATE,
	};
	struct tl_flow f = {};

	if (kern || !raw_family(family, type))
		return 1;
	if (family == AF_INET || family == AF_INET6)
		f.family = family;
	f.protocol = protocol;
	return raw_socket_allowed(&f, &r);
}
