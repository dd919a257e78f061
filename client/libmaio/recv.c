/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Receives: a provided-buffer ring of pool buffers shared by the ring's sockets, one multishot
 * receive per socket, per-socket queues of filled buffers handed out as iovecs, and the buffer
 * relay that sends received buffers on zero-copy (MAIO_RELAY_BUFFERS; relay.c has the default). */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "maio-internal.h"

static uint32_t recv_hash(const void *p, uint32_t mask) {
        uint64_t x = (uint64_t) (uintptr_t) p / MAIO_ALIGN;
        x *= 0x9e3779b97f4a7c15ull;
        return (uint32_t) (x >> 32) & mask;
}

/* Receive buffers one socket may hold before its multishot is stopped, and below which it is
 * re-armed. */
static uint32_t recv_high(maio_ring *r) {
        return r->nbufs / 2 > 0 ? r->nbufs / 2 : 1;
}

static uint32_t recv_low(maio_ring *r) {
        return r->nbufs / 4 > 0 ? r->nbufs / 4 : 1;
}

/* Buffer id of a receive buffer, or -EINVAL. */
static int recv_bid(maio_ring *r, const void *buf) {
        for (uint32_t h = recv_hash(buf, r->rbuf_hash_mask);; h = (h + 1) & r->rbuf_hash_mask) {
                uint32_t v = r->rbuf_hash[h];
                if (v == 0)
                        return -EINVAL;
                if (r->rbufs[v - 1] == buf)
                        return (int) (v - 1);
        }
}

/* Puts buffer bid (back) into the kernel's ring. */
static void recv_provide(maio_ring *r, uint32_t bid) {
        int32_t h = r->rbuf_owner[bid];
        if (h >= 0 && (uint32_t) h < r->nsocks && r->socks[h].held > 0)
                r->socks[h].held--;
        r->rbuf_owner[bid] = -1;
        r->rbuf_out[bid] = 0;
        io_uring_buf_ring_add(r->br, r->rbufs[bid], (unsigned) r->rbuf_size, (unsigned short) bid,
                              io_uring_buf_ring_mask(r->nbufs), 0);
        io_uring_buf_ring_advance(r->br, 1);
}

int recv_init(maio_ring *r, size_t rbuf_size, unsigned nbufs) {
        r->rbuf_size = rbuf_size;
        r->nbufs = nbufs;
        r->rbufs = calloc(nbufs, sizeof(void *));
        r->rbuf_out = calloc(nbufs, 1);
        r->rbuf_owner = malloc(nbufs * sizeof(int32_t));
        for (uint32_t b = 0; r->rbuf_owner && b < nbufs; b++)
                r->rbuf_owner[b] = -1;
        r->rbuf_hash_mask = 2 * nbufs - 1;
        r->rbuf_hash = calloc(2 * nbufs, sizeof(uint32_t));
        if (!r->rbufs || !r->rbuf_out || !r->rbuf_owner || !r->rbuf_hash)
                return -ENOMEM;
        r->br_size = (nbufs * sizeof(struct io_uring_buf) + 4095) & ~(size_t) 4095;
        void *m = mmap(NULL, r->br_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
                return -errno;
        r->br = m;
        io_uring_buf_ring_init(r->br);
        struct io_uring_buf_reg reg = { .ring_addr = (uintptr_t) m, .ring_entries = nbufs, .bgid = MAIO_BGID };
        int k = io_uring_register_buf_ring(&r->uring, &reg, 0);
        if (k < 0)
                return k;
        for (uint32_t bid = 0; bid < nbufs; bid++) {
                k = alloc_buf(r->pool, rbuf_size, MAIO_BUF_RECV, &r->rbufs[bid]);
                if (k < 0)
                        return k;
                uint32_t h = recv_hash(r->rbufs[bid], r->rbuf_hash_mask);
                while (r->rbuf_hash[h])
                        h = (h + 1) & r->rbuf_hash_mask;
                r->rbuf_hash[h] = bid + 1;
                recv_provide(r, bid);
        }
        return 0;
}

void recv_done(maio_ring *r) {
        for (uint32_t bid = 0; r->rbufs && bid < r->nbufs; bid++)
                if (r->rbufs[bid])
                        (void) alloc_release(r->pool, r->rbufs[bid], MAIO_BUF_RECV);
        for (uint32_t h = 0; r->socks && h < r->nsocks; h++) {
                free(r->socks[h].rq);
                free(r->socks[h].rq_len);
        }
        if (r->br)
                munmap(r->br, r->br_size);
        free(r->rbufs);
        free(r->rbuf_out);
        free(r->rbuf_owner);
        free(r->rbuf_hash);
}

int recv_sock_init(maio_ring *r, maio_sock *s) {
        if (s->rq)
                return 0;
        s->rq = calloc(r->nbufs, sizeof(uint32_t));
        s->rq_len = calloc(r->nbufs, sizeof(uint32_t));
        if (!s->rq || !s->rq_len) {
                free(s->rq);
                free(s->rq_len);
                s->rq = s->rq_len = NULL;
                return -ENOMEM;
        }
        return 0;
}

/* Returns a closed socket's undelivered buffers to the kernel. */
void recv_sock_reset(maio_ring *r, maio_sock *s) {
        while (s->rq_count > 0) {
                recv_provide(r, s->rq[s->rq_head]);
                s->rq_head = (s->rq_head + 1) % r->nbufs;
                s->rq_count--;
        }
        s->rq_head = 0;
        /* Buffers the application still holds are nobody's now: their release must not count
         * against the next socket in this slot. */
        int32_t h = (int32_t) (s - r->socks);
        for (uint32_t b = 0; b < r->nbufs; b++)
                if (r->rbuf_owner[b] == h)
                        r->rbuf_owner[b] = -1;
        s->held = 0;
}

void recv_recycle(maio_ring *r, void *buf) {
        int bid = recv_bid(r, buf);
        if (bid < 0)
                return;
        (void) alloc_transition(r->pool, buf, MAIO_BUF_INFLIGHT, MAIO_BUF_RECV);
        recv_provide(r, (uint32_t) bid);
}

void recv_complete(maio_ring *r, uint32_t i, const struct io_uring_cqe *cqe) {
        maio_op *op = &r->ops[i];
        maio_sock *s = op->handle >= 0 ? &r->socks[op->handle] : NULL;
        bool more = cqe->flags & IORING_CQE_F_MORE;

        if (cqe->flags & IORING_CQE_F_BUFFER) {
                uint32_t bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
                if (!s || cqe->res <= 0 || bid >= r->nbufs)
                        recv_provide(r, bid % r->nbufs);
                else {
                        r->rbuf_out[bid] = 1;
                        r->rbuf_owner[bid] = op->handle;
                        s->held++;
                        uint32_t tail = (s->rq_head + s->rq_count) % r->nbufs;
                        s->rq[tail] = bid;
                        s->rq_len[tail] = (uint32_t) cqe->res;
                        s->rq_count++;
                        r->st.recv_completions++;
                        s->recv_seen_ms = ring_now_ms();
                        s->recv_queued_ms = 0;
                        r->st.bytes_received += (uint64_t) cqe->res;
                }
        }
        if (s && cqe->res == 0 && s->type == SOCK_STREAM)
                s->flags |= SOCK_EOF;
        else if (s && cqe->res == -ENOBUFS)
                r->st.recv_nobufs++;
        else if (s && cqe->res < 0 && cqe->res != -ECANCELED && s->recv_error == 0)
                s->recv_error = cqe->res;
        /* One socket may not hold more than half the buffers (a relay's other direction
         * would starve and deadlock): stop its multishot; recv_sg re-arms when it drained. */
        if (more && s && s->held >= recv_high(r) && !(s->flags & SOCK_RECV_THROTTLED)) {
                struct io_uring_sqe *sqe = io_uring_get_sqe(&r->uring);
                if (sqe) {
                        io_uring_prep_cancel64(sqe, (uint64_t) i + 1, 0);
                        io_uring_sqe_set_data64(sqe, UINT64_MAX);
                        s->flags |= SOCK_RECV_THROTTLED;
                }
        }
        if (!more) {
                if (s) {
                        s->flags &= ~SOCK_RECV_THROTTLED;
                        s->flags &= ~SOCK_RECV_ARMED;
                        s->recv_op = MAIO_NONE;
                }
                ring_op_put(r, i);
        }
}

int maio_recv_start(maio_ring *r, int handle) {
        maio_sock *s = r ? ring_sock(r, handle) : NULL;
        uint32_t i;
        if (!s)
                return -EBADF;
        if (s->flags & SOCK_RECV_ARMED)
                return 0;
        int k = recv_sock_init(r, s);
        if (k < 0)
                return k;
        k = ring_op_new(r, OP_RECV, handle, &i);
        if (k < 0)
                return k;
        struct io_uring_sqe *sqe = ring_get_sqe(r);
        if (!sqe) {
                ring_op_put(r, i);
                return -EBUSY;
        }
        io_uring_prep_recv_multishot(sqe, s->fd, NULL, 0, 0);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = MAIO_BGID;
        io_uring_sqe_set_data64(sqe, (uint64_t) i + 1);
        s->flags |= SOCK_RECV_ARMED;
        s->recv_op = i;
        /* The watchdog measures this receive, not the time the socket spent unarmed. */
        s->recv_seen_ms = ring_now_ms();
        s->recv_queued_ms = 0;
        r->st.recv_rearms++;
        return ring_submit(r);
}

static unsigned recv_buffers_in_ring(maio_ring *r) {
        unsigned n = 0;
        for (uint32_t b = 0; b < r->nbufs; b++)
                n += !r->rbuf_out[b];
        return n;
}

/* An armed multishot receive can sit idle while its socket has data queued (the watchdog in
 * maio-internal.h): the request stays on the socket's wait queue and the next wakeup revives
 * it. A TCP socket quiet for RING_WATCH_MS with data queued gets that wakeup: re-setting
 * SO_RCVLOWAT to its own value makes TCP signal readiness again, which costs nothing if the
 * receive was merely late. Data queued for RECV_RESTART_MS without a completion (any socket
 * type) restarts the receive, once the watchdog has looked that often: a caller busy elsewhere
 * for a second is no stall. */
#define RECV_RESTART_MS 1000
#define RECV_RESTART_LOOKS 25 /* ... and after this many looks, however long the caller was away */

static void recv_kick(maio_ring *r, maio_sock *s) {
        int lowat = 1;
        socklen_t len = sizeof(lowat);
        if (s->type != SOCK_STREAM) {
                s->recv_looks++; /* nothing to poke; the look still counts for the restart */
                return;
        }
        if (getsockopt(s->fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, &len) < 0)
                return;
        if (setsockopt(s->fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat)) == 0)
                r->st.recv_kicks++;
        s->recv_looks++;
}

/* Cancels the receive; maio_recv_sg re-arms it, and the new request reads what is queued. */
static void recv_restart(maio_ring *r, maio_sock *s) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&r->uring);
        if (!sqe)
                return;
        io_uring_prep_cancel64(sqe, (uint64_t) s->recv_op + 1, 0);
        io_uring_sqe_set_data64(sqe, UINT64_MAX);
        s->flags |= SOCK_RECV_THROTTLED;
        s->recv_seen_ms = ring_now_ms();
        s->recv_queued_ms = 0;
        r->st.recv_stalls++;
        (void) ring_submit(r);
}

void recv_check_stall(maio_ring *r, maio_sock *s, int64_t now) {
        int queued = 0;
        if (!(s->flags & SOCK_RECV_ARMED) || (s->flags & SOCK_RECV_THROTTLED) || s->recv_op == MAIO_NONE)
                return;
        /* Look only once completions paused, and at a long-quiet socket less often (1/8 of its
         * quiet time, at most a second apart): idle connections cost a few ioctls a second. */
        int64_t quiet = now - s->recv_seen_ms;
        int64_t every = s->recv_queued_ms || quiet / 8 < RING_WATCH_MS ? RING_WATCH_MS
                        : quiet / 8 > 1000                             ? 1000
                                                                       : quiet / 8;
        if (quiet < RING_WATCH_MS || now - s->recv_look_ms < every)
                return;
        s->recv_look_ms = now;
        if (ioctl(s->fd, FIONREAD, &queued) < 0 || queued <= 0 || recv_buffers_in_ring(r) == 0) {
                s->recv_queued_ms = 0;
                return;
        }
        /* Data the kernel has not got to yet on the first look; still there on the next, stuck. */
        if (s->recv_queued_ms == 0) {
                s->recv_queued_ms = now;
                s->recv_looks = 0;
        } else if (now - s->recv_queued_ms < RECV_RESTART_MS || s->recv_looks < RECV_RESTART_LOOKS)
                recv_kick(r, s);
        else
                recv_restart(r, s);
}

/* True when maio_recv_sg has something to return, or must re-arm. */
static bool recv_ready(maio_ring *r, void *arg) {
        maio_sock *s = arg;
        return s->rq_count > 0 || (s->flags & SOCK_EOF) || s->recv_error || !(s->flags & SOCK_RECV_ARMED) ||
               !(s->flags & SOCK_OPEN);
}

int maio_recv_sg(maio_ring *r, int handle, struct iovec *iov, int iovcnt, int timeout_ms) {
        maio_sock *s = r ? ring_sock(r, handle) : NULL;
        if (!s)
                return -EBADF;
        if (!iov || iovcnt <= 0)
                return -EINVAL;
        for (;;) {
                if (s->rq_count > 0) {
                        int n = 0;
                        for (; n < iovcnt && s->rq_count > 0; n++) {
                                uint32_t bid = s->rq[s->rq_head];
                                iov[n] = (struct iovec) { r->rbufs[bid], s->rq_len[s->rq_head] };
                                s->rq_head = (s->rq_head + 1) % r->nbufs;
                                s->rq_count--;
                        }
                        return n;
                }
                if (s->flags & SOCK_EOF)
                        return 0;
                if (s->recv_error)
                        return s->recv_error;
                if (!(s->flags & SOCK_RECV_ARMED)) {
                        /* Stopped with -ENOBUFS (all buffers held by the application or in
                         * flight): re-arm once one is back, else wait for one. */
                        if (recv_buffers_in_ring(r) == 0 || s->held >= recv_low(r)) {
                                int k = maio_ring_poll(r, timeout_ms);
                                if (k < 0)
                                        return k;
                                if (k == 0)
                                        return timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
                                continue;
                        }
                        int k = maio_recv_start(r, handle);
                        if (k < 0)
                                return k;
                }
                int k = ring_wait_until(r, recv_ready, s, timeout_ms);
                if (k < 0)
                        return k;
                if (!(s->flags & SOCK_OPEN))
                        return -EBADF;
        }
}

int maio_recv_release(maio_ring *r, void *buf) {
        if (!r)
                return -EINVAL;
        int bid = recv_bid(r, buf);
        if (bid < 0 || !r->rbuf_out[bid])
                return -EINVAL;
        /* Still queued on a socket (not delivered)? Only delivered ones may be released; queued
         * ones are not reachable by the application, so rbuf_out alone suffices. */
        if (maio_buf_get_state(r->pool, buf) != MAIO_BUF_RECV)
                return -EBUSY;
        recv_provide(r, (uint32_t) bid);
        return 0;
}

ssize_t relay_buffers(maio_ring *r, int from, int to, int timeout_ms) {
        struct iovec iov[32];
        if (!r || !ring_sock(r, to))
                return -EBADF;
        /* Take no more than can be sent at once, so back-pressure never drops data. */
        uint32_t room = r->nops - r->ops_used;
        if (room == 0) {
                int k = maio_ring_poll(r, timeout_ms);
                if (k < 0)
                        return k;
                room = r->nops - r->ops_used;
                if (room == 0)
                        return -EBUSY;
        }
        int n = maio_recv_sg(r, from, iov, (int) (room < ELEMENTSOF(iov) ? room : ELEMENTSOF(iov)), timeout_ms);
        if (n == 0) {
                /* End of stream stays reported, so a flush that times out is retried by the next
                 * call; a blocking flush here could deadlock a caller that drains `to` itself. */
                int k = maio_flush(r, to, timeout_ms);
                return k < 0 ? k : 0;
        }
        if (n < 0)
                return n;
        ssize_t moved = 0;
        int err = 0;
        for (int i = 0; i < n; i++) {
                if (err == 0 && alloc_transition(r->pool, iov[i].iov_base, MAIO_BUF_RECV, MAIO_BUF_INFLIGHT) == 0) {
                        err = send_queue_buf(r, to, iov[i].iov_base, iov[i].iov_len, SEND_RECYCLE);
                        if (err == 0) {
                                moved += (ssize_t) iov[i].iov_len;
                                continue;
                        }
                        (void) alloc_transition(r->pool, iov[i].iov_base, MAIO_BUF_INFLIGHT, MAIO_BUF_RECV);
                }
                /* Not sent because `to` failed: the data goes with the buffer, as the error
                 * returned says. */
                (void) maio_recv_release(r, iov[i].iov_base);
        }
        if (err < 0)
                return err;
        (void) ring_submit(r);
        return moved;
}
