/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Benchmark baseline: what libmicrohttpd alone gives. One epoll thread answers
 * every GET with the same small JSON body and headers as maiod's /v1/health.
 * Usage: bare-server PORT   (listens on 127.0.0.1, runs until SIGTERM/SIGINT) */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

static const char body[] = "{\"status\":\"ok\"}\n";

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
        static int seen; /* any non-NULL marker */
        struct MHD_Response *resp = cls;
        unsigned status = strcmp(method, "GET") == 0 ? MHD_HTTP_OK : MHD_HTTP_METHOD_NOT_ALLOWED;

        /* Answer on the second call, as maiod does: a response queued on the first
         * call (headers only) makes libmicrohttpd close the connection after it. */
        if (!*con_cls) {
                *con_cls = &seen;
                return MHD_YES;
        }
        /* Bodies are not expected; swallow any so the connection stays usable. */
        if (*upload_data_size > 0) {
                *upload_data_size = 0;
                return MHD_YES;
        }
        return MHD_queue_response(connection, status, resp);
}

static int parse_port(const char *s, unsigned short *ret) {
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || *end || end == s || v == 0 || v > 65535)
                return -EINVAL;
        *ret = (unsigned short) v;
        return 0;
}

int main(int argc, char *argv[]) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        struct MHD_Response *resp;
        struct MHD_Daemon *d;
        unsigned short port;
        sigset_t mask;
        int sig;

        if (argc != 2 || parse_port(argv[1], &port) < 0) {
                fprintf(stderr, "Usage: %s PORT\n", argv[0]);
                return EXIT_FAILURE;
        }
        sa.sin_port = htons(port);

        /* Block the stop signals before MHD starts its thread, so only sigwait() sees them. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        if (pthread_sigmask(SIG_BLOCK, &mask, NULL) != 0) {
                fprintf(stderr, "bare-server: failed to block signals\n");
                return EXIT_FAILURE;
        }

        /* One response object shared by every request: the cheapest answer MHD can give. */
        resp = MHD_create_response_from_buffer(sizeof body - 1, (void *) body, MHD_RESPMEM_PERSISTENT);
        if (!resp || MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json") != MHD_YES ||
            MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES) {
                fprintf(stderr, "bare-server: failed to create the response\n");
                return EXIT_FAILURE;
        }

        d = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_TURBO, port, NULL, NULL, on_request, resp,
                             MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &sa, MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096u,
                             MHD_OPTION_CONNECTION_LIMIT, 1000u, MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
        if (!d) {
                fprintf(stderr, "bare-server: failed to listen on 127.0.0.1:%u\n", (unsigned) port);
                MHD_destroy_response(resp);
                return EXIT_FAILURE;
        }
        printf("bare-server: listening on 127.0.0.1:%u\n", (unsigned) port);
        fflush(stdout);

        while (sigwait(&mask, &sig) != 0)
                ;
        MHD_stop_daemon(d);
        MHD_destroy_response(resp);
        return EXIT_SUCCESS;
}
