"""Findings of a third hostile-input review.

An output folder that holds the command's own inputs, names that show nothing, a delivery sheet's digits, a job of
below one sequence, and a run stopped by SIGTERM at an unlucky moment.
"""

from __future__ import annotations

import json
import multiprocessing
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
import yaml
from conftest import DEFAULT_SCENARIO, ROOT, one_error_line

from planner.sim import parallel


def _report(cli, scenario: Path, out: Path) -> None:  # a report folder planner wrote
    r = cli("run", scenario, "--out", out)
    assert r.exit_code == 0, r


def test_a_folder_holding_the_scenario_under_a_report_s_file_name_is_kept(cli, make_scenario, tmp_path):
    """A scenario saved as a previous report's summary.json: the report replaced it (its name is a report's)."""
    out = tmp_path / "own"
    _report(cli, make_scenario(), out)
    mine = out / "summary.json"
    mine.write_text(json.dumps(DEFAULT_SCENARIO))
    before = mine.read_bytes()
    line = one_error_line(cli("run", mine, "--out", out))
    assert "summary.json, which this command reads" in line
    assert mine.read_bytes() == before


@pytest.mark.parametrize(("command", "name", "extra"), [
    ("run", "schedule.csv", []),
    ("sweep", "sweep.csv", ["--set", "workload.tokens=1e11"]),
    ("sensitivity", "sensitivity.csv", [])])
def test_a_delivery_sheet_inside_the_output_folder_is_kept(cli, make_scenario, tmp_path, command, name, extra):
    """A delivery sheet saved under the CSV name of a previous output: the command would have replaced it."""
    out = tmp_path / "out"
    r = cli(command, make_scenario(), "--out", out, *extra, "--replications", "1")
    assert r.exit_code == 0, r
    sheet = out / name
    sheet.write_text("date,units\n2025-01-10,64\n")
    before = sheet.read_bytes()
    doc = {**DEFAULT_SCENARIO, "fleet": [{"name": "h100", "chip": "h100-sxm", "deliveries": {"file": str(sheet)}}]}
    r = cli(command, make_scenario.text(yaml.safe_dump(doc), "s.yaml"), "--out", out, *extra, "--replications", "1")
    line = one_error_line(r)
    assert f"{name}, which this command reads" in line
    assert sheet.read_bytes() == before


@pytest.mark.parametrize(("where", "value"), [("fleet.0.name", " "), ("fleet.0.site", "\u3000"), ("name", "   "),
                                              ("fleet.0.name", "\u200b"), ("jobs", None)])
def test_a_name_that_shows_nothing_is_refused(cli, make_scenario, where, value):
    doc = json.loads(json.dumps(DEFAULT_SCENARIO))
    if where == "jobs":
        doc.pop("workload")
        doc["jobs"] = [{"name": "\t \n", "workload": DEFAULT_SCENARIO["workload"]}]
        field = "jobs[0].name"
    else:
        *head, last = where.split(".")
        node = doc
        for k in head:
            node = node[int(k)] if k.isdigit() else node[k]
        node[last] = value
        field = where.replace(".0.", "[0].")
    line = one_error_line(cli("validate", make_scenario.text(yaml.safe_dump(doc))))
    assert f"{field}: must show something" in line


def test_names_that_differ_only_in_spaces_look_the_same(cli, make_scenario):
    fleet = [{"name": "a b", "chip": "h100-sxm", "units": 64}, {"name": "a  b ", "chip": "h100-sxm", "units": 64}]
    line = one_error_line(cli("validate", make_scenario(fleet=fleet)))
    assert "fleet[1].name" in line and "looks the same as 'a b'" in line


@pytest.mark.parametrize("cell", ["１０００", "١٢", "1_000", '"1,00"'])
def test_a_delivery_sheet_s_units_are_ascii_digits(cli, make_scenario, tmp_path, cell):
    """float() read fullwidth and Arabic-Indic digits and 1_000, which the scenario file refuses."""
    sheet = tmp_path / "plan.csv"
    sheet.write_text(f"date,units\n2025-01-10,{cell}\n", encoding="utf-8")
    doc = {**DEFAULT_SCENARIO, "fleet": [{"name": "h100", "chip": "h100-sxm", "deliveries": {"file": "plan.csv"}}]}
    line = one_error_line(cli("validate", make_scenario.text(yaml.safe_dump(doc), "s.yaml")))
    assert "fleet[0].deliveries.file" in line and "is not a number of chips" in line and "row 2" in line


@pytest.mark.parametrize("tokens", [1e-300, 1, 8191])
def test_a_job_of_less_than_one_sequence_is_refused(cli, make_scenario, tokens):
    line = one_error_line(cli("validate", make_scenario(workload={"tokens": tokens})))
    assert "workload.tokens" in line and "below one sequence (8192 tokens)" in line


def test_one_sequence_is_enough(cli, make_scenario):
    assert cli("validate", make_scenario(workload={"tokens": 8192})).exit_code == 0


def _stubborn():
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a worker that does not end on terminate()


def _long(path: str) -> None:
    time.sleep(20)
    Path(path).write_text("finished")


def test_stop_does_not_wait_for_a_worker_that_outlives_terminate(tmp_path, monkeypatch):
    """A worker stuck on the pool's lock outlived terminate(), and shutdown(wait=True) waited for it for ever.

    Here the worker ignores SIGTERM while its item runs: stop() kills it rather than wait for the item to end.
    """
    monkeypatch.setattr(parallel, "STOP_WAIT_S", 0.5)
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork"), initializer=_stubborn)
    done = tmp_path / "done"
    pool.submit(_long, str(done))
    for _ in range(200):  # its worker has started
        if pool._processes:
            break
        time.sleep(0.01)
    (proc,) = pool._processes.values()
    time.sleep(0.3)  # it runs the item, SIGTERM ignored
    parallel.stop(pool)
    # killed by stop(): a loaded machine may take past STOP_WAIT_S to end it (CI: still alive 0.5 s after the kill),
    # so it is given 10 s more, still half the 20 s a worker that was never killed would live
    proc.join(10)
    assert not proc.is_alive()
    assert not done.exists()  # stop() did not wait for the item


_FORK_PROBE = """
import json, os, signal, sys
from pathlib import Path
from planner.report import writer

at_fork = []
os.register_at_fork(before=lambda: at_fork.append(sorted(int(x) for x in signal.pthread_sigmask(signal.SIG_BLOCK, []))))


def child_mask(result, path):
    Path(path).write_text(json.dumps(sorted(int(x) for x in signal.pthread_sigmask(signal.SIG_BLOCK, []))))


writer.tables.write_xlsx = child_mask
before = signal.pthread_sigmask(signal.SIG_BLOCK, [])
proc = writer._start_xlsx(None, Path(sys.argv[1]))
proc.join(30)
print(json.dumps({"forked": at_fork[0], "child": json.loads(Path(sys.argv[1]).read_text()),
                  "restored": signal.pthread_sigmask(signal.SIG_BLOCK, []) == before}))
"""


def test_the_workbook_s_process_is_forked_with_signals_held_and_takes_them_again(tmp_path):
    """SIGTERM during the fork landed in logging's fork hook: swallowed with a traceback, and the run exited 0.

    The fork now happens with SIGINT and SIGTERM held (as the parent's mask shows at the fork); the child takes them
    again, and the parent's mask is restored. (In a process of its own: a test runner's threads stop the fork.)
    """
    r = subprocess.run([sys.executable, "-c", _FORK_PROBE, str(tmp_path / "mask.json")], capture_output=True,
                       text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    seen = json.loads(r.stdout)
    both = {int(signal.SIGINT), int(signal.SIGTERM)}
    assert both <= set(seen["forked"])
    assert not both & set(seen["child"])
    assert seen["restored"]


def test_a_custom_chip_id_that_shows_nothing_is_refused(cli, make_scenario):
    chip = {"id": "\u200b ", "bf16_tflops": 500, "hbm_gib": 80, "hbm_tbps": 3, "scale_up_domain": 8,
            "scale_up_gbyteps": 450, "scale_out_gbps": 400, "tdp_w": 700}
    line = one_error_line(cli("validate", make_scenario(chips=[chip])))
    assert "chips[0].id: must show something" in line


@pytest.mark.parametrize("name", ["\u3164", "\uffa0", "\u2800", "\u0301"])
def test_names_of_letters_that_draw_nothing_are_refused(cli, make_scenario, name):
    """Hangul fillers, the blank Braille pattern, a lone accent: a second review found them accepted."""
    fleet = [{"name": name, "chip": "h100-sxm", "units": 64}]
    assert "fleet[0].name: must show something" in one_error_line(cli("validate", make_scenario(fleet=fleet)))


def test_a_blank_letter_inside_a_name_looks_like_a_space(cli, make_scenario):
    fleet = [{"name": "pool a", "chip": "h100-sxm", "units": 64}, {"name": "pool\u2800a", "chip": "h100-sxm",
                                                                    "units": 64}]
    assert "looks the same as 'pool a'" in one_error_line(cli("validate", make_scenario(fleet=fleet)))


@pytest.mark.parametrize("name", ["month ", "ｍｏｎｔｈ", "total\u200b"])
def test_a_name_that_looks_like_a_report_column_is_refused(cli, make_scenario, name):
    fleet = [{"name": name, "chip": "h100-sxm", "units": 64}]
    assert "is a column of the report's tables" in one_error_line(cli("validate", make_scenario(fleet=fleet)))


@pytest.mark.parametrize("chip_id", ["h100-sxm ", "ｈ100-sxm", "h100\u200b-sxm"])
def test_a_custom_chip_that_looks_like_a_built_in_one_is_refused(cli, make_scenario, chip_id):
    chip = {"id": chip_id, "bf16_tflops": 989, "hbm_gib": 80, "hbm_tbps": 3.35, "scale_up_domain": 8,
            "scale_up_gbyteps": 450, "scale_out_gbps": 400, "tdp_w": 700}
    line = one_error_line(cli("validate", make_scenario(chips=[chip],
                                                        fleet=[{"name": "p", "chip": chip_id, "units": 64}])))
    assert "chips[0].id" in line and "built-in chip id" in line


def test_a_reference_written_in_another_unicode_form_says_so(cli, make_scenario):
    import unicodedata

    nfc = unicodedata.normalize("NFC", "Pöol")
    doc = {**DEFAULT_SCENARIO, "fleet": [{"name": nfc, "chip": "h100-sxm", "units": 64}]}
    doc.pop("workload")
    nfd = unicodedata.normalize("NFD", nfc)
    doc["jobs"] = [{"name": "j", "workload": DEFAULT_SCENARIO["workload"], "pools": [nfd]}]
    line = one_error_line(cli("validate", make_scenario.text(yaml.safe_dump(doc, allow_unicode=True))))
    assert "jobs[0].pools[0]" in line and "looks the same as" in line and "written otherwise" in line


def test_solve_below_one_sequence_asks_for_a_larger_min(cli, make_scenario):
    """It said "give a smaller --min": the hint read "less than" in the reason as pydantic's upper bound."""
    path = make_scenario(workload={"tokens": 8192})
    line = one_error_line(cli("solve", path, "--vary", "workload.tokens", "--min", "1", "--max", "1e9",
                              "--deadline", "2025-03-01", "--replications", "1"))
    assert "give a larger --min" in line


def test_a_sheet_s_thousands_with_decimals_are_read(cli, make_scenario, tmp_path):
    (tmp_path / "plan.csv").write_text('date,units\n2025-01-10,"30,000.0"\n')
    doc = {**DEFAULT_SCENARIO, "fleet": [{"name": "h100", "chip": "h100-sxm", "deliveries": {"file": "plan.csv"}}]}
    r = cli("validate", make_scenario.text(yaml.safe_dump(doc), "s.yaml"))
    assert r.exit_code == 0, r


@pytest.mark.parametrize("brk", ["\n", "\r", "\u2028", "\x85"])
@pytest.mark.parametrize("where", ["pool", "site", "job", "scenario"])
def test_a_name_is_one_line(cli, make_scenario, brk, where):
    """A pool named "p" + line break + "FAKE-P" printed a line of its own under estimate's table and headline."""
    name = f"p{brk}FAKE-P: 9,302,049 tokens/s"
    if where == "pool":
        path, field = make_scenario(fleet=[{"name": name, "chip": "h100-sxm", "units": 64}]), "fleet[0].name"
    elif where == "site":
        path, field = make_scenario(fleet=[{"name": "p", "chip": "h100-sxm", "units": 64, "site": name}]), \
            "fleet[0].site"
    elif where == "job":
        path, field = make_scenario(jobs=[{"name": name, "workload": DEFAULT_SCENARIO["workload"]}],
                                    workload=None), "jobs[0].name"
    else:
        path, field = make_scenario(name=name), "name"
    line = one_error_line(cli("validate", path))
    assert f"{field}: must be one line: it holds a line break (U+{ord(brk):04X})" in line
