"""Fuzz cases for the `planner` command line, and a runner that gives each case its own process under limits.

A case is a scenario file (a random mutation of a shipped scenario, or malformed YAML) and one command:
``validate``, ``estimate`` or ``run --replications 1``. ``run_cases`` starts one runner process (this file as a
script) under ``RLIMIT_AS``; the runner loads the console script's entry point (``planner = planner.cli:main``
from the package metadata), imports the heavy libraries once, then forks one child per case. Each child has the
address-space limit, an alarm after ``TIME_LIMIT_S`` and its own folder, stdout and stderr files, and calls the
entry point exactly as the console script does. The parent records the exit code, the seconds and the child's
peak resident memory (``ru_maxrss`` from ``wait4``).

``problems`` says what a finished case did wrong: an exit code outside {0, 1, 2, 3}, a traceback, a library
warning, an error message over ``MAX_MESSAGE_BYTES`` or not one line, a half-written report folder or a
temporary folder left, a control character on stdout or stderr, and in a report: a CSV or XLSX cell or header
a spreadsheet would read as a formula, a chart series named by a reference, or a live tag from a name in
report.html (issue 17). One data case in four gives the scenario, its pools and sites hostile names
(``HOSTILE_NAMES``: control characters, Markdown, HTML, formula prefixes) and changes nothing else.

Used by tests/test_hardening_fuzz.py (a few dozen cases) and benchmarks/fuzz.py (hundreds).
"""

from __future__ import annotations

import copy
import json
import os
import random
import re
import resource
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))
MEMORY_LIMIT_BYTES = 2 * 1024**3  # RLIMIT_AS of the runner and of every case
TIME_LIMIT_S = 60  # per case: a hang detector, not a speed target (a `run` case: ~2 s alone, 12 s when busy)
MAX_MESSAGE_BYTES = 2_000
RUN_HORIZON_DAYS = 120  # `run` cases start from the shipped scenario cut to this horizon (the suite stays fast)
REPORT_FILES = ("summary.json", "schedule.csv", "events.csv", "replications.csv", "cashflow.csv", "report.html",
                "report.xlsx")
COMMANDS = ("validate", "estimate", "run")


@dataclass
class Case:
    """One scenario file and the command it is given to."""

    name: str
    command: str
    filename: str
    data: str  # the file's bytes, latin-1 decoded (so any byte survives JSON)
    origin: str  # which shipped file and which mutation

    def argv(self) -> list[str]:
        """The command line after ``planner``."""
        extra = {"estimate": ["--json"], "run": ["--replications", "1", "--out", "out"]}.get(self.command, [])
        return [self.command, self.filename, *extra]


@dataclass
class Outcome:
    """What one case did: exit code (None when killed), the signal that ended it, seconds, peak memory, output."""

    name: str
    exit_code: int | None
    signal: int | None
    seconds: float
    maxrss_kib: int
    stdout: str
    stderr: str


# ---------------------------------------------------------------- mutations

ODD_VALUES = [0, -1, 1e308, -1e-308, float("nan"), float("inf"), "", "[/x]", "=1+1", "x" * 500, None, [], {}, True,
              2**70, "2025-02-30", 1e-9, 10**6, "名前", [1, 2], {"a": 1}, "9999-12-31", "17:04", "yes", "@SUM(A1)",
              "\x1b]0;title\x07", "a\x00b", "<img src=x>", "**b** [l](http://x)", "+1", "-x"]
# names a scenario may give its plan, pools and sites: every output must show them as inert text
HOSTILE_NAMES = ['=HYPERLINK("http://x")', "+1", "-1", "@SUM(A1)", "x!A1", "\tcmd", "<a href=x>a</a>",
                 "<img src=x onerror=alert(1)>", "**bold** [link](http://x) `code` # h", "[red]markup[/red]",
                 "\x1b]0;title\x07", "\x1b[2K\x1b[1A", "nul\x00bel\x07", "\x9b31m c1", "del\x7f", "&amp; &lt;",
                 "'quoted'", "名前 <b>", "rlo\u202egpj.exe", "iso\u2067late\u2069 \u2028sep"]
LIVE_MARKUP = ("<a href=x", "<img src=x", "\\u003ca href=x", "\\u003cimg src=x", "<b>")  # raw, and in Plotly JSON
# C0, DEL, C1, and Unicode's bidirectional controls and line and paragraph separators (Trojan Source)
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
HOSTILE_SNIPPETS = ["[", "]", "{", "}", ":", ": ", "&a ", "*a", "*zz", "!!", "!!int ", "!!float ", "!!binary ",
                    "!!python/object/apply:os.system ['echo pwned']", "\t", "\x00", "'", '"', "- ", "? ", "%YAML 1.1\n",
                    "---\n", "...\n", "\\", "#", "|", ">", "\ufeff", "\x85", "\u2028", "0x", "0o", "1e999", ".nan",
                    "<<: *a\n", "\n  " * 3, "é", "\xff\xfe"]


def _paths(node, trail=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield (*trail, k)
            yield from _paths(v, (*trail, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield (*trail, i)
            yield from _paths(v, (*trail, i))


def mutate_data(rng: random.Random, data: dict) -> tuple[dict, str]:
    """One or two random changes to a scenario mapping; returns the mapping and what was changed.

    Half the changes scale a number (by 1e-9 ... 1e9: storms, huge fleets, tiny horizons), so many cases stay
    valid and reach the simulation; the others drop a key, add one, repeat a list item or put an odd value.
    """
    d = copy.deepcopy(data)
    done = []
    for _ in range(rng.choice((1, 1, 1, 2))):
        paths = list(_paths(d))
        numbers = [t for t in paths if _is_number(_get(d, t))]
        trail = rng.choice(numbers if numbers and rng.random() < 0.5 else paths)
        parent = _get(d, trail[:-1])
        key = trail[-1]
        value = parent[key]
        where = ".".join(map(str, trail))
        roll = rng.random()
        if _is_number(value) and roll < 0.7:
            factor = rng.choice([0.5, 2, 10, 0.1, 1e3, 1e-3, 1e6, 1e-6, 1e9, 1e-9, 0])
            parent[key] = value * factor if isinstance(value, float) or factor < 1 else int(value * factor)
            done.append(f"{where} x{factor:g}")
        elif roll < 0.15 and isinstance(parent, dict):
            del parent[key]
            done.append(f"del {where}")
        elif roll < 0.2 and isinstance(parent, dict):
            parent[rng.choice(["bogus", "units", "tp", "date", "=x", "名"])] = rng.choice(ODD_VALUES)
            done.append(f"add key next to {where}")
        elif roll < 0.3 and isinstance(parent, list):
            parent.append(copy.deepcopy(value))
            done.append(f"repeat {where}")
        else:
            parent[key] = rng.choice(ODD_VALUES)
            done.append(f"{where} = {parent[key]!r:.20}")
    return d, "; ".join(done)


def hostile_names(rng: random.Random, data: dict) -> tuple[dict, str]:
    """The plan, its pools and its sites renamed with ``HOSTILE_NAMES`` (each name replaced everywhere it is used)."""
    d = copy.deepcopy(data)
    new: dict[str, str] = {}
    fleet = d.get("fleet") if isinstance(d.get("fleet"), list) else []
    for k, pool in enumerate(p for p in fleet if isinstance(p, dict)):
        for key in ("name", "site"):
            old = pool.get(key)
            if isinstance(old, str) and old not in new:
                new[old] = f"{rng.choice(HOSTILE_NAMES)}{k}{key[0]}"

    def rename(node):
        if isinstance(node, dict):
            return {k: rename(v) for k, v in node.items()}
        if isinstance(node, list):
            return [rename(v) for v in node]
        return new.get(node, node) if isinstance(node, str) else node

    d = rename(d)
    d["name"] = rng.choice(HOSTILE_NAMES)
    d["description"] = rng.choice(HOSTILE_NAMES)
    return d, f"hostile names {d['name']!r:.20}"


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _get(node, trail):
    for k in trail:
        node = node[k]
    return node


def mutate_text(rng: random.Random, text: str) -> tuple[str, str]:
    """Malformed YAML from a shipped file's text: cut, insert hostile snippets, drop or shift lines."""
    roll = rng.random()
    if roll < 0.2:
        cut = rng.randrange(len(text) + 1)
        return text[:cut], f"cut at {cut}"
    if roll < 0.3:
        return "".join(chr(rng.randrange(256)) for _ in range(rng.randrange(1, 400))), "random bytes"
    lines = text.splitlines(keepends=True)
    done = []
    for _ in range(rng.randrange(1, 5)):
        i = rng.randrange(len(lines)) if lines else 0
        op = rng.random()
        if op < 0.5 or not lines:
            line = lines[i] if lines else ""
            at = rng.randrange(len(line) + 1)
            lines[i:i + 1] = [line[:at] + rng.choice(HOSTILE_SNIPPETS) + line[at:]]
            done.append(f"insert at line {i + 1}")
        elif op < 0.7:
            del lines[i]
            done.append(f"drop line {i + 1}")
        elif op < 0.85:
            lines.insert(i, lines[i])
            done.append(f"duplicate line {i + 1}")
        else:
            lines[i] = (" " * rng.choice([1, 2, 3, 5])) + lines[i]
            done.append(f"indent line {i + 1}")
    return "".join(lines), "; ".join(done)


def make_cases(seed: int, n: int) -> list[Case]:
    """``n`` cases from one seed, the commands in turn.

    One in four is malformed YAML, one in four a valid file with hostile names, the others mutated data.
    """
    rng = random.Random(seed)
    shipped = [(p.name, p.read_text(encoding="utf-8")) for p in SHIPPED]
    out = []
    for i in range(n):
        command = COMMANDS[i % 3]
        source, text = rng.choice(shipped)
        if i % 4 == 3:
            body, how = mutate_text(rng, text)
            filename = "scenario.yaml"
        else:
            data = yaml.safe_load(text)
            if command == "run":
                data["horizon_days"] = min(data.get("horizon_days", 365), RUN_HORIZON_DAYS)
            # one case in four keeps the file valid but gives the plan, pools and sites hostile names
            data, how = hostile_names(rng, data) if i % 4 == 1 else mutate_data(rng, data)
            if rng.random() < 0.3:
                body, filename = json.dumps(data, default=str, allow_nan=True), "scenario.json"
            else:
                body, filename = yaml.safe_dump(data, sort_keys=False, allow_unicode=True), "scenario.yaml"
        raw = body.encode("utf-8", "surrogatepass") if not how == "random bytes" else body.encode("latin-1")
        out.append(Case(f"case{i:04d}", command, filename, raw.decode("latin-1"), f"{source}: {how}"))
    return out


# ---------------------------------------------------------------- running


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))


def run_cases(cases: list[Case], workdir: Path, timeout_s: float | None = None) -> list[Outcome]:
    """Run every case in its own process (see the module docstring) under ``workdir``; their outcomes in order."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "cases.json").write_text(json.dumps([asdict(c) for c in cases]), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "PYTHONHASHSEED": "0"}
    limit = timeout_s or (TIME_LIMIT_S + 2) * len(cases) + 60
    r = subprocess.run([sys.executable, str(Path(__file__).resolve()), str(workdir)], env=env,
                       preexec_fn=_limit_memory, timeout=limit, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"the fuzz runner failed ({r.returncode}): {r.stderr[-2000:]}")
    return [Outcome(**o) for o in json.loads((workdir / "outcomes.json").read_text(encoding="utf-8"))]


def _entry_point():
    from importlib.metadata import entry_points

    (ep,) = [e for e in entry_points(group="console_scripts") if e.name == "planner"]
    return ep.load()


def _child(case: Case, folder: Path, main) -> None:
    """In the forked child: the case's folder, files for stdout/stderr, limits, then the entry point."""
    os.chdir(folder)
    import tempfile

    spare = folder / "tmp"
    spare.mkdir()
    tempfile.tempdir = str(spare)  # a report that cannot be written where asked goes here
    out_fd = os.open("stdout.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    err_fd = os.open("stderr.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(out_fd, 1)
    os.dup2(err_fd, 2)
    _limit_memory()
    signal.alarm(TIME_LIMIT_S)
    sys.argv = ["planner", *case.argv()]
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - what escapes the entry point is what the console script would print
        import traceback

        traceback.print_exc()
        code = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


def _serve(workdir: Path) -> None:
    """The runner process: load the entry point once, then fork one child per case."""
    cases = [Case(**c) for c in json.loads((workdir / "cases.json").read_text(encoding="utf-8"))]
    main = _entry_point()
    import planner.api  # noqa: F401 - import what every command needs once, before forking
    import planner.report.html  # noqa: F401
    import planner.report.tables  # noqa: F401

    outcomes = []
    for case in cases:
        folder = workdir / case.name
        folder.mkdir()
        (folder / case.filename).write_bytes(case.data.encode("latin-1"))
        sys.stdout.flush()
        sys.stderr.flush()
        t0 = time.monotonic()
        pid = os.fork()
        if pid == 0:
            _child(case, folder, main)
        deadline = t0 + TIME_LIMIT_S + 5
        while True:
            done, status, usage = os.wait4(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                done, status, usage = os.wait4(pid, 0)
                break
            time.sleep(0.005)
        seconds = time.monotonic() - t0
        code = os.waitstatus_to_exitcode(status)
        text = {n: (folder / f"{n}.txt").read_bytes().decode("utf-8", "replace") for n in ("stdout", "stderr")}
        outcomes.append(asdict(Outcome(case.name, code if code >= 0 else None, -code if code < 0 else None,
                                       seconds, usage.ru_maxrss, text["stdout"], text["stderr"])))
    (workdir / "outcomes.json").write_text(json.dumps(outcomes), encoding="utf-8")


# ---------------------------------------------------------------- checking


def _complete_or_absent(folder: Path) -> str | None:
    if not folder.exists():
        return None
    names = {p.name for p in folder.iterdir()}
    return None if names == {*REPORT_FILES, ".planner-owned"} else f"{folder} is half-written: {sorted(names)}"


def problems(case: Case, o: Outcome, folder: Path) -> list[str]:
    """What the case did wrong (empty when it held)."""
    found = []
    if o.exit_code not in (0, 1, 2, 3):
        found.append(f"exit code {o.exit_code} (signal {o.signal}, {o.seconds:.1f} s)")
    if "Traceback" in o.stderr + o.stdout:
        found.append("a traceback")
    if re.search(r"\w+Warning\b", o.stderr):
        found.append(f"a library warning on stderr: {o.stderr[:200]!r}")
    if o.exit_code in (2, 3):
        size = len((o.stderr + o.stdout).encode())
        if size > MAX_MESSAGE_BYTES:
            found.append(f"an error message of {size:,} bytes")
        lines = [x for x in o.stderr.splitlines() if not x.startswith("note: ")]
        if len(lines) != 1 or not lines[0].startswith("error: "):
            found.append(f"not one error line: {o.stderr[:300]!r}")
    if case.command == "run":
        left = [p.name for p in folder.iterdir() if ".tmp-" in p.name or ".old-" in p.name]
        if left:
            found.append(f"temporary folders left: {left}")
        for f in [folder / "out", *sorted((folder / "tmp").glob("planner-report-*"))]:
            if (why := _complete_or_absent(f)) is not None:
                found.append(why)
        if o.exit_code in (2, 3) and (folder / "out").exists():
            found.append("an error, yet a report folder was written")
        if o.exit_code in (0, 1) and _complete_or_absent(folder / "out") is None and (folder / "out").exists():
            found += live_content(folder / "out")
    if _CONTROL.search(o.stdout + o.stderr):
        found.append(f"a control character on the terminal: {_CONTROL.findall(o.stdout + o.stderr)[:5]}")
    return found


def _formula(text: str) -> bool:
    if not text.startswith(_FORMULA):
        return False
    try:
        float(text)
    except ValueError:
        return True
    return False  # a negative number


def live_content(out: Path) -> list[str]:
    """What in a report folder a spreadsheet or a browser would run: formulas, references, tags from names."""
    import csv
    import zipfile

    import plotly.offline

    found = []
    for name in ("schedule.csv", "events.csv", "replications.csv"):
        with (out / name).open(newline="", encoding="utf-8") as f:
            live = [v for row in csv.reader(f) for v in row if _formula(v)]
        if live:
            found.append(f"{name}: cells read as formulas: {live[:3]}")
    with zipfile.ZipFile(out / "report.xlsx") as z:
        for n in z.namelist():
            xml = z.read(n).decode("utf-8", "replace")
            if n.startswith("xl/worksheets/") and "<f>" in xml:
                found.append(f"report.xlsx {n}: a formula cell")
            if n.startswith("xl/charts/"):
                refs = [f for tx in re.findall(r"<c:tx>(.*?)</c:tx>", xml, re.S)
                        for f in re.findall(r"<c:f>(.*?)</c:f>", tx)]
                bad = [f for f in refs if not re.fullmatch(r"(capacity|interruptions_weekly)!\$[A-Z]+\$1", f)]
                if bad:
                    found.append(f"report.xlsx {n}: series named by references {bad[:3]}")
        strings = z.read("xl/sharedStrings.xml").decode("utf-8", "replace") if "xl/sharedStrings.xml" in \
            z.namelist() else ""
        live = [t for t in re.findall(r"<t[^>]*>([^<]*)</t>", strings) if _formula(html_unescape(t))]
        if live:
            found.append(f"report.xlsx: text cells read as formulas: {live[:3]}")
    page = (out / "report.html").read_text(encoding="utf-8").replace(plotly.offline.get_plotlyjs(), "")
    tags = [t for t in LIVE_MARKUP if t in page]
    if tags:
        found.append(f"report.html: live markup from a name: {tags}")
    # control characters and bidirectional overrides from a name: live in a terminal (`cat`), a browser, Excel
    texts = {"report.html": page, **{f.name: f.read_text(encoding="utf-8") for f in sorted(out.glob("*.csv"))}}
    with zipfile.ZipFile(out / "report.xlsx") as z:
        texts["report.xlsx"] = "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist() if n.endswith(".xml"))
    for name, text in texts.items():
        if bad := _CONTROL.findall(text):
            found.append(f"{name}: control characters from a name: {bad[:5]}")
    return found


def html_unescape(text: str) -> str:
    import html

    return html.unescape(text)


if __name__ == "__main__":
    _serve(Path(sys.argv[1]))
