/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GET /v1/scheduler, GET /v1/allocations and the maiod_sched_* metrics. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "jsonutil.h"
#include "metrics.h"
#include "sched-internal.h"

json_object *sched_json_u64(uint64_t v) {
        return json_object_new_int64(v > INT64_MAX ? INT64_MAX : (int64_t) v);
}

static json_object *json_ms(uint64_t usec) {
        char buf[32];

        snprintf(buf, sizeof buf, "%.3f", (double) usec / 1000.0);
        return json_object_new_double_s((double) usec / 1000.0, buf);
}

static int u64_order(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return x < y ? -1 : x > y;
}

/* The p-th percentile (nearest rank) of sorted v[0..n). */
static uint64_t percentile(const uint64_t *v, size_t n, unsigned p) {
        size_t rank = (n * p + 99) / 100;

        return n == 0 ? 0 : v[rank > 0 ? rank - 1 : 0];
}

static json_object *reaction_to_json(const Scheduler *s) {
        _cleanup_free_ uint64_t *v = malloc(SCHED_RECENT * sizeof *v);
        json_object *o = json_object_new_object(), *b = json_object_new_array();
        uint64_t cum = 0;

        if (!v || !o || !b) {
                json_object_put(o);
                json_object_put(b);
                return NULL;
        }
        memcpy(v, s->recent, s->n_recent * sizeof *v);
        qsort(v, s->n_recent, sizeof *v, u64_order);
        json_add(o, "count", sched_json_u64(s->reaction_count));
        json_add(o, "sum_ms", json_ms(s->reaction_sum_usec));
        json_add(o, "max_ms", json_ms(s->reaction_max_usec));
        json_add(o, "recent", sched_json_u64(s->n_recent));
        json_add(o, "p50_ms", json_ms(percentile(v, s->n_recent, 50)));
        json_add(o, "p99_ms", json_ms(percentile(v, s->n_recent, 99)));
        for (unsigned i = 0; i <= SCHED_REACTION_BUCKETS; i++) {
                json_object *e = json_object_new_object();

                cum += s->reaction_buckets[i];
                if (e) {
                        json_add_full(e, "le_ms",
                                      i < SCHED_REACTION_BUCKETS ? json_ms(sched_reaction_bounds_usec[i]) : NULL, true);
                        json_add(e, "count", sched_json_u64(cum));
                }
                json_append(b, e);
        }
        json_add(o, "buckets", b);
        return o;
}

static json_object *resources_status(const Scheduler *s) {
        json_object *a = json_object_new_array();

        for (size_t i = 0; a && i < s->n_res; i++) {
                const SchedResource *r = &s->res[i];
                json_object *o = json_object_new_object();

                if (o) {
                        json_add_string(o, "name", r->p.name);
                        json_add_string(o, "unit", r->p.unit);
                        json_add(o, "capacity", sched_json_u64(r->last.capacity));
                        json_add(o, "tenants", sched_json_u64(r->n_held));
                        json_add(o, "evaluations", sched_json_u64(r->evaluations_total));
                        json_add(o, "changes", sched_json_u64(r->changes_total));
                        json_add(o, "kernel_writes", sched_json_u64(r->writes_total));
                        json_add_string(o, "error", r->error);
                }
                json_append(a, o);
        }
        return a;
}

int sched_op_get(void *userdata, const Request *req, Reply *reply) {
        Scheduler *s = userdata;
        json_object *o = json_object_new_object(), *q = json_object_new_object(), *ev = json_object_new_object();

        if (!o || !q || !ev) {
                json_object_put(o);
                json_object_put(q);
                json_object_put(ev);
                return -ENOMEM;
        }
        json_add_string(o, "mode", sched_mode_to_string(s->conf.mode));
        json_add(o, "period_ms", sched_json_u64(s->conf.interval_usec / 1000));
        json_add(o, "fallback_sec", sched_json_u64(s->conf.fallback_usec / 1000000));
        json_add(o, "pass_events", sched_json_u64(s->conf.pass_events));
        json_add(q, "depth", sched_json_u64(s->queue.n));
        json_add(q, "max", sched_json_u64(s->queue.max));
        json_add(q, "dropped", sched_json_u64(s->queue.dropped));
        json_add(o, "queue", q);
        for (unsigned c = 0; c < _SCHED_EVENT_CLASS_MAX; c++)
                json_add(ev, sched_event_class_to_string(c), sched_json_u64(s->events_total[c]));
        json_add(o, "events", ev);
        json_add(o, "passes", sched_json_u64(s->passes_total));
        json_add(o, "full_passes", sched_json_u64(s->full_passes_total));
        json_add(o, "pass_ms_total", json_ms(s->pass_usec_total));
        json_add(o, "reaction", reaction_to_json(s));
        json_add(o, "resources", resources_status(s));
        return reply_json(reply, 200, o);
}

/* Administrators see every row; a peer its uid's tenants; a token its tenant. */
static bool row_visible(const Identity *who, const ResourceDemand *t) {
        if (who->admin)
                return true;
        if (who->kind == IDENTITY_TOKEN)
                return t->tenant_id == who->tenant_id;
        return who->kind == IDENTITY_PEER && t->owner == who->uid;
}

static json_object *resource_rows(const SchedResource *r, const Identity *who) {
        json_object *a = json_object_new_array();

        for (size_t j = 0; a && j < r->last.n && j < r->n_held; j++) {
                const ResourceDemand *t = &r->last.tenants[j];
                json_object *o;

                if (!row_visible(who, t))
                        continue;
                o = json_object_new_object();
                if (o) {
                        json_add(o, "id", json_object_new_int64(t->tenant_id));
                        json_add(o, "priority", json_object_new_int((int) t->priority));
                        json_add(o, "demand", sched_json_u64(t->demand));
                        json_add(o, "allocation", sched_json_u64(r->held[j].alloc));
                }
                json_append(a, o);
        }
        return a;
}

int sched_op_allocations(void *userdata, const Request *req, Reply *reply) {
        Scheduler *s = userdata;
        json_object *o = json_object_new_object(), *a = json_object_new_array();

        if (!o || !a) {
                json_object_put(o);
                json_object_put(a);
                return -ENOMEM;
        }
        for (size_t i = 0; i < s->n_res; i++) {
                const SchedResource *r = &s->res[i];
                json_object *e = json_object_new_object();

                if (e) {
                        json_add_string(e, "name", r->p.name);
                        json_add_string(e, "unit", r->p.unit);
                        json_add(e, "capacity", sched_json_u64(r->last.capacity));
                        json_add(e, "tenants", resource_rows(r, req->who));
                }
                json_append(a, e);
        }
        json_add(o, "resources", a);
        return reply_json(reply, 200, o);
}

void sched_metrics_write(void *userdata, FILE *f) {
        Scheduler *s = userdata;
        uint64_t cum = 0;

        metrics_header(f, "maiod_sched_events_total", "counter", "Events the scheduler received, by class.");
        for (unsigned c = 0; c < _SCHED_EVENT_CLASS_MAX; c++)
                fprintf(f, "maiod_sched_events_total{class=\"%s\"} %" PRIu64 "\n", sched_event_class_to_string(c),
                        s->events_total[c]);
        metrics_u64(f, "maiod_sched_events_dropped_total", "counter",
                    "Events dropped because the scheduler's queue was full (a full re-evaluation followed).",
                    s->queue.dropped);
        metrics_u64(f, "maiod_sched_queue_depth", "gauge", "Events waiting for the scheduler.", s->queue.n);
        metrics_u64(f, "maiod_sched_passes_total", "counter", "Scheduler passes.", s->passes_total);
        metrics_u64(f, "maiod_sched_full_passes_total", "counter", "Scheduler passes that re-evaluated every resource.",
                    s->full_passes_total);
        metrics_header(f, "maiod_sched_reaction_seconds", "histogram",
                       "From an event's source firing in maiod to the end of the pass that applied its consequence.");
        for (unsigned i = 0; i < SCHED_REACTION_BUCKETS; i++) {
                cum += s->reaction_buckets[i];
                fprintf(f, "maiod_sched_reaction_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
                        (double) sched_reaction_bounds_usec[i] / 1e6, cum);
        }
        fprintf(f, "maiod_sched_reaction_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", s->reaction_count);
        fprintf(f, "maiod_sched_reaction_seconds_sum %.6f\n", (double) s->reaction_sum_usec / 1e6);
        fprintf(f, "maiod_sched_reaction_seconds_count %" PRIu64 "\n", s->reaction_count);
        metrics_header(f, "maiod_sched_capacity", "gauge", "Capacity of each scheduled resource, in its unit.");
        for (size_t i = 0; i < s->n_res; i++)
                fprintf(f, "maiod_sched_capacity{resource=\"%s\"} %" PRIu64 "\n", s->res[i].p.name,
                        s->res[i].last.capacity);
        metrics_header(f, "maiod_sched_allocation_changes_total", "counter",
                       "Passes that changed a resource's allocation.");
        for (size_t i = 0; i < s->n_res; i++)
                fprintf(f, "maiod_sched_allocation_changes_total{resource=\"%s\"} %" PRIu64 "\n", s->res[i].p.name,
                        s->res[i].changes_total);
        metrics_header(f, "maiod_sched_apply_failures_total", "counter",
                       "Passes that failed to read or apply a resource's allocation.");
        for (size_t i = 0; i < s->n_res; i++)
                fprintf(f, "maiod_sched_apply_failures_total{resource=\"%s\"} %" PRIu64 "\n", s->res[i].p.name,
                        s->res[i].failures_total);
}
