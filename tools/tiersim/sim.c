/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Two-tier memory simulation. Per epoch: the trace's accesses are served from
 * where their pages are (remote latency grows with link utilisation, which
 * other hosts' contention and our own traffic make up); remote pages that
 * fault feed the page telemetry; the decision picks hot pages, which are
 * promoted at the end of the epoch, demoting the LRU local page when local
 * memory is full. Every page move costs, per INDIGO's cost model, the page
 * transfer page_size / (available bandwidth x Δlatency) plus a bookkeeping
 * constant, in units of Δlatency. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reward-cache.h"
#include "sim.h"

#define LRU_NONE UINT32_MAX
#define UTIL_MAX 0.95
#define BUCKET_LEVELS 8
#define SIM_MEMO_SETTINGS 4
#define GRID_ACTIONS (TIER_GRID_MAX * TIER_GRID_MAX)

/* True runtimes of grid actions in one setting (contention and grid): an episode under a grid
 * action is deterministic there, so it is simulated once. runtime 0 = not yet simulated. */
typedef struct SimMemo {
        double contention;
        TierGrid grid;
        double runtime[GRID_ACTIONS];
} SimMemo;

typedef struct SimPage {
        PageEstimator est;
        TelemetryCounter ctr;
        double mark;         /* remote pages: when the scanner last marked it */
        double last_access;  /* time of its last access */
        uint32_t prev, next; /* LRU list of local pages, most recent first */
        bool local;
} SimPage;

struct Sim {
        const Trace *trace;
        SimParams p;
        size_t capacity;
        SimPage *pages;
        uint32_t *cand;
        uint32_t lru_head, lru_tail;
        size_t n_local;
        TelemetryCoolClock clock;
        double all_local;
        double first_traffic; /* own link utilisation of the first epoch, all remote */
        SimMemo memo[SIM_MEMO_SETTINGS];
        unsigned n_memo, memo_next;
};

void sim_params_default(SimParams *p) {
        *p = (SimParams) {
                .local_fraction = 0.1,
                .contention = 0,
                .local_lat_s = 100e-9,
                .remote_lat_s = 400e-9,
                .link_bw_Bps = 4e9,
                .page_size = 4096,
                .line_size = 64,
                .accesses_per_sample = 32,
                .cpu_per_access_s = 20e-9,
                .mlp = 4,
                .bookkeeping = 10,
                .telemetry = { TELEMETRY_DEFAULT_DELTA_RATE, TELEMETRY_DEFAULT_DELTA_MARK_S },
        };
}

int sim_params_check(const SimParams *p, const char **ret_field) {
        static const struct {
                const char *name;
                size_t offset;
                double min, max;
        } ranges[] = {
                { "local-fraction", offsetof(SimParams, local_fraction), 0, 1 },
                { "contention", offsetof(SimParams, contention), 0, 0.9 },
                { "local latency", offsetof(SimParams, local_lat_s), 1e-12, 1 },
                { "remote latency", offsetof(SimParams, remote_lat_s), 1e-12, 1 },
                { "link bandwidth", offsetof(SimParams, link_bw_Bps), 1, 1e15 },
                { "page size", offsetof(SimParams, page_size), 1, 1 << 30 },
                { "line size", offsetof(SimParams, line_size), 1, 1 << 30 },
                { "accesses per sample", offsetof(SimParams, accesses_per_sample), 1e-6, 1e9 },
                { "cpu per access", offsetof(SimParams, cpu_per_access_s), 0, 1 },
                { "memory-level parallelism", offsetof(SimParams, mlp), 1, 1024 },
                { "bookkeeping", offsetof(SimParams, bookkeeping), 0, 1e9 },
        };

        for (size_t i = 0; i < ELEMENTSOF(ranges); i++) {
                double v = *(const double *) ((const char *) p + ranges[i].offset);

                if (!(v >= ranges[i].min && v <= ranges[i].max)) {
                        *ret_field = ranges[i].name;
                        return -EINVAL;
                }
        }
        if (p->remote_lat_s < p->local_lat_s) {
                *ret_field = "remote latency (below local)";
                return -EINVAL;
        }
        if (!(p->telemetry.delta_rate >= 0) || !(p->telemetry.delta_mark_s >= 0) ||
            !isfinite(p->telemetry.delta_mark_s)) {
                *ret_field = "delta";
                return -EINVAL;
        }
        return 0;
}

static double remote_latency(const SimParams *p, double u) {
        /* Only the link part of the remote latency queues: M/M/1-like growth 1/(1-u). */
        return p->local_lat_s + (p->remote_lat_s - p->local_lat_s) / (1.0 - u);
}

double sim_access_time_at(const SimParams *p, double local_acc, double remote_acc, double u) {
        return ((local_acc + remote_acc) * p->cpu_per_access_s + local_acc * p->local_lat_s +
                remote_acc * remote_latency(p, u)) /
               p->mlp;
}

/* Time to serve an epoch's accesses, and the link utilisation (others + ours) meanwhile: a
 * damped fixed point, since remote latency depends on utilisation and utilisation on time.
 * background_bytes is other traffic of ours on the link during the epoch (the page moves
 * decided at the end of the previous epoch). */
static double epoch_access_time(const SimParams *p, double local_acc, double remote_acc, double background_bytes,
                                double *ret_u) {
        double u = p->contention, t = 0;

        for (unsigned i = 0; i < 50; i++) {
                double own, nu;

                t = sim_access_time_at(p, local_acc, remote_acc, u);
                own = t > 0 ? (remote_acc * p->line_size + background_bytes) / (t * p->link_bw_Bps) : 0;
                nu = fmin(UTIL_MAX, p->contention + own);
                if (fabs(nu - u) < 1e-9)
                        break;
                u = 0.5 * (u + nu);
        }
        *ret_u = u;
        return t;
}

/* Cost of moving one page while the link runs at utilisation u. */
static double page_move_time(const SimParams *p, double u) {
        double delta = p->remote_lat_s - p->local_lat_s;
        double bw = p->link_bw_Bps * fmax(1.0 - u, 1.0 - UTIL_MAX);

        if (delta <= 0) /* no Δlatency: express the cost in seconds directly */
                return p->page_size / bw;
        return (p->page_size / (bw * delta) + p->bookkeeping) * delta;
}

static void sim_compute_baselines(Sim *s) {
        const Trace *t = s->trace;
        const SimParams *p = &s->p;

        s->all_local = 0;
        for (size_t e = 0; e < t->n_epochs; e++) {
                double acc = 0;

                for (size_t i = t->epoch_start[e]; i < t->epoch_start[e + 1]; i++)
                        acc += t->count[i];
                acc *= p->accesses_per_sample;
                s->all_local += acc * (p->cpu_per_access_s + p->local_lat_s) / p->mlp;
        }
        /* The first non-empty epoch, all remote, gives the traffic feature of the context. */
        s->first_traffic = 0;
        for (size_t e = 0; e < t->n_epochs; e++) {
                double acc = 0, u;

                for (size_t i = t->epoch_start[e]; i < t->epoch_start[e + 1]; i++)
                        acc += t->count[i];
                if (acc == 0)
                        continue;
                (void) epoch_access_time(p, 0, acc * p->accesses_per_sample, 0, &u);
                s->first_traffic = u - p->contention;
                break;
        }
}

int sim_new(const Trace *t, const SimParams *p, Sim **ret) {
        _cleanup_(sim_freep) Sim *s = NULL;
        const char *field;
        size_t widest = 0;

        if (sim_params_check(p, &field) < 0 || t->n_pages == 0)
                return -EINVAL;
        s = calloc(1, sizeof(Sim));
        if (!s)
                return -ENOMEM;
        s->trace = t;
        s->p = *p;
        s->capacity = (size_t) floor(p->local_fraction * (double) t->n_pages + 1e-9);
        for (size_t e = 0; e < t->n_epochs; e++)
                if (t->epoch_start[e + 1] - t->epoch_start[e] > widest)
                        widest = t->epoch_start[e + 1] - t->epoch_start[e];
        s->pages = calloc(t->n_pages, sizeof(SimPage));
        s->cand = calloc(widest + 1, sizeof(uint32_t));
        if (!s->pages || !s->cand)
                return -ENOMEM;
        sim_compute_baselines(s);
        *ret = TAKE_PTR(s);
        return 0;
}

void sim_free(Sim *s) {
        if (!s)
                return;
        free(s->pages);
        free(s->cand);
        free(s);
}

double sim_all_local(const Sim *s) {
        return s->all_local;
}

size_t sim_local_capacity(const Sim *s) {
        return s->capacity;
}

void sim_context(const Sim *s, TierContext *ret) {
        const SimParams *p = &s->p;

        *ret = (TierContext) {
                .local_alloc = p->local_fraction,
                .local_usage = 0,  /* no other tenant on the simulated local node */
                .remote_usage = 1, /* the pool holds the whole footprint at the start */
                .traffic = s->first_traffic,
                .contention = p->contention,
                .link_bw_Bps = p->link_bw_Bps * (1.0 - p->contention),
                .delta_lat_s = remote_latency(p, p->contention) - p->local_lat_s,
                .demote_rate = 0,
                .page_size = p->page_size,
        };
}

/* ---- LRU of local pages ---- */

static void lru_unlink(Sim *s, uint32_t id) {
        SimPage *pg = &s->pages[id];

        if (pg->prev != LRU_NONE)
                s->pages[pg->prev].next = pg->next;
        else
                s->lru_head = pg->next;
        if (pg->next != LRU_NONE)
                s->pages[pg->next].prev = pg->prev;
        else
                s->lru_tail = pg->prev;
        pg->prev = pg->next = LRU_NONE;
}

static void lru_push(Sim *s, uint32_t id) {
        SimPage *pg = &s->pages[id];

        pg->prev = LRU_NONE;
        pg->next = s->lru_head;
        if (s->lru_head != LRU_NONE)
                s->pages[s->lru_head].prev = id;
        else
                s->lru_tail = id;
        s->lru_head = id;
}

static void sim_reset(Sim *s) {
        for (size_t i = 0; i < s->trace->n_pages; i++)
                s->pages[i] = (SimPage) { .prev = LRU_NONE, .next = LRU_NONE };
        s->lru_head = s->lru_tail = LRU_NONE;
        s->n_local = 0;
        s->clock = (TelemetryCoolClock) {};
}

/* ---- one epoch ---- */

static bool page_hot(Sim *s, const TierDecision *d, SimPage *pg) {
        switch (d->rule) {
        case TIER_RULE_THRESHOLDS:
                return pg->est.n_burst > 0 && pg->est.rate >= d->rate_threshold &&
                       telemetry_burst_duration(&pg->est) >= d->burst_threshold;
        case TIER_RULE_COUNTER:
                return telemetry_counter_value(&s->clock, &pg->ctr) >= d->hot_samples;
        default:
                return false;
        }
}

/* Serves the accesses of entries [from, to) in the epoch starting at now and lasting t_acc:
 * local pages move up the LRU, remote pages are timed and judged. Returns the candidates. */
static size_t epoch_observe(Sim *s, const TierDecision *d, size_t from, size_t to, double now, double t_acc) {
        const Trace *t = s->trace;
        size_t n = 0;

        for (size_t i = from; i < to; i++) {
                uint32_t id = t->page[i];
                SimPage *pg = &s->pages[id];
                double c = t->count[i];

                /* Samples spread evenly over the epoch: the first at t_acc/(c+1). */
                pg->last_access = now + t_acc * c / (c + 1);
                if (d->rule == TIER_RULE_COUNTER)
                        (void) telemetry_counter_add(&s->clock, &pg->ctr, c, d->cool_samples);
                if (pg->local) {
                        lru_unlink(s, id);
                        lru_push(s, id);
                        continue;
                }
                /* A hint fault: the first access since the page was marked. */
                (void) telemetry_observe(&pg->est, &s->p.telemetry, pg->mark, now + t_acc / (c + 1));
                pg->mark = now + t_acc; /* the scanner marks it again at the end of the epoch */
                if (page_hot(s, d, pg))
                        s->cand[n++] = id;
        }
        return n;
}

/* Promotes the candidates (demoting LRU pages for room) at time now. Returns pages moved. */
static uint64_t epoch_migrate(Sim *s, const TierDecision *d, size_t n_cand, double now, double t_acc, SimResult *res) {
        uint64_t moved = 0;
        double limit = n_cand;

        if (d->rate_limit_Bps > 0)
                limit = fmin(limit, floor(d->rate_limit_Bps * t_acc / s->p.page_size));
        /* More promotions than local capacity in one epoch would only evict each other. */
        limit = fmin(limit, (double) s->capacity);
        for (size_t i = 0; i < (size_t) limit; i++) {
                uint32_t id = s->cand[i];
                SimPage *pg = &s->pages[id];

                if (s->n_local >= s->capacity) {
                        uint32_t victim = s->lru_tail;

                        lru_unlink(s, victim);
                        s->pages[victim].local = false;
                        s->pages[victim].mark = now;
                        telemetry_reset(&s->pages[victim].est);
                        s->n_local--;
                        res->demotions++;
                        moved++;
                }
                pg->local = true;
                lru_push(s, id);
                s->n_local++;
                res->promotions++;
                moved++;
        }
        return moved;
}

/* The live context an online policy sees at the start of an epoch at utilisation u. */
static void sim_live_context(const Sim *s, double now, double u, TierContext *ret) {
        sim_context(s, ret);
        ret->traffic = u - s->p.contention;
        ret->link_bw_Bps = s->p.link_bw_Bps * fmax(1.0 - u, 1.0 - UTIL_MAX);
        ret->delta_lat_s = remote_latency(&s->p, u) - s->p.local_lat_s;
        ret->local_usage = s->capacity ? (double) s->n_local / (double) s->capacity : 1;
        if (s->capacity > 0 && s->n_local >= s->capacity) {
                double idle = now - s->pages[s->lru_tail].last_access;

                ret->demote_rate = idle > 0 ? 1.0 / idle : INFINITY;
        }
}

int sim_episode(Sim *s, TierPolicy *p, const TierDecision *d0, SimResult *ret) {
        const Trace *t = s->trace;
        const SimParams *sp = &s->p;
        TierDecision d = *d0;
        SimResult res = {};
        double now = 0, moved_bytes = 0;
        int r;

        sim_reset(s);
        for (size_t e = 0; e < t->n_epochs; e++) {
                size_t from = t->epoch_start[e], to = t->epoch_start[e + 1], n_cand;
                uint64_t loc = 0, rem = 0, moved;
                double u, t_acc;

                for (size_t i = from; i < to; i++)
                        *(s->pages[t->page[i]].local ? &loc : &rem) += t->count[i];
                res.local_samples += loc;
                res.remote_samples += rem;
                t_acc = epoch_access_time(sp, loc * sp->accesses_per_sample, rem * sp->accesses_per_sample, moved_bytes,
                                          &u);
                res.traffic_bytes += (uint64_t) llround(rem * sp->accesses_per_sample * sp->line_size);

                if (p && policy_online(p)) {
                        TierContext ctx;

                        sim_live_context(s, now, u, &ctx);
                        r = policy_choose(p, &ctx, &d);
                        if (r < 0)
                                return r;
                }
                n_cand = epoch_observe(s, &d, from, to, now, t_acc);
                now += t_acc;
                moved = epoch_migrate(s, &d, n_cand, now, t_acc, &res);
                now += moved * page_move_time(sp, u);
                moved_bytes = moved * sp->page_size;
                res.traffic_bytes += (uint64_t) moved_bytes;
        }
        res.runtime_s = now;
        *ret = res;
        return 0;
}

int sim_set_contention(Sim *s, double contention) {
        if (!(contention >= 0 && contention <= 0.9))
                return -EINVAL;
        s->p.contention = contention;
        sim_compute_baselines(s);
        return 0;
}

static SimMemo *sim_memo(Sim *s, const TierGrid *g) {
        SimMemo *m;

        for (unsigned i = 0; i < s->n_memo; i++)
                if (s->memo[i].contention == s->p.contention && memcmp(&s->memo[i].grid, g, sizeof *g) == 0)
                        return &s->memo[i];
        /* Settings beyond the table replace the oldest: only costs re-simulation. */
        if (s->n_memo < SIM_MEMO_SETTINGS)
                m = &s->memo[s->n_memo++];
        else {
                m = &s->memo[s->memo_next];
                s->memo_next = (s->memo_next + 1) % SIM_MEMO_SETTINGS;
        }
        *m = (SimMemo) { .contention = s->p.contention, .grid = *g };
        return m;
}

/* True runtime of grid action a in the current setting. Returns 0 or -errno. */
static int sim_action_runtime(Sim *s, const TierGrid *g, unsigned a, double *ret) {
        SimMemo *m = sim_memo(s, g);
        TierDecision d = { .rule = TIER_RULE_THRESHOLDS, .action = (int) a };
        SimResult res;
        int r;

        if (a >= tier_grid_size(g))
                return -ERANGE;
        if (m->runtime[a] <= 0) {
                (void) tier_grid_action(g, a, &d.rate_threshold, &d.burst_threshold);
                r = sim_episode(s, NULL, &d, &res);
                if (r < 0)
                        return r;
                m->runtime[a] = res.runtime_s;
        }
        *ret = m->runtime[a];
        return 0;
}

/* The best grid action in the current setting (all of them simulated once). */
static int sim_best_action(Sim *s, const TierGrid *g, unsigned *ret_action, double *ret_runtime) {
        double best = INFINITY;
        unsigned best_a = 0;

        for (unsigned a = 0; a < tier_grid_size(g); a++) {
                double rt;
                int r = sim_action_runtime(s, g, a, &rt);

                if (r < 0)
                        return r;
                if (rt < best) {
                        best = rt;
                        best_a = a;
                }
        }
        *ret_action = best_a;
        *ret_runtime = best;
        return 0;
}

/* True runtime of a decision: from the memo for a grid action, else simulated. */
static int sim_decision_runtime(Sim *s, TierPolicy *p, const TierDecision *d, double *ret) {
        SimResult res;
        int r;

        if (d->action >= 0 && d->rule == TIER_RULE_THRESHOLDS && !policy_online(p))
                return sim_action_runtime(s, &policy_params(p)->grid, (unsigned) d->action, ret);
        r = sim_episode(s, p, d, &res);
        if (r < 0)
                return r;
        *ret = res.runtime_s;
        return 0;
}

/* Regret of the policy's greedy decision now, in the current setting. */
static int sim_greedy_regret(Sim *s, TierPolicy *p, double best, double *ret) {
        TierContext ctx;
        TierDecision d;
        double rt;
        int r;

        sim_context(s, &ctx);
        r = policy_greedy(p, &ctx, &d);
        if (r < 0)
                return r;
        r = sim_decision_runtime(s, p, &d, &rt);
        if (r < 0)
                return r;
        *ret = rt / best - 1;
        return 0;
}

/* One episode's decision: the reward cache answers up to SIM_CACHE_SERVES_MAX in a row (each
 * fed to the policy); the decision after a miss, or the last hit, runs. */
static int sim_decide(RewardCache *cache, TierPolicy *p, const TierContext *ctx, SimTraining *tr, TierDecision *ret) {
        int r = 1;

        for (unsigned i = 0; i < SIM_CACHE_SERVES_MAX && r > 0; i++) {
                r = reward_cache_serve(cache, p, ctx, BUCKET_LEVELS, ret);
                if (r < 0)
                        return r;
                if (r > 0)
                        tr->cache_served++;
        }
        return 0;
}

typedef struct TrainState {
        TierRng noise;
        TierRewardNorm norm;
        TierContext ctx;
        double best; /* best true runtime in the current setting (regret only) */
        double regret_sum;
} TrainState;

/* Starts (or, at the shift, restarts) the setting: its context and, for regret, its best. */
static int train_setting(Sim *s, TierPolicy *p, const SimTrainOpts *o, TrainState *st) {
        unsigned a;

        sim_context(s, &st->ctx);
        if (!o->regret)
                return 0;
        return sim_best_action(s, &policy_params(p)->grid, &a, &st->best);
}

/* One run: decide, run (the true runtime from the memo), report it with noise, learn. */
static int train_episode(Sim *s, TierPolicy *p, RewardCache *cache, const SimTrainOpts *o, TrainState *st,
                         SimTraining *tr) {
        TierDecision d;
        double rt, reported, reward;
        int r;

        r = sim_decide(cache, p, &st->ctx, tr, &d);
        if (r < 0)
                return r;
        tr->episodes++;
        if (d.action < 0) /* not a grid action: nothing to learn from (learning policies never do this) */
                return 0;
        r = sim_decision_runtime(s, p, &d, &rt);
        if (r < 0)
                return r;
        reported = rt * (1.0 + o->noise * (2.0 * tier_rng_uniform(&st->noise) - 1.0));
        r = tier_reward(&st->norm, TIER_TENANT_BATCH, reported, &reward);
        if (r < 0)
                return r;
        r = reward_cache_store(cache, tier_context_bucket(&st->ctx, BUCKET_LEVELS), (unsigned) d.action, reward);
        if (r < 0)
                return r;
        r = policy_update(p, &st->ctx, (unsigned) d.action, reward);
        if (r < 0)
                return r;
        tr->best_reward = fmax(tr->best_reward, reward);
        if (o->regret)
                st->regret_sum += rt / st->best - 1;
        return 0;
}

static int sim_train(Sim *s, TierPolicy *p, const SimTrainOpts *o, SimTraining *tr) {
        _cleanup_(reward_cache_freep) RewardCache *cache = NULL;
        TrainState st = {};
        int r;

        if (!(o->noise >= 0 && o->noise < 1))
                return -EINVAL;
        /* A stream of its own, so noise does not change the policy's random choices. */
        tier_rng_seed(&st.noise, o->seed ^ UINT64_C(0x6e6f697365));
        r = reward_cache_new(1, &cache);
        if (r < 0)
                return r;
        r = train_setting(s, p, o, &st);
        if (r < 0)
                return r;
        tr->best_reward = -INFINITY;
        for (unsigned ep = 0; ep < o->episodes; ep++) {
                if (o->shift_episode > 0 && ep == o->shift_episode) {
                        r = sim_set_contention(s, o->shift_contention);
                        if (r < 0)
                                return r;
                        r = train_setting(s, p, o, &st);
                        if (r < 0)
                                return r;
                }
                r = train_episode(s, p, cache, o, &st, tr);
                if (r < 0)
                        return r;
                if (o->regret && o->checkpoint == ep + 1) {
                        r = sim_greedy_regret(s, p, st.best, &tr->checkpoint_regret);
                        if (r < 0)
                                return r;
                        tr->checkpoint_cumulative_regret = st.regret_sum / (ep + 1);
                }
        }
        if (o->regret && o->episodes > 0)
                tr->cumulative_regret = st.regret_sum / o->episodes;
        tr->cache_hit_rate = reward_cache_hit_rate(cache);
        return 0;
}

static int sim_evaluate_in(Sim *s, TierPolicy *p, const SimTrainOpts *opts, SimResult *ret, SimTraining *ret_training) {
        SimTraining tr = {};
        TierContext ctx;
        int r;

        if (policy_learns(p)) {
                r = sim_train(s, p, opts, &tr);
                if (r < 0)
                        return r;
        } else if (opts->shift_episode > 0 && opts->shift_episode < opts->episodes) {
                /* A fixed policy has nothing to train: it is simply judged in the final setting. */
                r = sim_set_contention(s, opts->shift_contention);
                if (r < 0)
                        return r;
        }
        sim_context(s, &ctx);
        r = policy_greedy(p, &ctx, &tr.final);
        if (r < 0)
                return r;
        r = sim_episode(s, p, &tr.final, ret);
        if (r < 0)
                return r;
        if (!policy_learns(p))
                tr.episodes = 1;
        if (opts->regret) {
                r = sim_best_action(s, &policy_params(p)->grid, &tr.best_action, &tr.best_runtime_s);
                if (r < 0)
                        return r;
                tr.have_regret = true;
                tr.regret = ret->runtime_s / tr.best_runtime_s - 1;
                if (!policy_learns(p))
                        tr.cumulative_regret = tr.regret;
        }
        if (ret_training)
                *ret_training = tr;
        return 0;
}

int sim_evaluate(Sim *s, TierPolicy *p, const SimTrainOpts *opts, SimResult *ret, SimTraining *ret_training) {
        double contention = s->p.contention;
        int r = sim_evaluate_in(s, p, opts, ret, ret_training);

        /* The Sim is left in its starting setting, ready for the next evaluation. */
        if (s->p.contention != contention)
                (void) sim_set_contention(s, contention);
        return r;
}

/* ---- stepping, for the multi-tenant mode (multi.c) ---- */

void sim_step_reset(Sim *s) {
        sim_reset(s);
}

size_t sim_epochs(const Sim *s) {
        return s->trace->n_epochs;
}

void sim_step_counts(const Sim *s, size_t e, uint64_t *ret_local, uint64_t *ret_remote) {
        const Trace *t = s->trace;
        uint64_t loc = 0, rem = 0;

        for (size_t i = t->epoch_start[e]; i < t->epoch_start[e + 1]; i++)
                *(s->pages[t->page[i]].local ? &loc : &rem) += t->count[i];
        *ret_local = loc;
        *ret_remote = rem;
}

size_t sim_step_observe(Sim *s, const TierDecision *d, size_t e, double now, double t_acc) {
        return epoch_observe(s, d, s->trace->epoch_start[e], s->trace->epoch_start[e + 1], now, t_acc);
}

uint64_t sim_step_demand(const Sim *s, const TierDecision *d, size_t n_cand, double t_acc) {
        double limit = n_cand;

        /* The same caps as epoch_migrate's. */
        if (d->rate_limit_Bps > 0)
                limit = fmin(limit, floor(d->rate_limit_Bps * t_acc / s->p.page_size));
        limit = fmin(limit, (double) s->capacity);
        return (uint64_t) limit;
}

uint64_t sim_step_migrate(Sim *s, const TierDecision *d, size_t n_cand, uint64_t grant, double now, double t_acc,
                          SimResult *res) {
        return epoch_migrate(s, d, grant < n_cand ? (size_t) grant : n_cand, now, t_acc, res);
}

double sim_page_move_time(const SimParams *p, double u) {
        return page_move_time(p, u);
}

double sim_util_max(void) {
        return UTIL_MAX;
}
