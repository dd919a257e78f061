/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for request decoding: input is "METHOD PATH\n" then the body.
 * Routes, authorizes, parses and field-checks the body as ops_dispatch() does,
 * without a Manager, and traps when a result breaks its documented contract. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "ops.h"
#include "reply.h"

/* The real transport caps a request line far below this; longer lines only slow the fuzzer. */
#define FUZZ_MAX_LINE 8192
#define FUZZ_JSON_DEPTH 16

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Same shapes as the tenant create/update tables in daemon/tenants/tenants.c (static there). */
static const Field create_fields[] = {
        { "name", FIELD_STRING, true, 1, 63 },
        { "priority", FIELD_INT, false, 0, 7 },
        { "workload_class", FIELD_STRING, false, 1, 32 },
        { "pid", FIELD_INT, false, 1, INT32_MAX },
        { "cgroup", FIELD_STRING, false, 1, 4095 },
        { "flag", FIELD_BOOL, false, 0, 0 }, /* no bool field in v1 yet; keeps that branch covered */
};

static const Field update_fields[] = {
        { "name", FIELD_STRING, false, 1, 63 },
        { "priority", FIELD_INT, false, 0, 7 },
        { "workload_class", FIELD_STRING, false, 1, 32 },
};

static const Identity identities[] = {
        { .kind = IDENTITY_ANONYMOUS },
        { .kind = IDENTITY_ANONYMOUS, .bad_token = true },
        { .kind = IDENTITY_PEER, .uid = 1000, .gid = 1000, .pid = 1 },
        { .kind = IDENTITY_PEER, .uid = 0, .gid = 0, .pid = 1, .admin = true },
        { .kind = IDENTITY_TOKEN, .uid = 1000, .tenant_id = 1 },
};

#define CHECK(x)                          \
        do {                              \
                if (!(x))                 \
                        __builtin_trap(); \
        } while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        log_set_max_level(LOG_CRIT); /* library code logs at debug; keep the fuzzer quiet and fast */
        return 0;
}

static size_t count_params(const char *tmpl) {
        size_t n = 0;

        for (const char *p = strstr(tmpl, "{id}"); p; p = strstr(p + 4, "{id}"))
                n++;
        return n;
}

static void check_route_result(int r, const Op *op, const char *method, const int64_t ids[OP_MAX_IDS]) {
        CHECK(r == 0 || r == -ENOENT || r == -EOPNOTSUPP || r == -EINVAL);
        if (r < 0)
                return;
        CHECK(op && strcmp(op->method, method) == 0);
        for (size_t i = 0; i < count_params(op->path) && i < OP_MAX_IDS; i++)
                CHECK(ids[i] > 0);
        for (size_t i = 0; i < ELEMENTSOF(identities); i++) {
                int a = ops_authorize(op, &identities[i]);

                CHECK(a == 0 || a == -ENOKEY || a == -EPERM);
                CHECK(op->access != OP_PUBLIC || a == 0);
        }
}

/* Body handling of ops_dispatch() plus the handler's field check. */
static void fuzz_body(const Op *op, const char *body, size_t len) {
        _cleanup_(json_object_putp) json_object *obj = NULL;
        bool update = strcmp(op->name, "tenants.update") == 0;
        Reply reply = {};
        int r;

        r = reply_parse_body(&reply, body, len, FUZZ_JSON_DEPTH, &obj);
        if (r < 0) {
                CHECK(r == -EINVAL || r == -EIO);
                CHECK(reply.status == 400 || reply.status == 500);
                CHECK(!obj);
        } else {
                CHECK(json_object_is_type(obj, json_type_object));
                r = update ? reply_check_fields(&reply, obj, update_fields, ELEMENTSOF(update_fields))
                           : reply_check_fields(&reply, obj, create_fields, ELEMENTSOF(create_fields));
                CHECK(r == 0 || (r == -EINVAL && reply.status == 400 && reply.error_code));
                /* What a handler does next: serialise a reply holding parts of the body. */
                if (r == 0)
                        (void) json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);
        }
        reply_done(&reply);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *nl = memchr(data, '\n', size);
        size_t line_len = nl ? (size_t) (nl - (const char *) data) : size;
        const char *body = nl ? nl + 1 : NULL;
        size_t body_len = nl ? size - line_len - 1 : 0;
        _cleanup_free_ char *line = NULL;
        int64_t ids[OP_MAX_IDS] = {};
        char allow[64], small[8];
        size_t small_size = 1 + size % sizeof small;
        const Op *op = NULL;
        Reply reply = {};
        char *path;
        int r, r2;

        if (line_len > FUZZ_MAX_LINE)
                return 0;
        /* NUL-terminated like the strings libmicrohttpd hands over; an embedded NUL ends them. */
        line = strndup((const char *) data, line_len);
        if (!line)
                return 0;
        path = strchr(line, ' ');
        if (path)
                *path++ = '\0';
        else
                path = line + strlen(line);

        r = ops_route(line, path, &op, ids, allow, sizeof allow);
        check_route_result(r, op, line, ids);
        /* A short Allow buffer must truncate, not overflow or change the answer. */
        r2 = ops_route(line, path, &op, ids, small, small_size);
        CHECK(r2 == r);
        CHECK(memchr(small, '\0', small_size));

        if (r < 0) {
                reply_errno(&reply, r, "%s %s: %s", line, path, allow);
                CHECK(reply.status >= 400 && reply.status < 600);
                reply_done(&reply);
                return 0;
        }
        if (op->takes_body)
                fuzz_body(op, body ? body : "", body_len);
        return 0;
}
