/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The tiering tables of the store (schema v4, store-tier.c): per-tenant policy
 * state, policy models (kept when their tenant goes, for transfer) and
 * episodes with their feedback. Several writes commit together inside
 * store_tier_begin() .. store_tier_commit(). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* A policy model: the JSON of daemon/tier/policy/policy.h plus where it applies. */
typedef struct StoreTierModel {
        int64_t id;           /* assigned by the store, > 0 */
        int64_t tenant_id;    /* the tenant training it; 0 = none (imported, or its tenant is gone) */
        char *workload_class; /* "batch" | "serving" */
        int64_t bucket;       /* context bucket of the centroid */
        char *centroid;       /* JSON array of the mean context features it was trained in */
        int64_t samples;      /* contexts averaged into the centroid */
        char *policy;         /* policy name */
        char *json;           /* the model; NULL in candidate lists */
        int64_t version;      /* the policy's update count */
        int64_t updated_usec; /* CLOCK_REALTIME; <= 0 means now on writes */
} StoreTierModel;

/* A tenant's tiering state. */
typedef struct StoreTierTenant {
        int64_t tenant_id;
        char *policy;
        int64_t seed;
        int64_t model_id;         /* 0 = none */
        int64_t transferred_from; /* model the tenant's model started from, 0 = none */
        double ref_cost;          /* reward normalisation: the first episode's cost, 0 before */
        int64_t cache_hits, cache_misses;
        int64_t episode;              /* the open episode, 0 = none */
        int64_t promotion_rate_bytes; /* the promotion rate (bytes/s) the tenant states, 0 = none */
} StoreTierTenant;

/* One episode: the decision it ran with and, once committed, its feedback. */
typedef struct StoreTierEpisode {
        int64_t tenant_id;
        int64_t episode; /* 1, 2, ... per tenant */
        char *policy;
        int64_t action;         /* grid action, -1 when the thresholds are not one */
        char *rule;             /* "thresholds" | "never" */
        double rate_threshold;  /* accesses/s; NAN when none */
        double burst_threshold; /* s; NAN when none */
        char *context;          /* JSON object of the context decided in */
        bool explored;
        int64_t cache_hits;     /* cached rewards fed to the policy before this decision */
        char *metric;           /* "completion_time_s" | "requests_per_s"; NULL while open */
        double value;           /* the metric; NAN while open */
        double reward;          /* normalised reward; NAN while open */
        int64_t started_usec;   /* CLOCK_REALTIME; <= 0 means now on writes */
        int64_t committed_usec; /* 0 while open */
        char *anchor;           /* why the decision came from an anchor (schema v6), NULL when it did not */
} StoreTierEpisode;

/* An anchor entry (schema v6): the mean normalised reward of one grid action measured in one
 * context bucket by tenants of one workload class; the entries of a bucket are its anchor. */
typedef struct StoreTierAnchor {
        char *workload_class;
        int64_t bucket;
        int64_t action;
        double rate_threshold, burst_threshold;
        char *features; /* JSON array of the mean features of the contexts its rewards were measured in */
        double reward;  /* mean normalised reward */
        int64_t samples;
        int64_t tenant_id;    /* the tenant that measured it last, 0 none (no reference: it outlives it) */
        int64_t updated_usec; /* CLOCK_REALTIME; <= 0 means now on writes */
} StoreTierAnchor;

/* Opens a write transaction (BEGIN IMMEDIATE). Returns 0, -EBUSY (another
 * writer held the database for over a second) or -errno. */
int store_tier_begin(Store *s);
/* Commits it: durable on return. Returns 0 or -errno (the transaction is then rolled back). */
int store_tier_commit(Store *s);
/* Rolls back an open transaction; a no-op without one. */
void store_tier_rollback(Store *s);

/* Inserts m (m->id <= 0) and sets *ret_id (may be NULL), or replaces the row
 * m->id. Returns 0, -EINVAL for missing fields, -ENOENT when m->id or
 * m->tenant_id names nothing, or -errno. */
int store_tier_model_put(Store *s, const StoreTierModel *m, int64_t *ret_id);
/* Loads one model with its JSON (free with store_tier_model_done). -ENOENT if absent. */
int store_tier_model_get(Store *s, int64_t id, StoreTierModel *ret);
/* Models of a class and policy that have seen at least one context, without
 * their JSON, newest first. Returns 0 and a malloc'd array (NULL when empty;
 * free with store_tier_models_free), or -errno. */
int store_tier_model_candidates(Store *s, const char *workload_class, const char *policy, StoreTierModel **ret,
                                size_t *ret_n);
/* Sets the tenant of model id to none (keeping the model for transfer). Returns 0, -ENOENT or -errno. */
int store_tier_model_detach(Store *s, int64_t id);
/* Deletes model id. Returns 0, -ENOENT or -errno. */
int store_tier_model_remove(Store *s, int64_t id);

/* Inserts or replaces the state of t->tenant_id. Returns 0, -EINVAL, -ENOENT (no such tenant) or -errno. */
int store_tier_tenant_put(Store *s, const StoreTierTenant *t);
/* Loads a tenant's state (free with store_tier_tenant_done). -ENOENT if absent. */
int store_tier_tenant_get(Store *s, int64_t tenant_id, StoreTierTenant *ret);

/* Inserts or replaces episode (e->tenant_id, e->episode). Returns 0, -EINVAL, -ENOENT (no such tenant) or -errno. */
int store_tier_episode_put(Store *s, const StoreTierEpisode *e);
/* Loads one episode (free with store_tier_episode_done). -ENOENT if absent. */
int store_tier_episode_get(Store *s, int64_t tenant_id, int64_t episode, StoreTierEpisode *ret);
/* Deletes an episode. Returns 0, -ENOENT or -errno. */
int store_tier_episode_remove(Store *s, int64_t tenant_id, int64_t episode);
/* The tenant's episodes in ascending order: with committed_only only those with
 * feedback; limit > 0 keeps the newest limit of them. Returns 0 and a malloc'd
 * array (NULL when empty; free with store_tier_episodes_free), or -errno. */
int store_tier_episode_list(Store *s, int64_t tenant_id, bool committed_only, unsigned limit, StoreTierEpisode **ret,
                            size_t *ret_n);
/* Counts the tenant's episodes: all, committed, exploratory ones and those whose decision came from
 * an anchor (ret_anchored may be NULL). Returns 0 or -errno. */
int store_tier_episode_counts(Store *s, int64_t tenant_id, int64_t *ret_total, int64_t *ret_committed,
                              int64_t *ret_explored, int64_t *ret_anchored);

/* Inserts or replaces the entry (workload class, bucket, action). Returns 0, -EINVAL or -errno. */
int store_tier_anchor_put(Store *s, const StoreTierAnchor *a);
/* Every anchor entry, by workload class, bucket and action. Returns 0 and a malloc'd array (NULL
 * when empty; free with store_tier_anchors_free), or -errno. */
int store_tier_anchor_list(Store *s, StoreTierAnchor **ret, size_t *ret_n);
void store_tier_anchor_done(StoreTierAnchor *a);
void store_tier_anchors_free(StoreTierAnchor *a, size_t n);

void store_tier_model_done(StoreTierModel *m);
void store_tier_models_free(StoreTierModel *m, size_t n);
void store_tier_tenant_done(StoreTierTenant *t);
void store_tier_episode_done(StoreTierEpisode *e);
void store_tier_episodes_free(StoreTierEpisode *e, size_t n);
