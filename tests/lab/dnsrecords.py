#!/usr/bin/env python3
"""Leak lab: what a redirected DNS query's answer reads as, under pressure. Unconnected UDP
sockets, queries for lab.test; an answer counts only when its source (what recvfrom reports) is
the server that query went to, as dnsmasq and glibc insist.

  dnsrecords.py pair S1 S2 [--timeout T]
      one socket sends a query to S1 and one to S2 before it reads anything; each answer must
      read as coming from its own server. {"got": {S1: answer, S2: answer}, "foreign": [...]}
  dnsrecords.py then-direct S R [--timeout T]
      one socket asks S (an answer from S), then asks R itself: R's answer must read as R's.
  dnsrecords.py hold S --until FILE [--timeout T]
      one socket sends a query to S, prints {"stage": "sent"}, waits for FILE to exist, then
      reads its answer. {"got": {S: answer}, "foreign": [...]}
  dnsrecords.py flood S N
      N sockets, one after the other, each sending one query to S and closing at once.
      {"sent": n, "errors": {errno name: count}, "elapsed": s}

Exit 0 when every answer came from the right server (flood: when none was refused).
"""
import errno
import json
import os
import socket
import struct
import sys
import time

from dnsprobe import answers, query


def ask(s, sent, server):
    qid = int.from_bytes(os.urandom(2), "big")
    while qid in sent:
        qid = (qid + 1) & 0xFFFF
    s.sendto(query("lab.test", 1, qid), (server, 53))
    sent[qid] = server


def collect(s, sent, deadline, res):
    """Reads until every query in sent has its answer from its server, or the deadline."""
    while any(k not in res["got"] for k in sent.values()):
        left = deadline - time.monotonic()
        if left <= 0:
            res["error"] = "ETIMEDOUT"
            return
        s.settimeout(left)
        try:
            data, src = s.recvfrom(4096)
        except socket.timeout:
            continue
        qid = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None
        got = answers(data, qid) if qid in sent else None
        if got and sent[qid] == src[0] and src[1] == 53:
            res["got"][src[0]] = got[1][0] if got[1] else ""
        else:
            res["foreign"].append({"from": src[0], "to": sent.get(qid)})


def exchange(servers, timeout, until=None):
    res = {"got": {}, "foreign": [], "error": None}
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    deadline = time.monotonic() + timeout
    sent = {}
    try:
        for group in servers:
            for server in group:
                ask(s, sent, server)
            if until:
                print(json.dumps({"stage": "sent"}), flush=True)
                while not os.path.exists(until):
                    if time.monotonic() > deadline:
                        raise socket.timeout()
                    time.sleep(0.05)
            collect(s, sent, deadline, res)
    except OSError as e:
        res["error"] = errno.errorcode.get(e.errno, str(e)) if e.errno else "ETIMEDOUT"
    finally:
        s.close()
    res["ok"] = not res["error"] and not res["foreign"]
    return res


def flood(server, n):
    errors, sent, t0 = {}, 0, time.monotonic()
    for i in range(n):
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.sendto(query("lab.test", 1, i & 0xFFFF), (server, 53))
                sent += 1
        except OSError as e:
            k = errno.errorcode.get(e.errno, str(e.errno))
            errors[k] = errors.get(k, 0) + 1
    # a full queue may drop a datagram (ENOBUFS) after the socket hooks ran: only a
    # refusal (EPERM) means the query was not redirected
    return {"sent": sent, "errors": errors, "elapsed": round(time.monotonic() - t0, 3),
            "ok": sent > 0 and "EPERM" not in errors}


def main():
    a = sys.argv[1:]
    opts = {}
    for k in ("--timeout", "--until"):
        if k in a:
            i = a.index(k)
            opts[k] = a[i + 1]
            del a[i:i + 2]
    timeout = float(opts.get("--timeout", 5))
    if a[:1] == ["pair"] and len(a) == 3:
        r = exchange([a[1:3]], timeout)
    elif a[:1] == ["then-direct"] and len(a) == 3:
        r = exchange([[a[1]], [a[2]]], timeout)
    elif a[:1] == ["hold"] and len(a) == 2 and "--until" in opts:
        r = exchange([[a[1]]], timeout, opts["--until"])
    elif a[:1] == ["flood"] and len(a) == 3:
        r = flood(a[1], int(a[2]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(r, sort_keys=True), flush=True)
    return 0 if r["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
