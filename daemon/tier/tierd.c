/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tiering state per tenant: its policy, reward cache and normalisation, kept
 * in the store (schema v4) and cached here; episodes opened and committed
 * from feedback, transfer from the nearest model, the telemetry timer, and
 * the hand-over of every tenant's decision to the applier. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jsonutil.h"
#include "log.h"
#include "metrics.h"
#include "store-tier.h"
#include "tier-internal.h"
#include "tierd.h"
#include "time-util.h"


static TierdState *tierd_state_free(TierdState *t);

int tierd_new(const TierdDeps *deps, Tierd **ret) {
        Tierd *m = calloc(1, sizeof *m);

        if (!m || !(m->root = strdup(deps->root))) {
                free(m);
                return -ENOMEM;
        }
        m->store = deps->store;
        m->dry_run = deps->dry_run;
        m->event = deps->event;
        m->journal = deps->journal;
        m->tenants = deps->tenants;
        m->features = deps->features;
        m->config = deps->config;
        *ret = m;
        return 0;
}

Tierd *tierd_free(Tierd *m) {
        if (!m)
                return NULL;
        tierd_state_free(m->tierd);
        for (size_t i = 0; i < m->n_labels; i++)
                free(m->labels[i].label);
        free(m->labels);
        free(m->shares);
        free(m->root);
        free(m);
        return NULL;
}

void tierd_set_config(Tierd *m, const Config *config) {
        m->config = config;
}

void tierd_set_notifier(Tierd *m, const Notifier *n) {
        m->notifier = n;
}

void tierd_set_event_sink(Tierd *m, const EventSink *sink) {
        m->sched = sink;
}

/* tt's new decision is published: its owner's subscribers hear of it. */
static void thresholds_changed(Tierd *m, const TierdTenant *tt) {
        json_object *details;

        if (!notify_wanted(m->notifier))
                return;
        details = json_object_new_object();
        if (details)
                json_object_object_add(details, "thresholds", tierd_thresholds_to_json(m, tt));
        notify_event(m->notifier, NOTIFY_THRESHOLDS_CHANGED, tt->id, tt->uid, details);
}

void tierd_tenant_removed_hook(void *userdata, int64_t tenant_id) {
        tierd_tenant_removed(userdata, tenant_id);
}

static void link_from_config(const Config *c, TierdLink *ret) {
        double lat = ((double) c->tiering_remote_latency_ns - (double) c->tiering_local_latency_ns) / 1e9;

        *ret = (TierdLink) {
                .bandwidth_Bps = (double) c->tiering_link_bandwidth_mbps * 1e6,
                .contention = c->tiering_link_contention_percent / 100.0,
                .delta_latency_s = lat > 0 ? lat : 0,
                .budget = c->tiering_promote_budget_percent / 100.0,
        };
}

/* ---- the tenant list ---- */

static void tenant_free(TierdTenant *tt) {
        if (!tt)
                return;
        policy_free(tt->policy);
        policy_free(tt->trainee);
        free(tt->pending);
        reward_cache_free(tt->cache);
        free(tt->workload_class);
        free(tt->cgroup);
        free(tt->anchor);
        free(tt);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(TierdTenant *, tenant_free);

static TierdTenant *tenant_find(TierdState *t, int64_t id) {
        for (TierdTenant *tt = t->tenants; tt; tt = tt->next)
                if (tt->id == id)
                        return tt;
        return NULL;
}

/* Drops the cached state; the store stays the truth and the next use reloads it. */
static void tenant_forget(TierdState *t, TierdTenant *tt) {
        for (TierdTenant **p = &t->tenants; *p; p = &(*p)->next)
                if (*p == tt) {
                        *p = tt->next;
                        break;
                }
        tenant_free(tt);
}

/* Takes the tenant's attributes; a changed workload class means another metric, so the reward
 * scale starts over. Returns 0 or -ENOMEM. */
static int tenant_refresh(TierdTenant *tt, const Tenant *t) {
        char *class = strdup(t->workload_class), *cg = t->cgroup ? strdup(t->cgroup) : NULL;
        int kind = tierd_kind_from_class(t->workload_class);

        if (!class || (t->cgroup && !cg)) {
                free(class);
                free(cg);
                return -ENOMEM;
        }
        if (tt->workload_class && strcmp(tt->workload_class, class) != 0)
                tt->norm.ref_cost = 0;
        tt->uid = t->uid;
        free(tt->workload_class);
        free(tt->cgroup);
        tt->workload_class = class;
        tt->cgroup = cg;
        tt->priority = t->priority;
        tt->kind = kind < 0 ? TIER_TENANT_BATCH : (TierTenantKind) kind;
        tt->id = t->id;
        return 0;
}

/* ---- telemetry and context ---- */

/* Reads the telemetry again; with snapshot, also DAMON regions (that writes a command to maiod's
 * kdamond, so only on the decision path); otherwise the last snapshot is kept. */
static void telemetry_refresh(Tierd *m, bool snapshot) {
        TierdState *t = m->tierd;
        TierdTelemetry fresh = {};
        int r;

        /* DAMON's counts move once per aggregation interval: a snapshot sooner than that after the
         * last reads nothing new (and rates over so short a window are noise). Decisions in a burst
         * of feedback share one, so the loop is not held by a region read per request. */
        if (snapshot && t->snapshot_s > 0 && t->now.aggr_s > 0 &&
            now_sec(CLOCK_MONOTONIC) - t->snapshot_s < t->now.aggr_s)
                return;
        r = tierd_telemetry_read(m->root, &fresh);
        if (r < 0) {
                log_debug_errno(r, "Reading tiering telemetry failed, keeping the last: %m");
                return;
        }
        fresh.regions = TAKE_PTR(t->now.regions);
        fresh.n_regions = t->now.n_regions;
        fresh.sample_s = t->now.sample_s;
        fresh.aggr_s = t->now.aggr_s;
        if (snapshot && (r = tierd_applier_snapshot(m, &t->applier, &fresh)) < 0)
                log_debug_errno(r, "No DAMON region snapshot, ignoring: %m");
        else if (snapshot && r > 0)
                t->snapshot_s = fresh.time_s;
        tierd_telemetry_done(&t->prev);
        t->prev = t->now;
        t->prev.regions = NULL;
        t->prev.n_regions = 0;
        t->now = fresh;
}

static void tenant_context(Tierd *m, const TierdTenant *tt, TierContext *ret) {
        TierdState *t = m->tierd;
        TierdTenantMem mem = {};
        TierdLink link;

        link_from_config(m->config, &link);
        if (tt->cgroup)
                (void) tierd_tenant_mem_read(m->root, tt->cgroup, &t->tiers, &mem);
        tierd_context_compute(&t->now, t->prev.time_s > 0 ? &t->prev : NULL, &t->tiers, &link, &mem, ret);
}

/* Queues an update for the tenant's next training job. Returns 0 or -ENOMEM. */
static int tenant_queue_update(TierdTenant *tt, const TierContext *ctx, unsigned action, double reward) {
        TierdTrainUpdate *a;

        if (!policy_learns(tt->policy))
                return 0;
        a = reallocarray(tt->pending, tt->n_pending + 1, sizeof *a);
        if (!a)
                return -ENOMEM;
        tt->pending = a;
        a[tt->n_pending++] = (TierdTrainUpdate) { .ctx = *ctx, .action = action, .reward = reward };
        return 0;
}

/* The decision of a new episode, made with the published model and no training on the loop: when
 * the reward of the chosen grid action is cached, the choice stands as a known one (not an
 * exploration, no episode is needed to learn it) and the cached reward is queued as an update for
 * the worker, so the model learns it in the background. Returns 0 or -errno. */
static int tenant_decide(TierdTenant *tt, const TierContext *ctx) {
        TierDecision d = {};
        int64_t hits = 0;
        double cached;
        int r;

        r = policy_choose(tt->policy, ctx, &d);
        if (r < 0)
                return r;
        if (d.action >= 0 && reward_cache_lookup(tt->cache, tier_context_bucket(ctx, TIERD_BUCKET_LEVELS),
                                                 (unsigned) d.action, &cached) > 0) {
                r = tenant_queue_update(tt, ctx, (unsigned) d.action, cached);
                if (r < 0)
                        return r;
                hits = 1;
                d.explored = false; /* its reward is known: not an exploration any more */
        } else if (d.action >= 0)
                tt->cache_misses++;
        tt->cache_hits += hits;
        tt->decision = d;
        tt->context = *ctx;
        tt->decision_cache_hits = hits;
        tt->decided_usec = (int64_t) now_usec(CLOCK_REALTIME);
        free(tt->anchor);
        tt->anchor = NULL;
        return 0;
}

/* ---- building policies ---- */

/* Replaces *p with the policy of stored model id, reseeded with seed. Returns 0 or -errno (*p kept). */
static int policy_from_model(Tierd *m, int64_t id, uint64_t seed, TierPolicy **p) {
        _cleanup_(store_tier_model_done) StoreTierModel row = {};
        _cleanup_(json_object_putp) json_object *j = NULL;
        TierPolicy *q = NULL;
        int r;

        r = store_tier_model_get(m->store, id, &row);
        if (r < 0)
                return r;
        j = json_tokener_parse(row.json);
        if (!j)
                return -EBADMSG;
        r = tierd_model_reseed(j, seed);
        if (r >= 0)
                r = policy_from_json(j, &q);
        if (r < 0)
                return log_warning_errno(r, "Tiering model %" PRId64 " cannot be loaded, starting afresh: %m", id);
        policy_free(*p);
        *p = q;
        return 0;
}

static double features_distance(const double a[static TIER_N_FEATURES], const double b[static TIER_N_FEATURES]) {
        double d = 0;

        for (unsigned i = 0; i < TIER_N_FEATURES; i++)
                d += (a[i] - b[i]) * (a[i] - b[i]);
        return sqrt(d);
}

/* A fresh policy called name, or, for one that learns, the nearest trained model of its workload
 * class reseeded with seed. *ret_from is the model it came from (0: fresh), *ret_distance (may be
 * NULL) its distance from the context (INFINITY when fresh). */
static int policy_make(Tierd *m, const char *class, const char *name, uint64_t seed, const TierContext *ctx,
                       TierPolicy **ret, int64_t *ret_from, double *ret_distance) {
        _cleanup_(policy_freep) TierPolicy *p = NULL;
        StoreTierModel *c = NULL;
        size_t n = 0;
        TierPolicyParams pp;
        int r;

        policy_params_default(&pp);
        pp.seed = seed;
        r = policy_new(name, &pp, &p);
        if (r < 0)
                return r;
        *ret_from = 0;
        if (ret_distance)
                *ret_distance = INFINITY;
        if (policy_learns(p) && store_tier_model_candidates(m->store, class, name, &c, &n) >= 0 && n > 0) {
                _cleanup_free_ TierdModelCandidate *cand = calloc(n, sizeof *cand);
                double f[TIER_N_FEATURES];
                size_t k = 0;
                int at;

                for (size_t i = 0; cand && i < n; i++) {
                        _cleanup_(json_object_putp) json_object *j = json_tokener_parse(c[i].centroid);

                        if (tierd_features_from_json(j, cand[k].features) >= 0)
                                cand[k++].id = c[i].id;
                }
                tier_context_features(ctx, f);
                at = cand ? tierd_model_nearest(cand, k, f) : -ENOENT;
                if (at >= 0 && policy_from_model(m, cand[at].id, seed, &p) >= 0) {
                        *ret_from = cand[at].id;
                        if (ret_distance)
                                *ret_distance = features_distance(cand[at].features, f);
                }
        }
        store_tier_models_free(c, n);
        *ret = TAKE_PTR(p);
        return 0;
}

/* The training copy of a learning policy (export and import: policies have no other copy). Returns
 * 0 (*ret NULL for a policy that does not learn) or -errno. */
static int trainee_make(const TierPolicy *p, TierPolicy **ret) {
        _cleanup_(json_object_putp) json_object *j = NULL;
        int r;

        *ret = NULL;
        if (!policy_learns(p))
                return 0;
        r = policy_to_json(p, &j);
        if (r < 0)
                return r;
        return policy_from_json(j, ret);
}

/* ---- training off the loop ---- */

/* Hands the tenant's pending updates and its trainee to the worker, unless a job is out already
 * (the next one starts when it comes back). Never fails: on error the updates stay pending. */
static void train_kick(Tierd *m, TierdTenant *tt) {
        TierdState *t = m->tierd;
        TierdTrainJob *j;

        if (!t || !t->trainer || tt->training || !tt->trainee || tt->n_pending == 0)
                return;
        j = calloc(1, sizeof *j);
        if (!j) {
                log_oom();
                return;
        }
        *j = (TierdTrainJob) {
                .tenant_id = tt->id,
                .seq = ++t->train_seq,
                .publish_seed = tt->seed,
                .trainee = TAKE_PTR(tt->trainee),
                .updates = TAKE_PTR(tt->pending),
                .n_updates = tt->n_pending,
        };
        tt->n_pending = 0;
        tt->training = true;
        tt->train_seq = j->seq;
        if (tierd_trainer_submit(t->trainer, j) < 0)
                tt->training = false; /* stopping: the updates are skipped, as after a crash */
}

/* The trained model's row: the worker's export with the tenant's centroid and samples. */
static int model_commit(Tierd *m, TierdTenant *tt, const TierdTrainJob *j) {
        _cleanup_(json_object_putp) json_object *cj = tierd_features_to_json(tt->centroid);
        TierContext c = { tt->centroid[0], tt->centroid[1], tt->centroid[2], tt->centroid[3], tt->centroid[4] };
        StoreTierModel row = {
                .id = tt->model_id,
                .tenant_id = tt->id,
                .workload_class = tt->workload_class,
                .bucket = (int64_t) tier_context_bucket(&c, TIERD_BUCKET_LEVELS),
                .samples = tt->model_samples,
                .policy = (char *) policy_name(tt->policy),
                .json = j->json,
                .version = (int64_t) j->version,
        };
        int64_t id = 0;
        int r;

        if (!cj)
                return -ENOMEM;
        row.centroid = (char *) json_object_to_json_string_ext(cj, JSON_C_TO_STRING_PLAIN);
        r = store_tier_begin(m->store);
        if (r < 0)
                return r;
        r = store_tier_model_put(m->store, &row, &id);
        if (r >= 0)
                r = store_tier_commit(m->store);
        if (r < 0)
                store_tier_rollback(m->store);
        return r;
}

/* A job came back (on the loop): the trainee returns to its tenant, the trained copy becomes the
 * published model and is committed in its own transaction, and the next job starts. A job whose
 * tenant is gone, switched policy or was reloaded meanwhile is dropped. */
static void train_done(void *userdata, TierdTrainJob *j) {
        Tierd *m = userdata;
        TierdTenant *tt = m->tierd ? tenant_find(m->tierd, j->tenant_id) : NULL;
        int r;

        if (!tt || !tt->training || tt->train_seq != j->seq) {
                tierd_train_job_free(j);
                return;
        }
        tt->training = false;
        tt->trainee = TAKE_PTR(j->trainee);
        if (j->r < 0)
                log_warning_errno(j->r, "Training the model of tenant %" PRId64 " failed, keeping the last: %m",
                                  tt->id);
        else {
                policy_free(tt->policy);
                tt->policy = TAKE_PTR(j->published);
                r = model_commit(m, tt, j);
                if (r < 0)
                        log_warning_errno(r, "Failed to commit the model of tenant %" PRId64 ", ignoring: %m", tt->id);
                log_debug("Tenant %" PRId64 ": model version %" PRIu64 " published (%zu updates in %" PRIu64 " us).",
                          tt->id, j->version, j->n_updates, j->usec);
        }
        tierd_train_job_free(j);
        train_kick(m, tt);
}

/* ---- rows ---- */

static const char *rule_to_string(TierRuleKind k) {
        return k == TIER_RULE_THRESHOLDS ? "thresholds" : "never";
}

/* The model row of tt (json and centroid malloc'd into *ret). Returns 0 or -ENOMEM. */
static int model_row(const TierdTenant *tt, StoreTierModel *ret) {
        _cleanup_(json_object_putp) json_object *j = NULL, *cj = NULL;
        StoreTierModel row = {
                .id = tt->model_id,
                .tenant_id = tt->id,
                .samples = tt->model_samples,
        };
        TierContext c = {};
        uint64_t updates;
        int r;

        r = policy_to_json(tt->policy, &j);
        if (r < 0)
                return r;
        cj = tierd_features_to_json(tt->centroid);
        if (!cj)
                return -ENOMEM;
        policy_counters(tt->policy, NULL, NULL, &updates);
        c = (TierContext) { tt->centroid[0], tt->centroid[1], tt->centroid[2], tt->centroid[3], tt->centroid[4] };
        row.bucket = (int64_t) tier_context_bucket(&c, TIERD_BUCKET_LEVELS);
        row.version = (int64_t) updates;
        row.workload_class = strdup(tt->workload_class);
        row.policy = strdup(policy_name(tt->policy));
        row.json = strdup(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
        row.centroid = strdup(json_object_to_json_string_ext(cj, JSON_C_TO_STRING_PLAIN));
        if (!row.workload_class || !row.policy || !row.json || !row.centroid) {
                store_tier_model_done(&row);
                return -ENOMEM;
        }
        *ret = row;
        return 0;
}

/* The open episode of tt as a row (context malloc'd into *ret). */
static int episode_row(const TierdTenant *tt, StoreTierEpisode *ret) {
        _cleanup_(json_object_putp) json_object *cj = tierd_context_to_json(&tt->context);
        bool thresholds = tt->decision.rule == TIER_RULE_THRESHOLDS;

        if (!cj)
                return -ENOMEM;
        *ret = (StoreTierEpisode) {
                .tenant_id = tt->id,
                .episode = tt->episode,
                .policy = strdup(policy_name(tt->policy)),
                .action = tt->decision.action,
                .rule = strdup(rule_to_string(tt->decision.rule)),
                .rate_threshold = thresholds ? tt->decision.rate_threshold : NAN,
                .burst_threshold = thresholds ? tt->decision.burst_threshold : NAN,
                .context = strdup(json_object_to_json_string_ext(cj, JSON_C_TO_STRING_PLAIN)),
                .explored = tt->decision.explored,
                .cache_hits = tt->decision_cache_hits,
                .value = NAN,
                .reward = NAN,
                .started_usec = tt->decided_usec,
                .anchor = tt->anchor ? strdup(tt->anchor) : NULL,
        };
        if (!ret->policy || !ret->rule || !ret->context || (tt->anchor && !ret->anchor)) {
                store_tier_episode_done(ret);
                return -ENOMEM;
        }
        return 0;
}

static StoreTierTenant tenant_row(const TierdTenant *tt) {
        return (StoreTierTenant) {
                .tenant_id = tt->id,
                .policy = (char *) policy_name(tt->policy),
                .seed = (int64_t) tt->seed,
                .model_id = tt->model_id,
                .transferred_from = tt->transferred_from,
                .ref_cost = tt->norm.ref_cost,
                .cache_hits = tt->cache_hits,
                .cache_misses = tt->cache_misses,
                .episode = tt->episode,
                .promotion_rate_bytes = tt->promotion_rate_bytes,
        };
}

/* What one save writes besides tt's model, state and open episode. */
typedef struct SaveExtra {
        const StoreTierEpisode *committed; /* the episode just committed */
        int64_t drop_episode;              /* an abandoned open episode to delete, 0 none */
        int64_t old_model;                 /* the tenant's previous model: kept if trained, else deleted */
        bool old_model_trained;
        bool keep_model;           /* the model row is not written (the training job commits it) */
        const TierdAnchor *anchor; /* an anchor entry with the committed episode's reward folded in */
} SaveExtra;

static int save_writes(Tierd *m, TierdTenant *tt, const SaveExtra *x, int64_t *ret_model_id) {
        _cleanup_(store_tier_model_done) StoreTierModel model = {};
        _cleanup_(store_tier_episode_done) StoreTierEpisode open = {};
        StoreTierTenant row;
        int r;

        *ret_model_id = tt->model_id;
        r = x->keep_model ? 0 : model_row(tt, &model);
        if (r >= 0)
                r = episode_row(tt, &open);
        if (r >= 0 && x->old_model > 0)
                r = x->old_model_trained ? store_tier_model_detach(m->store, x->old_model)
                                         : store_tier_model_remove(m->store, x->old_model);
        if (r >= 0 && !x->keep_model)
                r = store_tier_model_put(m->store, &model, ret_model_id);
        row = tenant_row(tt);
        row.model_id = *ret_model_id;
        if (r >= 0)
                r = store_tier_tenant_put(m->store, &row);
        if (r >= 0 && x->committed)
                r = store_tier_episode_put(m->store, x->committed);
        if (r >= 0 && x->drop_episode > 0)
                r = store_tier_episode_remove(m->store, tt->id, x->drop_episode);
        if (r >= 0 && x->anchor)
                r = tierd_prefetch_store(m, x->anchor);
        if (r >= 0)
                r = store_tier_episode_put(m->store, &open);
        return r;
}

/* Commits tt (model, state, open episode) and x in one transaction. Returns 0 or -errno. */
static int tenant_save(Tierd *m, TierdTenant *tt, const SaveExtra *x) {
        static const SaveExtra none = {};
        int64_t model_id = 0;
        int r;

        r = store_tier_begin(m->store);
        if (r < 0)
                return r;
        r = save_writes(m, tt, x ?: &none, &model_id);
        if (r >= 0)
                r = store_tier_commit(m->store);
        if (r < 0) {
                store_tier_rollback(m->store);
                return r;
        }
        tt->model_id = model_id;
        return 0;
}

/* ---- creating and loading ---- */

static int tenant_new(const Tenant *t, TierdTenant **ret) {
        _cleanup_(tenant_freep) TierdTenant *tt = calloc(1, sizeof *tt);
        int r;

        if (!tt)
                return -ENOMEM;
        r = tenant_refresh(tt, t);
        if (r < 0)
                return r;
        r = reward_cache_new(1, &tt->cache);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(tt);
        return 0;
}

static int tenant_create(Tierd *m, const Tenant *t, const char *name, uint64_t seed, TierdTenant **ret) {
        _cleanup_(tenant_freep) TierdTenant *tt = NULL;
        double distance;
        TierContext ctx;
        int r;

        r = tenant_new(t, &tt);
        if (r < 0)
                return r;
        tt->seed = seed;
        telemetry_refresh(m, true);
        tenant_context(m, tt, &ctx);
        r = policy_make(m, tt->workload_class, name, tt->seed, &ctx, &tt->policy, &tt->transferred_from, &distance);
        if (r < 0)
                return log_error_errno(r, "Failed to create the %s policy of tenant %" PRId64 ": %m", name, t->id);
        tt->lookup = policy_learns(tt->policy) && distance > m->config->fleet_context_distance_milli / 1000.0;
        r = trainee_make(tt->policy, &tt->trainee);
        if (r < 0)
                return r;
        /* Anchor prefetching: known-good thresholds at once, before the first episode. */
        r = tierd_prefetch_decide(m, tt, &ctx, distance);
        if (r == 0)
                r = tenant_decide(tt, &ctx);
        if (r < 0)
                return r;
        tt->episode = 1;
        r = tenant_save(m, tt, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to store the tiering state of tenant %" PRId64 ": %m", t->id);
        tierd_decision_count(m, tt);
        log_info("Tenant %" PRId64 " takes part in tiering with policy %s (seed %" PRIu64 ")%s%s%s.", t->id, name,
                 tt->seed, tt->transferred_from > 0 ? ", starting from a transferred model" : "",
                 tt->anchor ? "; first thresholds from the " : "", tt->anchor ? tt->anchor + strlen("nearest ") : "");
        *ret = TAKE_PTR(tt);
        return 0;
}

/* The reward cache from the tenant's committed grid episodes: the measured rewards it held. */
static int cache_rebuild(Tierd *m, TierdTenant *tt) {
        StoreTierEpisode *e = NULL;
        size_t n = 0;
        int r;

        r = store_tier_episode_list(m->store, tt->id, true, 0, &e, &n);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                _cleanup_(json_object_putp) json_object *j = json_tokener_parse(e[i].context);
                TierContext c;

                if (e[i].action < 0 || !isfinite(e[i].reward) || tierd_context_from_json(j, &c) < 0)
                        continue;
                r = reward_cache_store(tt->cache, tier_context_bucket(&c, TIERD_BUCKET_LEVELS), (unsigned) e[i].action,
                                       e[i].reward);
        }
        store_tier_episodes_free(e, n);
        return r;
}

static int open_episode_load(Tierd *m, TierdTenant *tt) {
        _cleanup_(store_tier_episode_done) StoreTierEpisode e = {};
        _cleanup_(json_object_putp) json_object *j = NULL;
        int r;

        r = store_tier_episode_get(m->store, tt->id, tt->episode, &e);
        if (r < 0)
                return r;
        j = json_tokener_parse(e.context);
        r = tierd_context_from_json(j, &tt->context);
        if (r < 0)
                return r;
        tt->decision = (TierDecision) {
                .rule = strcmp(e.rule, "thresholds") == 0 ? TIER_RULE_THRESHOLDS : TIER_RULE_NEVER,
                .action = (int) e.action,
                .rate_threshold = isfinite(e.rate_threshold) ? e.rate_threshold : 0,
                .burst_threshold = isfinite(e.burst_threshold) ? e.burst_threshold : 0,
                .explored = e.explored,
        };
        tt->decision_cache_hits = e.cache_hits;
        tt->decided_usec = e.started_usec;
        free(tt->anchor);
        tt->anchor = TAKE_PTR(e.anchor);
        return 0;
}

static int model_load(Tierd *m, TierdTenant *tt, const StoreTierTenant *row) {
        _cleanup_(store_tier_model_done) StoreTierModel model = {};
        _cleanup_(json_object_putp) json_object *j = NULL, *cj = NULL;
        int r;

        r = store_tier_model_get(m->store, row->model_id, &model);
        if (r < 0)
                return r;
        j = json_tokener_parse(model.json);
        cj = json_tokener_parse(model.centroid);
        r = j ? policy_from_json(j, &tt->policy) : -EBADMSG;
        if (r < 0)
                return r;
        if (strcmp(policy_name(tt->policy), row->policy) != 0 || tierd_features_from_json(cj, tt->centroid) < 0)
                return -EBADMSG;
        tt->model_samples = model.samples;
        tt->model_id = model.id;
        return 0;
}

static int tenant_load(Tierd *m, const Tenant *t, const StoreTierTenant *row, TierdTenant **ret) {
        _cleanup_(tenant_freep) TierdTenant *tt = NULL;
        int r;

        r = tenant_new(t, &tt);
        if (r < 0)
                return r;
        tt->seed = (uint64_t) row->seed;
        tt->transferred_from = row->transferred_from;
        tt->norm.ref_cost = row->ref_cost;
        tt->cache_hits = row->cache_hits;
        tt->cache_misses = row->cache_misses;
        tt->episode = row->episode;
        tt->promotion_rate_bytes = row->promotion_rate_bytes;
        r = model_load(m, tt, row);
        if (r >= 0)
                r = trainee_make(tt->policy, &tt->trainee);
        if (r >= 0)
                r = cache_rebuild(m, tt);
        if (r >= 0)
                r = open_episode_load(m, tt);
        if (r < 0)
                return log_error_errno(r, "Failed to load the tiering state of tenant %" PRId64 ": %m", t->id);
        *ret = TAKE_PTR(tt);
        return 0;
}

/* Tells the hooks of a tenant that wants a model from elsewhere; they may not free it. */
static void tenant_lookup_hooks(Tierd *m, TierdTenant *tt) {
        if (!tt->lookup)
                return;
        tt->lookup = false;
        hook_list_run(&m->on_lookup, tt->id);
}

int tierd_tenant_get(Tierd *m, const Tenant *t, bool create, TierdTenant **ret) {
        _cleanup_(store_tier_tenant_done) StoreTierTenant row = {};
        TierdState *d = m->tierd;
        TierdTenant *tt;
        int r;

        if (!d)
                return -EAGAIN;
        tt = tenant_find(d, t->id);
        if (tt) {
                r = tenant_refresh(tt, t);
                if (r < 0)
                        return r;
                *ret = tt;
                return 0;
        }
        r = store_tier_tenant_get(m->store, t->id, &row);
        if (r >= 0)
                r = tenant_load(m, t, &row, &tt);
        else if (r == -ENOENT && create)
                r = tenant_create(m, t, tiering_policy_to_string(m->config->tiering_policy), m->config->tiering_seed,
                                  &tt);
        if (r < 0)
                return r;
        tt->next = d->tenants;
        d->tenants = tt;
        tierd_apply(m);
        event_sink_emit(m->sched, SCHED_EVENT_TENANT, tt->id, tt->priority, 0);
        tenant_lookup_hooks(m, tt);
        *ret = tt;
        return 0;
}

int tierd_tenant_enrol(Tierd *m, const Tenant *t, const char *policy, uint64_t seed, TierdTenant **ret) {
        TierdTenant *tt;
        int r;

        if (!m->tierd)
                return -EAGAIN;
        if (!tierd_policy_selectable(policy))
                return -EINVAL;
        r = tierd_tenant_get(m, t, false, &tt);
        if (r >= 0)
                return -EEXIST;
        if (r != -ENOENT)
                return r;
        r = tenant_create(m, t, policy, seed, &tt);
        if (r < 0)
                return r;
        tt->next = m->tierd->tenants;
        m->tierd->tenants = tt;
        tierd_apply(m);
        thresholds_changed(m, tt);
        event_sink_emit(m->sched, SCHED_EVENT_TENANT, tt->id, tt->priority, 0);
        tenant_lookup_hooks(m, tt);
        *ret = tt;
        return 0;
}

/* ---- feedback ---- */

/* Why episode is not the open one: -EALREADY when it has feedback, -ENOENT when it never existed
 * (or was abandoned by a policy change). */
static int episode_not_open(Tierd *m, const TierdTenant *tt, int64_t episode) {
        _cleanup_(store_tier_episode_done) StoreTierEpisode e = {};
        int r = store_tier_episode_get(m->store, tt->id, episode, &e);

        if (r < 0)
                return r;
        return e.committed_usec > 0 ? -EALREADY : -ENOENT;
}

/* Learns from the committed episode: reward cache and the model's context centroid now, the
 * policy's update queued for the worker. */
static int tenant_learn(TierdTenant *tt, double reward) {
        double f[TIER_N_FEATURES];
        int r;

        if (tt->decision.action >= 0) {
                r = reward_cache_store(tt->cache, tier_context_bucket(&tt->context, TIERD_BUCKET_LEVELS),
                                       (unsigned) tt->decision.action, reward);
                if (r < 0)
                        return r;
                r = tenant_queue_update(tt, &tt->context, (unsigned) tt->decision.action, reward);
                if (r < 0)
                        return r;
        }
        tier_context_features(&tt->context, f);
        for (unsigned i = 0; i < TIER_N_FEATURES; i++)
                tt->centroid[i] += (f[i] - tt->centroid[i]) / (double) (tt->model_samples + 1);
        tt->model_samples++;
        return 0;
}

static int feedback_commit(Tierd *m, TierdTenant *tt, const TierdFeedback *fb, double reward) {
        _cleanup_(store_tier_episode_done) StoreTierEpisode done = {};
        TierdAnchor anchor;
        SaveExtra x = {};
        TierContext ctx;
        int r, measured;

        r = episode_row(tt, &done);
        if (r < 0)
                return r;
        done.metric = strdup(tierd_metric_to_string(fb->metric));
        if (!done.metric)
                return -ENOMEM;
        done.value = fb->value;
        done.reward = reward;
        done.committed_usec = (int64_t) now_usec(CLOCK_REALTIME);
        measured = tierd_prefetch_measured(m, tt, reward, &anchor);
        if (measured < 0)
                return measured;
        r = tenant_learn(tt, reward);
        if (r < 0)
                return r;
        telemetry_refresh(m, true);
        tenant_context(m, tt, &ctx);
        r = tenant_decide(tt, &ctx);
        if (r < 0)
                return r;
        tt->episode++;
        x.committed = &done;
        x.keep_model = true;
        x.anchor = measured > 0 ? &anchor : NULL;
        r = tenant_save(m, tt, &x);
        if (r < 0)
                return r;
        /* Committed: the entry every later tenant may start from. Cannot fail (an entry for it fitted). */
        if (measured > 0)
                (void) tierd_anchor_put(&m->tierd->anchors, &anchor);
        tierd_decision_count(m, tt);
        return 0;
}

int tierd_feedback(Tierd *m, TierdTenant *tt, const TierdFeedback *fb, double *ret_reward) {
        TierRewardNorm norm = tt->norm;
        double reward;
        int r;

        if (fb->episode != tt->episode)
                return episode_not_open(m, tt, fb->episode);
        r = tier_reward(&norm, tt->kind, fb->value, &reward);
        if (r < 0)
                return r;
        reward = fmax(reward, TIERD_REWARD_MIN);
        tt->norm = norm;
        r = feedback_commit(m, tt, fb, reward);
        if (r < 0) {
                /* Half-learned in memory but not on disk: the store is the truth. */
                log_warning_errno(r, "Failed to commit feedback of tenant %" PRId64 ", reloading its state: %m",
                                  tt->id);
                tenant_forget(m->tierd, tt);
                return r;
        }
        log_debug("Tenant %" PRId64 ": episode %" PRId64 " committed, reward %.4f.", tt->id, fb->episode, reward);
        train_kick(m, tt); /* after the commit: the 202 does not wait for the model */
        tierd_apply(m);
        thresholds_changed(m, tt);
        *ret_reward = reward;
        return 0;
}

/* ---- policy changes and imports ---- */

int tierd_policy_set(Tierd *m, TierdTenant *tt, const char *name, uint64_t seed) {
        SaveExtra x = { .drop_episode = tt->episode,
                        .old_model = tt->model_id,
                        .old_model_trained = tt->model_samples > 0 };
        TierPolicy *p = NULL;
        int64_t from = 0;
        TierContext ctx;
        int r;

        if (!tierd_policy_selectable(name))
                return -EINVAL;
        telemetry_refresh(m, true);
        tenant_context(m, tt, &ctx);
        r = policy_make(m, tt->workload_class, name, seed, &ctx, &p, &from, NULL);
        if (r < 0)
                return r;
        policy_free(tt->policy);
        tt->policy = p;
        /* A job still out trains the old model: its result is dropped when it comes back. */
        tt->training = false;
        policy_free(tt->trainee);
        tt->trainee = NULL;
        free(tt->pending);
        tt->pending = NULL;
        tt->n_pending = 0;
        r = trainee_make(tt->policy, &tt->trainee);
        if (r < 0) {
                tenant_forget(m->tierd, tt);
                return r;
        }
        tt->seed = seed;
        tt->transferred_from = from;
        tt->model_id = 0;
        tt->model_samples = 0;
        memset(tt->centroid, 0, sizeof tt->centroid);
        tt->episode++;
        r = tenant_decide(tt, &ctx);
        if (r >= 0)
                r = tenant_save(m, tt, &x);
        if (r < 0) {
                log_warning_errno(r, "Failed to switch tenant %" PRId64 " to policy %s, reloading its state: %m",
                                  tt->id, name);
                tenant_forget(m->tierd, tt);
                return r;
        }
        tierd_decision_count(m, tt);
        log_info("Tenant %" PRId64 " switched to tiering policy %s (seed %" PRIu64 ").", tt->id, name, seed);
        train_kick(m, tt);
        tierd_apply(m);
        thresholds_changed(m, tt);
        return 0;
}

int tierd_model_import(Tierd *m, const char *workload_class, const double features[static TIER_N_FEATURES],
                       int64_t samples, json_object *model, int64_t *ret_id) {
        _cleanup_(policy_freep) TierPolicy *p = NULL;
        _cleanup_(json_object_putp) json_object *cj = NULL, *canon = NULL;
        TierContext c = { features[0], features[1], features[2], features[3], features[4] };
        StoreTierModel row = {
                .workload_class = (char *) workload_class,
                .bucket = (int64_t) tier_context_bucket(&c, TIERD_BUCKET_LEVELS),
                .samples = samples > 0 ? samples : 1,
        };
        uint64_t updates;
        int r;

        if (tierd_kind_from_class(workload_class) < 0 || tierd_model_check_bounds(model) < 0)
                return -EINVAL;
        r = policy_from_json(model, &p);
        if (r == -ENOENT || (r >= 0 && !tierd_policy_selectable(policy_name(p))))
                return -EINVAL;
        if (r < 0)
                return r;
        /* Stored as this maiod writes it, so an export reads back what it exports. */
        r = policy_to_json(p, &canon);
        if (r < 0)
                return r;
        cj = tierd_features_to_json(features);
        if (!cj)
                return -ENOMEM;
        policy_counters(p, NULL, NULL, &updates);
        row.version = (int64_t) updates;
        row.policy = (char *) policy_name(p);
        row.json = (char *) json_object_to_json_string_ext(canon, JSON_C_TO_STRING_PLAIN);
        row.centroid = (char *) json_object_to_json_string_ext(cj, JSON_C_TO_STRING_PLAIN);
        return store_tier_model_put(m->store, &row, ret_id);
}

int tierd_promotion_rate_set(Tierd *m, TierdTenant *tt, int64_t bytes) {
        StoreTierTenant row;
        int64_t before = tt->promotion_rate_bytes;
        int r;

        if (bytes < 0)
                return -EINVAL;
        tt->promotion_rate_bytes = bytes;
        row = tenant_row(tt);
        r = store_tier_tenant_put(m->store, &row);
        if (r < 0) {
                tt->promotion_rate_bytes = before;
                return r;
        }
        if (bytes != before)
                log_info("Tenant %" PRId64 " states a promotion rate of %" PRId64 " bytes/s%s.", tt->id, bytes,
                         bytes == 0 ? " (none: its demand follows its thresholds again)" : "");
        return 0;
}

/* ---- models from elsewhere ---- */

int tierd_on_lookup(Tierd *m, HookFn fn, void *userdata) {
        return hook_list_add(&m->on_lookup, fn, userdata);
}

TierdTenant *tierd_tenant_peek(Tierd *m, int64_t id) {
        return m->tierd ? tenant_find(m->tierd, id) : NULL;
}

int tierd_tenant_adopt(Tierd *m, int64_t id, int64_t model_id) {
        TierdTenant *tt = tierd_tenant_peek(m, id);
        SaveExtra x;
        TierPolicy *p = NULL;
        TierContext ctx;
        TierDecision d;
        int r;

        if (!tt)
                return -ENOENT;
        if (tt->model_samples > 0)
                return -EALREADY;
        x = (SaveExtra) { .drop_episode = tt->episode, .old_model = tt->model_id };
        r = policy_from_model(m, model_id, tt->seed, &p);
        if (r < 0)
                return r == -ENOENT ? r : -EINVAL;
        if (strcmp(policy_name(p), policy_name(tt->policy)) != 0) {
                policy_free(p);
                return -EINVAL;
        }
        telemetry_refresh(m, true);
        tenant_context(m, tt, &ctx);
        /* A transferred model serves what it knows best first: its greedy decision. */
        r = policy_greedy(p, &ctx, &d);
        if (r < 0) {
                policy_free(p);
                return r;
        }
        policy_free(tt->policy);
        tt->policy = p;
        tt->transferred_from = model_id;
        tt->model_id = 0;
        memset(tt->centroid, 0, sizeof tt->centroid);
        tt->episode++;
        tt->decision = d;
        tt->context = ctx;
        tt->decision_cache_hits = 0;
        tt->decided_usec = (int64_t) now_usec(CLOCK_REALTIME);
        free(tt->anchor);
        tt->anchor = NULL;
        r = tenant_save(m, tt, &x);
        if (r < 0) {
                log_warning_errno(r, "Failed to move tenant %" PRId64 " to model %" PRId64 ", reloading its state: %m",
                                  id, model_id);
                tenant_forget(m->tierd, tt);
                return r;
        }
        tierd_decision_count(m, tt);
        tierd_apply(m);
        return 0;
}

int tierd_model_label_set(Tierd *m, int64_t model_id, const char *label) {
        char *l = strdup(label);
        void *v;

        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < m->n_labels; i++)
                if (m->labels[i].model == model_id) {
                        free(m->labels[i].label);
                        m->labels[i].label = l;
                        return 0;
                }
        v = reallocarray(m->labels, m->n_labels + 1, sizeof *m->labels);
        if (!v) {
                free(l);
                return -ENOMEM;
        }
        m->labels = v;
        m->labels[m->n_labels].model = model_id;
        m->labels[m->n_labels++].label = l;
        return 0;
}

int tierd_model_origin(Tierd *m, const TierdTenant *tt, char **ret) {
        _cleanup_(store_tier_model_done) StoreTierModel row = {};
        int r;

        if (tt->transferred_from <= 0)
                return (*ret = strdup("local")) ? 0 : -ENOMEM;
        for (size_t i = 0; i < m->n_labels; i++)
                if (m->labels[i].model == tt->transferred_from) {
                        r = asprintf(ret, "fleet:%s", m->labels[i].label);
                        if (r < 0)
                                *ret = NULL;
                        return r < 0 ? -ENOMEM : 0;
                }
        if (store_tier_model_get(m->store, tt->transferred_from, &row) >= 0 && row.tenant_id > 0)
                r = asprintf(ret, "transfer:%" PRId64, row.tenant_id);
        else
                r = asprintf(ret, "transfer:model/%" PRId64, tt->transferred_from);
        if (r < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        return 0;
}

/* ---- applying ---- */

static int apply_order(const void *a, const void *b) {
        const TierdApplyTenant *x = a, *y = b;

        if (x->priority != y->priority)
                return x->priority < y->priority ? -1 : 1;
        return x->id < y->id ? -1 : x->id > y->id;
}

/* The tenant's allocated promotion bandwidth, -1 when the scheduler has given it none yet. */
static double share_of(const Tierd *m, int64_t id) {
        for (size_t i = 0; i < m->n_shares; i++)
                if (m->shares[i].id == id)
                        return m->shares[i].Bps;
        return -1;
}

void tierd_apply(Tierd *m) {
        TierdState *t = m->tierd;
        _cleanup_free_ TierdApplyTenant *v = NULL;
        size_t n = 0, k = 0;

        if (!t)
                return;
        for (TierdTenant *tt = t->tenants; tt; tt = tt->next)
                n++;
        v = calloc(n ?: 1, sizeof *v);
        if (!v) {
                log_oom();
                return;
        }
        for (TierdTenant *tt = t->tenants; tt; tt = tt->next)
                v[k++] = (TierdApplyTenant) {
                        .id = tt->id,
                        .priority = tt->priority,
                        .cgroup = tt->cgroup,
                        .decision = tt->decision,
                        .quota_Bps = share_of(m, tt->id),
                };
        qsort(v, n, sizeof *v, apply_order);
        (void) tierd_applier_run(m, &t->applier, &t->tiers, v, n);
}

/* ---- the promotion-bandwidth resource (the scheduler's) ---- */

int tierd_promotion_snapshot(void *userdata, ResourceSnapshot *ret) {
        Tierd *m = userdata;
        TierdState *t = m->tierd;
        ResourceSnapshot s = {};
        double budget;
        size_t n = 0;

        if (!t || t->applier.backend != TIERD_BACKEND_DAMON)
                return -ENODEV;
        budget = tierd_budget_Bps(m->config);
        for (TierdTenant *tt = t->tenants; tt; tt = tt->next)
                n++;
        s.capacity = budget >= 1.8e19 ? UINT64_MAX : (uint64_t) budget;
        s.tenants = calloc(n ?: 1, sizeof *s.tenants);
        if (!s.tenants)
                return -ENOMEM;
        for (TierdTenant *tt = t->tenants; tt; tt = tt->next) {
                TierdTenantMem mem = {};
                double d;

                if (!tt->cgroup) /* DAMON cannot scope a scheme to it: nothing to allocate */
                        continue;
                (void) tierd_tenant_mem_read(m->root, tt->cgroup, &t->tiers, &mem);
                d = tierd_promotion_demand(&tt->decision, t->tiers.local_nid >= 0, &mem, &t->now, budget,
                                           (double) tt->promotion_rate_bytes);
                s.tenants[s.n++] = (ResourceDemand) {
                        .tenant_id = tt->id,
                        .owner = tt->uid,
                        .priority = tt->priority < 0   ? 0
                                    : tt->priority > 7 ? 7
                                                       : (unsigned) tt->priority,
                        .demand = d >= 1.8e19 ? UINT64_MAX : (uint64_t) d,
                };
        }
        *ret = s;
        return 0;
}

int tierd_promotion_apply(void *userdata, const ResourceDemand *tenants, const uint64_t *alloc, size_t n) {
        Tierd *m = userdata;
        TierdShare *v = calloc(n ?: 1, sizeof *v);
        uint64_t before;

        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                v[i] = (TierdShare) { tenants[i].tenant_id, (double) alloc[i] };
        free(m->shares);
        m->shares = v;
        m->n_shares = n;
        if (!m->tierd)
                return 0;
        before = m->tierd->applier.writes;
        /* Failures are the applier's to log and show in status; the same plan is not retried until it changes. */
        tierd_apply(m);
        return (int) (m->tierd->applier.writes - before);
}

/* ---- the timer ---- */

static bool decision_equal(const TierDecision *a, const TierDecision *b) {
        return a->rule == b->rule && a->action == b->action && a->rate_threshold == b->rate_threshold &&
               a->burst_threshold == b->burst_threshold && a->rate_limit_Bps == b->rate_limit_Bps;
}

/* Drops tenants that went away and refreshes the others' attributes. */
static void tenants_sync(Tierd *m) {
        TierdState *t = m->tierd;
        TierdTenant *next;

        for (TierdTenant *tt = t->tenants; tt; tt = next) {
                Tenant row = {};
                int r = store_tenant_get(m->store, tt->id, &row);

                next = tt->next;
                if (r == -ENOENT) {
                        log_debug("Tenant %" PRId64 " is gone, dropping its tiering state.", tt->id);
                        tenant_forget(t, tt);
                } else if (r >= 0)
                        (void) tenant_refresh(tt, &row);
                tenant_done(&row);
        }
}

void tierd_tenant_removed(Tierd *m, int64_t id) {
        TierdState *t = m->tierd;

        if (!t)
                return;
        for (TierdTenant *tt = t->tenants; tt; tt = tt->next)
                if (tt->id == id) {
                        log_debug("Tenant %" PRId64 " removed, dropping its tiering state.", id);
                        tenant_forget(t, tt);
                        tierd_apply(m);
                        return;
                }
}

static void tierd_tick(Tierd *m) {
        TierdState *t = m->tierd;

        telemetry_refresh(m, false);
        tenants_sync(m);
        for (TierdTenant *tt = t->tenants; tt; tt = tt->next) {
                TierDecision d;
                TierContext ctx;

                /* An anchor's thresholds were measured: they hold for their episode. */
                if (!policy_online(tt->policy) || tt->anchor)
                        continue;
                /* An online policy follows the link as it changes; the episode keeps its first decision. */
                tenant_context(m, tt, &ctx);
                if (policy_greedy(tt->policy, &ctx, &d) < 0 || decision_equal(&d, &tt->decision))
                        continue;
                tt->decision = d;
                tt->context = ctx;
                tt->decided_usec = (int64_t) now_usec(CLOCK_REALTIME);
                tt->republished = true;
        }
        tierd_apply(m);
        for (TierdTenant *tt = t->tenants; tt; tt = tt->next)
                if (tt->republished) {
                        tt->republished = false;
                        thresholds_changed(m, tt);
                        event_sink_emit(m->sched, SCHED_EVENT_FEEDBACK, tt->id, tt->priority, 0);
                }
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Tierd *m = userdata;

        tierd_tick(m);
        (void) sd_event_source_set_time_relative(s, (uint64_t) m->config->tiering_interval_s * 1000000);
        return 0;
}

/* ---- lifecycle ---- */

static void tierd_load_all(Tierd *m) {
        Tenant *ts = NULL;
        size_t n = 0;

        if (store_tenant_list(m->store, -1, &ts, &n) < 0) {
                log_warning("Failed to list tenants, tiering starts without them.");
                return;
        }
        for (size_t i = 0; i < n; i++) {
                _cleanup_(store_tier_tenant_done) StoreTierTenant row = {};
                TierdTenant *tt;

                if (store_tier_tenant_get(m->store, ts[i].id, &row) < 0 || tenant_load(m, &ts[i], &row, &tt) < 0)
                        continue;
                tt->next = m->tierd->tenants;
                m->tierd->tenants = tt;
        }
        tenant_list_free(ts, n);
}

static TierdState *tierd_state_free(TierdState *t) {
        if (!t)
                return NULL;
        tierd_trainer_free(t->trainer); /* first: a job out may still hold a tenant's trainee */
        while (t->tenants)
                tenant_forget(t, t->tenants);
        sd_event_source_disable_unref(t->timer);
        tierd_applier_done(&t->applier);
        tierd_telemetry_done(&t->now);
        tierd_telemetry_done(&t->prev);
        tierd_anchor_set_done(&t->anchors);
        free(t);
        return NULL;
}

static int tierd_arm(Tierd *m) {
        int r;

        if (!m->event)
                return 0;
        r = sd_event_add_time_relative(m->event, &m->tierd->timer, CLOCK_MONOTONIC,
                                       (uint64_t) m->config->tiering_interval_s * 1000000, 1000000, on_timer, m);
        if (r < 0)
                return log_error_errno(r, "Failed to add the tiering timer: %m");
        (void) sd_event_source_set_description(m->tierd->timer, "tier-telemetry");
        return sd_event_source_set_enabled(m->tierd->timer, SD_EVENT_ON);
}

int tierd_start(Tierd *m) {
        TierdState *t;
        int r;

        t = calloc(1, sizeof *t);
        if (!t)
                return log_oom();
        *t = (TierdState) { .applier = { .kdamond = -1 } };
        m->tierd = t;
        r = tierd_tiers_from_features(m->features->memory_tiers, m->features->numa_nodes_list, &t->tiers);
        if (r < 0)
                log_warning_errno(r, "Cannot tell the memory tiers apart, treating every node as local: %m");
        r = tierd_applier_select(m, m->config->tiering_backend, &t->applier);
        if (r < 0)
                return log_oom();
        if (t->applier.unavailable)
                log_notice("%s; tiering uses %s.", t->applier.unavailable, tierd_backend_to_string(t->applier.backend));
        else
                log_info("Tiering backend: %s.", tierd_backend_to_string(t->applier.backend));
        r = tierd_trainer_new(m->event, train_done, m, &t->trainer);
        if (r < 0)
                return log_error_errno(r, "Failed to start the tiering training thread: %m");
        telemetry_refresh(m, false);
        tierd_prefetch_load(m);
        tierd_prefetch_backfill(m);
        tierd_load_all(m);
        /* Also without tenants: what an earlier run left applied (restore_on_exit = no) goes back. */
        tierd_apply(m);
        return tierd_arm(m);
}

void tierd_stop(Tierd *m) {
        if (!m->tierd)
                return;
        m->tierd->timer = sd_event_source_disable_unref(m->tierd->timer);
        tierd_trainer_stop(m->tierd->trainer); /* the job in progress is committed, queued ones skipped */
        if (m->config->knobs_restore_on_exit)
                tierd_applier_teardown(m, &m->tierd->applier);
}

/* ---- status ---- */

/* The training thread's counters: jobs run and dropped (skipped at a stop), updates trained, jobs
 * waiting, time spent training. NULL on OOM. */
static json_object *training_to_json(TierdState *t) {
        json_object *o = json_object_new_object();
        TierdTrainStats st;

        tierd_trainer_stats(t ? t->trainer : NULL, &st);
        if (!o || json_add_int(o, "jobs", (int64_t) st.jobs_run, true) < 0 ||
            json_add_int(o, "dropped", (int64_t) st.jobs_dropped, true) < 0 ||
            json_add_int(o, "updates", (int64_t) st.updates_run, true) < 0 ||
            json_add_int(o, "queued", st.queued, true) < 0 ||
            json_add_int(o, "busy_ms", (int64_t) (st.busy_usec / 1000), true) < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

json_object *tierd_status_to_json(Tierd *m) {
        TierdState *t = m->tierd;
        json_object *o = json_object_new_object();
        size_t n = 0;
        int r;

        if (!o)
                return NULL;
        for (TierdTenant *tt = t ? t->tenants : NULL; tt; tt = tt->next)
                n++;
        r = json_add_string(o, "requested", tiering_backend_to_string(m->config->tiering_backend));
        if (r >= 0)
                r = json_add_string(o, "backend", tierd_backend_to_string(t ? t->applier.backend : TIERD_BACKEND_OFF));
        if (r >= 0)
                r = json_add_string(o, "unavailable", t ? t->applier.unavailable : NULL);
        if (r >= 0)
                r = json_add_int(o, "kdamond", t ? t->applier.kdamond : 0, t && t->applier.kdamond >= 0);
        if (r >= 0)
                r = json_add_int(o, "tenants", (int64_t) n, true);
        if (r >= 0)
                r = json_add_string(o, "apply_error", t ? t->applier.error : NULL);
        if (r >= 0)
                r = json_add(o, "training", training_to_json(t));
        if (r >= 0)
                r = json_add(o, "anchors", tierd_anchors_to_json(t));
        if (r < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

bool tierd_tenant_applied(Tierd *m, const TierdTenant *tt, const char **ret_note) {
        TierdState *t = m->tierd;
        const TierdTenant *first = NULL;

        if (t->applier.error) {
                *ret_note = "the last apply failed (see status)";
                return false;
        }
        switch (t->applier.backend) {
        case TIERD_BACKEND_DAMON:
                *ret_note = tt->cgroup ? "DAMON schemes limited to the tenant's cgroup"
                                       : "no cgroup: DAMON schemes need one to be limited to the tenant";
                return tt->cgroup != NULL;
        case TIERD_BACKEND_NUMAB:
                /* Host-wide knobs follow the highest-priority tenant (lowest id among equals). */
                for (const TierdTenant *o = t->tenants; o; o = o->next)
                        if (!first || o->priority < first->priority ||
                            (o->priority == first->priority && o->id < first->id))
                                first = o;
                *ret_note = first == tt ? "host-wide NUMA-balancing knobs (burst duration not applied)"
                                        : "host-wide knobs follow a tenant of higher priority";
                return first == tt;
        default:
                *ret_note = "tiering backend off";
                return false;
        }
}

TierdBackend tierd_backend(Tierd *m) {
        return m->tierd ? m->tierd->applier.backend : TIERD_BACKEND_OFF;
}

const char *tierd_status_note(Tierd *m) {
        return m->tierd ? m->tierd->applier.unavailable : NULL;
}
