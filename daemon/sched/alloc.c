/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The priority-class, weighted max-min fair allocator of one resource (see alloc.h for what it
 * guarantees). Exact integer arithmetic: a unit's finish tag k / w is scaled by 840 = lcm(1..8),
 * so every tag is an integer and the class's share is cut at the smallest tag level that holds
 * it, found by bisection. */
#include "alloc.h"

/* lcm(1, ..., 8): tag k / w scaled by it is k * (840 / w), an integer for every weight. */
#define TAG_SCALE 840u

typedef unsigned __int128 u128;

void alloc_classes_default(AllocClasses *ret) {
        static const uint8_t def[ALLOC_PRIORITIES] = { 0, 0, 1, 1, 1, 1, 2, 2 };

        ret->n = 3;
        for (unsigned p = 0; p < ALLOC_PRIORITIES; p++)
                ret->class_of[p] = def[p];
}

static unsigned prio(const AllocTenant *t) {
        return t->priority >= ALLOC_PRIORITIES ? ALLOC_PRIORITIES - 1 : t->priority;
}

static unsigned class_of(const AllocClasses *classes, const AllocTenant *t) {
        return classes->class_of[prio(t)];
}

/* The scaled tag step of a tenant: its k-th unit finishes at k * step. */
static uint64_t step_of(const AllocTenant *t) {
        return TAG_SCALE / alloc_weight(prio(t));
}

/* Units of class c whose scaled tag is <= level. */
static u128 units_upto(const AllocTenant *t, size_t n, const AllocClasses *classes, unsigned c, u128 level) {
        u128 sum = 0;

        for (size_t i = 0; i < n; i++)
                if (class_of(classes, &t[i]) == c) {
                        u128 k = level / step_of(&t[i]);

                        sum += k < t[i].demand ? k : t[i].demand;
                }
        return sum;
}

/* Shares `units` (less than the class's total demand) among class c's tenants: every unit with a
 * tag below the boundary level, then the boundary's units by priority, then input order. */
static void fill_class(const AllocTenant *t, size_t n, const AllocClasses *classes, unsigned c, uint64_t units,
                       uint64_t *ret) {
        u128 lo = 0, hi = 0, below, extra;

        for (size_t i = 0; i < n; i++)
                if (class_of(classes, &t[i]) == c && (u128) t[i].demand * step_of(&t[i]) > hi)
                        hi = (u128) t[i].demand * step_of(&t[i]);
        /* The smallest level holding at least `units` units: units_upto(hi) is the class's demand. */
        while (lo < hi) {
                u128 mid = lo + (hi - lo) / 2;

                if (units_upto(t, n, classes, c, mid) >= units)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        below = lo > 0 ? units_upto(t, n, classes, c, lo - 1) : 0;
        for (size_t i = 0; i < n; i++)
                if (class_of(classes, &t[i]) == c) {
                        u128 k = lo > 0 ? (lo - 1) / step_of(&t[i]) : 0;

                        ret[i] = (uint64_t) (k < t[i].demand ? k : t[i].demand);
                }
        /* The rest of the share: one unit each to tenants whose next unit's tag is exactly lo
         * (there are at least as many as units are left, by the choice of lo). */
        extra = units - below;
        for (unsigned p = 0; p < ALLOC_PRIORITIES && extra > 0; p++)
                for (size_t i = 0; i < n && extra > 0; i++)
                        if (class_of(classes, &t[i]) == c && prio(&t[i]) == p && ret[i] < t[i].demand &&
                            (u128) (ret[i] + 1) * step_of(&t[i]) == lo) {
                                ret[i]++;
                                extra--;
                        }
}

uint64_t alloc_compute(uint64_t capacity, const AllocTenant *tenants, size_t n, const AllocClasses *classes,
                       uint64_t *ret) {
        uint64_t left = capacity;

        for (size_t i = 0; i < n; i++)
                ret[i] = 0;
        for (unsigned c = 0; c < classes->n; c++) {
                u128 demand = 0;

                for (size_t i = 0; i < n; i++)
                        if (class_of(classes, &tenants[i]) == c)
                                demand += tenants[i].demand;
                if (demand <= left) {
                        for (size_t i = 0; i < n; i++)
                                if (class_of(classes, &tenants[i]) == c)
                                        ret[i] = tenants[i].demand;
                        left -= (uint64_t) demand;
                        continue;
                }
                fill_class(tenants, n, classes, c, left, ret);
                left = 0; /* later classes get nothing: this one is not satisfied */
        }
        return left;
}
