#!/usr/bin/env python3
"""Figures across separate `make bench` invocations, as the README shows them.

Each invocation (a fresh daemon, rig and peer) leaves build/bench.json, and
scripts/bench.sh keeps a copy in build/bench-runs/.  This prints, per figure,
the median over the invocations of each invocation's median, and the spread
between invocations ((max - min) / median), for ours, the baseline and the
ratio.  Invocations from different machines, or with the parties placed
differently (vsock-bench --pin), are refused.

Usage: bench-combine.py BENCH.json BENCH.json BENCH.json [...]
"""
import json
import statistics
import sys


def spread_pct(values):
    med = statistics.median(values)
    return (max(values) - min(values)) / med * 100 if med else 0.0


def load(path):
    with open(path, encoding="utf-8") as f:
        entries = json.load(f)
    machine = next((e for e in entries if e.get("name") == "machine"), None)
    if machine is None:
        sys.exit(f"{path}: no machine entry (a bench.json from before it was recorded)")
    # Before --pin existed every invocation ran unpinned.
    where = (machine["cpu_model"], machine["cpus"], machine.get("placement", "free"))
    return where, [e for e in entries if e is not machine]


def main(paths):
    if len(paths) < 3:
        sys.exit(__doc__.strip().splitlines()[-1])
    runs = [load(p) for p in paths]
    machines = {m for m, _ in runs}
    if len(machines) != 1:
        sys.exit(f"invocations from different machines or placements: {sorted(machines)}")
    model, cpus, placement = machines.pop()
    print(f"{len(paths)} invocations on {model}, {cpus} CPUs, placement {placement}; "
          "median over invocations (spread between them)")
    print(f"{'figure':<22} {'unit':<8} {'ours':>18} {'baseline':>18} {'ratio':>16}")
    names = []
    for _, entries in runs:
        names += [e["name"] for e in entries if e["name"] not in names]
    for name in names:
        rows = [e for _, entries in runs for e in entries if e["name"] == name]
        cols = []
        for key in ("ours", "baseline", "ratio"):
            values = [r[key] for r in rows if r.get(key) is not None]
            if len(values) < len(paths):
                cols.append("-" if not values else f"only {len(values)} of {len(paths)}")
            else:
                cols.append(f"{statistics.median(values):.4g} ({spread_pct(values):.0f}%)")
        print(f"{name:<22} {rows[0]['unit']:<8} {cols[0]:>18} {cols[1]:>18} {cols[2]:>16}")


if __name__ == "__main__":
    main(sys.argv[1:])
