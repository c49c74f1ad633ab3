"""Issue 17, findings 4-7: text from a scenario never reaches a spreadsheet, a page or a terminal as something live.

4. spreadsheets: every CSV and XLSX text cell and header that starts like a formula is literal text (``'`` first),
   no workbook cell is a formula and no chart series name is a reference read from a pool's name;
5. pages: pool and scenario names shaped like HTML are escaped in report.html, in the Plotly figures (trace
   names, hover text, axis labels) and in sweep.html and sensitivity.html;
6. terminals: ESC, NUL, BEL and the other control characters of a scenario never reach stdout or stderr;
7. YAML: a string the loader would read as a number, a boolean, a date or null is written quoted, so every
   string survives a dump and a load unchanged.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from planner import escape
from planner.escape import FORMULA_PREFIXES

FORMULA_NAMES = ['=HYPERLINK("http://x")', "+1", "-1", "@SUM(A1)", "x!A1"]
HTML_NAMES = ["<a href=x>link</a>", "<img src=x>"]
LIVE_TAGS = ("<a href", "<img", "\\u003ca href", "\\u003cimg")  # raw, and as Plotly's JSON writes them
# what may never reach a terminal (tab and newline aside): C0, DEL, C1, and Unicode's bidirectional controls and line
# and paragraph separators (Trojan Source, CVE-2021-42574)
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
HOSTILE_NAME = "evil\x1b]0;pwned\x07\x1b[2K\x00\x9b31m-name"


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def live_formula(value) -> bool:
    """A text a spreadsheet would read as a formula (a negative number is a number, not a formula)."""
    return isinstance(value, str) and value.startswith(FORMULA_PREFIXES) and not _number(value)


def _csv_fields(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def _spreadsheet_pools() -> list[dict]:
    """Five small pools named like formulas, each with a risky delivery (so replications.csv has draw columns)."""
    return [{"name": name, "chip": "h100-sxm", "site": "@site", "units": 0,
             "deliveries": [{"date": "2025-01-05", "units": 32}],
             "delivery_risk": {"slip_days": {"dist": "uniform", "low": 0, "high": 4}}}
            for name in FORMULA_NAMES]


# ---------------------------------------------------------------- 4. spreadsheets


def test_formula_pool_names_stay_text_in_every_csv_and_xlsx_cell_and_header(cli, make_scenario, tmp_path):
    path = make_scenario(name='=HYPERLINK("http://x")', fleet=_spreadsheet_pools(),
                         reliability={"enabled": True}, simulation={"seed": 5, "replications": 3})
    out = tmp_path / "out"
    r = cli("run", path, "--out", out)
    assert r.exit_code in (0, 1), r
    for name in ("schedule.csv", "events.csv", "replications.csv"):
        rows = _csv_fields(out / name)
        live = [v for row in rows for v in row if live_formula(v)]
        assert not live, (name, live[:5])
    header = _csv_fields(out / "replications.csv")[0]
    for name in FORMULA_NAMES[:4]:  # the draw columns carry the pool's name, escaped
        assert escape.cell(f"{name}.d0.slip_days") in header, header
    pools = {row[2] for row in _csv_fields(out / "schedule.csv")[1:]}
    assert {escape.cell(n) for n in FORMULA_NAMES} <= pools

    book = load_workbook(out / "report.xlsx")
    seen = set()
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", (ws.title, c.coordinate, c.value)
                assert not live_formula(c.value), (ws.title, c.coordinate, c.value)
                seen.add(c.value)
    assert escape.cell("-1.d0.slip_days") in seen and escape.cell('=HYPERLINK("http://x")') in seen

    # chart series names: a reference to the header cell of the chart's own data sheet, never one read from a name
    with zipfile.ZipFile(out / "report.xlsx") as z:
        charts = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/charts/chart")]
    assert charts
    refs = [f for xml in charts for tx in re.findall(r"<c:tx>(.*?)</c:tx>", xml, re.S)
            for f in re.findall(r"<c:f>(.*?)</c:f>", tx)]
    assert refs, "the series are named by their header cells"
    for ref in refs:
        m = re.fullmatch(r"(capacity|interruptions_weekly)!\$([A-Z]+)\$1", ref)
        assert m, ref
        assert not live_formula(book[m.group(1)][f"{m.group(2)}1"].value)
    capacity_names = {c.value for c in book["capacity"][1]}
    assert {escape.cell(n) for n in FORMULA_NAMES} <= capacity_names


def test_sweep_and_sensitivity_tables_stay_text(tmp_path):
    from planner.decide.sensitivity import write_sensitivity_csv
    from planner.decide.sweep import write_sweep

    table = pd.DataFrame({"point": [0, 1, 2], "fleet[0].name": ["=1+1", "@SUM(A1)", "-x"],
                          "mode": ["+x", "single", "-"], "time_to_train_days_p50": [1.5, -2.0, None]})
    write_sweep(table, [("fleet[0].name", ["=1+1", "@SUM(A1)", "-x"])], tmp_path / "sweep", "=title")
    rows = _csv_fields(tmp_path / "sweep" / "sweep.csv")
    assert not [v for row in rows for v in row if live_formula(v)], rows
    assert rows[1][1] == "'=1+1" and rows[2][1] == "'@SUM(A1)"

    sens = pd.DataFrame({"input": ["delivery slip", "@pool price"], "low": ["-30 d", "x0.75"],
                         "high": ["+90 d", "x1.25"]})
    write_sensitivity_csv(sens, tmp_path / "sensitivity.csv")
    rows = _csv_fields(tmp_path / "sensitivity.csv")
    assert not [v for row in rows for v in row if live_formula(v)], rows
    assert rows[1][1:] == ["'-30 d", "'+90 d"]


# ---------------------------------------------------------------- 5. pages and Plotly figures


def _strings(node):
    """Every string of a JSON-like structure (a Plotly figure's dict)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(node, (list, tuple)):
        for v in node:
            yield from _strings(v)
    elif hasattr(node, "tolist"):
        yield from _strings(node.tolist())


@pytest.fixture(scope="module")
def html_run(module_scenarios):
    from planner import api

    s = module_scenarios.scenario(
        name="<a href=x>scenario</a>", description="<img src=x>",
        fleet=[{"name": HTML_NAMES[0], "chip": "h100-sxm", "units": 64, "site": "<b>site</b>"},
               {"name": HTML_NAMES[1], "chip": "h100-sxm", "units": 0, "site": "<i>two</i>",
                "cloud": {"units": 64, "from": "2025-01-10", "until": "2025-03-01"}}],
        links=[{"sites": ["<b>site</b>", "<i>two</i>"], "gbps": 100, "latency_ms": 10}],
        strategy={"mode": "sync"}, reliability={"enabled": True}, simulation={"seed": 3, "replications": 3})
    return api.simulate(s)


def test_html_pool_names_are_escaped_in_the_report_page_and_its_figures(html_run):
    from planner.report import charts
    from planner.report.html import render_html

    page = _without_plotlyjs(render_html(html_run))
    for tag in LIVE_TAGS:
        assert tag not in page, tag
    assert escape.html("<a href=x>scenario</a>") in page
    shown = []
    for key, fig in charts.result_figures(html_run).items():
        strings = list(_strings(fig.to_plotly_json()))
        live = [s for s in strings if "<a href" in s or "<img" in s or "<b>site" in s or "<i>two" in s]
        assert not live, (key, live[:3])
        shown += strings
    text = " ".join(shown)
    for name in HTML_NAMES:  # named in the legends, escaped
        assert escape.html(name) in text, name


def test_a_quote_in_a_name_reads_as_a_quote_in_the_charts():
    """A double quote is escaped as ``&#34;``, which a browser reads as ``&quot;``.

    Plotly decodes numeric entities but not ``&quot;`` (app review: a pool named 'rack "A"' read 'rack &quot;A&quot;'
    in every legend).
    """
    import html as std_html
    import re

    from planner.report import charts

    shown = escape.html('rack "A" (Bob\'s) <b>')
    assert "&quot;" not in shown and std_html.unescape(shown) == 'rack "A" (Bob\'s) <b>'
    # every entity it writes is one Plotly decodes: numeric, or amp / lt / gt (plotly.js svg_text_utils)
    assert set(re.findall(r"&([a-z]+);", shown)) <= {"amp", "lt", "gt"}
    assert "&quot;" not in str(charts.new_figure().add_bar(x=[shown], y=[1], name=shown).to_plotly_json())


def test_sweep_and_sensitivity_pages_escape_names(tmp_path):
    from planner.decide.sensitivity import tornado_html
    from planner.decide.sweep import sweep_html

    table = pd.DataFrame({"point": [0, 1], "fleet[0].name": HTML_NAMES, "time_to_train_days_p50": [1.0, 2.0],
                          "cost_usd_p50": [3.0, 4.0]})
    page = _without_plotlyjs(sweep_html(table, [("fleet[0].name", HTML_NAMES)], "<img src=x>: sweep"))
    for tag in LIVE_TAGS:
        assert tag not in page, tag
    assert "&lt;img src=x&gt;: sweep" in page
    sens = pd.DataFrame({"input": ["<img src=x>", "price"], "low": ["<a href=x>", "x0.75"], "high": ["a", "b"],
                         **{f"{m}_{k}": [1.0, 2.0] for m in ("time_to_train_days_p50", "cost_usd_p50")
                            for k in ("base", "low", "high", "swing")}})
    page = _without_plotlyjs(tornado_html(sens, "<a href=x>: sensitivity"))
    for tag in LIVE_TAGS:
        assert tag not in page, tag


# ---------------------------------------------------------------- 6. terminals


def _without_plotlyjs(page: str) -> str:
    """The page without the plotly.js library it embeds (whose own code holds ``<a href`` and ``<img``)."""
    import plotly.offline

    library = plotly.offline.get_plotlyjs()
    assert library in page
    return page.replace(library, "")


def _clean(r) -> None:
    found = CONTROL.findall(r.stdout + r.stderr)
    assert not found, (found, r)


def test_control_characters_never_reach_the_terminal(cli, make_scenario, tmp_path):
    path = make_scenario(name=HOSTILE_NAME, fleet=[{"name": "p\x1b[2J\x00\x07\u202egpj.exe\u2066", "chip": "h100-sxm",
                                                    "units": 64,
                                                    "site": "s\x1b]8;;http://x\x1b\\"}],
                         simulation={"seed": 3, "replications": 2})
    r = cli("validate", path)
    assert r.exit_code == 0 and "\ufffd" in r.stdout, r
    _clean(r)
    r = cli("estimate", path)
    assert r.exit_code == 0 and "\ufffd" in r.stdout, r
    _clean(r)
    r = cli("run", path, "--out", tmp_path / "out")
    assert r.exit_code == 0 and "\ufffd" in r.stdout, r
    _clean(r)
    r = cli("compare", path)
    assert r.exit_code == 0, r
    _clean(r)


def _file_texts(folder: Path) -> dict[str, str]:
    """Each report file's text as a reader sees it: CSV and HTML (without plotly.js), the XLSX's XML parts."""
    import plotly.offline

    library = plotly.offline.get_plotlyjs()  # (its own code holds control characters in string literals)
    out = {}
    for f in sorted(folder.iterdir()):
        if f.suffix in (".csv", ".html"):
            out[f.name] = f.read_text(encoding="utf-8").replace(library, "")
        elif f.suffix == ".xlsx":
            with zipfile.ZipFile(f) as z:
                out[f.name] = "".join(z.read(n).decode("utf-8") for n in z.namelist() if n.endswith(".xml"))
    return out


def test_control_characters_never_reach_report_files(cli, make_scenario, tmp_path):
    """ESC sequences, BEL and bidirectional overrides in names: inert in every CSV, page and workbook.

    ``cat events.csv`` set the terminal's title and colour, and U+202E reordered the name in Excel and the
    browser; the terminal path already replaced them. summary.json keeps the text as written (JSON escapes C0).
    """
    pool = "p\x1b]0;PWNED\x07\x1b[31mred\u202egpj.exe"
    path = make_scenario(name="b\x1b]8;;http://evil\x1b\\click\x1b]8;;\x1b\\",
                         fleet=[{"name": pool, "chip": "h100-sxm", "units": 64, "site": "s\u2066x"}],
                         simulation={"seed": 3, "replications": 2})
    outputs = {"run": ("run", path, "--out", tmp_path / "run"),
               "sweep": ("sweep", path, "--set", "fleet[0].units=32,64", "--out", tmp_path / "sweep"),
               "sensitivity": ("sensitivity", path, "--out", tmp_path / "sensitivity")}
    for name, args in outputs.items():
        r = cli(*args)
        assert r.exit_code == 0, r
        texts = _file_texts(tmp_path / name)
        assert texts, name
        for file, text in texts.items():
            assert not CONTROL.search(text), (name, file, CONTROL.findall(text)[:5])
    assert "p\ufffd]0;PWNED\ufffd\ufffd[31mred\ufffdgpj.exe" in _file_texts(tmp_path / "run")["events.csv"]
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["costs"]["pools"][0]["pool"] == pool


def test_error_lines_carry_no_control_characters(cli, make_scenario):
    # the error line names the file (here with an ESC sequence and a BEL in its name) and the unknown key
    bad = make_scenario.data(name=HOSTILE_NAME)
    bad["k\x1b]0;t\x07\x00ey"] = 1
    path = make_scenario.text(json.dumps(bad), "bad\x1b]0;title\x07\x1b[2K.json")
    for args in (("validate", path), ("estimate", path), ("run", path, "--out", path.parent / "out")):
        r = cli(*args)
        assert r.exit_code == 2, r
        assert "\ufffd" in r.stderr and "unknown key" in r.stderr, r
        _clean(r)
        assert len(r.stderr.splitlines()) == 1
    from planner.errors import ScenarioError

    msg = str(ScenarioError("bad\x00value\x1b[2K", path="f\x07.yaml", field="a\tb"))
    assert not CONTROL.search(msg) and "\t" not in msg


def test_escape_terminal_keeps_plain_text():
    assert escape.terminal("plain name, 名前 - ok") == "plain name, 名前 - ok"
    assert escape.terminal("a\x1b[2Kb\x00\x07\x9b") == "a\ufffd[2Kb\ufffd\ufffd\ufffd"
    assert escape.terminal("a\tb\nc", one_line=True) == "a\ufffdb\ufffdc"
    # bidirectional overrides and isolates (Trojan Source) and the Unicode line separators
    assert escape.terminal("x\u202egnp.exe\u202c \u2067y\u2069 \u200f\u061c", one_line=True) == \
        "x\ufffdgnp.exe\ufffd \ufffdy\ufffd \ufffd\ufffd"
    assert escape.terminal("a\u2028b\u2029c") == "a\ufffdb\ufffdc"


# ---------------------------------------------------------------- 7. YAML


NUMBER_LIKE = ["1e5", "0o17", "0x1F", "1_000", ".5", "true", "null", "2025-01-01", "15.6e12", "-1", "+1", "1.0",
               "False", "TRUE", "~", "", ".inf", "-.inf", ".nan", "0b101", "017", "1e-5", "=", "<<", "2025-01-01 10:00",
               "yes", "no", "on", "off", "17:04", "0.", "-0", "1__0", " 1", "1 ", "#x", "- x", "'q'", '"q"', "a: b"]


@pytest.mark.parametrize("text", NUMBER_LIKE)
def test_number_like_strings_survive_a_yaml_round_trip(text):
    from planner.yamlio import dump, safe_load

    data = {"name": text, "fleet": [{"name": text, "site": text}], text or "k": [text]}
    assert safe_load(dump(data)) == data


def test_a_scenario_with_number_like_names_survives_to_yaml(make_scenario):
    from planner.whatif import from_yaml, to_yaml

    names = [n for n in NUMBER_LIKE if n.strip() and n == n.strip()][:20]
    s = make_scenario.scenario(name="1e5", description="0o17",
                               fleet=[{"name": n, "chip": "h100-sxm", "units": 8, "site": "2025-01-01"}
                                      for n in names])
    back = from_yaml(to_yaml(s))
    assert back.name == "1e5" and back.description == "0o17"
    assert [p.name for p in back.fleet] == names
    assert {p.site for p in back.fleet} == {"2025-01-01"}


@settings(max_examples=300, deadline=None)
@given(st.text(), st.lists(st.text(max_size=20), max_size=4))
def test_every_string_survives_a_yaml_round_trip(text, more):
    from planner.yamlio import dump, safe_load

    data = {"name": text, "values": more, "nested": {"x": text}}
    assert safe_load(dump(data)) == data


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("0123456789._-+eExXoObB:TtFfNnulrs ~")), max_size=12))
def test_number_shaped_strings_survive_a_yaml_round_trip(text):
    from planner.yamlio import dump, safe_load

    assert safe_load(dump({"name": text})) == {"name": text}
    assert safe_load(dump([text])) == [text]


def test_dump_writes_numbers_and_dates_as_the_loader_reads_them():
    import datetime as dt

    from planner.yamlio import dump, safe_load

    data = {"a": 1, "b": 1.5, "c": 15.6e12, "d": True, "e": None, "f": dt.date(2025, 1, 1), "g": -2, "h": 1e-5}
    text = dump(data)
    assert safe_load(text) == data
    assert "'" not in text and "!!" not in text  # plain, not tagged
    assert io.StringIO(text).readline() == "a: 1\n"


@pytest.mark.parametrize(("where", "field"), [("pool", "fleet[1].name"), ("site", "fleet[1].site"),
                                              ("job", "jobs[1].name")])
@pytest.mark.parametrize("twin", ["p1\u200b", "p\u00ad1", "\ufeffp1", "ｐ1"])
def test_names_that_look_the_same_are_refused(cli, make_scenario, where, field, twin):
    """Pools, sites or jobs named 'p1' and 'p1' + a zero-width space print the same in every table: refused."""
    fleet = [{"name": "p1", "chip": "h100-sxm", "units": 64, "site": "p1"},
             {"name": "p2", "chip": "h100-sxm", "units": 64, "site": "p1"}]
    extra = {}
    if where == "pool":
        fleet[1]["name"] = twin
    elif where == "site":
        fleet[1]["site"] = twin
    else:
        work = {"model": "llama3-8b", "tokens": 1e11, "seq_len": 4096}
        extra = {"workload": None, "jobs": [{"name": "p1", "workload": work}, {"name": twin, "workload": work}]}
    r = cli("validate", make_scenario(fleet=fleet, **extra))
    assert r.exit_code == 2 and f"{field}: " in r.stderr and "looks the same as 'p1'" in r.stderr, r
    _clean(r)


def test_a_portfolio_compare_s_cost_caption_shows_job_names_inert(cli, make_scenario):
    """`planner compare` on a portfolio with a job picking by cost: the caption named the job as console markup.

    An OSC title, a screen clear and a `[link=...]` hyperlink reached the terminal live (every other caption, title
    and row went through the same escaping).
    """
    evil = "\u001b]0;PWNED\u0007\u001b[2J[link=https://evil.example]J1[/link][blink]"
    wl = {"model": "llama3-8b", "tokens": 1.0e11, "seq_len": 4096}
    path = make_scenario.text(json.dumps({
        "name": "caption", "simulation": {"seed": 1, "replications": 1},
        "jobs": [{"name": evil, "workload": wl, "strategy": {"mode": "auto", "objective": "cost"}},
                 {"name": "j2", "workload": wl, "priority": 2}],
        "fleet": [{"name": "a", "chip": "h100-sxm", "site": "s1", "units": 256},
                  {"name": "b", "chip": "h100-sxm", "site": "s2", "units": 256}],
        "links": [{"sites": ["s1", "s2"], "gbps": 100, "latency_ms": 10}]}), "caption.json")
    r = cli("compare", path)
    assert r.exit_code == 0, r.stderr
    assert "\u001b" not in r.stdout and "\u0007" not in r.stdout
    assert "[link=https://evil.example]J1[/link]" in r.stdout.replace("\n", "")  # shown as typed


def test_a_line_of_equals_signs_never_makes_a_heading():
    """A setext heading (a line of `=` under text) came through scenario text inside Markdown."""
    from planner import escape

    assert escape.markdown("Approved by the CFO\n=====") == "Approved by the CFO\n\\=\\=\\=\\=\\="
