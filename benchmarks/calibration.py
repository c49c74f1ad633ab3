"""Calibration of the cost model: in-sample and cross-validated error beside the naive rule.

Targets: cross-validated MAPE <= 15%, in-sample <= 10%, clearly below the naive constant-MFU rule.
`--write` stores the fitted kernel factors and the cross-validated error band in planner/data/tuning.yaml
(the only constants the model takes from the calibration data).

Run: python benchmarks/calibration.py [--write]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from planner.calibrate import calibrate

TUNING = Path(__file__).resolve().parent.parent / "planner" / "data" / "tuning.yaml"


def main() -> None:
    """Print the tables; with --write, store the fitted factors and the band."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--write", action="store_true", help="write planner/data/tuning.yaml")
    args = ap.parse_args()
    c = calibrate(cv=True)
    print(f"{'case':36s} {'stack':9s} {'metric':22s} {'published':>10s} {'in-sample':>9s} {'cv':>7s} {'naive':>7s}")
    for r in c.rows:
        print(f"{r.id:36s} {r.stack:9s} {r.metric:22s} {r.published:10.4g} {r.error:+9.1%} {r.error_cv:+7.1%} "
              f"{r.error_naive:+7.1%}")
    print(f"MAPE in sample {c.mape_in_sample:.1%}, cross-validated {c.mape_cv:.1%}, naive rule {c.mape_naive:.1%} "
          f"over {len(c.rows)} cases")
    print("kernel factors:", ", ".join(f"{k} {v:.3f}" for k, v in c.kernels.items()))
    ratios = c.throughput_ratios()
    p10, p90 = (float(x) for x in np.quantile(ratios, [0.1, 0.9]))
    inside = float(np.mean((ratios >= p10) & (ratios <= p90)))
    print(f"band (published/predicted throughput, cross-validated): P10 {p10:.3f}, P90 {p90:.3f} ({inside:.0%} inside)")
    if args.write:
        kern = ", ".join(f"{k}: {v:.3f}" for k, v in c.kernels.items())
        TUNING.write_text(
            "# Written by `python benchmarks/calibration.py --write`: do not edit by hand.\n"
            "# kernel: each stack's kernel speed against the chip's microbenchmark, fitted on every calibration case.\n"
            "# band: P10/P90 of published/predicted throughput under grouped leave-one-source-out cross-validation.\n"
            f"kernel: {{{kern}}}\n"
            f"band: {{p10: {p10:.3f}, p90: {p90:.3f}}}\n"
            f"mape: {{in_sample: {c.mape_in_sample:.4f}, cv: {c.mape_cv:.4f}, naive: {c.mape_naive:.4f}, "
            f"cases: {len(c.rows)}}}\n", encoding="utf-8")
        print(f"wrote {TUNING}")


if __name__ == "__main__":
    main()
