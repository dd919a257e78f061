/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-tier-regret: the learning policies' regret on one workload and seed,
 * every variant of tests/bench/tier/run's regret sweep in one process so the
 * true runtimes of the grid actions (deterministic per setting) are simulated
 * once: indigo and linucb, 200 episodes judged also after 50, with and without
 * feedback noise, and a context shift; heuristic and static judged once. One
 * JSON object per line on stdout. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "sim.h"
#include "workload.h"

#define EPISODES 200
#define CHECKPOINT 50
#define NOISE 0.05
#define LOCAL_FRACTION 0.1
#define CONTENTION 0.5
#define SHIFT_EPISODE 100

typedef struct Variant {
        const char *name;
        double noise;
        bool shift;
} Variant;

/* clang-format off */
static const Variant variants[] = {
        { "exact", 0,     false },
        { "noise", NOISE, false },
        { "shift", NOISE, true  },
};
/* clang-format on */

static const char *const learners[] = { "linucb", "indigo" };
/* Policies without training, judged once in the benchmark's setting: what a tenant gets from its
 * first episode on. */
static const char *const fixed[] = { "heuristic", "static" };

static int run(Sim *s, const char *label, const char *policy, uint64_t seed, const Variant *v) {
        _cleanup_(policy_freep) TierPolicy *p = NULL;
        SimTrainOpts o = {
                .episodes = EPISODES,
                .seed = seed,
                .noise = v->noise,
                .regret = true,
                .checkpoint = v->shift ? 0 : CHECKPOINT,
                .shift_episode = v->shift ? SHIFT_EPISODE : 0,
                .shift_contention = CONTENTION,
        };
        TierPolicyParams pp;
        SimTraining tr;
        SimResult res;
        int r;

        policy_params_default(&pp);
        pp.seed = seed;
        r = policy_new(policy, &pp, &p);
        if (r < 0)
                return r;
        /* The shift starts uncontended and moves to the benchmark's contention. One Sim for all
         * variants: its memo of grid runtimes is kept per contention. */
        r = sim_set_contention(s, v->shift ? 0 : CONTENTION);
        if (r < 0)
                return r;
        r = sim_evaluate(s, p, &o, &res, &tr);
        if (r < 0)
                return r;
        printf("{\"workload\":\"%s\",\"seed\":%" PRIu64 ",\"policy\":\"%s\",\"variant\":\"%s\",\"episodes\":%u,"
               "\"regret\":%.6f,\"cumulative_regret\":%.6f,\"action\":%d,\"best_action\":%u",
               label, seed, policy, v->name, EPISODES, tr.regret, tr.cumulative_regret, tr.final.action,
               tr.best_action);
        if (!v->shift)
                printf(",\"regret_%u\":%.6f,\"cumulative_regret_%u\":%.6f", CHECKPOINT, tr.checkpoint_regret,
                       CHECKPOINT, tr.checkpoint_cumulative_regret);
        printf("}\n");
        return fflush(stdout) == 0 ? 0 : -EIO;
}

int main(int argc, char **argv) {
        _cleanup_(trace_freep) Trace *t = NULL;
        _cleanup_(sim_freep) Sim *s = NULL;
        _cleanup_free_ char *error = NULL;
        const char *label;
        uint64_t seed;
        SimParams sp;
        int r;

        if (argc != 5 || (strcmp(argv[1], "workload") != 0 && strcmp(argv[1], "trace") != 0)) {
                fprintf(stderr, "usage: bench-tier-regret workload NAME|trace FILE LABEL SEED\n");
                return 2;
        }
        label = argv[3];
        seed = strtoull(argv[4], NULL, 10);
        if (strcmp(argv[1], "workload") == 0) {
                /* A quarter of the default size keeps 10 seeds x 4 workloads within the sweep's budget. */
                WorkloadParams wp = { WORKLOAD_DEFAULT_PAGES / 4, WORKLOAD_DEFAULT_EPOCHS / 2 };

                r = workload_generate(argv[2], &wp, seed, &t);
        } else
                r = trace_load(argv[2], &t, &error);
        if (r < 0) {
                fprintf(stderr, "bench-tier-regret: cannot load %s: %s %s\n", argv[2], strerror(-r),
                        error ? error : "");
                return 1;
        }
        sim_params_default(&sp);
        sp.local_fraction = LOCAL_FRACTION;
        sp.contention = CONTENTION;
        r = sim_new(t, &sp, &s);
        for (size_t f = 0; r >= 0 && f < ELEMENTSOF(fixed); f++)
                r = run(s, label, fixed[f], seed, &variants[0]);
        for (size_t v = 0; r >= 0 && v < ELEMENTSOF(variants); v++)
                for (size_t l = 0; r >= 0 && l < ELEMENTSOF(learners); l++)
                        r = run(s, label, learners[l], seed, &variants[v]);
        if (r < 0) {
                fprintf(stderr, "bench-tier-regret: %s seed %" PRIu64 ": %s\n", label, seed, strerror(-r));
                return 1;
        }
        return 0;
}
