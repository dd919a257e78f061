/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* maio-tiersim --multi: the command line and the output of the multi-tenant mode (multi.h). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "multi-cli.h"
#include "multi.h"
#include "tiersim-io.h"

enum {
        ARG_TENANTS = 0x100,
        ARG_LINK_PAGES,
        ARG_CHURN,
        ARG_PERIOD,
        ARG_PERIOD_PHASE,
        ARG_HORIZON,
        ARG_STRATEGY,
        ARG_MODE,
        ARG_ISOLATED,
        ARG_SHARED,
        ARG_LOCAL_FRACTION,
        ARG_CONTENTION,
        ARG_POLICY,
        ARG_ACTION,
        ARG_SEED,
        ARG_PAGES,
        ARG_EPOCHS,
        ARG_LOCAL_NS,
        ARG_REMOTE_NS,
        ARG_LINK_GBPS,
};

static void multi_help(void) {
        printf("Usage: maio-tiersim --multi [OPTIONS]\n\n"
               "Simulates tenants sharing one memory link: the link's promotion bandwidth is granted\n"
               "by a scheduler (see maio-tiersim(1), MULTI-TENANT MODE). Defaults: the scenario of\n"
               "the scheduler benchmark, run under every strategy and mode.\n\n"
               "  --tenants SPEC         PRIO:WORKLOAD,... (0:bfs,0:zipf,3:phases,3:scan,5:bfs,5:zipf,\n"
               "                         7:phases,7:scan)\n"
               "  --strategy S           alloc, equal, fcfs or all (all)\n"
               "  --mode M               event, periodic or all (all)\n"
               "  --link-pages N         promotions per epoch over all tenants (256)\n"
               "  --churn N              every N epochs one tenant leaves and a fresh one joins (20; 0 = none)\n"
               "  --period P             periodic mode: epochs between re-allocations (10)\n"
               "  --period-phase N       periodic mode: first re-allocation after epoch 0 (P / 2)\n"
               "  --horizon N            epochs simulated (0 = the trace length)\n"
               "  --shared-latency       tenants' traffic raises each other's remote latency (off)\n"
               "  --isolated-latency     each tenant's latency: contention + its own traffic (default)\n"
               "  --local-fraction F     each tenant's local capacity / footprint (0.2)\n"
               "  --contention C         link fraction taken by other hosts (0.5)\n"
               "  --policy P             best, static, ewma, none or grid (best: each tenant's best grid action alone)\n"
               "  --action I             grid action of --policy grid\n"
               "  --seed S               seed of the workloads (1)\n"
               "  --pages N --epochs N   size of each tenant's workload (16384 pages, 200 epochs)\n"
               "  --local-latency-ns N --remote-latency-ns N --link-gbps G   memory model (100, 400, 4)\n"
               "  -o, --output MODE      table (default) or json\n"
               "  -h, --help\n");
}

typedef struct MultiArgs {
        MultiParams p;
        int strategy, mode; /* -1 = all */
        bool json;
} MultiArgs;

static int parse_value(int c, const char *opt, const char *v, MultiArgs *a) {
        MultiParams *p = &a->p;
        uint64_t u;
        double d;

        switch (c) {
        case ARG_TENANTS:
                return multi_params_parse_tenants(p, v) < 0 ? tiersim_usage_error(opt, v) : 0;
        case ARG_LINK_PAGES:
                return tiersim_parse_u64(v, 1, UINT32_MAX, &p->link_pages) < 0 ? tiersim_usage_error(opt, v) : 0;
        case ARG_CHURN:
                if (tiersim_parse_u64(v, 0, 100000, &u) < 0)
                        return tiersim_usage_error(opt, v);
                p->churn_every = (unsigned) u;
                return 0;
        case ARG_PERIOD:
                if (tiersim_parse_u64(v, 1, 100000, &u) < 0)
                        return tiersim_usage_error(opt, v);
                p->period = (unsigned) u;
                return 0;
        case ARG_PERIOD_PHASE:
                if (tiersim_parse_u64(v, 0, 100000, &u) < 0)
                        return tiersim_usage_error(opt, v);
                p->period_phase = (int) u;
                return 0;
        case ARG_HORIZON:
                if (tiersim_parse_u64(v, 0, 100000, &u) < 0)
                        return tiersim_usage_error(opt, v);
                p->horizon = (unsigned) u;
                return 0;
        case ARG_STRATEGY:
                a->strategy = strcmp(v, "all") == 0 ? -1 : multi_strategy_from_name(v);
                return a->strategy == -EINVAL ? tiersim_usage_error(opt, v) : 0;
        case ARG_MODE:
                a->mode = strcmp(v, "all") == 0 ? -1 : multi_mode_from_name(v);
                return a->mode == -EINVAL ? tiersim_usage_error(opt, v) : 0;
        case ARG_LOCAL_FRACTION:
                return tiersim_parse_double(v, 0, 1, &p->sp.local_fraction) < 0 ? tiersim_usage_error(opt, v) : 0;
        case ARG_CONTENTION:
                return tiersim_parse_double(v, 0, 0.9, &p->sp.contention) < 0 ? tiersim_usage_error(opt, v) : 0;
        case ARG_ACTION:
                if (tiersim_parse_u64(v, 0, TIER_GRID_MAX * TIER_GRID_MAX - 1, &u) < 0)
                        return tiersim_usage_error(opt, v);
                p->pp.action = (unsigned) u;
                return 0;
        case ARG_SEED:
                return tiersim_parse_u64(v, 0, UINT64_MAX, &p->seed) < 0 ? tiersim_usage_error(opt, v) : 0;
        case ARG_PAGES:
                if (tiersim_parse_u64(v, 64, TRACE_MAX_PAGES, &u) < 0)
                        return tiersim_usage_error(opt, v);
                p->wp.pages = u;
                return 0;
        case ARG_EPOCHS:
                if (tiersim_parse_u64(v, 1, 100000, &u) < 0)
                        return tiersim_usage_error(opt, v);
                p->wp.epochs = u;
                return 0;
        case ARG_LOCAL_NS:
                if (tiersim_parse_double(v, 0.001, 1e9, &d) < 0)
                        return tiersim_usage_error(opt, v);
                p->sp.local_lat_s = d * 1e-9;
                return 0;
        case ARG_REMOTE_NS:
                if (tiersim_parse_double(v, 0.001, 1e9, &d) < 0)
                        return tiersim_usage_error(opt, v);
                p->sp.remote_lat_s = d * 1e-9;
                return 0;
        case ARG_LINK_GBPS:
                if (tiersim_parse_double(v, 1e-6, 1e6, &d) < 0)
                        return tiersim_usage_error(opt, v);
                p->sp.link_bw_Bps = d * 1e9;
                return 0;
        default:
                return -EINVAL;
        }
}

/* Returns 1 to run, 0 after --help, -EINVAL on a usage error. */
static int multi_parse(int argc, char **argv, MultiArgs *a) {
        static const struct option options[] = {
                { "tenants", required_argument, NULL, ARG_TENANTS },
                { "link-pages", required_argument, NULL, ARG_LINK_PAGES },
                { "churn", required_argument, NULL, ARG_CHURN },
                { "period", required_argument, NULL, ARG_PERIOD },
                { "period-phase", required_argument, NULL, ARG_PERIOD_PHASE },
                { "horizon", required_argument, NULL, ARG_HORIZON },
                { "strategy", required_argument, NULL, ARG_STRATEGY },
                { "mode", required_argument, NULL, ARG_MODE },
                { "isolated-latency", no_argument, NULL, ARG_ISOLATED },
                { "shared-latency", no_argument, NULL, ARG_SHARED },
                { "local-fraction", required_argument, NULL, ARG_LOCAL_FRACTION },
                { "contention", required_argument, NULL, ARG_CONTENTION },
                { "policy", required_argument, NULL, ARG_POLICY },
                { "action", required_argument, NULL, ARG_ACTION },
                { "seed", required_argument, NULL, ARG_SEED },
                { "pages", required_argument, NULL, ARG_PAGES },
                { "epochs", required_argument, NULL, ARG_EPOCHS },
                { "local-latency-ns", required_argument, NULL, ARG_LOCAL_NS },
                { "remote-latency-ns", required_argument, NULL, ARG_REMOTE_NS },
                { "link-gbps", required_argument, NULL, ARG_LINK_GBPS },
                { "output", required_argument, NULL, 'o' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        int c, li = -1;

        while ((c = getopt_long(argc, argv, "ho:", options, &li)) >= 0) {
                char opt[32];

                snprintf(opt, sizeof opt, "--%s", li >= 0 ? options[li].name : "option");
                li = -1;

                switch (c) {
                case 'h':
                        multi_help();
                        return 0;
                case 'o':
                        if (strcmp(optarg, "json") != 0 && strcmp(optarg, "table") != 0)
                                return tiersim_usage_error("-o", optarg);
                        a->json = strcmp(optarg, "json") == 0;
                        break;
                case ARG_ISOLATED:
                case ARG_SHARED:
                        a->p.shared_latency = c == ARG_SHARED;
                        break;
                case ARG_POLICY:
                        a->p.policy = optarg;
                        break;
                case '?':
                        return -EINVAL;
                default:
                        if (parse_value(c, opt, optarg, a) < 0)
                                return -EINVAL;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "maio-tiersim: unexpected argument '%s'\n", argv[optind]);
                return -EINVAL;
        }
        if (a->p.period_phase >= (int) a->p.period) {
                fprintf(stderr, "maio-tiersim: --period-phase must be below --period (%u)\n", a->p.period);
                return -EINVAL;
        }
        return 1;
}

/* ---- output ---- */

static int jappend(json_object *a, json_object *v) {
        if (!v || json_object_array_add(a, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static json_object *tenants_spec_json(const MultiParams *p) {
        json_object *a = json_object_new_array();

        for (unsigned i = 0; a && i < p->n_tenants; i++) {
                json_object *t = json_object_new_object();

                if (jappend(a, t) < 0 ||
                    tiersim_json_add(t, "priority", json_object_new_int((int) p->priority[i])) < 0 ||
                    tiersim_json_add(t, "workload", json_object_new_string(p->workload[i])) < 0) {
                        json_object_put(a);
                        return NULL;
                }
        }
        return a;
}

static json_object *scenario_json(const MultiParams *p) {
        json_object *o = json_object_new_object();

        if (!o || tiersim_json_add(o, "tenants", tenants_spec_json(p)) < 0 ||
            tiersim_json_add(o, "local_fraction", tiersim_json_double(p->sp.local_fraction)) < 0 ||
            tiersim_json_add(o, "contention", tiersim_json_double(p->sp.contention)) < 0 ||
            tiersim_json_add(o, "policy", json_object_new_string(p->policy)) < 0 ||
            tiersim_json_add(o, "link_pages", json_object_new_int64((int64_t) p->link_pages)) < 0 ||
            tiersim_json_add(o, "churn_every", json_object_new_int((int) p->churn_every)) < 0 ||
            tiersim_json_add(o, "period", json_object_new_int((int) p->period)) < 0 ||
            tiersim_json_add(o, "period_phase",
                             json_object_new_int(p->period_phase >= 0 ? p->period_phase : (int) (p->period / 2))) < 0 ||
            tiersim_json_add(o, "pages", json_object_new_int64((int64_t) p->wp.pages)) < 0 ||
            tiersim_json_add(o, "epochs", json_object_new_int64((int64_t) p->wp.epochs)) < 0 ||
            tiersim_json_add(o, "horizon", json_object_new_int((int) p->horizon)) < 0 ||
            tiersim_json_add(o, "shared_latency", json_object_new_boolean(p->shared_latency)) < 0 ||
            tiersim_json_add(o, "seed", json_object_new_uint64(p->seed)) < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

static json_object *tenant_json(const MultiTenantResult *t) {
        json_object *o = json_object_new_object();

        if (!o || tiersim_json_add(o, "slot", json_object_new_int((int) t->slot)) < 0 ||
            tiersim_json_add(o, "priority", json_object_new_int((int) t->priority)) < 0 ||
            tiersim_json_add(o, "workload", json_object_new_string(t->workload)) < 0 ||
            tiersim_json_add(o, "generation", json_object_new_int((int) t->generation)) < 0 ||
            tiersim_json_add(o, "join_epoch", json_object_new_int((int) t->join_epoch)) < 0 ||
            tiersim_json_add(o, "epochs", json_object_new_int((int) t->epochs)) < 0 ||
            tiersim_json_add(o, "runtime_s", tiersim_json_double(t->runtime_s)) < 0 ||
            tiersim_json_add(o, "alone_s", tiersim_json_double(t->alone_s)) < 0 ||
            tiersim_json_add(o, "degradation", tiersim_json_double(t->degradation)) < 0 ||
            tiersim_json_add(o, "demand", json_object_new_uint64(t->demand)) < 0 ||
            tiersim_json_add(o, "promoted", json_object_new_uint64(t->promoted)) < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

static json_object *run_json(const MultiRun *r) {
        json_object *o = json_object_new_object(), *deg = json_object_new_object(), *ts = json_object_new_array();

        if (!o || tiersim_json_add(o, "strategy", json_object_new_string(multi_strategy_name(r->strategy))) < 0 ||
            tiersim_json_add(o, "mode", json_object_new_string(multi_mode_name(r->mode))) < 0 ||
            tiersim_json_add(o, "degradation_by_priority", deg) < 0 ||
            tiersim_json_add(o, "total_runtime_s", tiersim_json_double(r->total_runtime_s)) < 0 ||
            tiersim_json_add(o, "total_alone_s", tiersim_json_double(r->total_alone_s)) < 0 ||
            tiersim_json_add(o, "reallocations", json_object_new_uint64(r->reallocations)) < 0 ||
            tiersim_json_add(o, "promoted", json_object_new_uint64(r->promoted)) < 0 ||
            tiersim_json_add(o, "idle_pages", json_object_new_uint64(r->idle_pages)) < 0 ||
            tiersim_json_add(o, "epochs", json_object_new_int((int) r->epochs)) < 0 ||
            tiersim_json_add(o, "tenants", ts) < 0) {
                json_object_put(o);
                return NULL;
        }
        for (unsigned p = 0; p < ALLOC_PRIORITIES; p++) {
                char key[4];

                if (!r->have_priority[p])
                        continue;
                snprintf(key, sizeof key, "%u", p);
                if (tiersim_json_add(deg, key, tiersim_json_double(r->degradation[p])) < 0) {
                        json_object_put(o);
                        return NULL;
                }
        }
        for (size_t i = 0; i < r->n_tenants; i++)
                if (jappend(ts, tenant_json(&r->tenants[i])) < 0) {
                        json_object_put(o);
                        return NULL;
                }
        return o;
}

static void print_header(const MultiParams *p) {
        printf("tenants   ");
        for (unsigned i = 0; i < p->n_tenants; i++)
                printf("%s%u:%s", i ? "," : "", p->priority[i], p->workload[i]);
        printf("\nscenario  local fraction %g, contention %g, policy %s, link %" PRIu64
               " promotions/epoch, churn every %u epochs, period %u, %zu pages x %zu epochs, %s latency, seed "
               "%" PRIu64 "\n",
               p->sp.local_fraction, p->sp.contention, p->policy, p->link_pages, p->churn_every, p->period, p->wp.pages,
               p->wp.epochs, p->shared_latency ? "shared" : "isolated", p->seed);
        printf("%-8s %-8s", "strategy", "mode");
        for (unsigned q = 0; q < ALLOC_PRIORITIES; q++)
                for (unsigned i = 0; i < p->n_tenants; i++)
                        if (p->priority[i] == q) {
                                printf(" deg_p%u  ", q);
                                break;
                        }
        printf(" %15s %8s %8s %9s %10s\n", "total_runtime_s", "tenants", "reallocs", "promoted", "idle_pages");
}

static void print_row(const MultiRun *r) {
        printf("%-8s %-8s", multi_strategy_name(r->strategy), multi_mode_name(r->mode));
        for (unsigned q = 0; q < ALLOC_PRIORITIES; q++)
                if (r->have_priority[q])
                        printf(" %8.4f", r->degradation[q]);
        printf(" %15.6f %8zu %8" PRIu64 " %9" PRIu64 " %10" PRIu64 "\n", r->total_runtime_s, r->n_tenants,
               r->reallocations, r->promoted, r->idle_pages);
}

int multi_main(int argc, char **argv) {
        _cleanup_(multi_freep) Multi *m = NULL;
        json_object *root = NULL, *runs = NULL;
        MultiArgs a = { .strategy = -1, .mode = -1 };
        int r, status = 0;

        multi_params_default(&a.p);
        r = multi_parse(argc, argv, &a);
        if (r <= 0)
                return r < 0 ? 2 : 0;
        r = multi_new(&a.p, &m);
        if (r == -EOPNOTSUPP) {
                fprintf(stderr,
                        "maio-tiersim: --multi takes best or a fixed policy (static, ewma, none, grid), not '%s'\n",
                        a.p.policy);
                return 2;
        }
        if (r == -ENOENT) {
                fprintf(stderr, "maio-tiersim: unknown policy '%s'\n", a.p.policy);
                return 1;
        }
        if (r < 0) {
                fprintf(stderr, "maio-tiersim: cannot set up the multi-tenant simulation: %s\n", strerror(-r));
                return 1;
        }
        if (a.json) {
                root = json_object_new_object();
                runs = json_object_new_array();
                if (!root || tiersim_json_add(root, "scenario", scenario_json(&a.p)) < 0 ||
                    tiersim_json_add(root, "runs", runs) < 0) {
                        json_object_put(root);
                        return 1;
                }
        } else
                print_header(&a.p);
        for (int s = 0; s < _MULTI_STRATEGY_MAX && status == 0; s++)
                for (int md = 0; md < _MULTI_MODE_MAX && status == 0; md++) {
                        MultiRun run;

                        if ((a.strategy >= 0 && a.strategy != s) || (a.mode >= 0 && a.mode != md))
                                continue;
                        r = multi_run(m, (MultiStrategy) s, (MultiMode) md, NULL, NULL, &run);
                        if (r < 0) {
                                fprintf(stderr, "maio-tiersim: simulation failed: %s\n", strerror(-r));
                                status = 1;
                                break;
                        }
                        if (a.json) {
                                if (jappend(runs, run_json(&run)) < 0)
                                        status = 1;
                        } else
                                print_row(&run);
                        multi_run_done(&run);
                }
        if (a.json) {
                if (status == 0)
                        printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
                                                                                    JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(root);
        }
        if (fflush(stdout) != 0)
                status = 1;
        return status;
}
