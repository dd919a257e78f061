/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* MFLOW: the structs and constants shared by the eBPF programs (mflow.bpf.c) and user space
 * (daemon/mflow/): the flow key, per-flow state, the configuration, split marks and events. */
#ifndef MAIO_KERNEL_MFLOW_H
#define MAIO_KERNEL_MFLOW_H

#ifndef __bpf__
#include <linux/bpf.h>
#include <linux/types.h>
#endif

#define MFLOW_MAX_CORES 8     /* splitting cores per flow (a power of two: used as a mask) */
#define MFLOW_MAX_CPUS 256    /* entries of the CPUMAP */
#define MFLOW_MAX_PORTS 4     /* VXLAN UDP destination ports recognised */
#define MFLOW_MAX_FLOWS 65536 /* LRU hash of per-flow state */
#define MFLOW_MAX_SPLITS 1024 /* flows the daemon may mark split at once */
#define MFLOW_RINGBUF_BYTES (256 * 1024)
#define MFLOW_VNI_NONE 0xffffffffu /* key.vni of plain (non-overlay) traffic */

/* Defaults the loader writes into the configuration (mflow_conf) after load. */
#define MFLOW_DEFAULT_BATCH 256
#define MFLOW_DEFAULT_WINDOW_NS 100000000ull      /* rate window: 100 ms */
#define MFLOW_DEFAULT_ELEPHANT_RATE (12500000ull) /* bytes/s: 100 Mbit/s */
#define MFLOW_DEFAULT_IDLE_NS 1000000000ull       /* a split flow without packets for 1 s is idle */
#define MFLOW_DEFAULT_FLOWLET_GAP_NS 1000000ull   /* 1 ms */
#define MFLOW_DEFAULT_FLOWLET_K 4                 /* batches without a gap before batch counting */
#define MFLOW_FLOWLET_K_NEVER 0xffffffffu         /* in a split mark: k * batch packets are never reached */
#define MFLOW_VXLAN_PORT_IANA 4789
#define MFLOW_VXLAN_PORT_LINUX 8472

/* What is done with a flow marked split. INHERIT (only in a split mark) takes the configuration's. */
enum mflow_mode {
        MFLOW_MODE_INHERIT = 0,
        MFLOW_MODE_PASS = 1,    /* count, never redirect: the baseline */
        MFLOW_MODE_SPLIT = 2,   /* micro-flow index = packets / batch, round robin over the cores */
        MFLOW_MODE_FLOWLET = 3, /* next core after an idle gap >= flowlet_gap_ns; batches after K without */
        _MFLOW_MODE_MAX,
};

enum mflow_event_type {
        MFLOW_EVENT_ELEPHANT = 1, /* the flow's bytes in one window crossed the elephant rate */
        MFLOW_EVENT_IDLE = 2,     /* a split flow saw no packet for idle_ns */
};

/* The inner 5-tuple (the outer one for plain traffic) and the VNI. IPv4 addresses are stored
 * IPv4-mapped (::ffff:a.b.c.d) so both families share one key; ports in host byte order. */
struct mflow_key {
        __u8 src[16];
        __u8 dst[16];
        __u16 sport;
        __u16 dport;
        __u8 proto;
        __u8 pad[3];
        __u32 vni;
};

/* flags of mflow_state */
#define MFLOW_F_ELEPHANT (1u << 0)  /* the elephant event was sent */
#define MFLOW_F_SPLIT (1u << 1)     /* the flow has a split mark and its split state is live */
#define MFLOW_F_IDLE_SENT (1u << 2) /* the idle event was sent; the next packet re-arms the timer */

/* Per-flow state, the value of the LRU hash maio_flows. Counters are updated atomically. */
struct mflow_state {
        __u64 bytes;
        __u64 packets;
        __u64 first_ns; /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
        __u64 last_ns;
        __u64 win_start_ns; /* the current rate window */
        __u64 win_bytes;
        __u64 rate; /* bytes/s over the last complete window */
        __u32 flags;
        __u32 slot;                          /* index into the split mark's cores of the current core (flowlet) */
        __u64 split_packets;                 /* packets since the flow was marked split */
        __u64 slot_packets;                  /* packets on the current core since the last move (flowlet) */
        __u64 gapless;                       /* packets since the last gap-triggered move (flowlet) */
        __u64 microflows;                    /* moves to a next core (micro-flows begun) */
        __u64 core_packets[MFLOW_MAX_CORES]; /* packets redirected per slot of the split mark */
        struct bpf_timer idle_timer;
};

/* A split mark, the value of the hash maio_split (key: mflow_key), written by user space. */
struct mflow_split {
        __u32 mode;                   /* enum mflow_mode; INHERIT = the configuration's */
        __u32 ncores;                 /* 1..MFLOW_MAX_CORES */
        __u32 batch;                  /* packets per micro-flow; 0 = the configuration's */
        __u32 flowlet_k;              /* 0 = the configuration's; MFLOW_FLOWLET_K_NEVER: moves on gaps only */
        __u64 flowlet_gap_ns;         /* 0 = the configuration's */
        __u32 cores[MFLOW_MAX_CORES]; /* CPU numbers, each with a CPUMAP entry */
};

/* The configuration, entry 0 of the array maio_conf. */
struct mflow_conf {
        __u32 mode;  /* default mode of split-marked flows; PASS disables every redirect */
        __u32 batch; /* default micro-flow size in packets */
        __u64 window_ns;
        __u64 elephant_rate; /* bytes/s; a flow with rate * window bytes in one window is an elephant */
        __u64 idle_ns;
        __u64 flowlet_gap_ns;
        __u32 flowlet_k;                    /* 0: never fall back to batch counting */
        __u16 vxlan_ports[MFLOW_MAX_PORTS]; /* host byte order; 0 = unused */
        __u32 pad;
};

/* Per-CPU counters, the value of the per-CPU array maio_stats (one entry). */
struct mflow_cpu_stats {
        __u64 packets; /* seen by the XDP program on this CPU */
        __u64 bytes;
        __u64 non_ip; /* not IPv4/IPv6 (outer or inner): passed, not counted per flow */
        __u64 microflows;
        __u64 redirects;
        __u64 redirect_errors; /* no CPUMAP entry for the chosen core */
        __u64 cpumap_packets;  /* received on this CPU from the CPUMAP */
        __u64 events;
        __u64 events_dropped; /* ring buffer full */
        __u64 tc_segments;    /* TCP segments seen by the tc program */
        __u64 tc_ooo_segments;
};

struct mflow_event {
        __u32 type; /* enum mflow_event_type */
        __u32 cpu;
        __u64 ts_ns;
        __u64 first_ns;
        __u64 bytes;
        __u64 packets;
        __u64 rate; /* bytes/s at the event */
        struct mflow_key key;
};

/* Reordering seen by the tc-ingress program, the value of the LRU hash maio_reorder (no spin lock:
 * the kernel allows none in an LRU hash). */
struct mflow_reorder {
        __u32 max_end; /* highest end sequence seen, moved forward by compare-and-swap */
        __u32 pad;
        __u64 segments;     /* TCP data segments (gso_segs each) */
        __u64 ooo_segments; /* ... whose sequence starts below max_end */
};

#endif
