/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the per-socket copy/zero-copy choice by measured cost (client/libmaio/zc-cost.c),
 * driven by a simulated CPU clock that charges each send what its mode costs: the cheaper mode
 * wins, a near tie keeps zero-copy, the windows run zero-copy, copy, copy, zero-copy so a cost
 * that drifts during the measurement does not decide, one socket of a ring measures at a time,
 * the choice is measured again after ZC_COST_REJUDGE_BYTES, and a measurer that went quiet loses
 * the ring's turn. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "zc-cost.h"

#define SEND (16u * 1024u)

/* The simulated path: ns per KiB of each mode, plus a drift added per MiB sent. */
typedef struct Path {
        double ns_per_kib[2]; /* [copy, zc] */
        double drift_per_mib; /* both modes get dearer by this many ns/KiB per MiB sent */
        double now;           /* the clock: ns of CPU time so far */
        uint64_t sent;
        unsigned clock_reads;
        unsigned judgments; /* sends that returned ZC_COST_JUDGED */
} Path;

static uint64_t path_clock(void *userdata) {
        Path *p = userdata;
        p->clock_reads++;
        return (uint64_t) p->now;
}

/* One eligible send through the judge; returns its ZC_COST_* mask. */
static unsigned path_send(Path *p, maio_zc_cost *c, bool may_start) {
        unsigned out = zc_cost_next(c, SEND, may_start, path_clock, p);
        int m = (out & ZC_COST_USE_ZC) ? 1 : 0;
        double per_kib = p->ns_per_kib[m] + p->drift_per_mib * (double) p->sent / (1024.0 * 1024.0);
        p->now += per_kib * SEND / 1024.0;
        p->sent += SEND;
        p->judgments += !!(out & ZC_COST_JUDGED);
        return out;
}

/* Sends until the first judgment; returns the number of sends. */
static uint64_t until_judged(Path *p, maio_zc_cost *c) {
        uint64_t n = 0, limit = 4 * ZC_COST_REJUDGE_BYTES / SEND;
        while (!(path_send(p, c, true) & ZC_COST_JUDGED))
                assert_true(++n < limit);
        return n;
}

/* A fresh state on path p, sent through until its first judgment. */
static void first_judgment(Path *p, maio_zc_cost *c) {
        zc_cost_init(c);
        until_judged(p, c);
}

static void test_copy_cheaper_wins(void **state) {
        (void) state;
        Path p = { .ns_per_kib = { 80.0, 100.0 } };
        maio_zc_cost c;
        first_judgment(&p, &c);
        assert_false(c.zc);
        assert_int_equal(p.judgments, 1);
        assert_true(c.last_ns_per_kib[0] > 79.0 && c.last_ns_per_kib[0] < 81.0);
        assert_true(c.last_ns_per_kib[1] > 99.0 && c.last_ns_per_kib[1] < 101.0);
        /* Until the next measurement every send copies. */
        for (uint64_t i = 0; i < ZC_COST_REJUDGE_BYTES / SEND - 1; i++)
                assert_int_equal(path_send(&p, &c, true) & ZC_COST_USE_ZC, 0);
}

static void test_zc_cheaper_wins(void **state) {
        (void) state;
        Path p = { .ns_per_kib = { 100.0, 70.0 } };
        maio_zc_cost c;
        first_judgment(&p, &c);
        assert_true(c.zc);
}

static void test_near_tie_keeps_zc(void **state) {
        (void) state;
        Path p = { .ns_per_kib = { 99.0, 100.0 } }; /* copy 1% cheaper: within ZC_COST_TIE */
        maio_zc_cost c;
        first_judgment(&p, &c);
        assert_true(c.zc);
}

/* Warm-up in zero-copy, then windows zc, copy, copy, zc of one window's bytes each, and the clock
 * read once per window edge. */
static void test_window_order(void **state) {
        (void) state;
        Path p = { .ns_per_kib = { 50.0, 60.0 } };
        maio_zc_cost c;
        const uint64_t per_window = ZC_COST_WINDOW_BYTES / SEND;
        const bool want[ZC_COST_WINDOWS] = { true, false, false, true };
        zc_cost_init(&c);
        for (uint64_t i = 0; i < ZC_COST_WARMUP_BYTES / SEND; i++)
                assert_int_equal(path_send(&p, &c, true), ZC_COST_USE_ZC);
        assert_int_equal(p.clock_reads, 0);
        for (unsigned w = 0; w < ZC_COST_WINDOWS; w++)
                for (uint64_t i = 0; i < per_window; i++) {
                        unsigned out = path_send(&p, &c, true);
                        assert_int_equal(!!(out & ZC_COST_USE_ZC), want[w]);
                        assert_int_equal(!!(out & ZC_COST_STARTED), w == 0 && i == 0);
                        assert_int_equal(out & ZC_COST_JUDGED, 0);
                }
        assert_int_equal(p.clock_reads, ZC_COST_WINDOWS);
        assert_true(c.measuring);
        assert_int_equal(path_send(&p, &c, true), ZC_COST_JUDGED); /* copy chosen: no USE_ZC */
        assert_int_equal(p.clock_reads, ZC_COST_WINDOWS + 1);
        assert_false(c.measuring);
}

/* Both modes cost the same but get dearer as the measurement runs: the symmetric order charges
 * the drift to both alike, so the tie (zero-copy) holds; a zc-then-copy order would pick zc by
 * a wide margin (the drift is a third of the cost by the end), copy-then-zc copy. */
static void test_drift_cancels(void **state) {
        (void) state;
        Path p = { .ns_per_kib = { 100.0, 100.0 }, .drift_per_mib = 0.5 };
        maio_zc_cost c;
        first_judgment(&p, &c);
        assert_true(c.zc);
        double ratio = c.last_ns_per_kib[0] / c.last_ns_per_kib[1];
        assert_true(ratio > 0.99 && ratio < 1.01);
}

/* A socket that may not measure (another of the ring is) keeps its choice and starts when it may. */
static void test_one_measures_at_a_time(void **state) {
        (void) state;
        Path p = { .ns_per_kib = { 80.0, 100.0 } };
        maio_zc_cost c;
        zc_cost_init(&c);
        for (uint64_t i = 0; i < 2 * ZC_COST_REJUDGE_BYTES / SEND; i++)
                assert_int_equal(path_send(&p, &c, false), ZC_COST_USE_ZC);
        assert_int_equal(p.clock_reads, 0);
        assert_int_equal(p.judgments, 0);
        assert_true(path_send(&p, &c, true) & ZC_COST_STARTED);
        until_judged(&p, &c);
        assert_false(c.zc);
}

/* The path changes: copy was cheaper, then zero-copy becomes so; the next measurement follows,
 * and measuring takes at most ZC_COST_WINDOWS windows in every ZC_COST_REJUDGE_BYTES. */
static void test_rejudged(void **state) {
        (void) state;
        Path p = { .ns_per_kib = { 80.0, 100.0 } };
        maio_zc_cost c;
        first_judgment(&p, &c);
        assert_false(c.zc);
        p.ns_per_kib[1] = 40.0;
        uint64_t n = until_judged(&p, &c);
        assert_true(c.zc);
        assert_int_equal(p.judgments, 2);
        assert_int_equal((n + 1) * SEND, ZC_COST_REJUDGE_BYTES + ZC_COST_WINDOWS * ZC_COST_WINDOW_BYTES);
}

/* The ring's turn: one measurer; its sends keep the turn; a quiet one loses it once the others
 * sent ZC_COST_STALE_BYTES. */
static void test_turn(void **state) {
        (void) state;
        maio_zc_turn t;
        int lapsed;
        zc_turn_init(&t);
        assert_true(zc_turn_may(&t, 1, SEND, &lapsed));
        assert_int_equal(lapsed, -1);
        zc_turn_take(&t, 1);
        assert_false(zc_turn_may(&t, 2, SEND, &lapsed));
        assert_int_equal(lapsed, -1);
        /* The owner keeps sending: the others never take over. */
        for (uint64_t i = 0; i < 4 * ZC_COST_STALE_BYTES / SEND; i++) {
                assert_false(zc_turn_may(&t, 2, SEND, &lapsed));
                assert_true(zc_turn_may(&t, 1, SEND, &lapsed));
        }
        /* The owner goes quiet: the turn lapses after ZC_COST_STALE_BYTES of the others' sends. */
        uint64_t n = 0;
        while (!zc_turn_may(&t, 2, SEND, &lapsed))
                n++;
        assert_int_equal((n + 1) * SEND, ZC_COST_STALE_BYTES);
        assert_int_equal(lapsed, 1);
        zc_turn_take(&t, 2);
        zc_turn_release(&t, 1); /* not the owner: nothing changes */
        assert_false(zc_turn_may(&t, 1, SEND, &lapsed));
        zc_turn_release(&t, 2);
        assert_true(zc_turn_may(&t, 1, SEND, &lapsed));
        assert_int_equal(lapsed, -1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_copy_cheaper_wins), cmocka_unit_test(test_zc_cheaper_wins),
                cmocka_unit_test(test_near_tie_keeps_zc), cmocka_unit_test(test_window_order),
                cmocka_unit_test(test_drift_cancels),     cmocka_unit_test(test_one_measures_at_a_time),
                cmocka_unit_test(test_rejudged),          cmocka_unit_test(test_turn),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
