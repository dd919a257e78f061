// SPDX-License-Identifier: LGPL-2.1-or-later
/* Test driver for daemon/mflow/: loads and attaches the MFLOW programs to one device, marks each
 * elephant split over the given cores (the daemon's job later), and prints events and, when its
 * standard input closes, the counters, as JSON lines. Exits 77 when the kernel refuses BPF or XDP. */
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "mflow-bpf.h"

#define EXIT_SKIP 77
#define MAX_SEEN 64

typedef struct Probe {
        MflowBpf *bpf;
        struct mflow_split split; /* applied to every elephant when ncores > 0 */
        int split_proto;          /* 0: any */
        struct mflow_key seen[MAX_SEEN];
        size_t n_seen;
} Probe;

static volatile sig_atomic_t stop;

static void on_signal(int sig) {
        stop = 1;
}

static __u64 now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (__u64) ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void print_key(const struct mflow_key *k) {
        char buf[MFLOW_KEY_STRING_MAX];

        printf("\"key\":\"%s\",\"proto\":%u,\"sport\":%u,\"dport\":%u,\"vni\":%lld",
               mflow_key_format(k, buf, sizeof(buf)), k->proto, k->sport, k->dport,
               k->vni == MFLOW_VNI_NONE ? -1LL : (long long) k->vni);
}

static int on_event(const struct mflow_event *e, void *userdata) {
        Probe *p = userdata;
        __u64 recv = now_ns();
        int r = 0;

        if (e->type == MFLOW_EVENT_ELEPHANT && p->split.ncores > 0 &&
            (p->split_proto == 0 || p->split_proto == e->key.proto)) {
                r = mflow_bpf_split(p->bpf, &e->key, &p->split);
                if (p->n_seen < MAX_SEEN)
                        p->seen[p->n_seen++] = e->key;
        }
        printf("{\"event\":\"%s\",", e->type == MFLOW_EVENT_ELEPHANT ? "elephant" : "idle");
        print_key(&e->key);
        printf(",\"cpu\":%u,\"ts_ns\":%llu,\"first_ns\":%llu,\"recv_ns\":%llu,\"bytes\":%llu,\"packets\":%llu,"
               "\"rate\":%llu,\"split\":%d}\n",
               e->cpu, (unsigned long long) e->ts_ns, (unsigned long long) e->first_ns, (unsigned long long) recv,
               (unsigned long long) e->bytes, (unsigned long long) e->packets, (unsigned long long) e->rate, r);
        fflush(stdout);
        return 0;
}

static void print_report(Probe *p) {
        _cleanup_free_ struct mflow_cpu_stats *c = NULL;
        size_t n = 0;

        if (mflow_bpf_counters(p->bpf, &c, &n) >= 0)
                for (size_t i = 0; i < n; i++)
                        printf("{\"cpu\":%zu,\"packets\":%llu,\"non_ip\":%llu,\"microflows\":%llu,\"redirects\":%llu,"
                               "\"redirect_errors\":%llu,\"cpumap_packets\":%llu,\"events\":%llu,"
                               "\"events_dropped\":%llu,\"tc_segments\":%llu,\"tc_ooo_segments\":%llu}\n",
                               i, (unsigned long long) c[i].packets, (unsigned long long) c[i].non_ip,
                               (unsigned long long) c[i].microflows, (unsigned long long) c[i].redirects,
                               (unsigned long long) c[i].redirect_errors, (unsigned long long) c[i].cpumap_packets,
                               (unsigned long long) c[i].events, (unsigned long long) c[i].events_dropped,
                               (unsigned long long) c[i].tc_segments, (unsigned long long) c[i].tc_ooo_segments);
        for (size_t i = 0; i < p->n_seen; i++) {
                struct mflow_state st;
                struct mflow_reorder ro = {};

                if (mflow_bpf_flow(p->bpf, &p->seen[i], &st) < 0)
                        continue;
                (void) mflow_bpf_reorder(p->bpf, &p->seen[i], &ro);
                printf("{\"flow\":true,");
                print_key(&p->seen[i]);
                printf(",\"bytes\":%llu,\"packets\":%llu,\"split_packets\":%llu,\"microflows\":%llu,"
                       "\"segments\":%llu,\"ooo_segments\":%llu,\"core_packets\":[",
                       (unsigned long long) st.bytes, (unsigned long long) st.packets,
                       (unsigned long long) st.split_packets, (unsigned long long) st.microflows,
                       (unsigned long long) ro.segments, (unsigned long long) ro.ooo_segments);
                for (unsigned k = 0; k < p->split.ncores; k++)
                        printf("%s%llu", k ? "," : "", (unsigned long long) st.core_packets[k]);
                printf("]}\n");
        }
        fflush(stdout);
}

static int parse_cores(const char *s, struct mflow_split *split) {
        _cleanup_free_ char *copy = strdup(s);
        char *save = NULL;

        if (!copy)
                return -ENOMEM;
        split->ncores = 0;
        for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
                if (split->ncores >= MFLOW_MAX_CORES)
                        return -E2BIG;
                split->cores[split->ncores++] = strtoul(w, NULL, 10);
        }
        return 0;
}

static int run(Probe *p, const char *dev, MflowXdpMode mode, bool tc, const struct mflow_conf *conf) {
        struct pollfd fds[2];
        int ifindex, r;

        ifindex = if_nametoindex(dev);
        if (ifindex == 0)
                return fprintf(stderr, "mflow-probe: no device %s\n", dev), -ENODEV;
        r = mflow_bpf_open(&p->bpf);
        if (r >= 0)
                r = mflow_bpf_load(p->bpf);
        if (r < 0) {
                fprintf(stderr, "mflow-probe: cannot load the BPF programs: %s\n", strerror(-r));
                return r == -EPERM || r == -ENOSYS || r == -EOPNOTSUPP ? EXIT_SKIP : 1;
        }
        r = mflow_bpf_set_conf(p->bpf, conf);
        for (unsigned i = 0; r >= 0 && i < p->split.ncores; i++)
                r = mflow_bpf_set_cpu(p->bpf, p->split.cores[i], 2048);
        if (r < 0)
                return fprintf(stderr, "mflow-probe: cannot configure: %s\n", strerror(-r)), 1;
        r = mflow_bpf_attach(p->bpf, ifindex, mode);
        if (r < 0) {
                fprintf(stderr, "mflow-probe: cannot attach XDP (%s) to %s: %s\n", mflow_xdp_mode_to_string(mode), dev,
                        strerror(-r));
                return r == -EOPNOTSUPP ? EXIT_SKIP : 1;
        }
        if (tc && (r = mflow_bpf_attach_tc(p->bpf, ifindex)) < 0)
                return fprintf(stderr, "mflow-probe: cannot attach tc to %s: %s\n", dev, strerror(-r)), 1;
        printf("{\"ready\":true}\n");
        fflush(stdout);

        fds[0] = (struct pollfd) { .fd = STDIN_FILENO, .events = POLLIN };
        fds[1] = (struct pollfd) { .fd = mflow_bpf_events_fd(p->bpf), .events = POLLIN };
        while (!stop) {
                char buf[64];

                if (poll(fds, 2, 1000) < 0 && errno != EINTR)
                        return 1;
                if (mflow_bpf_events_poll(p->bpf, 0, on_event, p) < 0)
                        return 1;
                if ((fds[0].revents & (POLLIN | POLLHUP)) && read(STDIN_FILENO, buf, sizeof(buf)) <= 0)
                        break;
        }
        (void) mflow_bpf_events_poll(p->bpf, 0, on_event, p);
        print_report(p);
        r = mflow_bpf_detach(p->bpf);
        if (r < 0)
                return fprintf(stderr, "mflow-probe: detach failed: %s\n", strerror(-r)), 1;
        return 0;
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "dev", required_argument, NULL, 'd' },
                { "xdp", required_argument, NULL, 'x' },
                { "tc", no_argument, NULL, 't' },
                { "cores", required_argument, NULL, 'c' },
                { "mode", required_argument, NULL, 'm' },
                { "batch", required_argument, NULL, 'b' },
                { "elephant", required_argument, NULL, 'e' },
                { "idle-ms", required_argument, NULL, 'i' },
                { "gap-us", required_argument, NULL, 'g' },
                { "proto", required_argument, NULL, 'p' },
                {},
        };
        Probe p = {};
        struct mflow_conf conf;
        const char *dev = NULL;
        int mode = MFLOW_XDP_NATIVE, opt, r;
        bool tc = false;

        mflow_conf_default(&conf);
        while ((opt = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (opt) {
                case 'd':
                        dev = optarg;
                        break;
                case 'x':
                        mode = mflow_xdp_mode_from_string(optarg);
                        break;
                case 't':
                        tc = true;
                        break;
                case 'c':
                        parse_cores(optarg, &p.split);
                        break;
                case 'm':
                        conf.mode = strcmp(optarg, "pass") == 0      ? MFLOW_MODE_PASS
                                    : strcmp(optarg, "flowlet") == 0 ? MFLOW_MODE_FLOWLET
                                                                     : MFLOW_MODE_SPLIT;
                        break;
                case 'b':
                        conf.batch = strtoul(optarg, NULL, 10);
                        break;
                case 'e':
                        conf.elephant_rate = strtoull(optarg, NULL, 10);
                        break;
                case 'i':
                        conf.idle_ns = strtoull(optarg, NULL, 10) * 1000000ull;
                        break;
                case 'g':
                        conf.flowlet_gap_ns = strtoull(optarg, NULL, 10) * 1000ull;
                        break;
                case 'p':
                        p.split_proto = strcmp(optarg, "tcp") == 0 ? 6 : strcmp(optarg, "udp") == 0 ? 17 : 0;
                        break;
                default:
                        return 2;
                }
        if (!dev || mode < 0) {
                fprintf(stderr, "usage: mflow-probe --dev IF [--xdp native|generic] [--tc] [--cores 0,1] "
                                "[--mode split|flowlet|pass] [--batch N] [--elephant BYTES_PER_S] [--idle-ms N] "
                                "[--gap-us N] [--proto tcp|udp]\n");
                return 2;
        }
        signal(SIGTERM, on_signal);
        signal(SIGINT, on_signal);
        r = run(&p, dev, mode, tc, &conf);
        p.bpf = mflow_bpf_free(p.bpf);
        return r < 0 ? 1 : r;
}
