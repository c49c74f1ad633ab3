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
