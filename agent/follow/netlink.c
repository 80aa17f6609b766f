// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/net_namespace.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "netlink.h"

int tl_nl_open(struct tl_nl *nl, unsigned int groups, int rcvbuf)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = groups};
	struct timeval tv = {.tv_sec = TL_NL_TIMEOUT_S};
	int err;

	nl->seq = 0;
	nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (nl->fd < 0)
		return -errno;
	if (setsockopt(nl->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)))
		goto fail;
	/* a larger buffer only makes overruns rarer: ENOBUFS resyncs */
	if (rcvbuf && setsockopt(nl->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
				 sizeof(rcvbuf)))
		log_warn("rtnetlink receive buffer of %d bytes: %s", rcvbuf,
			 strerror(errno));
	if (bind(nl->fd, (struct sockaddr *)&sa, sizeof(sa)))
		goto fail;
	return 0;
fail:
	err = -errno;
	close(nl->fd);
	nl->fd = -1;
	return err;
}

void tl_nl_close(struct tl_nl *nl)
{
	if (nl->fd >= 0)
		close(nl->fd);
	nl->fd = -1;
}

static int request_dump(struct tl_nl *nl, int type)
{
	struct {
		struct nlmsghdr h;
		struct rtgenmsg g;
	} req = {
	    .h.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtgenmsg)),
	    .h.nlmsg_type = type,
	    .h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
	    .h.nlmsg_seq = ++nl->seq,
	    .g.rtgen_family = AF_UNSPEC,
	};

	return send(nl->fd, &req, req.h.nlmsg_len, 0) < 0 ? -errno : 0;
}

/* The end of our last request: 1, or its error. */
static int request_end(const struct nlmsghdr *h)
{
	const struct nlmsgerr *e = NLMSG_DATA(h);

	if (h->nlmsg_type == NLMSG_DONE)
		return 1;
	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
		return -EBADMSG;
	return e->error ? e->error : 1;
}

/* One datagram, or 0 bytes for one that did not come from the kernel: a
 * process with CAP_NET_ADMIN can unicast to our port id, and its forged
 * link or address news must not steer what the agent guards. */
static ssize_t recv_from_kernel(int fd, void *buf, size_t len, int flags)
{
	struct sockaddr_nl from;
	socklen_t flen = sizeof(from);
	ssize_t n;

	n = recvfrom(fd, buf, len, flags, (struct sockaddr *)&from, &flen);
	if (n < 0)
		return -errno;
	if (flen < sizeof(from) || from.nl_family != AF_NETLINK ||
	    from.nl_pid != 0) {
		log_warn("rtnetlink: dropped %zd bytes sent by port %u, not "
			 "by the kernel", n, flen < sizeof(from) ? 0 : from.nl_pid);
		return 0;
	}
	return n;
}

/* Reads one datagram and hands its messages to cb: 1 when it held the
 * end of our last request, 0 when not, else -errno. */
static int read_batch(struct tl_nl *nl, int flags, tl_nl_cb cb, void *ctx)
{
	char buf[TL_NL_BUF] __attribute__((aligned(4)));
	struct nlmsghdr *h;
	int done = 0, err;
	ssize_t n;

	n = recv_from_kernel(nl->fd, buf, sizeof(buf), flags);
	if (n < 0)
		return n;
	for (h = (void *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
		if ((h->nlmsg_type == NLMSG_DONE ||
		     h->nlmsg_type == NLMSG_ERROR) &&
		    nl->seq && h->nlmsg_seq == nl->seq) {
			done = request_end(h);
			continue;
		}
		if (h->nlmsg_type == NLMSG_ERROR || h->nlmsg_type == NLMSG_DONE)
			continue; /* of a request we gave up on */
		err = cb(ctx, h);
		if (err)
			log_warn("handling rtnetlink message %u: %s",
				 h->nlmsg_type, strerror(-err));
	}
	return done;
}

int tl_nl_dump(struct tl_nl *nl, int type, tl_nl_cb cb, void *ctx)
{
	int err = request_dump(nl, type);

	for (int batches = 0; !err && batches < TL_NL_MAX_BATCHES; batches++)
		err = read_batch(nl, 0, cb, ctx);
	if (err == 1)
		return 0;
	if (err == -EAGAIN || err == -EWOULDBLOCK)
		return -ETIMEDOUT; /* SO_RCVTIMEO */
	return err ? err : -ETIMEDOUT;
}

int tl_nl_read(struct tl_nl *nl, tl_nl_cb cb, void *ctx)
{
	int err = read_batch(nl, MSG_DONTWAIT, cb, ctx);

	if (err == -EWOULDBLOCK)
		return -EAGAIN;
	return err < 0 ? err : 0;
}

/* The attributes after a fixed header of hdrlen bytes; NULL if short. */
static struct rtattr *first_attr(const struct nlmsghdr *h, size_t hdrlen,
				 int *len)
{
	if (h->nlmsg_len < NLMSG_LENGTH(hdrlen))
		return NULL;
	*len = h->nlmsg_len - NLMSG_LENGTH(hdrlen);
	return (void *)((char *)NLMSG_DATA(h) + NLMSG_ALIGN(hdrlen));
}

static int attr_s32(const struct rtattr *a, int *out)
{
	if (RTA_PAYLOAD(a) < sizeof(__s32))
		return -EBADMSG;
	memcpy(out, RTA_DATA(a), sizeof(__s32));
	return 0;
}

/* A string attribute, cut to len and always terminated. */
static void attr_str(const struct rtattr *a, char *out, size_t len)
{
	size_t n = strnlen(RTA_DATA(a), RTA_PAYLOAD(a));

	snprintf(out, len, "%.*s", (int)n, (const char *)RTA_DATA(a));
}

static int nsid_request(struct tl_nl *nl, int ns_fd)
{
	struct {
		struct nlmsghdr h;
		struct rtgenmsg g;
		char pad[3];
		struct rtattr a;
		__u32 fd;
	} req = {
	    .h.nlmsg_len = sizeof(req),
	    .h.nlmsg_type = RTM_GETNSID,
	    .h.nlmsg_flags = NLM_F_REQUEST,
	    .h.nlmsg_seq = ++nl->seq,
	    .g.rtgen_family = AF_UNSPEC,
	    .a.rta_len = RTA_LENGTH(sizeof(__u32)),
	    .a.rta_type = NETNSA_FD,
	    .fd = ns_fd,
	};

	return send(nl->fd, &req, sizeof(req), 0) < 0 ? -errno : 0;
}

static int nsid_reply(const struct nlmsghdr *h)
{
	struct rtattr *a;
	int len, nsid;

	a = first_attr(h, sizeof(struct rtgenmsg), &len);
	for (; a && RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type == NETNSA_NSID && !attr_s32(a, &nsid))
			return nsid;
	return -1;
}

/* Only namespaces linked to ours (a veth's peer) have an id. */
int tl_nl_nsid(struct tl_nl *nl, int ns_fd)
{
	char buf[1024] __attribute__((aligned(4)));
	struct nlmsghdr *h;
	ssize_t n = 0;

	if (nsid_request(nl, ns_fd))
		return -1;
	/* an unsubscribed socket: the answer is the next datagram the
	 * kernel sends; a few forged ones before it are skipped */
	for (int tries = 0; n == 0 && tries < 8; tries++)
		n = recv_from_kernel(nl->fd, buf, sizeof(buf), 0);
	h = (void *)buf;
	if (n < 0 || !NLMSG_OK(h, n) || h->nlmsg_seq != nl->seq ||
	    h->nlmsg_type != RTM_NEWNSID)
		return -1;
	return nsid_reply(h);
}

static void link_info(struct rtattr *info, struct tl_nl_link *out)
{
	int len = RTA_PAYLOAD(info);
	struct rtattr *a;

	for (a = RTA_DATA(info); RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type == IFLA_INFO_KIND)
			attr_str(a, out->kind, sizeof(out->kind));
}

int tl_nl_parse_link(const struct nlmsghdr *h, struct tl_nl_link *out)
{
	const struct ifinfomsg *ifi = NLMSG_DATA(h);
	struct rtattr *a;
	int len, err = 0;

	memset(out, 0, sizeof(*out));
	out->link_nsid = -1;
	a = first_attr(h, sizeof(*ifi), &len);
	if (!a)
		return -EBADMSG;
	out->ifindex = ifi->ifi_index;
	out->family = ifi->ifi_family;
	out->type = ifi->ifi_type;
	out->flags = ifi->ifi_flags;
	for (; RTA_OK(a, len) && !err; a = RTA_NEXT(a, len)) {
		switch (a->rta_type) {
		case IFLA_IFNAME:
			attr_str(a, out->name, sizeof(out->name));
			break;
		case IFLA_MASTER:
			err = attr_s32(a, &out->master);
			break;
		case IFLA_LINK:
			err = attr_s32(a, &out->link);
			break;
		case IFLA_LINK_NETNSID:
			err = attr_s32(a, &out->link_nsid);
			break;
		case IFLA_LINKINFO:
			link_info(a, out);
			break;
		}
	}
	return err;
}

int tl_nl_parse_addr(const struct nlmsghdr *h, struct tl_nl_addr *out)
{
	const struct ifaddrmsg *ifa = NLMSG_DATA(h);
	size_t alen;
	struct rtattr *a;
	bool local = false;
	int len;

	memset(out, 0, sizeof(*out));
	a = first_attr(h, sizeof(*ifa), &len);
	if (!a)
		return -EBADMSG;
	out->ifindex = ifa->ifa_index;
	out->family = ifa->ifa_family;
	alen = ifa->ifa_family == AF_INET6 ? 16 : 4;
	for (; RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if ((a->rta_type != IFA_LOCAL && a->rta_type != IFA_ADDRESS) ||
		    (a->rta_type == IFA_ADDRESS && local))
			continue;
		if (RTA_PAYLOAD(a) < alen)
			return -EBADMSG;
		memcpy(out->addr, RTA_DATA(a), alen);
		local = a->rta_type == IFA_LOCAL;
	}
	return 0;
}
