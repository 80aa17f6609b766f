/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Network namespaces as the agent and the BPF side name them. */
#ifndef TUNLOCK_NETNS_H
#define TUNLOCK_NETNS_H

#include <stdint.h>

/* Inode of a path (a namespace file names its namespace so); 0 when not there. */
uint64_t tl_path_ino(const char *path);

/* The process's network namespace, as /proc/self/ns/net names it. */
uint64_t tl_netns_ino(void);

/* The calling thread's network namespace cookie, as bpf_get_netns_cookie()
 * gives it; 0 when the kernel has no SO_NETNS_COOKIE. */
uint64_t tl_netns_cookie(void);

#endif
