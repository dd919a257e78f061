/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The policies that do not learn: `heuristic` (INDIGO's network-adaptive rule),
 * `static` (TPP-like fixed thresholds), `ewma` (HeMem/MEMTIS-like cooled
 * counters), `none` (never promote) and `grid` (one fixed grid action). */
#include <errno.h>
#include <math.h>

#include "policy-internal.h"

/* ---- heuristic ----
 * Promoting page p (demoting d) gains (access_p - access_d) x Δlatency seconds per second and
 * costs one page transfer, page_size / bandwidth. It pays off within horizon H when
 *     (access_p - access_d) x bandwidth x Δlatency > page_size / H,
 * i.e. when access_p exceeds access_d + page_size / (H x bandwidth x Δlatency). The threshold
 * rises as the link gets busier (less bandwidth) and falls as remote memory gets slower. */

static int heuristic_init(TierPolicy *p) {
        if (!isfinite(p->params.horizon_s) || p->params.horizon_s <= 0)
                return -EINVAL;
        return 0;
}

static int heuristic_choose(TierPolicy *p, const TierContext *ctx, bool greedy, TierDecision *ret) {
        double gain = ctx->link_bw_Bps * ctx->delta_lat_s * p->params.horizon_s;
        double page = ctx->page_size > 0 ? ctx->page_size : 4096;

        if (!(gain > 0) || !isfinite(gain)) {
                /* No bandwidth or no latency to win back: nothing can pay off. */
                *ret = (TierDecision) { .rule = TIER_RULE_NEVER, .action = -1 };
                return 0;
        }
        *ret = (TierDecision) {
                .rule = TIER_RULE_THRESHOLDS,
                .action = -1,
                .rate_threshold = fmax(ctx->demote_rate, 0) + page / gain,
                .burst_threshold = 0,
        };
        return 0;
}

const PolicyOps policy_heuristic_ops = {
        .name = "heuristic",
        .size = sizeof(TierPolicy),
        .online = true,
        .init = heuristic_init,
        .choose = heuristic_choose,
};

/* ---- static: TPP-like ---- */

static int static_init(TierPolicy *p) {
        if (!isfinite(p->params.static_rate) || p->params.static_rate <= 0 || !isfinite(p->params.static_burst) ||
            p->params.static_burst < 0)
                return -EINVAL;
        return 0;
}

static int static_choose(TierPolicy *p, const TierContext *ctx, bool greedy, TierDecision *ret) {
        *ret = (TierDecision) {
                .rule = TIER_RULE_THRESHOLDS,
                .action = -1,
                .rate_threshold = p->params.static_rate,
                .burst_threshold = p->params.static_burst,
        };
        return 0;
}

const PolicyOps policy_static_ops = {
        .name = "static",
        .size = sizeof(TierPolicy),
        .init = static_init,
        .choose = static_choose,
};

/* ---- ewma: HeMem/MEMTIS-like ---- */

static int ewma_init(TierPolicy *p) {
        if (!isfinite(p->params.ewma_hot) || p->params.ewma_hot <= 0 || !isfinite(p->params.ewma_cool) ||
            p->params.ewma_cool < p->params.ewma_hot)
                return -EINVAL;
        return 0;
}

static int ewma_choose(TierPolicy *p, const TierContext *ctx, bool greedy, TierDecision *ret) {
        *ret = (TierDecision) {
                .rule = TIER_RULE_COUNTER,
                .action = -1,
                .hot_samples = p->params.ewma_hot,
                .cool_samples = p->params.ewma_cool,
        };
        return 0;
}

const PolicyOps policy_ewma_ops = {
        .name = "ewma",
        .size = sizeof(TierPolicy),
        .init = ewma_init,
        .choose = ewma_choose,
};

/* ---- none ---- */

static int none_choose(TierPolicy *p, const TierContext *ctx, bool greedy, TierDecision *ret) {
        *ret = (TierDecision) { .rule = TIER_RULE_NEVER, .action = -1 };
        return 0;
}

const PolicyOps policy_none_ops = {
        .name = "none",
        .size = sizeof(TierPolicy),
        .choose = none_choose,
};

/* ---- grid: one fixed action ---- */

static int grid_init(TierPolicy *p) {
        if (p->params.action >= tier_grid_size(&p->params.grid))
                return -EINVAL;
        return 0;
}

static int grid_choose(TierPolicy *p, const TierContext *ctx, bool greedy, TierDecision *ret) {
        policy_decision_from_action(p, p->params.action, false, ret);
        return 0;
}

const PolicyOps policy_grid_ops = {
        .name = "grid",
        .size = sizeof(TierPolicy),
        .init = grid_init,
        .choose = grid_choose,
};
