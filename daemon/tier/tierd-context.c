/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tiering telemetry and context: readers of /proc/vmstat, node meminfo, PSI,
 * cgroup memory.numa_stat and DAMON tried regions below --root, and the pure
 * computation of a tenant's TierContext from what they read. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "detect.h"
#include "jsonutil.h"
#include "log.h"
#include "tierd.h"
#include "time-util.h"

/* /proc/vmstat and memory.numa_stat outgrow the one page detect_read_text_at() allows. */
#define TEXT_MAX (256u * 1024u)
#define REGIONS_MAX 65536u
#define FAST_FULL 0.9
/* Link utilisation above this makes the M/M/1-like latency growth meaningless. */
#define UTIL_MAX 0.95

static double clamp01(double x) {
        if (!(x > 0))
                return 0;
        return x > 1 ? 1 : x;
}

/* Reads ROOT/rel whole (up to TEXT_MAX). Returns 0 and a malloc'd NUL-terminated *ret, or -errno. */
static int read_file_at(const char *root, const char *rel, char **ret) {
        _cleanup_free_ char *path = NULL, *buf = NULL;
        _cleanup_close_ int fd = -EBADF;
        size_t n = 0;
        int r;

        r = detect_root_path(root, rel, &path);
        if (r < 0)
                return r;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        buf = malloc(TEXT_MAX + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t k = read(fd, buf + n, TEXT_MAX - n);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        break;
                n += (size_t) k;
                if (n == TEXT_MAX)
                        return -EFBIG;
        }
        buf[n] = '\0';
        *ret = TAKE_PTR(buf);
        return 0;
}

static const char *next_line(const char *s) {
        const char *nl = strchr(s, '\n');

        return nl ? nl + 1 : NULL;
}

void tierd_telemetry_done(TierdTelemetry *t) {
        if (!t)
                return;
        free(t->regions);
        *t = (TierdTelemetry) {};
}

/* ---- parsers ---- */

int tierd_parse_vmstat(const char *text, TierdVmstat *ret) {
        static const struct {
                const char *key;
                size_t offset;
        } keys[] = {
                { "numa_hint_faults", offsetof(TierdVmstat, numa_hint_faults) },
                { "pgpromote_success", offsetof(TierdVmstat, pgpromote_success) },
                { "pgpromote_candidate", offsetof(TierdVmstat, pgpromote_candidate) },
                { "pgdemote_kswapd", offsetof(TierdVmstat, pgdemote_kswapd) },
                { "pgdemote_direct", offsetof(TierdVmstat, pgdemote_direct) },
                { "pgdemote_khugepaged", offsetof(TierdVmstat, pgdemote_khugepaged) },
                { "pgmigrate_success", offsetof(TierdVmstat, pgmigrate_success) },
                { "pgmigrate_fail", offsetof(TierdVmstat, pgmigrate_fail) },
        };
        TierdVmstat v = {};
        bool migrate = false;

        for (const char *line = text; line && *line; line = next_line(line)) {
                char name[64];
                unsigned long long n;

                if (sscanf(line, "%63s %llu", name, &n) != 2)
                        continue;
                for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                        if (strcmp(name, keys[i].key) == 0) {
                                *(uint64_t *) ((char *) &v + keys[i].offset) = n;
                                migrate = migrate || i == 6;
                        }
        }
        if (!migrate)
                return -EINVAL;
        v.valid = true;
        *ret = v;
        return 0;
}

int tierd_parse_psi(const char *text, double *ret_some_avg10) {
        const char *p = strstr(text, "some avg10=");
        char *end;
        double v;

        if (!p || (p != text && p[-1] != '\n'))
                return -EINVAL;
        v = strtod(p + strlen("some avg10="), &end);
        if (end == p + strlen("some avg10=") || !isfinite(v) || v < 0)
                return -EINVAL;
        *ret_some_avg10 = v;
        return 0;
}

int tierd_parse_meminfo(const char *text, TierdNodeMem *ret) {
        bool total = false, free_ = false;
        TierdNodeMem n = {};

        for (const char *line = text; line && *line; line = next_line(line)) {
                unsigned node;
                char key[32];
                unsigned long long kb;

                if (sscanf(line, "Node %u %31[^:]: %llu kB", &node, key, &kb) != 3)
                        continue;
                n.node = node;
                if (strcmp(key, "MemTotal") == 0) {
                        n.total_kb = kb;
                        total = true;
                } else if (strcmp(key, "MemFree") == 0) {
                        n.free_kb = kb;
                        free_ = true;
                }
        }
        if (!total || !free_ || n.free_kb > n.total_kb)
                return -EINVAL;
        *ret = n;
        return 0;
}

/* Adds the N<node>=<bytes> fields of one numa_stat line to mem by tier. */
static void numa_stat_line(const char *line, const TierdTiers *tiers, TierdTenantMem *mem) {
        const char *p = strchr(line, ' ');

        while (p && *p == ' ') {
                unsigned node;
                unsigned long long bytes;
                int used = 0;

                if (sscanf(p, " N%u=%llu%n", &node, &bytes, &used) != 2 || used == 0)
                        return;
                if (node < TIERD_NODES_MAX && tiers->slow[node])
                        mem->remote_bytes += bytes;
                else
                        mem->local_bytes += bytes;
                p += used;
        }
}

int tierd_parse_numa_stat(const char *text, const TierdTiers *tiers, TierdTenantMem *ret) {
        TierdTenantMem m = {};
        bool seen = false;

        for (const char *line = text; line && *line; line = next_line(line))
                if (strncmp(line, "anon ", 5) == 0 || strncmp(line, "file ", 5) == 0) {
                        numa_stat_line(line, tiers, &m);
                        seen = true;
                }
        if (!seen)
                return -EINVAL;
        m.valid = true;
        *ret = m;
        return 0;
}

/* "memory_tierN: LIST" -> the members of LIST. */
static int tier_nodes(const char *s, unsigned **ret, size_t *ret_n) {
        const char *colon = strchr(s, ':');

        if (!colon)
                return -EINVAL;
        colon++;
        while (*colon == ' ')
                colon++;
        return detect_nodelist_parse(colon, ret, ret_n);
}

int tierd_tiers_from_features(char *const *memory_tiers, const char *nodes_list, TierdTiers *ret) {
        TierdTiers t = { .local_nid = -1, .remote_nid = -1 };
        int r;

        for (size_t i = 0; memory_tiers && memory_tiers[i]; i++) {
                _cleanup_free_ unsigned *nodes = NULL;
                size_t n = 0;

                r = tier_nodes(memory_tiers[i], &nodes, &n);
                if (r < 0)
                        return r;
                for (size_t j = 0; j < n; j++)
                        if (nodes[j] < TIERD_NODES_MAX) {
                                (i == 0 ? t.fast : t.slow)[nodes[j]] = true;
                                if (i == 0 && t.local_nid < 0)
                                        t.local_nid = (int) nodes[j];
                                if (i > 0 && t.remote_nid < 0)
                                        t.remote_nid = (int) nodes[j];
                        }
        }
        if (t.local_nid < 0 && nodes_list) {
                _cleanup_free_ unsigned *nodes = NULL;
                size_t n = 0;

                r = detect_nodelist_parse(nodes_list, &nodes, &n);
                if (r < 0)
                        return r;
                for (size_t j = 0; j < n; j++)
                        if (nodes[j] < TIERD_NODES_MAX) {
                                t.fast[nodes[j]] = true;
                                if (t.local_nid < 0)
                                        t.local_nid = (int) nodes[j];
                        }
        }
        *ret = t;
        return 0;
}

/* ---- readers ---- */

static void telemetry_read_nodes(const char *root, TierdTelemetry *t) {
        _cleanup_free_ unsigned long *ids = NULL;
        size_t n = 0;

        if (detect_list_numbered(root, "sys/devices/system/node", "node", "", &ids, &n) < 0)
                return;
        for (size_t i = 0; i < n && t->n_nodes < TIERD_NODES_MAX; i++) {
                _cleanup_free_ char *rel = NULL, *text = NULL;
                TierdNodeMem mem;

                if (asprintf(&rel, "sys/devices/system/node/node%lu/meminfo", ids[i]) < 0) {
                        rel = NULL;
                        return;
                }
                if (read_file_at(root, rel, &text) < 0 || tierd_parse_meminfo(text, &mem) < 0 || mem.node != ids[i])
                        continue;
                t->nodes[t->n_nodes++] = mem;
        }
}

int tierd_telemetry_read(const char *root, TierdTelemetry *ret) {
        _cleanup_free_ char *vmstat = NULL, *psi = NULL;
        TierdTelemetry t = { .time_s = now_sec(CLOCK_MONOTONIC), .psi_some_avg10 = NAN };
        int r;

        r = read_file_at(root, "proc/vmstat", &vmstat);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || tierd_parse_vmstat(vmstat, &t.vmstat) < 0)
                log_debug_errno(r, "No usable vmstat below %s, migration traffic unknown.", root);
        r = read_file_at(root, "proc/pressure/memory", &psi);
        if (r == -ENOMEM)
                return r;
        if (r >= 0)
                (void) tierd_parse_psi(psi, &t.psi_some_avg10);
        telemetry_read_nodes(root, &t);
        tierd_telemetry_done(ret);
        *ret = t;
        return 0;
}

int tierd_tenant_mem_read(const char *root, const char *cgroup, const TierdTiers *tiers, TierdTenantMem *ret) {
        _cleanup_free_ char *rel = NULL, *text = NULL;
        int r;

        if (!cgroup || cgroup[0] != '/')
                return -ENOENT;
        if (asprintf(&rel, "sys/fs/cgroup%s/memory.numa_stat", cgroup) < 0)
                return -ENOMEM;
        r = read_file_at(root, rel, &text);
        if (r < 0)
                return r;
        return tierd_parse_numa_stat(text, tiers, ret);
}

static int read_u64_at(const char *root, const char *rel, uint64_t *ret) {
        _cleanup_free_ char *text = NULL;
        unsigned long long v;
        char *end;
        int r;

        r = read_file_at(root, rel, &text);
        if (r < 0)
                return r;
        errno = 0;
        v = strtoull(text, &end, 10);
        if (errno != 0 || end == text || (*end != '\0' && *end != '\n'))
                return -EINVAL;
        *ret = v;
        return 0;
}

static int region_read(const char *root, const char *dir, unsigned long i, TierdRegion *ret) {
        static const char *const files[] = { "start", "end", "nr_accesses", "age" };
        uint64_t v[4];

        for (size_t f = 0; f < ELEMENTSOF(files); f++) {
                _cleanup_free_ char *rel = NULL;
                int r;

                if (asprintf(&rel, "%s/%lu/%s", dir, i, files[f]) < 0)
                        return -ENOMEM;
                r = read_u64_at(root, rel, &v[f]);
                if (r < 0)
                        return r;
        }
        if (v[1] <= v[0] || v[2] > UINT32_MAX || v[3] > UINT32_MAX)
                return -EINVAL;
        *ret = (TierdRegion) { .start = v[0], .end = v[1], .nr_accesses = (unsigned) v[2], .age = (unsigned) v[3] };
        return 0;
}

static int intervals_read(const char *root, unsigned k, TierdTelemetry *t) {
        _cleanup_free_ char *rel = NULL;
        uint64_t sample_us, aggr_us;
        int r;

        if (asprintf(&rel, "sys/kernel/mm/damon/admin/kdamonds/%u/contexts/0/monitoring_attrs/intervals/sample_us", k) <
            0)
                return -ENOMEM;
        r = read_u64_at(root, rel, &sample_us);
        if (r < 0)
                return r;
        strcpy(rel + strlen(rel) - strlen("sample_us"), "aggr_us");
        r = read_u64_at(root, rel, &aggr_us);
        if (r < 0)
                return r;
        if (sample_us == 0 || aggr_us < sample_us)
                return -EINVAL;
        t->sample_s = (double) sample_us / 1e6;
        t->aggr_s = (double) aggr_us / 1e6;
        return 0;
}

int tierd_regions_read(const char *root, unsigned kdamond, TierdTelemetry *t) {
        _cleanup_free_ char *dir = NULL;
        _cleanup_free_ unsigned long *ids = NULL;
        _cleanup_free_ TierdRegion *regions = NULL;
        size_t n_ids = 0, n = 0;
        int r;

        r = intervals_read(root, kdamond, t);
        if (r < 0)
                return r;
        if (asprintf(&dir, "sys/kernel/mm/damon/admin/kdamonds/%u/contexts/0/schemes/0/tried_regions", kdamond) < 0)
                return -ENOMEM;
        r = detect_list_numbered(root, dir, "", "", &ids, &n_ids);
        if (r < 0)
                return r;
        if (n_ids > REGIONS_MAX)
                n_ids = REGIONS_MAX;
        regions = calloc(n_ids ?: 1, sizeof(TierdRegion));
        if (!regions)
                return -ENOMEM;
        for (size_t i = 0; i < n_ids; i++) {
                r = region_read(root, dir, ids[i], &regions[n]);
                if (r == -ENOMEM)
                        return r;
                if (r >= 0)
                        n++;
        }
        free(t->regions);
        t->regions = TAKE_PTR(regions);
        t->n_regions = n;
        return (int) n;
}

/* ---- pure computation ---- */

static void node_usage(const TierdTelemetry *t, const bool *which, double *ret_used, double *ret_total) {
        double used = 0, total = 0;

        for (size_t i = 0; i < t->n_nodes; i++) {
                unsigned n = t->nodes[i].node;

                if (n >= TIERD_NODES_MAX || !which[n])
                        continue;
                total += (double) t->nodes[i].total_kb * 1024.0;
                used += (double) (t->nodes[i].total_kb - t->nodes[i].free_kb) * 1024.0;
        }
        *ret_used = used;
        *ret_total = total;
}

static int region_hotter(const void *a, const void *b) {
        const TierdRegion *x = a, *y = b;

        if (x->nr_accesses != y->nr_accesses)
                return x->nr_accesses > y->nr_accesses ? -1 : 1;
        return x->start < y->start ? -1 : x->start > y->start;
}

double tierd_demote_rate(const TierdTelemetry *t, const TierdTiers *tiers) {
        _cleanup_free_ TierdRegion *sorted = NULL;
        double used, capacity, filled = 0;
        bool stalls = t->psi_some_avg10 > 0;

        node_usage(t, tiers->fast, &used, &capacity);
        if (t->n_regions == 0 || !(t->aggr_s > 0) || !(capacity > 0) || (used < FAST_FULL * capacity && !stalls))
                return 0;
        sorted = malloc(t->n_regions * sizeof(TierdRegion));
        if (!sorted)
                return 0; /* no estimate: as if there were room */
        memcpy(sorted, t->regions, t->n_regions * sizeof(TierdRegion));
        qsort(sorted, t->n_regions, sizeof(TierdRegion), region_hotter);
        for (size_t i = 0; i < t->n_regions; i++) {
                filled += (double) (sorted[i].end - sorted[i].start);
                if (filled >= capacity)
                        return (double) sorted[i].nr_accesses / t->aggr_s;
        }
        return 0;
}

/* Bytes per second moved between the tiers since prev: migrations, or promotions plus
 * demotions when those say more (kernels count them apart). */
static double migration_Bps(const TierdTelemetry *now, const TierdTelemetry *prev) {
        const TierdVmstat *a = &prev->vmstat, *b = &now->vmstat;
        double dt = now->time_s - prev->time_s, migrated, moved;

        if (!a->valid || !b->valid || !(dt > 0))
                return 0;
        migrated = (double) b->pgmigrate_success - (double) a->pgmigrate_success;
        moved = ((double) b->pgpromote_success - (double) a->pgpromote_success) +
                ((double) (b->pgdemote_kswapd + b->pgdemote_direct + b->pgdemote_khugepaged) -
                 (double) (a->pgdemote_kswapd + a->pgdemote_direct + a->pgdemote_khugepaged));
        return fmax(fmax(migrated, moved), 0) * TIERD_PAGE_SIZE / dt;
}

void tierd_context_compute(const TierdTelemetry *now, const TierdTelemetry *prev, const TierdTiers *tiers,
                           const TierdLink *link, const TierdTenantMem *mem, TierContext *ret) {
        double fast_used, fast_total, slow_used, slow_total, traffic = 0, u;

        node_usage(now, tiers->fast, &fast_used, &fast_total);
        node_usage(now, tiers->slow, &slow_used, &slow_total);
        if (prev && prev->time_s > 0 && link->bandwidth_Bps > 0)
                traffic = clamp01(migration_Bps(now, prev) / link->bandwidth_Bps);
        u = fmin(UTIL_MAX, clamp01(link->contention) + traffic);
        *ret = (TierContext) {
                .local_usage = fast_total > 0 ? clamp01(fast_used / fast_total) : 0,
                .remote_usage = slow_total > 0 ? clamp01(slow_used / slow_total) : 0,
                .traffic = traffic,
                .contention = clamp01(link->contention),
                .link_bw_Bps = link->bandwidth_Bps * (1.0 - clamp01(link->contention)),
                .delta_lat_s = link->delta_latency_s / (1.0 - u),
                .demote_rate = tierd_demote_rate(now, tiers),
                .page_size = TIERD_PAGE_SIZE,
        };
        /* The tenant's own placement when its cgroup tells, else the host's. */
        if (mem && mem->valid && mem->local_bytes + mem->remote_bytes > 0)
                ret->local_alloc = (double) mem->local_bytes / (double) (mem->local_bytes + mem->remote_bytes);
        else
                ret->local_alloc = fast_used + slow_used > 0 ? fast_used / (fast_used + slow_used) : 1;
}

/* ---- JSON ---- */

json_object *tierd_json_number(double v) {
        char buf[32];

        if (!isfinite(v))
                v = 0;
        snprintf(buf, sizeof buf, "%.10g", v);
        return json_object_new_double_s(v, buf);
}

static const struct {
        const char *key;
        size_t offset;
} context_fields[] = {
        { "local_alloc", offsetof(TierContext, local_alloc) },
        { "local_usage", offsetof(TierContext, local_usage) },
        { "remote_usage", offsetof(TierContext, remote_usage) },
        { "traffic", offsetof(TierContext, traffic) },
        { "contention", offsetof(TierContext, contention) },
        { "link_bandwidth_Bps", offsetof(TierContext, link_bw_Bps) },
        { "delta_latency_s", offsetof(TierContext, delta_lat_s) },
        { "demote_rate", offsetof(TierContext, demote_rate) },
        { "page_size", offsetof(TierContext, page_size) },
};

json_object *tierd_context_to_json(const TierContext *c) {
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(context_fields); i++) {
                double v = *(const double *) ((const char *) c + context_fields[i].offset);

                if (json_add(o, context_fields[i].key, tierd_json_number(v)) < 0) {
                        json_object_put(o);
                        return NULL;
                }
        }
        return o;
}

int tierd_context_from_json(json_object *j, TierContext *ret) {
        TierContext c = {};

        if (!json_object_is_type(j, json_type_object))
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(context_fields); i++) {
                json_object *v;
                double d;

                if (!json_object_object_get_ex(j, context_fields[i].key, &v))
                        continue;
                if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
                        return -EINVAL;
                d = json_object_get_double(v);
                if (!isfinite(d))
                        return -EINVAL;
                *(double *) ((char *) &c + context_fields[i].offset) = d;
        }
        *ret = c;
        return 0;
}
