/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tenants: registration with a one-time bearer token, ownership scoping (a
 * tenant is visible only to its owner uid, its token, and admins), and pidfd
 * watches that record a tenant process's exit. */
#pragma once

#include "ops.h"
#include "store.h"

typedef struct TenantWatch TenantWatch;

/* Op handlers (see the ops table). */
int tenants_op_list(Manager *m, const Request *req, Reply *reply);
int tenants_op_create(Manager *m, const Request *req, Reply *reply);
int tenants_op_get(Manager *m, const Request *req, Reply *reply);
int tenants_op_update(Manager *m, const Request *req, Reply *reply);
int tenants_op_delete(Manager *m, const Request *req, Reply *reply);
int tenants_op_events(Manager *m, const Request *req, Reply *reply);
int events_op_list(Manager *m, const Request *req, Reply *reply);

/* Loads the tenant `id` if `who` may see it. Returns 0 and *ret, -ENOENT when it
 * does not exist or is not visible to who (existence is not revealed). */
int tenants_get_visible(Manager *m, const Identity *who, int64_t id, Tenant *ret);

/* Resolves a bearer token to the identity of its tenant (kind TOKEN, uid of the
 * owner). Returns 0 and fills *ret, or -ENOENT for an unknown token. */
int tenants_identify_token(Manager *m, const char *token, Identity *ret);

/* Re-arms pid watches for every stored tenant with a pid after a start; tenants
 * whose process is gone (or whose pid was reused) get their exit recorded now.
 * Returns 0 or -errno. */
int tenants_watch_all(Manager *m);
/* Drops every watch (manager shutdown). */
void tenants_unwatch_all(Manager *m);

/* Reads field 22 (starttime, clock ticks since boot) of /proc/PID/stat below
 * proc_root. Returns 0 and *ret, -ESRCH when the process does not exist. */
int tenants_pid_starttime(const char *proc_root, pid_t pid, uint64_t *ret);
