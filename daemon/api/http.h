/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* REST transport: libmicrohttpd driven from the sd_event loop (no threads),
 * peer credentials per unix connection, bearer tokens over TCP, request size and
 * time limits. Decodes requests into ops_dispatch() and encodes its Reply. */
#pragma once

#include <stdbool.h>

#include <systemd/sd-event.h>

typedef struct Manager Manager;
typedef struct HttpServer HttpServer;

typedef enum HttpTransport {
        HTTP_UNIX,
        HTTP_TCP,
} HttpTransport;

/* Serves on listen_fd (a listening, non-blocking stream socket; ownership passes
 * to the server). Limits are read from m->config at each connection. Returns 0
 * or -errno. */
int http_server_new(Manager *m, HttpTransport transport, int listen_fd, HttpServer **ret);
/* Stops accepting, closes every connection, frees. Accepts NULL; returns NULL. */
HttpServer *http_server_free(HttpServer *s);
static inline void http_server_freep(HttpServer **s) {
        http_server_free(*s);
}
unsigned http_server_connections(const HttpServer *s);

/* Listening sockets: a unix socket at path with mode (a stale socket file is
 * replaced), or TCP on "host:port". Return the fd or -errno. */
int http_listen_unix(const char *path, unsigned mode, unsigned backlog);
int http_listen_tcp(const char *hostport, unsigned backlog);
