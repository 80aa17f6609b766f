/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Readiness for systemd (Type=notify) without libsystemd: one datagram of
 * "KEY=VALUE" lines to the AF_UNIX socket named by $NOTIFY_SOCKET (a path,
 * or "@name" for the abstract namespace), as sd_notify(3) documents.
 */
#ifndef TUNLOCK_NOTIFY_H
#define TUNLOCK_NOTIFY_H

/* Sends state (e.g. "READY=1\nSTATUS=enforcing"). Returns 0 when there is
 * no $NOTIFY_SOCKET, 1 when sent, a negative errno on failure. */
int tl_notify(const char *state);
/* "RELOADING=1" with the MONOTONIC_USEC that systemd 253+ wants. */
int tl_notify_reloading(void);

#endif
