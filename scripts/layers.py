#!/usr/bin/env python3
# layers.py - `make lint`'s check of the layout: no program includes another's header, no include cycle.
"""The rules of src/ (README, "How the code is laid out"):

- a file includes headers of its own folder, of src/common/ and of
  src/proto/, and nothing of another program's folder;
- src/common/ includes only src/common/; src/proto/ only src/common/ and
  src/proto/;
- no cycle of includes between modules (x.c and x.h are module x).

Prints each violation and exits 1 if there is any, else prints "layers: clean".
"""

import collections
import glob
import os
import re
import sys

ALLOWED = {"common": {"common"}, "proto": {"common", "proto"}}


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    os.chdir(root)
    bad = []
    graph = collections.defaultdict(set)
    for f in sorted(glob.glob("src/*/*.[ch]")):
        folder, mod = f.split("/")[1], f[4:-2]
        for h in re.findall(r'^#include "([^"]+)"', open(f, encoding="utf-8").read(), re.M):
            path = h if "/" in h else folder + "/" + h
            target = path.split("/")[0]
            allowed = ALLOWED.get(folder, {"common", "proto", folder})
            if target not in allowed or h.startswith(".."):
                bad.append("%s includes %s: %s/ may include only %s" % (
                    f, h, folder, ", ".join(sorted(allowed))))
            if path[:-2] != mod:
                graph[mod].add(path[:-2])
    for cycle in cycles(graph):
        bad.append("include cycle: " + " -> ".join(cycle))
    for b in bad:
        print("layers: " + b)
    if bad:
        return 1
    print("layers: clean")
    return 0


def cycles(graph):
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


if __name__ == "__main__":
    sys.exit(main())
