"""What-if front end for the planner: `streamlit run app.py`.

No model logic lives here. The page loads a scenario with ``planner.loader``, applies a few
what-if edits to the scenario *file contents* (cloud size, delivery slip, reliability), and
calls the same entry points as the CLI: ``planner.api.run_scenario`` and ``planner.api.estimate``.
Charts come from ``planner.report.charts``.

The scenario list is ``scenarios/*.yaml`` next to this file, or the folder named by the
``PLANNER_SCENARIO_DIR`` environment variable.
"""

from __future__ import annotations

import copy
import datetime as dt
import importlib
import json
import os
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st
import yaml

from planner.errors import PlannerError, ScenarioError
from planner.loader import MAX_FILE_BYTES, from_dict, parse_text
from planner.report import charts
from planner.report.headline import expectation_rows, fmt_days, fmt_si, fmt_value, headline_items, stat

ROOT = Path(__file__).resolve().parent
SCENARIO_DIR = Path(os.environ.get("PLANNER_SCENARIO_DIR") or ROOT / "scenarios")
MAX_APP_REPLICATIONS = 1_000
MAX_TABLE_ROWS = 200
# lower is better for these metrics: a negative delta shows green
_LOWER_IS_BETTER = {"time_to_train_days", "cost_usd", "energy_mwh", "chip_hours"}


# ---------------------------------------------------------------- scenario input (no model logic)


@dataclass(frozen=True)
class Knobs:
    """The what-if edits applied to a scenario before it is run."""

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


def read_scenario_text(data: bytes, name: str) -> dict:
    """A scenario file's bytes -> its mapping (not yet validated), or ScenarioError."""
    if len(data) > MAX_FILE_BYTES:
        raise ScenarioError(f"file is larger than {MAX_FILE_BYTES // 1024 // 1024} MiB", path=name)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ScenarioError("the file is not UTF-8 text", path=name) from None
    return parse_text(text, name, Path(name).suffix.lower())


def _shift(value: Any, days: int) -> Any:
    if isinstance(value, dt.date):
        return value + dt.timedelta(days=days)
    if isinstance(value, str):
        try:
            return (dt.date.fromisoformat(value) + dt.timedelta(days=days)).isoformat()
        except ValueError:
            return value  # left for validation to report
    return value


def apply_knobs(data: dict, knobs: Knobs, name: str = "<scenario>") -> dict:
    """A copy of the scenario mapping with the what-if edits applied (the original is not changed)."""
    out = copy.deepcopy(data)
    fleet = out.get("fleet")
    if not isinstance(fleet, list):
        return out  # validation reports the missing fleet
    kept = []
    for pool in fleet:
        if not isinstance(pool, dict):
            kept.append(pool)
            continue
        if knobs.delivery_slip_days:
            for d in pool.get("deliveries") or []:
                if isinstance(d, dict) and "date" in d:
                    d["date"] = _shift(d["date"], knobs.delivery_slip_days)
        cloud = pool.get("cloud")
        if isinstance(cloud, dict) and isinstance(cloud.get("units"), (int, float)) and knobs.cloud_multiplier != 1.0:
            units = int(round(cloud["units"] * knobs.cloud_multiplier))
            if units >= 1:
                cloud["units"] = units
            else:
                del pool["cloud"]
                deliveries = [d for d in pool.get("deliveries") or [] if isinstance(d, dict)]
                owned = [pool.get("units") or 0] + [d.get("units") or 0 for d in deliveries]
                if not any(isinstance(u, (int, float)) and u > 0 for u in owned):
                    continue  # a cloud-only pool with no cloud left
        kept.append(pool)
    if not kept:
        raise ScenarioError("no pool is left once the cloud is removed", path=name, field="fleet")
    out["fleet"] = kept
    reliability = out.get("reliability")
    out["reliability"] = {**(reliability if isinstance(reliability, dict) else {}), "enabled": bool(knobs.reliability)}
    simulation = out.get("simulation")
    out["simulation"] = {
        **(simulation if isinstance(simulation, dict) else {}),
        "seed": int(knobs.seed),
        "replications": int(knobs.replications),
    }
    return out


def load_api():
    """The ``planner.api`` module, or None while it is not part of this installation."""
    try:
        return importlib.import_module("planner.api")
    except ModuleNotFoundError as exc:
        if exc.name in ("planner.api",):
            return None
        raise


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
        raw = _guard("Reading the scenario", lambda: read_scenario_text(path.read_bytes(), name))
    else:
        if not files:
            sb.caption(f"No scenario files in {SCENARIO_DIR}.")
        upload = sb.file_uploader("Scenario file (YAML or JSON)", type=["yaml", "yml", "json"])
        if upload is not None:
            name = upload.name
            raw = _guard("Reading the scenario", read_scenario_text, upload.getvalue(), name)
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
    seed = sb.number_input("Seed", 0, 2**31 - 1, int(sim.get("seed", 0) or 0), key=f"seed:{name}")
    reps = sb.number_input(
        "Replications", 1, MAX_APP_REPLICATIONS, min(int(sim.get("replications", 1) or 1), MAX_APP_REPLICATIONS),
        key=f"reps:{name}",
    )
    knobs = Knobs(float(multiplier), int(slip), bool(reliability), int(seed), int(reps))
    run = sb.button("Run", type="primary", width="stretch")
    return raw, name, knobs, run


def _metrics(summary: dict, previous: dict | None) -> None:
    items = headline_items(summary)
    old = {h.key: h for h in headline_items(previous)} if previous else {}
    prev_metrics = (previous or {}).get("metrics") or {}
    cols = st.columns(4)
    for i, h in enumerate(items):
        delta = None
        if h.key in old:
            a, b = stat((summary.get("metrics") or {}).get(h.key)), stat(prev_metrics.get(h.key))
            if a is not None and b is not None and a != b:
                delta = ("+" if a > b else "-") + fmt_value(h.key, abs(a - b)).lstrip("-")
        cols[i % 4].metric(
            h.label, h.value, delta=delta, help=h.detail or None, border=True,
            delta_color="inverse" if h.key in _LOWER_IS_BETTER else "normal",
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


def _estimate_tab(api, scenario, key: str, state: dict) -> None:
    st.caption("Steady state: each pool at its full planned size, its best parallel layout and speed.")
    estimate = getattr(api, "estimate", None)
    if st.button("Estimate", disabled=estimate is None):
        answer = _guard("Estimate", estimate, scenario)
        if answer is not None:
            state["estimate"], state["estimate_key"] = answer, key
    answer = state.get("estimate")
    if answer is None:
        if estimate is None:
            st.info("The estimate (planner.api.estimate) is not available in this installation yet.")
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
    st.set_page_config(page_title="Capacity planner", page_icon="📈", layout="wide")
    st.title("Compute capacity planner")
    state = st.session_state
    raw, name, knobs, run = _sidebar()
    if raw is None:
        st.info("Choose a scenario file in the sidebar, or upload one.")
        return
    data = _guard("Applying the what-if settings", apply_knobs, raw, knobs, name)
    scenario = _guard("Checking the scenario", from_dict, data, name) if data is not None else None
    if scenario is None:
        return
    st.caption(f"**{scenario.name}** · {name}" + (f" — {scenario.description}" if scenario.description else ""))
    key = json.dumps({"name": name, "data": data}, sort_keys=True, default=str)

    api = _guard("Loading planner.api", load_api)
    if run:
        run_scenario = getattr(api, "run_scenario", None)
        if run_scenario is None:
            st.warning("The simulation (planner.api.run_scenario) is not available in this installation yet.")
        else:
            with st.spinner(f"Simulating {knobs.replications} replication(s) ..."):
                result = _guard("Run", run_scenario, scenario, replications=knobs.replications, seed=knobs.seed)
            if result is not None:
                if state.get("result") is not None:
                    state["previous"] = state["result"].summary
                state["result"], state["result_key"] = result, key

    tab_run, tab_estimate, tab_scenario = st.tabs(["Run", "Estimate", "Scenario"])
    with tab_run:
        _run_tab(state, key)
    with tab_estimate:
        _estimate_tab(api, scenario, key, state)
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
