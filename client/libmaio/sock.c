/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Socket handles: small integers (the paper's idx) into the ring's table of file descriptors.
 * socket, connect, accept and close go through the ring (IORING_OP_SOCKET/CONNECT/ACCEPT/CLOSE);
 * bind and listen are plain syscalls because liburing 2.3 has no prep helpers for them. */

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "maio-internal.h"

#define CLOSE_DRAIN_MS 2000

static int sock_slot(maio_ring *r) {
        for (uint32_t h = 0; h < r->nsocks; h++)
                if (!(r->socks[h].flags & SOCK_OPEN) && r->socks[h].fd < 0)
                        return (int) h;
        return -EMFILE;
}

/* Takes ownership of fd. Returns the handle or -errno (fd closed). */
static int sock_add(maio_ring *r, int fd, int type) {
        int h = sock_slot(r);
        if (h < 0) {
                close(fd);
                return h;
        }
        maio_sock *s = &r->socks[h];
        uint32_t *rq = s->rq, *rq_len = s->rq_len; /* kept across reuse */
        *s = (maio_sock) { .fd = fd,
                           .type = type,
                           .flags = SOCK_OPEN,
                           .q_head = MAIO_NONE,
                           .q_tail = MAIO_NONE,
                           .recv_op = MAIO_NONE,
                           .rq = rq,
                           .rq_len = rq_len };
        zc_cost_init(&s->cost);
        if ((uint32_t) h >= r->socks_hwm)
                r->socks_hwm = (uint32_t) h + 1;
        return h;
}

/* Runs one synchronous ring operation prepared by prep. Returns its result or -errno. */
static int sock_sync(maio_ring *r, int timeout_ms, void (*prep)(struct io_uring_sqe *sqe, void *arg), void *arg) {
        uint32_t op;
        int k = ring_op_new(r, OP_SYNC, -1, &op);
        if (k < 0)
                return k;
        struct io_uring_sqe *sqe = ring_get_sqe(r);
        if (!sqe) {
                ring_op_put(r, op);
                return -EBUSY;
        }
        prep(sqe, arg);
        io_uring_sqe_set_data64(sqe, (uint64_t) op + 1);
        return ring_sync_wait(r, op, timeout_ms);
}

typedef struct sock_args {
        int fd, domain, type, flags;
        const struct sockaddr *sa;
        socklen_t len;
} sock_args;

static void prep_socket(struct io_uring_sqe *sqe, void *arg) {
        sock_args *a = arg;
        io_uring_prep_socket(sqe, a->domain, a->type | SOCK_CLOEXEC, 0, 0);
}

static void prep_connect(struct io_uring_sqe *sqe, void *arg) {
        sock_args *a = arg;
        io_uring_prep_connect(sqe, a->fd, a->sa, a->len);
}

static void prep_accept(struct io_uring_sqe *sqe, void *arg) {
        sock_args *a = arg;
        io_uring_prep_accept(sqe, a->fd, NULL, NULL, SOCK_CLOEXEC);
}

static void prep_close(struct io_uring_sqe *sqe, void *arg) {
        sock_args *a = arg;
        io_uring_prep_close(sqe, a->fd);
}

static void prep_cancel_fd(struct io_uring_sqe *sqe, void *arg) {
        sock_args *a = arg;
        io_uring_prep_cancel_fd(sqe, a->fd, IORING_ASYNC_CANCEL_ALL);
}

static int sock_new_fd(maio_ring *r, int family, int type) {
        if (type != SOCK_STREAM && type != SOCK_DGRAM)
                return -EINVAL;
        sock_args a = { .domain = family, .type = type };
        return sock_sync(r, -1, prep_socket, &a);
}

static int sock_close_fd(maio_ring *r, int fd) {
        sock_args a = { .fd = fd };
        int k = sock_sync(r, -1, prep_close, &a);
        if (k == -EBUSY || k == -EINVAL)
                /* No SQE to be had, or a kernel without IORING_OP_CLOSE: the fd must still go. */
                k = close(fd) < 0 ? -errno : 0;
        return k;
}

int maio_connect_handle(maio_ring *r, int handle, const struct sockaddr *peer, socklen_t len, int timeout_ms) {
        maio_sock *s = r ? ring_sock(r, handle) : NULL;
        if (!s)
                return -EBADF;
        if (!peer)
                return -EINVAL;
        sock_args a = { .fd = s->fd, .sa = peer, .len = len };
        int k = sock_sync(r, timeout_ms, prep_connect, &a);
        return k < 0 ? k : 0;
}

int maio_connect(maio_ring *r, int type, const struct sockaddr *peer, socklen_t len, int timeout_ms) {
        if (!r || !peer)
                return -EINVAL;
        int fd = sock_new_fd(r, peer->sa_family, type);
        if (fd < 0)
                return fd;
        int h = sock_add(r, fd, type);
        if (h < 0)
                return h;
        int k = maio_connect_handle(r, h, peer, len, timeout_ms);
        if (k < 0) {
                (void) maio_close(r, h);
                return k;
        }
        return h;
}

int maio_listen(maio_ring *r, int type, const struct sockaddr *local, socklen_t len, int backlog) {
        if (!r || !local)
                return -EINVAL;
        int fd = sock_new_fd(r, local->sa_family, type);
        if (fd < 0)
                return fd;
        int one = 1, k = 0;
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 || bind(fd, local, len) < 0 ||
            (type == SOCK_STREAM && listen(fd, backlog > 0 ? backlog : 128) < 0))
                k = -errno;
        if (k < 0) {
                close(fd);
                return k;
        }
        return sock_add(r, fd, type);
}

int maio_accept(maio_ring *r, int listen_handle, int timeout_ms) {
        maio_sock *s = r ? ring_sock(r, listen_handle) : NULL;
        if (!s)
                return -EBADF;
        if (s->type != SOCK_STREAM)
                return -EOPNOTSUPP;
        /* A slot must exist before the kernel hands us a connection we could not hold. */
        int h = sock_slot(r);
        if (h < 0)
                return h;
        sock_args a = { .fd = s->fd };
        int fd = sock_sync(r, timeout_ms, prep_accept, &a);
        if (fd < 0)
                return fd;
        return sock_add(r, fd, SOCK_STREAM);
}

int maio_fd(maio_ring *r, int handle) {
        maio_sock *s = r ? ring_sock(r, handle) : NULL;
        return s ? s->fd : -EBADF;
}

int maio_socket_error(maio_ring *r, int handle) {
        maio_sock *s = r ? ring_sock(r, handle) : NULL;
        if (!s)
                return -EBADF;
        return s->error ? s->error : s->recv_error;
}

static bool sock_drained(maio_ring *r, void *arg) {
        maio_sock *s = arg;
        return s->pending == 0 && !(s->flags & SOCK_RECV_ARMED);
}

int maio_close(maio_ring *r, int handle) {
        maio_sock *s = r ? ring_sock(r, handle) : NULL;
        if (!s)
                return -EBADF;
        relay_close(r, handle);
        s->flags |= SOCK_CLOSING;
        if (s->error == 0)
                s->error = -ECANCELED;
        send_fail_queued(r, handle);

        /* Cancel the multishot receive and whatever send the kernel still holds; the
         * notifications of sends already on the wire still arrive and return their buffers. */
        if ((s->flags & SOCK_RECV_ARMED) || s->inflight > 0) {
                sock_args a = { .fd = s->fd };
                (void) sock_sync(r, -1, prep_cancel_fd, &a);
        }
        if (ring_wait_until(r, sock_drained, s, CLOSE_DRAIN_MS) < 0) {
                /* Late completions find no socket: their buffers still return to their owners. */
                for (uint32_t i = 0; i < r->nops; i++)
                        if (r->ops[i].kind != OP_FREE && r->ops[i].handle == handle)
                                r->ops[i].handle = -1;
        }
        recv_sock_reset(r, s);
        send_cost_release(r, handle);
        int fd = s->fd;
        s->flags = 0;
        int k = sock_close_fd(r, fd);
        s->fd = -1;
        return k;
}
