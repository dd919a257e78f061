/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Microbenchmark: cost of one decision (policy_choose) and one feedback update
 * (policy_update) per tiering policy, with the default parameters, on a
 * context that changes every call. Prints a table and RESULT lines. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy.h"

static double now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void context_for(unsigned i, TierContext *ctx) {
        *ctx = (TierContext) {
                .local_alloc = 0.1 + 0.1 * (i % 8),
                .local_usage = 0.5,
                .remote_usage = 0.7,
                .traffic = 0.01 * (i % 50),
                .contention = (i % 3) * 0.25,
                .link_bw_Bps = 2e9,
                .delta_lat_s = 300e-9,
                .demote_rate = i % 100,
                .page_size = 4096,
        };
}

/* Returns ns per call of choose (n_choose calls) and update (n_update calls; 0 if it does not learn). */
static int bench(const char *name, unsigned n_choose, unsigned n_update, double *ret_choose, double *ret_update) {
        _cleanup_(policy_freep) TierPolicy *p = NULL;
        TierPolicyParams pp;
        TierContext ctx;
        TierDecision d;
        double t0, sink = 0;
        int r;

        policy_params_default(&pp);
        r = policy_new(name, &pp, &p);
        if (r < 0)
                return r;
        /* Warm up: a learning policy gets a replay buffer larger than one minibatch. */
        for (unsigned i = 0; i < 64 && policy_learns(p); i++) {
                context_for(i, &ctx);
                r = policy_update(p, &ctx, i % 36, -0.01 * (i % 7));
                if (r < 0)
                        return r;
        }
        t0 = now_ns();
        for (unsigned i = 0; i < n_choose; i++) {
                context_for(i, &ctx);
                r = policy_choose(p, &ctx, &d);
                if (r < 0)
                        return r;
                sink += d.rate_threshold;
        }
        *ret_choose = (now_ns() - t0) / n_choose;
        *ret_update = 0;
        if (policy_learns(p)) {
                t0 = now_ns();
                for (unsigned i = 0; i < n_update; i++) {
                        context_for(i, &ctx);
                        r = policy_update(p, &ctx, i % 36, -0.01 * (i % 7));
                        if (r < 0)
                                return r;
                }
                *ret_update = (now_ns() - t0) / n_update;
        }
        return sink < 0 ? -1 : 0; /* keeps the decisions observable */
}

int main(int argc, char **argv) {
        const char *const *names = policy_names();
        double choose[16], update[16];
        TierPolicyParams pp;
        size_t n = 0;

        policy_params_default(&pp);
        printf("policy      choose_us   update_us   (indigo: %u minibatch steps of %u per update)\n", pp.train_steps,
               pp.batch);
        for (; names[n] && n < ELEMENTSOF(choose); n++) {
                int r = bench(names[n], 20000, strcmp(names[n], "indigo") == 0 ? 200 : 20000, &choose[n], &update[n]);

                if (r < 0) {
                        fprintf(stderr, "bench-tier-policy: %s failed: %d\n", names[n], r);
                        return 1;
                }
                if (update[n] > 0)
                        printf("%-10s %10.3f %11.3f\n", names[n], choose[n] / 1000, update[n] / 1000);
                else
                        printf("%-10s %10.3f %11s\n", names[n], choose[n] / 1000, "-");
        }
        for (size_t i = 0; i < n; i++) {
                printf("RESULT tier-cost %s choose_us %.3f\n", names[i], choose[i] / 1000);
                if (update[i] > 0)
                        printf("RESULT tier-cost %s update_us %.3f\n", names[i], update[i] / 1000);
        }
        return 0;
}
