#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# /metrics of a real maiod: valid Prometheus text (the families and types here;
# promtool check metrics, the format and its lint rules, in
# it-metrics-live-promtool) and counters that move by exactly what happened.

import shutil
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from maiotest import Daemon, Skip, check, check_eq, main, needs, parse_metrics

EXPECTED = {
    "maiod_build_info": "gauge",
    "maiod_uptime_seconds": "gauge",
    "maiod_http_requests_total": "counter",
    "maiod_http_connections_cut_total": "counter",
    "maiod_http_connections": "gauge",
    "maiod_netlink_requests_total": "counter",
    "maiod_netlink_errors_total": "counter",
    "maiod_netlink_overruns_total": "counter",
    "maiod_netlink_replies_dropped_total": "counter",
    "maiod_netlink_subscriptions": "gauge",
    "maiod_netlink_notifications_sent_total": "counter",
    "maiod_netlink_notifications_lost_total": "counter",
    "maiod_tenants": "gauge",
    "maiod_tenant_process_exits_total": "counter",
    "maiod_events_total": "counter",
    "maiod_tenant_cache_hits_total": "counter",
    "maiod_tenant_cache_misses_total": "counter",
    "maiod_knobs_owned": "gauge",
    "maiod_knob_writes_total": "counter",
    "maiod_knob_write_failures_total": "counter",
    "maiod_knob_overrides_total": "counter",
    "maiod_maio_grant_pages": "gauge",
    "maiod_maio_partial_allocations_total": "counter",
    "maiod_maio_poller_cpus": "gauge",
    "maiod_maio_poller_refusals_total": "counter",
    "maiod_maio_waiting_grants": "gauge",
    "maiod_maio_poller_waiting": "gauge",
    "maiod_fleet_state": "gauge",
    "maiod_fleet_unreachable_total": "counter",
    "maiod_fleet_published_total": "counter",
    "maiod_fleet_compressed_total": "counter",
    "maiod_fleet_oversize_total": "counter",
    "maiod_fleet_lookups_total": "counter",
    "maiod_fleet_imported_total": "counter",
    "maiod_fleet_updated_total": "counter",
    "maiod_fleet_rejected_total": "counter",
    "maiod_fleet_deleted_total": "counter",
    "maiod_fleet_etcd_logins_total": "counter",
    "maiod_fleet_etcd_failovers_total": "counter",
    "maiod_mflow_devices_attached": "gauge",
    "maiod_mflow_elephants_total": "counter",
    "maiod_mflow_splits_total": "counter",
    "maiod_mflow_moves_total": "counter",
    "maiod_mflow_idle_total": "counter",
    "maiod_mflow_stalls_total": "counter",
    "maiod_mflow_elephants_waiting": "gauge",
    "maiod_mflow_adaptive_changes_total": "counter",
    "maiod_mflow_redirects_total": "counter",
    "maiod_mflow_cpumap_packets_total": "counter",
    "maiod_mflow_redirect_errors_total": "counter",
    "maiod_mflow_tcp_segments_total": "counter",
    "maiod_mflow_tcp_ooo_segments_total": "counter",
    "maiod_sched_events_total": "counter",
    "maiod_sched_events_dropped_total": "counter",
    "maiod_sched_queue_depth": "gauge",
    "maiod_sched_passes_total": "counter",
    "maiod_sched_full_passes_total": "counter",
    "maiod_sched_reaction_seconds": "histogram",
    "maiod_sched_capacity": "gauge",
    "maiod_sched_allocation_changes_total": "counter",
    "maiod_sched_apply_failures_total": "counter",
    "maiod_tier_decisions_total": "counter",
    "maiod_tier_anchor_decisions_total": "counter",
    "maiod_tier_anchors": "gauge",
    "maiod_tier_anchors_dropped_total": "counter",
    "maiod_config_reloads_total": "counter",
    "maiod_config_reload_failures_total": "counter",
}
REQ = 'maiod_http_requests_total{code="%s"}'


def scrape(d):
    status, hdrs, text = d.request("GET", "/metrics")
    check_eq(status, 200, "GET /metrics")
    check(hdrs["content-type"].startswith("text/plain; version=0.0.4"), f"content type {hdrs['content-type']!r}")
    return text


def promtool_check(text):
    tool = shutil.which("promtool")
    if not tool:
        raise Skip("promtool is not installed (Debian package prometheus)")
    r = subprocess.run([tool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    check_eq(r.returncode, 0, f"promtool check metrics: {r.stdout}{r.stderr}")


def test_format():
    with Daemon() as d:
        text = scrape(d)
        types = {}
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split()
                types[name] = kind
        check_eq(types, EXPECTED, "metric families and their types")
        samples = parse_metrics(text)
        for cls in ("1xx", "2xx", "3xx", "4xx", "5xx"):
            check(REQ % cls in samples, f"no {REQ % cls} sample")
        check(text.endswith("\n"), "exposition does not end with a newline")
        # Tenant names never appear: /metrics is public.
        d.ok("POST", "/v1/tenants", {"name": "secret-name"}, want=201)
        text = scrape(d)
        check("secret-name" not in text, "a tenant name leaked into /metrics")


def test_counters():
    with Daemon() as d:
        m1 = parse_metrics(scrape(d))
        check_eq(m1["maiod_build_info{version=\"%s\"}" % d.ok("GET", "/v1/version")["version"]], 1.0, "build info")
        for _ in range(3):
            d.ok("GET", "/v1/health")
        d.check_error("GET", "/v1/nope", status=404)
        d.check_error("POST", "/v1/health", status=405)
        d.ok("POST", "/v1/tenants", {"name": "t"}, want=201)
        time.sleep(0.05)
        m2 = parse_metrics(scrape(d))
        # The first scrape is counted once it was answered, the second not yet;
        # plus the version request, three health checks and the POST.
        check_eq(m2[REQ % "2xx"] - m1[REQ % "2xx"], 6.0, "2xx requests between the scrapes")
        check_eq(m2[REQ % "4xx"] - m1[REQ % "4xx"], 2.0, "4xx requests between the scrapes")
        check_eq(m2[REQ % "5xx"], 0.0, "5xx requests")
        check_eq((m1["maiod_tenants"], m2["maiod_tenants"]), (0.0, 1.0), "maiod_tenants")
        check_eq(m2["maiod_events_total"] - m1["maiod_events_total"], 1.0, "events added")
        check(m2["maiod_uptime_seconds"] > m1["maiod_uptime_seconds"], "uptime did not grow")
        check(m2["maiod_http_connections"] >= 1, "the scrape's own connection is not counted")
        status = d.ok("GET", "/v1/status")["counts"]
        m3 = parse_metrics(scrape(d))
        # /v1/status and /metrics count the same requests (the status request itself is in m3 only).
        check_eq(sum(m3[REQ % c] for c in ("1xx", "2xx", "3xx", "4xx", "5xx")) - 1, float(status["requests"]),
                 "requests in /metrics vs /v1/status")
        d.ok("DELETE", "/v1/tenants/1", want=204)
        m4 = parse_metrics(scrape(d))
        check_eq(m4["maiod_tenants"], 0.0, "maiod_tenants after DELETE")
        check_eq(m4["maiod_events_total"], m3["maiod_events_total"] + 1, "events after DELETE")


@needs("promtool", "promtool(1) (Debian package prometheus)")
def test_promtool():
    """promtool's format and lint rules, on a fresh daemon and after every kind of request."""
    with Daemon() as d:
        promtool_check(scrape(d))
        d.ok("GET", "/v1/health")
        d.check_error("GET", "/v1/nope", status=404)
        d.check_error("POST", "/v1/health", status=405)
        tid = d.ok("POST", "/v1/tenants", {"name": "t"}, want=201)["id"]
        promtool_check(scrape(d))
        d.ok("DELETE", f"/v1/tenants/{tid}", want=204)
        promtool_check(scrape(d))


if __name__ == "__main__":
    main([test_format, test_counters, test_promtool], needs_root=False)
