/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for daemon/journal/journal.c: a Journal alone over a temp store and a temp copy of
 * tests/fixtures/knobs-host. The original is committed before the write (a
 * child dies between the two), restores are byte-for-byte, failed writes leave
 * nothing owned, drift marks overridden (once) or is enforced, dry runs touch
 * no file, clean and unclean stops, reboots, the state lock, conflicts. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "journal.h"
#include "knobs.h"
#include "testutil.h"

static int setup(void **state) {
        return testutil_tree_setup("journal", "knobs-host", true);
}

/* [knobs] as maiod.conf has it by default. */
static const JournalConf defaults = {
        .restore_on_exit = true,
        .reconcile = KNOBS_RECONCILE_RESTORE,
        .enforce = false,
        .drift_check_s = 30,
};

/* The defaults but [knobs] restore_on_exit = no. */
static const JournalConf keep_on_exit = {
        .restore_on_exit = false,
        .reconcile = KNOBS_RECONCILE_RESTORE,
        .enforce = false,
        .drift_check_s = 30,
};

/* What a test works on: a store on the temp state directory and a journal over it that writes
 * below the temp root (no event loop: no drift timer). */
typedef struct Subject {
        Store *store;
        Journal *journal;
} Subject;

/* A journal as a maiod started with (or without) --dry-run and conf (NULL: the defaults) makes it. */
static Subject *subject_new(bool dry_run, const JournalConf *conf) {
        Subject *s = calloc(1, sizeof *s);

        assert_non_null(s);
        s->store = testutil_store_open();
        assert_int_equal(journal_new(s->store, testutil_tree.root, testutil_tree.state, dry_run, conf ?: &defaults,
                                     NULL, &s->journal),
                         0);
        return s;
}

/* Frees without journal_stop(): to the journal's records, a crash unless the test stopped it. */
static void subject_free(Subject *s) {
        if (!s)
                return;
        journal_free(s->journal);
        store_free(s->store);
        free(s);
}

/* The journal of s rebuilt as a maiod started on the same state with or without --dry-run. */
static void subject_restart(Subject *s, bool dry_run) {
        journal_free(s->journal);
        assert_int_equal(journal_new(s->store, testutil_tree.root, testutil_tree.state, dry_run, &defaults, NULL,
                                     &s->journal),
                         0);
}

static JournalCounters counters(const Journal *j) {
        JournalCounters c;

        journal_counters(j, &c);
        return c;
}

static void set_ok(Journal *j, const char *name, const char *value) {
        _cleanup_free_ char *error = NULL;
        int r = journal_set(j, name, value, "test", &error);

        if (r != 0)
                fail_msg("journal_set(%s, %s) = %d: %s", name, value, r, error ?: "?");
        assert_null(error);
}

static void get_row(Store *store, const char *name, StoreKnob *row) {
        int r = store_knob_get(store, name, row);

        if (r != 0)
                fail_msg("no journal record of %s: %d", name, r);
}

/* One knob of each scope and type; the paths below are the fixture's. */
static const struct {
        const char *name, *value, *rel, *file_after;
} each_scope[] = {
        { "kernel.numa_balancing", "2", "proc/sys/kernel/numa_balancing", "2\n" },
        { "net.ipv4.tcp_reordering", "9", "proc/sys/net/ipv4/tcp_reordering", "9\n" },
        { "node.1.hugepages.2048kB", "256", "sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages",
          "256\n" },
        { "net.eth0.threaded", "1", "sys/class/net/eth0/threaded", "1\n" },
        { "net.eth0.rx.1.rps_cpus", "3", "sys/class/net/eth0/queues/rx-1/rps_cpus", "3\n" },
        { "mm.numa.demotion_enabled", "yes", "sys/kernel/mm/numa/demotion_enabled", "true\n" },
        { "sched.numa_balancing.hot_threshold_ms", "250", "sys/kernel/debug/sched/numa_balancing/hot_threshold_ms",
          "250\n" },
};

static void set_each_scope(Journal *j) {
        for (size_t i = 0; i < ELEMENTSOF(each_scope); i++) {
                set_ok(j, each_scope[i].name, each_scope[i].value);
                testutil_assert_text(each_scope[i].rel, each_scope[i].file_after);
        }
}

static void test_set_and_restore_all(void **state) {
        _cleanup_free_ char *error = NULL;
        StoreKnob row = {};
        Subject *s = subject_new(false, NULL);

        set_each_scope(s->journal);
        /* A second write keeps the first original. */
        set_ok(s->journal, "kernel.numa_balancing", "3");
        get_row(s->store, "kernel.numa_balancing", &row);
        assert_string_equal(row.original, "0");
        assert_string_equal(row.desired, "3");
        assert_string_equal(row.applied, "3");
        assert_string_equal(row.state, "applied");
        assert_true(row.written);
        assert_string_equal(row.changed_by, "test");
        assert_non_null(strstr(row.path, "/proc/sys/kernel/numa_balancing"));
        store_knob_done(&row);
        get_row(s->store, "net.eth0.rx.1.rps_cpus", &row);
        assert_string_equal(row.original, "00000000,00000000");
        assert_non_null(strstr(row.path, "/sys/devices/pci0000:00/")); /* the resolved path is journaled */
        store_knob_done(&row);
        assert_int_equal(store_knob_count(s->store), (int) ELEMENTSOF(each_scope));
        assert_int_equal(counters(s->journal).writes_total, ELEMENTSOF(each_scope) + 1);

        assert_int_equal(journal_restore_all(s->journal, true, &error), (int) ELEMENTSOF(each_scope));
        assert_null(error);
        assert_int_equal(store_knob_count(s->store), 0);
        testutil_assert_pristine();
        subject_free(s);
}

static void test_restore_one(void **state) {
        _cleanup_free_ char *error = NULL;
        Subject *s = subject_new(false, NULL);

        set_ok(s->journal, "vm.nr_hugepages", "64");
        set_ok(s->journal, "net.core.optmem_max", "5");
        assert_int_equal(journal_restore(s->journal, "net.core.optmem_max", true, &error), 0);
        testutil_assert_text("proc/sys/net/core/optmem_max", "131072\n");
        testutil_assert_text("proc/sys/vm/nr_hugepages", "64\n");
        assert_int_equal(store_knob_get(s->store, "net.core.optmem_max", &(StoreKnob) {}), -ENOENT);
        /* Nothing to restore is fine. */
        assert_int_equal(journal_restore(s->journal, "net.core.optmem_max", true, &error), 0);
        assert_int_equal(journal_restore(s->journal, "vm.nr_hugepages", false, &error), 0);
        testutil_assert_pristine();
        subject_free(s);
}

static void die_before_write(Journal *j, const char *name, void *userdata) {
        _exit(42);
}

/* The contract: a crash between the commit and the write leaves the original
 * journaled and the file untouched; reconciling restores (a no-op write). */
static void test_original_committed_before_write(void **state) {
        StoreKnob row = {};
        Subject *s;
        int status;
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0) {
                _cleanup_free_ char *error = NULL;

                s = subject_new(false, NULL);
                journal_set_hook(s->journal, die_before_write, NULL);
                (void) journal_set(s->journal, "vm.nr_hugepages", "1024", "test", &error);
                _exit(1); /* the hook did not run */
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 42);

        s = subject_new(false, NULL);
        get_row(s->store, "vm.nr_hugepages", &row);
        assert_string_equal(row.original, "0");
        assert_string_equal(row.desired, "1024");
        assert_null(row.applied);
        assert_string_equal(row.state, "pending");
        assert_true(row.written);
        store_knob_done(&row);
        testutil_assert_text("proc/sys/vm/nr_hugepages", "0\n");

        assert_int_equal(journal_reconcile(s->journal), 1);
        assert_int_equal(store_knob_count(s->store), 0);
        testutil_assert_pristine();
        subject_free(s);
}

static ssize_t write_einval(int fd, const void *buf, size_t n) {
        errno = EINVAL;
        return -1;
}

static ssize_t write_keep_100(int fd, const void *buf, size_t n) {
        return write(fd, "100\n", 4) == 4 ? (ssize_t) n : -1;
}

static void test_failed_write(void **state) {
        _cleanup_free_ char *error = NULL;
        StoreKnob row = {};
        Subject *s = subject_new(false, NULL);

        /* A first write the kernel refuses leaves nothing owned. */
        knobs_set_write_fn(write_einval);
        assert_int_equal(journal_set(s->journal, "vm.nr_hugepages", "8", "test", &error), -EINVAL);
        assert_non_null(strstr(error, "rejected"));
        assert_int_equal(store_knob_get(s->store, "vm.nr_hugepages", &row), -ENOENT);
        free(TAKE_PTR(error));

        /* After a good write, a refused one keeps what maiod wrote as applied. */
        knobs_set_write_fn(NULL);
        set_ok(s->journal, "vm.nr_hugepages", "8");
        knobs_set_write_fn(write_einval);
        assert_int_equal(journal_set(s->journal, "vm.nr_hugepages", "9", "test", &error), -EINVAL);
        knobs_set_write_fn(NULL);
        get_row(s->store, "vm.nr_hugepages", &row);
        assert_string_equal(row.state, "failed");
        assert_string_equal(row.applied, "8");
        assert_string_equal(row.original, "0");
        store_knob_done(&row);
        assert_int_equal(counters(s->journal).write_failures_total, 2);
        free(TAKE_PTR(error));

        assert_int_equal(journal_restore_all(s->journal, true, &error), 1);
        testutil_assert_pristine();
        subject_free(s);
}

static void test_partial(void **state) {
        _cleanup_free_ char *error = NULL;
        StoreKnob row = {};
        Subject *s = subject_new(false, NULL);

        knobs_set_write_fn(write_keep_100);
        assert_int_equal(journal_set(s->journal, "node.0.hugepages.2048kB", "512", "test", &error), -ENOSPC);
        knobs_set_write_fn(NULL);
        assert_non_null(strstr(error, "kept 100 of 512"));
        get_row(s->store, "node.0.hugepages.2048kB", &row);
        assert_string_equal(row.state, "partial");
        assert_string_equal(row.applied, "100");
        assert_string_equal(row.desired, "512");
        store_knob_done(&row);
        /* Partial is still maiod's value: no drift. */
        assert_int_equal(journal_check_drift(s->journal), 0);
        free(TAKE_PTR(error));
        assert_int_equal(journal_restore_all(s->journal, true, &error), 1);
        testutil_assert_pristine();
        subject_free(s);
}

static void test_bad_requests(void **state) {
        _cleanup_free_ char *error = NULL;
        Subject *s = subject_new(false, NULL);

        assert_int_equal(journal_set(s->journal, "vm.nope", "1", "test", &error), -ENOENT);
        free(TAKE_PTR(error));
        assert_int_equal(journal_set(s->journal, "vm..nr_hugepages", "1", "test", &error), -EINVAL);
        free(TAKE_PTR(error));
        assert_int_equal(journal_set(s->journal, "net.nope.threaded", "1", "test", &error), -ENODEV);
        free(TAKE_PTR(error));
        assert_int_equal(journal_set(s->journal, "kernel.numa_balancing", "7", "test", &error), -EINVAL);
        assert_non_null(strstr(error, "0..3"));
        free(TAKE_PTR(error));
        testutil_sh("rm '%s/sys/kernel/debug/sched/numa_balancing/hot_threshold_ms'", testutil_tree.root);
        assert_int_equal(journal_set(s->journal, "sched.numa_balancing.hot_threshold_ms", "5", "test", &error),
                         -EOPNOTSUPP);
        assert_non_null(strstr(error, "debugfs"));
        assert_int_equal(store_knob_count(s->store), 0);
        subject_free(s);
}

static void test_dry_run(void **state) {
        _cleanup_free_ char *error = NULL;
        StoreKnob row = {};
        Subject *s = subject_new(true, NULL);

        for (size_t i = 0; i < ELEMENTSOF(each_scope); i++)
                set_ok(s->journal, each_scope[i].name, each_scope[i].value);
        testutil_assert_pristine();
        get_row(s->store, "kernel.numa_balancing", &row);
        assert_string_equal(row.state, "dry-run");
        assert_false(row.written);
        assert_null(row.applied);
        store_knob_done(&row);
        assert_int_equal(journal_check_drift(s->journal), 0);
        /* Restoring a dry-run intent writes nothing and forgets it. */
        assert_int_equal(journal_restore_all(s->journal, true, &error), (int) ELEMENTSOF(each_scope));
        assert_int_equal(store_knob_count(s->store), 0);
        testutil_assert_pristine();

        /* A record maiod did write is not restored, nor forgotten, by a dry run. */
        subject_restart(s, false);
        set_ok(s->journal, "vm.nr_hugepages", "4");
        subject_restart(s, true);
        assert_int_equal(journal_restore(s->journal, "vm.nr_hugepages", true, &error), 0);
        testutil_assert_text("proc/sys/vm/nr_hugepages", "4\n");
        assert_int_equal(store_knob_count(s->store), 1);
        /* Nor does a dry-run set lose its original. */
        set_ok(s->journal, "vm.nr_hugepages", "6");
        testutil_assert_text("proc/sys/vm/nr_hugepages", "4\n");
        get_row(s->store, "vm.nr_hugepages", &row);
        assert_string_equal(row.original, "0");
        assert_true(row.written);
        store_knob_done(&row);
        subject_restart(s, false);
        assert_int_equal(journal_restore_all(s->journal, true, &error), 1);
        testutil_assert_pristine();
        subject_free(s);
}

static void test_drift(void **state) {
        _cleanup_free_ char *error = NULL;
        StoreKnob row = {};
        Subject *s = subject_new(false, NULL);

        set_ok(s->journal, "net.core.optmem_max", "4096");
        set_ok(s->journal, "vm.nr_hugepages", "16");
        assert_int_equal(journal_check_drift(s->journal), 0);
        testutil_put_text("proc/sys/net/core/optmem_max", "777\n");
        assert_int_equal(journal_check_drift(s->journal), 1);
        assert_int_equal(counters(s->journal).overrides_total, 1);
        get_row(s->store, "net.core.optmem_max", &row);
        assert_string_equal(row.state, "overridden");
        assert_true(row.overridden_logged);
        store_knob_done(&row);
        /* Reported once, left alone. */
        assert_int_equal(journal_check_drift(s->journal), 0);
        assert_int_equal(counters(s->journal).overrides_total, 1);
        testutil_assert_text("proc/sys/net/core/optmem_max", "777\n");

        /* Back at maiod's value: applied again, and a new override counts again. */
        testutil_put_text("proc/sys/net/core/optmem_max", "4096\n");
        assert_int_equal(journal_check_drift(s->journal), 0);
        get_row(s->store, "net.core.optmem_max", &row);
        assert_string_equal(row.state, "applied");
        store_knob_done(&row);
        testutil_put_text("proc/sys/net/core/optmem_max", "778\n");
        assert_int_equal(journal_check_drift(s->journal), 1);
        assert_int_equal(counters(s->journal).overrides_total, 2);

        /* A clean stop leaves the overridden knob to whoever changed it, restores the rest. */
        assert_int_equal(journal_restore_all(s->journal, false, &error), 2);
        testutil_assert_text("proc/sys/net/core/optmem_max", "778\n");
        testutil_assert_text("proc/sys/vm/nr_hugepages", "0\n");
        assert_int_equal(store_knob_count(s->store), 0);
        subject_free(s);
}

static void test_drift_forced_restore(void **state) {
        _cleanup_free_ char *error = NULL;
        Subject *s = subject_new(false, NULL);

        set_ok(s->journal, "net.core.optmem_max", "4096");
        testutil_put_text("proc/sys/net/core/optmem_max", "777\n");
        assert_int_equal(journal_check_drift(s->journal), 1);
        /* An explicit restore is the operator's call: it writes the original anyway. */
        assert_int_equal(journal_restore_all(s->journal, true, &error), 1);
        testutil_assert_pristine();
        subject_free(s);
}

static void test_enforce(void **state) {
        _cleanup_free_ char *error = NULL;
        StoreKnob row = {};
        JournalConf conf = defaults;
        Subject *s;

        conf.enforce = true;
        s = subject_new(false, &conf);

        set_ok(s->journal, "net.eth0.rx.0.rps_cpus", "f");
        testutil_put_text("sys/class/net/eth0/queues/rx-0/rps_cpus", "00000000,00000001\n");
        assert_int_equal(journal_check_drift(s->journal), 1);
        testutil_assert_text("sys/class/net/eth0/queues/rx-0/rps_cpus", "f\n");
        get_row(s->store, "net.eth0.rx.0.rps_cpus", &row);
        assert_string_equal(row.state, "applied");
        assert_string_equal(row.changed_by, "enforce");
        assert_string_equal(row.original, "00000000,00000000");
        store_knob_done(&row);
        assert_int_equal(counters(s->journal).overrides_total, 1);
        assert_int_equal(journal_restore_all(s->journal, true, &error), 1);
        testutil_assert_pristine();
        subject_free(s);
}

/* Start, change knobs, "crash" (no journal_stop), start again. */
static void crash_and_restart(unsigned reconcile) {
        JournalConf conf = defaults;
        Subject *s;

        conf.reconcile = (int) reconcile;
        s = subject_new(false, &conf);

        assert_int_equal(journal_start(s->journal), 0);
        set_each_scope(s->journal);
        subject_free(s);

        s = subject_new(false, &conf);
        assert_int_equal(journal_start(s->journal), 0);
        if (reconcile == KNOBS_RECONCILE_RESTORE) {
                assert_int_equal(store_knob_count(s->store), 0);
                testutil_assert_pristine();
        } else {
                for (size_t i = 0; i < ELEMENTSOF(each_scope); i++)
                        testutil_assert_text(each_scope[i].rel, each_scope[i].file_after);
                assert_int_equal(store_knob_count(s->store), (int) ELEMENTSOF(each_scope));
                /* The originals survived the crash and the reapply. */
                assert_int_equal(journal_stop(s->journal), 0);
                testutil_assert_pristine();
        }
        subject_free(s);
}

static void test_unclean_restore(void **state) {
        crash_and_restart(KNOBS_RECONCILE_RESTORE);
}

static void test_unclean_reapply(void **state) {
        crash_and_restart(KNOBS_RECONCILE_REAPPLY);
}

static void test_clean_stop(void **state) {
        _cleanup_free_ char *marker = NULL;
        Subject *s = subject_new(false, NULL);

        assert_int_equal(journal_start(s->journal), 0);
        assert_int_equal(store_state_get(s->store, "clean_stop", &marker), 0);
        assert_string_equal(marker, "no");
        free(TAKE_PTR(marker));
        set_each_scope(s->journal);
        assert_int_equal(journal_stop(s->journal), 0);
        testutil_assert_pristine();
        assert_int_equal(store_state_get(s->store, "clean_stop", &marker), 0);
        assert_string_equal(marker, "yes");
        subject_free(s);

        /* restore_on_exit = no keeps the values, and a clean start does not reconcile them. */
        s = subject_new(false, &keep_on_exit);
        assert_int_equal(journal_start(s->journal), 0);
        set_ok(s->journal, "vm.nr_hugepages", "32");
        assert_int_equal(journal_stop(s->journal), 0);
        subject_free(s);
        testutil_assert_text("proc/sys/vm/nr_hugepages", "32\n");
        s = subject_new(false, NULL);
        assert_int_equal(journal_start(s->journal), 0);
        testutil_assert_text("proc/sys/vm/nr_hugepages", "32\n");
        assert_int_equal(store_knob_count(s->store), 1);
        assert_int_equal(journal_stop(s->journal), 0); /* restore_on_exit is back to yes */
        testutil_assert_pristine();
        subject_free(s);
}


static void add_test_conflict(void *userdata, json_object *array) {
        json_object_array_add(array, journal_conflict_new("xdp", "eth0", "a test's conflict"));
}

/* Owned state other than knobs (MFLOW's XDP attachments, pins, its bpffs mount): records survive a
 * crash for the owner to reconcile, a start after one says so, and disowning forgets them. */
static void test_owned(void **state) {
        char **names = NULL, **data = NULL;
        size_t n = 0;
        Subject *s = subject_new(false, NULL);
        json_object *arr;

        assert_int_equal(journal_start(s->journal), 0);
        assert_false(journal_unclean_start(s->journal));
        assert_int_equal(journal_own(s->journal, "xdp", "eth0", "{\"pins\":\"/x/eth0\"}"), 0);
        assert_int_equal(journal_own(s->journal, "xdp", "eth1_%", "{}"), 0);
        assert_int_equal(journal_own(s->journal, "bpffs", "/sys/fs/bpf/maio", "mounted"), 0);
        assert_int_equal(journal_own(s->journal, "x/y", "eth0", ""), -EINVAL);
        /* A kind is a prefix of no other kind's records. */
        assert_int_equal(journal_own(s->journal, "xd", "eth9", ""), 0);
        subject_restart(s, false); /* a crash: no journal_stop() */
        assert_int_equal(journal_start(s->journal), 0);
        assert_true(journal_unclean_start(s->journal));
        assert_int_equal(journal_owned_list(s->journal, "xdp", &names, &data, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(names[0], "eth0");
        assert_string_equal(data[0], "{\"pins\":\"/x/eth0\"}");
        assert_string_equal(names[1], "eth1_%");
        store_strv_free(names, n);
        store_strv_free(data, n);
        assert_int_equal(journal_disown(s->journal, "xdp", "eth0"), 0);
        assert_int_equal(journal_disown(s->journal, "xdp", "eth0"), 0); /* already gone: fine */
        assert_int_equal(journal_owned_list(s->journal, "xdp", &names, &data, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(names[0], "eth1_%");
        store_strv_free(names, n);
        store_strv_free(data, n);
        assert_int_equal(journal_owned_list(s->journal, "bpffs", &names, &data, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(data[0], "mounted");
        store_strv_free(names, n);
        store_strv_free(data, n);
        /* A module's conflicts join the report. */
        journal_set_conflicts_fn(s->journal, add_test_conflict, NULL);
        arr = journal_conflicts_to_json(s->journal);
        assert_non_null(arr);
        assert_true(json_object_array_length(arr) >= 1);
        assert_string_equal(json_object_get_string(
                                    json_object_object_get(json_object_array_get_idx(arr,
                                                                                     json_object_array_length(arr) - 1),
                                                           "kind")),
                            "xdp");
        json_object_put(arr);
        assert_int_equal(journal_stop(s->journal), 0);
        subject_free(s);
}

static void test_reboot(void **state) {
        JournalConf reapply = defaults;
        StoreKnob row = {};
        Subject *s;

        reapply.reconcile = KNOBS_RECONCILE_REAPPLY;

        testutil_sh("mkdir -p '%s/proc/sys/kernel/random' && echo boot-a > '%s/proc/sys/kernel/random/boot_id'",
                    testutil_tree.root, testutil_tree.root);
        s = subject_new(false, &keep_on_exit);
        assert_int_equal(journal_start(s->journal), 0);
        set_ok(s->journal, "vm.nr_hugepages", "32");
        set_ok(s->journal, "kernel.numa_balancing", "1");
        assert_int_equal(journal_stop(s->journal), 0);
        subject_free(s);

        /* The "kernel" came back with boot values, one of them different from before. */
        testutil_sh("echo boot-b > '%s/proc/sys/kernel/random/boot_id'", testutil_tree.root);
        testutil_put_text("proc/sys/vm/nr_hugepages", "5\n");
        testutil_put_text("proc/sys/kernel/numa_balancing", "0\n");
        s = subject_new(false, &reapply);
        assert_int_equal(journal_start(s->journal), 0);
        testutil_assert_text("proc/sys/vm/nr_hugepages", "32\n");
        get_row(s->store, "vm.nr_hugepages", &row);
        assert_string_equal(row.original, "5"); /* the new boot's value */
        store_knob_done(&row);
        assert_int_equal(journal_stop(s->journal), 0);
        testutil_assert_text("proc/sys/vm/nr_hugepages", "5\n");
        subject_free(s);

        /* Restore mode forgets records from another boot without writing. */
        s = subject_new(false, &keep_on_exit);
        assert_int_equal(journal_start(s->journal), 0);
        set_ok(s->journal, "vm.nr_hugepages", "33");
        assert_int_equal(journal_stop(s->journal), 0);
        subject_free(s);
        testutil_sh("echo boot-c > '%s/proc/sys/kernel/random/boot_id'", testutil_tree.root);
        s = subject_new(false, NULL);
        assert_int_equal(journal_start(s->journal), 0);
        assert_int_equal(store_knob_count(s->store), 0);
        testutil_assert_text("proc/sys/vm/nr_hugepages", "33\n");
        subject_free(s);
}

static void test_lock(void **state) {
        Subject *a = subject_new(false, NULL), *b = subject_new(false, NULL);

        assert_int_equal(journal_start(a->journal), 0);
        assert_int_equal(journal_start(b->journal), -EBUSY);
        subject_free(a);
        assert_int_equal(journal_start(b->journal), 0);
        subject_free(b);
}

static void test_conflicts(void **state) {
        _cleanup_(json_object_putp) json_object *arr = NULL;
        json_object *c, *v;
        Subject *s = subject_new(false, NULL);
        Features features = { .damon_kdamonds_foreign = 2 };

        journal_set_features(s->journal, &features);
        arr = journal_conflicts_to_json(s->journal);
        assert_non_null(arr);
        assert_int_equal(json_object_array_length(arr), 2);
        c = json_object_array_get_idx(arr, 0);
        assert_true(json_object_object_get_ex(c, "name", &v));
        assert_string_equal(json_object_get_string(v), "irqbalance");
        assert_true(json_object_object_get_ex(c, "pid", &v));
        assert_int_equal(json_object_get_int(v), 812);
        c = json_object_array_get_idx(arr, 1);
        assert_true(json_object_object_get_ex(c, "count", &v));
        assert_int_equal(json_object_get_int(v), 2);
        json_object_put(TAKE_PTR(arr));

        testutil_sh("rm -r '%s/proc/812'", testutil_tree.root);
        features.damon_kdamonds_foreign = 0;
        arr = journal_conflicts_to_json(s->journal);
        assert_int_equal(json_object_array_length(arr), 0);
        subject_free(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_set_and_restore_all, setup, testutil_tree_teardown),
                cmocka_unit_test_setup_teardown(test_restore_one, setup, testutil_tree_teardown),
                cmocka_unit_test_setup_teardown(test_original_committed_before_write, setup, testutil_tree_teardown),
                cmocka_unit_test_setup_teardown(test_failed_write, setup, testutil_tree_teardown),
                cmocka_unit_test_setup_teardown(test_partial, setup, testutil_tree_teardown),
                cmocka_unit_test_setup_teardown(test_bad_requests, setup, testutil_tree_teardown),
                cmocka_unit_test_setup_teardown(test_dry_run, setup, testutil_tree_teardown),
                cmocka_unit_test_setup_teardown(test_drift, setup, testutil_tree_teardown),
                cmocka_unit_test_setup_teardown(test_drift_forced_restore, setup, testutil_tree_teardown),
                cmocka_unit_test_setup_teardown(test_enforce, setup, testutil_tree_teardown),
                cmocka_unit_test_setup_teardown(test_unclean_restore, setup, testutil_tree_teardown),
                cmocka_unit_test_setup_teardown(test_owned, setup, testutil_tree_teardown),
                cmocka_unit_test_setup_teardown(test_unclean_reapply, setup, testutil_tree_teardown),
                cmocka_unit_test_setup_teardown(test_clean_stop, setup, testutil_tree_teardown),
                cmocka_unit_test_setup_teardown(test_reboot, setup, testutil_tree_teardown),
                cmocka_unit_test_setup_teardown(test_lock, setup, testutil_tree_teardown),
                cmocka_unit_test_setup_teardown(test_conflicts, setup, testutil_tree_teardown),
        };

        if (testutil_fixtures_init() < 0)
                return 1;
        return cmocka_run_group_tests(tests, NULL, NULL);
}
