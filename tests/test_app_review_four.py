"""Findings of the fourth review of the app against the command line, each checked where it was found.

- a portfolio's schedule.csv from the app had its columns in another order than the CLI's;
- the committed card's help listed the P50's P10 and P90 under the mean when both read the same, and repeated the
  horizon sentence;
- a run of one day drew no area and a time axis of a millisecond.
"""

from __future__ import annotations

import io

import pandas as pd

from planner import api
from planner.loader import from_dict
from planner.report import charts
from planner.report.tables import tables
from tests.test_app import PORTFOLIO, SMALL, _load_app


def test_the_apps_schedule_csv_is_the_clis_for_a_portfolio(tmp_path):
    from planner.report.writer import write_report

    run = api.simulate(from_dict(PORTFOLIO), replications=2, seed=3)
    app = _load_app()
    write_report(run, tmp_path / "r")
    assert app.schedule_csv(run) == (tmp_path / "r" / "schedule.csv").read_text()
    shown = pd.read_csv(io.StringIO(app.schedule_csv(run)))
    assert list(shown.columns) == list(tables(run)["schedule"].columns) and shown.columns[0] == "date"


def test_a_folded_figure_is_named_before_its_quantiles_and_no_sentence_twice():
    app = _load_app()
    # the job stops at the horizon: every spend a lower bound, and the horizon sentence in both figures' details
    s = dict(SMALL, horizon_days=12, workload={**SMALL["workload"], "tokens": 2e12})
    run = api.simulate(from_dict(s), replications=3, seed=3)
    assert run.summary.unfinished == 3
    (card,) = [c for c in app.headline_cards(run.summary) if c.key == "committed_usd"]
    parts = card.detail.split(" · ")
    p10 = next(i for i, p in enumerate(parts) if p.startswith("p10"))
    assert parts[p10 - 1].startswith("Cost committed (P50): ")  # the P10 and P90 are the P50's, and it is named
    sentences = [x for p in parts for x in p.split("; ")]
    assert len(sentences) == len(set(sentences)), sentences


def test_a_folded_figure_equal_to_the_card_is_still_named():
    from planner.summary import Costs, Stat, Summary

    app = _load_app()
    summary = Summary(replications=3, metrics={"cost_usd": Stat(mean=5e8, p10=4e8, p50=5e8, p90=6e8)},
                      costs=Costs(committed_usd=5e8, used_usd=4e8, idle_usd=1e8))
    (card,) = [c for c in app.headline_cards(summary) if c.key == "committed_usd"]
    assert "Cost committed (P50): $500 M · p10 $400 M" in card.detail, card.detail


def test_a_run_of_one_day_draws_its_points_on_a_day_wide_axis():
    schedule = pd.DataFrame({"date": ["2025-01-01", "2025-01-01"], "day": [0, 0], "pool": ["a", "b"],
                             "units_in_service": [256, 64], "tokens_trained": [7.8e10, 2.2e10]})
    for fig in (charts.tokens_figure(schedule), charts.capacity_figure(schedule)):
        lo, hi = (pd.Timestamp(x) for x in fig.layout.xaxis.range)
        assert hi - lo == pd.Timedelta(days=2)
        assert all("markers" in t.mode for t in fig.data)
    # the cash flow's cost chart and the portfolio's charts too: one month's end, one day of chips by job
    cash = pd.DataFrame({"month": ["2025-01", "2025-01"], "pool": ["a", "b"], "kind": ["on_demand"] * 2,
                         "committed_usd": [10.0, 5.0], "paid_usd": [10.0, 5.0]})
    jobs = schedule.assign(job=["j1", "j2"], units_in_training=[200, 60])
    links = pd.DataFrame({"date": ["2025-01-01"], "link": ["a-b"], "tb": [3.0]})
    power = pd.DataFrame({"date": ["2025-01-01"], "site": ["s"], "delivered_usable": [320], "in_service": [300],
                          "power_allows": [300]})
    for fig in (charts.cost_figure(schedule.assign(cost_usd=[1.0, 2.0]), cash), charts.chips_by_job_figure(jobs),
                charts.link_figure(links), charts.site_power_figure(power)):
        lo, hi = (pd.Timestamp(x) for x in fig.layout.xaxis.range)
        assert hi - lo == pd.Timedelta(days=2), fig.layout.title.text
        assert all("markers" in t.mode for t in fig.data), fig.layout.title.text
    two = pd.concat([schedule, schedule.assign(date="2025-01-02", day=1)])
    fig = charts.tokens_figure(two)
    assert fig.layout.xaxis.range is None and all(t.mode == "lines" for t in fig.data)
