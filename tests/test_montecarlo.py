"""Monte Carlo: the process pool gives the same numbers for any worker count; replications.csv and dates."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from planner import api
from planner.sim.parallel import map_local
from planner.summary import ExpectationResult, Summary


def _square(context, x):
    return context * x * x


def test_map_local_keeps_order_for_any_worker_count():
    items = list(range(37))
    want = [3 * x * x for x in items]
    seen = []
    assert map_local(_square, 3, items, workers=1) == want
    assert map_local(_square, 3, items, workers=2, progress=seen.append) == want
    assert seen == list(range(1, 38))


def _failing(make_scenario):
    return make_scenario.scenario(reliability={"enabled": True, "mtbf_chip_days": 100},
                                  fleet=[{"name": "h100", "chip": "h100-sxm", "units": 256}], workload={"tokens": 3e11})


def test_same_summary_for_one_and_two_workers(make_scenario):
    sc = _failing(make_scenario)
    one = api.simulate(sc, replications=6, seed=11, workers=1)
    two = api.simulate(sc, replications=6, seed=11, workers=2)
    assert one.summary == two.summary
    pd.testing.assert_frame_equal(one.replications, two.replications)
    assert one.replications["time_to_train_days"].nunique() == 6  # every replication drew something different


def _slipping(make_scenario, slip):
    return make_scenario.scenario(
        start="2025-01-01", horizon_days=200, workload={"tokens": 5e10},
        simulation={"seed": 3, "replications": 1, "model_error": "off"},  # only the slip varies
        fleet=[{"name": "own", "chip": "h100-sxm", "units": 0, "deliveries": [{"date": "2025-01-11", "units": 64}],
                "delivery_risk": {"slip_days": slip}}])


def test_a_single_tranche_slip_shifts_the_finish_by_exactly_that_draw(make_scenario):
    res = api.simulate(_slipping(make_scenario, {"dist": "uniform", "low": 0, "high": 20}), replications=40, seed=4)
    r = res.replications
    slip = r["own.d0.slip_days"]
    assert slip.between(0, 20).all() and slip.std() > 3
    # finish = 10 days to the delivery + the slip + the same training time in every replication
    training = r["time_to_train_days"] - slip - 10
    assert np.allclose(training, training.iloc[0], atol=1e-6), training.tolist()
    assert np.allclose(r["waiting_days"], 10 + slip) and np.allclose(r["training_days"], training.iloc[0])
    # so the finish quantiles are the slip's quantiles shifted by a constant
    s = res.summary
    for q in ("p10", "p50", "p90"):
        assert getattr(s.metrics["time_to_train_days"], q) == pytest.approx(10 + training.iloc[0] + slip.quantile(
            float(q[1:]) / 100), abs=1e-6)
    assert s.start == "2025-01-01"
    d50 = dt.date(2025, 1, 1) + dt.timedelta(days=int(s.metrics["time_to_train_days"].p50))
    assert s.finish_date.p50 == d50.isoformat()
    assert s.finish_date.p10 <= s.finish_date.p50 <= s.finish_date.p90
    assert s.pools_used == {"own": 40}


def test_fixed_slip_moves_every_date_by_its_value(make_scenario):
    base = api.simulate(_slipping(make_scenario, {"dist": "fixed", "value": 0}), replications=2, seed=1)
    late = api.simulate(_slipping(make_scenario, {"dist": "fixed", "value": 30}), replications=2, seed=1)
    a, b = base.summary.metrics["time_to_train_days"], late.summary.metrics["time_to_train_days"]
    assert b.p50 - a.p50 == pytest.approx(30, abs=1e-6)


def test_replications_csv_and_progress_lines_through_the_cli(cli, make_scenario, tmp_path):
    path = make_scenario(reliability={"enabled": True, "mtbf_chip_days": 100},
                         fleet=[{"name": "h100", "chip": "h100-sxm", "units": 256}], workload={"tokens": 3e11})
    r = cli("run", path, "--out", tmp_path / "out", "--replications", "5", "--workers", "2")
    assert r.exit_code == 0, r
    reps = pd.read_csv(tmp_path / "out" / "replications.csv")
    assert list(reps["replication"]) == list(range(5))
    for col in ("seed", "spawn_key", "pool", "failures", "finish_date", "waiting_days", "training_days",
                "time_to_train_days", "cost_usd"):
        assert col in reps, col
    s = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert s["finish_date"]["p50"] and s["start"] == "2025-01-01"
    assert "5/5 done" in r.stderr and "ETA" in r.stderr  # piped: progress as lines
    assert "Finish date (p50)" in r.stdout


def test_risk_charts_have_known_numbers(make_scenario):
    from planner.report import charts
    from planner.sim.runner import tokens_fan

    start = dt.date(2025, 1, 1)
    reps = pd.DataFrame({"time_to_train_days": [10.0, 20.0, 30.0, float("nan")], "cost_usd": [1.0, 2.0, 3.0, 4.0]})
    summary = Summary(expectations=(ExpectationResult("time_to_train_days", quantile=0.9, max=25.0),))
    cdf = charts.finish_cdf_figure(reps, summary, start)
    assert list(cdf.data[0].y) == [0.25, 0.5, 0.75]  # the unfinished replication never reaches the top
    assert "50%" in cdf.layout.title.text  # 2 of 4 finish within 25 days
    sc = make_scenario.scenario()
    fan = tokens_fan(sc, [{"tokens_by_day": np.array([0.0, 1.0, 2.0])}, {"tokens_by_day": np.array([0.0, 3.0])}])
    assert list(fan["tokens_p50"]) == [0.0, 2.0, 2.5]  # the shorter run stays at 3 after it ends
    assert fan["date"].iloc[2] == "2025-01-03"
    fig = charts.fan_figure(fan, summary, start)
    assert [t.name for t in fig.data] == ["P90", "P10-P90", "median"]
    assert len(charts.cost_histogram_figure(reps).data[0].x) == 4


def test_piped_eta_is_paced_after_the_serial_start():
    """20 s of layouts and warm-up before the first replication, then 1 s per replication: 98 left take 98 s."""
    from planner.cli import piped_progress

    now, lines = [0.0], []
    tick = piped_progress("s", 0.0, lines.append, clock=lambda: now[0])
    now[0] = 20.0
    tick(1, 100)  # the first report: no pace yet
    now[0] = 22.0
    tick(2, 100)
    now[0] = 26.0
    tick(6, 100)  # 5 replications in 6 s since the first report
    now[0] = 119.0
    tick(100, 100)
    assert lines[0] == "s: 1/100 done, 20 s elapsed, ETA not known yet"
    assert lines[1] == "s: 6/100 done, 26 s elapsed, ETA 113 s"  # 94 left at 1.2 s each, not 94 x 26/6 = 407 s
    assert lines[2] == "s: 100/100 done, 119 s elapsed, ETA 0 s"


def test_pace_waits_for_two_percent_of_the_replications():
    from planner.pace import Pace

    pace = Pace()
    assert pace.eta_s(1, 1000, 3.0) is None  # replication 0, after the serial start
    assert pace.eta_s(2, 1000, 6.0) is None  # a worker's first, slow one: no pace from it alone
    assert pace.eta_s(21, 1000, 8.0) == pytest.approx(979 * 5.0 / 20)
    assert pace.eta_s(1000, 1000, 9.0) == 0.0


def test_points_eta_says_nothing_before_the_first_point():
    from planner.pace import eta_text, points_eta_s

    assert points_eta_s(0, 12, 4.0) is None  # a sweep's bar once said "ETA 0 s" here
    assert eta_text(points_eta_s(0, 12, 4.0)) == "ETA not known yet"
    assert points_eta_s(3, 12, 6.0) == pytest.approx(18.0)
    assert eta_text(points_eta_s(3, 12, 6.0)) == "ETA 18 s"
    assert points_eta_s(12, 12, 30.0) == 0.0


# ---------------------------------------------------------------- a drawn model error never beats the chips' GEMMs


@pytest.mark.parametrize("fast", [True, False])
def test_a_drawn_model_error_never_trains_past_the_chips_gemm_rate(fast):
    """A log-normal draw far in its tail (x10) runs at the chips' sustained GEMM share of the peak, no faster.

    Before, 1% of a 405B job's draws trained above 100% MFU (a factor of 4.46 on 0.39: MFU 1.75). The capped run
    is the run at exactly the factor that reaches the cap; a draw below the cap is untouched.
    """
    from planner.bridge import layout_planners
    from planner.loader import from_dict
    from planner.sim import replication as rep
    from planner.sim.engine import TrainingJob
    from planner.strategy import Context, options

    s = from_dict({"name": "wild-draw", "start": "2025-01-01", "horizon_days": 400,
                   "workload": {"model": "llama3-8b", "tokens": 2e11, "seq_len": 8192},
                   "fleet": [{"name": "a", "chip": "h100-sxm", "site": "x", "units": 64}],
                   "strategy": {"mode": "single"}, "reliability": {"enabled": True}})
    ctx = Context(s, layout_planners(s))
    (strategy,), _why = options(ctx, "single")
    supply, job, _ = np.random.SeedSequence(5).spawn(3)
    steps = rep.draw_supply(s, supply)
    plan = strategy.full_plan()
    # of the FLOPs the chips run: MFU (PaLM's count) also counts the scores the causal mask skips
    cap = ctx.gemm_share(plan.parts) / (plan.mfu * ctx.executed_share)
    assert 1.0 < cap < 10.0 and 0.85 < ctx.executed_share < 0.95  # 8B at 8K: 11% of the count is masked

    def row(factor):
        TrainingJob.FAST = fast
        try:
            return rep.outcome_row(rep.simulate(s, strategy, steps, np.random.default_rng(job), factor=factor), factor)
        finally:
            TrainingJob.FAST = True

    wild, at_cap, below = row(10.0), row(cap), row(0.9 * cap)
    assert wild["mfu"] * ctx.executed_share <= ctx.gemm_share(plan.parts) * (1 + 1e-9) < 1.0
    # (the cap is worked out per part of the plan: the same factor to the last bits of a float)
    assert wild["time_to_train_days"] == pytest.approx(at_cap["time_to_train_days"], rel=1e-12)
    assert wild["mfu"] == pytest.approx(at_cap["mfu"], rel=1e-12)
    assert below["time_to_train_days"] > at_cap["time_to_train_days"]
