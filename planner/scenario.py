"""The scenario file format: one pydantic model per section, ``extra="forbid"``.

`planner schema` prints it as JSON Schema; docs/formats.md describes it.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from . import metrics, plan
from .arch import ModelArch
from .catalog import Chip, chips, models
from .kinds import MULTI_POOL_MODES, Mode
from .perf.layout import MAX_UNITS, Parallelism
from .perf.reliability import MANUAL_INTERVENTION_HOURS, MANUAL_INTERVENTION_SHARE
from .validation import PlainValues, Visible, did_you_mean, field_error, looks_like
from .yamlio import clip

MAX_POOLS = 64
MAX_DESCRIPTION_CHARS = 4_000  # a scenario description: a paragraph or a few, never a whole document
MAX_DELIVERIES = 1_000
MAX_HORIZON_DAYS = 36_500
# a distribution's parameters (slips in days, shortfalls as shares): within a century of slip either way, and a
# slip drawn is cut there too (sim/supply.py): a delivery a century late never arrives within any horizon
MAX_DRAW = 36_500.0
MAX_REPLICATIONS = 100_000
MAX_SEED = 2**63 - 1
MIN_MAINTENANCE_EVERY_DAYS = 1 / 24  # one planned interruption an hour at most
LAST_DAY = dt.date(2262, 4, 10)  # the report's calendar is pandas datetime64[ns]: pandas.Timestamp.max is 2262-04-11
FIRST_DAY = dt.date(1677, 9, 22)  # the same calendar's first whole day: pandas.Timestamp.min is 1677-09-21 00:12:43
# checkpoints at most once a second (no storage writes faster): 5e-324 h made the cycle count overflow
MIN_CHECKPOINT_INTERVAL_HOURS = 1 / 3600
MAX_CHECKPOINT_INTERVAL_HOURS = 87_600  # ten years: longer than any horizon worth simulating, never a checkpoint
MIN_LINK_GBPS = 0.001  # 1 Mbit/s: slower links make a step's transfer time overflow to infinity (5e-324 did)
# pool names the report's month-by-month table uses for its own columns (a pool column of the same name would
# collide with them: "month" crashed the report, "total" silently replaced the pool's column)
RESERVED_POOL_NAMES = ("month", "total")
MAX_PER_USD = 1e6  # a bound that catches a mistyped rate: ISO 4217 currencies in use quote below a million per USD
MIN_PER_USD = 1e-3  # ... and above a thousandth (the dearest, the Kuwaiti dinar, is about 0.3 per USD)



def _written_as(value: str, known) -> str:
    """A reference's hint when it looks the same as a known name but is written otherwise (else "").

    Its Unicode form (an accent composed or not), invisible or compatibility characters: ``looks_like`` compares.
    """
    match = next((k for k in known if k != value and looks_like(k) == looks_like(value)), None)
    return (f" ({value!r} looks the same as {match!r} but is written otherwise: an accent composed or not, an "
            f"invisible or compatibility character; write it as {match!r} is written)") if match is not None else ""


def _distinct(names: list[tuple[str, str]], what: str) -> None:
    """Refuse a name that looks the same as an earlier one (``looks_like``); ``names``: (field path, name)."""
    seen: dict[str, tuple[str, str]] = {}
    for field, name in names:
        key = looks_like(name)
        if key in seen and seen[key][1] != name:
            raise field_error(field, f"{what} {name!r} looks the same as {seen[key][1]!r} ({seen[key][0]}): they "
                                     "differ only in spaces, invisible or compatibility characters")
        seen.setdefault(key, (field, name))


PosFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
PosFraction = Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]  # a share of speed: 0 would never train
Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Units = Annotated[int, Field(ge=0, le=MAX_UNITS)]


def _in_calendar(day: dt.date) -> dt.date:
    """A date the report's calendar can hold (``start`` is also checked against start + horizon_days)."""
    if day < FIRST_DAY:
        raise ValueError(f"must not be before {FIRST_DAY}, the first day the report's calendar holds")
    if day > LAST_DAY:  # e.g. 9999-12-31 for "open-ended": the cash flow bills a reservation to its end
        raise ValueError(f"must not be after {LAST_DAY}, the last day the report's calendar holds (for an "
                         "open-ended rental or plan, give its real end: a date past the horizon is fine)")
    return day


_NUMBER = re.compile(r"\s*[-+]?(?:\d[\d_]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*")


def _no_number(value: object) -> object:
    """Refuse a number as a date: pydantic would read ``start: 0`` (or ``"0"``) as a Unix time, 1970-01-01.

    A date is an ISO string (``2025-03-01``) or a date; anything else goes on to pydantic's date parsing.
    """
    if (isinstance(value, numbers.Number) and not isinstance(value, bool)) or (
            isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError("a date is written YYYY-MM-DD (e.g. 2025-03-01), not as a number")
    if isinstance(value, bytes):
        raise ValueError("a date is written YYYY-MM-DD (e.g. 2025-03-01)")
    if isinstance(value, str) and value != value.strip():  # (pydantic called "2025-03-01\n" too short)
        raise ValueError("a date is written YYYY-MM-DD, without spaces or line breaks around it")
    return value


# a day: an ISO date (a string or a date), never a number, and in the report's calendar
Day = Annotated[dt.date, BeforeValidator(_no_number), AfterValidator(_in_calendar)]


class _Section(PlainValues):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Workload(_Section):
    """What is trained."""

    model: str | ModelArch = Field(description="a preset id (planner catalog models) or an explicit architecture")
    tokens: float = Field(gt=0, le=1e16, allow_inf_nan=False, description="training tokens")
    seq_len: int = Field(ge=16, le=4_194_304, description="sequence length [tokens]")
    global_batch_tokens: float | None = Field(
        None, gt=0, le=1e10, allow_inf_nan=False, description="tokens per optimizer step; default by model size"
    )
    precision: Literal["bf16", "fp16", "fp8"] = "bf16"

    @field_validator("model")
    @classmethod
    def _known_model(cls, v):
        if isinstance(v, str) and v not in models():
            known = ", ".join(sorted(models()))
            raise ValueError(f"unknown model preset {clip(v)!r}{did_you_mean(v, models())}; known: {known}")
        return v

    @model_validator(mode="after")
    def _batch(self) -> Workload:
        tokens = getattr(self, "tokens", None)  # (a measured row, which shares this check, trains no tokens)
        if tokens is not None and tokens < self.seq_len:  # (1e-300 tokens trained in 1.9e-311 days)
            raise field_error("tokens", f"{tokens:g} is below one sequence ({self.seq_len} tokens): a job "
                                        "trains whole sequences")
        if self.global_batch_tokens is not None and self.global_batch_tokens < self.seq_len:
            raise ValueError(
                f"global_batch_tokens ({self.global_batch_tokens:g}) is below one sequence ({self.seq_len})"
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


MAX_MEASURED = 1_000  # a pool's own throughput measurements (a pilot campaign's rows)


class Measured(_Section):
    """One throughput figure the lab measured on this pool's chips and software (planner/perf/measured.py)."""

    model: str | ModelArch = Field(description="a preset id or an explicit architecture, as in workload")
    units: int = Field(ge=1, le=MAX_UNITS, description="chips the measured run trained on")
    seq_len: int = Field(ge=16, le=4_194_304, description="sequence length [tokens]")
    global_batch_tokens: float | None = Field(None, gt=0, le=1e10, allow_inf_nan=False,
                                              description="tokens per optimizer step; default by model size")
    precision: Literal["bf16", "fp8"] = "bf16"
    tokens_per_s_per_chip: float = Field(ge=0.01, le=1e8, allow_inf_nan=False, description="measured [tokens/s/chip]")
    parallelism: Parallelism | None = Field(None, description="the measured run's layout, as far as known")

    _known_model = field_validator("model")(Workload._known_model.__func__)
    _batch = model_validator(mode="after")(Workload._batch)

    @property
    def arch(self) -> ModelArch:
        """The measured model's architecture."""
        return models()[self.model].arch if isinstance(self.model, str) else self.model


class Delivery(_Section):
    """Planned cumulative owned units by a date."""

    date: Day
    units: Units = Field(description="CUMULATIVE units delivered by this date")


def _no_unread_file(value: object) -> object:
    """``deliveries: {file: ...}`` reaches validation only when no scenario file was there to read it against."""
    if isinstance(value, Mapping) and "file" in value:
        raise ValueError("a deliveries file is read relative to the scenario file: give the scenario as a file "
                         "(planner validate FILE), or list the deliveries")
    return value


# a pool's delivery plan: a list, or {file: ...} that planner.loader reads into one before validation
Deliveries = Annotated[list[Delivery], BeforeValidator(_no_unread_file)]


def _deliveries_schema(schema: dict) -> None:
    """``planner schema``: ``deliveries`` is a list or ``{file: path}`` (CSV or XLSX, read by planner.loader).

    And a pool's ``name`` may be left out (``Scenario._pool_names`` names it after its chip).
    """
    if "name" in schema.get("required", []):
        schema["required"] = [r for r in schema["required"] if r != "name"]
    listed = schema.get("properties", {}).get("deliveries")
    if not isinstance(listed, dict):
        return
    as_list = {k: v for k, v in listed.items() if k not in ("title", "description", "default")}
    as_file = {"type": "object", "additionalProperties": False, "required": ["file"],
               "properties": {"file": {"type": "string", "minLength": 1,
                                       "description": "CSV or XLSX with columns date and units (cumulative), "
                                                      "path relative to the scenario file"}}}
    schema["properties"]["deliveries"] = {"anyOf": [as_list, as_file], "title": listed.get("title", "Deliveries"),
                                          "description": "planned CUMULATIVE units by date: a list, or a file"}


class Currency(_Section):
    """A second currency every sum of money is also shown in, beside USD."""

    code: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, three upper-case letters (e.g. CNY)")
    per_usd: float = Field(ge=MIN_PER_USD, le=MAX_PER_USD, allow_inf_nan=False,
                           description="units of this currency per US dollar (e.g. 7.1 CNY per USD)")

    @model_validator(mode="after")
    def _not_usd(self) -> Currency:
        if self.code == "USD":
            raise field_error("code", "money is always shown in USD; name another currency")
        return self


class Cloud(_Section):
    """Rented capacity, available between ``from`` and ``until`` at a price."""

    units: Units = Field(ge=0, description="0: nothing rented (a sweep or goal seek may start there)")
    from_: Day = Field(alias="from")
    until: Day
    price_per_chip_hour_usd: float = Field(0.0, ge=0, le=10_000, allow_inf_nan=False)
    billing: Literal["reserved", "on_demand"] = Field(
        "reserved", description="reserved: the whole window is committed; on_demand: only the hours the job rents")

    @model_validator(mode="after")
    def _order(self) -> Cloud:
        if self.until <= self.from_:
            raise field_error("until", f"{self.until} must be after from ({self.from_})")
        return self

    @property
    def stated_price_usd(self) -> float | None:
        """The price per chip-hour the file states; None when it states none (not free: costs.unpriced)."""
        return self.price_per_chip_hour_usd if "price_per_chip_hour_usd" in self.model_fields_set else None


class Distribution(_Section):
    """A random quantity: ``fixed`` value, ``uniform``/``triangular`` between low and high, or ``normal``."""

    dist: Literal["fixed", "uniform", "triangular", "normal", "lognormal"] = "fixed"
    value: float | None = Field(None, ge=-MAX_DRAW, le=MAX_DRAW, allow_inf_nan=False)
    low: float | None = Field(None, ge=-MAX_DRAW, le=MAX_DRAW, allow_inf_nan=False)
    mode: float | None = Field(None, ge=-MAX_DRAW, le=MAX_DRAW, allow_inf_nan=False)
    high: float | None = Field(None, ge=-MAX_DRAW, le=MAX_DRAW, allow_inf_nan=False)
    mean: float | None = Field(None, ge=-MAX_DRAW, le=MAX_DRAW, allow_inf_nan=False)
    sd: float | None = Field(None, ge=0, le=MAX_DRAW, allow_inf_nan=False)

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
        if self.dist == "lognormal" and self.mean < 1e-6:  # (its spread divides by the mean squared)
            raise ValueError("lognormal mean must be at least 1e-6")
        return self


class DeliveryRisk(_Section):
    """Uncertain deliveries: every tranche slips by ``slip_days`` and falls short by ``shortfall_fraction``."""

    slip_days: Distribution | None = None
    shortfall_fraction: Distribution | None = None

    @model_validator(mode="after")
    def _a_share(self) -> DeliveryRisk:
        """A shortfall is a share of the tranche: its parameters lie in 0..1 (30 read as 30% lost every chip)."""
        d = self.shortfall_fraction
        if d is not None:
            for k in ("value", "low", "mode", "high", "mean"):
                x = getattr(d, k)
                if x is not None and not 0.0 <= x <= 1.0:
                    raise field_error(f"shortfall_fraction.{k}", f"{x:g} is not a share between 0 and 1 (a shortfall "
                                                                 f"of 30% is 0.3)")
        return self


class Pool(_Section):
    """One chip class at one site."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, json_schema_extra=_deliveries_schema)

    name: Visible = Field(min_length=1, max_length=64)
    chip: str = Field(min_length=1, max_length=64)
    site: Visible = Field("default", min_length=1, max_length=64)
    units: Units = 0
    ordered_units: Units | None = None
    deliveries: Deliveries = Field(default_factory=list, max_length=MAX_DELIVERIES)
    commissioning_days: float = Field(0.0, ge=0, le=3650, allow_inf_nan=False)
    reserved_fraction: Fraction = 0.0
    parallelism: Parallelism | None = None
    cloud: Cloud | None = None
    delivery_risk: DeliveryRisk | None = None
    unit_price_usd: float | None = Field(None, ge=0, le=1e7, allow_inf_nan=False)
    mtbf_chip_days: float | None = Field(None, gt=0, le=1e7, allow_inf_nan=False)
    # what a lab knows of this pool from its own logs (default: the reliability section's)
    restart_base_minutes: float | None = Field(None, ge=0, le=10_000, allow_inf_nan=False,
                                               description="detect, reschedule and reload a job on this pool [min]")
    restart_minutes_per_1000_chips: float | None = Field(None, ge=0, le=10_000, allow_inf_nan=False,
                                                         description="restart time added per 1,000 chips [min]")
    checkpoint_write_s: float | None = Field(None, ge=0, le=86_400, allow_inf_nan=False,
                                             description="blocking time of one checkpoint write on this pool [s]")
    manual_intervention_share: float | None = Field(
        None, ge=0, le=1, allow_inf_nan=False,
        description="share of this pool's failures that wait for people before the restart (default: the "
                    "reliability section's)")
    manual_intervention_hours: float | None = Field(
        None, ge=0, le=10_000, allow_inf_nan=False,
        description="mean wait for a manual intervention on this pool [h] (drawn exponential)")
    network_gbps: float | None = Field(
        None, ge=0.1, le=1e5, allow_inf_nan=False,  # (the catalog's scale_out_gbps bounds)
        description="scale-out network per chip [Gbit/s]; default: the instance's (`instance`), else the chip's "
                    "catalog value")
    instance: str | None = Field(
        None, max_length=64,
        description="a cloud instance type from the catalog (p5.48xlarge, Standard_ND96isr_H100_v5, a3-megagpu-8g, "
                    "BM.GPU.H100.8, ...): its GPU network per chip sets network_gbps")
    stack: Literal["basic", "standard", "optimized"] = Field(
        "standard", description="software-stack maturity (planner/data/stacks.yaml): what it overlaps and how fast "
                                "its kernels run; standard = a current open framework run by a capable team")
    fused_attention: bool | None = Field(None, description="fused (Flash) attention available; default: the stack's")
    efficiency: float = Field(1.0, ge=0.01, le=2, allow_inf_nan=False,  # (1% of the model's rates at the least)
                              description="your own factor on compute rates (e.g. from a benchmark of your cluster)")
    measured: list[Measured] = Field(default_factory=list, max_length=MAX_MEASURED,
                                     description="your own throughput measurements on this pool: its efficiency is "
                                                 "fitted from them (planner/perf/measured.py)")

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
        if self.planned_units == 0 and self.cloud is None:  # cloud.units: 0 says "nothing rented" on purpose
            raise ValueError("pool has no chips: set units, deliveries or cloud")
        self._read_by_owned_chips()
        self._instance_network()
        return self

    def pins_problem(self) -> str | None:
        """Why no layout can match the pinned degrees, by their chips alone (tp x pp x cp x dp, Layout.units), or None.

        A file's own pins are refused with it (loader.load_scenario); a point of a sweep, a sensitivity or a goal seek
        with fewer chips is a point where no layout fits, never the whole command's error.
        """
        pin = self.parallelism
        if pin is None or pin.dp is None:  # without dp, the search fills it from the chips there are
            return None
        need = (pin.tp or 1) * (pin.pp or 1) * (pin.cp or 1) * pin.dp
        if need <= self.usable_units:
            return None
        return (f"the pinned degrees need at least {need:,} chips (tp x pp x cp x dp), more than the "
                f"{self.usable_units:,} the pool has for training at its largest")

    def _instance_network(self) -> None:
        """``instance``: a catalog cloud instance; its GPU network per chip is the pool's unless network_gbps is set."""
        if self.instance is None:
            return
        from .catalog import instances

        inst = instances().get(self.instance)
        if inst is None:
            raise field_error("instance", f"unknown instance type {self.instance!r}; known: "
                                          + ", ".join(sorted(instances())))
        if self.chip in chips() and inst.chip in chips() and self.chip != inst.chip:
            raise field_error("instance", f"{inst.id} carries {inst.chip}, not the pool's chip {self.chip}")
        if self.network_gbps is None:
            object.__setattr__(self, "network_gbps", inst.gbps_per_chip)  # resolved once, never re-applied

    def _read_by_owned_chips(self) -> None:
        """Refuse a setting of owned chips on a pool that only rents: nothing would read it."""
        if self.cloud is None or self.units or self.deliveries:
            return
        why = "only owned chips (units, deliveries) have it; this pool only rents"
        # (reserved_fraction is read on a rental too: a share of the rented chips held back for other work)
        for name in ("commissioning_days", "ordered_units", "unit_price_usd"):
            if name in self.model_fields_set and getattr(self, name):
                raise field_error(name, f"{why}: a rental is in service, all the job's, and priced by the hour "
                                        "from cloud.from")
        risk = self.delivery_risk
        if risk is not None and risk.shortfall_fraction is not None:
            raise field_error("delivery_risk.shortfall_fraction",
                              f"{why}: a rental's slip_days moves its start, a shortfall of rented chips is not "
                              "modelled")

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
    gbps: float = Field(ge=MIN_LINK_GBPS, le=1e6, allow_inf_nan=False,
                        description="the link's whole bandwidth between the two sites [Gbit/s, one direction; "
                                    "not GB/s, not per chip]: 400 for a 400 Gbit/s wide-area link")
    latency_ms: float = Field(0.0, ge=0, le=10_000, allow_inf_nan=False, description="one-way latency [ms]")


class StrategySettings(_Section):
    """How the pools train the model together, and when the job re-plans."""

    mode: Literal["auto", "single", "sync", "diloco", "sequential"] = "auto"
    objective: Literal["time", "cost"] = "time"
    min_units_to_start: int | None = Field(None, ge=1, le=MAX_UNITS)
    # while more chips are to come (sim/engine.py ``_more_to_come``): with none, any faster plan that finishes sooner
    # after the re-plan's overhead is taken (at 10% for the last chips too, 832 chips of an order delivered five days
    # early finished a job 3.5 days later; at 0 always, a pool growing daily re-planned daily, 4 days later)
    replan_min_gain: float = Field(0.1, ge=0, le=10, description="a plan less than this share faster waits for the "
                                   "next dated step that brings a faster one, unless it pays before then")
    replan_overhead_hours: float = Field(0.5, ge=0, le=1000)
    sync_every_steps: int = Field(100, ge=1, le=1_000_000, description="DiLoCo outer-step interval H [inner steps]")
    diloco_token_efficiency: PosFraction | None = Field(
        None, description="useful share of tokens under DiLoCo; default 1 - 0.02 log2(replicas) (Charles et al. 2025)")
    migration_downtime_hours: float = Field(2.0, ge=0, le=10_000,
                                            description="downtime of a move (sequential; sync, diloco)")
    cross_vendor_efficiency: PosFraction = Field(
        1.0, description="sync across chip vendors: throughput factor for the common framework (default 1.0: no "
                         "published penalty for a tuned heterogeneous stack; set your own measurement)")


# the waits for people before a failure's restart (reliability section and pools): read only with failures on
MANUAL_FIELDS = ("manual_intervention_share", "manual_intervention_hours")
# a pool's own failure settings: with failures off no failure, restart or checkpoint write is simulated, so none is read
POOL_FAILURE_FIELDS = ("mtbf_chip_days", "restart_base_minutes", "restart_minutes_per_1000_chips", *MANUAL_FIELDS,
                       "checkpoint_write_s")


class Reliability(_Section):
    """Failures, repairs, checkpoints, restarts and planned maintenance."""

    enabled: bool = True
    mtbf_chip_days: float | None = Field(None, gt=0, le=1e7, description="override the catalog for every pool")
    repair_days: float = Field(3.0, ge=0, le=365, description="mean time a failed chip's node is out of service")
    checkpoint_interval_hours: Literal["auto"] | Annotated[float, Field(
        ge=MIN_CHECKPOINT_INTERVAL_HOURS, le=MAX_CHECKPOINT_INTERVAL_HOURS, allow_inf_nan=False)] = "auto"
    checkpoint_write_s: float | None = Field(None, ge=0, le=86_400, description="default: state size / storage")
    storage_gbyteps: float = Field(2_000.0, gt=0, le=1e6, description="checkpoint storage bandwidth [GB/s]")
    # automated restart: 5 min + 0.5 min per 1,000 chips (10 min at 10,000: S14, S67, S68; planner/perf/reliability.py)
    restart_base_minutes: float = Field(5.0, ge=0, le=10_000)
    restart_minutes_per_1000_chips: float = Field(0.5, ge=0, le=10_000)
    manual_intervention_share: float = Field(
        MANUAL_INTERVENTION_SHARE, ge=0, le=1, allow_inf_nan=False,
        description="share of failures that wait for people before the restart (Llama 3: 3 of 419, S01)")
    manual_intervention_hours: float = Field(
        MANUAL_INTERVENTION_HOURS, ge=0, le=10_000, allow_inf_nan=False,
        description="mean wait for a manual intervention [h], drawn exponential (BLOOM's CUDA crash: 7.3 h, S08)")
    maintenance_every_days: float | None = Field(1.15, ge=MIN_MAINTENANCE_EVERY_DAYS, le=3650,
                                                 description="planned interruptions (at most one an hour)")
    maintenance_minutes: float = Field(10.0, ge=0, le=10_000)

    @field_validator("checkpoint_interval_hours", mode="wrap")
    @classmethod
    def _interval(cls, v, handler):
        try:
            return handler(v)
        except ValidationError:  # one reason instead of "Input should be 'auto'" for an out-of-range number
            raise ValueError(f"must be 'auto' or hours from {MIN_CHECKPOINT_INTERVAL_HOURS:.3g} (one second) to "
                             f"{MAX_CHECKPOINT_INTERVAL_HOURS:,} (ten years)") from None

    @model_validator(mode="after")
    def _maintenance(self) -> Reliability:
        if self.maintenance_every_days and self.maintenance_minutes >= self.maintenance_every_days * 1440:
            raise field_error("maintenance_minutes", f"{self.maintenance_minutes:g} min is no shorter than the "
                                                     f"interval ({self.maintenance_every_days:g} days): the job "
                                                     "would never train")
        if self.maintenance_every_days and (self.maintenance_minutes + self.restart_base_minutes
                                            >= self.maintenance_every_days * 1440):
            # each stop restarts the job; when the stop and the restart outlast the interval, the next stop is due
            # before any training
            raise field_error("restart_base_minutes",
                              f"{self.restart_base_minutes:g} min of restart after each planned interruption "
                              f"({self.maintenance_minutes:g} min) is no shorter than the interval "
                              f"({self.maintenance_every_days:g} days): the job would never train")
        return self


class Costs(_Section):
    """Prices, amortization, electricity and PUE."""

    # at least a month: 1e-305 years made every cost infinite (the workbook refused it after the whole run)
    amortization_years: float = Field(4.0, ge=1 / 12, le=50)
    energy_usd_per_kwh: float = Field(0.08, ge=0, le=100, description="industrial electricity price")
    pue: float = Field(1.48, ge=1, le=5, description="Uptime Institute 2025: facilities built since 2020 (S62)")
    unit_price_usd: dict[str, Annotated[float, Field(ge=0, le=1e7, allow_inf_nan=False)]] = Field(
        default_factory=dict, max_length=256, description="chip id -> price override [USD per chip]")


class Simulation(_Section):
    """Monte Carlo settings: the root seed and the number of replications."""

    seed: int = Field(0, ge=0, le=MAX_SEED)
    replications: int = Field(1, ge=1, le=MAX_REPLICATIONS)
    model_error: Literal["auto", "on", "off"] = Field(
        "auto", description="draw the cost model's cross-validated error per replication (auto: when replications "
                            "> 1), so Monte Carlo finish dates include it")


class Expectation(_Section):
    """A CI check on one metric of the summary (exit 1 when it fails)."""

    metric: Literal[metrics.KEYS]  # type: ignore[valid-type]
    quantile: Fraction | None = None
    max: float | None = Field(None, allow_inf_nan=False)
    min: float | None = Field(None, allow_inf_nan=False)
    job: str | None = Field(None, max_length=64, description="with `jobs:`: check this job's metric, not the whole "
                                                              "portfolio's")

    @model_validator(mode="after")
    def _bound(self) -> Expectation:
        if self.max is None and self.min is None:
            raise ValueError("set max, min or both")
        if self.max is not None and self.min is not None and self.min > self.max:
            raise ValueError(f"min {self.min:g} is above max {self.max:g}: no value can pass the check")
        if metrics.BY_KEY[self.metric].is_share and ((self.min is not None and self.min > 1)
                                                     or (self.max is not None and self.max < 0)):
            # a check no run can pass is a mistake in the file (90% is 0.9), not a failed run
            raise ValueError(f"{self.metric} is a share from 0 to 1 (write 0.9 for 90%): "
                             + (f"min {self.min:g} is above 1" if self.min is not None and self.min > 1
                                else f"max {self.max:g} is below 0") + ", so no run can pass the check")
        if self.max is not None and self.max < 0:  # (every metric is a time, a share, a sum or a count: never < 0)
            raise ValueError(f"{self.metric} is never negative: max {self.max:g} is below 0, so no run can pass the "
                             "check")
        if self.metric == "finish_probability" and self.quantile is not None:  # (a setting nothing would read)
            raise ValueError("finish_probability is one number, the share of replications that finished: it has "
                             "no quantile (leave `quantile` out)")
        return self


FIELD_PATH = r"^[A-Za-z_][A-Za-z0-9_]*(\[[0-9]+\])*(\.[A-Za-z_][A-Za-z0-9_]*(\[[0-9]+\])*)*$"


class SweepAxis(_Section):
    """One input of `planner sweep`, by field path, and the values it takes."""

    path: str = Field(min_length=1, max_length=200, pattern=FIELD_PATH,
                      description="a field path such as fleet[1].cloud.units")
    values: list[float | int | str | bool] = Field(min_length=1, max_length=1000)

    @field_validator("values", mode="before")
    @classmethod
    def _scalars(cls, v: Any) -> Any:
        """Each value is one number, text or true/false (a list or mapping would be named by a type's name).

        A date (YAML reads ``2025-06-30`` as one) is its ISO text, as a date field takes it.
        """
        if isinstance(v, list):
            v = [x.isoformat() if isinstance(x, dt.date) else x for x in v]
            for j, x in enumerate(v):
                if isinstance(x, (list, dict)) or x is None:
                    what = "empty (null)" if x is None else f"a {'list' if isinstance(x, list) else 'mapping'}"
                    raise ValueError(f"value {j + 1} is {what}: each value is one number, text or true/false")
        return v


MAX_JOBS = 32  # jobs sharing one fleet (a lab's portfolio: a flagship, smaller runs, ablations, held inference)
MAX_POWER_STEPS = 1_000


class Job(_Section):
    """One training job of a portfolio (``jobs:``): chips go to jobs in priority order (1 first)."""

    name: Visible = Field(min_length=1, max_length=64)
    workload: Workload
    priority: int = Field(1, ge=1, le=1_000, description="a lower number gets chips first")
    start_after: Day | None = Field(None, description="the job takes no chips before this date")
    deadline: Day | None = Field(None, description="reported against the job's finish dates")
    pools: list[str] | None = Field(None, min_length=1, max_length=MAX_POOLS,
                                    description="the pools the job may use (default: all)")
    strategy: StrategySettings | None = Field(None, description="how the job combines its pools (default: the "
                                                                "scenario's strategy)")

    def first_day(self, start: dt.date) -> dt.date:
        """The first day the job may take chips: its ``start_after``, else the scenario's ``start``."""
        return self.start_after or start


class PowerStep(_Section):
    """A site's power from ``date`` on (until the next step)."""

    date: Day
    mw: float = Field(ge=0, le=100_000, allow_inf_nan=False, description="power for IT and cooling [MW]")


class Site(_Section):
    """A site's power over time: the chips in service there draw at most ``power_mw`` (with the PUE)."""

    name: Visible = Field(min_length=1, max_length=64)
    pue: float = Field(1.3, ge=1, le=5, allow_inf_nan=False, description="facility power / IT power")
    power_mw: list[PowerStep] = Field(min_length=1, max_length=MAX_POWER_STEPS,
                                      description="power from each date on; none before the first date")


class Scenario(_Section):
    """A whole scenario file."""

    name: Visible = Field(min_length=1, max_length=200)
    # (a 1 MB description was copied whole into report.html: 5.8 MB)
    description: str = Field("", max_length=MAX_DESCRIPTION_CHARS)
    start: Day = dt.date(2025, 1, 1)
    horizon_days: float = Field(730.0, gt=0, le=MAX_HORIZON_DAYS, allow_inf_nan=False)
    workload: Workload | None = Field(None, description="what is trained (one job); or `jobs:`")
    jobs: list[Job] = Field(default_factory=list, max_length=MAX_JOBS,
                            description="several jobs sharing the fleet, instead of `workload:`")
    sites: list[Site] = Field(default_factory=list, max_length=MAX_POOLS,
                              description="power per site: it gates how many chips can be in service")
    fleet: list[Pool] = Field(min_length=1, max_length=MAX_POOLS)
    chips: list[Chip] = Field(default_factory=list, max_length=256, description="custom chip classes")
    links: list[Link] = Field(default_factory=list, max_length=4096)
    strategy: StrategySettings = Field(default_factory=StrategySettings)
    reliability: Reliability = Field(default_factory=Reliability)
    costs: Costs = Field(default_factory=Costs)
    simulation: Simulation = Field(default_factory=Simulation)
    expect: list[Expectation] = Field(default_factory=list, max_length=100)
    sweep: list[SweepAxis] = Field(default_factory=list, max_length=8,
                                   description="the grid `planner sweep` runs when no --set is given")
    currency: Currency | None = Field(None, description="money is also shown in this currency, beside USD")

    @model_validator(mode="before")
    @classmethod
    def _pool_names(cls, data: Any) -> Any:
        """A pool without a ``name`` is named after its chip (the contract's minimal pool is ``chip`` and ``units``).

        ``h100-sxm``, then ``h100-sxm-2``, ... when that name is taken; ``pool-<n>`` when the chip is not text
        (its own error then names the chip, not the name).
        """
        fleet = data.get("fleet") if isinstance(data, dict) else None
        if not isinstance(fleet, list) or all(not isinstance(p, dict) or "name" in p for p in fleet):
            return data
        taken = {p["name"] for p in fleet if isinstance(p, dict) and isinstance(p.get("name"), str)}
        named = []
        for i, p in enumerate(fleet):
            if isinstance(p, dict) and "name" not in p:
                chip = p.get("chip")
                base = chip[:56] if isinstance(chip, str) and chip.strip() else f"pool-{i + 1}"
                name, k = base, 1
                while name in taken:
                    k += 1
                    name = f"{base}-{k}"
                taken.add(name)
                p = {"name": name, **p}
            named.append(p)
        return {**data, "fleet": named}

    @model_validator(mode="after")
    def _cross(self) -> Scenario:
        self._check_jobs()
        builtin = set(chips())
        custom: set[str] = set()
        for i, c in enumerate(self.chips):
            if looks_like(c.id) in {looks_like(b) for b in builtin}:
                raise field_error(f"chips[{i}].id", f"{c.id!r} is (or looks the same as) a built-in chip id; give the "
                                                "custom chip its own")
            if c.id in custom:
                raise field_error(f"chips[{i}].id", f"chip id {c.id!r} is used twice")
            custom.add(c.id)
        known = builtin | custom
        names: set[str] = set()
        for i, p in enumerate(self.fleet):
            if p.chip not in known:
                raise field_error(f"fleet[{i}].chip", f"unknown chip {p.chip!r}{did_you_mean(p.chip, known)}; known: "
                                                      f"{', '.join(sorted(known))}" + _written_as(p.chip, known))
            if p.name in names:
                raise field_error(f"fleet[{i}].name", f"pool name {p.name!r} is used twice")
            if looks_like(p.name) in RESERVED_POOL_NAMES:  # ("month " printed as a second "month" column)
                raise field_error(f"fleet[{i}].name", f"{p.name!r} is a column of the report's tables; reserved "
                                                      f"names: {', '.join(RESERVED_POOL_NAMES)}")
            names.add(p.name)
            for where, w in self.workloads():
                if w.precision == "fp8" and self.chip(p.chip).fp8_tflops is None:
                    raise field_error(f"fleet[{i}].chip", f"{p.chip} has no FP8 support but {where}.precision is fp8")
            if p.parallelism is not None:
                self._check_pins(i, p.parallelism)
            for j, m in enumerate(p.measured):
                self._check_measured(f"fleet[{i}].measured[{j}]", p.chip, m)
        _distinct([(f"chips[{i}].id", c.id) for i, c in enumerate(self.chips)], "chip id")
        _distinct([(f"fleet[{i}].name", p.name) for i, p in enumerate(self.fleet)], "pool name")
        _distinct([(f"fleet[{i}].site", p.site) for i, p in enumerate(self.fleet)], "site")
        _distinct([(f"jobs[{i}].name", j.name) for i, j in enumerate(self.jobs)], "job name")
        owned = {p.chip for p in self.fleet if p.units or p.deliveries}
        for chip_id in self.costs.unit_price_usd:
            if chip_id not in known:
                raise field_error(f"costs.unit_price_usd.{clip(chip_id, 64)}",
                                  f"unknown chip {clip(chip_id)!r}; known: {', '.join(sorted(known))}"
                                  + _written_as(chip_id, known))
            if chip_id not in owned:
                raise field_error(f"costs.unit_price_usd.{clip(chip_id, 64)}",
                                  f"no pool owns {clip(chip_id)!r} chips (units or deliveries), so nothing reads "
                                  "its price")
        self._check_reliability_read()
        self._check_links_and_mode()
        reach = sum(p.planned_units for p in self.fleet)
        if reach == 0:
            raise field_error("fleet", "no pool has chips: every pool has 0 units, no deliveries and 0 rented")
        if self.start.toordinal() + self.horizon_days > LAST_DAY.toordinal() - 1:
            raise field_error("horizon_days", f"start {self.start} plus {self.horizon_days:g} days runs past "
                                              f"{LAST_DAY}")
        return self

    def ordered_jobs(self) -> list[Job]:
        """The jobs in the order they get chips: by priority, then as written."""
        return [j for _i, j in sorted(enumerate(self.jobs), key=lambda ij: (ij[1].priority, ij[0]))]

    def workloads(self) -> list[tuple[str, Workload]]:
        """(field path, workload) of every job: ``workload``, or each of ``jobs``."""
        if self.workload is not None:
            return [("workload", self.workload)]
        return [(f"jobs[{i}].workload", j.workload) for i, j in enumerate(self.jobs)]

    def _check_jobs(self) -> None:
        """``workload`` or ``jobs``, not both; job names unique; the pools and sites named exist."""
        if self.workload is not None and self.jobs:
            raise field_error("jobs", "give `workload` (one job) or `jobs` (several), not both")
        if self.workload is None and not self.jobs:
            raise field_error("workload", "Field required (or `jobs:` with one or more jobs)")
        pools = {p.name for p in self.fleet}
        names: set[str] = set()
        end = self.start.toordinal() + self.horizon_days  # the horizon's end in day numbers (it may pass the calendar)
        for i, j in enumerate(self.jobs):
            if j.name in names:
                raise field_error(f"jobs[{i}].name", f"job name {j.name!r} is used twice")
            names.add(j.name)
            for k, name in enumerate(j.pools or []):
                if name not in pools:
                    raise field_error(f"jobs[{i}].pools[{k}]",
                                      f"no pool is named {clip(name)!r}; pools: {', '.join(sorted(pools))}"
                                      + _written_as(name, pools))
                if name in j.pools[:k]:
                    raise field_error(f"jobs[{i}].pools[{k}]", f"pool {name!r} is listed twice")
            if j.start_after is not None and not self.start <= j.start_after:
                raise field_error(f"jobs[{i}].start_after", f"{j.start_after} is before the scenario's start "
                                                            f"{self.start}")
            if j.start_after is not None and j.start_after.toordinal() >= end:
                raise field_error(f"jobs[{i}].start_after", f"{j.start_after} is not before the horizon's end "
                                  f"({dt.date.fromordinal(math.floor(end))}, start + horizon_days): the job could "
                                  "never train; move it or lengthen horizon_days")
            begins = j.first_day(self.start)
            if j.deadline is not None and j.deadline < begins:  # (on that day, a job trained within it meets it,
                # as `solve --deadline` counts it: planner/decide/solve.py check_target)
                what = "start_after" if j.start_after is not None else "the scenario's start"
                raise field_error(f"jobs[{i}].deadline", f"{j.deadline} is before {what} ({begins}): no finish "
                                                         "could meet it")
        for i, e in enumerate(self.expect):
            if e.job is not None and e.job not in names:
                known = ", ".join(sorted(names)) or "none: the scenario has one job (`workload:`)"
                raise field_error(f"expect[{i}].job", f"no job is named {clip(e.job)!r}; jobs: {known}")
        sites = {p.site for p in self.fleet}
        seen: set[str] = set()
        for i, site in enumerate(self.sites):
            if site.name not in sites:
                raise field_error(f"sites[{i}].name",
                                  f"no pool is at site {clip(site.name)!r}; sites: {', '.join(sorted(sites))}"
                                  + _written_as(site.name, sites))
            if site.name in seen:
                raise field_error(f"sites[{i}].name", f"site {site.name!r} is given twice")
            seen.add(site.name)
            dates = [s.date for s in site.power_mw]
            for k in range(1, len(dates)):
                if dates[k] <= dates[k - 1]:
                    raise field_error(f"sites[{i}].power_mw[{k}].date",
                                      f"{dates[k]} is not after the step before it ({dates[k - 1]})")

    def _check_reliability_read(self) -> None:
        """A pool's failure settings with ``reliability.enabled: false`` are refused: nothing reads them.

        With failures off the engine draws no failure and pays no restart or checkpoint write (planner/sim/engine.py).
        """
        if self.reliability.enabled:
            return
        why = "is not read: reliability.enabled is false, so no failure, restart or checkpoint write is simulated"
        if self.reliability.mtbf_chip_days is not None:
            raise field_error("reliability.mtbf_chip_days", why)
        for i, p in enumerate(self.fleet):
            for name in POOL_FAILURE_FIELDS:
                if getattr(p, name) is not None:
                    raise field_error(f"fleet[{i}].{name}", why)

    def _check_links_and_mode(self) -> None:
        """Links join two different sites that pools use, once per pair; a mode has what it needs."""
        sites = {p.site for p in self.fleet}
        seen: set[tuple[str, str]] = set()
        for i, lk in enumerate(self.links):
            a, b = lk.sites
            if a == b:
                raise field_error(f"links[{i}].sites", f"a link joins two different sites, not {a!r} with itself")
            for s in (a, b):
                if s not in sites:
                    raise field_error(f"links[{i}].sites",
                                      f"no pool is at site {s!r}; sites: {', '.join(sorted(sites))}"
                                      + _written_as(s, sites))
            key = (a, b) if a <= b else (b, a)
            if key in seen:
                raise field_error(f"links[{i}].sites", f"sites {a!r} and {b!r} are already linked")
            seen.add(key)
        if not self.jobs:
            self._check_mode(self.strategy, self.fleet, seen, "strategy", "the fleet")
        for k, job in enumerate(self.jobs):
            # each job's mode on its own pools (job_scenario: the links between its sites), as a run plans it
            fleet = [p for p in self.fleet if job.pools is None or p.name in job.pools]
            where = f"jobs[{k}].strategy" if job.strategy is not None else f"jobs[{k}].pools"
            self._check_mode(job.strategy or self.strategy, fleet, seen, where, f"job {job.name!r}'s pools")
        if len(self.fleet) < 2 and self.links:
            raise field_error("links", "links join sites of a fleet with two or more pools")

    @staticmethod
    def _check_mode(strategy: StrategySettings, fleet: list[Pool], seen: set[tuple[str, str]], where: str,
                    whose: str) -> None:
        """A mode has what it needs on ``fleet`` (pools, sites, links); a setting set is one the mode reads.

        ``where``: the field errors name (``strategy``, or a job's ``strategy``, or its ``pools`` when it takes the
        scenario's strategy); ``whose``: what the pools are, in words.
        """
        sites = {p.site for p in fleet}
        mode = strategy.mode
        field = f"{where}.mode" if where.endswith("strategy") else where
        if mode in MULTI_POOL_MODES and len(fleet) < 2:
            raise field_error(field, f"{mode!r} combines pools and needs at least two in {whose}")
        if mode == Mode.DILOCO and len(sites) < 2:
            raise field_error(field, f"'diloco' runs one replica per site and needs pools at two or more sites "
                                     f"in {whose}")
        if mode in MULTI_POOL_MODES:
            ordered = sorted(sites)
            for i, a in enumerate(ordered):
                for b in ordered[i + 1:]:
                    if (a, b) not in seen:
                        raise field_error("links", f"mode {mode!r} needs a link between sites {a!r} and {b!r}")
        readers = {"sync_every_steps": (Mode.DILOCO,), "diloco_token_efficiency": (Mode.DILOCO,),
                   "migration_downtime_hours": (Mode.SEQUENTIAL, Mode.SYNC, Mode.DILOCO),
                   "cross_vendor_efficiency": (Mode.SYNC,)}
        for name, reader in readers.items():
            if name in strategy.model_fields_set and mode not in (*reader, Mode.AUTO):
                at = f"{where}.{name}" if where.endswith("strategy") else f"strategy.{name}"
                modes = ", ".join(repr(m.value) for m in reader)
                raise field_error(at, f"only mode{'s' if len(reader) > 1 else ''} {modes} (or 'auto') read"
                                      f"{'' if len(reader) > 1 else 's'} it; the mode is {mode!r}")
        need = strategy.min_units_to_start
        # the chips a job may train on: less the reserved share, and one pool's only in 'single' (a need above them
        # held the job at none, and its limit blamed memory)
        each = [plan.usable(p.planned_units, p.reserved_fraction) for p in fleet]
        reach = max(each, default=0) if mode == Mode.SINGLE else sum(each)
        if need is not None and any(p.planned_units for p in fleet) and need > reach:
            at = f"{where}.min_units_to_start" if where.endswith("strategy") else "strategy.min_units_to_start"
            why = [w for w, on in (("less the reserved_fraction", any(p.reserved_fraction for p in fleet)),
                                   ("one pool's in mode 'single'", mode == Mode.SINGLE and len(fleet) > 1)) if on]
            raise field_error(at, f"{need:,} is more chips than {whose} can train on ({reach:,}"
                                  f"{': ' + ', '.join(why) if why else ''})")

    def _check_measured(self, where: str, chip_id: str, m: Measured) -> None:
        """A measured row the pool's chip can have run: FP8 only on FP8 chips, pins the model takes, MFU <= 1."""
        from .perf.measured import pin_problem
        from .perf.params import model_flops_per_token

        chip = self.chip(chip_id)
        if m.precision == "fp8" and chip.fp8_tflops is None:
            raise field_error(f"{where}.precision", f"{chip_id} has no FP8 support")
        problem = pin_problem(m.arch, m.seq_len, m.parallelism) if m.parallelism is not None else None
        if problem is not None:
            raise field_error(f"{where}.parallelism.{problem[0]}", problem[1])
        ceiling = chip.peak_flops(m.precision) / model_flops_per_token(m.arch, m.seq_len)
        if m.tokens_per_s_per_chip > ceiling:
            raise field_error(f"{where}.tokens_per_s_per_chip",
                              f"{m.tokens_per_s_per_chip:,.6g} tokens/s per chip is more than the chip's dense peak "
                              f"can compute for this model ({ceiling:,.0f}): per chip, not per pool?")

    def _check_pins(self, i: int, pins: Parallelism) -> None:
        """Pinned degrees the model cannot take (the search would find no layout, or a wrong one)."""
        for _where, w in self.workloads():
            self._check_pins_for(i, pins, w)

    def _check_pins_for(self, i: int, pins: Parallelism, w: Workload) -> None:
        a = w.arch
        where = f"fleet[{i}].parallelism"
        if pins.tp and a.heads % pins.tp:
            raise field_error(f"{where}.tp", f"tp={pins.tp} does not divide the {a.heads} attention heads")
        if pins.pp and pins.pp > a.layers:
            raise field_error(f"{where}.pp", f"pp={pins.pp} is more pipeline stages than the {a.layers} layers")
        if pins.cp and w.seq_len % pins.cp:
            raise field_error(f"{where}.cp", f"cp={pins.cp} does not divide the sequence length {w.seq_len}")
        if pins.ep and pins.ep > 1:
            if a.moe is None:
                raise field_error(f"{where}.ep", f"ep={pins.ep} needs a mixture-of-experts model; this one is dense")
            if a.moe.experts % pins.ep:
                raise field_error(f"{where}.ep", f"ep={pins.ep} does not divide the {a.moe.experts} experts")

    def chip(self, chip_id: str) -> Chip:
        """A chip class by id: the scenario's own custom chips first, then the catalog."""
        for c in self.chips:
            if c.id == chip_id:
                return c
        return chips()[chip_id]
