"""Whole-run goodput: what share of a pre-training run's chip-hours trained tokens, scored on published runs.

A whole run's chip-hours are the tokens over the trainer's speed and the run's goodput:

    chip_hours = units x tokens / (tokens_per_s(units) x g) / 3600,
    g = g_failures x (1 - maintenance share) x productive_fraction

- ``tokens_per_s``: the cost model's trainer speed on the run's chips (layout searched, the stack its owner
  states), as a user's scenario gets it;
- ``g_failures``: the expected goodput (perf.reliability.expected_goodput) with every interruption of the job:
  the catalog chip MTBF (Llama 3's unexpected interruptions: hardware, software, network) and those of human
  origin (``reliability.with_job_interruptions``), the checkpoint write and the restart of the scenario defaults
  (the automated restart plus the mean wait of the failures that need a manual intervention:
  ``reliability.MANUAL_INTERVENTION_SHARE`` x ``MANUAL_INTERVENTION_HOURS``);
- the maintenance share: planned interruptions (reliability section: every 1.15 days, 10 min, then a restart);
- ``productive_fraction``: the rest of the time lost on published runs (evaluation pauses, checkpoint stalls,
  slow periods, data stalls), one constant refit inside the cross-validation (folds: each source left out) on the
  runs whose source publishes the trainer's speed as well as the chip-hours (so the model's trainer error stays
  out of it); a source that computed its chip-hours from its trainer's speed (``hours_basis: trainer``, LLaMA-1)
  is predicted at goodput 1;
  Published effective-training-time ratios bracket it: Llama 3 405B above 90% (S01), MegaScale above 90% (S14),
  ByteRobust 97% on a dense job of 9,600 GPUs over 3 months (S68), Olmo Hybrid 97% active training time on 512
  B200 (Lambda and Ai2, 2026), and the Olmo 3 7B trainer's 7,700 tokens/s per GPU against ~234k H100-hours for
  ~6T tokens (about 0.93).

``whole_runs()`` reads planner/data/whole_runs.csv: runs whose chip count is published (``tier: published``,
what the cross-validated MAPE is over), runs scored at an assumed count (``assumed``: shown apart, the chip count
moves a small model's per-chip speed by up to 2x) and runs the model cannot score (``excluded``, with the reason).
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from ..arch import ModelArch
from ..units import HOURS_PER_DAY, SECONDS_PER_HOUR
from . import reliability as rel
from .reliability import productive_fraction  # noqa: F401  (its home is perf.reliability; re-exported)
from .reliability import wholerun_settings as settings  # noqa: F401


@dataclass(frozen=True)
class WholeRun:
    """One published whole pre-training run."""

    id: str
    group: str  # the source: cross-validation folds never split one
    tier: str  # published | assumed | excluded
    model: str
    arch: dict | None
    chip: str
    units: int
    seq_len: int
    global_batch_tokens: float | None
    precision: str
    stack: str
    tokens: float
    published_chip_hours: float
    source: str
    notes: str
    trainer_tokens_per_s_per_chip: float | None = None  # the trainer's own speed, where the source publishes it
    # what the published chip-hours count: ``wall`` the chips held for the run's wall-clock, ``trainer`` tokens over
    # the trainer's speed (the source computed them so: no interruption, pause or restart is in the figure)
    hours_basis: str = "wall"


def _num(x: str) -> float | None:
    return float(x) if x.strip() else None


@lru_cache(maxsize=1)
def whole_runs() -> tuple[WholeRun, ...]:
    """The published whole runs shipped in planner/data/whole_runs.csv."""
    text = resources.files("planner.data").joinpath("whole_runs.csv").read_text(encoding="utf-8")
    out = []
    for row in csv.DictReader(text.splitlines()):
        out.append(WholeRun(
            id=row["id"], group=row["group"], tier=row["tier"], model=row["model"],
            arch=json.loads(row["arch"]) if row["arch"].strip() else None, chip=row["chip"],
            units=int(row["units"] or 0), seq_len=int(row["seq_len"] or 0),
            global_batch_tokens=_num(row["global_batch_tokens"]), precision=row["precision"] or "bf16",
            stack=row["stack"] or "standard", tokens=float(row["tokens"]),
            published_chip_hours=float(row["published_chip_hours"]), source=row["source"], notes=row["notes"],
            trainer_tokens_per_s_per_chip=_num(row["trainer_tokens_per_s_per_chip"]),
            hours_basis=(row.get("hours_basis") or "wall").strip() or "wall"))
    return tuple(out)


def failure_goodput(units: int, mtbf_chip_days: float, params: float, restart_base_minutes: float,
                    restart_minutes_per_1000_chips: float, storage_gbyteps: float,
                    maintenance_every_days: float | None, maintenance_minutes: float, manual_share: float = 0.0,
                    manual_hours: float = 0.0) -> float:
    """Kept share of a job's time under interruptions and planned maintenance [fraction] (module docstring)."""
    write_h = rel.checkpoint_write_hours(params, storage_gbyteps)
    g = rel.goodput_on(units, mtbf_chip_days, write_h, None, restart_base_minutes, restart_minutes_per_1000_chips,
                       manual_share, manual_hours)
    if maintenance_every_days:
        m_h = rel.job_mtbf_hours(mtbf_chip_days, units)
        restart_h = rel.restart_under_failures(
            rel.restart_hours(units, restart_base_minutes, restart_minutes_per_1000_chips), m_h)
        # the stop's restart, and the waits of the failures that strike it (it follows no failure)
        stop_h = maintenance_minutes / 60.0 + rel.expected_restart_hours(restart_h, manual_share, manual_hours, m_h,
                                                                         after_failure=False)
        g *= max(0.0, 1.0 - stop_h / (maintenance_every_days * HOURS_PER_DAY))
    return g


def predicted_chip_hours(units: int, tokens: float, tokens_per_s: float, goodput: float) -> float:
    """Chip-hours of a run holding ``units`` chips that trains ``tokens`` at ``tokens_per_s`` and ``goodput``."""
    return units * tokens / (tokens_per_s * goodput) / SECONDS_PER_HOUR


def _arch(run: WholeRun) -> ModelArch:
    from ..catalog import models

    return models()[run.model].arch if run.model else ModelArch(**run.arch)


def model_terms(run: WholeRun, defaults) -> dict:
    """The cost model's trainer speed and failure goodput for a run.

    ``defaults``: the scenario format's reliability defaults (``planner.scenario.Reliability()``, passed in: the
    physics does not import the scenario format).
    """
    from ..catalog import chips
    from .params import count_params
    from .search import best_layout
    from .setup import training_setup
    from .system import system_for

    arch, chip = _arch(run), chips()[run.chip]
    r = best_layout(arch, system_for(chip, run.stack), training_setup(arch, run.seq_len, run.global_batch_tokens,
                                                                     run.precision), run.units)
    d = defaults
    # the engine's accounting (reliability.pool_failures): human-origin restarts are the planned stops, not extra
    # failures (reliability.HUMAN_SHARE_FOLDED)
    mtbf = rel.with_job_interruptions(chip.mtbf_chip_days, rel.HUMAN_SHARE_FOLDED)
    g = failure_goodput(r.units_used, mtbf, count_params(arch).total,
                        d.restart_base_minutes, d.restart_minutes_per_1000_chips, d.storage_gbyteps,
                        d.maintenance_every_days, d.maintenance_minutes, d.manual_intervention_share,
                        d.manual_intervention_hours)
    return {"tokens_per_s": r.tokens_per_s, "units_used": r.units_used, "failure_goodput": g,
            "layout": r.layout.label()}


def goodput_of(run: WholeRun, failure_goodput: float) -> float:
    """The failure goodput a run's published chip-hours count.

    1 when the source computed them from the trainer's speed (``hours_basis: trainer``).
    """
    return 1.0 if run.hours_basis == "trainer" else failure_goodput


def fit_productive_fraction(log_ratios: list[float]) -> float:
    """The productive fraction that best matches published chip-hours, at most 1.

    exp(mean log(predicted at fraction 1 / published)); at most 1: a run cannot train more than all of its time.
    """
    return min(1.0, math.exp(float(np.mean(log_ratios)))) if log_ratios else 1.0


def score_whole_runs(runs: tuple[WholeRun, ...] | None = None, terms: dict | None = None, defaults=None) -> dict:
    """Cross-validated whole-run chip-hours: ``{n, mape_cv, mape_in_sample, productive_fraction, cases[], ...}``.

    The productive fraction is refit without each source's runs (grouped leave-one-source-out over the runs
    with a published chip count) and that source's runs predicted with it; MAPE in percent over those runs.
    Runs at an assumed chip count are predicted with the fraction fitted on every published run and shown
    apart (``mape_assumed``); excluded runs are listed with the reason.
    """
    runs = whole_runs() if runs is None else runs
    scored = [r for r in runs if r.tier in ("published", "assumed")]
    if terms is None and defaults is None:
        raise ValueError("score_whole_runs needs the model's terms or the reliability defaults to compute them")
    terms = terms if terms is not None else {r.id: model_terms(r, defaults) for r in scored}

    def at_one(r: WholeRun) -> float:  # chip-hours with the productive fraction at 1
        t = terms[r.id]
        return predicted_chip_hours(r.units, r.tokens, t["tokens_per_s"], goodput_of(r, t["failure_goodput"]))

    def fraction(r: WholeRun, f: float) -> float:  # the productive fraction a run's figure counts
        return 1.0 if r.hours_basis == "trainer" else f

    published = [r for r in scored if r.tier == "published"]
    # the fraction is fitted where the time lost is observed apart from the trainer's speed: runs whose source
    # publishes both the trainer's tokens/s and the wall-clock chip-hours (log of the published whole-run / trainer
    # ratio over the model's failure goodput); the model's trainer error stays out of it. A figure computed from
    # the trainer's speed (``hours_basis: trainer``) says nothing of the time lost.
    def lost(r: WholeRun) -> float:
        whole = r.tokens / (r.published_chip_hours * SECONDS_PER_HOUR)
        return math.log(whole / r.trainer_tokens_per_s_per_chip / terms[r.id]["failure_goodput"])

    observed = [r for r in scored if r.trainer_tokens_per_s_per_chip and r.hours_basis != "trainer"]
    f_all = fit_productive_fraction([lost(r) for r in observed])
    cases = []
    for r in scored:
        if r.tier == "published":
            f_cv = fit_productive_fraction([lost(o) for o in observed if o.group != r.group])
        else:
            f_cv = f_all
        t = terms[r.id]
        f_cv = fraction(r, f_cv)
        pred_cv, pred_in = at_one(r) / f_cv, at_one(r) / fraction(r, f_all)
        cases.append({"id": r.id, "tier": r.tier, "group": r.group, "chip": r.chip, "units": r.units,
                      "tokens": r.tokens, "published": r.published_chip_hours, "predicted_cv": pred_cv,
                      "predicted_in_sample": pred_in, "error_cv": pred_cv / r.published_chip_hours - 1.0,
                      "productive_fraction_cv": f_cv, "failure_goodput": t["failure_goodput"],
                      "whole_run_goodput_cv": goodput_of(r, t["failure_goodput"]) * f_cv,
                      "hours_basis": r.hours_basis,
                      "trainer_tokens_per_s_per_chip": t["tokens_per_s"] / t["units_used"],
                      "published_tokens_per_s_per_chip": r.tokens / (r.published_chip_hours * SECONDS_PER_HOUR),
                      "layout": t["layout"], "source": r.source})
        if r.trainer_tokens_per_s_per_chip:  # the goodput alone: published whole-run over published trainer speed
            published_g = cases[-1]["published_tokens_per_s_per_chip"] / r.trainer_tokens_per_s_per_chip
            cases[-1].update(published_goodput=published_g,
                             goodput_error=cases[-1]["whole_run_goodput_cv"] / published_g - 1.0)

    # chip-hours error from the goodput alone: predicted goodput against published whole-run / published trainer
    g_err = [abs(c["goodput_error"]) for c in cases if "goodput_error" in c]

    def mape(tier: str, key: str) -> float:
        errs = [abs(c[key] / c["published"] - 1.0) for c in cases if c["tier"] == tier]
        return 100.0 * float(np.mean(errs)) if errs else float("nan")

    return {"n": len(published), "mape_cv": mape("published", "predicted_cv"),
            "mape_in_sample": mape("published", "predicted_in_sample"),
            "n_assumed": sum(c["tier"] == "assumed" for c in cases), "mape_assumed": mape("assumed", "predicted_cv"),
            "productive_fraction": f_all, "cases": cases,
            "goodput_only": {"n": len(g_err), "mape": 100.0 * float(np.mean(g_err)) if g_err else float("nan")},
            "excluded": [{"id": r.id, "why": r.notes} for r in runs if r.tier == "excluded"]}
