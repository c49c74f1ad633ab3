"""Traffic between sites: one figure, the engine's, wherever it is shown.

- ``replications.csv`` ``link_tb`` of replication 0 is what the traffic chart adds up to: the training's bytes,
  kept or lost to failures (restarts, stops and checkpoint writes send none), and a cross-site move's checkpoint
  on its day;
- a step sends the same bytes however fast the replication trains: the drawn model error changes the hours, not
  the bytes per token.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from planner.loader import from_dict, load_scenario
from planner.sim.runner import run_scenario

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", ["mixed-two-sites.yaml", "ascend-ramp-2024.yaml"])
def test_chart_adds_up_to_the_replications_link_figure(name):
    r = run_scenario(load_scenario(ROOT / "scenarios" / name), replications=2, seed=3, cash_flow=False)
    rep0 = r.replications.iloc[0]
    assert rep0["link_tb"] > 0
    assert r.links["tb"].sum() == pytest.approx(rep0["link_tb"], rel=1e-9)


def test_a_move_across_sites_is_on_the_chart_on_its_day():
    doc = load_scenario(ROOT / "scenarios" / "mixed-two-sites.yaml").model_dump(mode="json", by_alias=True,
                                                                                exclude_none=True)
    doc["strategy"] = {"mode": "sequential"}
    r = run_scenario(from_dict(doc), replications=1, seed=3, cash_flow=False)
    rep0 = r.replications.iloc[0]
    assert rep0["moves"] >= 1 and rep0["link_tb"] > 0  # the checkpoint crossed, and only that
    assert r.links["tb"].sum() == pytest.approx(rep0["link_tb"], rel=1e-9)
    moved = r.events[r.events["event"] == "move"]
    assert list(r.links.loc[r.links["tb"] > 0, "date"]) == sorted(set(moved["date"]))


def _fixed_pools(failures: bool) -> dict:
    doc = load_scenario(ROOT / "scenarios" / "mixed-two-sites.yaml").model_dump(mode="json", by_alias=True,
                                                                                exclude_none=True)
    doc["reliability"] = {"enabled": failures}
    for pool, units in zip(doc["fleet"], (4096, 2048), strict=True):  # fixed pools: the same plan all along
        for key in ("deliveries", "ordered_units", "delivery_risk", "cloud", "commissioning_days"):
            pool.pop(key, None)
        pool["units"] = units
    return doc


def test_training_lost_to_failures_sent_bytes_too():
    """The same tokens kept, with failures: the training they lost had sent its bytes as well."""
    sent = []
    for failures in (False, True):
        doc = _fixed_pools(failures)
        doc["simulation"] = {"seed": 1, "replications": 1, "model_error": "off"}
        rep0 = run_scenario(from_dict(doc), replications=1, seed=1, cash_flow=False).replications.iloc[0]
        assert rep0["finished"] and (rep0["failures"] > 10) == failures
        sent.append(rep0["link_tb"])
    assert sent[1] > sent[0] * 1.001


def test_bytes_per_token_do_not_follow_the_drawn_speed():
    """One plan, failures off (every held hour trains): each replication trains the same steps, whatever its draw."""
    doc = _fixed_pools(False)
    reps = run_scenario(from_dict(doc), replications=12, seed=5, cash_flow=False).replications
    assert reps["finished"].all() and set(reps["mode"]) == {"diloco"}
    factors = reps["model_factor"].to_numpy()
    assert factors.max() / factors.min() > 1.2  # the draws differ
    link = reps["link_tb"].to_numpy()
    assert link.min() > 0 and np.ptp(link) <= 1e-9 * link.max()


def test_training_lost_to_failures_sent_its_bytes_on_both_paths():
    """Failures on: the compiled loop and the named steps send the same bytes (kept and lost training alike)."""
    from conftest import both_paths

    s = load_scenario(ROOT / "scenarios" / "mixed-two-sites.yaml")
    fast, named = both_paths(s, seed=7)
    assert fast.job.stats.failures > 10 and fast.job.stats.link_bytes > 0
    assert fast.job.stats.link_bytes == pytest.approx(named.job.stats.link_bytes, rel=1e-12)
    # the training's bytes, and each checkpoint sent to a site the job had not trained at
    moved = sum(nbytes for _h, _pair, nbytes in fast.job.link_moves)
    assert sum(fast.job.link_sent.values()) + moved == pytest.approx(fast.job.stats.link_bytes, rel=1e-12)


def test_the_chart_says_how_its_days_are_made():
    """Its total is the engine's; its days are an apportionment, and the chart says by what."""
    from planner.report.charts import link_figure

    r = run_scenario(load_scenario(ROOT / "scenarios" / "mixed-two-sites.yaml"), replications=1, seed=3,
                     cash_flow=False)
    title = link_figure(r.links).layout.title.text
    assert "kept or lost" in title and "spread over the days by the hours" in title
