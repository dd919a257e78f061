/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The tiering operations: a tenant's thresholds, feedback, policy and reward
 * history (/v1/tenants/{id}/thresholds|feedback|policy), and model export and
 * import (/v1/models). Tenants see their own, as everywhere (404 otherwise). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "jsonutil.h"
#include "log.h"
#include "store-tier.h"
#include "tenants.h"
#include "tier-internal.h"
#include "tierd.h"

#define MSG_MAX 256

/* The tenant's tiering state, created on first use when create; 503 before the module runs. */
static int state_lookup(Tierd *m, const Tenant *t, bool create, Reply *reply, TierdTenant **ret) {
        int r = tierd_tenant_get(m, t, create, ret);

        if (r == -EAGAIN)
                return reply_error(reply, REPLY_UNAVAILABLE, "Tiering is not running");
        return r;
}

/* Adds a finite double, or null. */
static int add_double(json_object *o, const char *key, double v, bool known) {
        known = known && isfinite(v);
        return json_add_full(o, key, known ? tierd_json_number(v) : NULL, !known);
}

/* ---- thresholds ---- */

static int thresholds_fill(Tierd *m, const TierdTenant *tt, json_object *o) {
        bool thresholds = tt->decision.rule == TIER_RULE_THRESHOLDS, applied;
        const char *note = NULL;
        uint64_t version;
        int r;

        policy_counters(tt->policy, NULL, NULL, &version);
        applied = tierd_tenant_applied(m, tt, &note);
        r = json_add_int(o, "tenant_id", tt->id, true);
        r = r < 0 ? r : json_add_int(o, "episode", tt->episode, true);
        r = r < 0 ? r : json_add_string(o, "policy", policy_name(tt->policy));
        r = r < 0 ? r : json_add_int(o, "model_id", tt->model_id, tt->model_id > 0);
        r = r < 0 ? r : json_add_int(o, "model_version", (int64_t) version, true);
        r = r < 0 ? r : json_add_string(o, "rule", thresholds ? "thresholds" : "never");
        r = r < 0 ? r : add_double(o, "access_rate", tt->decision.rate_threshold, thresholds);
        r = r < 0 ? r : add_double(o, "burst_duration", tt->decision.burst_threshold, thresholds);
        r = r < 0 ? r : json_add_int(o, "action", tt->decision.action, tt->decision.action >= 0);
        r = r < 0 ? r : json_add(o, "explored", json_object_new_boolean(tt->decision.explored));
        r = r < 0 ? r : json_add_int(o, "cached_rewards", tt->decision_cache_hits, true);
        r = r < 0 ? r : json_add(o, "context", tierd_context_to_json(&tt->context));
        r = r < 0 ? r : json_add_full(o, "decided", json_time_new(tt->decided_usec), true);
        r = r < 0 ? r : json_add_string(o, "backend", tierd_backend_to_string(tierd_backend(m)));
        r = r < 0 ? r : json_add(o, "applied", json_object_new_boolean(applied));
        r = r < 0 ? r : json_add_string(o, "applied_note", note);
        /* Which anchor the decision came from and how far it is, null when the policy decided. */
        r = r < 0 ? r : json_add_string(o, "anchor", tt->anchor);
        return r;
}

/* The members thresholds_fill() writes, as netlink reply attributes (the context is a JSON object). */
static const Field thresholds_reply_fields[] = {
        { "tenant_id", FIELD_INT, .id = 1 },       { "episode", FIELD_INT, .id = 2 },
        { "policy", FIELD_STRING, .id = 3 },       { "model_id", FIELD_INT, .id = 4 },
        { "model_version", FIELD_INT, .id = 5 },   { "rule", FIELD_STRING, .id = 6 },
        { "access_rate", FIELD_DOUBLE, .id = 7 },  { "burst_duration", FIELD_DOUBLE, .id = 8 },
        { "action", FIELD_INT, .id = 9 },          { "explored", FIELD_BOOL, .id = 10 },
        { "cached_rewards", FIELD_INT, .id = 11 }, { "context", FIELD_JSON, .id = 12 },
        { "decided", FIELD_STRING, .id = 13 },     { "backend", FIELD_STRING, .id = 14 },
        { "applied", FIELD_BOOL, .id = 15 },       { "applied_note", FIELD_STRING, .id = 16 },
        { "anchor", FIELD_STRING, .id = 17 },
};
const FieldSet tierd_thresholds_reply = { thresholds_reply_fields, ELEMENTSOF(thresholds_reply_fields) };

json_object *tierd_thresholds_to_json(Tierd *m, const TierdTenant *tt) {
        json_object *o = json_object_new_object();

        if (o && thresholds_fill(m, tt, o) < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

int tierd_op_thresholds(void *userdata, const Request *req, Reply *reply) {
        Tierd *m = userdata;
        TierdTenant *tt;
        int r;

        r = state_lookup(m, req->tenant, true, reply, &tt);
        if (r < 0)
                return r;
        return reply_json(reply, 200, tierd_thresholds_to_json(m, tt));
}

/* ---- feedback ---- */

static int feedback_error(Reply *reply, int r, const Tenant *t, const TierdFeedback *fb) {
        switch (r) {
        case -ENOENT:
                return reply_error(reply, REPLY_NOT_FOUND,
                                   "Tenant %" PRId64 " has no open episode %" PRId64
                                   " (GET its thresholds for the episode)",
                                   t->id, fb->episode);
        case -EALREADY:
                return reply_error(reply, REPLY_CONFLICT,
                                   "Episode %" PRId64 " of tenant %" PRId64 " has feedback already", fb->episode,
                                   t->id);
        case -EINVAL:
                return reply_error(reply, REPLY_INVALID_VALUE, "The feedback value cannot be used as a reward");
        default:
                return reply_errno(reply, r, "Failed to commit the feedback: %m");
        }
}

enum { FEEDBACK_EPISODE, FEEDBACK_COMPLETION_TIME, FEEDBACK_REQUESTS_PER_S };
/* The decoder checks types and the one-of; tierd_feedback_parse() the values against the tenant's kind. */
static const Field feedback_fields[] = {
        [FEEDBACK_EPISODE] = { "episode", FIELD_INT, true, 1, INT64_MAX, .id = 1 },
        [FEEDBACK_COMPLETION_TIME] = { "completion_time_s", FIELD_DOUBLE, .one_of = 1, .id = 2 },
        [FEEDBACK_REQUESTS_PER_S] = { "requests_per_s", FIELD_DOUBLE, .one_of = 1, .id = 3 },
};
const FieldSet tierd_feedback_body = { feedback_fields, ELEMENTSOF(feedback_fields) };

/* The feedback reply's members; next holds the next episode's thresholds (a JSON object). */
static const Field feedback_reply_fields[] = {
        { "tenant_id", FIELD_INT, .id = 1 },
        { "episode", FIELD_INT, .id = 2 },
        { "reward", FIELD_DOUBLE, .id = 3 },
        { "next", FIELD_JSON, .id = 4 },
};
const FieldSet tierd_feedback_reply = { feedback_reply_fields, ELEMENTSOF(feedback_reply_fields) };

int tierd_op_feedback(void *userdata, const Request *req, Reply *reply) {
        Tierd *m = userdata;
        const Tenant *t = req->tenant;
        const char *code = "invalid-value";
        char msg[MSG_MAX];
        TierdFeedback fb;
        TierdTenant *tt = NULL;
        json_object *o;
        double reward;
        int r, kind;

        kind = tierd_kind_from_class(t->workload_class);
        r = tierd_feedback_parse(req->body, kind < 0 ? TIER_TENANT_BATCH : (TierTenantKind) kind, &fb, &code, msg,
                                 sizeof msg);
        if (r < 0)
                r = reply_error(reply, reply_error_from_string(code), "%s", msg);
        if (r >= 0)
                r = state_lookup(m, t, false, reply, &tt);
        if (r >= 0)
                r = tierd_feedback(m, tt, &fb, &reward);
        if (r < 0 && !reply_is_set(reply))
                r = feedback_error(reply, r, t, &fb);
        if (r < 0)
                return r;
        o = json_object_new_object();
        if (!o || json_add_int(o, "tenant_id", tt->id, true) < 0 || json_add_int(o, "episode", fb.episode, true) < 0 ||
            json_add(o, "reward", tierd_json_number(reward)) < 0 ||
            json_add(o, "next", tierd_thresholds_to_json(m, tt)) < 0) {
                json_object_put(o);
                return -ENOMEM;
        }
        /* New thresholds: a new promotion demand, from the moment the request arrived. */
        event_sink_emit(m->sched, SCHED_EVENT_FEEDBACK, tt->id, tt->priority, req->received_usec);
        return reply_json(reply, 202, o);
}

/* ---- policy ---- */

static json_object *history_to_json(const StoreTierEpisode *e, size_t n) {
        json_object *a = json_object_new_array();

        for (size_t i = 0; a && i < n; i++) {
                json_object *o = json_object_new_object();
                bool thresholds = strcmp(e[i].rule, "thresholds") == 0;
                int r = o ? 0 : -ENOMEM;

                r = r < 0 ? r : json_add_int(o, "episode", e[i].episode, true);
                r = r < 0 ? r : json_add_string(o, "policy", e[i].policy);
                r = r < 0 ? r : json_add_int(o, "action", e[i].action, e[i].action >= 0);
                r = r < 0 ? r : add_double(o, "access_rate", e[i].rate_threshold, thresholds);
                r = r < 0 ? r : add_double(o, "burst_duration", e[i].burst_threshold, thresholds);
                r = r < 0 ? r : json_add(o, "explored", json_object_new_boolean(e[i].explored));
                r = r < 0 ? r : json_add_string(o, "metric", e[i].metric);
                r = r < 0 ? r : add_double(o, "value", e[i].value, true);
                r = r < 0 ? r : add_double(o, "reward", e[i].reward, true);
                r = r < 0 ? r : json_add_full(o, "committed", json_time_new(e[i].committed_usec), true);
                if (r < 0 || json_append(a, o) < 0) {
                        if (r < 0)
                                json_object_put(o);
                        json_object_put(a);
                        return NULL;
                }
        }
        return a;
}

/* The episodes, and how many of their decisions came from an anchor: anchored / total is the share
 * of the tenant's decisions served from anchors. */
static json_object *episodes_to_json(Tierd *m, const TierdTenant *tt) {
        int64_t total = 0, committed = 0, explored = 0, anchored = 0;
        json_object *o = json_object_new_object();

        if (!o || store_tier_episode_counts(m->store, tt->id, &total, &committed, &explored, &anchored) < 0 ||
            json_add_int(o, "total", total, true) < 0 || json_add_int(o, "committed", committed, true) < 0 ||
            json_add_int(o, "explored", explored, true) < 0 || json_add_int(o, "anchored", anchored, true) < 0 ||
            json_add(o, "anchor_share", tierd_json_number(total > 0 ? (double) anchored / (double) total : 0)) < 0 ||
            json_add_int(o, "open", tt->episode, true) < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

static json_object *cache_to_json(const TierdTenant *tt) {
        int64_t n = tt->cache_hits + tt->cache_misses;
        json_object *o = json_object_new_object();
        size_t entries;

        reward_cache_stats(tt->cache, &entries, NULL, NULL);
        if (!o || json_add_int(o, "hits", tt->cache_hits, true) < 0 ||
            json_add_int(o, "misses", tt->cache_misses, true) < 0 ||
            json_add(o, "hit_rate", tierd_json_number(n > 0 ? (double) tt->cache_hits / (double) n : 0)) < 0 ||
            json_add_int(o, "entries", (int64_t) entries, true) < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

static int policy_fill(Tierd *m, const TierdTenant *tt, json_object *o) {
        _cleanup_free_ char *origin = NULL;
        StoreTierEpisode *e = NULL;
        double ref = tt->norm.ref_cost;
        uint64_t version;
        size_t n = 0;
        int r;

        r = tierd_model_origin(m, tt, &origin);
        if (r < 0)
                return r;

        policy_counters(tt->policy, NULL, NULL, &version);
        r = store_tier_episode_list(m->store, tt->id, true, TIERD_HISTORY_MAX, &e, &n);
        r = r < 0 ? r : json_add_int(o, "tenant_id", tt->id, true);
        r = r < 0 ? r : json_add_string(o, "policy", policy_name(tt->policy));
        r = r < 0 ? r : json_add_int(o, "seed", (int64_t) tt->seed, true);
        r = r < 0 ? r : json_add(o, "learns", json_object_new_boolean(policy_learns(tt->policy)));
        r = r < 0 ? r : json_add_int(o, "model_id", tt->model_id, tt->model_id > 0);
        r = r < 0 ? r : json_add_int(o, "model_version", (int64_t) version, true);
        /* Updates not in the published model yet: a job is out or updates wait for one. */
        r = r < 0 ? r : json_add(o, "training", json_object_new_boolean(tt->training || tt->n_pending > 0));
        r = r < 0 ? r : json_add_int(o, "transferred_from", tt->transferred_from, tt->transferred_from > 0);
        r = r < 0 ? r : json_add_string(o, "model_origin", origin);
        r = r < 0 ? r
                  : json_add_string(o, "metric",
                                    tierd_metric_to_string(tt->kind == TIER_TENANT_SERVING
                                                                   ? TIERD_METRIC_REQUESTS_PER_S
                                                                   : TIERD_METRIC_COMPLETION_TIME));
        /* The first episode's value, in the metric's own unit, is what rewards are relative to. */
        r = r < 0 ? r
                  : add_double(o, "reference", tt->kind == TIER_TENANT_SERVING && ref > 0 ? 1.0 / ref : ref, ref > 0);
        r = r < 0 ? r : json_add(o, "episodes", episodes_to_json(m, tt));
        r = r < 0 ? r : json_add_int(o, "promotion_rate_bytes", tt->promotion_rate_bytes, tt->promotion_rate_bytes > 0);
        r = r < 0 ? r : json_add(o, "cache", cache_to_json(tt));
        r = r < 0 ? r : json_add(o, "thresholds", tierd_thresholds_to_json(m, tt));
        r = r < 0 ? r : json_add(o, "rewards", history_to_json(e, n));
        store_tier_episodes_free(e, n);
        return r;
}

static int policy_reply(Tierd *m, const TierdTenant *tt, Reply *reply) {
        json_object *o = json_object_new_object();
        int r = o ? policy_fill(m, tt, o) : -ENOMEM;

        if (r < 0) {
                json_object_put(o);
                return r;
        }
        return reply_json(reply, 200, o);
}

int tierd_op_policy_get(void *userdata, const Request *req, Reply *reply) {
        Tierd *m = userdata;
        TierdTenant *tt;
        int r;

        r = state_lookup(m, req->tenant, true, reply, &tt);
        return r < 0 ? r : policy_reply(m, tt, reply);
}

enum { POLICY_NAME, POLICY_SEED };
static const Field policy_fields[] = {
        [POLICY_NAME] = { "policy", FIELD_STRING, true, 1, 32, .id = 1 },
        [POLICY_SEED] = { "seed", FIELD_INT, false, 0, INT64_MAX, .id = 2 },
};
const FieldSet tierd_policy_body = { policy_fields, ELEMENTSOF(policy_fields) };

int tierd_op_policy_set(void *userdata, const Request *req, Reply *reply) {
        Tierd *m = userdata;
        const Param *seed = request_param(req, POLICY_SEED);
        const Tenant *t = req->tenant;
        TierdTenant *tt = NULL;
        const char *name;
        int r;

        name = request_param(req, POLICY_NAME)->s;
        if (!tierd_policy_selectable(name))
                return reply_error(reply, REPLY_INVALID_VALUE,
                                   "Field 'policy' must be one of indigo, linucb, heuristic, static");
        r = state_lookup(m, t, false, reply, &tt);
        /* Not enrolled yet: it starts with this policy rather than switching away from the default. */
        if (r == -ENOENT && !reply_is_set(reply))
                r = tierd_tenant_enrol(m, t, name, seed->set ? (uint64_t) seed->i : m->config->tiering_seed, &tt);
        else if (r >= 0)
                r = tierd_policy_set(m, tt, name, seed->set ? (uint64_t) seed->i : tt->seed);
        if (r < 0 && !reply_is_set(reply))
                return reply_errno(reply, r, "Failed to set the policy: %m");
        if (r < 0)
                return r;
        event_sink_emit(m->sched, SCHED_EVENT_FEEDBACK, tt->id, tt->priority, req->received_usec);
        return policy_reply(m, tt, reply);
}

/* The largest rate a tenant may state: 1 TiB/s, beyond any memory link. */
#define PROMOTION_RATE_MAX (INT64_C(1) << 40)

enum { POLICY_UPDATE_RATE };
static const Field policy_update_fields[] = {
        [POLICY_UPDATE_RATE] = { "promotion_rate_bytes", FIELD_INT, true, 0, PROMOTION_RATE_MAX, .id = 1 },
};
const FieldSet tierd_policy_update_body = { policy_update_fields, ELEMENTSOF(policy_update_fields) };

/* PATCH .../policy: what the tenant states without switching its policy (the promotion rate); the
 * tenant is enrolled with the [tiering] defaults when it was not yet. */
int tierd_op_policy_update(void *userdata, const Request *req, Reply *reply) {
        Tierd *m = userdata;
        int64_t rate = request_param(req, POLICY_UPDATE_RATE)->i;
        TierdTenant *tt;
        int r;

        r = state_lookup(m, req->tenant, true, reply, &tt);
        if (r >= 0)
                r = tierd_promotion_rate_set(m, tt, rate);
        if (r < 0 && !reply_is_set(reply))
                return reply_errno(reply, r, "Failed to set the promotion rate: %m");
        if (r < 0)
                return r;
        /* A stated rate is a new promotion demand. */
        event_sink_emit(m->sched, SCHED_EVENT_FEEDBACK, tt->id, tt->priority, req->received_usec);
        return policy_reply(m, tt, reply);
}

/* ---- models ---- */

static json_object *model_to_json(const StoreTierModel *row) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        int r = o ? 0 : -ENOMEM;

        r = r < 0 ? r : json_add_int(o, "id", row->id, true);
        r = r < 0 ? r : json_add_int(o, "tenant_id", row->tenant_id, row->tenant_id > 0);
        r = r < 0 ? r : json_add_string(o, "workload_class", row->workload_class);
        r = r < 0 ? r : json_add_string(o, "policy", row->policy);
        r = r < 0 ? r : json_add_int(o, "version", row->version, true);
        r = r < 0 ? r : json_add_int(o, "samples", row->samples, true);
        r = r < 0 ? r : json_add_full(o, "updated", json_time_new(row->updated_usec), true);
        r = r < 0 ? r : json_add(o, "context", json_tokener_parse(row->centroid));
        r = r < 0 ? r : json_add(o, "model", json_tokener_parse(row->json));
        return r < 0 ? NULL : TAKE_PTR(o);
}

/* A tenant's model is visible with its tenant; a model of no tenant (imported, or its tenant is
 * gone) to administrators. */
static int model_visible(Tierd *m, const Identity *who, const StoreTierModel *row) {
        Tenant t = {};
        int r;

        if (row->tenant_id <= 0)
                return who->kind == IDENTITY_PEER && who->admin ? 0 : -ENOENT;
        r = tenants_get_visible(m->tenants, who, row->tenant_id, &t);
        tenant_done(&t);
        return r;
}

int tierd_op_model_get(void *userdata, const Request *req, Reply *reply) {
        Tierd *m = userdata;
        _cleanup_(store_tier_model_done) StoreTierModel row = {};
        int r;

        r = store_tier_model_get(m->store, req->ids[0], &row);
        if (r >= 0)
                r = model_visible(m, req->who, &row);
        if (r == -ENOENT)
                return reply_error(reply, REPLY_NOT_FOUND, "No model %" PRId64, req->ids[0]);
        if (r < 0)
                return r;
        return reply_json(reply, 200, model_to_json(&row));
}

/* The members of an import: an export of GET /v1/models/{id} is accepted as it is, the members
 * that describe a stored model (id, tenant_id, policy, version, updated) being ignored. The
 * document's parts are checked by import_parse() (and the model by policy_from_json()). */
static const Field import_fields[] = {
        { "workload_class", FIELD_JSON, true, .id = 1 },
        { "context", FIELD_JSON, true, .id = 2 },
        { "model", FIELD_JSON, true, .id = 3 },
        { "samples", FIELD_JSON, .id = 4 },
        { "id", FIELD_JSON, .id = 5 },
        { "tenant_id", FIELD_JSON, .id = 6 },
        { "policy", FIELD_JSON, .id = 7 },
        { "version", FIELD_JSON, .id = 8 },
        { "updated", FIELD_JSON, .id = 9 },
};
const FieldSet tierd_import_body = { import_fields, ELEMENTSOF(import_fields) };

static int import_parse(json_object *body, Reply *reply, const char **ret_class,
                        double features[static TIER_N_FEATURES], int64_t *ret_samples) {
        json_object *v;

        *ret_class = json_object_get_string(json_object_object_get(body, "workload_class"));
        if (!json_object_is_type(json_object_object_get(body, "workload_class"), json_type_string) ||
            tierd_kind_from_class(*ret_class) < 0)
                return reply_error(reply, REPLY_INVALID_VALUE,
                                   "Field 'workload_class' must be \"batch\" or \"serving\"");
        if (tierd_features_from_json(json_object_object_get(body, "context"), features) < 0)
                return reply_error(reply, REPLY_INVALID_VALUE,
                                   "Field 'context' must be an array of %d numbers from 0 to 1", TIER_N_FEATURES);
        if (!json_object_is_type(json_object_object_get(body, "model"), json_type_object))
                return reply_error(reply, REPLY_WRONG_TYPE, "Field 'model' must be an object");
        *ret_samples = 1;
        if (json_object_object_get_ex(body, "samples", &v)) {
                if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
                        return reply_error(reply, REPLY_INVALID_VALUE, "Field 'samples' must be an integer >= 0");
                *ret_samples = json_object_get_int64(v);
        }
        return 0;
}

int tierd_model_import_document(Tierd *m, json_object *body, Reply *reply, int64_t *ret_id) {
        Param params[ELEMENTSOF(import_fields)] = {};
        double features[TIER_N_FEATURES];
        const char *class;
        int64_t samples;
        int r;

        if (!json_object_is_type(body, json_type_object))
                return reply_error(reply, REPLY_WRONG_TYPE, "The model document must be a JSON object");
        r = reply_decode_fields(reply, body, import_fields, ELEMENTSOF(import_fields), params);
        if (r < 0)
                return r;
        r = import_parse(body, reply, &class, features, &samples);
        if (r < 0)
                return r;
        r = tierd_model_import(m, class, features, samples, json_object_object_get(body, "model"), ret_id);
        if (r == -EINVAL)
                return reply_error(reply, REPLY_INVALID_VALUE,
                                   "Field 'model' is not a model of indigo, linucb, heuristic or static "
                                   "(format maio-tier-model, version 1)");
        if (r < 0)
                return reply_errno(reply, r, "Failed to store the model: %m");
        return 0;
}

int tierd_op_model_import(void *userdata, const Request *req, Reply *reply) {
        Tierd *m = userdata;
        _cleanup_(store_tier_model_done) StoreTierModel row = {};
        int64_t id;
        int r;

        r = tierd_model_import_document(m, req->body, reply, &id);
        if (r < 0)
                return r;
        r = store_tier_model_get(m->store, id, &row);
        if (r < 0)
                return r;
        if (asprintf(&reply->location, "/v1/models/%" PRId64, id) < 0)
                reply->location = NULL;
        log_info("Tiering model %" PRId64 " (%s, %s) imported.", id, row.policy, row.workload_class);
        return reply_json(reply, 201, model_to_json(&row));
}
