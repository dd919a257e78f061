/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* maio-bench: the senders and relays of the libmaio benchmarks (tests/bench/maio/run), one
 * program with a --method switch. Shared options, the measurement window and the methods. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct bench_opts {
        struct sockaddr_storage dst; /* where senders send, relays and sources connect */
        socklen_t dst_len;
        struct sockaddr_storage lst; /* where relays and sinks listen */
        socklen_t lst_len;
        size_t size;     /* bytes per send (per read for relays and sinks) */
        unsigned batch;  /* sends per syscall (sendmmsg, io_uring) */
        unsigned nbufs;  /* buffers in rotation (every UDP sender: the data they send), sends
                          * in flight (io_uring_sqpoll) */
        unsigned chain;  /* io_uring_sqpoll: link sends in chains of this many */
        bool zc;         /* io_uring_sqpoll: SEND_ZC from a registered buffer */
        double duration; /* seconds of the measurement window */
        int sq_cpu;      /* CPU of libmaio's SQPOLL thread, -1 unpinned */
        bool maio_spin;  /* libmaio, io_uring_sqpoll: poll without sleeping when
                          * back-pressured */
        bool one_buffer; /* raw senders: send one buffer over and over (a diagnostic: an always
                          * cache-hot source) instead of nbufs distinct ones */
        const char *bpf; /* sockmap: the compiled sockmap.bpf.c */
        bool wait_go;    /* source: stream only after the relay sent one byte back (it is ready) */
} bench_opts;

/* What one run measured, inside its window. */
typedef struct bench_result {
        uint64_t ops;       /* packets, or relayed reads */
        uint64_t bytes;     /* payload bytes */
        uint64_t ops_total; /* packets sent over the whole run (drop-counter check) */
        uint64_t wall_ns;
        uint64_t app_ns;   /* CPU time of the application thread */
        uint64_t total_ns; /* CPU time of every thread of the process (SQPOLL too) */
} bench_result;

/* The window: started after set-up, stopped before teardown. */
typedef struct bench_clock {
        uint64_t wall0, app0, total0;
        uint64_t deadline; /* CLOCK_MONOTONIC ns */
} bench_clock;

void bench_clock_start(bench_clock *c, double duration);
/* True once the window's duration has passed. */
bool bench_clock_expired(const bench_clock *c);
/* Fills wall_ns, app_ns and total_ns of *ret (ops and bytes are the caller's). */
void bench_clock_stop(const bench_clock *c, bench_result *ret);
uint64_t bench_now_ns(void);

/* Opens a UDP socket connected to o->dst (blocking). Returns the fd or -errno. */
int bench_udp_connect(const bench_opts *o);
/* A TCP connection to addr. Returns the fd or -errno. */
int bench_tcp_connect(const struct sockaddr_storage *addr, socklen_t len);
/* A listening TCP socket on addr (SO_REUSEADDR). Returns the fd or -errno. */
int bench_tcp_listen(const struct sockaddr_storage *addr, socklen_t len);
/* Accepts one connection, waiting at most timeout_ms. Returns the fd, -ETIMEDOUT or -errno. */
int bench_tcp_accept(int lfd, int timeout_ms);
/* Allocates size bytes filled with a pattern, page-aligned. Returns NULL on failure. */
void *bench_buffer(size_t size);

/* Methods. Each returns 0 and fills *ret, or -errno (after printing why). */
int udp_sendto(const bench_opts *o, bench_result *ret);
int udp_sendmmsg(const bench_opts *o, bench_result *ret);
int udp_uring(const bench_opts *o, bench_result *ret);
int udp_uring_sqpoll(const bench_opts *o, bench_result *ret);
int udp_zerocopy(const bench_opts *o, bench_result *ret);
int udp_sendfile(const bench_opts *o, bench_result *ret);
int udp_maio(const bench_opts *o, bench_result *ret);

int tcp_source(const bench_opts *o, bench_result *ret);
int tcp_sink(const bench_opts *o, bench_result *ret);
int relay_readwrite(const bench_opts *o, bench_result *ret);
int relay_splice(const bench_opts *o, bench_result *ret);
int relay_maio(const bench_opts *o, bench_result *ret);         /* the splice relay (default) */
int relay_maio_buffers(const bench_opts *o, bench_result *ret); /* MAIO_RELAY_BUFFERS */
int relay_sockmap(const bench_opts *o, bench_result *ret);      /* SOCKMAP stream verdict */

/* Relays: accepts the client on o->lst and connects to o->dst. Returns 0 or -errno. */
int relay_open(const bench_opts *o, int *ret_in, int *ret_out);
