/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Feature detection at start: what this kernel offers maio. File-based facts
 * are read below a root directory (--root) so tests feed fixture trees;
 * io_uring and BPF are probed with real system calls. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

typedef struct HugepageSize {
        unsigned long size_kb; /* 2048, 1048576, ... */
        unsigned long total;   /* nr_hugepages */
        unsigned long free;    /* free_hugepages */
} HugepageSize;

typedef struct Features {
        /* io_uring (probed, not under root) */
        bool io_uring;          /* io_uring_setup works */
        bool io_uring_sqpoll;   /* IORING_SETUP_SQPOLL accepted */
        bool io_uring_send_zc;  /* IORING_OP_SEND_ZC in the probe */
        bool io_uring_buf_ring; /* provided-buffer ring registration works */

        /* BPF (probed) */
        bool bpf_prog_load; /* a trivial socket filter loads */
        bool bpf_xdp;       /* XDP program type supported */

        /* DAMON: ROOT/sys/kernel/mm/damon/admin */
        bool damon_sysfs;
        unsigned damon_kdamonds;         /* nr_kdamonds */
        unsigned damon_kdamonds_running; /* state == "on" */
        unsigned damon_kdamonds_foreign; /* running and not maiod's (see detect_damon_set_owned()) */
        unsigned *damon_running_ids;     /* indices N of kdamonds/N that are "on", ascending;
                                          * damon_kdamonds_running entries (NULL if none) */

        /* NUMA: ROOT/sys/devices/system/node, ROOT/sys/devices/virtual/memory_tiering */
        unsigned numa_nodes;   /* nodes in has_memory, >= 1 on a live NUMA-enabled kernel */
        char *numa_nodes_list; /* "0" or "0-1" as the kernel prints it; NULL if absent/malformed */
        char **memory_tiers;   /* "memory_tier4: 0" (tier: nodelist), ascending tier number,
                                * NULL-terminated; NULL if none */

        /* hugepages: ROOT/sys/kernel/mm/hugepages, ascending size */
        HugepageSize *hugepages;
        size_t n_hugepages;

        /* ROOT/proc/sys/kernel/numa_balancing: -1 if absent or unknown, else 0..3 */
        int numa_balancing;
        bool numa_balancing_tiering; /* mode 2 is available (promote_rate_limit knob exists) */
} Features;

/* Fills *ret (root NULL or "" means "/"). A fact that cannot be read or is
 * malformed is left false/0/NULL (-1 for numa_balancing) and logged at debug;
 * it is not an error. Returns 0, or -ENOMEM with *ret untouched. Call
 * detect_done() on a filled *ret afterwards. */
int detect_run(const char *root, Features *ret);

/* Frees what *f owns and zeroes it; accepts a zeroed or half-filled Features,
 * so it works as _cleanup_(detect_done). */
void detect_done(Features *f);

/* Recomputes f->damon_kdamonds_foreign: running kdamonds whose index is not in
 * owned[0..n_owned). detect_run() calls it with no owned kdamonds; the DAMON
 * applier calls it again once maiod starts its own. Never fails. */
void detect_damon_set_owned(Features *f, const unsigned *owned, size_t n_owned);

/* JSON object for GET /v1/status "features" (schema Features in api/openapi.yaml). Returns a new
 * reference, or NULL on OOM. */
json_object *detect_to_json(const Features *f);

/* One human-readable line for the start-up log, e.g. "io_uring=yes sqpoll=yes
 * ... numa_balancing=disabled". Returns 0 and a malloc'd *ret, or -ENOMEM. */
int detect_summary(const Features *f, char **ret);

/* "disabled", "normal", "memory-tiering", "normal+memory-tiering" for 0..3,
 * "absent" for -1; NULL for anything else. */
const char *detect_numa_balancing_to_string(int mode);

/* Counts the members of a kernel cpulist/nodelist such as "0" or "0-1,3":
 * ascending, non-overlapping ranges as the kernel prints them, without spaces
 * or the trailing newline (strip that first). Returns 0 and *ret >= 1, or
 * -EINVAL for malformed input (including "", "a", "3-1", "1,0"), -ERANGE for
 * a member above 2^20. */
int detect_nodelist_count(const char *s, unsigned *ret);

/* Joins root and a relative path without doubling slashes: ("/", "sys/x") ->
 * "/sys/x", ("/t/host/", "/sys/x") -> "/t/host/sys/x". Returns 0 and a
 * malloc'd *ret, or -ENOMEM. */
int detect_root_path(const char *root, const char *rel, char **ret);

/* The members of a cpulist/nodelist, ascending, validated as detect_nodelist_count()
 * says, except that "" (an empty list, as the kernel prints e.g. an unused
 * isolated mask) is accepted. Returns 0 with a malloc'd *ret (NULL when empty)
 * and *ret_n, -EINVAL/-ERANGE for malformed input, or -ENOMEM. */
int detect_nodelist_parse(const char *s, unsigned **ret, size_t *ret_n);

/* Reads the small file ROOT/<fmt...> whole, trailing blanks and newlines
 * dropped. Returns 0 and a malloc'd *ret, or -errno (-ENOENT when absent,
 * -EFBIG above one page, -EBADMSG with a NUL byte); failures other than
 * -ENOMEM are logged at debug. */
int detect_read_text_at(const char *root, char **ret, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* As detect_read_text_at(), for a file holding one strict unsigned decimal.
 * Returns 0 and *ret, or -errno (-EINVAL/-ERANGE for a malformed number). */
int detect_read_ulong_at(const char *root, unsigned long *ret, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* The numbers N of entries "<prefix>N<suffix>" in the directory ROOT/rel,
 * ascending; a missing or unreadable directory gives an empty list. Returns 0
 * and a malloc'd *ret (NULL when empty) with *ret_n, or -ENOMEM. */
int detect_list_numbered(const char *root, const char *rel, const char *prefix, const char *suffix, unsigned long **ret,
                         size_t *ret_n);
