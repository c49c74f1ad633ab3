"""The time simulation against answers known in advance: closed forms, invariants and the Llama 3 run.

Every scenario here is small (llama3-8b / llama3-70b, short runs) except the one Llama 3 405B check,
which still simulates in about a second.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from planner import api
from planner.bridge import layout_planners
from planner.loader import from_dict
from planner.perf import reliability as rel
from planner.results import EVENT_COLUMNS, EVENT_KINDS, LAYOUT_COLUMNS, Event
from planner.sim.replication import draw_supply, run_replication, simulate
from planner.sim.supply import supply_steps
from planner.strategy import Context, Single
from planner.units import HOURS_PER_DAY

START = dt.date(2025, 1, 1)
FAST = settings(max_examples=12, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def _day(offset: float) -> str:
    return (START + dt.timedelta(days=offset)).isoformat()


def scenario(pool: dict, *, model: str = "llama3-8b", tokens: float = 1e11, reliability=None,
             horizon_days: float = 365, workload_extra=None, **extra):
    data = {
        "name": "t",
        "start": START.isoformat(),
        "horizon_days": horizon_days,
        "workload": {"model": model, "tokens": tokens, "seq_len": 8192, **(workload_extra or {})},
        "fleet": [{"name": "p", **pool}],
        "reliability": reliability if reliability is not None else {"enabled": False},
        **extra,
    }
    return from_dict(data, "t")


def metrics(sc, seed: int = 0) -> dict:
    """One replication's metrics (time_to_train_days, goodput, cost_usd, ...)."""
    return run_replication(sc, Context(sc, layout_planners(sc)), np.random.SeedSequence(seed)).metrics


def ttt(sc) -> float:
    """Days to train of one (deterministic) replication; inf when it does not finish."""
    m = metrics(sc)
    return m["time_to_train_days"] if m["finished"] else math.inf


# -- 1. fixed fleet, no failures: the simulation reproduces the steady-state estimate --------------

@pytest.mark.parametrize("model,chip,units,tokens", [
    ("llama3-8b", "h100-sxm", 64, 2e11),
    ("llama3-8b", "a100-80gb", 128, 1e11),
    ("llama3-70b", "a100-80gb", 512, 2e11),
    ("llama3-70b", "h100-sxm", 256, 1e11),
])
def test_fixed_fleet_without_failures_matches_estimate(model, chip, units, tokens):
    sc = scenario({"chip": chip, "units": units}, model=model, tokens=tokens)
    expected = api.estimate(sc)["pools"][0]["time_to_train_days"]
    res = api.simulate(sc, replications=1, seed=3)  # one replication: no draw of the model's error
    m = res.summary.metrics
    assert m["time_to_train_days"].p50 == pytest.approx(expected, rel=0.01)
    assert res.summary.finish_probability == 1
    assert m["goodput"].p50 == pytest.approx(1.0, abs=1e-12)
    assert m["goodput"].mean == pytest.approx(1.0, abs=1e-12)
    # no failures, restarts or checkpoints are simulated when reliability is off
    assert not set(res.events["event"]) & {"failure", "restart", "checkpoint", "maintenance", "repair"}


# -- 2. monotonicity (reliability off: every run is deterministic) --------------------------------

@FAST
@given(a=st.integers(8, 512), extra=st.integers(1, 512), chip=st.sampled_from(["h100-sxm", "a100-80gb"]),
       tokens=st.sampled_from([2e10, 5e10, 1.5e11]))
def test_more_chips_never_finish_later(a, extra, chip, tokens):
    b = a + extra
    t_a = ttt(scenario({"chip": chip, "units": a}, tokens=tokens))
    t_b = ttt(scenario({"chip": chip, "units": b}, tokens=tokens))
    assert t_b <= t_a * (1 + 1e-9), (a, b, t_a, t_b)


# The explicit example: 64 chips on day 0 finish 1.9723e11 tokens at 96.5 h; a second tranche of 64
# delivered on day 5 is never used, delivered on day 4 (96 h) it triggers a re-plan whose 0.5 h
# overhead outweighs the half hour of work left.
@FAST
@example(units0=64, tranches=[64], gaps=[4, 1, 1], commissioning=0, shift=1, tokens=1.9723e11)
@given(units0=st.sampled_from([0, 8, 32, 64]),
       tranches=st.lists(st.integers(8, 256), min_size=1, max_size=3),
       gaps=st.lists(st.integers(1, 20), min_size=3, max_size=3),
       commissioning=st.integers(0, 10), shift=st.integers(1, 15),
       tokens=st.floats(2e10, 3e11))
def test_earlier_deliveries_never_finish_later(units0, tranches, gaps, commissioning, shift, tokens):
    def pool(k: int) -> dict:
        day, cum, deliveries = shift, units0, []  # base dates start at `shift` so shifted ones stay >= start
        for units, gap in zip(tranches, gaps, strict=False):  # gaps may outnumber tranches
            day += gap
            cum += units
            deliveries.append({"date": _day(day - k), "units": cum})
        return {"chip": "h100-sxm", "units": units0, "deliveries": deliveries, "commissioning_days": commissioning}

    late = ttt(scenario(pool(0), tokens=tokens))
    early = ttt(scenario(pool(shift), tokens=tokens))
    assert early <= late * (1 + 1e-9), (late * HOURS_PER_DAY, early * HOURS_PER_DAY)


# The explicit example finishes on the 16 owned chips before the rental starts on day 2, yet 80 rented chips
# instead of 8 make it slower: the re-planner keeps only the best shapes of the pool's full-size search, and
# the best 16-chip shape is not among those of a 96-chip pool.
@FAST
@example(units0=16, cloud=8, extra=72, start=2, length=3, tokens=2e10)
@given(units0=st.sampled_from([0, 16, 64]), cloud=st.integers(8, 256), extra=st.integers(1, 256),
       start=st.integers(0, 10), length=st.integers(3, 60), tokens=st.floats(2e10, 3e11))
def test_more_cloud_units_never_finish_later(units0, cloud, extra, start, length, tokens):
    def pool(c: int) -> dict:
        return {"chip": "h100-sxm", "units": units0,
                "cloud": {"units": c, "from": _day(start), "until": _day(start + length),
                          "price_per_chip_hour_usd": 2.0}}

    few = ttt(scenario(pool(cloud), tokens=tokens))
    more = ttt(scenario(pool(cloud + extra), tokens=tokens))
    assert more <= few * (1 + 1e-9), (few * HOURS_PER_DAY, more * HOURS_PER_DAY)


# -- 3. failures: a higher failure rate never raises goodput ---------------------------------------

def _failing(mtbf_chip_days: float, **rel_extra):
    return scenario({"chip": "h100-sxm", "units": 1024}, tokens=2e12,
                    reliability={"enabled": True, "mtbf_chip_days": mtbf_chip_days, **rel_extra})


@pytest.mark.parametrize("rel_extra", [{}, {"maintenance_every_days": 1000}], ids=["default-maint", "no-maint"])
@pytest.mark.parametrize("seed", [0, 1, 7])
def test_higher_failure_rate_never_raises_mean_goodput(seed, rel_extra):
    low = api.simulate(_failing(2000, **rel_extra), replications=4, seed=seed).summary.metrics["goodput"]
    high = api.simulate(_failing(500, **rel_extra), replications=4, seed=seed).summary.metrics["goodput"]
    assert high.mean <= low.mean + 1e-9, (low, high)
    for g in (low, high):
        assert 0 < g.p10 <= g.p90 < 1


def test_goodput_strictly_inside_unit_interval_with_failures():
    res = api.simulate(_failing(500), replications=3, seed=5)
    assert (res.replications["failures"] > 0).all()
    g = res.replications["goodput"]
    assert ((g > 0) & (g < 1)).all(), g.tolist()


# -- 4. supply: delivered never exceeds ordered; no risk follows the plan exactly ------------------

deliveries_st = st.lists(st.tuples(st.integers(1, 60), st.integers(0, 5000)), min_size=1, max_size=5)


def _plan(units0: int, steps) -> list[dict]:
    day, cum, out = 0, units0, []
    for gap, units in steps:
        day += gap
        cum += units
        out.append({"date": _day(day), "units": cum})
    return out


@FAST
@given(units0=st.integers(0, 2000), steps=deliveries_st, headroom=st.integers(0, 3000),
       slip_high=st.integers(0, 120), short_high=st.floats(0, 1), seed=st.integers(0, 2**32 - 1))
def test_delivered_never_exceeds_ordered(units0, steps, headroom, slip_high, short_high, seed):
    deliveries = _plan(units0, steps)
    ordered = deliveries[-1]["units"] + headroom
    pool = {"chip": "h100-sxm", "units": units0, "ordered_units": ordered, "deliveries": deliveries,
            "commissioning_days": 7,
            "delivery_risk": {"slip_days": {"dist": "triangular", "low": 0, "mode": slip_high / 2, "high": slip_high},
                              "shortfall_fraction": {"dist": "uniform", "low": 0, "high": short_high}}}
    if units0 + sum(u for _, u in steps) == 0:
        pool["cloud"] = {"units": 8, "from": _day(400), "until": _day(401)}  # a pool needs some chips
    sc = scenario(pool, tokens=1e16, horizon_days=360)  # never finishes: the schedule covers every delivery
    s = supply_steps(sc, sc.fleet[0], np.random.default_rng(seed))
    assert sum(x.delta_units for x in s if x.kind == "delivery") <= ordered
    if pool.get("cloud"):
        return  # nothing owned to trace through the schedule
    res = api.simulate(sc, replications=1, seed=seed)
    delivered = res.schedule.loc[res.schedule["pool"] == "p", "units_delivered"].to_numpy()
    assert delivered.max() <= ordered
    assert (np.diff(delivered) >= 0).all(), delivered


@FAST
@given(units0=st.integers(0, 2000), steps=deliveries_st, reserved=st.sampled_from([0.0, 0.2, 0.5]),
       commissioning=st.integers(0, 30), seed=st.integers(0, 2**32 - 1))
def test_without_risk_supply_follows_the_plan(units0, steps, reserved, commissioning, seed):
    deliveries = _plan(units0, steps)
    if deliveries[-1]["units"] == 0:
        deliveries[-1]["units"] = 8
    sc = scenario({"chip": "h100-sxm", "units": units0, "deliveries": deliveries,
                   "commissioning_days": commissioning, "reserved_fraction": reserved})
    rng = np.random.default_rng(seed)
    before = rng.bit_generator.state
    s = supply_steps(sc, sc.fleet[0], rng)
    assert rng.bit_generator.state == before  # the plan is followed without drawing anything
    for d in [{"date": START.isoformat(), "units": units0}] + deliveries:
        h = (dt.date.fromisoformat(d["date"]) - START).days * HOURS_PER_DAY
        got = sum(x.delta_units for x in s if x.kind == "delivery" and x.time_h <= h)
        assert got == d["units"], (d, got)
        usable = sum(x.delta_units for x in s if x.kind == "commissioning" and x.time_h <= h + commissioning * 24)
        assert usable == math.floor(d["units"] * (1 - reserved) + 1e-9), (d, usable)


# -- 5. tokens trained never decrease and end at the workload --------------------------------------

def _check_tokens(sc, seed: int) -> None:
    res = api.simulate(sc, replications=1, seed=seed)
    tok = res.schedule.loc[res.schedule["pool"] == "p", "tokens_trained"].to_numpy()
    drops = np.nonzero(np.diff(tok) < 0)[0]
    assert drops.size == 0, f"tokens_trained drops after day(s) {drops.tolist()}: " + ", ".join(
        f"{tok[i]:.4g} -> {tok[i + 1]:.4g}" for i in drops[:3])
    if res.summary.finish_probability == 1:
        assert tok[-1] == pytest.approx(sc.workload.tokens, rel=1e-9)


@FAST
@given(units0=st.sampled_from([0, 16, 64]), steps=st.lists(st.tuples(st.integers(1, 10), st.integers(8, 256)),
                                                          min_size=1, max_size=3),
       tokens=st.floats(2e10, 5e11))
def test_tokens_trained_never_decrease_without_failures(units0, steps, tokens):
    sc = scenario({"chip": "h100-sxm", "units": units0, "deliveries": _plan(units0, steps),
                   "commissioning_days": 2}, tokens=tokens)
    _check_tokens(sc, 0)


# Failures with hourly checkpoints every 30 h and half-day repairs: the schedule's value at a day's end can
# include training not yet in a checkpoint, which a later failure then takes back.
@settings(max_examples=10, deadline=None, derandomize=True, database=None)
@example(seed=0)
@given(seed=st.integers(0, 2**32 - 1))
def test_tokens_trained_never_decrease_with_failures(seed):
    sc = scenario({"chip": "h100-sxm", "units": 512}, tokens=3e12, horizon_days=60,
                  reliability={"enabled": True, "mtbf_chip_days": 300, "checkpoint_interval_hours": 30,
                               "repair_days": 0.5})
    _check_tokens(sc, seed)


@settings(max_examples=6, deadline=None, derandomize=True, database=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_tokens_trained_never_decrease_with_catalog_reliability(seed):
    sc = scenario({"chip": "h100-sxm", "units": 1024}, tokens=2e12, reliability={"enabled": True})
    _check_tokens(sc, seed)


# -- 6. Young/Daly and the job MTBF ------------------------------------------------------------------

# Daly's correction terms shift tau by about -(2/3) sqrt(d / 2M) relative to Young: under 2% needs d/M < ~2e-3.
@pytest.mark.parametrize("d,m", [(1e-3, 10.0), (0.01, 100.0), (1e-3, 3.09), (1 / 60, 24.0), (0.1, 1000.0)])
def test_young_daly_small_write_time(d, m):
    assert d / m <= 1e-3
    assert rel.young_daly_interval_hours(d, m) == pytest.approx(math.sqrt(2 * d * m), rel=0.02)


@pytest.mark.parametrize("d,m", [(2.0, 1.0), (5.0, 1.0), (1.0, 0.1), (0.2, 0.1)])
def test_young_daly_long_write_time(d, m):
    assert rel.young_daly_interval_hours(d, m) == m


def test_job_mtbf_llama3():
    assert rel.job_mtbf_hours(2111, 16384) == pytest.approx(3.09, abs=0.01)
    assert rel.job_mtbf_hours(2111, 1) == pytest.approx(2111 * 24)


def _renewal_goodput(mtbf_h: float, write_h: float, tau_h: float, restart_h: float, cycles: int, seed: int) -> float:
    """The interruption rules played directly (planner/sim/rules.py), no engine: kept training over wall time.

    A cycle of tau + write is kept only when no failure comes before its end; a failure loses the cycle so far
    and costs a restart, during which nothing fails.
    """
    rng = np.random.default_rng(seed)
    c, wall, kept = tau_h + write_h, 0.0, 0
    while kept < cycles:
        gaps = rng.exponential(mtbf_h, size=4 * cycles)
        for gap in gaps.tolist():
            if gap >= c:
                wall += c
                kept += 1
                if kept == cycles:
                    break
            else:
                wall += gap + restart_h
    return cycles * tau_h / wall


@pytest.mark.parametrize("m,w,tau,r", [(10.0, 0.05, 1.0, 0.1), (2.0, 0.01, 0.2, 1.0), (0.5, 0.002, 0.05, 2.0),
                                       (1.0, 0.3, 0.8, 0.25)])
def test_expected_goodput_is_the_mean_of_the_rules(m, w, tau, r):
    """The closed form against the rules played 20,000 cycles, also where a restart is several MTBFs long."""
    played = _renewal_goodput(m, w, tau, r, 20_000, seed=7)
    assert rel.expected_goodput(m, w, tau, r) == pytest.approx(played, rel=0.02)


def test_expected_goodput_expands_to_dalys_first_order():
    """For c/M and R/M small the closed form is Daly's tau/c (1 - (R + c/2)/M), to second order."""
    m, w, tau, r = 100.0, 0.01, 0.5, 0.1
    first = tau / (tau + w) * (1 - (r + (tau + w) / 2) / m)
    assert rel.expected_goodput(m, w, tau, r) == pytest.approx(first, abs=((tau + w + r) / m) ** 2)
    assert rel.expected_goodput(math.inf, w, tau, r) == 1.0
    assert rel.expected_goodput(1e-6, 1.0, 1.0, 0.0) == 0.0  # e^(c/M) past a float: no cycle is ever kept


def test_the_engine_keeps_what_the_closed_form_expects_where_restarts_are_long():
    """A job MTBF of 1.9 h against 30-min restarts: the engine's goodput is the closed form's within 2%.

    Daly's first order says 0.74 there, and 0 once the restart reaches the MTBF: plans sized on it left chips out
    that the engine would have trained on.
    """
    sc = scenario({"chip": "h100-sxm", "units": 64, "mtbf_chip_days": 5, "restart_base_minutes": 30,
                   "restart_minutes_per_1000_chips": 0, "manual_intervention_share": 0}, tokens=3e11,
                  horizon_days=3000, reliability={"enabled": True, "repair_days": 0, "maintenance_every_days": None})
    res = api.simulate(sc, replications=8, seed=1)
    units = int(res.layouts["units"].iloc[0])
    terms = Context(sc, layout_planners(sc)).failure_terms({"p": units})
    engine = res.summary.metrics["goodput"].mean / rel.productive_fraction()
    assert engine == pytest.approx(rel.expected_goodput(*terms), rel=0.02)
    m, w, tau, r = terms
    assert tau / (tau + w) * (1 - (r + (tau + w) / 2) / m) < 0.95 * engine  # the first order is far off here


def test_a_job_shorter_than_its_checkpoint_interval_is_sized_on_its_one_cycle():
    """A checkpoint interval of ten years on a job of about two days: its final save ends its only cycle.

    The job's goodput is then that of one cycle as long as its training, T / ((M + R)(e^(T/M) - 1)), not that of a
    ten-year cycle (about 0 at a 13-day job MTBF): sized on the latter, the job took 3 of 64 chips and 51 days.
    """
    sc = scenario({"chip": "h100-sxm", "units": 64}, tokens=1e11, horizon_days=60,
                  reliability={"enabled": True, "checkpoint_interval_hours": 87_600})
    ctx = Context(sc, layout_planners(sc))
    units = {"p": 62}
    m, _w, tau, r = ctx.failure_terms(units)
    assert tau == 87_600
    assert ctx.goodput_at(units, 48.0) == pytest.approx(48.0 / ((m + r) * math.expm1(48.0 / m)))
    assert ctx.goodput_at(units, 48.0) > 0.9 > 0.01 > ctx.goodput_at(units)
    res = api.simulate(sc, replications=4, seed=3)
    assert res.layouts["units"].iloc[0] >= 56
    assert res.summary.metrics["time_to_train_days"].p50 < 10


# -- 7. the Llama 3 405B pre-training run --------------------------------------------------------------

def test_llama3_405b_interruptions_in_54_days():
    """Llama 3 (Dubey et al. 2024, sec. 3.3.4): 466 job interruptions in 54 days on 16,384 H100 (419 unexpected)."""
    sc = scenario({"chip": "h100-sxm", "units": 16384}, model="llama3-405b", tokens=15e12,
                  reliability={"enabled": True}, simulation={"seed": 42},
                  workload_extra={"global_batch_tokens": 16e6})
    res = api.simulate(sc, replications=1)
    m = res.summary.metrics
    assert m["time_to_train_days"].p50 >= 54
    ev = res.events[res.events["time_days"] < 54]
    failures = int((ev["event"] == "failure").sum())
    maintenance = int((ev["event"] == "maintenance").sum())
    goodput = m["goodput"].p50
    print(f"\nLlama 3 405B, 54 days on 16,384 H100: simulated {failures + maintenance} interruptions "
          f"({failures} failures + {maintenance} maintenance) vs published 466 (419 + 47); goodput {goodput:.3f}")
    assert 350 <= failures + maintenance <= 600
    assert goodput > 0.88


# -- 8. determinism --------------------------------------------------------------------------------------

def test_same_seed_same_summary():
    sc = _failing(500)
    a = api.simulate(sc, replications=3, seed=11)
    b = api.simulate(sc, replications=3, seed=11)
    assert a.summary == b.summary
    assert a.events.equals(b.events)
    assert a.schedule.equals(b.schedule)
    c = api.simulate(sc, replications=3, seed=12)
    assert c.summary.metrics != a.summary.metrics


def test_different_seeds_give_different_spread_under_slip():
    sc = scenario({"chip": "h100-sxm", "units": 0,
                   "deliveries": [{"date": _day(10), "units": 64}, {"date": _day(30), "units": 256}],
                   "delivery_risk": {"slip_days": {"dist": "triangular", "low": 0, "mode": 20, "high": 60}}},
                  tokens=5e11)
    a = api.simulate(sc, replications=20, seed=1).summary.metrics["time_to_train_days"]
    b = api.simulate(sc, replications=20, seed=2).summary.metrics["time_to_train_days"]
    assert a.p10 < a.p90 and b.p10 < b.p90
    assert (a.p10, a.p90) != (b.p10, b.p90)
    assert api.simulate(sc, replications=20, seed=1).summary.metrics["time_to_train_days"] == a


# -- 10. cost: an all-cloud pool on demand pays units x price x hours; a reservation its whole window ----------

@pytest.mark.parametrize("rel_on", [False, True], ids=["reliability-off", "reliability-on"])
@pytest.mark.parametrize("units,price", [(64, 2.5), (512, 12.29)])
def test_all_cloud_cost_is_units_times_price_times_hours(units, price, rel_on):
    cloud = {"units": units, "from": START.isoformat(), "until": _day(300), "price_per_chip_hour_usd": price}
    sc = scenario({"chip": "h100-sxm", "cloud": {**cloud, "billing": "on_demand"}},
                  tokens=2e11, reliability={"enabled": rel_on})
    m = api.simulate(sc, replications=1, seed=4).summary.metrics
    hours = m["time_to_train_days"].p50 * HOURS_PER_DAY
    assert hours < 300 * HOURS_PER_DAY
    # on demand, the job pays for the chip-hours it holds, at most the whole allotment while it runs
    assert m["cost_usd"].p50 == pytest.approx(m["chip_hours"].p50 * price, rel=1e-6)
    assert 0.9 * units * price * hours < m["cost_usd"].p50 <= units * price * hours * 1.0001
    reserved = scenario({"chip": "h100-sxm", "cloud": cloud}, tokens=2e11, reliability={"enabled": rel_on})
    s = api.simulate(reserved, replications=1, seed=4).summary
    assert s.metrics["cost_usd"].p50 == pytest.approx(units * price * 300 * HOURS_PER_DAY, rel=1e-9)
    assert s.costs.used_usd == pytest.approx(m["cost_usd"].p50, rel=1e-9)


# -- 11. the run's records: start date, typed events, layout columns ----------------------------------

def test_run_scenario_is_an_alias_of_simulate():
    assert api.run_scenario is api.simulate


def test_result_carries_start_events_and_layouts():
    sc = scenario({"chip": "h100-sxm", "units": 64,
                   "deliveries": [{"date": _day(2), "units": 128}], "commissioning_days": 1},
                  tokens=2e11, start=_day(10))
    res = api.simulate(sc, replications=1, seed=0)
    assert res.start == sc.start == START + dt.timedelta(days=10)
    assert isinstance(res.start, dt.date)
    assert list(res.events.columns) == EVENT_COLUMNS
    assert set(res.events["event"]) <= set(EVENT_KINDS)
    assert {"delivery", "start", "finish"} <= set(res.events["event"])
    assert res.events["time_days"].is_monotonic_increasing
    # the event dates count from the run's start date
    first = res.events.iloc[0]
    assert first["date"] == (sc.start + dt.timedelta(days=float(first["time_days"]))).isoformat()
    assert list(res.layouts.columns) == LAYOUT_COLUMNS
    assert {"vp", "zero"} <= set(res.layouts.columns)
    assert res.layouts[["vp", "zero"]].notna().all().all()
    assert (res.layouts["tp"] * res.layouts["pp"] * res.layouts["cp"] * res.layouts["dp"] == res.layouts["units"]).all()


def test_pool_events_are_typed_records_in_time_order():
    sc = _failing(500)
    ctx = Context(sc, layout_planners(sc))
    steps = draw_supply(sc, np.random.SeedSequence(1))
    run = simulate(sc, Single(ctx, ("p",)), steps, np.random.default_rng(1))
    assert run.events and all(isinstance(e, Event) for e in run.events)
    assert {e.kind for e in run.events} <= set(EVENT_KINDS)
    assert "failure" in {e.kind for e in run.events}
    times = [e.time_h for e in run.events]
    assert times == sorted(times)
    assert all(isinstance(e.units, int) for e in run.events)


@settings(max_examples=6, deadline=None, derandomize=True, database=None)
@given(chip=st.sampled_from(["h100-sxm", "a100-80gb", "ascend-910b", "mi300x"]),
       units=st.integers(16, 512), model=st.sampled_from(["llama3-8b", "llama2-13b"]),
       reserved=st.sampled_from([0.0, 0.1, 0.25]))
def test_run_equals_estimate_on_random_fixed_fleets(chip, units, model, reserved):
    """One rule for both: a fixed fleet without failures trains at the estimate's pace (issue: hardening 6)."""
    sc = scenario({"chip": chip, "units": units, "reserved_fraction": reserved}, model=model, tokens=5e10)
    expected = api.estimate(sc)["combined"]["time_to_train_days"]
    got = api.simulate(sc, replications=1, seed=2).summary.metrics["time_to_train_days"].p50
    assert got == pytest.approx(expected, rel=0.01)


# -- failures: the count matches the exposure (a Poisson process on training time) -------------------

@pytest.mark.parametrize("rel_extra", [{"maintenance_every_days": 1000}, {"maintenance_every_days": 0.5}],
                         ids=["no-maint", "maint-twice-a-day"])
def test_failure_count_matches_training_exposure(rel_extra):
    """Failures come at the job's rate during training, checkpoint writes and restarts, never twice over one stretch.

    Over ~20 replications of about 60 failures each the total count is Poisson: its mean is the hours the clock
    runs (all but the maintenance stops: their write and pause) over the job MTBF; 4 standard deviations is the
    bound (a stretch counted twice adds ~15%; failures that never strike a restart, as before 2026-12, 18% fewer).
    """
    sc = _failing(100, restart_base_minutes=30, repair_days=0, manual_intervention_share=0, **rel_extra)
    ctx = Context(sc, layout_planners(sc))
    seen = expected = 0.0
    for q in np.random.SeedSequence(3).spawn(20):
        supply_seed, job_seed, _ = q.spawn(3)
        run = simulate(sc, Single(ctx, ("p",)), draw_supply(sc, supply_seed), np.random.default_rng(job_seed))
        job, st = run.job, run.job.stats
        cyc = job._cycle()
        pause_h = sc.reliability.maintenance_minutes / 60.0
        exposure_h = st.finish_h - st.maintenance * (pause_h + cyc.delta)
        seen += st.failures
        expected += exposure_h / cyc.mtbf_h
    assert st.replans == 0 and seen > 500
    assert abs(seen - expected) < 4 * math.sqrt(expected), (seen, expected)


def test_the_event_budget_stops_a_replication_as_unfinished(monkeypatch):
    """Behind the up-front work estimate, the engine stops a replication after EVENT_BUDGET interruptions."""
    import planner.sim.engine as engine

    monkeypatch.setattr(engine, "EVENT_BUDGET", 10)
    sc = _failing(100, restart_base_minutes=30, repair_days=0)
    ctx = Context(sc, layout_planners(sc))
    out = run_replication(sc, ctx, np.random.SeedSequence(1), tables=True)
    assert not out.metrics["finished"] and 0 < out.metrics["failures"] <= 10
    ends = out.events[out.events["event"] == "give_up"]
    assert len(ends) == 1 and "event budget" in ends["detail"].iloc[0]


@pytest.mark.parametrize(("delivered", "ready_day"), [("2024-11-01", 0.0), ("2024-12-25", 14.0), ("2025-01-10", 30.0)])
def test_chips_delivered_before_the_start_are_commissioned_from_their_delivery(delivered, ready_day):
    """21 commissioning days count from the delivery, also one before the start (it was from day 0: day 21)."""
    s = from_dict({"name": "early", "start": "2025-01-01", "horizon_days": 100,
                   "workload": {"model": "llama3-8b", "tokens": 1e11, "seq_len": 8192},
                   "fleet": [{"name": "a", "chip": "h100-sxm", "units": 0, "commissioning_days": 21,
                              "deliveries": [{"date": delivered, "units": 64}]}]})
    steps = supply_steps(s, s.fleet[0], np.random.default_rng(0))
    (ready,) = [x for x in steps if x.kind == "commissioning"]
    assert ready.time_h == pytest.approx(ready_day * HOURS_PER_DAY)


def test_the_reserved_share_is_held_back_alike_from_owned_and_rented_chips():
    """1,024 owned and 1,024 rented chips with a quarter reserved: 1,536 in service, as many as plans are sized to.

    Before, the supply held back owned chips only (1,792 in service) while plans were capped at 1,536.
    """
    s = from_dict({"name": "reserve", "start": "2025-01-01", "horizon_days": 300,
                   "workload": {"model": "llama3-8b", "tokens": 1e12, "seq_len": 8192},
                   "fleet": [{"name": "c", "chip": "h100-sxm", "units": 1024, "reserved_fraction": 0.25,
                              "cloud": {"units": 1024, "from": "2025-01-01", "until": "2025-12-01",
                                        "price_per_chip_hour_usd": 2.0}}]})
    steps = supply_steps(s, s.fleet[0], np.random.default_rng(0))
    in_service = sum(x.delta_units for x in steps if x.kind != "delivery" and x.time_h == 0)
    assert in_service == s.fleet[0].usable_units == 1536


def test_the_schedule_ends_on_the_day_the_run_ends():
    """The seed scenario's schedule has no row for a day after the finish (it had one, repeating the end state)."""
    from pathlib import Path

    from planner.loader import load_scenario
    from planner.sim.runner import finish_date

    s = load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / "ascend-ramp-2024.yaml")
    out = run_replication(s, Context(s, layout_planners(s)), np.random.SeedSequence(1), tables=True)
    assert out.metrics["finished"]
    assert out.schedule["date"].max() == finish_date(s.start, out.metrics["time_to_train_days"])
