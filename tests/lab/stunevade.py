#!/usr/bin/env python3
"""STUN cut so that a check of each packet's start misses it, and the ordinary traffic cut
the same way that must still pass (t33).

  stunevade.py gso HOST PORT          UDP_SEGMENT 20: 20 junk bytes, then a binding request,
                                      in one sendto (two datagrams on the wire)
  stunevade.py gso-echo HOST PORT     UDP_SEGMENT 100: three ordinary 100-byte datagrams in
                                      one sendto to a UDP echo server
  stunevade.py frag HOST PORT [--later-first]
                                      raw IPv4 (CAP_NET_RAW): a first fragment holding only
                                      the UDP header, the request in the next fragment
  stunevade.py big-echo HOST PORT     one 3000-byte datagram (the kernel fragments it) to a
                                      UDP echo server
  stunevade.py tcp-split HOST PORT    TCP_NODELAY: the request's first 4 bytes, then, once
                                      they are acknowledged, the rest
  stunevade.py http-split HOST PORT   an ordinary HTTP request cut the same way
  stunevade.py scan PCAP MAC          frames from MAC carrying the STUN magic cookie in a
                                      UDP or TCP payload, and later IPv4 fragments

Prints one JSON object: {"sent": bool, "error": errno name or null, "mapped": "ip:port"
or null, "replies": n, "status": HTTP status line or null} (scan: {"cookie": n,
"later_fragments": n}). Every wait is bounded (--timeout, default 2 s).
"""
import argparse
import errno
import json
import os
import random
import socket
import struct
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stunprobe import MAGIC, parse_mapped  # noqa: E402

SOL_UDP = 17
UDP_SEGMENT = 103
TCP_INFO_UNACKED = 24  # offset of tcpi_unacked in struct tcp_info
COOKIE = struct.pack("!I", MAGIC)


def request():
    tid = os.urandom(12)
    return struct.pack("!HHI", 0x0001, 0, MAGIC) + tid, tid


def errname(e):
    return errno.errorcode.get(e.errno, str(e.errno))


def udp_reply(s, out, tid=None, count=1):
    """Wait for up to count replies (STUN when tid is given)."""
    try:
        for _ in range(count):
            data, _ = s.recvfrom(65536)
            out["replies"] += 1
            if tid is not None:
                out["mapped"] = parse_mapped(data, tid)
    except socket.timeout:
        pass


def gso(a, out):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(a.timeout)
    req, tid = request()
    s.setsockopt(SOL_UDP, UDP_SEGMENT, 20)
    s.sendto(b"\x55" * 20 + req, (a.host, a.port))
    out["sent"] = True
    udp_reply(s, out, tid)


def gso_echo(a, out):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(a.timeout)
    s.setsockopt(SOL_UDP, UDP_SEGMENT, 100)
    s.sendto(b"x" * 300, (a.host, a.port))
    out["sent"] = True
    udp_reply(s, out, count=3)


def big_echo(a, out):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(a.timeout)
    s.setsockopt(socket.IPPROTO_IP, 10, 0)  # IP_MTU_DISCOVER: IP_PMTUDISC_DONT
    s.sendto(b"y" * 3000, (a.host, a.port))
    out["sent"] = True
    udp_reply(s, out)


def ip_header(src, dst, ident, frag, payload_len):
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + payload_len, ident, frag, 64,
                       socket.IPPROTO_UDP, 0, socket.inet_aton(src), socket.inet_aton(dst))


def frag(a, out):
    # the reply comes to an ordinary UDP socket on the port the fragments claim
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.connect((a.host, a.port))
    src = probe.getsockname()[0]
    probe.close()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(a.timeout)
    s.bind((src, 0))
    sport = s.getsockname()[1]
    req, tid = request()
    ident = random.randint(1, 0xFFFF)
    udp = struct.pack("!HHHH", sport, a.port, 8 + len(req), 0)  # checksum 0: none
    first = ip_header(src, a.host, ident, 0x2000, len(udp)) + udp
    later = ip_header(src, a.host, ident, 1, len(req)) + req  # offset 8 bytes
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    for pkt in ((later, first) if a.later_first else (first, later)):
        try:
            raw.sendto(pkt, (a.host, 0))
            out["sent"] = True
        except OSError as e:
            out["error"] = errname(e)
    udp_reply(s, out, tid)


def wait_acked(s, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
        if struct.unpack_from("I", info, TCP_INFO_UNACKED)[0] == 0:
            return True
        time.sleep(0.01)
    return False


def split_exchange(a, data, out):
    """Send data's first 4 bytes, then (once acknowledged) the rest; the first reply."""
    s = socket.create_connection((a.host, a.port), timeout=a.timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.send(data[:4])
    wait_acked(s, a.timeout)
    s.send(data[4:])
    out["sent"] = True
    try:
        reply = s.recv(2048)
    except socket.timeout:
        return b""
    out["replies"] += 1 if reply else 0
    return reply


def tcp_split(a, out):
    req, tid = request()
    reply = split_exchange(a, req, out)
    if reply:
        out["mapped"] = parse_mapped(reply, tid)


def http_split(a, out):
    reply = split_exchange(a, ("GET / HTTP/1.0\r\nHost: %s\r\n\r\n" % a.host).encode(), out)
    if reply:
        out["status"] = reply.split(b"\r\n", 1)[0].decode(errors="replace")


def scan(a):
    """A pcap (Ethernet) file: what the client's frames carried."""
    res = {"cookie": 0, "later_fragments": 0}
    want = bytes(int(x, 16) for x in a.mac.split(":"))
    with open(a.pcap, "rb") as f:
        hdr = f.read(24)
        if len(hdr) < 24:
            return res
        endian = "<" if struct.unpack("<I", hdr[:4])[0] in (0xA1B2C3D4, 0xA1B23C4D) else ">"
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                break
            incl = struct.unpack(endian + "IIII", rec)[2]
            frame = f.read(incl)
            if frame[6:12] != want or frame[12:14] != b"\x08\x00":
                continue
            ip = frame[14:]
            ihl = (ip[0] & 15) * 4
            fragoff = struct.unpack("!H", ip[6:8])[0] & 0x1FFF
            if fragoff:
                res["later_fragments"] += 1
                continue
            l4 = ip[ihl:]
            if ip[9] == socket.IPPROTO_UDP:
                payload = l4[8:]
            elif ip[9] == socket.IPPROTO_TCP and len(l4) >= 20:
                payload = l4[(l4[12] >> 4) * 4:]
            else:
                continue
            if COOKIE in payload:
                res["cookie"] += 1
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["gso", "gso-echo", "frag", "big-echo", "tcp-split",
                                     "http-split", "scan"])
    ap.add_argument("host", help="HOST, or the pcap file for scan")
    ap.add_argument("port", help="PORT, or the client's MAC for scan")
    ap.add_argument("--later-first", action="store_true")
    ap.add_argument("--timeout", type=float, default=2.0)
    a = ap.parse_args()
    if a.what == "scan":
        a.pcap, a.mac = a.host, a.port
        print(json.dumps(scan(a)))
        return
    a.port = int(a.port)
    out = {"sent": False, "error": None, "mapped": None, "replies": 0, "status": None}
    fn = {"gso": gso, "gso-echo": gso_echo, "frag": frag, "big-echo": big_echo,
          "tcp-split": tcp_split, "http-split": http_split}[a.what]
    try:
        fn(a, out)
    except socket.timeout:
        out["error"] = out["error"] or "TIMEOUT"
    except OSError as e:
        out["error"] = errname(e)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
