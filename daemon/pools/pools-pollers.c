/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Poller CPUs: [pools] poller_cpus handed out with hugepage grants, one per tenant, and the
 * scheduler's poller_cores resource over them. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "detect.h"
#include "jsonutil.h"
#include "log.h"
#include "pools-internal.h"

bool pools_poller_waits(Pools *m, int64_t tenant_id) {
        for (size_t i = 0; i < m->n_waiting; i++)
                if (m->waiting[i] == tenant_id)
                        return true;
        return false;
}

int pools_poller_wait_add(Pools *m, int64_t tenant_id) {
        int64_t *v;

        if (pools_poller_waits(m, tenant_id))
                return 0;
        v = reallocarray(m->waiting, m->n_waiting + 1, sizeof *v);
        if (!v)
                return -ENOMEM;
        m->waiting = v;
        m->waiting[m->n_waiting++] = tenant_id;
        return 0;
}

void pools_poller_wait_drop(Pools *m, int64_t tenant_id) {
        for (size_t i = 0; i < m->n_waiting; i++)
                if (m->waiting[i] == tenant_id) {
                        memmove(&m->waiting[i], &m->waiting[i + 1], (m->n_waiting - i - 1) * sizeof *m->waiting);
                        m->n_waiting--;
                        return;
                }
}


/* ---- poller CPUs ---- */

#define CPU_ONLINE "sys/devices/system/cpu/online"

static bool poller_online(const unsigned *online, size_t n_online, unsigned cpu) {
        for (size_t i = 0; i < n_online; i++)
                if (online[i] == cpu)
                        return true;
        return false;
}

/* The host's online CPUs; -errno when cpu/online cannot be read. */
static int cpus_online(Pools *m, unsigned **ret, size_t *ret_n, char **ret_text) {
        _cleanup_free_ char *text = NULL;
        int r;

        r = detect_read_text_at(m->root, &text, CPU_ONLINE);
        if (r >= 0)
                r = detect_nodelist_parse(text, ret, ret_n);
        if (r >= 0 && ret_text)
                *ret_text = TAKE_PTR(text);
        return r;
}

int pools_check_pollers(Pools *m, char *error, size_t size) {
        _cleanup_free_ unsigned *online = NULL;
        _cleanup_free_ char *text = NULL;
        size_t n = 0;
        int r;

        if (m->n_pollers == 0)
                return 0;
        r = cpus_online(m, &online, &n, &text);
        if (r < 0) {
                snprintf(error, size, "[pools] poller_cpus: cannot read the online CPUs (%s): %s", CPU_ONLINE,
                         strerror(-r));
                return -EINVAL;
        }
        for (size_t i = 0; i < m->n_pollers; i++)
                if (!poller_online(online, n, m->pollers[i])) {
                        snprintf(error, size, "[pools] poller_cpus: CPU %u is not online (online: %s)", m->pollers[i],
                                 text);
                        return -EINVAL;
                }
        if (m->n_pollers >= n) {
                snprintf(error, size, "[pools] poller_cpus: all %zu online CPUs (%s) would be pollers; leave one", n,
                         text);
                return -EINVAL;
        }
        return 0;
}

PollerHold *pools_poller_held_by(Pools *m, int64_t tenant_id) {
        for (size_t i = 0; i < m->n_holds; i++)
                if (m->holds[i].tenant_id == tenant_id)
                        return &m->holds[i];
        return NULL;
}

bool pools_poller_cpu_held(Pools *m, unsigned cpu) {
        for (size_t i = 0; i < m->n_holds; i++)
                if (m->holds[i].cpu == cpu)
                        return true;
        return false;
}

/* The lowest configured CPU that is online and held by no tenant, now tenant_id's: the CPU, -1
 * when none is free, -ENOMEM. */
static int poller_take_free(Pools *m, int64_t tenant_id) {
        _cleanup_free_ unsigned *online = NULL;
        size_t n_online = 0;
        PollerHold *h;
        int r;

        r = cpus_online(m, &online, &n_online, NULL);
        if (r == -ENOMEM)
                return r;
        for (size_t i = 0; i < m->n_pollers; i++) {
                unsigned cpu = m->pollers[i];

                if (pools_poller_cpu_held(m, cpu) || (r >= 0 && !poller_online(online, n_online, cpu)))
                        continue;
                h = reallocarray(m->holds, m->n_holds + 1, sizeof(*m->holds));
                if (!h)
                        return -ENOMEM;
                m->holds = h;
                m->holds[m->n_holds++] = (PollerHold) { .cpu = cpu, .tenant_id = tenant_id };
                pools_poller_wait_drop(m, tenant_id);
                event(m, LOG_INFO, tenant_id, "maio-poller", "Tenant %" PRId64 " holds poller CPU %u", tenant_id, cpu);
                return (int) cpu;
        }
        return -1;
}

/* The rule (docs/maiod.conf.5.scd, libmaio(3)): a tenant holds at most one poller CPU, and asking
 * again gives the same one; otherwise the lowest configured CPU that is online and held by no
 * tenant. While one is free and nobody waits, first come first served; else the scheduler's
 * allocation of poller_cores decides (the tenant waits, and the next CPU freed goes to the waiting
 * tenant of highest priority). A held CPU is never taken back for a tenant of higher priority:
 * the kernel's poller thread cannot be moved (PF_NO_SETAFFINITY) and the tenant's ring would
 * keep polling there. Returns the CPU, or -1 with the reason; -ENOMEM. */
int pools_poller_assign(Pools *m, int64_t tenant_id, char *reason, size_t size) {
        PollerHold *h = pools_poller_held_by(m, tenant_id);
        bool waits;
        int r;

        if (h)
                return (int) h->cpu;
        if (m->n_pollers == 0) {
                snprintf(reason, size, "no poller CPUs are configured ([pools] poller_cpus)");
                return -1;
        }
        if (!m->decider.decide || m->n_waiting == 0) {
                r = poller_take_free(m, tenant_id);
                if (r != -1)
                        return r;
        }
        if (m->decider.decide) {
                r = pools_poller_wait_add(m, tenant_id);
                if (r < 0)
                        return r;
                if (m->decider.decide(m->decider.userdata, "poller_cores") < 0) {
                        r = poller_take_free(m, tenant_id); /* no decision: as without a scheduler */
                        if (r != -1)
                                return r;
                }
                h = pools_poller_held_by(m, tenant_id);
                if (h)
                        return (int) h->cpu;
        }
        waits = pools_poller_waits(m, tenant_id);
        m->poller_refusals_total++;
        size_t len = (size_t) snprintf(reason, size, "all %zu poller CPUs are held (", m->n_pollers);
        for (size_t i = 0; i < m->n_holds && len < size; i++)
                len += (size_t) snprintf(reason + len, size - len, "%sCPU %u: tenant %" PRId64, i ? ", " : "",
                                         m->holds[i].cpu, m->holds[i].tenant_id);
        if (len < size)
                snprintf(reason + len, size - len, ")%s",
                         waits ? "; waiting: a CPU freed goes to the waiting tenant of highest priority" : "");
        event(m, LOG_NOTICE, tenant_id, "maio-poller-none", "Tenant %" PRId64 " asked for a poller CPU: %s", tenant_id,
              reason);
        return -1;
}

void pools_poller_release(Pools *m, int64_t tenant_id, const char *why) {
        PollerHold *h = pools_poller_held_by(m, tenant_id);

        pools_poller_wait_drop(m, tenant_id);
        if (!h)
                return;
        event(m, LOG_INFO, tenant_id, "maio-poller-release", "Tenant %" PRId64 " gave poller CPU %u back: %s",
              tenant_id, h->cpu, why);
        *h = m->holds[--m->n_holds];
        pools_emit(m, tenant_id, SCHED_PRIORITY_HOST, 0); /* a CPU is free: who waits gets it */
}

json_object *pools_pollers_to_json(Pools *m) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object(), *held = json_object_new_array();
        char list[256] = "";
        size_t len = 0, free_n = 0;

        if (!o || !held)
                return NULL;
        for (size_t i = 0; i < m->n_pollers && len < sizeof list; i++) {
                len += (size_t) snprintf(list + len, sizeof list - len, "%s%u", i ? "," : "", m->pollers[i]);
                free_n += !pools_poller_cpu_held(m, m->pollers[i]);
        }
        for (size_t i = 0; i < m->n_holds; i++) {
                json_object *h = json_object_new_object();

                if (!h || json_add_int(h, "cpu", m->holds[i].cpu, true) < 0 ||
                    json_add_int(h, "tenant_id", m->holds[i].tenant_id, true) < 0 || json_append(held, h) < 0)
                        return NULL;
        }
        if (json_add_string(o, "configured", list) < 0 || json_add(o, "held", TAKE_PTR(held)) < 0 ||
            json_add_int(o, "free", (int64_t) free_n, true) < 0)
                return NULL;
        return TAKE_PTR(o);
}


/* ---- the scheduler's poller_cores resource ---- */

int pools_pollers_snapshot(void *userdata, ResourceSnapshot *ret) {
        Pools *m = userdata;
        _cleanup_(resource_snapshot_done) ResourceSnapshot s = {};
        size_t cap = 0;
        int r = 0;

        if (m->n_pollers == 0 && m->n_holds == 0 && m->n_waiting == 0)
                return -ENODEV;
        s.capacity = m->n_pollers;
        for (size_t i = 0; r >= 0 && i < m->n_holds; i++) {
                ResourceDemand *d = pools_demand_row(m, &s, &cap, m->holds[i].tenant_id, &r);

                if (d)
                        d->demand = d->floor = 1;
        }
        for (size_t i = 0; r >= 0 && i < m->n_waiting; i++) {
                ResourceDemand *d = pools_demand_row(m, &s, &cap, m->waiting[i], &r);

                if (d)
                        d->demand = 1;
        }
        if (r < 0)
                return r;
        if (!s.tenants && !(s.tenants = calloc(1, sizeof *s.tenants)))
                return -ENOMEM;
        *ret = s;
        s = (ResourceSnapshot) {};
        return 0;
}

int pools_pollers_apply(void *userdata, const ResourceDemand *tenants, const uint64_t *alloc, size_t n) {
        Pools *m = userdata;
        int writes = 0;

        for (size_t i = 0; i < n; i++) {
                int cpu;

                if (alloc[i] == 0 || pools_poller_held_by(m, tenants[i].tenant_id) ||
                    !pools_poller_waits(m, tenants[i].tenant_id))
                        continue;
                cpu = poller_take_free(m, tenants[i].tenant_id);
                if (cpu == -ENOMEM)
                        return cpu;
                writes += cpu >= 0; /* none free (offline): it keeps waiting */
        }
        return writes;
}
