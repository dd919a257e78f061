/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The knob journal, the one path through which maiod changes the kernel: the
 * original is committed before the first write, the kept value after it; clean
 * stops restore, unclean ones are reconciled, foreign changes are noticed. Also
 * the /v1/knobs operations and the scan for tuners that fight over knobs. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "detect.h"
#include "journal.h"
#include "knobs.h"
#include "log.h"
#include "metrics.h"
#include "string-table.h"
#include "time-util.h"

#define STATE_CLEAN_STOP "clean_stop"
#define STATE_BOOT_ID "boot_id"
#define LOCK_FILENAME "maiod.lock"

struct Journal {
        Store *store;
        char *root;
        char *state_dir;
        bool dry_run;
        sd_event *event;
        JournalConf conf;
        const Features *features; /* borrowed: DAMON kdamonds maiod did not start (a conflict), NULL none */
        uint64_t writes_total;    /* kernel knob writes (and restores) that took */
        uint64_t write_failures_total;
        uint64_t overrides_total; /* knobs found changed by someone else */
        int lock_fd;
        sd_event_source *drift_timer;
        const EventSink *sched; /* told when a drift check found a knob overridden */
        JournalHook hook;
        void *hook_userdata;
        bool unclean_start;              /* this run began after an unclean stop (same boot) */
        bool rebooted;                   /* this run began after a reboot since the records were written */
        JournalConflictsFn conflicts_fn; /* a module's own conflicts (MFLOW: foreign XDP programs) */
        void *conflicts_userdata;
};

static const char *const knob_state_table[_KNOB_STATE_MAX] = {
        [KNOB_STATE_UNTOUCHED] = "untouched", [KNOB_STATE_PENDING] = "pending",       [KNOB_STATE_APPLIED] = "applied",
        [KNOB_STATE_PARTIAL] = "partial",     [KNOB_STATE_OVERRIDDEN] = "overridden", [KNOB_STATE_DRY_RUN] = "dry-run",
        [KNOB_STATE_FAILED] = "failed",
};

DEFINE_STRING_TABLE_LOOKUP(knob_state, KnobState)

/* Sets *ret_error (may be NULL) to the message and returns r; %m is r's text. */
_printf_(3, 4) static int fail(char **ret_error, int r, const char *format, ...) {
        va_list ap;

        if (!ret_error)
                return r;
        free(*ret_error);
        errno = abs(r);
        va_start(ap, format);
        if (vasprintf(ret_error, format, ap) < 0)
                *ret_error = NULL;
        va_end(ap);
        return r;
}

/* Logs with KNOB=name and appends an event; both are best effort. */
#define report(j, level, knob, kind, ...)                                              \
        do {                                                                           \
                char _field_[KNOB_NAME_MAX + 8];                                       \
                snprintf(_field_, sizeof _field_, "KNOB=%s", (knob));                  \
                store_event_log((j)->store, (level), _field_, 0, (kind), __VA_ARGS__); \
        } while (0)

static int set_str(char **field, const char *value) {
        char *s = NULL;

        if (value && !(s = strdup(value)))
                return -ENOMEM;
        free(*field);
        *field = s;
        return 0;
}

static KnobState row_state(const StoreKnob *row) {
        int s = knob_state_from_string(row->state);
        return s < 0 ? KNOB_STATE_FAILED : (KnobState) s;
}

static int row_set_state(StoreKnob *row, KnobState s, const char *by) {
        row->changed_usec = (int64_t) now_usec(CLOCK_REALTIME);
        if (by && set_str(&row->changed_by, by) < 0)
                return -ENOMEM;
        return set_str(&row->state, knob_state_to_string(s));
}

/* ---- lifecycle of the Journal object ---- */

int journal_new(Store *store, const char *root, const char *state_dir, bool dry_run, const JournalConf *conf,
                sd_event *event, Journal **ret) {
        _cleanup_(journal_freep) Journal *j = calloc(1, sizeof *j);

        if (!j)
                return -ENOMEM;
        *j = (Journal) { .store = store, .dry_run = dry_run, .event = event, .conf = *conf, .lock_fd = -EBADF };
        j->root = strdup(root);
        j->state_dir = strdup(state_dir);
        if (!j->root || !j->state_dir)
                return -ENOMEM;
        *ret = TAKE_PTR(j);
        return 0;
}

Journal *journal_free(Journal *j) {
        if (!j)
                return NULL;
        sd_event_source_disable_unref(j->drift_timer);
        safe_close(j->lock_fd);
        free(j->root);
        free(j->state_dir);
        free(j);
        return NULL;
}

void journal_set_conf(Journal *j, const JournalConf *conf) {
        j->conf = *conf;
}

void journal_set_features(Journal *j, const Features *features) {
        j->features = features;
}

void journal_set_hook(Journal *j, JournalHook hook, void *userdata) {
        j->hook = hook;
        j->hook_userdata = userdata;
}

void journal_counters(const Journal *j, JournalCounters *ret) {
        *ret = (JournalCounters) {
                .writes_total = j->writes_total,
                .write_failures_total = j->write_failures_total,
                .overrides_total = j->overrides_total,
        };
}

void journal_metrics_write(void *userdata, FILE *f) {
        Journal *j = userdata;
        int knobs = store_knob_count(j->store);

        metrics_u64(f, "maiod_knobs_owned", "gauge", "Kernel knobs in the journal (changed by maiod and not restored).",
                    knobs > 0 ? (uint64_t) knobs : 0);
        metrics_u64(f, "maiod_knob_writes_total", "counter", "Kernel knob writes (and restores) that took.",
                    j->writes_total);
        metrics_u64(f, "maiod_knob_write_failures_total", "counter", "Kernel knob writes that failed.",
                    j->write_failures_total);
        metrics_u64(f, "maiod_knob_overrides_total", "counter",
                    "Times a knob maiod wrote was found changed by someone else.", j->overrides_total);
}

/* ---- setting ---- */

/* Records the outcome of knobs_write() r on row (committed before the write). */
static int record_write(Journal *j, StoreKnob *row, const Knob *k, const char *value, int r, const char *obtained,
                        char **ret_error) {
        _cleanup_free_ char *live = NULL;
        int q;

        if (r >= 0 || r == -ENOSPC) {
                j->writes_total++;
                row->overridden_logged = false;
                if (set_str(&row->applied, obtained) < 0 ||
                    row_set_state(row, r >= 0 ? KNOB_STATE_APPLIED : KNOB_STATE_PARTIAL, NULL) < 0)
                        return -ENOMEM;
                q = store_knob_put(j->store, row);
                if (q < 0) /* The kernel has the value and the journal its original: reconcile copes. */
                        return fail(ret_error, q, "Set %s to %s but failed to record it: %m", k->name, value);
                if (r >= 0) {
                        report(j, LOG_INFO, k->name, "knob-set", "Knob %s set to %s by %s (original %s).", k->name,
                               value, row->changed_by, row->original);
                        return 0;
                }
                report(j, LOG_WARNING, k->name, "knob-partial", "Knob %s: %s asked for %s, the kernel kept %s.",
                       k->name, row->changed_by, value, obtained);
                return fail(ret_error, -ENOSPC, "The kernel kept %s of %s asked for %s", obtained, value, k->name);
        }

        j->write_failures_total++;
        /* A first write that changed nothing leaves nothing of ours in the kernel. */
        if (!row->applied && knobs_read(k, &live) >= 0 && knobs_value_equal(k->def, live, row->original))
                q = store_knob_remove(j->store, row->name);
        else
                q = row_set_state(row, KNOB_STATE_FAILED, NULL) < 0 ? -ENOMEM : store_knob_put(j->store, row);
        if (q < 0)
                log_warning_errno(q, "Failed to record the failed write of %s, ignoring: %m", k->name);
        log_full_errno(LOG_WARNING, r, "Writing %s to %s failed: %m", value, k->path);
        switch (r) {
        case -EINVAL:
                return fail(ret_error, r, "The kernel rejected %s for %s", value, k->name);
        case -EACCES:
                return fail(ret_error, r,
                            "Knob %s is not maiod's to write: %s is read-only or not permitted (needs %s)", k->name,
                            k->path, knob_need_to_string(k->def->need));
        case -EBUSY:
                return fail(ret_error, r, "Knob %s stayed busy; try again later", k->name);
        default:
                return fail(ret_error, r, "Failed to write %s: %m", k->path);
        }
}

/* Prepares row for a write of value: a new record takes the live value as its
 * original; a record maiod never wrote takes it again (it may have changed). */
static int prepare_row(Journal *j, StoreKnob *row, bool existed, const Knob *k, const char *value, const char *live,
                       const char *by) {
        if (!existed && set_str(&row->name, k->name) < 0)
                return -ENOMEM;
        if ((!existed || !row->written) && set_str(&row->original, live) < 0)
                return -ENOMEM;
        if (set_str(&row->path, k->path) < 0 || set_str(&row->desired, value) < 0)
                return -ENOMEM;
        row->written = row->written || !j->dry_run;
        return row_set_state(row, j->dry_run ? KNOB_STATE_DRY_RUN : KNOB_STATE_PENDING, by);
}

/* Sets an already resolved knob to a validated value (see journal_set()). */
static int journal_apply(Journal *j, const Knob *k, const char *value, const char *by, char **ret_error) {
        _cleanup_(store_knob_done) StoreKnob row = {};
        _cleanup_free_ char *live = NULL, *obtained = NULL;
        bool existed;
        int r;

        r = store_knob_get(j->store, k->name, &row);
        if (r < 0 && r != -ENOENT)
                return fail(ret_error, r, "Failed to read the journal record of %s: %m", k->name);
        existed = r >= 0;
        r = knobs_read(k, &live);
        if (r == -ENOENT)
                return fail(ret_error, -EOPNOTSUPP,
                            "Knob %s is not available on this host: %s does not exist (needs %s)", k->name, k->path,
                            knob_need_to_string(k->def->need));
        if (r < 0)
                return fail(ret_error, r, "Failed to read %s: %m", k->path);
        r = prepare_row(j, &row, existed, k, value, live, by);
        if (r < 0)
                return r;
        /* The contract: the original is durable before the kernel is touched. */
        r = store_knob_put(j->store, &row);
        if (r < 0)
                return fail(ret_error, r, "Failed to record the original of %s, not writing it: %m", k->name);
        if (j->dry_run) {
                report(j, LOG_INFO, k->name, "knob-dry-run", "Dry run: knob %s would be set to %s by %s (now %s).",
                       k->name, value, by, live);
                return 0;
        }
        if (j->hook)
                j->hook(j, k->name, j->hook_userdata);
        r = knobs_write(k, value, &obtained);
        return record_write(j, &row, k, value, r, obtained, ret_error);
}

static int resolve_for_change(Journal *j, const char *name, Knob *ret, char **ret_error) {
        int r = knobs_resolve(j->root, name, ret);

        switch (r) {
        case 0:
                return 0;
        case -ENOENT:
                return fail(ret_error, r, "Unknown knob '%s'", name);
        case -EINVAL:
                return fail(ret_error, r, "Invalid knob name '%s'", name);
        case -ENODEV:
                return fail(ret_error, r, "Knob '%s' names a node, network device or queue that does not exist", name);
        default:
                return fail(ret_error, r, "Failed to resolve knob '%s': %m", name);
        }
}

int journal_set(Journal *j, const char *name, const char *value, const char *by, char **ret_error) {
        _cleanup_(knob_done) Knob k = {};
        _cleanup_free_ char *normalised = NULL, *reason = NULL;
        int r;

        *ret_error = NULL;
        r = resolve_for_change(j, name, &k, ret_error);
        if (r < 0)
                return r;
        r = knobs_validate(k.def, value, &normalised, &reason);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return fail(ret_error, -EINVAL, "Value '%.64s' for %s is invalid: %s", value, name, reason);
        return journal_apply(j, &k, normalised, by, ret_error);
}

/* ---- restoring ---- */

static int forget(Journal *j, const StoreKnob *row) {
        int r = store_knob_remove(j->store, row->name);
        return r == -ENOENT ? 0 : r;
}

static int restore_row(Journal *j, StoreKnob *row, bool force, const char *by, char **ret_error) {
        _cleanup_(knob_done) Knob k = {};
        _cleanup_free_ char *obtained = NULL;
        int r;

        if (!row->written)
                return forget(j, row); /* only ever a dry-run intent */
        if (j->dry_run) {
                report(j, LOG_INFO, row->name, NULL, "Dry run: knob %s would be restored to %s.", row->name,
                       row->original);
                return 0;
        }
        if (!force && row_state(row) == KNOB_STATE_OVERRIDDEN) {
                report(j, LOG_NOTICE, row->name, "knob-released",
                       "Knob %s was changed by someone else; leaving their value and forgetting it.", row->name);
                return forget(j, row);
        }
        r = knobs_from_path(row->name, row->path, &k);
        if (r < 0)
                return fail(ret_error, r, "Journal record %s cannot be restored: %m", row->name);
        r = knobs_write(&k, row->original, &obtained);
        if (r == -ENOENT) { /* the device or node went away, and its knob with it */
                report(j, LOG_NOTICE, row->name, "knob-released", "Knob %s is gone (%s), forgetting it.", row->name,
                       row->path);
                return forget(j, row);
        }
        if (r < 0) {
                j->write_failures_total++;
                if (row_set_state(row, KNOB_STATE_FAILED, NULL) >= 0)
                        (void) store_knob_put(j->store, row);
                if (r == -ENOSPC)
                        return fail(ret_error, r, "Restoring %s to %s left %s", row->name, row->original, obtained);
                return fail(ret_error, r, "Restoring %s to %s failed: %m", row->name, row->original);
        }
        j->writes_total++;
        r = forget(j, row);
        if (r < 0)
                return fail(ret_error, r, "Restored %s but failed to update the journal: %m", row->name);
        report(j, LOG_INFO, row->name, "knob-restored", "Knob %s restored to %s by %s.", row->name, row->original, by);
        return 1;
}

int journal_restore(Journal *j, const char *name, bool force, char **ret_error) {
        _cleanup_(store_knob_done) StoreKnob row = {};
        int r;

        *ret_error = NULL;
        r = store_knob_get(j->store, name, &row);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return fail(ret_error, r, "Failed to read the journal record of %s: %m", name);
        r = restore_row(j, &row, force, "request", ret_error);
        return r < 0 ? r : 0;
}

int journal_restore_all(Journal *j, bool force, char **ret_error) {
        StoreKnob *rows = NULL;
        size_t n = 0;
        int r, first = 0, done = 0;

        *ret_error = NULL;
        r = store_knob_list(j->store, &rows, &n);
        if (r < 0)
                return fail(ret_error, r, "Failed to read the knob journal: %m");
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *error = NULL;

                r = restore_row(j, &rows[i], force, "restore-all", &error);
                if (r >= 0) {
                        done++;
                        continue;
                }
                log_warning("Failed to restore knob %s: %s", rows[i].name, error ?: "out of memory");
                if (first == 0) {
                        first = r;
                        *ret_error = TAKE_PTR(error);
                }
        }
        store_knobs_free(rows, n);
        return first < 0 ? first : done;
}

/* ---- reconcile, drift ---- */

/* What a record's knob holds now, in words for the report. */
static const char *reconcile_finding(const Knob *k, const StoreKnob *row, const char *live) {
        if (!live)
                return "cannot be read";
        if (row->applied && knobs_value_equal(k->def, live, row->applied))
                return "holds the value maiod wrote";
        if (knobs_value_equal(k->def, live, row->original))
                return "holds its original value";
        if (row->desired && knobs_value_equal(k->def, live, row->desired))
                return "holds the desired value (its write was not recorded)";
        return "holds a value set by someone else";
}

static int reconcile_row(Journal *j, StoreKnob *row) {
        _cleanup_(knob_done) Knob k = {};
        _cleanup_free_ char *live = NULL, *error = NULL;
        bool reapply = j->conf.reconcile == KNOBS_RECONCILE_REAPPLY;
        int r;

        r = knobs_from_path(row->name, row->path, &k);
        if (r < 0)
                return log_warning_errno(r, "Journal record %s is not a knob this maiod knows, ignoring: %m",
                                         row->name);
        (void) knobs_read(&k, &live);
        report(j, LOG_NOTICE, row->name, "knob-reconcile",
               "After an unclean stop knob %s %s (now %s, original %s, desired %s, state %s); %s.", row->name,
               reconcile_finding(&k, row, live), live ?: "-", row->original, row->desired ?: "-", row->state,
               !row->written             ? "forgetting the dry-run record"
               : reapply && row->desired ? "reapplying"
                                         : "restoring");
        if (!row->written)
                return forget(j, row);
        if (reapply && row->desired)
                r = journal_apply(j, &k, row->desired, "reconcile", &error);
        else
                r = restore_row(j, row, true, "reconcile", &error);
        if (r < 0)
                log_warning("Reconciling knob %s failed: %s", row->name, error ?: "out of memory");
        return r;
}

int journal_reconcile(Journal *j) {
        StoreKnob *rows = NULL;
        size_t n = 0;
        int r, first = 0;

        r = store_knob_list(j->store, &rows, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                r = reconcile_row(j, &rows[i]);
                if (r < 0 && first == 0)
                        first = r;
        }
        store_knobs_free(rows, n);
        return first < 0 ? first : (int) n;
}

/* Returns 1 when the row's knob was found overridden just now, else 0 or -errno. */
static int drift_row(Journal *j, StoreKnob *row) {
        _cleanup_(knob_done) Knob k = {};
        _cleanup_free_ char *live = NULL, *error = NULL;
        KnobState s = row_state(row);
        bool fresh;
        int r;

        if (!row->applied || !row->written || s == KNOB_STATE_PENDING || s == KNOB_STATE_DRY_RUN)
                return 0;
        r = knobs_from_path(row->name, row->path, &k);
        if (r >= 0)
                r = knobs_read(&k, &live);
        if (r < 0) { /* gone or unreadable: nothing to compare, and nothing to fight over */
                log_debug_errno(r, "Drift check of %s: %m", row->name);
                return 0;
        }
        if (knobs_value_equal(k.def, live, row->applied)) {
                if (s != KNOB_STATE_OVERRIDDEN)
                        return 0;
                row->overridden_logged = false;
                report(j, LOG_INFO, row->name, NULL, "Knob %s holds maiod's value %s again.", row->name, live);
                return row_set_state(row, KNOB_STATE_APPLIED, NULL) < 0 ? -ENOMEM : store_knob_put(j->store, row);
        }
        fresh = !row->overridden_logged;
        if (fresh) {
                j->overrides_total++;
                report(j, LOG_NOTICE, row->name, "knob-overridden",
                       "Knob %s was changed by someone else: maiod wrote %s, it now holds %s; %s.", row->name,
                       row->applied, live, j->conf.enforce ? "enforcing maiod's value" : "leaving it alone");
        }
        row->overridden_logged = true;
        r = row_set_state(row, KNOB_STATE_OVERRIDDEN, NULL) < 0 ? -ENOMEM : store_knob_put(j->store, row);
        if (r >= 0 && j->conf.enforce && row->desired) {
                r = journal_apply(j, &k, row->desired, "enforce", &error);
                if (r < 0)
                        log_warning("Enforcing knob %s failed: %s", row->name, error ?: "out of memory");
        }
        return r < 0 ? r : fresh;
}

int journal_check_drift(Journal *j) {
        uint64_t start = now_usec(CLOCK_MONOTONIC);
        StoreKnob *rows = NULL;
        size_t n = 0;
        int r, found = 0;

        r = store_knob_list(j->store, &rows, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                r = drift_row(j, &rows[i]);
                if (r > 0)
                        found++;
                else if (r < 0)
                        log_warning_errno(r, "Drift check of knob %s failed, ignoring: %m", rows[i].name);
        }
        store_knobs_free(rows, n);
        if (found > 0)
                event_sink_emit(j->sched, SCHED_EVENT_DRIFT, 0, SCHED_PRIORITY_HOST, start);
        return found;
}

void journal_set_event_sink(Journal *j, const EventSink *sink) {
        j->sched = sink;
}

/* ---- start and stop ---- */

static int journal_lock(Journal *j) {
        _cleanup_free_ char *path = NULL;
        int fd;

        if (asprintf(&path, "%s/%s", j->state_dir, LOCK_FILENAME) < 0)
                return log_oom();
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
        if (fd < 0)
                return log_error_errno(errno, "Failed to open %s: %m", path);
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                int r = -errno;

                safe_close(fd);
                if (r == -EWOULDBLOCK)
                        return log_error_errno(EBUSY, "Another maiod is using the state directory %s.", j->state_dir);
                return log_error_errno(r, "Failed to lock %s: %m", path);
        }
        safe_close(j->lock_fd);
        j->lock_fd = fd;
        return 0;
}

/* After a reboot the kernel has its boot values again: records describe a
 * kernel that is gone. Reapply mode writes the desired values over fresh
 * originals; otherwise the records are forgotten. */
static int journal_after_reboot(Journal *j) {
        bool reapply = j->conf.reconcile == KNOBS_RECONCILE_REAPPLY;
        StoreKnob *rows = NULL;
        size_t n = 0;
        int r;

        r = store_knob_list(j->store, &rows, &n);
        if (r < 0)
                return r;
        if (n > 0)
                log_notice("The host rebooted since the knob journal was written; %s %zu record(s).",
                           reapply ? "reapplying" : "forgetting", n);
        for (size_t i = 0; i < n && r >= 0; i++) {
                _cleanup_free_ char *error = NULL;

                r = forget(j, &rows[i]);
                if (r >= 0 && reapply && rows[i].desired && rows[i].written &&
                    journal_set(j, rows[i].name, rows[i].desired, "reconcile", &error) < 0)
                        log_warning("Reapplying knob %s failed: %s", rows[i].name, error ?: "out of memory");
        }
        store_knobs_free(rows, n);
        return r;
}

/* Returns 1 if the boot id differs from the recorded one, else 0 (or when the
 * root has none, e.g. a fixture). Records the current one. */
static int journal_boot_check(Journal *j) {
        _cleanup_free_ char *path = NULL, *old = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        char id[64] = "";
        int r;

        r = detect_root_path(j->root, "proc/sys/kernel/random/boot_id", &path);
        if (r < 0)
                return r;
        f = fopen(path, "re");
        if (!f || !fgets(id, sizeof id, f) || !id[0])
                return 0;
        id[strcspn(id, "\n")] = '\0';
        r = store_state_get(j->store, STATE_BOOT_ID, &old);
        if (r < 0 && r != -ENOENT)
                return r;
        r = r >= 0 && strcmp(old, id) != 0;
        if (store_state_set(j->store, STATE_BOOT_ID, id) < 0)
                log_warning("Failed to record the boot id, ignoring.");
        return r;
}

static int on_drift_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Journal *j = userdata;
        int r;

        r = journal_check_drift(j);
        if (r < 0)
                log_warning_errno(r, "Knob drift check failed, ignoring: %m");
        (void) sd_event_source_set_time_relative(s, (uint64_t) j->conf.drift_check_s * 1000000);
        return 0;
}

static int journal_arm_drift(Journal *j) {
        int r;

        if (!j->event || j->drift_timer)
                return 0;
        r = sd_event_add_time_relative(j->event, &j->drift_timer, CLOCK_MONOTONIC,
                                       (uint64_t) j->conf.drift_check_s * 1000000, 100000, on_drift_timer, j);
        if (r < 0)
                return log_error_errno(r, "Failed to add the knob drift timer: %m");
        (void) sd_event_source_set_description(j->drift_timer, "knob-drift");
        return sd_event_source_set_enabled(j->drift_timer, SD_EVENT_ON);
}

int journal_start(Journal *j) {
        _cleanup_free_ char *marker = NULL;
        int r, rebooted;

        r = journal_lock(j);
        if (r < 0)
                return r;
        rebooted = journal_boot_check(j);
        if (rebooted < 0)
                return log_error_errno(rebooted, "Failed to compare the boot id: %m");
        if (rebooted > 0) {
                r = journal_after_reboot(j);
                if (r < 0)
                        return log_error_errno(r, "Failed to update the knob journal after a reboot: %m");
                j->rebooted = true;
        }

        r = store_state_get(j->store, STATE_CLEAN_STOP, &marker);
        if (r < 0 && r != -ENOENT)
                return log_error_errno(r, "Failed to read the clean-stop marker: %m");
        if (r >= 0 && strcmp(marker, "yes") != 0 && rebooted == 0) {
                j->unclean_start = true;
                log_warning(
                        "maiod did not stop cleanly last time; reconciling the knob journal ([knobs] reconcile = %s).",
                        j->conf.reconcile == KNOBS_RECONCILE_REAPPLY ? "reapply" : "restore");
                r = journal_reconcile(j);
                if (r < 0)
                        log_warning_errno(r, "Some knobs could not be reconciled, continuing: %m");
        }
        /* From here until journal_stop() a crash leaves "no" behind. */
        r = store_state_set(j->store, STATE_CLEAN_STOP, "no");
        if (r < 0)
                return log_error_errno(r, "Failed to write the clean-stop marker: %m");
        return journal_arm_drift(j);
}

int journal_stop(Journal *j) {
        _cleanup_free_ char *error = NULL;
        int r = 0, n;

        j->drift_timer = sd_event_source_disable_unref(j->drift_timer);
        if (j->conf.restore_on_exit) {
                r = journal_restore_all(j, false, &error);
                if (r < 0)
                        log_error("Failed to restore every knob at exit (the journal keeps the rest): %s",
                                  error ?: "out of memory");
                else if (r > 0)
                        log_info("Restored %d knob(s) at exit.", r);
        } else if ((n = store_knob_count(j->store)) > 0)
                log_info("Leaving %d knob(s) at maiod's values ([knobs] restore_on_exit = no).", n);
        if (r < 0)
                return r;
        r = store_state_set(j->store, STATE_CLEAN_STOP, "yes");
        if (r < 0)
                return log_error_errno(r, "Failed to write the clean-stop marker: %m");
        return 0;
}

/* ---- conflicting tuners ---- */

static const struct {
        const char *comm;
        const char *affects;
} tuners[] = {
        { "irqbalance", "IRQ affinity, which RPS CPU masks and threaded NAPI pinning depend on" },
        { "tuned", "sysctl and sysfs settings from its profiles" },
        { "numad", "NUMA placement and page migration, which tiering and hugepage reserves depend on" },
};

static json_object *conflict_new(const char *kind, const char *name, int pid, unsigned count, const char *affects) {
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        json_object_object_add(o, "kind", json_object_new_string(kind));
        json_object_object_add(o, "name", json_object_new_string(name));
        json_object_object_add(o, "pid", pid > 0 ? json_object_new_int(pid) : NULL);
        json_object_object_add(o, "count", json_object_new_int((int) count));
        json_object_object_add(o, "affects", json_object_new_string(affects));
        return o;
}

static void conflicts_scan_proc(Journal *j, json_object *arr) {
        _cleanup_free_ char *proc = NULL;
        DIR *d;

        if (detect_root_path(j->root, "proc", &proc) < 0 || !(d = opendir(proc)))
                return;
        for (struct dirent *de; (de = readdir(d));) {
                _cleanup_free_ char *path = NULL;
                _cleanup_fclose_ FILE *f = NULL;
                char comm[32] = "";

                if (de->d_name[strspn(de->d_name, "0123456789")] != '\0' ||
                    asprintf(&path, "%s/%s/comm", proc, de->d_name) < 0)
                        continue;
                f = fopen(path, "re");
                if (!f || !fgets(comm, sizeof comm, f))
                        continue;
                comm[strcspn(comm, "\n")] = '\0';
                for (size_t i = 0; i < ELEMENTSOF(tuners); i++)
                        if (strcmp(comm, tuners[i].comm) == 0)
                                json_object_array_add(arr, conflict_new("process", comm, atoi(de->d_name), 1,
                                                                        tuners[i].affects));
        }
        closedir(d);
}

json_object *journal_conflicts_to_json(Journal *j) {
        json_object *arr = json_object_new_array();

        if (!arr)
                return NULL;
        conflicts_scan_proc(j, arr);
        if (j->features && j->features->damon_kdamonds_foreign > 0)
                json_object_array_add(arr, conflict_new("damon", "kdamond", 0, j->features->damon_kdamonds_foreign,
                                                        "page migration by DAMON schemes maiod did not create"));
        if (j->conflicts_fn)
                j->conflicts_fn(j->conflicts_userdata, arr);
        return arr;
}

void journal_set_conflicts_fn(Journal *j, JournalConflictsFn fn, void *userdata) {
        j->conflicts_fn = fn;
        j->conflicts_userdata = userdata;
}

json_object *journal_conflict_new(const char *kind, const char *name, const char *affects) {
        return conflict_new(kind, name, 0, 1, affects);
}

/* ---- owned kernel state other than knobs ---- */

#define OWNED_PREFIX "owned/"

static int owned_key(const char *kind, const char *name, char **ret) {
        if (!kind || !name || !kind[0] || strchr(kind, '/'))
                return -EINVAL;
        return asprintf(ret, OWNED_PREFIX "%s/%s", kind, name) < 0 ? -ENOMEM : 0;
}

int journal_own(Journal *j, const char *kind, const char *name, const char *data) {
        _cleanup_free_ char *key = NULL;
        int r;

        r = owned_key(kind, name, &key);
        if (r < 0)
                return r;
        r = store_state_set(j->store, key, data ?: "");
        if (r < 0)
                return log_error_errno(r, "Failed to record %s %s in the journal: %m", kind, name);
        log_debug("Journal: owning %s %s (%s).", kind, name, data ?: "");
        return 0;
}

int journal_disown(Journal *j, const char *kind, const char *name) {
        _cleanup_free_ char *key = NULL;
        int r;

        r = owned_key(kind, name, &key);
        if (r < 0)
                return r;
        r = store_state_remove(j->store, key);
        if (r < 0 && r != -ENOENT)
                return log_error_errno(r, "Failed to forget %s %s in the journal: %m", kind, name);
        return 0;
}

int journal_owned_list(Journal *j, const char *kind, char ***ret_names, char ***ret_data, size_t *ret_n) {
        _cleanup_free_ char *prefix = NULL;
        char **keys = NULL;
        size_t n = 0, skip;
        int r;

        if (asprintf(&prefix, OWNED_PREFIX "%s/", kind) < 0)
                return -ENOMEM;
        r = store_state_list(j->store, prefix, &keys, ret_data, &n);
        if (r < 0)
                return r;
        skip = strlen(prefix);
        for (size_t i = 0; i < n; i++)
                memmove(keys[i], keys[i] + skip, strlen(keys[i] + skip) + 1);
        *ret_names = keys;
        *ret_n = n;
        return 0;
}

bool journal_unclean_start(const Journal *j) {
        return j->unclean_start;
}

bool journal_rebooted(const Journal *j) {
        return j->rebooted;
}

/* ---- the API ---- */

static json_object *json_str_or_null(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

static json_object *knob_to_json(const KnobDef *def, const char *name, const char *path, const StoreKnob *row,
                                 const char *live, bool available) {
        json_object *o = json_object_new_object();
        char allowed[160];

        if (!o)
                return NULL;
        json_object_object_add(o, "name", json_object_new_string(name));
        json_object_object_add(o, "scope", def ? json_str_or_null(knob_scope_to_string(def->scope)) : NULL);
        json_object_object_add(o, "type", def ? json_str_or_null(knob_type_to_string(def->type)) : NULL);
        json_object_object_add(o, "addressing",
                               def ? json_str_or_null(knob_addressing_to_string(def->addressing)) : NULL);
        json_object_object_add(o, "allowed",
                               def ? json_object_new_string(knobs_describe_allowed(def, allowed, sizeof allowed))
                                   : NULL);
        json_object_object_add(o, "requires", def ? json_str_or_null(knob_need_to_string(def->need)) : NULL);
        json_object_object_add(o, "doc", def ? json_object_new_string(def->doc) : NULL);
        json_object_object_add(o, "path", json_object_new_string(path));
        json_object_object_add(o, "available", json_object_new_boolean(available));
        json_object_object_add(o, "live", json_str_or_null(live));
        json_object_object_add(o, "state", json_object_new_string(row ? row->state : "untouched"));
        json_object_object_add(o, "original", json_str_or_null(row ? row->original : NULL));
        json_object_object_add(o, "desired", json_str_or_null(row ? row->desired : NULL));
        json_object_object_add(o, "applied", json_str_or_null(row ? row->applied : NULL));
        json_object_object_add(o, "changed", row ? json_time_new(row->changed_usec) : NULL);
        json_object_object_add(o, "changed_by", json_str_or_null(row ? row->changed_by : NULL));
        return o;
}

/* The knob's object after a drift check of its record (so every read compares). */
static int knob_json(Journal *j, const Knob *k, json_object **ret) {
        _cleanup_(store_knob_done) StoreKnob row = {};
        _cleanup_free_ char *live = NULL;
        int r, rl;

        r = store_knob_get(j->store, k->name, &row);
        if (r >= 0) {
                (void) drift_row(j, &row);
                store_knob_done(&row);
                r = store_knob_get(j->store, k->name, &row);
        }
        if (r < 0 && r != -ENOENT)
                return r;
        rl = knobs_read(k, &live);
        *ret = knob_to_json(k->def, k->name, k->path, r >= 0 ? &row : NULL, live, rl != -ENOENT);
        return *ret ? 0 : -ENOMEM;
}

/* The request's {name} as a knob: 404 unknown, 400 bad or naming a missing
 * object. A knob with a record whose device has gone keeps its recorded path. */
static int op_resolve(Journal *j, const Request *req, Reply *reply, Knob *ret) {
        _cleanup_(store_knob_done) StoreKnob row = {};
        int r = knobs_resolve(j->root, req->name, ret);

        if (r == -ENODEV && store_knob_get(j->store, req->name, &row) >= 0)
                r = knobs_from_path(row.name, row.path, ret);
        switch (r) {
        case 0:
                return 0;
        case -ENOENT:
                return reply_error(reply, REPLY_NOT_FOUND, "Unknown knob '%s'; GET /v1/knobs lists them", req->name);
        case -EINVAL:
                return reply_error(reply, REPLY_BAD_REQUEST,
                                   "Invalid knob name '%s': dot-separated components of A-Z a-z 0-9 _ -", req->name);
        case -ENODEV:
                return reply_error(reply, REPLY_BAD_REQUEST,
                                   "Knob '%s' names a node, network device or queue that does not exist", req->name);
        default:
                return reply_errno(reply, r, "Failed to resolve knob '%s': %m", req->name);
        }
}

/* The journal's messages with the code each errno stands for here; the reply keeps r itself. */
static int op_error(Reply *reply, int r, const char *message) {
        static const struct {
                int error;
                ReplyError code;
        } map[] = {
                { -ENOENT, REPLY_NOT_FOUND },
                { -EOPNOTSUPP, REPLY_NOT_FOUND },
                { -EINVAL, REPLY_INVALID_VALUE },
                { -ENODEV, REPLY_BAD_REQUEST },
                { -EACCES, REPLY_FORBIDDEN },
                { -EBUSY, REPLY_UNAVAILABLE },
                { -ENOSPC, REPLY_INSUFFICIENT_STORAGE },
        };
        ReplyError code = REPLY_INTERNAL;

        if (!message)
                return reply_errno(reply, r, NULL);
        for (size_t i = 0; i < ELEMENTSOF(map); i++)
                if (map[i].error == r)
                        code = map[i].code;
        (void) reply_error(reply, code, "%s", message);
        reply->error = r;
        return r;
}

int journal_op_get(void *userdata, const Request *req, Reply *reply) {
        Journal *j = userdata;
        _cleanup_(knob_done) Knob k = {};
        json_object *o;
        int r;

        r = op_resolve(j, req, reply, &k);
        if (r < 0)
                return r;
        r = knob_json(j, &k, &o);
        return r < 0 ? r : reply_json(reply, 200, o);
}

static int list_add_records(json_object *arr, const StoreKnob *rows, size_t n, const bool *listed) {
        for (size_t i = 0; i < n; i++) {
                _cleanup_(knob_done) Knob k = {};
                _cleanup_free_ char *live = NULL;
                int rl = -ENOENT;

                if (listed[i])
                        continue;
                if (knobs_from_path(rows[i].name, rows[i].path, &k) >= 0)
                        rl = knobs_read(&k, &live);
                if (json_object_array_add(arr, knob_to_json(k.def, rows[i].name, rows[i].path, &rows[i], live,
                                                            rl != -ENOENT)) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int list_build(Journal *j, const Knob *ks, size_t n, const StoreKnob *rows, size_t n_rows, json_object *arr) {
        _cleanup_free_ bool *listed = calloc(n_rows + 1, sizeof(bool));

        if (!listed)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *live = NULL;
                const StoreKnob *row = NULL;
                int rl = knobs_read(&ks[i], &live);

                for (size_t x = 0; x < n_rows && !row; x++)
                        if (strcmp(rows[x].name, ks[i].name) == 0) {
                                row = &rows[x];
                                listed[x] = true;
                        }
                if (json_object_array_add(arr, knob_to_json(ks[i].def, ks[i].name, ks[i].path, row, live,
                                                            rl != -ENOENT)) < 0)
                        return -ENOMEM;
        }
        return list_add_records(arr, rows, n_rows, listed);
}

int journal_op_list(void *userdata, const Request *req, Reply *reply) {
        Journal *j = userdata;
        _cleanup_(json_object_putp) json_object *arr = NULL;
        StoreKnob *rows = NULL;
        Knob *ks = NULL;
        size_t n = 0, n_rows = 0;
        json_object *o;
        int r;

        r = journal_check_drift(j);
        if (r < 0)
                log_warning_errno(r, "Knob drift check failed, ignoring: %m");
        r = knobs_enumerate(j->root, &ks, &n);
        if (r >= 0)
                r = store_knob_list(j->store, &rows, &n_rows);
        arr = json_object_new_array();
        if (r >= 0 && !arr)
                r = -ENOMEM;
        if (r >= 0)
                r = list_build(j, ks, n, rows, n_rows, arr);
        knobs_free(ks, n);
        store_knobs_free(rows, n_rows);
        if (r < 0)
                return r;
        o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        json_object_object_add(o, "knobs", TAKE_PTR(arr));
        return reply_json(reply, 200, o);
}

static const Field set_fields[] = {
        { "value", FIELD_SCALAR, true, .id = 1 },
};
const FieldSet journal_set_body = { set_fields, ELEMENTSOF(set_fields) };

/* The body's "value": a string, or an integer sent as a JSON number. */
static const char *op_body_value(const Request *req, char *buf, size_t size) {
        const Param *v = request_param(req, 0);

        if (v->s)
                return v->s;
        snprintf(buf, size, "%" PRId64, v->i);
        return buf;
}

static void op_by(const Identity *who, char *buf, size_t size) {
        if (who->kind == IDENTITY_PEER)
                snprintf(buf, size, "uid %u (pid %d)", (unsigned) who->uid, (int) who->pid);
        else
                snprintf(buf, size, "tenant %" PRId64, who->tenant_id);
}

int journal_op_set(void *userdata, const Request *req, Reply *reply) {
        Journal *j = userdata;
        _cleanup_(knob_done) Knob k = {};
        _cleanup_free_ char *error = NULL;
        char number[32], by[64];
        const char *value = NULL;
        json_object *o;
        int r;

        value = op_body_value(req, number, sizeof number);
        r = op_resolve(j, req, reply, &k);
        if (r < 0)
                return r;
        op_by(req->who, by, sizeof by);
        r = journal_set(j, req->name, value, by, &error);
        if (r < 0)
                return op_error(reply, r, error);
        r = knob_json(j, &k, &o);
        return r < 0 ? r : reply_json(reply, 200, o);
}

int journal_op_restore(void *userdata, const Request *req, Reply *reply) {
        Journal *j = userdata;
        _cleanup_(knob_done) Knob k = {};
        _cleanup_free_ char *error = NULL;
        json_object *o;
        int r;

        r = op_resolve(j, req, reply, &k);
        if (r < 0)
                return r;
        r = journal_restore(j, req->name, true, &error);
        if (r < 0)
                return op_error(reply, r, error);
        r = knob_json(j, &k, &o);
        return r < 0 ? r : reply_json(reply, 200, o);
}

int journal_op_restore_all(void *userdata, const Request *req, Reply *reply) {
        Journal *j = userdata;
        _cleanup_free_ char *error = NULL;
        json_object *o;
        int r;

        r = journal_restore_all(j, true, &error);
        if (r < 0)
                return op_error(reply, r, error);
        o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        json_object_object_add(o, "restored", json_object_new_int(r));
        json_object_object_add(o, "remaining", json_object_new_int(store_knob_count(j->store)));
        return reply_json(reply, 200, o);
}
