/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for splitting cores as a scheduler resource: the pure choice of which elephants a
 * tenant's share of core slots splits (mflow-split.c), the splitting_cores provider's snapshot and
 * apply on a fixture Mflow (four CPUs below a fixture root, tenants with declared addresses in a
 * store, flows put in its table by hand, no BPF), and the provider under the real scheduler:
 * tenants' elephants split in priority order when the slots are short, a share that shrinks puts
 * a split flow back to pass-through with a state_reason naming the scheduler, and a pass re-runs
 * the attribution by address. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cleanup.h"
#include "conf.h"
#include "mflow-split.h"
#include "mflowd-internal.h"
#include "scheduler.h"
#include "store.h"
#include "testutil.h"
#include "time-util.h"

/* ---- the pure choice ---- */

static void test_select_no_scheduler(void **state) {
        const MflowSplitFlow f[] = { { 1, 2, false, 1 }, { 2, 2, true, 2 }, { 0, 8, false, 3 } };
        bool admit[3];

        mflow_split_select(f, 3, NULL, 0, admit);
        assert_true(admit[0] && admit[1] && admit[2]);
}

static void test_select_shares(void **state) {
        /* Tenant 1: a split flow detected last, two waiting ones; tenant 2: one asking 3 slots, then one
         * asking 1; tenant 3 has no share yet; tenant 4 a share of 0. */
        const MflowSplitFlow f[] = {
                { 1, 2, false, 10 }, { 1, 2, true, 30 }, { 1, 2, false, 20 }, { 2, 3, false, 1 },
                { 2, 1, false, 2 },  { 3, 2, true, 1 },  { 3, 2, false, 2 },  { 4, 2, true, 1 },
        };
        const MflowSplitShare shares[] = { { 1, 4 }, { 2, 2 }, { 4, 0 } };
        bool admit[ELEMENTSOF(f)];

        mflow_split_select(f, ELEMENTSOF(f), shares, ELEMENTSOF(shares), admit);
        assert_true(admit[1]);  /* split: kept first */
        assert_true(admit[0]);  /* then the earliest waiting one */
        assert_false(admit[2]); /* no slot left */
        assert_false(admit[3]); /* 3 slots do not fit in 2 */
        assert_true(admit[4]);  /* 1 does */
        assert_true(admit[5]);  /* no share seen yet: what is split stays */
        assert_false(admit[6]); /* and nothing new */
        assert_false(admit[7]); /* a share of 0 takes a split flow back */

        /* An empty table (the scheduler answered nothing yet): split ones stay, none is added. */
        mflow_split_select(f, ELEMENTSOF(f), shares, 0, admit);
        for (size_t i = 0; i < ELEMENTSOF(f); i++)
                assert_int_equal(admit[i], f[i].split);
}

static void test_splitting_cores(void **state) {
        MflowSnapshot s = { .n_cpus = 4 };

        for (unsigned i = 0; i < 4; i++)
                s.cpus[i].online = i != 2;
        assert_int_equal(mflow_splitting_cores(&s), 3);
        s.cpus[0].poller = s.cpus[2].poller = true; /* an offline poller counts for nothing */
        assert_int_equal(mflow_splitting_cores(&s), 2);
        s.cpus[1].poller = s.cpus[3].poller = true; /* all pollers: the online ones, as the assignment falls back */
        assert_int_equal(mflow_splitting_cores(&s), 3);
}

/* ---- the provider on a fixture Mflow ---- */

static const TestFile cpu_files[] = {
        { "sys/devices/system/cpu/online", "0-3\n" },
};

typedef struct Fixture {
        char *root;
        Store *store;
        Config *conf;
        Mflow *m;
        Dev *dev;
        int64_t a, b; /* tenants: a at priority 0 owns 10.0.0.1, b at priority 3 owns 10.0.0.2 */
} Fixture;

static int64_t tenant_add(Fixture *x, const char *name, int priority, uid_t uid, const char *addresses) {
        char hash[TOKEN_HASH_STRLEN + 1];
        Tenant t = { .name = (char *) name,
                     .priority = priority,
                     .workload_class = (char *) "batch",
                     .uid = uid,
                     .addresses = (char *) addresses };
        int64_t id = 0;

        memset(hash, 'a', TOKEN_HASH_STRLEN);
        hash[TOKEN_HASH_STRLEN] = '\0';
        hash[0] = name[0];
        assert_int_equal(store_tenant_add(x->store, &t, hash, &id), 0);
        return id;
}

static int setup(void **state) {
        Fixture *x = calloc(1, sizeof(*x));

        assert_non_null(x);
        x->root = testutil_files_tree("mflow-sched", cpu_files, ELEMENTSOF(cpu_files));
        assert_non_null(x->root);
        assert_int_equal(store_open(x->root, &x->store), 0);
        assert_int_equal(conf_new_default(&x->conf), 0);
        x->conf->mflow_flows_per_core = 1; /* 4 CPUs: 4 slots, two elephants of 2 cores */
        assert_int_equal(mflow_new(&(MflowDeps) { .store = x->store, .root = x->root, .dry_run = true }, &x->m), 0);
        mflow_set_config(x->m, x->conf);
        x->dev = mflowd_dev_new(x->m, "eth9");
        assert_non_null(x->dev);
        x->dev->attached = true; /* in the default (adaptive) mode, no BPF: marks fail, decisions stand */
        x->a = tenant_add(x, "a", 0, 1000, "10.0.0.1");
        x->b = tenant_add(x, "b", 3, 1001, "10.0.0.2");
        *state = x;
        return 0;
}

static int teardown(void **state) {
        Fixture *x = *state;

        mflow_free(x->m);
        conf_free(x->conf);
        store_free(x->store);
        *state = x->root;
        testutil_files_tree_teardown(state);
        free(x);
        return 0;
}

#define FLOWS_MAX 16

/* Puts an elephant from 10.0.0.SRC to 10.0.0.200:PORT in the table, detected at `when`. */
static Flow *flow_put(Fixture *x, uint8_t src, uint16_t port, uint64_t when) {
        Mflow *m = x->m;
        Flow *f;

        /* Room for every flow a test puts, once: the pointers returned stay valid. */
        if (!m->flows)
                m->flows = calloc(FLOWS_MAX, sizeof(*f));
        assert_non_null(m->flows);
        assert_true(m->n_flows < FLOWS_MAX);
        f = &m->flows[m->n_flows++];
        *f = (Flow) { .dev = x->dev, .state = FLOW_ELEPHANT, .detected_usec = when };
        f->key.src[10] = f->key.src[11] = f->key.dst[10] = f->key.dst[11] = 0xff;
        f->key.src[12] = f->key.dst[12] = 10;
        f->key.src[15] = src;
        f->key.dst[15] = 200;
        f->key.dport = port;
        f->key.proto = 6;
        return f;
}

static const ResourceDemand *row(const ResourceSnapshot *s, int64_t id) {
        for (size_t i = 0; i < s->n; i++)
                if (s->tenants[i].tenant_id == id)
                        return &s->tenants[i];
        return NULL;
}

static void test_snapshot(void **state) {
        Fixture *x = *state;
        _cleanup_(resource_snapshot_done) ResourceSnapshot s = {};
        const ResourceDemand *d;

        flow_put(x, 1, 1, 1);
        flow_put(x, 1, 2, 2);
        flow_put(x, 2, 3, 3);
        flow_put(x, 9, 4, 4);                    /* nobody's: the host's */
        flow_put(x, 2, 5, 5)->state = FLOW_IDLE; /* asks for nothing */
        flow_put(x, 2, 6, 6)->stalled = true;    /* nor does a stalled one */
        assert_int_equal(mflow_splitting_snapshot(x->m, &s), 0);
        assert_int_equal(s.capacity, 4);
        assert_int_equal(s.n, 3);
        d = row(&s, x->a);
        assert_non_null(d);
        assert_int_equal(d->demand, 4);
        assert_int_equal(d->priority, 0);
        assert_int_equal(d->owner, 1000);
        d = row(&s, x->b);
        assert_non_null(d);
        assert_int_equal(d->demand, 2);
        assert_int_equal(d->priority, 3);
        d = row(&s, 0);
        assert_non_null(d);
        assert_int_equal(d->demand, 2);
        assert_int_equal(d->priority, 7);
        assert_int_equal(d->owner, 0);
        resource_snapshot_done(&s);

        /* Poller CPUs are no splitting cores; a device's "cores" limits them. */
        free(x->conf->pools_poller_cpus);
        x->conf->pools_poller_cpus = strdup("3");
        assert_non_null(x->conf->pools_poller_cpus);
        mflow_set_config(x->m, x->conf);
        assert_int_equal(mflow_splitting_snapshot(x->m, &s), 0);
        assert_int_equal(s.capacity, 3);
        resource_snapshot_done(&s);
        x->dev->conf.have_allowed = true;
        x->dev->conf.allowed[0] = x->dev->conf.allowed[3] = true;
        assert_int_equal(mflow_splitting_snapshot(x->m, &s), 0);
        assert_int_equal(s.capacity, 1);
        assert_int_equal(row(&s, x->a)->demand, 2); /* an elephant gets at most the cores there are */
        resource_snapshot_done(&s);

        /* No device in a split mode: the resource is not in use. */
        x->dev->conf.mode = MFLOW_CONF_MODE_PASS;
        assert_int_equal(mflow_splitting_snapshot(x->m, &s), -ENODEV);
        x->dev->conf.mode = MFLOW_CONF_MODE_SPLIT;
        x->dev->attached = false;
        assert_int_equal(mflow_splitting_snapshot(x->m, &s), -ENODEV);
}

static void never_called(void *userdata, SchedEventClass cls, int64_t tenant_id, int priority, uint64_t usec) {
        fail_msg("the provider emitted an event (class %d)", (int) cls);
}

static void test_apply(void **state) {
        Fixture *x = *state;
        _cleanup_(resource_snapshot_done) ResourceSnapshot s = {};
        EventSink sink = { .fn = NULL };
        Flow *a1, *a2, *b1;
        uint64_t alloc[3];

        a1 = flow_put(x, 1, 1, 1);
        a2 = flow_put(x, 1, 2, 2);
        b1 = flow_put(x, 2, 3, 3);
        assert_int_equal(mflow_splitting_snapshot(x->m, &s), 0);

        /* Without a scheduler every elephant is split (the behaviour before splitting cores were scheduled). */
        assert_int_equal(mflowd_flows_select(x->m), 0);
        assert_true(a1->admitted && a2->admitted && b1->admitted);

        /* With one, what apply gives: a keeps one of its two, b none. */
        sink.fn = never_called; /* wired; the provider emits nothing here */
        mflow_set_event_sink(x->m, &sink);
        a1->state = FLOW_SPLIT; /* as if its mark had been written */
        for (size_t i = 0; i < s.n; i++)
                alloc[i] = s.tenants[i].tenant_id == x->a ? 2 : 0;
        assert_int_equal(mflow_splitting_apply(x->m, s.tenants, alloc, s.n), 0);
        assert_true(a1->admitted);
        assert_int_equal(a1->state, FLOW_SPLIT);
        assert_false(a2->admitted);
        assert_non_null(strstr(a2->reason, "not split: the scheduler's splitting_cores share of tenant"));
        assert_non_null(strstr(a2->reason, "is 2 of the 4 core slots"));
        assert_false(b1->admitted);
        assert_non_null(strstr(b1->reason, "0 of the 2"));

        /* a's share shrinks to nothing: its split flow goes back to pass-through (one write). */
        for (size_t i = 0; i < s.n; i++)
                alloc[i] = s.tenants[i].tenant_id == x->b ? 2 : 0;
        assert_int_equal(mflow_splitting_apply(x->m, s.tenants, alloc, s.n), 1);
        assert_false(a1->admitted);
        assert_int_equal(a1->state, FLOW_ELEPHANT);
        assert_int_equal(a1->n_cores, 0);
        assert_non_null(strstr(a1->reason, "0 of the 4"));
        assert_true(b1->admitted); /* its mark failed here (no BPF): it waits, admitted */
        assert_int_equal(b1->state, FLOW_ELEPHANT);
        mflow_set_event_sink(x->m, NULL);
}

/* ---- the provider under the scheduler ---- */

static Scheduler *sched_for(Fixture *x, EventSink *sink) {
        SchedConf conf = { .mode = SCHED_MODE_EVENT,
                           .interval_usec = 3600 * USEC_PER_SEC,
                           .fallback_usec = 3600 * USEC_PER_SEC,
                           .pass_events = 64 };
        Scheduler *s;

        alloc_classes_default(&conf.classes); /* 0-1, 2-5, 6-7 */
        assert_int_equal(sched_new(NULL, NULL, &conf, &s), 0);
        assert_int_equal(sched_add_resource(s, &(ResourceProvider) { "splitting_cores", "core slots",
                                                                     (1u << SCHED_EVENT_FLOW) |
                                                                             (1u << SCHED_EVENT_TENANT) |
                                                                             (1u << SCHED_EVENT_LINK),
                                                                     mflow_splitting_snapshot, mflow_splitting_apply,
                                                                     x->m }),
                         0);
        *sink = sched_event_sink(s);
        mflow_set_event_sink(x->m, sink);
        assert_int_equal(sched_start(s), 0);
        return s;
}

static uint64_t allocation(Scheduler *s, int64_t id) {
        uint64_t v = UINT64_MAX;

        assert_int_equal(sched_allocation_get(s, "splitting_cores", id, &v), 0);
        return v;
}

static void test_priority_order(void **state) {
        Fixture *x = *state;
        EventSink sink;
        Scheduler *s;
        Flow *a1, *a2, *b1, *h1;
        int64_t c;

        a1 = flow_put(x, 1, 1, 1);
        a2 = flow_put(x, 1, 2, 2);
        b1 = flow_put(x, 2, 3, 3);
        h1 = flow_put(x, 9, 4, 4);
        s = sched_for(x, &sink);

        /* 4 slots, a (class 0) asks 4, b (class 1) 2, the host (class 2) 2: a first, the others wait. */
        sched_run_pass(s);
        assert_int_equal(allocation(s, x->a), 4);
        assert_int_equal(allocation(s, x->b), 0);
        assert_int_equal(allocation(s, 0), 0);
        assert_true(a1->admitted && a2->admitted);
        assert_false(b1->admitted || h1->admitted);
        assert_non_null(strstr(b1->reason, "splitting_cores share of tenant"));
        assert_non_null(strstr(h1->reason, "share of the host is 0 of the 2 core slots"));

        /* One of a's goes idle (as the ring buffer's idle event does it): b's turn, the host still waits. */
        a2->state = FLOW_IDLE;
        a2->admitted = false;
        (void) mflowd_flows_select(x->m);
        event_sink_emit(&sink, SCHED_EVENT_FLOW, x->a, 0, 0);
        assert_int_equal(sched_run_pass(s), 1);
        assert_int_equal(allocation(s, x->a), 2);
        assert_int_equal(allocation(s, x->b), 2);
        assert_int_equal(allocation(s, 0), 0);
        assert_true(a1->admitted && b1->admitted);
        assert_false(h1->admitted);

        /* It comes back: a takes its slots back from b, whose split flow returns to pass-through. */
        b1->state = FLOW_SPLIT;
        a1->state = FLOW_SPLIT;
        a2->state = FLOW_ELEPHANT;
        (void) mflowd_flows_select(x->m); /* a's share in force (2) does not cover it yet */
        assert_false(a2->admitted);
        assert_non_null(strstr(a2->reason, "2 of the 4"));
        event_sink_emit(&sink, SCHED_EVENT_FLOW, x->a, 0, 0);
        sched_run_pass(s);
        assert_int_equal(allocation(s, x->a), 4);
        assert_int_equal(allocation(s, x->b), 0);
        assert_true(a1->admitted && a2->admitted);
        assert_int_equal(a1->state, FLOW_SPLIT);
        assert_false(b1->admitted);
        assert_int_equal(b1->state, FLOW_ELEPHANT);
        assert_non_null(strstr(b1->reason, "splitting_cores"));

        /* A tenant declares the host flow's address (a tenant event, as an address change is a link
         * event): the pass attributes the flow again, and c (priority 1) shares class 0 with a. */
        c = tenant_add(x, "c", 1, 1002, "10.0.0.9");
        event_sink_emit(&sink, SCHED_EVENT_TENANT, c, 1, 0);
        sched_run_pass(s);
        assert_int_equal(h1->tenant_id, c);
        /* Weights 8 and 7: a's slots finish at 1/8, 2/8, ..., c's at 1/7, 2/7: a 2, c 2. */
        assert_int_equal(allocation(s, x->a), 2);
        assert_int_equal(allocation(s, c), 2);
        assert_int_equal(sched_allocation_get(s, "splitting_cores", 0, &(uint64_t) { 0 }), -ENOENT);
        assert_true(a1->admitted && h1->admitted);
        assert_false(a2->admitted || b1->admitted);

        /* A link event alone changes nothing: the same plan, no apply. */
        event_sink_emit(&sink, SCHED_EVENT_LINK, 0, SCHED_PRIORITY_HOST, 0);
        sched_run_pass(s);
        assert_int_equal(allocation(s, c), 2);

        mflow_set_event_sink(x->m, NULL);
        sched_free(s);
}

/* A tenant registered by pid owns the addresses of its process's namespace (ROOT/proc/PID/net).
 * When they change, the topology's rtnetlink watch sends a link event; the pass it arms attributes
 * the flows again: the host's flow becomes the tenant's, with its demand and share. */
static void test_address_event(void **state) {
        Fixture *x = *state;
        Tenant t = { .name = (char *) "d",
                     .priority = 2,
                     .workload_class = (char *) "batch",
                     .uid = 1003,
                     .pid = 4242,
                     .pid_starttime = 987654 };
        char hash[TOKEN_HASH_STRLEN + 1];
        EventSink sink;
        Scheduler *s;
        int64_t d = 0;
        Flow *h;

        testutil_write_file(x->root, "proc/4242/stat",
                            "4242 (server) S 1 4242 4242 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 "
                            "987654 1 2 3\n");
        testutil_write_file(x->root, "proc/4242/net/fib_trie", "Local:\n  |-- 10.0.0.6\n     /32 host LOCAL\n");
        memset(hash, 'd', TOKEN_HASH_STRLEN);
        hash[TOKEN_HASH_STRLEN] = '\0';
        assert_int_equal(store_tenant_add(x->store, &t, hash, &d), 0);
        h = flow_put(x, 5, 7, 1);
        s = sched_for(x, &sink);
        sched_run_pass(s);
        assert_int_equal(h->tenant_id, 0);
        assert_int_equal(allocation(s, 0), 2);
        assert_true(h->admitted);

        /* 10.0.0.5 appears in its namespace: nothing but the link event tells the daemon. */
        testutil_write_file(x->root, "proc/4242/net/fib_trie",
                            "Local:\n  |-- 10.0.0.5\n     /32 host LOCAL\n  |-- 10.0.0.6\n     /32 host LOCAL\n");
        sched_run_pass(s); /* no event: no pass over the resource */
        assert_int_equal(h->tenant_id, 0);
        event_sink_emit(&sink, SCHED_EVENT_LINK, 0, SCHED_PRIORITY_HOST, 0);
        assert_int_equal(sched_run_pass(s), 1);
        assert_int_equal(h->tenant_id, d);
        assert_int_equal(h->tenant_priority, 2);
        assert_int_equal(allocation(s, d), 2);
        assert_int_equal(sched_allocation_get(s, "splitting_cores", 0, &(uint64_t) { 0 }), -ENOENT);
        assert_true(h->admitted); /* kept split across the move: its new tenant's share covers it */

        mflow_set_event_sink(x->m, NULL);
        sched_free(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_select_no_scheduler),
                cmocka_unit_test(test_select_shares),
                cmocka_unit_test(test_splitting_cores),
                cmocka_unit_test_setup_teardown(test_snapshot, setup, teardown),
                cmocka_unit_test_setup_teardown(test_apply, setup, teardown),
                cmocka_unit_test_setup_teardown(test_priority_order, setup, teardown),
                cmocka_unit_test_setup_teardown(test_address_event, setup, teardown),
        };

        if (testutil_fixtures_init() < 0)
                return EXIT_FAILURE;
        return cmocka_run_group_tests(tests, NULL, NULL);
}
