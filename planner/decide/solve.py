"""`planner solve`: the smallest value of one input that finishes by a deadline at a quantile.

A k-section on the simulation: each round evaluates k = SEARCH_POINTS_PER_ROUND values that split the bracket
into thirds, in parallel on two or more workers (a round narrows the bracket to a third in the wall time of one
evaluation), the same values on any number of workers. Every evaluation uses
the same root seed, so the points share their random numbers (common random numbers): the comparison
between two values is not blurred by noise, and the answer is reproducible. The search assumes that a
larger value never finishes later; the evaluated points are checked for that and the answer says whether
they were monotone. Each evaluation's run is freed before the next (planner/decide/points.py), so memory
stays flat over the evaluations.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Any

from ..cashflow import in_currency
from ..costs import after_plan
from ..deadline import deadline_end_days, meets_deadline
from ..edits import format_path, parse_path, set_values, value_of
from ..errors import InfeasiblePlanError, ScenarioError
from ..scenario import LAST_DAY, MAX_HORIZON_DAYS, Scenario
from ..sim.portfolio import ordered_jobs
from ..sim.runner import finish_date, portfolio_that_trains
from ..stats import NEVER, time_stat
from .points import finish_quantile_days, infeasible_note, run_points

MAX_EVALUATIONS = 40  # values evaluated between the two ends, at most
# values a round evaluates (thirds of the bracket), the same on any number of workers so that the answer is too
SEARCH_POINTS_PER_ROUND = 2
SOLVE_MIN_REPLICATIONS = 20  # a quantile of fewer replications moves too much from one value to the next
FLOAT_TOLERANCE = 1e-3  # stop a float bisection when the bracket is this share of the range
DEADLINE_HORIZONS = 2.0  # the points run to this many times the deadline's day count (to_deadline)
MONOTONE_SLACK = 0.01  # a larger value may finish this share later and still count as monotone
INSIDE_PROBES = 3  # values across the range (its quartiles) evaluated when both of its ends miss, whatever the workers


def bounds(scenario: Scenario, path: str, low: float | None = None,
           high: float | None = None) -> tuple[str, bool, float, float]:
    """The varied field's path, whether it is a whole number, and the range searched (default 0 to 4x the file's)."""
    path = format_path(parse_path(path))
    for flag, v in (("--min", low), ("--max", high)):
        if v is not None and not math.isfinite(v):  # (a search needs two ends it can evaluate and split)
            raise ScenarioError(f"{flag} must be a finite number, not {v}", field=path)
    current = value_of(scenario, path)  # as the file set it, else the format's default
    if current is None and high is not None:  # unset, with no default (a catalog's value): the range given
        current = high
    if current is None:
        raise ScenarioError("not set in this scenario, and its default comes from the catalog: give --max (and --min)",
                            field=path)
    if isinstance(current, bool) or not isinstance(current, (int, float)):
        raise ScenarioError(f"--vary needs a number; the scenario has {current!r}", field=path)
    if high is None and current <= 0:  # the default range, 0 to 4x the file's value, would be [0, 1] or empty
        raise ScenarioError(f"the scenario has {current!r} here, so the default range (0 to 4x the file's value) "
                            "holds nothing to search: give --max", field=path)
    integer = isinstance(current, int) and (low is None or float(low).is_integer()) and \
        (high is None or float(high).is_integer())
    if high is None:  # 4x the file's value, or the most of 3x, 2x, 1.5x it takes (day-0 units under a tranche)
        tries = [max(1, k * current) for k in (4, 3, 2, 1.5)]
        tries = [int(t) if integer else t for t in tries]
        high = next((t for t in tries if _takes(scenario, path, t)), tries[0])
    if low is None:  # 0, or 1 where the field does not take 0 (the rented units of a fleet that is all cloud)
        low = 0
        if integer and high >= 1 and not _takes(scenario, path, 0) and _takes(scenario, path, 1):
            low = 1
    if low > high:
        raise ScenarioError(f"--min ({low}) must not exceed --max ({high})", field=path)
    if integer:
        low, high = int(low), int(high)
    return path, integer, low, high


def _takes(scenario: Scenario, path: str, value: float) -> bool:
    """Whether the field at ``path`` may be set to ``value`` (the scenario stays valid)."""
    try:
        set_values(scenario, {path: value}, drop_zeroed=True)
    except ScenarioError:
        return False
    return True


def _days(e: dict) -> float:
    """An evaluation's time to train at the quantile [days], infinite when it never finishes."""
    return math.inf if e["time_to_train_days"] is None else e["time_to_train_days"]


def _shown_days(e: dict) -> str:
    """An evaluation's time at the quantile for the note: ``never``, or days (``at least`` for a horizon's bound)."""
    if e["time_to_train_days"] is None:
        return "never"
    return ("at least " if e.get("time_at_least") else "") + f"{e['time_to_train_days']:.1f} days"


def not_monotone_note(pts: list[dict], path: str, quantile: float) -> str:
    """Which two evaluated values (sorted by value) make the search's points not monotone ("" when none do).

    A larger value that misses the deadline where a smaller one meets it, or one that finishes later beyond
    MONOTONE_SLACK.
    """
    q = f"P{quantile * 100:g}"
    for a, b in zip(pts, pts[1:], strict=False):
        if a["meets"] and not b["meets"]:
            return (f"not monotone among the values evaluated: {path}={b['value']} misses the deadline at {q} where "
                    f"{path}={a['value']} meets it ({_shown_days(b)} against {_shown_days(a)}); the answer is the "
                    "smallest value found that meets the deadline")
        if math.isfinite(_days(a)) and _days(b) > _days(a) * (1 + MONOTONE_SLACK):
            return (f"not monotone among the values evaluated: {path}={b['value']} finishes later than "
                    f"{path}={a['value']} at {q} ({_shown_days(b)} against {_shown_days(a)}); the answer is the "
                    "smallest value found that meets the deadline")
    return ""


def round_values(lo: float, hi: float, k: int, integer: bool) -> list:
    """The values a round evaluates: ``k`` that split (lo, hi) into k + 1 equal parts, strictly inside it.

    One value is the bisection's midpoint. Whole numbers are rounded down; values that coincide count once.
    """
    if k == 1:
        values = [(lo + hi) // 2 if integer else (lo + hi) / 2]
    else:
        values = [lo + (hi - lo) * j // (k + 1) if integer else lo + (hi - lo) * j / (k + 1) for j in range(1, k + 1)]
    return [v for v in dict.fromkeys(values) if lo < v < hi]


PROBE_SHARES = (0.05, 0.10, 0.20, 0.35)  # a round of probes below the answer, these shares of it down


def below(value: float, low: float, k: int, integer: bool) -> list:
    """``k`` values below ``value`` (PROBE_SHARES of it down, above ``low``): they test the trust in monotony."""
    out = []
    for share in PROBE_SHARES[:k]:
        v = value * (1 - share)
        v = math.floor(v) if integer else v
        if low < v < value:
            out.append(v)
    return list(dict.fromkeys(out))


def _at_end(scenario: Scenario, path: str, integer: bool, value: float, high: float, end: str, given: bool,
            source: str) -> Scenario:
    """The scenario at one end of the search; a value the field cannot take is the range's fault, said so.

    The file is valid (it was loaded): an error here is the end's value, so it names ``--min``/``--max``
    (and whether that end was the default) and, for a whole-number low end, a ``--min`` that would do.
    """
    try:
        return set_values(scenario, {path: value}, source, drop_zeroed=True)
    except ScenarioError as exc:
        flag = "--min" if end == "low" else "--max"
        default = "" if given else " (the default)" if end == "low" else " (the default: up to 4x the file's value)"
        shown = f"{value:,}" if integer and abs(value) < 1e15 else f"{value:g}"  # (not 309 digits of 1e308)
        where = "" if exc.field in (None, path) else f"{exc.field}: "
        larger = "less than" not in exc.reason if end == "low" else "greater than" in exc.reason  # (pydantic's words)
        hint = f"give a {'larger' if larger else 'smaller'} {flag}"
        if end == "low" and larger and integer and value + 1 <= high:
            try:
                set_values(scenario, {path: value + 1}, source, drop_zeroed=True)
                hint += f", e.g. --min {value + 1}"
            except ScenarioError:
                pass
        raise ScenarioError(f"the {end} end of the search, {flag} {shown}{default}, is not a value it can take: "
                            f"{where}{exc.reason}; {hint}", path=source, field=path) from None


def ends(scenario: Scenario, path: str, integer: bool, low: float, high: float, given: tuple[bool, bool] = (True, True),
         source: str = "<scenario>") -> tuple[Scenario, Scenario]:
    """The scenario at each end of the search, [low, high] of :func:`bounds`.

    ``given``: whether ``--min`` and ``--max`` were given (else they are the defaults). An end the field cannot
    take (``workload.tokens`` 0) is a ScenarioError naming ``--min`` or ``--max``, not the file, which is valid.
    """
    return (_at_end(scenario, path, integer, low, high, "low", given[0], source),
            _at_end(scenario, path, integer, high, high, "high", given[1], source))


def planned_points(scenario: Scenario, path: str, low: float | None = None, high: float | None = None,
                   source: str = "<scenario>", step: float | None = None) -> list[Scenario]:
    """The runs a goal seek may need, for its time estimate: both ends, then k values per round, and k probes.

    A round narrows the bracket to 1/(k+1) of it (k = SEARCH_POINTS_PER_ROUND). The search's values lie
    between the ends; they are counted at the larger end's work (a bound).
    """
    given = (low is not None, high is not None)
    path, integer, low, high = bounds(scenario, path, low, high)
    lo_s, hi_s = ends(scenario, path, integer, low, high, given, source)
    return [lo_s, hi_s] + [hi_s] * (planned_count(low, high, integer, step) - 2)


def planned_count(low: float, high: float, integer: bool, step: float | None = None) -> int:
    """How many values a goal seek evaluates at most: both ends, k values per round, and one round of probes."""
    resolution = step or (1 if integer else FLOAT_TOLERANCE * (high - low))
    k = SEARCH_POINTS_PER_ROUND
    rounds = math.ceil(math.log((high - low) / resolution, k + 1)) if high - low > resolution else 0
    return 2 + min(MAX_EVALUATIONS, k * (rounds + 1))  # (+1: the probes below the answer)


def check_target(scenario: Scenario, deadline: dt.date, job: str | None, source: str = "<scenario>") -> None:
    """Refuse a ``--job`` the scenario does not have, and a deadline before the job could start (ScenarioError)."""
    jobs = [j.name for j in scenario.jobs]
    if job is not None and job not in jobs:
        known = ", ".join(jobs) if jobs else "none: the scenario has one job (`workload:`)"
        raise ScenarioError(f"no job is named {job!r}; jobs: {known}", path=source, field="--job")
    named = next((j for j in scenario.jobs if j.name == job), None)
    begins = named.first_day(scenario.start) if named is not None else scenario.start
    if deadline < begins:  # (on the start day itself, a job that trains within the day meets it)
        what = f"the start_after of job {job!r}" if begins != scenario.start else "the scenario's start"
        raise ScenarioError(f"{deadline} is before {what} ({begins}): no finish could meet it", path=source,
                            field="--deadline")


def check_quantile(quantile: float) -> None:
    """Refuse a quantile at or beyond 0 and 1 (ScenarioError)."""
    if not 0 < quantile < 1:
        raise ScenarioError(f"--quantile must be strictly between 0 and 1 (0 and 1 themselves are the fastest and the "
                            f"slowest replication), not {quantile}")


def _cut_jobs_refused(scenario: Scenario, path: str, value: float, job: str, source: str) -> str:
    """What `planner run` says of the whole portfolio at the answer when a job ``up_to`` cut cannot train ("" else).

    The search ran ``job`` and the jobs before it only: a job after it that no layout fits does not move it, but
    `planner run` of the scenario at that value refuses it (review: the answer could not be checked with `run`).
    """
    if len(up_to(scenario, job).jobs) == len(scenario.jobs):
        return ""
    try:
        point = set_values(scenario, {path: value}, source, drop_zeroed=True)
    except ScenarioError:  # (the search ran it: not expected)
        return ""
    try:
        portfolio_that_trains(point)
    except InfeasiblePlanError as exc:
        return (f"the search ran job {job!r} and the jobs before it (the jobs after it never change it); at this "
                f"value `planner run` of the whole scenario refuses it: {exc}")
    return ""


def up_to(scenario: Scenario, job: str | None) -> Scenario:
    """A portfolio cut after ``job``: the jobs that get chips before it and itself (None: the scenario as it is).

    The jobs after it never change it (README, "Several jobs": each job trains on what the jobs before it
    leave, on draws of its own), so its figures are the same, without the others' work, and a job after it
    that no layout fits does not stop it. Its ``expect`` entries go too (they may name the jobs cut).
    """
    if job is None or not scenario.jobs:
        return scenario
    order = ordered_jobs(scenario)
    kept = {j.name for j in order[:next(i for i, j in enumerate(order) if j.name == job) + 1]}
    return scenario.model_copy(update={"jobs": [j for j in scenario.jobs if j.name in kept], "expect": []})


def to_deadline(scenario: Scenario, deadline: dt.date, path: str = "") -> Scenario:
    """The scenario with its horizon raised to twice the deadline's end when it ends before that (else as it is).

    A replication the horizon stops before the deadline might still meet it: the search could neither count it
    as a miss (it would ask for more than needed) nor as a meet. And a quantile between two replications weighs
    the later one too (linear interpolation, as summary.json's): one that finishes past the deadline can still
    leave the P90 before it, so the replications run on past the deadline, to twice its day count; a quantile
    still known only as at least a time there is not known to meet it (``time_stat``). (Not when the search varies
    the horizon itself, nor past the format's limits.)
    """
    need = DEADLINE_HORIZONS * deadline_end_days(scenario.start, deadline)
    if need <= scenario.horizon_days or path == "horizon_days":
        return scenario
    room = min(float(MAX_HORIZON_DAYS), float(LAST_DAY.toordinal() - 1 - scenario.start.toordinal()))
    return scenario.model_copy(update={"horizon_days": max(float(scenario.horizon_days), min(need, room))})


def solve(scenario: Scenario, path: str, deadline: dt.date, quantile: float = 0.9, low: float | None = None,
          high: float | None = None, replications: int | None = None, seed: int | None = None,
          workers: int | None = None, progress: Callable[[int, int], None] | None = None,
          source: str = "<scenario>", step: float | None = None, job: str | None = None) -> dict[str, Any]:
    """The smallest value at ``path`` in [low, high] whose ``quantile`` finish is on or before ``deadline``.

    On or before: by the end of the deadline's day, a finish time below ``(deadline - start).days + 1`` days
    (planner/deadline.py).

    Returns {found, value, path, quantile, deadline, finish_date, time_to_train_days, cost_usd, monotone,
    evaluations[]}; ``found`` is False (value None) when even ``high`` misses the deadline. ``step`` is
    the resolution of the answer (default 1 for whole numbers, 0.1% of the range for others). ``workers``
    values are evaluated at once (default: the cores); the values are the same on any number of them.
    """
    check_quantile(quantile)
    check_target(scenario, deadline, job, source)
    given = (low is not None, high is not None)
    path, integer, low, high = bounds(scenario, path, low, high)
    asked = float(scenario.horizon_days)
    after = [p.name for p in scenario.fleet if after_plan(scenario, p)]  # (rentals past the file's horizon)
    scenario = to_deadline(scenario, deadline, path)  # every replication that may meet the deadline runs to it
    # a reservation that begins past the file's horizon but inside the raised one is the points' cost, not the file's
    counted = [p.name for p in scenario.fleet if p.name in after and not after_plan(scenario, p)]
    planned = planned_count(low, high, integer, step)
    built = dict(zip((low, high), ends(scenario, path, integer, low, high, given, source), strict=True))
    seen: dict[float, dict] = {}

    def evaluate(values: list) -> None:
        todo = [v for v in dict.fromkeys(values) if v not in seen]
        if not todo:
            return
        scenarios = [up_to(built[v] if v in built else set_values(scenario, {path: v}, source, drop_zeroed=True), job)
                     for v in todo]
        for v, point, r in zip(todo, scenarios, run_points(scenarios, replications=replications, seed=seed,
                                                           workers=workers, source=source,
                                                           labels=[f"{path}={v}" for v in todo]), strict=True):
            if r["infeasible"] is not None:  # no layout fits at this value: it never finishes, so it misses
                seen[v] = in_currency({
                    "value": v, "time_to_train_days": None, "time_at_least": False, "finish_date": NEVER,
                    "meets": False, "cost_usd": None, "cost_usd_mean": None, "cost_at_least": [],
                    "finish_probability": 0.0, "note": infeasible_note(r["infeasible"])}, point.currency)
                continue
            # the job's finish (`--job`), else the scenario's (a portfolio's: its last job's)
            times = r["jobs_time_to_train_days"][job] if job is not None else r["time_to_train_days"]
            t = finish_quantile_days(times, quantile)
            # the job's summary (`--job`), else the scenario's: its spend on the chips it trained on, else the committed
            summary = r["summary"] if job is None else next(j.summary for j in r["summary"].jobs if j.name == job)
            cost = summary.metrics["cost_usd"]
            # on the line to replications stopped by the point's own horizon, the quantile is known only as at
            # least a time (stats.time_stat), as `run` says it: that time, marked, and not known to meet a deadline
            low_days, at_least = time_stat(times, quantile, float(point.horizon_days))
            shown = low_days if at_least else t
            note = (f"P{quantile * 100:g} at least {low_days:.1f} days (replications stopped by the horizon): not "
                    "known to meet the deadline" if at_least else "")
            row = {"value": v, "time_to_train_days": shown if math.isfinite(shown) else None,
                   "time_at_least": at_least,
                   "finish_date": finish_date(scenario.start, shown) or NEVER,  # beyond the finishes: never
                   # by the end of the deadline's day (planner/deadline.py)
                   "meets": meets_deadline(t, scenario.start, deadline),
                   "cost_usd": cost.p50, "cost_usd_mean": cost.mean,
                   # which of the two spends are lower bounds (replications that spent to the horizon only)
                   "cost_at_least": [k for k, q in (("cost_usd", "p50"), ("cost_usd_mean", "mean"))
                                     if summary.bound("cost_usd", q)],
                   "finish_probability": (r["summary"].finish_probability if job is None else
                                          sum(math.isfinite(x) for x in times) / len(times)),
                   "note": note}
            seen[v] = in_currency(row, point.currency)  # the sums in the scenario's currency too (cost_cny)
        if progress:  # of the most the search may evaluate (it often needs fewer: the bar then ends early)
            progress(len(seen), max(planned, len(seen)))

    evaluate([low, high])  # both ends at once (in parallel)
    note = ""
    inside_missed: list = []  # the values inside the range tried when both ends missed, all missing too
    if all(e["finish_probability"] == 0.0 and e["note"] for e in seen.values()):  # no layout fits at either end
        # none in range, and why (the contract's exit 1 for `planner solve`; the JSON is the answer's as always)
        note = (f"neither end of [{low}, {high}] can train: "
                + "; ".join(f"{path}={e['value']}: {e['note']}" for e in seen.values()))
        best = None
    elif seen[low]["meets"]:  # the smallest value in range meets it: the answer, whatever larger values do
        best = low
        if not seen[high]["meets"]:
            note = (f"{path}={low} meets the deadline though {path}={high} misses it: the finish is not monotone "
                    f"in {path} here (a larger value finishes later), and {low} is the smallest value in range")
    else:
        k, budget = SEARCH_POINTS_PER_ROUND, [MAX_EVALUATIONS]

        def narrow(lo: float, hi: float) -> float:
            """Bisect (lo misses, hi meets) to the resolution; the smallest value found that meets."""
            while budget[0] > 0 and hi - lo > (step or (1 if integer else FLOAT_TOLERANCE * (high - low))):
                values = round_values(lo, hi, k, integer)[:budget[0]]
                if not values:  # nothing left strictly inside the bracket (a step finer than whole numbers)
                    break
                budget[0] -= len(values)
                evaluate(values)  # in parallel, one process per value
                # the bracket becomes the part between the last value that misses and the first that meets
                first = next((v for v in values if seen[v]["meets"]), hi)
                lo, hi = max([lo] + [v for v in values if v < first]), first
            return hi

        def from_smallest_met(met: list) -> float:
            """Bisect below the smallest value that met, down to the largest evaluated below it that missed."""
            smallest = min(met)
            return narrow(max(v for v, e in seen.items() if v < smallest and not e["meets"]), smallest)

        if not seen[high]["meets"]:
            # both ends miss: a finish not monotone in the value may still meet the deadline inside the range; its
            # quartiles test that before "none in range" (the same values on any number of workers: the answer is
            # the same too). A window narrower than a quarter of the range can still be missed: `note` says so
            inside = round_values(low, high, INSIDE_PROBES, integer)[:budget[0]]
            budget[0] -= len(inside)
            evaluate(inside)
            met = [v for v in inside if seen[v]["meets"]]
            best = from_smallest_met(met) if met else None
            inside_missed[:] = [] if met else inside
            if met:
                note = (f"{path}={min(met)} meets the deadline though {path}={high} misses it: the finish is not "
                        f"monotone in {path} here, so {best} is the smallest value found, not one proved the smallest")
        else:
            best = narrow(low, high)
            # the search trusts that a larger value never finishes later; one round of probes below the answer
            # tests it where layouts and job sizes change by steps: one that meets there proves it wrong, and the
            # search goes on below it (the answer is then the smallest value found, and `monotone` is false)
            probes = below(best, low, k, integer)[:budget[0]]
            budget[0] -= len(probes)
            evaluate(probes)
            met = [v for v in probes if seen[v]["meets"]]
            if met:
                smallest = min(met)
                missed_above = any(v > smallest and not e["meets"] for v, e in seen.items())
                best = from_smallest_met(met)
                if missed_above:
                    note = (f"{path}={smallest} meets the deadline though larger values evaluated miss it: the "
                            f"finish is not monotone in {path} here, so {best} is the smallest value found, not one "
                            "proved the smallest")
    pts = sorted(seen.values(), key=lambda e: e["value"])
    # monotone: once a value meets the deadline every larger evaluated value does too, and a larger value
    # never finishes later (beyond MONOTONE_SLACK: the quantile of a finite sample moves a little)
    first_meet = next((i for i, e in enumerate(pts) if e["meets"]), len(pts))
    days = [_days(e) for e in pts]
    monotone = all(e["meets"] for e in pts[first_meet:]) and all(
        b <= a * (1 + MONOTONE_SLACK) or math.isinf(a) for a, b in zip(days, days[1:], strict=False))
    if not monotone and not note and best is not None:  # which evaluated values made it false (they follow --workers)
        note = not_monotone_note(pts, path, quantile)
    hit = seen.get(best) if best is not None else None
    if best is None and not note:  # none in range: what the largest value gave
        top = seen[high]
        when = top["finish_date"] if top["finish_date"] != NEVER else "never (not within the horizon)"
        if top.get("time_at_least"):  # stopped by the horizon: it may finish after the deadline, or before
            note = (f"the largest value tried, {path}={top['value']}, finishes at the earliest {when} at "
                    f"P{quantile * 100:g} (replications stopped by the horizon): not known to meet the deadline "
                    f"{deadline.isoformat()}")
        else:
            note = (f"the largest value tried, {path}={top['value']}, finishes {when} at P{quantile * 100:g}, after "
                    f"the deadline {deadline.isoformat()}")
        if inside_missed:
            note += (f"; {', '.join(f'{path}={v}' for v in inside_missed)} inside the range miss it too (a narrower "
                     "window of values that meet could lie between the values tried)")
    if scenario.horizon_days > asked:  # every figure above ran to the raised horizon
        twice = DEADLINE_HORIZONS * deadline_end_days(scenario.start, deadline)
        why = ("twice the deadline's" if scenario.horizon_days >= twice else
               f"the most the format allows; twice the deadline's would be {twice:,.0f}")
        raised = (f"the horizon is raised from {asked:g} to {scenario.horizon_days:g} days ({why}), "
                  "so that the replications that decide the quantile run past the deadline")
        if counted:
            raised += (f"; the reservation of {', '.join(counted)} begins inside the raised horizon: its price counts "
                       "in these costs, not in `planner run` of the file")
        note = f"{note}; {raised}" if note else raised
    if job is not None and best is not None and (cut := _cut_jobs_refused(scenario, path, best, job, source)):
        note = f"{note}; {cut}" if note else cut
    code = f"cost_{scenario.currency.code.lower()}" if scenario.currency is not None else None
    return {
        "found": best is not None,
        "value": best,
        "path": path,
        "horizon_days": float(scenario.horizon_days),
        "job": job,
        "quantile": quantile,
        "deadline": deadline.isoformat(),
        "start": scenario.start.isoformat(),
        "finish_date": hit["finish_date"] if hit else None,
        "time_to_train_days": hit["time_to_train_days"] if hit else None,
        "cost_usd": hit["cost_usd"] if hit else None,
        # the same sum in the scenario's currency (with ``currency``), when it has one
        **({code: hit[code] if hit else None, "currency": scenario.currency.model_dump()} if code else {}),
        # the answer's cost is known only as at least that (replications that spent to the horizon only)
        "cost_usd_at_least": bool(hit and "cost_usd" in hit.get("cost_at_least", ())),
        "monotone": monotone,
        "common_random_numbers": True,
        "evaluations": pts,
        "note": note,
    }
