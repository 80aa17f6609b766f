/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Each socket's last allowed unconnected send, in the socket's own
 * storage: an application that sends to one destination again and again
 * (a game, a media stream, a DNS cache refreshing) is judged once per
 * generation, not once per datagram.
 *
 * The verdict is kept with everything the socket layer judged it on that
 * can change under the same socket: the destination (address, port,
 * protocol; IPv4 kept IPv4-mapped, as both hooks judge it), the
 * socket's source port, bound device and mark (SO_BINDTODEVICE, SO_MARK
 * after the verdict), the caller's cgroup (a socket passed to another
 * process by SCM_RIGHTS or fork is judged for the caller), and a tag of
 * the live slot and the verdicts generation, which the agent bumps after
 * every write of the policy or of runtime state (tunnels, interfaces,
 * containers). The socket's namespace cannot change. The tag is read
 * before anything the verdict is judged on (subject.h argues the same for
 * tl_subjects), so a verdict judged on any older state carries an older
 * tag. A DNS query is never kept (redirects record what they did).
 *
 * What the socket layer allows with a tunnel up still goes through the
 * packet layers, which judge the real route: the socket layer's allow
 * saves its own work, never theirs. When cgroup_skb refuses such a
 * datagram for where it was routed (a leak reason that no payload can
 * turn into an allow), it keeps that refusal under the same key, and the
 * socket layer refuses the next send at once (EPERM, counted and reported
 * as its own), before the kernel builds and routes a packet. A route can
 * change without any write the agent makes (ip route, ip rule): a kept
 * refusal is trusted for TL_KEPT_REFUSAL_NS only, then judged again. A
 * stale refusal only refuses; nothing kept here can let a datagram out
 * that the packet layers would not (they keep their own allows:
 * packet_kept.h).
 *
 * An entry is never written in place: a new one replaces it whole
 * (sock_verdict_set), so the send path reads it without a lock.
 */
#ifndef TL_BPF_SOCK_VERDICT_H
#define TL_BPF_SOCK_VERDICT_H

#include "policy.h"
#include "subject.h"

#define TL_VERDICT_KEY_WORDS (sizeof(struct tl_verdict_key) / sizeof(__u64))

/* How long a refusal of the packet layer stands without a new judgement. */
#define TL_KEPT_REFUSAL_NS (250ull * 1000 * 1000)

/* How often a current entry may give way to another destination's (a
 * socket that sends to many in turn pays a replacement this often). */
#define TL_KEPT_REPLACE_NS (10ull * 1000 * 1000)

/* What the socket's storage keeps for a key: a reason and its profile. */
struct tl_kept {
	__u32 reason;
	__u32 profile;
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct tl_sock_verdict);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_sock_verdicts SEC(".maps");

/*
 * The tag for a verdict judged from now on in slot: read before the
 * tables (a volatile load stays before the calls after it). -1 when the
 * generation cannot be read: nothing is kept then.
 */
static __always_inline int verdict_tag(__u32 slot, __u32 *tag)
{
	struct tl_generation *gen;
	__u32 zero = 0;

	gen = bpf_map_lookup_elem(&tl_generation, &zero);
	if (!gen)
		return -1;
	*tag = *(volatile __u32 *)&gen->verdicts * TL_POLICY_SLOTS +
	       (slot & (TL_POLICY_SLOTS - 1));
	return 0;
}

static __always_inline bool verdict_key_eq(const struct tl_verdict_key *a,
					   const struct tl_verdict_key *b)
{
	const __u64 *x = (const void *)a, *y = (const void *)b;
	__u64 diff = 0;
	__u32 i;

#pragma unroll
	for (i = 0; i < TL_VERDICT_KEY_WORDS; i++)
		diff |= x[i] ^ y[i];
	return !diff;
}

/*
 * What is kept for exactly key (out->reason TL_REASON_NONE when nothing
 * is, or a refusal has stood long enough).
 */
static __always_inline void sock_verdict_get(struct bpf_sock *sk,
					     const struct tl_verdict_key *key,
					     struct tl_kept *out)
{
	struct tl_sock_verdict *c;

	out->reason = TL_REASON_NONE;
	if (!sk)
		return;
	c = bpf_sk_storage_get(&tl_sock_verdicts, sk, NULL, 0);
	if (!c || !verdict_key_eq(&c->key, key))
		return;
	out->reason = c->reason;
	out->profile = c->profile;
	if (out->reason != TL_REASON_NONE && out->reason < TL_ALLOW_FIRST &&
	    bpf_ktime_get_coarse_ns() - c->at > TL_KEPT_REFUSAL_NS)
		out->reason = TL_REASON_NONE;
}

/*
 * Every kept entry (here and packet_kept.h) is replaced whole, never
 * written in place: a new one, made whole before the kernel links it, so
 * that a reader on another CPU sees the old one or the new one, never a
 * mix of two destinations. Whether the socket's entry (old, made at
 * old_at) stays rather than give way to one for key: a current entry for
 * another destination stays for TL_KEPT_REPLACE_NS; one for the same key
 * (a new verdict for it, as the packet layer's refusal of what the socket
 * layer allowed) or of an older tag gives way at once.
 */
static __always_inline bool kept_entry_stays(const struct tl_verdict_key *old,
					     __u64 old_at,
					     const struct tl_verdict_key *key,
					     __u64 now)
{
	return old->tag == key->tag && now - old_at < TL_KEPT_REPLACE_NS &&
	       !verdict_key_eq(old, key);
}

/* The socket's entry for key (kept_entry_stays). Another CPU's entry made
 * in between stays: judged again then. */
static __always_inline void sock_verdict_set(struct bpf_sock *sk,
					     const struct tl_verdict_key *key,
					     __u32 reason, __u32 profile)
{
	struct tl_sock_verdict fresh = {}, *c;
	__u64 now;

	if (!sk)
		return;
	now = bpf_ktime_get_coarse_ns();
	c = bpf_sk_storage_get(&tl_sock_verdicts, sk, NULL, 0);
	if (c) {
		if (kept_entry_stays(&c->key, c->at, key, now))
			return;
		bpf_sk_storage_delete(&tl_sock_verdicts, sk);
	}
	fresh.key = *key;
	fresh.reason = reason;
	fresh.profile = profile;
	fresh.at = now;
	bpf_sk_storage_get(&tl_sock_verdicts, sk, &fresh,
			   BPF_SK_STORAGE_GET_F_CREATE);
}

#endif
