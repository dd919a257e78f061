/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fleet module's context, shared by fleet*.c and private to daemon/fleet. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>
#include <systemd/sd-event.h>

#include "etcd.h"
#include "fleet.h"

/* The last publication of a tenant's model. */
typedef struct Published {
        int64_t tenant;
        int64_t version; /* model version published (or found too large) */
        uint64_t usec;   /* CLOCK_MONOTONIC of the publication */
        struct Published *next;
} Published;

/* A lazy lookup in flight. */
typedef struct Lookup {
        struct Fleet *fleet;
        int64_t tenant;
        char *workload_class, *policy;
        double features[TIER_N_FEATURES];
        FleetScan scan;
        uint64_t deadline_usec;       /* CLOCK_MONOTONIC: lookup_timeout_ms after the start */
        struct Candidate *candidates; /* the nearest valid models so far, nearest first */
        size_t n_candidates;
        EtcdRequest *q;
        struct Lookup *next;
} Lookup;

/* A watch on the key of a fleet model that tenants here started from and have not trained yet:
 * a newer version is imported and they move to it. */
typedef struct Watch {
        struct Fleet *fleet;
        char *key, *label, *workload_class, *policy;
        int64_t model_id; /* the latest import from key */
        int64_t revision; /* its mod_revision */
        int64_t *tenants;
        size_t n_tenants;
        EtcdRequest *q; /* the stream, NULL while none runs */
        struct Watch *next;
} Watch;

struct Fleet {
        Store *store;
        Tierd *tierd;
        sd_event *event;
        const Config *config;
        char *origins_path;  /* STATE_DIR/fleet-models: "MODEL_ID HOST/TENANT" lines */
        char *host, *prefix; /* prefix without a trailing '/' */
        Etcd *etcd;
        FleetState state;
        sd_event_source *timer; /* the heartbeat */
        unsigned backoff_s;
        char *lease; /* lease ID (decimal, as etcd writes it), NULL none */
        uint64_t since_usec;
        EtcdRequest *beat, *publish, *sweep;
        int64_t publish_tenant, publish_version;
        bool publish_deflated;
        uint64_t sweep_usec; /* CLOCK_MONOTONIC of the last retention sweep, 0 never */
        Published *published;
        Lookup *lookups;
        size_t n_lookups;
        Watch *watches;
        uint64_t unreachable_total, published_total, oversize_total, lookups_total, imported_total, rejected_total,
                deleted_total, updated_total, deflated_total;
        char *last_error;
};

/* The workload classes and the policies whose models are published. */
extern const char *const fleet_classes[2];
extern const char *const fleet_learning_policies[2];

/* Notes a failed request: its error for status; local-only when etcd was not reached. */
void fleet_request_failed(Fleet *f, int r, const char *what, const char *err);
/* {"key": b64(key)} (with the prefix's range_end when prefix). NULL on OOM. */
json_object *fleet_body_key(const char *key, bool prefix);
/* Moves to state s, logging the change (why: the error that caused local-only). */
void fleet_state_set(Fleet *f, FleetState s, const char *why);

/* fleet-publish.c: publishes the next tenant model due, if any and none is in flight. */
void fleet_publish_next(Fleet *f);
/* fleet-publish.c: deletes this host's keys of tenants removed longer than the retention ago
 * (at most hourly). */
void fleet_retention_sweep(Fleet *f);

/* fleet-lookup.c: labels imported models with their origin from the origins file (missing: none). */
void fleet_origins_load(Fleet *f);
/* fleet-lookup.c: cancels and frees a lookup. */
void fleet_lookup_free(Lookup *l);
/* fleet-lookup.c: drops watches whose tenants trained or went, and (re)opens the others' streams. */
void fleet_watches_refresh(Fleet *f);
void fleet_watches_free(Fleet *f);
/* fleet-lookup.c: the tiering hook (HookFn) that starts a lookup for a tenant. */
void fleet_lookup_hook(void *userdata, int64_t tenant_id);
