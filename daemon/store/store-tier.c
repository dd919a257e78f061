/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The tiering tables (schema v4, v6): tier_models, tier_tenants, tier_episodes, tier_anchors.
 * Statements are prepared per call (tiering writes happen at episode pace);
 * the caller groups writes that belong together in one transaction. */
#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "log.h"
#include "store-internal.h"
#include "store-tier.h"
#include "time-util.h"

#define MODEL_COLUMNS "id, tenant_id, workload_class, bucket, centroid, samples, policy, json, version, updated_usec"
#define TENANT_COLUMNS                                                                                       \
        "tenant_id, policy, seed, model_id, transferred_from, ref_cost, cache_hits, cache_misses, episode, " \
        "promotion_rate_bytes"
#define EPISODE_COLUMNS                                                                                              \
        "tenant_id, episode, policy, action, rule, rate_threshold, burst_threshold, context, explored, cache_hits, " \
        "metric, value, reward, started_usec, committed_usec, anchor"
#define ANCHOR_COLUMNS                                                                                            \
        "workload_class, bucket, action, rate_threshold, burst_threshold, features, reward, samples, tenant_id, " \
        "updated_usec"

/* Binds values in order from parameter 1: 'i' int64, 'I' int64 with <= 0 as NULL, 'd' double with
 * NAN as NULL, 's' text (NULL binds NULL). */
static int st_bind(sqlite3 *db, sqlite3_stmt *st, const char *types, ...) {
        va_list ap;
        int rc = SQLITE_OK;

        va_start(ap, types);
        for (int i = 0; types[i] && rc == SQLITE_OK; i++) {
                int64_t v;
                double d;
                const char *s;

                switch (types[i]) {
                case 'i':
                        rc = sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
                        break;
                case 'I':
                        v = va_arg(ap, int64_t);
                        rc = v > 0 ? sqlite3_bind_int64(st, i + 1, v) : sqlite3_bind_null(st, i + 1);
                        break;
                case 'd':
                        d = va_arg(ap, double);
                        rc = isfinite(d) ? sqlite3_bind_double(st, i + 1, d) : sqlite3_bind_null(st, i + 1);
                        break;
                default:
                        s = va_arg(ap, const char *);
                        rc = sqlite3_bind_text(st, i + 1, s, -1, SQLITE_STATIC);
                        break;
                }
        }
        va_end(ap);
        return rc == SQLITE_OK ? 0 : store_error(db, rc, "bind");
}

static int st_text(sqlite3_stmt *st, int col, bool nullable, char **ret) {
        const char *t;

        *ret = NULL;
        if (sqlite3_column_type(st, col) == SQLITE_NULL)
                return nullable ? 0 : -EBADMSG;
        t = (const char *) sqlite3_column_text(st, col);
        if (!t)
                return -ENOMEM;
        *ret = strdup(t);
        return *ret ? 0 : -ENOMEM;
}

static double st_double(sqlite3_stmt *st, int col) {
        return sqlite3_column_type(st, col) == SQLITE_NULL ? NAN : sqlite3_column_double(st, col);
}

/* Runs one write statement with bound values; -ENOENT when it changed no row and must_change. */
static int st_exec(Store *s, const char *sql, bool must_change, const char *what, const char *types, ...) {
        _cleanup_(store_finalizep) sqlite3_stmt *st = NULL;
        sqlite3 *db = store_db(s);
        va_list ap;
        int r, rc = SQLITE_OK;

        r = store_prepare(db, sql, &st);
        if (r < 0)
                return r;
        va_start(ap, types);
        for (int i = 0; types[i] && rc == SQLITE_OK; i++)
                rc = sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t)); /* only ids here */
        va_end(ap);
        if (rc != SQLITE_OK)
                return store_error(db, rc, "bind");
        r = store_step(db, st, what);
        if (r < 0)
                return r;
        return must_change && sqlite3_changes(db) == 0 ? -ENOENT : 0;
}

/* ---- transactions ---- */

int store_tier_begin(Store *s) {
        int rc = sqlite3_exec(store_db(s), "BEGIN IMMEDIATE", NULL, NULL, NULL);
        return rc == SQLITE_OK ? 0 : store_error(store_db(s), rc, "begin");
}

int store_tier_commit(Store *s) {
        sqlite3 *db = store_db(s);
        int rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);

        if (rc == SQLITE_OK)
                return 0;
        rc = store_error(db, rc, "commit");
        store_tier_rollback(s);
        return rc;
}

void store_tier_rollback(Store *s) {
        sqlite3 *db = store_db(s);

        if (!sqlite3_get_autocommit(db))
                (void) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

/* ---- models ---- */

void store_tier_model_done(StoreTierModel *m) {
        if (!m)
                return;
        free(m->workload_class);
        free(m->centroid);
        free(m->policy);
        free(m->json);
        *m = (StoreTierModel) {};
}

void store_tier_models_free(StoreTierModel *m, size_t n) {
        if (!m)
                return;
        for (size_t i = 0; i < n; i++)
                store_tier_model_done(&m[i]);
        free(m);
}

int store_tier_model_put(Store *s, const StoreTierModel *m, int64_t *ret_id) {
        _cleanup_(store_finalizep) sqlite3_stmt *st = NULL;
        sqlite3 *db = store_db(s);
        int r;

        if (!m->workload_class || !m->centroid || !m->policy || !m->json || m->samples < 0 || m->version < 0)
                return -EINVAL;
        /* Same parameter numbers for both; an id bound as NULL makes SQLite assign one. */
        if (m->id > 0)
                r = store_prepare(
                        db,
                        "UPDATE tier_models SET tenant_id = ?2, workload_class = ?3, bucket = ?4, centroid = ?5,"
                        " samples = ?6, policy = ?7, json = ?8, version = ?9, updated_usec = ?10 WHERE id = ?1",
                        &st);
        else
                r = store_prepare(db,
                                  "INSERT INTO tier_models(" MODEL_COLUMNS
                                  ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                                  &st);
        if (r >= 0)
                r = st_bind(db, st, "IIsisissii", m->id, m->tenant_id, m->workload_class, m->bucket, m->centroid,
                            m->samples, m->policy, m->json, m->version,
                            m->updated_usec > 0 ? m->updated_usec : (int64_t) now_usec(CLOCK_REALTIME));
        if (r >= 0)
                r = store_step(db, st, "put model");
        if (r < 0)
                return r;
        if (m->id > 0 && sqlite3_changes(db) == 0)
                return -ENOENT;
        if (ret_id)
                *ret_id = m->id > 0 ? m->id : sqlite3_last_insert_rowid(db);
        return 0;
}

static int model_from_row(sqlite3_stmt *st, bool with_json, StoreTierModel *ret) {
        StoreTierModel m = {
                .id = sqlite3_column_int64(st, 0),
                .tenant_id = sqlite3_column_type(st, 1) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 1),
                .bucket = sqlite3_column_int64(st, 3),
                .samples = sqlite3_column_int64(st, 5),
                .version = sqlite3_column_int64(st, 8),
                .updated_usec = sqlite3_column_int64(st, 9),
        };
        int r;

        r = st_text(st, 2, false, &m.workload_class);
        if (r >= 0)
                r = st_text(st, 4, false, &m.centroid);
        if (r >= 0)
                r = st_text(st, 6, false, &m.policy);
        if (r >= 0 && with_json)
                r = st_text(st, 7, false, &m.json);
        if (r < 0) {
                store_tier_model_done(&m);
                return r;
        }
        *ret = m;
        return 0;
}

int store_tier_model_get(Store *s, int64_t id, StoreTierModel *ret) {
        _cleanup_(store_finalizep) sqlite3_stmt *st = NULL;
        sqlite3 *db = store_db(s);
        int r;

        r = store_prepare(db, "SELECT " MODEL_COLUMNS " FROM tier_models WHERE id = ?1", &st);
        if (r >= 0)
                r = st_bind(db, st, "i", id);
        if (r >= 0)
                r = store_step(db, st, "get model");
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        return model_from_row(st, true, ret);
}

/* A candidate for transfer: the model's JSON is not needed to choose one. */
static int candidate_row(sqlite3_stmt *st, void *ret) {
        return model_from_row(st, false, ret);
}

static void models_free_v(void *v, size_t n) {
        store_tier_models_free(v, n);
}

int store_tier_model_candidates(Store *s, const char *workload_class, const char *policy, StoreTierModel **ret,
                                size_t *ret_n) {
        _cleanup_(store_finalizep) sqlite3_stmt *st = NULL;
        sqlite3 *db = store_db(s);
        int r;

        r = store_prepare(db,
                          "SELECT " MODEL_COLUMNS " FROM tier_models WHERE workload_class = ?1 AND policy = ?2 "
                          "AND samples > 0 ORDER BY updated_usec DESC, id DESC",
                          &st);
        if (r >= 0)
                r = st_bind(db, st, "ss", workload_class, policy);
        if (r < 0)
                return r;
        return store_collect(db, st, "list models", sizeof(StoreTierModel), candidate_row, models_free_v, (void **) ret,
                             ret_n);
}

int store_tier_model_detach(Store *s, int64_t id) {
        return st_exec(s, "UPDATE tier_models SET tenant_id = NULL WHERE id = ?1", true, "detach model", "i", id);
}

int store_tier_model_remove(Store *s, int64_t id) {
        return st_exec(s, "DELETE FROM tier_models WHERE id = ?1", true, "remove model", "i", id);
}

/* ---- tenant state ---- */

void store_tier_tenant_done(StoreTierTenant *t) {
        if (!t)
                return;
        free(t->policy);
        *t = (StoreTierTenant) {};
}

int store_tier_tenant_put(Store *s, const StoreTierTenant *t) {
        _cleanup_(store_finalizep) sqlite3_stmt *st = NULL;
        sqlite3 *db = store_db(s);
        int r;

        if (t->tenant_id <= 0 || !t->policy || !isfinite(t->ref_cost) || t->episode < 0 || t->promotion_rate_bytes < 0)
                return -EINVAL;
        r = store_prepare(db,
                          "INSERT OR REPLACE INTO tier_tenants(" TENANT_COLUMNS
                          ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                          &st);
        if (r >= 0)
                r = st_bind(db, st, "isiIIdiiii", t->tenant_id, t->policy, t->seed, t->model_id, t->transferred_from,
                            t->ref_cost, t->cache_hits, t->cache_misses, t->episode, t->promotion_rate_bytes);
        if (r >= 0)
                r = store_step(db, st, "put tier tenant");
        return r < 0 ? r : 0;
}

int store_tier_tenant_get(Store *s, int64_t tenant_id, StoreTierTenant *ret) {
        _cleanup_(store_finalizep) sqlite3_stmt *st = NULL;
        sqlite3 *db = store_db(s);
        StoreTierTenant t;
        int r;

        r = store_prepare(db, "SELECT " TENANT_COLUMNS " FROM tier_tenants WHERE tenant_id = ?1", &st);
        if (r >= 0)
                r = st_bind(db, st, "i", tenant_id);
        if (r >= 0)
                r = store_step(db, st, "get tier tenant");
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        t = (StoreTierTenant) {
                .tenant_id = sqlite3_column_int64(st, 0),
                .seed = sqlite3_column_int64(st, 2),
                .model_id = sqlite3_column_type(st, 3) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 3),
                .transferred_from = sqlite3_column_type(st, 4) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 4),
                .ref_cost = sqlite3_column_double(st, 5),
                .cache_hits = sqlite3_column_int64(st, 6),
                .cache_misses = sqlite3_column_int64(st, 7),
                .episode = sqlite3_column_int64(st, 8),
                .promotion_rate_bytes = sqlite3_column_int64(st, 9),
        };
        r = st_text(st, 1, false, &t.policy);
        if (r < 0)
                return r;
        *ret = t;
        return 0;
}

/* ---- episodes ---- */

void store_tier_episode_done(StoreTierEpisode *e) {
        if (!e)
                return;
        free(e->policy);
        free(e->rule);
        free(e->context);
        free(e->metric);
        free(e->anchor);
        *e = (StoreTierEpisode) {};
}

void store_tier_episodes_free(StoreTierEpisode *e, size_t n) {
        if (!e)
                return;
        for (size_t i = 0; i < n; i++)
                store_tier_episode_done(&e[i]);
        free(e);
}

int store_tier_episode_put(Store *s, const StoreTierEpisode *e) {
        _cleanup_(store_finalizep) sqlite3_stmt *st = NULL;
        sqlite3 *db = store_db(s);
        int r;

        if (e->tenant_id <= 0 || e->episode <= 0 || !e->policy || !e->rule || !e->context)
                return -EINVAL;
        r = store_prepare(db,
                          "INSERT OR REPLACE INTO tier_episodes(" EPISODE_COLUMNS ") VALUES "
                          "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
                          &st);
        if (r >= 0)
                r = st_bind(db, st, "iisisddsiisddiIs", e->tenant_id, e->episode, e->policy, e->action, e->rule,
                            e->rate_threshold, e->burst_threshold, e->context, (int64_t) e->explored, e->cache_hits,
                            e->metric, e->value, e->reward,
                            e->started_usec > 0 ? e->started_usec : (int64_t) now_usec(CLOCK_REALTIME),
                            e->committed_usec, e->anchor);
        if (r >= 0)
                r = store_step(db, st, "put episode");
        return r < 0 ? r : 0;
}

static int episode_from_row(sqlite3_stmt *st, StoreTierEpisode *ret) {
        StoreTierEpisode e = {
                .tenant_id = sqlite3_column_int64(st, 0),
                .episode = sqlite3_column_int64(st, 1),
                .action = sqlite3_column_int64(st, 3),
                .rate_threshold = st_double(st, 5),
                .burst_threshold = st_double(st, 6),
                .explored = sqlite3_column_int64(st, 8) != 0,
                .cache_hits = sqlite3_column_int64(st, 9),
                .value = st_double(st, 11),
                .reward = st_double(st, 12),
                .started_usec = sqlite3_column_int64(st, 13),
                .committed_usec = sqlite3_column_type(st, 14) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 14),
        };
        int r;

        r = st_text(st, 2, false, &e.policy);
        if (r >= 0)
                r = st_text(st, 4, false, &e.rule);
        if (r >= 0)
                r = st_text(st, 7, false, &e.context);
        if (r >= 0)
                r = st_text(st, 10, true, &e.metric);
        if (r >= 0)
                r = st_text(st, 15, true, &e.anchor);
        if (r < 0) {
                store_tier_episode_done(&e);
                return r;
        }
        *ret = e;
        return 0;
}

int store_tier_episode_get(Store *s, int64_t tenant_id, int64_t episode, StoreTierEpisode *ret) {
        _cleanup_(store_finalizep) sqlite3_stmt *st = NULL;
        sqlite3 *db = store_db(s);
        int r;

        r = store_prepare(db, "SELECT " EPISODE_COLUMNS " FROM tier_episodes WHERE tenant_id = ?1 AND episode = ?2",
                          &st);
        if (r >= 0)
                r = st_bind(db, st, "ii", tenant_id, episode);
        if (r >= 0)
                r = store_step(db, st, "get episode");
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        return episode_from_row(st, ret);
}

int store_tier_episode_remove(Store *s, int64_t tenant_id, int64_t episode) {
        return st_exec(s, "DELETE FROM tier_episodes WHERE tenant_id = ?1 AND episode = ?2", true, "remove episode",
                       "ii", tenant_id, episode);
}

static int episode_row(sqlite3_stmt *st, void *ret) {
        return episode_from_row(st, ret);
}

static void episodes_free_v(void *v, size_t n) {
        store_tier_episodes_free(v, n);
}

int store_tier_episode_list(Store *s, int64_t tenant_id, bool committed_only, unsigned limit, StoreTierEpisode **ret,
                            size_t *ret_n) {
        _cleanup_(store_finalizep) sqlite3_stmt *st = NULL;
        sqlite3 *db = store_db(s);
        int r;

        /* The newest `limit` (-1: all), handed out oldest first. */
        r = store_prepare(db,
                          "SELECT * FROM (SELECT " EPISODE_COLUMNS " FROM tier_episodes WHERE tenant_id = ?1 "
                          "AND (?2 = 0 OR committed_usec IS NOT NULL) ORDER BY episode DESC LIMIT ?3) ORDER BY episode",
                          &st);
        if (r >= 0)
                r = st_bind(db, st, "iii", tenant_id, (int64_t) committed_only, limit > 0 ? (int64_t) limit : -1);
        if (r < 0)
                return r;
        return store_collect(db, st, "list episodes", sizeof(StoreTierEpisode), episode_row, episodes_free_v,
                             (void **) ret, ret_n);
}

int store_tier_episode_counts(Store *s, int64_t tenant_id, int64_t *ret_total, int64_t *ret_committed,
                              int64_t *ret_explored, int64_t *ret_anchored) {
        _cleanup_(store_finalizep) sqlite3_stmt *st = NULL;
        sqlite3 *db = store_db(s);
        int r;

        r = store_prepare(db,
                          "SELECT count(*), count(committed_usec), coalesce(sum(explored), 0), count(anchor) "
                          "FROM tier_episodes WHERE tenant_id = ?1",
                          &st);
        if (r >= 0)
                r = st_bind(db, st, "i", tenant_id);
        if (r >= 0)
                r = store_step(db, st, "count episodes");
        if (r < 0)
                return r;
        if (r == 0)
                return -EIO;
        *ret_total = sqlite3_column_int64(st, 0);
        *ret_committed = sqlite3_column_int64(st, 1);
        *ret_explored = sqlite3_column_int64(st, 2);
        if (ret_anchored)
                *ret_anchored = sqlite3_column_int64(st, 3);
        return 0;
}

/* ---- anchors ---- */

void store_tier_anchor_done(StoreTierAnchor *a) {
        if (!a)
                return;
        free(a->workload_class);
        free(a->features);
        *a = (StoreTierAnchor) {};
}

void store_tier_anchors_free(StoreTierAnchor *a, size_t n) {
        if (!a)
                return;
        for (size_t i = 0; i < n; i++)
                store_tier_anchor_done(&a[i]);
        free(a);
}

int store_tier_anchor_put(Store *s, const StoreTierAnchor *a) {
        _cleanup_(store_finalizep) sqlite3_stmt *st = NULL;
        sqlite3 *db = store_db(s);
        int r;

        if (!a->workload_class || !a->features || a->action < 0 || a->samples <= 0 || !isfinite(a->reward) ||
            !isfinite(a->rate_threshold) || !isfinite(a->burst_threshold))
                return -EINVAL;
        r = store_prepare(db,
                          "INSERT OR REPLACE INTO tier_anchors(" ANCHOR_COLUMNS
                          ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                          &st);
        if (r >= 0)
                r = st_bind(db, st, "siiddsdiIi", a->workload_class, a->bucket, a->action, a->rate_threshold,
                            a->burst_threshold, a->features, a->reward, a->samples, a->tenant_id,
                            a->updated_usec > 0 ? a->updated_usec : (int64_t) now_usec(CLOCK_REALTIME));
        if (r >= 0)
                r = store_step(db, st, "put anchor");
        return r < 0 ? r : 0;
}

static int anchor_row(sqlite3_stmt *st, void *ret) {
        StoreTierAnchor a = {
                .bucket = sqlite3_column_int64(st, 1),
                .action = sqlite3_column_int64(st, 2),
                .rate_threshold = sqlite3_column_double(st, 3),
                .burst_threshold = sqlite3_column_double(st, 4),
                .reward = sqlite3_column_double(st, 6),
                .samples = sqlite3_column_int64(st, 7),
                .tenant_id = sqlite3_column_type(st, 8) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 8),
                .updated_usec = sqlite3_column_int64(st, 9),
        };
        int r;

        r = st_text(st, 0, false, &a.workload_class);
        if (r >= 0)
                r = st_text(st, 5, false, &a.features);
        if (r < 0) {
                store_tier_anchor_done(&a);
                return r;
        }
        *(StoreTierAnchor *) ret = a;
        return 0;
}

static void anchors_free_v(void *v, size_t n) {
        store_tier_anchors_free(v, n);
}

int store_tier_anchor_list(Store *s, StoreTierAnchor **ret, size_t *ret_n) {
        _cleanup_(store_finalizep) sqlite3_stmt *st = NULL;
        sqlite3 *db = store_db(s);
        int r;

        r = store_prepare(db, "SELECT " ANCHOR_COLUMNS " FROM tier_anchors ORDER BY workload_class, bucket, action",
                          &st);
        if (r < 0)
                return r;
        return store_collect(db, st, "list anchors", sizeof(StoreTierAnchor), anchor_row, anchors_free_v, (void **) ret,
                             ret_n);
}
