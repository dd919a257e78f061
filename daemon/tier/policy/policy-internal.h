/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What policy implementations share with policy.c: the vtable, the common
 * header every policy object starts with, and the JSON helpers. */
#pragma once

#include "policy.h"

typedef struct PolicyOps {
        const char *name;
        size_t size; /* of the implementation's struct, which starts with TierPolicy */
        bool learns;
        bool online;
        /* Checks params and allocates state. Returns 0, -EINVAL or -ENOMEM. */
        int (*init)(TierPolicy *p);
        /* greedy: exploit only and touch no randomness. */
        int (*choose)(TierPolicy *p, const TierContext *ctx, bool greedy, TierDecision *ret);
        /* NULL for policies that do not learn. action and reward are validated by the caller. */
        int (*update)(TierPolicy *p, const TierContext *ctx, unsigned action, double reward);
        /* Fill / read the "state" object. NULL when there is no state. */
        int (*save)(const TierPolicy *p, json_object *state);
        int (*load)(TierPolicy *p, json_object *state);
        /* Frees what init allocated; must cope with a half-initialised object. */
        void (*done)(TierPolicy *p);
} PolicyOps;

struct TierPolicy {
        const PolicyOps *ops;
        TierPolicyParams params;
        TierRng rng;
        uint64_t decisions, explored, updates;
};

extern const PolicyOps policy_indigo_ops;
extern const PolicyOps policy_linucb_ops;
extern const PolicyOps policy_heuristic_ops;
extern const PolicyOps policy_static_ops;
extern const PolicyOps policy_ewma_ops;
extern const PolicyOps policy_none_ops;
extern const PolicyOps policy_grid_ops;

/* A THRESHOLDS decision for grid action a (which must be in range). */
void policy_decision_from_action(const TierPolicy *p, unsigned a, bool explored, TierDecision *ret);

/* Adds v under key to o, consuming v (NULL counts as OOM). Returns 0 or -ENOMEM. */
int policy_json_add(json_object *o, const char *key, json_object *v);
/* Reads an array of exactly n finite numbers. Returns 0 or -EINVAL. */
/* The same for the array under key in object o. */
int policy_json_get_doubles(json_object *o, const char *key, double *out, size_t n);
