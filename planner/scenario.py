"""The scenario file format: one pydantic model per section, ``extra="forbid"``.

`planner schema` prints it as JSON Schema; docs/formats.md describes it.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from . import metrics, plan
from .arch import ModelArch
from .catalog import Chip, chips, models
from .perf.layout import MAX_UNITS, Parallelism
from .validation import field_error

MAX_POOLS = 64
MAX_DELIVERIES = 1_000
MAX_HORIZON_DAYS = 36_500
MAX_REPLICATIONS = 100_000

PosFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Units = Annotated[int, Field(ge=0, le=MAX_UNITS)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Workload(_Section):
    """What is trained."""

    model: str | ModelArch = Field(description="a preset id (planner catalog models) or an explicit architecture")
    tokens: float = Field(gt=0, le=1e16, allow_inf_nan=False, description="training tokens")
    seq_len: int = Field(ge=16, le=4_194_304, description="sequence length [tokens]")
    global_batch_tokens: float | None = Field(
        None, gt=0, le=1e10, allow_inf_nan=False, description="tokens per optimizer step; default by model size"
    )
    precision: Literal["bf16", "fp8"] = "bf16"

    @field_validator("model")
    @classmethod
    def _known_model(cls, v):
        if isinstance(v, str) and v not in models():
            known = ", ".join(sorted(models()))
            raise ValueError(f"unknown model preset {v!r}; known: {known}")
        return v

    @model_validator(mode="after")
    def _batch(self) -> Workload:
        if self.global_batch_tokens is not None and self.global_batch_tokens < self.seq_len:
            raise ValueError(
                f"global_batch_tokens ({self.global_batch_tokens:g}) is less than one sequence ({self.seq_len})"
            )
        return self

    @property
    def arch(self) -> ModelArch:
        """The model's architecture (the preset's, or the one written out)."""
        return models()[self.model].arch if isinstance(self.model, str) else self.model

    @property
    def model_name(self) -> str:
        """The preset id, or 'custom'."""
        return self.model if isinstance(self.model, str) else "custom"


class Delivery(_Section):
    """Planned cumulative owned units by a date."""

    date: dt.date
    units: Units = Field(description="CUMULATIVE units delivered by this date")


class Cloud(_Section):
    """Rented capacity, available between ``from`` and ``until`` at a price."""

    units: Units = Field(gt=0)
    from_: dt.date = Field(alias="from")
    until: dt.date
    price_per_chip_hour_usd: float = Field(0.0, ge=0, le=10_000, allow_inf_nan=False)
    billing: Literal["reserved", "on_demand"] = Field(
        "reserved", description="reserved: the whole window is committed; on_demand: only the hours the job rents")

    @model_validator(mode="after")
    def _order(self) -> Cloud:
        if self.until <= self.from_:
            raise field_error("until", f"{self.until} must be after from ({self.from_})")
        return self


class Distribution(_Section):
    """A random quantity: ``fixed`` value, ``uniform``/``triangular`` between low and high, or ``normal``."""

    dist: Literal["fixed", "uniform", "triangular", "normal", "lognormal"] = "fixed"
    value: float | None = Field(None, allow_inf_nan=False)
    low: float | None = Field(None, allow_inf_nan=False)
    mode: float | None = Field(None, allow_inf_nan=False)
    high: float | None = Field(None, allow_inf_nan=False)
    mean: float | None = Field(None, allow_inf_nan=False)
    sd: float | None = Field(None, ge=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _params(self) -> Distribution:
        need = {
            "fixed": ("value",),
            "uniform": ("low", "high"),
            "triangular": ("low", "mode", "high"),
            "normal": ("mean", "sd"),
            "lognormal": ("mean", "sd"),
        }[self.dist]
        missing = [k for k in need if getattr(self, k) is None]
        if missing:
            raise ValueError(f"{self.dist} distribution needs {', '.join(missing)}")
        if self.dist in ("uniform", "triangular") and self.low > self.high:
            raise ValueError(f"low ({self.low}) must not exceed high ({self.high})")
        if self.dist == "triangular" and not self.low <= self.mode <= self.high:
            raise ValueError("mode must lie between low and high")
        if self.dist == "lognormal" and self.mean <= 0:
            raise ValueError("lognormal mean must be positive")
        return self


class DeliveryRisk(_Section):
    """Uncertain deliveries: every tranche slips by ``slip_days`` and falls short by ``shortfall_fraction``."""

    slip_days: Distribution | None = None
    shortfall_fraction: Distribution | None = None


class Pool(_Section):
    """One chip class at one site."""

    name: str = Field(min_length=1, max_length=64)
    chip: str = Field(min_length=1, max_length=64)
    site: str = Field("default", min_length=1, max_length=64)
    units: Units = 0
    ordered_units: Units | None = None
    deliveries: list[Delivery] = Field(default_factory=list, max_length=MAX_DELIVERIES)
    commissioning_days: float = Field(0.0, ge=0, le=3650, allow_inf_nan=False)
    reserved_fraction: Fraction = 0.0
    parallelism: Parallelism | None = None
    cloud: Cloud | None = None
    delivery_risk: DeliveryRisk | None = None
    unit_price_usd: float | None = Field(None, ge=0, le=1e7, allow_inf_nan=False)
    mtbf_chip_days: float | None = Field(None, gt=0, le=1e7, allow_inf_nan=False)
    network_gbps: float | None = Field(
        None, gt=0, le=1e5, allow_inf_nan=False,
        description="scale-out network per chip [Gbit/s]; default: the chip's catalog value")
    stack: Literal["basic", "standard", "optimized"] = Field(
        "standard", description="software-stack maturity (planner/data/stacks.yaml): what it overlaps and how fast "
                                "its kernels run; standard = a current open framework run by a capable team")
    fused_attention: bool | None = Field(None, description="fused (Flash) attention available; default: the stack's")
    efficiency: float = Field(1.0, gt=0, le=2, allow_inf_nan=False,
                              description="your own factor on compute rates (e.g. from a benchmark of your cluster)")

    @model_validator(mode="after")
    def _supply(self) -> Pool:
        last_date, last_units = None, self.units
        for i, d in enumerate(self.deliveries):
            if last_date is not None and d.date <= last_date:
                raise field_error(f"deliveries[{i}].date", f"{d.date} must be after the previous date ({last_date})")
            if d.units < last_units:
                raise field_error(f"deliveries[{i}].units",
                                  f"{d.units} is cumulative and must not decrease (previous {last_units})")
            last_date, last_units = d.date, d.units
        if self.ordered_units is not None and last_units > self.ordered_units:
            raise ValueError(f"deliveries reach {last_units} units, more than ordered_units ({self.ordered_units})")
        if self.planned_units == 0:
            raise ValueError("pool has no chips: set units, deliveries or cloud")
        return self

    @property
    def planned_units(self) -> int:
        """Full planned size: owned units after all deliveries, plus the cloud allotment."""
        return plan.planned_units(self)

    @property
    def usable_units(self) -> int:
        """Planned size less the reserved share."""
        return plan.usable(self.planned_units, self.reserved_fraction)


class Link(_Section):
    """A network link between two sites."""

    sites: list[str] = Field(min_length=2, max_length=2)
    gbps: float = Field(gt=0, le=1e6, allow_inf_nan=False)
    latency_ms: float = Field(0.0, ge=0, le=10_000, allow_inf_nan=False)


class Strategy(_Section):
    """How the pools train the model together, and when the job re-plans."""

    mode: Literal["auto", "single", "sync", "diloco", "sequential"] = "auto"
    objective: Literal["time", "cost"] = "time"
    min_units_to_start: int | None = Field(None, ge=1, le=MAX_UNITS)
    replan_min_gain: float = Field(0.1, ge=0, le=10, description="re-plan when capacity grows by this share")
    replan_overhead_hours: float = Field(0.5, ge=0, le=1000)
    sync_every_steps: int = Field(100, ge=1, le=1_000_000, description="DiLoCo outer-step interval")
    diloco_token_efficiency: Fraction = Field(0.9, description="useful share of tokens under DiLoCo")
    migration_downtime_hours: float = Field(2.0, ge=0, le=10_000)


class Reliability(_Section):
    """Failures, repairs, checkpoints, restarts and planned maintenance."""

    enabled: bool = True
    mtbf_chip_days: float | None = Field(None, gt=0, le=1e7, description="override the catalog for every pool")
    repair_days: float = Field(3.0, ge=0, le=365, description="mean time a failed chip's node is out of service")
    checkpoint_interval_hours: Literal["auto"] | PosFloat = "auto"
    checkpoint_write_s: float | None = Field(None, ge=0, le=86_400, description="default: state size / storage")
    storage_gbyteps: float = Field(2_000.0, gt=0, le=1e6, description="checkpoint storage bandwidth [GB/s]")
    restart_base_minutes: float = Field(5.0, ge=0, le=10_000)
    restart_minutes_per_1000_chips: float = Field(0.5, ge=0, le=10_000)
    maintenance_every_days: float | None = Field(1.15, gt=0, le=3650, description="planned interruptions")
    maintenance_minutes: float = Field(10.0, ge=0, le=10_000)


class Costs(_Section):
    """Prices, amortization, electricity and PUE."""

    amortization_years: float = Field(4.0, gt=0, le=50)
    energy_usd_per_kwh: float = Field(0.08, ge=0, le=100, description="industrial electricity price")
    pue: float = Field(1.48, ge=1, le=5, description="Uptime Institute 2025: facilities built since 2020 (S62)")
    unit_price_usd: dict[str, float] = Field(default_factory=dict, description="chip id -> price override")


class Simulation(_Section):
    """Monte Carlo settings: the root seed and the number of replications."""

    seed: int = Field(0, ge=0, le=2**63 - 1)
    replications: int = Field(1, ge=1, le=MAX_REPLICATIONS)


class Expectation(_Section):
    """A CI check on one metric of the summary (exit 1 when it fails)."""

    metric: Literal[metrics.KEYS]  # type: ignore[valid-type]
    quantile: Fraction | None = None
    max: float | None = Field(None, allow_inf_nan=False)
    min: float | None = Field(None, allow_inf_nan=False)

    @model_validator(mode="after")
    def _bound(self) -> Expectation:
        if self.max is None and self.min is None:
            raise ValueError("set max, min or both")
        return self


class Scenario(_Section):
    """A whole scenario file."""

    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    start: dt.date = dt.date(2025, 1, 1)
    horizon_days: float = Field(730.0, gt=0, le=MAX_HORIZON_DAYS, allow_inf_nan=False)
    workload: Workload
    fleet: list[Pool] = Field(min_length=1, max_length=MAX_POOLS)
    chips: list[Chip] = Field(default_factory=list, max_length=256, description="custom chip classes")
    links: list[Link] = Field(default_factory=list, max_length=4096)
    strategy: Strategy = Field(default_factory=Strategy)
    reliability: Reliability = Field(default_factory=Reliability)
    costs: Costs = Field(default_factory=Costs)
    simulation: Simulation = Field(default_factory=Simulation)
    expect: list[Expectation] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def _cross(self) -> Scenario:
        known = set(chips()) | {c.id for c in self.chips}
        names: set[str] = set()
        for i, p in enumerate(self.fleet):
            if p.chip not in known:
                raise field_error(f"fleet[{i}].chip", f"unknown chip {p.chip!r}; known: {', '.join(sorted(known))}")
            if p.name in names:
                raise field_error(f"fleet[{i}].name", f"pool name {p.name!r} is used twice")
            names.add(p.name)
        return self

    def chip(self, chip_id: str) -> Chip:
        """A chip class by id: the scenario's own custom chips first, then the catalog."""
        for c in self.chips:
            if c.id == chip_id:
                return c
        return chips()[chip_id]
