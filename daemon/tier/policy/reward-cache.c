/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reward cache keyed by (context bucket, action): open addressing with linear
 * probing, doubled when more than half full, running means per entry. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "reward-cache.h"

#define INITIAL_SLOTS 64

typedef struct CacheEntry {
        uint64_t bucket;
        unsigned action;
        bool used;
        uint32_t n;
        double mean;
} CacheEntry;

struct RewardCache {
        CacheEntry *slots;
        size_t n_slots; /* power of two */
        size_t n_used;
        unsigned min_samples;
        uint64_t hits, misses;
};

int reward_cache_new(unsigned min_samples, RewardCache **ret) {
        _cleanup_(reward_cache_freep) RewardCache *c = NULL;

        if (min_samples < 1)
                return -EINVAL;
        c = calloc(1, sizeof(RewardCache));
        if (!c)
                return -ENOMEM;
        c->slots = calloc(INITIAL_SLOTS, sizeof(CacheEntry));
        if (!c->slots)
                return -ENOMEM;
        c->n_slots = INITIAL_SLOTS;
        c->min_samples = min_samples;
        *ret = TAKE_PTR(c);
        return 0;
}

void reward_cache_free(RewardCache *c) {
        if (!c)
                return;
        free(c->slots);
        free(c);
}

static size_t slot_hash(uint64_t bucket, unsigned action) {
        uint64_t h = bucket * UINT64_C(0x9e3779b97f4a7c15) ^ ((uint64_t) action + 1) * UINT64_C(0xc2b2ae3d27d4eb4f);

        return (size_t) (h ^ (h >> 29));
}

/* The entry for the key, or the empty slot where it would go. */
static CacheEntry *slot_find(CacheEntry *slots, size_t n_slots, uint64_t bucket, unsigned action) {
        size_t i = slot_hash(bucket, action) & (n_slots - 1);

        for (;;) {
                CacheEntry *e = &slots[i];

                if (!e->used || (e->bucket == bucket && e->action == action))
                        return e;
                i = (i + 1) & (n_slots - 1);
        }
}

static int cache_grow(RewardCache *c) {
        size_t n = c->n_slots * 2;
        CacheEntry *slots = calloc(n, sizeof(CacheEntry));

        if (!slots)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_slots; i++)
                if (c->slots[i].used)
                        *slot_find(slots, n, c->slots[i].bucket, c->slots[i].action) = c->slots[i];
        free(c->slots);
        c->slots = slots;
        c->n_slots = n;
        return 0;
}

int reward_cache_lookup(RewardCache *c, uint64_t bucket, unsigned action, double *ret_reward) {
        CacheEntry *e = slot_find(c->slots, c->n_slots, bucket, action);

        if (!e->used || e->n < c->min_samples) {
                c->misses++;
                return 0;
        }
        c->hits++;
        *ret_reward = e->mean;
        return 1;
}

int reward_cache_store(RewardCache *c, uint64_t bucket, unsigned action, double reward) {
        CacheEntry *e;

        if (!isfinite(reward))
                return -EINVAL;
        if ((c->n_used + 1) * 2 > c->n_slots) {
                int r = cache_grow(c);

                if (r < 0)
                        return r;
        }
        e = slot_find(c->slots, c->n_slots, bucket, action);
        if (!e->used) {
                *e = (CacheEntry) { .bucket = bucket, .action = action, .used = true };
                c->n_used++;
        }
        e->n++;
        e->mean += (reward - e->mean) / e->n;
        return 0;
}

void reward_cache_stats(const RewardCache *c, size_t *ret_entries, uint64_t *ret_hits, uint64_t *ret_misses) {
        if (ret_entries)
                *ret_entries = c->n_used;
        if (ret_hits)
                *ret_hits = c->hits;
        if (ret_misses)
                *ret_misses = c->misses;
}

double reward_cache_hit_rate(const RewardCache *c) {
        uint64_t n = c->hits + c->misses;

        return n == 0 ? 0 : (double) c->hits / (double) n;
}

int reward_cache_serve(RewardCache *c, TierPolicy *p, const TierContext *ctx, unsigned levels, TierDecision *ret) {
        TierDecision d;
        double reward;
        int r;

        r = policy_choose(p, ctx, &d);
        if (r < 0)
                return r;
        *ret = d;
        if (d.action < 0)
                return 0;
        if (reward_cache_lookup(c, tier_context_bucket(ctx, levels), (unsigned) d.action, &reward) == 0)
                return 0;
        r = policy_update(p, ctx, (unsigned) d.action, reward);
        if (r < 0)
                return r;
        return 1;
}
