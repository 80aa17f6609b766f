#!/usr/bin/env python3
"""Leak lab servers: HTTP, UDP echo and UDP sink, in one process.

Every request or datagram is counted per (service, source address) in a JSON
stats file that is rewritten atomically at most every 0.2 s, so a test can tell
whether traffic came through the VPN (source = the VPN server's public address,
after its NAT) or past it (source = the ISP's public address, after its NAT).

  labsrv.py --stats FILE [--http ADDR:PORT]... [--udp-echo ADDR:PORT]...
            [--udp-sink ADDR:PORT]... [--log FILE]

ADDR may be IPv6 in brackets: [2001:db8::1]:80. The stats file appears once
every socket is bound: it is the readiness signal.
"""
import argparse
import http.server
import json
import os
import selectors
import signal
import socket
import sys
import threading
import time

LOCK = threading.Lock()
STATS = {"http": {}, "echo": {}, "sink": {}}
DIRTY = threading.Event()
LOGF = None
WWW = None


def count(kind, src, n=1):
    with LOCK:
        STATS[kind][src] = STATS[kind].get(src, 0) + n
    DIRTY.set()


def log(line):
    if LOGF is None:
        return
    with LOCK:
        LOGF.write("%.6f %s\n" % (time.time(), line))
        LOGF.flush()


def parse_addr(s):
    if s.startswith("["):
        host, _, port = s[1:].partition("]:")
        return socket.AF_INET6, host, int(port)
    host, _, port = s.rpartition(":")
    return socket.AF_INET, host, int(port)


def write_stats(path):
    with LOCK:
        data = json.dumps(STATS, sort_keys=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(data + "\n")
    os.replace(tmp, path)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        src = self.client_address[0]
        count("http", src)
        log("http %s %s" % (src, self.path))
        body, ctype = b"tunlock-lab ok\n", "text/plain"
        page = os.path.basename(self.path.split("?")[0])
        if WWW and self.path.startswith("/www/") and os.path.isfile(os.path.join(WWW, page)):
            with open(os.path.join(WWW, page), "rb") as f:
                body, ctype = f.read(), "text/html; charset=utf-8"
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


def http_server(fam, host, port):
    class Srv(http.server.ThreadingHTTPServer):
        address_family = fam
        allow_reuse_address = True
        daemon_threads = True
    srv = Srv((host, port), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    return srv


def main():
    global LOGF
    ap = argparse.ArgumentParser()
    ap.add_argument("--stats", required=True)
    ap.add_argument("--log")
    ap.add_argument("--http", action="append", default=[])
    ap.add_argument("--udp-echo", action="append", default=[])
    ap.add_argument("--udp-sink", action="append", default=[])
    ap.add_argument("--www", help="serve the files of this directory under /www/")
    a = ap.parse_args()
    global WWW
    WWW = a.www
    if a.log:
        LOGF = open(a.log, "a")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    for spec in a.http:
        http_server(*parse_addr(spec))
    sel = selectors.DefaultSelector()
    for kind, specs in (("echo", a.udp_echo), ("sink", a.udp_sink)):
        for spec in specs:
            fam, host, port = parse_addr(spec)
            s = socket.socket(fam, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ, kind)

    def flusher():
        while True:
            DIRTY.wait()
            DIRTY.clear()
            write_stats(a.stats)
            time.sleep(0.2)

    write_stats(a.stats)
    threading.Thread(target=flusher, daemon=True).start()
    while True:
        for key, _ in sel.select(timeout=1.0):
            s, kind = key.fileobj, key.data
            for _ in range(256):
                try:
                    data, peer = s.recvfrom(65535)
                except BlockingIOError:
                    break
                count(kind, peer[0])
                if kind == "echo":
                    try:
                        s.sendto(data, peer)
                    except OSError:
                        pass


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
