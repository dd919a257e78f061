/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The metrics registry: each module registers a writer for its own counters and gauges, and
 * GET /metrics renders them in registration order (Prometheus text format 0.0.4). Depends on
 * nobody: modules hold their counters, the registry only knows how to ask for them. */
#pragma once

#include <stdint.h>
#include <stdio.h>

#include "request.h"

/* Writes one module's metrics to f. Must not fail (a short write is the stream's concern). */
typedef void (*MetricsWriteFn)(void *userdata, FILE *f);

#define METRICS_WRITERS_MAX 16

typedef struct MetricsRegistry {
        struct {
                MetricsWriteFn write;
                void *userdata;
        } writers[METRICS_WRITERS_MAX];
        size_t n;
} MetricsRegistry;

/* Adds a writer after the ones registered before. Returns 0, or -ENOSPC when the registry is full. */
int metrics_register(MetricsRegistry *reg, MetricsWriteFn write, void *userdata);

/* "# HELP name help" and "# TYPE name type". */
void metrics_header(FILE *f, const char *name, const char *type, const char *help);
/* A header and one unlabelled sample. */
void metrics_u64(FILE *f, const char *name, const char *type, const char *help, uint64_t v);

/* GET /metrics; userdata is the MetricsRegistry. */
int metrics_op_get(void *userdata, const Request *req, Reply *reply);
