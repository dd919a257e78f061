/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A transport-independent API reply (status, JSON or text body, headers), the
 * error body {"error":{"code","message"}}, errno -> status mapping, and the
 * request-body parsing and field checking every operation shares. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "cleanup.h"
#include "jsonutil.h"

typedef struct Param Param;

/* Largest request body accepted; larger is 413. */
#define REPLY_MAX_BODY (64u * 1024u)

/* Stable error codes: each with the errno a binary transport reports and the HTTP status REST
 * answers with. The words are part of the API (openapi.yaml lists them). */
typedef enum ReplyError {
        REPLY_OK,
        REPLY_BAD_REQUEST,
        REPLY_INVALID_JSON,
        REPLY_UNKNOWN_FIELD,
        REPLY_WRONG_TYPE,
        REPLY_MISSING_FIELD,
        REPLY_INVALID_VALUE,
        REPLY_UNAUTHORIZED,
        REPLY_FORBIDDEN,
        REPLY_NOT_FOUND,
        REPLY_METHOD_NOT_ALLOWED,
        REPLY_REQUEST_TIMEOUT,
        REPLY_CONFLICT,
        REPLY_PAYLOAD_TOO_LARGE,
        REPLY_UNSUPPORTED_MEDIA_TYPE,
        REPLY_INTERNAL,
        REPLY_UNAVAILABLE,
        REPLY_INSUFFICIENT_STORAGE,
        _REPLY_ERROR_MAX,
} ReplyError;

/* "not-found", ...; NULL outside the enum. */
const char *reply_error_to_string(ReplyError e);
/* The code of a word, REPLY_INTERNAL for an unknown one. */
ReplyError reply_error_from_string(const char *s);
/* The HTTP status of e (200 for REPLY_OK). Never fails. */
unsigned reply_error_status(ReplyError e);
/* The negative errno of e (0 for REPLY_OK). Never fails. */
int reply_error_errno(ReplyError e);
/* The code for a negative errno: -ENOENT not-found, -EEXIST conflict, -EINVAL/-ERANGE
 * invalid-value, -EPERM/-EACCES forbidden, -ENOKEY unauthorized, -E2BIG/-EMSGSIZE
 * payload-too-large, -EMEDIUMTYPE unsupported-media-type, -EOPNOTSUPP method-not-allowed,
 * -EBUSY/-EAGAIN unavailable, -ENOSPC insufficient-storage, anything else internal. */
ReplyError reply_error_from_errno(int r);

#define REPLY_MESSAGE_MAX 512

typedef struct Reply {
        unsigned status;                 /* success: 200, 201, 204; an error: its code's HTTP status; 0 until set */
        int error;                       /* 0, or the negative errno of a failed operation */
        ReplyError code;                 /* REPLY_OK, or the stable error code */
        char message[REPLY_MESSAGE_MAX]; /* the error's message, "" on success */
        json_object *json;               /* body when JSON (owned); an error's is NULL (the transport sends
                                          * reply_error_to_json()) or that object with members added */
        char *text;                      /* body when not JSON, e.g. /metrics (owned) */
        const char *content_type;        /* for text; JSON sets "application/json" */
        char *location;                  /* Location header or NULL (owned) */
        char allow[64];                  /* methods allowed on the path, for method-not-allowed; "" when none */
} Reply;

void reply_done(Reply *r);

/* True once a handler or the dispatcher set a success or an error. */
static inline bool reply_is_set(const Reply *r) {
        return r->status != 0;
}

/* Sets a JSON reply, taking ownership of obj. Returns 0, or -ENOMEM after setting internal. */
int reply_json(Reply *r, unsigned status, json_object *obj);
/* Body-less reply (204 and friends). Returns 0. */
int reply_empty(Reply *r, unsigned status);
/* Takes ownership of text (malloc'd) with its content type. Returns 0. */
int reply_text(Reply *r, unsigned status, const char *content_type, char *text);

/* Sets an error with its code and message, dropping any body. Returns the code's negative errno,
 * so handlers can `return reply_error(...)`. */
int reply_error(Reply *r, ReplyError code, const char *format, ...) __attribute__((format(printf, 3, 4)));
/* reply_error() with the code derived from the errno (reply_error_from_errno(), except that a
 * bad request is invalid-value) and that errno kept; "%m" text when format is NULL. Returns error. */
int reply_errno(Reply *r, int error, const char *format, ...) __attribute__((format(printf, 3, 4)));

/* {"error":{"code":..,"message":..}} of an error reply, NULL on OOM. */
json_object *reply_error_to_json(const Reply *r);

/* Parses a request body that must be one JSON object nested at most max_depth deep.
 * Returns 0 and *ret, or fills r with invalid-json (syntax, trailing data, too deep, not an
 * object, NUL bytes) and returns -EINVAL. */
int reply_parse_body(Reply *r, const char *buf, size_t len, unsigned max_depth, json_object **ret);

typedef enum FieldType {
        FIELD_STRING,
        FIELD_INT,    /* JSON integer (not 1.0, not "1"), fits int64 */
        FIELD_DOUBLE, /* JSON number, finite */
        FIELD_BOOL,
        FIELD_ENUM,   /* a string from words; the index lands in Param.i */
        FIELD_SCALAR, /* a string or an integer (knob values) */
        FIELD_JSON,   /* any JSON value, null included (Param.j NULL, set), checked by the handler */
        _FIELD_TYPE_MAX,
} FieldType;

typedef struct Field {
        const char *name;
        FieldType type;
        bool required;
        int64_t min, max;         /* FIELD_INT range; FIELD_STRING length (max 0 = no limit) */
        double dmin, dmax;        /* FIELD_DOUBLE range (both 0: any finite number) */
        const char *const *words; /* FIELD_ENUM: NULL-terminated */
        unsigned one_of;          /* fields sharing a group number > 0: exactly one must be given */
        uint16_t id;              /* stable attribute number for binary transports (netlink), >= 1 */
} Field;

/* An operation's body fields, declared once next to its handler. */
typedef struct FieldSet {
        const Field *fields;
        size_t n;
} FieldSet;

/* Decodes obj against fields into params (indexed like fields): unknown member -> unknown-field,
 * wrong JSON type (null counts as wrong but for FIELD_JSON) -> wrong-type, required member
 * missing -> missing-field, value out of range or not a word -> invalid-value (the message names
 * what is allowed), an "exactly one of" group with none -> missing-field, with two ->
 * invalid-value. Members are taken in the body's order and the first error wins. Returns 0 or
 * -EINVAL with r filled. Strings and documents in params point into obj. */
int reply_decode_fields(Reply *r, json_object *obj, const Field *fields, size_t n_fields, Param *params);

/* Time formatting shared by replies: RFC 3339 UTC "2026-11-21T22:40:00Z" of a
 * CLOCK_REALTIME usec value. Returns a new json string, or NULL (json null). */
json_object *json_time_new(int64_t usec);
