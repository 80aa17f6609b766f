// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Probe, not a layer: the floor of the VPN-transport fast path as the
 * real program shapes it (live slot from two inlined array lookups, the
 * slot's inline fwmark endpoint table), but with the headers read in
 * place without building a tl_flow. Only untagged Ethernet, IPv4 without
 * options and UDP. The difference to tl_tc_egress is what the generic
 * parse costs.
 *
 *   bench_tc -k "tc: VPN" --tc-obj build/probes/fastpath_floor.bpf.o --unchecked
 */
#include "../../bpf/report.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tc")
int tl_tc_egress(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	__u32 zero = 0, slot, mark = skb->mark;
	struct ethhdr *eth = data;
	struct tl_settings *cfg;
	struct tl_state *st;
	struct udphdr *udp;
	struct iphdr *ip;

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
	for (__u32 i = 0; i < TL_MAX_FAST_ENDPOINTS; i++) {
		struct tl_fast_endpoint *e = &cfg->fast[i];

		if (i >= cfg->nfast)
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
