"""The headline figures of a run, read from its Summary (summary.json) and formatted for people (report and app)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..catalog import chips, models
from ..fmt import fmt_chip_hour_price, fmt_si, fmt_usd, fmt_usd_and, num
from ..metrics import GROWING_KEYS, METRICS, TO_HORIZON_KEYS, fmt_value
from ..stats import NEVER
from ..summary import UNTRAINED, JobSummary, Stat, Summary, pools_trained

if TYPE_CHECKING:
    from ..scenario import Scenario


@dataclass(frozen=True)
class Headline:
    """One headline figure: ``value`` is the formatted median (or the single value), ``detail`` the spread."""

    key: str
    label: str
    value: str
    detail: str = ""


def stat(metric: Any, key: str = "p50") -> float | None:
    """``key`` of a metric's stats mapping (falling back to the mean), or the metric itself when it is a number."""
    if isinstance(metric, Mapping):
        for k in (key, "mean"):
            if num(metric.get(k)) is not None:
                return num(metric.get(k))
        return None
    return num(metric)


# p10 = p50 = p90 of one run is no range: it is not shown as one (said once, on time to train; the others show none)
ONE_REPLICATION = "one replication: no spread (run more replications for a range)"


def _spread(metric: Stat | None, name: str, summary: Summary | None = None, key: str | None = None) -> str:
    """``p10 … · p90 …`` of a metric shown as ``name`` is (``key``: the figure's own name in ``Summary.at_least``)."""
    if metric is None or num(metric.p10) is None:
        return ""
    if summary is not None and summary.replications == 1:
        return ""  # (headline_items says it once, on time to train)
    key = key or name
    def shown(x: float | None) -> str:  # the cost's spread in the scenario's currency too, as its median
        return metric_text(summary, name, x)
    low = f"p10 {at_least(summary, key, 'p10')}{shown(num(metric.p10))}"
    if num(metric.p90) is None:  # time to train: a quantile beyond the finish probability is never
        return f"{low} · p90 {NEVER}" if name == "time_to_train_days" else ""
    return f"{low} · p90 {at_least(summary, key, 'p90')}{shown(num(metric.p90))}"


def at_least(summary: Summary | None, name: str, q: str) -> str:
    """"≥ " before a quantile that is known only as a lower bound (``Summary.at_least``), else nothing."""
    return AT_LEAST if summary is not None and summary.bound(name, q) else ""


AT_LEAST = "≥ "  # a figure known only as a lower bound: replications that did not finish spent to the horizon only
# an expect's spend counting replications stopped by the horizon as beyond any budget: the most it can be
AT_MOST = "≤ "


def to_horizon_note(summary: Summary) -> str:
    """What the figures of the replications that did not finish are: the run to the horizon, not the whole run."""
    if not summary.unfinished:
        return ""
    return (f"{summary.unfinished} of {summary.replications} replications did not finish: their figures run to the "
            "horizon only")


def unpriced_note(summary: Summary) -> str:
    """What the spend leaves out: chips with no price (``Summary.unpriced_pools``, costs.unpriced)."""
    if not summary.unpriced_pools:
        return ""
    names = ", ".join(summary.unpriced_pools)
    return (f"chips of {names} have no purchase price or rental price: their write-off or rental is not counted "
            "(set unit_price_usd or cloud.price_per_chip_hour_usd), so the spend is at least this")


def spend_bounded(summary: Summary) -> str:
    """Which mean spends are known only as at least their figures: "committed and used", "used" or "".

    (Idle, committed less used, is then at least, at most or neither: ``Summary.idle_bound``.)
    """
    if summary.spend_bound("committed_usd"):
        return "committed and used"
    return "used" if summary.spend_bound("used_usd") else ""


def trained_of(summary: Summary, key: str) -> str:
    """Of how many replications a figure is (MFU, goodput: of those that trained, ``Summary.counted``), or ""."""
    if key not in summary.counted or not summary.replications:
        return ""
    return f"of the {summary.counted[key]} of {summary.replications} replications that trained"


def spend_note(summary: Summary) -> str:
    """Why the spend is known only as at least its figures: the horizon, owned chips with no price, or both."""
    return " · ".join(x for x in (to_horizon_note(summary), unpriced_note(summary)) if x)


MFU_PAST_PEAK = ("MFU counts the attention scores without the causal mask (PaLM's count), which the chips skip: "
                 "past 100% here, not past their peak (`planner estimate --json` mfu_executed)")


def headline_items(summary: Summary) -> list[Headline]:
    """The headline figures, in display order.

    Time to train, finish probability, cost, energy, MFU, goodput and chip-hours.
    """
    out = []
    for m in METRICS:
        key, label = m.key, m.label + (" (p50)" if m.distribution else "")
        detail = _spread(summary.stat(key), key, summary)
        if key == "time_to_train_days" and summary.replications == 1:
            detail = ONE_REPLICATION
        if key == "finish_probability" and summary.replications is not None:
            detail = f"of {summary.replications} replication(s)"
        if trained_of(summary, key):
            never = summary.replications - summary.counted[key]
            detail = " · ".join(x for x in (detail, f"{trained_of(summary, key)} (the other {never} never did)") if x)
        if key in TO_HORIZON_KEYS and summary.unfinished:
            bound = "; ≥: known only as a lower bound" if key in summary.at_least else ""
            detail = " · ".join(x for x in (detail, to_horizon_note(summary) + bound) if x)
        if key == "cost_usd":
            detail = " · ".join(x for x in (detail, unpriced_note(summary)) if x)
        value = summary.value(key)
        if key == "mfu" and value is not None and value > 1.0:  # (PaLM's count: the scores the causal mask skips)
            detail = " · ".join(x for x in (detail, MFU_PAST_PEAK) if x)
        shown = NEVER if key == "time_to_train_days" and value is None else fmt_value(key, value)
        if key == "cost_usd" and value is not None:
            shown = money(summary, value)
        if value is not None:
            shown = at_least(summary, key, "p50") + shown
        out.append(Headline(key, label, shown, detail))
        if key == "time_to_train_days":
            out.extend(_date_items(summary))
    return out


def _date_items(summary: Summary) -> list[Headline]:
    """Finish date (p50, with p10/p90), the start date, and training days apart from days waiting for capacity."""
    out = []
    fd = summary.finish_date
    if fd is not None and fd.p50:
        when = summary.date_text  # a date known only as the earliest it can be reads "≥ date"
        spread = [] if summary.replications == 1 else [f"p10 {when('p10')} · p90 {when('p90')}"]
        out.append(Headline("finish_date", "Finish date (p50)", when("p50"),
                            " · ".join([*spread, f"start {summary.start}"])))
    # a portfolio's: from its first job's start to its last job's finish, gaps between jobs included (review: it read
    # as 9.5 days of training where the fleet trained 1.6 and sat idle between two jobs); each job's are in its table
    trained = "From first start to last finish (p50)" if summary.jobs else "Training days (p50)"
    for key, label, m in (("training_days", trained, summary.training_days),
                          ("waiting_days", "Waiting for capacity (p50)", summary.waiting_days)):
        if m is not None:  # a P50 beyond the finishes (or no finish at all): never, said, not left out
            shown = NEVER if m.at() is None else at_least(summary, key, "p50") + fmt_value("time_to_train_days", m.at())
            out.append(Headline(key, label, shown, _spread(m, "time_to_train_days", summary, key)))
    st = summary.strategy
    if st is not None and st.mode:
        detail = " + ".join(str(p) for p in st.pools) or UNTRAINED  # (its limits say why)
        lead = next((j.name for j in summary.jobs if j.summary.strategy is not None
                     and (j.summary.strategy.mode, tuple(j.summary.strategy.pools)) == (st.mode, tuple(st.pools))),
                    None)
        if summary.jobs and lead is not None and st.pools:  # a portfolio's: its first trained job's pair
            detail += f" (job {lead}; each job's own in the jobs table)"
        if len(st.choices) > 1:
            detail += f" (most often; {len(st.choices)} choices over the replications)"
        out.append(Headline("strategy", "Strategy", str(st.mode), detail))
    return out


def money(summary: Summary | Scenario | None, usd: Any) -> str:
    """A sum for people: dollars, and the scenario's currency beside them when it has one (a summary's or a file's)."""
    rate = getattr(summary, "currency", None)
    return fmt_usd_and(num(usd), rate.code, rate.per_usd) if rate is not None else fmt_usd(num(usd))


def metric_text(summary: Summary | None, metric: str, x: float | None) -> str:
    """A metric's value for people; a sum in the scenario's currency too, as every sum the report shows (money)."""
    return money(summary, x) if metric == "cost_usd" and summary is not None else fmt_value(metric, x)


def unmet_value(metric: str) -> str | None:
    """What an expectation's missing value (null in summary.json) reads as: the quantile never came.

    Time to train: never. A growing figure checked against a maximum: not finished (its whole run's is more than
    its spend so far). None: the value is there to show.
    """
    if metric == "time_to_train_days":
        return NEVER
    return "not finished" if metric in GROWING_KEYS else None


def expectation_rows(summary: Summary) -> list[dict[str, str]]:
    """The summary's expectations as display rows: check, value, result (PASS/FAIL)."""
    rows = []
    for e in summary.expectations:
        metric = e.metric
        what = metric + (f" p{num(e.quantile) * 100:g}" if num(e.quantile) is not None else "")
        if getattr(e, "job", None):
            what = f"{e.job}: {what}"
        def shown(x: float | None, metric: str = metric) -> str:
            return metric_text(summary, metric, x)

        bounds = []
        if num(e.min) is not None:
            bounds.append(f"≥ {shown(num(e.min))}")
        if num(e.max) is not None:
            bounds.append(f"≤ {shown(num(e.max))}")
        rows.append(
            {
                "check": f"{what} {' and '.join(bounds)}".strip(),
                "value": (unmet_value(metric) if num(e.value) is None else None)
                or (AT_LEAST if getattr(e, "at_least", False) else AT_MOST if getattr(e, "at_most", False) else "")
                + shown(num(e.value)),
                "result": "PASS" if e.passed else "FAIL",
            }
        )
    return rows


# ---------------------------------------------------------------- inputs and the answer in words


def model_label(inputs: Mapping[str, Any]) -> str:
    """The trained model for people: the preset's name, or the size of an explicit architecture."""
    model = (inputs.get("workload") or {}).get("model")
    if isinstance(model, str):
        preset = models().get(model)
        return preset.name if preset else model
    if isinstance(model, Mapping):
        return f"custom model ({model.get('layers', '?')} layers, hidden {model.get('hidden', '?')})"
    return "—"


def tokens_label(tokens: Any) -> str:
    """15.6e12 -> '15.6T tokens'."""
    return "—" if num(tokens) is None else fmt_si(num(tokens)).replace(" ", "") + " tokens"


def _pools_label(summary: Summary, inputs: Mapping[str, Any]) -> str:
    if summary.strategy is None and not summary.jobs:  # (a summary from before strategies were written)
        return " + ".join(p.get("name", "?") for p in inputs.get("fleet") or []) or "—"
    return " + ".join(pools_trained(summary)) or UNTRAINED


def answer_sentence(summary: Summary, inputs: Mapping[str, Any]) -> str:
    """The inputs and the answer in one sentence.

    E.g. 'Llama 3 405B, 15T tokens, on azure-h100 (single): finishes 2024-10-21 (P50), 2024-11-02 (P90);
    $1.1 B committed, $403 M used'.
    """
    chosen = summary.strategy.mode if summary.strategy is not None else None
    mode = chosen or (inputs.get("strategy") or {}).get("mode") or "auto"
    pools = _pools_label(summary, inputs)
    head = (f"{model_label(inputs)}, {tokens_label((inputs.get('workload') or {}).get('tokens'))}, "
            + (f"on no pool ({mode}: it never trained)" if pools == UNTRAINED else f"on {pools} ({mode})"))
    dates = summary.finish_date
    if dates is not None and dates.finished("p50"):
        when = f"finishes {summary.date_text('p50')} (P50)" + (
            " (one replication)" if summary.replications == 1 else  # no P90 of one run
            f", {summary.date_text('p90')} (P90)" if dates.finished("p90") else ", P90 never")
    else:
        when = f"does not finish within {inputs.get('horizon_days', '?')} days (P50)"
    if summary.jobs:  # a portfolio: its jobs in priority order, and when the last of them finishes
        names = ", ".join(j.name for j in ordered_jobs(summary))
        head = (f"{len(summary.jobs)} jobs ({names}, in priority order) "
                + ("on no pool (none trained)" if pools == UNTRAINED else f"on {pools}"))
        when = ("the last " + when if dates is not None and dates.finished("p50")
                else f"not every job finishes within {inputs.get('horizon_days', '?')} days (P50)")
    c = summary.costs
    committed, used = (c.committed_usd, c.used_usd) if c is not None else (None, None)
    every = summary.bound("cost_usd", "mean")  # replications that did not finish spent to the horizon only
    # (or the commitment exact, a reservation's window, and only the use grows with the run)
    used_low = "at least " if not every and summary.spend_bound("used_usd") else ""
    spent = (f"{'at least ' if every else ''}{money(summary, committed)} committed, {used_low}{money(summary, used)} "
             "used (means over the replications)")
    return f"{head}: {when}; {spent}"


def limit_lines(summary: Summary) -> list[str]:
    """What held the job below the chips in service (summary.json ``limits``), one plain sentence each.

    A portfolio's name their job ("flagship limited by layout: ..."); with several replications they say they are
    replication 0's (the one the tables show).
    """
    where = " (replication 0)" if (summary.replications or 1) > 1 else ""

    def line(who: str, s: str) -> str:
        kind, sep, rest = s.partition(": ")
        return f"{who}{kind}{where}{sep}{rest}" if sep else f"{who}{s}{where}"

    if summary.jobs:
        return [line(f"{job} limited by ", s) for job, s in job_limit_lines(summary)]
    return [line("Limited by ", s) for s in summary.limits if isinstance(s, str)]


def finish_items(summary: Summary) -> list[Headline]:
    """Finish date (P50, with P10 and P90) and the committed / used / idle spend."""
    out = []
    dates = summary.finish_date
    if dates is not None:
        out.append(Headline("finish_date", "Finish date (P50)", summary.date_text("p50"),
                            "" if summary.replications == 1 else
                            f"P10 {summary.date_text('p10')} · P90 {summary.date_text('p90')}"))
    c = summary.costs
    if c is not None:
        low = at_least(summary, "cost_usd", "mean")  # the mean spend of replications stopped by the horizon
        # its P50 too (what the CLI's table and a sweep's cost_usd_p50 give): two "committed" figures read alike
        cost = summary.stat("cost_usd")
        p50 = (f"P50 {at_least(summary, 'cost_usd', 'p50')}{money(summary, cost.p50)}"
               if summary.replications > 1 and cost is not None and cost.p50 is not None else "")
        out.append(Headline("committed_usd", "Committed (mean)", low + money(summary, c.committed_usd),
                            " · ".join(x for x in (p50, f"idle {summary.idle_mark()}{money(summary, c.idle_usd)}"
                                                   + (" (neither bound)" if summary.idle_bound() == "neither" else ""),
                                                   spend_note(summary))
                                       if x)))
        who = "the jobs" if summary.jobs else "the job"  # a portfolio's used spend is every job's
        # the chips held grow with the run even where the committed spend does not (reservations alone)
        used_low = "≥ " if summary.spend_bound("used_usd") else ""
        out.append(Headline("used_usd", f"Used by {who} (mean)", used_low + money(summary, c.used_usd)))
    return out


def _job_input(job: Mapping[str, Any]) -> str:
    """One job of ``jobs:`` for people: model, tokens, sequence length, priority, start, deadline, pools."""
    w = job.get("workload") or {}
    parts = [model_label({"workload": w}), tokens_label(w.get("tokens")),
             f"sequence {w.get('seq_len', '—')}, {w.get('precision', 'bf16')}", f"priority {job.get('priority', 1)}"]
    if job.get("start_after"):
        parts.append(f"not before {job['start_after']}")
    if job.get("deadline"):
        parts.append(f"deadline {job['deadline']}")
    if job.get("pools"):
        parts.append("pools " + " + ".join(str(p) for p in job["pools"]))
    return ", ".join(parts)


def input_rows(inputs: Mapping[str, Any]) -> list[dict[str, str]]:
    """The inputs a reader needs to judge the answer: model, tokens, strategy, and per pool chips, plan and prices.

    A portfolio (``jobs:``) has a row per job (model, tokens, priority, start, deadline, pools) instead of the
    model, tokens and sequence length rows.
    """
    w = inputs.get("workload") or {}
    jobs = [j for j in inputs.get("jobs") or [] if isinstance(j, Mapping)]
    rows = [{"input": f"job {j.get('name', '?')}", "value": _job_input(j)} for j in jobs] or [
        {"input": "model", "value": model_label(inputs)},
        {"input": "tokens", "value": tokens_label(w.get("tokens"))},
        {"input": "sequence length, precision", "value": f"{w.get('seq_len', '—')}, {w.get('precision', 'bf16')}"},
    ]
    rows += [
        {"input": "start, horizon", "value": f"{inputs.get('start', '—')}, {inputs.get('horizon_days', '—')} days"},
        {"input": "strategy", "value": ", ".join(f"{k} {v}" for k, v in (inputs.get("strategy") or {}).items()
                                                 if k in ("mode", "objective")) or "auto"},
        {"input": "reliability", "value": "on" if (inputs.get("reliability") or {}).get("enabled", True) else "off"},
    ]
    for pool in inputs.get("fleet") or []:
        name = f"pool {pool.get('name', '?')}"
        parts = [f"{pool.get('chip', '?')} at {pool.get('site', 'default')}"]
        plan = [f"{pool.get('units', 0):,} on day 0"] if pool.get("units") else []
        plan += [f"{d['units']:,} by {d['date']}" for d in pool.get("deliveries") or []]
        if plan:
            parts.append("owned: " + ", ".join(plan))
        if pool.get("unit_price_usd") is not None:
            parts.append(f"{fmt_usd(num(pool['unit_price_usd']))} per chip")
        cloud = pool.get("cloud")
        if cloud:
            parts.append(f"cloud: {cloud['units']:,} from {cloud['from']} until {cloud['until']} at "
                         f"{fmt_chip_hour_price(num(cloud.get('price_per_chip_hour_usd')))} "
                         f"({cloud.get('billing', 'reserved')})")
        rows.append({"input": name, "value": "; ".join(parts)})
    return rows


# ---------------------------------------------------------------- a portfolio of jobs, site power


def ordered_jobs(summary: Summary) -> list[JobSummary]:
    """The summary's jobs in the order they get chips: by priority, then as listed."""
    return [j for _i, j in sorted(enumerate(summary.jobs), key=lambda ij: (ij[1].priority, ij[0]))]


def _share(p: float | None) -> str:
    return fmt_value("finish_probability", p)


def _date_at(job: JobSummary, q: str) -> str:
    return job.summary.date_text(q)


def job_pools(job: JobSummary) -> str:
    """The pools a job trained on (most often over the replications): 'ascend-cn + azure-h100'."""
    st = job.summary.strategy
    if st is not None and st.pools:
        return " + ".join(str(p) for p in st.pools)
    used = job.summary.pools_used or {}
    return max(used, key=used.get) if used else "—"


def deadline_share(job: JobSummary) -> str | None:
    """The share of replications that meet the job's deadline ('60.0 %'), None when it has none.

    'at least 20.0 % (...)' when the horizon ends before the deadline with replications unfinished.
    """
    p = num(job.deadline_probability)
    if p is not None:
        return _share(p)
    low = num(job.deadline_at_least)
    return None if low is None else f"at least {_share(low)}"


def deadline_caveat(job: JobSummary) -> str:
    """' (the horizon ends before the deadline)' when the share meeting it is only known as a lower bound."""
    return " (the horizon ends before the deadline)" if job.deadline_probability is None and \
        job.deadline_at_least is not None else ""


def deadline_text(job: JobSummary) -> str:
    """'2025-03-31 (60.0 %)': the deadline and the share of replications that meet it; '' without one."""
    if not job.deadline:
        return ""
    p = deadline_share(job)
    if p is None:
        return str(job.deadline)
    why = ": the horizon ends before it" if deadline_caveat(job) else ""
    return f"{job.deadline} ({p}{why})"


def job_rows(summary: Summary) -> list[dict[str, str]]:
    """One display row per job of a portfolio, in priority order (the report's jobs table).

    job, priority, finish P10/P50/P90, time to train (P50), deadline, the chance of meeting it, pools used,
    chip-hours (P50), the spend on the chips it trained on (P50; the fleet's committed spend is the portfolio's, above
    the table) and what limited it (the kinds of its limits: layout, failures ...;
    :func:`job_limit_lines` has the sentences).
    """
    rows = []
    for j in ordered_jobs(summary):
        s = j.summary
        ttt = s.stat("time_to_train_days")
        rows.append({
            "job": j.name, "priority": str(j.priority),
            "finish P10": _date_at(j, "p10"), "finish P50": _date_at(j, "p50"), "finish P90": _date_at(j, "p90"),
            "time to train (P50)": at_least(s, "time_to_train_days", "p50") + fmt_value("time_to_train_days", ttt.at())
            if ttt is not None and ttt.at() is not None else NEVER,
            "deadline (chance met)": deadline_text(j) or "—",
            "pools used": job_pools(j),
            "chip-hours (P50)": at_least(s, "chip_hours", "p50") + fmt_value("chip_hours", s.value("chip_hours")),
            # a job's cost_usd is its used spend; ≥: a lower bound only (replications it did not finish in)
            "used spend (P50)": at_least(s, "cost_usd", "p50") + money(summary, s.value("cost_usd")),
            "limited by": ", ".join(dict.fromkeys(x.split(":", 1)[0] for x in s.limits)) or "—",
        })
    return rows


def job_limit_lines(summary: Summary) -> list[tuple[str, str]]:
    """(job, sentence) of what held each job below the chips it was given, in priority order (its ``limits``)."""
    return [(j.name, x) for j in ordered_jobs(summary) for x in j.summary.limits if isinstance(x, str)]


def job_sentence(job: JobSummary, horizon_days: Any = None) -> str:
    """One job in words: when it finishes (P50 and its band), where, and whether it meets its deadline."""
    fd = job.summary.finish_date
    if fd is not None and fd.finished("p50"):
        when = f"finishes {_date_at(job, 'p50')} (P50; P10 {_date_at(job, 'p10')}, P90 {_date_at(job, 'p90')})"
    else:
        days = f" within {horizon_days} days" if horizon_days is not None else ""
        when = f"does not finish{days} (P50)"
    out = f"{job.name} (priority {job.priority}) {when} on {job_pools(job)}"
    if job.deadline:
        p = deadline_share(job)
        out += (f"; it meets its deadline {job.deadline} in {p} of the replications{deadline_caveat(job)}"
                if p is not None else f"; deadline {job.deadline}")
    return out + "."


def job_lines(summary: Summary) -> list[str]:
    """One short line per job for the terminal: its P50 finish date and the chance of meeting its deadline."""
    out = []
    for j in ordered_jobs(summary):
        line = f"job {j.name} (priority {j.priority}): finish {_date_at(j, 'p50')} (P50)"
        if j.deadline:
            p = deadline_share(j)
            line += (f", deadline {j.deadline} met in {p}{deadline_caveat(j)}" if p is not None
                     else f", deadline {j.deadline}")
        out.append(line)
    return out


def band_sentence(summary: Summary) -> str | None:
    """The cost model's band in words: its P10-P90, what it rests on, and whether the replications drew from it."""
    b = summary.model_band
    if not b:
        return None
    n = int(b.get("measurements") or 0)
    mine = f"{n} measurement{'s' if n != 1 else ''} of yours"
    drawn = ("each replication draws its speed from it" if b.get("drawn") else
             "not drawn in this run (one replication, or simulation.model_error off)")
    if b.get("drawn") and b.get("per_plan"):  # several pools: one draw, read on the pools each plan trains on
        drawn = ("each replication draws one quantile and reads it on the bands of the pools each plan trains on "
                 "(this band weighs them as the expected run trains)")
    whose = f"pool {b.get('pool')}"
    jobs = b.get("jobs") or []
    if b.get("job"):  # a portfolio: the first job's band; every job draws from its own
        whose = f"job {b.get('job')}, pool {b.get('pool')}"
        if b.get("drawn"):
            drawn = "each replication draws each job's speed from the job's own band: " + ", ".join(
                f"{j.get('job')} {num(j.get('p10')):.2f}-{num(j.get('p90')):.2f}x (pool {j.get('pool')})" for j in jobs)
    return (f"Throughput band P10-P90 {num(b.get('p10')):.2f}-{num(b.get('p90')):.2f}x of the cost model's estimate "
            f"({whose}): {b.get('basis')}; {mine}; {drawn}.")


def power_wait_sentence(summary: Summary) -> str | None:
    """How many chip-days delivered chips waited for site power (summary ``power_wait_chip_days``), or None."""
    w = summary.power_wait_chip_days
    if w is None:
        return None
    p50 = w.at("p50") if w.at("p50") is not None else w.at("mean")
    if p50 is None:
        return None
    if p50 <= 0 and (w.at("p90") or 0) <= 0:
        return "No delivered chip waited for site power: every site had power for its chips."
    lo, hi = w.at("p10"), w.at("p90")
    spread = f"; P10 {lo:,.0f}, P90 {hi:,.0f}" if lo is not None and hi is not None and lo != hi else ""
    low = at_least(summary, "power_wait_chip_days", "p50")  # runs stopped by the horizon waited to it only
    until = "by the horizon, where training had not ended" if low else "before the training ended"
    return (f"Delivered chips waited {low}{p50:,.0f} chip-days for site power {until} (P50{spread}), "
            f"about {p50 / 365:,.0f} chip-years: chips on site, commissioned, that the site's power could not run "
            "yet.")


# ---------------------------------------------------------------- every input, grouped as the scenario is

_DIST_KEYS = ("value", "low", "mode", "high", "mean", "sd")


def distribution_text(d: Any, unit: str = "") -> str:
    """A scenario distribution for people: 'triangular (low 0, mode 30, high 120) days'."""
    if not isinstance(d, Mapping):
        return str(d)
    params = ", ".join(f"{k} {num(d[k]):g}" for k in _DIST_KEYS if num(d.get(k)) is not None)
    return f"{d.get('dist', 'fixed')} ({params})" + (f" {unit}" if unit else "")


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.6g}"
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {_plain(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return "; ".join(_plain(v) for v in value) or "none"
    return str(value)


def _flat(prefix: str, value: Any) -> list[tuple[str, str]]:
    """(field path, value for people) of every leaf under ``value``; distributions and short lists stay whole."""
    if isinstance(value, Mapping) and "dist" in value:
        return [(prefix, distribution_text(value, "days" if prefix.endswith("_days") else ""))]
    if isinstance(value, (Mapping, list, tuple)) and not value:
        return []  # an empty section (no custom chips, no sweep) says nothing
    if isinstance(value, Mapping) and value:
        out = []
        for k, v in value.items():
            out += _flat(f"{prefix}.{k}" if prefix else str(k), v)
        return out
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, Mapping) for v in value):
        out = []
        for i, v in enumerate(value):
            out += _flat(f"{prefix}[{i}]", v)
        return out
    return [(prefix, _plain(value))]


def _catalog_price(inputs: Mapping[str, Any], chip_id: str) -> float | None:
    for c in inputs.get("chips") or []:
        if isinstance(c, Mapping) and c.get("id") == chip_id:
            return num(c.get("unit_price_usd"))
    chip = chips().get(chip_id)
    return num(getattr(chip, "unit_price_usd", None)) if chip is not None else None


def owned_price(inputs: Mapping[str, Any], pool: Mapping[str, Any]) -> tuple[float | None, str]:
    """The purchase price of one of the pool's owned chips and where it comes from (as planner/costs.py picks it)."""
    for value, source in ((pool.get("unit_price_usd"), "the pool's unit_price_usd"),
                          (((inputs.get("costs") or {}).get("unit_price_usd") or {}).get(pool.get("chip")),
                           "costs.unit_price_usd"),
                          (_catalog_price(inputs, str(pool.get("chip"))), "the chip catalog")):
        if num(value) is not None:  # a price of 0 is a price (as planner/costs.py reads it)
            return num(value), source
    return None, "no price"


_OWNED_ONLY = ("units", "deliveries", "ordered_units", "commissioning_days", "reserved_fraction", "unit_price_usd")


def _pool_rows(inputs: Mapping[str, Any], i: int, pool: Mapping[str, Any]) -> list[tuple[str, str]]:
    where = f"fleet[{i}]"
    rows = []
    owned = bool(pool.get("units") or pool.get("deliveries"))
    for key, value in pool.items():
        path = f"{where}.{key}"
        if not owned and key in _OWNED_ONLY:
            continue  # a rental has none of them (planner.scenario refuses them on a pool that only rents)
        if key == "deliveries":
            rows.append((path, ", ".join(f"{num(d.get('units')) or 0:,.0f} by {d.get('date')}" for d in value)
                         + " (cumulative)" if value else "none"))
        elif key == "ordered_units":
            planned = max([num(pool.get("units")) or 0] + [num(d.get("units")) or 0
                                                           for d in pool.get("deliveries") or []])
            gap = (num(value) or 0) - planned
            rows.append((path, f"{_plain(value)} ordered; the deliveries reach {planned:,.0f}"
                         + (f" ({gap:,.0f} ordered with no delivery date, not simulated)" if gap > 0 else "")))
        elif key == "commissioning_days":
            rows.append((path, f"{_plain(value)} days from delivery to service"))
        elif key == "reserved_fraction":
            rows.append((path, f"{num(value) * 100:g} % reserved for other work" if num(value) is not None
                         else _plain(value)))
        elif key == "cloud" and isinstance(value, Mapping):
            rows.append((path, f"{_plain(value.get('units'))} rented from {value.get('from')} until "
                               f"{value.get('until')} at "
                               f"{fmt_chip_hour_price(num(value.get('price_per_chip_hour_usd')))} "
                               f"({value.get('billing', 'reserved')})"))
        else:
            rows += _flat(path, value)
    if owned:
        price, source = owned_price(inputs, pool)
        years = (inputs.get("costs") or {}).get("amortization_years", 4.0)
        rows.append((f"{where} owned-chip price",
                     f"{fmt_usd(price)} per chip ({source}), written off straight-line over {_plain(years)} years "
                     "(costs.amortization_years)" if price else f"no price ({source}): owned chips cost nothing"))
    return rows


def input_groups(inputs: Mapping[str, Any]) -> list[tuple[str, list[tuple[str, str]]]]:
    """Every input of the run as (group, [(field path, value for people)]) in the scenario's order.

    Groups follow the file's sections (scenario, workload, one per pool, links, strategy, reliability, costs,
    currency, simulation, ...); each value is formatted for people (distributions with their kind and numbers,
    links in Gbit/s, the owned chips' price with its source and write-off).
    """
    groups: list[tuple[str, list[tuple[str, str]]]] = []
    head = [(k, _plain(inputs[k])) for k in ("name", "description", "start", "horizon_days") if k in inputs]
    if head:
        groups.append(("scenario", head))
    for key, value in inputs.items():
        if key in ("name", "description", "start", "horizon_days"):
            continue
        if key == "fleet":
            for i, pool in enumerate(value or []):
                groups.append((f"pool {pool.get('name', i)}", _pool_rows(inputs, i, pool)))
        elif key == "links":
            groups.append(("links", [(f"links[{i}]", f"{' - '.join(map(str, lk.get('sites') or []))}: "
                                                     f"{_plain(lk.get('gbps'))} Gbit/s, "
                                                     f"{_plain(lk.get('latency_ms', 0))} ms")
                                     for i, lk in enumerate(value or [])] or [("links", "none")]))
        elif key == "currency" and isinstance(value, Mapping):
            groups.append(("currency", [("currency", f"{value.get('code')} at {_plain(value.get('per_usd'))} per USD "
                                                     "(money is also shown in it)")]))
        elif key == "workload" and isinstance(value, Mapping):
            rows = [("workload.model", model_label(inputs))] + [
                r for k, v in value.items() if k != "model" for r in _flat(f"workload.{k}", v)]
            if isinstance(value.get("model"), Mapping):
                rows += _flat("workload.model", value["model"])
            groups.append(("workload", rows))
        else:
            rows = _flat(key, value)
            if rows:
                groups.append((key, rows))
    return groups
