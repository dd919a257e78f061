/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Manager owns the event loop and everything hanging off it: config,
 * store, detected features, listeners, signals, notify/watchdog, tenant watches. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

#include "conf.h"
#include "detect.h"
#include "http.h"
#include "metrics.h"
#include "ops.h"
#include "store.h"
#include "topo.h"

typedef struct TenantWatch TenantWatch;
typedef struct Journal Journal;
typedef struct Tierd Tierd;

typedef struct ManagerArgs {
        const char *config_path;
        bool config_must_exist;  /* --config given explicitly */
        const char *state_dir;
        const char *runtime_dir;
        const char *root;
        bool dry_run;
        int log_level_override;  /* -1 = take [daemon] log_level */
} ManagerArgs;

struct Manager {
        sd_event *event;
        Config *config;

        char *config_path;
        bool config_must_exist;
        char *state_dir;
        char *runtime_dir;
        char *root;
        char *socket_path;
        bool dry_run;
        int log_level_override;

        Store *store;
        Journal *journal;        /* the knob journal's runtime state (journal.c) */
        Tierd *tierd;            /* tiering: per-tenant thresholds and their applier (tierd.c) */
        Features features;
        Topology *topology;      /* re-read on rtnetlink link events (topo.c) */
        TopoWatch *topo_watch;
        Metrics metrics;

        HttpServer *http_unix;
        HttpServer *http_tcp;
        char *tcp_listen;        /* what the TCP listener was bound with, NULL = none */
        bool socket_activated;   /* the unix socket came from systemd */

        bool have_admin_gid;     /* [api] admin_group resolved */
        gid_t admin_gid;

        TenantWatch *watches;    /* pidfd watches, a list */
        uint64_t tenants_generation; /* bumped when a tenant goes away: invalidates cached token identities */

        sd_event_source *status_timer;
        uint64_t start_usec;     /* CLOCK_MONOTONIC */
};

/* Builds the manager: copies args, loads the config (error text logged),
 * creates the event loop with signal sources and watchdog. Returns 0 or -errno. */
int manager_new(const ManagerArgs *args, Manager **ret);
Manager *manager_free(Manager *m);
static inline void manager_freep(Manager **m) {
        manager_free(*m);
}

/* Opens the store, detects features, listens (socket activation first), re-arms
 * tenant watches. After it returns 0 the API is reachable. */
int manager_start(Manager *m);
/* Sends READY=1 and runs the loop until SIGTERM/SIGINT. Returns the exit code. */
int manager_run(Manager *m);
/* Reloads the configuration; on failure keeps the old one. Returns 0 or -errno. */
int manager_reload(Manager *m);

/* True if the identity (uid, gid and supplementary groups) is an administrator. */
bool manager_is_admin(Manager *m, uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups);

/* Seconds since start, for status and metrics. */
double manager_uptime_sec(const Manager *m);

int manager_op_status(Manager *m, const Request *req, Reply *reply);
