/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* maio-tiersim: evaluates maiod's tiering policies offline on a built-in
 * workload or a recorded trace, trains the learning ones in simulation, and
 * imports/exports their models. Exit 0 ok, 1 failure, 2 usage error. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maio-config.h"
#include "multi-cli.h"
#include "policy.h"
#include "sim.h"
#include "tiersim-io.h"
#include "workload.h"

typedef enum OutputMode { OUTPUT_TABLE, OUTPUT_JSON } OutputMode;

typedef struct Args {
        const char *workload, *trace, *policy, *save_model, *load_model;
        bool have_local_fraction, have_contention, have_action, have_shift_contention;
        unsigned episodes;
        uint64_t seed;
        OutputMode output;
        WorkloadParams wp;
        SimParams sp;
        TierPolicyParams pp;
        SimTrainOpts opts;
} Args;

enum {
        ARG_WORKLOAD = 0x100,
        ARG_TRACE,
        ARG_LOCAL_FRACTION,
        ARG_CONTENTION,
        ARG_POLICY,
        ARG_EPISODES,
        ARG_SEED,
        ARG_ACTION,
        ARG_PAGES,
        ARG_EPOCHS,
        ARG_GRID,
        ARG_SAVE_MODEL,
        ARG_LOAD_MODEL,
        ARG_DELTA_RATE,
        ARG_DELTA_MARK,
        ARG_LOCAL_NS,
        ARG_REMOTE_NS,
        ARG_LINK_GBPS,
        ARG_VERSION,
        ARG_NOISE,
        ARG_SHIFT_EPISODE,
        ARG_SHIFT_CONTENTION,
        ARG_REGRET,
        ARG_CHECKPOINT,
};

#define NOISE_DEFAULT 0.05

static void help(void) {
        printf("Usage: maio-tiersim (--workload NAME | --trace FILE) --local-fraction F --contention C\n"
               "                    --policy P [--episodes N] [--seed S] [-o table|json] [OPTIONS]\n"
               "       maio-tiersim --multi [OPTIONS]   (tenants sharing one link; --multi --help)\n\n"
               "Simulates two-tier memory under one of maiod's tiering policies.\n\n"
               "  --workload NAME        bfs, zipf, phases or scan\n"
               "  --trace FILE           replay FILE: lines 'epoch page count' (see maio-tiersim(1))\n"
               "  --local-fraction F     local capacity as a fraction of the footprint, 0..1\n"
               "  --contention C         fraction of link bandwidth other hosts take, 0..0.9\n"
               "  --policy P             indigo, linucb, heuristic, static, ewma, none, grid\n"
               "  --episodes N           training episodes of a learning policy (200)\n"
               "  --seed S               seed of the workload and the policy (1)\n"
               "  -o, --output MODE      table (default) or json\n"
               "  --action I             grid action of --policy grid (0..rows*cols-1)\n"
               "  --grid RxB             threshold grid size (6x6)\n"
               "  --pages N --epochs N   size of a built-in workload (16384 pages, 200 epochs)\n"
               "  --delta-rate X         burst clustering δ1, relative (0.5)\n"
               "  --delta-mark S         burst clustering δ2, seconds (0.5)\n"
               "  --local-latency-ns N --remote-latency-ns N --link-gbps G   memory model (100, 400, 4)\n"
               "  --noise[=X]            report completion times x uniform(1-X, 1+X), seeded (X = 0.05)\n"
               "  --shift-episode N      from training episode N on, contention is --shift-contention\n"
               "  --shift-contention C   contention after the shift (0.5)\n"
               "  --regret               judge against the best grid action (runs all of them)\n"
               "  --checkpoint N         with --regret: also judge the greedy decision after N episodes\n"
               "  --save-model FILE      write the policy's model as JSON after the run\n"
               "  --load-model FILE      start from a model written by --save-model\n"
               "  -h, --help  --version\n");
}

static int parse_grid(const char *s, TierPolicyParams *pp) {
        unsigned rows, cols;
        char tail;

        if (sscanf(s, "%ux%u%c", &rows, &cols, &tail) != 2)
                return -EINVAL;
        return tier_grid_init(&pp->grid, rows, cols, TIER_GRID_DEFAULT_RATE_MIN, TIER_GRID_DEFAULT_RATE_MAX,
                              TIER_GRID_DEFAULT_BURST_MIN, TIER_GRID_DEFAULT_BURST_MAX);
}

/* Handles one option that carries a number; returns 0 or -EINVAL after printing why. */
static int parse_numeric(int c, const char *opt, const char *v, Args *a) {
        uint64_t u;
        double d;

        switch (c) {
        case ARG_LOCAL_FRACTION:
                a->have_local_fraction = true;
                return tiersim_parse_double(v, 0, 1, &a->sp.local_fraction) < 0 ? tiersim_usage_error(opt, v) : 0;
        case ARG_CONTENTION:
                a->have_contention = true;
                return tiersim_parse_double(v, 0, 0.9, &a->sp.contention) < 0 ? tiersim_usage_error(opt, v) : 0;
        case ARG_EPISODES:
                if (tiersim_parse_u64(v, 0, 1000000, &u) < 0)
                        return tiersim_usage_error(opt, v);
                a->episodes = (unsigned) u;
                return 0;
        case ARG_NOISE:
                if (!v) {
                        a->opts.noise = NOISE_DEFAULT;
                        return 0;
                }
                return tiersim_parse_double(v, 0, 0.5, &a->opts.noise) < 0 ? tiersim_usage_error(opt, v) : 0;
        case ARG_SHIFT_EPISODE:
                if (tiersim_parse_u64(v, 1, 1000000, &u) < 0)
                        return tiersim_usage_error(opt, v);
                a->opts.shift_episode = (unsigned) u;
                return 0;
        case ARG_SHIFT_CONTENTION:
                a->have_shift_contention = true;
                return tiersim_parse_double(v, 0, 0.9, &a->opts.shift_contention) < 0 ? tiersim_usage_error(opt, v) : 0;
        case ARG_CHECKPOINT:
                if (tiersim_parse_u64(v, 1, 1000000, &u) < 0)
                        return tiersim_usage_error(opt, v);
                a->opts.checkpoint = (unsigned) u;
                return 0;
        case ARG_SEED:
                return tiersim_parse_u64(v, 0, UINT64_MAX, &a->seed) < 0 ? tiersim_usage_error(opt, v) : 0;
        case ARG_ACTION:
                if (tiersim_parse_u64(v, 0, TIER_GRID_MAX * TIER_GRID_MAX - 1, &u) < 0)
                        return tiersim_usage_error(opt, v);
                a->pp.action = (unsigned) u;
                a->have_action = true;
                return 0;
        case ARG_PAGES:
                if (tiersim_parse_u64(v, 64, TRACE_MAX_PAGES, &u) < 0)
                        return tiersim_usage_error(opt, v);
                a->wp.pages = u;
                return 0;
        case ARG_EPOCHS:
                if (tiersim_parse_u64(v, 1, 100000, &u) < 0)
                        return tiersim_usage_error(opt, v);
                a->wp.epochs = u;
                return 0;
        case ARG_DELTA_RATE:
                return tiersim_parse_double(v, 0, 1e9, &a->sp.telemetry.delta_rate) < 0 ? tiersim_usage_error(opt, v)
                                                                                        : 0;
        case ARG_DELTA_MARK:
                return tiersim_parse_double(v, 0, 1e9, &a->sp.telemetry.delta_mark_s) < 0 ? tiersim_usage_error(opt, v)
                                                                                          : 0;
        case ARG_LOCAL_NS:
                if (tiersim_parse_double(v, 0.001, 1e9, &d) < 0)
                        return tiersim_usage_error(opt, v);
                a->sp.local_lat_s = d * 1e-9;
                return 0;
        case ARG_REMOTE_NS:
                if (tiersim_parse_double(v, 0.001, 1e9, &d) < 0)
                        return tiersim_usage_error(opt, v);
                a->sp.remote_lat_s = d * 1e-9;
                return 0;
        case ARG_LINK_GBPS:
                if (tiersim_parse_double(v, 1e-6, 1e6, &d) < 0)
                        return tiersim_usage_error(opt, v);
                a->sp.link_bw_Bps = d * 1e9;
                return 0;
        default:
                return -EINVAL;
        }
}

static const struct option options[] = {
        { "workload", required_argument, NULL, ARG_WORKLOAD },
        { "trace", required_argument, NULL, ARG_TRACE },
        { "local-fraction", required_argument, NULL, ARG_LOCAL_FRACTION },
        { "contention", required_argument, NULL, ARG_CONTENTION },
        { "policy", required_argument, NULL, ARG_POLICY },
        { "episodes", required_argument, NULL, ARG_EPISODES },
        { "seed", required_argument, NULL, ARG_SEED },
        { "output", required_argument, NULL, 'o' },
        { "action", required_argument, NULL, ARG_ACTION },
        { "grid", required_argument, NULL, ARG_GRID },
        { "pages", required_argument, NULL, ARG_PAGES },
        { "epochs", required_argument, NULL, ARG_EPOCHS },
        { "delta-rate", required_argument, NULL, ARG_DELTA_RATE },
        { "delta-mark", required_argument, NULL, ARG_DELTA_MARK },
        { "local-latency-ns", required_argument, NULL, ARG_LOCAL_NS },
        { "remote-latency-ns", required_argument, NULL, ARG_REMOTE_NS },
        { "link-gbps", required_argument, NULL, ARG_LINK_GBPS },
        { "noise", optional_argument, NULL, ARG_NOISE },
        { "shift-episode", required_argument, NULL, ARG_SHIFT_EPISODE },
        { "shift-contention", required_argument, NULL, ARG_SHIFT_CONTENTION },
        { "regret", no_argument, NULL, ARG_REGRET },
        { "checkpoint", required_argument, NULL, ARG_CHECKPOINT },
        { "save-model", required_argument, NULL, ARG_SAVE_MODEL },
        { "load-model", required_argument, NULL, ARG_LOAD_MODEL },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, ARG_VERSION },
        {},
};

/* Combinations getopt cannot check. Returns 1 or -EINVAL after printing why. */
static int check_args(const Args *a) {
        if (!!a->workload == !!a->trace) {
                fprintf(stderr, "maio-tiersim: give exactly one of --workload and --trace\n");
                return -EINVAL;
        }
        if (!a->have_local_fraction || !a->have_contention || (!a->policy && !a->load_model)) {
                fprintf(stderr, "maio-tiersim: --local-fraction, --contention and --policy are required\n");
                return -EINVAL;
        }
        if (a->have_shift_contention && a->opts.shift_episode == 0) {
                fprintf(stderr, "maio-tiersim: --shift-contention needs --shift-episode\n");
                return -EINVAL;
        }
        if (a->opts.checkpoint > 0 && !a->opts.regret) {
                fprintf(stderr, "maio-tiersim: --checkpoint needs --regret\n");
                return -EINVAL;
        }
        if (a->have_action && (!a->policy || strcmp(a->policy, "grid") != 0)) {
                fprintf(stderr, "maio-tiersim: --action only goes with --policy grid\n");
                return -EINVAL;
        }
        return 1;
}

/* Returns 1 to run, 0 to exit successfully (help, version), -EINVAL on a usage error. */
static int parse_args(int argc, char **argv, Args *a) {
        int c;

        while ((c = getopt_long(argc, argv, "ho:", options, NULL)) >= 0) {
                const char *opt = optind > 0 && optind <= argc ? argv[optind - 1] : "option";

                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("maio-tiersim %s\n", MAIO_VERSION);
                        return 0;
                case ARG_WORKLOAD:
                        a->workload = optarg;
                        break;
                case ARG_TRACE:
                        a->trace = optarg;
                        break;
                case ARG_POLICY:
                        a->policy = optarg;
                        break;
                case ARG_SAVE_MODEL:
                        a->save_model = optarg;
                        break;
                case ARG_LOAD_MODEL:
                        a->load_model = optarg;
                        break;
                case ARG_REGRET:
                        a->opts.regret = true;
                        break;
                case 'o':
                        if (strcmp(optarg, "json") == 0)
                                a->output = OUTPUT_JSON;
                        else if (strcmp(optarg, "table") == 0)
                                a->output = OUTPUT_TABLE;
                        else
                                return tiersim_usage_error("-o", optarg);
                        break;
                case ARG_GRID:
                        if (parse_grid(optarg, &a->pp) < 0)
                                return tiersim_usage_error("--grid", optarg);
                        break;
                case '?':
                        return -EINVAL;
                default:
                        if (parse_numeric(c, opt, optarg, a) < 0)
                                return -EINVAL;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "maio-tiersim: unexpected argument '%s'\n", argv[optind]);
                return -EINVAL;
        }
        return check_args(a);
}


/* The trace to run; prints why on failure. */
static int load_trace(const Args *a, Trace **ret) {
        _cleanup_free_ char *error = NULL;
        int r;

        if (a->workload) {
                r = workload_generate(a->workload, &a->wp, a->seed, ret);
                if (r == -ENOENT)
                        fprintf(stderr, "maio-tiersim: unknown workload '%s' (bfs, zipf, phases, scan)\n", a->workload);
                else if (r < 0)
                        fprintf(stderr, "maio-tiersim: cannot generate workload '%s': %s\n", a->workload, strerror(-r));
                return r;
        }
        r = trace_load(a->trace, ret, &error);
        if (r < 0 && error)
                fprintf(stderr, "maio-tiersim: %s:%s\n", a->trace, error);
        else if (r == -ENODATA)
                fprintf(stderr, "maio-tiersim: %s: no samples in trace\n", a->trace);
        else if (r < 0)
                fprintf(stderr, "maio-tiersim: cannot read trace %s: %s\n", a->trace, strerror(-r));
        return r;
}

static int tiersim_policy(const Args *a, TierPolicy **ret) {
        int r;

        if (a->load_model) {
                r = tiersim_model_load(a->load_model, ret);
                if (r < 0)
                        return r;
                if (a->policy && strcmp(a->policy, policy_name(*ret)) != 0) {
                        fprintf(stderr, "maio-tiersim: %s holds a '%s' model, not '%s'\n", a->load_model,
                                policy_name(*ret), a->policy);
                        return -EINVAL;
                }
                return 0;
        }
        r = policy_new(a->policy, &a->pp, ret);
        if (r == -ENOENT)
                fprintf(stderr,
                        "maio-tiersim: unknown policy '%s' (indigo, linucb, heuristic, static, ewma, none, grid)\n",
                        a->policy);
        else if (r == -EINVAL)
                fprintf(stderr, "maio-tiersim: parameters out of range for policy '%s'%s\n", a->policy,
                        strcmp(a->policy, "grid") == 0 ? " (is --action inside the grid?)" : "");
        else if (r < 0)
                fprintf(stderr, "maio-tiersim: cannot create policy '%s': %s\n", a->policy, strerror(-r));
        return r;
}

int main(int argc, char **argv) {
        _cleanup_(trace_freep) Trace *trace = NULL;
        _cleanup_(sim_freep) Sim *sim = NULL;
        _cleanup_(policy_freep) TierPolicy *policy = NULL;
        Args a = {
                .episodes = 200,
                .seed = 1,
                .wp = { WORKLOAD_DEFAULT_PAGES, WORKLOAD_DEFAULT_EPOCHS },
                .opts = { .shift_contention = 0.5 },
        };
        TiersimReport rep;
        SimTraining tr;
        SimResult res;
        int r;

        if (argc > 1 && strcmp(argv[1], "--multi") == 0)
                return multi_main(argc - 1, argv + 1);
        sim_params_default(&a.sp);
        policy_params_default(&a.pp);
        r = parse_args(argc, argv, &a);
        if (r <= 0)
                return r < 0 ? 2 : 0;
        a.pp.seed = a.seed;
        a.opts.seed = a.seed;
        a.opts.episodes = a.episodes;

        if (load_trace(&a, &trace) < 0)
                return 1;
        r = sim_new(trace, &a.sp, &sim);
        if (r < 0) {
                fprintf(stderr, "maio-tiersim: cannot set up the simulation: %s\n", strerror(-r));
                return 1;
        }
        if (tiersim_policy(&a, &policy) < 0)
                return 1;
        r = sim_evaluate(sim, policy, &a.opts, &res, &tr);
        if (r < 0) {
                fprintf(stderr, "maio-tiersim: simulation failed: %s\n", strerror(-r));
                return 1;
        }
        if (a.save_model && tiersim_model_save(policy, a.save_model) < 0)
                return 1;
        rep = (TiersimReport) {
                .workload = a.workload,
                .trace = a.trace,
                .policy = policy,
                .seed = a.seed,
                .local_fraction = a.sp.local_fraction,
                .contention = a.sp.contention,
                .pages = trace->n_pages,
                .epochs = trace->n_epochs,
                .capacity = sim_local_capacity(sim),
                .all_local_s = sim_all_local(sim),
                .opts = a.opts,
                .result = res,
                .training = tr,
        };
        return tiersim_print(&rep, a.output == OUTPUT_JSON) < 0 ? 1 : 0;
}
