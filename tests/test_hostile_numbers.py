"""Findings of a hostile-input review: numbers below any sane value, and work the budget did not count."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import one_error_line

from planner.decide import solve as solve_mod

CUSTOM = {"id": "weird", "name": "a chip of our own", "vendor": "us", "bf16_tflops": 900, "hbm_gib": 96,
          "hbm_tbps": 3.0, "scale_up_domain": 8, "scale_up_gbyteps": 400, "scale_out_gbps": 400,
          "chips_per_node": 8, "tdp_w": 700, "matmul_efficiency": 0.7, "mtbf_chip_days": 0.001}


@pytest.mark.parametrize("field, value, words", [
    ("network_gbps", 1e-320, "fleet[0].network_gbps"), ("efficiency", 1e-320, "fleet[0].efficiency"),
    ("network_gbps", 0.05, "fleet[0].network_gbps"), ("efficiency", 1e-300, "fleet[0].efficiency")])
def test_a_pool_rate_below_any_sane_value_is_bad_input(cli, make_scenario, field, value, words):
    """A subnormal network or efficiency passed validate and crashed the layout search ("unexpected IndexError")."""
    path = make_scenario(fleet=[{"name": "p1", "chip": "h100-sxm", "units": 64, field: value}])
    for cmd in (("validate",), ("estimate", "--json")):
        r = cli(*cmd, path)
        assert r.exit_code == 2, r
        line = one_error_line(r)
        assert words in line and "unexpected" not in line


def test_a_currency_rate_near_zero_is_bad_input(cli, make_scenario):
    """5e-324 CNY per USD ran and showed every sum as "CNY 0"."""
    r = cli("validate", make_scenario(currency={"code": "CNY", "per_usd": 5e-324}))
    assert r.exit_code == 2 and "currency.per_usd" in one_error_line(r)


def test_measured_rows_count_in_the_work_budget(cli, make_scenario):
    """Each measured row is a layout search of its own run: 900 big rows are refused, 300 get a note.

    Review: 300 rows of DeepSeek-V3 at 128K tokens (40 KB of YAML) ran for minutes with no note; the format allows
    1,000 a pool.
    """
    row = {"model": "deepseek-v3", "units": 2048, "seq_len": 131072, "global_batch_tokens": 16777216,
           "tokens_per_s_per_chip": 150}
    many = make_scenario(fleet=[{"name": "p", "chip": "h200", "units": 256, "measured": [row] * 900}])
    r = cli("validate", many)
    assert r.exit_code == 2
    line = one_error_line(r)
    assert "fleet[0].measured" in line and "budget" in line
    from planner.budget import run_estimate
    from planner.loader import load_scenario

    some = make_scenario(fleet=[{"name": "p", "chip": "h200", "units": 256, "measured": [row] * 300}])
    est = run_estimate(load_scenario(some), 1)
    assert est.fit_seconds > 60 and est.seconds > est.fit_seconds


def test_a_custom_chips_failure_rate_is_named_where_it_is_set(cli, make_scenario):
    """A custom chip failing every 0.001 chip-days is refused at chips[0].mtbf_chip_days, not a pool field."""
    path = make_scenario(chips=[CUSTOM], fleet=[{"name": "p", "chip": "weird", "units": 64}],
                         reliability={"enabled": True})
    r = cli("validate", path)
    assert r.exit_code == 2
    assert "chips[0].mtbf_chip_days" in one_error_line(r)


def test_a_horizon_capped_by_the_format_is_said_so(make_scenario, monkeypatch):
    """A deadline centuries away: the horizon is raised to the format's limit, and the note says so."""
    from types import SimpleNamespace

    def run_points(scenarios, **_kw):
        return [{"infeasible": None, "time_to_train_days": [10.0] * 20,
                 "summary": SimpleNamespace(metrics={"cost_usd": SimpleNamespace(p50=1.0, mean=1.0)},
                                            finish_probability=1.0, bound=lambda *_a: False)} for _s in scenarios]

    monkeypatch.setattr(solve_mod, "run_points", run_points)
    s = make_scenario.scenario(horizon_days=365)
    r = solve_mod.solve(s, "fleet[0].units", dt.date(2200, 1, 1), low=8, high=64, workers=1)
    assert "the most the format allows; twice the deadline's would be" in r["note"]
