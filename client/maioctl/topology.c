/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* maioctl topology: GET /v1/topology as four tables (CPUs, NUMA nodes,
 * hugepages per node, network devices) or, with -o json, as maiod sent it. */

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "macro.h"
#include "maioctl.h"
#include "reply.h"
#include "table.h"

/* A table-building step: fills t from the topology object. Returns 0 or -ENOMEM. */
typedef int (*SectionFill)(Table *t, json_object *topology);

/* A cpulist member of the reply: "" (the kernel's empty list) reads "none", absent "-". */
static const char *cpulist_text(json_object *o, const char *key) {
        const char *s = reply_string(o, key);

        return !s ? "-" : *s ? s : "none";
}

/* kB as the largest binary unit that keeps one decimal meaningful: "512K", "7.8G". */
static int add_kb_cell(Table *t, json_object *o, const char *key) {
        static const char units[] = "KMGTP";
        int64_t kb;
        double v;
        size_t u = 0;

        if (!reply_int(o, key, &kb) || kb < 0)
                return table_add_cell(t, reply_text(o, key));
        v = (double) kb;
        while (v >= 1024 && u + 1 < sizeof units - 1) {
                v /= 1024;
                u++;
        }
        return u == 0 ? table_add_cellf(t, "%" PRId64 "K", kb) : table_add_cellf(t, "%.1f%c", v, units[u]);
}

static int add_size_cell(Table *t, int64_t kb) {
        if (kb >= 1048576 && kb % 1048576 == 0)
                return table_add_cellf(t, "%" PRId64 "G", kb / 1048576);
        if (kb >= 1024 && kb % 1024 == 0)
                return table_add_cellf(t, "%" PRId64 "M", kb / 1024);
        return table_add_cellf(t, "%" PRId64 "K", kb);
}

/* Adds the cells of one row: each key of o through reply_text(). */
static int add_cells(Table *t, json_object *o, const char *const *keys, size_t n) {
        for (size_t i = 0; i < n; i++) {
                int r = table_add_cell(t, reply_text(o, keys[i]));
                if (r < 0)
                        return r;
        }
        return 0;
}

static int fill_cpus(Table *t, json_object *topology) {
        static const char *const keys[] = { "id", "core", "package", "node", "isolated", "nohz_full" };
        json_object *cpus = reply_member(topology, "cpus", json_type_array);

        for (size_t i = 0; cpus && i < json_object_array_length(cpus); i++) {
                int r = add_cells(t, json_object_array_get_idx(cpus, i), keys, ELEMENTSOF(keys));
                if (r < 0)
                        return r;
        }
        return 0;
}

/* "10 21": distances in node order, as nodeN/distance prints them. */
static int add_distances_cell(Table *t, json_object *node) {
        json_object *d = reply_member(node, "distances", json_type_array);
        char *text = NULL;
        size_t size = 0;
        FILE *f;
        int r;

        if (!d)
                return table_add_cell(t, "-");
        f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < json_object_array_length(d); i++)
                fprintf(f, "%s%s", i > 0 ? " " : "", json_object_get_string(json_object_array_get_idx(d, i)));
        r = fclose(f) == 0 ? table_add_cell(t, text) : -ENOMEM;
        free(text);
        return r;
}

static int fill_nodes(Table *t, json_object *topology) {
        json_object *nodes = reply_member(topology, "nodes", json_type_array);
        int r = 0;

        for (size_t i = 0; nodes && i < json_object_array_length(nodes) && r >= 0; i++) {
                json_object *n = json_object_array_get_idx(nodes, i);
                const char *cpus = reply_string(n, "cpus");

                r = table_add_cell(t, reply_text(n, "id"));
                if (r >= 0)
                        r = table_add_cell(t, cpus && !*cpus ? "none" : reply_text(n, "cpus"));
                if (r >= 0)
                        r = table_add_cell(t, reply_text(n, "has_memory"));
                if (r >= 0)
                        r = add_kb_cell(t, n, "mem_total_kb");
                if (r >= 0)
                        r = add_kb_cell(t, n, "mem_free_kb");
                if (r >= 0)
                        r = table_add_cell(t, reply_text(n, "memory_tier"));
                if (r >= 0)
                        r = add_distances_cell(t, n);
        }
        return r;
}

static int fill_hugepages(Table *t, json_object *topology) {
        json_object *nodes = reply_member(topology, "nodes", json_type_array);
        int r = 0;

        for (size_t i = 0; nodes && i < json_object_array_length(nodes) && r >= 0; i++) {
                json_object *n = json_object_array_get_idx(nodes, i);
                json_object *sizes = reply_member(n, "hugepages", json_type_array);

                for (size_t k = 0; sizes && k < json_object_array_length(sizes) && r >= 0; k++) {
                        json_object *h = json_object_array_get_idx(sizes, k);
                        int64_t kb;

                        r = table_add_cell(t, reply_text(n, "id"));
                        if (r >= 0)
                                r = reply_int(h, "size_kb", &kb) ? add_size_cell(t, kb) : table_add_cell(t, "?");
                        if (r >= 0)
                                r = table_add_cell(t, reply_text(h, "total"));
                        if (r >= 0)
                                r = table_add_cell(t, reply_text(h, "free"));
                }
        }
        return r;
}

/* "native+generic" or "generic"; the mode and program: "42 (driver)", "-" none, "?" unknown. */
static int add_xdp_cells(Table *t, json_object *netdev) {
        json_object *xdp = reply_member(netdev, "xdp", json_type_object);
        const char *mode = reply_string(xdp, "mode");
        bool native = false;
        int64_t prog;
        int r;

        (void) reply_bool(xdp, "native", &native);
        r = table_add_cell(t, !xdp ? "-" : native ? "native+generic" : "generic");
        if (r < 0)
                return r;
        if (!mode || !reply_int(xdp, "prog_id", &prog))
                return table_add_cell(t, "?");
        if (prog == 0)
                return table_add_cell(t, "-");
        return table_add_cellf(t, "%" PRId64 " (%s)", prog, mode);
}

static int fill_netdevs(Table *t, json_object *topology) {
        static const char *const keys[] = { "name", "ifindex", "driver", "kind", "node", "rx_queues", "tx_queues" };
        json_object *netdevs = reply_member(topology, "netdevs", json_type_array);
        int r = 0;

        for (size_t i = 0; netdevs && i < json_object_array_length(netdevs) && r >= 0; i++) {
                json_object *d = json_object_array_get_idx(netdevs, i);

                r = add_cells(t, d, keys, ELEMENTSOF(keys));
                if (r >= 0)
                        r = add_xdp_cells(t, d);
        }
        return r;
}

typedef struct Section {
        const char *title;
        size_t n_columns;
        const char *const *header;
        SectionFill fill;
} Section;

static const char *const cpu_header[] = { "CPU", "CORE", "PACKAGE", "NODE", "ISOLATED", "NOHZ_FULL" };
static const char *const node_header[] = { "NODE", "CPUS", "MEMORY", "TOTAL", "FREE", "TIER", "DISTANCES" };
static const char *const hugepage_header[] = { "NODE", "SIZE", "TOTAL", "FREE" };
static const char *const netdev_header[] = { "NAME", "IFINDEX", "DRIVER", "KIND", "NODE", "RX", "TX", "XDP", "PROG" };

static const Section sections[] = {
        { NULL, ELEMENTSOF(cpu_header), cpu_header, fill_cpus },
        { "NUMA nodes", ELEMENTSOF(node_header), node_header, fill_nodes },
        { "Hugepages", ELEMENTSOF(hugepage_header), hugepage_header, fill_hugepages },
        { "Network devices", ELEMENTSOF(netdev_header), netdev_header, fill_netdevs },
};

static int print_section(const Section *s, json_object *topology) {
        _cleanup_(table_freep) Table *t = table_new(s->n_columns, s->header);
        int r = t ? s->fill(t, topology) : -ENOMEM;

        if (r < 0)
                return r;
        if (s->title)
                printf("\n%s:\n", s->title);
        return table_print(t, stdout);
}

/* A summary line, then one table per section. */
static int topology_table(json_object *topology) {
        int r = 0;

        printf("CPUs: %zu online (%s), isolated: %s, nohz_full: %s\n",
               json_object_array_length(reply_member(topology, "cpus", json_type_array)),
               cpulist_text(topology, "cpus_online"), cpulist_text(topology, "cpus_isolated"),
               cpulist_text(topology, "cpus_nohz_full"));
        for (size_t i = 0; i < ELEMENTSOF(sections) && r >= 0; i++)
                r = print_section(&sections[i], topology);
        return r;
}

ExitStatus topology_show(const Args *a) {
        _cleanup_json_ json_object *reply = NULL;
        ExitStatus e;

        e = maioctl_call(a, "GET", "/v1/topology", NULL, &reply);
        if (e != EXIT_OK)
                return e;
        if (!reply_member(reply, "cpus", json_type_array))
                return maioctl_bad_reply(a, "no \"cpus\" array");
        return maioctl_output(a, reply, topology_table);
}
