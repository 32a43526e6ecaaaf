#!/usr/bin/env python3
"""Include discipline for common/, probe/ and collector/.

A module is a pair X.c + X.h in one directory; a module's internal header
X_int.h (shared by its files X*.c, not for other modules) belongs to X. Module A depends on module B
when A.c or A.h includes B.h. Two rules, each printed with the offending
files, exit status 1 when either is broken:

  1. No cycles between modules (A -> B -> ... -> A). A cycle means neither
     file can be understood, tested or linked without the other; the shared
     type belongs in the lower header or a small types header.
  2. Layers: common/ includes only common/; probe/ and collector/ include
     their own directory and common/, never each other.

Quoted includes are resolved in the including file's own directory, then
common/, then the other directories (to catch a layer violation the
Makefile's per-directory -I would also refuse). Anything else (system
headers, build/gen/tlswatch.pb-c.h) is outside the graph.

Usage: scripts/check-includes.py [ROOT]   (default: the repository root)
"""
import os
import re
import sys

DIRS = ("common", "probe", "collector")
# Who may include whom (besides itself).
MAY_INCLUDE = {"common": set(), "probe": {"common"}, "collector": {"common"}}
# Layer violations tolerated while their owner switches over; each is
# reported as a warning, never silently.
ALLOWED_FOR_NOW = set()
INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def module_of(path):
    d, f = os.path.split(path)
    stem = os.path.splitext(f)[0]
    if stem.endswith("_int"):
        stem = stem[:-len("_int")]
    return os.path.join(d, stem)


def resolve(root, from_dir, name):
    for d in (from_dir, "common") + DIRS:
        cand = os.path.normpath(os.path.join(d, name))
        if os.path.isfile(os.path.join(root, cand)):
            return cand
    return None


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    edges = {}   # module -> {module: "file includes header"}
    layer_errors = []
    for d in DIRS:
        full = os.path.join(root, d)
        if not os.path.isdir(full):
            continue
        for f in sorted(os.listdir(full)):
            if not f.endswith((".c", ".h")):
                continue
            src = os.path.join(d, f)
            mod = module_of(src)
            edges.setdefault(mod, {})
            with open(os.path.join(root, src), encoding="utf-8", errors="replace") as fh:
                text = fh.read()
            for name in INCLUDE_RE.findall(text):
                hdr = resolve(root, d, name)
                if hdr is None:
                    continue
                hdir = hdr.split(os.sep)[0]
                if hdir != d and hdir not in MAY_INCLUDE[d]:
                    if (src, hdr) in ALLOWED_FOR_NOW:
                        print(f"check-includes: warning: {src} includes {hdr} (allowed for now)")
                        continue
                    layer_errors.append(f"{src} includes {hdr}: {d}/ may not include {hdir}/")
                dep = module_of(hdr)
                if dep != mod:
                    edges[mod].setdefault(dep, f"{src} includes {hdr}")

    # Every elementary cycle is found from its smallest module, once.
    cycles = []
    order = sorted(edges)

    def walk(start, node, path, seen):
        for nxt in sorted(edges.get(node, {})):
            if nxt == start:
                cycles.append(path + [start])
            elif nxt > start and nxt not in seen:
                seen.add(nxt)
                walk(start, nxt, path + [nxt], seen)
                seen.discard(nxt)

    for start in order:
        walk(start, start, [start], {start})

    for c in cycles:
        print("check-includes: cycle: " + " -> ".join(c))
        for a, b in zip(c, c[1:]):
            print("    " + edges[a][b])
    for e in layer_errors:
        print("check-includes: layer: " + e)
    if cycles or layer_errors:
        print("check-includes: %d cycle(s), %d layer error(s) (see scripts/check-includes.py)"
              % (len(cycles), len(layer_errors)), file=sys.stderr)
        return 1
    print("check-includes: clean (%d modules)" % len(edges))
    return 0


if __name__ == "__main__":
    sys.exit(main())
