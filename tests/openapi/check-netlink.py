#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# The netlink API's three descriptions agree: every op of the ops table (ops-dump --netlink) has a
# unique command, named MAIO_CMD_<OP> with that number in api/maio_netlink.h, and a row in
# api/netlink.md's command table with its route, path parameter and field ids, names and types; an op
# with a typed reply has a row in the typed-reply table with its reply attributes, and only such ops;
# every netlink-only command of the daemon (ops-dump --netlink-only: the notifications') has its
# number in the header and a row, with its direction, in the doc's netlink-only table; and the
# header has no command that neither uses.
# Usage: check-netlink.py HEADER DOC OPS_DUMP [--self-test]
import re
import subprocess
import sys


def header_commands(text):
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"\bMAIO_CMD_([A-Z_]+)\s*=\s*(\d+)", text)}


def doc_rows(text):
    rows = {}
    for line in text.splitlines():
        m = re.match(r"\| (\d+) \| `MAIO_CMD_([A-Z_]+)` \| `([a-z._]+)` \| `([A-Z]+) (\S+)` \| (.*?) \| (.*?) \|$", line)
        if m:
            rows[m.group(3)] = m.groups()
    return rows


def doc_reply_rows(text):
    return {m.group(2): (m.group(1), m.group(3)) for m in
            (re.match(r"\| (\d+) \| `([a-z._]+)` \| (.*?) \|$", line) for line in text.splitlines()) if m}


def field_list(fields):
    return "" if fields == "-" else ", ".join(f"{i} `{n}` ({t})" for i, n, t in (f.split(":") for f in fields.split(",")))


def doc_only_rows(text):
    rows = {}
    for line in text.splitlines():
        m = re.match(r"\| (\d+) \| `MAIO_CMD_([A-Z_]+)` \| `([a-z._]+)` \| (request|notification) \|", line)
        if m:
            rows[m.group(3)] = m.groups()
    return rows


def check(header, doc, dump, rest, only):
    errors = []
    cmds = header_commands(header)
    rows = doc_rows(doc)
    only_rows = doc_only_rows(doc)
    replies = doc_reply_rows(doc)
    seen = set()
    for line, route in zip(dump.splitlines(), rest.splitlines()):
        cmd, name, params, fields, reply = line.split(" ")
        if reply != "-" and replies.get(name) != (cmd, field_list(reply)):
            errors.append(f"op {name}: api/netlink.md typed-reply row {replies.get(name)} should be "
                          f"{(cmd, field_list(reply))}")
        elif reply == "-" and name in replies:
            errors.append(f"api/netlink.md documents a typed reply of {name}, which replies JSON")
        method, path, _ = route.split(" ")
        const = name.upper().replace(".", "_")
        if int(cmd) == 0 or cmd in seen:
            errors.append(f"op {name}: command {cmd} is zero or used twice")
        seen.add(cmd)
        if cmds.get(const) != int(cmd):
            errors.append(f"op {name}: api/maio_netlink.h has MAIO_CMD_{const} = {cmds.get(const)}, the table {cmd}")
        want_params = {"id": "`MAIO_ATTR_ID`", "name": "`MAIO_ATTR_NAME`", "-": ""}[params]
        want_fields = field_list(fields)
        want = (cmd, const, name, method, path, want_params, want_fields)
        if rows.get(name) != want:
            errors.append(f"op {name}: api/netlink.md row {rows.get(name)} should be {want}")
        rows.pop(name, None)
    for name in rows:
        errors.append(f"api/netlink.md documents {name}, which the ops table does not have")
    for line in only.splitlines():
        cmd, name, direction = line.split(" ")
        const = name.upper().replace(".", "_")
        if int(cmd) == 0 or cmd in seen:
            errors.append(f"netlink-only command {name}: command {cmd} is zero or used twice")
        seen.add(cmd)
        if cmds.get(const) != int(cmd):
            errors.append(f"netlink-only command {name}: api/maio_netlink.h has MAIO_CMD_{const} = "
                          f"{cmds.get(const)}, the daemon {cmd}")
        want = (cmd, const, name, direction)
        if only_rows.get(name) != want:
            errors.append(f"netlink-only command {name}: api/netlink.md row {only_rows.get(name)} should be {want}")
        only_rows.pop(name, None)
    for name in only_rows:
        errors.append(f"api/netlink.md documents netlink-only command {name}, which the daemon does not have")
    for const, n in cmds.items():
        if str(n) not in seen and const not in ("UNSPEC",):
            errors.append(f"api/maio_netlink.h has MAIO_CMD_{const} = {n}, which no op nor netlink-only command uses")
    return errors


def main():
    header, doc, dump = (open(sys.argv[1]).read(), open(sys.argv[2]).read(),
                         subprocess.run([sys.argv[3], "--netlink"], capture_output=True, text=True, check=True).stdout)
    rest = subprocess.run([sys.argv[3]], capture_output=True, text=True, check=True).stdout
    only = subprocess.run([sys.argv[3], "--netlink-only"], capture_output=True, text=True, check=True).stdout
    if "--self-test" in sys.argv:
        # A renumbered command, a missing doc row, a wrong field type and a wrong typed reply must each
        # be caught, for the netlink-only commands too (and a header command nothing uses).
        broken = [(header.replace("MAIO_CMD_HEALTH = 1", "MAIO_CMD_HEALTH = 40"), doc),
                  (header, "\n".join(l for l in doc.splitlines() if "`tenants.get`" not in l)),
                  (header, doc.replace("2 `priority` (s64)", "2 `priority` (string)")),
                  (header, doc.replace("7 `access_rate` (double)", "7 `access_rate` (s64)")),
                  (header.replace("MAIO_CMD_NOTIFY_SUBSCRIBE = 27", "MAIO_CMD_NOTIFY_SUBSCRIBE = 41"), doc),
                  (header, "\n".join(l for l in doc.splitlines() if "`notify.unsubscribe`" not in l)),
                  (header, doc.replace("`notification` | notification |", "`notification` | request |")),
                  (header.replace("__MAIO_CMD_MAX", "MAIO_CMD_UNUSED = 99,\n__MAIO_CMD_MAX"), doc)]
        for i, (h, d) in enumerate(broken):
            if not check(h, d, dump, rest, only):
                print(f"FAIL: self-test case {i} was not caught")
                return 1
        print("self-test: every broken description caught")
        return 0
    errors = check(header, doc, dump, rest, only)
    for e in errors:
        print(f"FAIL: {e}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
