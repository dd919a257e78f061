/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for daemon/journal.c on a temp store and a temp copy of
 * tests/fixtures/knobs-host: the original is committed before the write (a
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

#include "journal.h"
#include "knobs.h"
#include "manager.h"

static const char *fixtures_dir;
static char tmp_dir[64], tmp_root[128], tmp_state[128], pristine[PATH_MAX];

static void sh(const char *format, ...) _printf_(1, 2);
static void sh(const char *format, ...) {
        _cleanup_free_ char *cmd = NULL;
        va_list ap;

        va_start(ap, format);
        assert_true(vasprintf(&cmd, format, ap) > 0);
        va_end(ap);
        assert_int_equal(system(cmd), 0);
}

static int setup(void **state) {
        snprintf(tmp_dir, sizeof tmp_dir, "/tmp/test-journal-XXXXXX");
        assert_non_null(mkdtemp(tmp_dir));
        snprintf(tmp_root, sizeof tmp_root, "%s/root", tmp_dir);
        snprintf(tmp_state, sizeof tmp_state, "%s/state", tmp_dir);
        snprintf(pristine, sizeof pristine, "%s/knobs-host", fixtures_dir);
        sh("cp -a '%s' '%s' && mkdir -m 0700 '%s'", pristine, tmp_root, tmp_state);
        return 0;
}

static int teardown(void **state) {
        sh("rm -rf '%s'", tmp_dir);
        return 0;
}

/* A Manager with just what the journal uses: root, state dir, config, store. */
static Manager *manager_make(void) {
        Manager *m = calloc(1, sizeof *m);

        assert_non_null(m);
        m->root = strdup(tmp_root);
        m->state_dir = strdup(tmp_state);
        assert_int_equal(conf_new_default(&m->config), 0);
        assert_int_equal(store_open(tmp_state, &m->store), 0);
        return m;
}

static void manager_drop(Manager *m) {
        journal_free(m->journal);
        store_free(m->store);
        conf_free(m->config);
        free(m->root);
        free(m->state_dir);
        free(m);
}

static char *text_of(const char *rel) {
        _cleanup_free_ char *path = NULL;
        char *buf = calloc(1, 4096);
        int fd;

        assert_non_null(buf);
        assert_true(asprintf(&path, "%s/%s", tmp_root, rel) > 0);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_true(read(fd, buf, 4095) >= 0);
        close(fd);
        return buf;
}

static void assert_text(const char *rel, const char *want) {
        _cleanup_free_ char *t = text_of(rel);

        if (strcmp(t, want) != 0)
                fail_msg("%s holds '%s', expected '%s'", rel, t, want);
}

static void put_text(const char *rel, const char *text) {
        _cleanup_free_ char *path = NULL;
        FILE *f;

        assert_true(asprintf(&path, "%s/%s", tmp_root, rel) > 0);
        f = fopen(path, "we");
        assert_non_null(f);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
}

/* Every file of the copy is byte-for-byte the fixture's. */
static void assert_pristine(void) {
        sh("diff -r --no-dereference '%s' '%s'", pristine, tmp_root);
}

static void set_ok(Manager *m, const char *name, const char *value) {
        _cleanup_free_ char *error = NULL;
        int r = journal_set(m, name, value, "test", &error);

        if (r != 0)
                fail_msg("journal_set(%s, %s) = %d: %s", name, value, r, error ?: "?");
        assert_null(error);
}

static void get_row(Manager *m, const char *name, StoreKnob *row) {
        int r = store_knob_get(m->store, name, row);

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

static void set_each_scope(Manager *m) {
        for (size_t i = 0; i < ELEMENTSOF(each_scope); i++) {
                set_ok(m, each_scope[i].name, each_scope[i].value);
                assert_text(each_scope[i].rel, each_scope[i].file_after);
        }
}

static void test_set_and_restore_all(void **state) {
        _cleanup_free_ char *error = NULL;
        StoreKnob row = {};
        Manager *m = manager_make();

        set_each_scope(m);
        /* A second write keeps the first original. */
        set_ok(m, "kernel.numa_balancing", "3");
        get_row(m, "kernel.numa_balancing", &row);
        assert_string_equal(row.original, "0");
        assert_string_equal(row.desired, "3");
        assert_string_equal(row.applied, "3");
        assert_string_equal(row.state, "applied");
        assert_true(row.written);
        assert_string_equal(row.changed_by, "test");
        assert_non_null(strstr(row.path, "/proc/sys/kernel/numa_balancing"));
        store_knob_done(&row);
        get_row(m, "net.eth0.rx.1.rps_cpus", &row);
        assert_string_equal(row.original, "00000000,00000000");
        assert_non_null(strstr(row.path, "/sys/devices/pci0000:00/")); /* the resolved path is journaled */
        store_knob_done(&row);
        assert_int_equal(store_knob_count(m->store), (int) ELEMENTSOF(each_scope));
        assert_int_equal(m->metrics.knob_writes_total, ELEMENTSOF(each_scope) + 1);

        assert_int_equal(journal_restore_all(m, true, &error), (int) ELEMENTSOF(each_scope));
        assert_null(error);
        assert_int_equal(store_knob_count(m->store), 0);
        assert_pristine();
        manager_drop(m);
}

static void test_restore_one(void **state) {
        _cleanup_free_ char *error = NULL;
        Manager *m = manager_make();

        set_ok(m, "vm.nr_hugepages", "64");
        set_ok(m, "net.core.optmem_max", "5");
        assert_int_equal(journal_restore(m, "net.core.optmem_max", true, &error), 0);
        assert_text("proc/sys/net/core/optmem_max", "131072\n");
        assert_text("proc/sys/vm/nr_hugepages", "64\n");
        assert_int_equal(store_knob_get(m->store, "net.core.optmem_max", &(StoreKnob){}), -ENOENT);
        /* Nothing to restore is fine. */
        assert_int_equal(journal_restore(m, "net.core.optmem_max", true, &error), 0);
        assert_int_equal(journal_restore(m, "vm.nr_hugepages", false, &error), 0);
        assert_pristine();
        manager_drop(m);
}

static void die_before_write(Manager *m, const char *name, void *userdata) {
        _exit(42);
}

/* The contract: a crash between the commit and the write leaves the original
 * journaled and the file untouched; reconciling restores (a no-op write). */
static void test_original_committed_before_write(void **state) {
        StoreKnob row = {};
        Manager *m;
        int status;
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0) {
                _cleanup_free_ char *error = NULL;

                m = manager_make();
                journal_set_hook(m, die_before_write, NULL);
                (void) journal_set(m, "vm.nr_hugepages", "1024", "test", &error);
                _exit(1); /* the hook did not run */
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 42);

        m = manager_make();
        get_row(m, "vm.nr_hugepages", &row);
        assert_string_equal(row.original, "0");
        assert_string_equal(row.desired, "1024");
        assert_null(row.applied);
        assert_string_equal(row.state, "pending");
        assert_true(row.written);
        store_knob_done(&row);
        assert_text("proc/sys/vm/nr_hugepages", "0\n");

        assert_int_equal(journal_reconcile(m), 1);
        assert_int_equal(store_knob_count(m->store), 0);
        assert_pristine();
        manager_drop(m);
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
        Manager *m = manager_make();

        /* A first write the kernel refuses leaves nothing owned. */
        knobs_set_write_fn(write_einval);
        assert_int_equal(journal_set(m, "vm.nr_hugepages", "8", "test", &error), -EINVAL);
        assert_non_null(strstr(error, "rejected"));
        assert_int_equal(store_knob_get(m->store, "vm.nr_hugepages", &row), -ENOENT);
        free(TAKE_PTR(error));

        /* After a good write, a refused one keeps what maiod wrote as applied. */
        knobs_set_write_fn(NULL);
        set_ok(m, "vm.nr_hugepages", "8");
        knobs_set_write_fn(write_einval);
        assert_int_equal(journal_set(m, "vm.nr_hugepages", "9", "test", &error), -EINVAL);
        knobs_set_write_fn(NULL);
        get_row(m, "vm.nr_hugepages", &row);
        assert_string_equal(row.state, "failed");
        assert_string_equal(row.applied, "8");
        assert_string_equal(row.original, "0");
        store_knob_done(&row);
        assert_int_equal(m->metrics.knob_write_failures_total, 2);
        free(TAKE_PTR(error));

        assert_int_equal(journal_restore_all(m, true, &error), 1);
        assert_pristine();
        manager_drop(m);
}

static void test_partial(void **state) {
        _cleanup_free_ char *error = NULL;
        StoreKnob row = {};
        Manager *m = manager_make();

        knobs_set_write_fn(write_keep_100);
        assert_int_equal(journal_set(m, "node.0.hugepages.2048kB", "512", "test", &error), -ENOSPC);
        knobs_set_write_fn(NULL);
        assert_non_null(strstr(error, "kept 100 of 512"));
        get_row(m, "node.0.hugepages.2048kB", &row);
        assert_string_equal(row.state, "partial");
        assert_string_equal(row.applied, "100");
        assert_string_equal(row.desired, "512");
        store_knob_done(&row);
        /* Partial is still maiod's value: no drift. */
        assert_int_equal(journal_check_drift(m), 0);
        free(TAKE_PTR(error));
        assert_int_equal(journal_restore_all(m, true, &error), 1);
        assert_pristine();
        manager_drop(m);
}

static void test_bad_requests(void **state) {
        _cleanup_free_ char *error = NULL;
        Manager *m = manager_make();

        assert_int_equal(journal_set(m, "vm.nope", "1", "test", &error), -ENOENT);
        free(TAKE_PTR(error));
        assert_int_equal(journal_set(m, "vm..nr_hugepages", "1", "test", &error), -EINVAL);
        free(TAKE_PTR(error));
        assert_int_equal(journal_set(m, "net.nope.threaded", "1", "test", &error), -ENODEV);
        free(TAKE_PTR(error));
        assert_int_equal(journal_set(m, "kernel.numa_balancing", "7", "test", &error), -EINVAL);
        assert_non_null(strstr(error, "0..3"));
        free(TAKE_PTR(error));
        sh("rm '%s/sys/kernel/debug/sched/numa_balancing/hot_threshold_ms'", tmp_root);
        assert_int_equal(journal_set(m, "sched.numa_balancing.hot_threshold_ms", "5", "test", &error), -EOPNOTSUPP);
        assert_non_null(strstr(error, "debugfs"));
        assert_int_equal(store_knob_count(m->store), 0);
        manager_drop(m);
}

static void test_dry_run(void **state) {
        _cleanup_free_ char *error = NULL;
        StoreKnob row = {};
        Manager *m = manager_make();

        m->dry_run = true;
        for (size_t i = 0; i < ELEMENTSOF(each_scope); i++)
                set_ok(m, each_scope[i].name, each_scope[i].value);
        assert_pristine();
        get_row(m, "kernel.numa_balancing", &row);
        assert_string_equal(row.state, "dry-run");
        assert_false(row.written);
        assert_null(row.applied);
        store_knob_done(&row);
        assert_int_equal(journal_check_drift(m), 0);
        /* Restoring a dry-run intent writes nothing and forgets it. */
        assert_int_equal(journal_restore_all(m, true, &error), (int) ELEMENTSOF(each_scope));
        assert_int_equal(store_knob_count(m->store), 0);
        assert_pristine();

        /* A record maiod did write is not restored, nor forgotten, by a dry run. */
        m->dry_run = false;
        set_ok(m, "vm.nr_hugepages", "4");
        m->dry_run = true;
        assert_int_equal(journal_restore(m, "vm.nr_hugepages", true, &error), 0);
        assert_text("proc/sys/vm/nr_hugepages", "4\n");
        assert_int_equal(store_knob_count(m->store), 1);
        /* Nor does a dry-run set lose its original. */
        set_ok(m, "vm.nr_hugepages", "6");
        assert_text("proc/sys/vm/nr_hugepages", "4\n");
        get_row(m, "vm.nr_hugepages", &row);
        assert_string_equal(row.original, "0");
        assert_true(row.written);
        store_knob_done(&row);
        m->dry_run = false;
        assert_int_equal(journal_restore_all(m, true, &error), 1);
        assert_pristine();
        manager_drop(m);
}

static void test_drift(void **state) {
        _cleanup_free_ char *error = NULL;
        StoreKnob row = {};
        Manager *m = manager_make();

        set_ok(m, "net.core.optmem_max", "4096");
        set_ok(m, "vm.nr_hugepages", "16");
        assert_int_equal(journal_check_drift(m), 0);
        put_text("proc/sys/net/core/optmem_max", "777\n");
        assert_int_equal(journal_check_drift(m), 1);
        assert_int_equal(m->metrics.knob_overrides_total, 1);
        get_row(m, "net.core.optmem_max", &row);
        assert_string_equal(row.state, "overridden");
        assert_true(row.overridden_logged);
        store_knob_done(&row);
        /* Reported once, left alone. */
        assert_int_equal(journal_check_drift(m), 0);
        assert_int_equal(m->metrics.knob_overrides_total, 1);
        assert_text("proc/sys/net/core/optmem_max", "777\n");

        /* Back at maiod's value: applied again, and a new override counts again. */
        put_text("proc/sys/net/core/optmem_max", "4096\n");
        assert_int_equal(journal_check_drift(m), 0);
        get_row(m, "net.core.optmem_max", &row);
        assert_string_equal(row.state, "applied");
        store_knob_done(&row);
        put_text("proc/sys/net/core/optmem_max", "778\n");
        assert_int_equal(journal_check_drift(m), 1);
        assert_int_equal(m->metrics.knob_overrides_total, 2);

        /* A clean stop leaves the overridden knob to whoever changed it, restores the rest. */
        assert_int_equal(journal_restore_all(m, false, &error), 2);
        assert_text("proc/sys/net/core/optmem_max", "778\n");
        assert_text("proc/sys/vm/nr_hugepages", "0\n");
        assert_int_equal(store_knob_count(m->store), 0);
        manager_drop(m);
}

static void test_drift_forced_restore(void **state) {
        _cleanup_free_ char *error = NULL;
        Manager *m = manager_make();

        set_ok(m, "net.core.optmem_max", "4096");
        put_text("proc/sys/net/core/optmem_max", "777\n");
        assert_int_equal(journal_check_drift(m), 1);
        /* An explicit restore is the operator's call: it writes the original anyway. */
        assert_int_equal(journal_restore_all(m, true, &error), 1);
        assert_pristine();
        manager_drop(m);
}

static void test_enforce(void **state) {
        _cleanup_free_ char *error = NULL;
        StoreKnob row = {};
        Manager *m = manager_make();

        m->config->knobs_enforce = true;
        set_ok(m, "net.eth0.rx.0.rps_cpus", "f");
        put_text("sys/class/net/eth0/queues/rx-0/rps_cpus", "00000000,00000001\n");
        assert_int_equal(journal_check_drift(m), 1);
        assert_text("sys/class/net/eth0/queues/rx-0/rps_cpus", "f\n");
        get_row(m, "net.eth0.rx.0.rps_cpus", &row);
        assert_string_equal(row.state, "applied");
        assert_string_equal(row.changed_by, "enforce");
        assert_string_equal(row.original, "00000000,00000000");
        store_knob_done(&row);
        assert_int_equal(m->metrics.knob_overrides_total, 1);
        assert_int_equal(journal_restore_all(m, true, &error), 1);
        assert_pristine();
        manager_drop(m);
}

/* Start, change knobs, "crash" (no journal_stop), start again. */
static void crash_and_restart(unsigned reconcile) {
        Manager *m = manager_make();

        m->config->knobs_reconcile = reconcile;
        assert_int_equal(journal_start(m), 0);
        set_each_scope(m);
        manager_drop(m);

        m = manager_make();
        m->config->knobs_reconcile = reconcile;
        assert_int_equal(journal_start(m), 0);
        if (reconcile == KNOBS_RECONCILE_RESTORE) {
                assert_int_equal(store_knob_count(m->store), 0);
                assert_pristine();
        } else {
                for (size_t i = 0; i < ELEMENTSOF(each_scope); i++)
                        assert_text(each_scope[i].rel, each_scope[i].file_after);
                assert_int_equal(store_knob_count(m->store), (int) ELEMENTSOF(each_scope));
                /* The originals survived the crash and the reapply. */
                assert_int_equal(journal_stop(m), 0);
                assert_pristine();
        }
        manager_drop(m);
}

static void test_unclean_restore(void **state) {
        crash_and_restart(KNOBS_RECONCILE_RESTORE);
}

static void test_unclean_reapply(void **state) {
        crash_and_restart(KNOBS_RECONCILE_REAPPLY);
}

static void test_clean_stop(void **state) {
        _cleanup_free_ char *marker = NULL;
        Manager *m = manager_make();

        assert_int_equal(journal_start(m), 0);
        assert_int_equal(store_state_get(m->store, "clean_stop", &marker), 0);
        assert_string_equal(marker, "no");
        free(TAKE_PTR(marker));
        set_each_scope(m);
        assert_int_equal(journal_stop(m), 0);
        assert_pristine();
        assert_int_equal(store_state_get(m->store, "clean_stop", &marker), 0);
        assert_string_equal(marker, "yes");
        manager_drop(m);

        /* restore_on_exit = no keeps the values, and a clean start does not reconcile them. */
        m = manager_make();
        m->config->knobs_restore_on_exit = false;
        assert_int_equal(journal_start(m), 0);
        set_ok(m, "vm.nr_hugepages", "32");
        assert_int_equal(journal_stop(m), 0);
        manager_drop(m);
        assert_text("proc/sys/vm/nr_hugepages", "32\n");
        m = manager_make();
        assert_int_equal(journal_start(m), 0);
        assert_text("proc/sys/vm/nr_hugepages", "32\n");
        assert_int_equal(store_knob_count(m->store), 1);
        assert_int_equal(journal_stop(m), 0); /* restore_on_exit is back to yes */
        assert_pristine();
        manager_drop(m);
}

static void test_reboot(void **state) {
        StoreKnob row = {};
        Manager *m;

        sh("mkdir -p '%s/proc/sys/kernel/random' && echo boot-a > '%s/proc/sys/kernel/random/boot_id'", tmp_root,
           tmp_root);
        m = manager_make();
        m->config->knobs_restore_on_exit = false;
        assert_int_equal(journal_start(m), 0);
        set_ok(m, "vm.nr_hugepages", "32");
        set_ok(m, "kernel.numa_balancing", "1");
        assert_int_equal(journal_stop(m), 0);
        manager_drop(m);

        /* The "kernel" came back with boot values, one of them different from before. */
        sh("echo boot-b > '%s/proc/sys/kernel/random/boot_id'", tmp_root);
        put_text("proc/sys/vm/nr_hugepages", "5\n");
        put_text("proc/sys/kernel/numa_balancing", "0\n");
        m = manager_make();
        m->config->knobs_reconcile = KNOBS_RECONCILE_REAPPLY;
        assert_int_equal(journal_start(m), 0);
        assert_text("proc/sys/vm/nr_hugepages", "32\n");
        get_row(m, "vm.nr_hugepages", &row);
        assert_string_equal(row.original, "5"); /* the new boot's value */
        store_knob_done(&row);
        assert_int_equal(journal_stop(m), 0);
        assert_text("proc/sys/vm/nr_hugepages", "5\n");
        manager_drop(m);

        /* Restore mode forgets records from another boot without writing. */
        m = manager_make();
        m->config->knobs_restore_on_exit = false;
        assert_int_equal(journal_start(m), 0);
        set_ok(m, "vm.nr_hugepages", "33");
        assert_int_equal(journal_stop(m), 0);
        manager_drop(m);
        sh("echo boot-c > '%s/proc/sys/kernel/random/boot_id'", tmp_root);
        m = manager_make();
        assert_int_equal(journal_start(m), 0);
        assert_int_equal(store_knob_count(m->store), 0);
        assert_text("proc/sys/vm/nr_hugepages", "33\n");
        manager_drop(m);
}

static void test_lock(void **state) {
        Manager *a = manager_make(), *b = manager_make();

        assert_int_equal(journal_start(a), 0);
        assert_int_equal(journal_start(b), -EBUSY);
        manager_drop(a);
        assert_int_equal(journal_start(b), 0);
        manager_drop(b);
}

static void test_conflicts(void **state) {
        _cleanup_(json_object_putp) json_object *arr = NULL;
        json_object *c, *v;
        Manager *m = manager_make();

        m->features.damon_kdamonds_foreign = 2;
        arr = journal_conflicts_to_json(m);
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

        sh("rm -r '%s/proc/812'", tmp_root);
        m->features.damon_kdamonds_foreign = 0;
        arr = journal_conflicts_to_json(m);
        assert_int_equal(json_object_array_length(arr), 0);
        manager_drop(m);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_set_and_restore_all, setup, teardown),
                cmocka_unit_test_setup_teardown(test_restore_one, setup, teardown),
                cmocka_unit_test_setup_teardown(test_original_committed_before_write, setup, teardown),
                cmocka_unit_test_setup_teardown(test_failed_write, setup, teardown),
                cmocka_unit_test_setup_teardown(test_partial, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
                cmocka_unit_test_setup_teardown(test_dry_run, setup, teardown),
                cmocka_unit_test_setup_teardown(test_drift, setup, teardown),
                cmocka_unit_test_setup_teardown(test_drift_forced_restore, setup, teardown),
                cmocka_unit_test_setup_teardown(test_enforce, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unclean_restore, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unclean_reapply, setup, teardown),
                cmocka_unit_test_setup_teardown(test_clean_stop, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reboot, setup, teardown),
                cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
                cmocka_unit_test_setup_teardown(test_conflicts, setup, teardown),
        };

        fixtures_dir = getenv("MAIO_FIXTURES");
        if (!fixtures_dir) {
                fprintf(stderr, "MAIO_FIXTURES is not set; run through meson test\n");
                return 1;
        }
        return cmocka_run_group_tests(tests, NULL, NULL);
}
