/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Sends: zero-copy from registered pool buffers (SEND_ZC fixed; the buffer is the kernel's until
 * the notification CQE), plain SEND below the crossover size, and the staging copy for memory
 * outside the pool. On a stream handle sends go out as linked chains, one chain in flight at a
 * time: io_uring would otherwise let a send that had to wait be overtaken by a later one. On a
 * datagram handle they go out unlinked, as many as the op table holds: UDP promises no order, and
 * a chain would make the application wait for its last send before the next one could start. */

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "maio-internal.h"

#ifndef IORING_SEND_ZC_REPORT_USAGE
#define IORING_SEND_ZC_REPORT_USAGE (1U << 3) /* kernel 6.2; liburing 2.3 lacks the name */
#endif
#ifndef IORING_NOTIF_USAGE_ZC_COPIED
#define IORING_NOTIF_USAGE_ZC_COPIED (1U << 31)
#endif

#define SEND_CHAIN_MAX 32u

/* On a path where the kernel copies zero-copy pages anyway (loopback, a veth into a local
 * stack: the notification says IORING_NOTIF_USAGE_ZC_COPIED), SEND_ZC only costs: the buffer is
 * held until the data is acknowledged, and each fragment taken from a registered buffer in a
 * huge folio is charged to both sockets with its offset inside the folio, up to 2 MiB per
 * fragment (io_uring's io_sg_from_iter on 6.18). A few hundred KiB of data then fill a 32 MiB
 * receive buffer: the receiver drops and collapses segments and its window falls below one MSS
 * (the loopback stall of libmaio(3)). So each socket learns its path from its notifications:
 * its first eligible send is a zero-copy probe, sends copy until the probe's notification,
 * and a socket whose path copies sends plain SEND, with one probe every ZC_REPROBE_SENDS in
 * case the route changed. */
#define ZC_REPROBE_SENDS 1024u

/* On a path where the kernel does send from our pages, zero-copy may still cost more than the
 * copy it saves (zc-cost.h): in batch mode each socket measures both now and then, one socket of
 * the ring at a time, on the ring thread's CPU clock (the sends, the softirq work they trigger and
 * their completions all run inside its io_uring_enter). With a poller thread the size rule alone
 * decides: the poller's time is the process's, where its idle spinning and every other thread's
 * work drown the difference (measured: the judgments flipped between runs of one workload). */
static uint64_t send_cost_clock(void *userdata) {
        struct timespec ts;

        (void) userdata;
        if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
                return 0;
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

void send_cost_release(maio_ring *r, int handle) {
        maio_sock *s = &r->socks[handle];

        if (s->cost.measuring)
                zc_cost_abort(&s->cost);
        zc_turn_release(&r->cost_turn, handle);
}

/* A send of len bytes on the zero-copy path: SEND_ZC unless the socket's measurement says
 * copying is cheaper there (or is timing the copy now). */
static bool send_cost_use_zc(maio_ring *r, int handle, maio_sock *s, size_t len) {
        if (r->sqpoll || (r->flags & MAIO_RING_ZC_BY_SIZE))
                return true;
        int lapsed;
        bool may = zc_turn_may(&r->cost_turn, handle, len, &lapsed);
        if (lapsed >= 0)
                send_cost_release(r, lapsed);
        unsigned out = zc_cost_next(&s->cost, len, may, send_cost_clock, r);
        if (out & ZC_COST_STARTED)
                zc_turn_take(&r->cost_turn, handle);
        if (out & ZC_COST_JUDGED) {
                zc_turn_release(&r->cost_turn, handle);
                r->mode.zc_judgments++;
                if (!s->cost.zc)
                        r->mode.zc_judged_copy++;
                r->mode.zc_ns_per_kib[0] = s->cost.last_ns_per_kib[0];
                r->mode.zc_ns_per_kib[1] = s->cost.last_ns_per_kib[1];
        }
        return out & ZC_COST_USE_ZC;
}

/* Hands the buffer back to whoever owns it next and frees the op. */
static void send_finish(maio_ring *r, uint32_t i) {
        maio_op *op = &r->ops[i];
        maio_sock *s = op->handle >= 0 ? &r->socks[op->handle] : NULL;

        if (op->flags & SEND_RECYCLE)
                recv_recycle(r, op->buf);
        else if (op->flags & SEND_FREE)
                (void) alloc_release(r->pool, op->buf, MAIO_BUF_INFLIGHT);
        else
                (void) alloc_transition(r->pool, op->buf, MAIO_BUF_INFLIGHT, MAIO_BUF_APP);
        if (s && s->pending > 0)
                s->pending--;
        ring_op_put(r, i);
}

void send_abandon(maio_ring *r, uint32_t i) {
        r->ops[i].handle = -1;
        send_finish(r, i);
}

void send_fail_queued(maio_ring *r, int handle) {
        maio_sock *s = &r->socks[handle];
        while (s->q_head != MAIO_NONE) {
                uint32_t i = s->q_head;
                s->q_head = r->ops[i].next;
                send_finish(r, i);
        }
        s->q_tail = MAIO_NONE;
}

/* Records the first real error of the handle; -ECANCELED is only the rest of a broken chain. */
static void send_record_error(maio_sock *s, int err) {
        if (s->error == 0 || s->error == -ECANCELED)
                s->error = err;
}

void send_complete(maio_ring *r, uint32_t i, const struct io_uring_cqe *cqe) {
        maio_op *op = &r->ops[i];
        maio_sock *s = op->handle >= 0 ? &r->socks[op->handle] : NULL;

        if (s)
                s->send_cqes++;
        if (cqe->flags & IORING_CQE_F_NOTIF) {
                bool copied = (uint32_t) cqe->res & IORING_NOTIF_USAGE_ZC_COPIED;
                r->st.zc_notifications++;
                if (copied)
                        r->st.zc_copied++;
                if (s) {
                        s->zc_path = copied ? ZC_PATH_COPIES : ZC_PATH_ZC;
                        if (copied)
                                send_cost_release(r, op->handle);
                }
                op->flags &= (uint16_t) ~SEND_WAIT_NOTIF;
        } else {
                op->flags |= SEND_GOT_RESULT;
                if (cqe->flags & IORING_CQE_F_MORE)
                        op->flags |= SEND_WAIT_NOTIF;
                else if ((op->flags & SEND_ZC) && s && s->zc_path == ZC_PATH_PROBING)
                        s->zc_path = ZC_PATH_UNKNOWN; /* no notification will judge this probe */
                op->res = cqe->res;
                if (cqe->res >= 0 && (uint32_t) cqe->res == op->len) {
                        r->st.sends++;
                        r->st.bytes_sent += op->len;
                        if (op->flags & SEND_ZC)
                                r->st.sends_zc++;
                        else
                                r->st.sends_copy++;
                } else if (s)
                        /* A short send cannot be retried in order behind the rest of the chain:
                         * the stream is broken either way. */
                        send_record_error(s, cqe->res < 0 ? cqe->res : -EIO);
                if (s && s->inflight > 0) {
                        s->inflight--;
                        if (s->error && s->inflight == 0)
                                send_fail_queued(r, op->handle);
                        else if (!s->error)
                                send_kick(r, op->handle);
                }
        }
        if ((op->flags & SEND_GOT_RESULT) && !(op->flags & SEND_WAIT_NOTIF))
                send_finish(r, i);
}

/* Whether an eligible send of len bytes on handle goes zero-copy (see ZC_REPROBE_SENDS and
 * send_cost_use_zc). */
static bool send_use_zc(maio_ring *r, int handle, maio_sock *s, size_t len) {
        switch ((maio_zc_path) s->zc_path) {
        case ZC_PATH_ZC:
                return send_cost_use_zc(r, handle, s, len);
        case ZC_PATH_UNKNOWN:
                s->zc_path = ZC_PATH_PROBING;
                return true;
        case ZC_PATH_PROBING:
                return false;
        case ZC_PATH_COPIES:
                if (++s->zc_copy_sends < ZC_REPROBE_SENDS)
                        return false;
                s->zc_copy_sends = 0;
                s->zc_path = ZC_PATH_PROBING;
                return true;
        }
        return false;
}

static void send_prep(maio_ring *r, int handle, uint32_t i, struct io_uring_sqe *sqe) {
        maio_sock *s = &r->socks[handle];
        maio_op *op = &r->ops[i];
        int msg = MSG_NOSIGNAL | (s->type == SOCK_STREAM ? MSG_WAITALL : 0) |
                  ((op->flags & SEND_MSG_MORE) ? MSG_MORE : 0);
        if (r->zc_ok && op->len >= r->zc_threshold && send_use_zc(r, handle, s, op->len)) {
                size_t base_len;
                uint8_t *base = maio_pool_base(r->pool, &base_len);
                unsigned idx = (unsigned) (((uint8_t *) op->buf - base) >> 30);
                io_uring_prep_send_zc_fixed(sqe, s->fd, op->buf, op->len, msg, IORING_SEND_ZC_REPORT_USAGE, idx);
                op->flags |= SEND_ZC;
        } else
                io_uring_prep_send(sqe, s->fd, op->buf, op->len, msg);
        op->res = 0;
        io_uring_sqe_set_data64(sqe, (uint64_t) i + 1);
}

void send_kick(maio_ring *r, int handle) {
        maio_sock *s = &r->socks[handle];
        struct io_uring_sqe *last = NULL;
        bool stream = s->type == SOCK_STREAM;

        if ((stream && s->inflight > 0) || s->q_head == MAIO_NONE || s->fd < 0)
                return;
        /* A poller shared by several rings submits at most 8 SQEs per ring per pass, which can
         * split a chain into pieces that then race: one send at a time there. */
        uint32_t chain_max = !stream ? UINT32_MAX : r->poller_shared ? 1 : SEND_CHAIN_MAX;
        uint32_t started = 0;
        while (s->q_head != MAIO_NONE && started < chain_max) {
                struct io_uring_sqe *sqe = io_uring_get_sqe(&r->uring);
                if (!sqe && !r->sqpoll) {
                        /* Batch mode: a full SQ is a full batch; it goes out, the chain goes on. */
                        (void) ring_submit(r);
                        sqe = io_uring_get_sqe(&r->uring);
                }
                if (!sqe) {
                        /* The SQ is full: what is prepared goes out (a shorter chain); the rest
                         * is kicked when a send completes. */
                        r->st.ring_full++;
                        break;
                }
                uint32_t i = s->q_head;
                s->q_head = r->ops[i].next;
                if (s->q_head == MAIO_NONE)
                        s->q_tail = MAIO_NONE;
                send_prep(r, handle, i, sqe);
                if (last)
                        last->flags |= IOSQE_IO_LINK;
                if (stream)
                        last = sqe;
                s->inflight++;
                started++;
        }
        if (s->inflight == 0) {
                /* Nothing could be prepared and nothing is in flight to kick us later. */
                (void) ring_submit(r);
                if (r->sqpoll)
                        (void) io_uring_sqring_wait(&r->uring);
                if (io_uring_sq_space_left(&r->uring) > 0)
                        send_kick(r, handle);
                else
                        r->kick_pending = true;
        }
}

/* A stream send waiting for write space can miss the wakeup (the watchdog in maio-internal.h).
 * Sends in flight and no send CQE since the last look: re-setting TCP_NOTSENT_LOWAT to its own
 * value makes TCP signal write space again (sk_write_space), which wakes only a send that can
 * go; a peer that is merely slow is not disturbed. */
void send_check_stall(maio_ring *r, maio_sock *s) {
        int lowat = 0;
        socklen_t len = sizeof(lowat);
        bool quiet = s->send_cqes == s->send_cqes_seen;
        s->send_cqes_seen = s->send_cqes;
        if (!quiet || s->type != SOCK_STREAM || s->inflight == 0 || s->fd < 0)
                return;
        if (getsockopt(s->fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, &len) == 0 &&
            setsockopt(s->fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof(lowat)) == 0)
                r->st.send_kicks++;
}

int send_queue_buf(maio_ring *r, int handle, void *buf, size_t len, uint16_t flags) {
        maio_sock *s = ring_sock(r, handle);
        uint32_t i;
        if (!s)
                return -EBADF;
        if (s->error)
                return s->error;
        int k = ring_op_new(r, OP_SEND, handle, &i);
        if (k < 0)
                return k;
        maio_op *op = &r->ops[i];
        op->buf = buf;
        op->len = (uint32_t) len;
        op->flags = flags;
        op->res = 0;
        if (s->q_tail == MAIO_NONE)
                s->q_head = i;
        else
                r->ops[s->q_tail].next = i;
        s->q_tail = i;
        s->pending++;
        send_kick(r, handle);
        return 0;
}

int maio_send(maio_ring *r, int handle, void *buf, size_t len, unsigned flags) {
        size_t size;
        if (!r || !ring_sock(r, handle))
                return -EBADF;
        if (ring_owner_check(r) < 0)
                return -EEXIST;
        if (len == 0 || alloc_size(r->pool, buf, &size) < 0 || len > size)
                return -EINVAL;
        int k = alloc_transition(r->pool, buf, MAIO_BUF_APP, MAIO_BUF_INFLIGHT);
        if (k < 0)
                return -EINVAL;
        k = send_queue_buf(r, handle, buf, len,
                           (uint16_t) (((flags & MAIO_SEND_FREE) ? SEND_FREE : 0) |
                                       ((flags & MAIO_SEND_MORE) ? SEND_MSG_MORE : 0)));
        if (k < 0) {
                (void) alloc_transition(r->pool, buf, MAIO_BUF_INFLIGHT, MAIO_BUF_APP);
                return k;
        }
        (void) ring_submit_sends(r);
        return 0;
}

int maio_send_copy(maio_ring *r, int handle, const void *data, size_t len) {
        maio_sock *s;
        if (!r || !(s = ring_sock(r, handle)))
                return -EBADF;
        if (ring_owner_check(r) < 0)
                return -EEXIST;
        if (len == 0 || !data)
                return -EINVAL;
        if (s->error)
                return s->error;
        size_t n = (len + MAIO_CHUNK_SIZE - 1) / MAIO_CHUNK_SIZE;
        if (n > r->nops - r->ops_used) {
                r->st.ring_full++;
                return -EBUSY;
        }
        void *stack[16], **bufs = n <= 16 ? stack : calloc(n, sizeof(void *));
        if (!bufs)
                return -ENOMEM;
        /* Everything is allocated before anything is queued, so exhaustion leaves no trace. */
        size_t got = 0;
        int k = 0;
        for (; got < n; got++) {
                size_t piece = got + 1 < n ? MAIO_CHUNK_SIZE : len - got * MAIO_CHUNK_SIZE;
                k = alloc_buf(r->pool, piece, MAIO_BUF_INFLIGHT, &bufs[got]);
                if (k < 0)
                        break;
        }
        if (k < 0) {
                while (got-- > 0)
                        (void) alloc_release(r->pool, bufs[got], MAIO_BUF_INFLIGHT);
        } else {
                for (size_t i = 0; i < n; i++) {
                        size_t piece = i + 1 < n ? MAIO_CHUNK_SIZE : len - i * MAIO_CHUNK_SIZE;
                        memcpy(bufs[i], (const uint8_t *) data + i * MAIO_CHUNK_SIZE, piece);
                        /* Cannot fail: op slots were counted and the handle is healthy. */
                        (void) send_queue_buf(r, handle, bufs[i], piece, SEND_FREE);
                        r->st.copies++;
                        r->st.bytes_copied += piece;
                }
                (void) ring_submit_sends(r);
        }
        if (bufs != stack)
                free(bufs);
        return k;
}

int maio_send_pending(maio_ring *r, int handle) {
        maio_sock *s = r ? ring_sock(r, handle) : NULL;
        return s ? (int) s->pending : -EBADF;
}

static bool send_flushed(maio_ring *r, void *arg) {
        maio_sock *s = &r->socks[*(int *) arg];
        return s->pending == 0 || !(s->flags & SOCK_OPEN);
}

int maio_flush(maio_ring *r, int handle, int timeout_ms) {
        maio_sock *s = r ? ring_sock(r, handle) : NULL;
        if (!s)
                return -EBADF;
        int k = ring_wait_until(r, send_flushed, &handle, timeout_ms);
        if (k < 0)
                return k;
        return s->error;
}
