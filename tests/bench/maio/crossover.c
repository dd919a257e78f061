/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Measures where zero-copy sends start to pay off: for each message size, libmaio UDP sends from
 * pool buffers with SEND_ZC (fixed buffers) against plain SEND (the kernel copies), to an address
 * routed to a dummy device (the stand-in NIC: the whole send path runs, nothing receives).
 * Run it through crossover-run, which makes the network namespace. Prints one RESULT line per
 * size and mode, and the crossover: the smallest size from which SEND_ZC costs less CPU per byte. */

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <maio/maio.h>

#define NBUF 64

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static double cpu_s(void) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru); /* includes the SQPOLL thread, a thread of this process */
        return (double) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
               (double) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Sends size-byte datagrams for `seconds`. Returns 0 and the rates, or -errno. */
static int run(maio_pool *pool, const struct sockaddr_in *dst, size_t size, bool zc, double seconds, double *ret_gbps,
               double *ret_ns_per_kb) {
        maio_ring_config rc = { .sq_thread_cpu = -1,
                                .flags = zc ? 0 : MAIO_RING_NO_ZC,
                                .zc_threshold = 1,
                                .recv_buffers = 1,
                                .recv_buffer_size = 4096 };
        maio_ring *ring;
        void *bufs[NBUF];
        int r = maio_ring_new(pool, &rc, &ring);
        if (r < 0)
                return r;
        int h = maio_connect(ring, SOCK_DGRAM, (const struct sockaddr *) dst, sizeof(*dst), 1000);
        if (h < 0) {
                maio_ring_free(ring);
                return h;
        }
        for (int i = 0; i < NBUF; i++) {
                r = maio_alloc(pool, size, &bufs[i]);
                if (r < 0)
                        return r;
                memset(bufs[i], i, size);
        }
        uint64_t sent0, bytes = 0;
        maio_ring_stats st;
        maio_ring_stats_get(ring, &st);
        sent0 = st.bytes_sent;
        double t0 = now_s(), c0 = cpu_s(), t1;
        do {
                for (int i = 0; i < NBUF; i++)
                        if (maio_buf_get_state(pool, bufs[i]) == MAIO_BUF_APP &&
                            maio_send(ring, h, bufs[i], size, 0) < 0)
                                break;
                maio_ring_poll(ring, 0);
                t1 = now_s();
        } while (t1 - t0 < seconds);
        maio_flush(ring, h, 2000);
        double c1 = cpu_s();
        t1 = now_s();
        maio_ring_stats_get(ring, &st);
        bytes = st.bytes_sent - sent0;
        *ret_gbps = (double) bytes * 8 / (t1 - t0) / 1e9;
        *ret_ns_per_kb = bytes ? (c1 - c0) * 1e9 / ((double) bytes / 1024) : 0;
        if (zc && st.sends_zc == 0)
                r = -EOPNOTSUPP;
        for (int i = 0; i < NBUF; i++)
                maio_free(pool, bufs[i]);
        maio_ring_free(ring);
        return r < 0 ? r : 0;
}

int main(int argc, char **argv) {
        static const size_t sizes[] = { 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65000 };
        const char *dst_s = argc > 1 ? argv[1] : "10.201.0.2";
        double seconds = argc > 2 ? atof(argv[2]) : 0.5;
        struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(9) };
        if (inet_pton(AF_INET, dst_s, &dst.sin_addr) != 1)
                return 2;
        maio_pool *pool;
        maio_pool_config pc = { .size = 32u << 20, .numa_node = -1, .flags = MAIO_POOL_NO_DAEMON };
        if (maio_pool_new(&pc, &pool) < 0)
                return 1;
        size_t crossover = 0;
        printf("%8s %12s %12s %14s %14s\n", "size", "copy Gbit/s", "zc Gbit/s", "copy ns/KB", "zc ns/KB");
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
                double g[2], ns[2];
                for (int zc = 0; zc < 2; zc++) {
                        int r = run(pool, &dst, sizes[i], zc, seconds, &g[zc], &ns[zc]);
                        if (r < 0) {
                                fprintf(stderr, "size %zu %s: %s\n", sizes[i], zc ? "zc" : "copy", strerror(-r));
                                return 1;
                        }
                        printf("RESULT crossover %s-%zu %.3f Gbit/s %.1f cpu-ns/KB\n", zc ? "zc" : "copy", sizes[i],
                               g[zc], ns[zc]);
                }
                printf("%8zu %12.3f %12.3f %14.1f %14.1f\n", sizes[i], g[0], g[1], ns[0], ns[1]);
                if (ns[1] < ns[0] && g[1] >= g[0] * 0.95) {
                        if (!crossover)
                                crossover = sizes[i];
                } else
                        crossover = 0;
        }
        if (crossover)
                printf("CROSSOVER %zu bytes (SEND_ZC cheaper per byte and as fast from here up)\n", crossover);
        else
                printf("CROSSOVER none (SEND_ZC never cheaper up to 64 KB)\n");
        maio_pool_free(pool);
        return 0;
}
