#!/usr/bin/env python3
"""Validate event feed files against the documented schemas.

  schema.py FILE...

Every line of every FILE must be one JSON object valid against
docs/events.schema.json (tunlock format) or, when it has "@timestamp",
docs/events-ecs.schema.json (ECS format). Prints "N events valid in K files"
and exits 0, or prints the first invalid lines and exits 1 (2: no validator).
"""
import json
import os
import sys

try:
    import jsonschema
except ImportError:
    print("schema: python3-jsonschema is missing (make deps)", file=sys.stderr)
    sys.exit(2)

DOCS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs")


def validator(name):
    with open(os.path.join(DOCS, name)) as f:
        schema = json.load(f)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def main():
    native, ecs = validator("events.schema.json"), validator("events-ecs.schema.json")
    n = bad = 0
    for path in sys.argv[1:]:
        with open(path, errors="replace") as f:
            for i, line in enumerate(f, 1):
                try:
                    doc = json.loads(line)
                    v = ecs if isinstance(doc, dict) and "@timestamp" in doc else native
                    errs = sorted(v.iter_errors(doc), key=lambda e: e.path)
                    why = "; ".join("%s: %s" % ("/".join(map(str, e.absolute_path)), e.message[:160])
                                    for e in errs[:2])
                except ValueError as e:
                    why = "not JSON: %s" % e
                n += 1
                if why:
                    bad += 1
                    if bad <= 3:
                        print("%s:%d: %s: %s" % (path, i, why, line.strip()[:300]))
    print("%d events, %d invalid, in %d files" % (n, bad, len(sys.argv) - 1))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
