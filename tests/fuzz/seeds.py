#!/usr/bin/env python3
"""Writes the fuzz seed corpus (committed; rerun after changing it):
corpus/policy: small policies that reach every reader and the hostile
shapes the reader must stop early on; corpus/events: ring-buffer records.
The examples/ policies are seeds too (tests/fuzz/run.sh adds them)."""
import os, struct

here = os.path.dirname(os.path.abspath(__file__))

H = ("tunnels:\n  - name: t\n    interface: wg0\n"
     "    endpoints: [{address: 198.51.100.2, port: 51820}]\n"
     "    client: {fwmark: 0xca6c}\nprofiles:\n  - name: p\n")
policies = {
    "minimal": H,
    "full": "mode: audit\nattach_cgroup: /a\nno_socket: allow\n"
            "container_mark: 0x00f00000\ndns_ports: [53, 853, 5353]\n"
            "events: {rate: 10, burst: 20}\n"
            "tunnels:\n  - name: t\n    interface: \"wg[0-9]*\"\n"
            "    endpoints:\n      - {address: 198.51.100.2, port: 51820}\n"
            "      - {address: \"2001:db8::2\", port: 443, protocol: tcp}\n"
            "    client: {cgroup: /system.slice/wg.service, fwmark: 0xca6c}\n"
            "    resolvers: [100.64.0.53, \"2001:db8::53\"]\n"
            "profiles:\n  - name: p\n    lan: allow\n    ipv6: block\n"
            "    dns: redirect\n    raw_sockets: allow\n    allow:\n"
            "      - {cidr: 203.0.113.0/24, protocol: tcp, ports: [443, 8000-8080]}\n"
            "      - {cidr: \"2001:db8:1::/48\", protocol: icmp}\n"
            "  - name: q\n    dns: ordinary\n"
            "cgroups:\n  - {path: /, profile: p}\n"
            "  - {path: /system.slice/docker-*.scope, profile: q}\n"
            "  - {path: /user.slice, exempt: true}\n",
    "anchors": H + "    allow: &a [{cidr: 10.0.0.0/8}]\n  - name: q\n    allow: *a\n",
    "errors": "mode: strict\n" + H + "    allow: [{cidr: 10.0.0.1/8}, {cidr: 10.0.0.0/16}]\n"
              "cgroups:\n  - {path: x, profile: nope}\n  - {path: /a, exempt: maybe}\n",
    "overlap-endpoint": H + "    allow: [{cidr: 198.51.100.0/24}]\n",
    "tags": "mode: !!str audit\nevents: !!map {rate: !!int 10}\n" + H +
            "cgroups: !!seq\n  - {path: /a, exempt: !!bool true}\n"
            "x: !!binary AA==\ny: !<tag:yaml.org,2002:include> f\nz: !env HOME\n",
    "nul-key": "\"mode\\0junk\": audit\n" + H,
    "nul-value": H + "    dns: \"block\\0\"\n",
    "second-document": H + "---\nmode: audit\n",
    "syntax": "mode: [enforce\n",
    "tab": "tunnels:\n\t- a\n",
    "invalid-utf8": "",  # written as bytes below
    "nesting": "x: " + "[" * 70 + "]" * 70 + "\n",
    "nesting-block": "".join("%*sk:\n" % (i, "") for i in range(70)),
    "alias-bomb": H + "x: &m {" + ", ".join("k%d: 1" % i for i in range(20)) +
                  "}\ncgroups:\n" + "  - *m\n" * 40,
    "alias-rules": H + "    allow:\n      - &r {cidr: 0.0.0.0/0}\n" + "      - *r\n" * 40,
    "alias-cycle": "events: &e {rate: *e}\n" + H,
    "anchor-twice": "mode: &a enforce\nno_socket: &a allow\n" + H,
    "long-value": "mode: '" + "a" * 300 + "'\n" + H,
    "control-chars": "mode: \"a\\nb\\tc\\x7f\"\n" + H,
    # escapes widen a value fourfold: the message is cut after them (a fuzz finding)
    "escaped-tabs": "tunnels:\n  - name: t\n    interface: \"wg" + "\\t" * 200 + "\"\n",
    "escaped-fwmark": "tunnels:\n  - name: t\n    client: {fwmark: \"" + "\\t" * 200 + "\"}\n",
    "flat-list": "x: [" + "a," * 500 + "a]\n",
    "empty-list": "[]\n",
    "no-slot": H.split("profiles:")[0] + "profiles:\n" +
               "".join("  - name: p%d\n" % i for i in range(63)) + "  - x\n",
    "empty-map": "{}\n",
}
for name, text in policies.items():
    with open(os.path.join(here, "corpus/policy", name + ".yaml"), "wb") as f:
        f.write(text.encode("utf-8") if name != "invalid-utf8" else b"mode: \xff\n")

# struct tl_event (include/tunlock.h) and struct tl_summary (agent/feed/feed.h)
def event(reason, verdict, layer, hook, family, proto, saddr, daddr, comm,
          redir=b"\0" * 16, rport=0, pid=4242, ifindex=2):
    return struct.pack("<QQIIIHHHBBBBBBB3x16s16s16s16sH10x",
                       123456789012345, 77, pid, ifindex, 3, 40000, 53, 1,
                       family, proto, reason, verdict, layer, hook, 1,
                       saddr, daddr, comm, redir, rport)

def v4(a):
    return b"\0" * 10 + b"\xff\xff" + bytes(a)

summary = struct.pack("<IIQQQQQQQ", 3, 2, 1, 2, 100, 50, 40, 5, 5)
offset = struct.pack("<q", 1700000000 * 10**9)
events = {
    "dns-v4": event(3, 1, 0, 0, 2, 17, v4([10, 213, 0, 2]), v4([198, 51, 100, 53]),
                    b"dig\0".ljust(16, b"\0")),
    "redirect-v6": event(3, 2, 0, 3, 10, 17, bytes(16),
                         bytes.fromhex("20010db8000000000000000000000053"),
                         b"resolved".ljust(16, b"\0"),
                         bytes.fromhex("20010db8000000000000000000000035"), 53),
    "tc-no-socket": event(1, 3, 2, 5, 2, 6, v4([10, 213, 0, 2]), v4([203, 0, 113, 9]),
                          b"\xff\x01\"\\quote".ljust(16, b"x"), pid=0),
    "not-ip": event(7, 1, 2, 5, 0, 0, bytes(16), bytes(16), bytes(16), pid=0, ifindex=0),
    "out-of-range": event(200, 9, 9, 99, 99, 255, bytes([0xff]) * 16,
                          bytes([0xff]) * 16, bytes([0x7f]) * 16),
}
names = b"eth0\0/system.slice/a \"b\"\\c\n.scope\0p\0"
for name, ev in events.items():
    assert len(ev) == 120
    with open(os.path.join(here, "corpus/events", name), "wb") as f:
        f.write(struct.pack("<H", 2047) + offset + ev + summary + names)
with open(os.path.join(here, "corpus/events", "small-buffer"), "wb") as f:
    f.write(struct.pack("<H", 100) + offset + events["dns-v4"] + summary + names)
with open(os.path.join(here, "corpus/events", "long-cgroup"), "wb") as f:
    f.write(struct.pack("<H", 4095) + offset + events["dns-v4"] + summary +
            b"wg0\0/" + b"\x01" * 3000 + b"\0q\0")
