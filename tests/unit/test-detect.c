/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for daemon/host/detect.c: fixture trees give exact values, a temporary
 * tree of malformed files is tolerated, the live host satisfies invariants.
 * The probes under a seccomp filter are a group of their own (unit-detect-live-seccomp). */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <cmocka.h>

#include "cleanup.h"
#include "detect.h"
#include "testgroups.h"
#include "testutil.h"

static void run_tree(const char *tree, Features *ret) {
        _cleanup_free_ char *root = NULL;

        assert_true(asprintf(&root, "%s/%s", testutil_fixtures, tree) > 0);
        assert_int_equal(detect_run(root, ret), 0);
}

/* The probes are real whatever the root; their results must at least be consistent. */
static void check_probe_invariants(const Features *f) {
        if (!f->io_uring) {
                assert_false(f->io_uring_sqpoll);
                assert_false(f->io_uring_send_zc);
                assert_false(f->io_uring_buf_ring);
        }
}

static void test_host_1node(void **state) {
        _cleanup_(detect_done) Features f = {};

        run_tree("host-1node", &f);
        check_probe_invariants(&f);
        assert_true(f.damon_sysfs);
        assert_int_equal(f.damon_kdamonds, 1);
        assert_int_equal(f.damon_kdamonds_running, 1);
        assert_int_equal(f.damon_kdamonds_foreign, 1);
        assert_non_null(f.damon_running_ids);
        assert_int_equal(f.damon_running_ids[0], 0);
        assert_int_equal(f.numa_nodes, 1);
        assert_string_equal(f.numa_nodes_list, "0");
        assert_non_null(f.memory_tiers);
        assert_string_equal(f.memory_tiers[0], "memory_tier4: 0");
        assert_null(f.memory_tiers[1]);
        assert_int_equal(f.n_hugepages, 2);
        assert_int_equal(f.hugepages[0].size_kb, 2048);
        assert_int_equal(f.hugepages[0].total, 0);
        assert_int_equal(f.hugepages[0].free, 0);
        assert_int_equal(f.hugepages[1].size_kb, 1048576);
        assert_int_equal(f.hugepages[1].total, 2);
        assert_int_equal(f.hugepages[1].free, 1);
        assert_int_equal(f.numa_balancing, 0);
        assert_true(f.numa_balancing_tiering);
}

static void check_host_2node(const Features *f) {
        check_probe_invariants(f);
        assert_true(f->damon_sysfs);
        assert_int_equal(f->damon_kdamonds, 2);
        assert_int_equal(f->damon_kdamonds_running, 0);
        assert_int_equal(f->damon_kdamonds_foreign, 0);
        assert_null(f->damon_running_ids);
        assert_int_equal(f->numa_nodes, 2);
        assert_string_equal(f->numa_nodes_list, "0-1");
        assert_non_null(f->memory_tiers);
        /* Numeric order: tier 4 before tier 22 although "memory_tier22" sorts first as text. */
        assert_string_equal(f->memory_tiers[0], "memory_tier4: 0");
        assert_string_equal(f->memory_tiers[1], "memory_tier22: 1");
        assert_null(f->memory_tiers[2]);
        assert_int_equal(f->n_hugepages, 1);
        assert_int_equal(f->hugepages[0].size_kb, 2048);
        assert_int_equal(f->hugepages[0].total, 512);
        assert_int_equal(f->hugepages[0].free, 500);
        assert_int_equal(f->numa_balancing, 2);
        assert_true(f->numa_balancing_tiering);
}

static void test_host_2node(void **state) {
        _cleanup_(detect_done) Features f = {};

        run_tree("host-2node", &f);
        check_host_2node(&f);
}

static void test_host_bare(void **state) {
        _cleanup_(detect_done) Features f = {};

        run_tree("host-bare", &f);
        check_probe_invariants(&f);
        assert_false(f.damon_sysfs);
        assert_int_equal(f.damon_kdamonds, 0);
        assert_int_equal(f.damon_kdamonds_running, 0);
        assert_int_equal(f.damon_kdamonds_foreign, 0);
        assert_int_equal(f.numa_nodes, 1);
        assert_string_equal(f.numa_nodes_list, "0");
        assert_null(f.memory_tiers);
        assert_int_equal(f.n_hugepages, 0);
        assert_null(f.hugepages);
        assert_int_equal(f.numa_balancing, -1);
        assert_false(f.numa_balancing_tiering);
}

/* Slashes at the end of root must not change what is found. */
static void test_root_slashes(void **state) {
        _cleanup_(detect_done) Features f = {};
        _cleanup_free_ char *root = NULL;

        assert_true(asprintf(&root, "%s//host-2node//", testutil_fixtures) > 0);
        assert_int_equal(detect_run(root, &f), 0);
        check_host_2node(&f);
}

static void test_root_path(void **state) {
        static const struct {
                const char *root, *rel, *want;
        } cases[] = {
                { "/", "sys/x", "/sys/x" },
                { "/", "/sys/x", "/sys/x" },
                { "", "sys/x", "/sys/x" },
                { NULL, "sys/x", "/sys/x" },
                { "/t/host", "sys/x", "/t/host/sys/x" },
                { "/t/host/", "/sys/x", "/t/host/sys/x" },
                { "rel//", "proc/y", "rel/proc/y" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *p = NULL;

                assert_int_equal(detect_root_path(cases[i].root, cases[i].rel, &p), 0);
                assert_string_equal(p, cases[i].want);
        }
}

static void test_nodelist(void **state) {
        static const struct {
                const char *s;
                int r;
                unsigned n;
        } cases[] = {
                { "0", 0, 1 },
                { "0-1", 0, 2 },
                { "0-3,8,10-11", 0, 7 },
                { "1,3,5", 0, 3 },
                { "5-5", 0, 1 },
                { "0-1048576", 0, 1048577 },
                { "3-1", -EINVAL, 0 },
                { "a", -EINVAL, 0 },
                { "", -EINVAL, 0 },
                { "0,", -EINVAL, 0 },
                { ",0", -EINVAL, 0 },
                { "0-", -EINVAL, 0 },
                { "-1", -EINVAL, 0 },
                { "0--1", -EINVAL, 0 },
                { "1,0", -EINVAL, 0 },
                { "0-2,2", -EINVAL, 0 },
                { "0 ", -EINVAL, 0 },
                { " 0", -EINVAL, 0 },
                { "0\n", -EINVAL, 0 },
                { "+1", -EINVAL, 0 },
                { "0-7:2/4", -EINVAL, 0 },
                { "1048577", -ERANGE, 0 },
                { "99999999999999999999999", -ERANGE, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                unsigned n = 12345;
                int r = detect_nodelist_count(cases[i].s, &n);

                if (r != cases[i].r)
                        fail_msg("\"%s\": got %d, want %d", cases[i].s, r, cases[i].r);
                if (r == 0)
                        assert_int_equal(n, cases[i].n);
                else
                        assert_int_equal(n, 12345); /* untouched on failure */
        }
        assert_int_equal(detect_nodelist_count(NULL, &(unsigned) { 0 }), -EINVAL);
}

static json_object *get(json_object *o, const char *key, json_type type) {
        json_object *v = NULL;

        if (!json_object_object_get_ex(o, key, &v))
                fail_msg("key \"%s\" missing", key);
        if (!json_object_is_type(v, type))
                fail_msg("key \"%s\" has type %s", key, json_type_to_name(json_object_get_type(v)));
        return v;
}

static void test_json_2node(void **state) {
        _cleanup_(detect_done) Features f = {};
        json_object *o, *s, *a, *h;

        run_tree("host-2node", &f);
        o = detect_to_json(&f);
        assert_non_null(o);
        assert_int_equal(json_object_object_length(o), 6);

        s = get(o, "io_uring", json_type_object);
        assert_int_equal(json_object_object_length(s), 4);
        assert_int_equal(json_object_get_boolean(get(s, "available", json_type_boolean)), f.io_uring);
        assert_int_equal(json_object_get_boolean(get(s, "sqpoll", json_type_boolean)), f.io_uring_sqpoll);
        assert_int_equal(json_object_get_boolean(get(s, "send_zc", json_type_boolean)), f.io_uring_send_zc);
        assert_int_equal(json_object_get_boolean(get(s, "buf_ring", json_type_boolean)), f.io_uring_buf_ring);

        s = get(o, "bpf", json_type_object);
        assert_int_equal(json_object_object_length(s), 2);
        assert_int_equal(json_object_get_boolean(get(s, "prog_load", json_type_boolean)), f.bpf_prog_load);
        assert_int_equal(json_object_get_boolean(get(s, "xdp", json_type_boolean)), f.bpf_xdp);

        s = get(o, "damon", json_type_object);
        assert_int_equal(json_object_object_length(s), 4);
        assert_true(json_object_get_boolean(get(s, "sysfs", json_type_boolean)));
        assert_int_equal(json_object_get_int64(get(s, "kdamonds", json_type_int)), 2);
        assert_int_equal(json_object_get_int64(get(s, "running", json_type_int)), 0);
        assert_int_equal(json_object_get_int64(get(s, "foreign", json_type_int)), 0);

        s = get(o, "numa", json_type_object);
        assert_int_equal(json_object_object_length(s), 3);
        assert_int_equal(json_object_get_int64(get(s, "nodes", json_type_int)), 2);
        assert_string_equal(json_object_get_string(get(s, "nodes_list", json_type_string)), "0-1");
        a = get(s, "memory_tiers", json_type_array);
        assert_int_equal(json_object_array_length(a), 2);
        assert_string_equal(json_object_get_string(json_object_array_get_idx(a, 0)), "memory_tier4: 0");
        assert_string_equal(json_object_get_string(json_object_array_get_idx(a, 1)), "memory_tier22: 1");

        a = get(o, "hugepages", json_type_array);
        assert_int_equal(json_object_array_length(a), 1);
        h = json_object_array_get_idx(a, 0);
        assert_int_equal(json_object_object_length(h), 3);
        assert_int_equal(json_object_get_int64(get(h, "size_kb", json_type_int)), 2048);
        assert_int_equal(json_object_get_int64(get(h, "total", json_type_int)), 512);
        assert_int_equal(json_object_get_int64(get(h, "free", json_type_int)), 500);

        s = get(o, "numa_balancing", json_type_object);
        assert_int_equal(json_object_object_length(s), 3);
        assert_int_equal(json_object_get_int64(get(s, "mode", json_type_int)), 2);
        assert_string_equal(json_object_get_string(get(s, "mode_name", json_type_string)), "memory-tiering");
        assert_true(json_object_get_boolean(get(s, "tiering_available", json_type_boolean)));

        json_object_put(o);
}

/* Nothing known: null where a string is missing, empty arrays, mode "absent". */
static void test_json_absent(void **state) {
        Features f = { .numa_balancing = -1 };
        json_object *o, *s;

        o = detect_to_json(&f);
        assert_non_null(o);
        s = get(o, "numa", json_type_object);
        assert_int_equal(json_object_get_int64(get(s, "nodes", json_type_int)), 0);
        get(s, "nodes_list", json_type_null);
        assert_int_equal(json_object_array_length(get(s, "memory_tiers", json_type_array)), 0);
        assert_int_equal(json_object_array_length(get(o, "hugepages", json_type_array)), 0);
        s = get(o, "numa_balancing", json_type_object);
        assert_int_equal(json_object_get_int64(get(s, "mode", json_type_int)), -1);
        assert_string_equal(json_object_get_string(get(s, "mode_name", json_type_string)), "absent");
        assert_false(json_object_get_boolean(get(get(o, "damon", json_type_object), "sysfs", json_type_boolean)));
        json_object_put(o);
}

static void test_numa_balancing_names(void **state) {
        static const char *const want[] = { "absent", "disabled", "normal", "memory-tiering", "normal+memory-tiering" };

        for (int m = -1; m <= 3; m++)
                assert_string_equal(detect_numa_balancing_to_string(m), want[m + 1]);
        assert_null(detect_numa_balancing_to_string(-2));
        assert_null(detect_numa_balancing_to_string(4));
}

/* The file-based part of the summary is fully determined by the fixture. */
static void test_summary(void **state) {
        _cleanup_(detect_done) Features f = {};
        _cleanup_free_ char *s = NULL;
        const char *tail;

        run_tree("host-2node", &f);
        assert_int_equal(detect_summary(&f, &s), 0);
        assert_non_null(strstr(s, f.io_uring ? "io_uring=yes " : "io_uring=no "));
        tail = strstr(s, " damon=");
        assert_non_null(tail);
        assert_string_equal(tail, " damon=2/0/0(kdamonds/running/foreign) numa_nodes=2(0-1)"
                                  " [memory_tier4: 0] [memory_tier22: 1] hugepages=2048kB:500/512"
                                  " numa_balancing=memory-tiering tiering=yes");
}

static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list ap) {
        return 0;
}

/* The probes silence libbpf and must hand the caller's printer back. */
static void test_libbpf_print_restored(void **state) {
        _cleanup_(detect_done) Features f = {};
        libbpf_print_fn_t saved;

        saved = libbpf_set_print(quiet_print);
        run_tree("host-bare", &f);
        assert_ptr_equal(libbpf_set_print(saved), quiet_print);
}

/* ---- a temporary tree of odd files ---- */

static const TestFile odd_tree[] = {
        { "sys/devices/system/node/has_memory", "3-1\n" },
        { "proc/sys/kernel/numa_balancing", "7\n" },
        { "sys/kernel/mm/damon/admin/kdamonds/nr_kdamonds", "3\n" },
        { "sys/kernel/mm/damon/admin/kdamonds/0/state", "on\n" },
        /* kdamonds/1/state missing */
        { "sys/kernel/mm/damon/admin/kdamonds/2/state", "on\n" },
        { "sys/kernel/mm/hugepages/hugepages-foo/nr_hugepages", "9\n" },
        { "sys/kernel/mm/hugepages/hugepages-kB/nr_hugepages", "9\n" },
        { "sys/kernel/mm/hugepages/hugepages-64kB/nr_hugepages", "12\n" },
        { "sys/kernel/mm/hugepages/hugepages-32kB/nr_hugepages", "x\n" },
        { "sys/kernel/mm/hugepages/hugepages-32kB/free_hugepages", "3\n" },
        { "sys/devices/virtual/memory_tiering/memory_tierX/nodelist", "0\n" },
        { "sys/devices/virtual/memory_tiering/memory_tier7/other", "\n" },
        { "sys/devices/virtual/memory_tiering/memory_tier100/nodelist", "2-3\n" },
        { "sys/devices/virtual/memory_tiering/memory_tier1/nodelist", "0-1\n" },
};

/* cmocka runs the teardown even when a test fails, so no tree is left behind. */
static int odd_tree_setup(void **state) {
        *state = testutil_files_tree("maio-test-detect", odd_tree, ELEMENTSOF(odd_tree));
        return *state ? 0 : -1;
}

static void test_odd_tree(void **state) {
        _cleanup_(detect_done) Features f = {};

        assert_int_equal(detect_run(*state, &f), 0);
        assert_int_equal(f.numa_nodes, 0);
        assert_null(f.numa_nodes_list);
        assert_int_equal(f.numa_balancing, -1);
        assert_false(f.numa_balancing_tiering);
        assert_true(f.damon_sysfs);
        assert_int_equal(f.damon_kdamonds, 3);
        assert_int_equal(f.damon_kdamonds_running, 2);
        assert_int_equal(f.damon_running_ids[0], 0);
        assert_int_equal(f.damon_running_ids[1], 2);
        assert_int_equal(f.damon_kdamonds_foreign, 2);
        assert_int_equal(f.n_hugepages, 2);
        assert_int_equal(f.hugepages[0].size_kb, 32);
        assert_int_equal(f.hugepages[0].total, 0);
        assert_int_equal(f.hugepages[0].free, 3);
        assert_int_equal(f.hugepages[1].size_kb, 64);
        assert_int_equal(f.hugepages[1].total, 12);
        assert_int_equal(f.hugepages[1].free, 0);
        assert_non_null(f.memory_tiers);
        assert_string_equal(f.memory_tiers[0], "memory_tier1: 0-1");
        assert_string_equal(f.memory_tiers[1], "memory_tier100: 2-3");
        assert_null(f.memory_tiers[2]);

        /* The seam the DAMON applier uses: kdamond 2 becomes maiod's, 0 stays foreign. */
        detect_damon_set_owned(&f, (const unsigned[]) { 2, 5 }, 2);
        assert_int_equal(f.damon_kdamonds_foreign, 1);
        detect_damon_set_owned(&f, (const unsigned[]) { 0, 2 }, 2);
        assert_int_equal(f.damon_kdamonds_foreign, 0);
        detect_damon_set_owned(&f, NULL, 0);
        assert_int_equal(f.damon_kdamonds_foreign, 2);
}

static void test_odd_tree_changed(void **state) {
        _cleanup_(detect_done) Features f = {};
        const char *dir = *state;

        /* An unreadable count: DAMON is there, with nothing known about kdamonds. */
        testutil_write_file(dir, "sys/kernel/mm/damon/admin/kdamonds/nr_kdamonds", "many\n");
        testutil_write_file(dir, "proc/sys/kernel/numa_balancing", "3\n");
        testutil_write_file(dir, "sys/devices/system/node/has_memory", "\n");
        assert_int_equal(detect_run(dir, &f), 0);
        assert_true(f.damon_sysfs);
        assert_int_equal(f.damon_kdamonds, 0);
        assert_int_equal(f.damon_kdamonds_running, 0);
        assert_null(f.damon_running_ids);
        assert_int_equal(f.numa_balancing, 3);
        assert_int_equal(f.numa_nodes, 0);
        assert_null(f.numa_nodes_list);
        detect_done(&f);

        /* Tiers whose nodelist cannot be read are left out; none left means NULL. */
        for (const char *const *t = (const char *const[]) { "1", "100", NULL }; *t; t++) {
                _cleanup_free_ char *p = NULL;

                assert_true(asprintf(&p, "%s/sys/devices/virtual/memory_tiering/memory_tier%s/nodelist", dir, *t) > 0);
                assert_int_equal(unlink(p), 0);
        }
        assert_int_equal(detect_run(dir, &f), 0);
        assert_null(f.memory_tiers);
}

/* ---- probes with the system calls refused ---- */

#if defined(__x86_64__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#ifdef NATIVE_AUDIT_ARCH
/* Makes the listed system calls fail with EPERM in the calling (child) process,
 * as kernel.io_uring_disabled=2 or a missing CAP_BPF would. */
static int refuse_syscalls(const unsigned *nrs, size_t n) {
        struct sock_filter insns[16];
        struct sock_fprog prog = { .filter = insns };
        size_t k = 0;

        assert_true(n + 6 <= ELEMENTSOF(insns));
        insns[k++] = (struct sock_filter) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
        insns[k++] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_AUDIT_ARCH, 1, 0);
        insns[k++] = (struct sock_filter) BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
        insns[k++] = (struct sock_filter) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
        for (size_t i = 0; i < n; i++) /* a match jumps over the rest to the EPERM return */
                insns[k++] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nrs[i], (__u8) (n - i), 0);
        insns[k++] = (struct sock_filter) BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
        insns[k++] = (struct sock_filter) BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
        prog.len = (unsigned short) k;

        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;
        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
                return -errno;
        return 0;
}

typedef struct Refused {
        const char *root;
        const unsigned *nrs;
        size_t n;
        bool want_io_uring;
        int result; /* 0 as expected, 1 not, -errno when the filter or detect_run failed */
} Refused;

/* A thread of its own: seccomp filters and no_new_privs are per thread and end with
 * it, so the rest of the test process (and valgrind's leak check) is unaffected. */
static void *refused_thread(void *userdata) {
        Refused *t = userdata;
        Features f = {};
        int r;

        r = refuse_syscalls(t->nrs, t->n);
        if (r >= 0)
                r = detect_run(t->root, &f);
        if (r >= 0)
                r = f.io_uring != t->want_io_uring || f.io_uring_send_zc || f.io_uring_buf_ring || f.bpf_prog_load ||
                    f.bpf_xdp || (!t->want_io_uring && f.io_uring_sqpoll) || f.numa_nodes != 1;
        detect_done(&f);
        t->result = r;
        return NULL;
}

static void run_refused(const unsigned *nrs, size_t n, bool want_io_uring) {
        _cleanup_free_ char *root = NULL;
        Refused t = { .nrs = nrs, .n = n, .want_io_uring = want_io_uring };
        pthread_t thread;

        assert_true(asprintf(&root, "%s/host-bare", testutil_fixtures) > 0);
        t.root = root;
        assert_int_equal(pthread_create(&thread, NULL, refused_thread, &t), 0);
        assert_int_equal(pthread_join(thread, NULL), 0);
        if (t.result == -EINVAL || t.result == -ENOSYS)
                testgroups_skip("seccomp filters are unavailable: %s", strerror(-t.result));
        assert_int_equal(t.result, 0);
}
#endif

/* io_uring and bpf refused: every probe says no, file facts are unaffected. Only
 * io_uring_register refused: the ring works, the opcode probe and buffer ring do not. */
static void test_probes_refused(void **state) {
#ifdef NATIVE_AUDIT_ARCH
        run_refused((const unsigned[]) { __NR_io_uring_setup, __NR_bpf }, 2, false);
        run_refused((const unsigned[]) { __NR_io_uring_register, __NR_bpf }, 2, true);
#else
        testgroups_skip("no seccomp architecture constant for this CPU");
#endif
}

/* ---- the live host ---- */

/* Reads a number independently of detect.c, for cross-checks. Returns -1 if absent. */
static long read_long(const char *path) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        long v;

        if (!f)
                return -1;
        assert_int_equal(fscanf(f, "%ld", &v), 1);
        return v;
}

static void test_live_host(void **state) {
        _cleanup_(detect_done) Features f = {};
        _cleanup_free_ char *summary = NULL;
        json_object *o;
        long nr;

        assert_int_equal(detect_run("/", &f), 0);
        assert_int_equal(detect_summary(&f, &summary), 0);
        o = detect_to_json(&f);
        assert_non_null(o);
        print_message("live host: %s\n%s\n", summary, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
        json_object_put(o);

        check_probe_invariants(&f);
        /* A kernel without CONFIG_NUMA has no node directory; otherwise some node has memory. */
        if (access("/sys/devices/system/node/has_memory", F_OK) == 0) {
                assert_true(f.numa_nodes >= 1);
                assert_non_null(f.numa_nodes_list);
        } else
                assert_int_equal(f.numa_nodes, 0);
        assert_true(f.numa_balancing >= -1 && f.numa_balancing <= 3);
        assert_int_equal(f.numa_balancing, read_long("/proc/sys/kernel/numa_balancing"));
        assert_int_equal(f.numa_balancing_tiering,
                         access("/proc/sys/kernel/numa_balancing_promote_rate_limit_MBps", F_OK) == 0);
        assert_int_equal(f.damon_sysfs, access("/sys/kernel/mm/damon/admin", F_OK) == 0);
        /* Unprivileged, the DAMON directory exists but its files cannot be read: then 0. */
        nr = read_long("/sys/kernel/mm/damon/admin/kdamonds/nr_kdamonds");
        assert_int_equal(f.damon_kdamonds, nr < 0 ? 0 : nr);
        assert_true(f.damon_kdamonds_running <= f.damon_kdamonds);
        assert_true(f.damon_kdamonds_foreign == f.damon_kdamonds_running);
        for (size_t i = 1; i < f.n_hugepages; i++)
                assert_true(f.hugepages[i - 1].size_kb < f.hugepages[i].size_kb);
}

/* Fixtures, temp trees and read-only invariants of the live host: any host runs these. */
static const struct CMUnitTest tests_any_host[] = {
        cmocka_unit_test(test_host_1node),
        cmocka_unit_test(test_host_2node),
        cmocka_unit_test(test_host_bare),
        cmocka_unit_test(test_root_slashes),
        cmocka_unit_test(test_root_path),
        cmocka_unit_test(test_nodelist),
        cmocka_unit_test(test_json_2node),
        cmocka_unit_test(test_json_absent),
        cmocka_unit_test(test_numa_balancing_names),
        cmocka_unit_test(test_summary),
        cmocka_unit_test(test_libbpf_print_restored),
        cmocka_unit_test_setup_teardown(test_odd_tree, odd_tree_setup, testutil_files_tree_teardown),
        cmocka_unit_test_setup_teardown(test_odd_tree_changed, odd_tree_setup, testutil_files_tree_teardown),
        cmocka_unit_test(test_live_host),
};

static const struct CMUnitTest tests_seccomp[] = {
        cmocka_unit_test(test_probes_refused),
};

static const TestGroup groups[] = {
        TEST_GROUP(NULL, NULL, tests_any_host),
        TEST_GROUP("seccomp", "seccomp filters (CONFIG_SECCOMP_FILTER) on x86_64 or aarch64", tests_seccomp),
};

int main(int argc, char **argv) {
        if (testutil_fixtures_init() < 0)
                return EXIT_FAILURE;
        return testgroups_run(argc, argv, groups, ELEMENTSOF(groups));
}
