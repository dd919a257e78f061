/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for libmaio's rings and sockets over loopback (in a private network namespace when
 * the test may create one): buffer ownership across zero-copy sends, receive buffer states,
 * copy/zero-copy choice and fallback, peer reset mid-stream, pool exhaustion and ring-full
 * back-pressure with nothing leaked, 10,000 connect/close cycles without fd leaks, UDP datagrams,
 * the relay, the SQPOLL poller options, and the ring modes (sqpoll, batch, auto, MAIO_RING_MODE). */
#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
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

static uint16_t handle_port(maio_ring *r, int h) {
        struct sockaddr_in sa;
        socklen_t l = sizeof(sa);
        assert_int_equal(getsockname(maio_fd(r, h), (struct sockaddr *) &sa, &l), 0);
        return ntohs(sa.sin_port);
}

/* A connected TCP pair on one ring: *a connected, *b accepted. Returns the listener. */
static int tcp_pair(maio_ring *r, int *a, int *b) {
        struct sockaddr_in sa = loopback(0);
        int l = maio_listen(r, SOCK_STREAM, (struct sockaddr *) &sa, sizeof(sa), 64);
        assert_true(l >= 0);
        sa.sin_port = htons(handle_port(r, l));
        *a = maio_connect(r, SOCK_STREAM, (struct sockaddr *) &sa, sizeof(sa), 2000);
        assert_true(*a >= 0);
        *b = maio_accept(r, l, 2000);
        assert_true(*b >= 0);
        return l;
}

/* Receives exactly len bytes on h and checks them against the pattern. */
static void recv_expect(maio_ring *r, int h, uint64_t seed, uint64_t off, size_t len) {
        size_t got = 0;
        while (got < len) {
                struct iovec iov[8];
                int n = maio_recv_sg(r, h, iov, 8, 5000);
                assert_true(n > 0);
                for (int i = 0; i < n; i++) {
                        assert_int_equal(pattern_check(seed, off + got, iov[i].iov_base, iov[i].iov_len), -1);
                        got += iov[i].iov_len;
                        assert_int_equal(maio_recv_release(r, iov[i].iov_base), 0);
                }
        }
        assert_int_equal(got, len);
}

static void test_zc_ownership(void **state) {
        env e;
        int a, b;
        env_make(&e, 8u << 20, NULL);
        int l = tcp_pair(e.ring, &a, &b);
        maio_ring_stats st;
        maio_ring_stats_get(e.ring, &st);
        assert_true(st.zc_supported);
        /* No poller CPU configured or granted: the automatic choice is batch. */
        assert_false(st.sqpoll);

        void *buf;
        assert_int_equal(maio_alloc(e.pool, MAIO_CHUNK_SIZE, &buf), 0);
        pattern_fill(7, 0, buf, MAIO_CHUNK_SIZE);
        assert_int_equal(maio_send(e.ring, a, buf, MAIO_CHUNK_SIZE, 0), 0);
        /* Handed over: in flight, not freeable, not sendable again, until its notification. */
        assert_int_equal(maio_buf_get_state(e.pool, buf), MAIO_BUF_INFLIGHT);
        assert_int_equal(maio_free(e.pool, buf), -EBUSY);
        assert_int_equal(maio_send(e.ring, a, buf, 64, 0), -EINVAL);
        while (maio_buf_get_state(e.pool, buf) == MAIO_BUF_INFLIGHT) {
                maio_ring_stats_get(e.ring, &st);
                assert_int_equal(st.zc_notifications, 0);
                assert_true(maio_ring_poll(e.ring, 1000) >= 0);
        }
        maio_ring_stats_get(e.ring, &st);
        assert_int_equal(maio_buf_get_state(e.pool, buf), MAIO_BUF_APP);
        assert_int_equal(st.zc_notifications, 1);
        assert_int_equal(st.sends_zc, 1);
        assert_int_equal(maio_send_pending(e.ring, a), 0);
        recv_expect(e.ring, b, 7, 0, MAIO_CHUNK_SIZE);

        /* Reusable now; MAIO_SEND_FREE gives it back to the pool at completion. */
        pattern_fill(7, MAIO_CHUNK_SIZE, buf, 1000);
        assert_int_equal(maio_send(e.ring, a, buf, 1000, MAIO_SEND_FREE), 0);
        assert_int_equal(maio_flush(e.ring, a, 5000), 0);
        assert_int_equal(maio_buf_get_state(e.pool, buf), MAIO_BUF_FREE);
        recv_expect(e.ring, b, 7, MAIO_CHUNK_SIZE, 1000);

        /* Not pool memory, or longer than the buffer: refused. */
        char stack[64];
        assert_int_equal(maio_send(e.ring, a, stack, sizeof(stack), 0), -EINVAL);
        assert_int_equal(maio_alloc(e.pool, 128, &buf), 0);
        assert_int_equal(maio_send(e.ring, a, buf, 129, 0), -EINVAL);
        assert_int_equal(maio_send(e.ring, a, buf, 0, 0), -EINVAL);
        assert_int_equal(maio_send(e.ring, 999, buf, 10, 0), -EBADF);
        assert_int_equal(maio_free(e.pool, buf), 0);
        maio_close(e.ring, l);
        env_free(&e);
}

static void test_recv_states(void **state) {
        env e;
        int a, b;
        env_make(&e, 8u << 20, NULL);
        tcp_pair(e.ring, &a, &b);
        char msg[3000];
        pattern_fill(3, 0, msg, sizeof(msg));
        assert_int_equal(maio_send_copy(e.ring, a, msg, sizeof(msg)), 0);
        struct iovec iov[4];
        int n = maio_recv_sg(e.ring, b, iov, 4, 5000);
        assert_true(n > 0);
        assert_int_equal(maio_buf_get_state(e.pool, iov[0].iov_base), MAIO_BUF_RECV);
        assert_int_equal(maio_free(e.pool, iov[0].iov_base), -EBUSY);
        assert_int_equal(maio_recv_release(e.ring, msg), -EINVAL);
        for (int i = 0; i < n; i++)
                assert_int_equal(maio_recv_release(e.ring, iov[i].iov_base), 0);
        assert_int_equal(maio_recv_release(e.ring, iov[0].iov_base), -EINVAL);
        assert_int_equal(maio_recv_sg(e.ring, b, iov, 4, 0), -EAGAIN);
        assert_int_equal(maio_recv_sg(e.ring, b, iov, 4, 50), -ETIMEDOUT);
        /* End of stream. */
        maio_close(e.ring, a);
        assert_int_equal(maio_recv_sg(e.ring, b, iov, 4, 5000), 0);
        env_free(&e);
}

static void test_copy_paths(void **state) {
        env e;
        int a, b;
        maio_ring_stats st;
        env_make(&e, 8u << 20, NULL);
        tcp_pair(e.ring, &a, &b);
        assert_int_equal(maio_ring_zc_threshold(e.ring), MAIO_ZC_THRESHOLD_DEFAULT);
        void *buf;
        assert_int_equal(maio_alloc(e.pool, 100, &buf), 0);
        pattern_fill(5, 0, buf, 100);
        assert_int_equal(maio_send(e.ring, a, buf, 100, MAIO_SEND_FREE), 0);
        assert_int_equal(maio_flush(e.ring, a, 5000), 0);
        maio_ring_stats_get(e.ring, &st);
        assert_int_equal(st.sends_copy, 1); /* below the crossover: plain SEND */
        assert_int_equal(st.sends_zc, 0);
        assert_int_equal(st.zc_notifications, 0);
        recv_expect(e.ring, b, 5, 0, 100);
        env_free(&e);

        /* A ring that may not use SEND_ZC copies everything and says so. */
        maio_ring_config rc = { .sq_thread_cpu = -1, .flags = MAIO_RING_NO_ZC };
        env_make(&e, 8u << 20, &rc);
        tcp_pair(e.ring, &a, &b);
        static uint8_t big[300000];
        pattern_fill(6, 0, big, sizeof(big));
        assert_int_equal(maio_send_copy(e.ring, a, big, sizeof(big)), 0);
        assert_int_equal(maio_flush(e.ring, a, 5000), 0);
        maio_ring_stats_get(e.ring, &st);
        assert_int_equal(st.sends_zc, 0);
        assert_int_equal(st.sends_copy, 5);
        assert_int_equal(st.copies, 5);
        assert_int_equal(st.bytes_copied, sizeof(big));
        recv_expect(e.ring, b, 6, 0, sizeof(big));
        env_free(&e);
}

static void test_peer_reset(void **state) {
        env e;
        int a, b, err = 0;
        env_make(&e, 16u << 20, NULL);
        tcp_pair(e.ring, &a, &b);
        /* The peer goes away with unread data: RST. */
        struct linger lg = { 1, 0 };
        assert_int_equal(setsockopt(maio_fd(e.ring, b), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
        assert_int_equal(maio_close(e.ring, b), 0);
        for (int i = 0; i < 2000 && err == 0; i++) {
                void *buf;
                if (maio_alloc(e.pool, MAIO_CHUNK_SIZE, &buf) < 0) {
                        maio_ring_poll(e.ring, 100);
                        continue;
                }
                err = maio_send(e.ring, a, buf, MAIO_CHUNK_SIZE, MAIO_SEND_FREE);
                if (err < 0)
                        assert_int_equal(maio_free(e.pool, buf), 0);
                maio_ring_poll(e.ring, 0);
        }
        assert_true(err == -EPIPE || err == -ECONNRESET);
        assert_int_equal(maio_socket_error(e.ring, a), err);
        int k = maio_flush(e.ring, a, 5000);
        assert_int_equal(k, err);
        assert_int_equal(maio_send_pending(e.ring, a), 0);
        env_free(&e); /* every buffer of the broken stream is back */
}

/* The watchdog on a stream blocked by its peer: sends stay in flight with no completion, the
 * watchdog re-signals write space (send_kicks), which does not disturb the stream; once the
 * peer reads, every byte arrives in order and the sends complete. Copying sends: a zero-copy
 * send parked behind a peer of the same process would hang this process's exit if an
 * assertion failed here (libmaio(3), NOTES). */
static void test_send_watchdog(void **state) {
        env e;
        int a, b;
        maio_ring_stats st;
        maio_ring_config rc = { .sq_thread_cpu = -1, .zc_threshold = 1u << 30 };
        enum { N = 48 };
        env_make(&e, 16u << 20, &rc);
        tcp_pair(e.ring, &a, &b);
        int small = 64 << 10;
        assert_int_equal(setsockopt(maio_fd(e.ring, a), SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
        assert_int_equal(setsockopt(maio_fd(e.ring, b), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
        for (int i = 0; i < N; i++) {
                void *buf;
                assert_int_equal(maio_alloc(e.pool, MAIO_CHUNK_SIZE, &buf), 0);
                pattern_fill(31, (uint64_t) i * MAIO_CHUNK_SIZE, buf, MAIO_CHUNK_SIZE);
                assert_int_equal(maio_send(e.ring, a, buf, MAIO_CHUNK_SIZE, MAIO_SEND_FREE), 0);
        }
        /* b does not read: 3 MiB cannot fit in 128 KiB of socket buffers. */
        for (int i = 0; i < 10; i++)
                (void) maio_ring_poll(e.ring, 50);
        maio_ring_stats_get(e.ring, &st);
        assert_true(maio_send_pending(e.ring, a) > 0);
        assert_true(st.send_kicks >= 1);
        assert_int_equal(maio_socket_error(e.ring, a), 0);
        recv_expect(e.ring, b, 31, 0, (size_t) N * MAIO_CHUNK_SIZE);
        assert_int_equal(maio_flush(e.ring, a, 5000), 0);
        maio_close(e.ring, a);
        maio_close(e.ring, b);
        env_free(&e);
}

static void test_exhaustion_and_backpressure(void **state) {
        env e;
        int a, b;
        maio_pool_stats ps0, ps;
        maio_ring_config rc = { .sq_thread_cpu = -1, .recv_buffers = 4, .max_ops = 8 };
        env_make(&e, 2u << 20, &rc);
        tcp_pair(e.ring, &a, &b);
        maio_pool_stats_get(e.pool, &ps0);

        /* More than the pool holds: refused whole, nothing leaked, nothing queued. */
        static uint8_t big[2u << 20];
        pattern_fill(9, 0, big, sizeof(big));
        assert_int_equal(maio_send_copy(e.ring, a, big, 7 * MAIO_CHUNK_SIZE), 0);
        recv_expect(e.ring, b, 9, 0, 7 * MAIO_CHUNK_SIZE);
        assert_int_equal(maio_flush(e.ring, a, 5000), 0);
        maio_pool_stats_get(e.pool, &ps0);
        assert_int_equal(maio_send_copy(e.ring, a, big, 9 * MAIO_CHUNK_SIZE), -EBUSY); /* 9 ops > 8 */
        void *hold[32];
        int nhold = 0;
        while (maio_alloc(e.pool, MAIO_CHUNK_SIZE, &hold[nhold]) == 0)
                nhold++;
        maio_pool_stats_get(e.pool, &ps);
        assert_int_equal(ps.chunks_free, 0);
        assert_int_equal(maio_send_copy(e.ring, a, big, 3 * MAIO_CHUNK_SIZE), -ENOBUFS);
        assert_int_equal(maio_send_pending(e.ring, a), 0);
        while (nhold > 0)
                assert_int_equal(maio_free(e.pool, hold[--nhold]), 0);
        maio_pool_stats_get(e.pool, &ps);
        assert_int_equal(ps.chunks_free, ps0.chunks_free);

        /* Recovery: the same send goes through now. Op table full -> -EBUSY until completions. */
        assert_int_equal(maio_send_copy(e.ring, a, big, 3 * MAIO_CHUNK_SIZE), 0);
        recv_expect(e.ring, b, 9, 0, 3 * MAIO_CHUNK_SIZE);
        assert_int_equal(maio_flush(e.ring, a, 5000), 0);
        int busy = 0;
        for (int i = 0; i < 12; i++) {
                void *buf;
                assert_int_equal(maio_alloc(e.pool, 64, &buf), 0);
                int k = maio_send(e.ring, a, buf, 64, MAIO_SEND_FREE);
                if (k == -EBUSY) {
                        busy++;
                        assert_int_equal(maio_buf_get_state(e.pool, buf), MAIO_BUF_APP);
                        assert_int_equal(maio_free(e.pool, buf), 0);
                } else
                        assert_int_equal(k, 0);
        }
        /* The receive op holds one slot when armed; the rest fill up. */
        assert_true(busy >= 4);
        assert_int_equal(maio_flush(e.ring, a, 5000), 0);
        maio_ring_stats st;
        maio_ring_stats_get(e.ring, &st);
        assert_true(st.ring_full >= (uint64_t) busy);
        env_free(&e);
}

static int count_fds(void) {
        DIR *d = opendir("/proc/self/fd");
        int n = 0;
        assert_non_null(d);
        while (readdir(d))
                n++;
        closedir(d);
        return n;
}

static void test_connect_close_cycles(void **state) {
        const char *env_cycles = getenv("MAIO_TEST_CYCLES");
        int cycles = env_cycles ? atoi(env_cycles) : 10000;
        env e;
        maio_ring_config rc = { .sq_thread_cpu = -1, .recv_buffers = 8 };
        env_make(&e, 4u << 20, &rc);
        struct sockaddr_in sa = loopback(0);
        int l = maio_listen(e.ring, SOCK_STREAM, (struct sockaddr *) &sa, sizeof(sa), 64);
        assert_true(l >= 0);
        sa.sin_port = htons(handle_port(e.ring, l));
        int before = count_fds();
        for (int i = 0; i < cycles; i++) {
                int c = maio_connect(e.ring, SOCK_STREAM, (struct sockaddr *) &sa, sizeof(sa), 2000);
                assert_true(c >= 0);
                int s = maio_accept(e.ring, l, 2000);
                assert_true(s >= 0);
                if (i % 100 == 0) {
                        /* Now and then with traffic and an armed receive, so close has work. */
                        assert_int_equal(maio_send_copy(e.ring, c, "ping", 4), 0);
                        struct iovec iov[1];
                        assert_int_equal(maio_recv_sg(e.ring, s, iov, 1, 2000), 1);
                        assert_int_equal(maio_recv_release(e.ring, iov[0].iov_base), 0);
                        assert_int_equal(maio_recv_start(e.ring, c), 0);
                }
                /* The server closes first, so TIME_WAIT does not pile up on client ports. */
                assert_int_equal(maio_close(e.ring, s), 0);
                assert_int_equal(maio_close(e.ring, c), 0);
        }
        assert_int_equal(count_fds(), before);
        maio_close(e.ring, l);
        env_free(&e);
}

static void test_udp(void **state) {
        env e;
        env_make(&e, 8u << 20, NULL);
        struct sockaddr_in sa = loopback(0), sb = loopback(0);
        int a = maio_listen(e.ring, SOCK_DGRAM, (struct sockaddr *) &sa, sizeof(sa), 0);
        int b = maio_listen(e.ring, SOCK_DGRAM, (struct sockaddr *) &sb, sizeof(sb), 0);
        assert_true(a >= 0 && b >= 0);
        sa.sin_port = htons(handle_port(e.ring, a));
        sb.sin_port = htons(handle_port(e.ring, b));
        assert_int_equal(maio_connect_handle(e.ring, a, (struct sockaddr *) &sb, sizeof(sb), 1000), 0);
        assert_int_equal(maio_connect_handle(e.ring, b, (struct sockaddr *) &sa, sizeof(sa), 1000), 0);
        /* Datagram sends are unlinked: all seven reach b before its receive runs, more than the
         * default receive buffer holds (UDP would drop the last, RcvbufErrors). */
        int big = 4 << 20;
        assert_int_equal(setsockopt(maio_fd(e.ring, b), SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)), 0);
        assert_int_equal(maio_recv_start(e.ring, b), 0);
        static const size_t sizes[] = { 1, 64, 1400, 8191, 8192, 30000, 65000 };
        uint64_t off = 0;
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
                void *buf;
                assert_int_equal(maio_alloc(e.pool, sizes[i], &buf), 0);
                pattern_fill(11, off, buf, sizes[i]);
                assert_int_equal(maio_send(e.ring, a, buf, sizes[i], MAIO_SEND_FREE), 0);
                off += sizes[i];
        }
        assert_int_equal(maio_flush(e.ring, a, 5000), 0);
        /* One datagram per iovec, in order, intact. */
        off = 0;
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]);) {
                struct iovec iov[8];
                int n = maio_recv_sg(e.ring, b, iov, 8, 5000);
                assert_true(n > 0);
                for (int j = 0; j < n; j++, i++) {
                        assert_int_equal(iov[j].iov_len, sizes[i]);
                        assert_int_equal(pattern_check(11, off, iov[j].iov_base, sizes[i]), -1);
                        off += sizes[i];
                        assert_int_equal(maio_recv_release(e.ring, iov[j].iov_base), 0);
                }
        }
        maio_ring_stats st;
        maio_ring_stats_get(e.ring, &st);
        assert_int_equal(st.sends, 7);
        /* Of the four at or above the 4 KiB crossover the first probes the path with SEND_ZC; the
         * rest copy while its notification is out, which then says loopback copied anyway. */
        assert_int_equal(st.sends_zc, 1);
        assert_int_equal(st.zc_copied, 1);
        maio_close(e.ring, a);
        maio_close(e.ring, b);
        env_free(&e);
}

/* Sends n buffers of len bytes on h and waits for all of them. */
static void send_n(env *e, int h, unsigned n, size_t len) {
        for (unsigned i = 0; i < n; i++) {
                void *buf;
                assert_int_equal(maio_alloc(e->pool, len, &buf), 0);
                memset(buf, (int) i, len);
                int k;
                while ((k = maio_send(e->ring, h, buf, len, MAIO_SEND_FREE)) == -EBUSY)
                        assert_true(maio_ring_poll(e->ring, 100) >= 0);
                assert_int_equal(k, 0);
        }
        assert_int_equal(maio_flush(e->ring, h, 10000), 0);
}

/* Where the kernel copies zero-copy pages anyway (loopback) a socket sends plain SEND after its
 * first notification and probes again after 1024 copying sends. (The other verdict, zero-copy
 * kept, needs a path that drops or transmits without copying: tests/bench/maio/run's Fig. 3.) */
static void test_zc_path(void **state) {
        env e;
        int a, b;
        maio_ring_stats st;
        env_make(&e, 16u << 20, NULL);
        int l = tcp_pair(e.ring, &a, &b);
        int big = 16 << 20;
        assert_int_equal(setsockopt(maio_fd(e.ring, b), SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)), 0);
        send_n(&e, a, 1, 8192); /* the probe */
        maio_ring_stats_get(e.ring, &st);
        assert_int_equal(st.sends_zc, 1);
        assert_int_equal(st.zc_copied, 1);
        /* The socket's path copies: 1023 copying sends, then the 1024th is the next probe. */
        for (unsigned done = 0; done < 1024; done += 64) {
                send_n(&e, a, 64, 8192);
                struct iovec iov[32];
                int n;
                while ((n = maio_recv_sg(e.ring, b, iov, 32, 0)) > 0)
                        for (int i = 0; i < n; i++)
                                assert_int_equal(maio_recv_release(e.ring, iov[i].iov_base), 0);
        }
        maio_ring_stats_get(e.ring, &st);
        assert_int_equal(st.sends, 1025);
        assert_int_equal(st.sends_zc, 2);
        assert_int_equal(st.sends_copy, 1023);
        maio_close(e.ring, a);
        maio_close(e.ring, b);
        maio_close(e.ring, l);
        env_free(&e);
}

/* client -> relay (maio_relay) -> sink, all on one ring: bytes intact, relayed zero-copy. */
static void test_relay(void **state) {
        env e;
        int c, r1, r2, sink;
        env_make(&e, 16u << 20, NULL);
        tcp_pair(e.ring, &c, &r1);
        tcp_pair(e.ring, &r2, &sink);
        enum { TOTAL = 4u << 20 };
        uint8_t *data = malloc(TOTAL);
        pattern_fill(21, 0, data, TOTAL);
        size_t sent = 0, got = 0;
        maio_ring_stats st0, st;
        maio_ring_stats_get(e.ring, &st0);
        bool closed = false;
        while (got < TOTAL) {
                if (sent < TOTAL && maio_send_pending(e.ring, c) < 32) {
                        size_t n = TOTAL - sent < 200000 ? TOTAL - sent : 200000;
                        int k = maio_send_copy(e.ring, c, data + sent, n);
                        if (k == 0)
                                sent += n;
                        else
                                assert_true(k == -ENOBUFS || k == -EBUSY);
                } else if (sent == TOTAL && !closed && maio_send_pending(e.ring, c) == 0) {
                        assert_int_equal(shutdown(maio_fd(e.ring, c), SHUT_WR), 0);
                        closed = true;
                }
                ssize_t k = maio_relay(e.ring, r1, r2, 0);
                assert_true(k >= 0 || k == -EAGAIN || k == -EBUSY);
                struct iovec iov[16];
                int n = maio_recv_sg(e.ring, sink, iov, 16, 0);
                assert_true(n > 0 || n == -EAGAIN);
                for (int i = 0; i < n; i++) {
                        assert_int_equal(pattern_check(21, got, iov[i].iov_base, iov[i].iov_len), -1);
                        got += iov[i].iov_len;
                        assert_int_equal(maio_recv_release(e.ring, iov[i].iov_base), 0);
                }
                if (n <= 0 && k <= 0)
                        maio_ring_poll(e.ring, 10);
        }
        assert_int_equal(got, TOTAL);
        /* The relay side sees the end of the stream and flushes. */
        ssize_t k;
        while ((k = maio_relay(e.ring, r1, r2, 1000)) > 0 || k == -EAGAIN || k == -ETIMEDOUT)
                ;
        assert_int_equal(k, 0);
        maio_ring_stats_get(e.ring, &st);
        /* The client copied TOTAL bytes once; the relay added no staging copies. */
        assert_int_equal(st.bytes_copied - st0.bytes_copied, TOTAL);
        assert_true(st.sends_zc - st0.sends_zc > 0);
        free(data);
        env_free(&e);
}

/* The poller pinned to CPU 0, a second ring sharing it, and a ring without a poller. */
static void test_poller_options(void **state) {
        env e;
        maio_ring_config rc = { .sq_thread_cpu = 0, .sq_idle_ms = 2000 };
        env_make(&e, 8u << 20, &rc);
        maio_ring *second;
        maio_ring_config rc2 = { .sq_thread_cpu = -1, .attach_to = e.ring, .recv_buffers = 4 };
        assert_int_equal(maio_ring_new(e.pool, &rc2, &second), 0);
        maio_ring_stats st;
        maio_ring_stats_get(second, &st);
        assert_true(st.sqpoll);
        maio_ring_free(second);

        int a, b;
        tcp_pair(e.ring, &a, &b);
        maio_ring_stats st0;
        maio_ring_stats_get(e.ring, &st0);
        for (int i = 0; i < 200; i++) {
                void *buf;
                assert_int_equal(maio_alloc(e.pool, 256, &buf), 0);
                pattern_fill(4, (uint64_t) i * 256, buf, 256);
                assert_int_equal(maio_send(e.ring, a, buf, 256, MAIO_SEND_FREE), 0);
                if (i % 16 == 15)
                        assert_true(maio_ring_poll(e.ring, 0) >= 0);
        }
        assert_int_equal(maio_flush(e.ring, a, 5000), 0);
        maio_ring_stats_get(e.ring, &st);
        /* While the poller is awake, submitting costs no syscall. */
        assert_true(st.submits - st0.submits >= 200);
        assert_true(st.submit_syscalls - st0.submit_syscalls <= 5);
        recv_expect(e.ring, b, 4, 0, 200 * 256);
        env_free(&e);

        maio_ring_config rc3 = { .sq_thread_cpu = -1, .flags = MAIO_RING_NO_SQPOLL };
        env_make(&e, 8u << 20, &rc3);
        tcp_pair(e.ring, &a, &b);
        maio_ring_stats_get(e.ring, &st0);
        assert_false(st0.sqpoll);
        assert_int_equal(maio_send_copy(e.ring, a, "abc", 3), 0);
        assert_int_equal(maio_flush(e.ring, a, 5000), 0);
        maio_ring_stats_get(e.ring, &st);
        assert_int_equal(st.submit_syscalls - st0.submit_syscalls, st.submits - st0.submits);
        env_free(&e);
}

static maio_ring_mode_info ring_mode(maio_ring *r) {
        maio_ring_mode_info m;
        assert_int_equal(maio_ring_mode_get(r, &m), 0);
        return m;
}

/* Sends 64 KiB over a TCP pair and reaps with timeout 0 only: in batch mode the completions run
 * only when the ring's thread enters the kernel, which maio_ring_poll(0) must then do. */
static void spin_transfer(env *e) {
        int a, b;
        tcp_pair(e->ring, &a, &b);
        void *buf;
        assert_int_equal(maio_alloc(e->pool, MAIO_CHUNK_SIZE, &buf), 0);
        pattern_fill(9, 0, buf, MAIO_CHUNK_SIZE);
        assert_int_equal(maio_send(e->ring, a, buf, MAIO_CHUNK_SIZE, MAIO_SEND_FREE), 0);
        size_t got = 0;
        for (long spins = 0; got < MAIO_CHUNK_SIZE; spins++) {
                assert_true(spins < 50L * 1000 * 1000);
                assert_true(maio_ring_poll(e->ring, 0) >= 0);
                struct iovec iov[8];
                int n = maio_recv_sg(e->ring, b, iov, 8, 0);
                if (n == -EAGAIN)
                        continue;
                assert_true(n > 0);
                for (int i = 0; i < n; i++) {
                        assert_int_equal(pattern_check(9, got, iov[i].iov_base, iov[i].iov_len), -1);
                        got += iov[i].iov_len;
                        assert_int_equal(maio_recv_release(e->ring, iov[i].iov_base), 0);
                }
        }
        while (maio_send_pending(e->ring, a) > 0)
                assert_true(maio_ring_poll(e->ring, 0) >= 0);

        /* A datagram from a plain socket: its arrival is the kernel's doing, not an enter of ours,
         * so in batch mode only the enter of a timeout-0 call runs its completion. */
        struct sockaddr_in sa = loopback(0);
        int u = maio_listen(e->ring, SOCK_DGRAM, (struct sockaddr *) &sa, sizeof(sa), 0);
        assert_true(u >= 0);
        assert_int_equal(maio_recv_start(e->ring, u), 0);
        assert_true(maio_ring_poll(e->ring, 0) >= 0);
        sa.sin_port = htons(handle_port(e->ring, u));
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(sendto(fd, "ping", 4, 0, (struct sockaddr *) &sa, sizeof(sa)), 4);
        close(fd);
        struct iovec iov;
        int n;
        for (long spins = 0; (n = maio_recv_sg(e->ring, u, &iov, 1, 0)) == -EAGAIN; spins++)
                assert_true(spins < 50L * 1000 * 1000);
        assert_int_equal(n, 1);
        assert_int_equal(iov.iov_len, 4);
        assert_memory_equal(iov.iov_base, "ping", 4);
        assert_int_equal(maio_recv_release(e->ring, iov.iov_base), 0);
}

typedef struct foreign_call {
        maio_ring *ring;
        int handle;
        int send, poll, connect;
} foreign_call;

static void *foreign_thread(void *data) {
        foreign_call *c = data;
        struct sockaddr_in sa = loopback(9);
        c->send = maio_send_copy(c->ring, c->handle, "nope", 4);
        c->poll = maio_ring_poll(c->ring, 0);
        c->connect = maio_connect(c->ring, SOCK_DGRAM, (struct sockaddr *) &sa, sizeof(sa), 100);
        return NULL;
}

/* The ring modes: the automatic rule, the application's flags, MAIO_RING_MODE and its bad value. */
static void test_ring_modes(void **state) {
        env e;
        maio_ring_mode_info m;
        maio_ring *r;

        unsetenv("MAIO_RING_MODE");
        /* auto without a poller CPU: batch with DEFER_TASKRUN (6.1+), completions on timeout 0 too. */
        env_make(&e, 8u << 20, NULL);
        m = ring_mode(e.ring);
        assert_int_equal(m.mode, MAIO_RING_MODE_BATCH);
        assert_int_equal(m.asked, MAIO_RING_MODE_AUTO);
        assert_string_equal(m.source, "auto");
        assert_int_equal(m.poller_cpu, -1);
        assert_string_equal(m.reason, "auto: no poller CPU (no grant was asked (no tenant or NO_DAEMON))");
        assert_true(m.setup_flags & (1u << 13) /* IORING_SETUP_DEFER_TASKRUN */);
        assert_true(m.setup_flags & (1u << 12) /* IORING_SETUP_SINGLE_ISSUER */);
        assert_string_equal(maio_ring_mode_to_string(m.mode), "batch");
        /* A send waits in the SQ for its batch or the next poll or wait: no enter of its own. */
        {
                int a, b;
                maio_ring_stats st0, st1;
                tcp_pair(e.ring, &a, &b);
                maio_ring_stats_get(e.ring, &st0);
                assert_int_equal(maio_send_copy(e.ring, a, "batch", 5), 0);
                maio_ring_stats_get(e.ring, &st1);
                assert_int_equal(st1.submit_syscalls, st0.submit_syscalls);
                assert_int_equal(maio_flush(e.ring, a, 5000), 0);
                maio_ring_stats_get(e.ring, &st1);
                assert_int_equal(st1.submit_syscalls, st0.submit_syscalls + 1);
                struct iovec iov;
                assert_int_equal(maio_recv_sg(e.ring, b, &iov, 1, 5000), 1);
                assert_memory_equal(iov.iov_base, "batch", 5);
                assert_int_equal(maio_recv_release(e.ring, iov.iov_base), 0);

                /* SINGLE_ISSUER: another thread is refused before anything is queued, and the
                 * owner goes on as if nothing happened. */
                foreign_call c = { .ring = e.ring, .handle = a };
                pthread_t t;
                assert_int_equal(pthread_create(&t, NULL, foreign_thread, &c), 0);
                assert_int_equal(pthread_join(t, NULL), 0);
                assert_int_equal(c.send, -EEXIST);
                assert_int_equal(c.poll, -EEXIST);
                assert_int_equal(c.connect, -EEXIST);
                assert_int_equal(maio_send_copy(e.ring, a, "owner", 5), 0);
                assert_int_equal(maio_flush(e.ring, a, 5000), 0);
                assert_int_equal(maio_recv_sg(e.ring, b, &iov, 1, 5000), 1);
                assert_int_equal(iov.iov_len, 5);
                assert_memory_equal(iov.iov_base, "owner", 5);
                assert_int_equal(maio_recv_release(e.ring, iov.iov_base), 0);
        }
        spin_transfer(&e);
        m = ring_mode(e.ring);
        assert_true(m.event_syscalls > 0);
        env_free(&e);

        /* auto with a poller CPU the application configured: SQPOLL pinned there. */
        maio_ring_config rc = { .sq_thread_cpu = 0 };
        env_make(&e, 8u << 20, &rc);
        m = ring_mode(e.ring);
        assert_int_equal(m.mode, MAIO_RING_MODE_SQPOLL);
        assert_int_equal(m.poller_cpu, 0);
        assert_false(m.poller_granted);
        assert_true(m.setup_flags & (1u << 1) /* IORING_SETUP_SQPOLL */);
        assert_true(m.setup_flags & (1u << 2) /* IORING_SETUP_SQ_AFF */);
        assert_string_equal(m.reason, "auto: the application configured poller CPU 0");
        spin_transfer(&e);
        assert_int_equal(ring_mode(e.ring).event_syscalls, 0);
        /* A ring attached to it shares the poller. */
        maio_ring_config rc2 = { .sq_thread_cpu = -1, .attach_to = e.ring, .recv_buffers = 4 };
        assert_int_equal(maio_ring_new(e.pool, &rc2, &r), 0);
        m = ring_mode(r);
        assert_int_equal(m.mode, MAIO_RING_MODE_SQPOLL);
        assert_true(m.poller_shared);
        assert_int_equal(m.poller_cpu, 0);
        maio_ring_free(r);
        env_free(&e);

        /* The application's flags: sqpoll without a CPU (unpinned), batch despite a CPU. */
        rc = (maio_ring_config) { .sq_thread_cpu = -1, .flags = MAIO_RING_SQPOLL };
        env_make(&e, 8u << 20, &rc);
        m = ring_mode(e.ring);
        assert_int_equal(m.mode, MAIO_RING_MODE_SQPOLL);
        assert_string_equal(m.source, "application");
        assert_int_equal(m.poller_cpu, -1);
        assert_false(m.setup_flags & (1u << 2));
        env_free(&e);
        rc = (maio_ring_config) { .sq_thread_cpu = 0, .flags = MAIO_RING_BATCH };
        env_make(&e, 8u << 20, &rc);
        m = ring_mode(e.ring);
        assert_int_equal(m.mode, MAIO_RING_MODE_BATCH);
        assert_string_equal(m.reason, "application asked for batch");
        env_free(&e);
        rc.flags = MAIO_RING_SQPOLL | MAIO_RING_BATCH;
        env_make(&e, 8u << 20, NULL);
        assert_int_equal(maio_ring_new(e.pool, &rc, &r), -EINVAL);

        /* MAIO_RING_MODE replaces the automatic choice, not the application's. */
        setenv("MAIO_RING_MODE", "sqpoll", 1);
        assert_int_equal(maio_ring_new(e.pool, NULL, &r), 0);
        m = ring_mode(r);
        assert_int_equal(m.mode, MAIO_RING_MODE_SQPOLL);
        assert_int_equal(m.asked, MAIO_RING_MODE_SQPOLL);
        assert_string_equal(m.source, "MAIO_RING_MODE");
        maio_ring_free(r);
        setenv("MAIO_RING_MODE", "batch", 1);
        rc = (maio_ring_config) { .sq_thread_cpu = 0 };
        assert_int_equal(maio_ring_new(e.pool, &rc, &r), 0);
        m = ring_mode(r);
        assert_int_equal(m.mode, MAIO_RING_MODE_BATCH);
        assert_string_equal(m.reason, "MAIO_RING_MODE asked for batch");
        maio_ring_free(r);
        rc.flags = MAIO_RING_SQPOLL;
        assert_int_equal(maio_ring_new(e.pool, &rc, &r), 0);
        assert_int_equal(ring_mode(r).mode, MAIO_RING_MODE_SQPOLL);
        maio_ring_free(r);
        setenv("MAIO_RING_MODE", "auto", 1);
        assert_int_equal(maio_ring_new(e.pool, NULL, &r), 0);
        assert_int_equal(ring_mode(r).mode, MAIO_RING_MODE_BATCH);
        maio_ring_free(r);
        setenv("MAIO_RING_MODE", "fast", 1);
        assert_int_equal(maio_ring_new(e.pool, NULL, &r), -EINVAL);
        unsetenv("MAIO_RING_MODE");
        assert_int_equal(maio_ring_mode_get(NULL, &m), -EINVAL);
        env_free(&e);
}

int main(void) {
        /* A private network namespace keeps 10,000 connections off the host's port space. */
        if (private_netns() < 0)
                return 1;
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_zc_ownership),
                cmocka_unit_test(test_recv_states),
                cmocka_unit_test(test_copy_paths),
                cmocka_unit_test(test_peer_reset),
                cmocka_unit_test(test_send_watchdog),
                cmocka_unit_test(test_exhaustion_and_backpressure),
                cmocka_unit_test(test_connect_close_cycles),
                cmocka_unit_test(test_udp),
                cmocka_unit_test(test_zc_path),
                cmocka_unit_test(test_relay),
                cmocka_unit_test(test_poller_options),
                cmocka_unit_test(test_ring_modes),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
