/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* MFLOW in maiod: the XDP program on the [mflow] devices (native, else generic), its maps pinned
 * under a bpffs, attachments and pins recorded in the journal before they happen and reconciled
 * after an unclean stop, elephant and idle events from the ring buffer (an sd_event io source),
 * the flow table, splitting cores from mflow-cores.c, and the /v1/mflow and /v1/flows operations. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include <systemd/sd-event.h>

#include "conf.h"
#include "journal.h"
#include "notify.h"
#include "request.h"
#include "resource.h"
#include "sched-event.h"
#include "store.h"

typedef struct Mflow Mflow;

typedef struct MflowDeps {
        Store *store;
        Journal *journal; /* records XDP attachments, pins and maiod's bpffs mount */
        sd_event *event;
        const char *root; /* host files (CPUs, interrupts, softirqs) are read below it */
        bool dry_run;     /* nothing is loaded, attached, pinned or mounted */
} MflowDeps;

/* Builds the module (nothing loaded). Returns 0 or -ENOMEM. */
int mflow_new(const MflowDeps *deps, Mflow **ret);
/* Frees m without detaching (mflow_stop() does that); NULL is fine. Returns NULL. */
Mflow *mflow_free(Mflow *m);
static inline void mflow_freep(Mflow **m) {
        mflow_free(*m);
}

/* Where flow-elephant and flow-split notifications of attributed flows go (n may be NULL). */
void mflow_set_notifier(Mflow *m, const Notifier *n);
/* Where the ring buffer's elephant and idle events go as scheduler events (sink may be NULL). */
void mflow_set_event_sink(Mflow *m, const EventSink *sink);

/* Takes the [mflow] settings. Before mflow_start() all of them; after it the per-device defaults,
 * thresholds and the interval, applied to the attached devices (devices and bpffs need a restart). */
void mflow_set_config(Mflow *m, const Config *c);

/* After journal_start(): reconciles what an unclean stop left (adopts an attachment of a device
 * still configured, detaches the rest, says which), mounts a bpffs at [mflow] bpffs when none is
 * there, and attaches every configured device. A device that cannot be attached (missing, someone
 * else's XDP program, no BPF) is reported in GET /v1/mflow and logged, never fatal. Returns 0, or
 * -errno for a configuration it cannot run (cores_per_flow above the online CPUs). */
int mflow_start(Mflow *m);
/* Clean stop: detaches and unpins every device, unmounts a bpffs maiod mounted, forgets the records. */
void mflow_stop(Mflow *m);

/* The scheduler resource "splitting_cores" (unit: core slots), userdata the Mflow. Capacity: the
 * splitting cores of the attached devices in a split mode (online, no poller CPU, in a device's
 * "cores" when given) times [mflow] flows_per_core; demand: per tenant, cores_per_flow slots for
 * each of its elephants on such a device (unattributed flows: tenant 0, the host, priority 7);
 * -ENODEV without such a device. The snapshot re-attributes the flows first (tenants and their
 * addresses may have changed). Apply: each tenant's slots go to its split elephants first, then
 * to the others by detection; the rest are put back to pass-through with a state_reason naming
 * the scheduler. Returns the split marks written and removed. */
int mflow_splitting_snapshot(void *userdata, ResourceSnapshot *ret);
int mflow_splitting_apply(void *userdata, const ResourceDemand *tenants, const uint64_t *alloc, size_t n);

/* The maiod_mflow_* metrics (a MetricsWriteFn). */
void mflow_metrics_write(void *userdata, FILE *f);
/* Foreign XDP programs on configured devices, for the status conflicts (a JournalConflictsFn). */
void mflow_conflicts(void *userdata, json_object *array);

/* GET /v1/mflow, PUT /v1/mflow, GET /v1/flows; userdata is the Mflow. */
extern const FieldSet mflow_set_body;
int mflow_op_get(void *userdata, const Request *req, Reply *reply);
int mflow_op_set(void *userdata, const Request *req, Reply *reply);
int mflow_op_flows(void *userdata, const Request *req, Reply *reply);
