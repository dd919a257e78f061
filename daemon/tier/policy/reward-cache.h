/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reward cache: the mean normalised reward seen for each (context bucket,
 * grid action), so a decision whose reward is already known is fed back from
 * the cache instead of costing an exploratory episode (the grid actions are
 * the "anchors" of the design). Counts hits and misses. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cleanup.h"
#include "policy.h"

typedef struct RewardCache RewardCache;

/* min_samples (>= 1): episodes an entry needs before it serves hits. Returns 0, -EINVAL or
 * -ENOMEM. */
int reward_cache_new(unsigned min_samples, RewardCache **ret);
void reward_cache_free(RewardCache *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(RewardCache *, reward_cache_free);

/* Returns 1 and the cached mean reward, or 0 when (bucket, action) has fewer than min_samples
 * rewards. Counts a hit or a miss. */
int reward_cache_lookup(RewardCache *c, uint64_t bucket, unsigned action, double *ret_reward);
/* Adds a measured reward to the entry's mean. Returns 0, -EINVAL (not finite) or -ENOMEM. */
int reward_cache_store(RewardCache *c, uint64_t bucket, unsigned action, double reward);
/* Entries held, hits and misses so far. */
void reward_cache_stats(const RewardCache *c, size_t *ret_entries, uint64_t *ret_hits, uint64_t *ret_misses);
/* hits / (hits + misses), 0 before any lookup. */
double reward_cache_hit_rate(const RewardCache *c);

/* One decision with the cache in front of a learning policy: chooses for ctx; when the chosen
 * grid action's reward is cached, feeds that reward to the policy and returns 1 (no episode is
 * needed); otherwise returns 0 and the decision, whose episode the caller runs, then reports
 * with reward_cache_store() and policy_update(). Decisions outside the grid return 0 without
 * a lookup. Returns -errno from the policy on failure. */
int reward_cache_serve(RewardCache *c, TierPolicy *p, const TierContext *ctx, unsigned levels, TierDecision *ret);
