/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for request decoding: input is "METHOD PATH\n" then the body.
 * Routes as a transport does (ops_route() once, ops_route_error() for a miss),
 * authorizes every kind of caller, and runs a routed op through ops_call() with
 * its real body fields but a checking handler instead of the module's (no
 * module, no tenant lookup: none is needed to decode), and traps when a result
 * breaks its documented contract. */
#include <errno.h>
#include <math.h>
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

static const Identity identities[] = {
        { .kind = IDENTITY_ANONYMOUS },
        { .kind = IDENTITY_ANONYMOUS, .bad_token = true },
        { .kind = IDENTITY_PEER, .uid = 1000, .gid = 1000, .pid = 1 },
        { .kind = IDENTITY_PEER, .uid = 0, .gid = 0, .pid = 1, .admin = true },
        { .kind = IDENTITY_TOKEN, .uid = 1000, .tenant_id = 1 },
};
static const Identity *const admin = &identities[3];

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

static void check_route_result(int r, const Op *op, const char *method, const OpParams *params) {
        CHECK(r == 0 || r == -ENOENT || r == -EOPNOTSUPP || r == -EINVAL);
        if (r < 0)
                return;
        CHECK(op && strcmp(op->method, method) == 0);
        for (size_t i = 0; i < count_params(op->path) && i < OP_MAX_IDS; i++)
                CHECK(params->ids[i] > 0);
        if (strstr(op->path, "{name}")) {
                size_t len = strlen(params->name);

                CHECK(len >= 1 && len <= OP_NAME_MAX);
                CHECK(strspn(params->name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == len);
        } else
                CHECK(params->name[0] == '\0');
        for (size_t i = 0; i < ELEMENTSOF(identities); i++) {
                int a = ops_authorize(op, &identities[i]);

                CHECK(a == 0 || a == -ENOKEY || a == -EPERM);
                CHECK(op->access != OP_PUBLIC || a == 0);
                CHECK(identities[i].kind != IDENTITY_ANONYMOUS || op->access == OP_PUBLIC || a == -ENOKEY);
        }
        CHECK(ops_authorize(op, admin) == 0);
}

/* Each decoded field holds what its declaration promises. */
static void check_params(const Request *req) {
        const FieldSet *b = req->op->body;

        CHECK(b && req->body && json_object_is_type(req->body, json_type_object));
        for (size_t i = 0; i < b->n; i++) {
                const Field *f = &b->fields[i];
                const Param *p = &req->params[i];
                size_t len;

                CHECK(p->set == json_object_object_get_ex(req->body, f->name, NULL));
                CHECK(!f->required || p->set);
                if (!p->set)
                        continue;
                switch (f->type) {
                case FIELD_STRING:
                        CHECK(p->s);
                        len = strlen(p->s);
                        CHECK((int64_t) len >= f->min && (f->max == 0 || (int64_t) len <= f->max));
                        break;
                case FIELD_INT:
                        CHECK(p->i >= f->min && p->i <= f->max);
                        break;
                case FIELD_DOUBLE:
                        CHECK(isfinite(p->d));
                        CHECK((f->dmin == 0 && f->dmax == 0) || (p->d >= f->dmin && p->d <= f->dmax));
                        break;
                case FIELD_ENUM:
                        CHECK(p->s && p->i >= 0 && f->words[p->i] && strcmp(f->words[p->i], p->s) == 0);
                        break;
                case FIELD_SCALAR:
                        CHECK(!p->s || strlen(p->s) == (size_t) json_object_get_string_len(p->j));
                        break;
                default:
                        break;
                }
        }
        /* Exactly one member of each "one of" group. */
        for (size_t i = 0; i < b->n; i++) {
                size_t given = 0;

                if (b->fields[i].one_of == 0)
                        continue;
                for (size_t k = 0; k < b->n; k++)
                        given += b->fields[k].one_of == b->fields[i].one_of && req->params[k].set;
                CHECK(given == 1);
        }
}

static int fuzz_handler(void *userdata, const Request *req, Reply *reply) {
        if (req->op->body)
                check_params(req);
        else
                CHECK(!req->body);
        return reply_empty(reply, 204);
}

/* ops_call() on the routed op with its own body fields and access class, but the checking
 * handler: an op about one tenant is run as one about any (no tenant to look up). */
static void fuzz_call(const Op *op, const OpParams *params, const char *body, size_t len) {
        static const Ops ops = { .json_max_depth = FUZZ_JSON_DEPTH };
        Op copy = *op;
        Reply reply = {};
        int r;

        copy.handler = fuzz_handler;
        copy.module = OP_MODULE_API;
        if (copy.access == OP_TENANT_OWN)
                copy.access = OP_TENANT;
        r = ops_call(&ops, &copy, params, admin, body, len, &reply);
        CHECK(reply_is_set(&reply));
        if (r >= 0)
                CHECK(reply.status == 204 && reply.code == REPLY_OK);
        else {
                CHECK(r == -EINVAL && reply.error == r && reply.status == 400);
                CHECK(reply.code == REPLY_BAD_REQUEST || reply.code == REPLY_INVALID_JSON ||
                      reply.code == REPLY_UNKNOWN_FIELD || reply.code == REPLY_WRONG_TYPE ||
                      reply.code == REPLY_MISSING_FIELD || reply.code == REPLY_INVALID_VALUE);
                CHECK(reply.message[0] && !reply.json);
                CHECK(op->body || (len > 0 && reply.code == REPLY_BAD_REQUEST));
        }
        /* What a transport does next: serialise the reply. */
        if (r < 0) {
                json_object *o = reply_error_to_json(&reply);

                CHECK(o);
                (void) json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
                json_object_put(o);
        }
        reply_done(&reply);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *nl = memchr(data, '\n', size);
        size_t line_len = nl ? (size_t) (nl - (const char *) data) : size;
        const char *body = nl ? nl + 1 : NULL;
        size_t body_len = nl ? size - line_len - 1 : 0;
        _cleanup_free_ char *line = NULL;
        OpParams params = {}, params2 = {};
        char small[8];
        size_t small_size = 1 + size % sizeof small;
        const Op *op = NULL, *op2 = NULL;
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

        /* As the REST transport does: the Allow list goes straight into the reply. */
        r = ops_route(line, path, &op, &params, reply.allow, sizeof reply.allow);
        check_route_result(r, op, line, &params);
        /* A short Allow buffer must truncate, not overflow or change the answer. */
        r2 = ops_route(line, path, &op2, &params2, small, small_size);
        CHECK(r2 == r);
        CHECK(memchr(small, '\0', small_size));
        CHECK(r < 0 || (op2 == op && memcmp(&params, &params2, sizeof params) == 0));

        if (r < 0) {
                CHECK(ops_route_error(r, line, path, &reply) == r);
                CHECK(reply.error == r);
                CHECK(reply.status == 400 || reply.status == 404 || reply.status == 405);
                CHECK((reply.status == 405) == (r == -EOPNOTSUPP));
                CHECK(reply.status != 405 || reply.allow[0]);
                reply_done(&reply);
                return 0;
        }
        CHECK(reply.allow[0] == '\0');
        fuzz_call(op, &params, body, body_len);
        return 0;
}
