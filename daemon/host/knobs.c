/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The knob registry: one table of the kernel knobs maiod may own, name patterns
 * resolved to paths below --root (never outside them), value validation, and
 * the raw read and write-verify with errno triage. journal.c is its only caller
 * that writes. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "detect.h"
#include "knobs.h"
#include "log.h"
#include "string-table.h"

#define HUGEPAGES_MAX 16777216         /* 32 TiB of 2 MiB pages: a sanity bound, not the kernel's */
#define RPS_FLOW_ENTRIES_MAX (1 << 29) /* the kernel refuses more */
#define IFNAME_MAX 15                  /* IFNAMSIZ - 1 */
#define PLACEHOLDER_DIGITS_MAX 9

static const char *const words_false_true[] = { "false", "true", NULL };
static const char *const words_thp[] = { "always", "madvise", "never", NULL };
static const char *const words_damon_state[] = { "off", "on", NULL };
/* Commands kdamonds/N/state takes while the kdamond runs; reading it still shows "on". */
static const char *const words_damon_commands[] = {
        "commit",
        "update_schemes_stats",
        "update_schemes_tried_regions",
        "update_schemes_tried_bytes",
        "clear_schemes_tried_regions",
        NULL,
};
static const char *const words_damon_ops[] = { "vaddr", "fvaddr", "paddr", NULL };
static const char *const words_damos_action[] = {
        "willneed",   "cold",        "pageout",      "hugepage", "nohugepage", "lru_prio",
        "lru_deprio", "migrate_hot", "migrate_cold", "stat",     NULL,
};
static const char *const words_damos_filter[] = {
        "anon", "active", "memcg", "young", "hugepage_size", "unmapped", "addr", "target", NULL,
};
/* DAMON's boolean files print Y and N. */
static const char *const words_n_y[] = { "N", "Y", NULL };

#define DAMON_KDAMONDS "sys/kernel/mm/damon/admin/kdamonds"
#define DAMON_CTX DAMON_KDAMONDS "/{k}/contexts/0"
#define DAMON_SCHEME DAMON_CTX "/schemes/{s}"
#define DAMON_KDAMONDS_MAX 1024
#define DAMON_SCHEMES_MAX 1024
/* A DAMON scheme knob: {k} kdamond, {s} scheme, an integer file in [lo, hi]. */
#define DAMON_SCHEME_INT(name, file, lo, hi, text)                                                                   \
        {                                                                                                            \
                "damon.{k}.scheme.{s}." name, DAMON_SCHEME "/" file, KNOB_SYSFS, KNOB_SCOPE_DAMON, KNOB_INT, lo, hi, \
                        0, NULL, KNOB_NEED_SYS_ADMIN, text                                                           \
        }

/* Each row wrapped where its meaning breaks. */
/* clang-format off */
static const KnobDef knob_defs[] = {
        { "kernel.numa_balancing", "proc/sys/kernel/numa_balancing", KNOB_PROCSYS, KNOB_SCOPE_GLOBAL, KNOB_INT,
          0, 3, 0, NULL, KNOB_NEED_SYS_ADMIN,
          "Automatic NUMA balancing: 0 off, 1 normal, 2 memory tiering (promotion), 3 both." },
        { "kernel.numa_balancing_promote_rate_limit_MBps", "proc/sys/kernel/numa_balancing_promote_rate_limit_MBps",
          KNOB_PROCSYS, KNOB_SCOPE_GLOBAL, KNOB_INT, 0, INT_MAX, 0, NULL, KNOB_NEED_SYS_ADMIN,
          "Most MB/s promoted from slow to fast memory in tiering mode." },
        { "vm.nr_hugepages", "proc/sys/vm/nr_hugepages", KNOB_PROCSYS, KNOB_SCOPE_GLOBAL, KNOB_INT,
          0, HUGEPAGES_MAX, 0, NULL, KNOB_NEED_SYS_ADMIN,
          "Persistent hugepages of the default size, over all nodes." },
        { "net.core.optmem_max", "proc/sys/net/core/optmem_max", KNOB_PROCSYS, KNOB_SCOPE_NETNS, KNOB_INT,
          0, INT_MAX, 0, NULL, KNOB_NEED_NET_ADMIN,
          "Most ancillary buffer bytes per socket (zero-copy send notifications); per netns since Linux 6.9." },
        { "net.core.rps_sock_flow_entries", "proc/sys/net/core/rps_sock_flow_entries", KNOB_PROCSYS,
          KNOB_SCOPE_GLOBAL, KNOB_INT, 0, RPS_FLOW_ENTRIES_MAX, KNOB_F_POW2, NULL, KNOB_NEED_SYS_ADMIN,
          "Size of the global RFS socket flow table; 0 disables RFS." },
        { "net.ipv4.tcp_reordering", "proc/sys/net/ipv4/tcp_reordering", KNOB_PROCSYS, KNOB_SCOPE_NETNS, KNOB_INT,
          1, INT_MAX, 0, NULL, KNOB_NEED_NET_ADMIN,
          "Initial reordering level of TCP packets (micro-flow splitting reorders)." },
        { "mm.numa.demotion_enabled", "sys/kernel/mm/numa/demotion_enabled", KNOB_SYSFS, KNOB_SCOPE_GLOBAL,
          KNOB_BOOL, 0, 0, 0, words_false_true, KNOB_NEED_SYS_ADMIN,
          "Whether reclaim demotes pages to a slower memory tier instead of discarding them." },
        { "mm.transparent_hugepage.enabled", "sys/kernel/mm/transparent_hugepage/enabled", KNOB_SYSFS,
          KNOB_SCOPE_GLOBAL, KNOB_ENUM, 0, 0, 0, words_thp, KNOB_NEED_SYS_ADMIN,
          "Transparent hugepages for anonymous memory: always, madvise or never." },
        { "sched.numa_balancing.hot_threshold_ms", "sys/kernel/debug/sched/numa_balancing/hot_threshold_ms",
          KNOB_DEBUGFS, KNOB_SCOPE_GLOBAL, KNOB_INT, 0, UINT32_MAX, 0, NULL, KNOB_NEED_DEBUGFS,
          "Tiering mode: a page accessed again within this many ms counts as hot and is promoted." },
        { "node.{N}.hugepages.2048kB", "sys/devices/system/node/node{N}/hugepages/hugepages-2048kB/nr_hugepages",
          KNOB_SYSFS, KNOB_SCOPE_NODE, KNOB_INT, 0, HUGEPAGES_MAX, 0, NULL, KNOB_NEED_SYS_ADMIN,
          "Persistent 2 MiB hugepages on NUMA node N (backing for libmaio buffer pools)." },
        { "net.{dev}.rx.{q}.rps_cpus", "sys/class/net/{dev}/queues/rx-{q}/rps_cpus", KNOB_SYSFS,
          KNOB_SCOPE_RXQUEUE, KNOB_CPUMASK, 0, 0, 0, NULL, KNOB_NEED_NET_ADMIN,
          "CPUs that receive packet steering (RPS) may hand packets of this rx queue to." },
        { "net.{dev}.threaded", "sys/class/net/{dev}/threaded", KNOB_SYSFS, KNOB_SCOPE_NETDEV, KNOB_INT,
          0, 1, 0, NULL, KNOB_NEED_NET_ADMIN,
          "Threaded NAPI: 1 polls the device in kernel threads that can be pinned to CPUs." },

        /* DAMON (the tiering applier's own kdamond, context 0, schemes and their first filter). */
        { "damon.nr_kdamonds", DAMON_KDAMONDS "/nr_kdamonds", KNOB_SYSFS, KNOB_SCOPE_DAMON, KNOB_INT,
          0, DAMON_KDAMONDS_MAX, 0, NULL, KNOB_NEED_SYS_ADMIN,
          "DAMON kdamonds set up through sysfs; changing it rebuilds every kdamond directory (refused while one runs)." },
        { "damon.{k}.state", DAMON_KDAMONDS "/{k}/state", KNOB_SYSFS, KNOB_SCOPE_DAMON, KNOB_ENUM, 0, 0, 0,
          words_damon_state, KNOB_NEED_SYS_ADMIN,
          "Whether kdamond k runs; while on it takes commands such as commit (apply changed files online).",
          words_damon_commands },
        { "damon.{k}.nr_contexts", DAMON_KDAMONDS "/{k}/contexts/nr_contexts", KNOB_SYSFS, KNOB_SCOPE_DAMON,
          KNOB_INT, 0, 1, 0, NULL, KNOB_NEED_SYS_ADMIN, "Monitoring contexts of kdamond k (at most one)." },
        { "damon.{k}.operations", DAMON_CTX "/operations", KNOB_SYSFS, KNOB_SCOPE_DAMON, KNOB_ENUM, 0, 0, 0,
          words_damon_ops, KNOB_NEED_SYS_ADMIN,
          "Address space kdamond k monitors: vaddr, fvaddr or paddr (physical memory)." },
        { "damon.{k}.sample_us", DAMON_CTX "/monitoring_attrs/intervals/sample_us", KNOB_SYSFS, KNOB_SCOPE_DAMON,
          KNOB_INT, 1, INT32_MAX, 0, NULL, KNOB_NEED_SYS_ADMIN, "Microseconds between access samples of kdamond k." },
        { "damon.{k}.aggr_us", DAMON_CTX "/monitoring_attrs/intervals/aggr_us", KNOB_SYSFS, KNOB_SCOPE_DAMON,
          KNOB_INT, 1, INT32_MAX, 0, NULL, KNOB_NEED_SYS_ADMIN,
          "Microseconds per aggregation interval of kdamond k: nr_accesses counts samples in one, age counts them." },
        { "damon.{k}.nr_targets", DAMON_CTX "/targets/nr_targets", KNOB_SYSFS, KNOB_SCOPE_DAMON, KNOB_INT, 0, 1, 0,
          NULL, KNOB_NEED_SYS_ADMIN, "Monitoring targets of kdamond k (paddr: one, the physical address space)." },
        { "damon.{k}.nr_schemes", DAMON_CTX "/schemes/nr_schemes", KNOB_SYSFS, KNOB_SCOPE_DAMON, KNOB_INT,
          0, DAMON_SCHEMES_MAX, 0, NULL, KNOB_NEED_SYS_ADMIN, "DAMOS schemes of kdamond k." },
        { "damon.{k}.scheme.{s}.action", DAMON_SCHEME "/action", KNOB_SYSFS, KNOB_SCOPE_DAMON, KNOB_ENUM, 0, 0, 0,
          words_damos_action, KNOB_NEED_SYS_ADMIN,
          "What scheme s does to matching regions, e.g. migrate_hot (promote) or migrate_cold (demote)." },
        DAMON_SCHEME_INT("nr_accesses_min", "access_pattern/nr_accesses/min", 0, UINT32_MAX,
                         "Fewest access samples per aggregation interval a region needs to match scheme s."),
        DAMON_SCHEME_INT("nr_accesses_max", "access_pattern/nr_accesses/max", 0, UINT32_MAX,
                         "Most access samples per aggregation interval a region may have to match scheme s."),
        DAMON_SCHEME_INT("age_min", "access_pattern/age/min", 0, UINT32_MAX,
                         "Fewest aggregation intervals a region must have kept its access rate to match scheme s."),
        DAMON_SCHEME_INT("age_max", "access_pattern/age/max", 0, UINT32_MAX,
                         "Most aggregation intervals of unchanged access rate a region may have to match scheme s."),
        DAMON_SCHEME_INT("sz_min", "access_pattern/sz/min", 0, INT64_MAX, "Smallest region (bytes) scheme s acts on."),
        DAMON_SCHEME_INT("sz_max", "access_pattern/sz/max", 0, INT64_MAX, "Largest region (bytes) scheme s acts on."),
        DAMON_SCHEME_INT("target_nid", "target_nid", -1, 1023,
                         "NUMA node scheme s migrates to (migrate_hot, migrate_cold); -1 none."),
        DAMON_SCHEME_INT("quota_bytes", "quotas/bytes", 0, INT64_MAX,
                         "Most bytes scheme s acts on per reset interval; 0 means no limit."),
        DAMON_SCHEME_INT("quota_reset_ms", "quotas/reset_interval_ms", 0, INT32_MAX,
                         "Milliseconds after which the byte quota of scheme s is charged again."),
        DAMON_SCHEME_INT("nr_filters", "filters/nr_filters", 0, 16, "Filters of scheme s."),
        { "damon.{k}.scheme.{s}.filter_type", DAMON_SCHEME "/filters/0/type", KNOB_SYSFS, KNOB_SCOPE_DAMON,
          KNOB_ENUM, 0, 0, 0, words_damos_filter, KNOB_NEED_SYS_ADMIN,
          "What the first filter of scheme s tests, e.g. memcg (pages of one cgroup)." },
        { "damon.{k}.scheme.{s}.filter_memcg_path", DAMON_SCHEME "/filters/0/memcg_path", KNOB_SYSFS,
          KNOB_SCOPE_DAMON, KNOB_STRING, 1, 4095, 0, NULL, KNOB_NEED_SYS_ADMIN,
          "Cgroup (path below the cgroup root) of a memcg filter of scheme s." },
        { "damon.{k}.scheme.{s}.filter_matching", DAMON_SCHEME "/filters/0/matching", KNOB_SYSFS, KNOB_SCOPE_DAMON,
          KNOB_BOOL, 0, 0, 0, words_n_y, KNOB_NEED_SYS_ADMIN,
          "Y: the first filter of scheme s excludes the pages it matches; N: those it does not match." },
};
/* clang-format on */

const KnobDef *knobs_table(size_t *ret_n) {
        *ret_n = ELEMENTSOF(knob_defs);
        return knob_defs;
}

static const char *const knob_addressing_table[_KNOB_ADDRESSING_MAX] = {
        [KNOB_PROCSYS] = "procsys",
        [KNOB_SYSFS] = "sysfs",
        [KNOB_DEBUGFS] = "debugfs",
};
DEFINE_STRING_TABLE_TO_STRING(knob_addressing, KnobAddressing, )

static const char *const knob_scope_table[_KNOB_SCOPE_MAX] = {
        [KNOB_SCOPE_GLOBAL] = "global",   [KNOB_SCOPE_NODE] = "node",   [KNOB_SCOPE_NETDEV] = "netdev",
        [KNOB_SCOPE_RXQUEUE] = "rxqueue", [KNOB_SCOPE_NETNS] = "netns", [KNOB_SCOPE_DAMON] = "damon",
};
DEFINE_STRING_TABLE_TO_STRING(knob_scope, KnobScope, )

static const char *const knob_type_table[_KNOB_TYPE_MAX] = {
        [KNOB_INT] = "int",   [KNOB_BOOL] = "bool",     [KNOB_CPUMASK] = "cpumask",
        [KNOB_ENUM] = "enum", [KNOB_STRING] = "string",
};
DEFINE_STRING_TABLE_TO_STRING(knob_type, KnobType, )

static const char *const knob_need_table[_KNOB_NEED_MAX] = {
        [KNOB_NEED_SYS_ADMIN] = "CAP_SYS_ADMIN",
        [KNOB_NEED_NET_ADMIN] = "CAP_NET_ADMIN",
        [KNOB_NEED_DEBUGFS] = "debugfs mounted at /sys/kernel/debug, CAP_SYS_ADMIN",
};
DEFINE_STRING_TABLE_TO_STRING(knob_need, KnobNeed, )

/* ---- names and patterns ---- */

typedef enum Placeholder {
        PH_NODE,
        PH_DEV,
        PH_QUEUE,
        PH_KDAMOND,
        PH_SCHEME,
        _PH_MAX,
} Placeholder;

static const char *const placeholder_tokens[_PH_MAX] = {
        [PH_NODE] = "{N}", [PH_DEV] = "{dev}", [PH_QUEUE] = "{q}", [PH_KDAMOND] = "{k}", [PH_SCHEME] = "{s}",
};

/* Placeholder values, as text: they were checked when matched. */
typedef struct KnobParams {
        char v[_PH_MAX][IFNAME_MAX + 1];
} KnobParams;

/* Returns the placeholder starting at p and its token length, or -1. */
static int placeholder_at(const char *p, size_t *ret_len) {
        if (*p != '{')
                return -1;
        for (int i = 0; i < _PH_MAX; i++) {
                size_t n = strlen(placeholder_tokens[i]);

                if (strncmp(p, placeholder_tokens[i], n) == 0) {
                        *ret_len = n;
                        return i;
                }
        }
        return -1;
}

static bool name_char_ok(char c) {
        return isascii(c) && (isalnum(c) || c == '_' || c == '-' || c == '.');
}

int knobs_check_name(const char *name) {
        size_t n;

        if (!name)
                return -EINVAL;
        n = strnlen(name, KNOB_NAME_MAX + 1);
        if (n == 0 || n > KNOB_NAME_MAX || name[0] == '.' || name[n - 1] == '.' || strstr(name, ".."))
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (!name_char_ok(name[i]))
                        return -EINVAL;
        return 0;
}

/* Can s[0..n) be the value of placeholder ph? Numbers are canonical decimals;
 * device names are 1..15 characters the name syntax already allows. Returns 1
 * yes, 0 no, -1 no and no longer prefix can be either (stop extending). */
static int placeholder_accepts(Placeholder ph, const char *s, size_t n) {
        if (s[n - 1] == '\0')
                return -1;
        if (ph == PH_DEV)
                return n <= IFNAME_MAX ? 1 : -1;
        if (n > PLACEHOLDER_DIGITS_MAX || !isdigit((unsigned char) s[n - 1]))
                return -1;
        return n == 1 || s[0] != '0' ? 1 : -1;
}

/* Matches s against pat, trying the shortest value for each placeholder first
 * (the rest of the pattern decides where it ends). */
static bool pattern_match(const char *pat, const char *s, KnobParams *p) {
        for (;;) {
                size_t tl;
                int ph = placeholder_at(pat, &tl);

                if (ph < 0) {
                        if (*pat != *s)
                                return false;
                        if (*pat == '\0')
                                return true;
                        pat++, s++;
                        continue;
                }
                for (size_t n = 1;; n++) {
                        int k = placeholder_accepts(ph, s, n);

                        if (k < 0)
                                return false;
                        if (k > 0 && pattern_match(pat + tl, s + n, p)) {
                                memcpy(p->v[ph], s, n);
                                p->v[ph][n] = '\0';
                                return true;
                        }
                }
        }
}

static int knobs_match_params(const char *name, const KnobDef **ret_def, KnobParams *ret) {
        if (knobs_check_name(name) < 0)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(knob_defs); i++) {
                KnobParams p = {};

                if (pattern_match(knob_defs[i].name, name, &p)) {
                        if (ret_def)
                                *ret_def = &knob_defs[i];
                        if (ret)
                                *ret = p;
                        return 0;
                }
        }
        return -ENOENT;
}

int knobs_match(const char *name, const KnobDef **ret_def) {
        return knobs_match_params(name, ret_def, NULL);
}

/* Fills the placeholders of tmpl. *ret_object_len (may be NULL) is the length of
 * the prefix up to the end of the path segment holding the last placeholder:
 * the directory of the object (node, netdev, queue) the knob belongs to; 0 when
 * tmpl has none. Returns 0 or -ENOMEM. */
static int expand(const char *tmpl, const KnobParams *p, char **ret, size_t *ret_object_len) {
        char *buf = NULL;
        size_t size = 0, object_len = 0;
        bool after_ph = false;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return -ENOMEM;
        for (const char *t = tmpl; *t;) {
                size_t tl;
                int ph = placeholder_at(t, &tl);

                if (ph >= 0) {
                        fputs(p->v[ph], f);
                        t += tl;
                        after_ph = true;
                        continue;
                }
                if (*t == '/' && after_ph) {
                        (void) fflush(f);
                        object_len = size;
                        after_ph = false;
                }
                fputc(*t++, f);
        }
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        if (after_ph)
                object_len = size;
        if (ret_object_len)
                *ret_object_len = object_len;
        *ret = buf;
        return 0;
}

/* ---- values ---- */

/* Strict decimal with an optional '-': no blanks, no '+', no suffix.
 * Returns 0, -EINVAL (not a number) or -ERANGE (beyond int64). */
static int parse_int64(const char *s, int64_t *ret) {
        const char *d = s[0] == '-' ? s + 1 : s;
        char *end;
        long long v;

        if (!isdigit((unsigned char) d[0]))
                return -EINVAL;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (*end != '\0')
                return -EINVAL;
        if (errno == ERANGE)
                return -ERANGE;
        *ret = v;
        return 0;
}

static int parse_bool_word(const char *s) {
        static const char *const words[] = { "0", "1", "no", "yes", "false", "true", "off", "on", "n", "y" };

        for (size_t i = 0; i < ELEMENTSOF(words); i++)
                if (strcasecmp(s, words[i]) == 0)
                        return (int) (i % 2);
        return -EINVAL;
}

/* A CPU mask as bitmap_parse() reads it: comma-separated groups of 1..8 hex
 * digits, every group but the first exactly 8. Writes the value as lower-case
 * hex without leading zeros ("0" for none) into buf (size > strlen(s)).
 * Returns 0 or -EINVAL. */
static int mask_canonical(const char *s, char *buf, size_t size) {
        size_t n = 0, group = 0, groups = 0;

        if (!s[0] || strlen(s) >= size)
                return -EINVAL;
        for (const char *p = s;; p++) {
                if (*p == ',' || *p == '\0') {
                        if (group == 0 || group > 8 || (groups > 0 && group != 8))
                                return -EINVAL;
                        groups++;
                        group = 0;
                        if (*p == '\0')
                                break;
                        continue;
                }
                if (!isxdigit((unsigned char) *p))
                        return -EINVAL;
                group++;
                if (n > 0 || *p != '0')
                        buf[n++] = (char) tolower((unsigned char) *p);
        }
        if (n == 0)
                buf[n++] = '0';
        buf[n] = '\0';
        return 0;
}

const char *knobs_describe_allowed(const KnobDef *def, char *buf, size_t size) {
        size_t n = 0;

        buf[0] = '\0';
        switch (def->type) {
        case KNOB_INT:
                if (def->flags & KNOB_F_POW2)
                        snprintf(buf, size, "0 or a power of two up to %" PRId64, def->max);
                else
                        snprintf(buf, size, "%" PRId64 "..%" PRId64, def->min, def->max);
                break;
        case KNOB_BOOL:
        case KNOB_ENUM:
                for (size_t i = 0; def->words[i] && n < size; i++)
                        n += (size_t) snprintf(buf + n, size - n, "%s%s", i ? "|" : "", def->words[i]);
                for (size_t i = 0; def->actions && def->actions[i] && n < size; i++)
                        n += (size_t) snprintf(buf + n, size - n, "%s%s%s", i ? "|" : " (commands: ", def->actions[i],
                                               def->actions[i + 1] ? "" : ")");
                break;
        case KNOB_STRING:
                snprintf(buf, size, "text of 1..%" PRId64 " printable characters", def->max);
                break;
        case KNOB_CPUMASK:
                snprintf(buf, size, "a hex CPU mask such as 3 or 1,00000000 (comma-separated 32-bit groups)");
                break;
        default:
                break;
        }
        return buf;
}

static int validate_int(const KnobDef *def, const char *value, char **ret, char *reason, size_t size) {
        char allowed[128];
        int64_t v;
        int r;

        knobs_describe_allowed(def, allowed, sizeof allowed);
        r = parse_int64(value, &v);
        if (r == -EINVAL) {
                snprintf(reason, size, "not a decimal integer; allowed: %s", allowed);
                return r;
        }
        if (r < 0 || v < def->min || v > def->max || ((def->flags & KNOB_F_POW2) && (v & (v - 1)) != 0)) {
                snprintf(reason, size, "out of range; allowed: %s", allowed);
                return -ERANGE;
        }
        return asprintf(ret, "%" PRId64, v) < 0 ? -ENOMEM : 0;
}

static int validate_word(const KnobDef *def, const char *value, char **ret, char *reason, size_t size) {
        char allowed[128];
        int b;

        knobs_describe_allowed(def, allowed, sizeof allowed);
        if (def->type == KNOB_BOOL) {
                b = parse_bool_word(value);
                if (b < 0) {
                        snprintf(reason, size, "not a boolean (%s, 0|1, no|yes, off|on)", allowed);
                        return -EINVAL;
                }
                *ret = strdup(def->words[b]);
                return *ret ? 0 : -ENOMEM;
        }
        for (size_t i = 0; def->words[i]; i++)
                if (strcasecmp(value, def->words[i]) == 0) {
                        *ret = strdup(def->words[i]);
                        return *ret ? 0 : -ENOMEM;
                }
        for (size_t i = 0; def->actions && def->actions[i]; i++)
                if (strcasecmp(value, def->actions[i]) == 0) {
                        *ret = strdup(def->actions[i]);
                        return *ret ? 0 : -ENOMEM;
                }
        snprintf(reason, size, "not one of %s", allowed);
        return -EINVAL;
}

static int validate_string(const KnobDef *def, const char *value, char **ret, char *reason, size_t size) {
        char allowed[128];
        size_t n = strlen(value);

        for (size_t i = 0; i < n; i++)
                if ((unsigned char) value[i] < ' ' || value[i] == 0x7f) {
                        snprintf(reason, size, "contains control characters; allowed: %s",
                                 knobs_describe_allowed(def, allowed, sizeof allowed));
                        return -EINVAL;
                }
        if ((int64_t) n < def->min || (int64_t) n > def->max || value[n - 1] == ' ') {
                snprintf(reason, size, "not %s without trailing blanks",
                         knobs_describe_allowed(def, allowed, sizeof allowed));
                return -EINVAL;
        }
        *ret = strdup(value);
        return *ret ? 0 : -ENOMEM;
}

static int validate_mask(const KnobDef *def, const char *value, char **ret, char *reason, size_t size) {
        _cleanup_free_ char *canon = malloc(strlen(value) + 2);
        char allowed[128];
        char *s;

        if (!canon)
                return -ENOMEM;
        if (mask_canonical(value, canon, strlen(value) + 2) < 0) {
                snprintf(reason, size, "not %s", knobs_describe_allowed(def, allowed, sizeof allowed));
                return -EINVAL;
        }
        s = strdup(value);
        if (!s)
                return -ENOMEM;
        for (char *p = s; *p; p++)
                *p = (char) tolower((unsigned char) *p);
        *ret = s;
        return 0;
}

int knobs_validate(const KnobDef *def, const char *value, char **ret_normalised, char **ret_reason) {
        char reason[256] = "";
        int r;

        *ret_reason = NULL;
        if (!value || !value[0] || strlen(value) > KNOB_VALUE_MAX) {
                snprintf(reason, sizeof reason, "empty or longer than %d characters", KNOB_VALUE_MAX);
                r = -EINVAL;
        } else
                switch (def->type) {
                case KNOB_INT:
                        r = validate_int(def, value, ret_normalised, reason, sizeof reason);
                        break;
                case KNOB_BOOL:
                case KNOB_ENUM:
                        r = validate_word(def, value, ret_normalised, reason, sizeof reason);
                        break;
                case KNOB_CPUMASK:
                        r = validate_mask(def, value, ret_normalised, reason, sizeof reason);
                        break;
                case KNOB_STRING:
                        r = validate_string(def, value, ret_normalised, reason, sizeof reason);
                        break;
                default:
                        snprintf(reason, sizeof reason, "unsupported knob type");
                        r = -EINVAL;
                }
        if (r < 0 && r != -ENOMEM) {
                *ret_reason = strdup(reason);
                if (!*ret_reason)
                        return -ENOMEM;
        }
        return r;
}

int knobs_parse_live(const KnobDef *def, const char *raw, char **ret) {
        const char *start = raw, *end = raw + strlen(raw), *open, *close;

        while (end > start && strchr(" \t\n", end[-1]))
                end--;
        if (def->type == KNOB_ENUM) {
                open = memchr(start, '[', (size_t) (end - start));
                close = open ? memchr(open, ']', (size_t) (end - open)) : NULL;
                if (open && !close)
                        return -EBADMSG;
                if (open) {
                        start = open + 1;
                        end = close;
                }
                if (end == start || memchr(start, ' ', (size_t) (end - start)))
                        return -EBADMSG;
        }
        *ret = strndup(start, (size_t) (end - start));
        return *ret ? 0 : -ENOMEM;
}

static bool mask_equal(const char *a, const char *b) {
        size_t la = strlen(a) + 2, lb = strlen(b) + 2;
        _cleanup_free_ char *ca = malloc(la), *cb = malloc(lb);

        if (!ca || !cb || mask_canonical(a, ca, la) < 0 || mask_canonical(b, cb, lb) < 0)
                return strcasecmp(a, b) == 0;
        return strcmp(ca, cb) == 0;
}

static bool is_action(const KnobDef *def, const char *s) {
        for (size_t i = 0; def->actions && def->actions[i]; i++)
                if (strcasecmp(s, def->actions[i]) == 0)
                        return true;
        return false;
}

bool knobs_value_equal(const KnobDef *def, const char *a, const char *b) {
        int64_t x, y;
        int p, q;

        if (!a || !b)
                return a == b;
        /* A command leaves the file showing a state: what it shows is what the command kept. */
        if (is_action(def, a) || is_action(def, b))
                return true;
        switch (def->type) {
        case KNOB_INT:
                if (parse_int64(a, &x) >= 0 && parse_int64(b, &y) >= 0)
                        return x == y;
                break;
        case KNOB_BOOL:
                p = parse_bool_word(a);
                q = parse_bool_word(b);
                if (p >= 0 && q >= 0)
                        return p == q;
                break;
        case KNOB_CPUMASK:
                return mask_equal(a, b);
        case KNOB_ENUM:
                return strcasecmp(a, b) == 0;
        default:
                break;
        }
        return strcmp(a, b) == 0;
}

/* ---- resolution below a root ---- */

static const char *root_or_slash(const char *root) {
        return root && root[0] ? root : "/";
}

/* The object directory (node, netdev, queue) must exist, and after symlinks it
 * must still lie below ROOT/<first segment of the template>: a netdev link
 * pointing anywhere else is refused. Returns 0 and the resolved directory. */
static int resolve_object_realpath(const char *root, const char *rel, size_t object_len, char **ret) {
        _cleanup_free_ char *obj = NULL, *obj_rel = NULL, *root_real = NULL, *obj_real = NULL, *prefix = NULL;
        size_t first = strcspn(rel, "/");
        struct stat st;
        int r;

        obj_rel = strndup(rel, object_len);
        if (!obj_rel)
                return -ENOMEM;
        r = detect_root_path(root, obj_rel, &obj);
        if (r < 0)
                return r;
        if (stat(obj, &st) < 0) {
                r = -errno;
                return r == -ENOENT || r == -ENOTDIR ? -ENODEV : r;
        }
        if (!S_ISDIR(st.st_mode))
                return -ENODEV;
        root_real = realpath(root, NULL);
        obj_real = root_real ? realpath(obj, NULL) : NULL;
        if (!obj_real)
                return -errno;
        if (asprintf(&prefix, "%s/%.*s/", strcmp(root_real, "/") == 0 ? "" : root_real, (int) first, rel) < 0)
                return -ENOMEM;
        if (strncmp(obj_real, prefix, strlen(prefix)) != 0)
                return log_debug_errno(EINVAL, "Knob object %s resolves to %s, outside %s, refusing.", obj, obj_real,
                                       prefix);
        *ret = TAKE_PTR(obj_real);
        return 0;
}

/* The same in a few system calls (each knob write resolves its object, and realpath() costs one
 * readlink per path component): openat2() with RESOLVE_BENEATH below ROOT/<first segment> follows
 * the links that stay below it and refuses any other (absolute links, ".." past it: EXDEV), and
 * the kernel names what it opened in /proc/self/fd. Falls back to realpath() where openat2() or
 * /proc is not available. */
static int resolve_object(const char *root, const char *rel, size_t object_len, char **ret) {
        _cleanup_free_ char *top_rel = NULL, *top = NULL, *below = NULL;
        _cleanup_close_ int top_fd = -EBADF, fd = -EBADF;
        struct open_how how = {
                .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
        };
        size_t first = strcspn(rel, "/");
        char link[64], buf[PATH_MAX];
        ssize_t n;
        int r;

        if (first >= object_len)
                return resolve_object_realpath(root, rel, object_len, ret);
        top_rel = strndup(rel, first);
        below = strndup(rel + first + 1, object_len - first - 1);
        if (!top_rel || !below)
                return -ENOMEM;
        r = detect_root_path(root, top_rel, &top);
        if (r < 0)
                return r;
        /* ROOT/sys itself is taken as it is, not through a link (realpath() compared against it). */
        top_fd = open(top, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (top_fd < 0)
                return errno == ENOENT || errno == ENOTDIR ? -ENODEV : -errno;
        fd = (int) syscall(SYS_openat2, top_fd, below, &how, sizeof how);
        if (fd < 0) {
                r = -errno;
                if (r == -ENOSYS || r == -EPERM || r == -E2BIG)
                        return resolve_object_realpath(root, rel, object_len, ret);
                if (r == -EXDEV || r == -ELOOP)
                        return log_debug_errno(EINVAL, "Knob object %s/%s leaves %s, refusing.", top, below, top);
                return r == -ENOENT || r == -ENOTDIR ? -ENODEV : r;
        }
        (void) snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        n = readlink(link, buf, sizeof buf - 1);
        if (n <= 0 || (size_t) n >= sizeof buf - 1 || buf[0] != '/')
                return resolve_object_realpath(root, rel, object_len, ret);
        buf[n] = '\0';
        *ret = strdup(buf);
        return *ret ? 0 : -ENOMEM;
}

int knobs_resolve(const char *root, const char *name, Knob *ret) {
        _cleanup_free_ char *rel = NULL, *path = NULL, *object = NULL, *n = NULL;
        const KnobDef *def;
        KnobParams p = {};
        size_t object_len;
        int r;

        root = root_or_slash(root);
        r = knobs_match_params(name, &def, &p);
        if (r < 0)
                return r;
        r = expand(def->path, &p, &rel, &object_len);
        if (r < 0)
                return r;
        if (object_len == 0)
                r = detect_root_path(root, rel, &path);
        else {
                r = resolve_object(root, rel, object_len, &object);
                if (r >= 0 && asprintf(&path, "%s%s", object, rel + object_len) < 0)
                        r = -ENOMEM;
        }
        if (r < 0)
                return r;
        n = strdup(name);
        if (!n)
                return -ENOMEM;
        *ret = (Knob) { .def = def, .name = TAKE_PTR(n), .path = TAKE_PTR(path) };
        return 0;
}

int knobs_from_path(const char *name, const char *path, Knob *ret) {
        const KnobDef *def;
        char *n, *p;
        int r;

        r = knobs_match(name, &def);
        if (r < 0)
                return r;
        if (!path || path[0] != '/')
                return -EINVAL;
        n = strdup(name);
        p = strdup(path);
        if (!n || !p) {
                free(n);
                free(p);
                return -ENOMEM;
        }
        *ret = (Knob) { .def = def, .name = n, .path = p };
        return 0;
}

void knob_done(Knob *k) {
        if (!k)
                return;
        free(k->name);
        free(k->path);
        *k = (Knob) {};
}

void knobs_free(Knob *k, size_t n) {
        if (!k)
                return;
        for (size_t i = 0; i < n; i++)
                knob_done(&k[i]);
        free(k);
}

/* ---- reading and writing ---- */

int knobs_read(const Knob *k, char **ret) {
        _cleanup_close_ int fd = -EBADF;
        char buf[KNOB_VALUE_MAX + 2];
        size_t n = 0;
        struct stat st;

        /* O_NONBLOCK: something that is not a kernel file (a FIFO) must not hang the loop. */
        fd = open(k->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        for (;;) {
                ssize_t m = read(fd, buf + n, sizeof buf - 1 - n);

                if (m < 0 && errno == EINTR)
                        continue;
                if (m < 0)
                        return -errno;
                if (m == 0)
                        break;
                n += (size_t) m;
                if (n > KNOB_VALUE_MAX)
                        return -EFBIG;
        }
        buf[n] = '\0';
        if (strlen(buf) != n)
                return -EBADMSG;
        return knobs_parse_live(k->def, buf, ret);
}

static KnobWriteFn write_fn = write;

void knobs_set_write_fn(KnobWriteFn fn) {
        write_fn = fn ?: write;
}

static int write_once(const char *path, const char *buf, size_t len) {
        _cleanup_close_ int fd = -EBADF;
        ssize_t n;

        /* O_NONBLOCK so a FIFO without a reader fails instead of blocking. */
        fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
        if (fd < 0)
                return -errno;
        n = write_fn(fd, buf, len);
        if (n < 0)
                return -errno;
        if ((size_t) n != len)
                return -EIO;
        /* Trimmed only after a write that took, as a shell's "echo v > file"
         * would up front: kernel files ignore the size, a plain (fixture) file
         * must not keep a longer old value's tail, nor lose its value when the
         * write fails. A failure here shows in the read-back. */
        if (ftruncate(fd, (off_t) len) < 0)
                log_debug_errno(errno, "Truncating %s failed, ignoring: %m", path);
        return 0;
}

static int write_triage(int r) {
        switch (r) {
        case -EBUSY:
        case -EAGAIN:
                return -EBUSY;
        case -EINVAL:
        case -ERANGE:
        case -EOVERFLOW:
                return -EINVAL;
        case -EACCES:
        case -EPERM:
        case -EROFS:
                return -EACCES;
        default:
                return r;
        }
}

static void sleep_ms(unsigned ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* Transient refusals get three more tries; sleeping blocks the loop for at most
 * 10 + 50 + 200 ms, acceptable for a rare operator-scale write. */
static int write_retrying(const Knob *k, const char *buf, size_t len) {
        static const unsigned backoff_ms[] = { 10, 50, 200 };
        int r;

        for (size_t i = 0;; i++) {
                r = write_once(k->path, buf, len);
                if ((r != -EBUSY && r != -EAGAIN) || i >= ELEMENTSOF(backoff_ms))
                        break;
                log_debug_errno(r, "Writing %s: %m, retrying in %u ms.", k->path, backoff_ms[i]);
                sleep_ms(backoff_ms[i]);
        }
        return write_triage(r);
}

int knobs_write(const Knob *k, const char *value, char **ret_obtained) {
        _cleanup_free_ char *buf = NULL, *obtained = NULL;
        int len, r;

        if (ret_obtained)
                *ret_obtained = NULL;
        len = asprintf(&buf, "%s\n", value);
        if (len < 0) {
                buf = NULL;
                return -ENOMEM;
        }
        r = write_retrying(k, buf, (size_t) len);
        if (r < 0)
                return r;
        r = knobs_read(k, &obtained);
        if (r < 0)
                return r;
        r = knobs_value_equal(k->def, value, obtained) ? 0 : -ENOSPC;
        if (ret_obtained)
                *ret_obtained = TAKE_PTR(obtained);
        return r;
}

/* ---- enumeration ---- */

typedef struct KnobArray {
        Knob *v;
        size_t n, allocated;
} KnobArray;

static void knob_array_done(KnobArray *a) {
        knobs_free(a->v, a->n);
}

/* Adds the instance name of def with params; names the host cannot have (a
 * device name outside our syntax, a link escaping the root) are skipped. */
static int enumerate_add(KnobArray *a, const char *root, const KnobDef *def, const KnobParams *p) {
        _cleanup_free_ char *name = NULL;
        Knob k = {};
        int r;

        r = expand(def->name, p, &name, NULL);
        if (r < 0)
                return r;
        r = knobs_resolve(root, name, &k);
        if (r == -EINVAL || r == -ENODEV || r == -ENOENT) {
                log_debug_errno(r, "Skipping knob instance %s: %m", name);
                return 0;
        }
        if (r < 0)
                return r;
        if (a->n == a->allocated) {
                size_t m = a->allocated ? a->allocated * 2 : 32;
                Knob *v = reallocarray(a->v, m, sizeof *v);

                if (!v) {
                        knob_done(&k);
                        return -ENOMEM;
                }
                a->v = v;
                a->allocated = m;
        }
        a->v[a->n++] = k;
        return 0;
}

/* Calls back for each entry of ROOT/dir named prefix + value, in version order;
 * value must be one the placeholder accepts. A missing directory has none. */
static int enumerate_dir(const char *root, const char *dir, const char *prefix, Placeholder ph,
                         int (*cb)(const char *value, void *userdata), void *userdata) {
        _cleanup_free_ char *path = NULL;
        struct dirent **list = NULL;
        size_t pl = strlen(prefix);
        int n, r = 0;

        r = detect_root_path(root, dir, &path);
        if (r < 0)
                return r;
        n = scandir(path, &list, NULL, versionsort);
        if (n < 0)
                return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
        for (int i = 0; i < n; i++) {
                bool prefixed = strncmp(list[i]->d_name, prefix, pl) == 0;
                const char *v = prefixed ? list[i]->d_name + pl : "";
                size_t len = strlen(v);

                if (r >= 0 && len > 0 && len <= IFNAME_MAX && placeholder_accepts(ph, v, len) > 0 &&
                    knobs_check_name(v) >= 0 && (ph == PH_DEV || strspn(v, "0123456789") == len))
                        r = cb(v, userdata);
                free(list[i]);
        }
        free(list);
        return r;
}

typedef struct EnumerateCtx {
        KnobArray *array;
        const char *root;
        const KnobDef *def;
        KnobParams params;
} EnumerateCtx;

static int enumerate_leaf(const char *value, void *userdata) {
        EnumerateCtx *c = userdata;

        snprintf(c->params.v[c->def->scope == KNOB_SCOPE_NODE      ? PH_NODE
                             : c->def->scope == KNOB_SCOPE_RXQUEUE ? PH_QUEUE
                                                                   : PH_DEV],
                 IFNAME_MAX + 1, "%s", value);
        return enumerate_add(c->array, c->root, c->def, &c->params);
}

static int enumerate_queues_of(const char *dev, void *userdata) {
        EnumerateCtx *c = userdata;
        _cleanup_free_ char *dir = NULL;

        snprintf(c->params.v[PH_DEV], IFNAME_MAX + 1, "%s", dev);
        if (asprintf(&dir, "sys/class/net/%s/queues", dev) < 0)
                return -ENOMEM;
        return enumerate_dir(c->root, dir, "rx-", PH_QUEUE, enumerate_leaf, c);
}

static int enumerate_def(KnobArray *a, const char *root, const KnobDef *def) {
        EnumerateCtx c = { .array = a, .root = root, .def = def };

        switch (def->scope) {
        case KNOB_SCOPE_GLOBAL:
        case KNOB_SCOPE_NETNS:
                return enumerate_add(a, root, def, &c.params);
        case KNOB_SCOPE_NODE:
                return enumerate_dir(root, "sys/devices/system/node", "node", PH_NODE, enumerate_leaf, &c);
        case KNOB_SCOPE_NETDEV:
                return enumerate_dir(root, "sys/class/net", "", PH_DEV, enumerate_leaf, &c);
        case KNOB_SCOPE_RXQUEUE:
                return enumerate_dir(root, "sys/class/net", "", PH_DEV, enumerate_queues_of, &c);
        case KNOB_SCOPE_DAMON:
                /* Directories the kernel makes on demand, most of them someone else's: a DAMON
                 * knob is listed (journal.c) once maiod holds a record of it. */
                return 0;
        default:
                return -EINVAL;
        }
}

int knobs_enumerate(const char *root, Knob **ret, size_t *ret_n) {
        _cleanup_(knob_array_done) KnobArray a = {};
        int r;

        root = root_or_slash(root);
        for (size_t i = 0; i < ELEMENTSOF(knob_defs); i++) {
                r = enumerate_def(&a, root, &knob_defs[i]);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(a.v);
        *ret_n = a.n;
        a.n = 0;
        return 0;
}
