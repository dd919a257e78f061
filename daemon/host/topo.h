/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host topology: CPUs, NUMA nodes (memory, distances, tiers, hugepages) and
 * network devices, read below a root directory (--root), plus the rtnetlink
 * link watch that keeps the daemon's copy current. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <systemd/sd-event.h>

#include "detect.h"
#include "request.h"
#include "sched-event.h"

typedef struct TopoCpu {
        unsigned id;
        int core_id;    /* topology/core_id, -1 unknown */
        int package_id; /* topology/physical_package_id, -1 unknown (or what the kernel says) */
        int node;       /* the node whose cpulist has it, -1 none */
        bool isolated;
        bool nohz_full;
} TopoCpu;

typedef struct TopoNode {
        unsigned id;
        bool has_memory; /* in node/has_memory */
        char *cpulist;   /* nodeN/cpulist as printed ("" memory-only); NULL unreadable */
        bool have_meminfo;
        uint64_t mem_total_kb;   /* nodeN/meminfo MemTotal, valid when have_meminfo */
        uint64_t mem_free_kb;    /* nodeN/meminfo MemFree */
        int memory_tier;         /* id N of the memory_tierN listing it, -1 none */
        unsigned *distances;     /* distances[i] to Topology.nodes[i]; NULL unknown */
        size_t n_distances;      /* == Topology.n_nodes when known */
        HugepageSize *hugepages; /* nodeN/hugepages, ascending size */
        size_t n_hugepages;
} TopoNode;

typedef struct TopoTier {
        unsigned id;    /* N of memory_tierN */
        char *nodelist; /* as printed */
} TopoTier;

/* How an XDP program is attached (IFLA_XDP_ATTACHED). */
typedef enum TopoXdpMode {
        TOPO_XDP_UNKNOWN = -1, /* no rtnetlink facts for this device */
        TOPO_XDP_NONE,
        TOPO_XDP_DRIVER,
        TOPO_XDP_GENERIC,
        TOPO_XDP_OFFLOAD,
        TOPO_XDP_MULTI,
        _TOPO_XDP_MODE_MAX,
} TopoXdpMode;

/* Why native XDP is reported (or not). */
typedef enum TopoNativeSource {
        TOPO_NATIVE_NO,          /* neither driver nor kind is known to implement it */
        TOPO_NATIVE_DRIVER_LIST, /* the driver or link kind is in topo_xdp_native_drivers[] */
        TOPO_NATIVE_ATTACHED,    /* a program is attached in driver mode right now */
        _TOPO_NATIVE_SOURCE_MAX,
} TopoNativeSource;

typedef struct TopoNetdev {
        char *name;
        int ifindex;        /* -1 unknown */
        char *driver;       /* basename of device/driver; NULL for virtual devices */
        char *kind;         /* rtnetlink IFLA_INFO_KIND ("veth", ...); NULL none or unknown */
        int node;           /* device/numa_node, -1 none */
        unsigned rx_queues; /* entries queues/rx-N */
        unsigned tx_queues; /* entries queues/tx-N */
        TopoNativeSource xdp_native;
        TopoXdpMode xdp_mode;
        uint32_t xdp_prog_id; /* 0 none; meaningless when xdp_mode is TOPO_XDP_UNKNOWN */
} TopoNetdev;

typedef struct Topology {
        char *cpus_online;    /* cpu/online as printed; NULL unreadable */
        char *cpus_isolated;  /* cpu/isolated; "" none; NULL absent */
        char *cpus_nohz_full; /* cpu/nohz_full; "" none (also for the kernel's "(null)"); NULL absent */
        TopoCpu *cpus;        /* online CPUs, ascending */
        size_t n_cpus;
        TopoNode *nodes; /* nodeN directories, ascending */
        size_t n_nodes;
        TopoTier *tiers; /* ascending tier id */
        size_t n_tiers;
        TopoNetdev *netdevs; /* sorted by name */
        size_t n_netdevs;
        bool rtnl_known;     /* link kinds and XDP state were read (live dump or fixture file) */
        uint64_t generation; /* set by the owner: 1 for the first load, +1 per re-read */
} Topology;

/* One link as rtnetlink describes it: what sysfs does not say. */
typedef struct TopoLink {
        char *name;
        char *kind; /* NULL: no IFLA_INFO_KIND */
        TopoXdpMode xdp_mode;
        uint32_t xdp_prog_id;     /* the driver-mode one first when several are attached */
        bool xdp_native_attached; /* a program is attached in driver mode */
} TopoLink;

/* Reads the topology below root (NULL, "" or "/" is the live host). A fact
 * that cannot be read is left unknown (NULL, -1, false) and logged at debug;
 * that is not an error. Returns 0 and a new *ret, or -ENOMEM. */
int topo_load(const char *root, Topology **ret);

/* Frees t and what it owns; accepts NULL and half-built objects. Returns NULL. */
Topology *topo_free(Topology *t);
static inline void topo_freep(Topology **t) {
        topo_free(*t);
}

/* True for the live host: root NULL, "" or only slashes. */
bool topo_root_is_live(const char *root);

/* The JSON object of GET /v1/topology (schema Topology in api/openapi.yaml).
 * Returns a new reference, or NULL on OOM. */
json_object *topo_to_json(const Topology *t);

/* "none", "driver", "generic", "offload", "multi"; NULL for TOPO_XDP_UNKNOWN
 * or anything else. topo_xdp_mode_from_string() is the inverse: the mode, or
 * -EINVAL. */
const char *topo_xdp_mode_to_string(TopoXdpMode m);
int topo_xdp_mode_from_string(const char *s);

/* True when a driver (basename of device/driver) or rtnetlink link kind is
 * known to implement native XDP (ndo_bpf); NULL is false. Never fails. */
bool topo_xdp_native_known(const char *driver_or_kind);

/* ---- rtnetlink (topo-rtnl.c) ---- */

/* The links of the current network namespace from one RTM_GETLINK dump (live
 * root), or from the fixture file ROOT/rtnetlink/links (any other root; a
 * missing file gives -ENOENT: the facts are unknown). Returns 0 with a
 * malloc'd array (free with topo_links_free) or -errno (libnl's -NLE_* are
 * converted by topo_rtnl_errno). */
int topo_rtnl_links(const char *root, TopoLink **ret, size_t *ret_n);
void topo_links_free(TopoLink *links, size_t n);

/* Maps a libnl error (-NLE_* or NLE_*) to a negative errno; 0 stays 0.
 * Unknown codes become -EIO. */
int topo_rtnl_errno(int nlerr);

typedef struct TopoWatch TopoWatch;

/* rtnetlink messages received, by kind. */
typedef struct TopoWatchCounts {
        uint64_t links;     /* RTM_NEWLINK, RTM_DELLINK */
        uint64_t addresses; /* RTM_NEWADDR, RTM_DELADDR (IPv4 and IPv6) */
} TopoWatchCounts;

/* burst: the messages since the previous call (both 0 after an overrun that lost them). */
typedef void (*TopoWatchFn)(void *userdata, const TopoWatchCounts *burst);

/* Subscribes to RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR and RTNLGRP_IPV6_IFADDR (the
 * last when the kernel has IPv6) on a non-blocking libnl route socket watched
 * by event (io source "rtnl-link"). Any link or address message, or an overrun
 * of the socket, arms a one-shot timer ("rtnl-link-debounce") that calls fn
 * once, delay_usec later, however many messages arrive meanwhile. Returns 0
 * and *ret, or -errno. */
int topo_watch_new(sd_event *event, uint64_t delay_usec, TopoWatchFn fn, void *userdata, TopoWatch **ret);
/* The messages received since topo_watch_new() (zeros for NULL). */
TopoWatchCounts topo_watch_counts(const TopoWatch *w);
/* Unsubscribes and frees; NULL is fine. Returns NULL. */
TopoWatch *topo_watch_free(TopoWatch *w);

/* The daemon's copy of the topology, kept current on link events. */
typedef struct TopoState TopoState;

/* Returns 0 or -ENOMEM. Nothing is read until topo_start(). */
int topo_state_new(const char *root, sd_event *event, TopoState **ret);
/* topo_stop() and frees; NULL is fine. Returns NULL. */
TopoState *topo_state_free(TopoState *ts);
/* The current topology, NULL before topo_start(). */
const Topology *topo_state_get(const TopoState *ts);

/* Where a re-read after rtnetlink link or address events is announced (SCHED_EVENT_LINK, after the
 * debounce); sink is borrowed (NULL: nobody listens). */
void topo_set_event_sink(TopoState *ts, const EventSink *sink);
/* Reads the topology and subscribes to rtnetlink link and address events (io source "rtnl-link"); an event
 * schedules one re-read ~100 ms later (timer "rtnl-link-debounce"). A failed subscription is
 * logged and tolerated (the topology then stays as read at start). Returns 0 or -ENOMEM (logged). */
int topo_start(TopoState *ts);

/* Re-reads the topology now and swaps it in, bumping the generation. On failure the old one
 * stays. Returns 0 or -ENOMEM. */
int topo_reload(TopoState *ts);

/* Drops the subscription, the timer and the topology. Accepts a state on which topo_start()
 * never ran or failed half-way. */
void topo_stop(TopoState *ts);

/* GET /v1/topology; userdata is the TopoState. */
int topo_op_get(void *userdata, const Request *req, Reply *reply);
