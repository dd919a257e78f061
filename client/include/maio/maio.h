/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libmaio: zero-copy, exception-less socket I/O from a hugepage-backed buffer pool on io_uring
 * (SQPOLL poller, fixed buffers, SEND_ZC, provided-buffer multishot receive). See libmaio(3). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Thread-safety, in short (libmaio(3) has the long form):
 * - A maio_pool is shared by all threads: maio_alloc/maio_free/maio_buf_get_state are thread-safe
 *   (per-thread magazine caches, a locked depot behind them).
 * - A maio_ring and the sockets opened on it belong to ONE thread at a time: every maio_ring_*,
 *   socket, send and receive call on a ring must come from that thread (or be serialised by the
 *   caller). Use one ring per thread; rings may share one SQPOLL poller (attach_to). A ring in
 *   batch mode (IORING_SETUP_SINGLE_ISSUER) must be used, and freed, by the thread that made it:
 *   calls from any other thread fail with -EEXIST and leave the ring as it was.
 * - A buffer handed to maio_send is owned by the ring until its completion (for zero-copy: the
 *   notification); the application may not write it, and maio_free refuses it with -EBUSY.
 *
 * Errors are negative errno values; >= 0 is success. */

#define MAIO_CHUNK_SIZE (64u * 1024u) /* unit of the magazine layer; largest maio_alloc */
#define MAIO_HUGE_PAGE_SIZE (2u * 1024u * 1024u)
#define MAIO_ALIGN 64u /* every buffer starts on a 64-byte boundary */

/* ---- pool ------------------------------------------------------------------------------------- */

typedef struct maio_pool maio_pool;

enum {
        MAIO_POOL_NO_DAEMON = 1u << 0,       /* do not ask maiod for a hugepage grant */
        MAIO_POOL_REQUIRE_HUGETLB = 1u << 1, /* fail (-ENOMEM) instead of falling back to THP */
        MAIO_POOL_NO_HUGETLB = 1u << 2,      /* skip hugetlb, go straight to THP (tests) */
        MAIO_POOL_NO_POLLER = 1u << 3,       /* do not ask maiod for a poller CPU with the grant (0.2) */
};

typedef struct maio_pool_config {
        size_t size;               /* bytes; rounded up to 2 MiB; 0 = 64 MiB */
        int numa_node;             /* node to bind to; -1 = no binding */
        unsigned flags;            /* MAIO_POOL_* */
        const char *daemon_socket; /* NULL = $MAIOD_SOCKET, else /run/maiod/maiod.sock */
        const char *tenant;        /* tenant id for the grant; NULL = $MAIO_TENANT; none = standalone */
} maio_pool_config;

typedef enum maio_backing {
        MAIO_BACKING_HUGETLB,     /* 2 MB hugetlb pages (MAP_HUGETLB|MAP_HUGE_2MB) */
        MAIO_BACKING_THP,         /* fallback: 2 MB-aligned anonymous memory + MADV_HUGEPAGE */
        MAIO_BACKING_SMALL_PAGES, /* fallback: THP unavailable too (madvise refused) */
} maio_backing;

typedef enum maio_grant_state {
        MAIO_GRANT_NOT_ASKED,  /* MAIO_POOL_NO_DAEMON or no tenant id */
        MAIO_GRANT_STANDALONE, /* daemon unreachable or has no grant endpoint (404) */
        MAIO_GRANT_GRANTED,    /* the daemon reserved hugepages for us */
        MAIO_GRANT_FAILED,     /* the daemon answered with an error; working standalone */
} maio_grant_state;

typedef struct maio_pool_stats {
        maio_backing backing;
        const char *backing_reason; /* why not hugetlb (owned by the pool), NULL when hugetlb */
        maio_grant_state grant;
        int grant_error; /* -errno or -HTTP status of a failed grant, else 0 */
        int numa_node;   /* node bound to, -1 if none */
        int numa_error;  /* -errno of a failed binding, else 0 */
        size_t size;     /* bytes mapped */
        size_t chunks_total;
        size_t chunks_free; /* in the depot and in all thread caches */
        uint64_t allocs, frees, alloc_failures;
        uint64_t rejected_frees; /* double frees, foreign pointers, in-flight buffers */
} maio_pool_stats;

/* Maps and prepares a pool. cfg may be NULL for defaults. Returns 0 and *ret, or -errno
 * (-ENOMEM when no memory can be mapped or REQUIRE_HUGETLB cannot be met, -EINVAL). */
int maio_pool_new(const maio_pool_config *cfg, maio_pool **ret);
/* Unmaps the pool. Rings using it must be freed first. Accepts NULL. Returns NULL. */
maio_pool *maio_pool_free(maio_pool *pool);
/* Fills *ret. Never fails. */
void maio_pool_stats_get(maio_pool *pool, maio_pool_stats *ret);
/* Human-readable names of the enums (static strings). */
const char *maio_backing_to_string(maio_backing b);
const char *maio_grant_state_to_string(maio_grant_state g);
/* Base address and size of the pool's memory (for registration with other I/O APIs). */
void *maio_pool_base(maio_pool *pool, size_t *ret_size);

/* Allocates size bytes (1..MAIO_CHUNK_SIZE) from the pool, 64-byte aligned, O(1).
 * Returns 0 and *ret, -EINVAL for a bad size, -ENOBUFS when the pool is exhausted. */
int maio_alloc(maio_pool *pool, size_t size, void **ret);
/* Frees a buffer from maio_alloc. Returns 0, -EBUSY when the buffer is in flight in the kernel
 * or owned by a receive, -EALREADY on a double free, -EINVAL for a pointer maio_alloc did not
 * return (foreign, interior). */
int maio_free(maio_pool *pool, void *buf);

typedef enum maio_buf_state {
        MAIO_BUF_FREE = 1, /* was allocated, has been freed */
        MAIO_BUF_APP,      /* owned by the application */
        MAIO_BUF_INFLIGHT, /* handed to a send; the kernel may still read it */
        MAIO_BUF_RECV,     /* owned by a receive: in the provided-buffer ring, or
                            * delivered by maio_recv_sg and not yet released */
} maio_buf_state;

/* Returns the maio_buf_state of the buffer starting at buf, or -EINVAL if buf is not the start
 * of a buffer of this pool. */
int maio_buf_get_state(maio_pool *pool, const void *buf);
const char *maio_buf_state_to_string(int state);

/* ---- daemon grant ----------------------------------------------------------------------------- */

typedef struct maio_grant {
        int numa_node;
        uint64_t pages; /* 2 MB pages reserved for the tenant */
} maio_grant;

/* The CPU maiod granted for this pool's SQPOLL poller with the hugepage grant ("poller_cpu" of
 * the grant reply), or -1 when none was granted (no daemon, no [pools] poller_cpus, all taken,
 * MAIO_POOL_NO_POLLER, or MAIO_RING_MODE=batch). The first ring made on the pool in automatic
 * mode uses it (libmaio(3), RING MODES). LIBMAIO_0.2. */
int maio_pool_poller_cpu(maio_pool *pool);

/* Asks maiod (HTTP/1.1 over its unix socket) for a hugepage grant: POST /v1/tenants/{tenant}/maio
 * with {"bytes":B,"node":N} (node 0 when numa_node is -1); tenant is maiod's tenant id.
 * timeout_ms bounds the whole exchange. Returns 1 and *ret when granted; 0 ("standalone") when
 * the socket does not exist, refuses the connection, answers 404 (no such endpoint or tenant) or
 * grants 0 pages; -EINVAL for a bad tenant id; -EPROTO for an unparsable reply; -ETIMEDOUT;
 * -(HTTP status) for other non-2xx answers (e.g. -507: the kernel had too few pages); other
 * -errno on I/O errors. */
int maio_daemon_grant(const char *socket_path, const char *tenant, int numa_node, uint64_t bytes, int timeout_ms,
                      maio_grant *ret);

/* ---- rings ------------------------------------------------------------------------------------ */

typedef struct maio_ring maio_ring;

/* The ring mode (libmaio(3), RING MODES): without MAIO_RING_SQPOLL or MAIO_RING_BATCH in the
 * flags, $MAIO_RING_MODE (sqpoll, batch or auto) chooses; unset or auto is the automatic rule:
 * SQPOLL when the ring has a poller CPU (sq_thread_cpu >= 0, or the CPU maiod granted the pool
 * and no other ring of the pool uses, or attach_to's poller), else batch. */
enum {
        MAIO_RING_NO_SQPOLL = 1u << 0,         /* batch mode: no kernel poller (the 0.1 name of MAIO_RING_BATCH) */
        MAIO_RING_NO_ZC = 1u << 1,             /* never use SEND_ZC (copying sends only) */
        MAIO_RING_SQPOLL = 1u << 2,            /* SQPOLL mode whatever the automatic rule says (0.2) */
        MAIO_RING_BATCH = MAIO_RING_NO_SQPOLL, /* batch mode: SINGLE_ISSUER|DEFER_TASKRUN (0.2) */
        MAIO_RING_ZC_BY_SIZE = 1u << 3,        /* batch mode: SEND_ZC by size alone, not by measured cost (0.2) */
};

typedef enum maio_ring_mode {
        MAIO_RING_MODE_AUTO,   /* choose by the rule above */
        MAIO_RING_MODE_SQPOLL, /* a kernel poller thread submits (IORING_SETUP_SQPOLL) */
        MAIO_RING_MODE_BATCH,  /* no poller: each submit or wait is one io_uring_enter by the ring's
                                * thread (SINGLE_ISSUER|DEFER_TASKRUN, else COOP_TASKRUN) */
} maio_ring_mode;

typedef struct maio_ring_config {
        unsigned entries;        /* SQ entries (power of two); 0 = 256 */
        unsigned flags;          /* MAIO_RING_* */
        int sq_thread_cpu;       /* the SQPOLL poller's CPU (a configured poller CPU: the automatic
                                  * rule then picks SQPOLL); -1 = none (the granted one, if any) */
        unsigned sq_idle_ms;     /* poller idle time before it sleeps; 0 = 100 ms */
        maio_ring *attach_to;    /* share this ring's SQPOLL poller (IORING_SETUP_ATTACH_WQ) */
        size_t zc_threshold;     /* sends >= this use SEND_ZC (unless the socket's notifications
                                  * said the kernel copies anyway, or its measured cost chose
                                  * copies, libmaio(3)), smaller ones plain SEND; 0 = default
                                  * (MAIO_ZC_THRESHOLD_DEFAULT or $MAIO_ZC_THRESHOLD) */
        unsigned recv_buffers;   /* provided receive buffers (power of two); 0 = 64 */
        size_t recv_buffer_size; /* 0 = 64 KiB; at most MAIO_CHUNK_SIZE */
        unsigned max_ops;        /* in-flight operations; 0 = 4 * entries */
        unsigned max_sockets;    /* handle table size; 0 = 1024 */
} maio_ring_config;

/* The copy/zero-copy crossover measured on the 2-core development VM (kernel 6.18, UDP to a
 * dropping veth): from 4 KiB up SEND_ZC used less CPU per byte and was as fast, below it plain
 * SEND won (tests/bench/maio/crossover-run, docs/benchmarks.md). */
#define MAIO_ZC_THRESHOLD_DEFAULT (4u * 1024u)

typedef struct maio_ring_stats {
        bool sqpoll;         /* the poller thread is in use */
        bool zc_supported;   /* the kernel accepted SEND_ZC with fixed buffers */
        int zc_probe_error;  /* why not (-errno), else 0 */
        uint64_t sends;      /* send operations completed */
        uint64_t sends_zc;   /* ... of which SEND_ZC */
        uint64_t sends_copy; /* ... of which plain SEND (small, NO_ZC, no SEND_ZC, or a path that copies anyway) */
        uint64_t zc_notifications;     /* SEND_ZC notification CQEs */
        uint64_t zc_copied;            /* notifications saying the kernel copied after all */
        uint64_t copies, bytes_copied; /* maio_send_copy staging copies */
        uint64_t bytes_sent;
        uint64_t recv_completions, bytes_received, recv_rearms, recv_nobufs;
        uint64_t recv_stalls;     /* armed receives restarted: data sat queued a second, no CQE came */
        uint64_t submit_syscalls; /* io_uring_submit calls that entered the kernel */
        uint64_t submits;         /* io_uring_submit calls */
        uint64_t wait_syscalls;   /* waits that had to sleep in the kernel */
        uint64_t ring_full;       /* times an SQE or op slot was not available */
        uint64_t recv_kicks;      /* TCP receives re-woken: data sat queued 20 ms, no CQE came */
        uint64_t send_kicks;      /* TCP sends re-woken: in flight 20 ms, no CQE came */
} maio_ring_stats;

/* What a ring runs in and why (LIBMAIO_0.2), beside maio_ring_stats. */
typedef struct maio_ring_mode_info {
        maio_ring_mode mode;     /* MAIO_RING_MODE_SQPOLL or MAIO_RING_MODE_BATCH */
        maio_ring_mode asked;    /* what the application or $MAIO_RING_MODE asked; AUTO if neither */
        const char *source;      /* who chose: "application", "MAIO_RING_MODE" or "auto" (static) */
        const char *reason;      /* one sentence, e.g. "auto: maiod granted poller CPU 1" (the ring's) */
        int poller_cpu;          /* SQPOLL: the poller's CPU, -1 unpinned; batch: -1 */
        bool poller_granted;     /* poller_cpu is the one maiod granted the pool */
        bool poller_shared;      /* SQPOLL: the poller is shared with another ring (attach_to) */
        unsigned setup_flags;    /* the IORING_SETUP_* flags the ring was created with */
        int fallback_error;      /* -errno of a setup the kernel refused before this one, else 0 */
        uint64_t event_syscalls; /* batch: io_uring_enter calls made only to run completions */
        /* Copy or zero-copy by measured cost (libmaio(3), ZERO-COPY BY COST): */
        uint64_t zc_judgments;   /* measurements completed on the ring's sockets */
        uint64_t zc_judged_copy; /* ... that chose copying sends as cheaper */
        double zc_ns_per_kib[2]; /* the last measurement's CPU ns per KiB: [0] copy, [1] zero-copy */
} maio_ring_mode_info;

/* Fills *ret. Returns 0, or -EINVAL for NULL arguments. LIBMAIO_0.2. */
int maio_ring_mode_get(maio_ring *ring, maio_ring_mode_info *ret);
/* "auto", "sqpoll", "batch" (static strings); "unknown" otherwise. LIBMAIO_0.2. */
const char *maio_ring_mode_to_string(maio_ring_mode mode);

/* Creates an io_uring bound to pool in the mode the flags, $MAIO_RING_MODE or the automatic rule
 * choose (above; an invalid $MAIO_RING_MODE is -EINVAL, said on stderr), the pool registered as fixed
 * buffers (one iovec per GiB), a provided-buffer ring of pool buffers for receives, and a
 * SEND_ZC probe. cfg may be NULL. Returns 0 and *ret, or -errno (-EPERM/-ENOMEM from
 * io_uring_setup or buffer registration, e.g. RLIMIT_MEMLOCK on older kernels). */
int maio_ring_new(maio_pool *pool, const maio_ring_config *cfg, maio_ring **ret);
/* Closes every socket (waiting for in-flight operations), returns all buffers, frees the ring.
 * Accepts NULL. Returns NULL. */
maio_ring *maio_ring_free(maio_ring *ring);
void maio_ring_stats_get(maio_ring *ring, maio_ring_stats *ret);
/* The size at which sends switch from plain SEND to SEND_ZC. */
size_t maio_ring_zc_threshold(maio_ring *ring);
/* Processes completions, waiting up to timeout_ms (0 = don't wait, -1 = forever) for the first.
 * Without a wait, and while the poller is awake, this makes no syscall; in batch mode the
 * completions run only inside io_uring_enter, so a call that finds none enters the kernel once.
 * Returns the number of completions processed (>= 0), or -errno. */
int maio_ring_poll(maio_ring *ring, int timeout_ms);

/* ---- sockets ---------------------------------------------------------------------------------- */
/* Handles are small integers (>= 0) indexing the ring's socket table. */

/* Opens a socket of type SOCK_STREAM or SOCK_DGRAM (IORING_OP_SOCKET) and connects it
 * (IORING_OP_CONNECT). Returns the handle or -errno (-ECONNREFUSED, -ETIMEDOUT, -EMFILE...). */
int maio_connect(maio_ring *ring, int type, const struct sockaddr *peer, socklen_t len, int timeout_ms);
/* Opens a socket (IORING_OP_SOCKET) and binds it to local (bind(2), SO_REUSEADDR); a stream
 * socket also listens(2) (liburing 2.3 has no BIND/LISTEN prep helpers). A datagram socket is
 * ready to receive; connect it with maio_connect_handle to send. Returns the handle or -errno. */
int maio_listen(maio_ring *ring, int type, const struct sockaddr *local, socklen_t len, int backlog);
/* Accepts one connection on a listening handle (IORING_OP_ACCEPT). Returns the new handle,
 * -ETIMEDOUT, or -errno. */
int maio_accept(maio_ring *ring, int listen_handle, int timeout_ms);
/* Connects an existing (datagram) handle to peer (IORING_OP_CONNECT). Returns 0 or -errno. */
int maio_connect_handle(maio_ring *ring, int handle, const struct sockaddr *peer, socklen_t len, int timeout_ms);
/* Cancels the handle's receive, waits for its in-flight sends (buffers return to their owners),
 * and closes it (IORING_OP_CLOSE). Returns 0, -EBADF for an unknown handle, or the close error. */
int maio_close(maio_ring *ring, int handle);
/* The file descriptor behind a handle (for setsockopt/getsockname), or -EBADF. */
int maio_fd(maio_ring *ring, int handle);
/* The first error a send or receive on the handle failed with (-EPIPE, -ECONNRESET...), or 0. */
int maio_socket_error(maio_ring *ring, int handle);

/* ---- send ------------------------------------------------------------------------------------- */

enum {
        MAIO_SEND_FREE = 1u << 0, /* free the buffer when the send completes */
        MAIO_SEND_MORE = 1u << 1, /* more data follows (MSG_MORE) */
};

/* Sends the first len bytes of buf, which must be the start of a pool buffer the application
 * owns (state MAIO_BUF_APP). Sends to a stream handle leave and complete in order; sends to a
 * datagram handle are not linked and leave in order unless the socket buffer fills, when a
 * datagram that waited may be overtaken (see libmaio(3)). From
 * here until completion the buffer is MAIO_BUF_INFLIGHT; at completion it returns to
 * MAIO_BUF_APP (or is freed with MAIO_SEND_FREE). Zero-copy sends complete only on the
 * notification CQE. In batch mode a queued send is submitted with the next 63 or by the next
 * poll or wait (maio_ring_poll(ring, 0) pushes it out). Returns 0 when queued; -EINVAL (not an owned pool buffer, len 0
 * or too long); -EBUSY when the ring's op table is full (back-pressure: maio_ring_poll, then retry); or the handle's
 * recorded error (-EPIPE, -ECONNRESET...). */
int maio_send(maio_ring *ring, int handle, void *buf, size_t len, unsigned flags);
/* Sends len bytes from any memory: copies them into pool buffers (MAIO_CHUNK_SIZE pieces) and
 * sends those, freed on completion. Returns 0 when all is queued, -ENOBUFS (pool exhausted;
 * nothing was queued and nothing leaked), -EBUSY (op table full; nothing queued), or as
 * maio_send. */
int maio_send_copy(maio_ring *ring, int handle, const void *data, size_t len);
/* Sends not yet completed on the handle (0 = everything acknowledged), or -EBADF. */
int maio_send_pending(maio_ring *ring, int handle);
/* Waits until the handle has no pending send. Returns 0, -ETIMEDOUT, or the handle's error. */
int maio_flush(maio_ring *ring, int handle, int timeout_ms);

/* ---- receive ---------------------------------------------------------------------------------- */

/* Arms a multishot receive on the handle into the ring's provided pool buffers (done by
 * maio_recv_sg on first use). Returns 0 or -errno. */
int maio_recv_start(maio_ring *ring, int handle);
/* Returns up to iovcnt received pieces, waiting up to timeout_ms for the first. Each iov_base is
 * the start of a pool buffer in state MAIO_BUF_RECV; give it back with maio_recv_release.
 * For datagram sockets each iovec is one datagram. Returns the number of iovecs (> 0),
 * 0 at end of stream, -ETIMEDOUT (-EAGAIN for timeout_ms 0), or the receive error. */
int maio_recv_sg(maio_ring *ring, int handle, struct iovec *iov, int iovcnt, int timeout_ms);
/* Returns a received buffer to the provided-buffer ring. Returns 0, or -EINVAL if buf is not a
 * delivered receive buffer of this ring. */
int maio_recv_release(maio_ring *ring, void *buf);

/* ---- relay ------------------------------------------------------------------------------------ */

enum {
        /* The buffer relay: received pool buffers sent on zero-copy (the 0.1 relay), for an
         * application that must see the data (it uses maio_recv_sg and maio_send the same way) or
         * wants the ring's send and receive counters to count it. (0.2) */
        MAIO_RELAY_BUFFERS = 1u << 0,
};

/* Socket splicing: moves what has arrived on `from` to `to` (from == to echoes), waiting up to
 * timeout_ms for something to move. By default the bytes never reach user space: the ring
 * splices them socket -> pipe -> socket (IORING_OP_SPLICE through a pipe of 64 KiB to 1 MiB
 * that `from` keeps until it is closed; libmaio(3), Relaying). The buffer relay (MAIO_RELAY_BUFFERS)
 * is used instead when asked, for datagram handles, on kernels without IORING_OP_SPLICE, and
 * while the receive of `from` is started (maio_recv_start, maio_recv_sg, an earlier buffer
 * relay: the multishot receive stays armed). `from` relays to one `to` at a time; bytes move in order, and after the
 * sends already queued on `to` (do not maio_send on `to` while a relay into it has bytes in
 * flight). Returns bytes that reached `to` (> 0); 0 at the end of the stream on `from` once
 * all of it reached `to` (-ETIMEDOUT/-EAGAIN while it has not: call again); -ETIMEDOUT
 * (-EAGAIN for timeout_ms 0) when nothing moved; -EBUSY when the op table or SQ is full, or
 * when `to` differs from the previous call's while bytes for that one are in the pipe;
 * -EBADF for a handle that is not open; or the error of either handle (-ECONNRESET, -EPIPE...;
 * an error of `from` after the bytes received before it reached `to`). */
ssize_t maio_relay(maio_ring *ring, int from, int to, int timeout_ms);
/* maio_relay with MAIO_RELAY_* flags (0: as maio_relay). Also -EINVAL for unknown flags, and
 * -EBUSY for MAIO_RELAY_BUFFERS while the splice relay of `from` has a splice in flight or bytes
 * in its pipe (it keeps a splice armed while the stream lasts: choose one relay per handle; a
 * handle that relayed through buffers stays on buffers). LIBMAIO_0.2. */
ssize_t maio_relay_flags(maio_ring *ring, int from, int to, unsigned flags, int timeout_ms);

/* io_uring runs the relay's splices in its io-wq worker threads (iou-wrk-*); maio_ring_new
 * bounds them to MAIO_IOWQ_MAX_WORKERS_DEFAULT per thread using the ring (or $MAIO_IOWQ_MAX_WORKERS;
 * 0 leaves the kernel's limits, which grow with RLIMIT_NPROC). An idle relay holds no worker (it
 * waits on a POLL_ADD), so the bound caps the splices running at once, not the relays. */
#define MAIO_IOWQ_MAX_WORKERS_DEFAULT 4u

/* Sets the io-wq worker bound of the ring (both of io_uring's kinds, bounded and unbounded) to
 * max; max 0 changes nothing (a query). *ret_prev (may be NULL) is the bound before the call as
 * the kernel reports it for the calling thread (or the SQPOLL poller), 0 if that thread has no
 * workers' pool yet. Returns 0, -EINVAL, -EEXIST (batch ring, foreign thread), or the kernel's
 * error (-EINVAL before Linux 5.15). LIBMAIO_0.2. */
int maio_ring_iowq_max_workers(maio_ring *ring, unsigned max, unsigned *ret_prev);

#ifdef __cplusplus
}
#endif
