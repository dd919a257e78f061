/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `indigo`: the INDIGO agent. A Q-network with gamma = 0 (so a contextual
 * bandit): context features in, one value per grid action out, two hidden
 * ReLU layers, trained by Adam on minibatches drawn from a replay buffer of
 * (context, action, reward); epsilon-greedy exploration. */
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
            !(pp->epsilon >= 0 && pp->epsilon <= 1) || pp->batch < 1 || pp->replay < 1 || pp->train_steps < 1)
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
        free(g->replay);
}

static unsigned indigo_argmax(PolicyIndigo *g, const double *x) {
        const double *q = mlp_forward(g->q, x, g->acts);
        unsigned best = 0;

        for (unsigned a = 1; a < g->n_actions; a++)
                if (q[a] > q[best])
                        best = a;
        return best;
}

static int indigo_choose(TierPolicy *p, const TierContext *ctx, bool greedy, TierDecision *ret) {
        PolicyIndigo *g = indigo(p);
        double x[TIER_N_FEATURES];
        unsigned best, a;

        tier_context_features(ctx, x);
        best = indigo_argmax(g, x);
        a = best;
        if (!greedy && tier_rng_uniform(&p->rng) < p->params.epsilon)
                a = (unsigned) tier_rng_below(&p->rng, g->n_actions);
        policy_decision_from_action(p, a, a != best, ret);
        return 0;
}

/* One Adam step on the mean squared error of Q(x)[a] against r over a minibatch. */
static void indigo_train_step(PolicyIndigo *g) {
        TierPolicy *p = &g->base;
        size_t b = p->params.batch;

        memset(g->grad, 0, g->q->n_params * sizeof(double));
        for (size_t i = 0; i < b; i++) {
                const IndigoSample *s = &g->replay[tier_rng_below(&p->rng, g->n_replay)];
                const double *q = mlp_forward(g->q, s->x, g->acts);

                memset(g->dout, 0, g->n_actions * sizeof(double));
                g->dout[s->action] = (q[s->action] - s->reward) / (double) b;
                mlp_backward(g->q, g->acts, g->dout, g->grad);
        }
        mlp_adam_step(g->adam, g->q->params, g->grad);
}

static int indigo_update(TierPolicy *p, const TierContext *ctx, unsigned action, double reward) {
        PolicyIndigo *g = indigo(p);
        IndigoSample *s;

        if (g->n_replay < p->params.replay)
                s = &g->replay[g->n_replay++];
        else {
                s = &g->replay[g->head];
                g->head = (g->head + 1) % p->params.replay;
        }
        tier_context_features(ctx, s->x);
        s->action = action;
        s->reward = reward;

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
