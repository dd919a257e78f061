/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The per-node hugepage reserve behind libmaio's buffer pools: tenants' grants
 * of 2 MiB pages per NUMA node, and the sizing of node.N.hugepages.2048kB
 * (through the knob journal) to what the grants need. Also /v1/maio. */
#pragma once

#include <stdint.h>
#include <stdio.h>

#include "journal.h"
#include "request.h"
#include "resource.h"
#include "sched-event.h"
#include "store.h"

/* The page size grants are counted in: the kernel's 2048 kB hugepages. */
#define POOLS_PAGE_SIZE (UINT64_C(2) * 1024 * 1024)
/* Highest node id a request may name (the kernel's MAX_NUMNODES is at most 1024). */
#define POOLS_NODE_MAX 1023

/* ---- pure: no I/O ---- */

/* The number of POOLS_PAGE_SIZE pages that hold bytes, rounded up (0 for 0).
 * Never fails. */
uint64_t pools_bytes_to_pages(uint64_t bytes);

/* What a node's hugepage knob should hold: its original while the node has no
 * grant (granted 0; headroom is kept only for nodes in use), else
 * max(original, granted + headroom), saturating instead of overflowing. The
 * pages a node had before maiod count toward its grants: maiod never takes
 * them away, and never adds pages the node already has. Never fails. */
uint64_t pools_target_pages(uint64_t original, uint64_t granted, uint64_t headroom);

/* After a partial allocation: how many of a grant's asked pages the kernel's
 * kept pages on the node cover once the other grants on it (others) and the
 * headroom are served first; between 0 and asked. Never fails. */
uint64_t pools_obtained_pages(uint64_t kept, uint64_t others, uint64_t headroom, uint64_t asked);

/* ---- the daemon ---- */

typedef struct Pools Pools;

/* What [pools] says (re-read on reload). */
typedef struct PoolsConf {
        uint64_t headroom_pages;
        uint64_t max_grant_bytes;
        const char *poller_cpus; /* [pools] poller_cpus, a cpulist ("" or NULL: none); parsed, not kept */
} PoolsConf;

/* The most poller CPUs one configuration may list. */
#define POOLS_POLLERS_MAX 1024

/* Builds the reserve over store (borrowed), sizing nodes below root through journal (borrowed).
 * Returns 0 or -ENOMEM. */
int pools_new(Store *store, const char *root, bool dry_run, Journal *journal, const PoolsConf *conf, Pools **ret);
/* Accepts NULL; returns NULL. */
Pools *pools_free(Pools *p);
static inline void pools_freep(Pools **p) {
        pools_free(*p);
}
void pools_set_conf(Pools *p, const PoolsConf *conf);

/* A tenants hook (HookFn): the removed tenant's grants went with its row; shrinks the reserve
 * and frees the poller CPU it held. */
void pools_tenant_removed(void *userdata, int64_t tenant_id);
/* A tenants hook (HookFn): the tenant's process exited, its poller thread with it: the poller CPU
 * it held is free again. */
void pools_tenant_exited(void *userdata, int64_t tenant_id);

/* At start, after journal_start() and topo_start(): forgets grants of tenants
 * that no longer exist, then sizes every node the reserve is responsible for
 * (nodes with grants, and nodes it sized before a stop or crash) to what the
 * grants need now. Failures are logged and tolerated: GET /v1/maio shows the
 * node as it is. Under a fixture root (not the live host) the environment
 * variable MAIOD_TEST_HUGEPAGES_LIMIT=NODE:PAGES makes that node's fixture
 * file keep at most PAGES, as a kernel short of memory would (test hook).
 * Returns 0, or -errno for an invalid test hook setting. */
int pools_start(Pools *p);

/* The scheduler, as the reserve sees it (both copied, their userdata borrowed; NULL: none, and
 * grants are served first come, first served as the kernel allows). sink hears
 * SCHED_EVENT_HUGEPAGES on a grant request, a release (with the grants, the tenant, its process)
 * and a change of a node's nr_hugepages or free_hugepages read by GET /v1/maio (the reserve's own
 * sizings and snapshots read them quietly). decider is asked for
 * the allocation of "hugepages" when a grant would grow a node that is short (the kernel kept fewer
 * pages than asked) or has grants waiting, and of "poller_cores" when a poller CPU is asked for and
 * none is free or tenants wait for one. */
void pools_set_scheduler(Pools *p, const EventSink *sink, const ResourceDecider *decider);

/* The two resources (base/resource.h; userdata the Pools). "hugepages", unit pages: capacity the
 * pages the reserve can give tenants on the nodes in use (a node's demand while it is not short,
 * else the pages its kernel kept minus the headroom); each tenant with grants or grants waiting
 * demands its grants' pages with each waiting grant's size in place of its node's grant, floor its
 * granted pages (mapped, never taken back). Apply grants each waiting grant the allocation covers,
 * tenants of higher priority first. "poller_cores", unit cores: capacity the configured poller
 * CPUs (-ENODEV when none are configured and none is held); demand 1 for each tenant holding one
 * (its floor: the kernel's poller thread cannot move) or waiting for one; apply hands the lowest
 * free CPU to each waiting tenant allocated one. */
int pools_hugepages_snapshot(void *userdata, ResourceSnapshot *ret);
int pools_hugepages_apply(void *userdata, const ResourceDemand *tenants, const uint64_t *alloc, size_t n);
int pools_pollers_snapshot(void *userdata, ResourceSnapshot *ret);
int pools_pollers_apply(void *userdata, const ResourceDemand *tenants, const uint64_t *alloc, size_t n);

/* Checks that every [pools] poller_cpus CPU is online (ROOT/sys/devices/system/cpu/online).
 * Returns 0, or -EINVAL with the reason in error (size bytes). pools_start() fails with it. */
int pools_check_pollers(Pools *p, char *error, size_t size);

/* The poller CPUs as GET /v1/status and /v1/maio show them: {"configured":"1,3","held":[{"cpu":1,
 * "tenant_id":3}],"free":1}. NULL without memory. */
json_object *pools_pollers_to_json(Pools *p);

/* Sizes every node the reserve is responsible for to its grants now, e.g.
 * after a tenant was removed (its grants go with it by the store's cascade).
 * by names the cause in the knob journal. Continues past failures. Returns 0
 * or the first -errno (each failure logged). */
int pools_sync(Pools *p, const char *by);

/* The reserve's counters since pools_new(), as /metrics shows them. */
typedef struct PoolsCounters {
        uint64_t partial_allocations_total; /* sizings where the kernel kept fewer pages than the grants needed */
} PoolsCounters;

/* Fills *ret with p's counters. Never fails. */
void pools_counters(const Pools *p, PoolsCounters *ret);

/* Writes maiod_maio_grant_pages{node="N"} (a gauge per host node),
 * maiod_maio_partial_allocations_total, maiod_maio_poller_cpus{state="held|free"} and
 * maiod_maio_poller_refusals_total, maiod_maio_waiting_grants and maiod_maio_poller_waiting in
 * Prometheus text. Never fails. */
void pools_metrics_write(void *userdata, FILE *f);

/* GET /v1/maio, POST /v1/tenants/{id}/maio, DELETE /v1/tenants/{id}/maio; userdata is the Pools. */
extern const FieldSet pools_grant_body;
int pools_op_list(void *userdata, const Request *req, Reply *reply);
int pools_op_grant(void *userdata, const Request *req, Reply *reply);
int pools_op_release(void *userdata, const Request *req, Reply *reply);
