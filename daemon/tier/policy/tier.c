/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Seeded RNG, threshold grid, context features and buckets, reward
 * normalisation: the small pure pieces every tiering policy shares. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tier.h"

static uint64_t splitmix64(uint64_t *x) {
        uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));

        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

void tier_rng_seed(TierRng *r, uint64_t seed) {
        uint64_t x = seed;

        for (unsigned i = 0; i < 4; i++)
                r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) {
        return (x << k) | (x >> (64 - k));
}

uint64_t tier_rng_next(TierRng *r) {
        uint64_t *s = r->s;
        uint64_t result = rotl(s[1] * 5, 7) * 9;
        uint64_t t = s[1] << 17;

        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = rotl(s[3], 45);
        return result;
}

double tier_rng_uniform(TierRng *r) {
        return (double) (tier_rng_next(r) >> 11) * 0x1.0p-53;
}

uint64_t tier_rng_below(TierRng *r, uint64_t n) {
        uint64_t limit, x;

        if (n == 0)
                return 0;
        /* Rejection keeps it unbiased for any n. */
        limit = UINT64_MAX - UINT64_MAX % n;
        do
                x = tier_rng_next(r);
        while (x >= limit);
        return x % n;
}

double tier_rng_normal(TierRng *r) {
        double u1 = 1.0 - tier_rng_uniform(r); /* (0, 1]: log() stays finite */
        double u2 = tier_rng_uniform(r);

        return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

json_object *tier_rng_to_json(const TierRng *r) {
        json_object *a = json_object_new_array_ext(4);
        char buf[17];

        if (!a)
                return NULL;
        for (unsigned i = 0; i < 4; i++) {
                snprintf(buf, sizeof buf, "%016" PRIx64, r->s[i]);
                if (json_object_array_add(a, json_object_new_string(buf)) < 0) {
                        json_object_put(a);
                        return NULL;
                }
        }
        return a;
}

int tier_rng_from_json(TierRng *r, json_object *j) {
        TierRng t;

        if (!json_object_is_type(j, json_type_array) || json_object_array_length(j) != 4)
                return -EINVAL;
        for (unsigned i = 0; i < 4; i++) {
                const char *s = json_object_get_string(json_object_array_get_idx(j, i));
                char *end;

                if (!s || strlen(s) != 16)
                        return -EINVAL;
                errno = 0;
                t.s[i] = strtoull(s, &end, 16);
                if (errno != 0 || *end != '\0')
                        return -EINVAL;
        }
        if ((t.s[0] | t.s[1] | t.s[2] | t.s[3]) == 0) /* the one state xoshiro never leaves */
                return -EINVAL;
        *r = t;
        return 0;
}

static void logspace(double *out, unsigned n, double lo, double hi) {
        if (n == 1) {
                out[0] = lo;
                return;
        }
        for (unsigned i = 0; i < n; i++)
                out[i] = lo * pow(hi / lo, (double) i / (n - 1));
}

int tier_grid_init(TierGrid *g, unsigned n_rate, unsigned n_burst, double rate_min, double rate_max, double burst_min,
                   double burst_max) {
        if (n_rate < 1 || n_rate > TIER_GRID_MAX || n_burst < 1 || n_burst > TIER_GRID_MAX)
                return -EINVAL;
        if (!isfinite(rate_min) || !isfinite(rate_max) || rate_min <= 0 || rate_max < rate_min)
                return -EINVAL;
        if (!isfinite(burst_min) || !isfinite(burst_max) || burst_min <= 0 || burst_max < burst_min)
                return -EINVAL;

        *g = (TierGrid) { .n_rate = n_rate, .n_burst = n_burst };
        logspace(g->rate, n_rate, rate_min, rate_max);
        /* Burst 0 ("no burst required") is always an action: the rate threshold alone. */
        g->burst[0] = 0;
        if (n_burst > 1)
                logspace(g->burst + 1, n_burst - 1, burst_min, burst_max);
        return 0;
}

void tier_grid_default(TierGrid *g) {
        int r = tier_grid_init(g, TIER_GRID_DEFAULT_N, TIER_GRID_DEFAULT_N, TIER_GRID_DEFAULT_RATE_MIN,
                               TIER_GRID_DEFAULT_RATE_MAX, TIER_GRID_DEFAULT_BURST_MIN, TIER_GRID_DEFAULT_BURST_MAX);
        (void) r; /* constants: cannot fail */
}

int tier_grid_action(const TierGrid *g, unsigned a, double *ret_rate, double *ret_burst) {
        if (a >= tier_grid_size(g))
                return -ERANGE;
        if (ret_rate)
                *ret_rate = g->rate[a / g->n_burst];
        if (ret_burst)
                *ret_burst = g->burst[a % g->n_burst];
        return 0;
}

json_object *tier_json_doubles(const double *v, size_t n) {
        json_object *a = json_object_new_array_ext((int) n);

        if (!a)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (json_object_array_add(a, json_object_new_double(v[i])) < 0) {
                        json_object_put(a);
                        return NULL;
                }
        return a;
}

int tier_json_doubles_parse(json_object *a, double *out, size_t n) {
        if (!json_object_is_type(a, json_type_array) || json_object_array_length(a) != n)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(a, i);

                if (!json_object_is_type(e, json_type_double) && !json_object_is_type(e, json_type_int))
                        return -EINVAL;
                out[i] = json_object_get_double(e);
                if (!isfinite(out[i]))
                        return -EINVAL;
        }
        return 0;
}

json_object *tier_grid_to_json(const TierGrid *g) {
        json_object *o = json_object_new_object(), *rate, *burst;

        if (!o)
                return NULL;
        rate = tier_json_doubles(g->rate, g->n_rate);
        burst = tier_json_doubles(g->burst, g->n_burst);
        if (!rate || !burst || json_object_object_add(o, "rate", rate) < 0) {
                json_object_put(rate);
                json_object_put(burst);
                json_object_put(o);
                return NULL;
        }
        if (json_object_object_add(o, "burst", burst) < 0) {
                json_object_put(burst);
                json_object_put(o);
                return NULL;
        }
        return o;
}

/* Reads an ascending array of 1..TIER_GRID_MAX finite numbers >= min_first. */
static int doubles_from_json(json_object *a, double min_first, double *out, unsigned *ret_n) {
        size_t n;

        if (!json_object_is_type(a, json_type_array))
                return -EINVAL;
        n = json_object_array_length(a);
        if (n < 1 || n > TIER_GRID_MAX)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(a, i);

                if (!json_object_is_type(e, json_type_double) && !json_object_is_type(e, json_type_int))
                        return -EINVAL;
                out[i] = json_object_get_double(e);
                if (!isfinite(out[i]) || out[i] < min_first || (i > 0 && out[i] <= out[i - 1]))
                        return -EINVAL;
        }
        *ret_n = (unsigned) n;
        return 0;
}

int tier_grid_from_json(TierGrid *g, json_object *j) {
        json_object *rate, *burst;
        TierGrid t = {};
        int r;

        if (!json_object_object_get_ex(j, "rate", &rate) || !json_object_object_get_ex(j, "burst", &burst))
                return -EINVAL;
        r = doubles_from_json(rate, 1e-300, t.rate, &t.n_rate);
        if (r < 0)
                return r;
        r = doubles_from_json(burst, 0, t.burst, &t.n_burst);
        if (r < 0)
                return r;
        *g = t;
        return 0;
}

static double clamp01(double x) {
        if (!(x > 0)) /* also NaN */
                return 0;
        return x > 1 ? 1 : x;
}

void tier_context_features(const TierContext *c, double ret[static TIER_N_FEATURES]) {
        ret[0] = clamp01(c->local_alloc);
        ret[1] = clamp01(c->local_usage);
        ret[2] = clamp01(c->remote_usage);
        ret[3] = clamp01(c->traffic);
        ret[4] = clamp01(c->contention);
}

uint64_t tier_context_bucket(const TierContext *c, unsigned levels) {
        double f[TIER_N_FEATURES];
        uint64_t key = 0;

        if (levels < 2)
                levels = 2;
        if (levels > 16)
                levels = 16;
        tier_context_features(c, f);
        for (unsigned i = 0; i < TIER_N_FEATURES; i++) {
                unsigned q = (unsigned) (f[i] * levels);

                if (q >= levels) /* f == 1 belongs to the top bucket */
                        q = levels - 1;
                key = (key << 4) | q;
        }
        return key;
}

int tier_reward(TierRewardNorm *n, TierTenantKind kind, double value, double *ret_reward) {
        double cost;

        if (!isfinite(value) || value <= 0)
                return -EINVAL;
        switch (kind) {
        case TIER_TENANT_BATCH:
                cost = value;
                break;
        case TIER_TENANT_SERVING:
                cost = 1.0 / value;
                break;
        default:
                return -EINVAL;
        }
        if (!isfinite(cost) || cost <= 0)
                return -EINVAL;
        if (n->ref_cost <= 0)
                n->ref_cost = cost;
        *ret_reward = 1.0 - cost / n->ref_cost;
        return 0;
}
