/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The TCP relay experiment (paper Fig. 4): a source that streams for the window, a sink that
 * discards, and the two baseline relays between them, read/write through a user buffer and
 * splice(2) through a pipe. The relay's own CPU time per byte is the figure. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bench.h"

/* Writes all of buf. Returns 0 or -errno. */
static int write_all(int fd, const uint8_t *buf, size_t len) {
        while (len > 0) {
                ssize_t n = write(fd, buf, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                buf += n;
                len -= (size_t) n;
        }
        return 0;
}

int tcp_source(const bench_opts *o, bench_result *ret) {
        bench_clock c;
        int fd = bench_tcp_connect(&o->dst, o->dst_len);
        if (fd < 0)
                return fd;
        uint8_t *buf = bench_buffer(o->size);
        int r = buf ? 0 : -ENOMEM;
        if (r == 0 && o->wait_go) {
                /* The relay is ready once it sends one byte back (the SOCKMAP relay must have
                 * the connection in its map before the first byte arrives). */
                uint8_t go;
                ssize_t n = read(fd, &go, 1);
                r = n == 1 ? 0 : n < 0 ? -errno : -EPIPE;
        }
        bench_clock_start(&c, o->duration);
        while (r == 0 && !bench_clock_expired(&c)) {
                r = write_all(fd, buf, o->size);
                ret->ops++;
                ret->bytes += o->size;
        }
        bench_clock_stop(&c, ret);
        ret->ops_total = ret->ops;
        free(buf);
        close(fd);
        return r;
}

int tcp_sink(const bench_opts *o, bench_result *ret) {
        bench_clock c;
        int lfd = bench_tcp_listen(&o->lst, o->lst_len);
        if (lfd < 0)
                return lfd;
        printf("READY\n");
        fflush(stdout);
        int fd = bench_tcp_accept(lfd, 30000);
        close(lfd);
        if (fd < 0)
                return fd;
        uint8_t *buf = bench_buffer(o->size);
        int r = buf ? 0 : -ENOMEM;
        bench_clock_start(&c, o->duration);
        while (r == 0) {
                ssize_t n = read(fd, buf, o->size);
                if (n == 0)
                        break;
                if (n < 0 && errno != EINTR)
                        r = -errno;
                if (n > 0) {
                        ret->ops++;
                        ret->bytes += (uint64_t) n;
                }
        }
        bench_clock_stop(&c, ret);
        ret->ops_total = ret->ops;
        free(buf);
        close(fd);
        return r;
}

int relay_readwrite(const bench_opts *o, bench_result *ret) {
        bench_clock c;
        int in, out;
        int r = relay_open(o, &in, &out);
        if (r < 0)
                return r;
        uint8_t *buf = bench_buffer(o->size);
        if (!buf)
                r = -ENOMEM;
        bench_clock_start(&c, o->duration);
        while (r == 0) {
                ssize_t n = read(in, buf, o->size);
                if (n == 0)
                        break;
                if (n < 0) {
                        if (errno != EINTR)
                                r = -errno;
                        continue;
                }
                r = write_all(out, buf, (size_t) n);
                ret->ops++;
                ret->bytes += (uint64_t) n;
        }
        bench_clock_stop(&c, ret);
        ret->ops_total = ret->ops;
        free(buf);
        close(in);
        close(out);
        return r;
}

/* Moves n bytes from the pipe to out. Returns 0 or -errno. */
static int splice_out(int pipe_rd, int out, size_t n) {
        while (n > 0) {
                ssize_t m = splice(pipe_rd, NULL, out, NULL, n, SPLICE_F_MOVE);
                if (m < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (m == 0)
                        return -EPIPE;
                n -= (size_t) m;
        }
        return 0;
}

int relay_splice(const bench_opts *o, bench_result *ret) {
        bench_clock c;
        int in, out, p[2];
        int r = relay_open(o, &in, &out);
        if (r < 0)
                return r;
        if (pipe2(p, O_CLOEXEC) < 0) {
                r = -errno;
                close(in);
                close(out);
                return r;
        }
        /* The pipe is the relay's buffer: as large as the other relays' buffers. */
        if (fcntl(p[1], F_SETPIPE_SZ, (int) o->size) < 0)
                r = -errno;
        bench_clock_start(&c, o->duration);
        while (r == 0) {
                ssize_t n = splice(in, NULL, p[1], NULL, o->size, SPLICE_F_MOVE);
                if (n == 0)
                        break;
                if (n < 0) {
                        if (errno != EINTR)
                                r = -errno;
                        continue;
                }
                r = splice_out(p[0], out, (size_t) n);
                ret->ops++;
                ret->bytes += (uint64_t) n;
        }
        bench_clock_stop(&c, ret);
        ret->ops_total = ret->ops;
        close(p[0]);
        close(p[1]);
        close(in);
        close(out);
        return r;
}
