"""A portfolio job picked by cost: `compare` shows what it ranked its modes on, not only its own spend."""

from __future__ import annotations

import math

import yaml

from planner.decide import present

SCENARIO = {
    "name": "cost-pick", "start": "2025-01-01", "horizon_days": 120,
    "jobs": [{"name": "first", "priority": 1, "workload": {"model": "llama3-8b", "tokens": 1.0e11, "seq_len": 8192}},
             {"name": "cheap", "priority": 2, "workload": {"model": "llama3-8b", "tokens": 3.0e11, "seq_len": 8192},
              "strategy": {"objective": "cost"}}],
    "fleet": [{"name": "own", "chip": "h100-sxm", "site": "s1", "units": 256},
              {"name": "rent", "chip": "h100-sxm", "site": "s1",
               "cloud": {"units": 512, "from": "2025-01-01", "until": "2025-04-30", "price_per_chip_hour_usd": 4.0,
                         "billing": "on_demand"}}],
    "reliability": {"enabled": False}, "simulation": {"seed": 1, "replications": 1},
}


def test_the_cost_pick_is_the_least_pools_commitment_and_the_json_carries_it(cli, make_scenario):
    path = make_scenario.text(yaml.safe_dump(SCENARIO))
    rows = cli("compare", path, "--json").json()["modes"]
    cheap = [r for r in rows if r["job"] == "cheap" and r["possible"]]
    assert {r["objective"] for r in rows if r["job"] == "first"} == {"time"}
    assert {r["objective"] for r in cheap} == {"cost"}
    (pick,) = [r for r in cheap if r["auto"]]
    assert pick["committed_usd"] == min(r["committed_usd"] for r in cheap if r["finished"])
    # the job's own spend is what it held (its used spend), a part of its pools' commitment
    assert all(r["cost_usd"] <= r["committed_usd"] + 1e-6 and math.isfinite(r["committed_usd"]) for r in cheap)


def test_the_table_and_its_caption_name_the_pick_s_column_only_when_a_job_picks_by_cost(cli, make_scenario):
    out = cli("compare", make_scenario.text(yaml.safe_dump(SCENARIO))).stdout
    assert "pools' commitment" in out and "cheap (objective: cost) picks" in " ".join(out.split())
    timed = {**SCENARIO, "jobs": [{k: v for k, v in j.items() if k != "strategy"} for j in SCENARIO["jobs"]]}
    out = cli("compare", make_scenario.text(yaml.safe_dump(timed), "timed.yaml")).stdout
    assert "pools' commitment" not in out and "objective: cost" not in out


def test_compare_table_adds_the_pick_s_column_for_cost_jobs_only():
    row = {"job": "j", "mode": "single", "possible": True, "finished": True, "time_to_train_days": 2.0,
           "cost_usd": 10.0, "used_usd": 10.0, "committed_usd": 25.0, "at_least": [], "objective": "cost"}
    table = present.compare_table([row, {**row, "job": "k", "objective": "time"}])
    assert present.PICKED_ON in table.columns
    assert table[present.PICKED_ON].tolist() == ["$25", ""]
    bound = present.compare_table([{**row, "at_least": ["committed_usd"]}])
    assert bound[present.PICKED_ON].tolist() == ["≥ $25"]
    assert present.PICKED_ON not in present.compare_table([{**row, "objective": "time"}]).columns


def test_the_pick_s_column_is_in_the_scenario_s_currency_too(cli, make_scenario):
    out = cli("compare", make_scenario.text(yaml.safe_dump({**SCENARIO, "currency": {"code": "CNY", "per_usd": 7.1}}),
                                           "cny.yaml")).stdout
    rows = [line for line in out.splitlines() if line.startswith("│ cheap:") and "not possible" not in line]
    assert rows and all(line.count("(CNY ") == 2 for line in rows), rows  # the cost and the pick's, both
