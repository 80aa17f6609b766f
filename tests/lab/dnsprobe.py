#!/usr/bin/env python3
"""Leak lab DNS client: one query over a socket path that the test names, with exact errno reporting.

  dnsprobe.py SERVER [--port P] [--name N] [--type A|AAAA] [--mode sendto|connect|tcp|raw]
              [--family 4|6|mapped] [--timeout S] [--bind-dev DEV] [--bind-late]

--mode sendto: an unconnected UDP socket (sendto, recvfrom); connect: connected UDP (connect,
send, recvfrom); tcp: connect, send, recv; raw: the UDP datagram written by hand on a raw IP
socket, which no socket-level hook sees (only "sent" or an error is reported: nothing listens
for the answer). --bind-dev: SO_BINDTODEVICE first, or with --bind-late after connect (so that
connect's hook saw an unbound socket and send() runs none). --family mapped: an AF_INET6 socket talking to the
IPv4 SERVER as ::ffff:SERVER. Prints one JSON object:
  {"answers": ["203.0.113.102"], "answer": "203.0.113.102", "rcode": 0, "from": "10.213.0.1", "from_port": 53,
   "peer": "10.213.0.1", "peer_port": 53, "error": null|"EPERM"|"ETIMEDOUT"|..., "stage": ...,
   "elapsed": s}
"from" is the source recvfrom reported (UDP), "peer" what getpeername says (connected sockets).
Like dnsmasq, an answer whose source is not the server asked, or whose id differs, is not
taken: the probe keeps waiting and ends with ETIMEDOUT (and "foreign": n). Exit 0 if an answer
came, else 1. Bounded by --timeout (default 3 s).
"""
import argparse
import errno
import json
import os
import socket
import struct
import sys
import time


def ename(e):
    if isinstance(e, socket.timeout):
        return "ETIMEDOUT"
    if isinstance(e, OSError) and e.errno:
        return errno.errorcode.get(e.errno, str(e.errno))
    return type(e).__name__


def query(name, qtype, qid):
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack("!HH", qtype, 1)


def skip_name(msg, off):
    for _ in range(128):
        n = msg[off]
        if n & 0xC0 == 0xC0:
            return off + 2
        off += 1 + n
        if n == 0:
            return off
    raise ValueError("name too long")


def answers(msg, qid):
    """(rcode, [addresses]) of an answer to qid; None if it is not one."""
    if len(msg) < 12:
        return None
    rid, flags, qd, an = struct.unpack("!HHHH", msg[:8])
    if rid != qid or not flags & 0x8000:
        return None
    off = 12
    for _ in range(qd):
        off = skip_name(msg, off) + 4
    out = []
    for _ in range(an):
        off = skip_name(msg, off)
        rtype, _, _, rdlen = struct.unpack("!HHIH", msg[off:off + 10])
        off += 10
        rdata = msg[off:off + rdlen]
        off += rdlen
        if rtype == 1 and rdlen == 4:
            out.append(socket.inet_ntop(socket.AF_INET, rdata))
        elif rtype == 28 and rdlen == 16:
            out.append(socket.inet_ntop(socket.AF_INET6, rdata))
    return flags & 0xF, out


def plain(addr):
    """::ffff:a.b.c.d -> a.b.c.d, so that results compare across families."""
    return addr[7:] if addr.startswith("::ffff:") and "." in addr else addr


def run_raw(a, res, msg):
    fam = socket.AF_INET6 if a.family == "6" else socket.AF_INET
    res["stage"] = "socket"
    try:
        s = socket.socket(fam, socket.SOCK_RAW, socket.IPPROTO_UDP)
    except OSError as e:  # raw_sockets: deny refuses the socket itself
        res["error"] = ename(e)
        return res
    if a.bind_dev:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, a.bind_dev.encode())
    # source port 40053, checksum 0 (IPv4 allows it; the IPv6 kernel fills it for raw UDP)
    dgram = struct.pack("!HHHH", 40053, a.port, 8 + len(msg), 0) + msg
    t0 = time.monotonic()
    try:
        res["stage"] = "send"
        s.sendto(dgram, (a.server, 0))
        res["stage"] = "sent"
    except OSError as e:
        res["error"] = ename(e)
    finally:
        res["elapsed"] = round(time.monotonic() - t0, 3)
        s.close()
    return res


def run(a):
    res = {"answers": [], "answer": None, "rcode": None, "from": None, "from_port": None, "peer": None,
           "peer_port": None, "error": None, "stage": None, "foreign": 0, "elapsed": 0.0}
    fam = socket.AF_INET6 if a.family in ("6", "mapped") else socket.AF_INET
    server = "::ffff:" + a.server if a.family == "mapped" else a.server
    dst = (server, a.port)
    qid = int.from_bytes(os.urandom(2), "big")
    msg = query(a.name, 28 if a.type == "AAAA" else 1, qid)
    if a.mode == "raw":
        return run_raw(a, res, msg)
    tcp = a.mode == "tcp"
    s = socket.socket(fam, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
    if a.bind_dev and not a.bind_late:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, a.bind_dev.encode())
    s.settimeout(a.timeout)
    t0 = time.monotonic()
    deadline = t0 + a.timeout
    try:
        res["stage"] = "connect"
        if a.mode in ("connect", "tcp"):
            s.connect(dst)
            p = s.getpeername()
            res["peer"], res["peer_port"] = plain(p[0]), p[1]
            if a.bind_dev and a.bind_late:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, a.bind_dev.encode())
        res["stage"] = "send"
        if tcp:
            s.sendall(struct.pack("!H", len(msg)) + msg)
        elif a.mode == "connect":
            s.send(msg)
        else:
            s.sendto(msg, dst)
        res["stage"] = "receive"
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout()
            s.settimeout(left)
            if tcp:
                buf = b""
                while len(buf) < 2 or len(buf) < 2 + struct.unpack("!H", buf[:2])[0]:
                    chunk = s.recv(65535)
                    if not chunk:
                        raise ConnectionResetError(errno.ECONNRESET, "closed")
                    buf += chunk
                data, src = buf[2:], s.getpeername()
            else:
                data, src = s.recvfrom(65535)
            res["from"], res["from_port"] = plain(src[0]), src[1]
            got = answers(data, qid)
            # what dnsmasq does: only the server asked, only our id
            if got is None or plain(src[0]) != a.server or src[1] != a.port:
                res["foreign"] += 1
                continue
            res["rcode"], res["answers"] = got
            res["answer"] = got[1][0] if got[1] else None
            res["stage"] = "done"
            break
    except Exception as e:  # noqa: BLE001 - the errno is the result
        res["error"] = ename(e)
    finally:
        res["elapsed"] = round(time.monotonic() - t0, 3)
        s.close()
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("server")
    ap.add_argument("--port", type=int, default=53)
    ap.add_argument("--name", default="lab.test")
    ap.add_argument("--type", choices=("A", "AAAA"), default="A")
    ap.add_argument("--mode", choices=("sendto", "connect", "tcp", "raw"), default="sendto")
    ap.add_argument("--bind-dev")
    ap.add_argument("--bind-late", action="store_true")
    ap.add_argument("--family", choices=("4", "6", "mapped"), default=None)
    ap.add_argument("--timeout", type=float, default=3)
    a = ap.parse_args()
    if a.family is None:
        a.family = "6" if ":" in a.server else "4"
    res = run(a)
    print(json.dumps(res, sort_keys=True), flush=True)
    sys.exit(0 if res["stage"] in ("done", "sent") else 1)


if __name__ == "__main__":
    main()
