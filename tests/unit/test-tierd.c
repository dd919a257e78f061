/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the pure parts of tiering in the daemon: telemetry parsers and
 * readers on tests/fixtures/tier-free, the context computation, the DAMON and
 * NUMA-balancing write plans, feedback validation, nearest-model transfer and
 * model reseeding. */
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

#include <cmocka.h>

#include "tierd.h"

static const char *fixtures_dir;
static char free_root[PATH_MAX];

#define assert_near(a, b) assert_true(fabs((double) (a) - (double) (b)) <= 1e-9 * fmax(1.0, fabs((double) (b))))

/* ---- parsers ---- */

static void test_parse_vmstat(void **state) {
        TierdVmstat v;

        assert_int_equal(tierd_parse_vmstat("nr_free_pages 3\npgmigrate_success 12\npgpromote_success 7\n"
                                            "pgdemote_kswapd 2\nnuma_hint_faults 99\npgmigrate_fail 1\njunk\n",
                                            &v),
                         0);
        assert_true(v.valid);
        assert_int_equal(v.pgmigrate_success, 12);
        assert_int_equal(v.pgpromote_success, 7);
        assert_int_equal(v.pgdemote_kswapd, 2);
        assert_int_equal(v.numa_hint_faults, 99);
        assert_int_equal(v.pgmigrate_fail, 1);
        assert_int_equal(v.pgdemote_direct, 0);
        /* Without the migration counter nothing is usable. */
        assert_int_equal(tierd_parse_vmstat("pgpromote_success 7\n", &v), -EINVAL);
        assert_int_equal(tierd_parse_vmstat("", &v), -EINVAL);
}

static void test_parse_psi_meminfo(void **state) {
        TierdNodeMem n;
        double psi = -1;

        assert_int_equal(tierd_parse_psi("some avg10=1.25 avg60=0.00 avg300=0.00 total=5\nfull avg10=0.50 avg60=0 "
                                         "avg300=0 total=1\n",
                                         &psi),
                         0);
        assert_near(psi, 1.25);
        assert_int_equal(tierd_parse_psi("full avg10=0.50\n", &psi), -EINVAL);
        assert_int_equal(tierd_parse_psi("some avg10=x\n", &psi), -EINVAL);
        assert_int_equal(tierd_parse_psi("some avg10=-1\n", &psi), -EINVAL);

        assert_int_equal(tierd_parse_meminfo(
                                 "Node 3 MemTotal:  1000 kB\nNode 3 MemFree:   250 kB\nNode 3 MemUsed: 750 kB\n", &n),
                         0);
        assert_int_equal(n.node, 3);
        assert_int_equal(n.total_kb, 1000);
        assert_int_equal(n.free_kb, 250);
        assert_int_equal(tierd_parse_meminfo("Node 3 MemTotal:  1000 kB\n", &n), -EINVAL);
        /* More free than total is a broken file, not a node. */
        assert_int_equal(tierd_parse_meminfo("Node 0 MemTotal: 10 kB\nNode 0 MemFree: 11 kB\n", &n), -EINVAL);
}

static void test_tiers(void **state) {
        char t4[] = "memory_tier4: 0", t22[] = "memory_tier22: 1-2";
        char *const tiers[] = { t4, t22, NULL };
        TierdTiers t;

        assert_int_equal(tierd_tiers_from_features(tiers, "0-2", &t), 0);
        assert_true(t.fast[0] && !t.fast[1] && !t.fast[2]);
        assert_true(!t.slow[0] && t.slow[1] && t.slow[2]);
        assert_int_equal(t.local_nid, 0);
        assert_int_equal(t.remote_nid, 1);
        /* No tiers: every node with memory is local, nothing is remote. */
        assert_int_equal(tierd_tiers_from_features(NULL, "0-1", &t), 0);
        assert_true(t.fast[0] && t.fast[1] && !t.slow[0] && !t.slow[1]);
        assert_int_equal(t.local_nid, 0);
        assert_int_equal(t.remote_nid, -1);
}

static void test_parse_numa_stat(void **state) {
        char t4[] = "memory_tier4: 0", t22[] = "memory_tier22: 1";
        char *const tiers_s[] = { t4, t22, NULL };
        TierdTenantMem m;
        TierdTiers t;

        assert_int_equal(tierd_tiers_from_features(tiers_s, "0-1", &t), 0);
        assert_int_equal(tierd_parse_numa_stat("anon N0=100 N1=300\nfile N0=50 N1=50\nkernel_stack N0=9999 N1=0\n", &t,
                                               &m),
                         0);
        assert_true(m.valid);
        assert_int_equal(m.local_bytes, 150);
        assert_int_equal(m.remote_bytes, 350);
        assert_int_equal(tierd_parse_numa_stat("kernel_stack N0=1\n", &t, &m), -EINVAL);
}

/* ---- readers on the fixture ---- */

static void test_read_fixture(void **state) {
        char t4[] = "memory_tier4: 0", t22[] = "memory_tier22: 1";
        char *const tiers_s[] = { t4, t22, NULL };
        TierdTelemetry t = {};
        TierdTenantMem m;
        TierdTiers tiers;

        assert_int_equal(tierd_tiers_from_features(tiers_s, "0-1", &tiers), 0);
        assert_int_equal(tierd_telemetry_read(free_root, &t), 0);
        assert_true(t.time_s > 0);
        assert_true(t.vmstat.valid);
        assert_int_equal(t.vmstat.pgmigrate_success, 1200);
        assert_int_equal(t.n_nodes, 2);
        assert_int_equal(t.nodes[0].node, 0);
        assert_int_equal(t.nodes[0].total_kb, 8388608);
        assert_int_equal(t.nodes[1].free_kb, 25165824);
        assert_near(t.psi_some_avg10, 0);
        assert_int_equal(tierd_regions_read(free_root, 0, &t), 4);
        assert_near(t.sample_s, 0.005);
        assert_near(t.aggr_s, 0.1);
        assert_int_equal(t.regions[0].nr_accesses, 18);
        assert_int_equal(t.regions[3].age, 300);
        assert_int_equal(tierd_tenant_mem_read(free_root, "/maio/a", &tiers, &m), 0);
        assert_int_equal(m.local_bytes, 1073741824);
        assert_int_equal(m.remote_bytes, 3221225472);
        assert_int_equal(tierd_tenant_mem_read(free_root, "/maio/none", &tiers, &m), -ENOENT);
        assert_int_equal(tierd_tenant_mem_read(free_root, NULL, &tiers, &m), -ENOENT);
        /* A host without the files: nothing known, no failure. */
        tierd_telemetry_done(&t);
        assert_int_equal(tierd_telemetry_read("/nonexistent-root", &t), 0);
        assert_false(t.vmstat.valid);
        assert_int_equal(t.n_nodes, 0);
        assert_true(isnan(t.psi_some_avg10));
        tierd_telemetry_done(&t);
}

/* ---- context ---- */

static void two_tier(TierdTiers *t) {
        *t = (TierdTiers) { .local_nid = 0, .remote_nid = 1 };
        t->fast[0] = true;
        t->slow[1] = true;
}

static TierdTelemetry telemetry(double time_s, uint64_t migrated, uint64_t fast_free_kb) {
        return (TierdTelemetry) {
                .time_s = time_s,
                .vmstat = { .valid = true, .pgmigrate_success = migrated },
                .nodes = { { .node = 0, .total_kb = 1000000, .free_kb = fast_free_kb },
                           { .node = 1, .total_kb = 4000000, .free_kb = 3000000 } },
                .n_nodes = 2,
                .psi_some_avg10 = 0,
        };
}

static void test_context(void **state) {
        TierdTelemetry prev = telemetry(10, 1000, 500000), now = telemetry(12, 2000, 500000);
        TierdLink link = { .bandwidth_Bps = 32e9, .contention = 0.5, .delta_latency_s = 150e-9, .budget = 0.5 };
        TierdTenantMem mem = { .valid = true, .local_bytes = 1, .remote_bytes = 3 };
        double traffic = 1000.0 * 4096 / 2 / 32e9;
        TierContext c;
        TierdTiers t;

        two_tier(&t);
        tierd_context_compute(&now, &prev, &t, &link, &mem, &c);
        assert_near(c.local_alloc, 0.25);
        assert_near(c.local_usage, 0.5);
        assert_near(c.remote_usage, 0.25);
        assert_near(c.traffic, traffic);
        assert_near(c.contention, 0.5);
        assert_near(c.link_bw_Bps, 16e9);
        /* The latency gap grows with utilisation u = contention + traffic as 1/(1-u). */
        assert_near(c.delta_lat_s, 150e-9 / (1 - 0.5 - traffic));
        assert_near(c.demote_rate, 0);
        assert_near(c.page_size, 4096);

        /* No cgroup: the host's placement (500000 kB used fast, 1000000 kB used slow). */
        tierd_context_compute(&now, NULL, &t, &link, NULL, &c);
        assert_near(c.local_alloc, 1.0 / 3);
        assert_near(c.traffic, 0);
        /* Counters that went backwards (a reset) give no traffic, not a negative one. */
        tierd_context_compute(&prev, &now, &t, &link, NULL, &c);
        assert_near(c.traffic, 0);
}

static void test_demote_rate(void **state) {
        TierdRegion regions[] = {
                { .start = 0, .end = 400000 * 1024ULL, .nr_accesses = 2, .age = 1 },
                { .start = 400000 * 1024ULL, .end = 500000 * 1024ULL, .nr_accesses = 18, .age = 1 },
                { .start = 500000 * 1024ULL, .end = 1400000 * 1024ULL, .nr_accesses = 9, .age = 1 },
                { .start = 1400000 * 1024ULL, .end = 5000000 * 1024ULL, .nr_accesses = 0, .age = 9 },
        };
        TierdTelemetry t = telemetry(1, 0, 50000); /* fast memory 95% used */
        TierdTiers tiers;

        two_tier(&tiers);
        t.regions = regions;
        t.n_regions = ELEMENTSOF(regions);
        t.aggr_s = 0.1;
        /* Hottest first: 100000 kB at 18, then 900000 kB at 9 fill the 1000000 kB fast node. */
        assert_near(tierd_demote_rate(&t, &tiers), 90);
        /* Room on the fast node: promotion demotes nothing. */
        t.nodes[0].free_kb = 500000;
        assert_near(tierd_demote_rate(&t, &tiers), 0);
        /* ... unless tasks stall on memory. */
        t.psi_some_avg10 = 3.5;
        assert_near(tierd_demote_rate(&t, &tiers), 90);
        t.n_regions = 0;
        assert_near(tierd_demote_rate(&t, &tiers), 0);
}

static void test_context_json(void **state) {
        TierContext c = { 0.1, 0.2, 0.3, 0.4, 0.5, 6e9, 7e-8, 8, 4096 }, d;
        json_object *j = tierd_context_to_json(&c), *bad;

        assert_non_null(j);
        assert_int_equal(tierd_context_from_json(j, &d), 0);
        assert_memory_equal(&c, &d, sizeof c);
        json_object_put(j);
        bad = json_tokener_parse("{\"traffic\":\"x\"}");
        assert_int_equal(tierd_context_from_json(bad, &d), -EINVAL);
        json_object_put(bad);
        assert_int_equal(tierd_context_from_json(NULL, &d), -EINVAL);
}

/* ---- plans ---- */

static const char *plan_value(const TierdPlan *p, const char *name) {
        for (size_t i = 0; i < p->n; i++)
                if (strcmp(p->writes[i].name, name) == 0)
                        return p->writes[i].value;
        return NULL;
}

static void assert_write(const TierdPlan *p, const char *name, const char *value) {
        const char *v = plan_value(p, name);

        if (!v || strcmp(v, value) != 0)
                fail_msg("plan writes %s = %s, expected %s", name, v ?: "(nothing)", value);
}

static void test_nr_accesses(void **state) {
        assert_int_equal(tierd_damon_nr_accesses(0, 0.005, 0.1), 1);
        assert_int_equal(tierd_damon_nr_accesses(1, 0.005, 0.1), 1);
        /* 20 x (1 - e^-0.5) = 7.87 */
        assert_int_equal(tierd_damon_nr_accesses(100, 0.005, 0.1), 8);
        assert_int_equal(tierd_damon_nr_accesses(1000, 0.005, 0.1), 20);
        assert_int_equal(tierd_damon_nr_accesses(1e9, 0.005, 0.1), 20);
        assert_int_equal(tierd_damon_nr_accesses(50, 0.005, 0.1), 5);
}

static const TierdApplyTenant plan_tenants[] = {
        { .id = 1,
          .priority = 0,
          .cgroup = "/maio/a",
          .decision = { .rule = TIER_RULE_THRESHOLDS, .action = 13, .rate_threshold = 100, .burst_threshold = 0.25 },
          .quota_Bps = 8e8 },
        { .id = 2,
          .priority = 4,
          .cgroup = NULL,
          .decision = { .rule = TIER_RULE_THRESHOLDS, .action = -1, .rate_threshold = 3, .burst_threshold = 0 },
          .quota_Bps = -1 },
        { .id = 3,
          .priority = 6,
          .cgroup = "/maio/b",
          .decision = { .rule = TIER_RULE_NEVER, .action = -1 },
          .quota_Bps = -1 },
};

static void test_plan_damon(void **state) {
        TierdDamonInput in = {
                .kdamond = 0,
                .create = true,
                .running = false,
                .local_nid = 0,
                .remote_nid = 1,
                .sample_s = 0.005,
                .aggr_s = 0.1,
                .demote_after_s = 5,
                .tenants = plan_tenants,
                .n_tenants = ELEMENTSOF(plan_tenants),
        };
        _cleanup_(tierd_plan_done) TierdPlan p = {};

        assert_int_equal(tierd_plan_damon(&in, &p), 0);
        /* The kdamond: created first, started last. */
        assert_string_equal(p.writes[0].name, "damon.nr_kdamonds");
        assert_string_equal(p.writes[0].value, "1");
        assert_string_equal(p.writes[p.n - 1].name, "damon.0.state");
        assert_string_equal(p.writes[p.n - 1].value, "on");
        assert_false(p.writes[p.n - 1].if_changed);
        assert_write(&p, "damon.0.nr_contexts", "1");
        assert_write(&p, "damon.0.operations", "paddr");
        assert_write(&p, "damon.0.sample_us", "5000");
        assert_write(&p, "damon.0.aggr_us", "100000");
        assert_write(&p, "damon.0.nr_targets", "1");
        /* Scheme 0 (snapshot) plus hot and cold for the two tenants with a cgroup. */
        assert_write(&p, "damon.0.nr_schemes", "5");
        assert_write(&p, "damon.0.scheme.0.action", "stat");
        assert_write(&p, "damon.0.scheme.0.nr_accesses_min", "0");
        assert_write(&p, "damon.0.scheme.0.nr_accesses_max", "20");
        /* Tenant 1: hot scheme from its thresholds, quota the scheduler's allocation. */
        assert_write(&p, "damon.0.scheme.1.action", "migrate_hot");
        assert_write(&p, "damon.0.scheme.1.nr_accesses_min", "8");
        assert_write(&p, "damon.0.scheme.1.nr_accesses_max", "20");
        assert_write(&p, "damon.0.scheme.1.age_min", "3");
        assert_write(&p, "damon.0.scheme.1.age_max", "4294967295");
        assert_write(&p, "damon.0.scheme.1.sz_max", "9223372036854775807");
        assert_write(&p, "damon.0.scheme.1.target_nid", "0");
        assert_write(&p, "damon.0.scheme.1.quota_bytes", "800000000");
        assert_write(&p, "damon.0.scheme.1.quota_reset_ms", "1000");
        assert_write(&p, "damon.0.scheme.1.nr_filters", "1");
        assert_write(&p, "damon.0.scheme.1.filter_type", "memcg");
        assert_write(&p, "damon.0.scheme.1.filter_memcg_path", "/maio/a");
        assert_write(&p, "damon.0.scheme.1.filter_matching", "N");
        /* ... and its cold scheme: idle for 5 s (50 aggregation intervals) to node 1. */
        assert_write(&p, "damon.0.scheme.2.action", "migrate_cold");
        assert_write(&p, "damon.0.scheme.2.nr_accesses_max", "0");
        assert_write(&p, "damon.0.scheme.2.age_min", "50");
        assert_write(&p, "damon.0.scheme.2.target_nid", "1");
        /* Tenant 3 promotes nothing: its hot scheme only counts; no allocation yet is DAMON's smallest
         * quota (0 would be unlimited). */
        assert_write(&p, "damon.0.scheme.3.action", "stat");
        assert_write(&p, "damon.0.scheme.3.quota_bytes", "4096");
        assert_write(&p, "damon.0.scheme.3.filter_memcg_path", "/maio/b");
        assert_write(&p, "damon.0.scheme.4.action", "migrate_cold");
        assert_null(plan_value(&p, "damon.0.scheme.5.action"));
        tierd_plan_done(&p);

        /* Running: no creation, changes go online with commit, only if something changed. */
        in.create = false;
        in.running = true;
        in.remote_nid = -1;
        assert_int_equal(tierd_plan_damon(&in, &p), 0);
        assert_null(plan_value(&p, "damon.nr_kdamonds"));
        assert_string_equal(p.writes[p.n - 1].value, "commit");
        assert_true(p.writes[p.n - 1].if_changed);
        /* One tier: nothing to demote to. */
        assert_write(&p, "damon.0.scheme.2.action", "stat");
        tierd_plan_done(&p);

        in.aggr_s = 0.001; /* shorter than a sample */
        assert_int_equal(tierd_plan_damon(&in, &p), -EINVAL);
}

/* Stable slots: a leave frees only its slot, a join takes the lowest free one, trailing free slots
 * go; a tenant without a cgroup gets none. */
static void test_slots_assign(void **state) {
        TierdApplyTenant t[4] = {
                { .id = 10, .cgroup = "/a" },
                { .id = 11, .cgroup = "/b" },
                { .id = 12, .cgroup = NULL },
                { .id = 13, .cgroup = "/d" },
        };
        _cleanup_free_ int64_t *slots = NULL;
        size_t n_slots = 0, ret[4];

        assert_int_equal(tierd_slots_assign(&slots, &n_slots, t, 4, ret), 0);
        assert_int_equal(n_slots, 3);
        assert_int_equal(ret[0], 0);
        assert_int_equal(ret[1], 1);
        assert_int_equal(ret[2], SIZE_MAX);
        assert_int_equal(ret[3], 2);
        /* 10 leaves: the others keep their slots, slot 0 is free (and not trailing, so it stays). */
        assert_int_equal(tierd_slots_assign(&slots, &n_slots, t + 1, 3, ret), 0);
        assert_int_equal(n_slots, 3);
        assert_int_equal(ret[0], 1);
        assert_int_equal(ret[2], 2);
        assert_int_equal(slots[0], 0);
        /* 14 joins (in any position of the list): the free slot 0. */
        t[0].id = 14;
        assert_int_equal(tierd_slots_assign(&slots, &n_slots, t, 4, ret), 0);
        assert_int_equal(n_slots, 3);
        assert_int_equal(ret[0], 0);
        assert_int_equal(ret[1], 1);
        assert_int_equal(ret[3], 2);
        /* 13 (the last slot) leaves: two of three slots are still held, the count stays (a new
         * count rebuilds every scheme). */
        assert_int_equal(tierd_slots_assign(&slots, &n_slots, t, 3, ret), 0);
        assert_int_equal(n_slots, 3);
        assert_int_equal(slots[2], 0);
        /* 11 leaves too: one of three held, the trailing free slots go. */
        t[1].cgroup = NULL;
        assert_int_equal(tierd_slots_assign(&slots, &n_slots, t, 3, ret), 0);
        assert_int_equal(n_slots, 1);
        t[1].cgroup = "/b";
        t[1].id = 15;
        assert_int_equal(tierd_slots_assign(&slots, &n_slots, t, 2, ret), 0);
        assert_int_equal(n_slots, 2);
        assert_int_equal(ret[1], 1);

        /* A plan over slots: slot 1 free between two held ones. */
        TierdApplyTenant held[2] = { plan_tenants[0], plan_tenants[0] };
        size_t where[2] = { 0, 2 };
        TierdDamonInput in = {
                .sample_s = 0.005,
                .aggr_s = 0.1,
                .local_nid = 0,
                .remote_nid = 1,
                .demote_after_s = 5,
                .tenants = held,
                .n_tenants = 2,
                .slots = where,
                .n_slots = 3,
        };
        _cleanup_(tierd_plan_done) TierdPlan p = {};

        held[1].id = 2;
        held[1].cgroup = "/maio/z";
        assert_int_equal(tierd_plan_damon(&in, &p), 0);
        assert_write(&p, "damon.0.nr_schemes", "7");
        assert_write(&p, "damon.0.scheme.1.action", "migrate_hot");
        assert_write(&p, "damon.0.scheme.1.filter_memcg_path", "/maio/a");
        assert_write(&p, "damon.0.scheme.3.action", "stat");
        assert_write(&p, "damon.0.scheme.3.nr_filters", "0");
        assert_null(plan_value(&p, "damon.0.scheme.3.quota_bytes"));
        assert_write(&p, "damon.0.scheme.4.action", "stat");
        assert_write(&p, "damon.0.scheme.4.nr_filters", "0");
        assert_null(plan_value(&p, "damon.0.scheme.3.filter_memcg_path"));
        assert_write(&p, "damon.0.scheme.5.action", "migrate_hot");
        assert_write(&p, "damon.0.scheme.5.filter_memcg_path", "/maio/z");
        assert_write(&p, "damon.0.scheme.6.action", "migrate_cold");
        assert_null(plan_value(&p, "damon.0.scheme.7.action"));
}

static void test_promotion_demand(void **state) {
        TierDecision d = { .rule = TIER_RULE_THRESHOLDS, .rate_threshold = 100, .burst_threshold = 0.25 };
        TierdRegion regions[] = {
                { .start = 0, .end = 1 << 20, .nr_accesses = 20, .age = 10 },      /* hot and old enough */
                { .start = 1 << 20, .end = 3 << 20, .nr_accesses = 20, .age = 1 }, /* too young */
                { .start = 3 << 20, .end = 7 << 20, .nr_accesses = 2, .age = 10 }, /* too cold */
                { .start = 7 << 20, .end = 9 << 20, .nr_accesses = 8, .age = 3 },  /* at both minimums */
        };
        TierdTelemetry t = { .regions = regions, .n_regions = ELEMENTSOF(regions), .sample_s = 0.005, .aggr_s = 0.1 };
        TierdTenantMem mem = { .valid = true, .remote_bytes = 1 << 30 };

        /* 1 MiB + 2 MiB hot for these thresholds (nr_accesses >= 8, age >= 3), per second. */
        assert_float_equal(tierd_promotion_demand(&d, true, &mem, &t, 1e9, 0), 3145728.0, 0.5);
        /* Capped by what it has on remote nodes ... */
        mem.remote_bytes = 1 << 20;
        assert_float_equal(tierd_promotion_demand(&d, true, &mem, &t, 1e9, 0), 1048576.0, 0.5);
        /* ... and by the decision's own limit. */
        mem.remote_bytes = 1 << 30;
        d.rate_limit_Bps = 4096;
        assert_float_equal(tierd_promotion_demand(&d, true, &mem, &t, 1e9, 0), 4096, 0.5);
        d.rate_limit_Bps = 0;
        /* No snapshot: the whole budget, capped by its remote bytes. */
        assert_float_equal(tierd_promotion_demand(&d, true, &mem, NULL, 1e9, 0), 1e9, 0.5);
        assert_float_equal(tierd_promotion_demand(&d, true, NULL, NULL, 1e9, 0), 1e9, 0.5);
        mem.remote_bytes = 1 << 20;
        assert_float_equal(tierd_promotion_demand(&d, true, &mem, NULL, 1e9, 0), 1048576.0, 0.5);
        /* Nothing to promote: no local node, or a decision that promotes nothing. */
        assert_float_equal(tierd_promotion_demand(&d, false, &mem, &t, 1e9, 0), 0, 0);
        /* A stated rate replaces the snapshot's bound, still capped by the remote bytes. */
        d.rule = TIER_RULE_THRESHOLDS;
        mem.remote_bytes = 1 << 30;
        assert_float_equal(tierd_promotion_demand(&d, true, &mem, &t, 1e9, 5e6), 5e6, 0.5);
        assert_float_equal(tierd_promotion_demand(&d, true, &mem, NULL, 1e9, 5e6), 5e6, 0.5);
        mem.remote_bytes = 1 << 20;
        assert_float_equal(tierd_promotion_demand(&d, true, &mem, &t, 1e9, 5e6), 1048576.0, 0.5);
        assert_float_equal(tierd_promotion_demand(&d, false, &mem, &t, 1e9, 5e6), 0, 0);
        d.rule = TIER_RULE_NEVER;
        assert_float_equal(tierd_promotion_demand(&d, true, &mem, &t, 1e9, 0), 0, 0);
        assert_float_equal(tierd_promotion_demand(&d, true, &mem, &t, 1e9, 5e6), 0, 0);
}

static void test_plan_numab(void **state) {
        TierdNumabInput in = { .mode_original = 1, .tenants = plan_tenants, .n_tenants = 1, .budget_Bps = 16e9 };
        _cleanup_(tierd_plan_done) TierdPlan p = {};
        TierdApplyTenant never = plan_tenants[2];

        assert_int_equal(tierd_plan_numab(&in, &p), 0);
        assert_int_equal(p.n, 3);
        /* Normal balancing (1) is kept and tiering (2) added. */
        assert_write(&p, "kernel.numa_balancing", "3");
        /* 100 accesses/s: hot when the hint fault comes within 10 ms. */
        assert_write(&p, "sched.numa_balancing.hot_threshold_ms", "10");
        assert_write(&p, "kernel.numa_balancing_promote_rate_limit_MBps", "15258");
        tierd_plan_done(&p);

        in.mode_original = -1;
        in.tenants = &never;
        assert_int_equal(tierd_plan_numab(&in, &p), 0);
        assert_write(&p, "kernel.numa_balancing", "2");
        assert_null(plan_value(&p, "sched.numa_balancing.hot_threshold_ms"));
        assert_write(&p, "kernel.numa_balancing_promote_rate_limit_MBps", "0");
        tierd_plan_done(&p);

        in.n_tenants = 0;
        assert_int_equal(tierd_plan_numab(&in, &p), 0);
        assert_int_equal(p.n, 0);
}

/* ---- feedback ---- */

typedef struct FeedbackCase {
        const char *body;
        TierTenantKind kind;
        const char *code; /* NULL: accepted */
} FeedbackCase;

static void test_feedback_parse(void **state) {
        static const FeedbackCase cases[] = {
                { "{\"episode\":3,\"completion_time_s\":41.5}", TIER_TENANT_BATCH, NULL },
                { "{\"episode\":3,\"completion_time_s\":2}", TIER_TENANT_BATCH, NULL },
                { "{\"episode\":1,\"requests_per_s\":900.5}", TIER_TENANT_SERVING, NULL },
                { "{\"episode\":3,\"completion_time_s\":-1}", TIER_TENANT_BATCH, "invalid-value" },
                { "{\"episode\":3,\"completion_time_s\":0}", TIER_TENANT_BATCH, "invalid-value" },
                { "{\"episode\":3,\"completion_time_s\":NaN}", TIER_TENANT_BATCH, "invalid-value" },
                { "{\"episode\":3,\"completion_time_s\":Infinity}", TIER_TENANT_BATCH, "invalid-value" },
                { "{\"episode\":3,\"completion_time_s\":1e999}", TIER_TENANT_BATCH, "invalid-value" },
                { "{\"episode\":3,\"completion_time_s\":\"4\"}", TIER_TENANT_BATCH, "wrong-type" },
                { "{\"episode\":3,\"completion_time_s\":null}", TIER_TENANT_BATCH, "wrong-type" },
                { "{\"episode\":3,\"completion_time_s\":4,\"requests_per_s\":9}", TIER_TENANT_BATCH, "invalid-value" },
                { "{\"episode\":3}", TIER_TENANT_BATCH, "missing-field" },
                { "{\"episode\":3,\"requests_per_s\":9}", TIER_TENANT_BATCH, "invalid-value" },
                { "{\"episode\":3,\"completion_time_s\":9}", TIER_TENANT_SERVING, "invalid-value" },
                { "{\"completion_time_s\":9}", TIER_TENANT_BATCH, "missing-field" },
                { "{\"episode\":0,\"completion_time_s\":9}", TIER_TENANT_BATCH, "invalid-value" },
                { "{\"episode\":-2,\"completion_time_s\":9}", TIER_TENANT_BATCH, "invalid-value" },
                { "{\"episode\":1.5,\"completion_time_s\":9}", TIER_TENANT_BATCH, "wrong-type" },
                { "{\"episode\":\"1\",\"completion_time_s\":9}", TIER_TENANT_BATCH, "wrong-type" },
                { "{\"episode\":1,\"completion_time_s\":9,\"colour\":1}", TIER_TENANT_BATCH, "unknown-field" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                json_object *body = json_tokener_parse(cases[i].body);
                const char *code = NULL;
                TierdFeedback fb = {};
                char msg[256] = "";
                int r;

                if (!body)
                        fail_msg("case %zu does not parse: %s", i, cases[i].body);
                r = tierd_feedback_parse(body, cases[i].kind, &fb, &code, msg, sizeof msg);
                json_object_put(body);
                if (!cases[i].code) {
                        if (r != 0)
                                fail_msg("case %zu (%s) rejected: %s", i, cases[i].body, msg);
                        continue;
                }
                if (r != -EINVAL || !code || strcmp(code, cases[i].code) != 0)
                        fail_msg("case %zu (%s): r=%d code=%s, expected %s", i, cases[i].body, r, code ?: "-",
                                 cases[i].code);
                assert_true(msg[0] != '\0');
        }
}

static void test_feedback_values(void **state) {
        json_object *body = json_tokener_parse("{\"episode\":7,\"requests_per_s\":250}");
        const char *code = NULL;
        TierdFeedback fb;
        char msg[64];

        assert_int_equal(tierd_feedback_parse(body, TIER_TENANT_SERVING, &fb, &code, msg, sizeof msg), 0);
        assert_int_equal(fb.episode, 7);
        assert_int_equal(fb.metric, TIERD_METRIC_REQUESTS_PER_S);
        assert_near(fb.value, 250);
        json_object_put(body);
        assert_string_equal(tierd_metric_to_string(TIERD_METRIC_COMPLETION_TIME), "completion_time_s");
        assert_int_equal(tierd_kind_from_class("serving"), TIER_TENANT_SERVING);
        assert_int_equal(tierd_kind_from_class("batch"), TIER_TENANT_BATCH);
        assert_int_equal(tierd_kind_from_class("interactive"), -EINVAL);
        assert_true(tierd_policy_selectable("indigo") && tierd_policy_selectable("static"));
        assert_false(tierd_policy_selectable("ewma") || tierd_policy_selectable("grid") ||
                     tierd_policy_selectable("none") || tierd_policy_selectable(NULL));
}

/* ---- transfer ---- */

static void test_nearest(void **state) {
        const TierdModelCandidate c[] = {
                { .id = 10, .features = { 0.9, 0.9, 0.1, 0, 0 } },
                { .id = 11, .features = { 0.1, 0.5, 0.5, 0.2, 0.5 } },
                { .id = 12, .features = { 0.1, 0.5, 0.5, 0.2, 0.5 } }, /* a tie: the earlier (newer) wins */
                { .id = 13, .features = { 0, 0, 0, 0, 0 } },
        };
        const double near11[TIER_N_FEATURES] = { 0.15, 0.5, 0.45, 0.2, 0.5 };
        const double origin[TIER_N_FEATURES] = { 0, 0, 0, 0, 0.1 };

        assert_int_equal(tierd_model_nearest(c, ELEMENTSOF(c), near11), 1);
        assert_int_equal(tierd_model_nearest(c, ELEMENTSOF(c), origin), 3);
        assert_int_equal(tierd_model_nearest(c, 1, origin), 0);
        assert_int_equal(tierd_model_nearest(c, 0, origin), -ENOENT);
}

static TierdAnchor anchor_sample(TierTenantKind kind, uint64_t bucket, unsigned action, double reward, double f0) {
        return (TierdAnchor) {
                .kind = kind,
                .bucket = bucket,
                .action = action,
                .rate_threshold = 10.0 * (action + 1),
                .burst_threshold = 0.01,
                .features = { f0, 0.5, 0.5, 0, 0 },
                .reward = reward,
                .samples = 1,
                .tenant_id = 7,
                .updated_usec = 1000,
        };
}

static void test_anchor_fold(void **state) {
        TierdAnchor a = {}, x = anchor_sample(TIER_TENANT_BATCH, 3, 5, 0.2, 0.1);
        TierdAnchorSet set = {};

        /* The first sample becomes the entry; later ones move the means. */
        assert_int_equal(tierd_anchor_fold(&a, &x), 0);
        assert_int_equal(a.samples, 1);
        assert_near(a.reward, 0.2);
        x = anchor_sample(TIER_TENANT_BATCH, 3, 5, 0.5, 0.3);
        x.tenant_id = 9;
        assert_int_equal(tierd_anchor_fold(&a, &x), 0);
        assert_int_equal(a.samples, 2);
        assert_near(a.reward, 0.35);
        assert_near(a.features[0], 0.2);
        assert_int_equal(a.tenant_id, 9);
        x.reward = NAN;
        assert_int_equal(tierd_anchor_fold(&a, &x), -EINVAL);
        assert_int_equal(a.samples, 2);

        /* put replaces the entry of its (kind, bucket, action) or appends one. */
        assert_int_equal(tierd_anchor_put(&set, &a), 0);
        a.reward = 0.4;
        assert_int_equal(tierd_anchor_put(&set, &a), 0);
        assert_int_equal(set.n, 1);
        assert_near(set.v[0].reward, 0.4);
        x = anchor_sample(TIER_TENANT_SERVING, 3, 5, 0.1, 0.1);
        assert_int_equal(tierd_anchor_put(&set, &x), 1);
        assert_int_equal(tierd_anchor_find(&set, TIER_TENANT_SERVING, 3, 5), 1);
        assert_int_equal(tierd_anchor_find(&set, TIER_TENANT_BATCH, 3, 5), 0);
        assert_int_equal(tierd_anchor_find(&set, TIER_TENANT_BATCH, 3, 6), -ENOENT);
        /* A bound on entries. */
        for (unsigned i = 0; set.n < TIERD_ANCHORS_MAX; i++) {
                x = anchor_sample(TIER_TENANT_BATCH, 100 + i, 0, 0, 0.9);
                assert_true(tierd_anchor_put(&set, &x) >= 0);
        }
        x = anchor_sample(TIER_TENANT_BATCH, 99, 0, 0, 0.9);
        assert_int_equal(tierd_anchor_put(&set, &x), -ENOSPC);
        a.reward = 0.6; /* an existing entry still updates when full */
        assert_int_equal(tierd_anchor_put(&set, &a), 0);
        tierd_anchor_set_done(&set);
        assert_null(set.v);
}

static void test_anchor_nearest(void **state) {
        TierdAnchorSet set = {};
        const TierdAnchor v[] = {
                anchor_sample(TIER_TENANT_BATCH, 1, 0, 0.1, 0.10),   /* bucket 1: nearest to 0.12 */
                anchor_sample(TIER_TENANT_BATCH, 1, 4, 0.3, 0.14),   /* bucket 1's best action */
                anchor_sample(TIER_TENANT_BATCH, 1, 2, 0.3, 0.15),   /* as good, fewer samples below */
                anchor_sample(TIER_TENANT_BATCH, 2, 7, 0.9, 0.60),   /* better but far */
                anchor_sample(TIER_TENANT_SERVING, 1, 9, 0.9, 0.12), /* another kind */
        };
        const double f[TIER_N_FEATURES] = { 0.12, 0.5, 0.5, 0, 0 };
        double d = -1;
        int i;

        assert_int_equal(tierd_anchor_nearest(&set, TIER_TENANT_BATCH, f, 1, &d), -ENOENT);
        for (size_t k = 0; k < ELEMENTSOF(v); k++)
                assert_int_equal(tierd_anchor_put(&set, &v[k]), (int) k);
        set.v[1].samples = 3;
        /* The nearest entry's bucket, then its best action (equal rewards: more samples). */
        i = tierd_anchor_nearest(&set, TIER_TENANT_BATCH, f, 1, &d);
        assert_int_equal(i, 1);
        assert_near(d, 0.02);
        /* Equal rewards and samples: the lower action. */
        set.v[1].samples = 1;
        assert_int_equal(tierd_anchor_nearest(&set, TIER_TENANT_BATCH, f, 1, &d), 2);
        /* Beyond max_distance nothing serves; the other kind has its own anchors. */
        assert_int_equal(tierd_anchor_nearest(&set, TIER_TENANT_BATCH, f, 0.01, &d), -ENOENT);
        assert_int_equal(tierd_anchor_nearest(&set, TIER_TENANT_SERVING, f, 0.01, &d), 4);
        assert_near(d, 0);
        /* Closer to bucket 2: its action, however bucket 1 fares. */
        {
                const double g[TIER_N_FEATURES] = { 0.55, 0.5, 0.5, 0, 0 };

                assert_int_equal(tierd_anchor_nearest(&set, TIER_TENANT_BATCH, g, 1, &d), 3);
                assert_near(d, 0.05);
        }
        tierd_anchor_set_done(&set);
}

static void test_features_json(void **state) {
        static const char *const bad[] = { "[0.1,0.2,0.3,0.4]", "[0.1,0.2,0.3,0.4,1.5]",  "[0.1,0.2,0.3,0.4,\"a\"]",
                                           "{\"a\":1}",         "[0.1,0.2,0.3,0.4,-0.1]", "[0.1,0.2,0.3,0.4,NaN]" };
        const double f[TIER_N_FEATURES] = { 0, 0.25, 0.5, 0.75, 1 };
        json_object *j = tierd_features_to_json(f);
        double g[TIER_N_FEATURES];

        assert_int_equal(tierd_features_from_json(j, g), 0);
        assert_memory_equal(f, g, sizeof f);
        json_object_put(j);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                j = json_tokener_parse(bad[i]);
                if (tierd_features_from_json(j, g) != -EINVAL)
                        fail_msg("%s accepted as features", bad[i]);
                json_object_put(j);
        }
}

static void test_reseed(void **state) {
        _cleanup_(policy_freep) TierPolicy *p = NULL, *q = NULL, *fresh = NULL;
        TierContext ctx = { 0.2, 0.5, 0.4, 0.1, 0.3, 1e9, 1e-7, 0, 4096 };
        TierPolicyParams pp;
        TierDecision d1, d2;
        json_object *j;

        policy_params_default(&pp);
        pp.seed = 1;
        assert_int_equal(policy_new("linucb", &pp, &p), 0);
        assert_int_equal(policy_update(p, &ctx, 3, 0.5), 0);
        assert_int_equal(policy_to_json(p, &j), 0);
        assert_int_equal(tierd_model_reseed(j, 42), 0);
        assert_int_equal(policy_from_json(j, &q), 0);
        json_object_put(j);
        /* The learnt state stays, the randomness is that of seed 42. */
        assert_int_equal(policy_params(q)->seed, 42);
        pp.seed = 42;
        assert_int_equal(policy_new("linucb", &pp, &fresh), 0);
        assert_int_equal(policy_greedy(q, &ctx, &d1), 0);
        assert_int_equal(policy_greedy(p, &ctx, &d2), 0);
        assert_int_equal(d1.action, d2.action);
        {
                json_object *a, *b, *ra, *rb;

                assert_int_equal(policy_to_json(q, &a), 0);
                assert_int_equal(policy_to_json(fresh, &b), 0);
                assert_true(json_object_object_get_ex(a, "rng", &ra));
                assert_true(json_object_object_get_ex(b, "rng", &rb));
                assert_true(json_object_equal(ra, rb));
                json_object_put(a);
                json_object_put(b);
        }
        j = json_tokener_parse("[1,2]");
        assert_int_equal(tierd_model_reseed(j, 1), -EINVAL);
        assert_int_equal(tierd_model_check_bounds(j), -EINVAL);
        json_object_put(j);
}

static void test_model_bounds(void **state) {
        static const char *const bad[] = {
                "{\"params\":{\"hidden\":257}}",
                "{\"params\":{\"train_steps\":4000000000}}",
                "{\"params\":{\"batch\":\"32\"}}",
                "{\"params\":{\"replay\":1048577}}",
                "{\"params\":[]}",
                "{}",
        };
        _cleanup_(policy_freep) TierPolicy *p = NULL;
        TierPolicyParams pp;
        json_object *j;

        policy_params_default(&pp);
        assert_int_equal(policy_new("indigo", &pp, &p), 0);
        assert_int_equal(policy_to_json(p, &j), 0);
        assert_int_equal(tierd_model_check_bounds(j), 0); /* the defaults are fine */
        json_object_put(j);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                j = json_tokener_parse(bad[i]);
                if (tierd_model_check_bounds(j) != -EINVAL)
                        fail_msg("%s passes the bounds", bad[i]);
                json_object_put(j);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_vmstat),    cmocka_unit_test(test_parse_psi_meminfo),
                cmocka_unit_test(test_tiers),           cmocka_unit_test(test_parse_numa_stat),
                cmocka_unit_test(test_read_fixture),    cmocka_unit_test(test_context),
                cmocka_unit_test(test_demote_rate),     cmocka_unit_test(test_context_json),
                cmocka_unit_test(test_nr_accesses),     cmocka_unit_test(test_plan_damon),
                cmocka_unit_test(test_slots_assign),    cmocka_unit_test(test_promotion_demand),
                cmocka_unit_test(test_plan_numab),      cmocka_unit_test(test_feedback_parse),
                cmocka_unit_test(test_feedback_values), cmocka_unit_test(test_nearest),
                cmocka_unit_test(test_anchor_fold),     cmocka_unit_test(test_anchor_nearest),
                cmocka_unit_test(test_features_json),   cmocka_unit_test(test_reseed),
                cmocka_unit_test(test_model_bounds),
        };

        fixtures_dir = getenv("MAIO_FIXTURES");
        if (!fixtures_dir) {
                fprintf(stderr, "MAIO_FIXTURES is not set; run through meson test\n");
                return 1;
        }
        snprintf(free_root, sizeof free_root, "%s/tier-free", fixtures_dir);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
