/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one ops table: every API operation declared once (method, path template,
 * access class, handler). Transports (REST, later netlink) decode a request,
 * call ops_dispatch() and encode the Reply. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "reply.h"

typedef struct Manager Manager;

typedef enum OpAccess {
        OP_PUBLIC, /* anyone, even unauthenticated TCP clients */
        OP_TENANT, /* any authenticated caller; handlers scope to its own tenants */
        OP_ADMIN,  /* uid 0 or a member of [api] admin_group, on the unix socket */
} OpAccess;

typedef enum IdentityKind {
        IDENTITY_ANONYMOUS, /* TCP without a (valid) bearer token */
        IDENTITY_PEER,      /* unix socket: SO_PEERCRED */
        IDENTITY_TOKEN,     /* TCP with a bearer token of tenant `tenant_id` */
} IdentityKind;

typedef struct Identity {
        IdentityKind kind;
        uid_t uid;          /* PEER: the peer; TOKEN: the tenant's owner */
        gid_t gid;
        pid_t pid;          /* PEER only */
        int64_t tenant_id;  /* TOKEN only */
        bool admin;         /* resolved by the transport when the connection starts */
        bool bad_token;     /* ANONYMOUS because the token presented was unknown */
} Identity;

#define OP_MAX_IDS 2
/* Longest "{name}" path parameter. */
#define OP_NAME_MAX 128

/* Path parameters: "{id}"s in order, and the one "{name}" a template may have. */
typedef struct OpParams {
        int64_t ids[OP_MAX_IDS];
        char name[OP_NAME_MAX + 1]; /* "" when the template has no {name} */
} OpParams;

typedef struct Request {
        const struct Op *op;
        const Identity *who;
        int64_t ids[OP_MAX_IDS]; /* path parameters ({id}, ...) in order */
        const char *name;        /* the {name} parameter; NULL when the template has none */
        json_object *body;       /* NULL unless op->takes_body */
} Request;

typedef int (*OpHandler)(Manager *m, const Request *req, Reply *reply);

typedef struct Op {
        const char *name;   /* stable, e.g. "tenants.get"; used in logs and metrics */
        const char *method; /* "GET", "POST", ... */
        const char *path;   /* template: literal segments, "{id}" for a positive integer, "{name}" for
                             * one segment of 1..OP_NAME_MAX characters of [A-Za-z0-9._-] */
        OpAccess access;
        bool mutating;
        bool takes_body;
        OpHandler handler;
        size_t max_body;    /* largest request body; 0 = REPLY_MAX_BODY (64 KiB) */
} Op;

/* The table, for transports, docs and the spec test. Never NULL. */
const Op *ops_table(size_t *ret_n);

/* Finds the op for method and path (no query string). Returns 0 and *ret_op and
 * ret_ids filled; -ENOENT when no template matches the path (404); -EOPNOTSUPP
 * when the path matches but not the method (405; allow receives the "GET, POST"
 * list, truncated to allow_size); -EINVAL when a parameter is not a canonical
 * positive decimal integer (400). */
int ops_route(const char *method, const char *path, const Op **ret_op, int64_t ret_ids[OP_MAX_IDS], char *allow,
              size_t allow_size);
/* ops_route() that also returns the {name} parameter. A {name} segment with
 * another character (notably '%': paths are not percent-decoded, so an
 * encoded '/' or NUL never reaches a handler) or too long is -EINVAL (400). */
int ops_route_params(const char *method, const char *path, const Op **ret_op, OpParams *ret_params, char *allow,
                     size_t allow_size);

/* Access check for the op's class: 0 allowed, -ENOKEY unauthenticated (401),
 * -EPERM authenticated but not allowed (403). Tenant ownership is the handler's job. */
int ops_authorize(const Op *op, const Identity *who);

/* Runs one request end to end: route, authorize, parse and type-check the body,
 * call the handler, map a failure to an error reply. Always leaves a reply
 * with a status in *reply. body may be NULL when len is 0. */
void ops_dispatch(Manager *m, const char *method, const char *path, const Identity *who, const char *body,
                  size_t len, unsigned json_max_depth, Reply *reply);

/* Handlers that live in ops.c (the rest live with their module). */
int ops_health(Manager *m, const Request *req, Reply *reply);
int ops_version(Manager *m, const Request *req, Reply *reply);
