/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef TUNLOCK_VERSION_H
#define TUNLOCK_VERSION_H

#define TL_VERSION "0.2.0"

#endif
