"""`planner estimate --json` contract and `planner calibrate --json` accuracy target."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from planner.catalog import chips, models
from planner.perf.params import model_flops_per_token
from planner.perf.search import USABLE_HBM_FRACTION

SCENARIO = """\
name: minimal
workload: {model: llama3-70b, tokens: 2.0e12, seq_len: 8192}
fleet:
  - {name: h100, chip: h100-sxm, units: 4096}
"""


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "planner.cli", *args], capture_output=True, text=True, timeout=300)


def estimate(tmp_path, text: str) -> dict:
    p = tmp_path / "scenario.yaml"
    p.write_text(text, encoding="utf-8")
    r = cli("estimate", str(p), "--json")
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    return json.loads(r.stdout)


@pytest.fixture(scope="module")
def minimal(tmp_path_factory):
    return estimate(tmp_path_factory.mktemp("est"), SCENARIO)


def test_estimate_pool_keys(minimal):
    pool = minimal["pools"][0]
    for key in ("pool", "chip", "units", "mfu", "tokens_per_s", "step_time_s", "time_to_train_days",
                "memory_per_chip_gib", "parallelism"):
        assert key in pool, key
    for key in ("tp", "pp", "dp", "cp", "ep", "micro_batch", "recompute"):
        assert key in pool["parallelism"], key
    assert pool["pool"] == "h100" and pool["chip"] == "h100-sxm"
    assert 1 <= pool["units"] <= 4096
    q = pool["parallelism"]
    assert q["tp"] * q["pp"] * q["cp"] * q["dp"] == pool["units"]
    assert q["recompute"] in ("none", "selective", "full")
    assert 0 < pool["memory_per_chip_gib"] <= USABLE_HBM_FRACTION * chips()["h100-sxm"].hbm_gib


def test_estimate_combined_and_search(minimal):
    c = minimal["combined"]
    for key in ("mode", "tokens_per_s", "time_to_train_days"):
        assert key in c, key
    assert c["tokens_per_s"] == pytest.approx(minimal["pools"][0]["tokens_per_s"], rel=1e-12)
    s = minimal["search"]
    assert s["layouts_evaluated"] > 0
    assert s["seconds"] >= 0


def test_estimate_time_to_train(minimal):
    pool = minimal["pools"][0]
    assert pool["time_to_train_days"] == pytest.approx(2.0e12 / pool["tokens_per_s"] / 86400, rel=1e-6)
    assert minimal["combined"]["time_to_train_days"] == pytest.approx(
        2.0e12 / minimal["combined"]["tokens_per_s"] / 86400, rel=1e-6)


def test_estimate_mfu(minimal):
    pool = minimal["pools"][0]
    a = models()["llama3-70b"].arch
    mfu = model_flops_per_token(a, 8192) * pool["tokens_per_s"] / (pool["units"] * 989.5e12)
    assert pool["mfu"] == pytest.approx(mfu, rel=1e-6)
    assert 0 < pool["mfu"] < 1


def test_estimate_pinned_parallelism(tmp_path):
    text = SCENARIO.replace("units: 4096}", "units: 4096, parallelism: {tp: 8, pp: 4}}")
    assert "parallelism" in text
    out = estimate(tmp_path, text)
    q = out["pools"][0]["parallelism"]
    assert (q["tp"], q["pp"]) == (8, 4)
    assert q["tp"] * q["pp"] * q["cp"] * q["dp"] == out["pools"][0]["units"] <= 4096


@pytest.fixture(scope="module")
def calibration():
    r = cli("calibrate", "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_calibration_coverage(calibration):
    cases = calibration["cases"]
    assert len(cases) >= 12
    classes = {c["chip"] for c in cases}
    assert len(classes) >= 3, classes
    assert any(c.startswith("ascend") for c in classes), classes
    for c in cases:
        assert c["published"] > 0 and c["predicted"] > 0
        assert c["error"] == pytest.approx(c["predicted"] / c["published"] - 1, rel=1e-9, abs=1e-12)


def test_calibration_mape_target(calibration):
    errors = [abs(c["error"]) for c in calibration["cases"]]
    assert calibration["mape"] == pytest.approx(sum(errors) / len(errors), rel=1e-9)
    assert calibration["mape"] <= 0.10, f"MAPE {calibration['mape']:.1%}"
