/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The event-driven scheduler: every input that may change who gets how much of a scarce resource
 * arrives as an event (EventSink, base/sched-event.h) in one bounded queue ordered by (tenant
 * priority, event class, age); a pass takes the events queued when it starts (at most pass_events,
 * so the API is served between passes), asks each resource those events concern for a snapshot,
 * decides with the pure sched_plan_compute() and applies through the resource's provider (whose
 * writes go through the journal). Periodic mode (the baseline) instead re-evaluates every resource
 * each interval, like irqbalance. Resources are registered by the Manager (base/resource.h); this
 * module knows no subsystem. (Named scheduler.h: a sched.h here would hide the C library's.) */
#pragma once

#include <stdio.h>

#include <systemd/sd-event.h>

#include "alloc.h"
#include "notify.h"
#include "request.h"
#include "resource.h"
#include "sched-event.h"
#include "store.h"

typedef struct Scheduler Scheduler;

typedef enum SchedMode {
        SCHED_MODE_EVENT,
        SCHED_MODE_PERIODIC,
        _SCHED_MODE_MAX,
} SchedMode;

/* "event", "periodic"; NULL outside the enum. */
const char *sched_mode_to_string(SchedMode m);

/* Most resources one scheduler allocates. */
#define SCHED_RESOURCES_MAX 8
/* Events the queue holds; beyond, events are dropped (counted) and the next pass re-evaluates
 * every resource, so a drop loses latency, never a decision. */
#define SCHED_QUEUE_MAX 4096

typedef struct SchedConf {
        SchedMode mode;
        uint64_t interval_usec; /* periodic mode: the period */
        uint64_t fallback_usec; /* event mode: a full re-evaluation this long after the last one */
        unsigned pass_events;   /* most events one pass takes */
        AllocClasses classes;
} SchedConf;

/* Builds the scheduler on event (borrowed; NULL: no sources, passes only by sched_run_pass()),
 * recording allocation changes as events in store (borrowed, NULL: none). Returns 0 or -ENOMEM. */
int sched_new(sd_event *event, Store *store, const SchedConf *conf, Scheduler **ret);
/* Accepts NULL; returns NULL. */
Scheduler *sched_free(Scheduler *s);
static inline void sched_freep(Scheduler **s) {
        sched_free(*s);
}
/* A new configuration (reload): a mode or interval change re-arms the timer. */
void sched_set_conf(Scheduler *s, const SchedConf *conf);
/* Where allocation-changed (details {"resource":NAME,"unit":UNIT,"allocation":N,"previous":N}) is
 * announced; n is borrowed (NULL: nobody listens). */
void sched_set_notifier(Scheduler *s, const Notifier *n);
/* Adds a resource (copied; its userdata borrowed). Returns 0, -ENOSPC or -EEXIST (same name). */
int sched_add_resource(Scheduler *s, const ResourceProvider *p);
/* The sink the modules below emit into (valid while s lives). */
EventSink sched_event_sink(Scheduler *s);

/* Arms the timer and queues a first full evaluation. Returns 0 or -errno (logged). */
int sched_start(Scheduler *s);
/* Disarms the sources (before the modules whose resources it allocates stop). */
void sched_stop(Scheduler *s);

/* Runs one pass now (tests; the loop runs them itself). Returns the number of events it took. */
size_t sched_run_pass(Scheduler *s);
/* A ResourceDecider's decide (userdata the Scheduler): evaluates resource name now and applies its
 * allocation even when the plan did not change (the provider's demands changed within the same
 * allocation, e.g. a request replaced). Returns 0, -ENOENT or -EIO (the evaluation failed; retried
 * at the next pass). */
int sched_decide(void *userdata, const char *name);
/* Events waiting. */
size_t sched_queue_depth(const Scheduler *s);
/* The allocation in force of tenant_id in resource name, or -ENOENT. */
int sched_allocation_get(const Scheduler *s, const char *name, int64_t tenant_id, uint64_t *ret);

/* GET /v1/scheduler and GET /v1/allocations; userdata is the Scheduler. */
int sched_op_get(void *userdata, const Request *req, Reply *reply);
int sched_op_allocations(void *userdata, const Request *req, Reply *reply);
/* maiod_sched_* (a MetricsWriteFn). */
void sched_metrics_write(void *userdata, FILE *f);
