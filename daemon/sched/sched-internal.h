/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Scheduler's state, shared by sched.c (the loop side) and sched-ops.c (API and metrics). */
#pragma once

#include "sched-plan.h"
#include "sched-queue.h"
#include "scheduler.h"

/* Upper bounds of the reaction latency histogram, µs (a last bucket takes the rest). */
#define SCHED_REACTION_BUCKETS 17
extern const uint64_t sched_reaction_bounds_usec[SCHED_REACTION_BUCKETS];
/* Latest reactions kept for the percentiles of GET /v1/scheduler. */
#define SCHED_RECENT 4096

typedef struct SchedResource {
        ResourceProvider p;
        SchedHeld *held; /* the allocation in force, ascending ids */
        size_t n_held;
        ResourceSnapshot last; /* the snapshot it was decided from (same order as held) */
        bool retry;            /* the last pass failed: run again at the next one */
        char *error;           /* why the last pass failed, NULL none */
        char *log_pending;     /* the event-log line of the pass's change, written after its reactions */
        uint64_t evaluations_total, changes_total, writes_total, failures_total;
} SchedResource;

struct Scheduler {
        sd_event *event;
        Store *store;
        const Notifier *notifier;
        SchedConf conf;
        SchedQueue queue;
        SchedEvent *batch; /* one pass's events (SCHED_QUEUE_MAX) */
        SchedResource res[SCHED_RESOURCES_MAX];
        size_t n_res;
        sd_event_source *pass;  /* defer, one-shot: armed by an event (event mode) */
        sd_event_source *timer; /* the period (periodic) or the fallback (event) */
        bool full_pending;      /* the next pass evaluates every resource */
        uint64_t last_full_usec;

        uint64_t events_total[_SCHED_EVENT_CLASS_MAX];
        uint64_t passes_total, full_passes_total, pass_usec_total;
        uint64_t reaction_buckets[SCHED_REACTION_BUCKETS + 1];
        uint64_t reaction_count, reaction_sum_usec, reaction_max_usec;
        uint64_t recent[SCHED_RECENT];
        size_t n_recent, recent_next;
};

/* An unsigned count as JSON (clamped to INT64_MAX). NULL on OOM. */
json_object *sched_json_u64(uint64_t v);
