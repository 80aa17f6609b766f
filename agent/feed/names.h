/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The stable names of reasons, verdicts, layers and hooks (events, status). */
#ifndef TUNLOCK_NAMES_H
#define TUNLOCK_NAMES_H

#include <stdint.h>

const char *tl_reason_name(uint32_t reason);
const char *tl_verdict_name(uint32_t verdict);
const char *tl_layer_name(uint32_t layer);
const char *tl_hook_name(uint32_t hook);
const char *tl_protocol_name(uint32_t protocol); /* NULL when unnamed */
const char *tl_mode_name(uint32_t mode);

#endif
