"""Findings of a fifth review of the report files: figures that are bounds marked in one file and not another.

- the page's replication statistics recomputed the spend's bounds, ignoring unpriced pools and exact reservations;
- the workbook's spend in the second currency, and its power-wait P90, lost their marks;
- a DiLoCo portfolio's site-power chart lost the line of what the power runs (its inputs failed to validate again).
"""

from __future__ import annotations

import numpy as np
import pytest

from planner import api
from planner.loader import load_scenario
from planner.report import charts, tables
from tests.conftest import ROOT

DATA = ROOT / "tests" / "data"


@pytest.fixture(scope="module")
def port():
    return api.simulate(load_scenario(DATA / "report_port90.yaml"), replications=10, seed=7)


@pytest.fixture(scope="module")
def link():
    return api.simulate(load_scenario(DATA / "report_link22.yaml"), replications=10, seed=3)


def _stats_bounds(result) -> dict[str, str]:
    stats = tables.replication_stats(result.replications, 90.0, result.summary.at_least)
    return {r["metric"]: r["at_least"] for r in stats.to_dict("records") if r["metric"] in ("cost_usd", "energy_mwh")}


def test_the_page_s_statistics_take_the_summary_s_word_on_the_spend(port, link):
    # an unpriced rental: every quantile of the spend is a bound, and the max with it
    assert port.summary.unpriced_pools
    assert _stats_bounds(port)["cost_usd"] == ", ".join([*port.summary.at_least["cost_usd"], "max"])
    # whole-window reservations: the commitment is exact though runs stopped at the horizon (energy is not)
    assert link.summary.unfinished and "cost_usd" not in link.summary.at_least
    bounds = _stats_bounds(link)
    assert bounds["cost_usd"] == "" and bounds["energy_mwh"].endswith("max")


def test_the_workbook_s_second_currency_spend_carries_its_marks(link):
    s = link.summary
    assert s.spend_bound("used_usd") and s.idle_at_most()
    labels = [r[0] for r in tables.summary_sheet_rows(link)]
    (eur,) = [x for x in labels if x.startswith("Spend in EUR")]
    assert "used at least" in eur and "idle at most" in eur


def test_the_workbook_marks_every_power_wait_quantile_that_is_a_bound(port):
    s = port.summary
    early = [q.upper() for q in ("p10", "p50", "p90") if s.bound("power_wait_chip_days", q)]
    assert early, "the case must have a bounded quantile"
    (row,) = [r for r in tables.summary_sheet_rows(port) if str(r[0]).startswith("chip-days waiting for site power")]
    assert f"(at least, {' '.join(early)}:" in row[0]


def test_a_diloco_portfolio_s_site_power_chart_has_its_power_line(port):
    watts = charts._watts_per_chip(port.inputs)
    assert watts and all(np.isfinite(w) and w > 0 for w in watts.values())
    frame = charts.site_power_table(port.schedule, port.inputs, getattr(port, "fleet_in_service", None))
    assert frame["power_allows"].notna().any()  # the workbook's column and the page's "power runs at most" line
