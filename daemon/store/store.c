/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The SQLite store: opening (WAL, synchronous=FULL), forward-only schema
 * migrations, tenants with their token hashes, and the event log (the knob
 * journal is in store-knobs.c). All SQL is constant text; values only ever
 * travel as bound parameters. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cleanup.h"
#include "log.h"
#include "store-internal.h"
#include "store.h"
#include "time-util.h"

#define STORE_BUSY_TIMEOUT_MS 1000
#define STORE_PRIORITY_MAX 7

/* Step i takes the schema from version i to i+1. Append a step to change the
 * schema; never edit one that has shipped, databases out there already ran it. */
static const char *const store_migrations[] = {
        /* 1: tenants, their token hashes, the event log. tokens(tenant_id) is
         * indexed so the cascade on tenant removal does not scan all tokens. */
        "CREATE TABLE tenants("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  name TEXT UNIQUE NOT NULL,"
        "  priority INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 7),"
        "  workload_class TEXT NOT NULL,"
        "  uid INTEGER NOT NULL,"
        "  pid INTEGER,"
        "  pid_starttime INTEGER,"
        "  cgroup TEXT,"
        "  created_usec INTEGER NOT NULL);"
        "CREATE TABLE tokens("
        "  hash TEXT PRIMARY KEY,"
        "  tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
        "  created_usec INTEGER NOT NULL);"
        "CREATE INDEX tokens_tenant ON tokens(tenant_id);"
        /* No foreign key on tenant_id: events outlive their tenant. */
        "CREATE TABLE events("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  time_usec INTEGER NOT NULL,"
        "  tenant_id INTEGER,"
        "  kind TEXT NOT NULL,"
        "  message TEXT NOT NULL);"
        "CREATE INDEX events_tenant ON events(tenant_id, id);",
        /* 2: the knob journal (store-knobs.c) and small daemon facts such as the
         * clean-stop marker. */
        "CREATE TABLE knobs("
        "  name TEXT PRIMARY KEY,"
        "  path TEXT NOT NULL,"
        "  original TEXT NOT NULL,"
        "  desired TEXT,"
        "  applied TEXT,"
        "  state TEXT NOT NULL,"
        "  written INTEGER NOT NULL DEFAULT 0,"
        "  changed_usec INTEGER NOT NULL,"
        "  changed_by TEXT NOT NULL,"
        "  overridden_logged INTEGER NOT NULL DEFAULT 0);"
        "CREATE TABLE daemon_state("
        "  key TEXT PRIMARY KEY,"
        "  value TEXT NOT NULL);",
        /* 3: the hugepage reserve (store-pools.c): grants per (tenant, node), gone
         * with their tenant, and the nodes whose knob the reserve has sized. */
        "CREATE TABLE maio_grants("
        "  tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
        "  node INTEGER NOT NULL CHECK (node >= 0),"
        "  pages INTEGER NOT NULL CHECK (pages > 0),"
        "  created_usec INTEGER NOT NULL,"
        "  PRIMARY KEY (tenant_id, node));"
        "CREATE INDEX maio_grants_node ON maio_grants(node);"
        "CREATE TABLE maio_nodes("
        "  node INTEGER PRIMARY KEY CHECK (node >= 0),"
        "  since_usec INTEGER NOT NULL);",
        /* 4: tiering (store-tier.c): policy models, which outlive their tenant so later
         * tenants can start from them, each tenant's policy state, and its episodes. */
        "CREATE TABLE tier_models("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  tenant_id INTEGER REFERENCES tenants(id) ON DELETE SET NULL,"
        "  workload_class TEXT NOT NULL,"
        "  bucket INTEGER NOT NULL,"
        "  centroid TEXT NOT NULL,"
        "  samples INTEGER NOT NULL CHECK (samples >= 0),"
        "  policy TEXT NOT NULL,"
        "  json TEXT NOT NULL,"
        "  version INTEGER NOT NULL CHECK (version >= 0),"
        "  updated_usec INTEGER NOT NULL);"
        "CREATE INDEX tier_models_class ON tier_models(workload_class, policy);"
        "CREATE INDEX tier_models_tenant ON tier_models(tenant_id);"
        "CREATE TABLE tier_tenants("
        "  tenant_id INTEGER PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,"
        "  policy TEXT NOT NULL,"
        "  seed INTEGER NOT NULL,"
        "  model_id INTEGER REFERENCES tier_models(id) ON DELETE SET NULL,"
        "  transferred_from INTEGER,"
        "  ref_cost REAL NOT NULL,"
        "  cache_hits INTEGER NOT NULL,"
        "  cache_misses INTEGER NOT NULL,"
        "  episode INTEGER NOT NULL);"
        "CREATE TABLE tier_episodes("
        "  tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
        "  episode INTEGER NOT NULL CHECK (episode > 0),"
        "  policy TEXT NOT NULL,"
        "  action INTEGER NOT NULL,"
        "  rule TEXT NOT NULL,"
        "  rate_threshold REAL,"
        "  burst_threshold REAL,"
        "  context TEXT NOT NULL,"
        "  explored INTEGER NOT NULL,"
        "  cache_hits INTEGER NOT NULL,"
        "  metric TEXT,"
        "  value REAL,"
        "  reward REAL,"
        "  started_usec INTEGER NOT NULL,"
        "  committed_usec INTEGER,"
        "  PRIMARY KEY (tenant_id, episode));",
        /* 5: the addresses a tenant declares (blank-separated, normalised), whose flows are its own. */
        "ALTER TABLE tenants ADD COLUMN addresses TEXT;",
        /* 6: tiering anchors (store-tier.c): the mean reward of each grid action per (workload class,
         * context bucket), measured by any tenant and kept after it goes, so a joining tenant starts
         * from the nearest one; which anchor an episode's decision came from; the promotion rate a
         * tenant states. */
        "CREATE TABLE tier_anchors("
        "  workload_class TEXT NOT NULL,"
        "  bucket INTEGER NOT NULL,"
        "  action INTEGER NOT NULL CHECK (action >= 0),"
        "  rate_threshold REAL NOT NULL,"
        "  burst_threshold REAL NOT NULL,"
        "  features TEXT NOT NULL,"
        "  reward REAL NOT NULL,"
        "  samples INTEGER NOT NULL CHECK (samples > 0),"
        "  tenant_id INTEGER,"
        "  updated_usec INTEGER NOT NULL,"
        "  PRIMARY KEY (workload_class, bucket, action));"
        "ALTER TABLE tier_episodes ADD COLUMN anchor TEXT;"
        "ALTER TABLE tier_tenants ADD COLUMN promotion_rate_bytes INTEGER NOT NULL DEFAULT 0"
        "  CHECK (promotion_rate_bytes >= 0);",
};

typedef enum StoreStmt {
        STMT_TENANT_INSERT,
        STMT_TOKEN_INSERT,
        STMT_TENANT_GET,
        STMT_TENANT_BY_TOKEN,
        STMT_TENANT_LIST_ALL,
        STMT_TENANT_LIST_UID,
        STMT_TENANT_UPDATE,
        STMT_TENANT_DELETE,
        STMT_TENANT_COUNT,
        STMT_EVENT_INSERT,
        STMT_EVENT_LIST_ALL,
        STMT_EVENT_LIST_TENANT,
        STMT_EVENT_COUNT,
        _STMT_MAX,
} StoreStmt;

#define TENANT_COLUMNS "id, name, priority, workload_class, uid, pid, pid_starttime, cgroup, created_usec, addresses"
#define EVENT_COLUMNS "id, time_usec, tenant_id, kind, message"

static const char *const store_stmt_sql[_STMT_MAX] = {
        [STMT_TENANT_INSERT] = "INSERT INTO tenants(name, priority, workload_class, uid, pid, pid_starttime, "
                               "cgroup, created_usec, addresses) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?10)",
        [STMT_TOKEN_INSERT] = "INSERT INTO tokens(hash, tenant_id, created_usec) VALUES (?1, ?2, ?3)",
        [STMT_TENANT_GET] = "SELECT " TENANT_COLUMNS " FROM tenants WHERE id = ?1",
        [STMT_TENANT_BY_TOKEN] = "SELECT tenant_id FROM tokens WHERE hash = ?1",
        [STMT_TENANT_LIST_ALL] = "SELECT " TENANT_COLUMNS " FROM tenants ORDER BY id",
        [STMT_TENANT_LIST_UID] = "SELECT " TENANT_COLUMNS " FROM tenants WHERE uid = ?1 ORDER BY id",
        /* Shares parameter numbers with INSERT (store_bind_tenant); the owner (?4) never changes. */
        [STMT_TENANT_UPDATE] = "UPDATE tenants SET name = ?1, priority = ?2, workload_class = ?3, pid = ?5, "
                               "pid_starttime = ?6, cgroup = ?7, addresses = ?10 WHERE id = ?9",
        [STMT_TENANT_DELETE] = "DELETE FROM tenants WHERE id = ?1",
        [STMT_TENANT_COUNT] = "SELECT count(*) FROM tenants",
        [STMT_EVENT_INSERT] = "INSERT INTO events(time_usec, tenant_id, kind, message) VALUES (?1, ?2, ?3, ?4)",
        [STMT_EVENT_LIST_ALL] = "SELECT " EVENT_COLUMNS " FROM events ORDER BY id DESC LIMIT ?1",
        [STMT_EVENT_LIST_TENANT] = "SELECT " EVENT_COLUMNS " FROM events WHERE tenant_id = ?2 "
                                   "ORDER BY id DESC LIMIT ?1",
        [STMT_EVENT_COUNT] = "SELECT count(*) FROM events",
};

struct Store {
        sqlite3 *db;
        int version;
        /* Prepared on first use, finalized in store_free. */
        sqlite3_stmt *stmts[_STMT_MAX];
};

int store_errno_from_sqlite(int code, int system_errno) {
        switch (code) {
        case SQLITE_OK:
        case SQLITE_ROW:
        case SQLITE_DONE:
                return 0;
        case SQLITE_CONSTRAINT_UNIQUE:
        case SQLITE_CONSTRAINT_PRIMARYKEY:
                return -EEXIST;
        case SQLITE_CONSTRAINT_CHECK:
        case SQLITE_CONSTRAINT_NOTNULL:
                /* Only reachable past our own validation: the caller passed bad data. */
                return -EINVAL;
        case SQLITE_CONSTRAINT_FOREIGNKEY:
                /* The row referred to (a tenant, a model) is gone. */
                return -ENOENT;
        }

        switch (code & 0xff) {
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_READONLY:
                return -EROFS;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
                return -EBADMSG;
        case SQLITE_CANTOPEN:
        case SQLITE_IOERR:
                /* The system call's own errno (ENOENT, EACCES, ENOSPC...) says more than EIO. */
                return system_errno > 0 ? -system_errno : -EIO;
        default:
                return -EIO;
        }
}

/* The one place SQLite errors become -errno; the message is only of debug interest
 * because callers decide what to say. */
int store_error(sqlite3 *db, int code, const char *what) {
        log_debug("SQLite: %s failed: %s (%s)", what, db ? sqlite3_errmsg(db) : "no connection", sqlite3_errstr(code));
        return store_errno_from_sqlite(code, db ? sqlite3_system_errno(db) : 0);
}

/* The table modules' statements (store_prepare()) are compiled once per connection and kept:
 * compiling is most of what a small query costs (15% of maiod's loop under feedback, measured
 * with perf). A statement is handed out again when its SQL text is the same and nobody holds it;
 * the holders are tracked here (one thread uses a connection; holding more than
 * STORE_HELD_MAX at once falls back to a statement of one's own). */
#define STORE_HELD_MAX 32
static sqlite3_stmt *store_held[STORE_HELD_MAX];

static bool store_hold(sqlite3_stmt *st) {
        for (size_t i = 0; i < STORE_HELD_MAX; i++)
                if (!store_held[i]) {
                        store_held[i] = st;
                        return true;
                }
        return false;
}

static bool store_held_by_someone(sqlite3_stmt *st) {
        for (size_t i = 0; i < STORE_HELD_MAX; i++)
                if (store_held[i] == st)
                        return true;
        return false;
}

void store_finalizep(sqlite3_stmt **st) {
        if (!*st)
                return;
        for (size_t i = 0; i < STORE_HELD_MAX; i++)
                if (store_held[i] == *st) {
                        /* kept for the next user, without a read transaction or bound values */
                        store_held[i] = NULL;
                        sqlite3_reset(*st);
                        sqlite3_clear_bindings(*st);
                        return;
                }
        sqlite3_finalize(*st);
}

/* Cached statements are reset when their user's scope ends: a statement left
 * mid-result would keep a read transaction open and stall WAL checkpoints. */
static void store_stmt_resetp(sqlite3_stmt **st) {
        if (*st) {
                sqlite3_reset(*st);
                sqlite3_clear_bindings(*st);
        }
}

/* Rolls back the transaction on db unless it already ended (committed, or
 * rolled back by SQLite itself after an error). */
static void store_rollbackp(sqlite3 **db) {
        if (*db && !sqlite3_get_autocommit(*db))
                (void) sqlite3_exec(*db, "ROLLBACK", NULL, NULL, NULL);
}

static int store_exec(sqlite3 *db, const char *sql, const char *what) {
        int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
        return rc == SQLITE_OK ? 0 : store_error(db, rc, what);
}

/* Returns 1 with a row ready, 0 when the statement is done, or -errno. */
int store_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **ret) {
        sqlite3_stmt *st;
        int rc;

        for (st = sqlite3_next_stmt(db, NULL); st; st = sqlite3_next_stmt(db, st))
                if (!sqlite3_stmt_busy(st) && !store_held_by_someone(st) && strcmp(sqlite3_sql(st), sql) == 0 &&
                    store_hold(st)) {
                        *ret = st;
                        return 0;
                }
        rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
        if (rc != SQLITE_OK)
                return store_error(db, rc, "prepare");
        (void) store_hold(st); /* when all slots are taken: finalized after its use, not kept */
        *ret = st;
        return 0;
}

int store_step(sqlite3 *db, sqlite3_stmt *st, const char *what) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                return 1;
        if (rc == SQLITE_DONE)
                return 0;
        return store_error(db, rc, what);
}

static int store_stmt(Store *s, StoreStmt id, sqlite3_stmt **ret) {
        if (!s->stmts[id]) {
                int rc = sqlite3_prepare_v3(s->db, store_stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s->stmts[id],
                                            NULL);
                if (rc != SQLITE_OK)
                        return store_error(s->db, rc, "prepare");
        }
        *ret = s->stmts[id];
        return 0;
}

/* Runs a parameterless query whose answer is one integer. Returns 0, or
 * -ENODATA when it produced no row, or -errno. */
static int store_query_int64(sqlite3 *db, const char *sql, int64_t *ret) {
        _cleanup_(store_finalizep) sqlite3_stmt *st = NULL;
        int rc, r;

        rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
        if (rc != SQLITE_OK)
                return store_error(db, rc, "prepare");
        r = store_step(db, st, "query");
        if (r < 0)
                return r;
        if (r == 0)
                return -ENODATA;
        *ret = sqlite3_column_int64(st, 0);
        return 0;
}

static int store_count(Store *s, StoreStmt id, int64_t *ret) {
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int r;

        r = store_stmt(s, id, &st);
        if (r < 0)
                return r;
        r = store_step(s->db, st, "count");
        if (r < 0)
                return r;
        if (r == 0)
                return -EIO;
        *ret = sqlite3_column_int64(st, 0);
        return 0;
}

/* Reads the schema version without writing anything: 0 (and *ret_exists false)
 * before the version table exists. -EBADMSG when it does not hold one row. */
static int store_read_version(sqlite3 *db, int64_t *ret, bool *ret_exists) {
        int64_t n, v;
        int r;

        r = store_query_int64(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
                              &n);
        if (r < 0)
                return r;
        *ret_exists = n > 0;
        if (n == 0) {
                *ret = 0;
                return 0;
        }
        r = store_query_int64(db, "SELECT CASE count(*) WHEN 1 THEN max(version) ELSE -1 END FROM schema_version", &v);
        if (r < 0)
                return r;
        if (v < 0)
                return log_debug_errno(EBADMSG, "Store schema_version table does not hold one valid row.");
        *ret = v;
        return 0;
}

static int store_set_version(sqlite3 *db, int64_t version) {
        _cleanup_(store_finalizep) sqlite3_stmt *st = NULL;
        int rc;

        rc = sqlite3_prepare_v2(db, "UPDATE schema_version SET version = ?1", -1, &st, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_bind_int64(st, 1, version);
        if (rc != SQLITE_OK)
                return store_error(db, rc, "set schema version");
        return store_step(db, st, "set schema version");
}

/* Applies the next pending step in a transaction of its own, re-reading the
 * version inside it so a concurrent opener cannot make us apply a step twice.
 * Returns 1 when a step was applied, 0 when the schema is current, -EPROTO when
 * it is newer than we know, or -errno (the step rolled back). */
static int store_migrate_one(sqlite3 *db, const char *const *steps, size_t n_steps, int64_t *ret_version) {
        _cleanup_(store_rollbackp) sqlite3 *txn = NULL;
        char what[64];
        bool exists;
        int64_t v;
        int r;

        r = store_exec(db, "BEGIN IMMEDIATE", "begin migration");
        if (r < 0)
                return r;
        txn = db;

        r = store_read_version(db, &v, &exists);
        if (r < 0)
                return r;
        *ret_version = v;
        if ((uint64_t) v > n_steps)
                return -EPROTO;
        if ((uint64_t) v == n_steps)
                return 0;

        if (!exists) {
                r = store_exec(db,
                               "CREATE TABLE schema_version(version INTEGER NOT NULL);"
                               "INSERT INTO schema_version(version) VALUES (0);",
                               "create schema_version");
                if (r < 0)
                        return r;
        }
        snprintf(what, sizeof what, "migration to schema version %" PRId64, v + 1);
        r = store_exec(db, steps[v], what);
        if (r < 0)
                return r;
        r = store_set_version(db, v + 1);
        if (r < 0)
                return r;
        r = store_exec(db, "COMMIT", what);
        if (r < 0)
                return r;
        TAKE_PTR(txn);

        log_debug("Store schema migrated to version %" PRId64 ".", v + 1);
        *ret_version = v + 1;
        return 1;
}

static int store_migrate(Store *s, const char *const *steps, size_t n_steps) {
        int64_t v = 0;
        int r;

        do
                r = store_migrate_one(s->db, steps, n_steps, &v);
        while (r > 0);
        if (r == -EPROTO)
                return log_debug_errno(r, "Store schema version %" PRId64 " is newer than this build knows (%zu).", v,
                                       n_steps);
        if (r < 0)
                return r;
        s->version = (int) v;
        return 0;
}

/* Runs sql; when expect is set, its first answer must be that text. */
static int store_pragma(sqlite3 *db, const char *sql, const char *expect) {
        _cleanup_(store_finalizep) sqlite3_stmt *st = NULL;
        const char *answer;
        int rc, r;

        rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
        if (rc != SQLITE_OK)
                return store_error(db, rc, sql);
        r = store_step(db, st, sql);
        if (r < 0 || !expect)
                return r < 0 ? r : 0;
        answer = r > 0 ? (const char *) sqlite3_column_text(st, 0) : NULL;
        if (!answer || strcmp(answer, expect) != 0)
                return log_debug_errno(EOPNOTSUPP, "SQLite: \"%s\" answered \"%s\", expected \"%s\".", sql,
                                       answer ?: "", expect);
        return 0;
}

static int store_configure(sqlite3 *db) {
        static const struct {
                const char *sql;
                const char *expect;
        } pragmas[] = {
                /* The answer is the mode in effect: some filesystems cannot do WAL. */
                { "PRAGMA journal_mode = WAL", "wal" },
                /* An acknowledged write must survive power loss, not only a crash. */
                { "PRAGMA synchronous = FULL", NULL },
                { "PRAGMA synchronous", "2" },
                /* Silently a no-op in builds without foreign keys; token cascades need it. */
                { "PRAGMA foreign_keys = ON", NULL },
                { "PRAGMA foreign_keys", "1" },
        };
        int r;

        for (size_t i = 0; i < ELEMENTSOF(pragmas); i++) {
                r = store_pragma(db, pragmas[i].sql, pragmas[i].expect);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Creates the file ourselves so it is born 0600 (SQLite would use 0644 minus
 * umask; it gives -wal and -shm the main file's mode). Refuses symlinks and
 * anything but a regular file, and tightens a file found with looser bits. */
static int store_create_file(const char *path) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        fd = open(path, O_RDONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        if ((st.st_mode & 07777) != 0600) {
                log_debug("Store: %s had mode %04o, setting 0600.", path, (unsigned) (st.st_mode & 07777));
                if (fchmod(fd, 0600) < 0)
                        return -errno;
        }
        return 0;
}

static int store_connect(const char *path, sqlite3 **ret) {
        /* One thread uses the connection, so SQLite's own mutexes are not needed. */
        int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
        sqlite3 *db = NULL;
        int rc, r;

#ifdef SQLITE_OPEN_NOFOLLOW
        flags |= SQLITE_OPEN_NOFOLLOW;
#endif
        rc = sqlite3_open_v2(path, &db, flags, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_extended_result_codes(db, 1);
        if (rc == SQLITE_OK)
                rc = sqlite3_busy_timeout(db, STORE_BUSY_TIMEOUT_MS);
        if (rc != SQLITE_OK) {
                r = store_error(db, rc, "open");
                sqlite3_close(db);
                return r;
        }
        *ret = db;
        return 0;
}

int store_open_with_migrations(const char *dir, const char *const *steps, size_t n_steps, Store **ret) {
        _cleanup_(store_freep) Store *s = NULL;
        _cleanup_free_ char *path = NULL;
        int64_t v;
        bool exists;
        int r;

        if (!dir || !ret || (n_steps > 0 && !steps) || n_steps > INT_MAX)
                return -EINVAL;
        if (asprintf(&path, "%s/%s", dir, STORE_DB_FILENAME) < 0)
                return -ENOMEM;

        r = store_create_file(path);
        if (r < 0)
                return r;
        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        r = store_connect(path, &s->db);
        if (r < 0)
                return r;

        /* Refuse a newer schema before any pragma could write to the file. */
        r = store_read_version(s->db, &v, &exists);
        if (r < 0)
                return r;
        if ((uint64_t) v > n_steps)
                return log_debug_errno(EPROTO, "Store %s has schema version %" PRId64 ", newer than %zu.", path, v,
                                       n_steps);

        r = store_configure(s->db);
        if (r < 0)
                return r;
        r = store_migrate(s, steps, n_steps);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(s);
        return 0;
}

int store_open(const char *dir, Store **ret) {
        return store_open_with_migrations(dir, store_migrations, ELEMENTSOF(store_migrations), ret);
}

Store *store_free(Store *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < _STMT_MAX; i++)
                sqlite3_finalize(s->stmts[i]);
        /* ... and those store_prepare() kept */
        for (sqlite3_stmt *st; (st = sqlite3_next_stmt(s->db, NULL));) {
                for (size_t i = 0; i < STORE_HELD_MAX; i++)
                        if (store_held[i] == st)
                                store_held[i] = NULL;
                sqlite3_finalize(st);
        }
        /* Every statement is finalized, so this closes now (and checkpoints the WAL). */
        if (sqlite3_close(s->db) != SQLITE_OK)
                log_debug("SQLite: close failed: %s", sqlite3_errmsg(s->db));
        free(s);
        return NULL;
}

sqlite3 *store_db(Store *s) {
        return s->db;
}

int store_schema_version(Store *s) {
        return s->version;
}

int store_schema_latest(void) {
        return (int) ELEMENTSOF(store_migrations);
}

void tenant_done(Tenant *t) {
        if (!t)
                return;
        free(t->name);
        free(t->workload_class);
        free(t->cgroup);
        free(t->addresses);
        t->name = t->workload_class = t->cgroup = t->addresses = NULL;
}

int tenant_copy(const Tenant *t, Tenant *ret) {
        Tenant c = *t;

        c.name = strdup(t->name);
        c.workload_class = strdup(t->workload_class);
        c.cgroup = t->cgroup ? strdup(t->cgroup) : NULL;
        c.addresses = t->addresses ? strdup(t->addresses) : NULL;
        if (!c.name || !c.workload_class || (t->cgroup && !c.cgroup) || (t->addresses && !c.addresses)) {
                tenant_done(&c);
                return -ENOMEM;
        }
        *ret = c;
        return 0;
}

void tenant_list_free(Tenant *t, size_t n) {
        if (!t)
                return;
        for (size_t i = 0; i < n; i++)
                tenant_done(&t[i]);
        free(t);
}

void store_events_free(StoreEvent *e, size_t n) {
        if (!e)
                return;
        for (size_t i = 0; i < n; i++) {
                free(e[i].kind);
                free(e[i].message);
        }
        free(e);
}

/* Makes room in *array (*allocated elements of size) for element n: doubles, from 8. 0 or -ENOMEM. */
static int store_grow(void **array, size_t *allocated, size_t n, size_t size) {
        size_t m;
        void *p;

        if (n < *allocated)
                return 0;
        m = *allocated ? *allocated * 2 : 8;
        p = reallocarray(*array, m, size);
        if (!p)
                return -ENOMEM;
        *array = p;
        *allocated = m;
        return 0;
}

int store_collect(sqlite3 *db, sqlite3_stmt *st, const char *what, size_t size, StoreRowFn from_row,
                  StoreListFreeFn free_list, void **ret, size_t *ret_n) {
        void *v = NULL;
        size_t n = 0, allocated = 0;
        int r;

        for (;;) {
                r = store_step(db, st, what);
                if (r <= 0)
                        break;
                r = store_grow(&v, &allocated, n, size);
                if (r < 0)
                        break;
                r = from_row(st, (char *) v + n * size);
                if (r < 0)
                        break;
                n++;
        }
        if (r < 0) {
                free_list(v, n);
                return r;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

/* Duplicates a text column; NULL stays NULL when nullable, else the row is bad. */
static int store_column_strdup(sqlite3_stmt *st, int col, bool nullable, char **ret) {
        const char *text;

        if (sqlite3_column_type(st, col) == SQLITE_NULL) {
                *ret = NULL;
                return nullable ? 0 : -EBADMSG;
        }
        text = (const char *) sqlite3_column_text(st, col);
        if (!text)
                return -ENOMEM;
        *ret = strdup(text);
        return *ret ? 0 : -ENOMEM;
}

static int store_tenant_from_row(sqlite3_stmt *st, Tenant *ret) {
        _cleanup_(tenant_done) Tenant t = {
                .id = sqlite3_column_int64(st, 0),
                .priority = sqlite3_column_int(st, 2),
                .uid = (uid_t) sqlite3_column_int64(st, 4),
                .pid = (pid_t) sqlite3_column_int64(st, 5),
                .pid_starttime = (uint64_t) sqlite3_column_int64(st, 6),
                .created_usec = sqlite3_column_int64(st, 8),
        };
        int r;

        r = store_column_strdup(st, 1, false, &t.name);
        if (r >= 0)
                r = store_column_strdup(st, 3, false, &t.workload_class);
        if (r >= 0)
                r = store_column_strdup(st, 7, true, &t.cgroup);
        if (r >= 0)
                r = store_column_strdup(st, 9, true, &t.addresses);
        if (r < 0)
                return r;
        *ret = t;
        t = (Tenant) {};
        return 0;
}

static int store_tenant_validate(const Tenant *t) {
        if (!t || !t->name || !t->workload_class)
                return -EINVAL;
        if (t->priority < 0 || t->priority > STORE_PRIORITY_MAX || t->pid < 0)
                return -EINVAL;
        if (t->pid_starttime > INT64_MAX)
                return -EINVAL;
        return 0;
}

/* Binds the columns shared by INSERT and UPDATE (parameters 1-7 and 10); 0 ids map to NULL. */
static int store_bind_tenant(sqlite3 *db, sqlite3_stmt *st, const Tenant *t) {
        int rc;

        rc = sqlite3_bind_text(st, 1, t->name, -1, SQLITE_STATIC);
        if (rc == SQLITE_OK)
                rc = sqlite3_bind_int(st, 2, t->priority);
        if (rc == SQLITE_OK)
                rc = sqlite3_bind_text(st, 3, t->workload_class, -1, SQLITE_STATIC);
        if (rc == SQLITE_OK)
                rc = sqlite3_bind_int64(st, 4, (int64_t) t->uid);
        if (rc == SQLITE_OK)
                rc = t->pid > 0 ? sqlite3_bind_int64(st, 5, t->pid) : sqlite3_bind_null(st, 5);
        if (rc == SQLITE_OK)
                rc = t->pid_starttime > 0 ? sqlite3_bind_int64(st, 6, (int64_t) t->pid_starttime)
                                          : sqlite3_bind_null(st, 6);
        if (rc == SQLITE_OK)
                rc = sqlite3_bind_text(st, 7, t->cgroup, -1, SQLITE_STATIC); /* NULL binds NULL */
        if (rc == SQLITE_OK)
                rc = sqlite3_bind_text(st, 10, t->addresses, -1, SQLITE_STATIC);
        return rc == SQLITE_OK ? 0 : store_error(db, rc, "bind tenant");
}

static int store_tenant_insert(Store *s, const Tenant *t, int64_t created_usec, int64_t *ret_id) {
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int rc, r;

        r = store_stmt(s, STMT_TENANT_INSERT, &st);
        if (r < 0)
                return r;
        r = store_bind_tenant(s->db, st, t);
        if (r < 0)
                return r;
        rc = sqlite3_bind_int64(st, 8, created_usec);
        if (rc != SQLITE_OK)
                return store_error(s->db, rc, "bind tenant");
        r = store_step(s->db, st, "insert tenant");
        if (r < 0)
                return r;
        *ret_id = sqlite3_last_insert_rowid(s->db);
        return 0;
}

static int store_token_insert(Store *s, const char *hash, int64_t tenant_id, int64_t created_usec) {
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int rc, r;

        r = store_stmt(s, STMT_TOKEN_INSERT, &st);
        if (r < 0)
                return r;
        rc = sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
        if (rc == SQLITE_OK)
                rc = sqlite3_bind_int64(st, 2, tenant_id);
        if (rc == SQLITE_OK)
                rc = sqlite3_bind_int64(st, 3, created_usec);
        if (rc != SQLITE_OK)
                return store_error(s->db, rc, "bind token");
        return store_step(s->db, st, "insert token");
}

int store_tenant_add(Store *s, const Tenant *t, const char *token_hash, int64_t *ret_id) {
        _cleanup_(store_rollbackp) sqlite3 *txn = NULL;
        int64_t id = 0, created;
        int r;

        r = store_tenant_validate(t);
        if (r < 0)
                return r;
        if (!token_hash || !*token_hash)
                return -EINVAL;
        created = t->created_usec > 0 ? t->created_usec : (int64_t) now_usec(CLOCK_REALTIME);

        /* IMMEDIATE takes the write lock up front, so waiting for it is the busy
         * timeout's job and nothing later in the transaction can hit SQLITE_BUSY. */
        r = store_exec(s->db, "BEGIN IMMEDIATE", "begin");
        if (r < 0)
                return r;
        txn = s->db;

        r = store_tenant_insert(s, t, created, &id);
        if (r < 0)
                return r;
        r = store_token_insert(s, token_hash, id, created);
        if (r < 0)
                return r;
        r = store_exec(s->db, "COMMIT", "commit tenant");
        if (r < 0)
                return r;
        TAKE_PTR(txn);

        if (ret_id)
                *ret_id = id;
        return 0;
}

int store_tenant_get(Store *s, int64_t id, Tenant *ret) {
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int rc, r;

        if (!ret)
                return -EINVAL;
        r = store_stmt(s, STMT_TENANT_GET, &st);
        if (r < 0)
                return r;
        rc = sqlite3_bind_int64(st, 1, id);
        if (rc != SQLITE_OK)
                return store_error(s->db, rc, "bind id");
        r = store_step(s->db, st, "get tenant");
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        return store_tenant_from_row(st, ret);
}

int store_tenant_by_token(Store *s, const char *token_hash, int64_t *ret_id) {
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int rc, r;

        if (!token_hash || !ret_id)
                return -EINVAL;
        r = store_stmt(s, STMT_TENANT_BY_TOKEN, &st);
        if (r < 0)
                return r;
        rc = sqlite3_bind_text(st, 1, token_hash, -1, SQLITE_STATIC);
        if (rc != SQLITE_OK)
                return store_error(s->db, rc, "bind token");
        r = store_step(s->db, st, "look up token");
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        *ret_id = sqlite3_column_int64(st, 0);
        return 0;
}

static int tenant_row(sqlite3_stmt *st, void *ret) {
        return store_tenant_from_row(st, ret);
}

static void tenant_list_free_v(void *v, size_t n) {
        tenant_list_free(v, n);
}

int store_tenant_list(Store *s, long long uid_filter, Tenant **ret, size_t *ret_n) {
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int rc, r;

        if (!ret || !ret_n)
                return -EINVAL;
        r = store_stmt(s, uid_filter < 0 ? STMT_TENANT_LIST_ALL : STMT_TENANT_LIST_UID, &st);
        if (r < 0)
                return r;
        if (uid_filter >= 0) {
                rc = sqlite3_bind_int64(st, 1, uid_filter);
                if (rc != SQLITE_OK)
                        return store_error(s->db, rc, "bind uid");
        }
        return store_collect(s->db, st, "list tenants", sizeof(Tenant), tenant_row, tenant_list_free_v, (void **) ret,
                             ret_n);
}

int store_tenant_update(Store *s, const Tenant *t) {
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int rc, r;

        r = store_tenant_validate(t);
        if (r < 0)
                return r;
        r = store_stmt(s, STMT_TENANT_UPDATE, &st);
        if (r < 0)
                return r;
        r = store_bind_tenant(s->db, st, t);
        if (r < 0)
                return r;
        rc = sqlite3_bind_int64(st, 9, t->id);
        if (rc != SQLITE_OK)
                return store_error(s->db, rc, "bind id");
        /* One statement is its own transaction: a UNIQUE failure leaves nothing open. */
        r = store_step(s->db, st, "update tenant");
        if (r < 0)
                return r;
        return sqlite3_changes(s->db) > 0 ? 0 : -ENOENT;
}

int store_tenant_remove(Store *s, int64_t id) {
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int rc, r;

        r = store_stmt(s, STMT_TENANT_DELETE, &st);
        if (r < 0)
                return r;
        rc = sqlite3_bind_int64(st, 1, id);
        if (rc != SQLITE_OK)
                return store_error(s->db, rc, "bind id");
        /* Tokens go by ON DELETE CASCADE in the same statement; changes() counts tenants only. */
        r = store_step(s->db, st, "remove tenant");
        if (r < 0)
                return r;
        return sqlite3_changes(s->db) > 0 ? 0 : -ENOENT;
}

int store_tenant_count(Store *s) {
        int64_t n;
        int r;

        r = store_count(s, STMT_TENANT_COUNT, &n);
        if (r < 0)
                return r;
        return n > INT_MAX ? -EOVERFLOW : (int) n;
}

void store_event_log(Store *s, int level, const char *field, int64_t tenant_id, const char *kind, const char *format,
                     ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        int k;

        va_start(ap, format);
        k = vasprintf(&msg, format, ap);
        va_end(ap);
        if (k < 0) {
                msg = NULL;
                return (void) log_oom();
        }
        log_full_errno_field(level, 0, field, "%s", msg);
        if (kind && store_event_add(s, tenant_id, kind, msg) < 0)
                log_warning("Failed to record a %s event, ignoring.", kind);
}

int store_event_add(Store *s, int64_t tenant_id, const char *kind, const char *message) {
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int rc, r;

        if (tenant_id < 0 || !kind || !message)
                return -EINVAL;
        r = store_stmt(s, STMT_EVENT_INSERT, &st);
        if (r < 0)
                return r;
        rc = sqlite3_bind_int64(st, 1, (int64_t) now_usec(CLOCK_REALTIME));
        if (rc == SQLITE_OK)
                rc = tenant_id > 0 ? sqlite3_bind_int64(st, 2, tenant_id) : sqlite3_bind_null(st, 2);
        if (rc == SQLITE_OK)
                rc = sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
        if (rc == SQLITE_OK)
                rc = sqlite3_bind_text(st, 4, message, -1, SQLITE_STATIC);
        if (rc != SQLITE_OK)
                return store_error(s->db, rc, "bind event");
        return store_step(s->db, st, "add event");
}

static int store_event_from_row(sqlite3_stmt *st, StoreEvent *ret) {
        StoreEvent e = {
                .id = sqlite3_column_int64(st, 0),
                .time_usec = sqlite3_column_int64(st, 1),
                .tenant_id = sqlite3_column_int64(st, 2), /* NULL reads as 0 */
        };
        int r;

        r = store_column_strdup(st, 3, false, &e.kind);
        if (r >= 0)
                r = store_column_strdup(st, 4, false, &e.message);
        if (r < 0) {
                free(e.kind);
                return r;
        }
        *ret = e;
        return 0;
}

static int event_row(sqlite3_stmt *st, void *ret) {
        return store_event_from_row(st, ret);
}

static void events_free_v(void *v, size_t n) {
        store_events_free(v, n);
}

int store_event_list(Store *s, int64_t tenant_id, unsigned limit, StoreEvent **ret, size_t *ret_n) {
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int rc, r;

        if (tenant_id < 0 || !ret || !ret_n)
                return -EINVAL;
        r = store_stmt(s, tenant_id > 0 ? STMT_EVENT_LIST_TENANT : STMT_EVENT_LIST_ALL, &st);
        if (r < 0)
                return r;
        rc = sqlite3_bind_int64(st, 1, limit);
        if (rc == SQLITE_OK && tenant_id > 0)
                rc = sqlite3_bind_int64(st, 2, tenant_id);
        if (rc != SQLITE_OK)
                return store_error(s->db, rc, "bind event query");
        return store_collect(s->db, st, "list events", sizeof(StoreEvent), event_row, events_free_v, (void **) ret,
                             ret_n);
}

int64_t store_event_count(Store *s) {
        int64_t n;
        int r;

        r = store_count(s, STMT_EVENT_COUNT, &n);
        return r < 0 ? r : n;
}
