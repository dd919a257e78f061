/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* MFLOW splitting-core assignment: a snapshot of the host read below a root (CPUs, isolation,
 * the device's interrupts, RPS and NUMA node, softirq counters) and a pure function that gives
 * each elephant its splitting cores from two snapshots, by preference with degradation,
 * priority order and hysteresis. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mflow.h"

#define MFLOW_REASON_MAX 160

typedef struct MflowCpu {
        bool online;
        bool isolated;          /* isolcpus / cpu/isolated */
        bool nohz_full;         /* cpu/nohz_full */
        bool irq;               /* in the affinity of one of the device's interrupts */
        bool rps;               /* in one of the device's rx queues' rps_cpus */
        bool latency;           /* in the cpuset of a latency-critical tenant */
        bool poller;            /* a libmaio poller CPU maiod hands out ([pools] poller_cpus): never split onto */
        int node;               /* NUMA node, -1 unknown */
        uint64_t net_rx;        /* /proc/softirqs NET_RX, cumulative */
        uint64_t softirq_ticks; /* /proc/stat cpuN softirq, cumulative */
        uint64_t total_ticks;   /* /proc/stat cpuN, all fields summed */
} MflowCpu;

typedef struct MflowSnapshot {
        unsigned n_cpus; /* CPUs 0..n_cpus-1 are described (the highest online or listed + 1) */
        MflowCpu cpus[MFLOW_MAX_CPUS];
        int dev_node;    /* the device's NUMA node, -1 unknown or none */
        unsigned n_irqs; /* interrupts found for the device */
} MflowSnapshot;

/* Reads ROOT/sys/devices/system/cpu/{online,isolated,nohz_full}, ROOT/sys/devices/system/node/
 * node*\/cpulist, ROOT/sys/class/net/DEVICE/device/numa_node and queues/rx-*\/rps_cpus,
 * ROOT/proc/interrupts with ROOT/proc/irq/N/smp_affinity_list, ROOT/proc/softirqs and
 * ROOT/proc/stat into *ret (device may be NULL: no device facts). Missing files leave their facts
 * unset; only an unreadable cpu/online is an error. Returns 0 or -errno. */
int mflow_snapshot_load(const char *root, const char *device, MflowSnapshot *ret);

/* Marks the CPUs of ROOT/sys/fs/cgroup/CGROUP/cpuset.cpus.effective (else cpuset.cpus) as a
 * latency-critical tenant's. Returns 0, -EINVAL for a cgroup path with "..", or -errno (missing
 * files: -ENOENT, nothing marked). */
int mflow_snapshot_add_latency(const char *root, const char *cgroup, MflowSnapshot *s);

/* Per-CPU softirq load in percent (0..100) between two snapshots of the same host into
 * load[0..cur->n_cpus-1]: softirq ticks over all ticks; 0 without an earlier snapshot (prev NULL)
 * or without ticks. */
void mflow_load_compute(const MflowSnapshot *prev, const MflowSnapshot *cur, double *load);

/* One elephant asking for splitting cores. */
typedef struct MflowCoreRequest {
        int priority;   /* lower is served first (a tenant's priority; unattributed flows last) */
        unsigned want;  /* cores_per_flow, 1..MFLOW_MAX_CORES */
        unsigned n_cur; /* its current cores, 0 for a new elephant */
        unsigned cur[MFLOW_MAX_CORES];
} MflowCoreRequest;

typedef struct MflowCoreAssignment {
        unsigned n; /* cores given: min(want, online CPUs) */
        unsigned cores[MFLOW_MAX_CORES];
        bool degraded;                 /* some core is not a preferred one */
        bool moved;                    /* differs from the request's current cores */
        char reason[MFLOW_REASON_MAX]; /* "" or "degraded: ..." */
} MflowCoreAssignment;

/* Assigns splitting cores to n requests, served in priority order (stable for equal priorities).
 * Poller CPUs are no candidates at all (unless every online CPU is one); among the others,
 * preferred are online CPUs that are neither isolated nor nohz_full, take none of the device's
 * interrupts or RPS work, are in no latency-critical tenant's cpuset, are on the device's NUMA node (when known) and
 * are not yet given to an earlier flow, the least loaded first. With fewer preferred CPUs than wanted, the least loaded
 * of the others fill up (isolated and nohz_full ones last), and the reason says which preference gave way. A current
 * core is kept unless it went offline, lost its preference while a preferred one is free, or its load exceeds the least
 * loaded free candidate's by more than hysteresis points. ret[i] answers reqs[i]. Returns 0, or -EINVAL (want 0 or
 * above MFLOW_MAX_CORES, no online CPU). */
int mflow_cores_assign(const MflowSnapshot *snap, const double *load, unsigned hysteresis, const MflowCoreRequest *reqs,
                       size_t n, MflowCoreAssignment *ret);

/* Online CPUs in the snapshot. */
unsigned mflow_snapshot_online(const MflowSnapshot *snap);

/* Parses a cpulist ("0-3,8,10-11") into set[0..max-1]; returns 0 or -EINVAL. */
int mflow_cpulist_parse(const char *s, bool *set, unsigned max);

/* Formats set[0..n-1] as a cpulist ("0,2-3"; "" for none) into buf. */
void mflow_cpulist_format(const bool *set, unsigned n, char *buf, size_t size);
/* Formats set[0..n-1] as a hex CPU mask in 32-bit groups separated by commas, most significant
 * first, as rps_cpus takes it ("3", "1,00000000"; "0" for none), into buf. */
void mflow_cpumask_format(const bool *set, unsigned n, char *buf, size_t size);

/* The receive queues of DEVICE: the numbers N of ROOT/sys/class/net/DEVICE/queues/rx-N, ascending,
 * into q[0..max-1]. Returns how many (0 with none), or -EINVAL for a bad device name, -ENODEV when
 * the device has no queues directory. */
int mflow_rx_queues(const char *root, const char *device, unsigned *q, size_t max);

#define MFLOW_NAPI_COMM_MAX 64 /* a kernel thread's name, with its NUL (/proc shows it whole since 6.x) */
#define MFLOW_TASK_COMM_CUT 15 /* where older kernels cut a thread's comm */

typedef struct MflowNapiThread {
        int pid;
        char comm[MFLOW_NAPI_COMM_MAX]; /* napi/DEVICE-ID (older kernels cut it at 15 characters) */
} MflowNapiThread;

/* DEVICE's threaded-NAPI kernel threads: the processes whose ROOT/proc/PID/comm is "napi/DEVICE-ID"
 * (ID decimal; a comm of exactly 15 characters, where older kernels cut it, matches when it is a
 * prefix of that name), ascending by
 * pid, into t[0..max-1]. Returns how many, or -EINVAL for a bad device name, -errno when ROOT/proc
 * cannot be read. */
int mflow_napi_threads(const char *root, const char *device, MflowNapiThread *t, size_t max);
