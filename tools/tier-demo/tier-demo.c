/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* maio-tier-demo: a memory-intensive demo tenant for tiering. It builds a random
 * graph as large as asked, walks it breadth-first (a moving frontier, the access
 * pattern INDIGO's evaluation uses), and prints the walk's wall-clock seconds. With
 * --tenant it is a tiering tenant itself: through libmaio's control client it asks
 * maiod for its thresholds and reports the walk's time as the episode's feedback. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "maio/ctl.h"
#include "time-util.h"

typedef struct Graph {
        uint32_t n, degree;
        uint32_t *edges; /* n * degree neighbour ids */
        uint32_t *queue; /* BFS frontier */
        uint8_t *seen;
} Graph;

typedef struct Options {
        uint64_t megabytes;
        unsigned degree, rounds;
        uint64_t seed;
        int64_t tenant; /* 0: do not talk to maiod */
        maio_ctl_config ctl;
} Options;

/* splitmix64: a seeded, portable stream for the edges. */
static uint64_t next_random(uint64_t *x) {
        uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));

        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

static void graph_free(Graph *g) {
        free(g->edges);
        free(g->queue);
        free(g->seen);
        memset(g, 0, sizeof *g);
}

/* Half of each node's edges go to nearby ids (locality, as in real graphs), half anywhere. */
static int graph_build(Graph *g, const Options *o) {
        uint64_t bytes_per_node = (uint64_t) o->degree * sizeof(uint32_t) + sizeof(uint32_t) + 1, x = o->seed;
        uint64_t n = o->megabytes * 1024 * 1024 / bytes_per_node;

        if (n < 2 || n > UINT32_MAX)
                return -ERANGE;
        g->n = (uint32_t) n;
        g->degree = o->degree;
        g->edges = malloc(n * o->degree * sizeof(uint32_t));
        g->queue = malloc(n * sizeof(uint32_t));
        g->seen = malloc(n);
        if (!g->edges || !g->queue || !g->seen)
                return -ENOMEM;
        for (uint64_t v = 0; v < n; v++)
                for (unsigned e = 0; e < o->degree; e++) {
                        uint64_t r = next_random(&x);

                        g->edges[v * o->degree + e] = e % 2 ? (uint32_t) (r % n) : (uint32_t) ((v + 1 + r % 64) % n);
                }
        return 0;
}

/* One breadth-first walk from src; returns the nodes reached. */
static uint64_t graph_bfs(Graph *g, uint32_t src) {
        uint64_t head = 0, tail = 0;

        memset(g->seen, 0, g->n);
        g->queue[tail++] = src;
        g->seen[src] = 1;
        while (head < tail) {
                uint32_t v = g->queue[head++];
                const uint32_t *adj = &g->edges[(uint64_t) v * g->degree];

                for (unsigned e = 0; e < g->degree; e++)
                        if (!g->seen[adj[e]]) {
                                g->seen[adj[e]] = 1;
                                g->queue[tail++] = adj[e];
                        }
        }
        return tail;
}

static void usage(FILE *f) {
        fprintf(f, "Usage: maio-tier-demo [--megabytes N] [--degree D] [--rounds R] [--seed S]\n"
                   "                      [--tenant ID [--transport auto|netlink|rest] [--runtime-dir DIR]\n"
                   "                       [--socket PATH]]\n\n"
                   "Builds a random graph of about N MiB (default 256) with D edges per node (default 8),\n"
                   "walks it breadth-first R times (default 4) from seeded random sources, and prints the\n"
                   "seconds the walks took: a completion time to report with 'maioctl feedback'.\n\n"
                   "With --tenant, maiod's tenant ID runs one tiering episode: the demo gets its thresholds,\n"
                   "walks, and reports the time as the episode's feedback itself (libmaio's control client,\n"
                   "over netlink or maiod's REST socket in RUNTIME_DIR, default /run/maiod).\n");
}

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret) {
        char *end;
        unsigned long long v;

        if (!s || *s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || *end != '\0' || v < min || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int parse_args(int argc, char **argv, Options *o) {
        static const struct option options[] = {
                { "megabytes", required_argument, NULL, 'm' },
                { "degree", required_argument, NULL, 'd' },
                { "rounds", required_argument, NULL, 'r' },
                { "seed", required_argument, NULL, 's' },
                { "tenant", required_argument, NULL, 't' },
                { "transport", required_argument, NULL, 'T' },
                { "runtime-dir", required_argument, NULL, 'R' },
                { "socket", required_argument, NULL, 'S' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        uint64_t v;
        int c;

        while ((c = getopt_long(argc, argv, "m:d:r:s:t:h", options, NULL)) >= 0)
                switch (c) {
                case 'm':
                        if (parse_u64(optarg, 1, 1 << 20, &o->megabytes) < 0)
                                return -EINVAL;
                        break;
                case 'd':
                        if (parse_u64(optarg, 1, 64, &v) < 0)
                                return -EINVAL;
                        o->degree = (unsigned) v;
                        break;
                case 'r':
                        if (parse_u64(optarg, 1, 1000, &v) < 0)
                                return -EINVAL;
                        o->rounds = (unsigned) v;
                        break;
                case 's':
                        if (parse_u64(optarg, 0, UINT64_MAX, &o->seed) < 0)
                                return -EINVAL;
                        break;
                case 't':
                        if (parse_u64(optarg, 1, INT64_MAX, &v) < 0)
                                return -EINVAL;
                        o->tenant = (int64_t) v;
                        break;
                case 'T':
                        for (o->ctl.transport = MAIO_TRANSPORT_AUTO;
                             maio_transport_to_string(o->ctl.transport) &&
                             strcmp(optarg, maio_transport_to_string(o->ctl.transport)) != 0;)
                                o->ctl.transport++;
                        if (!maio_transport_to_string(o->ctl.transport))
                                return -EINVAL;
                        break;
                case 'R':
                        o->ctl.runtime_dir = optarg;
                        break;
                case 'S':
                        o->ctl.socket_path = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        return -EINVAL;
                }
        return optind == argc ? 1 : -EINVAL;
}

/* The tenant's thresholds for the episode about to run. Returns 0 or -errno (reported). */
static int episode_begin(const Options *o, maio_ctl **ret_ctl, maio_thresholds *ret) {
        int r = maio_ctl_open(&o->ctl, ret_ctl);

        if (r < 0) {
                fprintf(stderr, "maio-tier-demo: cannot reach maiod: %s\n", strerror(-r));
                return r;
        }
        r = maio_ctl_thresholds(*ret_ctl, o->tenant, ret);
        if (r < 0)
                fprintf(stderr, "maio-tier-demo: thresholds of tenant %" PRId64 ": %s\n", o->tenant,
                        maio_ctl_error(*ret_ctl));
        return r;
}

/* Reports the walk's seconds as the episode's feedback. Returns 0 or -errno (reported). */
static int episode_end(const Options *o, maio_ctl *ctl, const maio_thresholds *th, double seconds) {
        maio_feedback fb = { .episode = th->episode, .completion_time_s = seconds, .requests_per_s = NAN };
        maio_feedback_result res;
        int r = maio_ctl_feedback(ctl, o->tenant, &fb, &res);

        if (r < 0) {
                fprintf(stderr, "maio-tier-demo: feedback of episode %" PRId64 ": %s\n", th->episode,
                        maio_ctl_error(ctl));
                return r;
        }
        fprintf(stderr,
                "maio-tier-demo: episode %" PRId64 " (%s, access rate >= %g/s, burst >= %g s) took %.3f s, reward %g; "
                "over %s\n",
                th->episode, th->policy, th->access_rate, th->burst_duration, seconds, res.reward,
                maio_transport_to_string(maio_ctl_transport(ctl)));
        return 0;
}

int main(int argc, char **argv) {
        Options o = { .megabytes = 256, .degree = 8, .rounds = 4, .seed = 1 };
        maio_ctl *ctl = NULL;
        maio_thresholds th;
        Graph g = {};
        uint64_t reached = 0, x;
        double start, seconds;
        int r;

        r = parse_args(argc, argv, &o);
        if (r <= 0) {
                if (r < 0)
                        usage(stderr);
                return r < 0 ? 2 : 0;
        }
        r = graph_build(&g, &o);
        if (r < 0) {
                fprintf(stderr, "maio-tier-demo: cannot build a graph of %" PRIu64 " MiB: %s\n", o.megabytes,
                        strerror(-r));
                graph_free(&g);
                return 1;
        }
        if (o.tenant > 0 && episode_begin(&o, &ctl, &th) < 0) {
                maio_ctl_close(ctl);
                graph_free(&g);
                return 1;
        }
        x = o.seed ^ UINT64_C(0x5eed);
        start = now_sec(CLOCK_MONOTONIC);
        for (unsigned i = 0; i < o.rounds; i++)
                reached += graph_bfs(&g, (uint32_t) (next_random(&x) % g.n));
        seconds = now_sec(CLOCK_MONOTONIC) - start;
        printf("%.6f\n", seconds);
        fprintf(stderr, "maio-tier-demo: %u walks over %" PRIu32 " nodes (%" PRIu64 " MiB), %" PRIu64 " visits\n",
                o.rounds, g.n, o.megabytes, reached);
        graph_free(&g);
        r = ctl ? episode_end(&o, ctl, &th, seconds) : 0;
        maio_ctl_close(ctl);
        return r < 0 ? 1 : 0;
}
