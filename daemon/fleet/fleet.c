/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fleet module: presence under a lease (the heartbeat that also tells whether etcd is
 * reachable), publication of trained tenant models with rate limits, and the lazy lookup that
 * imports the nearest published model through POST /v1/models' validation. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "etcd.h"
#include "fleet-internal.h"
#include "fleet.h"
#include "jsonutil.h"
#include "log.h"
#include "metrics.h"
#include "store-tier.h"
#include "time-util.h"

#define LEASE_TTL_S 10
#define BEAT_CONNECTED_S 3
#define BACKOFF_MAX_S 30
#define REQUEST_TIMEOUT_MS 5000
#define REPLY_MAX_BYTES (64ULL << 20)

const char *const fleet_learning_policies[2] = { "indigo", "linucb" };
const char *const fleet_classes[2] = { "batch", "serving" };

int fleet_new(const FleetDeps *deps, Fleet **ret) {
        Fleet *f = calloc(1, sizeof *f);

        if (!f)
                return -ENOMEM;
        f->store = deps->store;
        f->tierd = deps->tierd;
        f->event = deps->event;
        f->config = deps->config;
        f->state = FLEET_OFF;
        if (asprintf(&f->origins_path, "%s/fleet-models", deps->state_dir) < 0) {
                free(f);
                return -ENOMEM;
        }
        *ret = f;
        return 0;
}

Fleet *fleet_free(Fleet *f) {
        if (!f)
                return NULL;
        while (f->lookups)
                fleet_lookup_free(f->lookups);
        fleet_watches_free(f);
        while (f->published) {
                Published *p = f->published;

                f->published = p->next;
                free(p);
        }
        etcd_free(f->etcd); /* cancels the requests in flight without calling back */
        sd_event_source_disable_unref(f->timer);
        free(f->lease);
        free(f->host);
        free(f->prefix);
        free(f->last_error);
        free(f->origins_path);
        free(f);
        return NULL;
}

void fleet_set_config(Fleet *f, const Config *config) {
        f->config = config;
}

FleetState fleet_state(const Fleet *f) {
        return f->state;
}

/* ---- requests ---- */

/* A JSON body {"key": b64(key), ...} with range_end for a prefix. NULL on OOM. */
json_object *fleet_body_key(const char *key, bool prefix) {
        _cleanup_(json_object_putp) json_object *b = json_object_new_object();
        _cleanup_free_ char *k = etcd_b64(key, strlen(key)), *end = prefix ? etcd_prefix_end(key) : NULL,
                            *e = end ? etcd_b64(end, strlen(end)) : NULL;

        if (!b || !k || (prefix && !e) || json_add_string(b, "key", k) < 0 ||
            (prefix && json_add_string(b, "range_end", e) < 0))
                return NULL;
        return TAKE_PTR(b);
}

static void set_error(Fleet *f, int r, const char *what, const char *err) {
        free(f->last_error);
        if (asprintf(&f->last_error, "%s: %s", what, err ?: strerror(-r)) < 0)
                f->last_error = NULL;
}

/* Whether r says etcd could not be reached (rather than refusing a request). */
static bool unreachable(int r) {
        return r == -EHOSTUNREACH || r == -ETIMEDOUT;
}

void fleet_state_set(Fleet *f, FleetState s, const char *why) {
        if (f->state == s)
                return;
        if (s == FLEET_LOCAL_ONLY) {
                f->unreachable_total++;
                log_warning("Fleet: etcd unreachable (%s), running local-only; retrying by itself.",
                            why ?: "no answer");
        } else if (s == FLEET_CONNECTED)
                log_info("Fleet: connected to etcd at %s as host %s.", etcd_endpoint(f->etcd), f->host);
        f->state = s;
}

void fleet_request_failed(Fleet *f, int r, const char *what, const char *err) {
        set_error(f, r, what, err);
        if (unreachable(r))
                fleet_state_set(f, FLEET_LOCAL_ONLY, f->last_error);
}

/* ---- heartbeat: lease, presence key, and the other periodic work ---- */

static void beat_schedule(Fleet *f) {
        uint64_t s = BEAT_CONNECTED_S;

        if (f->state != FLEET_CONNECTED) {
                s = f->backoff_s ?: 1;
                f->backoff_s = s * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : (unsigned) s * 2;
        } else
                f->backoff_s = 0;
        (void) sd_event_source_set_time_relative(f->timer, s * 1000000);
        (void) sd_event_source_set_enabled(f->timer, SD_EVENT_ONESHOT);
}

static void beat_failed(Fleet *f, int r, const char *what, const char *err) {
        set_error(f, r, what, err);
        fleet_state_set(f, FLEET_LOCAL_ONLY, f->last_error);
        beat_schedule(f);
}

static void beat_succeeded(Fleet *f) {
        fleet_state_set(f, FLEET_CONNECTED, NULL);
        beat_schedule(f);
        fleet_publish_next(f);
        fleet_retention_sweep(f);
        fleet_watches_refresh(f);
}

static void on_presence(void *userdata, int r, json_object *reply, const char *err) {
        Fleet *f = userdata;

        f->beat = NULL;
        if (r < 0)
                return beat_failed(f, r, "presence", err);
        beat_succeeded(f);
}

static int presence_put(Fleet *f) {
        _cleanup_(json_object_putp) json_object *b = NULL, *v = json_object_new_object();
        _cleanup_free_ char *key = NULL, *vb = NULL;
        const char *text;

        if (!v || asprintf(&key, "%s/hosts/%s/alive", f->prefix, f->host) < 0)
                return -ENOMEM;
        if (json_add_string(v, "host", f->host) < 0 || json_add_int(v, "pid", (int64_t) getpid(), true) < 0 ||
            json_add_int(v, "since_usec", (int64_t) f->since_usec, true) < 0)
                return -ENOMEM;
        text = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
        vb = etcd_b64(text, strlen(text));
        b = fleet_body_key(key, false);
        if (!vb || !b || json_add_string(b, "value", vb) < 0 || json_add_string(b, "lease", f->lease) < 0)
                return -ENOMEM;
        return etcd_call(f->etcd, "kv/put", b, REQUEST_TIMEOUT_MS, on_presence, f, &f->beat);
}

static void on_granted(void *userdata, int r, json_object *reply, const char *err) {
        Fleet *f = userdata;
        const char *id = json_object_get_string(json_object_object_get(reply, "ID"));

        f->beat = NULL;
        if (r >= 0 && !id)
                r = -EBADMSG;
        if (r < 0)
                return beat_failed(f, r, "lease grant", err);
        free(f->lease);
        f->lease = strdup(id);
        r = f->lease ? presence_put(f) : -ENOMEM;
        if (r < 0)
                beat_failed(f, r, "presence", NULL);
}

static void on_kept(void *userdata, int r, json_object *reply, const char *err) {
        Fleet *f = userdata;
        json_object *result = json_object_object_get(reply, "result");

        f->beat = NULL;
        if (r < 0)
                return beat_failed(f, r, "lease keepalive", err);
        /* An expired lease comes back without a TTL: its presence key is gone, so grant anew. */
        if (json_object_get_int64(json_object_object_get(result, "TTL")) <= 0) {
                log_info("Fleet: the presence lease expired, announcing this host again.");
                free(f->lease);
                f->lease = NULL;
                (void) sd_event_source_set_time_relative(f->timer, 0);
                (void) sd_event_source_set_enabled(f->timer, SD_EVENT_ONESHOT);
                return;
        }
        beat_succeeded(f);
}

static int on_beat(sd_event_source *s, uint64_t usec, void *userdata) {
        Fleet *f = userdata;
        _cleanup_(json_object_putp) json_object *b = json_object_new_object();
        int r;

        if (f->beat)
                return 0; /* its callback schedules the next beat */
        if (!b)
                r = -ENOMEM;
        else if (!f->lease)
                r = json_add_int(b, "TTL", LEASE_TTL_S, true) < 0
                            ? -ENOMEM
                            : etcd_call(f->etcd, "lease/grant", b, REQUEST_TIMEOUT_MS, on_granted, f, &f->beat);
        else
                r = json_add_string(b, "ID", f->lease) < 0
                            ? -ENOMEM
                            : etcd_call(f->etcd, "lease/keepalive", b, REQUEST_TIMEOUT_MS, on_kept, f, &f->beat);
        if (r < 0)
                beat_failed(f, r, "heartbeat", NULL);
        return 0;
}

/* ---- lifecycle ---- */

static int host_resolve(Fleet *f) {
        char name[256] = "";

        if (f->config->fleet_host && f->config->fleet_host[0])
                f->host = strdup(f->config->fleet_host);
        else if (gethostname(name, sizeof name - 1) < 0)
                return -errno;
        else
                f->host = strdup(name);
        if (!f->host)
                return -ENOMEM;
        return fleet_host_valid(f->host) ? 0 : -EINVAL;
}

static int prefix_resolve(Fleet *f) {
        size_t n;

        f->prefix = strdup(f->config->fleet_prefix ?: "/maio");
        if (!f->prefix)
                return -ENOMEM;
        n = strlen(f->prefix);
        while (n > 0 && f->prefix[n - 1] == '/')
                f->prefix[--n] = '\0';
        return 0;
}

int fleet_start(Fleet *f) {
        const Config *c = f->config;
        int r;

        /* Also with the fleet off now: models imported earlier keep their origin. */
        fleet_origins_load(f);
        if (!c->fleet_endpoints || !c->fleet_endpoints[0]) {
                log_debug("Fleet: no etcd endpoints, off.");
                return 0;
        }
        r = host_resolve(f);
        if (r == -EINVAL)
                return log_error_errno(r, "Fleet: host name '%s' cannot stand in a key ([fleet] host).", f->host);
        if (r >= 0)
                r = prefix_resolve(f);
        if (r >= 0)
                r = etcd_new(f->event,
                             &(EtcdConf) { .endpoints = c->fleet_endpoints,
                                           .ca_file = c->fleet_ca_file,
                                           .cert_file = c->fleet_cert_file,
                                           .key_file = c->fleet_key_file,
                                           .username = c->fleet_username,
                                           .password = c->fleet_password,
                                           .max_reply_bytes = REPLY_MAX_BYTES },
                             &f->etcd);
        if (r < 0)
                return log_error_errno(r, "Fleet: cannot set up the etcd client: %m");
        r = tierd_on_lookup(f->tierd, fleet_lookup_hook, f);
        if (r < 0)
                return log_error_errno(r, "Fleet: cannot register the lookup hook: %m");
        f->since_usec = now_usec(CLOCK_REALTIME);
        f->state = FLEET_LOCAL_ONLY; /* until etcd answers */
        r = sd_event_add_time_relative(f->event, &f->timer, CLOCK_MONOTONIC, 0, 100000, on_beat, f);
        if (r < 0)
                return log_error_errno(r, "Fleet: cannot add the heartbeat timer: %m");
        (void) sd_event_source_set_description(f->timer, "fleet-heartbeat");
        (void) sd_event_source_set_enabled(f->timer, SD_EVENT_ONESHOT);
        log_info("Fleet: host %s, etcd %s, prefix %s.", f->host, c->fleet_endpoints, f->prefix);
        return 0;
}

/* ---- status and metrics ---- */

json_object *fleet_status_to_json(Fleet *f) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        int r = o ? 0 : -ENOMEM;

        r = r < 0 ? r : json_add_string(o, "state", fleet_state_to_string(f->state));
        if (f->state != FLEET_OFF) {
                r = r < 0 ? r : json_add_string(o, "host", f->host);
                r = r < 0 ? r : json_add_string(o, "endpoint", etcd_endpoint(f->etcd));
                r = r < 0 ? r : json_add_string(o, "prefix", f->prefix);
                r = r < 0 ? r : json_add_int(o, "published", (int64_t) f->published_total, true);
                r = r < 0 ? r : json_add_int(o, "published_compressed", (int64_t) f->deflated_total, true);
                r = r < 0 ? r : json_add_int(o, "not_published_oversize", (int64_t) f->oversize_total, true);
                r = r < 0 ? r : json_add_int(o, "lookups", (int64_t) f->lookups_total, true);
                r = r < 0 ? r : json_add_int(o, "imported", (int64_t) f->imported_total, true);
                r = r < 0 ? r : json_add_int(o, "updated", (int64_t) f->updated_total, true);
                r = r < 0 ? r : json_add_int(o, "rejected", (int64_t) f->rejected_total, true);
                r = r < 0 ? r : json_add_int(o, "deleted", (int64_t) f->deleted_total, true);
                r = r < 0 ? r
                          : json_add_full(o, "last_error", f->last_error ? json_object_new_string(f->last_error) : NULL,
                                          true);
        }
        return r < 0 ? NULL : TAKE_PTR(o);
}

void fleet_metrics_write(void *userdata, FILE *out) {
        Fleet *f = userdata;
        uint64_t logins = 0, failovers = 0;

        if (f->etcd)
                etcd_counters(f->etcd, &logins, &failovers);
        metrics_header(out, "maiod_fleet_state", "gauge",
                       "Fleet state: 1 for the current one of off, local-only, connected.");
        for (FleetState s = 0; s < _FLEET_STATE_MAX; s++)
                fprintf(out, "maiod_fleet_state{state=\"%s\"} %d\n", fleet_state_to_string(s), s == f->state);
        metrics_u64(out, "maiod_fleet_unreachable_total", "counter", "Times etcd became unreachable (local-only).",
                    f->unreachable_total);
        metrics_u64(out, "maiod_fleet_published_total", "counter", "Tenant models published to etcd.",
                    f->published_total);
        metrics_u64(out, "maiod_fleet_compressed_total", "counter",
                    "Tenant models published compressed (larger than [fleet] max_request_bytes as they are).",
                    f->deflated_total);
        metrics_u64(out, "maiod_fleet_oversize_total", "counter",
                    "Tenant model publications skipped: larger than [fleet] max_request_bytes even compressed.",
                    f->oversize_total);
        metrics_u64(out, "maiod_fleet_lookups_total", "counter", "Lazy lookups of fleet models started.",
                    f->lookups_total);
        metrics_u64(out, "maiod_fleet_imported_total", "counter", "Fleet models imported for a tenant.",
                    f->imported_total);
        metrics_u64(out, "maiod_fleet_updated_total", "counter",
                    "Newer versions of fleet models in use imported through a watch.", f->updated_total);
        metrics_u64(out, "maiod_fleet_rejected_total", "counter",
                    "Fleet models rejected (invalid, from a host outside [fleet] sources, wrong class or policy).",
                    f->rejected_total);
        metrics_u64(out, "maiod_fleet_deleted_total", "counter", "Keys of removed tenants deleted after the retention.",
                    f->deleted_total);
        metrics_u64(out, "maiod_fleet_etcd_logins_total", "counter", "etcd logins (auth tokens obtained).", logins);
        metrics_u64(out, "maiod_fleet_etcd_failovers_total", "counter", "Switches to another etcd endpoint.",
                    failovers);
}
