"""The real page in a real browser: `streamlit run app.py` driven by Playwright in Debian's Chromium.

One test only; the app's logic is covered in process by tests/test_app.py (AppTest). This one checks
that the server starts, the page renders, Run works end to end and a Plotly chart is drawn.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
START_TIMEOUT_S = 60
PAGE_TIMEOUT_MS = 60_000

# small and fast: one pool, reliability off, one replication (a run takes milliseconds)
SCENARIO = {
    "name": "browser-small",
    "description": "64 H100 training Llama 3 8B",
    "start": "2025-01-01",
    "horizon_days": 60,
    "workload": {"model": "llama3-8b", "tokens": 1.0e11, "seq_len": 8192},
    "fleet": [{"name": "owned-h100", "chip": "h100-sxm", "units": 64}],
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


@pytest.mark.browser
@pytest.mark.slow
def test_app_runs_in_chromium(browser_deps, streamlit_server: StreamlitServer, tmp_path: Path) -> None:
    sync_playwright, expect = browser_deps.sync_playwright, browser_deps.expect
    expect.set_options(timeout=PAGE_TIMEOUT_MS)  # every wait is a condition with this bound, never a sleep
    shot = tmp_path / "app.png"
    with sync_playwright() as pw:
        # the browser starts while the server is still booting
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        page = context.pages[0] if context.pages else context.new_page()
        page.set_default_timeout(PAGE_TIMEOUT_MS)
        try:
            page.goto(streamlit_server.url(), wait_until="domcontentloaded")
            expect(page.get_by_role("heading", name="Compute capacity planner")).to_be_visible()
            expect(page).to_have_title("Capacity planner")
            sidebar = page.get_by_test_id("stSidebar")
            expect(sidebar.get_by_role("combobox", name="Scenario file")).to_have_value("small.yaml")
            expect(page.get_by_text("browser-small").first).to_be_visible()

            sidebar.get_by_role("button", name="Run").click()
            error = page.get_by_test_id("stAlertContentError")
            expect(page.get_by_test_id("stMetric").or_(error).first).to_be_visible()
            assert error.count() == 0, error.first.inner_text()
            expect(page.get_by_test_id("stMetricLabel").filter(has_text="Time to train").first).to_be_visible()
            expect(page.get_by_text("Run: browser-small")).to_be_visible()
            page.wait_for_selector(".js-plotly-plot", state="visible")
            page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 1")
            expect(page.get_by_test_id("stException")).to_have_count(0)
            page.screenshot(path=str(shot))
        except Exception:
            with contextlib.suppress(Exception):  # a picture of the failure, if the page still answers
                page.screenshot(path=str(tmp_path / "failure.png"))
            raise
        finally:
            context.close()
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    assert "Traceback" not in streamlit_server.log(), streamlit_server.log()
