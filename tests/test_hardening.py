"""Hostile and odd inputs: one test per class of defect, plus a seeded fuzz test over the shipped scenarios.

Every bad input must give exit 2 (3 where nothing fits), one short line on stderr, no traceback, and no
half-written report folder.
"""

from __future__ import annotations

import copy
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import MAX_MESSAGE_BYTES, ROOT, SHIPPED_SCENARIOS, one_error_line

from planner import cli as planner_cli
from planner.budget import MAX_EVENTS_PER_REPLICATION, run_estimate
from planner.errors import PlannerError
from planner.loader import from_dict
from planner.report.writer import default_folder_name
from planner.sim.dask_backend import connect


def _no_temp_left(folder: Path) -> None:
    assert not [p.name for p in folder.iterdir() if ".tmp-" in p.name or ".old-" in p.name]


# ---------------------------------------------------------------- 1. unbounded reading, long messages

ALIAS_BOMB = "".join(
    f"{c}: &{c} [{', '.join([f'*{p}'] * 9 if p else ['lol'] * 9)}]\n"
    for p, c in zip(["", *"abcdefgh"], "abcdefghi", strict=True)
) + "name: *i\n"


def test_an_alias_bomb_is_refused_quickly(cli, make_scenario):
    assert len(ALIAS_BOMB) < 1_000
    line = one_error_line(cli("validate", make_scenario.text(ALIAS_BOMB)))
    assert "aliases expand to more than" in line


def test_quoted_values_are_cut(cli, make_scenario):
    path = make_scenario(workload={"model": "x" * 100_000})
    line = one_error_line(cli("validate", path))
    assert "workload.model" in line and "x" * 81 not in line and "…" in line


# ---------------------------------------------------------------- 4. YAML 1.1 oddities become one line


@pytest.mark.parametrize("value", [
    "2025-02-30", "2025-13-01", "!!float abc", "!!int abc", "!!bool maybe", "!!timestamp garbage",
    "9" * 100_000, "[" * 1_000 + "]" * 1_000, "17:04", "yes",
], ids=["feb30", "month13", "float", "int", "bool", "timestamp", "digits", "nesting", "base60", "yes"])
def test_odd_yaml_values_are_one_line(cli, make_scenario, value):
    text = yaml.safe_dump(make_scenario.data()).replace("start: '2025-01-01'", f"start: {value}")
    text = text.replace("units: 64", f"units: {value}") if value in ("17:04", "yes") else text
    one_error_line(cli("validate", make_scenario.text(text)))


@pytest.mark.parametrize("value", ["2025-02-30", "2025-13-01"])
def test_an_unquoted_date_that_is_no_date_names_its_field(cli, make_scenario, value):
    """An unquoted date that is no date is read as its text: the scenario's checks name its field.

    Review: `date: 2025-13-01` unquoted read "line 10, column 16: not valid YAML", not the field path the contract
    asks for (a quoted one named `fleet[0].deliveries[0].date`).
    """
    text = yaml.safe_dump(make_scenario.data()).replace("start: '2025-01-01'", f"start: {value}")
    line = one_error_line(cli("validate", make_scenario.text(text)))
    assert ": start: " in line and value in line and "line " not in line


@pytest.mark.parametrize("start, horizon", [("9999-06-01", 730), ("9999-11-01", 30), ("2262-04-01", 30)])
def test_a_calendar_past_the_reports_last_day_is_refused(cli, make_scenario, tmp_path, start, horizon):
    """Years past 9999, and past pandas' last timestamp (2262-04-11) that the report's dates use, at run time."""
    out = tmp_path / "out"
    line = one_error_line(cli("run", make_scenario(start=start, horizon_days=horizon), "--out", out))
    # a start past the calendar is refused as a date; one within it whose horizon runs past, on horizon_days
    field = "start" if start > "2262-04-10" else "horizon_days"
    assert f"{field}:" in line and "2262-04-10" in line and not out.exists()


def test_the_last_day_of_the_calendar_runs_and_writes_dates(cli, make_scenario, tmp_path):
    path = make_scenario(start="2262-01-01", horizon_days=98, reliability={"enabled": True},
                         workload={"tokens": 1e15})
    assert cli("run", path, "--out", tmp_path / "out").exit_code == 0
    assert "2262-04-0" in (tmp_path / "out" / "schedule.csv").read_text()


# ---------------------------------------------------------------- 5. silent acceptance


@pytest.mark.parametrize("filename, text", [
    ("dup.yaml", "name: a\nname: b\n"),
    ("dup.json", '{"name": "a", "name": "b"}'),
])
def test_duplicate_keys_are_refused(cli, make_scenario, filename, text):
    assert "appears twice" in one_error_line(cli("validate", make_scenario.text(text, filename)))


@pytest.mark.parametrize("overrides, field", [
    ({"costs": {"unit_price_usd": {"h100-sxm": -1}}}, "costs.unit_price_usd.h100-sxm"),
    ({"costs": {"unit_price_usd": {"h100-sxm": ".nan"}}}, "costs.unit_price_usd.h100-sxm"),
    ({"costs": {"unit_price_usd": {"no-such-chip": 1000}}}, "costs.unit_price_usd.no-such-chip"),
    ({"fleet": [{"name": "h", "chip": "h100-sxm", "units": 64, "parallelism": {"tp": 3}}]}, "fleet[0].parallelism.tp"),
    ({"fleet": [{"name": "h", "chip": "h100-sxm", "units": 64, "parallelism": {"pp": 64}}]}, "fleet[0].parallelism.pp"),
    ({"fleet": [{"name": "h", "chip": "h100-sxm", "units": 64, "parallelism": {"cp": 3}}]}, "fleet[0].parallelism.cp"),
    ({"fleet": [{"name": "h", "chip": "h100-sxm", "units": 64, "parallelism": {"ep": 2}}]}, "fleet[0].parallelism.ep"),
    ({"chips": [{**yaml.safe_load("{id: h100-sxm}")}]}, "chips[0]"),
    ({"strategy": {"min_units_to_start": 65}}, "strategy.min_units_to_start"),
    ({"workload": {"precision": "fp8"}, "fleet": [{"name": "a", "chip": "a100-80gb", "units": 64}]}, "fleet[0].chip"),
    ({"links": [{"sites": ["default", "mars"], "gbps": 100}]}, "links[0].sites"),
])
def test_silently_accepted_settings_are_refused(cli, make_scenario, overrides, field):
    assert field in one_error_line(cli("validate", make_scenario(overrides)))


def test_a_batch_of_partial_sequences_gets_a_note(cli, make_scenario):
    r = cli("validate", make_scenario(workload={"global_batch_tokens": 10_000}))
    assert r.exit_code == 0 and "note:" in r.stderr and "global_batch_tokens" in r.stderr


# ---------------------------------------------------------------- 2. bounded work


@pytest.mark.parametrize("reliability, field", [
    ({"mtbf_chip_days": 1e-6, "restart_base_minutes": 0, "restart_minutes_per_1000_chips": 0, "repair_days": 0,
      "checkpoint_write_s": 0, "manual_intervention_share": 0}, "reliability.mtbf_chip_days"),
    ({"mtbf_chip_days": 1e-6}, "reliability.mtbf_chip_days"),
    ({"maintenance_every_days": 1e-9, "maintenance_minutes": 0}, "reliability.maintenance_every_days"),
    ({"maintenance_every_days": 0.05, "maintenance_minutes": 80}, "reliability.maintenance_minutes"),
])
def test_storms_are_refused_before_running(cli, make_scenario, tmp_path, reliability, field):
    out = tmp_path / "out"
    r = cli("run", make_scenario(reliability={"enabled": True, **reliability}), "--out", out)
    assert field in one_error_line(r)
    assert not out.exists()


def test_a_century_of_hourly_maintenance_is_over_the_event_budget(cli, make_scenario):
    path = make_scenario(horizon_days=36_500, reliability={"enabled": True, "maintenance_every_days": 0.05})
    line = one_error_line(cli("estimate", path))
    assert "reliability.maintenance_every_days" in line and f"{MAX_EVENTS_PER_REPLICATION:,}" in line


def test_the_estimate_grows_with_replications_and_a_long_run_is_announced(make_scenario, monkeypatch, cli):
    s = make_scenario.scenario(reliability={"enabled": True})
    one, many = run_estimate(s, 1), run_estimate(s, 100_000)
    per_replication = one.seconds - one.once_seconds  # the report, the layout search setup: once
    assert many.seconds - one.seconds == pytest.approx(99_999 * per_replication)
    captured = []
    monkeypatch.setattr(planner_cli.err, "print", lambda *a, **k: captured.append(str(a[0])))
    planner_cli._warn_if_long(s, 100_000)
    assert captured and "100,000 replication(s)" in captured[0] and "min" in captured[0]


# ---------------------------------------------------------------- 4. the console, usage, odd paths


def test_user_text_is_printed_literally(cli, make_scenario, tmp_path):
    folder = tmp_path / "[bold]x"
    folder.mkdir()
    path = make_scenario(name="[/x] [red]n[/red]")
    target = folder / "[red]s.yaml"
    target.write_text(path.read_text())
    r = cli("validate", target)
    assert r.exit_code == 0 and "[/x] [red]n[/red]" in r.stdout and "[bold]x/[red]s.yaml" in r.stdout
    bad = folder / "bad.yaml"
    bad.write_text("name: [/x\n")
    assert "[bold]x/bad.yaml" in one_error_line(cli("validate", bad))


def test_usage_errors_are_one_line(cli, make_scenario):
    line = one_error_line(cli("run", make_scenario(), "--bogus"))
    assert "--bogus" in line and "planner run --help" in line


def test_a_folder_or_fifo_as_the_scenario_is_named(cli, tmp_path):
    assert "is a folder" in one_error_line(cli("validate", tmp_path))
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    assert "named pipe" in one_error_line(cli("validate", fifo))


def test_the_seed_bound_is_the_files(cli, make_scenario, tmp_path):
    assert cli("validate", make_scenario(simulation={"seed": 2**63 - 1})).exit_code == 0
    assert "--seed" in one_error_line(cli("run", make_scenario(), "--seed", str(2**63), "--out", tmp_path / "o"))


def test_closed_stdout_is_one_line(make_scenario):
    path = make_scenario()
    r = subprocess.run([sys.executable, "-c", "import os, sys; os.close(1); sys.stdout = None; "
                        "from planner.cli import main; sys.argv = ['planner', 'validate', sys.argv[1]]; main()",
                        str(path)], capture_output=False, stderr=subprocess.PIPE, text=True, timeout=60,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 2 and "Traceback" not in r.stderr and "standard output is closed" in r.stderr


def test_an_unreachable_or_malformed_scheduler_is_a_planner_error():
    def refuses(address, timeout):
        raise OSError(f"Timed out trying to connect to {address} after {timeout} s")

    with pytest.raises(PlannerError, match="--scheduler tcp://10.0.0.1:1: cannot reach"):
        connect("tcp://10.0.0.1:1", refuses)

    def malformed(address, timeout):
        raise ValueError(f"invalid address {address!r}")

    with pytest.raises(PlannerError, match="cannot reach") as info:
        connect("x" * 5_000, malformed)
    assert len(str(info.value)) < 400


def test_an_internal_error_is_one_line(cli, make_scenario, monkeypatch):
    import planner.api

    monkeypatch.setattr(planner.api, "estimate", lambda s: 1 / 0)
    assert "ZeroDivisionError" in one_error_line(cli("estimate", make_scenario()))


# ---------------------------------------------------------------- 4/8. output folders


def test_a_folder_name_too_long_is_refused_before_the_run(cli, make_scenario, tmp_path, monkeypatch):
    spare = tmp_path / "spare"
    spare.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(spare))
    line = one_error_line(cli("run", make_scenario(), "--out", tmp_path / ("n" * 300)))
    assert "longer than 255 bytes" in line and "results were written" not in line
    assert not list(spare.iterdir())
    _no_temp_left(tmp_path)


@pytest.mark.parametrize("out", ["/dev/null/x", "/proc/planner-report"])
def test_an_unwritable_report_folder_keeps_the_results(cli, make_scenario, tmp_path, out):
    r = cli("run", make_scenario(), "--out", out if out.startswith("/") else tmp_path / out)
    line = one_error_line(r)
    assert "the results were written to" in line
    spare = Path(line.split("the results were written to ")[1].split(" instead")[0])
    try:
        assert json.loads((spare / "summary.json").read_text())["scenario"] == "small"
    finally:
        import shutil

        shutil.rmtree(spare, ignore_errors=True)
    _no_temp_left(tmp_path)


def test_a_folder_with_only_a_users_summary_is_kept(cli, make_scenario, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "summary.json").write_text('{"mine": true}')
    line = one_error_line(cli("run", make_scenario(), "--out", out))
    assert "not a previous report" in line
    assert (out / "summary.json").read_text() == '{"mine": true}' and len(list(out.iterdir())) == 1


def test_stale_temporary_folders_are_cleaned_and_sigterm_is_an_interrupt(cli, make_scenario, tmp_path):
    from planner.ownership import mark, new_token

    dead = tmp_path / ".out.tmp-999999999-abc123"  # a killed planner run's folder: its marker, its process gone
    dead.mkdir()
    mark(dead, "report", new_token())
    (dead / "summary.json").write_text("{}")
    unmarked = tmp_path / ".out.tmp-999999998-abc123"  # no planner marker: not planner's to delete (issue 17)
    unmarked.mkdir()
    (unmarked / "summary.json").write_text("{}")
    alive = tmp_path / f".out.tmp-{os.getppid()}-live"  # a run of a live process: left alone
    alive.mkdir()
    mark(alive, "report", new_token())
    assert cli("run", make_scenario(), "--out", tmp_path / "out").exit_code == 0
    assert not dead.exists() and alive.exists() and unmarked.exists()
    with pytest.raises(KeyboardInterrupt):
        planner_cli._on_sigterm(15, None)


def test_non_ascii_names_get_their_own_folders():
    names = ["训练一", "训练二", "plain-name", "名", "x/../y"]
    folders = [default_folder_name(n) for n in names]
    assert len(set(folders)) == len(names)
    assert folders[2] == "plain-name"
    assert all("/" not in f and not f.startswith(".") for f in folders)


# ---------------------------------------------------------------- 8. spreadsheets


def test_formulas_stay_text_and_the_workbook_is_reproducible(cli, make_scenario, tmp_path):
    path = make_scenario(name="=HYPERLINK(\"http://x\")", fleet=[{"name": "@pool", "chip": "h100-sxm", "units": 64}])
    a, b = tmp_path / "a", tmp_path / "b"
    assert cli("run", path, "--out", a).exit_code == 0
    assert cli("run", path, "--out", b).exit_code == 0
    assert (a / "report.xlsx").read_bytes() == (b / "report.xlsx").read_bytes()
    assert ",'@pool," in (a / "events.csv").read_text()
    import zipfile

    with zipfile.ZipFile(a / "report.xlsx") as z:
        sheets = "".join(z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/"))
    assert "<f>" not in sheets  # no cell is a formula


# ---------------------------------------------------------------- fuzz


def _mutations(rng: random.Random, data: dict) -> dict:
    """One random mutation of a scenario mapping: a value replaced by an odd one, or a key dropped."""
    odd = [0, -1, 1e308, -1e-308, float("nan"), "", "[/x]", "=1+1", "x" * 500, None, [], {}, True, 2**70,
           "2025-02-30", 1e-9, 10**6, "名前", [1, 2], {"a": 1}]
    d = copy.deepcopy(data)
    paths = []

    def walk(node, trail):
        if isinstance(node, dict):
            for k, v in node.items():
                paths.append((*trail, k))
                walk(v, (*trail, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                paths.append((*trail, i))
                walk(v, (*trail, i))

    walk(d, ())
    trail = rng.choice(paths)
    parent = d
    for k in trail[:-1]:
        parent = parent[k]
    if isinstance(parent, dict) and rng.random() < 0.2:
        del parent[trail[-1]]
    else:
        parent[trail[-1]] = rng.choice(odd)
    return d


BROKEN_TEXTS = ["", "\x00\x01", "- a\n- b\n", "name: [\n", "a: !!python/object:os.system ls\n", "{{{{", "&a [*a]",
                "name: x\nworkload: 3\nfleet: x\n", "\t\tname: x", "name: x\n" * 3, "? [a]\n: b\n"]


def test_fuzz_mutated_scenarios_never_crash(cli, tmp_path):
    rng = random.Random(20261129)
    cases = 0
    for i in range(60):
        base = yaml.safe_load(rng.choice(SHIPPED_SCENARIOS).read_text())
        data = _mutations(rng, base)
        path = tmp_path / f"m{i}.json"
        path.write_text(json.dumps(data, default=str))
        command = "estimate" if i % 3 == 0 else "validate"
        r = cli(command, path, "--json") if command == "estimate" else cli(command, path)
        assert r.exit_code in (0, 1, 2, 3), r
        assert "Traceback" not in r.stderr and len(r.stderr.encode()) <= MAX_MESSAGE_BYTES, r
        cases += 1
    for i, text in enumerate(BROKEN_TEXTS + [t[: rng.randrange(len(t) + 1)] for t in BROKEN_TEXTS]):
        path = tmp_path / f"b{i}.yaml"
        path.write_text(text)
        r = cli("validate", path)
        assert r.exit_code == 2 and "Traceback" not in r.stderr and len(r.stderr.encode()) <= MAX_MESSAGE_BYTES, r
        cases += 1
    assert cases >= 80


def test_the_shipped_scenarios_are_within_the_budget():
    for path in SHIPPED_SCENARIOS:
        s = from_dict(yaml.safe_load(path.read_text()), str(path))
        assert run_estimate(s).events_per_replication < MAX_EVENTS_PER_REPLICATION


def test_nothing_fits_names_the_file(cli, make_scenario, tmp_path):
    """`estimate` exits 3 (its contract's "nothing fits in memory"); `run` has no such code: 2."""
    path = make_scenario(workload={"model": "llama3-405b"}, fleet=[{"name": "h100", "chip": "h100-sxm", "units": 8}])
    for args, code in ((("estimate", path), 3), (("run", path, "--out", tmp_path / "o"), 2)):
        line = one_error_line(cli(*args), code=code)
        assert line.startswith(f"error: {path}: ") and "GiB" in line


def test_too_many_values_or_bytes_are_refused(cli, make_scenario, monkeypatch):
    import planner.loader
    import planner.yamlio

    monkeypatch.setattr(planner.yamlio, "MAX_NODES", 50)
    line = one_error_line(cli("validate", make_scenario.text("name: [" + ", ".join(["1"] * 100) + "]\n")))
    assert "more than 50 values" in line
    monkeypatch.setattr(planner.loader, "MAX_FILE_BYTES", 1024 * 1024)
    assert "larger than 1 MiB" in one_error_line(cli("validate", make_scenario.text("#" * (1024 * 1024 + 1))))
