/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Raw and packet sockets: who may create them. The LSM layer asks for every
 * family where the kernel has BPF LSM; cgroup/sock_create, which runs for
 * AF_INET and AF_INET6 sockets only, asks for raw IP sockets everywhere.
 */
#ifndef TL_BPF_RAW_H
#define TL_BPF_RAW_H

#include "verdict.h"
#include "report.h"

#define SOCK_RAW 3

/*
 * Fails the creation (returns false) unless the cgroup is exempt or its
 * profile has `raw_sockets: allow`; in audit mode it reports and lets go.
 * f carries the family and protocol the event names.
 */
static __always_inline bool raw_socket_allowed(const struct tl_flow *f,
					       const struct tl_report *r)
{
	struct tl_policy_view v;
	struct tl_subject s = {};
	__u32 reason;

	s.cgroup_id = bpf_get_current_cgroup_id();
	if (policy_view(&v) || policy_tables(&v))
		return apply(NULL, f, &s, r, TL_REASON_RAW_SOCKET);
	resolve_subject(&v, &s);
	if (s.entry.flags & TL_CGROUP_EXEMPT)
		reason = TL_ALLOW_EXEMPT;
	else if (profile_flags(&v, s.entry.profile) & TL_PROFILE_RAW_ALLOW)
		reason = TL_ALLOW_RAW;
	else
		reason = TL_REASON_RAW_SOCKET;
	return apply(&v, f, &s, r, reason);
}

#endif
