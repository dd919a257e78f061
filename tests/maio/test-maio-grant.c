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
        const char *reply;  /* NULL: accept and say nothing (timeout case) */
        const char *reply2; /* if set: a second connection is answered with it */
        char request2[2048];
        char request[2048];
        pthread_t thread;
} fake;

static void fake_serve_one(fake *f, char *request, const char *reply);

static void *fake_serve(void *data) {
        fake *f = data;
        fake_serve_one(f, f->request, f->reply);
        if (f->reply2)
                fake_serve_one(f, f->request2, f->reply2);
        return NULL;
}

static void fake_serve_one(fake *f, char *request, const char *reply) {
        int c = accept(f->fd, NULL, NULL);
        if (c < 0)
                return;
        size_t len = 0;
        /* Read the header and the body (Content-Length is small; read until both are in). */
        while (len < sizeof(f->request) - 1) {
                ssize_t k = read(c, request + len, sizeof(f->request) - 1 - len);
                if (k <= 0)
                        break;
                len += (size_t) k;
                request[len] = 0;
                char *e = strstr(request, "\r\n\r\n");
                char *cl = strstr(request, "Content-Length: ");
                if (e && cl && strlen(e + 4) >= (size_t) atoi(cl + 16))
                        break;
        }
        if (reply)
                (void) !write(c, reply, strlen(reply));
        else
                usleep(600 * 1000);
        close(c);
}

static void fake_start2(fake *f, const char *reply, const char *reply2);

static void fake_start(fake *f, const char *reply) {
        fake_start2(f, reply, NULL);
}

static void fake_start2(fake *f, const char *reply, const char *reply2) {
        memset(f, 0, sizeof(*f));
        f->reply2 = reply2;
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

static void reply_make(char *reply, size_t size, const char *body) {
        snprintf(reply, size, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s", strlen(body), body);
}

static maio_ring_mode_info ring_mode(maio_ring *r) {
        maio_ring_mode_info m;
        assert_int_equal(maio_ring_mode_get(r, &m), 0);
        return m;
}

/* Automatic ring mode with maiod's poller CPU: the pool asks for one, the first ring runs SQPOLL
 * pinned there, a second ring of the pool goes batch while the first holds it, and gets it once
 * the first is freed. Without a granted CPU: batch, with maiod's reason. */
static void test_auto_with_grant(void **state) {
        char reply[512];
        maio_pool *p;
        maio_ring *r1, *r2;
        maio_ring_mode_info m;
        fake f;

        unsetenv("MAIO_RING_MODE");
        reply_make(reply, sizeof(reply), "{\"tenant_id\":1,\"node\":0,\"pages\":1,\"poller_cpu\":0}");
        fake_start(&f, reply);
        maio_pool_config cfg = { .size = 2u << 20, .numa_node = -1, .daemon_socket = f.path, .tenant = "web" };
        assert_int_equal(maio_pool_new(&cfg, &p), 0);
        fake_stop(&f);
        assert_non_null(strstr(f.request, "{\"bytes\":2097152,\"node\":0,\"poller\":true}"));
        assert_int_equal(maio_pool_poller_cpu(p), 0);
        maio_ring_config rc = { .sq_thread_cpu = -1, .entries = 8, .recv_buffers = 2 };
        assert_int_equal(maio_ring_new(p, &rc, &r1), 0);
        m = ring_mode(r1);
        assert_int_equal(m.mode, MAIO_RING_MODE_SQPOLL);
        assert_int_equal(m.asked, MAIO_RING_MODE_AUTO);
        assert_string_equal(m.source, "auto");
        assert_int_equal(m.poller_cpu, 0);
        assert_true(m.poller_granted);
        assert_true(m.setup_flags & (1u << 2) /* IORING_SETUP_SQ_AFF */);
        assert_string_equal(m.reason, "auto: maiod granted poller CPU 0");
        assert_int_equal(maio_ring_new(p, &rc, &r2), 0);
        m = ring_mode(r2);
        assert_int_equal(m.mode, MAIO_RING_MODE_BATCH);
        assert_false(m.poller_granted);
        assert_non_null(strstr(m.reason, "used by another ring of this pool"));
        maio_ring_free(r2);
        maio_ring_free(r1);
        assert_int_equal(maio_ring_new(p, &rc, &r2), 0);
        assert_int_equal(ring_mode(r2).mode, MAIO_RING_MODE_SQPOLL);
        maio_ring_free(r2);
        maio_pool_free(p);

        /* maiod had none to give: batch, and the reason is maiod's. */
        reply_make(reply, sizeof(reply),
                   "{\"pages\":1,\"poller_cpu\":null,\"poller_reason\":\"all 1 poller CPUs are held\"}");
        fake_start(&f, reply);
        assert_int_equal(maio_pool_new(&cfg, &p), 0);
        fake_stop(&f);
        assert_int_equal(maio_pool_poller_cpu(p), -1);
        assert_int_equal(maio_ring_new(p, &rc, &r1), 0);
        m = ring_mode(r1);
        assert_int_equal(m.mode, MAIO_RING_MODE_BATCH);
        assert_string_equal(m.reason, "auto: no poller CPU (all 1 poller CPUs are held)");
        maio_ring_free(r1);
        maio_pool_free(p);

        /* MAIO_RING_MODE=batch: no poller CPU is asked for. */
        setenv("MAIO_RING_MODE", "batch", 1);
        fake_start(&f, reply);
        assert_int_equal(maio_pool_new(&cfg, &p), 0);
        fake_stop(&f);
        unsetenv("MAIO_RING_MODE");
        assert_null(strstr(f.request, "poller"));
        maio_pool_free(p);

        /* A maiod from before poller CPUs answers 400 to the field: the pages are asked alone. */
        reply_make(reply, sizeof(reply), "{\"pages\":1}");
        fake_start2(&f, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", reply);
        assert_int_equal(maio_pool_new(&cfg, &p), 0);
        fake_stop(&f);
        assert_non_null(strstr(f.request, "\"poller\":true"));
        assert_null(strstr(f.request2, "poller"));
        maio_pool_stats st;
        maio_pool_stats_get(p, &st);
        assert_int_equal(st.grant, MAIO_GRANT_GRANTED);
        assert_int_equal(maio_ring_new(p, &rc, &r1), 0);
        assert_string_equal(ring_mode(r1).reason, "auto: no poller CPU (maiod does not hand out poller CPUs)");
        maio_ring_free(r1);
        maio_pool_free(p);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_granted),         cmocka_unit_test(test_standalone),
                cmocka_unit_test(test_errors),          cmocka_unit_test(test_pool_grant_state),
                cmocka_unit_test(test_auto_with_grant),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
