// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <netinet/in.h>
#include <stddef.h>

#include "tunlock.h"
#include "names.h"

#define NAME_OF(table, i)                                                      \
	((i) < sizeof(table) / sizeof(table[0]) && table[i] ? table[i] :      \
							       "unknown")

static const char *const reasons[TL_REASON_MAX] = {
	[TL_REASON_NONE] = "none",
	[TL_REASON_TUNNEL_DOWN] = "tunnel_down",
	[TL_REASON_BYPASS] = "bypass",
	[TL_REASON_DNS] = "dns",
	[TL_REASON_IPV6] = "ipv6",
	[TL_REASON_STUN] = "stun",
	[TL_REASON_RAW_SOCKET] = "raw_socket",
	[TL_REASON_ENDPOINT] = "endpoint",
	[TL_REASON_MALFORMED] = "malformed",
	[TL_REASON_DISCOVERY] = "discovery",
	[TL_REASON_INBOUND] = "inbound",
	[TL_ALLOW_TUNNEL] = "tunnel",
	[TL_ALLOW_TUNNEL_UP] = "tunnel_up",
	[TL_ALLOW_LOOPBACK] = "loopback",
	[TL_ALLOW_ALWAYS] = "network_basics",
	[TL_ALLOW_TRANSPORT] = "vpn_transport",
	[TL_ALLOW_LAN] = "lan",
	[TL_ALLOW_LISTED] = "allow_list",
	[TL_ALLOW_EXEMPT] = "exempt",
	[TL_ALLOW_UNPROTECTED] = "unprotected",
	[TL_ALLOW_NO_SOCKET] = "no_socket",
	[TL_ALLOW_DISCOVERY] = "discovery",
	[TL_ALLOW_VIA_HOST] = "via_host",
	[TL_ALLOW_CONTAINER] = "into_container",
	[TL_ALLOW_RAW] = "raw_allowed",
};

static const char *const verdicts[TL_VERDICT_MAX] = {
	[TL_VERDICT_PASS] = "pass",
	[TL_VERDICT_BLOCKED] = "blocked",
	[TL_VERDICT_REDIRECTED] = "redirected",
	[TL_VERDICT_AUDIT] = "audit",
};

static const char *const layers[TL_LAYER_MAX] = {
	[TL_LAYER_SOCKET] = "socket",
	[TL_LAYER_CGROUP_SKB] = "cgroup_skb",
	[TL_LAYER_TC] = "tc",
	[TL_LAYER_LSM] = "lsm",
};

static const char *const hooks[TL_HOOK_MAX] = {
	[TL_HOOK_CONNECT4] = "connect4",
	[TL_HOOK_CONNECT6] = "connect6",
	[TL_HOOK_SENDMSG4] = "sendmsg4",
	[TL_HOOK_SENDMSG6] = "sendmsg6",
	[TL_HOOK_CGROUP_SKB_EGRESS] = "cgroup_skb_egress",
	[TL_HOOK_TC_EGRESS] = "tc_egress",
	[TL_HOOK_SOCKET_CREATE] = "socket_create",
	[TL_HOOK_SOCK_CREATE] = "sock_create",
	[TL_HOOK_TC_INGRESS] = "tc_ingress",
};

static const char *const modes[] = {
	[TL_MODE_ENFORCE] = "enforce",
	[TL_MODE_AUDIT] = "audit",
};

const char *tl_reason_name(uint32_t reason)
{
	return NAME_OF(reasons, reason);
}

const char *tl_verdict_name(uint32_t verdict)
{
	return NAME_OF(verdicts, verdict);
}

const char *tl_layer_name(uint32_t layer)
{
	return NAME_OF(layers, layer);
}

const char *tl_hook_name(uint32_t hook)
{
	return NAME_OF(hooks, hook);
}

const char *tl_mode_name(uint32_t mode)
{
	return NAME_OF(modes, mode);
}

const char *tl_protocol_name(uint32_t protocol)
{
	switch (protocol) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_ICMP:
		return "icmp";
	case IPPROTO_ICMPV6:
		return "ipv6-icmp";
	}
	return NULL;
}
