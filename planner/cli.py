"""The `planner` command line. Exit codes: 0 ok, 1 an expect check failed, 2 bad input, 3 nothing fits."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from . import __version__
from .errors import InfeasiblePlanError, PlannerError, ScenarioError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Chip-supply-aware capacity planner for large-model training. Scenario files are YAML or JSON.",
)
catalog_app = typer.Typer(help="The built-in chip classes and model presets, with their sources.", no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")

# wide tables when piped (CI logs), the terminal's width otherwise
out = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 200)


def _fail(exc: PlannerError) -> None:
    err.print(f"[bold red]error[/]: {exc}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(exc.exit_code)


def _load(path: Path):
    from .loader import load_scenario

    try:
        return load_scenario(path)
    except ScenarioError as exc:
        _fail(exc)


def _dumps(obj) -> str:
    return json.dumps(obj, indent=2, default=str)


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
        out.print(f"[green]ok[/] {path}: {s.name} ({len(s.fleet)} pools)", highlight=False)


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
    """Steady state, no time axis: the best parallel layout of each pool at its full planned size."""
    from . import api
    from .perf.layout import Layout

    s = _load(scenario)
    try:
        result = api.estimate(s)
        explained = api.explain(s) if explain else []
    except InfeasiblePlanError as exc:
        _fail(exc)
    except PlannerError as exc:  # pragma: no cover - defensive
        _fail(exc)
    if explained:
        result["explain"] = explained
    if as_json:
        sys.stdout.write(_dumps(result) + "\n")
        return
    t = Table(title=f"{s.name}: {s.workload.model_name}, {s.workload.tokens:.3g} tokens, seq {s.workload.seq_len}")
    for col in ("pool", "chip", "units", "layout", "MFU", "tokens/s", "P10-P90 tokens/s", "step s", "GiB/chip",
                "days"):
        t.add_column(col, justify="right" if col not in ("pool", "chip", "layout") else "left")
    for p in result["pools"]:
        lay = Layout(**p["parallelism"]).label()
        t.add_row(p["pool"], p["chip"], f"{p['units']:,}", lay, f"{p['mfu']:.1%}", f"{p['tokens_per_s']:,.0f}",
                  f"{p['tokens_per_s_p10']:,.0f}-{p['tokens_per_s_p90']:,.0f}", f"{p['step_time_s']:.2f}",
                  f"{p['memory_per_chip_gib']:.1f}", f"{p['time_to_train_days']:.1f}")
    out.print(t)
    for e in explained:
        if "error" in e:
            continue
        et = Table(title=f"{e['pool']} ({e['chip']}, {e['stack']} stack, {e['layout']}): one step, "
                         f"{e['step_time_s']:.3f} s")
        et.add_column("term")
        et.add_column("seconds", justify="right")
        et.add_column("share", justify="right")
        for name, v in e["terms_s"].items():
            et.add_row(name, f"{v:.4f}", f"{v / e['step_time_s']:.1%}")
        out.print(et)
    c = result["combined"]
    out.print(f"combined ({c['mode']}): {c['tokens_per_s']:,.0f} tokens/s, {c['time_to_train_days']:.1f} days")
    for msg in result["infeasible"]:
        out.print(f"[yellow]not feasible[/]: {msg}", highlight=False)
    sr = result["search"]
    out.print(f"searched {sr['layouts_evaluated']:,} layouts in {sr['seconds']:.3f} s", style="dim")


@app.command()
def run(
    scenario: Path = typer.Argument(..., help="Scenario file."),
    out_dir: Path | None = typer.Option(None, "--out", help="Report folder (default: reports/<scenario name>)."),
    replications: int | None = typer.Option(None, "--replications", min=1, max=100_000,
                                               help="Monte Carlo replications (default: the scenario's)."),
    seed: int | None = typer.Option(None, "--seed", min=0, help="Root seed (default: the scenario's)."),
    backend: str = typer.Option("local", "--backend", help="local | dask"),
    scheduler: str | None = typer.Option(None, "--scheduler", help="Dask scheduler address (backend dask)."),
    workers: int | None = typer.Option(None, "--workers", min=1, max=1024, help="Local Dask workers."),
) -> None:
    """Simulate the scenario over time and write the report folder. Exit 1 when an `expect` check fails."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from . import api
    from .report import write_report

    if backend not in ("local", "dask"):
        _fail(ScenarioError(f"--backend must be local or dask, not {backend!r}"))
    s = _load(scenario)
    n = replications or s.simulation.replications
    target = out_dir or Path("reports") / (re.sub(r"[^A-Za-z0-9._-]+", "-", s.name).strip(".-") or "scenario")
    with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err, transient=True, disable=n < 2) as bar:
        task = bar.add_task(f"simulating {s.name}", total=n)
        try:
            result = api.simulate(s, replications=replications, seed=seed, backend=backend,
                                      scheduler=scheduler, workers=workers,
                                      progress=lambda k, total: bar.update(task, completed=k))
        except PlannerError as exc:
            _fail(exc)
    try:
        path = write_report(result, target)
    except PlannerError as exc:
        _fail(exc)
    _print_headline(result.summary, path)
    if not all(e["passed"] for e in result.summary["expectations"]):
        raise typer.Exit(1)


def _print_headline(summary: dict, path: Path) -> None:
    from .report.headline import expectation_rows, headline_items

    t = Table(title=f"{summary['scenario']}: {summary['replications']} replication(s), seed {summary['seed']}",
              show_header=False)
    t.add_column("metric")
    t.add_column("value", justify="right")
    t.add_column("spread", style="dim")
    for h in headline_items(summary):
        t.add_row(escape(h.label), escape(h.value), escape(h.detail))
    for e in expectation_rows(summary):
        mark = "[green]pass[/]" if e["result"] == "PASS" else "[red]FAIL[/]"
        t.add_row(escape(f"expect {e['check']}"), f"{escape(e['value'])} {mark}", "")
    out.print(t)
    out.print(f"report: {path}", highlight=False, markup=False)


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
                case.update(predicted_cv=r.predicted_cv, error_cv=r.error_cv)
            cases.append(case)
        payload = {"cases": cases, "mape": c.mape_in_sample, "n_cases": len(rows),
                   "chip_classes": sorted({r.chip for r in rows}), "kernels": c.kernels,
                   "mape_in_sample": 100 * c.mape_in_sample, "mape_naive": 100 * c.mape_naive}
        if cv:
            payload["mape_cv"] = 100 * c.mape_cv
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
    for col in cols:
        t.add_column(col)
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
        t.add_column(col)
    for k, d in data.items():
        a = d["arch"]
        moe = a.get("moe")
        t.add_row(k, str(a["layers"]), str(a["hidden"]), f"{a['heads']}/{a.get('kv_heads', a['heads'])}",
                  str(a.get("ffn_hidden", "")), f"{moe['experts']}x top{moe['top_k']}" if moe else "-",
                  f"{d['counted_params_b']:.1f}", f"{d['counted_active_params_b']:.1f}", ",".join(d["sources"]))
    out.print(t)


APP_FILE = Path(__file__).resolve().parent.parent / "app.py"


def app_command(port: int = 8501, headless: bool = False, app_file: Path = APP_FILE) -> list[str]:
    """The Streamlit command line of `planner app`: bound to 127.0.0.1, usage statistics off."""
    return [sys.executable, "-m", "streamlit", "run", str(app_file), "--server.address", "127.0.0.1",
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
    try:
        app()
    except PlannerError as exc:
        err.print(f"error: {exc}", highlight=False, markup=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
