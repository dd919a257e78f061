/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The knob journal: the only writer of kernel knobs in maiod. It commits a
 * knob's original value before the first write, records what the kernel kept,
 * restores on stop, reconciles after a crash, and notices values changed by
 * someone else. Also the /v1/knobs operations and the conflicting-tuner scan. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include <stdio.h>

#include <systemd/sd-event.h>

#include "detect.h"
#include "request.h"
#include "sched-event.h"
#include "store.h"

typedef struct Journal Journal;

/* What [knobs] says (re-read on reload). */
typedef struct JournalConf {
        bool restore_on_exit;
        int reconcile; /* KNOBS_RECONCILE_* */
        bool enforce;
        unsigned drift_check_s;
} JournalConf;

/* States of a journal record, as stored and shown by the API. */
typedef enum KnobState {
        KNOB_STATE_UNTOUCHED,  /* no record: maiod never changed it (API only) */
        KNOB_STATE_PENDING,    /* original committed, the write in flight or cut short by a crash */
        KNOB_STATE_APPLIED,    /* maiod's value is live */
        KNOB_STATE_PARTIAL,    /* the kernel kept another value than asked (applied holds it) */
        KNOB_STATE_OVERRIDDEN, /* someone else changed it after maiod wrote it */
        KNOB_STATE_DRY_RUN,    /* --dry-run: the write was recorded, not performed */
        KNOB_STATE_FAILED,     /* the last write (or restore) failed */
        _KNOB_STATE_MAX,
} KnobState;

/* The stored and shown word ("applied", "dry-run", ...), NULL outside the enum. */
const char *knob_state_to_string(KnobState s);
/* Returns the state, or -EINVAL for an unknown word. */
int knob_state_from_string(const char *s);

/* Test hook: runs after a knob's record is committed and right before the
 * kernel file is written, so a test can prove that order (e.g. by exiting). */
typedef void (*JournalHook)(Journal *j, const char *name, void *userdata);

/* Builds the journal over store (borrowed), writing knobs below root, locking state_dir, with
 * its drift timer on event (NULL: no timer). Returns 0 or -ENOMEM. */
int journal_new(Store *store, const char *root, const char *state_dir, bool dry_run, const JournalConf *conf,
                sd_event *event, Journal **ret);
/* Frees j (NULL is fine), closing its lock and drift timer. Returns NULL. */
Journal *journal_free(Journal *j);
static inline void journal_freep(Journal **j) {
        journal_free(*j);
}
void journal_set_conf(Journal *j, const JournalConf *conf);
/* The detected features (borrowed until journal_free(), NULL: none), whose count of kdamonds
 * someone else runs goes into the conflicts report as it is when the report is made: the tiering
 * applier marks maiod's own kdamond after detection. */
void journal_set_features(Journal *j, const Features *features);
/* Installs the test hook. */
void journal_set_hook(Journal *j, JournalHook hook, void *userdata);
/* The journal's counters since journal_new(), as /metrics shows them. */
typedef struct JournalCounters {
        uint64_t writes_total;         /* kernel knob writes (and restores) that took, partial ones included */
        uint64_t write_failures_total; /* kernel knob writes (and restores) that failed */
        uint64_t overrides_total;      /* times a knob maiod wrote was found changed by someone else */
} JournalCounters;

/* Fills *ret with j's counters. Never fails. */
void journal_counters(const Journal *j, JournalCounters *ret);
/* maiod_knobs_owned and the write, failure and override counters (a MetricsWriteFn). */
void journal_metrics_write(void *userdata, FILE *f);

/* At start, after the store is open: takes STATE_DIR/maiod.lock (-EBUSY when
 * another maiod holds it); if the host rebooted since the records were written
 * (boot id changed) forgets them, or with [knobs] reconcile = reapply writes the
 * desired values again over fresh originals; else if the last stop was not
 * clean reconciles (journal_reconcile()); then marks the run unclean until
 * journal_stop() and arms the drift timer (needs m->event). Returns 0 or -errno
 * (logged). */
int journal_start(Journal *j);

/* At a clean stop: with [knobs] restore_on_exit restores every record not
 * overridden by someone else (those are forgotten, as they are no longer
 * maiod's), then marks the stop clean if nothing failed. Returns 0 or the
 * first -errno (logged). */
int journal_stop(Journal *j);

/* Validates value for the knob name and sets it: the original is committed
 * before the first write, the applied value after it; in a dry run only the
 * intent is recorded. by names the requester for the record and the event.
 * Returns 0; or -errno with a malloc'd human message in *ret_error (NULL only
 * on -ENOMEM): -ENOENT unknown knob, -EINVAL bad name, invalid value or a value
 * the kernel rejected, -ENODEV missing node/netdev/queue, -EOPNOTSUPP knob file
 * absent on this host, -EACCES not writable by maiod (read-only, sandboxed, no
 * capability), -EBUSY still busy after retries, -ENOSPC the kernel kept another
 * value (recorded as partial; the message says what it kept). */
int journal_set(Journal *j, const char *name, const char *value, const char *by, char **ret_error);

/* Writes back the original of one record and forgets it. With force unset a
 * knob someone else changed is left as it is (and forgotten). A knob maiod
 * never wrote (dry-run intents) is forgotten without a write; in a dry run
 * nothing is written or forgotten. A knob without a record is a no-op.
 * Returns 0 or -errno with *ret_error as for journal_set(). */
int journal_restore(Journal *j, const char *name, bool force, char **ret_error);

/* journal_restore() for every record; continues past failures. Returns the
 * number restored or forgotten (>= 0) when all succeeded, else the first
 * -errno with *ret_error describing it. */
int journal_restore_all(Journal *j, bool force, char **ret_error);

/* After an unclean stop: reports (log and event) what each record's knob holds
 * now compared with its original, desired and applied values, then restores
 * it or writes the desired value again per [knobs] reconcile. Returns the
 * number of records handled or the first -errno; continues past failures. */
int journal_reconcile(Journal *j);

/* Compares every written knob with the value maiod wrote: a difference marks
 * it overridden (logged and counted once), and with [knobs] enforce it is
 * written again. Returns the number of knobs found overridden, or -errno. */
int journal_check_drift(Journal *j);
/* Where a drift check that found knobs overridden is announced (SCHED_EVENT_DRIFT); sink is
 * borrowed (NULL: nobody listens). */
void journal_set_event_sink(Journal *j, const EventSink *sink);

/* Tuners that fight over the same knobs: irqbalance, tuned and numad
 * processes (ROOT/proc/PID/comm) and DAMON kdamonds maiod did not start.
 * Returns a new array (possibly empty) or NULL on OOM. */
json_object *journal_conflicts_to_json(Journal *j);
/* A module's own conflicts, appended to that array by fn (one module: the last call wins). */
typedef void (*JournalConflictsFn)(void *userdata, json_object *array);
void journal_set_conflicts_fn(Journal *j, JournalConflictsFn fn, void *userdata);
/* One conflict object {"kind", "name", "pid": null, "count": 1, "affects"} for such a fn. */
json_object *journal_conflict_new(const char *kind, const char *name, const char *affects);

/* Owned kernel state other than knobs: an XDP attachment, a bpffs mount, pinned maps. The owner
 * module records (kind, name) with a data text saying how to undo it, committed durably BEFORE it
 * changes the kernel, and forgets it after undoing it; after an unclean stop it finds the records
 * with journal_owned_list() and reconciles (detaches or adopts, and says which). Kinds have no '/'.
 * Each returns 0 or -errno (logged); disowning a missing record is 0. */
int journal_own(Journal *j, const char *kind, const char *name, const char *data);
int journal_disown(Journal *j, const char *kind, const char *name);
/* The records of kind in name order: two arrays of *ret_n malloc'd strings (store_strv_free()). */
int journal_owned_list(Journal *j, const char *kind, char ***ret_names, char ***ret_data, size_t *ret_n);
/* Whether journal_start() found the last stop unclean (same boot), or a reboot since the records. */
bool journal_unclean_start(const Journal *j);
bool journal_rebooted(const Journal *j);

/* GET /v1/knobs, GET/PUT/DELETE /v1/knobs/{name}, POST /v1/knobs/restore; userdata is the Journal. */
extern const FieldSet journal_set_body;
int journal_op_list(void *userdata, const Request *req, Reply *reply);
int journal_op_get(void *userdata, const Request *req, Reply *reply);
int journal_op_set(void *userdata, const Request *req, Reply *reply);
int journal_op_restore(void *userdata, const Request *req, Reply *reply);
int journal_op_restore_all(void *userdata, const Request *req, Reply *reply);
