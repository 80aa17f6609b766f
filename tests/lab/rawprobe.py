#!/usr/bin/env python3
"""Raw and packet sockets, the way a program escapes the socket hooks.

  rawprobe.py icmp DST [--count N]
      a raw ICMP socket (SOCK_RAW, IPPROTO_ICMP) sending echo requests to DST
  rawprobe.py packet IFACE DSTMAC DST PORT [--bypass] [--count N]
      an AF_PACKET socket sending Ethernet+IPv4+UDP frames from IFACE's address
      to DST:PORT via the next hop DSTMAC; --bypass sets PACKET_QDISC_BYPASS,
      which skips the interface's qdisc and so its TC egress

Prints one JSON object: {"created": bool, "errno": int|null, "sent": N}.
A socket that cannot be created (EPERM from the LSM layer) is created: false.
"""
import fcntl
import json
import os
import socket
import struct
import sys

SOL_PACKET = 263
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


def icmp(dst, count):
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    except OSError as e:
        return {"created": False, "errno": e.errno, "sent": 0}
    sent = 0
    for seq in range(count):
        hdr = struct.pack("!BBHHH", 8, 0, 0, os.getpid() & 0xFFFF, seq)
        body = b"tunlock-raw-icmp"
        pkt = struct.pack("!BBHHH", 8, 0, checksum(hdr + body), os.getpid() & 0xFFFF, seq) + body
        try:
            s.sendto(pkt, (dst, 0))
            sent += 1
        except OSError:
            pass
    return {"created": True, "errno": None, "sent": sent}


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
    elif a and a[0] == "packet" and len(a) == 5:
        r = packet(a[1], a[2], a[3], int(a[4]), bypass, count)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
