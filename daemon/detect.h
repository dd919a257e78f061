/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Feature detection at start: what this kernel offers maio. File-based facts
 * are read below a root directory (--root) so tests feed fixture trees;
 * io_uring and BPF are probed with real system calls. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

typedef struct HugepageSize {
        unsigned long size_kb;    /* 2048, 1048576, ... */
        unsigned long total;      /* nr_hugepages */
        unsigned long free;       /* free_hugepages */
} HugepageSize;

typedef struct Features {
        /* io_uring (probed, not under root) */
        bool io_uring;            /* io_uring_setup works */
        bool io_uring_sqpoll;     /* IORING_SETUP_SQPOLL accepted */
        bool io_uring_send_zc;    /* IORING_OP_SEND_ZC in the probe */
        bool io_uring_buf_ring;   /* provided-buffer ring registration works */

        /* BPF (probed) */
        bool bpf_prog_load;       /* a trivial socket filter loads */
        bool bpf_xdp;             /* XDP program type supported */

        /* DAMON: ROOT/sys/kernel/mm/damon/admin */
        bool damon_sysfs;
        unsigned damon_kdamonds;        /* nr_kdamonds */
        unsigned damon_kdamonds_running;/* state == "on" */
        unsigned damon_kdamonds_foreign;/* running and not maiod's (all of them until maiod owns any) */

        /* NUMA: ROOT/sys/devices/system/node, ROOT/sys/devices/virtual/memory_tiering */
        unsigned numa_nodes;            /* nodes in has_memory, >= 1 on a live system */
        char *numa_nodes_list;          /* "0" or "0-1" as the kernel prints it */
        char **memory_tiers;            /* "memory_tier4: nodes 0" style, NULL-terminated; NULL if none */

        /* hugepages: ROOT/sys/kernel/mm/hugepages */
        HugepageSize *hugepages;
        size_t n_hugepages;

        /* ROOT/proc/sys/kernel/numa_balancing: -1 if absent, else 0..3 */
        int numa_balancing;
        bool numa_balancing_tiering;    /* mode 2 is available (promote_rate_limit knob exists) */
} Features;

/* Fills *ret; reading failures of individual facts leave them false/0 and are
 * logged at debug. Returns 0 or -ENOMEM. Call detect_done() afterwards. */
int detect_run(const char *root, Features *ret);
void detect_done(Features *f);

/* JSON object for GET /v1/status "features". Returns NULL on OOM. */
json_object *detect_to_json(const Features *f);
