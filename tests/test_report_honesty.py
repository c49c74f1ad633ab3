"""What a report shows of the replications that did not finish, of one replication, and of deadlines past the horizon.

The rule: never show a number the engine did not earn. An unfinished replication's spend is its spend to the
horizon (less than its whole run's); one replication has no spread; a deadline after the horizon cannot be
judged for a replication that had not finished by then.
"""

from __future__ import annotations

import copy
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import one_error_line
from test_portfolio import JOBS, _doc

from planner.budget import notes
from planner.loader import from_dict, load_scenario
from planner.report import charts, tables
from planner.report.headline import finish_items, headline_items
from planner.sim.runner import run_scenario, summarize

ROOT = Path(__file__).resolve().parent.parent


def _rows(costs, finished):
    return [{"finished": f, "time_to_train_days": 10.0 + i if f else math.nan, "cost_usd": c, "energy_mwh": c,
             "mfu": 0.4, "goodput": 0.9, "chip_hours": c, "mode": "single", "pool": "p", "limits": []}
            for i, (c, f) in enumerate(zip(costs, finished, strict=True))]


def _scenario(expect):
    doc = copy.deepcopy(_doc(JOBS[:1]))
    doc["expect"] = expect
    return from_dict(doc)


def test_a_budget_check_is_not_passed_by_a_replication_that_did_not_finish():
    # three runs finished at $1-3; the fourth was cut at the horizon having spent $0.5 so far
    s = _scenario([{"metric": "cost_usd", "quantile": 0.9, "max": 10.0},
                   {"metric": "cost_usd", "max": 10.0},
                   {"metric": "cost_usd", "min": 0.75},
                   {"metric": "chip_hours", "quantile": 0.9, "max": 10.0}])
    out = summarize(s, 0, _rows([1.0, 2.0, 3.0, 0.5], [True, True, True, False]))
    p90, p50, low, hours = out.expectations
    assert not p90.passed and p90.value is None  # its whole run costs more than its spend so far: unknown
    assert p50.passed and p50.value == pytest.approx(2.5)  # between the 2nd and 3rd of [1, 2, 3, never]
    assert low.passed and low.value == pytest.approx(1.5)  # a lower bound: checked on what was spent
    assert not hours.passed and hours.value is None
    assert [e.quantile for e in out.expectations] == [0.9, 0.5, 0.5, 0.9]  # the default P50 is written out
    assert out.unfinished == 1 and out.to_json()["unfinished_replications"] == 1
    all_done = summarize(s, 0, _rows([1.0, 2.0, 3.0, 4.0], [True] * 4))
    assert all_done.expectations[0].passed and "unfinished_replications" not in all_done.to_json()


def test_the_figures_of_unfinished_replications_say_they_run_to_the_horizon():
    s = _scenario([])
    out = summarize(s, 0, _rows([1.0, 2.0, 3.0, 0.5], [True, True, True, False]))
    details = {h.key: h.detail for h in headline_items(out)}
    for key in ("cost_usd", "energy_mwh", "mfu", "goodput", "chip_hours"):
        assert "1 of 4 replications did not finish: their figures run to the horizon only" in details[key], key
    assert "did not finish" not in details["time_to_train_days"]


def test_one_replication_shows_no_spread():
    out = summarize(_scenario([]), 0, _rows([1.0], [True]))
    details = {h.key: h.detail for h in headline_items(out) + finish_items(out)}
    assert details["time_to_train_days"].startswith("one replication: no spread")
    assert all("p10" not in d.lower() and "p90" not in d.lower() for d in details.values()), details
    more = summarize(_scenario([]), 0, _rows([1.0, 2.0], [True, True]))
    assert {h.key: h.detail for h in headline_items(more)}["cost_usd"].startswith("p10 $1")


def test_a_deadline_after_the_horizon_is_known_only_as_a_lower_bound():
    jobs = [{**JOBS[0], "deadline": "2025-06-30"},  # within the 300-day horizon (2025-10-28)
            {**JOBS[1], "workload": {**JOBS[1]["workload"], "tokens": 1.0e15}, "deadline": "2026-06-30"}]
    s = from_dict(_doc(jobs))
    assert any(n.startswith("jobs[1].deadline: 2026-06-30 ends after the horizon does (2025-10-28)")
               for n in notes(s))
    assert not any(n.startswith("jobs[0].deadline") for n in notes(s))
    r = run_scenario(s, replications=2, cash_flow=False)
    first, second = r.summary.jobs
    assert first.deadline_probability == 1.0 and first.deadline_at_least is None
    assert second.deadline_probability is None and second.deadline_at_least == 0.0  # never finished by the horizon
    shown = second.to_json()
    assert shown["deadline_probability"] is None and shown["deadline_probability_at_least"] == 0.0
    from planner.report.headline import job_lines

    assert "deadline 2026-06-30 met in at least 0.0 % (the horizon ends before the deadline)" in job_lines(r.summary)[1]


def test_the_cost_histogram_sets_unfinished_replications_apart():
    import pandas as pd

    reps = pd.DataFrame({"cost_usd": [1.0, 2.0, 3.0, 0.5], "finished": [True, True, True, False]})
    fig = charts.cost_histogram_figure(reps)
    assert [list(t.x) for t in fig.data] == [[1.0, 2.0, 3.0], [0.5]]
    assert "1 of 4 did not finish" in fig.layout.title.text
    done = charts.cost_histogram_figure(reps.assign(finished=True))
    assert len(done.data) == 1 and "did not finish" not in done.layout.title.text


def test_the_workbooks_summary_sheet_states_the_limits_and_the_wait_for_power():
    s = load_scenario(ROOT / "scenarios" / "ascend-ramp-2024.yaml")
    r = run_scenario(s, replications=1, cash_flow=False)
    labels = [row[0] for row in tables.summary_sheet_rows(r)]
    assert r.summary.limits and "What limited it (replication 0)" in labels
    assert all(limit in labels for limit in r.summary.limits)
    powered = run_scenario(from_dict(_doc(JOBS[:1], power_mw=0.1)), replications=1, cash_flow=False)
    rows = {row[0]: row for row in tables.summary_sheet_rows(powered)}
    assert rows["chip-days waiting for site power"][2] == pytest.approx(powered.summary.power_wait_chip_days.p50)


def test_a_rental_outside_the_plan_and_the_estimates_missing_power_are_said(cli, make_scenario):
    from conftest import DEFAULT_SCENARIO

    rent = {"name": "late", "chip": "h100-sxm", "cloud": {"units": 64, "from": "2024-01-01", "until": "2024-02-01"}}
    path = make_scenario(fleet=[*DEFAULT_SCENARIO["fleet"], rent])
    r = cli("validate", str(path))
    assert r.exit_code == 0 and "fleet[1].cloud: the rental from 2024-01-01 until 2024-02-01 lies outside" in r.stderr
    later = {**rent, "cloud": {**rent["cloud"], "until": "2025-01-02"}}  # one day of it inside
    inside = make_scenario(fleet=[*DEFAULT_SCENARIO["fleet"], later])
    assert "lies outside" not in cli("validate", str(inside)).stderr
    powered = make_scenario(fleet=[{**DEFAULT_SCENARIO["fleet"][0], "site": "dc1"}],
                            sites=[{"name": "dc1", "power_mw": [{"date": "2025-01-01", "mw": 0.0}]}])
    e = cli("estimate", str(powered))
    assert e.exit_code == 0 and "the site power of `sites:` is not applied" in e.stderr
    assert "not applied" not in cli("estimate", str(path)).stderr


def test_the_cash_flow_sentence_gives_its_sums_in_the_scenarios_currency_too(make_scenario):
    s = make_scenario.scenario(currency={"code": "CNY", "per_usd": 7.0}, simulation={"seed": 3, "replications": 2})
    r = run_scenario(s, replications=2)
    assert "committed $" in r.cashflow_note and "(CNY " in r.cashflow_note
    plain = run_scenario(make_scenario.scenario(), replications=2)
    assert "CNY" not in plain.cashflow_note


def test_solve_says_the_ends_of_the_quantile_are_excluded(cli, make_scenario):
    line = one_error_line(cli("solve", str(make_scenario()), "--vary", "fleet[0].units", "--deadline", "2025-02-01",
                              "--quantile", "1"))
    assert "--quantile must be strictly between 0 and 1" in line, line


def test_one_replication_gives_its_figures_without_a_p10_or_p90_in_the_sentence_and_the_workbook():
    r = run_scenario(from_dict(_doc(JOBS[:1])), replications=1, cash_flow=False)
    rows = tables.summary_sheet_rows(r)
    assert "(one replication)" in rows[0][0] and "(P90)" not in rows[0][0]
    (finish,) = [row for row in rows if row[0] == "finish date"]
    assert finish[1] is None and finish[3] is None and finish[2] == r.summary.finish_date.p50


def test_a_rental_starting_inside_a_fractional_horizon_is_no_rental_outside_it(make_scenario):
    from conftest import DEFAULT_SCENARIO

    rent = {"name": "r", "chip": "h100-sxm", "cloud": {"units": 64, "from": "2025-03-01", "until": "2025-06-01"}}
    inside = make_scenario.scenario(fleet=[*DEFAULT_SCENARIO["fleet"], rent], horizon_days=59.5)  # starts day 59
    assert not [n for n in notes(inside) if "lies outside" in n]
    outside = make_scenario.scenario(fleet=[*DEFAULT_SCENARIO["fleet"], rent], horizon_days=59.0)
    assert [n for n in notes(outside) if "lies outside" in n]


def test_a_portfolios_report_page_words_its_limits_as_the_terminal_does(tmp_path):
    from planner.report import write_report
    from planner.report.headline import limit_lines

    r = run_scenario(load_scenario(ROOT / "scenarios" / "ascend-portfolio-2024.yaml"), replications=2)
    lines = limit_lines(r.summary)
    assert lines and all(" limited by " in x and "(replication 0)" in x for x in lines)
    write_report(r, tmp_path / "o")
    page = (tmp_path / "o" / "report.html").read_text()
    import html

    assert all(html.escape(x, quote=False) in page or html.escape(x) in page for x in lines)


def test_the_schedule_shows_the_chips_a_job_trained_on_the_day_it_finished():
    """A job that trains half a day: its one schedule row has the chips it trained on, not the 0 after its end.

    Found by review: the last day was read at the run's end, when the job had let its chips go, so a short job (or
    a portfolio's job that finished in a day) vanished from the chips-in-training chart.
    """
    from planner.loader import from_dict
    from planner.sim.replication import run_replication
    from planner.sim.runner import _one

    s = from_dict({"name": "short", "start": "2025-01-01", "horizon_days": 30,
                   "workload": {"model": "llama3-8b", "tokens": 2e11, "seq_len": 8192, "global_batch_tokens": 4194304},
                   "fleet": [{"name": "own", "chip": "h100-sxm", "site": "dc1", "units": 512}],
                   "reliability": {"enabled": False}, "simulation": {"replications": 1, "model_error": "off"}})
    _s, ctx, _n = _one((s, 1))
    out = run_replication(s, ctx, np.random.SeedSequence(0), tables=True)
    sched = out.schedule
    assert out.metrics["time_to_train_days"] < 1 and len(sched) == 1
    row = sched.iloc[0]
    assert row.units_in_training == 512 and row.units_in_service == 512 and row.tokens_trained == 2e11
    # the chip-hours agree with the row: 512 chips for the whole (short) run
    assert out.metrics["chip_hours"] == pytest.approx(512 * out.metrics["time_to_train_days"] * 24, rel=1e-6)


def test_a_replication_that_never_trained_earns_no_goodput_or_mfu():
    """Chips that slip past the horizon: no chip-time, so goodput and MFU are 0/0, left out of the quantiles.

    Found by review: they counted as 0, so a run without failures showed "Goodput (p50) 100.0 % · p10 0.0 %".
    """
    from planner.loader import from_dict
    from planner.sim.runner import run_scenario

    s = from_dict({"name": "late", "start": "2025-01-01", "horizon_days": 40,
                   "workload": {"model": "llama3-8b", "tokens": 1.5e12, "seq_len": 8192,
                                "global_batch_tokens": 4194304},
                   "fleet": [{"name": "A", "chip": "h100-sxm", "site": "dc1", "units": 0,
                              "deliveries": [{"date": "2025-01-11", "units": 512}], "commissioning_days": 5,
                              "delivery_risk": {"slip_days": {"dist": "uniform", "low": 0, "high": 40}}}],
                   "reliability": {"enabled": False}, "simulation": {"seed": 3, "replications": 20}})
    res = run_scenario(s, cash_flow=False, workers=1)
    reps = res.replications
    idle = reps[reps.chip_hours == 0]
    assert len(idle) >= 1 and idle.goodput.isna().all() and idle.mfu.isna().all()
    g = res.summary.metrics["goodput"]
    assert g.p10 == g.p50 == g.p90 == 1.0  # failures off: every chip-hour held was kept


def test_a_limit_sentence_counts_the_chips_available_not_the_grid_count():
    """272 chips powered: the sentence counts the 272 (the plan was made for 271, its grid count, and said both).

    Found by review: "uses 256 of 271 chips" with 272 in service (the grid count read as the chips available). The
    272 the site's power allows are now a grid count themselves (a dated level): the plan is made for them.
    """
    from planner.loader import from_dict
    from planner.sim.replication import run_replication
    from planner.sim.runner import _one

    s = from_dict({"name": "s3", "start": "2025-01-01", "horizon_days": 60,
                   "workload": {"model": "llama3-8b", "tokens": 1e12, "seq_len": 8192, "global_batch_tokens": 4194304},
                   "fleet": [{"name": "B", "chip": "h100-sxm", "site": "dc1", "units": 512}],
                   # 0.3468 MW at PUE 1 powers 272 H100s (1,275 W of nameplate each)
                   "sites": [{"name": "dc1", "pue": 1.0, "power_mw": [{"date": "2025-01-01", "mw": 0.3468}]}],
                   "reliability": {"enabled": False}, "simulation": {"replications": 1}})
    _s, ctx, _n = _one((s, 1))
    limits = run_replication(s, ctx, np.random.SeedSequence(0)).metrics["limits"]
    assert any("uses 256 of 272 chips (B: TP1" in x for x in limits), limits


def test_a_growing_figure_of_unfinished_replications_is_shown_as_a_lower_bound(cli, make_scenario, tmp_path):
    """9 of 20 replications stop at the horizon: their cost so far is less than their whole run's.

    Found by review: summary.json gave cost P90 $153,783 and the headline showed it, while `expect cost_usd p90 max
    160,000` failed on it as "not finished". Now summary.json says which quantiles are lower bounds only
    (``at_least``), and the terminal, page and workbook mark them "≥".
    """
    path = make_scenario(**{
        "horizon_days": 40, "reliability": {"enabled": False}, "simulation": {"seed": 3, "replications": 20},
        "workload": {"model": "llama3-8b", "tokens": 1.5e12, "seq_len": 8192, "global_batch_tokens": 4194304},
        "fleet": [{"name": "A", "chip": "h100-sxm", "units": 0, "deliveries": [{"date": "2025-01-11", "units": 512}],
                   "commissioning_days": 5, "delivery_risk": {"slip_days": {"dist": "uniform", "low": 0, "high": 40}}}],
        "expect": [{"metric": "cost_usd", "quantile": 0.9, "max": 160000}]})
    out = tmp_path / "o"
    r = cli("run", path, "--out", str(out))
    assert r.exit_code == 1, r
    s = json.loads((out / "summary.json").read_text())
    assert s["unfinished_replications"] == 9 and "p90" in s["at_least"]["cost_usd"]
    assert "goodput" not in s["at_least"] and "mfu" not in s["at_least"]  # neither grows: they are not bounds
    assert s["expectations"][0]["value"] is None and not s["expectations"][0]["passed"]
    assert "p90 ≥ $146 k" in r.stdout and "≥ $97.9 k" in r.stdout
    assert "p90 ≥ $146 k" in (out / "report.html").read_text(encoding="utf-8")


def test_lower_bounds_are_the_quantiles_an_unfinished_replication_could_move():
    from planner.stats import lower_bounds

    # p10 and p50 come from finished runs whatever the unfinished one would have spent; p90 and the mean do not
    assert lower_bounds([1.0, 2.0, 3.0, 10.0], [True, True, True, False]) == ("mean", "p90")
    assert lower_bounds([1.0, 2.0, 3.0, 0.5], [True, True, True, False]) == ("mean", "p10", "p50", "p90")
    assert lower_bounds([1.0, 2.0], [True, True]) == ()
    # the unfinished run is the largest: p10 and p50 cannot depend on it (review: numpy's interpolation and
    # time_quantile's differed in the last bit, and p10 was marked)
    v = [144571.19825627573, 104700.25548004448, 176042.97007560823, 172712.1748810519, 149659.64366526023,
         164387.2950528686, 194862.71338967443, 183315.49936622556, 180145.24675861403, 160740.2220830291]
    assert lower_bounds(v, [i != 6 for i in range(10)]) == ("mean", "p90")


def test_a_limit_sentence_says_why_chips_are_left_out():
    """What limited the plan, in its own numbers (review).

    - `sync` on mixed-two-sites trains on the H100s alone from the rental's start: it left the Ascend pool out
      because a step over the 100 Gbit/s link is slower, not for the batch (the sentence blamed "replicas at most
      the global batch of 488 sequences" at DP98).
    - The first plan, 1,952 of 2,048 Ascend chips: 488 sequences over 122 replicas or 128 are 4 micro-batches each.
    """
    from planner.sim.replication import run_replication
    from planner.sim.runner import _one

    s = load_scenario(Path(__file__).resolve().parent.parent / "scenarios" / "mixed-two-sites.yaml")
    s = s.model_copy(update={"strategy": s.strategy.model_copy(update={"mode": "sync"})})
    _s, ctx, _n = _one((s, 1))
    limits = run_replication(s, ctx, np.random.SeedSequence(0)).metrics["limits"]
    left = next(x for x in limits if x.startswith("strategy:"))
    assert "trains on azure-h100" in left and "leaves ascend-cn (" in left and "waiting on the cross-pool" in left
    tps = [float(x.replace(",", "")) for x in re.findall(r"([\d,]+) tokens/s", left)]
    assert len(tps) == 1 and tps[0] < 0.5 * float(left.rsplit("against ", 1)[1].split(" ")[0].replace(",", ""))
    layout = next(x for x in limits if x.startswith("layout:"))
    assert "488 sequences a step over 122 replicas is 4 micro-batches of 1 each, and over 128" in layout
    assert "still 4" in layout


def test_a_limit_names_a_pool_too_small_for_any_layout_as_such():
    """A pool on which no layout fits is named as such, not as one the mode chose to leave out.

    Review: a pool of 16 A100s beside 1,024 H100s (llama3-405b, sync) read "sync leaves tiny out: on every pool it
    would train 163,637 tokens/s, against 163,637": no layout fits on 16 chips; that is why.
    """
    from planner.sim.replication import run_replication
    from planner.sim.runner import _one

    s = from_dict({"name": "pl1", "start": "2025-01-01", "horizon_days": 30,
                   "workload": {"model": "llama3-405b", "tokens": 1e11, "seq_len": 8192},
                   "fleet": [{"name": "big", "chip": "h100-sxm", "site": "dc1", "units": 1024},
                             {"name": "tiny", "chip": "a100-80gb", "site": "dc1", "units": 16,
                              "deliveries": [{"date": "2026-01-01", "units": 1024}]}],
                   "strategy": {"mode": "sync"}, "reliability": {"enabled": False},
                   "simulation": {"replications": 1, "model_error": "off"}})
    _s, ctx, _n = _one((s, 1))
    limits = run_replication(s, ctx, np.random.SeedSequence(0)).metrics["limits"]
    assert not any(x.startswith("strategy:") for x in limits), limits
    assert any("tiny: no layout fits on its 16 chips (the fewest that fit: " in x for x in limits), limits


def test_the_rounding_sentence_names_what_caps_the_replicas():
    """Review: "over 250 (all its 12,000 chips allow)" where the batch (1,001 sequences of 4) set the 250."""
    from types import SimpleNamespace

    from planner.strategy.base import Context

    def part(units, dp, b, mb, pp=1):
        lay = SimpleNamespace(tp=8, pp=pp, cp=1, dp=dp, micro_batch=mb)
        return SimpleNamespace(pool="p", units=units, batch_seqs=b, layout=SimpleNamespace(layout=lay))

    batch = Context._rounding(part(1008, 126, 1001, 4), 12_000)
    assert "over 250 (the most the batch allows, a micro-batch of 4 each) still 2" in batch
    chips = Context._rounding(part(15_744, 123, 1953, 1, pp=16), 16_384)  # all-cloud-h100: the chips cap it at 128
    assert "over 128 (all its 16,384 chips allow) still 16" in chips
    assert Context._rounding(part(7_936, 62, 1953, 1, pp=16), 8_000) == (
        "p: one more replica would take 128 chips (TP8 x PP16 x CP1), more than the 64 left of the 8,000 it was "
        "planned on")


def test_the_replications_table_bounds_the_start_day_as_the_summary_does():
    """Review: two replications that never started: summary.json waiting_days p90 >= 142.9, the page's table never."""
    import pandas as pd

    reps = pd.DataFrame({"replication": range(20), "finished": [True] * 18 + [False] * 2,
                         "time_to_train_days": [100.0 + i for i in range(18)] + [math.nan] * 2,
                         "start_days": [40.0 + i for i in range(18)] + [math.nan] * 2})
    stats = tables.replication_stats(reps, 150.0).set_index("metric")
    assert stats.loc["start_days", "at_least"] == "mean, p90"  # (the mean is of the 18 that started)
    assert stats.loc["start_days", "p90"] == pytest.approx(57.0 + 0.1 * (150.0 - 57.0))
    assert stats.loc["time_to_train_days", "at_least"] == "p90"


def test_a_restart_a_failure_always_cuts_short_is_said_to_never_end():
    """Review: 200,000 H100s at an MTBF of one chip-day read "a restart of 10,000,000 h on average" (the cap)."""
    from planner.bridge import layout_planners
    from planner.strategy import Context, options

    s = from_dict({"name": "big", "start": "2025-01-01", "horizon_days": 365,
                   "workload": {"model": "llama3-405b", "tokens": 1e12, "seq_len": 8192},
                   "fleet": [{"name": "h", "chip": "h100-sxm", "units": 200_000}],
                   "reliability": {"enabled": True, "mtbf_chip_days": 1}, "simulation": {"replications": 1}})
    ctx = Context(s, layout_planners(s))
    (strategy,), _why = options(ctx, "single")
    plan = strategy.plan({"h": 200_000})
    (limit,) = plan.limits
    assert "a restart that never ends (a failure always comes before it can)" in limit
    assert "10,000,000" not in limit and "1e+07" not in limit
