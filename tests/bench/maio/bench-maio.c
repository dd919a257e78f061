/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The libmaio side of the benchmarks: a UDP sender that rotates through pool buffers (zero-copy
 * at and above the ring's crossover size; SQPOLL on its own CPU or batch, as the ring mode rule,
 * $MAIO_RING_MODE and --sq-cpu say) and the socket-splicing relay (maio_relay: the splice relay, or with
 * MAIO_RELAY_BUFFERS the buffer relay). When back-pressured they sleep in
 * maio_ring_poll unless --spin. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <maio/maio.h>

#include "bench.h"

#define CHECK_EVERY 64u

typedef struct maio_ctx {
        maio_pool *pool;
        maio_ring *ring;
} maio_ctx;

static void maio_ctx_done(maio_ctx *m) {
        m->ring = maio_ring_free(m->ring);
        m->pool = maio_pool_free(m->pool);
}

static int maio_ctx_init(maio_ctx *m, const bench_opts *o, unsigned recv_buffers) {
        maio_pool_config pc = { .numa_node = -1, .flags = MAIO_POOL_NO_DAEMON };
        maio_ring_config rc = { .sq_thread_cpu = o->sq_cpu, .recv_buffers = recv_buffers };
        maio_pool_stats ps;

        *m = (maio_ctx) {};
        /* Room for the send rotation plus the receive ring, twice over. */
        pc.size = 2 * ((size_t) o->nbufs * o->size + (size_t) recv_buffers * MAIO_CHUNK_SIZE);
        int k = maio_pool_new(&pc, &m->pool);
        if (k < 0)
                return k;
        maio_pool_stats_get(m->pool, &ps);
        printf("STAT maio_pool backing=%s reason=\"%s\"\n", maio_backing_to_string(ps.backing),
               ps.backing_reason ? ps.backing_reason : "");
        k = maio_ring_new(m->pool, &rc, &m->ring);
        if (k < 0) {
                maio_ctx_done(m);
                return k;
        }
        /* Which ring mode the rule (or $MAIO_RING_MODE) chose, and why: the run script reports it. */
        maio_ring_mode_info mi;
        (void) maio_ring_mode_get(m->ring, &mi);
        printf("STAT maio_mode mode=%s source=%s poller_cpu=%d reason=\"%s\"\n", maio_ring_mode_to_string(mi.mode),
               mi.source, mi.poller_cpu, mi.reason);
        return 0;
}

static void maio_print_stats(maio_ring *ring) {
        maio_ring_stats s;
        maio_ring_stats_get(ring, &s);
        printf("STAT maio_ring sqpoll=%d zc_supported=%d zc_threshold=%zu sends=%" PRIu64 " sends_zc=%" PRIu64
               " sends_copy=%" PRIu64 " zc_notifications=%" PRIu64 " zc_copied=%" PRIu64 " submits=%" PRIu64
               " submit_syscalls=%" PRIu64 " wait_syscalls=%" PRIu64 " ring_full=%" PRIu64 " recv_completions=%" PRIu64
               " recv_nobufs=%" PRIu64 "\n",
               s.sqpoll, s.zc_supported, maio_ring_zc_threshold(ring), s.sends, s.sends_zc, s.sends_copy,
               s.zc_notifications, s.zc_copied, s.submits, s.submit_syscalls, s.wait_syscalls, s.ring_full,
               s.recv_completions, s.recv_nobufs);
        maio_ring_mode_info mi;
        (void) maio_ring_mode_get(ring, &mi);
        printf("STAT maio_zc_cost judgments=%" PRIu64 " judged_copy=%" PRIu64
               " copy_ns_per_kib=%.1f zc_ns_per_kib=%.1f\n",
               mi.zc_judgments, mi.zc_judged_copy, mi.zc_ns_per_kib[0], mi.zc_ns_per_kib[1]);
}

/* Processes completions; sleeps for the next one unless spinning. Returns >= 0 or -errno. */
static int maio_backoff(maio_ring *ring, const bench_opts *o) {
        int k = maio_ring_poll(ring, o->maio_spin ? 0 : 100);
        return k == -ETIMEDOUT ? 0 : k;
}

/* Queues the next buffer of the rotation. Returns 1 when queued, 0 when it had to wait, or -errno. */
static int maio_send_next(maio_ctx *m, int h, void **bufs, unsigned *next, const bench_opts *o) {
        void *buf = bufs[*next];
        int k = maio_buf_get_state(m->pool, buf) == MAIO_BUF_APP ? maio_send(m->ring, h, buf, o->size, 0) : -EBUSY;
        if (k == -EBUSY) {
                k = maio_backoff(m->ring, o);
                return k < 0 ? k : 0;
        }
        if (k < 0)
                return k;
        *next = (*next + 1) % o->nbufs;
        return 1;
}

static int maio_send_loop(maio_ctx *m, int h, void **bufs, const bench_opts *o, bench_result *ret) {
        maio_ring_stats s0, s1;
        bench_clock c;
        unsigned next = 0;
        int k = 0;

        maio_ring_stats_get(m->ring, &s0);
        bench_clock_start(&c, o->duration);
        while (k >= 0 && !bench_clock_expired(&c))
                for (unsigned i = 0; k >= 0 && i < CHECK_EVERY; i++)
                        k = maio_send_next(m, h, bufs, &next, o);
        /* What counts is what completed inside the window. */
        maio_ring_stats_get(m->ring, &s1);
        bench_clock_stop(&c, ret);
        ret->ops = s1.sends - s0.sends;
        ret->bytes = s1.bytes_sent - s0.bytes_sent;
        if (k < 0)
                return k;
        k = maio_flush(m->ring, h, 10000);
        maio_ring_stats_get(m->ring, &s1);
        ret->ops_total = s1.sends - s0.sends;
        return k;
}

int udp_maio(const bench_opts *o, bench_result *ret) {
        maio_ctx m;
        void *bufs[4096] = {};
        int k = maio_ctx_init(&m, o, 2);
        if (k < 0)
                return k;
        int h = maio_connect(m.ring, SOCK_DGRAM, (const struct sockaddr *) &o->dst, o->dst_len, 5000);
        if (h < 0) {
                maio_ctx_done(&m);
                return h;
        }
        for (unsigned i = 0; k >= 0 && i < o->nbufs; i++) {
                k = maio_alloc(m.pool, o->size, &bufs[i]);
                if (k >= 0)
                        memset(bufs[i], (int) i, o->size);
        }
        if (k >= 0)
                k = maio_send_loop(&m, h, bufs, o, ret);
        maio_print_stats(m.ring);
        (void) maio_close(m.ring, h);
        for (unsigned i = 0; i < o->nbufs; i++)
                if (bufs[i])
                        (void) maio_free(m.pool, bufs[i]);
        maio_ctx_done(&m);
        return k;
}

/* Accepts the client and connects to the sink, both through the ring. Returns 0 or -errno. */
static int maio_relay_open(maio_ctx *m, const bench_opts *o, int *ret_in, int *ret_out) {
        int lh = maio_listen(m->ring, SOCK_STREAM, (const struct sockaddr *) &o->lst, o->lst_len, 16);
        if (lh < 0)
                return lh;
        printf("READY\n");
        fflush(stdout);
        int in = maio_accept(m->ring, lh, 30000);
        (void) maio_close(m->ring, lh);
        if (in < 0)
                return in;
        int out = maio_connect(m->ring, SOCK_STREAM, (const struct sockaddr *) &o->dst, o->dst_len, 5000);
        if (out < 0)
                return out;
        *ret_in = in;
        *ret_out = out;
        return 0;
}

static int relay_maio_flags(const bench_opts *o, unsigned flags, bench_result *ret) {
        bench_clock c;
        maio_ctx m;
        int in, out;
        int k = maio_ctx_init(&m, o, o->nbufs);
        if (k < 0)
                return k;
        k = maio_relay_open(&m, o, &in, &out);
        bench_clock_start(&c, o->duration);
        while (k >= 0) {
                ssize_t n = maio_relay_flags(m.ring, in, out, flags, o->maio_spin ? 0 : 1000);
                if (n == 0)
                        break;
                if (n > 0) {
                        ret->ops++;
                        ret->bytes += (uint64_t) n;
                } else if (n == -EBUSY)
                        k = maio_backoff(m.ring, o);
                else if (n != -ETIMEDOUT && n != -EAGAIN)
                        k = (int) n;
        }
        bench_clock_stop(&c, ret);
        ret->ops_total = ret->ops;
        maio_print_stats(m.ring);
        maio_ctx_done(&m);
        return k < 0 ? k : 0;
}

int relay_maio(const bench_opts *o, bench_result *ret) {
        return relay_maio_flags(o, 0, ret);
}

int relay_maio_buffers(const bench_opts *o, bench_result *ret) {
        return relay_maio_flags(o, MAIO_RELAY_BUFFERS, ret);
}
