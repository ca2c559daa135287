"""bench/workloads/pywork.py - a real program: python3 building and discarding big containers.

Run by bench/run as `python3 bench/workloads/pywork.py ROUNDS [N]` under each allocator. Each
round builds a dict of N entries (default 40,000; string keys, list values), round-trips it
through JSON, builds a list of 1.5 N strings of varied lengths, joins, splits and sorts it, grows a bytearray
and a list of tuples, then drops everything. CPython serves objects up to 512 bytes from its own
pymalloc arenas and takes everything bigger (dict tables, list arrays, long strings, the JSON
text, arenas themselves) from malloc, so the allocator shows through the way it does for real
Python programs (PYTHONMALLOC is left at its default on purpose).

verify: a CRC-32 over everything produced (no hash() or set order is involved, so it is the same
for every run and allocator) and the number of rounds.
"""
import json
import sys
import zlib


def one_round(r, n, crc):
    # a dict of lists, keyed by strings, and its JSON round trip
    d = {}
    for i in range(n):
        k = "key-%d-%d" % (r, (i * 7919) % 100003)
        d[k] = [i, "v%x" % (i * 2654435761 % 4294967296), (i, r)]
    text = json.dumps(d, separators=(",", ":"))
    crc = zlib.crc32(text.encode(), crc)
    back = json.loads(text)
    if len(back) != len(d) or back["key-%d-0" % r][0] != 0:
        raise SystemExit("error: json round trip lost data")
    del back, text

    # strings of varied lengths: join, split, sort
    words = [("%x" % (i * 2654435761 % 4294967296)) * (1 + i % 13) for i in range(n * 3 // 2)]
    big = ",".join(words)
    crc = zlib.crc32(big.encode(), crc)
    if big.split(",") != words:
        raise SystemExit("error: split does not give back the words")
    words.sort()
    crc = zlib.crc32("".join(words[:200]).encode(), crc)
    del big

    # a growing bytearray and a list of tuples rebuilt with comprehensions
    buf = bytearray()
    for i in range(n // 2):
        buf += words[i % len(words)][:24].encode()
    crc = zlib.crc32(bytes(buf), crc)
    pairs = [(w[:6], len(w)) for w in words]
    pairs = [p for p in pairs if p[1] % 3]
    crc = zlib.crc32(repr(pairs[:1000]).encode(), crc)
    crc = zlib.crc32(str(len(pairs)).encode(), crc)
    return crc


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 40000
    crc = 0
    keep = []  # a few results survive, so the heap is not empty between rounds
    for r in range(rounds):
        crc = one_round(r, n, crc)
        keep.append(["%d" % i for i in range(r * n // 40)])
    print("verify: python rounds=%d n=%d crc=%08x" % (rounds, n, crc))


if __name__ == "__main__":
    main()
