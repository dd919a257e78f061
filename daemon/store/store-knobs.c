/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The knob journal's table (schema v2) and the daemon_state facts. Each write is
 * one statement, hence its own transaction, durable on return (synchronous=FULL):
 * that is what lets journal.c commit an original before touching the kernel. */
#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "log.h"
#include "store-internal.h"
#include "store.h"

#define KNOB_COLUMNS \
        "name, path, original, desired, applied, state, written, changed_usec, changed_by, overridden_logged"

/* The original survives every update once the file may have been written. */
static const char knob_put_sql[] =
        "INSERT INTO knobs(" KNOB_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
        "ON CONFLICT(name) DO UPDATE SET "
        "  original = CASE WHEN knobs.written = 0 THEN excluded.original ELSE knobs.original END,"
        "  path = excluded.path, desired = excluded.desired, applied = excluded.applied,"
        "  state = excluded.state, written = max(knobs.written, excluded.written),"
        "  changed_usec = excluded.changed_usec, changed_by = excluded.changed_by,"
        "  overridden_logged = excluded.overridden_logged";

static int sk_bind_text(sqlite3 *db, sqlite3_stmt *st, int i, const char *s) {
        int rc = sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC); /* NULL binds NULL */
        return rc == SQLITE_OK ? 0 : store_error(db, rc, "bind");
}

static int sk_bind_int64(sqlite3 *db, sqlite3_stmt *st, int i, int64_t v) {
        int rc = sqlite3_bind_int64(st, i, v);
        return rc == SQLITE_OK ? 0 : store_error(db, rc, "bind");
}

static int sk_column_strdup(sqlite3_stmt *st, int col, bool nullable, char **ret) {
        const char *text;

        *ret = NULL;
        if (sqlite3_column_type(st, col) == SQLITE_NULL)
                return nullable ? 0 : -EBADMSG;
        text = (const char *) sqlite3_column_text(st, col);
        if (!text)
                return -ENOMEM;
        *ret = strdup(text);
        return *ret ? 0 : -ENOMEM;
}

void store_knob_done(StoreKnob *k) {
        if (!k)
                return;
        free(k->name);
        free(k->path);
        free(k->original);
        free(k->desired);
        free(k->applied);
        free(k->state);
        free(k->changed_by);
        *k = (StoreKnob) {};
}

void store_knobs_free(StoreKnob *k, size_t n) {
        if (!k)
                return;
        for (size_t i = 0; i < n; i++)
                store_knob_done(&k[i]);
        free(k);
}

int store_knob_put(Store *s, const StoreKnob *k) {
        _cleanup_(store_finalizep) sqlite3_stmt *st = NULL;
        sqlite3 *db = store_db(s);
        const char *texts[] = { k->name, k->path, k->original, k->desired, k->applied, k->state };
        int r;

        if (!k->name || !k->path || !k->original || !k->state || !k->changed_by)
                return -EINVAL;
        r = store_prepare(db, knob_put_sql, &st);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(texts); i++)
                r = sk_bind_text(db, st, (int) i + 1, texts[i]);
        if (r >= 0)
                r = sk_bind_int64(db, st, 7, k->written);
        if (r >= 0)
                r = sk_bind_int64(db, st, 8, k->changed_usec);
        if (r >= 0)
                r = sk_bind_text(db, st, 9, k->changed_by);
        if (r >= 0)
                r = sk_bind_int64(db, st, 10, k->overridden_logged);
        if (r >= 0)
                r = store_step(db, st, "put knob");
        return r < 0 ? r : 0;
}

static int sk_knob_from_row(sqlite3_stmt *st, StoreKnob *ret) {
        _cleanup_(store_knob_done) StoreKnob k = {
                .written = sqlite3_column_int64(st, 6) != 0,
                .changed_usec = sqlite3_column_int64(st, 7),
                .overridden_logged = sqlite3_column_int64(st, 9) != 0,
        };
        int r;

        r = sk_column_strdup(st, 0, false, &k.name);
        if (r >= 0)
                r = sk_column_strdup(st, 1, false, &k.path);
        if (r >= 0)
                r = sk_column_strdup(st, 2, false, &k.original);
        if (r >= 0)
                r = sk_column_strdup(st, 3, true, &k.desired);
        if (r >= 0)
                r = sk_column_strdup(st, 4, true, &k.applied);
        if (r >= 0)
                r = sk_column_strdup(st, 5, false, &k.state);
        if (r >= 0)
                r = sk_column_strdup(st, 8, false, &k.changed_by);
        if (r < 0)
                return r;
        *ret = k;
        k = (StoreKnob) {};
        return 0;
}

int store_knob_get(Store *s, const char *name, StoreKnob *ret) {
        _cleanup_(store_finalizep) sqlite3_stmt *st = NULL;
        sqlite3 *db = store_db(s);
        int r;

        if (!name)
                return -EINVAL;
        r = store_prepare(db, "SELECT " KNOB_COLUMNS " FROM knobs WHERE name = ?1", &st);
        if (r >= 0)
                r = sk_bind_text(db, st, 1, name);
        if (r >= 0)
                r = store_step(db, st, "get knob");
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        return sk_knob_from_row(st, ret);
}

static int knob_row(sqlite3_stmt *st, void *ret) {
        return sk_knob_from_row(st, ret);
}

static void knobs_free_v(void *v, size_t n) {
        store_knobs_free(v, n);
}

int store_knob_list(Store *s, StoreKnob **ret, size_t *ret_n) {
        _cleanup_(store_finalizep) sqlite3_stmt *st = NULL;
        sqlite3 *db = store_db(s);
        int r;

        r = store_prepare(db, "SELECT " KNOB_COLUMNS " FROM knobs ORDER BY name", &st);
        if (r < 0)
                return r;
        return store_collect(db, st, "list knobs", sizeof(StoreKnob), knob_row, knobs_free_v, (void **) ret, ret_n);
}

int store_knob_remove(Store *s, const char *name) {
        _cleanup_(store_finalizep) sqlite3_stmt *st = NULL;
        sqlite3 *db = store_db(s);
        int r;

        r = store_prepare(db, "DELETE FROM knobs WHERE name = ?1", &st);
        if (r >= 0)
                r = sk_bind_text(db, st, 1, name);
        if (r >= 0)
                r = store_step(db, st, "remove knob");
        if (r < 0)
                return r;
        return sqlite3_changes(db) > 0 ? 0 : -ENOENT;
}

int store_knob_count(Store *s) {
        _cleanup_(store_finalizep) sqlite3_stmt *st = NULL;
        sqlite3 *db = store_db(s);
        int64_t n;
        int r;

        r = store_prepare(db, "SELECT count(*) FROM knobs", &st);
        if (r >= 0)
                r = store_step(db, st, "count knobs");
        if (r < 0)
                return r;
        if (r == 0)
                return -EIO;
        n = sqlite3_column_int64(st, 0);
        return n > INT_MAX ? -EOVERFLOW : (int) n;
}

int store_state_get(Store *s, const char *key, char **ret) {
        _cleanup_(store_finalizep) sqlite3_stmt *st = NULL;
        sqlite3 *db = store_db(s);
        int r;

        r = store_prepare(db, "SELECT value FROM daemon_state WHERE key = ?1", &st);
        if (r >= 0)
                r = sk_bind_text(db, st, 1, key);
        if (r >= 0)
                r = store_step(db, st, "get daemon state");
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        return sk_column_strdup(st, 0, false, ret);
}

int store_state_set(Store *s, const char *key, const char *value) {
        _cleanup_(store_finalizep) sqlite3_stmt *st = NULL;
        sqlite3 *db = store_db(s);
        int r;

        if (!key || !value)
                return -EINVAL;
        r = store_prepare(db, "INSERT OR REPLACE INTO daemon_state(key, value) VALUES (?1, ?2)", &st);
        if (r >= 0)
                r = sk_bind_text(db, st, 1, key);
        if (r >= 0)
                r = sk_bind_text(db, st, 2, value);
        if (r >= 0)
                r = store_step(db, st, "set daemon state");
        return r < 0 ? r : 0;
}

int store_state_remove(Store *s, const char *key) {
        _cleanup_(store_finalizep) sqlite3_stmt *st = NULL;
        sqlite3 *db = store_db(s);
        int r;

        r = store_prepare(db, "DELETE FROM daemon_state WHERE key = ?1", &st);
        if (r >= 0)
                r = sk_bind_text(db, st, 1, key);
        if (r >= 0)
                r = store_step(db, st, "remove daemon state");
        if (r < 0)
                return r;
        return sqlite3_changes(db) > 0 ? 0 : -ENOENT;
}

int store_state_list(Store *s, const char *prefix, char ***ret_keys, char ***ret_values, size_t *ret_n) {
        _cleanup_(store_finalizep) sqlite3_stmt *st = NULL;
        sqlite3 *db = store_db(s);
        char **keys = NULL, **values = NULL;
        size_t n = 0;
        int r;

        /* substr() rather than LIKE: a prefix may hold '_' and '%'. */
        r = store_prepare(db, "SELECT key, value FROM daemon_state WHERE substr(key, 1, length(?1)) = ?1 ORDER BY key",
                          &st);
        if (r >= 0)
                r = sk_bind_text(db, st, 1, prefix);
        while (r >= 0 && (r = store_step(db, st, "list daemon state")) > 0) {
                char **k = reallocarray(keys, n + 1, sizeof(*k)), **v;

                if (!k) {
                        r = -ENOMEM;
                        break;
                }
                keys = k;
                v = reallocarray(values, n + 1, sizeof(*v));
                if (!v) {
                        r = -ENOMEM;
                        break;
                }
                values = v;
                keys[n] = values[n] = NULL;
                n++;
                r = sk_column_strdup(st, 0, false, &keys[n - 1]);
                if (r >= 0)
                        r = sk_column_strdup(st, 1, false, &values[n - 1]);
        }
        if (r < 0) {
                store_strv_free(keys, n);
                store_strv_free(values, n);
                return r;
        }
        *ret_keys = keys;
        *ret_values = values;
        *ret_n = n;
        return 0;
}

void store_strv_free(char **v, size_t n) {
        for (size_t i = 0; i < n && v; i++)
                free(v[i]);
        free(v);
}
