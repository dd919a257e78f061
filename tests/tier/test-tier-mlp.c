/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for daemon/tier/policy/mlp.c: backpropagation against finite
 * differences, Adam against hand-computed steps, a small fit, and the JSON
 * round trip. Plus the seeded RNG of tier.c the network is built from. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tier-test.h"

#include "mlp.h"

static double loss(const Mlp *m, const double *x, const double *target, double *acts) {
        const double *y = mlp_forward(m, x, acts);
        double l = 0;

        for (unsigned i = 0; i < m->sizes[m->n_layers]; i++)
                l += 0.5 * (y[i] - target[i]) * (y[i] - target[i]);
        return l;
}

static void test_gradient_check(void **state) {
        static const unsigned sizes[] = { 5, 7, 6, 4 };
        _cleanup_(mlp_freep) Mlp *m = NULL;
        _cleanup_free_ double *acts = NULL, *grad = NULL;
        double x[5], target[4], dout[4];
        const double *y;
        unsigned checked = 0;
        TierRng rng;

        tier_rng_seed(&rng, 42);
        assert_int_equal(mlp_new(sizes, ELEMENTSOF(sizes), &rng, &m), 0);
        assert_int_equal(m->n_params, (size_t) (7 * 5 + 7 + 6 * 7 + 6 + 4 * 6 + 4));
        /* Non-zero biases, so their gradients are exercised away from the initial state. */
        for (size_t i = 0; i < m->n_params; i++)
                m->params[i] += 0.1 * tier_rng_normal(&rng);
        acts = calloc(m->n_units, sizeof(double));
        grad = calloc(m->n_params, sizeof(double));
        assert_non_null(acts);
        assert_non_null(grad);
        for (unsigned i = 0; i < 5; i++)
                x[i] = tier_rng_uniform(&rng);
        for (unsigned i = 0; i < 4; i++)
                target[i] = tier_rng_normal(&rng);

        y = mlp_forward(m, x, acts);
        for (unsigned i = 0; i < 4; i++)
                dout[i] = y[i] - target[i];
        mlp_backward(m, acts, dout, grad);

        for (size_t i = 0; i < m->n_params; i++) {
                const double h = 1e-6;
                double saved = m->params[i], lp, lm, numeric;

                m->params[i] = saved + h;
                lp = loss(m, x, target, acts);
                m->params[i] = saved - h;
                lm = loss(m, x, target, acts);
                m->params[i] = saved;
                numeric = (lp - lm) / (2 * h);
                assert_true(fabs(numeric - grad[i]) <= 1e-6 + 1e-5 * fabs(numeric));
                if (grad[i] != 0)
                        checked++;
        }
        /* Most parameters must actually carry gradient, or the check proves little. */
        assert_true(checked > m->n_params / 2);
}

static void test_adam_known_steps(void **state) {
        _cleanup_(mlp_adam_freep) MlpAdam *a = NULL;
        double p[2] = { 1.0, -2.0 };
        static const double g1[2] = { 0.5, -0.1 }, g3[2] = { -0.5, 0.0 };

        assert_int_equal(mlp_adam_new(0, 0.1, &a), -EINVAL);
        assert_int_equal(mlp_adam_new(2, -1, &a), -EINVAL);
        assert_int_equal(mlp_adam_new(2, 0.1, &a), 0);
        /* Bias correction makes the first steps exactly lr * sign(g) (up to eps). */
        mlp_adam_step(a, p, g1);
        assert_double_equal(p[0], 0.900000002, 1e-12);
        assert_double_equal(p[1], -1.900000009999999, 1e-12);
        mlp_adam_step(a, p, g1);
        assert_double_equal(p[0], 0.8000000040000006, 1e-12);
        mlp_adam_step(a, p, g3);
        /* m = 0.0355, m_hat = 0.0355/0.271, v_hat = 0.25: 0.8 - 0.1 * 0.130996 / 0.5 */
        assert_double_equal(p[0], 0.7738007425313659, 1e-12);
        assert_double_equal(p[1], -1.7226997396385015, 1e-12);
        assert_int_equal(a->t, 3);
}

/* A 2-16-16-1 network learns y = x0 * x1 on a grid well enough: training works end to end. */
static void test_fit(void **state) {
        static const unsigned sizes[] = { 2, 16, 16, 1 };
        _cleanup_(mlp_freep) Mlp *m = NULL;
        _cleanup_(mlp_adam_freep) MlpAdam *a = NULL;
        _cleanup_free_ double *acts = NULL, *grad = NULL;
        double before = 0, after = 0;
        TierRng rng;

        tier_rng_seed(&rng, 7);
        assert_int_equal(mlp_new(sizes, 4, &rng, &m), 0);
        assert_int_equal(mlp_adam_new(m->n_params, 1e-2, &a), 0);
        acts = calloc(m->n_units, sizeof(double));
        grad = calloc(m->n_params, sizeof(double));
        assert_non_null(acts);
        assert_non_null(grad);
        for (unsigned step = 0; step <= 1500; step++) {
                double total = 0;

                memset(grad, 0, m->n_params * sizeof(double));
                for (int i = -2; i <= 2; i++)
                        for (int j = -2; j <= 2; j++) {
                                double x[2] = { i / 2.0, j / 2.0 }, t = x[0] * x[1], d;
                                const double *y = mlp_forward(m, x, acts);

                                d = y[0] - t;
                                total += 0.5 * d * d / 25;
                                d /= 25;
                                mlp_backward(m, acts, &d, grad);
                        }
                if (step == 0)
                        before = total;
                after = total;
                mlp_adam_step(a, m->params, grad);
        }
        assert_true(before > 0.01);
        assert_true(after < before / 20);
}

static void test_json_round_trip(void **state) {
        static const unsigned sizes[] = { 3, 4, 2 };
        _cleanup_(mlp_freep) Mlp *m = NULL, *back = NULL;
        _cleanup_(mlp_adam_freep) MlpAdam *a = NULL, *a2 = NULL;
        double x[3] = { 0.3, -0.2, 0.9 }, acts1[9], acts2[9], g[26];
        json_object *j, *ja, *bad;
        TierRng rng;

        tier_rng_seed(&rng, 3);
        assert_int_equal(mlp_new(sizes, 3, &rng, &m), 0);
        assert_int_equal(m->n_params, 26);
        j = mlp_to_json(m);
        assert_non_null(j);
        /* Through text, as a model file or HTTP body would go. */
        bad = json_tokener_parse(json_object_to_json_string(j));
        json_object_put(j);
        j = bad;
        assert_int_equal(mlp_from_json(j, &back), 0);
        assert_memory_equal(back->params, m->params, m->n_params * sizeof(double));
        assert_memory_equal(mlp_forward(m, x, acts1), mlp_forward(back, x, acts2), 2 * sizeof(double));

        for (unsigned i = 0; i < 26; i++)
                g[i] = i - 13.0;
        assert_int_equal(mlp_adam_new(26, 1e-3, &a), 0);
        mlp_adam_step(a, m->params, g);
        ja = mlp_adam_to_json(a);
        assert_non_null(ja);
        assert_int_equal(mlp_adam_from_json(ja, 26, &a2), 0);
        assert_int_equal(a2->t, 1);
        assert_memory_equal(a2->m, a->m, 26 * sizeof(double));
        assert_memory_equal(a2->v, a->v, 26 * sizeof(double));
        assert_int_equal(mlp_adam_from_json(ja, 25, &a2), -EINVAL);
        json_object_put(ja);

        /* Wrong parameter count, zero-width layer, missing keys. */
        json_object_array_del_idx(json_object_object_get(j, "params"), 0, 1);
        assert_int_equal(mlp_from_json(j, &back), -EINVAL);
        json_object_put(j);
        bad = json_tokener_parse("{\"sizes\":[3,0,2],\"params\":[]}");
        assert_int_equal(mlp_from_json(bad, &back), -EINVAL);
        json_object_put(bad);
        bad = json_tokener_parse("{\"sizes\":[3]}");
        assert_int_equal(mlp_from_json(bad, &back), -EINVAL);
        json_object_put(bad);
}

static void test_rng(void **state) {
        TierRng a, b;
        json_object *j;
        unsigned counts[5] = {};

        tier_rng_seed(&a, 123);
        tier_rng_seed(&b, 123);
        for (unsigned i = 0; i < 100; i++)
                assert_int_equal(tier_rng_next(&a), tier_rng_next(&b));
        tier_rng_seed(&b, 124);
        assert_int_not_equal(tier_rng_next(&a), tier_rng_next(&b));

        for (unsigned i = 0; i < 5000; i++) {
                double u = tier_rng_uniform(&a);

                assert_true(u >= 0 && u < 1);
                counts[tier_rng_below(&a, 5)]++;
        }
        for (unsigned i = 0; i < 5; i++)
                assert_in_range(counts[i], 850, 1150);
        assert_int_equal(tier_rng_below(&a, 0), 0);

        j = tier_rng_to_json(&a);
        assert_non_null(j);
        assert_int_equal(tier_rng_from_json(&b, j), 0);
        assert_int_equal(tier_rng_next(&a), tier_rng_next(&b));
        json_object_put(j);
        /* All-zero is the one state xoshiro never leaves. */
        j = json_tokener_parse("[\"0000000000000000\",\"0000000000000000\",\"0000000000000000\",\"0000000000000000\"]");
        assert_int_equal(tier_rng_from_json(&b, j), -EINVAL);
        json_object_put(j);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_gradient_check),
                cmocka_unit_test(test_adam_known_steps),
                cmocka_unit_test(test_fit),
                cmocka_unit_test(test_json_round_trip),
                cmocka_unit_test(test_rng),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
