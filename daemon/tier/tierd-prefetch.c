/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Anchor prefetching in the daemon: the anchors every tenant's committed grid episodes measured
 * (kept in the store, loaded at start, rebuilt from episodes for a database from before them), a
 * joining tenant's first decision from the nearest one, and the share of decisions they served
 * (status and metrics).
 * The pure parts (nearest anchor, folding a measurement) are tierd-anchor.c. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "jsonutil.h"
#include "log.h"
#include "metrics.h"
#include "store-tier.h"
#include "tier-internal.h"
#include "tierd.h"
#include "time-util.h"

static const char *kind_class(TierTenantKind k) {
        return k == TIER_TENANT_SERVING ? "serving" : "batch";
}

/* The row of anchor entry a, in the transaction the caller holds. Returns 0 or -errno. */
int tierd_prefetch_store(Tierd *m, const TierdAnchor *a) {
        _cleanup_(json_object_putp) json_object *fj = tierd_features_to_json(a->features);
        StoreTierAnchor row = {
                .workload_class = (char *) kind_class(a->kind),
                .bucket = (int64_t) a->bucket,
                .action = a->action,
                .rate_threshold = a->rate_threshold,
                .burst_threshold = a->burst_threshold,
                .reward = a->reward,
                .samples = a->samples,
                .tenant_id = a->tenant_id,
                .updated_usec = a->updated_usec,
        };

        if (!fj)
                return -ENOMEM;
        row.features = (char *) json_object_to_json_string_ext(fj, JSON_C_TO_STRING_PLAIN);
        return store_tier_anchor_put(m->store, &row);
}

/* The anchors every earlier tenant measured, from the store. Never fails: without them tenants
 * start as they would without anchors. */
void tierd_prefetch_load(Tierd *m) {
        TierdState *t = m->tierd;
        StoreTierAnchor *v = NULL;
        size_t n = 0;

        if (store_tier_anchor_list(m->store, &v, &n) < 0) {
                log_warning("Failed to load the tiering anchors, tenants join without them.");
                return;
        }
        for (size_t i = 0; i < n; i++) {
                _cleanup_(json_object_putp) json_object *fj = json_tokener_parse(v[i].features);
                int kind = tierd_kind_from_class(v[i].workload_class);
                TierdAnchor a = {
                        .kind = kind < 0 ? TIER_TENANT_BATCH : (TierTenantKind) kind,
                        .bucket = (uint64_t) v[i].bucket,
                        .action = (unsigned) v[i].action,
                        .rate_threshold = v[i].rate_threshold,
                        .burst_threshold = v[i].burst_threshold,
                        .reward = v[i].reward,
                        .samples = v[i].samples,
                        .tenant_id = v[i].tenant_id,
                        .updated_usec = v[i].updated_usec,
                };

                if (kind < 0 || tierd_features_from_json(fj, a.features) < 0)
                        continue;
                if (tierd_anchor_put(&t->anchors, &a) == -ENOSPC)
                        t->anchors_dropped++;
        }
        store_tier_anchors_free(v, n);
        log_debug("Loaded %zu tiering anchor entries.", t->anchors.n);
}

/* The entry tt's committed episode updates: its (bucket, action) with the reward folded in.
 * Returns 1 and *ret, 0 when the episode measured no grid action or no entry can be added (the
 * set is full: counted), or -EINVAL. */
int tierd_prefetch_measured(Tierd *m, const TierdTenant *tt, double reward, TierdAnchor *ret) {
        TierdState *t = m->tierd;
        uint64_t bucket = tier_context_bucket(&tt->context, TIERD_BUCKET_LEVELS);
        TierdAnchor sample = {
                .kind = tt->kind,
                .bucket = bucket,
                .action = (unsigned) tt->decision.action,
                .rate_threshold = tt->decision.rate_threshold,
                .burst_threshold = tt->decision.burst_threshold,
                .reward = reward,
                .samples = 1,
                .tenant_id = tt->id,
                .updated_usec = (int64_t) now_usec(CLOCK_REALTIME),
        };
        int i;

        if (tt->decision.rule != TIER_RULE_THRESHOLDS || tt->decision.action < 0)
                return 0;
        tier_context_features(&tt->context, sample.features);
        i = tierd_anchor_find(&t->anchors, tt->kind, bucket, sample.action);
        if (i < 0 && t->anchors.n >= TIERD_ANCHORS_MAX) {
                t->anchors_dropped++;
                return 0;
        }
        *ret = i >= 0 ? t->anchors.v[i] : (TierdAnchor) {};
        return tierd_anchor_fold(ret, &sample) < 0 ? -EINVAL : 1;
}

/* Folds tenant t's committed grid episodes into the anchors (in memory). */
static void anchors_from_episodes(TierdState *t, const Tenant *tenant, const StoreTierEpisode *e, size_t n) {
        int kind = tierd_kind_from_class(tenant->workload_class);

        for (size_t i = 0; kind >= 0 && i < n; i++) {
                _cleanup_(json_object_putp) json_object *j = json_tokener_parse(e[i].context);
                TierdAnchor a = {}, sample = {
                        .kind = (TierTenantKind) kind,
                        .action = (unsigned) e[i].action,
                        .rate_threshold = e[i].rate_threshold,
                        .burst_threshold = e[i].burst_threshold,
                        .reward = e[i].reward,
                        .samples = 1,
                        .tenant_id = tenant->id,
                        .updated_usec = e[i].committed_usec,
                };
                TierContext c;
                int k;

                if (e[i].action < 0 || strcmp(e[i].rule, "thresholds") != 0 || !isfinite(e[i].reward) ||
                    !isfinite(e[i].rate_threshold) || !isfinite(e[i].burst_threshold) ||
                    tierd_context_from_json(j, &c) < 0)
                        continue;
                sample.bucket = tier_context_bucket(&c, TIERD_BUCKET_LEVELS);
                tier_context_features(&c, sample.features);
                k = tierd_anchor_find(&t->anchors, sample.kind, sample.bucket, sample.action);
                if (k >= 0)
                        a = t->anchors.v[k];
                if (tierd_anchor_fold(&a, &sample) < 0)
                        continue;
                if (tierd_anchor_put(&t->anchors, &a) == -ENOSPC)
                        t->anchors_dropped++;
        }
}

/* With no anchors stored (a database from before schema v6), the episodes the tenants there
 * committed are folded in once and stored, so what they measured serves at once. Never fails. */
void tierd_prefetch_backfill(Tierd *m) {
        TierdState *t = m->tierd;
        Tenant *ts = NULL;
        size_t n = 0;
        int r = 0;

        if (t->anchors.n > 0 || store_tenant_list(m->store, -1, &ts, &n) < 0)
                return;
        for (size_t i = 0; i < n; i++) {
                StoreTierEpisode *e = NULL;
                size_t ne = 0;

                if (store_tier_episode_list(m->store, ts[i].id, true, 0, &e, &ne) >= 0)
                        anchors_from_episodes(t, &ts[i], e, ne);
                store_tier_episodes_free(e, ne);
        }
        tenant_list_free(ts, n);
        if (t->anchors.n == 0)
                return;
        r = store_tier_begin(m->store);
        for (size_t i = 0; r >= 0 && i < t->anchors.n; i++)
                r = tierd_prefetch_store(m, &t->anchors.v[i]);
        if (r >= 0)
                r = store_tier_commit(m->store);
        if (r < 0) {
                store_tier_rollback(m->store);
                log_warning_errno(r,
                                  "Failed to store the tiering anchors rebuilt from episodes, using them anyway: %m");
                return;
        }
        log_info("Rebuilt %zu tiering anchor entries from the episodes in the store.", t->anchors.n);
}

/* Whether grid action a of an anchor is the same thresholds in p's grid (an imported model may
 * have another grid). */
static bool anchor_fits(const TierPolicy *p, const TierdAnchor *a) {
        double rate, burst;

        return tier_grid_action(&policy_params(p)->grid, a->action, &rate, &burst) >= 0 && rate == a->rate_threshold &&
               burst == a->burst_threshold;
}

/* A joining tenant's first decision from the nearest anchor within [tiering] anchor_distance_milli:
 * a context bucket's best measured action or, when nearer, the model its learning policy was
 * transferred from (at model_distance), whose greedy decision it takes. Returns 1 when an anchor
 * decided (tt->anchor says which and how far), 0 when none is near (the policy decides), or -errno. */
int tierd_prefetch_decide(Tierd *m, TierdTenant *tt, const TierContext *ctx, double model_distance) {
        double max = m->config->tiering_anchor_distance_milli / 1000.0, d = INFINITY, f[TIER_N_FEATURES];
        _cleanup_free_ char *why = NULL;
        TierDecision dec;
        int i, r;

        if (m->config->tiering_anchor_distance_milli == 0)
                return 0;
        tier_context_features(ctx, f);
        i = tierd_anchor_nearest(&m->tierd->anchors, tt->kind, f, max, &d);
        if (tt->transferred_from > 0 && model_distance <= max && (i < 0 || model_distance <= d)) {
                r = policy_greedy(tt->policy, ctx, &dec);
                if (r < 0)
                        return r;
                r = asprintf(&why, "nearest anchor: model %" PRId64 " (trained in contexts at distance %.3f)",
                             tt->transferred_from, model_distance);
        } else if (i >= 0 && anchor_fits(tt->policy, &m->tierd->anchors.v[i])) {
                const TierdAnchor *a = &m->tierd->anchors.v[i];

                dec = (TierDecision) {
                        .rule = TIER_RULE_THRESHOLDS,
                        .action = (int) a->action,
                        .rate_threshold = a->rate_threshold,
                        .burst_threshold = a->burst_threshold,
                };
                r = asprintf(&why,
                             "nearest anchor: %s context bucket %#" PRIx64 " at distance %.3f, its best action %u "
                             "(mean reward %.3f over %" PRId64 " episodes, last measured by tenant %" PRId64 ")",
                             kind_class(a->kind), a->bucket, d, a->action, a->reward, a->samples, a->tenant_id);
        } else
                return 0;
        if (r < 0) {
                why = NULL;
                return -ENOMEM;
        }
        tt->decision = dec;
        tt->context = *ctx;
        tt->decision_cache_hits = 0;
        tt->decided_usec = (int64_t) now_usec(CLOCK_REALTIME);
        free(tt->anchor);
        tt->anchor = TAKE_PTR(why);
        return 1;
}

/* One more episode decided (from an anchor or not), for the host-wide share. */
void tierd_decision_count(Tierd *m, const TierdTenant *tt) {
        m->tierd->decisions++;
        if (tt->anchor)
                m->tierd->anchor_decisions++;
}


/* Anchors host-wide: entries and buckets held, measurements not kept, and the episodes decided since
 * start with the share of them served from an anchor. NULL on OOM. */
json_object *tierd_anchors_to_json(TierdState *t) {
        json_object *o = json_object_new_object();
        uint64_t decisions = t ? t->decisions : 0, served = t ? t->anchor_decisions : 0;
        size_t buckets = 0;

        for (size_t i = 0; t && i < t->anchors.n; i++) {
                bool seen = false;

                for (size_t k = 0; k < i && !seen; k++)
                        seen = t->anchors.v[k].kind == t->anchors.v[i].kind &&
                               t->anchors.v[k].bucket == t->anchors.v[i].bucket;
                buckets += !seen;
        }
        if (!o || json_add_int(o, "entries", t ? (int64_t) t->anchors.n : 0, true) < 0 ||
            json_add_int(o, "buckets", (int64_t) buckets, true) < 0 ||
            json_add_int(o, "dropped", t ? (int64_t) t->anchors_dropped : 0, true) < 0 ||
            json_add_int(o, "decisions", (int64_t) decisions, true) < 0 ||
            json_add_int(o, "served", (int64_t) served, true) < 0 ||
            json_add(o, "share", tierd_json_number(decisions ? (double) served / (double) decisions : 0)) < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

void tierd_metrics_write(void *userdata, FILE *f) {
        Tierd *m = userdata;
        TierdState *t = m ? m->tierd : NULL;

        metrics_u64(f, "maiod_tier_decisions_total", "counter",
                    "Tiering episodes decided (enrolment, feedback, policy change) since start.", t ? t->decisions : 0);
        metrics_u64(f, "maiod_tier_anchor_decisions_total", "counter",
                    "Tiering episodes whose thresholds came from the nearest anchor since start.",
                    t ? t->anchor_decisions : 0);
        metrics_u64(f, "maiod_tier_anchors", "gauge", "Tiering anchor entries held (context bucket, grid action).",
                    t ? t->anchors.n : 0);
        metrics_u64(f, "maiod_tier_anchors_dropped_total", "counter",
                    "Measured rewards not kept as anchors because the anchor table was full.",
                    t ? t->anchors_dropped : 0);
}
