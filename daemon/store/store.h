/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Durable state in SQLite (WAL, synchronous=FULL): schema versions with forward
 * migrations, tenants, hashed access tokens, the event log and the knob
 * journal. Every function that returns success has committed its write. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* The database file inside the state directory (plus its -wal and -shm companions). */
#define STORE_DB_FILENAME "maiod.db"

typedef struct Store Store;

#define TENANT_ADDRESSES_MAX 16 /* declared addresses per tenant */

typedef struct Tenant {
        int64_t id;             /* assigned by the store, > 0 */
        char *name;             /* unique */
        int priority;           /* 0 (highest) .. 7 (lowest) */
        char *workload_class;   /* "batch" | "serving" */
        uid_t uid;              /* owner: the uid that registered it */
        pid_t pid;              /* 0 = none */
        uint64_t pid_starttime; /* /proc/PID/stat field 22, guards against pid reuse; 0 = none */
        char *cgroup;           /* NULL = none */
        int64_t created_usec;   /* CLOCK_REALTIME */
        char *addresses;        /* declared IPv4/IPv6 addresses, one blank between; NULL = none declared */
} Tenant;

typedef struct StoreEvent {
        int64_t id;
        int64_t time_usec; /* CLOCK_REALTIME */
        int64_t tenant_id; /* 0 = not about a tenant */
        char *kind;        /* short machine word: "tenant-added", "pid-exit", ... */
        char *message;     /* human text */
} StoreEvent;

/* Opens (creating if needed, mode 0600) DIR/maiod.db, sets WAL and
 * synchronous=FULL and applies pending migrations, each in its own
 * transaction. DIR must exist. Returns 0, -EPROTO when the database has a
 * newer schema than this build knows (never downgraded; the file is not
 * written), -ELOOP when the file is a symlink, -EOPNOTSUPP when WAL or foreign
 * keys are unavailable, -EBADMSG for a corrupt database, or -errno. */
int store_open(const char *dir, Store **ret);
Store *store_free(Store *s);
static inline void store_freep(Store **s) {
        store_free(*s);
}

/* Schema version after migration (>= 1). */
int store_schema_version(Store *s);
/* Number of migrations this build knows (the newest version). */
int store_schema_latest(void);

/* Inserts t (id ignored; created_usec <= 0 means now) together with the hash
 * of its token, in one transaction: both or neither. Returns 0 and sets
 * *ret_id (may be NULL), -EEXIST when the name (or token hash) is taken,
 * -EINVAL for a missing name/class/hash or a priority outside 0..7, -EBUSY
 * when another writer held the database for over a second, or -errno. */
int store_tenant_add(Store *s, const Tenant *t, const char *token_hash, int64_t *ret_id);
/* Loads one tenant into *ret (caller frees with tenant_done). -ENOENT if absent. */
int store_tenant_get(Store *s, int64_t id, Tenant *ret);
/* Tenant id owning a token hash: 0 and *ret_id, or -ENOENT. */
int store_tenant_by_token(Store *s, const char *token_hash, int64_t *ret_id);
/* Lists tenants ordered by id; uid_filter < 0 lists all, else only that owner.
 * Returns 0; *ret is a malloc'd array of *ret_n tenants (free with
 * tenant_list_free), NULL when there are none. Or -errno. */
int store_tenant_list(Store *s, long long uid_filter, Tenant **ret, size_t *ret_n);
/* Updates name, priority, workload_class, pid, pid_starttime and cgroup from t
 * (by t->id). Returns 0, -ENOENT if absent, -EEXIST on a duplicate name,
 * -EINVAL as for store_tenant_add, or -errno. */
int store_tenant_update(Store *s, const Tenant *t);
/* Deletes a tenant and its tokens; its events stay. Returns 0, -ENOENT if
 * absent, or -errno. */
int store_tenant_remove(Store *s, int64_t id);
/* Number of tenants, or -errno. */
int store_tenant_count(Store *s);

/* Appends an event stamped with the current time; tenant_id 0 for none.
 * Returns 0, -EINVAL for a missing kind/message or a negative id, or -errno. */
int store_event_add(Store *s, int64_t tenant_id, const char *kind, const char *message);
/* The one "log it and record it" step: logs the message at level with the structured field
 * (e.g. "KNOB=vm.nr_hugepages", NULL for none) and, when kind is not NULL, appends it as an
 * event of tenant_id. Both are best effort (a failed append is logged). Never fails. */
void store_event_log(Store *s, int level, const char *field, int64_t tenant_id, const char *kind, const char *format,
                     ...) _printf_(6, 7);
/* Newest-first list of at most `limit` events (0 gives none), optionally for
 * one tenant (0 = all). Returns 0 with a malloc'd array as for
 * store_tenant_list (free with store_events_free), or -errno. */
int store_event_list(Store *s, int64_t tenant_id, unsigned limit, StoreEvent **ret, size_t *ret_n);
/* Total number of events recorded, or -errno. */
int64_t store_event_count(Store *s);

/* A knob maiod has touched (or, in a dry run, meant to): the journal's record.
 * state is a word of journal.c ("pending", "applied", ...), written tells
 * whether maiod may have written the file since original was recorded. */
typedef struct StoreKnob {
        char *name;     /* registry name, e.g. "vm.nr_hugepages"; the key */
        char *path;     /* the resolved file it was written through */
        char *original; /* the value before maiod's first write */
        char *desired;  /* what maiod was last asked to set, NULL = none */
        char *applied;  /* what the kernel showed after maiod's last write, NULL = none yet */
        char *state;
        bool written;
        bool overridden_logged; /* the current override has been reported */
        int64_t changed_usec;   /* CLOCK_REALTIME of the last change */
        char *changed_by;       /* who asked, e.g. "uid 0 (pid 42)" */
} StoreKnob;

/* Inserts or updates the record k->name in one statement (committed, durable
 * on return). original is taken only while the stored record has written
 * false, so once maiod may have written the file its original never changes;
 * written never goes back from true to false. Returns 0, -EINVAL for a
 * missing name/path/original/state/changed_by, or -errno. */
int store_knob_put(Store *s, const StoreKnob *k);
/* Loads one record into *ret (free with store_knob_done). -ENOENT if absent. */
int store_knob_get(Store *s, const char *name, StoreKnob *ret);
/* All records ordered by name; as store_tenant_list (free with store_knobs_free). */
int store_knob_list(Store *s, StoreKnob **ret, size_t *ret_n);
/* Deletes a record. Returns 0, -ENOENT if absent, or -errno. */
int store_knob_remove(Store *s, const char *name);
/* Number of records, or -errno. */
int store_knob_count(Store *s);
void store_knob_done(StoreKnob *k);
void store_knobs_free(StoreKnob *k, size_t n);

/* Small durable daemon facts (the clean-stop marker, the boot id): get returns
 * 0 and a malloc'd *ret, or -ENOENT; set inserts or replaces. Both -errno on failure. */
int store_state_get(Store *s, const char *key, char **ret);
int store_state_set(Store *s, const char *key, const char *value);
/* Deletes a fact: 0, -ENOENT if absent, or -errno. */
int store_state_remove(Store *s, const char *key);
/* The facts whose key starts with prefix, in key order: two arrays of *ret_n malloc'd strings
 * (free each with store_strv_free). Returns 0 or -errno. */
int store_state_list(Store *s, const char *prefix, char ***ret_keys, char ***ret_values, size_t *ret_n);
void store_strv_free(char **v, size_t n);

/* One tenant's grant of hugepage-backed buffer capacity on one NUMA node (the
 * hugepage reserve, pools.c; schema v3, store-pools.c). */
typedef struct StoreGrant {
        int64_t tenant_id;
        char *tenant_name; /* from the tenants table when it still exists; NULL otherwise */
        unsigned node;
        uint64_t pages;       /* 2 MiB pages, > 0 */
        int64_t created_usec; /* CLOCK_REALTIME of the grant's last change */
} StoreGrant;

/* Inserts the grant (tenant_id, node) or replaces its pages and time
 * (created_usec <= 0 means now). Returns 0, -EINVAL for a tenant id <= 0,
 * pages 0 or above INT64_MAX, -ENOENT when the tenant does not exist, or -errno. */
int store_grant_put(Store *s, const StoreGrant *g);
/* Loads one grant into *ret (free with store_grant_done). -ENOENT if absent. */
int store_grant_get(Store *s, int64_t tenant_id, unsigned node, StoreGrant *ret);
/* Deletes the tenant's grant on node, or all its grants when node < 0.
 * Returns the number deleted (>= 0) or -errno. */
int store_grant_remove(Store *s, int64_t tenant_id, int node);
/* Grants ordered by node then tenant: tenant_id > 0 keeps only that tenant's,
 * uid_filter >= 0 only those of tenants that uid owns. As store_tenant_list
 * (free with store_grants_free). */
int store_grant_list(Store *s, int64_t tenant_id, long long uid_filter, StoreGrant **ret, size_t *ret_n);
/* Total pages granted on node (0 without grants). Returns 0 or -errno. */
int store_grant_sum(Store *s, unsigned node, uint64_t *ret);
/* Deletes grants whose tenant is gone (only possible if something removed a
 * tenant with foreign keys off). Returns the number deleted or -errno. */
int store_grant_prune(Store *s);
void store_grant_done(StoreGrant *g);
void store_grants_free(StoreGrant *g, size_t n);

/* The nodes whose hugepage knob the reserve has sized and not given back yet:
 * pools.c adds a node before its first write and removes it after restoring
 * the knob, so a crash in between is still known at the next start. add is
 * idempotent; remove returns 0 or -ENOENT. list returns these nodes together
 * with every node that has a grant, ascending, as a malloc'd array (NULL when
 * empty). All return 0 or -errno. */
int store_reserve_node_add(Store *s, unsigned node);
int store_reserve_node_remove(Store *s, unsigned node);
int store_reserve_nodes(Store *s, unsigned **ret, size_t *ret_n);

/* Free the strings of one tenant (and zero them) / an array of n tenants /
 * an array of n events. All accept NULL. */
void tenant_done(Tenant *t);
/* A deep copy of t into *ret (free with tenant_done). Returns 0 or -ENOMEM (*ret untouched). */
int tenant_copy(const Tenant *t, Tenant *ret);
void tenant_list_free(Tenant *t, size_t n);
void store_events_free(StoreEvent *e, size_t n);

/* Access tokens: a fresh random token (43 chars, URL-safe base64 of 32 bytes
 * from the kernel CSPRNG) and its SHA-256 hex digest (OpenSSL libcrypto).
 * Buffers must hold TOKEN_STRLEN+1 and TOKEN_HASH_STRLEN+1 bytes. */
#define TOKEN_STRLEN 43
#define TOKEN_HASH_STRLEN 64
/* Hashes accept tokens of 1..TOKEN_MAX_LEN bytes (longer input is not ours). */
#define TOKEN_MAX_LEN 256
/* Returns 0 with a NUL-terminated token in ret, or -errno from getrandom(2). */
int token_generate(char ret[static TOKEN_STRLEN + 1]);
/* Returns 0 with lowercase hex in ret, -EINVAL for a NULL, empty or too long
 * token, or -EIO if libcrypto fails. */
int token_hash(const char *token, char ret[static TOKEN_HASH_STRLEN + 1]);
