// SPDX-License-Identifier: LGPL-2.1-or-later
/* MFLOW in maiod: devices, journaled attachments and pins, the ring buffer, the flow table, core
 * assignment, and the API. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <net/if.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "metrics.h"
#include "mflow-bpf.h"
#include "mflow-cores.h"
#include "mflow-tenants.h"
#include "mflowd.h"
#include "time-util.h"

#include "mflowd-internal.h"

const char *const flow_state_words[] = { "elephant", "split", "idle" };

const char *mflowd_mode_word(MflowConfMode mode) {
        return mflow_conf_mode_to_string(mode) ?: "?";
}

int mflow_new(const MflowDeps *deps, Mflow **ret) {
        Mflow *m = calloc(1, sizeof(*m));

        if (!m)
                return -ENOMEM;
        m->store = deps->store;
        m->journal = deps->journal;
        m->event = deps->event;
        m->dry_run = deps->dry_run;
        m->root = strdup(deps->root ?: "/");
        if (!m->root) {
                free(m);
                return -ENOMEM;
        }
        *ret = m;
        return 0;
}

static Dev *dev_free(Dev *d) {
        if (!d)
                return NULL;
        sd_event_source_disable_unref(d->ring);
        mflow_bpf_free(d->bpf);
        if (d->adopt_fd >= 0)
                close(d->adopt_fd);
        free(d->conflict);
        free(d->error);
        free(d);
        return NULL;
}

Mflow *mflow_free(Mflow *m) {
        if (!m)
                return NULL;
        sd_event_source_disable_unref(m->timer);
        for (size_t i = 0; i < m->n_devs; i++)
                dev_free(m->devs[i]);
        free(m->flows);
        free(m->shares);
        free(m->devices);
        free(m->bpffs);
        free(m->root);
        free(m);
        return NULL;
}

static void conf_to_dev(const Config *c, DevConf *d) {
        *d = (DevConf) {
                .mode = c->mflow_mode,
                .cores_per_flow = c->mflow_cores_per_flow,
                .batch = c->mflow_batch,
                .elephant_bytes_per_s = c->mflow_elephant_bytes_per_s,
                .window_ms = c->mflow_window_ms,
                .idle_ms = c->mflow_idle_ms,
                .flowlet_gap_us = c->mflow_flowlet_gap_us,
                .flowlet_k = c->mflow_flowlet_k,
        };
}

static void bpf_conf(const Mflow *m, const DevConf *d, struct mflow_conf *ret) {
        mflow_conf_default(ret);
        /* Adaptive marks name their mode and setting; SPLIT here only keeps redirects on. */
        ret->mode = d->mode == MFLOW_CONF_MODE_FLOWLET                                        ? MFLOW_MODE_FLOWLET
                    : d->mode == MFLOW_CONF_MODE_SPLIT || d->mode == MFLOW_CONF_MODE_ADAPTIVE ? MFLOW_MODE_SPLIT
                                                                                              : MFLOW_MODE_PASS;
        ret->batch = d->batch;
        ret->window_ns = (uint64_t) d->window_ms * 1000000;
        ret->elephant_rate = d->elephant_bytes_per_s;
        ret->idle_ns = (uint64_t) d->idle_ms * 1000000;
        ret->flowlet_gap_ns = (uint64_t) d->flowlet_gap_us * 1000;
        ret->flowlet_k = d->flowlet_k;
        memcpy(ret->vxlan_ports, m->ports, sizeof(ret->vxlan_ports));
}

static void dev_push_conf(Dev *d) {
        struct mflow_conf c;
        int r;

        if (!d->bpf || !d->attached)
                return;
        bpf_conf(d->m, &d->conf, &c);
        r = mflow_bpf_set_conf(d->bpf, &c);
        if (r < 0)
                log_warning_errno(r, "MFLOW: failed to write the configuration of %s: %m", d->name);
}

void mflowd_dev_switch(Dev *d, const DevConf *c);

void mflow_set_notifier(Mflow *m, const Notifier *n) {
        m->notifier = n;
}

void mflow_set_event_sink(Mflow *m, const EventSink *sink) {
        m->sched = sink;
}

/* The scheduler hears of an elephant or an idle flow: its tenant's, at its priority, or the host's. */
static void flow_sched_event(Mflow *m, const Flow *f) {
        bool mine = f && f->tenant_id;

        event_sink_emit(m->sched, SCHED_EVENT_FLOW, mine ? f->tenant_id : 0,
                        mine ? f->tenant_priority : SCHED_PRIORITY_HOST, 0);
}

/* Tells the flow's tenant's subscribers (an unattributed flow has none) of kind, with the flow as
 * GET /v1/flows lists it. */
static void flow_notify(Mflow *m, const Flow *f, NotifyKind kind) {
        if (f->tenant_id && notify_wanted(m->notifier))
                notify_event(m->notifier, kind, f->tenant_id, f->tenant_uid, mflowd_flow_json(f));
}

void mflow_set_config(Mflow *m, const Config *c) {
        conf_to_dev(c, &m->defaults);
        mflowd_adapt_conf(m, c);
        m->interval_ms = c->mflow_interval_ms;
        m->hysteresis = c->mflow_hysteresis_percent;
        m->flows_per_core = c->mflow_flows_per_core;
        m->qsize = c->mflow_cpumap_qsize;
        m->xdp = c->mflow_xdp;
        memset(m->pollers, 0, sizeof(m->pollers));
        if (mflow_cpulist_parse(c->pools_poller_cpus ?: "", m->pollers, MFLOW_MAX_CPUS) < 0)
                log_warning("MFLOW: [pools] poller_cpus=%s cannot be parsed; no CPU is excluded.",
                            c->pools_poller_cpus);
        if (!m->started) {
                char *devices = strdup(c->mflow_devices ?: ""), *bpffs = strdup(c->mflow_bpffs ?: "");
                const char *p = c->mflow_vxlan_ports ?: "";

                if (devices && bpffs) {
                        free(m->devices);
                        free(m->bpffs);
                        m->devices = devices;
                        m->bpffs = bpffs;
                } else {
                        free(devices);
                        free(bpffs);
                }
                memset(m->ports, 0, sizeof(m->ports));
                for (unsigned i = 0; i < MFLOW_MAX_PORTS && *p; i++) {
                        char *end;

                        m->ports[i] = (uint16_t) strtoul(p, &end, 10);
                        p = end + strspn(end, " ");
                }
                return;
        }
        for (size_t i = 0; i < m->n_devs; i++)
                if (!m->devs[i]->conf_set) {
                        Dev *d = m->devs[i];
                        bool allowed = d->conf.have_allowed;
                        bool set[MFLOW_MAX_CPUS];

                        memcpy(set, d->conf.allowed, sizeof(set));
                        DevConf nc;

                        conf_to_dev(c, &nc);
                        nc.have_allowed = allowed;
                        memcpy(nc.allowed, set, sizeof(set));
                        mflowd_dev_switch(d, &nc);
                }
        if (m->timer)
                (void) sd_event_source_set_time_relative(m->timer, (uint64_t) m->interval_ms * 1000);
        mflowd_sched_kick(m); /* flows_per_core and cores_per_flow shape the splitting cores */
}

/* ---- the flow table ---- */

static Flow *flow_find(Mflow *m, Dev *d, const struct mflow_key *k) {
        for (size_t i = 0; i < m->n_flows; i++)
                if (m->flows[i].dev == d && memcmp(&m->flows[i].key, k, sizeof(*k)) == 0)
                        return &m->flows[i];
        return NULL;
}

static Flow *flow_add(Mflow *m, Dev *d, const struct mflow_key *k) {
        Flow *f;

        if (m->n_flows >= MFLOW_MAX_TRACKED) {
                /* Drop the idle flow seen least recently; with none idle, refuse. */
                size_t victim = SIZE_MAX;

                for (size_t i = 0; i < m->n_flows; i++)
                        if (m->flows[i].state == FLOW_IDLE &&
                            (victim == SIZE_MAX || m->flows[i].last_usec < m->flows[victim].last_usec))
                                victim = i;
                if (victim == SIZE_MAX)
                        return NULL;
                m->flows[victim] = m->flows[--m->n_flows];
        } else {
                f = reallocarray(m->flows, m->n_flows + 1, sizeof(*f));
                if (!f)
                        return NULL;
                m->flows = f;
        }
        f = &m->flows[m->n_flows++];
        *f = (Flow) { .key = *k, .dev = d, .last_usec = now_usec(CLOCK_MONOTONIC) };
        return f;
}

static void flows_drop_dev(Mflow *m, Dev *d) {
        for (size_t i = 0; i < m->n_flows;)
                if (m->flows[i].dev == d)
                        m->flows[i] = m->flows[--m->n_flows];
                else
                        i++;
}

/* Reads the flow's live counters from the maps. */
void mflowd_flow_refresh(Flow *f) {
        struct mflow_state st;
        struct mflow_reorder ro;

        if (!f->dev->bpf)
                return;
        if (mflow_bpf_flow(f->dev->bpf, &f->key, &st) >= 0) {
                f->rate = st.rate;
                f->bytes = st.bytes;
                f->packets = st.packets;
                if (f->state == FLOW_SPLIT) {
                        f->microflows = st.microflows;
                        for (unsigned i = 0; i < MFLOW_MAX_CORES; i++)
                                f->core_packets[i] = st.core_packets[i];
                }
        }
        if (mflow_bpf_reorder(f->dev->bpf, &f->key, &ro) >= 0) {
                f->max_end = ro.max_end;
                f->segments = ro.segments;
                f->ooo_segments = ro.ooo_segments;
        }
}

/* ---- tenants ---- */

/* A tenant's addresses: the declared ones, else those of its live process's network namespace.
 * Returns false for a tenant with neither. */
static bool owner_load(Mflow *m, const Tenant *t, MflowOwner *o) {
        uint64_t start = 0;

        *o = (MflowOwner) { .tenant_id = t->id, .uid = t->uid, .priority = t->priority };
        if (t->addresses) {
                o->declared = true;
                return mflow_addrs_parse(t->addresses, &o->addrs) > 0;
        }
        /* A pid that exited (starttime 0) or was reused by another process owns nothing. */
        if (t->pid <= 0 || t->pid_starttime == 0 || mflow_pid_starttime(m->root, t->pid, &start) < 0 ||
            start != t->pid_starttime)
                return false;
        return mflow_netns_addrs(m->root, t->pid, &o->addrs) > 0;
}

bool mflowd_flows_attribute(Mflow *m) {
        _cleanup_free_ MflowOwner *owners = NULL;
        Tenant *tenants = NULL;
        size_t n = 0, k = 0;
        bool changed = false;

        if (m->n_flows == 0)
                return false;
        if (store_tenant_list(m->store, -1, &tenants, &n) < 0)
                return false; /* the flows keep their owners */
        owners = calloc(n ?: 1, sizeof(*owners));
        if (!owners) {
                tenant_list_free(tenants, n);
                return false;
        }
        for (size_t i = 0; i < n; i++)
                if (owner_load(m, &tenants[i], &owners[k]))
                        k++;
        tenant_list_free(tenants, n);
        for (size_t i = 0; i < m->n_flows; i++) {
                Flow *f = &m->flows[i];
                int o = mflow_owner_find(owners, k, &f->key);
                int64_t id = o >= 0 ? owners[o].tenant_id : 0;
                int priority = o >= 0 ? owners[o].priority : 0;

                changed = changed || id != f->tenant_id || priority != f->tenant_priority;
                f->tenant_id = id;
                f->tenant_uid = o >= 0 ? owners[o].uid : 0;
                f->tenant_priority = priority;
        }
        return changed;
}

/* ---- core assignment ---- */

static int dev_snapshot(Dev *d, MflowSnapshot *ret) {
        Tenant *tenants = NULL;
        size_t n = 0;
        int r;

        r = mflow_snapshot_load(d->m->root, d->name, ret);
        if (r < 0)
                return r;
        /* Serving tenants are the latency-critical ones: their cpusets are avoided. */
        if (store_tenant_list(d->m->store, -1, &tenants, &n) >= 0) {
                for (size_t i = 0; i < n; i++)
                        if (tenants[i].cgroup && tenants[i].workload_class &&
                            strcmp(tenants[i].workload_class, "serving") == 0)
                                (void) mflow_snapshot_add_latency(d->m->root, tenants[i].cgroup, ret);
                tenant_list_free(tenants, n);
        }
        if (d->conf.have_allowed)
                for (unsigned i = 0; i < ret->n_cpus; i++)
                        if (!d->conf.allowed[i])
                                ret->cpus[i].online = false;
        for (unsigned i = 0; i < ret->n_cpus; i++)
                ret->cpus[i].poller = d->m->pollers[i];
        return 0;
}

static unsigned online_cpus(Mflow *m) {
        MflowSnapshot s;

        if (mflow_snapshot_load(m->root, NULL, &s) < 0)
                return 0;
        return mflow_snapshot_online(&s);
}

static bool flow_mark(Flow *f, const MflowCoreAssignment *a, bool is_new) {
        Dev *d = f->dev;
        Mflow *m = d->m;
        struct mflow_split s = {
                .ncores = a->n,
        };
        char keytext[MFLOW_KEY_STRING_MAX], list[64] = "";
        size_t len = 0;
        int r;

        for (unsigned i = 0; i < a->n; i++) {
                s.cores[i] = a->cores[i];
                len += (size_t) snprintf(list + len, sizeof(list) - len, "%s%u", i ? "," : "", a->cores[i]);
        }
        if (is_new)
                f->adaptive = false; /* a new elephant starts its controller afresh */
        mflowd_flow_setting(f, &s);
        r = d->bpf ? mflow_bpf_split(d->bpf, &f->key, &s) : -EBADF;
        mflow_key_format(&f->key, keytext, sizeof(keytext));
        if (r < 0) {
                log_warning_errno(r, "MFLOW: failed to split %s on %s: %m", keytext, d->name);
                return false;
        }
        if (!is_new) {
                /* The per-slot counters restart with the new cores. */
                (void) mflow_bpf_flow_forget(d->bpf, &f->key);
                memset(f->core_packets, 0, sizeof(f->core_packets));
        }
        f->win_usec = 0; /* the per-core counters start over: so does the window */
        f->state = FLOW_SPLIT;
        f->mode = d->conf.mode;
        f->prev_usec = 0;
        f->slow = 0;
        f->n_cores = a->n;
        memcpy(f->cores, a->cores, sizeof(f->cores));
        snprintf(f->reason, sizeof(f->reason), "%s", a->reason);
        f->last_usec = now_usec(CLOCK_MONOTONIC);
        if (is_new) {
                m->splits_total++;
                flow_notify(m, f, NOTIFY_FLOW_SPLIT);
        } else
                m->moves_total++;
        store_event_log(m->store, LOG_INFO, NULL, 0, "mflow-assign", "MFLOW: %s on %s %s cores %s (%s)%s%s", keytext,
                        d->name, is_new ? "split over" : "moved to", list, mflowd_mode_word(d->conf.mode),
                        a->reason[0] ? "; " : "", a->reason);
        return true;
}

void mflowd_flow_unsplit(Flow *f) {
        if (f->dev->bpf)
                (void) mflow_bpf_unsplit(f->dev->bpf, &f->key);
        f->state = FLOW_ELEPHANT;
        f->n_cores = 0;
        f->last_usec = now_usec(CLOCK_MONOTONIC);
}

/* Gives the device's split flows and its admitted elephants waiting for cores their cores. */
int mflowd_dev_assign(Dev *d) {
        Mflow *m = d->m;
        _cleanup_free_ MflowCoreRequest *reqs = NULL;
        _cleanup_free_ MflowCoreAssignment *as = NULL;
        _cleanup_free_ Flow **fl = NULL;
        MflowSnapshot snap;
        size_t n = 0;
        int r, writes = 0;

        if (d->conf.mode != MFLOW_CONF_MODE_SPLIT && d->conf.mode != MFLOW_CONF_MODE_FLOWLET &&
            d->conf.mode != MFLOW_CONF_MODE_ADAPTIVE)
                return 0;
        if (dev_snapshot(d, &snap) < 0 || mflow_snapshot_online(&snap) == 0)
                return 0;
        reqs = calloc(m->n_flows + 1, sizeof(*reqs));
        as = calloc(m->n_flows + 1, sizeof(*as));
        fl = calloc(m->n_flows + 1, sizeof(*fl));
        if (!reqs || !as || !fl)
                return 0;
        for (size_t i = 0; i < m->n_flows; i++) {
                Flow *f = &m->flows[i];
                bool waiting = f->state == FLOW_ELEPHANT && f->admitted && !f->stalled;

                if (f->dev != d || (f->state != FLOW_SPLIT && !waiting))
                        continue;
                /* A tenant's flows by its priority, unattributed ones after them (each in detection order). */
                reqs[n] = (MflowCoreRequest) { .priority = f->tenant_id ? f->tenant_priority : 8,
                                               .want = d->conf.cores_per_flow };
                if (f->state == FLOW_SPLIT) {
                        reqs[n].n_cur = f->n_cores;
                        memcpy(reqs[n].cur, f->cores, sizeof(reqs[n].cur));
                }
                fl[n++] = f;
        }
        r = mflow_cores_assign(&snap, d->load, m->hysteresis, reqs, n, as);
        if (r < 0) {
                log_warning_errno(r, "MFLOW: core assignment on %s failed: %m", d->name);
                return 0;
        }
        for (size_t i = 0; i < n; i++) {
                bool is_new = fl[i]->state != FLOW_SPLIT;

                if ((is_new || as[i].moved) && flow_mark(fl[i], &as[i], is_new))
                        writes++;
        }
        return writes;
}

static void dev_sample(Dev *d) {
        MflowSnapshot cur;

        if (dev_snapshot(d, &cur) < 0)
                return;
        mflow_load_compute(d->have_prev ? &d->prev : NULL, &cur, d->load);
        d->prev = cur;
        d->have_prev = true;
}

/* ---- events ---- */

static int on_event(const struct mflow_event *e, void *userdata) {
        Dev *d = userdata;
        Mflow *m = d->m;
        char keytext[MFLOW_KEY_STRING_MAX];
        Flow *f;

        mflow_key_format(&e->key, keytext, sizeof(keytext));
        f = flow_find(m, d, &e->key);
        if (e->type == MFLOW_EVENT_ELEPHANT) {
                if (!f)
                        f = flow_add(m, d, &e->key);
                if (!f) {
                        log_warning("MFLOW: too many elephants tracked, ignoring %s on %s.", keytext, d->name);
                        return 0;
                }
                /* A flow split when it was detected again keeps its admission: it is marked again at once. */
                f->admitted = f->admitted && f->state == FLOW_SPLIT;
                f->state = FLOW_ELEPHANT;
                f->stalled = false;
                f->n_cores = 0;
                f->reason[0] = '\0';
                f->rate = e->rate;
                f->bytes = e->bytes;
                f->packets = e->packets;
                f->detected_usec = now_usec(CLOCK_REALTIME);
                f->detect_ms = (double) (e->ts_ns - e->first_ns) / 1e6;
                memset(f->core_packets, 0, sizeof(f->core_packets));
                m->elephants_total++;
                mflowd_flows_attribute(m);
                store_event_log(m->store, LOG_INFO, NULL, f->tenant_id, "mflow-elephant",
                                "MFLOW: elephant %s on %s at %" PRIu64 " bytes/s, %.1f ms after its first packet",
                                keytext, d->name, (uint64_t) e->rate, f->detect_ms);
                flow_notify(m, f, NOTIFY_FLOW_ELEPHANT);
                /* Split now when its tenant's share in force covers it (always without a scheduler);
                 * else when the scheduler's pass that this event arms grants it. */
                (void) mflowd_flows_select(m);
                flow_sched_event(m, f);
        } else if (e->type == MFLOW_EVENT_IDLE) {
                if (f)
                        mflowd_flow_refresh(f);
                (void) mflow_bpf_unsplit(d->bpf, &e->key);
                /* Counted from scratch when it comes back: a new elephant event. */
                (void) mflow_bpf_flow_forget(d->bpf, &e->key);
                m->idle_total++;
                if (f) {
                        f->state = FLOW_IDLE;
                        f->admitted = false;
                        f->last_usec = now_usec(CLOCK_MONOTONIC);
                        /* Its slots go to its tenant's next elephant waiting, if any. */
                        (void) mflowd_flows_select(m);
                }
                flow_sched_event(m, f);
                store_event_log(m->store, LOG_INFO, NULL, 0, "mflow-idle",
                                "MFLOW: %s on %s went idle; its splitting cores are released", keytext, d->name);
        }
        return 0;
}

static int on_ring(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Dev *d = userdata;
        int r;

        r = mflow_bpf_events_poll(d->bpf, 0, on_event, d);
        if (r < 0)
                log_warning_errno(r, "MFLOW: reading the events of %s failed: %m", d->name);
        return 0;
}

/* A split flow that stopped making progress while its packets keep coming has stalled: redirected
 * packets are being lost (e.g. on veth with TX checksum offload on, where they arrive
 * unchecksummed) and the sender only retransmits. No progress is the TCP sequence the tc counter
 * saw (segments arrive, the highest end sequence stays), or a trickle (packets at under an eighth
 * of the elephant rate) without the sequence advancing (lost packets never reach the counter). Two such timer passes
 * without a pass at full speed between them put the flow back to pass-through for good (its elephant event is not sent
 * again). A flow that simply ends sends nothing and goes idle instead. */
static void flow_check_stall(Flow *f) {
        Dev *d = f->dev;
        Mflow *m = d->m;
        uint64_t now = now_usec(CLOCK_MONOTONIC), db, dp, ds;
        char keytext[MFLOW_KEY_STRING_MAX];
        bool stuck, slow;
        double rate;

        if (f->state != FLOW_SPLIT)
                return;
        if (f->prev_usec == 0 || now <= f->prev_usec) {
                f->prev_usec = now;
                f->prev_bytes = f->bytes;
                f->prev_packets = f->packets;
                f->prev_segments = f->segments;
                f->prev_max_end = f->max_end;
                return;
        }
        /* Counters start over when a flow moves (its state is forgotten). */
        db = f->bytes >= f->prev_bytes ? f->bytes - f->prev_bytes : f->bytes;
        dp = f->packets >= f->prev_packets ? f->packets - f->prev_packets : f->packets;
        ds = f->segments >= f->prev_segments ? f->segments - f->prev_segments : 0;
        rate = (double) db * 1e6 / (double) (now - f->prev_usec);
        stuck = f->key.proto == 6 && ds > 0 && f->max_end == f->prev_max_end;
        /* A TCP flow whose highest sequence still advances is slow, not stalled (a receiver short of
         * CPU closes its window): only a flow without that progress can be a trickle. */
        slow = dp > 0 && rate * 8 < (double) d->conf.elephant_bytes_per_s &&
               !(f->key.proto == 6 && ds > 0 && f->max_end != f->prev_max_end);
        f->prev_usec = now;
        f->prev_bytes = f->bytes;
        f->prev_packets = f->packets;
        f->prev_segments = f->segments;
        f->prev_max_end = f->max_end;
        if (!stuck && rate * 8 >= (double) d->conf.elephant_bytes_per_s)
                f->slow = 0;
        else if (stuck || slow)
                f->slow++;
        if (f->slow < 2)
                return;
        mflowd_flow_unsplit(f);
        f->stalled = true;
        f->admitted = false;
        m->stalls_total++;
        snprintf(f->reason, sizeof(f->reason), "stalled after the split (%s, %.0f bytes/s): back to pass-through",
                 stuck ? "no TCP progress" : "a trickle", rate);
        mflow_key_format(&f->key, keytext, sizeof(keytext));
        store_event_log(m->store, LOG_WARNING, NULL, 0, "mflow-stall",
                        "MFLOW: %s on %s stalled after it was split (%s, %.0f bytes/s, packets still coming): back "
                        "to pass-through",
                        keytext, d->name, stuck ? "no TCP progress" : "a trickle", rate);
        (void) mflowd_flows_select(m); /* its slots go to its tenant's next elephant waiting */
        flow_sched_event(m, f);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Mflow *m = userdata;

        for (size_t i = 0; i < m->n_devs; i++) {
                Dev *d = m->devs[i];

                if (!d->attached)
                        continue;
                dev_sample(d);
                for (size_t k = 0; k < m->n_flows; k++)
                        if (m->flows[k].dev == d && m->flows[k].state != FLOW_IDLE) {
                                mflowd_flow_refresh(&m->flows[k]);
                                flow_check_stall(&m->flows[k]);
                        }
                mflowd_dev_baseline(d);
                for (size_t k = 0; k < m->n_flows; k++)
                        if (m->flows[k].dev == d)
                                mflowd_flow_adapt(&m->flows[k]);
                (void) mflowd_dev_assign(d);
        }
        (void) sd_event_source_set_time_relative(s, (uint64_t) m->interval_ms * 1000);
        return 0;
}

int mflowd_timer_start(Mflow *m) {
        int r;

        if (m->timer)
                return 0;
        r = sd_event_add_time_relative(m->event, &m->timer, CLOCK_MONOTONIC, (uint64_t) m->interval_ms * 1000, 10000,
                                       on_timer, m);
        if (r < 0)
                return log_error_errno(r, "MFLOW: cannot add the timer: %m");
        (void) sd_event_source_set_description(m->timer, "mflow-timer");
        return sd_event_source_set_enabled(m->timer, SD_EVENT_ON);
}

/* ---- attach, detach, reconcile ---- */

static int dev_record(Dev *d, const char *state) {
        _cleanup_free_ char *data = NULL;
        json_object *o = json_object_new_object();
        int r;

        if (!o)
                return -ENOMEM;
        json_object_object_add(o, "state", json_object_new_string(state));
        json_object_object_add(o, "ifindex", json_object_new_int(d->ifindex));
        json_object_object_add(o, "pins", json_object_new_string(d->pin_dir));
        json_object_object_add(o, "xdp",
                               json_object_new_string(d->attached ? mflow_xdp_mode_to_string(d->xdp) : "none"));
        json_object_object_add(o, "prog_id", json_object_new_int64(d->bpf ? mflow_bpf_prog_id(d->bpf) : 0));
        json_object_object_add(o, "clsact", json_object_new_boolean(d->bpf && mflow_bpf_tc_hook_created(d->bpf)));
        data = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
        if (!data)
                return -ENOMEM;
        r = journal_own(d->m->journal, OWN_XDP, d->name, data);
        return r;
}

static void dev_set_error(Dev *d, int r, const char *text) {
        free(d->error);
        if (asprintf(&d->error, "%s%s%s", text, r < 0 ? ": " : "", r < 0 ? strerror(-r) : "") < 0)
                d->error = NULL;
}

static int adopt_split(const struct mflow_key *k, const struct mflow_split *s, void *userdata) {
        Dev *d = userdata;
        Flow *f = flow_find(d->m, d, k) ?: flow_add(d->m, d, k);

        if (!f)
                return 0;
        f->state = FLOW_SPLIT;
        f->mode = d->conf.mode;
        f->batch = s->batch ?: d->conf.batch;
        f->gap_us = s->flowlet_gap_ns ? (unsigned) (s->flowlet_gap_ns / 1000) : d->conf.flowlet_gap_us;
        if (d->conf.mode == MFLOW_CONF_MODE_ADAPTIVE && s->mode != MFLOW_MODE_INHERIT) {
                /* The previous run's setting goes on: the rungs at or below the mark's. */
                mflow_adapt_init(&d->m->adapt, f->batch, &f->adapt);
                for (unsigned i = 0; i < d->m->adapt.n_gaps; i++)
                        if (d->m->adapt.gaps_us[i] <= f->gap_us)
                                f->adapt.gap = i;
                f->adapt.kind = s->mode == MFLOW_MODE_FLOWLET ? MFLOW_ADAPT_FLOWLET : MFLOW_ADAPT_BATCH;
                f->adapt.gaps_only = s->flowlet_k == MFLOW_FLOWLET_K_NEVER;
                f->adaptive = true;
                f->excess_ppm = -1;
                f->min_share = -1;
                snprintf(f->adapt_reason, sizeof(f->adapt_reason), "adopted from the previous run");
        }
        f->n_cores = s->ncores <= MFLOW_MAX_CORES ? s->ncores : MFLOW_MAX_CORES;
        memcpy(f->cores, s->cores, sizeof(f->cores));
        snprintf(f->reason, sizeof(f->reason), "adopted from the previous run");
        f->detected_usec = now_usec(CLOCK_REALTIME);
        mflowd_flow_refresh(f);
        return 0;
}

static void dev_detach(Dev *d, bool unpin) {
        Mflow *m = d->m;
        int r;

        d->ring = sd_event_source_disable_unref(d->ring);
        if (d->bpf) {
                r = mflow_bpf_detach(d->bpf);
                if (r < 0)
                        log_warning_errno(r, "MFLOW: detaching from %s failed: %m", d->name);
                if (unpin) {
                        r = mflow_bpf_unpin(d->bpf);
                        if (r < 0)
                                log_warning_errno(r, "MFLOW: unpinning the maps of %s failed: %m", d->name);
                        (void) rmdir(d->pin_dir);
                }
                d->bpf = mflow_bpf_free(d->bpf);
        }
        if (d->attached)
                log_info("MFLOW: detached from %s%s.", d->name, unpin ? " and unpinned its maps" : "");
        d->attached = false;
        d->tc = false;
        flows_drop_dev(m, d);
        if (unpin)
                (void) journal_disown(m->journal, OWN_XDP, d->name);
}

static int dev_attach(Dev *d) {
        Mflow *m = d->m;
        __u32 id = 0;
        MflowXdpMode cur_mode;
        char name[32] = "";
        int r;

        free(d->error);
        d->error = NULL;
        free(d->conflict);
        d->conflict = NULL;
        if (d->conf.mode == MFLOW_CONF_MODE_OFF)
                return 0;
        d->ifindex = (int) if_nametoindex(d->name);
        if (d->ifindex <= 0) {
                dev_set_error(d, 0, "no such device");
                log_warning("MFLOW: device %s does not exist; not attached.", d->name);
                return 0;
        }
        r = mflow_xdp_query(d->ifindex, &id, &cur_mode);
        if (r < 0) {
                dev_set_error(d, r, "cannot query XDP");
                return log_warning_errno(r, "MFLOW: cannot query the XDP program of %s: %m", d->name), 0;
        }
        if (id != 0 && d->adopt_fd < 0) {
                int fd = mflow_prog_get(id, name, sizeof(name));

                if (fd >= 0)
                        close(fd);
                if (asprintf(&d->conflict, "XDP program %u (%s) attached by someone else", id, name[0] ? name : "?") <
                    0)
                        d->conflict = NULL;
                store_event_log(m->store, LOG_WARNING, NULL, 0, "mflow-conflict",
                                "MFLOW: %s already runs XDP program %u (%s), which is not maiod's; left alone.",
                                d->name, id, name[0] ? name : "?");
                return 0;
        }
        if ((size_t) snprintf(d->pin_dir, sizeof(d->pin_dir), "%s/%s", m->bpffs, d->name) >= sizeof(d->pin_dir))
                return dev_set_error(d, -ENAMETOOLONG, "pin path"), 0;
        if (mkdir(d->pin_dir, 0700) < 0 && errno != EEXIST) {
                r = -errno;
                dev_set_error(d, r, "cannot create the pin directory");
                return log_warning_errno(r, "MFLOW: cannot create %s: %m", d->pin_dir), 0;
        }

        r = mflow_bpf_open(&d->bpf);
        if (r >= 0)
                r = mflow_bpf_set_pin_dir(d->bpf, d->pin_dir);
        /* Journaled before the pins are made (at load) and before the attach. */
        if (r >= 0)
                r = dev_record(d, "pending");
        if (r >= 0)
                r = mflow_bpf_load(d->bpf);
        if (r < 0) {
                dev_set_error(d, r, "cannot load the BPF programs");
                log_warning_errno(r, "MFLOW: cannot load the BPF programs for %s: %m", d->name);
                d->bpf = mflow_bpf_free(d->bpf);
                (void) mflow_bpf_unpin_dir(d->pin_dir);
                (void) journal_disown(m->journal, OWN_XDP, d->name);
                return 0;
        }
        {
                struct mflow_conf c;

                bpf_conf(m, &d->conf, &c);
                (void) mflow_bpf_set_conf(d->bpf, &c);
        }
        (void) dev_record(d, "pending");

        if (d->adopt_fd >= 0) {
                r = mflow_bpf_attach_replace(d->bpf, d->ifindex, d->adopt_mode, d->adopt_fd);
                if (r >= 0) {
                        d->xdp = d->adopt_mode;
                        store_event_log(m->store, LOG_NOTICE, NULL, 0, "mflow-reconcile",
                                        "MFLOW: adopted the previous run's %s XDP attachment on %s and its pinned "
                                        "flow state.",
                                        mflow_xdp_mode_to_string(d->xdp), d->name);
                        m->adopted_total++;
                        (void) mflow_tc_detach_orphan(d->ifindex, false);
                        if (d->adopt_clsact)
                                mflow_bpf_own_tc_hook(d->bpf);
                }
                close(d->adopt_fd);
                d->adopt_fd = -EBADF;
        } else {
                d->xdp = m->xdp == MFLOW_CONF_XDP_GENERIC ? MFLOW_XDP_GENERIC : MFLOW_XDP_NATIVE;
                r = mflow_bpf_attach(d->bpf, d->ifindex, d->xdp);
                if (r < 0 && r != -EBUSY && m->xdp == MFLOW_CONF_XDP_AUTO) {
                        log_info_errno(r, "MFLOW: native XDP on %s refused (%m); trying generic XDP.", d->name);
                        r = mflow_bpf_attach(d->bpf, d->ifindex, MFLOW_XDP_GENERIC);
                        d->xdp = MFLOW_XDP_GENERIC;
                }
        }
        if (r < 0) {
                dev_set_error(d, r, "cannot attach XDP");
                log_warning_errno(r, "MFLOW: cannot attach XDP to %s: %m", d->name);
                d->bpf = mflow_bpf_free(d->bpf);
                (void) mflow_bpf_unpin_dir(d->pin_dir);
                (void) journal_disown(m->journal, OWN_XDP, d->name);
                return 0;
        }
        d->attached = true;
        r = mflow_bpf_attach_tc(d->bpf, d->ifindex);
        if (r == -EEXIST)
                r = mflow_tc_detach_orphan(d->ifindex, false) >= 0 ? mflow_bpf_attach_tc(d->bpf, d->ifindex) : r;
        d->tc = r >= 0;
        if (r < 0)
                log_warning_errno(r, "MFLOW: no tc reordering counter on %s (%m); continuing without it.", d->name);
        (void) dev_record(d, "attached");

        /* Every online CPU gets its CPUMAP entry: a split mark may then name any of them. */
        if (mflow_snapshot_load(m->root, NULL, &d->prev) >= 0)
                for (unsigned cpu = 0; cpu < d->prev.n_cpus; cpu++)
                        if (d->prev.cpus[cpu].online) {
                                r = mflow_bpf_set_cpu(d->bpf, cpu, m->qsize);
                                if (r < 0)
                                        log_debug_errno(r, "MFLOW: no CPUMAP entry for CPU %u: %m", cpu);
                        }
        d->have_prev = false;
        r = sd_event_add_io(m->event, &d->ring, mflow_bpf_events_fd(d->bpf), EPOLLIN, on_ring, d);
        if (r < 0)
                log_warning_errno(r, "MFLOW: cannot watch the events of %s: %m", d->name);
        else
                (void) sd_event_source_set_description(d->ring, "mflow-events");
        (void) mflow_bpf_split_foreach(d->bpf, adopt_split, d);
        dev_sample(d);
        log_info("MFLOW: attached to %s in %s XDP mode (%s), maps pinned in %s.", d->name,
                 mflow_xdp_mode_to_string(d->xdp), mflowd_mode_word(d->conf.mode), d->pin_dir);
        return 0;
}

/* ---- the knob-only modes: rps and napi-threaded ---- */

bool mflowd_mode_is_knob(MflowConfMode mode) {
        return mode == MFLOW_CONF_MODE_RPS || mode == MFLOW_CONF_MODE_NAPI_THREADED;
}

/* Whether pid is still the kernel thread comm: below the root, and (with a root of its own, whose
 * pids may name nothing real) in this host's /proc too, so no other process is ever touched. */
static bool napi_thread_alive(Mflow *m, int pid, const char *comm) {
        MflowNapiThread t[MFLOW_MAX_NAPI];
        char dev[IF_NAMESIZE + 8];
        const char *dash;
        int n;

        if (strncmp(comm, "napi/", 5) != 0 || !(dash = strrchr(comm, '-')) || dash <= comm + 5)
                return false;
        snprintf(dev, sizeof(dev), "%.*s", (int) (dash - comm - 5), comm + 5);
        for (int pass = 0; pass < (strcmp(m->root, "/") == 0 ? 1 : 2); pass++) {
                bool found = false;

                n = mflow_napi_threads(pass == 0 ? m->root : "/", dev, t, ELEMENTSOF(t));
                for (int i = 0; i < n; i++)
                        found = found || (t[i].pid == pid && strcmp(t[i].comm, comm) == 0);
                if (!found)
                        return false;
        }
        return true;
}

/* Puts a NAPI thread's affinity back to the cpulist prev (if it still exists) and forgets the record. */
static void napi_restore(Mflow *m, int pid, const char *comm, const char *prev, const char *why) {
        char name[16];
        bool set[MFLOW_MAX_CPUS] = {};
        cpu_set_t cs;

        snprintf(name, sizeof(name), "%d", pid);
        if (!napi_thread_alive(m, pid, comm))
                log_info("MFLOW: %s: NAPI thread %d (%s) is gone, nothing to restore.", why, pid, comm);
        else if (mflow_cpulist_parse(prev, set, MFLOW_MAX_CPUS) < 0)
                log_warning("MFLOW: %s: bad recorded affinity '%s' of NAPI thread %d, leaving it.", why, prev, pid);
        else {
                CPU_ZERO(&cs);
                for (unsigned i = 0; i < MFLOW_MAX_CPUS; i++)
                        if (set[i])
                                CPU_SET(i, &cs);
                if (sched_setaffinity(pid, sizeof(cs), &cs) < 0)
                        log_warning_errno(errno, "MFLOW: %s: restoring the affinity of NAPI thread %d (%s) failed: %m",
                                          why, pid, comm);
                else
                        store_event_log(m->store, LOG_INFO, NULL, 0, "mflow-napi-restored",
                                        "MFLOW: %s: NAPI thread %d (%s) back on CPUs %s", why, pid, comm, prev);
        }
        (void) journal_disown(m->journal, OWN_NAPI, name);
}

/* The records of NAPI threads left by a run that did not stop cleanly: each thread still there gets
 * its recorded affinity back. */
static void napi_reconcile(Mflow *m) {
        char **names = NULL, **data = NULL;
        size_t n = 0;

        if (journal_owned_list(m->journal, OWN_NAPI, &names, &data, &n) < 0)
                return;
        for (size_t i = 0; i < n; i++) {
                json_object *o = json_tokener_parse(data[i]), *v;
                const char *comm = o && json_object_object_get_ex(o, "comm", &v) ? json_object_get_string(v) : "";
                const char *prev = o && json_object_object_get_ex(o, "prev", &v) ? json_object_get_string(v) : "";

                napi_restore(m, atoi(names[i]), comm ?: "", prev ?: "", "reconcile");
                json_object_put(o);
        }
        store_strv_free(names, n);
        store_strv_free(data, n);
}

/* Undoes what dev_knobs_apply() wrote: thread affinities first, then the knobs through the journal. */
static void dev_knobs_release(Dev *d) {
        Mflow *m = d->m;

        for (size_t i = 0; i < d->n_napi; i++) {
                char name[16];
                char **names = NULL, **data = NULL;
                size_t n = 0;

                snprintf(name, sizeof(name), "%d", d->napi[i].pid);
                if (journal_owned_list(m->journal, OWN_NAPI, &names, &data, &n) >= 0) {
                        for (size_t k = 0; k < n; k++)
                                if (strcmp(names[k], name) == 0) {
                                        json_object *o = json_tokener_parse(data[k]), *v;
                                        const char *prev = o && json_object_object_get_ex(o, "prev", &v)
                                                                   ? json_object_get_string(v)
                                                                   : "";

                                        napi_restore(m, d->napi[i].pid, d->napi[i].comm, prev ?: "", d->name);
                                        json_object_put(o);
                                }
                        store_strv_free(names, n);
                        store_strv_free(data, n);
                }
        }
        d->n_napi = 0;
        for (size_t i = d->n_knob_names; i-- > 0;) {
                _cleanup_free_ char *error = NULL;
                int r = journal_restore(m->journal, d->knob_names[i], false, &error);

                if (r < 0)
                        log_warning("MFLOW: restoring %s failed: %s", d->knob_names[i], error ?: strerror(-r));
                free(d->knob_names[i]);
        }
        if (d->knobs_on)
                log_info("MFLOW: %s: the %s knobs are restored.", d->name, mflowd_mode_word(d->conf.mode));
        d->n_knob_names = 0;
        d->knobs_on = false;
        d->n_knob_cores = 0;
        d->knob_value[0] = '\0';
}

static int dev_knob_set(Dev *d, const char *name, const char *value) {
        _cleanup_free_ char *error = NULL;
        char *copy;
        int r;

        if (d->n_knob_names >= ELEMENTSOF(d->knob_names))
                return dev_set_error(d, -E2BIG, "too many knobs"), -E2BIG;
        copy = strdup(name);
        if (!copy)
                return -ENOMEM;
        /* Remembered before the write: a partial or failed write still has a record to restore. */
        d->knob_names[d->n_knob_names++] = copy;
        r = journal_set(d->m->journal, name, value, KNOB_BY, &error);
        if (r < 0) {
                free(d->error);
                if (asprintf(&d->error, "%s", error ?: strerror(-r)) < 0)
                        d->error = NULL;
                log_warning("MFLOW: %s: %s", d->name, error ?: strerror(-r));
        }
        return r;
}

/* rps: every rx queue's rps_cpus gets the splitting cores; napi-threaded: threaded NAPI on and its
 * threads pinned to them. The cores come from mflow_cores_assign() for one flow of cores_per_flow;
 * no XDP program is attached (nothing per flow needs to be seen). */
static int dev_knobs_apply(Dev *d) {
        Mflow *m = d->m;
        MflowSnapshot snap;
        MflowCoreRequest req = { .want = d->conf.cores_per_flow };
        MflowCoreAssignment a;
        double load[MFLOW_MAX_CPUS] = {};
        bool set[MFLOW_MAX_CPUS] = {};
        char list[64];
        int r;

        free(d->error);
        d->error = NULL;
        free(d->conflict);
        d->conflict = NULL;
        if (if_nametoindex(d->name) == 0) {
                dev_set_error(d, 0, "no such device");
                log_warning("MFLOW: device %s does not exist; its knobs are not written.", d->name);
                return 0;
        }
        r = dev_snapshot(d, &snap);
        if (r >= 0 && d->have_prev)
                mflow_load_compute(&d->prev, &snap, load);
        if (r >= 0)
                r = mflow_cores_assign(&snap, load, m->hysteresis, &req, 1, &a);
        if (r < 0)
                return dev_set_error(d, r, "cannot choose the cores"), 0;
        for (unsigned i = 0; i < a.n; i++)
                set[a.cores[i]] = true;
        d->n_knob_cores = a.n;
        memcpy(d->knob_cores, a.cores, sizeof(d->knob_cores));
        mflow_cpulist_format(set, MFLOW_MAX_CPUS, list, sizeof(list));

        if (d->conf.mode == MFLOW_CONF_MODE_RPS) {
                unsigned q[MFLOW_MAX_QUEUES];
                int n = mflow_rx_queues(m->root, d->name, q, ELEMENTSOF(q));

                if (n <= 0) {
                        dev_set_error(d, n < 0 ? n : -ENOENT, "no receive queues");
                        return 0;
                }
                mflow_cpumask_format(set, MFLOW_MAX_CPUS, d->knob_value, sizeof(d->knob_value));
                for (int i = 0; i < n; i++) {
                        char name[64];

                        snprintf(name, sizeof(name), "net.%s.rx.%u.rps_cpus", d->name, q[i]);
                        r = dev_knob_set(d, name, d->knob_value);
                        if (r < 0) {
                                dev_knobs_release(d);
                                return 0;
                        }
                }
        } else {
                char name[64];

                snprintf(d->knob_value, sizeof(d->knob_value), "1");
                snprintf(name, sizeof(name), "net.%s.threaded", d->name);
                r = dev_knob_set(d, name, "1");
                if (r >= 0) {
                        int n = mflow_napi_threads(m->root, d->name, d->napi, ELEMENTSOF(d->napi));

                        d->n_napi = n > 0 ? (size_t) n : 0;
                        if (n < 0) {
                                r = n;
                                dev_set_error(d, r, "cannot list the NAPI threads");
                        } else if (n == 0) {
                                r = -ENOENT;
                                dev_set_error(d, 0,
                                              "threaded NAPI is on but the device has no NAPI threads (a veth has "
                                              "NAPI only with GRO or XDP on)");
                        }
                }
                for (size_t i = 0; r >= 0 && i < d->n_napi; i++) {
                        MflowNapiThread *t = &d->napi[i];
                        bool prev[MFLOW_MAX_CPUS] = {};
                        char pidname[16], prevlist[256], *data = NULL;
                        cpu_set_t cs;

                        if (!napi_thread_alive(m, t->pid, t->comm)) {
                                r = -ESRCH;
                                dev_set_error(d, r, "a NAPI thread is not a live thread of this host");
                                break;
                        }
                        CPU_ZERO(&cs);
                        if (sched_getaffinity(t->pid, sizeof(cs), &cs) < 0) {
                                r = -errno;
                                dev_set_error(d, r, "cannot read a NAPI thread's affinity");
                                break;
                        }
                        for (unsigned c = 0; c < MFLOW_MAX_CPUS; c++)
                                prev[c] = CPU_ISSET(c, &cs);
                        mflow_cpulist_format(prev, MFLOW_MAX_CPUS, prevlist, sizeof(prevlist));
                        snprintf(pidname, sizeof(pidname), "%d", t->pid);
                        if (asprintf(&data, "{\"device\":\"%s\",\"comm\":\"%s\",\"prev\":\"%s\",\"set\":\"%s\"}",
                                     d->name, t->comm, prevlist, list) < 0)
                                return -ENOMEM;
                        /* The previous mask is durable before the thread is moved. */
                        r = journal_own(m->journal, OWN_NAPI, pidname, data);
                        free(data);
                        if (r < 0) {
                                dev_set_error(d, r, "cannot record a NAPI thread's affinity");
                                break;
                        }
                        CPU_ZERO(&cs);
                        for (unsigned c = 0; c < a.n; c++)
                                CPU_SET(a.cores[c], &cs);
                        if (sched_setaffinity(t->pid, sizeof(cs), &cs) < 0) {
                                r = -errno;
                                (void) journal_disown(m->journal, OWN_NAPI, pidname);
                                dev_set_error(d, r, "cannot set a NAPI thread's affinity");
                                d->n_napi = i; /* the ones before were moved */
                                break;
                        }
                }
                if (r < 0) {
                        log_warning("MFLOW: %s: napi-threaded not applied: %s", d->name, d->error ?: "?");
                        dev_knobs_release(d);
                        return 0;
                }
        }
        d->knobs_on = true;
        store_event_log(m->store, LOG_INFO, NULL, 0, "mflow-knobs", "MFLOW: %s in %s mode: %s on CPUs %s%s%s", d->name,
                        mflowd_mode_word(d->conf.mode),
                        d->conf.mode == MFLOW_CONF_MODE_RPS ? "rps_cpus of every rx queue" : "NAPI threads", list,
                        a.reason[0] ? "; " : "", a.reason);
        log_info("MFLOW: %s in %s mode on CPUs %s (no XDP).", d->name, mflowd_mode_word(d->conf.mode), list);
        return 0;
}

Dev *mflowd_dev_find(Mflow *m, const char *name) {
        for (size_t i = 0; i < m->n_devs; i++)
                if (strcmp(m->devs[i]->name, name) == 0)
                        return m->devs[i];
        return NULL;
}

Dev *mflowd_dev_new(Mflow *m, const char *name) {
        Dev *d;

        if (m->n_devs >= MFLOW_MAX_DEVICES || strlen(name) >= IF_NAMESIZE)
                return NULL;
        d = calloc(1, sizeof(*d));
        if (!d)
                return NULL;
        d->m = m;
        snprintf(d->name, sizeof(d->name), "%s", name);
        d->conf = m->defaults;
        d->adopt_fd = -EBADF;
        m->devs[m->n_devs++] = d;
        return d;
}

static bool is_bpffs(const char *path) {
        struct statfs sf;

        return statfs(path, &sf) == 0 && sf.f_type == BPF_FS_MAGIC;
}

static int mkdir_parents(const char *path) {
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = '\0';
                if (mkdir(p, 0755) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        if (mkdir(p, 0700) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

static int bpffs_prepare(Mflow *m) {
        char **names = NULL, **data = NULL;
        size_t n = 0;
        int r;

        if (journal_owned_list(m->journal, OWN_BPFFS, &names, &data, &n) >= 0) {
                for (size_t i = 0; i < n; i++)
                        if (strcmp(names[i], m->bpffs) == 0 && is_bpffs(m->bpffs)) {
                                m->bpffs_mounted = true; /* a crashed run mounted it: ours to unmount */
                                log_notice("MFLOW: adopting the bpffs the previous run mounted at %s.", m->bpffs);
                        } else
                                (void) journal_disown(m->journal, OWN_BPFFS, names[i]);
                store_strv_free(names, n);
                store_strv_free(data, n);
        }
        if (m->bpffs_mounted)
                return 0;
        r = mkdir_parents(m->bpffs);
        if (r < 0)
                return log_error_errno(r, "MFLOW: cannot create %s: %m", m->bpffs);
        if (is_bpffs(m->bpffs))
                return 0; /* mounted there or above: pins go into it */
        r = journal_own(m->journal, OWN_BPFFS, m->bpffs, "mounted");
        if (r < 0)
                return r;
        if (mount("bpf", m->bpffs, "bpf", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700") < 0) {
                r = -errno;
                (void) journal_disown(m->journal, OWN_BPFFS, m->bpffs);
                return log_error_errno(r, "MFLOW: cannot mount a bpffs at %s: %m", m->bpffs);
        }
        m->bpffs_mounted = true;
        log_info("MFLOW: mounted a bpffs at %s.", m->bpffs);
        return 0;
}

/* After an unclean stop (or whenever records are left): each recorded device is adopted when it is
 * still configured, its program is maiod's and its pins are there; otherwise detached and unpinned. */
static void reconcile(Mflow *m) {
        char **names = NULL, **data = NULL;
        size_t n = 0;

        if (journal_owned_list(m->journal, OWN_XDP, &names, &data, &n) < 0)
                return;
        for (size_t i = 0; i < n; i++) {
                json_object *o = json_tokener_parse(data[i]), *v;
                const char *pins = o && json_object_object_get_ex(o, "pins", &v) ? json_object_get_string(v) : NULL;
                bool clsact = o && json_object_object_get_ex(o, "clsact", &v) && json_object_get_boolean(v);
                int ifindex = (int) if_nametoindex(names[i]);
                Dev *d = mflowd_dev_find(m, names[i]);
                MflowXdpMode mode = _MFLOW_XDP_MODE_INVALID;
                char name[32] = "";
                __u32 id = 0;
                int fd = -EBADF;

                if (ifindex > 0 && mflow_xdp_query(ifindex, &id, &mode) >= 0 && id != 0) {
                        fd = mflow_prog_get(id, name, sizeof(name));
                        if (fd >= 0 && strcmp(name, "maio_xdp") != 0) {
                                close(fd);
                                fd = -EBADF;
                        }
                }
                if (fd >= 0 && d && d->conf.mode != MFLOW_CONF_MODE_OFF && pins && mflow_bpf_pins_exist(pins) &&
                    mode >= 0 && strncmp(pins, m->bpffs, strlen(m->bpffs)) == 0) {
                        d->adopt_fd = fd;
                        d->adopt_mode = mode;
                        d->adopt_clsact = clsact;
                        log_notice("MFLOW: reconcile: adopting maiod's XDP program %u on %s (%s) with the flow state "
                                   "pinned in %s.",
                                   id, names[i], mflow_xdp_mode_to_string(mode), pins);
                } else {
                        const char *what = fd >= 0 ? "detached maiod's XDP program" : "no maiod XDP program left";

                        if (fd >= 0) {
                                (void) mflow_xdp_detach_prog(ifindex, mode, fd);
                                close(fd);
                        }
                        if (ifindex > 0)
                                (void) mflow_tc_detach_orphan(ifindex, clsact);
                        if (pins)
                                (void) mflow_bpf_unpin_dir(pins);
                        m->detached_total++;
                        store_event_log(m->store, LOG_NOTICE, NULL, 0, "mflow-reconcile",
                                        "MFLOW: reconcile: %s on %s (%s) and removed its pins%s%s.", what, names[i],
                                        d ? "device still configured" : "device no longer configured",
                                        pins ? " in " : "", pins ?: "");
                        (void) journal_disown(m->journal, OWN_XDP, names[i]);
                }
                json_object_put(o);
        }
        store_strv_free(names, n);
        store_strv_free(data, n);
}

int mflowd_bpffs_prepare_once(Mflow *m) {
        int r;

        if (m->bpffs_ready)
                return 0;
        r = bpffs_prepare(m);
        if (r >= 0)
                m->bpffs_ready = true;
        return r;
}

/* What the XDP modes need once: the bpffs for the pins (only when a device runs one). */
static int xdp_prepare(Mflow *m) {
        for (size_t i = 0; i < m->n_devs; i++)
                if (!mflowd_mode_is_knob(m->devs[i]->conf.mode) && m->devs[i]->conf.mode != MFLOW_CONF_MODE_OFF)
                        return mflowd_bpffs_prepare_once(m);
        return 0;
}

/* Moves d to the settings c: the knob modes' knobs are restored when the mode or the cores change,
 * an XDP attachment goes for a knob mode or off, and the new mode is applied. */
void mflowd_dev_switch(Dev *d, const DevConf *c) {
        bool knob = mflowd_mode_is_knob(c->mode);
        bool reattach = (c->mode == MFLOW_CONF_MODE_OFF) != (d->conf.mode == MFLOW_CONF_MODE_OFF) || !d->attached;

        if (d->knobs_on &&
            (c->mode != d->conf.mode || c->cores_per_flow != d->conf.cores_per_flow ||
             c->have_allowed != d->conf.have_allowed || memcmp(c->allowed, d->conf.allowed, sizeof(c->allowed)) != 0))
                dev_knobs_release(d);
        if (c->mode == MFLOW_CONF_MODE_OFF || (knob && (d->attached || d->bpf)))
                dev_detach(d, true);
        d->conf = *c;
        if (knob) {
                if (!d->knobs_on)
                        (void) dev_knobs_apply(d);
        } else if (c->mode == MFLOW_CONF_MODE_OFF) {
                free(d->error);
                d->error = NULL;
        } else if (reattach) {
                int r = xdp_prepare(d->m);

                if (r < 0)
                        dev_set_error(d, r, "no bpffs for the pins");
                else
                        (void) dev_attach(d);
        } else {
                Mflow *m = d->m;

                dev_push_conf(d);
                /* Out of a split mode: the marks go (the flows stay tracked, unsplit). Between split,
                 * flowlet and adaptive: each mark takes the new mode (adaptive flows start their
                 * controller, the others follow the device again). */
                for (size_t i = 0; i < m->n_flows; i++) {
                        Flow *f = &m->flows[i];

                        if (f->dev != d || f->state != FLOW_SPLIT)
                                continue;
                        if (c->mode == MFLOW_CONF_MODE_PASS) {
                                mflowd_flow_unsplit(f);
                                f->admitted = false;
                        } else {
                                f->mode = c->mode;
                                if (c->mode != MFLOW_CONF_MODE_ADAPTIVE)
                                        f->adaptive = false;
                                (void) mflowd_flow_remark(f);
                        }
                }
        }
        mflowd_sched_kick(d->m); /* its elephants' demand and the splitting cores may have changed */
}

int mflow_start(Mflow *m) {
        unsigned online;
        int r;

        m->started = true;
        if (!m->devices || !m->devices[0]) {
                /* Still reconcile what a crashed run with devices left behind. */
                reconcile(m);
                napi_reconcile(m);
                return 0;
        }
        if (m->dry_run) {
                log_notice("MFLOW: dry run, nothing is attached to %s.", m->devices);
                return 0;
        }
        online = online_cpus(m);
        if (online > 0 && m->defaults.cores_per_flow > online)
                return log_error_errno(-EINVAL, "[mflow] cores_per_flow = %u is more than the %u online CPUs.",
                                       m->defaults.cores_per_flow, online);
        {
                _cleanup_free_ char *copy = strdup(m->devices);

                if (!copy)
                        return -ENOMEM;
                for (char *save = NULL, *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
                        if (!mflowd_dev_find(m, tok) && !mflowd_dev_new(m, tok))
                                return -ENOMEM;
        }
        reconcile(m);
        napi_reconcile(m);
        for (size_t i = 0; i < m->n_devs; i++)
                if (mflowd_mode_is_knob(m->devs[i]->conf.mode))
                        (void) dev_knobs_apply(m->devs[i]);
        r = xdp_prepare(m);
        for (size_t i = 0; i < m->n_devs; i++)
                if (!mflowd_mode_is_knob(m->devs[i]->conf.mode)) {
                        if (r < 0)
                                dev_set_error(m->devs[i], r, "no bpffs for the pins");
                        else
                                (void) dev_attach(m->devs[i]);
                }
        mflowd_sched_kick(m);
        if (r < 0)
                return 0;
        return mflowd_timer_start(m);
}

void mflow_stop(Mflow *m) {
        m->timer = sd_event_source_disable_unref(m->timer);
        for (size_t i = 0; i < m->n_devs; i++) {
                dev_knobs_release(m->devs[i]);
                dev_detach(m->devs[i], true);
        }
        if (m->bpffs_mounted) {
                if (umount2(m->bpffs, MNT_DETACH) < 0)
                        log_warning_errno(errno, "MFLOW: cannot unmount the bpffs at %s: %m", m->bpffs);
                else {
                        log_info("MFLOW: unmounted the bpffs at %s.", m->bpffs);
                        (void) rmdir(m->bpffs);
                }
                m->bpffs_mounted = false;
                (void) journal_disown(m->journal, OWN_BPFFS, m->bpffs);
        }
        m->bpffs_ready = false;
}
