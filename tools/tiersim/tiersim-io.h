/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* maio-tiersim's output (table or JSON) and model files. These print their
 * own errors to stderr: they are the tool's deciding callers. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"
#include "sim.h"

typedef struct TiersimReport {
        const char *workload; /* or NULL */
        const char *trace;    /* or NULL */
        const TierPolicy *policy;
        uint64_t seed;
        double local_fraction, contention;
        size_t pages, epochs, capacity;
        double all_local_s;
        SimTrainOpts opts;
        SimResult result;
        SimTraining training;
} TiersimReport;

/* Prints the report to stdout. Returns 0, or -EIO / -ENOMEM after printing why. */
int tiersim_print(const TiersimReport *rep, bool json);

/* Reads a model file written by tiersim_model_save. Returns 0 or -errno after printing why. */
int tiersim_model_load(const char *path, TierPolicy **ret);
/* Writes the policy's model as JSON (atomically: temp file + rename). Returns 0 or -errno after
 * printing why. */
int tiersim_model_save(const TierPolicy *p, const char *path);
