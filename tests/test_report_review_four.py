"""Findings of the fourth review of the report files' bounds, each where it was found.

- chips waiting for site power in runs the horizon stopped waited at least that long: nothing said so;
- the sentence under the cash flow said "at least" of a reservation's exact commitment, and a plain figure where a
  rental states no price;
- the one-line answer gave the used spend plain where only it is a lower bound;
- a portfolio's jobs table gave a bounded time to train plain, and its sheet left training and waiting days out of
  its lower bounds.
"""

from __future__ import annotations

from planner import api
from planner.loader import from_dict
from planner.report import headline, tables

W = {"model": "llama3-8b", "tokens": 12.0e12, "seq_len": 8192, "global_batch_tokens": 4194304}


def test_a_wait_for_power_cut_by_the_horizon_is_at_least():
    doc = {"name": "pw", "start": "2024-01-01", "horizon_days": 30, "workload": W,
           "fleet": [{"name": "own", "chip": "h100-sxm", "site": "s1", "units": 1024, "unit_price_usd": 25000}],
           "sites": [{"name": "s1", "pue": 1.25, "power_mw": [{"date": "2024-01-01", "mw": 0.5}]}],
           "reliability": {"enabled": False}, "simulation": {"seed": 3, "replications": 3}}
    s = api.simulate(from_dict(doc)).summary
    assert s.unfinished == 3 and "p50" in s.at_least["power_wait_chip_days"]
    said = headline.power_wait_sentence(s)
    assert "waited ≥ " in said and "by the horizon, where training had not ended" in said
    done = api.simulate(from_dict({**doc, "horizon_days": 400, "workload": {**W, "tokens": 2e11}})).summary
    assert done.unfinished == 0 and "power_wait_chip_days" not in done.at_least
    assert "before the training ended" in headline.power_wait_sentence(done)


def _cloud(**cloud) -> dict:
    return {"name": "c", "start": "2024-01-01", "horizon_days": 20, "workload": W,
            "fleet": [{"name": "rent", "chip": "h100-sxm",
                       "cloud": {"units": 256, "from": "2024-01-01", "until": "2024-04-01", **cloud}}],
            "reliability": {"enabled": False}, "simulation": {"seed": 3, "replications": 3}}


def test_a_reservations_commitment_is_exact_in_every_sentence_and_its_use_at_least():
    run = api.simulate(from_dict(_cloud(price_per_chip_hour_usd=2.0)))
    s = run.summary
    assert s.unfinished == 3 and not s.bound("cost_usd", "mean") and s.spend_bound("used_usd")
    assert "at least" not in run.cashflow_note.split("nearest to the mean", 1)[1]
    answer = headline.answer_sentence(s, {"horizon_days": 20})
    assert "committed, at least $" in answer and not answer.split(";")[-1].strip().startswith("at least")


def test_an_unpriced_rentals_cash_flow_says_at_least_and_names_it():
    run = api.simulate(from_dict(_cloud()))
    assert run.summary.unpriced_pools == ("rent",)
    note = run.cashflow_note
    assert "committed at least $" in note and "rent state no price" in note


def test_a_portfolio_jobs_bounded_time_and_days_are_marked():
    """The shipped portfolio cut at 220 days: the dense run's P50 is known only as at least its figure."""
    from pathlib import Path

    from planner import edits
    from planner.loader import load_scenario

    path = Path(__file__).resolve().parents[1] / "scenarios" / "ascend-portfolio-2024.yaml"
    sc = edits.set_values(load_scenario(path), {"horizon_days": 220})
    s = api.simulate(sc, replications=4, seed=7).summary
    job = {j.name: j for j in s.jobs}["dense-405b"].summary
    assert job.bound("time_to_train_days", "p50")
    rows = {r["job"]: r for r in headline.job_rows(s)}
    assert rows["dense-405b"]["time to train (P50)"].startswith("≥ ")
    assert not rows["flagship-moe"]["time to train (P50)"].startswith("≥")
    sheet = tables.jobs_table(s).set_index("job")
    assert ("training_days_p50" in sheet.loc["dense-405b", "lower_bounds"]) == job.bound("training_days", "p50")
    assert job.bound("training_days", "p50")


def test_the_strategies_give_their_spend_in_the_second_currency_too(cli, tmp_path):
    """Every sum on the page and in the workbook also reads in the scenario's currency (README).

    The strategies table, its sheet and `planner compare` gave dollars only.
    """
    import yaml
    from openpyxl import load_workbook

    from planner.report.html import render_html

    doc = {"name": "cur", "start": "2025-01-01", "horizon_days": 200,
           "workload": {"model": "llama3-8b", "tokens": 2.0e11, "seq_len": 8192},
           "fleet": [{"name": "a", "chip": "h100-sxm", "site": "s1", "units": 256, "unit_price_usd": 25000},
                     {"name": "b", "chip": "h100-sxm", "site": "s1",
                      "cloud": {"units": 128, "from": "2025-01-01", "until": "2025-03-01",
                                "price_per_chip_hour_usd": 2.0}}],
           "currency": {"code": "CNY", "per_usd": 7.1}, "reliability": {"enabled": False},
           "simulation": {"seed": 1, "replications": 1}}
    run = api.simulate(from_dict(doc))
    table = tables.strategies_table(run)
    ok = table[table["possible"]]
    assert list(table.columns).index("cost_cny") == list(table.columns).index("cost_usd") + 1
    assert (abs(ok["cost_cny"] - ok["cost_usd"] * 7.1) < 1e-6 * ok["cost_usd"]).all()
    page = render_html(run)
    strategies = page[page.index("<h2>Strategies"):]
    assert "(CNY " in strategies[:strategies.index("</table>")]
    path = tmp_path / "cur.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    r = cli("run", path, "--out", tmp_path / "r")
    assert r.exit_code == 0, r
    ws = load_workbook(tmp_path / "r" / "report.xlsx")["strategies"]
    head = [c.value for c in ws[1]]
    assert ws.cell(2, head.index("cost_cny") + 1).number_format == '"CNY "#,##0'
    assert "(CNY " in cli("compare", path).stdout
