"""Figures the README quotes from the tool on shipped (or stated) inputs are what the tool gives now.

A review found several stale: a sizing from before a model change, a band's edges, a refit fraction. Each test
computes the figure and looks for the README's words with it, so a model change that moves one fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from planner import api
from planner.loader import from_dict, load_scenario

ROOT = Path(__file__).resolve().parent.parent
README = " ".join((ROOT / "README.md").read_text().split())  # one line: quotes wrap anywhere


def _pool(scenario, name: str) -> dict:
    return next(p for p in api.estimate(scenario)["pools"] if p["pool"] == name)


def test_the_unstated_stack_band_of_the_seed_s_ascend_pool():
    p = _pool(load_scenario(ROOT / "scenarios" / "ascend-ramp-2024.yaml"), "ascend-cn")
    lo, hi = p["tokens_per_s_p10"] / p["tokens_per_s"], p["tokens_per_s_p90"] / p["tokens_per_s"]
    assert f"the seed's 405B job on Ascend: P10 {lo:.2f}x, P90 {hi:.2f}x" in README


def test_the_sizing_of_the_seed_s_job_on_100000_h100s():
    doc = {"name": "big", "start": "2025-01-01", "horizon_days": 900,
           "workload": {"model": "llama3-405b", "tokens": 15.0e12, "seq_len": 8192, "global_batch_tokens": 16777216},
           "fleet": [{"name": "h100", "chip": "h100-sxm", "units": 100000}], "reliability": {"enabled": True}}
    p = _pool(from_dict(doc), "h100")
    kept = re.search(rf"on {p['units']:,} it would fail .*? keeping (\d+)% of its time", p["limited_by"][0]).group(1)
    assert (f"on 100,000 H100s to {p['job_units']:,} chips: on the {p['units']:,} of its best layout it would keep "
            f"{kept}% of its time") in README


def test_the_productive_fraction_quoted_is_the_fitted_one():
    fraction = yaml.safe_load((ROOT / "planner" / "data" / "wholerun.yaml").read_text())["productive_fraction"]
    assert f"productive fraction {fraction:.3f}" in README


def test_the_sync_limit_sentence_on_the_seed():
    doc = yaml.safe_load((ROOT / "scenarios" / "ascend-ramp-2024.yaml").read_text())
    doc["strategy"] = {**doc.get("strategy", {}), "mode": "sync"}
    limits = api.simulate(from_dict(doc), replications=1).summary.limits
    (sentence,) = [x for x in limits if x.startswith("strategy: sync trains on azure-h100")]
    every, alone = re.search(r"on every pool it would train ([\d,]+) tokens/s .* against ([\d,]+) on azure-h100",
                             sentence).groups()
    assert (f"on every pool it would train {every} tokens/s (... waiting on the cross-pool all-reduce), "
            f"against {alone} on azure-h100") in README
