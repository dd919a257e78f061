/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One io_uring per application thread, in one of two modes (libmaio(3), RING MODES): SQPOLL, a
 * kernel poller on its own CPU (the paper's exception-less, bifurcated I/O), or batch, no poller
 * and one io_uring_enter per submitted batch (SINGLE_ISSUER|DEFER_TASKRUN). The pool registered
 * once as fixed buffers, an op table whose index is each SQE's user_data, and the completion loop
 * that reaps without syscalls while the poller is awake. */

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "maio-internal.h"
#include "time-util.h"

#define MAIO_REGION (1ull << 30)    /* the kernel's limit per registered iovec */
#define CANCEL_USER_DATA UINT64_MAX /* CQEs of our cancel requests: nothing to do */

static unsigned round_pow2(unsigned v) {
        unsigned p = 1;
        while (p < v)
                p <<= 1;
        return p;
}

int ring_op_new(maio_ring *r, maio_op_kind kind, int handle, uint32_t *ret) {
        int k = ring_owner_check(r);
        if (k < 0)
                return k;
        if (r->op_free == MAIO_NONE) {
                r->st.ring_full++;
                return -EBUSY;
        }
        uint32_t i = r->op_free;
        maio_op *op = &r->ops[i];
        r->op_free = op->next;
        *op = (maio_op) { .kind = (uint8_t) kind, .handle = handle, .next = MAIO_NONE };
        r->ops_used++;
        *ret = i;
        return 0;
}

void ring_op_put(maio_ring *r, uint32_t i) {
        r->ops[i] = (maio_op) { .kind = OP_FREE, .next = r->op_free };
        r->op_free = i;
        r->ops_used--;
}

maio_sock *ring_sock(maio_ring *r, int handle) {
        if (handle < 0 || (uint32_t) handle >= r->nsocks || !(r->socks[handle].flags & SOCK_OPEN))
                return NULL;
        return &r->socks[handle];
}

/* Restarts handles whose queued sends found no SQE earlier. */
static void ring_kick_all(maio_ring *r) {
        if (!r->kick_pending)
                return;
        r->kick_pending = false;
        for (uint32_t h = 0; h < r->nsocks; h++)
                if ((r->socks[h].flags & SOCK_OPEN) && r->socks[h].q_head != MAIO_NONE)
                        send_kick(r, (int) h);
}

int ring_submit(maio_ring *r) {
        if (io_uring_sq_ready(&r->uring) == 0)
                return 0;
        r->st.submits++;
        /* liburing enters the kernel only without SQPOLL or when the poller went to sleep. */
        if (!r->sqpoll || (IO_URING_READ_ONCE(*r->uring.sq.kflags) & IORING_SQ_NEED_WAKEUP))
                r->st.submit_syscalls++;
        if (r->batch_events) {
                /* The same enter runs the deferred completions (GETEVENTS): no second syscall. */
                int k = io_uring_submit_and_get_events(&r->uring);
                if (k >= 0)
                        r->events_fresh = true;
                return k < 0 ? k : 0;
        }
        int k = io_uring_submit(&r->uring);
        return k < 0 ? k : 0;
}

int ring_submit_sends(maio_ring *r) {
        /* SQPOLL: publishing the SQEs is the submission (a syscall only to wake the poller).
         * Batch: an enter per send would be a syscall per send; they wait for a batch or the
         * application's next poll or wait, which submit whatever is queued. */
        if (!r->sqpoll && io_uring_sq_ready(&r->uring) < RING_SEND_BATCH)
                return 0;
        return ring_submit(r);
}

/* DEFER_TASKRUN: completions are posted only while the ring's thread is in io_uring_enter with
 * GETEVENTS. Enters once when nothing is in the CQ and no enter ran them since the last reap. */
static void ring_get_events(maio_ring *r) {
        if (!r->batch_events || r->events_fresh || io_uring_cq_ready(&r->uring) > 0)
                return;
        r->mode.event_syscalls++;
        (void) io_uring_get_events(&r->uring);
        r->events_fresh = true;
}

struct io_uring_sqe *ring_get_sqe(maio_ring *r) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&r->uring);
        if (sqe)
                return sqe;
        (void) ring_submit(r);
        if (r->sqpoll)
                (void) io_uring_sqring_wait(&r->uring);
        sqe = io_uring_get_sqe(&r->uring);
        if (!sqe)
                r->st.ring_full++;
        return sqe;
}

static void ring_dispatch(maio_ring *r, const struct io_uring_cqe *cqe) {
        if (cqe->user_data == CANCEL_USER_DATA || cqe->user_data == 0 || cqe->user_data > r->nops)
                return;
        uint32_t i = (uint32_t) (cqe->user_data - 1);
        maio_op *op = &r->ops[i];
        switch ((maio_op_kind) op->kind) {
        case OP_SYNC:
                op->res = cqe->res;
                op->done = 1;
                break;
        case OP_SEND:
                send_complete(r, i, cqe);
                break;
        case OP_RECV:
                recv_complete(r, i, cqe);
                break;
        case OP_RELAY_IN:
        case OP_RELAY_OUT:
                relay_complete(r, i, cqe);
                break;
        case OP_FREE:
                break;
        }
}

/* Processes every CQE that is there, returning the CQ slots once per batch (each head update
 * is a cache line the poller reads). Dispatching never reaps, so the batch cannot be re-entered.
 * No syscall unless liburing must flush an overflowed CQ. */
static int ring_reap(maio_ring *r) {
        struct io_uring_cqe *cqe;
        int n = 0;
        ring_get_events(r);
        r->events_fresh = false;
        while (io_uring_peek_cqe(&r->uring, &cqe) == 0) {
                unsigned head, seen = 0;
                io_uring_for_each_cqe(&r->uring, head, cqe) {
                        ring_dispatch(r, cqe);
                        seen++;
                }
                io_uring_cq_advance(&r->uring, seen);
                n += (int) seen;
        }
        return n;
}

int64_t ring_now_ms(void) {
        return (int64_t) (now_usec(CLOCK_MONOTONIC) / 1000);
}

/* Sleeps in the kernel for the next CQE, at most ms (-1: no limit). 0, -ETIMEDOUT, or -errno.
 * (Waiting for a batch of send CQEs instead, io_uring_wait_cqes with a bound, was measured:
 * no gain for small datagrams and twice the relay's CPU per byte; docs/benchmarks.md.) */
static int ring_sleep(maio_ring *r, int ms) {
        struct io_uring_cqe *cqe;
        struct __kernel_timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long long) (ms % 1000) * 1000000 };
        r->st.wait_syscalls++;
        /* Enters with GETEVENTS (also in batch mode: the deferred completions run here). */
        int k = io_uring_wait_cqe_timeout(&r->uring, &cqe, ms < 0 ? NULL : &ts);
        if (k == -ETIME || k == -EINTR)
                return -ETIMEDOUT;
        return k < 0 ? k : 0;
}

/* Checks every socket for a stalled request and restarts sends that found the SQ full, at most
 * every RING_WATCH_MS. */
static void ring_watchdog(maio_ring *r) {
        int64_t now = ring_now_ms();
        if (now - r->watch_ms < RING_WATCH_MS)
                return;
        r->watch_ms = now;
        for (uint32_t h = 0; h < r->socks_hwm; h++) {
                maio_sock *s = &r->socks[h];
                if (!(s->flags & SOCK_OPEN))
                        continue;
                recv_check_stall(r, s, now);
                send_check_stall(r, s);
        }
        ring_kick_all(r);
        (void) ring_submit(r);
}

/* ring_sleep in slices of RING_WATCH_MS with the watchdog between them, until a CQE is ready
 * or ms (-1: no limit) have passed. 0, -ETIMEDOUT, or -errno. */
static int ring_sleep_watched(maio_ring *r, int ms) {
        int64_t deadline = ms < 0 ? INT64_MAX : ring_now_ms() + ms;
        for (;;) {
                int64_t left = deadline == INT64_MAX ? RING_WATCH_MS : deadline - ring_now_ms();
                if (left <= 0)
                        return -ETIMEDOUT;
                int k = ring_sleep(r, left < RING_WATCH_MS ? (int) left : RING_WATCH_MS);
                if (k != -ETIMEDOUT || io_uring_cq_ready(&r->uring) > 0)
                        return k == -ETIMEDOUT ? 0 : k;
                ring_watchdog(r);
        }
}

int maio_ring_poll(maio_ring *r, int timeout_ms) {
        if (!r)
                return -EINVAL;
        if (ring_owner_check(r) < 0)
                return -EEXIST;
        /* An enter before this call ran only what was due then; but a call that may wait need
         * not enter just to run the deferred completions: if none are posted it sleeps, and the
         * wait's enter runs them and returns at once when they post something (one syscall a
         * round, not two: the relay's application-core cost, docs/benchmarks.md). */
        r->events_fresh = timeout_ms != 0;
        ring_kick_all(r);
        int k = ring_submit(r);
        if (k < 0)
                return k;
        int n = ring_reap(r);
        if (n == 0 && timeout_ms != 0) {
                k = ring_sleep_watched(r, timeout_ms);
                if (k < 0 && k != -ETIMEDOUT)
                        return k;
                n = ring_reap(r);
        }
        if (n == 0)
                ring_watchdog(r); /* also for callers that spin with timeout 0 */
        (void) ring_submit(r);
        return n;
}

int ring_wait_until(maio_ring *r, bool (*cond)(maio_ring *r, void *arg), void *arg, int timeout_ms) {
        if (ring_owner_check(r) < 0)
                return -EEXIST;
        int64_t deadline = timeout_ms < 0 ? INT64_MAX : ring_now_ms() + timeout_ms;
        r->events_fresh = false; /* an enter before this call ran only what was due then */
        for (;;) {
                ring_kick_all(r);
                int k = ring_submit(r);
                if (k < 0)
                        return k;
                ring_reap(r);
                /* Completions may have prepared SQEs (the next chain of a handle): publish
                 * them before returning or sleeping, or they wait for the next call. */
                k = ring_submit(r);
                if (k < 0)
                        return k;
                if (cond(r, arg))
                        return 0;
                int64_t left = deadline == INT64_MAX ? -1 : deadline - ring_now_ms();
                if (deadline != INT64_MAX && left <= 0)
                        return timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
                k = ring_sleep_watched(r, left < 0 || left > INT32_MAX ? -1 : (int) left);
                if (k < 0 && k != -ETIMEDOUT)
                        return k;
        }
}

static bool ring_op_done(maio_ring *r, void *arg) {
        return r->ops[*(uint32_t *) arg].done;
}

int ring_sync_wait(maio_ring *r, uint32_t op, int timeout_ms) {
        int k = ring_wait_until(r, ring_op_done, &op, timeout_ms);
        if (k == -ETIMEDOUT || k == -EAGAIN) {
                struct io_uring_sqe *sqe = ring_get_sqe(r);
                if (sqe) {
                        io_uring_prep_cancel64(sqe, (uint64_t) op + 1, 0);
                        io_uring_sqe_set_data64(sqe, CANCEL_USER_DATA);
                }
                /* The op completes either way (cancelled or done meanwhile): keep its result if it
                 * won the race, e.g. an accepted connection. */
                k = ring_wait_until(r, ring_op_done, &op, -1);
                if (k >= 0)
                        k = r->ops[op].res == -ECANCELED ? -ETIMEDOUT : 0;
        }
        if (k >= 0)
                k = r->ops[op].res;
        ring_op_put(r, op);
        return k;
}

static int ring_register_pool(maio_ring *r) {
        size_t size;
        uint8_t *base = maio_pool_base(r->pool, &size);
        unsigned n = (unsigned) ((size + MAIO_REGION - 1) / MAIO_REGION);
        _cleanup_free_ struct iovec *iov = calloc(n, sizeof(*iov));
        if (!iov)
                return -ENOMEM;
        for (unsigned i = 0; i < n; i++) {
                iov[i].iov_base = base + (size_t) i * MAIO_REGION;
                iov[i].iov_len =
                        size - (size_t) i * MAIO_REGION < MAIO_REGION ? size - (size_t) i * MAIO_REGION : MAIO_REGION;
        }
        int k = io_uring_register_buffers(&r->uring, iov, n);
        if (k < 0)
                return k;
        r->nregions = n;
        return 0;
}

static void ring_probe_zc(maio_ring *r) {
        struct io_uring_probe *probe = io_uring_get_probe_ring(&r->uring);
        if (!probe) {
                r->zc_probe_error = -ENOMEM;
                return;
        }
        r->splice_ok = io_uring_opcode_supported(probe, IORING_OP_SPLICE) &&
                       io_uring_opcode_supported(probe, IORING_OP_POLL_ADD);
        if (io_uring_opcode_supported(probe, IORING_OP_SEND_ZC))
                r->zc_ok = !(r->flags & MAIO_RING_NO_ZC);
        else
                r->zc_probe_error = -EOPNOTSUPP;
        io_uring_free_probe(probe);
}

/* MAIO_RING_MODE: 0 and *ret (AUTO when unset or empty), or -EINVAL (said on stderr once). */
static int ring_mode_from_env(maio_ring_mode *ret) {
        static atomic_bool said;
        const char *e = getenv("MAIO_RING_MODE");
        *ret = MAIO_RING_MODE_AUTO;
        if (!e || !*e || strcmp(e, "auto") == 0)
                return 0;
        if (strcmp(e, "sqpoll") == 0)
                *ret = MAIO_RING_MODE_SQPOLL;
        else if (strcmp(e, "batch") == 0)
                *ret = MAIO_RING_MODE_BATCH;
        else {
                if (!atomic_exchange(&said, true))
                        fprintf(stderr, "libmaio: MAIO_RING_MODE=%.32s is invalid (expected sqpoll, batch or auto)\n",
                                e);
                return -EINVAL;
        }
        return 0;
}

#define reason_set(r, ...) snprintf((r)->mode_reason, sizeof((r)->mode_reason), __VA_ARGS__)

/* Decides the mode and the poller CPU (-1 unpinned or none); takes the pool's granted CPU when
 * it is the one used. Returns 0 or -EINVAL. */
static int ring_choose(maio_ring *r, const maio_ring_config *cfg, int *ret_cpu) {
        maio_ring_mode_info *m = &r->mode;
        maio_pool *p = r->pool;
        bool want_sq = cfg->flags & MAIO_RING_SQPOLL, want_batch = cfg->flags & MAIO_RING_BATCH;
        bool attach = cfg->attach_to && cfg->attach_to->sqpoll;
        maio_ring_mode env;

        if (want_sq && want_batch)
                return -EINVAL;
        int k = ring_mode_from_env(&env);
        if (want_sq || want_batch) {
                m->asked = want_sq ? MAIO_RING_MODE_SQPOLL : MAIO_RING_MODE_BATCH;
                m->source = "application";
        } else {
                if (k < 0)
                        return k;
                m->asked = env;
                m->source = env == MAIO_RING_MODE_AUTO ? "auto" : "MAIO_RING_MODE";
        }
        *ret_cpu = -1;
        if (m->asked == MAIO_RING_MODE_BATCH) {
                m->mode = MAIO_RING_MODE_BATCH;
                reason_set(r, "%s asked for batch", m->source);
                return 0;
        }
        m->mode = MAIO_RING_MODE_SQPOLL;
        const char *who = m->asked == MAIO_RING_MODE_AUTO ? "auto" : m->source;
        if (attach) {
                reason_set(r, "%s: shares the poller of the attach_to ring", who);
                return 0;
        }
        if (cfg->sq_thread_cpu >= 0) {
                *ret_cpu = cfg->sq_thread_cpu;
                reason_set(r, "%s: the application configured poller CPU %d", who, cfg->sq_thread_cpu);
                return 0;
        }
        if (p->poller_cpu >= 0 && !atomic_exchange(&p->poller_taken, true)) {
                r->holds_poller = true;
                m->poller_granted = true;
                *ret_cpu = p->poller_cpu;
                reason_set(r, "%s: maiod granted poller CPU %d", who, p->poller_cpu);
                return 0;
        }
        const char *why = p->poller_cpu >= 0    ? "the granted poller CPU is used by another ring of this pool"
                          : p->poller_reason[0] ? p->poller_reason
                                                : "no poller CPU";
        if (m->asked == MAIO_RING_MODE_SQPOLL) {
                reason_set(r, "%s asked for sqpoll; the poller is unpinned (%s)", m->source, why);
                return 0;
        }
        m->mode = MAIO_RING_MODE_BATCH;
        reason_set(r, "auto: no poller CPU (%s)", why);
        return 0;
}

/* Batch: SINGLE_ISSUER|DEFER_TASKRUN (6.1), else COOP_TASKRUN (5.19), else neither. */
static int ring_setup_batch(maio_ring *r, unsigned entries, unsigned cq) {
        static const unsigned tries[] = {
                IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
                IORING_SETUP_COOP_TASKRUN,
                0,
        };
        int k = -EINVAL;
        for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
                struct io_uring_params p = { .flags = IORING_SETUP_CQSIZE | tries[i], .cq_entries = cq };
                k = io_uring_queue_init_params(entries, &r->uring, &p);
                if (k == 0) {
                        r->mode.setup_flags = p.flags;
                        r->batch_events = p.flags & IORING_SETUP_DEFER_TASKRUN;
                        r->single_issuer = p.flags & IORING_SETUP_SINGLE_ISSUER;
                        r->owner = pthread_self();
                        if (i > 0) {
                                size_t n = strlen(r->mode_reason);
                                snprintf(r->mode_reason + n, sizeof(r->mode_reason) - n, "; the kernel refused %s",
                                         i == 1 ? "DEFER_TASKRUN" : "COOP_TASKRUN");
                        }
                        return 0;
                }
                if (k != -EINVAL)
                        return k;
                r->mode.fallback_error = k;
        }
        return k;
}

/* Sets the ring up in the chosen mode; SQPOLL falls back to batch when the kernel refuses the
 * poller (old kernels without privilege): the reason says so. */
static int ring_setup(maio_ring *r, const maio_ring_config *cfg, unsigned entries, unsigned cq) {
        int cpu = -1;
        int k = ring_choose(r, cfg, &cpu);
        if (k < 0)
                return k;
        r->mode.poller_cpu = -1;
        if (r->mode.mode == MAIO_RING_MODE_SQPOLL) {
                struct io_uring_params p = { .flags = IORING_SETUP_CQSIZE | IORING_SETUP_SQPOLL, .cq_entries = cq };
                p.sq_thread_idle = cfg->sq_idle_ms ? cfg->sq_idle_ms : 100;
                if (cpu >= 0) {
                        p.flags |= IORING_SETUP_SQ_AFF;
                        p.sq_thread_cpu = (unsigned) cpu;
                }
                if (cfg->attach_to && cfg->attach_to->sqpoll) {
                        p.flags |= IORING_SETUP_ATTACH_WQ;
                        p.wq_fd = (unsigned) cfg->attach_to->uring.ring_fd;
                }
                k = io_uring_queue_init_params(entries, &r->uring, &p);
                if (k == 0) {
                        r->sqpoll = true;
                        r->mode.setup_flags = p.flags;
                        r->mode.poller_cpu = (p.flags & IORING_SETUP_ATTACH_WQ) ? cfg->attach_to->mode.poller_cpu : cpu;
                        if (p.flags & IORING_SETUP_ATTACH_WQ) {
                                r->poller_shared = true;
                                cfg->attach_to->poller_shared = true;
                        }
                        return 0;
                }
                if (r->holds_poller) {
                        atomic_store(&r->pool->poller_taken, false);
                        r->holds_poller = false;
                        r->mode.poller_granted = false;
                }
                if (k != -EPERM)
                        return k;
                r->mode.fallback_error = k;
                r->mode.mode = MAIO_RING_MODE_BATCH;
                size_t n = strlen(r->mode_reason);
                snprintf(r->mode_reason + n, sizeof(r->mode_reason) - n, "; the kernel refused SQPOLL (EPERM): batch");
        }
        return ring_setup_batch(r, entries, cq);
}

static size_t ring_default_threshold(void) {
        const char *e = getenv("MAIO_ZC_THRESHOLD");
        if (e && *e) {
                char *end;
                unsigned long long v = strtoull(e, &end, 10);
                if (*end == 0)
                        return (size_t) v;
        }
        return MAIO_ZC_THRESHOLD_DEFAULT;
}

/* $MAIO_IOWQ_MAX_WORKERS (0: the kernel's own limits), else MAIO_IOWQ_MAX_WORKERS_DEFAULT. */
static unsigned ring_default_iowq(void) {
        const char *e = getenv("MAIO_IOWQ_MAX_WORKERS");
        if (e && *e) {
                char *end;
                unsigned long v = strtoul(e, &end, 10);
                if (*end == 0 && v <= INT32_MAX)
                        return (unsigned) v;
        }
        return MAIO_IOWQ_MAX_WORKERS_DEFAULT;
}

int maio_ring_iowq_max_workers(maio_ring *r, unsigned max, unsigned *ret_prev) {
        if (!r || max > INT32_MAX)
                return -EINVAL;
        int k = ring_owner_check(r);
        if (k < 0)
                return k;
        /* Both kinds alike: the splice relay's workers are unbounded ones (sockets, pipes); the
         * bounded kind (regular files) gets the same bound so neither can pile up threads. */
        unsigned v[2] = { max, max };
        k = io_uring_register_iowq_max_workers(&r->uring, v);
        if (k < 0)
                return k;
        if (ret_prev)
                *ret_prev = v[1];
        return 0;
}

static void maio_ring_freep(maio_ring **r) {
        maio_ring_free(*r);
}

int maio_ring_new(maio_pool *pool, const maio_ring_config *cfg, maio_ring **ret) {
        static const maio_ring_config defaults = { .sq_thread_cpu = -1 };
        _cleanup_(maio_ring_freep) maio_ring *r = NULL;
        if (!pool || !ret)
                return -EINVAL;
        if (!cfg)
                cfg = &defaults;
        unsigned entries = round_pow2(cfg->entries ? cfg->entries : 256);
        unsigned nbufs = round_pow2(cfg->recv_buffers ? cfg->recv_buffers : 64);
        size_t rsize = cfg->recv_buffer_size ? cfg->recv_buffer_size : MAIO_CHUNK_SIZE;
        unsigned nops = cfg->max_ops ? cfg->max_ops : 4 * entries;
        unsigned nsocks = cfg->max_sockets ? cfg->max_sockets : 1024;
        if (rsize > MAIO_CHUNK_SIZE || nbufs > 32768 || entries > 32768 || nsocks > (1u << 20))
                return -EINVAL;

        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->uring.ring_fd = -1;
        r->pool = pool;
        r->flags = cfg->flags;
        r->zc_threshold = cfg->zc_threshold ? cfg->zc_threshold : ring_default_threshold();
        zc_turn_init(&r->cost_turn);
        r->ops = calloc(nops, sizeof(maio_op));
        r->socks = calloc(nsocks, sizeof(maio_sock));
        if (!r->ops || !r->socks)
                return -ENOMEM;
        r->nops = nops;
        r->op_free = MAIO_NONE;
        for (uint32_t i = nops; i-- > 0;) {
                r->ops[i].next = r->op_free;
                r->op_free = i;
        }
        r->nsocks = nsocks;
        for (uint32_t i = 0; i < nsocks; i++)
                r->socks[i].fd = -1;

        int k = ring_setup(r, cfg, entries, round_pow2(2 * nops + nbufs + nsocks));
        if (k < 0) {
                r->uring.ring_fd = -1;
                return k;
        }
        k = ring_register_pool(r);
        if (k < 0)
                return k;
        ring_probe_zc(r);
        /* The splice relay runs in io-wq workers: bound them before any is started. A kernel
         * without the call (before 5.15) keeps its own limits; the relay works either way. */
        unsigned iowq = ring_default_iowq();
        if (iowq > 0)
                r->iowq_error = maio_ring_iowq_max_workers(r, iowq, NULL);
        k = recv_init(r, rsize, nbufs);
        if (k < 0)
                return k;
        *ret = TAKE_PTR(r);
        return 0;
}

maio_ring *maio_ring_free(maio_ring *r) {
        if (!r)
                return NULL;
        if (r->uring.ring_fd >= 0) {
                for (uint32_t h = 0; h < r->nsocks; h++)
                        if (r->socks[h].flags & SOCK_OPEN)
                                (void) maio_close(r, (int) h);
                io_uring_queue_exit(&r->uring);
                r->uring.ring_fd = -1;
        }
        if (r->holds_poller)
                atomic_store(&r->pool->poller_taken, false);
        /* Whatever the kernel never answered (a close that timed out) gives its buffer back. */
        for (uint32_t i = 0; r->ops && i < r->nops; i++)
                if (r->ops[i].kind == OP_SEND)
                        send_abandon(r, i);
        recv_done(r);
        free(r->ops);
        free(r->socks);
        free(r);
        return NULL;
}

int maio_ring_mode_get(maio_ring *r, maio_ring_mode_info *ret) {
        if (!r || !ret)
                return -EINVAL;
        *ret = r->mode;
        ret->reason = r->mode_reason;
        ret->poller_shared = r->poller_shared;
        return 0;
}

const char *maio_ring_mode_to_string(maio_ring_mode mode) {
        switch (mode) {
        case MAIO_RING_MODE_AUTO:
                return "auto";
        case MAIO_RING_MODE_SQPOLL:
                return "sqpoll";
        case MAIO_RING_MODE_BATCH:
                return "batch";
        }
        return "unknown";
}

void maio_ring_stats_get(maio_ring *r, maio_ring_stats *ret) {
        *ret = r->st;
        ret->sqpoll = r->sqpoll;
        ret->zc_supported = r->zc_probe_error == 0;
        ret->zc_probe_error = r->zc_probe_error;
}

size_t maio_ring_zc_threshold(maio_ring *r) {
        return r->zc_threshold;
}
