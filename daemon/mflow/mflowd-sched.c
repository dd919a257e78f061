// SPDX-License-Identifier: LGPL-2.1-or-later
/* Splitting cores as a scheduler resource ("splitting_cores", in core slots): the snapshot of
 * capacity and demands, the allocation applied, and the choice of which elephants use a tenant's
 * share (mflow_split_select()). The scheduler decides how many slots each tenant gets; MFLOW
 * decides which of its flows hold them, also between passes (an elephant, an idle flow, a stall). */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "log.h"
#include "mflowd.h"
#include "time-util.h"

#include "mflowd-internal.h"

/* The host's row: unattributed flows, after every tenant of a higher class (weight 1 in the last). */
#define HOST_PRIORITY 7u

static bool sched_wired(const Mflow *m) {
        return m->sched && m->sched->fn;
}

void mflowd_sched_kick(Mflow *m) {
        if (m->started)
                event_sink_emit(m->sched, SCHED_EVENT_FLOW, 0, SCHED_PRIORITY_HOST, 0);
}

bool mflowd_dev_splits(const Dev *d) {
        return d->attached && (d->conf.mode == MFLOW_CONF_MODE_SPLIT || d->conf.mode == MFLOW_CONF_MODE_FLOWLET ||
                               d->conf.mode == MFLOW_CONF_MODE_ADAPTIVE);
}

/* The splitting cores of the devices in a split mode: online CPUs that no such device's "cores"
 * leaves out, poller CPUs excluded. Returns 0 with none (no such device), or -errno. */
static int splitting_cores(Mflow *m, unsigned *ret) {
        MflowSnapshot s;
        bool any = false, limited = true, allowed[MFLOW_MAX_CPUS] = {};
        int r;

        for (size_t i = 0; i < m->n_devs; i++) {
                const Dev *d = m->devs[i];

                if (!mflowd_dev_splits(d))
                        continue;
                any = true;
                if (!d->conf.have_allowed)
                        limited = false;
                else
                        for (unsigned c = 0; c < MFLOW_MAX_CPUS; c++)
                                allowed[c] = allowed[c] || d->conf.allowed[c];
        }
        *ret = 0;
        if (!any)
                return 0;
        r = mflow_snapshot_load(m->root, NULL, &s);
        if (r < 0)
                return r;
        for (unsigned c = 0; c < s.n_cpus; c++) {
                if (limited && !allowed[c])
                        s.cpus[c].online = false;
                s.cpus[c].poller = m->pollers[c];
        }
        *ret = mflow_splitting_cores(&s);
        return 0;
}

/* Whether a flow asks for splitting cores: an elephant (split or not) of a device in a split mode. */
static bool flow_asks(const Flow *f) {
        return f->state != FLOW_IDLE && !f->stalled && mflowd_dev_splits(f->dev);
}

static unsigned flow_slots(const Flow *f, unsigned cores) {
        unsigned want = f->dev->conf.cores_per_flow ?: 1;

        return cores > 0 && want > cores ? cores : want;
}

static int priority_of(const Flow *f) {
        return f->tenant_id == 0        ? (int) HOST_PRIORITY
               : f->tenant_priority < 0 ? 0
               : f->tenant_priority > 7 ? 7
                                        : f->tenant_priority;
}

int mflow_splitting_snapshot(void *userdata, ResourceSnapshot *ret) {
        Mflow *m = userdata;
        ResourceSnapshot s = {};
        unsigned cores;
        int r;

        r = splitting_cores(m, &cores);
        if (r < 0)
                return r;
        if (cores == 0) {
                /* Not in use: the scheduler forgets the allocation, and so does MFLOW. */
                free(m->shares);
                m->shares = NULL;
                m->n_shares = 0;
                return -ENODEV;
        }
        /* Tenants, their priorities and addresses may have changed (the events that ask for this pass). */
        if (mflowd_flows_attribute(m))
                (void) mflowd_flows_select(m);
        s.capacity = (uint64_t) cores * (m->flows_per_core ?: 1);
        s.tenants = calloc(m->n_flows ?: 1, sizeof(*s.tenants));
        if (!s.tenants)
                return -ENOMEM;
        for (size_t i = 0; i < m->n_flows; i++) {
                const Flow *f = &m->flows[i];
                size_t k;

                if (!flow_asks(f))
                        continue;
                for (k = 0; k < s.n && s.tenants[k].tenant_id != f->tenant_id; k++)
                        ;
                if (k == s.n)
                        s.tenants[s.n++] = (ResourceDemand) {
                                .tenant_id = f->tenant_id,
                                .owner = f->tenant_id ? f->tenant_uid : 0,
                                .priority = (unsigned) priority_of(f),
                        };
                s.tenants[k].demand += flow_slots(f, cores);
        }
        *ret = s;
        return 0;
}

int mflow_splitting_apply(void *userdata, const ResourceDemand *tenants, const uint64_t *alloc, size_t n) {
        Mflow *m = userdata;
        MflowSplitShare *v = calloc(n ?: 1, sizeof(*v));

        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                v[i] = (MflowSplitShare) { tenants[i].tenant_id, alloc[i] };
        free(m->shares);
        m->shares = v;
        m->n_shares = n;
        return mflowd_flows_select(m);
}

static void reason_not_split(Flow *f, const MflowSplitShare *share, uint64_t demand) {
        char who[32];

        if (f->tenant_id)
                snprintf(who, sizeof(who), "tenant %" PRId64, f->tenant_id);
        else
                snprintf(who, sizeof(who), "the host");
        if (share)
                snprintf(f->reason, sizeof(f->reason),
                         "not split: the scheduler's splitting_cores share of %s is %" PRIu64 " of the %" PRIu64
                         " core slots its elephants ask for",
                         who, share->slots, demand);
        else
                snprintf(f->reason, sizeof(f->reason),
                         "not split: waiting for the scheduler's splitting_cores share of %s", who);
}

int mflowd_flows_select(Mflow *m) {
        static const MflowSplitShare none = {};
        _cleanup_free_ MflowSplitFlow *in = NULL;
        _cleanup_free_ size_t *idx = NULL;
        _cleanup_free_ bool *admit = NULL;
        bool assign[MFLOW_MAX_DEVICES] = {};
        unsigned cores = 0;
        size_t n = 0;
        int writes = 0;

        if (m->n_flows == 0)
                return 0;
        in = calloc(m->n_flows, sizeof(*in));
        idx = calloc(m->n_flows, sizeof(*idx));
        admit = calloc(m->n_flows, sizeof(*admit));
        if (!in || !idx || !admit)
                return -ENOMEM;
        (void) splitting_cores(m, &cores);
        for (size_t i = 0; i < m->n_flows; i++) {
                Flow *f = &m->flows[i];

                if (!flow_asks(f)) {
                        f->admitted = false;
                        continue;
                }
                in[n] = (MflowSplitFlow) { .tenant_id = f->tenant_id,
                                           .slots = flow_slots(f, cores),
                                           .split = f->state == FLOW_SPLIT || f->admitted,
                                           .order = f->detected_usec };
                idx[n++] = i;
        }
        mflow_split_select(in, n, sched_wired(m) ? (m->shares ?: &none) : NULL, m->n_shares, admit);
        for (size_t j = 0; j < n; j++) {
                Flow *f = &m->flows[idx[j]];
                const MflowSplitShare *share = NULL;
                uint64_t demand = 0;

                f->admitted = admit[j];
                if (f->admitted) {
                        if (f->state != FLOW_SPLIT)
                                for (size_t d = 0; d < m->n_devs; d++)
                                        if (m->devs[d] == f->dev)
                                                assign[d] = true;
                        continue;
                }
                if (f->state == FLOW_SPLIT) {
                        char keytext[MFLOW_KEY_STRING_MAX];

                        mflowd_flow_unsplit(f);
                        writes++;
                        mflow_key_format(&f->key, keytext, sizeof(keytext));
                        store_event_log(m->store, LOG_INFO, NULL, f->tenant_id, "mflow-assign",
                                        "MFLOW: %s on %s back to pass-through: its tenant's splitting_cores share "
                                        "went to other elephants",
                                        keytext, f->dev->name);
                }
                for (size_t k = 0; k < m->n_shares; k++)
                        if (m->shares[k].tenant_id == f->tenant_id)
                                share = &m->shares[k];
                for (size_t k = 0; k < n; k++)
                        if (in[k].tenant_id == f->tenant_id)
                                demand += in[k].slots;
                reason_not_split(f, share, demand);
        }
        for (size_t d = 0; d < m->n_devs; d++)
                if (assign[d])
                        writes += mflowd_dev_assign(m->devs[d]);
        return writes;
}
