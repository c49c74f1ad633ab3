"""Findings of a third hostile-input review: user names read as formats, a signal mid-swap, long messages."""

from __future__ import annotations

import subprocess
from pathlib import Path

import openpyxl
import pytest
from conftest import one_error_line

from planner import ownership
from planner.report.tables import _column_format, fmt_cell

W = {"model": "llama3-8b", "seq_len": 8192, "global_batch_tokens": 1048576, "tokens": 2.0e10}


def test_pool_names_never_set_the_workbooks_formats(cli, make_scenario, tmp_path: Path):
    """Pools named date, finish_date, mfu and cost_usd: every pool's column of tokens by month holds tokens.

    Their tokens became timestamps (lost), a 9.8e12 % share and dollars.
    """
    pools = [{"name": n, "chip": "h100-sxm", "site": "dc", "units": 64} for n in ("date", "finish_date", "mfu",
                                                                                  "cost_usd")]
    path = make_scenario(workload=W, fleet=pools, strategy={"mode": "sync"}, reliability={"enabled": False})
    r = cli("run", path, "--out", tmp_path / "r")
    assert r.exit_code == 0, r
    ws = openpyxl.load_workbook(tmp_path / "r" / "report.xlsx")["tokens by month"]
    head = [c.value for c in ws[1]]
    assert head[0] == "month" and {"date", "finish_date", "mfu", "cost_usd"} <= set(head)
    for col, name in enumerate(head[1:], start=2):
        cell = ws.cell(row=2, column=col)
        assert isinstance(cell.value, (int, float)) and cell.value > 1e9, (name, cell.value)
        assert cell.number_format == "0.00E+00", (name, cell.number_format)


def test_names_inside_planners_columns_never_set_their_format():
    """A job named a_usd_b read its time to train as dollars in the sweep's page; a pool named cost-x its slips."""
    assert fmt_cell("job a_usd_b: time_to_train_days_p50", 30.5) == "30.5"
    assert fmt_cell("job a_usd_b: finish_probability", 1.0) == "100.0 %"
    assert fmt_cell("job cost: cost_usd", 2500.0) == "$2,500"
    import pandas as pd

    assert _column_format("cost-x.d0.slip_days", pd.Series([3.5])) == "num1"
    assert _column_format("x_date.d0.shortfall", pd.Series([0.1])) == "pct"


def test_a_signal_in_the_swap_leaves_the_previous_report_in_place(tmp_path: Path, monkeypatch):
    """A KeyboardInterrupt (what SIGTERM raises) between the swap's renames leaves the previous report in place.

    It was hidden as .old-, and the next run's clean-up deleted it. It is put back, and the new one is discarded.
    """
    out = tmp_path / "rep"
    ownership.write_folder(out, "report", ["a.txt"], lambda d: (d / "a.txt").write_text("first"))
    real = ownership.owned_by

    def interrupted(path, token):
        if ".old-" in Path(path).name:
            raise KeyboardInterrupt
        return real(path, token)

    monkeypatch.setattr(ownership, "owned_by", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ownership.write_folder(out, "report", ["a.txt"], lambda d: (d / "a.txt").write_text("second"))
    assert (out / "a.txt").read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["rep"]


def test_a_refusal_says_where_the_results_went_before_anything_long(cli, make_scenario, tmp_path: Path, monkeypatch):
    """Five files of 170-character names in the --out folder: the message says where the results went.

    It was cut before it said so.
    """
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    user = tmp_path / "userdir"
    user.mkdir()
    for i in range(5):
        (user / (f"{i}" + "x" * 170 + ".docx")).write_text("mine")
    r = cli("run", make_scenario(reliability={"enabled": False}), "--out", user)
    line = one_error_line(r)
    assert "the results were written to " in line
    spare = Path(line.split("the results were written to ")[1].split(" instead")[0])
    assert (spare / "summary.json").is_file()
    assert len(list(user.iterdir())) == 5  # the user's files are untouched


def test_a_name_of_four_byte_characters_is_a_valid_out(cli, make_scenario, tmp_path: Path):
    """62 emoji (248 bytes) is a name mkdir takes: its temporary sibling was too long, and the run was refused."""
    out = tmp_path / ("\N{GRINNING FACE}" * 62)
    r = cli("run", make_scenario(reliability={"enabled": False}), "--out", out)
    assert r.exit_code == 0, r
    assert (out / "summary.json").is_file()


def test_a_full_standard_output_is_said_plainly(make_scenario, tmp_path: Path):
    """`> /dev/full`: the report is written, and the error was "unexpected OSError ... a defect of planner"."""
    from test_entrypoint import _script

    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    with open("/dev/full", "w") as full:
        r = subprocess.run([_script(), "run", str(make_scenario(reliability={"enabled": False})), "--out",
                            str(tmp_path / "r")], stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1] == "error: cannot write standard output: No space left on device"
    assert (tmp_path / "r" / "summary.json").is_file()


def test_a_checkpoint_write_that_never_ends_names_the_storage(cli, make_scenario):
    """A storage of 1e-300 GB/s named fleet[0].mtbf_chip_days and printed a write time of 300 digits."""
    line = one_error_line(cli("validate", make_scenario(reliability={"enabled": True, "storage_gbyteps": 1.0e-300})))
    assert "reliability.storage_gbyteps:" in line and "mtbf" not in line.split(":")[1]
    assert len(line) < 400, line


@pytest.mark.parametrize("bound", [{"min": 2}, {"max": -0.5}])
def test_a_share_check_no_run_can_pass_is_bad_input(cli, make_scenario, bound):
    """`finish_probability min: 2` failed every run (exit 1); it is a mistake in the file (exit 2)."""
    line = one_error_line(cli("validate", make_scenario(expect=[{"metric": "finish_probability", **bound}])))
    assert "expect[0]" in line and "share from 0 to 1" in line
