/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the pure parts of the fleet: model keys and their parsing, host names, the
 * sources allowlist, context buckets, etcd's base64 and prefix ends, and which [fleet] keys
 * need a restart, and the lookup's scan against an in-memory range of etcd keys. The etcd client and the module run
 * against a real cluster in it-fleet. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

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

/* ---- the lookup's scan, against a sorted in-memory key space with etcd's range semantics ---- */

typedef struct Model {
        char *key;
        double features[TIER_N_FEATURES];
} Model;

typedef struct Space {
        Model *m;
        size_t n;
} Space;

static int model_cmp(const void *a, const void *b) {
        return strcmp(((const Model *) a)->key, ((const Model *) b)->key);
}

/* Byte order of a key (a C string) against k of n bytes that may hold NULs, as etcd compares. */
static int key_cmp(const char *a, const char *k, size_t n) {
        size_t an = strlen(a);
        int c = memcmp(a, k, an < n ? an : n);

        return c != 0 ? c : (an > n) - (an < n);
}

static void space_add(Space *s, const char *host, int64_t tenant, const double f[static TIER_N_FEATURES]) {
        s->m = reallocarray(s->m, s->n + 1, sizeof *s->m);
        assert_non_null(s->m);
        s->m[s->n].key = fleet_model_key("/maio", "batch", fleet_context_bucket(f), host, tenant);
        assert_non_null(s->m[s->n].key);
        memcpy(s->m[s->n].features, f, sizeof s->m[s->n].features);
        s->n++;
}

static void space_free(Space *s) {
        for (size_t i = 0; i < s->n; i++)
                free(s->m[i].key);
        free(s->m);
}

static double distance(const double a[static TIER_N_FEATURES], const double b[static TIER_N_FEATURES]) {
        double d = 0;

        for (unsigned i = 0; i < TIER_N_FEATURES; i++)
                d += (a[i] - b[i]) * (a[i] - b[i]);
        return sqrt(d);
}

/* Runs a lookup's scan over the space as the daemon does (range reads with the scan's key,
 * range end and limit; the best distance so far steers it) and returns the index of the nearest
 * model it read, -1 none; *ret_keys: keys read. */
static ssize_t scan_run(Space *s, const double tenant[static TIER_N_FEATURES], size_t *ret_keys, bool *ret_truncated) {
        FleetScan scan;
        double best = INFINITY;
        ssize_t best_i = -1;
        char *key, *end;
        size_t key_n, reads = 0;
        unsigned limit;
        int r;

        if (s->n > 0)
                qsort(s->m, s->n, sizeof *s->m, model_cmp);
        fleet_scan_init(&scan, tenant);
        while ((r = fleet_scan_next(&scan, "/maio", "batch", best, &key, &key_n, &end, &limit)) > 0) {
                size_t got = 0, last = 0;
                bool more = false;

                assert_true(limit > 0 && limit <= FLEET_SCAN_PAGE);
                for (size_t i = 0; i < s->n; i++) {
                        if (key_cmp(s->m[i].key, key, key_n) < 0 || strcmp(s->m[i].key, end) >= 0)
                                continue;
                        if (got == limit) {
                                more = true;
                                break;
                        }
                        got++;
                        last = i;
                        if (distance(s->m[i].features, tenant) < best) {
                                best = distance(s->m[i].features, tenant);
                                best_i = (ssize_t) i;
                        }
                }
                assert_int_equal(fleet_scan_feed(&scan, got, got ? s->m[last].key : NULL, more), 0);
                free(key);
                free(end);
                assert_true(++reads < 1000);
        }
        assert_int_equal(r, 0);
        *ret_keys = scan.keys;
        *ret_truncated = scan.truncated;
        fleet_scan_done(&scan);
        return best_i;
}

static ssize_t nearest(const Space *s, const double tenant[static TIER_N_FEATURES]) {
        ssize_t b = -1;

        for (size_t i = 0; i < s->n; i++)
                if (b < 0 || distance(s->m[i].features, tenant) < distance(s->m[b].features, tenant))
                        b = (ssize_t) i;
        return b;
}

static void test_scan_order(void **state) {
        uint64_t x = 88172645463325252ULL;

        for (int t = 0; t < 200; t++) {
                double f[TIER_N_FEATURES], g[TIER_N_FEATURES];
                FleetScan scan;

                for (unsigned i = 0; i < TIER_N_FEATURES; i++) {
                        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                        f[i] = (double) (x % 1001) / 1000;
                }
                fleet_scan_init(&scan, f);
                assert_int_equal(scan.order[0], fleet_context_bucket(f));
                assert_true(scan.bound[0] == 0);
                for (unsigned i = 1; i < FLEET_BUCKETS; i++)
                        assert_true(scan.bound[i - 1] <= scan.bound[i]);
                /* Every bucket once, and no context lies nearer than its bucket's bound. */
                for (unsigned b = 0; b < FLEET_BUCKETS; b++) {
                        unsigned seen = 0;

                        for (unsigned i = 0; i < FLEET_BUCKETS; i++)
                                seen += scan.order[i] == b;
                        assert_int_equal(seen, 1);
                }
                for (int k = 0; k < 50; k++) {
                        for (unsigned i = 0; i < TIER_N_FEATURES; i++) {
                                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                                g[i] = (double) (x % 1001) / 1000;
                        }
                        for (unsigned i = 0; i < FLEET_BUCKETS; i++)
                                if (scan.order[i] == fleet_context_bucket(g))
                                        assert_true(distance(f, g) >= scan.bound[i] - 1e-12);
                }
        }
}

static void test_scan_nearest(void **state) {
        const double near_hi[TIER_N_FEATURES] = { 0.9, 0.9, 0.9, 0.9, 0.9 },
                     far_lo[TIER_N_FEATURES] = { 0.1, 0.1, 0.1, 0.1, 0.1 },
                     far_mid[TIER_N_FEATURES] = { 0.1, 0.6, 0.1, 0.6, 0.1 };
        char host[32];
        size_t keys;
        bool truncated;
        ssize_t i;

        /* 1. The tenant's bucket sorts last; 150 farther models sort before it in key order (so
         * the first 64 keys of the class hold none of the nearest). */
        {
                Space s = {};
                const double tenant[TIER_N_FEATURES] = { 0.85, 0.95, 0.9, 0.8, 0.9 };

                for (int k = 0; k < 100; k++) {
                        snprintf(host, sizeof host, "a%03d", k);
                        space_add(&s, host, 1, far_lo);
                        if (k < 50)
                                space_add(&s, host, 2, far_mid);
                }
                space_add(&s, "z", 7, near_hi);
                i = scan_run(&s, tenant, &keys, &truncated);
                assert_true(i >= 64); /* not among the first 64 keys */
                assert_int_equal(i, nearest(&s, tenant));
                assert_string_equal(s.m[i].key, "/maio/models/batch/31/z/7");
                assert_false(truncated);
                assert_int_equal(keys, 1); /* the own bucket holds it: nothing else is nearer */
                space_free(&s);
        }
        /* 2. More than a page of farther models in the tenant's own bucket, the nearest last:
         * the bucket is read in pages to its end. */
        {
                Space s = {};
                const double tenant[TIER_N_FEATURES] = { 0.1, 0.1, 0.1, 0.1, 0.1 },
                             own_far[TIER_N_FEATURES] = { 0.45, 0.45, 0.45, 0.0, 0.0 },
                             own_near[TIER_N_FEATURES] = { 0.12, 0.1, 0.1, 0.1, 0.1 };

                for (int k = 0; k < 150; k++) {
                        snprintf(host, sizeof host, "b%03d", k);
                        space_add(&s, host, 3, own_far);
                }
                space_add(&s, "zz", 9, own_near);
                i = scan_run(&s, tenant, &keys, &truncated);
                assert_int_equal(i, nearest(&s, tenant));
                assert_string_equal(s.m[i].key, "/maio/models/batch/0/zz/9");
                assert_int_equal(keys, 151);
                space_free(&s);
        }
        /* 3. The nearest lies across a level boundary, in a neighbouring bucket, and 100 models
         * of the own bucket are farther; buckets that cannot hold a nearer one are not read. */
        {
                Space s = {};
                const double tenant[TIER_N_FEATURES] = { 0.48, 0.1, 0.1, 0.1, 0.1 },
                             own_far[TIER_N_FEATURES] = { 0.0, 0.4, 0.1, 0.1, 0.1 },
                             neighbour[TIER_N_FEATURES] = { 0.53, 0.1, 0.1, 0.1, 0.1 };

                for (int k = 0; k < 100; k++) {
                        snprintf(host, sizeof host, "c%03d", k);
                        space_add(&s, host, 4, own_far);
                        space_add(&s, host, 5, near_hi);
                }
                space_add(&s, "n", 11, neighbour);
                i = scan_run(&s, tenant, &keys, &truncated);
                assert_int_equal(i, nearest(&s, tenant));
                assert_string_equal(s.m[i].key, "/maio/models/batch/16/n/11");
                assert_int_equal(keys, 101); /* bucket 0, then 16; bucket 31 never */
                space_free(&s);
        }
        /* 4. The bound: however many keys, a lookup reads at most FLEET_SCAN_KEYS_MAX. */
        {
                Space s = {};

                for (int k = 0; k < FLEET_SCAN_KEYS_MAX + 300; k++) {
                        snprintf(host, sizeof host, "d%05d", k);
                        space_add(&s, host, 1, far_lo);
                }
                i = scan_run(&s, near_hi, &keys, &truncated);
                assert_true(i >= 0);
                assert_int_equal(keys, FLEET_SCAN_KEYS_MAX);
                assert_true(truncated);
                space_free(&s);
        }
        /* 5. An empty class: every bucket is read once, nothing is found. */
        {
                Space s = {};

                i = scan_run(&s, far_lo, &keys, &truncated);
                assert_int_equal(i, -1);
                assert_int_equal(keys, 0);
                assert_false(truncated);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_model_key),  cmocka_unit_test(test_host_valid),
                cmocka_unit_test(test_sources),    cmocka_unit_test(test_bucket),
                cmocka_unit_test(test_base64),     cmocka_unit_test(test_prefix_end),
                cmocka_unit_test(test_deflate),    cmocka_unit_test(test_connection_changed),
                cmocka_unit_test(test_scan_order), cmocka_unit_test(test_scan_nearest),
        };

        return cmocka_run_group_tests_name("fleet", tests, NULL, NULL);
}
