// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Probe, not a layer: how cheap the VPN-transport fast path can be when it
 * makes no hash lookup and no helper call. The interface comes from an
 * array indexed by ifindex (inlined by the verifier), the live policy slot
 * from the two inlined array lookups, the headers are read in place, and
 * the endpoint is compared with a small inline table, as tl_settings could
 * carry it (here a global holding the bench policy's endpoint; a real one
 * would be filled by the agent per slot). Only untagged Ethernet, IPv4
 * without options and UDP: a real fast path adds IPv6 and VLAN compares and
 * falls through to the full program on any miss.
 *
 *   bench_tc -k "tc: VPN" --tc-obj build/probes/fastpath_floor.bpf.o
 *
 * It moves the same counter as tl_tc_egress, so the bench checks it.
 */
#include "../../bpf/parse.h"
#include "../../bpf/report.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Not pinned and left zero: every interface is a plain guarded uplink. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TL_MAX_IFACES);
	__type(key, __u32);
	__type(value, struct tl_iface);
} tl_ifaces_by_index SEC(".maps");

struct tl_fast_endpoint {
	__be32 addr[4]; /* IPv4-mapped, network order */
	__u16 port;	/* host order */
	__u8 protocol;
	__u8 pad;
	__u32 fwmark;
};

#define TL_FAST_ENDPOINTS 4
/* 198.51.100.2:51820/udp, fwmark 0xca6c: the bench policy's endpoint */
struct tl_fast_endpoint fast_endpoints[TL_FAST_ENDPOINTS] = {
	{ { 0, 0, 0xffff0000, 0x026433c6 }, 51820, IPPROTO_UDP, 0, 0xca6c },
};
__u32 fast_endpoint_count = 1;

SEC("tc")
int tl_tc_egress(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	__u32 ifindex = skb->ifindex, zero = 0, slot, mark = skb->mark;
	struct ethhdr *eth = data;
	struct tl_settings *cfg;
	struct tl_iface *iface;
	struct tl_state *st;
	struct udphdr *udp;
	struct iphdr *ip;

	if (ifindex >= TL_MAX_IFACES)
		return TC_ACT_SHOT;
	iface = bpf_map_lookup_elem(&tl_ifaces_by_index, &ifindex);
	if (!iface || (iface->flags & (TL_IFACE_TUNNEL | TL_IFACE_L3)))
		return TC_ACT_SHOT;
	st = bpf_map_lookup_elem(&tl_state, &zero);
	if (!st)
		return TC_ACT_SHOT;
	slot = st->active_slot & (TL_POLICY_SLOTS - 1);
	cfg = bpf_map_lookup_elem(&tl_settings, &slot);
	if (!cfg || !mark)
		return TC_ACT_SHOT;
	if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_SHOT;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end || ip->ihl != 5 ||
	    ip->protocol != IPPROTO_UDP || (ip->frag_off & bpf_htons(IP_OFFSET)))
		return TC_ACT_SHOT;
	udp = (void *)(ip + 1);
	if ((void *)(udp + 1) > end)
		return TC_ACT_SHOT;
	for (int i = 0; i < TL_FAST_ENDPOINTS; i++) {
		struct tl_fast_endpoint *e = &fast_endpoints[i];

		if (i >= fast_endpoint_count)
			break;
		if (e->fwmark == mark && e->addr[3] == ip->daddr &&
		    e->addr[2] == bpf_htonl(0x0000ffff) && !e->addr[0] &&
		    !e->addr[1] && e->port == bpf_ntohs(udp->dest) &&
		    e->protocol == IPPROTO_UDP) {
			count(TL_LAYER_TC, TL_ALLOW_TRANSPORT, TL_VERDICT_PASS);
			return TC_ACT_OK;
		}
	}
	return TC_ACT_SHOT;
}
