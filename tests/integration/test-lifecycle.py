#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# maiod's process lifecycle: sd_notify (READY, STATUS, WATCHDOG, STOPPING),
# SIGTERM, SIGHUP reloads (rejected and accepted), socket activation through
# systemd-socket-activate (it-lifecycle-live-socket-activation), and detaching
# when started outside systemd.

import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from maiotest import (Daemon, Skip, check, check_eq, env, free_port, main, needs, recv_response, wait_for)

WATCHDOG_USEC = 400000


class Notify:
    """A NOTIFY_SOCKET: a datagram socket collecting (time, [lines]) messages."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="maio-it-notify-")
        self.path = os.path.join(self.dir, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.messages = []

    def close(self):
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def poll(self, timeout):
        """Collects messages for up to timeout seconds (returns at the first batch)."""
        ready, _, _ = select.select([self.sock], [], [], timeout)
        while ready:
            data = self.sock.recv(4096)
            self.messages.append((time.monotonic(), data.decode().splitlines()))
            ready, _, _ = select.select([self.sock], [], [], 0)

    def wait(self, line, timeout=5, start=0):
        """Waits for a message holding `line` (exactly, or a prefix ending in
        '='), at index >= start; returns its index."""
        deadline = time.monotonic() + timeout
        while True:
            for i in range(start, len(self.messages)):
                if any(x == line or (line.endswith("=") and x.startswith(line)) for x in self.messages[i][1]):
                    return i
            left = deadline - time.monotonic()
            check(left > 0, f"no {line} notification within {timeout} s; got {self.lines()}")
            self.poll(left)

    def lines(self, prefix=""):
        return [x for _, ls in self.messages for x in ls if x.startswith(prefix)]

    def times(self, line):
        return [t for t, ls in self.messages if line in ls]


def notify_daemon(n, config="", watchdog_pid=None):
    """A Daemon (not started) reporting to n, and the argv to start it with."""
    d = Daemon(config, env_extra={"NOTIFY_SOCKET": n.path, "WATCHDOG_USEC": str(WATCHDOG_USEC)}, start=False)
    if watchdog_pid == "self":
        # exec keeps the shell's pid, so $$ is maiod's pid
        return d, ["/bin/sh", "-c", 'WATCHDOG_PID=$$ exec "$@"', "sh"] + d.argv()
    if watchdog_pid is not None:
        d.env["WATCHDOG_PID"] = str(watchdog_pid)
    return d, d.argv()


def collect(n, seconds):
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        n.poll(0.1)


def test_notify():
    with Notify() as n:
        d, argv = notify_daemon(n, "[daemon]\nstatus_interval_sec = 1\n")
        with d:
            d.start(argv, wait=False)
            ready = n.wait("READY=1")
            # READY=1 promises the API answers: no retry here.
            check_eq(d.request("GET", "/v1/health", timeout=2)[0], 200, "health right after READY=1")
            n.wait("STATUS=", start=ready)
            status = n.lines("STATUS=")
            check(any(d.socket_path in s and "0 tenants" in s for s in status), f"STATUS lines: {status}")
            d.ok("POST", "/v1/tenants", {"name": "t"}, want=201)
            # status_interval_sec = 1: the line is refreshed and counts the tenant.
            wait_for(lambda: n.poll(0.2) or any("Serving 1 tenant " in s for s in n.lines("STATUS=")), 3,
                     "a STATUS= line counting the new tenant")

            collect(n, 2.0)
            check_watchdog(n.times("WATCHDOG=1"))

            # Clients holding connections open do not delay the exit.
            idle = d.connect()
            idle.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
            check(recv_response(idle, 2), "keep-alive request unanswered")
            partial = d.connect()
            partial.sendall(b"GET /v1/hea")
            mark = len(n.messages)
            d.stop(timeout=2)  # SIGTERM exits 0 within 2 s, even with clients connected
            n.wait("STOPPING=1", timeout=1, start=mark)
            idle.close()
            partial.close()
            check(not os.path.exists(d.socket_path), "maiod left its socket file behind")


def check_watchdog(times):
    check(len(times) >= 2, f"only {len(times)} WATCHDOG=1 pings")
    gaps = [b - a for a, b in zip(times, times[1:])]
    # sd-event pings between 1/2 and 3/4 of WATCHDOG_USEC; a gap of the whole
    # interval would have made systemd kill the service.
    check(max(gaps) < WATCHDOG_USEC / 1e6, f"watchdog gaps (s): {[round(g, 3) for g in gaps]}")
    span = times[-1] - times[0]
    check(len(times) - 1 >= span / (WATCHDOG_USEC * 0.75 / 1e6) - 1, f"{len(times)} pings in {span:.2f} s")


def test_watchdog_pid():
    for pid, expect in (("self", True), (1, False)):
        with Notify() as n:
            d, argv = notify_daemon(n, watchdog_pid=pid)
            with d:
                d.start(argv, wait=False)
                n.wait("READY=1")
                collect(n, 1.5)
                pings = n.times("WATCHDOG=1")
                if expect:
                    check_watchdog(pings)
                else:
                    check_eq(pings, [], "WATCHDOG=1 pings with WATCHDOG_PID of another process")


def test_reload():
    port = free_port()
    with Notify() as n:
        d, argv = notify_daemon(n, "[tenants]\nmax_tenants = 1\n")
        with d:
            d.start(argv)
            d.ok("POST", "/v1/tenants", {"name": "a"}, want=201)
            d.check_error("POST", "/v1/tenants", {"name": "b"}, status=409, code="conflict")

            # A broken file is rejected and the old configuration stays.
            d.write_config("[tenants]\nmax_tenants = 5\n[api]\nmax_connections = lots\n")
            mark = len(n.messages)
            d.signal(signal.SIGHUP)
            wait_for(lambda: "rejected" in d.log(), 3, "the rejected reload in the log")
            n.wait("READY=1", start=n.wait("RELOADING=1", start=mark))
            m = d.metrics()
            check_eq(m["maiod_config_reload_failures_total"], 1.0, "reload failures")
            check_eq(m["maiod_config_reloads_total"], 0.0, "reloads")
            d.check_error("POST", "/v1/tenants", {"name": "b"}, status=409, code="conflict")
            check(any("max_connections" in line and "rejected" in line for line in d.log().splitlines()),
                  "the rejection does not name the bad key")

            # A valid change takes effect: a TCP listener appears, the limit grows.
            d.write_config(f"[tenants]\nmax_tenants = 5\n[api]\nlisten = 127.0.0.1:{port}\n")
            d.signal(signal.SIGHUP)
            wait_for(lambda: d.metrics()["maiod_config_reloads_total"] == 1.0, 3, "a successful reload")
            d.tcp = ("127.0.0.1", port)
            check_eq(d.ok("GET", "/v1/health", tcp=True), {"status": "ok"}, "TCP health after the reload")
            check_eq(d.ok("GET", "/v1/status")["listeners"]["tcp"], f"127.0.0.1:{port}", "status.listeners.tcp")
            d.ok("POST", "/v1/tenants", {"name": "b"}, want=201)
            check_eq(d.metrics()["maiod_config_reload_failures_total"], 1.0, "failures after a good reload")

            # Taking the listener out of the file closes it.
            d.write_config("[tenants]\nmax_tenants = 5\n")
            d.signal(signal.SIGHUP)
            wait_for(lambda: d.metrics()["maiod_config_reloads_total"] == 2.0, 3, "the second reload")
            check_eq(d.ok("GET", "/v1/status")["listeners"]["tcp"], None, "status.listeners.tcp after removal")
            try:
                d.request("GET", "/v1/health", tcp=True, timeout=2)
                raise AssertionError("the TCP listener still answers after its removal")
            except ConnectionRefusedError:
                pass


@needs("socket-activation", "systemd-socket-activate(1) (Debian package systemd)")
def test_socket_activation():
    tool = shutil.which("systemd-socket-activate")
    if not tool:
        raise Skip("systemd-socket-activate is not installed")
    with Daemon(start=False) as d:
        # Not the default path below the runtime dir: the daemon must use what it is given.
        path = os.path.join(d.tmp, "activated.sock")
        passenv = [f"-E{k}" for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS") if k in os.environ]
        d.socket_path = path
        d.start([tool, "-l", path] + passenv + ["--"] + d.argv())
        s = d.ok("GET", "/v1/status")
        check_eq(s["pid"], d.proc.pid, "the activated process is maiod itself")
        check("passed by systemd" in d.log(), "the log does not mention the passed socket")
        check(not os.path.exists(os.path.join(d.runtime_dir, "maiod.sock")),
              "maiod bound its own socket besides the passed one")
        d.ok("POST", "/v1/tenants", {"name": "t"}, want=201)
        check_eq(s["listeners"]["unix"], path, "status.listeners.unix of an activated daemon")
        d.stop()
        # The socket belongs to whoever passed it: it stays for the next activation.
        check(os.path.exists(path), "maiod removed the socket it was passed")


def pid_gone(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_detach():
    pid = None
    with Daemon(start=False) as d:
        try:
            launcher = subprocess.run(d.argv(foreground=False), env=d.env, stdin=subprocess.DEVNULL,
                                      capture_output=True, timeout=10)
            check_eq(launcher.returncode, 0, f"launcher exit status (stderr {launcher.stderr!r})")
            # The launcher returns only once the API answers: no retries.
            s = d.ok("GET", "/v1/status", timeout=2)
            pid = s["pid"]
            check(os.path.realpath(f"/proc/{pid}/exe") == os.path.realpath(env("MAIOD")),
                  f"pid {pid} from /v1/status is not maiod")
            check_eq(os.getsid(pid), pid, "the detached daemon leads its own session")
            with open(f"/proc/{pid}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            check(ppid != os.getpid(), "the detached daemon is still the test's child")
            d.ok("POST", "/v1/tenants", {"name": "t"}, want=201)
            os.kill(pid, signal.SIGTERM)
            wait_for(lambda: pid_gone(pid), 2, "the detached maiod to exit after SIGTERM")
            pid = None
            check(not os.path.exists(d.socket_path), "the detached maiod left its socket file behind")

            # A launch that fails says why on the terminal and exits 1.
            d.write_config("[api]\nmax_connections = lots\n")
            bad = subprocess.run(d.argv(foreground=False), env=d.env, stdin=subprocess.DEVNULL,
                                 capture_output=True, timeout=10)
            check_eq(bad.returncode, 1, "launcher exit status with a broken configuration")
            check(b"max_connections" in bad.stderr, f"launcher stderr: {bad.stderr!r}")
        finally:
            if pid is not None and not pid_gone(pid):
                os.kill(pid, signal.SIGKILL)


if __name__ == "__main__":
    main([test_notify, test_watchdog_pid, test_reload, test_socket_activation, test_detach], needs_root=False)
