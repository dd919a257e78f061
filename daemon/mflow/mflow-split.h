/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Splitting cores as a scheduler resource, the pure part: the splitting cores a snapshot offers,
 * and which of a tenant's elephants its share of core slots splits. The scheduler (daemon/sched,
 * alloc_compute) decides how many slots each tenant gets; this decides which flows use them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mflow-cores.h"

/* One elephant asking to be split. */
typedef struct MflowSplitFlow {
        int64_t tenant_id; /* 0: the host's (unattributed) */
        unsigned slots;    /* core slots it takes: its device's cores_per_flow */
        bool split;        /* split now, or admitted and waiting for its mark: kept first */
        uint64_t order;    /* detection time: earlier first among the others */
} MflowSplitFlow;

/* A tenant's share in force. */
typedef struct MflowSplitShare {
        int64_t tenant_id;
        uint64_t slots;
} MflowSplitShare;

/* The CPUs a split can go to: online ones that are not poller CPUs (all online ones when every
 * one is a poller, as mflow_cores_assign() falls back). */
unsigned mflow_splitting_cores(const MflowSnapshot *snap);

/* Which flows may be split (ret[i] answers flows[i]). A tenant found in shares spends its slots
 * on its split flows first, then on the others by order (a flow that does not fit in what is left
 * is passed over; a later one asking fewer slots may fit). A tenant not in shares (the scheduler
 * has not seen its demand yet) keeps its split flows and gets no new one. With shares NULL (no
 * scheduler) every flow may be split. Pure: reads its arguments, writes ret. */
void mflow_split_select(const MflowSplitFlow *flows, size_t n, const MflowSplitShare *shares, size_t n_shares,
                        bool *ret);
