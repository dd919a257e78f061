/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the daemon grant client against a fake maiod on a temp unix socket: the request
 * it sends, granted / standalone (no socket, 404) / error replies, malformed replies, timeouts,
 * and what the pool's stats say in each case. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include <maio/maio.h>

typedef struct fake {
        char path[108];
        int fd;
        const char *reply; /* NULL: accept and say nothing (timeout case) */
        char request[2048];
        pthread_t thread;
} fake;

static void *fake_serve(void *data) {
        fake *f = data;
        int c = accept(f->fd, NULL, NULL);
        if (c < 0)
                return NULL;
        size_t len = 0;
        /* Read the header and the body (Content-Length is small; read until both are in). */
        while (len < sizeof(f->request) - 1) {
                ssize_t k = read(c, f->request + len, sizeof(f->request) - 1 - len);
                if (k <= 0)
                        break;
                len += (size_t) k;
                f->request[len] = 0;
                char *e = strstr(f->request, "\r\n\r\n");
                char *cl = strstr(f->request, "Content-Length: ");
                if (e && cl && strlen(e + 4) >= (size_t) atoi(cl + 16))
                        break;
        }
        if (f->reply)
                (void) !write(c, f->reply, strlen(f->reply));
        else
                usleep(600 * 1000);
        close(c);
        return NULL;
}

static void fake_start(fake *f, const char *reply) {
        memset(f, 0, sizeof(*f));
        snprintf(f->path, sizeof(f->path), "/tmp/maio-grant-%d.sock", getpid());
        unlink(f->path);
        f->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(f->fd >= 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        strcpy(sa.sun_path, f->path);
        assert_int_equal(bind(f->fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        assert_int_equal(listen(f->fd, 4), 0);
        f->reply = reply;
        assert_int_equal(pthread_create(&f->thread, NULL, fake_serve, f), 0);
}

static void fake_stop(fake *f) {
        pthread_join(f->thread, NULL);
        close(f->fd);
        unlink(f->path);
}

static int grant_with(const char *reply, maio_grant *g, fake *f) {
        fake_start(f, reply);
        int r = maio_daemon_grant(f->path, "t-1", 0, 4u << 20, 400, g);
        fake_stop(f);
        return r;
}

static void test_granted(void **state) {
        const char *body = "{\"tenant_id\":1,\"tenant\":\"web\",\"node\":0,\"pages\":2,\"bytes\":4194304}";
        char reply[256];
        snprintf(reply, sizeof(reply),
                 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                 "Content-Length: %zu\r\n\r\n%s",
                 strlen(body), body);
        maio_grant g = { .pages = 99 };
        fake f;
        assert_int_equal(grant_with(reply, &g, &f), 1);
        assert_int_equal(g.pages, 2);
        assert_int_equal(g.numa_node, 0);
        /* The request: method, path, JSON body with the node and the size. */
        assert_non_null(strstr(f.request, "POST /v1/tenants/t-1/maio HTTP/1.1\r\n"));
        assert_non_null(strstr(f.request, "\r\n\r\n{\"bytes\":4194304,\"node\":0}"));
}

static void test_standalone(void **state) {
        maio_grant g;
        fake f;
        assert_int_equal(maio_daemon_grant("/tmp/maio-no-such-dir/maiod.sock", "t", -1, 1, 200, &g), 0);
        assert_int_equal(grant_with("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", &g, &f), 0);
        /* A grant of zero pages is no grant. */
        assert_int_equal(grant_with("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"pages\":0}", &g, &f), 0);
}

static void test_errors(void **state) {
        maio_grant g;
        fake f;
        assert_int_equal(grant_with("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", &g, &f), -503);
        assert_int_equal(grant_with("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nnope!", &g, &f), -EPROTO);
        assert_int_equal(grant_with("HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\n{\"pages\":\"x\"}", &g, &f), -EPROTO);
        assert_int_equal(grant_with("garbage\r\n\r\n", &g, &f), -EPROTO);
        /* Truncated body (Content-Length promises more than arrives before EOF). */
        assert_int_equal(grant_with("HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{\"pages\":1}", &g, &f), -EPROTO);
        assert_int_equal(grant_with(NULL, &g, &f), -ETIMEDOUT);
        assert_int_equal(maio_daemon_grant("/tmp/x.sock", "../etc", 0, 1, 100, &g), -EINVAL);
        assert_int_equal(maio_daemon_grant("/tmp/x.sock", "", 0, 1, 100, &g), -EINVAL);
}

static void test_pool_grant_state(void **state) {
        const char *body = "{\"tenant_id\":1,\"tenant\":\"web\",\"node\":0,\"pages\":2,\"bytes\":4194304}";
        char reply[256];
        snprintf(reply, sizeof(reply), "HTTP/1.1 201 Created\r\nContent-Length: %zu\r\n\r\n%s", strlen(body), body);
        maio_pool *p;
        maio_pool_stats st;
        fake f;

        fake_start(&f, reply);
        maio_pool_config cfg = { .size = 2u << 20, .numa_node = -1, .daemon_socket = f.path, .tenant = "web" };
        assert_int_equal(maio_pool_new(&cfg, &p), 0);
        fake_stop(&f);
        maio_pool_stats_get(p, &st);
        assert_int_equal(st.grant, MAIO_GRANT_GRANTED);
        assert_non_null(strstr(f.request, "/v1/tenants/web/maio"));
        maio_pool_free(p);

        fake_start(&f, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
        assert_int_equal(maio_pool_new(&cfg, &p), 0);
        fake_stop(&f);
        maio_pool_stats_get(p, &st);
        assert_int_equal(st.grant, MAIO_GRANT_FAILED);
        assert_int_equal(st.grant_error, -500);
        maio_pool_free(p);

        cfg.daemon_socket = "/tmp/maio-no-such-dir/maiod.sock";
        assert_int_equal(maio_pool_new(&cfg, &p), 0);
        maio_pool_stats_get(p, &st);
        assert_int_equal(st.grant, MAIO_GRANT_STANDALONE);
        assert_string_equal(maio_grant_state_to_string(st.grant), "standalone");
        maio_pool_free(p);

        cfg.flags = MAIO_POOL_NO_DAEMON;
        assert_int_equal(maio_pool_new(&cfg, &p), 0);
        maio_pool_stats_get(p, &st);
        assert_int_equal(st.grant, MAIO_GRANT_NOT_ASKED);
        maio_pool_free(p);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_granted),
                cmocka_unit_test(test_standalone),
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_pool_grant_state),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
