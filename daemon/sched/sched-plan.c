/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The pure per-resource decision of the scheduler (sched-plan.h). */
#include <errno.h>
#include <stdlib.h>

#include "cleanup.h"
#include "sched-plan.h"

void sched_plan_done(SchedPlan *p) {
        if (!p)
                return;
        free(p->alloc);
        free(p->changed);
        *p = (SchedPlan) {};
}

static bool ids_ascending(const ResourceSnapshot *s, const SchedHeld *held, size_t n_held) {
        for (size_t i = 1; i < s->n; i++)
                if (s->tenants[i - 1].tenant_id >= s->tenants[i].tenant_id)
                        return false;
        for (size_t i = 1; i < n_held; i++)
                if (held[i - 1].tenant_id >= held[i].tenant_id)
                        return false;
        return true;
}

/* Marks what changed against held (both ascending): a merge. */
static void plan_diff(const ResourceSnapshot *s, const SchedHeld *held, size_t n_held, SchedPlan *p) {
        size_t j = 0;

        for (size_t i = 0; i < s->n; i++) {
                int64_t id = s->tenants[i].tenant_id;

                for (; j < n_held && held[j].tenant_id < id; j++)
                        p->n_changed++; /* gone */
                p->changed[i] = !(j < n_held && held[j].tenant_id == id && held[j].alloc == p->alloc[i]);
                if (j < n_held && held[j].tenant_id == id)
                        j++;
                p->n_changed += p->changed[i];
        }
        p->n_changed += n_held - j;
}

int sched_plan_compute(const ResourceSnapshot *s, const AllocClasses *classes, const SchedHeld *held, size_t n_held,
                       SchedPlan *ret) {
        _cleanup_(sched_plan_done) SchedPlan p = { .n = s->n };
        _cleanup_free_ AllocTenant *t = NULL;
        uint64_t floors = 0, capacity;

        if (!ids_ascending(s, held, n_held))
                return -EINVAL;
        p.alloc = calloc(s->n ?: 1, sizeof *p.alloc);
        p.changed = calloc(s->n ?: 1, sizeof *p.changed);
        t = calloc(s->n ?: 1, sizeof *t);
        if (!p.alloc || !p.changed || !t)
                return -ENOMEM;
        for (size_t i = 0; i < s->n; i++) {
                uint64_t f = s->tenants[i].floor;

                floors = floors + f < floors ? UINT64_MAX : floors + f;
                t[i] = (AllocTenant) { .demand = s->tenants[i].demand > f ? s->tenants[i].demand - f : 0,
                                       .priority = s->tenants[i].priority };
        }
        capacity = s->capacity > floors ? s->capacity - floors : 0;
        p.left = alloc_compute(capacity, t, s->n, classes, p.alloc);
        for (size_t i = 0; i < s->n; i++)
                p.alloc[i] += s->tenants[i].floor;
        plan_diff(s, held, n_held, &p);
        *ret = p;
        p = (SchedPlan) {};
        return 0;
}
