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
#include "sched-event.h"
#include "store.h"

typedef struct Tenants Tenants;

/* Most group overrides (as CONF_TENANT_GROUPS_MAX). */
#define TENANTS_GROUPS_MAX 64

/* The admission limits of one group ([tenants.group.NAME], the name resolved to a gid). */
typedef struct TenantGroupLimits {
        char name[33];
        gid_t gid;
        unsigned max_per_uid;
        unsigned highest_priority;
} TenantGroupLimits;

/* What [tenants] and [api] say about tenants (re-read on reload). */
typedef struct TenantsConf {
        unsigned max_tenants;
        int on_pid_exit;           /* TENANT_PID_EXIT_* */
        unsigned max_per_uid;      /* tenants one non-admin uid may hold */
        unsigned highest_priority; /* the lowest priority number a non-admin may take */
        TenantGroupLimits groups[TENANTS_GROUPS_MAX];
        size_t n_groups;
        bool have_admin_gid; /* [api] admin_group, for the reload check (callers carry their own flag) */
        gid_t admin_gid;
} TenantsConf;

/* The limits that apply to one non-admin caller, and where they come from ("[tenants]" or
 * "[tenants.group.NAME]"). */
typedef struct TenantLimits {
        unsigned max_per_uid;
        unsigned highest_priority;
        char count_source[64];    /* where max_per_uid comes from */
        char priority_source[64]; /* where highest_priority comes from */
} TenantLimits;

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

/* Registers fn to run when a tenant's watched process exited, whether the tenant is kept or
 * removed ([tenants] on_pid_exit): what only lived with the process (a poller CPU) goes. Returns 0
 * or -ENOSPC. */
int tenants_on_exited(Tenants *t, HookFn fn, void *userdata);

/* Where tenant-exited (details {"pid":PID}) and tenant-removed ({"message":TEXT}) are announced
 * from now on; n is borrowed and must outlive t, or be replaced (NULL: nobody listens). */
void tenants_set_notifier(Tenants *t, const Notifier *n);
/* Where joins, attribute changes, process exits and removals go as SCHED_EVENT_TENANT (stamped with
 * the request's arrival or the pidfd's wake-up); sink is borrowed (NULL: nobody listens). */
void tenants_set_event_sink(Tenants *t, const EventSink *sink);

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

/* The admission limits of a non-admin identity (pure): [tenants], unless the identity's primary or a
 * supplementary group has a [tenants.group.NAME] section; when several do, the most permissive value
 * of each limit wins (the largest count, the lowest priority number). */
TenantLimits tenants_limits_for(const TenantsConf *conf, const Identity *who);

/* What cgroup hierarchy the host below root offers: "v2" (unified at /sys/fs/cgroup), "hybrid"
 * (v1 controllers and a v2 tree at /sys/fs/cgroup/unified), "v1" or "none". Never NULL. */
const char *tenants_cgroup_hierarchy(const char *root);

/* True if the cgroup directory dir is delegated to uid: uid owns the directory, or owns a writable
 * cgroup.procs in it. */
bool tenants_cgroup_owned_by(const char *dir, uid_t uid);

/* GET /v1/status "admission": the [tenants] limits, the group overrides, the cgroup hierarchy.
 * Returns a new reference or NULL on OOM. */
json_object *tenants_admission_to_json(Tenants *t);

/* After a reload that changed the limits: records an "admission-over-limit" event (and a log line)
 * for each non-admin uid holding more tenants than its limit now allows and each of their tenants
 * above the priority it may take. Nothing is removed. Group membership comes from the user
 * database. The first call only takes note of the limits (call it once at start). Returns 0 or
 * -errno. */
int tenants_check_limits(Tenants *t);

/* Reads field 22 (starttime, clock ticks since boot) of /proc/PID/stat below
 * proc_root. Returns 0 and *ret, -ESRCH when the process does not exist. */
int tenants_pid_starttime(const char *proc_root, pid_t pid, uint64_t *ret);
