/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `indigo`: the INDIGO agent. A Q-network with gamma = 0 (so a contextual
 * bandit): context features in, one value per grid action out, two hidden
 * ReLU layers, trained by Adam on minibatches drawn from a replay buffer of
 * (context, action, reward) against standardised rewards; epsilon-greedy
 * exploration annealed from 1; the greedy decision only among tried actions. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mlp.h"
#include "policy-internal.h"

typedef struct IndigoSample {
        double x[TIER_N_FEATURES];
        unsigned action;
        double reward;
} IndigoSample;

typedef struct PolicyIndigo {
        TierPolicy base;
        unsigned n_actions;
        Mlp *q;
        MlpAdam *adam;
        double *acts; /* forward workspace */
        double *grad;
        double *dout;
        IndigoSample *replay;
        size_t n_replay, head; /* filled entries; next slot to overwrite once full */
        /* (context bucket, action) pairs fed back at least once: open addressing, key + 1, 0 =
         * empty. What the reward cache knows, kept by the policy, which never sees the cache. */
        uint64_t *tried;
        size_t tried_slots, n_tried;
        /* Running mean and sum of squared deviations of the rewards (Welford): targets are
         * standardised so the gaps between good actions are not lost in Adam's step noise. */
        double r_n, r_mean, r_m2;
} PolicyIndigo;

static PolicyIndigo *indigo(TierPolicy *p) {
        return (PolicyIndigo *) p;
}

static int indigo_alloc_work(PolicyIndigo *g) {
        g->acts = calloc(g->q->n_units, sizeof(double));
        g->grad = calloc(g->q->n_params, sizeof(double));
        g->dout = calloc(g->n_actions, sizeof(double));
        if (!g->acts || !g->grad || !g->dout)
                return -ENOMEM;
        return 0;
}

static int indigo_init(TierPolicy *p) {
        PolicyIndigo *g = indigo(p);
        const TierPolicyParams *pp = &p->params;
        unsigned sizes[4];
        int r;

        if (pp->hidden < 1 || pp->hidden > MLP_MAX_WIDTH || !isfinite(pp->lr) || pp->lr <= 0 ||
            !(pp->epsilon >= 0 && pp->epsilon <= 1) || pp->explore_steps > 1000000 || pp->batch < 1 || pp->replay < 1 ||
            pp->train_steps < 1)
                return -EINVAL;
        g->n_actions = tier_grid_size(&pp->grid);
        sizes[0] = TIER_N_FEATURES;
        sizes[1] = sizes[2] = pp->hidden;
        sizes[3] = g->n_actions;
        r = mlp_new(sizes, 4, &p->rng, &g->q);
        if (r < 0)
                return r;
        r = mlp_adam_new(g->q->n_params, pp->lr, &g->adam);
        if (r < 0)
                return r;
        g->replay = calloc(pp->replay, sizeof(IndigoSample));
        if (!g->replay)
                return -ENOMEM;
        return indigo_alloc_work(g);
}

static void indigo_done(TierPolicy *p) {
        PolicyIndigo *g = indigo(p);

        mlp_free(g->q);
        mlp_adam_free(g->adam);
        free(g->acts);
        free(g->grad);
        free(g->dout);
        free(g->tried);
        free(g->replay);
}

#define TRIED_LEVELS 8 /* context buckets as the reward cache's (BUCKET_LEVELS) */

static uint64_t tried_key(uint64_t bucket, unsigned action) {
        return ((bucket << 8) | action) + 1; /* actions < 256 (TIER_GRID_MAX^2) */
}

static size_t tried_slot(const uint64_t *slots, size_t n, uint64_t key) {
        uint64_t h = key * UINT64_C(0x9e3779b97f4a7c15);
        size_t i = (size_t) (h ^ (h >> 31)) & (n - 1);

        while (slots[i] != 0 && slots[i] != key)
                i = (i + 1) & (n - 1);
        return i;
}

static bool indigo_tried(const PolicyIndigo *g, uint64_t bucket, unsigned action) {
        uint64_t key = tried_key(bucket, action);

        return g->tried_slots > 0 && g->tried[tried_slot(g->tried, g->tried_slots, key)] == key;
}

static int indigo_mark_tried(PolicyIndigo *g, uint64_t bucket, unsigned action) {
        uint64_t key = tried_key(bucket, action);

        if ((g->n_tried + 1) * 2 > g->tried_slots) {
                size_t n = g->tried_slots ? g->tried_slots * 2 : 64;
                uint64_t *t = calloc(n, sizeof(uint64_t));

                if (!t)
                        return -ENOMEM;
                for (size_t i = 0; i < g->tried_slots; i++)
                        if (g->tried[i] != 0)
                                t[tried_slot(t, n, g->tried[i])] = g->tried[i];
                free(g->tried);
                g->tried = t;
                g->tried_slots = n;
        }
        size_t i = tried_slot(g->tried, g->tried_slots, key);
        if (g->tried[i] == 0) {
                g->tried[i] = key;
                g->n_tried++;
        }
        return 0;
}

/* The action of highest value; with only_tried, among the actions fed back at least once in
 * this context bucket (all of them when none was): an untried action's value is the network's
 * extrapolation, not a measurement, and must not become the answer. */
static unsigned indigo_argmax(PolicyIndigo *g, const double *x, uint64_t bucket, bool only_tried) {
        const double *q = mlp_forward(g->q, x, g->acts);
        int best = -1;

        for (unsigned a = 0; a < g->n_actions && only_tried; a++)
                if (indigo_tried(g, bucket, a) && (best < 0 || q[a] > q[best]))
                        best = (int) a;
        if (best >= 0)
                return (unsigned) best;
        best = 0;
        for (unsigned a = 1; a < g->n_actions; a++)
                if (q[a] > q[best])
                        best = (int) a;
        return (unsigned) best;
}

/* Exploration probability after n updates: linear from 1 to epsilon over explore_steps. */
static double indigo_epsilon(const TierPolicy *p) {
        const TierPolicyParams *pp = &p->params;

        if (p->updates >= pp->explore_steps)
                return pp->epsilon;
        return 1.0 - (1.0 - pp->epsilon) * (double) p->updates / (double) pp->explore_steps;
}

/* An exploratory action: uniform among the actions never tried in this context bucket, or -1
 * when all were. A tried action's reward is in the reward cache, which answers it again without
 * anything new to learn, so exploring it would only spend episodes. */
static int indigo_explore(PolicyIndigo *g, uint64_t bucket) {
        unsigned untried = 0, k;

        for (unsigned a = 0; a < g->n_actions; a++)
                untried += !indigo_tried(g, bucket, a);
        if (untried == 0)
                return -1;
        k = (unsigned) tier_rng_below(&g->base.rng, untried);
        for (unsigned a = 0; a < g->n_actions; a++)
                if (!indigo_tried(g, bucket, a) && k-- == 0)
                        return (int) a;
        return -1; /* not reached */
}

static int indigo_choose(TierPolicy *p, const TierContext *ctx, bool greedy, TierDecision *ret) {
        PolicyIndigo *g = indigo(p);
        uint64_t bucket = tier_context_bucket(ctx, TRIED_LEVELS);
        double x[TIER_N_FEATURES];
        unsigned best, a;

        tier_context_features(ctx, x);
        /* Exploiting, only measured actions count; choosing may still follow an untried one the
         * network rates highest (an optimistic exploration of its own). */
        best = indigo_argmax(g, x, bucket, greedy);
        a = best;
        if (!greedy && tier_rng_uniform(&p->rng) < indigo_epsilon(p)) {
                int e = indigo_explore(g, bucket);

                if (e >= 0)
                        a = (unsigned) e;
        }
        policy_decision_from_action(p, a, a != best, ret);
        return 0;
}

static double indigo_reward_std(const PolicyIndigo *g) {
        double var = g->r_n > 1 ? g->r_m2 / (g->r_n - 1) : 0;

        /* Until rewards differ, unit scale: the targets are then just centred. */
        return var > 1e-12 ? sqrt(var) : 1.0;
}

/* One Adam step on the mean squared error of Q(x)[a] against the standardised reward over a
 * minibatch. */
static void indigo_train_step(PolicyIndigo *g) {
        TierPolicy *p = &g->base;
        size_t b = p->params.batch;
        double sd = indigo_reward_std(g);

        memset(g->grad, 0, g->q->n_params * sizeof(double));
        for (size_t i = 0; i < b; i++) {
                const IndigoSample *s = &g->replay[tier_rng_below(&p->rng, g->n_replay)];
                const double *q = mlp_forward(g->q, s->x, g->acts);
                double target = (s->reward - g->r_mean) / sd;

                memset(g->dout, 0, g->n_actions * sizeof(double));
                g->dout[s->action] = (q[s->action] - target) / (double) b;
                mlp_backward(g->q, g->acts, g->dout, g->grad);
        }
        mlp_adam_step(g->adam, g->q->params, g->grad);
}

/* Counts a reward fed back for action in the context of features x into the tried marks and
 * the reward statistics. Returns 0 or -ENOMEM. */
static int indigo_observe(PolicyIndigo *g, const double x[static TIER_N_FEATURES], unsigned action, double reward) {
        TierContext c = {
                .local_alloc = x[0], .local_usage = x[1], .remote_usage = x[2], .traffic = x[3], .contention = x[4]
        };
        double d = reward - g->r_mean;
        int r;

        r = indigo_mark_tried(g, tier_context_bucket(&c, TRIED_LEVELS), action);
        if (r < 0)
                return r;
        g->r_n++;
        g->r_mean += d / g->r_n;
        g->r_m2 += d * (reward - g->r_mean);
        return 0;
}

static int indigo_update(TierPolicy *p, const TierContext *ctx, unsigned action, double reward) {
        PolicyIndigo *g = indigo(p);
        IndigoSample *s;
        int r;

        if (g->n_replay < p->params.replay)
                s = &g->replay[g->n_replay++];
        else {
                s = &g->replay[g->head];
                g->head = (g->head + 1) % p->params.replay;
        }
        tier_context_features(ctx, s->x);
        s->action = action;
        s->reward = reward;
        r = indigo_observe(g, s->x, action, reward);
        if (r < 0)
                return r;

        for (unsigned i = 0; i < p->params.train_steps; i++)
                indigo_train_step(g);
        return 0;
}

static int indigo_save_replay(const PolicyIndigo *g, json_object *state) {
        json_object *arr = json_object_new_array_ext((int) g->n_replay);

        if (!arr)
                return -ENOMEM;
        for (size_t i = 0; i < g->n_replay; i++) {
                /* Oldest first, so a reload refills the ring in the same order. */
                const IndigoSample *s = &g->replay[(g->head + i) % g->n_replay];
                double row[TIER_N_FEATURES + 2];

                memcpy(row, s->x, sizeof s->x);
                row[TIER_N_FEATURES] = s->action;
                row[TIER_N_FEATURES + 1] = s->reward;
                if (json_object_array_add(arr, tier_json_doubles(row, TIER_N_FEATURES + 2)) < 0) {
                        json_object_put(arr);
                        return -ENOMEM;
                }
        }
        return policy_json_add(state, "replay", arr);
}

static int indigo_save(const TierPolicy *p, json_object *state) {
        const PolicyIndigo *g = (const PolicyIndigo *) p;
        int r;

        r = policy_json_add(state, "q", mlp_to_json(g->q));
        if (r < 0)
                return r;
        r = policy_json_add(state, "adam", mlp_adam_to_json(g->adam));
        if (r < 0)
                return r;
        return indigo_save_replay(g, state);
}

static int indigo_load_replay(PolicyIndigo *g, json_object *arr) {
        size_t n;

        if (!json_object_is_type(arr, json_type_array))
                return -EINVAL;
        n = json_object_array_length(arr);
        if (n > g->base.params.replay)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                double row[TIER_N_FEATURES + 2];
                int r;

                r = tier_json_doubles_parse(json_object_array_get_idx(arr, i), row, TIER_N_FEATURES + 2);
                if (r < 0)
                        return r;
                if (row[TIER_N_FEATURES] < 0 || row[TIER_N_FEATURES] >= g->n_actions ||
                    row[TIER_N_FEATURES] != floor(row[TIER_N_FEATURES]))
                        return -EINVAL;
                memcpy(g->replay[i].x, row, sizeof g->replay[i].x);
                g->replay[i].action = (unsigned) row[TIER_N_FEATURES];
                g->replay[i].reward = row[TIER_N_FEATURES + 1];
        }
        g->n_replay = n;
        g->head = 0;
        /* The tried marks and reward statistics are not stored: they are those of the replay
         * buffer, which holds every reward unless it has wrapped. */
        g->r_n = g->r_mean = g->r_m2 = 0;
        for (size_t i = 0; i < n; i++) {
                int r = indigo_observe(g, g->replay[i].x, g->replay[i].action, g->replay[i].reward);

                if (r < 0)
                        return r;
        }
        return 0;
}

static int indigo_load(TierPolicy *p, json_object *state) {
        PolicyIndigo *g = indigo(p);
        _cleanup_(mlp_freep) Mlp *q = NULL;
        _cleanup_(mlp_adam_freep) MlpAdam *adam = NULL;
        json_object *jq, *ja, *jr;
        int r;

        if (!json_object_object_get_ex(state, "q", &jq) || !json_object_object_get_ex(state, "adam", &ja) ||
            !json_object_object_get_ex(state, "replay", &jr))
                return -EINVAL;
        r = mlp_from_json(jq, &q);
        if (r < 0)
                return r;
        if (q->n_layers != g->q->n_layers || memcmp(q->sizes, g->q->sizes, sizeof q->sizes) != 0)
                return -EINVAL;
        r = mlp_adam_from_json(ja, q->n_params, &adam);
        if (r < 0)
                return r;
        r = indigo_load_replay(g, jr);
        if (r < 0)
                return r;
        mlp_free(g->q);
        g->q = TAKE_PTR(q);
        mlp_adam_free(g->adam);
        g->adam = TAKE_PTR(adam);
        return 0;
}

const PolicyOps policy_indigo_ops = {
        .name = "indigo",
        .size = sizeof(PolicyIndigo),
        .learns = true,
        .init = indigo_init,
        .choose = indigo_choose,
        .update = indigo_update,
        .save = indigo_save,
        .load = indigo_load,
        .done = indigo_done,
};
