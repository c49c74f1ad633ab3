"""The lab's own measurements, validated by transfer inside the calibration set (planner/perf/measured.py).

For each source with several rows on one chip and stack, each row is held out and predicted from the others
given as `measured:` rows; the prior (the conditional band from the other sources' residuals) and the kernel's
length are refit without the held-out row's source. Prints each held-out row, the MAPE and how often the
posterior P10-P90 band covers the published figure (targets: MAPE <= 10%, coverage >= 80%).

Run: python benchmarks/measured_transfer.py [--write]   (--write: the kernel fitted on every source to
planner/data/measured.yaml)
"""

from __future__ import annotations

import sys
from importlib import resources

from planner.transfer import transfer_validation


def main(argv: list[str]) -> int:
    """Print the transfer table and figures; with --write, ship the kernel fitted on every source."""
    t = transfer_validation()
    print(f"{'id':40s} {'source':6s} {'chip':14s} {'stack':9s} {'model only':>10s} {'with rows':>10s} covered")
    for c in t["cases"]:
        print(f"{c['id']:40s} {c['source']:6s} {c['chip']:14s} {c['stack']:9s} {c['error_without']:+10.1%} "
              f"{c['error']:+10.1%} {'yes' if c['covered'] else 'no'}")
    print(f"transfer: MAPE {t['mape']:.1f}% (the model alone {t['mape_without']:.1f}%), P10-P90 coverage "
          f"{t['coverage']:.0%} over {t['n']} held-out rows; kernel (path, layout length, noise, shared) per fold "
          f"{sorted({tuple(k[1:]) for k in t['kernel_folds']})}, on every source {tuple(t['kernel_all'][1:])}")
    if "--write" in argv:
        path = resources.files("planner.data").joinpath("measured.yaml")
        head = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.startswith("#")]
        _, length, length_layout, noise, shared = t["kernel_all"]
        path.write_text("\n".join(head + [f"length: {length}", f"length_layout: {length_layout:g}",
                                           f"noise_sd_log: {noise}", f"shared: {shared}"]) + "\n",
                        encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
