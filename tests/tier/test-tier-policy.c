/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the tiering policies: grid, context, reward normalisation,
 * the fixed rules, LinUCB and indigo on synthetic bandits with known best
 * arms, the reward cache, JSON model round trips and seeded determinism. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tier-test.h"

#include "policy.h"
#include "reward-cache.h"

static void test_grid(void **state) {
        TierGrid g;
        double rate, burst;

        tier_grid_default(&g);
        assert_int_equal(tier_grid_size(&g), 36);
        assert_double_equal(g.rate[0], 1, 1e-12);
        assert_double_equal(g.rate[5], 1000, 1e-9);
        assert_double_equal(g.rate[1], pow(10, 0.6), 1e-9);
        assert_double_equal(g.burst[0], 0, 0);
        assert_double_equal(g.burst[1], 0.01, 1e-12);
        assert_double_equal(g.burst[5], 1, 1e-12);
        assert_int_equal(tier_grid_action(&g, 13, &rate, &burst), 0);
        assert_double_equal(rate, g.rate[2], 0);
        assert_double_equal(burst, g.burst[1], 0);
        assert_int_equal(tier_grid_action(&g, 36, &rate, &burst), -ERANGE);

        assert_int_equal(tier_grid_init(&g, 0, 6, 1, 10, 0.1, 1), -EINVAL);
        assert_int_equal(tier_grid_init(&g, 17, 6, 1, 10, 0.1, 1), -EINVAL);
        assert_int_equal(tier_grid_init(&g, 3, 3, 0, 10, 0.1, 1), -EINVAL);
        assert_int_equal(tier_grid_init(&g, 3, 3, 10, 1, 0.1, 1), -EINVAL);
        assert_int_equal(tier_grid_init(&g, 3, 3, 1, 100, 0.1, NAN), -EINVAL);
        assert_int_equal(tier_grid_init(&g, 3, 2, 1, 100, 0.1, 1), 0);
        assert_double_equal(g.rate[1], 10, 1e-9);
        assert_double_equal(g.burst[1], 0.1, 1e-12); /* one non-zero burst: the minimum */
}

static void test_context(void **state) {
        TierContext a = { .local_alloc = 0.1, .local_usage = 2, .remote_usage = -1, .traffic = NAN, .contention = 0.5 };
        TierContext b = a;
        double f[TIER_N_FEATURES];

        tier_context_features(&a, f);
        assert_double_equal(f[0], 0.1, 0);
        assert_double_equal(f[1], 1, 0);
        assert_double_equal(f[2], 0, 0);
        assert_double_equal(f[3], 0, 0);
        assert_double_equal(f[4], 0.5, 0);
        b.contention = 0.52; /* same bucket of 8 (0.5 .. 0.625) */
        assert_true(tier_context_bucket(&a, 8) == tier_context_bucket(&b, 8));
        b.contention = 0.7;
        assert_true(tier_context_bucket(&a, 8) != tier_context_bucket(&b, 8));
        b.contention = 1.0; /* the top edge belongs to the top bucket */
        assert_int_equal(tier_context_bucket(&b, 8) & 0xf, 7);
}

static void test_reward(void **state) {
        TierRewardNorm batch = {}, serving = {};
        double r = 42;

        assert_int_equal(tier_reward(&batch, TIER_TENANT_BATCH, 10, &r), 0);
        assert_double_equal(r, 0, 1e-12);
        assert_int_equal(tier_reward(&batch, TIER_TENANT_BATCH, 5, &r), 0);
        assert_double_equal(r, 0.5, 1e-12);
        assert_int_equal(tier_reward(&batch, TIER_TENANT_BATCH, 20, &r), 0);
        assert_double_equal(r, -1, 1e-12);
        assert_int_equal(tier_reward(&serving, TIER_TENANT_SERVING, 100, &r), 0);
        assert_double_equal(r, 0, 1e-12);
        assert_int_equal(tier_reward(&serving, TIER_TENANT_SERVING, 200, &r), 0);
        assert_double_equal(r, 0.5, 1e-12);
        r = 42;
        assert_int_equal(tier_reward(&batch, TIER_TENANT_BATCH, 0, &r), -EINVAL);
        assert_int_equal(tier_reward(&batch, TIER_TENANT_BATCH, -3, &r), -EINVAL);
        assert_int_equal(tier_reward(&batch, TIER_TENANT_BATCH, NAN, &r), -EINVAL);
        assert_int_equal(tier_reward(&batch, TIER_TENANT_BATCH, INFINITY, &r), -EINVAL);
        assert_int_equal(tier_reward(&batch, _TIER_TENANT_KIND_MAX, 1, &r), -EINVAL);
        assert_double_equal(r, 42, 0);
        assert_double_equal(batch.ref_cost, 10, 0); /* bad feedback never moves the reference */
}

static TierPolicy *make(const char *name, TierPolicyParams *pp) {
        TierPolicy *p = NULL;

        assert_int_equal(policy_new(name, pp, &p), 0);
        assert_non_null(p);
        assert_string_equal(policy_name(p), name);
        return p;
}

static void test_registry(void **state) {
        TierPolicyParams pp;
        TierPolicy *p = NULL;
        const char *const *names = policy_names();
        size_t n = 0;

        policy_params_default(&pp);
        for (; names[n]; n++) {
                p = make(names[n], &pp);
                policy_free(p);
        }
        assert_int_equal(n, 7);
        assert_int_equal(policy_new("tpp", &pp, &p), -ENOENT);
        assert_int_equal(policy_new(NULL, &pp, &p), -ENOENT);
        pp.action = 36;
        assert_int_equal(policy_new("grid", &pp, &p), -EINVAL);
        policy_params_default(&pp);
        pp.epsilon = 1.5;
        assert_int_equal(policy_new("indigo", &pp, &p), -EINVAL);
        policy_params_default(&pp);
        pp.alpha = -1;
        assert_int_equal(policy_new("linucb", &pp, &p), -EINVAL);
        policy_params_default(&pp);
        pp.ewma_cool = 4; /* below the hot threshold */
        assert_int_equal(policy_new("ewma", &pp, &p), -EINVAL);
        policy_params_default(&pp);
        pp.horizon_s = 0;
        assert_int_equal(policy_new("heuristic", &pp, &p), -EINVAL);
}

static void test_fixed_rules(void **state) {
        _cleanup_(policy_freep) TierPolicy *st = NULL, *ew = NULL, *no = NULL, *gr = NULL;
        TierContext ctx = { .contention = 0.5 };
        TierPolicyParams pp;
        TierDecision d;

        policy_params_default(&pp);
        st = make("static", &pp);
        assert_int_equal(policy_choose(st, &ctx, &d), 0);
        assert_int_equal(d.rule, TIER_RULE_THRESHOLDS);
        assert_double_equal(d.rate_threshold, 1.0, 0); /* TPP: 1000 ms hot threshold */
        assert_double_equal(d.burst_threshold, 0, 0);
        assert_double_equal(d.rate_limit_Bps, 0, 0);
        assert_int_equal(d.action, -1);
        assert_false(policy_learns(st));
        assert_int_equal(policy_update(st, &ctx, 3, 1.0), 0); /* ignored */
        assert_int_equal(policy_update(st, &ctx, 36, 1.0), -ERANGE);

        ew = make("ewma", &pp);
        assert_int_equal(policy_choose(ew, &ctx, &d), 0);
        assert_int_equal(d.rule, TIER_RULE_COUNTER);
        assert_double_equal(d.hot_samples, 8, 0);
        assert_double_equal(d.cool_samples, 18, 0);

        no = make("none", &pp);
        assert_int_equal(policy_choose(no, &ctx, &d), 0);
        assert_int_equal(d.rule, TIER_RULE_NEVER);

        pp.action = 14;
        gr = make("grid", &pp);
        assert_int_equal(policy_choose(gr, &ctx, &d), 0);
        assert_int_equal(d.action, 14);
        assert_double_equal(d.rate_threshold, pp.grid.rate[2], 0);
        assert_double_equal(d.burst_threshold, pp.grid.burst[2], 0);
}

static void test_heuristic(void **state) {
        _cleanup_(policy_freep) TierPolicy *h = NULL;
        TierContext ctx = { .link_bw_Bps = 2e9, .delta_lat_s = 300e-9, .demote_rate = 10, .page_size = 4096 };
        TierPolicyParams pp;
        TierDecision d, busier;

        policy_params_default(&pp);
        pp.horizon_s = 0.05;
        h = make("heuristic", &pp);
        assert_true(policy_online(h));
        /* (access_p - 10) * 2e9 * 300e-9 > 4096 / 0.05  <=>  access_p > 10 + 136.53 */
        assert_int_equal(policy_choose(h, &ctx, &d), 0);
        assert_int_equal(d.rule, TIER_RULE_THRESHOLDS);
        assert_double_equal(d.rate_threshold, 10 + 4096 / (2e9 * 300e-9 * 0.05), 1e-9);
        assert_double_equal(d.burst_threshold, 0, 0);

        ctx.link_bw_Bps = 1e9; /* contention halves the bandwidth: the bar doubles */
        assert_int_equal(policy_choose(h, &ctx, &busier), 0);
        assert_double_equal(busier.rate_threshold - 10, 2 * (d.rate_threshold - 10), 1e-9);
        ctx.delta_lat_s = 600e-9; /* remote twice as slow: back to the first bar */
        assert_int_equal(policy_choose(h, &ctx, &busier), 0);
        assert_double_equal(busier.rate_threshold, d.rate_threshold, 1e-9);

        ctx.link_bw_Bps = 0;
        assert_int_equal(policy_choose(h, &ctx, &d), 0);
        assert_int_equal(d.rule, TIER_RULE_NEVER);
}

/* Synthetic contextual bandit over the 36 grid actions: mean reward depends on the action and,
 * linearly, on contention, plus Gaussian noise from its own RNG. */
static double synthetic_reward(unsigned a, double contention, TierRng *noise) {
        double mean;

        if (a == 5)
                mean = 0.5 - 0.6 * contention;
        else if (a == 30)
                mean = 0.6 * contention;
        else
                mean = -0.2 - 0.01 * a;
        return mean + 0.05 * tier_rng_normal(noise);
}

static void run_bandit(TierPolicy *p, unsigned rounds, TierRng *noise) {
        for (unsigned i = 0; i < rounds; i++) {
                TierContext ctx = { .local_alloc = 0.3, .contention = (i % 2) ? 1.0 : 0.0 };
                TierDecision d;

                assert_int_equal(policy_choose(p, &ctx, &d), 0);
                if (d.action < 0 && !policy_learns(p))
                        continue; /* a rule, not a grid action: nothing to feed back */
                assert_in_range(d.action, 0, 35);
                assert_int_equal(policy_update(p, &ctx, (unsigned) d.action,
                                               synthetic_reward((unsigned) d.action, ctx.contention, noise)),
                                 0);
        }
}

static void check_learned(TierPolicy *p) {
        TierContext calm = { .local_alloc = 0.3, .contention = 0 }, busy = { .local_alloc = 0.3, .contention = 1 };
        TierDecision d;

        assert_int_equal(policy_greedy(p, &calm, &d), 0);
        assert_int_equal(d.action, 5);
        assert_false(d.explored);
        assert_int_equal(policy_greedy(p, &busy, &d), 0);
        assert_int_equal(d.action, 30);
}

static void test_linucb_converges(void **state) {
        _cleanup_(policy_freep) TierPolicy *p = NULL;
        TierPolicyParams pp;
        TierRng noise;
        uint64_t decisions, explored, updates;
        unsigned best = 0;

        policy_params_default(&pp);
        p = make("linucb", &pp);
        tier_rng_seed(&noise, 99);
        run_bandit(p, 400, &noise);
        check_learned(p);
        /* After learning, the UCB choice itself is the best arm nearly always. */
        for (unsigned i = 0; i < 100; i++) {
                TierContext ctx = { .local_alloc = 0.3, .contention = 0 };
                TierDecision d;

                assert_int_equal(policy_choose(p, &ctx, &d), 0);
                best += d.action == 5;
                assert_int_equal(policy_update(p, &ctx, (unsigned) d.action,
                                               synthetic_reward((unsigned) d.action, 0, &noise)),
                                 0);
        }
        assert_true(best >= 90);
        policy_counters(p, &decisions, &explored, &updates);
        assert_int_equal(updates, 500);
        assert_true(decisions >= 500);
        assert_true(explored > 0 && explored < decisions);
}

static void test_indigo_converges(void **state) {
        _cleanup_(policy_freep) TierPolicy *p = NULL;
        TierPolicyParams pp;
        TierRng noise;

        policy_params_default(&pp);
        pp.train_steps = 4; /* keeps the test fast under sanitizers */
        p = make("indigo", &pp);
        assert_true(policy_learns(p));
        tier_rng_seed(&noise, 5);
        run_bandit(p, 400, &noise);
        check_learned(p);
}

/* Exploration takes untried actions: always exploring, the first 36 decisions in one context
 * try every grid action once, and then the choice is the greedy one; the greedy answer is always a measured action,
 * even when the network rates an untried one higher; a model without explore_steps (written before it existed) loads
 * with the default; the tried marks survive a save and load. */
static void test_indigo_explores(void **state) {
        _cleanup_(policy_freep) TierPolicy *p = NULL, *q = NULL;
        TierContext ctx = { .local_alloc = 0.1, .contention = 0.5 }, other = { .local_alloc = 0.9 };
        bool seen[36] = {};
        TierPolicyParams pp;
        TierDecision d;
        json_object *j;

        policy_params_default(&pp);
        pp.train_steps = 1;
        pp.epsilon = 1; /* every choice explores: a sweep of untried actions, then none is left */
        p = make("indigo", &pp);
        for (unsigned i = 0; i < 36; i++) {
                assert_int_equal(policy_choose(p, &ctx, &d), 0);
                assert_false(seen[d.action]);
                seen[d.action] = true;
                /* Only action 7 is good; after each update the greedy answer is a tried one. */
                assert_int_equal(policy_update(p, &ctx, (unsigned) d.action, d.action == 7 ? 0.5 : -0.5), 0);
                assert_int_equal(policy_greedy(p, &ctx, &d), 0);
                assert_true(seen[d.action]);
        }
        for (unsigned i = 0; i < 200; i++)
                assert_int_equal(policy_update(p, &ctx, 7, 0.5), 0);
        assert_int_equal(policy_greedy(p, &ctx, &d), 0);
        assert_int_equal(d.action, 7);
        assert_int_equal(policy_choose(p, &ctx, &d), 0);
        assert_int_equal(d.action, 7);
        assert_false(d.explored);
        /* In a context bucket never fed back, nothing is measured: the network's best is the answer
         * and exploring tries untried actions there again. */
        assert_int_equal(policy_greedy(p, &other, &d), 0);
        assert_in_range(d.action, 0, 35);

        assert_int_equal(policy_to_json(p, &j), 0);
        json_object_object_del(json_object_object_get(j, "params"), "explore_steps");
        assert_int_equal(policy_from_json(j, &q), 0);
        json_object_put(j);
        assert_int_equal(policy_params(q)->explore_steps, 100);
        assert_int_equal(policy_choose(q, &ctx, &d), 0); /* still nothing untried here */
        assert_int_equal(d.action, 7);
        assert_int_equal(policy_greedy(q, &ctx, &d), 0);
        assert_int_equal(d.action, 7);
}

static void test_reward_cache(void **state) {
        _cleanup_(reward_cache_freep) RewardCache *c = NULL;
        size_t entries;
        uint64_t hits, misses;
        double r = 0;

        assert_int_equal(reward_cache_new(0, &c), -EINVAL);
        assert_int_equal(reward_cache_new(2, &c), 0);
        assert_double_equal(reward_cache_hit_rate(c), 0, 0);
        assert_int_equal(reward_cache_lookup(c, 7, 3, &r), 0);
        assert_int_equal(reward_cache_store(c, 7, 3, 1.0), 0);
        assert_int_equal(reward_cache_lookup(c, 7, 3, &r), 0); /* 1 sample < min_samples 2 */
        assert_int_equal(reward_cache_store(c, 7, 3, 2.0), 0);
        assert_int_equal(reward_cache_lookup(c, 7, 3, &r), 1);
        assert_double_equal(r, 1.5, 1e-12);
        assert_int_equal(reward_cache_lookup(c, 7, 4, &r), 0);
        assert_int_equal(reward_cache_lookup(c, 8, 3, &r), 0);
        assert_int_equal(reward_cache_store(c, 7, 3, NAN), -EINVAL);
        reward_cache_stats(c, &entries, &hits, &misses);
        assert_int_equal(entries, 1);
        assert_int_equal(hits, 1);
        assert_int_equal(misses, 4);
        assert_double_equal(reward_cache_hit_rate(c), 0.2, 1e-12);

        /* Growth keeps every entry. */
        for (unsigned i = 0; i < 1000; i++) {
                assert_int_equal(reward_cache_store(c, i / 36, i % 36, i), 0);
                assert_int_equal(reward_cache_store(c, i / 36, i % 36, i), 0);
        }
        for (unsigned i = 0; i < 1000; i++) {
                double want = i;

                if (i / 36 == 7 && i % 36 == 3) /* the first entry keeps its history */
                        want = (1.0 + 2.0 + 2.0 * i) / 4;
                assert_int_equal(reward_cache_lookup(c, i / 36, i % 36, &r), 1);
                assert_double_equal(r, want, 1e-9);
        }
}

static void test_reward_cache_serve(void **state) {
        _cleanup_(reward_cache_freep) RewardCache *c = NULL;
        _cleanup_(policy_freep) TierPolicy *p = NULL, *fixed = NULL;
        TierContext ctx = { .local_alloc = 0.1, .contention = 0.5 };
        TierPolicyParams pp;
        TierDecision d;
        uint64_t updates;

        policy_params_default(&pp);
        p = make("linucb", &pp);
        assert_int_equal(reward_cache_new(1, &c), 0);
        /* Untried arms: every decision misses until its reward is stored. */
        assert_int_equal(reward_cache_serve(c, p, &ctx, 8, &d), 0);
        assert_int_equal(d.action, 0);
        assert_int_equal(reward_cache_store(c, tier_context_bucket(&ctx, 8), 0, 0.9), 0);
        assert_int_equal(policy_update(p, &ctx, 0, 0.9), 0);
        /* Arm 0 (0.9) now wins; serving it comes from the cache and trains the policy. */
        for (unsigned i = 1; i < 36; i++) {
                assert_int_equal(reward_cache_store(c, tier_context_bucket(&ctx, 8), i, -0.5), 0);
                assert_int_equal(policy_update(p, &ctx, i, -0.5), 0);
        }
        assert_int_equal(reward_cache_serve(c, p, &ctx, 8, &d), 1);
        assert_int_equal(d.action, 0);
        policy_counters(p, NULL, NULL, &updates);
        assert_int_equal(updates, 37);

        /* A decision outside the grid is never looked up. */
        fixed = make("static", &pp);
        assert_int_equal(reward_cache_serve(c, fixed, &ctx, 8, &d), 0);
        assert_int_equal(d.action, -1);
}

static void assert_decision_equal(const TierDecision *a, const TierDecision *b) {
        assert_int_equal(a->rule, b->rule);
        assert_int_equal(a->action, b->action);
        assert_true(a->rate_threshold == b->rate_threshold);
        assert_true(a->burst_threshold == b->burst_threshold);
        assert_true(a->hot_samples == b->hot_samples);
        assert_true(a->cool_samples == b->cool_samples);
        assert_true(a->rate_limit_Bps == b->rate_limit_Bps);
        assert_int_equal(a->explored, b->explored);
}

/* Serialises p to text and back, checks the text is a fixed point, returns the copy. */
static TierPolicy *round_trip(TierPolicy *p) {
        json_object *j = NULL, *parsed, *j2 = NULL;
        TierPolicy *copy = NULL;
        _cleanup_free_ char *text = NULL;

        assert_int_equal(policy_to_json(p, &j), 0);
        text = strdup(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
        assert_non_null(text);
        json_object_put(j);
        parsed = json_tokener_parse(text);
        assert_non_null(parsed);
        assert_int_equal(policy_from_json(parsed, &copy), 0);
        json_object_put(parsed);
        assert_int_equal(policy_to_json(copy, &j2), 0);
        assert_string_equal(json_object_to_json_string_ext(j2, JSON_C_TO_STRING_PLAIN), text);
        json_object_put(j2);
        return copy;
}

static void test_json_round_trip(void **state) {
        const char *const *names = policy_names();
        TierPolicyParams pp;

        policy_params_default(&pp);
        pp.train_steps = 2;
        pp.replay = 16; /* wraps the replay ring below */
        pp.seed = 77;
        for (size_t n = 0; names[n]; n++) {
                _cleanup_(policy_freep) TierPolicy *p = make(names[n], &pp), *copy = NULL;
                TierRng noise, noise2;

                tier_rng_seed(&noise, 1);
                run_bandit(p, 40, &noise);
                copy = round_trip(p);
                assert_string_equal(policy_name(copy), names[n]);
                /* Same model, same RNG state: the same decisions and updates from here on. */
                tier_rng_seed(&noise, 2);
                tier_rng_seed(&noise2, 2);
                for (unsigned i = 0; i < 10; i++) {
                        TierContext ctx = { .contention = i % 2, .link_bw_Bps = 1e9, .delta_lat_s = 1e-7 };
                        TierDecision a, b;

                        assert_int_equal(policy_choose(p, &ctx, &a), 0);
                        assert_int_equal(policy_choose(copy, &ctx, &b), 0);
                        assert_decision_equal(&a, &b);
                        if (a.action >= 0) {
                                assert_int_equal(policy_update(p, &ctx, a.action,
                                                               synthetic_reward(a.action, 0, &noise)),
                                                 0);
                                assert_int_equal(policy_update(copy, &ctx, b.action,
                                                               synthetic_reward(b.action, 0, &noise2)),
                                                 0);
                        }
                }
        }
}

static void test_json_errors(void **state) {
        _cleanup_(policy_freep) TierPolicy *p = NULL;
        TierPolicy *out = NULL;
        TierPolicyParams pp;
        json_object *j, *state_obj;

        policy_params_default(&pp);
        p = make("linucb", &pp);
        assert_int_equal(policy_to_json(p, &j), 0);

        json_object_object_add(j, "policy", json_object_new_string("oracle"));
        assert_int_equal(policy_from_json(j, &out), -ENOENT);
        json_object_object_add(j, "policy", json_object_new_string("linucb"));
        json_object_object_add(j, "version", json_object_new_int(2));
        assert_int_equal(policy_from_json(j, &out), -EINVAL);
        json_object_object_add(j, "version", json_object_new_int(1));
        state_obj = json_object_object_get(j, "state");
        json_object_array_del_idx(json_object_object_get(state_obj, "arms"), 0, 1);
        assert_int_equal(policy_from_json(j, &out), -EINVAL);
        json_object_put(j);

        j = json_tokener_parse("{\"format\":\"something-else\"}");
        assert_int_equal(policy_from_json(j, &out), -EINVAL);
        json_object_put(j);
        assert_null(out);
}

static void test_determinism(void **state) {
        TierPolicyParams pp;
        json_object *ja, *jb, *jc;

        policy_params_default(&pp);
        pp.train_steps = 2;
        pp.seed = 11;
        _cleanup_(policy_freep) TierPolicy *a = make("indigo", &pp), *b = make("indigo", &pp), *c = NULL;
        pp.seed = 12;
        c = make("indigo", &pp);
        TierRng n1, n2, n3;
        tier_rng_seed(&n1, 3);
        tier_rng_seed(&n2, 3);
        tier_rng_seed(&n3, 3);
        run_bandit(a, 60, &n1);
        run_bandit(b, 60, &n2);
        run_bandit(c, 60, &n3);
        assert_int_equal(policy_to_json(a, &ja), 0);
        assert_int_equal(policy_to_json(b, &jb), 0);
        assert_int_equal(policy_to_json(c, &jc), 0);
        assert_string_equal(json_object_to_json_string(ja), json_object_to_json_string(jb));
        assert_string_not_equal(json_object_to_json_string(ja), json_object_to_json_string(jc));
        json_object_put(ja);
        json_object_put(jb);
        json_object_put(jc);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_grid),
                cmocka_unit_test(test_context),
                cmocka_unit_test(test_reward),
                cmocka_unit_test(test_registry),
                cmocka_unit_test(test_fixed_rules),
                cmocka_unit_test(test_heuristic),
                cmocka_unit_test(test_linucb_converges),
                cmocka_unit_test(test_indigo_converges),
                cmocka_unit_test(test_indigo_explores),
                cmocka_unit_test(test_reward_cache),
                cmocka_unit_test(test_reward_cache_serve),
                cmocka_unit_test(test_json_round_trip),
                cmocka_unit_test(test_json_errors),
                cmocka_unit_test(test_determinism),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
