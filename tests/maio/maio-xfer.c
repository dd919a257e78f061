/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Transfer test driver: both ends send --bytes of pattern data to each other at once, in random
 * message sizes, over TCP or UDP, zero-copy (composed in pool buffers) or copy mode (copied from
 * ordinary memory, SEND_ZC off), and check every received byte. Prints
 * "RESULT tx <bytes> <sum> rx <bytes> <sum>" so a script can cross-check the two ends' sums.
 * UDP adds a 16-byte header (sequence number, cumulative acknowledgement) and a credit window,
 * since a datagram that overruns the receiver is lost and this test accepts no loss. */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/sockios.h>
#include <linux/tcp.h> /* struct tcp_info with tcpi_snd_wnd (glibc's is older) */
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include <maio/maio.h>

#include "addr.h"
#include "pattern.h"

#define TCP_MSG_MAX (1u << 20)
#define UDP_HDR 16u
#define UDP_MSG_MAX (MAIO_CHUNK_SIZE - 1024u) /* payload + header < 64 KiB */
#define UDP_WINDOW 16u /* datagrams in flight per direction: 16 x 44 fragments fit a veth backlog */
#define UDP_ACK_SEQ UINT64_MAX

typedef struct xfer {
        maio_pool *pool;
        maio_ring *ring;
        int h;
        bool udp, zc;
        bool wait_peer; /* UDP: send nothing before the peer's first datagram */
        uint64_t total, tx_seed, rx_seed, rng;
        uint64_t sent, got, msg_left;
        uint64_t tx_seq, rx_seq, peer_ack, acked_sent;
        pattern_sum tx, rx;
        uint8_t *scratch;
        int64_t last_progress;
        int64_t last_credit; /* UDP: when credit was last re-sent during a quiet spell */
        int last_pending;    /* sends pending at the last progress: completions are progress too */
        bool stall_reported; /* the STALL line went out for the current quiet spell */
} xfer;

static int64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Queues one piece (header + payload for UDP). Returns payload bytes queued, 0 if the pool or
 * ring is full right now, or -errno. */
static long xfer_send_piece(xfer *x, size_t hdr, size_t n, uint64_t seq) {
        size_t len = hdr + n;
        uint8_t *buf;
        int r;
        if (x->zc) {
                r = maio_alloc(x->pool, len, (void **) &buf);
                if (r < 0)
                        return r == -ENOBUFS ? 0 : r;
        } else
                buf = x->scratch;
        if (hdr) {
                uint64_t h[2] = { seq, x->rx_seq };
                memcpy(buf, h, sizeof(h));
        }
        if (n) {
                pattern_fill(x->tx_seed, x->sent, buf + hdr, n);
                pattern_sum_add(&x->tx, buf + hdr, n);
        }
        r = x->zc ? maio_send(x->ring, x->h, buf, len, MAIO_SEND_FREE) : maio_send_copy(x->ring, x->h, buf, len);
        if (r < 0) {
                if (x->zc)
                        maio_free(x->pool, buf);
                /* The caller restores the checksum it saved before this piece. */
                return r == -ENOBUFS || r == -EBUSY ? -EAGAIN : r;
        }
        x->acked_sent = x->rx_seq;
        return (long) n;
}

/* Sends while the window and the pool allow. Returns 0, or -errno. */
static int xfer_send(xfer *x) {
        if (x->wait_peer && x->rx_seq == 0 && x->peer_ack == 0)
                return 0;
        while (x->sent < x->total) {
                if (x->udp && x->tx_seq - x->peer_ack >= UDP_WINDOW)
                        break;
                if (!x->udp && maio_send_pending(x->ring, x->h) >= 128)
                        break;
                if (x->msg_left == 0)
                        x->msg_left = 1 + pattern_rand(&x->rng) % (x->udp ? UDP_MSG_MAX : TCP_MSG_MAX);
                if (x->msg_left > x->total - x->sent)
                        x->msg_left = x->total - x->sent;
                /* TCP messages go out in pool-buffer pieces; a UDP message is one datagram. */
                size_t n = x->udp ? x->msg_left : (x->msg_left < MAIO_CHUNK_SIZE ? x->msg_left : MAIO_CHUNK_SIZE);
                pattern_sum saved = x->tx;
                long k = xfer_send_piece(x, x->udp ? UDP_HDR : 0, n, x->tx_seq);
                if (k == -EAGAIN || k == 0) {
                        x->tx = saved;
                        break;
                }
                if (k < 0)
                        return (int) k;
                x->sent += (uint64_t) k;
                x->msg_left -= (uint64_t) k;
                if (x->udp)
                        x->tx_seq++;
        }
        /* A UDP receiver that has nothing to send must still hand out credit, and say when it
         * has everything. Lost acknowledgements are re-sent after a pause (xfer_run). */
        if (x->udp &&
            (x->rx_seq - x->acked_sent >= UDP_WINDOW / 4 || (x->got == x->total && x->acked_sent != x->rx_seq)))
                (void) xfer_send_piece(x, UDP_HDR, 0, UDP_ACK_SEQ);
        return 0;
}

/* Checks one received piece. Returns 0 or -EBADMSG (printed). */
static int xfer_check(xfer *x, const uint8_t *p, size_t len) {
        if (x->udp) {
                uint64_t h[2];
                if (len < UDP_HDR) {
                        fprintf(stderr, "short datagram (%zu bytes)\n", len);
                        return -EBADMSG;
                }
                memcpy(h, p, sizeof(h));
                if (h[1] > x->peer_ack)
                        x->peer_ack = h[1];
                p += UDP_HDR;
                len -= UDP_HDR;
                if (h[0] == UDP_ACK_SEQ)
                        return 0;
                if (h[0] != x->rx_seq) {
                        fprintf(stderr, "datagram %" PRIu64 " arrived, expected %" PRIu64 " (loss or reordering)\n",
                                h[0], x->rx_seq);
                        return -EBADMSG;
                }
                x->rx_seq++;
        }
        long bad = pattern_check(x->rx_seed, x->got, p, len);
        if (bad >= 0) {
                fprintf(stderr, "corrupt byte at stream offset %" PRIu64 "\n", x->got + (uint64_t) bad);
                return -EBADMSG;
        }
        pattern_sum_add(&x->rx, p, len);
        x->got += len;
        return 0;
}

static void xfer_report_socket(xfer *x);

/* No byte received and no send completed for XFER_STALL_MS: say so once, with where the bytes
 * are, so a stalled stream is diagnosed while it is stuck (test-maio-xfer snapshots the
 * namespace's sockets and counters when it sees this line); XFER_FAIL_MS fails the run. */
#define XFER_STALL_MS 5000
#define XFER_FAIL_MS 20000

static void xfer_report_stall(xfer *x, int64_t quiet) {
        maio_ring_stats st = { 0 };
        maio_ring_stats_get(x->ring, &st);
        fprintf(stderr,
                "maio-xfer: STALL no progress for %" PRId64 " ms: sent %" PRIu64 " got %" PRIu64 " of %" PRIu64
                ", pending sends %d; ring sends %" PRIu64 " zc %" PRIu64 " notif %" PRIu64 " recv %" PRIu64
                " recv-kicks %" PRIu64 " send-kicks %" PRIu64 " stalls %" PRIu64 "\n",
                quiet, x->sent, x->got, x->total, maio_send_pending(x->ring, x->h), st.sends, st.sends_zc,
                st.zc_notifications, st.recv_completions, st.recv_kicks, st.send_kicks, st.recv_stalls);
        xfer_report_socket(x);
        fflush(stderr);
}

/* True once nothing moved for XFER_FAIL_MS; reports the stall on the way. */
static bool xfer_stalled(xfer *x) {
        int pending = maio_send_pending(x->ring, x->h);
        int64_t now = now_ms();
        if (pending < x->last_pending) {
                x->last_progress = now;
                x->stall_reported = false;
        }
        x->last_pending = pending;
        if (now - x->last_progress > XFER_STALL_MS && !x->stall_reported) {
                xfer_report_stall(x, now - x->last_progress);
                x->stall_reported = true;
        }
        return now - x->last_progress > XFER_FAIL_MS;
}

static int xfer_run(xfer *x) {
        x->last_progress = now_ms();
        for (;;) {
                bool tx_done = x->sent == x->total && (!x->udp || x->peer_ack == x->tx_seq);
                if (x->got == x->total && tx_done && maio_send_pending(x->ring, x->h) == 0)
                        return 0;
                int r = xfer_send(x);
                if (r == -ECONNREFUSED && x->udp && x->got == x->total && x->sent == x->total)
                        /* The peer exits only once it has all our data: its last ack was lost. */
                        return 0;
                if (r < 0)
                        return r;
                struct iovec iov[32];
                int n = maio_recv_sg(x->ring, x->h, iov, 32, 0);
                if (n == -EAGAIN) {
                        maio_ring_poll(x->ring, 1);
                        if (xfer_stalled(x))
                                return -ETIMEDOUT;
                        /* Re-send credit every 100 ms of a quiet spell (lost acknowledgements)
                         * without counting that as progress: a stall must still fail. */
                        int64_t now = now_ms();
                        if (x->udp && now - x->last_progress > 200 && now - x->last_credit >= 100) {
                                x->acked_sent = x->rx_seq - UDP_WINDOW;
                                x->last_credit = now;
                        }
                        continue;
                }
                if (n == 0)
                        return x->got < x->total ? -ECONNRESET : 0;
                if (n == -ECONNREFUSED && x->udp && x->got == x->total && x->sent == x->total)
                        return 0;
                if (n < 0)
                        return n;
                for (int i = 0; i < n; i++) {
                        r = xfer_check(x, iov[i].iov_base, iov[i].iov_len);
                        maio_recv_release(x->ring, iov[i].iov_base);
                        if (r < 0)
                                return r;
                }
                x->last_progress = now_ms();
                x->stall_reported = false;
        }
        return 0;
}

/* UDP: --local and --connect name both ends; the end started first passes --wait. */
static int xfer_open(xfer *x, const char *listen_addr, const char *connect_addr, const char *local_addr) {
        struct sockaddr_storage ss, ls;
        socklen_t len, llen;
        int type = x->udp ? SOCK_DGRAM : SOCK_STREAM;
        if (x->udp) {
                if (!local_addr || !connect_addr || parse_addr(local_addr, &ls, &llen) < 0 ||
                    parse_addr(connect_addr, &ss, &len) < 0)
                        return -EINVAL;
                x->h = maio_listen(x->ring, type, (struct sockaddr *) &ls, llen, 0);
                if (x->h < 0)
                        return x->h;
                int big = 32 << 20;
                (void) setsockopt(maio_fd(x->ring, x->h), SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
                (void) setsockopt(maio_fd(x->ring, x->h), SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big));
                printf("READY\n");
                fflush(stdout);
                return maio_connect_handle(x->ring, x->h, (struct sockaddr *) &ss, len, 5000);
        }
        if (listen_addr) {
                if (parse_addr(listen_addr, &ss, &len) < 0)
                        return -EINVAL;
                int l = maio_listen(x->ring, type, (struct sockaddr *) &ss, len, 4);
                if (l < 0)
                        return l;
                printf("READY\n");
                fflush(stdout);
                x->h = maio_accept(x->ring, l, 20000);
                maio_close(x->ring, l);
                return x->h < 0 ? x->h : 0;
        }
        if (!connect_addr || parse_addr(connect_addr, &ss, &len) < 0)
                return -EINVAL;
        for (int tries = 0; tries < 50; tries++) {
                x->h = maio_connect(x->ring, type, (struct sockaddr *) &ss, len, 5000);
                if (x->h != -ECONNREFUSED)
                        break;
                struct timespec ts = { 0, 100 * 1000 * 1000 };
                nanosleep(&ts, NULL);
        }
        return x->h < 0 ? x->h : 0;
}

/* After a failure: the TCP state of our socket, so a stalled stream says where its bytes are
 * (unsent in our queue, unread at the peer, window closed). */
static void xfer_report_socket(xfer *x) {
        int fd = x->ring && x->h >= 0 ? maio_fd(x->ring, x->h) : -1;
        struct tcp_info ti = { 0 };
        socklen_t len = sizeof(ti);
        int inq = -1, outq = -1, notsent = -1;
        if (fd < 0 || x->udp)
                return;
        (void) ioctl(fd, SIOCINQ, &inq);
        (void) ioctl(fd, SIOCOUTQ, &outq);
        (void) ioctl(fd, SIOCOUTQNSD, &notsent);
        if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
                return;
        fprintf(stderr,
                "maio-xfer: socket inq %d outq %d notsent %d; tcp state %u ca %u unacked %u retrans %u lost %u "
                "cwnd %u snd_wnd %u rcv_space %u pmtu %u probes %u backoff %u\n",
                inq, outq, notsent, ti.tcpi_state, ti.tcpi_ca_state, ti.tcpi_unacked, ti.tcpi_total_retrans,
                ti.tcpi_lost, ti.tcpi_snd_cwnd, ti.tcpi_snd_wnd, ti.tcpi_rcv_space, ti.tcpi_pmtu, ti.tcpi_probes,
                ti.tcpi_backoff);
}

/* Prints the result lines and checks the mode did what it says. Returns r or -EPROTO. */
static int xfer_report(xfer *x, int r, double secs) {
        maio_ring_stats st = { 0 };
        if (x->ring)
                maio_ring_stats_get(x->ring, &st);
        printf("RESULT tx %" PRIu64 " %016" PRIx64 " rx %" PRIu64 " %016" PRIx64 "\n", x->tx.n,
               pattern_sum_value(&x->tx), x->rx.n, pattern_sum_value(&x->rx));
        printf("STATS %.2fs %.0f MB/s each way; sends %" PRIu64 " zc %" PRIu64 " copy %" PRIu64 " notif %" PRIu64
               " zc-copied %" PRIu64 " staging-copies %" PRIu64 " recv %" PRIu64 " rearms %" PRIu64 " stalls %" PRIu64
               " recv-kicks %" PRIu64 " send-kicks %" PRIu64 " nobufs %" PRIu64 " ring-full %" PRIu64
               " wait-syscalls %" PRIu64 "\n",
               secs, secs > 0 ? (double) x->got / 1e6 / secs : 0.0, st.sends, st.sends_zc, st.sends_copy,
               st.zc_notifications, st.zc_copied, st.copies, st.recv_completions, st.recv_rearms, st.recv_stalls,
               st.recv_kicks, st.send_kicks, st.recv_nobufs, st.ring_full, st.wait_syscalls);
        maio_ring_mode_info m = { .reason = "no ring" };
        if (x->ring)
                (void) maio_ring_mode_get(x->ring, &m);
        printf("MODE %s (%s); zero-copy by cost: %" PRIu64 " judgments, %" PRIu64
               " chose copy (ns/KiB copy %.1f, zc %.1f)\n",
               maio_ring_mode_to_string(m.mode), m.reason, m.zc_judgments, m.zc_judged_copy, m.zc_ns_per_kib[0],
               m.zc_ns_per_kib[1]);
        if (r < 0) {
                fprintf(stderr, "maio-xfer: %s\n", strerror(-r));
                xfer_report_socket(x);
        }
        if (r >= 0 && x->zc && st.sends_zc == 0 && st.zc_supported) {
                fprintf(stderr, "maio-xfer: zero-copy mode made no SEND_ZC send\n");
                r = -EPROTO;
        }
        if (r >= 0 && !x->zc && st.sends_zc != 0) {
                fprintf(stderr, "maio-xfer: copy mode made SEND_ZC sends\n");
                r = -EPROTO;
        }
        return r;
}

int main(int argc, char **argv) {
        static const struct option opts[] = { { "listen", required_argument, NULL, 'l' },
                                              { "connect", required_argument, NULL, 'c' },
                                              { "local", required_argument, NULL, 'L' },
                                              { "proto", required_argument, NULL, 'p' },
                                              { "mode", required_argument, NULL, 'm' },
                                              { "bytes", required_argument, NULL, 'b' },
                                              { "seed", required_argument, NULL, 's' },
                                              { "wait", no_argument, NULL, 'w' },
                                              {} };
        const char *listen_addr = NULL, *connect_addr = NULL, *local_addr = NULL;
        xfer x = { .zc = true, .total = 1ull << 30 };
        uint64_t seed = 1;
        int c;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                switch (c) {
                case 'l':
                        listen_addr = optarg;
                        break;
                case 'c':
                        connect_addr = optarg;
                        break;
                case 'L':
                        local_addr = optarg;
                        break;
                case 'p':
                        x.udp = strcmp(optarg, "udp") == 0;
                        break;
                case 'm':
                        x.zc = strcmp(optarg, "copy") != 0;
                        break;
                case 'b':
                        x.total = strtoull(optarg, NULL, 0);
                        break;
                case 's':
                        seed = strtoull(optarg, NULL, 0);
                        break;
                case 'w':
                        x.wait_peer = true;
                        break;
                default:
                        return 2;
                }
        /* Each end sends the stream of its own seed and expects the other's. */
        bool first = listen_addr || x.wait_peer;
        x.tx_seed = first ? seed : seed + 1;
        x.rx_seed = first ? seed + 1 : seed;
        x.rng = x.tx_seed * 0x9e3779b97f4a7c15ull | 1;

        maio_pool_config pc = { .size = 64u << 20, .numa_node = -1, .flags = MAIO_POOL_NO_DAEMON };
        maio_ring_config rc = { .sq_thread_cpu = -1,
                                .recv_buffers = 256,
                                .flags = x.zc ? 0 : MAIO_RING_NO_ZC,
                                .zc_threshold = x.zc ? 1 : 0 };
        int r = maio_pool_new(&pc, &x.pool);
        if (r >= 0)
                r = maio_ring_new(x.pool, &rc, &x.ring);
        x.scratch = malloc(MAIO_CHUNK_SIZE);
        if (r >= 0 && !x.scratch)
                r = -ENOMEM;
        if (r >= 0)
                r = xfer_open(&x, listen_addr, connect_addr, local_addr);
        int64_t t0 = now_ms();
        if (r >= 0)
                r = xfer_run(&x);
        r = xfer_report(&x, r, (double) (now_ms() - t0) / 1000.0);
        free(x.scratch);
        maio_ring_free(x.ring);
        maio_pool_free(x.pool);
        return r < 0 ? 1 : 0;
}
