/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Example: connects to an echoing peer (maio-relay without --to), streams --bytes of test data
 * in random-sized messages (zero-copy from pool buffers, or copied from ordinary memory with
 * --copy), reads the echo back through maio_recv_sg and checks every byte. Exit 0 = intact. */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <maio/maio.h>

#include "addr.h"
#include "pattern.h"

#define MSG_MAX (1u << 20)

/* Queues the next piece of the stream; returns bytes queued, 0 when the pool or ring is full. */
static long send_some(maio_pool *pool, maio_ring *ring, int h, bool copy, uint64_t seed, uint64_t off,
                      uint64_t msg_left, uint8_t *scratch) {
        size_t n = msg_left < MAIO_CHUNK_SIZE ? (size_t) msg_left : MAIO_CHUNK_SIZE;
        int r;
        if (copy) {
                pattern_fill(seed, off, scratch, n);
                r = maio_send_copy(ring, h, scratch, n);
        } else {
                void *buf;
                r = maio_alloc(pool, n, &buf);
                if (r == 0) {
                        pattern_fill(seed, off, buf, n);
                        r = maio_send(ring, h, buf, n, MAIO_SEND_FREE);
                        if (r < 0)
                                maio_free(pool, buf);
                }
        }
        if (r == -ENOBUFS || r == -EBUSY)
                return 0;
        return r < 0 ? r : (long) n;
}

typedef struct sender {
        struct sockaddr_storage peer;
        socklen_t plen;
        uint64_t total, seed, rng;
        bool copy;
        maio_pool *pool;
        maio_ring *ring;
        int h;
        uint64_t sent, got, msg_left;
        pattern_sum rx;
        uint8_t scratch[MAIO_CHUNK_SIZE];
} sender;

static int sender_parse(sender *s, int argc, char **argv) {
        static const struct option opts[] = { { "connect", required_argument, NULL, 'c' },
                                              { "bytes", required_argument, NULL, 'b' },
                                              { "copy", no_argument, NULL, 'C' },
                                              { "seed", required_argument, NULL, 's' },
                                              {} };
        int c;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                switch (c) {
                case 'c':
                        if (parse_addr(optarg, &s->peer, &s->plen) < 0) {
                                fprintf(stderr, "bad address: %s\n", optarg);
                                return -EINVAL;
                        }
                        break;
                case 'b':
                        s->total = strtoull(optarg, NULL, 0);
                        break;
                case 'C':
                        s->copy = true;
                        break;
                case 's':
                        s->seed = strtoull(optarg, NULL, 0);
                        break;
                default:
                        return -EINVAL;
                }
        if (s->plen == 0) {
                fprintf(stderr, "usage: maio-sender --connect HOST:PORT [--bytes N] [--copy] [--seed S]\n");
                return -EINVAL;
        }
        s->rng = s->seed * 2654435761u + 1;
        return 0;
}

/* Queues messages while fewer than 256 sends are pending. Returns 1 if something was queued,
 * 0 if not, or -errno. */
static int sender_fill(sender *s) {
        int progress = 0;
        while (s->sent < s->total && maio_send_pending(s->ring, s->h) < 256) {
                if (s->msg_left == 0)
                        s->msg_left = 1 + pattern_rand(&s->rng) % MSG_MAX;
                if (s->msg_left > s->total - s->sent)
                        s->msg_left = s->total - s->sent;
                long k = send_some(s->pool, s->ring, s->h, s->copy, s->seed, s->sent, s->msg_left, s->scratch);
                if (k <= 0)
                        return k < 0 ? (int) k : progress;
                s->sent += (uint64_t) k;
                s->msg_left -= (uint64_t) k;
                progress = 1;
        }
        return progress;
}

/* Checks and releases what came back. Returns 0, or -errno (printed). */
static int sender_drain(sender *s, int timeout_ms) {
        struct iovec iov[16];
        int n = maio_recv_sg(s->ring, s->h, iov, 16, timeout_ms), r = 0;
        if (n == -EAGAIN || n == -ETIMEDOUT)
                return 0;
        if (n <= 0) {
                fprintf(stderr, "receive: %s\n", n == 0 ? "peer closed early" : strerror(-n));
                return n == 0 ? -ECONNRESET : n;
        }
        for (int i = 0; i < n; i++) {
                long bad = pattern_check(s->seed, s->got, iov[i].iov_base, iov[i].iov_len);
                if (bad >= 0) {
                        fprintf(stderr, "corrupt byte at offset %" PRIu64 "\n", s->got + (uint64_t) bad);
                        r = -EBADMSG;
                }
                pattern_sum_add(&s->rx, iov[i].iov_base, iov[i].iov_len);
                s->got += iov[i].iov_len;
                maio_recv_release(s->ring, iov[i].iov_base);
        }
        return r;
}

static void sender_report(sender *s, int rc) {
        maio_ring_stats st;
        maio_pool_stats ps;
        maio_ring_stats_get(s->ring, &st);
        maio_pool_stats_get(s->pool, &ps);
        printf("sent %" PRIu64 " received %" PRIu64 " checksum %016" PRIx64 " %s\n", s->sent, s->got,
               pattern_sum_value(&s->rx), rc == 0 ? "OK" : "FAILED");
        printf("pool %s (%s); sends %" PRIu64 " zc %" PRIu64 " copy %" PRIu64 " notifications %" PRIu64
               " submit-syscalls %" PRIu64 "/%" PRIu64 "\n",
               maio_backing_to_string(ps.backing), ps.backing_reason ? ps.backing_reason : "as requested", st.sends,
               st.sends_zc, st.sends_copy, st.zc_notifications, st.submit_syscalls, st.submits);
}

int main(int argc, char **argv) {
        static sender s = { .total = 64ull << 20, .seed = 1 };
        int r;
        if (sender_parse(&s, argc, argv) < 0)
                return 2;
        r = maio_pool_new(&(maio_pool_config) { .numa_node = -1, .size = 64u << 20 }, &s.pool);
        if (r >= 0)
                r = maio_ring_new(s.pool, &(maio_ring_config) { .sq_thread_cpu = -1 }, &s.ring);
        if (r >= 0)
                r = s.h = maio_connect(s.ring, SOCK_STREAM, (struct sockaddr *) &s.peer, s.plen, 5000);
        if (r < 0) {
                fprintf(stderr, "setup: %s\n", strerror(-r));
                return 1;
        }
        while (s.got < s.total) {
                int progress = sender_fill(&s);
                if (progress < 0) {
                        fprintf(stderr, "send: %s\n", strerror(-progress));
                        r = progress;
                        break;
                }
                r = sender_drain(&s, progress ? 0 : 1000);
                if (r < 0)
                        break;
        }
        sender_report(&s, r < 0);
        maio_ring_free(s.ring);
        maio_pool_free(s.pool);
        return r < 0 ? 1 : 0;
}
