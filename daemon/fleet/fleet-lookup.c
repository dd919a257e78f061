/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The lazy lookup: when tiering creates a learning tenant without a close local model, one
 * bounded scan of its class's models, nearest context buckets first (FleetScan); the nearest
 * published model of an allowed host is imported through POST /v1/models' validation and
 * becomes the tenant's starting model. Whatever a value holds, it is checked before use and a bad one is logged and
 * skipped. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet-internal.h"
#include "jsonutil.h"
#include "log.h"
#include "reply.h"
#include "time-util.h"

#define LOOKUPS_MAX 16
/* Valid candidates kept while a lookup scans: the nearest, and a few to fall back on when it
 * does not import. */
#define LOOKUP_KEEP 4

typedef struct Candidate {
        double distance;
        char key[512];
        char host[128];
        int64_t tenant;
        int64_t revision;      /* etcd's mod_revision of the key */
        json_object *value;    /* owned */
        json_object *document; /* owned: the value's document, inflated when it came compressed */
} Candidate;

void fleet_lookup_free(Lookup *l) {
        Fleet *f = l->fleet;

        for (Lookup **p = &f->lookups; *p; p = &(*p)->next)
                if (*p == l) {
                        *p = l->next;
                        f->n_lookups--;
                        break;
                }
        etcd_cancel(l->q);
        for (size_t i = 0; i < l->n_candidates; i++) {
                json_object_put(l->candidates[i].value);
                json_object_put(l->candidates[i].document);
        }
        free(l->candidates);
        fleet_scan_done(&l->scan);
        free(l->policy);
        free(l->workload_class);
        free(l);
}

static int candidate_order(const void *a, const void *b) {
        const Candidate *x = a, *y = b;

        return x->distance < y->distance ? -1 : x->distance > y->distance;
}

static void rejected(Fleet *f, const char *key, const char *why) {
        f->rejected_total++;
        log_warning("Fleet: model %s rejected: %s.", key, why);
}

/* The model document of a value: "document", or "document_deflate" inflated to exactly
 * "document_bytes" and parsed. Returns 0 and a new reference, or -EINVAL with *ret_why. */
static int envelope_document(json_object *v, json_object **ret, const char **ret_why) {
        json_object *doc = json_object_object_get(v, "document"), *z = json_object_object_get(v, "document_deflate"),
                    *bytes = json_object_object_get(v, "document_bytes");
        _cleanup_free_ char *text = NULL;

        *ret_why = "no model document";
        if (json_object_is_type(doc, json_type_object)) {
                *ret = json_object_get(doc);
                return 0;
        }
        if (!json_object_is_type(z, json_type_string) || !json_object_is_type(bytes, json_type_int) ||
            json_object_get_int64(bytes) <= 0 || json_object_get_int64(bytes) > FLEET_DOCUMENT_MAX)
                return -EINVAL;
        *ret_why = "its compressed document does not inflate to document_bytes of text";
        if (fleet_inflate_b64(json_object_get_string(z), (size_t) json_object_get_int64(bytes), &text) < 0)
                return -EINVAL;
        *ret_why = "its compressed document is not a JSON object";
        doc = json_tokener_parse(text);
        if (!json_object_is_type(doc, json_type_object)) {
                json_object_put(doc);
                return -EINVAL;
        }
        *ret = doc;
        return 0;
}

/* Checks the envelope of a value against the lookup; sets c->distance. Returns 0 or -EINVAL
 * with *ret_why. */
static int envelope_check(const Lookup *l, json_object *v, Candidate *c, const char **ret_why) {
        double feat[TIER_N_FEATURES], d = 0;
        json_object *x;

        *ret_why = "not a JSON object";
        if (!json_object_is_type(v, json_type_object))
                return -EINVAL;
        *ret_why = "not a " FLEET_FORMAT " value of format_version 1";
        if (!json_object_object_get_ex(v, "format", &x) || !json_object_is_type(x, json_type_string) ||
            strcmp(json_object_get_string(x), FLEET_FORMAT) != 0 ||
            !json_object_object_get_ex(v, "format_version", &x) || !json_object_is_type(x, json_type_int) ||
            json_object_get_int64(x) != FLEET_FORMAT_VERSION)
                return -EINVAL;
        *ret_why = "another workload class or policy than the tenant's";
        if (!json_object_object_get_ex(v, "workload_class", &x) || !json_object_is_type(x, json_type_string) ||
            strcmp(json_object_get_string(x), l->workload_class) != 0 || !json_object_object_get_ex(v, "policy", &x) ||
            !json_object_is_type(x, json_type_string) || strcmp(json_object_get_string(x), l->policy) != 0)
                return -EINVAL;
        *ret_why = "its context is not 5 numbers from 0 to 1";
        if (tierd_features_from_json(json_object_object_get(v, "context"), feat) < 0)
                return -EINVAL;
        if (envelope_document(v, &c->document, ret_why) < 0)
                return -EINVAL;
        for (unsigned i = 0; i < TIER_N_FEATURES; i++)
                d += (feat[i] - l->features[i]) * (feat[i] - l->features[i]);
        c->distance = sqrt(d);
        return 0;
}

/* Turns one key-value of the range into a candidate. Returns 1 (a candidate), 0 (skipped) or -ENOMEM. */
static int candidate_make(Fleet *f, const Lookup *l, json_object *kv, Candidate *c) {
        const char *k64 = json_object_get_string(json_object_object_get(kv, "key")),
                   *v64 = json_object_get_string(json_object_object_get(kv, "value")), *why = NULL;
        _cleanup_free_ char *key = NULL, *value = NULL;
        size_t kn, vn;
        int r;

        if (!k64 || etcd_unb64(k64, &key, &kn) < 0 || strlen(key) != kn || kn >= sizeof c->key)
                return 0;
        if (fleet_model_key_parse(f->prefix, key, c->host, sizeof c->host, &c->tenant) < 0) {
                rejected(f, key, "not a model key (PREFIX/models/CLASS/BUCKET/HOST/TENANT)");
                return 0;
        }
        if (strcmp(c->host, f->host) == 0)
                return 0; /* this host's own models are in the store already */
        if (!fleet_source_allowed(f->config->fleet_sources, c->host)) {
                rejected(f, key, "its host is not in [fleet] sources");
                return 0;
        }
        r = v64 ? etcd_unb64(v64, &value, &vn) : -EINVAL;
        if (r == -ENOMEM)
                return r;
        if (r < 0 || strlen(value) != vn) {
                rejected(f, key, "its value is not base64 of text");
                return 0;
        }
        c->value = json_tokener_parse(value);
        if (envelope_check(l, c->value, c, &why) < 0) {
                rejected(f, key, why);
                json_object_put(c->value);
                c->value = NULL;
                return 0;
        }
        strcpy(c->key, key);
        c->revision = json_object_get_int64(json_object_object_get(kv, "mod_revision"));
        return 1;
}

void fleet_origins_load(Fleet *f) {
        _cleanup_fclose_ FILE *in = fopen(f->origins_path, "re");
        char label[256];
        int64_t id;

        if (!in) {
                if (errno != ENOENT)
                        log_warning_errno(-errno, "Fleet: cannot read %s, imported models show no origin: %m",
                                          f->origins_path);
                return;
        }
        while (fscanf(in, "%" SCNd64 " %255s\n", &id, label) == 2)
                if (id > 0 && tierd_model_label_set(f->tierd, id, label) < 0)
                        log_oom();
}

/* Appends an imported model's origin to the origins file (best effort: logged). */
static void origin_save(Fleet *f, int64_t id, const char *label) {
        _cleanup_fclose_ FILE *out = fopen(f->origins_path, "ae");

        if (!out || fprintf(out, "%" PRId64 " %s\n", id, label) < 0 || fflush(out) != 0)
                log_warning_errno(-errno, "Fleet: cannot record the origin of model %" PRId64 " in %s, ignoring: %m",
                                  id, f->origins_path);
}

/* ---- watches ---- */

static void watch_free(Watch *w) {
        etcd_cancel(w->q);
        free(w->key);
        free(w->label);
        free(w->workload_class);
        free(w->policy);
        free(w->tenants);
        free(w);
}

void fleet_watches_free(Fleet *f) {
        while (f->watches) {
                Watch *w = f->watches;

                f->watches = w->next;
                watch_free(w);
        }
}

/* Imports the newer value of w's key and moves its tenants that have not trained to it. */
static void watch_update(Watch *w, json_object *kv) {
        Fleet *f = w->fleet;
        const char *v64 = json_object_get_string(json_object_object_get(kv, "value")), *why = NULL;
        _cleanup_(json_object_putp) json_object *v = NULL, *doc = NULL;
        _cleanup_(reply_done) Reply reply = {};
        _cleanup_free_ char *value = NULL;
        Lookup l = { .workload_class = w->workload_class, .policy = w->policy };
        Candidate c = {};
        int64_t id;
        size_t n;

        w->revision = json_object_get_int64(json_object_object_get(kv, "mod_revision"));
        if (!v64 || etcd_unb64(v64, &value, &n) < 0 || strlen(value) != n)
                return rejected(f, w->key, "its value is not base64 of text");
        v = json_tokener_parse(value);
        if (envelope_check(&l, v, &c, &why) < 0)
                return rejected(f, w->key, why);
        doc = c.document;
        if (tierd_model_import_document(f->tierd, doc, &reply, &id) < 0)
                return rejected(f, w->key, reply.message[0] ? reply.message : "it does not import");
        f->updated_total++;
        if (tierd_model_label_set(f->tierd, id, w->label) < 0)
                log_oom();
        origin_save(f, id, w->label);
        for (size_t i = 0; i < w->n_tenants; i++) {
                TierdTenant *tt = tierd_tenant_peek(f->tierd, w->tenants[i]);

                if (tt && tt->transferred_from == w->model_id && tierd_tenant_adopt(f->tierd, tt->id, id) >= 0)
                        log_info("Fleet: tenant %" PRId64 " moves to the newer model %s (model %" PRId64 ").",
                                 w->tenants[i], w->label, id);
        }
        w->model_id = id;
}

static int on_watch(void *userdata, int r, json_object *msg) {
        Watch *w = userdata;
        json_object *result = json_object_object_get(msg, "result"), *events, *newest = NULL;

        if (r < 0 || !result || json_object_get_boolean(json_object_object_get(result, "canceled"))) {
                /* Opened again at the next heartbeat, from the revision seen last. */
                log_debug("Fleet: the watch of %s ended (%s).", w->key,
                          r < 0 ? strerror(-r) : json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN));
                w->q = NULL;
                return -ECANCELED;
        }
        events = json_object_object_get(result, "events");
        for (size_t i = 0; json_object_is_type(events, json_type_array) && i < json_object_array_length(events); i++) {
                json_object *e = json_object_array_get_idx(events, i), *kv = json_object_object_get(e, "kv");

                if (!json_object_object_get(e, "type") && /* PUT is etcd's default, left out */
                    json_object_get_int64(json_object_object_get(kv, "mod_revision")) > w->revision)
                        newest = kv;
        }
        if (newest)
                watch_update(w, newest);
        return 0;
}

static int watch_open(Watch *w) {
        _cleanup_(json_object_putp) json_object *b = json_object_new_object(), *c = fleet_body_key(w->key, false);

        if (!b || !c || json_add_int(c, "start_revision", w->revision + 1, true) < 0 ||
            json_add(b, "create_request", TAKE_PTR(c)) < 0)
                return -ENOMEM;
        return etcd_watch(w->fleet->etcd, b, on_watch, w, &w->q);
}

/* Adds the tenant to the watch of candidate c's key (created when there is none). */
static int watch_add(Fleet *f, const Lookup *l, const Candidate *c, const char *label, int64_t model_id) {
        Watch *w = NULL;
        int64_t *v;

        for (w = f->watches; w && strcmp(w->key, c->key) != 0; w = w->next)
                ;
        if (!w) {
                w = calloc(1, sizeof *w);
                if (!w)
                        return -ENOMEM;
                *w = (Watch) { .fleet = f,
                               .key = strdup(c->key),
                               .label = strdup(label),
                               .workload_class = strdup(l->workload_class),
                               .policy = strdup(l->policy) };
                if (!w->key || !w->label || !w->workload_class || !w->policy) {
                        watch_free(w);
                        return -ENOMEM;
                }
                w->next = f->watches;
                f->watches = w;
        }
        v = reallocarray(w->tenants, w->n_tenants + 1, sizeof *v);
        if (!v)
                return -ENOMEM;
        w->tenants = v;
        w->tenants[w->n_tenants++] = l->tenant;
        w->model_id = model_id;
        w->revision = c->revision;
        if (!w->q && watch_open(w) < 0)
                log_warning("Fleet: cannot watch %s now, trying at the next heartbeat.", w->key);
        return 0;
}

void fleet_watches_refresh(Fleet *f) {
        for (Watch **p = &f->watches; *p;) {
                Watch *w = *p;
                size_t k = 0;

                for (size_t i = 0; i < w->n_tenants; i++) {
                        TierdTenant *tt = tierd_tenant_peek(f->tierd, w->tenants[i]);

                        /* In use: the tenant still runs the fleet model, untrained. */
                        if (tt && tt->transferred_from == w->model_id && tt->model_samples == 0)
                                w->tenants[k++] = w->tenants[i];
                }
                w->n_tenants = k;
                if (k == 0) {
                        log_debug("Fleet: no tenant here runs %s untrained any more, not watching it.", w->key);
                        *p = w->next;
                        watch_free(w);
                        continue;
                }
                if (!w->q && watch_open(w) < 0)
                        log_warning("Fleet: cannot watch %s now, trying at the next heartbeat.", w->key);
                p = &w->next;
        }
}

/* Imports the first candidate that passes validation and moves the tenant to it. */
static void candidates_import(Fleet *f, const Lookup *l, Candidate *c, size_t n) {
        for (size_t i = 0; i < n; i++) {
                _cleanup_(reply_done) Reply reply = {};
                char label[256];
                int64_t id;
                int r;

                if (!tierd_tenant_peek(f->tierd, l->tenant))
                        return; /* gone meanwhile (removed, or reloaded: it starts from the store) */
                r = tierd_model_import_document(f->tierd, c[i].document, &reply, &id);
                if (r < 0) {
                        rejected(f, c[i].key, reply.message[0] ? reply.message : "it does not import");
                        continue;
                }
                f->imported_total++;
                snprintf(label, sizeof label, "%s/%" PRId64, c[i].host, c[i].tenant);
                if (tierd_model_label_set(f->tierd, id, label) < 0)
                        log_oom();
                origin_save(f, id, label);
                r = tierd_tenant_adopt(f->tierd, l->tenant, id);
                if (r == -EALREADY)
                        log_info("Fleet: tenant %" PRId64 " learnt meanwhile; model %s kept as model %" PRId64
                                 " for later tenants.",
                                 l->tenant, label, id);
                else if (r < 0)
                        log_warning_errno(r, "Fleet: tenant %" PRId64 " cannot start from model %s: %m", l->tenant,
                                          label);
                else if (watch_add(f, l, &c[i], label, id) < 0)
                        log_oom();
                if (r >= 0)
                        log_info("Fleet: tenant %" PRId64
                                 " starts from model %s of the fleet (distance %.3f, model %" PRId64 ").",
                                 l->tenant, label, c[i].distance, id);
                return;
        }
}

static int range_next(Lookup *l);

/* Adds this page's valid candidates to the lookup's, keeping the LOOKUP_KEEP nearest: at most
 * LOOKUP_KEEP + 1 documents are held at any time, whatever a page holds. */
static int candidates_merge(Lookup *l, json_object *kvs) {
        Fleet *f = l->fleet;
        size_t total = json_object_is_type(kvs, json_type_array) ? json_object_array_length(kvs) : 0;
        Candidate *c = l->candidates;

        if (!c) {
                c = calloc(LOOKUP_KEEP + 1, sizeof *c);
                if (!c)
                        return -ENOMEM;
                l->candidates = c;
        }
        for (size_t i = 0; i < total; i++) {
                size_t n = l->n_candidates;
                int r;

                c[n] = (Candidate) {};
                r = candidate_make(f, l, json_object_array_get_idx(kvs, i), &c[n]);
                if (r < 0)
                        return r;
                if (r == 0)
                        continue;
                qsort(c, n + 1, sizeof *c, candidate_order);
                if (n + 1 > LOOKUP_KEEP) {
                        json_object_put(c[n].value);
                        json_object_put(c[n].document);
                } else
                        l->n_candidates = n + 1;
        }
        return 0;
}

/* The scan is over (or cut short): imports the nearest candidate, and the lookup ends. */
static void lookup_finish(Lookup *l) {
        Fleet *f = l->fleet;

        if (l->scan.truncated)
                log_notice("Fleet: the lookup for tenant %" PRId64 " stopped after %zu keys; the nearest of them wins.",
                           l->tenant, l->scan.keys);
        if (l->n_candidates == 0)
                log_info("Fleet: no model of the fleet for tenant %" PRId64 " (%s, %s).", l->tenant, l->workload_class,
                         l->policy);
        else
                candidates_import(f, l, l->candidates, l->n_candidates);
        fleet_lookup_free(l);
}

static void on_range(void *userdata, int r, json_object *reply, const char *err) {
        Lookup *l = userdata;
        Fleet *f = l->fleet;
        json_object *kvs = json_object_object_get(reply, "kvs");
        size_t n = json_object_is_type(kvs, json_type_array) ? json_object_array_length(kvs) : 0;
        _cleanup_free_ char *last = NULL;
        size_t last_n = 0;

        l->q = NULL;
        if (r < 0) {
                fleet_request_failed(f, r, "lookup", err);
                log_info("Fleet: lookup for tenant %" PRId64 " failed (%s); it keeps its local model.", l->tenant,
                         f->last_error ?: "?");
                fleet_lookup_free(l);
                return;
        }
        fleet_state_set(f, FLEET_CONNECTED, NULL);
        if (n > 0) {
                const char *k64 =
                        json_object_get_string(json_object_object_get(json_object_array_get_idx(kvs, n - 1), "key"));

                /* A last key that is not text ends this bucket's pages (it cannot be resumed after). */
                if (!k64 || etcd_unb64(k64, &last, &last_n) < 0 || strlen(last) != last_n) {
                        free(last);
                        last = NULL;
                }
        }
        if (candidates_merge(l, kvs) < 0 ||
            fleet_scan_feed(&l->scan, n, last, json_object_get_boolean(json_object_object_get(reply, "more"))) < 0) {
                log_oom();
                fleet_lookup_free(l);
                return;
        }
        r = range_next(l);
        if (r < 0) {
                log_warning_errno(r, "Fleet: cannot go on looking up a model for tenant %" PRId64 ": %m", l->tenant);
                lookup_finish(l);
        } else if (r == 0)
                lookup_finish(l);
}

/* Starts the scan's next range read. Returns 1 (started), 0 (the scan is over or out of time)
 * or -errno. */
static int range_next(Lookup *l) {
        Fleet *f = l->fleet;
        _cleanup_(json_object_putp) json_object *b = NULL;
        _cleanup_free_ char *key = NULL, *end = NULL, *k64 = NULL, *e64 = NULL;
        double best = l->n_candidates > 0 ? l->candidates[0].distance : INFINITY;
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        size_t key_n;
        unsigned limit;
        int r;

        if (now >= l->deadline_usec) {
                log_notice("Fleet: the lookup for tenant %" PRId64 " ran out of time after %zu keys.", l->tenant,
                           l->scan.keys);
                return 0;
        }
        r = fleet_scan_next(&l->scan, f->prefix, l->workload_class, best, &key, &key_n, &end, &limit);
        if (r <= 0)
                return r;
        k64 = etcd_b64(key, key_n);
        e64 = etcd_b64(end, strlen(end));
        b = json_object_new_object();
        if (!k64 || !e64 || !b || json_add_string(b, "key", k64) < 0 || json_add_string(b, "range_end", e64) < 0 ||
            json_add_int(b, "limit", limit, true) < 0)
                return -ENOMEM;
        r = etcd_call(f->etcd, "kv/range", b, (l->deadline_usec - now + 999) / 1000, on_range, l, &l->q);
        return r < 0 ? r : 1;
}

void fleet_lookup_hook(void *userdata, int64_t tenant_id) {
        Fleet *f = userdata;
        TierdTenant *tt = tierd_tenant_peek(f->tierd, tenant_id);
        Lookup *l;
        int r;

        if (f->state == FLEET_OFF || !tt)
                return;
        if (f->n_lookups >= LOOKUPS_MAX) {
                log_notice("Fleet: %d lookups in flight, tenant %" PRId64 " keeps its local model.", LOOKUPS_MAX,
                           tenant_id);
                return;
        }
        l = calloc(1, sizeof *l);
        if (!l) {
                log_oom();
                return;
        }
        l->fleet = f;
        l->tenant = tenant_id;
        l->workload_class = strdup(tt->workload_class);
        l->policy = strdup(policy_name(tt->policy));
        tier_context_features(&tt->context, l->features);
        fleet_scan_init(&l->scan, l->features);
        l->deadline_usec = now_usec(CLOCK_MONOTONIC) + (uint64_t) f->config->fleet_lookup_timeout_ms * 1000;
        l->next = f->lookups;
        f->lookups = l;
        f->n_lookups++;
        f->lookups_total++;
        r = l->workload_class && l->policy ? range_next(l) : -ENOMEM;
        if (r == 0)
                r = -ETIMEDOUT; /* the first read always starts: the own bucket's bound is 0 */
        if (r < 0) {
                log_warning_errno(r, "Fleet: cannot look up a model for tenant %" PRId64 ": %m", tenant_id);
                fleet_lookup_free(l);
                return;
        }
        log_debug("Fleet: looking up a %s model for tenant %" PRId64 ".", l->workload_class, tenant_id);
}
