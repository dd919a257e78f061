/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* REST transport: libmicrohttpd in external-epoll mode driven by sd_event, with
 * per-connection identity (SO_PEERCRED or bearer token), body size and content
 * type checks, and a reaper that cuts connections whose request overruns. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "http.h"
#include "log.h"
#include "metrics.h"
#include "ops.h"
#include "tenants.h"
#include "time-util.h"

#define HTTP_MAX_GROUPS IDENTITY_MAX_GROUPS

typedef struct HttpConn HttpConn;

struct HttpConn {
        HttpServer *server;
        int fd;
        Identity peer;             /* unix: from SO_PEERCRED; TCP: anonymous until a token */
        uint64_t deadline_usec;    /* CLOCK_MONOTONIC; the current request must be done by then */
        char *token;               /* TCP: the last bearer token resolved on this connection ... */
        Identity token_identity;   /* ... what it resolved to ... */
        uint64_t token_generation; /* ... valid while the tenants' generation is unchanged */
        HttpConn *prev, *next;
};

typedef struct HttpRequest {
        char *body;
        size_t len;
        bool rejected; /* a reply was queued early (413/415); drop the rest */
        bool too_big;  /* a chunked body grew past the limit; answer 413 at its end */
        size_t limit;  /* largest body accepted for this request's operation */
        int route;     /* ops_route()'s result, resolved once when the headers are in */
        const Op *op;
        OpParams params;
        char allow[64];
} HttpRequest;

struct HttpServer {
        HttpContext ctx;
        HttpTransport transport;
        int listen_fd;
        struct MHD_Daemon *mhd;
        sd_event_source *io_source;
        sd_event_source *timer_source;
        sd_event_source *reaper_source;
        HttpConn *conns;
        unsigned n_conns;
};

void http_stats_count(HttpStats *st, unsigned status) {
        st->requests_total++;
        if (status >= 100 && status < 600)
                st->requests_by_class[status / 100 - 1]++;
}

void http_stats_metrics_write(void *userdata, FILE *f) {
        const HttpStats *st = userdata;

        metrics_header(f, "maiod_http_requests_total", "counter", "API requests answered, by status class.");
        for (unsigned i = 0; i < 5; i++)
                fprintf(f, "maiod_http_requests_total{code=\"%uxx\"} %" PRIu64 "\n", i + 1, st->requests_by_class[i]);
        metrics_u64(f, "maiod_http_connections_cut_total", "counter",
                    "Connections cut off because a request overran request_timeout_sec.", st->requests_rejected);
        metrics_u64(f, "maiod_http_connections", "gauge", "Open API connections.", st->connections);
}

bool http_is_admin(const HttpConf *conf, uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups) {
        if (uid == 0)
                return true;
        if (!conf->have_admin_gid)
                return false;
        if (gid == conf->admin_gid)
                return true;
        for (size_t i = 0; i < n_groups; i++)
                if (groups[i] == conf->admin_gid)
                        return true;
        return false;
}

static void http_reschedule(HttpServer *s) {
        MHD_UNSIGNED_LONG_LONG ms;

        if (MHD_get_timeout(s->mhd, &ms) == MHD_YES) {
                (void) sd_event_source_set_time_relative(s->timer_source, (uint64_t) ms * 1000);
                (void) sd_event_source_set_enabled(s->timer_source, SD_EVENT_ONESHOT);
        } else
                (void) sd_event_source_set_enabled(s->timer_source, SD_EVENT_OFF);
}

static int http_on_io(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        HttpServer *s = userdata;

        if (MHD_run(s->mhd) != MHD_YES)
                log_debug("MHD_run() reported an error, continuing");
        http_reschedule(s);
        return 0;
}

static int http_on_timer(sd_event_source *es, uint64_t usec, void *userdata) {
        return http_on_io(es, -1, 0, userdata);
}

/* Cuts connections whose request overran its deadline: shutdown() makes the
 * socket readable with EOF, and MHD closes it on its next run. */
static int http_on_reaper(sd_event_source *es, uint64_t usec, void *userdata) {
        HttpServer *s = userdata;
        uint64_t now = now_usec(CLOCK_MONOTONIC);

        for (HttpConn *c = s->conns; c; c = c->next)
                if (c->deadline_usec > 0 && now > c->deadline_usec) {
                        log_debug("Connection on fd %d overran its request deadline, cutting it off", c->fd);
                        (void) shutdown(c->fd, SHUT_RDWR);
                        c->deadline_usec = 0;
                        s->ctx.stats->requests_rejected++;
                }
        (void) sd_event_source_set_time_relative(es, USEC_PER_SEC);
        return 0;
}

static void http_conn_identify_peer(HttpConn *c) {
        const HttpConf *conf = c->server->ctx.conf;
        struct ucred cred;
        socklen_t sl = sizeof cred;
        gid_t groups[HTTP_MAX_GROUPS];
        socklen_t gl = sizeof groups;
        size_t n_groups = 0;

        c->peer = (Identity) { .kind = IDENTITY_ANONYMOUS };
        if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &sl) < 0) {
                log_warning_errno(errno,
                                  "Failed to read peer credentials of a connection, treating it as anonymous: %m");
                return;
        }
        if (getsockopt(c->fd, SOL_SOCKET, SO_PEERGROUPS, groups, &gl) >= 0)
                n_groups = gl / sizeof(gid_t);
        else
                log_debug_errno(errno, "SO_PEERGROUPS failed, using the primary group only: %m");

        c->peer = (Identity) {
                .kind = IDENTITY_PEER,
                .uid = cred.uid,
                .gid = cred.gid,
                .pid = cred.pid,
                .admin = http_is_admin(conf, cred.uid, cred.gid, groups, n_groups),
                .n_groups = (unsigned) n_groups,
        };
        memcpy(c->peer.groups, groups, n_groups * sizeof(gid_t));
}

static void http_on_connection(void *cls, struct MHD_Connection *connection, void **socket_context,
                               enum MHD_ConnectionNotificationCode toe) {
        HttpServer *s = cls;
        HttpConn *c = *socket_context;
        const union MHD_ConnectionInfo *info;

        if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
                if (!c)
                        return;
                if (c->prev)
                        c->prev->next = c->next;
                else
                        s->conns = c->next;
                if (c->next)
                        c->next->prev = c->prev;
                s->n_conns--;
                s->ctx.stats->connections--;
                free(c->token);
                free(c);
                *socket_context = NULL;
                return;
        }

        info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
        c = calloc(1, sizeof *c);
        if (!c || !info) {
                free(c);
                log_oom();
                return;
        }
        c->server = s;
        c->fd = info->connect_fd;
        c->deadline_usec = now_usec(CLOCK_MONOTONIC) + s->ctx.conf->request_timeout_s * USEC_PER_SEC;
        if (s->transport == HTTP_UNIX)
                http_conn_identify_peer(c);
        else
                c->peer = (Identity) { .kind = IDENTITY_ANONYMOUS };
        MHD_set_connection_option(connection, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned) s->ctx.conf->idle_timeout_s);

        c->next = s->conns;
        if (s->conns)
                s->conns->prev = c;
        s->conns = c;
        s->n_conns++;
        s->ctx.stats->connections++;
        *socket_context = c;
}

static HttpConn *http_conn_of(struct MHD_Connection *connection) {
        const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

        return info ? info->socket_context : NULL;
}

static void http_on_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                              enum MHD_RequestTerminationCode toe) {
        HttpServer *s = cls;
        HttpRequest *req = *con_cls;
        HttpConn *c = http_conn_of(connection);

        if (req) {
                free(req->body);
                free(req);
                *con_cls = NULL;
        }
        /* A keep-alive connection may idle, then must deliver its next request in time. */
        if (c && c->deadline_usec > 0)
                c->deadline_usec = now_usec(CLOCK_MONOTONIC) +
                                   (s->ctx.conf->idle_timeout_s + s->ctx.conf->request_timeout_s) * USEC_PER_SEC;
}

static enum MHD_Result http_send(HttpServer *s, struct MHD_Connection *connection, Reply *reply) {
        struct MHD_Response *resp;
        const char *body = "";
        size_t len = 0;
        _cleanup_free_ char *json = NULL;
        enum MHD_Result ret;

        if (reply->code != REPLY_OK && !reply->json)
                reply->json = reply_error_to_json(reply); /* NULL on OOM: status and an empty body */
        if (reply->code != REPLY_OK)
                reply->content_type = "application/json";
        if (reply->json) {
                size_t jl;
                const char *js =
                        json_object_to_json_string_length(reply->json,
                                                          JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &jl);

                if (asprintf(&json, "%s\n", js) < 0)
                        return MHD_NO;
                body = json, len = jl + 1;
        } else if (reply->text)
                body = reply->text, len = strlen(reply->text);

        resp = MHD_create_response_from_buffer(len, (void *) body, MHD_RESPMEM_MUST_COPY);
        if (!resp)
                return MHD_NO;
        if (len > 0 && reply->content_type)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, reply->content_type);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        if (reply->location)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, reply->location);
        if (reply->code == REPLY_METHOD_NOT_ALLOWED && reply->allow[0])
                MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, reply->allow);
        if (reply->code == REPLY_UNAUTHORIZED)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"maiod\"");

        ret = MHD_queue_response(connection, reply->status, resp);
        MHD_destroy_response(resp);
        http_stats_count(s->ctx.stats, reply->status);
        return ret;
}

static enum MHD_Result http_send_error(HttpServer *s, struct MHD_Connection *connection, ReplyError code,
                                       const char *message) {
        Reply reply = {};
        enum MHD_Result ret;

        reply_error(&reply, code, "%s", message);
        ret = http_send(s, connection, &reply);
        reply_done(&reply);
        return ret;
}

/* "application/json" with optional parameters ("; charset=utf-8"). */
static bool content_type_is_json(const char *ct) {
        size_t n = strlen("application/json");

        return ct && strncasecmp(ct, "application/json", n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static enum MHD_Result http_send_too_large(HttpServer *s, struct MHD_Connection *connection, const HttpRequest *req) {
        char msg[64];

        snprintf(msg, sizeof msg, "Request body exceeds %zu bytes", req->limit);
        return http_send_error(s, connection, REPLY_PAYLOAD_TOO_LARGE, msg);
}

/* Resolves the route once, when the headers are in: the op's own body limit applies from the first byte. */
static void http_route(HttpRequest *req, const char *method, const char *url) {
        req->route = ops_route(method, url, &req->op, &req->params, req->allow, sizeof req->allow);
        req->limit = req->route >= 0 && req->op->max_body > 0 ? req->op->max_body : REPLY_MAX_BODY;
}

/* Checks made once the headers are in, before any body byte is read. Returns
 * 0, or queues an error reply and returns -1. */
static int http_check_headers(HttpServer *s, struct MHD_Connection *connection, HttpRequest *req) {
        const char *cl = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        const char *te = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
        const char *ct = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        unsigned long long length = cl ? strtoull(cl, NULL, 10) : 0;
        bool has_body = length > 0 || te;

        if (length > req->limit) {
                req->rejected = true;
                http_send_too_large(s, connection, req);
                return -1;
        }
        if (has_body && !content_type_is_json(ct)) {
                req->rejected = true;
                http_send_error(s, connection, REPLY_UNSUPPORTED_MEDIA_TYPE,
                                "Request bodies must be sent as Content-Type: application/json");
                return -1;
        }
        return 0;
}

/* Over TCP the bearer token names the tenant; on the unix socket the peer does.
 * A keep-alive connection reuses its last resolution until a tenant is removed. */
static void http_identify(HttpServer *s, HttpConn *c, struct MHD_Connection *connection, Identity *ret) {
        const char *auth, *token;
        uint64_t generation = tenants_generation(s->ctx.tenants);

        *ret = c ? c->peer : (Identity) { .kind = IDENTITY_ANONYMOUS };
        if (s->transport != HTTP_TCP)
                return;
        auth = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        if (!auth)
                return;
        if (strncasecmp(auth, "Bearer ", 7) != 0) {
                ret->bad_token = true;
                return;
        }
        token = auth + 7;
        if (c && c->token && c->token_generation == generation && strcmp(c->token, token) == 0) {
                *ret = c->token_identity;
                return;
        }
        if (tenants_identify_token(s->ctx.tenants, token, ret) < 0) {
                ret->bad_token = true;
                return;
        }
        if (c) {
                free(c->token);
                c->token = strdup(token);
                c->token_identity = *ret;
                c->token_generation = generation;
        }
}

/* The connection limit is ours, not MHD's: at MHD_OPTION_CONNECTION_LIMIT MHD
 * takes the listening socket out of its epoll set and only puts it back in a
 * later MHD_run(), which nothing triggers when the loop is idle, so the daemon
 * stopped accepting for good. Refusing here closes the extra connection at once. */
static enum MHD_Result http_accept_policy(void *cls, const struct sockaddr *addr, socklen_t addrlen) {
        HttpServer *s = cls;

        return s->n_conns < s->ctx.conf->max_connections ? MHD_YES : MHD_NO;
}

static enum MHD_Result http_on_request(void *cls, struct MHD_Connection *connection, const char *url,
                                       const char *method, const char *version, const char *upload_data,
                                       size_t *upload_data_size, void **con_cls) {
        HttpServer *s = cls;
        HttpRequest *req = *con_cls;
        Identity who;
        Reply reply = {};
        enum MHD_Result ret;

        if (!req) {
                req = calloc(1, sizeof *req);
                if (!req)
                        return MHD_NO;
                *con_cls = req;
                http_route(req, method, url);
                (void) http_check_headers(s, connection, req);
                return MHD_YES;
        }
        if (*upload_data_size > 0) {
                size_t n = *upload_data_size;

                *upload_data_size = 0;
                if (req->rejected || req->too_big)
                        return MHD_YES;
                if (req->len + n > req->limit) {
                        /* MHD cannot answer mid-upload: drop the rest, answer at the end. */
                        req->too_big = true;
                        return MHD_YES;
                }
                char *b = realloc(req->body, req->len + n);
                if (!b)
                        return MHD_NO;
                memcpy(b + req->len, upload_data, n);
                req->body = b, req->len += n;
                return MHD_YES;
        }
        if (req->rejected)
                return MHD_YES;
        if (req->too_big) {
                req->rejected = true;
                return http_send_too_large(s, connection, req);
        }

        if (req->route < 0) {
                memcpy(reply.allow, req->allow, sizeof reply.allow);
                (void) ops_route_error(req->route, method, url, &reply);
        } else {
                http_identify(s, http_conn_of(connection), connection, &who);
                (void) ops_call(s->ctx.ops, req->op, &req->params, &who, req->body, req->len, &reply);
        }
        log_debug("%s %s -> %u", method, url, reply.status);
        ret = http_send(s, connection, &reply);
        reply_done(&reply);
        return ret;
}

/* Paths stay as sent: no percent-decoding, so "%2F" or "%00" never turn into
 * path separators or string terminators; routing rejects them as bad ids. */
static size_t http_unescape_none(void *cls, struct MHD_Connection *c, char *s) {
        return strlen(s);
}

static _printf_(2, 0) void http_mhd_log(void *cls, const char *fmt, va_list ap) {
        char buf[512];

        vsnprintf(buf, sizeof buf, fmt, ap);
        buf[strcspn(buf, "\n")] = '\0';
        log_debug("libmicrohttpd: %s", buf);
}

HttpServer *http_server_free(HttpServer *s) {
        if (!s)
                return NULL;
        sd_event_source_disable_unref(s->io_source);
        sd_event_source_disable_unref(s->timer_source);
        sd_event_source_disable_unref(s->reaper_source);
        if (s->mhd)
                MHD_stop_daemon(s->mhd); /* closes connections, calls the notify callbacks */
        safe_close(s->listen_fd);
        free(s);
        return NULL;
}

static int http_add_sources(HttpServer *s, sd_event *e, const char *name) {
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
        char desc[64];
        int r;

        if (!info)
                return -EIO;
        r = sd_event_add_io(e, &s->io_source, info->epoll_fd, EPOLLIN, http_on_io, s);
        if (r < 0)
                return r;
        snprintf(desc, sizeof desc, "http-%s-io", name);
        (void) sd_event_source_set_description(s->io_source, desc);

        /* Accuracy 1 us: the default (0) means 250 ms, and MHD asks for an immediate
         * re-run after every buffer of a large body. */
        r = sd_event_add_time_relative(e, &s->timer_source, CLOCK_MONOTONIC, 0, 1, http_on_timer, s);
        if (r < 0)
                return r;
        snprintf(desc, sizeof desc, "http-%s-timeout", name);
        (void) sd_event_source_set_description(s->timer_source, desc);

        r = sd_event_add_time_relative(e, &s->reaper_source, CLOCK_MONOTONIC, USEC_PER_SEC, 100 * 1000, http_on_reaper,
                                       s);
        if (r < 0)
                return r;
        snprintf(desc, sizeof desc, "http-%s-reaper", name);
        (void) sd_event_source_set_description(s->reaper_source, desc);
        (void) sd_event_source_set_enabled(s->reaper_source, SD_EVENT_ON);
        http_reschedule(s);
        return 0;
}

int http_server_new(sd_event *event, const HttpContext *ctx, HttpTransport transport, int listen_fd, HttpServer **ret) {
        _cleanup_(http_server_freep) HttpServer *s = NULL;
        const char *name = transport == HTTP_UNIX ? "unix" : "tcp";
        int r;

        s = calloc(1, sizeof *s);
        if (!s) {
                safe_close(listen_fd);
                return -ENOMEM;
        }
        s->ctx = *ctx;
        s->transport = transport;
        s->listen_fd = listen_fd;

        s->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_USE_TURBO, 0, http_accept_policy, s,
                                  http_on_request, s, MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log,
                                  NULL, /* first, or MHD logs to stderr before it */
                                  MHD_OPTION_LISTEN_SOCKET, listen_fd,
                                  /* headroom over http_accept_policy(), which enforces the limit */
                                  MHD_OPTION_CONNECTION_LIMIT, (unsigned) ctx->conf->max_connections + 1,
                                  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) ctx->conf->idle_timeout_s,
                                  MHD_OPTION_NOTIFY_CONNECTION, http_on_connection, s, MHD_OPTION_NOTIFY_COMPLETED,
                                  http_on_completed, s, MHD_OPTION_UNESCAPE_CALLBACK, http_unescape_none, NULL,
                                  MHD_OPTION_END);
        if (!s->mhd)
                return log_error_errno(EIO, "Failed to start the HTTP server on the %s listener.", name);

        r = http_add_sources(s, event, name);
        if (r < 0)
                return log_error_errno(r, "Failed to add HTTP event sources: %m");

        *ret = TAKE_PTR(s);
        return 0;
}

int http_listen_unix(const char *path, unsigned mode, unsigned backlog) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        if (strlen(path) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        /* A socket file left by an earlier run is stale: we are the only maiod for this runtime dir. */
        if (unlink(path) < 0 && errno != ENOENT)
                return -errno;
        if (bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                return -errno;
        if (chmod(path, mode) < 0)
                return -errno;
        if (listen(fd, (int) backlog) < 0)
                return -errno;
        return TAKE_FD(fd);
}

static int parse_hostport(const char *hostport, struct sockaddr_storage *ss, socklen_t *ret_len) {
        _cleanup_free_ char *host = NULL;
        const char *colon = strrchr(hostport, ':');
        unsigned long port;
        char *end;

        if (!colon)
                return -EINVAL;
        port = strtoul(colon + 1, &end, 10);
        if (*end || port == 0 || port > 65535)
                return -EINVAL;
        host = strndup(hostport, (size_t) (colon - hostport));
        if (!host)
                return -ENOMEM;
        if (host[0] == '[') { /* [v6]:port */
                struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) ss;
                size_t l = strlen(host);

                if (l < 2 || host[l - 1] != ']')
                        return -EINVAL;
                host[l - 1] = '\0';
                *in6 = (struct sockaddr_in6) { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t) port) };
                if (inet_pton(AF_INET6, host + 1, &in6->sin6_addr) != 1)
                        return -EINVAL;
                *ret_len = sizeof *in6;
                return 0;
        }
        struct sockaddr_in *in4 = (struct sockaddr_in *) ss;
        *in4 = (struct sockaddr_in) { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
        if (strcmp(host, "localhost") == 0)
                in4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        else if (inet_pton(AF_INET, host, &in4->sin_addr) != 1)
                return -EINVAL;
        *ret_len = sizeof *in4;
        return 0;
}

int http_listen_tcp(const char *hostport, unsigned backlog) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_storage ss = {};
        socklen_t len = 0;
        int one = 1, r;

        r = parse_hostport(hostport, &ss, &len);
        if (r < 0)
                return r;
        fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *) &ss, len) < 0)
                return -errno;
        if (listen(fd, (int) backlog) < 0)
                return -errno;
        return TAKE_FD(fd);
}
