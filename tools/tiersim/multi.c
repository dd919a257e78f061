/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The multi-tenant mode (see multi.h for the model): tenants stepped in lockstep, one scheduler
 * granting the link's promotion budget, churn, and the alone baselines degradation is judged by. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "multi.h"

static const char *const strategy_names[_MULTI_STRATEGY_MAX] = {
        [MULTI_ALLOC] = "alloc",
        [MULTI_EQUAL] = "equal",
        [MULTI_FCFS] = "fcfs",
};
static const char *const mode_names[_MULTI_MODE_MAX] = {
        [MULTI_EVENT] = "event",
        [MULTI_PERIODIC] = "periodic",
};

const char *multi_strategy_name(MultiStrategy s) {
        return s >= 0 && s < _MULTI_STRATEGY_MAX ? strategy_names[s] : "unknown";
}

const char *multi_mode_name(MultiMode m) {
        return m >= 0 && m < _MULTI_MODE_MAX ? mode_names[m] : "unknown";
}

int multi_strategy_from_name(const char *name) {
        for (int i = 0; i < _MULTI_STRATEGY_MAX; i++)
                if (strcmp(name, strategy_names[i]) == 0)
                        return i;
        return -EINVAL;
}

int multi_mode_from_name(const char *name) {
        for (int i = 0; i < _MULTI_MODE_MAX; i++)
                if (strcmp(name, mode_names[i]) == 0)
                        return i;
        return -EINVAL;
}

void multi_params_default(MultiParams *p) {
        static const unsigned prio[] = { 0, 0, 3, 3, 5, 5, 7, 7 };
        static const char *const work[] = { "bfs", "zipf", "phases", "scan" };

        *p = (MultiParams) {
                .n_tenants = ELEMENTSOF(prio),
                .wp = { WORKLOAD_DEFAULT_PAGES, WORKLOAD_DEFAULT_EPOCHS },
                .policy = "best",
                .link_pages = 256,
                .churn_every = 20,
                .period = 10,
                .period_phase = -1,
                .seed = 1,
        };
        for (unsigned i = 0; i < p->n_tenants; i++) {
                p->priority[i] = prio[i];
                p->workload[i] = work[i % ELEMENTSOF(work)];
        }
        sim_params_default(&p->sp);
        p->sp.local_fraction = 0.2;
        p->sp.contention = 0.5;
        policy_params_default(&p->pp);
}

int multi_params_parse_tenants(MultiParams *p, const char *spec) {
        const char *const *names = workload_names();
        const char *work[MULTI_MAX_TENANTS];
        unsigned prio[MULTI_MAX_TENANTS], n = 0;
        const char *s = spec;

        while (*s) {
                const char *end = strchrnul(s, ',');
                size_t len;

                if (n >= MULTI_MAX_TENANTS || *s < '0' || *s > '7' || s[1] != ':')
                        return -EINVAL;
                len = (size_t) (end - (s + 2));
                work[n] = NULL;
                for (size_t i = 0; names[i]; i++)
                        if (strlen(names[i]) == len && strncmp(names[i], s + 2, len) == 0)
                                work[n] = names[i];
                if (!work[n])
                        return -EINVAL;
                prio[n++] = (unsigned) (*s - '0');
                if (*end && !end[1]) /* a trailing comma */
                        return -EINVAL;
                s = *end ? end + 1 : end;
        }
        if (n == 0)
                return -EINVAL;
        /* Only a whole valid list replaces the tenants. */
        for (unsigned i = 0; i < n; i++) {
                p->priority[i] = prio[i];
                p->workload[i] = work[i];
        }
        p->n_tenants = n;
        return 0;
}

/* ---- the tenants ---- */

typedef struct Slot {
        Trace *trace;
        Sim *sim;
        TierDecision decision;
        double *alone_prefix; /* runtime alone after k epochs, k = 0..epochs */
} Slot;

struct Multi {
        MultiParams p;
        Slot slots[MULTI_MAX_TENANTS];
};

/* One running tenant: its slot's Sim plus the clock and counters of this instance. */
typedef struct Tenant {
        bool active;
        unsigned generation, join_epoch, k; /* k: epochs of its trace done */
        uint64_t join_seq;
        double now, runtime, moved_bytes;
        uint64_t demand_sum, promoted_sum;
        /* this epoch */
        uint64_t loc, rem, demand;
        size_t n_cand;
        double t_acc, u;
        SimResult res;
} Tenant;

void multi_free(Multi *m) {
        if (!m)
                return;
        for (unsigned i = 0; i < MULTI_MAX_TENANTS; i++) {
                sim_free(m->slots[i].sim);
                trace_free(m->slots[i].trace);
                free(m->slots[i].alone_prefix);
        }
        free(m);
}

const MultiParams *multi_params(const Multi *m) {
        return &m->p;
}

uint64_t multi_slot_seed(uint64_t seed, unsigned slot) {
        /* Distinct traces for tenants of the same workload, fixed for a seed. */
        return seed ^ ((uint64_t) (slot + 1) * UINT64_C(0x9e3779b97f4a7c15));
}

/* Serves one epoch of the active tenants: their access times at a common link utilisation (or each
 * at its own, without shared latency), found as sim.c finds one tenant's: a damped fixed point. */
static void epoch_times(const MultiParams *mp, Tenant *const *ts, size_t n) {
        const SimParams *p = &mp->sp;
        double u = p->contention;

        for (unsigned it = 0; it < 50; it++) {
                double wall = 0, bytes = 0, own, nu;

                for (size_t i = 0; i < n; i++) {
                        ts[i]->t_acc = sim_access_time_at(p, ts[i]->loc * p->accesses_per_sample,
                                                          ts[i]->rem * p->accesses_per_sample, u);
                        wall = fmax(wall, ts[i]->t_acc);
                        bytes += ts[i]->rem * p->accesses_per_sample * p->line_size + ts[i]->moved_bytes;
                }
                own = wall > 0 ? bytes / (wall * p->link_bw_Bps) : 0;
                nu = fmin(sim_util_max(), p->contention + own);
                if (fabs(nu - u) < 1e-9)
                        break;
                u = 0.5 * (u + nu);
        }
        for (size_t i = 0; i < n; i++)
                ts[i]->u = u;
}

static void tenant_start(Multi *m, unsigned slot, Tenant *t, unsigned epoch, uint64_t seq, unsigned generation) {
        sim_step_reset(m->slots[slot].sim);
        *t = (Tenant) { .active = true, .generation = generation, .join_epoch = epoch, .join_seq = seq };
}

/* Observes tenant t's current epoch (after epoch_times): its candidates and demand. */
static void tenant_observe(Multi *m, unsigned slot, Tenant *t) {
        Slot *s = &m->slots[slot];

        t->n_cand = sim_step_observe(s->sim, &s->decision, t->k, t->now, t->t_acc);
        t->now += t->t_acc;
        t->demand = sim_step_demand(s->sim, &s->decision, t->n_cand, t->t_acc);
}

/* Promotes `grant` pages (at most its demand) and closes the epoch. */
static void tenant_migrate(Multi *m, unsigned slot, Tenant *t, uint64_t promote) {
        Slot *s = &m->slots[slot];
        const SimParams *p = &m->p.sp;
        uint64_t moved;

        moved = sim_step_migrate(s->sim, &s->decision, t->n_cand, promote, t->now, t->t_acc, &t->res);
        t->now += moved * sim_page_move_time(p, t->u);
        t->moved_bytes = moved * p->page_size;
        t->runtime = t->now;
        t->demand_sum += t->demand;
        t->promoted_sum += promote;
        t->k++;
}

/* The alone baseline of a slot: its tenant with the link (and the whole budget) to itself. */
static int slot_alone(Multi *m, unsigned slot) {
        Slot *s = &m->slots[slot];
        size_t epochs = sim_epochs(s->sim);
        Tenant t, *tp = &t;

        s->alone_prefix = calloc(epochs + 1, sizeof(double));
        if (!s->alone_prefix)
                return -ENOMEM;
        tenant_start(m, slot, &t, 0, 0, 0);
        for (size_t e = 0; e < epochs; e++) {
                sim_step_counts(s->sim, t.k, &t.loc, &t.rem);
                epoch_times(&m->p, &tp, 1);
                tenant_observe(m, slot, &t);
                tenant_migrate(m, slot, &t, t.demand < m->p.link_pages ? t.demand : m->p.link_pages);
                s->alone_prefix[e + 1] = t.runtime;
        }
        return 0;
}

/* "best": the grid action with the shortest runtime alone (promotions unlimited), found by
 * simulating every grid action once, as --regret does: the thresholds a trained policy converges
 * to. */
static int multi_best_decision(Multi *m, unsigned slot) {
        _cleanup_(policy_freep) TierPolicy *pol = NULL;
        SimTrainOpts opts = { .regret = true };
        TierPolicyParams pp = m->p.pp;
        SimTraining tr;
        SimResult res;
        TierDecision *d = &m->slots[slot].decision;
        int r;

        pp.action = 0;
        r = policy_new("grid", &pp, &pol);
        if (r < 0)
                return r;
        r = sim_evaluate(m->slots[slot].sim, pol, &opts, &res, &tr);
        if (r < 0)
                return r;
        *d = (TierDecision) { .rule = TIER_RULE_THRESHOLDS, .action = (int) tr.best_action };
        return tier_grid_action(&pp.grid, tr.best_action, &d->rate_threshold, &d->burst_threshold);
}

static int multi_decision(Multi *m, unsigned slot) {
        _cleanup_(policy_freep) TierPolicy *pol = NULL;
        TierPolicyParams pp = m->p.pp;
        TierContext ctx;
        int r;

        if (strcmp(m->p.policy, "best") == 0)
                return multi_best_decision(m, slot);
        pp.seed = multi_slot_seed(m->p.seed, slot);
        r = policy_new(m->p.policy, &pp, &pol);
        if (r < 0)
                return r;
        if (policy_learns(pol) || policy_online(pol))
                return -EOPNOTSUPP;
        sim_context(m->slots[slot].sim, &ctx);
        return policy_greedy(pol, &ctx, &m->slots[slot].decision);
}

int multi_new(const MultiParams *p, Multi **ret) {
        _cleanup_(multi_freep) Multi *m = NULL;
        const char *field;
        int r;

        if (p->n_tenants == 0 || p->n_tenants > MULTI_MAX_TENANTS || p->link_pages == 0 || p->period == 0 ||
            p->period_phase >= (int) p->period || p->period_phase < -1 || sim_params_check(&p->sp, &field) < 0 ||
            !p->policy)
                return -EINVAL;
        for (unsigned i = 0; i < p->n_tenants; i++)
                if (p->priority[i] >= ALLOC_PRIORITIES || !p->workload[i])
                        return -EINVAL;
        m = calloc(1, sizeof(Multi));
        if (!m)
                return -ENOMEM;
        m->p = *p;
        for (unsigned i = 0; i < p->n_tenants; i++) {
                r = workload_generate(p->workload[i], &p->wp, multi_slot_seed(p->seed, i), &m->slots[i].trace);
                if (r < 0)
                        return r;
                r = sim_new(m->slots[i].trace, &p->sp, &m->slots[i].sim);
                if (r < 0)
                        return r;
                r = multi_decision(m, i);
                if (r < 0)
                        return r;
                r = slot_alone(m, i);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(m);
        return 0;
}

/* ---- the scheduler ---- */

typedef struct Sched {
        uint64_t demand[MULTI_MAX_TENANTS];
        uint64_t alloc_demand[MULTI_MAX_TENANTS];
        uint64_t grant[MULTI_MAX_TENANTS];
        uint64_t promoted[MULTI_MAX_TENANTS];
        uint64_t join_seq[MULTI_MAX_TENANTS];
        unsigned priority[MULTI_MAX_TENANTS];
        bool active[MULTI_MAX_TENANTS];
} Sched;

/* Grants for the active slots from their current demands, by strategy. */
static void sched_allocate(const MultiParams *mp, MultiStrategy strategy, Sched *sc) {
        AllocTenant at[MULTI_MAX_TENANTS];
        uint64_t out[MULTI_MAX_TENANTS];
        unsigned idx[MULTI_MAX_TENANTS], n = 0;
        AllocClasses classes;
        uint64_t left = mp->link_pages;

        for (unsigned i = 0; i < mp->n_tenants; i++) {
                sc->grant[i] = 0;
                sc->alloc_demand[i] = sc->active[i] ? sc->demand[i] : 0;
                if (sc->active[i])
                        idx[n++] = i;
        }
        switch (strategy) {
        case MULTI_ALLOC:
        case MULTI_EQUAL:
                /* Equal share is the allocator with every tenant in one class at one weight:
                 * max-min fair, capped by demand, work-conserving. Tenants are listed by slot. */
                alloc_classes_default(&classes);
                for (unsigned j = 0; j < n; j++)
                        at[j] = (AllocTenant) {
                                .demand = sc->demand[idx[j]],
                                .priority = strategy == MULTI_ALLOC ? sc->priority[idx[j]] : 0,
                        };
                (void) alloc_compute(mp->link_pages, at, n, &classes, out);
                for (unsigned j = 0; j < n; j++)
                        sc->grant[idx[j]] = out[j];
                break;
        case MULTI_FCFS:
                /* In order of joining: insertion sort of the few active slots by join_seq. */
                for (unsigned j = 1; j < n; j++)
                        for (unsigned k = j; k > 0 && sc->join_seq[idx[k]] < sc->join_seq[idx[k - 1]]; k--) {
                                unsigned tmp = idx[k];

                                idx[k] = idx[k - 1];
                                idx[k - 1] = tmp;
                        }
                for (unsigned j = 0; j < n; j++) {
                        uint64_t g = sc->demand[idx[j]] < left ? sc->demand[idx[j]] : left;

                        sc->grant[idx[j]] = g;
                        left -= g;
                }
                break;
        default:
                break;
        }
}

static int run_add_result(MultiRun *r, size_t *cap, const Multi *m, unsigned slot, const Tenant *t) {
        const Slot *s = &m->slots[slot];
        MultiTenantResult *res;

        if (t->k == 0)
                return 0; /* joined at the end: nothing ran */
        if (r->n_tenants == *cap) {
                size_t ncap = *cap ? *cap * 2 : 32;
                MultiTenantResult *n = realloc(r->tenants, ncap * sizeof(MultiTenantResult));

                if (!n)
                        return -ENOMEM;
                r->tenants = n;
                *cap = ncap;
        }
        res = &r->tenants[r->n_tenants++];
        *res = (MultiTenantResult) {
                .slot = slot,
                .priority = m->p.priority[slot],
                .generation = t->generation,
                .workload = m->p.workload[slot],
                .join_epoch = t->join_epoch,
                .epochs = t->k,
                .runtime_s = t->runtime,
                .alone_s = s->alone_prefix[t->k],
                .degradation = t->runtime / s->alone_prefix[t->k] - 1,
                .demand = t->demand_sum,
                .promoted = t->promoted_sum,
        };
        return 0;
}

static int cmp_join(const void *a, const void *b) {
        const MultiTenantResult *x = a, *y = b;

        if (x->join_epoch != y->join_epoch)
                return x->join_epoch < y->join_epoch ? -1 : 1;
        return x->slot < y->slot ? -1 : x->slot > y->slot;
}

static void run_summarise(MultiRun *r) {
        double rt[ALLOC_PRIORITIES] = {}, alone[ALLOC_PRIORITIES] = {};

        qsort(r->tenants, r->n_tenants, sizeof(MultiTenantResult), cmp_join);
        for (size_t i = 0; i < r->n_tenants; i++) {
                const MultiTenantResult *t = &r->tenants[i];

                rt[t->priority] += t->runtime_s;
                alone[t->priority] += t->alone_s;
                r->have_priority[t->priority] = true;
                r->total_runtime_s += t->runtime_s;
                r->total_alone_s += t->alone_s;
        }
        for (unsigned p = 0; p < ALLOC_PRIORITIES; p++)
                r->degradation[p] = r->have_priority[p] && alone[p] > 0 ? rt[p] / alone[p] - 1 : 0;
}

void multi_run_done(MultiRun *r) {
        free(r->tenants);
        r->tenants = NULL;
        r->n_tenants = 0;
}

int multi_run(Multi *m, MultiStrategy strategy, MultiMode mode, MultiObserver obs, void *userdata, MultiRun *ret) {
        const MultiParams *mp = &m->p;
        Tenant ten[MULTI_MAX_TENANTS] = {};
        Sched sc = {};
        MultiRun run = { .strategy = strategy, .mode = mode };
        size_t cap = 0, trace_epochs = 0;
        uint64_t seq = 0;
        unsigned horizon, next_churn_slot = 0;
        unsigned phase = mp->period_phase >= 0 ? (unsigned) mp->period_phase : mp->period / 2;
        int r;

        if (strategy < 0 || strategy >= _MULTI_STRATEGY_MAX || mode < 0 || mode >= _MULTI_MODE_MAX)
                return -EINVAL;
        for (unsigned i = 0; i < mp->n_tenants; i++)
                if (sim_epochs(m->slots[i].sim) > trace_epochs)
                        trace_epochs = sim_epochs(m->slots[i].sim);
        horizon = mp->horizon > 0 ? mp->horizon : (unsigned) trace_epochs;
        for (unsigned i = 0; i < mp->n_tenants; i++) {
                tenant_start(m, i, &ten[i], 0, seq++, 0);
                sc.priority[i] = mp->priority[i];
        }

        for (unsigned e = 0; e < horizon; e++) {
                Tenant *act[MULTI_MAX_TENANTS];
                unsigned idx[MULTI_MAX_TENANTS];
                size_t n = 0;
                bool changed = e == 0, realloc_now;
                uint64_t want = 0, used = 0;

                /* Leaves: a finished trace, then churn (a leave and a join in one slot). */
                for (unsigned i = 0; i < mp->n_tenants; i++)
                        if (ten[i].active && ten[i].k >= sim_epochs(m->slots[i].sim)) {
                                r = run_add_result(&run, &cap, m, i, &ten[i]);
                                if (r < 0)
                                        goto fail;
                                ten[i].active = false;
                                changed = true;
                        }
                if (mp->churn_every > 0 && e > 0 && e % mp->churn_every == 0) {
                        unsigned i = next_churn_slot;

                        next_churn_slot = (next_churn_slot + 1) % mp->n_tenants;
                        if (ten[i].active) {
                                r = run_add_result(&run, &cap, m, i, &ten[i]);
                                if (r < 0)
                                        goto fail;
                        }
                        tenant_start(m, i, &ten[i], e, seq++, ten[i].generation + 1);
                        /* The joiner has no grant until the scheduler runs. */
                        sc.grant[i] = sc.alloc_demand[i] = 0;
                        changed = true;
                }

                for (unsigned i = 0; i < mp->n_tenants; i++) {
                        sc.active[i] = ten[i].active;
                        sc.join_seq[i] = ten[i].join_seq;
                        sc.demand[i] = sc.promoted[i] = 0;
                        if (!ten[i].active) {
                                sc.grant[i] = 0; /* a leaver's grant is gone (unused until re-allocation) */
                                continue;
                        }
                        sim_step_counts(m->slots[i].sim, ten[i].k, &ten[i].loc, &ten[i].rem);
                        idx[n] = i;
                        act[n++] = &ten[i];
                }
                if (mp->shared_latency)
                        epoch_times(mp, act, n);
                else
                        for (size_t j = 0; j < n; j++)
                                epoch_times(mp, &act[j], 1);
                for (size_t j = 0; j < n; j++) {
                        tenant_observe(m, idx[j], act[j]);
                        sc.demand[idx[j]] = act[j]->demand;
                        want += act[j]->demand;
                        if (act[j]->demand != sc.alloc_demand[idx[j]])
                                changed = true;
                }

                if (mode == MULTI_EVENT)
                        realloc_now = changed;
                else
                        realloc_now = e == 0 || e % mp->period == phase;
                if (realloc_now) {
                        sched_allocate(mp, strategy, &sc);
                        run.reallocations++;
                }
                for (size_t j = 0; j < n; j++) {
                        unsigned i = idx[j];

                        sc.promoted[i] = sc.grant[i] < sc.demand[i] ? sc.grant[i] : sc.demand[i];
                        used += sc.promoted[i];
                        tenant_migrate(m, i, act[j], sc.promoted[i]);
                }
                run.promoted += used;
                want = want < mp->link_pages ? want : mp->link_pages;
                run.idle_pages += want - used;
                if (obs) {
                        MultiEpochView v = {
                                .epoch = e,
                                .n_slots = mp->n_tenants,
                                .capacity = mp->link_pages,
                                .reallocated = realloc_now,
                                .active = sc.active,
                                .priority = sc.priority,
                                .join_seq = sc.join_seq,
                                .demand = sc.demand,
                                .alloc_demand = sc.alloc_demand,
                                .grant = sc.grant,
                                .promoted = sc.promoted,
                        };

                        obs(&v, userdata);
                }
        }
        for (unsigned i = 0; i < mp->n_tenants; i++)
                if (ten[i].active) {
                        r = run_add_result(&run, &cap, m, i, &ten[i]);
                        if (r < 0)
                                goto fail;
                }
        run.epochs = horizon;
        run_summarise(&run);
        *ret = run;
        return 0;
fail:
        multi_run_done(&run);
        return r;
}
