#!/usr/bin/env python3
"""containerfile_check.py - what can be checked of a Containerfile without a
container engine: it parses (instructions, continuations, stages), builds in
a Debian stage and ships a Debian final stage that runs as a non-root user,
installs no -dev package in the final stage, and installs every Debian
package whose shared library the built binary needs directly.

    python3 containerfile_check.py CONTAINERFILE BINARY [--healthcheck PATH]

BINARY is the locally built program the image ships; its DT_NEEDED
libraries are mapped to Debian packages with dpkg -S (this machine is Debian
bookworm too, like the image). Prints every problem; exit 0 when none.
"""
import json
import re
import shlex
import subprocess
import sys

KNOWN = {"FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME",
         "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"}
# in every Debian image: the C library and the dynamic loader
BASE = {"libc6"}


def parse(path):
    """[(lineno, INSTRUCTION, argument text)], continuations joined."""
    out, buf, start = [], "", 0
    with open(path) as f:
        for n, line in enumerate(f, 1):
            s = line.rstrip("\n")
            if not buf and (not s.strip() or s.lstrip().startswith("#")):
                continue
            if buf and s.lstrip().startswith("#"):
                continue  # a comment inside a continued instruction
            if not buf:
                start = n
            if s.endswith("\\"):
                buf += s[:-1] + " "
                continue
            buf += s
            word, _, rest = buf.strip().partition(" ")
            out.append((start, word.upper(), rest.strip()))
            buf = ""
    if buf:
        raise SystemExit(f"{path}: ends inside a continued line")
    return out


def needed_packages(binary):
    dyn = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True, check=True)
    libs = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dyn.stdout)
    ldd = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    paths = dict(re.findall(r"^\s*(\S+) => (\S+)", ldd, re.M))
    pkgs = {}
    if any(re.match(r"lib(asan|ubsan|lsan|tsan)\.so", lib) for lib in libs):
        # a `make SANITIZE=1` build links the sanitizer runtimes and keeps
        # libraries a normal link drops: it is not what the image ships
        print(f"containerfile_check: {binary} is a sanitizer build: runtime library check skipped")
        return pkgs
    for lib in libs:
        p = paths.get(lib)
        if not p:
            raise SystemExit(f"{binary}: ldd does not resolve {lib}")
        r = subprocess.run(["dpkg", "-S", p], capture_output=True, text=True)
        if r.returncode != 0:
            # /lib is a symlink to /usr/lib on bookworm: dpkg knows one of them
            alt = p[4:] if p.startswith("/usr/") else "/usr" + p
            r = subprocess.run(["dpkg", "-S", alt], capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"{binary}: no Debian package owns {p}")
        pkgs[lib] = r.stdout.split(":")[0].strip()
    return pkgs


def apt_packages(run_args):
    """Packages an `apt-get install` in a RUN line names."""
    pkgs = []
    for part in re.split(r"&&|;", run_args):
        words = shlex.split(part)
        if len(words) >= 2 and words[0] in ("apt-get", "apt") and "install" in words:
            pkgs += [w for w in words[words.index("install") + 1:] if not w.startswith("-")]
    return pkgs


def main():
    path, binary = sys.argv[1], sys.argv[2]
    health = sys.argv[4] if len(sys.argv) == 5 and sys.argv[3] == "--healthcheck" else None
    problems = []
    ins = parse(path)
    for n, word, _ in ins:
        if word not in KNOWN:
            problems.append(f"{path}:{n}: unknown instruction {word}")
    stages = []  # [{"from", "name", "ins"}]
    for n, word, arg in ins:
        if word == "FROM":
            m = re.match(r"^(\S+)(?:\s+AS\s+(\S+))?$", arg, re.I)
            if not m:
                problems.append(f"{path}:{n}: FROM {arg}: not IMAGE [AS NAME]")
                continue
            stages.append({"from": m.group(1), "name": m.group(2), "ins": []})
        elif not stages:
            if word != "ARG":
                problems.append(f"{path}:{n}: {word} before the first FROM")
        else:
            stages[-1]["ins"].append((n, word, arg))
    if len(stages) < 2:
        problems.append(f"{path}: multi-stage wanted (a build stage and a runtime stage)")
    for s in stages:
        if not re.match(r"^debian:bookworm(-slim)?$", s["from"]):
            problems.append(f"{path}: stage FROM {s['from']}: Debian bookworm wanted")
    final = stages[-1] if stages else {"ins": [], "from": "", "name": None}
    users = [a for _, w, a in final["ins"] if w == "USER"]
    if not users:
        problems.append(f"{path}: the final stage has no USER (it would run as root)")
    elif users[-1].split(":")[0] in ("root", "0"):
        problems.append(f"{path}: the final stage runs as {users[-1]}")
    elif not users[-1].split(":")[0].isdigit():
        problems.append(f"{path}: USER {users[-1]}: numeric wanted (runAsNonRoot checks it)")
    installed = []
    for _, w, a in final["ins"]:
        if w == "RUN":
            installed += apt_packages(a)
    for p in installed:
        if p.endswith("-dev") or p in ("build-essential", "gcc", "make", "pkg-config",
                                       "protobuf-c-compiler"):
            problems.append(f"{path}: the final stage installs the build tool {p}")
    if not any(w == "COPY" and "--from=" in a for _, w, a in final["ins"]):
        problems.append(f"{path}: the final stage copies nothing from the build stage")
    for lib, pkg in sorted(needed_packages(binary).items()):
        if pkg not in installed and pkg not in BASE:
            problems.append(f"{path}: {binary} needs {lib} from {pkg}, not installed in the final stage")
    entry = [a for _, w, a in final["ins"] if w == "ENTRYPOINT"]
    if not entry:
        problems.append(f"{path}: no ENTRYPOINT")
    else:
        argv = json.loads(entry[-1])
        if not argv[0].endswith("/" + binary.rsplit("/", 1)[-1]):
            problems.append(f"{path}: ENTRYPOINT {argv[0]} is not the binary {binary}")
    if health:
        hc = [a for _, w, a in final["ins"] if w == "HEALTHCHECK"]
        if not hc or health not in hc[-1]:
            problems.append(f"{path}: no HEALTHCHECK on {health}")
    for p in problems:
        print(p)
    print(f"containerfile_check: {path}: {len(stages)} stages, final FROM {final['from']} "
          f"USER {users[-1] if users else '-'}, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
