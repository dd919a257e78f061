/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Example: a TCP relay built on maio_relay (socket splicing). It accepts connections on
 * --listen one at a time and forwards each, both ways, to --to; without --to it echoes what it
 * receives back to the sender. The bytes go through the kernel only (the ring splices them
 * socket -> pipe -> socket; libmaio(3), Relaying).
 * --once exits after the first connection. Prints READY on stdout once listening. */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <maio/maio.h>
#include "addr.h"

/* Moves data a->b and b->a until both directions ended. Returns bytes moved or -errno. */
static int64_t relay_pair(maio_ring *ring, int a, int b) {
        bool a_open = true, b_open = a != b;
        int64_t total = 0;
        while (a_open || b_open) {
                bool idle = true;
                int ends[2][2] = { { a, b }, { b, a } };
                bool *open[2] = { &a_open, &b_open };
                for (int d = 0; d < 2; d++) {
                        if (!*open[d])
                                continue;
                        ssize_t k = maio_relay(ring, ends[d][0], ends[d][1], 0);
                        if (k == -EAGAIN || k == -EBUSY)
                                continue;
                        if (k < 0)
                                return k;
                        idle = false;
                        if (k == 0) {
                                *open[d] = false;
                                if (ends[d][0] != ends[d][1])
                                        (void) shutdown(maio_fd(ring, ends[d][1]), SHUT_WR);
                        }
                        total += k;
                }
                if (idle)
                        (void) maio_ring_poll(ring, 100);
        }
        return total;
}

/* Accepts connections on l one at a time and relays each (to up, or back when ulen is 0).
 * Returns 0 or 1 (something failed; printed). */
static int relay_serve(maio_ring *ring, int l, const struct sockaddr_storage *up, socklen_t ulen, bool once) {
        int rc = 0;
        do {
                int a = maio_accept(ring, l, -1);
                if (a < 0) {
                        fprintf(stderr, "maio_accept: %s\n", strerror(-a));
                        return 1;
                }
                int b = a;
                if (ulen > 0) {
                        b = maio_connect(ring, SOCK_STREAM, (const struct sockaddr *) up, ulen, 5000);
                        if (b < 0) {
                                fprintf(stderr, "maio_connect upstream: %s\n", strerror(-b));
                                maio_close(ring, a);
                                rc = 1;
                                continue;
                        }
                }
                int64_t k = relay_pair(ring, a, b);
                if (k < 0) {
                        fprintf(stderr, "relay: %s\n", strerror((int) -k));
                        rc = 1;
                } else
                        fprintf(stderr, "relayed %" PRId64 " bytes\n", k);
                maio_close(ring, a);
                if (b != a)
                        maio_close(ring, b);
        } while (!once);
        return rc;
}

int main(int argc, char **argv) {
        static const struct option opts[] = { { "listen", required_argument, NULL, 'l' },
                                              { "to", required_argument, NULL, 't' },
                                              { "once", no_argument, NULL, 'o' },
                                              {} };
        struct sockaddr_storage local, up;
        socklen_t llen = 0, ulen = 0;
        bool once = false;
        int c;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                switch (c) {
                case 'l':
                case 't':
                        if (parse_addr(optarg, c == 'l' ? &local : &up, c == 'l' ? &llen : &ulen) < 0) {
                                fprintf(stderr, "bad address: %s\n", optarg);
                                return 2;
                        }
                        break;
                case 'o':
                        once = true;
                        break;
                default:
                        return 2;
                }
        if (llen == 0) {
                fprintf(stderr, "usage: maio-relay --listen HOST:PORT [--to HOST:PORT] [--once]\n");
                return 2;
        }

        maio_pool *pool;
        maio_ring *ring;
        int r = maio_pool_new(&(maio_pool_config) { .numa_node = -1, .size = 32u << 20 }, &pool);
        if (r >= 0)
                r = maio_ring_new(pool, &(maio_ring_config) { .sq_thread_cpu = -1, .recv_buffers = 128 }, &ring);
        if (r < 0) {
                fprintf(stderr, "setup: %s\n", strerror(-r));
                return 1;
        }
        int l = maio_listen(ring, SOCK_STREAM, (struct sockaddr *) &local, llen, 16);
        if (l < 0) {
                fprintf(stderr, "maio_listen: %s\n", strerror(-l));
                return 1;
        }
        printf("READY\n");
        fflush(stdout);

        int rc = relay_serve(ring, l, &up, ulen, once);
        maio_ring_stats st;
        maio_ring_stats_get(ring, &st);
        fprintf(stderr, "sends %" PRIu64 " zc %" PRIu64 " copy %" PRIu64 " notifications %" PRIu64 "\n", st.sends,
                st.sends_zc, st.sends_copy, st.zc_notifications);
        maio_ring_free(ring);
        maio_pool_free(pool);
        return rc;
}
