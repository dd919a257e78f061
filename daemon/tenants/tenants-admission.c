/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Admission limits for non-admin callers: how many tenants a uid may hold, the highest priority it
 * may take, and a cgroup it must own (delegation, cgroup v2); their status JSON, and the check after
 * a reload that reports tenants left above lowered limits. */
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "tenants-internal.h"

static bool identity_in_group(const Identity *who, gid_t gid) {
        if (who->gid == gid)
                return true;
        for (unsigned i = 0; i < who->n_groups && i < IDENTITY_MAX_GROUPS; i++)
                if (who->groups[i] == gid)
                        return true;
        return false;
}

TenantLimits tenants_limits_for(const TenantsConf *conf, const Identity *who) {
        TenantLimits l = { .max_per_uid = conf->max_per_uid, .highest_priority = conf->highest_priority };
        bool matched = false;

        snprintf(l.count_source, sizeof l.count_source, "[tenants]");
        snprintf(l.priority_source, sizeof l.priority_source, "[tenants]");
        /* Group sections override [tenants]; among the caller's groups the most permissive value of
         * each limit wins, each limit on its own. */
        for (size_t i = 0; i < conf->n_groups; i++) {
                const TenantGroupLimits *g = &conf->groups[i];

                if (!identity_in_group(who, g->gid))
                        continue;
                if (!matched || g->max_per_uid > l.max_per_uid) {
                        l.max_per_uid = g->max_per_uid;
                        snprintf(l.count_source, sizeof l.count_source, "[tenants.group.%s]", g->name);
                }
                if (!matched || g->highest_priority < l.highest_priority) {
                        l.highest_priority = g->highest_priority;
                        snprintf(l.priority_source, sizeof l.priority_source, "[tenants.group.%s]", g->name);
                }
                matched = true;
        }
        return l;
}

const char *tenants_cgroup_hierarchy(const char *root) {
        char path[PATH_MAX];

        snprintf(path, sizeof path, "%s/sys/fs/cgroup/cgroup.controllers", root);
        if (access(path, F_OK) == 0)
                return "v2";
        snprintf(path, sizeof path, "%s/sys/fs/cgroup/unified/cgroup.controllers", root);
        if (access(path, F_OK) == 0)
                return "hybrid";
        snprintf(path, sizeof path, "%s/sys/fs/cgroup/cpu", root);
        if (access(path, F_OK) == 0)
                return "v1";
        snprintf(path, sizeof path, "%s/sys/fs/cgroup/memory", root);
        return access(path, F_OK) == 0 ? "v1" : "none";
}

bool tenants_cgroup_owned_by(const char *dir, uid_t uid) {
        char path[PATH_MAX];
        struct stat st;

        /* Delegation in cgroup v2 is by ownership: the delegating manager chowns the directory and
         * its cgroup.procs (and cgroup.threads, cgroup.subtree_control) to the delegatee. */
        if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
                return false;
        if (st.st_uid == uid)
                return true;
        snprintf(path, sizeof path, "%s/cgroup.procs", dir);
        return stat(path, &st) >= 0 && S_ISREG(st.st_mode) && st.st_uid == uid && (st.st_mode & S_IWUSR);
}

int tenants_uid_count(Tenants *tn, uid_t uid, size_t *ret) {
        Tenant *ts = NULL;
        size_t n = 0;
        int r;

        r = store_tenant_list(tenants_store(tn), (long long) uid, &ts, &n);
        if (r < 0)
                return r;
        tenant_list_free(ts, n);
        *ret = n;
        return 0;
}

static bool identity_of_uid(uid_t uid, Identity *ret);
static bool uid_is_admin(const TenantsConf *conf, const Identity *who);

int tenants_admit_new(Tenants *tn, const Identity *who, const Tenant *t, Reply *reply) {
        const TenantsConf *conf = tenants_conf(tn);
        TenantLimits l;
        size_t n;
        int r;

        if (who->admin)
                return 0;
        l = tenants_limits_for(conf, who);
        if ((unsigned) t->priority < l.highest_priority)
                return reply_error(reply, REPLY_FORBIDDEN,
                                   "Priority %d is above the highest priority allowed to uid %u "
                                   "(highest_priority = %u in %s; 0 is highest)",
                                   t->priority, (unsigned) who->uid, l.highest_priority, l.priority_source);
        r = tenants_uid_count(tn, who->uid, &n);
        if (r < 0)
                return r;
        if (n >= l.max_per_uid)
                return reply_error(reply, REPLY_FORBIDDEN,
                                   "uid %u holds %zu tenant%s, the limit max_tenants_per_uid = %u in %s",
                                   (unsigned) who->uid, n, n == 1 ? "" : "s", l.max_per_uid, l.count_source);
        if (t->cgroup) {
                char dir[PATH_MAX];

                snprintf(dir, sizeof dir, "%s/sys/fs/cgroup%s", tenants_root(tn), t->cgroup);
                if (!tenants_cgroup_owned_by(dir, who->uid))
                        return reply_error(reply, REPLY_FORBIDDEN,
                                           "Cgroup %s is not delegated to uid %u (the limit cgroup ownership: "
                                           "a non-admin may only name a cgroup whose directory or cgroup.procs "
                                           "it owns)",
                                           t->cgroup, (unsigned) who->uid);
        }
        return 0;
}

int tenants_admit_priority(Tenants *tn, const Identity *who, int old_priority, int priority, Reply *reply) {
        Identity owner;
        TenantLimits l;

        /* Keeping the priority a tenant has is always allowed: a lowered limit keeps what exists. */
        if (who->admin || priority == old_priority)
                return 0;
        if (who->kind == IDENTITY_TOKEN) {
                /* A bearer token acts for its tenant's owner: judged with the owner's groups from the
                 * user database (a token carries none). */
                owner = (Identity) { .kind = IDENTITY_PEER, .uid = who->uid, .gid = (gid_t) -1 };
                (void) identity_of_uid(who->uid, &owner);
                if (uid_is_admin(tenants_conf(tn), &owner))
                        return 0;
                who = &owner;
        }
        l = tenants_limits_for(tenants_conf(tn), who);
        if ((unsigned) priority < l.highest_priority)
                return reply_error(reply, REPLY_FORBIDDEN,
                                   "Priority %d is above the highest priority allowed to uid %u "
                                   "(highest_priority = %u in %s; 0 is highest)",
                                   priority, (unsigned) who->uid, l.highest_priority, l.priority_source);
        return 0;
}

json_object *tenants_admission_to_json(Tenants *tn) {
        const TenantsConf *conf = tenants_conf(tn);
        json_object *o = json_object_new_object(), *groups = json_object_new_array();

        if (!o || !groups) {
                json_object_put(o);
                json_object_put(groups);
                return NULL;
        }
        json_object_object_add(o, "max_tenants_per_uid", json_object_new_int64(conf->max_per_uid));
        json_object_object_add(o, "highest_priority", json_object_new_int(conf->highest_priority));
        json_object_object_add(o, "cgroup_ownership", json_object_new_boolean(true));
        json_object_object_add(o, "cgroup_hierarchy",
                               json_object_new_string(tenants_cgroup_hierarchy(tenants_root(tn))));
        for (size_t i = 0; i < conf->n_groups; i++) {
                json_object *g = json_object_new_object();

                if (!g)
                        break;
                json_object_object_add(g, "group", json_object_new_string(conf->groups[i].name));
                json_object_object_add(g, "gid", json_object_new_int64(conf->groups[i].gid));
                json_object_object_add(g, "max_tenants_per_uid", json_object_new_int64(conf->groups[i].max_per_uid));
                json_object_object_add(g, "highest_priority", json_object_new_int(conf->groups[i].highest_priority));
                json_object_array_add(groups, g);
        }
        json_object_object_add(o, "groups", groups);
        return o;
}

/* The identity the user database gives uid (primary and supplementary groups), for the reload check,
 * which has no connection to read them from. Returns false when uid is unknown there. */
static bool identity_of_uid(uid_t uid, Identity *ret) {
        struct passwd pw, *res = NULL;
        char buf[4096];
        int n = IDENTITY_MAX_GROUPS;

        if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) != 0 || !res)
                return false;
        *ret = (Identity) { .kind = IDENTITY_PEER, .uid = uid, .gid = pw.pw_gid };
        if (getgrouplist(pw.pw_name, pw.pw_gid, ret->groups, &n) < 0)
                n = IDENTITY_MAX_GROUPS; /* more groups than we keep: the first ones count */
        ret->n_groups = (unsigned) n;
        return true;
}

static bool uid_is_admin(const TenantsConf *conf, const Identity *who) {
        return who->uid == 0 || (conf->have_admin_gid && identity_in_group(who, conf->admin_gid));
}

/* Reports, for one owner uid whose tenants are ts[0..n), what lies above the limits now. */
static void check_owner(Tenants *tn, const Tenant *ts, size_t n) {
        Identity who = { .kind = IDENTITY_PEER, .uid = ts[0].uid, .gid = (gid_t) -1 };
        const TenantsConf *conf = tenants_conf(tn);
        char field[32];
        TenantLimits l;

        (void) identity_of_uid(ts[0].uid, &who);
        if (uid_is_admin(conf, &who))
                return;
        l = tenants_limits_for(conf, &who);
        if (n > l.max_per_uid) {
                snprintf(field, sizeof field, "UID=%u", (unsigned) who.uid);
                store_event_log(tenants_store(tn), LOG_NOTICE, field, 0, "admission-over-limit",
                                "uid %u holds %zu tenants, above max_tenants_per_uid = %u in %s; they are kept, "
                                "uid %u cannot register more until it holds fewer",
                                (unsigned) who.uid, n, l.max_per_uid, l.count_source, (unsigned) who.uid);
        }
        for (size_t i = 0; i < n; i++)
                if ((unsigned) ts[i].priority < l.highest_priority) {
                        snprintf(field, sizeof field, "TENANT=%" PRId64, ts[i].id);
                        store_event_log(tenants_store(tn), LOG_NOTICE, field, ts[i].id, "admission-over-limit",
                                        "Tenant '%s' of uid %u keeps priority %d, above highest_priority = %u "
                                        "in %s; it can be lowered, not raised",
                                        ts[i].name, (unsigned) who.uid, ts[i].priority, l.highest_priority,
                                        l.priority_source);
                }
}

int tenants_check_limits(Tenants *tn) {
        Tenant *ts = NULL;
        size_t n = 0;
        int r;

        if (!tenants_limits_changed(tn))
                return 0; /* reported when they last changed */
        r = store_tenant_list(tenants_store(tn), -1, &ts, &n);
        if (r < 0)
                return r;
        /* Listed by id: each owner's tenants are checked together, at its first tenant. */
        for (size_t i = 0; i < n; i++) {
                Tenant *run;
                size_t m = 0;
                bool seen = false;

                for (size_t j = 0; j < i && !seen; j++)
                        seen = ts[j].uid == ts[i].uid;
                if (seen)
                        continue;
                run = calloc(n - i, sizeof *run);
                if (!run) {
                        tenant_list_free(ts, n);
                        return -ENOMEM;
                }
                for (size_t j = i; j < n; j++)
                        if (ts[j].uid == ts[i].uid)
                                run[m++] = ts[j]; /* shallow: ts keeps the strings */
                check_owner(tn, run, m);
                free(run);
        }
        tenant_list_free(ts, n);
        return 0;
}
