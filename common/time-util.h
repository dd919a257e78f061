/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one clock helper: microseconds of a clock, for the daemon, libmaio and maioctl. */
#pragma once

#include <stdint.h>
#include <time.h>

#define USEC_PER_SEC UINT64_C(1000000)
#define NSEC_PER_USEC UINT64_C(1000)

/* Microseconds of clock (CLOCK_MONOTONIC, CLOCK_REALTIME, ...). Never fails for the clocks
 * Linux always has. */
static inline uint64_t now_usec(clockid_t clock) {
        struct timespec ts;

        clock_gettime(clock, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

/* Seconds of clock as a double. */
static inline double now_sec(clockid_t clock) {
        struct timespec ts;

        clock_gettime(clock, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}
