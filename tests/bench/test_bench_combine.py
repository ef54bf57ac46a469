#!/usr/bin/env python3
"""scripts/bench-combine.py: medians and spreads across invocations, and
refusals (fewer than three, different machines or placements, no machine
entry).

Usage: test_bench_combine.py path/to/bench-combine.py     (TAP on stdout)
"""
import json
import os
import subprocess
import sys
import tempfile

COMBINE = sys.argv[1]
results = []


def check(name, ok, detail=""):
    results.append((name, ok, detail))


def bench_json(tmp, n, ours, baseline, model="AMD EPYC", machine=True, placement="free"):
    entries = [{"name": "machine", "cpu_model": model, "cpus": 2,
                "placement": placement}] if machine else []
    entries.append({"name": "g2h_64k_1conn", "unit": "Gbit/s", "ours": ours,
                    "baseline": baseline, "ratio": ours / baseline,
                    "ours_spread_pct": 1.0, "baseline_spread_pct": 1.0, "runs": 9})
    entries.append({"name": "rss_per_idle_conn", "unit": "B", "ours": 174.0,
                    "baseline": None, "ratio": None, "ours_spread_pct": 0.0,
                    "baseline_spread_pct": None, "runs": 9})
    path = os.path.join(tmp, f"bench-{n}.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(entries, f)
    return path


def run(*paths):
    return subprocess.run([sys.executable, COMBINE, *paths], capture_output=True,
                          text=True, check=False)


with tempfile.TemporaryDirectory() as tmp:
    paths = [bench_json(tmp, 1, 30.0, 40.0), bench_json(tmp, 2, 20.0, 40.0),
             bench_json(tmp, 3, 40.0, 50.0)]
    out = run(*paths)
    row = next((l.split() for l in out.stdout.splitlines()
                if l.startswith("g2h_64k_1conn")), [])
    # ours 20/30/40: median 30, spread (40-20)/30; ratios 0.5/0.75/0.8.
    check("median and spread of ours across invocations",
          out.returncode == 0 and row[2:4] == ["30", "(67%)"], out.stdout + out.stderr)
    check("median and spread of the baseline", row[4:6] == ["40", "(25%)"], row)
    check("median of the ratios, not ratio of the medians", row[6:8] == ["0.75", "(40%)"], row)
    check("the machine and placement are printed",
          "on AMD EPYC, 2 CPUs, placement free" in out.stdout, out.stdout)
    idle = next((l.split() for l in out.stdout.splitlines()
                 if l.startswith("rss_per_idle_conn")), [])
    check("a figure without baseline shows '-'", idle[2:] == ["174", "(0%)", "-", "-"], idle)

    out = run(*paths[:2])
    check("fewer than three invocations are refused", out.returncode != 0, out.stdout)
    other = bench_json(tmp, 4, 30.0, 40.0, model="Intel Xeon")
    out = run(paths[0], paths[1], other)
    check("invocations from different machines are refused",
          out.returncode != 0 and "different machines" in out.stderr, out.stderr)
    pinned = bench_json(tmp, 6, 30.0, 40.0, placement="0,0,1")
    out = run(paths[0], paths[1], pinned)
    check("invocations with different placements are refused",
          out.returncode != 0 and "different machines or placements" in out.stderr, out.stderr)
    old = bench_json(tmp, 5, 30.0, 40.0, machine=False)
    out = run(paths[0], paths[1], old)
    check("a bench.json without a machine entry is refused",
          out.returncode != 0 and "no machine entry" in out.stderr, out.stderr)

print(f"1..{len(results)}")
for i, (name, ok, detail) in enumerate(results, 1):
    print(f"{'ok' if ok else 'not ok'} {i} - {name}")
    if not ok:
        print("# " + str(detail).replace("\n", "\n# "))
sys.exit(0 if all(ok for _, ok, _ in results) else 1)
