// SPDX-License-Identifier: LGPL-2.1-or-later
/* MFLOW's status, metrics and operations (GET/PUT /v1/mflow, GET /v1/flows) over the state of
 * mflowd.c (mflowd-internal.h). */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "log.h"
#include "metrics.h"
#include "mflowd-internal.h"
#include "time-util.h"

/* ---- status, metrics ---- */

void mflow_conflicts(void *userdata, json_object *array) {
        Mflow *m = userdata;

        for (size_t i = 0; i < m->n_devs; i++)
                if (m->devs[i]->conflict)
                        json_object_array_add(array,
                                              journal_conflict_new("xdp", m->devs[i]->name, m->devs[i]->conflict));
}

void mflow_metrics_write(void *userdata, FILE *f) {
        Mflow *m = userdata;
        size_t attached = 0, waiting = 0;

        for (size_t i = 0; i < m->n_devs; i++)
                attached += m->devs[i]->attached;
        for (size_t i = 0; i < m->n_flows; i++)
                waiting += m->flows[i].state == FLOW_ELEPHANT && !m->flows[i].admitted && !m->flows[i].stalled &&
                           mflowd_dev_splits(m->flows[i].dev);
        metrics_u64(f, "maiod_mflow_devices_attached", "gauge", "Devices with maiod's MFLOW XDP program attached.",
                    attached);
        metrics_u64(f, "maiod_mflow_elephants_total", "counter", "Elephant flows detected.", m->elephants_total);
        metrics_u64(f, "maiod_mflow_splits_total", "counter", "Elephant flows split over splitting cores.",
                    m->splits_total);
        metrics_u64(f, "maiod_mflow_moves_total", "counter", "Split flows moved to other splitting cores.",
                    m->moves_total);
        metrics_u64(f, "maiod_mflow_idle_total", "counter", "Split flows that went idle and were released.",
                    m->idle_total);
        metrics_u64(f, "maiod_mflow_stalls_total", "counter",
                    "Split flows that stalled and were put back to pass-through.", m->stalls_total);
        metrics_u64(f, "maiod_mflow_elephants_waiting", "gauge",
                    "Elephants of split-mode devices left pass-through: their tenant's splitting_cores share is short.",
                    waiting);
        metrics_u64(f, "maiod_mflow_adaptive_changes_total", "counter",
                    "Settings (batch, gap, batch or flowlet) the adaptive mode changed on split flows.",
                    m->adapt_changes_total);
        /* Each device's per-CPU counters are read once per scrape; every family's samples follow its
         * header. */
        struct {
                struct mflow_cpu_stats *st;
                size_t n;
        } dev[MFLOW_MAX_DEVICES] = {};
        for (size_t i = 0; i < m->n_devs; i++)
                if (m->devs[i]->bpf && mflow_bpf_counters(m->devs[i]->bpf, &dev[i].st, &dev[i].n) < 0)
                        dev[i].st = NULL, dev[i].n = 0;
        /* clang-format off */
        static const struct {
                const char *name, *help;
                size_t offset; /* of the __u64 in struct mflow_cpu_stats */
                bool per_cpu;  /* else summed over the CPUs */
        } families[] = {
                { "maiod_mflow_redirects_total",
                  "Packets redirected to a splitting core, by device and the CPU that redirected them.",
                  offsetof(struct mflow_cpu_stats, redirects), true },
                { "maiod_mflow_cpumap_packets_total",
                  "Packets a splitting core received from the CPUMAP, by device and CPU.",
                  offsetof(struct mflow_cpu_stats, cpumap_packets), true },
                { "maiod_mflow_redirect_errors_total",
                  "Packets that could not be redirected (no CPUMAP entry), by device.",
                  offsetof(struct mflow_cpu_stats, redirect_errors), false },
                { "maiod_mflow_tcp_segments_total",
                  "TCP segments the tc reordering counter saw, by device.",
                  offsetof(struct mflow_cpu_stats, tc_segments), false },
                { "maiod_mflow_tcp_ooo_segments_total",
                  "TCP segments that started below the highest sequence already seen, by device.",
                  offsetof(struct mflow_cpu_stats, tc_ooo_segments), false },
        };
        /* clang-format on */
        for (size_t k = 0; k < ELEMENTSOF(families); k++) {
                metrics_header(f, families[k].name, "counter", families[k].help);
                for (size_t i = 0; i < m->n_devs; i++) {
                        uint64_t sum = 0;

                        if (!dev[i].st)
                                continue;
                        for (size_t c = 0; c < dev[i].n; c++) {
                                uint64_t v;

                                memcpy(&v, (const char *) &dev[i].st[c] + families[k].offset, sizeof v);
                                if (families[k].per_cpu)
                                        fprintf(f, "%s{device=\"%s\",cpu=\"%zu\"} %" PRIu64 "\n", families[k].name,
                                                m->devs[i]->name, c, v);
                                sum += v;
                        }
                        if (!families[k].per_cpu)
                                fprintf(f, "%s{device=\"%s\"} %" PRIu64 "\n", families[k].name, m->devs[i]->name, sum);
                }
        }
        for (size_t i = 0; i < m->n_devs; i++)
                free(dev[i].st);
}

/* ---- the API ---- */

static json_object *dev_to_json(const Dev *d) {
        json_object *o = json_object_new_object(), *cores = NULL;

        if (!o)
                return NULL;
        json_object_object_add(o, "name", json_object_new_string(d->name));
        json_object_object_add(o, "mode", json_object_new_string(mflowd_mode_word(d->conf.mode)));
        json_object_object_add(o, "attached",
                               json_object_new_string(d->attached ? mflow_xdp_mode_to_string(d->xdp) : "none"));
        json_object_object_add(o, "reordering_counter", json_object_new_boolean(d->tc));
        json_object_object_add(o, "baseline_ooo_per_million",
                               d->base_segments >= 1000 ? json_object_new_int64((int64_t) mflowd_baseline_ppm(d))
                                                        : NULL);
        json_object_object_add(o, "conflict", d->conflict ? json_object_new_string(d->conflict) : NULL);
        json_object_object_add(o, "error", d->error ? json_object_new_string(d->error) : NULL);
        json_object_object_add(o, "cores_per_flow", json_object_new_int((int) d->conf.cores_per_flow));
        json_object_object_add(o, "batch", json_object_new_int((int) d->conf.batch));
        json_object_object_add(o, "elephant_bytes_per_sec",
                               json_object_new_int64((int64_t) d->conf.elephant_bytes_per_s));
        json_object_object_add(o, "window_ms", json_object_new_int((int) d->conf.window_ms));
        json_object_object_add(o, "idle_ms", json_object_new_int((int) d->conf.idle_ms));
        json_object_object_add(o, "flowlet_gap_us", json_object_new_int((int) d->conf.flowlet_gap_us));
        json_object_object_add(o, "flowlet_k", json_object_new_int((int) d->conf.flowlet_k));
        if (d->conf.have_allowed) {
                cores = json_object_new_array();
                for (unsigned i = 0; cores && i < MFLOW_MAX_CPUS; i++)
                        if (d->conf.allowed[i])
                                json_object_array_add(cores, json_object_new_int((int) i));
        }
        json_object_object_add(o, "cores", cores);
        json_object_object_add(o, "pins", d->attached ? json_object_new_string(d->pin_dir) : NULL);
        json_object_object_add(o, "knobs_applied", json_object_new_boolean(d->knobs_on));
        if (d->knobs_on) {
                json_object *knobs = json_object_new_array(), *threads = json_object_new_array(),
                            *kc = json_object_new_array();

                for (size_t i = 0; knobs && i < d->n_knob_names; i++) {
                        json_object *k = json_object_new_object();

                        json_object_object_add(k, "name", json_object_new_string(d->knob_names[i]));
                        json_object_object_add(k, "value", json_object_new_string(d->knob_value));
                        json_object_array_add(knobs, k);
                }
                for (size_t i = 0; threads && i < d->n_napi; i++) {
                        json_object *t = json_object_new_object();

                        json_object_object_add(t, "pid", json_object_new_int(d->napi[i].pid));
                        json_object_object_add(t, "name", json_object_new_string(d->napi[i].comm));
                        json_object_array_add(threads, t);
                }
                for (unsigned i = 0; kc && i < d->n_knob_cores; i++)
                        json_object_array_add(kc, json_object_new_int((int) d->knob_cores[i]));
                json_object_object_add(o, "knob_cores", kc);
                json_object_object_add(o, "knobs", knobs);
                json_object_object_add(o, "napi_threads", threads);
        } else {
                json_object_object_add(o, "knob_cores", json_object_new_array());
                json_object_object_add(o, "knobs", json_object_new_array());
                json_object_object_add(o, "napi_threads", json_object_new_array());
        }
        return o;
}

static json_object *ladder_to_json(const unsigned *v, size_t n) {
        json_object *a = json_object_new_array();

        for (size_t i = 0; a && i < n; i++)
                json_object_array_add(a, json_object_new_int64(v[i]));
        return a;
}

/* The adaptive mode's settings ([mflow] adaptive_*), shared by every device in that mode. */
static json_object *adaptive_to_json(const Mflow *m) {
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        json_object_object_add(o, "batches", ladder_to_json(m->adapt.batches, m->adapt.n_batches));
        json_object_object_add(o, "gaps_us", ladder_to_json(m->adapt.gaps_us, m->adapt.n_gaps));
        json_object_object_add(o, "excess_ppm", json_object_new_int64(m->adapt.excess_ppm));
        json_object_object_add(o, "window_ms", json_object_new_int64(m->adapt_window_ms));
        json_object_object_add(o, "min_share_percent", json_object_new_int64(m->adapt.min_share_percent));
        return o;
}

int mflow_op_get(void *userdata, const Request *req, Reply *reply) {
        Mflow *m = userdata;
        json_object *o = json_object_new_object(), *arr = json_object_new_array();

        if (!o || !arr) {
                json_object_put(o);
                json_object_put(arr);
                return -ENOMEM;
        }
        for (size_t i = 0; i < m->n_devs; i++)
                json_object_array_add(arr, dev_to_json(m->devs[i]));
        json_object_object_add(o, "devices", arr);
        json_object_object_add(o, "bpffs", m->bpffs ? json_object_new_string(m->bpffs) : NULL);
        json_object_object_add(o, "bpffs_mounted_by_maiod", json_object_new_boolean(m->bpffs_mounted));
        json_object_object_add(o, "adaptive", adaptive_to_json(m));
        json_object_object_add(o, "dry_run", json_object_new_boolean(m->dry_run));
        return reply_json(reply, 200, o);
}

enum {
        SET_DEVICE,
        SET_MODE,
        SET_CORES_PER_FLOW,
        SET_BATCH,
        SET_ELEPHANT,
        SET_WINDOW,
        SET_IDLE,
        SET_GAP,
        SET_K,
        SET_CORES,
};

static const Field set_fields[] = {
        [SET_DEVICE] = { "device", FIELD_STRING, true, .min = 1, .max = IF_NAMESIZE - 1, .id = 1 },
        [SET_MODE] = { "mode", FIELD_STRING, false, .min = 1, .max = 32, .id = 2 },
        [SET_CORES_PER_FLOW] = { "cores_per_flow", FIELD_INT, false, .min = INT32_MIN, .max = INT32_MAX, .id = 3 },
        [SET_BATCH] = { "batch", FIELD_INT, false, .min = INT32_MIN, .max = INT32_MAX, .id = 4 },
        [SET_ELEPHANT] = { "elephant_bytes_per_sec", FIELD_INT, false, .min = 1, .max = 1000000000000, .id = 5 },
        [SET_WINDOW] = { "window_ms", FIELD_INT, false, .min = 1, .max = 10000, .id = 6 },
        [SET_IDLE] = { "idle_ms", FIELD_INT, false, .min = 10, .max = 3600000, .id = 7 },
        [SET_GAP] = { "flowlet_gap_us", FIELD_INT, false, .min = 1, .max = 1000000, .id = 8 },
        [SET_K] = { "flowlet_k", FIELD_INT, false, .min = 0, .max = 1024, .id = 9 },
        [SET_CORES] = { "cores", FIELD_JSON, false, .id = 10 },
};
const FieldSet mflow_set_body = { set_fields, ELEMENTSOF(set_fields) };

int mflow_op_set(void *userdata, const Request *req, Reply *reply) {
        Mflow *m = userdata;
        const char *name = request_param(req, SET_DEVICE)->s;
        const Param *p;
        DevConf c;
        MflowSnapshot snap;
        unsigned online;
        Dev *d;

        if (m->dry_run)
                return reply_error(reply, REPLY_CONFLICT, "maiod runs with --dry-run: MFLOW attaches nothing");
        if (!m->started)
                return reply_error(reply, REPLY_UNAVAILABLE, "MFLOW has not started");
        d = mflowd_dev_find(m, name);
        if (!d && (if_nametoindex(name) == 0 || strchr(name, '/')))
                return reply_error(reply, REPLY_INVALID_VALUE, "unknown device '%s'", name);
        if (mflow_snapshot_load(m->root, NULL, &snap) < 0)
                return reply_error(reply, REPLY_INTERNAL, "cannot read the online CPUs");
        online = mflow_snapshot_online(&snap);
        c = d ? d->conf : m->defaults;

        p = request_param(req, SET_MODE);
        if (p->set) {
                int mode = mflow_conf_mode_from_string(p->s);

                if (mode < 0)
                        return reply_error(reply, REPLY_INVALID_VALUE,
                                           "unknown mode '%s'; expected adaptive, split, flowlet, pass, off, rps or "
                                           "napi-threaded",
                                           p->s);
                c.mode = (MflowConfMode) mode;
        }
        p = request_param(req, SET_CORES_PER_FLOW);
        if (p->set) {
                if (p->i < 1 || p->i > MFLOW_MAX_CORES || p->i > (int64_t) online)
                        return reply_error(reply, REPLY_INVALID_VALUE,
                                           "cores_per_flow %" PRId64
                                           " is out of range 1..%u (the online CPUs, at most %d)",
                                           p->i, online < MFLOW_MAX_CORES ? online : MFLOW_MAX_CORES, MFLOW_MAX_CORES);
                c.cores_per_flow = (unsigned) p->i;
        }
        p = request_param(req, SET_BATCH);
        if (p->set) {
                if (p->i < 1 || p->i > 1048576)
                        return reply_error(reply, REPLY_INVALID_VALUE, "batch %" PRId64 " is out of range 1..1048576",
                                           p->i);
                c.batch = (unsigned) p->i;
        }
        if ((p = request_param(req, SET_ELEPHANT))->set)
                c.elephant_bytes_per_s = (uint64_t) p->i;
        if ((p = request_param(req, SET_WINDOW))->set)
                c.window_ms = (unsigned) p->i;
        if ((p = request_param(req, SET_IDLE))->set)
                c.idle_ms = (unsigned) p->i;
        if ((p = request_param(req, SET_GAP))->set)
                c.flowlet_gap_us = (unsigned) p->i;
        if ((p = request_param(req, SET_K))->set)
                c.flowlet_k = (unsigned) p->i;
        p = request_param(req, SET_CORES);
        if (p->set) {
                size_t n;

                if (!p->j) {
                        c.have_allowed = false; /* null: every online CPU */
                } else if (!json_object_is_type(p->j, json_type_array))
                        return reply_error(reply, REPLY_WRONG_TYPE, "cores must be an array of CPU numbers or null");
                else {
                        n = json_object_array_length(p->j);
                        if (n == 0)
                                return reply_error(reply, REPLY_INVALID_VALUE, "cores must name at least one CPU");
                        memset(c.allowed, 0, sizeof(c.allowed));
                        for (size_t i = 0; i < n; i++) {
                                json_object *v = json_object_array_get_idx(p->j, i);
                                int64_t cpu;

                                if (!json_object_is_type(v, json_type_int))
                                        return reply_error(reply, REPLY_WRONG_TYPE, "cores[%zu] is not an integer", i);
                                cpu = json_object_get_int64(v);
                                if (cpu < 0 || cpu >= (int64_t) snap.n_cpus || !snap.cpus[cpu].online)
                                        return reply_error(reply, REPLY_INVALID_VALUE,
                                                           "CPU %" PRId64 " is out of range (online CPUs: %u)", cpu,
                                                           online);
                                c.allowed[cpu] = true;
                        }
                        c.have_allowed = true;
                }
        }
        if (c.cores_per_flow > online)
                return reply_error(reply, REPLY_INVALID_VALUE, "cores_per_flow %u is more than the %u online CPUs",
                                   c.cores_per_flow, online);

        if (!d) {
                d = mflowd_dev_new(m, name);
                if (!d)
                        return reply_error(reply, REPLY_CONFLICT, "MFLOW handles at most %d devices",
                                           MFLOW_MAX_DEVICES);
        }
        if (!mflowd_mode_is_knob(c.mode) && c.mode != MFLOW_CONF_MODE_OFF) {
                int r = mflowd_bpffs_prepare_once(m);

                if (r < 0)
                        return reply_errno(reply, r, "no bpffs at %s", m->bpffs);
        }
        {
                int r = mflowd_timer_start(m);

                if (r < 0)
                        return r;
        }
        mflowd_dev_switch(d, &c);
        d->conf_set = true;
        store_event_log(m->store, LOG_INFO, NULL, 0, "mflow-set", "MFLOW: %s set to %s, %u cores per flow, batch %u",
                        d->name, mflowd_mode_word(c.mode), c.cores_per_flow, c.batch);
        if (mflowd_mode_is_knob(c.mode) && !d->knobs_on)
                return reply_error(reply, REPLY_UNAVAILABLE, "%s: %s mode not applied: %s", d->name,
                                   mflowd_mode_word(c.mode), d->error ?: "unknown reason");
        if (c.mode != MFLOW_CONF_MODE_OFF && !mflowd_mode_is_knob(c.mode) && !d->attached)
                return reply_error(reply, d->conflict ? REPLY_CONFLICT : REPLY_UNAVAILABLE, "%s is not attached: %s",
                                   d->name, d->conflict ?: d->error ?: "unknown reason");
        return reply_json(reply, 200, dev_to_json(d));
}

static bool flowlet_kind(const Flow *f) {
        if (f->mode == MFLOW_CONF_MODE_ADAPTIVE)
                return f->adaptive && f->adapt.kind == MFLOW_ADAPT_FLOWLET;
        return f->mode == MFLOW_CONF_MODE_FLOWLET;
}

/* The adaptive mode's choice for a flow, its reason and what the last window measured. */
static json_object *adaptive_flow(const Flow *f) {
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        json_object_object_add(o, "choice", json_object_new_string(mflow_adapt_kind_to_string(f->adapt.kind) ?: "?"));
        json_object_object_add(o, "gaps_only",
                               json_object_new_boolean(f->adapt.kind == MFLOW_ADAPT_FLOWLET && f->adapt.gaps_only));
        json_object_object_add(o, "reason", json_object_new_string(f->adapt_reason));
        json_object_object_add(o, "windows", json_object_new_int64(f->adapt.windows));
        json_object_object_add(o, "excess_ooo_per_million",
                               f->excess_ppm >= 0 ? json_object_new_int64(f->excess_ppm) : NULL);
        json_object_object_add(o, "baseline_ooo_per_million",
                               f->adapt.windows ? json_object_new_int64((int64_t) f->baseline_ppm) : NULL);
        json_object_object_add(o, "min_share_percent", f->min_share >= 0 ? json_object_new_int(f->min_share) : NULL);
        return o;
}

json_object *mflowd_flow_json(const Flow *f) {
        json_object *o = json_object_new_object(), *cores = json_object_new_array(), *pkts = json_object_new_array();
        char src[64], dst[64], keytext[MFLOW_KEY_STRING_MAX];
        const char *proto;
        char *s;

        if (!o || !cores || !pkts) {
                json_object_put(o);
                json_object_put(cores);
                json_object_put(pkts);
                return NULL;
        }
        /* "tcp SRC:SPORT > DST:DPORT vni N": the formatter already prints IPv4-mapped addresses as IPv4. */
        mflow_key_format(&f->key, keytext, sizeof(keytext));
        src[0] = dst[0] = '\0';
        s = strchr(keytext, ' ');
        if (s) {
                char *gt = strstr(s, " > "), *colon;

                if (gt) {
                        snprintf(src, sizeof(src), "%.*s", (int) (gt - s - 1), s + 1);
                        colon = strrchr(src, ':');
                        if (colon)
                                *colon = '\0';
                        snprintf(dst, sizeof(dst), "%s", gt + 3);
                        s = strstr(dst, " vni ");
                        if (s)
                                *s = '\0';
                        colon = strrchr(dst, ':');
                        if (colon)
                                *colon = '\0';
                }
        }
        proto = f->key.proto == 6 ? "tcp" : f->key.proto == 17 ? "udp" : NULL;
        json_object_object_add(o, "src", json_object_new_string(src));
        json_object_object_add(o, "dst", json_object_new_string(dst));
        json_object_object_add(o, "sport", json_object_new_int(f->key.sport));
        json_object_object_add(o, "dport", json_object_new_int(f->key.dport));
        json_object_object_add(o, "proto", proto ? json_object_new_string(proto) : json_object_new_int(f->key.proto));
        json_object_object_add(o, "vni", f->key.vni == MFLOW_VNI_NONE ? NULL : json_object_new_int64(f->key.vni));
        json_object_object_add(o, "device", json_object_new_string(f->dev->name));
        json_object_object_add(o, "state", json_object_new_string(flow_state_words[f->state]));
        json_object_object_add(o, "bytes_per_s", json_object_new_int64((int64_t) f->rate));
        json_object_object_add(o, "bytes", json_object_new_int64((int64_t) f->bytes));
        json_object_object_add(o, "packets", json_object_new_int64((int64_t) f->packets));
        json_object_object_add(o, "mode",
                               json_object_new_string(f->state == FLOW_ELEPHANT ? "pass" : mflowd_mode_word(f->mode)));
        for (unsigned i = 0; i < f->n_cores; i++) {
                json_object_array_add(cores, json_object_new_int((int) f->cores[i]));
                json_object_array_add(pkts, json_object_new_int64((int64_t) f->core_packets[i]));
        }
        json_object_object_add(o, "splitting_cores", cores);
        json_object_object_add(o, "packets_per_core", pkts);
        json_object_object_add(o, "microflows", json_object_new_int64((int64_t) f->microflows));
        json_object_object_add(o, "batch", f->state == FLOW_ELEPHANT ? NULL : json_object_new_int((int) f->batch));
        json_object_object_add(o, "flowlet_gap_us",
                               f->state == FLOW_ELEPHANT || !flowlet_kind(f) ? NULL
                                                                             : json_object_new_int((int) f->gap_us));
        json_object_object_add(o, "adaptive",
                               f->adaptive && f->mode == MFLOW_CONF_MODE_ADAPTIVE ? adaptive_flow(f) : NULL);
        json_object_object_add(o, "ooo_per_million",
                               f->segments ? json_object_new_int64((int64_t) (f->ooo_segments * 1000000 / f->segments))
                                           : NULL);
        json_object_object_add(o, "tcp_segments", json_object_new_int64((int64_t) f->segments));
        json_object_object_add(o, "detection_ms", json_object_new_double(f->detect_ms));
        json_object_object_add(o, "state_reason", f->reason[0] ? json_object_new_string(f->reason) : NULL);
        json_object_object_add(o, "tenant", f->tenant_id ? json_object_new_int64(f->tenant_id) : NULL);
        return o;
}

/* Administrators see every flow; a tenant (its token) its own; a uid the flows of its tenants.
 * Unattributed flows are for administrators only. */
static bool flow_visible(const Identity *who, const Flow *f) {
        if (who->admin)
                return true;
        if (f->tenant_id == 0)
                return false;
        switch (who->kind) {
        case IDENTITY_PEER:
                return f->tenant_uid == who->uid;
        case IDENTITY_TOKEN:
                return f->tenant_id == who->tenant_id;
        default:
                return false;
        }
}

int mflow_op_flows(void *userdata, const Request *req, Reply *reply) {
        Mflow *m = userdata;
        json_object *o, *arr;

        o = json_object_new_object();
        arr = json_object_new_array();
        if (!o || !arr) {
                json_object_put(o);
                json_object_put(arr);
                return -ENOMEM;
        }
        if (mflowd_flows_attribute(m))
                mflowd_sched_kick(m); /* the tenants' demands of splitting cores changed */
        for (size_t i = 0; i < m->n_flows; i++) {
                if (!flow_visible(req->who, &m->flows[i]))
                        continue;
                if (m->flows[i].state != FLOW_IDLE)
                        mflowd_flow_refresh(&m->flows[i]);
                json_object_array_add(arr, mflowd_flow_json(&m->flows[i]));
        }
        json_object_object_add(o, "flows", arr);
        return reply_json(reply, 200, o);
}
