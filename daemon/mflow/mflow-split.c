// SPDX-License-Identifier: LGPL-2.1-or-later
/* Splitting cores as a scheduler resource: the pure part (mflow-split.h). */
#include "mflow-split.h"

unsigned mflow_splitting_cores(const MflowSnapshot *snap) {
        unsigned online = 0, other = 0;

        for (unsigned i = 0; i < snap->n_cpus; i++)
                if (snap->cpus[i].online) {
                        online++;
                        other += !snap->cpus[i].poller;
                }
        return other > 0 ? other : online;
}

static const MflowSplitShare *share_find(const MflowSplitShare *shares, size_t n, int64_t id) {
        for (size_t i = 0; i < n; i++)
                if (shares[i].tenant_id == id)
                        return &shares[i];
        return NULL;
}

/* Flows are considered in the key (not split, order, index): split ones first, then earlier ones. */
static bool before(const MflowSplitFlow *flows, size_t a, size_t b) {
        if (flows[a].split != flows[b].split)
                return flows[a].split;
        if (flows[a].order != flows[b].order)
                return flows[a].order < flows[b].order;
        return a < b;
}

/* The tenant's flow right after prev in that key (prev SIZE_MAX: its first), or SIZE_MAX. */
static size_t next_of(const MflowSplitFlow *flows, size_t n, int64_t id, size_t prev) {
        size_t best = SIZE_MAX;

        for (size_t i = 0; i < n; i++)
                if (flows[i].tenant_id == id && (prev == SIZE_MAX || before(flows, prev, i)) &&
                    (best == SIZE_MAX || before(flows, i, best)))
                        best = i;
        return best;
}

void mflow_split_select(const MflowSplitFlow *flows, size_t n, const MflowSplitShare *shares, size_t n_shares,
                        bool *ret) {
        for (size_t i = 0; i < n; i++)
                ret[i] = !shares || (flows[i].split && !share_find(shares, n_shares, flows[i].tenant_id));
        if (!shares)
                return;
        for (size_t i = 0; i < n_shares; i++) {
                uint64_t left = shares[i].slots;

                for (size_t k = next_of(flows, n, shares[i].tenant_id, SIZE_MAX); k != SIZE_MAX;
                     k = next_of(flows, n, shares[i].tenant_id, k)) {
                        ret[k] = flows[k].slots <= left;
                        if (ret[k])
                                left -= flows[k].slots;
                }
        }
}
