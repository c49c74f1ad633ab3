"""Fuzz the command line: mutated shipped scenarios and malformed YAML to validate, estimate and run.

Each case runs in its own process under a 2 GiB address-space limit and a 20 s alarm (tests/fuzzing.py).
Prints how many cases ran, the exit-code counts, the slowest case and the peak memory (ru_maxrss) of the
worst case, and every case that broke a rule (exit code outside {0, 1, 2, 3}, a traceback, an error message
over 2,000 bytes, a half-written report folder). Exit 1 when any case broke one.

    PYTHONPATH=. python3 benchmarks/fuzz.py [--cases 500] [--seed 9]
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import fuzzing  # noqa: E402 - tests/fuzzing.py, shared with tests/test_hardening_fuzz.py


def main() -> int:
    """Run the cases and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=500)
    ap.add_argument("--seed", type=int, default=9)
    args = ap.parse_args()
    cases = fuzzing.make_cases(args.seed, args.cases)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="planner-fuzz-") as tmp:
        outcomes = fuzzing.run_cases(cases, Path(tmp))
        bad = {c.name: fuzzing.problems(c, o, Path(tmp) / c.name) for c, o in zip(cases, outcomes, strict=True)}
    wall = time.perf_counter() - t0
    by_command = collections.Counter((c.command, o.exit_code) for c, o in zip(cases, outcomes, strict=True))
    print(f"cases run: {len(outcomes)} (seed {args.seed}) in {wall:.0f} s")
    for command in fuzzing.COMMANDS:
        counts = {code: n for (cmd, code), n in sorted(by_command.items(), key=str) if cmd == command}
        print(f"  {command:9s} exit codes: " + ", ".join(f"{code}: {n}" for code, n in counts.items()))
    print("exit codes, all:", dict(sorted(collections.Counter(o.exit_code for o in outcomes).items(), key=str)))
    worst = max(outcomes, key=lambda o: o.maxrss_kib)
    slow = max(outcomes, key=lambda o: o.seconds)
    case = {c.name: c for c in cases}
    print(f"peak memory (ru_maxrss) of the worst case: {worst.maxrss_kib / 1024:.0f} MiB "
          f"({worst.name}, {case[worst.name].command}, {case[worst.name].origin})")
    print(f"slowest case: {slow.seconds:.1f} s ({slow.name}, {case[slow.name].command}, {case[slow.name].origin})")
    broken = {k: v for k, v in bad.items() if v}
    print(f"cases that broke a rule: {len(broken)}")
    for name, found in broken.items():
        print(f"  {name} ({case[name].command}, {case[name].origin}): {'; '.join(found)}")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
