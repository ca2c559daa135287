"""tests/scripts/real/alloc_heavy.py - an allocation-heavy Python workload with deterministic output.

Run by tests/scripts/real_programs.sh with and without LD_PRELOAD=libquire.so; both runs must print
the same lines. Exercises the interpreter's allocator paths through malloc: big dicts, lists and
strings, json round trips, sorting, sets, bytes and bytearrays, regular expressions, many small
objects with reference cycles (gc), threads, and memory released and taken again between rounds.
"""
import collections
import gc
import hashlib
import json
import random
import re
import threading


def digest(obj):
    return hashlib.sha256(repr(obj).encode()).hexdigest()[:16]


def report(name, obj):
    print(f"{name}: {digest(obj)}")


rng = random.Random(12345)

# Big dict of strings to lists; grows, shrinks, grows again.
d = {}
for i in range(150_000):
    k = f"key{rng.randrange(1_000_000):07d}"
    d.setdefault(k, []).append(i * 7 % 1013)
for k in list(d)[::3]:
    del d[k]
for i in range(50_000):
    d[f"extra{i}"] = [i] * (i % 17)
report("dict", sorted((k, sum(v), len(v)) for k, v in d.items())[:5000])
print("dict size:", len(d))

# Strings: concatenation, join, split, replace, large buffers.
parts = ["".join(rng.choices("abcdefghij", k=rng.randrange(1, 80))) for _ in range(60_000)]
big = "|".join(parts)
big2 = big.replace("a", "AA").upper().lower()
report("strings", (len(big), len(big2), big2.count("aa"), big2.split("|")[1234]))
text = (big2 + "\n") * 20
report("bigtext", (len(text), hashlib.sha256(text.encode()).hexdigest()))
del text, big, big2

# JSON round trips of nested structures.
doc = {
    "users": [
        {"id": i, "name": f"user{i}", "tags": [f"t{j}" for j in range(i % 9)],
         "score": (i * 37) % 101 / 7.0, "nested": {"a": [i, i + 1, {"b": str(i)}]}}
        for i in range(20_000)
    ]
}
for _ in range(2):
    s = json.dumps(doc, sort_keys=True)
    doc = json.loads(s)
report("json", hashlib.sha256(s.encode()).hexdigest())
print("json length:", len(s))
del doc, s

# Sorting lists of tuples, strings and floats.
tuples = [(rng.randrange(1000), rng.random(), f"x{rng.randrange(10**6)}") for _ in range(150_000)]
tuples.sort()
report("sorted tuples", tuples[::997])
words = sorted(set(p[:5] for p in parts))
report("sorted words", words)
del tuples

# Many small objects with cycles, collected by gc.
class Node:
    __slots__ = ("value", "children", "parent", "__weakref__")

    def __init__(self, value, parent=None):
        self.value = value
        self.children = []
        self.parent = parent


def build(depth, width, value=0, parent=None):
    n = Node(value, parent)
    if depth:
        n.children = [build(depth - 1, width, value * width + c, n) for c in range(width)]
    return n


total = 0
for rnd in range(3):
    root = build(6, 5, rnd)
    stack = [root]
    while stack:
        n = stack.pop()
        total += n.value % 1009
        stack.extend(n.children)
    del root, stack, n
    gc.collect()
print("tree total:", total)

# bytes / bytearray growth and slicing.
ba = bytearray()
for i in range(200_000):
    ba += i.to_bytes(4, "little")
    if i % 1000 == 999:
        del ba[: len(ba) // 3]
report("bytearray", hashlib.sha256(bytes(ba)).hexdigest())
chunks = [rng.randbytes(rng.randrange(1, 300)) for _ in range(20_000)]
report("bytes", hashlib.sha256(b"".join(sorted(chunks))).hexdigest())

# Regular expressions over a large text.
log = "\n".join(f"2024-01-{i % 28 + 1:02d} level={('INFO', 'WARN', 'ERROR')[i % 3]} id={i} msg={parts[i % len(parts)]}"
                for i in range(100_000))
counts = collections.Counter(m.group(1) for m in re.finditer(r"level=(\w+) id=(\d+)", log))
ids = [int(x) for x in re.findall(r"id=(\d*7)\b", log)]
report("regex", (sorted(counts.items()), sum(ids), len(ids)))
subbed = re.sub(r"msg=(\w{3})\w*", r"m=\1", log)
report("regex sub", hashlib.sha256(subbed.encode()).hexdigest())
del log, subbed

# Threads building structures concurrently; results combined in a fixed order.
results = [None] * 8


def worker(k):
    r = random.Random(k)
    local = collections.defaultdict(list)
    for i in range(40_000):
        local[r.randrange(500)].append("v" * r.randrange(1, 40))
    results[k] = sum(len(v) * len(v[0]) for v in local.values())


threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("threads:", results)

# Release and retake memory in rounds.
for rnd in range(5):
    blob = [bytearray(1 << 16) for _ in range(300)]
    for b in blob:
        b[rnd] = rnd + 1
    print("round", rnd, sum(b[rnd] for b in blob))
    del blob
print("done")
