#!/usr/bin/env python3
"""Break a clientreg CPU profile down into where the server's time goes.

    go run ./tools/perf/profile -n 20000     # perf-results/profile/PHASE.pprof
    python3 tools/perf/breakdown.py perf-results/profile/*.pprof

Reads `go tool pprof -traces PROFILE` (so it needs only Go and the Python
standard library) and puts every sample into the first category, in the
order of CATEGORIES, that one of its stack frames matches. The shares are of
the profile's total CPU time.
"""
import re
import subprocess
import sys

# (name, pattern matched against any frame of a stack), first match wins.
CATEGORIES = [
    ("GC (marking, assists, sweeping)", r"^runtime\.(gcBgMarkWorker|gcAssistAlloc|bgsweep|bgscavenge)"),
    ("access log (slog line per request)", r"^log/slog\."),
    ("SQLite: SQL text parsed per statement (prepare)", r"^modernc\.org/sqlite\.\(\*conn\)\.prepareV2"),
    ("SQLite: commit (WAL append)", r"^modernc\.org/sqlite\.\(\*tx\)\.Commit|_sqlite3VdbeHalt"),
    ("SQLite: page cache reset + madvise", r"_pager_reset|^modernc\.org/memory\."),
    ("SQLite: begin/locks (fcntl, WAL index)", r"_sqlite3BtreeBeginTrans|_walTryBeginRead|_unixLock|_unixUnlock"),
    ("SQLite: execute, scan, database/sql", r"^modernc\.org/sqlite|^database/sql\."),
    ("JSON decode/encode, metadata validation", r"^encoding/json\.|/internal/jsonx\.|clientreg\.decodeMetadata|clientreg\.\(\*Handler\)\.validate"),
    ("crypto (HMAC-SHA256, crypto/rand)", r"^crypto/"),
    ("HTTP: read request, write response, net I/O",
     r"^net/http\.\(\*conn\)\.readRequest|^net/http\.\(\*response\)|^net/http\.\(\*chunkWriter\)"
     r"|^net/http\.Header|^net/http\.\(\*conn\)\.(finalFlush|close)|^bufio\.|^internal/poll\.|^net\.\(\*conn\)"),
    ("clientreg handler, other", r"^github\.com/clientreg/clientreg"),
]
OTHER = "other (scheduler, netpoll, timers, net/http plumbing)"


def parse(path):
    out = subprocess.run(["go", "tool", "pprof", "-traces", path],
                         check=True, capture_output=True, text=True).stdout
    total, samples = 0.0, []
    for block in out.split("-----------+-------------------------------------------------------")[1:]:
        lines = [l for l in block.strip("\n").split("\n") if l.strip()]
        if not lines:
            continue
        m = re.match(r"\s*([\d.]+)(ms|s|us|µs)\s+(.*)", lines[0])
        if not m:
            continue
        v = float(m.group(1)) * {"s": 1000, "ms": 1, "us": 0.001, "µs": 0.001}[m.group(2)]
        frames = [m.group(3).strip()] + [l.strip() for l in lines[1:]]
        total += v
        samples.append((v, frames))
    return total, samples


def categorize(frames):
    for name, pat in CATEGORIES:
        if any(re.search(pat, f) for f in frames):
            return name
    return OTHER


def main(paths):
    for path in paths:
        total, samples = parse(path)
        if total == 0:
            print(f"{path}: no samples")
            continue
        by = {}
        for v, frames in samples:
            c = categorize(frames)
            by[c] = by.get(c, 0) + v
        print(f"{path}: {total / 1000:.2f} s of CPU")
        for c, v in sorted(by.items(), key=lambda kv: -kv[1]):
            print(f"  {v / total * 100:5.1f}%  {c}")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
