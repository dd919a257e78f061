/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* API replies and errors, errno -> HTTP status mapping, and request-body
 * parsing/validation shared by every operation. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "reply.h"

void reply_done(Reply *r) {
        if (!r)
                return;
        json_object_put(r->json);
        free(r->text);
        free(r->location);
        *r = (Reply){};
}

static void reply_reset_body(Reply *r) {
        json_object_put(TAKE_PTR(r->json));
        free(TAKE_PTR(r->text));
        r->content_type = NULL;
}

int reply_json(Reply *r, unsigned status, json_object *obj) {
        reply_reset_body(r);
        if (!obj)
                return reply_error(r, 500, "internal", "Out of memory");
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
                return reply_error(r, 500, "internal", "Out of memory");
        r->status = status;
        r->text = text;
        r->content_type = content_type;
        return 0;
}

static const struct {
        unsigned status;
        const char *code;
} status_codes[] = {
        { 400, "bad-request" },         { 401, "unauthorized" },       { 403, "forbidden" },
        { 404, "not-found" },           { 405, "method-not-allowed" }, { 408, "request-timeout" },
        { 409, "conflict" },            { 413, "payload-too-large" },  { 415, "unsupported-media-type" },
        { 500, "internal" },            { 503, "unavailable" },        { 507, "insufficient-storage" },
};

const char *reply_code_from_status(unsigned status) {
        for (size_t i = 0; i < ELEMENTSOF(status_codes); i++)
                if (status_codes[i].status == status)
                        return status_codes[i].code;
        return status >= 500 ? "internal" : "bad-request";
}

static _printf_(4, 0) int reply_verror(Reply *r, unsigned status, const char *code, const char *format, va_list ap) {
        char msg[512];
        json_object *o, *e;

        vsnprintf(msg, sizeof msg, format, ap);
        reply_reset_body(r);
        r->status = status;
        r->error_code = code;
        r->content_type = "application/json";

        e = json_object_new_object();
        o = json_object_new_object();
        if (!e || !o || json_object_object_add(e, "code", json_object_new_string(code)) < 0 ||
            json_object_object_add(e, "message", json_object_new_string(msg)) < 0) {
                json_object_put(e);
                json_object_put(o);
                /* Status and code are set; the transport sends an empty body. */
                return status < 500 ? -EINVAL : -EIO;
        }
        json_object_object_add(o, "error", e);
        r->json = o;
        return status < 500 ? -EINVAL : -EIO;
}

int reply_error(Reply *r, unsigned status, const char *code, const char *format, ...) {
        va_list ap;
        int ret;

        va_start(ap, format);
        ret = reply_verror(r, status, code, format, ap);
        va_end(ap);
        return ret;
}

unsigned reply_status_from_errno(int r) {
        switch (-abs(r)) {
        case -ENOENT:
                return 404;
        case -EEXIST:
                return 409;
        case -EINVAL:
        case -ERANGE:
                return 400;
        case -ENOKEY:
                return 401;
        case -EPERM:
        case -EACCES:
                return 403;
        case -EOPNOTSUPP:
                return 405;
        case -E2BIG:
        case -EMSGSIZE:
                return 413;
        case -EMEDIUMTYPE:
                return 415;
        case -EBUSY:
        case -EAGAIN:
                return 503;
        case -ENOSPC:
                return 507;
        default:
                return 500;
        }
}

int reply_errno(Reply *r, int error, const char *format, ...) {
        unsigned status = reply_status_from_errno(error);
        const char *code = status == 400 ? "invalid-value" : reply_code_from_status(status);
        va_list ap;
        int ret;

        if (!format) {
                errno = abs(error);
                return reply_error(r, status, code, "%m");
        }
        va_start(ap, format);
        errno = abs(error); /* lets callers use %m */
        ret = reply_verror(r, status, code, format, ap);
        va_end(ap);
        return ret;
}

int reply_parse_body(Reply *r, const char *buf, size_t len, unsigned max_depth, json_object **ret) {
        json_tokener *tok;
        json_object *obj;
        enum json_tokener_error jerr;
        size_t used;

        if (len == 0)
                return reply_error(r, 400, "invalid-json", "Request body is empty, expected a JSON object");
        if (memchr(buf, '\0', len))
                return reply_error(r, 400, "invalid-json", "Request body contains a NUL byte");

        /* json-c's depth counts one past the deepest nesting it accepts. */
        tok = json_tokener_new_ex((int) max_depth + 1);
        if (!tok)
                return reply_error(r, 500, "internal", "Out of memory");
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        obj = json_tokener_parse_ex(tok, buf, (int) len);
        jerr = json_tokener_get_error(tok);
        used = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);

        if (jerr == json_tokener_continue) {
                json_object_put(obj);
                return reply_error(r, 400, "invalid-json", "Request body is truncated JSON");
        }
        if (jerr != json_tokener_success) {
                json_object_put(obj);
                return reply_error(r, 400, "invalid-json", "Malformed JSON at offset %zu: %s", used,
                                   json_tokener_error_desc(jerr));
        }
        /* Anything but whitespace after the object is trailing garbage. */
        for (size_t i = used; i < len; i++)
                if (!strchr(" \t\r\n", buf[i])) {
                        json_object_put(obj);
                        return reply_error(r, 400, "invalid-json", "Trailing data after the JSON object at offset %zu", i);
                }
        if (!json_object_is_type(obj, json_type_object)) {
                json_object_put(obj);
                return reply_error(r, 400, "invalid-json", "Request body must be a JSON object");
        }
        *ret = obj;
        return 0;
}

static const Field *field_find(const Field *fields, size_t n, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(fields[i].name, name) == 0)
                        return &fields[i];
        return NULL;
}

static const char *field_type_name(FieldType t) {
        switch (t) {
        case FIELD_STRING:
                return "a string";
        case FIELD_INT:
                return "an integer";
        case FIELD_BOOL:
                return "a boolean";
        }
        return "?";
}

static int field_check_one(Reply *r, const Field *f, json_object *v) {
        static const json_type want[] = {
                [FIELD_STRING] = json_type_string,
                [FIELD_INT] = json_type_int,
                [FIELD_BOOL] = json_type_boolean,
        };
        int64_t x;

        if (!json_object_is_type(v, want[f->type]))
                return reply_error(r, 400, "wrong-type", "Field '%s' must be %s", f->name, field_type_name(f->type));

        switch (f->type) {
        case FIELD_INT:
                /* json-c saturates integers beyond int64, which every range here rejects. */
                x = json_object_get_int64(v);
                if (x < f->min || x > f->max)
                        return reply_error(r, 400, "invalid-value", "Field '%s' must be in the range %" PRId64 "..%" PRId64,
                                           f->name, f->min, f->max);
                break;
        case FIELD_STRING:
                x = json_object_get_string_len(v);
                if (x < f->min || (f->max > 0 && x > f->max))
                        return reply_error(r, 400, "invalid-value", "Field '%s' must be %" PRId64 "..%" PRId64 " characters long",
                                           f->name, f->min, f->max);
                if (strlen(json_object_get_string(v)) != (size_t) x)
                        return reply_error(r, 400, "invalid-value", "Field '%s' contains a NUL character", f->name);
                break;
        case FIELD_BOOL:
                break;
        }
        return 0;
}

int reply_check_fields(Reply *r, json_object *obj, const Field *fields, size_t n_fields) {
        json_object_object_foreach(obj, key, val) {
                const Field *f = field_find(fields, n_fields, key);
                int q;

                if (!f)
                        return reply_error(r, 400, "unknown-field", "Unknown field '%s'", key);
                q = field_check_one(r, f, val);
                if (q < 0)
                        return q;
        }
        for (size_t i = 0; i < n_fields; i++)
                if (fields[i].required && !json_object_object_get_ex(obj, fields[i].name, NULL))
                        return reply_error(r, 400, "missing-field", "Missing required field '%s'", fields[i].name);
        return 0;
}

json_object *json_time_new(int64_t usec) {
        char buf[64];
        time_t t = (time_t) (usec / 1000000);
        struct tm tm;

        if (!gmtime_r(&t, &tm) || strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                return NULL; /* json-c's null */
        return json_object_new_string(buf);
}
