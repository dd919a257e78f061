/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for replies: error codes (word, status, errno), the error body
 * shape, errno -> code mapping, body parsing limits and the field decoder. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "reply.h"
#include "request.h"

/* r is an error reply with status and code (its word), a message, no body of its own, and the
 * REST body the transport makes of it is exactly {"error":{"code":..., "message":...}}. */
static void assert_error(const Reply *r, unsigned status, const char *code) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        json_object *e, *c, *m;

        assert_int_equal(r->status, status);
        assert_string_equal(reply_error_to_string(r->code), code);
        assert_true(r->error < 0);
        assert_true(strlen(r->message) > 0);
        assert_null(r->json);
        assert_null(r->text);

        o = reply_error_to_json(r);
        assert_non_null(o);
        assert_int_equal(json_object_object_length(o), 1);
        assert_true(json_object_object_get_ex(o, "error", &e));
        assert_int_equal(json_object_object_length(e), 2);
        assert_true(json_object_object_get_ex(e, "code", &c));
        assert_true(json_object_object_get_ex(e, "message", &m));
        assert_string_equal(json_object_get_string(c), code);
        assert_string_equal(json_object_get_string(m), r->message);
}

/* Every code: its word (stable API), HTTP status and errno, and the word maps back. */
static void test_codes(void **state) {
        static const struct {
                ReplyError code;
                const char *word;
                unsigned status;
                int error;
        } cases[] = {
                { REPLY_BAD_REQUEST, "bad-request", 400, -EINVAL },
                { REPLY_INVALID_JSON, "invalid-json", 400, -EINVAL },
                { REPLY_UNKNOWN_FIELD, "unknown-field", 400, -EINVAL },
                { REPLY_WRONG_TYPE, "wrong-type", 400, -EINVAL },
                { REPLY_MISSING_FIELD, "missing-field", 400, -EINVAL },
                { REPLY_INVALID_VALUE, "invalid-value", 400, -EINVAL },
                { REPLY_UNAUTHORIZED, "unauthorized", 401, -ENOKEY },
                { REPLY_FORBIDDEN, "forbidden", 403, -EPERM },
                { REPLY_NOT_FOUND, "not-found", 404, -ENOENT },
                { REPLY_METHOD_NOT_ALLOWED, "method-not-allowed", 405, -EOPNOTSUPP },
                { REPLY_REQUEST_TIMEOUT, "request-timeout", 408, -ETIMEDOUT },
                { REPLY_CONFLICT, "conflict", 409, -EEXIST },
                { REPLY_PAYLOAD_TOO_LARGE, "payload-too-large", 413, -E2BIG },
                { REPLY_UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", 415, -EMEDIUMTYPE },
                { REPLY_INTERNAL, "internal", 500, -EIO },
                { REPLY_UNAVAILABLE, "unavailable", 503, -EAGAIN },
                { REPLY_INSUFFICIENT_STORAGE, "insufficient-storage", 507, -ENOSPC },
        };

        assert_int_equal(ELEMENTSOF(cases), _REPLY_ERROR_MAX - 1); /* all but REPLY_OK */
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                Reply r = {};

                assert_string_equal(reply_error_to_string(cases[i].code), cases[i].word);
                assert_int_equal(reply_error_from_string(cases[i].word), cases[i].code);
                assert_int_equal(reply_error_status(cases[i].code), cases[i].status);
                assert_int_equal(reply_error_errno(cases[i].code), cases[i].error);
                /* reply_error() returns the code's errno and keeps it. */
                assert_int_equal(reply_error(&r, cases[i].code, "case %zu", i), cases[i].error);
                assert_error(&r, cases[i].status, cases[i].word);
                assert_int_equal(r.error, cases[i].error);
                assert_int_equal(r.code, cases[i].code);
                reply_done(&r);
        }
        assert_null(reply_error_to_string(REPLY_OK));
        assert_null(reply_error_to_string(_REPLY_ERROR_MAX));
        assert_int_equal(reply_error_status(REPLY_OK), 200);
        assert_int_equal(reply_error_errno(REPLY_OK), 0);
        assert_int_equal(reply_error_from_string("no-such-code"), REPLY_INTERNAL);
        assert_int_equal(reply_error_from_string(NULL), REPLY_INTERNAL);
}

static void test_errno_mapping(void **state) {
        static const struct {
                int error;
                unsigned status;
                const char *code;
        } cases[] = {
                { -ENOENT, 404, "not-found" },
                { -EEXIST, 409, "conflict" },
                { -EINVAL, 400, "invalid-value" },
                { -ENOKEY, 401, "unauthorized" },
                { -EPERM, 403, "forbidden" },
                { -EACCES, 403, "forbidden" },
                { -EOPNOTSUPP, 405, "method-not-allowed" },
                { -E2BIG, 413, "payload-too-large" },
                { -EMEDIUMTYPE, 415, "unsupported-media-type" },
                { -EBUSY, 503, "unavailable" },
                { -ENOSPC, 507, "insufficient-storage" },
                { -EIO, 500, "internal" },
                { -ENOMEM, 500, "internal" },
                { EEXIST, 409, "conflict" }, /* sign does not matter */
        };

        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                Reply r = {};

                /* The errno itself is kept (returned and in r.error), whatever the code's own. */
                assert_int_equal(reply_errno(&r, cases[i].error, NULL), -abs(cases[i].error));
                assert_int_equal(r.error, -abs(cases[i].error));
                assert_int_equal(reply_error_from_errno(cases[i].error), r.code);
                assert_error(&r, cases[i].status, cases[i].code);
                reply_done(&r);
        }
}

static void test_error_replaces_body(void **state) {
        Reply r = {};

        assert_false(reply_is_set(&r));
        assert_int_equal(reply_json(&r, 200, json_object_new_object()), 0);
        assert_true(reply_is_set(&r));
        assert_int_equal(r.code, REPLY_OK);
        assert_int_equal(reply_error(&r, REPLY_CONFLICT, "name %s taken", "web"), -EEXIST);
        assert_error(&r, 409, "conflict");
        assert_string_equal(r.message, "name web taken");
        assert_int_equal(reply_error(&r, REPLY_INTERNAL, "boom"), -EIO);
        assert_error(&r, 500, "internal");
        assert_string_equal(r.message, "boom");
        /* A success after an error is a success: nothing of the error is left. */
        assert_int_equal(reply_empty(&r, 204), 0);
        assert_int_equal(r.status, 204);
        assert_int_equal(r.code, REPLY_OK);
        assert_int_equal(r.error, 0);
        assert_string_equal(r.message, "");
        /* A long message is cut, not overflowed. */
        {
                char big[2 * REPLY_MESSAGE_MAX];

                memset(big, 'x', sizeof big - 1);
                big[sizeof big - 1] = '\0';
                assert_int_equal(reply_error(&r, REPLY_INVALID_VALUE, "%s", big), -EINVAL);
                assert_int_equal(strlen(r.message), REPLY_MESSAGE_MAX - 1);
        }
        reply_done(&r);
        assert_int_equal(r.status, 0);
        assert_null(r.json);
}

static int parse(const char *body, unsigned depth, Reply *r, json_object **o) {
        *r = (Reply) {};
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

/* Decodes body against fields; code NULL: it must decode (params are then left for the caller
 * to look at, pointing into *ret_obj, which the caller frees), else fail with 400 code. */
static void decode(const char *body, const Field *f, size_t n, const char *code, Param *params, json_object **ret_obj) {
        json_object *o;
        Reply r;

        assert_int_equal(parse(body, 16, &r, &o), 0);
        if (!code) {
                if (reply_decode_fields(&r, o, f, n, params) != 0)
                        fail_msg("%s: %s", body, r.message);
                assert_false(reply_is_set(&r));
        } else {
                assert_int_equal(reply_decode_fields(&r, o, f, n, params), -EINVAL);
                assert_error(&r, 400, code);
        }
        reply_done(&r);
        *ret_obj = o;
}

static void check(const char *body, unsigned status, const char *code) {
        Param params[ELEMENTSOF(fields)];
        json_object *o;

        decode(body, fields, ELEMENTSOF(fields), status ? code : NULL, params, &o);
        json_object_put(o);
}

static void test_decode_errors(void **state) {
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
        /* The first member in error decides; missing members are judged after all present ones. */
        check("{\"x\":1,\"name\":1}", 400, "unknown-field");
        check("{\"name\":1,\"x\":1}", 400, "wrong-type");
        check("{\"prio\":\"1\"}", 400, "wrong-type");
}

/* What the decoder hands a handler: each declared field's Param, by its index. */
static void test_decode_values(void **state) {
        Param p[ELEMENTSOF(fields)];
        json_object *o;

        decode("{\"on\":false,\"name\":\"ab\",\"prio\":7}", fields, ELEMENTSOF(fields), NULL, p, &o);
        assert_true(p[0].set);
        assert_string_equal(p[0].s, "ab");
        assert_ptr_equal(p[0].j, json_object_object_get(o, "name"));
        assert_true(p[1].set);
        assert_int_equal(p[1].i, 7);
        assert_true(p[2].set);
        assert_false(p[2].b);
        json_object_put(o);

        /* Absent optional fields are unset, whatever a previous decode left. */
        decode("{\"name\":\"a\"}", fields, ELEMENTSOF(fields), NULL, p, &o);
        assert_true(p[0].set);
        assert_false(p[1].set);
        assert_false(p[2].set);
        json_object_put(o);
}

static const char *const colours[] = { "red", "green", NULL };
enum { R_RATIO, R_ANY, R_COLOUR, R_VALUE, R_DOC, R_A, R_B, _R_MAX };
static const Field rich[_R_MAX] = {
        [R_RATIO] = { "ratio", FIELD_DOUBLE, false, .dmin = 0, .dmax = 1, .id = 1 },
        [R_ANY] = { "any", FIELD_DOUBLE, .id = 2 }, /* no range: any finite number */
        [R_COLOUR] = { "colour", FIELD_ENUM, .words = colours, .id = 3 },
        [R_VALUE] = { "value", FIELD_SCALAR, .id = 4 },
        [R_DOC] = { "doc", FIELD_JSON, .id = 5 },
        [R_A] = { "a", FIELD_INT, false, 0, 9, .one_of = 1, .id = 6 },
        [R_B] = { "b", FIELD_INT, false, 0, 9, .one_of = 1, .id = 7 },
};

static void rich_ok(const char *body, Param p[static _R_MAX], json_object **o) {
        decode(body, rich, _R_MAX, NULL, p, o);
}

static void rich_bad(const char *body, const char *code) {
        Param p[_R_MAX];
        json_object *o;

        decode(body, rich, _R_MAX, code, p, &o);
        json_object_put(o);
}

static void test_decode_types(void **state) {
        Param p[_R_MAX];
        json_object *o;

        /* Exactly one of a group: none is missing, two are too many. */
        rich_ok("{\"b\":3}", p, &o);
        assert_false(p[R_A].set);
        assert_true(p[R_B].set);
        assert_int_equal(p[R_B].i, 3);
        json_object_put(o);
        rich_bad("{}", "missing-field");
        rich_bad("{\"ratio\":0.5}", "missing-field");
        rich_bad("{\"a\":1,\"b\":2}", "invalid-value");

        /* Numbers: an integer is a number too; the range is inclusive; no range is any finite number. */
        rich_ok("{\"a\":1,\"ratio\":0.25,\"any\":-1e300}", p, &o);
        assert_true(p[R_RATIO].d == 0.25);
        assert_true(p[R_ANY].d == -1e300);
        json_object_put(o);
        rich_ok("{\"a\":1,\"ratio\":1}", p, &o);
        assert_true(p[R_RATIO].d == 1);
        json_object_put(o);
        rich_bad("{\"a\":1,\"ratio\":1.5}", "invalid-value");
        rich_bad("{\"a\":1,\"ratio\":-0.1}", "invalid-value");
        rich_bad("{\"a\":1,\"ratio\":\"0.5\"}", "wrong-type");
        rich_bad("{\"a\":1,\"any\":NaN}", "invalid-value");

        /* Words: the index and the word. */
        rich_ok("{\"a\":1,\"colour\":\"green\"}", p, &o);
        assert_int_equal(p[R_COLOUR].i, 1);
        assert_string_equal(p[R_COLOUR].s, "green");
        json_object_put(o);
        rich_bad("{\"a\":1,\"colour\":\"blue\"}", "invalid-value");
        rich_bad("{\"a\":1,\"colour\":0}", "wrong-type");

        /* Scalars: a string or an integer, nothing else. */
        rich_ok("{\"a\":1,\"value\":\"0-3\"}", p, &o);
        assert_string_equal(p[R_VALUE].s, "0-3");
        json_object_put(o);
        rich_ok("{\"a\":1,\"value\":-7}", p, &o);
        assert_null(p[R_VALUE].s);
        assert_int_equal(p[R_VALUE].i, -7);
        json_object_put(o);
        rich_bad("{\"a\":1,\"value\":1.5}", "wrong-type");
        rich_bad("{\"a\":1,\"value\":true}", "wrong-type");
        rich_bad("{\"a\":1,\"value\":null}", "wrong-type");
        rich_bad("{\"a\":1,\"value\":\"a\\u0000\"}", "invalid-value");

        /* Documents: any value, null included (the handler judges it). */
        rich_ok("{\"a\":1,\"doc\":[1,{\"x\":2}]}", p, &o);
        assert_true(p[R_DOC].set);
        assert_true(json_object_is_type(p[R_DOC].j, json_type_array));
        json_object_put(o);
        rich_ok("{\"a\":1,\"doc\":null}", p, &o);
        assert_true(p[R_DOC].set);
        assert_null(p[R_DOC].j);
        json_object_put(o);
}

static void test_time(void **state) {
        json_object *t = json_time_new(INT64_C(1795301999) * 1000000 + 123);

        assert_string_equal(json_object_get_string(t), "2026-11-21T22:59:59Z");
        json_object_put(t);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_codes),
                cmocka_unit_test(test_errno_mapping),
                cmocka_unit_test(test_error_replaces_body),
                cmocka_unit_test(test_parse_body),
                cmocka_unit_test(test_parse_depth_and_nul),
                cmocka_unit_test(test_decode_errors),
                cmocka_unit_test(test_decode_values),
                cmocka_unit_test(test_decode_types),
                cmocka_unit_test(test_time),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
