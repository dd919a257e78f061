/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The scheduler's event queue: a bounded binary heap ordered by (tenant priority, event class, age).
 * Pure: no I/O, no logging; memory only at construction. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sched-event.h"

typedef struct SchedEvent {
        SchedEventClass cls;
        int priority; /* SCHED_PRIORITY_HOST (-1) first, then 0 (highest) .. 7 */
        int64_t tenant_id;
        uint64_t source_usec; /* CLOCK_MONOTONIC when its source fired */
        uint64_t seq;         /* arrival number: the age order among equals */
} SchedEvent;

typedef struct SchedQueue {
        SchedEvent *heap;
        size_t n, max;
        uint64_t seq;     /* the next arrival number */
        uint64_t dropped; /* pushes refused because the queue was full */
} SchedQueue;

/* Allocates room for max events. Returns 0, -EINVAL (max 0) or -ENOMEM. */
int sched_queue_init(SchedQueue *q, size_t max);
/* Frees the room; accepts a zeroed queue. */
void sched_queue_done(SchedQueue *q);

/* Whether a is served before b: lower priority number, then lower class, then older. */
bool sched_event_before(const SchedEvent *a, const SchedEvent *b);

/* Adds ev (its seq is assigned here). Returns 0, or -ENOBUFS when the queue is full (counted in
 * q->dropped; the event is lost). O(log n). */
int sched_queue_push(SchedQueue *q, const SchedEvent *ev);
/* Removes the first event into *ret. Returns 1, or 0 when the queue is empty. O(log n). */
int sched_queue_pop(SchedQueue *q, SchedEvent *ret);
