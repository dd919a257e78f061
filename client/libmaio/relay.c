/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The relay without user-space copies (libmaio(3), RELAYING): each `from` handle gets a pipe, and
 * the ring moves the bytes socket -> pipe -> socket with IORING_OP_SPLICE, the kernel's own
 * socket splicing. The two ways run independently (the next splice in while the last one goes
 * out). Splices run in io-wq workers, so each is SPLICE_F_NONBLOCK and, when the last one found
 * nothing to do, hard-linked behind an IORING_OP_POLL_ADD: an idle relay waits on the socket's
 * wait queue and holds no worker thread. The buffer relay (MAIO_RELAY_BUFFERS) is in recv.c. */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include "maio-internal.h"

/* The pipe's capacity, as large as the buffer relay's 64 KiB receive buffers four times over
 * (measured: docs/benchmarks.md, Fig. 4). The kernel may refuse it (fs.pipe-max-size, the
 * per-user pipe quota): the pipe keeps its default size then. */
#define RELAY_PIPE_SIZE (256u * 1024u)

/* The user_data of a relay's POLL_ADD: beyond every op index (ring_dispatch ignores it), and
 * unique per op so that closing can cancel it. Its successful CQE is skipped. */
#define RELAY_POLL_TAG (1ull << 40)

static bool relay_busy(const maio_relay_pipe *p) {
        return p->in_op != MAIO_NONE || p->out_op != MAIO_NONE;
}

static maio_relay_pipe *relay_pipe_new(void) {
        int fds[2];
        if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
                return NULL;
        maio_relay_pipe *p = calloc(1, sizeof(*p));
        if (!p) {
                close(fds[0]);
                close(fds[1]);
                errno = ENOMEM;
                return NULL;
        }
        (void) fcntl(fds[1], F_SETPIPE_SZ, (int) RELAY_PIPE_SIZE);
        int size = fcntl(fds[1], F_GETPIPE_SZ);
        *p = (maio_relay_pipe) { .rd = fds[0],
                                 .wr = fds[1],
                                 .to = -1,
                                 .size = size > 0 ? (uint32_t) size : 65536u,
                                 .in_op = MAIO_NONE,
                                 .out_op = MAIO_NONE,
                                 .in_poll = true };
        return p;
}

static void relay_pipe_free(maio_relay_pipe *p) {
        if (!p)
                return;
        close(p->rd);
        close(p->wr);
        free(p);
}

/* Queues [POLL_ADD(poll_fd, mask) hard-linked to] SPLICE(fd_in -> fd_out, len). Returns 0 and
 * *ret the op, or -EBUSY (no op or SQE free: the next call tries again). */
static int relay_queue(maio_ring *r, maio_op_kind kind, int from, bool poll, int poll_fd, unsigned mask, int fd_in,
                       int fd_out, uint32_t len, uint32_t *ret) {
        unsigned need = poll ? 2 : 1;
        if (io_uring_sq_space_left(&r->uring) < need) {
                (void) ring_submit(r);
                if (io_uring_sq_space_left(&r->uring) < need) {
                        r->st.ring_full++;
                        return -EBUSY;
                }
        }
        uint32_t i;
        int k = ring_op_new(r, kind, from, &i);
        if (k < 0)
                return k;
        r->ops[i].len = len;
        struct io_uring_sqe *sqe;
        if (poll) {
                sqe = io_uring_get_sqe(&r->uring);
                io_uring_prep_poll_add(sqe, poll_fd, mask);
                /* Hard: the splice runs whatever the poll's result, also when closing cancels it
                 * (non-blocking, it finishes at once). */
                sqe->flags |= IOSQE_IO_HARDLINK | IOSQE_CQE_SKIP_SUCCESS;
                io_uring_sqe_set_data64(sqe, RELAY_POLL_TAG + i);
        }
        sqe = io_uring_get_sqe(&r->uring);
        io_uring_prep_splice(sqe, fd_in, -1, fd_out, -1, len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        io_uring_sqe_set_data64(sqe, (uint64_t) i + 1);
        *ret = i;
        return 0;
}

/* Starts what can run: the next splice in (room in the pipe, no end or error yet) and the next
 * splice out (bytes in the pipe, and `to` has no buffer sends in flight that it could overtake). */
static void relay_arm(maio_ring *r, int from, maio_relay_pipe *p) {
        maio_sock *f = &r->socks[from], *t = p->to >= 0 ? &r->socks[p->to] : NULL;
        if (p->in_op == MAIO_NONE && !p->eof && p->in_error == 0 && p->out_error == 0 && !p->in_blocked &&
            p->in_pipe < p->size)
                (void) relay_queue(r, OP_RELAY_IN, from, p->in_poll, f->fd, POLLIN | POLLRDHUP, f->fd, p->wr,
                                   p->size - p->in_pipe, &p->in_op);
        if (p->out_op == MAIO_NONE && p->in_pipe > 0 && p->out_error == 0 && t && t->pending == 0)
                (void) relay_queue(r, OP_RELAY_OUT, from, p->out_poll, t->fd, POLLOUT, p->rd, t->fd, p->in_pipe,
                                   &p->out_op);
}

void relay_complete(maio_ring *r, uint32_t i, const struct io_uring_cqe *cqe) {
        maio_op *op = &r->ops[i];
        maio_sock *s = op->handle >= 0 ? &r->socks[op->handle] : NULL;
        maio_relay_pipe *p = s ? s->relay : NULL;
        int res = cqe->res;
        if (p && op->kind == OP_RELAY_IN) {
                p->in_op = MAIO_NONE;
                if (res > 0) {
                        p->in_pipe += (uint32_t) res;
                        /* Less than asked: the socket is drained, wait for it next time. */
                        p->in_poll = (uint32_t) res < op->len;
                        r->st.bytes_received += (uint64_t) res;
                } else if (res == 0)
                        p->eof = true;
                else if (res == -EAGAIN) {
                        /* Nothing queued, or the pipe's slots are full (small segments). */
                        if (p->in_pipe > 0)
                                p->in_blocked = true;
                        else
                                p->in_poll = true;
                } else if (res != -ECANCELED && p->in_error == 0) {
                        p->in_error = res;
                        if (s->recv_error == 0)
                                s->recv_error = res;
                }
        } else if (p && op->kind == OP_RELAY_OUT) {
                p->out_op = MAIO_NONE;
                if (res > 0) {
                        p->in_pipe -= (uint32_t) res;
                        p->moved += (uint64_t) res;
                        p->in_blocked = false;
                        p->out_poll = false;
                        r->st.bytes_sent += (uint64_t) res;
                } else if (res == -EAGAIN || res == 0)
                        p->out_poll = true;
                else if (res != -ECANCELED && p->out_error == 0) {
                        p->out_error = res;
                        maio_sock *t = p->to >= 0 ? &r->socks[p->to] : NULL;
                        if (t && t->error == 0)
                                t->error = res;
                }
        }
        ring_op_put(r, i);
}

/* Whether maio_relay returns now, and *ret what. */
static bool relay_result(maio_relay_pipe *p, ssize_t *ret) {
        if (p->moved > 0) {
                *ret = (ssize_t) p->moved;
                p->moved = 0;
                return true;
        }
        if (p->out_error) {
                *ret = p->out_error;
                return true;
        }
        /* The end of the stream, or an error of `from`, once the pipe has drained. */
        if (!relay_busy(p) && p->in_pipe == 0 && (p->in_error || p->eof)) {
                *ret = p->in_error;
                return true;
        }
        return false;
}

static int sock_set_nonblock(int fd) {
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0)
                return -errno;
        if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
                return -errno;
        return 0;
}

static ssize_t relay_splice(maio_ring *r, int from, int to, int timeout_ms) {
        maio_sock *f = &r->socks[from];
        maio_relay_pipe *p = f->relay;
        if (!p) {
                p = f->relay = relay_pipe_new();
                if (!p)
                        return -errno;
        }
        if (p->to != to) {
                /* Bytes in the pipe belong to the old destination. */
                if (p->in_pipe > 0 || p->out_op != MAIO_NONE)
                        return -EBUSY;
                /* A socket splice waits as its file says, whatever SPLICE_F_NONBLOCK says (that
                 * is for the pipe): an io-wq worker must never sleep in one. */
                int k = sock_set_nonblock(f->fd);
                if (k == 0)
                        k = sock_set_nonblock(r->socks[to].fd);
                if (k < 0)
                        return k;
                p->to = to;
                p->out_poll = false;
        }
        int64_t deadline = timeout_ms < 0 ? INT64_MAX : ring_now_ms() + timeout_ms;
        for (;;) {
                relay_arm(r, from, p);
                int k = maio_ring_poll(r, 0);
                if (k < 0)
                        return k;
                ssize_t n;
                if (relay_result(p, &n))
                        return n;
                bool expired = deadline != INT64_MAX && ring_now_ms() >= deadline;
                if (k > 0 && !expired)
                        continue; /* completions may let the next splice start: before sleeping */
                if (expired)
                        return timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
                relay_arm(r, from, p);
                int64_t left = deadline == INT64_MAX ? -1 : deadline - ring_now_ms();
                k = maio_ring_poll(r, left < 0 ? -1 : left > INT32_MAX ? INT32_MAX : (int) left);
                if (k < 0 && k != -ETIMEDOUT)
                        return k;
        }
}

ssize_t maio_relay_flags(maio_ring *r, int from, int to, unsigned flags, int timeout_ms) {
        maio_sock *f = r ? ring_sock(r, from) : NULL, *t = r ? ring_sock(r, to) : NULL;
        if (!f || !t)
                return -EBADF;
        if (flags & ~(unsigned) MAIO_RELAY_BUFFERS)
                return -EINVAL;
        int k = ring_owner_check(r);
        if (k < 0)
                return k;
        maio_relay_pipe *p = f->relay;
        /* Buffers when asked, for datagrams (splicing would lose their boundaries), without
         * IORING_OP_SPLICE, and for a handle whose receive the application started (its bytes are
         * in receive buffers already), unless it has spliced before. */
        bool buffers = (flags & MAIO_RELAY_BUFFERS) || f->type != SOCK_STREAM || t->type != SOCK_STREAM ||
                       !r->splice_ok || (!p && ((f->flags & SOCK_RECV_ARMED) || f->rq_count > 0));
        if (!buffers)
                return relay_splice(r, from, to, timeout_ms);
        if (p && (relay_busy(p) || p->in_pipe > 0 || p->moved > 0))
                return -EBUSY; /* the splice relay still holds bytes: drain it first */
        return relay_buffers(r, from, to, timeout_ms);
}

ssize_t maio_relay(maio_ring *r, int from, int to, int timeout_ms) {
        return maio_relay_flags(r, from, to, 0, timeout_ms);
}

/* Cancels the POLL_ADD in front of a relay's splice (if it is still waiting; the hard link then
 * runs the splice, which returns at once) and the splice. */
static void relay_cancel(maio_ring *r, uint32_t op) {
        if (op == MAIO_NONE)
                return;
        uint64_t ud[2] = { RELAY_POLL_TAG + op, (uint64_t) op + 1 };
        for (int i = 0; i < 2; i++) {
                struct io_uring_sqe *sqe = ring_get_sqe(r);
                if (!sqe)
                        return;
                io_uring_prep_cancel64(sqe, ud[i], 0);
                io_uring_sqe_set_data64(sqe, UINT64_MAX);
        }
}

typedef struct relay_close_arg {
        int handle;
} relay_close_arg;

/* No relay from the handle has a splice in flight, and none to it a splice out. */
static bool relay_quiet(maio_ring *r, void *arg) {
        int h = ((relay_close_arg *) arg)->handle;
        for (uint32_t i = 0; i < r->socks_hwm; i++) {
                maio_relay_pipe *p = r->socks[i].relay;
                if (p && (((int) i == h && relay_busy(p)) || (p->to == h && p->out_op != MAIO_NONE)))
                        return false;
        }
        return true;
}

#define RELAY_CLOSE_MS 2000

void relay_close(maio_ring *r, int handle) {
        bool any = false;
        for (uint32_t i = 0; i < r->socks_hwm; i++) {
                maio_relay_pipe *p = r->socks[i].relay;
                if (!p || ((int) i != handle && p->to != handle))
                        continue;
                /* Stop re-arming, as if the way out had failed; the way in too when it is ours. */
                p->out_error = p->out_error ? p->out_error : -ECANCELED;
                if ((int) i == handle)
                        relay_cancel(r, p->in_op);
                relay_cancel(r, p->out_op);
                any = true;
        }
        if (!any)
                return;
        relay_close_arg a = { .handle = handle };
        (void) ring_wait_until(r, relay_quiet, &a, RELAY_CLOSE_MS);
        for (uint32_t i = 0; i < r->socks_hwm; i++) {
                maio_relay_pipe *p = r->socks[i].relay;
                if (!p)
                        continue;
                if ((int) i == handle) {
                        /* A splice the kernel never answered finds no relay when it completes. */
                        if (p->in_op != MAIO_NONE)
                                r->ops[p->in_op].handle = -1;
                        if (p->out_op != MAIO_NONE)
                                r->ops[p->out_op].handle = -1;
                        relay_pipe_free(p);
                        r->socks[i].relay = NULL;
                } else if (p->to == handle) {
                        if (p->out_op != MAIO_NONE)
                                r->ops[p->out_op].handle = -1; /* never answered: see above */
                        p->out_op = MAIO_NONE;
                        /* Bytes still in the pipe had nowhere to go: the relay reports it. */
                        if (p->out_error == -ECANCELED)
                                p->out_error = p->in_pipe > 0 ? -EPIPE : 0;
                        p->to = -1;
                        p->out_poll = false;
                }
        }
}
