/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for daemon/sched: the event queue's order and bound, the purity and floors of the
 * per-resource plan, and the scheduler with fake resources: which passes evaluate what, the bound
 * on events per pass (a burst costs a few passes, the first not delayed), periodic mode, retries,
 * allocation-changed notifications, and that the API is never starved by a flood of events. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cmocka.h>

#include "cleanup.h"
#include "sched-internal.h"
#include "time-util.h"

/* ---- the queue ---- */

static void test_queue_order(void **state) {
        SchedQueue q;
        SchedEvent ev;
        /* pushed in this order; served: host first, then by priority, class, age */
        const SchedEvent in[] = {
                { .cls = SCHED_EVENT_TIMER, .priority = 5, .tenant_id = 1 },
                { .cls = SCHED_EVENT_FEEDBACK, .priority = 2, .tenant_id = 2 },
                { .cls = SCHED_EVENT_TENANT, .priority = 2, .tenant_id = 3 },
                { .cls = SCHED_EVENT_LINK, .priority = SCHED_PRIORITY_HOST },
                { .cls = SCHED_EVENT_FEEDBACK, .priority = 2, .tenant_id = 4 },
                { .cls = SCHED_EVENT_TENANT, .priority = 0, .tenant_id = 5 },
        };
        const int64_t want[] = { 0, 5, 3, 2, 4, 1 };

        assert_int_equal(sched_queue_init(&q, 5), 0);
        for (size_t i = 0; i < 5; i++)
                assert_int_equal(sched_queue_push(&q, &in[i]), 0);
        /* Full: refused and counted. */
        assert_int_equal(sched_queue_push(&q, &in[5]), -ENOBUFS);
        assert_int_equal(q.dropped, 1);
        assert_int_equal(sched_queue_pop(&q, &ev), 1);
        assert_int_equal(ev.cls, SCHED_EVENT_LINK);
        assert_int_equal(sched_queue_push(&q, &in[5]), 0);
        for (size_t i = 1; i < ELEMENTSOF(want); i++) {
                assert_int_equal(sched_queue_pop(&q, &ev), 1);
                assert_int_equal(ev.tenant_id, want[i]);
        }
        assert_int_equal(sched_queue_pop(&q, &ev), 0);
        sched_queue_done(&q);
        assert_int_equal(sched_queue_init(&q, 0), -EINVAL);
}

/* Many random events come out sorted by (priority, class, seq). */
static void test_queue_heap(void **state) {
        SchedQueue q;
        SchedEvent prev = {}, ev;
        uint64_t x = 88172645463325252ULL;

        assert_int_equal(sched_queue_init(&q, 1000), 0);
        for (int i = 0; i < 1000; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                ev = (SchedEvent) { .cls = (SchedEventClass) (x % _SCHED_EVENT_CLASS_MAX),
                                    .priority = (int) (x >> 8) % 9 - 1 };
                assert_int_equal(sched_queue_push(&q, &ev), 0);
        }
        for (int i = 0; i < 1000; i++) {
                assert_int_equal(sched_queue_pop(&q, &ev), 1);
                if (i > 0)
                        assert_true(sched_event_before(&prev, &ev));
                prev = ev;
        }
        sched_queue_done(&q);
}

/* ---- the plan ---- */

static void test_plan_pure(void **state) {
        AllocClasses c;
        ResourceDemand t[] = {
                { .tenant_id = 2, .priority = 0, .demand = 60 },
                { .tenant_id = 5, .priority = 4, .demand = 100 },
                { .tenant_id = 9, .priority = 7, .demand = 100 },
        };
        ResourceDemand copy[ELEMENTSOF(t)];
        ResourceSnapshot s = { .capacity = 100, .tenants = t, .n = ELEMENTSOF(t) };
        const SchedHeld held[] = { { 1, 10 }, { 2, 60 }, { 5, 10 } };
        SchedHeld held_copy[ELEMENTSOF(held)];
        _cleanup_(sched_plan_done) SchedPlan a = {}, b = {};

        alloc_classes_default(&c);
        memcpy(copy, t, sizeof t);
        memcpy(held_copy, held, sizeof held);
        assert_int_equal(sched_plan_compute(&s, &c, held, ELEMENTSOF(held), &a), 0);
        /* Class 0-1 first (60), then 2-5 gets the remaining 40, 6-7 nothing. */
        assert_int_equal(a.alloc[0], 60);
        assert_int_equal(a.alloc[1], 40);
        assert_int_equal(a.alloc[2], 0);
        assert_int_equal(a.left, 0);
        /* Changed: 5 (10 -> 40), 9 (new), and 1 (gone); 2 holds its 60. */
        assert_false(a.changed[0]);
        assert_true(a.changed[1]);
        assert_true(a.changed[2]);
        assert_int_equal(a.n_changed, 3);
        /* Pure: the inputs are untouched and the same inputs give the same plan. */
        assert_memory_equal(copy, t, sizeof t);
        assert_memory_equal(held_copy, held, sizeof held);
        assert_int_equal(sched_plan_compute(&s, &c, held, ELEMENTSOF(held), &b), 0);
        assert_memory_equal(a.alloc, b.alloc, sizeof *a.alloc * a.n);
        assert_memory_equal(a.changed, b.changed, sizeof *a.changed * a.n);
        assert_int_equal(a.n_changed, b.n_changed);
        sched_plan_done(&b);
        /* Ids out of order are refused. */
        t[0].tenant_id = 7;
        assert_int_equal(sched_plan_compute(&s, &c, held, ELEMENTSOF(held), &b), -EINVAL);
}

/* Units never taken back (mapped hugepages) stay, also when they exceed the capacity. */
static void test_plan_floors(void **state) {
        AllocClasses c;
        ResourceDemand t[] = {
                { .tenant_id = 1, .priority = 0, .demand = 50, .floor = 0 },
                { .tenant_id = 2, .priority = 7, .demand = 40, .floor = 30 },
        };
        ResourceSnapshot s = { .capacity = 60, .tenants = t, .n = 2 };
        _cleanup_(sched_plan_done) SchedPlan p = {};

        alloc_classes_default(&c);
        assert_int_equal(sched_plan_compute(&s, &c, NULL, 0, &p), 0);
        /* 30 set aside for tenant 2; the 30 left go to priority 0 first. */
        assert_int_equal(p.alloc[0], 30);
        assert_int_equal(p.alloc[1], 30);
        sched_plan_done(&p);
        s.capacity = 20;
        assert_int_equal(sched_plan_compute(&s, &c, NULL, 0, &p), 0);
        assert_int_equal(p.alloc[0], 0);
        assert_int_equal(p.alloc[1], 30);
        assert_int_equal(p.n_changed, 2);
}

/* ---- the scheduler, with fake resources ---- */

typedef struct Fake {
        uint64_t capacity;
        ResourceDemand t[8];
        size_t n;
        unsigned snapshots, applies;
        int fail; /* apply returns this while < 0 */
        uint64_t last[8];
} Fake;

static int fake_snapshot(void *userdata, ResourceSnapshot *ret) {
        Fake *f = userdata;

        f->snapshots++;
        ret->capacity = f->capacity;
        ret->n = f->n;
        ret->tenants = calloc(f->n ?: 1, sizeof *ret->tenants);
        if (!ret->tenants)
                return -ENOMEM;
        memcpy(ret->tenants, f->t, f->n * sizeof *f->t);
        return 0;
}

static int fake_apply(void *userdata, const ResourceDemand *t, const uint64_t *alloc, size_t n) {
        Fake *f = userdata;

        f->applies++;
        if (f->fail < 0)
                return f->fail;
        memcpy(f->last, alloc, n * sizeof *alloc);
        return (int) n;
}

static unsigned notified;

static void on_notify(void *userdata, const NotifyEvent *ev) {
        assert_int_equal(ev->kind, NOTIFY_ALLOCATION_CHANGED);
        notified++;
}

static Scheduler *fake_sched(sd_event *e, SchedMode mode, unsigned pass_events, Fake *f, uint32_t events) {
        SchedConf conf = { .mode = mode,
                           .interval_usec = 3600 * USEC_PER_SEC,
                           .fallback_usec = 3600 * USEC_PER_SEC,
                           .pass_events = pass_events };
        Scheduler *s;

        alloc_classes_default(&conf.classes);
        assert_int_equal(sched_new(e, NULL, &conf, &s), 0);
        assert_int_equal(sched_add_resource(s, &(ResourceProvider) { "fake", "units", events, fake_snapshot, fake_apply,
                                                                     f }),
                         0);
        assert_int_equal(sched_add_resource(s, &(ResourceProvider) { "fake", "units", events, fake_snapshot, fake_apply,
                                                                     f }),
                         -EEXIST);
        return s;
}

static void test_sched_passes(void **state) {
        Fake f = { .capacity = 10, .n = 2, .t = { { 1, 0, 0, 8 }, { 2, 0, 5, 8 } } };
        Notifier n = { on_notify, NULL };
        _cleanup_(sched_freep) Scheduler *s = fake_sched(NULL, SCHED_MODE_EVENT, 2, &f, 1u << SCHED_EVENT_TENANT);
        EventSink sink = sched_event_sink(s);
        uint64_t v;

        sched_set_notifier(s, &n);
        assert_int_equal(sched_start(s), 0);
        /* The first pass evaluates everything: priority 0 gets 8, priority 5 the 2 left. */
        assert_int_equal(sched_run_pass(s), 0);
        assert_int_equal(f.applies, 1);
        assert_int_equal(f.last[0], 8);
        assert_int_equal(f.last[1], 2);
        assert_int_equal(notified, 2);
        assert_int_equal(sched_allocation_get(s, "fake", 2, &v), 0);
        assert_int_equal(v, 2);
        assert_int_equal(sched_allocation_get(s, "fake", 3, &v), -ENOENT);
        /* An event of a class the resource does not listen to costs no evaluation. */
        event_sink_emit(&sink, SCHED_EVENT_FLOW, 0, SCHED_PRIORITY_HOST, 0);
        assert_int_equal(sched_run_pass(s), 1);
        assert_int_equal(f.snapshots, 1);
        /* Five joins with two events per pass: three passes, the first at once; nothing changed
         * so nothing is applied or announced. */
        for (int i = 0; i < 5; i++)
                event_sink_emit(&sink, SCHED_EVENT_TENANT, 1, 0, 0);
        assert_int_equal(sched_queue_depth(s), 5);
        assert_int_equal(sched_run_pass(s), 2);
        assert_int_equal(sched_run_pass(s), 2);
        assert_int_equal(sched_run_pass(s), 1);
        assert_int_equal(sched_run_pass(s), 0);
        assert_int_equal(f.snapshots, 4);
        assert_int_equal(f.applies, 1);
        assert_int_equal(notified, 2);
        assert_int_equal(s->reaction_count, 6);
        /* A tenant leaves: the other gets its share. A failed apply is retried at the next pass
         * even without an event. */
        f.t[0] = f.t[1];
        f.n = 1;
        f.fail = -EIO;
        event_sink_emit(&sink, SCHED_EVENT_TENANT, 1, 0, 0);
        assert_int_equal(sched_run_pass(s), 1);
        assert_int_equal(f.applies, 2);
        assert_non_null(s->res[0].error);
        f.fail = 0;
        assert_int_equal(sched_run_pass(s), 0);
        assert_int_equal(f.applies, 3);
        assert_int_equal(f.last[0], 8);
        assert_null(s->res[0].error);
        assert_int_equal(notified, 3);
        assert_int_equal(sched_allocation_get(s, "fake", 1, &v), -ENOENT);
}

/* Periodic mode: events are only counted and queued; the period's pass takes them all and looks
 * at everything. */
static void test_sched_periodic(void **state) {
        Fake f = { .capacity = 10, .n = 1, .t = { { 1, 0, 0, 4 } } };
        _cleanup_(sched_freep) Scheduler *s = fake_sched(NULL, SCHED_MODE_PERIODIC, 1, &f, 1u << SCHED_EVENT_TENANT);
        EventSink sink = sched_event_sink(s);

        for (int i = 0; i < 10; i++)
                event_sink_emit(&sink, SCHED_EVENT_FLOW, 0, 0, 0);
        assert_int_equal(sched_run_pass(s), 10);
        assert_int_equal(f.snapshots, 1);
        assert_int_equal(s->full_passes_total, 1);
        assert_int_equal(s->events_total[SCHED_EVENT_FLOW], 10);
}

static int on_api(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        Scheduler *s = userdata;
        char c;

        assert_int_equal(read(fd, &c, 1), 1);
        /* The request is served before the flood is worked off: at most one pass ran. */
        assert_true(s->passes_total <= 1);
        assert_true(sched_queue_depth(s) > 0);
        return sd_event_exit(sd_event_source_get_event(es), 0);
}

/* A flood of events never starves the API: passes take a bounded number of events each and run
 * below the API's sources, so a pending request is served between them. */
static void test_sched_api_not_starved(void **state) {
        Fake f = { .capacity = 10, .n = 1, .t = { { 1, 0, 0, 4 } } };
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(sched_freep) Scheduler *s = NULL;
        sd_event_source *io = NULL;
        EventSink sink;
        int p[2];

        assert_int_equal(sd_event_new(&e), 0);
        s = fake_sched(e, SCHED_MODE_EVENT, 8, &f, 1u << SCHED_EVENT_TENANT);
        sink = sched_event_sink(s);
        assert_int_equal(sched_start(s), 0);
        for (int i = 0; i < SCHED_QUEUE_MAX + 10; i++)
                event_sink_emit(&sink, SCHED_EVENT_TENANT, i, i % 8, 0);
        /* Beyond the bound: dropped, counted, and a full pass follows. */
        assert_int_equal(s->queue.dropped, 10);
        assert_int_equal(pipe(p), 0);
        assert_int_equal(sd_event_add_io(e, &io, p[0], EPOLLIN, on_api, s), 0);
        assert_int_equal(write(p[1], "x", 1), 1);
        assert_int_equal(sd_event_loop(e), 0);
        /* The rest is worked off afterwards, eight events a pass. */
        while (sched_queue_depth(s) > 0)
                assert_int_equal(sched_run_pass(s), 8);
        assert_int_equal(s->reaction_count, SCHED_QUEUE_MAX);
        sd_event_source_disable_unref(io);
        close(p[0]);
        close(p[1]);
        sched_stop(s);
}

/* sched_decide: one resource at once, applied even when its allocation did not change (the
 * provider's demands changed within it); no queue, no pass. */
static void test_sched_decide(void **state) {
        Fake f = { .capacity = 10, .n = 1, .t = { { 1, 0, 0, 4 } } };
        _cleanup_(sched_freep) Scheduler *s = fake_sched(NULL, SCHED_MODE_EVENT, 1, &f, 1u << SCHED_EVENT_HUGEPAGES);
        uint64_t v;

        assert_int_equal(sched_decide(s, "nothing"), -ENOENT);
        assert_int_equal(f.snapshots, 0);
        assert_int_equal(sched_decide(s, "fake"), 0);
        assert_int_equal(f.snapshots, 1);
        assert_int_equal(f.applies, 1);
        assert_int_equal(sched_allocation_get(s, "fake", 1, &v), 0);
        assert_int_equal(v, 4);
        /* The same allocation: a pass would not apply it, a decision does. */
        assert_int_equal(sched_decide(s, "fake"), 0);
        assert_int_equal(f.applies, 2);
        assert_int_equal(s->passes_total, 0);
        assert_int_equal(sched_queue_depth(s), 0);
        /* A failed apply: -EIO, and the next pass retries it. */
        f.fail = -EIO;
        assert_int_equal(sched_decide(s, "fake"), -EIO);
        f.fail = 0;
        assert_int_equal(sched_run_pass(s), 0);
        assert_int_equal(f.applies, 4);
        assert_null(s->res[0].error);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_queue_order),
                cmocka_unit_test(test_queue_heap),
                cmocka_unit_test(test_plan_pure),
                cmocka_unit_test(test_plan_floors),
                cmocka_unit_test(test_sched_passes),
                cmocka_unit_test(test_sched_periodic),
                cmocka_unit_test(test_sched_api_not_starved),
                cmocka_unit_test(test_sched_decide),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
