/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The allocator of one shared resource among tenants by priority: pure (no I/O, no logging, no
 * allocation), integer units (bytes, cores, pages), deterministic.
 *
 * What it computes, for a capacity C and tenants with demand d_i and priority p_i (0 highest .. 7):
 *
 *  1. Priority classes (a partition of 0..7 into ranges, configuration: [scheduler] classes) are
 *     served strictly in order: class k gets min(what is left, its total demand) before class k+1
 *     gets anything.
 *  2. Inside a class, what it gets is shared by weighted max-min fairness with weight
 *     w_i = 8 - p_i, in integer units: think of tenant i's k-th unit as finishing at tag k / w_i
 *     (weighted fair queueing); the class's R units are the R smallest tags over all its tenants'
 *     units 1..d_i. Equal tags at the boundary go to the tenant of higher priority (lower p), then
 *     to the one earlier in the input (callers list tenants by id): that is how remainders are
 *     distributed, deterministically.
 *
 * Optimality property (checked by tests/unit/test-alloc.c over random instances and against brute
 * force): the allocation a is the unique vector with
 *   (a) 0 <= a_i <= d_i and sum a_i <= C (feasible, demands capped);
 *   (b) sum a_i = min(C, sum d_i) (work-conserving: capacity is left only when every demand is met);
 *   (c) if a tenant of class k gets less than its demand, every tenant of a later class gets 0
 *       (a higher class is never cut to give a lower class more);
 *   (d) inside a class, for every tenant i below its demand and every tenant j:
 *       a_j / w_j <= (a_i + 1) / w_i (no unit could move from j to i and leave the class fairer:
 *       weighted max-min fair in integer units);
 *   (e) among the vectors meeting (a)-(d) (they differ only in who gets the units of the boundary
 *       tag), the lexicographically greatest when tenants are ordered by (class, priority, input
 *       order).
 * Without the integer constraint (d) is the continuous water-filling a_i = min(d_i, L * w_i) with
 * the level L chosen so that the class's share is used up. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ALLOC_PRIORITIES 8

/* Priority -> class. Classes are numbered 0..n-1 in serving order. */
typedef struct AllocClasses {
        unsigned n;
        uint8_t class_of[ALLOC_PRIORITIES];
} AllocClasses;

/* The default: 0-1, 2-5, 6-7. */
void alloc_classes_default(AllocClasses *ret);

typedef struct AllocTenant {
        uint64_t demand;   /* units asked for */
        unsigned priority; /* 0 (highest) .. 7; anything above 7 counts as 7 */
} AllocTenant;

/* Allocates capacity among the n tenants as the header comment says, writing ret[0..n). Needs no
 * memory beyond ret and runs in O(n * (classes + log(max demand))). Returns the units left over
 * (capacity minus the sum of ret), which is 0 unless every demand is met. */
uint64_t alloc_compute(uint64_t capacity, const AllocTenant *tenants, size_t n, const AllocClasses *classes,
                       uint64_t *ret);

/* The weight of a priority: 8 - priority (1..8). */
static inline unsigned alloc_weight(unsigned priority) {
        return priority >= ALLOC_PRIORITIES ? 1 : ALLOC_PRIORITIES - priority;
}
