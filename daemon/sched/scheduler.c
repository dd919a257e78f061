/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The scheduler's loop side: the event sink, the pass (a defer source in event mode, the timer in
 * periodic mode), the resources' snapshots and applies, the allocations in force, the reaction
 * latency record. Decisions are sched_plan_compute()'s. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "log.h"
#include "sched-internal.h"
#include "string-table.h"
#include "time-util.h"

static const char *const sched_mode_table[_SCHED_MODE_MAX] = {
        [SCHED_MODE_EVENT] = "event",
        [SCHED_MODE_PERIODIC] = "periodic",
};
DEFINE_STRING_TABLE_TO_STRING(sched_mode, SchedMode, )

const uint64_t sched_reaction_bounds_usec[SCHED_REACTION_BUCKETS] = {
        100,    250,    500,    1000,    2500,    5000,    10000,    25000,    50000,
        100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000, 30000000,
};

static void sched_on_event(void *userdata, SchedEventClass cls, int64_t tenant_id, int priority, uint64_t source_usec);

int sched_new(sd_event *event, Store *store, const SchedConf *conf, Scheduler **ret) {
        _cleanup_free_ Scheduler *s = calloc(1, sizeof *s);

        if (!s)
                return -ENOMEM;
        s->event = event ? sd_event_ref(event) : NULL;
        s->store = store;
        s->conf = *conf;
        if (s->conf.pass_events == 0)
                s->conf.pass_events = 1;
        s->batch = calloc(SCHED_QUEUE_MAX, sizeof *s->batch);
        if (!s->batch || sched_queue_init(&s->queue, SCHED_QUEUE_MAX) < 0) {
                free(s->batch);
                sd_event_unref(s->event);
                return -ENOMEM;
        }
        *ret = TAKE_PTR(s);
        return 0;
}

static void resource_clear(SchedResource *r) {
        free(r->held);
        r->held = NULL;
        r->n_held = 0;
        resource_snapshot_done(&r->last);
}

Scheduler *sched_free(Scheduler *s) {
        if (!s)
                return NULL;
        sched_stop(s);
        for (size_t i = 0; i < s->n_res; i++) {
                resource_clear(&s->res[i]);
                free(s->res[i].error);
                free(s->res[i].log_pending);
        }
        sched_queue_done(&s->queue);
        free(s->batch);
        sd_event_unref(s->event);
        free(s);
        return NULL;
}

void sched_set_notifier(Scheduler *s, const Notifier *n) {
        s->notifier = n;
}

int sched_add_resource(Scheduler *s, const ResourceProvider *p) {
        for (size_t i = 0; i < s->n_res; i++)
                if (strcmp(s->res[i].p.name, p->name) == 0)
                        return -EEXIST;
        if (s->n_res >= SCHED_RESOURCES_MAX)
                return -ENOSPC;
        s->res[s->n_res++] = (SchedResource) { .p = *p };
        return 0;
}

EventSink sched_event_sink(Scheduler *s) {
        return (EventSink) { .fn = sched_on_event, .userdata = s };
}

size_t sched_queue_depth(const Scheduler *s) {
        return s->queue.n;
}

int sched_allocation_get(const Scheduler *s, const char *name, int64_t tenant_id, uint64_t *ret) {
        for (size_t i = 0; i < s->n_res; i++) {
                const SchedResource *r = &s->res[i];

                if (strcmp(r->p.name, name) != 0)
                        continue;
                for (size_t j = 0; j < r->n_held; j++)
                        if (r->held[j].tenant_id == tenant_id) {
                                *ret = r->held[j].alloc;
                                return 0;
                        }
        }
        return -ENOENT;
}

/* ---- the reaction record ---- */

static void reaction_record(Scheduler *s, uint64_t usec) {
        unsigned b = 0;

        while (b < SCHED_REACTION_BUCKETS && usec > sched_reaction_bounds_usec[b])
                b++;
        s->reaction_buckets[b]++;
        s->reaction_count++;
        s->reaction_sum_usec += usec;
        if (usec > s->reaction_max_usec)
                s->reaction_max_usec = usec;
        s->recent[s->recent_next] = usec;
        s->recent_next = (s->recent_next + 1) % SCHED_RECENT;
        if (s->n_recent < SCHED_RECENT)
                s->n_recent++;
}

/* ---- one resource ---- */

static int id_order(const void *a, const void *b) {
        const ResourceDemand *x = a, *y = b;

        return x->tenant_id < y->tenant_id ? -1 : x->tenant_id > y->tenant_id;
}

static uint64_t held_of(const SchedResource *r, int64_t id, bool *ret_found) {
        for (size_t j = 0; j < r->n_held; j++)
                if (r->held[j].tenant_id == id) {
                        *ret_found = true;
                        return r->held[j].alloc;
                }
        *ret_found = false;
        return 0;
}

/* Tells the owners and the event log what changed; before r->held is replaced. */
static void resource_announce(Scheduler *s, SchedResource *r, const ResourceSnapshot *snap, const SchedPlan *plan) {
        char msg[512];
        size_t len = 0;

        len += (size_t) snprintf(msg, sizeof msg, "%s (%s, capacity %" PRIu64 "):", r->p.name, r->p.unit,
                                 snap->capacity);
        for (size_t i = 0; i < snap->n; i++) {
                const ResourceDemand *t = &snap->tenants[i];
                bool found;
                uint64_t prev;

                if (!plan->changed[i])
                        continue;
                prev = held_of(r, t->tenant_id, &found);
                if (len < sizeof msg)
                        len += (size_t) snprintf(msg + len, sizeof msg - len, " %" PRId64 ": %" PRIu64 " -> %" PRIu64,
                                                 t->tenant_id, prev, plan->alloc[i]);
                if (!notify_wanted(s->notifier))
                        continue;
                json_object *d = json_object_new_object();

                if (d) {
                        json_object_object_add(d, "resource", json_object_new_string(r->p.name));
                        json_object_object_add(d, "unit", json_object_new_string(r->p.unit));
                        json_object_object_add(d, "allocation", sched_json_u64(plan->alloc[i]));
                        json_object_object_add(d, "previous", sched_json_u64(prev));
                }
                notify_event(s->notifier, NOTIFY_ALLOCATION_CHANGED, t->tenant_id, t->owner, d);
        }
        log_debug("Allocation changed: %s", msg);
        /* Written once the pass has recorded its reactions: the event log's commit is no part of them. */
        if (s->store && !r->log_pending)
                r->log_pending = strdup(msg);
}

static int resource_keep(SchedResource *r, ResourceSnapshot *snap, const SchedPlan *plan) {
        SchedHeld *h = calloc(snap->n ?: 1, sizeof *h);

        if (!h)
                return -ENOMEM;
        for (size_t i = 0; i < snap->n; i++)
                h[i] = (SchedHeld) { snap->tenants[i].tenant_id, plan->alloc[i] };
        resource_clear(r);
        r->held = h;
        r->n_held = snap->n;
        r->last = *snap;
        *snap = (ResourceSnapshot) {};
        return 0;
}

static void resource_fail(SchedResource *r, int e, const char *what) {
        r->failures_total++;
        r->retry = true;
        free(r->error);
        if (asprintf(&r->error, "%s: %s", what, strerror(-e)) < 0)
                r->error = NULL;
        log_warning_errno(e, "Scheduler: failed to %s %s, retrying at the next pass: %m", what, r->p.name);
}

static void resource_run(Scheduler *s, SchedResource *r) {
        _cleanup_(resource_snapshot_done) ResourceSnapshot snap = {};
        _cleanup_(sched_plan_done) SchedPlan plan = {};
        int k;

        k = r->p.snapshot(r->p.userdata, &snap);
        if (k == -ENODEV) { /* not in use on this host: nothing is allocated, nothing to retry */
                resource_clear(r);
                r->retry = false;
                return;
        }
        if (k < 0)
                return resource_fail(r, k, "read the demands of");
        qsort(snap.tenants, snap.n, sizeof *snap.tenants, id_order);
        k = sched_plan_compute(&snap, &s->conf.classes, r->held, r->n_held, &plan);
        if (k < 0)
                return resource_fail(r, k, "allocate");
        r->evaluations_total++;
        if (plan.n_changed > 0 || r->retry) {
                k = r->p.apply(r->p.userdata, snap.tenants, plan.alloc, plan.n);
                if (k < 0)
                        return resource_fail(r, k, "apply the allocation of");
                r->writes_total += (uint64_t) k;
                r->retry = false;
                free(r->error);
                r->error = NULL;
                if (plan.n_changed > 0) {
                        r->changes_total++;
                        resource_announce(s, r, &snap, &plan);
                }
        }
        if (resource_keep(r, &snap, &plan) < 0)
                r->retry = true;
}

static void resource_log_flush(Scheduler *s, SchedResource *r) {
        if (!r->log_pending)
                return;
        (void) store_event_add(s->store, 0, "allocation-changed", r->log_pending);
        free(r->log_pending);
        r->log_pending = NULL;
}

int sched_decide(void *userdata, const char *name) {
        Scheduler *s = userdata;

        for (size_t i = 0; i < s->n_res; i++) {
                SchedResource *r = &s->res[i];

                if (strcmp(r->p.name, name) != 0)
                        continue;
                r->retry = true; /* apply even if the allocation did not change */
                resource_run(s, r);
                resource_log_flush(s, r);
                return r->retry ? -EIO : 0;
        }
        return -ENOENT;
}

/* ---- passes ---- */

size_t sched_run_pass(Scheduler *s) {
        uint64_t start = now_usec(CLOCK_MONOTONIC), end, mask = 0;
        size_t limit = s->conf.mode == SCHED_MODE_PERIODIC ? SCHED_QUEUE_MAX : s->conf.pass_events, n = 0;
        bool full = s->full_pending || s->conf.mode == SCHED_MODE_PERIODIC;

        /* The events queued now, in order, up to the bound: none waits for a window. */
        while (n < limit && sched_queue_pop(&s->queue, &s->batch[n]) > 0) {
                mask |= 1u << s->batch[n].cls;
                full = full || s->batch[n].cls == SCHED_EVENT_TIMER;
                n++;
        }
        s->full_pending = false;
        for (size_t i = 0; i < s->n_res; i++)
                if (full || (s->res[i].p.events & mask) || s->res[i].retry)
                        resource_run(s, &s->res[i]);
        end = now_usec(CLOCK_MONOTONIC);
        for (size_t i = 0; i < n; i++)
                reaction_record(s, end > s->batch[i].source_usec ? end - s->batch[i].source_usec : 0);
        for (size_t i = 0; i < s->n_res; i++)
                resource_log_flush(s, &s->res[i]);
        s->passes_total++;
        s->pass_usec_total += end - start;
        if (full) {
                s->full_passes_total++;
                s->last_full_usec = end;
        }
        return n;
}

/* Arms the pass. A new event arms it at the API's priority: sources of one priority run oldest
 * first, so the pass waits only for the requests pending before its event. Left-over work (more than
 * pass_events) re-arms it below the API: a request that arrived meanwhile goes first, so the API waits
 * for at most one bounded pass. */
static void pass_schedule(Scheduler *s, bool backlog) {
        if (!s->pass || (s->queue.n == 0 && !s->full_pending))
                return;
        (void) sd_event_source_set_priority(s->pass,
                                            backlog ? SD_EVENT_PRIORITY_NORMAL + 10 : SD_EVENT_PRIORITY_NORMAL);
        (void) sd_event_source_set_enabled(s->pass, SD_EVENT_ONESHOT);
}

static int on_pass(sd_event_source *es, void *userdata) {
        Scheduler *s = userdata;

        (void) sched_run_pass(s);
        pass_schedule(s, true);
        return 0;
}

static void sched_on_event(void *userdata, SchedEventClass cls, int64_t tenant_id, int priority, uint64_t source_usec) {
        Scheduler *s = userdata;
        SchedEvent ev = {
                .cls = cls,
                .priority = priority < SCHED_PRIORITY_HOST ? SCHED_PRIORITY_HOST
                            : priority > 7                 ? 7
                                                           : priority,
                .tenant_id = tenant_id,
                .source_usec = source_usec ?: now_usec(CLOCK_MONOTONIC),
        };

        if ((unsigned) cls >= _SCHED_EVENT_CLASS_MAX)
                return;
        s->events_total[cls]++;
        if (sched_queue_push(&s->queue, &ev) < 0)
                s->full_pending = true; /* counted as dropped; the next pass looks at everything */
        if (s->conf.mode == SCHED_MODE_EVENT)
                pass_schedule(s, false);
}

static uint64_t timer_period(const Scheduler *s) {
        return s->conf.mode == SCHED_MODE_PERIODIC ? s->conf.interval_usec : s->conf.fallback_usec;
}

static int on_timer(sd_event_source *es, uint64_t usec, void *userdata) {
        Scheduler *s = userdata;
        uint64_t now = now_usec(CLOCK_MONOTONIC);

        if (s->conf.mode == SCHED_MODE_PERIODIC)
                (void) sched_run_pass(s);
        else if (now - s->last_full_usec >= s->conf.fallback_usec)
                /* A fallback: only when no full evaluation happened for a whole period. */
                sched_on_event(s, SCHED_EVENT_TIMER, 0, SCHED_PRIORITY_HOST, now);
        (void) sd_event_source_set_time_relative(es, timer_period(s));
        return 0;
}

int sched_start(Scheduler *s) {
        int r;

        if (!s->event) {
                s->full_pending = true;
                return 0;
        }
        r = sd_event_add_defer(s->event, &s->pass, on_pass, s);
        if (r < 0)
                return log_error_errno(r, "Failed to add the scheduler's pass: %m");
        (void) sd_event_source_set_description(s->pass, "sched-pass");
        (void) sd_event_source_set_enabled(s->pass, SD_EVENT_OFF);
        r = sd_event_add_time_relative(s->event, &s->timer, CLOCK_MONOTONIC, timer_period(s), 1000, on_timer, s);
        if (r < 0)
                return log_error_errno(r, "Failed to add the scheduler's timer: %m");
        (void) sd_event_source_set_description(s->timer, "sched-timer");
        (void) sd_event_source_set_enabled(s->timer, SD_EVENT_ON);
        /* The first evaluation: what the tenants on record hold. */
        s->full_pending = true;
        pass_schedule(s, false);
        log_info("Scheduler: %s mode (%s %" PRIu64 " ms).", sched_mode_to_string(s->conf.mode),
                 s->conf.mode == SCHED_MODE_PERIODIC ? "period" : "fallback", timer_period(s) / 1000);
        return 0;
}

void sched_stop(Scheduler *s) {
        s->pass = sd_event_source_disable_unref(s->pass);
        s->timer = sd_event_source_disable_unref(s->timer);
}

void sched_set_conf(Scheduler *s, const SchedConf *conf) {
        bool rearm = conf->mode != s->conf.mode ||
                     timer_period(s) != (conf->mode == SCHED_MODE_PERIODIC ? conf->interval_usec : conf->fallback_usec);

        s->conf = *conf;
        if (s->conf.pass_events == 0)
                s->conf.pass_events = 1;
        if (rearm && s->timer) {
                (void) sd_event_source_set_time_relative(s->timer, timer_period(s));
                log_info("Scheduler: %s mode (%s %" PRIu64 " ms).", sched_mode_to_string(s->conf.mode),
                         s->conf.mode == SCHED_MODE_PERIODIC ? "period" : "fallback", timer_period(s) / 1000);
        }
        /* Classes may have changed: look again at everything. */
        s->full_pending = true;
        if (s->conf.mode == SCHED_MODE_EVENT)
                pass_schedule(s, false);
}
