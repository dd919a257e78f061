/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Benchmark driver (not a test; tests/bench/netlink/run runs it): N client processes, each with its
 * own tenant, send one operation back to back for a fixed time over one transport and report every
 * round-trip time; the parent prints requests/s and the p50/p99 latency. Netlink and the REST unix
 * socket go through libmaio's control client (one kept-alive connection per process); REST over
 * TCP uses libcurl with the tenant's bearer token, one easy handle (kept-alive) per process. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "ctl-internal.h"
#include "maio/ctl.h"
#include "time-util.h"

#define MAX_PROCS 64
#define MAX_SAMPLES (4u * 1024u * 1024u)

typedef enum { T_NETLINK, T_REST_UNIX, T_REST_TCP } Transport;
typedef enum { OP_THRESHOLDS, OP_FEEDBACK, OP_HEALTH } Op;

typedef struct Options {
        Transport transport;
        Op op;
        unsigned procs;
        double seconds;
        const char *runtime_dir, *socket, *tcp;
} Options;

typedef struct Client {
        maio_ctl *ctl;
        CtlConn conn; /* health: the transport alone, below the typed calls */
        CURL *curl;
        struct curl_slist *headers;
        char url_thresholds[256], url_feedback[256], url_health[256];
        int64_t tenant, episode;
        char token[64];
} Client;

static size_t sink(char *p, size_t size, size_t n, void *userdata) {
        return size * n;
}

/* The episode of a feedback reply's "next" thresholds, from REST's JSON (enough for a driver). */
static size_t sink_episode(char *p, size_t size, size_t n, void *userdata) {
        char *next = memmem(p, size * n, "\"next\"", 6), *e;

        if (next && (e = memmem(next, size * n - (size_t) (next - p), "\"episode\":", 10)))
                *(int64_t *) userdata = strtoll(e + 10, NULL, 10);
        return size * n;
}

static int tcp_call(Client *c, Op op) {
        char body[128];
        long status = 0;

        if (op == OP_THRESHOLDS) {
                curl_easy_setopt(c->curl, CURLOPT_URL, c->url_thresholds);
                curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
                curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, sink);
        } else {
                snprintf(body, sizeof body, "{\"episode\":%" PRId64 ",\"completion_time_s\":2.5}", c->episode);
                curl_easy_setopt(c->curl, CURLOPT_URL, c->url_feedback);
                curl_easy_setopt(c->curl, CURLOPT_COPYPOSTFIELDS, body);
                curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, sink_episode);
                curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &c->episode);
        }
        if (curl_easy_perform(c->curl) != CURLE_OK)
                return -EIO;
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
        return status == 200 || status == 202 ? 0 : -EPROTO;
}

static int call(Client *c, Op op) {
        maio_thresholds th;
        maio_feedback_result res;
        maio_feedback fb = { .episode = c->episode, .completion_time_s = 2.5, .requests_per_s = NAN };
        int r;

        if (op == OP_HEALTH) {
                json_object *reply = NULL;
                int status;

                if (c->curl) {
                        curl_easy_setopt(c->curl, CURLOPT_URL, c->url_health);
                        curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, sink);
                        return curl_easy_perform(c->curl) == CURLE_OK ? 0 : -EIO;
                }
                r = ctl_conn_request(&c->conn, "GET", "/v1/health", NULL, &status, &reply);
                json_object_put(reply);
                return r < 0 ? r : status == 200 ? 0 : -EPROTO;
        }
        if (c->curl)
                return tcp_call(c, op);
        if (op == OP_THRESHOLDS)
                return maio_ctl_thresholds(c->ctl, c->tenant, &th);
        r = maio_ctl_feedback(c->ctl, c->tenant, &fb, &res);
        if (r >= 0)
                c->episode = res.next.episode;
        return r;
}

static int client_open(const Options *o, unsigned index, Client *c) {
        maio_ctl_config cfg = { .transport = o->transport == T_NETLINK ? MAIO_TRANSPORT_NETLINK : MAIO_TRANSPORT_REST,
                                .runtime_dir = o->runtime_dir,
                                .socket_path = o->socket };
        maio_tenant_spec spec = { .name = NULL, .priority = -1 };
        maio_tenant t;
        maio_thresholds th;
        char name[64], auth[128];
        int r;

        r = maio_ctl_open(&cfg, &c->ctl);
        if (r < 0)
                return r;
        snprintf(name, sizeof name, "bench-%d-%u", (int) getpid(), index);
        spec.name = name;
        r = maio_ctl_register(c->ctl, &spec, &t);
        if (r < 0) {
                fprintf(stderr, "bench-netlink: register: %s\n", maio_ctl_error(c->ctl));
                return r;
        }
        c->tenant = t.id;
        r = maio_ctl_thresholds(c->ctl, t.id, &th); /* opens the first episode */
        if (r < 0)
                return r;
        c->episode = th.episode;
        if (o->op == OP_HEALTH && o->transport != T_REST_TCP) {
                r = ctl_conn_open(&c->conn, cfg.transport, o->runtime_dir, 0, o->socket, 5000);
                if (r < 0)
                        return r;
        }
        if (o->transport != T_REST_TCP)
                return 0;
        c->curl = curl_easy_init();
        if (!c->curl)
                return -ENOMEM;
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", t.token);
        c->headers = curl_slist_append(NULL, auth);
        c->headers = curl_slist_append(c->headers, "Content-Type: application/json");
        snprintf(c->url_thresholds, sizeof c->url_thresholds, "http://%s/v1/tenants/%" PRId64 "/thresholds", o->tcp,
                 t.id);
        snprintf(c->url_health, sizeof c->url_health, "http://%s/v1/health", o->tcp);
        snprintf(c->url_feedback, sizeof c->url_feedback, "http://%s/v1/tenants/%" PRId64 "/feedback", o->tcp, t.id);
        curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers);
        curl_easy_setopt(c->curl, CURLOPT_TCP_NODELAY, 1L);
        return 0;
}

/* One client process: requests for o->seconds, each latency in nanoseconds written to fd. */
static int client_run(const Options *o, unsigned index, int fd) {
        Client c = {};
        uint64_t end, t0, t1;
        uint32_t *lat = malloc(MAX_SAMPLES * sizeof *lat);
        size_t n = 0;
        int r;

        if (!lat)
                return 1;
        r = client_open(o, index, &c);
        if (r < 0) {
                fprintf(stderr, "bench-netlink: client %u: %s\n", index, strerror(-r));
                return 1;
        }
        end = now_usec(CLOCK_MONOTONIC) + (uint64_t) (o->seconds * 1e6);
        do {
                t0 = now_usec(CLOCK_MONOTONIC);
                r = call(&c, o->op);
                t1 = now_usec(CLOCK_MONOTONIC);
                if (r < 0) {
                        fprintf(stderr, "bench-netlink: client %u: request failed: %s (%s)\n", index, strerror(-r),
                                c.ctl ? maio_ctl_error(c.ctl) : "");
                        return 1;
                }
                lat[n++] = (uint32_t) ((t1 - t0) > UINT32_MAX / 1000 ? UINT32_MAX : (t1 - t0) * 1000);
        } while (t1 < end && n < MAX_SAMPLES);
        if (write(fd, lat, n * sizeof *lat) != (ssize_t) (n * sizeof *lat))
                return 1;
        maio_ctl_unregister(c.ctl, c.tenant);
        maio_ctl_close(c.ctl);
        if (c.conn.transport != MAIO_TRANSPORT_AUTO)
                ctl_conn_close(&c.conn);
        curl_slist_free_all(c.headers);
        if (c.curl)
                curl_easy_cleanup(c.curl);
        free(lat);
        return 0;
}

static int cmp_u32(const void *a, const void *b) {
        uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;

        return x < y ? -1 : x > y;
}

static int parse(int argc, char **argv, Options *o) {
        if (argc != 8)
                return -EINVAL;
        o->transport = strcmp(argv[1], "netlink") == 0     ? T_NETLINK
                       : strcmp(argv[1], "rest-unix") == 0 ? T_REST_UNIX
                       : strcmp(argv[1], "rest-tcp") == 0  ? T_REST_TCP
                                                           : (Transport) -1;
        o->op = strcmp(argv[2], "thresholds") == 0 ? OP_THRESHOLDS
                : strcmp(argv[2], "feedback") == 0 ? OP_FEEDBACK
                : strcmp(argv[2], "health") == 0   ? OP_HEALTH
                                                   : (Op) -1;
        o->procs = (unsigned) atoi(argv[3]);
        o->seconds = atof(argv[4]);
        o->runtime_dir = argv[5];
        o->socket = argv[6];
        o->tcp = argv[7];
        if ((int) o->transport < 0 || (int) o->op < 0 || o->procs < 1 || o->procs > MAX_PROCS || o->seconds <= 0)
                return -EINVAL;
        return 0;
}

int main(int argc, char **argv) {
        Options o;
        pid_t pids[MAX_PROCS];
        int fds[MAX_PROCS], status, failed = 0;
        uint32_t *all = malloc((size_t) MAX_PROCS * MAX_SAMPLES / 8 * sizeof *all);
        size_t n = 0, cap = (size_t) MAX_PROCS * MAX_SAMPLES / 8;

        if (parse(argc, argv, &o) < 0 || !all) {
                fprintf(stderr,
                        "Usage: bench-netlink netlink|rest-unix|rest-tcp thresholds|feedback|health PROCS SECONDS "
                        "RUNTIME_DIR SOCKET HOST:PORT\n");
                return 2;
        }
        curl_global_init(CURL_GLOBAL_DEFAULT);
        for (unsigned i = 0; i < o.procs; i++) {
                int p[2];

                if (pipe(p) < 0)
                        return 1;
                pids[i] = fork();
                if (pids[i] == 0) {
                        close(p[0]);
                        _exit(client_run(&o, i, p[1]));
                }
                close(p[1]);
                fds[i] = p[0];
        }
        for (unsigned i = 0; i < o.procs; i++) {
                ssize_t k;

                while (n < cap && (k = read(fds[i], all + n, (cap - n) * sizeof *all)) > 0)
                        n += (size_t) k / sizeof *all;
                close(fds[i]);
                waitpid(pids[i], &status, 0);
                failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
        }
        if (failed || n == 0) {
                fprintf(stderr, "bench-netlink: a client failed\n");
                return 1;
        }
        qsort(all, n, sizeof *all, cmp_u32);
        /* requests, requests/s, p50 and p99 in microseconds */
        printf("%zu %.0f %.1f %.1f\n", n, (double) n / o.seconds, all[n / 2] / 1000.0, all[n * 99 / 100] / 1000.0);
        free(all);
        curl_global_cleanup();
        return 0;
}
