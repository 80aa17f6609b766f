/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Each socket's last allowed datagram or segment at each packet layer, in
 * the socket's own storage: a protected application that sends to one LAN
 * or allow-listed destination again and again (datagrams, or a TCP
 * stream) is judged there once per generation, not once per packet.
 *
 * Only what a profile's LAN or allow list allowed (decide_outside) is
 * kept, for a UDP datagram or TCP segment that is no IP fragment, of a
 * local UDP or TCP socket in the agent's namespace, leaving on a
 * non-tunnel interface. Everything that
 * comes before that allow in the verdict order (verdict.h: exempt, the
 * endpoints, DNS, the basics, discovery) is decided by what the key holds
 * (tl_verdict_key, include/tunlock.h: destination, ports, protocol, the
 * socket's cgroup, the mark the layer judged, the interface it leaves by,
 * the tag), except STUN, which is in the payload: every datagram and
 * segment is still looked at for it (a TCP stream's state moves on as it
 * would without the kept allow), and one that is or may be STUN is judged
 * whole.
 *
 * The tag is read before the tables the verdict is judged on, as the
 * socket layer's is, so a bump (every policy switch, every write of the
 * live cgroup table or of runtime state) leaves everything kept before it
 * stale. Each layer trusts only what it judged itself: TC judges after
 * routing, NAT and tc actions, on an interface of its own namespace.
 * Entries are replaced whole, never written in place (kept_entry_stays,
 * sock_verdict.h), so the packet path reads them without a lock.
 */
#ifndef TL_BPF_PACKET_KEPT_H
#define TL_BPF_PACKET_KEPT_H

#include "sock_verdict.h"
#include "stun.h"

/* One map per layer: each socket's entry there is never written in place
 * (read without a lock, replaced whole). */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct tl_kept_allow);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_kept_skb SEC(".maps"), tl_kept_tc SEC(".maps");

static __always_inline void *kept_map(__u32 layer)
{
	return layer == TL_KEPT_TC ? (void *)&tl_kept_tc : (void *)&tl_kept_skb;
}

/*
 * What packet_kept_get() tells the layer, in one word (the packet layers'
 * stack is at the limit Linux 6.1 allows): the reason kept, whether the
 * datagram's verdict may be kept, the layer, and the tag read before it.
 */
#define TL_KEPT_REASON(t)   ((__u32)(t)&0xff)
#define TL_KEPT_KEEPABLE    (1ull << 8)
#define TL_KEPT_LAYER(t)    ((__u32)((t) >> 16) & 0xff)
#define TL_KEPT_TAG(t)	    ((__u32)((t) >> 32))
#define TL_KEPT_ASK(slot, layer) ((__u64)(slot) | (__u64)(layer) << 16)
/* the ticket with the reason the layer judged, for packet_kept_set() */
#define TL_KEPT_JUDGED(t, reason) (((t) & ~0xffull) | ((reason)&0xff))

/* A UDP socket's datagram or a TCP socket's segment, whole (no IP
 * fragment), its ports parsed. */
static __always_inline struct bpf_sock *kept_socket(struct __sk_buff *skb,
						    const struct tl_flow *f)
{
	struct bpf_sock *sk = skb->sk;
	__u32 type;

	if (f->protocol == IPPROTO_UDP)
		type = SOCK_DGRAM;
	else if (f->protocol == IPPROTO_TCP)
		type = SOCK_STREAM;
	else
		return NULL;
	if (!sk || !f->has_ports || f->fragment || f->frag_first)
		return NULL;
	sk = bpf_sk_fullsock(sk);
	if (!sk || sk->type != type || sk->protocol != f->protocol)
		return NULL; /* not a raw socket's, whose headers are its own */
	return sk;
}

/* What is kept: the profile's LAN and allow list, nothing else. */
static __always_inline bool kept_reason(__u32 reason)
{
	return reason == TL_ALLOW_LAN || reason == TL_ALLOW_LISTED;
}

static __always_inline void kept_key(struct __sk_buff *skb,
				     const struct tl_flow *f, __u64 cgroup_id,
				     __u32 mark, __u32 tag,
				     struct tl_verdict_key *key)
{
	__builtin_memcpy(key->daddr, f->daddr.w, 16);
	key->cgroup_id = cgroup_id;
	key->mark = mark;
	key->bound = skb->ifindex;
	key->dport = f->dport;
	key->sport = f->sport;
	key->protocol = f->protocol;
	key->tag = tag;
}

/*
 * What the layer (ask: TL_KEPT_ASK of the live slot and the layer) kept
 * for exactly this datagram's key, and its tag, read first: a ticket for
 * packet_kept_set(). The datagram's sender is cgroup_id and mark, as the
 * layer judges it. STUN is the caller's to look for. A global function:
 * verified once.
 */
__noinline __u64 packet_kept_get(struct __sk_buff *skb,
				 const struct tl_flow *f, __u64 cgroup_id,
				 __u32 mark, __u64 ask)
{
	__u32 reason = TL_REASON_NONE, i = TL_KEPT_LAYER(ask), tag;
	struct tl_verdict_key key = {};
	struct tl_kept_allow *c;
	struct bpf_sock *sk;

	if (!skb || !f || i >= TL_KEPT_LAYERS || !cgroup_id)
		return 0;
	sk = kept_socket(skb, f);
	if (!sk || verdict_tag((__u32)ask & 0xffff, &tag))
		return 0;
	kept_key(skb, f, cgroup_id, mark, tag, &key);
	c = bpf_sk_storage_get(kept_map(i), sk, NULL, 0);
	if (c && verdict_key_eq(&c->key, &key))
		reason = c->reason;
	if (!kept_reason(reason))
		reason = TL_REASON_NONE;
	return (__u64)tag << 32 | (__u64)i << 16 | TL_KEPT_KEEPABLE | reason;
}

/*
 * After the layer judged a datagram whose ticket says keepable (ticket:
 * TL_KEPT_JUDGED with the reason): its LAN or allow-list allow kept under
 * the ticket's tag, in a new entry that replaces the socket's as the
 * socket layer's are (kept_entry_stays, sock_verdict.h).
 */
__noinline int packet_kept_set(struct __sk_buff *skb, const struct tl_flow *f,
			       __u64 cgroup_id, __u32 mark, __u64 ticket)
{
	__u32 i = TL_KEPT_LAYER(ticket), reason = TL_KEPT_REASON(ticket);
	struct tl_kept_allow fresh = {}, *c;
	struct bpf_sock *sk;
	__u64 now;

	if (!skb || !f || !(ticket & TL_KEPT_KEEPABLE) || !kept_reason(reason) ||
	    i >= TL_KEPT_LAYERS)
		return 0;
	sk = kept_socket(skb, f);
	if (!sk)
		return 0;
	now = bpf_ktime_get_coarse_ns();
	kept_key(skb, f, cgroup_id, mark, TL_KEPT_TAG(ticket), &fresh.key);
	c = bpf_sk_storage_get(kept_map(i), sk, NULL, 0);
	if (c) {
		if (kept_entry_stays(&c->key, c->at, &fresh.key, now))
			return 0;
		bpf_sk_storage_delete(kept_map(i), sk);
	}
	fresh.reason = reason;
	fresh.at = now;
	/* another CPU's entry made in between stays: judged again then */
	bpf_sk_storage_get(kept_map(i), sk, &fresh, BPF_SK_STORAGE_GET_F_CREATE);
	return 0;
}

/*
 * The layer's kept allow for this datagram when it is no STUN; otherwise
 * TL_REASON_NONE: the layer judges it, then packet_kept_set() with the
 * ticket.
 */
static __always_inline __u32 packet_kept(struct __sk_buff *skb,
					 const struct tl_flow *f,
					 __u64 ticket)
{
	__u32 reason = TL_KEPT_REASON(ticket);

	if (reason == TL_REASON_NONE || stun_verdict(skb, f) != TL_REASON_NONE)
		return TL_REASON_NONE;
	return reason;
}

#endif
