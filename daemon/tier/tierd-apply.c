/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The tiering appliers: choosing DAMON, NUMA balancing or nothing for this
 * host, owning maiod's kdamond (never someone else's), executing the pure
 * write plans through the knob journal, region snapshots, and the teardown
 * in the order the kernel needs. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "knobs.h"
#include "log.h"
#include "tier-internal.h"
#include "tierd.h"

#define STATE_KDAMOND "tier_kdamond"
#define BY "tiering"
/* DAMON's defaults: 5 ms sampling, 100 ms aggregation (nr_accesses counts 0..20). */
#define DAMON_SAMPLE_S 0.005
#define DAMON_AGGR_S 0.1
#define UNAVAILABLE "tiering backend unavailable: "

void tierd_applier_done(TierdApplier *a) {
        if (!a)
                return;
        free(a->unavailable);
        free(a->last_plan);
        free(a->error);
        free(a->slots);
        tierd_plan_done(&a->known);
        *a = (TierdApplier) { .kdamond = -1 };
}

static int set_string(char **field, const char *format, ...) _printf_(2, 3);
static int set_string(char **field, const char *format, ...) {
        char *s = NULL;
        va_list ap;
        int k;

        if (format) {
                va_start(ap, format);
                k = vasprintf(&s, format, ap);
                va_end(ap);
                if (k < 0)
                        return -ENOMEM;
        }
        free(*field);
        *field = s;
        return 0;
}

/* Reads knob name below the root. Returns 0 and a malloc'd *ret or -errno. */
static int knob_live(Tierd *m, const char *name, char **ret) {
        _cleanup_(knob_done) Knob k = {};
        int r = knobs_resolve(m->root, name, &k);

        return r < 0 ? r : knobs_read(&k, ret);
}

static int knob_live_int(Tierd *m, const char *name, long *ret) {
        _cleanup_free_ char *v = NULL;
        char *end;
        int r = knob_live(m, name, &v);

        if (r < 0)
                return r;
        errno = 0;
        *ret = strtol(v, &end, 10);
        return errno != 0 || end == v || *end ? -EINVAL : 0;
}

/* Whether maiod wrote kdamond k's state in an earlier run and the journal still holds it. */
static bool kdamond_recorded(Tierd *m, unsigned k) {
        _cleanup_(store_knob_done) StoreKnob row = {};
        _cleanup_free_ char *v = NULL;
        char name[64];

        if (store_state_get(m->store, STATE_KDAMOND, &v) < 0 || strcmp(v, "0") != 0)
                return false;
        snprintf(name, sizeof name, "damon.%u.state", k);
        return store_knob_get(m->store, name, &row) >= 0 && row.written;
}

/* Can maiod own kdamond 0? Writing nr_kdamonds rebuilds every kdamond directory (and the kernel
 * refuses while one runs), so only when none exists or the only one is maiod's own. Returns
 * NULL when it can, else the reason. */
static const char *damon_unusable(Tierd *m) {
        const Features *f = m->features;

        if (!f->damon_sysfs)
                return "no DAMON sysfs";
        if (f->damon_kdamonds == 0)
                return NULL;
        if (f->damon_kdamonds == 1 && kdamond_recorded(m, 0))
                return NULL;
        return "foreign kdamond";
}

int tierd_applier_select(Tierd *m, unsigned requested, TierdApplier *a) {
        const char *why_damon = damon_unusable(m), *why = NULL;
        bool numab = m->features->numa_balancing_tiering && m->features->numa_balancing >= 0;
        unsigned owned = 0;
        int r;

        tierd_applier_done(a);
        if (kdamond_recorded(m, 0)) {
                a->kdamond = 0;
                detect_damon_set_owned(m->features, &owned, 1);
        }
        switch (requested) {
        case TIERING_BACKEND_AUTO:
        case TIERING_BACKEND_DAMON:
                a->backend = !why_damon ? TIERD_BACKEND_DAMON : numab ? TIERD_BACKEND_NUMAB : TIERD_BACKEND_OFF;
                why = why_damon;
                break;
        case TIERING_BACKEND_NUMA_BALANCING:
                a->backend = numab ? TIERD_BACKEND_NUMAB : TIERD_BACKEND_OFF;
                why = numab ? NULL : "no NUMA-balancing tiering mode";
                break;
        default:
                a->backend = TIERD_BACKEND_OFF;
                break;
        }
        if (a->backend == TIERD_BACKEND_DAMON)
                a->kdamond = 0;
        r = why ? set_string(&a->unavailable, UNAVAILABLE "%s", why) : 0;
        return r;
}

/* ---- executing plans ---- */

static int plan_text(const TierdPlan *p, char **ret) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < p->n; i++)
                fprintf(f, "%s=%s%s\n", p->writes[i].name, p->writes[i].value,
                        p->writes[i].if_changed ? " (if changed)" : "");
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        return 0;
}

/* ---- the values known to be in force ---- */

static int write_by_name(const void *x, const void *y) {
        return strcmp(((const TierdWrite *) x)->name, ((const TierdWrite *) y)->name);
}

static int index_by_name(const void *x, const void *y, void *userdata) {
        const TierdWrite *w = userdata;
        size_t i = *(const size_t *) x, j = *(const size_t *) y;

        return strcmp(w[i].name, w[j].name) ?: (i > j) - (i < j);
}

/* What a run left in force, sorted by name, the last value of each name (a plan may write one
 * knob twice). Takes the contents of *p. Returns 0 or -ENOMEM (*p then emptied). */
static int known_make(TierdPlan *p, TierdPlan *ret) {
        _cleanup_free_ size_t *idx = calloc(p->n ?: 1, sizeof *idx);
        TierdPlan k = {};

        if (!idx || !(k.writes = calloc(p->n ?: 1, sizeof *k.writes))) {
                tierd_plan_done(p);
                return -ENOMEM;
        }
        for (size_t i = 0; i < p->n; i++)
                idx[i] = i;
        qsort_r(idx, p->n, sizeof *idx, index_by_name, p->writes);
        for (size_t i = 0; i < p->n; i++) {
                TierdWrite *w = &p->writes[idx[i]];

                if (i + 1 < p->n && strcmp(w->name, p->writes[idx[i + 1]].name) == 0) {
                        free(w->name);
                        free(w->value);
                        continue;
                }
                k.writes[k.n++] = *w;
        }
        free(p->writes);
        *p = (TierdPlan) {};
        k.allocated = k.n;
        *ret = k;
        return 0;
}

static bool startswith(const char *s, const char *prefix) {
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Forgets the entries of p whose names start with prefix (their directory was rebuilt). */
static void known_drop_below(TierdPlan *p, const char *prefix) {
        size_t n = 0;

        for (size_t i = 0; i < p->n; i++) {
                if (startswith(p->writes[i].name, prefix)) {
                        free(p->writes[i].name);
                        free(p->writes[i].value);
                        continue;
                }
                p->writes[n++] = p->writes[i];
        }
        p->n = n;
}

/* The value a run left in force for w's knob, or NULL. */
static const char *known_value(const TierdPlan *known, const TierdWrite *w) {
        TierdWrite key = { .name = w->name };
        const TierdWrite *k = known->n ? bsearch(&key, known->writes, known->n, sizeof *k, write_by_name) : NULL;

        return k ? k->value : NULL;
}

/* Writing a DAMON count file makes the kernel rebuild the directories it counts with default
 * values: nothing known below them is true after it. Fills ret (size bytes) with the prefix of the
 * knob names below those directories: damon.K.scheme.S.filter_ for its nr_filters, damon.K.scheme.
 * for nr_schemes, damon.K.target for nr_targets; nr_contexts and nr_kdamonds rebuild everything
 * below (the context's knobs are named flat: damon.K.sample_us). Returns whether name is a count. */
static bool resets_below(const char *name, char *ret, size_t size) {
        const char *dot = strrchr(name, '.'), *what;
        size_t dir, len;

        if (!dot || strncmp(dot + 1, "nr_", 3) != 0)
                return false;
        dir = (size_t) (dot + 1 - name);
        what = dot + 4;
        len = strlen(what);
        if (len > 0 && what[len - 1] == 's')
                len--;
        if ((len == 7 && strncmp(what, "context", 7) == 0) || (len == 7 && strncmp(what, "kdamond", 7) == 0))
                len = 0;
        snprintf(ret, size, "%.*s%.*s", (int) dir, name, (int) len, what);
        return true;
}

#define RESETS_MAX 16

/* Whether name is below one of the n prefixes the kernel rebuilt in this run. */
static bool rebuilt_in(const char *name, char reset[][96], size_t n) {
        for (size_t j = 0; j < n; j++)
                if (startswith(name, reset[j]))
                        return true;
        return false;
}

/* Writes the plan through the journal, skipping values the kernel holds already (known from the
 * last run while nobody else wrote through the journal, else read); a write marked if_changed
 * happens only after another one did. */
static int plan_execute(Tierd *m, TierdApplier *a, const TierdPlan *p, char **ret_error) {
        _cleanup_(tierd_plan_done) TierdPlan now = {}, all = {};
        /* Prefixes (of plan names) whose directories the kernel rebuilt in this run; more than
         * RESETS_MAX: nothing known is trusted any more. */
        char reset[RESETS_MAX][96];
        size_t n_reset = 0;
        JournalCounters jc;
        bool changed = false, trust;

        journal_counters(m->journal, &jc);
        trust = jc.writes_total == a->known_writes && jc.overrides_total == a->known_overrides;
        for (size_t i = 0; i < p->n; i++) {
                const TierdWrite *w = &p->writes[i];
                _cleanup_(knob_done) Knob k = {};
                _cleanup_free_ char *live = NULL, *error = NULL;
                int r;

                if (w->if_changed && !changed)
                        continue;
                if (!w->if_changed) {
                        const char *known =
                                trust && !rebuilt_in(w->name, reset, n_reset) ? known_value(&a->known, w) : NULL;

                        if (known && strcmp(known, w->value) == 0)
                                goto in_force;
                        /* Known to hold another value: written without a look; unknown: read. */
                        if (!known && knobs_resolve(m->root, w->name, &k) >= 0 && knobs_read(&k, &live) >= 0 &&
                            knobs_value_equal(k.def, live, w->value))
                                goto in_force;
                }
                r = journal_set(m->journal, w->name, w->value, BY, &error);
                if (r == -EOPNOTSUPP) {
                        /* This host lacks the file (debugfs not mounted): the rest still applies. */
                        log_notice("%s, leaving it out.", error ?: w->name);
                        continue;
                }
                if (r < 0) {
                        tierd_plan_done(&a->known);
                        return set_string(ret_error, "%s", error ?: "out of memory") < 0 ? -ENOMEM : r;
                }
                changed = true;
                a->writes++;
                if (n_reset == RESETS_MAX)
                        trust = false;
                else if (resets_below(w->name, reset[n_reset], sizeof reset[n_reset]))
                        known_drop_below(&now, reset[n_reset++]); /* written earlier in this run */
        in_force:
                if (!w->if_changed && tierd_plan_add(&now, false, w->name, "%s", w->value) < 0)
                        return -ENOMEM; /* if_changed: a command (commit), not a value to hold */
        }
        /* In force now: what the last run knew and this one neither rebuilt nor wrote (a free slot's
         * pattern and quota stay), then what this run wrote or found. */
        for (size_t i = 0; trust && i < a->known.n; i++) {
                const TierdWrite *k = &a->known.writes[i];

                if (!rebuilt_in(k->name, reset, n_reset) && tierd_plan_add(&all, false, k->name, "%s", k->value) < 0)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < now.n; i++)
                if (tierd_plan_add(&all, false, now.writes[i].name, "%s", now.writes[i].value) < 0)
                        return -ENOMEM;
        tierd_plan_done(&a->known);
        if (known_make(&all, &a->known) < 0)
                return -ENOMEM;
        journal_counters(m->journal, &jc);
        a->known_writes = jc.writes_total;
        a->known_overrides = jc.overrides_total;
        return 0;
}

double tierd_budget_Bps(const Config *c) {
        double bw = (double) c->tiering_link_bandwidth_mbps * 1e6;

        return bw * (1.0 - c->tiering_link_contention_percent / 100.0) * c->tiering_promote_budget_percent / 100.0;
}

/* kernel.numa_balancing before maiod: the journal's original once maiod wrote it. */
static int numab_original_mode(Tierd *m) {
        _cleanup_(store_knob_done) StoreKnob row = {};
        char *end;
        long v;

        if (store_knob_get(m->store, "kernel.numa_balancing", &row) < 0)
                return m->features->numa_balancing;
        v = strtol(row.original, &end, 10);
        return *end || v < 0 || v > 3 ? -1 : (int) v;
}

static int plan_numab(Tierd *m, const TierdApplyTenant *tenants, size_t n, TierdPlan *ret) {
        TierdNumabInput in = {
                .mode_original = numab_original_mode(m),
                .tenants = tenants,
                .n_tenants = n,
                .budget_Bps = tierd_budget_Bps(m->config),
        };

        return tierd_plan_numab(&in, ret);
}

static int plan_damon(Tierd *m, TierdApplier *a, const TierdTiers *tiers, const TierdApplyTenant *tenants, size_t n,
                      TierdPlan *ret) {
        _cleanup_free_ char *state = NULL;
        char name[64];
        long nr = 0;
        int r;

        _cleanup_free_ size_t *slots = calloc(n ?: 1, sizeof *slots);

        if (!slots)
                return -ENOMEM;
        r = knob_live_int(m, "damon.nr_kdamonds", &nr);
        if (r < 0)
                return r;
        /* Someone changed nr_kdamonds since maiod chose DAMON: never build on their directories. */
        if (nr != a->kdamond && nr != a->kdamond + 1)
                return -EBUSY;
        snprintf(name, sizeof name, "damon.%d.state", a->kdamond);
        if (nr == a->kdamond + 1 && (r = knob_live(m, name, &state)) < 0)
                return r;
        TierdDamonInput in = {
                .kdamond = (unsigned) a->kdamond,
                .create = nr == a->kdamond,
                .running = state && strcmp(state, "off") != 0,
                .local_nid = tiers->local_nid,
                .remote_nid = tiers->remote_nid,
                .sample_s = DAMON_SAMPLE_S,
                .aggr_s = DAMON_AGGR_S,
                .demote_after_s = m->config->tiering_demote_after_s,
                .tenants = tenants,
                .n_tenants = n,
                .slots = slots,
        };
        r = tierd_slots_assign(&a->slots, &a->n_slots, tenants, n, slots);
        if (r < 0)
                return r;
        in.n_slots = a->n_slots;
        return tierd_plan_damon(&in, ret);
}

/* Records that maiod owns its kdamond before the first write that creates it. */
static int kdamond_own(Tierd *m, TierdApplier *a) {
        unsigned k = (unsigned) a->kdamond;
        int r;

        if (a->kdamond_made)
                return 0;
        r = m->dry_run ? 0 : store_state_set(m->store, STATE_KDAMOND, "0");
        if (r < 0)
                return r;
        detect_damon_set_owned(m->features, &k, 1);
        a->kdamond_made = true;
        return 0;
}

static int applier_plan(Tierd *m, TierdApplier *a, const TierdTiers *tiers, const TierdApplyTenant *tenants, size_t n,
                        TierdPlan *ret) {
        switch (a->backend) {
        case TIERD_BACKEND_NUMAB:
                return plan_numab(m, tenants, n, ret);
        case TIERD_BACKEND_DAMON:
                return plan_damon(m, a, tiers, tenants, n, ret);
        default:
                return 0;
        }
}

static void restore_one(Tierd *m, const char *name) {
        _cleanup_free_ char *error = NULL;

        if (journal_restore(m->journal, name, false, &error) < 0)
                log_warning("Failed to restore %s: %s", name, error ?: "out of memory");
}

/* No tenant takes part: the backend's knobs go back (only those tiering set last, so an
 * administrator's own setting stays), maiod's kdamond is taken down. */
static void applier_release(Tierd *m, TierdApplier *a) {
        static const char *const numab[] = {
                "kernel.numa_balancing",
                "sched.numa_balancing.hot_threshold_ms",
                "kernel.numa_balancing_promote_rate_limit_MBps",
        };

        free(a->last_plan);
        a->last_plan = NULL;
        tierd_plan_done(&a->known);
        free(a->slots);
        a->slots = NULL;
        a->n_slots = 0;
        if (a->backend == TIERD_BACKEND_DAMON) {
                tierd_applier_teardown(m, a);
                return;
        }
        for (size_t i = 0; a->backend == TIERD_BACKEND_NUMAB && i < ELEMENTSOF(numab); i++) {
                _cleanup_(store_knob_done) StoreKnob row = {};

                if (store_knob_get(m->store, numab[i], &row) >= 0 && strcmp(row.changed_by, BY) == 0)
                        restore_one(m, numab[i]);
        }
}

int tierd_applier_run(Tierd *m, TierdApplier *a, const TierdTiers *tiers, const TierdApplyTenant *tenants, size_t n) {
        _cleanup_(tierd_plan_done) TierdPlan p = {};
        _cleanup_free_ char *text = NULL, *error = NULL;
        int r;

        if (n == 0) {
                applier_release(m, a);
                return 0;
        }
        r = applier_plan(m, a, tiers, tenants, n, &p);
        if (r >= 0)
                r = plan_text(&p, &text);
        if (r < 0) {
                (void) set_string(&a->error, "Planning the %s backend failed: %s", tierd_backend_to_string(a->backend),
                                  strerror(-r));
                return log_warning_errno(r, "Planning the tiering backend failed: %m");
        }
        /* The same plan again (succeeded or failed) is not retried: it changes with the decisions. */
        if (a->last_plan && strcmp(a->last_plan, text) == 0)
                return 0;
        if (a->backend == TIERD_BACKEND_DAMON && p.n > 0 && (r = kdamond_own(m, a)) < 0)
                return log_warning_errno(r, "Failed to record maiod's kdamond: %m");
        free(a->last_plan);
        a->last_plan = TAKE_PTR(text);
        r = plan_execute(m, a, &p, &error);
        if (r < 0) {
                log_warning("Applying tiering thresholds (%s) failed: %s", tierd_backend_to_string(a->backend),
                            error ?: "out of memory");
                (void) set_string(&a->error, "%s", error ?: "out of memory");
                return r;
        }
        (void) set_string(&a->error, NULL);
        return 0;
}

/* ---- snapshots and teardown ---- */

int tierd_applier_snapshot(Tierd *m, TierdApplier *a, TierdTelemetry *t) {
        _cleanup_free_ char *state = NULL, *error = NULL;
        JournalCounters jc;
        char name[64];
        bool in_step;
        int r;

        if (a->backend != TIERD_BACKEND_DAMON || a->kdamond < 0 || !a->kdamond_made || m->dry_run)
                return 0;
        snprintf(name, sizeof name, "damon.%d.state", a->kdamond);
        if (knob_live(m, name, &state) < 0 || strcmp(state, "off") == 0)
                return 0;
        journal_counters(m->journal, &jc);
        in_step = jc.writes_total == a->known_writes && jc.overrides_total == a->known_overrides;
        r = journal_set(m->journal, name, "update_schemes_tried_regions", BY, &error);
        if (r < 0)
                return log_debug_errno(r, "Asking for DAMON regions failed: %s", error ?: "out of memory");
        /* A command, no value: what the last run left in force still is. */
        journal_counters(m->journal, &jc);
        if (in_step)
                a->known_writes = jc.writes_total;
        return tierd_regions_read(m->root, (unsigned) a->kdamond, t);
}


void tierd_applier_teardown(Tierd *m, TierdApplier *a) {
        StoreKnob *rows = NULL;
        size_t n = 0;
        char name[64], prefix[32];

        if (a->kdamond < 0 || !kdamond_recorded(m, (unsigned) a->kdamond))
                return;
        /* Off first (nr_kdamonds cannot change while it runs), then the count, which takes the
         * kernel's directories away; whatever is left restores to its original or is gone. */
        snprintf(name, sizeof name, "damon.%d.state", a->kdamond);
        restore_one(m, name);
        restore_one(m, "damon.nr_kdamonds");
        snprintf(prefix, sizeof prefix, "damon.%d.", a->kdamond);
        if (store_knob_list(m->store, &rows, &n) >= 0)
                for (size_t i = 0; i < n; i++)
                        if (strncmp(rows[i].name, prefix, strlen(prefix)) == 0)
                                restore_one(m, rows[i].name);
        store_knobs_free(rows, n);
        if (!m->dry_run && store_state_set(m->store, STATE_KDAMOND, "none") < 0)
                log_warning("Failed to record that maiod's kdamond is gone, ignoring.");
        a->kdamond_made = false;
        log_info("maiod's kdamond %d is taken down.", a->kdamond);
}
