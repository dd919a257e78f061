/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The scheduler's decision for one resource: a pure function from a snapshot (capacity, demands,
 * priorities, units never taken back) and the allocation held now to the allocation to apply and
 * what changed. No I/O, no logging, no state. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "resource.h"

/* One tenant's allocation as held now. */
typedef struct SchedHeld {
        int64_t tenant_id;
        uint64_t alloc;
} SchedHeld;

typedef struct SchedPlan {
        uint64_t *alloc;  /* per snapshot tenant, in its order */
        bool *changed;    /* per snapshot tenant: new, or held a different allocation */
        size_t n;         /* = the snapshot's n */
        size_t n_changed; /* tenants of the snapshot that changed, plus held tenants gone from it */
        uint64_t left;    /* capacity not allocated (0 unless every demand is met) */
} SchedPlan;

void sched_plan_done(SchedPlan *p);

/* Allocates s->capacity among s->tenants (ascending ids) with alloc_compute() over classes, after
 * setting aside each tenant's floor (its units never taken back: it gets floor + its share of what
 * is left, and when floors alone exceed the capacity every tenant keeps just its floor). held
 * (ascending ids, n_held entries) is the allocation in force, to tell what changed. Reads only its
 * arguments and writes only *ret. Returns 0, -EINVAL (ids not ascending) or -ENOMEM. */
int sched_plan_compute(const ResourceSnapshot *s, const AllocClasses *classes, const SchedHeld *held, size_t n_held,
                       SchedPlan *ret);
