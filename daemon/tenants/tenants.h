/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tenants: registration with a one-time bearer token, ownership scoping (a
 * tenant is visible only to its owner uid, its token, and admins), and pidfd
 * watches that record a tenant process's exit. */
#pragma once

#include <stdio.h>

#include <systemd/sd-event.h>

#include "hook.h"
#include "notify.h"
#include "request.h"
#include "store.h"

typedef struct Tenants Tenants;

/* What [daemon] and [api] say about tenants (re-read on reload). */
typedef struct TenantsConf {
        unsigned max_tenants;
        int on_pid_exit; /* TENANT_PID_EXIT_* */
} TenantsConf;

/* Builds the tenants module over store (borrowed), the cgroup tree below root, watching pids on
 * event. Returns 0 or -ENOMEM. */
int tenants_new(Store *store, const char *root, sd_event *event, const TenantsConf *conf, Tenants **ret);
/* Drops every watch and frees. Accepts NULL; returns NULL. */
Tenants *tenants_free(Tenants *t);
static inline void tenants_freep(Tenants **t) {
        tenants_free(*t);
}
void tenants_set_conf(Tenants *t, const TenantsConf *conf);

/* Registers fn to run after a tenant's row is gone (deleted, or removed when its process exited),
 * with the tenant id: the modules above drop what the tenant held. Returns 0 or -ENOSPC. */
int tenants_on_removed(Tenants *t, HookFn fn, void *userdata);

/* Where tenant-exited (details {"pid":PID}) and tenant-removed ({"message":TEXT}) are announced
 * from now on; n is borrowed and must outlive t, or be replaced (NULL: nobody listens). */
void tenants_set_notifier(Tenants *t, const Notifier *n);

/* Bumped whenever a tenant row changes or goes away: cached rows and identities of tokens are
 * valid while it is unchanged. */
uint64_t tenants_generation(const Tenants *t);

/* Writes maiod_tenants, maiod_tenant_process_exits_total, maiod_events_total and the row cache's
 * hit and miss counters (a MetricsWriteFn). */
void tenants_metrics_write(void *userdata, FILE *f);

/* Op handlers (see the ops table); userdata is the Tenants. */
extern const FieldSet tenants_create_body, tenants_update_body;
/* A tenant's members as typed netlink reply attributes (tenants.create, tenants.get). */
extern const FieldSet tenants_reply;
int tenants_op_list(void *userdata, const Request *req, Reply *reply);
int tenants_op_create(void *userdata, const Request *req, Reply *reply);
int tenants_op_get(void *userdata, const Request *req, Reply *reply);
int tenants_op_update(void *userdata, const Request *req, Reply *reply);
int tenants_op_delete(void *userdata, const Request *req, Reply *reply);
int tenants_op_events(void *userdata, const Request *req, Reply *reply);
int events_op_list(void *userdata, const Request *req, Reply *reply);

/* Loads the tenant `id` if `who` may see it. Returns 0 and *ret, -ENOENT when it
 * does not exist or is not visible to who (existence is not revealed). */
int tenants_get_visible(Tenants *t, const Identity *who, int64_t id, Tenant *ret);

/* Resolves a bearer token to the identity of its tenant (kind TOKEN, uid of the
 * owner). Returns 0 and fills *ret, or -ENOENT for an unknown token. */
int tenants_identify_token(Tenants *t, const char *token, Identity *ret);

/* Re-arms pid watches for every stored tenant with a pid after a start; tenants
 * whose process is gone (or whose pid was reused) get their exit recorded now.
 * Returns 0 or -errno. */
int tenants_watch_all(Tenants *t);
/* Drops every watch (shutdown). */
void tenants_unwatch_all(Tenants *t);

/* Reads field 22 (starttime, clock ticks since boot) of /proc/PID/stat below
 * proc_root. Returns 0 and *ret, -ESRCH when the process does not exist. */
int tenants_pid_starttime(const char *proc_root, pid_t pid, uint64_t *ret);
