#!/usr/bin/env python3
"""Mutation testing (make mutate): are the fast suites strong enough?

Applies each single-line mutant of tests/mutants.txt, one at a time, to a
copy of the source tree in BUILD_DIR/tree (the checkout is never written),
rebuilds, and runs the fast suites in stages (unit and cli, then rig, then
vsock), stopping at the first failure.  A mutant that makes a test fail is
killed; one that passes every stage survived.  Prints a line per mutant,
then killed/total and the survivors.

A survivor listed as equivalent in tests/mutants.txt (it cannot change any
behaviour) is explained; any other survivor is a hole in the tests.  Exit
status: 0 when every survivor is explained and at least 95% of the mutants
are killed, 1 otherwise, 2 for a list that does not apply (an original line
no longer in its file, or a mutant that does not compile).

Usage: mutate.py BUILD_DIR [FILTER]   (FILTER: run only mutants whose
                                       file name contains it, or one of a
                                       comma-separated list; MUTANTS=...
                                       in make)
       mutate.py --check              only check that every mutant applies
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

SRC = os.path.realpath(os.path.join(os.path.dirname(__file__), ".."))
LIST = os.path.join(SRC, "tests", "mutants.txt")
STAGES = [["unit", "cli"], ["rig"], ["vsock"]]
REQUIRED_KILL_RATE = 0.95


class Mutant:
    def __init__(self, path, nth, original, replacement, where):
        self.path, self.nth = path, nth
        self.original, self.replacement = original, replacement
        self.where = where  # "tests/mutants.txt:LINE", for messages
        self.equivalent = None  # the reason, when listed as equivalent
        self.line = 0  # line in the source file, found when applied

    def name(self):
        return f"{self.path}:{self.line}"


def parse_list(filter_text):
    """Lines are 'FILE: ORIGINAL => REPLACEMENT', or 'FILE@N: ...' for the
    Nth of several lines holding ORIGINAL; an indented line
    'equivalent: REASON' right after one marks it equivalent."""
    mutants = []
    with open(LIST, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            where = f"{os.path.relpath(LIST, SRC)}:{n}"
            if line[0].isspace():
                key, _, reason = line.strip().partition(":")
                if key != "equivalent" or not reason.strip() or not mutants:
                    sys.exit(f"{where}: expected 'equivalent: REASON' after a mutant")
                mutants[-1].equivalent = reason.strip()
                continue
            path, sep, rest = line.partition(": ")
            path, at, nth = path.partition("@")
            original, sep2, replacement = rest.partition(" => ")
            if (not sep or not sep2 or not original.strip() or original == replacement
                    or (at and not nth.isdigit())):
                sys.exit(f"{where}: expected 'FILE[@N]: ORIGINAL => REPLACEMENT'")
            mutants.append(Mutant(path, int(nth) if at else 0, original.strip(),
                                  replacement.strip(), where))
    wanted = [f for f in filter_text.split(",") if f] or [""]
    return [m for m in mutants if any(f in m.path for f in wanted)]


def copy_tree(tree):
    """The checkout's tracked and untracked-but-not-ignored files."""
    files = subprocess.run(
        ["git", "-C", SRC, "ls-files", "-co", "--exclude-standard", "-z"],
        check=True, capture_output=True).stdout.decode().split("\0")
    wanted = set(filter(None, files))
    for root, dirs, names in os.walk(tree):
        if root == tree:
            dirs.remove("build") if "build" in dirs else None
        for n in names:
            rel = os.path.relpath(os.path.join(root, n), tree)
            if rel not in wanted:
                os.unlink(os.path.join(root, n))
    for rel in wanted:
        src = os.path.join(SRC, rel)
        if not os.path.isfile(src):
            continue
        dst = os.path.join(tree, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if not os.path.exists(dst) or open(src, "rb").read() != open(dst, "rb").read():
            shutil.copy(src, dst)  # a new mtime: ninja must rebuild it


def mutate(m, text):
    """The text with m applied (m.line set), or exit with why it cannot be."""
    lines = text.split("\n")
    hits = [i for i, l in enumerate(lines) if m.original in l]
    if m.nth == 0 and len(hits) != 1:
        sys.exit(f"{m.where}: '{m.original}' is on {len(hits)} lines of {m.path}, "
                 "not one (FILE@N picks the Nth)")
    if m.nth > len(hits):
        sys.exit(f"{m.where}: '{m.original}' is on {len(hits)} lines of {m.path}, "
                 f"not {m.nth}")
    i = hits[max(m.nth, 1) - 1]
    m.line = i + 1
    lines[i] = lines[i].replace(m.original, m.replacement, 1)
    return "\n".join(lines)


def read(root, m):
    try:
        return open(os.path.join(root, m.path), encoding="utf-8").read()
    except FileNotFoundError:
        sys.exit(f"{m.where}: no file {m.path}")


def apply(m, tree):
    """Returns the file's pristine text after writing the mutated one."""
    text = read(tree, m)
    mutated = mutate(m, text)
    with open(os.path.join(tree, m.path), "w", encoding="utf-8") as f:
        f.write(mutated)
    return text


def run(cmd, log):
    with open(log, "w") as out:
        return subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT).returncode


def failed_tests(build):
    names = []
    with open(os.path.join(build, "meson-logs", "testlog.json")) as f:
        for line in f:
            t = json.loads(line)
            # INTERRUPT: stopped by --maxfail because another test failed.
            if t.get("result") not in ("OK", "SKIP", "EXPECTEDFAIL", "INTERRUPT"):
                # A timeout is a kill too (the mutant hung a test), but one
                # that a loaded machine can fake: it is shown as such.
                names.append(t["name"].split(" / ")[-1] +
                             (" (timeout)" if t.get("result") == "TIMEOUT" else ""))
    return names


def reap(build):
    """Kills what a test stopped by its timeout left running from the
    build (a mutant's daemon spinning in a loop would slow every later
    mutant's tests)."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink(f"/proc/{pid}/exe").startswith(build + os.sep):
                os.kill(int(pid), signal.SIGKILL)
        except OSError:
            pass


def fast_targets(build):
    """Every default target but the static programs that only the vsock
    suite runs: they recompile all of src/, so they are built only when a
    mutant gets that far."""
    out = subprocess.run(["ninja", "-C", build, "-t", "query", "all"], check=True,
                         capture_output=True, text=True).stdout
    inputs = out.split("input: phony", 1)[1].split("outputs:", 1)[0].split()
    return [t for t in inputs if "static" not in t and not t.startswith("meson-")]


def test_suites(build):
    """Each test's suites, by name."""
    out = subprocess.run(["meson", "introspect", "--tests", build], check=True,
                         capture_output=True, text=True).stdout
    return {t["name"]: [x.split(":")[-1] for x in t["suite"]] for t in json.loads(out)}


def build_for(build, suites, log):
    cmd = ["ninja", "-C", build]
    if "vsock" not in suites:
        cmd += fast_targets(build)
    return run(cmd, log) == 0


def test(build, log, first=None):
    """The first failing stage's failed tests, or [] if all passed.  None
    if a stage does not build.  first: a test to run before the stages
    (the one that killed this mutant last time)."""
    if first:
        if not build_for(build, test_suites(build).get(first, ["vsock"]), log):
            return None
        cmd = ["meson", "test", "-C", build, "--no-rebuild", first]
        if run(cmd, log) != 0 and failed_tests(build):
            return failed_tests(build)
    for suites in STAGES:
        if not build_for(build, suites, log):
            return None
        cmd = ["meson", "test", "-C", build, "--no-rebuild", "--maxfail", "1",
               "--num-processes", "2"]
        for s in suites:
            cmd += ["--suite", s]
        if run(cmd, log) != 0:
            return failed_tests(build) or ["(meson test failed)"]
    return []


def main():
    if sys.argv[1:] == ["--check"]:
        mutants = parse_list("")
        for m in mutants:
            mutate(m, read(SRC, m))
        print(f"{len(mutants)} mutants, each applies to one line")
        return
    if len(sys.argv) not in (2, 3) or sys.argv[1].startswith("-"):
        sys.exit(__doc__)
    work = os.path.realpath(sys.argv[1])
    mutants = parse_list(sys.argv[2] if len(sys.argv) == 3 else "")
    tree, build = os.path.join(work, "tree"), os.path.join(work, "tree", "build")
    log = os.path.join(work, "last.log")
    os.makedirs(tree, exist_ok=True)
    copy_tree(tree)
    os.environ.setdefault("VSOCK_GUEST_CACHE", os.path.join(SRC, ".cache", "guest"))
    if not os.path.exists(os.path.join(build, "build.ninja")):
        # Warnings are not errors here: a mutant may leave a parameter unused.
        subprocess.run(["meson", "setup", "-Dwerror=false", build, tree], check=True,
                       stdout=subprocess.DEVNULL)
    # A tree that changed since the last run may need meson to regenerate
    # the build first: the targets are read off build.ninja.
    if run(["ninja", "-C", build, "build.ninja"], log) != 0 or test(build, log) != []:
        sys.exit(f"the unmutated tree does not build or pass its tests: see {log}")

    # Which test killed each mutant last time: run first, it usually kills
    # it again in seconds.
    killers_path = os.path.join(work, "killers.json")
    try:
        killers = json.load(open(killers_path))
    except (OSError, ValueError):
        killers = {}
    killed, survivors, start = 0, [], time.monotonic()
    for i, m in enumerate(mutants, 1):
        key = f"{m.path}@{m.nth}: {m.original} => {m.replacement}"
        pristine = apply(m, tree)
        try:
            failures = test(build, log, killers.get(key))
            if failures is None:
                print(f"{m.where}: the mutant of {m.name()} does not compile (see {log})")
                sys.exit(2)
        finally:
            reap(build)
            with open(os.path.join(tree, m.path), "w", encoding="utf-8") as f:
                f.write(pristine)
        if failures:
            killers[key] = failures[0].split(" ")[0]
            with open(killers_path, "w") as f:
                json.dump(killers, f, indent=0)
            killed += 1
            verdict = "killed by " + ", ".join(failures)
            if m.equivalent:
                verdict += " (listed as equivalent: fix the list)"
        else:
            survivors.append(m)
            verdict = "SURVIVED" + (" (equivalent)" if m.equivalent else "")
        print(f"[{i}/{len(mutants)}] {m.name()}: {m.original} => {m.replacement}: {verdict}",
              flush=True)
    run(["ninja", "-C", build], log)  # leave the tree's build unmutated

    total = len(mutants)
    print(f"\n{killed}/{total} killed ({100 * killed / max(total, 1):.1f}%) "
          f"in {time.monotonic() - start:.0f} s")
    unexplained = [m for m in survivors if not m.equivalent]
    for m in survivors:
        why = f"equivalent: {m.equivalent}" if m.equivalent else "NOT EXPLAINED"
        print(f"  survivor {m.name()} ({m.where}): {m.original} => {m.replacement}: {why}")
    listed_equivalent_killed = any(m.equivalent for m in mutants if m not in survivors)
    ok = (not unexplained and killed >= REQUIRED_KILL_RATE * total
          and not listed_equivalent_killed)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
