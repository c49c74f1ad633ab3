"""The cash flow of a run: one representative replication simulated again and priced month by month.

The replication whose committed spend is nearest the mean over the replications (the first on a tie; with one
replication, that one) is run again from its own seed, exactly as it ran (the same supply, job and model
streams), and its pools are priced by planner/cashflow.py. Its committed total is that replication's
committed spend, which summary.json's ``costs.committed_usd`` averages.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np

from .. import costs
from ..bridge import layout_planners
from ..cashflow import PoolSupply, cashflow
from ..fmt import fmt_usd_and
from ..kinds import EventKind
from ..scenario import Scenario
from ..strategy import Context, options
from .draws import fresh
from .replication import Run, best_run, draw_supply, model_factor
from .supply import Step, delivered_since

if TYPE_CHECKING:
    import pandas as pd


def representative(costs_usd: list[float]) -> int:
    """The index of the replication whose committed spend is nearest the mean (the first on a tie)."""
    values = np.asarray(costs_usd, dtype=float)
    return int(np.argmin(np.abs(values - values.mean()))) if len(values) else 0


def rerun(scenario: Scenario, seed: np.random.SeedSequence, replications: int,
          ctx: Context | None = None) -> tuple[Run, dict[str, list[Step]]]:
    """One replication again, from its seed, as planner.sim.replication.run_replication runs it.

    Through the run's Context when given (what it planned for other replications is what this one would plan:
    a replication's numbers do not depend on which ran before it in a process, as they do not depend on the
    number of workers), else through a new one.
    """
    ctx = Context(scenario, layout_planners(scenario)) if ctx is None else ctx
    supply_seed, job_seed, model_seed = fresh(seed).spawn(3)
    steps = draw_supply(scenario, supply_seed, ctx.supply)
    factor = model_factor(scenario, replications, np.random.default_rng(model_seed), ctx)
    candidates, _why = options(ctx, scenario.strategy.mode)
    return best_run(scenario, candidates, steps, job_seed, factor, record=False), steps


def purchases(steps: list[Step]) -> tuple[tuple[float, int], ...]:
    """(time [h], units) of each delivery of owned chips bought during the plan.

    Chips there by day 0 (the pool's ``units``, and deliveries dated or drawn before the start, which supply_steps
    puts at hour 0) were bought before it; a delivery dated on the start day is bought during it (a tranche dated
    on day 0 was never paid, and the same tranche 15 minutes late was paid in full).
    """
    return tuple((s.time_h, int(s.delta_units)) for s in steps if s.kind == EventKind.DELIVERY and s.since_h is None)


def portfolio_cashflow(scenario: Scenario, pctx, seeds: list[np.random.SeedSequence],
                       costs_usd: list[float], finished: list[bool] | None = None) -> tuple[pd.DataFrame, str]:
    """``run_cashflow`` for a portfolio (``jobs:``): the fleet priced with every job's chips in training."""
    from .portfolio import portfolio_replication, sum_training

    k = representative(costs_usd)
    out = portfolio_replication(pctx, fresh(seeds[k]), replications=len(seeds), keep=True)
    end_h = max(r.end_h for r in out.runs)
    supply = {p.name: PoolSupply(delivered_since(out.supply[p.name]), sum_training(out.runs, p.name),
                                 purchases(out.supply[p.name]), out.supply.rented[p.name])
              for p in scenario.fleet}
    table = cashflow(scenario, supply, end_h)
    return table, _which(scenario, k, costs_usd, out.metrics["cost_usd"], " (every job)", out.metrics["finished"],
                         finished) + _paid_after(scenario, supply, end_h)


def run_cashflow(scenario: Scenario, seeds: list[np.random.SeedSequence],
                 costs_usd: list[float], ctx: Context | None = None,
                 finished: list[bool] | None = None) -> tuple[pd.DataFrame, str]:
    """(cashflow.csv's rows, a sentence saying which replication they are) for a run's replications.

    ``finished``: whether each replication finished (the sentence says when the spend runs to the horizon only).
    """
    k = representative(costs_usd)
    run, steps = rerun(scenario, seeds[k], len(seeds), ctx)
    supply = {}
    for name in run.states:
        training = ((run.job.in_training[name].times, run.job.in_training[name].values)
                    if name in run.strategy.pools else None)
        supply[name] = PoolSupply(delivered_since(steps[name]), training,
                                  purchases(steps[name]), run.rented.get(name))
    table = cashflow(scenario, supply, run.end_h)
    return table, _which(scenario, k, costs_usd, run.cost_usd, "", run.finished, finished) + _paid_after(
        scenario, supply, run.end_h)


def _paid_after(scenario: Scenario, supply: dict[str, PoolSupply], end_h: float) -> str:
    """A sentence on the purchases of chips delivered after the run's end ("" when none).

    Chips delivered after the job's end (or the horizon) are still bought, so they are paid; their write-off is not
    in the committed spend, which runs to the end: the cash flow's paid line then rises where its committed bars do
    not. Counted from the deliveries themselves (one after the end in the end's own month too).
    """
    paid, days = 0.0, []
    for pool in scenario.fleet:
        use = supply.get(pool.name)
        later = [(t, units) for t, units in (use.purchases if use is not None else ()) if t > end_h]
        if later:
            paid += sum(units for _t, units in later) * costs.unit_price_usd(scenario, pool)
            days += [scenario.start + dt.timedelta(hours=t) for t, _units in later]
    if paid <= 0:
        return ""
    c = scenario.currency
    shown = fmt_usd_and(paid, *((c.code, c.per_usd) if c is not None else (None, None)))
    end = scenario.start + dt.timedelta(hours=end_h)
    first, last = min(days).strftime("%Y-%m"), max(days).strftime("%Y-%m")
    when = first if first == last else f"from {first} to {last}"
    return (f" {shown} of chips delivered after the run's end ({end.isoformat()[:10]}) is paid "
            f"{'in ' if first == last else ''}{when}: the order stands, but their write-off is not in the committed "
            "spend.")


def _which(scenario: Scenario, k: int, costs_usd: list[float], committed_usd: float, what: str = "",
           done: bool = True, finished: list[bool] | None = None) -> str:
    """The sentence under the cash flow: which replication it prices, and the mean it is nearest to.

    Sums in the scenario's second currency too, when it has one (as every sum the report shows). ``done``: whether
    that replication finished; ``finished``: whether each did (a mean over replications stopped by the horizon is
    a lower bound: "at least").
    """
    c = scenario.currency
    code, per_usd = (c.code, c.per_usd) if c is not None else (None, None)

    def money(x: float) -> str:
        return fmt_usd_and(x, code, per_usd)  # (dollars alone without a currency)

    mean = float(np.mean(costs_usd)) if costs_usd else 0.0
    # as summary.json bounds the committed spend: replications stopped by the horizon only when the commitment grows
    # with the run (a reservation's whole window does not), and every figure when a pool's price is not stated
    unpriced = costs.unpriced(scenario)
    grows = finished is not None and not all(finished) and costs.committed_grows(scenario)
    low = "at least " if grows or unpriced else ""
    own = "at least " if unpriced or (not done and costs.committed_grows(scenario)) else ""
    return (f"Cash flow of replication {k} of {len(costs_usd)}{what}: committed {own}{money(committed_usd)}"
            + (f", the nearest to the mean of the replications ({low}{money(mean)})" if len(costs_usd) > 1 else "")
            + ("; it did not finish: its spend runs to the horizon only" if not done else "")
            + (f"; {', '.join(unpriced)} state no price: their rental or write-off is not counted" if unpriced
               else "") + ".")
