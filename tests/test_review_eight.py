"""Findings of this round's reviews and the items left open before it.

Each test reproduces a case and fails on the code before its fix.
"""

from __future__ import annotations

import csv
import json

import pytest
import yaml


def _summary(out) -> dict:
    return json.loads((out / "summary.json").read_text())


# ---------------------------------------------------------------- the band


def test_a_later_job_draws_from_the_band_of_the_pools_it_trains_on_in_the_portfolio(cli, make_scenario, tmp_path):
    """The second job trains on the A100s the first job leaves it, yet drew from a band weighed 96% on the H100s.

    Its band was weighed on its own run alone, where it would have had the H100s too: it is weighed on the
    portfolio's expected run, and is then the A100s' band, as the same job's on the A100s alone.
    """
    wl = {"model": "llama3-8b", "seq_len": 8192, "global_batch_tokens": 4194304}
    fleet = [{"name": "h100", "chip": "h100-sxm", "units": 256}, {"name": "a100", "chip": "a100-80gb", "units": 64}]
    doc = {"name": "band-later-job", "start": "2025-01-01", "horizon_days": 400, "fleet": fleet,
           "jobs": [{"name": "first", "priority": 1, "pools": ["h100"], "workload": {**wl, "tokens": 3.0e11}},
                    {"name": "second", "priority": 2, "workload": {**wl, "tokens": 2.0e10}}],
           "simulation": {"seed": 3, "replications": 4}}
    out = tmp_path / "p"
    assert cli("run", make_scenario.text(yaml.safe_dump(doc), "p.yaml"), "--out", out).exit_code == 0
    s = _summary(out)
    second = s["jobs"][1]
    assert second["strategy"]["pools"] == ["a100"]  # it trained on the A100s in every replication
    band = {b["job"]: b for b in s["model_band"]["jobs"]}["second"]
    alone = {**doc, "fleet": fleet[1:], "workload": doc["jobs"][1]["workload"]}
    del alone["jobs"]
    out_alone = tmp_path / "a"
    assert cli("run", make_scenario.text(yaml.safe_dump(alone), "a.yaml"), "--out", out_alone).exit_code == 0
    a = _summary(out_alone)["model_band"]
    assert band["pool"] == "a100"
    assert (band["p10"], band["p90"]) == (a["p10"], a["p90"])


def test_a_pool_a_replication_never_trains_on_does_not_move_its_model_error(cli, make_scenario, tmp_path):
    """A 6-chip H100 rental the replications never trained on moved their draw to the H100s' band (P90 122 -> 154 days).

    One factor for the whole run, weighed by the expected run's pools (the rental's, there), slowed replications that
    trained only on the owned A100s. Each plan reads the draw on its own pools: those replications are the same.
    """
    rent = {"name": "rent", "chip": "h100-sxm", "site": "dc2",
            "cloud": {"units": 6, "from": "2025-01-01", "until": "2025-06-30", "price_per_chip_hour_usd": 3.0,
                      "billing": "on_demand"}}
    rows = {}
    for units in (0, 6):
        fleet = [{"name": "owned", "chip": "a100-80gb", "site": "dc1", "units": 16},
                 {**rent, "cloud": {**rent["cloud"], "units": units}}]
        path = make_scenario(start="2025-01-01", horizon_days=242, fleet=fleet, reliability={"enabled": True},
                             workload={"tokens": 0.2e12}, strategy={"mode": "auto"}, simulation={"seed": 5})
        out = tmp_path / f"r{units}"
        assert cli("run", path, "--out", out, "--replications", "20").exit_code == 0
        with (out / "replications.csv").open() as f:
            rows[units] = {r["replication"]: r for r in csv.DictReader(f)}
    same = [k for k, r in rows[6].items() if r["pool"] == "owned" and rows[0][k]["pool"] == "owned"]
    assert len(same) >= 10, same  # (most: 6 H100s for half a year add little)
    for k in same:
        assert (rows[6][k]["model_factor"], rows[6][k]["time_to_train_days"]) == (
            rows[0][k]["model_factor"], rows[0][k]["time_to_train_days"]), k


# ---------------------------------------------------------------- money: the scenario's currency in the decisions


def _priced(make_scenario):
    rent = {"name": "rent", "chip": "h100-sxm",
            "cloud": {"units": 64, "from": "2025-01-01", "until": "2025-12-31", "price_per_chip_hour_usd": 2.5}}
    return make_scenario(start="2025-01-01", horizon_days=300, currency={"code": "CNY", "per_usd": 7.1},
                         fleet=[{"name": "h100", "chip": "h100-sxm", "units": 64}, rent])


def test_sweep_and_sensitivity_give_every_cost_in_the_scenario_currency_too(cli, make_scenario, tmp_path):
    """With `currency:` set, sweep.csv, sensitivity.csv and their pages had US dollars only (README "Money")."""
    path = _priced(make_scenario)
    res = cli("sweep", path, "--set", "fleet[1].cloud.units=32,64", "--replications", "2", "--out", tmp_path / "sw")
    assert res.exit_code == 0 and "cost_cny_p50" in res.stdout and "CNY " in res.stdout
    with (tmp_path / "sw" / "sweep.csv").open() as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for q in ("mean", "p10", "p50", "p90"):
            assert float(r[f"cost_cny_{q}"]) == pytest.approx(7.1 * float(r[f"cost_usd_{q}"]), rel=1e-12)
    assert "CNY " in (tmp_path / "sw" / "sweep.html").read_text()
    res = cli("sensitivity", path, "--replications", "2", "--out", tmp_path / "se")
    assert res.exit_code == 0 and "(CNY " in res.stdout
    with (tmp_path / "se" / "sensitivity.csv").open() as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for side in ("base", "low", "high"):
            assert float(r[f"cost_cny_p50_{side}"]) == pytest.approx(7.1 * float(r[f"cost_usd_p50_{side}"]))
    assert "CNY " in (tmp_path / "se" / "sensitivity.html").read_text()


def test_solve_and_compare_give_the_cost_in_the_scenario_currency_too(cli, make_scenario):
    path = _priced(make_scenario)
    args = ("solve", path, "--vary", "fleet[1].cloud.units", "--deadline", "2025-01-03", "--min", "1", "--max", "128",
            "--replications", "4")
    answer = cli(*args, "--json").json()
    assert answer["found"] and answer["currency"] == {"code": "CNY", "per_usd": 7.1}
    assert answer["cost_cny"] == pytest.approx(7.1 * answer["cost_usd"])
    for e in answer["evaluations"]:
        assert e["cost_cny"] == pytest.approx(7.1 * e["cost_usd"]) and e["cost_cny_mean"] == pytest.approx(
            7.1 * e["cost_usd_mean"])
    text = cli(*args).stdout
    assert f"(CNY {answer['cost_cny']:,.0f})" in text
    modes = cli("compare", path, "--json").json()
    assert modes["currency"] == {"code": "CNY", "per_usd": 7.1}
    for r in (r for r in modes["modes"] if r["possible"]):
        assert r["cost_cny"] == pytest.approx(7.1 * r["cost_usd"]) and r["used_cny"] == pytest.approx(
            7.1 * r["used_usd"])


def test_a_column_of_sums_in_the_second_currency_is_never_shown_in_dollars():
    from planner.decide.present import cell_text
    from planner.report.tables import currency_of, fmt_cell, money_column

    assert currency_of("cost_cny_p50") == "CNY" and not money_column("cost_cny_p50")
    assert fmt_cell("cost_cny_p50", 4_981_504.2) == "CNY 4,981,504"
    assert cell_text("cost_cny_p50", 4.98e6) == "CNY 4.98 M"
    assert money_column("cost_usd_p50") and currency_of("cost_usd_p50") is None
    assert currency_of("cost_histogram") is None
    assert fmt_cell("job a_cny_b: time_to_train_days_p50", 3.0) == "3"  # a job's name is not a currency


def test_sensitivity_swings_the_site_power_that_holds_chips_back(cli, make_scenario, tmp_path):
    """Power held the chips back, yet sensitivity had no swing of it: every step of each site's power x0.75 / x1.25."""
    path = make_scenario(fleet=[{"name": "h100", "chip": "h100-sxm", "site": "dc", "units": 64}],
                         sites=[{"name": "dc", "pue": 1.3, "power_mw": [{"date": "2025-01-01", "mw": 0.04}]}])
    assert cli("sensitivity", path, "--replications", "2", "--out", tmp_path / "se").exit_code == 0
    with (tmp_path / "se" / "sensitivity.csv").open() as f:
        rows = {r["input"]: r for r in csv.DictReader(f)}
    power = rows["site power"]
    assert (power["low"], power["high"]) == ("x0.75", "x1.25")
    low, base, high = (float(power[f"time_to_train_days_p50_{k}"]) for k in ("low", "base", "high"))
    assert low > base > high  # 64 chips on power for about 44: fewer with less, all of them with more


# ---------------------------------------------------------------- the app


def test_the_finish_date_quantile_labels_never_share_a_row_or_a_side():
    """One late replication stretched the axis and the P10 and P50 labels printed over each other."""
    import datetime as dt

    import pandas as pd

    from planner.report import charts

    days = [100.0] * 4 + [101.0] * 5 + [102.0] * 4 + [600.0]  # P10, P50 and P90 within two days, one far out
    reps = pd.DataFrame({"time_to_train_days": days, "finished": [True] * len(days)})
    fig = charts.replications_figure(reps, dt.date(2025, 1, 1))
    labels = {a.text.split()[0]: a for a in fig.layout.annotations if a.text.startswith("P")}
    assert set(labels) == {"P10", "P50", "P90"}
    rows = {(a.y, a.yanchor) for a in labels.values()}
    assert rows == {(1.0, "bottom"), (1.0, "top"), (0.9, "top")}  # three rows: above the plot, its top, below that
    assert labels["P50"].yanchor == "bottom" and {a.xanchor for a in labels.values()} == {"center"}


def test_only_planner_s_own_sums_get_a_twin_in_the_second_currency():
    """A job named first_usd got phantom 'job first_eur: ...' columns (its days x0.9) and limits were rewritten."""
    from planner.cashflow import in_currency

    row = {"job first_usd: time_to_train_days_p50": 2.24, "cost_usd_p50": 10.0, "used_usd": 2.0, "flag_usd": True,
           "limits": ["rent_usd: 488 sequences a step"], "at_least": ["cost_usd_p50", "job first_usd: finish_date_p50"],
           "pool_costs": [{"pool": "rent_usd", "committed_usd": 5.0}], "fleet[1].cloud.price_per_chip_hour_usd": 2.5}
    out = in_currency(row, {"code": "EUR", "per_usd": 0.9})
    assert out["cost_eur_p50"] == pytest.approx(9.0) and out["used_eur"] == pytest.approx(1.8)
    assert not any("first_eur" in k or "hour_eur" in k or "flag_eur" in k for k in out)
    assert out["limits"] == row["limits"]
    assert out["at_least"] == ["cost_usd_p50", "cost_eur_p50", "job first_usd: finish_date_p50"]
    assert out["pool_costs"] == [{"pool": "rent_usd", "committed_usd": 5.0, "committed_eur": pytest.approx(4.5)}]


def test_a_pool_s_columns_and_an_exchange_rate_are_never_read_as_money():
    """A pool named idle_gpu_pool had its first capacity day shown as 'GPU 0.00'; currency.per_usd as '$7.00'."""
    from planner.report.tables import currency_of, fmt_cell, money_column

    assert currency_of("idle_gpu_pool.first_capacity_days") is None
    assert fmt_cell("idle_gpu_pool.first_capacity_days", 0.0) == "0"
    assert currency_of("cost_per_token") is None and currency_of("cost_cny_p50_low") == "CNY"
    assert not money_column("currency.per_usd") and fmt_cell("currency.per_usd", 7.0) == "7"
    assert money_column("fleet[1].cloud.price_per_chip_hour_usd")  # a price in dollars stays one


def test_the_band_sentence_says_a_draw_is_read_on_each_plan_s_pools_when_there_are_several():
    """The first screen said every replication drew from the stated band, the rental's, when most trained on A100s."""
    from types import SimpleNamespace

    from planner.report.headline import band_sentence

    band = {"p10": 0.31, "p50": 0.9, "p90": 1.15, "pool": "rent", "basis": "16 on NVIDIA Hopper", "measurements": 0,
            "drawn": True}
    one = band_sentence(SimpleNamespace(model_band={**band, "per_plan": False}))
    several = band_sentence(SimpleNamespace(model_band={**band, "per_plan": True}))
    assert "each replication draws its speed from it" in one
    assert "reads it on the bands of the pools each plan trains on" in several


def test_the_committed_card_gives_the_p50_the_cli_prints_beside_its_mean(cli, make_scenario, tmp_path):
    """The app's "Committed (mean)" read $795 M where `planner run` printed "Cost committed (p50)" $782 M."""
    from planner.report.headline import finish_items, money
    from planner.summary import Summary

    path = make_scenario(reliability={"enabled": True}, simulation={"replications": 8})
    assert cli("run", path, "--out", tmp_path / "o").exit_code == 0
    s = Summary.from_json(_summary(tmp_path / "o"))
    card = next(h for h in finish_items(s) if h.key == "committed_usd")
    assert f"P50 {money(s, s.stat('cost_usd').p50)}" in card.detail


# ---------------------------------------------------------------- engine truth: what held the job


def test_a_first_start_held_by_min_units_to_start_is_named(cli, make_scenario, tmp_path):
    """256 chips idle for 38 days before the job first trained, held by min_units_to_start, and nothing said so."""
    path = make_scenario(horizon_days=300, workload={"tokens": 1.0e13},
                         fleet=[{"name": "own", "chip": "h100-sxm", "units": 256, "ordered_units": 512,
                                 "deliveries": [{"date": "2025-02-01", "units": 512}], "commissioning_days": 7}],
                         strategy={"mode": "auto", "min_units_to_start": 500}, simulation={"replications": 1})
    out = tmp_path / "o"
    assert cli("run", path, "--out", out).exit_code == 0
    s = _summary(out)
    said = [x for x in s["limits"] if "first trained" in x]
    assert len(said) == 1 and "38.0 days" in said[0] and "strategy.min_units_to_start (500)" in said[0], s["limits"]
    assert "up to 256 chips available" in said[0]
    with (out / "events.csv").open() as f:
        waits = [r for r in csv.DictReader(f) if r["event"] == "wait"]
    assert waits and float(waits[0]["time_days"]) == 0.0 and "min_units_to_start (500)" in waits[0]["detail"]


def test_a_first_start_held_by_too_few_chips_for_any_layout_names_no_setting(cli, make_scenario, tmp_path):
    """No layout fits 8 chips of a 70B model: the job waits for chips, not for the setting (nothing to name)."""
    path = make_scenario(workload={"model": "llama3-70b", "tokens": 1.0e10},
                         fleet=[{"name": "own", "chip": "h100-sxm", "units": 8, "ordered_units": 520,
                                 "deliveries": [{"date": "2025-01-20", "units": 512}]}],
                         strategy={"mode": "auto", "min_units_to_start": 500}, simulation={"replications": 1})
    out = tmp_path / "o"
    assert cli("run", path, "--out", out).exit_code == 0
    assert not [x for x in _summary(out)["limits"] if "first trained" in x]


@pytest.mark.parametrize("case", ["memory", "pinned", "auto"])
def test_a_pool_outside_the_strategy_that_never_trains_is_named(cli, make_scenario, tmp_path, case):
    """`single` left 512 idle H100s, or a pool no layout fits, out of limits (sync and sequential named theirs)."""
    if case == "memory":  # 70B on 32 A100s of 40 GB: no layout fits
        fleet = [{"name": "h", "chip": "h100-sxm", "site": "s1", "units": 512},
                 {"name": "a", "chip": "a100-40gb", "site": "s2", "units": 32}]
        path = make_scenario(workload={"model": "llama3-70b", "tokens": 1.0e11}, fleet=fleet,
                             links=[{"sites": ["s1", "s2"], "gbps": 100, "latency_ms": 30}])
        want = "strategy: a never trained (up to 32 chips in service): no layout of the job fits its chips"
    elif case == "auto":  # 16 A100s over a 10 Gbit/s link: auto trains on the H100s alone
        fleet = [{"name": "h", "chip": "h100-sxm", "site": "s1", "units": 512},
                 {"name": "a", "chip": "a100-80gb", "site": "s2", "units": 16}]
        path = make_scenario(fleet=fleet, links=[{"sites": ["s1", "s2"], "gbps": 10, "latency_ms": 80}])
        want = "strategy: a never trained (up to 16 chips in service): auto picked single: h, first by the objective"
    else:
        fleet = [{"name": "h", "chip": "h100-sxm", "units": 512}, {"name": "a", "chip": "a100-80gb", "units": 512}]
        path = make_scenario(fleet=fleet, strategy={"mode": "single"})  # the H100s alone: the A100s idle
        want = "strategy: a never trained (up to 512 chips in service): the scenario pins strategy.mode single"
    out = tmp_path / "o"
    assert cli("run", path, "--out", out).exit_code == 0
    limits = _summary(out)["limits"]
    assert [x for x in limits if x.startswith(want)], limits


def test_a_layout_held_by_pinned_degrees_names_the_pin(cli, make_scenario, tmp_path):
    """A pinned dp of 2 held a 70B job to 128 of 512 chips, and limits and estimate blamed the global batch."""
    path = make_scenario(workload={"model": "llama3-70b", "tokens": 1.0e11},
                         fleet=[{"name": "own", "chip": "h100-sxm", "units": 512,
                                 "parallelism": {"tp": 8, "pp": 8, "dp": 2}}])
    want = "own: its parallelism pins tp 8, pp 8, dp 2, so its layout takes 128 of its 512 chips"
    out = tmp_path / "o"
    assert cli("run", path, "--out", out).exit_code == 0
    assert any(want in x for x in _summary(out)["limits"]), _summary(out)["limits"]
    assert want in json.dumps(cli("estimate", path, "--json").json())
