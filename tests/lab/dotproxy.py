#!/usr/bin/env python3
"""Leak lab DNS-over-TLS front end: TLS on ADDR:853, each query passed over TCP to the
resolver at UPSTREAM:53 (the lab's dnsmasq, which logs it), the answer passed back.

  dotproxy.py --listen ADDR --upstream ADDR --cert FILE --key FILE [--port 853]
              [--lifetime S]

Exits by itself after --lifetime seconds (default 900); every connection is bounded by a
10 s timeout.
"""
import argparse
import socket
import ssl
import struct
import sys
import threading
import time


def read_msg(s):
    buf = b""
    while len(buf) < 2 or len(buf) < 2 + struct.unpack("!H", buf[:2])[0]:
        chunk = s.recv(65535)
        if not chunk:
            return None
        buf += chunk
    return buf


def serve(conn, upstream, port):
    try:
        conn.settimeout(10)
        for _ in range(16):  # queries per connection
            msg = read_msg(conn)
            if msg is None:
                return
            with socket.create_connection((upstream, port), timeout=5) as up:
                up.sendall(msg)
                ans = read_msg(up)
            if ans is None:
                return
            conn.sendall(ans)
    except (OSError, ssl.SSLError):
        pass
    finally:
        conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--port", type=int, default=853)
    ap.add_argument("--lifetime", type=float, default=900)
    a = ap.parse_args()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    fam = socket.AF_INET6 if ":" in a.listen else socket.AF_INET
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((a.listen, a.port))
    ls.listen(16)
    ls.settimeout(1)
    print("listening on %s:%d" % (a.listen, a.port), flush=True)
    end = time.monotonic() + a.lifetime
    while time.monotonic() < end:
        try:
            raw, _ = ls.accept()
        except socket.timeout:
            continue
        try:
            raw.settimeout(10)
            conn = ctx.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            raw.close()
            continue
        threading.Thread(target=serve, args=(conn, a.upstream, 53), daemon=True).start()
    sys.exit(0)


if __name__ == "__main__":
    main()
