/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The ops table, path routing, access classes and the dispatch every transport
 * shares. A new operation is one row here and one handler in its module. */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "journal.h"
#include "log.h"
#include "maio-config.h"
#include "maio_netlink.h"
#include "metrics.h"
#include "mflowd.h"
#include "ops.h"
#include "pools.h"
#include "scheduler.h"
#include "tenants.h"
#include "tierd.h"
#include "time-util.h"
#include "topo.h"

#define OPS_MODEL_MAX_BODY (16u * 1024u * 1024u)

/* The typed replies of health and version (api/netlink.md, "Typed replies"). */
static const Field health_reply_fields[] = { { "status", FIELD_STRING, .id = 1 } };
static const FieldSet health_reply = { health_reply_fields, ELEMENTSOF(health_reply_fields) };
static const Field version_reply_fields[] = { { "version", FIELD_STRING, .id = 1 }, { "api", FIELD_STRING, .id = 2 } };
static const FieldSet version_reply = { version_reply_fields, ELEMENTSOF(version_reply_fields) };

static int ops_health(void *userdata, const Request *req, Reply *reply);
static int ops_version(void *userdata, const Request *req, Reply *reply);
static int ops_status(void *userdata, const Request *req, Reply *reply);

#define API OP_MODULE_API
#define METRICS OP_MODULE_METRICS
#define TENANTS OP_MODULE_TENANTS
#define JOURNAL OP_MODULE_JOURNAL
#define TOPOLOGY OP_MODULE_TOPOLOGY
#define POOLS OP_MODULE_POOLS
#define TIER OP_MODULE_TIER
#define MFLOW OP_MODULE_MFLOW
#define SCHED OP_MODULE_SCHED

/* One row per operation, aligned as a table. */
/* clang-format off */
static const Op op_table[] = {
        /* name                  command                       method    path                           access         mutating module    handler                  body, max_body, typed reply */
        { "health",              MAIO_CMD_HEALTH,             "GET",    "/v1/health",                  OP_PUBLIC,     false, API,      ops_health,              NULL, 0, &health_reply },
        { "version",             MAIO_CMD_VERSION,            "GET",    "/v1/version",                 OP_PUBLIC,     false, API,      ops_version,             NULL, 0, &version_reply },
        { "status",              MAIO_CMD_STATUS,             "GET",    "/v1/status",                  OP_TENANT,     false, API,      ops_status },
        { "metrics",             MAIO_CMD_METRICS,            "GET",    "/metrics",                    OP_PUBLIC,     false, METRICS,  metrics_op_get },
        { "tenants.list",        MAIO_CMD_TENANTS_LIST,       "GET",    "/v1/tenants",                 OP_TENANT,     false, TENANTS,  tenants_op_list },
        { "tenants.create",      MAIO_CMD_TENANTS_CREATE,     "POST",   "/v1/tenants",                 OP_PEER,       true,  TENANTS,  tenants_op_create,       &tenants_create_body, 0, &tenants_reply },
        { "tenants.get",         MAIO_CMD_TENANTS_GET,        "GET",    "/v1/tenants/{id}",            OP_TENANT_OWN, false, TENANTS,  tenants_op_get,          NULL, 0, &tenants_reply },
        { "tenants.update",      MAIO_CMD_TENANTS_UPDATE,     "PATCH",  "/v1/tenants/{id}",            OP_TENANT_OWN, true,  TENANTS,  tenants_op_update,       &tenants_update_body },
        { "tenants.delete",      MAIO_CMD_TENANTS_DELETE,     "DELETE", "/v1/tenants/{id}",            OP_TENANT_OWN, true,  TENANTS,  tenants_op_delete },
        { "tenants.events",      MAIO_CMD_TENANTS_EVENTS,     "GET",    "/v1/tenants/{id}/events",     OP_TENANT_OWN, false, TENANTS,  tenants_op_events },
        { "events.list",         MAIO_CMD_EVENTS_LIST,        "GET",    "/v1/events",                  OP_ADMIN,      false, TENANTS,  events_op_list },
        { "knobs.list",          MAIO_CMD_KNOBS_LIST,         "GET",    "/v1/knobs",                   OP_TENANT,     false, JOURNAL,  journal_op_list },
        { "knobs.restore_all",   MAIO_CMD_KNOBS_RESTORE_ALL,  "POST",   "/v1/knobs/restore",           OP_ADMIN,      true,  JOURNAL,  journal_op_restore_all },
        { "knobs.get",           MAIO_CMD_KNOBS_GET,          "GET",    "/v1/knobs/{name}",            OP_TENANT,     false, JOURNAL,  journal_op_get },
        { "knobs.set",           MAIO_CMD_KNOBS_SET,          "PUT",    "/v1/knobs/{name}",            OP_ADMIN,      true,  JOURNAL,  journal_op_set,          &journal_set_body },
        { "knobs.restore",       MAIO_CMD_KNOBS_RESTORE,      "DELETE", "/v1/knobs/{name}",            OP_ADMIN,      true,  JOURNAL,  journal_op_restore },
        { "topology",            MAIO_CMD_TOPOLOGY,           "GET",    "/v1/topology",                OP_TENANT,     false, TOPOLOGY, topo_op_get },
        { "maio.list",           MAIO_CMD_MAIO_LIST,          "GET",    "/v1/maio",                    OP_TENANT,     false, POOLS,    pools_op_list },
        { "maio.grant",          MAIO_CMD_MAIO_GRANT,         "POST",   "/v1/tenants/{id}/maio",       OP_TENANT_OWN, true,  POOLS,    pools_op_grant,          &pools_grant_body },
        { "maio.release",        MAIO_CMD_MAIO_RELEASE,       "DELETE", "/v1/tenants/{id}/maio",       OP_TENANT_OWN, true,  POOLS,    pools_op_release },
        { "tiering.thresholds",  MAIO_CMD_TIERING_THRESHOLDS, "GET",    "/v1/tenants/{id}/thresholds", OP_TENANT_OWN, false, TIER,     tierd_op_thresholds,     NULL, 0, &tierd_thresholds_reply },
        { "tiering.feedback",    MAIO_CMD_TIERING_FEEDBACK,   "POST",   "/v1/tenants/{id}/feedback",   OP_TENANT_OWN, true,  TIER,     tierd_op_feedback,       &tierd_feedback_body, 0, &tierd_feedback_reply },
        { "tiering.policy",      MAIO_CMD_TIERING_POLICY,     "GET",    "/v1/tenants/{id}/policy",     OP_TENANT_OWN, false, TIER,     tierd_op_policy_get },
        { "tiering.policy_set",  MAIO_CMD_TIERING_POLICY_SET, "PUT",    "/v1/tenants/{id}/policy",     OP_TENANT_OWN, true,  TIER,     tierd_op_policy_set,     &tierd_policy_body },
        { "tiering.policy_update", MAIO_CMD_TIERING_POLICY_UPDATE, "PATCH", "/v1/tenants/{id}/policy", OP_TENANT_OWN, true, TIER,     tierd_op_policy_update,  &tierd_policy_update_body },
        { "models.get",          MAIO_CMD_MODELS_GET,         "GET",    "/v1/models/{id}",             OP_TENANT,     false, TIER,     tierd_op_model_get },
        /* A trained indigo model (weights and Adam state) is far beyond 64 KiB. */
        { "models.import",       MAIO_CMD_MODELS_IMPORT,      "POST",   "/v1/models",                  OP_ADMIN,      true,  TIER,     tierd_op_model_import,   &tierd_import_body,
          OPS_MODEL_MAX_BODY },
        { "mflow.get",           MAIO_CMD_MFLOW_GET,          "GET",    "/v1/mflow",                   OP_TENANT,     false, MFLOW,    mflow_op_get },
        { "mflow.set",           MAIO_CMD_MFLOW_SET,          "PUT",    "/v1/mflow",                   OP_ADMIN,      true,  MFLOW,    mflow_op_set,            &mflow_set_body },
        { "flows.list",          MAIO_CMD_FLOWS_LIST,         "GET",    "/v1/flows",                   OP_TENANT,     false, MFLOW,    mflow_op_flows },
        { "scheduler",           MAIO_CMD_SCHEDULER,          "GET",    "/v1/scheduler",               OP_TENANT,     false, SCHED,    sched_op_get },
        { "allocations",         MAIO_CMD_ALLOCATIONS,        "GET",    "/v1/allocations",             OP_TENANT,     false, SCHED,    sched_op_allocations },
};
/* clang-format on */

const Op *ops_table(size_t *ret_n) {
        *ret_n = ELEMENTSOF(op_table);
        return op_table;
}

/* A canonical positive decimal: no sign, no leading zero, fits int64. */
static int parse_id(const char *s, size_t len, int64_t *ret) {
        uint64_t v = 0;

        if (len == 0 || len > 19 || s[0] == '0')
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                v = v * 10 + (uint64_t) (s[i] - '0');
        }
        if (v > INT64_MAX)
                return -EINVAL;
        *ret = (int64_t) v;
        return 0;
}

/* A {name}: 1..OP_NAME_MAX characters of [A-Za-z0-9._-]. Whether the name
 * means anything is the handler's business. */
static int parse_name(const char *s, size_t len, char ret[OP_NAME_MAX + 1]) {
        if (len == 0 || len > OP_NAME_MAX)
                return -EINVAL;
        for (size_t i = 0; i < len; i++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", s[i]))
                        return -EINVAL;
        memcpy(ret, s, len);
        ret[len] = '\0';
        return 0;
}

int ops_param_name(const char *s, size_t len, OpParams *params) {
        return parse_name(s, len, params->name);
}

/* Matches path against a template segment by segment. Returns 1 on a match,
 * 0 on none, -EINVAL when only a parameter failed to parse. */
static int path_match(const char *tmpl, const char *path, OpParams *params) {
        int64_t *ids = params->ids;
        size_t n_ids = 0;
        bool bad_param = false;

        for (;;) {
                const char *te, *pe;
                size_t tl, pl;

                if (*tmpl != '/' || *path != '/')
                        return 0;
                tmpl++, path++;
                te = strchrnul(tmpl, '/');
                pe = strchrnul(path, '/');
                tl = (size_t) (te - tmpl);
                pl = (size_t) (pe - path);

                if (tl == 4 && memcmp(tmpl, "{id}", 4) == 0 && pl > 0) {
                        if (n_ids >= OP_MAX_IDS || parse_id(path, pl, &ids[n_ids]) < 0)
                                bad_param = true;
                        n_ids++;
                } else if (tl == 6 && memcmp(tmpl, "{name}", 6) == 0 && pl > 0) {
                        if (parse_name(path, pl, params->name) < 0)
                                bad_param = true;
                } else if (tl != pl || memcmp(tmpl, path, tl) != 0)
                        return 0;

                tmpl = te, path = pe;
                if (*tmpl == '\0' && *path == '\0')
                        return bad_param ? -EINVAL : 1;
        }
}

int ops_route(const char *method, const char *path, const Op **ret_op, OpParams *ret_params, char *allow,
              size_t allow_size) {
        bool path_found = false, bad_param = false;
        size_t used = 0;

        if (allow_size > 0)
                allow[0] = '\0';

        for (size_t i = 0; i < ELEMENTSOF(op_table); i++) {
                OpParams params = {};
                int k = path_match(op_table[i].path, path, &params);

                if (k == 0)
                        continue;
                if (k < 0) {
                        bad_param = true;
                        continue;
                }
                path_found = true;
                if (strcmp(op_table[i].method, method) == 0) {
                        if (allow_size > 0)
                                allow[0] = '\0'; /* Allow is for 405 replies only */
                        *ret_op = &op_table[i];
                        *ret_params = params;
                        return 0;
                }
                if (used < allow_size) {
                        int w = snprintf(allow + used, allow_size - used, "%s%s", used ? ", " : "", op_table[i].method);
                        used = w < 0 ? allow_size : used + (size_t) w;
                }
        }
        if (path_found)
                return -EOPNOTSUPP;
        return bad_param ? -EINVAL : -ENOENT;
}

int ops_authorize(const Op *op, const Identity *who) {
        switch (op->access) {
        case OP_PUBLIC:
                return 0;
        case OP_TENANT:
        case OP_TENANT_OWN:
                return who->kind == IDENTITY_ANONYMOUS ? -ENOKEY : 0;
        case OP_PEER:
                if (who->kind == IDENTITY_ANONYMOUS)
                        return -ENOKEY;
                return who->kind == IDENTITY_PEER ? 0 : -EPERM;
        case OP_ADMIN:
                if (who->kind == IDENTITY_ANONYMOUS)
                        return -ENOKEY;
                return who->kind == IDENTITY_PEER && who->admin ? 0 : -EPERM;
        }
        return -EPERM;
}

int ops_route_error(int r, const char *method, const char *path, Reply *reply) {
        switch (r) {
        case -EOPNOTSUPP:
                return reply_error(reply, REPLY_METHOD_NOT_ALLOWED, "Method %s is not allowed here; allowed: %s",
                                   method, reply->allow);
        case -EINVAL:
                return reply_error(reply, REPLY_BAD_REQUEST,
                                   "Invalid parameter in path: identifiers are positive decimal integers, names "
                                   "1-%d characters of A-Z a-z 0-9 . _ -",
                                   OP_NAME_MAX);
        default:
                return reply_error(reply, REPLY_NOT_FOUND, "No such resource: %.200s", path);
        }
}

static int ops_auth_error(int r, const Op *op, const Identity *who, Reply *reply) {
        if (r == -ENOKEY)
                return reply_error(reply, REPLY_UNAUTHORIZED,
                                   who->bad_token ? "The bearer token is not valid"
                                                  : "Authentication required: send Authorization: Bearer <token>");
        if (op->access == OP_PEER)
                return reply_error(reply, REPLY_FORBIDDEN, "Operation %s is only served over the unix socket",
                                   op->name);
        return reply_error(reply, REPLY_FORBIDDEN, "Operation %s requires administrator rights", op->name);
}

/* Parses (REST: text, len) or takes (obj, borrowed) the body and decodes it into req, or fills
 * reply. *ret_owned receives what was parsed here. */
static int ops_decode_body(const Ops *ops, const Op *op, const char *text, size_t len, json_object *obj, Request *req,
                           Reply *reply, json_object **ret_owned) {
        int r;

        if (!op->body) {
                if (len > 0)
                        return reply_error(reply, REPLY_BAD_REQUEST, "Operation %s takes no request body", op->name);
                return 0;
        }
        assert(op->body->n <= OP_MAX_FIELDS);
        if (!obj) {
                r = reply_parse_body(reply, text, len, ops->json_max_depth, ret_owned);
                if (r < 0)
                        return r;
                obj = *ret_owned;
        }
        req->body = obj;
        return reply_decode_fields(reply, req->body, op->body->fields, op->body->n, req->params);
}

/* One call, whichever form the body came in. */
static int ops_run(const Ops *ops, const Op *op, const OpParams *params, const Identity *who, const char *text,
                   size_t len, json_object *obj, Reply *reply) {
        _cleanup_(json_object_putp) json_object *owned = NULL;
        _cleanup_(tenant_done) Tenant tenant = {};
        /* The transports call right after the last byte arrived: the scheduler's reaction clock starts here. */
        Request req = { .op = op, .who = who, .received_usec = now_usec(CLOCK_MONOTONIC) };
        int r;

        memcpy(req.ids, params->ids, sizeof req.ids);
        req.name = params->name[0] ? params->name : NULL;
        r = ops_authorize(op, who);
        if (r < 0)
                return ops_auth_error(r, op, who, reply);
        if (op->access == OP_TENANT_OWN) {
                r = tenants_get_visible(ops->tenants, who, req.ids[0], &tenant);
                if (r == -ENOENT)
                        return reply_error(reply, REPLY_NOT_FOUND, "No tenant %" PRId64, req.ids[0]);
                if (r < 0)
                        return reply_errno(reply, r, NULL);
                req.tenant = &tenant;
        }
        r = ops_decode_body(ops, op, text, len, obj, &req, reply, &owned);
        if (r < 0)
                return r;

        r = op->handler(op->module == OP_MODULE_API ? (void *) ops : ops->contexts[op->module], &req, reply);
        if (r < 0 && (!reply_is_set(reply) || reply->error == 0)) {
                log_debug_errno(r, "Operation %s failed: %m", op->name);
                return reply_errno(reply, r, NULL);
        }
        if (r >= 0 && !reply_is_set(reply))
                return reply_error(reply, REPLY_INTERNAL, "Operation %s produced no reply", op->name);
        return r < 0 ? r : 0;
}

int ops_call(const Ops *ops, const Op *op, const OpParams *params, const Identity *who, const char *body, size_t len,
             Reply *reply) {
        return ops_run(ops, op, params, who, body, len, NULL, reply);
}

int ops_call_object(const Ops *ops, const Op *op, const OpParams *params, const Identity *who, json_object *body,
                    Reply *reply) {
        return ops_run(ops, op, params, who, NULL, 0, body, reply);
}

const Op *ops_by_cmd(unsigned cmd) {
        for (size_t i = 0; i < ELEMENTSOF(op_table); i++)
                if (op_table[i].cmd == cmd)
                        return &op_table[i];
        return NULL;
}

static int ops_health(void *userdata, const Request *req, Reply *reply) {
        json_object *o = json_object_new_object();

        if (o)
                json_object_object_add(o, "status", json_object_new_string("ok"));
        return reply_json(reply, 200, o);
}

static int ops_version(void *userdata, const Request *req, Reply *reply) {
        json_object *o = json_object_new_object();

        if (o) {
                json_object_object_add(o, "version", json_object_new_string(MAIO_VERSION));
                json_object_object_add(o, "api", json_object_new_string("v1"));
        }
        return reply_json(reply, 200, o);
}

/* The status is the core's: it knows the listeners, paths and uptime. */
static int ops_status(void *userdata, const Request *req, Reply *reply) {
        const Ops *ops = userdata;

        if (!ops->status)
                return reply_error(reply, REPLY_UNAVAILABLE, "The daemon is starting");
        return ops->status(ops->contexts[OP_MODULE_CORE], req, reply);
}
