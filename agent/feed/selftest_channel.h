/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * How a run of `tunlock selftest` reaches the running agent's feed: one
 * datagram on a unix socket that the agent binds in /run/tunlock (a
 * directory of root's), mode 0600, and accepts only from uid 0 as the
 * kernel vouches for the sender (SCM_CREDENTIALS). Nobody else can make
 * the feed say that a self-test passed (docs/operations.md, "Self-test").
 */
#ifndef TUNLOCK_SELFTEST_CHANNEL_H
#define TUNLOCK_SELFTEST_CHANNEL_H

#include <stddef.h>

#include "selftest.h"

#define TL_RUN_DIR "/run/tunlock"

/* The socket of the agent keeping pin_dir; 0 or -ENAMETOOLONG. */
int tl_selftest_sock_path(char *buf, size_t len, const char *pin_dir);
/* The agent's end: a non-blocking socket fd, or a negative errno. */
int tl_selftest_listen(const char *pin_dir);
/* The agent's end closed, its socket file removed. */
void tl_selftest_unlisten(int fd, const char *pin_dir);
/* One report from the socket: 1 got one, 0 nothing left, -EPERM a sender
 * that is not root, -EBADMSG not a report; other negative errnos. */
int tl_selftest_receive(int fd, struct tl_selftest_report *r);
/* The self-test's end: 0, -ENOENT no agent listens, or a negative errno. */
int tl_selftest_send(const char *pin_dir, const struct tl_selftest_report *r);

#endif
