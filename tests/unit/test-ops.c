/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the ops table: routing (404/405/400), access classes, and
 * dispatch-level checks that need no manager (auth and body errors). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ops.h"

static const Identity anonymous = { .kind = IDENTITY_ANONYMOUS };
static const Identity user = { .kind = IDENTITY_PEER, .uid = 1000, .gid = 1000 };
static const Identity admin = { .kind = IDENTITY_PEER, .uid = 0, .admin = true };
static const Identity token = { .kind = IDENTITY_TOKEN, .uid = 1000, .tenant_id = 3 };

static const Op *route_ok(const char *method, const char *path, int64_t ids[OP_MAX_IDS]) {
        const Op *op = NULL;
        char allow[64];

        assert_int_equal(ops_route(method, path, &op, ids, allow, sizeof allow), 0);
        assert_non_null(op);
        return op;
}

static void test_route_literal(void **state) {
        int64_t ids[OP_MAX_IDS];

        assert_string_equal(route_ok("GET", "/v1/health", ids)->name, "health");
        assert_string_equal(route_ok("GET", "/metrics", ids)->name, "metrics");
        assert_string_equal(route_ok("POST", "/v1/tenants", ids)->name, "tenants.create");
        assert_string_equal(route_ok("GET", "/v1/tenants", ids)->name, "tenants.list");
}

static void test_route_params(void **state) {
        int64_t ids[OP_MAX_IDS];

        assert_string_equal(route_ok("GET", "/v1/tenants/42", ids)->name, "tenants.get");
        assert_int_equal(ids[0], 42);
        assert_string_equal(route_ok("DELETE", "/v1/tenants/9223372036854775807", ids)->name, "tenants.delete");
        assert_true(ids[0] == INT64_MAX);
        assert_string_equal(route_ok("GET", "/v1/tenants/7/events", ids)->name, "tenants.events");
        assert_int_equal(ids[0], 7);
}

static void test_route_not_found(void **state) {
        static const char *const paths[] = {
                "/", "", "/v1", "/v1/", "/v1/health/", "/v1//health", "/v2/health", "/v1/tenants/", "/v1/tenants/1/",
                "/v1/tenants/1/events/2", "/v1/../v1/health", "health", "/V1/HEALTH",
        };
        int64_t ids[OP_MAX_IDS];
        const Op *op;
        char allow[64];

        for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
                assert_int_equal(ops_route("GET", paths[i], &op, ids, allow, sizeof allow), -ENOENT);
}

static void test_route_bad_ids(void **state) {
        static const char *const paths[] = {
                "/v1/tenants/0", "/v1/tenants/-1", "/v1/tenants/+1", "/v1/tenants/01", "/v1/tenants/1a",
                "/v1/tenants/..", "/v1/tenants/..%2F..%2Fetc", "/v1/tenants/1%00", "/v1/tenants/ 1",
                "/v1/tenants/9223372036854775808", "/v1/tenants/99999999999999999999", "/v1/tenants/x/events",
        };
        int64_t ids[OP_MAX_IDS];
        const Op *op;
        char allow[64];

        for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
                assert_int_equal(ops_route("GET", paths[i], &op, ids, allow, sizeof allow), -EINVAL);
}

static void test_route_method_not_allowed(void **state) {
        int64_t ids[OP_MAX_IDS];
        const Op *op;
        char allow[64];

        assert_int_equal(ops_route("PUT", "/v1/tenants", &op, ids, allow, sizeof allow), -EOPNOTSUPP);
        assert_string_equal(allow, "GET, POST");
        assert_int_equal(ops_route("POST", "/v1/tenants/5", &op, ids, allow, sizeof allow), -EOPNOTSUPP);
        assert_string_equal(allow, "GET, PATCH, DELETE");
        assert_int_equal(ops_route("DELETE", "/v1/health", &op, ids, allow, sizeof allow), -EOPNOTSUPP);
        assert_string_equal(allow, "GET");
        /* A truncated Allow buffer stays terminated. */
        assert_int_equal(ops_route("PUT", "/v1/tenants/5", &op, ids, allow, 6), -EOPNOTSUPP);
        assert_true(strlen(allow) < 6);
}

static const Op *route_name_ok(const char *method, const char *path, OpParams *params) {
        const Op *op = NULL;
        char allow[64];

        assert_int_equal(ops_route_params(method, path, &op, params, allow, sizeof allow), 0);
        assert_non_null(op);
        return op;
}

static void test_route_name_params(void **state) {
        char path[256], longest[OP_NAME_MAX + 1];
        OpParams p;

        assert_string_equal(route_name_ok("GET", "/v1/knobs/vm.nr_hugepages", &p)->name, "knobs.get");
        assert_string_equal(p.name, "vm.nr_hugepages");
        assert_string_equal(route_name_ok("PUT", "/v1/knobs/net.eth0.rx.1.rps_cpus", &p)->name, "knobs.set");
        assert_string_equal(p.name, "net.eth0.rx.1.rps_cpus");
        assert_string_equal(route_name_ok("DELETE", "/v1/knobs/node.0.hugepages.2048kB", &p)->name, "knobs.restore");
        assert_string_equal(p.name, "node.0.hugepages.2048kB");
        /* The literal route wins for its method; other methods see a name. */
        assert_string_equal(route_name_ok("POST", "/v1/knobs/restore", &p)->name, "knobs.restore_all");
        assert_string_equal(p.name, "");
        assert_string_equal(route_name_ok("GET", "/v1/knobs/restore", &p)->name, "knobs.get");
        assert_string_equal(p.name, "restore");
        /* Name syntax is the handler's business beyond the character set: ".." reaches it. */
        assert_string_equal(route_name_ok("GET", "/v1/knobs/..", &p)->name, "knobs.get");
        assert_string_equal(p.name, "..");
        /* An {id} route still reports no name. */
        assert_string_equal(route_name_ok("GET", "/v1/tenants/3", &p)->name, "tenants.get");
        assert_int_equal(p.ids[0], 3);
        assert_string_equal(p.name, "");

        memset(longest, 'a', OP_NAME_MAX);
        longest[OP_NAME_MAX] = '\0';
        snprintf(path, sizeof path, "/v1/knobs/%s", longest);
        route_name_ok("GET", path, &p);
        assert_int_equal(strlen(p.name), OP_NAME_MAX);
}

static void test_route_bad_names(void **state) {
        static const char *const paths[] = {
                "/v1/knobs/a%2Fb", "/v1/knobs/%2e%2e", "/v1/knobs/vm%00x", "/v1/knobs/ vm", "/v1/knobs/vm:x",
                "/v1/knobs/{name}", "/v1/knobs/vm\\x", "/v1/knobs/caf\xc3\xa9",
        };
        char path[256], toolong[OP_NAME_MAX + 2];
        const Op *op;
        OpParams p;
        char allow[64];

        for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
                assert_int_equal(ops_route_params("GET", paths[i], &op, &p, allow, sizeof allow), -EINVAL);
        memset(toolong, 'a', OP_NAME_MAX + 1);
        toolong[OP_NAME_MAX + 1] = '\0';
        snprintf(path, sizeof path, "/v1/knobs/%s", toolong);
        assert_int_equal(ops_route_params("GET", path, &op, &p, allow, sizeof allow), -EINVAL);
        /* More or fewer segments match no route at all. */
        assert_int_equal(ops_route_params("GET", "/v1/knobs/a/b", &op, &p, allow, sizeof allow), -ENOENT);
        assert_int_equal(ops_route_params("GET", "/v1/knobs/", &op, &p, allow, sizeof allow), -ENOENT);
        assert_int_equal(ops_route_params("POST", "/v1/knobs/vm.nr_hugepages", &op, &p, allow, sizeof allow),
                         -EOPNOTSUPP);
        assert_string_equal(allow, "GET, PUT, DELETE");
        assert_int_equal(ops_route_params("PATCH", "/v1/knobs/restore", &op, &p, allow, sizeof allow), -EOPNOTSUPP);
        assert_string_equal(allow, "POST, GET, PUT, DELETE");
}

static void test_access_classes(void **state) {
        size_t n;
        const Op *ops = ops_table(&n);

        assert_true(n > 0);
        for (size_t i = 0; i < n; i++) {
                const Op *op = &ops[i];

                switch (op->access) {
                case OP_PUBLIC:
                        assert_int_equal(ops_authorize(op, &anonymous), 0);
                        assert_int_equal(ops_authorize(op, &user), 0);
                        break;
                case OP_TENANT:
                        assert_int_equal(ops_authorize(op, &anonymous), -ENOKEY);
                        assert_int_equal(ops_authorize(op, &user), 0);
                        assert_int_equal(ops_authorize(op, &token), 0);
                        assert_int_equal(ops_authorize(op, &admin), 0);
                        break;
                case OP_ADMIN:
                        assert_int_equal(ops_authorize(op, &anonymous), -ENOKEY);
                        assert_int_equal(ops_authorize(op, &user), -EPERM);
                        assert_int_equal(ops_authorize(op, &token), -EPERM);
                        assert_int_equal(ops_authorize(op, &admin), 0);
                        break;
                }
        }
}

static void test_table_sane(void **state) {
        size_t n;
        const Op *ops = ops_table(&n);

        for (size_t i = 0; i < n; i++) {
                int64_t ids[OP_MAX_IDS];
                const Op *found = NULL;
                char path[128], allow[64];

                /* Every row is reachable: instantiate its template with id 1 and route it. */
                snprintf(path, sizeof path, "%s", ops[i].path);
                for (char *p; (p = strstr(path, "{id}"));)
                        memmove(p + 1, p + 4, strlen(p + 4) + 1), *p = '1';
                for (char *p; (p = strstr(path, "{name}"));)
                        memmove(p + 1, p + 6, strlen(p + 6) + 1), *p = 'x';
                assert_int_equal(ops_route(ops[i].method, path, &found, ids, allow, sizeof allow), 0);
                assert_ptr_equal(found, &ops[i]);
                assert_non_null(ops[i].handler);
                /* Only mutating operations take bodies, and only PATCH/POST/PUT. */
                if (ops[i].takes_body)
                        assert_true(ops[i].mutating);
                if (!ops[i].mutating)
                        assert_string_equal(ops[i].method, "GET");
                for (size_t j = 0; j < i; j++)
                        assert_string_not_equal(ops[i].name, ops[j].name);
        }
}

/* Errors decided before any handler runs need no manager. */
static void dispatch(const char *method, const char *path, const Identity *who, const char *body, Reply *r) {
        *r = (Reply){};
        ops_dispatch(NULL, method, path, who, body, body ? strlen(body) : 0, 16, r);
}

static const char *error_code(const Reply *r) {
        json_object *e, *c;

        assert_true(json_object_object_get_ex(r->json, "error", &e));
        assert_true(json_object_object_get_ex(e, "code", &c));
        return json_object_get_string(c);
}

static void test_dispatch_errors(void **state) {
        Reply r;

        dispatch("GET", "/nope", &user, NULL, &r);
        assert_int_equal(r.status, 404);
        assert_string_equal(error_code(&r), "not-found");
        reply_done(&r);

        dispatch("PUT", "/v1/health", &user, NULL, &r);
        assert_int_equal(r.status, 405);
        assert_string_equal(r.allow, "GET");
        reply_done(&r);

        dispatch("GET", "/v1/tenants", &anonymous, NULL, &r);
        assert_int_equal(r.status, 401);
        assert_string_equal(error_code(&r), "unauthorized");
        reply_done(&r);

        dispatch("GET", "/v1/events", &user, NULL, &r);
        assert_int_equal(r.status, 403);
        assert_string_equal(error_code(&r), "forbidden");
        reply_done(&r);

        dispatch("POST", "/v1/tenants", &user, "{\"name\":", &r);
        assert_int_equal(r.status, 400);
        assert_string_equal(error_code(&r), "invalid-json");
        reply_done(&r);

        dispatch("GET", "/v1/tenants/abc", &user, NULL, &r);
        assert_int_equal(r.status, 400);
        reply_done(&r);

        dispatch("GET", "/v1/health", &user, "{}", &r);
        assert_int_equal(r.status, 400);
        assert_string_equal(error_code(&r), "bad-request");
        reply_done(&r);

        /* Knob changes are for administrators; a bad name is refused before any handler. */
        dispatch("PUT", "/v1/knobs/vm.nr_hugepages", &user, "{\"value\":1}", &r);
        assert_int_equal(r.status, 403);
        reply_done(&r);
        dispatch("DELETE", "/v1/knobs/vm.nr_hugepages", &token, NULL, &r);
        assert_int_equal(r.status, 403);
        reply_done(&r);
        dispatch("POST", "/v1/knobs/restore", &anonymous, NULL, &r);
        assert_int_equal(r.status, 401);
        reply_done(&r);
        dispatch("PUT", "/v1/knobs/vm%2Fnr_hugepages", &admin, "{\"value\":1}", &r);
        assert_int_equal(r.status, 400);
        assert_string_equal(error_code(&r), "bad-request");
        reply_done(&r);
        dispatch("GET", "/v1/knobs/a%2F..%2Fb", &user, NULL, &r);
        assert_int_equal(r.status, 400);
        reply_done(&r);

        /* Public handlers need no manager either. */
        dispatch("GET", "/v1/health", &anonymous, NULL, &r);
        assert_int_equal(r.status, 200);
        reply_done(&r);
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
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
