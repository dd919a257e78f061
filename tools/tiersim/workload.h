/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Built-in synthetic workloads of maio-tiersim (bfs, zipf, phases, scan),
 * generated as traces from a seed. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "trace.h"

#define WORKLOAD_DEFAULT_PAGES 16384
#define WORKLOAD_DEFAULT_EPOCHS 200

typedef struct WorkloadParams {
        size_t pages;  /* footprint, 4 KiB pages (64..TRACE_MAX_PAGES) */
        size_t epochs; /* 1..100000 */
} WorkloadParams;

/* NULL-terminated list of the generator names. */
const char *const *workload_names(void);

/* Generates workload name. Returns 0, -ENOENT (no such workload), -EINVAL (params out of range)
 * or -ENOMEM. */
int workload_generate(const char *name, const WorkloadParams *wp, uint64_t seed, Trace **ret);
