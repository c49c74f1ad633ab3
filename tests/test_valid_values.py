"""Valid-looking values that ended in "unexpected ... defect of planner" or ran for ever (issue 15, finding 7).

Each one either runs and writes its report, or is refused in one line (exit 2 naming the field, or naming the
file when nothing fits: `estimate` says 3 then) without leaving a report folder behind.
"""

from __future__ import annotations

import json

import pytest
import yaml
from conftest import one_error_line

# two pools at two sites with a link: every strategy mode can run (auto weighs several candidates)
TWO_SITES = {
    "fleet": [{"name": "h100", "chip": "h100-sxm", "units": 64},
              {"name": "a100", "chip": "a100-80gb", "site": "b", "units": 64}],
    "links": [{"sites": ["default", "b"], "gbps": 100}],
}


def _run(cli, path, out):
    return cli("run", path, "--out", out, "--replications", 1)


def _refused(cli, path, out, field, code=2) -> str:
    line = one_error_line(_run(cli, path, out), code)
    assert field in line, line
    assert not out.exists()
    return line


def _summary(cli, path, out) -> dict:
    r = _run(cli, path, out)
    assert r.exit_code == 0, r
    return json.loads((out / "summary.json").read_text())


# ---------------------------------------------------------------- 1. a DiLoCo token efficiency of 0


@pytest.mark.parametrize("strategy, field", [
    ({"mode": "diloco", "diloco_token_efficiency": 0}, "strategy.diloco_token_efficiency"),
    ({"mode": "auto", "diloco_token_efficiency": 0}, "strategy.diloco_token_efficiency"),
    ({"mode": "sync", "cross_vendor_efficiency": 0}, "strategy.cross_vendor_efficiency"),
])
def test_an_efficiency_of_zero_is_refused(cli, make_scenario, tmp_path, strategy, field):
    line = _refused(cli, make_scenario(TWO_SITES, strategy=strategy), tmp_path / "out", field)
    assert "greater than 0" in line


# ---------------------------------------------------------------- 2. a link of 5e-324 Gb/s


def test_a_vanishing_link_is_refused(cli, make_scenario, tmp_path):
    path = make_scenario(TWO_SITES, links=[{"sites": ["default", "b"], "gbps": 5e-324}])
    assert "0.001" in _refused(cli, path, tmp_path / "out", "links[0].gbps")


@pytest.mark.parametrize("mode", ["auto", "sync", "diloco", "sequential"])
def test_the_slowest_link_allowed_runs(cli, make_scenario, tmp_path, mode):
    path = make_scenario(TWO_SITES, links=[{"sites": ["default", "b"], "gbps": 0.001}], strategy={"mode": mode})
    assert _summary(cli, path, tmp_path / "out")["replications"] == 1


# ---------------------------------------------------------------- 3. checkpoint intervals


@pytest.mark.parametrize("interval", [1e300, 5e-324, 0, -1, 87_601, ".inf"])
def test_a_checkpoint_interval_out_of_range_is_refused(cli, make_scenario, tmp_path, interval):
    path = make_scenario(TWO_SITES, reliability={"enabled": True, "checkpoint_interval_hours": interval,
                                                 "checkpoint_write_s": 0})
    line = _refused(cli, path, tmp_path / "out", "reliability.checkpoint_interval_hours")
    assert "one second" in line and "ten years" in line


@pytest.mark.parametrize("interval", [1 / 3600, 87_600, "auto"])
def test_the_interval_bounds_run_with_an_instant_checkpoint(cli, make_scenario, tmp_path, interval):
    """A ten-year interval keeps nothing on a large job (goodput 0): it runs, unfinished if need be.

    The MTBF is stated (one chip then fails every 5.8 years: a one-chip job keeps some of a ten-year interval).
    """
    path = make_scenario(TWO_SITES, reliability={"enabled": True, "checkpoint_interval_hours": interval,
                                                 "checkpoint_write_s": 0, "mtbf_chip_days": 2111})
    s = _summary(cli, path, tmp_path / "out")
    assert 0 <= s["metrics"]["finish_probability"] <= 1


# ---------------------------------------------------------------- 4. a restart of 10,000 minutes


def test_a_restart_longer_than_the_maintenance_interval_is_refused(cli, make_scenario, tmp_path):
    path = make_scenario(TWO_SITES, reliability={"enabled": True, "restart_base_minutes": 10_000})
    assert "never train" in _refused(cli, path, tmp_path / "out", "reliability.restart_base_minutes")


def test_a_long_restart_without_maintenance_runs(cli, make_scenario, tmp_path):
    data = make_scenario.data(TWO_SITES, reliability={"enabled": True, "restart_base_minutes": 10_000})
    data["reliability"]["maintenance_every_days"] = None  # no planned interruptions
    s = _summary(cli, make_scenario.text(yaml.safe_dump(data)), tmp_path / "out")
    assert 0 <= s["metrics"]["finish_probability"] <= 1


# ---------------------------------------------------------------- 5. sync with a pool too small for any layout


def test_sync_with_a_pool_of_one_unit_is_nothing_fits(cli, make_scenario, tmp_path):
    fleet = [TWO_SITES["fleet"][0], {**TWO_SITES["fleet"][1], "units": 1}]
    path = make_scenario(TWO_SITES, fleet=fleet, strategy={"mode": "sync"})
    line = _refused(cli, path, tmp_path / "out", "sync", code=2)
    assert "no strategy mode can train" in line and str(path.name) in line
    assert cli("estimate", path).exit_code == 3  # the steady-state answer agrees


# ---------------------------------------------------------------- 6. pool names the report's tables use


@pytest.mark.parametrize("name", ["month", "total"])
def test_a_pool_named_like_a_table_column_is_refused(cli, make_scenario, tmp_path, name):
    fleet = [{**TWO_SITES["fleet"][0], "name": name}, TWO_SITES["fleet"][1]]
    _refused(cli, make_scenario(TWO_SITES, fleet=fleet), tmp_path / "out", "fleet[0].name")


def test_other_pool_names_keep_their_column(cli, make_scenario, tmp_path):
    fleet = [{**TWO_SITES["fleet"][0], "name": "Total"}, {**TWO_SITES["fleet"][1], "name": "months"}]
    path = make_scenario(TWO_SITES, fleet=fleet, strategy={"mode": "sync"})
    assert _run(cli, path, tmp_path / "out").exit_code == 0
    html = (tmp_path / "out" / "report.html").read_text()
    assert "Tokens by pool, month by month" in html and ">Total<" in html and ">months<" in html


# ---------------------------------------------------------------- 7. dates before pandas' first day


@pytest.mark.parametrize("overrides, field", [
    ({"start": "1600-01-01"}, "start"),
    ({"start": "1677-09-21"}, "start"),
    ({"fleet": [{"name": "h", "chip": "h100-sxm", "units": 0, "deliveries": [{"date": "1600-01-01", "units": 64}]}]},
     "fleet[0].deliveries[0].date"),
    ({"fleet": [{"name": "h", "chip": "h100-sxm",
                 "cloud": {"units": 64, "from": "1066-10-14", "until": "2025-06-01"}}]}, "fleet[0].cloud.from"),
    ({"fleet": [{"name": "h", "chip": "h100-sxm", "units": 64,
                 "cloud": {"units": 64, "from": "1000-01-01", "until": "1001-01-01"}}]}, "fleet[0].cloud.from"),
    ({"fleet": [{"name": "h", "chip": "h100-sxm", "units": 64,
                 "cloud": {"units": 64, "from": "2024-01-01", "until": "0001-01-01"}}]}, "fleet[0].cloud.until"),
], ids=["start", "start-day-before", "delivery", "cloud-from", "cloud-window", "cloud-until"])
def test_a_date_before_the_calendar_is_refused(cli, make_scenario, tmp_path, overrides, field):
    line = _refused(cli, make_scenario(overrides), tmp_path / "out", field)
    assert "1677-09-22" in line


def test_the_first_day_of_the_calendar_runs_and_writes_dates(cli, make_scenario, tmp_path):
    path = make_scenario(start="1677-09-22", horizon_days=30, reliability={"enabled": True},
                         fleet=[{"name": "h", "chip": "h100-sxm", "units": 0,
                                 "deliveries": [{"date": "1677-09-22", "units": 64}],
                                 "cloud": {"units": 64, "from": "1677-09-22", "until": "1677-10-01",
                                           "price_per_chip_hour_usd": 2}}])
    s = _summary(cli, path, tmp_path / "out")
    assert s["start"] == "1677-09-22"
    assert "1677-09-22" in (tmp_path / "out" / "schedule.csv").read_text()


# ---------------------------------------------------------------- 8. one token, delivered late


@pytest.mark.parametrize("reliability", [False, True])
def test_the_smallest_job_finishes_where_its_chips_come(cli, make_scenario, tmp_path, reliability):
    """One sequence on 64 chips, the least a job may train: it ends where its chips come, at once.

    (One token, allowed before, took less than the clock could tell apart at day 273, and spent about 20 s on
    zero-length steps before it gave up unfinished.)
    """
    path = make_scenario(horizon_days=400, workload={"tokens": 8192}, reliability={"enabled": reliability},
                         fleet=[{"name": "h100", "chip": "h100-sxm", "units": 0,
                                 "deliveries": [{"date": "2025-10-01", "units": 64}]}])
    s = _summary(cli, path, tmp_path / "out")
    assert s["metrics"]["finish_probability"] == 1.0
    assert s["metrics"]["time_to_train_days"]["p50"] == pytest.approx(273, abs=0.1)
