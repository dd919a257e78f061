/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for maio_relay over loopback (in a private network namespace when the test may
 * create one): a stream relayed intact byte for byte by the splice relay (batch and SQPOLL
 * rings), by the buffer relay (MAIO_RELAY_BUFFERS) and by the two by turns, the end of the
 * stream, a datagram handle falling back to buffers, errors (bad handles and flags, a peer
 * reset on either side), and the io-wq worker bound: its value, and 64 idle splice relays that
 * leave the workers alone and do not hold up a 65th. The client and the sink are plain
 * sockets, so the ring's counters are the relay's alone. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <maio/maio.h>

#include "ring-env.h"

#include "pattern.h"

static uint16_t fd_port(int fd) {
        struct sockaddr_in sa;
        socklen_t l = sizeof(sa);
        assert_int_equal(getsockname(fd, (struct sockaddr *) &sa, &l), 0);
        return ntohs(sa.sin_port);
}

static void set_nonblock(int fd) {
        assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
}

/* The relay's two handles between plain sockets: *client -> *in (ring) ... *out (ring) -> *sink.
 * The plain ends are non-blocking. */
typedef struct relay_ends {
        int client, in, out, sink;
} relay_ends;

static relay_ends relay_ends_make(maio_ring *r, int type) {
        relay_ends x;
        struct sockaddr_in sa = loopback(0);
        int l = maio_listen(r, type, (struct sockaddr *) &sa, sizeof(sa), 64);
        assert_true(l >= 0);
        sa.sin_port = htons(fd_port(maio_fd(r, l)));
        x.client = socket(AF_INET, type | SOCK_CLOEXEC, 0);
        assert_true(x.client >= 0);
        assert_int_equal(connect(x.client, (struct sockaddr *) &sa, sizeof(sa)), 0);
        if (type == SOCK_STREAM) {
                x.in = maio_accept(r, l, 2000);
                assert_true(x.in >= 0);
                assert_int_equal(maio_close(r, l), 0);
        } else
                x.in = l;

        int sl = socket(AF_INET, type | SOCK_CLOEXEC, 0);
        sa = loopback(0);
        assert_int_equal(bind(sl, (struct sockaddr *) &sa, sizeof(sa)), 0);
        if (type == SOCK_STREAM)
                assert_int_equal(listen(sl, 4), 0);
        sa.sin_port = htons(fd_port(sl));
        x.out = maio_connect(r, type, (struct sockaddr *) &sa, sizeof(sa), 2000);
        assert_true(x.out >= 0);
        if (type == SOCK_STREAM) {
                x.sink = accept4(sl, NULL, NULL, SOCK_CLOEXEC);
                assert_true(x.sink >= 0);
                close(sl);
        } else
                x.sink = sl;
        set_nonblock(x.client);
        set_nonblock(x.sink);
        return x;
}

static void relay_ends_close(maio_ring *r, relay_ends *x) {
        assert_int_equal(maio_close(r, x->in), 0);
        assert_int_equal(maio_close(r, x->out), 0);
        close(x->client);
        close(x->sink);
}

#define RELAY_ALTERNATE 0xffffu

/* Streams `total` pattern bytes client -> relay -> sink, then the end of the stream; checks
 * every byte the sink reads and that the relay reports exactly total, then 0 (and keeps
 * reporting 0). */
static void relay_stream(maio_ring *r, relay_ends *x, unsigned flags, uint64_t seed, size_t total) {
        enum { PIECE = 100000 };
        uint8_t *data = malloc(total), *buf = malloc(PIECE);
        assert_non_null(data);
        assert_non_null(buf);
        pattern_fill(seed, 0, data, total);
        size_t sent = 0, got = 0, relayed = 0;
        bool closed = false;
        while (got < total) {
                bool moved = false;
                if (sent < total) {
                        ssize_t n = write(x->client, data + sent, total - sent < PIECE ? total - sent : PIECE);
                        assert_true(n > 0 || errno == EAGAIN);
                        if (n > 0) {
                                sent += (size_t) n;
                                moved = true;
                        }
                } else if (!closed) {
                        assert_int_equal(shutdown(x->client, SHUT_WR), 0);
                        closed = true;
                }
                /* RELAY_ALTERNATE: buffers and default by turns (the receive, once armed,
                 * keeps the default call on buffers too: no race for the bytes). */
                unsigned f = flags == RELAY_ALTERNATE ? (sent / PIECE) % 2 ? MAIO_RELAY_BUFFERS : 0 : flags;
                ssize_t k = maio_relay_flags(r, x->in, x->out, f, 0);
                /* -EBUSY: the buffer relay's sends fill the op table (back-pressure). */
                if (k < 0 && k != -EAGAIN && k != -EBUSY)
                        fail_msg("maio_relay: %zd", k);
                /* The end of the stream: everything reached the sink's socket. */
                if (k == 0)
                        assert_true(closed && relayed == total);
                if (k > 0) {
                        relayed += (size_t) k;
                        moved = true;
                }
                ssize_t n = read(x->sink, buf, PIECE);
                assert_true(n > 0 || (n < 0 && errno == EAGAIN));
                if (n > 0) {
                        assert_int_equal(pattern_check(seed, got, buf, (size_t) n), -1);
                        got += (size_t) n;
                        moved = true;
                }
                if (!moved)
                        (void) maio_ring_poll(r, 10);
        }
        assert_int_equal(got, total);
        /* The end of the stream, once everything reached the sink. */
        ssize_t k;
        unsigned f = flags == RELAY_ALTERNATE ? 0 : flags;
        while ((k = maio_relay_flags(r, x->in, x->out, f, 1000)) > 0)
                relayed += (size_t) k;
        assert_int_equal(k, 0);
        assert_int_equal(relayed, total);
        assert_int_equal(maio_relay_flags(r, x->in, x->out, f, 0), 0);
        /* Nothing more reached the sink. */
        assert_int_equal(shutdown(maio_fd(r, x->out), SHUT_WR), 0);
        for (int i = 0; i < 200; i++) {
                ssize_t n = read(x->sink, buf, PIECE);
                if (n == 0)
                        break;
                assert_true(n < 0 && errno == EAGAIN);
                usleep(10000);
        }
        assert_int_equal(read(x->sink, buf, PIECE), 0);
        free(data);
        free(buf);
}

static void relay_case(const maio_ring_config *rc, unsigned flags) {
        env e;
        enum { TOTAL = 8u << 20 };
        env_make(&e, 16u << 20, rc);
        relay_ends x = relay_ends_make(e.ring, SOCK_STREAM);
        maio_ring_stats st0, st;
        maio_ring_stats_get(e.ring, &st0);
        relay_stream(e.ring, &x, flags, 31 + (flags & 7), TOTAL);
        maio_ring_stats_get(e.ring, &st);
        /* Both relays count the bytes; only the buffer relay receives into buffers and sends. */
        assert_int_equal(st.bytes_received - st0.bytes_received, TOTAL);
        assert_int_equal(st.bytes_sent - st0.bytes_sent, TOTAL);
        if (flags & MAIO_RELAY_BUFFERS) { /* RELAY_ALTERNATE too */
                assert_true(st.recv_completions > st0.recv_completions);
                assert_true(st.sends > st0.sends);
        } else {
                assert_int_equal(st.recv_completions, st0.recv_completions);
                assert_int_equal(st.sends, st0.sends);
        }
        relay_ends_close(e.ring, &x);
        env_free(&e);
}

static void test_splice_batch(void **state) {
        maio_ring_config rc = { .sq_thread_cpu = -1, .flags = MAIO_RING_BATCH };
        relay_case(&rc, 0);
}

static void test_splice_sqpoll(void **state) {
        maio_ring_config rc = { .sq_thread_cpu = -1, .flags = MAIO_RING_SQPOLL };
        relay_case(&rc, 0);
}

static void test_buffers(void **state) {
        relay_case(NULL, MAIO_RELAY_BUFFERS);
}

/* Buffers and default by turns on one stream: intact, through buffers once their receive runs. */
static void test_alternate(void **state) {
        relay_case(NULL, RELAY_ALTERNATE);
}

/* Echo (from == to): what the client sends comes back intact. */
static void test_echo(void **state) {
        env e;
        env_make(&e, 16u << 20, NULL);
        struct sockaddr_in sa = loopback(0);
        int l = maio_listen(e.ring, SOCK_STREAM, (struct sockaddr *) &sa, sizeof(sa), 4);
        assert_true(l >= 0);
        sa.sin_port = htons(fd_port(maio_fd(e.ring, l)));
        int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_int_equal(connect(c, (struct sockaddr *) &sa, sizeof(sa)), 0);
        int h = maio_accept(e.ring, l, 2000);
        assert_true(h >= 0);
        enum { N = 1u << 20 };
        uint8_t *data = malloc(N), *back = malloc(N);
        pattern_fill(5, 0, data, N);
        set_nonblock(c);
        size_t sent = 0, got = 0;
        while (got < N) {
                ssize_t n = sent < N ? write(c, data + sent, N - sent) : -1;
                if (n > 0)
                        sent += (size_t) n;
                ssize_t k = maio_relay(e.ring, h, h, 0);
                assert_true(k > 0 || k == -EAGAIN);
                n = read(c, back + got, N - got);
                if (n > 0)
                        got += (size_t) n;
                else if (k < 0)
                        (void) maio_ring_poll(e.ring, 10);
        }
        assert_int_equal(pattern_check(5, 0, back, N), -1);
        close(c);
        assert_int_equal(maio_close(e.ring, h), 0);
        assert_int_equal(maio_close(e.ring, l), 0);
        free(data);
        free(back);
        env_free(&e);
}

/* Datagram handles relay through buffers: each datagram arrives whole. */
static void test_datagrams(void **state) {
        env e;
        env_make(&e, 16u << 20, NULL);
        relay_ends x = relay_ends_make(e.ring, SOCK_DGRAM);
        uint8_t d[1000], got[2000];
        for (unsigned i = 0; i < 16; i++) {
                pattern_fill(i, 0, d, sizeof(d));
                assert_int_equal(send(x.client, d, 100 + i * 50, 0), 100 + i * 50);
        }
        unsigned n = 0;
        size_t relayed = 0;
        for (int tries = 0; n < 16 && tries < 500; tries++) {
                ssize_t k = maio_relay(e.ring, x.in, x.out, 10);
                assert_true(k > 0 || k == -ETIMEDOUT);
                if (k > 0)
                        relayed += (size_t) k;
                ssize_t m;
                while ((m = recv(x.sink, got, sizeof(got), 0)) > 0) {
                        assert_int_equal(m, 100 + n * 50);
                        assert_int_equal(pattern_check(n, 0, got, (size_t) m), -1);
                        n++;
                }
        }
        assert_int_equal(n, 16);
        assert_int_equal(relayed, 16 * 100 + 50 * 120);
        maio_ring_stats st;
        maio_ring_stats_get(e.ring, &st);
        assert_true(st.recv_completions >= 16);
        relay_ends_close(e.ring, &x);
        env_free(&e);
}

/* Relays until it returns something other than "nothing yet" (at most ~10 s). */
static ssize_t relay_until_result(maio_ring *r, int from, int to) {
        ssize_t k = -ETIMEDOUT;
        for (int i = 0; i < 100 && (k == -ETIMEDOUT || k == -EAGAIN || k > 0); i++)
                k = maio_relay(r, from, to, 100);
        return k;
}

static void test_errors(void **state) {
        env e;
        env_make(&e, 16u << 20, NULL);
        relay_ends x = relay_ends_make(e.ring, SOCK_STREAM);
        assert_int_equal(maio_relay(NULL, x.in, x.out, 0), -EBADF);
        assert_int_equal(maio_relay(e.ring, 999, x.out, 0), -EBADF);
        assert_int_equal(maio_relay(e.ring, x.in, -1, 0), -EBADF);
        assert_int_equal(maio_relay(e.ring, x.in, 1u << 30, 0), -EBADF);
        assert_int_equal(maio_relay_flags(e.ring, x.in, x.out, 0x80, 0), -EINVAL);
        /* Nothing sent yet. */
        assert_int_equal(maio_relay(e.ring, x.in, x.out, 0), -EAGAIN);
        assert_int_equal(maio_relay(e.ring, x.in, x.out, 50), -ETIMEDOUT);

        /* The sink goes away with a reset; what the client sends then fails on the way out. */
        struct linger lg = { 1, 0 };
        assert_int_equal(setsockopt(x.sink, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
        close(x.sink);
        x.sink = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0); /* for relay_ends_close */
        uint8_t buf[65536] = { 1 };
        ssize_t k = -EAGAIN;
        for (int i = 0; i < 100 && (k == -EAGAIN || k == -ETIMEDOUT || k > 0); i++) {
                (void) write(x.client, buf, sizeof(buf));
                k = maio_relay(e.ring, x.in, x.out, 100);
        }
        assert_true(k == -EPIPE || k == -ECONNRESET);
        assert_int_equal(maio_socket_error(e.ring, x.out), k);
        /* The error stays. */
        assert_int_equal(maio_relay(e.ring, x.in, x.out, 0), k);
        relay_ends_close(e.ring, &x);

        /* The client resets after its bytes were relayed: the relay reports it on `from`. */
        x = relay_ends_make(e.ring, SOCK_STREAM);
        assert_int_equal(write(x.client, buf, 1000), 1000);
        size_t moved = 0;
        for (int i = 0; i < 100 && moved < 1000; i++) {
                k = maio_relay(e.ring, x.in, x.out, 100);
                assert_true(k > 0 || k == -ETIMEDOUT);
                moved += k > 0 ? (size_t) k : 0;
        }
        assert_int_equal(moved, 1000);
        assert_int_equal(setsockopt(x.client, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
        close(x.client);
        x.client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_int_equal(relay_until_result(e.ring, x.in, x.out), -ECONNRESET);
        assert_int_equal(maio_socket_error(e.ring, x.in), -ECONNRESET);
        relay_ends_close(e.ring, &x);
        /* A closed handle is a bad one. */
        assert_int_equal(maio_relay(e.ring, x.in, x.out, 0), -EBADF);
        env_free(&e);
}

static unsigned iowq_threads(void) {
        DIR *d = opendir("/proc/self/task");
        struct dirent *de;
        unsigned n = 0;
        assert_non_null(d);
        while ((de = readdir(d))) {
                char path[300], comm[64] = "";
                if (de->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof(path), "/proc/self/task/%s/comm", de->d_name);
                FILE *f = fopen(path, "re");
                if (!f)
                        continue;
                if (fgets(comm, sizeof(comm), f) && strncmp(comm, "iou-wrk-", 8) == 0)
                        n++;
                fclose(f);
        }
        closedir(d);
        return n;
}

static void test_iowq_bound(void **state) {
        env e;
        unsigned prev = 0;
        env_make(&e, 16u << 20, NULL);
        /* maio_ring_new applied the default bound. */
        assert_int_equal(maio_ring_iowq_max_workers(e.ring, 0, &prev), 0);
        assert_int_equal(prev, MAIO_IOWQ_MAX_WORKERS_DEFAULT);
        assert_int_equal(maio_ring_iowq_max_workers(e.ring, 2, &prev), 0);
        assert_int_equal(prev, MAIO_IOWQ_MAX_WORKERS_DEFAULT);
        assert_int_equal(maio_ring_iowq_max_workers(e.ring, 0, &prev), 0);
        assert_int_equal(prev, 2);
        assert_int_equal(maio_ring_iowq_max_workers(NULL, 0, &prev), -EINVAL);
        env_free(&e);

        setenv("MAIO_IOWQ_MAX_WORKERS", "3", 1);
        env_make(&e, 16u << 20, NULL);
        unsetenv("MAIO_IOWQ_MAX_WORKERS");
        assert_int_equal(maio_ring_iowq_max_workers(e.ring, 0, &prev), 0);
        assert_int_equal(prev, 3);

        /* 64 idle splice relays: each waits on its socket, none holds a worker. */
        enum { IDLE = 64 };
        maio_ring_config rc = { .sq_thread_cpu = -1, .max_sockets = 4 * IDLE + 16 };
        maio_ring_free(e.ring);
        e.ring = NULL;
        assert_int_equal(maio_ring_new(e.pool, &rc, &e.ring), 0);
        relay_ends idle[IDLE];
        for (int i = 0; i < IDLE; i++) {
                idle[i] = relay_ends_make(e.ring, SOCK_STREAM);
                assert_int_equal(maio_relay(e.ring, idle[i].in, idle[i].out, 0), -EAGAIN);
        }
        assert_int_equal(maio_relay(e.ring, idle[0].in, idle[0].out, 200), -ETIMEDOUT);
        unsigned threads = iowq_threads();
        /* Workers other tests started may linger (the last one of each kind stays): at most the
         * bound of each of the two kinds. */
        assert_true(threads <= 2 * MAIO_IOWQ_MAX_WORKERS_DEFAULT);
        /* ... and a 65th relay moves its stream while they wait. */
        relay_ends x = relay_ends_make(e.ring, SOCK_STREAM);
        relay_stream(e.ring, &x, 0, 77, 4u << 20);
        relay_ends_close(e.ring, &x);
        assert_true(iowq_threads() <= 2 * MAIO_IOWQ_MAX_WORKERS_DEFAULT);
        /* The idle ones see their clients' bytes now, and their end. */
        for (int i = 0; i < IDLE; i++) {
                assert_int_equal(write(idle[i].client, "x", 1), 1);
                assert_int_equal(shutdown(idle[i].client, SHUT_WR), 0);
        }
        for (int i = 0; i < IDLE; i++) {
                assert_int_equal(relay_until_result(e.ring, idle[i].in, idle[i].out), 0);
                relay_ends_close(e.ring, &idle[i]);
        }
        env_free(&e);
}

int main(void) {
        if (private_netns() < 0)
                return 1;
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_splice_batch), cmocka_unit_test(test_splice_sqpoll),
                cmocka_unit_test(test_buffers),      cmocka_unit_test(test_echo),
                cmocka_unit_test(test_datagrams),    cmocka_unit_test(test_errors),
                cmocka_unit_test(test_iowq_bound),   cmocka_unit_test(test_alternate),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
