/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The tiering module's context, shared by tierd*.c and private to daemon/tier. */
#pragma once

#include <stdbool.h>

#include <systemd/sd-event.h>

#include "conf.h"
#include "detect.h"
#include "hook.h"
#include "journal.h"
#include "store.h"
#include "tenants.h"
#include "tierd.h"

typedef struct TierdState TierdState;

/* The promotion budget in bytes/s: the link's bandwidth left by other hosts times
 * [tiering] promote_budget_percent. */
double tierd_budget_Bps(const Config *c);

struct Tierd {
        Store *store;
        char *root;
        bool dry_run;
        sd_event *event;          /* NULL: no timer (tests) */
        Journal *journal;         /* the one writer of the knobs the appliers plan */
        Tenants *tenants;         /* visibility of models with their tenant */
        Features *features;       /* memory tiers, NUMA balancing, kdamonds (owned ones marked) */
        const Config *config;     /* [tiering], and [knobs] restore_on_exit */
        TierdState *tierd;        /* the running state, NULL before tierd_start() */
        const Notifier *notifier; /* thresholds-changed; NULL: nobody listens */
        HookList on_lookup;       /* a learning tenant started without a close local model */
        const EventSink *sched;   /* enrolments, feedback commits, threshold changes; NULL: nobody listens */
        TierdShare *shares;       /* promotion bandwidth per tenant, as the scheduler allocated it */
        size_t n_shares;
        struct {
                int64_t model;
                char *label; /* "HOST/TENANT" of a model imported from the fleet */
        } * labels;
        size_t n_labels;
};

/* ---- training off the event loop (tierd-train.c) ---- */

/* One model update: the reward of a grid action taken (or served from the cache) in a context. */
typedef struct TierdTrainUpdate {
        TierContext ctx;
        unsigned action;
        double reward;
} TierdTrainUpdate;

/* A training job. The loop fills the inputs and owns the job until it submits it; the worker owns
 * it while it runs; the done callback gets it back on the loop's thread (see tierd-train.c). */
typedef struct TierdTrainJob {
        /* in */
        int64_t tenant_id;
        uint64_t seq;          /* the tenant's job number: a result is taken only by the job it expects */
        uint64_t publish_seed; /* base of the seed the published copy explores with */
        TierPolicy *trainee;   /* the tenant's training copy, owned by the job while it is out */
        TierdTrainUpdate *updates;
        size_t n_updates;
        /* out */
        int r;                 /* 0, or -errno from the policy (the trainee may be half-updated) */
        TierPolicy *published; /* a copy of the trained model for decisions */
        char *json;            /* the trained model's export, the model row */
        uint64_t version;      /* its update count */
        uint64_t usec;         /* time spent training and exporting */
        struct TierdTrainJob *next;
} TierdTrainJob;

typedef struct TierdTrainer TierdTrainer;
/* Called on the loop's thread with a finished job, which it takes. */
typedef void (*TierdTrainDoneFn)(void *userdata, TierdTrainJob *job);

typedef struct TierdTrainStats {
        uint64_t jobs_run, jobs_dropped, updates_run, busy_usec;
        unsigned queued;
} TierdTrainStats;

/* Starts the worker thread and the eventfd source on event; with event NULL, jobs run inline in
 * submit (unit tests). Returns 0 or -errno. */
int tierd_trainer_new(sd_event *event, TierdTrainDoneFn done, void *userdata, TierdTrainer **ret);
/* Queues job (taken). Returns 0, or -ESHUTDOWN after stop (the job is freed). */
int tierd_trainer_submit(TierdTrainer *t, TierdTrainJob *job);
/* Lets the job in progress finish and hands it and every finished job to the done callback; queued
 * jobs are dropped (their updates are skipped). Joins the thread. Accepts NULL. */
void tierd_trainer_stop(TierdTrainer *t);
/* Stops and frees. Accepts NULL; returns NULL. */
TierdTrainer *tierd_trainer_free(TierdTrainer *t);
void tierd_trainer_stats(TierdTrainer *t, TierdTrainStats *ret);
/* The worker's part, pure: runs the updates, exports the trainee, builds the published copy. */
void tierd_train_job_run(TierdTrainJob *j);
void tierd_train_job_free(TierdTrainJob *j);

/* ---- the running state (tierd.c, tierd-prefetch.c) ---- */

struct TierdState {
        TierdApplier applier;
        TierdTiers tiers;
        TierdTelemetry now, prev;
        double snapshot_s; /* CLOCK_MONOTONIC when now got its DAMON region snapshot, 0 never */
        TierdTenant *tenants;
        sd_event_source *timer;
        TierdTrainer *trainer;     /* model updates, off the loop */
        uint64_t train_seq;        /* the last job number handed out */
        TierdAnchorSet anchors;    /* every tenant's measured rewards per context bucket (tier_anchors) */
        uint64_t anchors_dropped;  /* measurements not kept: TIERD_ANCHORS_MAX entries held */
        uint64_t decisions;        /* episodes decided since start */
        uint64_t anchor_decisions; /* of which from an anchor */
};

/* ---- anchor prefetching (tierd-prefetch.c) ---- */

/* Loads the stored anchors into m->tierd. Never fails: without them tenants start as before. */
void tierd_prefetch_load(Tierd *m);
/* With no anchors stored (a database from before schema v6), rebuilds them from the tenants'
 * committed grid episodes and stores them. Never fails. */
void tierd_prefetch_backfill(Tierd *m);
/* The anchor entry tt's committed episode with reward updates, into *ret: 1; 0 when the episode
 * measured no grid action or the set is full (counted); -EINVAL. */
int tierd_prefetch_measured(Tierd *m, const TierdTenant *tt, double reward, TierdAnchor *ret);
/* Stores anchor entry a in the transaction the caller holds. Returns 0 or -errno. */
int tierd_prefetch_store(Tierd *m, const TierdAnchor *a);
/* A joining tenant's first decision from the nearest anchor (1), none near (0), or -errno. */
int tierd_prefetch_decide(Tierd *m, TierdTenant *tt, const TierContext *ctx, double model_distance);
/* One more episode decided, from an anchor or not, for the host-wide share. */
void tierd_decision_count(Tierd *m, const TierdTenant *tt);
/* The host-wide anchors object of GET /v1/status (t may be NULL). NULL on OOM. */
json_object *tierd_anchors_to_json(TierdState *t);
