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

import dataclasses
import datetime as dt
import hashlib
import io
import json
import os
import re
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st
import yaml

from planner import api, edits, escape, whatif
from planner.budget import check_time, check_work
from planner.catalog import chips, models
from planner.decide import present
from planner.decide import sensitivity as sens
from planner.decide.solve import solve
from planner.errors import PlannerError
from planner.fmt import fmt_days, fmt_si, fmt_usd
from planner.loader import MAX_FILE_BYTES, from_dict, parse_bytes
from planner.metrics import BY_KEY
from planner.report import charts
from planner.report.headline import answer_sentence, expectation_rows, finish_items, headline_items, limit_lines, stat
from planner.report.html import render_html
from planner.report.tables import summary_json, write_xlsx
from planner.sim import offload
from planner.sim.parallel import default_workers
from planner.summary import Summary, as_summary

ROOT = Path(__file__).resolve().parent
SCENARIO_DIR = Path(os.environ.get("PLANNER_SCENARIO_DIR") or ROOT / "scenarios")
MAX_APP_REPLICATIONS = 1_000
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


def _env_number(name: str, default: float) -> float:
    """A positive number from the environment, or ``default`` (unset, unreadable or not positive)."""
    try:
        value = float(os.environ.get(name) or default)
    except ValueError:
        return default
    return value if value > 0 else default


# Many sessions, one server (issue 17). Every simulation (a run, an estimate, the strategy comparison, the
# tornado, a goal seek) runs in a child process forked from a fork server, so the server keeps answering and
# gets the memory back; at most MAX_CONCURRENT_RUNS at once in the whole process (a session that waits says
# so, and gives up after RUN_WAIT_S); results are cached pickled, bounded in entries, bytes and age.
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
    t0 = time.perf_counter()

    def progress(done: int, total: int) -> None:
        elapsed = time.perf_counter() - t0
        eta = elapsed / done * (total - done) if done else 0.0
        bar.progress(done / total, text=f"{done} / {total} replications · ETA {eta:.0f} s")

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


def apply_knobs(scenario, knobs: Knobs):
    """The scenario with the what-if controls applied (a new, validated scenario)."""
    out = edits.scale_cloud(scenario, knobs.cloud_multiplier)
    out = edits.slip_deliveries(out, knobs.delivery_slip_days)
    return edits.set_values(out, {"reliability.enabled": knobs.reliability, "simulation.seed": knobs.seed,
                                  "simulation.replications": knobs.replications}, scenario.name)


def estimate_pools_frame(answer: dict) -> pd.DataFrame:
    """The ``pools`` of an estimate answer as a flat table (parallelism spread over columns)."""
    rows = []
    for pool in answer.get("pools") or []:
        row = {k: v for k, v in pool.items() if k != "parallelism"}
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


def md(text) -> str:
    """Scenario text (names, sites, descriptions, messages) inside Markdown: shown as typed, never rendered."""
    return escape.markdown(text)


def _sidebar() -> tuple[dict | None, str, Knobs | None, bool, bool]:
    """Scenario choice and knobs. Returns (scenario mapping, its name, knobs, run clicked, uploaded)."""
    sb = st.sidebar
    sb.header("Scenario")
    files = scenario_files()
    sources = (["Scenario folder"] if files else []) + ["Upload a file"]
    source = sb.radio("Source", sources, horizontal=True, label_visibility="collapsed")
    raw, name = None, ""
    if source == "Scenario folder":
        path = sb.selectbox("Scenario file", files, format_func=lambda p: p.name, key="scenario_file")
        name = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
        raw = _guard("Reading the scenario", lambda: parse_bytes(path.read_bytes(), name))
    else:
        if not files:
            sb.caption(f"No scenario files in {md(SCENARIO_DIR)}.")
        upload = sb.file_uploader(f"Scenario file (YAML or JSON, at most {MAX_FILE_BYTES // 2**20} MiB)",
                                  type=["yaml", "yml", "json"])
        if upload is not None:
            name = upload.name
            raw = _guard("Reading the scenario", parse_bytes, upload.getvalue(), name)
    uploaded = source == "Upload a file"
    if raw is None:
        return None, name, None, False, uploaded

    sim = raw.get("simulation") if isinstance(raw.get("simulation"), dict) else {}
    rel = raw.get("reliability") if isinstance(raw.get("reliability"), dict) else {}
    sb.header("What if")
    has_cloud = any(isinstance(p, dict) and p.get("cloud") for p in raw.get("fleet") or [])
    multiplier = sb.slider(
        "Cloud units ×", 0.0, 4.0, 1.0, 0.1, disabled=not has_cloud, key=f"cloud:{name}",
        help="Scales the rented units of every cloud pool; 0 removes the cloud.",
    )
    slip = sb.number_input(
        "Delivery slip [days]", -365, 3650, 0, 15, key=f"slip:{name}",
        help="Moves every planned delivery of owned chips by this many days.",
    )
    reliability = sb.toggle("Failures and restarts", bool(rel.get("enabled", True)), key=f"rel:{name}")
    file_seed = sim.get("seed", 0)  # not validated yet: a bad one is reported by the validator, not here
    ok = isinstance(file_seed, int) and not isinstance(file_seed, bool) and 0 <= file_seed <= MAX_UI_SEED
    seed = sb.number_input("Seed", 0, MAX_UI_SEED, file_seed if ok else 0, key=f"seed:{name}")
    file_reps = sim.get("replications", 1)
    ok = isinstance(file_reps, int) and not isinstance(file_reps, bool) and file_reps >= 1
    reps = sb.number_input("Replications", 1, MAX_APP_REPLICATIONS, min(file_reps, MAX_APP_REPLICATIONS) if ok else 1,
                           key=f"reps:{name}")
    knobs = Knobs(float(multiplier), int(slip), bool(reliability), int(seed), int(reps))
    run = sb.button("Run", type="primary", width="stretch")
    return raw, name, knobs, run, uploaded


def _metrics(summary: Summary, base: Summary | None) -> None:
    """Headline cards with the change against the loaded scenario (percentage points for shares)."""
    change = whatif.deltas(summary, base)
    items = finish_items(summary) + headline_items(summary)
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
    """schedule.csv as the app offers it: no text cell or header is a live formula (escape.frame)."""
    return escape.frame(result.schedule).to_csv(index=False, lineterminator="\n")


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
    for key, build in charts.result_figure_builders(result).items():
        if key not in built:
            built[key] = build()
        st.plotly_chart(built[key], key=f"chart-{key}")


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
    st.caption("Settings against the loaded file: " + (md("; ".join(changed)) if changed else "as loaded") +
               f" · seed {result.summary.seed} · {result.summary.replications} replication(s)")
    _metrics(result.summary, base)
    _charts(state, result)
    with st.expander(f"Layouts ({len(result.layouts)})"):
        st.dataframe(result.layouts, hide_index=True)
    n = len(result.events)
    with st.expander(f"Events ({n})" if n <= MAX_TABLE_ROWS else f"Events (first {MAX_TABLE_ROWS} of {n})"):
        st.dataframe(result.events.head(MAX_TABLE_ROWS), hide_index=True)
    if len(result.replications) > 1:
        with st.expander(f"Replications ({len(result.replications)})"):
            st.dataframe(result.replications, hide_index=True)
    _downloads(state, result, state.get("result_scenario") or scenario)


def _edit_tab(loaded, name: str):
    """Edit without YAML: model and tokens, strategy, and per pool the chip, units, plan and cloud."""
    sc = loaded
    k = f"{name}:"
    st.caption("Every change goes through the same field-path edits as `planner sweep --set` and is re-validated.")
    c1, c2, c3 = st.columns(3)
    presets = sorted(models())
    model = sc.workload.model if isinstance(sc.workload.model, str) else None
    options = presets + [BY_SIZE] + ([EXPLICIT] if model is None else [])
    choice = c1.selectbox("Model", options, index=presets.index(model) if model in presets else len(options) - 1,
                          key=k + "model", format_func=lambda m: models()[m].name if m in models() else m,
                          help="A preset, or a size: a dense Llama-3-shaped architecture of that many parameters "
                               "(written into the scenario as an explicit architecture)")
    now_t = float(sc.workload.tokens) / 1e12  # the field's bounds hold the file's value (a valid file never errs)
    tokens_t = c2.number_input("Tokens [trillions]", min(0.001, now_t), max(1000.0, now_t), now_t, key=k + "tokens",
                               format="%.3f")
    mode = c3.selectbox("Strategy mode", MODES, index=MODES.index(sc.strategy.mode), key=k + "mode",
                        help="auto takes the mode with the earliest finish; the simulation runs each pool alone "
                             "(single) until the mixing modes land in the engine")
    sets = {}
    if abs(float(tokens_t) * 1e12 - float(sc.workload.tokens)) > 1e-9 * float(sc.workload.tokens):
        sets["workload.tokens"] = float(tokens_t) * 1e12
    if mode != sc.strategy.mode:
        sets["strategy.mode"] = mode
    if choice in presets and choice != model:
        sets["workload.model"] = choice
    if sets:
        sc = edits.set_values(sc, sets, sc.name)
    if choice == BY_SIZE:
        now_b = whatif.model_params(loaded) / 1e9
        size_b = c1.number_input("Parameters [billions]", 0.1, 10_000.0, round(now_b, 2), key=k + "size",
                                 format="%.2f")
        sc = whatif.set_model_size(sc, float(size_b) * 1e9)
        a = sc.workload.arch
        c1.caption(f"{a.layers} layers × {a.hidden} hidden, {a.heads} heads ({a.n_kv_heads} KV), FFN {a.ffn}: "
                   f"{whatif.model_params(sc) / 1e9:,.2f} B parameters (Llama 3 shape rule)")
    elif choice == EXPLICIT:
        c1.caption(f"The file's architecture: {whatif.model_params(sc) / 1e9:,.2f} B parameters")
    chip_ids = sorted(chips())
    for i, pool in enumerate(loaded.fleet):
        with st.expander(f"Pool {md(pool.name)} ({md(pool.chip)})", expanded=i == 0):
            a, b = st.columns(2)
            chip = a.selectbox("Chip", chip_ids + ([pool.chip] if pool.chip not in chip_ids else []),
                               index=(chip_ids + [pool.chip]).index(pool.chip), key=f"{k}chip{i}")
            units = b.number_input("Units on day 0", 0, max(10_000_000, int(pool.units)), int(pool.units),
                                   key=f"{k}units{i}")
            pool_sets = {f"fleet[{i}].chip": chip} if chip != pool.chip else {}
            if int(units) != pool.units:
                pool_sets[f"fleet[{i}].units"] = int(units)
            if pool_sets:
                sc = edits.set_values(sc, pool_sets, sc.name)
            if pool.deliveries or not pool.cloud:
                st.markdown("Delivery plan (cumulative units by date)")
                table = st.data_editor(pd.DataFrame(whatif.delivery_rows(loaded, i), columns=["date", "units"]),
                                       num_rows="dynamic", key=f"{k}plan{i}", hide_index=True,
                                       column_config={"date": st.column_config.DateColumn("date"),
                                                      "units": st.column_config.NumberColumn("units", min_value=0)})
                rows = table.to_dict("records")
                if rows != whatif.delivery_rows(loaded, i):
                    sc = whatif.set_deliveries(sc, i, rows)
                x, y, z = st.columns(3)
                slip = x.number_input("Slip by [days]", -365, 3650, 0, 15, key=f"{k}slip{i}")
                share = y.slider("Share delivered by date", 0.0, 1.0, 1.0, 0.05, key=f"{k}share{i}")
                by = z.date_input("by", (sc.fleet[i].deliveries[-1].date if sc.fleet[i].deliveries else sc.start),
                                  key=f"{k}by{i}")
                if share < 1.0:
                    sc = whatif.share_by_date(sc, i, share, by)
                sc = whatif.slip_pool(sc, i, int(slip))
            cloud = pool.cloud
            x, y, z, w = st.columns(4)
            cu = x.number_input("Cloud units", 0, max(10_000_000, int(cloud.units) if cloud else 0),
                                int(cloud.units) if cloud else 0, key=f"{k}cu{i}")
            cf = y.date_input("Cloud from", cloud.from_ if cloud else sc.start, key=f"{k}cf{i}")
            ct = z.date_input("Cloud until", cloud.until if cloud else sc.start + dt.timedelta(days=365),
                              key=f"{k}ct{i}")
            price = float(cloud.price_per_chip_hour_usd) if cloud else 2.0
            cp = w.number_input("Price [USD/chip-h]", 0.0, max(10_000.0, price), price, key=f"{k}cp{i}")
            now = (int(cu), cf, ct, float(cp))
            was = (cloud.units, cloud.from_, cloud.until, float(cloud.price_per_chip_hour_usd)) if cloud else None
            if (cloud is not None or cu > 0) and now != was:
                sc = whatif.set_cloud(sc, i, *now)
    return sc


def _ab_tab(state: dict) -> None:
    """Side-by-side A/B of two variants kept from runs."""
    result = state.get("result")
    a, b = st.columns(2)
    if result is not None:
        if a.button("Keep this run as A", key="keep-a"):
            state["ab_a"] = result.summary
        if b.button("Keep this run as B", key="keep-b"):
            state["ab_b"] = result.summary
    # kept summaries are Summary records; one kept as summary.json's mapping (an older session) is read as one
    va, vb = as_summary(state.get("ab_a")), as_summary(state.get("ab_b"))
    for label, v in (("A", va), ("B", vb)):
        if v is not None:
            p50 = (v.finish_date.p50 if v.finish_date is not None else None) or "never"
            st.caption(f"{label} kept: {md(v.scenario)}, finishes {p50} (P50), {v.replications} replication(s)")
    if va is None or vb is None:
        st.info("Run a variant and keep it as A, change the settings, run again and keep it as B.")
        return
    # st.table renders Markdown in its cells (pool names here): every cell escaped, shown as written
    st.table(pd.DataFrame(whatif.ab_rows(va, vb)).set_index("figure").map(md))


def _progress(label: str, total: int):
    """A progress bar with an ETA, and the callback ``(done, total)`` that moves it."""
    bar = st.progress(0.0, text=f"{label} ...")
    t0 = time.perf_counter()

    def tick(done: int, n: int = total) -> None:
        n = max(n, done, 1)
        elapsed = time.perf_counter() - t0
        eta = elapsed / done * (n - done) if done else 0.0
        bar.progress(min(done / n, 1.0), text=f"{label}: {done} / {n} · ETA {eta:.0f} s")

    return bar, tick


def _stale(state: dict, name: str, key: str) -> None:
    if state.get(name) is not None and state[name][0] != key:
        st.warning("The settings changed since this answer; press the button again to update.")


def _compare_section(scenario, key: str, state: dict) -> None:
    st.subheader("Strategy modes")
    st.caption("Every mode's best strategy through the time simulation: one replication, the same draws "
               "(`planner compare`).")
    if st.button("Compare strategy modes", key="compare"):
        with st.spinner("Simulating every strategy mode ..."):
            rows = _guard("Compare", offloaded, api.compare, scenario)
        if rows is not None:
            state["answer-compare"] = (key, rows)
    _stale(state, "answer-compare", key)
    if state.get("answer-compare") is not None:
        rows = state["answer-compare"][1]
        st.dataframe(present.compare_table(rows), hide_index=True)
        st.plotly_chart(present.compare_figure(rows), key="chart-compare")


def _tornado_section(scenario, key: str, state: dict) -> None:
    st.subheader("Sensitivity (tornado)")
    points = 1 + 2 * len(sens.inputs(scenario, scenario.name))
    reps = st.number_input("Replications per point", 1, MAX_DECIDE_REPLICATIONS, 1, key="sens-reps",
                           help="Each input alone at its low and high value, every point with the same seed "
                                "(`planner sensitivity`). More replications are slower.")
    st.caption(f"{points} points × {int(reps)} replication(s); swings in `planner/decide/sensitivity.py` SWINGS.")
    if st.button("Tornado", key="tornado"):
        bar, tick = _progress("Sensitivity points", points)
        try:
            table = _guard("Sensitivity", offloaded, sens.sensitivity, scenario, replications=int(reps),
                           progress=tick, source=scenario.name)
        finally:
            bar.empty()
        if table is not None:
            state["answer-tornado"] = (key, table)
    _stale(state, "answer-tornado", key)
    if state.get("answer-tornado") is not None:
        table = state["answer-tornado"][1]
        for m, fig in sens.tornado_figures(table).items():
            st.plotly_chart(fig, key=f"chart-tornado-{m}")
        st.dataframe(present.sensitivity_rows(table), hide_index=True)


OTHER_PATH = "(another input by field path)"


def _solve_section(scenario, key: str, state: dict) -> None:
    st.subheader("Goal seek: what must we rent to finish by a date?")
    paths = present.rental_paths(scenario)
    if not paths:
        st.caption("No pool rents cloud capacity: add cloud units to a pool in **Edit plan**, or vary another "
                   "input by its field path.")
    a, b = st.columns(2)
    choice = a.selectbox("Vary", list(paths) + [OTHER_PATH], key="solve-choice",
                         format_func=lambda p: f"{p} — {paths[p]}" if p in paths else p)
    path = b.text_input("Field path", "fleet[0].units", key="solve-path",
                        help="As in `planner solve --vary` and `planner sweep --set`, e.g. fleet[0].units.") \
        if choice == OTHER_PATH else choice
    current = _guard("Goal seek", edits.get_value, edits.to_mapping(scenario), path) if path else None
    if path and current is None:
        return
    c, d, e, f = st.columns(4)
    finish_by = c.date_input("Finish by", scenario.start + dt.timedelta(days=scenario.horizon_days // 2),
                             key="solve-deadline")
    quantile = d.number_input("At quantile", 0.01, 0.99, 0.9, 0.05, key="solve-quantile",
                              help="0.9: nine replications in ten finish by the date.")
    numeric = isinstance(current, (int, float)) and not isinstance(current, bool)
    if isinstance(current, float):
        largest = e.number_input("Largest value to try", 0.0, MAX_SOLVE_VALUE,
                                 min(MAX_SOLVE_VALUE, max(1.0, 4 * current)), key=f"solve-max:{path}",
                                 help="Bisection between 0 and this value.")
    else:
        largest = e.number_input("Largest value to try", 1, int(MAX_SOLVE_VALUE),
                                 min(int(MAX_SOLVE_VALUE), max(1, 4 * current)) if numeric else 1,
                                 key=f"solve-max:{path}", help="Bisection between 0 and this value.")
    reps = f.number_input("Replications per value", 1, MAX_DECIDE_REPLICATIONS, SOLVE_APP_REPLICATIONS,
                          key="solve-reps", help="`planner solve` uses at least 20; fewer are faster but "
                                                 "the quantile moves more from one value to the next.")
    if st.button("What must we rent?", key="solve", type="primary"):
        # both ends, then a bisection step per bit of the range (about 10 more for a float's 0.1% resolution)
        bound = 2 + max(1, int(largest)).bit_length() + (10 if isinstance(largest, float) else 0)
        bar, tick = _progress("Goal seek evaluations", bound)
        try:
            answer = _guard("Goal seek", offloaded, solve, scenario, path, finish_by, quantile=float(quantile),
                            high=largest, replications=int(reps), progress=tick, source=scenario.name)
        finally:
            bar.empty()
        state["answer-solve"] = (key, answer) if answer is not None else None
    _stale(state, "answer-solve", key)
    if state.get("answer-solve") is None:
        return
    answer = state["answer-solve"][1]
    if not answer["found"]:
        st.error(md(present.solve_sentence(answer)))
    else:
        st.success(md(present.solve_sentence(answer)))
        cols = st.columns(3)
        q = f"P{answer['quantile'] * 100:g}"
        cols[0].metric(md(answer["path"]), f"{answer['value']:,}", border=True)
        cols[1].metric(f"Finish date ({q})", answer["finish_date"] or "never", border=True)
        cols[2].metric("Committed cost (P50)", fmt_usd(answer["cost_usd"]), border=True)
    with st.expander(f"Evaluations ({len(answer['evaluations'])})"):
        st.dataframe(present.solve_evaluations(answer), hide_index=True)


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
    combined = answer.get("combined") or {}
    search = answer.get("search") or {}
    cols = st.columns(4)
    cols[0].metric("Mode", md(combined.get("mode", "—")), border=True)
    cols[1].metric("Tokens/s (combined)", fmt_si(stat(combined.get("tokens_per_s"))), border=True)
    cols[2].metric("Time to train", fmt_days(stat(combined.get("time_to_train_days"))), border=True)
    cols[3].metric("Layouts searched", fmt_si(stat(search.get("layouts_evaluated"))),
                   help=md(f"{search.get('seconds', '—')} s"), border=True)
    st.dataframe(estimate_pools_frame(answer), hide_index=True)
    for problem in answer.get("infeasible") or []:
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
    if raw is None:
        st.info("Choose a scenario file in the sidebar, or upload one.")
        return
    loaded = _guard("Checking the scenario", from_dict, raw, name)
    # the work bound too (an estimate, milliseconds): a storm is refused when it is loaded, not on Run
    if loaded is None or _guard("Checking the scenario", check_work, loaded, name) is None:
        return
    st.caption(f"**{md(loaded.name)}** · {md(name)}" + (f" — {md(loaded.description)}" if loaded.description else ""))
    tab_run, tab_edit, tab_ab, tab_estimate, tab_scenario, tab_more = st.tabs(
        ["Run", "Edit plan", "A/B", "Estimate", "Scenario", "Compare & solve"])
    with tab_edit:
        edited = _guard("Editing the scenario", _edit_tab, loaded, name)
    scenario = _guard("Applying the what-if settings", apply_knobs, edited, knobs) if edited is not None else None
    if scenario is None:
        return
    key = json.dumps({"name": name, "data": edits.to_mapping(scenario)}, sort_keys=True, default=str)
    # the baseline: the file as loaded, with the run's seed and replications; deltas compare against it
    baseline = _guard("Baseline", _with_run_settings, loaded, knobs)
    # a new file (or another upload under the same name) starts without a result: a file of the server's folder
    # gets a chart on first load (one replication, cached for every session); an upload runs only on Run
    loaded_id = f"{name}:" + hashlib.sha256(whatif.canonical_json(loaded).encode()).hexdigest()
    if state.get("loaded_id") != loaded_id:
        state.update(loaded_id=loaded_id, result=None, result_key=None, base_summary=None)
        first_scenario = _with_run_settings(loaded, Knobs(seed=knobs.seed, replications=1))
        first = None if uploaded else _guard("Run", run_with_progress, first_scenario, 1, knobs.seed)
        if first is not None:
            same = scenario == first_scenario
            state.update(result=first, result_key=key if same else None, result_scenario=scenario if same else loaded,
                         result_changes=[], base_summary=first.summary)
    if run:
        result = _guard("Run", run_with_progress, scenario, knobs.replications, knobs.seed)
        if result is not None:
            # the deltas compare against the file as loaded, with the same seed and replications
            b = result if baseline == scenario else \
                _guard("Baseline", run_with_progress, baseline, knobs.replications, knobs.seed) if baseline else None
            state.update(result=result, result_key=key, result_scenario=scenario,
                         result_changes=whatif.changed_fields(edits.to_mapping(baseline), edits.to_mapping(scenario))
                         if baseline is not None else [], base_summary=b.summary if b is not None else None)
    base = as_summary(state.get("base_summary"))

    with tab_run:
        _run_tab(state, key, scenario, base)
    with tab_ab:
        _ab_tab(state)
    with tab_estimate:
        _estimate_tab(scenario, key, state)
    with tab_scenario:
        st.caption("The scenario as run, after the what-if settings.")
        pools = pd.DataFrame(
            [{"pool": p.name, "chip": p.chip, "site": p.site, "planned units": p.planned_units,
              "cloud units": p.cloud.units if p.cloud else 0} for p in scenario.fleet]
        )
        st.dataframe(pools, hide_index=True)
        st.text(yaml.safe_dump(scenario.model_dump(mode="json", by_alias=True, exclude_none=True), sort_keys=False))
    with tab_more:
        _more_tab(scenario, key, state)


if __name__ == "__main__":
    main()
