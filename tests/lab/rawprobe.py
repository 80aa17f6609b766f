#!/usr/bin/env python3
"""Raw and packet sockets, the way a program escapes the socket hooks.

  rawprobe.py icmp DST [--count N]
      a raw ICMP socket (SOCK_RAW, IPPROTO_ICMP; IPPROTO_ICMPV6 when DST is IPv6) sending
      echo requests to DST
  rawprobe.py udp DST PORT [--count N]
      a raw IP socket (SOCK_RAW, IPPROTO_UDP) sending UDP datagrams written by hand to DST:PORT
  rawprobe.py packet IFACE DSTMAC DST PORT [--bypass] [--count N]
      an AF_PACKET socket sending Ethernet+IPv4+UDP frames from IFACE's address
      to DST:PORT via the next hop DSTMAC; --bypass sets PACKET_QDISC_BYPASS,
      which skips the interface's qdisc and so its TC egress
  rawprobe.py xdp
      an AF_XDP socket (created only: without a UMEM and an XDP program it sends nothing)

Prints one JSON object: {"created": bool, "errno": int|null, "sent": N}.
A socket that cannot be created (EPERM from the LSM layer) is created: false.
"""
import fcntl
import json
import os
import socket
import struct
import sys

AF_XDP = 44
SOL_PACKET = 263
IPV6_CHECKSUM = 7
PACKET_QDISC_BYPASS = 20
SIOCGIFADDR = 0x8915
SIOCGIFHWADDR = 0x8927


def checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def ifreq(sock, iface, req):
    return fcntl.ioctl(sock.fileno(), req, struct.pack("256s", iface.encode()[:15]))


def create(family, proto):
    try:
        return socket.socket(family, socket.SOCK_RAW, proto), None
    except OSError as e:
        return None, {"created": False, "errno": e.errno, "sent": 0}


def send_all(s, pkts, dst):
    sent = 0
    for pkt in pkts:
        try:
            s.sendto(pkt, (dst, 0))
            sent += 1
        except OSError:
            pass
    return {"created": True, "errno": None, "sent": sent}


def icmp(dst, count):
    v6 = ":" in dst
    s, err = create(socket.AF_INET6 if v6 else socket.AF_INET,
                    socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP)
    if err:
        return err
    pkts = []
    for seq in range(count):
        # ICMPv6 echo request is type 128; the kernel fills its checksum
        hdr = struct.pack("!BBHHH", 128 if v6 else 8, 0, 0, os.getpid() & 0xFFFF, seq)
        body = b"tunlock-raw-icmp"
        csum = 0 if v6 else checksum(hdr + body)
        pkts.append(hdr[:2] + struct.pack("!H", csum) + hdr[4:] + body)
    return send_all(s, pkts, dst)


def udp(dst, port, count):
    s, err = create(socket.AF_INET6 if ":" in dst else socket.AF_INET, socket.IPPROTO_UDP)
    if err:
        return err
    if ":" in dst:
        s.setsockopt(socket.IPPROTO_IPV6, IPV6_CHECKSUM, 6)  # the kernel fills it
    body = b"tunlock-raw-udp"
    # checksum 0: IPv4 allows it
    pkt = struct.pack("!HHHH", 40007, port, 8 + len(body), 0) + body
    return send_all(s, [pkt] * count, dst)


def frame(src_mac, dst_mac, src, dst, port):
    payload = b"tunlock-packet-socket"
    udp = struct.pack("!HHHH", 40000, port, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0x1234, 0, 64, 17, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return dst_mac + src_mac + b"\x08\x00" + ip + udp


def packet(iface, dst_mac, dst, port, bypass, count):
    try:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    except OSError as e:
        return {"created": False, "errno": e.errno, "sent": 0}
    if bypass:
        s.setsockopt(SOL_PACKET, PACKET_QDISC_BYPASS, 1)
    s.bind((iface, 0))
    src = socket.inet_ntoa(ifreq(s, iface, SIOCGIFADDR)[20:24])
    src_mac = ifreq(s, iface, SIOCGIFHWADDR)[18:24]
    f = frame(src_mac, bytes.fromhex(dst_mac.replace(":", "")), src, dst, port)
    sent = 0
    for _ in range(count):
        try:
            s.send(f)
            sent += 1
        except OSError:
            pass
    return {"created": True, "errno": None, "sent": sent, "bypass": bypass}


def xdp():
    try:
        s = socket.socket(AF_XDP, socket.SOCK_RAW, 0)
    except OSError as e:
        return {"created": False, "errno": e.errno, "sent": 0}
    s.close()
    return {"created": True, "errno": None, "sent": 0}


def main():
    a = sys.argv[1:]
    count = 3
    if "--count" in a:
        i = a.index("--count")
        count = int(a[i + 1])
        del a[i:i + 2]
    bypass = "--bypass" in a
    a = [x for x in a if x != "--bypass"]
    if a and a[0] == "icmp" and len(a) == 2:
        r = icmp(a[1], count)
    elif a and a[0] == "udp" and len(a) == 3:
        r = udp(a[1], int(a[2]), count)
    elif a == ["xdp"]:
        r = xdp()
    elif a and a[0] == "packet" and len(a) == 5:
        r = packet(a[1], a[2], a[3], int(a[4]), bypass, count)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
