"""Inputs a review found accepted without a word: a check no run can pass, a checkpoint write past its interval."""

from __future__ import annotations

import pytest
from conftest import one_error_line


@pytest.mark.parametrize("metric", ["cost_usd", "time_to_train_days", "energy_mwh", "chip_hours"])
def test_a_maximum_below_zero_is_refused_for_every_metric(cli, make_scenario, metric):
    """Review: `max: -1` on cost passed validate and failed the run (exit 1, a CI failure) where it is a mistake."""
    path = make_scenario(expect=[{"metric": metric, "quantile": 0.5, "max": -1}])
    r = cli("validate", path)
    assert r.exit_code == 2, r
    line = one_error_line(r)
    assert "expect[0]" in line and "never negative" in line and "no run can pass" in line, line


def test_a_checkpoint_write_no_shorter_than_its_interval_is_said(cli, make_scenario):
    """Review: a 1 s interval beside a day-long write validated and ran to "never" with nothing said."""
    path = make_scenario(reliability={"enabled": True, "checkpoint_interval_hours": 0.000278,
                                      "checkpoint_write_s": 86400})
    r = cli("validate", path)
    assert r.exit_code == 0
    assert "reliability.checkpoint_write_s" in r.stderr and "no shorter than the checkpoint interval" in r.stderr
    fine = make_scenario(reliability={"enabled": True, "checkpoint_interval_hours": 2.0, "checkpoint_write_s": 60})
    assert "checkpoint interval" not in cli("validate", fine).stderr


def test_a_reservation_that_begins_after_the_horizon_is_not_the_plans_cost(cli, make_scenario, tmp_path):
    """A reservation for 2030 beside a 100-day plan of 2025 costs the plan nothing, as one that ended before it.

    Review: it read $175 M committed, where one that ended before the start, or owned chips delivered after the
    end, read $0.
    """
    import json

    import pandas as pd

    later = {"name": "future", "chip": "h100-sxm", "site": "s1",
             "cloud": {"units": 1000, "from": "2030-01-01", "until": "2031-12-31", "price_per_chip_hour_usd": 10}}
    own = {"name": "own", "chip": "h100-sxm", "site": "s1", "units": 64}
    out = tmp_path / "out"
    path = make_scenario(horizon_days=100, fleet=[own, later])
    r = cli("run", path, "--out", out)
    assert r.exit_code == 0, r
    assert "fleet[1].cloud" in r.stderr and "its price is not the plan's cost" in r.stderr
    s = json.loads((out / "summary.json").read_text())
    alone = tmp_path / "alone"
    assert cli("run", make_scenario(horizon_days=100, fleet=[own]), "--out", alone).exit_code == 0
    assert s["costs"]["committed_usd"] == json.loads((alone / "summary.json").read_text())["costs"]["committed_usd"]
    months = pd.read_csv(out / "cashflow.csv")["month"]
    assert months.max() < "2026", months.max()


def test_a_sweep_to_no_owned_chips_beside_a_rental_runs_the_point(cli, make_scenario, tmp_path):
    """A pool that owns none and rents nothing leaves the point's fleet, as a rental set to 0 units does.

    Review: `--set fleet[0].units=0,64,128` beside a rental was refused whole ("pool has no chips").
    """
    path = make_scenario(
        horizon_days=100, workload={"model": "llama3-8b", "tokens": 1.0e11, "seq_len": 4096},
        fleet=[{"name": "own", "chip": "h100-sxm", "site": "s1", "units": 64},
               {"name": "rent", "chip": "h100-sxm", "site": "s1",
                "cloud": {"units": 64, "from": "2025-01-01", "until": "2025-03-01", "price_per_chip_hour_usd": 2}}])
    r = cli("sweep", path, "--set", "fleet[0].units=0,64,128", "--out", tmp_path / "sw")
    assert r.exit_code == 0, r
    import pandas as pd
    rows = pd.read_csv(tmp_path / "sw" / "sweep.csv")
    assert list(rows["fleet[0].units"]) == [0, 64, 128] and (rows["finish_probability"] == 1.0).all()
    days = list(rows["time_to_train_days_p50"])
    assert days[0] > days[1] > days[2]  # fewer owned chips beside the same rental: later
    alone = make_scenario(fleet=[{"name": "own", "chip": "h100-sxm", "units": 64}])
    r = cli("sweep", alone, "--set", "fleet[0].units=0,64", "--out", tmp_path / "sw2")
    assert r.exit_code == 2 and "no pool is left" in one_error_line(r)


def test_what_the_final_diff_review_found_is_said(cli, make_scenario, tmp_path):
    """What a review of this change found, each said or mended.

    The checkpoint note with failures off; a solve whose raised horizon takes in a reservation the file's run
    leaves out; a combined time past any horizon; an answer that read 'never trained' when some replications did.
    """
    import json

    off = make_scenario(reliability={"enabled": False, "checkpoint_interval_hours": 0.1, "checkpoint_write_s": 600})
    assert "checkpoint interval" not in cli("validate", off).stderr  # (no failure: nothing to write against)
    later = {"name": "r0", "chip": "h100-sxm", "cloud": {"units": 512, "from": "2025-03-12", "until": "2025-06-01",
                                                         "price_per_chip_hour_usd": 2.0}}
    sv = make_scenario(horizon_days=60, fleet=[{"name": "own", "chip": "h100-sxm", "units": 8}, later])
    r = cli("solve", sv, "--deadline", "2025-02-20", "--vary", "fleet[0].units", "--min", 8, "--max", 256,
            "--replications", 1, "--json")
    assert "the reservation of r0 begins inside the raised horizon" in r.json()["note"], r.json()["note"]
    far = make_scenario(workload={"model": "llama3-8b", "tokens": 1.0e16, "seq_len": 16, "global_batch_tokens": 16},
                        fleet=[{"name": "p1", "chip": "h100-sxm", "units": 8}])
    assert "beyond the longest horizon" in cli("estimate", far, "--json").json()["combined"]["time_note"]
    from planner.summary import StrategyChoice, Summary, pools_trained
    mostly = Summary(scenario="m", strategy=StrategyChoice("single", (), "auto",
                                                           {"single: no pool (never trained)": 4, "single: own": 1}))
    assert pools_trained(mostly) == ["own"]
    assert json.dumps(pools_trained(Summary(scenario="n", strategy=StrategyChoice(
        "single", (), "auto", {"single: no pool (never trained)": 5})))) == "[]"


def test_the_apps_goal_seek_starts_where_solve_does_on_owned_units():
    """Review: the app's default low end for an owned pool's units became 1 where `planner solve` starts at 0."""
    from planner import whatif
    from planner.decide import solve
    from planner.loader import from_dict

    s = from_dict({"name": "two-owned", "workload": {"model": "llama3-8b", "tokens": 1.0e11, "seq_len": 8192},
                   "fleet": [{"name": "a", "chip": "h100-sxm", "units": 512},
                             {"name": "b", "chip": "a100-80gb", "units": 256}]})
    assert whatif.smallest_value(s, "fleet[1].units") == solve.bounds(s, "fleet[1].units")[2] == 0
