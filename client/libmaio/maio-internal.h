/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libmaio internals shared by pool.c, alloc.c, ring.c, sock.c, send.c and recv.c: the pool layout
 * (chunk metadata, magazines), the ring's op and socket tables. Not installed. */
#pragma once

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <liburing.h>

#include "cleanup.h"
#include "maio/maio.h"
#include "zc-cost.h"

#define MAIO_GRANULES (MAIO_CHUNK_SIZE / MAIO_ALIGN) /* state slots per chunk */
#define MAIO_MAG_SIZE 16u                            /* chunks per magazine */
#define MAIO_NONE UINT32_MAX


/* Per-chunk metadata. refs counts live buffers carved from the chunk plus one while a thread's
 * frag allocator is carving from it; at zero the chunk goes back to a magazine. state[] holds a
 * maio_buf_state at each buffer's first granule and 0 elsewhere. */
typedef struct maio_chunk {
        atomic_uint refs;
        _Atomic uint8_t state[MAIO_GRANULES];
        uint16_t granules[MAIO_GRANULES]; /* size of the buffer starting here, in granules */
} maio_chunk;

typedef struct maio_magazine {
        uint32_t n;
        uint32_t slot[MAIO_MAG_SIZE];
        struct maio_magazine *next;
} maio_magazine;

/* One per thread per pool (pthread key): two magazines (Bonwick's loaded/previous) and the
 * page_frag cursor. */
typedef struct maio_tcache {
        maio_pool *pool;
        maio_magazine *loaded, *previous;
        uint32_t frag_chunk;
        uint32_t frag_off;
        struct maio_tcache *next;
} maio_tcache;

struct maio_pool {
        uint8_t *base;
        size_t size;
        void *map_addr; /* what munmap needs (THP path over-maps to align) */
        size_t map_size;
        uint32_t nchunks;
        maio_chunk *chunks;

        pthread_mutex_t lock; /* the depot and the tcache list */
        maio_magazine *full, *empty;
        uint32_t *loose; /* chunks freed when no magazine could be had */
        uint32_t nloose;
        maio_tcache *tcaches;
        pthread_key_t key;
        bool key_created;

        atomic_size_t chunks_free;
        atomic_uint_fast64_t allocs, frees, alloc_failures, rejected_frees;

        maio_backing backing;
        char backing_reason[160];
        maio_grant_state grant;
        int grant_error;
        int numa_node, numa_error;
        int poller_cpu;           /* granted by maiod, -1 none */
        atomic_bool poller_taken; /* a ring of this pool runs its poller there */
        char poller_reason[128];  /* why none was granted ("" when one was or none was asked) */
};

/* grant.c: maio_daemon_grant that may ask for a poller CPU too. *ret_poller_cpu is the granted
 * CPU or -1 (and ret_reason, size bytes, says why when maiod said). */
int grant_ask(const char *socket_path, const char *tenant, int numa_node, uint64_t bytes, bool poller, int timeout_ms,
              maio_grant *ret, int *ret_poller_cpu, char *ret_reason, size_t size);

/* alloc.c */
int alloc_init(maio_pool *p);
void alloc_done(maio_pool *p);
/* Allocates with the buffer's first state set to `state` (APP or RECV). 0 or -ENOBUFS/-EINVAL. */
int alloc_buf(maio_pool *p, size_t size, maio_buf_state state, void **ret);
/* Frees a buffer currently in state `expect`. 0, -EINVAL, -EALREADY, -EBUSY. */
int alloc_release(maio_pool *p, void *buf, maio_buf_state expect);
/* Size in bytes of the buffer starting at buf (rounded to MAIO_ALIGN), or -EINVAL. */
int alloc_size(maio_pool *p, const void *buf, size_t *ret);
/* Moves a buffer from state `from` to `to` atomically. 0, -EINVAL (not a buffer), -EBUSY
 * (in another state). */
int alloc_transition(maio_pool *p, const void *buf, maio_buf_state from, maio_buf_state to);

/* ---- ring internals ---- */

typedef enum maio_op_kind {
        OP_FREE,
        OP_SYNC, /* socket/connect/accept/close/cancel: a waiter reads res */
        OP_SEND,
        OP_RECV,      /* the multishot receive of one socket */
        OP_RELAY_IN,  /* the splice relay: socket -> pipe (relay.c) */
        OP_RELAY_OUT, /* ... pipe -> socket */
} maio_op_kind;

enum {
        SEND_ZC = 1u << 0, /* SEND_ZC: wait for the notification */
        SEND_GOT_RESULT = 1u << 1,
        SEND_WAIT_NOTIF = 1u << 2,
        SEND_RECYCLE = 1u << 3,  /* a receive buffer: back to the buffer ring when done */
        SEND_FREE = 1u << 4,     /* free to the pool when done */
        SEND_MSG_MORE = 1u << 5, /* MSG_MORE */
};

typedef struct maio_op {
        uint8_t kind;
        uint8_t done;   /* OP_SYNC: completion arrived */
        uint16_t flags; /* SEND_* */
        int32_t handle;
        int32_t res;
        uint32_t len;
        uint32_t next; /* free list / per-socket send queue */
        void *buf;
} maio_op;

enum {
        SOCK_OPEN = 1u << 0,
        SOCK_RECV_ARMED = 1u << 1,
        SOCK_EOF = 1u << 2,
        SOCK_CLOSING = 1u << 3,
        SOCK_RECV_THROTTLED = 1u << 4, /* multishot cancelled: the socket holds too many buffers */
};

/* The splice relay of one `from` handle (relay.c): a pipe the kernel moves the bytes through,
 * socket -> pipe and pipe -> socket, each an IORING_OP_SPLICE (after a POLL_ADD when the last
 * one found nothing to do). */
typedef struct maio_relay_pipe {
        int rd, wr;              /* the pipe's ends */
        int to;                  /* the handle the pipe drains to */
        uint32_t size;           /* the pipe's capacity in bytes */
        int64_t in_pipe;         /* spliced in, not yet out */
        uint32_t in_op, out_op;  /* the op in flight each way, MAIO_NONE when idle */
        bool in_poll, out_poll;  /* the next splice waits for readiness first */
        bool in_blocked;         /* the pipe was full: the next splice in waits for one out */
        bool grow, grow_failed;  /* a splice filled the pipe: make it larger (relay.c) */
        bool eof;                /* a splice in returned 0 */
        int in_error, out_error; /* first error of each way */
        uint64_t moved;          /* spliced out to `to`, not yet returned by maio_relay */
} maio_relay_pipe;

typedef struct maio_sock {
        int fd;
        int type;
        unsigned flags;
        int error;               /* first send/receive error */
        int recv_error;          /* terminal receive error (not -ENOBUFS) */
        uint32_t q_head, q_tail; /* queued sends not yet submitted (op indices) */
        uint32_t inflight;       /* submitted sends without their result CQE yet */
        uint32_t pending;        /* sends queued or waiting for result or notification */
        uint32_t recv_op;
        uint32_t *rq; /* received (bid << 32 would not fit: bid and len arrays) */
        uint32_t *rq_len;
        uint32_t rq_head, rq_count;
        uint32_t held;           /* receive buffers queued, delivered or relayed */
        int64_t recv_seen_ms;    /* last receive completion, arm or restart */
        int64_t recv_look_ms;    /* the watchdog's last FIONREAD */
        int64_t recv_queued_ms;  /* since when data has sat queued without a completion, 0 none */
        uint32_t recv_looks;     /* looks since then: a restart needs some, so a caller that did
                                  * not look for a second is not mistaken for a stall */
        uint32_t send_cqes;      /* send CQEs so far (the watchdog compares) */
        uint32_t send_cqes_seen; /* ... at the watchdog's last look */
        uint8_t zc_path;         /* maio_zc_path: what the notifications said about this socket */
        uint32_t zc_copy_sends;  /* copying sends since the last zero-copy probe (ZC_PATH_COPIES) */
        maio_zc_cost cost;       /* ZC_PATH_ZC: copy or zero-copy by measured cost (zc-cost.h) */
        maio_relay_pipe *relay;  /* the splice relay from this handle, NULL until the first */
} maio_sock;

/* Whether zero-copy pays on a socket's path, learnt from SEND_ZC notifications (send.c). */
typedef enum maio_zc_path {
        ZC_PATH_UNKNOWN, /* no zero-copy send yet: the next eligible one is the probe */
        ZC_PATH_PROBING, /* a probe is in flight: eligible sends copy until its notification */
        ZC_PATH_ZC,      /* the kernel sent from our pages: eligible sends use SEND_ZC */
        ZC_PATH_COPIES,  /* the kernel copied anyway (loopback, veth): plain SEND, re-probed now and then */
} maio_zc_path;

struct maio_ring {
        struct io_uring uring;
        maio_pool *pool;
        unsigned flags;
        bool sqpoll;
        bool batch_events;  /* batch with DEFER_TASKRUN: completions run only in io_uring_enter */
        bool events_fresh;  /* ... and the last enter ran them, nothing reaped since */
        bool holds_poller;  /* this ring uses the pool's granted poller CPU */
        bool single_issuer; /* IORING_SETUP_SINGLE_ISSUER: only owner may submit */
        pthread_t owner;    /* the thread that made the ring */
        maio_ring_mode_info mode;
        char mode_reason[256];
        bool zc_ok;
        bool splice_ok;     /* the kernel has IORING_OP_SPLICE: maio_relay splices */
        int iowq_error;     /* -errno of the io-wq worker bound at creation, else 0 */
        bool poller_shared; /* another ring attached to our poller, or we to theirs */
        bool kick_pending;  /* some handle has queued sends and nothing in flight */
        int zc_probe_error;
        size_t zc_threshold;
        maio_zc_turn cost_turn; /* which handle measures copy against zero-copy (zc-cost.h) */
        unsigned nregions;      /* registered iovecs, 1 GiB each */

        maio_op *ops;
        uint32_t nops, op_free, ops_used;

        maio_sock *socks;
        uint32_t nsocks;
        uint32_t socks_hwm; /* handles at or above this were never used */
        int64_t watch_ms;   /* last run of the stall watchdog */

        struct io_uring_buf_ring *br;
        size_t br_size;
        uint32_t nbufs;
        size_t rbuf_size;
        void **rbufs;        /* by bid */
        uint8_t *rbuf_out;   /* 1 = handed out (in a socket queue or to the app) */
        int32_t *rbuf_owner; /* handle holding the buffer, -1 none */
        uint32_t *rbuf_hash; /* open addressing: pointer -> bid + 1 */
        uint32_t rbuf_hash_mask;

        maio_ring_stats st;
};

#define MAIO_BGID 0

/* ring.c */
int64_t ring_now_ms(void);
int ring_op_new(maio_ring *r, maio_op_kind kind, int handle, uint32_t *ret);
void ring_op_put(maio_ring *r, uint32_t idx);
/* An SQE, submitting (and once waiting briefly for the poller) when the SQ is full; NULL if the
 * ring stays full. */
struct io_uring_sqe *ring_get_sqe(maio_ring *r);
int ring_submit(maio_ring *r);
/* A SINGLE_ISSUER ring used from a thread other than its maker: -EEXIST (before anything is
 * queued: the kernel would refuse the submission and leave the SQEs for the owner), else 0. */
static inline int ring_owner_check(const maio_ring *r) {
        return r->single_issuer && !pthread_equal(pthread_self(), r->owner) ? -EEXIST : 0;
}
/* After queueing sends: ring_submit in SQPOLL mode; in batch mode only once RING_SEND_BATCH SQEs
 * are ready (else the next poll or wait submits them). */
int ring_submit_sends(maio_ring *r);
#define RING_SEND_BATCH 64u
/* Submits and waits for a single OP_SYNC op; frees it. Returns the op's res or -ETIMEDOUT
 * (the op is then cancelled and reaped). */
int ring_sync_wait(maio_ring *r, uint32_t op, int timeout_ms);
/* Waits (up to timeout_ms, -1 forever) until `cond(r, arg)` is true, processing completions. */
int ring_wait_until(maio_ring *r, bool (*cond)(maio_ring *r, void *arg), void *arg, int timeout_ms);
maio_sock *ring_sock(maio_ring *r, int handle);

/* The stall watchdog (ring.c runs it every RING_WATCH_MS while the application waits): the
 * kernel can leave a request armed on a socket's wait queue without acting on the wakeup that
 * should have run it (seen on 6.18 with SQPOLL under CPU load; libmaio(3)). */
#define RING_WATCH_MS 20

/* send.c */
void send_complete(maio_ring *r, uint32_t op, const struct io_uring_cqe *cqe);
int send_queue_buf(maio_ring *r, int handle, void *buf, size_t len, uint16_t flags);
void send_kick(maio_ring *r, int handle);
/* Gives the buffer of an op the kernel will never answer back to its owner, frees the op. */
void send_abandon(maio_ring *r, uint32_t op);
/* Completes the handle's queued (unsubmitted) sends with its error. */
void send_fail_queued(maio_ring *r, int handle);
/* Watchdog: re-signals write space on a stream socket whose sends went quiet. */
void send_check_stall(maio_ring *r, maio_sock *s);
/* The handle stops measuring copy against zero-copy (it left the zero-copy path or closes). */
void send_cost_release(maio_ring *r, int handle);

/* relay.c */
void relay_complete(maio_ring *r, uint32_t op, const struct io_uring_cqe *cqe);
/* Before closing `handle`: stops the splice relays from or to it, waits for their splices, and
 * frees the pipe of the relay from it. */
void relay_close(maio_ring *r, int handle);

/* recv.c */
/* The buffer relay (MAIO_RELAY_BUFFERS): receive buffers sent on zero-copy. */
ssize_t relay_buffers(maio_ring *r, int from, int to, int timeout_ms);
int recv_init(maio_ring *r, size_t rbuf_size, unsigned nbufs);
void recv_done(maio_ring *r);
void recv_complete(maio_ring *r, uint32_t op, const struct io_uring_cqe *cqe);
void recv_recycle(maio_ring *r, void *buf);
void recv_sock_reset(maio_ring *r, maio_sock *s);
int recv_sock_init(maio_ring *r, maio_sock *s);
/* Watchdog: re-wakes (TCP) or restarts an armed receive whose socket has data and no completion. */
void recv_check_stall(maio_ring *r, maio_sock *s, int64_t now);
