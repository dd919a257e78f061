/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A scarce shared resource as the scheduler (daemon/sched) sees it, without knowing the module that
 * owns it: the module reads its capacity and each tenant's demand into a snapshot and applies the
 * allocation the scheduler decided (through the journal). The Manager wires each module's provider
 * into the scheduler as one table row. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>

typedef struct ResourceDemand {
        int64_t tenant_id;
        uid_t owner;       /* who besides administrators sees the row and hears of its changes */
        unsigned priority; /* 0 (highest) .. 7 */
        uint64_t demand;   /* units asked for now */
        uint64_t floor;    /* units already held that are never taken back (mapped hugepages); <= demand */
} ResourceDemand;

typedef struct ResourceSnapshot {
        uint64_t capacity;       /* units to share */
        ResourceDemand *tenants; /* malloc'd, ascending tenant ids */
        size_t n;
} ResourceSnapshot;

static inline void resource_snapshot_done(ResourceSnapshot *s) {
        free(s->tenants);
        *s = (ResourceSnapshot) {};
}

typedef struct ResourceProvider {
        const char *name; /* stable: "promotion_bandwidth", "hugepages" */
        const char *unit; /* "bytes/s", "pages" */
        uint32_t events;  /* the event classes that may change it: bits (1u << SchedEventClass) */
        /* Fills *ret (capacity, demands). Returns 0 or -errno; -ENODEV: the resource is not in use
         * on this host now (no tiering backend), nothing to allocate. */
        int (*snapshot)(void *userdata, ResourceSnapshot *ret);
        /* Gives tenants[i] alloc[i] units (the snapshot's tenants, in its order). Returns the number
         * of kernel writes it made (>= 0) or -errno. */
        int (*apply)(void *userdata, const ResourceDemand *tenants, const uint64_t *alloc, size_t n);
        void *userdata;
} ResourceProvider;

/* How a module asks for the scheduler's decision on one of its resources now, in the middle of a
 * request (a grant when the resource is short): decide(userdata, name) evaluates that resource at
 * once (snapshot, allocation, apply, whatever the plan's diff) and returns 0, -ENOENT (no such
 * resource) or -errno when the evaluation failed (it is retried at the next pass). */
typedef struct ResourceDecider {
        int (*decide)(void *userdata, const char *name);
        void *userdata; /* NULL decide: no scheduler, first come first served */
} ResourceDecider;
