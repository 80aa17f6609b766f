#!/usr/bin/env python3
"""One STUN binding request (RFC 8489), optionally from a socket bound to a device.

  stunprobe.py HOST PORT [--bind-dev IFACE] [--timeout S]

Prints JSON: {"mapped": "ip:port" or null, "error": errno name or null, "sent": bool}.
"""
import argparse
import errno
import json
import os
import socket
import struct

MAGIC = 0x2112A442


def parse_mapped(data, tid):
    if len(data) < 20 or data[8:20] != tid:
        return None
    pos = 20
    while pos + 4 <= len(data):
        atype, alen = struct.unpack("!HH", data[pos:pos + 4])
        val = data[pos + 4:pos + 4 + alen]
        if atype == 0x0020 and len(val) >= 8 and val[1] == 1:  # XOR-MAPPED-ADDRESS, IPv4
            port = struct.unpack("!H", val[2:4])[0] ^ (MAGIC >> 16)
            addr = struct.unpack("!I", val[4:8])[0] ^ MAGIC
            return "%s:%d" % (socket.inet_ntoa(struct.pack("!I", addr)), port)
        pos += 4 + ((alen + 3) & ~3)
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--bind-dev")
    ap.add_argument("--timeout", type=float, default=2.0)
    a = ap.parse_args()
    out = {"mapped": None, "error": None, "sent": False}
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(a.timeout)
    tid = os.urandom(12)
    try:
        if a.bind_dev:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, a.bind_dev.encode())
        s.sendto(struct.pack("!HHI", 0x0001, 0, MAGIC) + tid, (a.host, a.port))
        out["sent"] = True
        data, _ = s.recvfrom(2048)
        out["mapped"] = parse_mapped(data, tid)
    except socket.timeout:
        out["error"] = "TIMEOUT"
    except OSError as e:
        out["error"] = errno.errorcode.get(e.errno, str(e.errno))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
