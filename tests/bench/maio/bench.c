/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* maio-bench main: options, the method table, the measurement window (wall and CPU clocks) and
 * socket helpers. Prints one "BENCH method=... ops=... bytes=... wall_ns=... app_ns=...
 * total_ns=..." line that tests/bench/maio/run turns into RESULT lines. */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "bench.h"

static uint64_t clock_ns(clockid_t id) {
        struct timespec ts;
        clock_gettime(id, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}

uint64_t bench_now_ns(void) {
        return clock_ns(CLOCK_MONOTONIC);
}

void bench_clock_start(bench_clock *c, double duration) {
        c->app0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
        /* The process clock sums every thread of the thread group, which includes io_uring's
         * SQPOLL and io-wq threads (they are created with CLONE_THREAD). */
        c->total0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
        c->wall0 = bench_now_ns();
        c->deadline = c->wall0 + (uint64_t) (duration * 1e9);
}

bool bench_clock_expired(const bench_clock *c) {
        return bench_now_ns() >= c->deadline;
}

void bench_clock_stop(const bench_clock *c, bench_result *ret) {
        ret->wall_ns = bench_now_ns() - c->wall0;
        ret->app_ns = clock_ns(CLOCK_THREAD_CPUTIME_ID) - c->app0;
        ret->total_ns = clock_ns(CLOCK_PROCESS_CPUTIME_ID) - c->total0;
}

void *bench_buffer(size_t size) {
        void *p;
        if (posix_memalign(&p, 4096, size ? size : 1) != 0)
                return NULL;
        for (size_t i = 0; i < size; i++)
                ((uint8_t *) p)[i] = (uint8_t) (i * 131u + 7u);
        return p;
}

int bench_udp_connect(const bench_opts *o) {
        int fd = socket(o->dst.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (const struct sockaddr *) &o->dst, o->dst_len) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

int bench_tcp_connect(const struct sockaddr_storage *addr, socklen_t len) {
        int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        /* The sink may still be starting: retry a refused connection for up to 5 s. */
        for (int tries = 0;; tries++) {
                if (connect(fd, (const struct sockaddr *) addr, len) == 0)
                        return fd;
                int r = -errno;
                if (r != -ECONNREFUSED || tries >= 500) {
                        close(fd);
                        return r;
                }
                usleep(10000);
        }
}

int bench_tcp_listen(const struct sockaddr_storage *addr, socklen_t len) {
        int one = 1, fd = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
            bind(fd, (const struct sockaddr *) addr, len) < 0 || listen(fd, 16) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

int bench_tcp_accept(int lfd, int timeout_ms) {
        struct pollfd p = { .fd = lfd, .events = POLLIN };
        int k = poll(&p, 1, timeout_ms);
        if (k < 0)
                return -errno;
        if (k == 0)
                return -ETIMEDOUT;
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

int relay_open(const bench_opts *o, int *ret_in, int *ret_out) {
        int lfd = bench_tcp_listen(&o->lst, o->lst_len);
        if (lfd < 0)
                return lfd;
        /* Tell the run script the relay listens, so it can start the source. */
        printf("READY\n");
        fflush(stdout);
        int in = bench_tcp_accept(lfd, 30000);
        close(lfd);
        if (in < 0)
                return in;
        int out = bench_tcp_connect(&o->dst, o->dst_len);
        if (out < 0) {
                close(in);
                return out;
        }
        *ret_in = in;
        *ret_out = out;
        return 0;
}

typedef struct bench_method {
        const char *name;
        int (*run)(const bench_opts *o, bench_result *ret);
} bench_method;

static const bench_method methods[] = {
        { "sendto", udp_sendto },
        { "sendmmsg", udp_sendmmsg },
        { "io_uring", udp_uring },
        { "io_uring_sqpoll", udp_uring_sqpoll },
        { "msg_zerocopy", udp_zerocopy },
        { "sendfile", udp_sendfile },
        { "maio", udp_maio },
        { "source", tcp_source },
        { "sink", tcp_sink },
        { "readwrite", relay_readwrite },
        { "splice", relay_splice },
        { "maio_relay", relay_maio },
        { "maio_relay_buffers", relay_maio_buffers },
        { "sockmap", relay_sockmap },
};

static const bench_method *method_find(const char *name) {
        for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
                if (strcmp(methods[i].name, name) == 0)
                        return &methods[i];
        return NULL;
}

static void usage(void) {
        fprintf(stderr, "usage: maio-bench --method M [--dst IP:PORT] [--listen IP:PORT] [--size BYTES]\n"
                        "                  [--batch N] [--buffers N] [--chain N] [--zc] [--duration S]\n"
                        "                  [--sq-cpu N] [--spin] [--one-buffer] [--bpf OBJ] [--wait-go]\n"
                        "methods: sendto sendmmsg io_uring io_uring_sqpoll msg_zerocopy sendfile maio (UDP senders),\n"
                        "         source sink readwrite splice maio_relay maio_relay_buffers sockmap (TCP relay\n"
                        "         experiment)\n");
}

static int parse_opts(int argc, char **argv, bench_opts *o, const bench_method **ret) {
        static const struct option opts[] = { { "method", required_argument, NULL, 'm' },
                                              { "dst", required_argument, NULL, 'd' },
                                              { "listen", required_argument, NULL, 'l' },
                                              { "size", required_argument, NULL, 's' },
                                              { "batch", required_argument, NULL, 'b' },
                                              { "buffers", required_argument, NULL, 'n' },
                                              { "duration", required_argument, NULL, 't' },
                                              { "sq-cpu", required_argument, NULL, 'c' },
                                              { "spin", no_argument, NULL, 'S' },
                                              { "chain", required_argument, NULL, 'C' },
                                              { "zc", no_argument, NULL, 'z' },
                                              { "one-buffer", no_argument, NULL, 'o' },
                                              { "bpf", required_argument, NULL, 'B' },
                                              { "wait-go", no_argument, NULL, 'g' },
                                              {} };
        const bench_method *m = NULL;
        int c;
        *o = (bench_opts) { .size = 64, .batch = 64, .nbufs = 256, .duration = 5.0, .sq_cpu = -1 };
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 'm':
                        m = method_find(optarg);
                        break;
                case 'd':
                        if (parse_addr(optarg, &o->dst, &o->dst_len) < 0)
                                return -EINVAL;
                        break;
                case 'l':
                        if (parse_addr(optarg, &o->lst, &o->lst_len) < 0)
                                return -EINVAL;
                        break;
                case 's':
                        o->size = strtoul(optarg, NULL, 0);
                        break;
                case 'b':
                        o->batch = (unsigned) strtoul(optarg, NULL, 0);
                        break;
                case 'n':
                        o->nbufs = (unsigned) strtoul(optarg, NULL, 0);
                        break;
                case 't':
                        o->duration = strtod(optarg, NULL);
                        break;
                case 'c':
                        o->sq_cpu = atoi(optarg);
                        break;
                case 'S':
                        o->maio_spin = true;
                        break;
                case 'z':
                        o->zc = true;
                        break;
                case 'o':
                        o->one_buffer = true;
                        break;
                case 'B':
                        o->bpf = optarg;
                        break;
                case 'g':
                        o->wait_go = true;
                        break;
                case 'C':
                        o->chain = (unsigned) strtoul(optarg, NULL, 0);
                        break;
                default:
                        return -EINVAL;
                }
        }
        if (!m || o->size == 0 || o->size > (1u << 20) || o->batch == 0 || o->batch > 1024 || o->nbufs == 0 ||
            o->nbufs > 4096 || o->chain > o->nbufs || o->duration <= 0)
                return -EINVAL;
        *ret = m;
        return 0;
}

int main(int argc, char **argv) {
        const bench_method *m;
        bench_opts o;
        bench_result res = {};

        if (parse_opts(argc, argv, &o, &m) < 0) {
                usage();
                return 2;
        }
        int k = m->run(&o, &res);
        if (k < 0) {
                fprintf(stderr, "maio-bench: %s failed: %s\n", m->name, strerror(-k));
                return 1;
        }
        printf("BENCH method=%s ops=%" PRIu64 " bytes=%" PRIu64 " ops_total=%" PRIu64 " wall_ns=%" PRIu64
               " app_ns=%" PRIu64 " total_ns=%" PRIu64 "\n",
               m->name, res.ops, res.bytes, res.ops_total, res.wall_ns, res.app_ns, res.total_ns);
        return 0;
}
