#!/usr/bin/env python3
"""Make the pinned build record (tl_build) look like another build's (upgrade tests).

  setbuild.py PIN_DIR

The record is frozen (no write reaches it), so a copy with another build id (its first bytes)
is made, frozen and renamed over it, as another tunlock build would have left it.
"""
import json
import os
import subprocess
import sys


def bpftool(*args):
    return subprocess.run(["bpftool", *args], capture_output=True, text=True, check=True).stdout


pin = sys.argv[1]
path, tmp = pin + "/tl_build", pin + "/tl_build_other"
dump = json.loads(bpftool("-j", "map", "dump", "pinned", path))
value = [int(b, 16) for b in dump[0]["value"]]
other = b"another-build-0000000000000000\0"
value[:len(other)] = list(other)
if os.path.exists(tmp):
    os.unlink(tmp)
bpftool("map", "create", tmp, "type", "array", "key", "4", "value", str(len(value)), "entries", "1",
        "name", "tl_build")
bpftool("map", "update", "pinned", tmp, "key", "0", "0", "0", "0", "value", *[str(b) for b in value])
bpftool("map", "freeze", "pinned", tmp)
os.rename(tmp, path)
