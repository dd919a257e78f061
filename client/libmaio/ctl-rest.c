/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The control client's REST transport: HTTP/1.1 over maiod's unix socket on one kept-alive
 * connection, written by hand (a tenant library does not pull in libcurl for a few small requests;
 * docs/architecture.md); the hugepage grant (grant.c) goes through it too. Replies are framed by
 * Content-Length, or by the end of the connection. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "ctl-internal.h"

#define CTL_REST_REPLY_MAX (16u * 1024u * 1024u)
#define CTL_REST_HEAD_MAX 8192u

/* Connects within the timeout. A unix stream connect to a listener whose backlog is full fails
 * with EAGAIN when non-blocking (and would wait unbounded when blocking): it is retried every 10 ms
 * until the deadline. -ENOENT, -ECONNREFUSED or -ENOTDIR: nobody listens there. */
static int rest_connect(CtlRest *rest) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;
        int64_t deadline = ctl_now_ms() + rest->timeout_ms;

        if (strlen(rest->path) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, rest->path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        while (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                if (errno == EINTR)
                        continue;
                if (errno != EAGAIN)
                        return -errno;
                if (ctl_now_ms() >= deadline)
                        return -ETIMEDOUT;
                (void) poll(NULL, 0, 10);
        }
        rest->fd = TAKE_FD(fd);
        return 0;
}

int ctl_rest_open(CtlRest *rest, const char *path, int timeout_ms) {
        *rest = (CtlRest) { .fd = -EBADF, .timeout_ms = timeout_ms, .cap = 64 * 1024 };
        rest->path = strdup(path);
        rest->buf = malloc(rest->cap);
        if (!rest->path || !rest->buf) {
                ctl_rest_close(rest);
                return -ENOMEM;
        }
        return rest_connect(rest);
}

void ctl_rest_close(CtlRest *rest) {
        rest->fd = safe_close(rest->fd);
        free(rest->path);
        free(rest->buf);
        rest->path = rest->buf = NULL;
}

static int send_all(int fd, const char *p, size_t n, int64_t deadline) {
        while (n > 0) {
                ssize_t k = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
                int r;

                if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
                        r = ctl_wait_fd(fd, POLLOUT, deadline);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (k < 0)
                        return -errno;
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

/* Content-Length and Connection: close of the header block [buf, end). */
static int parse_head(const char *buf, const char *end, int *ret_status, size_t *ret_length, bool *ret_close) {
        unsigned major, minor, status;

        if (sscanf(buf, "HTTP/%u.%u %3u", &major, &minor, &status) != 3 || status < 100 || status > 599)
                return -EPROTO;
        *ret_length = SIZE_MAX;
        *ret_close = major == 1 && minor == 0;
        for (const char *l = strstr(buf, "\r\n"); l && l < end; l = strstr(l + 2, "\r\n")) {
                const char *h = l + 2, *eol = strstr(h, "\r\n");
                char value[64];

                if (strncasecmp(h, "Content-Length:", 15) == 0)
                        *ret_length = strtoull(h + 15, NULL, 10);
                else if (strncasecmp(h, "Connection:", 11) == 0) {
                        snprintf(value, sizeof value, "%.*s", (int) ((eol ? eol : end) - h - 11), h + 11);
                        *ret_close = *ret_close || strcasestr(value, "close");
                }
        }
        if (status < 200 || status == 204 || status == 304)
                *ret_length = 0; /* no body, whatever the headers say (RFC 9112 6.3) */
        *ret_status = (int) status;
        return 0;
}

static int grow(CtlRest *rest, size_t need) {
        char *p;

        if (need <= rest->cap)
                return 0;
        if (need > CTL_REST_REPLY_MAX + CTL_REST_HEAD_MAX)
                return -EMSGSIZE;
        p = realloc(rest->buf, need);
        if (!p)
                return -ENOMEM;
        rest->buf = p;
        rest->cap = need;
        return 0;
}

/* Reads one response. Returns 0 with the status and the body (at rest->buf + *ret_off), -ECONNRESET
 * when the connection ended before any byte of it, or -errno. */
static int read_reply(CtlRest *rest, int64_t deadline, int *ret_status, size_t *ret_off, size_t *ret_len,
                      bool *ret_close) {
        size_t len = 0, body = 0, need = SIZE_MAX, length = SIZE_MAX;
        int r;

        for (;;) {
                ssize_t k;

                r = grow(rest, len + 4096 + 1);
                if (r < 0)
                        return r;
                k = recv(rest->fd, rest->buf + len, rest->cap - len - 1, MSG_DONTWAIT);
                if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
                        r = ctl_wait_fd(rest->fd, POLLIN, deadline);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (k < 0)
                        return len == 0 && errno == ECONNRESET ? -ECONNRESET : -errno;
                if (k == 0) {
                        if (len == 0)
                                return -ECONNRESET;
                        if (body == 0 || length != SIZE_MAX)
                                return -EPROTO; /* cut short */
                        *ret_close = true;
                        break;
                }
                len += (size_t) k;
                rest->buf[len] = '\0';
                if (body == 0) {
                        char *e = strstr(rest->buf, "\r\n\r\n");

                        if (!e) {
                                if (len > CTL_REST_HEAD_MAX)
                                        return -EPROTO;
                                continue;
                        }
                        body = (size_t) (e - rest->buf) + 4;
                        r = parse_head(rest->buf, e, ret_status, &length, ret_close);
                        if (r < 0)
                                return r;
                        if (length != SIZE_MAX) {
                                if (length > CTL_REST_REPLY_MAX)
                                        return -EMSGSIZE;
                                need = body + length;
                                r = grow(rest, need + 1);
                                if (r < 0)
                                        return r;
                        }
                }
                if (len >= need)
                        break;
        }
        *ret_off = body;
        *ret_len = (length != SIZE_MAX ? need : len) - body;
        return 0;
}

static int exchange_once(CtlRest *rest, const char *method, const char *path, const char *body, int *ret_status,
                         char **ret_body, size_t *ret_len) {
        int64_t deadline = ctl_now_ms() + rest->timeout_ms;
        size_t blen = body ? strlen(body) : 0, off = 0, len = 0;
        _cleanup_free_ char *req = NULL;
        bool close_after = false;
        int n, r;

        n = asprintf(&req, "%s %s HTTP/1.1\r\nHost: localhost\r\n%sContent-Length: %zu\r\n\r\n%s", method, path,
                     body ? "Content-Type: application/json\r\n" : "", blen, body ? body : "");
        if (n < 0)
                return -ENOMEM;
        r = send_all(rest->fd, req, (size_t) n, deadline);
        if (r == -EPIPE)
                r = -ECONNRESET;
        if (r < 0)
                return r;
        r = read_reply(rest, deadline, ret_status, &off, &len, &close_after);
        if (r < 0)
                return r;
        *ret_body = NULL;
        *ret_len = len;
        if (len > 0) {
                *ret_body = strndup(rest->buf + off, len);
                if (!*ret_body)
                        return -ENOMEM;
        }
        if (close_after)
                rest->fd = safe_close(rest->fd);
        return 0;
}

int ctl_rest_exchange(CtlRest *rest, const char *method, const char *path, const char *body, int *ret_status,
                      char **ret_body, size_t *ret_len) {
        bool fresh = rest->fd < 0;
        int r;

        if (fresh) {
                r = rest_connect(rest);
                if (r < 0)
                        return r;
        }
        r = exchange_once(rest, method, path, body, ret_status, ret_body, ret_len);
        if (r == -ECONNRESET && !fresh) {
                /* maiod closed the idle connection before reading the request: send it again once. */
                rest->fd = safe_close(rest->fd);
                r = rest_connect(rest);
                if (r >= 0)
                        r = exchange_once(rest, method, path, body, ret_status, ret_body, ret_len);
        }
        if (r < 0)
                rest->fd = safe_close(rest->fd);
        return r;
}
