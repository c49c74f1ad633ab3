"""What-if front end for the planner: `streamlit run app.py` (or `planner app`).

No model logic lives here. The page reads a scenario with ``planner.loader``, applies the what-if
controls with ``planner.edits`` (the same field-path edits as ``planner sweep --set``), and calls the
same entry points as the CLI: ``planner.api.simulate`` and ``planner.api.estimate``, each in a child process
(``planner.sim.offload``: a few at a time, results cached within bounds). Charts come from
``planner.report.charts``. Text from the scenario is shown as plain text or through ``escape.markdown``;
spreadsheets through ``escape.frame``.

The scenario list is ``scenarios/*.yaml`` next to this file, or the folder named by the
``PLANNER_SCENARIO_DIR`` environment variable.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import functools
import hashlib
import io
import json
import math
import os
import re
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from planner import api, edits, escape, whatif
from planner.budget import check_time, check_work, run_estimate
from planner.catalog import chips, models
from planner.decide import present
from planner.decide import sensitivity as sens
from planner.decide.solve import bounds as solve_bounds
from planner.decide.solve import solve
from planner.deliveries_file import resolve
from planner.errors import PlannerError, ScenarioError
from planner.fmt import fmt_days, fmt_pct, fmt_si, fmt_usd, num
from planner.loader import MAX_FILE_BYTES, from_dict, parse_bytes
from planner.metrics import BY_KEY
from planner.pace import Pace, eta_text, points_eta_s
from planner.perf.params import count_params, dense_arch_for_params
from planner.report import charts
from planner.report.headline import (
    answer_sentence,
    band_sentence,
    expectation_rows,
    finish_items,
    headline_items,
    job_rows,
    limit_lines,
    power_wait_sentence,
    stat,
)
from planner.report.headline import money as in_currencies
from planner.report.html import cashflow_text, detail_text, render_html
from planner.report.tables import for_people, ordered, summary_json, write_xlsx
from planner.results import SCHEDULE_COLUMNS
from planner.scenario import LAST_DAY, POOL_FAILURE_FIELDS, Cloud, Delivery, Job, Pool, Simulation, Site, Workload

try:  # a pool's own throughput rows (`measured:`)
    from planner.scenario import Measured
except ImportError:  # pragma: no cover - a format without them: the table is not offered
    Measured = None
from planner.sim import offload
from planner.sim.parallel import default_workers
from planner.sim.portfolio import ordered_jobs
from planner.summary import Summary, as_summary

ROOT = Path(__file__).resolve().parent
SCENARIO_DIR = Path(os.environ.get("PLANNER_SCENARIO_DIR") or ROOT / "scenarios")
SEED_SCENARIO = "ascend-ramp-2024.yaml"  # the README's seed scenario: the page opens on it when the folder has it
# the app's cap on replications (the format allows Simulation.replications up to 100,000: `planner run` takes
# those); a run of the shipped scenarios at this many stays well inside MAX_APP_RUN_S
MAX_APP_REPLICATIONS = 1_000
# the first chart of a folder file runs the file's own replications when the work estimate says it takes at
# most this long (an upper bound: the shipped files' 20 replications estimate 4.5 s, run in about 2 s); a
# longer one runs a single replication, and the sidebar then shows 1
FIRST_LOAD_MAX_S = 20.0
# a run the work estimate (planner/budget.py) puts above this is refused in the app; the estimate is an upper bound
# (the seed scenario's 1,000 replications: bound 3.5 min, real 16 s on 2 cores)
MAX_APP_RUN_S = 600.0
MAX_TABLE_ROWS = 200
MAX_UI_SEED = 2**53 - 1  # the largest integer a browser number field holds exactly
MAX_DECIDE_REPLICATIONS = 200
MAX_SOLVE_VALUE = 1e15  # the goal seek's upper bound (a browser number field holds integers exactly below 2**53)
SOLVE_APP_REPLICATIONS = 5  # small by default: a goal seek runs a dozen values
BY_SIZE = "(size in parameters)"
EXPLICIT = "(explicit architecture)"
MODES = ["auto", "single", "sync", "diloco", "sequential"]


def _env_number(name: str, default: float, most: float = 1e6) -> float:
    """A positive finite number from the environment, at most ``most``; else ``default``.

    ``default`` when unset, unreadable, not positive or infinite; 1e308 MiB would overflow once turned into bytes.
    """
    try:
        value = float(os.environ.get(name) or default)
    except ValueError:
        return default
    return min(value, most) if math.isfinite(value) and value > 0 else default


# Many sessions, one server (issue 17). Every simulation (a run, an estimate, the strategy comparison, the
# tornado, a goal seek) runs in a child process forked from a fork server, so the server keeps answering and
# gets the memory back; at most MAX_CONCURRENT_RUNS at once in the whole process (a session that waits says
# so, and gives up after RUN_WAIT_S); results are cached pickled, bounded in entries, bytes and age.
UPLOAD_MB = max(1, MAX_FILE_BYTES // 2**20)  # Streamlit's upload limit, in its decimal megabytes (1,000,000 bytes)
MAX_CONCURRENT_RUNS = int(_env_number("PLANNER_APP_MAX_RUNS", default_workers()))  # the cores by default
RUN_WAIT_S = _env_number("PLANNER_APP_WAIT_S", MAX_APP_RUN_S)
RUN_TIMEOUT_S = 2 * MAX_APP_RUN_S  # a run still going then is stopped (the work estimate is an upper bound)
# the cache keeps small answers only (the shipped scenarios' are 0.03-0.6 MB pickled): a result near the work
# bound (500,000 schedule rows) is tens of MB, stays with its session and is computed again when asked again
CACHE_MAX_ENTRIES = int(_env_number("PLANNER_APP_CACHE_ENTRIES", 16))
CACHE_MAX_BYTES = int(_env_number("PLANNER_APP_CACHE_MB", 64) * 2**20)
CACHE_MAX_ENTRY_BYTES = CACHE_MAX_BYTES // 8
CACHE_TTL_S = 3600.0
# what the fork server imports once, so that each child starts in milliseconds (the child also reads this
# script's definitions, as multiprocessing does for the main module: nothing here runs at import)
PRELOAD = ("streamlit", "pandas", "planner.api", "planner.sim.runner", "planner.decide.sensitivity",
           "planner.decide.solve")


def input_bounds(model, name: str, scale: float = 1.0) -> tuple[float | None, float | None]:
    """(lowest, highest) value an input of ``model.name`` in units of ``scale`` offers: the schema's own bounds.

    Read from the field's constraints in planner/scenario.py (planner.edits.field_bounds), so an input offers exactly
    what the validator takes; an exclusive bound (``gt=0``) becomes the next float inside it.
    """
    return edits.field_bounds(model, name, scale)


def result_cache() -> offload.ResultCache:
    """The cache of run results that every session of this process shares (bounded: entries, bytes, age)."""
    return offload.result_cache(CACHE_MAX_ENTRIES, CACHE_MAX_BYTES, CACHE_TTL_S, CACHE_MAX_ENTRY_BYTES)


def run_slots() -> offload.Slots:
    """The process-wide cap on concurrent simulations (a threading.BoundedSemaphore)."""
    return offload.slots(MAX_CONCURRENT_RUNS)


def offloaded(fn, *args, progress=None, timeout_s: float | None = None, **kwargs):
    """``fn(*args, **kwargs)`` in a child process once a run slot is free; the page says that it waits."""
    offload.configure(PRELOAD)
    slots = run_slots()
    note = st.empty()

    def waiting(seconds: float, queued: int) -> None:
        note.info(f"Waiting for a free run slot: at most {slots.n} simulation(s) at once on this server, "
                  f"{slots.running} running, {queued} session(s) waiting · {seconds:.0f} s")

    try:
        with slots.hold(on_wait=waiting, timeout_s=RUN_WAIT_S):
            note.empty()
            return offload.call(fn, *args, progress=progress, timeout_s=timeout_s, **kwargs)
    finally:
        note.empty()


def simulate(scenario, replications: int, seed: int, progress=None):
    """planner.api.simulate held to the work bound, in a child process, through the shared result cache."""
    check_work(scenario, "<app>")  # bounded work, as in the command line: storms and endless runs are refused
    check_time(scenario, replications, MAX_APP_RUN_S, "<app>")
    key = ("simulate", whatif.canonical_json(scenario), int(replications), int(seed))
    return result_cache().get_or_compute(key, lambda: offloaded(
        api.simulate, scenario, replications=replications, seed=seed, progress=progress, timeout_s=RUN_TIMEOUT_S))


def run_with_progress(scenario, replications: int, seed: int):
    """A run (cached); Monte Carlo shows a progress bar with an ETA while it computes."""
    if replications <= 1:
        with st.spinner("Simulating ..."):
            return simulate(scenario, replications, seed)
    bar = st.progress(0.0, text=f"Simulating {replications} replications ...")
    pace = Pace()  # paced after the serial start (planner/pace.py)

    def progress(done: int, total: int) -> None:
        eta = pace.eta_s(done, total, time.perf_counter())
        bar.progress(done / total, text=f"{done} / {total} replications · {eta_text(eta)}")

    try:
        return simulate(scenario, replications, seed, progress=progress)
    finally:
        bar.empty()


@dataclass(frozen=True)
class Knobs:
    """The what-if controls of the sidebar."""

    cloud_multiplier: float = 1.0  # scales every pool's rented (cloud) units; 0 drops the cloud
    delivery_slip_days: int = 0  # moves every planned delivery date of owned chips
    reliability: bool = True  # failures, checkpoints and restarts on or off
    seed: int = 0
    replications: int = 1


def scenario_files(folder: Path = SCENARIO_DIR) -> list[Path]:
    """The scenario files offered in the sidebar."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in (".yaml", ".yml", ".json") and p.is_file())


def without_failure_settings(scenario):
    """The scenario without the failure settings that nothing reads once failures are off (the format refuses them)."""
    data = copy.deepcopy(edits.to_mapping(scenario))
    for pool in data.get("fleet") or []:
        for field in POOL_FAILURE_FIELDS:
            pool.pop(field, None)
    if isinstance(data.get("reliability"), dict):
        data["reliability"].pop("mtbf_chip_days", None)
    return from_dict(data, scenario.name)


def apply_knobs(scenario, knobs: Knobs):
    """The scenario with the what-if controls applied (a new, validated scenario)."""
    out = edits.scale_cloud(scenario, knobs.cloud_multiplier)
    if not knobs.reliability and out.reliability.enabled:
        out = without_failure_settings(out)
    out = edits.slip_deliveries(out, knobs.delivery_slip_days)
    return edits.set_values(out, {"reliability.enabled": knobs.reliability, "simulation.seed": knobs.seed,
                                  "simulation.replications": knobs.replications}, scenario.name)


def _count(v) -> str:
    return "—" if num(v) is None else f"{num(v):,.0f}"


# an estimate's pool fields as the Estimate table shows them: (column, format); fields not listed are left out
ESTIMATE_COLUMNS = {
    "pool": ("pool", str),
    "chip": ("chip", str),
    "site": ("site", str),
    "stack": ("stack", str),
    "units": ("units (layout)", _count),
    "units_available": ("units available", _count),
    "job_units": ("units the job uses", _count),
    # what the job on those units keeps under failures: the speed and days columns are failure-free, at full size
    "job_kept_tokens_per_s": ("kept tokens/s (the job, failures counted)", lambda v: fmt_si(num(v))),
    "job_time_to_train_days": ("time to train (the job, failures counted)", lambda v: fmt_days(num(v))),
    "mfu": ("MFU", lambda v: fmt_pct(num(v))),
    "tokens_per_s": ("tokens/s", lambda v: fmt_si(num(v))),
    "tokens_per_s_p10": ("tokens/s P10", lambda v: fmt_si(num(v))),
    "tokens_per_s_p90": ("tokens/s P90", lambda v: fmt_si(num(v))),
    "step_time_s": ("step time", lambda v: "—" if num(v) is None else f"{num(v):,.2f} s"),
    "time_to_train_days": ("time to train", lambda v: fmt_days(num(v))),
    "memory_per_chip_gib": ("memory per chip", lambda v: "—" if num(v) is None else f"{num(v):,.1f} GiB"),
    "efficiency_fitted": ("efficiency fitted", lambda v: "—" if num(v) is None else f"×{num(v):.3f}"),
    "limited_by": ("limited by", lambda v: "; ".join(map(str, v)) if isinstance(v, list) else str(v or "")),
    "band_basis": ("band basis", str),
}


def estimate_pools_frame(answer: dict) -> pd.DataFrame:
    """The ``pools`` of an estimate answer for people: each figure with its unit, the layout spread over columns."""
    rows = []
    for pool in answer.get("pools") or []:
        row = {label: fmt(pool[k]) for k, (label, fmt) in ESTIMATE_COLUMNS.items() if k in pool}
        row.update(pool.get("parallelism") or {})
        rows.append(row)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- page


def _guard(what: str, fn, *args, **kwargs):
    """Call fn; show user errors with st.error, internal ones with a folded traceback. Returns None on error."""
    try:
        return fn(*args, **kwargs)
    except PlannerError as exc:  # messages quote the scenario (names, presets): escaped, never rendered
        st.error(escape.markdown(f"{what}: {exc}"))
    except Exception as exc:  # noqa: BLE001 - an internal error must not blank the page
        st.error(escape.markdown(f"{what} failed with an internal error: {type(exc).__name__}: {exc}"))
        with st.expander("details"):
            st.code(traceback.format_exc() + (f"\nIn the run's process:\n{exc.details}"
                                              if isinstance(exc, offload.ChildError) else ""))
    return None


def _default_high(scenario, path: str, current: float) -> float:
    """The goal seek's default largest value, as `planner solve` takes it (up to 4x the value, one the field takes)."""
    try:
        return solve_bounds(scenario, path)[3]
    except PlannerError:  # (a value of 0: the search needs its own range; the field then says what it takes)
        return max(1, 4 * current)


def md(text) -> str:
    """Scenario text (names, sites, descriptions, messages) inside Markdown: shown as typed, never rendered."""
    return escape.markdown(text)


def md_line(text) -> str:
    """``md`` on one line: a caption's text with its line breaks and indents as single spaces.

    A description's blank line and indented line made a paragraph and a code block of the caption.
    """
    return md(" ".join(str(text).split()))


def _sidebar() -> tuple[dict | None, str, Knobs | None, bool, bool]:
    """Scenario choice and knobs. Returns (scenario mapping, its name, knobs, run clicked, uploaded)."""
    sb = st.sidebar
    sb.header("Scenario")
    files = scenario_files()
    sources = (["Scenario folder"] if files else []) + ["Upload a file"]
    source = sb.radio("Source", sources, horizontal=True, label_visibility="collapsed")
    raw, name = None, ""
    if source == "Scenario folder":
        seed_file = [i for i, p in enumerate(files) if p.name == SEED_SCENARIO]
        path = sb.selectbox("Scenario file", files, index=seed_file[0] if seed_file else 0,
                            format_func=lambda p: p.name, key="scenario_file",
                            help=f"The page opens on the seed scenario ({SEED_SCENARIO}).")
        name = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
        # a file of the server's folder reads its delivery sheets beside it, as `planner run FILE` does
        raw = _guard("Reading the scenario", lambda: resolve(parse_bytes(path.read_bytes(), name), path.parent, name))
    else:
        if not files:
            sb.caption(f"No scenario files in {md(SCENARIO_DIR)}.")
        # the drop zone states the same limit as the label and the README
        upload = sb.file_uploader(f"Scenario file (YAML or JSON, at most {UPLOAD_MB} MB)",
                                  type=["yaml", "yml", "json"],
                                  # Streamlit counts decimal megabytes: 1 MB = 1,000,000 bytes, under the CLI's 1 MiB
                                  # (the label says the limit the drop zone applies)
                                  max_upload_size=UPLOAD_MB)
        if upload is not None:
            name = upload.name
            raw = _guard("Reading the scenario", parse_bytes, upload.getvalue(), name)
    uploaded = source == "Upload a file"
    if raw is None:
        return None, name, None, False, uploaded

    sim = raw.get("simulation") if isinstance(raw.get("simulation"), dict) else {}
    rel = raw.get("reliability") if isinstance(raw.get("reliability"), dict) else {}
    fid = file_key(name, raw)  # another file under the same name starts from its own values, not the last one's
    sb.header("What if")
    has_cloud = any(isinstance(p, dict) and p.get("cloud") for p in raw.get("fleet") or [])
    multiplier = sb.slider(
        "Cloud units ×", 0.0, 4.0, 1.0, 0.1, disabled=not has_cloud, key=f"cloud:{fid}",
        help="Scales the rented units of every cloud pool; 0 removes the cloud.",
    )
    slip = sb.number_input(
        "Delivery slip [days]", -365, 3650, 0, 15, key=f"slip:{fid}",
        help="Moves every planned delivery of owned chips by this many days.",
    )
    reliability = sb.toggle("Failures and restarts", bool(rel.get("enabled", True)), key=f"rel:{fid}")
    file_seed = sim.get("seed", 0)  # not validated yet: a bad one is reported by the validator, not here
    ok = isinstance(file_seed, int) and not isinstance(file_seed, bool) and 0 <= file_seed <= MAX_UI_SEED
    seed = sb.number_input("Seed", 0, MAX_UI_SEED, file_seed if ok else 0, key=f"seed:{fid}",
                           help=f"0 to {MAX_UI_SEED:,}: the largest integer a browser's number field holds exactly "
                                f"(the format takes up to {input_bounds(Simulation, 'seed')[1]:,}).")
    if not ok and isinstance(file_seed, int) and not isinstance(file_seed, bool) and file_seed > MAX_UI_SEED:
        # said, never replaced in silence: the run here is not the file's (`planner run` takes its seed)
        sb.warning(f"The file's seed {file_seed:,} is more than this page's field holds ({MAX_UI_SEED:,}): runs "
                   "here use the seed above, not the file's; `planner run` uses the file's.")
    file_reps = sim.get("replications", 1)
    ok = isinstance(file_reps, int) and not isinstance(file_reps, bool) and file_reps >= 1
    if ok and file_reps > MAX_APP_REPLICATIONS:
        sb.warning(f"The file asks for {file_reps:,} replications; this page runs at most "
                   f"{MAX_APP_REPLICATIONS:,}: `planner run` runs them all.")
    file_reps = min(file_reps, MAX_APP_REPLICATIONS) if ok else 1
    # a folder file's first chart runs these replications (uploads run only on Run): the sidebar shows what it used
    default_reps = file_reps if source != "Scenario folder" else first_load_replications(raw, file_reps, name)
    reps = sb.number_input(
        "Replications", 1, MAX_APP_REPLICATIONS, default_reps, key=f"reps:{fid}",
        help=f"At most {MAX_APP_REPLICATIONS:,} here (`planner run` takes up to "
             f"{input_bounds(Simulation, 'replications')[1]:,}). " + ("" if default_reps == file_reps else
                                          f"The file asks for {file_reps:,}; the first chart ran {default_reps}, "
                                          "the longest a first chart may take."))
    knobs = Knobs(float(multiplier), int(slip), bool(reliability), int(seed), int(reps))
    run = sb.button("Run", type="primary", width="stretch")
    return raw, name, knobs, run, uploaded


def file_key(name: str, raw: dict) -> str:
    """A scenario file's identity for the page's widgets: its name and its content.

    An upload under the same name, or a file edited on disk, is another file whose inputs start from its own values.
    """
    # repr, not JSON: the mapping is not validated yet (a key may be a number or null, which JSON cannot sort)
    return f"{name}:" + hashlib.sha256(repr(raw).encode()).hexdigest()[:16]


def first_load_replications(raw: dict, file_reps: int, name: str) -> int:
    """The replications of a folder file's first chart: the file's own when the work estimate keeps the wait short.

    Above FIRST_LOAD_MAX_S (an upper bound, planner/budget.py) the first chart runs one replication.
    """
    if file_reps <= 1:
        return 1
    memo = st.session_state.setdefault("first_load_reps", {})
    key = (name, json.dumps(raw, sort_keys=True, default=str), file_reps)
    if key not in memo:
        try:
            seconds = run_estimate(from_dict(raw, name), file_reps).seconds
        except (PlannerError, ValueError, TypeError):  # an invalid file: the validator reports it on the page
            seconds = math.inf
        memo.clear()  # one file at a time
        memo[key] = file_reps if seconds <= FIRST_LOAD_MAX_S else 1
    return memo[key]


EDIT_ERRORS = "edit_errors"  # (session state) this rerun's edits that did not validate, said atop the Run tab

# figures the headline lists under two keys: the second one is folded into the first one's card
SAME_FIGURE = {"cost_usd": "committed_usd"}


def headline_cards(summary: Summary) -> list:
    """The headline figures, one card per figure.

    A figure listed twice (the finish date, the committed spend) keeps its first card, and the other's detail
    goes into that card's help. Labels say P50 in one spelling.
    """
    cards: dict[str, object] = {}
    for h in finish_items(summary) + headline_items(summary):
        key = SAME_FIGURE.get(h.key, h.key) if SAME_FIGURE.get(h.key) in cards else h.key
        label = re.sub(r"\(p(\d+)\)", r"(P\1)", h.label)
        if key in cards:
            kept = cards[key]
            have = kept.detail.lower()
            parts = []  # what the card's help does not say yet, a sentence ("; ") at a time
            for p in (h.detail or "").split(" · "):
                new = [x for x in p.split("; ") if x and x.lower() not in have]
                if new:
                    parts.append("; ".join(new))
            if parts or h.value != kept.value:  # the figure named first: its P10 and P90 are not the card's
                parts = [f"{label}: {h.value}", *parts]
            if parts:
                cards[key] = dataclasses.replace(kept, detail=" · ".join([kept.detail] * bool(kept.detail) + parts))
            continue
        # the label says chip-hours: the value alone fits a card of a four-column row ("62.2 M chip-h" was cut)
        value = h.value.removesuffix(" chip-h") if key == "chip_hours" else h.value
        cards[key] = dataclasses.replace(h, label=label, value=value)
    return list(cards.values())


def _metrics(summary: Summary, base: Summary | None) -> None:
    """Headline cards with the change against the loaded scenario (percentage points for shares)."""
    change = whatif.deltas(summary, base)
    items = headline_cards(summary)
    cols = st.columns(4)
    for i, h in enumerate(items):
        lower_better = BY_KEY[h.key].lower_is_better if h.key in BY_KEY else True  # dates, money: lower is better
        cols[i % 4].metric(h.label, h.value, delta=change.get(h.key), help=md(h.detail) if h.detail else None,
                           border=True,
                           delta_color="inverse" if lower_better else "normal")
    rows = expectation_rows(summary)
    if rows:
        passed = sum(r["result"] == "PASS" for r in rows)
        cols[len(items) % 4].metric("Expectations", f"{passed} / {len(rows)} pass", border=True)
        st.dataframe(pd.DataFrame(rows), hide_index=True)


RESULT_TABLES = ("schedule", "events", "plan", "layouts", "replications", "links", "tokens_fan")


def spreadsheet_safe(result):
    """The result with every table spreadsheet-safe: text cells and headers through escape.frame."""
    return dataclasses.replace(result, **{k: escape.frame(getattr(result, k)) for k in RESULT_TABLES
                                          if isinstance(getattr(result, k, None), pd.DataFrame)})


def schedule_csv(result) -> str:
    """schedule.csv as the CLI writes it: the documented column order, no text cell or header a live formula."""
    return escape.frame(ordered(result.schedule, SCHEDULE_COLUMNS)).to_csv(index=False, lineterminator="\n")


def xlsx_bytes(result) -> bytes:
    """report.xlsx as the app offers it: the tables through escape.frame, the writer escapes the rest."""
    book = io.BytesIO()
    write_xlsx(spreadsheet_safe(result), book)
    return book.getvalue()


def yaml_download(scenario) -> tuple[str | None, str | None]:
    """(the scenario as YAML, None) when planner's writer and loader round-trip it; (None, why) when they do not.

    The text is written by the planner's YAML writer and read back by its loader and validator; an
    answer that differs from the scenario (a name read back as a number, a lost field) is refused.
    """
    where = f"{scenario.name}.yaml"
    try:
        text = whatif.to_yaml(scenario)
        back = whatif.from_yaml(text, where)
    except PlannerError as exc:
        return None, f"The scenario's YAML does not read back: {exc}; download refused."
    if whatif.canonical_json(back) != whatif.canonical_json(scenario):
        changed = whatif.changed_fields(edits.to_mapping(scenario), edits.to_mapping(back))
        shown = "; ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
        return None, f"The scenario's YAML would read back as another scenario ({shown or 'changed'}); " \
                     "download refused."
    return text, None


def download_name(name: str, suffix: str) -> str:
    """A file name from a scenario name: letters, digits, '.', '_' and '-' only."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).strip("._-")[:100]
    return f"{stem or 'scenario'}{suffix}"


def _downloads(state: dict, result, scenario) -> None:
    """The edited scenario as YAML (round-tripped, or refused), report.html, report.xlsx, summary.json, schedule.csv.

    The reports are built only when clicked; the spreadsheets go through escape.frame.
    """
    key = whatif.canonical_json(scenario)
    if (state.get("yaml_download") or (None,))[0] != key:
        state["yaml_download"] = (key, *yaml_download(scenario))
    _, text, why = state["yaml_download"]
    if why:
        st.error(md(why))
    cols = st.columns(5)
    opts = dict(on_click="ignore")
    if text is not None:
        cols[0].download_button("scenario.yaml", lambda: text, download_name(scenario.name, ".yaml"),
                                "application/x-yaml", key="dl-yaml", **opts)
    cols[1].download_button("report.html", lambda: render_html(result), "report.html", "text/html", key="dl-html",
                            **opts)
    cols[2].download_button("report.xlsx", lambda: xlsx_bytes(result), "report.xlsx",
                            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key="dl-xlsx", **opts)
    cols[3].download_button("summary.json", lambda: summary_json(result.summary),
                            "summary.json", "application/json", key="dl-summary", **opts)
    cols[4].download_button("schedule.csv", lambda: schedule_csv(result), "schedule.csv", "text/csv",
                            key="dl-schedule", **opts)


def _charts(state: dict, result) -> None:
    """The run's charts, each sent to the page as soon as it is built, and built once per result.

    A rerun that changes no result sends the same charts again (the browser does not redraw them) and
    costs no plotting time.
    """
    cached = state.get("result_figures")
    if cached is None or cached[0] is not result:
        cached = (result, {})
        state["result_figures"] = cached
    built = cached[1]
    note = detail_text(result)  # which replication the detailed charts show, as the report says it
    if note:
        st.caption(md(note))
    for key, build in charts.result_figure_builders(result).items():
        if key in SAME_AS_CHART:  # the same stacked tokens as the progress chart: the month table below says it
            continue
        if key not in built:
            built[key] = readable(build())
        st.plotly_chart(built[key], key=f"chart-{key}")
        if key == "cashflow":  # which replication it prices, and what committed and paid mean (the report's note)
            st.caption(md(cashflow_text(result)))
    _contribution_table(result)


# charts of the report the page leaves out: "contribution" stacks the tokens of each pool as "tokens" does
SAME_AS_CHART = ("contribution",)
# what each pool contributes, by month, below the charts (the report's own table: planner.report.charts)
CONTRIBUTION = "What each pool contributes: tokens trained by month"


def readable(fig):
    """A chart with its deadline labels kept clear of the other labels.

    The risk charts mark each `expect` deadline with a vertical line labelled at the top, where the target's
    label ("tokens to train") and the quantile labels sit: the deadline labels go to the foot of their line,
    one above the other, on a white ground.
    """
    deadlines = [a for a in fig.layout.annotations or () if str(a.text or "").startswith("deadline")]
    for i, a in enumerate(deadlines):
        a.update(y=0.02 + 0.09 * i, yref="paper", yanchor="bottom", xanchor="left", bgcolor="rgba(255,255,255,0.85)")
    return fig


def month_table(schedule) -> pd.DataFrame:
    """Tokens each pool trained in each calendar month, formatted with units (a column per pool, and the total)."""
    table = charts.monthly_tokens(schedule)
    if table.empty:
        return table
    table.columns.name = None  # no header row of its own ("pool")
    out = table[["month"]].copy()
    for col in table.columns[1:]:
        out[str(col)] = [fmt_si(num(v), "tokens") for v in table[col]]
    return out


def _contribution_table(result) -> None:
    table = month_table(result.schedule)
    if table.empty:
        return
    with st.expander(f"{CONTRIBUTION} ({len(table)} months)"):
        st.dataframe(table, hide_index=True)  # shown as typed (pool names are not rendered)


JOBS_HEADING = "Jobs, in priority order"
# the portfolio's and the powered sites' charts (planner.report.charts.portfolio_figures, as in the report), each
# with the note the page shows under it
PORTFOLIO_NOTES = {
    "jobs_timeline": "A bar per job from its first training day to its P50 finish; the lighter band spans the P10-P90 "
                     "finish (dotted to the horizon when P90 is never); the red tick is the deadline, with the share "
                     "of replications that meet it.",
    "jobs_chips": "Chips in training by job: the schedule of replication 0, day by day; the finish dates and deadline "
                  "chances above cover every replication.",
    "site_power": "Usable chips delivered (less each pool's reserved share) against the chips in service and the most "
                  "the site's power can run; delivered chips beyond it wait for power. Replication 0's schedule.",
}


def jobs_frame(summary: Summary) -> pd.DataFrame:
    """A portfolio's jobs (``jobs:``) as the report's jobs table has them, a row each in priority order.

    job, priority, finish P10/P50/P90, time to train (P50), deadline and the share of replications that meet it,
    pools used, chip-hours, cost and what limited it (planner.report.headline.job_rows); empty for one job.
    """
    return pd.DataFrame(job_rows(summary))


def portfolio_figures(state: dict, result) -> dict:
    """The run's jobs Gantt, chips by job and site power charts (the report's), built once per result."""
    cached = state.get("portfolio_figures")
    if cached is None or cached[0] is not result:
        cached = (result, charts.portfolio_figures(result))
        state["portfolio_figures"] = cached
    return cached[1]


def _portfolio(state: dict, result) -> None:
    """With ``jobs:``: the jobs table, their Gantt timeline and chips by job; with ``sites:``: the wait for power."""
    summary = result.summary
    band = band_sentence(summary)
    if band is not None:
        st.caption(md(band))  # what the finish-date spread rests on
    wait = power_wait_sentence(summary)
    if not summary.jobs and wait is None:
        return
    if summary.jobs:
        st.subheader(JOBS_HEADING)
        st.dataframe(jobs_frame(summary), hide_index=True, key="jobs-table")  # shown as typed: job and pool names
    if wait is not None:
        st.info(md(wait))
    for key, fig in portfolio_figures(state, result).items():
        st.plotly_chart(fig, key=f"chart-{key}")  # not through readable(): the Gantt labels its deadlines itself
        if key in PORTFOLIO_NOTES:
            st.caption(PORTFOLIO_NOTES[key])


def _run_tab(state: dict, current_key: str, scenario, base: Summary | None) -> None:
    result = state.get("result")
    if result is None:
        st.info("Nothing simulated yet: set the knobs and press **Run** in the sidebar.")
        return
    if state.get("result_key") != current_key:
        st.warning("The settings changed since this run; press **Run** to update.")
    st.subheader(f"Run: {md(result.summary.scenario or result.scenario_name)}")
    st.markdown(f"**{md(answer_sentence(result.summary, result.inputs))}**")
    for line in limit_lines(result.summary):  # plain text: the sentences carry pool names from the scenario
        st.text(line)
    changed = state.get("result_changes") or []
    sim = state.get("file_simulation") or {}  # the file's own seed and replications, where the run's differ
    theirs = [f"the file's {k} {sim[k]:,}" for k, v in (("seed", result.summary.seed),
                                                        ("replications", result.summary.replications))
              if isinstance(sim.get(k), int) and not isinstance(sim.get(k), bool) and sim[k] != v]
    st.caption("Settings against the loaded file: " + (md("; ".join(changed)) if changed else "as loaded") +
               f" · seed {result.summary.seed} · {result.summary.replications} replication(s)"
               + (f" ({'; '.join(theirs)})" if theirs else ""))
    _metrics(result.summary, base)
    _portfolio(state, result)
    _charts(state, result)
    with st.expander(f"Layouts ({len(result.layouts)})"):
        st.dataframe(for_people(result.layouts), hide_index=True)  # numbers with units, as the report shows them
    n = len(result.events)
    with st.expander(f"Events ({n})" if n <= MAX_TABLE_ROWS else f"Events (first {MAX_TABLE_ROWS} of {n})"):
        st.dataframe(for_people(result.events.head(MAX_TABLE_ROWS)), hide_index=True)
    if len(result.replications) > 1:
        with st.expander(f"Replications ({len(result.replications)})"):
            st.dataframe(for_people(result.replications), hide_index=True)
    _downloads(state, result, state.get("result_scenario") or scenario)


def _edit_tab(loaded, fid: str, reliability: bool = True):
    """Edit without YAML: model and tokens, strategy, and per pool its chip, then the fields of its kind.

    Owned chips: units, deliveries, commissioning, reserved share; a rental: units, window, price; both: what the
    lab knows of the pool (failures, restart and checkpoint times, measured throughput). ``reliability``: failures
    are on (the sidebar's toggle). ``fid``: the file's identity (``file_key``), which keys the widgets.
    """
    sc = loaded
    k = f"{fid}:"
    st.caption("Every change goes through the same field-path edits as `planner sweep --set` and is re-validated.")
    workloads = loaded.workloads()  # `workload:`, or each job of `jobs:`
    # a job with a `strategy:` of its own trains by it, not by the scenario's: its own control, in its row; the
    # scenario's control sits in the row of the first job that follows it, and names the jobs that do
    own = [j for j, job in enumerate(loaded.jobs) if job.strategy is not None]
    sharing = [job.name for j, job in enumerate(loaded.jobs) if j not in own]
    shared_row = next((j for j in range(len(workloads)) if j not in own), None)
    about = ("auto takes the mode with the earliest finish (the cheapest with objective: cost); single, sync, diloco "
             "and sequential as in `planner compare`")
    for j, (path, w) in enumerate(workloads):
        if len(workloads) > 1:
            st.markdown(f"Job **{md(loaded.jobs[j].name)}**")
        c1, c2, c3 = st.columns(3)
        sc = _workload_fields(sc, path, w, k if path == "workload" else f"{k}{path}:", c1, c2)
        if loaded.jobs:  # its priority, first day and deadline
            sc = _section(sc, _job_fields, loaded, j, k)
        if j in own:
            mine = sc.jobs[j].strategy.mode
            mode = c3.selectbox("Strategy mode (this job's own)", MODES, index=MODES.index(mine), key=f"{k}mode{j}",
                                help=f"{about}. This job's `strategy:` sets it: the scenario's does not apply to it")
            if mode != mine:
                sc = edits.set_values(sc, {f"jobs[{j}].strategy.mode": mode}, sc.name)
        elif j == shared_row:
            shared = f". The scenario's: the jobs without a strategy of their own ({', '.join(sharing)}) train by it" \
                if own and sharing else ""
            mode = c3.selectbox("Strategy mode", MODES, index=MODES.index(sc.strategy.mode), key=k + "mode",
                                help=about + md(shared))
            if mode != sc.strategy.mode:
                sc = edits.set_values(sc, {"strategy.mode": mode}, sc.name)
    for i, site in enumerate(loaded.sites):
        with st.expander(f"Site {md(site.name)}: power", expanded=False):
            sc = _section(sc, _site_fields, loaded, i, k)
    chip_ids = sorted(chips())
    for i, pool in enumerate(loaded.fleet):
        owned, rented = is_owned(pool), pool.cloud is not None
        kind = "owned and rented" if owned and rented else "rented" if rented else "owned"
        with st.expander(f"Pool {md(pool.name)} ({md(pool.chip)}, {kind})", expanded=i == 0):
            chip = st.selectbox("Chip", chip_ids + ([pool.chip] if pool.chip not in chip_ids else []),
                                index=(chip_ids + [pool.chip]).index(pool.chip), key=f"{k}chip{i}")
            if chip != pool.chip:
                sc = _section(sc, lambda s, path, value: edits.set_values(s, {path: value}, s.name),
                              f"fleet[{i}].chip", chip)
            if owned:
                sc = _section(sc, _owned_fields, loaded, i, k)
            if rented:
                sc = _section(sc, _cloud_fields, loaded, i, k)
            sc = _section(sc, _failure_fields, loaded, i, k, reliability)
            if "measured" in Pool.model_fields:
                sc = _section(sc, _measured_field, loaded, i, k)
    return sc


def _job_fields(sc, loaded, j: int, k: str):
    """A portfolio job's priority (1 gets chips first), the day it may start, and its deadline (blank: none)."""
    job = loaded.jobs[j]
    x, y, z = st.columns(3)
    lo, hi = input_bounds(Job, "priority")
    priority = x.number_input("Priority (1 first)", lo, hi, int(job.priority), 1, key=f"{k}prio{j}",
                              help="Chips go to jobs in priority order at each capacity change; a lower number first.")
    days = {"min_value": loaded.start, "max_value": LAST_DAY}  # (the format's calendar from the plan's start)
    after = y.date_input("Start after (blank: the start)", job.start_after, key=f"{k}after{j}",
                         help="The job takes no chips before this date.", **days)
    deadline = z.date_input("Deadline (blank: none)", job.deadline, key=f"{k}deadline{j}",
                            help="Reported against the job's finish dates: the chance of meeting it.", **days)
    sets = {}
    if int(priority) != job.priority:
        sets[f"jobs[{j}].priority"] = int(priority)
    for field, now, was in (("start_after", after, job.start_after), ("deadline", deadline, job.deadline)):
        if now != was:
            sets[f"jobs[{j}].{field}"] = now.isoformat() if now is not None else None
    return edits.set_values(sc, sets, sc.name) if sets else sc


def _site_fields(sc, loaded, i: int, k: str):
    """A site's PUE and its power over time (date, MW): the chips in service there draw at most that power."""
    site = loaded.sites[i]
    lo, hi = input_bounds(Site, "pue")
    pue = st.number_input("PUE", float(lo), float(hi), float(site.pue), 0.05, key=f"{k}pue{i}",
                          help="Facility power over IT power: each chip draws its TDP times the PUE.")
    if float(pue) != float(site.pue):
        sc = _section(sc, lambda s: edits.set_values(s, {f"sites[{i}].pue": float(pue)}, s.name))
    st.markdown("Power by date (MW for IT and cooling, from that date on)")
    table = st.data_editor(pd.DataFrame(whatif.power_rows(loaded, i), columns=["date", "mw"]),
                           num_rows="dynamic", key=f"{k}power{i}", hide_index=True,
                           column_config={"date": st.column_config.DateColumn("date"),
                                          "mw": st.column_config.NumberColumn("MW", min_value=0.0,
                                                                              max_value=100_000.0)})
    rows = table.to_dict("records")
    if rows != whatif.power_rows(loaded, i):
        sc = _section(sc, whatif.set_power, i, rows)
    return sc


def _section(sc, fn, *args):
    """One part of the Edit tab's fields applied to ``sc``; an edit that does not validate is shown there, not applied.

    The other parts and tabs go on with the scenario without it (a half-typed delivery row blanked the whole page,
    the last run too); the Run tab says an edit is waiting (``EDIT_ERRORS``).
    """
    try:
        return fn(sc, *args)
    except PlannerError as exc:  # messages quote the scenario (names, presets): escaped, never rendered
        st.error(escape.markdown(f"Not applied: {exc}"))
        st.session_state.setdefault(EDIT_ERRORS, []).append(str(exc))
        return sc


def _workload_fields(sc, path: str, w, k: str, c1, c2):
    """One job's model (a preset, or a size in parameters) and tokens; ``path`` is its workload's field path."""
    presets = sorted(models())
    model = w.model if isinstance(w.model, str) else None
    options = presets + [BY_SIZE] + ([EXPLICIT] if model is None else [])
    choice = c1.selectbox("Model", options, index=presets.index(model) if model in presets else len(options) - 1,
                          key=k + "model", format_func=lambda m: models()[m].name if m in models() else m,
                          help="A preset, or a size: a dense Llama-3-shaped architecture of that many parameters "
                               "(written into the scenario as an explicit architecture)")
    now_t = float(w.tokens) / 1e12
    lo, hi = input_bounds(Workload, "tokens", 1e12)  # the schema's bounds: above 0, at most 1e16 tokens
    tokens_t = c2.number_input("Tokens [trillions]", lo, hi, now_t, 0.1, key=k + "tokens", format="%g",
                               help=f"Above 0 and at most {hi:,g} trillion (1e16 tokens), as the scenario format "
                                    "takes them; 0.001 is a billion tokens.")
    sets = {}
    if abs(float(tokens_t) * 1e12 - float(w.tokens)) > 1e-9 * float(w.tokens):
        sets[f"{path}.tokens"] = float(tokens_t) * 1e12
    if choice in presets and choice != model:
        sets[f"{path}.model"] = choice
    if sets:
        sc = edits.set_values(sc, sets, sc.name)
    if choice == BY_SIZE:
        size_b = c1.number_input("Parameters [billions]", 0.1, 10_000.0, round(count_params(w.arch).total / 1e9, 2),
                                 key=k + "size", format="%.2f")
        try:
            arch = dense_arch_for_params(float(size_b) * 1e9)
        except ValueError as exc:
            raise ScenarioError(str(exc), field=f"{path}.model") from None
        sc = edits.set_values(sc, {f"{path}.model": arch.model_dump(exclude_none=True, exclude_defaults=True)},
                              sc.name)
        c1.caption(f"{arch.layers} layers × {arch.hidden} hidden, {arch.heads} heads ({arch.n_kv_heads} KV), FFN "
                   f"{arch.ffn}: {count_params(arch).total / 1e9:,.2f} B parameters (Llama 3 shape rule)")
    elif choice == EXPLICIT:
        c1.caption(f"The file's architecture: {count_params(w.arch).total / 1e9:,.2f} B parameters")
    return sc


def is_owned(pool) -> bool:
    """Whether a pool has owned chips (units on day 0 or deliveries); a pool with neither only rents."""
    return bool(pool.units or pool.deliveries) or pool.cloud is None


def set_pool_fields(scenario, i: int, values: dict, cloud: dict | None = None, failures_on: bool = False):
    """Pool ``i`` with ``values`` set (None: the field removed, its default applies) and its rental updated.

    Edited as a mapping and validated whole, so a rental of 0 units stays the pool's (``cloud: {units: 0}``
    rents nothing) and the other pools keep their places. ``failures_on`` also turns failures on (the format
    refuses failure settings while they are off).
    """
    data = copy.deepcopy(edits.to_mapping(scenario))
    entry = data["fleet"][i]
    for field, value in values.items():
        if value is None:
            entry.pop(field, None)
        else:
            entry[field] = value
    if cloud:
        entry["cloud"] = {**(entry.get("cloud") or {}), **cloud}
    if failures_on:
        data.setdefault("reliability", {})["enabled"] = True
    return from_dict(data, scenario.name)


def _owned_fields(sc, loaded, i: int, k: str):
    """Owned chips: units on day 0, the delivery plan, its slip and share by a date, commissioning, reserved share."""
    pool = loaded.fleet[i]
    lo, hi = input_bounds(Pool, "units")
    units = st.number_input("Units on day 0", lo, hi, int(pool.units), key=f"{k}units{i}",
                            help="Owned chips in service on day 0.")
    # each edit applied on its own (``_section``): one that does not validate leaves the fields after it drawn, so
    # their values (and Streamlit's state of them) stay
    if int(units) != pool.units:
        sc = _section(sc, lambda s: edits.set_values(s, {f"fleet[{i}].units": int(units)}, s.name))
    st.markdown("Delivery plan (cumulative units by date)")
    lo, hi = input_bounds(Delivery, "units")
    table = st.data_editor(pd.DataFrame(whatif.delivery_rows(loaded, i), columns=["date", "units"]),
                           num_rows="dynamic", key=f"{k}plan{i}", hide_index=True,
                           column_config={"date": st.column_config.DateColumn("date"),
                                          "units": st.column_config.NumberColumn("units", min_value=lo, max_value=hi,
                                                                                 step=1)})
    rows = table.to_dict("records")
    if rows != whatif.delivery_rows(loaded, i):
        sc = _section(sc, whatif.set_deliveries, i, rows)
    x, y, z = st.columns(3)
    slip = x.number_input("Slip by [days]", -365, 3650, 0, 15, key=f"{k}slip{i}")
    share = y.slider("Share delivered by date", 0.0, 1.0, 1.0, 0.05, key=f"{k}share{i}")
    by = z.date_input("by", (sc.fleet[i].deliveries[-1].date if sc.fleet[i].deliveries else sc.start),
                      key=f"{k}by{i}")
    if share < 1.0:
        sc = _section(sc, whatif.share_by_date, i, share, by)
    sc = _section(sc, whatif.slip_pool, i, int(slip))
    x, y = st.columns(2)
    lo, hi = input_bounds(Pool, "commissioning_days")
    commissioning = x.number_input("Commissioning [days]", float(lo), float(hi), float(pool.commissioning_days),
                                   1.0, key=f"{k}comm{i}", help="From delivery to in service.")
    lo, hi = input_bounds(Pool, "reserved_fraction")
    reserved = y.number_input("Reserved share", float(lo), float(hi), float(pool.reserved_fraction), 0.05,
                              key=f"{k}resv{i}", help="Share of the owned chips held back for other work "
                                                      "(inference); 0.2 = 20 %.")
    values = {}
    if float(commissioning) != float(pool.commissioning_days):
        values["commissioning_days"] = float(commissioning)
    if float(reserved) != float(pool.reserved_fraction):
        values["reserved_fraction"] = float(reserved)
    return _section(sc, set_pool_fields, i, values) if values else sc


def _cloud_fields(sc, loaded, i: int, k: str):
    """A rental: units, its window and its price per chip-hour (0 units rents nothing)."""
    cloud = loaded.fleet[i].cloud
    x, y, z, w = st.columns(4)
    lo, hi = input_bounds(Cloud, "units")
    cu = x.number_input("Cloud units", lo, hi, int(cloud.units), key=f"{k}cu{i}", help="0 rents nothing.")
    cf = y.date_input("Cloud from", cloud.from_, key=f"{k}cf{i}")
    ct = z.date_input("Cloud until", cloud.until, key=f"{k}ct{i}")
    lo, hi = input_bounds(Cloud, "price_per_chip_hour_usd")
    cp = w.number_input("Price [USD/chip-h]", float(lo), float(hi), float(cloud.price_per_chip_hour_usd),
                        key=f"{k}cp{i}")
    now = {"units": int(cu), "from": cf.isoformat(), "until": ct.isoformat(), "price_per_chip_hour_usd": float(cp)}
    was = {"units": cloud.units, "from": cloud.from_.isoformat(), "until": cloud.until.isoformat(),
           "price_per_chip_hour_usd": float(cloud.price_per_chip_hour_usd)}
    changed = {f: v for f, v in now.items() if v != was[f]}
    return set_pool_fields(sc, i, {}, cloud=changed) if changed else sc


# what a lab knows of a pool from its own logs: (field, label, step, help)
FAILURE_INPUTS = (
    ("mtbf_chip_days", "MTBF [chip-days]", 100.0, "Mean time between failures of one chip."),
    ("restart_base_minutes", "Restart [min]", 1.0, "Detect a failure, reschedule and reload the job."),
    ("restart_minutes_per_1000_chips", "Restart per 1,000 chips [min]", 0.1, "Restart time added per 1,000 chips."),
    ("manual_intervention_share", "Failures needing people [share]", 0.001,
     "Share of failures that wait for a manual intervention before the restart (Llama 3: 3 of 419)."),
    ("manual_intervention_hours", "Wait for people [h]", 0.5,
     "Mean wait for a manual intervention, drawn exponential (BLOOM's CUDA crash: 7.3 h)."),
    ("checkpoint_write_s", "Checkpoint write [s]", 1.0, "Blocking time of one checkpoint write."),
)


def failure_defaults(scenario, pool) -> dict:
    """What each failure input of a pool is when the pool does not set it: the reliability section or the catalog."""
    rel = scenario.reliability
    try:
        mtbf = rel.mtbf_chip_days or scenario.chip(pool.chip).mtbf_chip_days
    except (KeyError, AttributeError):
        mtbf = rel.mtbf_chip_days
    return {"mtbf_chip_days": mtbf, "restart_base_minutes": rel.restart_base_minutes,
            "restart_minutes_per_1000_chips": rel.restart_minutes_per_1000_chips,
            "manual_intervention_share": rel.manual_intervention_share,
            "manual_intervention_hours": rel.manual_intervention_hours, "checkpoint_write_s": rel.checkpoint_write_s}


def _failure_fields(sc, loaded, i: int, k: str, reliability: bool):
    """The pool's MTBF, restart and checkpoint times (empty: the reliability section's, or the catalog's)."""
    pool = loaded.fleet[i]
    defaults = failure_defaults(loaded, pool)
    st.markdown("Failures on this pool (from your own logs; empty: the default shown)")
    if not reliability:
        st.caption("Failures are off (sidebar): these are not read.")
    cols = [c for _row in range(0, len(FAILURE_INPUTS), 3) for c in st.columns(3)]  # rows of three: room to read
    values = {}
    for col, (field, label, step, help_text) in zip(cols, FAILURE_INPUTS, strict=True):
        lo, hi = input_bounds(Pool, field)
        own = getattr(pool, field)
        default = defaults.get(field)
        shown = "state size ÷ storage" if default is None else f"default {default:,.4g}"
        value = col.number_input(label, float(lo), float(hi), None if own is None else float(own), step,
                                 key=f"{k}{field}{i}", placeholder=shown, disabled=not reliability,
                                 help=help_text + f" Empty: {shown}.", format="%g")
        if reliability and (None if value is None else float(value)) != (None if own is None else float(own)):
            values[field] = None if value is None else float(value)
    if not values:
        return sc
    return set_pool_fields(sc, i, values, failures_on=not sc.reliability.enabled)


MEASURED_COLUMNS = ["model", "units", "seq_len", "global_batch_tokens", "precision", "tokens_per_s_per_chip",
                    "parallelism"]


def measured_table(scenario, i: int) -> pd.DataFrame:
    """A pool's ``measured`` rows as an editable table (an explicit architecture as JSON, the layout as tp=8, pp=4)."""
    rows = []
    for m in edits.to_mapping(scenario)["fleet"][i].get("measured") or []:
        row = dict(m)
        if isinstance(row.get("model"), dict):
            row["model"] = json.dumps(row["model"], sort_keys=True)
        par = row.get("parallelism")
        row["parallelism"] = ", ".join(f"{a}={b}" for a, b in par.items()) if isinstance(par, dict) else ""
        rows.append(row)
    return pd.DataFrame(rows, columns=MEASURED_COLUMNS)


def measured_rows(table: pd.DataFrame, i: int) -> list[dict]:
    """The rows of a measured table as the scenario writes them (empty rows dropped, empty cells left out)."""
    out = []
    for j, row in enumerate(table.to_dict("records")):
        entry = {}
        for col in MEASURED_COLUMNS:
            v = row.get(col)
            if whatif.blank_cell(v):
                continue
            if col == "model" and str(v).strip().startswith("{"):
                try:
                    v = json.loads(v)
                except ValueError:
                    raise ScenarioError("an explicit architecture is JSON, e.g. {\"layers\": 32, ...}",
                                        field=f"fleet[{i}].measured[{j}].model") from None
            elif col == "parallelism":
                v = parse_layout(str(v), f"fleet[{i}].measured[{j}].parallelism")
            elif col in ("units", "seq_len") and num(v) is not None and float(v).is_integer():
                v = int(v)
            elif col in ("global_batch_tokens", "tokens_per_s_per_chip") and num(v) is not None:
                v = float(v)
            entry[col] = v
        if entry:
            out.append(entry)
    return out


def parse_layout(text: str, field: str) -> dict:
    """``tp=8, pp=4`` as a parallelism mapping (numbers as integers)."""
    out = {}
    for part in re.split(r"[,\s]+", text.strip()):
        if not part:
            continue
        name, eq, value = part.partition("=")
        if not eq or not name or not value:
            raise ScenarioError(f"{part!r}: write the layout as name=value pairs, e.g. tp=8, pp=4", field=field)
        out[name.strip()] = int(value) if value.strip().isdigit() else value.strip()
    return out


def _measured_field(sc, loaded, i: int, k: str):
    """The pool's own throughput measurements: its efficiency is fitted from them (planner/perf/measured.py)."""
    st.markdown("Measured throughput on this pool (your own runs; a row per run)")
    initial = measured_table(loaded, i)
    lo_u, hi_u = input_bounds(Measured, "units") if Measured is not None else (1, None)
    table = st.data_editor(
        initial, num_rows="dynamic", key=f"{k}measured{i}", hide_index=True,
        column_config={
            "model": st.column_config.TextColumn("model", help="a preset id (e.g. llama2-70b) or an explicit "
                                                               "architecture as JSON"),
            "units": st.column_config.NumberColumn("units", min_value=lo_u, max_value=hi_u, step=1),
            "seq_len": st.column_config.NumberColumn("seq_len", step=1, **_bounds_kw("seq_len")),
            "global_batch_tokens": st.column_config.NumberColumn("global_batch_tokens", **_bounds_kw(
                "global_batch_tokens")),
            "precision": st.column_config.SelectboxColumn("precision", options=["bf16", "fp8"]),
            "tokens_per_s_per_chip": st.column_config.NumberColumn("tokens/s per chip", **_bounds_kw(
                "tokens_per_s_per_chip")),
            "parallelism": st.column_config.TextColumn("parallelism", help="optional: the run's layout, "
                                                                           "e.g. tp=8, pp=4"),
        })
    now = measured_rows(table, i)
    if now != measured_rows(initial, i):
        sc = edits.set_values(sc, {f"fleet[{i}].measured": now}, sc.name)
    return sc


def _bounds_kw(field: str) -> dict:
    """min_value / max_value of a measured row's number column: the schema's bounds."""
    if Measured is None:
        return {}
    lo, hi = input_bounds(Measured, field)
    return {k: v for k, v in (("min_value", lo), ("max_value", hi)) if v is not None}


def _ab_tab(state: dict) -> None:
    """Side-by-side A/B of two variants kept from runs."""
    result = state.get("result")
    a, b = st.columns(2)
    if result is not None:
        inputs = edits.to_mapping(state["result_scenario"]) if state.get("result_scenario") is not None else \
            dict(result.inputs or {})
        if a.button("Keep this run as A", key="keep-a"):
            state["ab_a"], state["ab_a_inputs"] = result.summary, inputs
        if b.button("Keep this run as B", key="keep-b"):
            state["ab_b"], state["ab_b_inputs"] = result.summary, inputs
    # kept summaries are Summary records; one kept as summary.json's mapping (an older session) is read as one
    va, vb = as_summary(state.get("ab_a")), as_summary(state.get("ab_b"))
    for label, v in (("A", va), ("B", vb)):
        if v is not None:
            p50 = (v.finish_date.p50 if v.finish_date is not None else None) or "never"
            st.caption(f"{label} kept: {md(v.scenario)}, finishes {p50} (P50), {v.replications} replication(s)")
    if va is None or vb is None:
        st.info("Run a variant and keep it as A, change the settings, run again and keep it as B.")
        return
    _table(pd.DataFrame(whatif.ab_rows(va, vb)), "figure")
    differ = differing_inputs(state.get("ab_a_inputs"), state.get("ab_b_inputs"))
    st.markdown("**Inputs that differ**")
    if state.get("ab_a_inputs") is None or state.get("ab_b_inputs") is None:
        st.caption("Not known for a variant kept before this page listed inputs.")
    elif not differ:
        st.caption("None: A and B ran the same inputs.")
    else:
        _table(pd.DataFrame(differ), "input")


def _table(frame: pd.DataFrame, index: str) -> None:
    """``st.table`` of ``frame`` indexed by its column ``index``, every cell and row label shown as written.

    st.table renders Markdown in its cells and its index: pool and job names are in both ("job [dense](http://x)"
    was a live link in the row labels, "**moe** $a$" bold and typeset), so each is escaped (``md``) before.
    """
    st.table(frame.map(md).set_index(index))


def _shown_value(v) -> str:
    """An input's value for the A/B table: counts with separators, other numbers in 6 significant digits."""
    if v is None:
        return "(not set)"
    if isinstance(v, bool) or isinstance(v, str):
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:,.6g}"
    return json.dumps(v, default=str, sort_keys=True)


def differing_inputs(a, b, path: str = "") -> list[dict[str, str]]:
    """The inputs (field paths) whose values differ between two scenario mappings: rows of input, A, B."""
    return [{"input": p, "A": _shown_value(x), "B": _shown_value(y)} for p, x, y in whatif.differences(a, b, path)]


def _progress(label: str, total: int):
    """A progress bar with an ETA, and the callback ``(done, total)`` that moves it."""
    bar = st.progress(0.0, text=f"{label} ...")
    t0 = time.perf_counter()

    def tick(done: int, n: int = total) -> None:
        n = max(n, done, 1)
        eta = points_eta_s(done, n, time.perf_counter() - t0)  # none before the first point (planner/pace.py)
        bar.progress(min(done / n, 1.0), text=f"{label}: {done} / {n} · {eta_text(eta)}")

    return bar, tick


def _stale(state: dict, name: str, key: str) -> None:
    if state.get(name) is not None and state[name][0] != key:
        st.warning("The settings changed since this answer; press the button again to update.")


def _compare_section(scenario, key: str, state: dict) -> None:
    st.subheader("Strategy modes")
    st.caption("Every mode's best strategy through the time simulation: one replication, the same draws "
               "(`planner compare`); with several jobs, each job's modes on what the jobs before it leave.")
    if st.button("Compare strategy modes", key="compare"):
        with st.spinner("Simulating every strategy mode ..."):
            rows = _guard("Compare", offloaded, api.compare, scenario)
        if rows is not None:
            state["answer-compare"] = (key, rows)
    _stale(state, "answer-compare", key)
    if state.get("answer-compare") is not None:
        rows = state["answer-compare"][1]
        # sums in USD and the scenario's currency, as `planner compare` prints them
        st.dataframe(present.compare_table(rows, functools.partial(in_currencies, scenario)), hide_index=True)
        if any("job" in r for r in rows):  # "committed" is each job's own spend there (as `planner compare` says)
            st.caption(md(present.portfolio_cost_note(rows)))
        st.plotly_chart(present.compare_figure(rows), key="chart-compare")


def _tornado_section(scenario, key: str, state: dict) -> None:
    st.subheader("Sensitivity (tornado)")
    inputs = _guard("Sensitivity", sens.inputs, scenario, scenario.name)
    if inputs is None:  # (said above: an input's swing the format refuses)
        return
    points = 1 + 2 * len(inputs)
    reps = st.number_input("Replications per point", 1, MAX_DECIDE_REPLICATIONS, 1, key="sens-reps",
                           help="Each input alone at its low and high value, every point with the same seed "
                                "(`planner sensitivity`). More replications are slower.")
    swings = "; ".join(f"{i.name} {i.low_label} / {i.high_label}" for i in inputs)
    st.caption(md(f"{points} points × {int(reps)} replication(s). Each input low / high: {swings}."))
    asked = f"{key}|{int(reps)}"  # the answer is this scenario's at this many replications per point
    if st.button("Tornado", key="tornado"):
        bar, tick = _progress("Sensitivity points", points)
        try:
            table = _guard("Sensitivity", offloaded, sens.sensitivity, scenario, replications=int(reps),
                           progress=tick, source=scenario.name)
        finally:
            bar.empty()
        if table is not None:
            state["answer-tornado"] = (asked, table)
    _stale(state, "answer-tornado", asked)
    if state.get("answer-tornado") is not None:
        table = state["answer-tornado"][1]
        for m, fig in sens.tornado_figures(table).items():
            st.plotly_chart(tornado_readable(m, fig, table), key=f"chart-tornado-{m}")
        st.dataframe(present.sensitivity_rows(table, functools.partial(in_currencies, scenario)), hide_index=True)


def tornado_readable(metric: str, fig, table: pd.DataFrame):
    """A tornado chart whose base value is written with its unit (days, dollars), not as a bare float."""
    column = table.get(f"{metric}_base")
    base = num(column.dropna().iloc[0]) if column is not None and column.notna().any() else None
    money = "usd" in metric
    shown = fmt_usd(base) if money else fmt_days(base)
    title = fig.layout.title.text or ""
    low = "≥ " if re.search(r"\(base ≥ ", title) else ""  # a base known only as a lower bound keeps its mark
    fig.update_layout(title=re.sub(r"\(base [^)]*\)", f"(base {low}{shown})", title))
    if money:
        fig.update_xaxes(tickprefix="$")
    return fig


OTHER_PATH = "(another input by field path)"


def _follow(state, key: str, default) -> None:
    """A widget's value follows ``default`` when that changes (an edit of the scenario); else it is the user's."""
    mark = f"{key}:default"
    if state.get(mark) != default or key not in state:  # (a widget not shown in a run loses its state)
        state[mark] = default
        state[key] = default  # (before the widget is made in this run: Streamlit takes it as the widget's value)


def _solve_section(scenario, key: str, state: dict) -> None:
    st.subheader("Goal seek: what must we rent to finish by a date?")
    paths = present.rental_paths(scenario)
    if not paths:
        st.caption("No pool rents cloud capacity: add cloud units to a pool in **Edit plan**, or vary another "
                   "input by its field path.")
    fk = state.get("loaded_id", "")  # the inputs belong to the file: another file starts from its own defaults
    a, b = st.columns(2)
    choice = a.selectbox("Vary", list(paths) + [OTHER_PATH], key=f"solve-choice:{fk}",
                         format_func=lambda p: f"{p} — {paths[p]}" if p in paths else p)
    path = b.text_input("Field path", "fleet[0].units", key=f"solve-path:{fk}",
                        help="As in `planner solve --vary` and `planner sweep --set`, e.g. fleet[0].units.") \
        if choice == OTHER_PATH else choice
    current = _guard("Goal seek", edits.get_value, edits.to_mapping(scenario), path) if path else None
    if path and current is None:
        return
    job, by = None, scenario.start + dt.timedelta(days=scenario.horizon_days // 2)
    if scenario.jobs:  # a portfolio: the job that must finish (`planner solve --job`), by default every job
        every = "every job (the last to finish)"
        job = st.selectbox("Job that must finish by the date", [every, *(j.name for j in ordered_jobs(scenario))],
                           key=f"solve-job:{fk}", help="`planner solve --job`: the value that gets this job done "
                                                       "by the date; the jobs after it are not simulated (they "
                                                       "never change it).")
        job = None if job == every else job
        by = next((j.deadline for j in scenario.jobs if j.name == job and j.deadline), by)  # its own deadline
    c, d, e0, e, f = st.columns(5)
    finish_by = c.date_input("Finish by", by, key=f"solve-deadline:{fk}:{job}")
    quantile = d.number_input("At quantile", 0.01, 0.99, 0.9, 0.05, key="solve-quantile",
                              help="0.9: nine replications in ten finish by the date.")
    numeric = isinstance(current, (int, float)) and not isinstance(current, bool)
    low = whatif.smallest_value(scenario, path) if numeric else 0  # 0 where the field takes it (no rental)
    # the range's defaults follow the value of the scenario run (an edit's, not only the file's); what the user
    # typed stays until that value changes
    default_high = _default_high(scenario, path, current) if numeric else 1
    if isinstance(current, float):
        lo_v, hi_v, top = float(low), min(MAX_SOLVE_VALUE, max(1.0, float(default_high or 1.0))), MAX_SOLVE_VALUE
        bottom = (0.0, 0.0)
    else:
        lo_v, hi_v = int(low), min(int(MAX_SOLVE_VALUE), max(1, int(default_high or 1))) if numeric else 1
        top, bottom = int(MAX_SOLVE_VALUE), (0, 1)
    min_key, max_key = f"solve-min:{fk}:{path}", f"solve-max:{fk}:{path}"
    _follow(state, min_key, lo_v)
    _follow(state, max_key, hi_v)
    smallest = e0.number_input("Smallest value to try", bottom[0], top, key=min_key,
                               help="The search's low end (`planner solve --min`).")
    largest = e.number_input("Largest value to try", bottom[1], top, key=max_key,
                             help="Bisection between the smallest value and this one (`--max`).")
    reps = f.number_input("Replications per value", 1, MAX_DECIDE_REPLICATIONS, SOLVE_APP_REPLICATIONS,
                          key="solve-reps", help="`planner solve` uses at least 20; fewer are faster but "
                                                 "the quantile moves more from one value to the next.")
    # the answer is this scenario's and these inputs': another deadline, quantile, range or job makes it stale
    asked = "|".join(map(str, (key, path, finish_by, quantile, smallest, largest, int(reps), job)))
    if st.button("What must we rent?", key="solve", type="primary"):
        # both ends, then two values a round of thirds, 1.26 a bit of the range (about 13 more for a float's 0.1%
        # resolution); the search's own count replaces it at its first evaluation
        bound = 2 + math.ceil(1.27 * max(1, int(largest)).bit_length()) + (13 if isinstance(largest, float) else 0)
        bar, tick = _progress("Goal seek evaluations", bound)
        try:
            answer = _guard("Goal seek", offloaded, solve, scenario, path, finish_by, quantile=float(quantile),
                            low=smallest, high=largest, replications=int(reps), progress=tick, source=scenario.name,
                            job=job)
        finally:
            bar.empty()
        state["answer-solve"] = (asked, answer) if answer is not None else None
    _stale(state, "answer-solve", asked)
    if state.get("answer-solve") is None:
        return
    answer = state["answer-solve"][1]
    money = functools.partial(in_currencies, scenario)  # in the scenario's currency too
    if not answer["found"]:
        st.error(md(present.solve_sentence(answer, money)))
    else:
        # a value found where the evaluated points were not monotone is the smallest found, not one proved smallest
        (st.success if answer.get("monotone", True) else st.warning)(md(present.solve_sentence(answer, money)))
        cols = st.columns(3)
        q = f"P{answer['quantile'] * 100:g}"
        value = answer["value"]
        cols[0].metric(md(answer["path"]), f"{value:,}" if isinstance(value, int) else f"{value:,.4g}", border=True)
        who = f"{md(answer['job'])}: " if answer.get("job") else ""  # the finish and the cost are that job's
        cols[1].metric(f"{who}finish date ({q})" if who else f"Finish date ({q})", answer["finish_date"] or "never",
                       border=True)
        # a P50 spend of replications stopped by the horizon is known only as at least that (as the sentence says)
        cols[2].metric(f"{who}cost (P50)" if who else "Committed cost (P50)", present.solve_cost(answer, money),
                       border=True)
    with st.expander(f"Evaluations ({len(answer['evaluations'])})"):
        st.dataframe(present.solve_evaluations(answer, money), hide_index=True)


def _more_tab(scenario, key: str, state: dict) -> None:
    """Strategy comparison, tornado and goal seek: the functions behind `planner compare|sensitivity|solve`."""
    _compare_section(scenario, key, state)
    _tornado_section(scenario, key, state)
    _solve_section(scenario, key, state)


def _estimate_tab(scenario, key: str, state: dict) -> None:
    st.caption("Steady state: each pool at its full planned size, its best parallel layout and speed.")
    if st.button("Estimate"):
        answer = _guard("Estimate", offloaded, api.estimate, scenario)
        if answer is not None:
            state["estimate"], state["estimate_key"] = answer, key
    answer = state.get("estimate")
    if answer is None:
        return
    if state.get("estimate_key") != key:
        st.warning("The settings changed since this estimate; press **Estimate** to update.")
    for note in api.estimate_notes(scenario):  # what the steady state leaves out (the site power), as the CLI says
        st.info(md(note[:1].upper() + note[1:] + "."))
    search = answer.get("search") or {}
    # a portfolio: each job as if alone on its pools, in the order jobs get chips (`planner estimate` prints them all)
    parts = answer.get("jobs") or [answer]
    for i, part in enumerate(parts):
        combined = part.get("combined") or {}
        if "job" in part:
            st.markdown(f"**Job {md(part['job'])}** (priority {part.get('priority')})")
        cols = st.columns(4)
        cols[0].metric("Mode", md(combined.get("mode", "—")), border=True)
        cols[1].metric("Tokens/s (combined)", fmt_si(stat(combined.get("tokens_per_s"))), border=True)
        cols[2].metric("Time to train", fmt_days(stat(combined.get("time_to_train_days"))), border=True,
                       help="Failure-free, every pool at its full planned size; the table's time to train of the "
                            "job, failures counted, is what `planner run` trains at")
        if i == 0:
            cols[3].metric("Layouts searched", fmt_si(stat(search.get("layouts_evaluated"))),
                           help=None if num(search.get("seconds")) is None else
                           f"in {num(search.get('seconds')):,.2f} s", border=True)
        st.dataframe(estimate_pools_frame(part), hide_index=True)
        notes = [combined[k] for k in ("note", "time_note") if combined.get(k)] + [
            f"{p['pool']}: {p[k]}" for p in part.get("pools") or [] for k in ("mfu_note", "time_note") if p.get(k)]
        for note in notes:  # (as `planner estimate` prints them)
            st.caption(md(note))
        for problem in part.get("infeasible") or []:
            st.warning(md(problem))


def _with_run_settings(scenario, knobs: Knobs):
    return edits.set_values(scenario, {"simulation.seed": knobs.seed, "simulation.replications": knobs.replications},
                            scenario.name)


def main() -> None:
    """The page."""
    st.set_page_config(page_title="Capacity planner", page_icon="📈", layout="wide")
    st.title("Compute capacity planner")
    offload.start_trimming()  # a closed session's tables go back to the system, not only to this process's heap
    state = st.session_state
    raw, name, knobs, run, uploaded = _sidebar()
    shown_note = st.sidebar.empty()  # under Run: the seed and replications of the run the page shows
    if raw is None:
        if not name:  # (a file that could not be read has said why above: no prompt to choose one beside it)
            st.info("Choose a scenario file in the sidebar, or upload one.")
        return
    state["file_simulation"] = raw.get("simulation") if isinstance(raw.get("simulation"), dict) else {}
    loaded = _guard("Checking the scenario", from_dict, raw, name)
    # the work bound too (an estimate, milliseconds): a storm is refused when it is loaded, not on Run
    if loaded is None or _guard("Checking the scenario", check_work, loaded, name) is None:
        return
    about = f" — {md_line(loaded.description)}" if loaded.description else ""
    st.caption(f"**{md(loaded.name)}** · {md(name)}" + about)
    knob_errors = st.container()  # above the tabs: a sidebar setting the file cannot take says so where it is seen
    tab_run, tab_edit, tab_ab, tab_estimate, tab_scenario, tab_more = st.tabs(
        ["Run", "Edit plan", "A/B", "Estimate", "Scenario", "Compare & solve"])
    st.session_state[EDIT_ERRORS] = []
    with tab_edit:
        edited = _guard("Editing the scenario", _edit_tab, loaded, file_key(name, raw), knobs.reliability)
    with tab_run:  # at the top of the Run tab, above the last run's figures
        for problem in st.session_state[EDIT_ERRORS]:
            st.warning(escape.markdown(f"An edit is not applied (see Edit plan): {problem}"))
    with knob_errors:  # (drawn after the tabs, it sat below every chart of the last run)
        scenario = _guard("Applying the what-if settings", apply_knobs, edited, knobs) if edited is not None else None
    knobs_apply = scenario is not None
    if edited is None:
        return
    if not knobs_apply:
        # a sidebar setting the file cannot take (cloud units x0 on a cloud-only fleet): the error above says which;
        # the last run, the kept A and B stay on the page, out of date, and nothing runs on the file without them
        scenario = edited
        with tab_run:
            st.warning("The sidebar's what-if settings cannot be applied (the error above): the last run is shown, "
                       "out of date, and Run waits until they can be.")
    key = json.dumps({"name": name, "data": edits.to_mapping(scenario)}, sort_keys=True, default=str)
    # the baseline: the file as loaded, with the run's seed and replications; deltas compare against it
    baseline = _guard("Baseline", _with_run_settings, loaded, knobs)
    # a new file (or another upload under the same name) starts without a result: a file of the server's folder
    # gets a chart on first load (the sidebar's replications: the file's own when they are quick, else one;
    # cached for every session); an upload runs only on Run
    loaded_id = f"{name}:" + hashlib.sha256(whatif.canonical_json(loaded).encode()).hexdigest()
    if state.get("loaded_id") != loaded_id:
        # another file's answers are not this one's, even marked as out of date: compare, tornado, goal seek and
        # estimate start empty as the run does
        state.update(loaded_id=loaded_id, result=None, result_key=None, base_summary=None, estimate=None,
                     estimate_key=None, **{"answer-compare": None, "answer-tornado": None, "answer-solve": None})
        first_scenario = _with_run_settings(loaded, knobs)
        first = None if uploaded else _guard("Run", run_with_progress, first_scenario, knobs.replications, knobs.seed)
        if first is not None:
            same = knobs_apply and scenario == first_scenario
            state.update(result=first, result_key=key if same else None, result_scenario=scenario if same else loaded,
                         result_changes=[], base_summary=first.summary)
    if run and knobs_apply:
        result = _guard("Run", run_with_progress, scenario, knobs.replications, knobs.seed)
        if result is not None:
            # the deltas compare against the file as loaded, with the same seed and replications
            b = result if baseline == scenario else \
                _guard("Baseline", run_with_progress, baseline, knobs.replications, knobs.seed) if baseline else None
            state.update(result=result, result_key=key, result_scenario=scenario,
                         result_changes=whatif.changed_fields(edits.to_mapping(baseline), edits.to_mapping(scenario))
                         if baseline is not None else [], base_summary=b.summary if b is not None else None)
    base = as_summary(state.get("base_summary"))
    if state.get("result") is not None:
        shown = state["result"].summary
        shown_note.caption(f"The run shown: seed {shown.seed} · {shown.replications} replication(s)")

    with tab_run:
        _run_tab(state, key, scenario, base)
    with tab_ab:
        _ab_tab(state)
    with tab_estimate:
        if knobs_apply:
            _estimate_tab(scenario, key, state)
        else:
            st.info("The estimate waits until the sidebar's what-if settings can be applied.")
    with tab_scenario:
        st.caption("The scenario as run, after the what-if settings." if knobs_apply else
                   "The scenario with your edits; the sidebar's what-if settings cannot be applied to it.")
        pools = pd.DataFrame(
            [{"pool": p.name, "chip": p.chip, "site": p.site, "planned units": p.planned_units,
              "cloud units": p.cloud.units if p.cloud else 0} for p in scenario.fleet]
        )
        st.dataframe(for_people(pools), hide_index=True)
        # the fields that were set, as the scenario.yaml download writes them: a default written out is not one left
        # out (an unset stack draws the band over every stack level; `stack: standard` does not)
        st.text(whatif.to_yaml(scenario))
    with tab_more:
        if knobs_apply:
            _more_tab(scenario, key, state)
        else:
            st.info("Compare and goal seek wait until the sidebar's what-if settings can be applied.")


if __name__ == "__main__":
    main()
