/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The baseline UDP senders of the libmaio benchmarks (paper Figs. 2 and 3): sendto, sendmmsg,
 * io_uring without SQPOLL, MSG_ZEROCOPY and sendfile, each on a connected socket, each as fast as
 * it can go for the window. The datagrams die at the veth's egress hook. */

#include <errno.h>
#include <liburing.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#ifndef SO_EE_ORIGIN_ZEROCOPY
#define SO_EE_ORIGIN_ZEROCOPY 5
#endif
#ifndef SO_EE_CODE_ZEROCOPY_COPIED
#define SO_EE_CODE_ZEROCOPY_COPIED 1
#endif

#define CHECK_EVERY 64u /* sends between looks at the clock */

/* What the raw senders send: o->nbufs distinct buffers in rotation, the same footprint as the
 * libmaio and MSG_ZEROCOPY rows, whose buffers stay the kernel's until a notification and so must
 * rotate. A copying send of one buffer over and over (--one-buffer) copies from a source always
 * in the L1/L2 cache, which no application sending its data does. */
typedef struct source {
        uint8_t *base;
        size_t size;
        unsigned n, next;
} source;

static int source_init(source *s, const bench_opts *o) {
        *s = (source) { .size = o->size, .n = o->one_buffer ? 1 : o->nbufs };
        s->base = bench_buffer(o->size * s->n);
        return s->base ? 0 : -ENOMEM;
}

static void *source_next(source *s) {
        void *p = s->base + (size_t) s->next * s->size;
        if (++s->next == s->n)
                s->next = 0;
        return p;
}

/* A transient send failure: the datagram was not sent, try again. */
static bool send_transient(int err) {
        return err == EAGAIN || err == ENOBUFS || err == EINTR;
}

int udp_sendto(const bench_opts *o, bench_result *ret) {
        bench_clock c;
        int fd = bench_udp_connect(o);
        if (fd < 0)
                return fd;
        source src;
        if (source_init(&src, o) < 0) {
                close(fd);
                return -ENOMEM;
        }
        int r = 0;
        bench_clock_start(&c, o->duration);
        while (r == 0 && !bench_clock_expired(&c))
                for (unsigned i = 0; i < CHECK_EVERY; i++) {
                        ssize_t n = sendto(fd, source_next(&src), o->size, 0, NULL, 0);
                        if (n < 0 && !send_transient(errno)) {
                                r = -errno;
                                break;
                        }
                        if (n > 0) {
                                ret->ops++;
                                ret->bytes += (uint64_t) n;
                        }
                }
        bench_clock_stop(&c, ret);
        ret->ops_total = ret->ops;
        free(src.base);
        close(fd);
        return r;
}

int udp_sendmmsg(const bench_opts *o, bench_result *ret) {
        bench_clock c;
        source src;
        int fd = bench_udp_connect(o);
        if (fd < 0)
                return fd;
        struct mmsghdr *m = calloc(o->batch, sizeof(*m));
        struct iovec *iov = calloc(o->batch, sizeof(*iov));
        int r = source_init(&src, o);
        if (!m || !iov)
                r = -ENOMEM;
        for (unsigned i = 0; r == 0 && i < o->batch; i++)
                m[i].msg_hdr = (struct msghdr) { .msg_iov = &iov[i], .msg_iovlen = 1 };
        bench_clock_start(&c, o->duration);
        while (r == 0 && !bench_clock_expired(&c)) {
                for (unsigned i = 0; i < o->batch; i++)
                        iov[i] = (struct iovec) { source_next(&src), o->size };
                int n = sendmmsg(fd, m, o->batch, 0);
                if (n < 0 && !send_transient(errno))
                        r = -errno;
                for (int i = 0; i < n; i++) {
                        ret->ops++;
                        ret->bytes += m[i].msg_len;
                }
        }
        bench_clock_stop(&c, ret);
        ret->ops_total = ret->ops;
        free(m);
        free(iov);
        free(src.base);
        close(fd);
        return r;
}

/* One batch of IORING_OP_SEND: prepare, one io_uring_enter that submits and waits, reap. */
static int uring_batch(struct io_uring *ring, int fd, source *src, const bench_opts *o, bench_result *ret) {
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        int r = 0;
        for (unsigned i = 0; i < o->batch; i++)
                io_uring_prep_send(io_uring_get_sqe(ring), fd, source_next(src), o->size, 0);
        int k = io_uring_submit_and_wait(ring, o->batch);
        if (k < 0)
                return k;
        io_uring_for_each_cqe(ring, head, cqe) {
                seen++;
                if (cqe->res > 0) {
                        ret->ops++;
                        ret->bytes += (uint64_t) cqe->res;
                } else if (cqe->res < 0 && !send_transient(-cqe->res))
                        r = cqe->res;
        }
        io_uring_cq_advance(ring, seen);
        /* Sends that went async (not expected for UDP) complete later: wait for all of them. */
        if (seen < o->batch && r == 0) {
                for (; seen < o->batch; seen++) {
                        k = io_uring_wait_cqe(ring, &cqe);
                        if (k < 0)
                                return k;
                        if (cqe->res > 0) {
                                ret->ops++;
                                ret->bytes += (uint64_t) cqe->res;
                        }
                        io_uring_cqe_seen(ring, cqe);
                }
        }
        return r;
}

int udp_uring(const bench_opts *o, bench_result *ret) {
        struct io_uring ring;
        bench_clock c;
        int fd = bench_udp_connect(o);
        if (fd < 0)
                return fd;
        int r = io_uring_queue_init(o->batch, &ring, 0);
        if (r < 0) {
                close(fd);
                return r;
        }
        source src;
        r = source_init(&src, o);
        bench_clock_start(&c, o->duration);
        while (r == 0 && !bench_clock_expired(&c))
                r = uring_batch(&ring, fd, &src, o, ret);
        bench_clock_stop(&c, ret);
        ret->ops_total = ret->ops;
        io_uring_queue_exit(&ring);
        free(src.base);
        close(fd);
        return r;
}

typedef struct zc_state {
        uint64_t sent, completed, copied, notifications;
} zc_state;

/* Reads the completion notifications queued on the error queue. Returns 0 or -errno. */
static int zc_drain(int fd, zc_state *z) {
        for (;;) {
                char control[128];
                struct msghdr msg = { .msg_control = control, .msg_controllen = sizeof(control) };
                if (recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
                        return errno == EAGAIN ? 0 : -errno;
                for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
                        const struct sock_extended_err *ee = (const void *) CMSG_DATA(cm);
                        if (!((cm->cmsg_level == SOL_IP && cm->cmsg_type == IP_RECVERR) ||
                              (cm->cmsg_level == SOL_IPV6 && cm->cmsg_type == IPV6_RECVERR)) ||
                            ee->ee_origin != SO_EE_ORIGIN_ZEROCOPY)
                                continue;
                        /* ee_info..ee_data: the range of send ids this notification completes. */
                        uint64_t n = (uint64_t) (ee->ee_data - ee->ee_info) + 1;
                        z->completed += n;
                        z->notifications++;
                        if (ee->ee_code & SO_EE_CODE_ZEROCOPY_COPIED)
                                z->copied += n;
                }
        }
}

/* Waits until a buffer is free again: no send of the rotation still references it. */
static int zc_wait_buffer(int fd, zc_state *z, unsigned nbufs) {
        while (z->sent - z->completed >= nbufs) {
                struct pollfd p = { .fd = fd, .events = 0 };
                if (poll(&p, 1, 1000) < 0 && errno != EINTR)
                        return -errno;
                int k = zc_drain(fd, z);
                if (k < 0)
                        return k;
        }
        return 0;
}

static int zc_send_one(int fd, uint8_t *bufs, const bench_opts *o, zc_state *z, bench_result *ret) {
        int k = zc_wait_buffer(fd, z, o->nbufs);
        if (k < 0)
                return k;
        uint8_t *buf = bufs + (z->sent % o->nbufs) * o->size;
        ssize_t n = send(fd, buf, o->size, MSG_ZEROCOPY);
        if (n < 0) {
                /* ENOBUFS: the socket's optmem (notification state) is used up; completions
                 * free it. */
                if (!send_transient(errno))
                        return -errno;
                return zc_drain(fd, z);
        }
        z->sent++;
        ret->ops++;
        ret->bytes += (uint64_t) n;
        /* Notifications coalesce while unread: reading them every half rotation is cheaper. */
        if (z->sent - z->completed >= o->nbufs / 2)
                return zc_drain(fd, z);
        return 0;
}

int udp_zerocopy(const bench_opts *o, bench_result *ret) {
        zc_state z = {};
        bench_clock c;
        int one = 1, fd = bench_udp_connect(o);
        if (fd < 0)
                return fd;
        if (setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        uint8_t *bufs = bench_buffer(o->size * o->nbufs);
        int r = bufs ? 0 : -ENOMEM;
        bench_clock_start(&c, o->duration);
        while (r == 0 && !bench_clock_expired(&c))
                for (unsigned i = 0; r == 0 && i < CHECK_EVERY; i++)
                        r = zc_send_one(fd, bufs, o, &z, ret);
        bench_clock_stop(&c, ret);
        ret->ops_total = ret->ops;
        /* Collect the outstanding notifications so the counts below are complete. */
        for (int i = 0; r == 0 && i < 100 && z.completed < z.sent; i++) {
                struct pollfd p = { .fd = fd, .events = 0 };
                (void) poll(&p, 1, 10);
                r = zc_drain(fd, &z);
        }
        printf("STAT msg_zerocopy notifications=%llu completed=%llu copied=%llu\n",
               (unsigned long long) z.notifications, (unsigned long long) z.completed, (unsigned long long) z.copied);
        free(bufs);
        close(fd);
        return r;
}

int udp_sendfile(const bench_opts *o, bench_result *ret) {
        bench_clock c;
        int fd = bench_udp_connect(o);
        if (fd < 0)
                return fd;
        /* The file: o->size bytes in a memfd (shmem pages, like a file in the page cache). */
        int r = 0, mfd = memfd_create("maio-bench", MFD_CLOEXEC);
        void *buf = bench_buffer(o->size);
        if (mfd < 0 || !buf || write(mfd, buf, o->size) != (ssize_t) o->size)
                r = mfd < 0 ? -errno : -EIO;
        bench_clock_start(&c, o->duration);
        while (r == 0 && !bench_clock_expired(&c))
                for (unsigned i = 0; i < CHECK_EVERY; i++) {
                        off_t off = 0;
                        ssize_t n = sendfile(fd, mfd, &off, o->size);
                        if (n < 0 && !send_transient(errno)) {
                                r = -errno;
                                break;
                        }
                        if (n > 0) {
                                ret->ops++;
                                ret->bytes += (uint64_t) n;
                        }
                }
        bench_clock_stop(&c, ret);
        ret->ops_total = ret->ops;
        free(buf);
        if (mfd >= 0)
                close(mfd);
        close(fd);
        return r;
}

/* Reaps what is there. Returns the number of sends finished (a zero-copy send finishes with its
 * notification), or a send's hard error. */
static int sqpoll_reap(struct io_uring *ring, bench_result *ret) {
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0, done = 0;
        int r = 0;
        io_uring_for_each_cqe(ring, head, cqe) {
                seen++;
                if (cqe->flags & IORING_CQE_F_NOTIF) {
                        done++;
                        continue;
                }
                if (!(cqe->flags & IORING_CQE_F_MORE))
                        done++;
                if (cqe->res > 0) {
                        ret->ops++;
                        ret->bytes += (uint64_t) cqe->res;
                } else if (cqe->res < 0 && !send_transient(-cqe->res))
                        r = cqe->res;
        }
        io_uring_cq_advance(ring, seen);
        return r < 0 ? r : (int) done;
}

/* Keeps up to o->nbufs sends queued, independent or (--chain N) in linked chains of N as libmaio
 * submits them. Returns sends in flight or -errno. */
static int sqpoll_step(struct io_uring *ring, int fd, source *src, const bench_opts *o, unsigned inflight,
                       uint64_t *waits, bench_result *ret) {
        unsigned chain = o->chain ? o->chain : 1;
        while (inflight + chain <= o->nbufs && io_uring_sq_space_left(ring) >= chain) {
                for (unsigned i = 0; i < chain; i++) {
                        struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
                        void *buf = source_next(src);
                        if (o->zc)
                                io_uring_prep_send_zc_fixed(sqe, fd, buf, o->size, 0, 0, 0);
                        else
                                io_uring_prep_send(sqe, fd, buf, o->size, 0);
                        if (i + 1 < chain)
                                sqe->flags |= IOSQE_IO_LINK;
                }
                inflight += chain;
        }
        int k = io_uring_submit(ring); /* a syscall only when the poller sleeps */
        if (k < 0)
                return k;
        k = sqpoll_reap(ring, ret);
        if (k == 0 && inflight == 0)
                /* The poller posts completions before it publishes the SQ head: every send
                 * can be reaped while the SQ still looks full. Wait for the head, not a CQE. */
                k = io_uring_sqring_wait(ring) < 0 ? -EIO : 0;
        else if (k == 0 && !o->maio_spin) {
                struct io_uring_cqe *cqe;
                (*waits)++;
                k = io_uring_wait_cqe(ring, &cqe);
                k = k < 0 ? k : sqpoll_reap(ring, ret);
        }
        return k < 0 ? k : (int) (inflight - (unsigned) k);
}

/* Diagnostic, not one of the paper's baselines: plain io_uring SENDs submitted through an SQPOLL
 * poller on o->sq_cpu with no library around them, the ceiling for libmaio's small-send path on
 * this machine; --chain and --buffers reproduce libmaio's linked chains to measure their cost, --zc
 * sends with SEND_ZC from a registered buffer. */
int udp_uring_sqpoll(const bench_opts *o, bench_result *ret) {
        struct io_uring_params p = { .flags = IORING_SETUP_SQPOLL, .sq_thread_idle = 100 };
        struct io_uring ring;
        bench_clock c;
        int fd = bench_udp_connect(o);
        if (fd < 0)
                return fd;
        if (o->sq_cpu >= 0) {
                p.flags |= IORING_SETUP_SQ_AFF;
                p.sq_thread_cpu = (unsigned) o->sq_cpu;
        }
        int r = io_uring_queue_init_params(o->nbufs, &ring, &p);
        if (r < 0) {
                close(fd);
                return r;
        }
        source src;
        int inflight = source_init(&src, o);
        uint64_t waits = 0;
        if (inflight == 0 && o->zc) {
                /* SEND_ZC from a registered buffer, as libmaio sends from its pool. */
                struct iovec iov = { src.base, o->size * src.n };
                inflight = io_uring_register_buffers(&ring, &iov, 1);
        }
        bench_clock_start(&c, o->duration);
        while (inflight >= 0 && !bench_clock_expired(&c))
                inflight = sqpoll_step(&ring, fd, &src, o, (unsigned) inflight, &waits, ret);
        bench_clock_stop(&c, ret);
        printf("STAT io_uring_sqpoll wait_syscalls=%llu\n", (unsigned long long) waits);
        uint64_t ops = ret->ops;
        uint64_t bytes = ret->bytes;
        while (inflight > 0) {
                struct io_uring_cqe *cqe;
                if (io_uring_wait_cqe(&ring, &cqe) < 0)
                        break;
                int k = sqpoll_reap(&ring, ret);
                inflight = k < 0 ? k : inflight - k;
        }
        ret->ops_total = ret->ops;
        ret->ops = ops;
        ret->bytes = bytes;
        io_uring_queue_exit(&ring);
        free(src.base);
        close(fd);
        return inflight < 0 ? inflight : 0;
}
