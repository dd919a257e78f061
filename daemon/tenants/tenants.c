/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tenant operations: registration with a one-time bearer token, visibility by
 * owner uid / token / admin, events, and pidfd watches recording process exit. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <time.h>

#include "conf.h"
#include "log.h"
#include "metrics.h"
#include "tenants-internal.h"
#include "time-util.h"

#define EVENTS_LIMIT 100

typedef struct TenantWatch TenantWatch;

/* Tenant rows kept between requests: a slot is good while the generation it was read in is
 * current (every change to a tenant row bumps it), so a read never sees a stale row. */
#define TENANT_CACHE_SLOTS 64

typedef struct TenantCacheSlot {
        bool valid;
        uint64_t generation;
        Tenant row;
} TenantCacheSlot;

struct Tenants {
        Store *store;
        char *root;
        sd_event *event;
        TenantsConf conf;
        TenantsConf checked; /* the limits the last admission check (or the start) saw */
        bool have_checked;
        TenantWatch *watches;                      /* pidfd watches, a list */
        uint64_t generation;                       /* bumped whenever a tenant row changes or goes away */
        TenantCacheSlot cache[TENANT_CACHE_SLOTS]; /* by id modulo the size */
        uint64_t cache_hits, cache_misses;
        uint64_t exits_total; /* watched processes that exited */
        HookList removed;
        HookList exited;          /* the watched process exited (kept or removed) */
        const Notifier *notifier; /* tenant-exited, tenant-removed; NULL: nobody listens */
        const EventSink *sched;   /* joins, changes, exits, removals; NULL: nobody listens */
};

struct TenantWatch {
        Tenants *tenants;
        int64_t tenant_id;
        pid_t pid;
        int pidfd;
        sd_event_source *source;
        TenantWatch *next;
};

static const char *const workload_classes[] = { "batch", "serving" };

int tenants_new(Store *store, const char *root, sd_event *event, const TenantsConf *conf, Tenants **ret) {
        Tenants *t = calloc(1, sizeof *t);

        if (!t || !(t->root = strdup(root))) {
                free(t);
                return -ENOMEM;
        }
        t->store = store;
        t->event = event;
        t->conf = *conf;
        *ret = t;
        return 0;
}

Tenants *tenants_free(Tenants *t) {
        if (!t)
                return NULL;
        tenants_unwatch_all(t);
        for (size_t i = 0; i < TENANT_CACHE_SLOTS; i++)
                tenant_done(&t->cache[i].row);
        free(t->root);
        free(t);
        return NULL;
}

void tenants_set_conf(Tenants *t, const TenantsConf *conf) {
        t->conf = *conf;
}

bool tenants_limits_changed(Tenants *t) {
        const TenantsConf *a = &t->checked, *b = &t->conf;
        bool changed = t->have_checked && (a->max_per_uid != b->max_per_uid ||
                                           a->highest_priority != b->highest_priority || a->n_groups != b->n_groups);

        for (size_t i = 0; t->have_checked && !changed && i < b->n_groups; i++)
                changed = a->groups[i].gid != b->groups[i].gid ||
                          a->groups[i].max_per_uid != b->groups[i].max_per_uid ||
                          a->groups[i].highest_priority != b->groups[i].highest_priority;
        t->checked = t->conf;
        t->have_checked = true;
        return changed;
}

Store *tenants_store(Tenants *t) {
        return t->store;
}

const TenantsConf *tenants_conf(Tenants *t) {
        return &t->conf;
}

const char *tenants_root(Tenants *t) {
        return t->root;
}

int tenants_on_removed(Tenants *t, HookFn fn, void *userdata) {
        return hook_list_add(&t->removed, fn, userdata);
}

int tenants_on_exited(Tenants *t, HookFn fn, void *userdata) {
        return hook_list_add(&t->exited, fn, userdata);
}

void tenants_set_notifier(Tenants *t, const Notifier *n) {
        t->notifier = n;
}

void tenants_set_event_sink(Tenants *t, const EventSink *sink) {
        t->sched = sink;
}

uint64_t tenants_generation(const Tenants *t) {
        return t->generation;
}

void tenants_metrics_write(void *userdata, FILE *f) {
        Tenants *t = userdata;
        int tenants = store_tenant_count(t->store);
        int64_t events = store_event_count(t->store);

        metrics_u64(f, "maiod_tenants", "gauge", "Registered tenants.", tenants > 0 ? (uint64_t) tenants : 0);
        metrics_u64(f, "maiod_tenant_process_exits_total", "counter", "Watched tenant processes that exited.",
                    t->exits_total);
        metrics_u64(f, "maiod_events_total", "counter", "Events in the event log.", events > 0 ? (uint64_t) events : 0);
        metrics_u64(f, "maiod_tenant_cache_hits_total", "counter", "Tenant reads served from the row cache.",
                    t->cache_hits);
        metrics_u64(f, "maiod_tenant_cache_misses_total", "counter", "Tenant reads that went to the database.",
                    t->cache_misses);
}

static TenantWatch *watch_find(Tenants *tn, int64_t tenant_id) {
        for (TenantWatch *w = tn->watches; w; w = w->next)
                if (w->tenant_id == tenant_id)
                        return w;
        return NULL;
}

static void watch_free(Tenants *tn, TenantWatch *w) {
        for (TenantWatch **p = &tn->watches; *p; p = &(*p)->next)
                if (*p == w) {
                        *p = w->next;
                        break;
                }
        sd_event_source_disable_unref(w->source);
        safe_close(w->pidfd);
        free(w);
}

/* The members tenant_to_json() writes (and the token of a creation), as netlink reply attributes. */
static const Field tenant_reply_fields[] = {
        { "id", FIELD_INT, .id = 1 },          { "name", FIELD_STRING, .id = 2 },
        { "priority", FIELD_INT, .id = 3 },    { "workload_class", FIELD_STRING, .id = 4 },
        { "uid", FIELD_INT, .id = 5 },         { "pid", FIELD_INT, .id = 6 },
        { "cgroup", FIELD_STRING, .id = 7 },   { "created", FIELD_STRING, .id = 8 },
        { "pid_alive", FIELD_BOOL, .id = 9 },  { "token", FIELD_STRING, .id = 10 },
        { "addresses", FIELD_JSON, .id = 11 },
};
const FieldSet tenants_reply = { tenant_reply_fields, ELEMENTSOF(tenant_reply_fields) };

/* The declared addresses as a JSON array, null when none were declared. */
static json_object *addresses_to_json(const char *list) {
        json_object *a;
        const char *p = list;

        if (!list)
                return NULL;
        a = json_object_new_array();
        while (a && *p) {
                size_t n = strcspn(p, " ");

                json_object_array_add(a, json_object_new_string_len(p, (int) n));
                p += n + strspn(p + n, " ");
        }
        return a;
}

static json_object *tenant_to_json(Tenants *tn, const Tenant *t) {
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
                               t->pid > 0 ? json_object_new_boolean(watch_find(tn, t->id) != NULL) : NULL);
        json_object_object_add(o, "addresses", addresses_to_json(t->addresses));
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

static int tenant_reply(Tenants *tn, Reply *reply, unsigned status, const Tenant *t) {
        return reply_json(reply, status, tenant_to_json(tn, t));
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

/* The row of tenant id, from the cache when it is current, else read (and kept). The pointer
 * is valid until the next call. Returns 0, -ENOENT or -errno. */
static int tenant_row(Tenants *tn, int64_t id, const Tenant **ret) {
        TenantCacheSlot *slot = &tn->cache[(uint64_t) id % TENANT_CACHE_SLOTS];
        Tenant t = {};
        int r;

        if (slot->valid && slot->row.id == id && slot->generation == tn->generation) {
                tn->cache_hits++;
                *ret = &slot->row;
                return 0;
        }
        tn->cache_misses++;
        r = store_tenant_get(tn->store, id, &t);
        if (r < 0)
                return r;
        tenant_done(&slot->row);
        *slot = (TenantCacheSlot) { .valid = true, .generation = tn->generation, .row = t };
        *ret = &slot->row;
        return 0;
}

int tenants_get_visible(Tenants *tn, const Identity *who, int64_t id, Tenant *ret) {
        const Tenant *t;
        int r = tenant_row(tn, id, &t);

        if (r < 0)
                return r;
        if (!visible(who, t))
                return -ENOENT;
        return tenant_copy(t, ret);
}

int tenants_identify_token(Tenants *tn, const char *token, Identity *ret) {
        char hash[TOKEN_HASH_STRLEN + 1];
        const Tenant *t;
        int64_t id;
        int r;

        r = token_hash(token, hash);
        if (r < 0)
                return r;
        r = store_tenant_by_token(tn->store, hash, &id);
        if (r < 0)
                return r;
        r = tenant_row(tn, id, &t);
        if (r < 0)
                return r;
        *ret = (Identity) { .kind = IDENTITY_TOKEN, .uid = t->uid, .tenant_id = id };
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
        if (!p ||
            sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu", &v) != 1)
                return -EIO;
        *ret = v;
        return 0;
}

/* After a tenant's row is gone: the event, and what it held goes at once through the hooks of the
 * modules above (the hugepage reserve shrinks, its DAMON scheme leaves the kdamond now, not at the
 * next tiering tick); then its owner's subscribers hear of it. */
static void tenant_removed(Tenants *tn, const Tenant *t, uint64_t source_usec, const char *msg) {
        int64_t tenant_id = t->id;
        uid_t owner = t->uid;
        json_object *details = NULL;

        (void) store_event_add(tn->store, tenant_id, "tenant-removed", msg);
        hook_list_run(&tn->removed, tenant_id);
        event_sink_emit(tn->sched, SCHED_EVENT_TENANT, tenant_id, t->priority, source_usec);
        if (notify_wanted(tn->notifier) && (details = json_object_new_object()))
                json_object_object_add(details, "message", json_object_new_string(msg));
        notify_event(tn->notifier, NOTIFY_TENANT_REMOVED, tenant_id, owner, details);
}

static void watch_record_exit(Tenants *tn, int64_t tenant_id, pid_t pid, uint64_t fired_usec) {
        _cleanup_(tenant_done) Tenant t = {};
        json_object *details = NULL;
        char field[32];

        snprintf(field, sizeof field, "TENANT=%" PRId64, tenant_id);
        store_event_log(tn->store, LOG_INFO, field, tenant_id, "pid-exit", "Process %d of tenant %" PRId64 " exited",
                        (int) pid, tenant_id);
        tn->exits_total++;
        hook_list_run(&tn->exited, tenant_id);
        if (store_tenant_get(tn->store, tenant_id, &t) < 0)
                return; /* gone meanwhile: nothing to tell or keep */
        if (notify_wanted(tn->notifier) && (details = json_object_new_object()))
                json_object_object_add(details, "pid", json_object_new_int((int) pid));
        notify_event(tn->notifier, NOTIFY_TENANT_EXITED, tenant_id, t.uid, details);

        if (tn->conf.on_pid_exit == TENANT_PID_EXIT_REMOVE) {
                tn->generation++;
                if (store_tenant_remove(tn->store, tenant_id) >= 0)
                        tenant_removed(tn, &t, fired_usec, "Removed after its process exited");
                return;
        }
        /* Keep the tenant; starttime 0 marks the pid as exited so a restart does not record it again. */
        t.pid_starttime = 0;
        tn->generation++;
        (void) store_tenant_update(tn->store, &t);
        event_sink_emit(tn->sched, SCHED_EVENT_TENANT, tenant_id, t.priority, fired_usec);
}

static int watch_on_exit(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        uint64_t fired = now_usec(CLOCK_MONOTONIC); /* the pidfd became readable: the scheduler's clock starts */
        TenantWatch *w = userdata;
        Tenants *tn = w->tenants;
        int64_t id = w->tenant_id;
        pid_t pid = w->pid;

        watch_free(tn, w);
        watch_record_exit(tn, id, pid, fired);
        return 0;
}

/* Watches pid for tenant id through a pidfd already opened by the caller (taken). */
static int watch_add(Tenants *tn, int64_t tenant_id, pid_t pid, int pidfd) {
        TenantWatch *w = calloc(1, sizeof *w);
        char desc[64];
        int r;

        if (!w) {
                safe_close(pidfd);
                return -ENOMEM;
        }
        *w = (TenantWatch) { .tenants = tn, .tenant_id = tenant_id, .pid = pid, .pidfd = pidfd };
        r = sd_event_add_io(tn->event, &w->source, pidfd, EPOLLIN, watch_on_exit, w);
        if (r < 0) {
                safe_close(pidfd);
                free(w);
                return r;
        }
        snprintf(desc, sizeof desc, "tenant-%" PRId64 "-pid", tenant_id);
        (void) sd_event_source_set_description(w->source, desc);
        w->next = tn->watches;
        tn->watches = w;
        return 0;
}

int tenants_watch_all(Tenants *tn) {
        Tenant *ts = NULL;
        size_t n = 0;
        int r;

        r = store_tenant_list(tn->store, -1, &ts, &n);
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
                        watch_record_exit(tn, ts[i].id, ts[i].pid, now_usec(CLOCK_MONOTONIC));
                        continue;
                }
                r = watch_add(tn, ts[i].id, ts[i].pid, fd);
                if (r < 0)
                        log_warning_errno(r, "Failed to watch process %d of tenant %" PRId64 ", ignoring: %m",
                                          (int) ts[i].pid, ts[i].id);
        }
        tenant_list_free(ts, n);
        return 0;
}

void tenants_unwatch_all(Tenants *tn) {
        while (tn->watches)
                watch_free(tn, tn->watches);
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
        return reply_error(reply, REPLY_INVALID_VALUE, "Field 'workload_class' must be \"batch\" or \"serving\"");
}

/* An absolute path below the cgroup root without "." or ".." segments, that exists. */
static int cgroup_check(Tenants *tn, Reply *reply, const char *cg) {
        char path[PATH_MAX];
        struct stat st;

        if (cg[0] != '/' || strstr(cg, "//") || strstr(cg, "/./") || strstr(cg, "/../") ||
            (strlen(cg) >= 2 && strcmp(cg + strlen(cg) - 2, "/.") == 0) ||
            (strlen(cg) >= 3 && strcmp(cg + strlen(cg) - 3, "/..") == 0))
                return reply_error(
                        reply, REPLY_INVALID_VALUE,
                        "Field 'cgroup' must be an absolute path below the cgroup root, without . or .. segments");
        snprintf(path, sizeof path, "%s/sys/fs/cgroup%s", tn->root, cg);
        if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
                return reply_error(reply, REPLY_INVALID_VALUE, "No cgroup %s", cg);
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
                return reply_error(reply, REPLY_INVALID_VALUE, "No process %d", (int) pid);
        snprintf(path, sizeof path, "/proc/%d", (int) pid);
        if (stat(path, &st) < 0 || tenants_pid_starttime("/proc", pid, ret_starttime) < 0)
                return reply_error(reply, REPLY_INVALID_VALUE, "No process %d", (int) pid);
        if (!who->admin && st.st_uid != who->uid)
                return reply_error(reply, REPLY_FORBIDDEN, "Process %d does not belong to uid %u", (int) pid,
                                   (unsigned) who->uid);
        return TAKE_FD(fd);
}

enum { CREATE_NAME, CREATE_PRIORITY, CREATE_CLASS, CREATE_PID, CREATE_CGROUP, CREATE_ADDRESSES };
static const Field create_fields[] = {
        [CREATE_NAME] = { "name", FIELD_STRING, true, 1, 63, .id = 1 },
        [CREATE_PRIORITY] = { "priority", FIELD_INT, false, 0, 7, .id = 2 },
        [CREATE_CLASS] = { "workload_class", FIELD_STRING, false, 1, 32, .id = 3 },
        [CREATE_PID] = { "pid", FIELD_INT, false, 1, INT_MAX, .id = 4 },
        [CREATE_CGROUP] = { "cgroup", FIELD_STRING, false, 1, 4095, .id = 5 },
        [CREATE_ADDRESSES] = { "addresses", FIELD_JSON, false, .id = 6 },
};
const FieldSet tenants_create_body = { create_fields, ELEMENTSOF(create_fields) };

#define TENANT_ADDRESSES_BUF (TENANT_ADDRESSES_MAX * INET6_ADDRSTRLEN)

static const char *param_str(const Request *req, unsigned i, const char *def) {
        return req->params[i].set ? req->params[i].s : def;
}

static int64_t param_int(const Request *req, unsigned i, int64_t def) {
        return req->params[i].set ? req->params[i].i : def;
}

/* Checks the declared addresses (a JSON array of 0..TENANT_ADDRESSES_MAX IPv4 or IPv6 addresses,
 * none unspecified, none twice) and writes them normalised (inet_ntop, one blank between) into
 * buf. Returns 0 or a negative errno with reply filled. */
static int addresses_parse(json_object *j, Reply *reply, char *buf, size_t size) {
        char seen[TENANT_ADDRESSES_MAX][INET6_ADDRSTRLEN];
        size_t n, len = 0;

        if (!json_object_is_type(j, json_type_array))
                return reply_error(reply, REPLY_WRONG_TYPE, "Field 'addresses' must be an array of IP addresses");
        n = json_object_array_length(j);
        if (n > TENANT_ADDRESSES_MAX)
                return reply_error(reply, REPLY_INVALID_VALUE, "Field 'addresses' holds more than %d addresses",
                                   TENANT_ADDRESSES_MAX);
        buf[0] = '\0';
        for (size_t i = 0; i < n; i++) {
                json_object *v = json_object_array_get_idx(j, i);
                const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
                unsigned char a[16], zero[16] = {};
                int af = s && strchr(s, ':') ? AF_INET6 : AF_INET;

                if (!s || inet_pton(af, s, a) != 1)
                        return reply_error(reply, REPLY_INVALID_VALUE,
                                           "Field 'addresses'[%zu] is not an IPv4 or IPv6 address", i);
                if (memcmp(a, zero, af == AF_INET ? 4 : 16) == 0)
                        return reply_error(reply, REPLY_INVALID_VALUE,
                                           "Field 'addresses'[%zu] is the unspecified address", i);
                inet_ntop(af, a, seen[i], sizeof seen[i]);
                for (size_t k = 0; k < i; k++)
                        if (strcmp(seen[k], seen[i]) == 0)
                                return reply_error(reply, REPLY_INVALID_VALUE, "Field 'addresses' names %s twice",
                                                   seen[i]);
                len += (size_t) snprintf(buf + len, size - len, "%s%s", len ? " " : "", seen[i]);
        }
        return 0;
}

/* Fills t from a create body (already type-checked); returns a pidfd (or -EBADF
 * when no pid was given) or a negative errno with reply filled. */
static int create_parse(Tenants *tn, const Request *req, Reply *reply, Tenant *t, char *addresses) {
        int r;

        t->name = (char *) param_str(req, CREATE_NAME, NULL);
        if (!name_is_valid(t->name))
                return reply_error(
                        reply, REPLY_INVALID_VALUE,
                        "Field 'name' must be 1-63 characters of A-Z a-z 0-9 . _ - not starting with . or -");
        t->priority = (int) param_int(req, CREATE_PRIORITY, 4);
        t->workload_class = (char *) param_str(req, CREATE_CLASS, "batch");
        r = workload_class_check(reply, t->workload_class);
        if (r < 0)
                return r;
        t->cgroup = (char *) param_str(req, CREATE_CGROUP, NULL);
        if (t->cgroup && (r = cgroup_check(tn, reply, t->cgroup)) < 0)
                return r;
        if (req->params[CREATE_ADDRESSES].set && req->params[CREATE_ADDRESSES].j) {
                r = addresses_parse(req->params[CREATE_ADDRESSES].j, reply, addresses, TENANT_ADDRESSES_BUF);
                if (r < 0)
                        return r;
                t->addresses = addresses; /* the caller's buffer, like the other strings */
        }
        t->uid = req->who->uid;
        t->created_usec = (int64_t) now_usec(CLOCK_REALTIME);
        t->pid = (pid_t) param_int(req, CREATE_PID, 0);
        if (t->pid == 0)
                return -EBADF;
        return pid_check(req->who, reply, t->pid, &t->pid_starttime);
}

int tenants_op_create(void *userdata, const Request *req, Reply *reply) {
        Tenants *tn = userdata;
        char token[TOKEN_STRLEN + 1], hash[TOKEN_HASH_STRLEN + 1], msg[160], addresses[TENANT_ADDRESSES_BUF];
        _cleanup_close_ int pidfd = -EBADF;
        json_object *o;
        Tenant t = {};
        int r;

        pidfd = create_parse(tn, req, reply, &t, addresses);
        if (pidfd < 0 && pidfd != -EBADF)
                return pidfd;
        r = store_tenant_count(tn->store);
        if (r < 0)
                return r;
        if ((unsigned) r >= tn->conf.max_tenants)
                return reply_error(reply, REPLY_CONFLICT, "The tenant limit of %u is reached", tn->conf.max_tenants);
        r = tenants_admit_new(tn, req->who, &t, reply);
        if (r < 0)
                return r;

        r = token_generate(token);
        if (r < 0)
                return r;
        r = token_hash(token, hash);
        if (r < 0)
                return r;
        r = store_tenant_add(tn->store, &t, hash, &t.id);
        if (r == -EEXIST)
                return reply_error(reply, REPLY_CONFLICT, "A tenant named '%s' exists already", t.name);
        if (r < 0)
                return r;

        snprintf(msg, sizeof msg, "Tenant '%s' registered by uid %u", t.name, (unsigned) t.uid);
        (void) store_event_add(tn->store, t.id, "tenant-added", msg);
        if (pidfd >= 0 && (r = watch_add(tn, t.id, t.pid, TAKE_FD(pidfd))) < 0)
                log_warning_errno(r, "Failed to watch process %d of tenant %" PRId64 ", ignoring: %m", (int) t.pid,
                                  t.id);
        event_sink_emit(tn->sched, SCHED_EVENT_TENANT, t.id, t.priority, req->received_usec);

        o = tenant_to_json(tn, &t);
        if (o)
                json_object_object_add(o, "token", json_object_new_string(token));
        explicit_bzero(token, sizeof token);
        if (asprintf(&reply->location, "/v1/tenants/%" PRId64, t.id) < 0)
                reply->location = NULL;
        return reply_json(reply, 201, o);
}

int tenants_op_get(void *userdata, const Request *req, Reply *reply) {
        return tenant_reply(userdata, reply, 200, req->tenant);
}

int tenants_op_list(void *userdata, const Request *req, Reply *reply) {
        Tenants *tn = userdata;
        const Identity *who = req->who;
        json_object *o, *arr;
        Tenant *ts = NULL;
        size_t n = 0;
        int r;

        if (who->kind == IDENTITY_TOKEN) {
                ts = calloc(1, sizeof *ts);
                if (!ts)
                        return -ENOMEM;
                r = store_tenant_get(tn->store, who->tenant_id, ts);
                n = r >= 0;
                if (r == -ENOENT)
                        r = 0;
        } else
                r = store_tenant_list(tn->store, who->admin ? -1 : (long long) who->uid, &ts, &n);
        if (r < 0) {
                free(ts);
                return r;
        }
        o = json_object_new_object();
        arr = json_object_new_array();
        for (size_t i = 0; o && arr && i < n; i++)
                json_object_array_add(arr, tenant_to_json(tn, &ts[i]));
        tenant_list_free(ts, n);
        return reply_list(reply, o, "tenants", arr);
}

enum { UPDATE_NAME, UPDATE_PRIORITY, UPDATE_CLASS };
static const Field update_fields[] = {
        [UPDATE_NAME] = { "name", FIELD_STRING, false, 1, 63, .id = 1 },
        [UPDATE_PRIORITY] = { "priority", FIELD_INT, false, 0, 7, .id = 2 },
        [UPDATE_CLASS] = { "workload_class", FIELD_STRING, false, 1, 32, .id = 3 },
};
const FieldSet tenants_update_body = { update_fields, ELEMENTSOF(update_fields) };

int tenants_op_update(void *userdata, const Request *req, Reply *reply) {
        Tenants *tn = userdata;
        Tenant t = *req->tenant;
        int r;

        /* t borrows the request's strings and the resolved tenant's: nothing here is freed. */
        t.name = (char *) param_str(req, UPDATE_NAME, t.name);
        t.workload_class = (char *) param_str(req, UPDATE_CLASS, t.workload_class);
        t.priority = (int) param_int(req, UPDATE_PRIORITY, t.priority);
        if (!name_is_valid(t.name))
                return reply_error(
                        reply, REPLY_INVALID_VALUE,
                        "Field 'name' must be 1-63 characters of A-Z a-z 0-9 . _ - not starting with . or -");
        r = workload_class_check(reply, t.workload_class);
        if (r < 0)
                return r;
        r = tenants_admit_priority(tn, req->who, req->tenant->priority, t.priority, reply);
        if (r < 0)
                return r;
        tn->generation++;
        r = store_tenant_update(tn->store, &t);
        if (r == -EEXIST)
                return reply_error(reply, REPLY_CONFLICT, "A tenant named '%s' exists already", t.name);
        if (r < 0)
                return r;
        (void) store_event_add(tn->store, t.id, "tenant-updated", "Tenant attributes changed");
        event_sink_emit(tn->sched, SCHED_EVENT_TENANT, t.id, t.priority, req->received_usec);
        return tenant_reply(tn, reply, 200, &t);
}

int tenants_op_delete(void *userdata, const Request *req, Reply *reply) {
        Tenants *tn = userdata;
        const Tenant *t = req->tenant;
        TenantWatch *w;
        char msg[128];
        int r;

        tn->generation++;
        r = store_tenant_remove(tn->store, t->id);
        if (r < 0)
                return r;
        w = watch_find(tn, t->id);
        if (w)
                watch_free(tn, w);
        snprintf(msg, sizeof msg, "Tenant '%s' removed", t->name);
        tenant_removed(tn, t, req->received_usec, msg);
        return reply_empty(reply, 204);
}

static int events_reply(Tenants *tn, Reply *reply, int64_t tenant_id) {
        StoreEvent *ev = NULL;
        size_t n = 0;
        json_object *o, *arr;
        int r;

        r = store_event_list(tn->store, tenant_id, EVENTS_LIMIT, &ev, &n);
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
                json_object_object_add(e, "tenant_id",
                                       ev[i].tenant_id > 0 ? json_object_new_int64(ev[i].tenant_id) : NULL);
                json_object_object_add(e, "kind", json_object_new_string(ev[i].kind));
                json_object_object_add(e, "message", json_object_new_string(ev[i].message));
                json_object_array_add(arr, e);
        }
        store_events_free(ev, n);
        return reply_list(reply, o, "events", arr);
}

int tenants_op_events(void *userdata, const Request *req, Reply *reply) {
        return events_reply(userdata, reply, req->tenant->id);
}

int events_op_list(void *userdata, const Request *req, Reply *reply) {
        return events_reply(userdata, reply, 0);
}
