#!/usr/bin/env python3
"""What BPF the agent left where, seen through bpftool (JSON).

  labbpf.py cgroup CGDIR      ids of the programs attached at cgroup CGDIR (not inherited), one a line
  labbpf.py pinned PINDIR     ids of the programs that pins under PINDIR hold (pinned programs and
                              the programs of pinned links), one a line
  labbpf.py links PINDIR      "LINK_ID PROG_ID" of every link pinned under PINDIR, one a line
  labbpf.py tc NETNS DEV      ids of the programs of DEV's TC egress filters in network namespace NETNS
  labbpf.py alive ID...       the ids among ID... that still exist, one a line
Exit 0; exit 2 if bpftool is missing or fails.
"""
import json
import shutil
import subprocess
import sys


# bounded, but generous: bpftool walks are slow on a loaded machine
TIMEOUT = 120


def bpftool(*args):
    r = subprocess.run(["bpftool", "-j", *args], capture_output=True, text=True, timeout=TIMEOUT)
    if r.returncode != 0:
        raise RuntimeError(r.stderr.strip())
    return json.loads(r.stdout or "[]")


def under(paths, d):
    d = d.rstrip("/") + "/"
    return any(p.startswith(d) for p in paths or [])


def main():
    if shutil.which("bpftool") is None or len(sys.argv) < 2:
        return 2
    cmd, args = sys.argv[1], sys.argv[2:]
    try:
        if cmd == "cgroup":
            ids = [p["id"] for p in bpftool("cgroup", "show", args[0])]
        elif cmd == "pinned":
            ids = [p["id"] for p in bpftool("-f", "prog", "show") if under(p.get("pinned"), args[0])]
            ids += [ln["prog_id"] for ln in bpftool("-f", "link", "show") if under(ln.get("pinned"), args[0])]
        elif cmd == "links":
            for ln in sorted(bpftool("-f", "link", "show"), key=lambda x: x["id"]):
                if under(ln.get("pinned"), args[0]):
                    print("%d %d" % (ln["id"], ln["prog_id"]))
            return 0
        elif cmd == "tc":
            r = subprocess.run(["ip", "netns", "exec", args[0], "bpftool", "-j", "net", "show", "dev", args[1]],
                               capture_output=True, text=True, timeout=TIMEOUT)
            nets = json.loads(r.stdout or "[]")
            ids = [f["id"] for n in nets for f in n.get("tc", []) if f.get("kind") == "clsact/egress"]
        elif cmd == "alive":
            have = {p["id"] for p in bpftool("prog", "show")}
            ids = [int(a) for a in args if int(a) in have]
        else:
            return 2
    except (RuntimeError, ValueError, KeyError, IndexError) as e:
        print("labbpf: %s" % e, file=sys.stderr)
        return 2
    for i in sorted(set(ids)):
        print(i)
    return 0


if __name__ == "__main__":
    sys.exit(main())
