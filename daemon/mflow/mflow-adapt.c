// SPDX-License-Identifier: LGPL-2.1-or-later
/* The adaptive mode's controller (mflow-adapt.h): per window, a calmer setting at once when the
 * excess reordering crosses the bound, a finer one after enough calm windows, and a switch between
 * batch splitting and flowlet switching when one kind runs out of rungs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mflow-adapt.h"
#include "string-table.h"

static const char *const mflow_adapt_kind_table[_MFLOW_ADAPT_KIND_MAX] = {
        [MFLOW_ADAPT_BATCH] = "batch",
        [MFLOW_ADAPT_FLOWLET] = "flowlet",
};

DEFINE_STRING_TABLE_TO_STRING(mflow_adapt_kind, MflowAdaptKind, )

unsigned mflow_adapt_batch(const MflowAdaptConf *c, const MflowAdaptState *st) {
        return c->batches[st->batch < c->n_batches ? st->batch : c->n_batches - 1];
}

unsigned mflow_adapt_gap_us(const MflowAdaptConf *c, const MflowAdaptState *st) {
        return c->gaps_us[st->gap < c->n_gaps ? st->gap : c->n_gaps - 1];
}

void mflow_adapt_init(const MflowAdaptConf *c, unsigned start_batch, MflowAdaptState *ret) {
        unsigned b = 0;

        for (unsigned i = 0; i < c->n_batches; i++)
                if (c->batches[i] <= start_batch)
                        b = i;
        *ret = (MflowAdaptState) {
                .kind = MFLOW_ADAPT_BATCH,
                .batch = b,
                .gap = c->n_gaps ? (unsigned) c->n_gaps - 1 : 0,
                .hold = MFLOW_ADAPT_PATIENCE,
        };
}

/* "batch 256" or "flowlet 200 us" */
static void setting_format(const MflowAdaptConf *c, const MflowAdaptState *st, char *buf, size_t size) {
        if (st->kind == MFLOW_ADAPT_FLOWLET)
                snprintf(buf, size, "flowlet %u us%s", mflow_adapt_gap_us(c, st), st->gaps_only ? ", gaps only" : "");
        else
                snprintf(buf, size, "batch %u", mflow_adapt_batch(c, st));
}

/* The least share of the window's packets on one core, in percent of an even share; -1 when the
 * window is too thin to tell (or there is one core). */
static int min_share(const MflowAdaptSample *s) {
        uint64_t total = 0, least = UINT64_MAX;

        if (s->n_cores < 2)
                return -1;
        for (unsigned i = 0; i < s->n_cores && i < MFLOW_MAX_CORES; i++) {
                total += s->core_packets[i];
                if (s->core_packets[i] < least)
                        least = s->core_packets[i];
        }
        if (total < MFLOW_ADAPT_MIN_PACKETS)
                return -1;
        return (int) (least * s->n_cores * 100 / total);
}

static int64_t excess(const MflowAdaptSample *s) {
        uint64_t ppm;

        if (!s->tcp || s->segments < MFLOW_ADAPT_MIN_SEGMENTS)
                return -1;
        ppm = s->ooo_segments * 1000000 / s->segments;
        return ppm > s->baseline_ppm ? (int64_t) (ppm - s->baseline_ppm) : 0;
}

/* Over the bound: one rung calmer (a larger batch, a longer gap), or to the other kind at its
 * calmest rung when this kind has none left. Writes what it did into why. */
static void step_calmer(const MflowAdaptConf *c, MflowAdaptState *st, char *why, size_t size) {
        st->calm = 0;
        st->hold = st->hold * 2 > MFLOW_ADAPT_HOLD_MAX ? MFLOW_ADAPT_HOLD_MAX : st->hold * 2;
        if (st->kind == MFLOW_ADAPT_BATCH) {
                if (st->batch + 1 < c->n_batches) {
                        st->batch++;
                        snprintf(why, size, "a larger batch");
                } else if (!st->flowlet_failed) {
                        st->batch_failed = true;
                        st->kind = MFLOW_ADAPT_FLOWLET;
                        st->gap = (unsigned) c->n_gaps - 1;
                        snprintf(why, size, "the largest batch is not enough: flowlet at the longest gap");
                } else
                        snprintf(why, size, "kept: the largest batch, flowlet's spread was uneven");
                return;
        }
        if (st->gap + 1 < c->n_gaps) {
                st->gap++;
                snprintf(why, size, "a longer gap");
        } else if (st->batch + 1 < c->n_batches) {
                st->batch++;
                snprintf(why, size, "the longest gap: a larger batch after gapless batches (%u)",
                         mflow_adapt_batch(c, st));
        } else if (!st->gaps_only) {
                st->gaps_only = true;
                snprintf(why, size, "the largest batch too: moves on gaps only");
        } else
                snprintf(why, size, "kept: the calmest setting there is");
}

/* Uneven spread within the bound: flowlet moves on shorter gaps, and gives way to batch splitting
 * (even by construction) at the shortest gap. Batch splitting is only made finer by calm windows. */
static void step_evener(const MflowAdaptConf *c, MflowAdaptState *st, char *why, size_t size) {
        st->calm = 0;
        if (st->kind == MFLOW_ADAPT_BATCH) {
                snprintf(why, size, "kept: batch splitting is round robin, a finer batch waits for calm windows");
                return;
        }
        if (st->gaps_only) {
                st->gaps_only = false;
                snprintf(why, size, "gapless batches move again");
        } else if (st->gap > 0) {
                st->gap--;
                snprintf(why, size, "a shorter gap");
        } else if (!st->batch_failed) {
                st->flowlet_failed = true;
                st->kind = MFLOW_ADAPT_BATCH;
                snprintf(why, size, "uneven at the shortest gap: batch splitting");
        } else
                snprintf(why, size, "kept: the largest batch exceeded the bound");
}

/* Calm and even: after hold such windows in a row, one rung finer. */
static void step_finer(const MflowAdaptConf *c, MflowAdaptState *st, char *why, size_t size) {
        unsigned *rung = st->kind == MFLOW_ADAPT_BATCH ? &st->batch : &st->gap;

        st->calm++;
        if (st->calm < st->hold) {
                snprintf(why, size, "kept, calm %u of %u windows", st->calm, st->hold);
                return;
        }
        if (st->kind == MFLOW_ADAPT_FLOWLET && st->gaps_only) {
                st->gaps_only = false;
                st->calm = 0;
                snprintf(why, size, "calm for %u windows: gapless batches move again", st->hold);
                return;
        }
        if (*rung == 0) {
                st->calm = st->hold; /* stays ready */
                snprintf(why, size, "kept: the finest rung");
                return;
        }
        (*rung)--;
        st->calm = 0;
        snprintf(why, size, "calm for %u windows: a %s", st->hold,
                 st->kind == MFLOW_ADAPT_BATCH ? "smaller batch" : "shorter gap");
}

void mflow_adapt_step(const MflowAdaptConf *c, const MflowAdaptSample *s, MflowAdaptState *st, MflowAdaptVerdict *ret) {
        MflowAdaptState before = *st;
        char was[32], now[32], why[128] = "";
        int64_t x = excess(s);
        int share = min_share(s);
        bool even = share < 0 || share >= (int) c->min_share_percent;

        *ret = (MflowAdaptVerdict) { .excess_ppm = x, .min_share_percent = share };
        setting_format(c, st, was, sizeof(was));
        if (x < 0 && share < 0) {
                snprintf(ret->reason, sizeof(ret->reason), "%s: waiting for a window with %u TCP segments%s", was,
                         MFLOW_ADAPT_MIN_SEGMENTS, s->tcp ? "" : " (none: not TCP) or packets on every core");
                return;
        }
        ret->judged = true;
        st->windows++;
        if (x > (int64_t) c->excess_ppm)
                step_calmer(c, st, why, sizeof(why));
        else if (!even)
                step_evener(c, st, why, sizeof(why));
        else if (x >= 0 && x * 2 <= (int64_t) c->excess_ppm)
                step_finer(c, st, why, sizeof(why));
        else {
                st->calm = 0;
                snprintf(why, sizeof(why), x < 0 ? "kept: no reordering measure" : "kept: within the bound");
        }
        ret->changed = st->kind != before.kind || st->batch != before.batch || st->gap != before.gap ||
                       st->gaps_only != before.gaps_only;
        setting_format(c, st, now, sizeof(now));
        if (ret->changed)
                snprintf(ret->reason, sizeof(ret->reason), "%s -> %s: %s", was, now, why);
        else
                snprintf(ret->reason, sizeof(ret->reason), "%s %s", now, why);
        {
                size_t len = strlen(ret->reason);
                char tail[96] = "";

                if (x >= 0)
                        snprintf(tail, sizeof(tail), "; excess %lld ppm, bound %u", (long long) x, c->excess_ppm);
                if (share >= 0)
                        snprintf(tail + strlen(tail), sizeof(tail) - strlen(tail), "; least core %d%% of even", share);
                snprintf(ret->reason + len, sizeof(ret->reason) - len, "%s", tail);
        }
}

int mflow_adapt_ladder_parse(const char *s, unsigned lo, unsigned hi, unsigned *v, size_t max) {
        size_t n = 0;

        if (!s)
                return -EINVAL;
        for (const char *p = s;;) {
                char *end;
                unsigned long x;

                p += strspn(p, " \t,");
                if (!*p)
                        break;
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                errno = 0;
                x = strtoul(p, &end, 10);
                if (errno || x < lo || x > hi || (n > 0 && x <= v[n - 1]))
                        return -EINVAL;
                if (*end && !strchr(" \t,", *end))
                        return -EINVAL;
                if (n >= max)
                        return -E2BIG;
                v[n++] = (unsigned) x;
                p = end;
        }
        return n == 0 ? -EINVAL : (int) n;
}
