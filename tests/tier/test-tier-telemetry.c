/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for daemon/tier/policy/telemetry.c: the point access-rate estimate, the
 * burst clustering on hand-computed series, and the HeMem-style cooled
 * counter. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tier-test.h"

#include "cleanup.h"
#include "telemetry.h"

static const TelemetryParams params = { .delta_rate = 0.5, .delta_mark_s = 1.0 };

static void test_point_rate(void **state) {
        double f = 0;

        assert_int_equal(telemetry_point_rate(1.0, 1.25, &f), 0);
        assert_double_equal(f, 4.0, 1e-12);
        assert_int_equal(telemetry_point_rate(10.0, 10.001, &f), 0);
        assert_double_equal(f, 1000.0, 1e-6);
        f = -1;
        assert_int_equal(telemetry_point_rate(2.0, 1.0, &f), -EINVAL);
        assert_int_equal(telemetry_point_rate(2.0, 2.0, &f), -ERANGE);
        assert_int_equal(telemetry_point_rate(NAN, 2.0, &f), -EINVAL);
        assert_int_equal(telemetry_point_rate(0, INFINITY, &f), -EINVAL);
        assert_double_equal(f, -1, 0); /* untouched on error */
}

/* The series of the clustering tests and what each estimate does:
 *   (0.0, 0.5)  F=2    first estimate, new burst
 *   (1.0, 1.4)  F=2.5  |2.5-2|=0.5 <= 0.5*2.5, marks 1.0 apart <= 1.0: joins; burst 0.0..1.4
 *   (3.0, 3.1)  F=10   |10-2.5|=7.5 > 5: new burst
 *   (3.5, 3.6)  F=10   same rate, marks 0.5 apart: joins; burst 3.0..3.6
 *   (5.0, 5.1)  F=10   same rate but marks 1.5 apart > δ2: new burst of 0.1 */
static const TelemetrySample series[] = {
        { 0.0, 0.5 }, { 1.0, 1.4 }, { 3.0, 3.1 }, { 3.5, 3.6 }, { 5.0, 5.1 },
};

static void test_observe_series(void **state) {
        static const int expect_new[] = { 1, 0, 1, 0, 1 };
        static const double expect_burst[] = { 0.5, 1.4, 0.1, 0.6, 0.1 };
        static const double expect_rate[] = { 2.0, 2.5, 10.0, 10.0, 10.0 };
        PageEstimator e = {};

        assert_double_equal(telemetry_burst_duration(&e), 0, 0);
        for (size_t i = 0; i < ELEMENTSOF(series); i++) {
                assert_int_equal(telemetry_observe(&e, &params, series[i].mark, series[i].access), expect_new[i]);
                assert_double_equal(e.rate, expect_rate[i], 1e-9);
                assert_double_equal(telemetry_burst_duration(&e), expect_burst[i], 1e-9);
        }
        assert_int_equal(e.n_burst, 1);
}

static void test_cluster(void **state) {
        double d[ELEMENTSOF(series)];

        assert_int_equal(telemetry_cluster(series, ELEMENTSOF(series), &params, d), 3);
        assert_double_equal(d[0], 1.4, 1e-9);
        assert_double_equal(d[1], 0.6, 1e-9);
        assert_double_equal(d[2], 0.1, 1e-9);
        assert_int_equal(telemetry_cluster(series, 0, &params, d), 0);
        assert_int_equal(telemetry_cluster(series, 1, &params, d), 1);
        assert_double_equal(d[0], 0.5, 1e-9);
}

static void test_cluster_edges(void **state) {
        /* Exactly δ1 apart (4 vs 2: |4-2| = 0.5*4) and exactly δ2 apart still join. */
        static const TelemetrySample edge[] = { { 0.0, 0.5 }, { 1.0, 1.25 } };
        /* A mark earlier than the previous one is an error, reported with nothing changed. */
        static const TelemetrySample back[] = { { 2.0, 2.5 }, { 1.0, 1.5 } };
        /* A zero-length pair says nothing and is an error too. */
        static const TelemetrySample zero[] = { { 2.0, 2.0 } };
        double d[2];
        PageEstimator e = {};

        assert_int_equal(telemetry_cluster(edge, 2, &params, d), 1);
        assert_double_equal(d[0], 1.25, 1e-12);
        assert_int_equal(telemetry_cluster(back, 2, &params, d), -EINVAL);
        assert_int_equal(telemetry_cluster(zero, 1, &params, d), -ERANGE);

        assert_int_equal(telemetry_observe(&e, &params, 2.0, 2.5), 1);
        assert_int_equal(telemetry_observe(&e, &params, 1.0, 1.5), -EINVAL);
        assert_double_equal(e.rate, 2.0, 0);
        assert_double_equal(e.last_mark, 2.0, 0);
        telemetry_reset(&e);
        assert_int_equal(e.n_burst, 0);
        assert_double_equal(telemetry_burst_duration(&e), 0, 0);
}

static void test_counter(void **state) {
        TelemetryCoolClock clk = {};
        TelemetryCounter a = {}, b = {};

        assert_double_equal(telemetry_counter_add(&clk, &a, 10, 18), 10, 0);
        assert_double_equal(telemetry_counter_add(&clk, &b, 6, 18), 6, 0);
        assert_int_equal(clk.coolings, 0);
        /* a reaches 20 >= 18: one cooling halves every count, a's at once. */
        assert_double_equal(telemetry_counter_add(&clk, &a, 10, 18), 10, 0);
        assert_int_equal(clk.coolings, 1);
        /* b catches up lazily: 6 -> 3, then +4. */
        assert_double_equal(telemetry_counter_value(&clk, &b), 3, 0);
        assert_double_equal(telemetry_counter_add(&clk, &b, 4, 18), 7, 0);
        /* Two more coolings while c sleeps: 16 -> 4. */
        TelemetryCounter c = {};
        assert_double_equal(telemetry_counter_add(&clk, &c, 16, 18), 16, 0);
        assert_double_equal(telemetry_counter_add(&clk, &a, 8, 18), 9, 0); /* 18: cools */
        assert_double_equal(telemetry_counter_add(&clk, &a, 9, 18), 9, 0); /* 18: cools */
        assert_int_equal(clk.coolings, 3);
        assert_double_equal(telemetry_counter_value(&clk, &c), 4, 0);
        /* Threshold 0: never cools. */
        assert_double_equal(telemetry_counter_add(&clk, &c, 1000, 0), 1004, 0);
        assert_int_equal(clk.coolings, 3);
        /* Very stale counts decay to nothing rather than shifting by >= 64. */
        clk.coolings += 100;
        assert_double_equal(telemetry_counter_value(&clk, &c), 0, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_point_rate), cmocka_unit_test(test_observe_series),
                cmocka_unit_test(test_cluster),    cmocka_unit_test(test_cluster_edges),
                cmocka_unit_test(test_counter),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
