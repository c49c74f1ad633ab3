"""The what-if app under load: several browser sessions at once against one server on 127.0.0.1 (issue 17).

Starts `planner app` (Streamlit, headless, on a free port of 127.0.0.1, never another address) and drives
Debian's Chromium through Playwright: one browser, one page per session. Prints:

- memory per distinct run: the server's RSS growth over --runs uploads of distinct scenarios, each run
  with Run, in one session, divided by the runs (and the RSS after that session closed), and the seconds
  from each upload to its answer;
- under --sessions sessions at once (at most 6): each page is given its own scenario, then each presses Run
  (the pages one after the other, without waiting for answers), then each answer is awaited; the health
  endpoint (/_stcore/health) is asked every 0.25 s meanwhile: its latency p50 / p95 / max, the seconds from
  the upload to the answer per session, how many answered within 30 s, and the server's RSS at the peak
  and after the sessions closed (run processes, which end with their runs, counted apart).

The seconds are counted from the upload because an older app ran every upload at once (and Run then
answered from its cache); this one runs on Run.

Everything is bounded: at most 6 sessions and 8 sequential runs, each wait by --deadline seconds.

Run: python benchmarks/app_load.py [--sessions N] [--runs K] [--pools P] [--days D] [--app FILE]
(--app: another app file, e.g. an older checkout's, to compare)
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]  # this checkout's planner, and app_timings beside this file

from app_timings import CHROMIUM, CHROMIUM_ARGS, Server  # noqa: E402 - the same server and browser set-up

from planner.cli import APP_FILE  # noqa: E402

MAX_SESSIONS = 6
MAX_RUNS = 8
HOST = "127.0.0.1"  # the only address this script talks to
ANSWERED = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  const idle = app && app.dataset.testScriptState === 'notRunning';
  const stale = [...document.querySelectorAll('[data-testid="stAlertContainer"]')]
    .some(a => a.textContent.includes('settings changed since this run'));
  const card = [...document.querySelectorAll('[data-testid="stMetric"]')]
    .some(m => m.textContent.includes('Finish date (P50)'));
  return idle && card && !stale;
}"""


def scenario(i: int, pools: int, days: int) -> dict:
    """A distinct scenario per index: ``pools`` owned pools (a tranche each) over ``days`` days, failures on."""
    return {
        "name": f"load-{i}",
        "start": "2025-01-01",
        "horizon_days": days,
        "workload": {"model": "llama3-8b", "tokens": 1.0e15, "seq_len": 8192},  # about the horizon: a row a day
        "fleet": [{"name": f"pool-{k}", "chip": "h100-sxm", "units": 256 + 8 * i,
                   "deliveries": [{"date": "2025-03-01", "units": 1024}]} for k in range(pools)],
        "strategy": {"mode": "single"},
        "reliability": {"enabled": True},
        "simulation": {"seed": 1000 + i, "replications": 1},
    }


def rss_mb(pid: int) -> float:
    """The resident memory of one process [MB], 0 when it has gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def children(pid: int) -> list[int]:
    """Every descendant of a process (the fork server, the run processes and their workers)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for task in Path(f"/proc/{p}/task").glob("*/children") if Path(f"/proc/{p}/task").exists() else []:
            try:
                kids = [int(x) for x in task.read_text().split()]
            except OSError:
                continue
            out += kids
            todo += kids
    return out


class Sampler:
    """Asks the health endpoint every 0.25 s and samples the RSS of the server and of its children."""

    def __init__(self, url: str, pid: int) -> None:
        assert url.startswith(f"http://{HOST}:"), url
        self.health = f"{url}/_stcore/health"
        self.pid = pid
        self.latencies: list[float] = []
        self.server_peak = 0.0
        self.children_peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            t0 = time.perf_counter()
            try:
                urllib.request.urlopen(self.health, timeout=60).read()
                self.latencies.append(time.perf_counter() - t0)
            except OSError:
                self.latencies.append(float("inf"))
            self.server_peak = max(self.server_peak, rss_mb(self.pid))
            self.children_peak = max(self.children_peak, sum(rss_mb(c) for c in children(self.pid)))
            self._stop.wait(0.25)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(70)


LOADED = """(name) => {
  const app = document.querySelector('[data-testid="stApp"]');
  const main = document.querySelector('[data-testid="stMain"]');
  return app && app.dataset.testScriptState === 'notRunning' && main && main.textContent.includes(name + ' ·');
}"""


SHOWN = "(name) => (document.querySelector('[data-testid=\"stMain\"]')?.textContent || '').includes(name + ' ·')"


def give_file(page, path: Path) -> float:
    """Choose "Upload a file" and give it ``path``; the time it was given."""
    sidebar = page.get_by_test_id("stSidebar")
    if sidebar.locator("input[type=file]").count() == 0:
        sidebar.get_by_text("Upload a file").click()
    sidebar.locator("input[type=file]").set_input_files(str(path))
    return time.perf_counter()


def upload(page, path: Path, name: str, deadline_s: float) -> float:
    """Give the page ``path`` and wait until it has read it (its name shown, the script idle); when it was given."""
    t0 = give_file(page, path)
    page.wait_for_function(LOADED, arg=name, timeout=deadline_s * 1000)
    return t0


def press_run(page) -> float:
    """Click the sidebar's Run; the time of the click."""
    page.get_by_test_id("stSidebar").get_by_role("button", name="Run").click()
    return time.perf_counter()


def await_answers(pages: list, started: list[float], deadline_s: float) -> list[float]:
    """Seconds from each page's Run to its answer (inf when it did not come within ``deadline_s``)."""
    done = [float("inf")] * len(pages)
    end = time.perf_counter() + deadline_s
    time.sleep(0.5)  # the clicks' reruns start
    while time.perf_counter() < end and any(d == float("inf") for d in done):
        for i, page in enumerate(pages):
            if done[i] == float("inf") and page.evaluate(ANSWERED):
                done[i] = time.perf_counter() - started[i]
        time.sleep(0.25)
    return done


def quantile(xs: list[float], q: float) -> float:
    """The ``q`` quantile of ``xs`` (nearest rank)."""
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def main() -> None:
    """Start the app, drive it and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=6, choices=range(1, MAX_SESSIONS + 1))
    ap.add_argument("--runs", type=int, default=4, choices=range(1, MAX_RUNS + 1))
    # 48 pools x 4,000 days: 192,000 schedule rows, a result of 18 MiB pickled, 6 s and 340 MB in one process
    ap.add_argument("--pools", type=int, default=48, help="pools per scenario (more: larger results)")
    ap.add_argument("--days", type=int, default=4000, help="horizon per scenario [days]")
    ap.add_argument("--deadline", type=float, default=240.0, help="the longest each wait may take [s]")
    ap.add_argument("--settle", type=float, default=130.0,
                    help="seconds after the sessions closed before the last RSS (Streamlit keeps a closed "
                         "session 120 s: server.disconnectedSessionTTL)")
    ap.add_argument("--app", type=Path, default=APP_FILE, help="the app file (default: this checkout's app.py)")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise SystemExit(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "scenarios"
        folder.mkdir()
        files = []
        for i in range(MAX_RUNS + MAX_SESSIONS):
            path = Path(tmp) / f"load-{i}.yaml"
            path.write_text(yaml.safe_dump(scenario(i, args.pools, args.days), sort_keys=False))
            files.append(path)
        (folder / "first.yaml").write_text(yaml.safe_dump(copy.deepcopy(scenario(99, 1, 60)), sort_keys=False))
        server = Server(folder, args.app.resolve())
        try:
            url = server.wait()
            pid = server.proc.pid
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                # one session, distinct runs one after the other: what each run leaves in the server
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                page = context.new_page()
                page.goto(url, wait_until="domcontentloaded")
                page.get_by_test_id("stSidebar").wait_for(timeout=args.deadline * 1000)
                time.sleep(2)
                before = rss_mb(pid)
                per_run = []
                for i in range(args.runs):
                    t0 = upload(page, files[i], f"load-{i}", args.deadline)
                    press_run(page)
                    t = await_answers([page], [t0], args.deadline)[0]
                    per_run.append((t, rss_mb(pid)))
                context.close()
                time.sleep(min(args.settle, 300))
                after_close = rss_mb(pid)
                grown = per_run[-1][1] - before

                # several sessions at once
                contexts = [browser.new_context(viewport={"width": 1400, "height": 1000})
                            for _ in range(args.sessions)]
                pages = [c.new_page() for c in contexts]
                for p in pages:
                    p.goto(url, wait_until="domcontentloaded")
                for p in pages:
                    p.get_by_test_id("stSidebar").wait_for(timeout=args.deadline * 1000)
                load_before = rss_mb(pid)
                with Sampler(url, pid) as sampler:
                    started = [give_file(p, files[MAX_RUNS + i]) for i, p in enumerate(pages)]
                    for i, p in enumerate(pages):
                        p.wait_for_function(SHOWN, arg=f"load-{MAX_RUNS + i}", timeout=args.deadline * 1000)
                    for p in pages:
                        press_run(p)
                    answers = await_answers(pages, started, args.deadline)
                for c in contexts:
                    c.close()
                time.sleep(min(args.settle, 300))
                load_after = rss_mb(pid)
                # a later visitor: its script run lets Streamlit drop what closed sessions still registered
                # (their download callbacks), and the app hands freed pages back every 30 s
                context = browser.new_context()
                context.new_page().goto(url, wait_until="domcontentloaded")
                time.sleep(35)
                visit_after = rss_mb(pid)
                context.close()
                browser.close()
        finally:
            server.stop()
    lat = sampler.latencies
    print(f"app: {args.app}; scenarios: {args.pools} pools x {args.days} days, failures on, 1 replication each")
    later = (per_run[-1][1] - per_run[0][1]) / (len(per_run) - 1) if len(per_run) > 1 else float("nan")
    print(f"one session, {args.runs} distinct runs: upload to answer [s] "
          f"{', '.join(f'{t:.1f}' for t, _ in per_run)}; server RSS {before:.0f} MB, then after each run "
          f"{', '.join(f'{m:.0f}' for _, m in per_run)} MB ({grown / args.runs:+.1f} MB per run, {later:+.1f} MB per "
          f"run after the first, which imports the charts); {after_close:.0f} MB {args.settle:.0f} s after the "
          "session closed")
    print(f"{args.sessions} sessions at once: health latency p50 {quantile(lat, 0.5):.3f} s, p95 "
          f"{quantile(lat, 0.95):.3f} s, max {max(lat):.3f} s over {len(lat)} requests")
    print(f"  upload to answer [s]: {', '.join(f'{a:.1f}' for a in answers)}; "
          f"{sum(a <= 30 for a in answers)} of {len(answers)} within 30 s "
          f"(median {statistics.median(answers):.1f} s)")
    print(f"  server RSS {load_before:.0f} MB before, peak {sampler.server_peak:.0f} MB, {load_after:.0f} MB "
          f"{args.settle:.0f} s after the sessions closed, {visit_after:.0f} MB after a later visit; run processes "
          f"at most {sampler.children_peak:.0f} MB together")


if __name__ == "__main__":
    sys.exit(main())
