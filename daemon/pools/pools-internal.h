/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The reserve's context, shared by pools.c (grants, node sizing, hugepages resource, /v1/maio) and
 * pools-pollers.c (poller CPUs and the poller_cores resource); private to daemon/pools. */
#pragma once

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "pools.h"
#include "resource.h"
#include "sched-event.h"
#include "store.h"

/* A poller CPU handed out: to one tenant, until its grants are released or it is removed. */
typedef struct PollerHold {
        unsigned cpu;
        int64_t tenant_id;
} PollerHold;

/* A grant that waits for the scheduler: refused (507) while hugepages were short, it stays the
 * tenant's demand on the node until the allocation covers it (then it is granted), the tenant asks
 * again (it is replaced) or releases. In memory only. */
typedef struct PoolsAsk {
        int64_t tenant_id;
        unsigned node;
        uint64_t pages;   /* the grant asked for (it replaces the tenant's grant on the node) */
        uint64_t covered; /* of those, the pages the last allocation covered */
        bool poller;      /* a poller CPU asked for with it */
} PoolsAsk;

/* A node whose kernel kept fewer pages than asked: at most kept pages, until it is seen holding more. */
typedef struct NodeShort {
        unsigned node;
        uint64_t kept;
} NodeShort;

/* The hugepage counts last read of a node (a change is an event of the scheduler). */
typedef struct NodeCount {
        unsigned node;
        unsigned long total, free_pages;
} NodeCount;

struct Pools {
        Store *store;
        char *root;
        bool dry_run;
        Journal *journal;
        PoolsConf conf;
        uint64_t partial_allocations_total; /* the kernel kept fewer pages than the grants needed */

        unsigned *pollers; /* [pools] poller_cpus, ascending */
        size_t n_pollers;
        PollerHold *holds; /* in memory only: a restart forgets them (docs/maiod.conf.5) */
        size_t n_holds;
        uint64_t poller_refusals_total; /* pollers asked for when none was free */

        EventSink sink;          /* the scheduler's: SCHED_EVENT_HUGEPAGES */
        ResourceDecider decider; /* decide NULL: first come, first served */
        PoolsAsk *asks;          /* grants waiting for the allocation, oldest first */
        size_t n_asks;
        NodeShort *shorts;
        size_t n_shorts;
        NodeCount *counts;
        size_t n_counts;
        int64_t *waiting; /* tenants waiting for a poller CPU, oldest first */
        size_t n_waiting;
        bool redecide; /* an apply met a kernel that kept fewer pages than the allocation assumed */
};

/* An event in the event log, with the tenant as its journal field. */
#define event(m, level, tenant_id, kind, ...)                                                    \
        do {                                                                                     \
                char _field_[32];                                                                \
                snprintf(_field_, sizeof _field_, "TENANT=%" PRId64, (int64_t) (tenant_id));     \
                store_event_log((m)->store, (level), _field_, (tenant_id), (kind), __VA_ARGS__); \
        } while (0)

/* ---- pools.c ---- */

/* Tells the scheduler what may change the allocation of hugepages or poller CPUs. */
void pools_emit(Pools *m, int64_t tenant_id, int priority, uint64_t source_usec);
/* The demand row of tenant_id in s (added when absent; NULL when the tenant is gone: *ret_r 0, or
 * on failure: *ret_r -errno). */
ResourceDemand *pools_demand_row(Pools *m, ResourceSnapshot *s, size_t *cap, int64_t tenant_id, int *ret_r);

/* ---- pools-pollers.c ---- */

bool pools_poller_waits(Pools *m, int64_t tenant_id);
int pools_poller_wait_add(Pools *m, int64_t tenant_id);
void pools_poller_wait_drop(Pools *m, int64_t tenant_id);
PollerHold *pools_poller_held_by(Pools *m, int64_t tenant_id);
bool pools_poller_cpu_held(Pools *m, unsigned cpu);
/* tenant_id's poller CPU (the one it holds, a free one, or what the scheduler allocates), or -1
 * with the reason in reason; -ENOMEM. */
int pools_poller_assign(Pools *m, int64_t tenant_id, char *reason, size_t size);
/* tenant_id stops waiting for a poller CPU and gives back the one it holds (why: for the event). */
void pools_poller_release(Pools *m, int64_t tenant_id, const char *why);
