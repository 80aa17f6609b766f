/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The addresses of the tunnel interfaces, for TC ingress on the guarded
 * ones (bpf/inbound.h): what arrives outside a tunnel addressed to one of
 * them is dropped under the reason inbound.
 */
#ifndef TUNLOCK_INBOUND_H
#define TUNLOCK_INBOUND_H

#include <stddef.h>

struct tl_bpf;
struct tl_link;
struct tl_nl;

/*
 * Makes tl_inbound hold exactly the addresses (link-local ones aside) of
 * the links in v that are tunnels, from an RTM_GETADDR dump on query;
 * 0 or a negative errno.
 */
int tl_inbound_publish(struct tl_bpf *b, struct tl_nl *query,
		       const struct tl_link *v, size_t n);

#endif
