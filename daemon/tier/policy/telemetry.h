/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Page telemetry estimators: INDIGO's point access-rate estimate F = 1/(A - M)
 * with burst-duration clustering, and a HeMem-style sampled access counter
 * with global cooling (the `ewma` baseline). Pure arithmetic on times given. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct TelemetryParams {
        /* δ1: consecutive estimates join a burst when they differ by at most this fraction of
         * the larger one (relative, so one δ1 serves pages of any rate). */
        double delta_rate;
        /* δ2: ... and when their marking times are at most this many seconds apart. */
        double delta_mark_s;
} TelemetryParams;

#define TELEMETRY_DEFAULT_DELTA_RATE 0.5
#define TELEMETRY_DEFAULT_DELTA_MARK_S 0.5

/* Per-page estimator state; zero-initialised means "no estimate yet". */
typedef struct PageEstimator {
        double rate;        /* last point estimate F, accesses/s */
        double burst_mark;  /* M of the first estimate of the current burst, s */
        double last_mark;   /* M of the last estimate, s */
        double last_access; /* A of the last estimate, s */
        uint32_t n_burst;   /* estimates in the current burst; 0 = none yet */
} PageEstimator;

/* One (mark, access) pair for the batch clustering. */
typedef struct TelemetrySample {
        double mark;   /* M: when the page was marked (access bit cleared / PTE made to fault), s */
        double access; /* A: the first access after M, s */
} TelemetrySample;

/* F = 1/(A - M). Returns 0 and the rate, or -EINVAL for non-finite times or A < M, -ERANGE for
 * A == M (an estimate of infinite rate says nothing a threshold can use). */
int telemetry_point_rate(double mark, double access, double *ret_rate);

/* Feeds one (M, A) pair: updates the point estimate and the burst. Returns 1 when the estimate
 * started a new burst, 0 when it joined the current one, or the error of telemetry_point_rate
 * (-EINVAL also for a mark earlier than the previous one); on error the state is unchanged. */
int telemetry_observe(PageEstimator *e, const TelemetryParams *p, double mark, double access);

/* Duration of the current burst: A of its last estimate minus M of its first; 0 before any
 * estimate. */
double telemetry_burst_duration(const PageEstimator *e);

/* Forgets the history (page left the tier whose accesses we were timing). */
void telemetry_reset(PageEstimator *e);

/* Clusters a series of samples (marks non-decreasing) into bursts, writing each burst's duration
 * to ret_durations (room for n). Returns the number of bursts, or -EINVAL / -ERANGE for the first
 * bad sample. */
int telemetry_cluster(const TelemetrySample *s, size_t n, const TelemetryParams *p, double *ret_durations);

/* HeMem-style counter: sampled accesses per page, all halved whenever one page's count reaches
 * the cooling threshold. Cooling is lazy: a global clock counts coolings and each page catches up
 * when it is next read or bumped. */
typedef struct TelemetryCoolClock {
        uint32_t coolings;
} TelemetryCoolClock;

typedef struct TelemetryCounter {
        double count;
        uint32_t cooled; /* clock value the count is current for */
} TelemetryCounter;

/* Adds `samples`; when the page reaches cool_threshold (> 0), advances the clock, which halves
 * every count including this one. Returns the page's count after cooling. */
double telemetry_counter_add(TelemetryCoolClock *clk, TelemetryCounter *c, double samples, double cool_threshold);
/* The page's count with any pending coolings applied. */
double telemetry_counter_value(const TelemetryCoolClock *clk, TelemetryCounter *c);
