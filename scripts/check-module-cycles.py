#!/usr/bin/env python3
# Usage: scripts/check-module-cycles.py crates/tandem-core/src  (prints the graph; exits 1 on a cycle)
"""Module import graph of a crate's src/: an edge A -> B for every path `crate::B...` or
`super::...` in A's file that names module B (not A itself nor the crate root), then every
cycle (strongly connected component of more than one module, or a self-loop)."""
import os, re, sys
src = sys.argv[1]
mods = {}
for root, _, files in os.walk(src):
    for f in files:
        if not f.endswith('.rs'): continue
        p = os.path.join(root, f)
        rel = os.path.relpath(p, src)[:-3].split(os.sep)
        if rel[-1] in ('mod', 'lib'): rel = rel[:-1]
        mods['::'.join(rel)] = p
def resolve(path):
    parts = path.split('::'); best = None
    for i in range(1, len(parts) + 1):
        if '::'.join(parts[:i]) in mods: best = '::'.join(parts[:i])
    return best
edges = {m: set() for m in mods}
for m, p in mods.items():
    text = open(p).read()
    parent = m.rsplit('::', 1)[0] if '::' in m else ''
    # expand `use x::{a, b::c}` groups into paths
    for base, group in re.findall(r'((?:crate|super)(?:::\w+)*)::\{([^}]*)\}', text):
        for item in group.split(','):
            item = item.strip().split(' as ')[0]
            if not item or item == 'self': item = ''
            full = base + ('::' + item if item else '')
            text += '\n' + full + ';'
    for path in re.findall(r'\b((?:crate|super)(?:::\w+)+)', text):
        if path.startswith('crate::'): target = resolve(path[len('crate::'):])
        else:
            rest = path[len('super::'):]
            target = resolve((parent + '::' if parent else '') + rest)
        if target and target != m and target != '':
            edges[m].add(target)
# a module declaring `mod child;` uses its child
for m, p in mods.items():
    for child in re.findall(r'^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;', open(p).read(), re.M):
        full = (m + '::' if m else '') + child
        if full in mods and m != '': edges[m].add(full)
# Tarjan
index = {}; low = {}; stack = []; on = set(); sccs = []; n = [0]
def strong(v):
    index[v] = low[v] = n[0]; n[0] += 1; stack.append(v); on.add(v)
    for w in edges[v]:
        if w not in index: strong(w); low[v] = min(low[v], low[w])
        elif w in on: low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        c = []
        while True:
            w = stack.pop(); on.discard(w); c.append(w)
            if w == v: break
        sccs.append(c)
sys.setrecursionlimit(10000)
for v in edges:
    if v not in index: strong(v)
for m in sorted(edges):
    if m: print(f"{m} -> {', '.join(sorted(edges[m]))}")
cycles = [c for c in sccs if len(c) > 1]
print("CYCLES:", cycles if cycles else "none")
sys.exit(1 if cycles else 0)
