#!/usr/bin/env python3
"""Make a pinned tl_state look like another tunlock version's (upgrade tests).

  setlayout.py PIN_DIR VERSION

Rewrites tl_state's layout_version (bytes 4-7, little-endian) through bpftool.
"""
import json
import subprocess
import sys

path = sys.argv[1] + "/tl_state"
ver = int(sys.argv[2])
dump = json.loads(subprocess.run(["bpftool", "-j", "map", "dump", "pinned", path],
                                 capture_output=True, text=True, check=True).stdout)
value = [int(b, 16) for b in dump[0]["value"]]
value[4:8] = list(ver.to_bytes(4, "little"))
subprocess.run(["bpftool", "map", "update", "pinned", path, "key", "0", "0", "0", "0", "value"] +
               [str(b) for b in value], check=True)
