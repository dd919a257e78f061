/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one ops table: every API operation declared once (name, method, path template, access
 * class, the module whose context its handler takes, its body fields). A transport resolves the
 * route once with ops_route(), then runs the operation with ops_call() and encodes the Reply. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "reply.h"
#include "request.h"

typedef struct Tenants Tenants;

typedef enum OpAccess {
        OP_PUBLIC,     /* anyone, even unauthenticated TCP clients */
        OP_TENANT,     /* any authenticated caller; handlers scope to its own tenants */
        OP_PEER,       /* an authenticated local peer (unix socket), not a bearer token */
        OP_TENANT_OWN, /* about tenant {id}: resolved and authorised before the handler (req->tenant) */
        OP_ADMIN,      /* uid 0 or a member of [api] admin_group, on the unix socket */
} OpAccess;

/* Whose context a handler takes (Ops.contexts[module]). */
typedef enum OpModule {
        OP_MODULE_API,     /* Ops itself: health, version, status (which asks the core) */
        OP_MODULE_CORE,    /* the Manager */
        OP_MODULE_METRICS, /* the metrics registry */
        OP_MODULE_TENANTS,
        OP_MODULE_JOURNAL,
        OP_MODULE_TOPOLOGY,
        OP_MODULE_POOLS,
        OP_MODULE_TIER,
        OP_MODULE_MFLOW,
        OP_MODULE_SCHED,
        _OP_MODULE_MAX,
} OpModule;

struct Op {
        const char *name;   /* stable, e.g. "tenants.get"; used in logs and metrics */
        uint8_t cmd;        /* its netlink command (enum maio_cmd, api/maio_netlink.h), stable */
        const char *method; /* "GET", "POST", ... */
        const char *path;   /* template: literal segments, "{id}" for a positive integer, "{name}" for
                             * one segment of 1..OP_NAME_MAX characters of [A-Za-z0-9._-] */
        OpAccess access;
        bool mutating;
        OpModule module;
        OpHandler handler;
        const FieldSet *body;  /* the body's fields; NULL: the op takes no body */
        size_t max_body;       /* largest request body; 0 = REPLY_MAX_BODY (64 KiB) */
        const FieldSet *reply; /* the reply's members as typed netlink attributes (stable ids), for the
                                * hot operations; NULL: the reply goes as its JSON document */
};

/* Path parameters: "{id}"s in order, and the one "{name}" a template may have. */
typedef struct OpParams {
        int64_t ids[OP_MAX_IDS];
        char name[OP_NAME_MAX + 1]; /* "" when the template has no {name} */
} OpParams;

/* What ops_call() runs handlers with; the Manager fills it. */
typedef struct Ops {
        void *contexts[_OP_MODULE_MAX];
        Tenants *tenants;        /* resolves OP_TENANT_OWN */
        OpHandler status;        /* GET /v1/status, the core's, run with contexts[OP_MODULE_CORE] */
        unsigned json_max_depth; /* [api] json_max_depth */
} Ops;

/* The table, for transports, docs and the spec test. Never NULL. */
const Op *ops_table(size_t *ret_n);
/* The op of a netlink command, NULL for an unknown one. */
const Op *ops_by_cmd(unsigned cmd);

/* Finds the op for method and path (no query string). Returns 0 with *ret_op and *ret_params;
 * -ENOENT when no template matches the path; -EOPNOTSUPP when the path matches but not the method
 * (allow receives the "GET, POST" list, truncated to allow_size); -EINVAL when a parameter is not
 * a canonical positive decimal integer, or a {name} holds another character (notably '%': paths
 * are not percent-decoded, so an encoded '/' or NUL never reaches a handler) or is too long. */
int ops_route(const char *method, const char *path, const Op **ret_op, OpParams *ret_params, char *allow,
              size_t allow_size);

/* Sets the {name} parameter from a transport that does not route by path: 1..OP_NAME_MAX characters
 * of [A-Za-z0-9._-], as in a path. Returns 0 or -EINVAL. */
int ops_param_name(const char *s, size_t len, OpParams *params);

/* Fills reply with the error of a failed ops_route() (r) for method and path. Returns r. */
int ops_route_error(int r, const char *method, const char *path, Reply *reply);

/* Access check for the op's class: 0 allowed, -ENOKEY unauthenticated, -EPERM authenticated but
 * not allowed. Tenant ownership (OP_TENANT_OWN) is checked by ops_call(). */
int ops_authorize(const Op *op, const Identity *who);

/* Runs one routed operation: authorize, resolve the tenant of an OP_TENANT_OWN op, decode and
 * check the body against the op's fields, call the handler, turn a failure into an error reply.
 * body may be NULL when len is 0. Always leaves *reply set (reply_is_set()). Returns the
 * handler's result (>= 0) or the negative errno of the error reply. */
int ops_call(const Ops *ops, const Op *op, const OpParams *params, const Identity *who, const char *body, size_t len,
             Reply *reply);
/* ops_call() for a transport that decoded the body itself: body is an object (borrowed), or NULL when
 * the request has none. The op's field declarations still check it. */
int ops_call_object(const Ops *ops, const Op *op, const OpParams *params, const Identity *who, json_object *body,
                    Reply *reply);
