/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The two-tier memory model of maio-tiersim: replays a trace against local
 * and remote memory joined by a contended link, with promotions decided by a
 * daemon policy object, LRU demotion, and the INDIGO migration cost model. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "policy.h"
#include "telemetry.h"
#include "trace.h"

typedef struct SimParams {
        double local_fraction;      /* local capacity / footprint, 0..1 */
        double contention;          /* link fraction taken by other hosts, 0..0.9 */
        double local_lat_s;         /* local access latency */
        double remote_lat_s;        /* remote access latency on an idle link */
        double link_bw_Bps;         /* memory-link bandwidth */
        double page_size;           /* bytes per page */
        double line_size;           /* bytes per remote access on the link */
        double accesses_per_sample; /* memory accesses one trace sample stands for */
        double cpu_per_access_s;    /* compute between accesses */
        double mlp;                 /* memory-level parallelism: accesses in flight at once */
        double bookkeeping;         /* per-migration fixed cost, in units of Δlatency */
        TelemetryParams telemetry;
} SimParams;

void sim_params_default(SimParams *p);
/* Returns 0 or -EINVAL, naming the bad field in *ret_field. */
int sim_params_check(const SimParams *p, const char **ret_field);

typedef struct SimResult {
        double runtime_s;
        uint64_t promotions, demotions;
        uint64_t traffic_bytes; /* remote accesses x line size + migrations x page size */
        uint64_t local_samples, remote_samples;
} SimResult;

typedef struct Sim Sim;

/* Keeps a reference to t (which must outlive the Sim). Returns 0, -EINVAL or -ENOMEM. */
int sim_new(const Trace *t, const SimParams *p, Sim **ret);
void sim_free(Sim *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Sim *, sim_free);

/* Runtime with the whole footprint local: the lower bound of every policy. */
double sim_all_local(const Sim *s);
/* Local capacity in pages. */
size_t sim_local_capacity(const Sim *s);
/* The context an episode starts in (constant for a trace and params). */
void sim_context(const Sim *s, TierContext *ret);

/* Runs one episode from an all-remote start under decision d. An online policy (heuristic) is
 * asked again every epoch with the live link state; p may be NULL otherwise. Returns 0 or -errno
 * from the policy. */
int sim_episode(Sim *s, TierPolicy *p, const TierDecision *d, SimResult *ret);

typedef struct SimTraining {
        unsigned episodes;  /* decisions made (simulated + served from the cache) */
        unsigned simulated; /* episodes actually simulated */
        double cache_hit_rate;
        double best_reward; /* best normalised reward seen */
        TierDecision final; /* the greedy decision evaluated at the end */
} SimTraining;

/* Evaluates policy p: a learning policy first trains for `episodes` episodes from episode
 * feedback (rewards normalised as in the daemon, served from a reward cache when known), then
 * its greedy decision runs one evaluation episode into *ret; other policies run one episode.
 * Returns 0 or -errno. */
int sim_evaluate(Sim *s, TierPolicy *p, unsigned episodes, SimResult *ret, SimTraining *ret_training);
