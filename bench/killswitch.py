#!/usr/bin/env python3
"""Helpers of bench/killswitch (bench/README.md).

  killswitch.py lists N FILE          the N allowed addresses (one a line, no prefix length)
  killswitch.py iperf JSON            "bits/s bytes" sent by an `iperf3 -J` client run (exit 1 if
                                      it failed)
  killswitch.py progs PINDIR NS DEV   "id name run_cnt run_time_ns" of the programs pinned
                                      under PINDIR (pinned programs and programs of pinned links)
                                      and of DEV's TC egress in netns NS
  killswitch.py progdiff N PATH A B   "prog N PATH name ns/run runs" from two `progs` outputs
  killswitch.py timed CMD...          run CMD; "seconds peak_rss_kB cpu_seconds" (exit 1 if CMD
                                      failed)
  killswitch.py report RESULTS        the table, the per-program costs and the targets
"""
import ipaddress
import json
import resource
import statistics
import subprocess
import sys
import time

# The reloads ks_agent_reload makes: of the same file, and of one with one allow rule changed.
RELOADS = (("same", "the same file, SIGHUP to applied"),
           ("changed", "one allow rule changed, file replaced to applied"))

CONFIGS = ("none", "hooks", "tunlock", "nftables")
PATHS = (("udp", "tunnel"), ("udp", "allowed"), ("udp", "dropped"), ("tcp", "allowed"), ("tcp", "tunnel"))


def lists(n, path):
    base = int(ipaddress.IPv4Address("100.64.0.0"))
    with open(path, "w") as f:
        for i in range(n):
            f.write("%s\n" % ipaddress.IPv4Address(base + 4 * (i + 1)))
    return 0


def iperf(text):
    try:
        d = json.loads(text)
        if d.get("error"):
            raise ValueError(d["error"])
        s = d["end"]["sum_sent"]
        if s["bytes"] <= 0:
            raise ValueError("no bytes sent")
    except (ValueError, KeyError, TypeError) as e:
        print("iperf3: %s" % (str(e) or text[:200]).replace("\n", " "))
        return 1
    print("%.0f %d" % (s["bits_per_second"], s["bytes"]))
    return 0


def bpftool(*args):
    r = subprocess.run(["bpftool", "-j", *args], capture_output=True, text=True, timeout=120)
    if r.returncode:
        raise RuntimeError(r.stderr.strip())
    return json.loads(r.stdout or "[]")


def under(paths, d):
    return any(p.startswith(d.rstrip("/") + "/") for p in paths or [])


def tc_egress(netns, dev):
    r = subprocess.run(["ip", "netns", "exec", netns, "bpftool", "-j", "net", "show", "dev", dev],
                       capture_output=True, text=True, timeout=120)
    if r.returncode:
        raise RuntimeError(r.stderr.strip())
    return {f["id"] for n in json.loads(r.stdout or "[]") for f in n.get("tc", [])
            if f.get("kind") == "clsact/egress"}


def progs(pindir, netns, dev):
    ids = {p["id"] for p in bpftool("-f", "prog", "show") if under(p.get("pinned"), pindir)}
    ids |= {ln["prog_id"] for ln in bpftool("-f", "link", "show") if under(ln.get("pinned"), pindir)}
    ids |= tc_egress(netns, dev)
    if not ids:
        print("no programs pinned under %s" % pindir, file=sys.stderr)
        return 1
    # one by one: a walk of every program on the machine can miss some while other jobs
    # load and unload theirs
    for i in sorted(ids):
        p = bpftool("prog", "show", "id", str(i))
        print(p["id"], p.get("name", "?"), p.get("run_cnt", 0), p.get("run_time_ns", 0))
    return 0


def progdiff(n, path, a, b):
    def read(f):
        with open(f) as fh:
            return {ln.split()[0]: ln.split() for ln in fh if ln.strip()}
    before, after = read(a), read(b)
    for pid, (_, name, cnt, ns) in sorted(after.items()):
        c0, t0 = (int(before[pid][2]), int(before[pid][3])) if pid in before else (0, 0)
        runs, t = int(cnt) - c0, int(ns) - t0
        if runs > 0:
            print("prog %s %s %s %.1f %d" % (n, path, name, t / runs, runs))
    return 0


def timed(cmd):
    t0 = time.monotonic()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    dt = time.monotonic() - t0
    if r.returncode:
        print("exit %d: %s" % (r.returncode, r.stderr.strip()[:300]))
        return 1
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    print("%.4f %d %.4f" % (dt, ru.ru_maxrss, ru.ru_utime + ru.ru_stime))
    return 0


def fmt_rate(proto, v):
    if v is None:
        return "-"
    return "%.2f Gbit/s" % (v / 1e9) if proto == "tcp" else "%.0f/s" % v


def fmt_ratio(v):
    return "-" if v is None else "%.2f" % v


def verdict(ok):
    return "meets" if ok else "misses"


class Results:
    def __init__(self, path):
        self.rate, self.agent, self.prog, self.check, self.nft = {}, {}, [], {}, {}
        self.restart, self.adopt, self.reload = {}, {}, {}
        self.rounds = {}  # (proto, path, n, cfg) -> {round: value}
        with open(path) as f:
            for ln in f:
                w = ln.split()
                if not w:
                    continue
                if w[0] in ("udp", "tcp") and w[4].isdigit():
                    self.rate.setdefault((w[0], w[3], int(w[1]), w[2]), []).append(float(w[5]))
                    self.rounds.setdefault((w[0], w[3], int(w[1]), w[2]), {})[w[4]] = float(w[5])
                elif w[0] == "agent":
                    self.agent.setdefault(int(w[1]), []).append((int(w[2]), int(w[3]), int(w[4]), int(w[5])))
                elif w[0] == "restart":
                    self.restart.setdefault(int(w[1]), []).append((int(w[2]), int(w[3]), int(w[4]), int(w[5])))
                elif w[0] == "adopt":
                    self.adopt.setdefault(int(w[1]), []).append(w[2])
                elif w[0] == "reload":
                    self.reload.setdefault((int(w[1]), w[2]), []).append(
                        tuple(int(x) if x != "-" else None for x in w[3:6]))
                elif w[0] == "prog":
                    self.prog.append((int(w[1]), w[2], w[3], float(w[4]), int(w[5])))
                elif w[0] == "check":
                    self.check[int(w[1])] = (float(w[2]), int(w[3]))
                elif w[0] == "nftload":
                    self.nft[int(w[1])] = int(w[2])
        self.ns = sorted({k[2] for k in self.rate} | set(self.agent) | set(self.restart))

    def med(self, proto, path, n, cfg):
        v = self.rate.get((proto, path, n, cfg))
        return statistics.median(v) if v else None

    def paired(self, proto, path, n, cfg, base):
        """cfg over base in each round: the two ran seconds apart, under the same load"""
        a, b = self.rounds.get((proto, path, n, cfg), {}), self.rounds.get((proto, path, n, base), {})
        return sorted(a[r] / b[r] for r in a if b.get(r))

    def ratio(self, proto, path, n, cfg, base="none"):
        v = self.paired(proto, path, n, cfg, base)
        return statistics.median(v) if v else None

    def spread(self, proto, path, n, cfg):
        v = self.paired(proto, path, n, cfg, "none")
        return "%.2f-%.2f" % (v[0], v[-1]) if len(v) > 1 else "-"


def report(path):
    r = Results(path)
    print()
    if r.rate:
        print("rates: median round; ratios: median over rounds of the ratio within a round "
              "(range over rounds)")
        print("%-8s %-4s %7s  %13s %13s %13s %13s  %-16s %-16s %-16s %s" % (
            "path", "", "N", "none", "hooks", "tunlock", "nftables", "hooks/none", "tunlock/none",
            "nft/none", "tunlock/hooks"))
        for proto, p in PATHS:
            for n in r.ns:
                print("%-8s %-4s %7d  %13s %13s %13s %13s  %-16s %-16s %-16s %s" % (
                    p, proto, n, *(fmt_rate(proto, r.med(proto, p, n, c)) for c in CONFIGS),
                    *("%s (%s)" % (fmt_ratio(r.ratio(proto, p, n, c)), r.spread(proto, p, n, c))
                      for c in ("hooks", "tunlock", "nftables")),
                    fmt_ratio(r.ratio(proto, p, n, "tunlock", "hooks"))))
        print("hooks: empty programs where tunlock attaches its own (connect4, sendmsg4, "
              "cgroup_skb egress, TC egress and ingress): the hooks' own cost, tunlock's floor")
        print("tunnel udp: a tun device nobody reads; tunnel tcp: a stream through wireguard-go "
              "(no kernel WireGuard here) to the VPN server's end")
        print()
        print("per program (kernel.bpf_stats_enabled, run_time_ns / run_cnt, one run of each path; "
              "tcp: the allow-listed TCP stream, tcp-tunnel: the one through the tunnel; "
              "empty_*: the hooks configuration):")
        for n, p, name, ns, runs in r.prog:
            print("  N=%-7d %-8s %-24s %7.1f ns/run  (%d runs)" % (n, p, name, ns, runs))
        print()
    for n in r.ns:
        a = r.agent.get(n, [])
        if a:
            print("agent N=%-7d run to enforcing %s ms (median %d of %d starts), CPU %d ms (median);"
                  " RSS %.1f MB, peak %.1f MB" % (
                      n, "/".join(str(x[0]) for x in a), statistics.median(x[0] for x in a), len(a),
                      statistics.median(x[3] for x in a), max(x[1] for x in a) / 1024,
                      max(x[2] for x in a) / 1024))
        a = r.restart.get(n, [])
        if a:
            print("agent N=%-7d restart to enforcing %s ms (median %d of %d), CPU %d ms (median); "
                  "programs %s" % (
                      n, "/".join(str(x[0]) for x in a), statistics.median(x[0] for x in a), len(a),
                      statistics.median(x[3] for x in a), "/".join(r.adopt.get(n, []))))
        for kind, what in RELOADS:
            a = r.reload.get((n, kind), [])
            if not a:
                continue
            parts = [x for x in a if x[1] is not None]
            print("agent N=%-7d reload under traffic, %s: %s ms (median %d of %d)%s" % (
                n, what, "/".join(str(x[0]) for x in a), statistics.median(x[0] for x in a), len(a),
                "; of it parse %d ms, apply %d ms (medians)" % (
                    statistics.median(x[1] for x in parts), statistics.median(x[2] for x in parts))
                if parts else ""))
        if n in r.check:
            print("check N=%-7d %.0f ms, peak RSS %.1f MB;  nft -f of the set: %s ms" % (
                n, r.check[n][0] * 1000, r.check[n][1] / 1024, r.nft.get(n, "-")))
    targets(r)
    return 0


def targets(r):
    lo, hi = r.ns[0], r.ns[-1]
    rows = []
    t = r.ratio("udp", "tunnel", hi, "tunlock")
    if t is not None:
        rows.append(("through the tunnel, UDP, N=%d: >= 0.95 of no filter" % hi, fmt_ratio(t), verdict(t >= 0.95)))
    t = r.ratio("tcp", "tunnel", hi, "tunlock")
    if t is not None:
        rows.append(("through the tunnel, TCP stream, N=%d: >= 0.98 of no filter" % hi, fmt_ratio(t),
                     verdict(t >= 0.98)))
    for proto in ("udp", "tcp"):
        for n in r.ns:
            a, b = r.ratio(proto, "allowed", n, "tunlock"), r.ratio(proto, "allowed", n, "nftables")
            if a is not None and b is not None:
                rows.append(("allow-listed, %s, N=%d: >= nftables' ratio + 0.10" % (proto.upper(), n),
                             "%.2f vs %.2f" % (a, b), verdict(a >= b + 0.10)))
    for n in r.ns:
        a = r.ratio("udp", "dropped", n, "tunlock", "nftables")
        if a is not None:
            rows.append(("dropped, UDP, N=%d: >= nftables' rate" % n, "%.2f of it" % a, verdict(a >= 1)))
    if hi != lo:
        for proto, p in PATHS:
            a, b = r.ratio(proto, p, lo, "tunlock"), r.ratio(proto, p, hi, "tunlock")
            if a and b is not None:
                rows.append(("%s %s: loses <= 5%% from N=%d to N=%d" % (p, proto.upper(), lo, hi),
                             "%.2f -> %.2f" % (a, b), verdict(b >= 0.95 * a)))
    if r.agent.get(hi):
        rss = max(x[1] for x in r.agent[hi]) / 1024
        rows.append(("agent RSS <= 10 MB, N=%d (no cgroup rules here)" % hi, "%.1f MB" % rss, verdict(rss <= 10)))
        for n in r.ns:
            if r.agent.get(n):
                m = statistics.median(x[0] for x in r.agent[n])
                rows.append(("run to enforcing <= 300 ms, N=%d" % n, "%d ms" % m, verdict(m <= 300)))
    if hi in r.check:
        c = r.check[hi][0] * 1000
        rows.append(("check <= 200 ms, N=%d (no cgroup rules here)" % hi, "%.0f ms" % c, verdict(c <= 200)))
    for n in r.ns:
        for kind, what in RELOADS:
            if r.reload.get((n, kind)):
                m = statistics.median(x[0] for x in r.reload[(n, kind)])
                rows.append(("reload applied <= 200 ms under traffic, %s, N=%d" % (kind, n), "%d ms" % m,
                             verdict(m <= 200)))
        if r.restart.get(n):
            m = statistics.median(x[0] for x in r.restart[n])
            same = all(x == "same" for x in r.adopt.get(n, ["fresh"]))
            rows.append(("restart adopts pins, tunnel known <= 300 ms, N=%d" % n,
                         "%d ms%s" % (m, "" if same else " (fresh load)"), verdict(m <= 300 and same)))
    print()
    print("%-62s %-20s %s" % ("target", "measured", "result"))
    for row in rows:
        print("%-62s %-20s %s" % row)
    met = sum(1 for x in rows if x[2] == "meets")
    missed = sum(1 for x in rows if x[2] == "misses")
    print("\ntargets: %d met, %d missed, %d not measured" % (met, missed, len(rows) - met - missed))


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "lists":
        return lists(int(args[0]), args[1])
    if cmd == "iperf":
        return iperf(args[0])
    if cmd == "progs":
        return progs(*args)
    if cmd == "progdiff":
        return progdiff(*args)
    if cmd == "timed":
        return timed(args)
    if cmd == "report":
        return report(args[0])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
