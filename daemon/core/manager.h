/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Manager owns the event loop and everything hanging off it: config,
 * store, detected features, listeners, signals, notify/watchdog, tenant watches. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

#include "conf.h"
#include "detect.h"
#include "fleet.h"
#include "http.h"
#include "journal.h"
#include "metrics.h"
#include "mflowd.h"
#include "netlink.h"
#include "ops.h"
#include "pools.h"
#include "psi.h"
#include "scheduler.h"
#include "store.h"
#include "tenants.h"
#include "tierd.h"
#include "topo.h"

typedef struct ManagerArgs {
        const char *config_path;
        bool config_must_exist; /* --config given explicitly */
        const char *state_dir;
        const char *runtime_dir;
        const char *root;
        bool dry_run;
        int log_level_override; /* -1 = take [daemon] log_level */
} ManagerArgs;

/* The Manager wires the modules together and owns what belongs to no module (paths, the loop,
 * signals, listeners, sd_notify). Modules get what they need at construction, never the Manager. */
typedef struct Manager {
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
        Features features;
        Journal *journal; /* the one writer of kernel knobs */
        TopoState *topo;  /* the topology, re-read on rtnetlink link events */
        Tenants *tenants;
        Pools *pools;         /* the hugepage reserve */
        Tierd *tierd;         /* tiering: per-tenant thresholds and their applier */
        Fleet *fleet;         /* models shared with other hosts through etcd */
        Mflow *mflow;         /* MFLOW: XDP on the [mflow] devices, elephants and their splitting cores */
        Scheduler *sched;     /* allocates the scarce resources by priority, on events */
        EventSink sched_sink; /* where the modules below announce what may change an allocation */
        PsiWatch *psi;        /* the memory-pressure trigger, NULL: none */

        Ops ops; /* the handlers' contexts */
        MetricsRegistry metrics;
        HttpConf http_conf;
        HttpStats http_stats;
        HttpServer *http_unix;
        HttpServer *http_tcp;
        NetlinkServer *netlink; /* NULL: off, or the port id is held by another process */
        NetlinkStats netlink_stats;
        SubscriptionsConf subscriptions_conf; /* [api] netlink_subscriptions_* */
        Notifier notifier;                    /* the modules announce events here (to netlink subscribers) */
        uint32_t netlink_port;                /* the port id the server is bound to */
        bool netlink_announced;               /* RUNTIME_DIR/maiod.netlink written (removed at exit) */
        char *netlink_error;                  /* why the netlink API is not served, NULL when it is (or is off) */
        char *tcp_listen;                     /* what the TCP listener was bound with, NULL = none */
        bool socket_activated;                /* the unix socket came from systemd */

        uint64_t reloads_total;
        uint64_t reload_failures_total;

        sd_event_source *status_timer;
        uint64_t start_usec; /* CLOCK_MONOTONIC */
} Manager;

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

/* Seconds since start, for status and metrics. */
double manager_uptime_sec(const Manager *m);

/* GET /v1/status (Ops.status); userdata is the Manager. */
int manager_op_status(void *userdata, const Request *req, Reply *reply);
