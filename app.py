"""What-if front end for the planner: `streamlit run app.py` (or `planner app`).

No model logic lives here. The page reads a scenario with ``planner.loader``, applies the what-if
controls with ``planner.edits`` (the same field-path edits as ``planner sweep --set``), and calls the
same entry points as the CLI: ``planner.api.simulate`` and ``planner.api.estimate``. Charts come
from ``planner.report.charts``.

The scenario list is ``scenarios/*.yaml`` next to this file, or the folder named by the
``PLANNER_SCENARIO_DIR`` environment variable.
"""

from __future__ import annotations

import json
import os
import traceback
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st
import yaml

from planner import api, edits
from planner.budget import check_work, run_estimate
from planner.errors import PlannerError
from planner.fmt import fmt_days, fmt_si
from planner.loader import from_dict, parse_bytes
from planner.metrics import BY_KEY
from planner.report import charts
from planner.report.headline import expectation_rows, headline_items, stat

ROOT = Path(__file__).resolve().parent
SCENARIO_DIR = Path(os.environ.get("PLANNER_SCENARIO_DIR") or ROOT / "scenarios")
MAX_APP_REPLICATIONS = 1_000
MAX_APP_RUN_S = 120.0  # longer runs belong to `planner run`
MAX_TABLE_ROWS = 200


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
    except PlannerError as exc:
        st.error(f"{what}: {exc}")
    except Exception as exc:  # noqa: BLE001 - an internal error must not blank the page
        st.error(f"{what} failed with an internal error: {type(exc).__name__}: {exc}")
        with st.expander("details"):
            st.code(traceback.format_exc())
    return None


def _sidebar() -> tuple[dict | None, str, Knobs | None, bool]:
    """Scenario choice and knobs. Returns (scenario mapping, its name, knobs, run clicked)."""
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
            sb.caption(f"No scenario files in {SCENARIO_DIR}.")
        upload = sb.file_uploader("Scenario file (YAML or JSON)", type=["yaml", "yml", "json"])
        if upload is not None:
            name = upload.name
            raw = _guard("Reading the scenario", parse_bytes, upload.getvalue(), name)
    if raw is None:
        return None, name, None, False

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
    # the widget holds seeds up to 2**53 - 1 (a JavaScript number); any other seed of the file is passed on as
    # written, so that the scenario check accepts it (up to 2**63 - 1) or names simulation.seed
    file_seed = sim.get("seed", 0)
    in_widget = type(file_seed) is int and 0 <= file_seed <= 2**53 - 1
    seed = sb.number_input("Seed", 0, 2**53 - 1, file_seed if in_widget else 0, key=f"seed:{name}",
                           disabled=not in_widget)
    reps = sb.number_input(
        "Replications", 1, MAX_APP_REPLICATIONS, min(int(sim.get("replications", 1) or 1), MAX_APP_REPLICATIONS),
        key=f"reps:{name}",
    )
    knobs = Knobs(float(multiplier), int(slip), bool(reliability), int(seed) if in_widget else file_seed, int(reps))
    run = sb.button("Run", type="primary", width="stretch")
    return raw, name, knobs, run


def _metrics(summary: dict, previous: dict | None) -> None:
    items = headline_items(summary)
    old = {h.key: h for h in headline_items(previous)} if previous else {}
    prev_metrics = (previous or {}).get("metrics") or {}
    cols = st.columns(4)
    for i, h in enumerate(items):
        delta = None
        if h.key in old and h.key in BY_KEY:
            a, b = stat((summary.get("metrics") or {}).get(h.key)), stat(prev_metrics.get(h.key))
            if a is not None and b is not None and a != b:
                delta = ("+" if a > b else "-") + BY_KEY[h.key].fmt(abs(a - b)).lstrip("-")
        cols[i % 4].metric(
            h.label, h.value, delta=delta, help=h.detail or None, border=True,
            delta_color="inverse" if h.key not in BY_KEY or BY_KEY[h.key].lower_is_better else "normal",
        )
    rows = expectation_rows(summary)
    if rows:
        passed = sum(r["result"] == "PASS" for r in rows)
        cols[len(items) % 4].metric("Expectations", f"{passed} / {len(rows)} pass", border=True)
        st.dataframe(pd.DataFrame(rows), hide_index=True)


def _run_tab(state: dict, current_key: str) -> None:
    result = state.get("result")
    if result is None:
        st.info("Choose a scenario, set the knobs in the sidebar and press **Run**.")
        return
    if state.get("result_key") != current_key:
        st.warning("The settings changed since this run; press **Run** to update.")
    st.subheader(f"Run: {result.summary.get('scenario') or result.scenario_name}")
    _metrics(result.summary, state.get("previous"))
    for key, fig in charts.result_figures(result).items():
        st.plotly_chart(fig, key=f"chart-{key}")
    with st.expander(f"Layouts ({len(result.layouts)})"):
        st.dataframe(result.layouts, hide_index=True)
    n = len(result.events)
    with st.expander(f"Events ({n})" if n <= MAX_TABLE_ROWS else f"Events (first {MAX_TABLE_ROWS} of {n})"):
        st.dataframe(result.events.head(MAX_TABLE_ROWS), hide_index=True)
    if len(result.replications) > 1:
        with st.expander(f"Replications ({len(result.replications)})"):
            st.dataframe(result.replications, hide_index=True)
    cols = st.columns(3)
    cols[0].download_button("summary.json", json.dumps(result.summary, indent=2, default=str), "summary.json",
                            "application/json")
    cols[1].download_button("schedule.csv", result.schedule.to_csv(index=False), "schedule.csv", "text/csv")
    cols[2].download_button("events.csv", result.events.to_csv(index=False), "events.csv", "text/csv")


def _estimate_tab(scenario, key: str, state: dict) -> None:
    st.caption("Steady state: each pool at its full planned size, its best parallel layout and speed.")
    if st.button("Estimate"):
        answer = _guard("Estimate", api.estimate, scenario)
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
    cols[0].metric("Mode", str(combined.get("mode", "—")), border=True)
    cols[1].metric("Tokens/s (combined)", fmt_si(stat(combined.get("tokens_per_s"))), border=True)
    cols[2].metric("Time to train", fmt_days(stat(combined.get("time_to_train_days"))), border=True)
    cols[3].metric("Layouts searched", fmt_si(stat(search.get("layouts_evaluated"))),
                   help=f"{search.get('seconds', '—')} s", border=True)
    st.dataframe(estimate_pools_frame(answer), hide_index=True)
    for problem in answer.get("infeasible") or []:
        st.warning(str(problem))


def main() -> None:
    """The page."""
    st.set_page_config(page_title="Capacity planner", page_icon="📈", layout="wide")
    st.title("Compute capacity planner")
    state = st.session_state
    raw, name, knobs, run = _sidebar()
    if raw is None:
        st.info("Choose a scenario file in the sidebar, or upload one.")
        return
    loaded = _guard("Checking the scenario", from_dict, raw, name)
    scenario = _guard("Applying the what-if settings", apply_knobs, loaded, knobs) if loaded is not None else None
    if scenario is None or _guard("Checking the work", check_work, scenario, name) is None:
        return
    st.caption(f"**{scenario.name}** · {name}" + (f" — {scenario.description}" if scenario.description else ""))
    key = json.dumps({"name": name, "data": edits.to_mapping(scenario)}, sort_keys=True, default=str)
    expected_s = run_estimate(scenario, knobs.replications).seconds
    if run and expected_s > MAX_APP_RUN_S:
        st.error(f"This run may take about {expected_s / 60:,.0f} min; the app runs at most "
                 f"{MAX_APP_RUN_S / 60:g} min. Lower the replications, or use `planner run` on the command line.")
        run = False
    if run:
        with st.spinner(f"Simulating {knobs.replications} replication(s) ..."):
            result = _guard("Run", api.simulate, scenario, replications=knobs.replications, seed=knobs.seed)
        if result is not None:
            if state.get("result") is not None:
                state["previous"] = state["result"].summary
            state["result"], state["result_key"] = result, key

    tab_run, tab_estimate, tab_scenario = st.tabs(["Run", "Estimate", "Scenario"])
    with tab_run:
        _run_tab(state, key)
    with tab_estimate:
        _estimate_tab(scenario, key, state)
    with tab_scenario:
        st.caption("The scenario as run, after the what-if settings.")
        pools = pd.DataFrame(
            [{"pool": p.name, "chip": p.chip, "site": p.site, "planned units": p.planned_units,
              "cloud units": p.cloud.units if p.cloud else 0} for p in scenario.fleet]
        )
        st.dataframe(pools, hide_index=True)
        st.code(yaml.safe_dump(scenario.model_dump(mode="json", by_alias=True, exclude_none=True), sort_keys=False),
                language="yaml")


if __name__ == "__main__":
    main()
