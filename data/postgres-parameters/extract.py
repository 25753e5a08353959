#!/usr/bin/env python3
"""Extract Azure Database for PostgreSQL Flexible Server parameter facts from
Microsoft's published Markdown tables and print them as JSON.

Source: https://github.com/MicrosoftDocs/azure-databases-docs
        articles/postgresql/server-parameters/includes/param-<PG>-<category>.md

Each parameter in those files is a level-3 heading followed by a two-column
attribute table, e.g.

    ### work_mem

    | Attribute | Value |
    | --- | --- |
    | Category | Resource Usage / Memory |
    | Description | ... |
    | Data type | integer |
    | Default value | `4096` |
    | Allowed values | `4096-2097151` |
    | Parameter type | dynamic |
    | Documentation | [work_mem](https://...) |

Only facts are kept (name, data type, default, allowed values, parameter
type).  Descriptions and documentation links are deliberately dropped.

Usage:
    extract.py FILE.md [FILE.md ...]          # explicit files
    extract.py --pg 16 DIR [DIR ...]          # every DIR/param-16-*.md
    extract.py --pg 16 DIR > pg16.json

Standard library only.
"""

import argparse
import glob
import json
import os
import re
import sys

HEADING_RE = re.compile(r"^###\s+(\S.*?)\s*$")
# "| Key | Value |" -- the value may itself contain "|" inside a code span
# (e.g. DateStyle's allowed-values regex), so match up to the LAST pipe.
ROW_RE = re.compile(r"^\|\s*([^|]+?)\s*\|(.*)\|\s*$")

FIELDS = {
    "data type": "dataType",
    "default value": "defaultValue",
    "allowed values": "allowedValues",
    "parameter type": "parameterType",
    "unit": "unit",  # not published today; kept if Microsoft ever adds it
}


def clean_value(raw):
    """Turn a table cell into the published value.

    * surrounding whitespace and one pair of back-ticks are removed;
    * the generator JSON-escapes some strings (\\" and \\\\ appear inside the
      code spans, e.g. search_path's default `\\"$user\\", public`); those two
      escapes are undone so the value is the literal PostgreSQL value.
    """
    v = raw.strip()
    if len(v) >= 2 and v.startswith("`") and v.endswith("`"):
        v = v[1:-1]
    v = v.replace('\\"', '"').replace("\\\\", "\\")
    return v


def normalise_record(name, data_type, default, allowed, param_type, unit=None):
    """Map one published row to the JSON object used in this directory."""
    param_type = param_type.strip().lower()
    if param_type not in ("dynamic", "static", "read-only"):
        raise ValueError("%s: unexpected parameter type %r" % (name, param_type))
    rec = {
        "name": name,
        "dataType": data_type.strip(),
        "allowedValues": clean_value(allowed),
        "defaultValue": clean_value(default),
        "isDynamic": param_type == "dynamic",
        "isReadOnly": param_type == "read-only",
    }
    if unit:
        rec["unit"] = clean_value(unit)
    return rec


def parse_markdown(text, source="<text>"):
    """Yield (name, attrs) for every '### name' block that has a Data type row."""
    name = None
    attrs = {}

    def flush():
        if name is not None and "dataType" in attrs:
            return (name, dict(attrs))
        return None

    for line in text.splitlines():
        m = HEADING_RE.match(line)
        if m:
            done = flush()
            if done:
                yield done
            name = m.group(1).strip().strip("`")
            attrs = {}
            continue
        if name is None:
            continue
        m = ROW_RE.match(line.strip())
        if not m:
            continue
        key = m.group(1).strip().lower()
        if key in FIELDS:
            attrs[FIELDS[key]] = m.group(2)
    done = flush()
    if done:
        yield done


def extract(paths):
    """Return the sorted list of JSON records for the given Markdown files."""
    out = {}
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        for name, a in parse_markdown(text, path):
            missing = [k for k in ("defaultValue", "allowedValues", "parameterType") if k not in a]
            if missing:
                raise ValueError("%s: %s lacks %s" % (path, name, ", ".join(missing)))
            rec = normalise_record(name, a["dataType"], a["defaultValue"],
                                   a["allowedValues"], a["parameterType"], a.get("unit"))
            if name in out and out[name] != rec:
                print("warning: %s appears twice with different values (%s); keeping first"
                      % (name, path), file=sys.stderr)
                continue
            out.setdefault(name, rec)
    return sorted(out.values(), key=lambda r: (r["name"].lower(), r["name"]))


def expand(args_paths, pg):
    files = []
    for p in args_paths:
        if os.path.isdir(p):
            if pg is None:
                sys.exit("a directory was given: say which version with --pg N")
            files.extend(sorted(glob.glob(os.path.join(p, "param-%s-*.md" % pg))))
        else:
            files.append(p)
    if not files:
        sys.exit("no Markdown files found")
    return files


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="+", help="param-<PG>-*.md files, or the includes directory")
    ap.add_argument("--pg", help="PostgreSQL major version to pick from a directory, e.g. 16")
    args = ap.parse_args(argv)
    records = extract(expand(args.paths, args.pg))
    json.dump(records, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
