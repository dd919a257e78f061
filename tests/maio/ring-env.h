/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A pool and a ring for one libmaio test case, checked for leaks when freed, loopback
 * addresses, and a private network namespace for the test. Include after <cmocka.h> and <maio/maio.h>. */
#pragma once

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct env {
        maio_pool *pool;
        maio_ring *ring;
} env;

static inline void env_make(env *e, size_t pool_size, const maio_ring_config *rc) {
        maio_pool_config pc = { .size = pool_size, .numa_node = -1, .flags = MAIO_POOL_NO_DAEMON };
        assert_int_equal(maio_pool_new(&pc, &e->pool), 0);
        assert_int_equal(maio_ring_new(e->pool, rc, &e->ring), 0);
}

/* Frees the ring and checks the pool got every chunk back (one may stay with the frag cursor). */
static inline void env_free(env *e) {
        maio_pool_stats st;
        maio_ring_free(e->ring);
        maio_pool_stats_get(e->pool, &st);
        assert_true(st.chunks_free + 1 >= st.chunks_total);
        assert_int_equal(st.allocs, st.frees);
        maio_pool_free(e->pool);
}

static inline struct sockaddr_in loopback(uint16_t port) {
        return (struct sockaddr_in) { .sin_family = AF_INET,
                                      .sin_port = htons(port),
                                      .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
}

/* Moves the test into a private network namespace with lo up, which keeps its connections off the
 * host's port space (where unshare is refused, the test runs in the host's). Returns 0, or -1
 * (said on stderr) when lo cannot be brought up in the new namespace. */
static inline int private_netns(void) {
        if (unshare(CLONE_NEWNET) < 0)
                return 0;
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct ifreq ifr = { .ifr_name = "lo" };
        if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0 ||
            (ifr.ifr_flags |= IFF_UP, ioctl(fd, SIOCSIFFLAGS, &ifr)) < 0) {
                fprintf(stderr, "cannot bring up lo in the new namespace\n");
                if (fd >= 0)
                        close(fd);
                return -1;
        }
        close(fd);
        return 0;
}
