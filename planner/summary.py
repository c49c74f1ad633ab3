"""summary.json as typed records: what a `planner run` reports (docs/formats.md), read by attribute.

``Summary.to_json()`` gives exactly the summary.json mapping (the contract's keys, in its order) and
``Summary.from_json()`` reads one back: from a file, from another run, from an older app session. Reading
is tolerant: a missing optional section is None (a missing list or mapping is empty) and ``to_json``
leaves it out again, so a summary read from a file writes back the keys it had. Only ``scenario``,
``metrics``, ``expectations`` and ``limits`` are always written.

Values are kept as given (numbers are not rounded or converted); the writer turns numpy scalars and
non-finite floats into strict JSON (``planner.report.tables.summary_json``). No pandas here: `planner
estimate` never loads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .fmt import num
from .stats import NEVER

QUANTILE_KEYS = ("p10", "p50", "p90")
TIME_KEY = "time_to_train_days"  # summary.json writes finish_probability right after it
# summary.json ``at_least`` entries that follow from the others (``Summary.at_least_json``), not read back
_DERIVED_BOUNDS = ("finish_date", "costs")
PROBABILITY_KEY = "finish_probability"  # the one metric that is a single number, not a Stat


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list:
    return list(value) if isinstance(value, (list, tuple)) else []


@dataclass(frozen=True)
class Stat:
    """A figure over the replications: its mean and P10/P50/P90 (None where no replication gives one).

    For time to train a quantile beyond the finish probability is None (never), and the mean counts the
    replications that finished.
    """

    mean: float | None = None
    p10: float | None = None
    p50: float | None = None
    p90: float | None = None

    def at(self, q: str = "p50") -> float | None:
        """The ``q`` figure (``mean``, ``p10``, ``p50`` or ``p90``) as a finite float, else None.

        No fallback to the mean: for time to train a quantile beyond the finish probability is never, and
        the mean of the replications that finished is not that quantile.
        """
        return num(getattr(self, q))

    def items(self) -> list[tuple[str, float | None]]:
        """(key, value) pairs in summary.json's order: mean, p10, p50, p90."""
        return [("mean", self.mean), ("p10", self.p10), ("p50", self.p50), ("p90", self.p90)]

    def to_json(self) -> dict[str, Any]:
        """``{"mean": .., "p10": .., "p50": .., "p90": ..}``."""
        return dict(self.items())

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Stat:
        """From ``{"mean", "p10", "p50", "p90"}`` (missing keys are None)."""
        return cls(d.get("mean"), d.get("p10"), d.get("p50"), d.get("p90"))


@dataclass(frozen=True)
class ExpectationResult:
    """One `expect` check of the scenario and what the run gave: ``value`` None when it never happened."""

    metric: str
    quantile: float | None = None
    max: float | None = None
    min: float | None = None
    value: float | None = None
    passed: bool = False
    job: str | None = None  # with `jobs:`: the job whose metric was checked (None: the whole scenario)
    # the value is known only as a lower bound (a time quantile that depends on when replications stopped by the
    # horizon would have finished: stats.time_stat); it meets no maximum
    at_least: bool = False
    # the value is known only as an upper bound: a spend (energy, chip-hours) quantile checked against a maximum counts
    # replications stopped by the horizon as beyond every budget, the most the quantile can be (stats.beyond_unfinished)
    at_most: bool = False

    def to_json(self) -> dict[str, Any]:
        """metric, quantile, max, min, job (each only when set), value, value_at_least/_at_most (when true), passed."""
        out: dict[str, Any] = {"metric": self.metric}
        for k in ("quantile", "max", "min", "job"):
            if getattr(self, k) is not None:
                out[k] = getattr(self, k)
        out["value"] = self.value
        if self.at_least:
            out["value_at_least"] = True
        if self.at_most:
            out["value_at_most"] = True
        out["passed"] = self.passed
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ExpectationResult:
        """From one entry of summary.json ``expectations``."""
        return cls(metric=str(d.get("metric", "?")), quantile=d.get("quantile"), max=d.get("max"), min=d.get("min"),
                   value=d.get("value"), passed=bool(d.get("passed", False)), job=d.get("job"),
                   at_least=bool(d.get("value_at_least", False)), at_most=bool(d.get("value_at_most", False)))


# the pools of a replication whose job never held a chip, as ``choices`` and ``pools_used`` name them (its
# ``pools`` are none: a pool it never trained on is not one it used)
UNTRAINED = "no pool (never trained)"


@dataclass(frozen=True)
class StrategyChoice:
    """The strategy mode and pools most replications used, the scenario's setting and every choice counted."""

    mode: str
    pools: tuple[str, ...] = ()
    setting: str | None = None  # strategy.mode of the scenario (auto, single, ...)
    choices: dict[str, int] = field(default_factory=dict)  # "mode: pool + pool" -> replications

    def to_json(self) -> dict[str, Any]:
        """mode, pools, setting (when known) and choices."""
        out: dict[str, Any] = {"mode": self.mode, "pools": list(self.pools)}
        if self.setting is not None:
            out["setting"] = self.setting
        out["choices"] = dict(self.choices)
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> StrategyChoice:
        """From summary.json ``strategy``."""
        return cls(mode=str(d.get("mode") or ""), pools=tuple(str(p) for p in _list(d.get("pools"))),
                   setting=d.get("setting"), choices=dict(_mapping(d.get("choices"))))


@dataclass(frozen=True)
class FinishDates:
    """The finish date at P10/P50/P90: ISO dates, or ``"never"`` beyond the finish probability."""

    p10: str | None = None
    p50: str | None = None
    p90: str | None = None

    def at(self, q: str = "p50") -> str | None:
        """The date at ``q`` (``p10``, ``p50`` or ``p90``)."""
        return getattr(self, q)

    def finished(self, q: str = "p50") -> bool:
        """Whether the date at ``q`` is a date (not missing, not never)."""
        return bool(self.at(q)) and self.at(q) != NEVER

    def items(self) -> list[tuple[str, str | None]]:
        """(key, date) pairs: p10, p50, p90."""
        return [(q, getattr(self, q)) for q in QUANTILE_KEYS]

    def to_json(self) -> dict[str, Any]:
        """``{"p10": .., "p50": .., "p90": ..}``."""
        return dict(self.items())

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> FinishDates:
        """From summary.json ``finish_date``."""
        return cls(d.get("p10"), d.get("p50"), d.get("p90"))


@dataclass(frozen=True)
class PoolCosts:
    """One pool's spend, mean over the replications [USD]."""

    pool: str
    committed_usd: float | None = None
    used_usd: float | None = None
    idle_usd: float | None = None

    def to_json(self) -> dict[str, Any]:
        """pool, committed_usd, used_usd, idle_usd."""
        return {"pool": self.pool, "committed_usd": self.committed_usd, "used_usd": self.used_usd,
                "idle_usd": self.idle_usd}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> PoolCosts:
        """From one entry of summary.json ``costs.pools``."""
        return cls(str(d.get("pool", "?")), d.get("committed_usd"), d.get("used_usd"), d.get("idle_usd"))


@dataclass(frozen=True)
class Costs:
    """Committed, used and idle spend, means over the replications (idle = committed - used), and per pool."""

    committed_usd: float | None = None
    used_usd: float | None = None
    idle_usd: float | None = None
    pools: tuple[PoolCosts, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """committed_usd, used_usd, idle_usd and pools."""
        return {"committed_usd": self.committed_usd, "used_usd": self.used_usd, "idle_usd": self.idle_usd,
                "pools": [p.to_json() for p in self.pools]}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Costs:
        """From summary.json ``costs``."""
        return cls(d.get("committed_usd"), d.get("used_usd"), d.get("idle_usd"),
                   tuple(PoolCosts.from_json(p) for p in _list(d.get("pools")) if isinstance(p, Mapping)))


@dataclass(frozen=True)
class CurrencyRate:
    """The scenario's second currency (``currency:``): its ISO 4217 code and units per US dollar."""

    code: str
    per_usd: float

    def convert(self, usd: float | None) -> float | None:
        """A sum in USD in this currency (None stays None)."""
        x = num(usd)
        return None if x is None else x * self.per_usd

    def to_json(self) -> dict[str, Any]:
        """``{"code": "CNY", "per_usd": 7.1}``."""
        return {"code": self.code, "per_usd": self.per_usd}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> CurrencyRate | None:
        """From summary.json ``currency`` (None when it has no code or no usable rate)."""
        rate = num(d.get("per_usd"))
        code = d.get("code")
        return cls(str(code), rate) if isinstance(code, str) and rate is not None and rate > 0 else None


def _optional(d: Mapping[str, Any], key: str, read):
    value = d.get(key)
    return read(value) if isinstance(value, Mapping) else None


@dataclass(frozen=True)
class JobSummary:
    """One job of a portfolio (``jobs:``): its own metrics and finish dates, and its deadline when it has one."""

    name: str
    priority: int
    summary: Summary  # the job's metrics, finish dates, strategy and pools, as a one-job summary
    deadline: str | None = None  # ISO date
    deadline_probability: float | None = None  # share of replications that finish by the end of the deadline day
    # when the horizon ends before the deadline and some replications had not finished by then, the share is not
    # known (null): at least this many met it
    deadline_at_least: float | None = None

    def to_json(self) -> dict[str, Any]:
        """name, priority, metrics, finish_date, training and waiting days, strategy, pools used, deadline."""
        s = self.summary
        out: dict[str, Any] = {"name": self.name, "priority": self.priority, "metrics": s.metrics_json()}
        if s.finish_date is not None:
            out["finish_date"] = s.finish_date.to_json()
        for k in ("training_days", "waiting_days"):
            if getattr(s, k) is not None:
                out[k] = getattr(s, k).to_json()
        if s.strategy is not None:
            out["strategy"] = s.strategy.to_json()
        out["limits"] = list(s.limits)  # (empty when nothing held the job: a key left out read as unknown)
        if bounds := {k: v for k, v in s.at_least_json().items() if k != "costs"}:  # (a job has no costs section)
            out["at_least"] = bounds
        if s.counted:  # the job's MFU and goodput of the replications where it trained
            out["counted"] = dict(s.counted)
        if self.deadline is not None:
            out["deadline"] = self.deadline
            out["deadline_probability"] = self.deadline_probability
            if self.deadline_at_least is not None:
                out["deadline_probability_at_least"] = self.deadline_at_least
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> JobSummary:
        """From one entry of summary.json ``jobs``."""
        return cls(name=str(d.get("name") or ""), priority=int(d.get("priority") or 1), summary=Summary.from_json(d),
                   deadline=d.get("deadline"), deadline_probability=d.get("deadline_probability"),
                   deadline_at_least=d.get("deadline_probability_at_least"))


@dataclass(frozen=True)
class Summary:
    """summary.json (docs/formats.md) as typed fields.

    ``metrics`` holds the distributions (time_to_train_days, cost_usd, energy_mwh, mfu, goodput, chip_hours) in
    summary.json's order; ``finish_probability`` (in the file, the second entry of ``metrics``) is a field of its own.
    """

    scenario: str = ""
    planner_version: str | None = None
    seed: int | None = None
    replications: int | None = None
    start: str | None = None  # ISO date of day 0
    strategy: StrategyChoice | None = None
    metrics: dict[str, Stat] = field(default_factory=dict)
    finish_probability: float | None = None
    expectations: tuple[ExpectationResult, ...] = ()
    limits: tuple[str, ...] = ()  # what held the job below the chips in service, in plain sentences
    finish_date: FinishDates | None = None
    training_days: Stat | None = None
    waiting_days: Stat | None = None
    pools_used: dict[str, int] | None = None  # "pool + pool" -> replications
    costs: Costs | None = None
    currency: CurrencyRate | None = None  # the scenario's second currency, when it has one
    jobs: tuple[JobSummary, ...] = ()  # with ``jobs:``: each job's own figures
    power_wait_chip_days: Stat | None = None  # with ``sites:``: chip-days delivered chips waited for power
    # the band each replication draws the cost model's error from: {p10, p90, basis, measurements, drawn}
    model_band: dict[str, Any] | None = None
    # replications that did not finish within the horizon: their cost, energy, chip-hours, MFU and goodput run to
    # the horizon only (summary.json ``unfinished_replications``, written when there are any)
    unfinished: int = 0
    # figures whose quantiles are lower bounds only because of those replications: metric -> ("mean", "p90", ...)
    # (summary.json ``at_least``, written when there are any): growing figures (cost, energy, chip-hours:
    # stats.lower_bounds), and times (time to train, training and waiting days: stats.time_bounds)
    at_least: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # pools of chips with no price (costs.unpriced: owned chips with no purchase price, a rental with none stated): the
    # spend leaves their write-off or rental out, so cost_usd is at least its figures (summary.json ``unpriced_pools``)
    unpriced_pools: tuple[str, ...] = ()
    # figures that fewer than every replication gave (MFU and goodput of replications that never trained): metric ->
    # how many gave it (summary.json ``counted``, written when there are any); their quantiles are of those alone
    counted: dict[str, int] = field(default_factory=dict)
    # how the mean idle spend stands to the truth, by the kind of each pool (costs.idle_bound): "", "at least", "at
    # most" or "neither"; None: worked out from the bounds alone (``idle_bound``)
    idle_state: str | None = None

    def bound(self, key: str, q: str = "p50") -> bool:
        """Whether ``key``'s ``q`` is a lower bound only (unfinished replications' spend ran to the horizon)."""
        return q in self.at_least.get(key, ())

    def spend_bound(self, key: str) -> bool:
        """Whether the mean spend ``key`` (committed_usd, used_usd, idle_usd) is known only as at least its figure.

        The committed spend when ``cost_usd``'s mean is (``at_least``); the used spend also whenever a replication
        stopped at the horizon (the chips it held grow with the run, a reservation's window or not); idle
        (committed - used) when either is.
        """
        committed = self.bound("cost_usd", "mean")
        return committed if key == "committed_usd" else committed or bool(self.unfinished)

    def idle_bound(self) -> str:
        """How the mean idle spend (committed - used) stands to the truth: "", "at least", "at most" or "neither".

        At most: the committed spend exact, the used one only at least its figure (a reservation's whole window,
        replications stopped by the horizon: they would have used more). At least: pools with no price leave their
        idle out, and nothing else is bound. Neither: the committed spend grows with a run the horizon stopped, or
        unpriced pools meet such a run (an unpriced reservation's idle read "$0.00", and the fleet's as exact).
        """
        if self.idle_state is not None:
            return self.idle_state
        if self.unpriced_pools:
            return "neither" if self.unfinished else "at least"
        if self.spend_bound("committed_usd"):
            return "neither"
        return "at most" if self.spend_bound("used_usd") else ""

    def idle_at_most(self) -> bool:
        """Whether the mean idle spend is at most its figure (``idle_bound``)."""
        return self.idle_bound() == "at most"

    def idle_mark(self) -> str:
        """The idle spend's mark in the reports: "≥ ", "≤ ", "~ " (neither bound) or ""."""
        return {"at least": "≥ ", "at most": "≤ ", "neither": "~ "}.get(self.idle_bound(), "")

    def at_least_json(self) -> dict[str, list[str]]:
        """summary.json ``at_least``: the figures known only as at least their value, and where each file shows them.

        The metrics' (``at_least``), and what follows from them: ``finish_date`` (the quantiles whose time to train is
        a bound: the date is then the earliest it can be, "≥" in the reports) and ``costs`` (the mean spend of the
        ``costs`` section, its pools' too: ``spend_bound``).
        """
        out = {k: list(v) for k, v in self.at_least.items() if k not in _DERIVED_BOUNDS}
        fd = self.finish_date
        dates = [q for q in ("p10", "p50", "p90") if fd is not None and fd.at(q) not in (None, NEVER)
                 and self.bound(TIME_KEY, q)]
        if dates:
            out["finish_date"] = dates
        spend = [k for k in ("committed_usd", "used_usd") if self.costs is not None and self.spend_bound(k)]
        if self.costs is not None and self.idle_bound() == "at least":
            spend.append("idle_usd")
        if spend:
            out["costs"] = spend
        return out

    def at_most_json(self) -> dict[str, list[str]]:
        """summary.json ``at_most``: the mean idle spend when it is at most its figure (``idle_at_most``)."""
        return {"costs": ["idle_usd"]} if self.costs is not None and self.idle_at_most() else {}

    def neither_json(self) -> dict[str, list[str]]:
        """summary.json ``neither_bound``: the mean idle spend when it is neither at least nor at most its figure."""
        return {"costs": ["idle_usd"]} if self.costs is not None and self.idle_bound() == "neither" else {}

    def stat(self, key: str) -> Stat | None:
        """The distribution of metric ``key`` (None when the summary has none)."""
        return self.metrics.get(key)

    def date_text(self, q: str = "p50") -> str:
        """The finish date at ``q`` for people: the ISO date, ``never``, or ``≥ date``.

        ``≥ date`` when its time to train is known only as at least a value (replications stopped by the horizon:
        ``at_least``).
        """
        fd = self.finish_date
        date = (fd.at(q) if fd is not None else None) or NEVER
        return f"≥ {date}" if date != NEVER and self.bound("time_to_train_days", q) else date

    def value(self, key: str, q: str = "p50") -> float | None:
        """Metric ``key`` as one finite number: its ``q`` (None when never), or the finish probability."""
        if key == PROBABILITY_KEY:
            return num(self.finish_probability)
        s = self.metrics.get(key)
        return s.at(q) if s is not None else None

    @property
    def passed(self) -> bool:
        """Whether every `expect` check held (True when there are none)."""
        return all(e.passed for e in self.expectations)

    def metrics_json(self) -> dict[str, Any]:
        """summary.json ``metrics``: time to train, then the finish probability, then the other metrics."""
        out: dict[str, Any] = {}
        if TIME_KEY in self.metrics:
            out[TIME_KEY] = self.metrics[TIME_KEY].to_json()
        if self.finish_probability is not None:
            out[PROBABILITY_KEY] = self.finish_probability
        out.update({k: v.to_json() for k, v in self.metrics.items() if k != TIME_KEY})
        return out

    def to_json(self) -> dict[str, Any]:
        """Exactly summary.json, keys in the contract's order; sections that are None are left out."""
        head = {"scenario": self.scenario, "planner_version": self.planner_version, "seed": self.seed,
                "replications": self.replications, "start": self.start,
                "strategy": self.strategy.to_json() if self.strategy is not None else None}
        out: dict[str, Any] = {k: v for k, v in head.items() if v is not None or k == "scenario"}
        out["metrics"] = self.metrics_json()
        out["expectations"] = [e.to_json() for e in self.expectations]
        out["limits"] = list(self.limits)
        tail = {"finish_date": self.finish_date.to_json() if self.finish_date is not None else None,
                "training_days": self.training_days.to_json() if self.training_days is not None else None,
                "waiting_days": self.waiting_days.to_json() if self.waiting_days is not None else None,
                "pools_used": dict(self.pools_used) if self.pools_used is not None else None,
                "costs": self.costs.to_json() if self.costs is not None else None,
                "currency": self.currency.to_json() if self.currency is not None else None,
                "jobs": [j.to_json() for j in self.jobs] if self.jobs else None,
                "power_wait_chip_days": (self.power_wait_chip_days.to_json()
                                         if self.power_wait_chip_days is not None else None),
                "model_band": dict(self.model_band) if self.model_band is not None else None,
                "unfinished_replications": self.unfinished or None,
                "at_least": self.at_least_json() or None,
                "at_most": self.at_most_json() or None,
                "neither_bound": self.neither_json() or None,
                "unpriced_pools": list(self.unpriced_pools) or None,
                "counted": dict(self.counted) or None}
        out.update({k: v for k, v in tail.items() if v is not None})
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Summary:
        """A summary from its JSON form (a summary.json file, another run); missing optional keys are None."""
        metrics = _mapping(d.get("metrics"))
        pools_used = d.get("pools_used")
        return cls(
            scenario=str(d.get("scenario") or ""),
            planner_version=d.get("planner_version"),
            seed=d.get("seed"),
            replications=d.get("replications"),
            start=d.get("start"),
            strategy=_optional(d, "strategy", StrategyChoice.from_json),
            metrics={k: Stat.from_json(v) for k, v in metrics.items()
                     if k != PROBABILITY_KEY and isinstance(v, Mapping)},
            finish_probability=metrics.get(PROBABILITY_KEY),
            expectations=tuple(ExpectationResult.from_json(e) for e in _list(d.get("expectations"))
                               if isinstance(e, Mapping)),
            limits=tuple(s for s in _list(d.get("limits")) if isinstance(s, str)),
            finish_date=_optional(d, "finish_date", FinishDates.from_json),
            training_days=_optional(d, "training_days", Stat.from_json),
            waiting_days=_optional(d, "waiting_days", Stat.from_json),
            pools_used=dict(pools_used) if isinstance(pools_used, Mapping) else None,
            costs=_optional(d, "costs", Costs.from_json),
            currency=_optional(d, "currency", CurrencyRate.from_json),
            jobs=tuple(JobSummary.from_json(j) for j in _list(d.get("jobs")) if isinstance(j, Mapping)),
            power_wait_chip_days=_optional(d, "power_wait_chip_days", Stat.from_json),
            model_band=dict(d["model_band"]) if isinstance(d.get("model_band"), Mapping) else None,
            unfinished=int(d.get("unfinished_replications") or 0),
            at_least={str(k): tuple(str(q) for q in v) for k, v in _mapping(d.get("at_least")).items()
                      if isinstance(v, list) and k not in _DERIVED_BOUNDS},
            unpriced_pools=tuple(str(p) for p in _list(d.get("unpriced_pools"))),
            counted={str(k): int(v) for k, v in _mapping(d.get("counted")).items()
                     if isinstance(v, int) and not isinstance(v, bool)},
            idle_state=_idle_state(d),
        )


def _idle_state(d: Mapping[str, Any]) -> str | None:
    """The idle spend's bound as summary.json writes it (``at_least``, ``at_most``, ``neither_bound``; none: exact).

    None without a ``costs`` section (nothing to bound).
    """
    for key, state in (("at_least", "at least"), ("at_most", "at most"), ("neither_bound", "neither")):
        if "idle_usd" in _list(_mapping(d.get(key)).get("costs")):
            return state
    return "" if isinstance(d.get("costs"), Mapping) else None


def as_summary(value: Summary | Mapping[str, Any] | None) -> Summary | None:
    """A Summary as is, a summary.json mapping read with :meth:`Summary.from_json`, None as None (boundaries only)."""
    if value is None or isinstance(value, Summary):
        return value
    return Summary.from_json(value)


def pools_trained(summary: Summary) -> list[str]:
    """The pools a run trained on, most often; none for a job that never trained.

    A portfolio's: every job's (its own ``strategy`` names its first trained job's pair); else its strategy's.
    """
    if summary.jobs:
        jobs = [j.summary.strategy.pools for j in summary.jobs if j.summary.strategy is not None]
        return list(dict.fromkeys(p for pools in jobs for p in pools))
    st = summary.strategy
    if st is None:
        return []
    if st.pools:
        return list(st.pools)
    # most replications never trained: the pools of those that did (the most common pair), none when none did
    trained = [(n, pair) for pair, n in st.choices.items() if not pair.endswith(f": {UNTRAINED}")]
    return max(trained, key=lambda t: t[0])[1].split(": ", 1)[1].split(" + ") if trained else []
