"""A portfolio's strategy is a (mode, pools) pair one of its jobs ran: never a job's mode on another job's pools."""

from __future__ import annotations

import json

from conftest import ROOT


def test_the_portfolio_strategy_is_a_pair_its_first_job_ran(cli, tmp_path):
    """The shipped portfolio over 20 replications: its row paired one job's mode with every job's pools.

    The flagship ran `single` on the H100s in one replication and the dense job `diloco` on both pools; the row read
    "single: ascend-cn + azure-h100", a pair no job ran (fleet review).
    """
    out = tmp_path / "out"
    r = cli("run", ROOT / "scenarios" / "ascend-portfolio-2024.yaml", "--out", out, "--replications", "20")
    assert r.exit_code == 0, r
    s = json.loads((out / "summary.json").read_text())
    lead = s["jobs"][0]["strategy"]["choices"]  # the flagship trains in every replication (its deadline is met)
    assert set(s["strategy"]["choices"]) <= set(lead), (s["strategy"]["choices"], lead)
    assert sum(s["strategy"]["choices"].values()) == 20
    for pair in s["strategy"]["choices"]:
        mode, pools = pair.split(": ")
        assert mode != "single" or " + " not in pools, pair
    top = s["strategy"]
    assert f"{top['mode']}: {' + '.join(top['pools'])}" in lead


def test_a_portfolio_still_names_every_pool_its_jobs_trained_on(cli, make_scenario, tmp_path):
    """Two single-mode jobs, one per pool: the strategy pair is the first job's, and every pool is named elsewhere.

    Review of the pair's fix: `pools_used` and the answer sentence came to read only h100, where the second job
    trained on asc alone.
    """
    path = _one_pool_each(make_scenario)
    out = tmp_path / "out"
    r = cli("run", path, "--out", out)
    assert r.exit_code == 0, r
    s = json.loads((out / "summary.json").read_text())
    assert s["strategy"]["pools"] == ["h100"] and s["strategy"]["choices"] == {"single: h100": 2}
    assert s["pools_used"] == {"h100 + asc": 2}
    assert "2 jobs (j1, j2, in priority order) on h100 + asc:" in (out / "report.html").read_text()
    (row,) = [x for x in r.stdout.splitlines() if "Strategy" in x]
    assert "job j1" in row, row


def test_a_portfolios_replication_rows_pair_its_mode_with_the_pools_that_mode_ran_on(cli, make_scenario, tmp_path):
    """Review: replications.csv read mode=single beside pool "h100 + asc", a pair no job ran."""
    import pandas as pd

    path = _one_pool_each(make_scenario)
    out = tmp_path / "out"
    assert cli("run", path, "--out", out).exit_code == 0
    reps = pd.read_csv(out / "replications.csv")
    assert list(reps["mode"]) == ["single"] * 2 and list(reps["pool"]) == ["h100"] * 2
    assert list(reps["pools_trained"]) == ["h100 + asc"] * 2
    assert json.loads((out / "summary.json").read_text())["pools_used"] == {"h100 + asc": 2}


def _one_pool_each(make_scenario):
    """Two single-mode jobs, two replications: j1 on the H100s, j2 on the Ascend chips at another site."""
    job = {"model": "llama3-8b", "tokens": 1.0e12, "seq_len": 8192}
    return make_scenario(
        workload=None, horizon_days=200, simulation={"seed": 1, "replications": 2},
        fleet=[{"name": "h100", "chip": "h100-sxm", "site": "s0", "units": 512},
               {"name": "asc", "chip": "ascend-910b", "site": "s1", "units": 512}],
        links=[{"sites": ["s0", "s1"], "gbps": 400, "latency_ms": 10}],
        jobs=[{"name": "j1", "priority": 1, "workload": job, "pools": ["h100"], "strategy": {"mode": "single"}},
              {"name": "j2", "priority": 2, "workload": job, "pools": ["asc"], "strategy": {"mode": "single"}}])
