/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* maio-tiersim's output (table or JSON) and model files. These print their
 * own errors to stderr: they are the tool's deciding callers. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

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

/* Command-line values, shared by the single- and multi-tenant modes: a number in [min, max]; an
 * unsigned integer (decimal, or 0x hexadecimal) in [min, max]. Return 0 or -EINVAL. */
int tiersim_parse_double(const char *s, double min, double max, double *ret);
int tiersim_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret);
/* Prints "maio-tiersim: invalid value for OPT: 'VALUE'"; returns -EINVAL. */
int tiersim_usage_error(const char *opt, const char *value);

/* JSON output: a double with 9 significant digits (reports need no more and stay readable); adding
 * v (taken, NULL: out of memory) under key. */
json_object *tiersim_json_double(double v);
int tiersim_json_add(json_object *o, const char *key, json_object *v);
