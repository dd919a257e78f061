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

/* Largest request body accepted; larger is 413. */
#define REPLY_MAX_BODY (64u * 1024u)

typedef struct Reply {
        unsigned status;          /* HTTP status; 0 until set */
        json_object *json;        /* body when JSON (owned) */
        char *text;               /* body when not JSON, e.g. /metrics (owned) */
        const char *content_type; /* for text; JSON sets "application/json" */
        char *location;           /* Location header or NULL (owned) */
        char allow[64];           /* Allow header for 405, "" when none */
        const char *error_code;   /* the code of an error reply (static), for metrics and logs */
} Reply;

void reply_done(Reply *r);

/* Sets a JSON reply, taking ownership of obj (NULL means json null body is not sent:
 * use reply_empty for 204). Returns 0, or -ENOMEM after setting a 500. */
int reply_json(Reply *r, unsigned status, json_object *obj);
/* Body-less reply (204 and friends). Returns 0. */
int reply_empty(Reply *r, unsigned status);
/* Takes ownership of text (malloc'd) with its content type. Returns 0. */
int reply_text(Reply *r, unsigned status, const char *content_type, char *text);

/* Sets {"error":{"code":code,"message":...}} with status; code must be a static
 * string. Returns -EINVAL for a 4xx status and -EIO otherwise, so handlers can
 * `return reply_error(...)`; the dispatcher sends the reply that was set. */
int reply_error(Reply *r, unsigned status, const char *code, const char *format, ...)
        __attribute__((format(printf, 4, 5)));

/* Maps a negative errno from a handler to a status and error code:
 * -ENOENT 404 not-found, -EEXIST 409 conflict, -EINVAL 400 invalid-value,
 * -EPERM/-EACCES 403 forbidden, -ENOKEY 401 unauthorized, -E2BIG/-EMSGSIZE 413 payload-too-large,
 * -EMEDIUMTYPE 415 unsupported-media-type, -EOPNOTSUPP 405 method-not-allowed,
 * -EBUSY/-EAGAIN 503 unavailable, -ENOSPC 507 insufficient-storage, anything else 500 internal. */
unsigned reply_status_from_errno(int r);
const char *reply_code_from_status(unsigned status);
/* reply_error with the status/code from r and a message ("%m" text when format is NULL). */
int reply_errno(Reply *r, int error, const char *format, ...) __attribute__((format(printf, 3, 4)));

/* Parses a request body that must be one JSON object nested at most max_depth deep.
 * Returns 0 and *ret, or fills r with 400 invalid-json (syntax, trailing data,
 * too deep, not an object, NUL bytes) and returns -EINVAL. */
int reply_parse_body(Reply *r, const char *buf, size_t len, unsigned max_depth, json_object **ret);

typedef enum FieldType {
        FIELD_STRING,
        FIELD_INT,     /* JSON integer (not 1.0, not "1"), fits int64 */
        FIELD_BOOL,
} FieldType;

typedef struct Field {
        const char *name;
        FieldType type;
        bool required;
        int64_t min, max;  /* FIELD_INT range; FIELD_STRING length range (max 0 = no limit) */
} Field;

/* Checks obj against fields: unknown member -> 400 unknown-field, wrong JSON
 * type (null counts as wrong) -> 400 wrong-type, required member missing ->
 * 400 missing-field, int or length out of range -> 400 invalid-value (the
 * message names the allowed range). Returns 0 or -EINVAL with r filled. */
int reply_check_fields(Reply *r, json_object *obj, const Field *fields, size_t n_fields);

/* Time formatting shared by replies: RFC 3339 UTC "2026-11-21T22:40:00Z" of a
 * CLOCK_REALTIME usec value. Returns a new json string, or NULL (json null). */
json_object *json_time_new(int64_t usec);
