/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for daemon/mflow/mflow-cores.c: the snapshot read from the fixture trees mflow-6cpu
 * (two nodes, the device on node 1 with its interrupts on CPU 3, RPS on CPU 0, CPU 5 isolated) and
 * mflow-2cpu, the load between two snapshots, and the assignment: preferences, degradation with
 * its reason, priority order when cores are scarce, hysteresis, and poller CPUs left out. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cleanup.h"
#include "mflow-cores.h"
#include "testgroups.h"
#include "testutil.h"

static int setup_6cpu(void **state) {
        return testutil_tree_setup("mflow-cores", "mflow-6cpu", false);
}

static int setup_2cpu(void **state) {
        return testutil_tree_setup("mflow-cores", "mflow-2cpu", false);
}

static int teardown(void **state) {
        return testutil_tree_teardown(state);
}

static void test_cpulist(void **state) {
        bool set[16] = {};

        assert_int_equal(mflow_cpulist_parse("0-2,5,7-8\n", set, 16), 0);
        for (unsigned i = 0; i < 16; i++)
                assert_int_equal(set[i], i <= 2 || i == 5 || i == 7 || i == 8);
        assert_int_equal(mflow_cpulist_parse("", set, 16), 0);
        assert_int_equal(mflow_cpulist_parse("3-1", set, 16), -EINVAL);
        assert_int_equal(mflow_cpulist_parse("(null)", set, 16), -EINVAL);
        assert_int_equal(mflow_cpulist_parse("1,x", set, 16), -EINVAL);
}

static void test_snapshot_6cpu(void **state) {
        MflowSnapshot s;

        assert_int_equal(mflow_snapshot_load(testutil_tree.root, "eth0", &s), 0);
        assert_int_equal(s.n_cpus, 6);
        assert_int_equal(mflow_snapshot_online(&s), 6);
        assert_int_equal(s.dev_node, 1);
        assert_int_equal(s.n_irqs, 2); /* eth0-TxRx-0 and -1, not eth01-TxRx-0 */
        for (unsigned i = 0; i < 6; i++) {
                assert_int_equal(s.cpus[i].online, true);
                assert_int_equal(s.cpus[i].isolated, i == 5);
                assert_int_equal(s.cpus[i].nohz_full, false);
                assert_int_equal(s.cpus[i].irq, i == 3);
                assert_int_equal(s.cpus[i].rps, i == 0);
                assert_int_equal(s.cpus[i].node, i < 3 ? 0 : 1);
                assert_int_equal(s.cpus[i].net_rx, 1000 * (i + 1));
                assert_int_equal(s.cpus[i].softirq_ticks, 100);
                assert_int_equal(s.cpus[i].total_ticks, 1000);
        }
        /* Without the device: no device facts. */
        assert_int_equal(mflow_snapshot_load(testutil_tree.root, NULL, &s), 0);
        assert_int_equal(s.dev_node, -1);
        assert_int_equal(s.n_irqs, 0);
        assert_false(s.cpus[3].irq);
        assert_int_equal(mflow_snapshot_load(testutil_tree.root, "../x", &s), -EINVAL);
}

static void test_snapshot_missing(void **state) {
        MflowSnapshot s;

        /* Only cpu/online is required. */
        assert_int_equal(mflow_snapshot_load(testutil_tree.root, "eth9", &s), 0);
        assert_int_equal(s.n_cpus, 2);
        assert_int_equal(s.dev_node, -1);
        testutil_sh("rm %s/sys/devices/system/cpu/online", testutil_tree.root);
        assert_int_equal(mflow_snapshot_load(testutil_tree.root, "eth9", &s), -ENOENT);
}

/* The second snapshot's /proc/stat: CPU i spent soft[i] of 1000 new ticks in softirq. */
static void load_6cpu(MflowSnapshot *prev, MflowSnapshot *cur, double *load, const unsigned soft[6]) {
        char text[1024];
        size_t len = 0;

        assert_int_equal(mflow_snapshot_load(testutil_tree.root, "eth0", prev), 0);
        for (unsigned i = 0; i < 6; i++)
                len += (size_t) snprintf(text + len, sizeof(text) - len, "cpu%u 100 0 100 %u 0 0 %u 0 0 0\n", i,
                                         700 + 1000 - soft[i], 100 + soft[i]);
        testutil_put_text("proc/stat", text);
        assert_int_equal(mflow_snapshot_load(testutil_tree.root, "eth0", cur), 0);
        mflow_load_compute(prev, cur, load);
}

static void test_load(void **state) {
        static const unsigned soft[6] = { 500, 300, 50, 200, 100, 0 };
        MflowSnapshot prev, cur;
        double load[MFLOW_MAX_CPUS];

        load_6cpu(&prev, &cur, load, soft);
        for (unsigned i = 0; i < 6; i++)
                assert_true(load[i] > soft[i] / 10.0 - 0.001 && load[i] < soft[i] / 10.0 + 0.001);
        mflow_load_compute(NULL, &cur, load);
        for (unsigned i = 0; i < 6; i++)
                assert_true(load[i] == 0);
        /* Counters that went backwards (a CPU came back) are no load, not a huge one. */
        mflow_load_compute(&cur, &prev, load);
        for (unsigned i = 0; i < 6; i++)
                assert_true(load[i] == 0);
}

static void assert_cores(const MflowCoreAssignment *a, unsigned n, const unsigned *want) {
        assert_int_equal(a->n, n);
        for (unsigned i = 0; i < n; i++)
                assert_int_equal(a->cores[i], want[i]);
}

static void test_assign_preferences_priority(void **state) {
        static const unsigned soft[6] = { 500, 300, 50, 200, 100, 0 };
        MflowSnapshot prev, cur;
        double load[MFLOW_MAX_CPUS];
        /* Listed out of priority order: the priority-0 flow is second. */
        MflowCoreRequest reqs[3] = {
                { .priority = 1, .want = 2 },
                { .priority = 0, .want = 2 },
                { .priority = 2, .want = 2 },
        };
        MflowCoreAssignment a[3];

        load_6cpu(&prev, &cur, load, soft);
        assert_int_equal(mflow_cores_assign(&cur, load, 20, reqs, 3, a), 0);
        /* Priority 0: CPU 4 is the one preferred CPU (node 1, no interrupts, not isolated); CPU 2 is
         * the least loaded of the others (other node). */
        assert_cores(&a[1], 2, (const unsigned[]) { 4, 2 });
        assert_true(a[1].degraded && a[1].moved);
        assert_non_null(strstr(a[1].reason, "degraded:"));
        assert_non_null(strstr(a[1].reason, "cpu 2 (other NUMA node)"));
        assert_null(strstr(a[1].reason, "cpu 4"));
        /* Priority 1: untaken CPUs by load: 3 (interrupts, 20%), then 1 (other node, 30%). */
        assert_cores(&a[0], 2, (const unsigned[]) { 3, 1 });
        assert_non_null(strstr(a[0].reason, "cpu 3 (device interrupts)"));
        assert_non_null(strstr(a[0].reason, "cpu 1 (other NUMA node)"));
        /* Priority 2: the last untaken non-isolated CPU (0: RPS, other node), then the least loaded
         * shared one; the isolated CPU 5 (idle) comes after every shared one. */
        assert_cores(&a[2], 2, (const unsigned[]) { 0, 2 });
        assert_non_null(strstr(a[2].reason, "cpu 0 (device RPS, other NUMA node)"));
        assert_non_null(strstr(a[2].reason, "shared with another flow"));

        /* cores_per_flow 0 or above MFLOW_MAX_CORES */
        reqs[0].want = 0;
        assert_int_equal(mflow_cores_assign(&cur, load, 20, reqs, 3, a), -EINVAL);
        reqs[0].want = MFLOW_MAX_CORES + 1;
        assert_int_equal(mflow_cores_assign(&cur, load, 20, reqs, 3, a), -EINVAL);
}

static void test_assign_preferred_enough(void **state) {
        MflowSnapshot s;
        double load[MFLOW_MAX_CPUS] = { 0, 0, 0, 0, 0, 0 };
        MflowCoreRequest req = { .want = 1 };
        MflowCoreAssignment a;

        assert_int_equal(mflow_snapshot_load(testutil_tree.root, "eth0", &s), 0);
        assert_int_equal(mflow_cores_assign(&s, load, 20, &req, 1, &a), 0);
        assert_cores(&a, 1, (const unsigned[]) { 4 });
        assert_false(a.degraded);
        assert_string_equal(a.reason, "");
}

/* A poller CPU ([pools] poller_cpus) is no candidate: not the preferred CPU 4, not a filler when
 * cores are scarce, not kept as a current core; only when every online CPU is one. */
static void test_assign_pollers(void **state) {
        MflowSnapshot s;
        double load[MFLOW_MAX_CPUS] = {};
        MflowCoreRequest req = { .want = 1 };
        MflowCoreAssignment a;

        assert_int_equal(mflow_snapshot_load(testutil_tree.root, "eth0", &s), 0);
        s.cpus[4].poller = true;
        assert_int_equal(mflow_cores_assign(&s, load, 20, &req, 1, &a), 0);
        assert_int_equal(a.n, 1);
        assert_int_not_equal(a.cores[0], 4);
        req = (MflowCoreRequest) { .want = 6, .n_cur = 1, .cur = { 4 } };
        assert_int_equal(mflow_cores_assign(&s, load, 100, &req, 1, &a), 0);
        assert_int_equal(a.n, 5);
        for (unsigned i = 0; i < a.n; i++)
                assert_int_not_equal(a.cores[i], 4);
        assert_true(a.moved);
        for (unsigned i = 0; i < s.n_cpus; i++)
                s.cpus[i].poller = true;
        req = (MflowCoreRequest) { .want = 1 };
        assert_int_equal(mflow_cores_assign(&s, load, 20, &req, 1, &a), 0);
        assert_cores(&a, 1, (const unsigned[]) { 4 });
}

static void test_assign_latency(void **state) {
        MflowSnapshot s;
        double load[MFLOW_MAX_CPUS] = {};
        MflowCoreRequest req = { .want = 1 };
        MflowCoreAssignment a;

        assert_int_equal(mflow_snapshot_load(testutil_tree.root, "eth0", &s), 0);
        assert_int_equal(mflow_snapshot_add_latency(testutil_tree.root, "/web", &s), -ENOENT);
        assert_int_equal(mflow_snapshot_add_latency(testutil_tree.root, "/../x", &s), -EINVAL);
        /* A serving tenant's cpuset holds CPU 4, the one preferred CPU (cpuset.cpus when there is
         * no effective list). */
        testutil_sh("mkdir -p %s/sys/fs/cgroup/web", testutil_tree.root);
        testutil_put_text("sys/fs/cgroup/web/cpuset.cpus", "4\n");
        assert_int_equal(mflow_snapshot_add_latency(testutil_tree.root, "/web", &s), 0);
        for (unsigned i = 0; i < 6; i++)
                assert_int_equal(s.cpus[i].latency, i == 4);
        assert_int_equal(mflow_cores_assign(&s, load, 20, &req, 1, &a), 0);
        assert_int_equal(a.n, 1);
        assert_true(a.cores[0] != 4 && a.degraded);
        /* ... and with CPU 4 the least loaded of all, the reason names the tenant. */
        for (unsigned i = 0; i < 6; i++)
                load[i] = i == 4 ? 0 : 50;
        req.want = 6;
        assert_int_equal(mflow_cores_assign(&s, load, 20, &req, 1, &a), 0);
        assert_non_null(strstr(a.reason, "cpu 4 (latency-critical tenant)"));
        /* The effective list wins over cpuset.cpus. */
        testutil_put_text("sys/fs/cgroup/web/cpuset.cpus.effective", "1-2\n");
        assert_int_equal(mflow_snapshot_load(testutil_tree.root, "eth0", &s), 0);
        assert_int_equal(mflow_snapshot_add_latency(testutil_tree.root, "web", &s), 0);
        for (unsigned i = 0; i < 6; i++)
                assert_int_equal(s.cpus[i].latency, i == 1 || i == 2);
}

static void test_assign_hysteresis(void **state) {
        static const unsigned soft[6] = { 500, 300, 50, 200, 100, 0 };
        MflowSnapshot prev, cur;
        double load[MFLOW_MAX_CPUS];
        MflowCoreRequest req = { .want = 2, .n_cur = 2, .cur = { 4, 1 } };
        MflowCoreAssignment a;

        load_6cpu(&prev, &cur, load, soft);
        /* CPU 1 (30%) exceeds the least loaded free candidate, CPU 2 (5%), by 25 points. */
        assert_int_equal(mflow_cores_assign(&cur, load, 30, &req, 1, &a), 0);
        assert_cores(&a, 2, (const unsigned[]) { 4, 1 });
        assert_false(a.moved);
        assert_int_equal(mflow_cores_assign(&cur, load, 20, &req, 1, &a), 0);
        assert_cores(&a, 2, (const unsigned[]) { 4, 2 });
        assert_true(a.moved);
        /* A current core that lost its preference while a preferred one is free leaves at once. */
        req = (MflowCoreRequest) { .want = 1, .n_cur = 1, .cur = { 2 } };
        assert_int_equal(mflow_cores_assign(&cur, load, 100, &req, 1, &a), 0);
        assert_cores(&a, 1, (const unsigned[]) { 4 });
        assert_true(a.moved);
        /* An offline current core is replaced. */
        testutil_put_text("sys/devices/system/cpu/online", "0-3,5\n");
        assert_int_equal(mflow_snapshot_load(testutil_tree.root, "eth0", &cur), 0);
        req = (MflowCoreRequest) { .want = 2, .n_cur = 2, .cur = { 4, 2 } };
        assert_int_equal(mflow_cores_assign(&cur, load, 100, &req, 1, &a), 0);
        assert_int_equal(a.n, 2);
        assert_true(a.cores[0] != 4 && a.cores[1] != 4);
        assert_true(a.moved);
}

static void test_assign_2cpu(void **state) {
        MflowSnapshot s;
        double load[MFLOW_MAX_CPUS] = {};
        MflowCoreRequest reqs[2] = { { .want = 2 }, { .want = 4 } };
        MflowCoreAssignment a[2];

        assert_int_equal(mflow_snapshot_load(testutil_tree.root, "veth0", &s), 0);
        assert_int_equal(mflow_cores_assign(&s, load, 20, reqs, 2, a), 0);
        /* Each flow gets both CPUs; the first without degradation, the second sharing them (and
         * never more cores than there are CPUs). */
        assert_cores(&a[0], 2, (const unsigned[]) { 0, 1 });
        assert_false(a[0].degraded);
        assert_int_equal(a[1].n, 2);
        assert_true(a[1].degraded);
        assert_non_null(strstr(a[1].reason, "shared with another flow"));
}

static void test_masks(void **state) {
        bool set[70] = {};
        char buf[64];

        mflow_cpumask_format(set, 70, buf, sizeof(buf));
        assert_string_equal(buf, "0");
        mflow_cpulist_format(set, 70, buf, sizeof(buf));
        assert_string_equal(buf, "");
        set[0] = set[1] = true;
        mflow_cpumask_format(set, 70, buf, sizeof(buf));
        assert_string_equal(buf, "3");
        set[4] = set[5] = set[6] = true;
        mflow_cpulist_format(set, 70, buf, sizeof(buf));
        assert_string_equal(buf, "0-1,4-6");
        set[32] = set[69] = true;
        mflow_cpumask_format(set, 70, buf, sizeof(buf));
        assert_string_equal(buf, "20,00000001,00000073");
        mflow_cpulist_format(set, 70, buf, sizeof(buf));
        assert_string_equal(buf, "0-1,4-6,32,69");
}

/* The fixture's rx-0 and rx-1 of eth0, and its NAPI threads in proc/PID/comm: napi/eth0-8193 and
 * -8194 are eth0's, napi/eth01-8195 is another device's, napi/eth0-x and a kworker are no NAPI
 * threads, napi/verylongde is a name an older kernel cut at 15 characters and
 * napi/verylongdev0-8200 one a newer kernel shows whole. */
static void test_queues_threads(void **state) {
        unsigned q[8];
        MflowNapiThread t[8];

        assert_int_equal(mflow_rx_queues(testutil_tree.root, "eth0", q, 8), 2);
        assert_int_equal(q[0], 0);
        assert_int_equal(q[1], 1);
        assert_int_equal(mflow_rx_queues(testutil_tree.root, "eth0", q, 1), 1);
        assert_int_equal(mflow_rx_queues(testutil_tree.root, "nosuch0", q, 8), -ENODEV);
        assert_int_equal(mflow_rx_queues(testutil_tree.root, "../eth0", q, 8), -EINVAL);

        assert_int_equal(mflow_napi_threads(testutil_tree.root, "eth0", t, 8), 2);
        assert_int_equal(t[0].pid, 4100);
        assert_string_equal(t[0].comm, "napi/eth0-8194");
        assert_int_equal(t[1].pid, 4101);
        assert_string_equal(t[1].comm, "napi/eth0-8193");
        assert_int_equal(mflow_napi_threads(testutil_tree.root, "eth01", t, 8), 1);
        assert_int_equal(t[0].pid, 4102);
        assert_int_equal(mflow_napi_threads(testutil_tree.root, "verylongdev0", t, 8), 2);
        assert_int_equal(t[0].pid, 4104);
        assert_int_equal(t[1].pid, 4106);
        assert_string_equal(t[1].comm, "napi/verylongdev0-8200");
        assert_int_equal(mflow_napi_threads(testutil_tree.root, "eth1", t, 8), 0);
        assert_int_equal(mflow_napi_threads(testutil_tree.root, "a/b", t, 8), -EINVAL);
}

static const struct CMUnitTest tests_any_host[] = {
        cmocka_unit_test(test_masks),
        cmocka_unit_test_setup_teardown(test_queues_threads, setup_6cpu, teardown),
        cmocka_unit_test(test_cpulist),
        cmocka_unit_test_setup_teardown(test_snapshot_6cpu, setup_6cpu, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_missing, setup_2cpu, teardown),
        cmocka_unit_test_setup_teardown(test_load, setup_6cpu, teardown),
        cmocka_unit_test_setup_teardown(test_assign_preferences_priority, setup_6cpu, teardown),
        cmocka_unit_test_setup_teardown(test_assign_preferred_enough, setup_6cpu, teardown),
        cmocka_unit_test_setup_teardown(test_assign_latency, setup_6cpu, teardown),
        cmocka_unit_test_setup_teardown(test_assign_pollers, setup_6cpu, teardown),
        cmocka_unit_test_setup_teardown(test_assign_hysteresis, setup_6cpu, teardown),
        cmocka_unit_test_setup_teardown(test_assign_2cpu, setup_2cpu, teardown),
};

static const TestGroup groups[] = {
        TEST_GROUP(NULL, NULL, tests_any_host),
};

int main(int argc, char **argv) {
        if (testutil_fixtures_init() < 0)
                return 1;
        return testgroups_run(argc, argv, groups, ELEMENTSOF(groups));
}
