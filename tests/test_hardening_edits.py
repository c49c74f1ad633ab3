"""Edits that drop an empty rental keep the scenario whole; a goal seek's bad end names --min/--max; a model's field.

A rental set to 0 units (``sweep --set``, ``solve --vary``, the sensitivity's x0.5) leaves the jobs' ``pools``,
``sites:`` and links consistent; a job left with no chip at all is a point that never finishes. ``solve``'s
default range ends the field cannot take are told as ``--min``/``--max``, not as a broken file. An explicit
architecture's wrong field is named with its full path, not as "Input should be a valid string".
"""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import one_error_line

from planner import edits
from planner.errors import ScenarioError
from planner.loader import load_scenario

RENTAL = {"units": 32, "from": "2025-01-01", "until": "2025-06-30", "price_per_chip_hour_usd": 2.0}

# one job on an owned pool and a rental at the same site (scenarios/ascend-portfolio-2024.yaml's format)
DROP = {
    "name": "drop-scenario",  # not the file's name: errors must name the file
    "workload": None,
    "jobs": [{"name": "main", "workload": {"model": "llama3-8b", "tokens": 1.0e11, "seq_len": 8192},
              "pools": ["p1", "c"]}],
    "fleet": [{"name": "p1", "chip": "h100-sxm", "units": 64, "site": "s1"},
              {"name": "c", "chip": "h100-sxm", "site": "s1", "cloud": RENTAL}],
}

# the rental alone at its own site, with power there and a link to it
OWN_SITE = {
    **DROP,
    "fleet": [DROP["fleet"][0], {**DROP["fleet"][1], "site": "s2"}],
    "sites": [{"name": "s1", "power_mw": [{"date": "2025-01-01", "mw": 50}]},
              {"name": "s2", "power_mw": [{"date": "2025-01-01", "mw": 5}]}],
    "links": [{"sites": ["s1", "s2"], "gbps": 400, "latency_ms": 10}],
}

# a second job that trains only on the rental
ONLY_RENTAL = {
    **DROP,
    "jobs": [{"name": "main", "workload": {"model": "llama3-8b", "tokens": 1.0e11, "seq_len": 8192},
              "pools": ["p1"]},
             {"name": "side", "workload": {"model": "llama3-8b", "tokens": 1.0e10, "seq_len": 8192},
              "pools": ["c"]}],
}


def _written(make_scenario, overrides) -> str:
    """The scenario written as drop.yaml; its path as the CLI and the loader name it."""
    return str(make_scenario(overrides, filename="drop.yaml"))


# ---------------------------------------------------------------- 1: a rental dropped at 0 units


def test_a_dropped_rental_leaves_the_jobs_pools(make_scenario):
    s = load_scenario(_written(make_scenario, DROP))
    out = edits.set_values(s, {"fleet[1].cloud.units": 0})
    assert [p.name for p in out.fleet] == ["p1"]
    assert out.jobs[0].pools == ["p1"]
    assert s.jobs[0].pools == ["p1", "c"]  # the original is not changed
    scaled = edits.scale_cloud(s, 0.0)
    assert [p.name for p in scaled.fleet] == ["p1"] and scaled.jobs[0].pools == ["p1"]


def test_a_dropped_rental_takes_its_sites_entry_and_link(make_scenario):
    s = load_scenario(_written(make_scenario, OWN_SITE))
    for out in (edits.set_values(s, {"fleet[1].cloud.units": 0}), edits.scale_cloud(s, 0.0)):
        assert [p.name for p in out.fleet] == ["p1"] and out.jobs[0].pools == ["p1"]
        assert [x.name for x in out.sites] == ["s1"]  # s1 still has a pool: its power stays
        assert out.links == []


def test_a_site_an_edit_names_that_no_pool_was_ever_at_is_still_refused(make_scenario):
    s = load_scenario(_written(make_scenario, OWN_SITE))
    with pytest.raises(ScenarioError, match="no pool is at site 'nowhere'") as info:
        edits.set_values(s, {"fleet[1].cloud.units": 0, "sites[0].name": "nowhere"})
    assert info.value.field == "sites[0].name"


def test_a_job_with_only_the_rental_keeps_it_at_0_units(make_scenario):
    s = load_scenario(_written(make_scenario, ONLY_RENTAL))
    out = edits.set_values(s, {"fleet[1].cloud.units": 0})
    assert [p.name for p in out.fleet] == ["p1", "c"] and out.fleet[1].cloud.units == 0
    assert [j.pools for j in out.jobs] == [["p1"], ["c"]]


def test_sweep_from_0_rented_units_of_a_pool_a_job_names(cli, make_scenario, tmp_path):
    path = _written(make_scenario, DROP)
    r = cli("sweep", path, "--set", "fleet[1].cloud.units=0,32", "--replications", "3", "--out", tmp_path / "sw")
    assert r.exit_code == 0, r
    csv = pd.read_csv(tmp_path / "sw" / "sweep.csv").set_index("fleet[1].cloud.units")
    assert list(csv.index) == [0, 32]
    assert list(csv["finish_probability"]) == [1.0, 1.0]
    assert csv.loc[0, "cost_usd_p50"] < csv.loc[32, "cost_usd_p50"]  # nothing rented at 0


def test_sweep_from_0_rented_units_of_a_pool_alone_at_a_powered_site(cli, make_scenario, tmp_path):
    path = _written(make_scenario, OWN_SITE)
    r = cli("sweep", path, "--set", "fleet[1].cloud.units=0,32", "--replications", "3", "--out", tmp_path / "sw")
    assert r.exit_code == 0, r
    assert len(pd.read_csv(tmp_path / "sw" / "sweep.csv")) == 2


def test_a_job_left_with_no_chips_is_a_point_that_never_finishes(cli, make_scenario, tmp_path):
    path = _written(make_scenario, ONLY_RENTAL)
    r = cli("sweep", path, "--set", "fleet[1].cloud.units=0,32", "--replications", "3", "--out", tmp_path / "sw")
    assert r.exit_code == 0, r
    csv = pd.read_csv(tmp_path / "sw" / "sweep.csv", keep_default_na=False).set_index("fleet[1].cloud.units")
    assert float(csv.loc[0, "finish_probability"]) == 0.0 and csv.loc[0, "finish_date_p50"] == "never"
    assert csv.loc[0, "note"].startswith("no layout fits: job 'side' (jobs[1]): pool 'c': no chips of h100-sxm")
    assert float(csv.loc[32, "finish_probability"]) == 1.0 and csv.loc[32, "note"] == ""


def test_solve_from_the_default_min_0_of_a_pool_a_job_names(cli, make_scenario):
    path = _written(make_scenario, DROP)
    r = cli("solve", path, "--vary", "fleet[1].cloud.units", "--deadline", "2025-06-30", "--replications", "3",
            "--json")
    assert r.exit_code == 0, r
    out = r.json()
    assert out["found"] and out["value"] == 0  # 64 owned chips meet a late deadline without renting
    assert out["evaluations"][0]["value"] == 0 and out["evaluations"][0]["note"] == ""


def test_solve_for_a_job_whose_only_pool_is_the_rental(cli, make_scenario):
    path = _written(make_scenario, ONLY_RENTAL)
    r = cli("solve", path, "--vary", "fleet[1].cloud.units", "--deadline", "2025-06-30", "--replications", "3",
            "--job", "side", "--max", "32", "--json")
    assert r.exit_code == 0, r
    out = r.json()
    at_0 = out["evaluations"][0]
    assert at_0["value"] == 0 and not at_0["meets"] and at_0["finish_date"] == "never"
    assert at_0["note"].startswith("no layout fits")
    assert out["found"] and out["value"] >= 1


def test_sensitivity_with_one_rented_unit_halved_to_none(cli, make_scenario, tmp_path):
    path = _written(make_scenario, {**OWN_SITE, "fleet": [OWN_SITE["fleet"][0],
                                                          {**OWN_SITE["fleet"][1], "cloud": {**RENTAL, "units": 1}}]})
    r = cli("sensitivity", path, "--replications", "1", "--out", tmp_path / "sens")
    assert r.exit_code == 0, r
    rows = pd.read_csv(tmp_path / "sens" / "sensitivity.csv").set_index("input")
    assert "cloud units" in rows.index


def test_an_edited_point_that_cannot_be_built_names_the_file_not_the_scenario(cli, make_scenario, tmp_path):
    only_cloud = {"name": "cloud-scenario", "fleet": [{"name": "c", "chip": "h100-sxm",
                                                       "cloud": {**RENTAL, "units": 1}}]}
    path = _written(make_scenario, only_cloud)
    # the one-unit rental's x0.5 keeps one unit (sensitivity holds its swings within the format): every point is
    # built, none can train, and the error names the file
    r = cli("sensitivity", path, "--replications", "1", "--out", tmp_path / "sens")
    assert r.exit_code == 2 and "Traceback" not in r.stderr + r.stdout, r
    line = [x for x in r.stderr.splitlines() if x.startswith("error: ")][-1]
    assert line.startswith(f"error: {path}: "), line
    assert "cloud-scenario" not in line
    s = load_scenario(path)
    for edit in (lambda: edits.scale_cloud(s, 0.5), lambda: edits.set_values(s, {"workload.tokens": -1})):
        with pytest.raises(ScenarioError) as info:
            edit()
        assert info.value.path == path


def test_an_error_a_dropped_rental_causes_says_the_pool_was_left_out(make_scenario):
    s = load_scenario(_written(make_scenario, {**DROP, "strategy": {"mode": "sync"}}))
    with pytest.raises(ScenarioError) as info:
        edits.set_values(s, {"fleet[1].cloud.units": 0})
    assert info.value.field == "jobs[0].pools"  # the job left on one pool under the scenario's sync
    assert "pool 'c' left out: renting 0 units" in str(info.value)


# ---------------------------------------------------------------- 2: the ends of a goal seek


@pytest.mark.parametrize("vary, words", [
    ("workload.tokens", "Input should be greater than 0 (got 0); give a larger --min"),
    # (a whole-number field that takes 1 but not 0, fleet[0].units here, now starts at 1: tests/test_cli_review_ux.py)
])
def test_solve_default_min_0_the_field_cannot_take_names_min(cli, make_scenario, vary, words):
    path = str(make_scenario())
    line = one_error_line(cli("solve", path, "--vary", vary, "--deadline", "2025-01-10", "--replications", "3"))
    assert line.startswith(f"error: {path}: {vary}: the low end of the search, --min 0 (the default), "), line
    assert words in line


def test_solve_suggests_a_whole_number_min(cli, make_scenario):
    path = make_scenario()
    line = one_error_line(cli("solve", path, "--vary", "fleet[0].units", "--deadline", "2025-01-10", "--min", "0"))
    assert "--min 0, is not a value it can take" in line and line.endswith("give a larger --min, e.g. --min 1")


def test_solve_default_max_the_field_cannot_take_names_max(cli, make_scenario):
    # 1.5: none of 4x, 3x, 2x, 1.5x it is an efficiency the format takes (at most 2); at 1.0 the default is 2x
    path = make_scenario({"fleet": [{"name": "h100", "chip": "h100-sxm", "units": 64, "efficiency": 1.5}]})
    line = one_error_line(cli("solve", path, "--vary", "fleet[0].efficiency", "--deadline", "2025-01-10",
                              "--min", "0.5"))
    assert "the high end of the search, --max 6 (the default: up to 4x the file's value)" in line
    assert line.endswith("give a smaller --max")


# ---------------------------------------------------------------- 3: an explicit architecture's field

LLAMA_8B = {"layers": 32, "hidden": 4096, "heads": 32, "kv_heads": 8, "ffn_hidden": 14336, "mlp": "gated",
            "vocab": 128256}


@pytest.mark.parametrize("change, field, words", [
    ({"mlp": "swiglu"}, "workload.model.mlp", "Input should be 'gated' or 'plain' (got 'swiglu')"),
    ({"vocab": "x"}, "workload.model.vocab", "must be a number"),
    ({"bogus": 1}, "workload.model.bogus", "unknown key"),
    ({"moe": {"experts": "x"}}, "workload.model.moe.experts", "must be a number"),
])
def test_a_wrong_field_of_an_explicit_architecture_is_named(cli, make_scenario, change, field, words):
    path = make_scenario({"workload": {"model": {**LLAMA_8B, **change}}})
    line = one_error_line(cli("validate", path))
    assert line.startswith(f"error: {path}: {field}: ") and words in line, line
    assert "valid string" not in line


def test_a_measured_rows_architecture_is_named_too(cli, make_scenario):
    row = {"model": {**LLAMA_8B, "mlp": "swiglu"}, "units": 8, "seq_len": 8192, "tokens_per_s_per_chip": 100}
    path = make_scenario({"fleet": [{"name": "h100", "chip": "h100-sxm", "units": 64, "measured": [row]}]})
    line = one_error_line(cli("validate", path))
    assert line.startswith(f"error: {path}: fleet[0].measured[0].model.mlp: Input should be 'gated' or 'plain'")


def test_each_kind_of_model_gets_the_message_of_what_it_was_written_as(cli, make_scenario):
    # a mapping is an explicit architecture, a string a preset id: each gets its own member's reason
    for model, field, words in [({**LLAMA_8B, "mlp": "plain", "heads": "x"}, "workload.model.heads",
                                 "must be a number"),
                                ("nope", "workload.model", "unknown model preset 'nope'"),
                                (5, "workload.model", "Input should be a valid string (got 5)")]:
        path = make_scenario({"workload": {"model": model}})
        line = one_error_line(cli("validate", path))
        assert line.startswith(f"error: {path}: {field}: ") and words in line, line
