/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared vocabulary of the tiering policies: the seeded RNG, the action grid of
 * (access-rate, burst-duration) thresholds, the per-tenant context and the
 * per-tenant reward normalisation. Pure code: no I/O, no logging. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

/* xoshiro256** state; seeded through splitmix64 so any 64-bit seed is fine. */
typedef struct TierRng {
        uint64_t s[4];
} TierRng;

void tier_rng_seed(TierRng *r, uint64_t seed);
uint64_t tier_rng_next(TierRng *r);
/* Uniform in [0, 1). */
double tier_rng_uniform(TierRng *r);
/* Uniform integer in [0, n); n == 0 returns 0. */
uint64_t tier_rng_below(TierRng *r, uint64_t n);
/* Standard normal (Box-Muller, two uniforms per call). */
double tier_rng_normal(TierRng *r);
/* State as a JSON array of 4 hex strings and back. to_json returns NULL on OOM;
 * from_json returns 0 or -EINVAL. */
json_object *tier_rng_to_json(const TierRng *r);
int tier_rng_from_json(TierRng *r, json_object *j);

#define TIER_GRID_MAX 16
#define TIER_GRID_DEFAULT_N 6
/* Default grid: access rates log-spaced over [1, 1000] accesses/s (a page re-accessed
 * within 1 s .. 1 ms of being marked); burst thresholds 0 then log-spaced over
 * [0.01, 1] s. */
#define TIER_GRID_DEFAULT_RATE_MIN 1.0
#define TIER_GRID_DEFAULT_RATE_MAX 1000.0
#define TIER_GRID_DEFAULT_BURST_MIN 0.01
#define TIER_GRID_DEFAULT_BURST_MAX 1.0

typedef struct TierGrid {
        unsigned n_rate, n_burst;
        double rate[TIER_GRID_MAX];  /* access-rate thresholds, accesses/s, ascending */
        double burst[TIER_GRID_MAX]; /* burst-duration thresholds, s, ascending; burst[0] == 0 */
} TierGrid;

/* Builds a grid: rates log-spaced over [rate_min, rate_max], bursts 0 then log-spaced over
 * [burst_min, burst_max]. Returns 0, or -EINVAL for sizes outside 1..TIER_GRID_MAX or bad ranges. */
int tier_grid_init(TierGrid *g, unsigned n_rate, unsigned n_burst, double rate_min, double rate_max, double burst_min,
                   double burst_max);
/* The default 6 x 6 grid. */
void tier_grid_default(TierGrid *g);
static inline unsigned tier_grid_size(const TierGrid *g) {
        return g->n_rate * g->n_burst;
}
/* Thresholds of action a (row-major: rate index = a / n_burst). Returns 0 or -ERANGE. */
int tier_grid_action(const TierGrid *g, unsigned a, double *ret_rate, double *ret_burst);
/* {"rate":[...],"burst":[...]}; NULL on OOM. */
json_object *tier_grid_to_json(const TierGrid *g);
/* Returns 0 or -EINVAL (missing, non-ascending, non-finite or out-of-range entries). */
int tier_grid_from_json(TierGrid *g, json_object *j);

/* What a policy sees about a tenant when it decides. The first five fields are the bandit's
 * features (tier_context_features); the rest is link telemetry for the heuristic. */
typedef struct TierContext {
        double local_alloc;  /* fraction of the tenant's working set allowed in local memory, 0..1 */
        double local_usage;  /* used fraction of the local node, 0..1 */
        double remote_usage; /* used fraction of the remote pool, 0..1 */
        double traffic;      /* memory-network traffic as a fraction of link bandwidth, 0..1 */
        double contention;   /* fraction of link bandwidth taken by other hosts, 0..1 */

        double link_bw_Bps; /* bandwidth available to this tenant on the memory link, bytes/s */
        double delta_lat_s; /* remote minus local access latency, s */
        double demote_rate; /* access rate of the next page demotion would pick, 1/s; 0 = local has room */
        double page_size;   /* bytes */
} TierContext;

#define TIER_N_FEATURES 5

/* Feature vector, each clamped to [0, 1] (NaN becomes 0). */
void tier_context_features(const TierContext *c, double ret[static TIER_N_FEATURES]);
/* Quantises each feature into `levels` buckets (2..16) and packs them: equal contexts and
 * contexts differing by less than a bucket share a key. */
uint64_t tier_context_bucket(const TierContext *c, unsigned levels);

typedef enum TierTenantKind {
        TIER_TENANT_BATCH,   /* feedback is a completion time, s */
        TIER_TENANT_SERVING, /* feedback is a throughput, requests/s */
        _TIER_TENANT_KIND_MAX,
} TierTenantKind;

/* Reward normalisation per tenant: the raw reward is -completion time (batch) or
 * -1/throughput (serving); it is divided by the magnitude of the tenant's first raw reward and
 * shifted so that the first episode scores 0: reward = 1 - cost / cost_first. Tenants of any
 * scale then share one reward scale (better than the first episode > 0, worse < 0). */
typedef struct TierRewardNorm {
        double ref_cost; /* 0 until the first feedback */
} TierRewardNorm;

/* Returns 0 and the normalised reward, or -EINVAL for a value that is not finite and > 0 or an
 * unknown kind (the model never sees such feedback). */
int tier_reward(TierRewardNorm *n, TierTenantKind kind, double value, double *ret_reward);

/* A JSON array of the n numbers of v; NULL on OOM. */
json_object *tier_json_doubles(const double *v, size_t n);
/* Reads an array of exactly n finite numbers into out. Returns 0 or -EINVAL. */
int tier_json_doubles_parse(json_object *a, double *out, size_t n);
