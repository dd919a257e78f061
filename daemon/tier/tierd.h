/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tiering in the daemon (INDIGO): each tenant's promotion thresholds chosen by a
 * policy of daemon/tier/ from its runtime feedback, in a context computed from
 * telemetry below --root, applied as DAMON schemes or NUMA-balancing knobs
 * through the knob journal. Pure parts (context, plans, validation, transfer)
 * are separated from the I/O and declared here for the daemon and its tests. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

#include "conf.h"
#include "detect.h"
#include "journal.h"
#include "notify.h"
#include "policy.h"
#include "request.h"
#include "resource.h"
#include "reward-cache.h"
#include "sched-event.h"
#include "store.h"
#include "tenants.h"

typedef struct Tierd Tierd;

/* Quantisation of context features for the reward cache and model buckets (as maio-tiersim). */
#define TIERD_BUCKET_LEVELS 8
/* Reward history entries GET /v1/tenants/{id}/policy returns. */
#define TIERD_HISTORY_MAX 50
#define TIERD_NODES_MAX 64
#define TIERD_PAGE_SIZE 4096.0
/* Rewards below this are clipped: a run many times slower than the first says "bad" already, and
 * an unbounded value would swamp a model other tenants may start from. */
#define TIERD_REWARD_MIN -10.0

/* The effective backend; the [tiering] backend words are TIERING_BACKEND_* in conf.h. */
typedef enum TierdBackend {
        TIERD_BACKEND_OFF,
        TIERD_BACKEND_DAMON,
        TIERD_BACKEND_NUMAB,
        _TIERD_BACKEND_MAX,
} TierdBackend;

/* "off", "damon", "numa-balancing"; NULL outside the enum. */
const char *tierd_backend_to_string(TierdBackend b);

/* ---- telemetry (read below the root) and context (pure) ---- */

typedef struct TierdVmstat {
        bool valid;
        uint64_t numa_hint_faults, pgpromote_success, pgpromote_candidate, pgdemote_kswapd, pgdemote_direct,
                pgdemote_khugepaged, pgmigrate_success, pgmigrate_fail;
} TierdVmstat;

typedef struct TierdNodeMem {
        unsigned node;
        uint64_t total_kb, free_kb;
} TierdNodeMem;

/* One DAMON region of a snapshot. */
typedef struct TierdRegion {
        uint64_t start, end;
        unsigned nr_accesses; /* sampling intervals it was seen accessed in, per aggregation interval */
        unsigned age;         /* aggregation intervals its access rate has held */
} TierdRegion;

typedef struct TierdTelemetry {
        double time_s; /* CLOCK_MONOTONIC when read; 0 = never read */
        TierdVmstat vmstat;
        TierdNodeMem nodes[TIERD_NODES_MAX];
        size_t n_nodes;
        double psi_some_avg10; /* % of time some task stalled on memory, NAN unknown */
        TierdRegion *regions;  /* DAMON snapshot of maiod's kdamond (owned), NULL none */
        size_t n_regions;
        double sample_s, aggr_s; /* the kdamond's intervals the snapshot was counted in */
} TierdTelemetry;

/* Which nodes are fast (local) and which slow (remote), from the memory tiers. */
typedef struct TierdTiers {
        bool fast[TIERD_NODES_MAX];
        bool slow[TIERD_NODES_MAX];
        int local_nid;  /* first fast node, -1 none */
        int remote_nid; /* first slow node, -1 none (one tier) */
} TierdTiers;

/* The memory link as configured ([tiering] link_*, *_latency_ns, promote_budget_percent). */
typedef struct TierdLink {
        double bandwidth_Bps;   /* raw link bandwidth */
        double contention;      /* fraction taken by other hosts, 0..1 */
        double delta_latency_s; /* remote minus local latency on an idle link */
        double budget;          /* fraction of our bandwidth promotions may use, 0..1 */
} TierdLink;

/* Where a tenant's memory is: bytes on fast and slow nodes (cgroup memory.numa_stat). */
typedef struct TierdTenantMem {
        bool valid;
        uint64_t local_bytes, remote_bytes;
} TierdTenantMem;

/* Frees the regions and zeroes t; accepts a zeroed one. */
void tierd_telemetry_done(TierdTelemetry *t);

/* Pure parsers of the kernel's text. vmstat: the counters above from /proc/vmstat lines
 * (others ignored; valid when at least pgmigrate_success was found). PSI: "some avg10=" of
 * /proc/pressure/memory. numa_stat: the anon and file N<node>= totals of a cgroup's
 * memory.numa_stat, split by tiers. meminfo: "Node N MemTotal:" and "MemFree:" kB. Each returns
 * 0 or -EINVAL (nothing usable found). */
int tierd_parse_vmstat(const char *text, TierdVmstat *ret);
int tierd_parse_psi(const char *text, double *ret_some_avg10);
int tierd_parse_numa_stat(const char *text, const TierdTiers *tiers, TierdTenantMem *ret);
int tierd_parse_meminfo(const char *text, TierdNodeMem *ret);

/* Fast and slow nodes from detect's "memory_tierN: LIST" strings (ascending tier numbers, so
 * the first is the fastest), or, without tiers, every node in nodes_list fast. Returns 0 or -EINVAL. */
int tierd_tiers_from_features(char *const *memory_tiers, const char *nodes_list, TierdTiers *ret);

/* Reads vmstat, node meminfo and PSI below root (missing files leave their part unknown). Returns 0 or -ENOMEM. */
int tierd_telemetry_read(const char *root, TierdTelemetry *ret);
/* Reads a cgroup's memory.numa_stat below root. Returns 0, -ENOENT or -errno. */
int tierd_tenant_mem_read(const char *root, const char *cgroup, const TierdTiers *tiers, TierdTenantMem *ret);
/* Reads the tried regions of scheme 0 of kdamond k below root into t, with the intervals.
 * Returns the number of regions or -errno. */
int tierd_regions_read(const char *root, unsigned kdamond, TierdTelemetry *t);

/* The access rate (1/s) of the page promotion would demote first: when fast memory is at
 * least 90% used (or memory stalls are reported), the rate at which the hottest regions of
 * the snapshot fill the fast nodes' capacity; else 0 (there is room). Pure. */
double tierd_demote_rate(const TierdTelemetry *t, const TierdTiers *tiers);

/* The tenant's context from telemetry now and at the previous read (prev may be NULL or never
 * read: no traffic measured yet), mirroring maio-tiersim's: local_alloc (its bytes on fast
 * nodes, else the host's), local and remote usage, migration traffic over the link, contention;
 * link bandwidth left to us and the latency gap grown with utilisation u as 1/(1-u). Pure. */
void tierd_context_compute(const TierdTelemetry *now, const TierdTelemetry *prev, const TierdTiers *tiers,
                           const TierdLink *link, const TierdTenantMem *mem, TierContext *ret);

/* A number for API replies: 10 significant digits, enough for thresholds and rewards, without
 * the binary noise of a 17-digit rendering (3.0186320000000002). NULL on OOM. */
json_object *tierd_json_number(double v);

/* {"local_alloc":..,...,"page_size":..} and back (missing members are 0). to_json returns NULL on
 * OOM; from_json returns 0 or -EINVAL. */
json_object *tierd_context_to_json(const TierContext *c);
int tierd_context_from_json(json_object *j, TierContext *ret);

/* ---- write plans (pure) ---- */

typedef struct TierdWrite {
        char *name; /* knob name */
        char *value;
        bool if_changed; /* only when an earlier write of the plan changed something (commit) */
} TierdWrite;

typedef struct TierdPlan {
        TierdWrite *writes;
        size_t n, allocated;
} TierdPlan;

void tierd_plan_done(TierdPlan *p);
/* Appends a write; returns 0 or -ENOMEM. */
int tierd_plan_add(TierdPlan *p, bool if_changed, const char *name, const char *format, ...) _printf_(4, 5);

/* One tenant as the appliers see it. */
typedef struct TierdApplyTenant {
        int64_t id;
        int priority;       /* 0 highest .. 7 */
        const char *cgroup; /* NULL: DAMON cannot scope schemes to it */
        TierDecision decision;
        double quota_Bps; /* its promotion bandwidth as the scheduler allocated it; < 0: none yet */
} TierdApplyTenant;

/* One tenant's allocated promotion bandwidth. */
typedef struct TierdShare {
        int64_t id;
        double Bps;
} TierdShare;

typedef struct TierdDamonInput {
        unsigned kdamond;          /* the index maiod owns */
        bool create;               /* raise nr_kdamonds to kdamond + 1 first */
        bool running;              /* on already: changes are applied with commit */
        int local_nid, remote_nid; /* targets of migrate_hot / migrate_cold; -1 none */
        double sample_s, aggr_s;   /* monitoring intervals to set */
        double demote_after_s;     /* idle time before migrate_cold demotes */
        const TierdApplyTenant *tenants;
        size_t n_tenants;
        /* NULL: the tenants with a cgroup in the order given. Else each tenant's slot
         * (tierd_slots_assign(); SIZE_MAX none) among n_slots: slot k is schemes 1 + 2k and 2 + 2k,
         * a slot nobody holds is free (its schemes count only). */
        const size_t *slots;
        size_t n_slots;
} TierdDamonInput;

/* Stable scheme slots, so that a join or a leave rewrites the schemes of that tenant only (writing
 * nr_schemes makes the kernel rebuild every scheme): *slots holds a tenant id per slot (0 free).
 * Frees the slots of tenants not in t (or without a cgroup), keeps every other's, gives each new
 * tenant with a cgroup the lowest free slot or a new one, drops the trailing free slots once at most
 * half the slots are held (a new count rebuilds every scheme). Fills ret[i]
 * with tenant i's slot (SIZE_MAX: no cgroup). Returns 0 or -ENOMEM (the table then still valid). */
int tierd_slots_assign(int64_t **slots, size_t *n_slots, const TierdApplyTenant *t, size_t n, size_t *ret);

/* The DAMON backend's writes: the kdamond (paddr, one target), scheme 0 a stat scheme over all
 * regions (the snapshot the context reads), then per tenant with a cgroup, in the order given,
 * a migrate_hot scheme (nr_accesses minimum from the access-rate threshold, age minimum from the
 * burst-duration threshold, target the local node) and a migrate_cold scheme (idle regions to the
 * remote node), both limited to the tenant's memcg and to its quota_Bps per second (the
 * scheduler's allocation; a tenant without one yet gets DAMON's smallest quota, 4096 bytes); last the state: on, or
 * commit when running. Returns 0, -EINVAL or -ENOMEM. */
int tierd_plan_damon(const TierdDamonInput *in, TierdPlan *ret);

/* The promotion bandwidth (bytes/s) a tenant's decision calls for: 0 when it promotes nothing
 * (another rule, or no local node); else the rate the tenant states (stated_Bps > 0) or, without
 * one, the bytes of the snapshot's regions hot enough for its thresholds (nr_accesses and age
 * minimums as the DAMON plan sets them) per quota interval (1 s); either capped by the bytes it
 * has on remote nodes (mem valid) and by the decision's own rate limit. Without a snapshot (t NULL
 * or no regions) the regions' bound is budget_Bps. Pure. */
double tierd_promotion_demand(const TierDecision *d, bool can_promote, const TierdTenantMem *mem,
                              const TierdTelemetry *t, double budget_Bps, double stated_Bps);

/* DAMON nr_accesses minimum for an access rate (1/s): the expected count of sampling intervals a
 * page of that rate is seen accessed in per aggregation interval, 1 .. aggr/sample. Pure. */
unsigned tierd_damon_nr_accesses(double rate, double sample_s, double aggr_s);

typedef struct TierdNumabInput {
        int mode_original;               /* kernel.numa_balancing before maiod, -1 unknown */
        const TierdApplyTenant *tenants; /* the first decides: callers sort by priority */
        size_t n_tenants;
        double budget_Bps;
} TierdNumabInput;

/* The NUMA-balancing backend's writes for the governing tenant's decision:
 * kernel.numa_balancing with the tiering bit (2) added to the original mode,
 * sched.numa_balancing.hot_threshold_ms = 1000 / access rate (a page is hot when its hint fault
 * comes sooner), kernel.numa_balancing_promote_rate_limit_MBps from the budget (0 when the
 * decision promotes nothing). No tenants: no writes. Returns 0 or -ENOMEM. */
int tierd_plan_numab(const TierdNumabInput *in, TierdPlan *ret);

/* ---- feedback validation (pure) ---- */

typedef enum TierdMetric {
        TIERD_METRIC_COMPLETION_TIME, /* "completion_time_s", batch tenants */
        TIERD_METRIC_REQUESTS_PER_S,  /* "requests_per_s", serving tenants */
        _TIERD_METRIC_MAX,
} TierdMetric;

const char *tierd_metric_to_string(TierdMetric m);

typedef struct TierdFeedback {
        int64_t episode;
        TierdMetric metric;
        double value;
} TierdFeedback;

/* Checks a feedback body for a tenant of kind: only the members episode (integer >= 1) and
 * exactly one metric, the one of its kind, finite and > 0. Returns 0, or -EINVAL with *ret_code
 * (a static error code: unknown-field, wrong-type, missing-field, invalid-value) and a message. */
int tierd_feedback_parse(json_object *body, TierTenantKind kind, TierdFeedback *ret, const char **ret_code, char *msg,
                         size_t msg_size);

/* Kind of a workload class: "batch" or "serving". Returns the kind or -EINVAL. */
int tierd_kind_from_class(const char *workload_class);

/* ---- transfer (pure) ---- */

typedef struct TierdModelCandidate {
        int64_t id;
        double features[TIER_N_FEATURES];
} TierdModelCandidate;

/* Index of the candidate whose centroid is nearest (Euclidean) to features; ties go to the
 * earlier one (callers list newest first). Returns the index, or -ENOENT when n is 0. */
int tierd_model_nearest(const TierdModelCandidate *c, size_t n, const double features[static TIER_N_FEATURES]);
/* Parses a JSON array of TIER_N_FEATURES numbers in [0, 1]. Returns 0 or -EINVAL. */
int tierd_features_from_json(json_object *j, double ret[static TIER_N_FEATURES]);
json_object *tierd_features_to_json(const double f[static TIER_N_FEATURES]);
/* Whether an imported model's size parameters stay within what one event loop can afford (hidden
 * <= 256 units, batch <= 4096, train_steps <= 1024, replay <= 2^20): policy_from_json() accepts any
 * size, and one update costs train_steps x batch passes. Returns 0 or -EINVAL. */
int tierd_model_check_bounds(json_object *model);
/* Rewrites a model's seed and RNG state for seed, so a transferred or imported model explores
 * like a fresh policy with that seed. Returns 0, -EINVAL (not a model object) or -ENOMEM. */
int tierd_model_reseed(json_object *model, uint64_t seed);

/* ---- anchors (pure, tierd-anchor.c) ---- */

/* Anchor entries held at most: beyond, new (bucket, action) pairs are not kept (counted). */
#define TIERD_ANCHORS_MAX 4096

/* One anchor entry: the mean normalised reward of grid action `action` measured in context bucket
 * `bucket` (TIERD_BUCKET_LEVELS levels) by tenants of one kind. The entries of a bucket are its
 * anchor; its best action is the thresholds a joining tenant starts from. */
typedef struct TierdAnchor {
        TierTenantKind kind;
        uint64_t bucket;
        unsigned action;
        double rate_threshold, burst_threshold; /* the action's thresholds */
        double features[TIER_N_FEATURES];       /* mean features of the contexts its rewards were measured in */
        double reward;                          /* mean normalised reward */
        int64_t samples;                        /* rewards averaged */
        int64_t tenant_id;                      /* the tenant that measured it last */
        int64_t updated_usec;                   /* CLOCK_REALTIME */
} TierdAnchor;

typedef struct TierdAnchorSet {
        TierdAnchor *v;
        size_t n, allocated;
} TierdAnchorSet;

void tierd_anchor_set_done(TierdAnchorSet *s);
/* Index of the entry (kind, bucket, action), or -ENOENT. */
int tierd_anchor_find(const TierdAnchorSet *s, TierTenantKind kind, uint64_t bucket, unsigned action);
/* Folds one measured reward (sample: samples 1, its context's features) into a: the running means
 * of reward and features, one more sample, the sample's tenant and time; a with no samples becomes
 * the sample. Returns 0 or -EINVAL (reward or a feature not finite). */
int tierd_anchor_fold(TierdAnchor *a, const TierdAnchor *sample);
/* Replaces the entry of a's (kind, bucket, action) or appends it. Returns its index, -ENOSPC when
 * TIERD_ANCHORS_MAX entries are held already, or -ENOMEM. */
int tierd_anchor_put(TierdAnchorSet *s, const TierdAnchor *a);
/* The anchor a joining tenant of kind in a context with features f starts from: the entry nearest
 * to f (Euclidean over its mean features; ties go to the earlier entry) within max_distance, then
 * in that entry's bucket the action with the best mean reward (means within 1e-9 tie; ties: more
 * samples, then the lower action). Returns the chosen entry's index and *ret_distance (the nearest entry's), or
 * -ENOENT. */
int tierd_anchor_nearest(const TierdAnchorSet *s, TierTenantKind kind, const double f[static TIER_N_FEATURES],
                         double max_distance, double *ret_distance);

/* ---- per-tenant state (tierd.c) ---- */

typedef struct TierdTenant {
        int64_t id;
        uid_t uid; /* the owner, who hears of its threshold changes */
        int priority;
        char *workload_class;
        char *cgroup; /* NULL none */
        TierTenantKind kind;
        TierPolicy *policy;               /* the published model: decisions use it (possibly one update behind) */
        TierPolicy *trainee;              /* learning policies: the copy updates run on; NULL while a job has it */
        struct TierdTrainUpdate *pending; /* updates waiting for the next training job */
        size_t n_pending;
        bool training; /* a job is out; only the job numbered train_seq is taken back */
        uint64_t train_seq;
        RewardCache *cache;
        TierRewardNorm norm;
        uint64_t seed;
        int64_t model_id;
        int64_t transferred_from; /* 0 none */
        int64_t model_samples;
        double centroid[TIER_N_FEATURES];
        int64_t cache_hits, cache_misses;
        int64_t episode;              /* the open episode */
        TierDecision decision;        /* the open episode's (online policies: the latest) */
        TierContext context;          /* the context the decision was made in */
        int64_t decision_cache_hits;  /* cached rewards fed before the open episode's decision */
        int64_t decided_usec;         /* CLOCK_REALTIME */
        bool republished;             /* a tick changed the decision: announce it once applied */
        bool lookup;                  /* created without a close local model: the on_lookup hooks run */
        char *anchor;                 /* the open episode's decision came from an anchor: which and how far */
        int64_t promotion_rate_bytes; /* the promotion rate (bytes/s) the tenant states, 0 none */
        struct TierdTenant *next;
} TierdTenant;

/* Policies a tenant may run (the simulator's baselines ewma, none and grid are not offered). */
bool tierd_policy_selectable(const char *name);

/* What the tiering module is built from: all borrowed, and alive until tierd_free(). */
typedef struct TierdDeps {
        Store *store;
        const char *root;
        bool dry_run;
        sd_event *event; /* NULL: no timer */
        Journal *journal;
        Tenants *tenants; /* who sees which model (GET /v1/models/{id}); NULL when no op is served */
        Features *features;
        const Config *config; /* read when tiering decides: changes show at once */
} TierdDeps;

/* Returns 0 or -ENOMEM. Nothing runs until tierd_start(). */
int tierd_new(const TierdDeps *deps, Tierd **ret);
/* After a reload: the configuration to read from now on. */
void tierd_set_config(Tierd *m, const Config *config);
/* Where thresholds-changed (details {"thresholds":{...}}, as GET .../thresholds) is announced from
 * now on: after a feedback commit, a policy change or enrolment, and a tick in which an online
 * policy changed its decision (not when a GET creates a tenant's state: its reply has them). n is borrowed and must
 * outlive m, or be replaced (NULL: nobody listens). */
void tierd_set_notifier(Tierd *m, const Notifier *n);
/* Where the scheduler hears of what changes promotion demands: a tenant's tiering state created
 * (SCHED_EVENT_TENANT), feedback committed, a policy change or an online policy's new decision
 * (SCHED_EVENT_FEEDBACK). sink is borrowed (NULL: nobody listens). */
void tierd_set_event_sink(Tierd *m, const EventSink *sink);
/* The promotion-bandwidth resource (base/resource.h; userdata is the Tierd): capacity the
 * promotion budget ([tiering] link_bandwidth_mbps, link_contention_percent, promote_budget_percent),
 * one row per tenant with tiering state and a cgroup, demand tierd_promotion_demand(). -ENODEV
 * unless the DAMON backend is in use (numa-balancing has one host-wide rate limit). */
int tierd_promotion_snapshot(void *userdata, ResourceSnapshot *ret);
/* Sets the tenants' quotas to alloc (bytes/s; tenants not listed get none) and re-applies. Returns
 * the number of kernel writes or the applier's -errno. */
int tierd_promotion_apply(void *userdata, const ResourceDemand *tenants, const uint64_t *alloc, size_t n);
/* A tenants hook (HookFn): tierd_tenant_removed(). */
void tierd_tenant_removed_hook(void *userdata, int64_t tenant_id);
/* At start, after pools_start(): picks the backend ([tiering] backend, DAMON only when no
 * kdamond but maiod's own exists), loads the tiering state of every tenant that has one,
 * applies it, and arms the telemetry timer. Failures to apply are logged and shown in status.
 * Returns 0 or -errno (logged). */
int tierd_start(Tierd *m);
/* Before journal_stop(), when [knobs] restore_on_exit: takes maiod's kdamond down in the order
 * the kernel needs (state off, then nr_kdamonds, then the rest is gone or restored). Never fails. */
void tierd_stop(Tierd *m);
/* Accepts NULL; returns NULL. */
Tierd *tierd_free(Tierd *m);
static inline void tierd_freep(Tierd **m) {
        tierd_free(*m);
}
/* Tenant id's row is gone: drops its tiering state and applies the rest at once, so its scheme
 * leaves the backend now. Does nothing before tierd_start() or for a tenant without state. */
void tierd_tenant_removed(Tierd *m, int64_t id);

/* The tiering state of tenant t (visible to the caller already), loaded from the store or, with
 * create, created: the tenant takes part from then on (policy and seed from [tiering], a learning
 * policy starting from the nearest model of the workload class, episode 1 opened with thresholds
 * from the nearest anchor when one is within [tiering] anchor_distance_milli, and applied).
 * Returns 0 and *ret (owned by m), -ENOENT without state when !create, -EAGAIN before
 * tierd_start(), or -errno. */
int tierd_tenant_get(Tierd *m, const Tenant *t, bool create, TierdTenant **ret);

/* Enrols tenant t (which has no tiering state yet) with policy and seed instead of the
 * [tiering] defaults, as tierd_tenant_get() with create does otherwise. Returns 0 and *ret,
 * -EEXIST when it has state already, -EINVAL for a policy tenants may not run, or -errno. */
int tierd_tenant_enrol(Tierd *m, const Tenant *t, const char *policy, uint64_t seed, TierdTenant **ret);

/* Whether tt's decision is what the backend applies now; *ret_note says why not (static text)
 * or how ("DAMON schemes 1 and 2", "host-wide"). */
bool tierd_tenant_applied(Tierd *m, const TierdTenant *tt, const char **ret_note);

/* Commits feedback for the open episode and opens the next (one transaction), then applies.
 * Returns 0 and *ret_reward, -ENOENT for an episode that is not the tenant's open one nor a
 * committed one, -EALREADY for one already committed, -EINVAL for a value the reward cannot take
 * (nothing changed for these), or another -errno after which tt is freed (the state is reloaded
 * from the store at its next use). */
int tierd_feedback(Tierd *m, TierdTenant *tt, const TierdFeedback *fb, double *ret_reward);

/* Switches the tenant to policy (tierd_policy_selectable) with seed: a new model (a learning
 * policy starts from the nearest model of its class), the tenant's old model kept for transfer
 * once trained, the open episode replaced by a new one. Returns 0, -EINVAL (nothing changed),
 * or another -errno after which tt is freed as for tierd_feedback(). */
int tierd_policy_set(Tierd *m, TierdTenant *tt, const char *policy, uint64_t seed);

/* Sets the promotion rate (bytes/s) tt states, 0 for none: its promotion demand from the next
 * scheduler pass (tierd_promotion_demand()). Committed before it returns. Returns 0, -EINVAL
 * (negative) or -errno (nothing changed). */
int tierd_promotion_rate_set(Tierd *m, TierdTenant *tt, int64_t bytes);

/* The maiod_tier_* metrics (MetricsWriteFn; userdata is the Tierd): episodes decided, of which
 * from an anchor, anchor entries held and dropped. */
void tierd_metrics_write(void *userdata, FILE *f);

/* Stores an imported model for transfer (no tenant). Returns 0 and *ret_id, -EINVAL (not a model
 * policy_from_json() takes, or not a selectable policy) or -errno. */
int tierd_model_import(Tierd *m, const char *workload_class, const double features[static TIER_N_FEATURES],
                       int64_t samples, json_object *model, int64_t *ret_id);

/* Re-applies every tenant's current decision through the backend. Never fails (errors logged
 * and kept for status). */
void tierd_apply(Tierd *m);

/* GET /v1/status "tiering": requested and effective backend, why another is unavailable, the
 * owned kdamond, tenants, the last apply error. NULL on OOM. */
json_object *tierd_status_to_json(Tierd *m);
/* The backend in use (TIERD_BACKEND_OFF before tierd_start()). */
TierdBackend tierd_backend(Tierd *m);
/* The line for sd_notify STATUS=, e.g. "tiering backend unavailable: foreign kdamond", or NULL. */
const char *tierd_status_note(Tierd *m);

/* ---- models from elsewhere (the fleet) ---- */

/* Registers fn to run with a tenant id when a learning tenant's state is created and no stored
 * model of its workload class and policy lies within [fleet] context_distance_milli of its
 * context (it starts from the nearest one, or afresh, meanwhile). Returns 0 or -ENOSPC. */
int tierd_on_lookup(Tierd *m, HookFn fn, void *userdata);
/* The tiering state of tenant id if it is loaded, else NULL. Owned by m; valid until the next
 * call into m. */
TierdTenant *tierd_tenant_peek(Tierd *m, int64_t id);
/* Tenant id starts over from stored model model_id (reseeded with its seed) as a transfer would
 * have started it, when it has not learnt from any feedback yet: the open episode is replaced
 * by the next one, decided greedily by that model. Returns 0, -ENOENT (no loaded state),
 * -EALREADY (it learnt already: nothing changes), -EINVAL (the model does not load) or -errno
 * after which its state is reloaded from the store at its next use. */
int tierd_tenant_adopt(Tierd *m, int64_t id, int64_t model_id);
/* Names stored model model_id's origin "HOST/TENANT" (copied) for model_origin. Returns 0 or -ENOMEM. */
int tierd_model_label_set(Tierd *m, int64_t model_id, const char *label);
/* model_origin of GET /v1/tenants/{id}/policy: "local" (no transfer), "transfer:TENANT" (a local
 * tenant's model; "transfer:model/ID" once that tenant is gone) or "fleet:HOST/TENANT". Returns 0
 * and a malloc'd *ret, or -ENOMEM. */
int tierd_model_origin(Tierd *m, const TierdTenant *tt, char **ret);
/* Validates a model document exactly as POST /v1/models does (members, workload class, context,
 * model) and stores it. Returns 0 and *ret_id, or -errno with reply filled (code and message). */
int tierd_model_import_document(Tierd *m, json_object *body, Reply *reply, int64_t *ret_id);

/* ---- appliers (tierd-apply.c) ---- */

typedef struct TierdApplier {
        TierdBackend backend;
        char *unavailable; /* why the requested (or preferred) backend is not used, NULL none */
        int kdamond;       /* owned index, -1 none */
        bool kdamond_made; /* maiod set it up in this run (or found its own) */
        char *last_plan;   /* the plan last executed, to skip identical ones */
        char *error;       /* the last apply error, NULL none */
        uint64_t writes;   /* kernel writes made through the journal */
        /* The values the last successful run left in force (sorted by name, one per name), trusted
         * instead of reading the kernel's file while the journal saw no other write and no override
         * since (its counters then: known_writes, known_overrides). */
        TierdPlan known;
        uint64_t known_writes, known_overrides;
        int64_t *slots; /* DAMON scheme slots: a tenant id each, 0 free (tierd_slots_assign()) */
        size_t n_slots;
} TierdApplier;

/* Chooses the backend for [tiering] backend `requested` (a TIERING_BACKEND_* of conf.h) on
 * this host and fills a (freeing what it held). Returns 0 or -ENOMEM. */
int tierd_applier_select(Tierd *m, unsigned requested, TierdApplier *a);
void tierd_applier_done(TierdApplier *a);
/* Executes the backend's plan for tenants (sorted by priority, then id) on a host with tiers.
 * A plan identical to the last one that succeeded is skipped. Returns 0 or the first -errno
 * (also kept in a->error). */
int tierd_applier_run(Tierd *m, TierdApplier *a, const TierdTiers *tiers, const TierdApplyTenant *tenants, size_t n);
/* Asks maiod's running kdamond to refresh scheme 0's tried regions and reads them into t.
 * Returns the number of regions, 0 when there is no running kdamond of ours, or -errno. */
int tierd_applier_snapshot(Tierd *m, TierdApplier *a, TierdTelemetry *t);
/* Takes maiod's kdamond down through the journal (see tierd_stop()). */
void tierd_applier_teardown(Tierd *m, TierdApplier *a);

/* ---- REST (tierd-ops.c); userdata is the Tierd ---- */

extern const FieldSet tierd_feedback_body, tierd_policy_body, tierd_policy_update_body, tierd_import_body;
/* The members of the thresholds and feedback replies, as typed netlink reply attributes. */
extern const FieldSet tierd_thresholds_reply, tierd_feedback_reply;

int tierd_op_thresholds(void *userdata, const Request *req, Reply *reply);
int tierd_op_feedback(void *userdata, const Request *req, Reply *reply);
int tierd_op_policy_get(void *userdata, const Request *req, Reply *reply);
int tierd_op_policy_set(void *userdata, const Request *req, Reply *reply);
int tierd_op_policy_update(void *userdata, const Request *req, Reply *reply);
int tierd_op_model_get(void *userdata, const Request *req, Reply *reply);
int tierd_op_model_import(void *userdata, const Request *req, Reply *reply);

/* The thresholds object of GET /v1/tenants/{id}/thresholds for tt. NULL on OOM. */
json_object *tierd_thresholds_to_json(Tierd *m, const TierdTenant *tt);
