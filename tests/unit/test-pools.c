/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for daemon/pools/pools.c: the sizing arithmetic (bytes to pages,
 * target never below the original, what a partial allocation covered), and
 * Pools over a Journal and a Store on a temp copy of tests/fixtures/knobs-host:
 * grants size the node knob, replace, release and removal shrink it, a kernel
 * that keeps fewer pages gives 507 with nothing granted, who sees which grant; the scheduler's
 * resources hugepages and poller_cores: snapshot and apply on their own, and with a scheduler, a
 * shortage decided by priority (granted pages and held CPUs never taken back). */
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

#include <sqlite3.h>
#include <cmocka.h>

#include "journal.h"
#include "knobs.h"
#include "pools.h"
#include "scheduler.h"
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

/* ---- the reserve on a temp fixture copy ---- */

static int setup(void **state) {
        return testutil_tree_setup("pools", "knobs-host", true);
}

/* [pools] as maiod.conf has it by default. */
static const PoolsConf defaults = {
        .headroom_pages = 0,
        .max_grant_bytes = 64 * 1024 * MIB,
};

/* What a test works on: the store on the temp state directory, the knob journal over it (not
 * started: no lock, no timer), and the reserve sizing nodes through that journal. */
typedef struct Subject {
        Store *store;
        Journal *journal;
        Pools *pools;
} Subject;

/* The modules as a maiod started with (or without) --dry-run builds them. */
static Subject *subject_new(bool dry_run) {
        Subject *s = calloc(1, sizeof *s);

        assert_non_null(s);
        s->store = testutil_store_open();
        assert_int_equal(journal_new(s->store, testutil_tree.root, testutil_tree.state, dry_run,
                                     &(JournalConf) { .restore_on_exit = true, .drift_check_s = 30 }, NULL,
                                     &s->journal),
                         0);
        assert_int_equal(pools_new(s->store, testutil_tree.root, dry_run, s->journal, &defaults, &s->pools), 0);
        return s;
}

static void subject_free(Subject *s) {
        if (!s)
                return;
        pools_free(s->pools);
        journal_free(s->journal);
        store_free(s->store);
        free(s);
}

static int teardown(void **state) {
        knobs_set_write_fn(NULL);
        return testutil_tree_teardown(state);
}

static int64_t tenant_add(Subject *s, const char *name, uid_t uid) {
        char hash[TOKEN_HASH_STRLEN + 1];
        Tenant t = { .name = (char *) name, .priority = 4, .workload_class = (char *) "batch", .uid = uid };
        int64_t id = 0;

        memset(hash, 'a', TOKEN_HASH_STRLEN);
        hash[TOKEN_HASH_STRLEN] = '\0';
        hash[0] = name[0]; /* unique enough for the two or three tenants a test makes */
        hash[1] = name[strlen(name) - 1];
        assert_int_equal(store_tenant_add(s->store, &t, hash, &id), 0);
        return id;
}

static const Identity root_peer = { .kind = IDENTITY_PEER, .uid = 0, .admin = true };

/* Calls handler as who with the request ops_call() would make: tenant id (0: none) loaded as
 * req->tenant, body (a JSON text or NULL) decoded against fields. Who may see the tenant is
 * ops_call()'s business (test-ops), not the handler's: an id the store does not know stands for a
 * tenant removed after ops_call() resolved it. Returns the status and leaves the reply in *reply. */
static unsigned call(Subject *s, OpHandler handler, const FieldSet *fields, const Identity *who, int64_t id,
                     const char *body, Reply *reply) {
        _cleanup_(json_object_putp) json_object *b = NULL;
        _cleanup_(tenant_done) Tenant t = {};
        Request req = { .who = who, .ids = { id } };
        int r;

        *reply = (Reply) {};
        if (id > 0) {
                r = store_tenant_get(s->store, id, &t);
                if (r == -ENOENT)
                        t.id = id;
                else
                        assert_int_equal(r, 0);
                req.tenant = &t;
        }
        if (fields) {
                assert_non_null(body);
                if (reply_parse_body(reply, body, strlen(body), 16, &b) < 0 ||
                    reply_decode_fields(reply, b, fields->fields, fields->n, req.params) < 0)
                        return reply->status;
                req.body = b;
        } else
                assert_null(body);
        r = handler(s->pools, &req, reply);
        if (r < 0 && !reply_is_set(reply))
                reply_errno(reply, r, NULL);
        if (r >= 0)
                assert_int_equal(reply->code, REPLY_OK);
        else
                assert_int_not_equal(reply->code, REPLY_OK);
        return reply->status;
}

static uint64_t partial_allocations(const Subject *s) {
        PoolsCounters c;

        pools_counters(s->pools, &c);
        return c.partial_allocations_total;
}

/* The journal counts the knob writes that took. */
static uint64_t knob_writes(const Subject *s) {
        JournalCounters c;

        journal_counters(s->journal, &c);
        return c.writes_total;
}

static unsigned grant(Subject *s, const Identity *who, int64_t id, uint64_t bytes, int node, Reply *reply) {
        char body[96];

        snprintf(body, sizeof body, "{\"bytes\": %" PRIu64 ", \"node\": %d}", bytes, node);
        return call(s, pools_op_grant, &pools_grant_body, who, id, body, reply);
}

static unsigned release(Subject *s, const Identity *who, int64_t id, Reply *reply) {
        return call(s, pools_op_release, NULL, who, id, NULL, reply);
}

static unsigned list(Subject *s, const Identity *who, Reply *reply) {
        return call(s, pools_op_list, NULL, who, 0, NULL, reply);
}

static int64_t member_int(json_object *o, const char *key) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v))
                fail_msg("no member '%s' in %s", key, json_object_to_json_string(o));
        return json_object_get_int64(v);
}

static void grant_ok(Subject *s, int64_t id, uint64_t bytes, int node, int64_t want_pages) {
        Reply reply;
        unsigned st = grant(s, &root_peer, id, bytes, node, &reply);

        if (st != 200)
                fail_msg("grant: status %u: %s", st, reply.message);
        assert_int_equal(member_int(reply.json, "pages"), want_pages);
        assert_int_equal(member_int(reply.json, "node"), node);
        reply_done(&reply);
}

static void test_grant_release(void **state) {
        Subject *s = subject_new(false);
        int64_t a = tenant_add(s, "web", 1000), b = tenant_add(s, "db", 1001);
        Reply reply;
        json_object *v;

        grant_ok(s, a, 5000000, 1, 3); /* rounded up to 3 pages */
        testutil_assert_text(NODE1_FILE, "3\n");
        testutil_assert_text(NODE0_FILE, "0\n"); /* the other node is untouched */
        grant_ok(s, b, 4 * MIB, 1, 2);           /* a second tenant adds */
        testutil_assert_text(NODE1_FILE, "5\n");
        grant_ok(s, a, 2 * MIB, 1, 1); /* the same node again replaces, not adds */
        testutil_assert_text(NODE1_FILE, "3\n");

        assert_int_equal(release(s, &root_peer, a, &reply), 200);
        assert_int_equal(member_int(reply.json, "pages"), 1);
        assert_true(json_object_object_get_ex(reply.json, "released", &v));
        assert_int_equal(json_object_array_length(v), 1);
        reply_done(&reply);
        testutil_assert_text(NODE1_FILE, "2\n");
        /* Releasing again is a no-op answered with an empty list. */
        assert_int_equal(release(s, &root_peer, a, &reply), 200);
        assert_int_equal(member_int(reply.json, "pages"), 0);
        reply_done(&reply);

        /* Removing the last tenant with grants gives the knob back through the journal. */
        assert_int_equal(store_tenant_remove(s->store, b), 0);
        assert_int_equal(pools_sync(s->pools, "test"), 0);
        assert_int_equal(store_knob_count(s->store), 0);
        testutil_assert_pristine();
        subject_free(s);
}

static void test_original_and_headroom(void **state) {
        Subject *s = subject_new(false);
        int64_t a = tenant_add(s, "web", 1000);
        Reply reply;

        testutil_put_text(NODE0_FILE, "4\n");
        pools_set_conf(s->pools, &(PoolsConf) { .headroom_pages = 1, .max_grant_bytes = defaults.max_grant_bytes });
        grant_ok(s, a, 2 * MIB, 0, 1); /* 1 + 1 headroom < 4: the original stays */
        testutil_assert_text(NODE0_FILE, "4\n");
        grant_ok(s, a, 8 * MIB, 0, 4); /* 4 + 1 > 4 */
        testutil_assert_text(NODE0_FILE, "5\n");
        assert_int_equal(release(s, &root_peer, a, &reply), 200);
        reply_done(&reply);
        testutil_assert_text(NODE0_FILE, "4\n"); /* never below the original, headroom gone */
        assert_int_equal(store_knob_count(s->store), 0);
        subject_free(s);
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
        Subject *s = subject_new(false);
        int64_t a = tenant_add(s, "web", 1000), b = tenant_add(s, "db", 1001);
        json_object *alloc, *err;
        Reply reply;

        knobs_set_write_fn(write_keep_4);
        grant_ok(s, a, 6 * MIB, 1, 3);
        testutil_assert_text(NODE1_FILE, "3\n");
        /* 3 + 5 = 8 asked, 4 kept: 1 page for b, nothing granted, knob back to 3. */
        assert_int_equal(grant(s, &root_peer, b, 10 * MIB, 1, &reply), 507);
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
        assert_int_equal(store_grant_get(s->store, b, 1, &(StoreGrant) {}), -ENOENT);
        assert_int_equal(partial_allocations(s), 1);

        /* A replacement that fails keeps the previous size. */
        assert_int_equal(grant(s, &root_peer, a, 20 * MIB, 1, &reply), 507);
        reply_done(&reply);
        testutil_assert_text(NODE1_FILE, "3\n");
        {
                StoreGrant g = {};

                assert_int_equal(store_grant_get(s->store, a, 1, &g), 0);
                assert_int_equal(g.pages, 3);
                store_grant_done(&g);
        }
        knobs_set_write_fn(NULL);
        assert_int_equal(release(s, &root_peer, a, &reply), 200);
        reply_done(&reply);
        testutil_assert_pristine();
        subject_free(s);
}

static void test_bad_requests(void **state) {
        static const char *const bodies[] = {
                "{\"bytes\": 0, \"node\": 0}",
                "{\"bytes\": -1, \"node\": 0}",
                "{\"bytes\": 68719476737, \"node\": 0}",
                "{\"bytes\": 1, \"node\": -1}",
                "{\"bytes\": 1, \"node\": 1024}",
                "{\"bytes\": 1}",
                "{\"node\": 0}",
                "{\"bytes\": \"1\", \"node\": 0}",
                "{\"bytes\": 1.5, \"node\": 0}",
                "{\"bytes\": 1, \"node\": 0, \"x\": 1}",
                "{\"bytes\": 1, \"node\": 2}", /* no node 2 in the fixture */
        };
        Subject *s = subject_new(false);
        int64_t a = tenant_add(s, "web", 1000);
        const Identity other = { .kind = IDENTITY_PEER, .uid = 1001 }, owner = { .kind = IDENTITY_PEER, .uid = 1000 };
        Reply reply;

        for (size_t i = 0; i < ELEMENTSOF(bodies); i++) {
                unsigned st = call(s, pools_op_grant, &pools_grant_body, &root_peer, a, bodies[i], &reply);

                if (st != 400)
                        fail_msg("%s: status %u, expected 400", bodies[i], st);
                /* The bound named is the configured one. */
                if (i < 3)
                        assert_string_equal(reply.message, "Field 'bytes' must be in the range 1..68719476736");
                reply_done(&reply);
        }
        /* A tenant removed after its request was resolved: 404 and nothing granted. (Another uid's
         * tenant is 404 before any handler runs: see test-ops.) */
        assert_int_equal(grant(s, &root_peer, a + 7, 1, 0, &reply), 404);
        assert_int_equal(reply.code, REPLY_NOT_FOUND);
        reply_done(&reply);
        assert_int_equal(store_grant_get(s->store, a + 7, 0, &(StoreGrant) {}), -ENOENT);
        assert_int_equal(grant(s, &owner, a, 1, 0, &reply), 200);
        reply_done(&reply);
        testutil_assert_text(NODE0_FILE, "1\n");
        /* The owner sees its grant, the other uid only the node figures. */
        assert_int_equal(list(s, &other, &reply), 200);
        assert_int_equal(json_object_array_length(json_object_object_get(reply.json, "grants")), 0);
        assert_int_equal(json_object_array_length(json_object_object_get(reply.json, "nodes")), 2);
        reply_done(&reply);
        assert_int_equal(list(s, &owner, &reply), 200);
        assert_int_equal(json_object_array_length(json_object_object_get(reply.json, "grants")), 1);
        reply_done(&reply);
        assert_int_equal(release(s, &owner, a, &reply), 200);
        reply_done(&reply);
        testutil_assert_pristine();
        subject_free(s);
}

/* A crash after the grant was committed and before the knob was written:
 * the next start sizes the node; grants of removed tenants are forgotten. */
static void test_start_reconciles(void **state) {
        char sql[160];
        Subject *s = subject_new(false);
        int64_t a = tenant_add(s, "web", 1000), b = tenant_add(s, "db", 1001);

        assert_int_equal(store_grant_put(s->store, &(StoreGrant) { .tenant_id = a, .node = 1, .pages = 2 }), 0);
        assert_int_equal(store_grant_put(s->store, &(StoreGrant) { .tenant_id = b, .node = 0, .pages = 3 }), 0);
        assert_int_equal(pools_start(s->pools), 0);
        testutil_assert_text(NODE1_FILE, "2\n");
        testutil_assert_text(NODE0_FILE, "3\n");
        /* Nothing changed: a second sync writes nothing (the journal counts writes). */
        assert_int_equal(knob_writes(s), 2);
        assert_int_equal(pools_sync(s->pools, "test"), 0);
        assert_int_equal(knob_writes(s), 2);

        /* A tenant gone behind the store's back (foreign keys off): pruned and shrunk at start. */
        snprintf(sql, sizeof sql,
                 "PRAGMA foreign_keys=OFF; DELETE FROM tenants WHERE id = %" PRId64 "; "
                 "PRAGMA foreign_keys=ON",
                 b);
        assert_int_equal(sqlite3_exec(store_db(s->store), sql, NULL, NULL, NULL), SQLITE_OK);
        assert_int_equal(store_grant_get(s->store, b, 0, &(StoreGrant) {}), 0); /* orphaned */
        assert_int_equal(pools_start(s->pools), 0);
        testutil_assert_text(NODE0_FILE, "0\n");
        testutil_assert_text(NODE1_FILE, "2\n");
        assert_int_equal(store_tenant_remove(s->store, a), 0);
        assert_int_equal(pools_sync(s->pools, "test"), 0);
        testutil_assert_pristine();
        subject_free(s);
}

/* An administrator's own setting of a node without grants is not the reserve's to undo. */
static void test_admin_setting_kept(void **state) {
        _cleanup_free_ char *error = NULL;
        Subject *s = subject_new(false);
        int64_t a = tenant_add(s, "web", 1000);
        Reply reply;

        assert_int_equal(journal_set(s->journal, "node.0.hugepages.2048kB", "6", "admin", &error), 0);
        assert_int_equal(pools_sync(s->pools, "test"), 0);
        testutil_assert_text(NODE0_FILE, "6\n");
        grant_ok(s, a, 2 * MIB, 1, 1);
        assert_int_equal(release(s, &root_peer, a, &reply), 200);
        reply_done(&reply);
        testutil_assert_text(NODE0_FILE, "6\n");
        testutil_assert_text(NODE1_FILE, "0\n");
        assert_int_equal(store_knob_count(s->store), 1);

        /* Nor once the reserve has given a node back: node 1 is no longer the reserve's. */
        assert_int_equal(journal_set(s->journal, "node.1.hugepages.2048kB", "7", "admin", &error), 0);
        assert_int_equal(pools_sync(s->pools, "test"), 0);
        testutil_assert_text(NODE1_FILE, "7\n");
        assert_int_equal(store_knob_count(s->store), 2);
        subject_free(s);
}

static void test_dry_run(void **state) {
        Subject *s = subject_new(true);
        int64_t a = tenant_add(s, "web", 1000);
        Reply reply;

        grant_ok(s, a, 4 * MIB, 1, 2);
        testutil_assert_pristine(); /* recorded, not written */
        assert_int_equal(release(s, &root_peer, a, &reply), 200);
        reply_done(&reply);
        assert_int_equal(store_knob_count(s->store), 0);
        testutil_assert_pristine();
        subject_free(s);
}

/* ---- the scheduler's resources: hugepages and poller_cores ---- */

/* The kernel allocates at most keep_limit pages on any node. */
static uint64_t keep_limit;

static ssize_t write_keep_limit(int fd, const void *buf, size_t n) {
        uint64_t want = strtoull(buf, NULL, 10);
        char out[32];
        int k;

        if (want <= keep_limit || n > sizeof out)
                return write(fd, buf, n);
        k = snprintf(out, sizeof out, "%" PRIu64 "\n", keep_limit);
        if (k < 0 || (size_t) k > n)
                return write(fd, buf, n);
        memset(out + k, '\n', n - (size_t) k);
        return write(fd, out, n);
}

static int64_t tenant_add_prio(Subject *s, const char *name, int priority) {
        int64_t id = tenant_add(s, name, 1000);
        Tenant t = {};

        assert_int_equal(store_tenant_get(s->store, id, &t), 0);
        t.priority = priority;
        assert_int_equal(store_tenant_update(s->store, &t), 0);
        tenant_done(&t);
        return id;
}

/* The Manager's wiring, with a scheduler without an event loop (passes by sched_run_pass()). */
static Scheduler *scheduler_wire(Subject *s, EventSink *sink) {
        SchedConf conf = { .mode = SCHED_MODE_EVENT, .pass_events = 64 };
        Scheduler *sc = NULL;

        alloc_classes_default(&conf.classes);
        assert_int_equal(sched_new(NULL, NULL, &conf, &sc), 0);
        assert_int_equal(sched_add_resource(sc, &(ResourceProvider) { "hugepages", "pages", 1u << SCHED_EVENT_HUGEPAGES,
                                                                      pools_hugepages_snapshot, pools_hugepages_apply,
                                                                      s->pools }),
                         0);
        assert_int_equal(sched_add_resource(sc,
                                            &(ResourceProvider) { "poller_cores", "cores", 1u << SCHED_EVENT_HUGEPAGES,
                                                                  pools_pollers_snapshot, pools_pollers_apply,
                                                                  s->pools }),
                         0);
        *sink = sched_event_sink(sc);
        pools_set_scheduler(s->pools, sink, &(ResourceDecider) { sched_decide, sc });
        return sc;
}

static const ResourceDemand *row_of(const ResourceSnapshot *snap, int64_t id) {
        for (size_t i = 0; i < snap->n; i++)
                if (snap->tenants[i].tenant_id == id)
                        return &snap->tenants[i];
        fail_msg("no row of tenant %" PRId64, id);
        return NULL;
}

static uint64_t grant_pages_of(Subject *s, int64_t id, unsigned node) {
        StoreGrant g = {};
        uint64_t pages;

        if (store_grant_get(s->store, id, node, &g) < 0)
                return 0;
        pages = g.pages;
        store_grant_done(&g);
        return pages;
}

static uint64_t allocation_of(Scheduler *sc, const char *name, int64_t id) {
        uint64_t v = UINT64_MAX;

        assert_int_equal(sched_allocation_get(sc, name, id, &v), 0);
        return v;
}

/* Snapshot and apply on their own, without a scheduler: what a tenant demands (its grants, a waiting
 * grant in place of its node's grant), its floor (granted pages), the capacity (a node not short:
 * its demand; a short one: what its kernel kept), and an apply that grants exactly what an
 * allocation covers. */
static void test_hugepages_provider(void **state) {
        _cleanup_(resource_snapshot_done) ResourceSnapshot snap = {};
        Subject *s = subject_new(false);
        int64_t a = tenant_add_prio(s, "web", 6), b = tenant_add_prio(s, "db", 1);
        EventSink sink = {};
        Scheduler *sc;
        Reply reply;

        /* No grants: nothing to share. */
        assert_int_equal(pools_hugepages_snapshot(s->pools, &snap), 0);
        assert_int_equal(snap.n, 0);
        assert_int_equal(snap.capacity, 0);
        resource_snapshot_done(&snap);

        grant_ok(s, a, 4 * MIB, 1, 2);
        grant_ok(s, b, 2 * MIB, 0, 1);
        assert_int_equal(pools_hugepages_snapshot(s->pools, &snap), 0);
        assert_int_equal(snap.n, 2);
        assert_int_equal(snap.capacity, 3); /* not short: each node's demand */
        assert_int_equal(row_of(&snap, a)->demand, 2);
        assert_int_equal(row_of(&snap, a)->floor, 2);
        assert_int_equal(row_of(&snap, a)->priority, 6);
        assert_int_equal(row_of(&snap, a)->owner, 1000);
        assert_int_equal(row_of(&snap, b)->demand, 1);
        resource_snapshot_done(&snap);

        /* Node 1 keeps at most 4: a's 2 -> 5 waits (the decider is a scheduler without passes). */
        sc = scheduler_wire(s, &sink);
        keep_limit = 4;
        knobs_set_write_fn(write_keep_limit);
        assert_int_equal(grant(s, &root_peer, a, 10 * MIB, 1, &reply), 507);
        reply_done(&reply);
        testutil_assert_text(NODE1_FILE, "2\n");
        assert_int_equal(pools_hugepages_snapshot(s->pools, &snap), 0);
        assert_int_equal(snap.capacity, 4 + 1); /* node 1: what the kernel kept; node 0: its demand */
        assert_int_equal(row_of(&snap, a)->demand, 5);
        assert_int_equal(row_of(&snap, a)->floor, 2);
        assert_int_equal(allocation_of(sc, "hugepages", a), 4); /* its grant and 2 of the 3 it asks more */

        /* An allocation covering less than the waiting grant grants nothing... */
        uint64_t alloc[2];
        size_t ia = row_of(&snap, a) - snap.tenants, ib = 1 - ia;

        alloc[ia] = 4;
        alloc[ib] = 1;
        assert_int_equal(pools_hugepages_apply(s->pools, snap.tenants, alloc, snap.n), 0);
        assert_int_equal(grant_pages_of(s, a, 1), 2);
        /* ...one that covers it grants it (the kernel permitting). */
        keep_limit = 10;
        alloc[ia] = 5;
        assert_int_equal(pools_hugepages_apply(s->pools, snap.tenants, alloc, snap.n), 1);
        assert_int_equal(grant_pages_of(s, a, 1), 5);
        testutil_assert_text(NODE1_FILE, "5\n");
        resource_snapshot_done(&snap);

        knobs_set_write_fn(NULL);
        pools_set_scheduler(s->pools, NULL, NULL);
        sched_free(sc);
        assert_int_equal(release(s, &root_peer, a, &reply), 200);
        reply_done(&reply);
        assert_int_equal(release(s, &root_peer, b, &reply), 200);
        reply_done(&reply);
        testutil_assert_pristine();
        subject_free(s);
}

/* Two tenants of different priority ask for more than the node keeps: the grants already made
 * stay (floors), the pages a release frees go to the higher priority first, whatever the order
 * of asking; a count change read by the reserve is an event. */
static void test_hugepages_shortage(void **state) {
        _cleanup_(resource_snapshot_done) ResourceSnapshot snap = {};
        Subject *s = subject_new(false);
        int64_t lo = tenant_add_prio(s, "low", 6), hi = tenant_add_prio(s, "high", 1), c = tenant_add_prio(s, "c", 7);
        EventSink sink = {};
        Scheduler *sc = scheduler_wire(s, &sink);
        json_object *alloc;
        Reply reply;

        keep_limit = 12;
        knobs_set_write_fn(write_keep_limit);
        grant_ok(s, c, 8 * MIB, 1, 4);
        grant_ok(s, lo, 8 * MIB, 1, 4);
        grant_ok(s, hi, 8 * MIB, 1, 4);
        testutil_assert_text(NODE1_FILE, "12\n");
        (void) sched_run_pass(sc);

        /* The low priority asks first; nothing is left, both wait. */
        assert_int_equal(grant(s, &root_peer, lo, 16 * MIB, 1, &reply), 507);
        assert_true(json_object_object_get_ex(reply.json, "allocation", &alloc));
        assert_int_equal(member_int(alloc, "obtained_pages"), 4);
        assert_true(json_object_get_boolean(json_object_object_get(alloc, "pending")));
        reply_done(&reply);
        assert_int_equal(grant(s, &root_peer, hi, 16 * MIB, 1, &reply), 507);
        reply_done(&reply);
        testutil_assert_text(NODE1_FILE, "12\n");
        assert_int_equal(partial_allocations(s), 1); /* the kernel refused once; then it was known */

        /* c releases: its 4 pages go to the higher priority's waiting grant, not the older one. */
        assert_int_equal(release(s, &root_peer, c, &reply), 200);
        reply_done(&reply);
        assert_true(sched_queue_depth(sc) > 0);
        (void) sched_run_pass(sc);
        assert_int_equal(grant_pages_of(s, hi, 1), 8);
        assert_int_equal(grant_pages_of(s, lo, 1), 4); /* never taken back */
        testutil_assert_text(NODE1_FILE, "12\n");
        assert_int_equal(allocation_of(sc, "hugepages", hi), 8);
        assert_int_equal(allocation_of(sc, "hugepages", lo), 4);

        /* An administrator gives the node more pages: GET /v1/maio reads the new count, an event;
         * the low priority's waiting grant is granted at the pass after. */
        keep_limit = 16;
        assert_int_equal(sched_queue_depth(sc), 0);
        testutil_put_text(NODE1_FILE, "16\n");
        assert_int_equal(list(s, &root_peer, &reply), 200);
        reply_done(&reply);
        assert_int_equal(sched_queue_depth(sc), 1);
        assert_int_equal(pools_hugepages_snapshot(s->pools, &snap), 0);
        assert_int_equal(snap.capacity, 16);
        (void) sched_run_pass(sc);
        assert_int_equal(grant_pages_of(s, lo, 1), 8);
        testutil_assert_text(NODE1_FILE, "16\n");

        knobs_set_write_fn(NULL);
        pools_set_scheduler(s->pools, NULL, NULL);
        sched_free(sc);
        assert_int_equal(release(s, &root_peer, lo, &reply), 200);
        reply_done(&reply);
        assert_int_equal(release(s, &root_peer, hi, &reply), 200);
        reply_done(&reply);
        testutil_assert_pristine();
        subject_free(s);
}

static unsigned grant_poller(Subject *s, int64_t id, Reply *reply) {
        return call(s, pools_op_grant, &pools_grant_body, &root_peer, id,
                    "{\"bytes\": 1, \"node\": 0, \"poller\": true}", reply);
}

static json_object *member(json_object *o, const char *key) {
        json_object *v = NULL;

        assert_true(json_object_object_get_ex(o, key, &v));
        return v;
}

/* One poller CPU: held by the first (a floor: never taken back); the two who ask after wait, and
 * the CPU freed goes to the higher priority. */
static void test_pollers_provider(void **state) {
        _cleanup_(resource_snapshot_done) ResourceSnapshot snap = {};
        Subject *s = subject_new(false);
        int64_t c = tenant_add_prio(s, "c", 7), lo = tenant_add_prio(s, "low", 6), hi = tenant_add_prio(s, "high", 1);
        EventSink sink = {};
        Scheduler *sc;
        Reply reply;

        /* None configured: the resource is not in use. */
        assert_int_equal(pools_pollers_snapshot(s->pools, &snap), -ENODEV);
        pools_set_conf(s->pools, &(PoolsConf) { .max_grant_bytes = defaults.max_grant_bytes, .poller_cpus = "1" });
        sc = scheduler_wire(s, &sink);
        assert_int_equal(grant_poller(s, c, &reply), 200);
        assert_int_equal(json_object_get_int(member(reply.json, "poller_cpu")), 1);
        reply_done(&reply);
        assert_int_equal(grant_poller(s, lo, &reply), 200);
        assert_null(member(reply.json, "poller_cpu"));
        assert_non_null(strstr(json_object_get_string(member(reply.json, "poller_reason")), "; waiting:"));
        reply_done(&reply);
        assert_int_equal(grant_poller(s, hi, &reply), 200);
        assert_null(member(reply.json, "poller_cpu"));
        reply_done(&reply);

        assert_int_equal(pools_pollers_snapshot(s->pools, &snap), 0);
        assert_int_equal(snap.capacity, 1);
        assert_int_equal(snap.n, 3);
        assert_int_equal(row_of(&snap, c)->floor, 1);
        assert_int_equal(row_of(&snap, lo)->demand, 1);
        assert_int_equal(row_of(&snap, lo)->floor, 0);
        assert_int_equal(row_of(&snap, hi)->priority, 1);
        /* An apply gives a free CPU only to a waiting tenant allocated one; none is free now. */
        uint64_t alloc[3] = { 1, 1, 1 };
        assert_int_equal(pools_pollers_apply(s->pools, snap.tenants, alloc, snap.n), 0);
        resource_snapshot_done(&snap);
        (void) sched_run_pass(sc);
        assert_int_equal(allocation_of(sc, "poller_cores", c), 1);
        assert_int_equal(allocation_of(sc, "poller_cores", hi), 0);

        /* c releases: the CPU goes to the higher priority, who asked last. */
        assert_int_equal(release(s, &root_peer, c, &reply), 200);
        reply_done(&reply);
        (void) sched_run_pass(sc);
        assert_int_equal(allocation_of(sc, "poller_cores", hi), 1);
        assert_int_equal(allocation_of(sc, "poller_cores", lo), 0);
        assert_int_equal(grant_poller(s, hi, &reply), 200);
        assert_int_equal(json_object_get_int(member(reply.json, "poller_cpu")), 1);
        reply_done(&reply);
        /* A grant without poller stops the wait. */
        assert_int_equal(call(s, pools_op_grant, &pools_grant_body, &root_peer, lo, "{\"bytes\": 1, \"node\": 0}",
                              &reply),
                         200);
        reply_done(&reply);
        assert_int_equal(pools_pollers_snapshot(s->pools, &snap), 0);
        assert_int_equal(snap.n, 1);
        resource_snapshot_done(&snap);

        pools_set_scheduler(s->pools, NULL, NULL);
        sched_free(sc);
        assert_int_equal(release(s, &root_peer, lo, &reply), 200);
        reply_done(&reply);
        assert_int_equal(release(s, &root_peer, hi, &reply), 200);
        reply_done(&reply);
        testutil_assert_pristine();
        subject_free(s);
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
                cmocka_unit_test_setup_teardown(test_hugepages_provider, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hugepages_shortage, setup, teardown),
                cmocka_unit_test_setup_teardown(test_pollers_provider, setup, teardown),
        };

        if (testutil_fixtures_init() < 0)
                return 1;
        return cmocka_run_group_tests(tests, NULL, NULL);
}
