/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The hugepage grant: one HTTP/1.1 POST to maiod over its unix socket, written by hand (a
 * tenant library should not pull in libcurl for one request; see docs/architecture.md), the
 * reply parsed with json-c. An absent daemon or endpoint means "work standalone". */

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "maio-internal.h"

#define GRANT_REPLY_MAX (64u * 1024u)

/* Waits for `events` on fd until the deadline. Returns 0, -ETIMEDOUT, or -errno. */
static int grant_poll(int fd, short events, int64_t deadline) {
        for (;;) {
                int64_t left = deadline - ring_now_ms();
                if (left <= 0)
                        return -ETIMEDOUT;
                struct pollfd pfd = { .fd = fd, .events = events };
                int k = poll(&pfd, 1, (int) left);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k > 0)
                        return 0;
        }
}

/* Connects; -ENOENT/-ECONNREFUSED tell the caller no daemon listens. Returns the fd or -errno. */
static int grant_connect(const char *path, int64_t deadline) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int r = -errno;
                if (r != -EINPROGRESS && r != -EAGAIN)
                        return r;
                r = grant_poll(fd, POLLOUT, deadline);
                if (r < 0)
                        return r;
                int err = 0;
                socklen_t l = sizeof(err);
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
                        return -errno;
                if (err)
                        return -err;
        }
        return TAKE_FD(fd);
}

static int grant_write_all(int fd, const char *buf, size_t len, int64_t deadline) {
        while (len > 0) {
                ssize_t k = send(fd, buf, len, MSG_NOSIGNAL);
                if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
                        int r = grant_poll(fd, POLLOUT, deadline);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (k < 0)
                        return -errno;
                buf += k;
                len -= (size_t) k;
        }
        return 0;
}

/* Finds a header's value in the header block (case-insensitive name). NULL if absent. */
static const char *grant_header(const char *head, const char *end, const char *name) {
        size_t n = strlen(name);
        for (const char *l = strstr(head, "\r\n"); l && l < end; l = strstr(l + 2, "\r\n")) {
                const char *h = l + 2;
                if (h + n < end && strncasecmp(h, name, n) == 0 && h[n] == ':') {
                        h += n + 1;
                        while (*h == ' ' || *h == '\t')
                                h++;
                        return h;
                }
        }
        return NULL;
}

/* Reads until the whole reply is in (Content-Length, else EOF). Fills the status code and the
 * body's offset. Returns the reply's length or -errno (-EPROTO malformed, -EMSGSIZE too big). */
static int grant_read_reply(int fd, char *buf, size_t cap, int64_t deadline, int *ret_status, size_t *ret_body) {
        size_t len = 0, need = SIZE_MAX, body = 0;
        for (;;) {
                if (len >= cap - 1)
                        return -EMSGSIZE;
                ssize_t k = recv(fd, buf + len, cap - 1 - len, 0);
                if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
                        int r = grant_poll(fd, POLLIN, deadline);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (k < 0)
                        return -errno;
                len += (size_t) k;
                buf[len] = 0;
                if (body == 0) {
                        char *e = strstr(buf, "\r\n\r\n");
                        if (e) {
                                body = (size_t) (e - buf) + 4;
                                const char *cl = grant_header(buf, e, "Content-Length");
                                if (cl)
                                        need = body + strtoull(cl, NULL, 10);
                        }
                }
                if (k == 0 || len >= need)
                        break;
        }
        unsigned major, minor, status;
        if (body == 0 || sscanf(buf, "HTTP/%u.%u %3u", &major, &minor, &status) != 3 || len < need || status < 100 ||
            status > 599)
                return -EPROTO;
        *ret_status = (int) status;
        *ret_body = body;
        return (int) len;
}

/* json-c's error style (NULL, wrong types) -> -EPROTO, in one place. The poller CPU is -1 unless
 * the reply holds a "poller_cpu" integer; "poller_reason" goes to reason. */
static int grant_parse_json(const char *body, maio_grant *ret, int *ret_cpu, char *reason, size_t size) {
        json_object *root = json_tokener_parse(body), *v;
        int r = -EPROTO;
        if (!root)
                return -EPROTO;
        if (json_object_is_type(root, json_type_object) && json_object_object_get_ex(root, "pages", &v) &&
            json_object_is_type(v, json_type_int) && json_object_get_int64(v) >= 0) {
                ret->pages = (uint64_t) json_object_get_int64(v);
                ret->numa_node = -1;
                if (json_object_object_get_ex(root, "node", &v) && json_object_is_type(v, json_type_int))
                        ret->numa_node = json_object_get_int(v);
                *ret_cpu = -1;
                if (json_object_object_get_ex(root, "poller_cpu", &v) && json_object_is_type(v, json_type_int) &&
                    json_object_get_int(v) >= 0)
                        *ret_cpu = json_object_get_int(v);
                if (reason && size > 0 && json_object_object_get_ex(root, "poller_reason", &v) &&
                    json_object_is_type(v, json_type_string))
                        snprintf(reason, size, "%s", json_object_get_string(v));
                r = 0;
        }
        json_object_put(root);
        return r;
}

static bool grant_tenant_valid(const char *t) {
        size_t n = strlen(t);
        if (n == 0 || n > 128)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char) t[i]) && !strchr("._-", t[i]))
                        return false;
        return true;
}

/* One exchange; *ret_status is the HTTP status once there was an answer. */
static int grant_once(const char *socket_path, const char *tenant, int numa_node, uint64_t bytes, bool poller,
                      int64_t deadline, int *ret_status, maio_grant *ret, int *ret_cpu, char *reason, size_t size) {
        char req[512], body[160];
        int status = 0, r;
        size_t body_off = 0;

        _cleanup_close_ int fd = grant_connect(socket_path, deadline);
        if (fd == -ENOENT || fd == -ECONNREFUSED || fd == -ENOTDIR)
                return 0;
        if (fd < 0)
                return fd;

        /* maiod's MaioGrantRequest (api/openapi.yaml): a grant is always for one node. */
        int blen = snprintf(body, sizeof(body), "{\"bytes\":%" PRIu64 ",\"node\":%d%s}", bytes,
                            numa_node >= 0 ? numa_node : 0, poller ? ",\"poller\":true" : "");
        int qlen = snprintf(req, sizeof(req),
                            "POST /v1/tenants/%s/maio HTTP/1.1\r\nHost: localhost\r\n"
                            "Content-Type: application/json\r\nContent-Length: %d\r\n"
                            "Connection: close\r\n\r\n%s",
                            tenant, blen, body);
        r = grant_write_all(fd, req, (size_t) qlen, deadline);
        if (r == -EPIPE || r == -ECONNRESET)
                return 0;
        if (r < 0)
                return r;

        _cleanup_free_ char *reply = malloc(GRANT_REPLY_MAX);
        if (!reply)
                return -ENOMEM;
        r = grant_read_reply(fd, reply, GRANT_REPLY_MAX, deadline, &status, &body_off);
        if (r < 0)
                return r;
        *ret_status = status;
        if (status == 404)
                return 0;
        if (status < 200 || status > 299)
                return -status;
        maio_grant g;
        r = grant_parse_json(reply + body_off, &g, ret_cpu, reason, size);
        if (r < 0)
                return r;
        if (g.pages == 0)
                return 0;
        *ret = g;
        return 1;
}

int grant_ask(const char *socket_path, const char *tenant, int numa_node, uint64_t bytes, bool poller, int timeout_ms,
              maio_grant *ret, int *ret_poller_cpu, char *ret_reason, size_t size) {
        int status = 0, cpu = -1, r;

        if (!socket_path || !tenant || !ret || !grant_tenant_valid(tenant) || timeout_ms <= 0)
                return -EINVAL;
        if (ret_reason && size > 0)
                ret_reason[0] = 0;
        int64_t deadline = ring_now_ms() + timeout_ms;
        r = grant_once(socket_path, tenant, numa_node, bytes, poller, deadline, &status, ret, &cpu, ret_reason, size);
        if (r == -400 && poller) {
                /* A maiod from before poller CPUs refuses the field: ask for the pages alone. */
                r = grant_once(socket_path, tenant, numa_node, bytes, false, deadline, &status, ret, &cpu, ret_reason,
                               size);
                if (ret_reason && size > 0)
                        snprintf(ret_reason, size, "maiod does not hand out poller CPUs");
        }
        if (ret_poller_cpu)
                *ret_poller_cpu = r > 0 ? cpu : -1;
        return r;
}

int maio_daemon_grant(const char *socket_path, const char *tenant, int numa_node, uint64_t bytes, int timeout_ms,
                      maio_grant *ret) {
        return grant_ask(socket_path, tenant, numa_node, bytes, false, timeout_ms, ret, NULL, NULL, 0);
}
