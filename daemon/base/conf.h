/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* maiod.conf: one table of (section, key, parser, range, default, doc) drives
 * parsing (inih), validation, --check-config --print and the man page check. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The C type of the Config field each ConfType writes is given in brackets. */
typedef enum ConfType {
        CONF_UINT,      /* [unsigned] decimal digits only, range [min, max] */
        CONF_BOOL,      /* [bool] yes/no/true/false/on/off/1/0 (any case), printed as yes/no */
        CONF_MODE,      /* [unsigned] octal file mode, range [min, max], printed as 0NNN */
        CONF_STRING,    /* [char *] text without control characters, length <= max (0 = any) */
        CONF_NAME,      /* [char *] "" or a user/group name [a-z_][a-z0-9_-]*, length <= max */
        CONF_LISTEN,    /* [char *] "" (off), "A.B.C.D:PORT", "[v6]:PORT" or "localhost:PORT";
                         * stored normalised (inet_ntop form, decimal port) */
        CONF_LOG_LEVEL, /* [int] a syslog level name, stored as LOG_* */
        CONF_ENUM,      /* [unsigned] one of ConfItem.words (any case), stored as its index */
        CONF_U64,       /* [uint64_t] decimal digits only, range [min, max] (for byte counts) */
        CONF_URL_LIST,  /* [char *] "" or comma-separated http:// or https:// URLs, at most max of them;
                         * stored without blanks */
        CONF_IFNAMES,   /* [char *] network device names separated by blanks or commas, at most max of them;
                         * stored normalised (one blank between names) */
        CONF_PORTS,     /* [char *] UDP/TCP ports 1..65535 separated by blanks or commas, 1..max of them;
                         * stored normalised (decimal, one blank between) */
        CONF_PATH,      /* [char *] an absolute path without control characters, length <= max */
        CONF_LADDER,    /* [char *] 1..CONF_LADDER_MAX strictly ascending integers in [min, max] separated
                         * by blanks or commas; stored normalised (decimal, one blank between) */
        CONF_CLASSES,   /* [ConfPriorityClasses] ranges of priorities "0-1,2-5,6-7": ascending, covering
                         * 0..7 once; printed without blanks */
        CONF_CPUS,      /* [char *] "" or CPU numbers 0..max and ranges N-M separated by commas or blanks;
                         * stored as a normalised cpulist ("1,3-5": ascending, merged) */
} ConfType;

/* Most rungs of a CONF_LADDER. */
#define CONF_LADDER_MAX 16

/* Priority classes: which class each priority 0..7 is in, classes numbered in serving order. */
typedef struct ConfPriorityClasses {
        unsigned n;
        uint8_t class_of[8];
} ConfPriorityClasses;

/* One [tenants.group.NAME] section: the admission limits of the members of group NAME, overriding
 * [tenants]. A key the section does not set takes the [tenants] value once loading is done. */
typedef struct TenantGroupConf {
        char *name;
        unsigned max_per_uid;      /* as [tenants] max_tenants_per_uid */
        unsigned highest_priority; /* as [tenants] highest_priority */
} TenantGroupConf;

/* Most [tenants.group.NAME] sections one configuration may hold. */
#define CONF_TENANT_GROUPS_MAX 64

typedef struct Config {
        /* [daemon] */
        int log_level;              /* LOG_* */
        unsigned status_interval_s; /* how often STATUS= is refreshed */

        /* [api] */
        char *listen;                           /* "" = TCP listener off */
        unsigned socket_mode;                   /* mode of RUNTIME_DIR/maiod.sock */
        char *admin_group;                      /* "" = only uid 0 is admin; existence is not checked here */
        unsigned max_connections;               /* per listener */
        unsigned idle_timeout_s;                /* idle keep-alive connection is closed after this */
        unsigned request_timeout_s;             /* a request must be complete within this from its first byte */
        unsigned json_max_depth;                /* nesting limit for request bodies */
        uint64_t netlink_port;                  /* NETLINK_USERSOCK port id; 0 = no netlink API */
        unsigned netlink_rcvbuf;                /* bytes of the netlink socket's receive buffer */
        unsigned netlink_subscriptions_max;     /* notification subscriptions, all uids */
        unsigned netlink_subscriptions_per_uid; /* notification subscriptions of one uid */

        /* [tenants] */
        unsigned max_tenants;
        unsigned on_pid_exit;              /* TENANT_PID_EXIT_KEEP / _REMOVE (index into words) */
        unsigned tenants_max_per_uid;      /* tenants one non-admin uid may hold */
        unsigned tenants_highest_priority; /* lowest priority number a non-admin may take (0 = highest) */
        TenantGroupConf *tenant_groups;    /* [tenants.group.NAME] sections, in file order */
        size_t n_tenant_groups;

        /* [knobs] */
        bool knobs_restore_on_exit;   /* a clean stop writes the originals back */
        unsigned knobs_reconcile;     /* KNOBS_RECONCILE_*: what a start after an unclean stop does */
        unsigned knobs_drift_check_s; /* period of the live-vs-written comparison */
        bool knobs_enforce;           /* re-write a knob someone else changed */

        /* [pools] */
        unsigned pools_headroom_pages;  /* 2 MiB pages reserved on a node beyond its grants */
        uint64_t pools_max_grant_bytes; /* largest grant one tenant may hold on one node */
        char *pools_poller_cpus;        /* cpulist of CPUs handed out for SQPOLL pollers, "" none */

        /* [tiering] */
        unsigned tiering_backend;                 /* TIERING_BACKEND_* */
        unsigned tiering_policy;                  /* TIERING_POLICY_*: the policy a tenant starts with */
        unsigned tiering_seed;                    /* the seed a tenant's policy starts with */
        unsigned tiering_interval_s;              /* period of the telemetry timer */
        unsigned tiering_link_bandwidth_mbps;     /* memory link bandwidth, MB/s */
        unsigned tiering_link_contention_percent; /* share of it other hosts take */
        unsigned tiering_local_latency_ns;
        unsigned tiering_remote_latency_ns;
        unsigned tiering_promote_budget_percent; /* share of our link bandwidth promotions may use */
        unsigned tiering_demote_after_s;         /* DAMON: idle time before a page is demoted */
        unsigned tiering_anchor_distance_milli;  /* farthest anchor a joining tenant starts from (x 1/1000), 0 off */

        /* [fleet] */
        char *fleet_endpoints;                  /* "" = fleet off; else comma-separated etcd client URLs */
        char *fleet_ca_file;                    /* "" = the system's CAs */
        char *fleet_cert_file, *fleet_key_file; /* TLS client certificate and key, "" none */
        char *fleet_username, *fleet_password;  /* etcd auth, "" = none */
        char *fleet_prefix;                     /* key prefix, e.g. "/maio" */
        char *fleet_host;                       /* this host's name, "" = gethostname() */
        char *fleet_sources;                    /* comma-separated hosts models are imported from, "" = all */
        unsigned fleet_publish_episodes;        /* model version steps between publications */
        unsigned fleet_publish_interval_s;      /* least time between publications of one tenant */
        unsigned fleet_lookup_timeout_ms;       /* bound of a lazy lookup */
        unsigned fleet_context_distance_milli;  /* a local model farther than this (x 1/1000) is not close */
        unsigned fleet_retention_days;          /* removed tenants' keys are kept this long */
        uint64_t fleet_max_request_bytes;       /* etcd's --max-request-bytes */
        /* [mflow] */
        char *mflow_devices;                       /* "" = MFLOW off; else device names, one blank between */
        unsigned mflow_mode;                       /* MFLOW_CONF_MODE_*: what an elephant gets */
        unsigned mflow_cores_per_flow;             /* splitting cores per elephant */
        unsigned mflow_batch;                      /* packets per micro-flow (split mode) */
        uint64_t mflow_elephant_bytes_per_s;       /* rate that makes a flow an elephant */
        unsigned mflow_window_ms;                  /* the rate window */
        unsigned mflow_idle_ms;                    /* a split flow without packets this long is idle */
        unsigned mflow_flowlet_gap_us;             /* flowlet mode: gap before a move to the next core */
        unsigned mflow_flowlet_k;                  /* flowlet mode: batches without a gap before batch counting */
        char *mflow_vxlan_ports;                   /* VXLAN UDP ports, one blank between */
        char *mflow_bpffs;                         /* where maps are pinned (a bpffs, mounted by maiod if none) */
        unsigned mflow_cpumap_qsize;               /* CPUMAP queue size per splitting core */
        unsigned mflow_interval_ms;                /* period of the flow table refresh and core assignment */
        unsigned mflow_flows_per_core;             /* elephants one splitting core serves (scheduler capacity) */
        unsigned mflow_hysteresis_percent;         /* load gap before a flow leaves a loaded splitting core */
        char *mflow_adaptive_batches;              /* adaptive mode: the batch ladder, ascending, one blank between */
        char *mflow_adaptive_gaps_us;              /* adaptive mode: the flowlet gap ladder in microseconds */
        unsigned mflow_adaptive_excess_ppm;        /* adaptive mode: bound on out-of-order segments per million over the
                                                      baseline */
        unsigned mflow_adaptive_window_ms;         /* adaptive mode: the window the controller judges */
        unsigned mflow_adaptive_min_share_percent; /* adaptive mode: least share per core, percent of an even share */
        unsigned mflow_xdp;                        /* MFLOW_CONF_XDP_*: how the XDP program is attached */
        /* [scheduler] */
        ConfPriorityClasses scheduler_classes; /* priority -> class for the allocator */
        int scheduler_mode;                    /* SCHEDULER_MODE_* */
        unsigned scheduler_period_ms;          /* periodic mode: the period */
        unsigned scheduler_fallback_s;         /* event mode: full re-evaluation after this long without one */
        unsigned scheduler_pass_events;        /* most events one pass takes */
        unsigned scheduler_psi_stall_ms;       /* memory stall per second that wakes the scheduler; 0 off */
} Config;

enum {
        TENANT_PID_EXIT_KEEP,
        TENANT_PID_EXIT_REMOVE,
        _TENANT_PID_EXIT_MAX,
};

enum {
        KNOBS_RECONCILE_RESTORE,
        KNOBS_RECONCILE_REAPPLY,
        _KNOBS_RECONCILE_MAX,
};

enum {
        SCHEDULER_MODE_EVENT,
        SCHEDULER_MODE_PERIODIC,
        _SCHEDULER_MODE_MAX,
};

typedef enum TieringBackend {
        TIERING_BACKEND_AUTO,
        TIERING_BACKEND_DAMON,
        TIERING_BACKEND_NUMA_BALANCING,
        TIERING_BACKEND_OFF,
        _TIERING_BACKEND_MAX,
} TieringBackend;

/* The policies a tenant may start with; conf.c's words are their daemon/tier names. */
typedef enum TieringPolicy {
        TIERING_POLICY_HEURISTIC,
        TIERING_POLICY_INDIGO,
        TIERING_POLICY_LINUCB,
        TIERING_POLICY_STATIC,
        _TIERING_POLICY_MAX,
} TieringPolicy;

/* [mflow] mode: what maiod does with an elephant on the configured devices. */
typedef enum MflowConfMode {
        MFLOW_CONF_MODE_ADAPTIVE,      /* per elephant, batch or flowlet over their ladders from measured reordering */
        MFLOW_CONF_MODE_SPLIT,         /* micro-flows of batch packets, round robin over the splitting cores */
        MFLOW_CONF_MODE_FLOWLET,       /* the next splitting core after an idle gap */
        MFLOW_CONF_MODE_PASS,          /* attached and counting (detection, no redirect): the baseline */
        MFLOW_CONF_MODE_OFF,           /* not attached */
        MFLOW_CONF_MODE_RPS,           /* knob-only: the rx queues' rps_cpus set to the splitting cores, no XDP */
        MFLOW_CONF_MODE_NAPI_THREADED, /* knob-only: threaded NAPI, its threads pinned to the splitting cores */
        _MFLOW_CONF_MODE_MAX,
} MflowConfMode;

/* [mflow] xdp: native with a generic fallback, or one of them only. */
typedef enum MflowConfXdp {
        MFLOW_CONF_XDP_AUTO,
        MFLOW_CONF_XDP_NATIVE,
        MFLOW_CONF_XDP_GENERIC,
        _MFLOW_CONF_XDP_MAX,
} MflowConfXdp;

/* The [mflow] mode words ("adaptive", "split", ...), NULL outside the enum; from_string returns the
 * mode or -EINVAL. */
const char *mflow_conf_mode_to_string(MflowConfMode m);
int mflow_conf_mode_from_string(const char *s);

/* The [tiering] backend and policy words ("auto", "heuristic", ...); NULL outside the enums. */
const char *tiering_backend_to_string(TieringBackend b);
const char *tiering_policy_to_string(TieringPolicy p);

typedef struct ConfItem {
        const char *section;
        const char *key;
        ConfType type;
        size_t offset;            /* of the field in the base struct (Config for the table) */
        unsigned long min, max;   /* range for UINT/MODE/U64; max length for STRING/NAME */
        const char *def;          /* default, in the same syntax as the file */
        const char *const *words; /* CONF_ENUM: NULL-terminated list */
        const char *doc;          /* one line for --print comments and the man page */
} ConfItem;

/* The table, for docs and tests; rows of one section are adjacent. Never NULL;
 * *ret_n is set to the row count. */
const ConfItem *conf_table(size_t *ret_n);

/* The keys of a [tenants.group.NAME] section (their offsets are into TenantGroupConf). Never NULL;
 * *ret_n is set to the row count. */
const ConfItem *conf_group_table(size_t *ret_n);

/* Parses `value` as `item` describes and stores it in the field at
 * base + item->offset (a string field's old value is freed). Returns 0;
 * -EINVAL or -ERANGE for a bad value, leaving the field untouched and setting
 * *ret_reason (malloc'd, caller frees) to why, e.g. "out of range 1..65536";
 * or -ENOMEM (then *ret_reason is NULL). */
int conf_item_parse(const ConfItem *item, const char *value, void *base, char **ret_reason);

/* Formats the field of `item` at base + item->offset in the file's syntax,
 * so that conf_item_parse() accepts it again. Returns 0 and a malloc'd *ret,
 * -ENOMEM, or -EINVAL if the field holds a value its type cannot express. */
int conf_item_format(const ConfItem *item, const void *base, char **ret);

/* Allocates a Config holding every default. Returns 0, -ENOMEM, or -EINVAL
 * if a default in the table does not parse (a bug the unit test guards). */
int conf_new_default(Config **ret);

/* Loads `path` and then every regular `path`.d/\*.conf file in strcmp order on
 * top of the defaults; later values override earlier ones. A missing `path` is
 * an error only when must_exist is set; a missing drop-in directory never is.
 * The first error aborts the whole load. On failure returns -errno (-EINVAL
 * for bad content) and sets *ret_error (malloc'd, caller frees; NULL only on
 * -ENOMEM) to "FILE:LINE: message" or "FILE: message", FILE as given; *ret is
 * untouched. On success *ret_error is NULL and *ret a new Config. */
int conf_load(const char *path, bool must_exist, Config **ret, char **ret_error);

/* Writes the normalised configuration as an INI file that conf_load() reads
 * back to an equal Config: every section and key in table order, each key
 * preceded by "# doc". Returns 0, -ENOMEM, or -EIO if the stream has an error. */
int conf_print(const Config *c, FILE *f);

/* Frees c and its strings; accepts NULL and half-built objects. Returns NULL. */
Config *conf_free(Config *c);

static inline void conf_freep(Config **c) {
        conf_free(*c);
}
