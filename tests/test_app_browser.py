"""The real page in a real browser: `streamlit run app.py` driven by Playwright in Debian's Chromium.

One Streamlit server, one browser and one page for the module (each costs seconds); the tests reuse the
page and each one brings the page to the state it checks, so they hold in any order. The app's logic is
covered in process by tests/test_app.py (AppTest). Every wait is a condition (Playwright's auto-waiting
``expect`` or ``wait_for_function``), never a sleep; screenshots go to each test's tmp folder. Timings
are measured by benchmarks/app_timings.py, not here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from planner import load_scenario
from planner.loader import from_dict

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
START_TIMEOUT_S = 90
PAGE_TIMEOUT_MS = 90_000
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]  # one worker, one server

# small and fast: an owned pool with a tranche and a rental, reliability off, one replication
SCENARIO = {
    "name": "browser-small",
    # a bare URL, a www. name and an address: text, never a link (a renderer links them even escaped); Streamlit's
    # icon and logo codes: text, never an icon (Streamlit reads them after Markdown has taken the escapes out)
    "description": "H100 training Llama 3 8B; see https://example.com/plan, www.example.org or ops@example.com; "
                   "owner :material/warning: :material_home: :streamlit:",
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
CHARTS_DRAWN = "(n) => document.querySelectorAll('.js-plotly-plot .main-svg').length >= n"
IDLE = "() => document.querySelector('[data-testid=\"stApp\"]')?.dataset.testScriptState === 'notRunning'"


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


@pytest.fixture(scope="module")
def pw_api():
    """Playwright and Debian's Chromium, or a clean skip saying which is missing."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    api.expect.set_options(timeout=PAGE_TIMEOUT_MS)  # every wait is a condition with this bound
    return api


@pytest.fixture(scope="module")
def server(pw_api, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StreamlitServer]:
    folder = tmp_path_factory.mktemp("scenarios")
    (folder / "small.yaml").write_text(yaml.safe_dump(SCENARIO, sort_keys=False))
    srv = StreamlitServer(folder)
    try:
        yield srv
    finally:
        srv.stop()
    assert "Traceback" not in srv.log(), srv.log()


@pytest.fixture(scope="module")
def browser(pw_api):
    with pw_api.sync_playwright() as pw:  # the browser starts while the server is still booting
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def page(browser, server):
    """The app, loaded once: the first chart is drawn before any Run."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    p = context.new_page()
    p.set_default_timeout(PAGE_TIMEOUT_MS)
    p.goto(server.url(), wait_until="domcontentloaded")
    p.wait_for_function(CHARTS_DRAWN, arg=1)
    yield p
    context.close()


@pytest.fixture
def shots(page, tmp_path: Path) -> Iterator[Path]:
    """The test's tmp folder for screenshots; a picture of the page when the test fails."""
    yield tmp_path
    with contextlib.suppress(Exception):
        page.screenshot(path=str(tmp_path / "last.png"))


def _idle(page) -> None:
    page.wait_for_function(IDLE)


def _set_number(field, value) -> None:
    """Type into a Streamlit number input and commit it (Enter)."""
    field.fill(str(value))
    field.press("Enter")


def _finish(page):
    """The headline's P50 finish date card (a rerun may briefly show the old card beside the new one)."""
    return page.get_by_test_id("stMetric").filter(has_text="Finish date (P50)").get_by_test_id(
        "stMetricValue").first


def _run(page) -> str:
    """Press Run (the settings differ from the last run) and wait for the new answer; returns its P50 finish."""
    page.get_by_test_id("stSidebar").get_by_role("button", name="Run").click()
    _expect()(page.get_by_text("The settings changed since this run")).to_have_count(0)
    _idle(page)
    return _finish(page).inner_text()


def _expect():
    from playwright.sync_api import expect

    return expect


def _tab(page, name: str) -> None:
    """Open a tab once the app is idle (a click while the page reruns can be lost), and check it is open."""
    _idle(page)
    tab = page.get_by_role("tab", name=name)
    tab.click()
    _expect()(tab).to_have_attribute("aria-selected", "true")


def _shown_scenario(page) -> dict:
    """The scenario as run, from the Scenario tab's YAML."""
    # the Scenario tab's plain text (the Run tab's lines on what limited the job are plain text too)
    return yaml.safe_load(page.locator("[data-testid=stText]").filter(has_text="workload:").first.text_content())


def _edit_cell(page, grid, row: int, rows: int, value: int) -> None:
    """Type ``value`` into the units column of ``row`` of a dynamic data editor with ``rows`` rows."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    row_px = 35  # Streamlit's data editor row height; the last row adds a new row
    editor = page.locator("#portal input, #portal textarea").first
    for attempt in range(4):  # a rerun may redraw the grid under the click: wait for it, then click again
        page.get_by_test_id("stStatusWidget").wait_for(state="detached", timeout=60_000)
        grid.wait_for(state="visible")
        box = grid.bounding_box()
        page.mouse.click(box["x"] + box["width"] - 40, box["y"] + box["height"] - row_px * (rows + 1 - row) + 17)
        page.keyboard.press("Enter")  # open the cell's editor
        try:
            editor.wait_for(state="visible", timeout=5_000 * (attempt + 1))
            break
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    editor.fill(str(value))
    editor.press("Enter")


def test_first_load_shows_a_chart(page, shots):
    expect = _expect()
    expect(page).to_have_title("Capacity planner")
    expect(page.get_by_role("heading", name="Compute capacity planner")).to_be_visible()
    expect(page.get_by_test_id("stSidebar").get_by_role("combobox", name="Scenario file")).to_have_value("small.yaml")
    _tab(page, "Run")
    expect(page.get_by_text("Run: browser-small")).to_be_visible()
    assert page.locator(".js-plotly-plot .main-svg").count() >= 1
    assert page.get_by_test_id("stAlertContentError").count() == 0
    caption = page.get_by_test_id("stCaptionContainer").filter(has_text="H100 training Llama 3 8B").first
    expect(caption).to_be_visible()
    assert caption.locator("a").count() == 0, caption.inner_html()
    assert caption.locator("[data-testid=stIconMaterial], span[role=img], img").count() == 0, caption.inner_html()
    assert "warning" in caption.inner_text() and "home" in caption.inner_text()  # shown as typed
    page.screenshot(path=str(shots / "first-load.png"))
    assert (shots / "first-load.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_smaller_tranche_finishes_later_more_cloud_earlier(page, shots):
    _tab(page, "Run")
    first = _finish(page).inner_text()
    _tab(page, "Edit plan")
    grid = page.locator("[data-testid=stDataFrame]:visible").first  # pool owned-h100's delivery plan
    _edit_cell(page, grid, row=0, rows=1, value=128)  # 512 -> 128 units by 2025-01-05
    page.wait_for_function("() => [...document.querySelectorAll('[data-testid=stText]')]"
                           ".some(c => c.textContent.includes('units: 128'))")
    later = _run(page)
    assert later > first, (first, later)
    assert _shown_scenario(page)["fleet"][0]["deliveries"] == [{"date": "2025-01-05", "units": 128}]
    page.screenshot(path=str(shots / "tranche.png"))

    _tab(page, "Edit plan")
    expander = page.get_by_test_id("stExpander").filter(has_text="Pool cloud-h100")
    if expander.get_by_label("Cloud units", exact=True).count() == 0 or \
            not expander.get_by_label("Cloud units", exact=True).is_visible():
        expander.get_by_text("Pool cloud-h100").click()  # open the rental's pool
    _set_number(expander.get_by_role("spinbutton", name="Cloud units", exact=True), 1024)
    _idle(page)
    # the edit is in the scenario before Run is pressed (under load the field's change can lag the click)
    page.wait_for_function("() => [...document.querySelectorAll('[data-testid=stText]')]"
                           ".some(c => c.textContent.includes('units: 1024'))")
    sooner = _run(page)
    assert sooner < later, (later, sooner)
    assert _shown_scenario(page)["fleet"][1]["cloud"]["units"] == 1024
    assert page.get_by_test_id("stAlertContentError").count() == 0
    page.screenshot(path=str(shots / "cloud.png"))


def test_ab_side_by_side(page, shots):
    expect = _expect()
    _tab(page, "A/B")
    page.get_by_role("button", name="Keep this run as A").click()
    expect(page.get_by_text("A kept:")).to_be_visible()
    _idle(page)
    _tab(page, "Edit plan")
    tokens = page.get_by_role("spinbutton", name="Tokens [trillions]")
    half = float(tokens.input_value()) / 2
    _set_number(tokens, half)  # half the tokens: B finishes sooner
    _idle(page)
    # the edit has landed before Run is pressed (on a busy machine a run could start on the old settings)
    expect(page.get_by_text("The settings changed since this run")).to_be_attached()  # (on the Run tab)
    _run(page)
    assert _shown_scenario(page)["workload"]["tokens"] == pytest.approx(half * 1e12, rel=1e-6)
    _tab(page, "A/B")
    page.get_by_role("button", name="Keep this run as B").click()
    expect(page.get_by_text("B kept:")).to_be_visible()
    table = page.get_by_test_id("stTable")
    row = table.locator("tr").filter(has_text="finish date P50")
    expect(row).to_be_visible()
    assert row.locator("td").last.inner_text().startswith("-"), row.inner_text()  # B - A: earlier
    differ = table.nth(1).locator("tr").filter(has_text="workload.tokens")  # the inputs that differ
    expect(differ).to_have_count(1)
    page.screenshot(path=str(shots / "ab.png"))


def test_yaml_download_revalidates(page, shots):
    sidebar = page.get_by_test_id("stSidebar")
    _tab(page, "Run")
    _set_number(sidebar.get_by_role("spinbutton", name="Delivery slip [days]"), 7)
    _expect()(page.get_by_text("The settings changed since this run")).to_be_visible()
    _run(page)
    with page.expect_download() as dl:
        page.get_by_test_id("stDownloadButton").filter(has_text="scenario.yaml").click()
    path = shots / "edited.yaml"
    dl.value.save_as(path)
    edited = load_scenario(path)  # the validator of `planner validate`
    assert edited == from_dict(_shown_scenario(page))  # what was run, as shown
    assert edited.fleet[0].deliveries[0].date == dt.date(2025, 1, 5) + dt.timedelta(days=7)
    page.screenshot(path=str(shots / "downloaded.png"))


def test_report_html_opens_offline(page, browser, shots):
    _tab(page, "Run")
    with page.expect_download() as dl:
        page.get_by_test_id("stDownloadButton").filter(has_text="report.html").click()
    report = shots / "report.html"
    dl.value.save_as(report)
    offline = browser.new_context(viewport={"width": 1280, "height": 900})
    asked: list[str] = []

    def refuse(route) -> None:
        asked.append(route.request.url)
        route.abort()

    offline.route("**/*", refuse)  # no network at all: plotly must be in the page
    try:
        view = offline.new_page()
        view.set_default_timeout(PAGE_TIMEOUT_MS)
        view.set_content(report.read_text(encoding="utf-8"), wait_until="load")
        view.wait_for_function(CHARTS_DRAWN, arg=3)
        _expect()(view.get_by_text("finishes").first).to_be_visible()
        view.screenshot(path=str(shots / "report-offline.png"))
    finally:
        offline.close()
    assert not [u for u in asked if u.startswith("http")], asked


# ---------------------------------------------------------------- the shipped scenarios (issue 20)

SHIPPED = sorted(p.name for p in (ROOT / "scenarios").glob("*.yaml"))
SEED_FILE = "ascend-ramp-2024.yaml"  # README: scripts/seed.sh simulates it
ERRORS = ('[data-testid="stException"], [data-testid="stAlertContentError"], '
          '[data-testid="stAlert"]:has([data-testid="stAlertContentError"])')


@pytest.fixture(scope="module")
def shipped_server(pw_api) -> Iterator[StreamlitServer]:
    """A second server on the scenario folder as shipped."""
    srv = StreamlitServer(ROOT / "scenarios")
    try:
        yield srv
    finally:
        srv.stop()
    assert "Traceback" not in srv.log(), srv.log()


def _open(browser, url: str):
    context = browser.new_context(viewport={"width": 1280, "height": 2400})
    p = context.new_page()
    p.set_default_timeout(PAGE_TIMEOUT_MS)
    p.goto(url, wait_until="domcontentloaded")
    p.wait_for_function(CHARTS_DRAWN, arg=1)
    _idle(p)
    return p


@pytest.fixture(scope="module")
def shipped(browser, shipped_server):
    """The app on the shipped scenarios, loaded once."""
    p = _open(browser, shipped_server.url())
    yield p
    p.context.close()


def _no_error(page) -> None:
    assert page.locator(ERRORS).count() == 0, [e.inner_text()[:300] for e in page.locator(ERRORS).all()]
    assert page.get_by_text("internal error").count() == 0


def _shown_note(page) -> str:
    """The sidebar's line on the run the page shows: its seed and replications."""
    return page.get_by_test_id("stSidebar").get_by_text("The run shown:").inner_text()


def _pick(page, file: str) -> None:
    """Choose a file of the scenario folder and wait for its first chart."""
    box = page.get_by_test_id("stSidebar").get_by_role("combobox", name="Scenario file")
    if box.input_value() != file:
        box.click()
        page.get_by_role("option", name=file, exact=True).click()
    name = yaml.safe_load((ROOT / "scenarios" / file).read_text())["name"]
    _expect()(page.get_by_text(f"Run: {name}", exact=True)).to_be_visible()
    _idle(page)


def test_the_first_page_opens_the_seed_scenario_without_a_false_banner(browser, shipped_server, shots):
    page = _open(browser, shipped_server.url())  # a new session: the first page as a user sees it
    try:
        expect = _expect()
        sidebar = page.get_by_test_id("stSidebar")
        expect(sidebar.get_by_role("combobox", name="Scenario file")).to_have_value(SEED_FILE)
        expect(page.get_by_text("Run: ascend-ramp-2024", exact=True)).to_be_visible()
        assert page.get_by_text("The settings changed").count() == 0
        reps = sidebar.get_by_role("spinbutton", name="Replications").input_value()
        assert f"· {reps} replication(s)" in _shown_note(page)  # the sidebar shows what the chart ran
        _no_error(page)
        page.screenshot(path=str(shots / "seed.png"))
    finally:
        page.context.close()


def test_every_shipped_scenario_runs_20_replications_without_an_error(shipped, shots):
    """Load each shipped file (its first chart: no false banner), set 20 replications, Run: no error anywhere."""
    sidebar = shipped.get_by_test_id("stSidebar")
    _tab(shipped, "Run")
    for file in SHIPPED:
        _pick(shipped, file)
        assert shipped.get_by_text("The settings changed").count() == 0, file
        reps = sidebar.get_by_role("spinbutton", name="Replications")
        assert f"· {reps.input_value()} replication(s)" in _shown_note(shipped), file
        _no_error(shipped)
        _set_number(reps, 20)
        seed = sidebar.get_by_role("spinbutton", name="Seed")
        _set_number(seed, int(seed.input_value()) + 1)  # a change, so the answer below is this Run's
        _expect()(shipped.get_by_text("The settings changed since this run")).to_be_visible()
        _run(shipped)
        assert "· 20 replication(s)" in _shown_note(shipped), file
        _expect()(shipped.get_by_text("20 replication(s)").first).to_be_visible()
        _no_error(shipped)
        shipped.screenshot(path=str(shots / f"{file}.png"))


def test_the_seed_run_shows_one_card_per_figure_and_clear_deadline_labels(shipped, shots):
    sidebar = shipped.get_by_test_id("stSidebar")
    _tab(shipped, "Run")
    _pick(shipped, SEED_FILE)
    if sidebar.get_by_role("spinbutton", name="Replications").input_value() != "20":
        _set_number(sidebar.get_by_role("spinbutton", name="Replications"), 20)
        _run(shipped)
    shipped.wait_for_function(CHARTS_DRAWN, arg=8)  # the risk charts too
    # and their deadline labels (the charts of the file shown before may still be on the page a moment)
    shipped.wait_for_function("() => [...document.querySelectorAll('.js-plotly-plot g.annotation')]"
                              ".filter(a => a.textContent.startsWith('deadline')).length >= 2")
    labels = [t.strip().lower() for t in shipped.get_by_test_id("stMetricLabel").all_inner_texts()]
    assert len(labels) == len(set(labels)), labels
    assert sum(t.startswith("finish date") for t in labels) == 1, labels
    assert shipped.get_by_text("What each pool contributes").count() == 1
    # each deadline label clear of every other label on its chart
    boxes = shipped.evaluate("""() => [...document.querySelectorAll('.js-plotly-plot')].map(plot =>
        [...plot.querySelectorAll('g.annotation')].map(a => {
            const r = a.getBoundingClientRect();
            return {text: a.textContent, x0: r.left, x1: r.right, y0: r.top, y1: r.bottom};
        }))""")
    deadlines = 0
    for chart in boxes:
        for a in chart:
            if not a["text"].startswith("deadline"):
                continue
            deadlines += 1
            for b in chart:
                if b is not a and b["x1"] > b["x0"]:
                    apart = a["x1"] <= b["x0"] or b["x1"] <= a["x0"] or a["y1"] <= b["y0"] or b["y1"] <= a["y0"]
                    assert apart, (a, b)
    assert deadlines >= 2  # the seed's expect: on the tokens fan and on the finish-date chances
    shipped.screenshot(path=str(shots / "seed-20.png"), full_page=True)


def test_pool_fields_follow_the_pool_kind_in_the_browser(shipped, shots):
    """The seed's owned Ascend pool has no cloud fields, its rented H100 pool no owned-chip fields."""
    _pick(shipped, SEED_FILE)
    _tab(shipped, "Edit plan")
    for pool, has, lacks in (("ascend-cn", ("Units on day 0", "Commissioning [days]", "Reserved share"),
                              ("Cloud units", "Cloud from", "Cloud until", "Price [USD/chip-h]")),
                             ("azure-h100", ("Cloud units", "Cloud from", "Cloud until", "Price [USD/chip-h]"),
                              ("Units on day 0", "Commissioning [days]", "Reserved share"))):
        box = shipped.get_by_test_id("stExpander").filter(has_text=f"Pool {pool}")
        mtbf = box.get_by_role("spinbutton", name="MTBF [chip-days]")
        if not mtbf.is_visible():
            box.get_by_text(f"Pool {pool}").click()
        _expect()(mtbf).to_be_visible()
        for label in has:
            assert box.get_by_label(label, exact=True).count() >= 1, (pool, label)
        for label in lacks:
            assert box.get_by_label(label, exact=True).count() == 0, (pool, label)
        assert (box.get_by_text("Delivery plan").count() > 0) == (pool == "ascend-cn")
    # what a lab knows is editable: a measured MTBF reaches the scenario as run
    owned = shipped.get_by_test_id("stExpander").filter(has_text="Pool ascend-cn")
    _set_number(owned.get_by_role("spinbutton", name="MTBF [chip-days]"), 1500)
    _idle(shipped)
    _tab(shipped, "Scenario")
    shipped.wait_for_function("() => [...document.querySelectorAll('[data-testid=stText]')]"
                              ".some(c => c.textContent.includes('mtbf_chip_days: 1500'))")
    assert _shown_scenario(shipped)["fleet"][0]["mtbf_chip_days"] == 1500
    _no_error(shipped)
    shipped.screenshot(path=str(shots / "pools.png"))
    _tab(shipped, "Edit plan")
    _set_number(owned.get_by_role("spinbutton", name="MTBF [chip-days]"), "")  # back to the default
    _idle(shipped)


PORTFOLIO_FILE = "ascend-portfolio-2024.yaml"  # jobs: and sites: (issue 21)


def test_the_portfolio_shows_a_row_per_job_its_timeline_and_the_wait_for_power(shipped, shots):
    """The shipped portfolio with a few replications: the jobs table names both jobs; charts; no error."""
    expect = _expect()
    sidebar = shipped.get_by_test_id("stSidebar")
    jobs = [j["name"] for j in yaml.safe_load((ROOT / "scenarios" / PORTFOLIO_FILE).read_text())["jobs"]]
    _tab(shipped, "Run")
    _pick(shipped, PORTFOLIO_FILE)
    _set_number(sidebar.get_by_role("spinbutton", name="Replications"), 3)
    seed = sidebar.get_by_role("spinbutton", name="Seed")
    _set_number(seed, int(seed.input_value()) + 1)  # a change, so the answer below is this Run's
    expect(shipped.get_by_text("The settings changed since this run")).to_be_visible()
    _run(shipped)
    assert "· 3 replication(s)" in _shown_note(shipped)
    expect(shipped.get_by_role("heading", name="Jobs, in priority order")).to_be_visible()
    table = shipped.get_by_test_id("stDataFrame").filter(has_text=jobs[0]).filter(has_text=jobs[1])
    expect(table).to_have_count(1)
    expect(shipped.get_by_text("chip-days for site power")).to_be_visible()
    shipped.wait_for_function("() => [...document.querySelectorAll('.js-plotly-plot .gtitle')].some("
                              "t => t.textContent.startsWith('Chips in training by job'))")
    _no_error(shipped)
    shipped.screenshot(path=str(shots / "portfolio.png"), full_page=True)


def test_the_upload_box_states_the_readmes_limit(shipped):
    from planner.loader import MAX_FILE_BYTES

    mb = max(1, MAX_FILE_BYTES // 2**20)  # Streamlit's decimal megabytes
    assert "at most 1 MB as Streamlit counts it" in (ROOT / "README.md").read_text()
    sidebar = shipped.get_by_test_id("stSidebar")
    sidebar.get_by_text("Upload a file").click()
    try:  # the label and the drop zone state the same limit
        _expect()(sidebar.get_by_text(f"at most {mb} MB")).to_be_visible()
        _expect()(sidebar.get_by_test_id("stFileUploaderDropzoneInstructions")).to_contain_text(f"{mb}MB")
    finally:
        sidebar.get_by_text("Scenario folder").click()
        _idle(shipped)


def test_a_new_delivery_row_never_blanks_the_page(browser, server, shots):
    """Adding a row to a delivery plan showed a red error and blanked the rest of the page, the last run too.

    A blank new row is not a delivery yet: nothing is said, and every field and tab stays (a half-filled row:
    tests/test_app.py, test_an_edit_that_does_not_validate_is_shown_where_it_is_made).
    """
    expect = _expect()
    page = _open(browser, server.url())  # a session of its own: the row it adds stays out of the shared page
    try:
        _tab(page, "Edit plan")
        grid = page.locator("[data-testid=stDataFrame]:visible").first  # pool owned-h100's delivery plan
        grid.wait_for(state="visible")
        box = grid.bounding_box()
        page.mouse.click(box["x"] + box["width"] - 40, box["y"] + box["height"] - 17)  # the add-row line
        page.keyboard.press("Escape")
        # the grid grows by the new (blank) row, and the page reruns with it
        page.wait_for_function("([el, h]) => el.getBoundingClientRect().height > h + 20",
                               arg=[grid.element_handle(), box["height"]])
        _idle(page)
        _no_error(page)
        expect(page.get_by_test_id("stExpander").filter(has_text="Pool cloud-h100")).to_have_count(1)
        _tab(page, "Run")
        expect(_finish(page)).to_be_visible()
        page.screenshot(path=str(shots / "new-row.png"))
    finally:
        page.context.close()
