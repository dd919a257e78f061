#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Hostile and broken clients against a real maiod: malformed bodies, size and
# type limits, bad path ids, slow clients, many and too many connections. After
# every case the daemon must still answer /v1/health.

import select
import selectors
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from maiotest import Daemon, check, check_eq, check_error_body, main, parse_response, recv_all, recv_response

MIB = 1 << 20
HEALTH = b"GET /v1/health HTTP/1.1\r\nHost: maiod\r\nConnection: close\r\n\r\n"
HEALTH_KEEPALIVE = b"GET /v1/health HTTP/1.1\r\nHost: maiod\r\n\r\n"


def post_raw(headers, body=b""):
    head = "POST /v1/tenants HTTP/1.1\r\nHost: maiod\r\nConnection: close\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    return head.encode() + body


def nested(levels):
    """levels nested objects: {"a":{"a":...1...}}."""
    return '{"a":' * levels + "1" + "}" * levels


def test_bodies():
    with Daemon("[api]\njson_max_depth = 4\n") as d:
        own = "/v1/tenants/%d" % d.ok("POST", "/v1/tenants", '{"name": "own"}', want=201)["id"]
        for body, code in (('{"name":', "invalid-json"),
                           ('{"name": "x"', "invalid-json"),
                           ('{"name" "x"}', "invalid-json"),
                           ("{name: \"x\"}", "invalid-json"),
                           ("{'name': 'x'}", "invalid-json"),
                           ('{"name": "x",}', "invalid-json"),
                           ('{"name": "x"} {"name": "y"}', "invalid-json"),
                           ('{"name": "x"} x', "invalid-json"),
                           (b'{"name": "x\x00"}', "invalid-json"),
                           ("[1, 2]", "invalid-json"),
                           ('[{"name": "x"}]', "invalid-json"),
                           ('"x"', "invalid-json"),
                           ("42", "invalid-json"),
                           ("null", "invalid-json"),
                           ("", "invalid-json"),
                           ("[" * 60000, "invalid-json"),
                           (nested(4), "unknown-field"),   # at json_max_depth: parsed, then judged
                           (nested(5), "invalid-json"),    # one deeper: refused by the parser
                           ('{"name": 1}', "wrong-type"),
                           ('{"name": "x", "priority": "high"}', "wrong-type"),
                           ('{"name": "x", "priority": 1e2}', "wrong-type"),
                           ('{"name": "x", "priority": 99999999999999999999999}', "invalid-value"),
                           ('{"name": "x", "pid": true}', "wrong-type"),
                           ('{"name": "x", "extra": 1}', "unknown-field"),
                           ('{"Name": "x"}', "unknown-field"),
                           ('{"priority": 1}', "missing-field"),
                           ("{}", "missing-field"),
                           (b'{"name": "\xff\xfe"}', None)):
            d.check_error("POST", "/v1/tenants", body, status=400, code=code)
            if code == "invalid-json":
                d.check_error("PATCH", own, body, status=400, code=code)
                # The tenant is resolved before the body is read: one the caller cannot see is 404.
                d.check_error("PATCH", "/v1/tenants/999", body, status=404, code="not-found")
        check_eq([t["name"] for t in d.ok("GET", "/v1/tenants")["tenants"]], ["own"],
                 "no tenant created by bad bodies")
        # A body on an operation that takes none.
        d.check_error("GET", "/v1/health", "{}", status=400, code="bad-request")
        d.health()


def test_media_type():
    with Daemon() as d:
        for ctype in ("text/plain", "application/x-www-form-urlencoded", "application/jsonx", "application/json5",
                      None):
            d.check_error("POST", "/v1/tenants", '{"name": "x"}', headers={"Content-Type": ctype}, status=415,
                          code="unsupported-media-type")
        check_eq(d.ok("POST", "/v1/tenants", '{"name": "x"}', want=201,
                      headers={"Content-Type": "application/json; charset=utf-8"})["name"], "x", "json with charset")
        d.health()


def test_sizes():
    with Daemon() as d:
        # The limit is 65536 bytes: trailing blanks are allowed, so pad to the byte.
        body = '{"name": "exact"}'
        check_eq(d.ok("POST", "/v1/tenants", body + " " * (65536 - len(body)), want=201)["name"], "exact",
                 "a body of exactly 65536 bytes")
        d.check_error("POST", "/v1/tenants", body + " " * (65537 - len(body)), status=413, code="payload-too-large")

        # 1 MiB announced by Content-Length: answered before the body is read.
        with d.connect() as s:
            s.sendall(post_raw({"Content-Type": "application/json", "Content-Length": MIB}))
            data, eof = recv_all(s, 3)
        status, _, reply = parse_response(data)
        check_eq(status, 413, "1 MiB with Content-Length, headers only")
        check_error_body(reply, "payload-too-large", "1 MiB Content-Length")
        check(eof, "connection left open after refusing a 1 MiB body")
        d.health()

        # 1 MiB announced and sent: the server may stop reading, the answer stays 413.
        with d.connect() as s:
            s.sendall(post_raw({"Content-Type": "application/json", "Content-Length": MIB}))
            try:
                s.sendall(b" " * MIB)
            except OSError:
                pass
            data, _ = recv_all(s, 3)
        check_eq(parse_response(data)[0], 413, "1 MiB with Content-Length, body sent")
        d.health()

        # 1 MiB chunked: the size shows only while reading; the answer comes at its end.
        t0 = time.monotonic()
        with d.connect(timeout=10) as s:
            s.sendall(post_raw({"Content-Type": "application/json", "Transfer-Encoding": "chunked"}))
            chunk = b" " * 65536
            try:
                for _ in range(16):
                    s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                s.sendall(b"0\r\n\r\n")
            except OSError as e:
                raise AssertionError(f"sending a chunked 1 MiB body failed after {time.monotonic() - t0:.1f} s: {e}")
            data, _ = recv_all(s, 5)
        elapsed = time.monotonic() - t0
        check(data, f"no answer to a chunked 1 MiB body within {elapsed:.1f} s")
        status, _, reply = parse_response(data)
        check_eq(status, 413, "chunked 1 MiB")
        check_error_body(reply, "payload-too-large", "chunked 1 MiB")
        # 1 MiB over a unix socket takes milliseconds; seconds mean the event loop stalls on big bodies.
        check(elapsed < 2, f"the chunked 1 MiB body took {elapsed:.1f} s to be answered")
        check_eq(len(d.ok("GET", "/v1/tenants")["tenants"]), 1, "tenants after the big bodies")
        d.health()


def test_ids():
    with Daemon() as d:
        t = d.ok("POST", "/v1/tenants", {"name": "t"}, want=201)
        check_eq(t["id"], 1, "first id")
        for bad in ("..", "..%2F..%2Fetc", "%2e%2e", "1%00", "1%2F", "0", "-1", "+1", "01", "1.0", "1e3",
                    "0x1", "%201", "1a", "a", "99999999999999999999", "9223372036854775808"):
            for method, suffix in (("GET", ""), ("PATCH", ""), ("DELETE", ""), ("GET", "/events")):
                body = {"priority": 1} if method == "PATCH" else None
                path = f"/v1/tenants/{bad}{suffix}"
                d.check_error(method, path, body, status=400, code="bad-request")
        # A trailing slash makes a path no route has: 404 is as right as 400, never more.
        for path in ("/v1/tenants/../", "/v1/tenants/1/", "/v1/tenants/../../etc/passwd"):
            st, _, body = d.request("GET", path)
            check(st in (400, 404), f"GET {path} answered {st}")
            check_error_body(body, None, f"GET {path}")
        for unknown in ("2", "12345", "9223372036854775807"):
            d.check_error("GET", f"/v1/tenants/{unknown}", status=404, code="not-found")
            d.check_error("DELETE", f"/v1/tenants/{unknown}", status=404, code="not-found")
        check_eq(d.ok("GET", "/v1/tenants/1")["name"], "t", "tenant 1 after the bad ids")
        d.health()


def test_broken_http():
    with Daemon() as d:
        for raw in (b"GARBAGE\r\n\r\n", b"GET\r\n\r\n", b"\x00\x01\x02\x03\r\n\r\n",
                    b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n",
                    b"POST /v1/tenants HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Content-Length: -5\r\n\r\n",
                    b"POST /v1/tenants HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\nzz\r\n"):
            data = d.raw(raw, timeout=3)
            if data:
                status = int(data.split()[1])
                check(400 <= status < 500, f"{raw[:40]!r} answered {status}")
            d.health()


def slow_client(d, first, then, timeout_s):
    """Sends `first` at once, then `then` one byte per second; returns the
    seconds until the server closed the connection. Meanwhile checks that
    other clients are served promptly."""
    with d.connect() as s:
        t0 = time.monotonic()
        s.sendall(first)
        for i, byte in enumerate(then):
            ready, _, _ = select.select([s], [], [], 1.0)
            if ready:
                data, _ = recv_all(s, 0.5)
                check_eq(data, b"", "a slow client got an answer instead of being cut off")
                return time.monotonic() - t0
            t1 = time.monotonic()
            check_eq(d.ok("GET", "/v1/health", timeout=2), {"status": "ok"}, "health while a slow client sends")
            check(time.monotonic() - t1 < 0.5, "health was slow while a slow client was connected")
            try:
                s.send(bytes([byte]))
            except OSError:
                return time.monotonic() - t0
            check(time.monotonic() - t0 < timeout_s + 4, "the slow client was never cut off")
    raise AssertionError("the slow client finished its request")


def test_slow_client():
    with Daemon("[api]\nrequest_timeout_sec = 2\n") as d:
        forever = b"X-Slow: " + b"a" * 1000
        elapsed = slow_client(d, b"GET /v1/health HTTP/1.1\r\n", forever, 2)
        check(1.5 <= elapsed <= 4, f"slow headers cut after {elapsed:.1f} s (request_timeout_sec = 2)")
        check_eq(d.metrics()["maiod_http_connections_cut_total"], 1.0, "connections cut after slow headers")

        head = post_raw({"Content-Type": "application/json", "Content-Length": 1000})
        elapsed = slow_client(d, head, b"{" + b" " * 999, 2)
        check(1.5 <= elapsed <= 4, f"slow body cut after {elapsed:.1f} s (request_timeout_sec = 2)")
        check_eq(d.metrics()["maiod_http_connections_cut_total"], 2.0, "connections cut after a slow body")
        d.health()


def test_many_connections(n=500):
    with Daemon("[api]\nrequest_timeout_sec = 30\n") as d:
        socks = []
        try:
            for _ in range(n):
                socks.append(d.connect(timeout=10))
            for s in socks:
                s.sendall(HEALTH)
            replies = read_all(socks, 30)
        finally:
            for s in socks:
                s.close()
        statuses = [parse_response(r)[0] if r else None for r in replies]
        check_eq(statuses.count(200), n, f"answers to {n} concurrent requests (others: "
                                          f"{[x for x in statuses if x != 200][:5]})")
        m = d.metrics()
        check(m['maiod_http_requests_total{code="2xx"}'] >= n, "2xx counter below the requests answered")
        d.health()


def read_all(socks, timeout):
    """Reads every socket to EOF concurrently; returns the bytes of each."""
    sel = selectors.DefaultSelector()
    data = {s: b"" for s in socks}
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while sel.get_map() and time.monotonic() < deadline:
        for key, _ in sel.select(max(0.0, deadline - time.monotonic())):
            try:
                chunk = key.fileobj.recv(65536)
            except BlockingIOError:
                continue
            except ConnectionResetError:
                chunk = b""
            if chunk:
                data[key.fileobj] += chunk
            else:
                sel.unregister(key.fileobj)
    sel.close()
    return [data[s] for s in socks]


def hold_connections(d, n):
    """n connections the daemon has accepted and keeps open: each answered one
    keep-alive request. (One that the daemon refused because a just-closed
    connection still counted is replaced.)"""
    held = []
    for _ in range(n + 5):
        s = d.connect()
        s.sendall(HEALTH_KEEPALIVE)
        if recv_response(s, 5):
            held.append(s)
            if len(held) == n:
                return held
        else:
            s.close()
            time.sleep(0.1)
    for s in held:
        s.close()
    raise AssertionError(f"could not hold {n} connections open")


def test_connection_limit():
    with Daemon("[api]\nmax_connections = 8\nrequest_timeout_sec = 30\n") as d:
        held = hold_connections(d, 8)
        over = []
        try:
            for _ in range(3):
                try:
                    s = d.connect(timeout=2)
                except OSError:
                    continue  # refused outright: fine
                over.append(s)
                try:
                    s.sendall(HEALTH)
                except OSError:
                    pass
            for s in over:
                data, eof = recv_all(s, 2)
                check_eq(data, b"", "a connection beyond max_connections was served")
                check(eof, "a connection beyond max_connections was left hanging instead of closed")
        finally:
            for s in held + over:
                s.close()
        # Capacity comes back as soon as the daemon has seen the held
        # connections close (a connect racing with the closes may still be
        # refused, hence the retries within the bound).
        d.wait_ready(timeout=3)
        again = hold_connections(d, 8)
        for s in again:
            s.close()
        d.wait_ready(timeout=3)


if __name__ == "__main__":
    main([test_bodies, test_media_type, test_sizes, test_ids, test_broken_http, test_slow_client,
          test_many_connections, test_connection_limit], needs_root=False)
