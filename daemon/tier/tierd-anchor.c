/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Anchors (pure): the mean reward of each grid action per context bucket, measured by any tenant,
 * and the choice of the nearest bucket's best action for a tenant that joins, so its first
 * thresholds are known-good ones at once rather than a guess or an exploration. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "tierd.h"

void tierd_anchor_set_done(TierdAnchorSet *s) {
        free(s->v);
        *s = (TierdAnchorSet) {};
}

int tierd_anchor_find(const TierdAnchorSet *s, TierTenantKind kind, uint64_t bucket, unsigned action) {
        for (size_t i = 0; i < s->n; i++)
                if (s->v[i].kind == kind && s->v[i].bucket == bucket && s->v[i].action == action)
                        return (int) i;
        return -ENOENT;
}

int tierd_anchor_fold(TierdAnchor *a, const TierdAnchor *sample) {
        double k;

        if (!isfinite(sample->reward))
                return -EINVAL;
        for (unsigned i = 0; i < TIER_N_FEATURES; i++)
                if (!isfinite(sample->features[i]))
                        return -EINVAL;
        if (a->samples <= 0) {
                *a = *sample;
                a->samples = 1;
                return 0;
        }
        k = (double) (a->samples + 1);
        a->reward += (sample->reward - a->reward) / k;
        for (unsigned i = 0; i < TIER_N_FEATURES; i++)
                a->features[i] += (sample->features[i] - a->features[i]) / k;
        a->samples++;
        a->tenant_id = sample->tenant_id;
        a->updated_usec = sample->updated_usec;
        return 0;
}

int tierd_anchor_put(TierdAnchorSet *s, const TierdAnchor *a) {
        int i = tierd_anchor_find(s, a->kind, a->bucket, a->action);

        if (i >= 0) {
                s->v[i] = *a;
                return i;
        }
        if (s->n >= TIERD_ANCHORS_MAX)
                return -ENOSPC;
        if (s->n == s->allocated) {
                size_t k = s->allocated ? s->allocated * 2 : 16;
                TierdAnchor *v = reallocarray(s->v, k, sizeof *v);

                if (!v)
                        return -ENOMEM;
                s->v = v;
                s->allocated = k;
        }
        s->v[s->n] = *a;
        return (int) s->n++;
}

static double distance(const double a[static TIER_N_FEATURES], const double b[static TIER_N_FEATURES]) {
        double d = 0;

        for (unsigned i = 0; i < TIER_N_FEATURES; i++)
                d += (a[i] - b[i]) * (a[i] - b[i]);
        return sqrt(d);
}

/* Mean rewards closer than this are equal: running means of the same rewards taken in another
 * order differ in their last bits, and such a tie should go by evidence, not by rounding. */
#define REWARD_EPSILON 1e-9

/* Whether entry x is a better action of its bucket than entry y. */
static bool better(const TierdAnchor *x, const TierdAnchor *y) {
        if (fabs(x->reward - y->reward) > REWARD_EPSILON)
                return x->reward > y->reward;
        if (x->samples != y->samples)
                return x->samples > y->samples;
        return x->action < y->action;
}

int tierd_anchor_nearest(const TierdAnchorSet *s, TierTenantKind kind, const double f[static TIER_N_FEATURES],
                         double max_distance, double *ret_distance) {
        double best_d = INFINITY;
        int near = -ENOENT, best;

        for (size_t i = 0; i < s->n; i++) {
                double d;

                if (s->v[i].kind != kind || s->v[i].samples <= 0)
                        continue;
                d = distance(s->v[i].features, f);
                if (d <= max_distance && d < best_d) {
                        best_d = d;
                        near = (int) i;
                }
        }
        if (near < 0)
                return near;
        best = near;
        for (size_t i = 0; i < s->n; i++)
                if (s->v[i].kind == kind && s->v[i].bucket == s->v[near].bucket && s->v[i].samples > 0 &&
                    better(&s->v[i], &s->v[best]))
                        best = (int) i;
        *ret_distance = best_d;
        return best;
}
