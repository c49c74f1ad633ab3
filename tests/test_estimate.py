"""`planner estimate --json` contract and `planner calibrate --json` accuracy target."""

from __future__ import annotations

import pytest

from planner.catalog import chips, models
from planner.perf.layout import LAYOUT_FIELDS
from planner.perf.params import model_flops_per_token
from planner.perf.search import usable_hbm_bytes
from planner.units import GIB

SCENARIO = """\
name: minimal
workload: {model: llama3-70b, tokens: 2.0e12, seq_len: 8192}
fleet:
  - {name: h100, chip: h100-sxm, units: 4096}
"""


def estimate(cli, factory, text: str) -> dict:
    r = cli("estimate", factory.text(text), "--json")
    assert r.exit_code == 0, r
    assert "Traceback" not in r.stderr
    assert not r.stderr.strip(), r
    return r.json()


@pytest.fixture(scope="module")
def minimal(cli, module_scenarios):
    return estimate(cli, module_scenarios, SCENARIO)


def test_estimate_pool_keys(minimal):
    pool = minimal["pools"][0]
    for key in ("pool", "chip", "units", "mfu", "tokens_per_s", "step_time_s", "time_to_train_days",
                "memory_per_chip_gib", "parallelism"):
        assert key in pool, key
    for key in ("tp", "pp", "dp", "cp", "ep", "micro_batch", "recompute"):
        assert key in pool["parallelism"], key
    assert set(pool["parallelism"]) == set(LAYOUT_FIELDS)  # the contract's seven plus vp and zero
    assert pool["pool"] == "h100" and pool["chip"] == "h100-sxm"
    assert 1 <= pool["units"] <= 4096
    q = pool["parallelism"]
    assert q["tp"] * q["pp"] * q["cp"] * q["dp"] == pool["units"]
    assert q["recompute"] in ("none", "selective", "full")
    assert 0 < pool["memory_per_chip_gib"] <= usable_hbm_bytes(chips()["h100-sxm"]) / GIB


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


def test_estimate_pinned_parallelism(cli, make_scenario, minimal):
    text = SCENARIO.replace("units: 4096}", "units: 4096, parallelism: {tp: 8, pp: 4}}")
    assert "parallelism" in text
    out = estimate(cli, make_scenario, text)
    q = out["pools"][0]["parallelism"]
    assert (q["tp"], q["pp"]) == (8, 4)
    assert q["tp"] * q["pp"] * q["cp"] * q["dp"] == out["pools"][0]["units"] <= 4096
    # the search is restricted to the pin: fewer layouts, never faster than the free search
    assert 0 < out["search"]["layouts_evaluated"] < minimal["search"]["layouts_evaluated"]
    assert out["pools"][0]["tokens_per_s"] <= minimal["pools"][0]["tokens_per_s"] * (1 + 1e-12)


@pytest.fixture(scope="module")
def calibration(cli):
    r = cli("calibrate", "--json")
    assert r.exit_code == 0, r
    return r.json()


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


def test_calibration_json_counts(calibration):
    cases = calibration["cases"]
    assert calibration["n_cases"] == len(cases)
    assert calibration["chip_classes"] == sorted({c["chip"] for c in cases})
    assert len({c["id"] for c in cases}) == len(cases), "calibration case ids repeat"


def test_estimate_table_matches_json(cli, module_scenarios, minimal):
    """Without --json the same answer is printed as a table: the layout label, the speed and the search size."""
    from planner.perf.layout import Layout

    r = cli("estimate", module_scenarios.text(SCENARIO, "table.yaml"))
    assert r.exit_code == 0, r
    pool = minimal["pools"][0]
    assert Layout(**pool["parallelism"]).label() in r.stdout
    assert f"{pool['tokens_per_s']:,.0f}" in r.stdout
    assert f"combined ({minimal['combined']['mode']} over" in r.stdout
    assert f"searched {minimal['search']['layouts_evaluated']:,} layouts" in r.stdout
