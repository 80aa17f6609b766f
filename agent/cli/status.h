/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* `tunlock status`: what is enforced, read from the pinned objects alone. */
#ifndef TUNLOCK_STATUS_H
#define TUNLOCK_STATUS_H

#include <stdbool.h>
#include <stdio.h>

/* Returns 0 when enforcement is pinned, 1 when nothing is. */
int tl_status(const char *pin_dir, bool json, FILE *out);

/* Probes what this kernel offers; TL_FEATURE_* bits. */
unsigned int tl_kernel_features(void);

#endif
