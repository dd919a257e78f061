/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copy or zero-copy by measured cost, per socket (libmaio(3), ZERO-COPY BY COST).
 *
 * Where the kernel really sends from the pool's pages, whether SEND_ZC is cheaper than a copying
 * SEND depends on the path, not only on the size: onto a dropping veth zero-copy wins from 4 KiB,
 * into a receiving stack behind a veth the notification costs more than the 16 KiB copy it saves.
 * So a socket measures both: four windows of ZC_COST_WINDOW_BYTES of eligible sends in the order
 * zero-copy, copy, copy, zero-copy (drift cancels), each timed on a CPU clock the caller reads
 * only at window edges (the ring thread's, in batch mode, where the sends run). The cheaper mode per byte wins; within
 * ZC_COST_TIE of each other zero-copy stays (the size rule's choice). After ZC_COST_REJUDGE_BYTES in the chosen mode it
 * measures again, in case the path or the load changed. Pure: no syscalls, so it is unit-tested alone. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZC_COST_WINDOW_BYTES (16u << 20)                              /* one timed window */
#define ZC_COST_WINDOWS 4u                                            /* zc, copy, copy, zc */
#define ZC_COST_REJUDGE_BYTES ((uint64_t) ZC_COST_WINDOW_BYTES * 64u) /* measurement <= 6% of eligible bytes */
#define ZC_COST_TIE 0.02                                              /* copy must be 2% cheaper to win */
#define ZC_COST_WARMUP_BYTES ((uint64_t) ZC_COST_WINDOW_BYTES * 4u)   /* first-touch faults settle before */
#define ZC_COST_STALE_BYTES ((uint64_t) ZC_COST_WINDOW_BYTES * 64u)   /* a quiet measurer's turn lapses */

typedef uint64_t (*zc_cost_clock_fn)(void *userdata); /* nanoseconds of CPU time */

typedef struct maio_zc_cost {
        bool measuring;            /* timing windows now (the ring lets one socket at a time) */
        bool zc;                   /* the choice, or the current window's mode while measuring */
        uint8_t window;            /* 0..ZC_COST_WINDOWS-1 while measuring */
        uint64_t bytes;            /* eligible bytes in this window, or since the last judgment */
        uint64_t window_start;     /* the clock at the window's first send */
        uint64_t cost_ns[2];       /* CPU time per mode in this measurement: [copy, zc] */
        uint64_t cost_bytes[2];    /* ... and the bytes it moved */
        double last_ns_per_kib[2]; /* the last judgment's cost per KiB: [copy, zc] */
} maio_zc_cost;

enum {
        ZC_COST_USE_ZC = 1u << 0,  /* send this one with SEND_ZC */
        ZC_COST_STARTED = 1u << 1, /* a measurement began with this send: the ring's turn is taken */
        ZC_COST_JUDGED = 1u << 2,  /* the measurement ended before this send: the turn is free */
};

/* A fresh state: zero-copy chosen, the first measurement after ZC_COST_WARMUP_BYTES. */
void zc_cost_init(maio_zc_cost *c);

/* The mode of the next eligible send of len bytes: a mask of ZC_COST_*. may_start says whether
 * this socket may begin a measurement now (no other socket of the ring is measuring); when it
 * may not, a due measurement waits and the current choice holds. clock is read only at window
 * edges. */
unsigned zc_cost_next(maio_zc_cost *c, size_t len, bool may_start, zc_cost_clock_fn clock, void *userdata);

/* Ends a measurement early (the socket left the zero-copy path, or closed): the choice stays
 * zero-copy and a new measurement is due after ZC_COST_REJUDGE_BYTES. */
void zc_cost_abort(maio_zc_cost *c);

/* A ring's turn to measure: one socket at a time (the CPU clock is the ring thread's, shared by
 * all its sockets). A measuring socket that went quiet (it closed its window on no send while the
 * ring's other sockets sent ZC_COST_STALE_BYTES) loses the turn, so one idle connection cannot
 * stop every other from measuring again. */
typedef struct maio_zc_turn {
        int owner;           /* the measuring handle, -1 none */
        uint64_t idle_bytes; /* eligible bytes the others sent since the owner's last send */
} maio_zc_turn;

void zc_turn_init(maio_zc_turn *t);
/* Before an eligible send of len bytes by handle: whether handle may measure (start or go on).
 * When the owner's turn lapsed, returns true and sets *ret_lapsed to the old owner (the caller
 * aborts its measurement), else -1. */
bool zc_turn_may(maio_zc_turn *t, int handle, size_t len, int *ret_lapsed);
/* handle started measuring, or stopped (judged, left the zero-copy path, closed). */
void zc_turn_take(maio_zc_turn *t, int handle);
void zc_turn_release(maio_zc_turn *t, int handle);
