"""The cost model on published runs that are NOT in its calibration set, on the default path a user gets.

Each run is scored as `planner calibrate --cv` scores its own cases on the default path (the layout searched,
nothing pinned; planner.calibrate.predict with the shipped kernel factors), in two ways a user could state it:

- **stack stated**: the pool names the stack the publication describes (stacks.yaml: 2021-22 Megatron-DeepSpeed
  is `basic`, a current open framework `standard`, a tuned in-house stack `optimized`); the band is the
  conditional band of that stack's categories (planner/perf/band.py);
- **stack left out**: the prediction is the `standard` stack's and the band spans `basic` to `optimized` (the
  levels compared on ``SPREAD_UNITS`` chips), as `planner estimate` and `planner run` give it for a pool that does
  not say.

Published figures (tokens/s per chip unless said; GPU-hours turned into tokens/s per chip include downtime):
- LLaMA 65B: ~380 tokens/s/GPU on 2,048 A100-80GB, 4M-token batch, seq 2048 (Touvron et al. 2023, sec. 2.4).
- LLaMA 7B / 13B / 33B: 82,432 / 135,168 / 530,432 GPU-hours for 1.0T / 1.0T / 1.4T tokens (same, table 15).
- SmolLM3 3B: ~14k tokens/s/GPU on 384 H100, batch 2,359,296 tokens, seq 4096 (Hugging Face SmolLM3 blog and
  checkpoint card, 2025).
- BLOOM 176B: 156 TFLOP/s per GPU counted with recompute (Narayanan et al. 2021 eq. 3) on 384 A100-80GB, TP4
  PP12 DP8, 2,048 sequences of 2,048, bf16; four 100 Gb/s Omni-Path links per 8-GPU node (Le Scao et al. 2022,
  arXiv:2211.05100, sec. 3.4; GENCI, "BLOOM ... best HPC collaboration", 2022: 156 TFLOP/s/GPU sustained).
- MT-NLG 530B: 60.1 / 50.2 / 44.4 s per iteration of 1,920 sequences of 2,048 on 2,240 / 2,800 / 3,360 A100-80GB
  (126 / 121 / 113 TFLOP/s per GPU), TP8 PP35, DGX A100 with 8x200 Gb/s HDR (Smith et al. 2022,
  arXiv:2201.11990, sec. 2.4).
- DeepSeek-V2 236B (MoE, 21B active): 172.8K H800 GPU-hours per trillion tokens; DeepSeek 67B (dense): 300.6K
  (DeepSeek-AI 2024, arXiv:2405.04434, sec. 3.2.2 "during our practical training on the H800 cluster"); V2
  trains 9,216 sequences of 4,096 with 16-way pipeline, 8-way expert and ZeRO-1 data parallelism (sec. 3.1.3,
  3.2.2); 67B trains 4,608 sequences of 4,096 (DeepSeek-AI 2024, arXiv:2401.02954, table 2). Neither paper
  gives the chip count of that figure: 2,048 is assumed (the cluster of DeepSeek-V3, arXiv:2412.19437).

DeepSeek-V3 (`deepseek-v3-h800-fp8-2048`) is a calibration case (planner/data/calibration_extra.csv), so it is
not here.

Run: python benchmarks/validation.py
"""

from __future__ import annotations

import numpy as np

from planner.calibrate import naive, predict
from planner.catalog import chips
from planner.perf.band import SPREAD_UNITS, band
from planner.perf.system import system_for

L1 = dict(vocab=32000)
MTNLG = dict(layers=105, hidden=20480, heads=128, mlp="plain", vocab=50272)
V2 = dict(layers=60, hidden=5120, heads=128, ffn_hidden=12288, vocab=102400,
          mla=dict(q_lora_rank=1536, kv_lora_rank=512, qk_nope_head_dim=128, qk_rope_head_dim=64, v_head_dim=128),
          moe=dict(experts=160, top_k=6, shared_experts=2, expert_ffn_hidden=1536, dense_layers=1))


def _run(id_: str, arch: dict, chip: str, units: int, seq: int, batch_tokens: float, published: float,
         stack: str, metric: str = "tokens_per_s_per_chip", precision: str = "bf16", **extra) -> dict:
    return {"id": id_, "arch": arch, "chip": chip, "units": units, "seq_len": seq, "global_batch_tokens": batch_tokens,
            "published": published, "stack": stack, "metric": metric, "precision": precision, **extra}


RUNS = [
    _run("llama1-65b", dict(layers=80, hidden=8192, heads=64, ffn_hidden=22016, **L1), "a100-80gb", 2048, 2048,
         4.0e6, 380.0, "standard"),
    _run("llama1-7b", dict(layers=32, hidden=4096, heads=32, ffn_hidden=11008, **L1), "a100-80gb", 2048, 2048,
         4.0e6, 1.0e12 / (82_432 * 3600), "standard"),
    _run("llama1-13b", dict(layers=40, hidden=5120, heads=40, ffn_hidden=13824, **L1), "a100-80gb", 2048, 2048,
         4.0e6, 1.0e12 / (135_168 * 3600), "standard"),
    _run("llama1-33b", dict(layers=60, hidden=6656, heads=52, ffn_hidden=17920, **L1), "a100-80gb", 2048, 2048,
         4.0e6, 1.4e12 / (530_432 * 3600), "standard"),
    _run("smollm3-3b", dict(layers=36, hidden=2048, heads=16, kv_heads=4, ffn_hidden=11008, vocab=128256,
                            tied_embeddings=True), "h100-sxm", 384, 4096, 2_359_296, 14_000.0, "standard"),
    _run("bloom-176b", dict(layers=70, hidden=14336, heads=112, mlp="plain", vocab=250680), "a100-80gb", 384, 2048,
         2048 * 2048, 156.0, "basic", metric="hw_tflops_per_chip", network_gbps=50.0),
    _run("mt-nlg-530b-2240", MTNLG, "a100-80gb", 2240, 2048, 1920 * 2048, 1920 * 2048 / 60.1 / 2240, "basic"),
    _run("mt-nlg-530b-2800", MTNLG, "a100-80gb", 2800, 2048, 1920 * 2048, 1920 * 2048 / 50.2 / 2800, "basic"),
    _run("mt-nlg-530b-3360", MTNLG, "a100-80gb", 3360, 2048, 1920 * 2048, 1920 * 2048 / 44.4 / 3360, "basic"),
    _run("deepseek-v2", V2, "h800", 2048, 4096, 9216 * 4096, 1.0e12 / (172.8e3 * 3600), "optimized"),
    _run("deepseek-67b", dict(layers=95, hidden=8192, heads=64, kv_heads=8, ffn_hidden=22016, vocab=102400), "h800",
         2048, 4096, 4608 * 4096, 1.0e12 / (300.6e3 * 3600), "optimized"),
]


def _on(case: dict, stack: str) -> float:
    """The model's figure for a case on the default path (layout searched) with ``stack``'s shipped kernel."""
    c = {**case, "stack": stack}
    kernel = float(system_for(chips()[c["chip"]], stack).kernel)
    return predict(c, kernel, default_path=True)[0]


def _ratio(case: dict, predicted: float) -> float:
    """Published over predicted: every metric here is a throughput (more is faster)."""
    return case["published"] / predicted


def score(case: dict) -> dict:
    """A run's predictions and bands, stack stated and left out."""
    moe = "moe" in case["arch"]
    stated = _on(case, case["stack"])
    lo_s, hi_s, _ = band(case["chip"], moe=moe, precision=case["precision"], seq_len=case["seq_len"],
                         stack=case["stack"])
    std = _on(case, "standard")
    # the spread between the levels as a scenario's band takes it: on SPREAD_UNITS chips (planner/perf/band.py)
    at_ref = {s: _on({**case, "units": SPREAD_UNITS}, s) for s in ("basic", "standard", "optimized")}
    lo_u, hi_u, _ = band(case["chip"], moe=moe, precision=case["precision"], seq_len=case["seq_len"], stack=None,
                         stack_spread=(at_ref["basic"] / at_ref["standard"], at_ref["optimized"] / at_ref["standard"]))
    return {"stated": stated, "band_stated": (lo_s, hi_s), "unstated": std, "band_unstated": (lo_u, hi_u),
            "naive": naive(case)}


def main() -> None:
    """Print each run's predictions, errors and bands (stack stated, stack left out) and the naive rule's error."""
    rows = []
    print(f"{'run':17s} {'chip':9s} {'units':>5s} {'stack':9s} {'published':>9s} | {'stated':>8s} {'error':>7s} "
          f"{'P10-P90':>15s} in | {'left out':>8s} {'error':>7s} {'P10-P90':>15s} in | {'naive':>7s}")
    for case in RUNS:
        s = score(case)
        pub = case["published"]
        row = {"err_s": s["stated"] / pub - 1, "err_u": s["unstated"] / pub - 1, "err_n": s["naive"] / pub - 1,
               "in_s": s["band_stated"][0] <= _ratio(case, s["stated"]) <= s["band_stated"][1],
               "in_u": s["band_unstated"][0] <= _ratio(case, s["unstated"]) <= s["band_unstated"][1]}
        rows.append(row)
        bs = [s["stated"] * x for x in s["band_stated"]]
        bu = [s["unstated"] * x for x in s["band_unstated"]]
        yes_s, yes_u = ("y" if row[k] else "n" for k in ("in_s", "in_u"))
        print(f"{case['id']:17s} {case['chip']:9s} {case['units']:5d} {case['stack']:9s} {pub:9,.0f} | "
              f"{s['stated']:8,.0f} {row['err_s']:+7.1%} {bs[0]:7,.0f}-{bs[1]:<7,.0f} {yes_s}  | "
              f"{s['unstated']:8,.0f} {row['err_u']:+7.1%} {bu[0]:7,.0f}-{bu[1]:<7,.0f} {yes_u}  | "
              f"{row['err_n']:+7.1%}")
    mape = {k: float(np.mean([abs(r[k]) for r in rows])) for k in ("err_s", "err_u", "err_n")}
    cover = {k: sum(r[k] for r in rows) for k in ("in_s", "in_u")}
    n = len(rows)
    print(f"{n} runs. Stack stated: MAPE {mape['err_s']:.1%}, band covers {cover['in_s']} of {n}. "
          f"Stack left out: MAPE {mape['err_u']:.1%}, band covers {cover['in_u']} of {n}. "
          f"Naive rule (35% MFU): MAPE {mape['err_n']:.1%}.")


if __name__ == "__main__":
    main()
