/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What every operation handler sees, whatever the transport: who asked (Identity), the typed
 * request (path parameters, decoded body fields, the tenant it is about), and the handler type. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "reply.h"

typedef struct Tenant Tenant;
typedef struct Op Op;

typedef enum IdentityKind {
        IDENTITY_ANONYMOUS, /* TCP without a (valid) bearer token */
        IDENTITY_PEER,      /* unix socket: SO_PEERCRED (netlink: SCM_CREDENTIALS) */
        IDENTITY_TOKEN,     /* TCP with a bearer token of tenant `tenant_id` */
} IdentityKind;

/* Most supplementary groups an identity carries (more are ignored). */
#define IDENTITY_MAX_GROUPS 64

typedef struct Identity {
        IdentityKind kind;
        uid_t uid; /* PEER: the peer; TOKEN: the tenant's owner */
        gid_t gid;
        gid_t groups[IDENTITY_MAX_GROUPS]; /* PEER: supplementary groups, as read when the admin group is */
        unsigned n_groups;
        pid_t pid;         /* PEER only */
        int64_t tenant_id; /* TOKEN only */
        bool admin;        /* resolved by the transport when the connection starts */
        bool bad_token;    /* ANONYMOUS because the token presented was unknown */
} Identity;

#define OP_MAX_IDS 2
/* Longest "{name}" path parameter. */
#define OP_NAME_MAX 128
/* Most fields one operation declares (models.import declares 9: an export is accepted as it is). */
#define OP_MAX_FIELDS 16

/* One decoded body field: which member is set follows the field's type. */
typedef struct Param {
        bool set;       /* present in the request */
        const char *s;  /* FIELD_STRING, FIELD_ENUM (the word), FIELD_SCALAR given as a string */
        int64_t i;      /* FIELD_INT, FIELD_ENUM (the index), FIELD_SCALAR given as an integer */
        double d;       /* FIELD_DOUBLE */
        bool b;         /* FIELD_BOOL */
        json_object *j; /* the raw value (FIELD_JSON: the document); owned by the request */
} Param;

typedef struct Request {
        const Op *op;
        const Identity *who;
        int64_t ids[OP_MAX_IDS];     /* path parameters ({id}, ...) in order */
        const char *name;            /* the {name} parameter; NULL when the template has none */
        json_object *body;           /* the decoded body, NULL unless the op declares fields */
        Param params[OP_MAX_FIELDS]; /* by the index of the op's field declaration */
        const Tenant *tenant;        /* OP_TENANT_OWN: the tenant of ids[0], resolved and authorised */
        uint64_t received_usec;      /* CLOCK_MONOTONIC when the transport handed the whole request over */
} Request;

/* A handler: userdata is the context of the module the op belongs to (its table row says which).
 * Returns >= 0 with the reply set, or a negative errno (the reply then says why, or is derived from
 * the errno by the dispatcher). */
typedef int (*OpHandler)(void *userdata, const Request *req, Reply *reply);

/* Typed access to a decoded field by its index in the op's declaration. */
static inline const Param *request_param(const Request *req, unsigned index) {
        return &req->params[index];
}
