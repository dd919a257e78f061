/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* maiod.conf: the key table and the generic core that parses (through inih),
 * validates and prints it. Adding a key is one table row and one Config field. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "conf.h"
#include "log.h"
#include "string-table.h"

#define REASON_MAX 256
#define CONF_CPUS_SET 1024 /* CPUs a CONF_CPUS list may name: 0..1023 */
#define SYNTAX_ERROR "syntax error, expected [section] or key = value"

static const char *const pid_exit_words[_TENANT_PID_EXIT_MAX + 1] = {
        [TENANT_PID_EXIT_KEEP] = "keep",
        [TENANT_PID_EXIT_REMOVE] = "remove",
};

static const char *const reconcile_words[_KNOBS_RECONCILE_MAX + 1] = {
        [KNOBS_RECONCILE_RESTORE] = "restore",
        [KNOBS_RECONCILE_REAPPLY] = "reapply",
};

static const char *const scheduler_mode_words[_SCHEDULER_MODE_MAX + 1] = {
        [SCHEDULER_MODE_EVENT] = "event",
        [SCHEDULER_MODE_PERIODIC] = "periodic",
};

static const char *const tiering_backend_table[_TIERING_BACKEND_MAX + 1] = {
        [TIERING_BACKEND_AUTO] = "auto",
        [TIERING_BACKEND_DAMON] = "damon",
        [TIERING_BACKEND_NUMA_BALANCING] = "numa-balancing",
        [TIERING_BACKEND_OFF] = "off",
};

static const char *const tiering_policy_table[_TIERING_POLICY_MAX + 1] = {
        [TIERING_POLICY_HEURISTIC] = "heuristic",
        [TIERING_POLICY_INDIGO] = "indigo",
        [TIERING_POLICY_LINUCB] = "linucb",
        [TIERING_POLICY_STATIC] = "static",
};

static const char *const mflow_conf_mode_table[_MFLOW_CONF_MODE_MAX + 1] = {
        [MFLOW_CONF_MODE_ADAPTIVE] = "adaptive",
        [MFLOW_CONF_MODE_SPLIT] = "split",
        [MFLOW_CONF_MODE_FLOWLET] = "flowlet",
        [MFLOW_CONF_MODE_PASS] = "pass",
        [MFLOW_CONF_MODE_OFF] = "off",
        [MFLOW_CONF_MODE_RPS] = "rps",
        [MFLOW_CONF_MODE_NAPI_THREADED] = "napi-threaded",
};

static const char *const mflow_conf_xdp_table[_MFLOW_CONF_XDP_MAX + 1] = {
        [MFLOW_CONF_XDP_AUTO] = "auto",
        [MFLOW_CONF_XDP_NATIVE] = "native",
        [MFLOW_CONF_XDP_GENERIC] = "generic",
};

DEFINE_STRING_TABLE_TO_STRING(mflow_conf_mode, MflowConfMode, )

int mflow_conf_mode_from_string(const char *s) {
        if (!s)
                return -EINVAL;
        for (int i = 0; i < _MFLOW_CONF_MODE_MAX; i++)
                if (strcmp(s, mflow_conf_mode_table[i]) == 0)
                        return i;
        return -EINVAL;
}

DEFINE_STRING_TABLE_TO_STRING(tiering_backend, TieringBackend, )
DEFINE_STRING_TABLE_TO_STRING(tiering_policy, TieringPolicy, )

#define ITEM(s, k, t, field, lo, hi, d, w, text)                                                                      \
        {                                                                                                             \
                .section = (s), .key = (k), .type = (t), .offset = offsetof(Config, field), .min = (lo), .max = (hi), \
                .def = (d), .words = (w), .doc = (text),                                                              \
        }

static const ConfItem conf_items[] = {
        ITEM("daemon", "log_level", CONF_LOG_LEVEL, log_level, 0, 0, "info", NULL,
             "Minimum level logged: debug, info, notice, warning, err, crit, alert or emerg."),
        ITEM("daemon", "status_interval_sec", CONF_UINT, status_interval_s, 1, 3600, "10", NULL,
             "Seconds between refreshes of the STATUS= line sent to systemd."),

        ITEM("api", "listen", CONF_LISTEN, listen, 0, 0, "", NULL,
             "TCP listener as host:port (e.g. 127.0.0.1:7470 or [::1]:7470); empty disables it. "
             "TCP clients authenticate with bearer tokens."),
        ITEM("api", "socket_mode", CONF_MODE, socket_mode, 0, 0777, "0666", NULL,
             "Mode of RUNTIME_DIR/maiod.sock; each request is still checked against the caller's peer credentials."),
        ITEM("api", "admin_group", CONF_NAME, admin_group, 0, 32, "", NULL,
             "Members of this group are administrators, like uid 0; empty for none."),
        ITEM("api", "max_connections", CONF_UINT, max_connections, 1, 65536, "1000", NULL,
             "Most concurrent connections per listener."),
        ITEM("api", "idle_timeout_sec", CONF_UINT, idle_timeout_s, 1, 3600, "30", NULL,
             "Seconds after which an idle keep-alive connection is closed."),
        ITEM("api", "request_timeout_sec", CONF_UINT, request_timeout_s, 1, 600, "10", NULL,
             "Seconds within which a request must arrive completely, or the connection is cut."),
        ITEM("api", "json_max_depth", CONF_UINT, json_max_depth, 1, 64, "16", NULL,
             "Deepest nesting accepted in a JSON request body."),
        ITEM("api", "netlink_port", CONF_U64, netlink_port, 0, 4294967295, "1296124239", NULL,
             "NETLINK_USERSOCK port id of the netlink API (1296124239 is \"MAIO\", above every pid); 0 disables it."),
        ITEM("api", "netlink_rcvbuf", CONF_UINT, netlink_rcvbuf, 65536, 268435456, "4194304", NULL,
             "Bytes of the netlink socket's receive buffer; requests beyond it are dropped by the kernel and counted."),
        ITEM("api", "netlink_subscriptions_max", CONF_UINT, netlink_subscriptions_max, 0, 65536, "1024", NULL,
             "Most netlink notification subscriptions maiod holds; 0 refuses every subscription."),
        ITEM("api", "netlink_subscriptions_per_uid", CONF_UINT, netlink_subscriptions_per_uid, 0, 65536, "64", NULL,
             "Most netlink notification subscriptions of one uid (administrators too)."),

        ITEM("tenants", "max_tenants", CONF_UINT, max_tenants, 1, 1000000, "4096", NULL,
             "Most tenants that may be registered at once."),
        ITEM("tenants", "on_pid_exit", CONF_ENUM, on_pid_exit, 0, 0, "keep", pid_exit_words,
             "What happens to a tenant when its watched pid exits: keep or remove. "
             "The exit is recorded as an event either way."),
        ITEM("tenants", "max_tenants_per_uid", CONF_UINT, tenants_max_per_uid, 0, 1000000, "16", NULL,
             "Most tenants one non-admin uid may hold; [tenants.group.NAME] sections may override it."),
        ITEM("tenants", "highest_priority", CONF_UINT, tenants_highest_priority, 0, 7, "4", NULL,
             "Highest priority a non-admin may give a tenant (0 is highest, 7 lowest); "
             "[tenants.group.NAME] sections may override it."),

        ITEM("knobs", "restore_on_exit", CONF_BOOL, knobs_restore_on_exit, 0, 0, "yes", NULL,
             "Whether a clean stop writes back the original value of every kernel knob maiod changed."),
        ITEM("knobs", "reconcile", CONF_ENUM, knobs_reconcile, 0, 0, "restore", reconcile_words,
             "After an unclean stop: restore the original of every journaled knob, or reapply the desired value."),
        ITEM("knobs", "drift_check_sec", CONF_UINT, knobs_drift_check_s, 1, 86400, "30", NULL,
             "Seconds between checks that the knobs maiod wrote still hold its values."),
        ITEM("knobs", "enforce", CONF_BOOL, knobs_enforce, 0, 0, "no", NULL,
             "Whether a knob someone else changed is written back (otherwise it is reported and left alone)."),

        ITEM("pools", "headroom_pages", CONF_UINT, pools_headroom_pages, 0, 16777216, "0", NULL,
             "2 MiB hugepages kept on a NUMA node beyond the sum of its grants, while it has any grant."),
        ITEM("pools", "max_grant_bytes", CONF_U64, pools_max_grant_bytes, 2097152, 35184372088832, "68719476736", NULL,
             "Largest hugepage grant in bytes that one tenant may hold on one NUMA node."),
        ITEM("pools", "poller_cpus", CONF_CPUS, pools_poller_cpus, 0, 1023, "", NULL,
             "CPUs maiod hands out to tenants' libmaio SQPOLL pollers with their grants, one tenant per CPU, "
             "as a list like 1,3-4; they must be online and MFLOW never splits onto them. Empty hands out none."),

        ITEM("tiering", "backend", CONF_ENUM, tiering_backend, 0, 0, "auto", tiering_backend_table,
             "How promotion thresholds are applied: auto (damon if maiod can own a kdamond, else numa-balancing "
             "when its tiering mode exists, else off), damon, numa-balancing or off."),
        ITEM("tiering", "policy", CONF_ENUM, tiering_policy, 0, 0, "heuristic", tiering_policy_table,
             "Policy a tenant starts with: heuristic (network-adaptive, needs no training), indigo, linucb "
             "(learn from feedback) or static."),
        ITEM("tiering", "seed", CONF_UINT, tiering_seed, 0, 4294967295, "1", NULL,
             "Seed a tenant's policy starts with; a given seed makes its decisions reproducible."),
        ITEM("tiering", "interval_sec", CONF_UINT, tiering_interval_s, 1, 3600, "10", NULL,
             "Seconds between telemetry reads that refresh contexts and re-apply online policies."),
        ITEM("tiering", "link_bandwidth_mbps", CONF_UINT, tiering_link_bandwidth_mbps, 1, 10000000, "32000", NULL,
             "Bandwidth of the memory link to the slower tier in MB/s (megabytes per second)."),
        ITEM("tiering", "link_contention_percent", CONF_UINT, tiering_link_contention_percent, 0, 99, "0", NULL,
             "Percent of the memory link's bandwidth taken by other hosts."),
        ITEM("tiering", "local_latency_ns", CONF_UINT, tiering_local_latency_ns, 1, 1000000, "100", NULL,
             "Access latency of local (fast tier) memory in nanoseconds."),
        ITEM("tiering", "remote_latency_ns", CONF_UINT, tiering_remote_latency_ns, 1, 1000000, "250", NULL,
             "Access latency of remote (slow tier) memory on an idle link in nanoseconds."),
        ITEM("tiering", "promote_budget_percent", CONF_UINT, tiering_promote_budget_percent, 1, 100, "50", NULL,
             "Percent of the link bandwidth left to this host that promotions may use, shared by priority."),
        ITEM("tiering", "demote_after_sec", CONF_UINT, tiering_demote_after_s, 1, 3600, "5", NULL,
             "DAMON backend: seconds a tenant's region must go unaccessed before it is demoted."),
        ITEM("tiering", "anchor_distance_milli", CONF_UINT, tiering_anchor_distance_milli, 0, 2237, "500", NULL,
             "A joining tenant starts from the nearest anchor within this distance (thousandths, Euclidean "
             "over the context features); 0 turns anchors off."),

        ITEM("fleet", "endpoints", CONF_URL_LIST, fleet_endpoints, 0, 16, "", NULL,
             "Comma-separated etcd client URLs (http://HOST:PORT or https://HOST:PORT); empty turns the fleet off."),
        ITEM("fleet", "ca_file", CONF_STRING, fleet_ca_file, 0, 4096, "", NULL,
             "PEM file of the CAs that sign the etcd members' certificates; empty for the system's."),
        ITEM("fleet", "cert_file", CONF_STRING, fleet_cert_file, 0, 4096, "", NULL,
             "PEM client certificate presented to etcd; empty for none."),
        ITEM("fleet", "key_file", CONF_STRING, fleet_key_file, 0, 4096, "", NULL,
             "PEM private key of cert_file; empty for none."),
        ITEM("fleet", "username", CONF_STRING, fleet_username, 0, 128, "", NULL,
             "etcd user maiod authenticates as; empty when etcd runs without auth."),
        ITEM("fleet", "password", CONF_STRING, fleet_password, 0, 128, "", NULL, "Password of the etcd user."),
        ITEM("fleet", "prefix", CONF_STRING, fleet_prefix, 1, 128, "/maio", NULL,
             "Key prefix of everything maiod writes and reads in etcd."),
        ITEM("fleet", "host", CONF_STRING, fleet_host, 0, 64, "", NULL,
             "This host's name in keys (letters, digits, '.', '_', '-'); empty for the system's host name."),
        ITEM("fleet", "sources", CONF_STRING, fleet_sources, 0, 4096, "", NULL,
             "Comma-separated host names whose models may be imported; empty for every host."),
        ITEM("fleet", "publish_episodes", CONF_UINT, fleet_publish_episodes, 1, 1000000, "10", NULL,
             "Model updates (episodes) a tenant's model must gain before it is published again."),
        ITEM("fleet", "publish_interval_sec", CONF_UINT, fleet_publish_interval_s, 1, 86400, "60", NULL,
             "Least seconds between two publications of one tenant's model."),
        ITEM("fleet", "lookup_timeout_ms", CONF_UINT, fleet_lookup_timeout_ms, 100, 60000, "2000", NULL,
             "Milliseconds a lazy lookup of a fleet model may take before the tenant stays on its local model."),
        ITEM("fleet", "context_distance_milli", CONF_UINT, fleet_context_distance_milli, 0, 2237, "200", NULL,
             "A local model farther than this (thousandths, Euclidean over the context features) starts a lookup."),
        ITEM("fleet", "retention_days", CONF_UINT, fleet_retention_days, 1, 3650, "30", NULL,
             "Days a removed tenant's published model stays in etcd before this host deletes it."),
        ITEM("fleet", "max_request_bytes", CONF_U64, fleet_max_request_bytes, 4096, 67108864, "1572864", NULL,
             "Largest request etcd accepts (its --max-request-bytes); larger models are compressed, or not published (counted)."),
        ITEM("mflow", "devices", CONF_IFNAMES, mflow_devices, 0, 16, "", NULL,
             "Network devices MFLOW attaches its XDP program to, separated by blanks; empty leaves MFLOW off."),
        ITEM("mflow", "mode", CONF_ENUM, mflow_mode, 0, 0, "adaptive", mflow_conf_mode_table,
             "What an elephant gets: adaptive (batch or flowlet by measured reordering), split (batches), flowlet "
             "(next core after a gap), pass (counted), off; knob-only, no XDP: rps or napi-threaded."),
        ITEM("mflow", "cores_per_flow", CONF_UINT, mflow_cores_per_flow, 1, 8, "2", NULL,
             "Splitting cores per elephant flow; at most the online CPUs."),
        ITEM("mflow", "batch", CONF_UINT, mflow_batch, 1, 1048576, "256", NULL,
             "Packets per micro-flow in split mode (and in flowlet mode once no gap came within flowlet_k batches)."),
        ITEM("mflow", "elephant_bytes_per_sec", CONF_U64, mflow_elephant_bytes_per_s, 1, 1000000000000, "12500000",
             NULL, "Rate in bytes per second over one window that makes a flow an elephant."),
        ITEM("mflow", "window_ms", CONF_UINT, mflow_window_ms, 1, 10000, "100", NULL,
             "Milliseconds of the window a flow's rate is measured over."),
        ITEM("mflow", "idle_ms", CONF_UINT, mflow_idle_ms, 10, 3600000, "1000", NULL,
             "Milliseconds without a packet after which a split flow is idle and its splitting cores are released."),
        ITEM("mflow", "flowlet_gap_us", CONF_UINT, mflow_flowlet_gap_us, 1, 1000000, "1000", NULL,
             "Flowlet mode: microseconds of silence in a flow before it moves to its next splitting core."),
        ITEM("mflow", "flowlet_k", CONF_UINT, mflow_flowlet_k, 0, 1024, "4", NULL,
             "Flowlet mode: batches without such a gap before the flow falls back to batch counting; 0 never."),
        ITEM("mflow", "vxlan_ports", CONF_PORTS, mflow_vxlan_ports, 0, 4, "4789 8472", NULL,
             "UDP destination ports recognised as VXLAN (whose inner 5-tuple names the flow), at most 4."),
        ITEM("mflow", "bpffs", CONF_PATH, mflow_bpffs, 0, 200, "/sys/fs/bpf/maio", NULL,
             "Directory where the maps are pinned; maiod mounts a bpffs there when none is mounted."),
        ITEM("mflow", "cpumap_qsize", CONF_UINT, mflow_cpumap_qsize, 1, 16384, "2048", NULL,
             "Packets queued per splitting core in the CPUMAP."),
        ITEM("mflow", "interval_ms", CONF_UINT, mflow_interval_ms, 50, 60000, "500", NULL,
             "Milliseconds between refreshes of the flow table, the softirq load and the core assignment."),
        ITEM("mflow", "flows_per_core", CONF_UINT, mflow_flows_per_core, 1, 1024, "4", NULL,
             "Elephant flows one splitting core serves at once: the scheduler's splitting_cores capacity is the "
             "splitting cores times this, in core slots (an elephant takes cores_per_flow of them)."),
        ITEM("mflow", "hysteresis_percent", CONF_UINT, mflow_hysteresis_percent, 0, 100, "20", NULL,
             "Points of softirq load by which a splitting core must exceed the least loaded other core before a "
             "flow leaves it."),
        ITEM("mflow", "adaptive_batches", CONF_LADDER, mflow_adaptive_batches, 1, 1048576,
             "64 128 256 512 1024 2048 4096", NULL,
             "Adaptive mode: the ladder of batch sizes (packets per micro-flow), ascending; an elephant starts at the "
             "largest rung not above batch."),
        ITEM("mflow", "adaptive_gaps_us", CONF_LADDER, mflow_adaptive_gaps_us, 1, 1000000, "50 100 200 500 1000 2000",
             NULL, "Adaptive mode: the ladder of flowlet gaps in microseconds, ascending."),
        ITEM("mflow", "adaptive_excess_ppm", CONF_UINT, mflow_adaptive_excess_ppm, 0, 1000000, "2500", NULL,
             "Adaptive mode: bound on a split flow's out-of-order TCP segments per million above the device's "
             "pass-through baseline."),
        ITEM("mflow", "adaptive_window_ms", CONF_UINT, mflow_adaptive_window_ms, 50, 600000, "1000", NULL,
             "Adaptive mode: milliseconds of each window the controller judges (at least interval_ms in effect)."),
        ITEM("mflow", "adaptive_min_share_percent", CONF_UINT, mflow_adaptive_min_share_percent, 0, 100, "60", NULL,
             "Adaptive mode: the share of an even split (1/cores) each splitting core must carry for the spread "
             "to count as even."),
        ITEM("mflow", "xdp", CONF_ENUM, mflow_xdp, 0, 0, "auto", mflow_conf_xdp_table,
             "How the XDP program is attached: auto (native, generic where the driver refuses native), native, or "
             "generic (any driver; every packet is linearised and GRO is bypassed, so slower)."),
        ITEM("scheduler", "classes", CONF_CLASSES, scheduler_classes, 0, 0, "0-1,2-5,6-7", NULL,
             "Priority classes of the allocator, served strictly in this order: ascending ranges covering "
             "priorities 0-7; inside a class shares go by weight 8 - priority."),
        ITEM("scheduler", "mode", CONF_ENUM, scheduler_mode, 0, 0, "event", scheduler_mode_words,
             "event: every change (tenants, feedback, links, drift, ...) is an event the scheduler handles at once; "
             "periodic: everything is re-evaluated every period_ms (the baseline to measure against)."),
        ITEM("scheduler", "period_ms", CONF_UINT, scheduler_period_ms, 10, 3600000, "1000", NULL,
             "Periodic mode: milliseconds between re-evaluations of every allocation."),
        ITEM("scheduler", "fallback_sec", CONF_UINT, scheduler_fallback_s, 1, 86400, "60", NULL,
             "Event mode: seconds without a full re-evaluation after which a timer makes one (a fallback for "
             "changes no event announces)."),
        ITEM("scheduler", "pass_events", CONF_UINT, scheduler_pass_events, 1, 4096, "64", NULL,
             "Most events one scheduler pass takes; the rest wait for the next pass, after the API was served."),
        ITEM("scheduler", "psi_memory_stall_ms", CONF_UINT, scheduler_psi_stall_ms, 0, 999, "100", NULL,
             "Milliseconds per second tasks may stall on memory before a PSI trigger wakes the scheduler "
             "(/proc/pressure/memory); 0 sets none. Takes effect at the next restart."),
};

#define GROUP_SECTION_PREFIX "tenants.group."
#define GROUP_ITEM(k, t, field, lo, hi, text)                                                                   \
        {                                                                                                       \
                .section = GROUP_SECTION_PREFIX "NAME", .key = (k), .type = (t),                                \
                .offset = offsetof(TenantGroupConf, field), .min = (lo), .max = (hi), .def = "", .doc = (text), \
        }

/* A group section's keys; unset ones take the [tenants] value after loading (conf_groups_inherit). */
static const ConfItem group_items[] = {
        GROUP_ITEM("max_tenants_per_uid", CONF_UINT, max_per_uid, 0, 1000000,
                   "Most tenants one non-admin uid in this group may hold."),
        GROUP_ITEM("highest_priority", CONF_UINT, highest_priority, 0, 7,
                   "Highest priority a non-admin in this group may give a tenant."),
};

const ConfItem *conf_group_table(size_t *ret_n) {
        *ret_n = ELEMENTSOF(group_items);
        return group_items;
}

const ConfItem *conf_table(size_t *ret_n) {
        *ret_n = ELEMENTSOF(conf_items);
        return conf_items;
}

/* With key NULL, finds the first row of the section. */
static const ConfItem *item_find(const char *section, const char *key) {
        for (size_t i = 0; i < ELEMENTSOF(conf_items); i++)
                if (strcmp(conf_items[i].section, section) == 0 && (!key || strcmp(conf_items[i].key, key) == 0))
                        return &conf_items[i];
        return NULL;
}

/* The NAME of a "tenants.group.NAME" section (a group name as [api] admin_group takes), else NULL. */
static const char *group_section_name(const char *section) {
        const char *name;
        size_t n;

        if (strncmp(section, GROUP_SECTION_PREFIX, strlen(GROUP_SECTION_PREFIX)) != 0)
                return NULL;
        name = section + strlen(GROUP_SECTION_PREFIX);
        n = strlen(name);
        if (n == 0 || n > 32 || !strchr("abcdefghijklmnopqrstuvwxyz_", name[0]) ||
            name[strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-")] != '\0')
                return NULL;
        return name;
}

static bool section_known(const char *section) {
        return item_find(section, NULL) || group_section_name(section);
}

/* The group entry named name, appended (every key unset) when new. Returns NULL on -ENOMEM or
 * when CONF_TENANT_GROUPS_MAX sections exist already (*ret_full set). */
static TenantGroupConf *group_get(Config *c, const char *name, bool *ret_full) {
        TenantGroupConf *a;

        *ret_full = false;
        for (size_t i = 0; i < c->n_tenant_groups; i++)
                if (strcmp(c->tenant_groups[i].name, name) == 0)
                        return &c->tenant_groups[i];
        if (c->n_tenant_groups >= CONF_TENANT_GROUPS_MAX) {
                *ret_full = true;
                return NULL;
        }
        a = reallocarray(c->tenant_groups, c->n_tenant_groups + 1, sizeof *a);
        if (!a)
                return NULL;
        c->tenant_groups = a;
        a[c->n_tenant_groups] = (TenantGroupConf) { .max_per_uid = UINT_MAX, .highest_priority = UINT_MAX };
        a[c->n_tenant_groups].name = strdup(name);
        if (!a[c->n_tenant_groups].name)
                return NULL;
        return &a[c->n_tenant_groups++];
}

/* Keys a group section left unset take the [tenants] value. */
static void conf_groups_inherit(Config *c) {
        for (size_t i = 0; i < c->n_tenant_groups; i++) {
                TenantGroupConf *g = &c->tenant_groups[i];

                if (g->max_per_uid == UINT_MAX)
                        g->max_per_uid = c->tenants_max_per_uid;
                if (g->highest_priority == UINT_MAX)
                        g->highest_priority = c->tenants_highest_priority;
        }
}

/* ---- per-type parsers: 0 or -EINVAL/-ERANGE with a reason in buf ---- */

/* strtoul() alone would take a sign, leading blanks and a 0x prefix. */
static int parse_digits(const char *s, int base, unsigned long *ret) {
        unsigned long v;

        if (s[0] == '\0' || s[strspn(s, base == 8 ? "01234567" : "0123456789")] != '\0')
                return -EINVAL;
        errno = 0;
        v = strtoul(s, NULL, base);
        if (errno == ERANGE)
                return -ERANGE;
        *ret = v;
        return 0;
}

static int parse_number(const ConfItem *item, const char *value, unsigned *field, char *buf) {
        int base = item->type == CONF_MODE ? 8 : 10;
        unsigned long v = 0;
        int r;

        r = parse_digits(value, base, &v);
        if (r == -EINVAL) {
                snprintf(buf, REASON_MAX, "%s", base == 8 ? "not an octal mode" : "not a decimal number");
                return r;
        }
        if (r < 0 || v < item->min || v > item->max || v > UINT_MAX) {
                snprintf(buf, REASON_MAX, base == 8 ? "out of range %#lo..%#lo" : "out of range %lu..%lu", item->min,
                         item->max);
                return -ERANGE;
        }
        *field = (unsigned) v;
        return 0;
}

static int parse_u64(const ConfItem *item, const char *value, uint64_t *field, char *buf) {
        unsigned long v = 0;
        int r;

        r = parse_digits(value, 10, &v);
        if (r == -EINVAL) {
                snprintf(buf, REASON_MAX, "not a decimal number");
                return r;
        }
        if (r < 0 || v < item->min || v > item->max) {
                snprintf(buf, REASON_MAX, "out of range %lu..%lu", item->min, item->max);
                return -ERANGE;
        }
        *field = v;
        return 0;
}

static int parse_bool(const char *value, bool *field, char *buf) {
        static const char *const words[] = { "no", "yes", "false", "true", "off", "on", "0", "1" };

        for (size_t i = 0; i < ELEMENTSOF(words); i++)
                if (strcasecmp(value, words[i]) == 0) {
                        *field = i % 2;
                        return 0;
                }
        snprintf(buf, REASON_MAX, "expected a boolean (yes, no, true, false, on, off, 1 or 0)");
        return -EINVAL;
}

static int check_text(const ConfItem *item, const char *value, char *buf) {
        if (item->max > 0 && strlen(value) > item->max) {
                snprintf(buf, REASON_MAX, "longer than %lu characters", item->max);
                return -EINVAL;
        }
        for (const char *p = value; *p; p++)
                if ((unsigned char) *p < ' ' || *p == 0x7f) {
                        snprintf(buf, REASON_MAX, "contains control characters");
                        return -EINVAL;
                }
        if (item->type != CONF_NAME || value[0] == '\0')
                return 0;
        if (!strchr("abcdefghijklmnopqrstuvwxyz_", value[0]) ||
            value[strspn(value, "abcdefghijklmnopqrstuvwxyz0123456789_-")] != '\0') {
                snprintf(buf, REASON_MAX, "not a valid name ([a-z_][a-z0-9_-]*, at most %lu characters)", item->max);
                return -EINVAL;
        }
        return 0;
}

/* Writes the normalised form of a listen address into buf (REASON_MAX bytes)
 * on success, the reason on failure. */
static int parse_listen(const char *value, char *buf) {
        union {
                struct in_addr v4;
                struct in6_addr v6;
        } a;
        char host[128], text[INET6_ADDRSTRLEN];
        const char *colon = strrchr(value, ':');
        unsigned long port = 0;
        size_t n;

        buf[0] = '\0';
        if (value[0] == '\0')
                return 0;
        n = colon ? (size_t) (colon - value) : 0;
        if (!colon || n == 0 || n >= sizeof(host) || colon[1] == '\0') {
                snprintf(buf, REASON_MAX, "expected HOST:PORT");
                return -EINVAL;
        }
        if (parse_digits(colon + 1, 10, &port) == -EINVAL) {
                snprintf(buf, REASON_MAX, "port '%s' is not a decimal number", colon + 1);
                return -EINVAL;
        }
        if (port < 1 || port > 65535) {
                snprintf(buf, REASON_MAX, "port %s is out of range 1..65535", colon + 1);
                return -ERANGE;
        }
        memcpy(host, value, n);
        host[n] = '\0';
        if (host[0] == '[' && host[n - 1] == ']') {
                host[n - 1] = '\0';
                if (inet_pton(AF_INET6, host + 1, &a.v6) == 1 && inet_ntop(AF_INET6, &a.v6, text, sizeof(text))) {
                        snprintf(buf, REASON_MAX, "[%s]:%lu", text, port);
                        return 0;
                }
                host[n - 1] = ']';
        } else if (strcasecmp(host, "localhost") == 0) {
                snprintf(buf, REASON_MAX, "localhost:%lu", port);
                return 0;
        } else if (inet_pton(AF_INET, host, &a.v4) == 1 && inet_ntop(AF_INET, &a.v4, text, sizeof(text))) {
                snprintf(buf, REASON_MAX, "%s:%lu", text, port);
                return 0;
        }
        snprintf(buf, REASON_MAX, "'%s' is not an IPv4 address, [IPv6 address] or localhost", host);
        return -EINVAL;
}

/* One URL of a list: scheme http or https, a host, no blanks, commas or control characters. */
static bool url_valid(const char *u, size_t n) {
        size_t skip = n >= 7 && strncmp(u, "http://", 7) == 0 ? 7 : n >= 8 && strncmp(u, "https://", 8) == 0 ? 8 : 0;

        if (skip == 0 || n == skip || u[skip] == '/' || u[skip] == ':')
                return false;
        for (size_t i = skip; i < n; i++)
                if ((unsigned char) u[i] <= ' ' || u[i] == 0x7f)
                        return false;
        return true;
}

/* "" or URLs separated by commas (blanks around them dropped); stored joined by ",". */
static int parse_url_list(const ConfItem *item, const char *value, char **field, char **ret_reason) {
        _cleanup_free_ char *out = malloc(strlen(value) + 1);
        unsigned long count = 0;
        size_t len = 0;

        if (!out)
                return -ENOMEM;
        for (const char *p = value;;) {
                size_t n;

                p += strspn(p, " \t");
                n = strcspn(p, ",");
                while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
                        n--;
                if (n == 0 && *p == '\0' && count == 0)
                        break;
                if (!url_valid(p, n))
                        return asprintf(ret_reason, "'%.*s' is not an http:// or https:// URL", (int) n, p) < 0
                                       ? (*ret_reason = NULL, -ENOMEM)
                                       : -EINVAL;
                if (++count > item->max)
                        return asprintf(ret_reason, "more than %lu URLs", item->max) < 0 ? (*ret_reason = NULL, -ENOMEM)
                                                                                         : -EINVAL;
                if (len > 0)
                        out[len++] = ',';
                memcpy(out + len, p, n);
                len += n;
                p += strcspn(p, ",");
                if (*p == '\0')
                        break;
                p++;
        }
        out[len] = '\0';
        free(*field);
        *field = TAKE_PTR(out);
        return 0;
}

/* The lists of words (device names, ports, CPUs, ladders): value split at blanks and commas, each
 * token handed to a parser with its state. Returns 0, or the first parser's -errno with the reason
 * in buf (REASON_MAX bytes). */
typedef int (*TokenFn)(const ConfItem *item, const char *tok, void *state, char *buf);

static int parse_tokens(const ConfItem *item, const char *value, TokenFn each, void *state, char *buf) {
        for (const char *p = value;;) {
                char tok[REASON_MAX];
                size_t n;
                int r;

                p += strspn(p, " \t,");
                if (*p == '\0')
                        return 0;
                n = strcspn(p, " \t,");
                if (n >= sizeof(tok)) {
                        snprintf(buf, REASON_MAX, "too long");
                        return -EINVAL;
                }
                memcpy(tok, p, n);
                tok[n] = '\0';
                r = each(item, tok, state, buf);
                if (r < 0)
                        return r;
                p += n;
        }
}

/* A normalised list being written: entries joined by one blank, into out (REASON_MAX bytes). */
typedef struct ListOut {
        char *out;
        size_t len, n;
        unsigned long prev; /* ladders: the last rung */
} ListOut;

static int list_append(ListOut *l, const char *entry, char *buf) {
        if (l->len + strlen(entry) + 2 > REASON_MAX) {
                snprintf(buf, REASON_MAX, "too long");
                return -EINVAL;
        }
        l->len += (size_t) snprintf(l->out + l->len, REASON_MAX - l->len, "%s%s", l->n > 1 ? " " : "", entry);
        return 0;
}

static bool ifname_ok(const char *tok, char *buf) {
        /* The kernel's rule (dev_valid_name): 1..15 bytes, not . or .., no '/', ':' or blank. */
        if (strlen(tok) > 15 || strcmp(tok, ".") == 0 || strcmp(tok, "..") == 0 || strpbrk(tok, "/:")) {
                snprintf(buf, REASON_MAX, "'%.32s' is not a valid network device name", tok);
                return false;
        }
        for (const char *p = tok; *p; p++)
                if ((unsigned char) *p <= ' ' || *p == 0x7f) {
                        snprintf(buf, REASON_MAX, "a device name contains control characters");
                        return false;
                }
        return true;
}

static bool port_ok(const char *tok, char *buf) {
        unsigned long v = 0;

        if (parse_digits(tok, 10, &v) < 0 || v < 1 || v > 65535) {
                snprintf(buf, REASON_MAX, "'%.32s' is not a port 1..65535", tok);
                return false;
        }
        return true;
}

/* CONF_IFNAMES, CONF_PORTS: at most max entries, each checked, kept as written. */
static int name_token(const ConfItem *item, const char *tok, void *state, char *buf) {
        ListOut *l = state;

        if (!(item->type == CONF_PORTS ? port_ok : ifname_ok)(tok, buf))
                return -EINVAL;
        if (++l->n > item->max) {
                snprintf(buf, REASON_MAX, "more than %lu entries", item->max);
                return -ERANGE;
        }
        return list_append(l, tok, buf);
}

/* CONF_LADDER: 1..CONF_LADDER_MAX strictly ascending integers in [min, max]. */
static int rung_token(const ConfItem *item, const char *tok, void *state, char *buf) {
        ListOut *l = state;
        unsigned long v = 0;
        char num[32];

        if (parse_digits(tok, 10, &v) < 0 || v < item->min || v > item->max) {
                snprintf(buf, REASON_MAX, "'%.32s' is not a number %lu..%lu", tok, item->min, item->max);
                return -EINVAL;
        }
        if (l->n > 0 && v <= l->prev) {
                snprintf(buf, REASON_MAX, "%lu does not ascend from %lu", v, l->prev);
                return -EINVAL;
        }
        if (++l->n > CONF_LADDER_MAX) {
                snprintf(buf, REASON_MAX, "more than %d rungs", CONF_LADDER_MAX);
                return -ERANGE;
        }
        l->prev = v;
        snprintf(num, sizeof(num), "%lu", v);
        return list_append(l, num, buf);
}

/* CONF_CPUS: a CPU or an ascending range of them, marked in the set. */
static int cpu_token(const ConfItem *item, const char *tok, void *state, char *buf) {
        bool *set = state; /* CONF_CPUS_SET entries */
        char lo_s[32] = "", *dash = strchr(tok, '-');
        unsigned long lo, hi;

        snprintf(lo_s, sizeof(lo_s), "%.*s", dash ? (int) (dash - tok) : 31, tok);
        if (parse_digits(lo_s, 10, &lo) < 0 || parse_digits(dash ? dash + 1 : tok, 10, &hi) < 0 || hi < lo ||
            hi > item->max || hi >= CONF_CPUS_SET) {
                snprintf(buf, REASON_MAX, "'%.32s' is not a CPU 0..%lu or an ascending range of them", tok, item->max);
                return -EINVAL;
        }
        for (unsigned long c = lo; c <= hi; c++)
                set[c] = true;
        return 0;
}

static int parse_list(const ConfItem *item, const char *value, char *out) {
        ListOut l = { .out = out };
        int r;

        out[0] = '\0';
        r = parse_tokens(item, value, item->type == CONF_LADDER ? rung_token : name_token, &l, out);
        if (r >= 0 && l.n == 0 && item->type != CONF_IFNAMES) {
                snprintf(out, REASON_MAX,
                         item->type == CONF_PORTS ? "expected at least one port" : "expected at least one rung");
                r = -EINVAL;
        }
        return r;
}

/* CPU numbers and ranges ("1, 3-4 7") into a normalised cpulist ("1,3-4,7") in out (REASON_MAX
 * bytes), or the reason there. */
static int parse_cpus(const ConfItem *item, const char *value, char *out) {
        bool set[CONF_CPUS_SET] = {};
        size_t len = 0;
        int r;

        r = parse_tokens(item, value, cpu_token, set, out);
        if (r < 0)
                return r;
        out[0] = '\0';
        for (unsigned c = 0; c < CONF_CPUS_SET && len < REASON_MAX; c++) {
                unsigned e = c;

                if (!set[c])
                        continue;
                while (e + 1 < CONF_CPUS_SET && set[e + 1])
                        e++;
                len += (size_t) snprintf(out + len, REASON_MAX - len, e > c ? "%s%u-%u" : "%s%u", len ? "," : "", c, e);
                c = e;
        }
        if (len >= REASON_MAX) {
                snprintf(out, REASON_MAX, "too long");
                return -EINVAL;
        }
        return 0;
}

/* "0-1,2-5,6-7": ranges (or single priorities) in ascending order, covering 0..7 exactly once;
 * blanks around the items are allowed. */
static int parse_classes(const char *value, ConfPriorityClasses *field, char *buf) {
        ConfPriorityClasses c = {};
        unsigned next = 0;
        const char *p = value;

        for (;;) {
                unsigned lo, hi;

                p += strspn(p, " \t");
                if (*p < '0' || *p > '7')
                        break;
                lo = hi = (unsigned) (*p++ - '0');
                if (*p == '-') {
                        p++;
                        if (*p < '0' || *p > '7')
                                break;
                        hi = (unsigned) (*p++ - '0');
                }
                if (lo != next || hi < lo)
                        break;
                for (unsigned q = lo; q <= hi; q++)
                        c.class_of[q] = (uint8_t) c.n;
                c.n++;
                next = hi + 1;
                p += strspn(p, " \t");
                if (*p == '\0' && next == 8) {
                        *field = c;
                        return 0;
                }
                if (*p++ != ',')
                        break;
        }
        snprintf(buf, REASON_MAX, "expected ascending ranges covering priorities 0-7 once, e.g. 0-1,2-5,6-7");
        return -EINVAL;
}

static void format_classes(const ConfPriorityClasses *c, char *buf, size_t size) {
        size_t len = 0;

        buf[0] = '\0';
        for (unsigned p = 0; p < 8 && len < size;) {
                unsigned q = p;

                while (q + 1 < 8 && c->class_of[q + 1] == c->class_of[p])
                        q++;
                len += (size_t) (q > p ? snprintf(buf + len, size - len, "%s%u-%u", p ? "," : "", p, q)
                                       : snprintf(buf + len, size - len, "%s%u", p ? "," : "", p));
                p = q + 1;
        }
}

static int parse_word(const ConfItem *item, const char *value, void *field, char *buf) {
        size_t len = 0;
        int level;

        if (item->type == CONF_LOG_LEVEL) {
                level = log_level_from_string(value);
                if (level >= 0) {
                        *(int *) field = level;
                        return 0;
                }
                snprintf(buf, REASON_MAX, "expected one of debug, info, notice, warning, err, crit, alert, emerg");
                return -EINVAL;
        }
        for (unsigned i = 0; item->words[i]; i++)
                if (strcasecmp(value, item->words[i]) == 0) {
                        *(unsigned *) field = i;
                        return 0;
                }
        len = (size_t) snprintf(buf, REASON_MAX, "expected one of");
        for (unsigned i = 0; item->words[i] && len < REASON_MAX; i++)
                len += (size_t) snprintf(buf + len, REASON_MAX - len, "%s %s", i ? "," : "", item->words[i]);
        return -EINVAL;
}

static int set_string(char **field, const char *value) {
        char *s = strdup(value);

        if (!s)
                return -ENOMEM;
        free(*field);
        *field = s;
        return 0;
}

int conf_item_parse(const ConfItem *item, const char *value, void *base, char **ret_reason) {
        void *field = (char *) base + item->offset;
        char buf[REASON_MAX] = "";
        int r;

        *ret_reason = NULL;
        switch (item->type) {
        case CONF_UINT:
        case CONF_MODE:
                r = parse_number(item, value, field, buf);
                break;
        case CONF_U64:
                r = parse_u64(item, value, field, buf);
                break;
        case CONF_BOOL:
                r = parse_bool(value, field, buf);
                break;
        case CONF_STRING:
        case CONF_NAME:
                r = check_text(item, value, buf);
                if (r >= 0)
                        return set_string(field, value);
                break;
        case CONF_LISTEN:
                r = parse_listen(value, buf);
                if (r >= 0)
                        return set_string(field, buf);
                break;
        case CONF_URL_LIST:
                return parse_url_list(item, value, field, ret_reason);
        case CONF_IFNAMES:
        case CONF_PORTS:
                r = parse_list(item, value, buf);
                if (r >= 0)
                        return set_string(field, buf);
                break;
        case CONF_PATH:
                r = check_text(item, value, buf);
                if (r >= 0 && (value[0] != '/' || strstr(value, "/../") || strcmp(value, "/") == 0)) {
                        snprintf(buf, REASON_MAX, "not an absolute path below /");
                        r = -EINVAL;
                }
                if (r >= 0)
                        return set_string(field, value);
                break;
        case CONF_LOG_LEVEL:
        case CONF_ENUM:
                r = parse_word(item, value, field, buf);
                break;
        case CONF_LADDER:
                r = parse_list(item, value, buf);
                if (r >= 0)
                        return set_string(field, buf);
                break;
        case CONF_CLASSES:
                r = parse_classes(value, field, buf);
                break;
        case CONF_CPUS:
                r = parse_cpus(item, value, buf);
                if (r >= 0)
                        return set_string(field, buf);
                break;
        default:
                snprintf(buf, REASON_MAX, "unsupported type %d", (int) item->type);
                r = -EINVAL;
        }
        if (r < 0) {
                *ret_reason = strdup(buf);
                if (!*ret_reason)
                        return -ENOMEM;
        }
        return r;
}

int conf_item_format(const ConfItem *item, const void *base, char **ret) {
        const void *field = (const char *) base + item->offset;
        const char *s = NULL;
        char buf[32];

        switch (item->type) {
        case CONF_UINT:
        case CONF_MODE:
                snprintf(buf, sizeof(buf), item->type == CONF_MODE ? "0%03o" : "%u", *(const unsigned *) field);
                s = buf;
                break;
        case CONF_U64:
                snprintf(buf, sizeof(buf), "%" PRIu64, *(const uint64_t *) field);
                s = buf;
                break;
        case CONF_BOOL:
                s = *(const bool *) field ? "yes" : "no";
                break;
        case CONF_STRING:
        case CONF_NAME:
        case CONF_LISTEN:
        case CONF_URL_LIST:
        case CONF_IFNAMES:
        case CONF_PORTS:
        case CONF_LADDER:
        case CONF_PATH:
        case CONF_CPUS:
                s = *(char *const *) field ?: "";
                break;
        case CONF_LOG_LEVEL:
                s = log_level_to_string(*(const int *) field);
                break;
        case CONF_ENUM:
                for (unsigned i = 0; item->words[i] && !s; i++)
                        if (i == *(const unsigned *) field)
                                s = item->words[i];
                break;
        case CONF_CLASSES:
                format_classes(field, buf, sizeof buf);
                s = buf;
                break;
        }
        if (!s)
                return -EINVAL;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

Config *conf_free(Config *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(conf_items); i++)
                switch (conf_items[i].type) {
                case CONF_STRING:
                case CONF_NAME:
                case CONF_LISTEN:
                case CONF_URL_LIST:
                case CONF_IFNAMES:
                case CONF_PORTS:
                case CONF_LADDER:
                case CONF_PATH:
                case CONF_CPUS:
                        free(*(char **) ((char *) c + conf_items[i].offset));
                        break;
                default:
                        break;
                }
        for (size_t i = 0; i < c->n_tenant_groups; i++)
                free(c->tenant_groups[i].name);
        free(c->tenant_groups);
        free(c);
        return NULL;
}

int conf_new_default(Config **ret) {
        _cleanup_(conf_freep) Config *c = calloc(1, sizeof(Config));
        int r;

        if (!c)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(conf_items); i++) {
                _cleanup_free_ char *reason = NULL;

                r = conf_item_parse(&conf_items[i], conf_items[i].def, c, &reason);
                if (r < 0)
                        return log_debug_errno(r, "Default of [%s] %s does not parse: %s", conf_items[i].section,
                                               conf_items[i].key, reason ?: "out of memory");
        }
        *ret = TAKE_PTR(c);
        return 0;
}

/* ---- reading files through inih ---- */

typedef struct ConfParser {
        Config *config;
        const char *file; /* for messages, as the caller spelled it */
        FILE *f;
        char *line; /* getline() buffer */
        size_t line_size;
        unsigned line_no;
        char *error; /* the first error, "FILE:LINE: ..." */
        int error_r; /* its -errno; 0 while there is none */
        unsigned error_line;
} ConfParser;

/* Keeps the first error only; line 0 means the error concerns the whole file. */
_printf_(4, 5) static int parser_fail(ConfParser *p, unsigned line, int r, const char *format, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        int k;

        if (p->error_r != 0)
                return p->error_r;
        va_start(ap, format);
        k = vasprintf(&msg, format, ap);
        va_end(ap);
        if (k < 0)
                msg = NULL; /* asprintf() leaves it undefined on failure */
        if (k < 0 || (line > 0 ? asprintf(&p->error, "%s:%u: %s", p->file, line, msg)
                               : asprintf(&p->error, "%s: %s", p->file, msg)) < 0) {
                p->error = NULL;
                return (p->error_r = -ENOMEM);
        }
        p->error_line = line > 0 ? line : p->line_no + 1;
        return (p->error_r = r);
}

/* inih checks a section only when a key follows it; catching "[name]" here
 * also rejects empty unknown sections, on the header's own line. */
static int parser_check_section(ConfParser *p, const char *s) {
        const char *end = strchr(s, ']');
        const char *rest;

        if (!end)
                return 0; /* inih reports the missing ']' */
        rest = end + 1 + strspn(end + 1, " \t\r\n");
        if (*rest != '\0' && *rest != '#' && *rest != ';')
                return parser_fail(p, p->line_no, -EINVAL, SYNTAX_ERROR);
        if (!section_known(strndupa(s + 1, end - s - 1)))
                return parser_fail(p, p->line_no, -EINVAL, "unknown section [%.*s]", (int) (end - s - 1), s + 1);
        return 0;
}

/* inih's line reader. Counting lines here gives the handler its line number,
 * and stripping leading blanks keeps inih from joining an indented line to the
 * previous value as a "continuation". Returning NULL ends the parse. */
static char *parser_read(char *str, int num, void *stream) {
        ConfParser *p = stream;
        size_t len;
        ssize_t n;
        char *s;

        if (p->error_r != 0)
                return NULL;
        errno = 0;
        n = getline(&p->line, &p->line_size, p->f);
        if (n < 0) {
                if (ferror(p->f))
                        parser_fail(p, 0, errno > 0 ? -errno : -EIO, "%s", strerror(errno > 0 ? errno : EIO));
                return NULL;
        }
        p->line_no++;
        s = p->line;
        if (p->line_no == 1 && strncmp(s, "\xef\xbb\xbf", 3) == 0)
                s += 3; /* UTF-8 byte order mark */
        s += strspn(s, " \t\v\f");
        if (strlen(p->line) != (size_t) n) {
                parser_fail(p, p->line_no, -EINVAL, "syntax error (NUL byte)");
                return NULL;
        }
        /* inih's buffer (num bytes) must take the text plus "\r\n" and NUL. */
        len = strlen(s);
        n = (ssize_t) len - (len > 0 && s[len - 1] == '\n');
        n -= n > 0 && s[n - 1] == '\r';
        if ((size_t) n + 3 > (size_t) num) {
                parser_fail(p, p->line_no, -EINVAL, "line too long (more than %d characters)", num - 3);
                return NULL;
        }
        if (*s == '[' && parser_check_section(p, s) < 0)
                return NULL;
        return memcpy(str, s, len + 1);
}

/* A key of a [tenants.group.NAME] section: the same parsers, over the group's entry. */
static int parser_handle_group(ConfParser *p, const char *section, const char *name, const char *value) {
        _cleanup_free_ char *reason = NULL;
        const ConfItem *item = NULL;
        TenantGroupConf *g;
        bool full;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(group_items) && !item; i++)
                if (strcmp(group_items[i].key, name) == 0)
                        item = &group_items[i];
        if (!item) {
                parser_fail(p, p->line_no, -EINVAL, "unknown key '%s' in section [%s]", name, section);
                return 0;
        }
        g = group_get(p->config, group_section_name(section), &full);
        if (!g) {
                if (full)
                        parser_fail(p, p->line_no, -EINVAL, "more than %d [tenants.group.NAME] sections",
                                    CONF_TENANT_GROUPS_MAX);
                else
                        p->error_r = -ENOMEM;
                return 0;
        }
        r = conf_item_parse(item, value, g, &reason);
        if (r == -ENOMEM)
                p->error_r = -ENOMEM;
        else if (r < 0)
                parser_fail(p, p->line_no, -EINVAL, "[%s] %s = %s: %s", section, name, value, reason);
        return r >= 0;
}

static int parser_handle(void *user, const char *section, const char *name, const char *value) {
        ConfParser *p = user;
        _cleanup_free_ char *reason = NULL;
        const ConfItem *item;
        int r;

        if (section[0] == '\0') {
                parser_fail(p, p->line_no, -EINVAL, "key '%s' outside any section", name);
                return 0;
        }
        if (group_section_name(section))
                return parser_handle_group(p, section, name, value);
        item = item_find(section, name);
        if (!item) {
                if (item_find(section, NULL))
                        parser_fail(p, p->line_no, -EINVAL, "unknown key '%s' in section [%s]", name, section);
                else
                        parser_fail(p, p->line_no, -EINVAL, "unknown section [%s]", section);
                return 0;
        }
        r = conf_item_parse(item, value, p->config, &reason);
        if (r == -ENOMEM)
                p->error_r = -ENOMEM;
        else if (r < 0)
                parser_fail(p, p->line_no, -EINVAL, "[%s] %s = %s: %s", section, name, value, reason);
        return r >= 0;
}

/* Turns ini_parse_stream()'s result into -errno and p->error: a line number
 * is an error at that line, ours if we recorded one there, else inih's own. */
static int parser_result(ConfParser *p, int ini_r) {
        if (ini_r < 0) /* -2: out of memory; -1 (cannot open) is not possible for a stream */
                return -ENOMEM;
        if (ini_r > 0 && (p->error_r == 0 || (unsigned) ini_r < p->error_line)) {
                free(p->error);
                p->error = NULL;
                p->error_r = 0;
                return parser_fail(p, (unsigned) ini_r, -EINVAL, SYNTAX_ERROR);
        }
        return p->error_r;
}

/* Sets *ret_error to "PATH: strerror" and returns r (or -ENOMEM). */
static int path_error(const char *path, int r, char **ret_error) {
        if (asprintf(ret_error, "%s: %s", path, strerror(-r)) < 0) {
                *ret_error = NULL;
                return -ENOMEM;
        }
        return r;
}

static int conf_parse_file(Config *c, const char *path, bool must_exist, char **ret_error) {
        _cleanup_fclose_ FILE *f = NULL;
        ConfParser p = { .config = c, .file = path };
        int r;

        f = fopen(path, "re");
        if (!f) {
                r = -errno;
                if (r == -ENOENT && !must_exist)
                        return 0;
                return path_error(path, r, ret_error);
        }
        p.f = f;
        r = parser_result(&p, ini_parse_stream(parser_read, &p, parser_handle, &p));
        free(p.line);
        *ret_error = p.error;
        return r;
}

/* ---- drop-ins ---- */

static int dropin_filter(const struct dirent *de) {
        size_t n = strlen(de->d_name);

        return de->d_name[0] != '.' && n > 5 && strcmp(de->d_name + n - 5, ".conf") == 0;
}

static int dropin_compare(const struct dirent **a, const struct dirent **b) {
        return strcmp((*a)->d_name, (*b)->d_name);
}

static void dirent_list_free(struct dirent **list, int n) {
        for (int i = 0; i < n; i++)
                free(list[i]);
        free(list);
}

/* Only regular files count (symlinks are followed); a name that vanished or
 * is a directory is skipped, anything else unreadable is an error. */
static int conf_parse_dropin(Config *c, const char *dir, const char *name, char **ret_error) {
        _cleanup_free_ char *path = NULL;
        struct stat st;
        int r;

        if (asprintf(&path, "%s/%s", dir, name) < 0) {
                path = NULL;
                return -ENOMEM;
        }
        if (stat(path, &st) < 0) {
                r = -errno;
                if (r == -ENOENT)
                        return 0;
                return path_error(path, r, ret_error);
        }
        if (!S_ISREG(st.st_mode))
                return 0;
        return conf_parse_file(c, path, true, ret_error);
}

static int conf_parse_dropins(Config *c, const char *dir, char **ret_error) {
        struct dirent **list = NULL;
        int n, r = 0;

        n = scandir(dir, &list, dropin_filter, dropin_compare);
        if (n < 0) {
                r = -errno;
                if (r == -ENOENT)
                        return 0;
                return path_error(dir, r, ret_error);
        }
        for (int i = 0; i < n && r >= 0; i++)
                r = conf_parse_dropin(c, dir, list[i]->d_name, ret_error);
        dirent_list_free(list, n);
        return r;
}

int conf_load(const char *path, bool must_exist, Config **ret, char **ret_error) {
        _cleanup_(conf_freep) Config *c = NULL;
        _cleanup_free_ char *dir = NULL;
        int r;

        *ret_error = NULL;
        r = conf_new_default(&c);
        if (r < 0)
                return r;
        r = conf_parse_file(c, path, must_exist, ret_error);
        if (r < 0)
                return r;
        if (asprintf(&dir, "%s.d", path) < 0) {
                dir = NULL;
                return -ENOMEM;
        }
        r = conf_parse_dropins(c, dir, ret_error);
        if (r < 0)
                return r;
        conf_groups_inherit(c);
        *ret = TAKE_PTR(c);
        return 0;
}

int conf_print(const Config *c, FILE *f) {
        const char *section = NULL;

        for (size_t i = 0; i < ELEMENTSOF(conf_items); i++) {
                const ConfItem *item = &conf_items[i];
                _cleanup_free_ char *value = NULL;
                int r;

                if (!section || strcmp(section, item->section) != 0) {
                        fprintf(f, "%s[%s]\n", section ? "\n" : "", item->section);
                        section = item->section;
                }
                r = conf_item_format(item, c, &value);
                if (r < 0)
                        return r;
                fprintf(f, "# %s\n%s =%s%s\n", item->doc, item->key, value[0] ? " " : "", value);
        }
        for (size_t i = 0; i < c->n_tenant_groups; i++) {
                fprintf(f, "\n[" GROUP_SECTION_PREFIX "%s]\n", c->tenant_groups[i].name);
                for (size_t j = 0; j < ELEMENTSOF(group_items); j++) {
                        _cleanup_free_ char *value = NULL;
                        int r = conf_item_format(&group_items[j], &c->tenant_groups[i], &value);

                        if (r < 0)
                                return r;
                        fprintf(f, "# %s\n%s = %s\n", group_items[j].doc, group_items[j].key, value);
                }
        }
        return ferror(f) ? -EIO : 0;
}
