"""The metric registry: every figure a run reports, with its label, unit, format and direction.

The scenario's ``expect`` checks, the summary, the replications table, the headline (CLI, report,
app) and the app's deltas all read this one list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .fmt import fmt_chip_hours, fmt_days, fmt_mwh, fmt_pct, fmt_usd


@dataclass(frozen=True)
class Metric:
    """One reported figure."""

    key: str  # the name in summary.json and in `expect`
    label: str  # for people
    unit: str  # days | share | USD | MWh | chip-h
    fmt: Callable[[float | None], str]  # a value for people
    lower_is_better: bool
    distribution: bool = True  # summarized over replications as mean, p10, p50, p90; else one value

    @property
    def is_share(self) -> bool:
        """A share in [0, 1]: compare two of them in percentage points."""
        return self.unit == "share"


METRICS: tuple[Metric, ...] = (
    Metric("time_to_train_days", "Time to train", "days", fmt_days, lower_is_better=True),
    Metric("finish_probability", "Finish probability", "share", fmt_pct, lower_is_better=False, distribution=False),
    Metric("cost_usd", "Cost committed", "USD", fmt_usd, lower_is_better=True),
    Metric("energy_mwh", "Energy", "MWh", fmt_mwh, lower_is_better=True),
    Metric("mfu", "MFU", "share", fmt_pct, lower_is_better=False),
    Metric("goodput", "Goodput", "share", fmt_pct, lower_is_better=False),
    Metric("chip_hours", "Chip-hours", "chip-h", fmt_chip_hours, lower_is_better=True),
)
BY_KEY: dict[str, Metric] = {m.key: m for m in METRICS}
KEYS: tuple[str, ...] = tuple(m.key for m in METRICS)
DISTRIBUTION_KEYS: tuple[str, ...] = tuple(m.key for m in METRICS if m.distribution)
# figures of a replication that did not finish run to the horizon only: they are its spend, energy, chip-hours and
# efficiency so far, not the whole run's
TO_HORIZON_KEYS: tuple[str, ...] = ("cost_usd", "energy_mwh", "mfu", "goodput", "chip_hours")
# of those, the ones that only grow as the run goes on: an unfinished replication's whole run has at least its
# figure, so a check of an upper bound (`expect` max) counts it as beyond any bound, as time to train counts never
GROWING_KEYS: tuple[str, ...] = ("cost_usd", "energy_mwh", "chip_hours")


def fmt_value(key: str, value: float | None) -> str:
    """A value of a registered metric, in its natural unit."""
    return BY_KEY[key].fmt(value)
