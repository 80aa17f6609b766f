#!/usr/bin/env python3
"""Query the agent's JSON-lines event feed.

  events.py FILE [--skip N] [--min K] [--wait S] [--show] [--has K1,K2,...] KEY=VALUE...

Counts the events after the first N lines of FILE whose fields match every
KEY=VALUE (KEY may be dotted for nested objects; VALUE compared as text,
case-insensitively; VALUE may be a|b for alternatives; KEY!=VALUE negates).
With --wait, polls until at least --min events match or S seconds pass.
Prints the count (and, with --show, the matching lines). Lines that are not
JSON objects are ignored. --has: only events that have every key listed (null values count:
a field the hook cannot know, such as the source port at connect, may be null). Exit 0 if count >= --min (default 1), else 1.
"""
import argparse
import json
import sys
import time


MISSING = object()


def get(obj, key, default=None):
    for part in key.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return default
        obj = obj[part]
    return obj


def match(ev, conds):
    for key, neg, alts in conds:
        v = get(ev, key)
        ok = v is not None and str(v).lower() in alts
        if ok == neg:
            return False
    return True


def scan(path, skip, conds, has=()):
    out = []
    try:
        with open(path, errors="replace") as f:
            for i, line in enumerate(f):
                if i < skip:
                    continue
                line = line.strip()
                if not line.startswith("{"):
                    continue
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue
                if isinstance(ev, dict) and match(ev, conds) and all(get(ev, k, MISSING) is not MISSING for k in has):
                    out.append(line)
    except FileNotFoundError:
        pass
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--skip", type=int, default=0)
    ap.add_argument("--min", type=int, default=1)
    ap.add_argument("--wait", type=float, default=0)
    ap.add_argument("--show", action="store_true")
    ap.add_argument("--has", default="")
    ap.add_argument("conds", nargs="*")
    a = ap.parse_intermixed_args()
    conds = []
    for c in a.conds:
        if "!=" in c:
            k, v = c.split("!=", 1)
            neg = True
        elif "=" in c:
            k, v = c.split("=", 1)
            neg = False
        else:
            ap.error("bad condition %r" % c)
        conds.append((k, neg, {x.lower() for x in v.split("|")}))
    deadline = time.monotonic() + a.wait
    while True:
        hits = scan(a.file, a.skip, conds, [k for k in a.has.split(",") if k])
        if len(hits) >= a.min or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    print(len(hits))
    if a.show:
        for h in hits:
            print(h)
    sys.exit(0 if len(hits) >= a.min else 1)


if __name__ == "__main__":
    main()
