/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for tiering in the daemon, a Tierd over its Journal, Store and
 * Features on temp copies of tests/fixtures/tier-free (no kdamond: maiod makes
 * its own) and tier-foreign (someone else's kdamond runs: DAMON unavailable,
 * NUMA balancing instead):
 * every file each backend writes, feedback and its errors, persistence across a
 * restart, transfer to a new tenant, policy switches, dry runs, teardown. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "detect.h"
#include "journal.h"
#include "store-tier.h"
#include "testutil.h"
#include "tierd.h"

#define KD "sys/kernel/mm/damon/admin/kdamonds/"
#define S1 KD "0/contexts/0/schemes/1/"

static int setup_tree(const char *tree) {
        return testutil_tree_setup("tierd", tree, true);
}

static int setup_free(void **state) {
        return setup_tree("tier-free");
}

static int setup_foreign(void **state) {
        return setup_tree("tier-foreign");
}

/* What a test works on: the tiering module and what it is built from, as maiod's start makes
 * them: the store, the default configuration (which the test may change: tiering reads it when it
 * decides), the journal (started: tiering writes through it), the detected features. No event loop:
 * no timers. No tenants module: it only serves the visibility of models to GET /v1/models/{id}. */
typedef struct Subject {
        Store *store;
        Config *config;
        Journal *journal;
        Features features;
        Tierd *tierd;
} Subject;

static Subject *subject_start(unsigned policy, bool dry_run) {
        Subject *s = calloc(1, sizeof *s);
        const Config *c;

        assert_non_null(s);
        s->store = testutil_store_open();
        assert_int_equal(conf_new_default(&s->config), 0);
        s->config->tiering_policy = policy;
        c = s->config;
        assert_int_equal(journal_new(s->store, testutil_tree.root, testutil_tree.state, dry_run,
                                     &(JournalConf) { .restore_on_exit = c->knobs_restore_on_exit,
                                                      .reconcile = (int) c->knobs_reconcile,
                                                      .enforce = c->knobs_enforce,
                                                      .drift_check_s = c->knobs_drift_check_s },
                                     NULL, &s->journal),
                         0);
        assert_int_equal(journal_start(s->journal), 0);
        assert_int_equal(detect_run(testutil_tree.root, &s->features), 0);
        journal_set_features(s->journal, &s->features);
        assert_int_equal(tierd_new(&(TierdDeps) { .store = s->store,
                                                  .root = testutil_tree.root,
                                                  .dry_run = dry_run,
                                                  .journal = s->journal,
                                                  .features = &s->features,
                                                  .config = s->config },
                                   &s->tierd),
                         0);
        assert_int_equal(tierd_start(s->tierd), 0);
        return s;
}

/* A clean stop: tiering first, then the journal restores. */
static void subject_stop(Subject *s) {
        tierd_stop(s->tierd);
        assert_int_equal(journal_stop(s->journal), 0);
        tierd_free(s->tierd);
        journal_free(s->journal);
        detect_done(&s->features);
        conf_free(s->config);
        store_free(s->store);
        free(s);
}

/* The state-losing restart of a crash is not needed here: a restart keeps the store. */
static Subject *subject_restart(Subject *s, unsigned policy) {
        subject_stop(s);
        return subject_start(policy, false);
}

static int64_t tenant_add(Subject *s, const char *name, const char *class, int priority, const char *cgroup) {
        char token[TOKEN_STRLEN + 1], hash[TOKEN_HASH_STRLEN + 1];
        Tenant t = {
                .name = (char *) name,
                .workload_class = (char *) class,
                .priority = priority,
                .cgroup = (char *) cgroup,
                .uid = 1000,
        };
        int64_t id;

        assert_int_equal(token_generate(token), 0);
        assert_int_equal(token_hash(token, hash), 0);
        assert_int_equal(store_tenant_add(s->store, &t, hash, &id), 0);
        return id;
}

static TierdTenant *state_of(Subject *s, int64_t id, bool create) {
        TierdTenant *tt = NULL;
        Tenant t = {};
        int r;

        assert_int_equal(store_tenant_get(s->store, id, &t), 0);
        r = tierd_tenant_get(s->tierd, &t, create, &tt);
        tenant_done(&t);
        if (r != 0)
                fail_msg("tierd_tenant_get(%lld) = %d", (long long) id, r);
        return tt;
}

/* The files of the copy that differ from the fixture, sorted, one per line. */
static char *changed_files(void) {
        _cleanup_free_ char *cmd = NULL;
        char *buf = calloc(1, 65536);
        size_t n = 0;
        FILE *p;

        assert_non_null(buf);
        assert_true(asprintf(&cmd,
                             "cd '%s' && diff -rq . '%s' | sed -n 's|^Files ./\\([^ ]*\\) and .* differ$|\\1|p' | sort",
                             testutil_tree.pristine, testutil_tree.root) > 0);
        p = popen(cmd, "re");
        assert_non_null(p);
        n = fread(buf, 1, 65535, p);
        buf[n] = '\0';
        pclose(p);
        return buf;
}

/* ---- DAMON on a host without kdamonds ---- */

static void test_damon_writes(void **state) {
        Subject *s = subject_start(TIERING_POLICY_HEURISTIC, false);
        _cleanup_free_ char *changed = NULL;
        json_object *st;
        TierdTenant *tt;
        int64_t a = tenant_add(s, "a", "batch", 0, "/maio/a"), nocg = tenant_add(s, "nocg", "batch", 4, NULL);

        st = tierd_status_to_json(s->tierd);
        assert_string_equal(json_object_get_string(json_object_object_get(st, "backend")), "damon");
        assert_null(json_object_object_get(st, "unavailable"));
        json_object_put(st);
        /* Nothing is written for nobody. */
        tierd_apply(s->tierd);
        testutil_assert_pristine();

        tt = state_of(s, a, true);
        assert_int_equal(tt->episode, 1);
        assert_string_equal(policy_name(tt->policy), "heuristic");
        testutil_assert_text(KD "0/state", "on\n");
        /* Enrolling the next tenant reads a region snapshot of the running kdamond first. */
        (void) state_of(s, nocg, true); /* no cgroup: no schemes of its own */
        testutil_assert_text(KD "0/state", "update_schemes_tried_regions\n");
        changed = changed_files();
        assert_string_equal(changed, KD
                            "0/contexts/0/operations\n" KD "0/contexts/0/schemes/0/access_pattern/age/max\n" KD
                            "0/contexts/0/schemes/0/access_pattern/nr_accesses/max\n" KD
                            "0/contexts/0/schemes/0/access_pattern/sz/max\n" S1 "access_pattern/age/max\n" S1
                            "access_pattern/nr_accesses/max\n" S1 "access_pattern/nr_accesses/min\n" S1
                            "access_pattern/sz/max\n" S1 "action\n" S1 "filters/0/memcg_path\n" S1 "filters/0/type\n" S1
                            "filters/nr_filters\n" S1 "quotas/bytes\n" S1 "quotas/reset_interval_ms\n" S1
                            "target_nid\n" KD "0/contexts/0/schemes/2/access_pattern/age/max\n" KD
                            "0/contexts/0/schemes/2/access_pattern/age/min\n" KD
                            "0/contexts/0/schemes/2/access_pattern/sz/max\n" KD "0/contexts/0/schemes/2/action\n" KD
                            "0/contexts/0/schemes/2/filters/0/memcg_path\n" KD
                            "0/contexts/0/schemes/2/filters/0/type\n" KD
                            "0/contexts/0/schemes/2/filters/nr_filters\n" KD "0/contexts/0/schemes/2/quotas/bytes\n" KD
                            "0/contexts/0/schemes/2/quotas/reset_interval_ms\n" KD
                            "0/contexts/0/schemes/2/target_nid\n" KD "0/contexts/0/schemes/nr_schemes\n" KD
                            "0/contexts/0/targets/nr_targets\n" KD "0/contexts/nr_contexts\n" KD "0/state\n" KD
                            "nr_kdamonds\n");
        testutil_assert_text(KD "nr_kdamonds", "1\n");
        testutil_assert_text(KD "0/contexts/0/operations", "paddr\n");
        testutil_assert_text(KD "0/contexts/0/schemes/nr_schemes", "3\n");
        testutil_assert_text(S1 "action", "migrate_hot\n");
        testutil_assert_text(S1 "target_nid", "0\n");
        testutil_assert_text(S1 "filters/0/type", "memcg\n");
        testutil_assert_text(S1 "filters/0/memcg_path", "/maio/a\n");
        testutil_assert_text(S1 "filters/0/matching", "N\n");
        /* No allocation from the scheduler yet: DAMON's smallest quota (0 would mean no limit). */
        testutil_assert_text(S1 "quotas/bytes", "4096\n");
        /* The promotion-bandwidth resource: the budget (50% of 32 GB/s), one row (nocg has no
         * cgroup, so no scheme to limit); what the scheduler allocates becomes the quota. */
        {
                _cleanup_(resource_snapshot_done) ResourceSnapshot snap = {};

                assert_int_equal(tierd_promotion_snapshot(s->tierd, &snap), 0);
                assert_int_equal(snap.capacity, 16000000000);
                assert_int_equal(snap.n, 1);
                assert_int_equal(snap.tenants[0].tenant_id, a);
                assert_int_equal(snap.tenants[0].priority, 0);
                assert_true(snap.tenants[0].demand > 0);
                assert_true(tierd_promotion_apply(s->tierd, snap.tenants, &snap.capacity, 1) > 0);
                testutil_assert_text(S1 "quotas/bytes", "16000000000\n");
                testutil_assert_text(KD "0/contexts/0/schemes/2/quotas/bytes", "16000000000\n");
                /* The same allocation again writes nothing. */
                assert_int_equal(tierd_promotion_apply(s->tierd, snap.tenants, &snap.capacity, 1), 0);
                /* A new one writes the two quotas and the commit: what the last run left in force
                 * is known, not rewritten. */
                uint64_t half = snap.capacity / 2;

                assert_int_equal(tierd_promotion_apply(s->tierd, snap.tenants, &half, 1), 3);
                testutil_assert_text(S1 "quotas/bytes", "8000000000\n");
                /* Someone changes a scheme file: the journal's drift check finds it, and the next
                 * apply no longer trusts what it knew, so it puts the file back. */
                testutil_put_text(S1 "action", "stat\n");
                assert_int_equal(journal_check_drift(s->journal), 1);
                half = snap.capacity / 4;
                assert_int_equal(tierd_promotion_apply(s->tierd, snap.tenants, &half, 1), 4);
                testutil_assert_text(S1 "action", "migrate_hot\n");
                testutil_assert_text(S1 "quotas/bytes", "4000000000\n");
        }
        testutil_assert_text(KD "0/contexts/0/schemes/2/action", "migrate_cold\n");
        testutil_assert_text(KD "0/contexts/0/schemes/2/target_nid", "1\n");
        testutil_assert_text(KD "0/contexts/0/schemes/2/access_pattern/age/min", "50\n");
        /* A clean stop takes the kdamond down and leaves the host as it was. */
        subject_stop(s);
        testutil_assert_pristine();
}

static void test_damon_online_update(void **state) {
        Subject *s = subject_start(TIERING_POLICY_HEURISTIC, false);
        int64_t a = tenant_add(s, "a", "batch", 0, "/maio/a");
        TierdFeedback fb = { .episode = 1, .metric = TIERD_METRIC_COMPLETION_TIME, .value = 10 };
        _cleanup_free_ char *before = NULL, *after = NULL;
        TierdTenant *tt = state_of(s, a, true);
        double reward = -1, rate1 = tt->decision.rate_threshold;

        before = testutil_text_of(S1 "access_pattern/nr_accesses/min");
        /* The next decision reads a region snapshot: fast memory is 95% used, so promotions must
         * now beat the access rate of what they would demote. */
        assert_int_equal(tierd_feedback(s->tierd, tt, &fb, &reward), 0);
        assert_true(reward == 0);
        assert_int_equal(tt->episode, 2);
        assert_true(tt->decision.rate_threshold > rate1);
        assert_true(tt->context.demote_rate > 0);
        after = testutil_text_of(S1 "access_pattern/nr_accesses/min");
        assert_string_not_equal(before, after);
        /* Online: committed while the kdamond runs. */
        testutil_assert_text(KD "0/state", "commit\n");
        subject_stop(s);
        testutil_assert_pristine();
}

/* ---- someone else's kdamond ---- */

static void test_foreign_numab(void **state) {
        Subject *s = subject_start(TIERING_POLICY_STATIC, false);
        _cleanup_free_ char *changed = NULL;
        int64_t a = tenant_add(s, "a", "batch", 3, "/maio/a"), b = tenant_add(s, "b", "batch", 1, "/maio/b");
        json_object *st = tierd_status_to_json(s->tierd);
        const char *note = NULL;
        TierdTenant *ta, *tb;

        assert_string_equal(json_object_get_string(json_object_object_get(st, "backend")), "numa-balancing");
        assert_string_equal(json_object_get_string(json_object_object_get(st, "unavailable")),
                            "tiering backend unavailable: foreign kdamond");
        assert_string_equal(tierd_status_note(s->tierd), "tiering backend unavailable: foreign kdamond");
        json_object_put(st);
        ta = state_of(s, a, true);
        tb = state_of(s, b, true);
        /* Host-wide knobs follow b, of higher priority; static: TPP's 1 access/s = 1000 ms. */
        assert_true(tierd_tenant_applied(s->tierd, tb, &note));
        assert_false(tierd_tenant_applied(s->tierd, ta, &note));
        changed = changed_files();
        assert_string_equal(changed, "proc/sys/kernel/numa_balancing\n"
                                     "proc/sys/kernel/numa_balancing_promote_rate_limit_MBps\n");
        /* Normal balancing (1) stays on, tiering added; the threshold already is 1000 ms. */
        testutil_assert_text("proc/sys/kernel/numa_balancing", "3\n");
        testutil_assert_text("sys/kernel/debug/sched/numa_balancing/hot_threshold_ms", "1000\n");
        /* 50% of 32 GB/s in MiB/s. */
        testutil_assert_text("proc/sys/kernel/numa_balancing_promote_rate_limit_MBps", "15258\n");
        subject_stop(s);
        testutil_assert_pristine();
}

static void test_foreign_threshold(void **state) {
        Subject *s = subject_start(TIERING_POLICY_HEURISTIC, false);
        int64_t a = tenant_add(s, "a", "batch", 3, "/maio/a");
        TierdTenant *tt = state_of(s, a, true);
        char want[32];

        /* Heuristic: 4096 / (32e9 x 150e-9 x 0.05) = 17.07 accesses/s, a 59 ms hot threshold. */
        assert_true(fabs(tt->decision.rate_threshold - 4096.0 / (32e9 * 150e-9 * 0.05)) < 1e-6);
        snprintf(want, sizeof want, "%.0f\n", floor(1000.0 / tt->decision.rate_threshold + 0.5));
        testutil_assert_text("sys/kernel/debug/sched/numa_balancing/hot_threshold_ms", want);
        /* The foreign kdamond's files are never touched. */
        testutil_assert_text(KD "0/state", "on\n");
        testutil_assert_text(KD "nr_kdamonds", "1\n");
        subject_stop(s);
        testutil_assert_pristine();
}

/* ---- feedback, persistence, transfer, switching ---- */

static void feedback_ok(Subject *s, TierdTenant *tt, double seconds) {
        TierdFeedback fb = { .episode = tt->episode, .metric = TIERD_METRIC_COMPLETION_TIME, .value = seconds };
        double reward;

        assert_int_equal(tierd_feedback(s->tierd, tt, &fb, &reward), 0);
}

static void test_feedback_errors(void **state) {
        Subject *s = subject_start(TIERING_POLICY_LINUCB, false);
        int64_t a = tenant_add(s, "a", "batch", 0, "/maio/a"), other = tenant_add(s, "o", "batch", 0, NULL);
        TierdFeedback fb = { .episode = 2, .metric = TIERD_METRIC_COMPLETION_TIME, .value = 5 };
        TierdTenant *tt;
        uint64_t updates;
        double reward;
        Tenant t = {};

        /* No tiering state yet: no episode to report on, and feedback does not enrol. */
        assert_int_equal(store_tenant_get(s->store, other, &t), 0);
        assert_int_equal(tierd_tenant_get(s->tierd, &t, false, &tt), -ENOENT);
        tenant_done(&t);
        tt = state_of(s, a, true);
        assert_int_equal(tierd_feedback(s->tierd, tt, &fb, &reward), -ENOENT); /* not opened yet */
        fb.episode = 1;
        fb.value = 0;
        assert_int_equal(tierd_feedback(s->tierd, tt, &fb, &reward), -EINVAL); /* no reward from 0 s */
        fb.value = NAN;
        assert_int_equal(tierd_feedback(s->tierd, tt, &fb, &reward), -EINVAL);
        policy_counters(tt->policy, NULL, NULL, &updates);
        assert_int_equal(updates, 0); /* none of it reached the model */
        assert_int_equal(tt->episode, 1);
        feedback_ok(s, tt, 8);
        fb.value = 8;
        assert_int_equal(tierd_feedback(s->tierd, tt, &fb, &reward), -EALREADY); /* episode 1 is committed */
        fb.episode = 99;
        assert_int_equal(tierd_feedback(s->tierd, tt, &fb, &reward), -ENOENT);
        /* Without an event loop training runs inline: the feedback's reward, and a cached reward the
         * next decision may have been served from (the decision is made before the update). */
        policy_counters(tt->policy, NULL, NULL, &updates);
        assert_int_equal(updates, 1 + tt->decision_cache_hits);
        subject_stop(s);
}

static void test_persistence(void **state) {
        Subject *s = subject_start(TIERING_POLICY_LINUCB, false);
        int64_t a = tenant_add(s, "a", "batch", 0, "/maio/a");
        TierdTenant *tt = state_of(s, a, true);
        TierDecision d;
        uint64_t updates, updates2;
        int64_t episode, hits, misses;
        size_t entries, entries2;

        for (unsigned i = 0; i < 6; i++)
                feedback_ok(s, tt, 10 - i);
        d = tt->decision;
        episode = tt->episode;
        hits = tt->cache_hits;
        misses = tt->cache_misses;
        policy_counters(tt->policy, NULL, NULL, &updates);
        reward_cache_stats(tt->cache, &entries, NULL, NULL);
        assert_true(entries > 0);

        s = subject_restart(s, TIERING_POLICY_HEURISTIC); /* a config change does not touch a running tenant */
        tt = state_of(s, a, false);
        assert_string_equal(policy_name(tt->policy), "linucb");
        assert_int_equal(tt->episode, episode);
        assert_int_equal(tt->decision.action, d.action);
        assert_true(tt->decision.rate_threshold == d.rate_threshold);
        assert_int_equal(tt->cache_hits, hits);
        assert_int_equal(tt->cache_misses, misses);
        assert_true(tt->norm.ref_cost == 10);
        policy_counters(tt->policy, NULL, NULL, &updates2);
        assert_int_equal(updates2, updates);
        reward_cache_stats(tt->cache, &entries2, NULL, NULL);
        assert_int_equal(entries2, entries);
        feedback_ok(s, tt, 3);
        assert_int_equal(tt->episode, episode + 1);
        subject_stop(s);
        testutil_assert_pristine();
}

static void test_transfer(void **state) {
        Subject *s = subject_start(TIERING_POLICY_LINUCB, false);
        int64_t a = tenant_add(s, "a", "batch", 0, "/maio/a");
        TierdTenant *ta = state_of(s, a, true), *tb, *tc;
        int64_t model_a = ta->model_id, b, c;

        assert_int_equal(ta->transferred_from, 0);
        for (unsigned i = 0; i < 4; i++)
                feedback_ok(s, ta, 5 + i);
        /* A new batch tenant starts from a's model, reseeded with its own seed... */
        s->config->tiering_seed = 99;
        b = tenant_add(s, "b", "batch", 0, "/maio/b");
        tb = state_of(s, b, true);
        assert_int_equal(tb->transferred_from, model_a);
        assert_true(tb->model_id != model_a);
        assert_int_equal(policy_params(tb->policy)->seed, 99);
        /* ... a serving tenant does not (another workload class). */
        c = tenant_add(s, "c", "serving", 0, NULL);
        tc = state_of(s, c, true);
        assert_int_equal(tc->transferred_from, 0);
        /* a's model outlives a, and still transfers. */
        assert_int_equal(store_tenant_remove(s->store, a), 0);
        {
                _cleanup_(store_tier_model_done) StoreTierModel row = {};

                assert_int_equal(store_tier_model_get(s->store, model_a, &row), 0);
                assert_int_equal(row.tenant_id, 0);
                assert_int_equal(row.samples, 4);
        }
        subject_stop(s);
}

static void test_policy_switch(void **state) {
        Subject *s = subject_start(TIERING_POLICY_HEURISTIC, false);
        int64_t a = tenant_add(s, "a", "serving", 0, "/maio/a");
        TierdTenant *tt = state_of(s, a, true);
        int64_t old_model = tt->model_id, old_episode;
        TierdFeedback fb = { .metric = TIERD_METRIC_REQUESTS_PER_S, .value = 100 };
        _cleanup_(store_tier_model_done) StoreTierModel row = {};
        double reward;

        assert_int_equal(tierd_policy_set(s->tierd, tt, "grid", 1), -EINVAL);
        /* Untrained: the old model goes. */
        assert_int_equal(tierd_policy_set(s->tierd, tt, "static", 5), 0);
        assert_int_equal(store_tier_model_get(s->store, old_model, &row), -ENOENT);
        assert_int_equal(tt->episode, 2);
        fb.episode = 2;
        assert_int_equal(tierd_feedback(s->tierd, tt, &fb, &reward), 0);
        old_model = tt->model_id;
        old_episode = tt->episode;
        /* Trained: kept, without a tenant, for transfer; the open episode is abandoned. */
        assert_int_equal(tierd_policy_set(s->tierd, tt, "indigo", 7), 0);
        assert_int_equal(store_tier_model_get(s->store, old_model, &row), 0);
        assert_int_equal(row.tenant_id, 0);
        assert_string_equal(policy_name(tt->policy), "indigo");
        assert_int_equal(tt->seed, 7);
        assert_int_equal(tt->episode, old_episode + 1);
        fb.episode = old_episode;
        assert_int_equal(tierd_feedback(s->tierd, tt, &fb, &reward), -ENOENT);
        /* The reward scale is the tenant's: 200 rps is twice as good as the first 100. */
        fb.episode = tt->episode;
        fb.value = 200;
        assert_int_equal(tierd_feedback(s->tierd, tt, &fb, &reward), 0);
        assert_true(fabs(reward - 0.5) < 1e-12);
        /* A run a thousand times worse is clipped, not allowed to swamp the model. */
        fb.episode = tt->episode;
        fb.value = 0.1;
        assert_int_equal(tierd_feedback(s->tierd, tt, &fb, &reward), 0);
        assert_true(reward == TIERD_REWARD_MIN);
        subject_stop(s);
}

static void test_dry_run(void **state) {
        Subject *s = subject_start(TIERING_POLICY_HEURISTIC, true);
        int64_t a = tenant_add(s, "a", "batch", 0, "/maio/a");
        StoreKnob row = {};

        (void) state_of(s, a, true);
        testutil_assert_pristine();
        assert_int_equal(store_knob_get(s->store, "damon.0.scheme.1.action", &row), 0);
        assert_string_equal(row.state, "dry-run");
        store_knob_done(&row);
        subject_stop(s);
        testutil_assert_pristine();
        /* The stop forgot the intents; the restart records the tenant's plan again, still unwritten. */
        {
                Store *store = testutil_store_open();

                assert_int_equal(store_knob_count(store), 0);
                store_free(store);
        }
        s = subject_start(TIERING_POLICY_HEURISTIC, true);
        assert_int_equal(store_knob_get(s->store, "damon.0.scheme.1.action", &row), 0);
        assert_string_equal(row.state, "dry-run");
        store_knob_done(&row);
        testutil_assert_pristine();
        subject_stop(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_damon_writes, setup_free, testutil_tree_teardown),
                cmocka_unit_test_setup_teardown(test_damon_online_update, setup_free, testutil_tree_teardown),
                cmocka_unit_test_setup_teardown(test_foreign_numab, setup_foreign, testutil_tree_teardown),
                cmocka_unit_test_setup_teardown(test_foreign_threshold, setup_foreign, testutil_tree_teardown),
                cmocka_unit_test_setup_teardown(test_feedback_errors, setup_free, testutil_tree_teardown),
                cmocka_unit_test_setup_teardown(test_persistence, setup_free, testutil_tree_teardown),
                cmocka_unit_test_setup_teardown(test_transfer, setup_free, testutil_tree_teardown),
                cmocka_unit_test_setup_teardown(test_policy_switch, setup_free, testutil_tree_teardown),
                cmocka_unit_test_setup_teardown(test_dry_run, setup_free, testutil_tree_teardown),
        };

        if (testutil_fixtures_init() < 0)
                return 1;
        return cmocka_run_group_tests(tests, NULL, NULL);
}
