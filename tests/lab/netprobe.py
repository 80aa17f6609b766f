#!/usr/bin/env python3
"""Leak lab traffic maker: UDP senders and TCP connect probes with exact errno reporting.

  netprobe.py udp DST PORT [--count N] [--rate PPS] [--duration S] [--bind-dev DEV]
                            [--connect] [--broadcast] [--reply-timeout S] [--payload TEXT]
                            [--progress FILE] [--mark MARK]
  netprobe.py tcp DST PORT [--timeout S] [--bind-dev DEV]

Prints one JSON object on stdout when done (also on SIGTERM/SIGINT):
  udp: {"sent": n, "errors": {"EPERM": k, ...}, "first_error": "...", "replies": r,
        "connect_error": null|"EPERM", "elapsed": s, "attempts": n+errors}
  tcp: {"connected": bool, "error": null|"EPERM"|"ETIMEDOUT"|..., "elapsed": s}
Exit status: udp 0 if at least one datagram was sent without error (and, with
--reply-timeout, at least one reply came back); tcp 0 if connected; else 1.
A sender never stops on an error: it keeps its rate, counting errors by errno.
Every loop is bounded by --count and/or --duration (default: 10 s).
"""
import argparse
import errno
import json
import os
import signal
import socket
import sys
import time


class Stop(Exception):
    pass


# A stop that lands between a send and its count waits for the count: else a datagram that
# went out is missing from "sent", and a receiver's count looks like one too many.
_sending = False
_stop_pending = False


def _stop(*_):
    global _stop_pending
    if _sending:
        _stop_pending = True
        return
    raise Stop()


def _send_counted(res, send):
    """send(), counted in res as sent or as its error, a stop waiting until it is counted."""
    global _sending
    _sending = True
    try:
        send()
        res["sent"] += 1
    except OSError as e:
        n = ename(e)
        res["errors"][n] = res["errors"].get(n, 0) + 1
        res["first_error"] = res["first_error"] or n
    finally:
        _sending = False
    if _stop_pending:
        raise Stop()


def ename(e):
    return errno.errorcode.get(e.errno, str(e.errno)) if isinstance(e, OSError) and e.errno else type(e).__name__


def family(dst):
    return socket.AF_INET6 if ":" in dst else socket.AF_INET


def bind_dev(s, dev):
    if dev:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev.encode())


def srh(first_hop, last_hop):
    """A segment routing header (type 4; IPV6_RTHDR takes it without privilege): the
    packet goes to first_hop, with one segment left, last_hop."""
    hops = [socket.inet_pton(socket.AF_INET6, h) for h in (last_hop, first_hop)]
    return bytes([0, 2 * len(hops), 4, len(hops) - 1, len(hops) - 1, 0, 0, 0]) + b"".join(hops)


def udp(a):
    res = {"sent": 0, "errors": {}, "first_error": None, "replies": 0,
           "connect_error": None, "elapsed": 0.0}
    s = socket.socket(family(a.dst), socket.SOCK_DGRAM)
    bind_dev(s, a.bind_dev)
    if a.mark:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, int(a.mark, 0))
    if a.broadcast:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    if a.rthdr:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RTHDR, srh(a.rthdr, a.dst))
    dst = (a.dst, a.port)
    t0 = time.monotonic()
    deadline = t0 + a.duration
    progress_t = 0.0
    try:
        if a.connect:
            try:
                s.connect(dst)
            except OSError as e:
                res["connect_error"] = ename(e)
                res["errors"][ename(e)] = 1
                res["first_error"] = ename(e)
                return res
        s.setblocking(False)
        i = 0
        payload = a.payload.encode()
        while (a.count <= 0 or i < a.count) and time.monotonic() < deadline:
            if a.rate > 0:
                wait = t0 + i / a.rate - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            i += 1
            data = payload + b" %d" % i
            _send_counted(res, (lambda: s.send(data)) if a.connect else (lambda: s.sendto(data, dst)))
            try:
                while True:
                    s.recv(65535)
                    res["replies"] += 1
            except OSError:
                pass
            now = time.monotonic()
            if a.progress and now - progress_t > 0.2:
                progress_t = now
                tmp = a.progress + ".tmp"
                with open(tmp, "w") as f:
                    json.dump(dict(res, elapsed=now - t0), f)
                os.replace(tmp, a.progress)
        if a.reply_timeout > 0 and res["replies"] == 0 and res["sent"] > 0:
            s.setblocking(True)
            s.settimeout(a.reply_timeout)
            try:
                s.recv(65535)
                res["replies"] += 1
            except OSError:
                pass
    except Stop:
        pass
    finally:
        res["elapsed"] = round(time.monotonic() - t0, 3)
        res["attempts"] = res["sent"] + sum(res["errors"].values())
    return res


def tcp(a):
    res = {"connected": False, "error": None, "elapsed": 0.0}
    s = socket.socket(family(a.dst), socket.SOCK_STREAM)
    bind_dev(s, a.bind_dev)
    s.settimeout(a.timeout)
    t0 = time.monotonic()
    try:
        s.connect((a.dst, a.port))
        res["connected"] = True
    except socket.timeout:
        res["error"] = "ETIMEDOUT"
    except OSError as e:
        res["error"] = ename(e)
    except Stop:
        res["error"] = "interrupted"
    res["elapsed"] = round(time.monotonic() - t0, 3)
    s.close()
    return res


def main():
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    u = sub.add_parser("udp")
    u.add_argument("dst")
    u.add_argument("port", type=int)
    u.add_argument("--count", type=int, default=0)
    u.add_argument("--rate", type=float, default=0)
    u.add_argument("--duration", type=float, default=10)
    u.add_argument("--bind-dev")
    u.add_argument("--connect", action="store_true")
    u.add_argument("--broadcast", action="store_true")
    u.add_argument("--reply-timeout", type=float, default=0)
    u.add_argument("--payload", default="tunlock-lab")
    u.add_argument("--progress")
    u.add_argument("--mark", help="SO_MARK (needs CAP_NET_RAW), e.g. 0xca6c")
    u.add_argument("--rthdr", metavar="HOP", help="IPv6: go by HOP (a routing header)")
    t = sub.add_parser("tcp")
    t.add_argument("dst")
    t.add_argument("port", type=int)
    t.add_argument("--timeout", type=float, default=3)
    t.add_argument("--bind-dev")
    a = ap.parse_args()
    if a.cmd == "udp":
        if a.count <= 0 and a.duration <= 0:
            ap.error("need --count or --duration")
        res = udp(a)
        ok = res["sent"] > 0 and (a.reply_timeout <= 0 or res["replies"] > 0)
    else:
        res = tcp(a)
        ok = res["connected"]
    print(json.dumps(res, sort_keys=True), flush=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
