"""The real page in a real browser: `streamlit run app.py` driven by Playwright in Debian's Chromium.

One test only (each costs seconds); the app's logic is covered in process by tests/test_app.py (AppTest).
This one checks, in one browser session: a chart on first load; a delivery slip and more cloud units move
the finish date; A/B; the YAML download re-validates; report.html opens offline. It prints the timings
(first chart after page load; Run to updated chart with 1 and with 200 replications) and saves
screenshots in its tmp folder. Waits are conditions, never sleeps; timings are printed, never asserted.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from planner import load_scenario

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
START_TIMEOUT_S = 60
PAGE_TIMEOUT_MS = 60_000

# small and fast: an owned pool with a tranche and a rental, reliability off, one replication
SCENARIO = {
    "name": "browser-small",
    "description": "H100 training Llama 3 8B",
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StreamlitServer:
    """A `streamlit run app.py` process; ``url()`` blocks until it says it is serving."""

    def __init__(self, scenario_dir: Path) -> None:
        self.port = _free_port()
        self.lines: list[str] = []
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PLANNER_SCENARIO_DIR": str(scenario_dir)}
        cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
               "--server.port", str(self.port), "--server.address", "127.0.0.1",
               "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, bufsize=1)
        self.address = f"http://127.0.0.1:{self.port}"
        self._ready = threading.Event()  # set once the URL is printed, or the output ends
        threading.Thread(target=self._read, daemon=True).start()  # also keeps the pipe from filling up

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)
            if self.address in line:
                self._ready.set()
        self._ready.set()

    def log(self) -> str:
        return "".join(self.lines)

    def url(self) -> str:
        """Wait (at most START_TIMEOUT_S) until the server prints the URL it serves."""
        if not self._ready.wait(timeout=START_TIMEOUT_S):
            pytest.fail(f"streamlit did not start within {START_TIMEOUT_S} s:\n{self.log()}")
        if self.address not in self.log():
            self.proc.wait(timeout=10)
            pytest.fail(f"streamlit exited with {self.proc.returncode}:\n{self.log()}")
        return self.address

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)


@pytest.fixture
def browser_deps():
    """Playwright and Debian's Chromium, or a clean skip saying which is missing."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    return pytest.importorskip("playwright.sync_api", reason="playwright is not installed")


@pytest.fixture
def streamlit_server(browser_deps, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[StreamlitServer]:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "small.yaml").write_text(yaml.safe_dump(SCENARIO, sort_keys=False))
    server = StreamlitServer(folder)
    request.addfinalizer(server.stop)
    yield server


def _set_number(field, value: str) -> None:
    """Type into a Streamlit number input and commit it (Enter)."""
    field.fill(value)
    field.press("Enter")


@pytest.mark.browser
@pytest.mark.slow
def test_app_runs_in_chromium(browser_deps, streamlit_server: StreamlitServer, tmp_path: Path) -> None:
    sync_playwright, expect = browser_deps.sync_playwright, browser_deps.expect
    expect.set_options(timeout=PAGE_TIMEOUT_MS)  # every wait is a condition with this bound, never a sleep
    shot = tmp_path / "app.png"
    timings: dict[str, float] = {}
    with sync_playwright() as pw:
        # the browser starts while the server is still booting
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        page = context.pages[0] if context.pages else context.new_page()
        page.set_default_timeout(PAGE_TIMEOUT_MS)
        try:
            url = streamlit_server.url()
            t0 = time.perf_counter()
            page.goto(url, wait_until="domcontentloaded")
            # a chart on first load, before any Run
            page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 1")
            timings["first chart after page load [s]"] = time.perf_counter() - t0
            expect(page.get_by_role("heading", name="Compute capacity planner")).to_be_visible()
            expect(page).to_have_title("Capacity planner")
            sidebar = page.get_by_test_id("stSidebar")
            expect(sidebar.get_by_role("combobox", name="Scenario file")).to_have_value("small.yaml")
            expect(page.get_by_text("Run: browser-small")).to_be_visible()
            finish = page.get_by_test_id("stMetric").filter(has_text="Finish date (P50)").get_by_test_id(
                "stMetricValue").first  # a rerun may briefly show the old card beside the new one
            first = finish.inner_text()
            page.screenshot(path=str(tmp_path / "1-first-load.png"))
            page.get_by_role("tab", name="A/B").click()
            page.get_by_role("button", name="Keep this run as A").click()
            expect(page.get_by_text("A kept:")).to_be_visible()

            # a later tranche: the finish date moves later
            page.get_by_role("tab", name="Edit plan").click()
            _set_number(page.get_by_label("Slip by [days]").first, "30")
            t0 = time.perf_counter()
            sidebar.get_by_role("button", name="Run").click()
            expect(finish).not_to_have_text(first)
            timings["Run to updated chart, 1 replication [s]"] = time.perf_counter() - t0
            slipped = finish.inner_text()
            assert slipped > first, (first, slipped)
            assert page.get_by_test_id("stAlertContentError").count() == 0
            # more cloud units: earlier again
            page.get_by_role("tab", name="Edit plan").click()
            page.get_by_text("Pool cloud-h100").click()  # open the rental's pool
            _set_number(page.get_by_label("Cloud units", exact=True).nth(1), "1024")
            sidebar.get_by_role("button", name="Run").click()
            expect(finish).not_to_have_text(slipped)
            assert finish.inner_text() < slipped
            page.screenshot(path=str(tmp_path / "2-edited.png"))

            # A/B side by side
            page.get_by_role("tab", name="A/B").click()
            page.get_by_role("button", name="Keep this run as B").click()
            expect(page.get_by_text("B kept:")).to_be_visible()
            expect(page.get_by_test_id("stTable").get_by_text("finish date P50")).to_be_visible()
            page.screenshot(path=str(tmp_path / "3-ab.png"))

            # downloads: the edited scenario re-validates; report.html opens offline
            page.get_by_role("tab", name="Run").click()
            with page.expect_download() as dl:
                page.get_by_test_id("stDownloadButton").filter(has_text="scenario.yaml").click()
            yaml_path = tmp_path / "edited.yaml"
            dl.value.save_as(yaml_path)
            edited = load_scenario(yaml_path)
            assert edited.fleet[1].cloud.units == 1024
            assert str(edited.fleet[0].deliveries[0].date) == "2025-02-04"
            with page.expect_download() as dl:
                page.get_by_test_id("stDownloadButton").filter(has_text="report.html").click()
            report = tmp_path / "report.html"
            dl.value.save_as(report)
            context.set_offline(True)
            offline = context.new_page()
            offline.goto(report.as_uri())
            offline.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 3")
            expect(offline.get_by_text("finishes").first).to_be_visible()
            offline.screenshot(path=str(tmp_path / "4-report-offline.png"), full_page=False)
            offline.close()
            context.set_offline(False)

            # Monte Carlo: 200 replications with failures on, a progress bar, then the chart
            _set_number(sidebar.get_by_label("Replications"), "200")
            sidebar.get_by_text("Failures and restarts").click()
            t0 = time.perf_counter()
            sidebar.get_by_role("button", name="Run").click()
            expect(page.get_by_text("200 replication(s)").first).to_be_visible(timeout=10 * PAGE_TIMEOUT_MS)
            page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 1")
            timings["Run to updated chart, 200 replications [s]"] = time.perf_counter() - t0
            expect(page.get_by_test_id("stException")).to_have_count(0)
            page.screenshot(path=str(shot))
            print("\napp timings: " + ", ".join(f"{k} {v:.2f}" for k, v in timings.items()))
        except Exception:
            with contextlib.suppress(Exception):  # a picture of the failure, if the page still answers
                page.screenshot(path=str(tmp_path / "failure.png"))
            raise
        finally:
            context.close()
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    assert "Traceback" not in streamlit_server.log(), streamlit_server.log()
