/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* MFLOW's adaptive mode: a pure controller that, per split elephant and per window, picks batch
 * splitting over a ladder of batch sizes or flowlet switching over a ladder of gaps from the flow's
 * excess reordering (over the pass-through baseline) and its per-core packet shares, aiming at the
 * most even spread whose excess stays under a bound. No I/O, no allocation, no logging. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mflow-cores.h"

#define MFLOW_ADAPT_LADDER_MAX 16
#define MFLOW_ADAPT_PATIENCE 4       /* calm windows before the first step to a finer setting */
#define MFLOW_ADAPT_HOLD_MAX 64      /* ... doubled after each window over the bound, up to this */
#define MFLOW_ADAPT_MIN_SEGMENTS 200 /* TCP segments a window needs before its reordering counts */
#define MFLOW_ADAPT_MIN_PACKETS 200  /* packets over the cores a window needs before its shares count */
#define MFLOW_ADAPT_REASON_MAX 256

typedef enum MflowAdaptKind {
        MFLOW_ADAPT_BATCH,   /* micro-flows of a batch of packets, round robin over the cores */
        MFLOW_ADAPT_FLOWLET, /* the next core after a gap (batches after flowlet_k without one) */
        _MFLOW_ADAPT_KIND_MAX,
} MflowAdaptKind;

/* "batch", "flowlet"; NULL outside the enum. */
const char *mflow_adapt_kind_to_string(MflowAdaptKind k);

typedef struct MflowAdaptConf {
        unsigned batches[MFLOW_ADAPT_LADDER_MAX]; /* packets per micro-flow, strictly ascending */
        size_t n_batches;                         /* 1..MFLOW_ADAPT_LADDER_MAX */
        unsigned gaps_us[MFLOW_ADAPT_LADDER_MAX]; /* flowlet gaps in microseconds, strictly ascending */
        size_t n_gaps;                            /* 1..MFLOW_ADAPT_LADDER_MAX */
        unsigned excess_ppm;                      /* the bound: out-of-order segments per million over the baseline */
        unsigned min_share_percent;               /* of an even share (1/n) that each core must carry */
} MflowAdaptConf;

/* A flow's controller state; the setting is kind with batches[batch] or gaps_us[gap] (flowlet
 * mode also uses batches[batch] once no gap came for flowlet_k batches). */
typedef struct MflowAdaptState {
        MflowAdaptKind kind;
        unsigned batch;      /* index into batches */
        unsigned gap;        /* index into gaps_us */
        bool gaps_only;      /* flowlet: moves on gaps only, never after flowlet_k gapless batches */
        unsigned calm;       /* windows in a row with the excess under half the bound and an even spread */
        unsigned hold;       /* calm windows wanted before the next finer step */
        bool batch_failed;   /* the largest batch exceeded the bound: flowlet is not left for batch again */
        bool flowlet_failed; /* flowlet was uneven at the smallest gap: batch is not left for flowlet again */
        unsigned windows;    /* windows judged */
} MflowAdaptState;

/* What one window measured for a split flow. */
typedef struct MflowAdaptSample {
        bool tcp;              /* reordering is measured (the tc counter sees TCP only) */
        uint64_t segments;     /* the flow's TCP data segments in the window */
        uint64_t ooo_segments; /* ... that arrived out of order */
        uint64_t baseline_ppm; /* out-of-order segments per million of the device's pass-through traffic */
        unsigned n_cores;
        uint64_t core_packets[MFLOW_MAX_CORES]; /* packets each splitting core got in the window */
} MflowAdaptSample;

typedef struct MflowAdaptVerdict {
        bool judged;           /* the window had enough TCP segments or packets to be judged */
        bool changed;          /* the setting differs from before the step */
        int64_t excess_ppm;    /* -1 when the window had too few TCP segments (or none) */
        int min_share_percent; /* the least loaded core's share, in percent of an even share; -1 unknown */
        char reason[MFLOW_ADAPT_REASON_MAX]; /* what was decided and why, for GET /v1/flows and the log */
} MflowAdaptVerdict;

/* The starting setting: batch splitting at the largest rung not above start_batch (the smallest
 * rung when all are above), the largest gap for a later switch to flowlet. */
void mflow_adapt_init(const MflowAdaptConf *c, unsigned start_batch, MflowAdaptState *ret);

/* One window: judges the sample and moves the setting at most one rung (or switches kind once
 * either way), with hysteresis: a window over the bound steps to a calmer setting at once and
 * doubles the calm windows wanted before the next finer step; finer steps need that many calm
 * windows in a row. Fills *ret (the reason always). */
void mflow_adapt_step(const MflowAdaptConf *c, const MflowAdaptSample *s, MflowAdaptState *st, MflowAdaptVerdict *ret);

/* The current batch (packets) and gap (microseconds) of st. */
unsigned mflow_adapt_batch(const MflowAdaptConf *c, const MflowAdaptState *st);
unsigned mflow_adapt_gap_us(const MflowAdaptConf *c, const MflowAdaptState *st);

/* Parses a ladder ("64 128 256", blanks or commas between) of strictly ascending integers in
 * [lo, hi] into v[0..max-1]. Returns how many (>= 1), or -EINVAL (empty, not a number, out of
 * range, not ascending) or -E2BIG (more than max). */
int mflow_adapt_ladder_parse(const char *s, unsigned lo, unsigned hi, unsigned *v, size_t max);
