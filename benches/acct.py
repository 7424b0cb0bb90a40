#!/usr/bin/env python3
"""CPU accounting of one command by process kind, for the benchmarks.

    python3 benches/acct.py OUT.json -- COMMAND [ARGS...]
    python3 benches/acct.py compare DIR RUNS NAME_A LABEL_A NAME_B LABEL_B

Runs COMMAND with the kernel's process accounting on (acct(2): every process that exits writes
its user and system time; root only), then writes OUT.json:

    {"wall": s, "exit": code, "cpu": {kind: s}, "processes": {kind: n},
     "by_name": {process name: s} (the 25 largest), "rusage_cpu": s}

and prints the same on stderr, one kind a line. Kinds come from the process name (15
characters at most): rustc (with its `ctrl-c` helper name; Miri, a rustc driver, too), rustdoc,
linker (GNU ld, lld, gcc's driver and collect2, zig), c-compiler (cc1, as), emulator (qemu-*,
wine*, wasmtime), cargo (cargo, cargo-miri), cargo-xtest, and tests (everything else: the test
executables themselves, shells).
`rusage_cpu` is the user + system time of COMMAND and every process it waited for (getrusage),
a check on the accounting's total that needs no root.
`compare` reads DIR/NAME-1.json … DIR/NAME-RUNS.json of both sides and prints the medians of
wall and of each kind's CPU, side by side, with B ÷ A, and the per-run ratios of wall. Accounting is machine-wide: run it on a
quiet machine. Without root or kernel support it still
runs COMMAND and says so, with no CPU split.
"""
import ctypes
import json
import os
import resource
import struct
import subprocess
import sys
import tempfile
import time

AHZ = 100  # acct v3 times are in 1/100 s
RECORD = struct.Struct("=BBHIIIIIIfHHHHHHHH16s")  # struct acct_v3, 64 bytes

KINDS = [
    ("rustdoc", lambda c: c == "rustdoc"),
    ("rustc", lambda c: c in ("rustc", "ctrl-c") or c.startswith("rustc")),
    # A cross gcc's name is cut to 15 characters (`aarch64-linux-g`): its driver, which runs
    # collect2 and the linker (or cc1 for C, counted apart).
    ("linker", lambda c: c in ("ld", "ld.bfd", "ld.gold", "ld.lld", "lld", "rust-lld", "collect2", "zig", "cc", "gcc")
        or c.startswith("ld.") or c.endswith("-ld") or "-linux-" in c or "-w64-" in c),
    ("c-compiler", lambda c: c in ("cc1", "cc1plus", "as") or c.endswith("-as")),
    ("emulator", lambda c: c.startswith("qemu-") or c.startswith("wine") or c in ("wasmtime", "miri")),
    ("cargo", lambda c: c in ("cargo", "cargo-miri", "rustup")),
    ("cargo-xtest", lambda c: c.startswith("cargo-xtest")),
]


def comp(v):
    return (v & 0x1FFF) << (3 * ((v >> 13) & 7))


def kind(comm):
    for name, match in KINDS:
        if match(comm):
            return name
    return "tests"


def compare(work, runs, a, label_a, b, label_b):
    import statistics
    load = lambda n: [json.load(open(f"{work}/{n}-{i}.json")) for i in range(1, int(runs) + 1)]
    sides = load(a), load(b)
    med = lambda rs, f: statistics.median(f(r) for r in rs)
    rows = [("wall s", lambda r: r["wall"])]
    for k in sorted({k for rs in sides for r in rs for k in r["cpu"]}):
        rows.append((f"{k} CPU-s", lambda r, k=k: r["cpu"].get(k, 0.0)))
    rows.append(("all CPU-s", lambda r: sum(r["cpu"].values())))
    rows.append(("rusage CPU-s", lambda r: r.get("rusage_cpu", 0.0)))
    print(f"{'':18} {label_a:>12} {label_b:>12} {'ratio':>8}")
    for name, f in rows:
        x, y = med(sides[0], f), med(sides[1], f)
        print(f"{name:18} {x:12.1f} {y:12.1f} {y / x if x else float('nan'):8.3f}")
    turns = " ".join(f"{y['wall'] / x['wall']:.3f}" for x, y in zip(*sides))
    print(f"wall ratio per run: {turns}")
    exits = sorted({r["exit"] for rs in sides for r in rs})
    print(f"exit codes: {exits}")


def main():
    if len(sys.argv) == 8 and sys.argv[1] == "compare":
        return compare(*sys.argv[2:])
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.exit("usage: acct.py OUT.json -- COMMAND [ARGS...]")
    out, cmd = sys.argv[1], sys.argv[3:]
    libc = ctypes.CDLL(None, use_errno=True)
    fd, path = tempfile.mkstemp(prefix="xtest-acct-")
    os.close(fd)
    on = libc.acct(path.encode()) == 0
    if not on:
        print(f"acct.py: process accounting unavailable ({os.strerror(ctypes.get_errno())}): no CPU split", file=sys.stderr)
    start = time.monotonic()
    try:
        code = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    finally:
        wall = time.monotonic() - start
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        if on:
            libc.acct(None)
    cpu, procs, comms = {}, {}, {}
    with open(path, "rb") as f:
        data = f.read()
    os.unlink(path)
    for i in range(0, len(data) - RECORD.size + 1, RECORD.size):
        r = RECORD.unpack_from(data, i)
        if r[1] & 0x0F != 3:  # ac_version: v3 only
            continue
        comm = r[18].split(b"\0", 1)[0].decode(errors="replace")
        k = kind(comm)
        cpu[k] = cpu.get(k, 0.0) + (comp(r[10]) + comp(r[11])) / AHZ
        procs[k] = procs.get(k, 0) + 1
        comms[comm] = comms.get(comm, 0.0) + (comp(r[10]) + comp(r[11])) / AHZ
    result = {"wall": round(wall, 2), "exit": code,
              "cpu": {k: round(v, 2) for k, v in sorted(cpu.items())}, "processes": procs,
              "by_name": {c: round(v, 2) for c, v in sorted(comms.items(), key=lambda x: -x[1])[:25]},
              "rusage_cpu": round(usage.ru_utime + usage.ru_stime, 2)}
    with open(out, "w") as f:
        json.dump(result, f)
    for k in sorted(cpu, key=cpu.get, reverse=True):
        print(f"  {k:<12} {cpu[k]:8.2f} CPU-s  {procs[k]:5} processes", file=sys.stderr)
    print(f"  {wall:.1f} s wall, {result['rusage_cpu']:.1f} CPU-s (rusage), exit {code}", file=sys.stderr)


if __name__ == "__main__":
    main()
