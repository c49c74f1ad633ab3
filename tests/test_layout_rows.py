"""The layouts table ends a layout's row when the job waits with no chip: its rows add up to the job's chip-hours."""

from __future__ import annotations

import json

import pandas as pd
import pytest

W70 = {"model": "llama3-70b", "tokens": 3.0e12, "seq_len": 8192}


def _rent(name: str, start: str, until: str, usd: float) -> dict:
    return {"name": name, "chip": "h100-sxm", "site": "az",
            "cloud": {"units": 512, "from": start, "until": until, "price_per_chip_hour_usd": usd}}


CASES = {
    # review: the r1 row ran from day 4 to day 59 (the r2 plan), 28 days past the rental's end: 1,220,560 chip-h
    # of rows against 881,873 held
    "a gap between two rentals": {"workload": W70, "horizon_days": 200,
                                  "fleet": [_rent("r1", "2025-01-05", "2025-02-01", 3.0),
                                            _rent("r2", "2025-03-01", "2025-06-01", 2.0)]},
    # review: the row ran to the horizon (day 90), where training stopped at the rental's end (day 40)
    "a rental that ends before the job": {"workload": {**W70, "tokens": 5.0e12}, "horizon_days": 90,
                                          "reliability": {"enabled": True},
                                          "fleet": [_rent("rent", "2025-01-05", "2025-02-10", 3.0)]},
    # the job resumes on its last plan when the site's power comes back: a row of its own after the wait
    "site power that falls and comes back": {
        "workload": {**W70, "tokens": 2.0e12}, "horizon_days": 200,
        "fleet": [{"name": "own", "chip": "h100-sxm", "site": "dc", "units": 512}],
        "sites": [{"name": "dc", "pue": 1.2, "power_mw": [{"date": "2025-01-01", "mw": 2},
                                                          {"date": "2025-01-21", "mw": 0},
                                                          {"date": "2025-02-10", "mw": 2}]}]},
}


@pytest.mark.parametrize("case", list(CASES))
def test_layout_rows_hold_chips_only_while_the_job_does(cli, make_scenario, tmp_path, case):
    path = make_scenario(start="2025-01-01", simulation={"seed": 2, "replications": 1}, **CASES[case])
    r = cli("run", path, "--out", tmp_path / "out")
    assert r.exit_code == 0, r
    s = json.loads((tmp_path / "out" / "summary.json").read_text())
    lay = pd.read_excel(tmp_path / "out" / "report.xlsx", sheet_name="layouts")
    rows_chip_h = float(((lay["end_days"] - lay["start_days"]) * lay["units"] * 24.0).sum())
    assert rows_chip_h == pytest.approx(s["metrics"]["chip_hours"]["mean"], rel=1e-9)
    events = pd.read_csv(tmp_path / "out" / "events.csv")
    waits = events.loc[events["event"] == "wait", "time_days"]
    assert len(waits), "the case has a wait"
    for t in waits:  # no row spans a wait: one ends at it, none runs over it
        assert not ((lay["start_days"] < t) & (lay["end_days"] > t)).any(), (t, lay)
