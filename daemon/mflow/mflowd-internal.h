/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The state shared by mflowd.c (devices, attachments, the flow table, events, the knob-only modes)
 * and mflowd-api.c (status, metrics, the ops): private to daemon/mflow. */
#pragma once

#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "mflow-adapt.h"
#include "mflow-bpf.h"
#include "mflow-cores.h"
#include "mflow-split.h"
#include "mflowd.h"

#define MFLOW_MAX_DEVICES 16
#define MFLOW_MAX_TRACKED 1024 /* elephants remembered (idle ones are dropped first) */
#define OWN_XDP "xdp"
#define OWN_BPFFS "bpffs"
#define OWN_NAPI "napi-affinity" /* a NAPI kernel thread's CPU affinity, by pid */
#define MFLOW_MAX_QUEUES 64      /* rx queues whose rps_cpus the rps mode writes */
#define MFLOW_MAX_NAPI 64        /* NAPI threads of one device the napi-threaded mode pins */
#define KNOB_BY "mflow"

/* A device's settings: [mflow] defaults, changed by PUT /v1/mflow. */
typedef struct DevConf {
        MflowConfMode mode;
        unsigned cores_per_flow;
        unsigned batch;
        uint64_t elephant_bytes_per_s;
        unsigned window_ms;
        unsigned idle_ms;
        unsigned flowlet_gap_us;
        unsigned flowlet_k;
        bool have_allowed; /* "cores" given: only these CPUs split */
        bool allowed[MFLOW_MAX_CPUS];
} DevConf;

typedef struct Dev {
        Mflow *m;
        char name[IF_NAMESIZE];
        int ifindex;
        DevConf conf;
        bool conf_set; /* changed by PUT: a reload keeps it */
        MflowBpf *bpf;
        MflowXdpMode xdp; /* when attached */
        bool attached;
        bool tc; /* the reordering counter is attached */
        char pin_dir[PATH_MAX];
        char *conflict; /* someone else's XDP program is on the device */
        char *error;    /* why it is not attached */
        sd_event_source *ring;
        /* adoption of a previous run's attachment found at start */
        int adopt_fd;
        MflowXdpMode adopt_mode;
        bool adopt_clsact;
        MflowSnapshot prev; /* the last snapshot, for the load */
        bool have_prev;
        double load[MFLOW_MAX_CPUS];
        uint64_t redirects_seen; /* for metrics: sums of the per-CPU counters are read live */
        /* the adaptive mode's baseline: the device's TCP segments that were not split */
        bool base_init;
        uint64_t base_tc_segments, base_tc_ooo; /* the device's tc counters at the last timer pass */
        uint64_t base_segments, base_ooo;       /* not split, accumulated (halved past 2^24 segments) */
        /* the knob-only modes (rps, napi-threaded): what was written through the journal */
        bool knobs_on;
        unsigned n_knob_cores;
        unsigned knob_cores[MFLOW_MAX_CORES];
        char knob_value[64]; /* the rps_cpus mask, or "1" for threaded */
        char *knob_names[MFLOW_MAX_QUEUES];
        size_t n_knob_names;
        MflowNapiThread napi[MFLOW_MAX_NAPI];
        size_t n_napi;
} Dev;

typedef enum FlowState {
        FLOW_ELEPHANT, /* detected, not split (pass mode, or no core) */
        FLOW_SPLIT,    /* split over its cores */
        FLOW_IDLE,     /* went idle: cores released */
} FlowState;

/* The words of FlowState. */
extern const char *const flow_state_words[];

typedef struct Flow {
        struct mflow_key key;
        Dev *dev;
        FlowState state;
        MflowConfMode mode; /* what it was split with */
        unsigned batch;
        unsigned n_cores;
        unsigned cores[MFLOW_MAX_CORES];
        uint64_t core_packets[MFLOW_MAX_CORES];
        char reason[MFLOW_REASON_MAX];
        uint64_t detected_usec; /* CLOCK_REALTIME */
        double detect_ms;       /* from its first packet to the elephant event */
        uint64_t rate;
        uint64_t bytes, packets, microflows;
        uint64_t segments, ooo_segments;
        uint64_t last_usec; /* CLOCK_MONOTONIC of the last change, for eviction */
        /* the stall detector: the counters at the previous timer pass */
        uint64_t prev_bytes, prev_packets, prev_usec, prev_segments;
        uint32_t max_end, prev_max_end; /* TCP: the highest end sequence the tc counter saw */
        unsigned slow;                  /* passes with packets but no progress since the last pass at full rate */
        unsigned gap_us;                /* the flowlet gap of its mark (flowlet, adaptive flowlet) */
        /* the adaptive mode */
        bool adaptive; /* split in adaptive mode: adapt holds its setting */
        MflowAdaptState adapt;
        uint64_t win_usec; /* CLOCK_MONOTONIC start of the current window, 0 none */
        uint64_t win_segments, win_ooo, win_core[MFLOW_MAX_CORES]; /* counters at its start */
        uint64_t tick_segments, tick_ooo; /* tc counters at the last timer pass (for the baseline) */
        int64_t excess_ppm;               /* of the last judged window, -1 unknown */
        int min_share;                    /* percent of an even share, -1 unknown */
        uint64_t baseline_ppm;            /* the device's baseline at the last window */
        char adapt_reason[MFLOW_ADAPT_REASON_MAX];
        /* the tenant it belongs to (mflowd_flows_attribute), 0 none */
        int64_t tenant_id;
        uid_t tenant_uid;
        int tenant_priority;
        /* the scheduler's splitting_cores (mflowd-sched.c) */
        bool admitted; /* its tenant's share of core slots covers it: split it (or keep it split) */
        bool stalled;  /* put back to pass-through after a stall: asks for nothing until its next elephant event */
} Flow;

struct Mflow {
        Store *store;
        Journal *journal;
        const Notifier *notifier; /* the tenants' netlink subscribers (flow-elephant, flow-split) */
        const EventSink *sched;   /* the scheduler: an elephant or idle flow is an event */
        sd_event *event;
        char *root;
        bool dry_run;
        bool started;

        char *devices; /* [mflow] devices, as configured at start */
        DevConf defaults;
        uint16_t ports[MFLOW_MAX_PORTS];
        char *bpffs;
        unsigned qsize;
        unsigned xdp; /* MFLOW_CONF_XDP_* */
        unsigned interval_ms;
        unsigned hysteresis;
        unsigned flows_per_core; /* [mflow] flows_per_core: core slots per splitting core */
        MflowSplitShare *shares; /* the scheduler's splitting_cores allocation in force, per tenant */
        size_t n_shares;
        MflowAdaptConf adapt; /* [mflow] adaptive_* */
        unsigned adapt_window_ms;
        bool pollers[MFLOW_MAX_CPUS]; /* [pools] poller_cpus: never splitting cores */
        bool bpffs_mounted;           /* by maiod (this run, or adopted from a crashed one) */
        bool bpffs_ready;             /* bpffs_prepare() succeeded */

        Dev *devs[MFLOW_MAX_DEVICES];
        size_t n_devs;
        Flow *flows;
        size_t n_flows;
        sd_event_source *timer;

        uint64_t adapt_changes_total;
        uint64_t elephants_total, splits_total, moves_total, idle_total, stalls_total, adopted_total, detached_total;
};

/* mflowd.c, for mflowd-api.c */
/* mflowd-adapt.c, for mflowd.c and mflowd-api.c */
void mflowd_adapt_conf(Mflow *m, const Config *c);        /* the [mflow] adaptive_* keys */
void mflowd_flow_setting(Flow *f, struct mflow_split *s); /* the mark's mode, batch and gap */
int mflowd_flow_remark(Flow *f);                          /* rewrites a split flow's mark; 0 or -errno */
void mflowd_dev_baseline(Dev *d);                         /* each timer pass, after the flows' refresh */
void mflowd_flow_adapt(Flow *f);                          /* each timer pass: judges a window that ended */
json_object *mflowd_flow_json(const Flow *f);             /* a flow as GET /v1/flows lists it */
uint64_t mflowd_baseline_ppm(const Dev *d);               /* 0 until 1000 segments were seen */
bool mflowd_flows_attribute(Mflow *m);                    /* each flow's tenant by address; true: one changed */
const char *mflowd_mode_word(MflowConfMode mode);
void mflowd_dev_switch(Dev *d, const DevConf *c);
void mflowd_flow_refresh(Flow *f);
bool mflowd_mode_is_knob(MflowConfMode mode);
Dev *mflowd_dev_find(Mflow *m, const char *name);
Dev *mflowd_dev_new(Mflow *m, const char *name);
int mflowd_bpffs_prepare_once(Mflow *m);
int mflowd_timer_start(Mflow *m); /* the refresh timer, once */
/* Splits the device's admitted elephants that wait for their cores and re-runs the assignment of its split
 * flows (moves); returns the split marks written. */
int mflowd_dev_assign(Dev *d);
void mflowd_flow_unsplit(Flow *f); /* back to pass-through (its mark removed), cores released */
/* mflowd-sched.c */
bool mflowd_dev_splits(const Dev *d); /* attached in split, flowlet or adaptive mode: its elephants ask for cores */
/* Decides which elephants are split from the scheduler's shares in force (every one without a scheduler),
 * unsplits the others with a state_reason and splits the newly admitted ones. Returns the kernel writes. */
int mflowd_flows_select(Mflow *m);
/* Tells the scheduler that the splitting cores' capacity or demands may have changed (a host event). */
void mflowd_sched_kick(Mflow *m);
