"""Findings of the fourth review of the decision commands (compare, sweep, sensitivity, solve), each where found.

- a portfolio's `compare` row priced a job at its pools' whole commitment where `run` gives its own spend;
- the tornado drew the inputs that decide whether the job finishes at the foot, with no bar and no word for the
  side that never finishes, and the page's table read "never" for a swing that has no number;
- a sweep row's mean time to train counted the finished replications with nothing saying so;
- `solve --json` said ``monotone: false`` with an empty note;
- `sensitivity` swung "cloud units" of a scenario that rents none;
- a sweep point the format refuses stopped the sweep without saying which point.
"""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import one_error_line

from planner import api
from planner.decide import sensitivity as sens
from planner.decide.points import point_row
from planner.decide.sweep import grid
from planner.errors import ScenarioError
from planner.loader import from_dict
from planner.report.tables import fmt_cell
from planner.summary import Stat, Summary
from tests.test_app import PORTFOLIO, SMALL


def test_a_portfolio_compare_prices_each_job_as_run_does():
    s = from_dict(PORTFOLIO)
    rows = api.compare(s)
    run = api.simulate(s, replications=1)
    for job in run.summary.jobs:
        (picked,) = [r for r in rows if r["job"] == job.name and r.get("run")]
        own = job.summary.stat("cost_usd").mean
        assert picked["cost_usd"] == pytest.approx(own, rel=1e-9), job.name
        assert picked["cost_usd"] == pytest.approx(picked["used_usd"])
    whole = run.summary.stat("cost_usd").mean  # the pools' whole commitment: the portfolio's, above any one job's
    assert all(r["cost_usd"] < whole for r in rows if r["possible"])


def test_the_cli_compare_of_a_portfolio_says_what_its_cost_is(cli, tmp_path):
    import yaml

    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(PORTFOLIO, sort_keys=False))
    r = cli("compare", path)
    assert r.exit_code == 0, r
    assert "the job's own spend on the chips it trained on" in " ".join(r.stdout.split())


def _row(name: str, low: str, high: str, days: tuple, costs: tuple, decides: bool = False,
         cost_bound: str = "") -> dict:
    """A sensitivity table row: p50 days and cost at (base, low, high); a swing where all three are numbers."""
    row = {"input": name, "low": low, "high": high, "decides_finish": decides}
    for m, values, bound in (("time_to_train_days_p50", days, ""), ("cost_usd_p50", costs, cost_bound)):
        row.update({f"{m}_{side}": v for side, v in zip(("base", "low", "high"), values, strict=True)})
        row[f"{m}_at_least"] = bound
        row[f"{m}_swing"] = None if None in values or bound else max(values) - min(values)
    return row


def _table() -> pd.DataFrame:
    return pd.DataFrame([
        _row("price", "x0.75", "x1.25", (100.0, 100.0, 100.0), (1e6, 0.8e6, 1.2e6)),
        _row("MTBF", "x0.5", "x2", (100.0, 110.0, 95.0), (1e6, 1.1e6, 0.95e6)),
        _row("delivery slip", "30 d early", "90 d late", (100.0, 90.0, None), (1e6, 0.9e6, 1.3e6), decides=True,
             cost_bound="high"),
    ])


def test_the_tornado_puts_the_input_that_decides_the_finish_on_top_and_says_never():
    fig = sens.tornado_figures(_table())["time_to_train_days_p50"]
    low, high = fig.data
    assert list(high.y)[-1] == "delivery slip"  # the last category is drawn at the top
    assert list(high.y)[-2] == "MTBF"  # then the largest swing
    i = list(high.y).index("delivery slip")
    assert high.customdata[i] == "never" and high.text[i].endswith(": never")
    assert high.x[i] > max(x for x in list(high.x) + list(low.x) if x is not None and x == x and x != high.x[i])
    assert high.marker.pattern.shape[i] == "/" and low.customdata[i] != "never"


def test_a_swing_with_no_number_is_blank_not_never():
    assert fmt_cell("time_to_train_days_p50_swing", None) == ""
    assert fmt_cell("time_to_train_days_p50_high", None) == "never"


def test_a_sweep_rows_mean_time_counts_the_finished_and_says_so():
    some = Summary(replications=4, unfinished=3, finish_probability=0.25,
                   metrics={"time_to_train_days": Stat(mean=303.5, p10=322.0)},
                   at_least={"time_to_train_days": ("p10",)})
    row = point_row(some)
    assert row["at_least"].split(", ")[:2] == ["time_to_train_days_mean", "time_to_train_days_p10"]
    every = Summary(replications=4, finish_probability=1.0, metrics={"time_to_train_days": Stat(mean=303.5, p10=290.0)})
    assert "time_to_train_days_mean" not in point_row(every)["at_least"]


def test_solves_not_monotone_note_names_the_pair():
    from planner.decide.solve import not_monotone_note

    pts = [{"value": 100, "meets": False, "time_to_train_days": 210.0},
           {"value": 200, "meets": True, "time_to_train_days": 198.4},
           {"value": 300, "meets": True, "time_to_train_days": 202.2}]
    note = not_monotone_note(pts, "fleet[1].cloud.units", 0.9)
    assert "fleet[1].cloud.units=300 finishes later than fleet[1].cloud.units=200 at P90" in note
    assert "202.2 days against 198.4 days" in note
    pts[2]["time_to_train_days"] = 199.0  # within the slack: monotone
    assert not_monotone_note(pts, "x", 0.9) == ""
    # a larger value that misses where a smaller one meets, its time a horizon's lower bound: said as such
    pts[2].update(meets=False, time_to_train_days=190.0, time_at_least=True)
    note = not_monotone_note(pts, "x", 0.9)
    assert "x=300 misses the deadline at P90 where x=200 meets it (at least 190.0 days against 198.4 days)" in note


def test_a_portfolio_compare_table_has_one_cost_column_the_jobs_own():
    from planner.decide import present

    rows = api.compare(from_dict(PORTFOLIO))
    table = present.compare_table(rows)
    assert present.JOB_COST in table.columns and "used" not in table.columns and "committed" not in table.columns
    fig = present.compare_figure(rows)
    assert fig.data[1].name == present.JOB_COST
    single = present.compare_table(api.compare(from_dict(SMALL)))
    assert {"committed", "used"} <= set(single.columns)


def test_sensitivity_swings_no_rental_where_none_is_rented():
    none_rented = from_dict({**SMALL, "fleet": [SMALL["fleet"][0],
                                                {**SMALL["fleet"][1], "cloud": {**SMALL["fleet"][1]["cloud"],
                                                                                "units": 0}}]})
    assert "cloud units" not in [i.name for i in sens.inputs(none_rented)]
    assert "cloud units" in [i.name for i in sens.inputs(from_dict(SMALL))]


def test_a_sweep_point_the_format_refuses_is_named():
    s = from_dict({**SMALL, "strategy": {"mode": "sync"}})
    with pytest.raises(ScenarioError) as err:
        grid(s, [("horizon_days", [60, 90]), ("fleet[1].cloud.units", [32, 0])])
    assert "the sweep's point horizon_days=60, fleet[1].cloud.units=0 is not a valid scenario" in str(err.value)
    assert "strategy.mode" in str(err.value)


def test_the_sweep_command_names_the_refused_point(cli, tmp_path):
    import yaml

    path = tmp_path / "sync.yaml"
    path.write_text(yaml.safe_dump({**SMALL, "strategy": {"mode": "sync"}}, sort_keys=False))
    r = cli("sweep", path, "--set", "fleet[1].cloud.units=64,0", "--replications", "1")
    assert "fleet[1].cloud.units=0 is not a valid scenario" in one_error_line(r)


def test_a_portfolios_sensitivity_gives_each_jobs_own_times(tmp_path):
    """The swings are the portfolio's (its last job's finish); each job's own p50 at base, low and high is there too."""
    s = from_dict(PORTFOLIO)
    table = sens.sensitivity(s, replications=1, workers=1)
    run = api.simulate(s, replications=1)
    for job in run.summary.jobs:
        col = f"job {job.name}: time_to_train_days_p50"
        assert {f"{col}_base", f"{col}_low", f"{col}_high", f"{col}_at_least"} <= set(table.columns)
        assert table[f"{col}_base"].iloc[0] == pytest.approx(job.summary.stat("time_to_train_days").p50)
    slip = table.set_index("input").loc["delivery slip"]
    first = f"job {run.summary.jobs[0].name}: time_to_train_days_p50"
    assert slip[f"{first}_high"] >= slip[f"{first}_low"]  # later deliveries never finish the first job sooner
    one = sens.sensitivity(from_dict(SMALL), replications=1, workers=1)
    assert not any(c.startswith("job ") for c in one.columns)
