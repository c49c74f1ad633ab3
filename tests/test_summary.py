"""The typed summary (planner/summary.py): exactly summary.json both ways, read by attribute."""

from __future__ import annotations

import dataclasses
import json
import math
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from planner import api, whatif
from planner.loader import from_dict
from planner.metrics import DISTRIBUTION_KEYS
from planner.report import headline
from planner.report.tables import summary_json
from planner.scenario import Expectation
from planner.stats import NEVER
from planner.summary import ExpectationResult, Stat, Summary, as_summary

GOLDEN = sorted((Path(__file__).resolve().parent / "golden").glob("*/summary.json"))

# one pool whose only delivery slips 0..40 days, a 30-day horizon: 2 of 10 replications never finish, so P90 is never
UNFINISHED = {
    "name": "unfinished", "start": "2025-01-01", "horizon_days": 30,
    "workload": {"model": "llama3-8b", "tokens": 5e10, "seq_len": 8192},
    "fleet": [{"name": "own", "chip": "h100-sxm", "units": 0, "deliveries": [{"date": "2025-01-11", "units": 64}],
               "delivery_risk": {"slip_days": {"dist": "uniform", "low": 0, "high": 40}}}],
    "reliability": {"enabled": False},
    "simulation": {"seed": 3, "replications": 10, "model_error": "off"},
    "expect": [{"metric": "time_to_train_days", "quantile": 0.9, "max": 35},
               {"metric": "finish_probability", "min": 0.2}],
}


@pytest.fixture(scope="module")
def unfinished():
    return api.simulate(from_dict(UNFINISHED))


def _same_json(a: dict, b: dict) -> bool:
    """Equal, keys in the same order at every depth."""
    return json.dumps(a) == json.dumps(b)


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.parent.name)
def test_golden_summaries_round_trip(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    data = json.loads(text)
    s = Summary.from_json(data)
    assert s.to_json() == data and _same_json(s.to_json(), data)
    assert summary_json(s) == text  # the writer gives the golden file byte for byte
    assert Summary.from_json(s.to_json()) == s


def _check_attributes(s: Summary, d: dict) -> None:
    """Attribute access gives the same numbers as the JSON."""
    assert (s.scenario, s.planner_version, s.seed, s.replications, s.start) == (
        d["scenario"], d["planner_version"], d["seed"], d["replications"], d["start"])
    for k in DISTRIBUTION_KEYS:
        for q in ("mean", "p10", "p50", "p90"):
            assert getattr(s.metrics[k], q) == d["metrics"][k][q], (k, q)
    assert s.finish_probability == d["metrics"]["finish_probability"]
    assert s.value("finish_probability") == d["metrics"]["finish_probability"]
    for q in ("p10", "p50", "p90"):
        assert s.finish_date.at(q) == getattr(s.finish_date, q) == d["finish_date"][q]
        assert getattr(s.training_days, q) == d["training_days"][q]
        assert getattr(s.waiting_days, q) == d["waiting_days"][q]
    assert s.pools_used == d["pools_used"]
    assert (s.strategy.mode, list(s.strategy.pools), s.strategy.setting, s.strategy.choices) == (
        d["strategy"]["mode"], d["strategy"]["pools"], d["strategy"]["setting"], d["strategy"]["choices"])
    assert [(e.metric, e.quantile, e.max, e.min, e.value, e.passed) for e in s.expectations] == [
        (e["metric"], e.get("quantile"), e.get("max"), e.get("min"), e["value"], e["passed"])
        for e in d["expectations"]]
    assert list(s.limits) == d["limits"]
    c = d["costs"]
    assert (s.costs.committed_usd, s.costs.used_usd, s.costs.idle_usd) == (
        c["committed_usd"], c["used_usd"], c["idle_usd"])
    assert [(p.pool, p.committed_usd, p.used_usd, p.idle_usd) for p in s.costs.pools] == [
        (p["pool"], p["committed_usd"], p["used_usd"], p["idle_usd"]) for p in c["pools"]]


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.parent.name)
def test_golden_attributes_match_the_json(path: Path) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    _check_attributes(Summary.from_json(data), data)


def test_monte_carlo_with_unfinished_replications(unfinished, tmp_path) -> None:
    s = unfinished.summary
    assert isinstance(s, Summary)
    assert 0 < s.finish_probability < 1
    assert s.metrics["time_to_train_days"].p90 is None and s.finish_date.p90 == NEVER
    assert s.finish_date.finished("p10") and not s.finish_date.finished("p90")
    (late, prob) = s.expectations
    assert late.value is None and late.passed is False and prob.passed is True and not s.passed
    data = s.to_json()
    assert list(data) == ["scenario", "planner_version", "seed", "replications", "start", "strategy", "metrics",
                          "expectations", "limits", "finish_date", "training_days", "waiting_days", "pools_used",
                          "costs", "model_band", "unfinished_replications", "at_least", "counted"]
    # replications that never trained gave no MFU or goodput: the summary says how many did
    assert 0 < data["counted"]["mfu"] == data["counted"]["goodput"] < s.replications
    assert data["unfinished_replications"] == round(s.replications * (1 - s.finish_probability))
    assert list(data["metrics"]) == ["time_to_train_days", "finish_probability", *DISTRIBUTION_KEYS[1:]]
    assert data["metrics"]["time_to_train_days"]["p90"] is None and data["finish_date"]["p90"] == "never"
    assert data["expectations"][1] == {"metric": "finish_probability", "min": 0.2, "value": s.finish_probability,
                                       "passed": True}
    back = Summary.from_json(data)
    assert back == s and back.to_json() == data and _same_json(back.to_json(), data)
    # through the file: what planner run writes reads back as the same summary
    written = json.loads(summary_json(s))
    assert Summary.from_json(written) == s and _same_json(Summary.from_json(written).to_json(), written)
    _check_attributes(s, written)
    assert [p.pool for p in s.costs.pools] == ["own"]


def test_missing_optional_keys_are_none_and_stay_out() -> None:
    empty = Summary.from_json({})
    assert empty == Summary()
    assert empty.to_json() == {"scenario": "", "metrics": {}, "expectations": [], "limits": []}
    partial = {"scenario": "hand-made", "seed": 1,
               "metrics": {"time_to_train_days": {"mean": 2.0, "p10": 1.0, "p50": 2.0, "p90": 3.0},
                           "finish_probability": 1.0},
               "expectations": [{"metric": "time_to_train_days", "max": 5.0, "value": 2.0, "passed": True}],
               "limits": [], "finish_date": {"p10": "2025-01-02", "p50": "2025-01-03", "p90": "2025-01-04"}}
    s = Summary.from_json(partial)
    assert s.to_json() == partial and _same_json(s.to_json(), partial)
    assert (s.replications, s.strategy, s.costs, s.training_days, s.pools_used) == (None, None, None, None, None)
    assert s.value("time_to_train_days") == 2.0 and s.value("cost_usd") is None
    # incomplete parts are read as far as they go
    odd = Summary.from_json({"metrics": {"mfu": {"p50": 0.4}, "bogus": 3}, "costs": {"committed_usd": 5.0},
                             "strategy": {"mode": "single"}, "limits": ["a", 7]})
    assert odd.metrics == {"mfu": Stat(p50=0.4)} and odd.value("mfu") == 0.4 and odd.value("mfu", "p90") is None
    assert odd.costs.pools == () and odd.costs.used_usd is None and odd.strategy.pools == ()
    assert odd.limits == ("a",)


def test_readers_take_a_summary_from_a_file_or_a_run(unfinished) -> None:
    """The headline, the answer and the app's deltas read a run's Summary and one read from its JSON alike."""
    s = unfinished.summary
    read = as_summary(json.loads(summary_json(s)))
    assert as_summary(s) is s and as_summary(None) is None
    assert headline.headline_items(read) == headline.headline_items(s)
    assert headline.finish_items(read) == headline.finish_items(s)
    assert headline.answer_sentence(read, unfinished.inputs) == headline.answer_sentence(s, unfinished.inputs)
    assert "P90 never" in headline.answer_sentence(s, unfinished.inputs)
    assert all(v is None for v in whatif.deltas(s, read).values())
    rows = {r["figure"]: r for r in whatif.ab_rows(read, s)}
    assert rows["finish date P90"]["A"] == "never" and rows["finish date P90"]["B - A"] == ""
    assert rows["pools used"]["A"] == ", ".join(s.strategy.pools)
    # even with nothing in it, every reader copes
    assert headline.headline_items(Summary())[0].value == "never" and headline.finish_items(Summary()) == []
    assert whatif.deltas(Summary(), None) == {}


def test_records_are_frozen_and_pickle(unfinished) -> None:
    s = unfinished.summary
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.seed = 1  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.metrics["cost_usd"].p50 = 0.0  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(s)) == s  # points and replications cross process boundaries
    e = ExpectationResult("cost_usd", quantile=0.5, max=10.0, value=3.0, passed=True)
    assert e.to_json() == {"metric": "cost_usd", "quantile": 0.5, "max": 10.0, "value": 3.0, "passed": True}


def test_summary_does_not_load_pandas() -> None:
    """`planner estimate` must not import pandas; results.py (and so the estimate path) imports summary."""
    code = "import sys, planner.summary, planner.results; assert 'pandas' not in sys.modules, 'pandas loaded'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_strategy_named_is_a_mode_and_pools_one_replication_ran():
    """The summary's strategy pairs a mode with pools one replication ran it on.

    Two replications ran single on azure and three ran a mode each on both pools: single on azure, not "single"
    with both pools (the most common mode and the most common pools counted apart).
    """
    import numpy as np

    from planner.bridge import layout_planners
    from planner.loader import load_scenario
    from planner.sim.replication import run_replication
    from planner.sim.runner import summarize
    from planner.strategy import Context

    sc = load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / "ascend-ramp-2024.yaml")
    m = run_replication(sc, Context(sc, layout_planners(sc)), np.random.SeedSequence(1)).metrics
    both = "ascend-cn + azure-h100"
    combos = [("single", "azure-h100"), ("single", "azure-h100"), ("sync", both), ("diloco", both),
              ("sequential", both)]
    s = summarize(sc, 42, [{**m, "mode": a, "pool": b} for a, b in combos])
    assert (s.strategy.mode, s.strategy.pools) == ("single", ("azure-h100",))


@pytest.mark.parametrize(("bound", "passed"), [({"min": 1}, True), ({"max": 1e9}, False),
                                               ({"min": 1, "max": 1e9}, False)])
def test_an_expect_on_a_quantile_that_never_came(bound, passed):
    """Two of three replications never finish: the P50 time to train is never (null).

    A maximum on it fails; a minimum alone holds, as it holds on a time known only as at least its value (a run that
    never finishes takes longer than any minimum).
    """
    import numpy as np

    from planner.bridge import layout_planners
    from planner.loader import load_scenario
    from planner.sim.replication import run_replication
    from planner.sim.runner import summarize
    from planner.strategy import Context

    sc = load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / "ascend-ramp-2024.yaml")
    m = run_replication(sc, Context(sc, layout_planners(sc)), np.random.SeedSequence(1)).metrics
    never = {**m, "finished": False, "time_to_train_days": math.nan}
    sc = sc.model_copy(update={"expect": [Expectation(metric="time_to_train_days", quantile=0.5, **bound)]})
    (check,) = summarize(sc, 42, [m, never, never]).expectations
    assert check.value is None and check.passed is passed


def test_a_time_quantile_is_never_only_beyond_the_finish_probability() -> None:
    """Up to the share finished (k of n) a quantile is a time, or at least one; beyond it, never (the contract's rule).

    On the line from the last finish to a replication that did not finish, the quantile depends on when that one
    would have finished: it is at least the line taken to where the run stopped (the horizon). Two replications,
    one finished in 324.4 days, a horizon of 365: P10 at least 328.5 days, P50 at least 344.7, P90 never. Before,
    P10 and P50 read 324.4: below what any finish of the other gives.
    """
    import math

    from planner.stats import time_quantile, time_stat

    assert time_stat([324.4, None], 0.1, 365.0) == (pytest.approx(324.4 + 0.1 * 40.6), True)
    assert time_stat([324.4, None], 0.5, 365.0) == (pytest.approx(324.4 + 0.5 * 40.6), True)
    assert time_stat([324.4, None], 0.9, 365.0) == (math.inf, False)
    assert math.isinf(time_quantile([324.4, None], 0.1))  # without where it stopped: no time can be counted as met
    rng = np.random.default_rng(5)
    for n in range(1, 12):
        for k in range(n + 1):
            times = [float(i + 1) for i in range(k)] + [None] * (n - k)
            for q in (0.1, 0.25, 0.5, 0.75, 0.9):
                t, low = time_stat(times, q, k + 1.0)
                assert math.isfinite(t) == (q <= k / n), (n, k, q, t)
                if k == n:  # every replication finished: numpy's linear quantile
                    assert t == pytest.approx(float(np.quantile(times, q))) and not low
                if math.isfinite(t):  # never above what any later finish of the others gives; exact when not low
                    for _ in range(5):
                        done = [x if x is not None else k + 1.0 + rng.exponential(50.0) for x in times]
                        real = float(np.quantile(done, q))
                        assert t <= real + 1e-9 and (low or t == pytest.approx(real)), (n, k, q, t, real)


def test_a_growing_figures_most_has_no_top_past_the_last_finish() -> None:
    """On the line from the last finish to an unfinished replication, a growing figure's quantile has no top.

    An unfinished replication's whole-run spend is unknown, so an `expect` max fails there; so does a time's, known
    there only as at least a value. Ten replications, eight finished (UNFINISHED): P80 of time to train is at least
    a value (a maximum of 1,000 days is not known to hold), and an `expect` of cost at P80 below any budget fails as
    not finished.
    """
    import copy

    from planner.stats import lower_bounds, time_quantile

    assert math.isinf(time_quantile([100.0, math.nan], 0.1))
    assert time_quantile([100.0, math.nan], 0.1, 150.0) == pytest.approx(105.0)
    assert lower_bounds([100.0, 50.0], [True, False]) == ("mean", "p10", "p50", "p90")
    d = copy.deepcopy(UNFINISHED)
    d["expect"] = [{"metric": "time_to_train_days", "quantile": 0.8, "max": 1000},
                   {"metric": "cost_usd", "quantile": 0.8, "max": 1e15}]
    s = api.simulate(from_dict(d)).summary
    assert s.finish_probability == 0.8
    (days, cost) = s.expectations
    assert not days.passed and days.at_least and days.value < 1000 and days.to_json()["value_at_least"] is True
    assert s.bound("time_to_train_days", "p50") is False
    assert not cost.passed and cost.value is None


def test_a_shorter_horizon_never_lowers_a_time_quantile_or_passes_a_check_a_longer_one_fails():
    """Review: 20 replications, 18 finished by day 232.3 and two later (245 and 260 days).

    With a horizon of 240 the two do not finish: P90 read 232.3 days and `expect` p90 <= 233 passed, where the
    horizon of 900 gives 233.8 and fails. Now P90 is at least 233.1 (the line to where they stopped), marked as a
    lower bound everywhere it is shown, and the check fails (a lower bound meets no maximum); a minimum it meets
    passes. The finish date reads "≥ date".
    """
    import numpy as np
    import pandas as pd

    from planner.bridge import layout_planners
    from planner.loader import load_scenario
    from planner.report.headline import expectation_rows, headline_items
    from planner.sim.replication import run_replication
    from planner.sim.runner import dates_summary, summarize
    from planner.strategy import Context

    sc = load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / "ascend-ramp-2024.yaml")
    m = run_replication(sc, Context(sc, layout_planners(sc)), np.random.SeedSequence(1)).metrics
    days = [200.0 + 32.3 * i / 17 for i in range(18)] + [245.0, 260.0]
    checks = [Expectation(metric="time_to_train_days", quantile=0.9, max=233.0),
              Expectation(metric="time_to_train_days", quantile=0.9, min=233.0)]
    out = {}
    for horizon in (240, 900):
        s = sc.model_copy(update={"horizon_days": horizon, "expect": checks})
        rows = [{**m, "time_to_train_days": d if d < horizon else math.nan, "finished": d < horizon} for d in days]
        reps = pd.DataFrame({"time_to_train_days": [r["time_to_train_days"] for r in rows],
                             "training_days": [r["time_to_train_days"] - 10 for r in rows],
                             "waiting_days": [10.0] * 20, "pool": ["p"] * 20})
        out[horizon] = summarize(s, 1, rows, dates_summary(s, reps))
    short, full = out[240], out[900]
    p90 = float(np.quantile(days, 0.9))
    assert full.value("time_to_train_days", "p90") == pytest.approx(p90) and not full.bound("time_to_train_days", "p90")
    low = short.value("time_to_train_days", "p90")
    assert low == pytest.approx(232.3 + 0.1 * (240 - 232.3)) and low <= p90 and short.bound("time_to_train_days", "p90")
    assert [e.passed for e in full.expectations] == [False, True]
    assert [e.passed for e in short.expectations] == [False, True] and all(e.at_least for e in short.expectations)
    assert short.to_json()["at_least"]["time_to_train_days"] == ["p90"]
    assert short.date_text("p90").startswith("≥ 20") and not full.date_text("p90").startswith("≥")
    assert "p90 ≥ 233.1 d" in headline_items(short)[0].detail
    assert expectation_rows(short)[0]["value"].startswith("≥ ")


def test_the_ab_table_and_the_changes_mark_lower_bounds_and_claim_no_change_against_them():
    """A kept run stopped by the horizon has lower bounds: the A/B table marks them "≥" and claims no B - A."""
    from planner import whatif

    base = as_summary({"scenario": "a", "replications": 20, "finish_probability": 1.0,
                       "metrics": {"time_to_train_days": {"mean": 200, "p10": 190, "p50": 200, "p90": 230},
                                   "cost_usd": {"mean": 5.0, "p10": 4.0, "p50": 5.0, "p90": 6.0}},
                       "finish_date": {"p10": "2025-07-10", "p50": "2025-07-20", "p90": "2025-08-19"},
                       "start": "2025-01-01", "costs": {"committed_usd": 5.0, "used_usd": 4.0, "idle_usd": 1.0}})
    short = dataclasses.replace(base, unfinished=2, at_least={"time_to_train_days": ("p90",),
                                                              "cost_usd": ("mean", "p90")})
    rows = {r["figure"]: r for r in whatif.ab_rows(base, short)}
    assert rows["finish date P90"]["B"] == "≥ 2025-08-19" and rows["finish date P90"]["A"] == "2025-08-19"
    assert rows["finish date P90"]["B - A"] == whatif.LOWER_BOUND_DELTA
    assert rows["finish date P50"]["B - A"] == "+0 d"
    committed = rows["spend committed (mean)"]
    assert committed["B"].startswith("≥ ") and committed["B - A"] == whatif.LOWER_BOUND_DELTA
    idle = rows["spend idle (mean)"]  # committed - used: neither bound (app review: it read "≥")
    assert not idle["B"].startswith(("≥", "≤")) and idle["B - A"] == whatif.BOUND_DELTA
    never = dataclasses.replace(short, metrics={**short.metrics, "time_to_train_days": Stat(mean=None, p10=190.0)})
    assert {r["figure"]: r for r in whatif.ab_rows(base, never)}["Time to train (P50)"]["B"] == "never"
    change = whatif.deltas(short, base)
    assert change["committed_usd"] is None
