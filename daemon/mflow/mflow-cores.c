// SPDX-License-Identifier: LGPL-2.1-or-later
/* MFLOW splitting-core assignment: the host snapshot below a root and the pure assignment. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "mflow-cores.h"

int mflow_cpulist_parse(const char *s, bool *set, unsigned max) {
        const char *p = s;

        while (*p && isspace((unsigned char) *p))
                p++;
        while (*p && *p != '\n') {
                char *end;
                unsigned long a, b;

                if (!isdigit((unsigned char) *p))
                        return -EINVAL;
                a = strtoul(p, &end, 10);
                b = a;
                if (*end == '-') {
                        if (!isdigit((unsigned char) end[1]))
                                return -EINVAL;
                        b = strtoul(end + 1, &end, 10);
                }
                if (b < a)
                        return -EINVAL;
                for (unsigned long i = a; i <= b && i < max; i++)
                        set[i] = true;
                p = end;
                if (*p == ',')
                        p++;
                else if (*p && *p != '\n')
                        return -EINVAL;
        }
        return 0;
}

/* The first line of root/rel, without its newline, into buf. Returns 0 or -errno. */
static int read_line(const char *root, const char *rel, char *buf, size_t size) {
        _cleanup_free_ char *path = NULL;
        _cleanup_fclose_ FILE *f = NULL;

        if (asprintf(&path, "%s/%s", root, rel) < 0)
                return -ENOMEM;
        f = fopen(path, "re");
        if (!f)
                return -errno;
        if (!fgets(buf, (int) size, f)) {
                buf[0] = '\0';
                return ferror(f) ? -EIO : 0;
        }
        buf[strcspn(buf, "\n")] = '\0';
        return 0;
}

static int read_cpulist(const char *root, const char *rel, bool *set) {
        char buf[4096];
        int r;

        r = read_line(root, rel, buf, sizeof(buf));
        if (r < 0)
                return r;
        return mflow_cpulist_parse(buf, set, MFLOW_MAX_CPUS);
}

/* A hex CPU mask as in rps_cpus ("00000000,0000000f"): the lowest bits are at the end. */
static void parse_hexmask(const char *s, bool *set) {
        size_t len = strcspn(s, "\n");
        unsigned bit = 0;

        for (size_t i = len; i > 0 && bit < MFLOW_MAX_CPUS; i--) {
                char c = s[i - 1];
                unsigned v;

                if (c == ',')
                        continue;
                if (!isxdigit((unsigned char) c))
                        return;
                v = (unsigned) (isdigit((unsigned char) c) ? c - '0' : tolower((unsigned char) c) - 'a' + 10);
                for (unsigned k = 0; k < 4 && bit < MFLOW_MAX_CPUS; k++, bit++)
                        if (v & (1u << k))
                                set[bit] = true;
        }
}

static void load_nodes(const char *root, MflowSnapshot *s) {
        _cleanup_free_ char *path = NULL;
        DIR *d;
        struct dirent *de;

        if (asprintf(&path, "%s/sys/devices/system/node", root) < 0)
                return;
        d = opendir(path);
        if (!d)
                return;
        while ((de = readdir(d))) {
                bool set[MFLOW_MAX_CPUS] = {};
                char rel[300];
                unsigned node;

                if (sscanf(de->d_name, "node%u", &node) != 1)
                        continue;
                snprintf(rel, sizeof(rel), "sys/devices/system/node/%s/cpulist", de->d_name);
                if (read_cpulist(root, rel, set) < 0)
                        continue;
                for (unsigned i = 0; i < MFLOW_MAX_CPUS; i++)
                        if (set[i])
                                s->cpus[i].node = (int) node;
        }
        closedir(d);
}

/* Does the action column of a /proc/interrupts line name the device (as "eth0", "eth0-rx-1",
 * "eth0-TxRx-0" or "mlx5_comp0@pci:..." does not)? */
static bool irq_names_device(const char *line, const char *device) {
        size_t n = strlen(device);

        for (const char *p = strstr(line, device); p; p = strstr(p + 1, device)) {
                char before = p == line ? ' ' : p[-1];
                char after = p[n];

                if ((before == ' ' || before == '\t') &&
                    (after == '\0' || after == '\n' || after == '-' || after == ' ' || after == '@' || after == ':'))
                        return true;
        }
        return false;
}

static void load_irqs(const char *root, const char *device, MflowSnapshot *s) {
        _cleanup_free_ char *path = NULL, *line = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t size = 0;

        if (asprintf(&path, "%s/proc/interrupts", root) < 0)
                return;
        f = fopen(path, "re");
        if (!f)
                return;
        while (getline(&line, &size, f) > 0) {
                bool set[MFLOW_MAX_CPUS] = {};
                char rel[64];
                unsigned irq;
                char *colon;
                int r;

                if (sscanf(line, " %u:", &irq) != 1 || !irq_names_device(line, device))
                        continue;
                s->n_irqs++;
                snprintf(rel, sizeof(rel), "proc/irq/%u/smp_affinity_list", irq);
                r = read_cpulist(root, rel, set);
                if (r < 0) {
                        /* No affinity file: the CPUs that have taken this interrupt. */
                        colon = strchr(line, ':');
                        for (unsigned cpu = 0; colon && cpu < s->n_cpus; cpu++) {
                                char *end;
                                unsigned long long v = strtoull(colon + 1, &end, 10);

                                if (end == colon + 1)
                                        break;
                                if (v > 0)
                                        set[cpu] = true;
                                colon = end - 1;
                        }
                }
                for (unsigned i = 0; i < MFLOW_MAX_CPUS; i++)
                        if (set[i])
                                s->cpus[i].irq = true;
        }
}

static void load_rps(const char *root, const char *device, MflowSnapshot *s) {
        _cleanup_free_ char *path = NULL;
        DIR *d;
        struct dirent *de;

        if (asprintf(&path, "%s/sys/class/net/%s/queues", root, device) < 0)
                return;
        d = opendir(path);
        if (!d)
                return;
        while ((de = readdir(d))) {
                bool set[MFLOW_MAX_CPUS] = {};
                char rel[400], buf[1024];

                if (strncmp(de->d_name, "rx-", 3) != 0)
                        continue;
                snprintf(rel, sizeof(rel), "sys/class/net/%s/queues/%s/rps_cpus", device, de->d_name);
                if (read_line(root, rel, buf, sizeof(buf)) < 0)
                        continue;
                parse_hexmask(buf, set);
                for (unsigned i = 0; i < MFLOW_MAX_CPUS; i++)
                        if (set[i])
                                s->cpus[i].rps = true;
        }
        closedir(d);
}

static void load_softirqs(const char *root, MflowSnapshot *s) {
        _cleanup_free_ char *path = NULL, *line = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        unsigned ids[MFLOW_MAX_CPUS], n = 0;
        size_t size = 0;

        if (asprintf(&path, "%s/proc/softirqs", root) < 0)
                return;
        f = fopen(path, "re");
        if (!f)
                return;
        while (getline(&line, &size, f) > 0) {
                char *p = line;

                while (*p == ' ')
                        p++;
                if (strncmp(p, "CPU", 3) == 0) { /* the header: which CPU each column is */
                        unsigned id;
                        int used;

                        for (n = 0; n < MFLOW_MAX_CPUS && sscanf(p, " CPU%u%n", &id, &used) == 1; p += used)
                                ids[n++] = id;
                } else if (strncmp(p, "NET_RX:", 7) == 0) {
                        p += 7;
                        for (unsigned i = 0; i < n; i++) {
                                char *end;
                                unsigned long long v = strtoull(p, &end, 10);

                                if (end == p)
                                        break;
                                if (ids[i] < MFLOW_MAX_CPUS)
                                        s->cpus[ids[i]].net_rx = v;
                                p = end;
                        }
                }
        }
}

static void load_stat(const char *root, MflowSnapshot *s) {
        _cleanup_free_ char *path = NULL, *line = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t size = 0;

        if (asprintf(&path, "%s/proc/stat", root) < 0)
                return;
        f = fopen(path, "re");
        if (!f)
                return;
        while (getline(&line, &size, f) > 0) {
                unsigned long long v[10] = {};
                unsigned cpu;
                int k;

                if (strncmp(line, "cpu", 3) != 0 || !isdigit((unsigned char) line[3]))
                        continue;
                k = sscanf(line, "cpu%u %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &v[0], &v[1], &v[2],
                           &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
                if (k < 8 || cpu >= MFLOW_MAX_CPUS)
                        continue;
                s->cpus[cpu].softirq_ticks = v[6];
                s->cpus[cpu].total_ticks = 0;
                /* guest and guest_nice (fields 9 and 10) are already counted in user and nice */
                for (int i = 0; i < k - 1 && i < 8; i++)
                        s->cpus[cpu].total_ticks += v[i];
        }
}

int mflow_snapshot_load(const char *root, const char *device, MflowSnapshot *ret) {
        bool online[MFLOW_MAX_CPUS] = {}, isolated[MFLOW_MAX_CPUS] = {}, nohz[MFLOW_MAX_CPUS] = {};
        MflowSnapshot *s = ret;
        char buf[64];
        int r;

        *s = (MflowSnapshot) { .dev_node = -1 };
        r = read_cpulist(root, "sys/devices/system/cpu/online", online);
        if (r < 0)
                return r;
        (void) read_cpulist(root, "sys/devices/system/cpu/isolated", isolated);
        (void) read_cpulist(root, "sys/devices/system/cpu/nohz_full", nohz);
        for (unsigned i = 0; i < MFLOW_MAX_CPUS; i++) {
                s->cpus[i] =
                        (MflowCpu) { .online = online[i], .isolated = isolated[i], .nohz_full = nohz[i], .node = -1 };
                if (online[i])
                        s->n_cpus = i + 1;
        }
        load_nodes(root, s);
        load_softirqs(root, s);
        load_stat(root, s);
        if (!device)
                return 0;
        if (strchr(device, '/') || strcmp(device, "..") == 0)
                return -EINVAL;
        {
                char rel[128];

                snprintf(rel, sizeof(rel), "sys/class/net/%s/device/numa_node", device);
                if (read_line(root, rel, buf, sizeof(buf)) >= 0) {
                        char *end;
                        long v = strtol(buf, &end, 10);

                        if (end != buf && v >= 0)
                                s->dev_node = (int) v;
                }
        }
        load_irqs(root, device, s);
        load_rps(root, device, s);
        return 0;
}

int mflow_snapshot_add_latency(const char *root, const char *cgroup, MflowSnapshot *s) {
        bool set[MFLOW_MAX_CPUS] = {};
        _cleanup_free_ char *rel = NULL;
        int r;

        if (!cgroup || strstr(cgroup, ".."))
                return -EINVAL;
        cgroup += strspn(cgroup, "/");
        if (asprintf(&rel, "sys/fs/cgroup/%s%scpuset.cpus.effective", cgroup, cgroup[0] ? "/" : "") < 0)
                return -ENOMEM;
        r = read_cpulist(root, rel, set);
        if (r < 0) {
                rel[strlen(rel) - strlen(".effective")] = '\0';
                r = read_cpulist(root, rel, set);
        }
        if (r < 0)
                return r;
        for (unsigned i = 0; i < MFLOW_MAX_CPUS; i++)
                if (set[i])
                        s->cpus[i].latency = true;
        return 0;
}

unsigned mflow_snapshot_online(const MflowSnapshot *snap) {
        unsigned n = 0;

        for (unsigned i = 0; i < snap->n_cpus; i++)
                n += snap->cpus[i].online;
        return n;
}

void mflow_load_compute(const MflowSnapshot *prev, const MflowSnapshot *cur, double *load) {
        for (unsigned i = 0; i < cur->n_cpus; i++) {
                uint64_t ds, dt;

                load[i] = 0;
                if (!prev || i >= MFLOW_MAX_CPUS)
                        continue;
                ds = cur->cpus[i].softirq_ticks - prev->cpus[i].softirq_ticks;
                dt = cur->cpus[i].total_ticks - prev->cpus[i].total_ticks;
                if (cur->cpus[i].softirq_ticks < prev->cpus[i].softirq_ticks || dt == 0 ||
                    cur->cpus[i].total_ticks < prev->cpus[i].total_ticks)
                        continue;
                load[i] = 100.0 * (double) ds / (double) dt;
                if (load[i] > 100.0)
                        load[i] = 100.0;
        }
}

/* Why a CPU is not preferred, as bits; 0 = preferred. */
enum {
        WHY_ISOLATED = 1u << 0,
        WHY_IRQ = 1u << 1,
        WHY_RPS = 1u << 2,
        WHY_NODE = 1u << 3,
        WHY_TAKEN = 1u << 4,
        WHY_LATENCY = 1u << 5,
};

static unsigned why_not(const MflowSnapshot *s, unsigned cpu, const unsigned *taken) {
        const MflowCpu *c = &s->cpus[cpu];
        unsigned w = 0;

        if (c->isolated || c->nohz_full)
                w |= WHY_ISOLATED;
        if (c->irq)
                w |= WHY_IRQ;
        if (c->rps)
                w |= WHY_RPS;
        if (c->latency)
                w |= WHY_LATENCY;
        if (s->dev_node >= 0 && c->node >= 0 && c->node != s->dev_node)
                w |= WHY_NODE;
        if (taken[cpu] > 0)
                w |= WHY_TAKEN;
        return w;
}

/* The order among non-preferred CPUs: isolated ones last, then by flows already on them, then load. */
typedef struct Cand {
        unsigned cpu;
        unsigned why;
        unsigned taken;
        double load;
} Cand;

static int cand_cmp(const void *a, const void *b) {
        const Cand *x = a, *y = b;
        int xi = !!(x->why & WHY_ISOLATED), yi = !!(y->why & WHY_ISOLATED);

        if ((x->why == 0) != (y->why == 0))
                return x->why == 0 ? -1 : 1;
        if (xi != yi)
                return xi - yi;
        if (x->taken != y->taken)
                return x->taken < y->taken ? -1 : 1;
        if (x->load != y->load)
                return x->load < y->load ? -1 : 1;
        return x->cpu < y->cpu ? -1 : x->cpu > y->cpu;
}

static int req_order_cmp(const void *a, const void *b, void *arg) {
        const MflowCoreRequest *reqs = arg;
        size_t x = *(const size_t *) a, y = *(const size_t *) b;

        if (reqs[x].priority != reqs[y].priority)
                return reqs[x].priority < reqs[y].priority ? -1 : 1;
        return x < y ? -1 : x > y;
}

static void reason_add(MflowCoreAssignment *a, unsigned cpu, unsigned why) {
        size_t len = strlen(a->reason);
        static const struct {
                unsigned bit;
                const char *text;
        } words[] = {
                { WHY_ISOLATED, "isolated" },
                { WHY_IRQ, "device interrupts" },
                { WHY_RPS, "device RPS" },
                { WHY_NODE, "other NUMA node" },
                { WHY_LATENCY, "latency-critical tenant" },
                { WHY_TAKEN, "shared with another flow" },
        };
        bool first = true;

        if (len == 0)
                len = (size_t) snprintf(a->reason, sizeof(a->reason), "degraded: fewer preferred CPUs than wanted;");
        if (len >= sizeof(a->reason))
                return;
        len += (size_t) snprintf(a->reason + len, sizeof(a->reason) - len, " cpu %u (", cpu);
        for (size_t i = 0; i < sizeof(words) / sizeof(words[0]) && len < sizeof(a->reason); i++)
                if (why & words[i].bit) {
                        len += (size_t) snprintf(a->reason + len, sizeof(a->reason) - len, "%s%s", first ? "" : ", ",
                                                 words[i].text);
                        first = false;
                }
        if (len < sizeof(a->reason))
                snprintf(a->reason + len, sizeof(a->reason) - len, ")");
}

static void assign_one(const MflowSnapshot *s, const double *load, unsigned hysteresis, const MflowCoreRequest *req,
                       unsigned *taken, MflowCoreAssignment *a) {
        Cand c[MFLOW_MAX_CPUS];
        bool chosen[MFLOW_MAX_CPUS] = {};
        unsigned n = 0, want = req->want;

        bool others = false;

        *a = (MflowCoreAssignment) {};
        for (unsigned i = 0; i < s->n_cpus; i++)
                others |= s->cpus[i].online && !s->cpus[i].poller;
        for (unsigned i = 0; i < s->n_cpus; i++)
                if (s->cpus[i].online && !(s->cpus[i].poller && others))
                        c[n++] = (Cand) { .cpu = i, .why = why_not(s, i, taken), .taken = taken[i], .load = load[i] };
        qsort(c, n, sizeof(c[0]), cand_cmp);
        if (want > n)
                want = n;

        /* Hysteresis: a current core stays while it is online, is as preferred as the best free
         * candidate, and is not loaded beyond the least loaded free candidate by more than the margin. */
        for (unsigned k = 0; k < req->n_cur && a->n < want; k++) {
                unsigned cpu = req->cur[k];
                const Cand *cur = NULL, *best_free = NULL;

                for (unsigned i = 0; i < n; i++) {
                        bool in_cur = false;

                        if (c[i].cpu == cpu)
                                cur = &c[i];
                        for (unsigned j = 0; j < req->n_cur; j++)
                                in_cur |= c[i].cpu == req->cur[j];
                        if (!in_cur && !chosen[c[i].cpu] && !best_free)
                                best_free = &c[i];
                }
                if (!cur || chosen[cpu])
                        continue;
                if (best_free && best_free->why == 0 && cur->why != 0)
                        continue;
                if (best_free && (best_free->why == 0) == (cur->why == 0) &&
                    cur->load > best_free->load + (double) hysteresis)
                        continue;
                chosen[cpu] = true;
                a->cores[a->n++] = cpu;
                if (cur->why)
                        reason_add(a, cpu, cur->why);
        }
        for (unsigned i = 0; i < n && a->n < want; i++) {
                if (chosen[c[i].cpu])
                        continue;
                chosen[c[i].cpu] = true;
                a->cores[a->n++] = c[i].cpu;
                if (c[i].why)
                        reason_add(a, c[i].cpu, c[i].why);
        }
        a->degraded = a->reason[0] != '\0';
        a->moved = a->n != req->n_cur;
        for (unsigned i = 0; i < a->n && !a->moved; i++) {
                bool found = false;

                for (unsigned j = 0; j < req->n_cur; j++)
                        found |= req->cur[j] == a->cores[i];
                a->moved = !found;
        }
        for (unsigned i = 0; i < a->n; i++)
                taken[a->cores[i]]++;
}

int mflow_cores_assign(const MflowSnapshot *snap, const double *load, unsigned hysteresis, const MflowCoreRequest *reqs,
                       size_t n, MflowCoreAssignment *ret) {
        _cleanup_free_ size_t *order = NULL;
        unsigned taken[MFLOW_MAX_CPUS] = {};

        if (mflow_snapshot_online(snap) == 0)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (reqs[i].want == 0 || reqs[i].want > MFLOW_MAX_CORES || reqs[i].n_cur > MFLOW_MAX_CORES)
                        return -EINVAL;
        order = calloc(n ?: 1, sizeof(*order));
        if (!order)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                order[i] = i;
        qsort_r(order, n, sizeof(*order), req_order_cmp, (void *) reqs);
        for (size_t i = 0; i < n; i++)
                assign_one(snap, load, hysteresis, &reqs[order[i]], taken, &ret[order[i]]);
        return 0;
}

void mflow_cpulist_format(const bool *set, unsigned n, char *buf, size_t size) {
        size_t len = 0;

        buf[0] = '\0';
        for (unsigned i = 0; i < n; i++) {
                unsigned j = i;

                if (!set[i])
                        continue;
                while (j + 1 < n && set[j + 1])
                        j++;
                if (len < size)
                        len += (size_t) (j == i ? snprintf(buf + len, size - len, "%s%u", len ? "," : "", i)
                                                : snprintf(buf + len, size - len, "%s%u-%u", len ? "," : "", i, j));
                i = j;
        }
}

void mflow_cpumask_format(const bool *set, unsigned n, char *buf, size_t size) {
        unsigned groups = 1;
        size_t len = 0;

        for (unsigned i = 0; i < n; i++)
                if (set[i])
                        groups = i / 32 + 1;
        buf[0] = '\0';
        for (unsigned g = groups; g-- > 0 && len < size;) {
                uint32_t word = 0;

                for (unsigned b = 0; b < 32 && g * 32 + b < n; b++)
                        if (set[g * 32 + b])
                                word |= UINT32_C(1) << b;
                len += (size_t) (g + 1 == groups ? snprintf(buf + len, size - len, "%" PRIx32, word)
                                                 : snprintf(buf + len, size - len, ",%08" PRIx32, word));
        }
}

static bool device_name_ok(const char *device) {
        return device && device[0] && strlen(device) < 16 && !strchr(device, '/') && strcmp(device, ".") != 0 &&
               strcmp(device, "..") != 0;
}

static int cmp_unsigned(const void *a, const void *b) {
        unsigned x = *(const unsigned *) a, y = *(const unsigned *) b;
        return x < y ? -1 : x > y;
}

int mflow_rx_queues(const char *root, const char *device, unsigned *q, size_t max) {
        _cleanup_free_ char *path = NULL;
        DIR *d;
        size_t n = 0;

        if (!device_name_ok(device))
                return -EINVAL;
        if (asprintf(&path, "%s/sys/class/net/%s/queues", root, device) < 0)
                return -ENOMEM;
        d = opendir(path);
        if (!d)
                return -ENODEV;
        for (struct dirent *de; (de = readdir(d)) && n < max;) {
                const char *s = de->d_name;
                char *end;
                unsigned long v;

                if (strncmp(s, "rx-", 3) != 0 || !isdigit((unsigned char) s[3]))
                        continue;
                v = strtoul(s + 3, &end, 10);
                if (*end == '\0' && v <= UINT32_MAX)
                        q[n++] = (unsigned) v;
        }
        closedir(d);
        qsort(q, n, sizeof(*q), cmp_unsigned);
        return (int) n;
}

static int cmp_thread(const void *a, const void *b) {
        const MflowNapiThread *x = a, *y = b;
        return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* Whether comm is "napi/DEVICE-ID", or a prefix of such a name that an older kernel cut to 15 characters. */
static bool napi_comm_matches(const char *comm, const char *device) {
        size_t len = strlen(comm), dlen = strlen(device);
        const char *rest;

        if (len >= MFLOW_NAPI_COMM_MAX || strncmp(comm, "napi/", 5) != 0)
                return false;
        rest = comm + 5;
        if (strncmp(rest, device, strlen(rest) < dlen ? strlen(rest) : dlen) != 0)
                return false;
        if (strlen(rest) < dlen)
                return len == MFLOW_TASK_COMM_CUT; /* cut inside the device name */
        rest += dlen;
        if (rest[0] == '\0')
                return len == MFLOW_TASK_COMM_CUT;
        if (rest[0] != '-')
                return false;
        rest++;
        if (rest[0] == '\0')
                return len == MFLOW_TASK_COMM_CUT;
        return strspn(rest, "0123456789") == strlen(rest);
}

int mflow_napi_threads(const char *root, const char *device, MflowNapiThread *t, size_t max) {
        _cleanup_free_ char *proc = NULL;
        DIR *d;
        size_t n = 0;

        if (!device_name_ok(device))
                return -EINVAL;
        if (asprintf(&proc, "%s/proc", root) < 0)
                return -ENOMEM;
        d = opendir(proc);
        if (!d)
                return -errno;
        for (struct dirent *de; (de = readdir(d)) && n < max;) {
                char rel[64], comm[64];
                long pid;
                char *end;

                if (!isdigit((unsigned char) de->d_name[0]))
                        continue;
                pid = strtol(de->d_name, &end, 10);
                if (*end != '\0' || pid <= 0 || pid > INT32_MAX)
                        continue;
                snprintf(rel, sizeof(rel), "proc/%ld/comm", pid);
                if (read_line(root, rel, comm, sizeof(comm)) < 0 || !napi_comm_matches(comm, device))
                        continue;
                t[n].pid = (int) pid;
                memcpy(t[n].comm, comm, sizeof(t[n].comm) - 1); /* a match is shorter than that */
                t[n].comm[sizeof(t[n].comm) - 1] = '\0';
                n++;
        }
        closedir(d);
        qsort(t, n, sizeof(*t), cmp_thread);
        return (int) n;
}
