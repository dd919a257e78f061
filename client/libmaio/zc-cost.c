/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copy or zero-copy by measured cost: see zc-cost.h. */

#include "zc-cost.h"

/* Window k's mode: zero-copy, copy, copy, zero-copy. */
static bool window_zc(uint8_t k) {
        return k == 0 || k == ZC_COST_WINDOWS - 1;
}

void zc_cost_init(maio_zc_cost *c) {
        *c = (maio_zc_cost) { .zc = true, .bytes = ZC_COST_REJUDGE_BYTES - ZC_COST_WARMUP_BYTES };
}

void zc_cost_abort(maio_zc_cost *c) {
        c->measuring = false;
        c->zc = true;
        c->bytes = 0;
}

static void judge(maio_zc_cost *c) {
        double per_kib[2];

        for (int m = 0; m < 2; m++)
                per_kib[m] = c->cost_bytes[m] ? (double) c->cost_ns[m] * 1024.0 / (double) c->cost_bytes[m] : 0.0;
        c->zc = !(per_kib[0] < per_kib[1] * (1.0 - ZC_COST_TIE));
        c->last_ns_per_kib[0] = per_kib[0];
        c->last_ns_per_kib[1] = per_kib[1];
        c->measuring = false;
        c->bytes = 0;
}

unsigned zc_cost_next(maio_zc_cost *c, size_t len, bool may_start, zc_cost_clock_fn clock, void *userdata) {
        unsigned out = 0;

        if (!c->measuring) {
                if (c->bytes < ZC_COST_REJUDGE_BYTES || !may_start) {
                        c->bytes += len;
                        return c->zc ? ZC_COST_USE_ZC : 0;
                }
                c->measuring = true;
                c->window = 0;
                c->bytes = 0;
                c->cost_ns[0] = c->cost_ns[1] = c->cost_bytes[0] = c->cost_bytes[1] = 0;
                c->window_start = clock(userdata);
                out |= ZC_COST_STARTED;
        } else if (c->bytes >= ZC_COST_WINDOW_BYTES) {
                /* This send opens the next window: the last one's time is what passed since it began. */
                uint64_t now = clock(userdata);
                int m = window_zc(c->window);

                c->cost_ns[m] += now >= c->window_start ? now - c->window_start : 0;
                c->cost_bytes[m] += c->bytes;
                c->bytes = 0;
                c->window_start = now;
                if (++c->window == ZC_COST_WINDOWS) {
                        judge(c);
                        c->bytes = len;
                        return (c->zc ? ZC_COST_USE_ZC : 0) | ZC_COST_JUDGED;
                }
        }
        c->zc = window_zc(c->window);
        c->bytes += len;
        return out | (c->zc ? ZC_COST_USE_ZC : 0);
}

void zc_turn_init(maio_zc_turn *t) {
        *t = (maio_zc_turn) { .owner = -1 };
}

bool zc_turn_may(maio_zc_turn *t, int handle, size_t len, int *ret_lapsed) {
        *ret_lapsed = -1;
        if (t->owner < 0 || t->owner == handle) {
                t->idle_bytes = 0;
                return true;
        }
        t->idle_bytes += len;
        if (t->idle_bytes < ZC_COST_STALE_BYTES)
                return false;
        *ret_lapsed = t->owner;
        t->owner = -1;
        t->idle_bytes = 0;
        return true;
}

void zc_turn_take(maio_zc_turn *t, int handle) {
        t->owner = handle;
        t->idle_bytes = 0;
}

void zc_turn_release(maio_zc_turn *t, int handle) {
        if (t->owner == handle) {
                t->owner = -1;
                t->idle_bytes = 0;
        }
}
