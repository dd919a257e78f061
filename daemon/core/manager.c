/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Manager lifecycle: config, store, feature detection, listeners (socket
 * activation first), signals, sd_notify/watchdog, reload, and GET /v1/status. */
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "log.h"
#include "maio-config.h"
#include "manager.h"
#include "time-util.h"

#define LISTEN_BACKLOG 4096

double manager_uptime_sec(const Manager *m) {
        return (double) (now_usec(CLOCK_MONOTONIC) - m->start_usec) / 1e6;
}

static void manager_resolve_admin_group(Manager *m) {
        struct group *g;

        m->http_conf.have_admin_gid = false;
        if (!m->config->admin_group || !m->config->admin_group[0])
                return;
        errno = 0;
        g = getgrnam(m->config->admin_group);
        if (!g) {
                log_warning("Admin group '%s' does not exist, only uid 0 is administrator.", m->config->admin_group);
                return;
        }
        m->http_conf.admin_gid = g->gr_gid;
        m->http_conf.have_admin_gid = true;
}

static void manager_apply_log_level(Manager *m) {
        log_set_max_level(m->log_level_override >= 0 ? m->log_level_override : m->config->log_level);
}

static void manager_notify_status(Manager *m) {
        int n = m->store ? store_tenant_count(m->store) : 0;
        const char *note = m->tierd ? tierd_status_note(m->tierd) : NULL;

        (void) sd_notifyf(false, "STATUS=Serving %d tenant%s on %s; %llu requests answered%s%s", n < 0 ? 0 : n,
                          n == 1 ? "" : "s", m->socket_path, (unsigned long long) m->http_stats.requests_total,
                          note ? "; " : "", note ?: "");
}

static int on_status_timer(sd_event_source *es, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        manager_notify_status(m);
        (void) sd_event_source_set_time_relative(es, (uint64_t) m->config->status_interval_s * 1000000);
        return 0;
}

static int on_stop_signal(sd_event_source *es, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;

        log_info("Received SIG%s, stopping.", sigabbrev_np((int) si->ssi_signo));
        (void) sd_notify(false, "STOPPING=1\nSTATUS=Stopping");
        return sd_event_exit(m->event, 0);
}

static int on_sighup(sd_event_source *es, const struct signalfd_siginfo *si, void *userdata) {
        (void) manager_reload(userdata);
        return 0;
}

static int manager_add_signals(Manager *m) {
        static const struct {
                int sig;
                sd_event_signal_handler_t handler;
                const char *desc;
        } sigs[] = {
                { SIGTERM, on_stop_signal, "signal-term" },
                { SIGINT, on_stop_signal, "signal-int" },
                { SIGHUP, on_sighup, "signal-hup" },
        };
        sigset_t mask;

        sigemptyset(&mask);
        for (size_t i = 0; i < ELEMENTSOF(sigs); i++)
                sigaddset(&mask, sigs[i].sig);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return -errno;
        for (size_t i = 0; i < ELEMENTSOF(sigs); i++) {
                sd_event_source *s;
                int r = sd_event_add_signal(m->event, &s, sigs[i].sig, sigs[i].handler, m);

                if (r < 0)
                        return r;
                (void) sd_event_source_set_description(s, sigs[i].desc);
                (void) sd_event_source_set_floating(s, true); /* lives as long as the loop */
                sd_event_source_unref(s);
        }
        return 0;
}

int manager_new(const ManagerArgs *args, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = NULL;
        _cleanup_free_ char *error = NULL;
        int r;

        m = calloc(1, sizeof *m);
        if (!m)
                return log_oom();
        m->start_usec = now_usec(CLOCK_MONOTONIC);
        m->config_must_exist = args->config_must_exist;
        m->dry_run = args->dry_run;
        m->log_level_override = args->log_level_override;
        m->config_path = strdup(args->config_path);
        m->state_dir = strdup(args->state_dir);
        m->runtime_dir = strdup(args->runtime_dir);
        m->root = strdup(args->root);
        if (!m->config_path || !m->state_dir || !m->runtime_dir || !m->root ||
            asprintf(&m->socket_path, "%s/maiod.sock", args->runtime_dir) < 0)
                return log_oom();

        r = conf_load(m->config_path, m->config_must_exist, &m->config, &error);
        if (r < 0)
                return log_error_errno(r, "Invalid configuration: %s", error ? error : "unknown error");
        manager_apply_log_level(m);
        manager_resolve_admin_group(m);

        r = sd_event_default(&m->event);
        if (r < 0)
                return log_error_errno(r, "Failed to create the event loop: %m");
        r = manager_add_signals(m);
        if (r < 0)
                return log_error_errno(r, "Failed to set up signal handling: %m");
        /* A no-op unless WATCHDOG_USEC is set for us; then pings run inside the loop. */
        r = sd_event_set_watchdog(m->event, true);
        if (r < 0)
                log_warning_errno(r, "Failed to enable the watchdog, ignoring: %m");
        else if (r > 0)
                log_debug("Watchdog enabled.");

        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        sd_event_source_disable_unref(m->status_timer);
        /* Our own socket file goes with us; systemd's stays for the next activation. */
        if (m->http_unix && !m->socket_activated)
                (void) unlink(m->socket_path);
        if (m->netlink_announced) {
                _cleanup_free_ char *path = NULL;

                if (asprintf(&path, "%s/maiod.netlink", m->runtime_dir) >= 0)
                        (void) unlink(path);
        }
        http_server_free(m->http_unix);
        http_server_free(m->http_tcp);
        m->notifier = (Notifier) {}; /* nobody listens any more */
        netlink_server_free(m->netlink);
        free(m->netlink_error);
        psi_watch_free(m->psi);
        sched_free(m->sched); /* before the modules whose resources it allocates */
        fleet_free(m->fleet); /* before tiering: its lookups hold tenants of it */
        mflow_free(m->mflow);
        tierd_free(m->tierd);
        pools_free(m->pools);
        tenants_free(m->tenants);
        journal_free(m->journal);
        topo_state_free(m->topo);
        store_free(m->store);
        detect_done(&m->features);
        conf_free(m->config);
        sd_event_unref(m->event);
        free(m->config_path);
        free(m->state_dir);
        free(m->runtime_dir);
        free(m->root);
        free(m->socket_path);
        free(m->tcp_listen);
        free(m);
        return NULL;
}

/* mkdir -p with mode for the last component only; parents get 0755. */
static int mkdir_p(const char *path, mode_t mode) {
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = '\0';
                if (mkdir(p, 0755) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

/* Status and logs name the path a passed socket is bound to, which the socket
 * unit chooses; an unnamed or abstract socket keeps the default path. */
static int manager_adopt_socket_path(Manager *m, int fd) {
        struct sockaddr_un sa = {};
        socklen_t len = sizeof sa;
        size_t off = offsetof(struct sockaddr_un, sun_path);
        char *p;

        if (getsockname(fd, (struct sockaddr *) &sa, &len) < 0)
                return -errno;
        if (len <= off || sa.sun_path[0] == '\0')
                return 0;
        p = strndup(sa.sun_path, len - off);
        if (!p)
                return -ENOMEM;
        free(m->socket_path);
        m->socket_path = p;
        return 0;
}

/* The unix listener: a socket systemd passed us (maiod.socket), else our own. */
static int manager_listen_unix(Manager *m) {
        int n = sd_listen_fds(true), fd = -EBADF, r;

        for (int i = 0; i < n; i++)
                if (sd_is_socket_unix(SD_LISTEN_FDS_START + i, SOCK_STREAM, 1, NULL, 0) > 0) {
                        fd = SD_LISTEN_FDS_START + i;
                        m->socket_activated = true;
                        if (manager_adopt_socket_path(m, fd) < 0)
                                log_warning("Cannot tell the path of the passed socket, ignoring.");
                        log_info("Using the unix socket passed by systemd.");
                } else
                        (void) close(SD_LISTEN_FDS_START + i);

        if (fd < 0) {
                fd = http_listen_unix(m->socket_path, m->config->socket_mode, LISTEN_BACKLOG);
                if (fd < 0)
                        return log_error_errno(fd, "Failed to listen on %s: %m", m->socket_path);
        }
        r = http_server_new(m->event, &(HttpContext) { &m->ops, m->tenants, &m->http_conf, &m->http_stats }, HTTP_UNIX,
                            fd, &m->http_unix);
        if (r < 0)
                return r;
        log_info("Listening on %s", m->socket_path);
        return 0;
}

/* (Re)starts the TCP listener when [api] listen asks for one it does not have yet. */
static int manager_listen_tcp(Manager *m) {
        const char *want = m->config->listen;
        HttpServer *s = NULL;
        char *copy = NULL;
        int fd, r;

        if (m->tcp_listen && want && strcmp(m->tcp_listen, want) == 0)
                return 0;
        if (want && want[0]) {
                copy = strdup(want);
                if (!copy)
                        return log_oom();
                fd = http_listen_tcp(want, LISTEN_BACKLOG);
                if (fd < 0) {
                        free(copy);
                        return log_error_errno(fd, "Failed to listen on %s: %m", want);
                }
                r = http_server_new(m->event, &(HttpContext) { &m->ops, m->tenants, &m->http_conf, &m->http_stats },
                                    HTTP_TCP, fd, &s);
                if (r < 0) {
                        free(copy);
                        return r;
                }
                log_info("Listening on tcp %s (bearer tokens required for tenant operations)", want);
        }
        http_server_free(m->http_tcp);
        free(m->tcp_listen);
        m->http_tcp = s;
        m->tcp_listen = copy;
        return 0;
}

/* RUNTIME_DIR/maiod.netlink: "PORT PID\n", written atomically once the port id is bound. Netlink
 * clients accept replies only from uid 0 with this pid (SCM_CREDENTIALS), so a process that binds
 * the port id before maiod (or after it stopped) is refused. Returns 0 or -errno (logged). */
static int manager_announce_netlink(Manager *m) {
        _cleanup_free_ char *path = NULL, *tmp = NULL;
        _cleanup_fclose_ FILE *f = NULL;

        if (asprintf(&path, "%s/maiod.netlink", m->runtime_dir) < 0 || asprintf(&tmp, "%s.tmp", path) < 0)
                return log_oom();
        f = fopen(tmp, "we");
        if (!f)
                return log_error_errno(errno, "Failed to write %s: %m", tmp);
        fprintf(f, "%" PRIu32 " %d\n", m->netlink_port, (int) getpid());
        if (fflush(f) != 0 || ferror(f) || fchmod(fileno(f), 0644) < 0 || rename(tmp, path) < 0) {
                int r = -errno;

                (void) unlink(tmp);
                return log_error_errno(r, "Failed to announce the netlink port in %s: %m", path);
        }
        m->netlink_announced = true;
        return 0;
}

/* The netlink API on [api] netlink_port. A port id held by someone else (squatting, or another
 * maiod in this network namespace) is reported and tolerated: REST keeps serving. */
static int manager_listen_netlink(Manager *m) {
        NetlinkContext ctx = { .ops = &m->ops,
                               .conf = &m->http_conf,
                               .subscriptions = &m->subscriptions_conf,
                               .stats = &m->netlink_stats };
        uint32_t port = (uint32_t) m->config->netlink_port;
        int r;

        if (port == 0)
                return 0;
        r = netlink_server_new(m->event, &ctx, port, m->config->netlink_rcvbuf, &m->netlink);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0) {
                if (asprintf(&m->netlink_error, "netlink port id %" PRIu32 " %s", port,
                             r == -EADDRINUSE ? "is held by another process" : "cannot be bound") < 0)
                        m->netlink_error = NULL;
                log_full_errno(r == -EADDRINUSE ? LOG_WARNING : LOG_ERR, r,
                               "The netlink API is not served: %s (%m); REST keeps serving.",
                               m->netlink_error ?: "bind failed");
                return 0;
        }
        m->netlink_port = port;
        m->notifier = netlink_server_notifier(m->netlink);
        log_info("Netlink API on NETLINK_USERSOCK port id %" PRIu32 ".", port);
        return manager_announce_netlink(m);
}

static void manager_log_features(Manager *m) {
        _cleanup_free_ char *summary = NULL;

        if (detect_summary(&m->features, &summary) >= 0)
                log_info("Features: %s", summary);
        if (m->features.damon_kdamonds_foreign > 0)
                log_notice("%u DAMON kdamond(s) not started by maiod are running; maiod will not touch them.",
                           m->features.damon_kdamonds_foreign);
}

/* [tenants] with its group sections resolved to gids (a group that does not exist is logged and
 * left out), and the admin group for the reload check. */
static void manager_push_tenants_conf(Manager *m) {
        const Config *c = m->config;
        TenantsConf tc = {
                .max_tenants = c->max_tenants,
                .on_pid_exit = (int) c->on_pid_exit,
                .max_per_uid = c->tenants_max_per_uid,
                .highest_priority = c->tenants_highest_priority,
                .have_admin_gid = m->http_conf.have_admin_gid,
                .admin_gid = m->http_conf.admin_gid,
        };

        for (size_t i = 0; i < c->n_tenant_groups && tc.n_groups < TENANTS_GROUPS_MAX; i++) {
                const TenantGroupConf *g = &c->tenant_groups[i];
                struct group *gr = getgrnam(g->name);

                if (!gr) {
                        log_warning("[tenants.group.%s]: no such group, ignoring the section.", g->name);
                        continue;
                }
                tc.groups[tc.n_groups] = (TenantGroupLimits) {
                        .gid = gr->gr_gid,
                        .max_per_uid = g->max_per_uid,
                        .highest_priority = g->highest_priority,
                };
                snprintf(tc.groups[tc.n_groups].name, sizeof tc.groups[tc.n_groups].name, "%s", g->name);
                tc.n_groups++;
        }
        m->http_conf.need_groups = tc.n_groups > 0;
        tenants_set_conf(m->tenants, &tc);
}

/* The modules' views of the configuration, after a load or reload. */
static void manager_sched_conf(const Config *c, SchedConf *ret) {
        *ret = (SchedConf) {
                .mode = c->scheduler_mode == SCHEDULER_MODE_PERIODIC ? SCHED_MODE_PERIODIC : SCHED_MODE_EVENT,
                .interval_usec = (uint64_t) c->scheduler_period_ms * 1000,
                .fallback_usec = (uint64_t) c->scheduler_fallback_s * 1000000,
                .pass_events = c->scheduler_pass_events,
                .classes = { .n = c->scheduler_classes.n },
        };
        memcpy(ret->classes.class_of, c->scheduler_classes.class_of, sizeof ret->classes.class_of);
}

static void manager_push_config(Manager *m) {
        const Config *c = m->config;

        m->http_conf.max_connections = c->max_connections;
        m->http_conf.idle_timeout_s = c->idle_timeout_s;
        m->http_conf.request_timeout_s = c->request_timeout_s;
        m->ops.json_max_depth = c->json_max_depth;
        m->subscriptions_conf = (SubscriptionsConf) { .max_total = c->netlink_subscriptions_max,
                                                      .max_per_uid = c->netlink_subscriptions_per_uid };
        if (m->journal)
                journal_set_conf(m->journal, &(JournalConf) { .restore_on_exit = c->knobs_restore_on_exit,
                                                              .reconcile = (int) c->knobs_reconcile,
                                                              .enforce = c->knobs_enforce,
                                                              .drift_check_s = c->knobs_drift_check_s });
        if (m->tenants)
                manager_push_tenants_conf(m);
        if (m->pools)
                pools_set_conf(m->pools, &(PoolsConf) { .headroom_pages = c->pools_headroom_pages,
                                                        .max_grant_bytes = c->pools_max_grant_bytes,
                                                        .poller_cpus = c->pools_poller_cpus });
        if (m->tierd)
                tierd_set_config(m->tierd, c);
        if (m->fleet)
                fleet_set_config(m->fleet, c);
        if (m->mflow)
                mflow_set_config(m->mflow, c);
        if (m->sched) {
                SchedConf sc;

                manager_sched_conf(c, &sc);
                sched_set_conf(m->sched, &sc);
        }
}

static void manager_core_metrics_write(void *userdata, FILE *f) {
        Manager *m = userdata;

        metrics_header(f, "maiod_build_info", "gauge", "Build information, always 1.");
        fprintf(f, "maiod_build_info{version=\"%s\"} 1\n", MAIO_VERSION);
        metrics_header(f, "maiod_uptime_seconds", "gauge", "Seconds since maiod started.");
        fprintf(f, "maiod_uptime_seconds %.3f\n", manager_uptime_sec(m));
}

static void manager_reload_metrics_write(void *userdata, FILE *f) {
        Manager *m = userdata;

        metrics_u64(f, "maiod_config_reloads_total", "counter", "Configuration reloads that succeeded.",
                    m->reloads_total);
        metrics_u64(f, "maiod_config_reload_failures_total", "counter",
                    "Configuration reloads rejected (the old configuration stayed).", m->reload_failures_total);
}

#define EV(c) (1u << SCHED_EVENT_##c)

/* The scheduler hears every module that announces what may change an allocation, and allocates
 * each resource a module offers: one row per resource. */
static void manager_wire_scheduler(Manager *m) {
        const ResourceProvider resources[] = {
                { "promotion_bandwidth", "bytes/s", EV(TENANT) | EV(FEEDBACK) | EV(PRESSURE) | EV(LINK) | EV(DRIFT),
                  tierd_promotion_snapshot, tierd_promotion_apply, m->tierd },
                { "hugepages", "pages", EV(TENANT) | EV(HUGEPAGES), pools_hugepages_snapshot, pools_hugepages_apply,
                  m->pools },
                { "poller_cores", "cores", EV(TENANT) | EV(HUGEPAGES), pools_pollers_snapshot, pools_pollers_apply,
                  m->pools },
                { "splitting_cores", "core slots", EV(FLOW) | EV(TENANT) | EV(LINK), mflow_splitting_snapshot,
                  mflow_splitting_apply, m->mflow },
        };

        m->sched_sink = sched_event_sink(m->sched);
        tenants_set_event_sink(m->tenants, &m->sched_sink);
        tierd_set_event_sink(m->tierd, &m->sched_sink);
        topo_set_event_sink(m->topo, &m->sched_sink);
        journal_set_event_sink(m->journal, &m->sched_sink);
        mflow_set_event_sink(m->mflow, &m->sched_sink);
        pools_set_scheduler(m->pools, &m->sched_sink, &(ResourceDecider) { sched_decide, m->sched });
        for (size_t i = 0; i < ELEMENTSOF(resources); i++)
                (void) sched_add_resource(m->sched, &resources[i]);
}

/* Memory pressure is an event of the scheduler: a PSI trigger below the root, when the kernel has one. */
static void manager_watch_pressure(Manager *m) {
        unsigned ms = m->config->scheduler_psi_stall_ms;
        int r;

        if (ms == 0)
                return;
        r = psi_watch_new(m->event, m->root, (uint64_t) ms * 1000, 1000000, &m->sched_sink, &m->psi);
        if (r == -EOPNOTSUPP)
                log_info("No memory pressure (PSI) below %s: no pressure events.", m->root);
        else if (r < 0)
                log_notice_errno(r,
                                 "The kernel refused a memory pressure trigger (%u ms per 1 s), no pressure "
                                 "events: %m",
                                 ms);
        else
                log_info("Memory pressure trigger armed: %u ms of stall per 1 s.", ms);
}

/* Builds every module from what it needs and connects the hooks, the ops contexts and the
 * metrics writers. Nothing is started. */
static int manager_wire(Manager *m) {
        const Config *c = m->config;
        int r;

        r = journal_new(m->store, m->root, m->state_dir, m->dry_run, &(JournalConf) { 0 }, m->event, &m->journal);
        if (r >= 0)
                r = topo_state_new(m->root, m->event, &m->topo);
        if (r >= 0)
                r = tenants_new(m->store, m->root, m->event, &(TenantsConf) { 0 }, &m->tenants);
        if (r >= 0)
                r = pools_new(m->store, m->root, m->dry_run, m->journal, &(PoolsConf) { 0 }, &m->pools);
        if (r >= 0)
                r = tierd_new(&(TierdDeps) { .store = m->store,
                                             .root = m->root,
                                             .dry_run = m->dry_run,
                                             .event = m->event,
                                             .journal = m->journal,
                                             .tenants = m->tenants,
                                             .features = &m->features,
                                             .config = c },
                              &m->tierd);
        if (r >= 0)
                r = fleet_new(&(FleetDeps) { .store = m->store,
                                             .tierd = m->tierd,
                                             .event = m->event,
                                             .config = c,
                                             .state_dir = m->state_dir },
                              &m->fleet);
        if (r >= 0) {
                SchedConf sc;

                manager_sched_conf(c, &sc);
                r = sched_new(m->event, m->store, &sc, &m->sched);
        }
        if (r >= 0)
                r = mflow_new(&(MflowDeps) { .store = m->store,
                                             .journal = m->journal,
                                             .event = m->event,
                                             .root = m->root,
                                             .dry_run = m->dry_run },
                              &m->mflow);
        if (r < 0)
                return log_oom();
        manager_push_config(m);
        journal_set_conflicts_fn(m->journal, mflow_conflicts, m->mflow);
        (void) tenants_check_limits(m->tenants); /* notes the limits a reload compares with */

        /* What a removed tenant held goes at once: its hugepages, then its DAMON scheme. */
        (void) tenants_on_removed(m->tenants, pools_tenant_removed, m->pools);
        (void) tenants_on_exited(m->tenants, pools_tenant_exited, m->pools);
        (void) tenants_on_removed(m->tenants, tierd_tenant_removed_hook, m->tierd);
        /* Events for netlink subscribers: m->notifier is set once the netlink API listens. */
        tenants_set_notifier(m->tenants, &m->notifier);
        tierd_set_notifier(m->tierd, &m->notifier);
        sched_set_notifier(m->sched, &m->notifier);
        mflow_set_notifier(m->mflow, &m->notifier);
        manager_wire_scheduler(m);

        m->ops.tenants = m->tenants;
        m->ops.status = manager_op_status;
        m->ops.contexts[OP_MODULE_CORE] = m;
        m->ops.contexts[OP_MODULE_METRICS] = &m->metrics;
        m->ops.contexts[OP_MODULE_TENANTS] = m->tenants;
        m->ops.contexts[OP_MODULE_JOURNAL] = m->journal;
        m->ops.contexts[OP_MODULE_TOPOLOGY] = m->topo;
        m->ops.contexts[OP_MODULE_POOLS] = m->pools;
        m->ops.contexts[OP_MODULE_TIER] = m->tierd;
        m->ops.contexts[OP_MODULE_MFLOW] = m->mflow;
        m->ops.contexts[OP_MODULE_SCHED] = m->sched;

        /* The order of /metrics. */
        (void) metrics_register(&m->metrics, manager_core_metrics_write, m);
        (void) metrics_register(&m->metrics, http_stats_metrics_write, &m->http_stats);
        (void) metrics_register(&m->metrics, netlink_stats_metrics_write, &m->netlink_stats);
        (void) metrics_register(&m->metrics, tenants_metrics_write, m->tenants);
        (void) metrics_register(&m->metrics, journal_metrics_write, m->journal);
        (void) metrics_register(&m->metrics, pools_metrics_write, m->pools);
        (void) metrics_register(&m->metrics, fleet_metrics_write, m->fleet);
        (void) metrics_register(&m->metrics, mflow_metrics_write, m->mflow);
        (void) metrics_register(&m->metrics, sched_metrics_write, m->sched);
        (void) metrics_register(&m->metrics, tierd_metrics_write, m->tierd);
        (void) metrics_register(&m->metrics, manager_reload_metrics_write, m);
        return 0;
}

int manager_start(Manager *m) {
        int r;

        r = mkdir_p(m->state_dir, 0700);
        if (r < 0)
                return log_error_errno(r, "Failed to create state directory %s: %m", m->state_dir);
        r = mkdir_p(m->runtime_dir, 0755);
        if (r < 0)
                return log_error_errno(r, "Failed to create runtime directory %s: %m", m->runtime_dir);
        r = store_open(m->state_dir, &m->store);
        if (r == -EPROTO)
                return log_error_errno(r, "The database in %s was written by a newer maiod; refusing to downgrade it.",
                                       m->state_dir);
        if (r < 0)
                return log_error_errno(r, "Failed to open the database in %s: %m", m->state_dir);
        r = manager_wire(m);
        if (r < 0)
                return r;
        /* Before anything listens: takes the state directory's lock and reconciles knobs. */
        r = journal_start(m->journal);
        if (r < 0)
                return r;

        r = detect_run(m->root, &m->features);
        if (r < 0)
                return log_error_errno(r, "Failed to detect kernel features: %m");
        manager_log_features(m);
        journal_set_features(m->journal, &m->features);
        r = topo_start(m->topo);
        if (r < 0)
                return r;
        /* After the journal reconciled: sizes the hugepage reserve to the grants on record. */
        r = pools_start(m->pools);
        if (r < 0)
                return r;
        /* After the reserve: picks the tiering backend and re-applies the tenants' thresholds. */
        r = tierd_start(m->tierd);
        if (r < 0)
                return r;
        /* After tiering: registers its lookup hook there; etcd is reached asynchronously. */
        r = fleet_start(m->fleet);
        if (r < 0)
                return r;
        /* After the journal started: reconciles what a crash left, then attaches the [mflow] devices. */
        r = mflow_start(m->mflow);
        if (r < 0)
                return r;
        /* After the modules it allocates for: its first pass sees the tenants on record. */
        r = sched_start(m->sched);
        if (r < 0)
                return r;
        manager_watch_pressure(m);

        r = manager_listen_unix(m);
        if (r < 0)
                return r;
        r = manager_listen_tcp(m);
        if (r < 0)
                return r;
        r = manager_listen_netlink(m);
        if (r < 0)
                return r;
        r = tenants_watch_all(m->tenants);
        if (r < 0)
                return log_error_errno(r, "Failed to watch tenant processes: %m");

        r = sd_event_add_time_relative(m->event, &m->status_timer, CLOCK_MONOTONIC,
                                       (uint64_t) m->config->status_interval_s * 1000000, 1000000, on_status_timer, m);
        if (r < 0)
                return log_error_errno(r, "Failed to add the status timer: %m");
        (void) sd_event_source_set_description(m->status_timer, "status-timer");
        (void) sd_event_source_set_enabled(m->status_timer, SD_EVENT_ON);
        return 0;
}

int manager_run(Manager *m) {
        int r;

        (void) sd_notify(false, "READY=1");
        manager_notify_status(m);
        log_info("maiod %s ready%s.", MAIO_VERSION, m->dry_run ? " (dry run: no kernel knob is written)" : "");
        r = sd_event_loop(m->event);
        sched_stop(m->sched); /* no pass runs while the modules below stop */
        mflow_stop(m->mflow); /* detaches and unpins before the journal marks the stop clean */
        tierd_stop(m->tierd); /* maiod's kdamond goes down in the order the kernel needs, before the journal restores */
        (void) journal_stop(m->journal); /* logged; a failure leaves the run marked unclean for the next start */
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        log_info("maiod stopped.");
        return r;
}

int manager_reload(Manager *m) {
        _cleanup_free_ char *error = NULL;
        Config *c = NULL;
        bool resize;
        int r;

        (void) sd_notify(false, "RELOADING=1\nSTATUS=Reloading configuration");
        r = conf_load(m->config_path, m->config_must_exist, &c, &error);
        if (r < 0) {
                m->reload_failures_total++;
                log_error("Configuration reload rejected, keeping the previous configuration: %s",
                          error ? error : "unknown error");
                (void) sd_notify(false, "READY=1\nSTATUS=Configuration reload rejected; previous configuration kept");
                return r;
        }
        if (c->max_connections != m->config->max_connections)
                log_notice("[api] max_connections changes take effect at the next restart.");
        if (c->netlink_port != m->config->netlink_port || c->netlink_rcvbuf != m->config->netlink_rcvbuf)
                log_notice("[api] netlink_port and netlink_rcvbuf changes take effect at the next restart.");
        if (c->socket_mode != m->config->socket_mode)
                log_notice("[api] socket_mode changes take effect at the next restart.");
        if (fleet_connection_changed(m->config, c))
                log_notice(
                        "[fleet] endpoints, TLS files, credentials, prefix and host take effect at the next restart.");
        if (strcmp(c->mflow_devices, m->config->mflow_devices) != 0 ||
            strcmp(c->mflow_bpffs, m->config->mflow_bpffs) != 0 ||
            strcmp(c->mflow_vxlan_ports, m->config->mflow_vxlan_ports) != 0)
                log_notice("[mflow] devices, bpffs and vxlan_ports changes take effect at the next restart.");
        if (c->scheduler_psi_stall_ms != m->config->scheduler_psi_stall_ms)
                log_notice("[scheduler] psi_memory_stall_ms changes take effect at the next restart.");
        resize = c->pools_headroom_pages != m->config->pools_headroom_pages;
        conf_free(m->config);
        m->config = c;
        manager_push_config(m);
        char poller_error[256];
        if (pools_check_pollers(m->pools, poller_error, sizeof poller_error) < 0)
                log_warning("%s; offline ones are not handed out.", poller_error);
        if (resize) /* logged; the reserve then follows the new headroom */
                (void) pools_sync(m->pools, "maio reserve (reload)");
        manager_apply_log_level(m);
        manager_resolve_admin_group(m);
        manager_push_tenants_conf(m);            /* again, with the admin group just resolved */
        (void) tenants_check_limits(m->tenants); /* events for tenants kept above lowered limits */
        (void) manager_listen_tcp(m);            /* logged; the unix socket keeps serving regardless */
        m->reloads_total++;
        log_info("Configuration reloaded from %s.", m->config_path);
        (void) sd_notify(false, "READY=1");
        manager_notify_status(m);
        return 0;
}

static json_object *status_listeners(Manager *m, const Identity *who) {
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        json_object_object_add(o, "unix", json_object_new_string(m->socket_path));
        json_object_object_add(o, "tcp", m->tcp_listen ? json_object_new_string(m->tcp_listen) : NULL);
        json_object_object_add(o, "netlink", m->netlink ? json_object_new_int64(m->netlink_port) : NULL);
        if (m->netlink_error)
                json_object_object_add(o, "netlink_error", json_object_new_string(m->netlink_error));
        json_object_object_add(o, "netlink_notifications",
                               m->netlink ? netlink_server_notifications_to_json(m->netlink, who) : NULL);
        return o;
}

static json_object *status_counts(Manager *m) {
        json_object *o = json_object_new_object();
        int tenants = store_tenant_count(m->store);
        int64_t events = store_event_count(m->store);

        if (!o)
                return NULL;
        json_object_object_add(o, "tenants", json_object_new_int(tenants < 0 ? 0 : tenants));
        json_object_object_add(o, "events", json_object_new_int64(events < 0 ? 0 : events));
        json_object_object_add(o, "requests", json_object_new_int64((int64_t) m->http_stats.requests_total));
        json_object_object_add(o, "connections", json_object_new_int((int) m->http_stats.connections));
        return o;
}

/* The allocator's configuration: its priority classes in serving order, each a list of priorities. */
static json_object *status_scheduler(Manager *m) {
        const ConfPriorityClasses *c = &m->config->scheduler_classes;
        json_object *o = json_object_new_object(), *classes = json_object_new_array();

        if (!o || !classes) {
                json_object_put(o);
                json_object_put(classes);
                return NULL;
        }
        for (unsigned k = 0; k < c->n; k++) {
                json_object *prios = json_object_new_array();

                for (unsigned p = 0; prios && p < 8; p++)
                        if (c->class_of[p] == k)
                                json_object_array_add(prios, json_object_new_int((int) p));
                json_object_array_add(classes, prios);
        }
        json_object_object_add(o, "classes", classes);
        return o;
}

int manager_op_status(void *userdata, const Request *req, Reply *reply) {
        Manager *m = userdata;
        json_object *o = json_object_new_object();

        if (!o)
                return -ENOMEM;
        json_object_object_add(o, "version", json_object_new_string(MAIO_VERSION));
        json_object_object_add(o, "pid", json_object_new_int((int) getpid()));
        char uptime[32];

        snprintf(uptime, sizeof uptime, "%.3f", manager_uptime_sec(m));
        json_object_object_add(o, "uptime_sec", json_object_new_double_s(manager_uptime_sec(m), uptime));
        json_object_object_add(o, "config_file", json_object_new_string(m->config_path));
        json_object_object_add(o, "state_dir", json_object_new_string(m->state_dir));
        json_object_object_add(o, "runtime_dir", json_object_new_string(m->runtime_dir));
        json_object_object_add(o, "root", json_object_new_string(m->root));
        json_object_object_add(o, "dry_run", json_object_new_boolean(m->dry_run));
        json_object_object_add(o, "listeners", status_listeners(m, req->who));
        json_object_object_add(o, "features", detect_to_json(&m->features));
        json_object_object_add(o, "conflicts", journal_conflicts_to_json(m->journal));
        json_object_object_add(o, "tiering", tierd_status_to_json(m->tierd));
        json_object_object_add(o, "fleet", fleet_status_to_json(m->fleet));
        json_object_object_add(o, "counts", status_counts(m));
        json_object_object_add(o, "admission", tenants_admission_to_json(m->tenants));
        json_object_object_add(o, "scheduler", status_scheduler(m));
        json_object_object_add(o, "pollers", pools_pollers_to_json(m->pools));
        return reply_json(reply, 200, o);
}
