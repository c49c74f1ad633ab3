"""Fuzz `validate`, `estimate` and `run` with mutated shipped scenarios and malformed YAML.

Each case runs in its own process under a 2 GiB address-space limit and a 60 s alarm (tests/fuzzing.py;
benchmarks/fuzz.py runs hundreds).

Every case must exit 0, 1, 2 or 3, print no traceback, keep an error to one line of at most 2,000 bytes, and
leave either a complete report folder or none, with no temporary folder behind.
"""

from __future__ import annotations

import collections

import pytest
from fuzzing import COMMANDS, make_cases, problems, run_cases

CASES_PER_CHUNK = 18


@pytest.mark.parametrize("seed", [20261129, 9])
def test_fuzz_cases_hold_in_their_own_processes(tmp_path, seed):
    cases = make_cases(seed, CASES_PER_CHUNK)
    assert collections.Counter(c.command for c in cases) == {c: CASES_PER_CHUNK // 3 for c in COMMANDS}
    assert sum(c.origin.split(": ", 1)[1].startswith(("cut", "random", "insert", "drop", "duplicate", "indent"))
               for c in cases) == CASES_PER_CHUNK // 4  # one in four is malformed YAML
    outcomes = run_cases(cases, tmp_path)
    assert len(outcomes) == len(cases)
    bad = {c.name: (c.command, c.origin, found) for c, o in zip(cases, outcomes, strict=True)
           if (found := problems(c, o, tmp_path / c.name))}
    assert not bad, bad
    assert {o.exit_code for o in outcomes} & {0, 1}  # some cases are valid and get through


def test_the_fuzz_checks_can_fail(tmp_path):
    """A traceback, a long message and a half-written folder are each caught."""
    from fuzzing import Case, Outcome

    case = Case("c", "run", "s.yaml", "", "hand-made")
    folder = tmp_path / "c"
    (folder / "tmp").mkdir(parents=True)
    (folder / "out").mkdir()
    (folder / "out" / "summary.json").write_text("{}")
    (folder / ".out.tmp-1-x").mkdir()
    o = Outcome("c", 2, None, 0.1, 1, "", "error: x\n" + "Traceback (most recent call last)\n" + "y" * 3000)
    found = " | ".join(problems(case, o, folder))
    for what in ("a traceback", "bytes", "not one error line", "half-written", "temporary folders left",
                 "yet a report folder"):
        assert what in found
    assert problems(case, Outcome("c", None, 9, 25.0, 1, "", ""), folder)


def test_the_escaping_checks_can_fail(tmp_path):
    """The escaping checks catch what they look for (issue 17).

    A control character on the terminal, a formula in a CSV or XLSX cell, a series named by a reference and a
    live tag in report.html.
    """
    import plotly.offline
    import xlsxwriter
    from fuzzing import REPORT_FILES, Case, Outcome, live_content

    case = Case("c", "validate", "s.yaml", "", "hand-made")
    found = problems(case, Outcome("c", 0, None, 0.1, 1, "ok \x1b]0;title\x07", ""), tmp_path)
    assert any("control character" in p for p in found)
    out = tmp_path / "out"
    out.mkdir()
    for name in REPORT_FILES:
        (out / name).write_text("")
    (out / "schedule.csv").write_text("date,pool\n2025-01-01,-1.5\n")
    (out / "events.csv").write_text("=cmd,x\n")
    (out / "replications.csv").write_text("a\n@SUM(A1)\n")
    (out / "report.html").write_text(plotly.offline.get_plotlyjs() + '"name":"\\u003cimg src=x\\u003e"')
    book = xlsxwriter.Workbook(str(out / "report.xlsx"))
    sheet = book.add_worksheet("capacity")
    sheet.write_formula(0, 1, "=1+1")
    sheet.write_string(1, 1, "+text")
    chart = book.add_chart({"type": "line"})
    chart.add_series({"name": "x!A1", "values": ["capacity", 1, 1, 2, 1]})
    sheet.insert_chart("D2", chart)
    with pytest.warns(UserWarning, match="Unknown worksheet reference"):  # what the report's charts used to do
        book.close()
    found = " | ".join(live_content(out))
    for what in ("events.csv", "replications.csv", "a formula cell", "series named by references", "+text",
                 "report.html: live markup"):
        assert what in found, what
    assert "schedule.csv" not in found  # a negative number is a number
