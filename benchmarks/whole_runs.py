"""Whole-run chip-hours of published pre-training runs, cross-validated (planner/perf/wholerun.py).

Each run: the cost model's trainer speed on its chips (layout searched, the stack its owner states), the expected
goodput under every interruption (the catalog chip MTBF with the job-level interruptions it leaves
out), planned maintenance, and the productive fraction refit without the run's source. Prints each run, the
cross-validated MAPE over the runs with a published chip count (target: <= 15% over >= 8 runs), the runs at an
assumed chip count apart, and the runs the model cannot score with the reason.

Run: python benchmarks/whole_runs.py [--write]   (--write: the fraction fitted on every published run to
planner/data/wholerun.yaml)
"""

from __future__ import annotations

import sys
from importlib import resources

from planner.perf.wholerun import score_whole_runs
from planner.scenario import Reliability


def main(argv: list[str]) -> int:
    """Print the whole-run table and figures; with --write, ship the fraction fitted on every published run."""
    s = score_whole_runs(defaults=Reliability())
    print(f"{'run':18s} {'tier':9s} {'chips':>6s} {'published':>11s} {'cv':>11s} {'error':>7s} {'goodput':>7s} "
          f"{'trainer':>8s} {'whole':>8s}  (tokens/s per chip: the model's trainer, the published whole run)")
    for c in s["cases"]:
        print(f"{c['id']:18s} {c['tier']:9s} {c['units']:6d} {c['published']:11,.0f} {c['predicted_cv']:11,.0f} "
              f"{c['error_cv']:+7.1%} {c['whole_run_goodput_cv']:7.3f} {c['trainer_tokens_per_s_per_chip']:8,.0f} "
              f"{c['published_tokens_per_s_per_chip']:8,.0f}")
    for e in s["excluded"]:
        print(f"{e['id']:18s} excluded: {e['why']}")
    print(f"whole runs: MAPE {s['mape_cv']:.1f}% cross-validated ({s['mape_in_sample']:.1f}% in sample) over "
          f"{s['n']} runs with a published chip count; {s['mape_assumed']:.1f}% over {s['n_assumed']} at an assumed "
          f"count; productive fraction {s['productive_fraction']:.3f}")
    g = s["goodput_only"]
    print(f"goodput alone (runs whose source publishes the trainer's speed too): MAPE {g['mape']:.1f}% over "
          f"{g['n']} runs; " + ", ".join(f"{c['id']} {c['published_goodput']:.3f} published vs "
                                        f"{c['whole_run_goodput_cv']:.3f}" for c in s["cases"] if "goodput_error" in c))
    if "--write" in argv:
        path = resources.files("planner.data").joinpath("wholerun.yaml")
        head = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.startswith("#")]
        path.write_text("\n".join(head + [f"productive_fraction: {s['productive_fraction']:.3f}"]) + "\n",
                        encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
