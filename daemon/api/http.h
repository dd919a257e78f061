/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* REST transport: libmicrohttpd driven from the sd_event loop (no threads),
 * peer credentials per unix connection, bearer tokens over TCP, request size and
 * time limits. Routes each request once, runs it with ops_call() and encodes its Reply. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

typedef struct HttpServer HttpServer;
typedef struct Ops Ops;
typedef struct Tenants Tenants;

typedef enum HttpTransport {
        HTTP_UNIX,
        HTTP_TCP,
} HttpTransport;

/* [api] limits and the resolved admin group; read at each connection, so a reload applies to
 * the next one. */
typedef struct HttpConf {
        unsigned max_connections;
        unsigned idle_timeout_s;
        unsigned request_timeout_s;
        bool have_admin_gid;
        gid_t admin_gid;
        bool need_groups; /* [tenants.group.NAME] limits exist: read every peer's groups (netlink) */
} HttpConf;

/* Counters of every server sharing it. */
typedef struct HttpStats {
        uint64_t requests_total;
        uint64_t requests_by_class[5]; /* 1xx..5xx */
        uint64_t requests_rejected;    /* cut off: overran their deadline */
        unsigned connections;          /* open now */
} HttpStats;

/* What a server runs requests with; all borrowed and alive until the server is freed. */
typedef struct HttpContext {
        const Ops *ops;
        Tenants *tenants; /* bearer tokens */
        const HttpConf *conf;
        HttpStats *stats;
} HttpContext;

/* Counts one finished request with its status. */
void http_stats_count(HttpStats *st, unsigned status);
/* The HTTP counters and the connection gauge (a MetricsWriteFn over HttpStats). */
void http_stats_metrics_write(void *userdata, FILE *f);
/* True if the identity (uid, gid and supplementary groups) is an administrator: uid 0 or a
 * member of the admin group. */
bool http_is_admin(const HttpConf *conf, uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups);

/* Serves on listen_fd (a listening, non-blocking stream socket; ownership passes
 * to the server) from event. Returns 0 or -errno. */
int http_server_new(sd_event *event, const HttpContext *ctx, HttpTransport transport, int listen_fd, HttpServer **ret);
/* Stops accepting, closes every connection, frees. Accepts NULL; returns NULL. */
HttpServer *http_server_free(HttpServer *s);
static inline void http_server_freep(HttpServer **s) {
        http_server_free(*s);
}

/* Listening sockets: a unix socket at path with mode (a stale socket file is
 * replaced), or TCP on "host:port". Return the fd or -errno. */
int http_listen_unix(const char *path, unsigned mode, unsigned backlog);
int http_listen_tcp(const char *hostport, unsigned backlog);
