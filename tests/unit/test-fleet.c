/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the pure parts of the fleet: model keys and their parsing, host names, the
 * sources allowlist, context buckets, etcd's base64 and prefix ends, and which [fleet] keys
 * need a restart. The etcd client and the module run against a real cluster in it-fleet. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cleanup.h"
#include "conf.h"
#include "etcd.h"
#include "fleet.h"

static void test_model_key(void **state) {
        _cleanup_free_ char *k = fleet_model_key("/maio", "batch", 17, "node-a.rack1", 42);
        char host[64];
        int64_t tenant = 0;

        assert_string_equal(k, "/maio/models/batch/17/node-a.rack1/42");
        assert_int_equal(fleet_model_key_parse("/maio", k, host, sizeof host, &tenant), 0);
        assert_string_equal(host, "node-a.rack1");
        assert_int_equal(tenant, 42);

        /* Every other shape is refused. */
        static const char *const bad[] = {
                "/other/models/batch/17/a/42", "/maio/models/batch/17/a/0",
                "/maio/models/batch/17/a/-1",  "/maio/models/batch/17/a/4x",
                "/maio/models/batch/17/a/",    "/maio/models/batch/17/a",
                "/maio/models/batch/17//42",   "/maio/models/batch//a/42",
                "/maio/models//17/a/42",       "/maio/models/batch/17/a b/42",
                "/maio/hosts/a/alive",         "/maio/models/batch/17/../42",
                "/maio/models/batch/17/a/042", "/maio/models/batch/17/a/99999999999999999999",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(fleet_model_key_parse("/maio", bad[i], host, sizeof host, &tenant), -EINVAL);
        /* A host longer than the buffer. */
        assert_int_equal(fleet_model_key_parse("/maio", "/maio/models/batch/1/abcdefgh/1", host, 8, &tenant), -EINVAL);
}

static void test_host_valid(void **state) {
        assert_true(fleet_host_valid("a"));
        assert_true(fleet_host_valid("Node-7.rack_1"));
        assert_false(fleet_host_valid(""));
        assert_false(fleet_host_valid("."));
        assert_false(fleet_host_valid(".."));
        assert_false(fleet_host_valid("a/b"));
        assert_false(fleet_host_valid("a b"));
        assert_false(fleet_host_valid("a,b"));
        assert_false(fleet_host_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")); /* 65 */
}

static void test_sources(void **state) {
        assert_true(fleet_source_allowed("", "a"));
        assert_true(fleet_source_allowed(NULL, "a"));
        assert_true(fleet_source_allowed(" , ", "a"));
        assert_true(fleet_source_allowed("a", "a"));
        assert_true(fleet_source_allowed("b, a", "a"));
        assert_true(fleet_source_allowed("b,a,c", "c"));
        assert_false(fleet_source_allowed("b", "a"));
        assert_false(fleet_source_allowed("ab", "a"));
        assert_false(fleet_source_allowed("a", "ab"));
        assert_false(fleet_source_allowed("b,c", "a"));
}

static void test_bucket(void **state) {
        const double zero[TIER_N_FEATURES] = { 0 }, one[TIER_N_FEATURES] = { 1, 1, 1, 1, 1 },
                     mixed[TIER_N_FEATURES] = { 0.6, 0.1, 0.5, 0.49, 1 }, out[TIER_N_FEATURES] = { 7, -3, 0, 0, 0 };

        assert_int_equal(fleet_context_bucket(zero), 0);
        assert_int_equal(fleet_context_bucket(one), FLEET_BUCKETS - 1);
        assert_int_equal(fleet_context_bucket(mixed), 0x10 | 0x04 | 0x01);
        /* Out of range (not produced by tiering, which clamps) still lands in a bucket. */
        assert_true(fleet_context_bucket(out) < FLEET_BUCKETS);
}

static void test_base64(void **state) {
        static const char *const texts[] = { "", "a", "ab", "abc", "abcd", "/maio/models/batch/0/a/1" };

        for (size_t i = 0; i < ELEMENTSOF(texts); i++) {
                _cleanup_free_ char *e = etcd_b64(texts[i], strlen(texts[i])), *d = NULL;
                size_t n = 99;

                assert_non_null(e);
                assert_int_equal(etcd_unb64(e, &d, &n), 0);
                assert_int_equal(n, strlen(texts[i]));
                assert_memory_equal(d, texts[i], n);
        }
        {
                _cleanup_free_ char *e = etcd_b64("ab", 2);

                assert_string_equal(e, "YWI=");
        }
        {
                char *d = NULL;
                size_t n;

                assert_int_equal(etcd_unb64("abc", &d, &n), -EINVAL);
                assert_int_equal(etcd_unb64("a*c=", &d, &n), -EINVAL);
                assert_null(d);
        }
}

static void test_prefix_end(void **state) {
        _cleanup_free_ char *a = etcd_prefix_end("/maio/models/batch/"), *b = etcd_prefix_end("a");

        assert_string_equal(a, "/maio/models/batch0");
        assert_string_equal(b, "b");
}

static void test_deflate(void **state) {
        _cleanup_free_ char *z = NULL, *back = NULL, *big = malloc(100001);
        char *none = NULL;
        const char *text = "{\"model\":{\"format\":\"maio-tier-model\",\"state\":[0,0,0,0,0,0,0,0,0,0,0,0]}}";

        assert_int_equal(fleet_deflate_b64(text, &z), 0);
        assert_int_equal(fleet_inflate_b64(z, strlen(text), &back), 0);
        assert_string_equal(back, text);
        /* Another announced size, in either direction, is refused (no bombs, no truncation). */
        assert_int_equal(fleet_inflate_b64(z, strlen(text) - 1, &none), -EINVAL);
        assert_int_equal(fleet_inflate_b64(z, strlen(text) + 1, &none), -EINVAL);
        assert_int_equal(fleet_inflate_b64(z, 0, &none), -EINVAL);
        assert_int_equal(fleet_inflate_b64(z, (size_t) FLEET_DOCUMENT_MAX + 1, &none), -EINVAL);
        assert_int_equal(fleet_inflate_b64("bm90IHpsaWI=", 7, &none), -EINVAL); /* "not zlib" */
        assert_int_equal(fleet_inflate_b64("***", 7, &none), -EINVAL);
        assert_null(none);
        free(z);
        z = NULL;
        memset(big, 'x', 100000);
        big[100000] = '\0';
        assert_int_equal(fleet_deflate_b64(big, &z), 0);
        assert_true(strlen(z) < 2000);
        assert_int_equal(fleet_inflate_b64(z, 1000, &none), -EINVAL);
        assert_null(none);
}

static void test_connection_changed(void **state) {
        _cleanup_(conf_freep) Config *a = NULL, *b = NULL;
        char *reason = NULL;
        size_t n;
        const ConfItem *t = conf_table(&n), *endpoints = NULL, *episodes = NULL;

        for (size_t i = 0; i < n; i++) {
                if (strcmp(t[i].section, "fleet") == 0 && strcmp(t[i].key, "endpoints") == 0)
                        endpoints = &t[i];
                if (strcmp(t[i].section, "fleet") == 0 && strcmp(t[i].key, "publish_episodes") == 0)
                        episodes = &t[i];
        }
        assert_non_null(endpoints);
        assert_non_null(episodes);
        assert_int_equal(conf_new_default(&a), 0);
        assert_int_equal(conf_new_default(&b), 0);
        assert_false(fleet_connection_changed(a, b));
        assert_int_equal(conf_item_parse(episodes, "3", b, &reason), 0);
        assert_false(fleet_connection_changed(a, b));
        assert_int_equal(conf_item_parse(endpoints, " http://a:1 ,https://b:2 ", b, &reason), 0);
        assert_string_equal(b->fleet_endpoints, "http://a:1,https://b:2");
        assert_true(fleet_connection_changed(a, b));
        assert_int_equal(conf_item_parse(endpoints, "http://a:1,,http://b", b, &reason), -EINVAL);
        assert_non_null(reason);
        free(reason);
        assert_string_equal(b->fleet_endpoints, "http://a:1,https://b:2");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_model_key), cmocka_unit_test(test_host_valid),
                cmocka_unit_test(test_sources),   cmocka_unit_test(test_bucket),
                cmocka_unit_test(test_base64),    cmocka_unit_test(test_prefix_end),
                cmocka_unit_test(test_deflate),   cmocka_unit_test(test_connection_changed),
        };

        return cmocka_run_group_tests_name("fleet", tests, NULL, NULL);
}
