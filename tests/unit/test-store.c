/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the SQLite store (open, migrations, tenants, tokens, events)
 * and for access tokens. Each case runs on a fresh mkdtemp directory. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cleanup.h"
#include "store-internal.h"
#include "store-tier.h"
#include "store.h"

/* ---- helpers ---- */

static int setup_dir(void **state) {
        const char *tmp = getenv("TMPDIR");
        char *d;

        if (asprintf(&d, "%s/maio-test-store-XXXXXX", tmp && *tmp ? tmp : "/tmp") < 0)
                return -1;
        if (!mkdtemp(d)) {
                free(d);
                return -1;
        }
        *state = d;
        return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

static int teardown_dir(void **state) {
        char *d = *state;
        int r = nftw(d, rm_entry, 16, FTW_DEPTH | FTW_PHYS);

        free(d);
        return r;
}

static char *db_path(const char *dir) {
        char *p;

        assert_true(asprintf(&p, "%s/%s", dir, STORE_DB_FILENAME) >= 0);
        return p;
}

/* An independent connection, as another process would have. */
static sqlite3 *raw_open(const char *dir) {
        _cleanup_free_ char *p = db_path(dir);
        sqlite3 *db = NULL;

        assert_int_equal(sqlite3_open_v2(p, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL), SQLITE_OK);
        return db;
}

static void raw_exec(sqlite3 *db, const char *sql) {
        char *err = NULL;
        int rc = sqlite3_exec(db, sql, NULL, NULL, &err);

        if (rc != SQLITE_OK)
                fail_msg("%s: %s", sql, err);
}

static int64_t raw_int(sqlite3 *db, const char *sql) {
        sqlite3_stmt *st = NULL;
        int64_t v;

        assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return v;
}

static char *raw_text(sqlite3 *db, const char *sql) {
        sqlite3_stmt *st = NULL;
        char *v;

        assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        v = strdup((const char *) sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        return v;
}

static size_t read_all(const char *path, char **ret) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        char *buf = NULL;
        size_t len = 0;
        FILE *m;

        assert_non_null(f);
        m = open_memstream(&buf, &len);
        assert_non_null(m);
        for (int c; (c = fgetc(f)) != EOF;)
                fputc(c, m);
        fclose(m);
        *ret = buf;
        return len;
}

static Tenant make_tenant(const char *name, uid_t uid) {
        return (Tenant) {
                .name = (char *) name,
                .priority = 4,
                .workload_class = (char *) "batch",
                .uid = uid,
        };
}

static int64_t add_tenant(Store *s, const char *name, uid_t uid, const char *hash) {
        Tenant t = make_tenant(name, uid);
        int64_t id = -1;

        assert_int_equal(store_tenant_add(s, &t, hash, &id), 0);
        assert_true(id > 0);
        return id;
}

/* ---- open and migrations ---- */

static void test_open_creates(void **state) {
        const char *dir = *state;
        _cleanup_free_ char *p = db_path(dir), *mode = NULL;
        _cleanup_(store_freep) Store *s = NULL;
        struct stat st;
        sqlite3 *db;

        assert_int_equal(store_open(dir, &s), 0);
        assert_true(store_schema_latest() >= 1);
        assert_int_equal(store_schema_version(s), store_schema_latest());

        assert_int_equal(stat(p, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0600);

        db = raw_open(dir);
        mode = raw_text(db, "PRAGMA journal_mode");
        assert_string_equal(mode, "wal");
        assert_int_equal(raw_int(db, "SELECT count(*) FROM schema_version"), 1);
        assert_int_equal(raw_int(db, "SELECT version FROM schema_version"), store_schema_latest());
        assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_master WHERE name IN "
                                     "('tenants', 'tokens', 'events', 'events_tenant', 'tokens_tenant')"),
                         5);
        sqlite3_close(db);
}

static void test_reopen_idempotent(void **state) {
        const char *dir = *state;
        _cleanup_free_ char *schema1 = NULL, *schema2 = NULL;
        Store *s = NULL;
        int64_t id;
        Tenant t = {};
        sqlite3 *db;

        assert_int_equal(store_open(dir, &s), 0);
        id = add_tenant(s, "web", 1000, "h1");
        s = store_free(s);

        db = raw_open(dir);
        schema1 = raw_text(db, "SELECT group_concat(sql, ';') FROM sqlite_master");
        sqlite3_close(db);

        assert_int_equal(store_open(dir, &s), 0);
        assert_int_equal(store_schema_version(s), store_schema_latest());
        assert_int_equal(store_tenant_get(s, id, &t), 0);
        assert_string_equal(t.name, "web");
        tenant_done(&t);
        s = store_free(s);

        db = raw_open(dir);
        schema2 = raw_text(db, "SELECT group_concat(sql, ';') FROM sqlite_master");
        assert_string_equal(schema1, schema2);
        assert_int_equal(raw_int(db, "SELECT count(*) FROM schema_version"), 1);
        sqlite3_close(db);
}

static void test_open_tightens_mode(void **state) {
        const char *dir = *state;
        _cleanup_free_ char *p = db_path(dir);
        _cleanup_(store_freep) Store *s = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(fchmod(fd, 0644), 0);

        assert_int_equal(store_open(dir, &s), 0);
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
}

static void test_open_refuses_bad_paths(void **state) {
        const char *dir = *state;
        _cleanup_free_ char *p = db_path(dir), *missing = NULL, *target = NULL;
        Store *s = NULL;

        assert_true(asprintf(&missing, "%s/no-such-dir", dir) >= 0);
        assert_int_equal(store_open(missing, &s), -ENOENT);
        assert_null(s);

        /* A symlink in place of the database could redirect our writes. */
        assert_true(asprintf(&target, "%s/elsewhere.db", dir) >= 0);
        assert_int_equal(symlink(target, p), 0);
        assert_int_equal(store_open(dir, &s), -ELOOP);
        assert_int_equal(access(target, F_OK), -1);
        assert_int_equal(unlink(p), 0);

        assert_int_equal(mkdir(p, 0700), 0);
        assert_true(store_open(dir, &s) < 0);
        assert_null(s);
        assert_int_equal(rmdir(p), 0);

        assert_int_equal(store_open(NULL, &s), -EINVAL);
}

static void test_open_not_a_database(void **state) {
        const char *dir = *state;
        _cleanup_free_ char *p = db_path(dir), *after = NULL;
        static const char junk[] = "this is not an SQLite database, just some text that is long enough";
        _cleanup_fclose_ FILE *f = NULL;
        Store *s = NULL;
        size_t len;

        f = fopen(p, "we");
        assert_non_null(f);
        for (int i = 0; i < 100; i++)
                fputs(junk, f);
        assert_int_equal(fclose(TAKE_PTR(f)), 0);

        assert_int_equal(store_open(dir, &s), -EBADMSG);
        assert_null(s);
        len = read_all(p, &after);
        assert_int_equal(len, 100 * strlen(junk));
}

/* Writes schema_version = latest + 1, in WAL or rollback journal mode. */
static void make_newer_db(const char *dir, bool wal) {
        sqlite3 *db = raw_open(dir);
        char sql[128];

        if (wal)
                raw_exec(db, "PRAGMA journal_mode = WAL");
        raw_exec(db, "CREATE TABLE schema_version(version INTEGER NOT NULL); CREATE TABLE future(x)");
        snprintf(sql, sizeof sql, "INSERT INTO schema_version VALUES (%d)", store_schema_latest() + 1);
        raw_exec(db, sql);
        assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void check_newer_refused(const char *dir, bool wal) {
        _cleanup_free_ char *p = db_path(dir), *before = NULL, *after = NULL;
        size_t len_before, len_after;
        Store *s = NULL;
        sqlite3 *db;

        make_newer_db(dir, wal);
        len_before = read_all(p, &before);

        assert_int_equal(store_open(dir, &s), -EPROTO);
        assert_null(s);

        len_after = read_all(p, &after);
        assert_int_equal(len_before, len_after);
        assert_memory_equal(before, after, len_before);

        db = raw_open(dir);
        assert_int_equal(raw_int(db, "SELECT version FROM schema_version"), store_schema_latest() + 1);
        assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'tenants'"), 0);
        sqlite3_close(db);
}

static void test_newer_version_refused_wal(void **state) {
        check_newer_refused(*state, true);
}

/* A rollback-journal file would be rewritten by "journal_mode = WAL" if the
 * version were checked only afterwards. */
static void test_newer_version_refused_rollback_journal(void **state) {
        check_newer_refused(*state, false);
}

static void test_version_zero_upgraded(void **state) {
        const char *dir = *state;
        _cleanup_(store_freep) Store *s = NULL;
        sqlite3 *db = raw_open(dir);

        raw_exec(db, "CREATE TABLE schema_version(version INTEGER NOT NULL); INSERT INTO schema_version VALUES (0)");
        sqlite3_close(db);

        assert_int_equal(store_open(dir, &s), 0);
        assert_int_equal(store_schema_version(s), store_schema_latest());
        add_tenant(s, "after-upgrade", 0, "h");
        assert_int_equal(store_tenant_count(s), 1);
}

static void test_version_table_broken(void **state) {
        const char *dir = *state;
        Store *s = NULL;
        sqlite3 *db = raw_open(dir);

        raw_exec(db, "CREATE TABLE schema_version(version INTEGER NOT NULL);"
                     "INSERT INTO schema_version VALUES (0); INSERT INTO schema_version VALUES (1)");
        sqlite3_close(db);

        assert_int_equal(store_open(dir, &s), -EBADMSG);
        assert_null(s);
}

static const char *const synthetic_steps[] = {
        "CREATE TABLE log(step INTEGER NOT NULL); INSERT INTO log VALUES (1)",
        "INSERT INTO log VALUES (2); CREATE TABLE two(x)",
        "INSERT INTO log VALUES (3)",
};

static void test_migrations_in_order_once(void **state) {
        const char *dir = *state;
        Store *s = NULL;
        sqlite3 *db;

        /* Two steps known first, then a build that knows three. */
        assert_int_equal(store_open_with_migrations(dir, synthetic_steps, 2, &s), 0);
        assert_int_equal(store_schema_version(s), 2);
        s = store_free(s);

        db = raw_open(dir);
        assert_int_equal(raw_int(db, "SELECT group_concat(step) = '1,2' FROM (SELECT step FROM log ORDER BY rowid)"),
                         1);
        sqlite3_close(db);

        for (int i = 0; i < 2; i++) {
                assert_int_equal(store_open_with_migrations(dir, synthetic_steps, 3, &s), 0);
                assert_int_equal(store_schema_version(s), 3);
                s = store_free(s);
        }

        db = raw_open(dir);
        assert_int_equal(raw_int(db, "SELECT group_concat(step) = '1,2,3' FROM (SELECT step FROM log ORDER BY rowid)"),
                         1);
        assert_int_equal(raw_int(db, "SELECT version FROM schema_version"), 3);
        sqlite3_close(db);

        /* The older build now meets a newer schema. */
        assert_int_equal(store_open_with_migrations(dir, synthetic_steps, 2, &s), -EPROTO);
        assert_null(s);
}

static void test_migration_failure_rolls_back(void **state) {
        static const char *const failing[] = {
                "CREATE TABLE log(step INTEGER NOT NULL); INSERT INTO log VALUES (1)",
                "INSERT INTO log VALUES (2)",
                /* The first statement succeeds; the second fails, taking the first with it. */
                "CREATE TABLE half(x); INSERT INTO log VALUES (3); INSERT INTO no_such_table VALUES (1)",
        };
        static const char *const fixed[] = {
                "CREATE TABLE log(step INTEGER NOT NULL); INSERT INTO log VALUES (1)",
                "INSERT INTO log VALUES (2)",
                "CREATE TABLE half(x); INSERT INTO log VALUES (3)",
        };
        const char *dir = *state;
        Store *s = NULL;
        sqlite3 *db;
        int r;

        r = store_open_with_migrations(dir, failing, ELEMENTSOF(failing), &s);
        assert_true(r < 0);
        assert_int_not_equal(r, -EPROTO);
        assert_null(s);

        db = raw_open(dir);
        assert_int_equal(raw_int(db, "SELECT version FROM schema_version"), 2);
        assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'half'"), 0);
        assert_int_equal(raw_int(db, "SELECT group_concat(step) = '1,2' FROM (SELECT step FROM log ORDER BY rowid)"),
                         1);
        sqlite3_close(db);

        assert_int_equal(store_open_with_migrations(dir, fixed, ELEMENTSOF(fixed), &s), 0);
        assert_int_equal(store_schema_version(s), 3);
        s = store_free(s);

        db = raw_open(dir);
        assert_int_equal(raw_int(db, "SELECT group_concat(step) = '1,2,3' FROM (SELECT step FROM log ORDER BY rowid)"),
                         1);
        sqlite3_close(db);
}

static void test_no_migrations(void **state) {
        _cleanup_(store_freep) Store *s = NULL;

        assert_int_equal(store_open_with_migrations(*state, NULL, 0, &s), 0);
        assert_int_equal(store_schema_version(s), 0);
}

/* ---- tenants ---- */

static void test_tenant_crud(void **state) {
        _cleanup_(store_freep) Store *s = NULL;
        Tenant *list = NULL, got = {};
        size_t n = 99;
        int64_t a, b;

        assert_int_equal(store_open(*state, &s), 0);
        assert_int_equal(store_tenant_count(s), 0);
        assert_int_equal(store_tenant_list(s, -1, &list, &n), 0);
        assert_int_equal(n, 0);
        assert_null(list);

        Tenant t = {
                .name = (char *) "web",
                .priority = 1,
                .workload_class = (char *) "serving",
                .uid = 1000,
                .pid = 4242,
                .pid_starttime = 123456789,
                .cgroup = (char *) "/maio/web",
                .created_usec = 42,
        };
        assert_int_equal(store_tenant_add(s, &t, "hash-web", &a), 0);
        b = add_tenant(s, "db", 1001, "hash-db");
        assert_true(b > a && a > 0);
        assert_int_equal(store_tenant_count(s), 2);

        assert_int_equal(store_tenant_get(s, a, &got), 0);
        assert_int_equal(got.id, a);
        assert_string_equal(got.name, "web");
        assert_int_equal(got.priority, 1);
        assert_string_equal(got.workload_class, "serving");
        assert_int_equal(got.uid, 1000);
        assert_int_equal(got.pid, 4242);
        assert_int_equal(got.pid_starttime, 123456789);
        assert_string_equal(got.cgroup, "/maio/web");
        assert_int_equal(got.created_usec, 42);
        tenant_done(&got);

        assert_int_equal(store_tenant_get(s, b, &got), 0);
        assert_int_equal(got.pid, 0);
        assert_int_equal(got.pid_starttime, 0);
        assert_null(got.cgroup);
        /* created_usec 0 asks the store for the current time. */
        assert_true(got.created_usec > (int64_t) (time(NULL) - 60) * 1000000);
        tenant_done(&got);
        assert_null(got.name);

        assert_int_equal(store_tenant_get(s, b + 100, &got), -ENOENT);

        assert_int_equal(store_tenant_list(s, -1, &list, &n), 0);
        assert_int_equal(n, 2);
        assert_int_equal(list[0].id, a);
        assert_int_equal(list[1].id, b);
        assert_string_equal(list[1].name, "db");
        tenant_list_free(list, n);

        assert_int_equal(store_tenant_list(s, 1001, &list, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(list[0].id, b);
        tenant_list_free(list, n);

        assert_int_equal(store_tenant_list(s, 5, &list, &n), 0);
        assert_int_equal(n, 0);
        tenant_list_free(list, n);
}

static void test_tenant_update(void **state) {
        _cleanup_(store_freep) Store *s = NULL;
        Tenant got = {};
        int64_t a;

        assert_int_equal(store_open(*state, &s), 0);
        a = add_tenant(s, "web", 1000, "h1");

        Tenant t = {
                .id = a,
                .name = (char *) "web2",
                .priority = 7,
                .workload_class = (char *) "serving",
                .uid = 5555, /* the owner is not updatable */
                .pid = 77,
                .pid_starttime = 88,
                .cgroup = (char *) "/maio/web2",
        };
        assert_int_equal(store_tenant_update(s, &t), 0);
        assert_int_equal(store_tenant_get(s, a, &got), 0);
        assert_string_equal(got.name, "web2");
        assert_int_equal(got.priority, 7);
        assert_string_equal(got.workload_class, "serving");
        assert_int_equal(got.uid, 1000);
        assert_int_equal(got.pid, 77);
        assert_int_equal(got.pid_starttime, 88);
        assert_string_equal(got.cgroup, "/maio/web2");
        tenant_done(&got);

        /* Clearing the pid and cgroup. */
        t.pid = 0;
        t.pid_starttime = 0;
        t.cgroup = NULL;
        assert_int_equal(store_tenant_update(s, &t), 0);
        assert_int_equal(store_tenant_get(s, a, &got), 0);
        assert_int_equal(got.pid, 0);
        assert_null(got.cgroup);
        tenant_done(&got);

        /* Unchanged values still count as found. */
        assert_int_equal(store_tenant_update(s, &t), 0);

        t.id = a + 1;
        assert_int_equal(store_tenant_update(s, &t), -ENOENT);
}

static void test_duplicates(void **state) {
        const char *dir = *state;
        _cleanup_(store_freep) Store *s = NULL;
        Tenant t = make_tenant("web", 1000), got = {};
        int64_t a, b, id = -1;
        sqlite3 *db;

        assert_int_equal(store_open(dir, &s), 0);
        a = add_tenant(s, "web", 1000, "h1");

        /* Same name: neither the tenant nor its token lands. */
        assert_int_equal(store_tenant_add(s, &t, "h2", &id), -EEXIST);
        assert_int_equal(id, -1);
        assert_int_equal(store_tenant_by_token(s, "h2", &id), -ENOENT);

        /* Same token hash, new name: the tenant row inserted first is rolled back. */
        t.name = (char *) "other";
        assert_int_equal(store_tenant_add(s, &t, "h1", &id), -EEXIST);
        assert_int_equal(store_tenant_count(s), 1);

        /* No transaction was left open: the next add commits and others see it. */
        b = add_tenant(s, "db", 1000, "h3");
        db = raw_open(dir);
        assert_int_equal(raw_int(db, "SELECT count(*) FROM tenants"), 2);
        assert_int_equal(raw_int(db, "SELECT count(*) FROM tokens"), 2);
        assert_int_equal(raw_int(db, "SELECT count(*) FROM tenants WHERE name = 'other'"), 0);
        sqlite3_close(db);

        /* Renaming onto a taken name. */
        assert_int_equal(store_tenant_get(s, b, &got), 0);
        free(got.name);
        got.name = strdup("web");
        assert_int_equal(store_tenant_update(s, &got), -EEXIST);
        tenant_done(&got);
        assert_int_equal(store_tenant_get(s, b, &got), 0);
        assert_string_equal(got.name, "db");
        tenant_done(&got);
        assert_int_equal(store_tenant_get(s, a, &got), 0);
        assert_string_equal(got.name, "web");
        tenant_done(&got);
        add_tenant(s, "third", 1000, "h4");
}

static void test_invalid_arguments(void **state) {
        _cleanup_(store_freep) Store *s = NULL;
        Tenant t = make_tenant("web", 1000);
        StoreEvent *e = NULL;
        size_t n;
        int64_t id;

        assert_int_equal(store_open(*state, &s), 0);
        t.priority = 8;
        assert_int_equal(store_tenant_add(s, &t, "h", &id), -EINVAL);
        t.priority = -1;
        assert_int_equal(store_tenant_add(s, &t, "h", &id), -EINVAL);
        t.priority = 0;
        t.name = NULL;
        assert_int_equal(store_tenant_add(s, &t, "h", &id), -EINVAL);
        t.name = (char *) "web";
        t.workload_class = NULL;
        assert_int_equal(store_tenant_add(s, &t, "h", &id), -EINVAL);
        t.workload_class = (char *) "batch";
        assert_int_equal(store_tenant_add(s, &t, NULL, &id), -EINVAL);
        assert_int_equal(store_tenant_add(s, &t, "", &id), -EINVAL);
        assert_int_equal(store_tenant_add(s, NULL, "h", &id), -EINVAL);
        assert_int_equal(store_tenant_count(s), 0);

        id = add_tenant(s, "web", 1000, "h");
        t.id = id;
        t.priority = 9;
        assert_int_equal(store_tenant_update(s, &t), -EINVAL);

        assert_int_equal(store_event_add(s, 0, NULL, "m"), -EINVAL);
        assert_int_equal(store_event_add(s, 0, "k", NULL), -EINVAL);
        assert_int_equal(store_event_add(s, -1, "k", "m"), -EINVAL);
        assert_int_equal(store_event_list(s, -1, 10, &e, &n), -EINVAL);
        assert_int_equal(store_event_count(s), 0);
}

/* The CHECK constraint backs up store_tenant_validate for writers that bypass it. */
static void test_schema_constraints(void **state) {
        const char *dir = *state;
        _cleanup_(store_freep) Store *s = NULL;
        sqlite3 *db;

        assert_int_equal(store_open(dir, &s), 0);
        db = raw_open(dir);
        assert_int_equal(sqlite3_exec(db,
                                      "INSERT INTO tenants(name, priority, workload_class, uid, created_usec) "
                                      "VALUES ('x', 8, 'batch', 0, 1)",
                                      NULL, NULL, NULL),
                         SQLITE_CONSTRAINT);
        sqlite3_close(db);
}

static void test_token_lookup_and_cascade(void **state) {
        const char *dir = *state;
        _cleanup_(store_freep) Store *s = NULL;
        int64_t a, b, id = 0;
        sqlite3 *db;

        assert_int_equal(store_open(dir, &s), 0);
        a = add_tenant(s, "web", 1000, "hash-a");
        b = add_tenant(s, "db", 1000, "hash-b");

        assert_int_equal(store_tenant_by_token(s, "hash-a", &id), 0);
        assert_int_equal(id, a);
        assert_int_equal(store_tenant_by_token(s, "hash-b", &id), 0);
        assert_int_equal(id, b);
        assert_int_equal(store_tenant_by_token(s, "hash-c", &id), -ENOENT);

        assert_int_equal(store_event_add(s, a, "tenant-added", "web registered"), 0);
        assert_int_equal(store_tenant_remove(s, a), 0);
        assert_int_equal(store_tenant_remove(s, a), -ENOENT);
        assert_int_equal(store_tenant_by_token(s, "hash-a", &id), -ENOENT);
        assert_int_equal(store_tenant_by_token(s, "hash-b", &id), 0);
        assert_int_equal(store_tenant_count(s), 1);
        /* Events outlive their tenant. */
        assert_int_equal(store_event_count(s), 1);

        db = raw_open(dir);
        assert_int_equal(raw_int(db, "SELECT count(*) FROM tokens"), 1);
        sqlite3_close(db);

        /* A new tenant never reuses a removed id (AUTOINCREMENT). */
        assert_true(add_tenant(s, "web", 1000, "hash-a") > b);
}

/* ---- events ---- */

static void test_events(void **state) {
        _cleanup_(store_freep) Store *s = NULL;
        StoreEvent *e = NULL;
        int64_t before = (int64_t) (time(NULL) - 60) * 1000000;
        size_t n = 0;

        assert_int_equal(store_open(*state, &s), 0);
        assert_int_equal(store_event_list(s, 0, 10, &e, &n), 0);
        assert_int_equal(n, 0);
        assert_null(e);

        assert_int_equal(store_event_add(s, 1, "k1", "first for 1"), 0);
        assert_int_equal(store_event_add(s, 2, "k2", "first for 2"), 0);
        assert_int_equal(store_event_add(s, 0, "daemon", "not about a tenant"), 0);
        assert_int_equal(store_event_add(s, 1, "k1", "second for 1"), 0);
        assert_int_equal(store_event_add(s, 1, "k1", "third for 1"), 0);
        assert_int_equal(store_event_count(s), 5);

        assert_int_equal(store_event_list(s, 0, 100, &e, &n), 0);
        assert_int_equal(n, 5);
        for (size_t i = 1; i < n; i++)
                assert_true(e[i - 1].id > e[i].id);
        assert_string_equal(e[0].message, "third for 1");
        assert_string_equal(e[2].message, "not about a tenant");
        assert_int_equal(e[2].tenant_id, 0);
        assert_string_equal(e[2].kind, "daemon");
        assert_true(e[0].time_usec > before);
        assert_string_equal(e[4].message, "first for 1");
        store_events_free(e, n);

        assert_int_equal(store_event_list(s, 1, 100, &e, &n), 0);
        assert_int_equal(n, 3);
        assert_string_equal(e[0].message, "third for 1");
        assert_string_equal(e[1].message, "second for 1");
        assert_string_equal(e[2].message, "first for 1");
        for (size_t i = 0; i < n; i++)
                assert_int_equal(e[i].tenant_id, 1);
        store_events_free(e, n);

        assert_int_equal(store_event_list(s, 1, 2, &e, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(e[1].message, "second for 1");
        store_events_free(e, n);

        assert_int_equal(store_event_list(s, 0, 1, &e, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(e[0].message, "third for 1");
        store_events_free(e, n);

        assert_int_equal(store_event_list(s, 0, 0, &e, &n), 0);
        assert_int_equal(n, 0);
        store_events_free(e, n);

        assert_int_equal(store_event_list(s, 3, 10, &e, &n), 0);
        assert_int_equal(n, 0);
        store_events_free(e, n);
}

/* More rows than the list's first allocation, to exercise growth. */
static void test_many_rows(void **state) {
        _cleanup_(store_freep) Store *s = NULL;
        StoreEvent *e = NULL;
        Tenant *t = NULL;
        char name[32];
        size_t n;

        assert_int_equal(store_open(*state, &s), 0);
        for (int i = 0; i < 50; i++) {
                snprintf(name, sizeof name, "t%02d", i);
                add_tenant(s, name, (uid_t) (i % 2), name);
                assert_int_equal(store_event_add(s, i + 1, "k", name), 0);
        }
        assert_int_equal(store_tenant_list(s, -1, &t, &n), 0);
        assert_int_equal(n, 50);
        assert_string_equal(t[49].name, "t49");
        tenant_list_free(t, n);
        assert_int_equal(store_tenant_list(s, 1, &t, &n), 0);
        assert_int_equal(n, 25);
        tenant_list_free(t, n);
        assert_int_equal(store_event_list(s, 0, 1000, &e, &n), 0);
        assert_int_equal(n, 50);
        assert_string_equal(e[0].message, "t49");
        store_events_free(e, n);
}

/* ---- durability and concurrency ---- */

static void test_durability(void **state) {
        const char *dir = *state;
        _cleanup_(store_freep) Store *s = NULL;
        _cleanup_free_ char *name = NULL;
        sqlite3 *db;
        int64_t id;

        assert_int_equal(store_open(dir, &s), 0);
        id = add_tenant(s, "durable", 1000, "hd");

        /* Visible to another connection while ours is still open. */
        db = raw_open(dir);
        name = raw_text(db, "SELECT name FROM tenants");
        assert_string_equal(name, "durable");
        assert_int_equal(raw_int(db, "SELECT tenant_id FROM tokens WHERE hash = 'hd'"), id);
        sqlite3_close(db);
}

static void test_busy(void **state) {
        const char *dir = *state;
        _cleanup_(store_freep) Store *s = NULL;
        Tenant t = make_tenant("web", 1000);
        struct timespec a, b;
        sqlite3 *db;
        double waited;
        int64_t id;

        assert_int_equal(store_open(dir, &s), 0);
        db = raw_open(dir);
        raw_exec(db, "BEGIN IMMEDIATE");

        clock_gettime(CLOCK_MONOTONIC, &a);
        assert_int_equal(store_tenant_add(s, &t, "h", &id), -EBUSY);
        clock_gettime(CLOCK_MONOTONIC, &b);
        waited = (double) (b.tv_sec - a.tv_sec) + (double) (b.tv_nsec - a.tv_nsec) / 1e9;
        assert_true(waited >= 0.8);
        assert_true(waited < 10);

        /* Readers are not blocked by a writer in WAL mode. */
        assert_int_equal(store_tenant_count(s), 0);

        raw_exec(db, "ROLLBACK");
        sqlite3_close(db);
        add_tenant(s, "web", 1000, "h");
}

static void test_errno_mapping(void **state) {
        static const struct {
                int code, sys, expect;
        } cases[] = {
                { SQLITE_OK, 0, 0 },
                { SQLITE_DONE, 0, 0 },
                { SQLITE_CONSTRAINT_UNIQUE, 0, -EEXIST },
                { SQLITE_CONSTRAINT_PRIMARYKEY, 0, -EEXIST },
                { SQLITE_CONSTRAINT_CHECK, 0, -EINVAL },
                { SQLITE_CONSTRAINT_NOTNULL, 0, -EINVAL },
                { SQLITE_CONSTRAINT_FOREIGNKEY, 0, -ENOENT },
                { SQLITE_BUSY, 0, -EBUSY },
                { SQLITE_BUSY_SNAPSHOT, 0, -EBUSY },
                { SQLITE_LOCKED, 0, -EBUSY },
                { SQLITE_NOMEM, 0, -ENOMEM },
                { SQLITE_FULL, 0, -ENOSPC },
                { SQLITE_READONLY, 0, -EROFS },
                { SQLITE_READONLY_DBMOVED, 0, -EROFS },
                { SQLITE_CORRUPT, 0, -EBADMSG },
                { SQLITE_NOTADB, 0, -EBADMSG },
                { SQLITE_CANTOPEN, ENOENT, -ENOENT },
                { SQLITE_CANTOPEN, 0, -EIO },
                { SQLITE_IOERR_WRITE, ENOSPC, -ENOSPC },
                { SQLITE_IOERR, 0, -EIO },
                { SQLITE_ERROR, EPERM, -EIO },
                { SQLITE_MISUSE, 0, -EIO },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                int r = store_errno_from_sqlite(cases[i].code, cases[i].sys);
                if (r != cases[i].expect)
                        fail_msg("code %d (sys %d): got %d, expected %d", cases[i].code, cases[i].sys, r,
                                 cases[i].expect);
        }
}

/* ---- tokens ---- */

static bool token_char_ok(char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static void test_token_generate(void **state) {
        enum { N = 64 };
        char tokens[N][TOKEN_STRLEN + 1];
        bool dash = false, underscore = false;

        for (size_t i = 0; i < N; i++) {
                memset(tokens[i], 'x', sizeof tokens[i]);
                assert_int_equal(token_generate(tokens[i]), 0);
                assert_int_equal(strlen(tokens[i]), TOKEN_STRLEN);
                for (size_t j = 0; j < TOKEN_STRLEN; j++) {
                        if (!token_char_ok(tokens[i][j]))
                                fail_msg("token %s has '%c'", tokens[i], tokens[i][j]);
                        dash |= tokens[i][j] == '-';
                        underscore |= tokens[i][j] == '_';
                }
                for (size_t j = 0; j < i; j++)
                        assert_string_not_equal(tokens[i], tokens[j]);
        }
        /* 2752 characters drawn from 64: both URL-safe substitutes must show up
         * (the chance that either is absent is below 1e-36). */
        assert_true(dash);
        assert_true(underscore);
}

static void test_token_hash(void **state) {
        char h[TOKEN_HASH_STRLEN + 1], token[TOKEN_STRLEN + 1], h2[TOKEN_HASH_STRLEN + 1];
        char long_token[TOKEN_MAX_LEN + 2];

        assert_int_equal(token_hash("abc", h), 0);
        assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_int_equal(token_hash("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", h), 0);
        assert_string_equal(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");

        assert_int_equal(token_generate(token), 0);
        assert_int_equal(token_hash(token, h), 0);
        assert_int_equal(strlen(h), TOKEN_HASH_STRLEN);
        assert_int_equal(strspn(h, "0123456789abcdef"), TOKEN_HASH_STRLEN);
        assert_int_equal(token_hash(token, h2), 0);
        assert_string_equal(h, h2);
        token[0] = token[0] == 'A' ? 'B' : 'A';
        assert_int_equal(token_hash(token, h2), 0);
        assert_string_not_equal(h, h2);

        assert_int_equal(token_hash("", h), -EINVAL);
        assert_int_equal(token_hash(NULL, h), -EINVAL);
        memset(long_token, 'a', sizeof long_token);
        long_token[TOKEN_MAX_LEN] = '\0';
        assert_int_equal(token_hash(long_token, h), 0);
        long_token[TOKEN_MAX_LEN] = 'a';
        long_token[TOKEN_MAX_LEN + 1] = '\0';
        assert_int_equal(token_hash(long_token, h), -EINVAL);
}

/* The whole path: the API stores the hash, a bearer token finds its tenant. */
static void test_token_store_roundtrip(void **state) {
        _cleanup_(store_freep) Store *s = NULL;
        char token[TOKEN_STRLEN + 1], h[TOKEN_HASH_STRLEN + 1];
        int64_t a, id;
        sqlite3 *db;

        assert_int_equal(store_open(*state, &s), 0);
        assert_int_equal(token_generate(token), 0);
        assert_int_equal(token_hash(token, h), 0);
        a = add_tenant(s, "web", 1000, h);

        assert_int_equal(token_hash(token, h), 0);
        assert_int_equal(store_tenant_by_token(s, h, &id), 0);
        assert_int_equal(id, a);

        /* The plain token is nowhere in the database. */
        db = raw_open(*state);
        assert_int_equal(raw_int(db, "SELECT count(*) FROM tokens WHERE hash = '' OR length(hash) != 64"), 0);
        sqlite3_close(db);
        assert_int_equal(store_tenant_by_token(s, token, &id), -ENOENT);
}

/* Schema v6: anchors (kept without their tenant), an episode's anchor, a tenant's stated rate. */
static void test_tier_anchors(void **state) {
        _cleanup_(store_freep) Store *s = NULL;
        StoreTierAnchor a = {
                .workload_class = (char *) "batch",
                .bucket = 0x10440,
                .action = 3,
                .rate_threshold = 3.98,
                .burst_threshold = 0.01,
                .features = (char *) "[0.25,0.95,0.25,0,0]",
                .reward = 0.125,
                .samples = 2,
                .updated_usec = 7,
        };
        StoreTierAnchor *v = NULL;
        StoreTierTenant tt = { .policy = (char *) "heuristic", .episode = 1, .promotion_rate_bytes = 1 << 20 },
                        got = {};
        StoreTierEpisode e = { .episode = 1,
                               .policy = (char *) "heuristic",
                               .action = 3,
                               .rule = (char *) "thresholds",
                               .context = (char *) "{}",
                               .anchor = (char *) "nearest anchor: here",
                               .value = NAN,
                               .reward = NAN },
                         ge = {};
        int64_t total, committed, explored, anchored;
        size_t n = 9;

        assert_int_equal(store_open(*state, &s), 0);
        assert_int_equal(store_tier_anchor_list(s, &v, &n), 0);
        assert_int_equal(n, 0);
        a.tenant_id = add_tenant(s, "a", 1000, "hash-a");
        assert_int_equal(store_tier_anchor_put(s, &a), 0);
        a.action = 4;
        a.reward = -0.5;
        a.samples = 1;
        assert_int_equal(store_tier_anchor_put(s, &a), 0);
        a.reward = 0.25; /* replaces (batch, 0x10440, 4) */
        assert_int_equal(store_tier_anchor_put(s, &a), 0);
        a.samples = 0;
        assert_int_equal(store_tier_anchor_put(s, &a), -EINVAL);
        a.samples = 1;
        a.reward = NAN;
        assert_int_equal(store_tier_anchor_put(s, &a), -EINVAL);

        /* The tenant goes; its anchors stay. */
        assert_int_equal(store_tenant_remove(s, a.tenant_id), 0);
        assert_int_equal(store_tier_anchor_list(s, &v, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(v[0].workload_class, "batch");
        assert_int_equal(v[0].bucket, 0x10440);
        assert_int_equal(v[0].action, 3);
        assert_true(v[0].reward == 0.125 && v[0].samples == 2 && v[0].updated_usec == 7);
        assert_string_equal(v[0].features, "[0.25,0.95,0.25,0,0]");
        assert_int_equal(v[1].action, 4);
        assert_true(v[1].reward == 0.25 && v[1].rate_threshold == 3.98 && v[1].burst_threshold == 0.01);
        assert_int_equal(v[1].tenant_id, a.tenant_id);
        store_tier_anchors_free(v, n);

        /* A stated promotion rate and an episode's anchor read back. */
        tt.tenant_id = e.tenant_id = add_tenant(s, "b", 1000, "hash-b");
        assert_int_equal(store_tier_tenant_put(s, &tt), 0);
        assert_int_equal(store_tier_tenant_get(s, tt.tenant_id, &got), 0);
        assert_int_equal(got.promotion_rate_bytes, 1 << 20);
        store_tier_tenant_done(&got);
        tt.promotion_rate_bytes = -1;
        assert_int_equal(store_tier_tenant_put(s, &tt), -EINVAL);
        assert_int_equal(store_tier_episode_put(s, &e), 0);
        e.episode = 2;
        e.anchor = NULL;
        assert_int_equal(store_tier_episode_put(s, &e), 0);
        assert_int_equal(store_tier_episode_get(s, e.tenant_id, 1, &ge), 0);
        assert_string_equal(ge.anchor, "nearest anchor: here");
        store_tier_episode_done(&ge);
        assert_int_equal(store_tier_episode_get(s, e.tenant_id, 2, &ge), 0);
        assert_null(ge.anchor);
        store_tier_episode_done(&ge);
        assert_int_equal(store_tier_episode_counts(s, e.tenant_id, &total, &committed, &explored, &anchored), 0);
        assert_true(total == 2 && committed == 0 && anchored == 1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup_dir, teardown_dir)

int main(void) {
        const struct CMUnitTest tests[] = {
                T(test_open_creates),
                T(test_reopen_idempotent),
                T(test_open_tightens_mode),
                T(test_open_refuses_bad_paths),
                T(test_open_not_a_database),
                T(test_newer_version_refused_wal),
                T(test_newer_version_refused_rollback_journal),
                T(test_version_zero_upgraded),
                T(test_version_table_broken),
                T(test_migrations_in_order_once),
                T(test_migration_failure_rolls_back),
                T(test_no_migrations),
                T(test_tenant_crud),
                T(test_tenant_update),
                T(test_duplicates),
                T(test_invalid_arguments),
                T(test_schema_constraints),
                T(test_token_lookup_and_cascade),
                T(test_events),
                T(test_many_rows),
                T(test_durability),
                T(test_busy),
                T(test_tier_anchors),
                cmocka_unit_test(test_errno_mapping),
                cmocka_unit_test(test_token_generate),
                cmocka_unit_test(test_token_hash),
                T(test_token_store_roundtrip),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
