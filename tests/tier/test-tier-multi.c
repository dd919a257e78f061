/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for maio-tiersim's multi-tenant mode (tools/tiersim/multi.c): every epoch of every
 * strategy and mode is checked against invariants computed here independently (the link budget,
 * demands, equal share by water-filling, strict priority classes, first come first served), a
 * lone tenant reproduces sim_episode, periodic grants stand between re-allocations, shared
 * latency slows tenants down, and a run is deterministic for its seed. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tier-test.h"

#include "multi.h"

/* Small and under-provisioned: the static policy asks for every remote page it touches, far more
 * than 24 promotions per epoch over 8 tenants. */
static void small_params(MultiParams *p, const char *policy) {
        multi_params_default(p);
        p->wp = (WorkloadParams) { .pages = 1024, .epochs = 60 };
        p->policy = policy;
        p->link_pages = 24;
        p->churn_every = 7;
        p->period = 5;
}

typedef struct Check {
        MultiStrategy strategy;
        MultiMode mode;
        unsigned epochs, overloaded, reallocated, idle_epochs;
        uint64_t last_seq[MULTI_MAX_TENANTS];
        bool seen[MULTI_MAX_TENANTS];
} Check;

static uint64_t min_u64(uint64_t a, uint64_t b) {
        return a < b ? a : b;
}

/* Equal share by water-filling, continuous: min(d_i, L) with sum = min(C, sum d). */
static void water_fill(const MultiEpochView *v, const uint64_t *demand, double *ret) {
        double lo = 0, hi = 0;

        for (unsigned i = 0; i < v->n_slots; i++)
                if (v->active[i] && demand[i] > hi)
                        hi = (double) demand[i];
        for (unsigned it = 0; it < 200; it++) {
                double mid = (lo + hi) / 2, sum = 0;

                for (unsigned i = 0; i < v->n_slots; i++)
                        if (v->active[i])
                                sum += fmin((double) demand[i], mid);
                if (sum > (double) v->capacity)
                        hi = mid;
                else
                        lo = mid;
        }
        for (unsigned i = 0; i < v->n_slots; i++)
                ret[i] = v->active[i] ? fmin((double) demand[i], lo) : 0;
}

static void check_epoch(const MultiEpochView *v, void *userdata) {
        Check *c = userdata;
        uint64_t granted = 0, promoted = 0, want = 0;
        double share[MULTI_MAX_TENANTS];

        c->epochs++;
        for (unsigned i = 0; i < v->n_slots; i++) {
                if (!v->active[i]) {
                        assert_int_equal(v->grant[i], 0);
                        assert_int_equal(v->promoted[i], 0);
                        continue;
                }
                /* Nobody above its demand; a grant is never above the demand it was computed from. */
                assert_true(v->promoted[i] <= v->demand[i]);
                assert_true(v->promoted[i] <= v->grant[i]);
                assert_true(v->grant[i] <= v->alloc_demand[i]);
                assert_int_equal(v->promoted[i], min_u64(v->grant[i], v->demand[i]));
                /* A tenant that joined since the last allocation has no grant in periodic mode. */
                if (c->seen[i] && v->join_seq[i] != c->last_seq[i] && !v->reallocated)
                        assert_int_equal(v->grant[i], 0);
                c->seen[i] = true;
                c->last_seq[i] = v->join_seq[i];
                granted += v->grant[i];
                promoted += v->promoted[i];
                want += v->demand[i];
        }
        /* Never above the link. */
        assert_true(granted <= v->capacity);
        assert_true(promoted <= v->capacity);
        if (want > v->capacity)
                c->overloaded++;
        if (promoted < min_u64(want, v->capacity))
                c->idle_epochs++;
        if (v->reallocated)
                c->reallocated++;
        if (c->mode == MULTI_PERIODIC) {
                /* At the start, then at epochs 2, 7, 12, ... (period 5, phase 5 / 2). */
                assert_true(v->reallocated == (v->epoch == 0 || v->epoch % 5 == 2));
                return;
        }
        /* Event mode: re-allocated whenever a demand changed, so the grants fit today's demands and
         * the link is work-conserving. */
        for (unsigned i = 0; i < v->n_slots; i++)
                if (v->active[i])
                        assert_int_equal(v->alloc_demand[i], v->demand[i]);
        assert_int_equal(promoted, min_u64(want, v->capacity));
        water_fill(v, v->demand, share);
        switch (c->strategy) {
        case MULTI_EQUAL:
                /* Integer water-filling: within one unit of the continuous share. */
                for (unsigned i = 0; i < v->n_slots; i++)
                        if (v->active[i])
                                assert_true(fabs((double) v->grant[i] - share[i]) < 1 + 1e-6);
                break;
        case MULTI_ALLOC:
                for (unsigned i = 0; i < v->n_slots; i++) {
                        if (!v->active[i])
                                continue;
                        /* Priority 0 never gets less than equal share gives it (its floor). */
                        if (v->priority[i] == 0 && want > v->capacity)
                                assert_true((double) v->grant[i] >= floor(share[i] + 1e-9));
                        /* Classes (0-1, 2-5, 6-7) strictly in order. */
                        if (v->grant[i] < v->demand[i])
                                for (unsigned j = 0; j < v->n_slots; j++) {
                                        unsigned ci = v->priority[i] <= 1 ? 0 : v->priority[i] <= 5 ? 1 : 2;
                                        unsigned cj = v->priority[j] <= 1 ? 0 : v->priority[j] <= 5 ? 1 : 2;

                                        if (v->active[j] && cj > ci)
                                                assert_int_equal(v->grant[j], 0);
                                }
                }
                break;
        case MULTI_FCFS:
                /* Served in order of joining: one cut short leaves nothing for later joiners. */
                for (unsigned i = 0; i < v->n_slots; i++)
                        if (v->active[i] && v->grant[i] < v->demand[i])
                                for (unsigned j = 0; j < v->n_slots; j++)
                                        if (v->active[j] && v->join_seq[j] > v->join_seq[i])
                                                assert_int_equal(v->grant[j], 0);
                break;
        default:
                fail();
        }
}

static void test_invariants(void **state) {
        _cleanup_(multi_freep) Multi *m = NULL;
        MultiParams p;

        small_params(&p, "static");
        assert_int_equal(multi_new(&p, &m), 0);
        for (int s = 0; s < _MULTI_STRATEGY_MAX; s++)
                for (int md = 0; md < _MULTI_MODE_MAX; md++) {
                        Check c = { .strategy = (MultiStrategy) s, .mode = (MultiMode) md };
                        MultiRun run;

                        assert_int_equal(multi_run(m, c.strategy, c.mode, check_epoch, &c, &run), 0);
                        assert_int_equal(c.epochs, 60);
                        /* The checks above ran where they matter: an overloaded link, churn. */
                        assert_true(c.overloaded >= 30);
                        assert_true(run.n_tenants == 8 + 60 / 7);
                        if (c.mode == MULTI_PERIODIC) {
                                assert_int_equal(run.reallocations, 13);
                                assert_true(c.idle_epochs > 0); /* late to react */
                        } else {
                                assert_true(run.reallocations >= 12);
                                assert_int_equal(run.idle_pages, 0);
                        }
                        assert_int_equal(run.reallocations, c.reallocated);
                        for (size_t i = 0; i < run.n_tenants; i++) {
                                assert_true(run.tenants[i].runtime_s > 0);
                                assert_true(run.tenants[i].alone_s > 0);
                                assert_true(run.tenants[i].promoted <= run.tenants[i].demand);
                        }
                        multi_run_done(&run);
                }
}

/* Priority 0 gains from the allocator when the link is short, as the benchmark claims. */
static void test_priority_gains(void **state) {
        _cleanup_(multi_freep) Multi *m = NULL;
        MultiRun a, e;
        uint64_t pa = 0, pe = 0;
        MultiParams p;

        small_params(&p, "static");
        assert_int_equal(multi_new(&p, &m), 0);
        assert_int_equal(multi_run(m, MULTI_ALLOC, MULTI_EVENT, NULL, NULL, &a), 0);
        assert_int_equal(multi_run(m, MULTI_EQUAL, MULTI_EVENT, NULL, NULL, &e), 0);
        for (size_t i = 0; i < a.n_tenants; i++)
                if (a.tenants[i].priority == 0)
                        pa += a.tenants[i].promoted;
        for (size_t i = 0; i < e.n_tenants; i++)
                if (e.tenants[i].priority == 0)
                        pe += e.tenants[i].promoted;
        assert_true(pa > pe);
        assert_int_equal(a.promoted, e.promoted); /* both work-conserving */
        multi_run_done(&a);
        multi_run_done(&e);
}

/* One tenant with a budget above its local capacity is the single-tenant simulator. */
static void test_alone_is_sim_episode(void **state) {
        _cleanup_(multi_freep) Multi *m = NULL;
        _cleanup_(trace_freep) Trace *t = NULL;
        _cleanup_(sim_freep) Sim *s = NULL;
        _cleanup_(policy_freep) TierPolicy *pol = NULL;
        TierDecision d;
        TierContext ctx;
        SimResult res;
        MultiParams p;
        MultiRun run;

        small_params(&p, "static");
        assert_int_equal(multi_params_parse_tenants(&p, "3:phases"), 0);
        p.link_pages = 1 << 20;
        p.churn_every = 0;
        assert_int_equal(multi_new(&p, &m), 0);
        assert_int_equal(multi_run(m, MULTI_ALLOC, MULTI_EVENT, NULL, NULL, &run), 0);
        assert_int_equal(run.n_tenants, 1);

        assert_int_equal(workload_generate("phases", &p.wp, multi_slot_seed(p.seed, 0), &t), 0);
        assert_int_equal(sim_new(t, &p.sp, &s), 0);
        assert_int_equal(policy_new("static", &p.pp, &pol), 0);
        sim_context(s, &ctx);
        assert_int_equal(policy_greedy(pol, &ctx, &d), 0);
        assert_int_equal(sim_episode(s, NULL, &d, &res), 0);
        assert_true(res.promotions > 0);
        assert_double_equal(run.tenants[0].runtime_s, res.runtime_s, 1e-12 * res.runtime_s);
        assert_double_equal(run.tenants[0].degradation, 0, 1e-12);
        assert_int_equal(run.tenants[0].promoted, res.promotions);
        multi_run_done(&run);
}

static double total_runtime(const MultiParams *p) {
        _cleanup_(multi_freep) Multi *m = NULL;
        MultiRun run;
        double total;

        assert_int_equal(multi_new(p, &m), 0);
        assert_int_equal(multi_run(m, MULTI_ALLOC, MULTI_EVENT, NULL, NULL, &run), 0);
        total = run.total_runtime_s;
        multi_run_done(&run);
        return total;
}

/* With shared latency the tenants' traffic slows each other; one tenant alone is unaffected. */
static void test_shared_latency(void **state) {
        MultiParams p;
        double isolated;

        small_params(&p, "static");
        isolated = total_runtime(&p);
        p.shared_latency = true;
        assert_true(total_runtime(&p) > 1.05 * isolated);

        assert_int_equal(multi_params_parse_tenants(&p, "0:zipf"), 0);
        p.shared_latency = false;
        isolated = total_runtime(&p);
        p.shared_latency = true;
        assert_true(total_runtime(&p) == isolated);
}

static void run_once(const MultiParams *p, MultiRun *ret) {
        _cleanup_(multi_freep) Multi *m = NULL;

        assert_int_equal(multi_new(p, &m), 0);
        assert_int_equal(multi_run(m, MULTI_ALLOC, MULTI_PERIODIC, NULL, NULL, ret), 0);
}

static void test_deterministic(void **state) {
        MultiParams p;
        MultiRun a, b, c;

        small_params(&p, "best");
        run_once(&p, &a);
        run_once(&p, &b);
        assert_int_equal(a.n_tenants, b.n_tenants);
        for (size_t i = 0; i < a.n_tenants; i++) {
                assert_true(a.tenants[i].runtime_s == b.tenants[i].runtime_s);
                assert_true(a.tenants[i].alone_s == b.tenants[i].alone_s);
                assert_int_equal(a.tenants[i].promoted, b.tenants[i].promoted);
        }
        assert_true(a.total_runtime_s == b.total_runtime_s);
        p.seed = 2;
        run_once(&p, &c);
        assert_true(c.total_runtime_s != a.total_runtime_s);
        multi_run_done(&a);
        multi_run_done(&b);
        multi_run_done(&c);
}

static void test_params(void **state) {
        _cleanup_(multi_freep) Multi *m = NULL;
        MultiParams p;

        multi_params_default(&p);
        assert_int_equal(p.n_tenants, 8);
        assert_int_equal(multi_params_parse_tenants(&p, "0:bfs,7:scan"), 0);
        assert_int_equal(p.n_tenants, 2);
        assert_int_equal(p.priority[1], 7);
        assert_string_equal(p.workload[1], "scan");
        assert_int_equal(multi_params_parse_tenants(&p, "8:bfs"), -EINVAL);
        assert_int_equal(multi_params_parse_tenants(&p, "0:nope"), -EINVAL);
        assert_int_equal(multi_params_parse_tenants(&p, "0:bfs,"), -EINVAL);
        assert_int_equal(multi_params_parse_tenants(&p, ""), -EINVAL);
        assert_int_equal(multi_params_parse_tenants(&p, "0bfs"), -EINVAL);
        assert_int_equal(p.n_tenants, 2); /* unchanged by the failures */
        small_params(&p, "indigo");
        assert_int_equal(multi_new(&p, &m), -EOPNOTSUPP);
        small_params(&p, "static");
        p.link_pages = 0;
        assert_int_equal(multi_new(&p, &m), -EINVAL);
        assert_int_equal(multi_strategy_from_name("fcfs"), MULTI_FCFS);
        assert_int_equal(multi_mode_from_name("periodic"), MULTI_PERIODIC);
        assert_int_equal(multi_mode_from_name("sometimes"), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_params),         cmocka_unit_test(test_invariants),
                cmocka_unit_test(test_priority_gains), cmocka_unit_test(test_alone_is_sim_episode),
                cmocka_unit_test(test_shared_latency), cmocka_unit_test(test_deterministic),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
