/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* How a module below the scheduler (tenants, tier, host, journal, mflow, pools) tells it that
 * something happened that may change an allocation, without calling up: the Manager points each
 * module at the scheduler's EventSink, the module emits. Calls go down, events go up. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Event classes, in the order the scheduler serves them among events of equal tenant priority;
 * the words (sched_event_class_to_string) name them in GET /v1/scheduler and the metrics. */
typedef enum SchedEventClass {
        SCHED_EVENT_TENANT,    /* a tenant joined, left (deleted, process exited) or changed */
        SCHED_EVENT_PRESSURE,  /* memory pressure (PSI trigger) */
        SCHED_EVENT_HUGEPAGES, /* a hugepage grant could not be served in full */
        SCHED_EVENT_FEEDBACK,  /* a tenant's feedback was committed (new thresholds) */
        SCHED_EVENT_LINK,      /* rtnetlink link or address change (topology re-read) */
        SCHED_EVENT_FLOW,      /* MFLOW ring buffer: an elephant or idle flow */
        SCHED_EVENT_DRIFT,     /* a knob maiod owns was changed by someone else */
        SCHED_EVENT_TIMER,     /* fallback timer (event mode) or the period (periodic mode) */
        _SCHED_EVENT_CLASS_MAX,
} SchedEventClass;

/* "tenant", "pressure", ...; NULL outside the enum. */
const char *sched_event_class_to_string(SchedEventClass c);

/* priority: the tenant's (0 highest .. 7), or SCHED_PRIORITY_HOST for an event about the host;
 * source_usec: CLOCK_MONOTONIC when the event's source fired in maiod (pidfd readable, request
 * fully received, message read), 0 = now. */
typedef void (*EventSinkFn)(void *userdata, SchedEventClass cls, int64_t tenant_id, int priority, uint64_t source_usec);

/* Host-wide events sort before every tenant's: they may change every tenant's share. */
#define SCHED_PRIORITY_HOST (-1)

typedef struct EventSink {
        EventSinkFn fn; /* NULL: nobody listens */
        void *userdata;
} EventSink;

/* Emits to s (NULL or without fn: nothing). Never fails: the scheduler counts what it drops. */
static inline void event_sink_emit(const EventSink *s, SchedEventClass cls, int64_t tenant_id, int priority,
                                   uint64_t source_usec) {
        if (s && s->fn)
                s->fn(s->userdata, cls, tenant_id, priority, source_usec);
}
