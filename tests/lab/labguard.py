#!/usr/bin/env python3
"""Safety guard of the leak lab: no BPF program may get attached outside the lab.

  labguard.py snapshot CG2_MOUNT FILE     record the cgroup attachments outside any lab cgroup
  labguard.py check CG2_MOUNT FILE [--rescue]
        print every attachment outside the lab cgroups that is not in the snapshot;
        exit 3 if there is one. With --rescue, detach it (link detach, else prog detach).

"Outside the lab" = any cgroup of the cgroup2 hierarchy that is not below a
/tunlock-* cgroup (the labs' /tunlock-lab-<id>, and by the same convention the
project's other test and benchmark cgroups, which the guard must not disturb),
including the root. The agent under test runs in a lab
network namespace, so it cannot reach the initial namespace's interfaces; the
cgroup hierarchy is the one place a bug could reach the whole machine.
Needs bpftool; without it, snapshot and check do nothing (exit 0).
"""
import json
import os
import shutil
import subprocess
import sys


# bounded, but generous: walking every cgroup takes long on a loaded machine with many labs
# (20 s was not enough under two CPU hogs)
TIMEOUT = 120


# `bpftool cgroup tree` fails (with nothing on stderr) when a cgroup goes while it walks the
# hierarchy, as other labs' and tests' cgroups do: try again, a bounded number of times
ATTEMPTS = 5


def bpftool(*args):
    for _ in range(ATTEMPTS):
        r = subprocess.run(["bpftool", "-j", *args], capture_output=True, text=True, timeout=TIMEOUT)
        if r.returncode == 0:
            return json.loads(r.stdout or "[]")
    raise RuntimeError("bpftool %s: %s (%d attempts)" % (" ".join(args), r.stderr.strip(), ATTEMPTS))


def outside(mnt):
    out = set()
    for cg in bpftool("cgroup", "tree", mnt):
        path = cg.get("cgroup", "")
        rel = path[len(mnt):] if path.startswith(mnt) else path
        if rel.startswith("/tunlock-"):
            continue
        for p in cg.get("programs", []):
            out.add("%s\t%s\t%s\t%s" % (path, p.get("attach_type"), p.get("id"), p.get("name", "")))
    return out


def cgroup_id(path):
    return os.stat(path).st_ino


def rescue(entry):
    path, atype, pid, _ = entry.split("\t")
    pid = int(pid)
    try:
        cgid = cgroup_id(path)
        for ln in bpftool("link", "show"):
            if ln.get("prog_id") == pid and ln.get("cgroup_id") == cgid:
                r = subprocess.run(["bpftool", "link", "detach", "id", str(ln["id"])],
                                   capture_output=True, text=True, timeout=TIMEOUT)
                print("labguard: link detach id %s -> %d %s" % (ln["id"], r.returncode, r.stderr.strip()))
                return
    except Exception as e:  # noqa: BLE001 - best effort rescue
        print("labguard: link lookup failed: %s" % e)
    r = subprocess.run(["bpftool", "cgroup", "detach", path, atype, "id", str(pid)],
                       capture_output=True, text=True, timeout=TIMEOUT)
    print("labguard: cgroup detach %s %s id %d -> %d %s" % (path, atype, pid, r.returncode, r.stderr.strip()))


def main():
    if len(sys.argv) < 4 or sys.argv[1] not in ("snapshot", "check"):
        print(__doc__, file=sys.stderr)
        return 2
    if shutil.which("bpftool") is None:
        return 0
    cmd, mnt, f = sys.argv[1], sys.argv[2].rstrip("/") or "/", sys.argv[3]
    now = outside(mnt)
    if cmd == "snapshot":
        with open(f, "w") as fh:
            fh.write("\n".join(sorted(now)) + "\n")
        return 0
    try:
        with open(f) as fh:
            before = {ln.rstrip("\n") for ln in fh if ln.strip()}
    except FileNotFoundError:
        before = set()
    new = sorted(now - before)
    for e in new:
        print("labguard: NEW ATTACHMENT OUTSIDE THE LAB: %s" % e.replace("\t", " "))
        if "--rescue" in sys.argv[4:]:
            rescue(e)
    return 3 if new else 0


if __name__ == "__main__":
    sys.exit(main())
