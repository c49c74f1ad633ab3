"""Findings of the sixth review of the app (driven in Chromium).

- the A/B table's row labels rendered job names as Markdown (a live link, bold, typeset math);
- the only strategy control edited the scenario's mode, which a job with a `strategy:` of its own ignores;
- a sidebar setting the file cannot take blanked every tab but Edit plan: the last run and the kept A and B went.
"""

from __future__ import annotations

import pytest

from tests.test_app import (  # noqa: F401 - scenario_dir: the fixture the page's folder comes from
    FILES,
    MD,
    PORTFOLIO,
    TABS,
    _edit,
    _errors,
    _markdown_texts,
    _no_traceback,
    _plain,
    _rendered,
    _run_app,
    _upload,
    scenario_dir,
)


@pytest.fixture
def page(scenario_dir):  # noqa: F811 - the imported fixture, requested by name
    app = _run_app()
    _no_traceback(app)
    return app


def test_job_names_in_the_ab_table_s_row_labels_are_shown_as_typed(page):
    named = {**PORTFOLIO, "jobs": [{**PORTFOLIO["jobs"][0], "name": f"big{MD}"}, PORTFOLIO["jobs"][1]]}
    _upload(page, "md-jobs.yaml", named)
    page.sidebar.button[0].click().run()
    _no_traceback(page)
    ab = page.tabs[TABS.index("A/B")]
    ab.button[0].click().run()
    page.tabs[TABS.index("A/B")].button[1].click().run()
    _no_traceback(page)
    table = page.tabs[TABS.index("A/B")].table[0]
    labels = [str(x) for x in table.value.index]
    assert any(f"job big{MD}" in _plain(x) for x in labels)  # the job's rows are there, its name as written
    raw = [(k, t) for k, t in _markdown_texts(page._tree) if "](" in _rendered(t)]
    assert not raw, raw


def _selectbox(tab, label):
    return next(s for s in tab.selectbox if s.label == label)


def test_a_job_with_its_own_strategy_gets_its_own_mode_control(page):
    own = {**PORTFOLIO, "jobs": [{**PORTFOLIO["jobs"][0], "strategy": {"objective": "cost"}}, PORTFOLIO["jobs"][1]]}
    _upload(page, "own-strategy.yaml", own)
    tab = _edit(page)
    labels = [s.label for s in tab.selectbox]
    assert "Strategy mode (this job's own)" in labels and "Strategy mode" in labels
    shared = _selectbox(tab, "Strategy mode")
    assert "small-run" in _plain(shared.help) and "big-run" not in _plain(shared.help)
    _selectbox(tab, "Strategy mode (this job's own)").set_value("single").run()
    _no_traceback(page)
    import yaml

    shown = yaml.safe_load(page.tabs[TABS.index("Scenario")].text[0].value)
    assert shown["jobs"][0]["strategy"] == {"mode": "single", "objective": "cost"}
    assert shown.get("strategy", {}).get("mode", "auto") == "auto"  # the scenario's mode, the other job's, as it was


def test_a_sidebar_setting_the_file_cannot_take_keeps_the_last_run_and_the_ab(page):
    page.sidebar.selectbox[0].select_index(FILES.index("c-cloud-only.yaml")).run()
    page.sidebar.button[0].click().run()
    _no_traceback(page)
    ab = page.tabs[TABS.index("A/B")]
    ab.button[0].click().run()
    page.tabs[TABS.index("A/B")].button[1].click().run()
    page.sidebar.slider[0].set_value(0.0).run()  # cloud units x0 on a cloud-only fleet: no pool left
    _no_traceback(page)
    (error,) = _errors(page)
    assert "no pool is left" in error
    # above the tabs, where "the error above" points: it was drawn after them, below every chart of the last run
    blocks = list(page.main.children.values())
    kinds = [getattr(node, "type", None) for node in blocks]
    error_at = next(i for i, node in enumerate(blocks) if any("no pool is left" in str(e.value)
                                                              for e in getattr(node, "error", [])))
    assert error_at < kinds.index("tab_container"), kinds
    run_tab = page.tabs[TABS.index("Run")]
    assert any("cannot be applied" in _plain(w.value) for w in run_tab.warning)
    assert run_tab.metric, "the last run's figures stay on the page"
    assert page.tabs[TABS.index("A/B")].table, "the kept A and B stay"
    page.sidebar.button[0].click().run()  # Run does not run the file without the settings
    _no_traceback(page)
    assert any("cannot be applied" in _plain(w.value) for w in page.tabs[TABS.index("Run")].warning)


@pytest.mark.parametrize("tab", ["Estimate", "Compare & solve"])
def test_tabs_that_compute_wait_for_settings_that_apply(page, tab):
    page.sidebar.selectbox[0].select_index(FILES.index("c-cloud-only.yaml")).run()
    page.sidebar.slider[0].set_value(0.0).run()
    _no_traceback(page)
    assert any("wait" in _plain(i.value) for i in page.tabs[TABS.index(tab)].info)
