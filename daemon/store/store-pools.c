/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The hugepage reserve's tables (schema v3): tenants' grants per NUMA node and
 * the nodes whose hugepage knob the reserve has sized. Each write is one
 * statement, hence its own transaction, durable on return (synchronous=FULL). */
#include <errno.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "log.h"
#include "store-internal.h"
#include "store.h"
#include "time-util.h"

#define GRANT_COLUMNS "g.tenant_id, t.name, g.node, g.pages, g.created_usec"

/* Binds the integers in order from parameter 1. */
static int sp_bind(sqlite3 *db, sqlite3_stmt *st, const int64_t *v, size_t n) {
        for (size_t i = 0; i < n; i++) {
                int rc = sqlite3_bind_int64(st, (int) i + 1, v[i]);

                if (rc != SQLITE_OK)
                        return store_error(db, rc, "bind");
        }
        return 0;
}

/* Runs a statement that returns no rows, with integer parameters. Returns the
 * number of rows it changed, or -errno. */
static int sp_exec(Store *s, const char *sql, const int64_t *v, size_t n, const char *what) {
        _cleanup_(store_finalizep) sqlite3_stmt *st = NULL;
        sqlite3 *db = store_db(s);
        int r;

        r = store_prepare(db, sql, &st);
        if (r >= 0)
                r = sp_bind(db, st, v, n);
        if (r >= 0)
                r = store_step(db, st, what);
        if (r < 0)
                return r;
        return sqlite3_changes(db);
}

void store_grant_done(StoreGrant *g) {
        if (!g)
                return;
        free(g->tenant_name);
        *g = (StoreGrant) {};
}

void store_grants_free(StoreGrant *g, size_t n) {
        if (!g)
                return;
        for (size_t i = 0; i < n; i++)
                store_grant_done(&g[i]);
        free(g);
}

int store_grant_put(Store *s, const StoreGrant *g) {
        int64_t v[] = { g->tenant_id, g->node, (int64_t) g->pages,
                        g->created_usec > 0 ? g->created_usec : (int64_t) now_usec(CLOCK_REALTIME) };
        int r;

        if (g->tenant_id <= 0 || g->pages == 0 || g->pages > INT64_MAX || g->node > INT32_MAX)
                return -EINVAL;
        r = sp_exec(s,
                    "INSERT INTO maio_grants(tenant_id, node, pages, created_usec) VALUES (?1, ?2, ?3, ?4) "
                    "ON CONFLICT(tenant_id, node) DO UPDATE SET pages = excluded.pages, "
                    "created_usec = excluded.created_usec",
                    v, ELEMENTSOF(v), "put grant");
        return r < 0 ? r : 0;
}

static int sp_grant_from_row(sqlite3_stmt *st, StoreGrant *ret) {
        const char *name = (const char *) sqlite3_column_text(st, 1);
        StoreGrant g = {
                .tenant_id = sqlite3_column_int64(st, 0),
                .node = (unsigned) sqlite3_column_int64(st, 2),
                .pages = (uint64_t) sqlite3_column_int64(st, 3),
                .created_usec = sqlite3_column_int64(st, 4),
        };

        if (name && !(g.tenant_name = strdup(name)))
                return -ENOMEM;
        *ret = g;
        return 0;
}

/* Collects every row of a prepared and bound grant query. */
static int grant_row(sqlite3_stmt *st, void *ret) {
        return sp_grant_from_row(st, ret);
}

static void grants_free_v(void *v, size_t n) {
        store_grants_free(v, n);
}

static int sp_grant_rows(sqlite3 *db, sqlite3_stmt *st, StoreGrant **ret, size_t *ret_n) {
        return store_collect(db, st, "list grants", sizeof(StoreGrant), grant_row, grants_free_v, (void **) ret, ret_n);
}

int store_grant_get(Store *s, int64_t tenant_id, unsigned node, StoreGrant *ret) {
        _cleanup_(store_finalizep) sqlite3_stmt *st = NULL;
        sqlite3 *db = store_db(s);
        int64_t v[] = { tenant_id, node };
        StoreGrant *rows = NULL;
        size_t n = 0;
        int r;

        r = store_prepare(db,
                          "SELECT " GRANT_COLUMNS " FROM maio_grants g LEFT JOIN tenants t ON t.id = g.tenant_id "
                          "WHERE g.tenant_id = ?1 AND g.node = ?2",
                          &st);
        if (r >= 0)
                r = sp_bind(db, st, v, ELEMENTSOF(v));
        if (r >= 0)
                r = sp_grant_rows(db, st, &rows, &n);
        if (r < 0)
                return r;
        if (n == 0)
                return -ENOENT;
        *ret = rows[0];
        rows[0] = (StoreGrant) {};
        store_grants_free(rows, n);
        return 0;
}

int store_grant_remove(Store *s, int64_t tenant_id, int node) {
        int64_t v[] = { tenant_id, node };

        if (node < 0)
                return sp_exec(s, "DELETE FROM maio_grants WHERE tenant_id = ?1", v, 1, "remove grants");
        return sp_exec(s, "DELETE FROM maio_grants WHERE tenant_id = ?1 AND node = ?2", v, ELEMENTSOF(v),
                       "remove grant");
}

int store_grant_list(Store *s, int64_t tenant_id, long long uid_filter, StoreGrant **ret, size_t *ret_n) {
        _cleanup_(store_finalizep) sqlite3_stmt *st = NULL;
        sqlite3 *db = store_db(s);
        /* -1 turns a filter off; ids and uids are never negative. */
        int64_t v[] = { tenant_id > 0 ? tenant_id : -1, uid_filter >= 0 ? (int64_t) uid_filter : -1 };
        int r;

        r = store_prepare(db,
                          "SELECT " GRANT_COLUMNS " FROM maio_grants g JOIN tenants t ON t.id = g.tenant_id "
                          "WHERE (?1 < 0 OR g.tenant_id = ?1) AND (?2 < 0 OR t.uid = ?2) "
                          "ORDER BY g.node, g.tenant_id",
                          &st);
        if (r >= 0)
                r = sp_bind(db, st, v, ELEMENTSOF(v));
        if (r < 0)
                return r;
        return sp_grant_rows(db, st, ret, ret_n);
}

int store_grant_sum(Store *s, unsigned node, uint64_t *ret) {
        _cleanup_(store_finalizep) sqlite3_stmt *st = NULL;
        sqlite3 *db = store_db(s);
        int64_t v[] = { node };
        int r;

        r = store_prepare(db, "SELECT coalesce(sum(pages), 0) FROM maio_grants WHERE node = ?1", &st);
        if (r >= 0)
                r = sp_bind(db, st, v, ELEMENTSOF(v));
        if (r >= 0)
                r = store_step(db, st, "sum grants");
        if (r < 0)
                return r;
        if (r == 0 || sqlite3_column_int64(st, 0) < 0)
                return -EIO;
        *ret = (uint64_t) sqlite3_column_int64(st, 0);
        return 0;
}

int store_grant_prune(Store *s) {
        return sp_exec(s, "DELETE FROM maio_grants WHERE tenant_id NOT IN (SELECT id FROM tenants)", NULL, 0,
                       "prune grants");
}

int store_reserve_node_add(Store *s, unsigned node) {
        int64_t v[] = { node, (int64_t) now_usec(CLOCK_REALTIME) };
        int r;

        if (node > INT32_MAX)
                return -EINVAL;
        r = sp_exec(s, "INSERT OR IGNORE INTO maio_nodes(node, since_usec) VALUES (?1, ?2)", v, ELEMENTSOF(v),
                    "add reserve node");
        return r < 0 ? r : 0;
}

int store_reserve_node_remove(Store *s, unsigned node) {
        int64_t v[] = { node };
        int r;

        r = sp_exec(s, "DELETE FROM maio_nodes WHERE node = ?1", v, ELEMENTSOF(v), "remove reserve node");
        if (r < 0)
                return r;
        return r > 0 ? 0 : -ENOENT;
}

static int node_row(sqlite3_stmt *st, void *ret) {
        *(unsigned *) ret = (unsigned) sqlite3_column_int64(st, 0);
        return 0;
}

static void nodes_free_v(void *v, size_t n) {
        free(v);
}

int store_reserve_nodes(Store *s, unsigned **ret, size_t *ret_n) {
        _cleanup_(store_finalizep) sqlite3_stmt *st = NULL;
        sqlite3 *db = store_db(s);
        int r;

        r = store_prepare(db, "SELECT node FROM maio_nodes UNION SELECT node FROM maio_grants ORDER BY 1", &st);
        if (r < 0)
                return r;
        return store_collect(db, st, "list reserve nodes", sizeof(unsigned), node_row, nodes_free_v, (void **) ret,
                             ret_n);
}
