/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The MFLOW eBPF loader: opens and loads kernel/mflow.bpf.c's skeleton, attaches its XDP and
 * tc-ingress programs to one device, and reads and writes its maps. Not wired into the Manager yet. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

#include "mflow.h"

typedef struct MflowBpf MflowBpf;

typedef enum MflowXdpMode {
        MFLOW_XDP_NATIVE,
        MFLOW_XDP_GENERIC,
        _MFLOW_XDP_MODE_MAX,
        _MFLOW_XDP_MODE_INVALID = -EINVAL,
} MflowXdpMode;

const char *mflow_xdp_mode_to_string(MflowXdpMode m);
int mflow_xdp_mode_from_string(const char *s); /* the mode, or -EINVAL */

/* Called for each ring-buffer event; a negative return stops the poll and is returned by it. */
typedef int (*mflow_event_fn)(const struct mflow_event *e, void *userdata);

/* Fills c with the defaults (batch 256, 100 ms window, 100 Mbit/s elephants, VXLAN ports 4789 and
 * 8472, flowlet gap 1 ms, K 4, mode split). */
void mflow_conf_default(struct mflow_conf *c);

/* Opens the skeleton into *ret. Returns 0 or -errno. */
int mflow_bpf_open(MflowBpf **ret);
/* Loads the programs and maps and writes the default configuration. Returns 0, or -errno (-EPERM
 * without CAP_BPF/CAP_SYS_ADMIN, -EINVAL or -EOPNOTSUPP when the kernel refuses a program). */
int mflow_bpf_load(MflowBpf *m);
/* Detaches what this object attached (never anyone else's program) and frees it. Returns NULL. */
MflowBpf *mflow_bpf_free(MflowBpf *m);

/* Attaches the XDP program to ifindex in the given mode. Returns 0; -EBUSY when the device already
 * has an XDP program (it is left alone); -EALREADY when this object is attached; other -errno. */
int mflow_bpf_attach(MflowBpf *m, int ifindex, MflowXdpMode mode);
/* Attaches the tc-ingress reordering counter to ifindex (creating clsact if absent). Returns 0;
 * -EEXIST when a filter holds maio's handle and priority there; other -errno. */
int mflow_bpf_attach_tc(MflowBpf *m, int ifindex);
/* Detaches the XDP and tc programs this object attached, and the clsact qdisc if it created it.
 * Returns 0 or the first -errno (it still tries the rest). */
int mflow_bpf_detach(MflowBpf *m);

/* Writes the configuration. Returns 0, -EINVAL for a bad value, or -errno. */
int mflow_bpf_set_conf(MflowBpf *m, const struct mflow_conf *c);
/* Makes cpu a splitting core: a CPUMAP entry with queue size qsize running the cpumap counter.
 * Returns 0 or -errno (-EINVAL for a CPU out of range or qsize 0, -ENODEV for an offline CPU). */
int mflow_bpf_set_cpu(MflowBpf *m, unsigned cpu, unsigned qsize);
/* Marks a flow split over s->cores (each must have a CPUMAP entry). Returns 0 or -errno. */
int mflow_bpf_split(MflowBpf *m, const struct mflow_key *key, const struct mflow_split *s);
/* Removes a flow's split mark. Returns 0, -ENOENT when it had none, or -errno. */
int mflow_bpf_unsplit(MflowBpf *m, const struct mflow_key *key);

/* Reads a flow's state / reordering counters. Returns 0, -ENOENT when unknown, or -errno. */
int mflow_bpf_flow(MflowBpf *m, const struct mflow_key *key, struct mflow_state *ret);
int mflow_bpf_reorder(MflowBpf *m, const struct mflow_key *key, struct mflow_reorder *ret);
/* Reads the per-CPU counters into a new array of *ret_n entries (one per possible CPU), which the
 * caller frees. Returns 0 or -errno. */
int mflow_bpf_counters(MflowBpf *m, struct mflow_cpu_stats **ret, size_t *ret_n);

/* The ring buffer's epoll fd (readable when events wait), for an event loop. Returns fd or -errno. */
int mflow_bpf_events_fd(MflowBpf *m);
/* Consumes waiting events, waiting up to timeout_ms for the first. Returns the number consumed, or
 * the callback's negative return, or -errno. */
int mflow_bpf_events_poll(MflowBpf *m, int timeout_ms, mflow_event_fn cb, void *userdata);

/* "proto src:sport > dst:dport vni N" (IPv4-mapped addresses printed as IPv4). Returns buf. */
char *mflow_key_format(const struct mflow_key *k, char *buf, size_t size);
#define MFLOW_KEY_STRING_MAX 128
