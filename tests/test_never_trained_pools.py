"""A job that never held a chip names no pool as the one it used: its limits say why it never trained."""

from __future__ import annotations

import json

from planner.summary import UNTRAINED

BIG = {"model": "llama3-405b", "tokens": 15.0e12, "seq_len": 8192, "global_batch_tokens": 16.0e6}
SMALL = {"model": "llama3-70b", "tokens": 1.0e12, "seq_len": 8192, "global_batch_tokens": 4194304}
H100 = {"name": "h100", "chip": "h100-sxm", "site": "s1",
        "cloud": {"units": 1024, "from": "2024-03-01", "until": "2025-06-30", "price_per_chip_hour_usd": 2.0}}
# the rental from June and the Ascend chips from September: none there before a 60-day horizon from March
LATE = [{**H100, "cloud": {**H100["cloud"], "from": "2024-06-01"}},
        {"name": "asc", "chip": "ascend-910b", "units": 0, "deliveries": [{"date": "2024-09-01", "units": 1000}]}]


def _summary(cli, path) -> dict:
    out = path.parent / "out"
    r = cli("run", path, "--out", out)
    assert r.exit_code == 0, r
    return json.loads((out / "summary.json").read_text())


def test_a_portfolio_job_left_too_few_chips_names_no_pool_and_says_who_held_them(cli, make_scenario):
    """The 405B job holds 1,000 of the 1,024 rented H100s; the 70B job never fits on the 16 it leaves in service.

    Review: its strategy read "single: h100" (a pool it never trained on) and its limit "h100 had at most 16
    chips in service", which read as the fleet's 1,024.
    """
    path = make_scenario(start="2024-03-01", horizon_days=60, workload=None, fleet=[H100],
                         reliability={"enabled": True}, simulation={"seed": 1, "replications": 1},
                         jobs=[{"name": "big", "priority": 1, "workload": BIG},
                               {"name": "small", "priority": 2, "workload": SMALL, "strategy": {"mode": "single"}}])
    s = _summary(cli, path)
    small = next(j for j in s["jobs"] if j["name"] == "small")
    assert small["metrics"]["chip_hours"]["p50"] == 0
    assert small["strategy"]["pools"] == []
    assert small["strategy"]["choices"] == {f"single: {UNTRAINED}": 1}
    (line,) = [x for x in small["limits"] if x.startswith("never trained")]
    assert "the jobs before it left it at most" in line and "chips of h100 (up to 1,024 in service)" in line, line
    big = next(j for j in s["jobs"] if j["name"] == "big")
    assert big["strategy"]["pools"] == ["h100"]  # the job that trained names its pool
    assert s["strategy"]["pools"] == ["h100"]  # the portfolio: its first trained job's pair


def test_a_job_whose_chips_all_come_after_the_horizon_names_no_pool(cli, make_scenario):
    """Both pools' chips come after the 60-day horizon: no replication trains, none names a pool as used."""
    path = make_scenario(start="2024-03-01", horizon_days=60, fleet=LATE, simulation={"seed": 1, "replications": 3})
    s = _summary(cli, path)
    assert s["strategy"]["pools"] == []
    assert s["pools_used"] == {UNTRAINED: 3}
    assert any(x.startswith("never trained: no chip of") for x in s["limits"]), s["limits"]
    r = cli("run", path, "--out", path.parent / "again")
    (row,) = [x for x in r.stdout.splitlines() if "Strategy" in x]  # the headline's row says so, naming no pool
    assert UNTRAINED in row and "h100" not in row and "asc" not in row, row


def test_the_answer_sentence_of_a_job_that_never_trained_names_no_pool(cli, make_scenario, tmp_path):
    """Review: it fell back to every pool of the fleet ("on h100 + asc (single)") when the strategy named none."""
    path = make_scenario(start="2024-03-01", horizon_days=60, fleet=LATE, simulation={"seed": 1, "replications": 2})
    out = tmp_path / "out"
    assert cli("run", path, "--out", out).exit_code == 0
    page = (out / "report.html").read_text()
    assert "on no pool (single: it never trained)" in page and "on h100 + asc" not in page
    assert "in which the job never trained" in page
