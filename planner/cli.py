"""The `planner` command line. Exit codes: 0 ok, 1 a check failed, 2 bad input, 3 nothing fits (estimate, compare)."""

from __future__ import annotations

import contextlib
import functools
import importlib
import json
import logging
import math
import os
import re
import signal
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table as RichTable
from rich.text import Text
from typer._click import exceptions as click_exc  # typer vendors click: its exceptions live here
from typer.core import TyperGroup

from . import __version__
from .errors import MAX_LINE_BYTES, InfeasiblePlanError, PlannerError, ScenarioError, one_line
from .escape import terminal

if TYPE_CHECKING:  # loaded with the run it prints
    from .summary import Summary


class _OneLineGroup(TyperGroup):
    """Usage errors as one line (``error: No such option: --x (see planner run --help)``), exit 2."""

    def main(self, *args, standalone_mode: bool = True, **kwargs):  # noqa: D102
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except click_exc.NoArgsIsHelpError as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click_exc.ClickException as exc:
            hint = f" (see {exc.ctx.command_path} --help)" if getattr(exc, "ctx", None) else ""
            _say(f"error: {exc.format_message()}{hint}")
            sys.exit(exc.exit_code)
        except typer.Abort:
            sys.exit(130)
        sys.exit(code if isinstance(code, int) else 0)


class _GuardedTyper(typer.Typer):
    """A Typer whose every command runs under ``_guard``: one line on stderr and exit 2, never a traceback."""

    def command(self, *args, **kwargs):  # noqa: D102
        register = super().command(*args, **kwargs)
        return lambda fn: register(_guard(fn))


def _guard(fn):
    """Turn whatever escapes a command into one line on stderr and an exit code (PLANNER_DEBUG=1 re-raises)."""

    @functools.wraps(fn)
    def guarded(*args, **kwargs):
        if sys.stdout is None or sys.stdout.closed:
            _fail(PlannerError("standard output is closed; redirect it to a file or /dev/null instead"))
        try:
            with warnings.catch_warnings():  # library warnings (numpy, pandas) are not for the user's terminal
                warnings.simplefilter("ignore", RuntimeWarning)
                warnings.simplefilter("ignore", FutureWarning)
                warnings.simplefilter("ignore", DeprecationWarning)
                return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, click_exc.ClickException, KeyboardInterrupt, SystemExit):
            raise
        except PlannerError as exc:
            _fail(exc)
        except BrokenPipeError:
            _fail(PlannerError("standard output was closed while writing (broken pipe)"))
        except Exception as exc:  # the last boundary: a defect must not print a traceback at the user
            if isinstance(exc, OSError) and _stdout_fails():  # `> /dev/full`: the files are written, the terminal not
                _fail(PlannerError(f"cannot write standard output: {exc.strerror or exc}"))
            if os.environ.get("PLANNER_DEBUG"):
                raise
            _fail(PlannerError(f"unexpected {type(exc).__name__}: {exc}; this is a defect of planner, please "
                               "report it with the scenario (PLANNER_DEBUG=1 shows the traceback)"))

    return guarded


def _stdout_fails() -> bool:
    """Whether standard output cannot take what is written to it (a full disk, an I/O error).

    Asked after an OSError no part of planner handled: a line end written straight to it fails too (a failed write's
    buffer is dropped, so a flush alone would pass).
    """
    try:
        sys.stdout.flush()
        os.write(sys.stdout.fileno(), b"\n")
    except (OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return True
    return False


NATURAL_WIDTH_PROBE = 100_000  # characters: room enough that rich measures a cell's unwrapped width
PIPED_PROGRESS_EVERY_S = 5.0  # one progress line this often when stderr is not a terminal


class Table(RichTable):
    """A table whose text cells wrap at the terminal's width, not cut with "…": names, ids and layouts are copied.

    On 80 columns the chip ids of `catalog` read "asce…", compare's pools "rente…" (catalog ids are kept whole).
    """

    def add_column(self, *args, **kwargs) -> None:
        """A column of text whose long values fold onto more lines.

        A column of figures (right-justified) keeps rich's "…" where it must cut: a figure folded over two lines
        reads as two.
        """
        if kwargs.get("justify", "left") != "right":
            kwargs.setdefault("overflow", "fold")
        super().add_column(*args, **kwargs)

    def __rich_console__(self, console, options):  # noqa: D105
        if self._fits(console, options) or len(self.columns) < 3 or not self.row_count:
            yield from super().__rich_console__(console, options)
            return
        yield self._stacked()

    def _fits(self, console, options) -> bool:
        """Whether every figure shows whole with the text columns folded to their longest word.

        A figure column (right-justified) needs its widest cell; a header folds onto more lines.
        """
        wide = options.update_width(NATURAL_WIDTH_PROBE)
        need = self._extra_width
        for column in self.columns:
            head = Measurement.get(console, wide, column.header).minimum
            cells = [Measurement.get(console, wide, c) for c in column._cells]
            widest = max([c.maximum if column.justify == "right" else c.minimum for c in cells] + [head])
            need += widest + 2  # a cell's padding: one space either side
        return need <= options.max_width

    def _stacked(self) -> RichTable:
        """The same rows as one block of "column  value" lines each: a table too wide for the terminal.

        On 80 columns estimate's figures read "11,7…" and its layout folded into eight lines.
        """
        stacked = RichTable(title=self.title, caption=self.caption, show_header=False, title_style=self.title_style)
        stacked.add_column(style="bold", overflow="fold", no_wrap=False)
        stacked.add_column(overflow="fold")
        for row in range(self.row_count):
            for column in self.columns:
                stacked.add_row(column.header, column._cells[row])
            if row < self.row_count - 1:
                stacked.add_section()
        return stacked


app = _GuardedTyper(
    cls=_OneLineGroup,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Chip-supply-aware capacity planner for large-model training. Scenario files are YAML or JSON.",
)
catalog_app = _GuardedTyper(help="The built-in chip classes and model presets, with their sources.",
                            no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")

# wide tables when piped (CI logs), the terminal's width otherwise
out = Console(width=None if sys.stdout is not None and sys.stdout.isatty() else 200)
err = Console(stderr=True, width=None if sys.stderr is not None and sys.stderr.isatty() else 200)


# The contract's exit codes per command: only `estimate` and `compare` have one for "nothing fits" (3). For
# `run`, `sweep` and `sensitivity`, a scenario on which no layout fits anywhere is input they cannot run (2); for
# `solve`, no value in range can finish (1).
INFEASIBLE_RUN, INFEASIBLE_SOLVE = 2, 1


def _fail(exc: PlannerError, path: Path | None = None, infeasible: int | None = None) -> None:
    """One line on stderr and the exit code: the error's own, or ``infeasible`` for InfeasiblePlanError."""
    # user text (values, file paths) is printed literally, never read as console markup
    text = f"{exc}" if path is None or str(exc).startswith(str(path)) else f"{path}: {exc}"
    err.print(Text("error", style="bold red") + Text(f": {one_line(text, MAX_LINE_BYTES)}"), highlight=False,
              soft_wrap=True)
    code = infeasible if infeasible is not None and isinstance(exc, InfeasiblePlanError) else exc.exit_code
    raise typer.Exit(code)


def _say(line: str, limit_bytes: int = MAX_LINE_BYTES) -> None:
    """One line of user text on stderr: literal (never console markup), cut to ``limit_bytes``."""
    err.print(Text(one_line(line, limit_bytes)), highlight=False, soft_wrap=True)


# Text from a scenario (names, sites, messages that quote them) reaches the terminal only through these two or
# through one_line (``_fail``, ``_say``): control characters (ESC sequences that set the title or erase lines,
# NUL, BEL) are replaced by U+FFFD (planner.escape.terminal). ``terminal`` for lines printed with markup=False,
# ``_lit`` inside console markup (tables, titles), where ``[...]`` is escaped too.


def _lit(text) -> str:
    """Scenario text inside console markup: control characters (newlines too) replaced, markup escaped."""
    return escape(terminal(str(text), one_line=True))


def _load(path: Path):
    from .budget import check_work, notes
    from .loader import load_scenario

    try:
        s = load_scenario(path)
        check_work(s, str(path))  # bounded work: refuse what could never progress or would never end
        for note in notes(s):
            _say(f"note: {path}: {note}", 280)
        return s
    except ScenarioError as exc:
        _fail(exc)


def _warn_if_long(s, replications: int | None, points=None) -> None:
    """The note before a long run, or before the runs ``points`` of a sweep, a sensitivity or a goal seek."""
    from .budget import GB, LARGE_MEMORY_BYTES, LONG_RUN_S, describe, points_estimate, run_estimate
    from .sim.kernel import COMPILED

    if not COMPILED:  # a source tree that was never installed: the same numbers, several times slower
        _say("note: the engine's loop (planner/sim/kernel.py) is not compiled: `pip install -e .` compiles it")
    est = run_estimate(s, replications) if points is None else points_estimate(points, replications)
    if est.seconds > LONG_RUN_S:
        # the replications each point runs: --replications, else the points' own (an edit may set them)
        reps = replications or max((p.simulation.replications for p in points or [s]), default=1)
        err.print(Text(f"note: {describe(est, reps)}: this may take up to "
                       f"about {est.seconds / 60:,.0f} min on one core (a bound over the whole horizon; the progress "
                       "bar shows the real ETA)"), highlight=False, soft_wrap=True)
    elif est.memory_bytes >= LARGE_MEMORY_BYTES:  # a quick run may still need much memory: said on its own
        err.print(Text(f"note: up to about {est.memory_bytes / GB:,.1f} GB of layout tables per process (each worker "
                       "holds its own; --workers 1 holds one)"), highlight=False, soft_wrap=True)


def _cap_workers(workers: int | None, scheduler: str | None = None) -> int | None:
    """``--workers`` at most the machine's cores (more only adds processes and memory); one line when capped.

    Not capped with ``--scheduler``: the workers are then the cluster's, not this machine's.
    """
    cores = os.cpu_count() or 1
    if workers is None or scheduler is not None or workers <= cores:
        return workers
    _say(f"note: --workers {workers} is more than the {cores} core(s) of this machine; using {cores}")
    return cores


def _strict(obj):
    """``obj`` with non-finite floats as None (never NaN or Infinity, which strict JSON parsers refuse)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _strict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_strict(v) for v in obj]
    return obj


def _pct(x: float | None) -> str:
    """A share for a table cell; a dash when none was earned (a run that held no chip)."""
    return "-" if x is None else f"{x:.1%}"


def _dumps(obj) -> str:
    """Strict JSON for --json: a value that never came is null, as in summary.json."""
    return json.dumps(_strict(obj), indent=2, default=str, allow_nan=False)


@app.callback(invoke_without_command=True)
def _root(version: bool = typer.Option(False, "--version", help="Print the version and exit.")) -> None:
    if version:
        out.print(f"planner {__version__}")
        raise typer.Exit(0)


@app.command()
def validate(scenarios: list[Path] = typer.Argument(..., help="Scenario files to check.")) -> None:
    """Check scenario files only. Exit 0 when all are valid, 2 at the first invalid one."""
    for path in scenarios:
        s = _load(path)
        if s.sweep:  # the grid `planner sweep` runs from the file: its paths and values are part of the file
            from .decide.sweep import check_section

            try:
                check_section(s, str(path))
            except PlannerError as exc:
                _fail(exc, path)
        out.print(f"[green]ok[/] {_lit(path)}: {_lit(s.name)} ({len(s.fleet)} pools)", highlight=False)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the scenario format."""
    from .scenario import Scenario

    sys.stdout.write(_dumps(Scenario.model_json_schema(by_alias=True)) + "\n")


@app.command()
def estimate(
    scenario: Path = typer.Argument(..., help="Scenario file."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (docs/formats.md) instead of a table."),
    explain: bool = typer.Option(False, "--explain", help="Split each pool's step time into its terms (GEMM, "
                                                          "attention, TP, PP bubble, DP, ...)."),
) -> None:
    """Steady state, no time axis: the best parallel layout of each pool at its full planned size.

    Exit 0; 2 on bad input; 3 when no layout of any pool fits.
    """
    from . import api

    s = _load(scenario)
    for note in api.estimate_notes(s):
        _say(f"note: {scenario}: {note}", 280)
    jobs = []  # a portfolio: each job and the scenario it sees; --explain explains the job that gets chips first
    if s.jobs:
        from .sim.portfolio import job_scenario, ordered_jobs

        jobs = [(job, job_scenario(s, job)) for job in ordered_jobs(s)]
    lead = jobs[0][1] if jobs else s
    try:
        result = api.estimate(s)
        explained = api.explain(lead) if explain else []
    except InfeasiblePlanError as exc:
        _fail(exc, scenario)  # exit 3 (the contract's for estimate) names the file too
    except PlannerError as exc:  # pragma: no cover - defensive
        _fail(exc, scenario)
    if explained:
        result["explain"] = explained
    if as_json:
        sys.stdout.write(_dumps(result) + "\n")
        return
    if jobs:  # each job as if alone on its pools
        for (job, js), part in zip(jobs, result["jobs"], strict=True):
            _estimate_tables(js, {**part, "search": result["search"]}, explained if js is lead else [],
                             f"{s.name} / {job.name} (priority {job.priority})")
        return
    _estimate_tables(s, result, explained, s.name)


def _estimate_tables(s, result: dict, explained: list, name: str) -> None:
    """The estimate of one job: a table of its pools, their limits, the explained steps and the combined line."""
    from .perf.layout import Layout

    t = Table(title=_lit(f"{name}: {s.workload.model_name}, {s.workload.tokens:.3g} tokens, "
                         f"seq {s.workload.seq_len}"))
    for col in ("pool", "chip", "units", "layout", "MFU", "tokens/s", "P10-P90 tokens/s", "step s", "GiB/chip",
                "days"):
        t.add_column(col, justify="right" if col not in ("pool", "chip", "layout") else "left")
    for p in result["pools"]:
        lay = Layout(**p["parallelism"]).label()
        t.add_row(_lit(p["pool"]), _lit(p["chip"]), f"{p['units']:,}", _lit(lay), f"{p['mfu']:.1%}",
                  f"{p['tokens_per_s']:,.0f}",
                  f"{p['tokens_per_s_p10']:,.0f}-{p['tokens_per_s_p90']:,.0f}", f"{p['step_time_s']:.2f}",
                  f"{p['memory_per_chip_gib']:.1f}", f"{p['time_to_train_days']:.1f}")
    out.print(t)
    for p in result["pools"]:  # an MFU past 100%: PaLM's count of the attention scores, not what the chips run
        for key in ("mfu_note", "time_note"):
            if p.get(key):
                out.print(terminal(f"{p['pool']}: {p[key]}", one_line=True), highlight=False, markup=False)
    for p in result["pools"]:  # a job held below the pool under failures: `planner run` trains on job_units
        kept = (f", {p['job_kept_tokens_per_s']:,.0f} kept tokens/s, {p['job_time_to_train_days']:,.1f} days"
                if p.get("job_time_to_train_days") is not None else "")
        if p.get("limited_by"):  # (each limit once, after the job's figures once)
            whys = "; and by ".join(p["limited_by"])
            out.print(terminal(f"{p['pool']}: job on {p['job_units']:,} chips{kept}; limited by {whys}",
                               one_line=True), highlight=False, markup=False)
    for e in explained:
        if "error" in e:
            continue
        et = Table(title=_lit(f"{e['pool']} ({e['chip']}, {e['stack']} stack, {e['layout']}): one step, "
                              f"{e['step_time_s']:.3f} s"))
        et.add_column("term")
        et.add_column("seconds", justify="right")
        et.add_column("share", justify="right")
        for name, v in e["terms_s"].items():
            et.add_row(name, f"{v:.4f}", f"{v / e['step_time_s']:.1%}")
        out.print(et)
        if e.get("preference"):
            out.print(terminal(f"{e['pool']}: {e['preference']}", one_line=True), markup=False, highlight=False)
        if "measured" in e:
            _print_measured(e["pool"], e["measured"])
    c = result["combined"]
    split = ", ".join(f"{k} {v['share']:.0%}" for k, v in c.get("split", {}).items())
    out.print(terminal(f"combined ({c['mode']} over {' + '.join(c['pools'])}): {c['tokens_per_s']:,.0f} tokens/s, "
                       f"{c['time_to_train_days']:.1f} days" + (f"; tokens by pool: {split}" if split else "")
                       + (f" ({c['note']})" if c.get("note") else "")
                       + (f" ({c['time_note']})" if c.get("time_note") else ""), one_line=True),
              markup=False, highlight=False)
    for m in c.get("modes", []) if len(s.fleet) > 1 else []:
        if not m["possible"]:
            out.print(terminal(f"  {m['mode']}: not possible ({m['why']})", one_line=True), markup=False,
                      highlight=False, style="dim")
    for msg in result["infeasible"]:
        out.print(f"[yellow]not feasible[/]: {_lit(msg)}", highlight=False)
    sr = result["search"]
    out.print(f"searched {sr['layouts_evaluated']:,} layouts in {sr['seconds']:.3f} s", style="dim")


def _print_measured(pool: str, m: dict) -> None:
    """`planner estimate --explain`: the prior, each measured row against the model, the posterior."""
    pr, po = m["prior"], m["posterior"]
    mt = Table(title=_lit(f"{pool}: efficiency from {len(m['rows'])} of your measurements (prior "
                          f"{pr['p10']:.2f}-{pr['p90']:.2f}x, median {pr['median']:.2f}x of the model)"))
    for col in ("model", "chips", "seq", "layout", "measured tok/s/chip", "model tok/s/chip", "ratio",
                "correlation", "weight"):
        mt.add_column(col, justify="left" if col in ("model", "layout") else "right")
    for r in m["rows"]:
        mt.add_row(_lit(r["model"]), f"{r['units']:,}", f"{r['seq_len']:,}", _lit(r["layout"]),
                   f"{r['measured_tokens_per_s_per_chip']:,.0f}", f"{r['predicted_tokens_per_s_per_chip']:,.0f}",
                   f"{r['ratio']:.3f}", f"{r['correlation']:.2f}", f"{r['weight']:.2f}")
    out.print(mt)
    out.print(f"{_lit(pool)}: posterior efficiency {po['efficiency']:.3f}x of the model, P10-P90 "
              f"{po['p10']:.3f}-{po['p90']:.3f}x", markup=False, highlight=False)


# the options several commands share (one definition each, so their bounds and help agree)
SeedOption = Annotated[int | None, typer.Option("--seed", min=0, max=2**63 - 1,  # the file's simulation.seed bound
                                                help="Root seed (default: the scenario's).")]
BackendOption = Annotated[str, typer.Option("--backend", help="local | dask")]
SchedulerOption = Annotated[str | None, typer.Option("--scheduler", help="Dask scheduler address (backend dask).")]
PointReplicationsOption = Annotated[int | None, typer.Option(
    "--replications", min=1, max=100_000, help="Monte Carlo replications per point (default: the scenario's).")]
PointWorkersOption = Annotated[int | None, typer.Option("--workers", min=1, max=1024,
                                                        help="Worker processes (default: the cores).")]


OUT_HELP = ("Report folder (default: reports/<folder>: the scenario's name when it is a plain lower-case file name, "
            "else its slug and a short hash, e.g. reports/My-Plan-53e17b36).")


@app.command()
def run(
    scenario: Path = typer.Argument(..., help="Scenario file."),
    out_dir: Path | None = typer.Option(None, "--out", help=OUT_HELP),
    replications: int | None = typer.Option(None, "--replications", min=1, max=100_000,
                                               help="Monte Carlo replications (default: the scenario's)."),
    seed: SeedOption = None,
    backend: BackendOption = "local",
    scheduler: SchedulerOption = None,
    workers: int | None = typer.Option(None, "--workers", min=1, max=1024,
                                       help="Worker processes (default: the cores; dask without --scheduler: "
                                            "the LocalCluster's workers)."),
) -> None:
    """Simulate the scenario over time and write the report folder.

    Exit 0 when every `expect` check holds; 1 when one fails; 2 on bad input, or when no strategy mode can train.
    """
    from . import api
    from .ownership import default_folder_name

    _check_backend(backend, scheduler)
    if backend == "dask" and not scheduler:
        from .sim.dask_backend import start_fork_server

        start_fork_server()  # the local cluster's workers fork from it: it loads while the scenario does
    s = _load(scenario)
    n = replications or s.simulation.replications
    if scheduler and n < 2:  # replication 0 runs here, with the tables: the cluster would have nothing to do
        _say(f"note: one replication runs in this process: the Dask scheduler {scheduler} is not used")
    workers = _cap_workers(workers, scheduler)
    _warn_if_long(s, n)
    target = out_dir or Path("reports") / default_folder_name(s.name)
    _keep_inputs(target, s, "report")
    with progress_bar(f"simulating {s.name}", n) as tick:
        try:
            # the report writer (pandas, Plotly and its validators) loads while the workers simulate
            result = api.simulate(s, replications=replications, seed=seed, backend=backend,
                                  scheduler=scheduler, workers=workers, progress=tick,
                                  meanwhile=lambda: importlib.import_module("planner.report.charts").warm())
        except PlannerError as exc:
            _fail(exc, scenario, infeasible=INFEASIBLE_RUN)
    from .report import write_report

    try:
        # after a local Dask cluster, whose threads stay, the workbook is written from its fork server
        path = write_report(result, target, fork_server=backend == "dask" and not scheduler)
    except PlannerError as exc:
        _fail(exc)
    _print_headline(result.summary, path)
    if not result.summary.passed:
        raise typer.Exit(1)


@contextlib.contextmanager
def progress_bar(label: str, total: int):
    """A progress callback ``tick(done, total)``: a bar with ETA on a terminal, a line every few seconds when piped."""
    label = terminal(label, one_line=True)  # it names the scenario
    if total < 2:
        yield lambda k, n: None
        return
    if err.is_terminal:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=err,
                      transient=True) as bar:
            task = bar.add_task(escape(label), total=total)  # the description is console markup
            yield lambda k, n: bar.update(task, completed=k, total=n)
        return
    t0 = time.monotonic()
    tick = piped_progress(label, t0, lambda line: err.print(line, highlight=False, markup=False))
    yield tick


def piped_progress(label: str, t0: float, say: Callable[[str], None],
                   clock: Callable[[], float] = time.monotonic) -> Callable[[int, int], None]:
    """``tick(done, total)`` that says a progress line every PIPED_PROGRESS_EVERY_S seconds and at the end.

    The ETA is paced after the serial start (planner/pace.py); until there is a pace, the line says so.
    """
    from .pace import Pace, eta_text

    last, pace = [t0], Pace()

    def tick(k: int, n: int) -> None:
        now = clock()
        eta = pace.eta_s(k, n, now)
        if now - last[0] >= PIPED_PROGRESS_EVERY_S or k == n:
            last[0] = now
            say(f"{label}: {k}/{n} done, {now - t0:.0f} s elapsed, {eta_text(eta)}")

    return tick


def _print_headline(summary: Summary, path: Path) -> None:
    from .report.headline import expectation_rows, headline_items, job_lines, limit_lines, power_wait_sentence

    t = Table(title=_lit(f"{summary.scenario}: {summary.replications} replication(s), seed {summary.seed}"),
              show_header=False)
    t.add_column("metric")
    t.add_column("value", justify="right")
    t.add_column("spread", style="dim")
    for h in headline_items(summary):
        t.add_row(_lit(h.label), _lit(h.value), _lit(h.detail))
    for e in expectation_rows(summary):
        mark = "[green]pass[/]" if e["result"] == "PASS" else "[red]FAIL[/]"
        t.add_row(_lit(f"expect {e['check']}"), f"{_lit(e['value'])} {mark}", "")
    out.print(t)
    wait = power_wait_sentence(summary)
    for line in [*job_lines(summary), *([wait] if wait else []), *limit_lines(summary)]:
        out.print(terminal(line, one_line=True), highlight=False, markup=False)
    out.print(terminal(f"report: {path}", one_line=True), highlight=False, markup=False)


def _keep_inputs(target: Path, s, kind: str) -> None:
    """Exit 2 before any work when the output folder holds the scenario file or one of its delivery sheets.

    Or when it is not planner's ``kind`` folder to replace (a file, another tool's files, another command's).
    """
    from .loader import input_files
    from .ownership import refuse_early, refuse_inputs

    try:
        refuse_inputs(target, input_files(s))
        refuse_early(target, kind)
    except PlannerError as exc:
        _fail(exc)


def _target(out_dir: Path | None, name: str, suffix: str) -> Path:
    from .ownership import default_folder_name

    return out_dir or Path("reports") / (default_folder_name(name) + suffix)


def _check_backend(backend: str, scheduler: str | None) -> None:
    if backend not in ("local", "dask"):
        _fail(ScenarioError(f"--backend must be local or dask, not {backend!r}"))
    if scheduler is not None and backend != "dask":  # never accept a setting that nothing reads
        _fail(ScenarioError("--scheduler is read only with --backend dask; add --backend dask or drop --scheduler"))




@app.command()
def sweep(
    scenario: Path = typer.Argument(..., help="Scenario file."),
    sets: list[str] = typer.Option([], "--set", help="PATH=v1,v2,... e.g. fleet[1].cloud.units=0,4096,8192 "
                                                     "(repeat for a grid; default: the file's sweep: section)."),
    out_dir: Path | None = typer.Option(None, "--out", help="Output folder (default: reports/<folder>-sweep; "
                                        "<folder> as `run` names it)."),
    replications: PointReplicationsOption = None,
    seed: SeedOption = None,
    backend: BackendOption = "local",
    scheduler: SchedulerOption = None,
    workers: PointWorkersOption = None,
) -> None:
    """A grid over inputs named by field path: sweep.parquet, sweep.csv (a row per point) and sweep.html.

    Exit 0; 2 on bad input, or when no point can train.
    """
    from .decide.sweep import parse_set, write_sweep
    from .decide.sweep import sweep as run_sweep

    _check_backend(backend, scheduler)
    s = _load(scenario)
    _keep_inputs(_target(out_dir, s.name, "-sweep"), s, "sweep")
    try:
        if not sets and s.sweep:  # the file's section: its errors name it (sweep[0].values[1])
            from .decide.sweep import check_section

            check_section(s, str(scenario))
        axes = [parse_set(t) for t in sets] or [(a.path, list(a.values)) for a in s.sweep]
        if not axes:
            raise ScenarioError("give --set PATH=v1,v2,... or a sweep: section in the file", path=str(scenario))
        from .decide.sweep import grid

        points = grid(s, axes, str(scenario))[1]
        n_points = len(points)
        workers = _cap_workers(workers, scheduler)
        _warn_if_long(s, replications, points)
        with progress_bar(f"sweeping {s.name}", n_points) as tick:
            table = run_sweep(s, axes, replications=replications, seed=seed, backend=backend, scheduler=scheduler,
                              workers=workers, progress=tick, source=str(scenario))
        path = write_sweep(table, axes, _target(out_dir, s.name, "-sweep"), f"{s.name}: sweep")
    except PlannerError as exc:
        _fail(exc, scenario, infeasible=INFEASIBLE_RUN)
    from .decide.present import bounded
    from .report.tables import currency_of, fmt_cell

    t = Table(title=_lit(f"{s.name}: {len(table)} points"))
    # (the cost in the scenario's currency too, each point's own: ``cost_cny_p50``)
    cols = [p for p, _ in axes] + ["time_to_train_days_p50", "time_to_train_days_p90", "finish_date_p50",
                                   "cost_usd_p50", *[c for c in table.columns if currency_of(c) and
                                                     str(c).startswith("cost_") and str(c).endswith("_p50")],
                                   "finish_probability"]
    for c in cols:
        t.add_column(_lit(c), justify="right")
    for _, r in table.iterrows():
        low = bounded(r.get("at_least"))  # figures known only as lower bounds: "≥ "
        # $ and thousands separators, never 1.555e+08
        t.add_row(*[_lit(("≥ " if c in low else "") + _cell_text(fmt_cell(c, r[c]))) for c in cols])
    out.print(t)
    if s.jobs:  # a portfolio: the table is until its last job finishes
        _say("note: the figures above are the portfolio's (until its last job finishes); sweep.csv and sweep.parquet "
             "also have each job's time to train, finish dates and deadline share (columns 'job NAME: ...')")
    out.print(terminal(f"sweep: {path}", one_line=True), highlight=False, markup=False)


def _cell_text(value: object) -> str:
    """A swept value for a table cell, in JSON: ``true``, ``[1, 2]``, ``{"enabled": false}`` (text as it is)."""
    if isinstance(value, str):
        return value
    if type(value).__module__ == "numpy" and hasattr(value, "item"):  # numpy.bool_ from a table's column
        value = value.item()
    return json.dumps(value, default=str, ensure_ascii=False)


@app.command()
def sensitivity(
    scenario: Path = typer.Argument(..., help="Scenario file."),
    out_dir: Path | None = typer.Option(None, "--out", help="Output folder (default: reports/<folder>-sensitivity; "
                                        "<folder> as `run` names it)."),
    replications: PointReplicationsOption = None,
    seed: SeedOption = None,
    backend: BackendOption = "local",
    scheduler: SchedulerOption = None,
    workers: PointWorkersOption = None,
) -> None:
    """Each uncertain or controllable input at its low and high value: tornado charts of finish date and cost.

    Exit 0; 2 on bad input, or when no setting can train.
    """
    from .decide.output import write_files
    from .decide.sensitivity import inputs, tornado_html, write_sensitivity_csv
    from .decide.sensitivity import points as sens_points
    from .decide.sensitivity import sensitivity as run_sens

    _check_backend(backend, scheduler)
    s = _load(scenario)
    _keep_inputs(_target(out_dir, s.name, "-sensitivity"), s, "sensitivity")
    try:
        points = sens_points(s, inputs(s, str(scenario)))
        n_points = len(points)
        workers = _cap_workers(workers, scheduler)
        _warn_if_long(s, replications, points)
        with progress_bar(f"sensitivity of {s.name}", n_points) as tick:
            table = run_sens(s, replications=replications, seed=seed, backend=backend, scheduler=scheduler,
                             workers=workers, progress=tick, source=str(scenario))
        title = f"{s.name}: sensitivity"
        path = write_files(_target(out_dir, s.name, "-sensitivity"), {
            "sensitivity.csv": lambda p: write_sensitivity_csv(table, p),
            "sensitivity.html": lambda p: p.write_text(tornado_html(table, title), encoding="utf-8")})
    except PlannerError as exc:
        _fail(exc, scenario, infeasible=INFEASIBLE_RUN)
    t = Table(title=_lit(f"{s.name}: p50 time to train and cost, each input low / high"))
    for c in ("input", "low", "high", "days low", "days high", "cost low", "cost high"):
        t.add_column(c, justify="left" if c in ("input", "low", "high") else "right")
    from .decide.present import sensitivity_rows

    # the page's rows: "≥ " before a figure known only as a lower bound (replications stopped by the horizon)
    from .report.headline import money

    for r in sensitivity_rows(table, functools.partial(money, s)).to_dict("records"):  # (in its currency too)
        t.add_row(_lit(r["input"]), _lit(r["low"]), _lit(r["high"]), r["days p50 (low)"], r["days p50 (high)"],
                  r["cost p50 (low)"], r["cost p50 (high)"])
    out.print(t)
    if s.jobs:  # a portfolio: the swings are of the time until its last job finishes
        _say("note: the figures above are the portfolio's (until its last job finishes); sensitivity.csv also has each "
             "job's p50 time to train at base, low and high (columns 'job NAME: ...'), and `planner solve --job NAME` "
             "seeks one job's")
    out.print(terminal(f"sensitivity: {path}", one_line=True), highlight=False, markup=False)


@app.command()
def solve(
    scenario: Path = typer.Argument(..., help="Scenario file."),
    deadline: str = typer.Option(..., "--deadline", help="Finish on or before this date (YYYY-MM-DD): by the end of "
                                                           "that day."),
    quantile: float = typer.Option(0.9, "--quantile", help="At this quantile of the finish date (0-1)."),
    vary: str = typer.Option(..., "--vary", help="The input to vary, by field path, e.g. fleet[1].cloud.units."),
    low: float | None = typer.Option(None, "--min",
                                     help="Smallest value to try (default 0, or 1 where the field does not take 0)."),
    high: float | None = typer.Option(None, "--max", help="Largest value to try (default 4x the file's, or the "
                                                          "most of 3x, 2x, 1.5x it that the field takes)."),
    replications: int | None = typer.Option(None, "--replications", min=1, max=100_000,
                                               help="Replications per evaluation (default: the scenario's, at "
                                                    "least 20)."),
    seed: SeedOption = None,
    workers: int | None = typer.Option(None, "--workers", min=1, max=1024, help="Worker processes."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON: value, finish_date, cost_usd, evaluations."),
    job: str | None = typer.Option(None, "--job", help="With `jobs:`: the job that must finish by the deadline "
                                                       "(default: every job, i.e. the last to finish)."),
) -> None:
    """The smallest value of one input that finishes by the deadline at that quantile. Exit 1 if none in range."""
    import datetime as dt

    from .decide.solve import SOLVE_MIN_REPLICATIONS, check_quantile, check_target, planned_points, to_deadline
    from .decide.solve import solve as run_solve

    s = _load(scenario)
    try:
        try:  # YYYY-MM-DD, as a scenario's dates (fromisoformat alone also reads 20250301 and 2025-W09-6)
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", deadline):
                raise ValueError(deadline)
            when = dt.date.fromisoformat(deadline)
        except ValueError:
            raise ScenarioError(f"--deadline {deadline!r} is not a date (YYYY-MM-DD)") from None
        check_quantile(quantile)
        check_target(s, when, job, str(scenario))  # before the note on how long the search may take
        n = replications or max(SOLVE_MIN_REPLICATIONS, s.simulation.replications)
        workers = _cap_workers(workers)
        # (the points run to the deadline when the horizon ends before it)
        planned = planned_points(s, vary, low, high, str(scenario))
        _warn_if_long(to_deadline(s, when, vary), n, planned)
        # the bar counts the most the search may evaluate: it often needs fewer, and then ends early
        with progress_bar(f"solving {s.name}", len(planned)) as tick:
            result = run_solve(s, vary, when, quantile=quantile, low=low, high=high, replications=n, seed=seed,
                               workers=workers, source=str(scenario), job=job, progress=tick)
    except PlannerError as exc:
        _fail(exc, scenario, infeasible=INFEASIBLE_SOLVE)
    result["replications"] = n
    if as_json:
        sys.stdout.write(_dumps(result) + "\n")
    elif result["found"]:
        whose = f"job {job}: " if job else ""  # the finish and the cost are that job's
        out.print(terminal(f"{result['path']} = {result['value']:,}: {whose}p{quantile * 100:g} finish "
                           f"{result['finish_date']} (deadline {result['deadline']}), cost p50 "
                           f"{'≥ ' if result.get('cost_usd_at_least') else ''}${result['cost_usd'] or 0:,.0f}"
                           + (f" ({s.currency.code} {cur:,.0f})" if s.currency is not None and (cur := result.get(
                               f"cost_{s.currency.code.lower()}")) is not None else "")
                           + f"; {len(result['evaluations'])} evaluations of {n} "
                           "replications" + ("" if result["monotone"] else "; the evaluated points were NOT monotone")
                           + (f" ({result['note']})" if result.get("note") else ""), one_line=True),
                  highlight=False, markup=False)
    else:
        why = f": {result['note']}" if result.get("note") else ""  # e.g. no layout fits at either end
        out.print(terminal(f"no value of {result['path']} in range finishes by {result['deadline']} at "
                           f"p{quantile * 100:g}{why}", one_line=True), highlight=False, markup=False)
    if not result["found"]:
        raise typer.Exit(1)


@app.command()
def compare(
    scenario: Path = typer.Argument(..., help="Scenario file."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    seed: SeedOption = None,
) -> None:
    """Every strategy mode side by side: time, finish date, cost, energy, goodput, link traffic, why not.

    Each mode's best strategy runs through the time simulation: one replication, the same draws.

    The mode `auto` picks is marked. Exit 0; 2 on bad input; 3 when no mode can train.
    """
    from . import api
    from .cashflow import in_currency
    from .decide.present import PICKED_ON, mode_label, picked_on, portfolio_cost_note
    from .fmt import num
    from .report.headline import money as in_currencies

    s = _load(scenario)
    try:
        rows = api.compare(s, seed=seed)
    except PlannerError as exc:
        _fail(exc, scenario)  # the file named, as estimate and run name it
    if as_json:  # the sums in the scenario's currency too, when it has one (cost_cny beside cost_usd)
        rows = [in_currency(r, s.currency) for r in rows]
        sys.stdout.write(_dumps({"scenario": s.name, "modes": rows, **({"currency": s.currency.model_dump()}
                                                                        if s.currency is not None else {})}) + "\n")
        return
    t = Table(title=_lit(f"{s.name}: strategy modes (one replication, seed "
                         f"{s.simulation.seed if seed is None else seed})"))
    pick = any(r.get("objective") == "cost" for r in rows)  # a portfolio job picked by cost: what it ranked on

    money = functools.partial(in_currencies, s)  # in USD, and in the scenario's currency when it has one
    for col in ("mode", "pools", "days", "finish", "cost", *[PICKED_ON] * pick, "energy MWh", "goodput",
                "link TB/day", "note"):
        t.add_column(col, justify="left" if col in ("mode", "pools", "finish", "note") else "right")
    for r in rows:
        name = mode_label(r)  # a portfolio's rows: each job's modes on what the jobs before it leave
        if not r["possible"]:
            t.add_row(_lit(name), "-", "-", "-", "-", *["-"] * pick, "-", "-", "-", _lit(f"not possible: {r['why']}"))
            continue
        days = f"{r['time_to_train_days']:.1f}" if r["finished"] else "not finished"
        low = {k: "≥ " for k in r.get("at_least") or ()}  # stopped by the horizon: spent to it only
        t.add_row(_lit(name), _lit(r["pool"] or "-"), days, _lit(r.get("finish_date") or "-"),
                  low.get("cost_usd", "") + money(r["cost_usd"]), *[picked_on(r, money) or "-"] * pick,
                  low.get("energy_mwh", "") + f"{r['energy_mwh']:,.0f}",
                  _pct(num(r["goodput"])), f"{r['link_tb_per_day']:.2f}", _lit(r.get("note") or ""))
    if s.jobs:
        t.caption = _lit(portfolio_cost_note(rows))  # (job names: never markup nor escape sequences)
    out.print(t)


@app.command()
def calibrate(
    cv: bool = typer.Option(False, "--cv", help="Add cross-validated predictions (each publication left out of the "
                                               "fit) and the naive constant-MFU rule."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Predicted vs published figures for the reference training runs, with each error and the MAPE."""
    from .calibrate import calibrate as run

    c = run(cv=cv)
    rows = c.rows
    if as_json:
        cases = []
        for r in rows:
            case = {"id": r.id, "title": r.title, "chip": r.chip, "units": r.units, "metric": r.metric,
                    "stack": r.stack, "group": r.group, "published": r.published, "predicted": r.predicted,
                    "predicted_in_sample": r.predicted, "error": r.error, "naive": r.naive,
                    "parallelism": r.parallelism, "sources": r.sources}
            if cv:
                case.update(predicted_cv=r.predicted_cv, error_cv=r.error_cv,
                            predicted_default_cv=r.predicted_default_cv, error_default_cv=r.error_default_cv,
                            parallelism_default=r.parallelism_default, categories=list(r.categories),
                            band_p10=r.band_p10, band_p90=r.band_p90, band_covers=r.band_covers)
            cases.append(case)
        payload = {"cases": cases, "mape": c.mape_in_sample, "n_cases": len(rows),
                   "chip_classes": sorted({r.chip for r in rows}), "kernels": c.kernels,
                   "fp8_vs_bf16": c.fp8_vs_bf16, "constants": c.constants(),
                   "mape_in_sample": 100 * c.mape_in_sample, "mape_naive": 100 * c.mape_naive}
        if cv:
            payload.update(mape_cv=100 * c.mape_cv, mape_default_cv=100 * c.mape_default_cv,
                           categories=c.categories())
        if cv:  # the lab's own rows, by transfer inside the calibration set; whole-run chip-hours
            from .perf.wholerun import score_whole_runs
            from .scenario import Reliability
            from .transfer import transfer_summary

            payload.update(transfer=transfer_summary(c), whole_runs=score_whole_runs(defaults=Reliability()))
        sys.stdout.write(_dumps(payload) + "\n")
        return
    t = Table(title="calibration: predicted vs published")
    cols = ["id", "chip", "units", "stack", "metric", "published", "predicted", "error"]
    if cv:
        cols += ["cv", "naive"]
    for col in cols:
        t.add_column(col, justify="right" if col in ("units", "published", "predicted", "error", "cv", "naive")
                     else "left")
    for r in rows:
        cells = [r.id, r.chip, f"{r.units:,}", r.stack, r.metric, f"{r.published:.4g}", f"{r.predicted:.4g}",
                 f"{r.error:+.1%}"]
        if cv:
            cells += [f"{r.error_cv:+.1%}", f"{r.error_naive:+.1%}"]
        t.add_row(*cells)
    out.print(t)
    line = f"MAPE {c.mape_in_sample:.1%} in sample"
    if cv:
        line += f", {c.mape_cv:.1%} cross-validated (grouped by publication)"
    line += f", naive rule {c.mape_naive:.1%}; {len(rows)} cases on {len({r.chip for r in rows})} chip classes"
    out.print(line, markup=False)
    if cv:
        out.print(f"default path (layout searched, stack as its owner states it): {c.mape_default_cv:.1%} "
                  "cross-validated", markup=False)
        k = Table(title="per category (MAPE %; band: share of published figures inside the out-of-fold P10-P90)")
        for col in ("category", "n", "in sample", "cv", "default-path cv", "band coverage"):
            k.add_column(col, justify="left" if col == "category" else "right")
        for cat in c.categories():
            k.add_row(cat["name"], str(cat["n"]), f"{cat['mape_in_sample']:.1f}", f"{cat['mape_cv']:.1f}",
                      f"{cat['mape_default_cv']:.1f}", f"{cat['band_coverage']:.0%}")
        out.print(k)
    consts = Table(title="constants: refit in every cross-validation fold, or cited")
    for col in ("constant", "value", "basis"):
        consts.add_column(col)
    for row in c.constants():
        consts.add_row(row["name"], "" if row["value"] is None else f"{row['value']:.3f}",
                       row["basis"] if row["basis"] == "refit in CV" else f"cited: {row['basis']}")
    out.print(consts)


@catalog_app.command("chips")
def catalog_chips(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Chip classes: dense peaks, memory, links, power, sources."""
    from .catalog import chips

    data = {k: c.model_dump() for k, c in chips().items()}
    if as_json:
        sys.stdout.write(_dumps(data) + "\n")
        return
    t = Table(title="chip classes")
    cols = ("id", "BF16 TF", "FP8 TF", "HBM GiB", "HBM TB/s", "scale-up", "GB/s", "scale-out Gb/s", "TDP W", "sources")
    for col in cols:  # the id whole, on one line: it is what a scenario's `chip:` says
        t.add_column(col, no_wrap=col == "id")
    for k, c in data.items():
        t.add_row(k, f"{c['bf16_tflops']:g}", f"{c['fp8_tflops'] or '-'}", f"{c['hbm_gib']:g}", f"{c['hbm_tbps']:g}",
                  str(c["scale_up_domain"]), f"{c['scale_up_gbyteps']:g}", f"{c['scale_out_gbps']:g}",
                  f"{c['tdp_w']:g}", ",".join(c["sources"]))
    out.print(t)


@catalog_app.command("models")
def catalog_models(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Model presets: architecture, parameter counts (counted and published), sources."""
    from .catalog import models
    from .perf.params import count_params

    data = {}
    for k, m in models().items():
        c = count_params(m.arch)
        d = m.model_dump(exclude_none=True)
        d["counted_params_b"] = c.total / 1e9
        d["counted_active_params_b"] = c.active / 1e9
        data[k] = d
    if as_json:
        sys.stdout.write(_dumps(data) + "\n")
        return
    t = Table(title="model presets")
    for col in ("id", "layers", "hidden", "heads/kv", "ffn", "MoE", "params B", "active B", "sources"):
        t.add_column(col, no_wrap=col == "id")  # the id whole: it is what a workload's `model:` says
    for k, d in data.items():
        a = d["arch"]
        moe = a.get("moe")
        t.add_row(k, str(a["layers"]), str(a["hidden"]), f"{a['heads']}/{a.get('kv_heads', a['heads'])}",
                  str(a.get("ffn_hidden", "")), f"{moe['experts']}x top{moe['top_k']}" if moe else "-",
                  f"{d['counted_params_b']:.1f}", f"{d['counted_active_params_b']:.1f}", ",".join(d["sources"]))
    out.print(t)


def _on_sigterm(signum, frame) -> None:
    raise KeyboardInterrupt  # SIGTERM cleans up as Ctrl-C does: no temporary report folder is left


# stops that clean up as Ctrl-C does: a kill, and a terminal that closes (SIGHUP left a half-written folder);
# a signal the caller set to be ignored (``nohup``) stays ignored
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


APP_FILE = Path(__file__).resolve().parent.parent / "app.py"


def app_command(port: int = 8501, headless: bool = False, app_file: Path = APP_FILE) -> list[str]:
    """The Streamlit command line of `planner app`: bound to 127.0.0.1, usage statistics off.

    ``-P``: the current folder is not put first on the module path (``python -m`` does), so a ``streamlit.py``, or
    any module Streamlit imports, lying in the folder `planner app` is started from is never run in its place.
    """
    return [sys.executable, "-P", "-m", "streamlit", "run", str(app_file), "--server.address", "127.0.0.1",
            "--server.port", str(port), "--browser.gatherUsageStats", "false",
            "--server.headless", "true" if headless else "false"]


@app.command("app")
def app_cmd(port: int = typer.Option(8501, min=1, max=65535, help="Port on 127.0.0.1."),
            headless: bool = typer.Option(False, help="Do not open a browser.")) -> None:
    """Start the what-if app (Streamlit) on 127.0.0.1 with usage statistics off."""
    import subprocess

    if not APP_FILE.is_file():
        raise PlannerError(f"{APP_FILE}: the app file is missing; run from a source checkout")
    try:
        code = subprocess.call(app_command(port, headless))
    except KeyboardInterrupt:
        code = 0
    raise typer.Exit(0 if code in (0, -2, 130) else code)


def main() -> None:
    """Console-script entry point: user errors never show a traceback."""
    previous = {sig: signal.signal(sig, _on_sigterm) for sig in STOP_SIGNALS
                if signal.getsignal(sig) is not signal.SIG_IGN}
    for stream in (sys.stdout, sys.stderr):
        # a name the output's encoding cannot write (cp1252, ascii) is written as \uXXXX, as Python's stderr
        # does, never a crash after the report is written
        try:
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError, OSError):  # not a text stream of io's
            pass
    try:
        _main()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def entry() -> None:
    """The console script: ``main``, then out without tearing the interpreter down object by object.

    After a large run, freeing every object one by one takes about 0.3 s and does nothing a user needs: the
    report is written and closed, the workers are joined. Output is flushed and logging shut down first.
    """
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code
    if isinstance(code, str):
        print(code, file=sys.stderr)
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass
    logging.shutdown()
    os._exit(code or 0)


def _main() -> None:
    try:
        app()
    except PlannerError as exc:
        _say(f"error: {exc}")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        sys.exit(2)
    except OSError as exc:  # `--help`, `--version` and a bare `planner` print outside the commands' guard
        if not _stdout_fails():
            raise
        _say(f"error: cannot write standard output: {exc.strerror or exc}")
        sys.exit(2)


if __name__ == "__main__":
    main()
