"""schedule.csv's days: none past the horizon, and each day's spend read at its midnight (money review)."""

from __future__ import annotations

import csv
import datetime as dt

import pytest


def _schedule(make_scenario, cli, **fields) -> list[dict]:
    path = make_scenario(**fields)
    out = path.parent / "out"
    r = cli("run", path, "--out", out)
    assert r.exit_code in (0, 1), r
    return list(csv.DictReader((out / "schedule.csv").open()))


def test_a_run_stopped_by_the_horizon_has_no_row_after_it(make_scenario, cli):
    """A 10-day horizon from 2024-01-01 has days 0 to 9 (2024-01-01 to 2024-01-10); the last is read at the horizon.

    Before, an unfinished run had an 11th row for day 10, dated 2024-01-11, outside the horizon, and it alone
    carried the tokens the horizon keeps since the last checkpoint.
    """
    rows = _schedule(make_scenario, cli, start="2024-01-01", horizon_days=10,
                     workload={"model": "llama3-8b", "tokens": 6.0e12, "seq_len": 4096,
                               "global_batch_tokens": 4194304})
    assert [int(r["day"]) for r in rows] == list(range(10))
    assert rows[-1]["date"] == (dt.date(2024, 1, 1) + dt.timedelta(days=9)).isoformat()
    assert float(rows[-1]["tokens_trained"]) > float(rows[-2]["tokens_trained"])


def test_each_days_spend_is_read_at_midnight(make_scenario, cli):
    """64 rented H100 at $2/chip-hour reserved from day 0: day k's spend so far is 64 x 24 x (k + 1) x $2 exactly.

    Before, a day was read 1e-6 h before midnight: day 0 showed $3,071.999872 for $3,072.
    """
    rows = _schedule(make_scenario, cli, start="2024-01-01", horizon_days=30,
                     fleet=[{"name": "c", "chip": "h100-sxm",
                             "cloud": {"units": 64, "from": "2024-01-01", "until": "2024-03-01",
                                       "price_per_chip_hour_usd": 2.0}}])
    assert len(rows) > 2
    for r in rows[:-1]:
        assert float(r["cost_usd"]) == pytest.approx(64 * 24 * 2.0 * (int(r["day"]) + 1), rel=1e-12)


def test_the_stop_at_the_horizon_is_dated_on_its_last_day(make_scenario, cli):
    """The horizon stop is on the horizon's last day in events.csv, as schedule.csv's last row.

    It fell on the day after (2024-01-11 for a 10-day horizon from 2024-01-01).
    """
    path = make_scenario(start="2024-01-01", horizon_days=10,
                         workload={"model": "llama3-8b", "tokens": 6.0e12, "seq_len": 4096,
                                   "global_batch_tokens": 4194304})
    out = path.parent / "out"
    assert cli("run", path, "--out", out).exit_code in (0, 1)
    events = list(csv.DictReader((out / "events.csv").open()))
    stop = [e for e in events if e["event"] == "give_up"]
    assert stop and stop[-1]["date"] == "2024-01-10"
    assert all(e["date"] <= "2024-01-10" for e in events)
