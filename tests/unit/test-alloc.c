/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for daemon/sched/alloc.c: the optimality property of alloc.h checked on 20,000 seeded
 * random instances (feasible, work-conserving, strict classes, weighted max-min fair in integer
 * units), exact agreement with a brute-force search on every small instance drawn, and worked
 * examples. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "cleanup.h"

#define MAX_N 16

typedef unsigned __int128 u128;

/* xorshift64*: the test's own seeded generator, so a failure names a reproducible instance. */
static uint64_t rng_state;

static uint64_t rnd(void) {
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return rng_state * UINT64_C(2685821657736338717);
}

static uint64_t rnd_below(uint64_t n) {
        return n ? rnd() % n : 0;
}

static unsigned prio(const AllocTenant *t) {
        return t->priority > 7 ? 7 : t->priority;
}

static void fail_instance(const char *what, uint64_t cap, const AllocTenant *t, size_t n, const uint64_t *a) {
        print_error("%s; capacity %" PRIu64 "\n", what, cap);
        for (size_t i = 0; i < n; i++)
                print_error("  tenant %zu: priority %u demand %" PRIu64 " -> %" PRIu64 "\n", i, t[i].priority,
                            t[i].demand, a[i]);
        fail();
}

/* (a)-(d) of alloc.h. */
static void check_properties(uint64_t cap, const AllocTenant *t, size_t n, const AllocClasses *cl, const uint64_t *a,
                             uint64_t left) {
        u128 sum = 0, demand = 0;

        for (size_t i = 0; i < n; i++) {
                if (a[i] > t[i].demand)
                        fail_instance("above its demand", cap, t, n, a);
                sum += a[i];
                demand += t[i].demand;
        }
        if (sum > cap)
                fail_instance("sum above capacity", cap, t, n, a);
        if (sum + left != cap)
                fail_instance("leftover does not add up", cap, t, n, a);
        if (sum != (demand < cap ? demand : cap))
                fail_instance("not work-conserving", cap, t, n, a);
        if (left > 0)
                for (size_t i = 0; i < n; i++)
                        if (a[i] != t[i].demand)
                                fail_instance("capacity left while a demand is unmet", cap, t, n, a);
        for (size_t i = 0; i < n; i++) {
                unsigned ci = cl->class_of[prio(&t[i])];

                if (a[i] == t[i].demand)
                        continue;
                for (size_t j = 0; j < n; j++) {
                        unsigned cj = cl->class_of[prio(&t[j])];

                        if (cj > ci && a[j] > 0)
                                fail_instance("a later class got units while an earlier one is cut", cap, t, n, a);
                        /* a_j / w_j <= (a_i + 1) / w_i, cross-multiplied */
                        if (cj == ci &&
                            (u128) a[j] * alloc_weight(prio(&t[i])) > (u128) (a[i] + 1) * alloc_weight(prio(&t[j])))
                                fail_instance("not weighted max-min fair inside a class", cap, t, n, a);
                }
        }
}

/* Brute force: every vector 0 <= b <= d meeting (a)-(d), the lexicographically greatest in the
 * order (class, priority, input order) -- (e) of alloc.h. */
typedef struct Brute {
        uint64_t cap;
        const AllocTenant *t;
        size_t n;
        const AllocClasses *cl;
        size_t order[MAX_N];
        uint64_t b[MAX_N], best[MAX_N];
        bool found;
        unsigned feasible; /* vectors meeting (a)-(d) */
} Brute;

static bool meets(Brute *br) {
        u128 sum = 0, demand = 0;

        for (size_t i = 0; i < br->n; i++) {
                sum += br->b[i];
                demand += br->t[i].demand;
        }
        if (sum > br->cap || sum != (demand < br->cap ? demand : br->cap))
                return false;
        for (size_t i = 0; i < br->n; i++) {
                unsigned ci = br->cl->class_of[prio(&br->t[i])];

                if (br->b[i] == br->t[i].demand)
                        continue;
                for (size_t j = 0; j < br->n; j++) {
                        unsigned cj = br->cl->class_of[prio(&br->t[j])];

                        if (cj > ci && br->b[j] > 0)
                                return false;
                        if (cj == ci && (u128) br->b[j] * alloc_weight(prio(&br->t[i])) >
                                                (u128) (br->b[i] + 1) * alloc_weight(prio(&br->t[j])))
                                return false;
                }
        }
        return true;
}

static void brute_rec(Brute *br, size_t i) {
        if (i == br->n) {
                bool greater = !br->found;

                if (!meets(br))
                        return;
                br->feasible++;
                for (size_t k = 0; k < br->n && !greater; k++) {
                        size_t o = br->order[k];

                        if (br->b[o] != br->best[o]) {
                                greater = br->b[o] > br->best[o];
                                break;
                        }
                }
                if (greater) {
                        memcpy(br->best, br->b, sizeof br->b);
                        br->found = true;
                }
                return;
        }
        for (uint64_t v = 0; v <= br->t[i].demand; v++) {
                br->b[i] = v;
                brute_rec(br, i + 1);
        }
}

static void brute_force(uint64_t cap, const AllocTenant *t, size_t n, const AllocClasses *cl, uint64_t *ret,
                        unsigned *ret_feasible) {
        Brute br = { .cap = cap, .t = t, .n = n, .cl = cl };
        size_t k = 0;

        for (unsigned c = 0; c < cl->n; c++)
                for (unsigned p = 0; p < ALLOC_PRIORITIES; p++)
                        for (size_t i = 0; i < n; i++)
                                if (cl->class_of[p] == c && prio(&t[i]) == p)
                                        br.order[k++] = i;
        assert_int_equal(k, n);
        brute_rec(&br, 0);
        assert_true(br.found); /* some vector always meets (a)-(d): the allocator's, at least */
        memcpy(ret, br.best, n * sizeof *ret);
        *ret_feasible = br.feasible;
}

/* A random partition of 0..7 into ascending ranges, sometimes the default. */
static void random_classes(AllocClasses *cl) {
        unsigned c = 0;

        if (rnd_below(2) == 0) {
                alloc_classes_default(cl);
                return;
        }
        for (unsigned p = 0; p < ALLOC_PRIORITIES; p++) {
                if (p > 0 && rnd_below(3) == 0)
                        c++;
                cl->class_of[p] = (uint8_t) c;
        }
        cl->n = c + 1;
}

static void test_random(void **state) {
        static const uint64_t scales[] = { 5, 100, 1000000, UINT64_C(1) << 40, UINT64_C(1) << 62 };
        unsigned instances = 0, brute_checked = 0, ambiguous = 0;

        rng_state = UINT64_C(0x6d61696f2d736368); /* "maio-sch" */
        for (unsigned iter = 0; iter < 20000; iter++) {
                AllocTenant t[MAX_N];
                AllocClasses cl;
                uint64_t a[MAX_N], b[MAX_N], cap, left, scale = scales[rnd_below(ELEMENTSOF(scales))], total = 0;
                size_t n = 1 + rnd_below(MAX_N);
                unsigned feasible;

                random_classes(&cl);
                for (size_t i = 0; i < n; i++) {
                        t[i] = (AllocTenant) { .demand = rnd_below(scale + 1), .priority = (unsigned) rnd_below(8) };
                        total += t[i].demand / 4;
                }
                cap = rnd_below(2) ? rnd_below(total * 5 + 2) : rnd_below(scale * 2 + 2);
                left = alloc_compute(cap, t, n, &cl, a);
                check_properties(cap, t, n, &cl, a, left);
                instances++;
                /* Small enough to enumerate: the allocation is exactly the brute force's. */
                if (scale == 5 && n <= 5) {
                        brute_force(cap, t, n, &cl, b, &feasible);
                        for (size_t i = 0; i < n; i++)
                                if (a[i] != b[i])
                                        fail_instance("differs from brute force", cap, t, n, a);
                        brute_checked++;
                        ambiguous += feasible > 1;
                }
        }
        print_message("%u random instances checked, %u against brute force (%u with a boundary tie)\n", instances,
                      brute_checked, ambiguous);
        assert_true(instances >= 10000);
        assert_true(brute_checked >= 500);
        assert_true(ambiguous > 0); /* the tie-break was exercised */
}

/* Every instance of up to 4 tenants with demands 0..3, priorities from a small set, capacities
 * 0..13: exhaustive agreement with brute force. */
static void test_exhaustive_small(void **state) {
        static const unsigned prios[] = { 0, 1, 2, 4, 7 };
        AllocClasses cl;
        unsigned count = 0;

        alloc_classes_default(&cl);
        for (size_t n = 1; n <= 3; n++) {
                size_t combos = 1;

                for (size_t i = 0; i < n; i++)
                        combos *= 4 * ELEMENTSOF(prios);
                for (size_t code = 0; code < combos; code++) {
                        AllocTenant t[MAX_N];
                        size_t c = code;

                        for (size_t i = 0; i < n; i++) {
                                t[i].demand = c % 4;
                                c /= 4;
                                t[i].priority = prios[c % ELEMENTSOF(prios)];
                                c /= ELEMENTSOF(prios);
                        }
                        for (uint64_t cap = 0; cap <= 13; cap++) {
                                uint64_t a[MAX_N], b[MAX_N], left;
                                unsigned feasible;

                                left = alloc_compute(cap, t, n, &cl, a);
                                check_properties(cap, t, n, &cl, a, left);
                                brute_force(cap, t, n, &cl, b, &feasible);
                                for (size_t i = 0; i < n; i++)
                                        if (a[i] != b[i])
                                                fail_instance("differs from brute force", cap, t, n, a);
                                count++;
                        }
                }
        }
        print_message("%u small instances equal to brute force\n", count);
}

static void test_examples(void **state) {
        AllocClasses cl;
        uint64_t a[4];

        alloc_classes_default(&cl);
        /* Class 0 first (4 units); class 1 shares 6 by weights 6 and 5: tags 1/6, 1/5, 2/6, 2/5, 3/6,
         * 3/5 -> 3 and 3 (continuous water-filling: 3.27 and 2.73). */
        assert_int_equal(alloc_compute(10,
                                       (AllocTenant[]) { { .demand = 4, .priority = 0 },
                                                         { .demand = 10, .priority = 2 },
                                                         { .demand = 10, .priority = 3 },
                                                         { .demand = 5, .priority = 7 } },
                                       4, &cl, a),
                         0);
        assert_int_equal(a[0], 4);
        assert_int_equal(a[1], 3);
        assert_int_equal(a[2], 3);
        assert_int_equal(a[3], 0); /* class 2 waits while class 1 is cut */

        /* Demands capped: the small one is met, the rest shared 1:1 (same weight). */
        assert_int_equal(alloc_compute(100,
                                       (AllocTenant[]) { { .demand = 10, .priority = 4 },
                                                         { .demand = 100, .priority = 4 },
                                                         { .demand = 100, .priority = 4 } },
                                       3, &cl, a),
                         0);
        assert_int_equal(a[0], 10);
        assert_int_equal(a[1], 45);
        assert_int_equal(a[2], 45);

        /* A remainder unit goes to the higher priority on a tie (weights 8 and 4: tags 1/8 ... 2/8 = 1/4),
         * then to the earlier tenant among equals. */
        assert_int_equal(alloc_compute(2,
                                       (AllocTenant[]) { { .demand = 9, .priority = 4 },
                                                         { .demand = 9, .priority = 0 } },
                                       2, &(AllocClasses) { .n = 1 }, a),
                         0);
        assert_int_equal(a[0], 0);
        assert_int_equal(a[1], 2);
        assert_int_equal(alloc_compute(3,
                                       (AllocTenant[]) { { .demand = 9, .priority = 4 },
                                                         { .demand = 9, .priority = 0 } },
                                       2, &(AllocClasses) { .n = 1 }, a),
                         0);
        assert_int_equal(a[0], 1); /* tag 1/4 ties with the other's 2/8: priority 0 got its second unit first */
        assert_int_equal(a[1], 2);
        assert_int_equal(alloc_compute(1,
                                       (AllocTenant[]) { { .demand = 9, .priority = 5 },
                                                         { .demand = 9, .priority = 5 } },
                                       2, &cl, a),
                         0);
        assert_int_equal(a[0], 1);
        assert_int_equal(a[1], 0);

        /* Work-conserving: leftover only when every demand is met; huge values do not overflow. */
        assert_int_equal(alloc_compute(UINT64_MAX,
                                       (AllocTenant[]) { { .demand = UINT64_MAX / 2, .priority = 0 },
                                                         { .demand = UINT64_MAX / 2, .priority = 7 } },
                                       2, &cl, a),
                         1);
        assert_int_equal(alloc_compute(UINT64_MAX - 1,
                                       (AllocTenant[]) { { .demand = UINT64_MAX, .priority = 3 },
                                                         { .demand = UINT64_MAX, .priority = 3 } },
                                       2, &cl, a),
                         0);
        assert_true(a[0] == UINT64_MAX / 2 && a[1] == UINT64_MAX / 2);
        assert_int_equal(alloc_compute(0, NULL, 0, &cl, a), 0);
        assert_int_equal(alloc_compute(7, NULL, 0, &cl, a), 7);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_examples),
                cmocka_unit_test(test_exhaustive_small),
                cmocka_unit_test(test_random),
        };

        return cmocka_run_group_tests_name("alloc", tests, NULL, NULL);
}
