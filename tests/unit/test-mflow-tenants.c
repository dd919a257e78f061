/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for daemon/mflow/mflow-tenants.c: declared addresses parsed, a process's network
 * namespace addresses read from a hand-written ROOT/proc/PID/net (loopback and link-local left
 * out), its start time, and the owner of a flow (declared addresses first, then namespaces). */
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
#include "mflow-tenants.h"
#include "testgroups.h"
#include "testutil.h"

static const TestFile netns_files[] = {
        { "proc/123/net/fib_trie", "Main:\n"
                                   "  +-- 0.0.0.0/0 3 0 5\n"
                                   "     |-- 0.0.0.0\n"
                                   "        /0 universe UNICAST\n"
                                   "     +-- 127.0.0.0/8 2 0 2\n"
                                   "           |-- 127.0.0.1\n"
                                   "              /32 host LOCAL\n"
                                   "     +-- 10.80.0.0/24 2 0 2\n"
                                   "           |-- 10.80.0.0\n"
                                   "              /24 link UNICAST\n"
                                   "           |-- 10.80.0.2\n"
                                   "              /32 host LOCAL\n"
                                   "        |-- 10.80.0.255\n"
                                   "           /32 link BROADCAST\n"
                                   "Local:\n"
                                   "           |-- 10.80.0.2\n"
                                   "              /32 host LOCAL\n" },
        { "proc/123/net/if_inet6", "fd000000000000000000000000000002 04 40 00 82     eth0\n"
                                   "fe8000000000000000fc00fffe000001 04 40 20 80     eth0\n"
                                   "00000000000000000000000000000001 01 80 10 80       lo\n" },
        { "proc/123/stat", "123 (a (weird) name) S 1 123 123 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 987654 1 2 3\n" },
};

static int setup(void **state) {
        *state = testutil_files_tree("mflow-tenants", netns_files, ELEMENTSOF(netns_files));
        return *state ? 0 : -1;
}

static void v4(uint8_t a[16], uint8_t x, uint8_t y, uint8_t z, uint8_t w) {
        memset(a, 0, 16);
        a[10] = a[11] = 0xff;
        a[12] = x, a[13] = y, a[14] = z, a[15] = w;
}

static void test_parse(void **state) {
        MflowAddrSet s;
        uint8_t a[16];

        assert_int_equal(mflow_addrs_parse("10.80.0.1 fd00::1, junk 10.80.0.1", &s), 2);
        v4(a, 10, 80, 0, 1);
        assert_memory_equal(s.a[0], a, 16);
        assert_int_equal(s.a[1][0], 0xfd);
        assert_int_equal(s.a[1][15], 1);
        assert_int_equal(mflow_addrs_parse(NULL, &s), 0);
        assert_int_equal(mflow_addrs_parse("", &s), 0);
}

static void test_netns(void **state) {
        const char *root = *state;
        MflowAddrSet s;
        uint64_t start = 0;
        uint8_t a[16];

        assert_int_equal(mflow_netns_addrs(root, 123, &s), 2); /* 10.80.0.2 once, fd00::2; no lo, no fe80 */
        v4(a, 10, 80, 0, 2);
        assert_memory_equal(s.a[0], a, 16);
        assert_int_equal(s.a[1][0], 0xfd);
        assert_int_equal(s.a[1][15], 2);
        assert_int_equal(mflow_netns_addrs(root, 124, &s), -ENOENT);
        assert_int_equal(mflow_netns_addrs(root, 0, &s), -EINVAL);
        assert_int_equal(mflow_pid_starttime(root, 123, &start), 0);
        assert_int_equal(start, 987654);
        assert_int_equal(mflow_pid_starttime(root, 124, &start), -ENOENT);
}

static void test_owner(void **state) {
        MflowOwner o[3] = {
                { .tenant_id = 1, .declared = false },
                { .tenant_id = 2, .declared = true },
                { .tenant_id = 3, .declared = true },
        };
        struct mflow_key k = { .sport = 1, .dport = 2, .proto = 6 };

        mflow_addrs_parse("10.80.0.2", &o[0].addrs); /* a namespace holding the destination */
        mflow_addrs_parse("10.80.0.9", &o[1].addrs);
        mflow_addrs_parse("10.80.0.2 10.80.0.3", &o[2].addrs); /* declared: wins over the namespace */
        v4(k.src, 10, 80, 0, 1);
        v4(k.dst, 10, 80, 0, 2);
        assert_int_equal(mflow_owner_find(o, 3, &k), 2);
        assert_int_equal(mflow_owner_find(o, 2, &k), 0);
        v4(k.dst, 10, 80, 0, 7);
        assert_int_equal(mflow_owner_find(o, 3, &k), -1); /* unattributed */
        v4(k.src, 10, 80, 0, 9);                          /* the source counts too */
        assert_int_equal(mflow_owner_find(o, 3, &k), 1);
        assert_int_equal(mflow_owner_find(NULL, 0, &k), -1);
}

static const struct CMUnitTest tests_any_host[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test_setup_teardown(test_netns, setup, testutil_files_tree_teardown),
        cmocka_unit_test(test_owner),
};

static const TestGroup groups[] = {
        TEST_GROUP(NULL, NULL, tests_any_host),
};

int main(int argc, char **argv) {
        if (testutil_fixtures_init() < 0)
                return 1;
        return testgroups_run(argc, argv, groups, ELEMENTSOF(groups));
}
