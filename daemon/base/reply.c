/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* API replies and errors, errno -> HTTP status mapping, and request-body
 * parsing/validation shared by every operation. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reply.h"
#include "request.h"

void reply_done(Reply *r) {
        if (!r)
                return;
        json_object_put(r->json);
        free(r->text);
        free(r->location);
        *r = (Reply) {};
}

static void reply_reset_body(Reply *r) {
        json_object_put(TAKE_PTR(r->json));
        free(TAKE_PTR(r->text));
        r->content_type = NULL;
        r->error = 0;
        r->code = REPLY_OK;
        r->message[0] = '\0';
}

int reply_json(Reply *r, unsigned status, json_object *obj) {
        reply_reset_body(r);
        if (!obj)
                return reply_error(r, REPLY_INTERNAL, "Out of memory");
        r->status = status;
        r->json = obj;
        r->content_type = "application/json";
        return 0;
}

int reply_empty(Reply *r, unsigned status) {
        reply_reset_body(r);
        r->status = status;
        return 0;
}

int reply_text(Reply *r, unsigned status, const char *content_type, char *text) {
        reply_reset_body(r);
        if (!text)
                return reply_error(r, REPLY_INTERNAL, "Out of memory");
        r->status = status;
        r->text = text;
        r->content_type = content_type;
        return 0;
}

static const struct {
        const char *code;
        unsigned status;
        int error;
} reply_errors[_REPLY_ERROR_MAX] = {
        [REPLY_OK] = { NULL, 200, 0 },
        [REPLY_BAD_REQUEST] = { "bad-request", 400, -EINVAL },
        [REPLY_INVALID_JSON] = { "invalid-json", 400, -EINVAL },
        [REPLY_UNKNOWN_FIELD] = { "unknown-field", 400, -EINVAL },
        [REPLY_WRONG_TYPE] = { "wrong-type", 400, -EINVAL },
        [REPLY_MISSING_FIELD] = { "missing-field", 400, -EINVAL },
        [REPLY_INVALID_VALUE] = { "invalid-value", 400, -EINVAL },
        [REPLY_UNAUTHORIZED] = { "unauthorized", 401, -ENOKEY },
        [REPLY_FORBIDDEN] = { "forbidden", 403, -EPERM },
        [REPLY_NOT_FOUND] = { "not-found", 404, -ENOENT },
        [REPLY_METHOD_NOT_ALLOWED] = { "method-not-allowed", 405, -EOPNOTSUPP },
        [REPLY_REQUEST_TIMEOUT] = { "request-timeout", 408, -ETIMEDOUT },
        [REPLY_CONFLICT] = { "conflict", 409, -EEXIST },
        [REPLY_PAYLOAD_TOO_LARGE] = { "payload-too-large", 413, -E2BIG },
        [REPLY_UNSUPPORTED_MEDIA_TYPE] = { "unsupported-media-type", 415, -EMEDIUMTYPE },
        [REPLY_INTERNAL] = { "internal", 500, -EIO },
        [REPLY_UNAVAILABLE] = { "unavailable", 503, -EAGAIN },
        [REPLY_INSUFFICIENT_STORAGE] = { "insufficient-storage", 507, -ENOSPC },
};

const char *reply_error_to_string(ReplyError e) {
        return (unsigned) e < _REPLY_ERROR_MAX ? reply_errors[e].code : NULL;
}

ReplyError reply_error_from_string(const char *s) {
        for (size_t i = 1; s && i < _REPLY_ERROR_MAX; i++)
                if (strcmp(reply_errors[i].code, s) == 0)
                        return (ReplyError) i;
        return REPLY_INTERNAL;
}

unsigned reply_error_status(ReplyError e) {
        return (unsigned) e < _REPLY_ERROR_MAX ? reply_errors[e].status : 500;
}

int reply_error_errno(ReplyError e) {
        return (unsigned) e < _REPLY_ERROR_MAX ? reply_errors[e].error : -EIO;
}

ReplyError reply_error_from_errno(int r) {
        switch (-abs(r)) {
        case -ENOENT:
                return REPLY_NOT_FOUND;
        case -EEXIST:
                return REPLY_CONFLICT;
        case -EINVAL:
        case -ERANGE:
                return REPLY_INVALID_VALUE;
        case -ENOKEY:
                return REPLY_UNAUTHORIZED;
        case -EPERM:
        case -EACCES:
                return REPLY_FORBIDDEN;
        case -EOPNOTSUPP:
                return REPLY_METHOD_NOT_ALLOWED;
        case -E2BIG:
        case -EMSGSIZE:
                return REPLY_PAYLOAD_TOO_LARGE;
        case -EMEDIUMTYPE:
                return REPLY_UNSUPPORTED_MEDIA_TYPE;
        case -EBUSY:
        case -EAGAIN:
                return REPLY_UNAVAILABLE;
        case -ENOSPC:
                return REPLY_INSUFFICIENT_STORAGE;
        default:
                return REPLY_INTERNAL;
        }
}

static _printf_(4, 0) int reply_verror(Reply *r, ReplyError code, int error, const char *format, va_list ap) {
        int saved = errno;

        reply_reset_body(r);
        errno = saved; /* for %m */
        vsnprintf(r->message, sizeof r->message, format, ap);
        r->code = code;
        r->status = reply_error_status(code);
        r->error = error;
        return error;
}

int reply_error(Reply *r, ReplyError code, const char *format, ...) {
        va_list ap;
        int ret;

        va_start(ap, format);
        ret = reply_verror(r, code, reply_error_errno(code), format, ap);
        va_end(ap);
        return ret;
}

int reply_errno(Reply *r, int error, const char *format, ...) {
        ReplyError code = reply_error_from_errno(error);
        va_list ap;
        int ret;

        error = -abs(error);
        errno = -error; /* lets callers use %m */
        if (!format) {
                (void) reply_error(r, code, "%m");
                r->error = error;
                return error;
        }
        va_start(ap, format);
        ret = reply_verror(r, code, error, format, ap);
        va_end(ap);
        return ret;
}

json_object *reply_error_to_json(const Reply *r) {
        json_object *o = json_object_new_object(), *e = json_object_new_object();

        if (!o || !e || json_object_object_add(e, "code", json_object_new_string(reply_error_to_string(r->code))) < 0 ||
            json_object_object_add(e, "message", json_object_new_string(r->message)) < 0) {
                json_object_put(e);
                json_object_put(o);
                return NULL;
        }
        json_object_object_add(o, "error", e);
        return o;
}

int reply_parse_body(Reply *r, const char *buf, size_t len, unsigned max_depth, json_object **ret) {
        json_tokener *tok;
        json_object *obj;
        enum json_tokener_error jerr;
        size_t used;

        if (len == 0)
                return reply_error(r, REPLY_INVALID_JSON, "Request body is empty, expected a JSON object");
        if (memchr(buf, '\0', len))
                return reply_error(r, REPLY_INVALID_JSON, "Request body contains a NUL byte");

        /* json-c's depth counts one past the deepest nesting it accepts. */
        tok = json_tokener_new_ex((int) max_depth + 1);
        if (!tok)
                return reply_error(r, REPLY_INTERNAL, "Out of memory");
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        obj = json_tokener_parse_ex(tok, buf, (int) len);
        jerr = json_tokener_get_error(tok);
        used = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);

        if (jerr == json_tokener_continue) {
                json_object_put(obj);
                return reply_error(r, REPLY_INVALID_JSON, "Request body is truncated JSON");
        }
        if (jerr != json_tokener_success) {
                json_object_put(obj);
                return reply_error(r, REPLY_INVALID_JSON, "Malformed JSON at offset %zu: %s", used,
                                   json_tokener_error_desc(jerr));
        }
        /* Anything but whitespace after the object is trailing garbage. */
        for (size_t i = used; i < len; i++)
                if (!strchr(" \t\r\n", buf[i])) {
                        json_object_put(obj);
                        return reply_error(r, REPLY_INVALID_JSON, "Trailing data after the JSON object at offset %zu",
                                           i);
                }
        if (!json_object_is_type(obj, json_type_object)) {
                json_object_put(obj);
                return reply_error(r, REPLY_INVALID_JSON, "Request body must be a JSON object");
        }
        *ret = obj;
        return 0;
}

static const Field *field_find(const Field *fields, size_t n, const char *name, size_t *ret_index) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(fields[i].name, name) == 0) {
                        *ret_index = i;
                        return &fields[i];
                }
        return NULL;
}

static const char *const field_type_names[_FIELD_TYPE_MAX] = {
        [FIELD_STRING] = "a string",   [FIELD_INT] = "an integer", [FIELD_DOUBLE] = "a number",
        [FIELD_BOOL] = "a boolean",    [FIELD_ENUM] = "a string",  [FIELD_SCALAR] = "a string or an integer",
        [FIELD_JSON] = "a JSON value",
};

static bool field_type_ok(FieldType t, json_object *v) {
        switch (t) {
        case FIELD_STRING:
        case FIELD_ENUM:
                return json_object_is_type(v, json_type_string);
        case FIELD_INT:
                return json_object_is_type(v, json_type_int);
        case FIELD_DOUBLE:
                return json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
        case FIELD_BOOL:
                return json_object_is_type(v, json_type_boolean);
        case FIELD_SCALAR:
                return json_object_is_type(v, json_type_string) || json_object_is_type(v, json_type_int);
        case FIELD_JSON:
                return true; /* null too: an export's "tenant_id": null is imported as it is */
        default:
                return false;
        }
}

static int field_string(Reply *r, const Field *f, json_object *v, Param *p) {
        int64_t x = json_object_get_string_len(v);

        p->s = json_object_get_string(v);
        if (strlen(p->s) != (size_t) x)
                return reply_error(r, REPLY_INVALID_VALUE, "Field '%s' contains a NUL character", f->name);
        if (f->type == FIELD_STRING && (x < f->min || (f->max > 0 && x > f->max)))
                return reply_error(r, REPLY_INVALID_VALUE,
                                   "Field '%s' must be %" PRId64 "..%" PRId64 " characters long", f->name, f->min,
                                   f->max);
        return 0;
}

static int field_enum(Reply *r, const Field *f, Param *p) {
        char list[256] = "";
        size_t used = 0;

        for (size_t i = 0; f->words[i]; i++) {
                if (strcmp(f->words[i], p->s) == 0) {
                        p->i = (int64_t) i;
                        return 0;
                }
                used += (size_t) snprintf(list + used, used < sizeof list ? sizeof list - used : 0, "%s%s",
                                          i ? ", " : "", f->words[i]);
        }
        return reply_error(r, REPLY_INVALID_VALUE, "Field '%s' must be one of %s", f->name, list);
}

static int field_decode_one(Reply *r, const Field *f, json_object *v, Param *p) {
        if (!field_type_ok(f->type, v))
                return reply_error(r, REPLY_WRONG_TYPE, "Field '%s' must be %s", f->name, field_type_names[f->type]);
        *p = (Param) { .set = true, .j = v };

        switch (f->type) {
        case FIELD_INT:
                /* json-c saturates integers beyond int64, which every range here rejects. */
                p->i = json_object_get_int64(v);
                if (p->i < f->min || p->i > f->max)
                        return reply_error(r, REPLY_INVALID_VALUE,
                                           "Field '%s' must be in the range %" PRId64 "..%" PRId64, f->name, f->min,
                                           f->max);
                return 0;
        case FIELD_DOUBLE:
                p->d = json_object_get_double(v);
                if (!isfinite(p->d) || ((f->dmin != 0 || f->dmax != 0) && (p->d < f->dmin || p->d > f->dmax)))
                        return reply_error(r, REPLY_INVALID_VALUE, "Field '%s' must be a number from %g to %g", f->name,
                                           f->dmin, f->dmax);
                return 0;
        case FIELD_BOOL:
                p->b = json_object_get_boolean(v);
                return 0;
        case FIELD_STRING:
                return field_string(r, f, v, p);
        case FIELD_ENUM:
                return field_string(r, f, v, p) < 0 ? r->error : field_enum(r, f, p);
        case FIELD_SCALAR:
                if (json_object_is_type(v, json_type_int)) {
                        p->i = json_object_get_int64(v);
                        return 0;
                }
                return field_string(r, f, v, p);
        default:
                return 0;
        }
}

/* Each "exactly one of" group: none given is missing-field, more than one invalid-value. */
static int field_check_groups(Reply *r, const Field *fields, size_t n, const Param *params) {
        for (size_t i = 0; i < n; i++) {
                const char *first = NULL, *second = NULL;
                unsigned g = fields[i].one_of;

                if (g == 0)
                        continue;
                for (size_t k = 0; k < n; k++)
                        if (fields[k].one_of == g && params[k].set) {
                                if (!first)
                                        first = fields[k].name;
                                else if (!second)
                                        second = fields[k].name;
                        }
                if (!first || second) {
                        char names[256] = "";
                        size_t used = 0;

                        for (size_t k = 0; k < n; k++)
                                if (fields[k].one_of == g)
                                        used += (size_t) snprintf(names + used,
                                                                  used < sizeof names ? sizeof names - used : 0,
                                                                  "%s'%s'", used ? ", " : "", fields[k].name);
                        return reply_error(r, first ? REPLY_INVALID_VALUE : REPLY_MISSING_FIELD,
                                           "Give exactly one of %s", names);
                }
        }
        return 0;
}

int reply_decode_fields(Reply *r, json_object *obj, const Field *fields, size_t n_fields, Param *params) {
        for (size_t i = 0; i < n_fields; i++)
                params[i] = (Param) {};

        json_object_object_foreach(obj, key, val) {
                size_t index;
                const Field *f = field_find(fields, n_fields, key, &index);
                int q;

                if (!f)
                        return reply_error(r, REPLY_UNKNOWN_FIELD, "Unknown field '%s'", key);
                q = field_decode_one(r, f, val, &params[index]);
                if (q < 0)
                        return q;
        }
        for (size_t i = 0; i < n_fields; i++)
                if (fields[i].required && !params[i].set)
                        return reply_error(r, REPLY_MISSING_FIELD, "Missing required field '%s'", fields[i].name);
        return field_check_groups(r, fields, n_fields, params);
}

json_object *json_time_new(int64_t usec) {
        char buf[64];
        time_t t = (time_t) (usec / 1000000);
        struct tm tm;

        if (!gmtime_r(&t, &tm) || strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                return NULL; /* json-c's null */
        return json_object_new_string(buf);
}
