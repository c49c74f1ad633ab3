"""The cost model on published runs that are NOT in its calibration set, on the default path a user gets.

Each run is scored as `planner calibrate --cv` scores its own cases on the default path (the layout searched,
nothing pinned; planner.calibrate.predict with the shipped kernel factors), in two ways a user could state it:

- **stack stated**: the pool names the stack the publication describes (stacks.yaml: 2021-22 Megatron-DeepSpeed
  is `basic`, a current open framework `standard`, a tuned in-house stack `optimized`); the band is the
  conditional band of that stack's categories (planner/perf/band.py);
- **stack left out**: the prediction is the `standard` stack's and the band spans `basic` to `optimized` (the
  levels compared on ``SPREAD_UNITS`` chips), as `planner estimate` and `planner run` give it for a pool that does
  not say.

Published figures (tokens/s per chip unless said; GPU-hours turned into tokens/s per chip include downtime
unless said):
- LLaMA 65B: ~380 tokens/s/GPU on 2,048 A100-80GB, 4M-token batch, seq 2048 (Touvron et al. 2023, sec. 2.4).
- LLaMA 7B / 13B / 33B: 82,432 / 135,168 / 530,432 GPU-hours for 1.0T / 1.0T / 1.4T tokens (same, table 15).
- SmolLM3 3B: ~14k tokens/s/GPU on 384 H100, batch 2,359,296 tokens, seq 4096 (Hugging Face SmolLM3 blog and
  checkpoint card, 2025).
- DeepSeek-V2 236B (MoE, 21B active): 172.8K H800 GPU-hours per trillion tokens; DeepSeek 67B (dense): 300.6K
  (DeepSeek-AI 2024, arXiv:2405.04434, sec. 3.2.2 "during our practical training on the H800 cluster"); V2
  trains 9,216 sequences of 4,096 with 16-way pipeline, 8-way expert and ZeRO-1 data parallelism (sec. 3.1.3,
  3.2.2); 67B trains 4,608 sequences of 4,096 (DeepSeek-AI 2024, arXiv:2401.02954, table 2). Neither paper
  gives the chip count of that figure: 2,048 is assumed (the cluster of DeepSeek-V3, arXiv:2412.19437).
- MT-NLG 530B: 60.1 / 50.2 / 44.4 s per iteration of 1,920 sequences of 2,048 on 2,240 / 2,800 / 3,360 A100-80GB
  (126 / 121 / 113 TFLOP/s per GPU), TP8 PP35, DGX A100 with 8x200 Gb/s HDR, Megatron-DeepSpeed (Smith et al. 2022,
  arXiv:2201.11990, sec. 2.4).
- GLM-130B: MFU 32.5% (PaLM's count) on 768 A100-40GB, TP4 PP8, 4,224 sequences of 2,048, GeGLU FFN 32,768,
  vocab 150,528 (Zeng et al. 2022, arXiv:2210.02414, sec. 2.3; DeepSpeed pipeline).
- BloombergGPT 50.6B: 32.5 s a step of 2,048 sequences of 2,048 on 512 A100-40GB (102 TFLOP/s per GPU), MiCS
  sharding on SageMaker (Wu et al. 2023, arXiv:2303.17564, sec. 2.3 and table 4).
- Pythia 12B / 6.9B: 72,300 / 33,500 A100-40GB GPU-hours on 256 / 128 GPUs for 299.9B tokens, from iteration
  times (no downtime), 1,024 sequences of 2,048, GPT-NeoX (Biderman et al. 2023, arXiv:2304.01373, table 5).
- TinyLlama 1.1B: 24k tokens/s per A100-40GB on 16 GPUs, 56% MFU, no activation checkpointing (jzhang38/TinyLlama
  README, "Training Details"); 1,024 sequences of 2,048.
- MPT-70B on 64 H100 / 64 A100-80GB: 1,039 / 410 tokens/s/GPU; MPT-30B on 128 A100-40GB: 865 (batch 1,572,864
  tokens); MPT-13B on 128 A100-40GB: 1,972; seq 2048, batch 4,194,304 tokens unless said (mosaicml/llm-foundry
  scripts/train/benchmarking/README.md tables; FSDP).
- Llama 3.1 405B FP8: 292 tokens/s/GPU on 1,024 H100 (512 sequences of 8,192) and 661 on 128 B200 (64
  sequences); DeepSeek-V3 MXFP8: 2,139 tokens/s/GPU on 256 B200, 2,048 sequences of 4,096 (NVIDIA-NeMo/
  Megatron-Bridge docs/performance-summary.md, 25.11 container).
- Llama 2 70B: ~692 tokens/s per TPU v5p chip on 256 chips, 4,194,304-token batch of 4,096 (AI-Hypercomputer/
  maxtext docs/reference/models/tiering.md, v5p; configs/v5p/llama2_70b.sh).
- GPT-3 20B / 5B FP8 on 64 H100: 5,851 tokens/s/GPU (256 sequences of 2,048) / 23,406 (2,048 sequences);
  Nemotron 22B / 8B FP8 on 64 H100: 4,312 / 12,507 (256 sequences of 4,096, squared-ReLU MLP, vocab 256,000)
  (NeMo Framework 24.12 performance summary; architectures from NeMo-Framework-Launcher conf/training).

The stack each run states is the publication's: 2021-23 Megatron-DeepSpeed, GPT-NeoX and MiCS are `basic`, a
current open framework (Megatron-LM, torchtitan, llm-foundry) `standard`, a vendor's tuned recipes (NeMo,
Megatron-Bridge, MaxText) or a lab's tuned stack `optimized`.

BLOOM 176B (Megatron-DeepSpeed) and DeepSeek-V3 are calibration cases (planner/data/calibration_extra.csv), so
they are not here.

Run: python benchmarks/validation.py
"""

from __future__ import annotations

import numpy as np

from planner.calibrate import _arch, naive, predict
from planner.catalog import chips
from planner.perf.band import SPREAD_UNITS, band
from planner.perf.system import system_for

L1 = dict(vocab=32000)
V2 = dict(layers=60, hidden=5120, heads=128, ffn_hidden=12288, vocab=102400,
          mla=dict(q_lora_rank=1536, kv_lora_rank=512, qk_nope_head_dim=128, qk_rope_head_dim=64, v_head_dim=128),
          moe=dict(experts=160, top_k=6, shared_experts=2, expert_ffn_hidden=1536, dense_layers=1))
PLAIN = dict(mlp="plain")
MPT70 = dict(layers=80, hidden=8192, heads=64, vocab=50368, **PLAIN)
MTNLG = dict(layers=105, hidden=20480, heads=128, vocab=50272, **PLAIN)


def _run(id_: str, arch: dict | str, chip: str, units: int, seq: int, batch_tokens: float, published: float,
         stack: str, metric: str = "tokens_per_s_per_chip", precision: str = "bf16", **extra) -> dict:
    """One published run; ``arch`` an explicit architecture or a preset id."""
    model = {"model": arch} if isinstance(arch, str) else {"arch": arch}
    return {"id": id_, **model, "chip": chip, "units": units, "seq_len": seq, "global_batch_tokens": batch_tokens,
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
    _run("mt-nlg-530b-2240", MTNLG, "a100-80gb", 2240, 2048, 1920 * 2048, 1920 * 2048 / 60.1 / 2240, "basic"),
    _run("mt-nlg-530b-2800", MTNLG, "a100-80gb", 2800, 2048, 1920 * 2048, 1920 * 2048 / 50.2 / 2800, "basic"),
    _run("mt-nlg-530b-3360", MTNLG, "a100-80gb", 3360, 2048, 1920 * 2048, 1920 * 2048 / 44.4 / 3360, "basic"),
    _run("deepseek-v2", V2, "h800", 2048, 4096, 9216 * 4096, 1.0e12 / (172.8e3 * 3600), "optimized"),
    _run("deepseek-67b", dict(layers=95, hidden=8192, heads=64, kv_heads=8, ffn_hidden=22016, vocab=102400), "h800",
         2048, 4096, 4608 * 4096, 1.0e12 / (300.6e3 * 3600), "optimized"),
    _run("glm-130b", dict(layers=70, hidden=12288, heads=96, ffn_hidden=32768, vocab=150528), "a100-40gb", 768, 2048,
         4224 * 2048, 0.325, "basic", metric="mfu"),
    _run("bloomberggpt-50b", dict(layers=70, hidden=7680, heads=40, vocab=131072, **PLAIN), "a100-40gb", 512, 2048,
         2048 * 2048, 2048 * 2048 / 32.5 / 512, "basic"),
    _run("pythia-12b", dict(layers=36, hidden=5120, heads=40, vocab=50304, **PLAIN), "a100-40gb", 256, 2048,
         1024 * 2048, 299.892736e9 / (72_300 * 3600), "basic"),
    _run("pythia-6.9b", dict(layers=32, hidden=4096, heads=32, vocab=50304, **PLAIN), "a100-40gb", 128, 2048,
         1024 * 2048, 299.892736e9 / (33_500 * 3600), "basic"),
    _run("tinyllama-1.1b", dict(layers=22, hidden=2048, heads=32, kv_heads=4, ffn_hidden=5632, vocab=32000),
         "a100-40gb", 16, 2048, 1024 * 2048, 24_000.0, "optimized"),
    _run("mpt-70b-h100", MPT70, "h100-sxm", 64, 2048, 4_194_304, 1039.0, "standard"),
    _run("mpt-70b-a100", MPT70, "a100-80gb", 64, 2048, 4_194_304, 410.0, "standard"),
    _run("mpt-30b", dict(layers=48, hidden=7168, heads=56, vocab=50368, **PLAIN), "a100-40gb", 128, 2048, 1_572_864,
         865.0, "standard"),
    _run("mpt-13b", dict(layers=40, hidden=5120, heads=40, vocab=50368, **PLAIN), "a100-40gb", 128, 2048, 4_194_304,
         1972.0, "standard"),
    _run("mbridge-405b-h100", "llama3-405b", "h100-sxm", 1024, 8192, 512 * 8192, 292.0, "optimized",
         precision="fp8"),
    _run("mbridge-405b-b200", "llama3-405b", "b200", 128, 8192, 64 * 8192, 661.0, "optimized", precision="fp8"),
    _run("mbridge-dsv3-b200", "deepseek-v3", "b200", 256, 4096, 2048 * 4096, 2139.0, "optimized", precision="fp8"),
    _run("maxtext-llama2-70b", "llama2-70b", "tpu-v5p", 256, 4096, 4_194_304, 692.0, "optimized"),
    _run("nemo-gpt3-20b", dict(layers=44, hidden=6144, heads=48, vocab=51200, **PLAIN), "h100-sxm", 64, 2048,
         256 * 2048, 5851.0, "optimized", precision="fp8"),
    _run("nemo-gpt3-5b", dict(layers=24, hidden=4096, heads=32, vocab=51200, **PLAIN), "h100-sxm", 64, 2048,
         2048 * 2048, 23_406.0, "optimized", precision="fp8"),
    _run("nemotron-22b", dict(layers=40, hidden=6144, heads=48, vocab=256_000, **PLAIN), "h100-sxm", 64, 4096,
         256 * 4096, 4312.0, "optimized", precision="fp8"),
    _run("nemotron-8b", dict(layers=32, hidden=4096, heads=32, vocab=256_000, **PLAIN), "h100-sxm", 64, 4096,
         256 * 4096, 12_507.0, "optimized", precision="fp8"),
]


def _on(case: dict, stack: str) -> float:
    """The model's figure for a case on the default path (layout searched) with ``stack``'s shipped kernel."""
    c = {**case, "stack": stack}
    kernel = float(system_for(chips()[c["chip"]], stack).kernel)
    return predict(c, kernel, default_path=True)[0]


def _fig(x: float) -> str:
    """A published or predicted figure: thousands separated, an MFU with its decimals."""
    return f"{x:,.0f}" if x >= 10 else f"{x:.3f}"


def _ratio(case: dict, predicted: float) -> float:
    """Published over predicted: every metric here is a throughput (more is faster)."""
    return case["published"] / predicted


def score(case: dict) -> dict:
    """A run's predictions and bands, stack stated and left out."""
    moe = _arch(case).moe is not None
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
    print(f"{'run':18s} {'chip':9s} {'units':>5s} {'stack':9s} {'published':>9s} | {'stated':>8s} {'error':>7s} "
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
        print(f"{case['id']:18s} {case['chip']:9s} {case['units']:5d} {case['stack']:9s} {_fig(pub):>9s} | "
              f"{_fig(s['stated']):>8s} {row['err_s']:+7.1%} {_fig(bs[0]):>7s}-{_fig(bs[1]):<7s} {yes_s}  | "
              f"{_fig(s['unstated']):>8s} {row['err_u']:+7.1%} {_fig(bu[0]):>7s}-{_fig(bu[1]):<7s} {yes_u}  | "
              f"{row['err_n']:+7.1%}")
    mape = {k: float(np.mean([abs(r[k]) for r in rows])) for k in ("err_s", "err_u", "err_n")}
    cover = {k: sum(r[k] for r in rows) for k in ("in_s", "in_u")}
    n = len(rows)
    print(f"{n} runs. Stack stated: MAPE {mape['err_s']:.1%}, band covers {cover['in_s']} of {n}. "
          f"Stack left out: MAPE {mape['err_u']:.1%}, band covers {cover['in_u']} of {n}. "
          f"Naive rule (35% MFU): MAPE {mape['err_n']:.1%}.")


if __name__ == "__main__":
    main()
