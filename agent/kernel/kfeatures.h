/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* What this kernel offers, probed at run time (kfeatures.c). */
#ifndef TUNLOCK_KFEATURES_H
#define TUNLOCK_KFEATURES_H

#include <stdbool.h>

/* BPF LSM is among the kernel's active LSMs (/sys/kernel/security/lsm). */
bool tl_kernel_has_bpf_lsm(void);
/* The kfuncs with which TC egress proves where a packet was routed. */
bool tl_kernel_has_route_proof(void);
/* cgroup_skb programs may call bpf_get_netns_cookie */
bool tl_kernel_has_skb_netns(void);

#endif
