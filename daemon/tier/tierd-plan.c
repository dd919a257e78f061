/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The pure decisions of tiering in the daemon: the appliers' write plans
 * (thresholds -> DAMON scheme files or NUMA-balancing knobs), feedback
 * validation, and the nearest-model choice for transfer. No I/O, no logging. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "jsonutil.h"
#include "string-table.h"
#include "tierd.h"

#define DAMON_AGE_MAX UINT32_MAX
#define DAMON_SZ_MAX INT64_MAX
/* DAMON reads quotas/bytes 0 as "no limit": a share is never allowed to round down to it. */
#define QUOTA_MIN_BYTES 4096
#define QUOTA_RESET_MS 1000

static const char *const tierd_backend_table[_TIERD_BACKEND_MAX] = {
        [TIERD_BACKEND_OFF] = "off",
        [TIERD_BACKEND_DAMON] = "damon",
        [TIERD_BACKEND_NUMAB] = "numa-balancing",
};
DEFINE_STRING_TABLE_TO_STRING(tierd_backend, TierdBackend, )

static const char *const tierd_metric_table[_TIERD_METRIC_MAX] = {
        [TIERD_METRIC_COMPLETION_TIME] = "completion_time_s",
        [TIERD_METRIC_REQUESTS_PER_S] = "requests_per_s",
};
DEFINE_STRING_TABLE_TO_STRING(tierd_metric, TierdMetric, )

int tierd_kind_from_class(const char *workload_class) {
        if (workload_class && strcmp(workload_class, "batch") == 0)
                return TIER_TENANT_BATCH;
        if (workload_class && strcmp(workload_class, "serving") == 0)
                return TIER_TENANT_SERVING;
        return -EINVAL;
}

bool tierd_policy_selectable(const char *name) {
        static const char *const selectable[] = { "indigo", "linucb", "heuristic", "static" };

        for (size_t i = 0; name && i < ELEMENTSOF(selectable); i++)
                if (strcmp(name, selectable[i]) == 0)
                        return true;
        return false;
}

/* ---- plans ---- */

void tierd_plan_done(TierdPlan *p) {
        if (!p)
                return;
        for (size_t i = 0; i < p->n; i++) {
                free(p->writes[i].name);
                free(p->writes[i].value);
        }
        free(p->writes);
        *p = (TierdPlan) {};
}

int tierd_plan_add(TierdPlan *p, bool if_changed, const char *name, const char *format, ...) {
        _cleanup_free_ char *n = strdup(name), *v = NULL;
        va_list ap;
        int k;

        if (!n)
                return -ENOMEM;
        va_start(ap, format);
        k = vasprintf(&v, format, ap);
        va_end(ap);
        if (k < 0) {
                v = NULL;
                return -ENOMEM;
        }
        if (p->n == p->allocated) {
                size_t m = p->allocated ? p->allocated * 2 : 32;
                TierdWrite *w = reallocarray(p->writes, m, sizeof *w);

                if (!w)
                        return -ENOMEM;
                p->writes = w;
                p->allocated = m;
        }
        p->writes[p->n++] = (TierdWrite) { .name = TAKE_PTR(n), .value = TAKE_PTR(v), .if_changed = if_changed };
        return 0;
}

unsigned tierd_damon_nr_accesses(double rate, double sample_s, double aggr_s) {
        double max = floor(aggr_s / sample_s + 0.5), expect;

        if (!(max >= 1))
                return 1;
        /* A page of rate r is seen accessed in a sampling interval with probability 1 - e^(-r s). */
        expect = max * (1.0 - exp(-fmax(rate, 0) * sample_s));
        if (!(expect >= 1))
                return 1;
        return (unsigned) fmin(ceil(expect - 1e-9), max);
}

static unsigned damon_age(double seconds, double aggr_s) {
        double n = ceil(seconds / aggr_s - 1e-9);

        if (!(n > 0))
                return 0;
        return n >= DAMON_AGE_MAX ? DAMON_AGE_MAX : (unsigned) n;
}

/* A scheme's name prefix: damon.K.scheme.S. */
#define SCHEME_KNOB(buf, in, s, field) \
        (snprintf(buf, sizeof buf, "damon.%u.scheme.%zu." field, (in)->kdamond, (s)), buf)

static int plan_pattern(TierdPlan *p, const TierdDamonInput *in, size_t s, unsigned nr_min, unsigned nr_max,
                        unsigned age_min) {
        char n[96];
        int r = 0;

        r = r < 0 ? r : tierd_plan_add(p, false, SCHEME_KNOB(n, in, s, "nr_accesses_min"), "%u", nr_min);
        r = r < 0 ? r : tierd_plan_add(p, false, SCHEME_KNOB(n, in, s, "nr_accesses_max"), "%u", nr_max);
        r = r < 0 ? r : tierd_plan_add(p, false, SCHEME_KNOB(n, in, s, "age_min"), "%u", age_min);
        r = r < 0 ? r : tierd_plan_add(p, false, SCHEME_KNOB(n, in, s, "age_max"), "%u", DAMON_AGE_MAX);
        r = r < 0 ? r : tierd_plan_add(p, false, SCHEME_KNOB(n, in, s, "sz_min"), "0");
        r = r < 0 ? r : tierd_plan_add(p, false, SCHEME_KNOB(n, in, s, "sz_max"), "%" PRId64, (int64_t) DAMON_SZ_MAX);
        return r;
}

/* Quota, memcg filter and target of a tenant scheme. */
static int plan_scope(TierdPlan *p, const TierdDamonInput *in, size_t s, const char *cgroup, int nid,
                      double quota_Bps) {
        double bytes = fmax(QUOTA_MIN_BYTES, floor(quota_Bps * QUOTA_RESET_MS / 1000.0));
        char n[96];
        int r = 0;

        r = r < 0 ? r : tierd_plan_add(p, false, SCHEME_KNOB(n, in, s, "target_nid"), "%d", nid);
        r = r < 0 ? r
                  : tierd_plan_add(p, false, SCHEME_KNOB(n, in, s, "quota_bytes"), "%" PRId64,
                                   bytes >= (double) INT64_MAX ? INT64_MAX : (int64_t) bytes);
        r = r < 0 ? r : tierd_plan_add(p, false, SCHEME_KNOB(n, in, s, "quota_reset_ms"), "%d", QUOTA_RESET_MS);
        r = r < 0 ? r : tierd_plan_add(p, false, SCHEME_KNOB(n, in, s, "nr_filters"), "1");
        r = r < 0 ? r : tierd_plan_add(p, false, SCHEME_KNOB(n, in, s, "filter_type"), "memcg");
        r = r < 0 ? r : tierd_plan_add(p, false, SCHEME_KNOB(n, in, s, "filter_memcg_path"), "%s", cgroup);
        /* Not matching: pages outside the tenant's cgroup are filtered out. */
        r = r < 0 ? r : tierd_plan_add(p, false, SCHEME_KNOB(n, in, s, "filter_matching"), "N");
        return r;
}

static int plan_kdamond(TierdPlan *p, const TierdDamonInput *in, size_t n_schemes) {
        unsigned k = in->kdamond;
        char n[64];
        int r = 0;

#define KD(field) (snprintf(n, sizeof n, "damon.%u." field, k), n)
        if (in->create)
                r = tierd_plan_add(p, false, "damon.nr_kdamonds", "%u", k + 1);
        r = r < 0 ? r : tierd_plan_add(p, false, KD("nr_contexts"), "1");
        r = r < 0 ? r : tierd_plan_add(p, false, KD("operations"), "paddr");
        r = r < 0 ? r : tierd_plan_add(p, false, KD("sample_us"), "%.0f", in->sample_s * 1e6);
        r = r < 0 ? r : tierd_plan_add(p, false, KD("aggr_us"), "%.0f", in->aggr_s * 1e6);
        r = r < 0 ? r : tierd_plan_add(p, false, KD("nr_targets"), "1");
        r = r < 0 ? r : tierd_plan_add(p, false, KD("nr_schemes"), "%zu", n_schemes);
#undef KD
        return r;
}

double tierd_promotion_demand(const TierDecision *d, bool can_promote, const TierdTenantMem *mem,
                              const TierdTelemetry *t, double budget_Bps, double stated_Bps) {
        double want = budget_Bps, reset_s = QUOTA_RESET_MS / 1000.0;

        if (!can_promote || d->rule != TIER_RULE_THRESHOLDS)
                return 0;
        if (stated_Bps > 0)
                want = stated_Bps;
        else if (t && t->n_regions > 0 && t->sample_s > 0 && t->aggr_s >= t->sample_s) {
                unsigned nr_min = tierd_damon_nr_accesses(d->rate_threshold, t->sample_s, t->aggr_s),
                         age_min = damon_age(d->burst_threshold, t->aggr_s);
                double hot = 0;

                for (size_t i = 0; i < t->n_regions; i++)
                        if (t->regions[i].nr_accesses >= nr_min && t->regions[i].age >= age_min &&
                            t->regions[i].end > t->regions[i].start)
                                hot += (double) (t->regions[i].end - t->regions[i].start);
                want = hot / reset_s;
        }
        if (mem && mem->valid)
                want = fmin(want, (double) mem->remote_bytes / reset_s);
        if (d->rate_limit_Bps > 0)
                want = fmin(want, d->rate_limit_Bps);
        return isfinite(want) && want > 0 ? want : 0;
}

static int plan_tenant(TierdPlan *p, const TierdDamonInput *in, const TierdApplyTenant *t, size_t s, unsigned nr_max) {
        /* No allocation yet: DAMON's smallest quota (0 would mean unlimited) until the scheduler's pass. */
        double share = t->quota_Bps > 0 ? t->quota_Bps : 0;
        const TierDecision *d = &t->decision;
        bool promote = d->rule == TIER_RULE_THRESHOLDS && in->local_nid >= 0;
        char n[96];
        int r;

        /* migrate_hot: a promotion threshold; "stat" keeps the scheme (and its place) but moves nothing. */
        r = tierd_plan_add(p, false, SCHEME_KNOB(n, in, s, "action"), promote ? "migrate_hot" : "stat");
        r = r < 0 ? r
                  : plan_pattern(p, in, s,
                                 promote ? tierd_damon_nr_accesses(d->rate_threshold, in->sample_s, in->aggr_s)
                                         : nr_max,
                                 nr_max, promote ? damon_age(d->burst_threshold, in->aggr_s) : 0);
        r = r < 0 ? r : plan_scope(p, in, s, t->cgroup, in->local_nid, share);
        if (r < 0)
                return r;
        /* migrate_cold: regions idle for demote_after_s go to the remote node. */
        s++;
        r = tierd_plan_add(p, false, SCHEME_KNOB(n, in, s, "action"), in->remote_nid >= 0 ? "migrate_cold" : "stat");
        r = r < 0 ? r : plan_pattern(p, in, s, 0, 0, damon_age(in->demote_after_s, in->aggr_s));
        r = r < 0 ? r : plan_scope(p, in, s, t->cgroup, in->remote_nid, share);
        return r;
}

/* A slot nobody holds: both schemes only count (their pattern and quota stay as they were: "stat"
 * moves nothing) and lose their cgroup filter (the last holder's cgroup may be gone, and DAMON
 * refuses a commit naming it). Four writes, so that a leave costs little. */
static int plan_free(TierdPlan *p, const TierdDamonInput *in, size_t s) {
        char n[96];
        int r = 0;

        for (size_t k = s; r >= 0 && k < s + 2; k++) {
                r = tierd_plan_add(p, false, SCHEME_KNOB(n, in, k, "action"), "stat");
                r = r < 0 ? r : tierd_plan_add(p, false, SCHEME_KNOB(n, in, k, "nr_filters"), "0");
        }
        return r;
}

int tierd_slots_assign(int64_t **slots, size_t *n_slots, const TierdApplyTenant *t, size_t n, size_t *ret) {
        int64_t *v = *slots;
        size_t used = 0, next = 0;

        /* A slot whose tenant left (or lost its cgroup) is free. */
        for (size_t k = 0; k < *n_slots; k++) {
                bool here = false;

                for (size_t i = 0; !here && i < n; i++)
                        here = t[i].cgroup && t[i].id == v[k];
                if (!here)
                        v[k] = 0;
        }
        for (size_t i = 0; i < n; i++) {
                size_t k = 0;

                ret[i] = SIZE_MAX;
                if (!t[i].cgroup)
                        continue;
                while (k < *n_slots && v[k] != t[i].id)
                        k++;
                if (k == *n_slots) { /* new: the lowest free slot, else one more */
                        while (next < *n_slots && v[next] != 0)
                                next++;
                        if (next == *n_slots) {
                                int64_t *w = reallocarray(v, *n_slots + 1, sizeof *w);

                                if (!w)
                                        return -ENOMEM;
                                *slots = v = w;
                                (*n_slots)++;
                        }
                        k = next;
                        v[k] = t[i].id;
                }
                ret[i] = k;
        }
        /* Trailing free slots go once at most half the slots are held: a new count makes the
         * kernel rebuild every scheme, so a tenant leaving and another joining at the top slot must
         * not shrink and grow the count each time. */
        for (size_t k = 0; k < *n_slots; k++)
                if (v[k] != 0)
                        used = k + 1;
        if (used * 2 <= *n_slots)
                *n_slots = used;
        return 0;
}

int tierd_plan_damon(const TierdDamonInput *in, TierdPlan *ret) {
        _cleanup_(tierd_plan_done) TierdPlan p = {};
        size_t n_scoped = 0, s = 1;
        unsigned nr_max;
        char n[96];
        int r;

        if (!(in->sample_s > 0) || !(in->aggr_s >= in->sample_s))
                return -EINVAL;
        nr_max = (unsigned) floor(in->aggr_s / in->sample_s + 0.5);
        for (size_t i = 0; i < in->n_tenants; i++)
                if (in->tenants[i].cgroup)
                        n_scoped++;
        r = plan_kdamond(&p, in, 1 + 2 * (in->slots ? in->n_slots : n_scoped));
        /* Scheme 0: every region, acted on by nothing; its tried regions are the snapshot. */
        r = r < 0 ? r : tierd_plan_add(&p, false, SCHEME_KNOB(n, in, (size_t) 0, "action"), "stat");
        r = r < 0 ? r : plan_pattern(&p, in, 0, 0, nr_max, 0);
        if (in->slots) {
                _cleanup_free_ const TierdApplyTenant **by_slot = calloc(in->n_slots ?: 1, sizeof *by_slot);

                if (!by_slot)
                        return -ENOMEM;
                for (size_t i = 0; i < in->n_tenants; i++)
                        if (in->tenants[i].cgroup && in->slots[i] < in->n_slots)
                                by_slot[in->slots[i]] = &in->tenants[i];
                for (size_t k = 0; r >= 0 && k < in->n_slots; k++, s += 2)
                        r = by_slot[k] ? plan_tenant(&p, in, by_slot[k], s, nr_max) : plan_free(&p, in, s);
        } else
                for (size_t i = 0; r >= 0 && i < in->n_tenants; i++) {
                        const TierdApplyTenant *t = &in->tenants[i];

                        if (!t->cgroup)
                                continue;
                        r = plan_tenant(&p, in, t, s, nr_max);
                        s += 2;
                }
        if (r >= 0)
                r = tierd_plan_add(&p, in->running, (snprintf(n, sizeof n, "damon.%u.state", in->kdamond), n),
                                   in->running ? "commit" : "on");
        if (r < 0)
                return r;
        *ret = p;
        p = (TierdPlan) {};
        return 0;
}

int tierd_plan_numab(const TierdNumabInput *in, TierdPlan *ret) {
        _cleanup_(tierd_plan_done) TierdPlan p = {};
        const TierDecision *d;
        double limit_Bps, ms;
        int r, mode = in->mode_original >= 0 ? in->mode_original : 0;

        if (in->n_tenants == 0) {
                *ret = (TierdPlan) {};
                return 0;
        }
        d = &in->tenants[0].decision;
        r = tierd_plan_add(&p, false, "kernel.numa_balancing", "%d", mode | 2);
        if (r >= 0 && d->rule == TIER_RULE_THRESHOLDS && d->rate_threshold > 0) {
                /* Hot: the hint fault comes within the expected gap between accesses, 1/rate. */
                ms = fmin(fmax(floor(1000.0 / d->rate_threshold + 0.5), 1), UINT32_MAX);
                r = tierd_plan_add(&p, false, "sched.numa_balancing.hot_threshold_ms", "%.0f", ms);
        }
        limit_Bps = d->rule == TIER_RULE_THRESHOLDS ? in->budget_Bps : 0;
        if (d->rate_limit_Bps > 0)
                limit_Bps = fmin(limit_Bps, d->rate_limit_Bps);
        if (r >= 0)
                /* The kernel counts MB as MiB (rate_limit << (20 - PAGE_SHIFT) pages). */
                r = tierd_plan_add(&p, false, "kernel.numa_balancing_promote_rate_limit_MBps", "%.0f",
                                   d->rule == TIER_RULE_THRESHOLDS
                                           ? fmin(fmax(floor(limit_Bps / 1048576.0), 1), INT32_MAX)
                                           : 0);
        if (r < 0)
                return r;
        *ret = p;
        p = (TierdPlan) {};
        return 0;
}

/* ---- feedback ---- */

/* Reads a positive finite number; 0 when absent; -EINVAL with code and message otherwise. */
static int feedback_metric(json_object *body, const char *key, double *ret, const char **ret_code, char *msg,
                           size_t size) {
        json_object *v;
        double d;

        if (!json_object_object_get_ex(body, key, &v))
                return 0;
        if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int)) {
                *ret_code = "wrong-type";
                snprintf(msg, size, "Field '%s' must be a number", key);
                return -EINVAL;
        }
        d = json_object_get_double(v);
        if (!isfinite(d) || d <= 0) {
                *ret_code = "invalid-value";
                snprintf(msg, size, "Field '%s' must be a finite number greater than 0", key);
                return -EINVAL;
        }
        *ret = d;
        return 1;
}

static int feedback_episode(json_object *body, int64_t *ret, const char **ret_code, char *msg, size_t size) {
        json_object *v;

        if (!json_object_object_get_ex(body, "episode", &v)) {
                *ret_code = "missing-field";
                snprintf(msg, size, "Missing required field 'episode'");
                return -EINVAL;
        }
        if (!json_object_is_type(v, json_type_int)) {
                *ret_code = "wrong-type";
                snprintf(msg, size, "Field 'episode' must be an integer");
                return -EINVAL;
        }
        errno = 0;
        *ret = json_object_get_int64(v);
        if (*ret < 1 || errno != 0) {
                *ret_code = "invalid-value";
                snprintf(msg, size, "Field 'episode' must be an integer from 1 to %" PRId64, INT64_MAX);
                return -EINVAL;
        }
        return 0;
}

int tierd_feedback_parse(json_object *body, TierTenantKind kind, TierdFeedback *ret, const char **ret_code, char *msg,
                         size_t msg_size) {
        TierdFeedback fb = {};
        double v[_TIERD_METRIC_MAX] = {};
        int have[_TIERD_METRIC_MAX], r;
        TierdMetric want = kind == TIER_TENANT_SERVING ? TIERD_METRIC_REQUESTS_PER_S : TIERD_METRIC_COMPLETION_TIME;

        json_object_object_foreach(body, key, val) {
                (void) val;
                if (strcmp(key, "episode") != 0 && strcmp(key, tierd_metric_table[0]) != 0 &&
                    strcmp(key, tierd_metric_table[1]) != 0) {
                        *ret_code = "unknown-field";
                        snprintf(msg, msg_size, "Unknown field '%.64s'", key);
                        return -EINVAL;
                }
        }
        r = feedback_episode(body, &fb.episode, ret_code, msg, msg_size);
        for (unsigned i = 0; r >= 0 && i < _TIERD_METRIC_MAX; i++)
                r = have[i] = feedback_metric(body, tierd_metric_table[i], &v[i], ret_code, msg, msg_size);
        if (r < 0)
                return r;
        if (have[0] + have[1] != 1) {
                *ret_code = have[0] + have[1] == 0 ? "missing-field" : "invalid-value";
                snprintf(msg, msg_size,
                         "Give exactly one of 'completion_time_s' (batch tenants) and 'requests_per_s' "
                         "(serving tenants)");
                return -EINVAL;
        }
        if (!have[want]) {
                *ret_code = "invalid-value";
                snprintf(msg, msg_size, "A %s tenant reports '%s'", kind == TIER_TENANT_SERVING ? "serving" : "batch",
                         tierd_metric_table[want]);
                return -EINVAL;
        }
        fb.metric = want;
        fb.value = v[want];
        *ret = fb;
        return 0;
}

/* ---- transfer ---- */

int tierd_model_nearest(const TierdModelCandidate *c, size_t n, const double features[static TIER_N_FEATURES]) {
        double best = INFINITY;
        int at = -ENOENT;

        for (size_t i = 0; i < n; i++) {
                double d = 0;

                for (unsigned f = 0; f < TIER_N_FEATURES; f++)
                        d += (c[i].features[f] - features[f]) * (c[i].features[f] - features[f]);
                if (d < best) {
                        best = d;
                        at = (int) i;
                }
        }
        return at;
}

int tierd_features_from_json(json_object *j, double ret[static TIER_N_FEATURES]) {
        double f[TIER_N_FEATURES];

        if (tier_json_doubles_parse(j, f, TIER_N_FEATURES) < 0)
                return -EINVAL;
        for (size_t i = 0; i < TIER_N_FEATURES; i++)
                if (!(f[i] >= 0 && f[i] <= 1))
                        return -EINVAL;
        memcpy(ret, f, sizeof f);
        return 0;
}

json_object *tierd_features_to_json(const double f[static TIER_N_FEATURES]) {
        return tier_json_doubles(f, TIER_N_FEATURES);
}

int tierd_model_check_bounds(json_object *model) {
        static const struct {
                const char *key;
                int64_t max;
        } bounds[] = { { "hidden", 256 }, { "batch", 4096 }, { "train_steps", 1024 }, { "replay", 1 << 20 } };
        json_object *params, *v;

        if (!json_object_object_get_ex(model, "params", &params) || !json_object_is_type(params, json_type_object))
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(bounds); i++)
                if (json_object_object_get_ex(params, bounds[i].key, &v) &&
                    (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) > bounds[i].max))
                        return -EINVAL;
        return 0;
}

int tierd_model_reseed(json_object *model, uint64_t seed) {
        json_object *params;
        char buf[21];
        TierRng rng;

        if (!json_object_is_type(model, json_type_object) || !json_object_object_get_ex(model, "params", &params) ||
            !json_object_is_type(params, json_type_object))
                return -EINVAL;
        snprintf(buf, sizeof buf, "%" PRIu64, seed);
        tier_rng_seed(&rng, seed);
        if (json_add(params, "seed", json_object_new_string(buf)) < 0 ||
            json_add(model, "rng", tier_rng_to_json(&rng)) < 0)
                return -ENOMEM;
        return 0;
}
