// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The self-test's report, handed to the running agent (selftest_channel.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/types.h>

#include "selftest_channel.h"

#define WIRE_VERSION 1

/* A report on the wire: the classes in the order of their names. */
struct wire {
	__u32 version;
	__u32 n;
	__u64 time_ns;
	__u64 probe_verdicts;
	struct {
		__u32 result;
		char why[TL_SELFTEST_WHY];
	} c[TL_SELFTEST_CLASSES];
};

int tl_selftest_sock_path(char *buf, size_t len, const char *pin_dir)
{
	const char *base = strrchr(pin_dir, '/');
	struct sockaddr_un un;

	base = base && base[1] ? base + 1 : pin_dir;
	if (len > sizeof(un.sun_path))
		len = sizeof(un.sun_path);
	if (snprintf(buf, len, "%s/%s.selftest.sock", TL_RUN_DIR, base) >=
	    (int)len)
		return -ENAMETOOLONG;
	return 0;
}

static int sock_addr(const char *pin_dir, struct sockaddr_un *un)
{
	memset(un, 0, sizeof(*un));
	un->sun_family = AF_UNIX;
	return tl_selftest_sock_path(un->sun_path, sizeof(un->sun_path),
				     pin_dir);
}

/* /run/tunlock made if missing, and refused unless root's alone. */
static int run_dir(void)
{
	struct stat st;

	if (mkdir(TL_RUN_DIR, 0755) && errno != EEXIST)
		return -errno;
	if (lstat(TL_RUN_DIR, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022))
		return -EPERM;
	return 0;
}

int tl_selftest_listen(const char *pin_dir)
{
	struct sockaddr_un un;
	int fd, one = 1, err;

	err = sock_addr(pin_dir, &un);
	if (!err)
		err = run_dir();
	if (err)
		return err;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* a socket left by an agent that was killed: this one keeps the
	 * pins now (refuse_second_agent said so) */
	unlink(un.sun_path);
	if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) ||
	    fchmod(fd, 0600) ||
	    bind(fd, (struct sockaddr *)&un, sizeof(un)) ||
	    chmod(un.sun_path, 0600)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

void tl_selftest_unlisten(int fd, const char *pin_dir)
{
	struct sockaddr_un un;

	if (fd < 0)
		return;
	close(fd);
	if (!sock_addr(pin_dir, &un))
		unlink(un.sun_path);
}

static bool unpack(const struct wire *w, struct tl_selftest_report *r)
{
	if (w->version != WIRE_VERSION || w->n != TL_SELFTEST_CLASSES)
		return false;
	memset(r, 0, sizeof(*r));
	r->time_ns = w->time_ns;
	r->probe_verdicts = w->probe_verdicts;
	r->n = w->n;
	for (int i = 0; i < r->n; i++) {
		if (w->c[i].result > TL_SELFTEST_SKIP ||
		    !memchr(w->c[i].why, '\0', sizeof(w->c[i].why)))
			return false;
		r->c[i].name = tl_selftest_class_names[i];
		r->c[i].result = w->c[i].result;
		memcpy(r->c[i].why, w->c[i].why, sizeof(r->c[i].why));
	}
	return true;
}

/* The kernel's word on who sent it: uid 0, or nothing. */
static bool from_root(struct msghdr *m)
{
	struct cmsghdr *c;
	struct ucred cred;

	for (c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		if (c->cmsg_level != SOL_SOCKET ||
		    c->cmsg_type != SCM_CREDENTIALS)
			continue;
		memcpy(&cred, CMSG_DATA(c), sizeof(cred));
		return cred.uid == 0;
	}
	return false;
}

int tl_selftest_receive(int fd, struct tl_selftest_report *r)
{
	static struct wire w; /* 3 KiB: not on the agent's stack */
	char ctl[CMSG_SPACE(sizeof(struct ucred))];
	struct iovec iov = { .iov_base = &w, .iov_len = sizeof(w) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	ssize_t n = recvmsg(fd, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	if (!from_root(&m))
		return -EPERM;
	if (n != sizeof(w) || (m.msg_flags & MSG_TRUNC) || !unpack(&w, r))
		return -EBADMSG;
	return 1;
}

int tl_selftest_send(const char *pin_dir, const struct tl_selftest_report *r)
{
	struct sockaddr_un un;
	struct wire w = { .version = WIRE_VERSION, .n = r->n,
			  .time_ns = r->time_ns,
			  .probe_verdicts = r->probe_verdicts };
	int fd, err;

	err = sock_addr(pin_dir, &un);
	if (err)
		return err;
	if (r->n != TL_SELFTEST_CLASSES)
		return -EINVAL;
	for (int i = 0; i < r->n; i++) {
		w.c[i].result = r->c[i].result;
		snprintf(w.c[i].why, sizeof(w.c[i].why), "%s", r->c[i].why);
	}
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	err = sendto(fd, &w, sizeof(w), MSG_DONTWAIT, (struct sockaddr *)&un,
		     sizeof(un)) < 0 ? -errno : 0;
	close(fd);
	/* no agent: ENOENT (no socket) or ECONNREFUSED (one left) */
	return err == -ECONNREFUSED ? -ENOENT : err;
}
