// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Socket layer: connect and unconnected sends of protected processes.
 * Fails a call at once (EPERM) when it could only leave outside the
 * tunnel, redirects DNS queries to the tunnel's resolver (and undoes that
 * in what recvmsg and getpeername show), refuses raw IP sockets to profiles
 * that do not allow them, and records who created each socket so that the
 * packet layers can name the process in their events.
 */
/* every program here runs in the task that makes the call */
#define TL_REPORT_TASK 1
#include "verdict.h"
#include "report.h"
#include "dns_records.h"
#include "raw.h"
#include "sock_verdict.h"
#include "packet_kept.h" /* its maps made here, as all that objects share */
#include "sock_netns.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __always_inline void flow_from_sock_addr(struct bpf_sock_addr *ctx,
						struct tl_flow *f, bool v6)
{
	struct bpf_sock *sk = ctx->sk;

	f->protocol = ctx->protocol;
	f->dport = bpf_ntohs(ctx->user_port);
	f->has_ports = f->protocol == IPPROTO_TCP || f->protocol == IPPROTO_UDP;
	if (v6) {
		f->daddr.w[0] = ctx->user_ip6[0];
		f->daddr.w[1] = ctx->user_ip6[1];
		f->daddr.w[2] = ctx->user_ip6[2];
		f->daddr.w[3] = ctx->user_ip6[3];
		/* ::ffff:a.b.c.d is IPv4 on the wire */
		f->family = addr_is_v4(&f->daddr) ? AF_INET : AF_INET6;
	} else {
		addr_set_v4(&f->daddr, ctx->user_ip4);
		f->family = AF_INET;
	}
	if (!sk)
		return;
	f->sport = sk->src_port;
	if (v6) {
		f->saddr.w[0] = sk->src_ip6[0];
		f->saddr.w[1] = sk->src_ip6[1];
		f->saddr.w[2] = sk->src_ip6[2];
		f->saddr.w[3] = sk->src_ip6[3];
	} else {
		addr_set_v4(&f->saddr, sk->src_ip4);
	}
}

/*
 * IPv6 with nowhere to go fails with ENETUNREACH, as if there were no
 * route, so that Happy Eyeballs falls back to IPv4 at once. Kernels
 * without bpf_set_retval give EPERM (status says which).
 */
static __always_inline void refuse_unreachable(void)
{
	if (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_set_retval))
		bpf_set_retval(-ENETUNREACH);
}

static __always_inline void addr_from_ctx(struct bpf_sock_addr *ctx, bool v6,
					  union tl_addr *a)
{
	if (v6) {
		a->w[0] = ctx->user_ip6[0];
		a->w[1] = ctx->user_ip6[1];
		a->w[2] = ctx->user_ip6[2];
		a->w[3] = ctx->user_ip6[3];
	} else {
		addr_set_v4(a, ctx->user_ip4);
	}
}

/* A v6 hook writes IPv4 IPv4-mapped: a connect6 to ::ffff:a.b.c.d stays so. */
static __always_inline void addr_to_ctx(struct bpf_sock_addr *ctx, bool v6,
					const union tl_addr *a, __u16 port)
{
	if (v6) {
		ctx->user_ip6[0] = a->w[0];
		ctx->user_ip6[1] = a->w[1];
		ctx->user_ip6[2] = a->w[2];
		ctx->user_ip6[3] = a->w[3];
	} else {
		ctx->user_ip4 = a->w[3];
	}
	ctx->user_port = bpf_htons(port);
}

/*
 * Sends the query to a tunnel resolver instead, and records what the
 * application asked for (dns_records.h): resolvers (dnsmasq, clients of
 * unconnected sockets) drop an answer whose source is not the server they
 * asked, so recvmsg puts it back. Without the record the answer is dropped
 * and the query fails: nothing leaks.
 */
static __always_inline int redirect_dns(struct bpf_sock_addr *ctx, bool v6,
					struct tl_policy_view *v,
					const struct tl_flow *f,
					const struct tl_subject *s,
					const struct tl_report *r,
					struct tl_dns_target *t)
{
	tl_dns_record(ctx, v->settings, f, t);
	addr_to_ctx(ctx, v6, &t->addr, t->port);
	report(v, f, s, r, TL_REASON_DNS, TL_VERDICT_REDIRECTED);
	return 1;
}

/* redirects only ever go to these: the rest need no record */
static __always_inline bool dns_redirect_port(__u16 port)
{
	return port == 53 || port == 853;
}

/*
 * A query the application itself sends to a tunnel resolver drops that
 * resolver's record. Not for a connected socket's send: the kernel runs
 * sendmsg4 with the peer (the resolver a connect was redirected to) for an
 * IPv6 socket connected to an IPv4-mapped address.
 */
static __always_inline void forget_dns(struct bpf_sock_addr *ctx,
				       const struct tl_flow *f, __u8 hook)
{
	bool connect = hook == TL_HOOK_CONNECT4 || hook == TL_HOOK_CONNECT6;

	if (!dns_redirect_port(f->dport) ||
	    (!connect && ctx->sk && ctx->sk->state == BPF_TCP_ESTABLISHED))
		return;
	tl_dns_forget(ctx, f);
}

/* What an unconnected send is judged on (sock_verdict.h). */
static __always_inline void verdict_key_fill(struct tl_verdict_key *k,
					     const struct tl_flow *f,
					     const struct tl_subject *s,
					     __u32 bound)
{
	__builtin_memcpy(k->daddr, f->daddr.w, 16);
	k->cgroup_id = s->cgroup_id;
	k->mark = s->mark;
	k->bound = bound;
	k->dport = f->dport;
	k->sport = f->sport;
	k->protocol = f->protocol;
}

/*
 * An unconnected send's allow kept in its socket's storage (sock_verdict.h).
 * A global function: the entry it builds is not on the hooks' own stack.
 */
__noinline int keep_send_verdict(struct bpf_sock_addr *ctx,
				 const struct tl_verdict_key *key,
				 __u32 reason, __u32 profile)
{
	if (!ctx || !key)
		return 0;
	sock_verdict_set(ctx->sk, key, reason, profile);
	return 0;
}

static __always_inline int judge_sock_addr(struct bpf_sock_addr *ctx,
					   bool v6, __u8 hook)
{
	struct tl_dns_target dns = {};
	struct tl_report r = {
		.layer = TL_LAYER_SOCKET,
		.hook = hook,
		.redirect = &dns,
	};
	struct tl_verdict_key key = {};
	struct tl_kept kept = {};
	struct tl_policy_view v;
	struct tl_subject s = {};
	struct tl_flow f = {};
	struct bpf_sock *sk;
	__u32 bound = 0, reason;
	bool keep = false;

	flow_from_sock_addr(ctx, &f, v6);
	s.cgroup_id = bpf_get_current_cgroup_id();
	sk = ctx->sk;
	if (sk) {
		bound = sk->bound_dev_if;
		s.mark = sk->mark;
	}
	r.ifindex = bound;
	if (policy_view(&v))
		goto no_policy;
	/* an unconnected send: the socket's last verdict, when it is for
	 * exactly this; connect runs once per connection */
	if (sk && (hook == TL_HOOK_SENDMSG4 || hook == TL_HOOK_SENDMSG6) &&
	    !verdict_tag(v.slot, &key.tag)) {
		verdict_key_fill(&key, &f, &s, bound);
		/* a DNS query is never kept, so none matches: the tag changes
		 * with the settings that say which ports are DNS */
		sock_verdict_get(sk, &key, &kept);
		if (kept.reason >= TL_ALLOW_FIRST) {
			count(r.layer, kept.reason, TL_VERDICT_PASS);
			forget_dns(ctx, &f, hook);
			return 1;
		}
		keep = kept.reason == TL_REASON_NONE &&
		       !flow_is_dns(v.settings, &f);
	}
	/* not before: a kept verdict does not need it */
	s.netns_cookie = bpf_get_netns_cookie(ctx);
	if (policy_tables(&v))
		goto no_policy;
	if (kept.reason != TL_REASON_NONE) {
		/* the packet layer's refusal, for where it was routed */
		s.entry.profile = kept.profile;
		reason = kept.reason;
		goto judged;
	}
	resolve_subject(&v, &s);
	reason = decide_socket(&v, &f, &s, bound, &dns);
	/* audit mode reports where it would have gone, and changes nothing */
	if (dns.found && v.settings->mode == TL_MODE_ENFORCE)
		return redirect_dns(ctx, v6, &v, &f, &s, &r, &dns);
judged:
	if (apply(&v, &f, &s, &r, reason)) {
		if (keep && !is_leak(reason))
			keep_send_verdict(ctx, &key, reason, s.entry.profile);
		forget_dns(ctx, &f, hook);
		return 1;
	}
	if (reason == TL_REASON_IPV6)
		refuse_unreachable();
	return 0;
no_policy:
	/* No policy in force: only loopback, fail closed. */
	reason = addr_is_loopback(&f.daddr) ? TL_ALLOW_LOOPBACK :
					      TL_REASON_TUNNEL_DOWN;
	return apply(NULL, &f, &s, &r, reason);
}

/*
 * The answer of a redirected query (recvmsg), or the peer of a redirected
 * connect (getpeername), shown as the server the application asked. The
 * kernel runs recvmsg6 for IPv4 datagrams on an IPv6 socket, with the
 * source IPv4-mapped: the record is keyed the same way.
 */
static __always_inline int restore_dns(struct bpf_sock_addr *ctx, bool v6)
{
	struct tl_dns_records *rs;
	struct tl_dns_record *d;
	union tl_addr a;
	__u16 port = bpf_ntohs(ctx->user_port);

	if (!dns_redirect_port(port))
		return 1;
	rs = dns_records(ctx, false);
	if (!rs)
		return 1;
	addr_from_ctx(ctx, v6, &a);
	d = find_dns_record(rs, &a, port);
	if (!d)
		return 1;
	__builtin_memcpy(a.w, d->asked, 16);
	addr_to_ctx(ctx, v6, &a, d->asked_port);
	return 1;
}

SEC("cgroup/connect4")
int tl_connect4(struct bpf_sock_addr *ctx)
{
	return judge_sock_addr(ctx, false, TL_HOOK_CONNECT4);
}

SEC("cgroup/connect6")
int tl_connect6(struct bpf_sock_addr *ctx)
{
	return judge_sock_addr(ctx, true, TL_HOOK_CONNECT6);
}

SEC("cgroup/sendmsg4")
int tl_sendmsg4(struct bpf_sock_addr *ctx)
{
	return judge_sock_addr(ctx, false, TL_HOOK_SENDMSG4);
}

SEC("cgroup/sendmsg6")
int tl_sendmsg6(struct bpf_sock_addr *ctx)
{
	return judge_sock_addr(ctx, true, TL_HOOK_SENDMSG6);
}

SEC("cgroup/recvmsg4")
int tl_recvmsg4(struct bpf_sock_addr *ctx)
{
	return restore_dns(ctx, false);
}

SEC("cgroup/recvmsg6")
int tl_recvmsg6(struct bpf_sock_addr *ctx)
{
	return restore_dns(ctx, true);
}

SEC("cgroup/getpeername4")
int tl_getpeername4(struct bpf_sock_addr *ctx)
{
	return restore_dns(ctx, false);
}

SEC("cgroup/getpeername6")
int tl_getpeername6(struct bpf_sock_addr *ctx)
{
	return restore_dns(ctx, true);
}

/*
 * Raw IP sockets (SOCK_RAW, AF_INET and AF_INET6) skip the socket hooks:
 * their creation fails with EPERM unless the profile allows them. This
 * hook runs for inet sockets only (AF_PACKET and AF_XDP are the LSM
 * layer's), and where the LSM layer is attached it has refused them first.
 * Ping sockets (SOCK_DGRAM, IPPROTO_ICMP) are not raw. Then attribution for
 * the packet layers, which run where current is unknown.
 */
SEC("cgroup/sock_create")
int tl_sock_create(struct bpf_sock *sk)
{
	struct tl_report r = {
		.layer = TL_LAYER_SOCKET,
		.hook = TL_HOOK_SOCK_CREATE,
	};
	struct tl_sock_owner *owner;
	struct tl_flow f = {};

	if (sk->type == SOCK_RAW) {
		f.family = sk->family;
		f.protocol = sk->protocol;
		if (!raw_socket_allowed(&f, &r))
			return 0;
	}
	sock_netns_record(sk);
	owner = bpf_sk_storage_get(&tl_sock_owners, sk, NULL,
				   BPF_SK_STORAGE_GET_F_CREATE);
	if (!owner)
		return 1; /* attribution only; never refuse a socket for it */
	owner->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(owner->comm, sizeof(owner->comm));
	return 1;
}
