/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host topology read below --root: CPUs, NUMA nodes with memory, distances,
 * tiers and hugepages, network devices with queues and XDP state; its JSON
 * form, GET /v1/topology, and the daemon's copy kept current on link events. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <numa.h>

#include "cleanup.h"
#include "jsonutil.h"
#include "log.h"
#include "string-table.h"
#include "topo.h"

/* One burst of link events (a veth pair, a bond) is re-read once. */
#define TOPO_DEBOUNCE_USEC (100 * 1000ULL)
/* "sys/class/net/NAME/device/numa_node" for any directory entry name. */
#define NETDEV_REL_MAX (64 + NAME_MAX)

DEFINE_TRIVIAL_CLEANUP_FUNC(DIR *, closedir);

bool topo_root_is_live(const char *root) {
        if (!root)
                return true;
        root += strspn(root, "/");
        return *root == '\0';
}

/* ---- small readers ---- */

/* A path relative to root from a format; NULL on OOM (asprintf leaves its pointer undefined then). */
static char *rel_path(const char *fmt, ...) _printf_(1, 2);
static char *rel_path(const char *fmt, ...) {
        va_list ap;
        char *p;
        int k;

        va_start(ap, fmt);
        k = vasprintf(&p, fmt, ap);
        va_end(ap);
        return k < 0 ? NULL : p;
}

/* A signed decimal file such as numa_node or physical_package_id ("-1" allowed). */
static int read_int_at(const char *root, const char *rel, int *ret) {
        _cleanup_free_ char *text = NULL;
        char *end;
        long v;
        int r;

        r = detect_read_text_at(root, &text, "%s", rel);
        if (r < 0)
                return r;
        errno = 0;
        v = strtol(text, &end, 10);
        if (errno != 0 || end == text || *end != '\0' || v < INT_MIN || v > INT_MAX) {
                log_debug("Malformed number \"%s\" in %s, ignoring.", text, rel);
                return -EINVAL;
        }
        *ret = (int) v;
        return 0;
}

/* Reads a cpulist/nodelist file. The kernel prints "" for an empty mask and
 * "(null)" for an unallocated one (nohz_full without nohz_full=); both mean none.
 * Returns 0 with *ret_text (NULL absent) and the members, or -ENOMEM. */
static int read_list_at(const char *root, const char *rel, char **ret_text, unsigned **ret, size_t *ret_n) {
        _cleanup_free_ char *text = NULL;
        int r;

        *ret_text = NULL;
        *ret = NULL;
        *ret_n = 0;
        r = detect_read_text_at(root, &text, "%s", rel);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return 0;
        if (strcmp(text, "(null)") == 0)
                text[0] = '\0';
        r = detect_nodelist_parse(text, ret, ret_n);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                log_debug_errno(r, "Malformed list \"%s\" in %s, ignoring: %m", text, rel);
                return 0;
        }
        *ret_text = TAKE_PTR(text);
        return 0;
}

static bool list_has(const unsigned *list, size_t n, unsigned v) {
        for (size_t i = 0; i < n; i++)
                if (list[i] == v)
                        return true;
        return false;
}

static int cmp_cpu(const void *a, const void *b) {
        unsigned x = ((const TopoCpu *) a)->id, y = ((const TopoCpu *) b)->id;

        return (x > y) - (x < y);
}

static TopoCpu *find_cpu(Topology *t, unsigned id) {
        TopoCpu key = { .id = id };

        return t->n_cpus > 0 ? bsearch(&key, t->cpus, t->n_cpus, sizeof(*t->cpus), cmp_cpu) : NULL;
}

static TopoNode *find_node(Topology *t, unsigned id) {
        for (size_t i = 0; i < t->n_nodes; i++)
                if (t->nodes[i].id == id)
                        return &t->nodes[i];
        return NULL;
}

/* ---- CPUs ---- */

/* Marks the CPUs listed in cpu/isolated or cpu/nohz_full. */
static int load_cpu_flags(const char *root, bool nohz_full, Topology *t) {
        _cleanup_free_ unsigned *ids = NULL;
        size_t n;
        int r;

        r = read_list_at(root, nohz_full ? "sys/devices/system/cpu/nohz_full" : "sys/devices/system/cpu/isolated",
                         nohz_full ? &t->cpus_nohz_full : &t->cpus_isolated, &ids, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                TopoCpu *c = find_cpu(t, ids[i]);

                if (c && nohz_full)
                        c->nohz_full = true;
                else if (c)
                        c->isolated = true;
        }
        return 0;
}

static int load_cpus(const char *root, Topology *t) {
        _cleanup_free_ unsigned *ids = NULL;
        size_t n;
        int r;

        r = read_list_at(root, "sys/devices/system/cpu/online", &t->cpus_online, &ids, &n);
        if (r < 0 || n == 0)
                return r;
        t->cpus = calloc(n, sizeof(*t->cpus));
        if (!t->cpus)
                return -ENOMEM;
        t->n_cpus = n;
        for (size_t i = 0; i < n; i++) {
                TopoCpu *c = &t->cpus[i];
                char rel[96];

                *c = (TopoCpu) { .id = ids[i], .core_id = -1, .package_id = -1, .node = -1 };
                snprintf(rel, sizeof rel, "sys/devices/system/cpu/cpu%u/topology/core_id", c->id);
                (void) read_int_at(root, rel, &c->core_id);
                snprintf(rel, sizeof rel, "sys/devices/system/cpu/cpu%u/topology/physical_package_id", c->id);
                (void) read_int_at(root, rel, &c->package_id);
        }
        r = load_cpu_flags(root, false, t);
        if (r >= 0)
                r = load_cpu_flags(root, true, t);
        return r;
}

/* ---- NUMA nodes ---- */

/* "Node 0 MemTotal:       16318396 kB" lines; both totals must be there. */
static void parse_meminfo(const char *text, TopoNode *node) {
        bool have_total = false, have_free = false;
        const char *line = text;

        while (line && *line) {
                char key[32];
                uint64_t v;

                if (sscanf(line, "Node %*u %31[^:]: %" SCNu64, key, &v) == 2) {
                        if (strcmp(key, "MemTotal") == 0) {
                                node->mem_total_kb = v;
                                have_total = true;
                        } else if (strcmp(key, "MemFree") == 0) {
                                node->mem_free_kb = v;
                                have_free = true;
                        }
                }
                line = strchr(line, '\n');
                if (line)
                        line++;
        }
        node->have_meminfo = have_total && have_free;
}

static int load_node_hugepages(const char *root, TopoNode *node) {
        _cleanup_free_ unsigned long *sizes = NULL;
        _cleanup_free_ char *rel = NULL;
        size_t n;
        int r;

        rel = rel_path("sys/devices/system/node/node%u/hugepages", node->id);
        if (!rel)
                return -ENOMEM;
        r = detect_list_numbered(root, rel, "hugepages-", "kB", &sizes, &n);
        if (r < 0 || n == 0)
                return r;
        node->hugepages = calloc(n, sizeof(*node->hugepages));
        if (!node->hugepages)
                return -ENOMEM;
        node->n_hugepages = n;
        for (size_t i = 0; i < n; i++) {
                HugepageSize *h = &node->hugepages[i];

                h->size_kb = sizes[i];
                r = detect_read_ulong_at(root, &h->total, "%s/hugepages-%lukB/nr_hugepages", rel, sizes[i]);
                if (r == -ENOMEM)
                        return r;
                r = detect_read_ulong_at(root, &h->free, "%s/hugepages-%lukB/free_hugepages", rel, sizes[i]);
                if (r == -ENOMEM)
                        return r;
        }
        return 0;
}

static int load_node(const char *root, TopoNode *node) {
        _cleanup_free_ char *meminfo = NULL;
        int r;

        r = detect_read_text_at(root, &node->cpulist, "sys/devices/system/node/node%u/cpulist", node->id);
        if (r == -ENOMEM)
                return r;
        r = detect_read_text_at(root, &meminfo, "sys/devices/system/node/node%u/meminfo", node->id);
        if (r == -ENOMEM)
                return r;
        if (r >= 0)
                parse_meminfo(meminfo, node);
        return load_node_hugepages(root, node);
}

/* Marks each CPU with the node whose cpulist has it. */
static int assign_cpu_nodes(Topology *t) {
        for (size_t i = 0; i < t->n_nodes; i++) {
                _cleanup_free_ unsigned *cpus = NULL;
                size_t n = 0;
                int r;

                if (!t->nodes[i].cpulist)
                        continue;
                r = detect_nodelist_parse(t->nodes[i].cpulist, &cpus, &n);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        log_debug_errno(r, "Malformed cpulist of node %u, ignoring: %m", t->nodes[i].id);
                for (size_t k = 0; k < n; k++) {
                        TopoCpu *c = find_cpu(t, cpus[k]);

                        if (c)
                                c->node = (int) t->nodes[i].id;
                }
        }
        return 0;
}

/* nodeN/distance: one distance per online node, in node order, as libnuma reads it too. */
static int distances_from_file(const char *root, const Topology *t, TopoNode *node) {
        _cleanup_free_ unsigned *d = NULL;
        _cleanup_free_ char *text = NULL;
        const char *p;
        size_t n = 0;
        int r;

        r = detect_read_text_at(root, &text, "sys/devices/system/node/node%u/distance", node->id);
        if (r < 0)
                return r == -ENOMEM ? r : 0;
        d = calloc(t->n_nodes, sizeof(*d));
        if (!d)
                return -ENOMEM;
        for (p = text; *p;) {
                char *end;
                unsigned long v;

                p += strspn(p, " ");
                if (*p == '\0')
                        break;
                errno = 0;
                v = strtoul(p, &end, 10);
                if (end == p || errno != 0 || v > UINT_MAX || n == t->n_nodes || (*end != ' ' && *end != '\0')) {
                        log_debug("Malformed distance list \"%s\" of node %u, ignoring.", text, node->id);
                        return 0;
                }
                d[n++] = (unsigned) v;
                p = end;
        }
        if (n != t->n_nodes) {
                log_debug("Node %u lists %zu distances for %zu nodes, ignoring.", node->id, n, t->n_nodes);
                return 0;
        }
        node->distances = TAKE_PTR(d);
        node->n_distances = n;
        return 0;
}

/* On the live host libnuma answers (it reads the same sysfs table); 0 means it does not know. */
static int distances_from_libnuma(const Topology *t, TopoNode *node) {
        _cleanup_free_ unsigned *d = NULL;

        d = calloc(t->n_nodes, sizeof(*d));
        if (!d)
                return -ENOMEM;
        for (size_t i = 0; i < t->n_nodes; i++) {
                int v = numa_distance((int) node->id, (int) t->nodes[i].id);

                if (v <= 0)
                        return 0;
                d[i] = (unsigned) v;
        }
        node->distances = TAKE_PTR(d);
        node->n_distances = t->n_nodes;
        return 0;
}

static int load_distances(const char *root, Topology *t) {
        bool libnuma = topo_root_is_live(root) && numa_available() >= 0;

        for (size_t i = 0; i < t->n_nodes; i++) {
                int r = libnuma ? distances_from_libnuma(t, &t->nodes[i]) : 0;

                if (r >= 0 && !t->nodes[i].distances)
                        r = distances_from_file(root, t, &t->nodes[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int load_tiers(const char *root, Topology *t) {
        _cleanup_free_ unsigned long *ids = NULL;
        size_t n;
        int r;

        r = detect_list_numbered(root, "sys/devices/virtual/memory_tiering", "memory_tier", "", &ids, &n);
        if (r < 0 || n == 0)
                return r;
        t->tiers = calloc(n, sizeof(*t->tiers));
        if (!t->tiers)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ unsigned *nodes = NULL;
                _cleanup_free_ char *rel = NULL;
                TopoTier *tier = &t->tiers[t->n_tiers];
                size_t k;

                if (ids[i] > INT_MAX)
                        continue;
                rel = rel_path("sys/devices/virtual/memory_tiering/memory_tier%lu/nodelist", ids[i]);
                if (!rel)
                        return -ENOMEM;
                r = read_list_at(root, rel, &tier->nodelist, &nodes, &k);
                if (r < 0)
                        return r;
                if (!tier->nodelist)
                        continue;
                tier->id = (unsigned) ids[i];
                t->n_tiers++;
                for (size_t j = 0; j < k; j++) {
                        TopoNode *node = find_node(t, nodes[j]);

                        if (node)
                                node->memory_tier = (int) tier->id;
                }
        }
        return 0;
}

static int load_nodes(const char *root, Topology *t) {
        _cleanup_free_ unsigned long *ids = NULL;
        _cleanup_free_ unsigned *with_memory = NULL;
        _cleanup_free_ char *has_memory = NULL;
        size_t n, n_memory;
        int r;

        r = detect_list_numbered(root, "sys/devices/system/node", "node", "", &ids, &n);
        if (r < 0 || n == 0)
                return r;
        r = read_list_at(root, "sys/devices/system/node/has_memory", &has_memory, &with_memory, &n_memory);
        if (r < 0)
                return r;
        t->nodes = calloc(n, sizeof(*t->nodes));
        if (!t->nodes)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                TopoNode *node = &t->nodes[t->n_nodes];

                if (ids[i] > INT_MAX)
                        continue;
                *node = (TopoNode) { .id = (unsigned) ids[i], .memory_tier = -1 };
                node->has_memory = list_has(with_memory, n_memory, node->id);
                t->n_nodes++;
                r = load_node(root, node);
                if (r < 0)
                        return r;
        }
        r = assign_cpu_nodes(t);
        if (r >= 0)
                r = load_distances(root, t);
        if (r >= 0)
                r = load_tiers(root, t);
        return r;
}

/* ---- network devices ---- */

/* Drivers (basename of device/driver) and link kinds whose net_device_ops
 * implement ndo_bpf with XDP_SETUP_PROG, i.e. native XDP, in mainline Linux
 * 6.x drivers/net. Not exhaustive: a driver missing here is reported as
 * generic-only unless a program is seen attached in driver mode. Sorted. */
static const char *const xdp_native_drivers[] = {
        "bnxt_en", "bond",  "ena",     "gve",       "hv_netvsc", "i40e",   "ice",        "igb",
        "igc",     "ixgbe", "ixgbevf", "mlx4_core", "mlx5_core", "mvneta", "mvpp2",      "netdevsim",
        "nfp",     "qede",  "sfc",     "stmmaceth", "tun",       "veth",   "virtio_net",
};

static int cmp_string(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

bool topo_xdp_native_known(const char *driver_or_kind) {
        if (!driver_or_kind)
                return false;
        return bsearch(&driver_or_kind, xdp_native_drivers, ELEMENTSOF(xdp_native_drivers),
                       sizeof(xdp_native_drivers[0]), cmp_string) != NULL;
}

/* basename of the device/driver link; NULL (not an error) for virtual devices. */
static int read_driver(const char *root, const char *dev, char **ret) {
        _cleanup_free_ char *p = NULL, *rel = NULL;
        char target[PATH_MAX];
        const char *base;
        ssize_t k;

        *ret = NULL;
        rel = rel_path("sys/class/net/%s/device/driver", dev);
        if (!rel)
                return -ENOMEM;
        if (detect_root_path(root, rel, &p) < 0)
                return -ENOMEM;
        k = readlink(p, target, sizeof target - 1);
        if (k < 0)
                return 0;
        target[k] = '\0';
        base = strrchr(target, '/');
        base = base ? base + 1 : target;
        if (*base == '\0')
                return 0;
        *ret = strdup(base);
        return *ret ? 0 : -ENOMEM;
}

static int count_queues(const char *root, const char *dev, const char *prefix, unsigned *ret) {
        _cleanup_free_ unsigned long *ids = NULL;
        _cleanup_free_ char *rel = NULL;
        size_t n;
        int r;

        rel = rel_path("sys/class/net/%s/queues", dev);
        if (!rel)
                return -ENOMEM;
        r = detect_list_numbered(root, rel, prefix, "", &ids, &n);
        if (r < 0)
                return r;
        *ret = (unsigned) n;
        return 0;
}

static int load_netdev(const char *root, TopoNetdev *d) {
        char rel[NETDEV_REL_MAX];
        int r;

        snprintf(rel, sizeof rel, "sys/class/net/%s/ifindex", d->name);
        (void) read_int_at(root, rel, &d->ifindex);
        snprintf(rel, sizeof rel, "sys/class/net/%s/device/numa_node", d->name);
        (void) read_int_at(root, rel, &d->node);
        if (d->node < -1)
                d->node = -1;
        r = read_driver(root, d->name, &d->driver);
        if (r >= 0)
                r = count_queues(root, d->name, "rx-", &d->rx_queues);
        if (r >= 0)
                r = count_queues(root, d->name, "tx-", &d->tx_queues);
        return r;
}

static int cmp_netdev(const void *a, const void *b) {
        return strcmp(((const TopoNetdev *) a)->name, ((const TopoNetdev *) b)->name);
}

static int add_netdev(Topology *t, size_t *allocated, const char *name) {
        if (t->n_netdevs == *allocated) {
                size_t na = *allocated ? *allocated * 2 : 8;
                TopoNetdev *nd = reallocarray(t->netdevs, na, sizeof(*nd));

                if (!nd)
                        return -ENOMEM;
                t->netdevs = nd;
                *allocated = na;
        }
        t->netdevs[t->n_netdevs] = (TopoNetdev) { .ifindex = -1, .node = -1, .xdp_mode = TOPO_XDP_UNKNOWN };
        t->netdevs[t->n_netdevs].name = strdup(name);
        if (!t->netdevs[t->n_netdevs].name)
                return -ENOMEM;
        t->n_netdevs++;
        return 0;
}

static int load_netdevs(const char *root, Topology *t) {
        _cleanup_(closedirp) DIR *d = NULL;
        _cleanup_free_ char *p = NULL;
        size_t allocated = 0;
        struct dirent *de;
        int r;

        if (detect_root_path(root, "sys/class/net", &p) < 0)
                return -ENOMEM;
        d = opendir(p);
        if (!d) {
                log_debug_errno(errno, "Cannot open %s, no network devices: %m", p);
                return 0;
        }
        while ((errno = 0, de = readdir(d))) {
                struct stat st;

                if (de->d_name[0] == '.')
                        continue;
                /* Devices are directories (symlinks to them on a real host); bonding_masters is a file. */
                if (fstatat(dirfd(d), de->d_name, &st, 0) < 0 || !S_ISDIR(st.st_mode))
                        continue;
                r = add_netdev(t, &allocated, de->d_name);
                if (r < 0)
                        return r;
        }
        if (errno != 0)
                log_debug_errno(errno, "Failed to read %s, using what was read: %m", p);
        if (t->n_netdevs > 0)
                qsort(t->netdevs, t->n_netdevs, sizeof(*t->netdevs), cmp_netdev);
        for (size_t i = 0; i < t->n_netdevs; i++) {
                r = load_netdev(root, &t->netdevs[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int cmp_link(const void *a, const void *b) {
        return strcmp(((const TopoLink *) a)->name, ((const TopoLink *) b)->name);
}

static void netdev_set_native(TopoNetdev *d, bool attached_in_driver) {
        if (attached_in_driver)
                d->xdp_native = TOPO_NATIVE_ATTACHED;
        else if (topo_xdp_native_known(d->driver) || topo_xdp_native_known(d->kind))
                d->xdp_native = TOPO_NATIVE_DRIVER_LIST;
        else
                d->xdp_native = TOPO_NATIVE_NO;
}

/* Adds what only rtnetlink knows (link kind, XDP program) to the sysfs view, by name. */
static int merge_links(const char *root, Topology *t) {
        TopoLink *links = NULL;
        size_t n = 0;
        int r;

        r = topo_rtnl_links(root, &links, &n);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                log_debug_errno(r, "No rtnetlink link facts, reporting link kinds and XDP state as unknown: %m");
        else
                t->rtnl_known = true;
        if (n > 0)
                qsort(links, n, sizeof(*links), cmp_link);
        r = 0;
        for (size_t i = 0; i < t->n_netdevs && r >= 0; i++) {
                TopoNetdev *d = &t->netdevs[i];
                TopoLink key = { .name = d->name }, *l = NULL;

                if (n > 0)
                        l = bsearch(&key, links, n, sizeof(*links), cmp_link);
                if (l && l->kind) {
                        d->kind = strdup(l->kind);
                        if (!d->kind)
                                r = -ENOMEM;
                }
                if (l) {
                        d->xdp_mode = l->xdp_mode;
                        d->xdp_prog_id = l->xdp_prog_id;
                }
                netdev_set_native(d, l && l->xdp_native_attached);
        }
        topo_links_free(links, n);
        return r;
}

Topology *topo_free(Topology *t) {
        if (!t)
                return NULL;
        free(t->cpus_online);
        free(t->cpus_isolated);
        free(t->cpus_nohz_full);
        free(t->cpus);
        for (size_t i = 0; i < t->n_nodes; i++) {
                free(t->nodes[i].cpulist);
                free(t->nodes[i].distances);
                free(t->nodes[i].hugepages);
        }
        free(t->nodes);
        for (size_t i = 0; i < t->n_tiers; i++)
                free(t->tiers[i].nodelist);
        free(t->tiers);
        for (size_t i = 0; i < t->n_netdevs; i++) {
                free(t->netdevs[i].name);
                free(t->netdevs[i].driver);
                free(t->netdevs[i].kind);
        }
        free(t->netdevs);
        free(t);
        return NULL;
}

int topo_load(const char *root, Topology **ret) {
        _cleanup_(topo_freep) Topology *t = NULL;
        int r;

        if (!root || !*root)
                root = "/";
        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        /* CPUs first: the nodes' cpulists are mapped onto them. */
        r = load_cpus(root, t);
        if (r >= 0)
                r = load_nodes(root, t);
        if (r >= 0)
                r = load_netdevs(root, t);
        if (r >= 0)
                r = merge_links(root, t);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(t);
        return 0;
}

/* ---- JSON ---- */

static const char *const topo_xdp_mode_table[_TOPO_XDP_MODE_MAX] = {
        [TOPO_XDP_NONE] = "none",       [TOPO_XDP_DRIVER] = "driver", [TOPO_XDP_GENERIC] = "generic",
        [TOPO_XDP_OFFLOAD] = "offload", [TOPO_XDP_MULTI] = "multi",
};
DEFINE_STRING_TABLE_LOOKUP(topo_xdp_mode, TopoXdpMode)

static const char *const native_source_table[_TOPO_NATIVE_SOURCE_MAX] = {
        [TOPO_NATIVE_DRIVER_LIST] = "driver-list",
        [TOPO_NATIVE_ATTACHED] = "attached",
};
DEFINE_STRING_TABLE_TO_STRING(native_source, TopoNativeSource, static)


static json_object *json_cpu(const void *item) {
        const TopoCpu *c = item;
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();

        if (!o || json_add_int(o, "id", c->id, true) < 0 || json_add_int(o, "core", c->core_id, c->core_id >= 0) < 0 ||
            json_add_int(o, "package", c->package_id, c->package_id >= 0) < 0 ||
            json_add_int(o, "node", c->node, c->node >= 0) < 0 ||
            json_add(o, "isolated", json_object_new_boolean(c->isolated)) < 0 ||
            json_add(o, "nohz_full", json_object_new_boolean(c->nohz_full)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static json_object *json_hugepages(const HugepageSize *h, size_t n) {
        _cleanup_(json_object_putp) json_object *a = json_object_new_array();

        for (size_t i = 0; a && i < n; i++) {
                _cleanup_(json_object_putp) json_object *o = json_object_new_object();

                if (!o || json_add(o, "size_kb", json_object_new_uint64(h[i].size_kb)) < 0 ||
                    json_add(o, "total", json_object_new_uint64(h[i].total)) < 0 ||
                    json_add(o, "free", json_object_new_uint64(h[i].free)) < 0 || json_append(a, TAKE_PTR(o)) < 0)
                        return NULL;
        }
        return TAKE_PTR(a);
}

static json_object *json_distances(const TopoNode *node) {
        _cleanup_(json_object_putp) json_object *a = json_object_new_array();

        for (size_t i = 0; a && i < node->n_distances; i++)
                if (json_append(a, json_object_new_int64(node->distances[i])) < 0)
                        return NULL;
        return TAKE_PTR(a);
}

static json_object *json_node(const void *item) {
        const TopoNode *n = item;
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();

        if (!o || json_add_int(o, "id", n->id, true) < 0 ||
            json_add(o, "has_memory", json_object_new_boolean(n->has_memory)) < 0 ||
            json_add_string(o, "cpus", n->cpulist) < 0 ||
            json_add_int(o, "mem_total_kb", (int64_t) n->mem_total_kb, n->have_meminfo) < 0 ||
            json_add_int(o, "mem_free_kb", (int64_t) n->mem_free_kb, n->have_meminfo) < 0 ||
            json_add_int(o, "memory_tier", n->memory_tier, n->memory_tier >= 0) < 0 ||
            json_add_full(o, "distances", n->distances ? json_distances(n) : NULL, !n->distances) < 0 ||
            json_add(o, "hugepages", json_hugepages(n->hugepages, n->n_hugepages)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static json_object *json_tier(const void *item) {
        const TopoTier *tier = item;
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();

        if (!o || json_add_int(o, "id", tier->id, true) < 0 || json_add_string(o, "nodes", tier->nodelist) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static json_object *json_xdp(const TopoNetdev *d) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        bool known = d->xdp_mode != TOPO_XDP_UNKNOWN;

        /* Generic (skb) XDP works on every device the kernel has. */
        if (!o || json_add(o, "generic", json_object_new_boolean(true)) < 0 ||
            json_add(o, "native", json_object_new_boolean(d->xdp_native != TOPO_NATIVE_NO)) < 0 ||
            json_add_string(o, "native_source", native_source_to_string(d->xdp_native)) < 0 ||
            json_add_string(o, "mode", topo_xdp_mode_to_string(d->xdp_mode)) < 0 ||
            json_add_int(o, "prog_id", d->xdp_prog_id, known) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static json_object *json_netdev(const void *item) {
        const TopoNetdev *d = item;
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();

        if (!o || json_add_string(o, "name", d->name) < 0 ||
            json_add_int(o, "ifindex", d->ifindex, d->ifindex > 0) < 0 || json_add_string(o, "driver", d->driver) < 0 ||
            json_add_string(o, "kind", d->kind) < 0 || json_add_int(o, "node", d->node, d->node >= 0) < 0 ||
            json_add_int(o, "rx_queues", d->rx_queues, true) < 0 ||
            json_add_int(o, "tx_queues", d->tx_queues, true) < 0 || json_add(o, "xdp", json_xdp(d)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

typedef json_object *(*JsonItemFn)(const void *item);

/* An array of n items of size bytes each, converted by fn. */
static json_object *json_array_of(const void *items, size_t n, size_t size, JsonItemFn fn) {
        _cleanup_(json_object_putp) json_object *a = json_object_new_array();

        for (size_t i = 0; a && i < n; i++)
                if (json_append(a, fn((const char *) items + i * size)) < 0)
                        return NULL;
        return TAKE_PTR(a);
}

json_object *topo_to_json(const Topology *t) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();

        if (!o || json_add(o, "generation", json_object_new_uint64(t->generation)) < 0 ||
            json_add_string(o, "cpus_online", t->cpus_online) < 0 ||
            json_add_string(o, "cpus_isolated", t->cpus_isolated) < 0 ||
            json_add_string(o, "cpus_nohz_full", t->cpus_nohz_full) < 0 ||
            json_add(o, "cpus", json_array_of(t->cpus, t->n_cpus, sizeof(*t->cpus), json_cpu)) < 0 ||
            json_add(o, "nodes", json_array_of(t->nodes, t->n_nodes, sizeof(*t->nodes), json_node)) < 0 ||
            json_add(o, "memory_tiers", json_array_of(t->tiers, t->n_tiers, sizeof(*t->tiers), json_tier)) < 0 ||
            json_add(o, "netdevs", json_array_of(t->netdevs, t->n_netdevs, sizeof(*t->netdevs), json_netdev)) < 0 ||
            json_add(o, "link_facts", json_object_new_boolean(t->rtnl_known)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

/* ---- the daemon's copy (TopoState) ---- */

/* Logs network devices that came or went between two loads (both sorted by name). */
static void log_netdev_changes(const Topology *old, const Topology *new) {
        size_t i = 0, j = 0;

        while (i < old->n_netdevs || j < new->n_netdevs) {
                int c = i == old->n_netdevs   ? 1
                        : j == new->n_netdevs ? -1
                                              : strcmp(old->netdevs[i].name, new->netdevs[j].name);

                if (c < 0)
                        log_info("Network device %s is gone.", old->netdevs[i++].name);
                else if (c > 0)
                        log_info("Network device %s appeared.", new->netdevs[j++].name);
                else
                        i++, j++;
        }
}

struct TopoState {
        char *root;
        sd_event *event;
        Topology *topology; /* re-read on rtnetlink link and address events */
        TopoWatch *watch;
        const EventSink *sched; /* told after a re-read that followed link events */
};

int topo_state_new(const char *root, sd_event *event, TopoState **ret) {
        TopoState *ts = calloc(1, sizeof *ts);

        if (!ts || !(ts->root = strdup(root))) {
                free(ts);
                return -ENOMEM;
        }
        ts->event = event;
        *ret = ts;
        return 0;
}

TopoState *topo_state_free(TopoState *ts) {
        if (!ts)
                return NULL;
        topo_stop(ts);
        free(ts->root);
        free(ts);
        return NULL;
}

const Topology *topo_state_get(const TopoState *ts) {
        return ts ? ts->topology : NULL;
}

int topo_reload(TopoState *ts) {
        Topology *t = NULL;
        int r;

        r = topo_load(ts->root, &t);
        if (r < 0)
                return log_warning_errno(r, "Failed to re-read the host topology, keeping the previous one: %m");
        t->generation = ts->topology ? ts->topology->generation + 1 : 1;
        if (ts->topology)
                log_netdev_changes(ts->topology, t);
        log_debug("Topology generation %" PRIu64 ": %zu CPUs, %zu nodes, %zu network devices.", t->generation,
                  t->n_cpus, t->n_nodes, t->n_netdevs);
        topo_free(ts->topology);
        ts->topology = t;
        return 0;
}

/* A burst of link or address messages: the topology is read again and the scheduler hears of it
 * (an address change re-attributes MFLOW's flows to tenants and may change what they ask for). */
static void on_links_changed(void *userdata, const TopoWatchCounts *burst) {
        TopoState *ts = userdata;

        log_debug("rtnetlink: %" PRIu64 " link and %" PRIu64 " address messages, re-reading the topology.",
                  burst->links, burst->addresses);
        if (topo_reload(ts) >= 0)
                event_sink_emit(ts->sched, SCHED_EVENT_LINK, 0, SCHED_PRIORITY_HOST, 0);
}

void topo_set_event_sink(TopoState *ts, const EventSink *sink) {
        ts->sched = sink;
}

int topo_start(TopoState *ts) {
        int r;

        r = topo_reload(ts);
        if (r < 0)
                return r;
        r = topo_watch_new(ts->event, TOPO_DEBOUNCE_USEC, on_links_changed, ts, &ts->watch);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0)
                log_warning_errno(r, "Failed to subscribe to rtnetlink link and address events, the topology will "
                                     "not follow link and address changes, ignoring: %m");
        return 0;
}

void topo_stop(TopoState *ts) {
        ts->watch = topo_watch_free(ts->watch);
        ts->topology = topo_free(ts->topology);
}

int topo_op_get(void *userdata, const Request *req, Reply *reply) {
        TopoState *ts = userdata;
        json_object *o;

        if (!ts->topology)
                return reply_error(reply, REPLY_UNAVAILABLE, "The host topology has not been read yet");
        o = topo_to_json(ts->topology);
        if (!o)
                return -ENOMEM;
        return reply_json(reply, 200, o);
}
