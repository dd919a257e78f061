/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Publication of this host's tenant models under PREFIX/models/CLASS/BUCKET/HOST/TENANT, one
 * at a time, rate-limited per tenant by model version and time; and the retention sweep that
 * deletes the keys of tenants removed long enough ago. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fleet-internal.h"
#include "jsonutil.h"
#include "log.h"
#include "store-tier.h"
#include "time-util.h"

#define SWEEP_EVERY_USEC (3600ULL * 1000000)
#define SWEEP_KEYS_MAX 10000
#define SWEEP_DELETES_MAX 64
#define PUBLISH_TIMEOUT_MS 10000

static Published *published_find(Fleet *f, int64_t tenant) {
        for (Published *p = f->published; p; p = p->next)
                if (p->tenant == tenant)
                        return p;
        return NULL;
}

static int published_note(Fleet *f, int64_t tenant, int64_t version) {
        Published *p = published_find(f, tenant);

        if (!p) {
                p = calloc(1, sizeof *p);
                if (!p)
                        return -ENOMEM;
                p->tenant = tenant;
                p->next = f->published;
                f->published = p;
        }
        p->version = version;
        p->usec = now_usec(CLOCK_MONOTONIC);
        return 0;
}

/* Committed episodes of the tenant and their mean reward. */
static int episodes_summary(Fleet *f, int64_t tenant, int64_t *ret_n, double *ret_mean) {
        StoreTierEpisode *e = NULL;
        size_t n = 0;
        double sum = 0;
        int r;

        r = store_tier_episode_list(f->store, tenant, true, 0, &e, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                sum += e[i].reward;
        store_tier_episodes_free(e, n);
        *ret_n = (int64_t) n;
        *ret_mean = n > 0 ? sum / (double) n : 0;
        return 0;
}

/* The value published for a stored model: the envelope and, as "document", what GET
 * /v1/models/{id} exports (the members POST /v1/models takes); with deflate, that document's text
 * compressed as "document_deflate" with its size in "document_bytes". */
static int envelope_build(Fleet *f, const StoreTierModel *row, bool deflate, json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object(), *doc = json_object_new_object();
        int64_t episodes = 0;
        double mean = 0;
        int r;

        if (!o || !doc)
                return -ENOMEM;
        r = episodes_summary(f, row->tenant_id, &episodes, &mean);
        r = r < 0 ? r : json_add_string(doc, "workload_class", row->workload_class);
        r = r < 0 ? r : json_add(doc, "context", json_tokener_parse(row->centroid));
        r = r < 0 ? r : json_add_int(doc, "samples", row->samples, true);
        r = r < 0 ? r : json_add(doc, "model", json_tokener_parse(row->json));
        r = r < 0 ? r : json_add_string(o, "format", FLEET_FORMAT);
        r = r < 0 ? r : json_add_int(o, "format_version", FLEET_FORMAT_VERSION, true);
        r = r < 0 ? r : json_add_string(o, "host", f->host);
        r = r < 0 ? r : json_add_int(o, "tenant", row->tenant_id, true);
        r = r < 0 ? r : json_add_string(o, "workload_class", row->workload_class);
        r = r < 0 ? r : json_add_string(o, "policy", row->policy);
        r = r < 0 ? r : json_add(o, "context", json_tokener_parse(row->centroid));
        r = r < 0 ? r : json_add_int(o, "version", row->version, true);
        r = r < 0 ? r : json_add_int(o, "episodes", episodes, true);
        r = r < 0 ? r : json_add(o, "mean_reward", tierd_json_number(mean));
        r = r < 0 ? r : json_add_int(o, "published_usec", (int64_t) now_usec(CLOCK_REALTIME), true);
        if (r >= 0 && deflate) {
                const char *text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN);
                _cleanup_free_ char *z = NULL;

                r = fleet_deflate_b64(text, &z);
                r = r < 0 ? r : json_add_string(o, "document_deflate", z);
                r = r < 0 ? r : json_add_int(o, "document_bytes", (int64_t) strlen(text), true);
        } else
                r = r < 0 ? r : json_add(o, "document", TAKE_PTR(doc));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

static void on_published(void *userdata, int r, json_object *reply, const char *err) {
        Fleet *f = userdata;

        f->publish = NULL;
        if (r < 0) {
                fleet_request_failed(f, r, "publish", err);
                log_warning("Fleet: publishing the model of tenant %" PRId64 " failed: %s", f->publish_tenant,
                            f->last_error ?: "?");
                return;
        }
        if (published_note(f, f->publish_tenant, f->publish_version) < 0)
                log_oom();
        f->published_total++;
        f->deflated_total += f->publish_deflated;
        log_info("Fleet: model of tenant %" PRId64 " (version %" PRId64 ") published%s.", f->publish_tenant,
                 f->publish_version, f->publish_deflated ? ", compressed" : "");
        fleet_publish_next(f);
}

/* Starts the put of row's model. Returns 0, -EFBIG (larger than etcd takes) or -errno. */
static int publish_one(Fleet *f, const StoreTierModel *candidate) {
        _cleanup_(store_tier_model_done) StoreTierModel row = {};
        _cleanup_(json_object_putp) json_object *v = NULL, *b = NULL, *cj = NULL;
        _cleanup_free_ char *key = NULL, *vb = NULL;
        double feat[TIER_N_FEATURES];
        const char *text;
        bool fits = false;
        int r;

        r = store_tier_model_get(f->store, candidate->id, &row);
        if (r < 0)
                return r;
        cj = json_tokener_parse(row.centroid);
        r = tierd_features_from_json(cj, feat);
        if (r < 0)
                return r;
        key = fleet_model_key(f->prefix, row.workload_class, fleet_context_bucket(feat), f->host, row.tenant_id);
        if (!key)
                return -ENOMEM;
        /* As it is if it fits the request limit, else compressed, else not at all. */
        for (int deflate = 0; deflate < 2 && !fits; deflate++) {
                json_object_put(v);
                json_object_put(b);
                free(vb);
                v = b = NULL;
                vb = NULL;
                r = envelope_build(f, &row, deflate, &v);
                if (r < 0)
                        return r;
                text = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
                vb = etcd_b64(text, strlen(text));
                b = fleet_body_key(key, false);
                if (!vb || !b || json_add_string(b, "value", vb) < 0)
                        return -ENOMEM;
                fits = strlen(json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN)) + 512 <=
                       f->config->fleet_max_request_bytes;
                f->publish_deflated = deflate;
        }
        if (!fits)
                return -EFBIG;
        f->publish_tenant = row.tenant_id;
        f->publish_version = row.version;
        return etcd_call(f->etcd, "kv/put", b, PUBLISH_TIMEOUT_MS, on_published, f, &f->publish);
}

static bool publish_due(Fleet *f, const StoreTierModel *m, uint64_t now) {
        Published *p = published_find(f, m->tenant_id);

        if (m->tenant_id <= 0 || m->version - (p ? p->version : 0) < (int64_t) f->config->fleet_publish_episodes)
                return false;
        return !p || now - p->usec >= (uint64_t) f->config->fleet_publish_interval_s * 1000000;
}

/* Tries the due models of one class and policy; true once a publication is in flight. */
static bool publish_scan(Fleet *f, const char *class, const char *policy, uint64_t now) {
        StoreTierModel *c = NULL;
        size_t n = 0;
        bool started = false;

        if (store_tier_model_candidates(f->store, class, policy, &c, &n) < 0)
                return false;
        for (size_t i = 0; i < n && !started; i++) {
                int r;

                if (!publish_due(f, &c[i], now))
                        continue;
                r = publish_one(f, &c[i]);
                if (r == -EFBIG) {
                        /* Counted once per version step, not at every heartbeat. */
                        f->oversize_total++;
                        log_warning("Fleet: the model of tenant %" PRId64 " (version %" PRId64
                                    ") is larger than [fleet] max_request_bytes, not published.",
                                    c[i].tenant_id, c[i].version);
                        (void) published_note(f, c[i].tenant_id, c[i].version);
                } else if (r < 0)
                        log_warning_errno(r, "Fleet: cannot publish the model of tenant %" PRId64 ", ignoring: %m",
                                          c[i].tenant_id);
                else
                        started = true;
        }
        store_tier_models_free(c, n);
        return started;
}

void fleet_publish_next(Fleet *f) {
        uint64_t now = now_usec(CLOCK_MONOTONIC);

        if (f->state != FLEET_CONNECTED || f->publish)
                return;
        for (size_t i = 0; i < ELEMENTSOF(fleet_classes); i++)
                for (size_t k = 0; k < ELEMENTSOF(fleet_learning_policies); k++)
                        if (publish_scan(f, fleet_classes[i], fleet_learning_policies[k], now))
                                return;
}

/* ---- retention ---- */

/* When the tenant was removed (its tenant-removed event), 0 when the log no longer tells. */
static int64_t removed_usec(Fleet *f, int64_t tenant) {
        StoreEvent *e = NULL;
        size_t n = 0;
        int64_t t = 0;

        if (store_event_list(f->store, tenant, 50, &e, &n) < 0)
                return -1;
        for (size_t i = 0; i < n && t == 0; i++)
                if (strcmp(e[i].kind, "tenant-removed") == 0)
                        t = e[i].time_usec;
        store_events_free(e, n);
        return t;
}

static void on_deleted(void *userdata, int r, json_object *reply, const char *err) {
        Fleet *f = userdata;

        if (r < 0) {
                fleet_request_failed(f, r, "retention delete", err);
                return;
        }
        f->deleted_total++;
}

/* An own key of a tenant gone for longer than the retention (or with no trace left) goes. */
static int sweep_key(Fleet *f, const char *key, uint64_t now) {
        _cleanup_(json_object_putp) json_object *b = NULL;
        char host[128];
        int64_t tenant, removed;
        Tenant t = {};
        int r;

        if (fleet_model_key_parse(f->prefix, key, host, sizeof host, &tenant) < 0 || strcmp(host, f->host) != 0)
                return 0;
        r = store_tenant_get(f->store, tenant, &t);
        tenant_done(&t);
        if (r != -ENOENT)
                return 0;
        removed = removed_usec(f, tenant);
        if (removed < 0 ||
            (removed > 0 && (uint64_t) removed + (uint64_t) f->config->fleet_retention_days * 86400 * 1000000 > now))
                return 0;
        b = fleet_body_key(key, false);
        if (!b)
                return -ENOMEM;
        log_info("Fleet: deleting %s, of a tenant removed over %u days ago.", key, f->config->fleet_retention_days);
        r = etcd_call(f->etcd, "kv/deleterange", b, PUBLISH_TIMEOUT_MS, on_deleted, f, NULL);
        return r < 0 ? r : 1;
}

static void on_sweep(void *userdata, int r, json_object *reply, const char *err) {
        Fleet *f = userdata;
        json_object *kvs = json_object_object_get(reply, "kvs");
        uint64_t now = now_usec(CLOCK_REALTIME);
        unsigned deletes = 0;
        size_t total;

        f->sweep = NULL;
        if (r < 0) {
                fleet_request_failed(f, r, "retention sweep", err);
                return;
        }
        total = json_object_is_type(kvs, json_type_array) ? json_object_array_length(kvs) : 0;
        for (size_t i = 0; i < total && deletes < SWEEP_DELETES_MAX; i++) {
                const char *k64 =
                        json_object_get_string(json_object_object_get(json_object_array_get_idx(kvs, i), "key"));
                _cleanup_free_ char *key = NULL;
                size_t n;

                if (!k64 || etcd_unb64(k64, &key, &n) < 0 || strlen(key) != n)
                        continue;
                r = sweep_key(f, key, now);
                if (r > 0)
                        deletes++;
        }
}

void fleet_retention_sweep(Fleet *f) {
        _cleanup_(json_object_putp) json_object *b = NULL;
        _cleanup_free_ char *prefix = NULL;
        uint64_t now = now_usec(CLOCK_MONOTONIC);

        if (f->state != FLEET_CONNECTED || f->sweep || (f->sweep_usec > 0 && now - f->sweep_usec < SWEEP_EVERY_USEC))
                return;
        f->sweep_usec = now;
        if (asprintf(&prefix, "%s/models/", f->prefix) < 0) {
                prefix = NULL;
                return;
        }
        b = fleet_body_key(prefix, true);
        if (!b || json_add(b, "keys_only", json_object_new_boolean(true)) < 0 ||
            json_add_int(b, "limit", SWEEP_KEYS_MAX, true) < 0 ||
            etcd_call(f->etcd, "kv/range", b, PUBLISH_TIMEOUT_MS, on_sweep, f, &f->sweep) < 0)
                log_warning("Fleet: cannot start the retention sweep, trying again in an hour.");
}
