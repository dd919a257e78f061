/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tenant operations: registration with a one-time bearer token, visibility by
 * owner uid / token / admin, events, and pidfd watches recording process exit. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"
#include "manager.h"
#include "pools.h"
#include "tenants.h"
#include "tierd.h"

#define EVENTS_LIMIT 100

struct TenantWatch {
        Manager *manager;
        int64_t tenant_id;
        pid_t pid;
        int pidfd;
        sd_event_source *source;
        TenantWatch *next;
};

static const char *const workload_classes[] = { "batch", "serving" };

static int64_t realtime_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static TenantWatch *watch_find(Manager *m, int64_t tenant_id) {
        for (TenantWatch *w = m->watches; w; w = w->next)
                if (w->tenant_id == tenant_id)
                        return w;
        return NULL;
}

static void watch_free(Manager *m, TenantWatch *w) {
        for (TenantWatch **p = &m->watches; *p; p = &(*p)->next)
                if (*p == w) {
                        *p = w->next;
                        break;
                }
        sd_event_source_disable_unref(w->source);
        safe_close(w->pidfd);
        free(w);
}

static json_object *tenant_to_json(Manager *m, const Tenant *t) {
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        json_object_object_add(o, "id", json_object_new_int64(t->id));
        json_object_object_add(o, "name", json_object_new_string(t->name));
        json_object_object_add(o, "priority", json_object_new_int(t->priority));
        json_object_object_add(o, "workload_class", json_object_new_string(t->workload_class));
        json_object_object_add(o, "uid", json_object_new_int64(t->uid));
        json_object_object_add(o, "pid", t->pid > 0 ? json_object_new_int(t->pid) : NULL);
        json_object_object_add(o, "cgroup", t->cgroup ? json_object_new_string(t->cgroup) : NULL);
        json_object_object_add(o, "created", json_time_new(t->created_usec));
        json_object_object_add(o, "pid_alive",
                               t->pid > 0 ? json_object_new_boolean(watch_find(m, t->id) != NULL) : NULL);
        return o;
}

/* Replies {key: arr} with 200, taking both objects; either may be NULL after an allocation failure. */
static int reply_list(Reply *reply, json_object *o, const char *key, json_object *arr) {
        if (!o || !arr) {
                json_object_put(o);
                json_object_put(arr);
                return -ENOMEM;
        }
        json_object_object_add(o, key, arr);
        return reply_json(reply, 200, o);
}

static int tenant_reply(Manager *m, Reply *reply, unsigned status, const Tenant *t) {
        return reply_json(reply, status, tenant_to_json(m, t));
}

static bool visible(const Identity *who, const Tenant *t) {
        switch (who->kind) {
        case IDENTITY_PEER:
                return who->admin || t->uid == who->uid;
        case IDENTITY_TOKEN:
                return t->id == who->tenant_id;
        default:
                return false;
        }
}

int tenants_get_visible(Manager *m, const Identity *who, int64_t id, Tenant *ret) {
        Tenant t = {};
        int r = store_tenant_get(m->store, id, &t);

        if (r < 0)
                return r;
        if (!visible(who, &t)) {
                tenant_done(&t);
                return -ENOENT;
        }
        *ret = t;
        return 0;
}

/* tenants_get_visible() for a handler: the tenant named by the path, or a 404 reply. */
static int tenant_lookup(Manager *m, const Request *req, Reply *reply, Tenant *ret) {
        int r = tenants_get_visible(m, req->who, req->ids[0], ret);

        if (r == -ENOENT)
                return reply_error(reply, 404, "not-found", "No tenant %" PRId64, req->ids[0]);
        return r;
}

int tenants_identify_token(Manager *m, const char *token, Identity *ret) {
        char hash[TOKEN_HASH_STRLEN + 1];
        Tenant t = {};
        int64_t id;
        int r;

        r = token_hash(token, hash);
        if (r < 0)
                return r;
        r = store_tenant_by_token(m->store, hash, &id);
        if (r < 0)
                return r;
        r = store_tenant_get(m->store, id, &t);
        if (r < 0)
                return r;
        *ret = (Identity){ .kind = IDENTITY_TOKEN, .uid = t.uid, .tenant_id = id };
        tenant_done(&t);
        return 0;
}

int tenants_pid_starttime(const char *proc_root, pid_t pid, uint64_t *ret) {
        char path[PATH_MAX], buf[1024], *p;
        _cleanup_fclose_ FILE *f = NULL;
        unsigned long long v;

        snprintf(path, sizeof path, "%s/%d/stat", proc_root, (int) pid);
        f = fopen(path, "re");
        if (!f)
                return errno == ENOENT ? -ESRCH : -errno;
        if (!fgets(buf, sizeof buf, f))
                return -EIO;
        /* comm may hold spaces and parentheses: fields resume after the last ')'. */
        p = strrchr(buf, ')');
        if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
                         &v) != 1)
                return -EIO;
        *ret = v;
        return 0;
}

/* After a tenant's row is gone: the event, and what it held goes at once — its hugepage grants
 * (the reserve shrinks) and its tiering state (its DAMON scheme leaves the kdamond now, not at
 * the next tiering tick). */
static void tenant_removed(Manager *m, int64_t tenant_id, const char *msg) {
        (void) store_event_add(m->store, tenant_id, "tenant-removed", msg);
        (void) pools_sync(m, "maio reserve (tenant removed)");
        tierd_tenant_removed(m, tenant_id);
}

static void watch_record_exit(Manager *m, int64_t tenant_id, pid_t pid) {
        char msg[128], field[64];
        Tenant t = {};

        snprintf(msg, sizeof msg, "Process %d of tenant %" PRId64 " exited", (int) pid, tenant_id);
        snprintf(field, sizeof field, "TENANT=%" PRId64, tenant_id);
        log_full_errno_field(LOG_INFO, 0, field, "%s", msg);
        m->metrics.tenant_exits_total++;
        if (store_event_add(m->store, tenant_id, "pid-exit", msg) < 0)
                log_warning("Failed to record the exit of process %d, ignoring", (int) pid);

        if (m->config->on_pid_exit == TENANT_PID_EXIT_REMOVE) {
                m->tenants_generation++;
                if (store_tenant_remove(m->store, tenant_id) >= 0)
                        tenant_removed(m, tenant_id, "Removed after its process exited");
                return;
        }
        /* Keep the tenant; starttime 0 marks the pid as exited so a restart does not record it again. */
        if (store_tenant_get(m->store, tenant_id, &t) >= 0) {
                t.pid_starttime = 0;
                (void) store_tenant_update(m->store, &t);
                tenant_done(&t);
        }
}

static int watch_on_exit(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        TenantWatch *w = userdata;
        Manager *m = w->manager;
        int64_t id = w->tenant_id;
        pid_t pid = w->pid;

        watch_free(m, w);
        watch_record_exit(m, id, pid);
        return 0;
}

/* Watches pid for tenant id through a pidfd already opened by the caller (taken). */
static int watch_add(Manager *m, int64_t tenant_id, pid_t pid, int pidfd) {
        TenantWatch *w = calloc(1, sizeof *w);
        char desc[64];
        int r;

        if (!w) {
                safe_close(pidfd);
                return -ENOMEM;
        }
        *w = (TenantWatch){ .manager = m, .tenant_id = tenant_id, .pid = pid, .pidfd = pidfd };
        r = sd_event_add_io(m->event, &w->source, pidfd, EPOLLIN, watch_on_exit, w);
        if (r < 0) {
                safe_close(pidfd);
                free(w);
                return r;
        }
        snprintf(desc, sizeof desc, "tenant-%" PRId64 "-pid", tenant_id);
        (void) sd_event_source_set_description(w->source, desc);
        w->next = m->watches;
        m->watches = w;
        return 0;
}

int tenants_watch_all(Manager *m) {
        Tenant *ts = NULL;
        size_t n = 0;
        int r;

        r = store_tenant_list(m->store, -1, &ts, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                uint64_t st = 0;
                int fd;

                if (ts[i].pid <= 0 || ts[i].pid_starttime == 0)
                        continue; /* no pid, or its exit is already recorded */
                fd = pidfd_open(ts[i].pid, 0);
                /* Same pid but another start time: the tenant's process is gone and the pid reused. */
                if (fd >= 0 && (tenants_pid_starttime("/proc", ts[i].pid, &st) < 0 || st != ts[i].pid_starttime))
                        fd = safe_close(fd);
                if (fd < 0) {
                        watch_record_exit(m, ts[i].id, ts[i].pid);
                        continue;
                }
                r = watch_add(m, ts[i].id, ts[i].pid, fd);
                if (r < 0)
                        log_warning_errno(r, "Failed to watch process %d of tenant %" PRId64 ", ignoring: %m",
                                          (int) ts[i].pid, ts[i].id);
        }
        tenants_free(ts, n);
        return 0;
}

void tenants_unwatch_all(Manager *m) {
        while (m->watches)
                watch_free(m, m->watches);
}

/* 1-63 of [A-Za-z0-9._-], not starting with '.' or '-'. */
static bool name_is_valid(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n > 63 || s[0] == '.' || s[0] == '-')
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char) s[i]) && !strchr("._-", s[i]))
                        return false;
        return true;
}

static int workload_class_check(Reply *reply, const char *c) {
        for (size_t i = 0; i < ELEMENTSOF(workload_classes); i++)
                if (strcmp(c, workload_classes[i]) == 0)
                        return 0;
        return reply_error(reply, 400, "invalid-value", "Field 'workload_class' must be \"batch\" or \"serving\"");
}

/* An absolute path below the cgroup root without "." or ".." segments, that exists. */
static int cgroup_check(Manager *m, Reply *reply, const char *cg) {
        char path[PATH_MAX];
        struct stat st;

        if (cg[0] != '/' || strstr(cg, "//") || strstr(cg, "/./") || strstr(cg, "/../") ||
            (strlen(cg) >= 2 && strcmp(cg + strlen(cg) - 2, "/.") == 0) ||
            (strlen(cg) >= 3 && strcmp(cg + strlen(cg) - 3, "/..") == 0))
                return reply_error(reply, 400, "invalid-value",
                                   "Field 'cgroup' must be an absolute path below the cgroup root, without . or .. segments");
        snprintf(path, sizeof path, "%s/sys/fs/cgroup%s", m->root, cg);
        if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
                return reply_error(reply, 400, "invalid-value", "No cgroup %s", cg);
        return 0;
}

/* The pid must exist and, unless the caller is an admin, run as the caller's uid.
 * Returns a pidfd and *ret_starttime, or fills reply. */
static int pid_check(const Identity *who, Reply *reply, pid_t pid, uint64_t *ret_starttime) {
        _cleanup_close_ int fd = -EBADF;
        char path[64];
        struct stat st;

        fd = pidfd_open(pid, 0);
        if (fd < 0)
                return reply_error(reply, 400, "invalid-value", "No process %d", (int) pid);
        snprintf(path, sizeof path, "/proc/%d", (int) pid);
        if (stat(path, &st) < 0 || tenants_pid_starttime("/proc", pid, ret_starttime) < 0)
                return reply_error(reply, 400, "invalid-value", "No process %d", (int) pid);
        if (!who->admin && st.st_uid != who->uid)
                return reply_error(reply, 403, "forbidden", "Process %d does not belong to uid %u", (int) pid,
                                   (unsigned) who->uid);
        return TAKE_FD(fd);
}

static const Field create_fields[] = {
        { "name", FIELD_STRING, true, 1, 63 },
        { "priority", FIELD_INT, false, 0, 7 },
        { "workload_class", FIELD_STRING, false, 1, 32 },
        { "pid", FIELD_INT, false, 1, INT_MAX },
        { "cgroup", FIELD_STRING, false, 1, 4095 },
};

static const char *json_str(json_object *o, const char *key, const char *def) {
        json_object *v;

        return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : def;
}

static int64_t json_int(json_object *o, const char *key, int64_t def) {
        json_object *v;

        return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : def;
}

/* Fills t from a create body (already type-checked); returns a pidfd (or -EBADF
 * when no pid was given) or a negative errno with reply filled. */
static int create_parse(Manager *m, const Request *req, Reply *reply, Tenant *t) {
        json_object *b = req->body;
        int r;

        t->name = (char *) json_str(b, "name", NULL);
        if (!name_is_valid(t->name))
                return reply_error(reply, 400, "invalid-value",
                                   "Field 'name' must be 1-63 characters of A-Z a-z 0-9 . _ - not starting with . or -");
        t->priority = (int) json_int(b, "priority", 4);
        t->workload_class = (char *) json_str(b, "workload_class", "batch");
        r = workload_class_check(reply, t->workload_class);
        if (r < 0)
                return r;
        t->cgroup = (char *) json_str(b, "cgroup", NULL);
        if (t->cgroup && (r = cgroup_check(m, reply, t->cgroup)) < 0)
                return r;
        t->uid = req->who->uid;
        t->created_usec = realtime_usec();
        t->pid = (pid_t) json_int(b, "pid", 0);
        if (t->pid == 0)
                return -EBADF;
        return pid_check(req->who, reply, t->pid, &t->pid_starttime);
}

int tenants_op_create(Manager *m, const Request *req, Reply *reply) {
        char token[TOKEN_STRLEN + 1], hash[TOKEN_HASH_STRLEN + 1], msg[160];
        _cleanup_close_ int pidfd = -EBADF;
        json_object *o;
        Tenant t = {};
        int r;

        if (req->who->kind != IDENTITY_PEER)
                return reply_error(reply, 403, "forbidden", "Tenants are registered over the unix socket");
        r = reply_check_fields(reply, req->body, create_fields, ELEMENTSOF(create_fields));
        if (r < 0)
                return r;
        pidfd = create_parse(m, req, reply, &t);
        if (pidfd < 0 && pidfd != -EBADF)
                return pidfd;
        r = store_tenant_count(m->store);
        if (r < 0)
                return r;
        if ((unsigned) r >= m->config->max_tenants)
                return reply_error(reply, 409, "conflict", "The tenant limit of %u is reached", m->config->max_tenants);

        r = token_generate(token);
        if (r < 0)
                return r;
        r = token_hash(token, hash);
        if (r < 0)
                return r;
        r = store_tenant_add(m->store, &t, hash, &t.id);
        if (r == -EEXIST)
                return reply_error(reply, 409, "conflict", "A tenant named '%s' exists already", t.name);
        if (r < 0)
                return r;

        snprintf(msg, sizeof msg, "Tenant '%s' registered by uid %u", t.name, (unsigned) t.uid);
        (void) store_event_add(m->store, t.id, "tenant-added", msg);
        if (pidfd >= 0 && (r = watch_add(m, t.id, t.pid, TAKE_FD(pidfd))) < 0)
                log_warning_errno(r, "Failed to watch process %d of tenant %" PRId64 ", ignoring: %m", (int) t.pid, t.id);

        o = tenant_to_json(m, &t);
        if (o)
                json_object_object_add(o, "token", json_object_new_string(token));
        explicit_bzero(token, sizeof token);
        if (asprintf(&reply->location, "/v1/tenants/%" PRId64, t.id) < 0)
                reply->location = NULL;
        return reply_json(reply, 201, o);
}

int tenants_op_get(Manager *m, const Request *req, Reply *reply) {
        Tenant t = {};
        int r = tenant_lookup(m, req, reply, &t);

        if (r < 0)
                return r;
        r = tenant_reply(m, reply, 200, &t);
        tenant_done(&t);
        return r;
}

int tenants_op_list(Manager *m, const Request *req, Reply *reply) {
        const Identity *who = req->who;
        json_object *o, *arr;
        Tenant *ts = NULL;
        size_t n = 0;
        int r;

        if (who->kind == IDENTITY_TOKEN) {
                ts = calloc(1, sizeof *ts);
                if (!ts)
                        return -ENOMEM;
                r = store_tenant_get(m->store, who->tenant_id, ts);
                n = r >= 0;
                if (r == -ENOENT)
                        r = 0;
        } else
                r = store_tenant_list(m->store, who->admin ? -1 : (long long) who->uid, &ts, &n);
        if (r < 0) {
                free(ts);
                return r;
        }
        o = json_object_new_object();
        arr = json_object_new_array();
        for (size_t i = 0; o && arr && i < n; i++)
                json_object_array_add(arr, tenant_to_json(m, &ts[i]));
        tenants_free(ts, n);
        return reply_list(reply, o, "tenants", arr);
}

static const Field update_fields[] = {
        { "name", FIELD_STRING, false, 1, 63 },
        { "priority", FIELD_INT, false, 0, 7 },
        { "workload_class", FIELD_STRING, false, 1, 32 },
};

int tenants_op_update(Manager *m, const Request *req, Reply *reply) {
        _cleanup_free_ char *old_name = NULL, *old_class = NULL;
        Tenant t = {};
        int r;

        r = reply_check_fields(reply, req->body, update_fields, ELEMENTSOF(update_fields));
        if (r < 0)
                return r;
        r = tenant_lookup(m, req, reply, &t);
        if (r < 0)
                return r;

        /* Body strings are owned by the request; keep the stored ones to free later. */
        old_name = t.name, old_class = t.workload_class;
        t.name = (char *) json_str(req->body, "name", old_name);
        t.workload_class = (char *) json_str(req->body, "workload_class", old_class);
        t.priority = (int) json_int(req->body, "priority", t.priority);
        if (!name_is_valid(t.name))
                r = reply_error(reply, 400, "invalid-value",
                                "Field 'name' must be 1-63 characters of A-Z a-z 0-9 . _ - not starting with . or -");
        else
                r = workload_class_check(reply, t.workload_class);
        if (r >= 0) {
                r = store_tenant_update(m->store, &t);
                if (r == -EEXIST)
                        r = reply_error(reply, 409, "conflict", "A tenant named '%s' exists already", t.name);
        }
        if (r >= 0) {
                (void) store_event_add(m->store, t.id, "tenant-updated", "Tenant attributes changed");
                r = tenant_reply(m, reply, 200, &t);
        }
        t.name = t.workload_class = NULL;
        tenant_done(&t);
        return r;
}

int tenants_op_delete(Manager *m, const Request *req, Reply *reply) {
        TenantWatch *w;
        Tenant t = {};
        char msg[128];
        int r;

        r = tenant_lookup(m, req, reply, &t);
        if (r < 0)
                return r;
        m->tenants_generation++;
        r = store_tenant_remove(m->store, t.id);
        if (r >= 0) {
                w = watch_find(m, t.id);
                if (w)
                        watch_free(m, w);
                snprintf(msg, sizeof msg, "Tenant '%s' removed", t.name);
                tenant_removed(m, t.id, msg);
                r = reply_empty(reply, 204);
        }
        tenant_done(&t);
        return r;
}

static int events_reply(Manager *m, Reply *reply, int64_t tenant_id) {
        StoreEvent *ev = NULL;
        size_t n = 0;
        json_object *o, *arr;
        int r;

        r = store_event_list(m->store, tenant_id, EVENTS_LIMIT, &ev, &n);
        if (r < 0)
                return r;
        o = json_object_new_object();
        arr = json_object_new_array();
        for (size_t i = 0; o && arr && i < n; i++) {
                json_object *e = json_object_new_object();

                if (!e)
                        break;
                json_object_object_add(e, "id", json_object_new_int64(ev[i].id));
                json_object_object_add(e, "time", json_time_new(ev[i].time_usec));
                json_object_object_add(e, "tenant_id", ev[i].tenant_id > 0 ? json_object_new_int64(ev[i].tenant_id) : NULL);
                json_object_object_add(e, "kind", json_object_new_string(ev[i].kind));
                json_object_object_add(e, "message", json_object_new_string(ev[i].message));
                json_object_array_add(arr, e);
        }
        store_events_free(ev, n);
        return reply_list(reply, o, "events", arr);
}

int tenants_op_events(Manager *m, const Request *req, Reply *reply) {
        Tenant t = {};
        int r = tenant_lookup(m, req, reply, &t);

        if (r < 0)
                return r;
        tenant_done(&t);
        return events_reply(m, reply, req->ids[0]);
}

int events_op_list(Manager *m, const Request *req, Reply *reply) {
        return events_reply(m, reply, 0);
}
