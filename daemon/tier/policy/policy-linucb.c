/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `linucb`: disjoint LinUCB (Li et al., WWW 2010), one ridge regression per
 * grid action over the context features plus a bias; the inverse design
 * matrix is kept directly and updated with Sherman-Morrison. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "policy-internal.h"

#define LINUCB_D (TIER_N_FEATURES + 1)

typedef struct LinucbArm {
        double ainv[LINUCB_D * LINUCB_D]; /* (I + sum x x^T)^-1 */
        double b[LINUCB_D];               /* sum reward x */
        uint64_t n;                       /* updates */
} LinucbArm;

typedef struct PolicyLinucb {
        TierPolicy base;
        unsigned n_arms;
        LinucbArm *arms;
} PolicyLinucb;

static PolicyLinucb *linucb(TierPolicy *p) {
        return (PolicyLinucb *) p;
}

static void linucb_x(const TierContext *ctx, double x[static LINUCB_D]) {
        tier_context_features(ctx, x);
        x[TIER_N_FEATURES] = 1.0;
}

static void arm_reset(LinucbArm *a) {
        memset(a, 0, sizeof *a);
        for (unsigned i = 0; i < LINUCB_D; i++)
                a->ainv[i * LINUCB_D + i] = 1.0;
}

static int linucb_init(TierPolicy *p) {
        PolicyLinucb *l = linucb(p);

        if (!isfinite(p->params.alpha) || p->params.alpha < 0)
                return -EINVAL;
        l->n_arms = tier_grid_size(&p->params.grid);
        l->arms = calloc(l->n_arms, sizeof(LinucbArm));
        if (!l->arms)
                return -ENOMEM;
        for (unsigned a = 0; a < l->n_arms; a++)
                arm_reset(&l->arms[a]);
        return 0;
}

static void linucb_done(TierPolicy *p) {
        free(linucb(p)->arms);
}

/* Mean estimate theta . x (theta = Ainv b) and the confidence width sqrt(x^T Ainv x). */
static void arm_score(const LinucbArm *a, const double x[static LINUCB_D], double *ret_mean, double *ret_width) {
        double mean = 0, var = 0;

        for (unsigned i = 0; i < LINUCB_D; i++) {
                double ax = 0, theta = 0;

                for (unsigned j = 0; j < LINUCB_D; j++) {
                        ax += a->ainv[i * LINUCB_D + j] * x[j];
                        theta += a->ainv[i * LINUCB_D + j] * a->b[j];
                }
                var += x[i] * ax;
                mean += theta * x[i];
        }
        *ret_mean = mean;
        *ret_width = sqrt(fmax(var, 0));
}

static int linucb_choose(TierPolicy *p, const TierContext *ctx, bool greedy, TierDecision *ret) {
        PolicyLinucb *l = linucb(p);
        double x[LINUCB_D], best_ucb = -INFINITY, best_mean = -INFINITY;
        int ucb_arm = 0, mean_arm = -1;

        linucb_x(ctx, x);
        /* Ties go to the lowest index: deterministic without spending randomness. */
        for (unsigned a = 0; a < l->n_arms; a++) {
                double mean, width, ucb;

                arm_score(&l->arms[a], x, &mean, &width);
                ucb = mean + p->params.alpha * width;
                if (ucb > best_ucb) {
                        best_ucb = ucb;
                        ucb_arm = (int) a;
                }
                if (l->arms[a].n > 0 && mean > best_mean) {
                        best_mean = mean;
                        mean_arm = (int) a;
                }
        }
        if (greedy && mean_arm >= 0)
                policy_decision_from_action(p, (unsigned) mean_arm, false, ret);
        else
                policy_decision_from_action(p, (unsigned) ucb_arm, ucb_arm != mean_arm, ret);
        return 0;
}

static int linucb_update(TierPolicy *p, const TierContext *ctx, unsigned action, double reward) {
        LinucbArm *a = &linucb(p)->arms[action];
        double x[LINUCB_D], ax[LINUCB_D], denom = 1.0;

        linucb_x(ctx, x);
        for (unsigned i = 0; i < LINUCB_D; i++) {
                ax[i] = 0;
                for (unsigned j = 0; j < LINUCB_D; j++)
                        ax[i] += a->ainv[i * LINUCB_D + j] * x[j];
                denom += x[i] * ax[i];
        }
        /* Sherman-Morrison: (A + x x^T)^-1 = Ainv - (Ainv x)(x^T Ainv) / (1 + x^T Ainv x); Ainv is
         * symmetric, so x^T Ainv is ax transposed. */
        for (unsigned i = 0; i < LINUCB_D; i++)
                for (unsigned j = 0; j < LINUCB_D; j++)
                        a->ainv[i * LINUCB_D + j] -= ax[i] * ax[j] / denom;
        for (unsigned i = 0; i < LINUCB_D; i++)
                a->b[i] += reward * x[i];
        a->n++;
        return 0;
}

static int linucb_save(const TierPolicy *p, json_object *state) {
        const PolicyLinucb *l = (const PolicyLinucb *) p;
        json_object *arms = json_object_new_array_ext((int) l->n_arms);

        if (!arms)
                return -ENOMEM;
        for (unsigned a = 0; a < l->n_arms; a++) {
                json_object *o = json_object_new_object();

                if (!o || json_object_array_add(arms, o) < 0) {
                        json_object_put(o);
                        json_object_put(arms);
                        return -ENOMEM;
                }
                if (policy_json_add(o, "ainv", tier_json_doubles(l->arms[a].ainv, LINUCB_D * LINUCB_D)) < 0 ||
                    policy_json_add(o, "b", tier_json_doubles(l->arms[a].b, LINUCB_D)) < 0 ||
                    policy_json_add(o, "n", json_object_new_int64((int64_t) l->arms[a].n)) < 0) {
                        json_object_put(arms);
                        return -ENOMEM;
                }
        }
        return policy_json_add(state, "arms", arms);
}

static int linucb_load(TierPolicy *p, json_object *state) {
        PolicyLinucb *l = linucb(p);
        json_object *arms;

        if (!json_object_object_get_ex(state, "arms", &arms) || !json_object_is_type(arms, json_type_array) ||
            json_object_array_length(arms) != l->n_arms)
                return -EINVAL;
        for (unsigned a = 0; a < l->n_arms; a++) {
                json_object *o = json_object_array_get_idx(arms, a), *n;
                LinucbArm arm;
                int r;

                r = policy_json_get_doubles(o, "ainv", arm.ainv, LINUCB_D * LINUCB_D);
                if (r < 0)
                        return r;
                r = policy_json_get_doubles(o, "b", arm.b, LINUCB_D);
                if (r < 0)
                        return r;
                if (!json_object_object_get_ex(o, "n", &n) || !json_object_is_type(n, json_type_int) ||
                    json_object_get_int64(n) < 0)
                        return -EINVAL;
                arm.n = (uint64_t) json_object_get_int64(n);
                l->arms[a] = arm;
        }
        return 0;
}

const PolicyOps policy_linucb_ops = {
        .name = "linucb",
        .size = sizeof(PolicyLinucb),
        .learns = true,
        .init = linucb_init,
        .choose = linucb_choose,
        .update = linucb_update,
        .save = linucb_save,
        .load = linucb_load,
        .done = linucb_done,
};
