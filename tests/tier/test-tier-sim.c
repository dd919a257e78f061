/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for tools/tiersim: trace parsing (good and malformed input, with
 * line numbers), generator determinism, a hand-computed two-epoch simulation,
 * invariants over every workload and policy, and seeded determinism of
 * training. */
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

#include "sim.h"
#include "workload.h"

static int parse_text(const char *text, size_t len, Trace **ret, char **ret_error) {
        _cleanup_fclose_ FILE *f = fmemopen((void *) text, len, "r");

        assert_non_null(f);
        return trace_parse(f, ret, ret_error);
}

static void test_trace_parse(void **state) {
        static const char text[] = "# epoch page count\n"
                                   "\n"
                                   "3 0x10 1\n" /* not decimal: rejected below; see good[] */;
        static const char good[] = "# a comment\n"
                                   "3 4096 2\n"
                                   "  3\t77 1   # trailing comment\n"
                                   "3 4096 5\n" /* same page, same epoch: merged to 7 */
                                   "\n"
                                   "6 77 1\n" /* epochs 4 and 5 are empty */
                                   "6 18446744073709551615 3";
        _cleanup_(trace_freep) Trace *t = NULL;
        _cleanup_free_ char *err = NULL;

        assert_int_equal(parse_text(good, strlen(good), &t, &err), 0);
        assert_null(err);
        assert_int_equal(t->n_epochs, 4);
        assert_int_equal(t->n_pages, 3);
        assert_int_equal(t->n_entries, 4);
        assert_int_equal(t->total_samples, 12);
        /* epoch 3: page 4096 (id 0) x7, page 77 (id 1) x1 */
        assert_int_equal(t->epoch_start[0], 0);
        assert_int_equal(t->epoch_start[1], 2);
        assert_int_equal(t->page[0], 0);
        assert_int_equal(t->count[0], 7);
        assert_int_equal(t->page[1], 1);
        assert_int_equal(t->count[1], 1);
        assert_int_equal(t->epoch_start[2], 2); /* empty */
        assert_int_equal(t->epoch_start[3], 2); /* empty */
        assert_int_equal(t->page[2], 1);
        assert_int_equal(t->page[3], 2);
        assert_int_equal(t->count[3], 3);
        assert_int_equal(t->epoch_start[4], 4);

        assert_int_equal(parse_text(text, strlen(text), &t, &err), -EINVAL);
        assert_string_equal(err, "3: page is not an unsigned decimal integer");
}

/* Counts beyond 32 bits load exactly (an epoch of billions of accesses can give one page more
 * than 2^32 samples); duplicates add up to UINT64_MAX and no further. */
static void test_trace_large_counts(void **state) {
        static const char text[] = "0 7 4294967296\n"
                                   "0 7 4294967295\n"
                                   "1 18446744073709551615 18446744073709551615\n";
        static const char sum[] = "0 1 18446744073709551615\n"
                                  "0 1 1\n";
        _cleanup_(trace_freep) Trace *t = NULL;
        _cleanup_free_ char *err = NULL;

        assert_int_equal(parse_text(text, strlen(text), &t, &err), -EINVAL);
        assert_string_equal(err, "3: counts add up to more than 18446744073709551615");
        free(err);
        err = NULL;
        assert_int_equal(parse_text(text, strlen(text) - 44, &t, &err), 0);
        assert_null(err);
        assert_int_equal(t->n_entries, 1);
        assert_true(t->count[0] == UINT64_C(8589934591));
        assert_true(t->total_samples == UINT64_C(8589934591));
        trace_free(t);
        t = NULL;
        assert_int_equal(parse_text(text + 30, strlen(text) - 30, &t, &err), 0);
        assert_true(t->count[0] == UINT64_MAX);
        assert_int_equal(parse_text(sum, strlen(sum), &(Trace *) { NULL }, &err), -EINVAL);
        assert_string_equal(err, "2: counts add up to more than 18446744073709551615");
}

static void expect_error(const char *text, size_t len, int code, const char *message) {
        Trace *t = NULL;
        _cleanup_free_ char *err = NULL;

        assert_int_equal(parse_text(text, len, &t, &err), code);
        assert_null(t);
        if (message) {
                assert_non_null(err);
                assert_string_equal(err, message);
        } else
                assert_null(err);
}

static void test_trace_malformed(void **state) {
        static const char nul[] = "1 2 3\n1 2\0 3\n";
        _cleanup_free_ char *longline = NULL;

        expect_error("1 2 3\n1 2\n", 10, -EINVAL, "2: expected 3 fields: epoch page count (no count)");
        expect_error("1\n", 2, -EINVAL, "1: expected 3 fields: epoch page count (no page)");
        expect_error("1 2 3 4\n", 8, -EINVAL, "1: trailing garbage after epoch page count");
        expect_error("1 -2 3\n", 7, -EINVAL, "1: page is not an unsigned decimal integer");
        expect_error("1 2 3x\n", 7, -EINVAL, "1: count is not an unsigned decimal integer");
        expect_error("1 2 +3\n", 7, -EINVAL, "1: count is not an unsigned decimal integer");
        expect_error("x y z\n", 6, -EINVAL, "1: epoch is not an unsigned decimal integer");
        expect_error("1 0x10 1\n", 9, -EINVAL, "1: page is not an unsigned decimal integer");
        expect_error("# c\n1 2 0\n", 10, -EINVAL, "2: count must be at least 1");
        expect_error("1 99999999999999999999 1\n", 25, -EINVAL,
                     "1: page out of range (more than 18446744073709551615)");
        expect_error("18446744073709551616 1 1\n", 25, -EINVAL,
                     "1: epoch out of range (more than 18446744073709551615)");
        expect_error("1 1 18446744073709551616\n", 25, -EINVAL,
                     "1: count out of range (more than 18446744073709551615)");
        expect_error("5 1 1\n5 2 1\n4 1 1\n", 18, -EINVAL,
                     "3: epoch is before the previous line's epoch (epochs must not decrease)");
        expect_error("0 1 1\n5000000 1 1\n", 18, -E2BIG,
                     "2: trace too large (more than 16777216 pages or 4194304 epochs)");
        expect_error(nul, sizeof nul - 1, -EINVAL, "2: NUL byte in line");
        expect_error("\n\n", 2, -ENODATA, NULL);
        expect_error("# only comments\n\n", 17, -ENODATA, NULL);

        longline = malloc(TRACE_MAX_LINE + 16);
        assert_non_null(longline);
        memset(longline, ' ', TRACE_MAX_LINE + 10);
        memcpy(longline + TRACE_MAX_LINE + 4, "1 1 1\n", 6);
        expect_error(longline, TRACE_MAX_LINE + 10, -EINVAL, "1: line too long");
}

static void test_trace_load(void **state) {
        Trace *t = NULL;
        char *err = NULL;

        assert_int_equal(trace_load("/nonexistent/trace.txt", &t, &err), -ENOENT);
        assert_null(err);
        assert_null(t);
}

static bool traces_equal(const Trace *a, const Trace *b) {
        return a->n_epochs == b->n_epochs && a->n_entries == b->n_entries && a->n_pages == b->n_pages &&
               memcmp(a->epoch_start, b->epoch_start, (a->n_epochs + 1) * sizeof(size_t)) == 0 &&
               memcmp(a->page, b->page, a->n_entries * sizeof(uint32_t)) == 0 &&
               memcmp(a->count, b->count, a->n_entries * sizeof(uint64_t)) == 0;
}

static void test_workloads(void **state) {
        const WorkloadParams wp = { .pages = 2048, .epochs = 40 };
        const char *const *names = workload_names();
        Trace *t = NULL;

        for (size_t i = 0; names[i]; i++) {
                _cleanup_(trace_freep) Trace *a = NULL, *b = NULL, *c = NULL;

                assert_int_equal(workload_generate(names[i], &wp, 1, &a), 0);
                assert_int_equal(workload_generate(names[i], &wp, 1, &b), 0);
                assert_int_equal(workload_generate(names[i], &wp, 2, &c), 0);
                assert_true(traces_equal(a, b));
                if (strcmp(names[i], "scan") != 0) /* scan uses no randomness */
                        assert_false(traces_equal(a, c));
                assert_true(a->n_pages <= wp.pages);
                assert_true(a->n_pages > wp.pages / 4);
                /* bfs may end on idle epochs, which a trace does not keep. */
                if (strcmp(names[i], "bfs") == 0)
                        assert_true(a->n_epochs <= wp.epochs);
                else
                        assert_int_equal(a->n_epochs, wp.epochs);
        }
        assert_int_equal(workload_generate("pagerank", &wp, 1, &t), -ENOENT);
        assert_int_equal(workload_generate("bfs", &(WorkloadParams) { .pages = 10, .epochs = 5 }, 1, &t), -EINVAL);
        assert_null(t);
}

static Trace *two_epochs(void) {
        TraceBuilder *b = NULL;
        Trace *t = NULL;

        assert_int_equal(trace_builder_new(&b), 0);
        assert_int_equal(trace_builder_add(b, 0, 100, 1), 0);
        assert_int_equal(trace_builder_add(b, 1, 100, 1), 0);
        assert_int_equal(trace_builder_finish(b, &t), 0);
        return t;
}

static void run_policy(Sim *s, const char *name, unsigned action, SimResult *ret) {
        _cleanup_(policy_freep) TierPolicy *p = NULL;
        TierPolicyParams pp;

        policy_params_default(&pp);
        pp.action = action;
        assert_int_equal(policy_new(name, &pp, &p), 0);
        assert_int_equal(sim_evaluate(s, p, &(SimTrainOpts) {}, ret, NULL), 0);
}

/* One page, two epochs, one sample each, 10 accesses per sample, an idle and effectively
 * infinite link: every number below follows from the model's formulas by hand. */
static void test_hand_computed(void **state) {
        _cleanup_(trace_freep) Trace *t = two_epochs();
        _cleanup_(sim_freep) Sim *s = NULL;
        SimParams sp;
        SimResult r;
        const double move = 4096 / (1e15 * 300e-9) * 300e-9 + 10 * 300e-9;

        sim_params_default(&sp);
        sp.local_fraction = 1;
        sp.link_bw_Bps = 1e15;
        sp.accesses_per_sample = 10;
        sp.cpu_per_access_s = 0;
        sp.mlp = 1;
        assert_int_equal(sim_new(t, &sp, &s), 0);
        assert_int_equal(sim_local_capacity(s), 1);
        assert_double_equal(sim_all_local(s), 2 * 10 * 100e-9, 1e-15);

        run_policy(s, "none", 0, &r);
        /* 1e-11: the idle link still adds a 1e-7 fraction of queueing to the remote latency. */
        assert_double_equal(r.runtime_s, 2 * 10 * 400e-9, 1e-11);
        assert_int_equal(r.promotions, 0);
        assert_int_equal(r.traffic_bytes, 2 * 10 * 64);
        assert_int_equal(r.remote_samples, 2);

        /* static: the access at 2 us after the mark at 0 gives F = 5e5/s >= 1/s: promoted at the end
         * of epoch 0 for one page move; epoch 1 is local. */
        run_policy(s, "static", 0, &r);
        assert_double_equal(r.runtime_s, 10 * 400e-9 + move + 10 * 100e-9, 1e-11);
        assert_int_equal(r.promotions, 1);
        assert_int_equal(r.demotions, 0);
        assert_int_equal(r.traffic_bytes, 10 * 64 + 4096);
        assert_int_equal(r.local_samples, 1);
        assert_int_equal(r.remote_samples, 1);

        /* grid action 30 (rate 1000/s, burst 0) promotes too; action 1 needs a 10 ms burst, which a
         * single 2 us estimate is not. */
        run_policy(s, "grid", 30, &r);
        assert_int_equal(r.promotions, 1);
        run_policy(s, "grid", 1, &r);
        assert_int_equal(r.promotions, 0);
        assert_double_equal(r.runtime_s, 2 * 10 * 400e-9, 1e-11);
}

static void check_invariants(const Trace *t, Sim *s, const SimParams *sp, const char *policy, const SimResult *r) {
        uint64_t moves = r->promotions + r->demotions;

        assert_true(r->runtime_s >= sim_all_local(s) * (1 - 1e-12));
        assert_int_equal(r->local_samples + r->remote_samples, t->total_samples);
        assert_int_equal(r->traffic_bytes, (uint64_t) (r->remote_samples * sp->accesses_per_sample * sp->line_size) +
                                                   moves * (uint64_t) sp->page_size);
        assert_true(r->demotions <= r->promotions);
        assert_true(r->promotions - r->demotions <= sim_local_capacity(s));
        if (strcmp(policy, "none") == 0 || sp->local_fraction == 0) {
                assert_int_equal(r->promotions, 0);
                assert_int_equal(r->remote_samples, t->total_samples);
        }
        if (sp->local_fraction == 1)
                assert_int_equal(r->demotions, 0);
}

static void test_invariants(void **state) {
        static const char *const policies[] = { "none", "static", "ewma", "heuristic", "grid", "linucb" };
        static const double fractions[] = { 0, 0.3, 1 };
        static const double contentions[] = { 0, 0.5 };
        const WorkloadParams wp = { .pages = 1024, .epochs = 30 };
        const char *const *names = workload_names();

        for (size_t w = 0; names[w]; w++) {
                _cleanup_(trace_freep) Trace *t = NULL;

                assert_int_equal(workload_generate(names[w], &wp, 3, &t), 0);
                for (size_t f = 0; f < ELEMENTSOF(fractions); f++)
                        for (size_t c = 0; c < ELEMENTSOF(contentions); c++) {
                                _cleanup_(sim_freep) Sim *s = NULL;
                                SimParams sp;

                                sim_params_default(&sp);
                                sp.local_fraction = fractions[f];
                                sp.contention = contentions[c];
                                assert_int_equal(sim_new(t, &sp, &s), 0);
                                for (size_t p = 0; p < ELEMENTSOF(policies); p++) {
                                        _cleanup_(policy_freep) TierPolicy *pol = NULL;
                                        TierPolicyParams pp;
                                        SimResult r;

                                        policy_params_default(&pp);
                                        pp.action = 12;
                                        assert_int_equal(policy_new(policies[p], &pp, &pol), 0);
                                        assert_int_equal(sim_evaluate(s, pol, &(SimTrainOpts) { .episodes = 5 }, &r,
                                                                      NULL),
                                                         0);
                                        check_invariants(t, s, &sp, policies[p], &r);
                                }
                        }
        }
}

static void test_contention_hurts(void **state) {
        const WorkloadParams wp = { .pages = 1024, .epochs = 30 };
        _cleanup_(trace_freep) Trace *t = NULL;
        SimResult calm, busy;

        assert_int_equal(workload_generate("zipf", &wp, 1, &t), 0);
        for (int i = 0; i < 2; i++) {
                _cleanup_(sim_freep) Sim *s = NULL;
                SimParams sp;

                sim_params_default(&sp);
                sp.contention = i ? 0.5 : 0;
                assert_int_equal(sim_new(t, &sp, &s), 0);
                run_policy(s, "static", 0, i ? &busy : &calm);
        }
        assert_true(busy.runtime_s > calm.runtime_s);
        assert_int_equal(busy.remote_samples + busy.local_samples, calm.remote_samples + calm.local_samples);
}

static void train(const Trace *t, uint64_t seed, SimResult *ret, SimTraining *ret_tr, char **ret_model) {
        _cleanup_(sim_freep) Sim *s = NULL;
        _cleanup_(policy_freep) TierPolicy *p = NULL;
        TierPolicyParams pp;
        SimParams sp;
        json_object *j;

        sim_params_default(&sp);
        sp.contention = 0.5;
        policy_params_default(&pp);
        pp.seed = seed;
        pp.train_steps = 2;
        assert_int_equal(sim_new(t, &sp, &s), 0);
        assert_int_equal(policy_new("indigo", &pp, &p), 0);
        assert_int_equal(sim_evaluate(s, p, &(SimTrainOpts) { .episodes = 40, .seed = seed }, ret, ret_tr), 0);
        assert_int_equal(policy_to_json(p, &j), 0);
        *ret_model = strdup(json_object_to_json_string(j));
        json_object_put(j);
}

static void test_training_deterministic(void **state) {
        const WorkloadParams wp = { .pages = 1024, .epochs = 30 };
        _cleanup_(trace_freep) Trace *t = NULL;
        _cleanup_free_ char *m1 = NULL, *m2 = NULL, *m3 = NULL;
        SimResult r1, r2, r3;
        SimTraining t1, t2, t3;

        assert_int_equal(workload_generate("phases", &wp, 9, &t), 0);
        train(t, 4, &r1, &t1, &m1);
        train(t, 4, &r2, &t2, &m2);
        train(t, 5, &r3, &t3, &m3);
        assert_string_equal(m1, m2);
        assert_true(r1.runtime_s == r2.runtime_s);
        assert_int_equal(r1.promotions, r2.promotions);
        assert_int_equal(t1.cache_served, t2.cache_served);
        assert_int_equal(t1.final.action, t2.final.action);
        assert_string_not_equal(m1, m3);

        /* 40 runs, each after at most SIM_CACHE_SERVES_MAX decisions; every hit is one served. */
        assert_int_equal(t1.episodes, 40);
        assert_true(t1.cache_served > 0 && t1.cache_served <= 40 * SIM_CACHE_SERVES_MAX);
        assert_true(t1.cache_hit_rate > 0 && t1.cache_hit_rate < 1);
        assert_true(t1.final.action >= 0);
        assert_false(t1.final.explored);
}

static void evaluate(Sim *s, const char *name, unsigned action, const SimTrainOpts *o, SimResult *ret,
                     SimTraining *ret_tr) {
        _cleanup_(policy_freep) TierPolicy *p = NULL;
        TierPolicyParams pp;

        policy_params_default(&pp);
        pp.seed = o->seed;
        pp.action = action;
        pp.train_steps = 2;
        assert_int_equal(policy_new(name, &pp, &p), 0);
        assert_int_equal(sim_evaluate(s, p, o, ret, ret_tr), 0);
}

/* Regret is judged on true runtimes against the best grid action: the best action itself has
 * regret 0, every other one more; a learner's regret and cumulative regret are >= 0 and noise
 * changes what it is told, not how it is judged. */
static void test_regret(void **state) {
        const WorkloadParams wp = { .pages = 1024, .epochs = 30 };
        _cleanup_(trace_freep) Trace *t = NULL;
        _cleanup_(sim_freep) Sim *s = NULL;
        SimTrainOpts o = { .regret = true, .seed = 3, .episodes = 30, .checkpoint = 10 };
        SimTraining tr, quiet, noisy, again;
        SimResult r, r2;
        unsigned best;
        SimParams sp;

        assert_int_equal(workload_generate("bfs", &wp, 2, &t), 0);
        sim_params_default(&sp);
        sp.contention = 0.5;
        assert_int_equal(sim_new(t, &sp, &s), 0);
        evaluate(s, "grid", 0, &o, &r, &tr);
        best = tr.best_action;
        assert_true(tr.have_regret && tr.regret >= 0);
        assert_true(tr.cumulative_regret == tr.regret);
        evaluate(s, "grid", best, &o, &r, &tr);
        assert_true(tr.regret == 0 && tr.best_runtime_s == r.runtime_s);
        evaluate(s, "grid", best == 0 ? 35 : 0, &o, &r, &tr);
        assert_true(tr.regret > 0);

        evaluate(s, "linucb", 0, &o, &r, &quiet);
        assert_true(quiet.regret >= 0 && quiet.cumulative_regret >= 0 && quiet.checkpoint_regret >= 0);
        assert_true(quiet.checkpoint_cumulative_regret >= 0);
        o.noise = 0.05;
        evaluate(s, "linucb", 0, &o, &r, &noisy);
        evaluate(s, "linucb", 0, &o, &r2, &again);
        assert_true(noisy.best_runtime_s == quiet.best_runtime_s);
        assert_true(noisy.best_reward != quiet.best_reward);
        assert_true(noisy.cumulative_regret == again.cumulative_regret && r.runtime_s == r2.runtime_s);
}

/* A context shift changes the setting the final decision is judged in, and the Sim is left in
 * its starting setting afterwards. */
static void test_shift(void **state) {
        const WorkloadParams wp = { .pages = 1024, .epochs = 30 };
        _cleanup_(trace_freep) Trace *t = NULL;
        _cleanup_(sim_freep) Sim *calm = NULL, *busy = NULL;
        SimTrainOpts o = { .regret = true, .seed = 1, .episodes = 20 };
        SimTraining shifted, at_busy, at_calm;
        TierContext ctx;
        SimResult r;
        SimParams sp;

        assert_int_equal(workload_generate("zipf", &wp, 1, &t), 0);
        sim_params_default(&sp);
        assert_int_equal(sim_new(t, &sp, &calm), 0);
        sp.contention = 0.5;
        assert_int_equal(sim_new(t, &sp, &busy), 0);
        evaluate(busy, "indigo", 0, &o, &r, &at_busy);
        evaluate(calm, "indigo", 0, &o, &r, &at_calm);
        o.shift_episode = 10;
        o.shift_contention = 0.5;
        evaluate(calm, "indigo", 0, &o, &r, &shifted);
        assert_true(shifted.best_runtime_s == at_busy.best_runtime_s);
        assert_true(shifted.best_runtime_s > at_calm.best_runtime_s);
        assert_true(shifted.regret >= 0 && shifted.cumulative_regret >= 0);
        sim_context(calm, &ctx);
        assert_true(ctx.contention == 0);
        assert_int_equal(sim_set_contention(calm, 0.95), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_regret),
                cmocka_unit_test(test_shift),
                cmocka_unit_test(test_trace_parse),
                cmocka_unit_test(test_trace_malformed),
                cmocka_unit_test(test_trace_large_counts),
                cmocka_unit_test(test_trace_load),
                cmocka_unit_test(test_workloads),
                cmocka_unit_test(test_hand_computed),
                cmocka_unit_test(test_invariants),
                cmocka_unit_test(test_contention_hurts),
                cmocka_unit_test(test_training_deterministic),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
