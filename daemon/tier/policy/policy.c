/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Policy registry and lifecycle, the generic choose/update entry points with
 * their checks, and the JSON model envelope shared by every policy. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy-internal.h"

#define MODEL_FORMAT "maio-tier-model"
#define MODEL_VERSION 1

static const PolicyOps *const policy_table[] = {
        &policy_indigo_ops, &policy_linucb_ops, &policy_heuristic_ops, &policy_static_ops,
        &policy_ewma_ops,   &policy_none_ops,   &policy_grid_ops,
};

static const char *const policy_name_list[] = {
        "indigo", "linucb", "heuristic", "static", "ewma", "none", "grid", NULL,
};

void policy_params_default(TierPolicyParams *p) {
        *p = (TierPolicyParams) {
                .seed = 1,
                .hidden = 64,
                .lr = 5e-4,
                /* INDIGO's Table 2 gives "exploration_fraction 0.1": in the DQN it follows, the share
                 * of training over which epsilon anneals from 1 to its final value (0.05), not a
                 * constant epsilon. Training here is open-ended, so the anneal is counted in
                 * updates (each decision fed back, cache-served ones included); exploration picks
                 * actions not yet tried in the context, so 100 suffices to start the sweep. 4
                 * minibatch steps per update (not 16): with the cache feeding several updates per
                 * episode that is still many steps per episode. See docs/architecture.md. */
                .epsilon = 0.05,
                .explore_steps = 100,
                .batch = 32,
                .replay = 4096,
                .train_steps = 4,
                .alpha = 0.5,
                /* TPP (Maruf et al., ASPLOS 2023) as merged in Linux NUMA balancing tiering mode,
                 * kernel/sched/fair.c: sysctl_numa_balancing_hot_threshold = MSEC_PER_SEC (a page
                 * whose hint fault comes within 1000 ms of the scan is hot), no burst test, and
                 * sysctl_numa_balancing_promote_rate_limit = 65536 MB/s, no limit at this scale. */
                .static_rate = 1.0,
                .static_burst = 0,
                /* HeMem (Raybuck et al., SOSP 2021), pebs.h: HOT_READ_THRESHOLD 8 samples,
                 * PEBS_COOLING_THRESHOLD 18 (all counts halve, lazily through a global clock, when
                 * one page reaches it). MEMTIS (Lee et al., SOSP 2023) cools counts the same way;
                 * its histogram-sized threshold is not modelled. */
                .ewma_hot = 8,
                .ewma_cool = 18,
                .horizon_s = 0.05,
                .action = 0,
        };
        tier_grid_default(&p->grid);
}

const char *const *policy_names(void) {
        return policy_name_list;
}

static const PolicyOps *policy_ops_find(const char *name) {
        if (!name)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(policy_table); i++)
                if (strcmp(policy_table[i]->name, name) == 0)
                        return policy_table[i];
        return NULL;
}

void policy_free(TierPolicy *p) {
        if (!p)
                return;
        if (p->ops && p->ops->done)
                p->ops->done(p);
        free(p);
}

static int params_check(const TierPolicyParams *pp) {
        if (pp->grid.n_rate < 1 || pp->grid.n_rate > TIER_GRID_MAX || pp->grid.n_burst < 1 ||
            pp->grid.n_burst > TIER_GRID_MAX)
                return -EINVAL;
        return 0;
}

int policy_new(const char *name, const TierPolicyParams *params, TierPolicy **ret) {
        const PolicyOps *ops = policy_ops_find(name);
        _cleanup_(policy_freep) TierPolicy *p = NULL;
        int r;

        if (!ops)
                return -ENOENT;
        r = params_check(params);
        if (r < 0)
                return r;
        p = calloc(1, ops->size);
        if (!p)
                return -ENOMEM;
        p->ops = ops;
        p->params = *params;
        tier_rng_seed(&p->rng, params->seed);
        if (ops->init) {
                r = ops->init(p);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(p);
        return 0;
}

const char *policy_name(const TierPolicy *p) {
        return p->ops->name;
}

const TierPolicyParams *policy_params(const TierPolicy *p) {
        return &p->params;
}

bool policy_learns(const TierPolicy *p) {
        return p->ops->learns;
}

bool policy_online(const TierPolicy *p) {
        return p->ops->online;
}

void policy_counters(const TierPolicy *p, uint64_t *ret_decisions, uint64_t *ret_explored, uint64_t *ret_updates) {
        if (ret_decisions)
                *ret_decisions = p->decisions;
        if (ret_explored)
                *ret_explored = p->explored;
        if (ret_updates)
                *ret_updates = p->updates;
}

void policy_decision_from_action(const TierPolicy *p, unsigned a, bool explored, TierDecision *ret) {
        *ret = (TierDecision) { .rule = TIER_RULE_THRESHOLDS, .action = (int) a, .explored = explored };
        (void) tier_grid_action(&p->params.grid, a, &ret->rate_threshold, &ret->burst_threshold);
}

static int policy_decide(TierPolicy *p, const TierContext *ctx, bool greedy, TierDecision *ret) {
        TierDecision d = { .action = -1 };
        int r;

        r = p->ops->choose(p, ctx, greedy, &d);
        if (r < 0)
                return r;
        p->decisions++;
        if (d.explored)
                p->explored++;
        *ret = d;
        return 0;
}

int policy_choose(TierPolicy *p, const TierContext *ctx, TierDecision *ret) {
        return policy_decide(p, ctx, false, ret);
}

int policy_greedy(TierPolicy *p, const TierContext *ctx, TierDecision *ret) {
        return policy_decide(p, ctx, true, ret);
}

int policy_update(TierPolicy *p, const TierContext *ctx, unsigned action, double reward) {
        int r;

        if (action >= tier_grid_size(&p->params.grid))
                return -ERANGE;
        if (!isfinite(reward))
                return -EINVAL;
        if (!p->ops->update)
                return 0;
        r = p->ops->update(p, ctx, action, reward);
        if (r < 0)
                return r;
        p->updates++;
        return 0;
}

/* ---- JSON ---- */

int policy_json_add(json_object *o, const char *key, json_object *v) {
        if (!v)
                return -ENOMEM;
        if (json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

int policy_json_get_doubles(json_object *o, const char *key, double *out, size_t n) {
        json_object *a;

        if (!json_object_object_get_ex(o, key, &a))
                return -EINVAL;
        return tier_json_doubles_parse(a, out, n);
}

/* The numeric params, one table for export and import. */
typedef enum ParamType { PARAM_DOUBLE, PARAM_UNSIGNED } ParamType;
static const struct {
        const char *key;
        ParamType type;
        size_t offset;
        bool optional; /* added after version 1 models were written: absent = the default */
} param_table[] = {
        { "hidden", PARAM_UNSIGNED, offsetof(TierPolicyParams, hidden) },
        { "lr", PARAM_DOUBLE, offsetof(TierPolicyParams, lr) },
        { "epsilon", PARAM_DOUBLE, offsetof(TierPolicyParams, epsilon) },
        { "explore_steps", PARAM_UNSIGNED, offsetof(TierPolicyParams, explore_steps), true },
        { "batch", PARAM_UNSIGNED, offsetof(TierPolicyParams, batch) },
        { "replay", PARAM_UNSIGNED, offsetof(TierPolicyParams, replay) },
        { "train_steps", PARAM_UNSIGNED, offsetof(TierPolicyParams, train_steps) },
        { "alpha", PARAM_DOUBLE, offsetof(TierPolicyParams, alpha) },
        { "static_rate", PARAM_DOUBLE, offsetof(TierPolicyParams, static_rate) },
        { "static_burst", PARAM_DOUBLE, offsetof(TierPolicyParams, static_burst) },
        { "ewma_hot", PARAM_DOUBLE, offsetof(TierPolicyParams, ewma_hot) },
        { "ewma_cool", PARAM_DOUBLE, offsetof(TierPolicyParams, ewma_cool) },
        { "horizon_s", PARAM_DOUBLE, offsetof(TierPolicyParams, horizon_s) },
        { "action", PARAM_UNSIGNED, offsetof(TierPolicyParams, action) },
};

static json_object *params_to_json(const TierPolicyParams *pp) {
        json_object *o = json_object_new_object();
        char seed[21];

        if (!o)
                return NULL;
        snprintf(seed, sizeof seed, "%" PRIu64, pp->seed);
        if (policy_json_add(o, "seed", json_object_new_string(seed)) < 0)
                goto fail;
        for (size_t i = 0; i < ELEMENTSOF(param_table); i++) {
                const void *field = (const char *) pp + param_table[i].offset;
                json_object *v = param_table[i].type == PARAM_DOUBLE ? json_object_new_double(*(const double *) field)
                                                                     : json_object_new_int64(*(const unsigned *) field);

                if (policy_json_add(o, param_table[i].key, v) < 0)
                        goto fail;
        }
        return o;
fail:
        json_object_put(o);
        return NULL;
}

static int params_from_json(json_object *o, TierPolicyParams *pp) {
        json_object *v;
        const char *s;
        char *end;

        if (!json_object_object_get_ex(o, "seed", &v) || !(s = json_object_get_string(v)))
                return -EINVAL;
        errno = 0;
        pp->seed = strtoull(s, &end, 10);
        if (errno != 0 || end == s || *end != '\0')
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(param_table); i++) {
                void *field = (char *) pp + param_table[i].offset;

                if (!json_object_object_get_ex(o, param_table[i].key, &v)) {
                        if (param_table[i].optional)
                                continue;
                        return -EINVAL;
                }
                if (param_table[i].type == PARAM_DOUBLE) {
                        double d = json_object_get_double(v);

                        if ((!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int)) ||
                            !isfinite(d))
                                return -EINVAL;
                        *(double *) field = d;
                } else {
                        int64_t n = json_object_get_int64(v);

                        if (!json_object_is_type(v, json_type_int) || n < 0 || n > UINT32_MAX)
                                return -EINVAL;
                        *(unsigned *) field = (unsigned) n;
                }
        }
        return 0;
}

static json_object *counters_to_json(const TierPolicy *p) {
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        if (policy_json_add(o, "decisions", json_object_new_int64((int64_t) p->decisions)) < 0 ||
            policy_json_add(o, "explored", json_object_new_int64((int64_t) p->explored)) < 0 ||
            policy_json_add(o, "updates", json_object_new_int64((int64_t) p->updates)) < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

static int counters_from_json(json_object *o, TierPolicy *p) {
        static const char *const keys[] = { "decisions", "explored", "updates" };
        uint64_t *fields[] = { &p->decisions, &p->explored, &p->updates };

        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                json_object *v;

                if (!json_object_object_get_ex(o, keys[i], &v) || !json_object_is_type(v, json_type_int) ||
                    json_object_get_int64(v) < 0)
                        return -EINVAL;
                *fields[i] = (uint64_t) json_object_get_int64(v);
        }
        return 0;
}

int policy_to_json(const TierPolicy *p, json_object **ret) {
        json_object *o = json_object_new_object(), *state = NULL;
        int r = -ENOMEM;

        if (!o)
                return -ENOMEM;
        if (policy_json_add(o, "format", json_object_new_string(MODEL_FORMAT)) < 0 ||
            policy_json_add(o, "version", json_object_new_int(MODEL_VERSION)) < 0 ||
            policy_json_add(o, "policy", json_object_new_string(p->ops->name)) < 0 ||
            policy_json_add(o, "params", params_to_json(&p->params)) < 0 ||
            policy_json_add(o, "grid", tier_grid_to_json(&p->params.grid)) < 0 ||
            policy_json_add(o, "counters", counters_to_json(p)) < 0 ||
            policy_json_add(o, "rng", tier_rng_to_json(&p->rng)) < 0)
                goto fail;
        if (p->ops->save) {
                state = json_object_new_object();
                if (!state)
                        goto fail;
                r = p->ops->save(p, state);
                if (r < 0 || (r = policy_json_add(o, "state", TAKE_PTR(state))) < 0)
                        goto fail;
        }
        *ret = o;
        return 0;
fail:
        json_object_put(state);
        json_object_put(o);
        return r;
}

static int envelope_check(json_object *j, const char **ret_name) {
        json_object *v;

        if (!json_object_is_type(j, json_type_object) || !json_object_object_get_ex(j, "format", &v) ||
            !json_object_is_type(v, json_type_string) || strcmp(json_object_get_string(v), MODEL_FORMAT) != 0)
                return -EINVAL;
        if (!json_object_object_get_ex(j, "version", &v) || !json_object_is_type(v, json_type_int) ||
            json_object_get_int(v) != MODEL_VERSION)
                return -EINVAL;
        if (!json_object_object_get_ex(j, "policy", &v) || !json_object_is_type(v, json_type_string))
                return -EINVAL;
        *ret_name = json_object_get_string(v);
        return 0;
}

int policy_from_json(json_object *j, TierPolicy **ret) {
        _cleanup_(policy_freep) TierPolicy *p = NULL;
        json_object *params, *grid, *counters, *rng, *state;
        TierPolicyParams pp;
        const char *name;
        int r;

        r = envelope_check(j, &name);
        if (r < 0)
                return r;
        if (!json_object_object_get_ex(j, "params", &params) || !json_object_object_get_ex(j, "grid", &grid) ||
            !json_object_object_get_ex(j, "counters", &counters) || !json_object_object_get_ex(j, "rng", &rng))
                return -EINVAL;
        policy_params_default(&pp);
        r = params_from_json(params, &pp);
        if (r < 0)
                return r;
        r = tier_grid_from_json(&pp.grid, grid);
        if (r < 0)
                return r;
        r = policy_new(name, &pp, &p);
        if (r < 0)
                return r;
        r = counters_from_json(counters, p);
        if (r < 0)
                return r;
        r = tier_rng_from_json(&p->rng, rng);
        if (r < 0)
                return r;
        if (p->ops->load) {
                if (!json_object_object_get_ex(j, "state", &state))
                        return -EINVAL;
                r = p->ops->load(p, state);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(p);
        return 0;
}
