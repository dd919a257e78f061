/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The ops table, path routing, access classes and the dispatch every transport
 * shares. A new operation is one row here and one handler in its module. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "manager.h"
#include "maio-config.h"
#include "metrics.h"
#include "ops.h"
#include "tenants.h"

static const Op ops[] = {
        /* name              method    path                        access      mutating body   handler */
        { "health",          "GET",    "/v1/health",               OP_PUBLIC,  false,  false, ops_health },
        { "version",         "GET",    "/v1/version",              OP_PUBLIC,  false,  false, ops_version },
        { "status",          "GET",    "/v1/status",               OP_TENANT,  false,  false, manager_op_status },
        { "metrics",         "GET",    "/metrics",                 OP_PUBLIC,  false,  false, metrics_op_get },
        { "tenants.list",    "GET",    "/v1/tenants",              OP_TENANT,  false,  false, tenants_op_list },
        { "tenants.create",  "POST",   "/v1/tenants",              OP_TENANT,  true,   true,  tenants_op_create },
        { "tenants.get",     "GET",    "/v1/tenants/{id}",         OP_TENANT,  false,  false, tenants_op_get },
        { "tenants.update",  "PATCH",  "/v1/tenants/{id}",         OP_TENANT,  true,   true,  tenants_op_update },
        { "tenants.delete",  "DELETE", "/v1/tenants/{id}",         OP_TENANT,  true,   false, tenants_op_delete },
        { "tenants.events",  "GET",    "/v1/tenants/{id}/events",  OP_TENANT,  false,  false, tenants_op_events },
        { "events.list",     "GET",    "/v1/events",               OP_ADMIN,   false,  false, events_op_list },
};

const Op *ops_table(size_t *ret_n) {
        *ret_n = ELEMENTSOF(ops);
        return ops;
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

/* Matches path against a template segment by segment. Returns 1 on a match,
 * 0 on none, -EINVAL when only a parameter failed to parse. */
static int path_match(const char *tmpl, const char *path, int64_t ids[OP_MAX_IDS]) {
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
                } else if (tl != pl || memcmp(tmpl, path, tl) != 0)
                        return 0;

                tmpl = te, path = pe;
                if (*tmpl == '\0' && *path == '\0')
                        return bad_param ? -EINVAL : 1;
        }
}

int ops_route(const char *method, const char *path, const Op **ret_op, int64_t ret_ids[OP_MAX_IDS], char *allow,
              size_t allow_size) {
        bool path_found = false, bad_param = false;
        size_t used = 0;

        if (allow_size > 0)
                allow[0] = '\0';

        for (size_t i = 0; i < ELEMENTSOF(ops); i++) {
                int64_t ids[OP_MAX_IDS] = {};
                int k = path_match(ops[i].path, path, ids);

                if (k == 0)
                        continue;
                if (k < 0) {
                        bad_param = true;
                        continue;
                }
                path_found = true;
                if (strcmp(ops[i].method, method) == 0) {
                        if (allow_size > 0)
                                allow[0] = '\0'; /* Allow is for 405 replies only */
                        *ret_op = &ops[i];
                        memcpy(ret_ids, ids, sizeof ids);
                        return 0;
                }
                if (used < allow_size) {
                        int w = snprintf(allow + used, allow_size - used, "%s%s", used ? ", " : "", ops[i].method);
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
                return who->kind == IDENTITY_ANONYMOUS ? -ENOKEY : 0;
        case OP_ADMIN:
                if (who->kind == IDENTITY_ANONYMOUS)
                        return -ENOKEY;
                return who->kind == IDENTITY_PEER && who->admin ? 0 : -EPERM;
        }
        return -EPERM;
}

static int dispatch_route_error(int r, const char *method, const char *path, Reply *reply) {
        switch (r) {
        case -EOPNOTSUPP:
                return reply_error(reply, 405, "method-not-allowed", "Method %s is not allowed here; allowed: %s",
                                   method, reply->allow);
        case -EINVAL:
                return reply_error(reply, 400, "bad-request",
                                   "Invalid identifier in path: identifiers are positive decimal integers");
        default:
                return reply_error(reply, 404, "not-found", "No such resource: %.200s", path);
        }
}

static int dispatch_auth_error(int r, const Op *op, const Identity *who, Reply *reply) {
        if (r == -ENOKEY)
                return reply_error(reply, 401, "unauthorized",
                                   who->bad_token ? "The bearer token is not valid"
                                                  : "Authentication required: send Authorization: Bearer <token>");
        return reply_error(reply, 403, "forbidden", "Operation %s requires administrator rights", op->name);
}

void ops_dispatch(Manager *m, const char *method, const char *path, const Identity *who, const char *body,
                  size_t len, unsigned json_max_depth, Reply *reply) {
        _cleanup_(json_object_putp) json_object *obj = NULL;
        Request req = { .who = who };
        int r;

        r = ops_route(method, path, &req.op, req.ids, reply->allow, sizeof reply->allow);
        if (r < 0) {
                dispatch_route_error(r, method, path, reply);
                return;
        }
        r = ops_authorize(req.op, who);
        if (r < 0) {
                dispatch_auth_error(r, req.op, who, reply);
                return;
        }
        if (req.op->takes_body) {
                if (reply_parse_body(reply, body, len, json_max_depth, &obj) < 0)
                        return;
                req.body = obj;
        } else if (len > 0) {
                reply_error(reply, 400, "bad-request", "Operation %s takes no request body", req.op->name);
                return;
        }

        r = req.op->handler(m, &req, reply);
        if (r < 0 && (reply->status == 0 || reply->status < 400)) {
                log_debug_errno(r, "Operation %s failed: %m", req.op->name);
                reply_errno(reply, r, NULL);
        } else if (r >= 0 && reply->status == 0)
                reply_error(reply, 500, "internal", "Operation %s produced no reply", req.op->name);
}

int ops_health(Manager *m, const Request *req, Reply *reply) {
        json_object *o = json_object_new_object();

        if (o)
                json_object_object_add(o, "status", json_object_new_string("ok"));
        return reply_json(reply, 200, o);
}

int ops_version(Manager *m, const Request *req, Reply *reply) {
        json_object *o = json_object_new_object();

        if (o) {
                json_object_object_add(o, "version", json_object_new_string(MAIO_VERSION));
                json_object_object_add(o, "api", json_object_new_string("v1"));
        }
        return reply_json(reply, 200, o);
}
