/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The VPN's endpoints: only the VPN client may reach them outside the
 * tunnel, and only with its transport. The slot's tl_endpoints is keyed by
 * address, port and protocol (and holds each address alone, for endpoint
 * abuse); the settings carry a small inline copy for the fast path.
 */
#ifndef TL_BPF_ENDPOINT_H
#define TL_BPF_ENDPOINT_H

#include "parse.h"
#include "subject.h"

/* Per slot: the endpoints by address, port and protocol. */
struct tl_endpoint_table {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TL_ENDPOINT_ENTRIES);
	__uint(key_size, sizeof(struct tl_endpoint_key));
	__uint(value_size, sizeof(struct tl_endpoint_value));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, TL_POLICY_SLOTS);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct tl_endpoint_table);
} tl_endpoints SEC(".maps");

static __always_inline struct tl_endpoint_value *
lookup_endpoint(struct tl_policy_view *v, const struct tl_flow *f)
{
	struct tl_endpoint_key key = {};

	if (!f->has_ports)
		return NULL;
	__builtin_memcpy(key.addr, f->daddr.b, 16);
	key.port = f->dport;
	key.protocol = f->protocol;
	return bpf_map_lookup_elem(v->endpoints, &key);
}

static __always_inline bool is_vpn_client(const struct tl_endpoint_value *ep,
					  const struct tl_subject *s)
{
	if (ep->fwmark && s->mark == ep->fwmark)
		return true;
	return ep->tunnel < 32 && (s->entry.client_of & (1u << ep->tunnel));
}

/*
 * VPN transport is judged before anything else: only the VPN client may
 * reach the endpoint outside the tunnel, whatever its profile allows, and
 * only with its transport; anything else to the endpoint's address is
 * endpoint abuse (its host route leads past the tunnel).
 */
static __always_inline __u32 decide_endpoint(struct tl_policy_view *v,
					     const struct tl_flow *f,
					     struct tl_subject *s)
{
	struct tl_endpoint_value *ep;
	struct tl_endpoint_key key = {};

	__builtin_memcpy(key.addr, f->daddr.b, 16);
	if (!bpf_map_lookup_elem(v->endpoints, &key))
		return TL_REASON_NONE;
	ep = lookup_endpoint(v, f);
	if (ep && is_vpn_client(ep, s))
		return TL_ALLOW_TRANSPORT;
	return TL_REASON_ENDPOINT;
}

/* An endpoint of the slot's inline table that the client's fwmark names. */
static __always_inline bool fast_endpoint_match(struct tl_settings *cfg,
						const __u32 daddr[4],
						__u16 dport, __u8 protocol,
						__u32 mark)
{
	__u32 i;

	for (i = 0; i < TL_MAX_FAST_ENDPOINTS; i++) {
		struct tl_fast_endpoint *e = &cfg->fast[i];

		if (i >= cfg->nfast)
			break;
		if (e->fwmark == mark && e->port == dport &&
		    e->protocol == protocol && e->addr[3] == daddr[3] &&
		    e->addr[2] == daddr[2] && e->addr[1] == daddr[1] &&
		    e->addr[0] == daddr[0])
			return true;
	}
	return false;
}

/*
 * The VPN's own transport, the heaviest traffic of a guarded interface:
 * judged from the headers in place, before any parse into a tl_flow or
 * any hash lookup. Plain IPv4 or IPv6 UDP only; anything else (tags,
 * options, extension headers, TCP transport) takes the full path, which
 * checks the same table.
 */
static __always_inline bool fast_transport(struct __sk_buff *skb, bool l3,
					   struct tl_settings *cfg, __u32 mark)
{
	void *data = skb_data(skb);
	void *end = skb_data_end(skb);
	__u32 off = l3 ? 0 : ETH_HLEN, daddr[4];
	__be16 proto = skb->protocol;
	struct udphdr *udp;

	if (!l3) {
		struct ethhdr *eth = data;

		if ((void *)(eth + 1) > end)
			return false;
		proto = eth->h_proto;
	}
	if (!l3 && proto == bpf_htons(ETH_P_PPP_SES)) { /* a DSL uplink */
		struct tl_pppoe_hdr *h = data + off;

		if ((void *)(h + 1) > end || h->ver_type != 0x11 || h->code)
			return false;
		off += sizeof(*h);
		if (h->ppp_proto == bpf_htons(TL_PPP_IP))
			proto = bpf_htons(ETH_P_IP);
		else if (h->ppp_proto == bpf_htons(TL_PPP_IPV6))
			proto = bpf_htons(ETH_P_IPV6);
		else
			return false;
	}
	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = data + off;

		/* a first fragment too: its verdict is kept for the rest */
		if ((void *)(ip + 1) > end || ip->ihl != 5 ||
		    ip->protocol != IPPROTO_UDP ||
		    (ip->frag_off & bpf_htons(IP_OFFSET | IP_MF)))
			return false;
		daddr[0] = daddr[1] = 0;
		daddr[2] = bpf_htonl(0x0000ffff);
		daddr[3] = ip->daddr;
		udp = (void *)(ip + 1);
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = data + off;

		if ((void *)(ip6 + 1) > end || ip6->nexthdr != IPPROTO_UDP)
			return false;
		__builtin_memcpy(daddr, &ip6->daddr, 16);
		udp = (void *)(ip6 + 1);
	} else {
		return false;
	}
	if ((void *)(udp + 1) > end)
		return false;
	return fast_endpoint_match(cfg, daddr, bpf_ntohs(udp->dest),
				   IPPROTO_UDP, mark);
}

#endif
