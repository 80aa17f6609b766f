#!/usr/bin/env python3
"""Network basics as an attacker shapes them: DHCP ports, NDP types, non-IP frames.

  basicsprobe.py udp SPORT DST DPORT PAYLOAD [--bind-dev DEV]
      one UDP datagram from port SPORT (bound, SO_BROADCAST) to DST:DPORT;
      PAYLOAD: junk | bootrequest (DHCPv4 op 1 with the magic cookie) | solicit
      (DHCPv6 Solicit)
  basicsprobe.py ns DST HOPS DEV
      a raw ICMPv6 neighbour solicitation (type 135, with a payload option)
      to DST with hop limit HOPS, out of DEV
  basicsprobe.py frame DEV DSTMAC KIND [ARG...]
      one frame from an AF_PACKET socket on DEV to DSTMAC (KIND lldp: to
      01:80:c2:00:00:0e). KIND: arp TARGET_IP | arp-junk TARGET_IP |
      vlan-arp | padi | lcp | pppoe-udp DST PORT SPORT PAYLOAD_HEX | lldp |
      other (ethertype 0x88b5)

Prints one JSON object: {"sent": bool, "error": null|"EPERM"|...}.
Every marker payload contains "tl-basics" so that a capture can find it.
"""
import errno
import json
import socket
import struct
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from rawprobe import SIOCGIFADDR, SIOCGIFHWADDR, checksum, ifreq  # noqa: E402

IPV6_UNICAST_HOPS = 16
IPV6_MULTICAST_HOPS = 18
MARK = b"tl-basics-exfiltrated-data"


def ename(e):
    return errno.errorcode.get(e.errno, str(e.errno))


def bootrequest(chaddr=b"\x02\x13\x00\x00\x00\x02"):
    m = bytearray(300)
    m[0:4] = b"\x01\x01\x06\x00"
    m[4:8] = b"\x74\x6c\x62\x73"  # xid
    m[28:34] = chaddr
    m[236:240] = b"\x63\x82\x53\x63"
    m[240:244] = b"\x35\x01\x01\xff"  # DHCPDISCOVER, end
    return bytes(m)


def udp(sport, dst, dport, kind, dev):
    fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
    payload = {"junk": MARK * 4, "bootrequest": bootrequest(),
               "solicit": b"\x01\x74\x6c\x62" + MARK}[kind]
    s = socket.socket(fam, socket.SOCK_DGRAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == socket.AF_INET:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        if dev:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev.encode())
        s.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", sport))
        s.sendto(payload, (dst, dport))
        return {"sent": True, "error": None}
    except OSError as e:
        return {"sent": False, "error": ename(e)}
    finally:
        s.close()


def ns(dst, hops, dev):
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    except OSError as e:
        return {"sent": False, "error": ename(e)}
    try:
        s.setsockopt(socket.IPPROTO_IPV6, IPV6_UNICAST_HOPS, hops)
        s.setsockopt(socket.IPPROTO_IPV6, IPV6_MULTICAST_HOPS, hops)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev.encode())
        target = socket.inet_pton(socket.AF_INET6, dst)
        # type 135, code 0, checksum (the kernel fills it for raw ICMPv6), target,
        # then an option of an unknown type carrying the marker
        opt = bytes([250, (2 + len(MARK) + 7) // 8]) + MARK
        opt += b"\0" * (-len(opt) % 8)
        s.sendto(struct.pack("!BBHI", 135, 0, 0, 0) + target + opt,
                 (dst, 0, 0, socket.if_nametoindex(dev)))
        return {"sent": True, "error": None}
    except OSError as e:
        return {"sent": False, "error": ename(e)}
    finally:
        s.close()


def arp(src_mac, src_ip, target_ip, junk):
    body = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, src_mac, src_ip,
                       b"\0" * 6, socket.inet_aton(target_ip))
    pad = (MARK if junk else b"\0" * 18)[:18]
    return b"\x08\x06" + body + pad


def pppoe(code, session, payload):
    return struct.pack("!BBHH", 0x11, code, session, len(payload)) + payload


def ipv4_udp(src, dst, sport, dport, payload):
    u = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(u), 0x4242, 0, 64, 17, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    return ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:] + u


def frame(dev, dst_mac, kind, args):
    try:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    except OSError as e:
        return {"sent": False, "error": ename(e)}
    try:
        s.bind((dev, 0))
        src_ip = ifreq(s, dev, SIOCGIFADDR)[20:24]
        src_mac = ifreq(s, dev, SIOCGIFHWADDR)[18:24]
        dst = bytes.fromhex(dst_mac.replace(":", ""))
        if kind == "arp":
            body = arp(src_mac, src_ip, args[0], False)
        elif kind == "arp-junk":
            body = arp(src_mac, src_ip, args[0], True)
        elif kind == "vlan-arp":
            body = b"\x81\x00\x00\x64\x08\x06" + MARK * 2
        elif kind == "padi":
            body = b"\x88\x63" + pppoe(0x09, 0, b"\x01\x01\x00\x00")
        elif kind == "lcp":
            body = b"\x88\x64" + pppoe(0, 0x4242, b"\xc0\x21\x01\x01\x00\x04")
        elif kind == "pppoe-udp":
            ip = ipv4_udp(socket.inet_ntoa(src_ip), args[0], int(args[2]),
                          int(args[1]), bytes.fromhex(args[3]) + MARK)
            body = b"\x88\x64" + pppoe(0, 0x4242, b"\x00\x21" + ip)
        elif kind == "lldp":
            dst = bytes.fromhex("0180c200000e")
            tlv = lambda t, v: struct.pack("!H", t << 9 | len(v)) + v
            body = (b"\x88\xcc" + tlv(1, b"\x04" + src_mac) + tlv(2, b"\x07" + MARK[:8]) +
                    tlv(3, b"\x00\x78") + tlv(5, MARK) + tlv(0, b""))
        elif kind == "other":
            body = b"\x88\xb5" + MARK * 2
        else:
            raise ValueError("unknown frame kind " + kind)
        s.send(dst + src_mac + body)
        return {"sent": True, "error": None}
    except OSError as e:
        return {"sent": False, "error": ename(e)}
    finally:
        s.close()


def main():
    a = sys.argv[1:]
    dev = None
    if "--bind-dev" in a:
        i = a.index("--bind-dev")
        dev = a[i + 1]
        del a[i:i + 2]
    if a[:1] == ["udp"] and len(a) == 5:
        r = udp(int(a[1]), a[2], int(a[3]), a[4], dev)
    elif a[:1] == ["ns"] and len(a) == 4:
        r = ns(a[1], int(a[2]), a[3])
    elif a[:1] == ["frame"] and len(a) >= 4:
        r = frame(a[1], a[2], a[3], a[4:])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
