/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for daemon/host/topo.c and topo-rtnl.c: exact values from the fixture
 * trees, tolerance of malformed files, the JSON form, invariants of the live
 * host, and (in a child in its own network namespace) the rtnetlink dump, XDP
 * state and the debounced link watch. Those children need capabilities a host
 * may lack and are groups of their own (unit-topo-live-*). */
#include <errno.h>
#include <ftw.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <netlink/errno.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <numa.h>
#include <cmocka.h>

#include "cleanup.h"
#include "testgroups.h"
#include "testutil.h"
#include "topo.h"

#define CHILD_SKIP 77

static void load_tree(const char *tree, Topology **ret) {
        _cleanup_free_ char *root = NULL;

        assert_true(asprintf(&root, "%s/%s", testutil_fixtures, tree) > 0);
        assert_int_equal(topo_load(root, ret), 0);
        assert_non_null(*ret);
}

static const TopoNetdev *netdev(const Topology *t, const char *name) {
        for (size_t i = 0; i < t->n_netdevs; i++)
                if (strcmp(t->netdevs[i].name, name) == 0)
                        return &t->netdevs[i];
        return NULL;
}

static void check_cpu(const TopoCpu *c, unsigned id, int core, int package, int node, bool isolated, bool nohz) {
        assert_int_equal(c->id, id);
        assert_int_equal(c->core_id, core);
        assert_int_equal(c->package_id, package);
        assert_int_equal(c->node, node);
        assert_int_equal(c->isolated, isolated);
        assert_int_equal(c->nohz_full, nohz);
}

static void check_hugepages(const HugepageSize *h, unsigned long size_kb, unsigned long total, unsigned long free) {
        assert_int_equal(h->size_kb, size_kb);
        assert_int_equal(h->total, total);
        assert_int_equal(h->free, free);
}

static void check_2node_nodes(const Topology *t) {
        assert_int_equal(t->n_nodes, 2);
        for (unsigned i = 0; i < 2; i++) {
                const TopoNode *n = &t->nodes[i];

                assert_int_equal(n->id, i);
                assert_true(n->has_memory);
                assert_string_equal(n->cpulist, i == 0 ? "0-1" : "2-3");
                assert_true(n->have_meminfo);
                assert_int_equal(n->mem_total_kb, i == 0 ? 16777216 : 33554432);
                assert_int_equal(n->mem_free_kb, i == 0 ? 8388608 : 30000000);
                assert_int_equal(n->memory_tier, i == 0 ? 4 : 22);
                assert_int_equal(n->n_distances, 2);
                assert_int_equal(n->distances[0], i == 0 ? 10 : 21);
                assert_int_equal(n->distances[1], i == 0 ? 21 : 10);
                assert_int_equal(n->n_hugepages, 1);
                check_hugepages(&n->hugepages[0], 2048, 256, 250);
        }
        assert_int_equal(t->n_tiers, 2);
        assert_int_equal(t->tiers[0].id, 4);
        assert_string_equal(t->tiers[0].nodelist, "0");
        assert_int_equal(t->tiers[1].id, 22);
        assert_string_equal(t->tiers[1].nodelist, "1");
}

static void check_2node_netdevs(const Topology *t) {
        const TopoNetdev *d;

        assert_true(t->rtnl_known);
        assert_int_equal(t->n_netdevs, 3);
        /* Sorted by name. */
        assert_string_equal(t->netdevs[0].name, "eth0");
        assert_string_equal(t->netdevs[1].name, "lo");
        assert_string_equal(t->netdevs[2].name, "veth0");

        d = netdev(t, "eth0");
        assert_int_equal(d->ifindex, 2);
        assert_string_equal(d->driver, "ixgbe");
        assert_null(d->kind);
        assert_int_equal(d->node, 1);
        assert_int_equal(d->rx_queues, 2);
        assert_int_equal(d->tx_queues, 2);
        assert_int_equal(d->xdp_mode, TOPO_XDP_DRIVER);
        assert_int_equal(d->xdp_prog_id, 42);
        assert_int_equal(d->xdp_native, TOPO_NATIVE_ATTACHED);

        d = netdev(t, "veth0");
        assert_int_equal(d->ifindex, 3);
        assert_null(d->driver);
        assert_string_equal(d->kind, "veth");
        assert_int_equal(d->node, -1);
        assert_int_equal(d->rx_queues, 1);
        assert_int_equal(d->tx_queues, 1);
        assert_int_equal(d->xdp_mode, TOPO_XDP_NONE);
        assert_int_equal(d->xdp_prog_id, 0);
        assert_int_equal(d->xdp_native, TOPO_NATIVE_DRIVER_LIST);

        d = netdev(t, "lo");
        assert_int_equal(d->ifindex, 1);
        assert_null(d->driver);
        assert_null(d->kind);
        assert_int_equal(d->node, -1);
        assert_int_equal(d->xdp_mode, TOPO_XDP_NONE);
        assert_int_equal(d->xdp_native, TOPO_NATIVE_NO);
}

static void test_host_2node(void **state) {
        _cleanup_(topo_freep) Topology *t = NULL;

        load_tree("host-2node", &t);
        assert_string_equal(t->cpus_online, "0-3");
        assert_string_equal(t->cpus_isolated, "3");
        assert_string_equal(t->cpus_nohz_full, "3");
        assert_int_equal(t->n_cpus, 4);
        check_cpu(&t->cpus[0], 0, 0, 0, 0, false, false);
        check_cpu(&t->cpus[1], 1, 1, 0, 0, false, false);
        check_cpu(&t->cpus[2], 2, 0, 1, 1, false, false);
        check_cpu(&t->cpus[3], 3, 1, 1, 1, true, true);
        check_2node_nodes(t);
        check_2node_netdevs(t);
        assert_int_equal(t->generation, 0); /* the owner numbers the loads */
}

/* Slashes around root change nothing. */
static void test_root_slashes(void **state) {
        _cleanup_(topo_freep) Topology *t = NULL;
        _cleanup_free_ char *root = NULL;

        assert_true(asprintf(&root, "%s//host-2node//", testutil_fixtures) > 0);
        assert_int_equal(topo_load(root, &t), 0);
        check_2node_nodes(t);
        check_2node_netdevs(t);
}

static void test_host_1node(void **state) {
        _cleanup_(topo_freep) Topology *t = NULL;
        const TopoNetdev *lo;

        load_tree("host-1node", &t);
        assert_string_equal(t->cpus_online, "0-1");
        /* "" and the kernel's "(null)" both mean no CPU. */
        assert_string_equal(t->cpus_isolated, "");
        assert_string_equal(t->cpus_nohz_full, "");
        assert_int_equal(t->n_cpus, 2);
        check_cpu(&t->cpus[0], 0, 0, 0, 0, false, false);
        check_cpu(&t->cpus[1], 1, 1, 0, 0, false, false);
        assert_int_equal(t->n_nodes, 1);
        assert_int_equal(t->nodes[0].n_distances, 1);
        assert_int_equal(t->nodes[0].distances[0], 10);
        assert_int_equal(t->nodes[0].mem_total_kb, 8388608);
        assert_int_equal(t->nodes[0].mem_free_kb, 4194304);
        assert_int_equal(t->nodes[0].memory_tier, 4);
        assert_int_equal(t->nodes[0].n_hugepages, 2);
        check_hugepages(&t->nodes[0].hugepages[0], 2048, 0, 0);
        check_hugepages(&t->nodes[0].hugepages[1], 1048576, 2, 1);
        /* No rtnetlink/links in this tree: kinds and XDP state are unknown, not "none". */
        assert_false(t->rtnl_known);
        assert_int_equal(t->n_netdevs, 1);
        lo = netdev(t, "lo");
        assert_non_null(lo);
        assert_int_equal(lo->xdp_mode, TOPO_XDP_UNKNOWN);
        assert_null(lo->kind);
}

static void test_host_bare(void **state) {
        _cleanup_(topo_freep) Topology *t = NULL;
        json_object *o;

        load_tree("host-bare", &t);
        assert_null(t->cpus_online);
        assert_null(t->cpus_isolated);
        assert_null(t->cpus_nohz_full);
        assert_int_equal(t->n_cpus, 0);
        assert_int_equal(t->n_nodes, 0);
        assert_int_equal(t->n_tiers, 0);
        assert_int_equal(t->n_netdevs, 0);
        assert_false(t->rtnl_known);
        o = topo_to_json(t);
        assert_non_null(o);
        assert_string_equal(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
                            "{\"generation\":0,\"cpus_online\":null,\"cpus_isolated\":null,\"cpus_nohz_full\":null,"
                            "\"cpus\":[],\"nodes\":[],\"memory_tiers\":[],\"netdevs\":[],\"link_facts\":false}");
        json_object_put(o);
}

static json_object *member(json_object *o, const char *key) {
        json_object *v = NULL;

        if (!json_object_object_get_ex(o, key, &v))
                fail_msg("key \"%s\" missing", key);
        return v;
}

static const char *plain(json_object *o) {
        return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
}

static void test_json_2node(void **state) {
        _cleanup_(topo_freep) Topology *t = NULL;
        json_object *o, *a;

        load_tree("host-2node", &t);
        t->generation = 7;
        o = topo_to_json(t);
        assert_non_null(o);
        assert_int_equal(json_object_object_length(o), 9);
        assert_int_equal(json_object_get_int64(member(o, "generation")), 7);
        assert_string_equal(json_object_get_string(member(o, "cpus_online")), "0-3");
        a = member(o, "cpus");
        assert_int_equal(json_object_array_length(a), 4);
        assert_string_equal(plain(json_object_array_get_idx(a, 3)),
                            "{\"id\":3,\"core\":1,\"package\":1,\"node\":1,\"isolated\":true,\"nohz_full\":true}");
        a = member(o, "nodes");
        assert_string_equal(plain(json_object_array_get_idx(a, 1)),
                            "{\"id\":1,\"has_memory\":true,\"cpus\":\"2-3\",\"mem_total_kb\":33554432,"
                            "\"mem_free_kb\":30000000,\"memory_tier\":22,\"distances\":[21,10],"
                            "\"hugepages\":[{\"size_kb\":2048,\"total\":256,\"free\":250}]}");
        assert_string_equal(plain(member(o, "memory_tiers")),
                            "[{\"id\":4,\"nodes\":\"0\"},{\"id\":22,\"nodes\":\"1\"}]");
        a = member(o, "netdevs");
        assert_int_equal(json_object_array_length(a), 3);
        assert_string_equal(plain(json_object_array_get_idx(a, 0)),
                            "{\"name\":\"eth0\",\"ifindex\":2,\"driver\":\"ixgbe\",\"kind\":null,\"node\":1,"
                            "\"rx_queues\":2,\"tx_queues\":2,\"xdp\":{\"generic\":true,\"native\":true,"
                            "\"native_source\":\"attached\",\"mode\":\"driver\",\"prog_id\":42}}");
        assert_string_equal(plain(json_object_array_get_idx(a, 2)),
                            "{\"name\":\"veth0\",\"ifindex\":3,\"driver\":null,\"kind\":\"veth\",\"node\":null,"
                            "\"rx_queues\":1,\"tx_queues\":1,\"xdp\":{\"generic\":true,\"native\":true,"
                            "\"native_source\":\"driver-list\",\"mode\":\"none\",\"prog_id\":0}}");
        assert_true(json_object_get_boolean(member(o, "link_facts")));
        json_object_put(o);
}

/* Unknown XDP state is null in JSON, never 0 or "none". */
static void test_json_unknown(void **state) {
        _cleanup_(topo_freep) Topology *t = NULL;
        json_object *o;

        load_tree("host-1node", &t);
        o = topo_to_json(t);
        assert_non_null(o);
        assert_string_equal(plain(json_object_array_get_idx(member(o, "netdevs"), 0)),
                            "{\"name\":\"lo\",\"ifindex\":1,\"driver\":null,\"kind\":null,\"node\":null,"
                            "\"rx_queues\":1,\"tx_queues\":1,\"xdp\":{\"generic\":true,\"native\":false,"
                            "\"native_source\":null,\"mode\":null,\"prog_id\":null}}");
        assert_string_equal(json_object_get_string(member(o, "cpus_nohz_full")), "");
        json_object_put(o);
}

static void test_root_is_live(void **state) {
        assert_true(topo_root_is_live(NULL));
        assert_true(topo_root_is_live(""));
        assert_true(topo_root_is_live("/"));
        assert_true(topo_root_is_live("///"));
        assert_false(topo_root_is_live("/tmp"));
        assert_false(topo_root_is_live("."));
        assert_false(topo_root_is_live("//x/"));
}

static void test_xdp_names(void **state) {
        /* Every entry of the list: an unsorted list would make bsearch() miss some. */
        static const char *const native[] = {
                "bnxt_en", "bond",  "ena",     "gve",       "hv_netvsc", "i40e",   "ice",        "igb",
                "igc",     "ixgbe", "ixgbevf", "mlx4_core", "mlx5_core", "mvneta", "mvpp2",      "netdevsim",
                "nfp",     "qede",  "sfc",     "stmmaceth", "tun",       "veth",   "virtio_net",
        };

        for (size_t i = 0; i < ELEMENTSOF(native); i++)
                if (!topo_xdp_native_known(native[i]))
                        fail_msg("driver %s not known as native XDP", native[i]);
        assert_false(topo_xdp_native_known(NULL));
        assert_false(topo_xdp_native_known(""));
        assert_false(topo_xdp_native_known("e1000"));
        assert_false(topo_xdp_native_known("VETH"));
        assert_false(topo_xdp_native_known("veth "));

        for (int m = TOPO_XDP_NONE; m < _TOPO_XDP_MODE_MAX; m++)
                assert_int_equal(topo_xdp_mode_from_string(topo_xdp_mode_to_string(m)), m);
        assert_string_equal(topo_xdp_mode_to_string(TOPO_XDP_GENERIC), "generic");
        assert_null(topo_xdp_mode_to_string(TOPO_XDP_UNKNOWN));
        assert_null(topo_xdp_mode_to_string(_TOPO_XDP_MODE_MAX));
        assert_int_equal(topo_xdp_mode_from_string("skb"), -EINVAL);
        assert_int_equal(topo_xdp_mode_from_string(NULL), -EINVAL);
}

static void test_rtnl_errno(void **state) {
        assert_int_equal(topo_rtnl_errno(0), 0);
        assert_int_equal(topo_rtnl_errno(-NLE_NOMEM), -ENOMEM);
        assert_int_equal(topo_rtnl_errno(NLE_NOMEM), -ENOMEM);
        assert_int_equal(topo_rtnl_errno(-NLE_AGAIN), -EAGAIN);
        assert_int_equal(topo_rtnl_errno(-NLE_PERM), -EPERM);
        assert_int_equal(topo_rtnl_errno(-NLE_NOACCESS), -EACCES);
        assert_int_equal(topo_rtnl_errno(-NLE_DUMP_INTR), -EINTR);
        assert_int_equal(topo_rtnl_errno(-NLE_OBJ_NOTFOUND), -ENOENT);
        assert_int_equal(topo_rtnl_errno(-NLE_FAILURE), -EIO);
        assert_int_equal(topo_rtnl_errno(-(NLE_MAX + 1)), -EIO);
        assert_int_equal(topo_rtnl_errno(-1000), -EIO);
        /* Every libnl code maps to some errno, none to success. */
        for (int e = 1; e <= NLE_MAX; e++)
                assert_true(topo_rtnl_errno(-e) < 0);
}

static void test_nodelist_parse(void **state) {
        static const struct {
                const char *s;
                int r;
                const char *want; /* members joined with ',' */
        } cases[] = {
                { "0", 0, "0" },
                { "0-3", 0, "0,1,2,3" },
                { "1,3-4,9", 0, "1,3,4,9" },
                { "", 0, "" },
                { "3-1", -EINVAL, NULL },
                { "1,0", -EINVAL, NULL },
                { "0-2,2", -EINVAL, NULL },
                { "(null)", -EINVAL, NULL },
                { "1048577", -ERANGE, NULL },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ unsigned *m = NULL;
                char buf[64] = "";
                size_t n = 99, len = 0;
                int r = detect_nodelist_parse(cases[i].s, &m, &n);

                if (r != cases[i].r)
                        fail_msg("\"%s\": got %d, want %d", cases[i].s, r, cases[i].r);
                if (r < 0)
                        continue;
                for (size_t k = 0; k < n; k++)
                        len += (size_t) snprintf(buf + len, sizeof buf - len, "%s%u", k ? "," : "", m[k]);
                assert_string_equal(buf, cases[i].want);
                if (n == 0)
                        assert_null(m);
        }
}

/* ---- a temporary tree of odd files ---- */

static const TestFile odd_tree[] = {
        { "sys/devices/system/cpu/online", "0-2\n" },
        { "sys/devices/system/cpu/cpu0/topology/core_id", "x\n" },
        { "sys/devices/system/cpu/cpu0/topology/physical_package_id", "-1\n" },
        { "sys/devices/system/cpu/cpu1/topology/core_id", "99999999999\n" },
        /* cpu2 has no topology directory */
        { "sys/devices/system/cpu/isolated", "2-1\n" },
        { "sys/devices/system/cpu/nohz_full", "1,7\n" }, /* 7 is not online */
        { "sys/devices/system/node/has_memory", "1\n" },
        { "sys/devices/system/node/node0/cpulist", "0-1\n" },
        { "sys/devices/system/node/node0/distance", "10 abc\n" },
        { "sys/devices/system/node/node0/meminfo", "Node 0 MemTotal: 100 kB\n" },
        { "sys/devices/system/node/node1/cpulist", "\n" },
        { "sys/devices/system/node/node1/distance", "10\n" }, /* one distance for two nodes */
        { "sys/devices/system/node/node1/meminfo", "garbage\nNode 1 MemFree: 5 kB\nNode 1 MemTotal: 9 kB\n" },
        { "sys/devices/system/node/nodeX/cpulist", "2\n" },
        { "sys/devices/virtual/memory_tiering/memory_tier3/nodelist", "0,9\n" },
        { "sys/devices/virtual/memory_tiering/memory_tier5/nodelist", "bad\n" },
        { "sys/class/net/bonding_masters", "\n" },
        { "sys/class/net/eth9/device/numa_node", "-7\n" },
        { "sys/class/net/eth9/queues/rx-0/rps_cpus", "0\n" },
        { "sys/class/net/eth9/queues/rx-x/rps_cpus", "0\n" },
        { "sys/class/net/eth9/queues/tx-3/xps_cpus", "0\n" },
        { "rtnetlink/links", "# comment\n\neth9 - none 0\nlo veth sideways 3\n" },
};

static int odd_tree_setup(void **state) {
        *state = testutil_files_tree("maio-test-topo", odd_tree, ELEMENTSOF(odd_tree));
        return *state ? 0 : -1;
}

static void test_odd_tree(void **state) {
        _cleanup_(topo_freep) Topology *t = NULL;
        const TopoNetdev *d;

        assert_int_equal(topo_load(*state, &t), 0);
        assert_int_equal(t->n_cpus, 3);
        check_cpu(&t->cpus[0], 0, -1, -1, 0, false, false);
        check_cpu(&t->cpus[1], 1, -1, -1, 0, false, true);
        check_cpu(&t->cpus[2], 2, -1, -1, -1, false, false);
        assert_null(t->cpus_isolated); /* malformed: as if absent */
        assert_string_equal(t->cpus_nohz_full, "1,7");

        assert_int_equal(t->n_nodes, 2);
        assert_false(t->nodes[0].has_memory);
        assert_true(t->nodes[1].has_memory);
        assert_null(t->nodes[0].distances);
        assert_null(t->nodes[1].distances);
        assert_false(t->nodes[0].have_meminfo); /* MemFree missing */
        assert_true(t->nodes[1].have_meminfo);  /* order and garbage lines do not matter */
        assert_int_equal(t->nodes[1].mem_total_kb, 9);
        assert_int_equal(t->nodes[1].mem_free_kb, 5);
        assert_string_equal(t->nodes[1].cpulist, "");
        assert_int_equal(t->nodes[0].memory_tier, 3);
        assert_int_equal(t->nodes[1].memory_tier, -1);
        assert_int_equal(t->n_tiers, 1);
        assert_string_equal(t->tiers[0].nodelist, "0,9");

        /* bonding_masters is a file, not a device. */
        assert_int_equal(t->n_netdevs, 1);
        d = netdev(t, "eth9");
        assert_non_null(d);
        assert_int_equal(d->ifindex, -1);
        assert_int_equal(d->node, -1);
        assert_null(d->driver);
        assert_int_equal(d->rx_queues, 1);
        assert_int_equal(d->tx_queues, 1);
        /* One bad line makes the whole links file unknown. */
        assert_false(t->rtnl_known);
        assert_int_equal(d->xdp_mode, TOPO_XDP_UNKNOWN);
}

/* ---- the live host ---- */

static long read_long(const char *path) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        long v;

        return f && fscanf(f, "%ld", &v) == 1 ? v : -1;
}

static void check_live_distances(const Topology *t) {
        for (size_t i = 0; i < t->n_nodes; i++) {
                _cleanup_fclose_ FILE *f = NULL;
                char path[128];

                assert_int_equal(t->nodes[i].n_distances, t->n_nodes);
                /* libnuma and the file must agree; the file is what fixtures use. */
                snprintf(path, sizeof path, "/sys/devices/system/node/node%u/distance", t->nodes[i].id);
                f = fopen(path, "re");
                assert_non_null(f);
                for (size_t k = 0; k < t->n_nodes; k++) {
                        unsigned v;

                        assert_int_equal(fscanf(f, "%u", &v), 1);
                        assert_int_equal(t->nodes[i].distances[k], v);
                }
                assert_int_equal(t->nodes[i].distances[i], 10);
        }
}

static void test_live_host(void **state) {
        _cleanup_(topo_freep) Topology *t = NULL;
        const TopoNetdev *lo;
        json_object *o;

        assert_int_equal(topo_load("/", &t), 0);
        o = topo_to_json(t);
        assert_non_null(o);
        print_message("live host: %s\n", plain(o));
        json_object_put(o);

        assert_true(t->n_cpus >= 1);
        assert_non_null(t->cpus_online);
        assert_true((long) t->n_cpus <= sysconf(_SC_NPROCESSORS_CONF));
        for (size_t i = 0; i < t->n_cpus; i++) {
                assert_true(t->cpus[i].core_id >= 0);
                if (i > 0)
                        assert_true(t->cpus[i].id > t->cpus[i - 1].id);
        }
        if (access("/sys/devices/system/node/node0", F_OK) == 0) {
                assert_true(t->n_nodes >= 1);
                assert_int_equal(t->nodes[0].id, 0);
                assert_true(t->nodes[0].have_meminfo);
                assert_true(t->nodes[0].mem_free_kb <= t->nodes[0].mem_total_kb);
                for (size_t i = 0; i < t->n_cpus; i++)
                        assert_true(t->cpus[i].node >= 0);
                check_live_distances(t);
        }
        lo = netdev(t, "lo");
        assert_non_null(lo);
        assert_true(t->rtnl_known);
        assert_int_equal(lo->ifindex, 1);
        assert_null(lo->driver);
        assert_null(lo->kind); /* loopback has no rtnl_link_ops */
        assert_true(lo->xdp_mode != TOPO_XDP_UNKNOWN);
        assert_true(lo->rx_queues >= 1);
        assert_int_equal(lo->ifindex, read_long("/sys/class/net/lo/ifindex"));
}

/* ---- children in their own network namespace ---- */

#define child_check(cond)                                                                               \
        do {                                                                                            \
                if (!(cond)) {                                                                          \
                        fprintf(stderr, "child: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
                        _exit(1);                                                                       \
                }                                                                                       \
        } while (0)

/* Enters a fresh network namespace with a sysfs that shows it, as "ip netns exec"
 * does, or exits the child with CHILD_SKIP when that is not permitted. */
static void child_enter_netns(void) {
        if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0) {
                fprintf(stderr, "child: unshare(CLONE_NEWNET|CLONE_NEWNS): %s\n", strerror(errno));
                _exit(CHILD_SKIP);
        }
        if (mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0 || mount("sysfs", "/sys", "sysfs", 0, NULL) < 0) {
                fprintf(stderr, "child: cannot mount a sysfs for the namespace: %s\n", strerror(errno));
                _exit(CHILD_SKIP);
        }
}

/* Runs fn in a forked child; 77 from it (after saying why) skips the test, anything but 0 fails it. */
static void run_in_child(void (*fn)(void), const char *what) {
        int status;
        pid_t pid;

        fflush(NULL);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                fn();
                _exit(0);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        if (WEXITSTATUS(status) == CHILD_SKIP)
                testgroups_skip("%s: not permitted here (the child said why above)", what);
        assert_int_equal(WEXITSTATUS(status), 0);
}

static struct nl_sock *child_route_socket(void) {
        struct nl_sock *s = nl_socket_alloc();

        child_check(s);
        child_check(nl_connect(s, NETLINK_ROUTE) == 0);
        return s;
}

static void child_del_link(struct nl_sock *s, const char *name) {
        struct rtnl_link *l = rtnl_link_alloc();

        child_check(l);
        rtnl_link_set_name(l, name);
        child_check(rtnl_link_delete(s, l) == 0);
        rtnl_link_put(l);
}

/* A generic-mode XDP program (XDP_PASS) on lo; returns its id, or skips without BPF. */
static uint32_t child_attach_xdp(void) {
        const struct bpf_insn insns[] = {
                { .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_PASS },
                { .code = BPF_JMP | BPF_EXIT },
        };
        struct bpf_prog_info info = {};
        __u32 len = sizeof info;
        int fd;

        fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "maio_test", "GPL", insns, ELEMENTSOF(insns), NULL);
        if (fd < 0) {
                fprintf(stderr, "child: cannot load an XDP program: %s\n", strerror(errno));
                _exit(CHILD_SKIP);
        }
        child_check(bpf_xdp_attach(1, fd, XDP_FLAGS_SKB_MODE, NULL) == 0);
        child_check(bpf_obj_get_info_by_fd(fd, &info, &len) == 0);
        return info.id;
}

static void child_links(void) {
        struct nl_sock *s;
        Topology *t = NULL;
        const TopoNetdev *a, *lo;

        child_enter_netns();
        s = child_route_socket();
        child_check(rtnl_link_veth_add(s, "maio-a", "maio-b", getpid()) == 0);

        child_check(topo_load("/", &t) == 0);
        child_check(t->rtnl_known);
        child_check(t->n_netdevs == 3);
        a = netdev(t, "maio-a");
        child_check(a && netdev(t, "maio-b"));
        child_check(a->kind && strcmp(a->kind, "veth") == 0);
        child_check(!a->driver);
        child_check(a->xdp_native == TOPO_NATIVE_DRIVER_LIST);
        child_check(a->xdp_mode == TOPO_XDP_NONE && a->xdp_prog_id == 0);
        lo = netdev(t, "lo");
        child_check(lo && lo->xdp_mode == TOPO_XDP_NONE && lo->xdp_prog_id == 0);
        child_check(lo->xdp_native == TOPO_NATIVE_NO);
        topo_free(t);

        child_del_link(s, "maio-a");
        child_check(topo_load("/", &t) == 0);
        child_check(t->n_netdevs == 1 && netdev(t, "lo"));
        topo_free(t);
        nl_socket_free(s);
}

static void test_live_netns_links(void **state) {
        run_in_child(child_links, "live links in a network namespace");
}

/* A generic-mode XDP program on lo is reported as such, with its id. */
static void child_xdp(void) {
        Topology *t = NULL;
        const TopoNetdev *lo;
        uint32_t prog_id;

        child_enter_netns();
        prog_id = child_attach_xdp();
        child_check(topo_load("/", &t) == 0);
        child_check(t->rtnl_known);
        lo = netdev(t, "lo");
        child_check(lo && lo->xdp_mode == TOPO_XDP_GENERIC);
        child_check(lo->xdp_prog_id == prog_id && prog_id != 0);
        child_check(lo->xdp_native == TOPO_NATIVE_NO);
        topo_free(t);
}

static void test_live_netns_xdp(void **state) {
        run_in_child(child_xdp, "an XDP program in a network namespace");
}

static unsigned watch_calls;
static TopoWatchCounts watch_last;

static void on_watch(void *userdata, const TopoWatchCounts *burst) {
        watch_calls++;
        watch_last = *burst;
}

/* Adds (or deletes) the address text (with its prefix) on lo. */
static void child_addr(struct nl_sock *s, const char *text, bool add) {
        struct rtnl_addr *a = rtnl_addr_alloc();
        struct nl_addr *local = NULL;

        child_check(a);
        child_check(nl_addr_parse(text, AF_UNSPEC, &local) == 0);
        rtnl_addr_set_ifindex(a, 1);
        child_check(rtnl_addr_set_local(a, local) == 0);
        if (add)
                child_check(rtnl_addr_add(s, a, 0) == 0);
        else
                child_check(rtnl_addr_delete(s, a, 0) == 0);
        nl_addr_put(local);
        rtnl_addr_put(a);
}

/* Runs the loop for usec, or until it fails. */
static void child_run_for(sd_event *e, uint64_t usec) {
        uint64_t now, end;

        child_check(sd_event_now(e, CLOCK_MONOTONIC, &now) >= 0);
        end = now + usec;
        while (now < end) {
                child_check(sd_event_run(e, end - now) >= 0);
                child_check(sd_event_now(e, CLOCK_MONOTONIC, &now) >= 0);
        }
}

static void child_watch(void) {
        TopoWatch *w = NULL;
        struct nl_sock *s;
        sd_event *e = NULL;

        child_enter_netns();
        child_check(sd_event_new(&e) >= 0);
        child_check(topo_watch_new(e, 100 * 1000, on_watch, NULL, &w) == 0);
        s = child_route_socket();

        child_run_for(e, 150 * 1000);
        child_check(watch_calls == 0); /* nothing happened yet */

        /* A veth pair is several messages; they are read as one burst. */
        child_check(rtnl_link_veth_add(s, "maio-a", "maio-b", getpid()) == 0);
        child_run_for(e, 50 * 1000);
        child_check(watch_calls == 0); /* still within the debounce delay */
        child_run_for(e, 300 * 1000);
        child_check(watch_calls == 1);

        child_del_link(s, "maio-a");
        child_run_for(e, 400 * 1000);
        child_check(watch_calls == 2);
        child_check(watch_last.links > 0 && watch_last.addresses == 0);

        /* Address changes are events too, IPv4 and IPv6, debounced the same way. */
        child_addr(s, "10.99.0.1/32", true);
        child_run_for(e, 50 * 1000);
        child_check(watch_calls == 2);
        child_run_for(e, 300 * 1000);
        child_check(watch_calls == 3);
        child_check(watch_last.addresses >= 1);
        child_addr(s, "10.99.0.1/32", false);
        child_addr(s, "fd99::1/128", true);
        child_run_for(e, 400 * 1000);
        child_check(watch_calls == 4);
        child_check(watch_last.addresses >= 2); /* one burst: the IPv4 removal and the IPv6 address */
        child_check(topo_watch_counts(w).addresses >= 3);

        topo_watch_free(w);
        nl_socket_free(s);
        sd_event_unref(e);
}

static void test_watch_debounce(void **state) {
        run_in_child(child_watch, "link watch in a network namespace");
}

static unsigned sink_calls;

static void on_sink(void *userdata, SchedEventClass cls, int64_t tenant_id, int priority, uint64_t source_usec) {
        child_check(cls == SCHED_EVENT_LINK && tenant_id == 0 && priority == SCHED_PRIORITY_HOST);
        sink_calls++;
}

/* The daemon's topology state: an address change reaches the scheduler's sink as a host-wide
 * link event after the debounce, once per burst. */
static void child_state_addresses(void) {
        EventSink sink = { .fn = on_sink };
        TopoState *ts = NULL;
        struct nl_sock *s;
        sd_event *e = NULL;
        uint64_t gen;

        child_enter_netns();
        child_check(sd_event_new(&e) >= 0);
        child_check(topo_state_new("/", e, &ts) == 0);
        topo_set_event_sink(ts, &sink);
        child_check(topo_start(ts) == 0);
        gen = topo_state_get(ts)->generation;
        s = child_route_socket();
        child_run_for(e, 150 * 1000);
        child_check(sink_calls == 0);

        child_addr(s, "10.99.0.2/32", true);
        child_addr(s, "10.99.0.3/32", true);
        child_run_for(e, 400 * 1000);
        child_check(sink_calls == 1);
        child_check(topo_state_get(ts)->generation == gen + 1);

        topo_state_free(ts);
        nl_socket_free(s);
        sd_event_unref(e);
}

static void test_state_addresses(void **state) {
        run_in_child(child_state_addresses, "address events in a network namespace");
}

/* Fixtures, temp trees and read-only invariants of the live host: any host runs these. */
static const struct CMUnitTest tests_any_host[] = {
        cmocka_unit_test(test_host_2node),
        cmocka_unit_test(test_root_slashes),
        cmocka_unit_test(test_host_1node),
        cmocka_unit_test(test_host_bare),
        cmocka_unit_test(test_json_2node),
        cmocka_unit_test(test_json_unknown),
        cmocka_unit_test(test_root_is_live),
        cmocka_unit_test(test_xdp_names),
        cmocka_unit_test(test_rtnl_errno),
        cmocka_unit_test(test_nodelist_parse),
        cmocka_unit_test_setup_teardown(test_odd_tree, odd_tree_setup, testutil_files_tree_teardown),
        cmocka_unit_test(test_live_host),
};

static const struct CMUnitTest tests_netns[] = {
        cmocka_unit_test(test_live_netns_links),
        cmocka_unit_test(test_watch_debounce),
        cmocka_unit_test(test_state_addresses),
};

static const struct CMUnitTest tests_xdp[] = {
        cmocka_unit_test(test_live_netns_xdp),
};

static const TestGroup groups[] = {
        TEST_GROUP(NULL, NULL, tests_any_host),
        TEST_GROUP("netns", "a network namespace of its own with its sysfs mounted (CAP_SYS_ADMIN)", tests_netns),
        TEST_GROUP("xdp",
                   "a network namespace of its own and loading an XDP program (CAP_SYS_ADMIN, or CAP_BPF "
                   "and CAP_NET_ADMIN)",
                   tests_xdp),
};

int main(int argc, char **argv) {
        if (testutil_fixtures_init() < 0)
                return EXIT_FAILURE;
        return testgroups_run(argc, argv, groups, ELEMENTSOF(groups));
}
