"""Tables on a narrow terminal: every figure whole, each row stacked as "column  value" lines if they do not fit."""

from __future__ import annotations

import io

import pytest
from conftest import ROOT
from rich.console import Console

from planner import cli as cli_module


def _render(table, width: int) -> str:
    buf = io.StringIO()
    Console(file=buf, width=width, color_system=None).print(table)
    return buf.getvalue()


def _figures_table():
    t = cli_module.Table(title="t")
    t.add_column("pool")
    t.add_column("layout")
    for name in ("units", "tokens/s", "P10-P90 tokens/s", "step s", "GiB/chip", "days"):
        t.add_column(name, justify="right")
    t.add_row("ascend-cn", "TP8 PP3x1 DP488 CP1 EP1 mb1 none Z1", "11,712", "1,133,842", "611,934-1,327,818",
              "3.53", "24.2", "81.7")
    t.add_row("azure-h100", "TP4 PP5x8 DP98 CP1 EP1 mb1 none Z1", "1,960", "1,644,229", "768,154-1,901,440",
              "2.43", "68.1", "56.3")
    return t


def test_a_table_too_wide_stacks_its_rows_with_every_figure_whole():
    """On 80 columns estimate's figures read "11,7…" and its layout folded over eight lines."""
    text = _render(_figures_table(), 80)
    assert "…" not in text
    for figure in ("11,712", "1,133,842", "611,934-1,327,818", "768,154-1,901,440",
                   "TP4 PP5x8 DP98 CP1 EP1 mb1 none Z1"):
        assert figure in text
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert any(line.split("│")[1].strip() == "P10-P90 tokens/s" for line in lines if line.count("│") == 3)


def test_a_table_that_fits_keeps_its_columns():
    text = _render(_figures_table(), 160)
    header = next(line for line in text.splitlines() if "pool" in line)
    assert all(name in header for name in ("layout", "units", "days"))  # one header row: the columns side by side


@pytest.mark.parametrize("width", [60, 80, 100])
def test_estimate_on_a_narrow_terminal_cuts_no_figure(cli, monkeypatch, width):
    monkeypatch.setattr(cli_module, "out", Console(width=width, color_system=None, file=io.StringIO()))
    r = cli("estimate", str(ROOT / "scenarios" / "mixed-two-sites.yaml"))
    assert r.exit_code == 0, r
    text = cli_module.out.file.getvalue()
    assert "…" not in text and "1,960" in text
    assert max(len(line) for line in text.splitlines()) <= width
