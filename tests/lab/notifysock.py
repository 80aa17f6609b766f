#!/usr/bin/env python3
"""Stand-in for systemd's notification socket (sd_notify(3)).

  notifysock.py SOCKET_PATH LOG [SECONDS]

Binds an AF_UNIX datagram socket at SOCKET_PATH and appends every message it
gets to LOG, one line per message ("\\n" inside a message shown as " | "),
for at most SECONDS (default 300).
"""
import os
import socket
import sys
import time

path, log = sys.argv[1], sys.argv[2]
limit = float(sys.argv[3]) if len(sys.argv) > 3 else 300
if os.path.exists(path):
    os.unlink(path)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(0.5)
end = time.monotonic() + limit
with open(log, "a", buffering=1) as out:
    out.write("listening\n")
    while time.monotonic() < end:
        try:
            msg = s.recv(4096)
        except socket.timeout:
            continue
        out.write(msg.decode(errors="replace").replace("\n", " | ") + "\n")
