/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tiering policies behind one vtable, selected by name: the learning bandits
 * (indigo, linucb), the no-training network-adaptive heuristic, and the fixed
 * baselines (static, ewma, none, grid). Pure: no I/O, seeded, serialisable. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "cleanup.h"
#include "tier.h"

/* How pages are judged hot under a decision. */
typedef enum TierRuleKind {
        TIER_RULE_NEVER,      /* promote nothing */
        TIER_RULE_THRESHOLDS, /* access rate >= rate_threshold and burst >= burst_threshold */
        TIER_RULE_COUNTER,    /* cooled sample count >= hot_samples (HeMem-style) */
        _TIER_RULE_KIND_MAX,
} TierRuleKind;

typedef struct TierDecision {
        TierRuleKind rule;
        int action;             /* grid index, -1 when the thresholds are not a grid action */
        double rate_threshold;  /* accesses/s (THRESHOLDS) */
        double burst_threshold; /* s (THRESHOLDS) */
        double hot_samples;     /* COUNTER: hot at this cooled count */
        double cool_samples;    /* COUNTER: all counts halve when one reaches this */
        double rate_limit_Bps;  /* promotion bandwidth cap, 0 = none */
        bool explored;          /* an exploratory (not greedy) choice */
} TierDecision;

typedef struct TierPolicyParams {
        uint64_t seed;
        TierGrid grid;
        /* indigo: Q-network with gamma = 0 */
        unsigned hidden;        /* units in each of the two hidden layers */
        double lr;              /* Adam learning rate */
        double epsilon;         /* exploration probability once annealed */
        unsigned explore_steps; /* updates over which exploration anneals from 1 to epsilon */
        unsigned batch;         /* minibatch size */
        unsigned replay;        /* replay buffer capacity */
        unsigned train_steps;   /* minibatch steps per update */
        /* linucb */
        double alpha; /* width of the confidence bonus */
        /* static (TPP-like) */
        double static_rate;  /* accesses/s: 1 / hot threshold */
        double static_burst; /* s */
        /* ewma (HeMem/MEMTIS-like) */
        double ewma_hot;  /* samples */
        double ewma_cool; /* samples */
        /* heuristic */
        double horizon_s; /* a promotion must pay for itself within this time */
        /* grid: a fixed grid action (the simulator's exhaustive search) */
        unsigned action;
} TierPolicyParams;

/* The defaults documented in docs/benchmarks.md and maio-tiersim(1). */
void policy_params_default(TierPolicyParams *p);

typedef struct TierPolicy TierPolicy;

/* Creates the policy called name. Returns 0, -ENOENT (no such policy), -EINVAL (params out of
 * range) or -ENOMEM. */
int policy_new(const char *name, const TierPolicyParams *params, TierPolicy **ret);
void policy_free(TierPolicy *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(TierPolicy *, policy_free);

/* NULL-terminated list of the policy names policy_new accepts. */
const char *const *policy_names(void);

const char *policy_name(const TierPolicy *p);
const TierPolicyParams *policy_params(const TierPolicy *p);
/* Whether update() changes anything (indigo, linucb). */
bool policy_learns(const TierPolicy *p);
/* Whether the decision depends on live link telemetry and should be re-made whenever the
 * context changes, without feedback (heuristic). */
bool policy_online(const TierPolicy *p);
/* Counters: decisions made, of which exploratory, and updates (the model version). */
void policy_counters(const TierPolicy *p, uint64_t *ret_decisions, uint64_t *ret_explored, uint64_t *ret_updates);

/* Decides for a context; may explore. Returns 0, or -ENOMEM. */
int policy_choose(TierPolicy *p, const TierContext *ctx, TierDecision *ret);
/* The best decision the policy knows for ctx, never exploring and consuming no randomness. */
int policy_greedy(TierPolicy *p, const TierContext *ctx, TierDecision *ret);
/* Feeds back the normalised reward of a grid action taken in ctx. Returns 0 (also for policies
 * that do not learn), -ERANGE (action outside the grid) or -EINVAL (reward not finite). */
int policy_update(TierPolicy *p, const TierContext *ctx, unsigned action, double reward);

/* Model export: {"format":"maio-tier-model","version":1,"policy":NAME,"params":{...},
 * "grid":{...},"counters":{...},"rng":[...],"state":{...}}. Returns 0 or -ENOMEM. */
int policy_to_json(const TierPolicy *p, json_object **ret);
/* Model import. Returns 0, -EINVAL (not a model, or a field out of range), -ENOENT (unknown
 * policy) or -ENOMEM. */
int policy_from_json(json_object *j, TierPolicy **ret);
