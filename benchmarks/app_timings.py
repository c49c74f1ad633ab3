"""What a user waits for in the what-if app, measured in a real browser (Debian's Chromium via Playwright).

Starts `planner app` (Streamlit, headless, on a free port of 127.0.0.1) on a folder holding one scenario,
then prints:
- first chart after page load [s]: from navigating to the page until a chart is drawn, for the first
  visitor of a fresh server (cold: the server imports the planner and runs the scenario) and for a
  later visitor (warm);
- Run to updated chart [s], with 1 replication and with 200 (failures on): from the click on Run until
  the first chart of the page shows the new answer.
Target (issue 11): a single replication answers within 1 s of Run. Timings vary with the machine's
load; each Run figure is the median of --repeat runs, each with a new setting (nothing cached).

Run: python benchmarks/app_timings.py [--repeat N] [--app FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

from planner.cli import APP_FILE, app_command

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 120_000
# a small plan: owned H100s in a tranche plus a rental; one replication takes well under a second
SCENARIO = {
    "name": "timing-small",
    "start": "2025-01-01",
    "horizon_days": 120,
    "workload": {"model": "llama3-8b", "tokens": 1.0e12, "seq_len": 8192},
    "fleet": [{"name": "owned-h100", "chip": "h100-sxm", "units": 64,
               "deliveries": [{"date": "2025-01-05", "units": 512}]},
              {"name": "cloud-h100", "chip": "h100-sxm",
               "cloud": {"units": 64, "from": "2025-01-01", "until": "2025-06-30", "price_per_chip_hour_usd": 2.5}}],
    "reliability": {"enabled": False},
    "simulation": {"seed": 1, "replications": 1},
}
# the data of the page's first chart: it changes when a new answer is drawn
FIRST_CHART = "(() => { const g = document.querySelector('.js-plotly-plot'); " \
              "return g && g.data && g.querySelector('.main-svg') ? JSON.stringify(g.data) : null; })()"
CHART_CHANGED = f"(old) => {{ const now = {FIRST_CHART}; return now !== null && now !== old; }}"


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`planner app` on a free port; ``wait()`` returns its URL once it serves."""

    def __init__(self, scenario_dir: Path, app_file: Path = APP_FILE) -> None:
        self.port = free_port()
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PLANNER_SCENARIO_DIR": str(scenario_dir)}
        cmd = app_command(self.port, headless=True, app_file=app_file) + ["--server.fileWatcherType", "none"]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, bufsize=1)
        self.url = f"http://127.0.0.1:{self.port}"
        self.lines: list[str] = []
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)
            if self.url in line:
                self.ready.set()
        self.ready.set()

    def wait(self, timeout_s: float = 120) -> str:
        """The URL, once the server prints it."""
        if not self.ready.wait(timeout_s) or self.url not in "".join(self.lines):
            raise SystemExit("the app did not start:\n" + "".join(self.lines))
        return self.url

    def stop(self) -> None:
        """End the server process."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def delivery(slip_days: int) -> str:
    """The built-in scenario's tranche date after a slip, as the Scenario tab prints it."""
    return (dt.date(2025, 1, 5) + dt.timedelta(days=slip_days)).isoformat()


def first_chart_s(page, url: str) -> float:
    """Seconds from navigating to ``url`` until a chart is drawn."""
    t0 = time.perf_counter()
    page.goto(url, wait_until="commit")
    page.wait_for_function(f"{FIRST_CHART} !== null", timeout=TIMEOUT_MS)
    return time.perf_counter() - t0


def run_to_chart_s(page) -> float:
    """Click Run and wait until the first chart shows a new answer."""
    old = page.evaluate(FIRST_CHART)
    t0 = time.perf_counter()
    page.get_by_test_id("stSidebar").get_by_role("button", name="Run").click()
    page.wait_for_function(CHART_CHANGED, arg=old, timeout=TIMEOUT_MS)
    return time.perf_counter() - t0


def settle(page, shown: str) -> None:
    """Wait until the scenario as run (the Scenario tab) holds ``shown`` and the page has finished its rerun."""
    page.wait_for_function(
        "(text) => [...document.querySelectorAll('[data-testid=\"stText\"]')].some(c => c.textContent.includes(text))"
        " && document.querySelector('[data-testid=\"stApp\"]').dataset.testScriptState === 'notRunning'",
        arg=shown, timeout=TIMEOUT_MS)


def set_number(page, label: str, value: int, shown: str) -> None:
    """Type a sidebar number and wait for the rerun that applies it."""
    field = page.get_by_test_id("stSidebar").get_by_role("spinbutton", name=label)
    field.fill(str(value))
    field.press("Enter")
    settle(page, shown)


def main() -> None:
    """Start the app, drive it and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3, help="runs per Run figure (median)")
    ap.add_argument("--app", type=Path, default=APP_FILE, help="the app file (default: this checkout's app.py)")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise SystemExit(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "scenarios"
        folder.mkdir()
        (folder / "timing.yaml").write_text(yaml.safe_dump(SCENARIO, sort_keys=False))
        server = Server(folder, args.app.resolve())
        try:
            url = server.wait()
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                cold = first_chart_s(page, url)
                warm_page = browser.new_page(viewport={"width": 1400, "height": 1000})
                warm = first_chart_s(warm_page, url)
                warm_page.close()
                one, many = [], []
                for k in range(args.repeat):
                    days = 10 * (k + 1)  # a new setting each time: nothing cached
                    set_number(page, "Delivery slip [days]", days, delivery(days))
                    one.append(run_to_chart_s(page))
                set_number(page, "Replications", 200, "replications: 200")
                page.get_by_test_id("stSidebar").get_by_text("Failures and restarts").click()
                settle(page, "enabled: true")
                for k in range(args.repeat):
                    days = -(k + 1)
                    set_number(page, "Delivery slip [days]", days, delivery(days))
                    many.append(run_to_chart_s(page))
                browser.close()
        finally:
            server.stop()
    print(f"scenario: {SCENARIO['name']} (Llama 3 8B, 1T tokens, 64 -> 512 owned H100 + 64 rented)")
    print(f"first chart after page load, fresh server [s]: {cold:.2f}")
    print(f"first chart after page load, warm server [s]: {warm:.2f}")
    print(f"Run to updated chart, 1 replication [s]: {statistics.median(one):.2f} "
          f"(runs: {', '.join(f'{x:.2f}' for x in one)}; target 1.0)")
    print(f"Run to updated chart, 200 replications [s]: {statistics.median(many):.2f} "
          f"(runs: {', '.join(f'{x:.2f}' for x in many)})")


if __name__ == "__main__":
    sys.exit(main())
