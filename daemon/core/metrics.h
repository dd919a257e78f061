/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Counters the daemon keeps and their Prometheus text exposition (GET /metrics). */
#pragma once

#include <stdint.h>

#include "ops.h"

/* Status classes counted per request; index by status / 100 - 1. */
typedef struct Metrics {
        uint64_t requests_total;
        uint64_t requests_by_class[5];   /* 1xx..5xx */
        uint64_t requests_rejected;      /* cut off: timeouts, too many connections */
        uint64_t reloads_total;
        uint64_t reload_failures_total;
        uint64_t tenant_exits_total;
        uint64_t knob_writes_total;         /* kernel knob writes that took (journal.c) */
        uint64_t knob_write_failures_total; /* kernel knob writes that failed */
        uint64_t knob_overrides_total;      /* knobs found changed by someone else */
        uint64_t maio_partial_allocations_total; /* hugepage reserve: the kernel kept fewer pages (pools.c) */
} Metrics;

/* Counts one finished request with its status. */
void metrics_count_request(Metrics *mt, unsigned status);

int metrics_op_get(Manager *m, const Request *req, Reply *reply);
