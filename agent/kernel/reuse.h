/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Reusing the pinned programs of the same build: verifying the programs is
 * most of a fresh start, and a restarted agent (or one started after
 * `apply`) of the same build would only load the same programs again.
 *
 * A fresh load pins every program (prog_NAME) and then a build record
 * (tl_build): the build id (a hash of the BPF objects, made at build time),
 * the layout version, the kernel choices the programs were loaded with,
 * each program's id and tag and each pinned map's id. The record is
 * frozen: no one can write it after the agent did, not even with CAP_BPF.
 * An agent of the same build adopts the pinned programs only when every
 * one is the program recorded (same id, type and tag) and every map pin
 * the map recorded; anything else is said and the objects are loaded
 * fresh, which replaces every program in place as an upgrade does.
 */
#ifndef TUNLOCK_REUSE_H
#define TUNLOCK_REUSE_H

#include "pins.h"

/* After a fresh load: keeps an fd of every loaded program in b->progs
 * (an error only when that fails), pins them, and records them with the
 * build (said when that fails: the next start loads afresh). */
int tl_reuse_record(struct tl_bpf *b);

/*
 * Before loading: adopts the pinned programs when their record is this
 * build's and every program and map checks. Returns 0 (adopted: b->progs
 * filled, b->reused set, the objects' maps use the pinned ones), or a
 * positive reason to load fresh after saying why; a negative errno only
 * for failures that loading fresh would meet too.
 */
int tl_reuse_adopt(struct tl_bpf *b);

/* The build id this agent was made with. */
const char *tl_build_id(void);

#endif
