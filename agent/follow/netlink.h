/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * rtnetlink, as links.c and containers.c use it: a socket (subscribed to
 * groups or not), dumps read to their end, non-blocking event reads, and
 * the link and address attributes the agent looks at.
 */
#ifndef TUNLOCK_NETLINK_H
#define TUNLOCK_NETLINK_H

#include <linux/netlink.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

/* One datagram: a dump's batch or a burst of events fits in it. */
#define TL_NL_BUF	  32768
/* A dump ends within this many datagrams, each waited for at most
 * TL_NL_TIMEOUT_S seconds. */
#define TL_NL_MAX_BATCHES 4096
#define TL_NL_TIMEOUT_S	  2
/* The kernel's IFLA_INFO_KIND names are short ("wireguard", "veth"). */
#define TL_NL_KIND_LEN	  16

struct tl_nl {
	int fd;
	uint32_t seq; /* of the last request */
};

/* What RTM_NEWLINK and RTM_DELLINK say of one interface. */
struct tl_nl_link {
	int ifindex;
	unsigned char family; /* AF_BRIDGE: a bridge's news about a port */
	unsigned short type;  /* ARPHRD_* */
	unsigned int flags;   /* IFF_* */
	char name[IF_NAMESIZE]; /* "" when the message has none */
	int master;	      /* IFLA_MASTER, or 0 */
	int link;	      /* IFLA_LINK (a veth's peer), or 0 */
	int link_nsid;	      /* IFLA_LINK_NETNSID, -1 when local */
	char kind[TL_NL_KIND_LEN]; /* IFLA_INFO_KIND, "" for hardware */
};

/* What RTM_NEWADDR and RTM_DELADDR say of one address. */
struct tl_nl_addr {
	int ifindex;
	unsigned char family;
	unsigned char addr[16]; /* IFA_LOCAL, else IFA_ADDRESS */
};

/* Called for each message but NLMSG_DONE and our requests' errors; an
 * error is logged by the caller of the read, which goes on. */
typedef int (*tl_nl_cb)(void *ctx, struct nlmsghdr *h);

/* groups: RTMGRP_* to subscribe to, 0 for requests only; rcvbuf: bytes,
 * 0 for the default. Every blocking read waits TL_NL_TIMEOUT_S at most. */
int tl_nl_open(struct tl_nl *nl, unsigned int groups, int rcvbuf);
void tl_nl_close(struct tl_nl *nl);
/* Requests a dump (RTM_GETLINK, RTM_GETADDR) and reads it to its end;
 * events read meanwhile go to cb as well. */
int tl_nl_dump(struct tl_nl *nl, int type, tl_nl_cb cb, void *ctx);
/* Reads one datagram if there is one (-EAGAIN if not, -ENOBUFS when the
 * kernel dropped messages: the caller dumps again). */
int tl_nl_read(struct tl_nl *nl, tl_nl_cb cb, void *ctx);
/* The id that nl's namespace gives the namespace ns_fd, or -1. */
int tl_nl_nsid(struct tl_nl *nl, int ns_fd);

int tl_nl_parse_link(const struct nlmsghdr *h, struct tl_nl_link *out);
int tl_nl_parse_addr(const struct nlmsghdr *h, struct tl_nl_addr *out);

#endif
