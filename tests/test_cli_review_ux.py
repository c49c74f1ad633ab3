"""Findings of a review as a first-time user: mistakes the messages should catch, and defaults that should work."""

from __future__ import annotations

import pytest
from conftest import DEFAULT_SCENARIO, one_error_line


@pytest.mark.parametrize(("dist", "field"), [({"dist": "fixed", "value": 30}, "value"),
                                              ({"dist": "uniform", "low": 0.0, "high": 30}, "high"),
                                              ({"dist": "fixed", "value": -5}, "value")])
def test_a_shortfall_is_a_share(cli, make_scenario, dist, field):
    """30 (meant as 30%) was read as losing every chip of every tranche, without a word."""
    fleet = [{"name": "h100", "chip": "h100-sxm", "units": 64, "deliveries": [{"date": "2025-01-10", "units": 128}],
              "delivery_risk": {"shortfall_fraction": dist}}]
    line = one_error_line(cli("validate", make_scenario(fleet=fleet)))
    assert f"fleet[0].delivery_risk.shortfall_fraction.{field}" in line and "a share between 0 and 1" in line


@pytest.mark.parametrize(("where", "value", "hint"), [
    ("chip", "h100", "'h100-sxm'"), ("chip", "H100-SXM", "'h100-sxm'"), ("chip", "a100", "'a100-40gb' or 'a100-80gb'"),
    ("model", "llama3-70B", "'llama3-70b'")])
def test_a_near_miss_of_a_chip_or_model_gets_a_suggestion(cli, make_scenario, where, value, hint):
    if where == "chip":
        path = make_scenario(fleet=[{"name": "p", "chip": value, "units": 64}])
    else:
        path = make_scenario(workload={"model": value})
    assert f"(did you mean {hint}?)" in one_error_line(cli("validate", path))


def test_solve_s_default_min_is_1_where_the_field_takes_no_0(cli, make_scenario):
    """A fleet that is all cloud: --min 0 rents nothing, which the format refuses; the default search failed."""
    doc = {**DEFAULT_SCENARIO, "fleet": [{"name": "rent", "chip": "h100-sxm",
                                          "cloud": {"units": 64, "from": "2025-01-01", "until": "2025-12-31",
                                                    "price_per_chip_hour_usd": 2.0}}]}
    import yaml

    r = cli("solve", make_scenario.text(yaml.safe_dump(doc)), "--vary", "fleet[0].cloud.units", "--deadline",
            "2025-03-01", "--replications", "1", "--json")
    assert r.exit_code == 0, r
    result = r.json()
    assert result["found"] and min(e["value"] for e in result["evaluations"]) >= 1


@pytest.mark.parametrize(("edit", "field", "hint"), [
    ({"horizn_days": 900}, "horizn_days", "'horizon_days'"),
    ({"workload": {"model": "llama3-70b", "tokens": 1e12, "seqlen": 4096}}, "workload.seqlen", "'seq_len'"),
    ({"fleet": [{"name": "p", "chip": "h100-sxm", "unit": 64}]}, "fleet[0].unit", "'units' or 'unit_price_usd'"),
    ({"simulation": {"replication": 3}}, "simulation.replication", "'replications'"),
    ({"job": []}, "job", "'jobs'")])
def test_an_unknown_key_gets_a_suggestion(cli, make_scenario, edit, field, hint):
    """A misspelt key said only that it was not part of the format."""
    line = one_error_line(cli("validate", make_scenario(**edit)))
    assert f"{field}: unknown key (not part of the scenario format) (did you mean {hint}?)" in line


def test_an_unknown_key_far_from_any_gets_none(cli, make_scenario):
    line = one_error_line(cli("validate", make_scenario(strategy={"mode": "auto", "zzzz": 1})))
    assert line.endswith("strategy.zzzz: unknown key (not part of the scenario format)")


@pytest.mark.parametrize(("value", "hint"), [(30, "30% is 0.3"), (90, "90% is 0.9")])
def test_a_percent_in_a_share_gets_a_hint(cli, make_scenario, value, hint):
    fleet = [{"name": "p", "chip": "h100-sxm", "units": 64, "reserved_fraction": value}]
    line = one_error_line(cli("validate", make_scenario(fleet=fleet)))
    assert "fleet[0].reserved_fraction" in line and f"a share is written as a fraction: {hint}" in line


@pytest.mark.parametrize("value", [1.5, 300])
def test_a_share_far_from_a_percent_gets_no_hint(cli, make_scenario, value):
    fleet = [{"name": "p", "chip": "h100-sxm", "units": 64, "reserved_fraction": value}]
    assert "written as a fraction" not in one_error_line(cli("validate", make_scenario(fleet=fleet)))


def test_a_misspelt_required_key_is_named_beside_the_missing_one(cli, make_scenario):
    """Pydantic names the missing field first: 'seq_lenn' read only "seq_len: required field is missing"."""
    import yaml

    doc = {**DEFAULT_SCENARIO, "workload": {"model": "llama3-8b", "tokens": 1e12, "seq_lenn": 4096}}
    line = one_error_line(cli("validate", make_scenario.text(yaml.safe_dump(doc))))
    assert "workload.seq_len: required field is missing ('seq_lenn' beside it is not part of the format: " \
           "a misspelling?)" in line


def test_an_estimate_whose_repairs_leave_no_layout_says_so(cli, make_scenario):
    fleet = [{"name": "own", "chip": "h100-sxm", "units": 32, "mtbf_chip_days": 8}]
    path = make_scenario(fleet=fleet, workload={"model": "llama3-70b", "tokens": 1e11},
                         reliability={"enabled": True, "repair_days": 3})
    r = cli("estimate", path, "--json")
    assert r.exit_code == 0, r
    (pool,) = r.json()["pools"]
    assert pool["job_units"] == 0 and pool["job_in_service_units"] == 8
    assert pool["limited_by"][0].endswith("and no layout fits the 8 left")


def test_solve_s_default_max_is_one_the_field_takes(cli, make_scenario):
    """1,000 owned on day 0 under a cumulative tranche of 3,000: the default --max of 4,000 was refused."""
    fleet = [{"name": "own", "chip": "h100-sxm", "units": 1000, "deliveries": [{"date": "2025-02-01", "units": 3000}]}]
    r = cli("solve", make_scenario(fleet=fleet), "--vary", "fleet[0].units", "--deadline", "2025-06-01",
            "--replications", "1", "--json")
    assert r.exit_code in (0, 1), r
    assert max(e["value"] for e in r.json()["evaluations"]) == 3000


def test_a_change_that_rounds_to_nothing_shows_none():
    """The MFU card read "-0.0 pp" with a red arrow down for a change of a thousandth of a point."""
    from planner.whatif import delta_text

    assert delta_text("mfu", 0.36501, 0.36502) is None and delta_text("mfu", 0.37, 0.36) == "+1.0 pp"
    assert delta_text("time_to_train_days", 10.0, 10.00001) is None
