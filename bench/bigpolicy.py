#!/usr/bin/env python3
"""A large policy for the agent's memory and `tunlock check` measurements (bench/README.md).

  bigpolicy.py N M ATTACH FILE   write FILE: N allowed CIDRs and M cgroup rules under ATTACH

The N CIDRs, in profile 'apps': half IPv4 /32s from 100.64.0.4 upward in steps of 4 (as
bench/killswitch's list), every other one `tcp` with ports [443, 8443]; half IPv6 /48s
2001:db8:N::/48. The M cgroup rules are ATTACH/svcK.service, alternately of profiles 'apps' and
'locked', plus ATTACH itself of 'apps'. One tunnel with one endpoint, 198.51.100.2:51820/udp.
"""
import ipaddress
import sys


def write(n, m, attach, path):
    base = int(ipaddress.IPv4Address("100.64.0.0"))
    attach = attach.rstrip("/") or "/"
    with open(path, "w") as f:
        f.write("# bench/bigpolicy.py: %d allowed CIDRs, %d cgroup rules\n" % (n, m))
        f.write("mode: enforce\nattach_cgroup: %s\n" % attach)
        f.write("tunnels:\n  - name: bench\n    interface: wg0\n    endpoints:\n"
                "      - {address: 198.51.100.2, port: 51820, protocol: udp}\n"
                "    client:\n      fwmark: 0xca6c\n")
        f.write("profiles:\n  - name: locked\n  - name: apps\n    lan: block\n    allow:\n")
        for i in range(n):
            if i % 2 == 0:
                a = ipaddress.IPv4Address(base + 4 * (i // 2 + 1))
                if i % 4 == 0:
                    f.write("      - {cidr: %s/32, protocol: tcp, ports: [443, 8443]}\n" % a)
                else:
                    f.write("      - {cidr: %s/32}\n" % a)
            else:
                f.write("      - cidr: 2001:db8:%x::/48\n" % (i // 2 + 1))
        f.write("cgroups:\n  - path: %s\n    profile: apps\n" % attach)
        sep = "" if attach.endswith("/") else "/"
        for k in range(m):
            f.write("  - {path: %s%ssvc%d.service, profile: %s}\n"
                    % (attach, sep, k, "apps" if k % 2 else "locked"))
    return 0


def main(argv):
    if len(argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    return write(int(argv[1]), int(argv[2]), argv[3], argv[4])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
