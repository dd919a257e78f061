/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for replies: the error body shape, errno -> status mapping, body
 * parsing limits and field checks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "reply.h"

static void assert_error(const Reply *r, unsigned status, const char *code) {
        json_object *e, *c, *m;

        assert_int_equal(r->status, status);
        assert_non_null(r->json);
        /* Exactly {"error":{"code":..., "message":...}}. */
        assert_int_equal(json_object_object_length(r->json), 1);
        assert_true(json_object_object_get_ex(r->json, "error", &e));
        assert_int_equal(json_object_object_length(e), 2);
        assert_true(json_object_object_get_ex(e, "code", &c));
        assert_true(json_object_object_get_ex(e, "message", &m));
        assert_string_equal(json_object_get_string(c), code);
        assert_true(strlen(json_object_get_string(m)) > 0);
}

static void test_errno_mapping(void **state) {
        static const struct {
                int error;
                unsigned status;
                const char *code;
        } cases[] = {
                { -ENOENT, 404, "not-found" },     { -EEXIST, 409, "conflict" },
                { -EINVAL, 400, "invalid-value" }, { -ENOKEY, 401, "unauthorized" },
                { -EPERM, 403, "forbidden" },      { -EACCES, 403, "forbidden" },
                { -EOPNOTSUPP, 405, "method-not-allowed" }, { -E2BIG, 413, "payload-too-large" },
                { -EMEDIUMTYPE, 415, "unsupported-media-type" }, { -EBUSY, 503, "unavailable" },
                { -ENOSPC, 507, "insufficient-storage" }, { -EIO, 500, "internal" },
                { -ENOMEM, 500, "internal" },      { EEXIST, 409, "conflict" }, /* sign does not matter */
        };

        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                Reply r = {};

                assert_true(reply_errno(&r, cases[i].error, NULL) < 0);
                assert_error(&r, cases[i].status, cases[i].code);
                assert_string_equal(r.error_code, cases[i].code);
                reply_done(&r);
        }
}

static void test_error_replaces_body(void **state) {
        Reply r = {};

        assert_int_equal(reply_json(&r, 200, json_object_new_object()), 0);
        assert_int_equal(reply_error(&r, 409, "conflict", "name %s taken", "web"), -EINVAL);
        assert_error(&r, 409, "conflict");
        assert_int_equal(reply_error(&r, 500, "internal", "boom"), -EIO);
        assert_error(&r, 500, "internal");
        reply_done(&r);
        assert_int_equal(r.status, 0);
        assert_null(r.json);
}

static int parse(const char *body, unsigned depth, Reply *r, json_object **o) {
        *r = (Reply){};
        *o = NULL;
        return reply_parse_body(r, body, strlen(body), depth, o);
}

static void test_parse_body(void **state) {
        static const char *const bad[] = {
                "", "{", "{\"a\":}", "[]", "1", "\"s\"", "null", "{} {}", "{}x", "{\"a\":1,}", "{\"a\" 1}",
        };
        /* json-c accepts single-quoted strings and NaN even in strict mode; field
         * type checks still reject them where a string or an integer is expected. */
        json_object *o;
        Reply r;

        assert_int_equal(parse("{\"a\":1}", 16, &r, &o), 0);
        assert_int_equal(r.status, 0);
        json_object_put(o);
        assert_int_equal(parse(" {\"a\":[1,2]} \r\n", 16, &r, &o), 0);
        json_object_put(o);

        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                assert_int_equal(parse(bad[i], 16, &r, &o), -EINVAL);
                assert_null(o);
                assert_error(&r, 400, "invalid-json");
                reply_done(&r);
        }
}

static void test_parse_depth_and_nul(void **state) {
        char deep[256] = "";
        json_object *o;
        Reply r = {};

        /* {"a":{"a":...}} nested 5 deep passes at depth 5, fails at depth 4. */
        for (int i = 0; i < 5; i++)
                strcat(deep, i ? "{\"a\":" : "{\"a\":");
        strcat(deep, "1");
        for (int i = 0; i < 5; i++)
                strcat(deep, "}");
        assert_int_equal(parse(deep, 5, &r, &o), 0);
        json_object_put(o);
        assert_int_equal(parse(deep, 4, &r, &o), -EINVAL);
        assert_error(&r, 400, "invalid-json");
        reply_done(&r);

        assert_int_equal(reply_parse_body(&r, "{\"a\":\"x\0y\"}", 11, 16, &o), -EINVAL);
        assert_error(&r, 400, "invalid-json");
        reply_done(&r);
}

static const Field fields[] = {
        { "name", FIELD_STRING, true, 1, 8 },
        { "prio", FIELD_INT, false, 0, 7 },
        { "on", FIELD_BOOL, false },
};

static void check(const char *body, unsigned status, const char *code) {
        json_object *o;
        Reply r;

        assert_int_equal(parse(body, 16, &r, &o), 0);
        if (status == 0)
                assert_int_equal(reply_check_fields(&r, o, fields, 3), 0);
        else {
                assert_int_equal(reply_check_fields(&r, o, fields, 3), -EINVAL);
                assert_error(&r, status, code);
        }
        json_object_put(o);
        reply_done(&r);
}

static void test_check_fields(void **state) {
        check("{\"name\":\"a\"}", 0, NULL);
        check("{\"name\":\"abcdefgh\",\"prio\":7,\"on\":true}", 0, NULL);
        check("{\"prio\":1}", 400, "missing-field");
        check("{\"name\":\"a\",\"x\":1}", 400, "unknown-field");
        check("{\"name\":1}", 400, "wrong-type");
        check("{\"name\":null}", 400, "wrong-type");
        check("{\"name\":\"a\",\"prio\":\"1\"}", 400, "wrong-type");
        check("{\"name\":\"a\",\"prio\":1.0}", 400, "wrong-type");
        check("{\"name\":\"a\",\"on\":1}", 400, "wrong-type");
        check("{\"name\":\"a\",\"prio\":8}", 400, "invalid-value");
        check("{\"name\":\"a\",\"prio\":-1}", 400, "invalid-value");
        check("{\"name\":\"a\",\"prio\":99999999999999999999999}", 400, "invalid-value");
        check("{\"name\":\"\"}", 400, "invalid-value");
        check("{\"name\":\"abcdefghi\"}", 400, "invalid-value");
        check("{\"name\":\"a\\u0000b\"}", 400, "invalid-value");
}

static void test_time(void **state) {
        json_object *t = json_time_new(INT64_C(1795301999) * 1000000 + 123);

        assert_string_equal(json_object_get_string(t), "2026-11-21T22:59:59Z");
        json_object_put(t);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_errno_mapping),
                cmocka_unit_test(test_error_replaces_body),
                cmocka_unit_test(test_parse_body),
                cmocka_unit_test(test_parse_depth_and_nul),
                cmocka_unit_test(test_check_fields),
                cmocka_unit_test(test_time),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
