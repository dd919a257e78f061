/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the ops table and the dispatch every transport shares: routing
 * (404/405/400), access classes, the table's own consistency, and ops_call()
 * with fake module contexts: errors decided before any handler runs, the
 * tenant of an OP_TENANT_OWN op resolved (through a Tenants over a temp store)
 * before the body is decoded, what a handler gets and how its failures turn
 * into error replies. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ops.h"
#include "tenants.h"
#include "testutil.h"

static const Identity anonymous = { .kind = IDENTITY_ANONYMOUS };
static const Identity bad_token = { .kind = IDENTITY_ANONYMOUS, .bad_token = true };
static const Identity user = { .kind = IDENTITY_PEER, .uid = 1000, .gid = 1000 };
static const Identity other_user = { .kind = IDENTITY_PEER, .uid = 1001, .gid = 1001 };
static const Identity admin = { .kind = IDENTITY_PEER, .uid = 0, .admin = true };
static const Identity token = { .kind = IDENTITY_TOKEN, .uid = 1000, .tenant_id = 3 };

/* ---- routing ---- */

static const Op *route_ok(const char *method, const char *path, OpParams *params) {
        const Op *op = NULL;
        char allow[64];

        assert_int_equal(ops_route(method, path, &op, params, allow, sizeof allow), 0);
        assert_non_null(op);
        assert_string_equal(allow, "");
        return op;
}

static int route(const char *method, const char *path, char *allow, size_t allow_size) {
        const Op *op;
        OpParams p;

        return ops_route(method, path, &op, &p, allow, allow_size);
}

static void test_route_literal(void **state) {
        OpParams p;

        assert_string_equal(route_ok("GET", "/v1/health", &p)->name, "health");
        assert_string_equal(route_ok("GET", "/metrics", &p)->name, "metrics");
        assert_string_equal(route_ok("POST", "/v1/tenants", &p)->name, "tenants.create");
        assert_string_equal(route_ok("GET", "/v1/tenants", &p)->name, "tenants.list");
}

static void test_route_params(void **state) {
        OpParams p;

        assert_string_equal(route_ok("GET", "/v1/tenants/42", &p)->name, "tenants.get");
        assert_int_equal(p.ids[0], 42);
        assert_string_equal(route_ok("DELETE", "/v1/tenants/9223372036854775807", &p)->name, "tenants.delete");
        assert_true(p.ids[0] == INT64_MAX);
        assert_string_equal(route_ok("GET", "/v1/tenants/7/events", &p)->name, "tenants.events");
        assert_int_equal(p.ids[0], 7);
        assert_string_equal(p.name, "");
}

static void test_route_not_found(void **state) {
        static const char *const paths[] = {
                "/",
                "",
                "/v1",
                "/v1/",
                "/v1/health/",
                "/v1//health",
                "/v2/health",
                "/v1/tenants/",
                "/v1/tenants/1/",
                "/v1/tenants/1/events/2",
                "/v1/../v1/health",
                "health",
                "/V1/HEALTH",
        };
        char allow[64];

        for (size_t i = 0; i < ELEMENTSOF(paths); i++)
                assert_int_equal(route("GET", paths[i], allow, sizeof allow), -ENOENT);
}

static void test_route_bad_ids(void **state) {
        static const char *const paths[] = {
                "/v1/tenants/0",
                "/v1/tenants/-1",
                "/v1/tenants/+1",
                "/v1/tenants/01",
                "/v1/tenants/1a",
                "/v1/tenants/..",
                "/v1/tenants/..%2F..%2Fetc",
                "/v1/tenants/1%00",
                "/v1/tenants/ 1",
                "/v1/tenants/9223372036854775808",
                "/v1/tenants/99999999999999999999",
                "/v1/tenants/x/events",
        };
        char allow[64];

        for (size_t i = 0; i < ELEMENTSOF(paths); i++)
                assert_int_equal(route("GET", paths[i], allow, sizeof allow), -EINVAL);
}

static void test_route_method_not_allowed(void **state) {
        char allow[64];

        assert_int_equal(route("PUT", "/v1/tenants", allow, sizeof allow), -EOPNOTSUPP);
        assert_string_equal(allow, "GET, POST");
        assert_int_equal(route("POST", "/v1/tenants/5", allow, sizeof allow), -EOPNOTSUPP);
        assert_string_equal(allow, "GET, PATCH, DELETE");
        assert_int_equal(route("DELETE", "/v1/health", allow, sizeof allow), -EOPNOTSUPP);
        assert_string_equal(allow, "GET");
        /* A truncated Allow buffer stays terminated. */
        assert_int_equal(route("PUT", "/v1/tenants/5", allow, 6), -EOPNOTSUPP);
        assert_true(strlen(allow) < 6);
}

static void test_route_name_params(void **state) {
        char path[256], longest[OP_NAME_MAX + 1];
        OpParams p;

        assert_string_equal(route_ok("GET", "/v1/knobs/vm.nr_hugepages", &p)->name, "knobs.get");
        assert_string_equal(p.name, "vm.nr_hugepages");
        assert_string_equal(route_ok("PUT", "/v1/knobs/net.eth0.rx.1.rps_cpus", &p)->name, "knobs.set");
        assert_string_equal(p.name, "net.eth0.rx.1.rps_cpus");
        assert_string_equal(route_ok("DELETE", "/v1/knobs/node.0.hugepages.2048kB", &p)->name, "knobs.restore");
        assert_string_equal(p.name, "node.0.hugepages.2048kB");
        /* The literal route wins for its method; other methods see a name. */
        assert_string_equal(route_ok("POST", "/v1/knobs/restore", &p)->name, "knobs.restore_all");
        assert_string_equal(p.name, "");
        assert_string_equal(route_ok("GET", "/v1/knobs/restore", &p)->name, "knobs.get");
        assert_string_equal(p.name, "restore");
        /* Name syntax is the handler's business beyond the character set: ".." reaches it. */
        assert_string_equal(route_ok("GET", "/v1/knobs/..", &p)->name, "knobs.get");
        assert_string_equal(p.name, "..");
        /* An {id} route still reports no name. */
        assert_string_equal(route_ok("GET", "/v1/tenants/3", &p)->name, "tenants.get");
        assert_int_equal(p.ids[0], 3);
        assert_string_equal(p.name, "");

        memset(longest, 'a', OP_NAME_MAX);
        longest[OP_NAME_MAX] = '\0';
        snprintf(path, sizeof path, "/v1/knobs/%s", longest);
        route_ok("GET", path, &p);
        assert_int_equal(strlen(p.name), OP_NAME_MAX);
}

static void test_route_bad_names(void **state) {
        static const char *const paths[] = {
                "/v1/knobs/a%2Fb", "/v1/knobs/%2e%2e", "/v1/knobs/vm%00x", "/v1/knobs/ vm",
                "/v1/knobs/vm:x",  "/v1/knobs/{name}", "/v1/knobs/vm\\x",  "/v1/knobs/caf\xc3\xa9",
        };
        char path[256], toolong[OP_NAME_MAX + 2];
        char allow[64];

        for (size_t i = 0; i < ELEMENTSOF(paths); i++)
                assert_int_equal(route("GET", paths[i], allow, sizeof allow), -EINVAL);
        memset(toolong, 'a', OP_NAME_MAX + 1);
        toolong[OP_NAME_MAX + 1] = '\0';
        snprintf(path, sizeof path, "/v1/knobs/%s", toolong);
        assert_int_equal(route("GET", path, allow, sizeof allow), -EINVAL);
        /* More or fewer segments match no route at all. */
        assert_int_equal(route("GET", "/v1/knobs/a/b", allow, sizeof allow), -ENOENT);
        assert_int_equal(route("GET", "/v1/knobs/", allow, sizeof allow), -ENOENT);
        assert_int_equal(route("POST", "/v1/knobs/vm.nr_hugepages", allow, sizeof allow), -EOPNOTSUPP);
        assert_string_equal(allow, "GET, PUT, DELETE");
        assert_int_equal(route("PATCH", "/v1/knobs/restore", allow, sizeof allow), -EOPNOTSUPP);
        assert_string_equal(allow, "POST, GET, PUT, DELETE");
}

/* ---- access classes and the table ---- */

static void test_access_classes(void **state) {
        size_t n;
        const Op *ops = ops_table(&n);

        assert_true(n > 0);
        for (size_t i = 0; i < n; i++) {
                const Op *op = &ops[i];

                switch (op->access) {
                case OP_PUBLIC:
                        assert_int_equal(ops_authorize(op, &anonymous), 0);
                        assert_int_equal(ops_authorize(op, &bad_token), 0);
                        assert_int_equal(ops_authorize(op, &user), 0);
                        assert_int_equal(ops_authorize(op, &token), 0);
                        break;
                case OP_TENANT:
                case OP_TENANT_OWN: /* whose tenant it is, is ops_call()'s check (test_tenant_own) */
                        assert_int_equal(ops_authorize(op, &anonymous), -ENOKEY);
                        assert_int_equal(ops_authorize(op, &bad_token), -ENOKEY);
                        assert_int_equal(ops_authorize(op, &user), 0);
                        assert_int_equal(ops_authorize(op, &token), 0);
                        assert_int_equal(ops_authorize(op, &admin), 0);
                        break;
                case OP_PEER:
                        assert_int_equal(ops_authorize(op, &anonymous), -ENOKEY);
                        assert_int_equal(ops_authorize(op, &user), 0);
                        assert_int_equal(ops_authorize(op, &token), -EPERM);
                        assert_int_equal(ops_authorize(op, &admin), 0);
                        break;
                case OP_ADMIN:
                        assert_int_equal(ops_authorize(op, &anonymous), -ENOKEY);
                        assert_int_equal(ops_authorize(op, &user), -EPERM);
                        assert_int_equal(ops_authorize(op, &token), -EPERM);
                        assert_int_equal(ops_authorize(op, &admin), 0);
                        break;
                default:
                        fail_msg("op %s has unknown access class %d", op->name, (int) op->access);
                }
        }
}

static void check_body_fields(const Op *op) {
        const FieldSet *b = op->body;

        assert_true(b->n > 0);
        if (b->n > OP_MAX_FIELDS)
                fail_msg("op %s declares %zu body fields, OP_MAX_FIELDS is %d", op->name, b->n, OP_MAX_FIELDS);
        for (size_t k = 0; k < b->n; k++) {
                const Field *f = &b->fields[k];

                assert_non_null(f->name);
                assert_true((unsigned) f->type < _FIELD_TYPE_MAX);
                assert_true(f->type != FIELD_ENUM || f->words);
                /* Binary transports name fields by id: each op's are distinct and >= 1. */
                if (f->id < 1)
                        fail_msg("op %s field %s has no id", op->name, f->name);
                for (size_t l = 0; l < k; l++) {
                        assert_string_not_equal(f->name, b->fields[l].name);
                        assert_int_not_equal(f->id, b->fields[l].id);
                }
        }
}

static void test_table_sane(void **state) {
        size_t n;
        const Op *ops = ops_table(&n);

        for (size_t i = 0; i < n; i++) {
                const Op *found = NULL;
                char path[128], allow[64];
                OpParams p;

                /* Every row is reachable: instantiate its template with id 1 and route it. */
                snprintf(path, sizeof path, "%s", ops[i].path);
                for (char *s; (s = strstr(path, "{id}"));)
                        memmove(s + 1, s + 4, strlen(s + 4) + 1), *s = '1';
                for (char *s; (s = strstr(path, "{name}"));)
                        memmove(s + 1, s + 6, strlen(s + 6) + 1), *s = 'x';
                assert_int_equal(ops_route(ops[i].method, path, &found, &p, allow, sizeof allow), 0);
                assert_ptr_equal(found, &ops[i]);
                assert_non_null(ops[i].handler);
                assert_true((unsigned) ops[i].module < _OP_MODULE_MAX);
                /* Only mutating operations take bodies, and only PATCH/POST/PUT. */
                if (ops[i].body) {
                        assert_true(ops[i].mutating);
                        assert_true(strcmp(ops[i].method, "GET") != 0 && strcmp(ops[i].method, "DELETE") != 0);
                        check_body_fields(&ops[i]);
                }
                if (!ops[i].mutating)
                        assert_string_equal(ops[i].method, "GET");
                /* What is about one tenant is resolved and authorised before its handler runs. */
                if (strncmp(ops[i].path, "/v1/tenants/{id}", strlen("/v1/tenants/{id}")) == 0)
                        assert_int_equal(ops[i].access, OP_TENANT_OWN);
                if (ops[i].access == OP_TENANT_OWN)
                        assert_non_null(strstr(ops[i].path, "{id}"));
                for (size_t j = 0; j < i; j++)
                        assert_string_not_equal(ops[i].name, ops[j].name);
        }
}

/* ---- ops_call() with fake contexts ---- */

/* What the fake handler saw and is to do. */
typedef struct Fake {
        const char *name; /* which context it is */
        int calls;
        const void *userdata;
        Request req;       /* the last request (its pointers valid during the call only) */
        int64_t tenant_id; /* req->tenant's id, 0 none */
        char tenant_name[64];
        bool n_set;
        int64_t n;        /* the decoded body field */
        int result;       /* what the handler returns */
        bool set_reply;   /* whether it sets a 200 reply first */
        ReplyError error; /* else an error reply to set, REPLY_OK none */
} Fake;

static int fake_handler(void *userdata, const Request *req, Reply *reply) {
        Fake *f = userdata;

        f->calls++;
        f->userdata = userdata;
        f->req = *req;
        f->tenant_id = req->tenant ? req->tenant->id : 0;
        snprintf(f->tenant_name, sizeof f->tenant_name, "%s", req->tenant ? req->tenant->name : "");
        f->n_set = req->params[0].set;
        f->n = req->params[0].i;
        if (f->set_reply)
                (void) reply_json(reply, 200, json_object_new_object());
        if (f->error != REPLY_OK)
                return reply_error(reply, f->error, "the fake says no");
        return f->result;
}

static const Field fake_fields[] = {
        { "n", FIELD_INT, true, 0, 9, .id = 1 },
};
static const FieldSet fake_body = { fake_fields, ELEMENTSOF(fake_fields) };

static const Op fake_own = { "fake.own",    0,    "POST",          "/v1/tenants/{id}/fake",
                             OP_TENANT_OWN, true, OP_MODULE_POOLS, fake_handler,
                             &fake_body };
static const Op fake_get = {
        "fake.get", 0, "GET", "/v1/fake/{name}", OP_TENANT, false, OP_MODULE_JOURNAL, fake_handler
};
static const Op fake_admin = { "fake.admin", 0,         "POST", "/v1/fake", OP_ADMIN, true, OP_MODULE_TIER,
                               fake_handler, &fake_body };
static const Op fake_peer = { "fake.peer",  0,         "POST", "/v1/fake", OP_PEER, true, OP_MODULE_TENANTS,
                              fake_handler, &fake_body };

/* Runs op on ids/name as who with body (NULL: none); returns the status. */
static unsigned call(const Ops *ops, const Op *op, int64_t id, const char *name, const Identity *who, const char *body,
                     Reply *r) {
        OpParams p = { .ids = { id } };
        int k;

        if (name)
                snprintf(p.name, sizeof p.name, "%s", name);
        *r = (Reply) {};
        k = ops_call(ops, op, &p, who, body, body ? strlen(body) : 0, r);
        /* Always a reply; the result is the errno of an error reply, >= 0 only for a success. */
        assert_true(reply_is_set(r));
        if (k < 0) {
                assert_int_equal(k, r->error);
                assert_int_not_equal(r->code, REPLY_OK);
        } else
                assert_int_equal(r->code, REPLY_OK);
        return r->status;
}

/* What a transport does with a request: route once, then report the route's error or call. */
static unsigned dispatch(const Ops *ops, const char *method, const char *path, const Identity *who, const char *body,
                         Reply *r) {
        const Op *op = NULL;
        OpParams p;
        int k;

        *r = (Reply) {};
        k = ops_route(method, path, &op, &p, r->allow, sizeof r->allow);
        if (k < 0) {
                assert_int_equal(ops_route_error(k, method, path, r), k);
                assert_int_equal(r->error, k);
                assert_true(reply_is_set(r));
                return r->status;
        }
        (void) ops_call(ops, op, &p, who, body, body ? strlen(body) : 0, r);
        assert_true(reply_is_set(r));
        return r->status;
}

static void assert_code(const Reply *r, unsigned status, ReplyError code) {
        if (r->status != status || r->code != code)
                fail_msg("status %u %s (%s), expected %u %s", r->status, reply_error_to_string(r->code) ?: "ok",
                         r->message, status, reply_error_to_string(code) ?: "ok");
}

/* Errors decided before any handler runs: the real table, no module context at all. */
static void test_dispatch_errors(void **state) {
        const Ops ops = { .json_max_depth = 16 };
        Reply r;

        assert_int_equal(dispatch(&ops, "GET", "/nope", &user, NULL, &r), 404);
        assert_code(&r, 404, REPLY_NOT_FOUND);
        reply_done(&r);

        assert_int_equal(dispatch(&ops, "PUT", "/v1/health", &user, NULL, &r), 405);
        assert_code(&r, 405, REPLY_METHOD_NOT_ALLOWED);
        assert_string_equal(r.allow, "GET");
        assert_non_null(strstr(r.message, "GET"));
        reply_done(&r);

        assert_int_equal(dispatch(&ops, "GET", "/v1/tenants", &anonymous, NULL, &r), 401);
        assert_code(&r, 401, REPLY_UNAUTHORIZED);
        reply_done(&r);
        assert_int_equal(dispatch(&ops, "GET", "/v1/tenants", &bad_token, NULL, &r), 401);
        assert_non_null(strstr(r.message, "not valid"));
        reply_done(&r);

        assert_int_equal(dispatch(&ops, "GET", "/v1/events", &user, NULL, &r), 403);
        assert_code(&r, 403, REPLY_FORBIDDEN);
        reply_done(&r);

        assert_int_equal(dispatch(&ops, "POST", "/v1/tenants", &user, "{\"name\":", &r), 400);
        assert_code(&r, 400, REPLY_INVALID_JSON);
        reply_done(&r);
        assert_int_equal(dispatch(&ops, "POST", "/v1/tenants", &user, NULL, &r), 400);
        assert_code(&r, 400, REPLY_INVALID_JSON);
        reply_done(&r);
        assert_int_equal(dispatch(&ops, "POST", "/v1/tenants", &user, "{\"name\":\"a\",\"x\":1}", &r), 400);
        assert_code(&r, 400, REPLY_UNKNOWN_FIELD);
        reply_done(&r);
        /* Tenants are registered over the unix socket: a token is refused before the body is read. */
        assert_int_equal(dispatch(&ops, "POST", "/v1/tenants", &token, "{\"name\":\"a\"}", &r), 403);
        assert_code(&r, 403, REPLY_FORBIDDEN);
        assert_non_null(strstr(r.message, "unix socket"));
        reply_done(&r);
        assert_int_equal(dispatch(&ops, "POST", "/v1/tenants", &anonymous, "{\"name\":\"a\"}", &r), 401);
        reply_done(&r);

        assert_int_equal(dispatch(&ops, "GET", "/v1/tenants/abc", &user, NULL, &r), 400);
        assert_code(&r, 400, REPLY_BAD_REQUEST);
        reply_done(&r);

        assert_int_equal(dispatch(&ops, "GET", "/v1/health", &user, "{}", &r), 400);
        assert_code(&r, 400, REPLY_BAD_REQUEST);
        reply_done(&r);

        /* Knob changes are for administrators; a bad name is refused before any handler. */
        assert_int_equal(dispatch(&ops, "PUT", "/v1/knobs/vm.nr_hugepages", &user, "{\"value\":1}", &r), 403);
        reply_done(&r);
        assert_int_equal(dispatch(&ops, "DELETE", "/v1/knobs/vm.nr_hugepages", &token, NULL, &r), 403);
        reply_done(&r);
        assert_int_equal(dispatch(&ops, "POST", "/v1/knobs/restore", &anonymous, NULL, &r), 401);
        reply_done(&r);
        assert_int_equal(dispatch(&ops, "PUT", "/v1/knobs/vm%2Fnr_hugepages", &admin, "{\"value\":1}", &r), 400);
        assert_code(&r, 400, REPLY_BAD_REQUEST);
        reply_done(&r);
        assert_int_equal(dispatch(&ops, "GET", "/v1/knobs/a%2F..%2Fb", &user, NULL, &r), 400);
        reply_done(&r);
        assert_int_equal(dispatch(&ops, "PUT", "/v1/knobs/vm.nr_hugepages", &admin, "{\"value\":1.5}", &r), 400);
        assert_code(&r, 400, REPLY_WRONG_TYPE);
        reply_done(&r);

        /* Handlers of the API itself need no module: health, version; status asks the core. */
        assert_int_equal(dispatch(&ops, "GET", "/v1/health", &anonymous, NULL, &r), 200);
        assert_string_equal(json_object_get_string(json_object_object_get(r.json, "status")), "ok");
        reply_done(&r);
        assert_int_equal(dispatch(&ops, "GET", "/v1/version", &anonymous, NULL, &r), 200);
        assert_string_equal(json_object_get_string(json_object_object_get(r.json, "api")), "v1");
        reply_done(&r);
        assert_int_equal(dispatch(&ops, "GET", "/v1/status", &user, NULL, &r), 503);
        assert_code(&r, 503, REPLY_UNAVAILABLE);
        reply_done(&r);
}

static void test_status_is_the_cores(void **state) {
        Fake core = { .name = "core", .set_reply = true };
        Ops ops = { .status = fake_handler, .json_max_depth = 16 };
        Reply r;

        ops.contexts[OP_MODULE_CORE] = &core;
        assert_int_equal(dispatch(&ops, "GET", "/v1/status", &token, NULL, &r), 200);
        assert_int_equal(core.calls, 1);
        assert_ptr_equal(core.req.who, &token);
        reply_done(&r);
        assert_int_equal(dispatch(&ops, "GET", "/v1/status", &anonymous, NULL, &r), 401);
        assert_int_equal(core.calls, 1);
        reply_done(&r);
}

/* The handler runs with its module's context, the path parameters and the decoded body. */
static void test_call_context_and_params(void **state) {
        Fake journal = { .name = "journal", .set_reply = true }, tier = { .name = "tier", .set_reply = true },
             tenants = { .name = "tenants", .set_reply = true };
        Ops ops = { .json_max_depth = 16 };
        Reply r;

        ops.contexts[OP_MODULE_JOURNAL] = &journal;
        ops.contexts[OP_MODULE_TIER] = &tier;
        ops.contexts[OP_MODULE_TENANTS] = &tenants;

        assert_int_equal(call(&ops, &fake_get, 0, "vm.x", &token, NULL, &r), 200);
        reply_done(&r);
        assert_int_equal(journal.calls, 1);
        assert_int_equal(tier.calls, 0);
        assert_ptr_equal(journal.userdata, &journal);
        assert_string_equal(journal.req.name, "vm.x");
        assert_ptr_equal(journal.req.op, &fake_get);
        assert_ptr_equal(journal.req.who, &token);
        assert_null(journal.req.body);
        assert_false(journal.n_set);
        assert_int_equal(journal.tenant_id, 0);
        /* No {name}: NULL, not "". */
        assert_int_equal(call(&ops, &fake_admin, 5, NULL, &admin, "{\"n\": 7}", &r), 200);
        reply_done(&r);
        assert_int_equal(tier.calls, 1);
        assert_null(tier.req.name);
        assert_int_equal(tier.req.ids[0], 5);
        assert_true(tier.n_set);
        assert_int_equal(tier.n, 7);

        /* Decoding fails: no handler. */
        assert_int_equal(call(&ops, &fake_admin, 0, NULL, &admin, "{\"n\": 10}", &r), 400);
        assert_code(&r, 400, REPLY_INVALID_VALUE);
        reply_done(&r);
        assert_int_equal(call(&ops, &fake_admin, 0, NULL, &admin, "{}", &r), 400);
        assert_code(&r, 400, REPLY_MISSING_FIELD);
        reply_done(&r);
        assert_int_equal(call(&ops, &fake_admin, 0, NULL, &admin, "{\"n\": 1} x", &r), 400);
        assert_code(&r, 400, REPLY_INVALID_JSON);
        reply_done(&r);
        assert_int_equal(call(&ops, &fake_get, 0, "x", &admin, "{}", &r), 400);
        assert_code(&r, 400, REPLY_BAD_REQUEST);
        reply_done(&r);
        assert_int_equal(tier.calls, 1);
        assert_int_equal(journal.calls, 1);

        /* Nested deeper than [api] json_max_depth: refused by the parser. */
        ops.json_max_depth = 1;
        assert_int_equal(call(&ops, &fake_admin, 0, NULL, &admin, "{\"n\": {\"a\": 1}}", &r), 400);
        assert_code(&r, 400, REPLY_INVALID_JSON);
        reply_done(&r);
        ops.json_max_depth = 16;

        /* Access is checked before the body: a token never reaches a peer-only handler. */
        assert_int_equal(call(&ops, &fake_peer, 0, NULL, &token, "not json", &r), 403);
        assert_non_null(strstr(r.message, "unix socket"));
        reply_done(&r);
        assert_int_equal(call(&ops, &fake_admin, 0, NULL, &user, "not json", &r), 403);
        assert_non_null(strstr(r.message, "administrator"));
        reply_done(&r);
        assert_int_equal(call(&ops, &fake_peer, 0, NULL, &user, "{\"n\": 0}", &r), 200);
        reply_done(&r);
        assert_int_equal(tenants.calls, 1);
        assert_int_equal(tier.calls, 1);
}

/* A handler's failure becomes an error reply; one it set itself is kept. */
static void test_call_failures(void **state) {
        Fake f = { .name = "journal" };
        Ops ops = { .json_max_depth = 16 };
        Reply r;
        int k;

        ops.contexts[OP_MODULE_JOURNAL] = &f;

        /* An errno without a reply: the code follows the errno, which is kept. */
        f.result = -EEXIST;
        assert_int_equal(call(&ops, &fake_get, 0, "x", &user, NULL, &r), 409);
        assert_code(&r, 409, REPLY_CONFLICT);
        assert_int_equal(r.error, -EEXIST);
        reply_done(&r);
        f.result = -ENOMEM;
        assert_int_equal(call(&ops, &fake_get, 0, "x", &user, NULL, &r), 500);
        assert_code(&r, 500, REPLY_INTERNAL);
        assert_int_equal(r.error, -ENOMEM);
        reply_done(&r);

        /* A success reply and then a failure: the failure wins. */
        f.set_reply = true;
        f.result = -EBUSY;
        assert_int_equal(call(&ops, &fake_get, 0, "x", &user, NULL, &r), 503);
        assert_code(&r, 503, REPLY_UNAVAILABLE);
        assert_null(r.json);
        reply_done(&r);

        /* The handler's own error reply stays as it set it. */
        f.set_reply = false;
        f.error = REPLY_INSUFFICIENT_STORAGE;
        assert_int_equal(call(&ops, &fake_get, 0, "x", &user, NULL, &r), 507);
        assert_code(&r, 507, REPLY_INSUFFICIENT_STORAGE);
        assert_string_equal(r.message, "the fake says no");
        reply_done(&r);

        /* Success without a reply is the handler's bug: internal. */
        f.error = REPLY_OK;
        f.result = 0;
        assert_int_equal(call(&ops, &fake_get, 0, "x", &user, NULL, &r), 500);
        assert_code(&r, 500, REPLY_INTERNAL);
        reply_done(&r);

        /* And a success is returned as one. */
        f.set_reply = true;
        r = (Reply) {};
        k = ops_call(&ops, &fake_get, &(OpParams) { .name = "x" }, &user, NULL, 0, &r);
        assert_int_equal(k, 0);
        assert_code(&r, 200, REPLY_OK);
        reply_done(&r);
}

/* ---- OP_TENANT_OWN: the tenant is resolved before the body ---- */

typedef struct Subject {
        Store *store;
        Tenants *tenants;
        Fake pools;
        Ops ops;
        int64_t web, db; /* web belongs to uid 1000, db to uid 1001 */
} Subject;

static int setup_tenants(void **state) {
        return testutil_tree_setup("ops", "host-bare", true);
}

static int64_t tenant_add(Store *store, const char *name, uid_t uid) {
        char hash[TOKEN_HASH_STRLEN + 1];
        Tenant t = { .name = (char *) name, .priority = 4, .workload_class = (char *) "batch", .uid = uid };
        int64_t id = 0;

        memset(hash, 'a', TOKEN_HASH_STRLEN);
        hash[TOKEN_HASH_STRLEN] = '\0';
        hash[0] = name[0];
        assert_int_equal(store_tenant_add(store, &t, hash, &id), 0);
        return id;
}

static Subject *subject_new(void) {
        Subject *s = calloc(1, sizeof *s);

        assert_non_null(s);
        s->store = testutil_store_open();
        assert_int_equal(tenants_new(s->store, testutil_tree.root, NULL, &(TenantsConf) { .max_tenants = 4096 },
                                     &s->tenants),
                         0);
        s->pools = (Fake) { .name = "pools", .set_reply = true };
        s->ops = (Ops) { .tenants = s->tenants, .json_max_depth = 16 };
        s->ops.contexts[OP_MODULE_POOLS] = &s->pools;
        s->web = tenant_add(s->store, "web", 1000);
        s->db = tenant_add(s->store, "db", 1001);
        return s;
}

static void subject_free(Subject *s) {
        tenants_free(s->tenants);
        store_free(s->store);
        free(s);
}

static void test_tenant_own(void **state) {
        Subject *s = subject_new();
        const Identity web_token = { .kind = IDENTITY_TOKEN, .uid = 1000, .tenant_id = s->web };
        Reply r;

        /* The owner, an administrator and the tenant's own token reach the handler with the tenant. */
        assert_int_equal(call(&s->ops, &fake_own, s->web, NULL, &user, "{\"n\": 1}", &r), 200);
        reply_done(&r);
        assert_int_equal(s->pools.calls, 1);
        assert_int_equal(s->pools.tenant_id, s->web);
        assert_string_equal(s->pools.tenant_name, "web");
        assert_int_equal(call(&s->ops, &fake_own, s->db, NULL, &admin, "{\"n\": 2}", &r), 200);
        reply_done(&r);
        assert_int_equal(s->pools.tenant_id, s->db);
        assert_string_equal(s->pools.tenant_name, "db");
        assert_int_equal(call(&s->ops, &fake_own, s->web, NULL, &web_token, "{\"n\": 3}", &r), 200);
        reply_done(&r);
        assert_int_equal(s->pools.calls, 3);
        assert_int_equal(s->pools.n, 3);

        /* Another uid's tenant, another tenant's token, or no tenant at all: 404, nothing runs. */
        assert_int_equal(call(&s->ops, &fake_own, s->db, NULL, &user, "{\"n\": 1}", &r), 404);
        assert_code(&r, 404, REPLY_NOT_FOUND);
        reply_done(&r);
        assert_int_equal(call(&s->ops, &fake_own, s->web, NULL, &other_user, "{\"n\": 1}", &r), 404);
        reply_done(&r);
        assert_int_equal(call(&s->ops, &fake_own, s->db, NULL, &web_token, "{\"n\": 1}", &r), 404);
        reply_done(&r);
        assert_int_equal(call(&s->ops, &fake_own, s->db + 7, NULL, &admin, "{\"n\": 1}", &r), 404);
        reply_done(&r);
        assert_int_equal(s->pools.calls, 3);

        /* Who may see the tenant is decided before the body: a bad body for a tenant the caller cannot
         * see is 404, for one it can see 400. Authentication comes first of all. */
        assert_int_equal(call(&s->ops, &fake_own, s->db, NULL, &user, "{\"n\":", &r), 404);
        reply_done(&r);
        assert_int_equal(call(&s->ops, &fake_own, s->db, NULL, &user, "{\"x\": 1}", &r), 404);
        reply_done(&r);
        assert_int_equal(call(&s->ops, &fake_own, s->web, NULL, &user, "{\"n\":", &r), 400);
        assert_code(&r, 400, REPLY_INVALID_JSON);
        reply_done(&r);
        assert_int_equal(call(&s->ops, &fake_own, s->web, NULL, &user, "{\"x\": 1}", &r), 400);
        assert_code(&r, 400, REPLY_UNKNOWN_FIELD);
        reply_done(&r);
        assert_int_equal(call(&s->ops, &fake_own, s->web, NULL, &anonymous, "{\"n\": 1}", &r), 401);
        reply_done(&r);
        assert_int_equal(s->pools.calls, 3);

        /* A tenant removed through the tenants module is gone for its token too (its cached row
         * went with the generation the removal bumped). */
        {
                Tenant t = {};
                Reply rr = {};

                assert_int_equal(tenants_get_visible(s->tenants, &admin, s->web, &t), 0);
                assert_int_equal(tenants_op_delete(s->tenants, &(Request) { .who = &admin, .tenant = &t }, &rr), 0);
                assert_int_equal(rr.status, 204);
                reply_done(&rr);
                tenant_done(&t);
        }
        assert_int_equal(call(&s->ops, &fake_own, s->web, NULL, &web_token, "{\"n\": 1}", &r), 404);
        reply_done(&r);
        assert_int_equal(s->pools.calls, 3);
        subject_free(s);
}

/* The real table's tenant routes go through the same resolution before any module is asked. */
static void test_tenant_routes(void **state) {
        Subject *s = subject_new();
        char path[64];
        Reply r;

        /* No module context at all: a handler running would crash the test. */
        s->ops.contexts[OP_MODULE_POOLS] = NULL;
        snprintf(path, sizeof path, "/v1/tenants/%lld/maio", (long long) s->db);
        assert_int_equal(dispatch(&s->ops, "POST", path, &user, "{\"bytes\": 1, \"node\": 0}", &r), 404);
        reply_done(&r);
        assert_int_equal(dispatch(&s->ops, "POST", path, &user, "{\"bytes\": \"x\"}", &r), 404);
        reply_done(&r);
        assert_int_equal(dispatch(&s->ops, "DELETE", path, &user, NULL, &r), 404);
        reply_done(&r);
        snprintf(path, sizeof path, "/v1/tenants/%lld", (long long) s->db);
        assert_int_equal(dispatch(&s->ops, "PATCH", path, &user, "{\"name\":", &r), 404);
        reply_done(&r);
        snprintf(path, sizeof path, "/v1/tenants/%lld/feedback", (long long) s->db);
        assert_int_equal(dispatch(&s->ops, "POST", path, &other_user, "{}", &r), 400); /* db is uid 1001's */
        assert_code(&r, 400, REPLY_MISSING_FIELD);
        reply_done(&r);
        subject_free(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_route_literal),
                cmocka_unit_test(test_route_params),
                cmocka_unit_test(test_route_not_found),
                cmocka_unit_test(test_route_bad_ids),
                cmocka_unit_test(test_route_method_not_allowed),
                cmocka_unit_test(test_route_name_params),
                cmocka_unit_test(test_route_bad_names),
                cmocka_unit_test(test_access_classes),
                cmocka_unit_test(test_table_sane),
                cmocka_unit_test(test_dispatch_errors),
                cmocka_unit_test(test_status_is_the_cores),
                cmocka_unit_test(test_call_context_and_params),
                cmocka_unit_test(test_call_failures),
                cmocka_unit_test_setup_teardown(test_tenant_own, setup_tenants, testutil_tree_teardown),
                cmocka_unit_test_setup_teardown(test_tenant_routes, setup_tenants, testutil_tree_teardown),
        };

        if (testutil_fixtures_init() < 0)
                return 1;
        return cmocka_run_group_tests(tests, NULL, NULL);
}
