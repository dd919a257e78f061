/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The multi-tenant mode of maio-tiersim: several tenants, each the two-tier model of sim.h with
 * its own local memory, trace and policy, run epoch by epoch in lockstep over one memory link.
 *
 * The shared resource is the link's promotion bandwidth: at most link_pages page promotions per
 * epoch over all tenants. A tenant's demand in an epoch is what its policy's thresholds call for
 * (its hot remote pages, capped by its rate limit and its local capacity, as sim_episode caps
 * them); a scheduler grants each tenant a number of promotions per epoch and the tenant promotes
 * min(grant, demand). By default each tenant's link utilisation is, as in the single-tenant
 * model, the contention (everything else on the link) plus its own traffic: the promotion budget
 * is the only thing the tenants share. With shared_latency they also share the latency: an
 * epoch's utilisation is the contention plus every tenant's traffic (remote accesses and the
 * previous epoch's page moves) over the epoch's length (the slowest tenant's).
 *
 * Strategies: alloc (daemon/sched/alloc.h: priority classes in order, weighted max-min fair inside
 * a class), equal (max-min fair with equal weights, capped by demand and work-conserving: the usual
 * water-filling), fcfs (in order of joining, each demand served in full while the link lasts).
 * Modes: event (re-allocates at every join or leave and whenever a demand changed) and periodic
 * (at the start, then every `period` epochs only, at epochs phase, phase + period, ...: grants
 * stand in between, a tenant that joined since has none and a leaver's grant stays unused). The
 * phase, period / 2 by default, keeps the timer out of step with churn, as an unsynchronised
 * timer is on average: a joiner waits period / 2 epochs for its first grant.
 *
 * Churn: every churn_every epochs the tenant of the next slot (round robin from slot 0) leaves and
 * a new one with the same priority, workload and trace joins, starting its trace from epoch 0 with
 * all its pages remote. A tenant whose trace ends leaves; its slot stays empty until churn refills
 * it.
 *
 * Degradation of a tenant: its runtime in the run / its runtime alone over the same epochs - 1,
 * where alone means the same trace, policy and contention with no other tenant on the link and the
 * whole promotion budget its own. Of a priority: the sum over its tenants of their runtimes / the
 * sum of their alone runtimes - 1. Total runtime: the sum of all tenants' runtimes. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "alloc.h"
#include "policy.h"
#include "sim.h"
#include "workload.h"

#define MULTI_MAX_TENANTS 64

typedef enum MultiStrategy { MULTI_ALLOC, MULTI_EQUAL, MULTI_FCFS, _MULTI_STRATEGY_MAX } MultiStrategy;
typedef enum MultiMode { MULTI_EVENT, MULTI_PERIODIC, _MULTI_MODE_MAX } MultiMode;

const char *multi_strategy_name(MultiStrategy s);
const char *multi_mode_name(MultiMode m);
/* Returns the value or -EINVAL. */
int multi_strategy_from_name(const char *name);
int multi_mode_from_name(const char *name);

typedef struct MultiParams {
        unsigned n_tenants;
        unsigned priority[MULTI_MAX_TENANTS];
        const char *workload[MULTI_MAX_TENANTS]; /* bfs, zipf, phases, scan */
        WorkloadParams wp;
        SimParams sp;         /* local_fraction and contention apply to every tenant */
        const char *policy;   /* best, or a fixed policy: static, grid, ewma, none */
        TierPolicyParams pp;  /* of the policy (grid action) */
        uint64_t link_pages;  /* promotions per epoch over all tenants */
        unsigned churn_every; /* epochs between churn events, 0 = no churn */
        unsigned period;      /* periodic mode: epochs between re-allocations */
        int period_phase;     /* periodic mode: first re-allocation after the start, -1 = period / 2 */
        unsigned horizon;     /* epochs simulated, 0 = the trace length */
        bool shared_latency;  /* tenants' traffic raises each other's remote latency (default off) */
        uint64_t seed;
} MultiParams;

/* The scenario: 8 tenants, priorities 0 0 3 3 5 5 7 7 running bfs zipf phases scan twice
 * over, local fraction 0.2, contention 0.5, policy best, churn every 20 epochs, period 10 (phase 5),
 * 256 promotions per epoch, latency not shared, seed 1. */
void multi_params_default(MultiParams *p);
/* Parses "PRIO:WORKLOAD,..." into p's tenants. Returns 0 or -EINVAL. */
int multi_params_parse_tenants(MultiParams *p, const char *spec);

/* The seed of slot's trace (and policy): distinct traces for tenants of one workload. */
uint64_t multi_slot_seed(uint64_t seed, unsigned slot);

/* One epoch as the scheduler saw it, for observers (tests). Arrays are indexed by slot; inactive
 * slots have active false and zeros elsewhere. */
typedef struct MultiEpochView {
        unsigned epoch;
        unsigned n_slots;
        uint64_t capacity;
        bool reallocated; /* the scheduler ran this epoch */
        const bool *active;
        const unsigned *priority;
        const uint64_t *join_seq;     /* order of joining (fcfs) */
        const uint64_t *demand;       /* this epoch's demand */
        const uint64_t *alloc_demand; /* the demand the standing grant was computed from */
        const uint64_t *grant;        /* the standing grant */
        const uint64_t *promoted;     /* promotions made: min(grant, demand) */
} MultiEpochView;

typedef void (*MultiObserver)(const MultiEpochView *v, void *userdata);

typedef struct MultiTenantResult {
        unsigned slot, priority, generation; /* generation 0 = the tenant there from the start */
        const char *workload;
        unsigned join_epoch, epochs; /* epochs it ran */
        double runtime_s, alone_s, degradation;
        uint64_t demand, promoted; /* summed over its epochs */
} MultiTenantResult;

typedef struct MultiRun {
        MultiStrategy strategy;
        MultiMode mode;
        unsigned epochs;
        size_t n_tenants;
        MultiTenantResult *tenants; /* every tenant that ran, in order of joining */
        bool have_priority[ALLOC_PRIORITIES];
        double degradation[ALLOC_PRIORITIES]; /* by priority */
        double total_runtime_s, total_alone_s;
        uint64_t reallocations;
        uint64_t promoted;   /* promotions over all tenants and epochs */
        uint64_t idle_pages; /* budget left unused while some demand was unmet, summed over epochs */
} MultiRun;

typedef struct Multi Multi;

/* Generates the traces and the alone baselines. Returns 0, -EINVAL, -ENOENT (unknown workload
 * or policy), -EOPNOTSUPP (a learning or online policy) or -ENOMEM. */
int multi_new(const MultiParams *p, Multi **ret);
void multi_free(Multi *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Multi *, multi_free);

const MultiParams *multi_params(const Multi *m);
/* Runs the scenario under a strategy and a mode; obs (may be NULL) sees every epoch. Returns 0
 * or -errno; on success release *ret with multi_run_done. */
int multi_run(Multi *m, MultiStrategy strategy, MultiMode mode, MultiObserver obs, void *userdata, MultiRun *ret);
void multi_run_done(MultiRun *r);
