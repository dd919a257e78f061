/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fleet: hosts share trained tiering models through etcd. This host publishes its tenants'
 * models as they improve, announces itself under a lease, and fetches a model lazily when a new
 * tenant has no close local one; with etcd unreachable it runs local-only and retries. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>
#include <systemd/sd-event.h>

#include "cleanup.h"
#include "conf.h"
#include "store.h"
#include "tierd.h"

typedef struct Fleet Fleet;

/* Context buckets of the keys: each feature at two levels, 32 buckets a class. An etcd role
 * that lets a host write only its own keys names one prefix per class and bucket. */
#define FLEET_BUCKET_LEVELS 2
#define FLEET_BUCKETS 32
/* Format of the values under PREFIX/models/. */
#define FLEET_FORMAT "maio-fleet-model"
#define FLEET_FORMAT_VERSION 1
/* Largest model document accepted inflated ("document_bytes"). */
#define FLEET_DOCUMENT_MAX (64U << 20)

typedef enum FleetState {
        FLEET_OFF,        /* no endpoints */
        FLEET_LOCAL_ONLY, /* etcd not reached (yet, or any more): local models only */
        FLEET_CONNECTED,
        _FLEET_STATE_MAX,
} FleetState;

/* "off", "local-only", "connected"; NULL outside the enum. */
const char *fleet_state_to_string(FleetState s);

typedef struct FleetDeps {
        Store *store;
        Tierd *tierd;
        sd_event *event;
        const Config *config;
        const char *state_dir; /* STATE_DIR/fleet-models names the origin of imported models */
} FleetDeps;

/* Returns 0 or -ENOMEM. Nothing runs until fleet_start(). */
int fleet_new(const FleetDeps *deps, Fleet **ret);
/* Registers the lookup hook with tiering and, with endpoints configured, starts talking to
 * etcd (asynchronously: a start never waits for it). Returns 0 or -errno (logged). */
int fleet_start(Fleet *f);
/* After a reload: the configuration to read from now on (endpoints, TLS and credentials
 * change at the next start). */
void fleet_set_config(Fleet *f, const Config *config);
/* Accepts NULL; returns NULL. */
Fleet *fleet_free(Fleet *f);
static inline void fleet_freep(Fleet **f) {
        fleet_free(*f);
}

FleetState fleet_state(const Fleet *f);
/* GET /v1/status "fleet": state, host, endpoint, counters, the last error. NULL on OOM. */
json_object *fleet_status_to_json(Fleet *f);
/* A metrics writer (MetricsWriteFn); userdata is the Fleet. */
void fleet_metrics_write(void *userdata, FILE *out);

/* ---- pure parts (fleet-keys.c), for the daemon and its tests ---- */

/* PREFIX/models/CLASS/BUCKET/HOST/TENANT. NULL on OOM. */
char *fleet_model_key(const char *prefix, const char *workload_class, unsigned bucket, const char *host,
                      int64_t tenant);
/* Splits a model key below prefix into its host and tenant (host copied into buf of size n).
 * Returns 0 or -EINVAL (not a model key of that shape). */
int fleet_model_key_parse(const char *prefix, const char *key, char *host, size_t n, int64_t *ret_tenant);
/* Whether host is in the comma-separated list (empty: every host is). */
bool fleet_source_allowed(const char *sources, const char *host);
/* Whether a host name can stand in a key: 1..64 of [A-Za-z0-9._-]. */
bool fleet_host_valid(const char *host);
/* Whether the keys that take effect only at a start differ between a and b. */
bool fleet_connection_changed(const Config *a, const Config *b);
/* The bucket of a context in keys: each feature (0..1) at FLEET_BUCKET_LEVELS levels, packed
 * in base FLEET_BUCKET_LEVELS: 0 .. FLEET_BUCKETS - 1. */
unsigned fleet_context_bucket(const double features[static TIER_N_FEATURES]);
/* A lookup's scan of one class's models, nearest buckets first. A context in bucket b lies at
 * least bound[i] from the tenant's (the features whose level differs from the tenant's must
 * cross the level boundary), so the buckets are read in order of that bound, each whole (in
 * pages of FLEET_SCAN_PAGE keys), until the next bound is no nearer than the best model found:
 * then no unread key can hold a nearer one. At most FLEET_SCAN_KEYS_MAX keys are read. */
#define FLEET_SCAN_PAGE 64
#define FLEET_SCAN_KEYS_MAX 1024
typedef struct FleetScan {
        unsigned order[FLEET_BUCKETS]; /* buckets, least bound first */
        double bound[FLEET_BUCKETS];   /* bound[i]: least distance of a context in order[i] */
        unsigned next;                 /* index in order of the bucket being read */
        char *after;                   /* the last key read in that bucket, NULL: none yet */
        size_t keys;                   /* keys read */
        bool truncated;                /* stopped by FLEET_SCAN_KEYS_MAX */
} FleetScan;
void fleet_scan_init(FleetScan *s, const double features[static TIER_N_FEATURES]);
void fleet_scan_done(FleetScan *s);
/* The next range read, given the distance of the best model found so far (INFINITY: none):
 * returns 1 with its key (key_n bytes, may hold a NUL), range end and limit, all malloc'd, or 0
 * when the scan is over, or -ENOMEM. */
int fleet_scan_next(FleetScan *s, const char *prefix, const char *workload_class, double best, char **ret_key,
                    size_t *ret_key_n, char **ret_end, unsigned *ret_limit);
/* Records a read's answer: n keys, the last of them, and whether its range held more.
 * Returns 0 or -ENOMEM. */
int fleet_scan_feed(FleetScan *s, size_t n, const char *last_key, bool more);
/* A document's text deflated (zlib, best compression) and base64-encoded, for a value that
 * would exceed etcd's request limit. Returns 0 and a malloc'd *ret, or -ENOMEM. */
int fleet_deflate_b64(const char *text, char **ret);
/* The reverse, for exactly bytes (1 .. FLEET_DOCUMENT_MAX) of text without NUL bytes. Returns 0
 * and a malloc'd, NUL-terminated *ret, -EINVAL (not base64, not zlib, another size, NUL bytes)
 * or -ENOMEM. */
int fleet_inflate_b64(const char *b64, size_t bytes, char **ret);
