/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Turning a reason into a verdict, counting it exactly (per CPU, per layer,
 * reason and verdict) and, for leaks, describing it on the ring buffer.
 */
#ifndef TL_BPF_REPORT_H
#define TL_BPF_REPORT_H

#include "subject.h"
#include "dns.h"
#include "sock_storage.h"
#include "ratelimit.h"

struct tl_report {
	__u8 layer;
	__u8 hook;
	__u32 ifindex;
	struct tl_sock_owner *owner; /* packet layers: who made the socket */
	/* socket layer: a DNS query's new destination */
	const struct tl_dns_target *redirect;
	/* TC: what a test run of `tunlock selftest` carries (tl_selftest) */
	__u64 selftest_token;
};

/* skb->cb[0..1]: a self-test's token, or whatever the stack left there,
 * which is no registered token (those are random and live for a run). */
static __always_inline __u64 selftest_token(struct __sk_buff *skb)
{
	return (__u64)skb->cb[0] << 32 | skb->cb[1];
}

/* Every decision, per CPU: layer, reason and verdict (TL_COUNTER_INDEX). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TL_COUNTERS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_counters SEC(".maps");

static __always_inline void count(__u32 layer, __u32 reason, __u32 verdict)
{
	__u32 idx = TL_COUNTER_INDEX(layer, reason, verdict);
	__u64 *c = bpf_map_lookup_elem(&tl_counters, &idx);

	if (c)
		*c += 1;
}

/* The cgroups of running self-tests, by id (include/tunlock.h). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TL_MAX_SELFTESTS);
	__type(key, __u64);
	__type(value, struct tl_selftest_probe);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_selftest SEC(".maps");

static __always_inline struct tl_selftest_probe *selftest_entry(__u64 key,
								 __u32 kind)
{
	struct tl_selftest_probe *p;

	if (!key)
		return NULL;
	p = bpf_map_lookup_elem(&tl_selftest, &key);
	if (!p || p->kind != kind || bpf_ktime_get_boot_ns() > p->until_ns)
		return NULL;
	return p;
}

/*
 * A leak verdict of a running self-test: its own cgroup (by id, never by
 * name), or a test run carrying its token. Counted for the self-test
 * alone; true when it was one.
 */
static __always_inline bool count_selftest(__u64 cgroup_id, __u64 token,
					   __u32 reason)
{
	struct tl_selftest_probe *p;

	if (reason >= TL_ALLOW_FIRST)
		return false;
	p = selftest_entry(cgroup_id, TL_SELFTEST_BY_CGROUP);
	if (!p)
		p = selftest_entry(token, TL_SELFTEST_BY_TOKEN);
	if (!p)
		return false;
	/* bounded again next to the access, in the register it uses: with
	 * the check above far away the compiler may spill reason, and 6.1's
	 * verifier loses the bound through the spill */
	asm volatile("" : "+r"(reason));
	if (reason >= TL_ALLOW_FIRST)
		return false;
	__sync_fetch_and_add(&p->verdicts[reason], 1);
	return true;
}

static __always_inline bool is_leak(__u32 reason)
{
	return reason != TL_REASON_NONE && reason < TL_ALLOW_FIRST;
}

/*
 * 1 in the objects whose programs run in the task that makes the call (the
 * socket and LSM layers): their events name it. The packet layers may not
 * ask for the current task (it is anyone's there): theirs name the
 * socket's owner. Per object, since report_leak() is checked once for any
 * caller of an object, and a helper its program type may not call is
 * refused even where no caller could reach it.
 */
#ifndef TL_REPORT_TASK
#define TL_REPORT_TASK 0
#endif

/* Leak events, for the agent to log and feed. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, TL_EVENTS_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_events SEC(".maps");

/*
 * A leak as report_leak() takes it: numbers only, since a global
 * function reads the memory it is given as numbers, never as pointers.
 */
struct tl_leak {
	__u64 cgroup_id;
	__u64 selftest_token;
	__u32 ifindex;
	__u32 slot; /* the policy slot in force; TL_POLICY_SLOTS: none */
	__u32 reason;
	__u16 profile;
	__u8 layer;
	__u8 hook;
	__u8 verdict;
	__u8 pad[7];
};

static __always_inline void emit(const struct tl_flow *f,
				 const struct tl_leak *l,
				 const struct tl_sock_owner *owner,
				 const struct tl_dns_target *redirect,
				 bool selftest)
{
	struct tl_event_limit def = TL_DEFAULT_LIMIT;
	struct tl_tunnel_summary *sum = NULL;
	struct tl_settings *settings = NULL;
	__u32 slot = l->slot, zero = 0;
	struct tl_event *e;

	if (slot < TL_POLICY_SLOTS) {
		settings = bpf_map_lookup_elem(&tl_settings, &slot);
		sum = bpf_map_lookup_elem(&tl_summary, &zero);
	}
	if (!event_allowed(settings ? &settings->events : &def, l->reason)) {
		event_stat(l->reason, TL_EVSTAT_SUPPRESSED);
		return;
	}
	e = bpf_ringbuf_reserve(&tl_events, sizeof(*e), 0);
	if (!e) {
		event_stat(l->reason, TL_EVSTAT_LOST); /* ring buffer full */
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->boot_ns = bpf_ktime_get_boot_ns();
	e->cgroup_id = l->cgroup_id;
	e->ifindex = l->ifindex;
	e->sport = f->sport;
	e->dport = f->dport;
	e->family = f->family;
	e->protocol = f->protocol;
	e->reason = l->reason;
	e->verdict = l->verdict;
	e->layer = l->layer;
	e->hook = l->hook;
	e->profile = l->profile;
	if (settings)
		e->generation = settings->generation;
	e->tunnel_up = sum && sum->up_count > 0;
	if (selftest)
		e->flags |= TL_EVENT_SELFTEST;
	__builtin_memcpy(e->saddr, f->saddr.b, 16);
	__builtin_memcpy(e->daddr, f->daddr.b, 16);
	if (redirect && redirect->found) {
		__builtin_memcpy(e->redirect_addr, redirect->addr.b, 16);
		e->redirect_port = redirect->port;
	}
	if (owner) {
		e->pid = owner->pid;
		__builtin_memcpy(e->comm, owner->comm, sizeof(e->comm));
	} else if (TL_REPORT_TASK) {
		e->pid = bpf_get_current_pid_tgid() >> 32;
		bpf_get_current_comm(e->comm, sizeof(e->comm));
	}
	bpf_ringbuf_submit(e, 0);
	event_stat(l->reason, TL_EVSTAT_EMITTED);
}

/*
 * Counts a leak verdict and describes it on the ring buffer; a
 * self-test's probe is counted apart and marked in its event. A global
 * function: the verifier checks it once, not again on every path of a
 * layer that ends in a leak (Debian 12's 6.1 ran out of its 1,000,000
 * instructions on cgroup_skb otherwise). owner: who made the socket
 * (packet layers; NULL: the task where there is one, TL_REPORT_TASK);
 * redirect: a DNS query's new destination, NULL when none.
 */
__noinline int report_leak(const struct tl_flow *f, const struct tl_leak *l,
			   const struct tl_sock_owner *owner,
			   const struct tl_dns_target *redirect)
{
	bool selftest;

	if (!f || !l)
		return 0;
	selftest = count_selftest(l->cgroup_id, l->selftest_token, l->reason);
	if (!selftest)
		count(l->layer, l->reason, l->verdict);
	emit(f, l, owner, redirect, selftest);
	return 0;
}

/* report_leak() of verdict, for a leak reason. */
static __always_inline void report(struct tl_policy_view *v,
				   const struct tl_flow *f,
				   const struct tl_subject *s,
				   const struct tl_report *r, __u32 reason,
				   __u32 verdict)
{
	struct tl_leak l = {
		.cgroup_id = s->cgroup_id,
		.selftest_token = r->selftest_token,
		.ifindex = r->ifindex,
		.slot = v ? v->slot : TL_POLICY_SLOTS,
		.reason = reason,
		.profile = s->entry.profile,
		.layer = r->layer,
		.hook = r->hook,
		.verdict = verdict,
	};

	report_leak(f, &l, r->owner, r->redirect);
}

/*
 * Counts the decision and reports leaks. Returns true when the caller must
 * let it through: an allow reason, or a leak in audit mode.
 */
static __always_inline bool apply(struct tl_policy_view *v,
				  const struct tl_flow *f,
				  const struct tl_subject *s,
				  const struct tl_report *r, __u32 reason)
{
	__u32 verdict;

	if (!is_leak(reason)) {
		count(r->layer, reason, TL_VERDICT_PASS);
		return true;
	}
	verdict = v && v->settings->mode == TL_MODE_AUDIT ? TL_VERDICT_AUDIT :
							     TL_VERDICT_BLOCKED;
	report(v, f, s, r, reason, verdict);
	return verdict == TL_VERDICT_AUDIT;
}

#endif
