/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* maioctl status: GET /v1/status as key/value lines, with the "features" object
 * (see detect_to_json() in the daemon) condensed to one line per subsystem and
 * the tuners that fight over maiod's knobs ("conflicts") on one line. */

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "macro.h"
#include "maioctl.h"
#include "reply.h"
#include "table.h"

/* Writes one line's value for the object o (which may be NULL: member missing). */
typedef void (*StatusFormat)(FILE *f, json_object *o);

static void status_uptime(FILE *f, json_object *status) {
        json_object *v;
        double sec;
        long s;

        v = reply_member(status, "uptime_sec", json_type_double) ?: reply_member(status, "uptime_sec", json_type_int);
        if (!v) {
                fputs("-", f);
                return;
        }
        sec = json_object_get_double(v);
        if (!(sec >= 0 && sec < 1e15)) { /* NaN, negative, absurd: show it, do not convert it */
                fprintf(f, "%gs", sec);
                return;
        }
        s = (long) sec;
        if (sec < 60)
                fprintf(f, "%.1fs", sec);
        else if (s < 3600)
                fprintf(f, "%ldm %02lds", s / 60, s % 60);
        else if (s < 86400)
                fprintf(f, "%ldh %02ldm", s / 3600, s % 3600 / 60);
        else
                fprintf(f, "%ldd %02ldh", s / 86400, s % 86400 / 3600);
}

static void status_io_uring(FILE *f, json_object *o) {
        bool available;

        if (!reply_bool(o, "available", &available))
                fputs("-", f);
        else if (!available)
                fputs("unavailable", f);
        else
                fprintf(f, "sqpoll %s, send_zc %s, buf_ring %s", reply_text(o, "sqpoll"), reply_text(o, "send_zc"),
                        reply_text(o, "buf_ring"));
}

static void status_bpf(FILE *f, json_object *o) {
        if (!o)
                fputs("-", f);
        else
                fprintf(f, "prog_load %s, xdp %s", reply_text(o, "prog_load"), reply_text(o, "xdp"));
}

static void status_damon(FILE *f, json_object *o) {
        bool sysfs;

        if (!reply_bool(o, "sysfs", &sysfs))
                fputs("-", f);
        else if (!sysfs)
                fputs("absent", f);
        else
                fprintf(f, "sysfs, kdamonds %s, running %s, foreign %s", reply_text(o, "kdamonds"),
                        reply_text(o, "running"), reply_text(o, "foreign"));
}

static void status_numa(FILE *f, json_object *o) {
        int64_t n;

        if (!reply_int(o, "nodes", &n))
                fputs("-", f);
        else
                fprintf(f, "%" PRId64 " node%s (%s)", n, n == 1 ? "" : "s", reply_text(o, "nodes_list"));
}

static void status_tiers(FILE *f, json_object *numa) {
        json_object *tiers = reply_member(numa, "memory_tiers", json_type_array);
        size_t n = tiers ? json_object_array_length(tiers) : 0;

        if (n == 0)
                fputs(tiers ? "none" : "-", f);
        for (size_t i = 0; i < n; i++) {
                json_object *tier = json_object_array_get_idx(tiers, i);

                fprintf(f, "%s%s", i > 0 ? "; " : "",
                        json_object_is_type(tier, json_type_string) ? json_object_get_string(tier) : "?");
        }
}

static void status_hugepage_size(FILE *f, int64_t kb) {
        if (kb >= 1048576 && kb % 1048576 == 0)
                fprintf(f, "%" PRId64 "G", kb / 1048576);
        else if (kb >= 1024 && kb % 1024 == 0)
                fprintf(f, "%" PRId64 "M", kb / 1024);
        else
                fprintf(f, "%" PRId64 "k", kb);
}

static void status_hugepages(FILE *f, json_object *features) {
        json_object *sizes = reply_member(features, "hugepages", json_type_array);
        size_t n = sizes ? json_object_array_length(sizes) : 0;

        if (n == 0)
                fputs(sizes ? "none" : "-", f);
        for (size_t i = 0; i < n; i++) {
                json_object *size = json_object_array_get_idx(sizes, i);
                int64_t kb;

                fputs(i > 0 ? "; " : "", f);
                if (reply_int(size, "size_kb", &kb))
                        status_hugepage_size(f, kb);
                else
                        fputs("?", f);
                fprintf(f, ": %s total, %s free", reply_text(size, "total"), reply_text(size, "free"));
        }
}

static void status_numa_balancing(FILE *f, json_object *o) {
        int64_t mode;
        bool tiering;

        if (!reply_int(o, "mode", &mode))
                fputs("-", f);
        else if (mode < 0)
                fputs("absent", f);
        else
                fprintf(f, "%" PRId64 " (%s)", mode, reply_text(o, "mode_name"));
        if (reply_bool(o, "tiering_available", &tiering) && tiering)
                fputs(", tiering available", f);
}

/* "irqbalance (pid 812); kdamond x2", "none", or "-" when maiod sent no list. */
static void status_conflicts(FILE *f, json_object *status) {
        json_object *list = reply_member(status, "conflicts", json_type_array);
        size_t n = list ? json_object_array_length(list) : 0;

        if (n == 0)
                fputs(list ? "none" : "-", f);
        for (size_t i = 0; i < n; i++) {
                json_object *c = json_object_array_get_idx(list, i);
                int64_t pid, count;

                fprintf(f, "%s%s", i > 0 ? "; " : "", reply_text(c, "name"));
                if (reply_int(c, "pid", &pid))
                        fprintf(f, " (pid %" PRId64 ")", pid);
                else if (reply_int(c, "count", &count) && count > 1)
                        fprintf(f, " x%" PRId64, count);
        }
}

/* "16 tenants per uid, priority >= 4, owned cgroups (v2); group users: 64, >= 2", or "-". */
static void status_admission(FILE *f, json_object *a) {
        json_object *groups = reply_member(a, "groups", json_type_array);
        int64_t n, p;

        if (!reply_int(a, "max_tenants_per_uid", &n) || !reply_int(a, "highest_priority", &p)) {
                fputs("-", f);
                return;
        }
        fprintf(f, "%" PRId64 " tenants per uid, priority >= %" PRId64 ", owned cgroups (%s)", n, p,
                reply_text(a, "cgroup_hierarchy"));
        for (size_t i = 0; groups && i < json_object_array_length(groups); i++) {
                json_object *g = json_object_array_get_idx(groups, i);

                if (reply_int(g, "max_tenants_per_uid", &n) && reply_int(g, "highest_priority", &p))
                        fprintf(f, "; group %s: %" PRId64 ", >= %" PRId64, reply_text(g, "group"), n, p);
        }
}

/* "1,3: 1 held (cpu 1: tenant 3), 1 free", "none configured", or "-" (an older maiod). */
static void status_pollers(FILE *f, json_object *p) {
        json_object *held = reply_member(p, "held", json_type_array);
        const char *configured = reply_text(p, "configured");
        int64_t free_n, cpu, tenant;

        if (!held || !reply_int(p, "free", &free_n)) {
                fputs("-", f);
                return;
        }
        if (!*configured) {
                fputs("none configured", f);
                return;
        }
        fprintf(f, "%s: %zu held", configured, json_object_array_length(held));
        for (size_t i = 0; i < json_object_array_length(held); i++) {
                json_object *h = json_object_array_get_idx(held, i);

                if (reply_int(h, "cpu", &cpu) && reply_int(h, "tenant_id", &tenant))
                        fprintf(f, "%scpu %" PRId64 ": tenant %" PRId64, i ? ", " : " (", cpu, tenant);
        }
        fprintf(f, "%s, %" PRId64 " free", json_object_array_length(held) ? ")" : "", free_n);
}

/* Anchor prefetching host-wide: decisions served from anchors since start, and what is held. */
static void status_anchors(FILE *f, json_object *o) {
        int64_t served, decisions, entries, buckets;

        if (!reply_int(o, "served", &served) || !reply_int(o, "decisions", &decisions) ||
            !reply_int(o, "entries", &entries) || !reply_int(o, "buckets", &buckets)) {
                fputs("-", f);
                return;
        }
        fprintf(f,
                "%" PRId64 " of %" PRId64 " decisions since start (%.0f%%); %" PRId64 " entries in %" PRId64
                " context buckets",
                served, decisions, decisions > 0 ? 100.0 * (double) served / (double) decisions : 0.0, entries,
                buckets);
}

typedef struct StatusLine {
        const char *label;
        const char *section;    /* member of the status object holding the value, NULL: the object itself */
        const char *subsection; /* member of that, or NULL */
        const char *key;        /* a value shown as it is ... */
        StatusFormat format;    /* ... or the (sub)section condensed by this function */
} StatusLine;

static const StatusLine status_lines[] = {
        { "version", NULL, NULL, "version" },
        { "pid", NULL, NULL, "pid" },
        { "uptime", NULL, NULL, NULL, status_uptime },
        { "config", NULL, NULL, "config_file" },
        { "state dir", NULL, NULL, "state_dir" },
        { "runtime dir", NULL, NULL, "runtime_dir" },
        { "root", NULL, NULL, "root" },
        { "dry run", NULL, NULL, "dry_run" },
        { "unix socket", "listeners", NULL, "unix" },
        { "tcp", "listeners", NULL, "tcp" },
        { "io_uring", "features", "io_uring", NULL, status_io_uring },
        { "bpf", "features", "bpf", NULL, status_bpf },
        { "damon", "features", "damon", NULL, status_damon },
        { "numa", "features", "numa", NULL, status_numa },
        { "memory tiers", "features", "numa", NULL, status_tiers },
        { "hugepages", "features", NULL, NULL, status_hugepages },
        { "numa_balancing", "features", "numa_balancing", NULL, status_numa_balancing },
        { "conflicts", NULL, NULL, NULL, status_conflicts },
        { "tenants", "counts", NULL, "tenants" },
        { "admission", "admission", NULL, NULL, status_admission },
        { "poller cpus", "pollers", NULL, NULL, status_pollers },
        { "tier anchors", "tiering", "anchors", NULL, status_anchors },
        { "events", "counts", NULL, "events" },
        { "requests", "counts", NULL, "requests" },
        { "connections", "counts", NULL, "connections" },
};

/* Formats o with fn and adds the text under label. Returns 0 or -ENOMEM. */
static int status_add_formatted(Table *t, const char *label, StatusFormat fn, json_object *o) {
        char *text = NULL;
        size_t size = 0;
        FILE *f;
        int r;

        f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        fn(f, o);
        r = fclose(f) == 0 ? 0 : -ENOMEM; /* memstreams fail only on allocation */
        if (r >= 0)
                r = table_add_pair(t, label, text);
        free(text);
        return r;
}

static int status_add_line(Table *t, json_object *status, const StatusLine *l) {
        json_object *o = status;

        if (l->section)
                o = reply_member(o, l->section, json_type_object);
        if (l->subsection)
                o = reply_member(o, l->subsection, json_type_object);

        if (l->format)
                return status_add_formatted(t, l->label, l->format, o);
        return table_add_pair(t, l->label, reply_text(o, l->key));
}

static int status_table(json_object *status) {
        _cleanup_(table_freep) Table *t = table_new(2, NULL);
        int r = t ? 0 : -ENOMEM;

        for (size_t i = 0; i < ELEMENTSOF(status_lines) && r >= 0; i++)
                r = status_add_line(t, status, &status_lines[i]);
        return r < 0 ? r : table_print(t, stdout);
}

ExitStatus status_show(const Args *a) {
        _cleanup_json_ json_object *reply = NULL;
        ExitStatus e;

        e = maioctl_call(a, "GET", "/v1/status", NULL, &reply);
        if (e != EXIT_OK)
                return e;
        if (!reply || !json_object_is_type(reply, json_type_object))
                return maioctl_bad_reply(a, "no status object");
        return maioctl_output(a, reply, status_table);
}
