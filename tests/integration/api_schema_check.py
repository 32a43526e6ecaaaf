#!/usr/bin/python3
"""Validates live API responses against collector/openapi.json.

usage: api_schema_check.py OPENAPI_JSON CASES_JSONL

Each line of CASES_JSONL is {"method": "get", "path": "/api/v1/targets/{target}",
"status": 200, "body": <the parsed response body>}: the operation of that path
template and method, its response for that status (a components/responses $ref
followed), and the application/json schema of it; body must validate. The
OpenAPI 3.0 "nullable: true" is turned into JSON Schema's type [T, "null"]
before validating (jsonschema knows no "nullable"). Prints one line per case
and exits 1 if any failed, 2 on bad input. Needs Debian's python3-jsonschema.
"""
import json
import sys

import jsonschema


def denull(o):
    if isinstance(o, dict):
        o = {k: denull(v) for k, v in o.items()}
        if o.pop("nullable", False) and "type" in o:
            o["type"] = [o["type"], "null"]
            if "enum" in o:
                o["enum"] = o["enum"] + [None]
        return o
    if isinstance(o, list):
        return [denull(v) for v in o]
    return o


def deref(doc, o):
    while isinstance(o, dict) and "$ref" in o:
        x = doc
        for part in o["$ref"][2:].split("/"):
            x = x[part]
        o = x
    return o


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1]) as f:
        doc = denull(json.load(f))
    resolver = jsonschema.RefResolver.from_schema(doc)
    failed = 0
    n = 0
    with open(sys.argv[2]) as f:
        for line in f:
            if not line.strip():
                continue
            case = json.loads(line)
            n += 1
            name = "%s %s %s" % (case["method"].upper(), case["path"], case["status"])
            try:
                op = doc["paths"][case["path"]][case["method"]]
                resp = deref(doc, op["responses"][str(case["status"])])
                schema = resp["content"]["application/json"]["schema"]
            except KeyError as e:
                print("FAIL %s: not declared in the OpenAPI document (%s)" % (name, e))
                failed += 1
                continue
            try:
                jsonschema.Draft4Validator(schema, resolver=resolver).validate(case["body"])
            except jsonschema.ValidationError as e:
                print("FAIL %s: %s at %s" % (name, e.message, "/".join(str(p) for p in e.absolute_path)))
                failed += 1
                continue
            print("ok   %s" % name)
    print("%d cases, %d failed" % (n, failed))
    return 1 if failed or n == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
