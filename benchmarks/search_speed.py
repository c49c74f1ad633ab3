"""Layout search rate: Llama 3 405B on 16,384 H100 (target >= 100,000 layouts/s on one core).

Run: python benchmarks/search_speed.py [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, as the target says

from planner.catalog import chips, models  # noqa: E402
from planner.perf.search import best_layout  # noqa: E402
from planner.perf.setup import training_setup  # noqa: E402


def main() -> None:
    """Time the search and print the rates."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    arch = models()["llama3-405b"].arch
    chip = chips()["h100-sxm"]
    wl = training_setup(arch, 8192, 16.0e6, "bf16")
    best_layout(arch, chip, wl, 16384)  # warm up imports and caches
    rates = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        r = best_layout(arch, chip, wl, 16384)
        dt = time.perf_counter() - t0
        rates.append(r.layouts_evaluated / dt)
    rates.sort()
    print(f"llama3-405b on 16,384 h100-sxm: {r.layouts_evaluated:,} layouts per search")
    print(f"  median {rates[len(rates) // 2]:,.0f} layouts/s, best {rates[-1]:,.0f} layouts/s over {args.repeat} runs")
    print(f"  best layout: {r.layout.label()}  MFU {r.mfu:.1%}  {r.tokens_per_s:,.0f} tokens/s")


if __name__ == "__main__":
    main()
