/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Prometheus text exposition (format 0.0.4) of the daemon's counters and gauges.
 * Only aggregates: tenant names never appear, so /metrics can stay public. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "maio-config.h"
#include "manager.h"
#include "metrics.h"
#include "pools.h"

void metrics_count_request(Metrics *mt, unsigned status) {
        mt->requests_total++;
        if (status >= 100 && status < 600)
                mt->requests_by_class[status / 100 - 1]++;
}

static void metric_header(FILE *f, const char *name, const char *type, const char *help) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void metric_u64(FILE *f, const char *name, const char *type, const char *help, uint64_t v) {
        metric_header(f, name, type, help);
        fprintf(f, "%s %" PRIu64 "\n", name, v);
}

static void metrics_write(Manager *m, FILE *f) {
        const Metrics *mt = &m->metrics;
        int tenants = store_tenant_count(m->store);
        int64_t events = store_event_count(m->store);
        int knobs = store_knob_count(m->store);

        metric_header(f, "maiod_build_info", "gauge", "Build information, always 1.");
        fprintf(f, "maiod_build_info{version=\"%s\"} 1\n", MAIO_VERSION);
        metric_header(f, "maiod_uptime_seconds", "gauge", "Seconds since maiod started.");
        fprintf(f, "maiod_uptime_seconds %.3f\n", manager_uptime_sec(m));

        metric_header(f, "maiod_http_requests_total", "counter", "API requests answered, by status class.");
        for (unsigned i = 0; i < 5; i++)
                fprintf(f, "maiod_http_requests_total{code=\"%uxx\"} %" PRIu64 "\n", i + 1, mt->requests_by_class[i]);
        metric_u64(f, "maiod_http_connections_cut_total", "counter",
                   "Connections cut off because a request overran request_timeout_sec.", mt->requests_rejected);
        metric_u64(f, "maiod_http_connections", "gauge", "Open API connections.",
                   http_server_connections(m->http_unix) + http_server_connections(m->http_tcp));

        metric_u64(f, "maiod_tenants", "gauge", "Registered tenants.", tenants > 0 ? (uint64_t) tenants : 0);
        metric_u64(f, "maiod_tenant_process_exits_total", "counter", "Watched tenant processes that exited.",
                   mt->tenant_exits_total);
        metric_u64(f, "maiod_events_total", "counter", "Events in the event log.", events > 0 ? (uint64_t) events : 0);
        metric_u64(f, "maiod_knobs_owned", "gauge", "Kernel knobs in the journal (changed by maiod and not restored).",
                   knobs > 0 ? (uint64_t) knobs : 0);
        metric_u64(f, "maiod_knob_writes_total", "counter", "Kernel knob writes (and restores) that took.",
                   mt->knob_writes_total);
        metric_u64(f, "maiod_knob_write_failures_total", "counter", "Kernel knob writes that failed.",
                   mt->knob_write_failures_total);
        metric_u64(f, "maiod_knob_overrides_total", "counter",
                   "Times a knob maiod wrote was found changed by someone else.", mt->knob_overrides_total);
        pools_metrics_write(m, f);
        metric_u64(f, "maiod_config_reloads_total", "counter", "Configuration reloads that succeeded.",
                   mt->reloads_total);
        metric_u64(f, "maiod_config_reload_failures_total", "counter",
                   "Configuration reloads rejected (the old configuration stayed).", mt->reload_failures_total);
}

int metrics_op_get(Manager *m, const Request *req, Reply *reply) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return -errno;
        metrics_write(m, f);
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        return reply_text(reply, 200, "text/plain; version=0.0.4; charset=utf-8", buf);
}
