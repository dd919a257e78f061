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

/* Decisions the reward cache may answer before an episode runs, as maiod's
 * TIERD_CACHE_SERVES_MAX did before its training thread (maiod now looks the cache up once per
 * decision and runs it; not mirrored here yet): each hit is fed to the policy without a run; after a miss, or the
 * last hit, that decision runs. */
#define SIM_CACHE_SERVES_MAX 8

/* How sim_evaluate trains a learning policy and judges it. */
typedef struct SimTrainOpts {
        unsigned episodes; /* runs of the tenant, each under one decision */
        uint64_t seed;     /* of the feedback noise */
        /* Each reported completion time is the true one times a uniform factor in
         * [1 - noise, 1 + noise]; 0 = exact. Regret is always judged on the true runtime. */
        double noise;
        /* A context shift: from episode shift_episode (0-based; 0 = no shift) on, the link
         * contention is shift_contention; the final decision is judged in that setting. */
        unsigned shift_episode;
        double shift_contention;
        /* Judge against the best grid action (simulates every grid action in each setting once). */
        bool regret;
        unsigned checkpoint; /* with regret: also judge the greedy decision after this many runs (0 = no) */
} SimTrainOpts;

typedef struct SimTraining {
        unsigned episodes;     /* runs */
        unsigned cache_served; /* decisions answered by the reward cache, which cost no run */
        double cache_hit_rate;
        double best_reward; /* best normalised (reported) reward seen */
        TierDecision final; /* the greedy decision evaluated at the end */
        /* With opts.regret; runtimes are true (noise-free) and in the final setting. */
        bool have_regret;
        double best_runtime_s; /* of the best grid action */
        unsigned best_action;
        double regret;            /* runtime of the final decision / best - 1 */
        double cumulative_regret; /* mean over the runs of runtime / best runtime in its setting - 1 */
        double checkpoint_regret, checkpoint_cumulative_regret; /* the same after opts.checkpoint runs */
} SimTraining;

/* Evaluates policy p: a learning policy first trains for opts->episodes runs from episode
 * feedback (rewards normalised as in the daemon, the reward cache answering decisions whose
 * reward is known), then its greedy decision runs one evaluation episode into *ret; other
 * policies run one episode (and, with opts->regret, are judged the same way). A grid action's
 * episode is deterministic for a setting, so its true runtime is simulated once and reused.
 * Returns 0 or -errno. */
int sim_evaluate(Sim *s, TierPolicy *p, const SimTrainOpts *opts, SimResult *ret, SimTraining *ret_training);

/* Changes the link contention (0..0.9) for the following episodes. Returns 0 or -EINVAL. */
int sim_set_contention(Sim *s, double contention);

/* ---- Stepping one tenant epoch by epoch: the multi-tenant mode (multi.h) drives several Sims
 * that share one memory link, with the same model as sim_episode. ---- */

size_t sim_epochs(const Sim *s);
/* Starts an episode: every page remote, telemetry cleared. */
void sim_step_reset(Sim *s);
/* Samples of epoch e on local and on remote pages. */
void sim_step_counts(const Sim *s, size_t e, uint64_t *ret_local, uint64_t *ret_remote);
/* Serves epoch e's accesses (starting at now, lasting t_acc) under d; returns the promotion
 * candidates (hot remote pages) it found, in trace order. */
size_t sim_step_observe(Sim *s, const TierDecision *d, size_t e, double now, double t_acc);
/* Pages the decision would promote of n_cand candidates: capped by its rate limit and by the
 * local capacity, as sim_episode caps them. */
uint64_t sim_step_demand(const Sim *s, const TierDecision *d, size_t n_cand, double t_acc);
/* Promotes at most grant of the n_cand candidates (and the decision's caps) at time now, demoting
 * LRU pages for room. Returns pages moved (promotions + demotions). */
uint64_t sim_step_migrate(Sim *s, const TierDecision *d, size_t n_cand, uint64_t grant, double now, double t_acc,
                          SimResult *res);
/* The model's pieces: time to serve accesses at link utilisation u, cost of one page move at u,
 * and the utilisation ceiling. */
double sim_access_time_at(const SimParams *p, double local_acc, double remote_acc, double u);
double sim_page_move_time(const SimParams *p, double u);
double sim_util_max(void);
