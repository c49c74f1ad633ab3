"""Calibration of the cost model: in-sample and cross-validated error beside the naive rule.

Targets: cross-validated MAPE <= 15%, in-sample <= 10%, clearly below the naive constant-MFU rule.
`--write` stores the fitted kernel factors and the cross-validated error band in planner/data/tuning.yaml
(the only constants the model takes from the calibration data).

Run: python benchmarks/calibration.py [--write]
"""

from __future__ import annotations

import argparse
from pathlib import Path

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
    print(f"default path (layout searched, stack as stated): MAPE {c.mape_default_cv:.1%} cross-validated")
    for k in c.categories():
        print(f"  {k['name']:22s} n={k['n']:3d} cv {k['mape_cv']:5.1f}% default-path cv {k['mape_default_cv']:5.1f}% "
              f"band coverage {k['band_coverage']:.0%}")
    if args.write:
        kern = ", ".join(f"{k}: {v:.3f}" for k, v in c.kernels.items())
        st = c.band_stats
        cats = ", ".join(f"'{k}': [{v[0]}, {v[1]:.4f}, {v[2]:.4f}, {v[3]}]" for k, v in sorted(st.items())
                         if k not in ("all", "tau2", "tau2_unseen", "k", "nu0"))
        TUNING.write_text(
            "# Written by `python benchmarks/calibration.py --write`: do not edit by hand.\n"
            "# kernel: each stack's kernel speed against the chip's microbenchmark, fitted on every calibration case.\n"
            "# fp8_vs_bf16: FP8 GEMM share of the FP8 peak over the BF16 share, fitted on the FP8 cases.\n"
            "# band: default-path cross-validated log residuals (published/predicted throughput): [n, mean, sd]\n"
            "# (and per category its publications)\n"
            "# overall and per category, tau2 (between categories), tau2_unseen (a category without cases), and the\n"
            "# quantile multiplier k and prior strength nu0 refit by leaving out each publication; "
            "planner/perf/band.py\n"
            "# turns them into bands.\n"
            f"kernel: {{{kern}}}\n"
            f"fp8_vs_bf16: {c.fp8_vs_bf16:.3f}\n"
            f"band:\n  all: [{st['all'][0]}, {st['all'][1]:.4f}, {st['all'][2]:.4f}]\n  tau2: {st['tau2']:.5f}\n"
            f"  tau2_unseen: {st['tau2_unseen']:.5f}\n  k: {st['k']:.4f}\n  nu0: {st['nu0']:g}\n"
            f"  categories: {{{cats}}}\n"
            f"mape: {{in_sample: {c.mape_in_sample:.4f}, cv: {c.mape_cv:.4f}, default_cv: {c.mape_default_cv:.4f}, "
            f"naive: {c.mape_naive:.4f}, cases: {len(c.rows)}}}\n", encoding="utf-8")
        print(f"wrote {TUNING}")

if __name__ == "__main__":
    main()
