"""Findings of the read of this round's own change: what it missed next to what it fixed."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import openpyxl
import pytest

from planner.decide import sensitivity
from planner.loader import from_dict

UNPRICED = dict(
    name="np", start="2025-01-01", horizon_days=100,
    workload={"model": "llama3-8b", "tokens": 1.0e11, "seq_len": 8192},
    fleet=[{"name": "rent", "chip": "h100-sxm", "site": "a",
            "cloud": {"units": 256, "from": "2025-01-01", "until": "2025-03-01"}}],
    reliability={"enabled": False},
)


def test_the_price_swing_leaves_a_rental_with_no_stated_price_unpriced():
    """The swing wrote price x 0 = a stated 0: its rows read "$0", the pool free, where the others read "≥ $0"."""
    s = from_dict(UNPRICED)
    price = next(i for i in sensitivity.inputs(s) if i.name == "price")
    for side in (price.low, price.high):
        assert "price_per_chip_hour_usd" not in side.fleet[0].cloud.model_fields_set


def test_a_rental_with_no_stated_price_is_never_shown_as_zero_dollars(cli, make_scenario, tmp_path: Path):
    r = cli("run", make_scenario(**UNPRICED), "--out", tmp_path / "r")
    assert r.exit_code == 0, r
    events = (tmp_path / "r" / "events.csv").read_text()
    page = (tmp_path / "r" / "report.html").read_text()
    assert "rented at no stated price" in events and "$0.00/chip-h" not in events
    assert "no stated price" in page and "$0.00/chip-h" not in page


def test_mfu_counted_per_job_and_in_the_workbook(cli, make_scenario, tmp_path: Path):
    """`counted` was computed per job but not written; the workbook's MFU row did not say of how many."""
    w = {"model": "llama3-8b", "seq_len": 8192, "global_batch_tokens": 4.0e6}
    doc = dict(start="2024-03-01", horizon_days=135, workload=None,
               fleet=[{"name": "own", "chip": "h100-sxm", "units": 0, "commissioning_days": 21,
                       "deliveries": [{"date": "2024-06-01", "units": 1024}],
                       "delivery_risk": {"slip_days": {"dist": "uniform", "low": 0, "high": 120}}}],
               jobs=[{"name": "a", "priority": 1, "workload": {**w, "tokens": 2.0e11}},
                     {"name": "b", "priority": 2, "workload": {**w, "tokens": 1.0e11}}],
               reliability={"enabled": False})
    r = cli("run", make_scenario(**doc), "--out", tmp_path / "r", "--replications", "12")
    assert r.exit_code == 0, r
    s = json.loads((tmp_path / "r" / "summary.json").read_text())
    job = next(j for j in s["jobs"] if j["name"] == "a")
    assert 0 < job["counted"]["mfu"] < 12, job.get("counted")
    ws = openpyxl.load_workbook(tmp_path / "r" / "report.xlsx")["summary"]
    labels = [row[0] for row in ws.iter_rows(values_only=True) if isinstance(row[0], str)]
    assert any(x.startswith("MFU [share] (of the ") and "of 12 replications that trained" in x for x in labels)


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["run", "--help"]])
def test_help_to_a_full_standard_output_is_said_plainly(args):
    """`planner --help > /dev/full` printed a traceback: help runs outside the commands' guard."""
    from test_entrypoint import _script

    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    with open("/dev/full", "w") as full:
        r = subprocess.run([_script(), *args], stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1] == "error: cannot write standard output: No space left on device"
