/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The SOCKMAP relay of Fig. 4, issue 14 item 2's alternative to splice: the relay puts its inbound
 * connection in a sockmap whose stream verdict (sockmap.bpf.c) redirects every segment to the
 * egress of the outbound one, then only waits for the end of the stream. The bytes move in the
 * kernel (softirq and the psock's worker), so the relay process's own CPU time says nothing: the
 * run script charges every row of Fig. 4 with the whole machine's busy time as well. */

#include <errno.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench.h"

/* Bytes the verdict redirected so far (a per-CPU counter). */
static int relayed_bytes(int map_fd, uint64_t *ret) {
        int ncpu = libbpf_num_possible_cpus();
        uint32_t key = 0;
        if (ncpu <= 0)
                return -EINVAL;
        uint64_t *v = calloc((size_t) ncpu, sizeof(*v));
        if (!v)
                return -ENOMEM;
        int r = bpf_map_lookup_elem(map_fd, &key, v) < 0 ? -errno : 0;
        *ret = 0;
        for (int i = 0; r == 0 && i < ncpu; i++)
                *ret += v[i];
        free(v);
        return r;
}

static uint64_t bytes_acked(int fd) {
        struct tcp_info ti = {};
        socklen_t len = sizeof(ti);
        return getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 ? ti.tcpi_bytes_acked : 0;
}

/* Waits for the end of the inbound stream: the source's FIN, or an error. Returns 0 or -errno
 * (-EPROTO if bytes reached the socket itself: the verdict missed them). */
static int wait_eof(int in, const bench_opts *o) {
        uint64_t deadline = bench_now_ns() + (uint64_t) ((o->duration + 30) * 1e9);
        for (;;) {
                struct pollfd p = { .fd = in, .events = POLLIN | POLLRDHUP };
                if (bench_now_ns() > deadline)
                        return -ETIMEDOUT;
                int k = poll(&p, 1, 1000);
                if (k < 0 && errno != EINTR)
                        return -errno;
                if (k <= 0)
                        continue;
                char c;
                ssize_t n = recv(in, &c, 1, MSG_DONTWAIT);
                if (n == 0)
                        return 0;
                if (n > 0)
                        return -EPROTO;
                if (errno != EAGAIN && errno != EINTR)
                        return -errno;
        }
}

/* After the stream ended: until the outbound connection's peer acknowledged every redirected
 * byte (the psock may still hold some), at most 10 s. */
static int wait_drained(int out, int count_fd, uint64_t *ret) {
        for (int i = 0; i < 10000; i++) {
                int r = relayed_bytes(count_fd, ret);
                if (r < 0)
                        return r;
                if (bytes_acked(out) >= *ret)
                        return 0;
                usleep(1000);
        }
        return -ETIMEDOUT;
}

int relay_sockmap(const bench_opts *o, bench_result *ret) {
        if (!o->bpf) {
                fprintf(stderr, "maio-bench: sockmap needs --bpf OBJECT (sockmap.bpf.c compiled)\n");
                return -EINVAL;
        }
        struct bpf_object *obj = bpf_object__open_file(o->bpf, NULL);
        if (!obj)
                return -errno;
        int r = bpf_object__load(obj);
        struct bpf_program *prog = r == 0 ? bpf_object__find_program_by_name(obj, "relay_verdict") : NULL;
        int in_map = bpf_object__find_map_fd_by_name(obj, "in_socks");
        int out_map = bpf_object__find_map_fd_by_name(obj, "out_socks");
        int count = bpf_object__find_map_fd_by_name(obj, "relayed");
        if (r == 0 && (!prog || in_map < 0 || out_map < 0 || count < 0))
                r = -ENOENT;
        if (r == 0 && bpf_prog_attach(bpf_program__fd(prog), in_map, BPF_SK_SKB_STREAM_VERDICT, 0) < 0)
                r = -errno;
        if (r < 0) {
                bpf_object__close(obj);
                return r;
        }
        int in = -1, out = -1;
        bench_clock c;
        r = relay_open(o, &in, &out);
        uint32_t key = 0;
        uint64_t fd_out = (uint64_t) out, fd_in = (uint64_t) in;
        if (r == 0 && (bpf_map_update_elem(out_map, &key, &fd_out, BPF_ANY) < 0 ||
                       bpf_map_update_elem(in_map, &key, &fd_in, BPF_ANY) < 0))
                r = -errno;
        /* Only now may the source stream: every byte it sends meets the verdict. */
        if (r == 0 && write(in, "g", 1) != 1)
                r = -errno;
        bench_clock_start(&c, o->duration);
        if (r == 0)
                r = wait_eof(in, o);
        uint64_t bytes = 0;
        if (r == 0)
                r = wait_drained(out, count, &bytes);
        bench_clock_stop(&c, ret);
        ret->bytes = bytes;
        ret->ops = ret->ops_total = bytes > 0;
        if (in >= 0)
                close(in);
        if (out >= 0)
                close(out);
        (void) bpf_prog_detach2(bpf_program__fd(prog), in_map, BPF_SK_SKB_STREAM_VERDICT);
        bpf_object__close(obj);
        return r;
}
