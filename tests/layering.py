#!/usr/bin/python3
"""Check the layers of src/ (docs/internals/layers.md) from its #include
lines: the folders that must not include certain others, and no cycle
between folders. Prints every offending include and exits 1, so make test
fails when the layering rots.

    tests/layering.py [SRC_DIR]        (default: src beside tests/)
"""

import os
import re
import sys

# folder -> folders it must never include
FORBIDDEN = {
    "http": {"store"},
    "model": {"http", "store"},
    "store": {"http", "api", "model"},
    "run": {"http", "api"},
}
# the bottom layers: folder -> the only folders it may include
ONLY = {
    "util": {"util"},
    "crypto": {"crypto", "util"},
    "template": {"template", "util"},
}

INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')
TOP = "."  # files directly in src/: main.c, config.c, dump.c


def folder_of(rel):
    """The folder of a path relative to src/ ('.' for the top level)."""
    head, _ = os.path.split(rel)
    return head.split(os.sep)[0] if head else TOP


def scan(src):
    """Map each .c/.h file under src (relative path) to the folders of the
    files it includes, with the include text: [(folder, text), ...]."""
    out = {}
    for dirpath, _, names in os.walk(src):
        for name in sorted(names):
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, src)
            incs = []
            with open(path, encoding="utf-8", errors="replace") as f:
                for line in f:
                    m = INCLUDE.match(line)
                    if m is None:
                        continue
                    text = m.group(1)
                    # a quoted include is found next to the includer
                    # first, then from src/ (the only -I)
                    beside = os.path.join(dirpath, text)
                    if os.path.exists(beside):
                        target = os.path.relpath(beside, src)
                    else:
                        target = text
                    incs.append((folder_of(target), text))
            out[rel] = incs
    return out


def cycles(edges):
    """The groups of two or more folders that reach each other (strongly
    connected components of edges: {folder: {folder, ...}})."""
    index, low, stack, on, groups = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return groups


def check(includes):
    """Every violation in an include map (as scan returns), as lines."""
    problems = []
    edges, why = {}, {}
    for rel in sorted(includes):
        src = folder_of(rel)
        for dst, text in includes[rel]:
            if dst == src:
                continue
            edges.setdefault(src, set()).add(dst)
            why.setdefault((src, dst), []).append("%s includes %s" %
                                                  (rel, text))
            if dst in FORBIDDEN.get(src, ()):
                problems.append("src/%s includes \"%s\": %s/ must not "
                                "include %s/" % (rel, text, src, dst))
            elif src in ONLY and dst not in ONLY[src]:
                problems.append("src/%s includes \"%s\": %s/ may include "
                                "only %s" % (rel, text, src, ", ".join(
                                    sorted(d + "/" for d in ONLY[src]))))
    for group in cycles(edges):
        members = set(group)
        lines = []
        for (a, b), reasons in sorted(why.items()):
            if a in members and b in members:
                lines += ["    src/" + r for r in reasons]
        problems.append("a cycle between folders %s:\n%s" %
                        (", ".join(g + "/" for g in group),
                         "\n".join(lines)))
    return problems


def selftest():
    """The checker must catch what it is for: fail loudly if it does not."""
    clean = {
        "main.c": [("api", "api/api.h"), ("http", "http/server.h")],
        "api/x.c": [("http", "http/request.h"), ("store", "store/store.h"),
                    ("model", "model/export.h"), ("api", "api/api.h")],
        "http/server.c": [("util", "util/buf.h"), ("crypto", "crypto/c.h")],
        "crypto/c.c": [("util", "util/xmalloc.h")],
        "model/m.c": [("util", "util/json.h"), ("crypto", "crypto/c.h")],
        "store/s.c": [("util", "util/log.h")],
        "run/fetch.c": [("util", "util/buf.h"), ("crypto", "crypto/c.h")],
        "util/buf.c": [("util", "util/buf.h")],
        "template/t.c": [("util", "util/buf.h"), ("template", "template/i.h")],
    }
    assert check(clean) == [], check(clean)
    cases = [
        ("http/request.h", ("store", "store/store.h"), "http/ must not"),
        ("model/m.c", ("http", "http/request.h"), "model/ must not"),
        ("model/m.c", ("store", "store/store.h"), "model/ must not"),
        ("store/s.c", ("api", "api/api.h"), "store/ must not"),
        ("store/s.c", ("model", "model/export.h"), "store/ must not"),
        ("store/s.c", ("http", "http/server.h"), "store/ must not"),
        ("util/oid.c", ("crypto", "crypto/c.h"), "a cycle"),
        ("util/oid.c", ("store", "store/store.h"), "util/ may include"),
        ("crypto/c.c", ("model", "model/m.h"), "crypto/ may include"),
        ("run/fetch.c", ("http", "http/request.h"), "run/ must not"),
        ("run/fetch.c", ("api", "api/api.h"), "run/ must not"),
        ("template/t.c", ("http", "http/request.h"), "template/ may include"),
        ("template/t.c", ("api", "api/api.h"), "template/ may include"),
        ("template/t.c", ("crypto", "crypto/c.h"), "template/ may include"),
    ]
    for rel, inc, want in cases:
        bad = {k: list(v) for k, v in clean.items()}
        bad.setdefault(rel, []).append(inc)
        found = check(bad)
        assert any(want in p for p in found), (rel, inc, found)
    # a longer cycle: util -> model -> crypto -> util
    bad = {k: list(v) for k, v in clean.items()}
    bad["util/u.c"] = [("model", "model/m.h")]
    bad["model/m.c"] = [("crypto", "crypto/c.h")]
    found = check(bad)
    assert any("crypto/, model/, util/" in p for p in found), found


def main():
    selftest()
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "src")
    includes = scan(src)
    if not includes:
        print("layering: no source files under %s" % src, file=sys.stderr)
        return 1
    problems = check(includes)
    for p in problems:
        print("layering: " + p, file=sys.stderr)
    if problems:
        return 1
    print("layering: %d files, no forbidden include, no cycle between "
          "folders" % len(includes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
