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

/* Pins every map as DIR/<map name> at load: maps already pinned there (a previous run's, with
 * their flow state) are reused, the others created and pinned. Call between open and load.
 * Returns 0 or -errno. */
int mflow_bpf_set_pin_dir(MflowBpf *m, const char *dir);
/* Whether DIR holds a previous run's pinned flow map. */
bool mflow_bpf_pins_exist(const char *dir);
/* Unpins this object's maps (the maps live on while referenced). Returns 0 or the first -errno. */
int mflow_bpf_unpin(MflowBpf *m);
/* Removes the pins maio's maps leave in DIR and DIR itself, without an object (a crashed run's).
 * Returns 0 or the first -errno (missing files are fine). */
int mflow_bpf_unpin_dir(const char *dir);

/* Attaches the XDP program in place of the program old_prog_fd refers to, atomically; -EEXIST
 * when another program is attached by then. Returns 0 or -errno. */
int mflow_bpf_attach_replace(MflowBpf *m, int ifindex, MflowXdpMode mode, int old_prog_fd);
/* The XDP program attached to ifindex: *ret_id 0 when none, *ret_mode native/generic (invalid for
 * offloaded or several). Returns 0 or -errno (-ENODEV: no such device). */
int mflow_xdp_query(int ifindex, __u32 *ret_id, MflowXdpMode *ret_mode);
/* Opens the program of id and copies its name. Returns an fd (close it) or -errno. */
int mflow_prog_get(__u32 id, char *name, size_t size);
/* Detaches the program prog_fd refers to from ifindex, only if it is still the attached one. */
int mflow_xdp_detach_prog(int ifindex, MflowXdpMode mode, int prog_fd);
/* Removes maio's tc-ingress filter from ifindex when it runs maio_tc_ingress (-EBUSY when someone
 * else's filter holds maio's handle: left alone), and the clsact qdisc with destroy_hook. */
int mflow_tc_detach_orphan(int ifindex, bool destroy_hook);
/* Marks the clsact qdisc as maio's (an adopted attachment whose first run created it), so that
 * mflow_bpf_detach() removes it; and tells whether it is. */
void mflow_bpf_own_tc_hook(MflowBpf *m);
bool mflow_bpf_tc_hook_created(const MflowBpf *m);
/* The loaded XDP program's id, 0 if unknown. */
__u32 mflow_bpf_prog_id(MflowBpf *m);
/* Calls cb for each split mark (a negative return stops and is returned). Returns 0 or -errno. */
int mflow_bpf_split_foreach(MflowBpf *m, int (*cb)(const struct mflow_key *k, const struct mflow_split *s, void *ud),
                            void *userdata);
/* Drops a flow's state, so it is counted from scratch. Returns 0, -ENOENT, or -errno. */
int mflow_bpf_flow_forget(MflowBpf *m, const struct mflow_key *key);

/* "proto src:sport > dst:dport vni N" (IPv4-mapped addresses printed as IPv4). Returns buf. */
char *mflow_key_format(const struct mflow_key *k, char *buf, size_t size);
#define MFLOW_KEY_STRING_MAX 128
