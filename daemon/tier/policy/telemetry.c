/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Page telemetry: the INDIGO point access-rate estimate and burst clustering,
 * and the HeMem-style cooled access counter used by the `ewma` baseline. */
#include <errno.h>
#include <math.h>

#include "telemetry.h"

int telemetry_point_rate(double mark, double access, double *ret_rate) {
        if (!isfinite(mark) || !isfinite(access) || access < mark)
                return -EINVAL;
        if (access == mark)
                return -ERANGE;
        *ret_rate = 1.0 / (access - mark);
        return 0;
}

/* Whether an estimate (mark, rate) continues the burst whose last estimate is in e. */
static bool joins_burst(const PageEstimator *e, const TelemetryParams *p, double mark, double rate) {
        double hi = fmax(rate, e->rate);

        if (e->n_burst == 0)
                return false;
        if (fabs(rate - e->rate) > p->delta_rate * hi)
                return false;
        return mark - e->last_mark <= p->delta_mark_s;
}

int telemetry_observe(PageEstimator *e, const TelemetryParams *p, double mark, double access) {
        double rate;
        bool join;
        int r;

        r = telemetry_point_rate(mark, access, &rate);
        if (r < 0)
                return r;
        if (e->n_burst > 0 && mark < e->last_mark)
                return -EINVAL;

        join = joins_burst(e, p, mark, rate);
        if (join)
                e->n_burst++;
        else {
                e->n_burst = 1;
                e->burst_mark = mark;
        }
        e->rate = rate;
        e->last_mark = mark;
        e->last_access = access;
        return join ? 0 : 1;
}

double telemetry_burst_duration(const PageEstimator *e) {
        if (e->n_burst == 0)
                return 0;
        return e->last_access - e->burst_mark;
}

void telemetry_reset(PageEstimator *e) {
        *e = (PageEstimator) {};
}

int telemetry_cluster(const TelemetrySample *s, size_t n, const TelemetryParams *p, double *ret_durations) {
        PageEstimator e = {};
        int n_bursts = 0;

        for (size_t i = 0; i < n; i++) {
                double before = telemetry_burst_duration(&e);
                int r = telemetry_observe(&e, p, s[i].mark, s[i].access);

                if (r < 0)
                        return r;
                if (r == 1 && i > 0)
                        ret_durations[n_bursts++] = before; /* the previous burst closed */
        }
        if (n > 0)
                ret_durations[n_bursts++] = telemetry_burst_duration(&e);
        return n_bursts;
}

static void counter_catch_up(const TelemetryCoolClock *clk, TelemetryCounter *c) {
        uint32_t behind = clk->coolings - c->cooled;

        /* Halving 64 times leaves nothing of any double-sized count worth keeping. */
        c->count = behind >= 64 ? 0 : ldexp(c->count, -(int) behind);
        c->cooled = clk->coolings;
}

double telemetry_counter_add(TelemetryCoolClock *clk, TelemetryCounter *c, double samples, double cool_threshold) {
        counter_catch_up(clk, c);
        c->count += samples;
        if (cool_threshold > 0 && c->count >= cool_threshold) {
                clk->coolings++;
                counter_catch_up(clk, c);
        }
        return c->count;
}

double telemetry_counter_value(const TelemetryCoolClock *clk, TelemetryCounter *c) {
        counter_catch_up(clk, c);
        return c->count;
}
