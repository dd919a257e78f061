/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The relay without user-space copies (libmaio(3), Relaying): each `from` handle gets a pipe, and
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

/* The pipe's largest capacity. A pipe starts at the kernel's default (64 KiB, 16 slots) and
 * grows fourfold each time a splice filled it, up to this: 1 MiB moved Fig. 4's stream with 0.84x
 * splice's cycles per byte where 256 KiB took 1.1-1.5x (docs/benchmarks.md), while idle relays
 * keep small pipes within the per-user pipe quota (fs.pipe-user-pages-soft, 64 MiB by default).
 * The kernel may refuse to grow one (fs.pipe-max-size, the quota): it keeps the size it has. */
#ifndef RELAY_PIPE_SIZE /* a build may try another (-DRELAY_PIPE_SIZE=...) */
#define RELAY_PIPE_SIZE (1024u * 1024u)
#endif

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

/* One step of a relay: [POLL_ADD(poll_fd, mask) ->] SPLICE(fd_in -> fd_out, len), hard-linked:
 * the splice runs whatever the poll returned (also when closing cancels it; non-blocking, the
 * splice finishes at once). */
typedef struct relay_chain {
        maio_op_kind kind;
        bool poll;
        int poll_fd;
        unsigned mask;
        int fd_in, fd_out;
        uint32_t len;
} relay_chain;

/* Queues the chain. Returns 0 with *ret the op, or -EBUSY (no op or SQE free: the next call
 * tries again). */
static int relay_queue(maio_ring *r, int from, const relay_chain *c, uint32_t *ret) {
        unsigned need = 1u + c->poll;
        if (io_uring_sq_space_left(&r->uring) < need) {
                (void) ring_submit(r);
                if (io_uring_sq_space_left(&r->uring) < need) {
                        r->st.ring_full++;
                        return -EBUSY;
                }
        }
        uint32_t i;
        int k = ring_op_new(r, c->kind, from, &i);
        if (k < 0)
                return k;
        r->ops[i].len = c->len;
        if (c->poll) {
                struct io_uring_sqe *sqe = io_uring_get_sqe(&r->uring);
                io_uring_prep_poll_add(sqe, c->poll_fd, c->mask);
                sqe->flags |= IOSQE_IO_HARDLINK | IOSQE_CQE_SKIP_SUCCESS;
                io_uring_sqe_set_data64(sqe, RELAY_POLL_TAG + i);
        }
        struct io_uring_sqe *sqe = io_uring_get_sqe(&r->uring);
        io_uring_prep_splice(sqe, c->fd_in, -1, c->fd_out, -1, c->len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        io_uring_sqe_set_data64(sqe, (uint64_t) i + 1);
        *ret = i;
        return 0;
}

/* Starts what can run: the next splice in (room in the pipe, no end or error yet) and the next
 * splice out (bytes in the pipe, and `to` has no buffer sends in flight that it could overtake).
 * The two ways run independently: the next piece comes in while the last one goes out. (Linking
 * the splice out behind the splice in, to save the round trip through the application, measured
 * the same within the noise: docs/benchmarks.md.) */
static void relay_arm(maio_ring *r, int from, maio_relay_pipe *p) {
        maio_sock *f = &r->socks[from], *t = p->to >= 0 ? &r->socks[p->to] : NULL;
        if (p->grow) {
                p->grow = false;
                uint32_t want = p->size * 4 < RELAY_PIPE_SIZE ? p->size * 4 : RELAY_PIPE_SIZE;
                int size = fcntl(p->wr, F_SETPIPE_SZ, (int) want);
                if (size > 0)
                        p->size = (uint32_t) size;
                else
                        p->grow_failed = true; /* the limits said no: keep this size */
        }
        bool out_ok = p->out_op == MAIO_NONE && p->out_error == 0 && t && t->pending == 0;
        if (p->in_op == MAIO_NONE && !p->eof && p->in_error == 0 && p->out_error == 0 && !p->in_blocked &&
            p->in_pipe < (int64_t) p->size) {
                relay_chain c = { .kind = OP_RELAY_IN,
                                  .poll = p->in_poll,
                                  .poll_fd = f->fd,
                                  .mask = POLLIN | POLLRDHUP,
                                  .fd_in = f->fd,
                                  .fd_out = p->wr,
                                  .len = (uint32_t) (p->size - p->in_pipe) };
                (void) relay_queue(r, from, &c, &p->in_op);
        }
        if (out_ok && p->in_pipe > 0) {
                relay_chain c = { .kind = OP_RELAY_OUT,
                                  .poll = p->out_poll,
                                  .poll_fd = t->fd,
                                  .mask = POLLOUT,
                                  .fd_in = p->rd,
                                  .fd_out = t->fd,
                                  .len = (uint32_t) p->in_pipe };
                (void) relay_queue(r, from, &c, &p->out_op);
        }
}

void relay_complete(maio_ring *r, uint32_t i, const struct io_uring_cqe *cqe) {
        maio_op *op = &r->ops[i];
        maio_sock *s = op->handle >= 0 ? &r->socks[op->handle] : NULL;
        maio_relay_pipe *p = s ? s->relay : NULL;
        int res = cqe->res;
        if (p && op->kind == OP_RELAY_IN) {
                p->in_op = MAIO_NONE;
                if (res > 0) {
                        p->in_pipe += res;
                        /* Less than asked: the socket is drained, wait for it next time. */
                        p->in_poll = (uint32_t) res < op->len;
                        /* It filled the pipe: a busy relay, give it a larger one. */
                        if (!p->in_poll && p->size < RELAY_PIPE_SIZE && !p->grow_failed)
                                p->grow = true;
                        r->st.bytes_received += (uint64_t) res;
                } else if (res == 0)
                        p->eof = true;
                else if (res == -EAGAIN) {
                        /* Nothing queued, or the pipe's slots are full (small segments). */
                        if (p->in_pipe > 0) {
                                p->in_blocked = true;
                                if (p->size < RELAY_PIPE_SIZE && !p->grow_failed)
                                        p->grow = true;
                        } else
                                p->in_poll = true;
                } else if (res != -ECANCELED && p->in_error == 0) {
                        p->in_error = res;
                        if (s->recv_error == 0)
                                s->recv_error = res;
                }
        } else if (p && op->kind == OP_RELAY_OUT) {
                p->out_op = MAIO_NONE;
                if (res > 0) {
                        p->in_pipe -= res;
                        p->moved += (uint64_t) res;
                        p->in_blocked = false;
                        p->out_poll = false;
                        r->st.bytes_sent += (uint64_t) res;
                } else if (res == -EAGAIN || res == 0)
                        p->out_poll = true; /* `to` is full */
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
                ssize_t n;
                relay_arm(r, from, p);
                if (relay_result(p, &n)) /* completions reaped by other calls count too */
                        return n;
                /* One call submits what relay_arm queued, reaps, and sleeps only when nothing
                 * was there (a syscall or two per round). */
                int64_t left = deadline == INT64_MAX ? -1 : deadline - ring_now_ms();
                if (left < 0 && deadline != INT64_MAX)
                        left = 0;
                int k = maio_ring_poll(r, left > INT32_MAX ? INT32_MAX : (int) left);
                if (k < 0 && k != -ETIMEDOUT)
                        return k;
                if (relay_result(p, &n))
                        return n;
                if (left == 0) {
                        relay_arm(r, from, p); /* what the completions allow, for the next call */
                        (void) ring_submit(r);
                        return timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
                }
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
         * IORING_OP_SPLICE, and while the handle's receive is started (by the application or an
         * earlier buffer relay: bytes may sit in receive buffers, and a splice would race the
         * multishot receive for the rest). */
        bool buffers = (flags & MAIO_RELAY_BUFFERS) || f->type != SOCK_STREAM || t->type != SOCK_STREAM ||
                       !r->splice_ok || (f->flags & SOCK_RECV_ARMED) || f->rq_count > 0;
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
