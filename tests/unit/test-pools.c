/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for daemon/pools/pools.c: the sizing arithmetic (bytes to pages, target
 * never below the original, what a partial allocation covered), and the
 * operations on a temp store and a temp copy of tests/fixtures/knobs-host:
 * grants size the node knob, replace, release and removal shrink it, a kernel
 * that keeps fewer pages gives 507 with nothing granted, visibility. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "journal.h"
#include "knobs.h"
#include "manager.h"
#include "pools.h"
#include "store-internal.h"
#include "testutil.h"

#define MIB (UINT64_C(1) << 20)
#define NODE1_FILE "sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages"
#define NODE0_FILE "sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages"

/* ---- pure arithmetic ---- */

static void test_bytes_to_pages(void **state) {
        assert_int_equal(POOLS_PAGE_SIZE, 2 * MIB);
        assert_int_equal(pools_bytes_to_pages(0), 0);
        assert_int_equal(pools_bytes_to_pages(1), 1);
        assert_int_equal(pools_bytes_to_pages(2 * MIB - 1), 1);
        assert_int_equal(pools_bytes_to_pages(2 * MIB), 1);
        assert_int_equal(pools_bytes_to_pages(2 * MIB + 1), 2);
        assert_int_equal(pools_bytes_to_pages(5000000), 3);
        assert_int_equal(pools_bytes_to_pages(64 * 1024 * MIB), 32768);
        /* No overflow at the top: rounding up is done without adding first. */
        assert_true(pools_bytes_to_pages(UINT64_MAX) == UINT64_MAX / (2 * MIB) + 1);
}

static void test_target_pages(void **state) {
        /* Without grants the node keeps its original, headroom or not. */
        assert_int_equal(pools_target_pages(0, 0, 0), 0);
        assert_int_equal(pools_target_pages(7, 0, 4), 7);
        /* Grants plus headroom... */
        assert_int_equal(pools_target_pages(0, 3, 0), 3);
        assert_int_equal(pools_target_pages(0, 3, 4), 7);
        /* ...never below the original. */
        assert_int_equal(pools_target_pages(10, 3, 4), 10);
        assert_int_equal(pools_target_pages(10, 7, 3), 10);
        assert_int_equal(pools_target_pages(10, 8, 3), 11);
        /* Saturates instead of wrapping. */
        assert_true(pools_target_pages(5, UINT64_MAX - 1, 4) == UINT64_MAX);
        assert_true(pools_target_pages(UINT64_MAX, 1, 0) == UINT64_MAX);
}

static void test_obtained_pages(void **state) {
        /* Asked 5 beside 3 granted and 1 headroom; the kernel kept 6: 2 for this grant. */
        assert_int_equal(pools_obtained_pages(6, 3, 1, 5), 2);
        /* Kept less than the others need: nothing for this one. */
        assert_int_equal(pools_obtained_pages(2, 3, 1, 5), 0);
        assert_int_equal(pools_obtained_pages(4, 3, 1, 5), 0);
        /* Never more than asked. */
        assert_int_equal(pools_obtained_pages(100, 0, 0, 5), 5);
        assert_int_equal(pools_obtained_pages(0, 0, 0, 5), 0);
        assert_int_equal(pools_obtained_pages(5, UINT64_MAX, 1, 5), 0);
}

/* ---- a manager on a temp fixture copy ---- */

static int setup(void **state) {
        return testutil_tree_setup("pools", "knobs-host", true);
}

static int teardown(void **state) {
        knobs_set_write_fn(NULL);
        return testutil_tree_teardown(state);
}

static int64_t tenant_add(Manager *m, const char *name, uid_t uid) {
        char hash[TOKEN_HASH_STRLEN + 1];
        Tenant t = { .name = (char *) name, .priority = 4, .workload_class = (char *) "batch", .uid = uid };
        int64_t id = 0;

        memset(hash, 'a', TOKEN_HASH_STRLEN);
        hash[TOKEN_HASH_STRLEN] = '\0';
        hash[0] = name[0]; /* unique enough for the two or three tenants a test makes */
        hash[1] = name[strlen(name) - 1];
        assert_int_equal(store_tenant_add(m->store, &t, hash, &id), 0);
        return id;
}

static const Identity root_peer = { .kind = IDENTITY_PEER, .uid = 0, .admin = true };

/* Calls handler as who on tenant id with body (a JSON text or NULL); returns
 * the status and leaves the reply in *reply. */
static unsigned call(Manager *m, OpHandler handler, const Identity *who, int64_t id, const char *body, Reply *reply) {
        _cleanup_(json_object_putp) json_object *b = body ? json_tokener_parse(body) : NULL;
        Request req = { .who = who, .ids = { id }, .body = b };
        int r;

        assert_true(!body || b);
        *reply = (Reply){};
        r = handler(m, &req, reply);
        if (r < 0 && reply->status == 0)
                reply_errno(reply, r, NULL);
        return reply->status;
}

static unsigned grant(Manager *m, const Identity *who, int64_t id, uint64_t bytes, int node, Reply *reply) {
        char body[96];

        snprintf(body, sizeof body, "{\"bytes\": %" PRIu64 ", \"node\": %d}", bytes, node);
        return call(m, pools_op_grant, who, id, body, reply);
}

static int64_t member_int(json_object *o, const char *key) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v))
                fail_msg("no member '%s' in %s", key, json_object_to_json_string(o));
        return json_object_get_int64(v);
}

static void grant_ok(Manager *m, int64_t id, uint64_t bytes, int node, int64_t want_pages) {
        Reply reply;
        unsigned st = grant(m, &root_peer, id, bytes, node, &reply);

        if (st != 200)
                fail_msg("grant: status %u: %s", st, json_object_to_json_string(reply.json));
        assert_int_equal(member_int(reply.json, "pages"), want_pages);
        assert_int_equal(member_int(reply.json, "node"), node);
        reply_done(&reply);
}

static void test_grant_release(void **state) {
        Manager *m = testutil_manager_new();
        int64_t a = tenant_add(m, "web", 1000), b = tenant_add(m, "db", 1001);
        Reply reply;
        json_object *v;

        grant_ok(m, a, 5000000, 1, 3);             /* rounded up to 3 pages */
        testutil_assert_text(NODE1_FILE, "3\n");
        testutil_assert_text(NODE0_FILE, "0\n");            /* the other node is untouched */
        grant_ok(m, b, 4 * MIB, 1, 2);             /* a second tenant adds */
        testutil_assert_text(NODE1_FILE, "5\n");
        grant_ok(m, a, 2 * MIB, 1, 1);             /* the same node again replaces, not adds */
        testutil_assert_text(NODE1_FILE, "3\n");

        assert_int_equal(call(m, pools_op_release, &root_peer, a, NULL, &reply), 200);
        assert_int_equal(member_int(reply.json, "pages"), 1);
        assert_true(json_object_object_get_ex(reply.json, "released", &v));
        assert_int_equal(json_object_array_length(v), 1);
        reply_done(&reply);
        testutil_assert_text(NODE1_FILE, "2\n");
        /* Releasing again is a no-op answered with an empty list. */
        assert_int_equal(call(m, pools_op_release, &root_peer, a, NULL, &reply), 200);
        assert_int_equal(member_int(reply.json, "pages"), 0);
        reply_done(&reply);

        /* Removing the last tenant with grants gives the knob back through the journal. */
        assert_int_equal(store_tenant_remove(m->store, b), 0);
        assert_int_equal(pools_sync(m, "test"), 0);
        assert_int_equal(store_knob_count(m->store), 0);
        testutil_assert_pristine();
        testutil_manager_free(m);
}

static void test_original_and_headroom(void **state) {
        Manager *m = testutil_manager_new();
        int64_t a = tenant_add(m, "web", 1000);
        Reply reply;

        testutil_put_text(NODE0_FILE, "4\n");
        m->config->pools_headroom_pages = 1;
        grant_ok(m, a, 2 * MIB, 0, 1);             /* 1 + 1 headroom < 4: the original stays */
        testutil_assert_text(NODE0_FILE, "4\n");
        grant_ok(m, a, 8 * MIB, 0, 4);             /* 4 + 1 > 4 */
        testutil_assert_text(NODE0_FILE, "5\n");
        assert_int_equal(call(m, pools_op_release, &root_peer, a, NULL, &reply), 200);
        reply_done(&reply);
        testutil_assert_text(NODE0_FILE, "4\n");            /* never below the original, headroom gone */
        assert_int_equal(store_knob_count(m->store), 0);
        testutil_manager_free(m);
}

/* The kernel allocates at most 4 pages, whatever is asked. */
static ssize_t write_keep_4(int fd, const void *buf, size_t n) {
        uint64_t want = strtoull(buf, NULL, 10);

        char out[32];

        if (want <= 4 || n > sizeof out || n < 2)
                return write(fd, buf, n);
        /* Newlines pad it to the length the writer truncates the file to. */
        memset(out, '\n', n);
        out[0] = '4';
        return write(fd, out, n);
}

static void test_partial(void **state) {
        Manager *m = testutil_manager_new();
        int64_t a = tenant_add(m, "web", 1000), b = tenant_add(m, "db", 1001);
        json_object *alloc, *err;
        Reply reply;

        knobs_set_write_fn(write_keep_4);
        grant_ok(m, a, 6 * MIB, 1, 3);
        testutil_assert_text(NODE1_FILE, "3\n");
        /* 3 + 5 = 8 asked, 4 kept: 1 page for b, nothing granted, knob back to 3. */
        assert_int_equal(grant(m, &root_peer, b, 10 * MIB, 1, &reply), 507);
        assert_true(json_object_object_get_ex(reply.json, "error", &err));
        assert_non_null(strstr(json_object_get_string(json_object_object_get(err, "message")), "only 1 of the 5"));
        assert_true(json_object_object_get_ex(reply.json, "allocation", &alloc));
        assert_int_equal(member_int(alloc, "obtained_pages"), 1);
        assert_int_equal(member_int(alloc, "obtained_bytes"), 2 * MIB);
        assert_int_equal(member_int(alloc, "requested_pages"), 5);
        assert_int_equal(member_int(alloc, "node_kept_pages"), 4);
        assert_int_equal(member_int(alloc, "node_target_pages"), 8);
        reply_done(&reply);
        testutil_assert_text(NODE1_FILE, "3\n");
        assert_int_equal(store_grant_get(m->store, b, 1, &(StoreGrant){}), -ENOENT);
        assert_int_equal(m->metrics.maio_partial_allocations_total, 1);

        /* A replacement that fails keeps the previous size. */
        assert_int_equal(grant(m, &root_peer, a, 20 * MIB, 1, &reply), 507);
        reply_done(&reply);
        testutil_assert_text(NODE1_FILE, "3\n");
        {
                StoreGrant g = {};

                assert_int_equal(store_grant_get(m->store, a, 1, &g), 0);
                assert_int_equal(g.pages, 3);
                store_grant_done(&g);
        }
        knobs_set_write_fn(NULL);
        assert_int_equal(call(m, pools_op_release, &root_peer, a, NULL, &reply), 200);
        reply_done(&reply);
        testutil_assert_pristine();
        testutil_manager_free(m);
}

static void test_bad_requests(void **state) {
        static const char *const bodies[] = {
                "{\"bytes\": 0, \"node\": 0}",       "{\"bytes\": -1, \"node\": 0}",
                "{\"bytes\": 68719476737, \"node\": 0}", "{\"bytes\": 1, \"node\": -1}",
                "{\"bytes\": 1, \"node\": 1024}",    "{\"bytes\": 1}",
                "{\"node\": 0}",                     "{\"bytes\": \"1\", \"node\": 0}",
                "{\"bytes\": 1.5, \"node\": 0}",     "{\"bytes\": 1, \"node\": 0, \"x\": 1}",
                "{\"bytes\": 1, \"node\": 2}",       /* no node 2 in the fixture */
        };
        Manager *m = testutil_manager_new();
        int64_t a = tenant_add(m, "web", 1000);
        const Identity other = { .kind = IDENTITY_PEER, .uid = 1001 }, owner = { .kind = IDENTITY_PEER, .uid = 1000 };
        Reply reply;

        for (size_t i = 0; i < ELEMENTSOF(bodies); i++) {
                unsigned st = call(m, pools_op_grant, &root_peer, a, bodies[i], &reply);

                if (st != 400)
                        fail_msg("%s: status %u, expected 400", bodies[i], st);
                reply_done(&reply);
        }
        /* Another uid's tenant, or none at all: 404, for grant and release alike. */
        assert_int_equal(grant(m, &other, a, 1, 0, &reply), 404);
        reply_done(&reply);
        assert_int_equal(call(m, pools_op_release, &other, a, NULL, &reply), 404);
        reply_done(&reply);
        assert_int_equal(grant(m, &root_peer, a + 7, 1, 0, &reply), 404);
        reply_done(&reply);
        assert_int_equal(grant(m, &owner, a, 1, 0, &reply), 200);
        reply_done(&reply);
        testutil_assert_text(NODE0_FILE, "1\n");
        /* The owner sees its grant, the other uid only the node figures. */
        assert_int_equal(call(m, pools_op_list, &other, 0, NULL, &reply), 200);
        assert_int_equal(json_object_array_length(json_object_object_get(reply.json, "grants")), 0);
        assert_int_equal(json_object_array_length(json_object_object_get(reply.json, "nodes")), 2);
        reply_done(&reply);
        assert_int_equal(call(m, pools_op_list, &owner, 0, NULL, &reply), 200);
        assert_int_equal(json_object_array_length(json_object_object_get(reply.json, "grants")), 1);
        reply_done(&reply);
        assert_int_equal(call(m, pools_op_release, &owner, a, NULL, &reply), 200);
        reply_done(&reply);
        testutil_assert_pristine();
        testutil_manager_free(m);
}

/* A crash after the grant was committed and before the knob was written:
 * the next start sizes the node; grants of removed tenants are forgotten. */
static void test_start_reconciles(void **state) {
        char sql[160];
        Manager *m = testutil_manager_new();
        int64_t a = tenant_add(m, "web", 1000), b = tenant_add(m, "db", 1001);

        assert_int_equal(store_grant_put(m->store, &(StoreGrant){ .tenant_id = a, .node = 1, .pages = 2 }), 0);
        assert_int_equal(store_grant_put(m->store, &(StoreGrant){ .tenant_id = b, .node = 0, .pages = 3 }), 0);
        assert_int_equal(pools_start(m), 0);
        testutil_assert_text(NODE1_FILE, "2\n");
        testutil_assert_text(NODE0_FILE, "3\n");
        /* Nothing changed: a second sync writes nothing (the journal counts writes). */
        assert_int_equal(m->metrics.knob_writes_total, 2);
        assert_int_equal(pools_sync(m, "test"), 0);
        assert_int_equal(m->metrics.knob_writes_total, 2);

        /* A tenant gone behind the store's back (foreign keys off): pruned and shrunk at start. */
        snprintf(sql, sizeof sql, "PRAGMA foreign_keys=OFF; DELETE FROM tenants WHERE id = %" PRId64 "; "
                 "PRAGMA foreign_keys=ON", b);
        assert_int_equal(sqlite3_exec(store_db(m->store), sql, NULL, NULL, NULL), SQLITE_OK);
        assert_int_equal(store_grant_get(m->store, b, 0, &(StoreGrant){}), 0); /* orphaned */
        assert_int_equal(pools_start(m), 0);
        testutil_assert_text(NODE0_FILE, "0\n");
        testutil_assert_text(NODE1_FILE, "2\n");
        assert_int_equal(store_tenant_remove(m->store, a), 0);
        assert_int_equal(pools_sync(m, "test"), 0);
        testutil_assert_pristine();
        testutil_manager_free(m);
}

/* An administrator's own setting of a node without grants is not the reserve's to undo. */
static void test_admin_setting_kept(void **state) {
        _cleanup_free_ char *error = NULL;
        Manager *m = testutil_manager_new();
        int64_t a = tenant_add(m, "web", 1000);
        Reply reply;

        assert_int_equal(journal_set(m, "node.0.hugepages.2048kB", "6", "admin", &error), 0);
        assert_int_equal(pools_sync(m, "test"), 0);
        testutil_assert_text(NODE0_FILE, "6\n");
        grant_ok(m, a, 2 * MIB, 1, 1);
        assert_int_equal(call(m, pools_op_release, &root_peer, a, NULL, &reply), 200);
        reply_done(&reply);
        testutil_assert_text(NODE0_FILE, "6\n");
        testutil_assert_text(NODE1_FILE, "0\n");
        assert_int_equal(store_knob_count(m->store), 1);

        /* Nor once the reserve has given a node back: node 1 is no longer the reserve's. */
        assert_int_equal(journal_set(m, "node.1.hugepages.2048kB", "7", "admin", &error), 0);
        assert_int_equal(pools_sync(m, "test"), 0);
        testutil_assert_text(NODE1_FILE, "7\n");
        assert_int_equal(store_knob_count(m->store), 2);
        testutil_manager_free(m);
}

static void test_dry_run(void **state) {
        Manager *m = testutil_manager_new();
        int64_t a = tenant_add(m, "web", 1000);
        Reply reply;

        m->dry_run = true;
        grant_ok(m, a, 4 * MIB, 1, 2);
        testutil_assert_pristine(); /* recorded, not written */
        assert_int_equal(call(m, pools_op_release, &root_peer, a, NULL, &reply), 200);
        reply_done(&reply);
        assert_int_equal(store_knob_count(m->store), 0);
        testutil_assert_pristine();
        testutil_manager_free(m);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_bytes_to_pages),
                cmocka_unit_test(test_target_pages),
                cmocka_unit_test(test_obtained_pages),
                cmocka_unit_test_setup_teardown(test_grant_release, setup, teardown),
                cmocka_unit_test_setup_teardown(test_original_and_headroom, setup, teardown),
                cmocka_unit_test_setup_teardown(test_partial, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
                cmocka_unit_test_setup_teardown(test_start_reconciles, setup, teardown),
                cmocka_unit_test_setup_teardown(test_admin_setting_kept, setup, teardown),
                cmocka_unit_test_setup_teardown(test_dry_run, setup, teardown),
        };

        if (testutil_fixtures_init() < 0)
                return 1;
        return cmocka_run_group_tests(tests, NULL, NULL);
}
