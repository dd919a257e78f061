/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for daemon/host/knobs.c: names and patterns, validation, resolution
 * below a root (symlinks included), enumeration, and write/verify/triage on a
 * temp copy of tests/fixtures/knobs-host. Errnos come from real files where one
 * can produce them (directory, FIFO, immutable file, read-only bind mount, a
 * sysctl in a private network namespace); only EBUSY-then-success and a
 * kernel keeping less than asked go through the write seam. The cases needing a
 * capability a host may lack are groups of their own (unit-knobs-live-*). */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cleanup.h"
#include "knobs.h"
#include "testgroups.h"
#include "testutil.h"

#define EXIT_SKIP 77

/* ---- helpers ---- */

/* A fresh copy of the fixture tree at testutil_tree.root for every test that writes. */
static int setup_copy(void **state) {
        return testutil_tree_setup("knobs", "knobs-host", false);
}

static int teardown_copy(void **state) {
        testutil_sh("chattr -R -i '%s' 2>/dev/null; rm -rf '%s'", testutil_tree.root, testutil_tree.dir);
        return 0;
}

static void resolve_ok(const char *root, const char *name, Knob *k) {
        int r = knobs_resolve(root, name, k);

        if (r != 0)
                fail_msg("knobs_resolve(%s) = %d", name, r);
}

static double elapsed_ms(const struct timespec *a) {
        struct timespec b;

        clock_gettime(CLOCK_MONOTONIC, &b);
        return (double) (b.tv_sec - a->tv_sec) * 1e3 + (double) (b.tv_nsec - a->tv_nsec) / 1e6;
}

/* In the child: says which call was refused and why, and returns EXIT_SKIP. */
static int child_refused(const char *call) {
        fprintf(stderr, "child: %s: %s\n", call, strerror(errno));
        return EXIT_SKIP;
}

/* Runs fn in a child (namespaces stay there); it returns 0, EXIT_SKIP (after saying why) or 1. */
static void in_child(int (*fn)(void), const char *what) {
        int status;
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0)
                _exit(fn());
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        if (WEXITSTATUS(status) == EXIT_SKIP)
                testgroups_skip("%s is not permitted here (the child said why above)", what);
        assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- pure ---- */

static void test_table_sane(void **state) {
        size_t n;
        const KnobDef *t = knobs_table(&n);
        char buf[160];

        assert_true(n >= 12);
        for (size_t i = 0; i < n; i++) {
                assert_non_null(knob_scope_to_string(t[i].scope));
                assert_non_null(knob_type_to_string(t[i].type));
                assert_non_null(knob_addressing_to_string(t[i].addressing));
                assert_non_null(knob_need_to_string(t[i].need));
                assert_true(t[i].path[0] != '/' && !strstr(t[i].path, ".."));
                assert_true(strlen(knobs_describe_allowed(&t[i], buf, sizeof buf)) > 0);
                if (t[i].type == KNOB_BOOL || t[i].type == KNOB_ENUM)
                        assert_non_null(t[i].words);
                if (t[i].type == KNOB_INT)
                        assert_true(t[i].min <= t[i].max);
                /* Scoped knobs carry their placeholder in both the name and the path. */
                assert_int_equal(!!strchr(t[i].name, '{'), !!strchr(t[i].path, '{'));
                for (size_t j = 0; j < i; j++)
                        assert_string_not_equal(t[i].name, t[j].name);
        }
}

static void test_check_name(void **state) {
        static const char *const good[] = {
                "vm.nr_hugepages",         "a",
                "net.eth0.rx.1.rps_cpus",  "kernel.numa_balancing_promote_rate_limit_MBps",
                "node.0.hugepages.2048kB", "net.br-lan.threaded",
        };
        static const char *const bad[] = {
                "",
                ".",
                "..",
                "vm..nr_hugepages",
                ".vm",
                "vm.",
                "vm/nr",
                "a%2Fb",
                "a b",
                "a\tb",
                "a:b",
                "net.eth0/../x.threaded",
                "caf\xc3\xa9",
                "vm.nr_hugepages\n",
                "a@b",
        };
        char longest[KNOB_NAME_MAX + 2];

        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                assert_int_equal(knobs_check_name(good[i]), 0);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                assert_int_equal(knobs_check_name(bad[i]), -EINVAL);
                assert_int_equal(knobs_match(bad[i], NULL), -EINVAL);
        }
        assert_int_equal(knobs_check_name(NULL), -EINVAL);
        memset(longest, 'a', KNOB_NAME_MAX);
        longest[KNOB_NAME_MAX] = '\0';
        assert_int_equal(knobs_check_name(longest), 0);
        strcat(longest, "a");
        assert_int_equal(knobs_check_name(longest), -EINVAL);
}

static void test_match(void **state) {
        static const struct {
                const char *name;
                const char *pattern; /* NULL: no knob */
        } cases[] = {
                { "kernel.numa_balancing", "kernel.numa_balancing" },
                { "kernel.numa_balancing_promote_rate_limit_MBps", "kernel.numa_balancing_promote_rate_limit_MBps" },
                { "vm.nr_hugepages", "vm.nr_hugepages" },
                { "net.core.optmem_max", "net.core.optmem_max" },
                { "net.core.rps_sock_flow_entries", "net.core.rps_sock_flow_entries" },
                { "net.ipv4.tcp_reordering", "net.ipv4.tcp_reordering" },
                { "mm.numa.demotion_enabled", "mm.numa.demotion_enabled" },
                { "sched.numa_balancing.hot_threshold_ms", "sched.numa_balancing.hot_threshold_ms" },
                { "node.0.hugepages.2048kB", "node.{N}.hugepages.2048kB" },
                { "node.15.hugepages.2048kB", "node.{N}.hugepages.2048kB" },
                { "net.eth0.rx.0.rps_cpus", "net.{dev}.rx.{q}.rps_cpus" },
                { "net.eth0.100.rx.12.rps_cpus", "net.{dev}.rx.{q}.rps_cpus" }, /* a VLAN device name has a dot */
                { "net.eth0.threaded", "net.{dev}.threaded" },
                { "net.core.threaded", "net.{dev}.threaded" },            /* a device named "core" */
                { "net.abcdefghijklmno.threaded", "net.{dev}.threaded" }, /* 15 characters */
                { "net.abcdefghijklmnop.threaded", NULL },                /* 16 */
                { "node.01.hugepages.2048kB", NULL },                     /* not canonical */
                { "node.x.hugepages.2048kB", NULL },
                { "node.1234567890.hugepages.2048kB", NULL },
                { "net.eth0.rx.01.rps_cpus", NULL },
                { "vm.nr_hugepage", NULL },
                { "kernel.numa_balancing.x", NULL },
                { "net.eth0", NULL },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                const KnobDef *def = NULL;
                int r = knobs_match(cases[i].name, &def);

                if (!cases[i].pattern) {
                        if (r != -ENOENT)
                                fail_msg("%s: %d, expected -ENOENT", cases[i].name, r);
                        continue;
                }
                if (r != 0)
                        fail_msg("%s: %d", cases[i].name, r);
                assert_string_equal(def->name, cases[i].pattern);
        }
}

static void expect_valid(const char *name, const char *value, const char *normalised) {
        _cleanup_free_ char *out = NULL, *reason = NULL;
        const KnobDef *def;

        assert_int_equal(knobs_match(name, &def), 0);
        if (knobs_validate(def, value, &out, &reason) != 0)
                fail_msg("%s = '%s' refused: %s", name, value, reason);
        assert_null(reason);
        assert_string_equal(out, normalised);
}

static void expect_invalid(const char *name, const char *value, int error, const char *reason_part) {
        _cleanup_free_ char *out = NULL, *reason = NULL;
        const KnobDef *def;
        int r;

        assert_int_equal(knobs_match(name, &def), 0);
        r = knobs_validate(def, value, &out, &reason);
        if (r != error)
                fail_msg("%s = '%s': %d, expected %d", name, value, r, error);
        assert_non_null(reason);
        if (!strstr(reason, reason_part))
                fail_msg("%s = '%s': reason '%s' lacks '%s'", name, value, reason, reason_part);
}

static void test_validate_int(void **state) {
        expect_valid("kernel.numa_balancing", "0", "0");
        expect_valid("kernel.numa_balancing", "3", "3");
        expect_valid("kernel.numa_balancing", "003", "3");
        expect_invalid("kernel.numa_balancing", "4", -ERANGE, "0..3");
        expect_invalid("kernel.numa_balancing", "-1", -ERANGE, "0..3");
        expect_invalid("kernel.numa_balancing", "99999999999999999999", -ERANGE, "0..3");
        for (size_t i = 0; i < 7; i++)
                expect_invalid("kernel.numa_balancing",
                               (const char *[]) { "x", "1.5", " 1", "+1", "1 ", "0x1", "-" }[i], -EINVAL,
                               "allowed: 0..3");
        expect_invalid("kernel.numa_balancing", "", -EINVAL, "empty");
        expect_valid("vm.nr_hugepages", "16777216", "16777216");
        expect_invalid("vm.nr_hugepages", "16777217", -ERANGE, "0..16777216");
        expect_valid("net.core.rps_sock_flow_entries", "0", "0");
        expect_valid("net.core.rps_sock_flow_entries", "32768", "32768");
        expect_invalid("net.core.rps_sock_flow_entries", "1000", -ERANGE, "power of two");
        expect_invalid("net.core.rps_sock_flow_entries", "1073741824", -ERANGE, "536870912");
        expect_invalid("net.ipv4.tcp_reordering", "0", -ERANGE, "1..2147483647");
        expect_valid("sched.numa_balancing.hot_threshold_ms", "4294967295", "4294967295");
        expect_invalid("sched.numa_balancing.hot_threshold_ms", "4294967296", -ERANGE, "0..4294967295");
        expect_invalid("net.eth0.threaded", "2", -ERANGE, "0..1");
}

static void test_validate_words(void **state) {
        expect_valid("mm.numa.demotion_enabled", "yes", "true");
        expect_valid("mm.numa.demotion_enabled", "TRUE", "true");
        expect_valid("mm.numa.demotion_enabled", "0", "false");
        expect_valid("mm.numa.demotion_enabled", "off", "false");
        expect_invalid("mm.numa.demotion_enabled", "maybe", -EINVAL, "false|true");
        expect_valid("mm.transparent_hugepage.enabled", "MAdvise", "madvise");
        expect_invalid("mm.transparent_hugepage.enabled", "sometimes", -EINVAL, "always|madvise|never");
        expect_invalid("mm.transparent_hugepage.enabled", "[madvise]", -EINVAL, "always|madvise|never");
}

static void test_validate_cpumask(void **state) {
        static const char *const bad[] = { "g", "1,0", ",1", "1,", "123456789", "1,,00000000", "0x3", " 3", "-1" };

        expect_valid("net.eth0.rx.0.rps_cpus", "3", "3");
        expect_valid("net.eth0.rx.0.rps_cpus", "FF,00000000", "ff,00000000");
        expect_valid("net.eth0.rx.0.rps_cpus", "00000000,00000000", "00000000,00000000");
        expect_valid("net.eth0.rx.0.rps_cpus", "12345678", "12345678");
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                expect_invalid("net.eth0.rx.0.rps_cpus", bad[i], -EINVAL, "hex CPU mask");
}

static void test_parse_live_and_equal(void **state) {
        const KnobDef *thp, *mask, *num, *flag;
        char *v = NULL;

        assert_int_equal(knobs_match("mm.transparent_hugepage.enabled", &thp), 0);
        assert_int_equal(knobs_match("net.eth0.rx.0.rps_cpus", &mask), 0);
        assert_int_equal(knobs_match("vm.nr_hugepages", &num), 0);
        assert_int_equal(knobs_match("mm.numa.demotion_enabled", &flag), 0);

        assert_int_equal(knobs_parse_live(thp, "always [madvise] never\n", &v), 0);
        assert_string_equal(v, "madvise");
        free(v);
        assert_int_equal(knobs_parse_live(thp, "never\n", &v), 0);
        assert_string_equal(v, "never");
        free(v);
        assert_int_equal(knobs_parse_live(thp, "always [madvise never\n", &v), -EBADMSG);
        assert_int_equal(knobs_parse_live(thp, "always madvise\n", &v), -EBADMSG);
        assert_int_equal(knobs_parse_live(thp, "\n", &v), -EBADMSG);
        assert_int_equal(knobs_parse_live(num, "128 \n", &v), 0);
        assert_string_equal(v, "128");
        free(v);

        assert_true(knobs_value_equal(mask, "3", "00000000,00000003"));
        assert_true(knobs_value_equal(mask, "1,00000000", "00000001,00000000"));
        assert_true(knobs_value_equal(mask, "0", "00000000,00000000"));
        assert_false(knobs_value_equal(mask, "3", "00000003,00000000"));
        assert_false(knobs_value_equal(mask, "1", "2"));
        assert_true(knobs_value_equal(num, "7", "007"));
        assert_false(knobs_value_equal(num, "7", "8"));
        assert_true(knobs_value_equal(flag, "1", "true"));
        assert_false(knobs_value_equal(flag, "false", "true"));
        assert_true(knobs_value_equal(thp, "madvise", "MADVISE"));
        assert_true(knobs_value_equal(num, NULL, NULL));
        assert_false(knobs_value_equal(num, "1", NULL));
}

/* ---- resolution and enumeration ---- */

static void test_resolve(void **state) {
        _cleanup_free_ char *root = NULL, *want = NULL;
        Knob k = {};

        assert_true(asprintf(&root, "%s/knobs-host", testutil_fixtures) > 0);
        resolve_ok(root, "vm.nr_hugepages", &k);
        assert_true(asprintf(&want, "%s/proc/sys/vm/nr_hugepages", root) > 0);
        assert_string_equal(k.path, want);
        assert_string_equal(k.name, "vm.nr_hugepages");
        knob_done(&k);

        /* The netdev's class link is resolved into sys/devices, as the sandbox needs. */
        resolve_ok(root, "net.eth0.rx.1.rps_cpus", &k);
        assert_non_null(strstr(k.path, "/sys/devices/pci0000:00/0000:00:03.0/net/eth0/queues/rx-1/rps_cpus"));
        assert_null(strstr(k.path, "class"));
        knob_done(&k);
        resolve_ok(root, "net.veth0.threaded", &k);
        assert_non_null(strstr(k.path, "/sys/devices/virtual/net/veth0/threaded"));
        knob_done(&k);
        resolve_ok(root, "node.1.hugepages.2048kB", &k);
        assert_non_null(strstr(k.path, "/sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages"));
        knob_done(&k);

        assert_int_equal(knobs_resolve(root, "net.nope.threaded", &k), -ENODEV);
        assert_int_equal(knobs_resolve(root, "net.eth0.rx.2.rps_cpus", &k), -ENODEV);
        assert_int_equal(knobs_resolve(root, "node.2.hugepages.2048kB", &k), -ENODEV);
        assert_int_equal(knobs_resolve(root, "vm.nope", &k), -ENOENT);
        assert_int_equal(knobs_resolve(root, "vm..nr_hugepages", &k), -EINVAL);
        assert_int_equal(knobs_resolve(root, "net.eth0%2F...threaded", &k), -EINVAL);
}

static void test_resolve_escaping_links(void **state) {
        Knob k = {};

        /* Links a hostile or broken tree could hold: outside the root, or inside it but not below sys/. */
        testutil_sh("ln -s /sys/class/net/lo '%s/sys/class/net/abs'", testutil_tree.root);
        testutil_sh("ln -s ../../../proc '%s/sys/class/net/sneaky'", testutil_tree.root);
        testutil_sh("ln -s ../../../.. '%s/sys/class/net/up'", testutil_tree.root);
        testutil_sh("mkdir -p '%s/proc/queues/rx-0' && echo 0 > '%s/proc/threaded'", testutil_tree.root,
                    testutil_tree.root);
        if (access("/sys/class/net/lo", F_OK) == 0)
                assert_int_equal(knobs_resolve(testutil_tree.root, "net.abs.threaded", &k), -EINVAL);
        assert_int_equal(knobs_resolve(testutil_tree.root, "net.sneaky.threaded", &k), -EINVAL);
        assert_int_equal(knobs_resolve(testutil_tree.root, "net.sneaky.rx.0.rps_cpus", &k), -EINVAL);
        assert_int_equal(knobs_resolve(testutil_tree.root, "net.up.threaded", &k), -EINVAL);
        /* A dangling link is a missing device. */
        testutil_sh("ln -s ../../devices/virtual/net/gone '%s/sys/class/net/gone'", testutil_tree.root);
        assert_int_equal(knobs_resolve(testutil_tree.root, "net.gone.threaded", &k), -ENODEV);
}

static void test_enumerate_fixture(void **state) {
        static const char *const want[] = {
                "kernel.numa_balancing",
                "kernel.numa_balancing_promote_rate_limit_MBps",
                "vm.nr_hugepages",
                "net.core.optmem_max",
                "net.core.rps_sock_flow_entries",
                "net.ipv4.tcp_reordering",
                "mm.numa.demotion_enabled",
                "mm.transparent_hugepage.enabled",
                "sched.numa_balancing.hot_threshold_ms",
                "node.0.hugepages.2048kB",
                "node.1.hugepages.2048kB",
                "net.eth0.rx.0.rps_cpus",
                "net.eth0.rx.1.rps_cpus",
                "net.veth0.rx.0.rps_cpus",
                "net.eth0.threaded",
                "net.veth0.threaded",
        };
        _cleanup_free_ char *root = NULL;
        Knob *ks = NULL;
        size_t n = 0;

        assert_true(asprintf(&root, "%s/knobs-host", testutil_fixtures) > 0);
        assert_int_equal(knobs_enumerate(root, &ks, &n), 0);
        for (size_t i = 0; i < n && i < ELEMENTSOF(want); i++)
                assert_string_equal(ks[i].name, want[i]);
        assert_int_equal(n, ELEMENTSOF(want));
        /* Every instance listed can be read in the fixture. */
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *v = NULL;

                if (knobs_read(&ks[i], &v) != 0)
                        fail_msg("cannot read %s at %s", ks[i].name, ks[i].path);
        }
        knobs_free(ks, n);
}

/* The live host, read only: invariants that hold on any Linux with sysfs. */
static void test_enumerate_live(void **state) {
        bool have_lo = false, have_hugepages = false;
        Knob *ks = NULL;
        size_t n = 0;

        assert_int_equal(knobs_enumerate("/", &ks, &n), 0);
        for (size_t i = 0; i < n; i++) {
                have_lo = have_lo || strcmp(ks[i].name, "net.lo.threaded") == 0;
                have_hugepages = have_hugepages || strcmp(ks[i].name, "vm.nr_hugepages") == 0;
                assert_int_equal(strncmp(ks[i].path, "/", 1), 0);
        }
        assert_true(have_hugepages);
        if (access("/sys/class/net/lo", F_OK) == 0)
                assert_true(have_lo);
        knobs_free(ks, n);
}

/* ---- reading and writing ---- */

static void write_ok(const char *name, const char *value, const char *rel, const char *file_after) {
        _cleanup_free_ char *obtained = NULL, *text = NULL;
        Knob k = {};

        resolve_ok(testutil_tree.root, name, &k);
        assert_int_equal(knobs_write(&k, value, &obtained), 0);
        assert_non_null(obtained);
        assert_true(knobs_value_equal(k.def, obtained, value));
        text = testutil_file_text(testutil_tree.root, rel);
        assert_string_equal(text, file_after);
        knob_done(&k);
}

static void test_write_verify(void **state) {
        write_ok("vm.nr_hugepages", "128", "proc/sys/vm/nr_hugepages", "128\n");
        /* A shorter value leaves no tail of the longer one (O_TRUNC). */
        write_ok("net.core.optmem_max", "5", "proc/sys/net/core/optmem_max", "5\n");
        write_ok("net.eth0.rx.1.rps_cpus", "3", "sys/class/net/eth0/queues/rx-1/rps_cpus", "3\n");
        write_ok("mm.transparent_hugepage.enabled", "never", "sys/kernel/mm/transparent_hugepage/enabled", "never\n");
        write_ok("mm.numa.demotion_enabled", "true", "sys/kernel/mm/numa/demotion_enabled", "true\n");
        write_ok("sched.numa_balancing.hot_threshold_ms", "250",
                 "sys/kernel/debug/sched/numa_balancing/hot_threshold_ms", "250\n");
        write_ok("node.1.hugepages.2048kB", "64",
                 "sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages", "64\n");
}

static void test_read_errors(void **state) {
        _cleanup_free_ char *v = NULL;
        char big[KNOB_VALUE_MAX + 16];
        Knob k = {};

        resolve_ok(testutil_tree.root, "sched.numa_balancing.hot_threshold_ms", &k);
        testutil_sh("rm '%s'", k.path);
        assert_int_equal(knobs_read(&k, &v), -ENOENT);
        assert_int_equal(knobs_write(&k, "1", NULL), -ENOENT);
        testutil_sh("mkdir '%s'", k.path);
        assert_int_equal(knobs_read(&k, &v), -EBADFD);
        assert_int_equal(knobs_write(&k, "1", NULL), -EISDIR);
        knob_done(&k);

        memset(big, '1', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        testutil_put_text("proc/sys/vm/nr_hugepages", big);
        resolve_ok(testutil_tree.root, "vm.nr_hugepages", &k);
        assert_int_equal(knobs_read(&k, &v), -EFBIG);
        knob_done(&k);
}

/* A full pipe answers EAGAIN for real: retried, then -EBUSY within the bound. */
static void test_write_busy_fifo(void **state) {
        _cleanup_close_ int rfd = -EBADF, wfd = -EBADF;
        char chunk[4096];
        struct timespec t0;
        Knob k = {};
        double ms;

        resolve_ok(testutil_tree.root, "net.eth0.threaded", &k);
        testutil_sh("rm '%s' && mkfifo '%s'", k.path, k.path);
        /* No reader: ENXIO, reported as it is. */
        assert_int_equal(knobs_write(&k, "1", NULL), -ENXIO);

        rfd = open(k.path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        assert_true(rfd >= 0);
        wfd = open(k.path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        assert_true(wfd >= 0);
        memset(chunk, 'x', sizeof chunk);
        while (write(wfd, chunk, sizeof chunk) > 0)
                ;
        assert_int_equal(errno, EAGAIN);

        clock_gettime(CLOCK_MONOTONIC, &t0);
        assert_int_equal(knobs_write(&k, "1", NULL), -EBUSY);
        ms = elapsed_ms(&t0);
        assert_true(ms >= 250); /* 10 + 50 + 200 ms of backoff */
        assert_true(ms < 2000);
        knob_done(&k);
}

/* The immutable attribute makes even root's open(O_WRONLY) fail with EPERM. */
static void test_write_not_owned_immutable(void **state) {
        _cleanup_free_ char *text = NULL;
        _cleanup_close_ int fd = -EBADF;
        int flags = FS_IMMUTABLE_FL;
        Knob k = {};

        resolve_ok(testutil_tree.root, "vm.nr_hugepages", &k);
        fd = open(k.path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        if (ioctl(fd, FS_IOC_SETFLAGS, &flags) < 0) {
                int e = errno;

                knob_done(&k);
                testgroups_skip("a file below %s cannot be made immutable: %s", testutil_tree.root, strerror(e));
        }
        assert_int_equal(knobs_write(&k, "7", NULL), -EACCES);
        flags = 0;
        assert_int_equal(ioctl(fd, FS_IOC_SETFLAGS, &flags), 0);
        text = testutil_file_text(testutil_tree.root, "proc/sys/vm/nr_hugepages");
        assert_string_equal(text, "0\n");
        knob_done(&k);
}

static int child_read_only_mount(void) {
        Knob k = {};

        if (unshare(CLONE_NEWNS) < 0)
                return child_refused("unshare(CLONE_NEWNS)");
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return child_refused("making / a private mount");
        if (knobs_resolve(testutil_tree.root, "mm.numa.demotion_enabled", &k) < 0)
                return 1;
        if (mount(k.path, k.path, NULL, MS_BIND, NULL) < 0)
                return child_refused("bind mount");
        if (mount(NULL, k.path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
                return child_refused("read-only remount of the bind mount");
        return knobs_write(&k, "true", NULL) == -EACCES ? 0 : 1;
}

/* A read-only bind mount gives a real EROFS, as the systemd sandbox would. */
static void test_write_not_owned_rofs(void **state) {
        _cleanup_free_ char *text = NULL;

        in_child(child_read_only_mount, "read-only bind mount");
        text = testutil_file_text(testutil_tree.root, "sys/kernel/mm/numa/demotion_enabled");
        assert_string_equal(text, "false\n");
}

static ino_t netns_inode(void) {
        struct stat st;

        return stat("/proc/self/ns/net", &st) < 0 ? 0 : st.st_ino;
}

/* In a network namespace of its own the child may write a real per-netns
 * sysctl: the kernel's EINVAL for garbage, and a verified write. */
static int child_netns_sysctl(void) {
        _cleanup_free_ char *obtained = NULL;
        ino_t before = netns_inode();
        Knob k = {};

        if (before == 0)
                return child_refused("stat /proc/self/ns/net");
        if (unshare(CLONE_NEWNET) < 0)
                return child_refused("unshare(CLONE_NEWNET)");
        if (netns_inode() == before) /* never touch the host's own knob */
                return 1;
        if (knobs_from_path("net.ipv4.tcp_reordering", "/proc/sys/net/ipv4/tcp_reordering", &k) < 0)
                return 1;
        if (knobs_write(&k, "x", NULL) != -EINVAL)
                return 1;
        if (knobs_write(&k, "17", &obtained) != 0 || strcmp(obtained, "17") != 0)
                return 1;
        knob_done(&k);
        return 0;
}

static void test_write_rejected_netns(void **state) {
        _cleanup_free_ char *before = testutil_file_text("/proc/sys/net/ipv4", "tcp_reordering"), *after = NULL;

        in_child(child_netns_sysctl, "network namespace");
        after = testutil_file_text("/proc/sys/net/ipv4", "tcp_reordering");
        assert_string_equal(after, before);
}

static int busy_calls;

/* The seam: EBUSY twice, then the real write. */
static ssize_t write_busy_twice(int fd, const void *buf, size_t n) {
        if (busy_calls++ < 2) {
                errno = EBUSY;
                return -1;
        }
        return write(fd, buf, n);
}

/* The seam: the kernel keeps 100 whatever was asked, like a partial hugepage allocation. */
static ssize_t write_keep_100(int fd, const void *buf, size_t n) {
        return write(fd, "100\n", 4) == 4 ? (ssize_t) n : -1;
}

static void test_write_retry_then_partial(void **state) {
        _cleanup_free_ char *obtained = NULL;
        struct timespec t0;
        Knob k = {};

        resolve_ok(testutil_tree.root, "node.0.hugepages.2048kB", &k);
        busy_calls = 0;
        knobs_set_write_fn(write_busy_twice);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        assert_int_equal(knobs_write(&k, "512", &obtained), 0);
        assert_true(elapsed_ms(&t0) >= 60);
        assert_int_equal(busy_calls, 3);
        assert_string_equal(obtained, "512");
        free(obtained);

        knobs_set_write_fn(write_keep_100);
        assert_int_equal(knobs_write(&k, "512", &obtained), -ENOSPC);
        assert_string_equal(obtained, "100");
        knobs_set_write_fn(NULL);
        knob_done(&k);
}

/* Fixtures and read-only views of the live host: any host runs these. */
static const struct CMUnitTest tests_any_host[] = {
        cmocka_unit_test(test_table_sane),
        cmocka_unit_test(test_check_name),
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_validate_int),
        cmocka_unit_test(test_validate_words),
        cmocka_unit_test(test_validate_cpumask),
        cmocka_unit_test(test_parse_live_and_equal),
        cmocka_unit_test(test_resolve),
        cmocka_unit_test_setup_teardown(test_resolve_escaping_links, setup_copy, teardown_copy),
        cmocka_unit_test(test_enumerate_fixture),
        cmocka_unit_test(test_enumerate_live),
        cmocka_unit_test_setup_teardown(test_write_verify, setup_copy, teardown_copy),
        cmocka_unit_test_setup_teardown(test_read_errors, setup_copy, teardown_copy),
        cmocka_unit_test_setup_teardown(test_write_busy_fifo, setup_copy, teardown_copy),
        cmocka_unit_test_setup_teardown(test_write_retry_then_partial, setup_copy, teardown_copy),
};

static const struct CMUnitTest tests_immutable[] = {
        cmocka_unit_test_setup_teardown(test_write_not_owned_immutable, setup_copy, teardown_copy),
};

static const struct CMUnitTest tests_mountns[] = {
        cmocka_unit_test_setup_teardown(test_write_not_owned_rofs, setup_copy, teardown_copy),
};

static const struct CMUnitTest tests_netns[] = {
        cmocka_unit_test(test_write_rejected_netns),
};

static const TestGroup groups[] = {
        TEST_GROUP(NULL, NULL, tests_any_host),
        TEST_GROUP("immutable", "CAP_LINUX_IMMUTABLE and a /tmp whose filesystem keeps the immutable attribute",
                   tests_immutable),
        TEST_GROUP("mountns", "a mount namespace of its own with a read-only bind mount (CAP_SYS_ADMIN)",
                   tests_mountns),
        TEST_GROUP("netns", "a network namespace of its own (CAP_SYS_ADMIN)", tests_netns),
};

int main(int argc, char **argv) {
        if (testutil_fixtures_init() < 0)
                return 1;
        return testgroups_run(argc, argv, groups, ELEMENTSOF(groups));
}
