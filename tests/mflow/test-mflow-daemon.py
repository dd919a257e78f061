#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# MFLOW run by maiod on a two-host container overlay built from network namespaces: hosts A and B
# joined by an underlay veth, a VXLAN device (VNI 42, dstport 4789) on a bridge in each, and a
# container namespace on a veth per host. maiod runs inside host B's namespace on B's underlay
# device, with its maps pinned in a bpffs this test mounts (so pins outlive a maiod), tiering off
# and a root of its own (nothing written outside the namespaces). Checked: elephants detected
# within 1 s with their inner 5-tuple and VNI, 2 splitting cores each carrying >= 30% of the packets,
# the TCP stream intact byte for byte, mice never split, in split, flowlet and adaptive mode (the
# default; each flow's choice, setting and reason shown, its windows judged, each logged change one
# rung in the direction its excess calls for); flows belong to the tenant whose process lives in the
# receiving container (its namespace's address), seen by that tenant's uid and token only; bad
# tenant addresses and bad API input
# answered 400; with the sender's TX checksum offload on, the split flow stalls and is put back to
# pass-through within 2 s, with an event saying why; with splitting cores for one elephant, a tenant of
# priority 0 takes them from a priority-5 tenant's elephant (back to pass-through, its state_reason
# naming the scheduler) until its own flow goes idle; a clean stop leaves no XDP program, tc filter or pin; SIGKILL then restart adopts
# (device still configured) or detaches (device dropped) and says which; a foreign XDP program is
# left alone and reported.
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.environ.get("MAIO_SOURCE_ROOT", ""), "tests", "integration"))
import maiotest  # noqa: E402
from maiotest import check, check_eq, Daemon, Skip  # noqa: E402

XDP_TEST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "test-mflow-xdp")
TCP_PORT, UDP_PORT, MICE_PORT = 5301, 5302, 5303
TAG = f"mfd{os.getpid()}"
HA, HB, CA, CB = TAG + "ha", TAG + "hb", TAG + "ca", TAG + "cb"
UA, UB = "und" + TAG[3:][-8:] + "a", "und" + TAG[3:][-8:] + "b"


def sh(*args, check_rc=True):
    p = subprocess.run(args, capture_output=True, text=True)
    if check_rc and p.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {p.returncode}: {p.stderr.strip()}")
    return p


def nsx(ns, *args, **kw):
    return sh("ip", "netns", "exec", ns, *args, **kw)


def role(ns, *args):
    return subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, XDP_TEST, *map(str, args)],
                            stdout=subprocess.PIPE, text=True)


def build_overlay():
    for ns in (HA, HB, CA, CB):
        sh("ip", "netns", "add", ns)
    sh("ip", "link", "add", UA, "netns", HA, "type", "veth", "peer", "name", UB, "netns", HB)
    for host, cont, dev, me, peer in ((HA, CA, UA, "1", "2"), (HB, CB, UB, "2", "1")):
        sh("ip", "-n", host, "link", "set", "lo", "up")
        sh("ip", "-n", host, "addr", "add", f"10.79.0.{me}/24", "dev", dev)
        sh("ip", "-n", host, "link", "set", dev, "up")
        sh("ip", "-n", host, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", host, "link", "set", "br0", "up")
        sh("ip", "-n", host, "link", "add", "vx42", "type", "vxlan", "id", "42", "dstport", "4789",
           "local", f"10.79.0.{me}", "remote", f"10.79.0.{peer}", "dev", dev)
        sh("ip", "-n", host, "link", "set", "vx42", "master", "br0", "up")
        sh("ip", "-n", host, "link", "add", "port0", "type", "veth", "peer", "name", "eth0", "netns", cont)
        sh("ip", "-n", host, "link", "set", "port0", "master", "br0", "up")
        sh("ip", "-n", cont, "link", "set", "lo", "up")
        sh("ip", "-n", cont, "link", "set", "eth0", "mtu", "1450")
        sh("ip", "-n", cont, "addr", "add", f"10.80.0.{me}/24", "dev", "eth0")
        sh("ip", "-n", cont, "link", "set", "eth0", "up")
    # Redirected packets lose their checksum state on veth: the senders checksum themselves.
    nsx(HA, "ethtool", "-K", UA, "tx", "off")
    nsx(CA, "ethtool", "-K", "eth0", "tx", "off")


def teardown_overlay():
    for ns in (HA, HB, CA, CB):
        sh("ip", "netns", "del", ns, check_rc=False)


class Env:
    """The overlay, the bpffs, and a root for maiod: a copy of a fixture tree whose CPU facts are
    the host's (read-only links into /proc and /sys), so nothing maiod might write lands outside."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="maio-mflow-")
        self.bpffs = os.path.join(self.tmp, "bpffs")
        self.root = os.path.join(self.tmp, "root")
        shutil.copytree(maiotest.fixture("host-bare"), self.root, symlinks=True)
        cpu = os.path.join(self.root, "sys", "devices", "system", "cpu")
        os.makedirs(cpu, exist_ok=True)
        with open("/sys/devices/system/cpu/online") as f, open(os.path.join(cpu, "online"), "w") as g:
            g.write(f.read())
        os.makedirs(os.path.join(self.root, "proc"), exist_ok=True)
        for name in ("softirqs", "stat", "interrupts"):
            shutil.copyfile(f"/proc/{name}", os.path.join(self.root, "proc", name))
        os.makedirs(self.bpffs)
        sh("mount", "-t", "bpf", "bpf", self.bpffs)
        self.mounted = True
        self.online = 0
        for part in open("/sys/devices/system/cpu/online").read().strip().split(","):
            lo, _, hi = part.partition("-")
            self.online += int(hi or lo) - int(lo) + 1

    def close(self):
        if self.mounted:
            sh("umount", self.bpffs, check_rc=False)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def pins(self, dev=UB):
        d = os.path.join(self.bpffs, "maio", dev)
        return sorted(os.listdir(d)) if os.path.isdir(d) else []


API_PORT = 7470  # maiod's TCP listener inside host B's namespace (tenants' bearer tokens)


def config(env, devices=UB, mode=None, listen=False):
    """mode None: the default (adaptive)."""
    return ((f"[api]\nlisten = 127.0.0.1:{API_PORT}\n" if listen else "") +
            f"[tiering]\nbackend = off\n[mflow]\ndevices = {devices}\n" + (f"mode = {mode}\n" if mode else "") +
            f"batch = 64\nbpffs = {env.bpffs}/maio\ninterval_ms = 200\nidle_ms = 1500\n"
            f"elephant_bytes_per_sec = 4000000\nadaptive_window_ms = 400\n")


class NsDaemon(Daemon):
    def argv(self, foreground=True):
        return ["ip", "netns", "exec", HB] + super().argv(foreground)


def xdp_prog(ns, dev):
    """The XDP program id on dev, 0 for none."""
    out = json.loads(sh("ip", "-n", ns, "-j", "-d", "link", "show", "dev", dev).stdout)[0]
    x = out.get("xdp") or {}
    if "prog" in x:
        return x["prog"]["id"]
    for a in x.get("attached", []):
        return a.get("prog", {}).get("id", 0) or a.get("id", 0)
    return 0


def tc_filters(ns, dev):
    return sh("tc", "-n", ns, "filter", "show", "dev", dev, "ingress", check_rc=False).stdout.strip()


def run_traffic(d):
    """Mice, then a TCP elephant (verified byte for byte) and a UDP elephant, container A to B.
    Returns the flows maiod lists afterwards that an earlier run did not leave (new source ports)."""
    before = {(f["proto"], f["sport"], f["dport"]) for f in d.ok("GET", "/v1/flows")["flows"]}
    sink = role(CB, "mice-sink", MICE_PORT, 20)
    check("listening" in sink.stdout.readline(), "mice sink listening")
    nsx(CA, sys.executable, XDP_TEST, "mice", "10.80.0.2", str(MICE_PORT))
    check_eq(sink.wait(timeout=30), 0, "mice delivered")

    recv = role(CB, "tcp-recv", TCP_PORT)
    check("listening" in recv.stdout.readline(), "TCP receiver listening")
    t0 = time.monotonic()
    send = subprocess.Popen(["ip", "netns", "exec", CA, sys.executable, XDP_TEST, "tcp-send", "10.80.0.2",
                             str(TCP_PORT), "3"])
    seen = None
    while time.monotonic() - t0 < 3 and not seen:
        flows = d.ok("GET", "/v1/flows")["flows"]
        seen = [f for f in flows if f["dport"] == TCP_PORT and f["splitting_cores"]]
        time.sleep(0.1)
    seen_after = time.monotonic() - t0
    check_eq(send.wait(timeout=60), 0, "TCP sender finished")
    tcp = json.loads(recv.stdout.readline())
    recv.wait(timeout=30)
    check(tcp["bytes"] > 0 and tcp["intact"], f"TCP transfer intact: {tcp['bytes']} bytes")
    check(seen, "the TCP elephant got splitting cores while it ran")
    print(f"TCP elephant listed with its cores {seen_after:.2f} s after the sender started")

    count = 40000
    urecv = role(CB, "udp-recv", UDP_PORT, count)
    check("listening" in urecv.stdout.readline(), "UDP receiver listening")
    nsx(CA, sys.executable, XDP_TEST, "udp-send", "10.80.0.2", str(UDP_PORT), str(count), "1200")
    udp = json.loads(urecv.stdout.readline())
    urecv.wait(timeout=30)
    print(f"UDP: {udp['received']}/{count} datagrams, {udp['ooo']} out of order")
    check(udp["received"] > count // 2, "UDP elephant mostly delivered")
    return [f for f in d.ok("GET", "/v1/flows")["flows"] if (f["proto"], f["sport"], f["dport"]) not in before]


def wait_idle(d, limit=15.0):
    """Until every listed flow went idle (its cores released): the next run's flows are then the
    only ones not idle. Idle detection takes about 2 s; a loaded machine takes longer."""
    deadline = time.monotonic() + limit
    while True:
        busy = [f for f in d.ok("GET", "/v1/flows")["flows"] if f["state"] != "idle"]
        if not busy:
            return
        check(time.monotonic() < deadline, f"the flows went idle within {limit:.0f} s: {busy}")
        time.sleep(0.2)


def check_stall(d):
    port = TCP_PORT + 10
    recv = role(CB, "tcp-recv", port)
    check("listening" in recv.stdout.readline(), "TCP receiver listening")
    send = subprocess.Popen(["ip", "netns", "exec", CA, sys.executable, XDP_TEST, "tcp-send", "10.80.0.2",
                             str(port), "4"])
    split_at = stalled_at = None
    flow = None
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline and stalled_at is None:
        fl = [f for f in d.ok("GET", "/v1/flows")["flows"] if f["dport"] == port]
        if fl and fl[0]["splitting_cores"] and split_at is None:
            split_at = time.monotonic()
        if fl and "stalled" in (fl[0]["state_reason"] or ""):
            stalled_at, flow = time.monotonic(), fl[0]
        time.sleep(0.05)
    check_eq(send.wait(timeout=60), 0, "TCP sender finished")
    tcp = json.loads(recv.stdout.readline())
    recv.wait(timeout=30)
    check(split_at is not None, "the checksum-offloaded elephant was split")
    check(stalled_at is not None, "maiod noticed the stall")
    print("stalled flow:", json.dumps(flow))
    check(stalled_at - split_at <= 2.0 and flow["splitting_cores"] == [] and flow["mode"] == "pass",
          f"back to pass-through {stalled_at - split_at:.2f} s after the split")
    check(tcp["bytes"] > 0 and tcp["intact"], f"the stalled transfer recovered intact: {tcp['bytes']} bytes")
    events = [e for e in d.ok("GET", "/v1/events")["events"] if e["kind"] == "mflow-stall"]
    check(events and f":{port} " in events[0]["message"], f"an event says why: {events[:1]}")


def check_flows(flows, mode):
    for f in flows:
        print("flow:", json.dumps({k: f[k] for k in ("proto", "src", "sport", "dst", "dport", "vni", "state",
                                                     "splitting_cores", "packets_per_core", "detection_ms",
                                                     "ooo_per_million", "state_reason")}))
    check(not [f for f in flows if MICE_PORT in (f["sport"], f["dport"])], "no mouse was ever an elephant")
    for proto, port in (("tcp", TCP_PORT), ("udp", UDP_PORT)):
        fl = [f for f in flows if f["proto"] == proto and f["dport"] == port]
        check_eq(len(fl), 1, f"one {proto} elephant listed")
        f = fl[0]
        check(f["src"] == "10.80.0.1" and f["dst"] == "10.80.0.2" and f["vni"] == 42,
              f"{proto}: the inner 5-tuple and VNI 42, not the tunnel's: {f['src']} > {f['dst']} vni {f['vni']}")
        check(f["detection_ms"] < 1000, f"{proto}: detected {f['detection_ms']:.1f} ms after its first packet")
        check_eq(sorted(f["splitting_cores"]), [0, 1], f"{proto}: 2 splitting cores")
        check_eq(f["mode"], mode, f"{proto}: mode")
        total = sum(f["packets_per_core"])
        shares = [p / total for p in f["packets_per_core"]] if total else [0]
        check(total > 1000 and min(shares) >= 0.30,
              f"{proto}: each core carries >= 30% of the packets ({', '.join(f'{s:.0%}' for s in shares)} of {total})")


def check_adaptive(d, flows):
    st = d.ok("GET", "/v1/mflow")
    a = st["adaptive"]
    check(a["batches"] == [64, 128, 256, 512, 1024, 2048, 4096] and a["window_ms"] == 400,
          f"GET /v1/mflow shows the adaptive settings: {a}")
    for f in flows:
        ad = f["adaptive"]
        print("adaptive:", f["proto"], json.dumps({k: f[k] for k in ("batch", "flowlet_gap_us")}), json.dumps(ad))
        check(ad and ad["choice"] in ("batch", "flowlet") and ad["reason"],
              f"{f['proto']}: the choice and its reason: {ad}")
        if ad["choice"] == "batch":
            check(f["batch"] in a["batches"] and f["flowlet_gap_us"] is None, f"{f['proto']}: a batch of the ladder")
        else:
            check(f["flowlet_gap_us"] in a["gaps_us"], f"{f['proto']}: a gap of the ladder")
    tcp = [f for f in flows if f["proto"] == "tcp"][0]["adaptive"]
    # The 3 s transfer spans several 400 ms windows (a window with too few segments, as on a loaded
    # machine, is not judged): the controller judged its reordering at least once.
    check(tcp["windows"] >= 1 and tcp["excess_ooo_per_million"] is not None and tcp["min_share_percent"] is not None,
          f"tcp: windows judged with the excess and shares measured: {tcp}")
    udp = [f for f in flows if f["proto"] == "udp"][0]["adaptive"]
    check(udp["excess_ooo_per_million"] is None, "udp: no reordering measure (the tc counter sees TCP)")
    events = [e for e in d.ok("GET", "/v1/events")["events"] if e["kind"] == "mflow-adapt"]
    print(f"{len(events)} mflow-adapt events")
    for e in events:
        print("  ", e["message"])
        check_step(e["message"], a)


def check_step(message, a):
    """One logged change of the adaptive mode: one rung (or a switch of kind at the end of a
    ladder), in the direction the window's excess calls for."""
    m = re.search(r": (batch|flowlet) (\d+)(?: us)?(, gaps only)? -> (batch|flowlet) (\d+)(?: us)?(, gaps only)?: "
                  r"(.*?); excess (\d+) ppm, bound (\d+)", message)
    check(m, f"a change names both settings and the excess: {message}")
    k0, v0, g0, k1, v1, g1, why, excess, bound = m.group(1), int(m.group(2)), bool(m.group(3)), m.group(4), \
        int(m.group(5)), bool(m.group(6)), m.group(7), int(m.group(8)), int(m.group(9))
    rungs = {"batch": a["batches"], "flowlet": a["gaps_us"]}
    if k0 == k1 and (v0 == v1 or "larger batch" in why):
        # flowlet: the batch after gapless batches, or moves on gaps only, changed
        calmer = g1 and not g0 or "larger batch" in why
    elif k0 == k1:
        i0, i1 = rungs[k0].index(v0), rungs[k1].index(v1)
        check(abs(i1 - i0) == 1, f"one rung at a time: {message}")
        calmer = i1 > i0
    else:
        check(k0 == "batch" and v0 == a["batches"][-1] and v1 == a["gaps_us"][-1] or k0 == "flowlet",
              f"batch gives way to flowlet only from its largest batch, at the longest gap: {message}")
        calmer = k0 == "batch"
    if calmer:
        check(excess > bound, f"a calmer setting only over the bound: {message}")
    elif "uneven" not in why and "shorter gap" not in why:
        check(excess * 2 <= bound, f"a finer setting only after calm windows: {message}")


OTHER = 65533  # a second unprivileged uid


class Sleeper:
    """A process of uid nobody in container B's namespace, for a tenant found by its pid."""

    def __init__(self):
        self.proc = subprocess.Popen(["ip", "netns", "exec", CB, "setpriv", f"--reuid={maiotest.NOBODY}",
                                      f"--regid={maiotest.NOBODY}", "--clear-groups", "sleep", "600"])

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Subscriber:
    """A netlink subscriber to every tenant's notifications (root: an administrator) in host B's
    namespace, where maiod's netlink socket is; collects the notifications until finish()."""

    def __init__(self, d):
        self.proc = subprocess.Popen(["ip", "netns", "exec", HB, sys.executable, os.path.abspath(__file__),
                                      "subscriber", str(d.netlink_port)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        check_eq(json.loads(self.proc.stdout.readline()), {"subscribed": 200}, "a netlink subscriber in host B")

    def finish(self):
        self.proc.stdin.close()
        out = self.proc.stdout.read()
        self.proc.wait(timeout=10)
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def subscriber(port):
    """The subscriber's side (run inside host B's namespace): one JSON line per notification."""
    import select
    nl = maiotest.NlClient(int(port))
    print(json.dumps({"subscribed": nl.call("notify.subscribe").status}), flush=True)
    while not select.select([sys.stdin], [], [], 0)[0]:  # until the test closes our stdin
        n = nl.recv_notification(0.1)
        if n is not None:
            print(json.dumps({"event": n.event, "tenant": n.id, "lost": n.lost, "json": n.json}), flush=True)


def check_flow_notifications(notes, tenants):
    """flow-elephant and flow-split reached the subscriber for tenant b's TCP elephant, none lost."""
    b = tenants["b"]["id"]
    print("flow notifications:", [(n["event"], n["tenant"], n["json"].get("dport")) for n in notes
                                  if n["event"].startswith("flow-")])
    check(all(n["lost"] is None for n in notes), "no notification lost")
    for kind in ("flow-elephant", "flow-split"):
        got = [n for n in notes if n["event"] == kind and n["json"]["proto"] == "tcp" and n["json"]["dport"] == TCP_PORT]
        check(got and all(n["tenant"] == b and n["json"]["tenant"] == b for n in got),
              f"{kind} for tenant b's TCP elephant, with the flow: {got[:1]}")
    split = [n for n in notes if n["event"] == "flow-split" and n["json"]["dport"] == TCP_PORT][0]["json"]
    check_eq(sorted(split["splitting_cores"]), [0, 1], "flow-split names the splitting cores")


def register_tenants(d, env):
    """Tenant b of uid nobody by the pid of its process in container B (whose namespace holds
    10.80.0.2), tenant x of another uid with declared addresses no flow uses; bad addresses are
    refused. Returns (sleeper, {name: tenant})."""
    sleeper = Sleeper()
    time.sleep(0.3)  # ip netns exec has entered the namespace and exec'd sleep
    # maiod reads ROOT/proc/PID/net: the test's root gets the real process's entry.
    os.symlink(f"/proc/{sleeper.proc.pid}", os.path.join(env.root, "proc", str(sleeper.proc.pid)))
    for addrs, what in ((["nope"], "not an address"), ("10.0.0.1", "not an array"), (["0.0.0.0"], "unspecified"),
                        (["10.0.0.1", "10.0.0.1"], "twice"), ([f"10.0.1.{i}" for i in range(17)], "17 addresses")):
        st, _, data = d.request("POST", "/v1/tenants", {"name": "bad", "addresses": addrs})
        check_eq(st, 400, f"addresses {what}: {data}")
        print(f"400 for addresses {what}: {data['error']['message']}")
    b = d.ok("POST", "/v1/tenants", {"name": "b", "pid": sleeper.proc.pid}, want=201, as_uid=maiotest.NOBODY)
    x = d.ok("POST", "/v1/tenants", {"name": "x", "addresses": ["10.99.0.1", "fd00:0:0::1"]}, want=201,
             as_uid=OTHER)
    check_eq(x["addresses"], ["10.99.0.1", "fd00::1"], "declared addresses normalised")
    check_eq(b["addresses"], None, "no declared addresses")
    return sleeper, {"b": b, "x": x}


def tcp_flows(token):
    """GET /v1/flows over maiod's TCP listener in host B's namespace with a tenant's token."""
    out = nsx(HB, "curl", "-sS", "--max-time", "10", "-H", f"Authorization: Bearer {token}",
              f"http://127.0.0.1:{API_PORT}/v1/flows").stdout
    return json.loads(out)["flows"]


def check_attribution(d, flows, tenants):
    b, x = tenants["b"], tenants["x"]
    for f in flows:
        check_eq(f["tenant"], b["id"], f"{f['proto']}: the flow to 10.80.0.2 is tenant b's (pid in its namespace)")
    # On the unix socket the peer's uid is the identity: b's owner sees b's flows, x's owner none.
    mine = d.ok("GET", "/v1/flows", as_uid=maiotest.NOBODY)["flows"]
    check(mine and all(f["tenant"] == b["id"] for f in mine), f"tenant b's owner sees its flows: {len(mine)}")
    check_eq(d.ok("GET", "/v1/flows", as_uid=OTHER)["flows"], [], "tenant x's owner sees none")
    check_eq(d.ok("GET", "/v1/flows", as_uid=OTHER - 1)["flows"], [], "a uid without tenants sees none")
    # Over TCP the bearer token is the identity: each tenant sees its own flows.
    mine = tcp_flows(b["token"])
    check(mine and all(f["tenant"] == b["id"] for f in mine), f"tenant b's token sees its flows: {len(mine)}")
    check_eq(tcp_flows(x["token"]), [], "tenant x's token sees none")
    events = [e for e in d.ok("GET", f"/v1/tenants/{b['id']}/events", as_uid=maiotest.NOBODY)["events"]
              if e["kind"] == "mflow-elephant"]
    check(events, "the elephant events are in tenant b's events")


def splitting_rows(d):
    res = [r for r in d.ok("GET", "/v1/allocations")["resources"] if r["name"] == "splitting_cores"]
    check_eq(len(res), 1, "one splitting_cores resource")
    return res[0]["capacity"], {t["id"]: t for t in res[0]["tenants"]}


def check_priority_split(env):
    """Splitting cores are the scheduler's: with room for one elephant (flows_per_core 1,
    cores_per_flow = the CPUs), tenant hi (priority 0) takes it from tenant lo (priority 5), whose
    elephant came first and goes back to pass-through saying why; when hi's flow goes idle, lo's
    is split again. Each tenant declares one of two extra addresses of container B."""
    if env.online > 8:
        print(f"priority split skipped: cores_per_flow cannot cover {env.online} CPUs")
        return
    for a in ("10.80.0.3", "10.80.0.4"):
        nsx(CB, "ip", "addr", "add", f"{a}/32", "dev", "eth0")
    extra = f"flows_per_core = 1\ncores_per_flow = {env.online}\n"
    with NsDaemon(config=config(env, mode="split") + extra, root=env.root) as d:
        if d.ok("GET", "/v1/mflow")["devices"][0]["attached"] == "none":
            raise Skip("the kernel refuses the BPF programs")
        hi = d.ok("POST", "/v1/tenants", {"name": "hi", "priority": 0, "addresses": ["10.80.0.3"]}, want=201)["id"]
        lo = d.ok("POST", "/v1/tenants", {"name": "lo", "priority": 5, "addresses": ["10.80.0.4"]}, want=201)["id"]
        ports = {lo: TCP_PORT + 21, hi: TCP_PORT + 20}
        recvs = {t: role(CB, "tcp-recv", port) for t, port in ports.items()}
        for r in recvs.values():
            check("listening" in r.stdout.readline(), "TCP receiver listening")

        def flow(flows, t):
            got = [f for f in flows if f["dport"] == ports[t] and f["state"] != "idle"]
            return got[0] if got else None

        def wait_flows(what, cond, timeout=4):
            deadline, flows = time.monotonic() + timeout, []
            while time.monotonic() < deadline:
                flows = d.ok("GET", "/v1/flows")["flows"]
                if cond(flows):
                    return flows
                time.sleep(0.1)
            raise AssertionError(f"{what}: {json.dumps([f for f in flows if f['dport'] in ports.values()])}")

        sends = [subprocess.Popen(["ip", "netns", "exec", CA, sys.executable, XDP_TEST, "tcp-send", "10.80.0.4",
                                   str(ports[lo]), "9"])]
        wait_flows("lo's elephant split while alone", lambda fl: flow(fl, lo) and flow(fl, lo)["splitting_cores"])
        sends.append(subprocess.Popen(["ip", "netns", "exec", CA, sys.executable, XDP_TEST, "tcp-send", "10.80.0.3",
                                       str(ports[hi]), "2"]))
        flows = wait_flows("hi's elephant split, lo's back to pass-through",
                           lambda fl: flow(fl, hi) and flow(fl, hi)["splitting_cores"] and flow(fl, lo)
                           and not flow(fl, lo)["splitting_cores"])
        f_hi, f_lo = flow(flows, hi), flow(flows, lo)
        print("hi:", json.dumps(f_hi))
        print("lo:", json.dumps(f_lo))
        check_eq((f_hi["tenant"], f_lo["tenant"]), (hi, lo), "the flows belong to hi and lo")
        check(f_lo["state"] == "elephant" and "splitting_cores" in (f_lo["state_reason"] or ""),
              f"lo's state_reason names the scheduler: {f_lo['state_reason']}")
        check_eq(d.metrics().get("maiod_mflow_elephants_waiting"), 1, "one elephant waits for splitting cores")
        capacity, rows = splitting_rows(d)
        check_eq(capacity, env.online, "capacity: the CPUs x flows_per_core")
        check_eq((rows[hi]["allocation"], rows[lo]["allocation"]), (env.online, 0), f"hi's share, not lo's: {rows}")
        # hi's sender ends; once its flow is idle (idle_ms) the slots are lo's again
        wait_flows("lo's elephant split again after hi's went idle",
                   lambda fl: flow(fl, hi) is None and flow(fl, lo) and flow(fl, lo)["splitting_cores"], timeout=6)
        for p in sends:
            check_eq(p.wait(timeout=60), 0, "TCP sender finished")
        for r in recvs.values():
            got = json.loads(r.stdout.readline())
            r.wait(timeout=30)
            check(got["bytes"] > 0 and got["intact"], f"TCP transfer intact: {got['bytes']} bytes")
        kinds = [e["message"] for e in d.ok("GET", "/v1/events")["events"] if e["kind"] == "mflow-assign"]
        check(any("back to pass-through" in m for m in kinds), "an event says lo's flow went back to pass-through")
    for a in ("10.80.0.3", "10.80.0.4"):
        nsx(CB, "ip", "addr", "del", f"{a}/32", "dev", "eth0")


def test_mflow_daemon():
    if sh("ip", "netns", "add", TAG + "probe", check_rc=False).returncode != 0:
        raise Skip("cannot create a network namespace")
    sh("ip", "netns", "del", TAG + "probe")
    env = Env()
    loose = []
    try:
        build_overlay()
        check_priority_split(env)
        with NsDaemon(config=config(env, mode="split", listen=True), root=env.root) as d:
            st = d.ok("GET", "/v1/mflow")
            dev = st["devices"][0]
            print("device:", json.dumps(dev))
            if dev["attached"] == "none" and "load" in (dev["error"] or ""):
                raise Skip(f"the kernel refuses the BPF programs: {dev['error']}")
            check(dev["name"] == UB and dev["attached"] in ("native", "generic") and dev["conflict"] is None,
                  f"maiod attached to {UB} ({dev['attached']} XDP)")
            check(f"attached to {UB} in {dev['attached']} XDP mode" in d.log(), "the log says which XDP mode")
            check(env.pins() and "maio_flows" in env.pins(), f"maps pinned: {env.pins()}")
            check(xdp_prog(HB, UB) != 0, "an XDP program on the device")

            check_flows(run_traffic(d), "split")
            sched = d.ok("GET", "/v1/scheduler")["events"]
            check(sched["flow"] >= 2, f"the elephants reached the scheduler as flow events: {sched}")
            ctl = os.environ["MAIOCTL"]
            out = sh(ctl, "--socket", d.socket_path, "flows").stdout
            check(f"10.80.0.1:" in out and f"10.80.0.2:{TCP_PORT}" in out and "0,1" in out, f"maioctl flows:\n{out}")
            out = sh(ctl, "--socket", d.socket_path, "mflow", "list").stdout
            check(UB in out and dev["attached"] in out, f"maioctl mflow list:\n{out}")
            print(out)
            events = d.ok("GET", "/v1/events")
            kinds = {e["kind"] for e in events["events"]}
            check({"mflow-elephant", "mflow-assign"} <= kinds, f"detection and assignment events: {sorted(kinds)}")
            m = d.metrics()
            check(m.get("maiod_mflow_elephants_total", 0) >= 2, "maiod_mflow_elephants_total")
            check(m.get("maiod_mflow_splits_total", 0) >= 2, "maiod_mflow_splits_total")
            check(sum(v for k, v in m.items() if k.startswith("maiod_mflow_redirects_total{")) > 1000,
                  "maiod_mflow_redirects_total per CPU")

            # flowlet: the same overlay and checks
            got = d.ok("PUT", "/v1/mflow", {"device": UB, "mode": "flowlet", "flowlet_gap_us": 200})
            check_eq(got["mode"], "flowlet", "PUT /v1/mflow mode flowlet")
            wait_idle(d)  # the split flows go idle and are released
            check_flows(run_traffic(d), "flowlet")

            # adaptive: the same checks, and each split flow shows its choice, setting and reason;
            # the flows now belong to the tenant whose process lives in container B's namespace
            got = d.ok("PUT", "/v1/mflow", {"device": UB, "mode": "adaptive"})
            check_eq(got["mode"], "adaptive", "PUT /v1/mflow mode adaptive")
            owner, tenants = register_tenants(d, env)
            loose.append(owner)
            sub = Subscriber(d)
            loose.append(sub)
            wait_idle(d)
            flows = run_traffic(d)
            check_flows(flows, "adaptive")
            check_adaptive(d, flows)
            check_attribution(d, flows, tenants)
            check_flow_notifications(sub.finish(), tenants)

            # bad input
            for body, what in (({"device": "nosuch0", "mode": "split"}, "unknown device"),
                               ({"device": UB, "cores": [0, 99]}, "CPU out of range"),
                               ({"device": UB, "cores_per_flow": 0}, "cores_per_flow 0"),
                               ({"device": UB, "cores_per_flow": env.online + 1}, "cores_per_flow above the CPUs"),
                               ({"device": UB, "batch": 0}, "batch 0"),
                               ({"device": UB, "mode": "turbo"}, "unknown mode"),
                               ({"device": UB, "mode": ""}, "empty mode")):
                st, _, data = d.request("PUT", "/v1/mflow", body)
                check_eq(st, 400, f"{what}: status ({data})")
                print(f"400 for {what}: {data['error']['message']}")
            d.check_error("PUT", "/v1/mflow", {"mode": "split"}, 400)

            # TX checksum offload on at the sender: split packets arrive unchecksummed, the split flow
            # stalls, and maiod puts it back to pass-through within 2 s, saying why.
            d.ok("PUT", "/v1/mflow", {"device": UB, "mode": "split"})
            nsx(HA, "ethtool", "-K", UA, "tx", "on")
            nsx(CA, "ethtool", "-K", "eth0", "tx", "on")
            check_stall(d)

        # clean stop
        check_eq(xdp_prog(HB, UB), 0, "a clean stop leaves no XDP program")
        check_eq(env.pins(), [], "a clean stop leaves no pin")
        check("maio" not in tc_filters(HB, UB).lower(), "a clean stop leaves no tc filter")

        # SIGKILL, then a restart with the device still configured adopts
        d = NsDaemon(config=config(env), root=env.root)
        loose.append(d)  # outside a with-block: killed in the finally below if a check fails
        d.start()
        prog = xdp_prog(HB, UB)
        check(prog != 0, "attached again")
        check_eq(d.ok("GET", "/v1/mflow")["devices"][0]["mode"], "adaptive", "the default mode")
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        d.proc = None
        check(xdp_prog(HB, UB) == prog and env.pins(), "SIGKILL leaves the program and the pins")
        d.start()
        check("reconcile: adopting maiod's XDP program" in d.log(), "the restart says it adopts")
        check(xdp_prog(HB, UB) not in (0, prog), "adopted: the program replaced by the new run's")
        check_eq(d.ok("GET", "/v1/mflow")["devices"][0]["attached"] in ("native", "generic"), True, "attached")
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        d.proc = None
        # ... and with the device no longer configured it detaches
        d.write_config(config(env, devices=""))
        d.start()
        check("reconcile: detached maiod's XDP program" in d.log(), "the restart says it detached")
        check_eq(xdp_prog(HB, UB), 0, "reconciled: no XDP program")
        check_eq(env.pins(), [], "reconciled: no pin")
        check("maio" not in tc_filters(HB, UB).lower(), "reconciled: no tc filter")
        # PUT attaches a device [mflow] does not name; mode off detaches and unpins it again
        got = d.ok("PUT", "/v1/mflow", {"device": UB, "mode": "flowlet", "batch": 128})
        check(got["attached"] in ("native", "generic") and got["batch"] == 128 and xdp_prog(HB, UB) != 0,
              f"PUT attached {UB}: {got}")
        check(env.pins(), "PUT pinned the maps")
        got = d.ok("PUT", "/v1/mflow", {"device": UB, "mode": "off"})
        check(got["attached"] == "none" and xdp_prog(HB, UB) == 0 and env.pins() == [], "mode off detached and unpinned")
        d.ok("PUT", "/v1/mflow", {"device": UB, "mode": "split"})
        d.stop()
        check(xdp_prog(HB, UB) == 0 and env.pins() == [], "a clean stop after PUT leaves nothing")
        shutil.rmtree(d.tmp, ignore_errors=True)

        # a foreign XDP program is left alone and reported
        probe = subprocess.Popen(["ip", "netns", "exec", HB, os.path.join(os.environ["MAIO_BUILD_ROOT"], "tests", "mflow", "mflow-probe"), "--dev", "port0", "--xdp",
                                  "generic", "--cores", "0"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            check("ready" in probe.stdout.readline(), "a foreign XDP program on port0")
            foreign = xdp_prog(HB, "port0")
            with NsDaemon(config=config(env, devices=f"{UB} port0"), root=env.root) as d:
                devs = {x["name"]: x for x in d.ok("GET", "/v1/mflow")["devices"]}
                check(devs["port0"]["attached"] == "none" and devs["port0"]["conflict"],
                      f"port0 reported as a conflict: {devs['port0']['conflict']}")
                check(devs[UB]["attached"] != "none", f"{UB} attached beside it")
                conflicts = d.ok("GET", "/v1/status")["conflicts"]
                check([c for c in conflicts if c["kind"] == "xdp" and c["name"] == "port0"],
                      f"the conflict in /v1/status: {conflicts}")
                st, _, data = d.request("PUT", "/v1/mflow", {"device": "port0", "mode": "split"})
                check_eq(st, 409, f"PUT on the foreign device: {data}")
            check_eq(xdp_prog(HB, "port0"), foreign, "the foreign program is still there after maiod stopped")
        finally:
            probe.stdin.close()
            probe.wait(timeout=30)
    finally:
        for x in loose:
            x.kill()
            if getattr(x, "tmp", None):
                shutil.rmtree(x.tmp, ignore_errors=True)
        teardown_overlay()
        env.close()


if __name__ == "__main__":
    if sys.argv[1:2] == ["subscriber"]:
        sys.exit(subscriber(sys.argv[2]))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # meson's timeout: still clean up
    maiotest.main([test_mflow_daemon], needs="root, BPF with XDP and network namespaces")
