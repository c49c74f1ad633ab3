"""The cost model on published runs that are NOT in its calibration set, at default settings.

Each run goes through the default search (no layout pins) on the `standard` stack, as a user's scenario
would; the table shows the model's tokens/s per chip, its P10-P90 band and the naive 35%-MFU rule.
Published figures (tokens/s per chip; GPU-hours turned into tokens/s per chip include downtime):
- LLaMA 65B: ~380 tokens/s/GPU on 2,048 A100-80GB, 4M-token batch, seq 2048 (Touvron et al. 2023, sec. 2.4).
- LLaMA 7B / 13B / 33B: 82,432 / 135,168 / 530,432 GPU-hours for 1.0T / 1.0T / 1.4T tokens (same, table 15).
- SmolLM3 3B: ~14k tokens/s/GPU on 384 H100, batch 2,359,296 tokens, seq 4096 (Hugging Face SmolLM3 blog and
  checkpoint card, 2025).
- DeepSeek-V3: 2,664K H800 GPU-hours for 14.8T tokens on 2,048 H800, FP8 (DeepSeek-AI 2024, table 1).

Run: python benchmarks/validation.py
"""

from __future__ import annotations

import numpy as np

from planner.arch import ModelArch
from planner.catalog import chips, models
from planner.perf.band import error_band
from planner.perf.params import model_flops_per_token
from planner.perf.search import best_layout
from planner.perf.setup import training_setup
from planner.perf.system import system_for

L1 = dict(vocab=32000)
RUNS = [
    ("llama1-65b", ModelArch(layers=80, hidden=8192, heads=64, ffn_hidden=22016, **L1), "a100-80gb", 2048,
     2048, 4.0e6, "bf16", 380.0),
    ("llama1-7b", ModelArch(layers=32, hidden=4096, heads=32, ffn_hidden=11008, **L1), "a100-80gb", 2048,
     2048, 4.0e6, "bf16", 1.0e12 / (82_432 * 3600)),
    ("llama1-13b", ModelArch(layers=40, hidden=5120, heads=40, ffn_hidden=13824, **L1), "a100-80gb", 2048,
     2048, 4.0e6, "bf16", 1.0e12 / (135_168 * 3600)),
    ("llama1-33b", ModelArch(layers=60, hidden=6656, heads=52, ffn_hidden=17920, **L1), "a100-80gb", 2048,
     2048, 4.0e6, "bf16", 1.4e12 / (530_432 * 3600)),
    ("smollm3-3b", ModelArch(layers=36, hidden=2048, heads=16, kv_heads=4, ffn_hidden=11008, vocab=128256,
                             tied_embeddings=True), "h100-sxm", 384, 4096, 2_359_296, "bf16", 14_000.0),
    ("deepseek-v3", models()["deepseek-v3"].arch, "h800", 2048, 4096, 62.9e6, "fp8",
     14.8e12 / (2.664e6 * 3600)),
]


def main() -> None:
    """Print each run's prediction, error, band and the naive rule's error."""
    band = error_band()
    errs, naive_errs, inside = [], [], []
    print(f"{'run':12s} {'chip':10s} {'units':>6s} {'published':>10s} {'model':>9s} {'error':>7s} "
          f"{'P10-P90':>15s} {'naive':>7s}  layout")
    for name, arch, chip_id, units, seq, batch, prec, published in RUNS:
        chip = chips()[chip_id]
        wl = training_setup(arch, seq, batch, prec)
        r = best_layout(arch, system_for(chip), wl, units)
        pred = r.tokens_per_s / r.units_used
        naive = 0.35 * chip.peak_flops(prec) / model_flops_per_token(arch, seq)
        lo, hi = pred * band.p10, pred * band.p90
        errs.append(pred / published - 1)
        naive_errs.append(naive / published - 1)
        inside.append(lo <= published <= hi)
        print(f"{name:12s} {chip_id:10s} {units:6d} {published:10,.0f} {pred:9,.0f} {errs[-1]:+7.1%} "
              f"{lo:7,.0f}-{hi:<7,.0f} {naive_errs[-1]:+7.1%}  {r.layout.label()}")
    print(f"MAPE {np.mean(np.abs(errs)):.1%} (naive rule {np.mean(np.abs(naive_errs)):.1%}); "
          f"band covers {np.mean(inside):.0%} of {len(errs)} runs")


if __name__ == "__main__":
    main()
