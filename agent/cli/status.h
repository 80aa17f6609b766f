/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* `tunlock status`: what is enforced, read from the pinned objects alone. */
#ifndef TUNLOCK_STATUS_H
#define TUNLOCK_STATUS_H

#include <stdbool.h>
#include <stdio.h>

/* Returns 0 when enforcement is pinned, 1 when nothing is. */
int tl_status(const char *pin_dir, bool json, FILE *out);

/* A leak class and whether a layer that stops it by itself is missing
 * (not attached, or an interface without its TC filter). */
struct tl_class_gap {
	const char *leak; /* the event reason, e.g. "bypass" */
	bool gap;
	char why[512]; /* status's coverage text */
};

/* The classes status covers, from the pins alone: their count, or
 * -ENOENT when nothing is pinned (-EPROTO: another layout). */
int tl_status_gaps(const char *pin_dir, struct tl_class_gap *g, int max);

/* Probes what this kernel offers; TL_FEATURE_* bits. */
unsigned int tl_kernel_features(void);

#endif
