// SPDX-License-Identifier: LGPL-2.1-or-later
/* MFLOW's adaptive mode in maiod: the [mflow] adaptive_* settings, each split flow's mark (its own
 * mode, batch and gap in adaptive mode), the device's pass-through baseline and, at the end of
 * each window, the controller of mflow-adapt.c judging a flow and its new setting written. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "log.h"
#include "mflow-adapt.h"
#include "mflow-bpf.h"
#include "time-util.h"

#include "mflowd-internal.h"

/* The adaptive_* keys (validated by the configuration parser; a ladder that does not parse keeps
 * the previous one). */
void mflowd_adapt_conf(Mflow *m, const Config *c) {
        MflowAdaptConf a = m->adapt;
        unsigned v[MFLOW_ADAPT_LADDER_MAX];
        int n;

        n = mflow_adapt_ladder_parse(c->mflow_adaptive_batches, 1, 1048576, v, MFLOW_ADAPT_LADDER_MAX);
        if (n > 0) {
                memcpy(a.batches, v, sizeof(v));
                a.n_batches = (size_t) n;
        }
        n = mflow_adapt_ladder_parse(c->mflow_adaptive_gaps_us, 1, 1000000, v, MFLOW_ADAPT_LADDER_MAX);
        if (n > 0) {
                memcpy(a.gaps_us, v, sizeof(v));
                a.n_gaps = (size_t) n;
        }
        if (a.n_batches == 0 || a.n_gaps == 0) {
                a.batches[0] = MFLOW_DEFAULT_BATCH;
                a.n_batches = 1;
                a.gaps_us[0] = (unsigned) (MFLOW_DEFAULT_FLOWLET_GAP_NS / 1000);
                a.n_gaps = 1;
        }
        a.excess_ppm = c->mflow_adaptive_excess_ppm;
        a.min_share_percent = c->mflow_adaptive_min_share_percent;
        m->adapt = a;
        m->adapt_window_ms = c->mflow_adaptive_window_ms;
}

/* The mark's mode and setting: the device's (INHERIT) in split and flowlet mode, the flow's own
 * in adaptive mode (its controller state started when it is new to the mode). */
void mflowd_flow_setting(Flow *f, struct mflow_split *s) {
        Dev *d = f->dev;
        Mflow *m = d->m;

        if (d->conf.mode != MFLOW_CONF_MODE_ADAPTIVE) {
                f->adaptive = false;
                s->mode = MFLOW_MODE_INHERIT; /* follows the device's mode */
                s->batch = 0;
                s->flowlet_gap_ns = 0;
                s->flowlet_k = 0;
                f->batch = d->conf.batch;
                f->gap_us = d->conf.flowlet_gap_us;
                return;
        }
        if (!f->adaptive) {
                mflow_adapt_init(&m->adapt, d->conf.batch, &f->adapt);
                f->adaptive = true;
                f->win_usec = 0;
                f->excess_ppm = -1;
                f->min_share = -1;
                snprintf(f->adapt_reason, sizeof(f->adapt_reason),
                         "batch %u: the start (the largest rung up to batch %u)",
                         mflow_adapt_batch(&m->adapt, &f->adapt), d->conf.batch);
        }
        s->mode = f->adapt.kind == MFLOW_ADAPT_FLOWLET ? MFLOW_MODE_FLOWLET : MFLOW_MODE_SPLIT;
        s->flowlet_k = f->adapt.kind == MFLOW_ADAPT_FLOWLET && f->adapt.gaps_only ? MFLOW_FLOWLET_K_NEVER : 0;
        s->batch = mflow_adapt_batch(&m->adapt, &f->adapt);
        s->flowlet_gap_ns = (uint64_t) mflow_adapt_gap_us(&m->adapt, &f->adapt) * 1000;
        f->batch = s->batch;
        f->gap_us = mflow_adapt_gap_us(&m->adapt, &f->adapt);
}

/* Rewrites a split flow's mark with its current cores and setting (its counters go on). */
int mflowd_flow_remark(Flow *f) {
        struct mflow_split s = { .ncores = f->n_cores };

        memcpy(s.cores, f->cores, sizeof(s.cores));
        mflowd_flow_setting(f, &s);
        return mflow_bpf_split(f->dev->bpf, &f->key, &s);
}

#define BASELINE_MIN_SEGMENTS 1000
#define BASELINE_MEMORY (1ull << 24) /* segments; past it both counts are halved (older ones fade) */

static uint64_t delta(uint64_t now, uint64_t then) {
        return now >= then ? now - then : 0; /* a counter that started over: nothing to tell */
}

uint64_t mflowd_baseline_ppm(const Dev *d) {
        if (d->base_segments < BASELINE_MIN_SEGMENTS)
                return 0;
        return d->base_ooo * 1000000 / d->base_segments;
}

/* The pass-through baseline: the device's tc counters since the last pass minus what its split
 * flows contributed, i.e. the reordering of the TCP traffic nobody split (mice, elephants before
 * their split or in pass mode) on the same device and path. Called after the flows' refresh. */
void mflowd_dev_baseline(Dev *d) {
        Mflow *m = d->m;
        _cleanup_free_ struct mflow_cpu_stats *st = NULL;
        uint64_t seg = 0, ooo = 0, dseg, dooo;
        size_t n = 0;

        if (!d->bpf || mflow_bpf_counters(d->bpf, &st, &n) < 0)
                return;
        for (size_t i = 0; i < n; i++) {
                seg += st[i].tc_segments;
                ooo += st[i].tc_ooo_segments;
        }
        dseg = delta(seg, d->base_tc_segments);
        dooo = delta(ooo, d->base_tc_ooo);
        for (size_t i = 0; i < m->n_flows; i++) {
                Flow *f = &m->flows[i];

                if (f->dev != d)
                        continue;
                if (f->state == FLOW_SPLIT && d->base_init) {
                        uint64_t fs = delta(f->segments, f->tick_segments), fo = delta(f->ooo_segments, f->tick_ooo);

                        dseg -= fs < dseg ? fs : dseg;
                        dooo -= fo < dooo ? fo : dooo;
                }
                f->tick_segments = f->segments;
                f->tick_ooo = f->ooo_segments;
        }
        d->base_tc_segments = seg;
        d->base_tc_ooo = ooo;
        if (!d->base_init) {
                d->base_init = true;
                return;
        }
        d->base_segments += dseg;
        d->base_ooo += dooo < dseg ? dooo : dseg;
        if (d->base_segments > BASELINE_MEMORY) {
                d->base_segments /= 2;
                d->base_ooo /= 2;
        }
}

static void flow_window_start(Flow *f, uint64_t now) {
        f->win_usec = now;
        f->win_segments = f->segments;
        f->win_ooo = f->ooo_segments;
        memcpy(f->win_core, f->core_packets, sizeof(f->win_core));
}

/* At the end of each adaptive window: the controller judges it, and a changed setting is written
 * into the flow's mark at once (the flow keeps its cores and counters). */
void mflowd_flow_adapt(Flow *f) {
        Dev *d = f->dev;
        Mflow *m = d->m;
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        MflowAdaptSample sample = {
                .tcp = f->key.proto == 6,
                .segments = delta(f->segments, f->win_segments),
                .ooo_segments = delta(f->ooo_segments, f->win_ooo),
                .baseline_ppm = mflowd_baseline_ppm(d),
                .n_cores = f->n_cores,
        };
        MflowAdaptVerdict v;
        char keytext[MFLOW_KEY_STRING_MAX];
        int r;

        if (f->state != FLOW_SPLIT || !f->adaptive || d->conf.mode != MFLOW_CONF_MODE_ADAPTIVE)
                return;
        if (f->win_usec == 0 || now < f->win_usec) {
                flow_window_start(f, now);
                return;
        }
        if (now - f->win_usec < (uint64_t) m->adapt_window_ms * 1000)
                return;
        for (unsigned i = 0; i < f->n_cores && i < MFLOW_MAX_CORES; i++)
                sample.core_packets[i] = delta(f->core_packets[i], f->win_core[i]);
        /* A reload may have shortened the ladders: the rungs stay on them. */
        if (f->adapt.batch >= m->adapt.n_batches)
                f->adapt.batch = (unsigned) m->adapt.n_batches - 1;
        if (f->adapt.gap >= m->adapt.n_gaps)
                f->adapt.gap = (unsigned) m->adapt.n_gaps - 1;
        mflow_adapt_step(&m->adapt, &sample, &f->adapt, &v);
        flow_window_start(f, now);
        /* A thin window (the flow pausing or ending) leaves the last judgement on show. */
        if (!v.judged && f->adapt.windows > 0)
                return;
        f->excess_ppm = v.excess_ppm;
        f->min_share = v.min_share_percent;
        f->baseline_ppm = sample.baseline_ppm;
        snprintf(f->adapt_reason, sizeof(f->adapt_reason), "%s", v.reason);
        if (!v.changed)
                return;
        r = mflowd_flow_remark(f);
        mflow_key_format(&f->key, keytext, sizeof(keytext));
        if (r < 0) {
                log_warning_errno(r, "MFLOW: failed to change the setting of %s on %s: %m", keytext, d->name);
                return;
        }
        m->adapt_changes_total++;
        store_event_log(m->store, LOG_INFO, NULL, f->tenant_id, "mflow-adapt", "MFLOW: %s on %s: %s", keytext, d->name,
                        v.reason);
}
