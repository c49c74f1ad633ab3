"""An MFU past 100% (PaLM's count of the attention scores at a long sequence) says what the chips run."""

from __future__ import annotations

LONG = {"model": {"layers": 16, "hidden": 2048, "heads": 16, "kv_heads": 16, "ffn_hidden": 5632, "vocab": 32000},
        "tokens": 1.0e12, "seq_len": 131072, "global_batch_tokens": 16777216, "precision": "bf16"}
POOL = {"name": "p", "chip": "h100-sxm", "units": 128, "stack": "optimized", "efficiency": 2}


def test_an_mfu_past_100_percent_says_the_share_of_the_peak_the_chips_run(cli, make_scenario):
    """Review: a 131,072-token sequence read "mfu": 1.057 with nothing said; the chips run 0.578 of their peak."""
    path = make_scenario(workload=LONG, fleet=[POOL])
    (pool,) = cli("estimate", path, "--json").json()["pools"]
    assert pool["mfu"] > 1.0
    assert pool["mfu_executed"] < 0.8  # at most the H100's GEMM share (0.8 of its peak)
    assert "without the causal mask" in pool["mfu_note"] and f"{pool['mfu_executed']:.1%}" in pool["mfu_note"]
    text = cli("estimate", path).stdout
    assert "counts the attention scores without the causal mask" in text
    run = cli("run", path, "--out", path.parent / "out")
    assert run.exit_code == 0, run
    (row,) = [line for line in run.stdout.splitlines() if "MFU (p50)" in line]  # (the headline's detail column)
    assert "MFU counts the attention" in row, row


def test_an_mfu_below_100_percent_has_no_note_but_its_executed_share(cli, make_scenario):
    (pool,) = cli("estimate", make_scenario(), "--json").json()["pools"]
    assert pool["mfu"] < 1.0 and "mfu_note" not in pool and 0 < pool["mfu_executed"] <= pool["mfu"]


def test_a_time_to_train_beyond_any_horizon_is_said(cli, make_scenario):
    """Hostile review: 1e16 tokens of 16 on 8 H100s read 222,536,975 days (609,000 years) as an ordinary figure."""
    path = make_scenario(workload={"model": "llama3-8b", "tokens": 1.0e16, "seq_len": 16, "global_batch_tokens": 16},
                         fleet=[{"name": "p1", "chip": "h100-sxm", "units": 8}])
    (pool,) = cli("estimate", path, "--json").json()["pools"]
    assert pool["time_to_train_days"] > 36_500 and "beyond the longest horizon" in pool["time_note"]
    assert "beyond the longest horizon" in cli("estimate", path).stdout
    (ok,) = cli("estimate", make_scenario(), "--json").json()["pools"]
    assert "time_note" not in ok
