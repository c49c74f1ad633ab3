"""Findings of the sixth review of the engine (single jobs on several pools), each where it was found."""

from __future__ import annotations

from planner import api
from planner.loader import from_dict


def _early(units_early: int, **strategy) -> dict:
    """2,048 H100s on 2025-01-11, ``units_early`` of them (cumulative) five days before."""
    return {"name": "d1", "start": "2025-01-01", "horizon_days": 400,
            "workload": {"model": "llama3-70b", "tokens": 10.0e12, "seq_len": 8192, "global_batch_tokens": 16777216},
            "fleet": [{"name": "own", "chip": "h100-sxm", "site": "dc", "units": 1024, "ordered_units": 2048,
                       "deliveries": [{"date": "2025-01-06", "units": units_early},
                                      {"date": "2025-01-11", "units": 2048}]}],
            "reliability": {"enabled": False}, "simulation": {"seed": 1, "replications": 1},
            **({"strategy": {"mode": "auto", **strategy}} if strategy else {})}


def _days(doc: dict) -> float:
    return api.simulate(from_dict(doc)).summary.metrics["time_to_train_days"].p50


def test_part_of_an_order_delivered_early_never_finishes_later():
    """832 chips five days early finished 3.5 days later (69.5 days against 66.0 with none early).

    The job re-planned onto them on day 5; on day 10 the rest of the order offered a plan 9.98% faster, under the
    10% `replan_min_gain` the default then was, and the job trained on 1,800 of 2,048 chips for 59 days.
    """
    none_early = _days(_early(1024))
    for units in (1792, 1856, 1900, 1950):
        assert _days(_early(units)) <= none_early + 1e-6, units


def test_the_least_gain_still_spares_re_plans_while_chips_come_daily():
    """16 H100s a day for 120 days, re-plans of 12 hours: with no least gain the job re-planned every day or two.

    Found by the review of the change that set the default to 0 (30 re-plans, 4.3 days later than at 10%): the
    default stays 10% while chips come soon, and the threshold gives way only when no more come before the job
    would finish, or when the next come after the faster plan has made up for its re-plan.
    """
    import datetime as dt

    start = dt.date(2025, 1, 1)
    doc = {"name": "inc", "start": "2025-01-01", "horizon_days": 400,
           "workload": {"model": "llama3-70b", "tokens": 6e12, "seq_len": 8192},
           "fleet": [{"name": "h", "chip": "h100-sxm", "site": "s", "units": 512, "commissioning_days": 0,
                      "deliveries": [{"date": (start + dt.timedelta(days=d)).isoformat(), "units": 512 + 16 * d}
                                     for d in range(1, 121)]}],
           "strategy": {"mode": "single", "replan_overhead_hours": 12},
           "reliability": {"enabled": False}, "simulation": {"seed": 1, "replications": 1}}
    runs = {None: api.simulate(from_dict(doc)),  # (the default)
            0.0: api.simulate(from_dict({**doc, "strategy": {**doc["strategy"], "replan_min_gain": 0.0}}))}
    replans = {g: int((r.events["event"] == "re-plan").sum()) for g, r in runs.items()}
    days = {g: r.summary.metrics["time_to_train_days"].p50 for g, r in runs.items()}
    assert replans[None] <= 12 < 25 <= replans[0.0], replans
    assert days[None] < days[0.0] - 3, days


def test_chips_in_service_at_a_dated_level_are_planned_on_whole():
    """1,152 H100s in service, the pool growing to 4,096 after the job ends: `limits` was empty while 4 chips sat idle.

    The plan was made for the grid count 1,148 (4,096 over powers of 1.005); that was said in `limits`, and now the
    counts the pool's dated steps bring are grid counts too: the job plans on all 1,152, as with nothing to come.
    """
    doc = {"name": "u", "start": "2025-01-01", "horizon_days": 400,
           "workload": {"model": "llama3-70b", "tokens": 1.0e12, "seq_len": 8192, "global_batch_tokens": 16777216},
           "fleet": [{"name": "own", "chip": "h100-sxm", "site": "dc", "units": 1152, "ordered_units": 4096,
                      "deliveries": [{"date": "2025-12-01", "units": 4096}]}],
           "reliability": {"enabled": False}, "simulation": {"seed": 1, "replications": 1}}
    run = api.simulate(from_dict(doc))
    assert not run.summary.limits
    # the same pool with nothing to come plans on all 1,152 and has nothing to say
    alone = api.simulate(from_dict({**doc, "fleet": [{"name": "own", "chip": "h100-sxm", "site": "dc",
                                                      "units": 1152}]}))
    assert not alone.summary.limits
    same = ("time_to_train_days", "chip_hours")
    assert [run.summary.metrics[m].p50 for m in same] == [alone.summary.metrics[m].p50 for m in same]


def test_a_wait_with_no_chip_after_the_start_is_said():
    """A rental that ends 20 days before the owned chips come: 63.3 training days, 43 of them training.

    `training_days` runs from the first start, as documented; `limits` said only the layout.
    """
    doc = {"name": "s3", "start": "2025-01-01", "horizon_days": 300,
           "workload": {"model": "llama3-70b", "tokens": 6.0e12, "seq_len": 8192, "global_batch_tokens": 16777216},
           "fleet": [{"name": "own", "chip": "ascend-910b", "site": "cn", "units": 0, "ordered_units": 4096,
                      "deliveries": [{"date": "2025-02-10", "units": 4096}], "commissioning_days": 10,
                      "reserved_fraction": 0.2},
                     {"name": "rent", "chip": "h100-sxm", "site": "az",
                      "cloud": {"units": 2048, "from": "2025-01-01", "until": "2025-01-31",
                                "price_per_chip_hour_usd": 8.6}}],
           "links": [{"sites": ["cn", "az"], "gbps": 100, "latency_ms": 40}],
           "reliability": {"enabled": False}, "simulation": {"seed": 1, "replications": 1}}
    run = api.simulate(from_dict(doc))
    (said,) = [x for x in run.summary.limits if x.startswith("wait:")]
    assert "held no chip for 20.0 days" in said and "from 2025-01-31 to 2025-02-20" in said
    # a run that never stops has nothing of the kind to say
    rent = {**doc["fleet"][1], "cloud": {**doc["fleet"][1]["cloud"], "until": "2025-12-31"}}
    steady = api.simulate(from_dict({**doc, "fleet": [rent], "links": []}))
    assert steady.summary.finish_probability == 1.0
    assert not any(x.startswith("wait:") for x in steady.summary.limits)


def test_a_wait_says_what_held_the_job():
    """A wait for `strategy.min_units_to_start`, not for chips: the sentence said "too few ... for any layout"."""
    doc = {"name": "w", "start": "2025-01-01", "horizon_days": 200,
           "workload": {"model": "llama3-8b", "tokens": 2.0e12, "seq_len": 4096},
           "fleet": [{"name": "rent", "chip": "h100-sxm", "site": "s",
                      "cloud": {"units": 64, "from": "2025-01-01", "until": "2025-01-21",
                                "price_per_chip_hour_usd": 3.0}},
                     {"name": "own", "chip": "h100-sxm", "site": "s", "units": 32, "commissioning_days": 0,
                      "deliveries": [{"date": "2025-02-10", "units": 64}]}],
           "strategy": {"mode": "sync", "min_units_to_start": 64},
           "reliability": {"enabled": False}, "simulation": {"seed": 1, "replications": 1}}
    run = api.simulate(from_dict(doc))
    (said,) = [x for x in run.summary.limits if x.startswith("wait:")]
    assert "from 2025-01-21 to 2025-02-10: 32 chips of its pools available, fewer than " \
           "strategy.min_units_to_start (64)" in said, said


def _one(doc: dict) -> float:
    return api.simulate(from_dict(doc)).summary.metrics["time_to_train_days"].p50


OV = {"name": "ov", "start": "2025-01-01", "horizon_days": 700,
      "workload": {"model": "llama3-70b", "tokens": 8.0e12, "seq_len": 8192},
      "fleet": [{"name": "own", "chip": "h100-sxm", "site": "s1", "units": 1024, "ordered_units": 4096,
                 "deliveries": [{"date": "2025-01-11", "units": 1300}, {"date": "2025-01-12", "units": 4096}],
                 "commissioning_days": 0}],
      "strategy": {"mode": "single", "replan_overhead_hours": 48},
      "reliability": {"enabled": False}, "simulation": {"seed": 1, "replications": 1}}


def test_chips_that_come_during_a_re_plan_are_taken():
    """276 chips on day 10 start a 48-hour re-plan; 2,796 more come on day 11, during it.

    The job adopted the plan chosen on day 10 (1,260 chips) and trained on it with 4,096 in service for 77 days:
    88.7 days, where 1,100 chips on day 10 (no re-plan then) finished in 42.6.
    """
    def with_first(units: int) -> dict:
        pool = {**OV["fleet"][0], "deliveries": [{"date": "2025-01-11", "units": units},
                                                  {"date": "2025-01-12", "units": 4096}]}
        return {**OV, "fleet": [pool]}

    days = {u: _one(with_first(u)) for u in (1100, 1200, 1300, 2000)}
    assert all(days[b] <= days[a] + 1e-6 for a, b in zip(days, list(days)[1:], strict=False)), days
    assert days[1300] < 45, days


def test_a_step_that_brings_no_faster_plan_is_no_reason_to_wait():
    """One chip more on day 35 held a plan 6.5% faster (under the 10%) from day 10 to day 35: 1.5 days later."""
    def second(units: int) -> dict:
        pool = {"name": "own", "chip": "h100-sxm", "site": "s1", "units": 1024, "ordered_units": 1100,
                "deliveries": [{"date": "2025-01-11", "units": 1072}, {"date": "2025-02-05", "units": units}],
                "commissioning_days": 0}
        return {**OV, "workload": {"model": "llama3-70b", "tokens": 8.0e12, "seq_len": 8192}, "fleet": [pool]}

    assert _one(second(1073)) == _one(second(1072)) == _one(second(1080))


def test_a_wait_with_no_chip_there_is_for_chips_not_for_the_setting():
    """A rental ends and the owned chips come a month later: 0 chips there, and min_units_to_start was named."""
    doc = {"name": "wt", "start": "2025-01-01", "horizon_days": 700,
           "workload": {"model": "llama3-70b", "tokens": 8.0e12, "seq_len": 8192},
           "fleet": [{"name": "own", "chip": "h100-sxm", "site": "s1", "units": 0, "ordered_units": 1024,
                      "deliveries": [{"date": "2025-03-01", "units": 1024}], "commissioning_days": 0},
                     {"name": "rent", "chip": "h100-sxm", "site": "s1",
                      "cloud": {"units": 1024, "from": "2025-01-01", "until": "2025-02-01",
                                "price_per_chip_hour_usd": 2.0}}],
           "strategy": {"mode": "auto", "min_units_to_start": 512},
           "reliability": {"enabled": False}, "simulation": {"seed": 1, "replications": 1}}
    run = api.simulate(from_dict(doc))
    (said,) = [x for x in run.summary.limits if x.startswith("wait:")]
    assert "0 chips of its pools available, too few for any layout" in said, said
