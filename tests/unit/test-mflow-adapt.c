/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for daemon/mflow/mflow-adapt.c, the adaptive mode's controller: the starting rung,
 * steps up the batch ladder over the bound, the switch to flowlet at the top, from flowlet to
 * batch when flowlet's spread is uneven (each switch once), hysteresis (calm windows before a finer step, doubled after
 * a window over the bound), the baseline subtracted, thin windows waiting, and the ladder parser. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cleanup.h"
#include "mflow-adapt.h"
#include "testgroups.h"
#include "testutil.h"

static const MflowAdaptConf conf = {
        .batches = { 64, 128, 256, 512, 1024, 2048, 4096 },
        .n_batches = 7,
        .gaps_us = { 50, 100, 200, 500 },
        .n_gaps = 4,
        .excess_ppm = 2000,
        .min_share_percent = 60,
};

/* A TCP window of 10000 segments with ooo of them out of order, shares a:b over 2 cores. */
static MflowAdaptSample window(uint64_t ooo, uint64_t a, uint64_t b) {
        return (MflowAdaptSample) {
                .tcp = true,
                .segments = 10000,
                .ooo_segments = ooo,
                .n_cores = 2,
                .core_packets = { a, b },
        };
}

static void test_init(void **state) {
        MflowAdaptState st;

        mflow_adapt_init(&conf, 256, &st);
        assert_int_equal(st.kind, MFLOW_ADAPT_BATCH);
        assert_int_equal(mflow_adapt_batch(&conf, &st), 256);
        assert_int_equal(mflow_adapt_gap_us(&conf, &st), 500);
        mflow_adapt_init(&conf, 300, &st); /* not a rung: the one below */
        assert_int_equal(mflow_adapt_batch(&conf, &st), 256);
        mflow_adapt_init(&conf, 8, &st); /* below the ladder: the smallest */
        assert_int_equal(mflow_adapt_batch(&conf, &st), 64);
        mflow_adapt_init(&conf, 1 << 20, &st);
        assert_int_equal(mflow_adapt_batch(&conf, &st), 4096);
        assert_string_equal(mflow_adapt_kind_to_string(MFLOW_ADAPT_FLOWLET), "flowlet");
        assert_null(mflow_adapt_kind_to_string(_MFLOW_ADAPT_KIND_MAX));
}

static void test_over_bound_steps_up_once(void **state) {
        MflowAdaptSample s = window(300, 5000, 5000); /* 30000 ppm */
        MflowAdaptState st;
        MflowAdaptVerdict v;

        mflow_adapt_init(&conf, 256, &st);
        mflow_adapt_step(&conf, &s, &st, &v);
        assert_true(v.changed);
        assert_int_equal(v.excess_ppm, 30000);
        assert_int_equal(v.min_share_percent, 100);
        assert_int_equal(mflow_adapt_batch(&conf, &st), 512); /* one rung, not more */
        assert_non_null(strstr(v.reason, "batch 256 -> batch 512"));
        assert_non_null(strstr(v.reason, "excess 30000 ppm, bound 2000"));
        assert_int_equal(st.hold, 2 * MFLOW_ADAPT_PATIENCE);
}

static void test_baseline_subtracted(void **state) {
        MflowAdaptSample s = window(300, 5000, 5000);
        MflowAdaptState st;
        MflowAdaptVerdict v;

        s.baseline_ppm = 28500; /* the path reorders that much without any split */
        mflow_adapt_init(&conf, 256, &st);
        mflow_adapt_step(&conf, &s, &st, &v);
        assert_false(v.changed);
        assert_int_equal(v.excess_ppm, 1500);
        assert_int_equal(mflow_adapt_batch(&conf, &st), 256);
        assert_non_null(strstr(v.reason, "within the bound"));
        s.baseline_ppm = 50000; /* a baseline above the flow's own: no excess, not negative */
        mflow_adapt_step(&conf, &s, &st, &v);
        assert_int_equal(v.excess_ppm, 0);
}

static void test_top_switches_to_flowlet(void **state) {
        MflowAdaptSample over = window(500, 5000, 5000), uneven = window(0, 9000, 1000);
        MflowAdaptState st;
        MflowAdaptVerdict v;

        mflow_adapt_init(&conf, 4096, &st);
        mflow_adapt_step(&conf, &over, &st, &v);
        assert_true(v.changed);
        assert_int_equal(st.kind, MFLOW_ADAPT_FLOWLET);
        assert_int_equal(mflow_adapt_gap_us(&conf, &st), 500); /* the calmest gap first */
        assert_non_null(strstr(v.reason, "batch 4096 -> flowlet 500 us"));

        /* flowlet's spread uneven within the bound: shorter gaps, one per window */
        for (unsigned want = 200; want >= 50; want = want == 200 ? 100 : want == 100 ? 50 : 0) {
                mflow_adapt_step(&conf, &uneven, &st, &v);
                assert_true(v.changed);
                assert_int_equal(st.kind, MFLOW_ADAPT_FLOWLET);
                assert_int_equal(mflow_adapt_gap_us(&conf, &st), want);
                assert_non_null(strstr(v.reason, "least core 20% of even"));
        }
        /* ... and at the shortest gap it stays: batch splitting exceeded the bound (no ping-pong) */
        mflow_adapt_step(&conf, &uneven, &st, &v);
        assert_false(v.changed);
        assert_int_equal(st.kind, MFLOW_ADAPT_FLOWLET);
        assert_non_null(strstr(v.reason, "largest batch exceeded"));
}

static void test_uneven_flowlet_to_batch(void **state) {
        MflowAdaptSample over = window(500, 5000, 5000), uneven = window(0, 9000, 1000);
        MflowAdaptState st;
        MflowAdaptVerdict v;

        mflow_adapt_init(&conf, 2048, &st);
        st.kind = MFLOW_ADAPT_FLOWLET;
        st.gap = 0;
        mflow_adapt_step(&conf, &uneven, &st, &v);
        assert_true(v.changed);
        assert_int_equal(st.kind, MFLOW_ADAPT_BATCH);
        assert_int_equal(mflow_adapt_batch(&conf, &st), 2048);
        assert_non_null(strstr(v.reason, "flowlet 50 us -> batch 2048: uneven at the shortest gap"));
        mflow_adapt_step(&conf, &over, &st, &v);
        assert_int_equal(mflow_adapt_batch(&conf, &st), 4096);
        /* batch at the top over the bound: flowlet was uneven, batch stays */
        mflow_adapt_step(&conf, &over, &st, &v);
        assert_false(v.changed);
        assert_int_equal(st.kind, MFLOW_ADAPT_BATCH);
        assert_non_null(strstr(v.reason, "kept"));
}

static void test_flowlet_over_bound_lengthens(void **state) {
        MflowAdaptSample over = window(500, 5000, 5000), calm = window(5, 5000, 5000), uneven = window(0, 9000, 1000);
        MflowAdaptState st;
        MflowAdaptVerdict v;

        mflow_adapt_init(&conf, 4096, &st);
        st.kind = MFLOW_ADAPT_FLOWLET;
        st.gap = 1;
        st.batch = 5;
        mflow_adapt_step(&conf, &over, &st, &v);
        assert_int_equal(mflow_adapt_gap_us(&conf, &st), 200);
        mflow_adapt_step(&conf, &over, &st, &v);
        assert_int_equal(mflow_adapt_gap_us(&conf, &st), 500);
        /* the longest gap: the batch after gapless batches grows instead */
        mflow_adapt_step(&conf, &over, &st, &v);
        assert_true(v.changed);
        assert_int_equal(mflow_adapt_batch(&conf, &st), 4096);
        /* ... then no move without a gap at all */
        mflow_adapt_step(&conf, &over, &st, &v);
        assert_true(v.changed);
        assert_true(st.gaps_only);
        assert_non_null(strstr(v.reason, "flowlet 500 us -> flowlet 500 us, gaps only"));
        mflow_adapt_step(&conf, &over, &st, &v);
        assert_false(v.changed);
        assert_non_null(strstr(v.reason, "calmest setting"));
        /* calm windows undo it first, an uneven spread too */
        st.calm = 0;
        for (unsigned i = 0; i < MFLOW_ADAPT_HOLD_MAX; i++)
                mflow_adapt_step(&conf, &calm, &st, &v);
        assert_true(v.changed);
        assert_false(st.gaps_only);
        assert_int_equal(mflow_adapt_gap_us(&conf, &st), 500);
        st.gaps_only = true;
        mflow_adapt_step(&conf, &uneven, &st, &v);
        assert_true(v.changed);
        assert_false(st.gaps_only);
        assert_int_equal(mflow_adapt_gap_us(&conf, &st), 500);
        assert_non_null(strstr(v.reason, "gapless batches move again"));
        assert_int_equal(st.hold, MFLOW_ADAPT_HOLD_MAX); /* doubling is bounded */
}

static void test_hysteresis(void **state) {
        MflowAdaptSample calm = window(5, 5000, 5000), over = window(300, 5000, 5000),
                         middle = window(15, 5000, 5000); /* 500, 30000, 1500 ppm */
        MflowAdaptState st;
        MflowAdaptVerdict v;

        mflow_adapt_init(&conf, 256, &st);
        for (unsigned i = 1; i < MFLOW_ADAPT_PATIENCE; i++) {
                mflow_adapt_step(&conf, &calm, &st, &v);
                assert_false(v.changed);
                assert_non_null(strstr(v.reason, "calm"));
        }
        mflow_adapt_step(&conf, &calm, &st, &v);
        assert_true(v.changed);
        assert_int_equal(mflow_adapt_batch(&conf, &st), 128);
        assert_non_null(strstr(v.reason, "batch 256 -> batch 128: calm for 4 windows"));

        /* over the bound: back up at once, and twice as many calm windows before trying again */
        mflow_adapt_step(&conf, &over, &st, &v);
        assert_int_equal(mflow_adapt_batch(&conf, &st), 256);
        for (unsigned i = 0; i < 3; i++)
                mflow_adapt_step(&conf, &calm, &st, &v);
        /* a window between half the bound and the bound breaks the calm streak */
        mflow_adapt_step(&conf, &middle, &st, &v);
        assert_false(v.changed);
        assert_int_equal(st.calm, 0);
        for (unsigned i = 1; i < 2 * MFLOW_ADAPT_PATIENCE; i++) {
                mflow_adapt_step(&conf, &calm, &st, &v);
                assert_false(v.changed);
        }
        mflow_adapt_step(&conf, &calm, &st, &v);
        assert_true(v.changed);
        assert_int_equal(mflow_adapt_batch(&conf, &st), 128);

        /* at the finest rung nothing moves */
        st.batch = 0;
        st.calm = 0;
        for (unsigned i = 0; i < 20; i++) {
                mflow_adapt_step(&conf, &calm, &st, &v);
                assert_false(v.changed);
        }
        assert_non_null(strstr(v.reason, "finest"));
}

static void test_thin_windows_wait(void **state) {
        MflowAdaptSample s = window(100, 10, 10);
        MflowAdaptState st;
        MflowAdaptVerdict v;

        s.segments = MFLOW_ADAPT_MIN_SEGMENTS - 1;
        mflow_adapt_init(&conf, 256, &st);
        mflow_adapt_step(&conf, &s, &st, &v);
        assert_false(v.changed);
        assert_int_equal(v.excess_ppm, -1);
        assert_int_equal(v.min_share_percent, -1);
        assert_false(v.judged);
        assert_int_equal(st.windows, 0); /* only judged windows count */
        assert_non_null(strstr(v.reason, "waiting"));

        /* UDP: no reordering measure, but an uneven flowlet spread still counts */
        s = window(0, 9000, 1000);
        s.tcp = false;
        st.kind = MFLOW_ADAPT_FLOWLET;
        st.gap = 2;
        mflow_adapt_step(&conf, &s, &st, &v);
        assert_int_equal(v.excess_ppm, -1);
        assert_true(v.judged);
        assert_int_equal(st.windows, 1);
        assert_true(v.changed);
        assert_int_equal(mflow_adapt_gap_us(&conf, &st), 100);
        /* ... an even one keeps the setting */
        s = window(0, 5000, 5000);
        s.tcp = false;
        mflow_adapt_step(&conf, &s, &st, &v);
        assert_false(v.changed);
        assert_non_null(strstr(v.reason, "no reordering measure"));
}

static void test_ladder_parse(void **state) {
        unsigned v[MFLOW_ADAPT_LADDER_MAX];

        assert_int_equal(mflow_adapt_ladder_parse("64 128,256  4096", 1, 1048576, v, 16), 4);
        assert_int_equal(v[0], 64);
        assert_int_equal(v[3], 4096);
        assert_int_equal(mflow_adapt_ladder_parse("7", 1, 10, v, 16), 1);
        assert_int_equal(mflow_adapt_ladder_parse("", 1, 10, v, 16), -EINVAL);
        assert_int_equal(mflow_adapt_ladder_parse(NULL, 1, 10, v, 16), -EINVAL);
        assert_int_equal(mflow_adapt_ladder_parse("4 2", 1, 10, v, 16), -EINVAL);  /* descending */
        assert_int_equal(mflow_adapt_ladder_parse("2 2", 1, 10, v, 16), -EINVAL);  /* repeated */
        assert_int_equal(mflow_adapt_ladder_parse("0 2", 1, 10, v, 16), -EINVAL);  /* below */
        assert_int_equal(mflow_adapt_ladder_parse("2 11", 1, 10, v, 16), -EINVAL); /* above */
        assert_int_equal(mflow_adapt_ladder_parse("2x", 1, 10, v, 16), -EINVAL);
        assert_int_equal(mflow_adapt_ladder_parse("-2", 1, 10, v, 16), -EINVAL);
        assert_int_equal(mflow_adapt_ladder_parse("1 2 3", 1, 10, v, 2), -E2BIG);
}

static const struct CMUnitTest tests_any_host[] = {
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_over_bound_steps_up_once),
        cmocka_unit_test(test_baseline_subtracted),
        cmocka_unit_test(test_top_switches_to_flowlet),
        cmocka_unit_test(test_uneven_flowlet_to_batch),
        cmocka_unit_test(test_flowlet_over_bound_lengthens),
        cmocka_unit_test(test_hysteresis),
        cmocka_unit_test(test_thin_windows_wait),
        cmocka_unit_test(test_ladder_parse),
};

static const TestGroup groups[] = {
        TEST_GROUP(NULL, NULL, tests_any_host),
};

int main(int argc, char **argv) {
        if (testutil_fixtures_init() < 0)
                return 1;
        return testgroups_run(argc, argv, groups, ELEMENTSOF(groups));
}
